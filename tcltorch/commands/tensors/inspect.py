"""Inspection and conversion of tensors: values as Tcl lists, item, shape, dtype, device,
element count, contiguity, autograd flags and gradients, copies (clone, detach) and
conversion (tensor_to)."""

from __future__ import annotations

import warnings
from typing import Any

from tcltorch.commands.spec import (
    Bool,
    Command,
    Device,
    DType,
    Int,
    Opt,
    Str,
    command,
    dtype_name,
    is_option_word,
)
from tcltorch.commands.vocabulary import _fast_values, _input, tcl_values
from tcltorch.errors import TclError, invalid_value

FAMILY = "tensors/inspect"


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
        aliases=("requires_grad",),
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


@command("tensor_detach", _input(), summary="A tensor sharing the data but cut from the autograd graph.")
def tensor_detach(input):
    return input.detach()


@command("tensor_clone", _input(), summary="A copy of a tensor (differentiable).")
def tensor_clone(input):
    return input.clone()


def _is_dtype(word: str) -> bool:
    try:
        DType().convert(word, "-dtype", None)
    except TclError:
        return False
    return True


def _parse_tensor_to(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    # The other implementation's `tensor_to TENSOR DTYPE ?DEVICE?`: no device is named like a dtype.
    if len(args) in (2, 3) and not any(is_option_word(w, cmd._lookup) for w in args) and _is_dtype(args[1]):
        args = (args[0], "-dtype", args[1], *(("-device", args[2]) if len(args) == 3 else ()))
    return parse(ctx, args, invoked)


@command(
    "tensor_to",
    _input(),
    Opt("device", Device(), default=None, help="target device", default_doc="unchanged"),
    Opt("dtype", DType(), default=None, help="target element type", default_doc="unchanged"),
    summary="A tensor moved to a device and/or converted to a dtype.",
    doc="A tensor moved to a device and/or converted to a dtype.\n\n"
    "A dtype name as the second word is the dtype (`torch::tensor_to $t float64 ?device?`, the other "
    "implementation's order): no device is named like a dtype.",
    parse_hook=_parse_tensor_to,
)
def tensor_to(input, device, dtype):
    if device is None and dtype is None:
        raise TclError(
            'missing required option "-device" or "-dtype"', ["TORCH", "ARGS", "REQUIRED", "-device"]
        )
    return input.to(device=device, dtype=dtype)


@command(
    "tensor_is_contiguous",
    _input(),
    summary="1 if the tensor's elements are contiguous in memory (row-major), else 0.",
    doc="1 if the tensor's elements are contiguous in memory (row-major), else 0.\n\n"
    "As `tensor.is_contiguous()`. Views such as a transpose or a strided slice are usually not.\n\n"
    "## Return Value\n\n1 or 0 (a Tcl boolean).",
    examples=[
        (
            "set x [torch::zeros {2 3}]\n"
            "puts [torch::tensor_is_contiguous $x]                           ;# -> 1\n"
            "puts [torch::tensorIsContiguous [torch::tensor_slice $x 1 0 3 2]]  ;# -> 0\n"
        )
    ],
)
def tensor_is_contiguous(input):
    return int(input.is_contiguous())


@command(
    "tensor_size",
    _input(),
    Opt(
        "dim",
        Int(),
        default=None,
        help="one dimension (negative counts from the end)",
        aliases=("dimension",),
        default_doc="all dimensions",
    ),
    summary="The size of a tensor: the list of its dimensions, or the size of one.",
    doc="The size of a tensor: the list of its dimensions, or the size of one.\n\n"
    "As `tensor.size()` / `tensor.size(dim)`; without `-dim` the same as `torch::tensor_shape`.\n\n"
    "## Return Value\n\nA list of integers, or one integer with `-dim`.",
    examples=[
        (
            "set x [torch::zeros {2 3 4}]\n"
            "puts [torch::tensor_size $x]                ;# -> 2 3 4\n"
            "puts [torch::tensor_size $x -1]             ;# -> 4\n"
            "puts [torch::tensorSize -input $x -dim 0]   ;# -> 2\n"
        )
    ],
)
def tensor_size(input, dim):
    if dim is None:
        return list(input.shape)
    n = input.dim()
    if not -n <= dim < n:
        raise TclError(
            f'invalid -dim "{dim}": must be in [{-n}, {n - 1}] for a {n}-d tensor',
            ["TORCH", "VALUE", "-dim"],
        )
    return input.size(dim)
