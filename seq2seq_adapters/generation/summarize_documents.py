"""`s2sa summarize`: read documents from files or stdin and summarise them with a run's weights."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import atomic_write_text, wrong_kind
from seq2seq_adapters.data.columns import ID_CANDIDATES, TEXT_CANDIDATES
from seq2seq_adapters.data.sources import parse_jsonl_object
from seq2seq_adapters.generation.long_documents import check_long_documents
from seq2seq_adapters.generation.summarizer import Summarizer


@dataclass
class Document:
    """A document to summarise, with an id and where it came from."""

    id: str
    text: str
    origin: str


def _cell_text(value: Any) -> str | None:
    """A string, or a list of strings joined by newlines (like data.py); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return "\n".join(value)
    return None


def jsonl_documents(lines: Iterable[str], origin: str, text_column: str | None = None) -> list[Document]:
    """Documents from JSON lines: the `text_column` (or the first of data.py's text candidates) of each object.

    The id is the row's own id field (data.py's id candidates) or "" (read_documents then numbers it).
    """
    documents = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{origin} line {number}"
        row = parse_jsonl_object(line, where)
        column = text_column or next((c for c in TEXT_CANDIDATES if c in row), None)
        if column is None or column not in row:
            looked = f"'{text_column}'" if text_column else ", ".join(TEXT_CANDIDATES)
            raise S2SAError(f"{where}: no text column ({looked}); columns there: {', '.join(row)}; pass --text-column")
        text = _cell_text(row[column])
        if text is None:
            raise S2SAError(f"{where}: column '{column}' is not text")
        row_id = next((row[c] for c in ID_CANDIDATES if c in row and row[c] is not None), None)
        documents.append(Document("" if row_id is None else str(row_id), text, where))
    return documents


def read_documents(
    files: Sequence[str | Path], stdin: TextIO | None = None, *, jsonl: bool = False, text_column: str | None = None
) -> list[Document]:
    """Documents from files (a .jsonl file: one per line; any other file: the whole file) or from stdin.

    Without files, all of stdin is one document, or one per line with `jsonl`. `-` names stdin among files.
    """
    stdin = stdin if stdin is not None else sys.stdin
    documents: list[Document] = []
    for name in files or ["-"]:
        if str(name) == "-":
            text, origin, as_jsonl = stdin.read(), "<stdin>", jsonl
        else:
            if not str(name).strip():
                raise S2SAError("an input file name is empty; name a file, or - for stdin")
            path = Path(name)
            if problem := wrong_kind(path, want_folder=False):
                raise S2SAError(f"input file {path} {problem}")
            if not path.is_file():
                raise S2SAError(f"input file not found: {path}")
            try:
                text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is not text (train reads such files too)
            except UnicodeDecodeError:
                raise S2SAError(f"{path} is not UTF-8 text") from None
            origin, as_jsonl = str(path), jsonl or path.suffix == ".jsonl"
        if as_jsonl:
            documents += jsonl_documents(text.splitlines(), origin, text_column)
        else:
            documents.append(Document("", text, origin))
    for index, document in enumerate(documents):
        document.id = document.id or str(index)
        if not document.text.strip():
            raise S2SAError(f"{document.origin}: the document is empty")
    return documents


def summarize_documents(
    path: str | Path,
    documents: Sequence[Document],
    *,
    encoder: str | None = None,
    decoder: str | None = None,
    generation: dict[str, Any] | None = None,
    long_documents: str = "truncate",
    console: Console | None = None,
    trust_remote_code: bool = False,
) -> list[str]:
    """Summaries of `documents`, in their order, with the weights' stored decoding settings (or overrides).

    Documents over the source limit are counted on the console; `long_documents="chunk"` summarises them
    window by window (long_documents.py) instead of cutting them."""
    console = console or Console(stderr=True)
    check_long_documents(long_documents)
    if not documents:
        raise S2SAError("no documents to summarise")
    summarizer = Summarizer.load(path, encoder=encoder, decoder=decoder, trust_remote_code=trust_remote_code, **(generation or {}))
    from seq2seq_adapters.core.progress import tracked
    from seq2seq_adapters.generation.long_documents import measure_overflow

    texts = [document.text for document in documents]
    overflow = measure_overflow(summarizer.tokenizer, texts, summarizer.max_source_length)
    if overflow.over_limit:
        how = "summarised in overlapping windows" if long_documents == "chunk" else "cut (--long-documents chunk summarises them whole)"
        console.print(f"[yellow]note:[/] {overflow.describe(cut=False)}: {how}", highlight=False, soft_wrap=True)
    with tracked(console, "summarizing", len(texts)) as advance:
        return summarizer.summarize(texts, long_documents=long_documents, on_batch=advance)


def write_summaries(documents: Sequence[Document], summaries: Sequence[str], output: str | Path | None, stdout: TextIO | None = None) -> None:
    """One summary per line on stdout, or JSON lines ({id, source, summary}) into `output`."""
    if output is None:
        stream = stdout if stdout is not None else sys.stdout
        for summary in summaries:
            stream.write(" ".join(summary.split()) + "\n")
        stream.flush()
        return
    records = [
        json.dumps({"id": d.id, "source": d.origin, "summary": s}, ensure_ascii=False) for d, s in zip(documents, summaries)
    ]
    atomic_write_text(Path(output), "\n".join(records) + "\n")
