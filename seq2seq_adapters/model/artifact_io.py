"""Save and load a trained adapter folder: adapters-format adapter + non-adapter weights + metadata.

Layout of an artifact folder (also the `adapter/` folder of a run and of every checkpoint)::

    adapter_config.json, adapter.safetensors   # `model.save_adapter(...)`, loadable by plain `adapters`
    non_adapter_weights.safetensors            # cross-attention, new LM-head parts, other trained weights
    s2sa.json                                  # base checkpoints, adapter settings, generation settings

An exported folder (`s2sa export-adapter`) is an artifact plus the tokenizer, `generation_config.json`
and a model card; a merged export (`--merge`) is a plain transformers `EncoderDecoderModel` folder instead.
Every folder is written into a temporary sibling and renamed into place (`staged_directory`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from transformers import EncoderDecoderModel, GenerationConfig, PreTrainedTokenizerBase

from seq2seq_adapters.config.fields import shown
from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import read_json
from seq2seq_adapters.layout.artifact_folder import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    METADATA,
    NON_ADAPTER_WEIGHTS,
    ArtifactInfo,
    read_info,
)
from seq2seq_adapters.model.builder import (
    BuiltModel,
    build_base_model,
    layer_counts,
    load_tokenizer,
    parse_adapter_config,
    resolve_checkpoint,
    saved_state,
)
from seq2seq_adapters.model.marker_tokens import add_marker_tokens
from seq2seq_adapters.model.patched_attention import init_adapters
from seq2seq_adapters.model.remote_code import check_checkpoint_code


@contextlib.contextmanager
def _copies_for_shared_tensors() -> Iterator[None]:
    """adapters 1.3.0 hands safetensors' `save_file` one prefix-tuning pool tensor under several names,
    which safetensors refuses; save a copy per name instead (loading sets the shared tensor each time)."""
    import adapters.loading as loading

    original = loading.save_file
    loading.save_file = lambda tensors, path, metadata=None: original(
        {name: tensor.detach().clone().contiguous() for name, tensor in tensors.items()}, path, metadata=metadata
    )
    try:
        yield
    finally:
        loading.save_file = original


def _write_into(directory: Path, summarizer: BuiltModel, info: ArtifactInfo) -> None:
    """Write the three parts of an artifact into an existing folder."""
    if summarizer.adapter_name is not None:
        with _copies_for_shared_tensors():
            summarizer.model.save_adapter(str(directory), summarizer.adapter_name, use_safetensors=True)
    tensors = {name: tensor.contiguous().cpu() for name, tensor in saved_state(summarizer).items()}
    save_file(tensors, str(directory / NON_ADAPTER_WEIGHTS), metadata={"format": "pt"})
    info.write(directory)


@contextlib.contextmanager
def staged_directory(directory: str | Path) -> Iterator[Path]:
    """Yield an empty temporary sibling of `directory` to write into; when the block finishes it replaces
    `directory` by renames, when it fails (or is interrupted) it is deleted: no half-written folder."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        os.chmod(staging, 0o755)
        yield staging
        if directory.exists():
            old = directory.with_name(f".{directory.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
            os.replace(staging, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_artifact(directory: str | Path, summarizer: BuiltModel, info: ArtifactInfo) -> Path:
    """Write an artifact atomically: into a temporary sibling folder, then renamed into place."""
    with staged_directory(directory) as staging:
        _write_into(staging, summarizer, info)
    return Path(directory)


def copy_artifact(source: str | Path, destination: str | Path) -> ArtifactInfo:
    """Copy the files of a saved artifact (adapter, non-adapter weights, s2sa.json) into an existing folder."""
    source, destination = Path(source), Path(destination)
    info = read_info(source)
    names = [NON_ADAPTER_WEIGHTS, METADATA]
    if not info.model_args.full_finetune:
        names = [ADAPTER_CONFIG, ADAPTER_WEIGHTS, *names]
    missing = [name for name in names if not (source / name).is_file()]
    if missing:
        raise S2SAError(f"{source} is incomplete: {', '.join(missing)} missing")
    for name in names:
        shutil.copyfile(source / name, destination / name)
    return info


def generation_config(tokenizer: PreTrainedTokenizerBase, gen: GenerationArgs) -> GenerationConfig:
    """A transformers GenerationConfig with the special tokens and decoding settings of a run."""
    return GenerationConfig(
        decoder_start_token_id=tokenizer.cls_token_id,
        bos_token_id=tokenizer.cls_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **gen.generate_kwargs(),
    )


def save_tokenizer_files(directory: str | Path, info: ArtifactInfo, *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """Save the run's tokenizer (the encoder's, with eos/bos as the model uses them and its markers as single
    tokens) and generation config."""
    margs = info.model_args
    tokenizer = load_tokenizer(resolve_checkpoint(margs.encoder), trust_remote_code=trust_remote_code)
    add_marker_tokens(tokenizer, margs.markers)
    tokenizer.save_pretrained(str(directory))
    generation_config(tokenizer, info.generation_args).save_pretrained(str(directory))
    return tokenizer


def check_finite(tensors: Mapping[str, torch.Tensor], file: Path) -> None:
    """Refuse loaded weights holding NaN or inf, naming the first such tensor of `file`: kept, they make every
    summary the same string of unused tokens, with a ROUGE report for it and exit 0."""
    for key, tensor in tensors.items():
        if not torch.isfinite(tensor).all():
            raise S2SAError(f"{file}: tensor {key} holds NaN or inf values; these weights are damaged "
                            "(export or evaluate another checkpoint, or train again)")


def check_adapter_accounted(model: EncoderDecoderModel, directory: Path, adapter_name: str) -> dict[str, torch.Tensor]:
    """Every tensor of adapter.safetensors went into one parameter of the adapter its config built, and every
    such parameter had one: adapters' `load_adapter` builds what adapter_config.json says and silently skips the
    rest, so an edited config (a union without its LoRA part, every layer left out, another method) gave other
    summaries with exit 0, or prefix tuning from random. The adapter's name is a dotted part of its parameters'
    names and of nothing else (model/builder.py refuses other names). Returns the adapter's loaded parameters."""
    with safe_open(str(directory / ADAPTER_WEIGHTS), framework="pt") as weights:  # the header only
        stored = set(weights.keys())
    parameters = {name: p for name, p in model.named_parameters(remove_duplicate=False) if f".{adapter_name}." in name}  # prefix pools are shared
    built = set(parameters)
    if unused := sorted(stored - built):
        raise S2SAError(f"{directory / ADAPTER_WEIGHTS} holds {len(unused)} tensors the adapter of {ADAPTER_CONFIG} does not "
                        f"have, e.g. {unused[0]}: the config was edited or belongs to other weights")
    if missing := sorted(built - stored):
        raise S2SAError(f"the adapter of {directory / ADAPTER_CONFIG} has {len(missing)} weights that {ADAPTER_WEIGHTS} lacks, "
                        f"e.g. {missing[0]} (they would start random): the config was edited or belongs to other weights")
    return parameters


def first_difference(saved: Any, expected: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """Where two adapter configs (as `to_dict` writes them) first differ: (key path, saved, expected). Keys only one
    side has are passed over (another `adapters` version may write more of them), but not a union's `configs`."""
    if isinstance(saved, dict) and isinstance(expected, dict):
        if ("configs" in saved) != ("configs" in expected):
            return (f"{path}.configs" if path else "configs", saved.get("configs"), expected.get("configs"))
        for key in sorted(saved.keys() & expected.keys()):
            if found := first_difference(saved[key], expected[key], f"{path}.{key}" if path else key):
                return found
        return None
    if isinstance(saved, list) and isinstance(expected, list) and len(saved) == len(expected):
        return next(filter(None, (first_difference(a, b, f"{path}[{i}]") for i, (a, b) in enumerate(zip(saved, expected, strict=True)))), None)
    return None if saved == expected else (path or "config", saved, expected)


def check_config_agrees(model: EncoderDecoderModel, directory: Path, margs: ModelArgs) -> None:
    """adapter_config.json describes the adapter s2sa.json names (its config string and leave_out): an edited one
    (LoRA's alpha, a bottleneck's non-linearity) builds the same tensors but writes other summaries."""
    saved = (read_json(directory / ADAPTER_CONFIG) or {}).get("config")
    expected = parse_adapter_config(margs.adapter_config, margs.leave_out, layer_counts(model)).to_dict()
    if difference := first_difference(saved, expected):
        key, ours, theirs = difference
        raise S2SAError(f"{directory / ADAPTER_CONFIG} does not describe the adapter {METADATA} names ({key}: {shown(ours)} there, "
                        f"{shown(theirs)} by {METADATA}): the config was edited or belongs to other weights")


def load_trained_weights(summarizer: BuiltModel, directory: str | Path, info: ArtifactInfo) -> None:
    """Load the adapter (if any) and the non-adapter weights into a model built from the same base."""
    directory = Path(directory)
    model = summarizer.model
    margs = info.model_args
    try:
        if not margs.full_finetune:
            if not hasattr(model, "adapters_config"):
                init_adapters(model)
            if margs.adapter_name in model.adapters_config.adapters:
                model.delete_adapter(margs.adapter_name)
            check_config_agrees(model, directory, margs)
            model.load_adapter(str(directory), load_as=margs.adapter_name, set_active=True, use_safetensors=True)
            summarizer.adapter_name = margs.adapter_name
            check_finite(check_adapter_accounted(model, directory, margs.adapter_name), directory / ADAPTER_WEIGHTS)
        tensors = load_file(str(directory / NON_ADAPTER_WEIGHTS))
    except (SafetensorError, OSError, RuntimeError, ValueError, KeyError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        mismatch = next((line for line in lines if "size mismatch" in line), None)
        if mismatch:
            raise S2SAError(
                f"the adapter in {directory} does not fit the base model ({mismatch}); "
                "pass the --encoder/--decoder it was trained on"
            ) from None
        raise S2SAError(f"cannot load the trained weights in {directory}: {lines[0]}") from None
    own = dict(model.named_parameters())
    unexpected = sorted(set(tensors) - set(own))
    misshaped = sorted(n for n in set(tensors) & set(own) if own[n].shape != tensors[n].shape)
    if unexpected or misshaped:
        example = (unexpected or misshaped)[0]
        raise S2SAError(
            f"the weights in {directory} do not fit the base model ({len(unexpected)} unknown and "
            f"{len(misshaped)} mis-shaped tensors, e.g. {example}); pass the --encoder/--decoder it was trained on"
        )
    check_finite(tensors, directory / NON_ADAPTER_WEIGHTS)
    with torch.no_grad():
        for name, tensor in tensors.items():
            own[name].copy_(tensor)


def load_artifact(
    directory: str | Path, encoder: str | None = None, decoder: str | None = None, *, trust_remote_code: bool = False
) -> tuple[BuiltModel, ArtifactInfo]:
    """Rebuild the base model named in an artifact (or the given override) and load the trained weights.

    `trust_remote_code`: the caller's permission for the base checkpoints' own code (remote_code.py); what
    the artifact's `s2sa.json` says never grants it."""
    info = read_info(directory)
    margs = info.model_args
    if encoder:
        margs.encoder = encoder
    if decoder:
        margs.decoder = decoder
    summarizer = build_base_model(margs, trust_remote_code=trust_remote_code)
    load_trained_weights(summarizer, directory, info)
    summarizer.model.eval()
    return summarizer, info


def load_merged_model(directory: str | Path, *, trust_remote_code: bool = False) -> BuiltModel:
    """Load a merged export with plain transformers (no adapters involved); a folder with its own code is
    refused unless `trust_remote_code` (remote_code.py)."""
    from transformers import AutoTokenizer

    check_checkpoint_code([directory], trust_remote_code)
    try:
        model = EncoderDecoderModel.from_pretrained(str(directory))
        tokenizer = AutoTokenizer.from_pretrained(str(directory), trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError) as exc:
        raise S2SAError(f"cannot load the merged model in {directory}: {str(exc).strip().splitlines()[0]}") from None
    model.eval()
    return BuiltModel(model=model, tokenizer=tokenizer)
