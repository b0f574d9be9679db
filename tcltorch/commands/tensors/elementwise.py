"""Elementwise maths, comparison and logic, declared as tables.

Unary rows: name, torch function, one line for the docs, example (data, shown output, dtype),
the other implementation's aliases.  Binary rows broadcast and take a number for either operand
(``tensor_ops.as_tensors``).  Each row becomes one ordinary Command spec (``_tables``).

Math on tensors: arithmetic, reductions, comparisons and activations.

Binary operations take a tensor handle or a Tcl number on either side (the
:data:`TensorOrNumber` value type); results are new tensor handles that keep the
autograd graph, so a loss computed with them can be differentiated with
``torch::tensor_backward``."""

from __future__ import annotations

import torch

from tcltorch.commands._tables import binary_command, left, right, shown, unary_command
from tcltorch.commands.spec import Bool, Choice, Double, Int, Opt, command
from tcltorch.commands.vocabulary import (
    TensorOrNumber,
    _alpha,
    _dim,
    _input,
    _left,
    _right,
    _unary,
    as_tensors,
)

FAMILY = "tensors/elementwise"

_Tensor = torch.Tensor


def _floating(x: torch.Tensor) -> torch.Tensor:
    return x if x.is_floating_point() or x.is_complex() else x.to(torch.get_default_dtype())


def exp10(x: torch.Tensor) -> torch.Tensor:
    """10 ** x in x's floating dtype (float32 for integer input)."""
    x = _floating(x)
    return torch.pow(torch.tensor(10.0, dtype=x.dtype, device=x.device), x)


def rad2deg(x: torch.Tensor) -> torch.Tensor:
    return torch.rad2deg(_floating(x))


def deg2rad(x: torch.Tensor) -> torch.Tensor:
    return torch.deg2rad(_floating(x))


