"""Reductions and statistics: by-dimension mean/std/var/median, order statistics, cumulative
operations, differences, sorting.

Commands that PyTorch gives (values, indices) return the values tensor, as the other
implementation does (and as ``torch::tensor_max -dim`` does); ``-indices true`` returns the
list ``{values indices}`` instead.  ``tensor_sort`` and ``tensor_topk`` always return that pair."""

from __future__ import annotations

import math
from typing import Any

import torch

from tcltorch.commands._tables import shown
from tcltorch.commands.spec import (
    REQUIRED,
    Bool,
    Choice,
    Custom,
    DType,
    Handle,
    Int,
    IntList,
    Opt,
    command,
    parse_tcl_double,
)
from tcltorch.commands.vocabulary import _all, _dim, _dims, _input, _keepdim
from tcltorch.errors import invalid_value

FAMILY = "tensors/reductions"


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


@command(
    "tensor_max",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(),
    summary="Largest element, overall or along a dimension.",
)
def tensor_max(input, dim, keepdim):
    if dim is None:
        return _all(torch.max(input), input, keepdim)
    return torch.max(input, dim, keepdim).values


@command(
    "tensor_min",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(),
    summary="Smallest element, overall or along a dimension.",
)
def tensor_min(input, dim, keepdim):
    if dim is None:
        return _all(torch.min(input), input, keepdim)
    return torch.min(input, dim, keepdim).values


@command(
    "tensor_argmax",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(),
    summary="Index of the largest element, overall (flattened) or along a dimension.",
)
def tensor_argmax(input, dim, keepdim):
    if dim is None:
        return _all(torch.argmax(input), input, keepdim)
    return torch.argmax(input, dim, keepdim)


# the reductions below also take -keepDim and -keep_dim (the reductions above predate them)
_KEEPDIM_ALIASES = ("keepDim", "keep_dim")


def _unbiased() -> Opt:
    return Opt("unbiased", Bool(), default=True, help="divide by N-1 (Bessel's correction); false: by N")


def _indices() -> Opt:
    return Opt(
        "indices",
        Bool(),
        default=False,
        positional=False,
        help="return the list {values indices} instead of the values",
        aliases=("returnIndices", "return_indices"),
    )


def _pair(result: Any, indices: bool) -> Any:
    return [result.values, result.indices] if indices else result.values


VALUES_RETURN = (
    "## Return Value\n\nA new tensor handle with the values; with `-indices true` a list of two handles "
    "`{values indices}` (indices are int64). Free them with `torch::free` or create them inside `torch::scope`."
)


@command(
    "mean_dim",
    _input(),
    _dims(),
    _keepdim(_KEEPDIM_ALIASES),
    summary="Mean over one or several dimensions.",
    doc="Mean over one or several dimensions.\n\nAs `torch.mean(input, dim, keepdim)`; without `-dim` every element. "
    "The input must be floating point (PyTorch refuses integer means). Same computation as `torch::tensor_mean`.",
    examples=[
        "set x [torch::tensor_create {{1 2 3} {4 5 6}}]\n"
        + shown("[torch::mean_dim $x 1]", "2.0 5.0")
        + "\n"
        + shown("[torch::meanDim -input $x -dim 0 -keepdim 1]", "{2.5 3.5 4.5}")
        + "\n"
    ],
)
def mean_dim(input, dim, keepdim):
    if not dim:
        return _all(torch.mean(input), input, keepdim)
    return torch.mean(input, dim=dim, keepdim=keepdim)


def _spread(fn, input, dim, unbiased, keepdim):
    correction = 1 if unbiased else 0
    if not dim:
        return _all(fn(input, correction=correction), input, keepdim)
    return fn(input, dim=dim, correction=correction, keepdim=keepdim)


@command(
    "std_dim",
    _input(),
    _dims(),
    _unbiased(),
    _keepdim(_KEEPDIM_ALIASES),
    summary="Standard deviation over one or several dimensions.",
    doc="Standard deviation over one or several dimensions.\n\nAs `torch.std(input, dim, correction=1 or 0, keepdim)`. "
    "A dimension of one element gives NaN with `-unbiased true`.",
    examples=[
        "set x [torch::tensor_create {{1 2 3} {2 4 6}} -dtype float64]\n"
        + shown("[torch::std_dim $x 1]", "1.0 2.0")
        + "\n"
        + shown("[torch::stdDim -input $x -dim 1 -unbiased 0]", "0.816496580927726 1.632993161855452")
        + "\n"
    ],
)
def std_dim(input, dim, unbiased, keepdim):
    return _spread(torch.std, input, dim, unbiased, keepdim)


