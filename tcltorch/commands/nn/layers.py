"""Neural network modules: layers, activations, containers and the commands on them.

Every constructor returns a kind-prefixed module handle (``linear3``, ``conv2d1``,
``relu4``, ``sequential2``, ``layernorm1`` ...).  The activations ``torch::relu`` etc.
make *modules* (``nn.ReLU``) so they can go into a ``torch::sequential``; the tensor
functions of the same name are ``torch::tensor_relu`` etc.

torch::layer_forward: call a module on one or more tensors, with the options its forward takes.

``torch::layer_forward layer input ?input ...? ?-option value ...?`` returns exactly what
``layer(*inputs, **options)`` returns: a tensor handle, or for tuple results (an RNN's
output and state, attention's output and weights) a Tcl list of handles of the same
nesting.  Each option fills one parameter of the module's ``forward`` (camelCase of its
name); ``-attnMask``, ``-keyPaddingMask`` and ``-isCausal`` also name a transformer's
``src_mask``/``tgt_mask``/``mask``, its padding mask and its causal flag when the forward
has exactly one of them.  The plain ``layer_forward $layer $x`` call skips all of this.

torch::nn_module ClassName ?arg ...? ?-option value ...?: any torch.nn module.

The options of ``torch::nn_module CLASS`` are the parameters of ``torch.nn.CLASS.__init__``
in camelCase (their snake_case spellings are accepted too), positional in signature order.
Each class gets its own spec, built on first use from the signature, so usage messages,
unknown options and missing arguments read as for any other command.  Values are read by
the parameter's annotation or default: integers, numbers, booleans, strings, ``none`` for
None, lists (of numbers, or of handles) as tuples, and handles as the objects they name."""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Any

import torch
from torch import nn

