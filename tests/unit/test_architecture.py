"""The layering of docs/architecture.md, kept by tests rather than by comments."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import seq2seq_adapters

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(seq2seq_adapters.__file__).parent
SUBPACKAGES = ["core", "config", "layout", "data", "model", "generation", "evaluation", "training", "export", "tuning"]
RECIPE_TESTS = {"training/recipe.py": "recipes/test_train.py", "evaluation/evaluate_run.py": "recipes/test_eval.py",
                "export/writer.py": "recipes/test_export.py", "__main__.py": "unit/test_main.py"}
"""The modules whose tests are not tests/unit/<subpackage>/test_<module>.py: the command recipes (tested by tiny
runs) and __main__."""
TORCH_FREE = ["seq2seq_adapters.core", "seq2seq_adapters.config", "seq2seq_adapters.layout"]
"""The packages every command reads and checks its input with before it loads torch (about 3 s)."""


def test_lower_layers_never_import_higher_ones():
    """import-linter's layers contract in pyproject.toml, over the whole package (lazy imports included)."""
    result = subprocess.run([sys.executable, "-m", "importlinter.cli", "--config", str(ROOT / "pyproject.toml")],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_every_module_sits_in_one_subpackage():
    top = {module.name for module in pkgutil.iter_modules([str(PACKAGE)])}
    assert top == {"cli", "__main__", *SUBPACKAGES}


@pytest.mark.parametrize("package", SUBPACKAGES)
def test_every_subpackage_says_its_job_and_what_it_may_import(package):
    doc = __import__(f"seq2seq_adapters.{package}", fromlist=["_"]).__doc__ or ""
    assert "May import:" in doc, f"{package}/__init__.py"


def test_architecture_doc_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    modules = [path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py") if path.name != "__init__.py"]
    assert [module for module in modules if f"`{module}`" not in doc] == []


def test_every_module_has_its_own_test_file():
    """tests/ mirrors the package: tests/unit/<subpackage>/test_<module>.py (tests/unit/test_<module>.py for the
    top level), or the recipe tests of a command recipe."""
    tests = ROOT / "tests"
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py":
            continue
        folder = tests / "unit" / path.parent.relative_to(PACKAGE)
        test = tests / RECIPE_TESTS[module] if module in RECIPE_TESTS else folder / f"test_{path.stem}.py"
        if not test.is_file():
            missing.append(f"{module}: {test.relative_to(ROOT)}")
    assert missing == []


def test_the_torch_free_packages_import_without_torch():
    """In a fresh interpreter: every module of core, config and layout, the CLI and tune's option checks, and none of
    torch, transformers, adapters or Optuna is loaded."""
    names = [f"{package}.{module.name}" for package in TORCH_FREE
             for module in pkgutil.iter_modules([str(PACKAGE / package.split(".")[-1])])]
    names.append("seq2seq_adapters.cli")  # the CLI too: `s2sa --help` and every input check come before torch
    names.append("seq2seq_adapters.tuning.options")  # `s2sa tune`'s option checks, before Optuna and the trials' code
    code = f"import importlib, sys\nfor name in {names!r}: importlib.import_module(name)\n" \
           "loaded = sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'transformers', 'adapters', 'optuna'))\n" \
           "assert not loaded, loaded[:5]"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]


def test_no_unsafe_loading_in_our_code():
    """Any torch.load in the package passes weights_only=True; remote code only ever runs on --trust-remote-code
    (no call passes trust_remote_code=True itself: it passes on the caller's permission)."""
    import ast
    import re

    for path in sorted((ROOT / "seq2seq_adapters").rglob("*.py")):
        source = path.read_text()
        for match in re.finditer(r"torch\.load\(([^()]|\([^()]*\))*\)", source):
            assert "weights_only=True" in match.group(0), f"{path.name}: {match.group(0)}"
        granted = [node.lineno for node in ast.walk(ast.parse(source)) if isinstance(node, ast.keyword)
                   and node.arg == "trust_remote_code" and isinstance(node.value, ast.Constant) and node.value.value is not False]
        assert not granted, f"{path.relative_to(ROOT)}: trust_remote_code set at line {granted[0]}"
