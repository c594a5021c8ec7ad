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

import torch
from adapters import AdapterConfig
from adapters.configuration.adapter_config import BnConfig, LoRAConfig, MTLLoRAConfig
from transformers import EncoderDecoderModel

from seq2seq_adapters.config.legacy import RETIRED_MODEL_KEYS
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import mark_as_written, naming_a_full_disk, read_json, reading_folder, writing_folder
from seq2seq_adapters.export.model_card import RunRecord, model_card, tensor_counts
from seq2seq_adapters.layout.artifact_folder import ADAPTER_CONFIG, METADATA, ArtifactInfo
from seq2seq_adapters.layout.export_folder import ExportPlan, plan_export
from seq2seq_adapters.model.artifact_io import (
    copy_artifact,
    generation_config,
    load_artifact,
    save_tokenizer_files,
    staged_directory,
)
from seq2seq_adapters.model.builder import BuiltModel, build_base_model
from seq2seq_adapters.model.lora_merge import fold_adapter
from seq2seq_adapters.model.marker_tokens import bake_marker_rows
from seq2seq_adapters.model.remote_code import check_checkpoint_code

MERGEABLE = "lora, ia3, vera, dora, dvora (LoRA-family configs without use_gating)"
"""What `--merge` accepts: adapters whose `merge_adapter` folds them into the Linear weights."""

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


def merge_into_plain_model(
    summarizer: BuiltModel, info: ArtifactInfo, *, trust_remote_code: bool = False
) -> tuple[EncoderDecoderModel, float]:
    """A plain EncoderDecoderModel (no adapters attached) with the trained adapter folded in.

    Returns the model and the largest logit difference to the adapter model on a probe input."""
    margs = info.model_args
    model = summarizer.model.eval()
    reference = _probe_logits(model, summarizer.tokenizer)
    if not margs.full_finetune:
        fold_adapter(model, margs.adapter_name)
    plain = build_base_model(margs, trust_remote_code=trust_remote_code).model
    trained = model.state_dict()
    wanted = plain.state_dict()
    missing = [key for key in wanted if key not in trained]
    if missing:
        raise S2SAError(f"--merge: the merged model lacks {len(missing)} base weights, e.g. {missing[0]}")
    plain.load_state_dict({key: trained[key] for key in wanted}, strict=True)
    bake_marker_rows(plain)
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
    quantize: str | None = None,
    trust_remote_code: bool = False,
) -> Path:
    """Export a run's adapter (or merged model) to `output`; nothing is written before all checks pass.

    `quantize` ("none" or "int8") replaces the decoding setting the export records (quantize.py);
    `trust_remote_code` lets the base checkpoints run their own code (model/remote_code.py)."""
    plan = plan_export(Path(run_dir), Path(output), checkpoint=checkpoint, overwrite=overwrite, quantize=quantize, merge=merge)
    return write_export(plan, Path(output), merge=merge, overwrite=overwrite, trust_remote_code=trust_remote_code)


def write_export(plan: ExportPlan, output: Path, *, merge: bool = False, overwrite: bool = False, trust_remote_code: bool = False) -> Path:
    """Write the export that `plan_export` checked (the CLI plans before importing this module); a merge, and
    base checkpoints with their own code (without `trust_remote_code`), are checked before anything is written."""
    source, info, run = plan.source, plan.info, plan.run
    check_checkpoint_code([info.model.encoder, info.model.decoder], trust_remote_code)
    if merge:
        check_mergeable(source.directory, info)
    rouge = read_json(run.report("validation")) or None
    record = RunRecord(run=read_json(run.record) or {}, rouge=rouge, state=plan.state)
    with reading_folder(run.root if run.is_run() else source.directory, "weights folder"), \
            naming_a_full_disk(output, "; the export was not written, and nothing at --output was replaced"), \
            writing_folder(output, "--output") as output:
        plan.check_output(output, overwrite)  # again, now that the folder is ours: was it written to meanwhile?
        with staged_directory(output) as staging:
            mark_as_written(staging)
            if merge:
                summarizer, _ = load_artifact(source.directory, trust_remote_code=trust_remote_code)
                merged, difference = merge_into_plain_model(summarizer, info, trust_remote_code=trust_remote_code)
                merged.generation_config = generation_config(summarizer.tokenizer, info.generation_args)
                merged.save_pretrained(str(staging), safe_serialization=True)
                summarizer.tokenizer.save_pretrained(str(staging))
                card = model_card(info, record, source, output, merged_model=merged, merge_difference=difference)
            else:
                copied = copy_artifact(source.directory, staging)
                if copied != info or RETIRED_MODEL_KEYS & set((read_json(staging / METADATA) or {}).get("model") or {}):
                    info.write(staging)  # --quantize changed the decoding, or an older s2sa.json states trust_remote_code
                save_tokenizer_files(staging, info, trust_remote_code=trust_remote_code)
                card = model_card(info, record, source, output, counts=tensor_counts(staging))
            (staging / "README.md").write_text(card, encoding="utf-8")
            for path in staging.iterdir():
                path.chmod(0o644)  # some writers create 0600 files; an export is meant to be shared
    return output
