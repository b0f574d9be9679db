"""Runs every tcltest file in tests/tcl in a real tclsh; any failed test fails here."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import TCL_TESTS, tclsh_env

SUITES = sorted(p.name for p in TCL_TESTS.glob("*.test"))


@pytest.mark.parametrize("suite", SUITES)
def test_tcltest_suite(suite: str) -> None:
    proc = subprocess.run(
        ["tclsh", str(TCL_TESTS / "all.tcl"), "-file", suite],
        check=False,
        capture_output=True,
        text=True,
        env=tclsh_env(),
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    totals = re.search(r"Total\s+(\d+)\s+Passed\s+(\d+)\s+Skipped\s+(\d+)\s+Failed\s+(\d+)", out)
    assert totals, out[-4000:]
    total, passed, skipped, failed = map(int, totals.groups())
    assert failed == 0 and "exiting with errors" not in out, out[-6000:]
    assert total > 0 and passed + skipped == total, out[-4000:]
    assert proc.returncode == 0, out[-4000:]
