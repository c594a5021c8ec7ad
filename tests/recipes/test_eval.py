"""`s2sa eval`, `s2sa summarize` and `s2sa eval --compare` on tiny BERT runs trained for two steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from tiny import VARIED_DOCUMENTS, WORDS, read_jsonl, tiny_run_config, train_tiny
from typer.testing import CliRunner

from seq2seq_adapters.cli import app
from seq2seq_adapters.config.schema import GenerationArgs
from seq2seq_adapters.evaluation.evaluate_run import evaluate_run
from seq2seq_adapters.generation.decoding import generate_summaries, generation_kwargs, length_sorted_batches, pad_batch
from seq2seq_adapters.generation.loading import load_source
from seq2seq_adapters.generation.surface_text import decode_summaries

runner = CliRunner()


def make_run(tiny_bert: Path, data: Path, output_dir: Path, adapter_config: str, seed: int) -> Path:
    """Train a tiny BERT2BERT adapter for two steps; the run's validation report is written at the end."""
    config = tiny_run_config(
        tiny_bert, data, output_dir,
        # the tiny checkpoint's dropout (hidden_dropout None): with it these two-step runs write summaries that differ by document
        model={"adapter_config": adapter_config, "leave_out": None, "hidden_dropout": None},
        data={"max_eval_samples": 6}, train={"seed": seed},
        generation={"num_beams": 2, "max_new_tokens": 8, "min_new_tokens": 2, "batch_size": 4},
    )  # fmt: skip
    return train_tiny(config).output_dir


@pytest.fixture(scope="module")
def runs(tiny_bert, dialog_jsonl, tmp_path_factory) -> tuple[Path, Path]:
    """Two runs on the same data: a seq_bn adapter and a LoRA adapter."""
    root = tmp_path_factory.mktemp("runs")
    return (
        make_run(tiny_bert, dialog_jsonl, root / "run-a", "seq_bn", seed=1),
        make_run(tiny_bert, dialog_jsonl, root / "run-b", "lora", seed=2),
    )


@pytest.fixture(scope="module")
def varied_jsonl(tmp_path_factory) -> Path:
    """Ten examples whose documents range from 2 to ~60 tokens, shuffled, with their own ids."""
    rows = [{"id": f"ex-{i}", "document": text, "summary": " ".join(text.split()[:4])} for i, text in enumerate(VARIED_DOCUMENTS)]
    path = tmp_path_factory.mktemp("varied") / "varied.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_eval_keeps_input_order_and_ids(runs, varied_jsonl, tmp_path, monkeypatch):
    """Batches run longest first; the written records still follow the data file, with its ids.

    generate() is replaced by an echo of its (truncated) input, so each prediction must be its own document.
    """
    source, summarizer = load_source(runs[0])
    monkeypatch.setattr("seq2seq_adapters.evaluation.evaluate_run.load_model", lambda *a, **k: summarizer)
    monkeypatch.setattr(summarizer.model, "generate", lambda input_ids, **kwargs: input_ids)
    outcome = evaluate_run(runs[0], data=str(varied_jsonl), output_dir=tmp_path, generation={"batch_size": 3})
    rows = read_jsonl(varied_jsonl)
    records = read_jsonl(outcome.output_dir / "predictions_test.jsonl")
    assert [r["id"] for r in records] == [row["id"] for row in rows]
    assert [r["document"] for r in records] == [row["document"] for row in rows]
    tokenizer = summarizer.tokenizer
    for record in records:
        ids = tokenizer(record["document"], truncation=True, max_length=source.info.max_source_length)["input_ids"]
        assert record["prediction"] == tokenizer.decode(ids, skip_special_tokens=True).strip()
        assert set(record["rouge"]) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}
    lengths = [len(r["document"].split()) for r in records]
    assert sorted(lengths, reverse=True) != lengths  # the input really was out of length order
    report = json.loads((tmp_path / "rouge_test.json").read_text())
    assert set(report["systems"]) == {"model", "lead-1"}
    assert report["run"]["name"] == "run-a" and report["data"]["examples"] == 10


