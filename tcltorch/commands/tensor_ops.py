"""Math on tensors: arithmetic, reductions, comparisons and activations.

Binary operations take a tensor handle or a Tcl number on either side (the
:data:`TensorOrNumber` value type); results are new tensor handles that keep the
autograd graph, so a loss computed with them can be differentiated with
``torch::tensor_backward``.
"""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.spec import Bool, Choice, Handle, Int, IntList, Opt, command
from tcltorch.commands.tensors import FiniteNumber, TensorOrNumber, _input

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


# -- arithmetic ---------------------------------------------------------------------


@command(
    "tensor_add",
    _left(),
    _right(),
    _alpha(),
    summary="input + alpha * other, element-wise with broadcasting.",
)
def tensor_add(input, other, alpha):
    a, b = as_tensors(input, other)
    return torch.add(a, b) if alpha == 1 else torch.add(a, b, alpha=alpha)


@command(
    "tensor_sub",
    _left(),
    _right(),
    _alpha(),
    summary="input - alpha * other, element-wise with broadcasting.",
)
def tensor_sub(input, other, alpha):
    a, b = as_tensors(input, other)
    return torch.sub(a, b) if alpha == 1 else torch.sub(a, b, alpha=alpha)


@command("tensor_mul", _left(), _right(), summary="input * other, element-wise with broadcasting.")
def tensor_mul(input, other):
    a, b = as_tensors(input, other)
    return torch.mul(a, b)


@command(
    "tensor_div",
    _left(),
    _right(),
    Opt(
        "roundingMode",
        Choice("none", "trunc", "floor"),
        default="none",
        help="none: true division; trunc or floor: rounded quotient",
    ),
    summary="input / other, element-wise with broadcasting.",
)
def tensor_div(input, other, rounding_mode):
    a, b = as_tensors(input, other)
    return torch.div(a, b, rounding_mode=None if rounding_mode == "none" else rounding_mode)


@command(
    "tensor_matmul",
    Opt("input", Handle("tensor"), help="left tensor handle", aliases=("input1", "tensor")),
    Opt("other", Handle("tensor"), help="right tensor handle", aliases=("input2",)),
    summary="Matrix product of two tensors (torch.matmul semantics).",
)
def tensor_matmul(input, other):
    return torch.matmul(input, other)


@command(
    "tensor_pow",
    Opt("input", TensorOrNumber, help="base: tensor handle or number", aliases=("tensor", "base", "input1")),
    Opt("exponent", TensorOrNumber, help="exponent: tensor handle or number", aliases=("other", "input2")),
    extra_aliases=("pow",),
    summary="input raised to exponent, element-wise with broadcasting.",
)
def tensor_pow(input, exponent):
    a, b = as_tensors(input, exponent)
    return torch.pow(a, b)


# -- element-wise functions -------------------------------------------------------------


def _unary(name: str, fn: Any, summary: str) -> None:
    def run(input):
        return fn(input)

    run.__name__ = name
    command(name, _input(), summary=summary)(run)


_unary("tensor_exp", torch.exp, "e raised to each element.")
_unary("tensor_log", torch.log, "Natural logarithm of each element.")
_unary("tensor_sqrt", torch.sqrt, "Square root of each element.")
_unary("tensor_abs", torch.abs, "Absolute value of each element.")
_unary("tensor_relu", torch.relu, "max(0, x) for each element.")
_unary("tensor_sigmoid", torch.sigmoid, "1 / (1 + exp(-x)) for each element.")
_unary("tensor_tanh", torch.tanh, "Hyperbolic tangent of each element.")


# -- reductions ---------------------------------------------------------------------------


def _keepdim() -> Opt:
    return Opt("keepdim", Bool(), default=False, help="keep reduced dimensions with size 1")


def _dims() -> Opt:
    return Opt(
        "dim",
        IntList(),
        default=None,
        help="dimension or list of dimensions",
        aliases=("dimension",),
        default_doc="all elements",
    )


def _all(result: torch.Tensor, input: torch.Tensor, keepdim: bool) -> torch.Tensor:
    """A reduction over every element; with keepdim, shaped [1, 1, ...] like the input."""
    return result.reshape([1] * input.dim()) if keepdim else result


@command(
    "tensor_sum",
    _input(),
    _dims(),
    _keepdim(),
    summary="Sum of the elements, over all or some dimensions.",
)
def tensor_sum(input, dim, keepdim):
    if not dim:
        return _all(torch.sum(input), input, keepdim)
    return torch.sum(input, dim=dim, keepdim=keepdim)


@command(
    "tensor_mean",
    _input(),
    _dims(),
    _keepdim(),
    summary="Mean of the elements, over all or some dimensions.",
)
def tensor_mean(input, dim, keepdim):
    if not dim:
        return _all(torch.mean(input), input, keepdim)
    return torch.mean(input, dim=dim, keepdim=keepdim)


def _one_dim() -> Opt:
    return Opt(
        "dim", Int(), default=None, help="dimension", aliases=("dimension",), default_doc="all elements"
    )


@command(
    "tensor_max", _input(), _one_dim(), _keepdim(), summary="Largest element, overall or along a dimension."
)
def tensor_max(input, dim, keepdim):
    if dim is None:
        return _all(torch.max(input), input, keepdim)
    return torch.max(input, dim, keepdim).values


@command(
    "tensor_min", _input(), _one_dim(), _keepdim(), summary="Smallest element, overall or along a dimension."
)
def tensor_min(input, dim, keepdim):
    if dim is None:
        return _all(torch.min(input), input, keepdim)
    return torch.min(input, dim, keepdim).values


@command(
    "tensor_argmax",
    _input(),
    _one_dim(),
    _keepdim(),
    summary="Index of the largest element, overall (flattened) or along a dimension.",
)
def tensor_argmax(input, dim, keepdim):
    if dim is None:
        return _all(torch.argmax(input), input, keepdim)
    return torch.argmax(input, dim, keepdim)


# -- comparison ---------------------------------------------------------------------------


@command(
    "tensor_eq",
    _left(),
    _right(),
    extra_aliases=("eq", "Eq"),
    summary="Element-wise equality as a bool tensor.",
)
def tensor_eq(input, other):
    a, b = as_tensors(input, other)
    return torch.eq(a, b)


# -- softmax --------------------------------------------------------------------------------


def _softmax_dim() -> Opt:
    return Opt("dim", Int(), default=-1, help="dimension that sums to one", aliases=("dimension",))


@command("tensor_softmax", _input(), _softmax_dim(), summary="Softmax along one dimension.")
def tensor_softmax(input, dim):
    return torch.softmax(input, dim)


@command("tensor_log_softmax", _input(), _softmax_dim(), summary="Log of the softmax along one dimension.")
def tensor_log_softmax(input, dim):
    return torch.log_softmax(input, dim)