@command(
    "var_dim",
    _input(),
    _dims(),
    _unbiased(),
    _keepdim(_KEEPDIM_ALIASES),
    summary="Variance over one or several dimensions.",
    doc="Variance over one or several dimensions.\n\nAs `torch.var(input, dim, correction=1 or 0, keepdim)`.",
    examples=[
        "set x [torch::tensor_create {{1 2 3} {2 4 6}}]\n"
        + shown("[torch::var_dim $x 1]", "1.0 4.0")
        + "\n"
        + shown("[torch::varDim -input $x -dim 1 -unbiased 0 -keepdim 1]", "0.6666667 2.6666667")
        + "\n"
    ],
)
def var_dim(input, dim, unbiased, keepdim):
    return _spread(torch.var, input, dim, unbiased, keepdim)


@command(
    "tensor_std",
    _input(),
    _dims(),
    _unbiased(),
    _keepdim(_KEEPDIM_ALIASES),
    summary="Standard deviation of all elements or over some dimensions.",
    doc="Standard deviation of all elements or over some dimensions.\n\nAs `torch.std`; the same as "
    "`torch::std_dim` with `-dim` optional.",
    examples=[
        "set x [torch::tensor_create {2 4 4 4 5 5 7 9} -dtype float64]\n"
        + shown("[torch::tensor_std $x {} 0]", "2.0")
        + "\n"
        + shown("[torch::tensorStd -input $x]", "2.138089935299395")
        + "\n"
    ],
)
def tensor_std(input, dim, unbiased, keepdim):
    return _spread(torch.std, input, dim, unbiased, keepdim)


@command(
    "tensor_var",
    _input(),
    _dims(),
    _unbiased(),
    _keepdim(_KEEPDIM_ALIASES),
    summary="Variance of all elements or over some dimensions.",
    doc="Variance of all elements or over some dimensions.\n\nAs `torch.var`; the same as "
    "`torch::var_dim` with `-dim` optional.",
    examples=[
        "set x [torch::tensor_create {2 4 4 4 5 5 7 9} -dtype float64]\n"
        + shown("[torch::tensor_var $x {} 0]", "4.0")
        + "\n"
        + shown("[torch::tensorVar -input $x -unbiased 1]", "4.571428571428571")
        + "\n"
    ],
)
def tensor_var(input, dim, unbiased, keepdim):
    return _spread(torch.var, input, dim, unbiased, keepdim)


@command(
    "median_dim",
    _input(),
    _dim(REQUIRED),
    _keepdim(_KEEPDIM_ALIASES),
    _indices(),
    summary="Median along one dimension (the lower of the two middle values for an even count).",
    doc="Median along one dimension (the lower of the two middle values for an even count).\n\n"
    "As `torch.median(input, dim, keepdim)`.\n\n" + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {{3 1 2} {9 7 8}}]\n"
        + shown("[torch::median_dim $x 1]", "2.0 8.0")
        + "\n"
        + "lassign [torch::medianDim -input $x -dim 1 -indices 1] values indices\n"
        + shown("$indices", "2 2")
        + "\n"
    ],
)
def median_dim(input, dim, keepdim, indices):
    return _pair(torch.median(input, dim, keepdim), indices)


@command(
    "tensor_median",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(_KEEPDIM_ALIASES),
    _indices(),
    summary="Median of all elements, or along one dimension (lower middle value for an even count).",
    doc="Median of all elements, or along one dimension (lower middle value for an even count).\n\n"
    "As `torch.median(input)` or `torch.median(input, dim, keepdim)`. `-indices` needs `-dim`.\n\n"
    + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {{3 1 2} {9 7 8}}]\n"
        + shown("[torch::tensor_median $x]", "3.0")
        + "\n"
        + shown("[torch::tensorMedian -input $x -dim 0]", "3.0 1.0 2.0")
        + "\n"
    ],
)
def tensor_median(input, dim, keepdim, indices):
    if dim is None:
        if indices:
            raise invalid_value("-indices", "1", "needs -dim (the median of all elements has no index)")
        return _all(torch.median(input), input, keepdim)
    return _pair(torch.median(input, dim, keepdim), indices)


