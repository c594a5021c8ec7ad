"""ROUGE as rouge_score computes it (multi-reference, bootstrap CI, paired bootstrap), Lead-k, and the warning
for text ROUGE cannot score."""

from __future__ import annotations

import numpy as np
import pytest
from rouge_score import rouge_scorer
from tiny import ALT_REFERENCES, PREDICTIONS, REFERENCES

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.rouge import (
    MEASURES,
    ROUGE_TYPES,
    choose_lead_k,
    compute_rouge,
    dropped_text_fraction,
    lead_k,
    mean_words,
    non_ascii_warning,
)
from seq2seq_adapters.evaluation.sentences import punkt_sentences


def _direct(reference: str, prediction: str) -> dict:
    """rouge_score called directly with the documented settings."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    raw = scorer.score(reference, prediction)
    joined = scorer.score("\n".join(punkt_sentences(reference)), "\n".join(punkt_sentences(prediction)))
    # rouge1/2/L tokenization ignores newlines, so raw and sentence-joined texts agree.
    for t in ("rouge1", "rouge2", "rougeL"):
        assert raw[t] == joined[t]
    return joined


def test_rouge_matches_rouge_score_directly():
    result = compute_rouge(PREDICTIONS, [[r] for r in REFERENCES])
    assert result.n_examples == 6 and result.n_references_max == 1 and not result.multi_reference
    for example, ref, pred in zip(result.per_example, REFERENCES, PREDICTIONS):
        expected = _direct(ref, pred)
        for t in ROUGE_TYPES:
            for m in MEASURES:
                assert example[t][m] == getattr(expected[t], m)
    for t in ROUGE_TYPES:
        for m in MEASURES:
            mean = np.mean([getattr(_direct(r, p)[t], m) for r, p in zip(REFERENCES, PREDICTIONS)])
            assert result.aggregate[t][m]["mean"] == pytest.approx(mean, abs=1e-12)
    # rougeLsum differs from rougeL when the sentence split matters.
    assert any(e["rougeLsum"] != e["rougeL"] for e in result.per_example)


def test_multi_reference_keeps_best_reference_per_type():
    multi = compute_rouge(PREDICTIONS, [[a, b] for a, b in zip(REFERENCES, ALT_REFERENCES)])
    first = compute_rouge(PREDICTIONS, [[r] for r in REFERENCES])
    second = compute_rouge(PREDICTIONS, [[r] for r in ALT_REFERENCES])
    assert multi.multi_reference and multi.n_references_max == 2
    for i, example in enumerate(multi.per_example):
        for t in ROUGE_TYPES:
            best = max(first.per_example[i][t], second.per_example[i][t], key=lambda s: s["fmeasure"])
            assert example[t] == best
    picked_second = [
        first.per_example[i]["rouge1"]["fmeasure"] < second.per_example[i]["rouge1"]["fmeasure"]
        for i in range(len(PREDICTIONS))
    ]
    assert any(picked_second) and not all(picked_second)


def test_bootstrap_is_seeded_and_contains_mean():
    refs = [[r] for r in REFERENCES]
    a = compute_rouge(PREDICTIONS, refs, n_bootstrap=500, seed=1)
    b = compute_rouge(PREDICTIONS, refs, n_bootstrap=500, seed=1)
    c = compute_rouge(PREDICTIONS, refs, n_bootstrap=500, seed=2)
    assert a.aggregate == b.aggregate
    assert a.aggregate != c.aggregate
    for t in ROUGE_TYPES:
        for m in MEASURES:
            stats = a.aggregate[t][m]
            assert 0 <= stats["low"] <= stats["mean"] <= stats["high"] <= 1
            assert stats["low"] < stats["high"]
    assert a.bootstrap == {"method": "percentile", "n_resamples": 500, "confidence": 0.95, "seed": 1}


def test_compute_rouge_rejects_bad_input():
    with pytest.raises(S2SAError):
        compute_rouge([], [])
    with pytest.raises(S2SAError):
        compute_rouge(["a"], [["a"], ["b"]])
    with pytest.raises(S2SAError):
        compute_rouge(["a"], [[]])


def test_lead_k_and_choose_k():
    document = "First sentence here. Second one follows! Third? Fourth and last."
    assert lead_k(document, 2) == "First sentence here.\nSecond one follows!"
    assert lead_k(document, 10) == "First sentence here.\nSecond one follows!\nThird?\nFourth and last."
    with pytest.raises(S2SAError):
        lead_k(document, 0)
    # First references have 1, 2 and 4 sentences: mean 7/3 rounds to 2; the 2nd reference is ignored.
    refs = [["One."], ["One. Two.", "A. B. C. D. E. F."], ["One. Two. Three. Four."]]
    assert choose_lead_k(refs) == 2
    assert choose_lead_k([[""]]) == 1
    assert mean_words(["a b c", "d"]) == 2.0
    assert mean_words([]) == 0.0


def test_non_ascii_warning():
    chinese = "北京是中华人民共和国的首都，也是全国的政治中心。"
    russian = "Москва — столица России, крупнейший город страны."
    english = "“Curly quotes” and an em dash — don’t trigger the warning."
    assert dropped_text_fraction(chinese) == 1.0
    assert dropped_text_fraction(russian) == 1.0
    assert dropped_text_fraction(english) == 0.0
    assert dropped_text_fraction("Café") == 0.25
    warning = non_ascii_warning([chinese, russian, english])
    assert warning is not None and warning.startswith("2 of 3 texts") and "\n" not in warning
    assert non_ascii_warning([english, "Plain text."]) is None
    result = compute_rouge([russian], [[chinese]])
    assert len(result.warnings) == 2
    assert compute_rouge(PREDICTIONS, [[r] for r in REFERENCES]).warnings == []


def test_text_rouge_cannot_score_is_named_so():
    """Emoji have no letters at all, yet ROUGE drops them: every such reference counts (issue 18, defect 20)."""
    emoji, chinese, mixed = "🎉🎉 🙂", "北京是首都。", "OK 是首都吗"
    assert non_ascii_warning([emoji, "Plain text."]).startswith("1 of 2 texts")
    warning = non_ascii_warning([emoji, chinese], label="references")
    assert warning.startswith("ROUGE cannot score these references: none of the 2 has an ASCII letter or digit")
    assert non_ascii_warning([mixed, chinese]).startswith("2 of 2 texts")
    result = compute_rouge(["Paris is the capital.", "A party."], [[emoji], [chinese]])
    assert result.warnings[0].startswith("ROUGE cannot score these references")


def test_paired_bootstrap_matches_a_direct_computation():
    from seq2seq_adapters.evaluation.rouge import paired_bootstrap

    a = np.array([30.0, 25.0, 40.0, 10.0, 22.0])
    b = np.array([28.0, 27.0, 35.0, 12.0, 20.0])
    result = paired_bootstrap(a, b, n_resamples=200, seed=3)
    draws = np.random.default_rng(3).integers(0, 5, size=(200, 5))
    differences = [np.mean([a[i] for i in row]) - np.mean([b[i] for i in row]) for row in draws]
    assert result["difference"] == pytest.approx(1.0)
    assert result["low"] == pytest.approx(np.percentile(differences, 2.5))
    assert result["high"] == pytest.approx(np.percentile(differences, 97.5))
    assert result["a_wins"] == pytest.approx(sum(d > 0 for d in differences) / 200)
    assert result["same"] == 0.0


def test_identical_scores_say_so_in_the_comparison():
    """`eval --compare` of a run against itself printed "· 0% A better", which reads as B always better."""
    from seq2seq_adapters.evaluation.reports import paired_markdown
    from seq2seq_adapters.evaluation.rouge import ROUGE_TYPES, paired_bootstrap

    scores = np.array([30.0, 25.0, 40.0])
    same = paired_bootstrap(scores, scores.copy())
    assert same["same"] == 1.0 and same["a_wins"] == 0.0
    differs = paired_bootstrap(scores + np.array([1.0, 0.0, 0.0]), scores)
    assert differs["same"] == pytest.approx(2 / 3)
    table = paired_markdown({"a - a": dict.fromkeys(ROUGE_TYPES, same), "b - a": dict.fromkeys(ROUGE_TYPES, differs)})
    [row_same] = [line for line in table.splitlines() if line.startswith("| a - a")]
    [row_differs] = [line for line in table.splitlines() if line.startswith("| b - a")]
    assert row_same.count("· same scores") == len(ROUGE_TYPES) and "%" not in row_same
    assert row_differs.count("%") == len(ROUGE_TYPES)
