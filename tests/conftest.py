"""Shared fixtures: a Python-host interpreter and a way to run scripts in a real tclsh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TCL_TESTS = ROOT / "tests" / "tcl"


def tcl_path() -> str:
    from tcltorch.paths import tcl_path as path

    return path()


def tclsh_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TCLLIBPATH"] = tcl_path()
    env.update(extra)
    return env


def run_tclsh(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run a Tcl script (text) in a real tclsh with tcltorch on its auto_path."""
    return subprocess.run(
        ["tclsh", "/dev/stdin", *args],
        check=False,
        input=script,
        capture_output=True,
        text=True,
        env=env or tclsh_env(),
        timeout=timeout,
    )


def run_console(*args: str, stdin: str | None = None, timeout: float = 300, cwd: str | None = None):
    """Run the tcltorch console command (the installed entry point's module)."""
    return subprocess.run(
        [sys.executable, "-m", "tcltorch", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def interp():
    from tcltorch import Interp

    return Interp()
