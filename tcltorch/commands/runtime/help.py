"""``torch::help``: a command's syntax, options and aliases, read from the command specs."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

import torch

from tcltorch.commands import spec as S
from tcltorch.commands.spec import Opt, Str, command
from tcltorch.errors import TclError, shorten

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


def families() -> dict[str, list[S.Command]]:
    """Every command by family (``domain/family``), each family's commands sorted by name."""
    groups: dict[str, list[S.Command]] = defaultdict(list)
    for cmd in S.REGISTRY.values():
        groups[family(cmd)].append(cmd)
    return {fam: sorted(groups[fam], key=lambda c: c.name) for fam in sorted(groups)}


def overview() -> str:
    """The family list with counts (``torch::help`` without an argument)."""
    groups = families()
    lines = [
        (
            f"{len(S.REGISTRY)} commands in {len(groups)} families; "
            "torch::help COMMAND for one command, torch::help FAMILY (or -family NAME) for one family, "
            "torch::help WORD (or -search WORD) to search."
        )
    ]
    domain = ""
    for fam, cmds in groups.items():
        head = fam.partition("/")[0]
        if head != domain:
            domain = head
            lines.append("")
            lines.append(f"{head}:")
        lines.append(f"    {fam} ({len(cmds)}): " + _sample(cmds))
    return "\n".join(lines)


def _sample(cmds: list[S.Command], width: int = 70) -> str:
    """The first command names of a family, as many as fit in ``width`` characters."""
    text = ""
    for i, cmd in enumerate(cmds):
        word = cmd.name if not text else " " + cmd.name
        if len(text) + len(word) > width:
            return text + f" ... (+{len(cmds) - i})"
        text += word
    return text


def find_family(name: str) -> str | None:
    """The family a name means: ``nn/pooling``, or ``pooling`` when only one domain has it."""
    groups = families()
    if name in groups:
        return name
    hits = [fam for fam in groups if fam.partition("/")[2] == name]
    return hits[0] if len(hits) == 1 else None


def family_help(fam: str) -> str:
    cmds = families()[fam]
    lines = [f"{fam} ({len(cmds)} commands); torch::help COMMAND for one command."]
    for cmd in cmds:
        lines.append(f"    torch::{cmd.name}" + (f" - {cmd.summary}" if cmd.summary else ""))
    return "\n".join(lines)


