"""What an artifact folder's `s2sa.json` says, and whether its weight files are whole, read without torch:
the CLI checks a run before loading a model.

The files of an artifact folder are named here; artifacts.py writes and loads the weights.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open

from seq2seq_adapters.config.legacy import saved_generation, upgrade_legacy_keys, without_retired_keys
from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core.errors import S2SAError, S2SAWarning
from seq2seq_adapters.core.files import wrong_kind
from seq2seq_adapters.layout.checkpoint_folder import last_complete_checkpoint
from seq2seq_adapters.layout.run_folder import RunDir, adapter_of

NON_ADAPTER_WEIGHTS = "non_adapter_weights.safetensors"
METADATA = "s2sa.json"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter.safetensors"
FORMAT_VERSION = 1


@dataclasses.dataclass
class ArtifactInfo:
    """What `s2sa.json` records: enough to rebuild the base model and reapply the trained weights.

    `model` and `generation` are the run's typed settings (mappings are read into them)."""

    model: ModelArgs
    generation: GenerationArgs
    new_weight_names: list[str]
    max_source_length: int = 512
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if isinstance(self.model, dict):
            self.model = ModelArgs(**without_retired_keys(upgrade_legacy_keys(self.model)))
        if isinstance(self.generation, dict):
            self.generation = GenerationArgs(**self.generation)

    @property
    def model_args(self) -> ModelArgs:
        """A copy of the model settings, for callers that replace the encoder or decoder."""
        return dataclasses.replace(self.model)

    @property
    def generation_args(self) -> GenerationArgs:
        return dataclasses.replace(self.generation)

    @classmethod
    def from_dict(cls, raw: Any, path: Path) -> ArtifactInfo:
        """Read an `s2sa.json` mapping of any format up to ours; keys of a newer s2sa are dropped with a warning.

        Older code thus reads newer artifacts (peft's rule); wrong types or missing keys are errors."""
        if not isinstance(raw, dict):
            raise S2SAError(f"{path} is corrupted: not a JSON object")
        version = raw.get("format_version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise S2SAError(f"{path} is corrupted: format_version {version!r} is not a positive integer")
        dropped = []
        values = _known(raw, {f.name for f in dataclasses.fields(cls)}, "", dropped)
        sections = {"model": ModelArgs, "generation": GenerationArgs}
        for name, section_cls in sections.items():
            if not isinstance(values.get(name), dict):
                raise S2SAError(f"{path} is corrupted: '{name}' is missing or not a mapping")
            # format 1 had no `train`; older s2sa saved trust_remote_code, which grants nothing now
            section = without_retired_keys(upgrade_legacy_keys(values[name])) if name == "model" else values[name]
            values[name] = _known(section, {f.name for f in dataclasses.fields(section_cls)}, f"{name}.", dropped)
        values["generation"] = saved_generation(values["generation"], path)
        if dropped:
            newer = f"format {version}, newer than this s2sa's {FORMAT_VERSION}" if version > FORMAT_VERSION else f"format {version}"
            warnings.warn(f"{path} ({newer}) has settings this s2sa does not know; ignored: {', '.join(dropped)}", S2SAWarning, stacklevel=2)
        try:
            info = cls(**values)
        except TypeError as exc:
            raise S2SAError(f"{path} is corrupted: {exc}") from None
        problems = info.model.problems(lambda key: f"model.{key}") + info.generation.problems(lambda key: f"generation.{key}")
        if problems:
            raise S2SAError(f"{path} is corrupted: {'; '.join(problems)}")
        return info

    def to_dict(self) -> dict[str, Any]:
        """The `s2sa.json` mapping (format FORMAT_VERSION)."""
        return {**dataclasses.asdict(self), "format_version": FORMAT_VERSION}

    def write(self, directory: Path) -> None:
        """Write `s2sa.json` into `directory`."""
        (directory / METADATA).write_text(json.dumps(self.to_dict(), indent=2))


def _known(values: dict[str, Any], known: set[str], prefix: str, dropped: list[str]) -> dict[str, Any]:
    """The entries of `values` whose keys are `known`; the others' names are added to `dropped`."""
    dropped += [prefix + key for key in values if key not in known]
    return {key: value for key, value in values.items() if key in known}


def read_info(directory: str | Path) -> ArtifactInfo:
    """Read and check `s2sa.json`."""
    path = Path(directory) / METADATA
    if not path.is_file():
        raise S2SAError(f"{directory} is not an s2sa adapter folder (no {METADATA})")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise S2SAError(f"{path} is corrupted: {exc}") from None
    return ArtifactInfo.from_dict(raw, path)


def resolve_artifact_dir(path: str | Path) -> Path:
    """Accept a run folder (its `adapter/` is used) or an artifact folder itself."""
    path = Path(path)
    if problem := wrong_kind(path, want_folder=True):
        raise S2SAError(f"{path} {problem} (expected a run folder or an exported adapter folder)")
    if not path.is_dir():
        raise S2SAError(f"not found: {path} (expected a run folder or an exported adapter folder)")
    if (path / METADATA).is_file():
        return path
    if (adapter_of(path) / METADATA).is_file():
        return adapter_of(path)
    if is_merged_model(path):
        raise S2SAError(
            f"{path} is a merged export (a plain transformers model, no adapter): this command needs a run or an "
            "adapter folder; summarise it with s2sa summarize or seq2seq_adapters.Summarizer"
        )
    if RunDir(path).is_run():  # still training, or stopped before its final adapter
        last = last_complete_checkpoint(path)
        hint = f"; pass one of its checkpoints, e.g. {last}" if last else ", and no complete checkpoint yet"
        raise S2SAError(f"{path} is a run without its final adapter/ (still training, or stopped before the end){hint}")
    raise S2SAError(f"{path} is neither an s2sa run (no adapter/{METADATA}) nor an exported adapter (no {METADATA})")


def verify_weight_files(directory: str | Path) -> None:
    """Open every safetensors file of an artifact: a truncated or corrupted one is an error.

    safetensors checks the header and that the tensors' offsets cover the file exactly (a cut or
    lengthened file fails), without torch and without reading the values."""
    for path in sorted(Path(directory).glob("*.safetensors")):
        try:
            with safe_open(str(path), framework="numpy") as f:
                f.keys()
        except (SafetensorError, OSError) as exc:
            raise S2SAError(f"{path} is damaged or truncated: {str(exc).strip().splitlines()[0]}") from None


def is_merged_model(path: str | Path) -> bool:
    """Whether `path` is a merged export: a plain transformers encoder-decoder folder, no s2sa.json."""
    path = Path(path)
    if (path / METADATA).is_file() or not (path / "config.json").is_file():
        return False
    try:
        return json.loads((path / "config.json").read_text()).get("model_type") == "encoder-decoder"
    except (json.JSONDecodeError, AttributeError):
        return False
