"""The model card names the metric that chose the best checkpoint (a run kept by ROUGE-L said 'validation loss')."""

from __future__ import annotations

import pytest

from seq2seq_adapters.export.model_card import RunRecord, best_metric_name


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
