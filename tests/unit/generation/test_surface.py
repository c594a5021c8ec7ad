"""Readable summaries: source markers restored, numbers joined, casing noted; the GPU-memory fallback and
decoding streams of generate_summaries."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
import torch
from tiny import VARIED_DOCUMENTS
from transformers import AutoTokenizer, BertTokenizerFast

from seq2seq_adapters.config.schema import GenerationArgs, ModelArgs
from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.generation.decoding import decoding_streams, generate_summaries, intra_op_threads
from seq2seq_adapters.generation.surface_text import is_uncased, readable, restore_markers, source_markers
from seq2seq_adapters.model.builder import build_summarizer

DIALOGUE = "#Person1#: Hi, I'm calling about the flat.\n#Person2#: Call #PhoneNumber# or #Person10#, please."


@pytest.mark.parametrize(
    "decoded, expected",
    [
        ("# person1 # tells # person2 # he's the boss's son.", "#Person1# tells #Person2# he's the boss's son."),
        ("# person10 # and # person1 # call # phonenumber #.", "#Person10# and #Person1# call #PhoneNumber#."),
        ("#person2# pays 3. 5 dollars at 7 : 30 for 1, 000 chairs, then 2, 3 leave.",
         "#Person2# pays 3.5 dollars at 7:30 for 1,000 chairs, then 2, 3 leave."),
        # a marker the source lacks (a third speaker a model made up) is closed up with DialogSum's capital
        ("# person3 # is not in the dialogue, # address # neither.", "#Person3# is not in the dialogue, #Address# neither."),
        ("the c # and f # keys, #DayOfWeek# stays", "the c # and f # keys, #DayOfWeek# stays"),  # not markers / already one
        ("he pays $ 20 ( cash ) ; 15 % off : done", "he pays $20 (cash); 15% off: done"),
        ("he ' s sure it isn ' t the stadium ' volume ; i ' ll go", "he's sure it isn't the stadium' volume; i'll go"),
    ],
)
def test_markers_and_numbers_come_back_as_written(decoded, expected):
    assert readable(decoded, DIALOGUE) == expected


PAPER = "We propose a State-of-the-art parser for U.S. English and/or German. Scores before - after tuning rise."


@pytest.mark.parametrize(
    "decoded, expected",
    [
        # closed up as the source writes them, in the summary's own (uncased) casing
        ("a state - of - the - art parser for u. s. english and / or german", "a state-of-the-art parser for u.s. english and/or german"),
        # a hyphen the source lacks is closed up too: references never space a hyphen inside a word
        ("a multi - task model with well - known baselines", "a multi-task model with well-known baselines"),
        # a dash the source spaces between the same two words stays spaced
        ("scores before - after tuning rise", "scores before - after tuning rise"),
        ("they meet at 7 o ' clock", "they meet at 7 o' clock"),  # not in the source: an apostrophe ending a word
        ("a - - b, - c", "a - - b, - c"),  # double dashes and a dash after a comma are not hyphens inside a word
    ],
)
def test_words_with_inner_punctuation_are_closed_up_as_the_source_writes_them(decoded, expected):
    assert readable(decoded, PAPER) == expected


def test_a_source_word_with_an_apostrophe_is_closed_up():
    assert readable("we meet at 7 o ' clock", "Come at 7 o'clock.") == "we meet at 7 o'clock"


def test_source_markers_in_order_of_first_appearance():
    assert source_markers(DIALOGUE) == ["#Person1#", "#Person2#", "#PhoneNumber#", "#Person10#"]
    assert restore_markers("no tags here", source_markers(DIALOGUE)) == "no tags here"


def test_uncased_tokenizers_are_recognised(tiny_bert):
    uncased = AutoTokenizer.from_pretrained(tiny_bert)
    assert is_uncased(uncased)
    assert not is_uncased(BertTokenizerFast(vocab_file=str(tiny_bert / "vocab.txt"), do_lower_case=False))


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
