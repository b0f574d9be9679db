"""tcltorch: PyTorch for Tcl scripts.

Three ways in share one command table: ``package require tcltorch`` in a real
``tclsh``; :class:`tcltorch.Interp` / :func:`tcltorch.install` from Python; and
the ``tcltorch`` console.  The native bridge is imported lazily so that the
pure-PyTorch engine (:mod:`tcltorch.optim`) works without it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Interp", "Interrupted", "TclError", "__version__", "install"]


def __getattr__(name: str):
    if name in ("Interp", "install"):
        from tcltorch import interp

        return getattr(interp, name)
    if name in ("TclError", "Interrupted"):
        from tcltorch import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'tcltorch' has no attribute {name!r}")
