"""Which weights train: named parameter groups of a BERT2BERT model and the `--train` policy over them.

Groups, by parameter name (tied weights count once, under their first name):

- `adapter`: the adapter's own modules (LoRA matrices, bottlenecks, prefixes, ...);
- `head`: the decoder's LM-head transform and output bias (`decoder.cls.*`; the output matrix itself is
  tied to the word embeddings), what AdapterHub calls a prediction head;
- `cross-attention`: the decoder's cross-attention blocks, which BERT checkpoints do not have;
- `markers`: the embedding rows of markers made single tokens (`marker_tokens`, model/marker_tokens.py); the
  decoder's train whenever they exist, whatever the policy, the encoder's with `encoder_marker_rows: train`;
- `base`: everything else, the pretrained encoder and decoder.

A policy names the groups that train: any of `adapter`, `head`, `cross-attention`, the shorthand `new`
(= head + cross-attention: every weight `from_pretrained` initialises for a BERT checkpoint), or `all`
(full fine-tuning: every weight trains and no adapter is added).
"""

from __future__ import annotations

from dataclasses import dataclass

from seq2seq_adapters.core.errors import S2SAError

MARKERS = "markers"
"""The group of marker rows: newly initialised and there only when asked for, so they always train."""
GROUPS: tuple[str, ...] = ("adapter", "head", "cross-attention", MARKERS, "base")
"""Every parameter belongs to exactly one of these, in this (table) order."""

MARKER_ROWS = "marker_rows"
"""Name of the trainable marker rows on each embedding module (model/marker_tokens.py)."""

CHOOSABLE = ("adapter", "head", "cross-attention")
SHORTHANDS = {"new": ("head", "cross-attention")}
FULL = "all"
POLICY_WORDS = (*CHOOSABLE, *SHORTHANDS, FULL)

DEFAULT_POLICY = "adapter,head"
"""Adapter-only: with cross-attention copied from self-attention and frozen, this matches full fine-tuning
(docs/studies/adapter-only-300-steps.md) while the artifact holds 1.6% of the weights."""

LEARNING_RATES = {"adapter-only": 5e-3, "new weights": 2e-3, FULL: 1e-4}
"""The best peak learning rate measured on DialogSum for each kind of policy: adapter-only (adapter and
head) 5e-3 of 2e-3/5e-3/1e-2 (docs/studies/adapter-only-300-steps.md), with cross-attention trained 2e-3 of
5e-4..4e-3 (docs/studies/adapters-300-steps.md), full fine-tuning 1e-4 of 5e-5/1e-4/3e-4 (docs/studies/adapters-gpu-1000-steps.md)."""

LEGACY_DEFAULT = "adapter,new"
"""The policy of s2sa before `train` existed: `--train-new-weights` (`--freeze-new-weights` false) names it,
and old runs that state neither pre-`train` flag trained so (config/legacy.py)."""


@dataclass(frozen=True)
class TrainPolicy:
    """A parsed `--train` value: the set of groups that train (`{"all"}` for full fine-tuning)."""

    groups: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> TrainPolicy:
        """`adapter,head` -> {adapter, head}; shorthands expanded; unknown words or bad mixes are errors."""
        words = [word.strip() for word in str(text).split(",") if word.strip()]
        unknown = [word for word in words if word not in POLICY_WORDS]
        if not words or unknown:
            got = f"unknown {', '.join(map(repr, unknown))}" if unknown else "nothing"
            raise S2SAError(f"--train: {got}; expected a comma-separated list of {', '.join(POLICY_WORDS)} (e.g. adapter,head)")
        if FULL in words:
            if len(words) > 1:
                raise S2SAError(f"--train: 'all' (full fine-tuning, no adapter) stands alone, got {text!r}")
            return cls(frozenset({FULL}))
        groups = frozenset(group for word in words for group in SHORTHANDS.get(word, (word,)))
        if "adapter" not in groups:
            raise S2SAError(f"--train {text!r} leaves out the adapter; add 'adapter' (e.g. adapter,{text}) or use 'all' for full fine-tuning")
        return cls(groups)

    @property
    def full(self) -> bool:
        """Full fine-tuning: every weight trains, no adapter."""
        return FULL in self.groups

    def trains(self, group: str) -> bool:
        """Whether parameters of `group` train under this policy."""
        return self.full or group in self.groups or group == MARKERS

    def __str__(self) -> str:
        """Canonical spelling, in GROUPS order (`adapter,head`)."""
        return FULL if self.full else ",".join(g for g in GROUPS if g in self.groups)


def default_learning_rate(policy: TrainPolicy) -> float:
    """LEARNING_RATES' rate for a policy: tiny adapters want larger steps than full fine-tuning."""
    if policy.full:
        return LEARNING_RATES[FULL]
    return LEARNING_RATES["new weights" if policy.trains("cross-attention") else "adapter-only"]


def policy_from_flags(train: str | None, full_finetune: bool | None, freeze_new_weights: bool | None) -> str | None:
    """The `train` value of the command line, where `--full-finetune` (= all) and `--freeze-new-weights`
    (= adapter; `--train-new-weights` = adapter,new) are kept as aliases of `--train`."""
    aliases = {"--full-finetune": FULL if full_finetune else None,
               "--freeze-new-weights": None if freeze_new_weights is None else "adapter" if freeze_new_weights else LEGACY_DEFAULT}
    given = {flag: value for flag, value in aliases.items() if value is not None}
    if not given:
        return train
    if train is not None or len(given) > 1:
        raise S2SAError(f"{' and '.join([*given, *(['--train'] if train is not None else [])])} both say which weights train; "
                        "use --train alone (--full-finetune is --train all, --freeze-new-weights is --train adapter)")
    return next(iter(given.values()))


def parameter_group(name: str, is_adapter: bool) -> str:
    """The group of a named parameter of an `EncoderDecoderModel` (see the module docstring)."""
    if is_adapter:
        return "adapter"
    if name.endswith("." + MARKER_ROWS):
        return MARKERS
    if name.startswith("decoder.cls."):
        return "head"
    if ".crossattention." in name and name.startswith("decoder."):
        return "cross-attention"
    return "base"
