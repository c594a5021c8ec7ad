"""Rules of particular values that several layers apply: marker tags and `marker_tokens`' auto/none."""

from __future__ import annotations

import pytest
from tiny import MARKERS

from seq2seq_adapters.config.fields import flag_name
from seq2seq_adapters.config.schema import ModelArgs
from seq2seq_adapters.config.value_rules import MAX_DURATION_S, parse_duration, parse_marker_tokens
from seq2seq_adapters.core.errors import S2SAError


def test_setting_accepts_auto_none_or_a_list_of_markers():
    assert parse_marker_tokens("auto") == "auto"
    assert parse_marker_tokens(" ") == parse_marker_tokens("none") == "none"
    assert ModelArgs().markers == []
    assert parse_marker_tokens("#Person1#, #Person2#,#Person1#") == MARKERS
    with pytest.raises(S2SAError, match=r"'Person1' is not a marker like #Person1#"):
        parse_marker_tokens("Person1")
    assert ModelArgs(marker_tokens=MARKERS).markers == ["#Person1#", "#Person2#"]
    with pytest.raises(S2SAError, match="resolved from training data"):
        ModelArgs(marker_tokens="auto").markers  # noqa: B018
    assert any("--tie-encoder-decoder" in p for p in ModelArgs(marker_tokens="auto", tie_encoder_decoder=True).problems(flag_name))


def test_a_duration_is_at_most_a_year():
    """400 digits of seconds read as an infinite float, which the time budget's arithmetic turned into an
    OverflowError mid-training."""
    assert parse_duration("8784h") == MAX_DURATION_S
    for text in ("8785h", "9" * 400 + "s"):
        with pytest.raises(S2SAError, match="is longer than a year"):
            parse_duration(text)
