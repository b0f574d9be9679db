"""The console's evaluator: one interpreter set up the way tclsh sets one up, plus the
tclsh rules for feeding it commands (``info complete``, prompts, ``~/.tcltorchrc``) and
for reporting errors.  Every mode (script, ``-c``, piped stdin, the REPL) goes through
:class:`Console`."""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tcltorch.errors import TclError

if TYPE_CHECKING:  # importing the interpreter imports torch: not for --help/--version
    from tcltorch.interp import Interp

TRACE_HINT = '(.tb or "puts $errorInfo" shows the full trace)'

# Helpers the console keeps in the interpreter.  ``prompt`` runs a tcl_prompt1/2
# script the way tclsh does (the script *prints* the prompt) but captures what it
# writes to stdout with a channel transform, so the line editor can show it; the
# caller's $errorInfo/$errorCode survive a prompt script.
_CONSOLE_TCL = r"""
namespace eval ::tcltorch::console {
    variable captured ""
    proc Capture {cmd handle args} {
        variable captured
        switch -- $cmd {
            initialize { return {initialize finalize write flush} }
            write { append captured [lindex $args 0]; return "" }
            default { return "" }
        }
    }
    proc prompt {var} {
        variable captured ""
        set saved {}
        foreach v {::errorInfo ::errorCode} {
            if {[info exists $v]} { lappend saved $v [set $v] } else { lappend saved $v {} }
        }
        catch {chan flush stdout}
        chan push stdout [namespace which Capture]
        set code [catch {uplevel #0 [set ::$var]} msg opts]
        catch {chan flush stdout}
        chan pop stdout
        set text [encoding convertfrom [chan configure stdout -encoding] $captured]
        set captured ""
        foreach {v old} $saved {
            if {$old eq {}} { unset -nocomplain $v } else { set $v [lindex $old 0] }
        }
        list $code $text $msg
    }
    # flushes Tcl's stdout and stderr; returns why stdout could not be written ("" if it could)
    proc flush {} {
        set problem ""
        if {[catch {chan flush stdout} message]} { set problem $message }
        catch {chan flush stderr}
        return $problem
    }
}
"""


def new_interp(argv0: str, args: Sequence[str], interactive: bool) -> Interp:
    """An interpreter set up the way tclsh sets one up: argv0, argv, argc, tcl_interactive."""
    from tcltorch.interp import Interp

    interp = Interp()
    interp.setvar("argv0", argv0)
    interp.setvar("argv", list(args))
    interp.setvar("argc", len(args))
    interp.setvar("tcl_interactive", 1 if interactive else 0)
    # tkinter deletes Tcl's exit; ours flushes Tcl's and Python's output, then ends
    # the process at once with the status, as tclsh's exit does.
    interp.register("::tcltorch::exit_process", _exit_process)
    interp.eval(
        "proc ::exit {{status 0}} {\n    ::tcltorch::exit_process $status [::tcltorch::console::flush]\n}"
    )
    interp.eval(_CONSOLE_TCL)
    if interactive:
        # the console's help: the same text as torch::help (a Tcl proc named help wins over
        # nothing: tclsh has no help command)
        interp.eval("proc ::help {args} { puts [::torch::help {*}$args] }")
    return interp


def _exit_process(status: str = "0", problem: str = "") -> None:
    from tcltorch.commands.spec import parse_tcl_int

    code = parse_tcl_int(status)
    if code is None:
        raise TclError(f'expected integer but got "{status}"', ["TCL", "VALUE", "NUMBER"])
    problem = problem or flush_python_stdout()
    if problem:  # the output is lost: never end with 0 as if it had been written
        code = report_output_error(problem) if code == 0 else code
    sys.stderr.flush()
    os._exit(code & 0xFF)


def _is_broken_pipe(problem: str) -> bool:
    return "broken pipe" in problem.lower()


def report_output_error(problem: str) -> int:
    """Stdout could not be written (a full disk, a closed pipe): say so on stderr,
    unless the reader merely went away (``| head``), and return the exit status, 1.
    Later writes go to /dev/null, so nothing fails again at exit."""
    if not _is_broken_pipe(problem):
        write(sys.stderr, f"tcltorch: {problem}\n")
    silence_stdout()
    return 1


def silence_stdout() -> None:
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass


def flush_python_stdout() -> str:
    """Flush Python's stdout; '' when that worked, else the reason."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        return os_problem(exc)
    return ""


def os_problem(exc: BaseException) -> str:
    """What a failed write of stdout says, as Tcl says it."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
        reason = "broken pipe"
    return f'error writing "stdout": {reason.lower()}'


def write_stdout(text: str) -> str:
    """Write to Python's stdout and flush; '' when it worked, else the reason."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except (OSError, ValueError) as exc:
        return os_problem(exc)
    return ""


def error_text(exc: BaseException) -> str:
    """errorInfo for a failed evaluation (message first, then the trace)."""
    info = getattr(exc, "errorinfo", "") or str(exc)
    return info


def error_message(exc: BaseException) -> str:
    """The one-line message Tcl saw for a failed evaluation (as the bridge makes it)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, TclError):
        return exc.message
    return str(exc).strip().split("\n")[0] or type(exc).__name__


