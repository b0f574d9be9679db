"""Declarative command specs.

One :class:`Command` per ``torch::`` command holds its name, options (type,
default, positional slot) and function.  The spec alone decides how both
argument forms parse, the camelCase alias, the ``wrong # args`` and
``bad option`` messages, the error codes, console completion and the option
tables the docs are checked against.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from tcltorch.errors import TclError, invalid_value, tcl_or_list, wrong_args

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


# Tcl numbers that look like options: values, unless a command has an option spelled so.
_NUMBER_WORDS = frozenset({"-inf", "-infinity", "-nan"})


def is_option_word(word: str, options: Any = None) -> bool:
    """A word is an option when it looks like ``-name``; ``-1.0`` and ``{-1 2}`` are values,
    and so are ``-Inf``, ``-inf`` and ``-NaN`` unless ``options`` (a command's table of
    option spellings) has that exact word."""
    if word[:1] != "-" or word[1:2] not in _LETTERS:
        return False
    if word.lower() in _NUMBER_WORDS:
        return options is not None and word in options
    return True


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# ---------------------------------------------------------------------------
# value types


class ValueType:
    """Converts one Tcl word to a Python value or raises a TclError naming the option."""

    doc: str = "string"
    requirement: str = "must be a string"
    # What the generated fast path may take without calling convert(): "tensor" when a word
    # naming a live handle of a plain torch.Tensor converts to that very tensor, "object" when
    # a word naming any live handle converts to its object; None: always call convert().
    handle_first: str | None = None

    def convert(self, text: str, option: str, ctx: Any) -> Any:
        return text

    def fail(self, option: str, text: str) -> TclError:
        return invalid_value(option, text, self.requirement)


class Str(ValueType):
    pass


def parse_tcl_int(text: str) -> int | None:
    s = text.strip()
    if not s or "_" in s or not s.isascii():  # Python's int() takes other scripts' digits; Tcl does not
        return None
    try:
        return int(s, 0) if s.lstrip("+-")[:2].lower() in ("0x", "0b", "0o") else int(s)
    except ValueError:
        return None


def parse_tcl_double(text: str) -> float | None:
    s = text.strip()
    if not s or "_" in s or not s.isascii():
        return None
    try:
        return float(s)
    except ValueError:
        as_int = parse_tcl_int(s)
        return None if as_int is None else float(as_int)


@dataclass
class Double(ValueType):
    """A finite double, optionally bounded: ``Double(gt=0)``, ``Double(ge=0, lt=1)``."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    finite: bool = True
    doc: str = "double"

    @property
    def requirement(self) -> str:  # type: ignore[override]
        bounds = [f"{op} {_num(v)}" for op, v in ((">", self.gt), (">=", self.ge)) if v is not None]
        bounds += [f"{op} {_num(v)}" for op, v in (("<", self.lt), ("<=", self.le)) if v is not None]
        noun = "a finite number" if self.finite else "a number"
        return f"must be {noun}" + (" " + " and ".join(bounds) if bounds else "")

    def convert(self, text: str, option: str, ctx: Any) -> float:
        value = parse_tcl_double(text)
        if value is None or (self.finite and not math.isfinite(value)) or math.isnan(value):
            raise self.fail(option, text)
        if (
            (self.gt is not None and not value > self.gt)
            or (self.ge is not None and not value >= self.ge)
            or (self.lt is not None and not value < self.lt)
            or (self.le is not None and not value <= self.le)
        ):
            raise self.fail(option, text)
        return value


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


# Integers a torch function takes (C++ int64_t): a word beyond them is a Tcl value error.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def out_of_int64(values: Sequence[int]) -> bool:
    return any(not INT64_MIN <= v <= INT64_MAX for v in values)


def parse_int64(text: str) -> int | None:
    """A Tcl integer that a torch function can take (int64), else None."""
    value = parse_tcl_int(text)
    return value if value is not None and INT64_MIN <= value <= INT64_MAX else None


