"""Shared machinery of the layer tables: value types and commands with two forms.

Most layer commands here have two forms, chosen by their first argument:

* a tensor handle first (or ``-input``/``-tensor`` among the options) applies the
  layer's function to that tensor and returns a tensor (``torch::selu $x``);
* anything else builds the ``torch.nn`` module (``torch::selu``, ``torch::maxpool2d 2``)
  for ``torch::sequential`` and ``torch::layer_forward``.

:class:`DualCommand` is an ordinary :class:`Command` (one name, its aliases, the union of
both forms' options for docs and completion) whose parse picks the form and parses the
words with that form's own spec, so usage and error messages are the form's own.

Each family file declares rows; :func:`layer` turns a row into the command.  A command's page
text is given with its declaration (a :class:`Doc` passed to :func:`layer` or :func:`register`),
never set on a registered command afterwards; :data:`DOCS` keeps each example for
tools/nn_shown.py."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from tcltorch.commands.spec import (
    REGISTRY,
    Command,
    Custom,
    Opt,
    ParseHook,
    ValueType,
    add,
    is_option_word,
    parse_int64,
    parse_tcl_double,
)
from tcltorch.commands.vocabulary import _input
from tcltorch.errors import invalid_value

# name -> {"description": str, "example": str, "see": [names]}: what tools/nn_shown.py runs
DOCS: dict[str, dict[str, Any]] = {}


# name -> what each `puts` line of its example prints, recorded by tools/nn_shown.py; the pages
# show it as `;# -> ...` and tests/test_docs.py checks it on every run.  Recorded data rather than
# literals in the rows: the values are computed by running the examples (float digits, shapes), so
# a change of torch or of an example is re-recorded by the tool, not retyped by hand.  It is
# applied when a command is declared (Doc -> page()), like the rest of the page text.
SHOWN_FILE = pathlib.Path(__file__).with_name("shown.json")


_SHOWN: dict[str, list[str]] = (
    json.loads(SHOWN_FILE.read_text(encoding="utf-8")) if SHOWN_FILE.exists() else {}
)


def int_tuple(n: int, least: int = 1, keywords: tuple[str, ...] = ()) -> Custom:
    """An integer >= least, or a list of ``n`` of them (one per spatial dimension)."""
    bound = "positive" if least == 1 else ("non-negative" if least == 0 else f">= {least}")
    requirement = f"must be a {bound} integer" + (f" or a list of {n}" if n > 1 else "")
    if keywords:
        requirement += ", or " + " or ".join(keywords)

    def convert(text: str, option: str, ctx: Any) -> Any:
        if text.strip() in keywords:
            return text.strip()
        values = [parse_int64(w) for w in ctx.split(text, option)]
        if len(values) not in {1, n} or any(v is None or v < least for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else tuple(values)

    return Custom(convert, "integer" if n == 1 else f"integer or list of {n}", requirement)


def int_list(counts: Sequence[int], least: int = 0) -> Custom:
    """An integer >= least, or a list with one of the given lengths (paddings)."""
    lengths = " or ".join(str(c) for c in counts)
    requirement = f"must be a non-negative integer or a list of {lengths} of them"

    def convert(text: str, option: str, ctx: Any) -> Any:
        values = [parse_int64(w) for w in ctx.split(text, option)]
        if (len(values) != 1 and len(values) not in counts) or any(v is None or v < least for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else tuple(values)

    return Custom(convert, "integer or list", requirement)


def float_tuple(n: int) -> Custom:
    """A positive number, or a list of ``n`` of them (scale factors)."""
    requirement = "must be a positive number" + (f" or a list of {n}" if n > 1 else "")

    def convert(text: str, option: str, ctx: Any) -> Any:
        values = [parse_tcl_double(w) for w in ctx.split(text, option)]
        if len(values) not in {1, n} or any(v is None or not v > 0 or v == float("inf") for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else tuple(values)

    return Custom(convert, "number or list", requirement)


def _size_list(text: str, option: str, ctx: Any) -> Any:
    values = [parse_int64(w) for w in ctx.split(text, option)]
    if not values or any(v is None or v < 1 for v in values):
        raise invalid_value(option, text, "must be a positive integer or a list of them")
    return values[0] if len(values) == 1 else tuple(values)


SizeList = Custom(_size_list, "integer or list", "must be a positive integer or a list of them")


def _optional_tensor(text: str, option: str, ctx: Any) -> torch.Tensor | None:
    word = text.strip()
    if word in ("", "none") and word not in ctx.handles:
        return None
    return ctx.handles.get(word, "tensor")


OptionalTensor = Custom(_optional_tensor, "tensor handle", "must be a tensor handle, or none")


_REDUCTION_NUMBERS = {"0": "none", "1": "mean", "2": "sum"}


class Reduction(ValueType):
    """mean, sum or none; the other implementation's 0 (none), 1 (mean), 2 (sum) too."""

    doc = "mean|sum|none"
    requirement = "must be mean, sum, or none"

    def __init__(self, *extra: str) -> None:
        self.choices = ("mean", "sum", "none", *extra)
        if extra:
            self.doc = "|".join(self.choices)
            self.requirement = "must be " + ", ".join(self.choices[:-1]) + ", or " + self.choices[-1]

    def convert(self, text: str, option: str, ctx: Any) -> str:
        word = _REDUCTION_NUMBERS.get(text.strip(), text.strip())
        if word not in self.choices:
            raise self.fail(option, text)
        return word