@command(
    "kthvalue",
    _input(),
    Opt("k", Int(ge=1), help="which smallest value: 1 is the minimum"),
    _dim(-1),
    _keepdim(_KEEPDIM_ALIASES),
    _indices(),
    extra_aliases=("kthValue",),
    summary="The k-th smallest element along a dimension.",
    doc="The k-th smallest element along a dimension.\n\nAs `torch.kthvalue(input, k, dim, keepdim)`; "
    "k counts from 1 and must not exceed the dimension's size.\n\n" + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {{5 3 8 1} {2 9 4 6}}]\n"
        + shown("[torch::kthvalue $x 2 1]", "3.0 4.0")
        + "\n"
        + "lassign [torch::kthValue -input $x -k 1 -dim 0 -indices 1] values indices\n"
        + shown("$values", "2.0 3.0 4.0 1.0")
        + "\n"
        + shown("$indices", "1 0 1 0")
        + "\n"
    ],
)
def kthvalue(input, k, dim, keepdim, indices):
    return _pair(torch.kthvalue(input, k, dim, keepdim), indices)


def _cum_dtype() -> Opt:
    return Opt(
        "dtype",
        DType(),
        default=None,
        positional=False,
        help="accumulate and return in this dtype",
        default_doc="as PyTorch (int64 for integers)",
    )


@command(
    "cumsum",
    _input(),
    _dim(0),
    _cum_dtype(),
    extra_aliases=("cumSum", "tensor_cumsum"),
    summary="Cumulative sum along a dimension.",
    doc="Cumulative sum along a dimension.\n\nAs `torch.cumsum(input, dim, dtype=...)`: element i is the sum "
    "of elements 0..i. Integer and bool tensors accumulate in int64.",
    examples=[
        "set x [torch::tensor_create {{1 2 3} {4 5 6}} -dtype int64]\n"
        + shown("[torch::cumsum $x 1]", "{1 3 6} {4 9 15}")
        + "\n"
        + shown("[torch::cumSum -input $x -dim 0]", "{1 2 3} {5 7 9}")
        + "\n"
    ],
)
def cumsum(input, dim, dtype):
    return torch.cumsum(input, dim, dtype=dtype)


@command(
    "cumprod",
    _input(),
    _dim(0),
    _cum_dtype(),
    extra_aliases=("cumProd", "tensor_cumprod"),
    summary="Cumulative product along a dimension.",
    doc="Cumulative product along a dimension.\n\nAs `torch.cumprod(input, dim, dtype=...)`.",
    examples=[
        "set x [torch::tensor_create {1 2 3 4} -dtype int64]\n"
        + shown("[torch::cumprod $x 0]", "1 2 6 24")
        + "\n"
        + shown("[torch::cumProd -input $x -dim 0 -dtype float64]", "1.0 2.0 6.0 24.0")
        + "\n"
    ],
)
def cumprod(input, dim, dtype):
    return torch.cumprod(input, dim, dtype=dtype)


@command(
    "cummax",
    _input(),
    _dim(0),
    _indices(),
    extra_aliases=("cumMax",),
    summary="Running maximum along a dimension.",
    doc="Running maximum along a dimension.\n\nAs `torch.cummax(input, dim)`; the indices are where each "
    "running maximum was found.\n\n" + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {3 1 4 1 5} -dtype int64]\n"
        + shown("[torch::cummax $x 0]", "3 3 4 4 5")
        + "\n"
        + "lassign [torch::cumMax -input $x -dim 0 -indices 1] values indices\n"
        + shown("$indices", "0 0 2 2 4")
        + "\n"
    ],
)
def cummax(input, dim, indices):
    return _pair(torch.cummax(input, dim), indices)


@command(
    "cummin",
    _input(),
    _dim(0),
    _indices(),
    extra_aliases=("cumMin",),
    summary="Running minimum along a dimension.",
    doc="Running minimum along a dimension.\n\nAs `torch.cummin(input, dim)`.\n\n" + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {3 1 4 0 5} -dtype int64]\n"
        + shown("[torch::cummin $x 0]", "3 1 1 0 0")
        + "\n"
        + shown("[lindex [torch::cumMin -input $x -indices 1] 1]", "0 1 1 3 3")
        + "\n"
    ],
)
def cummin(input, dim, indices):
    return _pair(torch.cummin(input, dim), indices)


