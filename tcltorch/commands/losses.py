"""Loss functions: each takes an input and a target tensor and returns a loss tensor.

With ``-reduction mean`` (the default) or ``sum`` the result is a 0-d tensor, ready for
``torch::tensor_backward`` and ``torch::tensor_item``; with ``none`` it keeps one loss
per element (or per sample for the class losses).

Conversions, all documented on the pages:

* element-wise losses (mse, l1, smooth_l1, bce, bce_with_logits) need a target of the
  input's shape (torch would broadcast with only a warning; here it is an error) and
  convert the target to the input's dtype;
* class losses (cross_entropy, nll) take class indices of any integer dtype, or a float
  tensor of whole numbers, and convert them to int64; cross_entropy also takes class
  probabilities, a float tensor of the input's shape.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from tcltorch.commands.spec import Choice, Custom, Double, Handle, Int, Opt, command, dtype_name
from tcltorch.errors import invalid_value

REDUCTIONS = ("mean", "sum", "none")
_WEIGHT_REQUIREMENT = "must be a tensor handle or {} for none"


def _optional_tensor(text: str, option: str, ctx: Any) -> torch.Tensor | None:
    word = text.strip()
    if not word:
        return None
    if word in REDUCTIONS and word not in ctx.handles:
        raise invalid_value(
            option,
            text,
            f"must be a tensor handle (a reduction goes after it, e.g. {{}} {word}, or as -reduction {word})",
        )
    return ctx.handles.get(word, "tensor")


OptionalTensor = Custom(_optional_tensor, "tensor handle", _WEIGHT_REQUIREMENT)


def _input() -> Opt:
    return Opt("input", Handle("tensor"), help="prediction tensor handle")


def _target(help: str = "target tensor handle, same shape as the input") -> Opt:
    return Opt("target", Handle("tensor"), help=help)


def _reduction() -> Opt:
    return Opt("reduction", Choice(*REDUCTIONS), default="mean", help="mean, sum or none")


def _weight(help: str) -> Opt:
    return Opt("weight", OptionalTensor, default=None, help=help)


def _shape(tensor: torch.Tensor) -> str:
    return "{" + " ".join(map(str, tensor.shape)) + "}"


def _float_input(input: torch.Tensor, ctx: Any) -> None:
    if not input.is_floating_point():
        raise invalid_value(
            "-input",
            ctx.handles.name_of(input) or "tensor",
            f"must be a floating-point tensor, got {dtype_name(input.dtype)}",
        )


def _elementwise_target(input: torch.Tensor, target: torch.Tensor, ctx: Any) -> torch.Tensor:
    """Check the input, then the target's shape; give the target the input's dtype."""
    _float_input(input, ctx)
    if target.shape != input.shape:
        raise invalid_value(
            "-target",
            ctx.handles.name_of(target) or "tensor",
            f"must have the input's shape {_shape(input)}, got {_shape(target)}",
        )
    return target if target.dtype == input.dtype else target.to(input.dtype)


def _like_input(input: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor | None:
    """A weight tensor in the input's dtype (weights are never integer or of another precision)."""
    return weight if weight is None or weight.dtype == input.dtype else weight.to(input.dtype)


def _class_target(input: torch.Tensor, target: torch.Tensor, ctx: Any, probabilities: bool) -> torch.Tensor:
    """Class indices as int64 (from any integer dtype or whole-number floats), or, where
    allowed, class probabilities (a float tensor of the input's shape)."""
    _float_input(input, ctx)
    if target.dtype == torch.int64:
        return target
    name = ctx.handles.name_of(target) or "tensor"
    if probabilities and target.is_floating_point() and target.shape == input.shape and input.dim() > 0:
        return target if target.dtype == input.dtype else target.to(input.dtype)
    if target.dtype == torch.bool or target.is_complex():
        raise invalid_value(
            "-target", name, f"must hold class indices, got a {dtype_name(target.dtype)} tensor"
        )
    if target.is_floating_point():
        whole = torch.isfinite(target).all() and (target == target.round()).all()
        if not bool(whole):
            what = "class indices (whole numbers)"
            if probabilities:
                what += f" or class probabilities of the input's shape {_shape(input)}"
            raise invalid_value("-target", name, f"must hold {what}")
    return target.long()


