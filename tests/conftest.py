"""Shared fixtures: a Python-host interpreter and a way to run scripts in a real tclsh."""

from __future__ import annotations

import pytest

# The helpers live in tests/helpers.py; these names stay importable from conftest.
from helpers import ROOT, TCL_TESTS, run_console, run_tclsh, tcl_path, tclsh_env  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_interp: the interp/tcl fixtures give every test of the file one interpreter"
    )


@pytest.fixture(scope="module")
def _file_interp():
    from tcltorch import Interp

    return Interp()


@pytest.fixture
def interp(request):
    """A tcltorch.Interp: a fresh one per test, or one per file where the file says
    ``pytestmark = pytest.mark.shared_interp`` (making one costs more than most cases)."""
    if request.node.get_closest_marker("shared_interp") is not None:
        return request.getfixturevalue("_file_interp")
    from tcltorch import Interp

    return Interp()


@pytest.fixture
def tcl(interp):
    """The same as ``interp`` (the name some files use)."""
    return interp