@command(
    "diff",
    _input(),
    Opt("n", Int(ge=0), default=1, help="how many times to take differences"),
    _dim(-1),
    Opt(
        "prepend", Handle("tensor"), default=None, positional=False, help="tensor put before input along dim"
    ),
    Opt("append", Handle("tensor"), default=None, positional=False, help="tensor put after input along dim"),
    extra_aliases=("tensor_diff",),
    summary="n-th forward difference along a dimension: out[i] = x[i+1] - x[i].",
    doc="n-th forward difference along a dimension: out[i] = x[i+1] - x[i].\n\n"
    "As `torch.diff(input, n, dim, prepend, append)`: each pass shortens the dimension by one. "
    "Bool tensors give the XOR of neighbours.",
    examples=[
        "set x [torch::tensor_create {1 4 9 16} -dtype int64]\n"
        + shown("[torch::diff $x]", "3 5 7")
        + "\n"
        + shown("[torch::diff $x 2]", "2 2")
        + "\n"
        + shown("[torch::diff -input [torch::tensor_create {{1 2} {4 8}}] -dim 0]", "{3.0 6.0}")
        + "\n"
    ],
)
def diff(input, n, dim, prepend, append):
    return torch.diff(input, n=n, dim=dim, prepend=prepend, append=append)


def _spacing(text: str, option: str, ctx: Any) -> float | list[float]:
    words = ctx.split(text, option)
    if not words:
        return 1.0  # {} holds the place of the default (the other implementation's scripts)
    values = [parse_tcl_double(w) for w in words]
    if any(v is None or math.isnan(v) for v in values):
        raise invalid_value(option, text, "must be a number or a list of numbers")
    return values[0] if len(values) == 1 else values  # type: ignore[return-value]


Spacing = Custom(_spacing, "number/list", "must be a number or a list of numbers")


@command(
    "gradient",
    _input(),
    Opt("spacing", Spacing, default=1.0, help="distance between samples: one number, or one per dimension"),
    Opt(
        "dim",
        IntList(),
        default=None,
        help="dimension or list of dimensions",
        aliases=("dimension",),
        default_doc="every dimension",
    ),
    Opt(
        "edgeOrder",
        Choice("1", "2"),
        default="1",
        positional=False,
        help="accuracy order at the edges",
        aliases=("edge_order",),
    ),
    extra_aliases=("gradientCmd", "tensor_gradient"),
    summary="Numerical derivative by central differences (one-sided at the edges), per dimension.",
    doc="Numerical derivative by central differences (one-sided at the edges), per dimension.\n\n"
    "As `torch.gradient(input, spacing, dim, edge_order)`: the result has the input's shape. "
    "Each dimension needs at least `edgeOrder + 1` samples. The input must be floating point or "
    "integer (integers give float32). An empty `-spacing` (`{}`) is the default spacing 1, so "
    "`torch::gradient $x {} 0` differentiates along dimension 0.\n\n"
    "## Return Value\n\nA list with one tensor handle per dimension differentiated (a single handle "
    "for one dimension, which Tcl reads as the handle itself).",
    examples=[
        "set x [torch::tensor_create {1 4 9 16} -dtype float64]\n"
        + shown("[torch::gradient $x]", "3.0 4.0 6.0 7.0")
        + "\n"
        + shown("[torch::gradient $x 2.0]", "1.5 2.0 3.0 3.5")
        + "\n"
        + "lassign [torch::gradient -input [torch::tensor_create {{1 2 4} {2 5 8}}]] d0 d1\n"
        + shown("$d1", "{1.0 1.5 2.0} {3.0 3.0 3.0}")
        + "\n"
    ],
)
def gradient(input, spacing, dim, edge_order):
    kwargs: dict[str, Any] = {"edge_order": int(edge_order)}
    if dim:
        kwargs["dim"] = list(dim)
    kwargs["spacing"] = spacing
    if not input.is_floating_point() and not input.is_complex():
        input = input.to(torch.get_default_dtype())
    return list(torch.gradient(input, **kwargs))


def _q(text: str, option: str, ctx: Any) -> float | list[float]:
    words = ctx.split(text, option)
    values = [parse_tcl_double(w) for w in words]
    if not words or any(v is None or not 0 <= v <= 1 for v in values):
        raise invalid_value(option, text, "must be a number from 0 to 1, or a list of them")
    return values[0] if len(values) == 1 else values  # type: ignore[return-value]


Quantiles = Custom(_q, "number/list", "must be a number from 0 to 1, or a list of them")