# -- regression losses ---------------------------------------------------------------------


@command(
    "mse_loss",
    _input(),
    _target(),
    _reduction(),
    context=True,
    summary="Mean squared error between input and target.",
)
def mse_loss(input, target, reduction, ctx):
    return F.mse_loss(input, _elementwise_target(input, target, ctx), reduction=reduction)


@command(
    "l1_loss",
    _input(),
    _target(),
    _reduction(),
    context=True,
    summary="Mean absolute error between input and target.",
)
def l1_loss(input, target, reduction, ctx):
    return F.l1_loss(input, _elementwise_target(input, target, ctx), reduction=reduction)


@command(
    "smooth_l1_loss",
    _input(),
    _target(),
    _reduction(),
    Opt(
        "beta",
        Double(ge=0),
        default=1.0,
        positional=False,
        help="where the loss changes from quadratic to linear; 0 gives the L1 loss",
    ),
    context=True,
    summary="Huber-like loss: quadratic for small errors, linear for large ones.",
)
def smooth_l1_loss(input, target, reduction, beta, ctx):
    return F.smooth_l1_loss(input, _elementwise_target(input, target, ctx), reduction=reduction, beta=beta)


# -- binary classification -------------------------------------------------------------------


@command(
    "bce_loss",
    _input(),
    _target("target probabilities in [0, 1], same shape as the input"),
    _weight("rescaling weight of each element, broadcastable to the input"),
    _reduction(),
    context=True,
    summary="Binary cross-entropy between probabilities and targets.",
)
def bce_loss(input, target, weight, reduction, ctx):
    return F.binary_cross_entropy(
        input, _elementwise_target(input, target, ctx), weight=_like_input(input, weight), reduction=reduction
    )


@command(
    "bce_with_logits_loss",
    _input(),
    _target("target probabilities in [0, 1], same shape as the input"),
    _weight("rescaling weight of each element, broadcastable to the input"),
    _reduction(),
    Opt(
        "posWeight",
        Handle("tensor"),
        default=None,
        positional=False,
        help="weight of positive examples, one per class (broadcast over the last dimension)",
    ),
    context=True,
    summary="Binary cross-entropy on logits (a sigmoid and bce_loss in one, numerically stable).",
)
def bce_with_logits_loss(input, target, weight, reduction, pos_weight, ctx):
    return F.binary_cross_entropy_with_logits(
        input,
        _elementwise_target(input, target, ctx),
        weight=_like_input(input, weight),
        reduction=reduction,
        pos_weight=_like_input(input, pos_weight),
    )


# -- multi-class classification --------------------------------------------------------------


def _ignore_index() -> Opt:
    return Opt(
        "ignoreIndex",
        Int(),
        default=-100,
        positional=False,
        help="target value that is ignored and adds no gradient",
    )


@command(
    "cross_entropy_loss",
    _input(),
    _target("class indices (N) or class probabilities (N, C)"),
    _weight("weight of each class, a 1-d tensor of C values"),
    _reduction(),
    _ignore_index(),
    Opt(
        "labelSmoothing",
        Double(ge=0, le=1),
        default=0.0,
        positional=False,
        help="amount of smoothing between 0 and 1",
    ),
    context=True,
    summary="Cross-entropy between logits and class targets.",
)
def cross_entropy_loss(input, target, weight, reduction, ignore_index, label_smoothing, ctx):
    target = _class_target(input, target, ctx, probabilities=True)
    return F.cross_entropy(
        input,
        target,
        weight=_like_input(input, weight),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


@command(
    "nll_loss",
    _input(),
    _target("class indices (N)"),
    _weight("weight of each class, a 1-d tensor of C values"),
    _reduction(),
    _ignore_index(),
    context=True,
    summary="Negative log-likelihood of log-probabilities and class indices.",
)
def nll_loss(input, target, weight, reduction, ignore_index, ctx):
    target = _class_target(input, target, ctx, probabilities=False)
    return F.nll_loss(
        input, target, weight=_like_input(input, weight), ignore_index=ignore_index, reduction=reduction
    )
