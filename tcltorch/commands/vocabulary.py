"""The shared vocabulary of the command layer: value types and option builders that many
families use (a tensor input, a dtype, a device, numbers, tensor-or-number operands, lists of
tensors, dimensions, seeds), and the conversion of a tensor's values to Tcl lists.

A family module declares its own types only when no other family needs them; everything
here is imported, never redefined."""

from __future__ import annotations

import math
import re
import struct
from typing import Any

import torch

from tcltorch.commands.contract import native
from tcltorch.commands.spec import (
    REQUIRED,
    Bool,
    Custom,
    Device,
    DType,
    Handle,
    Int,
    IntList,
    Opt,
    ValueType,
    command,
    dtype_name,
    is_option_word,
    parse_int64,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value


def tensor_opt(name: str, help: str, aliases: tuple[str, ...] = (), type: ValueType | None = None) -> Opt:
    """An option that takes a tensor handle (``type``: a narrower handle type, e.g. sparse only)."""
    return Opt(name, Handle("tensor") if type is None else type, help=help, aliases=aliases)


def _input(
    help: str = "tensor handle", *, type: ValueType | None = None, aliases: tuple[str, ...] = ("tensor",)
) -> Opt:
    """``-input`` (alias ``-tensor``): the tensor a command works on."""
    return tensor_opt("input", help, aliases, type)


def _dtype(
    default: Any = torch.float32,
    help: str = "element type",
    *,
    type: ValueType | None = None,
    positional: bool = True,
    default_doc: str = "",
) -> Opt:
    """``-dtype``; ``type`` narrows the dtypes taken (floating-point, quantized)."""
    return Opt(
        "dtype",
        DType() if type is None else type,
        default=default,
        help=help,
        positional=positional,
        default_doc=default_doc,
    )


def _device(help: str = "cpu, cuda or cuda:N", *, positional: bool = True, default_doc: str = "cpu") -> Opt:
    """``-device``, default None (the docs show ``default_doc``)."""
    return Opt("device", Device(), default=None, help=help, positional=positional, default_doc=default_doc)


def _requires_grad() -> Opt:
    return Opt(
        "requiresGrad",
        Bool(),
        default=False,
        help="track gradients (makes a trainable leaf); floating-point dtypes only",
        aliases=("requires_grad",),
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
    if type(tensor).__name__ == "DTensor":
        raise TclError(
            "a sharded tensor has no Tcl list form on one rank: gather it with "
            "torch::distributed_full_tensor first",
            ["TORCH", "LAYOUT"],
        )
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
    if type(tensor) is not torch.Tensor:  # a DTensor's or subclass's data_ptr is not its values
        return None
    if tensor.layout != torch.strided or tensor.is_quantized or tensor.device.type != "cpu":
        return None
    if tensor.is_complex():
        tensor = torch.view_as_real(tensor.resolve_conj())
    kind = native.list_kinds.get(dtype_name(tensor.dtype))
    if kind is None or tensor.dim() > 32:
        return None
    tensor = tensor.contiguous()
    return native.tensor_list(tensor.data_ptr(), kind, list(tensor.shape))


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


TensorOrNumber = Custom(_tensor_or_number, "tensor/number", OPERAND_REQUIREMENT, handle_first="tensor")


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
    values = [parse_int64(w) for w in words]
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


def _named(cmd: Any, args: tuple[str, ...]) -> set[str]:
    """The options given by name in ``args`` (the words after the positional ones)."""
    i, n, names = 0, len(args), set()
    while i < n and not is_option_word(args[i], cmd._lookup):
        i += 1
    while i < n:
        names.add(cmd._option(args[i]).name)
        i += 2
    return names


def _dim(default: Any = None, help: str = "dimension", **kw: Any) -> Opt:
    """``-dim`` (alias ``-dimension``): one dimension; ``kw`` go to :class:`Opt` (default_doc)."""
    return Opt("dim", Int(), default=default, help=help, aliases=("dimension",), **kw)


Operand = int | float | torch.Tensor


def _left(help: str = "tensor handle or number") -> Opt:
    return Opt("input", TensorOrNumber, help=help, aliases=("input1", "tensor", "tensor1"))


def _right(help: str = "tensor handle or number") -> Opt:
    return Opt("other", TensorOrNumber, help=help, aliases=("input2", "tensor2"))


def as_tensors(a: Operand, b: Operand) -> tuple[torch.Tensor, Operand]:
    """Make the left operand a tensor so that a torch function can take the pair.

    A number on the left next to a tensor on the right becomes a 0-d tensor of the
    dtype ``tensor OP number`` would produce, so the result's dtype is the same
    whichever side the number is on.  Two numbers give a 0-d tensor of torch's
    default type for the first (int64 for integers, float32 otherwise)."""
    if isinstance(a, torch.Tensor):
        return a, b
    if isinstance(b, torch.Tensor):
        return torch.tensor(a, dtype=torch.result_type(b, a), device=b.device), b
    return torch.tensor(a), b


def _alpha() -> Opt:
    return Opt("alpha", FiniteNumber, default=1, help="multiplier of -other")


def _unary(name: str, fn: Any, summary: str) -> None:
    def run(input):
        return fn(input)

    run.__name__ = name
    command(name, _input(), summary=summary)(run)


def _keepdim(aliases: tuple[str, ...] = ()) -> Opt:
    return Opt("keepdim", Bool(), default=False, help="keep reduced dimensions with size 1", aliases=aliases)


def _dims(default: Any = None, doc: str = "all elements") -> Opt:
    """``-dim``: a dimension or a list of them (the docs show ``doc`` for the default None)."""
    return Opt(
        "dim",
        IntList(),
        default=default,
        help="dimension or list of dimensions",
        aliases=("dimension",),
        default_doc=doc if default is None else "",
    )


def _dim_list(default: Any = REQUIRED, help: str = "list of dimensions") -> Opt:
    """``-dims`` (aliases ``-dim``, ``-dimensions``): an ordered list of dimensions."""
    return Opt("dims", IntList(), default=default, help=help, aliases=("dim", "dimensions"))


def _all(result: torch.Tensor, input: torch.Tensor, keepdim: bool) -> torch.Tensor:
    """A reduction over every element; with keepdim, shaped [1, 1, ...] like the input."""
    return result.reshape([1] * input.dim()) if keepdim else result


def names_handles(fn: Any) -> Any:
    """Wrap a command function (declared with ``context=True``) so that an ``invalid -opt ""``
    error it raises about a tensor argument names the handle that was given for ``-opt``
    (the checks themselves see tensors, not words)."""
    import functools

    from tcltorch.commands.spec import snake

    @functools.wraps(fn)
    def run(*args: Any, ctx: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TclError as exc:
            code = exc.errorcode
            blank = f'invalid {code[2]} ""' if len(code) == 3 and code[:2] == ["TORCH", "VALUE"] else None
            if blank is None or not exc.message.startswith(blank):
                raise
            value = kwargs.get(snake(code[2].lstrip("-")))
            name = ctx.handles.name_of(value) if value is not None else None
            if not name:
                raise
            named = f'invalid {code[2]} "{name}"' + exc.message[len(blank) :]
            raise TclError(named, code) from None

    return run
