"""Runs the tcltest files of tests/tcl in real tclsh processes; one pytest item per file.

Every selected file runs in ONE tclsh (tests/tcl/all.tcl sources each in a fresh child
interpreter, so Python and torch start once), except the ISOLATED ones, each in a tclsh of its
own.  all.tcl frames each file's output ("==== FILE start" ... "==== FILE end ok|error: ..."), so
a failure is reported on its file's item with that file's output.  Should the shared tclsh die
inside a file, that file fails with its output so far and the files it never reached run each in
a tclsh of their own.
"""

from __future__ import annotations

import re
import subprocess

import pytest
from helpers import TCL_TESTS, tclsh_env

SUITES = sorted(p.name for p in TCL_TESTS.glob("*.test"))

# Files that keep a tclsh of their own, and why.
ISOLATED = {
    # sets OMP_NUM_THREADS for the demo before torch starts in the process (it must be set
    # before torch starts), and runs the demo's training in child interpreters of its own tclsh
    "demo.test": "sets OMP_NUM_THREADS before torch starts",
}

_START = re.compile(r"^==== (\S+) start$", re.MULTILINE)
_END = re.compile(r"^==== (\S+) end (ok|error: .*)$", re.MULTILINE)
_TOTALS = re.compile(r"Total\s+(\d+)\s+Passed\s+(\d+)\s+Skipped\s+(\d+)\s+Failed\s+(\d+)")


def run_suites(files: list[str], timeout: float) -> tuple[str, int]:
    """Run tcltest files in one tclsh through all.tcl: (stdout and stderr, exit status)."""
    proc = subprocess.run(
        ["tclsh", str(TCL_TESTS / "all.tcl"), "-file", " ".join(files)],
        check=False,
        capture_output=True,
        text=True,
        env=tclsh_env(),
        timeout=timeout,
    )
    return proc.stdout + proc.stderr, proc.returncode


def sections(out: str) -> dict[str, str]:
    """FILE -> its framed output (up to the end of the output for a file that never ended)."""
    starts = list(_START.finditer(out))
    found = {}
    for i, m in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(out)
        found[m.group(1)] = out[m.start() : stop]
    return found


@pytest.fixture(scope="session")
def shared_run(request) -> dict[str, str]:
    """The framed output of every selected, non-isolated file, from one tclsh."""
    selected = sorted(
        {
            item.callspec.params["suite"]
            for item in request.session.items
            if getattr(item, "originalname", "") == "test_tcltest_suite"
        }
        - set(ISOLATED)
    )
    if not selected:
        return {}
    out, status = run_suites(selected, timeout=1800)
    found = sections(out)
    if not any(_END.search(text) for text in found.values()):
        return {name: out for name in selected}  # nothing ran to its end: show every file the output
    if not _END.search(out[out.rfind("==== ") :]):
        last = max(found, key=lambda name: out.index(f"==== {name} start"))
        found[last] += f"\n(the shared tclsh ended with status {status} inside this file)"
    return found


def check_section(suite: str, text: str) -> None:
    end = _END.search(text)
    assert end and end.group(1) == suite, text[-6000:]
    assert end.group(2) == "ok", text[-6000:]
    totals = _TOTALS.search(text)
    assert totals, text[-4000:]
    total, passed, skipped, failed = map(int, totals.groups())
    assert failed == 0, text[-6000:]
    assert total > 0 and passed + skipped == total, text[-4000:]


@pytest.mark.parametrize("suite", SUITES)
def test_tcltest_suite(suite: str, shared_run: dict[str, str]) -> None:
    text = shared_run.get(suite)
    if text is None:  # isolated, or not reached by a shared tclsh that died: a tclsh of its own
        out, status = run_suites([suite], timeout=900)
        text = sections(out).get(suite, out)
        check_section(suite, text)
        assert status == 0, text[-4000:]
    else:
        check_section(suite, text)
