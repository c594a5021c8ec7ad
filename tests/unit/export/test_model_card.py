"""The exported folder's README.md: its Hub header's licence id."""

from __future__ import annotations

from seq2seq_adapters.export.model_card import license_id


def test_license_ids():
    assert license_id("MIT (ACLSum)") == "mit"
    assert license_id("cc-by-nc-sa-4.0") == "cc-by-nc-sa-4.0"
    assert license_id("see /data/LICENSE") == "other"
    assert license_id(None) == "unknown"
