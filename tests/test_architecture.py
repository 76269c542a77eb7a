"""The house's rules, checked: the layers (import-linter's contracts in pyproject.toml), no import
cycles, no private names imported across modules, no function too long to read, a NumPy-only core."""

import ast
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "glassnet"
LINT = shutil.which("lint-imports")


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def run_lint(src_dir, config_dir=ROOT):
    env = {**os.environ, "PYTHONPATH": str(src_dir)}
    return subprocess.run([LINT, "--no-cache"], cwd=config_dir, env=env, capture_output=True, text=True)


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (the test extra has it)")
def test_the_layers_hold():
    run = run_lint(ROOT / "src")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "broken" in run.stdout and " 0 broken" in run.stdout


@pytest.mark.skipif(LINT is None, reason="import-linter is not installed (the test extra has it)")
@pytest.mark.parametrize(
    "module, line, contract",
    [
        ("core/network.py", "from .. import engines", "The core is the book in NumPy"),
        ("datasets/mnist.py", "from ..core import network", "The data layer knows no network"),
        ("web/server.py", "from .. import cli", "The web knows no command line"),
        ("training/loop.py", "from .. import sklearn", "Layers of the house"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, contract):
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "glassnet", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    target = copy / "glassnet" / module
    target.write_text(target.read_text() + f"\n{line}  # a new arrow\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    run = run_lint(copy, config_dir=tmp_path)
    assert run.returncode != 0
    broken = [l for l in run.stdout.splitlines() if l.endswith("BROKEN")]
    assert any(contract in l for l in broken), run.stdout


def imports_of(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, 0, []


def test_no_private_name_is_imported_from_another_module():
    offenders = []
    for path in modules():
        for module, level, names in imports_of(path):
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and (level or module.startswith("glassnet")):
                offenders.append(f"{path.relative_to(PACKAGE)}: from {'.' * level}{module} import {private}")
    assert not offenders, "\n".join(offenders)


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "\n".join(long)


def test_the_network_module_imports_numpy_and_the_core_only():
    found = {(module, level) for module, level, _ in imports_of(PACKAGE / "core" / "network.py")}
    assert found <= {
        ("__future__", 0),
        ("time", 0),
        ("numpy", 0),
        ("dataforms", 1),
        ("functions", 1),
        ("model", 1),
        ("network_model", 1),
        ("collections.abc", 0),
        ("typing", 0),
        ("numpy.typing", 0),
    }, found


def test_the_network_class_is_short_enough_to_hold():
    tree = ast.parse((PACKAGE / "core" / "network.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Network")
    assert cls.end_lineno - cls.lineno + 1 < 260
