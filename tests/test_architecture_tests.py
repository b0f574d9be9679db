"""The test suite's own shape: each helper is defined once (tests/helpers.py, tests/conftest.py,
package tcltorch::test for the tcltest files), not copied from file to file."""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from helpers import ROOT

TESTS = ROOT / "tests"


def _is_fixture(node: ast.FunctionDef) -> bool:
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        if isinstance(target, ast.Attribute) and target.attr == "fixture":
            return True
        if isinstance(target, ast.Name) and target.id == "fixture":
            return True
    return False


def _conftest_fixtures() -> set[str]:
    tree = ast.parse((TESTS / "conftest.py").read_text())
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and _is_fixture(n)}


def test_no_python_helper_defined_in_two_test_files() -> None:
    allowed = _conftest_fixtures()  # a file may override a conftest fixture
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.py")):
        if path.name in ("conftest.py", "helpers.py"):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if node.name.startswith("test_") or node.name in allowed:
                continue
            where[node.name].append(str(path.relative_to(TESTS)))
    duplicates = {name: files for name, files in where.items() if len(files) > 1}
    assert not duplicates, (
        "helpers defined in several test files (move them to tests/helpers.py):\n"
        + "\n".join(f"  {name}: {', '.join(files)}" for name, files in sorted(duplicates.items()))
    )


def test_no_tcl_proc_defined_in_two_test_files() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for path in sorted(TESTS.rglob("*.test")):
        for name in sorted(set(re.findall(r"^proc\s+(\S+)", path.read_text(), re.MULTILINE))):
            where[name].append(str(path.relative_to(TESTS)))
    duplicates = {name: files for name, files in where.items() if len(files) > 1}
    assert not duplicates, (
        "procs defined in several .test files (use package tcltorch::test, tcl/tcltorch_test.tcl):\n"
        + "\n".join(f"  {name}: {', '.join(files)}" for name, files in sorted(duplicates.items()))
    )


def test_every_tcltest_file_uses_the_helper_package() -> None:
    missing = [
        p.name
        for p in sorted((TESTS / "tcl").glob("*.test"))
        if "package require tcltorch::test" not in p.read_text()
    ]
    assert not missing, f"tcltest files without `package require tcltorch::test`: {missing}"


def test_the_proc_scan_sees_top_level_procs_only() -> None:
    """The proc scan finds top-level procs only (not procs defined inside a test body)."""
    text = "proc err {s} {}\ntest x-1 {} -body {\n    proc inner {} {}\n}\n"
    assert re.findall(r"^proc\s+(\S+)", text, re.MULTILINE) == ["err"]
