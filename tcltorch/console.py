"""The ``tcltorch`` command: tclsh with the ``torch::`` commands loaded.

``tcltorch FILE.tcl ?arg ...?`` runs a script, ``tcltorch -c SCRIPT`` evaluates one
string, ``tcltorch < FILE`` reads commands from a pipe or file the way ``tclsh < FILE``
does, and plain ``tcltorch`` on a terminal is an interactive console: tclsh's prompts
and rules (``tcl_prompt1``/``tcl_prompt2``, ``info complete``, ``~/.tcltorchrc``) with
a line editor on top (prompt_toolkit: persistent history, Ctrl-R, Tab completion of
commands, ``-options``, handles and ``$variables``; Ctrl-C interrupts a running command).
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tcltorch import __version__
from tcltorch.errors import TclError

if TYPE_CHECKING:  # importing the interpreter imports torch: not for --help/--version
    from tcltorch.interp import Interp

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
    proc flush {} {
        catch {chan flush stdout}
        catch {chan flush stderr}
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
        "proc ::exit {{status 0}} {\n"
        "    catch {flush stdout}; catch {flush stderr}\n"
        "    ::tcltorch::exit_process $status\n"
        "}"
    )
    interp.eval(_CONSOLE_TCL)
    if interactive:
        # the console's help: the same text as torch::help (a Tcl proc named help wins over
        # nothing: tclsh has no help command)
        interp.eval("proc ::help {args} { puts [::torch::help {*}$args] }")
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
        runs a Ctrl-C that arrived as the evaluation ended, instead of the next command."""
        try:
            self.interp.call("::tcltorch::console::flush")
        except Exception:
            pass
        sys.stdout.flush()

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
            _write(sys.stderr, f"{message}\n    (in {path})\n")

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
                _write(sys.stderr, info + "\n")
                return 1
        if pending.strip():  # an unfinished command at EOF: let Tcl say what is missing
            ok, _, info = self.evaluate(pending)
            if not ok:
                _write(sys.stderr, info + "\n")
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
            code, text, message = _tcl_split(self.interp.call("::tcltorch::console::prompt", var))
        except KeyboardInterrupt:
            return default
        except Exception as exc:  # the helper itself failed (a redefined chan, say)
            _write(sys.stderr, f"{error_message(exc)}\n    (script that generates prompt)\n")
            return default
        if code == "1":
            _write(sys.stderr, f"{message}\n    (script that generates prompt)\n")
            return default
        return text


def _tcl_split(text: str) -> list[str]:
    from tcltorch.bridge import split

    return split(text)


def _write(stream: Any, text: str) -> None:
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------
# completion: a small Tcl scanner finds the command and word under the cursor


@dataclass
class _Frame:
    """One level of nesting while scanning: the top level, a [command] or a {brace}."""

    kind: str  # "top", "bracket" or "brace"
    parent_words: list[str] = field(default_factory=list)  # the enclosing command's words
    words: list[str] = field(default_factory=list)
    word_start: int | None = None
    in_quote: bool = False
    in_comment: bool = False


@dataclass
class CursorContext:
    """The command being typed: its complete words and the partial word at the cursor."""

    kind: str
    words: list[str]
    current: str
    parent_words: list[str]


def scan(text: str) -> CursorContext:
    """Find the innermost command at the end of ``text`` (heuristic, for completion:
    a brace may hold a script or a list, so braces are scanned like brackets)."""
    stack = [_Frame("top")]
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        f = stack[-1]
        if f.in_comment:
            if ch == "\\":
                i += 2
                continue
            if ch == "\n":
                f.in_comment = False
            elif ch == "}" and f.kind == "brace":
                stack.pop()
            i += 1
            continue
        if ch == "\\":
            if f.word_start is None:
                f.word_start = i
            i += 2
            continue
        if f.kind == "brace" and ch == "}":
            stack.pop()
            i += 1
            continue
        if ch == "{" and (f.kind == "brace" or f.word_start is None):
            if f.word_start is None:
                f.word_start = i
            stack.append(_Frame("brace", parent_words=list(f.words)))
            i += 1
            continue
        if ch == "[":
            if f.word_start is None:
                f.word_start = i
            stack.append(_Frame("bracket", parent_words=list(f.words)))
            i += 1
            continue
        if ch == "]" and f.kind == "bracket" and not f.in_quote:
            stack.pop()
            i += 1
            continue
        if f.in_quote:
            if ch == '"':
                f.in_quote = False
            i += 1
            continue
        if ch == '"' and f.word_start is None:
            f.word_start = i
            f.in_quote = True
        elif ch in " \t":
            if f.word_start is not None:
                f.words.append(text[f.word_start : i])
                f.word_start = None
        elif ch in "\n;":
            f.words, f.word_start = [], None
        elif ch == "#" and f.word_start is None and not f.words:
            f.in_comment = True
        elif f.word_start is None:
            f.word_start = i
        i += 1
    f = stack[-1]
    current = "" if f.word_start is None else text[f.word_start :]
    if f.in_comment:
        return CursorContext("comment", [], "", [])
    return CursorContext(f.kind, f.words, current, f.parent_words)


