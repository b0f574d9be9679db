"""Activations: one row per torch.nn class.

``torch::NAME ?options?`` builds the module (for ``torch::sequential``);
``torch::NAME $tensor ?options?`` applies it to a tensor and returns the result, exactly
what calling the module does (the other implementation's commands of these names act
on a tensor)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tcltorch.commands.nn._dual import layer, with_tensor_form
from tcltorch.commands.nn._vocabulary import FloatDType
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Device,
    Double,
    Handle,
    Int,
    Opt,
    command,
)
from tcltorch.commands.vocabulary import _dim, _input

FAMILY = "nn/activations"


@command("relu", summary="The activation max(0, x) as a module (nn.ReLU).")
def relu():
    return nn.ReLU()


@command("sigmoid", summary="The activation 1 / (1 + exp(-x)) as a module (nn.Sigmoid).")
def sigmoid():
    return nn.Sigmoid()


@command("tanh", summary="The activation tanh(x) as a module (nn.Tanh).")
def tanh():
    return nn.Tanh()


# With a tensor first, torch::gelu applies F.gelu: see commands/nn/activations.py.
@command(
    "gelu",
    Opt("approximate", Choice("none", "tanh"), default="none", help="exact (none) or the tanh approximation"),
    summary="The activation x * Phi(x) as a module (nn.GELU).",
)
def gelu(approximate):
    return nn.GELU(approximate=approximate)


_X = "{-2.0 -0.5 0.0 1.0 3.0}"


def _inplace() -> Opt:
    return Opt("inplace", Bool(), default=False, help="overwrite the input tensor with the result")


# name, class, options, summary, example arguments, extra aliases
ROWS: list[tuple[str, type, list[Opt], str, str, tuple[str, ...]]] = [
    ("selu", nn.SELU, [_inplace()], "SELU: scale * (max(0,x) + min(0, alpha*(exp(x)-1))) (nn.SELU)", "", ()),
    (
        "elu",
        nn.ELU,
        [Opt("alpha", Double(), default=1.0, help="value approached for large negative inputs"), _inplace()],
        "ELU: x for x > 0, alpha*(exp(x)-1) otherwise (nn.ELU)",
        "",
        ("Elu",),
    ),
    (
        "leaky_relu",
        nn.LeakyReLU,
        [
            Opt(
                "negativeSlope",
                Double(),
                default=0.01,
                help="slope for negative inputs",
                aliases=("negative_slope", "slope"),
            ),
            _inplace(),
        ],
        "Leaky ReLU: max(0,x) + negativeSlope * min(0,x) (nn.LeakyReLU)",
        "0.1",
        (),
    ),
    ("relu6", nn.ReLU6, [_inplace()], "ReLU6: min(max(0,x), 6) (nn.ReLU6)", "", ()),
    (
        "hardtanh",
        nn.Hardtanh,
        [
            Opt(
                "minVal", Double(), default=-1.0, help="lower end of the linear region", aliases=("min_val",)
            ),
            Opt("maxVal", Double(), default=1.0, help="upper end of the linear region", aliases=("max_val",)),
            _inplace(),
        ],
        "Hard tanh: x clamped to [minVal, maxVal] (nn.Hardtanh)",
        "",
        ("hardTanh",),
    ),
    (
        "hardswish",
        nn.Hardswish,
        [_inplace()],
        "Hard swish: x * relu6(x+3) / 6 (nn.Hardswish)",
        "",
        ("hardSwish",),
    ),
    (
        "hardsigmoid",
        nn.Hardsigmoid,
        [_inplace()],
        "Hard sigmoid: relu6(x+3) / 6 (nn.Hardsigmoid)",
        "",
        ("hardSigmoid",),
    ),
    ("silu", nn.SiLU, [_inplace()], "SiLU (swish): x * sigmoid(x) (nn.SiLU)", "", ("siLU",)),
    ("mish", nn.Mish, [_inplace()], "Mish: x * tanh(softplus(x)) (nn.Mish)", "", ()),
    (
        "softplus",
        nn.Softplus,
        [
            Opt("beta", Double(), default=1.0, help="sharpness: 1/beta * log(1 + exp(beta*x))"),
            Opt("threshold", Double(), default=20.0, help="above beta*x > threshold the result is x"),
        ],
        "Softplus: log(1 + exp(beta*x)) / beta (nn.Softplus)",
        "",
        ("softPlus",),
    ),
    ("softsign", nn.Softsign, [], "Softsign: x / (1 + |x|) (nn.Softsign)", "", ("softSign",)),
    ("tanhshrink", nn.Tanhshrink, [], "Tanhshrink: x - tanh(x) (nn.Tanhshrink)", "", ("tanhShrink",)),
    (
        "threshold",
        nn.Threshold,
        [
            Opt("threshold", Double(), help="inputs at or below it are replaced"),
            Opt("value", Double(), help="the replacement"),
            _inplace(),
        ],
        "Threshold: x if x > threshold, else value (nn.Threshold)",
        "0.5 -1",
        ("Threshold",),
    ),
    (
        "celu",
        nn.CELU,
        [
            Opt(
                "alpha", Double(gt=0), default=1.0, help="alpha of max(0,x) + min(0, alpha*(exp(x/alpha)-1))"
            ),
            _inplace(),
        ],
        "CELU: max(0,x) + min(0, alpha*(exp(x/alpha)-1)) (nn.CELU)",
        "",
        (),
    ),
    (
        "softmin",
        nn.Softmin,
        [_dim(-1, "dimension the function runs along")],
        "Softmin: softmax of -x along a dimension (nn.Softmin)",
        "",
        ("softMin",),
    ),
    (
        "logsoftmax",
        nn.LogSoftmax,
        [_dim(-1, "dimension the function runs along")],
        "Log-softmax along a dimension (nn.LogSoftmax)",
        "",
        ("logSoftmax",),
    ),
    (
        "glu",
        nn.GLU,
        [_dim(-1, "dimension split in halves a, b; the result is a * sigmoid(b)")],
        "Gated linear unit: a * sigmoid(b) of the two halves (nn.GLU)",
        "",
        (),
    ),
]


for name, cls, options, summary, args, aliases in ROWS:
    call = f"torch::{name} $x" + (f" {args}" if args else "")
    example = (
        f"set x [torch::tensor_create {_X if name != 'glu' else '{1.0 2.0 0.0 -1.0}'}]\n"
        f"puts [torch::tensor_to_list [{call}]]\n"
        f"set act [torch::{name}" + (f" {args}" if args else "") + "]\n"
        "puts [torch::tensor_to_list [torch::layer_forward $act $x]]"
    )
    layer(
        name,
        cls,
        options,
        summary,
        f"{summary}. With a tensor handle first it applies the function to that tensor and returns a "
        "new tensor; otherwise it builds the module, for `torch::sequential` and `torch::layer_forward`. "
        "Both forms compute exactly what calling the torch.nn module does.",
        example,
        extra_aliases=aliases,
        see=("relu", "sequential", "layer_forward"),
    )


def _prelu_tensor(input: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.prelu(input, weight if weight.dtype == input.dtype else weight.to(input.dtype))


def _prelu(num_parameters: int, init: float, device: Any, dtype: Any) -> nn.PReLU:
    return nn.PReLU(num_parameters, init, device=device, dtype=dtype)


layer(
    "prelu",
    nn.PReLU,
    [
        Opt(
            "numParameters",
            Int(ge=1),
            default=1,
            help="number of learned slopes: 1 or the channel count",
            aliases=("num_parameters",),
        ),
        Opt("init", Double(), default=0.25, help="initial value of the slopes"),
        Opt("device", Device(), default=None, positional=False, help="device of the slopes"),
        Opt("dtype", FloatDType, default=None, positional=False, help="floating-point dtype of the slopes"),
    ],
    "PReLU: max(0,x) + a * min(0,x) with learned slopes a (nn.PReLU)",
    "`torch::prelu ?numParameters? ?init?` builds the module with learned slopes (one, or one per channel, "
    "dimension 1 of the input). `torch::prelu $x $weight` applies the function with the slopes of the tensor "
    "`weight` (`torch.nn.functional.prelu`).",
    "set x [torch::tensor_create {-2.0 0.0 3.0}]\n"
    "set p [torch::prelu 1 0.5]\n"
    "puts [torch::tensor_to_list [torch::layer_forward $p $x]]\n"
    "puts [torch::tensor_to_list [torch::prelu $x [torch::tensor_create {0.1}]]]",
    tensor_form=(
        _prelu_tensor,
        [_input("input tensor handle"), Opt("weight", Handle("tensor"), help="slopes: 1 or C values")],
    ),
    build=_prelu,
    see=("leaky_relu", "layer_parameters"),
)


def _rrelu_tensor(
    input: torch.Tensor, lower: float, upper: float, training: bool, inplace: bool
) -> torch.Tensor:
    return F.rrelu(input, lower, upper, training=training, inplace=inplace)


_RRELU_OPTS = [
    Opt("lower", Double(), default=1.0 / 8, help="lower bound of the random slope"),
    Opt("upper", Double(), default=1.0 / 3, help="upper bound of the random slope"),
]


layer(
    "rrelu",
    nn.RReLU,
    [*_RRELU_OPTS, _inplace()],
    "Randomized leaky ReLU: slope drawn from U(lower, upper) in training, (lower+upper)/2 in eval (nn.RReLU)",
    "The module draws a random negative slope per element in training mode (seeded by "
    "`torch::manual_seed`) and uses the mean slope (lower+upper)/2 in evaluation mode. The tensor form "
    "`torch::rrelu $x ?lower? ?upper? ?training?` is `torch.nn.functional.rrelu`: deterministic (mean slope) "
    "unless `-training 1`.",
    "set x [torch::tensor_create {-2.0 0.0 3.0}]\n"
    "puts [torch::tensor_to_list [torch::rrelu $x 0.1 0.3]]\n"
    "set r [torch::model_eval [torch::rrelu 0.1 0.3]]\n"
    "puts [torch::tensor_to_list [torch::layer_forward $r $x]]",
    tensor_form=(
        _rrelu_tensor,
        [
            _input("input tensor handle"),
            *_RRELU_OPTS,
            Opt("training", Bool(), default=False, help="draw random slopes (1) or use the mean slope (0)"),
            _inplace(),
        ],
    ),
    extra_aliases=("rRelu",),
    see=("leaky_relu", "manual_seed"),
)


def _softmax2d_tensor(input: torch.Tensor, dim: int | None) -> torch.Tensor:
    if dim is None:
        dim = -3 if input.dim() in (3, 4) else 1
    return torch.softmax(input, dim)


layer(
    "softmax2d",
    nn.Softmax2d,
    [],
    "Softmax over the channels of each spatial location (nn.Softmax2d)",
    "`torch::softmax2d` builds `nn.Softmax2d`, a softmax over the channel dimension (-3) of a (C, H, W) or "
    "(N, C, H, W) input. `torch::softmax2d $x ?dim?` applies a softmax to a tensor: over `-dim` when given, "
    "else over the channel dimension -3 of a 3-d or 4-d tensor (what the module does) and over dimension 1 "
    "of a tensor of another rank (the other implementation's default).",
    "set x [torch::tensor_create {0.0 1.0 2.0 3.0} -shape {1 2 1 2}]\n"
    "puts [torch::tensor_to_list [torch::softmax2d $x]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::softmax2d] $x]]",
    tensor_form=(
        _softmax2d_tensor,
        [_input("input tensor handle"), _dim(None, "dimension of the softmax (default: see above)")],
    ),
    extra_aliases=("softmax2D",),
    see=("tensor_softmax", "logsoftmax"),
)


def _gelu_tensor(input: torch.Tensor, approximate: str) -> torch.Tensor:
    return F.gelu(input, approximate=approximate)


with_tensor_form(
    "gelu",
    _gelu_tensor,
    [
        _input("input tensor handle"),
        Opt(
            "approximate",
            Choice("none", "tanh"),
            default="none",
            help="exact (none) or the tanh approximation",
        ),
    ],
)


# torch::relu, torch::sigmoid and torch::tanh (modules.py) take a tensor first too, like every
# other activation here (the same function as torch::tensor_relu etc.)
for _name, _fn in (("relu", torch.relu), ("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
    with_tensor_form(_name, lambda input, _fn=_fn: _fn(input), [_input("input tensor handle")])
