"""`s2sa tune`'s own options, refused before Optuna and the training code load."""

from __future__ import annotations

import re

import pytest

from seq2seq_adapters.core.errors import S2SAError
from seq2seq_adapters.tuning.options import check_study_name, check_tune_options

GOOD = {"seed": 0, "trials": 2, "budget": None, "sampler": "tpe", "pruner": "halving"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trials": None}, "give --trials N, --budget DURATION"),
        ({"trials": 0}, "--trials must be at least 1"),
        ({"seed": -1}, "--seed must be in [0, 4294967295]"),
        ({"pruner": "median"}, "--pruner one of halving, hyperband, none"),
        ({"budget": "soon"}, "--budget: 'soon' is not a duration"),
    ],
)
def test_a_bad_option_is_one_line(options, message):
    with pytest.raises(S2SAError, match=re.escape(message)):
        check_tune_options(**{**GOOD, **options})


def test_the_budget_comes_back_in_seconds():
    assert check_tune_options(**{**GOOD, "trials": None, "budget": "2h"}) == 7200
    assert check_tune_options(**GOOD) is None


@pytest.mark.parametrize(
    ("name", "names_folder", "message"),
    [
        ("", False, "a study name is 1 to 100 printable characters"),  # used to mean the default study, silently
        ("a" * 300, True, "a study name is 1 to 100"),  # runs/tune-aaa...: ENAMETOOLONG as a traceback
        ("two\nlines", False, "a study name is 1 to 100"),
        ("a/../../../x", True, "would place the default tune folder runs/tune-a/../../../x elsewhere"),  # it did: ../x
    ],
)
def test_a_study_name_that_no_folder_or_storage_holds_is_refused(name, names_folder, message):
    with pytest.raises(S2SAError, match=re.escape(message)):
        check_study_name(name, names_folder)


def test_a_study_name_with_a_slash_is_fine_beside_an_output_dir():
    check_study_name("team/lr-search", names_folder=False)
    check_study_name(None, names_folder=True)
