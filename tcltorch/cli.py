"""The process entry point of ``python -m tcltorch`` (and the ``tcltorch`` script, whose
``tcltorch.console.main`` is the same command line): run it and exit with its status.
The arguments are handled by :func:`tcltorch.console.repl.main`; where tcltorch's Tcl
package lives is :func:`tcltorch.paths.tcl_path`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tcltorch.console import main as console_main
from tcltorch.paths import tcl_path

__all__ = ["main", "run", "tcl_path"]


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tcltorch`` command line; returns the exit status."""
    return console_main(argv)


def run() -> None:
    """``python -m tcltorch``: the command line, then exit with its status."""
    sys.exit(main())
