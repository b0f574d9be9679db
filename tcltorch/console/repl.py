"""The ``tcltorch`` command line: ``tcltorch FILE.tcl ?arg ...?`` runs a script,
``tcltorch -c SCRIPT`` evaluates one string, ``tcltorch < FILE`` (or ``-``) reads
commands from a pipe or file the way ``tclsh < FILE`` does, and plain ``tcltorch`` on a
terminal starts the interactive console (:mod:`tcltorch.console.interactive`).
``--tcl-path``, ``--install-tcl`` and ``--uninstall-tcl`` set tclsh up
(:mod:`tcltorch.paths`, :mod:`tcltorch.tcl_install`).

Every mode ends with a non-zero status when its output could not be written (a full
disk): the message goes to stderr, except for a reader that went away (``| head``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from tcltorch import __version__
from tcltorch.console.session import (
    Console,
    new_interp,
    report_output_error,
    silence_stdout,
    write,
    write_stdout,
)

USAGE = """usage: tcltorch ?FILE.tcl ?arg ...??
       tcltorch -c SCRIPT ?arg ...?
       tcltorch - ?arg ...?
Tcl with the torch:: commands loaded (like tclsh).

  FILE.tcl ?arg ...?   source the script with argv0, argv and argc set; exit 1 on error
  -c SCRIPT ?arg ...?  evaluate SCRIPT, print its non-empty result; exit 1 on error
  - ?arg ...?          read commands from stdin, like tclsh < FILE
  (no arguments)       an interactive console when stdin is a terminal, else read stdin
  --tcl-path           print the folder with tcltorch's pkgIndex.tcl (for TCLLIBPATH)
  --install-tcl ?DIR?  put a tcltorch package folder on Tcl's auto_path (default: the
                       site folder for Tcl packages), so package require finds it anywhere
  --uninstall-tcl ?DIR?  remove that folder
  --version            print the version
  -h, --help           print this help

Interactive keys: Tab completes, Ctrl-R searches history, Ctrl-C clears the line or
interrupts a running command, Ctrl-D on an empty line exits.  After an error, .tb
prints the full trace ($errorInfo).  ~/.tcltorchrc is sourced at start-up; the history
lives in ~/.tcltorch_history (or $TCLTORCH_HISTORY; set it empty for none)."""


def _exit_status(console: Console, status: int) -> int:
    """``status``, or 1 (said on stderr) when the console's output could not be written.
    A script that failed has said why already (often that very write error)."""
    if not console.output_error:
        return status
    if status != 0:
        silence_stdout()
        return status
    return report_output_error(console.output_error)


def run_file(path: str, args: Sequence[str]) -> int:
    """``tcltorch FILE.tcl``: source it with Ctrl-C armed; errorInfo on stderr and status 1
    on error (an interrupt included)."""
    console = Console(new_interp(path, args, interactive=False))
    ok, _, info = console.source(path)
    if not ok:
        write(sys.stderr, info + "\n")
    return _exit_status(console, 0 if ok else 1)


def run_command(script: str, args: Sequence[str]) -> int:
    """``tcltorch -c SCRIPT``: evaluate, print a non-empty result, exit 1 on error."""
    console = Console(new_interp("-c", args, interactive=False))
    ok, value, info = console.evaluate(script)
    if not ok:
        write(sys.stderr, info + "\n")
    elif value:
        console.output_error = console.output_error or write_stdout(value + "\n")
    return _exit_status(console, 0 if ok else 1)


def rc_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".tcltorchrc")


def run_stdin(argv0: str, args: Sequence[str]) -> int:
    """``tcltorch < FILE``: each complete command in turn, stopping at the first error."""
    console = Console(new_interp(argv0, args, interactive=False))
    console.source_rc(rc_path())
    return _exit_status(console, console.run_stream())


def interact(args: Sequence[str] = ()) -> int:
    """The interactive console on a terminal."""
    from tcltorch.console.interactive import Interactive

    console = Console(new_interp("tcltorch", args, interactive=True))
    front = Interactive(console)
    import torch

    patch = console.interp.call("info", "patchlevel")
    write(
        sys.stdout,
        f"tcltorch {__version__} (Tcl {patch}, torch {torch.__version__}). "
        "Tab completes, Ctrl-R searches history, Ctrl-D exits.\n",
    )
    console.source_rc(rc_path())
    return front.run()


def _ensure_std_streams() -> None:
    """Started with stdin, stdout or stderr closed (``tcltorch FILE <&- >&-``): give the
    missing descriptor /dev/null, for Python and for Tcl's channels alike, so that
    the script runs as if redirected there instead of failing with a traceback."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if mode == "r" else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115 (lives as long as the process)


# -- the command line ------------------------------------------------------------------


def _print(text: str) -> int:
    problem = write_stdout(text + "\n")
    return report_output_error(problem) if problem else 0


def _help(argv: list[str]) -> int:
    return _print(USAGE)


def _version(argv: list[str]) -> int:
    return _print(f"tcltorch {__version__}")


def _tcl_path(argv: list[str]) -> int:
    from tcltorch.paths import tcl_path

    return _print(tcl_path())


def _tcl_install(argv: list[str]) -> int:
    from tcltorch import tcl_install

    return tcl_install.main(argv)


def _dash_c(argv: list[str]) -> int:
    if len(argv) < 2:
        write(sys.stderr, "tcltorch: -c needs a script\n" + USAGE + "\n")
        return 2
    return run_command(argv[1], argv[2:])


def _dash(argv: list[str]) -> int:
    return run_stdin("-", argv[1:])


_OPTIONS: dict[str, Callable[[list[str]], int]] = {
    "-h": _help,
    "--help": _help,
    "--version": _version,
    "--tcl-path": _tcl_path,
    "--install-tcl": _tcl_install,
    "--uninstall-tcl": _tcl_install,
    "-c": _dash_c,
    "-": _dash,
}


def _dispatch(argv: list[str]) -> int:
    handler = _OPTIONS.get(argv[0]) if argv else None
    if handler is not None:
        return handler(argv)
    if argv and argv[0].startswith("-") and argv[0] != "--":
        write(sys.stderr, f"tcltorch: unknown option {argv[0]}\n{USAGE}\n")
        return 2
    if argv and argv[0] == "--":
        argv = argv[1:]
    if argv:
        return run_file(argv[0], argv[1:])
    if sys.stdin.isatty():
        return interact()
    return run_stdin("tcltorch", [])


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tcltorch`` command (``python -m tcltorch``); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    _ensure_std_streams()
    try:
        return _dispatch(args)
    except KeyboardInterrupt:  # Ctrl-C during start-up (importing torch, say)
        return 130
    except BrokenPipeError:  # the reader of our output went away (tcltorch | head)
        return report_output_error("broken pipe")
