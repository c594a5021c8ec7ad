"""The one output-folder guard, atomic writes and JSON reads, a full disk named as one line."""

from __future__ import annotations

import pytest

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.core.files import check_output_dir


def test_the_guard_names_a_symbolic_link_that_leads_nowhere(tmp_path):
    """A link loop (or a broken link) on the way to an output folder used to pass the guard and fail in mkdir."""
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "gone").symlink_to(tmp_path / "missing")
    for path in (tmp_path / "a" / "run", tmp_path / "b", tmp_path / "gone" / "x" / "y"):
        with pytest.raises(S2SAError, match="is a symbolic link that leads nowhere"):
            check_output_dir(path, overwrite=True)
