"""Tensor creation and inspection."""

from __future__ import annotations

import math
import re
import struct
import warnings
from typing import Any

import torch

from tcltorch import bridge
from tcltorch.commands.spec import (
    DTYPE_ALIASES,
    DTYPES,
    REGISTRY,
    REQUIRED,
    Bool,
    Custom,
    Device,
    DType,
    Handle,
    Int,
    IntList,
    Opt,
    Shape,
    Str,
    command,
    dtype_name,
    is_option_word,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value, wrong_args


def _input(help: str = "tensor handle") -> Opt:
    return Opt("input", Handle("tensor"), help=help, aliases=("tensor",))


def _dtype(default: torch.dtype | None = torch.float32) -> Opt:
    return Opt("dtype", DType(), default=default, help="element type")


def _device() -> Opt:
    return Opt("device", Device(), default=None, help="cpu, cuda or cuda:N", default_doc="cpu")


def _requires_grad() -> Opt:
    return Opt(
        "requiresGrad",
        Bool(),
        default=False,
        help="track gradients (makes a trainable leaf); floating-point dtypes only",
    )


def _number(text: str, option: str, ctx: Any) -> float:
    value = parse_tcl_double(text)
    if value is None:
        raise invalid_value(option, text, "must be a number")
    as_int = None
    try:
        as_int = int(text.strip(), 0)
    except ValueError:
        pass
    return as_int if as_int is not None else value


Number = Custom(_number, "number", "must be a number")


def _data(text: str, option: str, ctx: Any) -> tuple[Any, list[int], bool]:
    """(values, shape, all ints): values are one int64/float64 buffer (C walker) when the
    session has one, else a flat list of Python numbers."""
    reader = getattr(ctx, "nested_buffer", None)
    if reader is None:
        return ctx.nested(text, option)
    buffer, shape, all_ints = reader(text, option)
    return _Buffered(buffer, text, option, ctx), shape, all_ints


class _Buffered:
    """Numbers read by the C walker, with what is needed to read them again exactly."""

    __slots__ = ("buffer", "ctx", "option", "text")

    def __init__(self, buffer: bytearray, text: str, option: str, ctx: Any) -> None:
        self.buffer, self.text, self.option, self.ctx = buffer, text, option, ctx

    def tensor(self, all_ints: bool, dtype: torch.dtype, device: Any) -> torch.Tensor:
        if not all_ints and not (dtype.is_floating_point or dtype == torch.bool):
            # integers mixed with floats into an integer dtype: exact Python numbers, as before
            flat = self.ctx.nested(self.text, self.option)[0]
            return torch.tensor(flat, dtype=dtype, device=device)
        if not self.buffer:
            return torch.empty(0, dtype=dtype, device=device)
        raw = torch.frombuffer(self.buffer, dtype=torch.int64 if all_ints else torch.float64)
        return raw.to(dtype=dtype, device=device)


Data = Custom(_data, "nested list", "must be a rectangular nested list of numbers")


def made(tensor: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    return tensor.requires_grad_(True) if requires_grad else tensor


@command(
    "zeros",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with zeros.",
)
def zeros(shape, dtype, device, requires_grad):
    return made(torch.zeros(shape, dtype=dtype, device=device), requires_grad)


@command(
    "ones",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with ones.",
)
def ones(shape, dtype, device, requires_grad):
    return made(torch.ones(shape, dtype=dtype, device=device), requires_grad)


@command(
    "full",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    Opt("value", Number, help="fill value"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with one value.",
)
def full(shape, value, dtype, device, requires_grad):
    return made(torch.full(shape, value, dtype=dtype, device=device), requires_grad)


@command(
    "tensor_create",
    Opt("data", Data, help="a number or a rectangular nested list of numbers, any depth"),
    Opt("shape", Shape(), default=None, help="reshape the data to this shape"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor from Tcl data.",
)
def tensor_create(data, shape, dtype, device, requires_grad):
    flat, data_shape, all_ints = data
    if isinstance(flat, _Buffered):
        tensor = flat.tensor(all_ints, dtype, device)
    else:
        tensor = torch.tensor(flat, dtype=dtype, device=device)
    if shape is not None:
        numel = 1
        for d in shape:
            numel *= d
        if numel != tensor.numel():
            raise TclError(
                f'invalid -shape "{" ".join(map(str, shape))}": {tensor.numel()} values cannot take shape '
                f"{{{' '.join(map(str, shape))}}}",
                ["TORCH", "VALUE", "-shape"],
            )
        tensor = tensor.reshape(shape)
    else:
        tensor = tensor.reshape(data_shape)
    return made(tensor, requires_grad)


def _is_dtype_word(word: str) -> bool:
    key = word.strip()
    return key.lower() in DTYPES or key in DTYPE_ALIASES or key.lower() in DTYPE_ALIASES


def _parse_tensor_create(
    ctx: Any, args: tuple[str, ...], invoked: str, _parse: Any = REGISTRY["tensor_create"].parse
) -> Any:
    # The other implementation's positional form: data dtype ?device? ?requiresGrad?.
    # A dtype name is never a shape, so a dtype in the second slot means that form.
    cmd = REGISTRY["tensor_create"]
    if len(args) >= 2 and not is_option_word(args[0], cmd._lookup) and _is_dtype_word(args[1]):
        words, rest = [args[0]], list(args[1:])
        for flag in ("-dtype", "-device", "-requiresGrad"):
            if not rest or is_option_word(rest[0], cmd._lookup):
                break
            words += [flag, rest.pop(0)]
        if rest and not is_option_word(rest[0], cmd._lookup):
            raise wrong_args(cmd.usage(invoked))
        args = (*words, *rest)
    return _parse(ctx, args, invoked)


REGISTRY["tensor_create"].parse = _parse_tensor_create  # type: ignore[method-assign]


# -- reading values back --------------------------------------------------------

_LOW_PRECISION = {torch.float32: "f", torch.float16: "e", torch.bfloat16: "f"}


def _short_float(x: float, fmt: str) -> str:
    """The shortest decimal that reads back to the same float32/float16 value."""
    if not math.isfinite(x):
        return repr(x).replace("inf", "Inf").replace("nan", "NaN")
    for digits in range(4, 10):
        text = f"{x:.{digits}g}"
        if struct.unpack(fmt, struct.pack(fmt, float(text)))[0] == x:
            return text if any(c in text for c in ".e") else text + ".0"  # as Tcl prints doubles
    return repr(x)


def tcl_values(tensor: torch.Tensor) -> Any:
    """A tensor's values as (nested) Python numbers, each at full precision for its dtype."""
    tensor = tensor.detach()
    if tensor.layout != torch.strided:
        raise TclError(
            "a sparse tensor has no Tcl list form: convert it with torch::sparse_to_dense first",
            ["TORCH", "LAYOUT"],
        )
    if tensor.is_quantized:
        raise TclError(
            "a quantized tensor has no Tcl list form: use torch::dequantize (values) or "
            "torch::int_repr (stored integers)",
            ["TORCH", "DTYPE"],
        )
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    if tensor.is_complex():  # each element as a {re im} pair
        tensor = torch.view_as_real(tensor.resolve_conj())
    fmt = _LOW_PRECISION.get(tensor.dtype)
    if fmt is None:
        return tensor.tolist()
    values = tensor.float().tolist()

    def render(v: Any) -> Any:
        return [render(x) for x in v] if isinstance(v, list) else _short_float(v, fmt)

    return render(values)


def _fast_values(tensor: torch.Tensor) -> Any:
    """tcl_values built in C straight from the buffer (dense CPU float32/float64/integer/bool
    tensors, complex as {re im} pairs); None when this tensor needs the general path."""
    tensor = tensor.detach()
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
        return None
    if tensor.is_complex():
        tensor = torch.view_as_real(tensor.resolve_conj())
    kind = bridge.LIST_KINDS.get(dtype_name(tensor.dtype))
    if kind is None or tensor.dim() > 32:
        return None
    tensor = tensor.contiguous()
    return bridge.tensor_list(tensor.data_ptr(), kind, list(tensor.shape))


@command("tensor_to_list", _input(), summary="A tensor's values as a Tcl list, nesting kept.")
def tensor_to_list(input):
    fast = _fast_values(input)
    return tcl_values(input) if fast is None else fast


@command(
    "tensor_item",
    _input("tensor handle with exactly one element"),
    summary="The value of a one-element tensor.",
)
def tensor_item(input):
    if input.numel() != 1:
        shape = " ".join(map(str, input.shape))
        raise TclError(
            f"tensor_item needs a tensor with exactly one element, got shape {{{shape}}}",
            ["TORCH", "VALUE", "-input"],
        )
    return tcl_values(input.reshape(()))


@command("tensor_shape", _input(), summary="A tensor's shape as a list of integers.")
def tensor_shape(input):
    return list(input.shape)


@command("tensor_dtype", _input(), summary="A tensor's element type name.")
def tensor_dtype(input):
    return dtype_name(input.dtype)


# -- value types shared with the math commands ------------------------------------

_HANDLE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain_number(text: str) -> int | float | None:
    """A Tcl number as a Python int (when integral in form) or float; None otherwise."""
    value = parse_tcl_double(text)
    if value is None:
        return None
    as_int = parse_tcl_int(text)
    return as_int if as_int is not None else value


def _finite_number(text: str, option: str, ctx: Any) -> int | float:
    value = _plain_number(text)
    if value is None or not math.isfinite(value):
        raise invalid_value(option, text, "must be a finite number")
    return value


FiniteNumber = Custom(_finite_number, "number", "must be a finite number")


def _nonzero_number(text: str, option: str, ctx: Any) -> int | float:
    value = _plain_number(text)
    if value is None or not math.isfinite(value) or value == 0:
        raise invalid_value(option, text, "must be a finite nonzero number")
    return value


NonzeroNumber = Custom(_nonzero_number, "number", "must be a finite nonzero number")

OPERAND_REQUIREMENT = "must be a tensor handle or a number"


def _tensor_or_number(text: str, option: str, ctx: Any) -> torch.Tensor | int | float:
    """A Tcl number (int or float) or a tensor handle: the operand of the math commands."""
    obj = ctx.handles.lookup(text)  # the common case first: a live tensor handle
    if type(obj) is torch.Tensor or isinstance(obj, torch.Tensor):
        return obj
    word = text.strip()
    value = _plain_number(word)
    if value is not None:
        return value
    if _HANDLE_WORD.fullmatch(word):
        return ctx.handles.get(word, "tensor")  # no tensor named "x" / wrong kind
    raise invalid_value(option, text, OPERAND_REQUIREMENT)


TensorOrNumber = Custom(_tensor_or_number, "tensor/number", OPERAND_REQUIREMENT)


def _float_dtype(dtype: torch.dtype) -> torch.dtype:
    if not dtype.is_floating_point:
        raise invalid_value(
            "-dtype",
            dtype_name(dtype),
            "must be a floating-point dtype (float32, float64, float16 or bfloat16)",
        )
    return dtype


def _shape_text(tensor: torch.Tensor) -> str:
    return "{" + " ".join(map(str, tensor.shape)) + "}"


def _tensors(text: str, option: str, ctx: Any) -> list[torch.Tensor]:
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "must be a non-empty list of tensor handles")
    return [ctx.handles.get(word, "tensor") for word in words]


TensorList = Custom(_tensors, "list of tensor handles", "must be a non-empty list of tensor handles")


def _indices(text: str, option: str, ctx: Any) -> torch.Tensor:
    """A Tcl list of integers, or one int64/int32 tensor handle."""
    words = ctx.split(text, option)
    if len(words) == 1 and parse_tcl_int(words[0]) is None:
        if _HANDLE_WORD.fullmatch(words[0]):
            return ctx.handles.get(words[0], "tensor")
        raise invalid_value(option, text, "must be a list of integers or an integer tensor handle")
    values = [parse_tcl_int(w) for w in words]
    if any(v is None for v in values):
        raise invalid_value(option, text, "must be a list of integers or an integer tensor handle")
    return torch.tensor(values, dtype=torch.int64)


Indices = Custom(
    _indices, "list of integers/handle", "must be a list of integers or an integer tensor handle"
)


def _slice_end(text: str, option: str, ctx: Any) -> int | None:
    word = text.strip()
    if word in ("", "end"):
        return None
    value = parse_tcl_int(word)
    if value is None:
        raise invalid_value(option, text, "must be an integer, end, or {}")
    return value


SliceEnd = Custom(_slice_end, "integer/end", "must be an integer, end, or {}")

_SEED_MAX = 2**64 - 1


def _seed(text: str, option: str, ctx: Any) -> int:
    value = parse_tcl_int(text)
    if value is None or not 0 <= value <= _SEED_MAX:
        raise invalid_value(option, text, f"must be an integer from 0 to {_SEED_MAX}")
    return value


Seed = Custom(_seed, "integer", f"must be an integer from 0 to {_SEED_MAX}")


# -- more creation ---------------------------------------------------------------


@command(
    "randn",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _device(),
    _dtype(),
    _requires_grad(),
    extra_aliases=("tensor_randn", "tensorRandn"),
    summary="A tensor of samples from the standard normal distribution.",
)
def randn(shape, device, dtype, requires_grad):
    return made(torch.randn(shape, dtype=_float_dtype(dtype), device=device), requires_grad)


@command(
    "rand",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _device(),
    _dtype(),
    _requires_grad(),
    extra_aliases=("tensor_rand", "tensorRand"),
    summary="A tensor of samples from the uniform distribution on [0, 1).",
)
def rand(shape, device, dtype, requires_grad):
    return made(torch.rand(shape, dtype=_float_dtype(dtype), device=device), requires_grad)


@command(
    "arange",
    Opt("start", FiniteNumber, default=None, help="first value; a lone number is the end", default_doc="0"),
    Opt("end", FiniteNumber, default=None, help="end of the range, exclusive"),
    Opt("step", NonzeroNumber, default=1, help="distance between values"),
    Opt(
        "dtype",
        DType(),
        default=None,
        help="element type: int64 when start, end and step are all integers, else float32",
        default_doc="inferred",
    ),
    _device(),
    _requires_grad(),
    summary="A 1-d tensor of evenly spaced values in [start, end).",
)
def arange(start, end, step, dtype, device, requires_grad):
    if end is None:
        if start is None:
            raise TclError('missing required option "-end"', ["TORCH", "ARGS", "REQUIRED", "-end"])
        start, end = 0, start
    if start is None:
        start = 0
    return made(torch.arange(start, end, step, dtype=dtype, device=device), requires_grad)


def _named(cmd: Any, args: tuple[str, ...]) -> set[str]:
    """The options given by name in ``args`` (the words after the positional ones)."""
    i, n, names = 0, len(args), set()
    while i < n and not is_option_word(args[i], cmd._lookup):
        i += 1
    while i < n:
        names.add(cmd._option(args[i]).name)
        i += 2
    return names


def _parse_arange(
    ctx: Any, args: tuple[str, ...], invoked: str, _parse: Any = REGISTRY["arange"].parse
) -> Any:
    # A lone positional number is the end, as in torch.arange(5); a lone -start is not.
    kwargs = _parse(ctx, args, invoked)
    if kwargs["end"] is None and kwargs["start"] is not None and "start" in _named(REGISTRY["arange"], args):
        raise TclError(
            'missing required option "-end": -start alone is no range (torch::arange 5 or -end 5 counts 0 to 4)',
            ["TORCH", "ARGS", "REQUIRED", "-end"],
        )
    return kwargs


REGISTRY["arange"].parse = _parse_arange  # type: ignore[method-assign]


@command(
    "linspace",
    Opt("start", FiniteNumber, help="first value"),
    Opt("end", FiniteNumber, help="last value (included)"),
    Opt("steps", Int(ge=0), help="number of values"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A 1-d tensor of steps values evenly spaced from start to end.",
)
def linspace(start, end, steps, dtype, device, requires_grad):
    return made(torch.linspace(start, end, steps, dtype=dtype, device=device), requires_grad)


@command(
    "eye",
    Opt("n", Int(ge=0), help="number of rows"),
    Opt("m", Int(ge=0), default=None, help="number of columns", default_doc="n"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A 2-d tensor with ones on the diagonal and zeros elsewhere.",
)
def eye(n, m, dtype, device, requires_grad):
    return made(torch.eye(n, n if m is None else m, dtype=dtype, device=device), requires_grad)


@command(
    "manual_seed",
    Opt("seed", Seed, help="seed of torch's global random number generator"),
    summary="Seed the global random number generator.",
)
def manual_seed(seed):
    torch.manual_seed(seed)


# -- inspection --------------------------------------------------------------------


@command(
    "tensor_print",
    _input(),
    Opt("channel", Str(), default="stdout", help="Tcl channel to write to"),
    context=True,
    summary="Print a tensor through Tcl's puts.",
)
def tensor_print(input, channel, ctx):
    ctx.call("puts", channel, str(input))


@command("tensor_device", _input(), summary="The device a tensor lives on (cpu, cuda:0, ...).")
def tensor_device(input):
    return str(input.device)


@command("tensor_numel", _input(), summary="The number of elements of a tensor.")
def tensor_numel(input):
    return input.numel()


@command(
    "tensor_requires_grad",
    _input(),
    Opt(
        "requiresGrad",
        Bool(),
        default=None,
        help="new value; without it the flag is only read",
        default_doc="read only",
    ),
    context=True,
    summary="Read, or set on a leaf tensor, whether a tensor tracks gradients.",
)
def tensor_requires_grad(input, requires_grad, ctx):
    if requires_grad is not None:
        if not input.is_leaf:
            name = ctx.handles.name_of(input) or "tensor"
            raise invalid_value(
                "-input",
                name,
                "must be a leaf tensor to change requires_grad (it is the result of a "
                "computation; use torch::tensor_detach)",
            )
        input.requires_grad_(requires_grad)
    return input.requires_grad


@command("tensor_grad", _input(), summary="The gradient of a tensor, or an empty result when it has none.")
def tensor_grad(input):
    with warnings.catch_warnings():  # reading .grad of a non-leaf warns; the answer is just "none"
        warnings.simplefilter("ignore")
        return input.grad


@command(
    "tensor_backward",
    _input("tensor to differentiate (a one-element tensor, or give -gradient)"),
    Opt(
        "gradient",
        Handle("tensor"),
        default=None,
        help="gradient of the output, same shape as the tensor",
        default_doc="none (one-element tensors only)",
    ),
    Opt("retainGraph", Bool(), default=False, positional=False, help="keep the graph for another backward"),
    Opt(
        "createGraph",
        Bool(),
        default=False,
        positional=False,
        help="record the backward pass (higher-order gradients)",
    ),
    context=True,
    summary="Compute gradients of a tensor with respect to the leaves it depends on.",
)
def tensor_backward(input, gradient, retain_graph, create_graph, ctx):
    name = ctx.handles.name_of(input) or "tensor"
    if not input.requires_grad:
        raise invalid_value("-input", name, "must require gradients (make its inputs with -requiresGrad 1)")
    if gradient is None and input.numel() != 1:
        raise TclError(
            f'missing required option "-gradient": {name} has shape {_shape_text(input)}, '
            "and only a one-element tensor can go without a gradient",
            ["TORCH", "ARGS", "REQUIRED", "-gradient"],
        )
    input.backward(gradient, retain_graph=retain_graph or None, create_graph=create_graph)


# -- derived tensors ---------------------------------------------------------------


@command("tensor_detach", _input(), summary="A tensor sharing the data but cut from the autograd graph.")
def tensor_detach(input):
    return input.detach()


@command("tensor_clone", _input(), summary="A copy of a tensor (differentiable).")
def tensor_clone(input):
    return input.clone()


@command(
    "tensor_to",
    _input(),
    Opt("device", Device(), default=None, help="target device", default_doc="unchanged"),
    Opt("dtype", DType(), default=None, help="target element type", default_doc="unchanged"),
    summary="A tensor moved to a device and/or converted to a dtype.",
)
def tensor_to(input, device, dtype):
    if device is None and dtype is None:
        raise TclError(
            'missing required option "-device" or "-dtype"', ["TORCH", "ARGS", "REQUIRED", "-device"]
        )
    return input.to(device=device, dtype=dtype)


@command(
    "tensor_reshape",
    _input(),
    Opt("shape", IntList(), help="new dimensions; one of them may be -1"),
    summary="A tensor with the same data and a new shape.",
)
def tensor_reshape(input, shape):
    return input.reshape(shape)


def _dim(default: Any = 0, help: str = "dimension; negative counts from the end") -> Opt:
    return Opt("dim", Int(), default=default, help=help, aliases=("dimension",))


@command(
    "tensor_cat",
    Opt("tensors", TensorList, help="list of tensor handles"),
    _dim(0, "dimension to join along; negative counts from the end"),
    summary="Join tensors along an existing dimension.",
)
def tensor_cat(tensors, dim):
    return torch.cat(tensors, dim)


@command(
    "tensor_stack",
    Opt("tensors", TensorList, help="list of tensor handles of one shape"),
    _dim(0, "index of the new dimension; negative counts from the end"),
    summary="Join tensors of one shape along a new dimension.",
)
def tensor_stack(tensors, dim):
    return torch.stack(tensors, dim)


@command(
    "tensor_index_select",
    _input(),
    _dim(REQUIRED, "dimension to select along; negative counts from the end"),
    Opt("indices", Indices, help="a list of integers or an int64/int32 tensor handle", aliases=("index",)),
    summary="The entries of a tensor at given indices along one dimension.",
)
def tensor_index_select(input, dim, indices):
    return torch.index_select(input, dim, indices.to(input.device))


@command(
    "tensor_slice",
    _input(),
    _dim(REQUIRED, "dimension to slice; negative counts from the end"),
    Opt("start", Int(), help="first index; negative counts from the end"),
    Opt(
        "end",
        SliceEnd,
        default=None,
        help="end index, exclusive; negative counts from the end; end or {} for the end",
        default_doc="end",
    ),
    Opt("step", Int(ge=1), default=1, help="stride"),
    summary="The part start:end:step of a tensor along one dimension (a view).",
)
def tensor_slice(input, dim, start, end, step):
    n = input.dim()
    if not -n <= dim < n:
        requirement = (
            "cannot slice a 0-d tensor"
            if n == 0
            else f"must be in the range -{n} to {n - 1} for a {n}-d tensor"
        )
        raise invalid_value("-dim", str(dim), requirement)
    index = (slice(None),) * (dim % n) + (slice(start, end, step),)
    return input[index]