from tcltorch.commands.nn._dual import OptionalTensor
from tcltorch.commands.nn._vocabulary import ModuleList, _param_device, _param_dtype, factory_kwargs
from tcltorch.commands.spec import (
    Bool,
    Command,
    Custom,
    Device,
    Double,
    DType,
    Handle,
    Int,
    Opt,
    Str,
    ValueType,
    add,
    camel,
    command,
    is_option_word,
    parse_tcl_bool,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value, shorten, wrong_args
from tcltorch.nn.select import Select

FAMILY = "nn/layers"


@command(
    "linear",
    Opt("inFeatures", Int(ge=1), help="size of each input sample"),
    Opt("outFeatures", Int(ge=1), help="size of each output sample"),
    Opt("bias", Bool(), default=True, help="learn an additive bias"),
    _param_device(),
    _param_dtype(),
    extra_aliases=("linearLayer",),
    summary="A fully connected layer y = x W^T + b (nn.Linear).",
)
def linear(in_features, out_features, bias, device, dtype):
    return nn.Linear(in_features, out_features, bias=bias, **factory_kwargs(device, dtype))


@command(
    "dropout",
    Opt("p", Double(ge=0, le=1), default=0.5, help="probability of zeroing an element"),
    Opt("training", Bool(), default=True, help="start in training mode (1) or evaluation mode (0)"),
    Opt("inplace", Bool(), default=False, help="zero the input tensor in place"),
    summary="Randomly zeroes elements in training mode (nn.Dropout).",
)
def dropout(p, training, inplace):
    return nn.Dropout(p, inplace=inplace).train(training)


@command(
    "flatten",
    Opt("startDim", Int(), default=1, help="first dimension to flatten; negative counts from the end"),
    Opt("endDim", Int(), default=-1, help="last dimension to flatten; negative counts from the end"),
    summary="Flattens a range of dimensions into one (nn.Flatten).",
)
def flatten(start_dim, end_dim):
    return nn.Flatten(start_dim, end_dim)


def _contains(outer: nn.Module, inner: nn.Module) -> bool:
    return any(m is inner for m in outer.modules())


@command(
    "sequential",
    Opt("modules", ModuleList, default=(), rest=True, help="module handles (words or lists), in order"),
    summary="A container that applies its modules one after another (nn.Sequential).",
)
def sequential(modules):
    return nn.Sequential(*[m for group in modules for m in group])


_RESERVED = frozenset(dir(nn.Sequential()))


def _path(text: str, option: str, ctx: Any) -> tuple[int, ...]:
    words = ctx.split(text, option)
    path = tuple(parse_tcl_int(w) for w in words)
    if not path or any(i is None for i in path):
        raise invalid_value(
            option, text, "must be an integer or a list of integers (a path into nested tuples)"
        )
    return path  # type: ignore[return-value]


_PATH = Custom(
    _path, "integer or list", "must be an integer or a list of integers (a path into nested tuples)"
)


@command(
    "nn_select",
    Opt(
        "index", _PATH, default=(0,), help="element of the tuple to pass on; a list walks into nested tuples"
    ),
    alias="nnSelect",
    extra_aliases=("select_output",),
)
def nn_select(index):
    """A module that passes on one element of a tuple: put it after a GRU, LSTM or attention layer in a sequential.

    A recurrent layer returns its output and its final state (`{output h_n}`; an LSTM
    `{output {h_n c_n}}`), so in a `torch::sequential` the next layer would get a pair. With
    `torch::nn_select 0` after it, the next layer gets the output alone; `torch::nn_select 1`
    passes the final state on, `torch::nn_select {1 0}` an LSTM's `h_n`. Negative indices count
    from the end. It has no parameters (`tcltorch.nn.select.Select`, a `torch.nn.Module`), so
    state dicts and checkpoints are as without it; `torch::add_module $seq $gru -output 0` adds
    one for you.

    ## Return Value

    A module handle (`selectN`).

    ## Errors

    An input that is not a tuple (a plain tensor), or an index out of its range, is an error
    of `torch::layer_forward` naming the index.

    Examples:
        set gru [torch::gru 3 5 -batchFirst 1]
        set model [torch::sequential $gru [torch::nn_select 1] [torch::linear 5 2]]
        puts [torch::tensor_shape [torch::layer_forward $model [torch::randn {4 7 3}]]]   ;# -> 1 4 2
        set lstm [torch::lstm 3 5 -batchFirst 1]
        set last [torch::sequential $lstm [torch::nn_select 0] [torch::linear 5 2]]
        puts [torch::tensor_shape [torch::layer_forward $last [torch::randn {4 7 3}]]]   ;# -> 4 7 2
    """
    return Select(*index)


@command(
    "add_module",
    Opt("model", Handle("sequential"), help="sequential handle", aliases=("sequential",)),
    Opt("module", Handle("module"), help="module handle to append", aliases=("layer",)),
    Opt("name", Str(), default=None, help="name of the new child (default: its position, 0 1 2 ...)"),
    Opt(
        "output",
        _PATH,
        default=None,
        positional=False,
        help="the module returns a tuple (GRU, LSTM, attention): pass on this element of it "
        "(adds a torch::nn_select after the module)",
    ),
    context=True,
    summary="Append a module to a sequential container.",
)
def add_module(model, module, name, output, ctx):
    if _contains(module, model):  # nn.Module would accept it and recurse forever in forward
        model_name = ctx.handles.name_of(model)
        why = (
            "cannot add a sequential to itself"
            if module is model
            else f"it contains {model_name}, so adding it would make a cycle"
        )
        raise invalid_value("-module", ctx.handles.name_of(module) or "module", why)
    if name is None:
        number = len(model)
        while str(number) in model._modules:
            number += 1
        name = str(number)
    elif not name or "." in name or name in _RESERVED:
        raise invalid_value(
            "-name", name, 'must be a non-empty name without "." that is not a Sequential attribute'
        )
    elif name in model._modules:
        raise invalid_value(
            "-name", name, f"{ctx.handles.name_of(model)} already has a module with this name"
        )
    model.add_module(name, module)
    if output is not None:
        selected = f"{name}_output"
        while selected in model._modules:
            selected += "_"
        model.add_module(selected, Select(*output))
    return model


def _state(text: str, option: str, ctx: Any) -> Any:
    words = ctx.split(text, option)
    if not words or words == ["none"]:
        return None
    tensors = [ctx.handles.get(w, "tensor") for w in words]
    return tensors[0] if len(tensors) == 1 else tuple(tensors)


State = Custom(
    _state, "tensor handle or list", "must be a tensor handle or a list of them ({h c} for an LSTM)"
)


_TENSOR, _BOOL = OptionalTensor, Bool()


# option, value type, forward parameters it may fill (the one the forward has), help
FORWARD_OPTIONS: list[tuple[str, Any, tuple[str, ...], str]] = [
    ("hx", State, ("hx",), "initial state of a recurrent layer: h_0, or {h_0 c_0} for an LSTM"),
    (
        "attnMask",
        _TENSOR,
        ("attn_mask", "mask", "src_mask", "tgt_mask"),
        "attention mask (bool: true = blocked, or float: added to the scores); also a transformer's own mask",
    ),
    (
        "keyPaddingMask",
        _TENSOR,
        ("key_padding_mask", "src_key_padding_mask", "tgt_key_padding_mask"),
        "[batch, seq] padding mask (true = ignore that key position)",
    ),
    ("needWeights", _BOOL, ("need_weights",), "multihead attention also returns the attention weights"),
    ("averageAttnWeights", _BOOL, ("average_attn_weights",), "average the returned weights over the heads"),
    (
        "isCausal",
        _BOOL,
        ("is_causal", "tgt_is_causal"),
        "the mask given is causal (a hint; give the mask too)",
    ),
    ("srcMask", _TENSOR, ("src_mask",), "a transformer's source self-attention mask"),
    ("mask", _TENSOR, ("mask",), "a transformer encoder stack's attention mask"),
    ("srcKeyPaddingMask", _TENSOR, ("src_key_padding_mask",), "a transformer's source padding mask"),
    ("tgtMask", _TENSOR, ("tgt_mask",), "a transformer decoder's self-attention mask"),
    ("memoryMask", _TENSOR, ("memory_mask",), "a transformer decoder's mask over the memory"),
    ("tgtKeyPaddingMask", _TENSOR, ("tgt_key_padding_mask",), "a transformer decoder's target padding mask"),
    (
        "memoryKeyPaddingMask",
        _TENSOR,
        ("memory_key_padding_mask",),
        "a transformer decoder's memory padding mask",
    ),
    ("srcIsCausal", _BOOL, ("src_is_causal",), "the source mask is causal"),
    ("tgtIsCausal", _BOOL, ("tgt_is_causal",), "the target mask is causal"),
    ("memoryIsCausal", _BOOL, ("memory_is_causal",), "the memory mask is causal"),
]


_TARGETS = {name: targets for name, _, targets, _ in FORWARD_OPTIONS}


_SIGNATURES: dict[type, tuple[tuple[str, ...], bool]] = {}


def _forward_params(module: torch.nn.Module) -> tuple[tuple[str, ...], bool]:
    cls = type(module)
    known = _SIGNATURES.get(cls)
    if known is None:
        try:
            params = inspect.signature(cls.forward).parameters
        except (TypeError, ValueError):
            params = {}
        names = tuple(n for n in params if n != "self")
        any_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        known = _SIGNATURES[cls] = (names, any_kw)
    return known


def _keywords(layer: torch.nn.Module, given: dict[str, Any]) -> dict[str, Any]:
    names, any_kw = _forward_params(layer)
    kwargs: dict[str, Any] = {}
    for option, value in given.items():
        targets = _TARGETS[option]
        hits = [t for t in targets if t in names]
        if not hits and any_kw:
            hits = [targets[0]]
        if len(hits) > 1:
            exact = [t for t in hits if t == targets[0]]
            if exact:
                hits = exact
            else:
                flags = " or ".join(
                    "-" + "".join(w.capitalize() if i else w for i, w in enumerate(h.split("_")))
                    for h in hits
                )
                raise TclError(
                    f'option "-{option}" is ambiguous for {type(layer).__name__}: use {flags}',
                    ["TORCH", "VALUE", "-" + option],
                )
        if not hits:
            cls = type(layer).__name__
            takes = ", ".join(n for n in names if n not in ("args", "kwargs")) or "nothing"
            raise TclError(
                f'option "-{option}" does not apply to {cls}: {cls}.forward takes {takes}',
                ["TORCH", "VALUE", "-" + option],
            )
        if hits[0] in kwargs:
            raise TclError(
                f'option "-{option}" gives {hits[0]} a second time', ["TORCH", "VALUE", "-" + option]
            )
        kwargs[hits[0]] = value
    return kwargs


def layer_forward(layer: torch.nn.Module, input: torch.Tensor, more: tuple = (), **options: Any) -> Any:
    if options:  # (the plain call's parse gives none)
        given = {k: v for k, v in options.items() if v is not None}
        if given:
            camel_given = {_CAMEL[k]: v for k, v in given.items()}
            return layer(input, *more, **_keywords(layer, camel_given))
    return layer(input, *more)


# Handles that layer_forward runs besides modules: class -> parser(ctx, args, invoked) giving the
# call's kwargs (commands/nn/interop.py registers ONNX Runtime sessions).
FORWARD_RUNNERS: dict[type, Any] = {}


class ForwardCommand(Command):
    """``layer_forward``: the two-handle call takes a short path; everything else the spec's."""

    def direct_calls(self) -> list[tuple[Any, ...]]:
        """For the bridge's direct call (tclapi.c, tt_direct), what parse's short path below
        does: ``layer_forward MODULE TENSOR``, a module that FORWARD_RUNNERS does not run and a
        plain tensor, as (words, fn, parameters, names the words give, other values, kinds,
        classes, excluded classes)."""
        return [
            (
                2,
                self.fn,
                ["layer", "input"],
                ["layer", "input"],
                {},
                b"it",
                (nn.Module, None),
                (FORWARD_RUNNERS, None),
            )
        ]

    def parse(self, ctx: Any, args: tuple[str, ...], invoked: str) -> dict[str, Any]:
        if len(args) == 2:  # the plain call, a module's handle and a tensor's: two lookups
            lookup = ctx.handles.lookup
            layer, input = lookup(args[0]), lookup(args[1])
            if (
                input.__class__ is _Tensor
                and isinstance(layer, nn.Module)
                and type(layer) not in FORWARD_RUNNERS
            ):
                return {"layer": layer, "input": input}
        if FORWARD_RUNNERS and args:
            first = args[1] if args[0] in ("-layer", "-model", "-module") and len(args) > 1 else args[0]
            runner = FORWARD_RUNNERS.get(type(ctx.handles.lookup(first)))
            if runner is not None:
                return runner(ctx, args, invoked)
        if len(args) == 2 and not is_option_word(args[0]) and not is_option_word(args[1]):
            handles = ctx.handles
            return {"layer": handles.get(args[0], "module"), "input": handles.get(args[1], "tensor")}
        kwargs = self._parse_general(ctx, args, invoked)
        inputs = kwargs["input"]  # the first input stays a plain argument (error messages name it)
        kwargs["input"], kwargs["more"] = inputs[0], tuple(inputs[1:])
        return kwargs


_Tensor = torch.Tensor


_OPTIONS = [
    Opt(
        "layer",
        Handle("module"),
        help="module handle (any layer, activation or sequential)",
        aliases=("model", "module"),
    ),
    Opt(
        "input",
        Handle("tensor"),
        rest=True,
        help="input tensor handle(s), in the forward's order",
        aliases=("tensor",),
    ),
    *[
        Opt(name, vtype, default=None, positional=False, help=help)
        for name, vtype, _, help in FORWARD_OPTIONS
    ],
]


_CAMEL = {o.py_name: o.name for o in _OPTIONS}


_FORWARD_DOC = """Calls the module: `module(input, ...)` in PyTorch, with the options its forward takes.

Works for every module handle: layers, activations, sequential containers, recurrent layers,
attention and transformer layers, and any module made with `torch::nn_module`. Inputs after the
first go to the forward's next parameters in order (`$mha $query $key $value`,
`$decoder $tgt $memory`). Each option fills the forward parameter of its name (camelCase of
torch's: `-hx`, `-keyPaddingMask`, `-needWeights`, `-tgtMask` ...); `-attnMask`,
`-keyPaddingMask` and `-isCausal` also name a transformer layer's own mask, padding mask and causal
flag (`src_mask` or `mask` of an encoder, `tgt_mask` of a decoder) when its forward has exactly one
of them. An option the module's forward does not take is an error naming what it takes.

The result is what the call returns: a tensor handle, or for a tuple a Tcl list of handles with
the same nesting (an LSTM gives `{output {h_n c_n}}`, a GRU or RNN `{output h_n}`, multihead
attention `{output weights}`, with an empty element for a `None`). A returned recurrent state can
be passed straight back as `-hx`. The result tracks gradients, so `torch::tensor_backward` on a
loss computed from it fills the gradients of the module's parameters.

`torch::forward` is a short alias. `-module` and `-model` are accepted for `-layer`, `-tensor`
for `-input`. Shape or dtype mismatches are PyTorch's to report.

## Return Value

A new tensor handle, or a list of handles for modules that return several tensors.

## Errors

| Situation | Message | -errorcode |
|-----------|---------|------------|
| an option the forward does not take | `option "-hx" does not apply to Linear: Linear.forward takes input` | `TORCH VALUE -hx` |
| input of the wrong shape | `mat1 and mat2 shapes cannot be multiplied (2x4 and 3x2)` | `TORCH RuntimeError` |

## See Also

- `torch::layer_parameters`
- `torch::sequential`
- `torch::lstm`
- `torch::multihead_attention`
- `torch::nn_module`
"""


_EXAMPLES = [
    """set layer [torch::linear 3 2]
set x [torch::tensor_create {{1 2 3} {-1 0.5 2}}]
puts [torch::tensor_shape [torch::layer_forward $layer $x]]           ;# -> 2 2
puts [torch::tensor_shape [torch::forward -layer $layer -input $x]]   ;# -> 2 2
# gradients reach the layer's parameters
lassign [torch::layer_parameters $layer] W b
torch::tensor_backward [torch::tensor_sum [torch::layerForward $layer $x]]
puts [torch::tensor_to_list [torch::tensor_grad $b]]                  ;# -> 2.0 2.0""",
    (
        "Several inputs, options, tuple results",
        """set lstm [torch::lstm 3 5]
set seq [torch::ones {4 1 3}]
lassign [torch::layer_forward $lstm $seq] out state
puts [llength $state]                                                 ;# -> 2
lassign [torch::layer_forward $lstm $seq -hx $state] out2 state2
set mha [torch::multihead_attention 6 2]
set q [torch::ones {4 1 6}]
set kv [torch::ones {7 1 6}]
lassign [torch::layer_forward $mha $q $kv $kv -needWeights 1] y w
puts [torch::tensor_shape $w]                                         ;# -> 1 4 7""",
    ),
]


add(
    ForwardCommand(
        "layer_forward",
        layer_forward,
        _OPTIONS,
        "Apply a module to its inputs (the module's forward pass); tuple results as lists of handles.",
        None,
        ("forward",),
        doc=_FORWARD_DOC,
        examples=_EXAMPLES,
    )
)


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
        raise TclError(f'unknown torch.nn class "{shorten(name)}"{hint}', ["TORCH", "VALUE", "-className"])
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


_NN_MODULE_DOC = """Builds any torch.nn module: `torch.nn.ClassName(...)` with the arguments given.

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


add(
    NnModuleCommand(
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
        doc=_NN_MODULE_DOC,
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
)


_ = torch  # torch is imported for annotations that name torch types