@command(
    "tensor_quantile",
    _input(),
    Opt("q", Quantiles, help="quantile in [0, 1], or a list of them", aliases=("quantile",)),
    _dim(None, default_doc="all elements"),
    _keepdim(_KEEPDIM_ALIASES),
    Opt(
        "interpolation",
        Choice("linear", "lower", "higher", "midpoint", "nearest"),
        default="linear",
        positional=False,
        help="how to pick between the two nearest samples",
    ),
    extra_aliases=("quantile",),
    summary="q-th quantile(s) of all elements or along a dimension.",
    doc="q-th quantile(s) of all elements or along a dimension.\n\nAs `torch.quantile(input, q, dim, keepdim, "
    "interpolation)`. The input must be float32 or float64. With a list of q the result gets a new first "
    "dimension, one entry per q.",
    examples=[
        "set x [torch::tensor_create {1 2 3 4 5}]\n"
        + shown("[torch::tensor_quantile $x 0.25]", "2.0")
        + "\n"
        + shown("[torch::tensor_quantile $x {0 0.5 1}]", "1.0 3.0 5.0")
        + "\n"
        + shown(
            "[torch::tensorQuantile -input [torch::tensor_create {{1 2 3} {4 5 6}}] -q 0.5 -dim 0]",
            "2.5 3.5 4.5",
        )
        + "\n"
    ],
)
def tensor_quantile(input, q, dim, keepdim, interpolation):
    qt = torch.tensor(q, dtype=input.dtype, device=input.device) if isinstance(q, list) else q
    return torch.quantile(input, qt, dim=dim, keepdim=keepdim, interpolation=interpolation)


@command(
    "tensor_mode",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(_KEEPDIM_ALIASES),
    _indices(),
    summary="Most frequent value, of all elements or along a dimension (the smallest on ties).",
    doc="Most frequent value, of all elements or along a dimension (the smallest on ties).\n\n"
    "As `torch.mode(input, dim, keepdim)`; without `-dim` the mode of the flattened tensor "
    "(its index is then a flat index).\n\n" + VALUES_RETURN,
    examples=[
        "set x [torch::tensor_create {{1 2 2 3} {4 4 1 1}} -dtype int64]\n"
        + shown("[torch::tensor_mode $x]", "1")
        + "\n"
        + shown("[torch::tensorMode -input $x -dim 1]", "2 1")
        + "\n"
    ],
)
def tensor_mode(input, dim, keepdim, indices):
    if dim is None:
        result = torch.mode(input.reshape(-1), 0, False)
        if keepdim:
            shape = [1] * input.dim()
            return (
                [result.values.reshape(shape), result.indices.reshape(shape)]
                if indices
                else result.values.reshape(shape)
            )
        return _pair(result, indices)
    return _pair(torch.mode(input, dim, keepdim), indices)


@command(
    "tensor_argmin",
    _input(),
    _dim(None, default_doc="all elements"),
    _keepdim(_KEEPDIM_ALIASES),
    extra_aliases=("argmin",),
    summary="Index of the smallest element, overall (flattened) or along a dimension.",
    doc="Index of the smallest element, overall (flattened) or along a dimension.\n\n"
    "As `torch.argmin(input, dim, keepdim)`; the first index on ties. The result is int64.",
    examples=[
        "set x [torch::tensor_create {{4 1 3} {0 5 6}}]\n"
        + shown("[torch::tensor_argmin $x]", "3")
        + "\n"
        + shown("[torch::argmin -input $x -dim 1]", "1 0")
        + "\n"
    ],
)
def tensor_argmin(input, dim, keepdim):
    if dim is None:
        return _all(torch.argmin(input), input, keepdim)
    return torch.argmin(input, dim, keepdim)


PAIR_RETURN = (
    "## Return Value\n\nA list of two tensor handles `{values indices}` (indices are int64); "
    "`lassign` takes them apart. Free them with `torch::free` or create them inside `torch::scope`."
)


@command(
    "tensor_sort",
    _input(),
    _dim(-1),
    Opt("descending", Bool(), default=False, help="largest first"),
    Opt("stable", Bool(), default=False, help="keep the order of equal elements"),
    extra_aliases=("sort",),
    summary="Elements sorted along a dimension, with the indices that sort them.",
    doc="Elements sorted along a dimension, with the indices that sort them.\n\n"
    "As `torch.sort(input, dim, descending, stable)`. NaN sorts as the largest value.\n\n" + PAIR_RETURN,
    examples=[
        "set x [torch::tensor_create {3 1 2}]\n"
        + "lassign [torch::tensor_sort $x] values indices\n"
        + shown("$values", "1.0 2.0 3.0")
        + "\n"
        + shown("$indices", "1 2 0")
        + "\n"
        + shown("[lindex [torch::sort -input $x -descending 1] 0]", "3.0 2.0 1.0")
        + "\n"
    ],
)
def tensor_sort(input, dim, descending, stable):
    result = torch.sort(input, dim=dim, descending=descending, stable=stable)
    return [result.values, result.indices]