@dataclass
class Int(ValueType):
    ge: int | None = None
    doc: str = "integer"

    @property
    def requirement(self) -> str:  # type: ignore[override]
        return "must be an integer" + (f" >= {self.ge}" if self.ge is not None else "")

    def convert(self, text: str, option: str, ctx: Any) -> int:
        value = parse_tcl_int(text)
        if value is None or (self.ge is not None and value < self.ge):
            raise self.fail(option, text)
        if not INT64_MIN <= value <= INT64_MAX:
            low = INT64_MIN if self.ge is None else self.ge
            raise invalid_value(option, text, f"must be an integer from {low} to {INT64_MAX}")
        return value


_TRUE = ("true", "yes", "on")
_FALSE = ("false", "no", "off")


def parse_tcl_bool(text: str) -> bool | None:
    s = text.strip().lower()
    as_int = parse_tcl_int(s)
    if as_int is not None:
        return as_int != 0
    if not s:
        return None
    hits = [w for w in _TRUE + _FALSE if w.startswith(s)]
    if (
        len(hits) == 1
        or (hits and all(h in _TRUE for h in hits))
        or (hits and all(h in _FALSE for h in hits))
    ):
        return hits[0] in _TRUE
    return None


class Bool(ValueType):
    doc = "boolean"
    requirement = "must be a boolean"

    def convert(self, text: str, option: str, ctx: Any) -> bool:
        value = parse_tcl_bool(text)
        if value is None:
            raise self.fail(option, text)
        return value


class Choice(ValueType):
    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.doc = "|".join(choices)
        self.requirement = "must be " + tcl_or_list(list(choices))

    def convert(self, text: str, option: str, ctx: Any) -> str:
        if text not in self.choices:
            raise self.fail(option, text)
        return text


class Shape(ValueType):
    doc = "list of integers"
    requirement = "must be a list of non-negative integers"

    def convert(self, text: str, option: str, ctx: Any) -> tuple[int, ...]:
        words = ctx.split(text, option)
        dims = [parse_tcl_int(w) for w in words]
        if any(d is None or d < 0 for d in dims):
            raise self.fail(option, text)
        if out_of_int64(dims):  # type: ignore[arg-type]
            raise invalid_value(option, text, f"must be a list of integers from 0 to {INT64_MAX}")
        return tuple(dims)  # type: ignore[arg-type]


class IntList(ValueType):
    """A list of integers, negatives allowed (dims, permutations, -1 in reshape)."""

    doc = "list of integers"
    requirement = "must be a list of integers"

    def convert(self, text: str, option: str, ctx: Any) -> tuple[int, ...]:
        dims = [parse_tcl_int(w) for w in ctx.split(text, option)]
        if any(d is None for d in dims):
            raise self.fail(option, text)
        if out_of_int64(dims):  # type: ignore[arg-type]
            raise invalid_value(option, text, f"must be a list of integers from {INT64_MIN} to {INT64_MAX}")
        return tuple(dims)  # type: ignore[arg-type]


DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "uint8": torch.uint8,
    "bool": torch.bool,
}
DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "int": "int32", "long": "int64"}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}


def dtype_name(dtype: torch.dtype) -> str:
    return DTYPE_NAMES.get(dtype, str(dtype).replace("torch.", ""))


class DType(ValueType):
    doc = "dtype"
    requirement = "must be one of " + tcl_or_list(list(DTYPES)) + " (or float, double, half, int, long)"

    def convert(self, text: str, option: str, ctx: Any) -> torch.dtype:
        key = text.strip()
        key = DTYPE_ALIASES.get(key, DTYPE_ALIASES.get(key.lower(), key.lower()))
        if key not in DTYPES:
            raise self.fail(option, text)
        return DTYPES[key]


class Device(ValueType):
    doc = "device"
    requirement = "must be a device such as cpu, cuda or cuda:0"

    def convert(self, text: str, option: str, ctx: Any) -> torch.device:
        return parse_device(text, option)


def parse_device(text: str, option: str = "-device") -> torch.device:
    try:
        device = torch.device(text.strip())
    except (RuntimeError, ValueError):
        raise invalid_value(option, text, Device.requirement) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise invalid_value(option, text, "CUDA is not available on this machine")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise invalid_value(option, text, f"there are {torch.cuda.device_count()} CUDA devices")
    elif device.type not in ("cpu", "meta"):
        backend = getattr(torch, device.type, None)
        available = getattr(backend, "is_available", None)
        if available is None or not available():
            raise invalid_value(option, text, f"{device.type} is not available on this machine")
    return device


