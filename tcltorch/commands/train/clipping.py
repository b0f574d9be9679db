"""Gradient clipping: torch::clip_grad_norm and torch::clip_grad_value (torch.nn.utils)."""

from __future__ import annotations

import math
from typing import Any

import torch

from tcltorch.commands.spec import Bool, Custom, Double, Opt, command, parse_tcl_double
from tcltorch.errors import TclError, invalid_value

FAMILY = "train/clipping"


def _tensors(text: str, option: str, ctx: Any) -> list[torch.Tensor]:
    """Tensor and module handles (all their parameters), duplicates once; nothing is changed."""
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "the parameter list is empty")
    found: dict[int, torch.Tensor] = {}
    for word in words:
        obj = ctx.handles.get(word)
        if isinstance(obj, torch.nn.Module):
            for p in obj.parameters():
                found.setdefault(id(p), p)
        elif isinstance(obj, torch.Tensor):
            found.setdefault(id(obj), obj)
        else:
            from tcltorch.handles import describe

            raise TclError(
                f'"{word}" is {describe(obj)}, expected a tensor or module', ["TORCH", "HANDLE", word]
            )
    return list(found.values())


Tensors = Custom(_tensors, "list/handle", "must be a tensor handle, a module handle, or a list of them")


def _norm_type(text: str, option: str, ctx: Any) -> float:
    value = math.inf if text.strip().lower() in ("inf", "infinity") else parse_tcl_double(text)
    if value is None or math.isnan(value) or value <= 0:
        raise invalid_value(option, text, "must be a number > 0 or inf")
    return value


_PARAMETERS = Opt(
    "parameters",
    Tensors,
    help="tensor handle, module handle, or a list mixing them (their .grad is clipped)",
    aliases=("params",),
)


@command(
    "clip_grad_norm",
    _PARAMETERS,
    Opt("maxNorm", Double(ge=0), help="largest total norm of the gradients", aliases=("max_norm",)),
    Opt(
        "normType",
        Custom(_norm_type, "double", "must be a number > 0 or inf"),
        2.0,
        "p of the p-norm (inf: largest absolute value)",
        aliases=("norm_type",),
    ),
    Opt(
        "errorIfNonfinite",
        Bool(),
        False,
        "raise an error when the total norm is NaN or Inf",
        aliases=("error_if_nonfinite",),
    ),
)
def clip_grad_norm(parameters, max_norm, norm_type, error_if_nonfinite):
    """Scale the gradients so that their total norm is at most maxNorm; returns the total norm before.

    `torch.nn.utils.clip_grad_norm_`: computes the `-normType` norm of all the gradients together (as
    one vector) and, when it exceeds `-maxNorm`, scales every gradient by maxNorm/(norm + 1e-6) in
    place. Tensors without a gradient are skipped. With `-errorIfNonfinite 1` a NaN or Inf total norm is
    an error and nothing is changed. Use it between `torch::tensor_backward` and
    `torch::optimizer_step`; the optimizers' `-clipNorm`/`-globalClipNorm` options do the same inside
    the step without reading the norm back.

    ## Return Value

    The total norm of the gradients before clipping, a Tcl double.

    Examples:
        set w [torch::tensor_create {1.0 2.0} -requiresGrad 1]
        torch::tensor_backward [torch::tensor_sum [torch::tensor_mul $w [torch::tensor_create {3.0 4.0}]]]
        puts [torch::clip_grad_norm -parameters $w -maxNorm 1.0]    ;# -> 5.0
        puts [torch::tensor_to_list [torch::tensor_grad $w]]    ;# -> 0.5999999 0.79999983
        puts [torch::clip_grad_norm $w 10 inf]    ;# -> 0.7999998331069946
    """
    total = torch.nn.utils.clip_grad_norm_(
        parameters, max_norm, norm_type=norm_type, error_if_nonfinite=error_if_nonfinite
    )
    return float(total.item())


@command(
    "clip_grad_value",
    _PARAMETERS,
    Opt(
        "clipValue",
        Double(ge=0),
        help="gradients are clamped to [-clipValue, clipValue]",
        aliases=("clip_value",),
    ),
)
def clip_grad_value(parameters, clip_value):
    """Clamp every gradient element to [-clipValue, clipValue] (torch.nn.utils.clip_grad_value_).

    `torch.nn.utils.clip_grad_value_`: clamps every element of every gradient to [-clipValue, clipValue]
    in place; tensors without a gradient are skipped.

    ## Return Value

    An empty string.

    Examples:
        set w [torch::tensor_create {1.0 2.0} -requiresGrad 1]
        torch::tensor_backward [torch::tensor_sum [torch::tensor_mul $w [torch::tensor_create {3.0 -0.1}]]]
        torch::clip_grad_value -parameters $w -clipValue 0.5
        puts [torch::tensor_to_list [torch::tensor_grad $w]]    ;# -> 0.5 -0.1
    """
    torch.nn.utils.clip_grad_value_(parameters, clip_value)
