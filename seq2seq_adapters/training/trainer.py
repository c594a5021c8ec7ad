"""The Trainer `s2sa train` runs: transformers' Seq2SeqTrainer with s2sa's checkpoints, loss, sampler and
validation ROUGE, and the mapping of the settings (TrainArgs) onto its arguments.

Kept apart from the recipe (recipe.py), which only builds, runs and records; the Trainer's privates it
changes are reached through transformers_internals.py.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import DataCollatorForSeq2Seq, Seq2SeqTrainingArguments, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, TrainOutput

from seq2seq_adapters.config.schema import RunConfig
from seq2seq_adapters.core.distributed import world_size
from seq2seq_adapters.core.files import atomic_write_json, naming_a_full_disk
from seq2seq_adapters.layout.checkpoint_folder import CHECKPOINT_RECORD, checkpoint_folders, is_complete
from seq2seq_adapters.layout.run_folder import RunDir, adapter_of
from seq2seq_adapters.model.artifact_io import ArtifactInfo, load_trained_weights, save_artifact
from seq2seq_adapters.model.builder import BuiltModel
from seq2seq_adapters.training.checkpointing import discard_checkpoint, mark_complete, rotate_checkpoints
from seq2seq_adapters.training.length_grouped_sampler import EpochSeededLengthGroupedSampler
from seq2seq_adapters.training.loss import label_position_loss
from seq2seq_adapters.training.nonfinite_guard import NonFiniteGuard
from seq2seq_adapters.training.resume_request import checkpoint_record
from seq2seq_adapters.training.running_loss import LossBook
from seq2seq_adapters.training.transformers_internals import Seq2SeqTrainerHooks
from seq2seq_adapters.training.validation_rouge import ValidationRouge


class SummarizationTrainer(Seq2SeqTrainerHooks):
    """Seq2SeqTrainer whose checkpoints hold the adapter *and* the non-adapter weights (not the frozen base)."""

    def __init__(self, *args, summarizer: BuiltModel, artifact_info: ArtifactInfo, nonfinite: NonFiniteGuard,
                 validation_rouge: ValidationRouge | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # EncoderDecoderModel averages its loss over local tokens and ignores `num_items_in_batch`; without
        # this the Trainer would multiply loss and gradients by the number of processes.
        self.model_accepts_loss_kwargs = False
        self.summarizer = summarizer
        self.artifact_info = artifact_info
        self.nonfinite = nonfinite
        self.add_callback(nonfinite)
        self.loss_since_log: torch.Tensor | None = None
        """The training loop's loss summed since the last log, for the loss book of a checkpoint saved now."""
        self.restore_loss_book = False
        """Whether the next finite step hands back the loss book of the checkpoint a resume started from."""
        self.validation_rouge = validation_rouge
        self.checkpoint_record: dict = {}
        """What each checkpoint records for `--resume` to compare (resume_request.checkpoint_record)."""

    def train(self, resume_from_checkpoint: str | None = None, *args, **kwargs) -> TrainOutput:
        """The Trainer's train; a resumed one restores the checkpoint's loss book at its first step."""
        self.restore_loss_book = resume_from_checkpoint is not None
        return super().train(resume_from_checkpoint, *args, **kwargs)

    def evaluation_loop(self, *args, metric_key_prefix: str = "eval", **kwargs):
        """Validation loss, plus ROUGE on the fixed validation subset: logged, and eligible as metric_for_best_model."""
        output = super().evaluation_loop(*args, metric_key_prefix=metric_key_prefix, **kwargs)
        if self.validation_rouge is not None:
            rouge = self.validation_rouge(self.summarizer)
            output.metrics.update({f"{metric_key_prefix}_{kind}": value for kind, value in rouge.items()})
        return output

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """The model's own loss, computed without vocabulary logits for padded summary positions (see loss.py)."""
        loss, outputs = label_position_loss(model, inputs, self.summarizer.model, self.args.label_smoothing_factor)
        return (loss, outputs) if return_outputs else loss

    def training_step(self, model, inputs, num_items_in_batch=None):
        """The Trainer's step; the non-finite guard sees its loss. The first step after a resume also hands
        back the checkpoint's loss book (running_loss.py): the Trainer adds what this returns to its running
        sum, which it started at zero, so that sum and the logged losses come out as in an uninterrupted run."""
        loss = super().training_step(model, inputs, num_items_in_batch)
        self.nonfinite.observe_loss(loss)
        if self.restore_loss_book and torch.isfinite(loss):
            self.restore_loss_book = False
            book = LossBook.saved(self.state)
            if book is not None:
                self.set_logged_loss(book.logged_total, book.last_logged_step)
                return loss + book.since_log
        return loss

    def log_save_evaluate(self, tr_loss, *args, **kwargs):
        """Keep the loop's running sum, for the loss book of a checkpoint saved now."""
        self.loss_since_log = tr_loss
        return super().log_save_evaluate(tr_loss, *args, **kwargs)

    def save_weights(self, output_dir: str | None = None, state_dict=None) -> None:
        """The adapter folder (adapter + non-adapter weights), not the whole model."""
        save_artifact(adapter_of(Path(output_dir or self.args.output_dir)), self.summarizer, self.artifact_info)

    def save_checkpoint(self, model, trial) -> None:
        """Write checkpoint-N, then its COMPLETE marker, and only then drop older checkpoints; a write that
        fails (a full disk) removes the partial folder."""
        run_dir = self.checkpoints_dir(trial)
        folder = run_dir / f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        self.nonfinite.check_weights(self.model, self.state.global_step)
        since_log = self.gather(self.loss_since_log).mean().item() if self.loss_since_log is not None else 0.0
        logged_total, last_logged_step = self.logged_loss()
        LossBook(logged_total, since_log, last_logged_step).save(self.state)
        if self.args.should_save and folder.is_dir():
            discard_checkpoint(folder)  # a stale or half-written folder of the same step: start clean
        with naming_a_full_disk(folder, "; the partial checkpoint was removed"):
            try:
                super().save_checkpoint(model, trial)
                if self.args.should_save:
                    atomic_write_json(folder / CHECKPOINT_RECORD, self.checkpoint_record)
                    mark_complete(folder)
            except BaseException:
                if self.args.should_save:
                    discard_checkpoint(folder)
                raise
        if self.args.should_save:
            rotate_checkpoints(run_dir, self.args.save_total_limit, self.state.global_step, keep=self.state.best_model_checkpoint)

    def delete_old_checkpoints(self, use_mtime: bool = False, output_dir: str | None = None) -> None:
        """No-op: the Trainer rotates before our COMPLETE marker exists; `save_checkpoint` rotates after it."""

    def sorted_checkpoints(self, output_dir=None, checkpoint_prefix=PREFIX_CHECKPOINT_DIR, use_mtime=False) -> list[str]:
        """Complete checkpoints the Trainer may delete at the end: never the newest (the resume point)."""
        complete = [p for p in checkpoint_folders(Path(output_dir or self.args.output_dir)) if is_complete(p)]
        return [str(p) for p in complete[:-1]]

    def train_sampler(self, train_dataset=None):
        """Length groups sized by the *global* batch, so N processes see the batches one process would."""
        if not self.args.group_by_length:
            return super().train_sampler(train_dataset)
        global_batch = self.args.train_batch_size * self.args.gradient_accumulation_steps * self.args.world_size
        seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed  # order resumes identically
        return EpochSeededLengthGroupedSampler(
            global_batch, dataset=train_dataset or self.train_dataset, model_input_name="input_ids", seed=seed
        )

    def load_checkpoint_weights(self, resume_from_checkpoint, model=None) -> None:
        """The checkpoint's adapter folder, not a whole model."""
        load_trained_weights(self.summarizer, adapter_of(resume_from_checkpoint), self.artifact_info)

    def load_best_model(self) -> None:
        """The best checkpoint's adapter folder, not a whole model."""
        load_trained_weights(self.summarizer, adapter_of(self.state.best_model_checkpoint), self.artifact_info)


