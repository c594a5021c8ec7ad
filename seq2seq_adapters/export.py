"""Export a run's adapter as a self-contained folder with a model card, or merge it into a plain model.

`export_adapter(run_dir, output)` writes (into a temporary sibling, renamed into place at the end)::

    adapter_config.json, adapter.safetensors   # the adapter, `adapters` format (model.load_adapter)
    non_adapter_weights.safetensors            # trained cross-attention / LM-head parts (load_state_dict)
    s2sa.json                                  # for seq2seq_adapters.load_summarizer
    tokenizer files, generation_config.json    # the encoder's tokenizer, the run's decoding settings
    README.md                                  # model card (model_card.py), YAML header in the Hugging Face style

With `merge=True` a LoRA-family adapter is folded into the base weights and the folder is a plain
transformers `EncoderDecoderModel` (`save_pretrained`, safetensors) that loads without `adapters`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from adapters import AdapterConfig
from adapters.configuration.adapter_config import BnConfig, LoRAConfig, MTLLoRAConfig
from transformers import EncoderDecoderModel

from .artifacts import (
    ADAPTER_CONFIG,
    METADATA,
    ArtifactInfo,
    copy_artifact,
    generation_config,
    load_artifact,
    read_info,
    save_tokenizer_files,
    staged_directory,
    verify_weight_files,
)
from .checkpoints import checkpoint_folders, checkpoint_step, is_complete, last_complete_checkpoint
from .errors import S2SAError
from .folding import fold_adapter
from .io_utils import check_output_dir, read_json, wrong_kind
from .model_card import ExportSource, RunRecord, best_step, model_card, tensor_counts
from .modeling import Summarizer, build_base_model
from .run_dir import RunDir, adapter_of, input_paths

MERGEABLE = "lora, ia3, vera, dora, dvora (LoRA-family configs without use_gating)"
"""What `--merge` accepts: adapters whose `merge_adapter` folds them into the Linear weights."""

def _complete_checkpoint(run_dir: Path, name: str) -> Path:
    """checkpoints/<name>/adapter, checked to exist and to have finished writing."""
    folder = RunDir(run_dir).checkpoints / name
    available = [p.name for p in checkpoint_folders(RunDir(run_dir).checkpoints) if is_complete(p)]
    if not is_complete(folder) or not (adapter_of(folder) / METADATA).is_file():
        state = "is incomplete (interrupted while saving)" if folder.is_dir() else "does not exist"
        raise S2SAError(
            f"--checkpoint: {folder} {state}; complete checkpoints: {', '.join(available) or 'none'}"
        )
    return adapter_of(folder)


def resolve_export_source(run_dir: Path, checkpoint: str | None, state: dict[str, Any]) -> ExportSource:
    """Map --checkpoint (None, best, last or a step) onto an artifact folder of the run."""
    run = RunDir(run_dir)
    if checkpoint is not None and not run.checkpoints.is_dir():
        raise S2SAError(f"--checkpoint {checkpoint}: {run_dir} has no checkpoints/ folder")
    best = best_step(state)
    if checkpoint is None or (checkpoint == "best" and best is None):
        final = run.adapter
        if not (final / METADATA).is_file():
            raise S2SAError(
                f"{run_dir} has no final adapter/ (the run did not finish?); "
                "pass --checkpoint last to export its newest complete checkpoint"
            )
        if best is not None:
            return ExportSource(final, f"the run's final `adapter/` (its best checkpoint, step {best})", best)
        step = (read_json(run.record) or {}).get("global_step", state.get("global_step"))
        return ExportSource(final, f"the run's final `adapter/` (after step {step})", step)
    if checkpoint == "best":
        name = Path(state["best_model_checkpoint"]).name
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}` (best checkpoint)", best)
    if checkpoint == "last":
        last = last_complete_checkpoint(run_dir)
        if last is None:
            raise S2SAError(f"--checkpoint last: no complete checkpoint under {run_dir / 'checkpoints'}")
        return ExportSource(adapter_of(last), f"`checkpoints/{last.name}` (newest checkpoint)", checkpoint_step(last))
    if checkpoint.isdigit():
        name = f"checkpoint-{int(checkpoint)}"
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}`", int(checkpoint))
    raise S2SAError(f"--checkpoint {checkpoint!r}: expected best, last or a step number")


def _saved_adapter_config(directory: Path, info: ArtifactInfo) -> AdapterConfig:
    """The adapter config as saved next to the weights (falls back to the run's config string)."""
    saved = (read_json(directory / ADAPTER_CONFIG) or {}).get("config")
    try:
        return AdapterConfig.load(saved if saved else info.model_args.adapter_config)
    except Exception as exc:  # adapters raises several types for unknown configs
        raise S2SAError(f"cannot read the adapter config in {directory}: {exc}") from None


def check_mergeable(directory: Path, info: ArtifactInfo) -> None:
    """Raise unless the adapter is of a kind `adapters` can fold into the base weights."""
    if info.model_args.full_finetune:
        return
    config = _saved_adapter_config(directory, info)
    if isinstance(config, LoRAConfig) and not isinstance(config, MTLLoRAConfig) and not config.use_gating:
        return
    architecture = config.get("architecture") or ("bottleneck" if isinstance(config, BnConfig) else type(config).__name__)
    if isinstance(config, LoRAConfig) and config.use_gating:
        architecture += " with use_gating"
    raise S2SAError(
        f"--merge: the adapter '{info.model_args.adapter_config}' ({architecture}) cannot be merged into the base "
        f"weights; only {MERGEABLE} can; export it without --merge"
    )


def _probe_logits(model: EncoderDecoderModel, tokenizer) -> torch.Tensor:
    """Logits for a fixed short input, to check that merging kept the model's function."""
    ids = tokenizer("The merged model must give the same logits as the adapter.", return_tensors="pt")["input_ids"]
    start = torch.tensor([[tokenizer.cls_token_id, *ids[0, 1:6].tolist()]])
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(input_ids=ids.to(device), decoder_input_ids=start.to(device)).logits.float().cpu()


def merge_into_plain_model(summarizer: Summarizer, info: ArtifactInfo) -> tuple[EncoderDecoderModel, float]:
    """A plain EncoderDecoderModel (no adapters attached) with the trained adapter folded in.

    Returns the model and the largest logit difference to the adapter model on a probe input."""
    margs = info.model_args
    model = summarizer.model.eval()
    reference = _probe_logits(model, summarizer.tokenizer)
    if not margs.full_finetune:
        fold_adapter(model, margs.adapter_name)
    plain = build_base_model(margs).model
    trained = model.state_dict()
    wanted = plain.state_dict()
    missing = [key for key in wanted if key not in trained]
    if missing:
        raise S2SAError(f"--merge: the merged model lacks {len(missing)} base weights, e.g. {missing[0]}")
    plain.load_state_dict({key: trained[key] for key in wanted}, strict=True)
    plain.eval()
    difference = (_probe_logits(plain, summarizer.tokenizer) - reference).abs().max().item()
    if difference > 1e-3 * (1.0 + reference.abs().max().item()):
        raise S2SAError(f"--merge: the merged model's logits differ from the adapter's by {difference:.3g}")
    return plain, difference


def export_adapter(
    run_dir: str | Path,
    output: str | Path,
    *,
    checkpoint: str | None = None,
    merge: bool = False,
    overwrite: bool = False,
) -> Path:
    """Export a run's adapter (or merged model) to `output`; nothing is written before all checks pass."""
    run_dir, output = Path(run_dir), Path(output)
    if problem := wrong_kind(run_dir, want_folder=True):
        raise S2SAError(f"{run_dir} {problem} (expected a run folder or an exported adapter folder)")
    if not run_dir.is_dir():
        raise S2SAError(f"run folder not found: {run_dir}")
    run = RunDir(run_dir)
    last = last_complete_checkpoint(run_dir) if run.checkpoints.is_dir() else None
    state = (read_json(last / "trainer_state.json") or {}) if last else {}
    if checkpoint is None and (run_dir / METADATA).is_file():  # an artifact folder, e.g. an earlier export
        source = ExportSource(run_dir, f"`{run_dir.name}/`", None)
    else:
        source = resolve_export_source(run_dir, checkpoint, state)
    info = read_info(source.directory)
    kept = {  # training replaces these folders, so an export inside them would vanish
        "the run's checkpoints/": run.checkpoints,
        "the run's adapter/": run.adapter,
        f"the exported weights {source.directory}": source.directory,
    }
    data = run.read_config().data.data if run.is_run() else None
    protected = {f"the run {run_dir}": run_dir, **kept, **input_paths(data, info.model)}
    check_output_dir(output, overwrite, protected, flag="--output", outside=kept)
    verify_weight_files(source.directory)
    if merge:
        check_mergeable(source.directory, info)
    rouge = read_json(run.report("validation")) or None
    record = RunRecord(run=read_json(run.record) or {}, rouge=rouge, state=state)
    with staged_directory(output) as staging:
        if merge:
            summarizer, _ = load_artifact(source.directory)
            merged, difference = merge_into_plain_model(summarizer, info)
            merged.generation_config = generation_config(summarizer.tokenizer, info.generation_args)
            merged.save_pretrained(str(staging), safe_serialization=True)
            summarizer.tokenizer.save_pretrained(str(staging))
            card = model_card(info, record, source, output, merged_model=merged, merge_difference=difference)
        else:
            copy_artifact(source.directory, staging)
            save_tokenizer_files(staging, info)
            card = model_card(info, record, source, output, counts=tensor_counts(staging))
        (staging / "README.md").write_text(card, encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o644)  # some writers create 0600 files; an export is meant to be shared
    return output
