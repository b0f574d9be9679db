"""torch::nn_module ClassName ?arg ...? ?-option value ...?: any torch.nn module.

The options of ``torch::nn_module CLASS`` are the parameters of ``torch.nn.CLASS.__init__``
in camelCase (their snake_case spellings are accepted too), positional in signature order.
Each class gets its own spec, built on first use from the signature, so usage messages,
unknown options and missing arguments read as for any other command.  Values are read by
the parameter's annotation or default: integers, numbers, booleans, strings, ``none`` for
None, lists (of numbers, or of handles) as tuples, and handles as the objects they name.
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Any

import torch
from torch import nn

from tcltorch.commands.spec import (
    REGISTRY,
    Bool,
    Command,
    Device,
    DType,
    Opt,
    Str,
    ValueType,
    camel,
    parse_tcl_bool,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value, wrong_args

_NONE_WORDS = ("none", "None")
_UNSET: Any = type("Unset", (), {"__repr__": lambda self: "torch's default"})()


class Auto(ValueType):
    """A value read by what the word looks like (and, when known, the kind the parameter wants)."""

    doc = "value"
    requirement = "must be a number, boolean, string, list, handle or none"

    def __init__(self, want: set[type] | None = None, optional: bool = False) -> None:
        self.want = want or set()
        self.optional = optional

    def convert(self, text: str, option: str, ctx: Any) -> Any:
        return self._value(text, option, ctx, top=True)

    def _value(self, text: str, option: str, ctx: Any, top: bool) -> Any:
        word = text.strip()
        if word in _NONE_WORDS:
            return None
        if word in ctx.handles:
            return ctx.handles.get(word)
        want = self.want if top else set()
        if want and want <= {bool}:
            value = parse_tcl_bool(word)
            if value is None:
                raise invalid_value(option, text, "must be a boolean")
            return value
        as_int = parse_tcl_int(word)
        if as_int is not None:
            return float(as_int) if (float in want and int not in want) else as_int
        as_float = parse_tcl_double(word)
        if as_float is not None:
            if want and want <= {int, tuple}:
                raise invalid_value(option, text, "must be an integer or a list of integers")
            return as_float
        if want and want <= {int, float}:
            raise invalid_value(option, text, "must be a number" if float in want else "must be an integer")
        words = ctx.split(text, option)
        if len(words) > 1 or (words and words[0] != word):
            return tuple(self._value(w, option, ctx, top=False) for w in words)
        if word in ("true", "false") and (not want or bool in want):
            return word == "true"
        return word


def _kinds(annotation: Any) -> tuple[set[type], bool]:
    """The simple types an annotation allows, and whether None is allowed."""
    if annotation is inspect.Parameter.empty:
        return set(), False
    if isinstance(annotation, str):  # postponed annotations: read the names
        text = annotation.replace(" ", "")
        kinds = {
            t for name, t in (("int", int), ("float", float), ("bool", bool), ("str", str)) if name in text
        }
        if "tuple" in text or "_size" in text or "list" in text:
            kinds |= {tuple, int}
        if "Tensor" in text or "Module" in text or "Callable" in text:
            kinds.add(object)
        return kinds, "None" in text or "Optional" in text
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        optional = False
        for arg in typing.get_args(annotation):
            if arg is type(None):
                optional = True
                continue
            k, o = _kinds(arg)
            kinds |= k or {object}
            optional = optional or o
        return kinds, optional
    if origin in (tuple, list):
        return {tuple, int, float}, False
    if annotation in (int, float, bool, str):
        return {annotation}, False
    return {object}, False


class Mapping(ValueType):
    """A Tcl dict (key value ...) -> a Python dict of Auto values (nn.ModuleDict's modules)."""

    doc = "dict"
    requirement = "must be a dict: name value ?name value ...?"

    def convert(self, text: str, option: str, ctx: Any) -> Any:
        if text.strip() in _NONE_WORDS:
            return None
        words = ctx.split(text, option)
        if len(words) % 2:
            raise self.fail(option, text)
        auto = Auto()
        return {k: auto.convert(v, option, ctx) for k, v in zip(words[::2], words[1::2])}


def _value_type(param: inspect.Parameter) -> ValueType:
    if "Mapping" in str(param.annotation) or param.name == "parameters":  # ModuleDict, ParameterDict
        return Mapping()
    if param.name == "device":
        return Device()
    if param.name == "dtype":
        return DType()
    kinds, optional = _kinds(param.annotation)
    default = param.default
    if not kinds and default is not inspect.Parameter.empty and default is not None:
        kinds = {type(default)} if type(default) in (int, float, bool, str) else set()
    if default is None:
        optional = True
    if kinds == {bool} and not optional:
        return Bool()
    if kinds == {str} and not optional:
        return Str()
    return Auto(kinds, optional)


def _signature(cls: type) -> inspect.Signature:
    for overload in typing.get_overloads(cls.__init__):
        sig = inspect.signature(overload)
        if not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return sig
    return inspect.signature(cls.__init__)


def _options(cls: type) -> list[Opt]:
    opts = []
    for param in list(_signature(cls).parameters.values())[1:]:
        if param.kind is param.VAR_KEYWORD:
            continue
        name = camel(param.name)
        aliases = (param.name,) if param.name != name else ()
        if param.kind is param.VAR_POSITIONAL:
            opt = Opt(name, Auto(), default=(), rest=True, help=f"*{param.name}", aliases=aliases)
            opt.py_name = param.name
            opts.append(opt)
            continue
        default = inspect.Parameter.empty if param.default is inspect.Parameter.empty else param.default
        keyword_only = param.kind is param.KEYWORD_ONLY
        opt = Opt(
            name,
            _value_type(param),
            help=f"torch.nn.{cls.__name__}'s {param.name}",
            positional=not keyword_only,
            aliases=aliases,
        )
        if default is not inspect.Parameter.empty:  # left out unless given: torch applies its default
            opt = Opt(
                name, opt.type, default=_UNSET, help=opt.help, positional=opt.positional, aliases=aliases
            )
        opt.py_name = param.name  # the keyword torch's __init__ takes
        opts.append(opt)
    return opts


def _classes() -> dict[str, type]:
    out = {}
    for name in dir(nn):
        obj = getattr(nn, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, nn.Module)
            and obj not in (nn.Module, nn.Container)
            and not name.startswith("_")
        ):
            out[name] = obj
    return out


