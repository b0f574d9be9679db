"""Tab completion for the interactive console: Tcl commands and namespaces, ``torch::``
commands and their ``-options``, option values (dtypes, choices, booleans, handles of
the right kind), ``$variables`` and file names.  What may come after a ``torch::``
command's words is the spec's own answer (:meth:`Command.next_words`); the scanner in
:mod:`tcltorch.console.lexer` finds the command under the cursor."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from tcltorch.console.lexer import CursorContext, scan
from tcltorch.console.session import Console, tcl_split

if TYPE_CHECKING:
    from prompt_toolkit.completion import Completion

    from tcltorch.commands.spec import Command, NextWords, Opt

# Tcl commands whose first argument names a variable, and those taking file names.
_VAR_COMMANDS = {"set", "unset", "incr", "append", "lappend", "lset", "global", "upvar", "vwait", "array"}
_PATH_COMMANDS = {"source", "cd", "open", "load"}
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_VARIABLE_AT_END = re.compile(r"\$(\{?)((?:::)?[A-Za-z0-9_]*(?:::[A-Za-z0-9_]*)*)$")
# variables the host sets for itself, never the user's
_HIDDEN_VARS = {"_tkinter_skip_tk_init", "::_tkinter_skip_tk_init"}


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def option_meta(opt: Opt) -> str:
    """The note shown beside a completed -option: its type, and its default if it has one."""
    import torch

    from tcltorch.commands.spec import dtype_name

    text = opt.type.doc
    if opt.required or opt.default is None or callable(opt.default):
        return text
    default = opt.default
    if isinstance(default, bool):
        default = int(default)
    elif isinstance(default, torch.dtype):
        default = dtype_name(default)
    return f"{text}, default {default}"


class Sources:
    """Where candidates come from: the command registry and the live interpreter."""

    def __init__(self, console: Console) -> None:
        from tcltorch.commands import load_all

        self.interp = console.interp
        self.by_name: dict[str, Command] = {}
        for cmd in load_all().values():
            for name in cmd.names:
                self.by_name[name] = cmd

    def tcl_names(self, *words: str) -> list[str]:
        """A Tcl introspection command's list result ([] if it fails)."""
        try:
            return tcl_split(self.interp.call(*words))
        except Exception:
            return []

    def variables(self, prefix: str) -> list[str]:
        found = self.tcl_names("info", "vars", _glob_escape(prefix) + "*")
        return sorted(name for name in found if name not in _HIDDEN_VARS)

    def handles(self, kind: str | None = None) -> list[str]:
        return self.interp.handles(kind)

    def torch_command(self, name: str) -> Command | None:
        """The spec of ``torch::NAME`` / ``::torch::NAME`` (any alias), else None."""
        bare = name.removeprefix("::").removeprefix("torch::")
        return self.by_name.get(bare) if bare != name.removeprefix("::") else None

    def value_candidates(self, nxt: NextWords | None) -> tuple[list[str], str]:
        """Values for the next word of a torch:: command, and the note shown beside them."""
        from tcltorch.commands.spec import DTYPES, Custom, DType, Handle, HandleList, Str

        vtype = nxt.slot.type if nxt is not None and nxt.slot is not None else None
        if isinstance(vtype, (Handle, HandleList)):
            return self.handles(vtype.kind), vtype.doc
        if nxt is not None and nxt.choices:
            return list(nxt.choices), vtype.doc if vtype is not None else ""
        if isinstance(vtype, DType):
            return list(DTYPES), "dtype"
        if vtype is None or isinstance(vtype, (Str, Custom)):
            return self.handles(), "handle"
        return [], ""


def _matching(values: Iterable[str], prefix: str, meta: str) -> Iterator[Completion]:
    from prompt_toolkit.completion import Completion

    for value in values:
        if value.startswith(prefix):
            yield Completion(value, -len(prefix), display_meta=meta)


