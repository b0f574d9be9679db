"""The ``tcltorch`` command: run a Tcl script with tcltorch loaded, like tclsh."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from tcltorch import __version__
from tcltorch.errors import TclError
from tcltorch.interp import Interp

USAGE = """usage: tcltorch ?FILE.tcl ?arg ...??
Runs a Tcl script with the torch:: commands loaded (like tclsh)."""


def new_interp(argv0: str, args: Sequence[str], interactive: bool) -> Interp:
    """An interpreter set up the way tclsh sets one up: argv0, argv, argc, tcl_interactive."""
    interp = Interp()
    interp.setvar("argv0", argv0)
    interp.setvar("argv", list(args))
    interp.setvar("argc", len(args))
    interp.setvar("tcl_interactive", 1 if interactive else 0)
    # tkinter deletes Tcl's exit; ours flushes Tcl's and Python's output, then ends
    # the process at once with the status, as tclsh's exit does.
    interp.register("::tcltorch::exit_process", _exit_process)
    interp.eval(
        "proc ::exit {{status 0}} {\n"
        "    catch {flush stdout}; catch {flush stderr}\n"
        "    ::tcltorch::exit_process $status\n"
        "}"
    )
    return interp


def _exit_process(status: str = "0") -> None:
    from tcltorch.commands.spec import parse_tcl_int

    code = parse_tcl_int(status)
    if code is None:
        raise TclError(f'expected integer but got "{status}"', ["TCL", "VALUE", "NUMBER"])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code & 0xFF)


def error_text(exc: BaseException) -> str:
    """errorInfo for a failed evaluation (message first, then the trace)."""
    info = getattr(exc, "errorinfo", "") or str(exc)
    return info


def run_file(path: str, args: Sequence[str]) -> int:
    interp = new_interp(path, args, interactive=False)
    try:
        with interp.interruptible():
            interp.call("source", path)
    except (TclError, Exception, KeyboardInterrupt) as exc:
        sys.stdout.flush()
        print(error_text(exc), file=sys.stderr)
        return 1
    finally:
        sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "--version":
        print(f"tcltorch {__version__}")
        return 0
    if argv:
        return run_file(argv[0], argv[1:])
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
