"""ROUGE with the settings of transformers' summarization example, bootstrap CIs, and baselines.

Pure computation, no I/O. Scores are in [0, 1]; reports multiply by 100.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from rouge_score import rouge_scorer, tokenize

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.sentences import SPLITTER, line_sentences, punkt_sentences

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")
MEASURES: tuple[str, ...] = ("precision", "recall", "fmeasure")


def _sentence_joined(text: str) -> str:
    """The text as rougeLsum expects it, and as transformers' example writes it: one sentence per line."""
    return "\n".join(punkt_sentences(text))


@dataclass
class RougeResult:
    """ROUGE scores of one system on one set of examples.

    per_example: one dict per example, rouge type -> {"precision", "recall", "fmeasure"}.
    aggregate: rouge type -> measure -> {"mean", "low", "high"} (mean over examples and
    percentile-bootstrap interval). sentence_splitter: what split the texts for rougeLsum
    (reports written before it existed used s2sa's old regex splitter).
    """

    per_example: list[dict[str, dict[str, float]]]
    aggregate: dict[str, dict[str, dict[str, float]]]
    n_examples: int
    n_references_max: int
    multi_reference: bool
    bootstrap: dict[str, float | int | str]
    sentence_splitter: str = SPLITTER
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-serialisable copy."""
        return asdict(self)


def compute_rouge(
    predictions: list[str],
    references: list[list[str]],
    *,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RougeResult:
    """ROUGE-1/2/L/Lsum as the `evaluate` rouge metric computes them in transformers' example.

    Uses rouge_score's RougeScorer(use_stemmer=True) on texts split by nltk's Punkt (English,
    exactly nltk.sent_tokenize: see sentences.py) and joined one sentence per line, which only
    matters for rougeLsum (rouge1/2/L tokenization ignores newlines). With several
    references per example, rouge_score's score_multi keeps, per rouge type, the reference
    with the best F1. The aggregate is the plain mean over examples with a percentile
    bootstrap interval over examples, seeded so reruns give identical numbers.
    """
    if not predictions:
        raise S2SAError("cannot compute ROUGE on zero examples")
    if len(predictions) != len(references):
        raise S2SAError(
            f"got {len(predictions)} predictions but {len(references)} reference lists"
        )
    if any(not refs for refs in references):
        raise S2SAError("every example needs at least one reference summary")
    if n_bootstrap < 1 or not 0 < confidence < 1:
        raise S2SAError("n_bootstrap must be >= 1 and confidence strictly between 0 and 1")

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    per_example = []
    for prediction, refs in zip(predictions, references):
        scores = scorer.score_multi([_sentence_joined(r) for r in refs], _sentence_joined(prediction))
        per_example.append(
            {t: {m: float(getattr(scores[t], m)) for m in MEASURES} for t in ROUGE_TYPES}
        )

    # matrix[i, j]: example i, column j = (rouge type, measure) flattened.
    matrix = np.array([[ex[t][m] for t in ROUGE_TYPES for m in MEASURES] for ex in per_example])
    n = len(per_example)
    indices = np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))
    # One column at a time keeps memory at n_bootstrap * n floats.
    boot_means = np.stack([matrix[indices, j].mean(axis=1) for j in range(matrix.shape[1])])
    tail = 100 * (1 - confidence) / 2
    means = matrix.mean(axis=0)
    lows = np.percentile(boot_means, tail, axis=1)
    highs = np.percentile(boot_means, 100 - tail, axis=1)

    aggregate: dict[str, dict[str, dict[str, float]]] = {t: {} for t in ROUGE_TYPES}
    for j, (t, m) in enumerate((t, m) for t in ROUGE_TYPES for m in MEASURES):
        aggregate[t][m] = {"mean": float(means[j]), "low": float(lows[j]), "high": float(highs[j])}

    n_references_max = max(len(refs) for refs in references)
    warnings = [
        w
        for w in (
            non_ascii_warning([r for refs in references for r in refs], label="references"),
            non_ascii_warning(predictions, label="predictions"),
        )
        if w
    ]
    return RougeResult(
        per_example=per_example,
        aggregate=aggregate,
        n_examples=n,
        n_references_max=n_references_max,
        multi_reference=n_references_max > 1,
        bootstrap={
            "method": "percentile",
            "n_resamples": n_bootstrap,
            "confidence": confidence,
            "seed": seed,
        },
        warnings=warnings,
    )


def dropped_text_fraction(text: str) -> float:
    """Fraction of the letters/digits in `text` that rouge_score's tokenizer drops.

    rouge_score keeps only [a-z0-9] after lowercasing, so every non-ASCII letter or digit is
    lost. Punctuation and whitespace are not counted. A text without letters/digits gives 0.
    """
    alnum = [c for c in text if c.isalnum()]
    if not alnum:
        return 0.0
    return sum(not c.isascii() for c in alnum) / len(alnum)


def scorable(text: str) -> bool:
    """Whether rouge_score's tokenizer keeps any token of `text` (emoji, CJK, Cyrillic alone: none)."""
    return bool(tokenize.tokenize(text, None))