class CommandNames:
    """Completion of a command name: torch:: commands from the registry (an alias only
    where its command's own name does not match), then Tcl's commands and namespaces; when
    no name starts with what was typed, the torch:: commands (and Tcl commands) that contain
    it (``torch::transp`` -> ``torch::tensor_transpose``)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def complete(self, prefix: str, console_commands: bool = False) -> Iterator[Completion]:
        from prompt_toolkit.completion import Completion

        seen: set[str] = set()
        for full, meta in self._torch(prefix):
            seen.add(full)
            yield Completion(full, -len(prefix), display_meta=meta)
        for name in self._tcl(prefix):
            if name not in seen:
                seen.add(name)
                meta = "namespace" if name.endswith("::") else "command"
                yield Completion(name, -len(prefix), display_meta=meta)
        if console_commands and prefix.startswith(".") and ".tb".startswith(prefix):
            seen.add(".tb")
            yield Completion(".tb", -len(prefix), display_meta="console: print the last error's trace")
        if not seen:
            for full, meta in self.inside(prefix):
                yield Completion(full, -len(prefix), display_meta=meta)

    def inside(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Names that contain the typed fragment (after any ``torch::``): torch:: commands
        (under their own names, or an alias where only it matches), then, for a fragment
        without ``torch::``, Tcl's commands."""
        lead = "::" if prefix.startswith("::") else ""
        bare = prefix.removeprefix("::")
        in_torch = bare.startswith("torch::")
        fragment = bare.removeprefix("torch::")
        if len(fragment) < 2 or not fragment.replace("_", "a").isalnum():
            return
        offered = set()
        for name, cmd in sorted(
            self.sources.by_name.items(), key=lambda item: (item[0] != item[1].name, item[0])
        ):
            if fragment in name and cmd.name not in offered:
                offered.add(cmd.name)
                yield f"{lead}torch::{name}", cmd.summary
        if not in_torch:
            for name in sorted(self.sources.tcl_names("info", "commands", f"*{_glob_escape(fragment)}*")):
                name = name[2:] if not lead and name.startswith("::") else name
                if not name.lstrip(":").startswith(("torch::", "tcltorch::")):
                    yield name, "command"

    def _torch(self, prefix: str) -> Iterator[tuple[str, str]]:
        lead = "::" if prefix.startswith("::") else ""
        for name, cmd in sorted(self.sources.by_name.items()):
            full = f"{lead}torch::{name}"
            if name != cmd.name and f"{lead}torch::{cmd.name}".startswith(prefix):
                continue  # an alias of a command already offered under its own name
            if full.startswith(prefix):
                yield full, cmd.summary

    def _tcl(self, prefix: str) -> list[str]:
        """Tcl commands and namespaces (written ``ns::``) starting with ``prefix``, except
        torch:: (the registry's) and tcltorch:: (the host's own)."""
        relative = not prefix.startswith("::")
        names = []
        for name in sorted(self._found(prefix)):
            name = name[2:] if relative and name.startswith("::") else name
            if name.startswith(prefix) and not name.lstrip(":").startswith(("torch::", "tcltorch::")):
                names.append(name)
        return names

    def _found(self, prefix: str) -> list[str]:
        tcl_names = self.sources.tcl_names
        found = tcl_names("info", "commands", _glob_escape(prefix) + "*")
        found += [
            c + "::" for c in tcl_names("namespace", "children", "::", _glob_escape(prefix.lstrip(":")) + "*")
        ]
        if "::" in prefix.lstrip(":"):  # children of the namespace being typed
            parent, _, tail = prefix.rpartition("::")
            found += [
                c + "::" for c in tcl_names("namespace", "children", parent or "::", _glob_escape(tail) + "*")
            ]
        return found


