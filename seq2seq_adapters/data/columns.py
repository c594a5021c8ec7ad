"""Choose the text and summary columns (given or detected) and normalize rows to `id`, `document`, `references`."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import datasets
from datasets import Dataset

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.data.sources import RawSplit

TEXT_CANDIDATES = ("document", "article", "dialogue", "text", "source")


SUMMARY_CANDIDATES = ("summary", "highlights", "target", "abstract")


ID_CANDIDATES = ("id", "fname", "paper_id", "doc_id")


_FEATURES = datasets.Features(
    {
        "id": datasets.Value("string"),
        "document": datasets.Value("string"),
        "references": datasets.List(datasets.Value("string")),
        "_bad": datasets.Value("string"),
    }
)


def pick_columns(part: RawSplit, text_column: str | None, summary_column: str | None) -> tuple[str, list[str]]:
    """The text column and the summary column(s), given by name or detected."""
    columns = part.dataset.column_names
    if text_column and text_column not in columns:
        raise S2SAError(f"text column '{text_column}' not found in {part.origin}; columns there: {', '.join(columns)}")
    text = text_column or _detect(columns, TEXT_CANDIDATES, (), "text", part.origin)[0]
    if summary_column:
        summaries = _named_summaries(columns, summary_column, part.origin)
    else:
        summaries = _detect(columns, SUMMARY_CANDIDATES, (text,), "summary", part.origin)
    if text in summaries:
        raise S2SAError(f"column '{text}' cannot be both the text and the summary column")
    return text, summaries


def _numbered(columns: list[str], name: str) -> list[str]:
    """`name1, name2, ...` in numeric order."""
    found = [c for c in columns if re.fullmatch(re.escape(name) + r"\d+", c)]
    return sorted(found, key=lambda c: int(c[len(name) :]))


def _detect(columns: list[str], candidates: tuple[str, ...], taken: tuple[str, ...], kind: str, origin: str) -> list[str]:
    """First candidate present wins; for summaries, numbered columns (summary1..N) come next."""
    free = [c for c in columns if c not in taken]
    for name in candidates:
        if name in free:
            return [name]
    if kind == "summary":
        for name in candidates:
            if numbered := _numbered(free, name):
                return numbered
    raise S2SAError(
        f"no {kind} column found in {origin} (looked for {', '.join(candidates)}); "
        f"columns there: {', '.join(columns)}; pass --{kind}-column"
    )


def _named_summaries(columns: list[str], spec: str, origin: str) -> list[str]:
    """`a,b` names several reference columns; `summary` also matches summary1..N when absent itself."""
    picked = []
    for name in (n.strip() for n in spec.split(",") if n.strip()):
        found = [name] if name in columns else _numbered(columns, name)
        if not found:
            raise S2SAError(f"summary column '{name}' not found in {origin}; columns there: {', '.join(columns)}")
        picked += found
    return picked


def normalize(part: RawSplit, split: str, text: str, summaries: list[str], on_bad_rows: str) -> tuple[Dataset, int]:
    """Map to `id`/`document`/`references`, then drop (or fail on) rows with empty or non-text cells."""
    dataset = part.dataset
    id_column = next((c for c in ID_CANDIDATES if c in dataset.column_names), None)
    convert = partial(_convert_batch, text=text, summaries=summaries, id_column=id_column)
    mapped = dataset.map(convert, batched=True, with_indices=True, remove_columns=dataset.column_names, features=_FEATURES)
    bad = mapped["_bad"][:]  # a plain list, read in one Arrow slice
    bad_rows = [i for i, column in enumerate(bad) if column]
    if bad_rows and on_bad_rows == "fail":
        row = bad_rows[0]
        raise S2SAError(
            f"{split} row {row} ({part.origin}): column '{bad[row]}' is empty or not text; "
            "fix the data or pass --on-bad-rows skip"
        )
    if len(bad_rows) == len(mapped):
        raise S2SAError(f"all {len(mapped)} rows of the {split} split ({part.origin}) have empty or non-text cells")
    if bad_rows:
        bad_set = set(bad_rows)
        mapped = mapped.select([i for i in range(len(mapped)) if i not in bad_set])
    return mapped.remove_columns("_bad"), len(bad_rows)


def _convert_batch(
    batch: dict[str, list[Any]], indices: list[int], text: str, summaries: list[str], id_column: str | None
) -> dict[str, list[Any]]:
    """One batch in the normalized shape; `_bad` names the first unusable column of a row ('' if none)."""
    out: dict[str, list[Any]] = {"id": [], "document": [], "references": [], "_bad": []}
    for position, index in enumerate(indices):
        document = _as_texts(batch[text][position])
        references: list[str] = []
        bad = "" if document else text
        for column in summaries:
            cell = _as_texts(batch[column][position])
            if not cell and not bad:
                bad = column
            references += cell
        row_id = batch[id_column][position] if id_column else None
        out["id"].append(str(index if row_id is None else row_id))
        out["document"].append("\n".join(document))
        out["references"].append(references if not bad else [])
        out["_bad"].append(bad)
    return out


def _as_texts(cell: Any) -> list[str]:
    """A string or list of strings as non-blank stripped strings; [] for anything unusable."""
    items = cell if isinstance(cell, list) else [cell]
    if not all(isinstance(item, str) for item in items):
        return []
    return [item.strip() for item in items if item.strip()]