def non_ascii_warning(
    documents_or_refs: list[str], threshold: float = 0.5, *, label: str = "texts"
) -> str | None:
    """A one-line warning if some texts lose more than `threshold` of their letters (or every token) to ROUGE;
    when none of them keeps a token, it says plainly that ROUGE cannot score them."""
    if documents_or_refs and not any(scorable(t) for t in documents_or_refs):
        return (
            f"ROUGE cannot score these {label}: none of the {len(documents_or_refs)} has an ASCII letter or digit, the only "
            "characters rouge_score's tokenizer keeps, so every ROUGE score of them is 0 whatever the summaries say"
        )
    lossy = sum(not scorable(t) or dropped_text_fraction(t) > threshold for t in documents_or_refs)
    if not lossy:
        return None
    return (
        f"{lossy} of {len(documents_or_refs)} {label} lose more than {threshold:.0%} of their "
        "letters/digits (or all of them) to rouge_score's ASCII-only tokenizer; ROUGE is not meaningful for them"
    )


def lead_k(document: str, k: int) -> str:
    """The first `k` sentences of `document` (see sentences.line_sentences), one per line."""
    if k < 1:
        raise S2SAError(f"lead-k needs k >= 1, got {k}")
    return "\n".join(line_sentences(document)[:k])


def choose_lead_k(references: list[list[str]]) -> int:
    """k for the lead-k baseline: the mean sentence count of the references, rounded.

    Only the first reference of each example is counted, so that examples with more
    references do not weigh more; Python's round() (half to even) is used and k is at least 1.
    """
    if not references or any(not refs for refs in references):
        raise S2SAError("choosing k for lead-k needs at least one reference per example")
    return max(1, round(float(np.mean([len(line_sentences(refs[0])) for refs in references]))))


def mean_words(texts: list[str]) -> float:
    """Mean number of whitespace-separated words per text (0 for no texts)."""
    return float(np.mean([len(t.split()) for t in texts])) if texts else 0.0


def paired_bootstrap(
    a: np.ndarray, b: np.ndarray, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, float]:
    """Paired bootstrap of mean(a) - mean(b) over the same examples (a[i], b[i] score example i).

    Resamples examples with replacement, keeping each example's pair together: the spread of the
    difference is much narrower than two separate CIs suggest when both systems find the same examples
    hard. Returns the observed difference, its percentile CI, the share of resamples in which a > b, and
    the share of examples that score the same (1.0: identical scores, where "a better in 0%" says nothing)."""
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise S2SAError("a paired bootstrap needs two non-empty score lists over the same examples")
    difference = a - b
    indices = np.random.default_rng(seed).integers(0, len(a), size=(n_resamples, len(a)))
    means = difference[indices].mean(axis=1)
    tail = 100 * (1 - confidence) / 2
    return {
        "difference": float(difference.mean()),
        "low": float(np.percentile(means, tail)),
        "high": float(np.percentile(means, 100 - tail)),
        "a_wins": float((means > 0).mean()),
        "same": float((difference == 0).mean()),
    }