class Console:
    """One interpreter plus the tclsh rules for feeding it commands."""

    def __init__(self, interp: Interp) -> None:
        self.interp = interp
        self.output_error = ""  # why stdout could not be written, once it could not

    # -- evaluation -------------------------------------------------------------
    def evaluate(self, script: str) -> tuple[bool, str, str]:
        """Evaluate at global level with Ctrl-C armed: (ok, result or message, errorInfo)."""
        return self._run(self.interp.eval, script)

    def source(self, path: str) -> tuple[bool, str, str]:
        return self._run(self.interp.call, "source", path)

    def _run(self, fn: Any, *words: str) -> tuple[bool, str, str]:
        try:
            try:
                with self.interp.interruptible():
                    return True, fn(*words), ""
            except KeyboardInterrupt:
                return False, "interrupted", self._interrupted_info()
            except Exception as exc:  # TclError, or a Python exception from inside a command
                return False, error_message(exc), error_text(exc)
            finally:
                self.flush()
        except KeyboardInterrupt:  # Ctrl-C landed after the evaluation had finished
            return False, "interrupted", "interrupted"

    def _interrupted_info(self) -> str:
        try:
            info = self.interp.getvar("::errorInfo")
        except Exception:
            return "interrupted"
        return info if info.startswith("interrupted") else "interrupted"

    def flush(self) -> None:
        """Flush Tcl's stdout/stderr (so output keeps its order with ours).  This also
        runs a Ctrl-C that arrived as the evaluation ended, instead of the next command.
        A failed write of stdout is kept in :attr:`output_error` (the first one)."""
        try:
            problem = self.interp.call("::tcltorch::console::flush")
        except Exception:
            problem = ""
        problem = problem or flush_python_stdout()
        if problem and not self.output_error:
            self.output_error = problem

    def is_complete(self, text: str) -> bool:
        # A trailing backslash-newline continues the command, as in tclsh.
        return self.interp.call("info", "complete", text + "\n") == "1"

    # -- start-up -----------------------------------------------------------------
    def source_rc(self, path: str) -> None:
        """Source ~/.tcltorchrc when it exists (tclsh does the same with ~/.tclshrc)."""
        self.interp.setvar("tcl_rcFileName", path)
        if not os.path.isfile(path):
            return
        ok, message, _ = self.source(path)
        if not ok:
            write(sys.stderr, f"{message}\n    (in {path})\n")

    # -- non-interactive input ------------------------------------------------------
    def run_stream(self) -> int:
        """Read commands from Tcl's stdin channel like ``tclsh < FILE``: evaluate each
        complete command, print nothing but the script's own output, and stop at the
        first error with errorInfo on stderr and status 1."""
        pending = ""
        while True:
            line = self._read_stdin_line()
            if line is None:
                break
            pending += line + "\n"
            if not self.is_complete(pending):
                continue
            script, pending = pending, ""
            ok, _, info = self.evaluate(script)
            if not ok:
                write(sys.stderr, info + "\n")
                return 1
            if self.output_error:  # the output is lost: stop (the caller reports it)
                return 0
        if pending.strip():  # an unfinished command at EOF: let Tcl say what is missing
            ok, _, info = self.evaluate(pending)
            if not ok:
                write(sys.stderr, info + "\n")
                return 1
        return 0

    def _read_stdin_line(self) -> str | None:
        # Through Tcl's stdin channel, so a script that does [gets stdin] reads the
        # same stream, as in tclsh.  SIGINT while waiting ends the process, as in tclsh.
        previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            count = self.interp.call("gets", "stdin", "::tcltorch::console::line")
        except TclError:
            return None
        finally:
            signal.signal(signal.SIGINT, previous)
        if count == "-1":
            return None
        return self.interp.getvar("::tcltorch::console::line")

    # -- prompts ----------------------------------------------------------------------
    def prompt_text(self, var: str, default: str) -> str:
        """What tcl_prompt1/tcl_prompt2 prints, or the default when it is not set."""
        try:
            if self.interp.call("info", "exists", f"::{var}") != "1":
                return default
            code, text, message = tcl_split(self.interp.call("::tcltorch::console::prompt", var))
        except KeyboardInterrupt:
            return default
        except Exception as exc:  # the helper itself failed (a redefined chan, say)
            write(sys.stderr, f"{error_message(exc)}\n    (script that generates prompt)\n")
            return default
        if code == "1":
            write(sys.stderr, f"{message}\n    (script that generates prompt)\n")
            return default
        return text


def tcl_split(text: str) -> list[str]:
    from tcltorch.bridge import split

    return split(text)


def write(stream: Any, text: str) -> None:
    """Write and flush, ignoring a failure (messages on stderr, the REPL's echo)."""
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass
