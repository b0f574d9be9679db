"""Where tcltorch's files are: the folder with its Tcl package index (for TCLLIBPATH,
Tcl's auto_path and ``tcltorch --install-tcl``).  A leaf: it imports nothing of tcltorch."""

from __future__ import annotations

import os


def tcl_path() -> str:
    """The directory holding pkgIndex.tcl, for TCLLIBPATH or Tcl's auto_path: ``tcltorch/tcl``
    in an installed package (the build copies the top-level ``tcl/`` there), the source tree's
    ``tcl/`` in an editable install."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "tcl")
    if os.path.isfile(os.path.join(packaged, "pkgIndex.tcl")):
        return packaged
    return os.path.join(os.path.dirname(here), "tcl")
