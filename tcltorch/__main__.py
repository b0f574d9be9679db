"""``python -m tcltorch``: the console, plus ``--tcl-path`` for tclsh set-up and
``--install-tcl`` / ``--uninstall-tcl`` (see :mod:`tcltorch.tcl_install`)."""

from __future__ import annotations

import os
import sys


def tcl_path() -> str:
    """The directory holding pkgIndex.tcl, for TCLLIBPATH or Tcl's auto_path: ``tcltorch/tcl``
    in an installed package (the build copies the top-level ``tcl/`` there), the source tree's
    ``tcl/`` in an editable install."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "tcl")
    if os.path.isfile(os.path.join(packaged, "pkgIndex.tcl")):
        return packaged
    return os.path.join(os.path.dirname(here), "tcl")


if __name__ == "__main__":
    from tcltorch.console import main

    sys.exit(main())
