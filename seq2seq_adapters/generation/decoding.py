"""Fast batched summary generation: sort by length, pad within a batch, KV cache, inference mode; greedy
decoding drops finished summaries from its batch; on the CPU, one batch per intra-op thread at once."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import torch
from transformers import (
    EncoderDecoderModel,
    LogitsProcessorList,
    MinNewTokensLengthLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    PreTrainedTokenizerBase,
)
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation.surface_text import decode_summaries

logger = logging.getLogger(__name__)


def generation_kwargs(gen: GenerationArgs) -> dict:
    """The `generate()` keyword arguments for a set of generation settings: theirs, with the KV cache on."""
    return {**gen.generate_kwargs(), "use_cache": True}


class BeamSearchCache(EncoderDecoderCache):
    """An encoder-decoder KV cache whose beam reordering leaves the cross-attention cache alone.

    Beam search expands each example's encoder states `num_beams` times, so the cross-attention
    keys/values of all beams of one example are identical rows, and `beam_idx` only moves beams
    within their own example: reordering those rows every step (what the stock cache does: copying
    the whole cross cache, batch x beams x source length, per layer per step) changes nothing.
    Skipping it gives bit-identical output and was half of CPU beam-search time (docs/studies/performance-history.md).
    """

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.self_attention_cache.reorder_cache(beam_idx)


def new_cache(model: EncoderDecoderModel, gen: GenerationArgs) -> EncoderDecoderCache:
    """A fresh KV cache for one `generate()` call (the beam-search variant when beams > 1)."""
    config = model.config.get_text_config(decoder=True)
    cache_class = BeamSearchCache if gen.num_beams > 1 else EncoderDecoderCache
    return cache_class(DynamicCache(config=config), DynamicCache(config=config))


def encode(model: EncoderDecoderModel, input_ids: torch.Tensor, attention_mask: torch.Tensor):
    """The encoder outputs, computed as in training: the encoder opens its own adapters forward context.

    Computed up front because `generate()` hands a caller's `past_key_values` to the encoder too,
    which would fill the decoder's cache with encoder states; with `encoder_outputs` given it skips that.
    Not through `_prepare_encoder_decoder_kwargs_for_generation`: adapters 1.3.0 opens that context on
    the EncoderDecoderModel, which holds no prefix-tuning pool, so prefix tuning (and mam) fail there.
    """
    return model.get_encoder()(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)


DROP_FINISHED_AT = 0.1
"""Greedy decoding drops its finished rows once they are this share of the rows left. Dropping copies
every remaining row's cached keys/values, so doing it at every finished summary cost more than it
saved (200 DialogSum dialogues, int8: 10.9 summaries/s at every one, 11.6 at a tenth, 10.8 at half)."""


def greedy_search(model: EncoderDecoderModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, gen: GenerationArgs) -> torch.Tensor:
    """Greedy decoding as `generate(num_beams=1)` does it, except that finished summaries leave the batch.

    `generate()` decodes every row until the batch's longest summary ends, feeding the finished ones
    padding: 44% of the decoder's rows on 200 DialogSum test dialogues. Here the rows that have produced
    eos are dropped from the batch, the encoder states and the KV cache (once they are
    DROP_FINISHED_AT of it). Each remaining row computes what it did before, so the tokens are
    generate()'s (tests/unit/generation/test_decoding.py). Only the settings `GenerationArgs` has are applied
    (s2sa's decoding settings; the model's generation_config supplies the special tokens).
    Returns generate()'s layout: decoder start token, summary, padding after eos."""
    config = model.generation_config
    eos, pad, device = config.eos_token_id, config.pad_token_id, input_ids.device
    processors = LogitsProcessorList()
    if gen.no_repeat_ngram_size:
        processors.append(NoRepeatNGramLogitsProcessor(gen.no_repeat_ngram_size))
    if gen.min_new_tokens:
        processors.append(MinNewTokensLengthLogitsProcessor(1, gen.min_new_tokens, eos, device=device))
    cache = new_cache(model, gen)
    encoder_states = encode(model, input_ids, attention_mask).last_hidden_state
    output = torch.full((len(input_ids), gen.max_new_tokens + 1), pad, dtype=torch.long, device=device)
    output[:, 0] = config.decoder_start_token_id
    rows = torch.arange(len(input_ids), device=device)  # each row's row in `output`
    done = torch.zeros(len(input_ids), dtype=torch.bool, device=device)
    for step in range(1, gen.max_new_tokens + 1):
        tokens = output[rows, :step]  # the rows still in the batch, so far
        logits = model(
            encoder_outputs=(encoder_states,),
            attention_mask=attention_mask,
            decoder_input_ids=tokens[:, -1:],
            past_key_values=cache,
            use_cache=True,
        ).logits[:, -1, :]
        next_tokens = processors(tokens, logits.float()).argmax(-1).masked_fill(done, pad)  # finished: padding, as generate()
        output[rows, step] = next_tokens
        done |= next_tokens == eos
        finished = int(done.sum())
        if finished == len(done):
            return output[:, : step + 1]
        if finished >= max(1, DROP_FINISHED_AT * len(done)):
            keep = (~done).nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            encoder_states, attention_mask, rows, done = (t[keep] for t in (encoder_states, attention_mask, rows, done))
    return output