class Handle(ValueType):
    """A handle of a given kind: 'tensor', 'module', 'optimizer', a module kind, or None (any)."""

    def __init__(self, kind: str | None = None) -> None:
        self.kind = kind
        self.doc = f"{kind or 'object'} handle"
        self.requirement = f"must be a {kind or 'object'} handle"
        self.handle_first = "tensor" if kind == "tensor" else "object" if kind is None else None

    def convert(self, text: str, option: str, ctx: Any) -> Any:
        return ctx.handles.get(text, self.kind)


class HandleList(ValueType):
    """A list of handles of one kind (an empty list is allowed)."""

    def __init__(self, kind: str | None = None) -> None:
        self.kind = kind
        self.doc = f"list of {kind or 'object'} handles"
        self.requirement = f"must be a list of {kind or 'object'} handles"

    def convert(self, text: str, option: str, ctx: Any) -> list[Any]:
        return [ctx.handles.get(word, self.kind) for word in ctx.split(text, option)]


class Script(ValueType):
    doc = "script"


class Custom(ValueType):
    """A value type defined by a function ``(text, option, ctx) -> value``."""

    def __init__(
        self, fn: Callable[[str, str, Any], Any], doc: str, requirement: str, handle_first: str | None = None
    ) -> None:
        self.fn = fn
        self.doc = doc
        self.requirement = requirement
        self.handle_first = handle_first  # see ValueType.handle_first: what fn does with a live handle

    def convert(self, text: str, option: str, ctx: Any) -> Any:
        return self.fn(text, option, ctx)


# ---------------------------------------------------------------------------
# options and commands


@dataclass
class Opt:
    """One option: ``-name`` in the named form, a slot in the positional form."""

    name: str
    type: ValueType = field(default_factory=Str)
    default: Any = REQUIRED
    help: str = ""
    positional: bool = True
    aliases: tuple[str, ...] = ()
    rest: bool = False  # the last positional slot takes all remaining words
    last: bool = False  # always the command's final word, after any options (a script body)
    default_doc: str = ""  # the Default the docs show when the value itself says little (None -> "cpu")

    def __post_init__(self) -> None:
        self.flag = "-" + self.name
        self.py_name = snake(self.name)
        self.required = self.default is REQUIRED


@dataclass
class NextWords:
    """What may come after the words of a command typed so far (see :meth:`Command.next_words`).

    ``slot`` is the option or positional slot whose value the next word is (None where only
    a ``-flag`` fits); ``after_flag`` says the next word is the value of the ``-flag`` just
    typed (then ``slot`` is that option, or None for a flag the command does not have);
    ``flags`` are the options not given yet, in declaration order (none right after a flag)."""

    slot: Opt | None
    after_flag: bool
    flags: list[Opt]

    @property
    def expects_value(self) -> bool:
        """The next word is the value of an option given by its flag."""
        return self.after_flag

    @property
    def positional_name(self) -> str | None:
        """The name of the positional slot the next word fills, if it fills one."""
        return None if self.after_flag or self.slot is None else self.slot.name

    @property
    def choices(self) -> tuple[str, ...]:
        """The values the next word may take where the slot's type has a fixed set: a
        Choice's choices, a boolean's true/false; () otherwise."""
        vtype = self.slot.type if self.slot is not None else None
        if isinstance(vtype, Choice):
            return tuple(vtype.choices)
        if isinstance(vtype, Bool):
            return ("true", "false")
        return ()


# parse_hook(cmd, ctx, args, invoked, parse) -> keyword arguments (see Command.parse_hook)
ParseHook = Callable[["Command", Any, tuple[str, ...], str, Callable[..., dict[str, Any]]], dict[str, Any]]


