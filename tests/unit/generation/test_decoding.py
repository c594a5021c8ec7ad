"""Generation in input order: greedy decoding that drops finished summaries from its batch, prefix tuning encoded
as in training, surface text on the way out, the batch halved when out of memory, several decoding streams."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import torch
from tiny import DIALOGUE, VARIED_DOCUMENTS

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation import decoding as generation
from seq2seq_adapters.generation.decoding import (
    decoding_streams,
    generate_summaries,
    generation_kwargs,
    greedy_search,
    intra_op_threads,
    pad_batch,
)
from seq2seq_adapters.model.builder import build_summarizer

GREEDY = GenerationArgs(num_beams=1, max_new_tokens=10, min_new_tokens=2, no_repeat_ngram_size=2)


def eos_positions(output: torch.Tensor, eos: int) -> list[int]:
    """Where each row's eos is (-1: none)."""
    return [int((row == eos).nonzero()[0]) if (row == eos).any() else -1 for row in output]


@pytest.fixture(scope="module", params=["lora", "mam"])
def staggered(tiny_bert, request):
    """A tiny summarizer whose eos logit is raised until its summaries end at different steps (an untrained
    model otherwise ends all of them together, or none), with the batch and stock generate()'s output.
    LoRA (s2sa's default adapter) and mam (prefix tuning, whose prefix follows the batch's rows)."""
    torch.manual_seed(0)  # the new weights' initialisation: the same model whatever ran before
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=request.param))
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    eos = model.generation_config.eos_token_id
    input_ids, attention_mask = pad_batch(tokenizer(VARIED_DOCUMENTS, return_token_type_ids=False)["input_ids"], tokenizer.pad_token_id)
    bias = model.decoder.cls.predictions.decoder.bias
    for raised in torch.arange(0.0, 1.5, 0.005).tolist():
        with torch.no_grad():
            bias[eos] = raised
        with torch.inference_mode():  # the encoder up front, as s2sa does: adapters' own generate() fails on prefix tuning
            stock = generation.stock_search(model, input_ids, attention_mask, GREEDY)
        if len(set(eos_positions(stock, eos))) > 1:
            return model, input_ids, attention_mask, stock
    pytest.fail("no eos bias made the tiny model's summaries end at different steps")


@pytest.mark.parametrize("drop_at", [generation.DROP_FINISHED_AT, 0.0, 1.0])
def test_greedy_search_gives_generates_tokens_while_dropping_finished_rows(staggered, monkeypatch, drop_at):
    """Token for token generate()'s greedy output, whether rows leave at every finished summary, at s2sa's
    share, or never (1.0: all must finish first)."""
    model, input_ids, attention_mask, stock = staggered
    monkeypatch.setattr(generation, "DROP_FINISHED_AT", drop_at)
    kept: list[int] = []
    select = generation.EncoderDecoderCache.batch_select_indices
    monkeypatch.setattr(generation.EncoderDecoderCache, "batch_select_indices", lambda cache, keep: (kept.append(len(keep)), select(cache, keep)))
    with torch.inference_mode():
        fast = greedy_search(model, input_ids, attention_mask, GREEDY)
    assert torch.equal(fast, stock)
    assert bool(kept) == (drop_at < 1.0)  # rows really left the batch (or, at 1.0, never did)
    assert kept == sorted(kept, reverse=True)


def test_greedy_summaries_stop_at_max_new_tokens_without_eos(tiny_bert):
    """With eos never chosen, every row runs to max_new_tokens, as in generate()."""
    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config="lora"))
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    with torch.no_grad():
        model.decoder.cls.predictions.decoder.bias[model.generation_config.eos_token_id] = -1e4
    input_ids, attention_mask = pad_batch(tokenizer(VARIED_DOCUMENTS[:3], return_token_type_ids=False)["input_ids"], tokenizer.pad_token_id)
    with torch.inference_mode():
        fast = greedy_search(model, input_ids, attention_mask, GREEDY)
        stock = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=model.generation_config, **generation_kwargs(GREEDY))
    assert fast.shape == (3, GREEDY.max_new_tokens + 1)
    assert torch.equal(fast, stock)


@pytest.mark.parametrize("adapter_config", ["prefix_tuning", "mam"])
def test_prefix_tuning_generates_with_the_encoder_states_of_training(tiny_bert, adapter_config):
    """adapters 1.3.0's own generate() fails on EncoderDecoderModel + prefix tuning; ours encodes as training does."""
    from seq2seq_adapters.config.schema import ModelArgs
    from seq2seq_adapters.generation.decoding import encode
    from seq2seq_adapters.model.builder import build_summarizer

    summarizer = build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), adapter_config=adapter_config))
    model, tokenizer = summarizer.model.eval(), summarizer.tokenizer
    batch = tokenizer(["#Person1#: Where is the station?", "Hi."], padding=True, return_tensors="pt", return_token_type_ids=False)
    seen = []
    hook = model.get_encoder().register_forward_hook(lambda module, args, output: seen.append(output.last_hidden_state))
    with torch.no_grad():
        model(**batch, labels=batch["input_ids"])  # the training forward path
    hook.remove()
    with torch.inference_mode():
        states = encode(model, batch["input_ids"], batch["attention_mask"]).last_hidden_state
    torch.testing.assert_close(states, seen[0])
    summaries = generate_summaries(model, tokenizer, ["#Person1#: Where is the station?"], GenerationArgs(num_beams=2, max_new_tokens=4, min_new_tokens=1), 32)
    assert len(summaries) == 1 and summaries[0]