# name, torch function, summary, (example data, shown output, dtype), extra aliases
UNARY = [
    (
        "sin",
        torch.sin,
        "Sine of each element (radians).",
        ("0 1.5707963267948966", "0.0 1.0", None),
        ("tensor_sin",),
    ),
    (
        "cos",
        torch.cos,
        "Cosine of each element (radians).",
        ("0 3.141592653589793", "1.0 -1.0", None),
        ("tensor_cos",),
    ),
    (
        "tan",
        torch.tan,
        "Tangent of each element (radians).",
        ("0 0.7853981633974483", "0.0 1.0", "float64"),
        ("tensor_tan",),
    ),
    (
        "asin",
        torch.asin,
        "Arcsine of each element, in radians.",
        ("0 1", "0.0 1.5707963267948966", "float64"),
        ("tensor_asin",),
    ),
    (
        "acos",
        torch.acos,
        "Arccosine of each element, in radians.",
        ("1 -1", "0.0 3.141592653589793", "float64"),
        ("tensor_acos",),
    ),
    (
        "atan",
        torch.atan,
        "Arctangent of each element, in radians.",
        ("0 1", "0.0 0.7853981633974483", "float64"),
        ("tensor_atan",),
    ),
    (
        "sinh",
        torch.sinh,
        "Hyperbolic sine of each element.",
        ("0 1", "0.0 1.1752011936438014", "float64"),
        ("siNh", "tensor_sinh"),
    ),
    (
        "cosh",
        torch.cosh,
        "Hyperbolic cosine of each element.",
        ("0 1", "1.0 1.5430806348152437", "float64"),
        ("tensor_cosh",),
    ),
    (
        "asinh",
        torch.asinh,
        "Inverse hyperbolic sine of each element.",
        ("0 1", "0.0 0.881373587019543", "float64"),
        ("tensor_asinh",),
    ),
    (
        "acosh",
        torch.acosh,
        "Inverse hyperbolic cosine of each element (NaN below 1).",
        ("1 2", "0.0 1.3169578969248166", "float64"),
        ("tensor_acosh",),
    ),
    (
        "atanh",
        torch.atanh,
        "Inverse hyperbolic tangent of each element (NaN outside [-1, 1]).",
        ("0 0.5", "0.0 0.5493061443340549", "float64"),
        ("tensor_atanh",),
    ),
    (
        "deg2rad",
        deg2rad,
        "Degrees to radians, elementwise.",
        ("0 180", "0.0 3.141592653589793", "float64"),
        ("deg2Rad", "tensor_deg2rad"),
    ),
    (
        "rad2deg",
        rad2deg,
        "Radians to degrees, elementwise.",
        ("0 3.141592653589793", "0.0 180.0", "float64"),
        ("radToDeg", "tensor_rad2deg"),
    ),
    ("exp2", torch.exp2, "2 raised to each element.", ("0 3 -1", "1.0 8.0 0.5", None), ("tensor_exp2",)),
    ("exp10", exp10, "10 raised to each element.", ("0 2 -1", "1.0 100.0 0.1", "float64"), ("tensor_exp10",)),
    (
        "expm1",
        torch.expm1,
        "exp(x) - 1 for each element, accurate near 0.",
        ("0 1", "0.0 1.718281828459045", "float64"),
        ("tensor_expm1",),
    ),
    (
        "log2",
        torch.log2,
        "Base-2 logarithm of each element.",
        ("1 8 0.5", "0.0 3.0 -1.0", None),
        ("tensor_log2",),
    ),
    (
        "log10",
        torch.log10,
        "Base-10 logarithm of each element.",
        ("1 100 0.1", "0.0 2.0 -1.0", "float64"),
        ("tensor_log10",),
    ),
    (
        "log1p",
        torch.log1p,
        "log(1 + x) for each element, accurate near 0.",
        ("0 1", "0.0 0.6931471805599453", "float64"),
        ("tensor_log1p",),
    ),
    (
        "rsqrt",
        torch.rsqrt,
        "1 / sqrt(x) for each element.",
        ("1 4 0.25", "1.0 0.5 2.0", None),
        ("rSqrt", "tensor_rsqrt"),
    ),
    (
        "square",
        torch.square,
        "Each element squared.",
        ("1 -2 3", "1 4 9", "int64"),
        ("Square", "tensor_square"),
    ),
    (
        "floor",
        torch.floor,
        "Largest integer not above each element.",
        ("1.5 -1.5 2", "1.0 -2.0 2.0", None),
        ("Floor", "tensor_floor"),
    ),
    (
        "ceil",
        torch.ceil,
        "Smallest integer not below each element.",
        ("1.5 -1.5 2", "2.0 -1.0 2.0", None),
        ("tensor_ceil",),
    ),
    (
        "trunc",
        torch.trunc,
        "Each element rounded toward zero.",
        ("1.7 -1.7", "1.0 -1.0", None),
        ("tensor_trunc",),
    ),
    (
        "frac",
        torch.frac,
        "Fractional part of each element: x - trunc(x).",
        ("1.25 -1.75", "0.25 -0.75", None),
        ("Frac", "tensor_frac"),
    ),
    (
        "isnan",
        torch.isnan,
        "Whether each element is NaN (a bool tensor).",
        ("[torch::tensor_div [torch::tensor_create {1 0 -1 2}] 0]", "0 1 0 0", None),
        ("isNan", "tensor_isnan"),
    ),
    (
        "isinf",
        torch.isinf,
        "Whether each element is +Inf or -Inf (a bool tensor).",
        ("[torch::tensor_div [torch::tensor_create {1 0 -1 2}] 0]", "1 0 1 1", None),
        ("isInf", "tensor_isinf"),
    ),
    (
        "isfinite",
        torch.isfinite,
        "Whether each element is finite (a bool tensor).",
        ("[torch::tensor_div [torch::tensor_create {1 0 -1 2}] 0]", "0 0 0 0", None),
        ("isFinite", "tensor_isfinite"),
    ),
    (
        "logical_not",
        torch.logical_not,
        "Logical NOT of each element (nonzero is true), as bool.",
        ("0 1 2", "1 0 0", None),
        (),
    ),
    (
        "bitwise_not",
        torch.bitwise_not,
        "Bitwise NOT of each element (integer or bool tensors).",
        ("0 5 -1", "-1 -6 0", "int64"),
        (),
    ),
]


