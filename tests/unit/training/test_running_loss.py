"""The Trainer's loss bookkeeping stored in a checkpoint's trainer_state.json and read back on resume, so the
logged losses and train_loss are an uninterrupted run's."""

from __future__ import annotations

from transformers import TrainerState

from seq2seq_adapters.training.running_loss import KEY, LossBook


def test_the_book_travels_in_trainer_state_json(tmp_path):
    state = TrainerState(global_step=5)
    book = LossBook(logged_total=12.5, since_log=3.25, last_logged_step=4)
    book.save(state)
    state.save_to_json(str(tmp_path / "trainer_state.json"))
    loaded = TrainerState.load_from_json(str(tmp_path / "trainer_state.json"))
    assert loaded.stateful_callbacks[KEY] == {"logged_total": 12.5, "since_log": 3.25, "last_logged_step": 4}
    assert LossBook.saved(loaded) == book


def test_a_checkpoint_from_before_the_book_has_none():
    assert LossBook.saved(TrainerState(global_step=5)) is None


def test_train_loss_is_the_mean_loss_per_step_of_the_whole_run():
    """As the Trainer computes it at the end: every logged interval plus the steps since the last log."""
    assert LossBook(logged_total=12.0, since_log=3.0, last_logged_step=4).train_loss(5) == 3.0
    assert LossBook(logged_total=0.0, since_log=0.0, last_logged_step=0).train_loss(0) == 0.0  # no step: no division by zero