@pytest.fixture(scope="module")
def tiny(tiny_bert):
    return build_summarizer(ModelArgs(encoder=str(tiny_bert), decoder=str(tiny_bert), leave_out=[0]))


def fake_decode(tokenizer, summaries: dict[int, str], largest: int | None = None):
    """A stand-in for `generation.decode` (one batch's search) that answers each batch row by its source
    length, and runs out of memory above `largest` rows."""

    def decode(model, input_ids, attention_mask, gen):
        if largest is not None and input_ids.shape[0] > largest:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        rows = [summaries[int(mask.sum())] for mask in attention_mask]
        return tokenizer(rows, padding=True, return_tensors="pt").input_ids

    return decode


def test_generation_writes_markers_and_contractions_as_people_do(tiny, monkeypatch):
    """Through the real decode path: the uncased tokenizer splits #Person1# and "he's"; the summary does not."""
    tokenizer = tiny.tokenizer
    documents = [DIALOGUE, "#Person2#: it is 7:30 now."]
    lengths = [len(tokenizer(d).input_ids) for d in documents]
    spoken = {lengths[0]: "#Person1# calls #Person10# ; he's late.", lengths[1]: "#Person2# says it's 7:30."}
    monkeypatch.setattr("seq2seq_adapters.generation.decoding.decode", fake_decode(tokenizer, spoken))
    summaries = generate_summaries(tiny.model, tokenizer, documents, GenerationArgs(num_beams=1, batch_size=2), 64)
    assert summaries == ["#Person1# calls #Person10#; he's late.", "#Person2# says it's 7:30."]


def test_out_of_memory_halves_the_batch_and_keeps_input_order(tiny, monkeypatch):
    tokenizer = tiny.tokenizer
    documents = [" ".join(["word"] * n) for n in (5, 1, 9, 3, 7, 2, 8)]
    answers = {len(tokenizer(d).input_ids): f"summary of {len(d.split())} words" for d in documents}
    gen = GenerationArgs(num_beams=1, batch_size=8)
    monkeypatch.setattr("seq2seq_adapters.generation.decoding.decode", fake_decode(tokenizer, answers))
    expected = generate_summaries(tiny.model, tokenizer, documents, gen, 64)
    assert expected == [f"summary of {len(d.split())} words" for d in documents]
    monkeypatch.setattr("seq2seq_adapters.generation.decoding.decode", fake_decode(tokenizer, answers, largest=2))
    assert generate_summaries(tiny.model, tokenizer, documents, gen, 64) == expected
    monkeypatch.setattr("seq2seq_adapters.generation.decoding.decode", fake_decode(tokenizer, answers, largest=0))
    with pytest.raises(S2SAError, match="out of cpu memory generating one summary"):
        generate_summaries(tiny.model, tokenizer, documents, gen, 64)


@pytest.mark.parametrize("streams", [2, 3])
def test_decoding_streams_give_the_same_summaries_in_input_order(tiny, streams):
    """Several batches decoded at once, each stream on one intra-op thread: the same summaries as one stream,
    progress for every document, and torch's thread count as it was."""
    gen = GenerationArgs(num_beams=1, max_new_tokens=6, min_new_tokens=1, batch_size=3)
    one = generate_summaries(tiny.model, tiny.tokenizer, VARIED_DOCUMENTS, gen, 64, streams=1)
    reported: list[int] = []
    threads = torch.get_num_threads()
    with intra_op_threads(2):
        several = generate_summaries(tiny.model, tiny.tokenizer, VARIED_DOCUMENTS, gen, 64, on_batch=reported.append, streams=streams)
        assert torch.get_num_threads() == 2
    assert several == one
    assert sum(reported) == len(VARIED_DOCUMENTS)
    assert torch.get_num_threads() == threads


def test_an_error_in_one_stream_stops_the_others(tiny, monkeypatch):
    """The first stream's failure reaches the caller; the other stream takes no new batch after it, and the
    model and torch's thread count are left as they were."""
    tokenizer = tiny.tokenizer
    documents = [" ".join(["word"] * n) for n in range(1, 13)]
    answers = {len(tokenizer(d).input_ids): "a summary" for d in documents}
    answer = fake_decode(tokenizer, answers)
    started: list[int] = []
    calls = itertools.count()
    second, failed = threading.Event(), threading.Event()

    def decode(model, input_ids, attention_mask, gen):
        started.append(len(input_ids))
        if next(calls) == 0:
            second.wait(5)  # both streams are decoding (on a busy machine the other could otherwise start late)
            failed.set()
            raise RuntimeError("simulated failure")
        second.set()
        failed.wait(5)
        time.sleep(0.2)  # the failing stream's error reaches the caller meanwhile
        return answer(model, input_ids, attention_mask, gen)

    monkeypatch.setattr("seq2seq_adapters.generation.decoding.decode", decode)
    threads, training = torch.get_num_threads(), tiny.model.training
    with pytest.raises(RuntimeError, match="simulated failure"):
        generate_summaries(tiny.model, tokenizer, documents, GenerationArgs(num_beams=1, batch_size=2), 64, streams=2)
    assert len(started) == 2  # of six batches: each stream's first, then nothing
    assert torch.get_num_threads() == threads and tiny.model.training == training


def test_decoding_streams_are_one_per_cpu_thread_up_to_the_cap_and_one_on_a_gpu():
    with intra_op_threads(1):
        assert decoding_streams(torch.device("cpu"), 9) == 1
    with intra_op_threads(4):
        assert [decoding_streams(torch.device("cpu"), batches) for batches in (1, 3, 9)] == [1, 2, 2]  # MAX_DECODING_STREAMS
        assert decoding_streams(torch.device("cuda"), 9) == 1