def test_generation_matches_stock_generate(runs, varied_jsonl):
    """The beam-search cache that skips reordering cross-attention gives exactly stock generate()'s output."""
    _, summarizer = load_source(runs[1])
    model, tokenizer = summarizer.model, summarizer.tokenizer
    documents = [row["document"] for row in read_jsonl(varied_jsonl)]
    gen = GenerationArgs(num_beams=3, max_new_tokens=8, min_new_tokens=2, no_repeat_ngram_size=2, batch_size=4)
    fast = generate_summaries(model, tokenizer, documents, gen, 64)
    encoded = tokenizer(documents, truncation=True, max_length=64, return_token_type_ids=False)["input_ids"]
    stock = [""] * len(documents)
    with torch.inference_mode():
        for batch in length_sorted_batches([len(ids) for ids in encoded], gen.batch_size):
            input_ids, attention_mask = pad_batch([encoded[i] for i in batch], tokenizer.pad_token_id)
            output = model.generate(
                input_ids=input_ids, attention_mask=attention_mask, generation_config=model.generation_config, **generation_kwargs(gen)
            )
            for i, text in zip(batch, decode_summaries(tokenizer, output, [documents[i] for i in batch])):
                stock[i] = text
    assert fast == stock
    assert len(set(fast)) > 1  # the summaries depend on the documents: the comparison is not vacuous


def test_eval_reproduces_the_runs_validation_predictions(runs):
    """Without --data the run's own data and carving are reused: the same examples, the same summaries."""
    result = runner.invoke(app, ["eval", str(runs[0]), "--split", "validation", "--max-samples", "6"])
    assert result.exit_code == 0, result.output
    trained = read_jsonl(runs[0] / "predictions_validation.jsonl")
    evaluated = read_jsonl(runs[0] / "eval-validation" / "predictions_validation.jsonl")
    assert [r["id"] for r in evaluated] == [r["id"] for r in trained]
    assert [r["prediction"] for r in evaluated] == [r["prediction"] for r in trained]
    report = json.loads((runs[0] / "eval-validation" / "rouge_validation.json").read_text())
    run_record = json.loads((runs[0] / "run.json").read_text())
    assert report["rouge_validation_at_training"] == run_record["rouge_validation"]
    markdown = (runs[0] / "eval-validation" / "rouge_validation.md").read_text()
    assert "Validation F1 x100 at the end of training" in markdown
    assert "avg_words_prediction" in markdown and "avg_words_reference" in markdown
    assert "ROUGE on validation" in result.output  # the Rich table


def test_eval_flags_override_the_stored_generation_settings(runs, dialog_jsonl, tmp_path):
    result = runner.invoke(
        app, ["eval", str(runs[0]), "--data", str(dialog_jsonl), "--max-samples", "3", "--num-beams", "1", "--max-new-tokens", "3",
              "--output-dir", str(tmp_path)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "rouge_test.json").read_text())
    assert report["generation"]["num_beams"] == 1 and report["generation"]["max_new_tokens"] == 3
    assert report["generation"]["batch_size"] == 4  # not given: the run's
    speed = report["throughput"]  # issue 17: eval reports how fast it generated
    assert speed["summaries_per_s"] == pytest.approx(3 / speed["generation_seconds"], rel=0.02)
    assert speed["tokens_per_s"] == pytest.approx(speed["summary_tokens"] / speed["generation_seconds"], rel=0.02)
    assert speed["summary_tokens"] > 0 and "summaries/s" in result.output
    records = read_jsonl(tmp_path / "predictions_test.jsonl")
    assert [r["id"] for r in records] == ["d0", "d1", "d2"]  # a lone file is scored whole, in file order


def test_eval_refuses_to_replace_another_runs_report(runs, dialog_jsonl, tmp_path):
    args = ["--data", str(dialog_jsonl), "--max-samples", "2", "--max-new-tokens", "2", "--output-dir", str(tmp_path)]
    assert runner.invoke(app, ["eval", str(runs[0]), *args]).exit_code == 0
    assert runner.invoke(app, ["eval", str(runs[0]), *args]).exit_code == 0  # the same weights again: fine
    result = runner.invoke(app, ["eval", str(runs[1]), *args])
    assert result.exit_code == 1
    assert "already holds rouge_test.json" in result.output and "--overwrite" in result.output
    assert runner.invoke(app, ["eval", str(runs[1]), *args, "--overwrite"]).exit_code == 0