for _name, _fn, _summary, _example, _aliases in UNARY:
    # the other implementation's exp2/exp10/expm1 take -dtype (the input converted first)
    unary_command(
        _name,
        _fn,
        _summary,
        _example,
        extra_aliases=_aliases,
        dtype_option=_name in ("exp2", "exp10", "expm1"),
    )


@command(
    "round",
    _input(),
    Opt("decimals", Int(), default=0, help="number of decimal places (negative: to tens, hundreds, ...)"),
    extra_aliases=("Round", "tensor_round"),
    summary="Each element rounded to the nearest integer (halves to even), or to some decimals.",
    doc="Each element rounded to the nearest integer (halves to even), or to some decimals.\n\n"
    "As `torch.round(input, decimals=...)`: ties go to the even neighbour (0.5 -> 0, 1.5 -> 2, 2.5 -> 2). "
    "Integer tensors are returned unchanged in value for `-decimals 0`. The result keeps the input's dtype.",
    examples=[
        "set x [torch::tensor_create {0.5 1.5 2.5 -1.6}]\n"
        + shown("[torch::round $x]", "0.0 2.0 2.0 -2.0")
        + "\n"
        + shown(
            "[torch::round -input [torch::tensor_create {3.14159 2.71828} -dtype float64] -decimals 2]",
            "3.14 2.72",
        )
        + "\n"
    ],
)
def round_(input, decimals):
    return torch.round(input, decimals=decimals) if decimals else torch.round(input)


_CMP = "as a bool tensor"


# name, torch function, summary, (left data, right data or number, shown output, dtype), extra aliases
BINARY = [
    (
        "ne",
        torch.ne,
        f"Element-wise input != other, {_CMP}.",
        ("1 2 3", "2", "1 0 1", "int64"),
        ("Ne", "tensor_ne"),
    ),
    (
        "lt",
        torch.lt,
        f"Element-wise input < other, {_CMP}.",
        ("1 2 3", "2", "1 0 0", "int64"),
        ("Lt", "tensor_lt"),
    ),
    (
        "le",
        torch.le,
        f"Element-wise input <= other, {_CMP}.",
        ("1 2 3", "2", "1 1 0", "int64"),
        ("Le", "tensor_le"),
    ),
    (
        "gt",
        torch.gt,
        f"Element-wise input > other, {_CMP}.",
        ("1 2 3", "2", "0 0 1", "int64"),
        ("Gt", "tensor_gt"),
    ),
    (
        "ge",
        torch.ge,
        f"Element-wise input >= other, {_CMP}.",
        ("1 2 3", "2", "0 1 1", "int64"),
        ("tensor_ge",),
    ),
    (
        "logical_and",
        torch.logical_and,
        f"Element-wise logical AND (nonzero is true), {_CMP}.",
        ("0 1 2", "{1 1 0}", "0 1 0", None),
        (),
    ),
    (
        "logical_or",
        torch.logical_or,
        f"Element-wise logical OR (nonzero is true), {_CMP}.",
        ("0 1 0", "{0 0 3}", "0 1 1", None),
        (),
    ),
    (
        "logical_xor",
        torch.logical_xor,
        f"Element-wise logical XOR (nonzero is true), {_CMP}.",
        ("0 1 2", "{1 1 0}", "1 0 1", None),
        (),
    ),
    (
        "bitwise_and",
        torch.bitwise_and,
        "Element-wise bitwise AND of integer (or bool) tensors.",
        ("12 10", "6", "4 2", "int64"),
        (),
    ),
    (
        "bitwise_or",
        torch.bitwise_or,
        "Element-wise bitwise OR of integer (or bool) tensors.",
        ("12 10", "6", "14 14", "int64"),
        (),
    ),
    (
        "bitwise_xor",
        torch.bitwise_xor,
        "Element-wise bitwise XOR of integer (or bool) tensors.",
        ("12 10", "6", "10 12", "int64"),
        (),
    ),
    (
        "bitwise_left_shift",
        torch.bitwise_left_shift,
        "input shifted left by other bits, elementwise (integer tensors).",
        ("1 3", "2", "4 12", "int64"),
        (),
    ),
    (
        "bitwise_right_shift",
        torch.bitwise_right_shift,
        "input shifted right by other bits, elementwise (arithmetic shift).",
        ("16 -16", "2", "4 -4", "int64"),
        (),
    ),
]