_CLASSES = _classes()
_LOWER = {name.lower(): name for name in _CLASSES}
_SPECS: dict[type, Command] = {}


def find_class(name: str) -> type:
    """The torch.nn class named (exactly, or case-insensitively when that is unambiguous)."""
    cls = _CLASSES.get(name) or _CLASSES.get(_LOWER.get(name.lower(), ""))
    if cls is None:
        close = difflib.get_close_matches(name, list(_CLASSES), n=3, cutoff=0.6)
        hint = (
            f"; did you mean {' or '.join(close)}?"
            if close
            else " (a class of torch.nn such as Linear or LSTM)"
        )
        raise TclError(f'unknown torch.nn class "{name}"{hint}', ["TORCH", "VALUE", "-className"])
    return cls


def spec_for(cls: type) -> Command:
    cmd = _SPECS.get(cls)
    if cmd is None:
        options = _options(cls)
        rest = [o.py_name for o in options if o.rest]

        def build(**kwargs: Any) -> nn.Module:
            kwargs = {k: v for k, v in kwargs.items() if v is not _UNSET}
            if rest:  # *args classes (Sequential): the leading parameters go in order
                return cls(*[a for group in kwargs.pop(rest[0]) for a in _flat(group)], **kwargs)
            return cls(**kwargs)

        cmd = _SPECS[cls] = Command(f"nn_module {cls.__name__}", build, options, alias="")
    return cmd