# Tcl commands whose first argument names a variable, and those taking file names.
_VAR_COMMANDS = {"set", "unset", "incr", "append", "lappend", "lset", "global", "upvar", "vwait", "array"}
_PATH_COMMANDS = {"source", "cd", "open", "load"}
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


# variables the host sets for itself, never the user's
_HIDDEN_VARS = {"_tkinter_skip_tk_init", "::_tkinter_skip_tk_init"}


def _make_completer(console: Console) -> Any:
    import torch
    from prompt_toolkit.completion import Completer, Completion, PathCompleter
    from prompt_toolkit.document import Document

    from tcltorch.commands import load_all
    from tcltorch.commands.spec import (
        DTYPES,
        Choice,
        Command,
        Custom,
        DType,
        Handle,
        HandleList,
        Script,
        Str,
        dtype_name,
        is_option_word,
    )

    registry = load_all()
    by_name: dict[str, Command] = {}
    for cmd in registry.values():
        for name in cmd.names:
            by_name[name] = cmd
    paths = PathCompleter(expanduser=True)
    interp = console.interp

    def tcl_names(*words: str) -> list[str]:
        try:
            return _tcl_split(interp.call(*words))
        except Exception:
            return []

    def torch_command(name: str) -> Command | None:
        bare = name.removeprefix("::").removeprefix("torch::")
        return by_name.get(bare) if bare != name.removeprefix("::") else None

    def option_slot(cmd: Command, args: list[str]) -> tuple[Any, bool]:
        """The option whose value the word after ``args`` is (None where only a flag
        can go), and whether that word is the value of a -flag just typed."""
        i, n = 0, len(args)
        if not (n and is_option_word(args[0])):
            pos = 0
            while i < n and not is_option_word(args[i]) and pos < len(cmd.positional):
                if cmd.positional[pos].rest:
                    while i < n and not is_option_word(args[i]):
                        i += 1
                    break
                i += 1
                pos += 1
            if i == n:
                if pos < len(cmd.positional):
                    return cmd.positional[pos], False
                last = cmd.positional[-1] if cmd.positional else None
                return (last if last is not None and last.rest else None), False
        rest = args[i:]
        if len(rest) % 2 == 1:
            try:
                return cmd._option(rest[-1]), True
            except TclError:
                return None, True
        return None, False

    def used_options(cmd: Command, args: list[str]) -> set[str]:
        used: set[str] = set()
        named = bool(args) and is_option_word(args[0])
        pos = 0
        for i, word in enumerate(args):
            if is_option_word(word) and (named or i >= pos):
                named = True
                try:
                    used.add(cmd._option(word).name)
                except TclError:
                    pass
            elif not named and pos < len(cmd.positional):
                used.add(cmd.positional[pos].name)
                pos += 1
        return used

    def value_candidates(value_type: Any) -> tuple[list[str], str]:
        if isinstance(value_type, (Handle, HandleList)):
            return interp.handles(value_type.kind), value_type.doc
        if isinstance(value_type, Choice):
            return list(value_type.choices), ""
        if isinstance(value_type, DType):
            return list(DTYPES), "dtype"
        if isinstance(value_type, (Str, Custom)) or value_type is None:
            return interp.handles(), "handle"
        return [], ""

    def meta_of(opt: Any) -> str:
        text = opt.type.doc
        if not opt.required and opt.default is not None and not callable(opt.default):
            default = opt.default
            if isinstance(default, bool):
                default = int(default)
            elif isinstance(default, torch.dtype):
                default = dtype_name(default)
            text += f", default {default}"
        return text

    class TclCompleter(Completer):
        def get_completions(self, document: Document, complete_event: Any) -> Iterator[Completion]:
            try:
                yield from self._completions(document, complete_event)
            except Exception:  # never let a completion problem break the prompt
                return

        def _completions(self, document: Document, event: Any) -> Iterator[Completion]:
            before = document.text_before_cursor
            var = re.search(r"\$(\{?)((?:::)?[A-Za-z0-9_]*(?:::[A-Za-z0-9_]*)*)$", before)
            if var is not None:
                prefix = var.group(2)
                for name in sorted(tcl_names("info", "vars", _glob_escape(prefix) + "*")):
                    if name not in _HIDDEN_VARS:
                        yield Completion(name, -len(prefix), display_meta="variable")
                return
            ctx = scan(before)
            if ctx.kind == "comment":
                return
            word = ctx.current
            prefix = word.removeprefix('"')
            if word.startswith("{"):
                return
            if not ctx.words:
                if ctx.kind == "brace":
                    yield from self._values(ctx.parent_words, prefix)
                    return
                yield from self._commands(prefix, console_commands=ctx.kind == "top" and before == word)
                return
            head = ctx.words[0]
            args = ctx.words[1:]
            if head in ("torch", "::torch"):
                if not args:
                    for name in sorted(by_name):
                        if name.startswith(prefix):
                            yield Completion(name, -len(prefix), display_meta=by_name[name].summary)
                    return
                head, args = "torch::" + args[0], args[1:]
            cmd = torch_command(head)
            if cmd is None:
                yield from self._tcl_arguments(head, args, prefix, event)
                return
            opt, after_flag = option_slot(cmd, args)
            if prefix.startswith("-") and (prefix == "-" or is_option_word(prefix)) and not after_flag:
                used = used_options(cmd, args)
                for opt in cmd.options:
                    if opt.name not in used and opt.flag.startswith(prefix):
                        yield Completion(opt.flag, -len(prefix), display_meta=meta_of(opt))
                return
            candidates, meta = value_candidates(opt.type if opt is not None else None)
            for value in candidates:
                if value.startswith(prefix):
                    yield Completion(value, -len(prefix), display_meta=meta)

        def _commands(self, prefix: str, console_commands: bool = False) -> Iterator[Completion]:
            seen: set[str] = set()
            lead = "::" if prefix.startswith("::") else ""
            for name in sorted(by_name):
                full = f"{lead}torch::{name}"
                cmd = by_name[name]
                if name != cmd.name and f"{lead}torch::{cmd.name}".startswith(prefix):
                    continue  # an alias of a command already offered under its own name
                if full.startswith(prefix):
                    seen.add(full)
                    yield Completion(full, -len(prefix), display_meta=by_name[name].summary)
            relative = not prefix.startswith("::")
            found = tcl_names("info", "commands", _glob_escape(prefix) + "*")
            found += [
                c + "::"
                for c in tcl_names("namespace", "children", "::", _glob_escape(prefix.lstrip(":")) + "*")
            ]
            if "::" in prefix.lstrip(":"):  # children of the namespace being typed
                parent, _, tail = prefix.rpartition("::")
                found += [
                    c + "::"
                    for c in tcl_names("namespace", "children", parent or "::", _glob_escape(tail) + "*")
                ]
            for name in sorted(found):
                name = name[2:] if relative and name.startswith("::") else name
                if not name.startswith(prefix) or name in seen:
                    continue
                if name.lstrip(":").startswith(("torch::", "tcltorch::")):
                    continue  # torch:: commands come from the registry; tcltorch:: is ours
                seen.add(name)
                yield Completion(
                    name, -len(prefix), display_meta="namespace" if name.endswith("::") else "command"
                )
            if console_commands and ".tb".startswith(prefix) and prefix.startswith("."):
                yield Completion(".tb", -len(prefix), display_meta="console: print the last error's trace")

        def _values(self, outer: list[str], prefix: str) -> Iterator[Completion]:
            """A word at the start of a {brace}: a script (commands) or a list (values)."""
            cmd = torch_command(outer[0]) if outer else None
            opt = option_slot(cmd, outer[1:])[0] if cmd is not None else None
            if opt is not None and not isinstance(opt.type, Script):
                candidates, meta = value_candidates(opt.type)
                for value in candidates:
                    if value.startswith(prefix):
                        yield Completion(value, -len(prefix), display_meta=meta)
                return
            if prefix:
                yield from self._commands(prefix)
                for value in interp.handles():
                    if value.startswith(prefix):
                        yield Completion(value, -len(prefix), display_meta="handle")

        def _tcl_arguments(self, head: str, args: list[str], prefix: str, event: Any) -> Iterator[Completion]:
            bare = head.removeprefix("::")
            if bare in _VAR_COMMANDS and (not args or bare in ("unset", "global")):
                for name in sorted(tcl_names("info", "vars", _glob_escape(prefix) + "*")):
                    if name not in _HIDDEN_VARS:
                        yield Completion(name, -len(prefix), display_meta="variable")
                return
            if bare in _PATH_COMMANDS and not args:
                yield from paths.get_completions(Document(prefix), event)
                return
            for value in interp.handles():
                if value.startswith(prefix):
                    yield Completion(value, -len(prefix), display_meta="handle")

    return TclCompleter()