class Command:
    """A ``torch::`` command: its spec, its function and what both derive."""

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        options: Sequence[Opt],
        summary: str = "",
        alias: str | None = None,
        extra_aliases: Sequence[str] = (),
        context: bool = False,
        doc: str = "",
        examples: Sequence[str | tuple[str, str]] = (),
        parse_hook: ParseHook | None = None,
        wraps: str | Sequence[str] = (),
    ) -> None:
        self.name = name
        self.family = ""  # "domain/family", e.g. "nn/pooling"; set by add() from the declaring module
        # For tools/gen_docs.py: the page's Description (markdown; may add "## Return Value",
        # "## Errors" or "## See Also" sections) and its Tcl examples (code, or (title, code)).
        self.doc = doc
        self.examples = list(examples)
        self.fn = fn
        self.options = list(options)
        self.summary = summary
        self.context = context
        # Declared pre-/post-processing of the spec's parse (legacy argument forms): called as
        # parse_hook(cmd, ctx, args, invoked, parse), where parse(ctx, args, invoked) is the
        # spec's own; it returns the keyword arguments.
        self.parse_hook = parse_hook
        # The PyTorch functions the command wraps, where its doc text does not name them
        # (see :attr:`wraps`): torch::help's search finds the command by them.
        self._wraps = (wraps,) if isinstance(wraps, str) else tuple(wraps)
        generated = camel(name) if alias is None else alias
        self.aliases = [a for a in [generated, *extra_aliases] if a and a != name]
        tails = [o for o in self.options if o.last]
        self.tail: Opt | None = tails[0] if tails else None
        head = self._head = [o for o in self.options if not o.last]  # what the words before a tail hold
        self.positional = [o for o in head if o.positional]
        self._lookup: dict[str, Opt] = {}
        for opt in head:
            for word in (opt.name, *opt.aliases):
                self._lookup["-" + word] = opt
        self._flags = [o.flag for o in head]
        # Fast path for the common call: only positional words, no options.
        self._slots = [(o.py_name, _converter(o.type), o.flag) for o in self.positional]
        self._slot_handles = [_handle_first(o.type) for o in self.positional]
        self._defaults = {o.py_name: o.default for o in head if not o.required and not callable(o.default)}
        self._factories = [(o.py_name, o.default) for o in head if not o.required and callable(o.default)]
        required_at = [i for i, o in enumerate(self.positional) if o.required]
        self._min_positional = required_at[-1] + 1 if required_at else 0
        if any(o.rest for o in head) or any(o.required and not o.positional for o in head):
            self._min_positional = len(self.positional) + 1  # never take the fast path

    @functools.cached_property
    def _fast(self) -> Callable[[Any, tuple[str, ...]], dict[str, Any] | None]:
        """The generated positional fast path, compiled on first use: compiling all ~700
        specs up front cost a quarter of a second of every interpreter's start-up."""
        return _compile_fast(self)

    @property
    def names(self) -> list[str]:
        return [self.name, *self.aliases]

    @functools.cached_property
    def wraps(self) -> tuple[str, ...]:
        """The PyTorch functions and classes the command wraps, full names (``torch.nn.GRU``):
        those declared by ``wraps=`` on the spec, else those its summary, doc and option
        help name (``(nn.GRU)``, ``torch.fft.fft``, ``F.relu``, ``Tensor.permute``)."""
        if self._wraps:
            return tuple(torch_name(w) for w in self._wraps)
        text = "\n".join([self.summary, self.doc, *(o.help for o in self.options)])
        found = dict.fromkeys(torch_name(m) for m in _TORCH_REFERENCE.findall(text))
        return tuple(found)

    def usage(self, invoked: str) -> str:
        words = [f"torch::{invoked}"]
        for opt in self.positional:
            if opt.rest:
                words.append(f"{opt.name} ?{opt.name} ...?" if opt.required else f"?{opt.name} ...?")
            else:
                words.append(opt.name if opt.required else f"?{opt.name}?")
        if any(not o.positional for o in self._head):
            words.append("?-option value ...?")
        if self.tail is not None:
            words.append(self.tail.name)
        return " ".join(words)

    def _option(self, word: str) -> Opt:
        opt = self._lookup.get(word)
        if opt is not None:
            return opt
        hits = {o.name: o for flag, o in self._lookup.items() if flag.startswith(word) and len(word) > 1}
        if len(hits) == 1:
            return next(iter(hits.values()))
        kind = "ambiguous" if hits else "bad"
        raise TclError(
            f'{kind} option "{word}": must be {tcl_or_list(self._flags)}',
            ["TCL", "LOOKUP", "INDEX", "option", word],
        )

    def next_words(self, words: Sequence[str]) -> NextWords:
        """What may follow ``words``, the arguments typed so far (without the command name),
        by the rules :meth:`parse` applies: positional words first (a ``rest`` slot takes
        all up to the first option), then ``-flag value`` pairs.  For completion; it never
        raises (a flag the command does not have has no slot)."""
        filled, i = self._positional_prefix(words)
        pairs = words[i:]
        used = {o.name for o in self.positional[:filled]}
        for flag in pairs[::2]:
            opt = self._lookup_option(flag)
            if opt is not None:
                used.add(opt.name)
        if len(pairs) % 2 == 1:  # a -flag waiting for its value
            return NextWords(self._lookup_option(pairs[-1]), True, [])
        flags = [o for o in self._head if o.name not in used]
        return NextWords(self._slot_after(filled, i, len(words)), False, flags)

    def _lookup_option(self, word: str) -> Opt | None:
        """The option a (possibly abbreviated) flag names, or None."""
        if not self._lookup:
            return None
        try:
            return self._option(word)
        except TclError:
            return None

    def _positional_prefix(self, words: Sequence[str]) -> tuple[int, int]:
        """(positional slots filled, index of the first word after them); a ``rest`` slot
        that took words counts as filled."""
        flags = self._lookup
        if words and is_option_word(words[0], flags):
            return 0, 0
        i = 0
        for filled, slot in enumerate(self.positional):
            if i >= len(words) or is_option_word(words[i], flags):
                return filled, i
            i += 1
            while slot.rest and i < len(words) and not is_option_word(words[i], flags):
                i += 1
        return len(self.positional), i

    def _slot_after(self, filled: int, i: int, n: int) -> Opt | None:
        """The slot the next word fills when no flag waits for a value."""
        if i < n:  # options were given: only another -flag fits (the tail is last)
            return None
        if filled < len(self.positional):
            return self.positional[filled]
        last = self.positional[-1] if self.positional else None
        if last is not None and last.rest:
            return last
        return self.tail

    def parse(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        """Both argument forms -> keyword arguments for the command function."""
        if self.parse_hook is not None:
            return self.parse_hook(self, ctx, args, invoked, self._parse_spec)
        return self._parse_spec(ctx, args, invoked)

    def _parse_spec(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        """What the spec alone makes of the words (no parse hook)."""
        if self.tail is not None:  # Tcl style: ?options? body, the body always last
            if not args:
                raise wrong_args(self.usage(invoked))
            kwargs = self._parse_head(ctx, args[:-1], invoked)
            kwargs[self.tail.py_name] = self.tail.type.convert(args[-1], self.tail.flag, ctx)
            return kwargs
        return self._parse_head(ctx, args, invoked)

    def fast_path_applies(self) -> bool:
        """Whether the generated positional fast path is all that parse() would try first
        (this class's own parse, not replaced or overridden, no parse hook and no script tail)."""
        cls = type(self)
        return (
            self.tail is None
            and self.parse_hook is None
            and "parse" not in self.__dict__
            and cls.parse is Command.parse
            and cls._parse_head is Command._parse_head
        )

    def fast_parser(self) -> Callable[[Any, tuple[str, ...]], dict[str, Any] | None] | None:
        """The generated positional fast path (compiled now) when it applies; else None."""
        return self._fast if self.fast_path_applies() else None

    def _parse_head(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        kwargs = self._fast(ctx, args)
        if kwargs is not None:
            return kwargs
        return self._parse_general(ctx, args, invoked)

    def _parse_general(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        if not self._head and args:
            raise wrong_args(self.usage(invoked))
        named_form = len(args) > 0 and is_option_word(args[0], self._lookup)
        raw, i = ({}, 0) if named_form else self._positional_words(args, invoked)
        self._option_words(args, i, raw)
        self._check_required(raw, named_form, invoked)
        return self._convert(ctx, raw)

    def _positional_words(self, args: tuple[str, ...], invoked: str) -> tuple[dict[str, Any], int]:
        """The leading words of the positional form by slot name (a ``rest`` slot takes every
        word up to the first option), and the index of the first word after them."""
        raw: dict[str, str | list[str]] = {}
        n = len(args)
        i = 0
        flags = self._lookup
        for slot in self.positional:
            if i >= n or is_option_word(args[i], flags):
                break
            if slot.rest:
                rest: list[str] = []
                while i < n and not is_option_word(args[i], flags):
                    rest.append(args[i])
                    i += 1
                raw[slot.name] = rest
                break
            raw[slot.name] = args[i]
            i += 1
        if i < n and not is_option_word(args[i], flags):
            raise wrong_args(self.usage(invoked))
        return raw, i

    def _option_words(self, args: tuple[str, ...], i: int, raw: dict[str, Any]) -> None:
        """The ``-flag value`` pairs of ``args[i:]`` into ``raw``; an option also given as a
        positional word is an error."""
        given_positionally = set(raw)
        n = len(args)
        while i < n:
            opt = self._option(args[i])
            if i + 1 >= n:
                raise TclError(
                    f'missing value for option "{args[i]}"', ["TORCH", "ARGS", "MISSING", opt.flag]
                )
            if opt.name in given_positionally:
                raise TclError(
                    f'option "{opt.flag}" was also given as an argument', ["TORCH", "ARGS", "TWICE", opt.flag]
                )
            raw[opt.name] = [args[i + 1]] if opt.rest else args[i + 1]
            i += 2

    def _check_required(self, raw: dict[str, Any], named_form: bool, invoked: str) -> None:
        """Every missing argument is reported before any value is read."""
        for opt in self._head:
            if opt.required and opt.name not in raw:
                if not named_form and opt.positional:
                    raise wrong_args(self.usage(invoked))
                raise TclError(
                    f'missing required option "{opt.flag}"', ["TORCH", "ARGS", "REQUIRED", opt.flag]
                )

    def _convert(self, ctx: Any, raw: dict[str, Any]) -> dict[str, Any]:
        """The words in ``raw`` converted by their options' types; defaults for the others."""
        kwargs: dict[str, Any] = {}
        for opt in self._head:
            text = raw.get(opt.name)
            if text is None:
                kwargs[opt.py_name] = opt.default() if callable(opt.default) else opt.default
            elif opt.rest:
                kwargs[opt.py_name] = [opt.type.convert(t, opt.flag, ctx) for t in text]
            else:
                kwargs[opt.py_name] = opt.type.convert(text, opt.flag, ctx)
        if self.context:
            kwargs["ctx"] = ctx
        return kwargs


def _compile_fast(cmd: Command) -> Callable[[Any, tuple[str, ...]], dict[str, Any] | None]:
    """Straight-line code for the common call (only positional words, no option word):
    ``fast(ctx, args)`` -> the keyword arguments, or None when the general parser must run:
    each positional word converted by its slot's type, the other options' defaults, no loops
    (a hot path: every command call goes through it)."""
    namespace: dict[str, Any] = {"L": _LETTERS}
    lines = ["def fast(ctx, args):", "    n = len(args)"]
    slots = cmd._slots
    for arity in range(cmd._min_positional, len(slots) + 1):
        words = [f"w{i}" for i in range(arity)]
        lines.append(f"    if n == {arity}:")
        if arity:
            lines.append(f"        {', '.join(words)}{',' if arity == 1 else ''} = args")
            test = " or ".join(f'({w}[:1] == "-" and {w}[1:2] in L)' for w in words)
            lines.append(f"        if {test}:")
            lines.append("            return None")
        items = []
        given = set()
        for i, (py_name, convert, flag) in enumerate(slots[:arity]):
            namespace[f"c{i}"] = convert
            items.append(f"{py_name!r}: c{i}(w{i}, {flag!r}, ctx)")
            given.add(py_name)
        for j, (py_name, value) in enumerate(cmd._defaults.items()):
            if py_name not in given:
                namespace[f"d{j}"] = value
                items.append(f"{py_name!r}: d{j}")
        for j, (py_name, factory) in enumerate(cmd._factories):
            if py_name not in given:
                namespace[f"f{j}"] = factory
                items.append(f"{py_name!r}: f{j}()")
        if cmd.context:
            items.append("'ctx': ctx")
        lines.append("        return {" + ", ".join(items) + "}")
    lines.append("    return None")
    exec("\n".join(lines), namespace)  # noqa: S102 - code generated from the spec above
    return namespace["fast"]


def _handle_first(vtype: ValueType) -> str | None:
    """The type's ``handle_first``, where the convert() it describes is the one that runs: a
    subclass that converts its own way (a sparse-only tensor handle) gets None unless it
    declares ``handle_first`` itself, next to its convert()."""
    declared = vtype.handle_first
    if declared is None:
        return None
    cls = type(vtype)
    for klass in cls.__mro__:
        if "convert" in vars(klass):  # the class whose convert() runs
            owner = klass
            break
    else:
        return None
    if owner in (Handle, Custom) or "handle_first" in vars(owner):
        return declared
    return None


def _converter(vtype: ValueType) -> Callable[[str, str, Any], Any]:
    """The function that converts a word for ``vtype`` (a Custom's own, one call less)."""
    if type(vtype) is Custom:
        return vtype.fn
    return vtype.convert


REGISTRY: dict[str, Command] = {}

# a PyTorch name in a command's doc text: torch.x.y, nn.X, F.x, Tensor.x (not inside a word or path)
_TORCH_REFERENCE = re.compile(r"(?<![\w./-])((?:torch|nn|F|Tensor)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?![\w/])")
_TORCH_PREFIXES = {"nn": "torch.nn", "F": "torch.nn.functional", "Tensor": "torch.Tensor"}


def torch_name(name: str) -> str:
    """``nn.GRU`` -> ``torch.nn.GRU``, ``F.relu`` -> ``torch.nn.functional.relu``; a trailing
    ``.`` (end of a sentence) dropped."""
    name = name.strip().rstrip(".")
    head, _, rest = name.partition(".")
    return f"{_TORCH_PREFIXES[head]}.{rest}" if head in _TORCH_PREFIXES and rest else name


def docstring_parts(docstring: str) -> tuple[str, list[str]]:
    """A command function's docstring -> (the page's text, its Tcl examples): the text is the
    summary (first paragraph) and description (markdown, may add ``## Return Value`` ...); after a
    line ``Examples:`` comes one indented block of Tcl (tools/gen_docs.py renders it; the docs
    test runs it and checks each ``;# -> value``)."""
    text = inspect.cleandoc(docstring)
    if "\nExamples:\n" not in text:
        return text, []
    head, block = text.split("\nExamples:\n", 1)
    return head.strip(), [textwrap.dedent(block).strip("\n")]


def add(cmd: Command) -> Command:
    """Enter a command into the registry, recording its family (the ``FAMILY`` of the module
    that declares it, found on the call stack when the command has none)."""
    if not cmd.family:
        cmd.family = declaring_family()
    REGISTRY[cmd.name] = cmd
    return cmd


def declaring_family() -> str:
    """The ``FAMILY`` of the nearest module on the call stack that declares one (table helpers
    in private modules have none, so the command module calling them decides)."""
    frame = inspect.currentframe()
    while frame is not None:
        family = frame.f_globals.get("FAMILY")
        if isinstance(family, str):
            return family
        frame = frame.f_back
    return ""


def command(
    name: str,
    *options: Opt,
    summary: str = "",
    alias: str | None = None,
    extra_aliases: Sequence[str] = (),
    context: bool = False,
    doc: str | None = None,
    examples: Sequence[str | tuple[str, str]] = (),
    parse_hook: ParseHook | None = None,
    wraps: str | Sequence[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a ``torch::name`` command from its options and a plain function.

    ``parse_hook`` (see :attr:`Command.parse_hook`) declares an argument form the spec alone
    cannot express, e.g. another implementation's positional order.  ``wraps`` names the
    PyTorch function(s) the command wraps where its doc text does not (see :attr:`Command.wraps`)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in REGISTRY:
            raise ValueError(f"torch::{name} is declared twice")
        if doc is None:
            text, shown = docstring_parts(fn.__doc__ or "")
        else:
            text, shown = docstring_parts(doc) if "\nExamples:\n" in doc else (doc, [])
        add(
            Command(
                name,
                fn,
                options,
                # a docstring with examples is a whole page: its first paragraph is the summary
                " ".join(text.split("\n\n")[0].split()) if shown else summary or text.split("\n")[0],
                alias,
                extra_aliases,
                context,
                text,
                [*examples, *shown],
                parse_hook,
                wraps,
            )
        )
        return fn

    return register
