"""``python -m tcltorch``: the console, plus ``--tcl-path`` for tclsh set-up."""

from __future__ import annotations

import os
import sys


def tcl_path() -> str:
    """The directory holding pkgIndex.tcl, for TCLLIBPATH or Tcl's auto_path."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "tcl")


if __name__ == "__main__":
    if sys.argv[1:] == ["--tcl-path"]:
        print(tcl_path())
        sys.exit(0)
    from tcltorch.console import main

    sys.exit(main())