def training_arguments(config: RunConfig, output_dir: Path, has_validation: bool) -> Seq2SeqTrainingArguments:
    """Map our TrainArgs onto the Trainer's arguments (fast defaults: length-grouped, dynamic padding)."""
    t = config.train
    evaluate_by_steps = t.eval_steps is not None and has_validation
    save_strategy = "steps" if t.save_steps or evaluate_by_steps else "epoch"
    return Seq2SeqTrainingArguments(
        output_dir=str(RunDir(output_dir).checkpoints),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        warmup_ratio=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler,
        optim=t.optim,
        label_smoothing_factor=t.label_smoothing,
        gradient_checkpointing=t.gradient_checkpointing,
        # Reentrant checkpointing passes no gradient to adapters inside frozen blocks (their inputs need none).
        gradient_checkpointing_kwargs={"use_reentrant": False} if t.gradient_checkpointing else None,
        weight_decay=t.weight_decay,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        eval_strategy="steps" if evaluate_by_steps else "no",
        eval_steps=t.eval_steps if evaluate_by_steps else None,
        save_strategy=save_strategy,
        save_steps=(t.save_steps or t.eval_steps) if save_strategy == "steps" else 500,
        save_total_limit=t.save_total_limit,
        load_best_model_at_end=evaluate_by_steps and t.keep_best_checkpoint,
        metric_for_best_model=f"eval_{t.metric_for_best}" if evaluate_by_steps else None,
        group_by_length=t.group_by_length,
        bf16=t.bf16,
        fp16=t.fp16,
        use_cpu=not torch.cuda.is_available(),  # on CPU, accelerate sets up DDP (gloo) only when told
        ddp_backend="gloo" if world_size() > 1 and not torch.cuda.is_available() else None,
        report_to=[] if t.report_to == "none" else [t.report_to],
        logging_dir=str(RunDir(output_dir).tensorboard),
        disable_tqdm=True,
        predict_with_generate=False,
        save_safetensors=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
    )


def build_trainer(
    config: RunConfig,
    summarizer: BuiltModel,
    tokenized,
    output_dir: Path,
    info: ArtifactInfo,
    callbacks: list[TrainerCallback],
    validation_rouge: ValidationRouge | None = None,
    data_fingerprint: str | None = None,
) -> SummarizationTrainer:
    """The Trainer `train` runs (also used by scripts/bench_train.py): fast defaults, our checkpoints, each with the
    record `--resume` compares (`data_fingerprint`: the training data's)."""
    has_validation = "validation" in tokenized
    trainer = SummarizationTrainer(
        model=summarizer.model,
        args=training_arguments(config, output_dir, has_validation),
        train_dataset=tokenized["train"],
        eval_dataset=tokenized["validation"] if has_validation else None,
        data_collator=DataCollatorForSeq2Seq(summarizer.tokenizer, label_pad_token_id=-100),
        processing_class=summarizer.tokenizer,
        callbacks=callbacks,
        summarizer=summarizer,
        artifact_info=info,
        nonfinite=NonFiniteGuard(config.train.on_nonfinite, output_dir),
        validation_rouge=validation_rouge,
    )
    trainer.checkpoint_record = checkpoint_record(config.train, data_fingerprint)
    trainer.remove_callback(PrinterCallback)
    return trainer