# ---------------------------------------------------------------------------
# the interactive loop


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
                    _write(sys.stderr, f"tcltorch: history not saved: {exc}\n")

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
        self.session: Any = None
        if sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb":
            try:
                self.session = self._make_session()
            except Exception as exc:  # no usable prompt_toolkit: fall back to input()
                _write(sys.stderr, f"tcltorch: no line editor ({exc}); reading plain lines\n")
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
                _write(sys.stderr, f"tcltorch: history not saved: {exc}\n")
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
            completer=_make_completer(self.console),
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
                text += input(prompt) + "\n"
                if self.console.is_complete(text):
                    return text.rstrip("\n")
                prompt = self.console.prompt_text("tcl_prompt2", "")
        except KeyboardInterrupt:
            _write(sys.stdout, "\n")
            return ""
        except EOFError:
            return None

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        while True:
            try:
                text = self.read()
                if text is None:
                    _write(sys.stdout, "\n")
                    return 0
                if not text.strip():
                    continue
                if text.strip() == ".tb":
                    self.show_trace()
                    continue
                self.record(text)
                ok, value, _ = self.console.evaluate(text)
                if ok:
                    if value:
                        _write(sys.stdout, self.describe_result(value) + "\n")
                else:
                    self.show_error(value)
                self.check_handles()
            except KeyboardInterrupt:  # Ctrl-C between reading and evaluating
                _write(sys.stderr, "\n" + self.err_style("31", "interrupted") + "\n")

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
            _write(
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
        _write(sys.stderr, self.err_style("31", message) + "\n" + self.err_style("2", TRACE_HINT) + "\n")

    def show_trace(self) -> None:
        try:
            info = self.interp.getvar("::errorInfo")
        except Exception:
            info = ""
        _write(sys.stdout, (info or "(no error yet)") + "\n")


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


# ---------------------------------------------------------------------------
# entry points


def run_file(path: str, args: Sequence[str]) -> int:
    """``tcltorch FILE.tcl``: source it with Ctrl-C armed; errorInfo on stderr and status 1
    on error (an interrupt included)."""
    console = Console(new_interp(path, args, interactive=False))
    ok, _, info = console.source(path)
    if not ok:
        _write(sys.stderr, info + "\n")
        return 1
    return 0


def run_command(script: str, args: Sequence[str]) -> int:
    """``tcltorch -c SCRIPT``: evaluate, print a non-empty result, exit 1 on error."""
    console = Console(new_interp("-c", args, interactive=False))
    ok, value, info = console.evaluate(script)
    if not ok:
        _write(sys.stderr, info + "\n")
        return 1
    if value:
        _write(sys.stdout, value + "\n")
    return 0


def rc_path() -> str:
    return os.path.join(os.path.expanduser("~"), ".tcltorchrc")


def run_stdin(argv0: str, args: Sequence[str]) -> int:
    console = Console(new_interp(argv0, args, interactive=False))
    console.source_rc(rc_path())
    return console.run_stream()


def interact(args: Sequence[str] = ()) -> int:
    console = Console(new_interp("tcltorch", args, interactive=True))
    front = Interactive(console)
    import torch

    patch = console.interp.call("info", "patchlevel")
    _write(
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _ensure_std_streams()
    try:
        if argv and argv[0] in ("-h", "--help"):
            print(USAGE)
            return 0
        if argv and argv[0] == "--tcl-path":
            from tcltorch.__main__ import tcl_path

            print(tcl_path())
            return 0
        if argv and argv[0] in ("--install-tcl", "--uninstall-tcl"):
            from tcltorch import tcl_install

            return tcl_install.main(argv)
        if argv and argv[0] == "--version":
            print(f"tcltorch {__version__}")
            return 0
        if argv and argv[0] == "-c":
            if len(argv) < 2:
                print("tcltorch: -c needs a script\n" + USAGE, file=sys.stderr)
                return 2
            return run_command(argv[1], argv[2:])
        if argv and argv[0] == "-":
            return run_stdin("-", argv[1:])
        if argv and argv[0].startswith("-") and argv[0] != "--":
            print(f"tcltorch: unknown option {argv[0]}\n{USAGE}", file=sys.stderr)
            return 2
        if argv and argv[0] == "--":
            argv = argv[1:]
        if argv:
            return run_file(argv[0], argv[1:])
        if sys.stdin.isatty():
            return interact()
        return run_stdin("tcltorch", [])
    except KeyboardInterrupt:  # Ctrl-C during start-up (importing torch, say)
        return 130
    except BrokenPipeError:  # the reader of our output went away (tcltorch | head)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1


if __name__ == "__main__":
    sys.exit(main())