for _name, _fn, _summary, _example, _aliases in BINARY:
    binary_command(_name, _fn, _summary, _example, extra_aliases=_aliases)


binary_command(
    "atan2",
    torch.atan2,
    "Element-wise arctangent of input/other in radians, using both signs for the quadrant.",
    ("1 -1", "{-1 -1}", "2.356194490192345 -2.356194490192345", "float64"),
    extra_aliases=("tensor_atan2",),
    options=[
        left("y", "input1", "tensor1", "tensor", help="y coordinate: tensor handle or number"),
        right("other", "x", "input2", "tensor2", help="x coordinate: tensor handle or number"),
    ],
    doc="As `torch.atan2(input, other)`: the angle of the point (other, input) in [-pi, pi]. "
    "The other implementation's `-y`/`-x` spellings are accepted.",
)


@command(
    "tensor_clamp",
    _input(),
    Opt(
        "min", TensorOrNumber, default=None, help="lower bound: number or tensor handle", aliases=("minimum",)
    ),
    Opt(
        "max", TensorOrNumber, default=None, help="upper bound: number or tensor handle", aliases=("maximum",)
    ),
    extra_aliases=("clamp",),
    summary="Each element limited to [min, max]; either bound may be left out.",
    doc="Each element limited to [min, max]; either bound may be left out.\n\n"
    "As `torch.clamp(input, min, max)`: bounds are numbers or tensors that broadcast against the input. "
    "With neither bound the result is a copy of the input. Where min > max every element becomes max. "
    "The result keeps the autograd graph.",
    examples=[
        "set x [torch::tensor_create {1 2 3 4 5}]\n"
        + shown("[torch::tensor_clamp $x 2 4]", "2.0 2.0 3.0 4.0 4.0")
        + "\n"
        + shown("[torch::tensor_clamp $x 2.5]", "2.5 2.5 3.0 4.0 5.0")
        + "\n"
        + shown("[torch::tensorClamp -input $x -max 3]", "1.0 2.0 3.0 3.0 3.0")
        + "\n"
    ],
)
def tensor_clamp(input, min, max):
    if min is None and max is None:
        return input.clone()
    return torch.clamp(input, min=min, max=max)


def _tolerances() -> list[Opt]:
    return [
        Opt("rtol", Double(ge=0), default=1e-05, help="relative tolerance", aliases=("relativeTolerance",)),
        Opt("atol", Double(ge=0), default=1e-08, help="absolute tolerance", aliases=("absoluteTolerance",)),
        Opt("equalNan", Bool(), default=False, help="NaN equals NaN", aliases=("equal_nan",)),
    ]


def _close_pair(input, other):
    a, b = as_tensors(input, other)
    if not isinstance(b, torch.Tensor):
        b = torch.tensor(b, dtype=a.dtype, device=a.device)
    common = torch.promote_types(a.dtype, b.dtype)
    return a.to(common), b.to(common)