@command(
    "tensor_topk",
    _input(),
    Opt("k", Int(ge=0), help="how many elements"),
    _dim(-1),
    Opt("largest", Bool(), default=True, help="the k largest; false: the k smallest"),
    Opt("sorted", Bool(), default=True, help="in sorted order"),
    extra_aliases=("topk",),
    summary="The k largest (or smallest) elements along a dimension, with their indices.",
    doc="The k largest (or smallest) elements along a dimension, with their indices.\n\n"
    "As `torch.topk(input, k, dim, largest, sorted)`; k must not exceed the dimension's size.\n\n"
    + PAIR_RETURN,
    examples=[
        "set x [torch::tensor_create {1 5 3 4}]\n"
        + "lassign [torch::tensor_topk $x 2] values indices\n"
        + shown("$values", "5.0 4.0")
        + "\n"
        + shown("$indices", "1 3")
        + "\n"
        + shown("[lindex [torch::topk -input $x -k 2 -largest 0] 0]", "1.0 3.0")
        + "\n"
    ],
)
def tensor_topk(input, k, dim, largest, sorted):
    result = torch.topk(input, k, dim=dim, largest=largest, sorted=sorted)
    return [result.values, result.indices]


@command(
    "tensor_unique",
    _input(),
    Opt("sorted", Bool(), default=True, help="sorted unique values; false: in order of first appearance"),
    Opt(
        "returnInverse",
        Bool(),
        default=False,
        help="also the index of each input element in the result",
        aliases=("return_inverse",),
    ),
    Opt(
        "returnCounts",
        Bool(),
        default=False,
        positional=False,
        help="also how often each value occurs",
        aliases=("return_counts",),
    ),
    Opt(
        "dim",
        Int(),
        default=None,
        positional=False,
        help="unique slices along this dimension",
        aliases=("dimension",),
        default_doc="all elements",
    ),
    summary="The distinct values of a tensor (or distinct slices along a dimension).",
    doc="The distinct values of a tensor (or distinct slices along a dimension).\n\n"
    "As `torch.unique(input, sorted, return_inverse, return_counts, dim)`; with `-sorted 0` the values "
    "come in order of first appearance (computed from the sorted result, so the result is still exact).\n\n"
    "## Return Value\n\nA tensor handle; with `-returnInverse` or `-returnCounts` a dict list "
    "`{unique H inverse H counts H}` with the parts asked for, as the other implementation returns.",
    examples=[
        "set x [torch::tensor_create {3 1 3 2 1} -dtype int64]\n"
        + shown("[torch::tensor_unique $x]", "1 2 3")
        + "\n"
        + shown("[torch::tensor_unique $x 0]", "3 1 2")
        + "\n"
        + "set parts [torch::tensorUnique -input $x -returnInverse 1 -returnCounts 1]\n"
        + shown("[dict get $parts inverse]", "2 0 2 1 0")
        + "\n"
        + shown("[dict get $parts counts]", "2 1 2")
        + "\n"
    ],
)
def tensor_unique(input, sorted, return_inverse, return_counts, dim):
    values, inverse, counts = torch.unique(
        input, sorted=True, return_inverse=True, return_counts=True, dim=dim
    )
    if not sorted:
        # order of first appearance: the first input position of each unique value
        n = inverse.numel()
        count = values.shape[dim] if dim is not None else values.numel()
        first = torch.full((count,), n, dtype=torch.int64, device=inverse.device)
        first = first.scatter_reduce(0, inverse.reshape(-1), torch.arange(n, device=inverse.device), "amin")
        order = torch.argsort(first)
        rank = torch.empty_like(order)
        rank[order] = torch.arange(order.numel(), device=order.device)
        values = values.index_select(dim, order) if dim is not None else values[order]
        inverse = rank[inverse]
        counts = counts[order]
    if not (return_inverse or return_counts):
        return values
    out: list[Any] = ["unique", values]
    if return_inverse:
        out += ["inverse", inverse]
    if return_counts:
        out += ["counts", counts]
    return out
