"""`s2sa summarize`'s input: documents from files or stdin, their text column and ids detected."""

from __future__ import annotations

import json

from seq2seq_adapters.generation.summarize_documents import read_documents


def test_read_documents_detects_text_column_and_ids(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"paper_id": "p1", "source": ["One.", "Two."]}) + "\n" + json.dumps({"text": "Three."}) + "\n")
    documents = read_documents([str(path)])
    assert [(d.id, d.text) for d in documents] == [("p1", "One.\nTwo."), ("1", "Three.")]
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a byte-order mark, as some editors write: read like train does
    assert [(d.id, d.text) for d in read_documents([str(path)])] == [("p1", "One.\nTwo."), ("1", "Three.")]
