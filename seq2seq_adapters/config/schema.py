"""The settings of a run, each defined once: `RunConfig`'s four sections, grouped as in the YAML files.

A setting's field holds its type, default, help, flags and bounds (config/fields.py), so the YAML key, the
`s2sa train` option, the dotted override and the checks all come from it; each section adds the rules that
compare its values. GenerationArgs also maps its settings to `generate()`, the one place that does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from seq2seq_adapters.config.fields import Settings, setting
from seq2seq_adapters.config.legacy import RETIRED_MODEL_KEYS, retired_key_problem, upgrade_legacy_keys
from seq2seq_adapters.config.policy import DEFAULT_POLICY, TrainPolicy, default_learning_rate
from seq2seq_adapters.config.value_rules import (
    ADAPTER_NAME,
    DEFAULT_CHECKPOINT,
    MARKERS_AUTO,
    MARKERS_MIN_COUNT,
    MARKERS_NONE,
    RESERVED_ADAPTER_NAMES,
    parse_duration,
    parse_leave_out,
    parse_marker_tokens,
    reserved_name_problem,
)
from seq2seq_adapters.core.errors import S2SAError

MAX_BEAMS = 64
"""Beam search past 64 beams costs memory and time in proportion with no ROUGE to gain; 100000 beams
tried to allocate 14.7 GB before failing."""
MAX_SUMMARY_TOKENS = 512
"""A BERT decoder has 512 positions: it cannot write a longer summary."""
MAX_BATCH = 4096
"""Batches, gradient accumulation: far above what any GPU holds for a BERT pair, far below what overflows."""
MAX_EPOCHS, MAX_STEPS = 1000, 10_000_000
"""Training lengths no real run reaches (DialogSum's 12,460 dialogues x 1000 epochs at batch 1 is 1.2e7 steps):
`--epochs 1e300` planned 4x10^300 steps, with the learning rate stuck in warm-up."""

DEFAULT_ADAPTER_CONFIG = "lora[r=8,alpha=8,attn_matrices=['q','k','v']]|double_seq_bn"
"""LoRA on query/key/value of every attention block (cross-attention included) plus bottlenecks after
every attention block (cross-attention included) and feed-forward block: with `--train adapter,head`
the best adapter-only configuration of docs/studies/adapter-only-300-steps.md (1.57% of the weights trained)."""


@dataclass
class ModelArgs(Settings):
    """Which checkpoints to join and which adapter to add."""

    encoder: str = setting(DEFAULT_CHECKPOINT, "Encoder checkpoint: local folder or hub id (default: bundled MiniLM).")
    decoder: str = setting(DEFAULT_CHECKPOINT, "Decoder checkpoint: local folder or hub id (default: bundled MiniLM).")
    tie_encoder_decoder: bool = setting(False, "Share encoder and decoder weights (BERTShare).", flags=("--tie-encoder-decoder/--no-tie-encoder-decoder",))
    adapter_config: str = setting(DEFAULT_ADAPTER_CONFIG, "adapters config string, e.g. seq_bn, lora[r=8,alpha=16] (default: LoRA on q/k/v | double_seq_bn).")
    adapter_name: str = setting("summarization", "Name of the adapter (not a part of parameter names such as encoder, layer, output).")
    leave_out: list[int] | None = setting(
        None,
        "Layer ids without adapters, counted in encoder and decoder from 0, e.g. 0,1; '' for none (default: 0,1 where both stacks have 6+ layers).",
        parse=parse_leave_out,
    )
    """Layer ids without adapters, in the encoder and in the decoder. None: layers 0,1 where both stacks
    have at least 6 layers and the adapter honours leave_out (the study's choice), else none; []: none."""
    train: str = setting(
        DEFAULT_POLICY,
        "Weights that train: adapter, head (LM-head transform), cross-attention, new (= head,cross-attention), or all (full fine-tuning), comma-separated.",
    )
    """Which weights train: comma-separated groups adapter, head, cross-attention, new (= head +
    cross-attention) or all (full fine-tuning, no adapter); see config/policy.py."""
    cross_attention_init: Literal["random", "self"] = setting(
        "self", "self (default): start each cross-attention as a copy of its layer's pretrained self-attention; random: BERT's init."
    )
    """self: each decoder layer's cross-attention starts as a copy of its pretrained self-attention, which
    learns to read the input far sooner than a random start (docs/studies/adapters-100-steps.md); random: BERT's init."""
    attention_dropout: float = setting(0.0, "Attention-probability dropout in training (0: fused attention, fast; BERT ships 0.1).", bounds="[0, 1)")
    """Dropout on attention probabilities while training. 0 lets PyTorch use its fused attention kernel
    (1.3x faster steps on CPU); BERT checkpoints ship 0.1, which forces the slow unfused path."""
    hidden_dropout: float | None = setting(
        0.0, "Hidden-state dropout in training (0: faster steps, ROUGE as good or better on DialogSum; BERT ships 0.1).", bounds="[0, 1)"
    )
    """Dropout on embeddings and every layer's outputs while training; None (YAML null, and runs saved
    before this setting) keeps the checkpoint's `hidden_dropout_prob`. 0 gave test ROUGE as good as or
    better than MiniLM's 0.1 with the DialogSum config (docs/studies/hidden-dropout.md), and its masks are
    4-7% of a CPU step."""
    marker_tokens: str = setting(
        MARKERS_NONE,
        "Tags such as #Person1# as single tokens with trained embedding rows: "
        f"auto (those seen {MARKERS_MIN_COUNT}+ times in the training data), a comma list, or none.",
        parse=parse_marker_tokens,
    )
    """Markers made single tokens (model/marker_tokens.py): `none`, or `auto`, which `s2sa train` resolves from the
    training data into the comma list (or `none`) that runs and artifacts store."""
    encoder_marker_rows: Literal["frozen", "train"] = setting(
        "frozen",
        "Encoder rows of marker tokens: frozen (default: they keep their start, the mean of the marker's word pieces; "
        "faster steps at equal ROUGE) or train.",
    )
    """Whether the encoder's marker rows train too (the decoder's always do). Trained encoder rows need the
    embeddings' gradient, so backward runs through the encoder's lowest layers as well, which `leave_out`
    otherwise spares; frozen, the DialogSum config trains faster at equal ROUGE (docs/studies/surface-text.md).
    Runs saved before this setting trained them, and a resumed one goes on so (config/legacy.py)."""

    @property
    def policy(self) -> TrainPolicy:
        """The parsed `train` setting."""
        return TrainPolicy.parse(self.train)

    @property
    def full_finetune(self) -> bool:
        """Every weight trains and no adapter is added (`train: all`)."""
        return self.policy.full

    @property
    def markers(self) -> list[str]:
        """The markers made single tokens (`marker_tokens` resolved; `auto` only before training resolves it)."""
        if self.marker_tokens == MARKERS_AUTO:
            raise S2SAError("marker_tokens 'auto' is resolved from training data; a trained model names its markers")
        markers = parse_marker_tokens(self.marker_tokens)
        return [] if markers == MARKERS_NONE else markers.split(",")

    def rules(self, label: Callable[[str], str]) -> list[str]:
        problems = []
        if not ADAPTER_NAME.fullmatch(self.adapter_name):
            problems.append(f"{label('adapter_name')} {self.adapter_name!r} must be letters, digits, '_' or '-' (it names modules and files)")
        elif problem := reserved_name_problem(self.adapter_name, RESERVED_ADAPTER_NAMES):
            problems.append(problem)
        try:
            full_finetune = self.full_finetune
        except S2SAError as exc:
            problems.append(str(exc))
            full_finetune = False
        leave_out = self.leave_out or []
        if full_finetune and leave_out:
            problems.append(f"{label('leave_out')} has no meaning with full_finetune (no adapter is added)")
        if len(set(leave_out)) != len(leave_out):
            problems.append(f"{label('leave_out')} has duplicate layer ids: {leave_out}")
        if any(i < 0 for i in leave_out):
            problems.append(f"{label('leave_out')} layer ids must be >= 0, got {leave_out}")
        try:
            parse_marker_tokens(self.marker_tokens)
        except S2SAError as exc:
            problems.append(str(exc).replace("--marker-tokens", label("marker_tokens"), 1))
        if self.marker_tokens != MARKERS_NONE and self.tie_encoder_decoder:
            problems.append(f"{label('marker_tokens')} needs separate encoder and decoder embeddings; drop {label('tie_encoder_decoder')}")
        return problems


@dataclass
class DataArgs(Settings):
    """Where the documents and summaries come from and how they are cut."""

    data: str | None = setting(None, "Data file, folder of split files, or hub dataset id (default: bundled ACLSum).")
    text_column: str | None = setting(None, "Column with the documents (default: detected).")
    summary_column: str | None = setting(None, "Column with the summaries (default: detected).")
    validation_ratio: float = setting(0.1, "Share of train carved out as validation when there is none.", bounds="(0, 1)")
    max_train_samples: int | None = setting(None, "Use only the first N training examples.", bounds="[1, inf)")
    max_eval_samples: int | None = setting(None, "Use only the first N validation/test examples.", bounds="[1, inf)")
    max_source_length: int | None = setting(None, "Source tokens kept (default: min(512, encoder limit)).", bounds="[8, inf)")
    max_target_length: int = setting(128, "Summary tokens kept for training.", bounds="[8, inf)")
    on_bad_rows: Literal["skip", "fail"] = setting("skip", "skip or fail on empty / non-text cells.")


@dataclass
class TrainArgs(Settings):
    """Optimisation and checkpointing."""

    learning_rate: float | None = setting(
        None, "Peak learning rate (default: 5e-3 adapter-only, 2e-3 when cross-attention trains, 1e-4 for --train all).", bounds="(0, inf)"
    )
    """Peak learning rate; None: the study's best for the `train` policy (policy.default_learning_rate)."""
    epochs: float = setting(3.0, "Training epochs.", bounds="[0, inf)", most=MAX_EPOCHS)
    max_steps: int = setting(-1, "Optimizer steps; overrides --epochs when > 0.", bounds="[-1, inf)", most=MAX_STEPS)
    batch_size: int = setting(8, "Training batch size per device.", bounds="[1, inf)", most=MAX_BATCH)
    grad_accum: int = setting(1, "Gradient accumulation steps.", bounds="[1, inf)", most=MAX_BATCH)
    warmup_ratio: float = setting(0.05, "Share of steps with linear warm-up.", bounds="[0, 1]")
    weight_decay: float = setting(0.0, "AdamW weight decay.", bounds="[0, inf)")
    seed: int = setting(42, "Random seed (data order, carving, initialization).", bounds="[0, 4294967295]")  # numpy's range
    eval_steps: int | None = setting(None, "Validation loss and ROUGE every N steps (keeps the best checkpoint).", bounds="[1, inf)")
    eval_rouge_samples: int = setting(50, "With --eval-steps: ROUGE on the first N validation examples (0: loss only).", bounds="[0, inf)")
    eval_greedy: bool = setting(False, "With --eval-steps: greedy decoding for that ROUGE (faster than the run's beams).", flags=("--eval-greedy",))
    metric_for_best: Literal["rougeLsum", "rougeL", "rouge1", "rouge2", "loss"] = setting(
        "rougeLsum", "With --eval-steps: the validation score that picks the best checkpoint, which becomes adapter/."
    )
    patience: int | None = setting(None, "With --eval-steps: stop after K evaluations without improvement.", bounds="[1, inf)")
    keep_best_checkpoint: bool = setting(
        True, "With --eval-steps: the best evaluated checkpoint becomes adapter/ (--no-keep-best-checkpoint: the last step's).",
        flags=("--keep-best-checkpoint/--no-keep-best-checkpoint",),
    )
    """False: evaluations are only watched (curves, patience is refused, `s2sa tune`'s pruning) and adapter/ holds the
    last step, as without --eval-steps; a small validation subset's ROUGE is noisy enough to pick an early step."""
    max_time: str | None = setting(None, "Wall-clock budget for training, e.g. 90s, 30m, 2h: stop at a step boundary, checkpoint, report.")
    """Training time (from the first step) after which the run stops at a step boundary; the learning-rate
    schedule is re-planned for the steps that fit (training/time_budget.py). The final validation report comes after it."""
    save_steps: int | None = setting(None, "Checkpoint every N steps (default: each epoch).", bounds="[1, inf)")
    save_total_limit: int = setting(2, "Complete checkpoints kept (at least 1: --resume continues from the newest).", bounds="[1, inf)")
    """At least 1: a run keeps its newest complete checkpoint, which `--resume` continues from and which a
    non-finite step or a full disk falls back to (the final adapter/ is written apart from them)."""
    logging_steps: int = setting(10, "Log loss every N steps.", bounds="[1, inf)")
    on_nonfinite: Literal["stop", "skip-step"] = setting(
        "stop", "A step whose loss or gradient is NaN/inf: stop (default: end the run, keep its checkpoints) or skip-step (skip that update, warn, go on)."
    )
    """What a non-finite loss or gradient does (training/nonfinite_guard.py): `stop` ends the run with an error naming the
    step before the update reaches the weights; `skip-step` drops that step's update and warns."""
    output_dir: str | None = setting(None, "Run folder (default: runs/<adapter-name>-<timestamp>).")
    lr_scheduler: Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt"] = setting(
        "linear", "Learning-rate schedule after warm-up (transformers' lr_scheduler_type)."
    )
    optim: Literal["adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adagrad", "rmsprop"] = setting(
        "adamw_torch", "Optimizer (transformers' optim)."
    )
    label_smoothing: float = setting(0.0, "Label smoothing of the training (and validation) loss, in [0, 1).", bounds="[0, 1)")
    gradient_checkpointing: bool = setting(
        False, "Recompute activations in the backward pass: less memory, slower steps.", flags=("--gradient-checkpointing",)
    )
    report_to: Literal["none", "tensorboard", "wandb", "mlflow"] = setting(
        "none", "Also log to: tensorboard (under <run>/tensorboard), wandb or mlflow (the Trainer's report_to)."
    )
    group_by_length: bool = setting(True, "Batch similar lengths together (less padding).", flags=("--group-by-length/--no-group-by-length",))
    bf16: bool = setting(False, "bf16 mixed precision (GPU, or CPUs with bf16 support).", flags=("--bf16",))
    fp16: bool = setting(False, "fp16 mixed precision (GPU).", flags=("--fp16",))

    def rules(self, label: Callable[[str], str]) -> list[str]:
        problems = []
        if self.max_steps <= 0 and self.epochs <= 0:
            problems.append("set a positive epochs or max_steps")
        if self.bf16 and self.fp16:
            problems.append("choose one of bf16 and fp16")
        if self.eval_rouge_samples == 0 and self.metric_for_best != "loss":
            problems.append(f"{label('metric_for_best')} {self.metric_for_best} needs {label('eval_rouge_samples')} > 0; or pick loss")
        if self.eval_steps is not None and self.save_steps is not None and self.save_steps % self.eval_steps:
            problems.append(
                f"{label('save_steps')} {self.save_steps} must be a multiple of {label('eval_steps')} {self.eval_steps}: "
                "the best checkpoint is one saved at an evaluation"
            )
        if self.patience is not None and self.eval_steps is None:
            problems.append(f"{label('patience')} counts evaluations: set {label('eval_steps')} too")
        if self.patience is not None and not self.keep_best_checkpoint:
            problems.append(f"{label('patience')} stops at the best checkpoint and keeps it: drop {label('keep_best_checkpoint')}: false")
        if self.max_time is not None:
            try:
                parse_duration(self.max_time)
            except S2SAError as exc:
                problems.append(f"{label('max_time')}: {exc}")
        return problems

    @property
    def max_time_s(self) -> float | None:
        """The `max_time` budget in seconds."""
        return None if self.max_time is None else parse_duration(self.max_time)


@dataclass
class GenerationArgs(Settings):
    """Decoding settings, stored with a run and reused by eval and summarize."""

    # 2: the fastest setting not worse than the best on DialogSum, SciTLDR and ACLSum (docs/studies/decoding-defaults.md)
    num_beams: int = setting(2, "Beams for generated summaries.", bounds="[1, inf)", most=MAX_BEAMS)
    max_new_tokens: int = setting(96, "Longest generated summary, in tokens.", bounds="[1, inf)", most=MAX_SUMMARY_TOKENS)
    min_new_tokens: int = setting(10, "Shortest generated summary, in tokens.", bounds="[0, inf)", most=MAX_SUMMARY_TOKENS)
    length_penalty: float = setting(2.0, "Beam-search length penalty (> 0 favours longer summaries).")
    no_repeat_ngram_size: int = setting(3, "Never repeat n-grams of this size (0: no limit).", bounds="[0, inf)")
    batch_size: int = setting(16, "Documents generated per batch.", flags=None, bounds="[1, inf)", most=MAX_BATCH)
    quantize: Literal["none", "int8"] = setting("none", "int8: int8 Linear layers on the CPU, faster generation but lower ROUGE (significantly on DialogSum, docs/performance.md); none: fp32.")
    """int8: generate with a copy of the model whose Linear layers are dynamically quantised (CPU only,
    model/int8.py); ROUGE difference and speed in docs/performance.md."""

    def generate_kwargs(self) -> dict[str, Any]:
        """The `generate()` / GenerationConfig settings these stand for (the one mapping of them)."""
        kwargs: dict[str, Any] = {
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }
        if self.num_beams > 1:  # without beams these have no effect (and transformers warns about them)
            kwargs.update(length_penalty=self.length_penalty, early_stopping=True)
        return kwargs

    def rules(self, label: Callable[[str], str]) -> list[str]:
        if self.min_new_tokens > self.max_new_tokens:
            return [
                f"{label('min_new_tokens')} {self.min_new_tokens} is above {label('max_new_tokens')} {self.max_new_tokens}; "
                "lower the one or raise the other"
            ]
        return []


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
        """Collect every section's problems into one error (keys named section.key, as in the YAML)."""
        problems = []
        for section in dataclasses.fields(self):
            values: Settings = getattr(self, section.name)
            problems += values.problems(lambda name, section=section.name: f"{section}.{name}")
        if problems:
            raise S2SAError("invalid configuration: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, as written to run.json and read back by `from_dict`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "config") -> RunConfig:
        """Build from nested sections; unknown sections or keys are errors, not silently ignored."""
        unknown = set(raw) - set(SECTIONS)
        if unknown:
            raise S2SAError(f"{source}: unknown section(s) {sorted(unknown)}; expected {sorted(SECTIONS)}")
        built = {}
        for name, section_cls in SECTIONS.items():
            values = raw.get(name) or {}
            if not isinstance(values, dict):
                raise S2SAError(f"{source}: section '{name}' must be a mapping")
            if section_cls is ModelArgs:
                values = upgrade_legacy_keys(values)  # the pre-`train` flags of old runs and YAML files
                if RETIRED_MODEL_KEYS & set(values):
                    raise S2SAError(retired_key_problem(source))
            known = {k.name for k in dataclasses.fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise S2SAError(f"{source}: unknown key(s) {sorted(bad)} in '{name}'; expected some of {sorted(known)}")
            built[name] = section_cls(**values)
        return cls(**built)


SECTIONS: dict[str, type[Settings]] = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)}  # type: ignore[misc]
"""The sections of a run config by their YAML name (read from RunConfig, not a second list)."""


def setting_fields() -> list[tuple[str, dataclasses.Field]]:
    """(section, field) of every setting, in YAML order: what the CLI turns into options."""
    return [(name, f) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]