# -- search ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    """One search hit: the command, its score (higher first) and what matched (``name``,
    ``alias torch::x``, ``wraps torch.nn.GRU``, ``option -globalClipNorm``, ``summary``, ``doc``)."""

    cmd: S.Command
    score: int
    why: str
    every_word: bool = True  # it matched every word of the query


_WORD = re.compile(r"[A-Za-z0-9]+")


def _words(text: str) -> set[str]:
    """The lower-case words of a text, camelCase and snake_case split (``globalClipNorm`` ->
    global clip norm; ``clip_grad_norm`` -> clip grad norm)."""
    return {w.lower() for w in _WORD.findall(S.snake(text).replace("_", " "))}


def _term_score(cmd: S.Command, term: str) -> tuple[int, str]:
    """How well one lower-case search term matches a command: (score, what matched); 0 if not."""
    best = (0, "")

    def hit(score: int, why: str) -> None:
        nonlocal best
        if score > best[0]:
            best = (score, why)

    name = cmd.name.lower()
    words = _words(cmd.name)
    if term == name:
        hit(100, "name")
    elif term == name.removeprefix("tensor_"):  # tensor_permute is the tensor method permute
        hit(90, "name")
    elif term in words:
        hit(80, "name")
    elif term in name:
        hit(60 if name.startswith(term) else 55, "name")
    for alias in cmd.aliases:
        low = alias.lower()
        if term == low:
            hit(95, f"alias torch::{alias}")
        elif term in low:
            hit(50, f"alias torch::{alias}")
    for rank, wrapped in enumerate(cmd.wraps):
        low = wrapped.lower()
        if term == low or low.endswith("." + term) or low.removeprefix("torch.") == term:
            # the first name a command's doc gives is what it wraps; later ones are mentions;
            # a command named for the function (tensor_transpose: torch.transpose) first
            named = name.removeprefix("tensor_") == low.rpartition(".")[2]
            hit((75 if rank == 0 else 65) + (5 if named else 0), f"wraps {wrapped}")
        elif term in low.rpartition(".")[2]:
            hit(45, f"wraps {wrapped}")
    opts = {40: [], 35: []}
    for opt in cmd.options:
        flags = [opt.name, *opt.aliases]
        if any(term == f.lower() for f in flags) or any(term in _words(f) for f in flags):
            opts[40].append(opt.flag)
        elif any(term in f.lower() for f in flags):
            opts[35].append(opt.flag)
    for score, flags in opts.items():
        if flags:
            hit(score, ("options " if len(flags) > 1 else "option ") + " ".join(flags))
            break
    if term in _words(cmd.summary):
        hit(30, "summary")
    elif len(term) > 3 and term in cmd.summary.lower():
        hit(20, "summary")
    if term in _words(cmd.doc):
        hit(10, "doc")
    return best


# words a user types for what the commands call otherwise
_SYNONYMS = {"learning rate": "lr", "gpu": "cuda", "weights": "parameters", "minibatch": "batch"}


def _score(cmd: S.Command, term: str) -> tuple[int, str]:
    """A term's score, a plural also as its singular (``handles`` finds ``handle``)."""
    score, why = _term_score(cmd, term)
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        for single in {term[:-1], term[:-2] if term.endswith("es") else term[:-1]}:
            found = _term_score(cmd, single)
            if found[0] > score:
                score, why = found
    return score, why


def search(query: str) -> list[Match]:
    """The commands a query finds, best first: each word of the query is looked for in the
    command's name, aliases, the PyTorch function it wraps, its option names, its summary and
    its doc (a plural also as its singular; a few everyday words as the commands say them:
    ``learning rate`` is ``lr``, ``gpu`` is ``cuda``); a dotted word (``torch.nn.GRU``) also by
    its last part (``gru``), at half the score. Commands that match every word come first; with several words, those matching
    only some follow when one of them matched more than the doc text."""
    text = " ".join(query.lower().split())
    for words, instead in _SYNONYMS.items():
        text = re.sub(rf"\b{words}\b", instead, text)
    terms = text.split()
    if not terms:
        return []
    ranked = []
    for cmd in S.REGISTRY.values():
        total, matched, best, reasons = 0, 0, 0, []
        for term in terms:
            score, why = _score(cmd, term)
            if not score and "." in term:
                score, why = _score(cmd, term.rpartition(".")[2])
                score = score // 2
            if score:
                total, matched, best = total + score, matched + 1, max(best, score)
                reasons.append(why)
        if matched == len(terms) or (matched and best >= 30):
            why = reasons[0] if len(set(reasons)) == 1 else ", ".join(dict.fromkeys(reasons))
            ranked.append((-matched, -total, cmd.name, Match(cmd, total, why, matched == len(terms))))
    ranked.sort(key=lambda r: r[:3])
    return [r[3] for r in ranked]


def _count(n: int) -> str:
    return "1 command matches" if n == 1 else f"{n} commands match"


