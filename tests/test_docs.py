"""Every ```tcl block in the docs runs, and every command has a page naming its options."""

from __future__ import annotations

import re

import pytest

import tcltorch
from conftest import ROOT
from tcltorch.commands import load_all

DOCS = sorted(p for p in (ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
TCL_BLOCK = re.compile(r"^```tcl\n(.*?)^```", re.S | re.M)


def tcl_blocks(path):
    return TCL_BLOCK.findall(path.read_text(encoding="utf-8")) if path.exists() else []


@pytest.mark.parametrize("page", [p for p in DOCS if tcl_blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_tcl_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    interp = tcltorch.Interp()
    for number, block in enumerate(tcl_blocks(page), 1):
        try:
            interp.eval(block)
        except Exception as exc:  # noqa: BLE001 - report which block failed
            pytest.fail(f"{page.name} block {number} failed: {exc}\n{getattr(exc, 'errorinfo', '')}\n---\n{block}")


COMMANDS = sorted(load_all())


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_page_with_its_options(name):
    cmd = load_all()[name]
    page = ROOT / "docs" / "commands" / f"{name}.md"
    assert page.exists(), f"docs/commands/{name}.md is missing"
    text = page.read_text(encoding="utf-8")
    assert f"torch::{name}" in text
    for alias in cmd.aliases:
        assert f"torch::{alias}" in text, f"alias torch::{alias} is not mentioned"
    for section in ("## Syntax", "## Parameters", "## Description", "## Return Value", "## Errors", "## Examples"):
        assert section in text, f"{section} missing"
    for opt in cmd.options:
        assert f"`{opt.flag}`" in text, f"option {opt.flag} is not documented"


PY_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("page", [p for p in DOCS if PY_BLOCK.findall(p.read_text(encoding="utf-8"))],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for block in PY_BLOCK.findall(page.read_text(encoding="utf-8")):
        exec(compile(block, str(page), "exec"), {"__name__": "__doc_example__"})
    assert "['TORCH', 'VALUE', '-dtype']" in capsys.readouterr().out or page.name != "README.md"