class TclCompletion:
    """Candidates for the text before the cursor (prompt_toolkit's Completer wraps it)."""

    def __init__(self, console: Console) -> None:
        from prompt_toolkit.completion import PathCompleter

        self.sources = Sources(console)
        self.names = CommandNames(self.sources)
        self.paths = PathCompleter(expanduser=True)

    def complete(self, before: str, event: Any) -> Iterator[Completion]:
        var = _VARIABLE_AT_END.search(before)
        if var is not None:
            yield from _matching(self.sources.variables(var.group(2)), var.group(2), "variable")
            return
        ctx = scan(before)
        if ctx.kind == "comment" or ctx.current.startswith("{"):
            return
        prefix = ctx.current.removeprefix('"')
        if ctx.words:
            yield from self._arguments(ctx, prefix, event)
        elif ctx.kind == "brace":
            yield from self._brace_start(ctx.parent_words, prefix)
        else:
            yield from self.names.complete(
                prefix, console_commands=ctx.kind == "top" and before == ctx.current
            )

    def _arguments(self, ctx: CursorContext, prefix: str, event: Any) -> Iterator[Completion]:
        from prompt_toolkit.completion import Completion

        head, args = ctx.words[0], ctx.words[1:]
        if head in ("torch", "::torch"):  # the ensemble: torch SUBCOMMAND ...
            if not args:
                by_name = self.sources.by_name
                found = [
                    c for name in sorted(by_name) for c in _matching([name], prefix, by_name[name].summary)
                ]
                if not found:  # nothing starts so: the subcommands that contain it
                    found = [
                        Completion(full.removeprefix("torch::"), -len(prefix), display_meta=meta)
                        for full, meta in self.names.inside("torch::" + prefix)
                    ]
                yield from found
                return
            head, args = "torch::" + args[0], args[1:]
        cmd = self.sources.torch_command(head)
        if cmd is None:
            yield from self._tcl_arguments(head, args, prefix, event)
        else:
            yield from self._torch_arguments(cmd, args, prefix)

    def _torch_arguments(self, cmd: Command, args: list[str], prefix: str) -> Iterator[Completion]:
        from tcltorch.commands.spec import is_option_word

        nxt = cmd.next_words(args)
        if prefix.startswith("-") and (prefix == "-" or is_option_word(prefix)) and not nxt.after_flag:
            for opt in nxt.flags:
                yield from _matching([opt.flag], prefix, option_meta(opt))
            return
        candidates, meta = self.sources.value_candidates(nxt)
        yield from _matching(candidates, prefix, meta)

    def _brace_start(self, outer: list[str], prefix: str) -> Iterator[Completion]:
        """A word at the start of a {brace}: a script (commands) or a list (values)."""
        from tcltorch.commands.spec import Script

        cmd = self.sources.torch_command(outer[0]) if outer else None
        nxt = cmd.next_words(outer[1:]) if cmd is not None else None
        if nxt is not None and nxt.slot is not None and not isinstance(nxt.slot.type, Script):
            candidates, meta = self.sources.value_candidates(nxt)
            yield from _matching(candidates, prefix, meta)
        elif prefix:
            yield from self.names.complete(prefix)
            yield from _matching(self.sources.handles(), prefix, "handle")

    def _tcl_arguments(self, head: str, args: list[str], prefix: str, event: Any) -> Iterator[Completion]:
        from prompt_toolkit.document import Document

        bare = head.removeprefix("::")
        if bare in _VAR_COMMANDS and (not args or bare in ("unset", "global")):
            yield from _matching(self.sources.variables(prefix), prefix, "variable")
        elif bare in _PATH_COMMANDS and not args:
            yield from self.paths.get_completions(Document(prefix), event)
        else:
            yield from _matching(self.sources.handles(), prefix, "handle")


def make_completer(console: Console) -> Any:
    """A prompt_toolkit Completer for the console (a completion problem never breaks the prompt)."""
    from prompt_toolkit.completion import Completer

    class TclCompleter(Completer):
        def __init__(self) -> None:
            self.completion = TclCompletion(console)

        def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
            try:
                yield from self.completion.complete(document.text_before_cursor, complete_event)
            except Exception:
                return

    return TclCompleter()