def search_text(query: str, limit: int = 25, option: str = "-search") -> str:
    """What ``torch::help -search WORD`` returns: the ranked hits, one a line."""
    hits = search(query)
    if not hits:
        raise TclError(
            f'no command matches "{shorten(query)}": torch::help without an argument lists the families',
            ["TORCH", "VALUE", option],
        )
    full = sum(m.every_word for m in hits)
    if full == len(hits):
        head = f'{_count(full)} "{query}"'
    elif full:
        head = f'{_count(full)} "{shorten(query)}", {len(hits) - full} more some of its words'
    else:
        head = f'no command matches every word of "{shorten(query)}"; {len(hits)} match some'
    lines = [head + "; torch::help COMMAND for one:"]
    for m in hits[:limit]:
        note = "" if m.why == "name" else f" [{m.why}]"
        lines.append(f"    torch::{m.cmd.name}{note}" + (f" - {m.cmd.summary}" if m.cmd.summary else ""))
    if len(hits) > limit:
        lines.append(f"    ... and {len(hits) - limit} more")
    return "\n".join(lines)


def help_text(name: str = "", search_for: str = "", family_name: str = "") -> str:
    """The text ``torch::help`` returns (also the console's ``help CMD``): one command, one
    family, a search, or the family list."""
    if sum(bool(x) for x in (name, search_for, family_name)) > 1:
        raise TclError("give one of a command, -search WORD or -family NAME", ["TORCH", "ARGS", "EXCLUSIVE"])
    if family_name:
        fam = find_family(family_name)
        if fam is None:
            raise TclError(
                f'unknown family "{family_name}": must be {S.tcl_or_list(list(families()))}',
                ["TORCH", "VALUE", "-family"],
            )
        return family_help(fam)
    if search_for:
        return search_text(search_for)
    if not name:
        return overview()
    cmd = find(name)
    if cmd is not None:
        return command_help(cmd)
    fam = find_family(name)
    if fam is not None:
        return family_help(fam)
    return search_text(name, option="-command")


@command(
    "help",
    Opt(
        "command",
        Str(),
        default="",
        help="a command (full name, short name or alias), a family, or a word to search for",
    ),
    Opt("search", Str(), default="", positional=False, help="list the commands a word finds, best first"),
    Opt(
        "family",
        Str(),
        default="",
        positional=False,
        help="list one family's commands (nn/pooling or pooling)",
    ),
    summary="a command's syntax, options and aliases; a family; a search; or the family list",
    alias="",
)
def help_cmd(command: str = "", search: str = "", family: str = "") -> str:
    r"""With a command (`torch::tensor_add`, `tensor_add` or an alias such as `tensorAdd`): its
    syntax in the named and the positional form, every option with its type, default and
    description, its aliases and its family. With a family (`nn/pooling`, or `pooling` where
    only one domain has it; or `-family NAME`): that family's commands with their one-line
    summaries. Without an argument: the families (`domain/family`: the domains are tensors, nn,
    train and runtime), each with its count and its first commands.

    Any other word searches (as `-search WORD` does): the commands whose name, aliases, option
    names, summary or doc text contain it, or that wrap the PyTorch function or class it names
    (a dotted name, as in the examples), best first, each with what matched (`[option -x]`,
    `[wraps ...]`, `[summary]`, `[doc]`; nothing for the name). With several words, the commands
    matching all of them come first.
    The console's `help WORD` is the same.

    ## Return Value

    The help text (a string; `puts` it).

    ## Errors

    A word nothing matches: `no command matches "WORD"`; an unknown `-family`; a command
    together with `-search` or `-family`.

    Examples:
        puts [torch::help initial_seed]
        puts [string match "*Aliases: torch::tensorAdd*" [torch::help tensor_add]]   ;# -> 1
        puts [string match "*nn/pooling (17)*" [torch::help]]   ;# -> 1
        puts [regexp {^1 command matches "permute"[^\n]*\n    torch::tensor_permute - } [torch::help permute]]   ;# -> 1
        puts [regexp {\n    torch::optimizer_adam \[options -clipNorm -clipValue -globalClipNorm\]} [torch::help clip]]   ;# -> 1
        puts [regexp {^[^\n]*\n    torch::gru \[wraps torch.nn.GRU\]} [torch::help torch.nn.GRU]]   ;# -> 1
    """
    return help_text(command, search, family)
