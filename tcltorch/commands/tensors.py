"""Tensor creation and inspection."""

from __future__ import annotations

import struct
from typing import Any

import torch

from tcltorch.commands.spec import (
    Bool,
    Custom,
    Device,
    DType,
    Handle,
    Opt,
    Shape,
    command,
    dtype_name,
    parse_tcl_double,
)
from tcltorch.errors import TclError, invalid_value


def _input(help: str = "tensor handle") -> Opt:
    return Opt("input", Handle("tensor"), help=help, aliases=("tensor",))


def _dtype(default: torch.dtype | None = torch.float32) -> Opt:
    return Opt("dtype", DType(), default=default, help="element type")


def _device() -> Opt:
    return Opt("device", Device(), default=None, help="cpu, cuda or cuda:N (default: cpu)")


def _requires_grad() -> Opt:
    return Opt("requiresGrad", Bool(), default=False, help="track gradients (makes a trainable leaf)")


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


def _data(text: str, option: str, ctx: Any) -> tuple[list[Any], list[int], bool]:
    return ctx.nested(text, option)


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
    flat, data_shape, _ = data
    tensor = torch.tensor(flat, dtype=dtype, device=device)
    if shape is not None:
        numel = 1
        for d in shape:
            numel *= d
        if numel != tensor.numel():
            raise TclError(
                f"invalid -shape \"{' '.join(map(str, shape))}\": {tensor.numel()} values cannot take shape "
                f"{{{' '.join(map(str, shape))}}}",
                ["TORCH", "VALUE", "-shape"],
            )
        tensor = tensor.reshape(shape)
    else:
        tensor = tensor.reshape(data_shape)
    return made(tensor, requires_grad)


# -- reading values back --------------------------------------------------------

_LOW_PRECISION = {torch.float32: "f", torch.float16: "e", torch.bfloat16: "f"}


def _short_float(x: float, fmt: str) -> str:
    """The shortest decimal that reads back to the same float32/float16 value."""
    if x != x or x in (float("inf"), float("-inf")):
        return repr(x).replace("inf", "Inf").replace("nan", "NaN")
    for digits in range(4, 10):
        text = "%.*g" % (digits, x)
        if struct.unpack(fmt, struct.pack(fmt, float(text)))[0] == x:
            return text if any(c in text for c in ".e") else text + ".0"  # as Tcl prints doubles
    return repr(x)


def tcl_values(tensor: torch.Tensor) -> Any:
    """A tensor's values as (nested) Python numbers, each at full precision for its dtype."""
    tensor = tensor.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()
    fmt = _LOW_PRECISION.get(tensor.dtype)
    if fmt is None:
        if tensor.is_complex():
            raise TclError("complex tensors have no Tcl number form", ["TORCH", "DTYPE"])
        return tensor.tolist()
    values = tensor.float().tolist()

    def render(v: Any) -> Any:
        return [render(x) for x in v] if isinstance(v, list) else _short_float(v, fmt)

    return render(values)


@command("tensor_to_list", _input(), summary="A tensor's values as a Tcl list, nesting kept.")
def tensor_to_list(input):
    return tcl_values(input)


@command("tensor_item", _input("tensor handle with exactly one element"), summary="The value of a one-element tensor.")
def tensor_item(input):
    if input.numel() != 1:
        shape = " ".join(map(str, input.shape))
        raise TclError(
            f"tensor_item needs a tensor with exactly one element, got shape {{{shape}}}", ["TORCH", "VALUE", "-input"]
        )
    return tcl_values(input.reshape(()))


@command("tensor_shape", _input(), summary="A tensor's shape as a list of integers.")
def tensor_shape(input):
    return list(input.shape)


@command("tensor_dtype", _input(), summary="A tensor's element type name.")
def tensor_dtype(input):
    return dtype_name(input.dtype)
