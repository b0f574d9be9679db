"""``torch::help``: a command's syntax, options and aliases, read from the command specs."""

from __future__ import annotations

from collections import defaultdict

import torch

from tcltorch.commands import spec as S
from tcltorch.commands.spec import Opt, Str, command
from tcltorch.errors import TclError

FAMILY = "runtime/help"


def family(cmd: S.Command) -> str:
    """The command's family, recorded in its spec: ``domain/family`` (``nn/pooling``)."""
    return cmd.family


def find(name: str) -> S.Command | None:
    """The spec for a full name (``torch::x``), a short name (``x``) or any alias."""
    short = name.removeprefix("::")
    short = short.removeprefix("torch::")
    cmd = S.REGISTRY.get(short)
    if cmd is not None:
        return cmd
    for cmd in S.REGISTRY.values():
        if short in cmd.aliases:
            return cmd
    return None


def placeholder(opt: S.Opt) -> str:
    """The word shown after ``-flag`` in a named form (help and the docs pages)."""
    t = opt.type
    if isinstance(t, S.Handle):
        return t.kind or "handle"
    if isinstance(t, (S.Shape, S.IntList, S.HandleList)):
        return "list"
    if isinstance(t, S.Int):
        return "integer"
    if isinstance(t, S.Double):
        return "number"
    if t.doc in {"boolean", "dtype", "device", "script", "number", "integer", "list", "tensor/number"}:
        return t.doc
    if t.doc.endswith(" handle"):
        return t.doc.split()[0]
    if isinstance(t, S.Choice) and len(t.doc) <= 24:
        return t.doc
    return "value"


def default_text(opt: S.Opt, required: str = "required") -> str:
    """An option's default as help and the docs pages show it."""
    d = opt.default
    if opt.required:
        return required
    if opt.default_doc:
        return opt.default_doc
    if d is None:
        return "none"
    if isinstance(d, bool):
        return "true" if d else "false"
    if isinstance(d, torch.dtype):
        return S.dtype_name(d)
    if isinstance(d, (tuple, list)):
        return "{" + " ".join(str(x) for x in d) + "}"
    if d == "":
        return '""'
    if callable(d):
        return "computed"
    return str(d)


def named_form(cmd: S.Command, name: str) -> str:
    words = [f"torch::{name}"]
    for opt in cmd.options:
        if opt.last:
            continue
        word = f"{opt.flag} {placeholder(opt)}"
        words.append(word if opt.required else f"?{word}?")
    if cmd.tail is not None:
        words.append(cmd.tail.name)
    return " ".join(words)


def command_help(cmd: S.Command) -> str:
    lines = [f"torch::{cmd.name} - {cmd.summary}" if cmd.summary else f"torch::{cmd.name}", ""]
    lines.append("Syntax (named):")
    lines.append("    " + named_form(cmd, cmd.name))
    if cmd.positional or cmd.tail is not None:
        lines.append("Syntax (positional):")
        lines.append("    " + cmd.usage(cmd.name))
    if cmd.options:
        lines.append("Options:")
        for opt in cmd.options:
            flag = opt.name if opt.last else opt.flag
            lines.append(f"    {flag}  ({opt.type.doc}; default {default_text(opt)})")
            notes = []
            if opt.aliases:
                notes.append("also " + ", ".join("-" + a for a in opt.aliases))
            if opt.last:
                notes.append("always the last word, given without its flag")
            elif cmd.positional and not opt.positional:
                notes.append("named only")
            text = opt.help + (f" ({'; '.join(notes)})" if notes else "")
            if text.strip():
                lines.append(f"        {text.strip()}")
    else:
        lines.append("Options: none")
    lines.append("Aliases: " + (" ".join(f"torch::{a}" for a in cmd.aliases) if cmd.aliases else "none"))
    lines.append(f"Family: {family(cmd)}")
    return "\n".join(lines)


def overview() -> str:
    groups: dict[str, list[S.Command]] = defaultdict(list)
    for cmd in S.REGISTRY.values():
        groups[family(cmd)].append(cmd)
    lines = [f"{len(S.REGISTRY)} commands in {len(groups)} families; torch::help COMMAND for one command."]
    for fam in sorted(groups):
        lines.append("")
        lines.append(f"{fam} ({len(groups[fam])}):")
        for cmd in sorted(groups[fam], key=lambda c: c.name):
            lines.append(f"    torch::{cmd.name}" + (f" - {cmd.summary}" if cmd.summary else ""))
    return "\n".join(lines)


def help_text(name: str = "") -> str:
    """The text ``torch::help`` returns (also the console's ``help CMD``)."""
    if not name:
        return overview()
    cmd = find(name)
    if cmd is None:
        raise TclError(
            f'unknown command "{name}": torch::help without an argument lists them',
            ["TORCH", "VALUE", "-command"],
        )
    return command_help(cmd)


@command(
    "help",
    Opt("command", Str(), default="", help="a command: full name, short name or alias"),
    summary="a command's syntax, options and aliases, or every command by family",
    alias="",
)
def help_cmd(command: str = "") -> str:
    """With a command (`torch::tensor_add`, `tensor_add` or an alias such as `tensorAdd`): its
    syntax in the named and the positional form, every option with its type, default and
    description, its aliases and its family. Without one: every command, grouped by family
    (`domain/family`: the domains are tensors, nn, train and runtime), with its one-line summary.

    ## Return Value

    The help text (a string; `puts` it).

    Examples:
        puts [torch::help initial_seed]
        puts [string match "*Aliases: torch::tensorAdd*" [torch::help tensor_add]]   ;# -> 1
        puts [string match "*torch::tensor_add*" [torch::help]]   ;# -> 1
    """
    return help_text(command)