def test_compare_renders_both_runs(runs, dialog_jsonl, tmp_path):
    for run in runs:  # the same examples for both (each run carved its own validation split from its seed)
        result = runner.invoke(app, ["eval", str(run), "--data", str(dialog_jsonl), "--split", "validation", "--max-samples", "6"])
        assert result.exit_code == 0, result.output
    markdown = tmp_path / "compare.md"
    plot = tmp_path / "curves.png"
    result = runner.invoke(app, ["eval", "--compare", str(runs[0]), str(runs[1]), "--split", "validation", "--markdown", str(markdown), "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "run-a" in result.stdout and "run-b" in result.stdout
    text = markdown.read_text()
    assert "| run-a | model | validation | 6 |" in text and "| run-b | model | validation | 6 |" in text
    assert "| run-a | lead-" in text
    assert "## Paired bootstrap over the shared examples" in text and "| run-a - run-b |" in text


def test_compare_refuses_runs_scored_on_different_examples(runs, tmp_path):
    for run, n in zip(runs, (6, 4)):
        result = runner.invoke(app, ["eval", str(run), "--split", "validation", "--max-samples", str(n), "--output-dir", str(tmp_path / run.name)])
        assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["eval", "--compare", str(tmp_path / runs[0].name), str(tmp_path / runs[1].name), "--split", "validation"])
    assert result.exit_code == 1 and result.output.count("error:") == 1
    assert "were scored on different examples" in result.output


def test_summarize_from_stdin(runs):
    result = runner.invoke(app, ["summarize", str(runs[0])], input="#Person1#: Hi, a table for two please.\n#Person2#: Sure.\n")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1 and result.stdout.strip()


def test_summarize_jsonl_stdin_and_files(runs, tmp_path):
    lines = "".join(json.dumps({"fname": f"f{i}", "dialogue": f"#Person1#: I need {i} tickets."}) + "\n" for i in range(3))
    result = runner.invoke(app, ["summarize", str(runs[0]), "--jsonl", "--max-new-tokens", "4"], input=lines)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 3
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("A short document.")
    second.write_text("Another document\nwith two lines.")
    output = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["summarize", str(runs[0]), str(first), str(second), "--output", str(output)])
    assert result.exit_code == 0, result.output
    assert [(r["id"], r["source"]) for r in read_jsonl(output)] == [("0", str(first)), ("1", str(second))]


def test_eval_errors_on_data(runs, dialog_jsonl, tmp_path):
    result = runner.invoke(app, ["eval", str(runs[0]), "--data", str(dialog_jsonl.parent)])
    assert result.exit_code == 1 and "no split files" in result.stderr
    result = runner.invoke(app, ["eval", str(runs[0]), "--split", "test"])  # the run's data: train + carved validation
    assert result.exit_code == 1 and "no test split" in result.stderr and result.stderr.count("\n") == 1
    exported = tmp_path / "exported"
    shutil.copytree(runs[0] / "adapter", exported)  # an adapter folder without its run: no training data recorded
    result = runner.invoke(app, ["eval", str(exported)])
    assert result.exit_code == 1 and "pass --data" in result.stderr
    result = runner.invoke(app, ["eval", str(runs[0]), "--num-beams", "0"])
    assert result.exit_code == 1 and "--num-beams must be at least 1" in result.stderr


def test_reports_say_when_the_tokenizer_is_uncased(runs):
    """The tiny BERT carries MiniLM's uncased tokenizer: the report says why summaries are lowercase."""
    from seq2seq_adapters.generation.surface_text import UNCASED_NOTE

    assert UNCASED_NOTE in (runs[0] / "rouge_validation.md").read_text()


def test_long_documents_are_counted_and_chunked_on_request(runs, tmp_path):
    """The run keeps 64 source tokens: a 210-word document is cut, and said to be; chunk mode summarises it whole."""
    long_document = tmp_path / "long.txt"
    long_document.write_text(" ".join(WORDS * 10))
    short = tmp_path / "short.txt"
    short.write_text("A short document.")
    for mode, how in (("truncate", "cut (--long-documents chunk"), ("chunk", "summarised in overlapping windows")):
        result = runner.invoke(app, ["summarize", str(runs[0]), str(long_document), str(short), "--long-documents", mode])
        assert result.exit_code == 0, result.output
        assert len(result.stdout.splitlines()) == 2
        assert "1 of 2 documents exceed the 64-token source limit (longest 212 tokens; 148 tokens cut in all)" in result.output
        assert how in result.output
    result = runner.invoke(app, ["summarize", str(runs[0]), str(short), "--long-documents", "split"])
    assert result.exit_code == 1 and result.output.count("error:") == 1
    assert "--long-documents must be truncate or chunk, got 'split'" in result.output


def test_eval_and_train_report_documents_over_the_source_limit(runs):
    """run.json counts the training documents the source limit cuts; the validation report its own."""
    from seq2seq_adapters.generation.loading import load_source
    from seq2seq_adapters.generation.long_documents import measure_overflow

    record = json.loads((runs[0] / "run.json").read_text())
    report = json.loads((runs[0] / "rouge_validation.json").read_text())
    _, summarizer = load_source(runs[0])
    documents = [row["document"] for row in read_jsonl(runs[0] / "predictions_validation.jsonl")]
    assert report["source_overflow"] == measure_overflow(summarizer.tokenizer, documents, 64).to_dict()
    assert record["train_source_overflow"]["limit"] == 64 and record["train_source_overflow"]["documents"] > 0
    assert "Source documents:" in (runs[0] / "rouge_validation.md").read_text()
