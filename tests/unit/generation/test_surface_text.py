"""Readable summaries: source markers restored, numbers and words with inner punctuation closed up as the source
writes them, uncased tokenizers recognised."""

from __future__ import annotations

import pytest
from tiny import DIALOGUE
from transformers import AutoTokenizer, BertTokenizerFast

from seq2seq_adapters.generation.surface_text import is_uncased, readable, restore_markers, source_markers


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
