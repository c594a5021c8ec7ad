"""The transformers privates s2sa relies on still exist, with the signatures it expects; and no module but
training/transformers_internals.py touches them. A transformers upgrade that breaks one fails here, naming it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import torch
import transformers
from torch.optim.lr_scheduler import LambdaLR

import seq2seq_adapters
from seq2seq_adapters.training import transformers_internals
from seq2seq_adapters.training.transformers_internals import PRIVATES, Private, Seq2SeqTrainerHooks, set_last_lr

PACKAGE = Path(seq2seq_adapters.__file__).parent
INTERNALS = Path(transformers_internals.__file__)
METHODS = [private for private in PRIVATES if private.parameters is not None]
ATTRIBUTES = [private for private in PRIVATES if private.parameters is None]


def where(private: Private) -> str:
    return (f"{private.label} ({private.use}) in transformers {transformers.__version__}, torch {torch.__version__}; "
            f"update seq2seq_adapters/training/transformers_internals.py")


def parameter_names(function) -> tuple[str, ...]:
    kinds = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return tuple(kinds.get(p.kind, "") + p.name for p in inspect.signature(function).parameters.values())


def class_source(owner: type) -> str:
    """The source of `owner` and of the classes it inherits from (object aside)."""
    return "\n".join(inspect.getsource(cls) for cls in owner.__mro__ if cls is not object)


ASSIGNED = r"self\.(_[a-z]\w*)\s*(?::[^=\n]+)?\+?="
"""`self._name =` (annotated or `+=` too): a private attribute a class keeps."""


@pytest.mark.parametrize("private", METHODS, ids=lambda private: private.label)
def test_each_private_method_exists_with_the_expected_signature(private):
    method = getattr(private.owner, private.name, None)
    assert callable(method), f"gone: {where(private)}"
    found = parameter_names(method)
    assert found == private.parameters, f"signature changed: {where(private)}: s2sa expects {private.parameters}, found {found}"


@pytest.mark.parametrize("private", ATTRIBUTES, ids=lambda private: private.label)
def test_each_private_attribute_is_still_assigned_by_its_class(private):
    assert private.name in re.findall(ASSIGNED, class_source(private.owner)), f"no longer assigned: {where(private)}"


def test_the_docstring_lists_every_private():
    doc = transformers_internals.__doc__
    assert [private.label for private in PRIVATES if f"`{private.label}" not in doc] == []


def test_the_hooks_override_exactly_the_listed_private_methods():
    overridden = {name for name in vars(Seq2SeqTrainerHooks) if name.startswith("_") and not name.startswith("__")}
    listed = {private.name for private in METHODS}
    assert overridden <= listed, f"overridden but not in PRIVATES: {sorted(overridden - listed)}"


OVERRIDES = [
    ("_save", "save_weights", ("out", None)),
    ("_save_checkpoint", "save_checkpoint", ("model", "trial")),
    ("_rotate_checkpoints", "delete_old_checkpoints", (True, "out")),
    ("_sorted_checkpoints", "sorted_checkpoints", ("out", "checkpoint", False)),
    ("_get_train_sampler", "train_sampler", ("dataset",)),
    ("_load_from_checkpoint", "load_checkpoint_weights", ("checkpoint", "model")),
    ("_load_best_model", "load_best_model", ()),
    ("_maybe_log_save_evaluate", "log_save_evaluate", ("tr_loss", "grad_norm")),
]


@pytest.mark.parametrize(("private", "hook", "args"), OVERRIDES, ids=[private for private, _, _ in OVERRIDES])
def test_each_overridden_private_reaches_its_public_hook(private, hook, args):
    """What the Trainer calls by its private name arrives at the hook a subclass overrides, arguments intact."""
    calls = []
    subclass = type("Recording", (Seq2SeqTrainerHooks,), {hook: lambda self, *a: calls.append(a)})
    getattr(object.__new__(subclass), private)(*args)  # no __init__: only the routing is under test
    assert calls == [args]


def test_the_logged_loss_goes_through_the_trainer_attributes():
    trainer = object.__new__(Seq2SeqTrainerHooks)
    trainer.set_logged_loss(12.5, 7)
    assert vars(trainer) == {"_total_loss_scalar": 12.5, "_globalstep_last_logged": 7}
    assert trainer.logged_loss() == (12.5, 7)


def test_set_last_lr_is_what_the_scheduler_reports():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = LambdaLR(optimizer, lambda step: 1.0)
    set_last_lr(scheduler, [0.25])
    assert scheduler.get_last_lr() == [0.25]


def transformers_private_names() -> set[str]:
    """Private names of the classes whose privates s2sa uses: their methods and the attributes they assign."""
    names = set()
    for owner in {private.owner for private in PRIVATES}:
        names |= {name for name in dir(owner) if name.startswith("_") and not name.startswith("__")}
        names |= set(re.findall(ASSIGNED, class_source(owner)))
    return names


def test_no_other_module_touches_a_transformers_private():
    """In the code (not its docs): attribute accesses `x._name` (reads and writes) and methods `def _name` (overrides)."""
    privates = transformers_private_names()
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if path == INTERNALS:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr in privates}
        used |= {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name in privates}
        if used:
            found[path.relative_to(PACKAGE).as_posix()] = sorted(used)
    assert found == {}, f"transformers privates outside training/transformers_internals.py: {found}"