def _flat(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


class NnModuleCommand(Command):
    def parse(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        if not args:
            raise wrong_args(self.usage(invoked))
        words = list(args)
        if words[0] in ("-className", "-class", "-class_name"):
            if len(words) < 2:
                raise TclError(
                    f'missing value for option "{words[0]}"', ["TORCH", "ARGS", "MISSING", "-className"]
                )
            words = words[1:]
        cls = find_class(words[0])
        spec = spec_for(cls)
        return {"spec": spec, "kwargs": spec.parse(ctx, tuple(words[1:]), f"{invoked} {cls.__name__}")}


def nn_module(spec: Command, kwargs: dict[str, Any]) -> nn.Module:
    return spec.fn(**kwargs)


_DOC = """Builds any torch.nn module: `torch.nn.ClassName(...)` with the arguments given.

The options after the class name are the parameters of the class's `__init__`, in camelCase
(`-inFeatures`, `-batchFirst`, `-numEmbeddings`; the snake_case spelling is accepted too), and
positional arguments follow the signature's order, so `torch::nn_module Linear 4 2 -bias 0` is
`nn.Linear(4, 2, bias=False)`. Each class's spec is derived from its signature on first use: a
missing argument, an unknown option or a bad value is a Tcl error naming the option, as for every
other command. The class name is matched exactly, or case-insensitively when that is unambiguous;
an unknown one is an error suggesting close names.

Values are read by the parameter's annotation and default: integers, numbers and booleans as Tcl
writes them, strings, `none` for None, lists (`{3 3}`) as tuples, and handles as the objects they
name (a module for `nn.TransformerEncoder`'s layer, a tensor for a loss's `weight`, several module
handles for `nn.Sequential`), and a Tcl dict for a mapping (`nn.ModuleDict`, `nn.ParameterDict`:
`name handle ?name handle ...?`). The result is a module handle named by the class
(`transformer1`, `bilinear2`); use it with `torch::layer_forward`, `torch::sequential`, the
optimizers and every other module command.

## Return Value

A module handle (kind: the class name in lower case).

## Errors

| Situation | Message | -errorcode |
|-----------|---------|------------|
| unknown class | `unknown torch.nn class "Lienar"; did you mean Linear or LazyLinear?` | `TORCH VALUE -className` |
| unknown option of the class | `bad option "-bogus": must be -inFeatures, -outFeatures, -bias, -device, or -dtype` | `TCL LOOKUP INDEX option -bogus` |
| missing argument | `wrong # args: should be "torch::nn_module Linear inFeatures outFeatures ?bias? ?device? ?dtype?"` | `TCL WRONGARGS` |

## See Also

- `torch::layer_forward`
- `torch::sequential`
- `torch::model_summary`
"""

REGISTRY["nn_module"] = NnModuleCommand(
    "nn_module",
    nn_module,
    [
        Opt(
            "className",
            Str(),
            help="name of a torch.nn class (Linear, LSTM, Transformer, Bilinear ...)",
            aliases=("class",),
        )
    ],
    "Build any torch.nn module, its options derived from the class's own signature.",
    None,
    ("nnModule",),
    doc=_DOC,
    examples=[
        """set bil [torch::nn_module Bilinear 3 4 2]
puts [torch::tensor_shape [torch::layer_forward $bil [torch::ones {5 3}] [torch::ones {5 4}]]]   ;# -> 5 2
set tf [torch::nn_module Transformer -dModel 8 -nhead 2 -numEncoderLayers 1 -numDecoderLayers 1 \\
    -dimFeedforward 16 -dropout 0 -batchFirst 1]
puts [string match transformer* $tf]   ;# -> 1
set ce [torch::nnModule CrossEntropyLoss -labelSmoothing 0.1]
puts [catch {torch::nn_module Lienar 2 2} msg] ;# -> 1
puts $msg   ;# -> unknown torch.nn class "Lienar"; did you mean Linear or LazyLinear?"""
    ],
)
_ = torch  # torch is imported for annotations that name torch types
