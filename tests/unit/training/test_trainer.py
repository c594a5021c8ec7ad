"""The settings (TrainArgs) mapped onto the Trainer's arguments: evaluation and the best checkpoint only with a
validation split, checkpoints when asked or at evaluations, the pass-throughs, the run folder's paths."""

from __future__ import annotations

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.training.trainer import training_arguments


def arguments(tmp_path, has_validation: bool = True, **train):
    return training_arguments(RunConfig.from_dict({"train": train}), tmp_path / "run", has_validation=has_validation)


def test_evaluations_choose_the_best_checkpoint_by_the_metric_asked_for(tmp_path):
    args = arguments(tmp_path, eval_steps=4, metric_for_best="rougeL")
    assert (args.eval_strategy, args.eval_steps, args.save_strategy, args.save_steps) == ("steps", 4, "steps", 4)
    assert args.load_best_model_at_end and args.metric_for_best_model == "eval_rougeL"
    assert arguments(tmp_path, eval_steps=4, save_steps=8).save_steps == 8  # a multiple of the evaluations
    watched = arguments(tmp_path, eval_steps=4, keep_best_checkpoint=False)  # evaluated, but adapter/ is the last step's
    assert watched.eval_strategy == "steps" and not watched.load_best_model_at_end


def test_without_a_validation_split_nothing_is_evaluated(tmp_path):
    args = arguments(tmp_path, has_validation=False, eval_steps=4)
    assert args.eval_strategy == "no" and not args.load_best_model_at_end and args.metric_for_best_model is None
    assert args.save_strategy == "epoch"
    assert (arguments(tmp_path, save_steps=3).save_strategy, arguments(tmp_path, save_steps=3).save_steps) == ("steps", 3)


def test_settings_pass_through_and_the_paths_are_the_run_folders(tmp_path):
    args = arguments(tmp_path, batch_size=6, grad_accum=2, learning_rate=2e-3, max_steps=9, seed=11, lr_scheduler="cosine",
                     optim="adafactor", label_smoothing=0.1, gradient_checkpointing=True, report_to="tensorboard",
                     group_by_length=False, save_total_limit=3, logging_steps=3)
    assert (args.per_device_train_batch_size, args.per_device_eval_batch_size, args.gradient_accumulation_steps) == (6, 6, 2)
    assert (args.learning_rate, args.max_steps, args.seed, args.data_seed) == (2e-3, 9, 11, 11)  # data order seeded too
    assert (args.lr_scheduler_type, args.optim, args.label_smoothing_factor) == ("cosine", "adafactor", 0.1)
    assert args.gradient_checkpointing and args.gradient_checkpointing_kwargs == {"use_reentrant": False}  # adapters get gradients
    assert (args.report_to, args.group_by_length, args.save_total_limit, args.logging_steps) == (["tensorboard"], False, 3, 3)
    assert args.output_dir == str(tmp_path / "run" / "checkpoints") and args.logging_dir.startswith(str(tmp_path / "run"))
    assert arguments(tmp_path).report_to == [] and arguments(tmp_path).gradient_checkpointing_kwargs is None
    assert arguments(tmp_path).save_safetensors and arguments(tmp_path).disable_tqdm
