"""The interactive console (the REPL): reads commands with prompt_toolkit (or ``input()``
where a full-screen editor cannot run), evaluates them through :class:`Console` and
prints results and errors as tclsh does, plus the trace hint and ``.tb``."""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from tcltorch.console.completion import make_completer
from tcltorch.console.session import Console, os_problem, report_output_error, write, write_stdout

TRACE_HINT = '(.tb or "puts $errorInfo" shows the full trace)'


class _Style:
    """ANSI colours for errors on a terminal, off with NO_COLOR or TERM=dumb."""

    def __init__(self, stream: Any) -> None:
        self.on = (
            hasattr(stream, "isatty")
            and stream.isatty()
            and not os.environ.get("NO_COLOR")
            and os.environ.get("TERM", "") != "dumb"
        )

    def __call__(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.on else text


_TENSOR_HANDLE = re.compile(r"tensor\d+")
HANDLE_WARN_DEFAULT = 10000


def handle_threshold() -> int:
    """Live handles above which the console warns once: TCLTORCH_HANDLE_WARN (0 turns it off)."""
    try:
        return int(os.environ.get("TCLTORCH_HANDLE_WARN", HANDLE_WARN_DEFAULT))
    except ValueError:
        return HANDLE_WARN_DEFAULT


def history_path() -> str | None:
    """$TCLTORCH_HISTORY (empty: no history file) or ~/.tcltorch_history."""
    path = os.environ.get("TCLTORCH_HISTORY")
    if path is None:
        return os.path.join(os.path.expanduser("~"), ".tcltorch_history")
    return path or None


def _safe_file_history(path: str) -> Any:
    """prompt_toolkit's FileHistory, except that a failed write (disk full, file
    removed) is reported once instead of ending the session."""
    from prompt_toolkit.history import FileHistory

    class SafeFileHistory(FileHistory):
        failed = False

        def store_string(self, string: str) -> None:
            try:
                super().store_string(string)
            except OSError as exc:
                if not self.failed:
                    self.failed = True
                    write(sys.stderr, f"tcltorch: history not saved: {exc}\n")

    return SafeFileHistory(path)


class Interactive:
    """The terminal front end: reads commands with prompt_toolkit (or ``input()``
    where a full-screen editor cannot run) and prints results and errors as tclsh
    does, plus the trace hint."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.interp = console.interp
        self.err_style = _Style(sys.stderr)
        self.handle_threshold = handle_threshold()
        self.handle_warned = False
        self.output_reported = False
        self.session: Any = None
        if sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb":
            try:
                self.session = self._make_session()
            except Exception as exc:  # no usable prompt_toolkit: fall back to input()
                write(sys.stderr, f"tcltorch: no line editor ({exc}); reading plain lines\n")
                self.session = None

    def _make_session(self) -> Any:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
        from prompt_toolkit.enums import DEFAULT_BUFFER
        from prompt_toolkit.filters import has_focus
        from prompt_toolkit.history import InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings

        path = history_path()
        if path:
            try:
                if not os.path.exists(path):
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
                history: Any = _safe_file_history(path)
            except OSError as exc:
                write(sys.stderr, f"tcltorch: history not saved: {exc}\n")
                history = InMemoryHistory()
        else:
            history = InMemoryHistory()

        keys = KeyBindings()

        @keys.add("enter", filter=has_focus(DEFAULT_BUFFER))
        @keys.add("c-j", filter=has_focus(DEFAULT_BUFFER))  # Enter typed ahead arrives as \n
        def _enter(event: Any) -> None:
            # Enter runs the input once it is a complete command (info complete),
            # otherwise it starts a continuation line, as tclsh reads prompt2 lines.
            buffer = event.current_buffer
            if buffer.complete_state is not None and buffer.complete_state.current_completion is not None:
                buffer.complete_state = None
                return
            if self.console.is_complete(buffer.text):
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        @keys.add("escape", "enter", filter=has_focus(DEFAULT_BUFFER))
        def _newline(event: Any) -> None:
            event.current_buffer.insert_text("\n")

        lexer = None
        if not os.environ.get("NO_COLOR"):
            try:
                from prompt_toolkit.lexers import PygmentsLexer
                from pygments.lexers.tcl import TclLexer

                lexer = PygmentsLexer(TclLexer)
            except ImportError:
                lexer = None
        return PromptSession(
            history=history,
            completer=make_completer(self.console),
            complete_while_typing=False,
            auto_suggest=AutoSuggestFromHistory(),
            enable_history_search=False,
            multiline=True,
            key_bindings=keys,
            lexer=lexer,
            enable_suspend=True,
        )

    # -- reading ---------------------------------------------------------------------
    def read(self) -> str | None:
        """One complete command; '' after Ctrl-C at the prompt; None at end of input."""
        first = self.console.prompt_text("tcl_prompt1", "% ")
        if self.session is None:
            return self._read_basic(first)
        from prompt_toolkit.formatted_text import ANSI

        second = self.console.prompt_text("tcl_prompt2", "")
        try:
            return self.session.prompt(
                ANSI(first), prompt_continuation=lambda width, line, soft: "" if soft else ANSI(second)
            )
        except KeyboardInterrupt:
            return ""
        except EOFError:
            return None

    def _read_basic(self, first: str) -> str | None:
        _basic_line_editing()
        text, prompt = "", first
        try:
            while True:
                text += self._input(prompt) + "\n"
                if self.console.is_complete(text):
                    return text.rstrip("\n")
                prompt = self.console.prompt_text("tcl_prompt2", "")
        except KeyboardInterrupt:
            write(sys.stdout, "\n")
            return ""
        except EOFError:
            return None

    def _input(self, prompt: str) -> str:
        try:
            return input(prompt)
        except OSError as exc:  # stdout cannot take the prompt: it is lost, not the session
            self.console.output_error = self.console.output_error or os_problem(exc)
            self.check_output()
            return input(prompt)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        """Read and run commands until end of input; the exit status is 1 when some
        output could not be written (a full disk), else 0."""
        while True:
            try:
                text = self.read()
                if text is None:
                    write(sys.stdout, "\n")
                    return 1 if self.console.output_error else 0
                self.handle(text)
            except KeyboardInterrupt:  # Ctrl-C between reading and evaluating
                write(sys.stderr, "\n" + self.err_style("31", "interrupted") + "\n")

    def handle(self, text: str) -> None:
        """Run one command line: ``.tb``, or a Tcl command whose result or error is shown."""
        command = text.strip()
        if not command:
            return
        if command == ".tb":
            self.show_trace()
            return
        self.record(text)
        ok, value, _ = self.console.evaluate(text)
        if not ok:
            self.show_error(value)
        elif value:
            self.show_result(value)
        self.check_output()
        self.check_handles()

    def show_result(self, value: str) -> None:
        problem = write_stdout(self.describe_result(value) + "\n")
        if problem and not self.console.output_error:
            self.console.output_error = problem

    def check_output(self) -> None:
        """Once stdout could not be written (results are lost), say so once on stderr;
        later output goes to /dev/null and the console ends with status 1."""
        if self.console.output_error and not self.output_reported:
            self.output_reported = True
            report_output_error(self.console.output_error)

    def describe_result(self, value: str) -> str:
        """A result that is one tensor handle is shown with its dtype and shape."""
        if not _TENSOR_HANDLE.fullmatch(value):
            return value
        try:
            obj = self.interp.get(value)
        except Exception:
            return value
        import torch

        from tcltorch.commands.spec import dtype_name

        if not isinstance(obj, torch.Tensor):
            return value
        shape = " ".join(str(n) for n in obj.shape)
        return f"{value}  {dtype_name(obj.dtype)} {{{shape}}}"

    def check_handles(self) -> None:
        """Warn once when the live handles pass the threshold (TCLTORCH_HANDLE_WARN, 0: never)."""
        if self.handle_warned or self.handle_threshold <= 0:
            return
        try:
            count = len(self.interp.handles())
        except Exception:
            return
        if count > self.handle_threshold:
            self.handle_warned = True
            write(
                sys.stderr,
                self.err_style(
                    "33",
                    f"warning: {count} live handles (over {self.handle_threshold}); they hold memory "
                    "until freed: torch::free HANDLE, or run loops inside torch::scope {...}",
                )
                + "\n",
            )

    def record(self, text: str) -> None:
        """Tcl's own history (the `history` command, !! in tclsh's unknown), as Tcl_Main does."""
        try:
            self.interp.call("history", "add", text)
        except Exception:
            pass

    def show_error(self, message: str) -> None:
        write(sys.stderr, self.err_style("31", message) + "\n" + self.err_style("2", TRACE_HINT) + "\n")

    def show_trace(self) -> None:
        try:
            info = self.interp.getvar("::errorInfo")
        except Exception:
            info = ""
        write(sys.stdout, (info or "(no error yet)") + "\n")


def _basic_line_editing() -> None:
    """readline editing for input(), and no tkinter input hook: tkinter installs one
    (to run Tk events while input() waits) that holds Ctrl-C back until Enter."""
    try:
        import readline  # noqa: F401
    except ImportError:
        pass
    try:
        import ctypes

        ctypes.c_void_p.in_dll(ctypes.pythonapi, "PyOS_InputHook").value = None
    except (ImportError, ValueError, AttributeError):
        pass