@command(
    "isclose",
    left(),
    right(),
    *_tolerances(),
    extra_aliases=("isClose", "tensor_isclose"),
    summary="Element-wise |input - other| <= atol + rtol * |other|, as a bool tensor.",
    doc="Element-wise |input - other| <= atol + rtol * |other|, as a bool tensor.\n\n"
    "As `torch.isclose`: operands broadcast; a number is compared as a tensor of the other operand's "
    "dtype, and two tensors of different dtypes are compared in their promoted dtype. "
    "Infinities are close only to themselves; NaN is close to nothing unless `-equalNan` is true.",
    examples=[
        (
            "set d [torch::tensor_create {1 1 0}]\n"
            "set a [torch::tensor_div [torch::tensor_create {1.0 2.0 0.0}] $d]       ;# 1.0 2.0 NaN\n"
            "set b [torch::tensor_div [torch::tensor_create {1.000001 2.1 0.0}] $d]  ;# 1.000001 2.1 NaN\n"
            + shown("[torch::isclose $a $b]", "1 0 0")
            + "\n"
            + shown("[torch::isclose $a $b 0.1 0 1]", "1 1 1")
            + "\n"
            + shown("[torch::isClose -input $a -other $b -atol 0.2 -equalNan 1]", "1 1 1")
            + "\n"
        )
    ],
)
def isclose(input, other, rtol, atol, equal_nan):
    a, b = _close_pair(input, other)
    return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


@command(
    "allclose",
    left(),
    right(),
    *_tolerances(),
    extra_aliases=("allClose", "tensor_allclose"),
    summary="1 if every element pair is close (see torch::isclose), else 0.",
    doc="1 if every element pair is close (see torch::isclose), else 0.\n\n"
    "As `torch.allclose`: the same test as `torch::isclose`, over all elements after broadcasting.\n\n"
    "## Return Value\n\n1 or 0 (a Tcl boolean).",
    examples=[
        (
            "set a [torch::tensor_create {1.0 2.0}]\n"
            "set b [torch::tensor_create {1.000001 2.0}]\n"
            "puts [torch::allclose $a $b]                 ;# -> 1\n"
            "puts [torch::allclose $a 1.0]                ;# -> 0\n"
            "puts [torch::allClose -input $a -other $b -rtol 0 -atol 0]  ;# -> 0\n"
        )
    ],
)
def allclose(input, other, rtol, atol, equal_nan):
    a, b = _close_pair(input, other)
    a, b = torch.broadcast_tensors(a, b)
    return int(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


@command(
    "tensor_add",
    _left(),
    _right(),
    _alpha(),
    summary="input + alpha * other, element-wise with broadcasting.",
)
def tensor_add(input, other, alpha):
    if input.__class__ is _Tensor and alpha == 1:  # the common call: no conversion to make
        return torch.add(input, other)
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
    "tensor_pow",
    Opt("input", TensorOrNumber, help="base: tensor handle or number", aliases=("tensor", "base", "input1")),
    Opt("exponent", TensorOrNumber, help="exponent: tensor handle or number", aliases=("other", "input2")),
    extra_aliases=("pow",),
    summary="input raised to exponent, element-wise with broadcasting.",
)
def tensor_pow(input, exponent):
    a, b = as_tensors(input, exponent)
    return torch.pow(a, b)


_unary("tensor_exp", torch.exp, "e raised to each element.")


_unary("tensor_log", torch.log, "Natural logarithm of each element.")


_unary("tensor_sqrt", torch.sqrt, "Square root of each element.")


_unary("tensor_abs", torch.abs, "Absolute value of each element.")


_unary("tensor_relu", torch.relu, "max(0, x) for each element.")


_unary("tensor_sigmoid", torch.sigmoid, "1 / (1 + exp(-x)) for each element.")


_unary("tensor_tanh", torch.tanh, "Hyperbolic tangent of each element.")


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


@command(
    "tensor_softmax", _input(), _dim(-1, "dimension that sums to one"), summary="Softmax along one dimension."
)
def tensor_softmax(input, dim):
    return torch.softmax(input, dim)


@command(
    "tensor_log_softmax",
    _input(),
    _dim(-1, "dimension that sums to one"),
    summary="Log of the softmax along one dimension.",
)
def tensor_log_softmax(input, dim):
    return torch.log_softmax(input, dim)
