"""The exported folder's README.md: its Hub header's licence id, the metric that chose the best checkpoint."""

from __future__ import annotations

import pytest

from seq2seq_adapters.export.model_card import RunRecord, best_metric_name, license_id


def test_license_ids():
    assert license_id("MIT (ACLSum)") == "mit"
    assert license_id("cc-by-nc-sa-4.0") == "cc-by-nc-sa-4.0"
    assert license_id("see /data/LICENSE") == "other"
    assert license_id(None) == "unknown"


@pytest.mark.parametrize(
    "run, expected",
    [
        ({"best_checkpoint": {"step": 6, "metric": "eval_rougeL", "value": 15.56}}, "ROUGE-L"),
        ({"best_checkpoint": {"step": 6, "metric": "eval_loss", "value": 2.1}}, "loss"),
        ({"config": {"train": {"metric_for_best": "rougeLsum"}}}, "ROUGE-Lsum"),  # a record without best_checkpoint
        ({}, "loss"),
    ],
)
def test_the_card_names_the_metric_that_chose_the_best_checkpoint(run, expected):
    assert best_metric_name(RunRecord(run=run, rouge=None, state={"best_global_step": 6, "best_metric": 15.56})) == expected