def _dispatch(_fn: Callable[..., Any], _kwargs: dict[str, Any]) -> Any:
    return _fn(**_kwargs)


class DualCommand(Command):
    """One command, two forms: ``first`` (a handle of ``first_kind`` as the first word, or
    its option named) and ``other`` (every other call)."""

    def __init__(
        self,
        name: str,
        first: Command,
        other: Command,
        first_kind: type = torch.Tensor,
        summary: str = "",
        extra_aliases: Sequence[str] = (),
        first_label: str = "with a tensor first",
        other_label: str = "to build the module",
        doc: str = "",
        examples: Sequence[str | tuple[str, str]] = (),
        usage_form: str = "first",
    ) -> None:
        names = {o.name for o in first.options}
        # for docs and completion: what one form requires is optional in the union
        head = dataclasses.replace(first.options[0], default=None)
        merged = [head]
        rest = [o for o in other.options if o.name not in names]
        for form, label, opposite in ((first.options[1:], first_label, other), (rest, other_label, first)):
            for o in form:
                both = any(o.name == p.name and p.required for p in opposite.options)
                if o.required and not both:
                    o = dataclasses.replace(o, default=None, help=f"{o.help} (required {label})")
                twin = (
                    next((p for p in other.options if p.name == o.name), None) if form is not rest else None
                )
                if twin is not None and (twin.type.doc != o.type.doc or twin.default != o.default):
                    d = twin.default
                    shown = (
                        "required"
                        if twin.required
                        else str(d).lower()
                        if isinstance(d, bool) or d is None
                        else str(d)
                    )
                    o = dataclasses.replace(
                        o,
                        help=f"{label}: {o.help}; {other_label}: {twin.help} "
                        f"({twin.type.doc}, default {shown})",
                    )
                if twin is not None and twin.positional and not o.positional:  # positional in some form
                    o = dataclasses.replace(o, positional=True)
                merged.append(o)
        super().__init__(name, _dispatch, merged, summary, None, extra_aliases, doc=doc, examples=examples)
        self.first, self.other, self.first_kind = first, other, first_kind
        self._usage_form = other if usage_form == "other" else first  # the form wrong # args shows
        head = first.options[0]
        self._first_flags = {"-" + w for w in (head.name, *head.aliases)}

    def usage(self, invoked: str) -> str:
        return self._usage_form.usage(invoked)

    def picks_first(self, ctx: Any, args: Sequence[str]) -> bool:
        if not args:
            return False
        word = args[0]
        if is_option_word(word):
            return any(w in self._first_flags for w in args[0::2])
        return word in ctx.handles and isinstance(ctx.handles.get(word), self.first_kind)

    def parse(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        form = self.first if self.picks_first(ctx, args) else self.other
        return {"_fn": form.fn, "_kwargs": form.parse(ctx, args, invoked)}


@dataclasses.dataclass(frozen=True)
class Doc:
    """A table-made command's page text, given where it is declared: the description (markdown),
    the example (Tcl; its ``puts`` lines get the output recorded in shown.json), the See Also
    names and the Return Value (by default from the command's kind, see :func:`_returns`)."""

    description: str
    example: str
    see: Sequence[str] = ()
    returns: str = ""


def register(cmd: Command, doc: Doc | None = None) -> Command:
    """Enter a table-made command, with its page text (``doc``) when it has a page of its own."""
    if cmd.name in REGISTRY:
        raise ValueError(f"torch::{cmd.name} is declared twice")
    if doc is not None:
        cmd.doc, cmd.examples = page(cmd, doc)
    add(cmd)
    return cmd


def annotate(code: str, shown: Sequence[str]) -> str:
    """Append ``;# -> OUTPUT`` to the example's ``puts`` lines, in order."""
    lines, k = code.split("\n"), 0
    for i, line in enumerate(lines):
        if line.startswith("puts ") and k < len(shown):
            lines[i], k = f"{line}  ;# -> {shown[k]}", k + 1
    return "\n".join(lines)


def _returns(cmd: Command) -> str:
    if isinstance(cmd, DualCommand):
        if cmd.first_kind is torch.Tensor and getattr(cmd, "torch_class", None) is not None:
            kind = cmd.torch_class.__name__.lower()
            return f"With a tensor first, a new tensor handle (`tensorN`); otherwise a module handle (`{kind}N`)."
        return ""
    cls = getattr(cmd, "torch_class", None)
    return f"A module handle (`{cls.__name__.lower()}N`)." if cls is not None else ""


def page(cmd: Command, doc: Doc) -> tuple[str, list[str]]:
    """The page text of a command being declared, for tools/gen_docs.py: (description with the
    forms, Return Value and See Also sections, [the example with its recorded output])."""
    name = cmd.name
    DOCS[name] = {
        "description": doc.description.strip(),
        "example": doc.example.strip("\n"),
        "see": list(doc.see),
    }
    text = doc.description.strip()
    if isinstance(cmd, DualCommand):
        forms = "\n".join([cmd.first.usage(name), cmd.other.usage(name)])
        text = f"Two forms:\n\n```text\n{forms}\n```\n\n{text}"
    returns = doc.returns or _returns(cmd)
    if returns:
        text += f"\n\n## Return Value\n\n{returns}"
    if doc.see:
        text += "\n\n## See Also\n\n" + "\n".join(f"- `torch::{s}`" for s in doc.see)
    return text, [annotate(doc.example.strip("\n"), _SHOWN.get(name, []))]


def module_applier(cls: type) -> Callable[..., Any]:
    """The tensor form of a parameter-free layer: exactly what calling the module does."""

    def apply(input: torch.Tensor, **kwargs: Any) -> Any:
        return cls(**kwargs)(input)

    return apply


def layer(
    name: str,
    cls: type,
    options: Sequence[Opt],
    summary: str,
    description: str = "",
    example: str = "",
    *,
    tensor_form: bool | tuple[Callable[..., Any], Sequence[Opt]] = True,
    build: Callable[..., Any] | None = None,
    extra_aliases: Sequence[str] = (),
    see: Sequence[str] = (),
    tensor_parse_hook: ParseHook | None = None,
) -> Command:
    """Register ``torch::name``: builds ``cls(**options)``; with ``tensor_form`` (the
    default) a tensor first applies it (``cls(**options)(input)``), or, given a pair
    ``(fn, opts)``, calls ``fn(input, ...)`` parsed with ``opts`` (and ``tensor_parse_hook``,
    a legacy argument form of the tensor form: see :attr:`Command.parse_hook`)."""
    module_cmd = Command(name, build or cls, options, summary, None, extra_aliases)
    if tensor_form is False:
        cmd: Command = module_cmd
    else:
        if tensor_form is True:
            fn, t_opts = module_applier(build or cls), [_input("input tensor handle"), *options]
        else:
            fn, t_opts = tensor_form
        tensor_cmd = Command(name, fn, t_opts, summary, None, extra_aliases, parse_hook=tensor_parse_hook)
        cmd = DualCommand(name, tensor_cmd, module_cmd, torch.Tensor, summary, extra_aliases)
    cmd.torch_class = cls  # type: ignore[attr-defined]
    return register(cmd, Doc(description or summary, example, see))


def with_tensor_form(
    name: str,
    fn: Callable[..., Any],
    options: Sequence[Opt],
    extra_aliases: Sequence[str] = (),
    parse_hook: ParseHook | None = None,
) -> Command:
    """Give an existing module-building command a tensor form (``torch::gelu $x``), parsed with
    ``options`` (and ``parse_hook``, a legacy argument form: see :attr:`Command.parse_hook`)."""
    module_cmd = REGISTRY[name]
    tensor_cmd = Command(name, fn, options, module_cmd.summary, parse_hook=parse_hook)
    cmd = DualCommand(name, tensor_cmd, module_cmd, torch.Tensor, module_cmd.summary)
    tensor_cmd.aliases = cmd.aliases = [*module_cmd.aliases, *extra_aliases]
    add(cmd)
    return cmd