def stock_search(model: EncoderDecoderModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, gen: GenerationArgs) -> torch.Tensor:
    """transformers' `generate()` (beam search; greedy with one beam) with the encoder run up front and s2sa's
    cache (BeamSearchCache with beams)."""
    return model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        generation_config=model.generation_config,
        encoder_outputs=encode(model, input_ids, attention_mask),
        past_key_values=new_cache(model, gen),
        **generation_kwargs(gen),
    )


def decode(model: EncoderDecoderModel, input_ids: torch.Tensor, attention_mask: torch.Tensor, gen: GenerationArgs) -> torch.Tensor:
    """One batch's summary token ids: greedy_search without beams, generate()'s beam search with them."""
    return (greedy_search if gen.num_beams == 1 else stock_search)(model, input_ids, attention_mask, gen)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def pad_batch(sequences: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token id lists to the batch's longest; returns input ids and attention mask."""
    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention_mask[row, : len(ids)] = 1
    return input_ids, attention_mask


def check_decoder_room(model: EncoderDecoderModel, gen: GenerationArgs) -> None:
    """Generating past the decoder's learned positions fails deep in BERT's embeddings: refuse it before any
    work (training checks it before its first step, not at the final validation summaries)."""
    limit = model.config.decoder.max_position_embeddings
    if gen.max_new_tokens >= limit:  # one position holds the decoder's start token
        raise S2SAError(f"--max-new-tokens {gen.max_new_tokens} is above the decoder's position limit: at most {limit - 1}")


MAX_DECODING_STREAMS = 2
"""At most this many batches at once: each holds its own encoder states and KV cache (the README quick start's
validation eval peaked at 3.4 GB with two against 2.1 GB with one), and more than two were never measured
(the machine has 2 cores). With more intra-op threads, each stream gets its share of them."""


def decoding_streams(device: torch.device, batches: int) -> int:
    """How many batches to decode at once: on the CPU one per intra-op thread (at most MAX_DECODING_STREAMS,
    and never more than batches), one on a GPU.

    A decoding step is a chain of small operations on one query position, which intra-op threads split
    poorly; one batch per thread, each on one thread, keeps every core busy: 1.08-1.14x on 2 cores, greedy
    and beam search (docs/studies/performance-history.md, "One batch per core"). A GPU runs one batch at a time."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), batches, MAX_DECODING_STREAMS))


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """torch's intra-op thread count set to `count` for a while (a process-wide setting, so restored after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class BatchDecoder:
    """Decodes length-sorted batches of one `generate_summaries` call into `summaries`, from one or more threads.

    Each thread takes the next batch from a shared queue (longest first), so the streams finish together;
    batches are the same whatever the number of streams, so the summaries are too. `stop` ends every
    stream after its current batch (an error or an interrupt in another)."""

    model: EncoderDecoderModel
    tokenizer: PreTrainedTokenizerBase
    documents: Sequence[str]
    encoded: list[list[int]]
    gen: GenerationArgs
    on_batch: Callable[[int], None] | None
    summaries: list[str] = field(init=False)
    device: torch.device = field(init=False)
    pending: queue.SimpleQueue = field(init=False, default_factory=queue.SimpleQueue)
    stop: threading.Event = field(init=False, default_factory=threading.Event)
    report_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.summaries = [""] * len(self.documents)
        self.device = next(self.model.parameters()).device
        for batch in length_sorted_batches([len(ids) for ids in self.encoded], self.gen.batch_size):
            self.pending.put(batch)

    def stream(self) -> None:
        """Decode batches from the queue until it is empty or `stop` is set."""
        fits = self.gen.batch_size
        with torch.inference_mode():  # a per-thread mode: each stream sets it
            while not self.stop.is_set():
                try:
                    batch = self.pending.get_nowait()
                except queue.Empty:
                    return
                fits = self.decode_batch(batch, fits)

    def decode_batch(self, batch: list[int], fits: int) -> int:
        """One batch, `fits` documents at a time; returns how many fit. Out of GPU memory, the batch is halved
        and retried (and stays halved for the rest), down to one document, instead of losing the run."""
        device = self.device
        while batch:
            chunk = batch[:fits]
            input_ids, attention_mask = pad_batch([self.encoded[i] for i in chunk], self.tokenizer.pad_token_id)
            input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
            try:
                output = decode(self.model, input_ids, attention_mask, self.gen)
            except torch.OutOfMemoryError:
                if fits == 1:
                    raise S2SAError(
                        f"out of {device} memory generating one summary ({input_ids.shape[1]} source tokens, "
                        f"{self.gen.num_beams} beams); lower --num-beams or --max-new-tokens, or run on the CPU"
                    ) from None
                fits //= 2
                torch.cuda.empty_cache()
                logger.warning("out of %s memory: generating %d documents per batch from now on", device, fits)
                continue
            for index, summary in zip(chunk, decode_summaries(self.tokenizer, output, [self.documents[i] for i in chunk])):
                self.summaries[index] = summary
            batch = batch[len(chunk) :]
            if self.on_batch is not None:
                with self.report_lock:  # progress bars are not thread-safe
                    self.on_batch(len(chunk))
        return fits

    def run(self, streams: int) -> list[str]:
        """All batches in `streams` threads at once (each on its share of the intra-op threads), or in this
        thread when one; the summaries in input order."""
        if streams == 1:
            self.stream()
            return self.summaries
        with intra_op_threads(max(1, torch.get_num_threads() // streams)), ThreadPoolExecutor(streams) as pool:
            running = [pool.submit(self.stream) for _ in range(streams)]
            try:
                wait(running, return_when=FIRST_EXCEPTION)
            finally:
                self.stop.set()  # before the pool waits for its threads: after an error or Ctrl-C they stop soon
        for future in running:
            future.result()  # a stream's error, raised here
        return self.summaries


def generate_summaries(
    model: EncoderDecoderModel,
    tokenizer: PreTrainedTokenizerBase,
    documents: Sequence[str],
    gen: GenerationArgs,
    max_source_length: int,
    on_batch: Callable[[int], None] | None = None,
    streams: int | None = None,
) -> list[str]:
    """Summarise `documents`, returning summaries in input order; `on_batch(n)` reports progress.

    `gen.quantize` int8 generates with an int8 CPU copy of the model (quantize.py). `streams` batches are
    decoded at once (default: `decoding_streams`). Out of GPU memory, a batch is halved and retried."""
    if not documents:  # e.g. chunked_summaries' second pass when no document was long (the tokenizer fails on [])
        return []
    check_decoder_room(model, gen)
    encoded = tokenizer(
        list(documents), truncation=True, max_length=max_source_length, return_token_type_ids=False
    )["input_ids"]
    if gen.quantize == "int8":
        from seq2seq_adapters.model.int8 import int8_copy  # imports torch.ao.quantization: only when asked for

        model = int8_copy(model)
    was_training = model.training
    model.eval()
    decoder = BatchDecoder(model, tokenizer, documents, encoded, gen, on_batch)
    if streams is None:
        streams = decoding_streams(decoder.device, decoder.pending.qsize())
    try:
        return decoder.run(streams)
    finally:
        model.train(was_training)
