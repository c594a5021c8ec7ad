"""eval --compare pairs each example's two scores: by position when both predictions files list the same ids
in the same order (repeated ids too), by id when ids are unique; other cases are refused in one line."""

from __future__ import annotations

import json

import pytest

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.evaluation.compare import paired_comparisons


def report(folder, ids, rouge1):
    folder.mkdir()
    (folder / "rouge_test.json").write_text("{}")
    rows = [{"id": i, "rouge": {kind: value for kind in ("rouge1", "rouge2", "rougeL", "rougeLsum")}} for i, value in zip(ids, rouge1)]
    (folder / "predictions_test.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return folder


def test_repeated_ids_are_paired_by_position_not_collapsed(tmp_path):
    a = report(tmp_path / "a", ["same"] * 20, [0.1 * (k % 3) for k in range(20)])
    b = report(tmp_path / "b", ["same"] * 20, [0.05 * (k % 5) for k in range(20)])
    result = paired_comparisons([a, b], ["a", "b"], "test")["a - b"]["rouge1"]
    expected = sum(100 * (0.1 * (k % 3) - 0.05 * (k % 5)) for k in range(20)) / 20
    assert result["difference"] == pytest.approx(expected)
    assert result["low"] < result["difference"] < result["high"]  # 20 examples vary: not one collapsed pair


def test_unique_ids_in_another_order_are_paired_by_id(tmp_path):
    a = report(tmp_path / "a", ["x", "y"], [0.4, 0.2])
    b = report(tmp_path / "b", ["y", "x"], [0.1, 0.3])
    assert paired_comparisons([a, b], ["a", "b"], "test")["a - b"]["rouge1"]["difference"] == pytest.approx(10.0)


def test_repeated_ids_in_another_order_are_refused(tmp_path):
    a = report(tmp_path / "a", ["x", "x", "y"], [0.4, 0.2, 0.1])
    b = report(tmp_path / "b", ["x", "y", "x"], [0.1, 0.3, 0.2])
    with pytest.raises(S2SAError, match="in another order, with repeated ids"):
        paired_comparisons([a, b], ["a", "b"], "test")
