"""Shape and indexing: permute/transpose/squeeze/view/expand, flips and rolls, gather and
scatter (also the n-d forms), masked fill and advanced indexing, splits and stacks, grids,
combinations and broadcasting helpers.

Each function's docstring is its docs page's summary line, description and examples (the
first indented block after ``Examples:``); the spec gives the syntax and parameters.
Results that are several tensors come back as a Tcl list of handles."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.spec import (
    REQUIRED,
    Bool,
    Choice,
    Custom,
    Handle,
    Int,
    IntList,
    Opt,
    camel,
    command,
    parse_int64,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import (
    Indices,
    SliceEnd,
    TensorList,
    TensorOrNumber,
    _dim,
    _dim_list,
    _input,
)
from tcltorch.errors import TclError, invalid_value

FAMILY = "tensors/shape"


@command(
    "tensor_reshape",
    _input(),
    Opt("shape", IntList(), help="new dimensions; one of them may be -1"),
    summary="A tensor with the same data and a new shape.",
)
def tensor_reshape(input, shape):
    return input.reshape(shape)


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


def check_dim(tensor: torch.Tensor, dim: int, option: str = "-dim", extra: int = 0) -> int:
    """``dim`` normalized for a tensor of ``tensor.dim() + extra`` dims (0-d counts as 1-d,
    as torch does), or a Tcl error naming the option."""
    n = tensor.dim() + extra
    m = max(n, 1)
    if not -m <= dim < m:
        raise invalid_value(option, str(dim), f"must be in the range -{m} to {m - 1} for a {n}-d tensor")
    return dim % m


def check_dims(
    tensor: torch.Tensor, dims: tuple[int, ...], option: str = "-dims", extra: int = 0
) -> list[int]:
    try:
        out = [check_dim(tensor, d, option, extra) for d in dims]
    except TclError as exc:  # show the whole list the caller gave
        n = tensor.dim() + extra
        m = max(n, 1)
        raise invalid_value(
            option, " ".join(map(str, dims)), f"must be in the range -{m} to {m - 1} for a {n}-d tensor"
        ) from exc
    if len(set(out)) != len(out):
        raise invalid_value(option, " ".join(map(str, dims)), "must not name a dimension twice")
    return out


def fresh(result: Any, *inputs: torch.Tensor) -> Any:
    """A result that is one of the inputs (torch returns the input itself when there is
    nothing to do) becomes a new view, so it gets its own handle."""
    if isinstance(result, (list, tuple)):
        return [fresh(r, *inputs) for r in result]
    if any(result is t for t in inputs):
        return result.view_as(result)
    return result


def _index_tensor(tensor: torch.Tensor, option: str) -> torch.Tensor:
    if tensor.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise invalid_value(
            option, str(tensor.dtype).replace("torch.", ""), "must be an integer tensor (int64)"
        )
    return tensor.long()


def _tensors(words: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    """The words of a ``rest`` tensor-list option (each a handle or a list) flattened."""
    return [t for group in words for t in group]


def _tensors_opt(help: str = "tensor handles: several words, or one list") -> Opt:
    return Opt("tensors", TensorList, rest=True, help=help, aliases=("inputs",))


@command("tensor_permute", _input(), _dim_list(help="new order of the dimensions, a permutation"))
def tensor_permute(input, dims):
    """The dimensions of a tensor in a new order (a view).

    Dimension `i` of the result is dimension `dims[i]` of the input; negative entries count
    from the end. `-dims` must name every dimension once.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dims "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dims` |

    Examples:
        set t [torch::zeros {2 3 4}]
        puts [torch::tensor_shape [torch::tensor_permute $t {2 0 1}]]   ;# -> 4 2 3
        puts [torch::tensor_shape [torch::tensorPermute -input $t -dims {1 0 2}]]   ;# -> 3 2 4
    """
    norm = check_dims(input, dims)
    if len(norm) != input.dim():
        raise invalid_value(
            "-dims", " ".join(map(str, dims)), f"must list each of the {input.dim()} dimensions once"
        )
    return fresh(input.permute(norm), input)


@command(
    "tensor_transpose",
    _input(),
    Opt("dim0", Int(), default=-2, help="first dimension to swap"),
    Opt("dim1", Int(), default=-1, help="second dimension to swap"),
    wraps="torch.transpose",  # the doc does not name it (torch::help finds the command by it)
)
def tensor_transpose(input, dim0, dim1):
    """A tensor with two dimensions swapped (a view); by default the last two.

    Without `-dim0`/`-dim1` a matrix (or a batch of matrices) is transposed. A 1-d or 0-d
    tensor is returned as is (as a new handle).

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim0 "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim0` |

    Examples:
        set m [torch::tensor_create {{1 2 3} {4 5 6}}]
        puts [torch::tensor_to_list [torch::tensor_transpose $m]]   ;# -> {1.0 4.0} {2.0 5.0} {3.0 6.0}
        puts [torch::tensor_shape [torch::tensorTranspose [torch::zeros {2 3 4}] 0 2]]   ;# -> 4 3 2
    """
    if input.dim() < 2 and (dim0, dim1) == (-2, -1):
        return input.view_as(input)
    return input.transpose(check_dim(input, dim0, "-dim0"), check_dim(input, dim1, "-dim1"))


@command(
    "tensor_squeeze",
    _input(),
    Opt(
        "dim",
        IntList(),
        default=None,
        help="dimension or dimensions to drop if of size 1 (default: all)",
        aliases=("dims", "dimension"),
    ),
)
def tensor_squeeze(input, dim):
    """A tensor without its dimensions of size 1 (all, or those named).

    A named dimension whose size is not 1 is kept, as in `torch.squeeze`.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::zeros {1 3 1 2}]
        puts [torch::tensor_shape [torch::tensor_squeeze $t]]   ;# -> 3 2
        puts [torch::tensor_shape [torch::tensor_squeeze $t 0]]   ;# -> 3 1 2
        puts [torch::tensor_shape [torch::tensorSqueeze -input $t -dim {0 2}]]   ;# -> 3 2
    """
    if not dim:
        return torch.squeeze(input)
    return torch.squeeze(input, tuple(check_dims(input, dim, "-dim")))


@command("tensor_unsqueeze", _input(), _dim(REQUIRED, "position of the new dimension of size 1"))
def tensor_unsqueeze(input, dim):
    """A tensor with a new dimension of size 1 inserted (a view).

    `-dim` is a position in the result: from `-(n+1)` to `n` for an n-d input.

    Examples:
        set t [torch::tensor_create {1 2 3}]
        puts [torch::tensor_shape [torch::tensor_unsqueeze $t 0]]   ;# -> 1 3
        puts [torch::tensor_shape [torch::tensorUnsqueeze -input $t -dim -1]]   ;# -> 3 1
    """
    return input.unsqueeze(check_dim(input, dim, "-dim", extra=1))


@command(
    "squeeze_multiple",
    _input(),
    _dim_list(None, "dimensions to drop if of size 1 (default: all of size 1)"),
)
def squeeze_multiple(input, dims):
    """A tensor without the given dimensions of size 1 (default: every dimension of size 1).

    All dimensions are numbered in the input (they are removed together, not one after the
    other). A named dimension whose size is not 1 is kept.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dims "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dims` |

    Examples:
        set t [torch::zeros {1 3 1 2 1}]
        puts [torch::tensor_shape [torch::squeeze_multiple $t {0 4}]]   ;# -> 3 1 2
        puts [torch::tensor_shape [torch::squeezeMultiple -tensor $t]]   ;# -> 3 2
    """
    if dims is None:
        return torch.squeeze(input)
    return torch.squeeze(input, tuple(check_dims(input, dims)))


@command("unsqueeze_multiple", _input(), _dim_list(help="positions of the new dimensions in the result"))
def unsqueeze_multiple(input, dims):
    """A tensor with several new dimensions of size 1 (a view).

    Each of `-dims` is a position in the result, which has `n + len(dims)` dimensions
    (negative positions count from its end), as numpy's `expand_dims`.

    Examples:
        set t [torch::tensor_create {1 2 3}]
        puts [torch::tensor_shape [torch::unsqueeze_multiple $t {0 2}]]   ;# -> 1 3 1
        puts [torch::tensor_shape [torch::unsqueezeMultiple -tensor $t -dims {-1 0}]]   ;# -> 1 3 1
    """
    if not dims:
        raise invalid_value("-dims", "", "must be a non-empty list of integers")
    positions = sorted(check_dims(input, dims, "-dims", extra=len(dims)))
    out = input
    for p in positions:
        out = out.unsqueeze(p)
    return out


@command(
    "tensor_view",
    _input(),
    Opt("shape", IntList(), help="new dimensions; one of them may be -1", aliases=("size", "sizes")),
)
def tensor_view(input, shape):
    """A view of a tensor's data with a new shape (no copy).

    Unlike `torch::tensor_reshape`, which copies when it has to, this fails when the data's
    layout cannot be viewed with the new shape (for example a transposed tensor): use
    `torch::tensor_contiguous` first.

    Examples:
        set t [torch::arange 6]
        puts [torch::tensor_to_list [torch::tensor_view $t {2 3}]]   ;# -> {0 1 2} {3 4 5}
        puts [torch::tensor_shape [torch::tensorView -input $t -shape {-1 2}]]   ;# -> 3 2
    """
    return input.view(shape)


@command(
    "tensor_expand",
    _input(),
    Opt("sizes", IntList(), help="new sizes; -1 keeps a dimension's size", aliases=("shape", "size")),
)
def tensor_expand(input, sizes):
    """A tensor broadcast to a larger size without copying (size-1 dimensions repeat).

    New leading dimensions may be added; -1 keeps a dimension as it is. The result is a view
    whose expanded dimensions share memory: clone it before writing to it.

    Examples:
        set col [torch::tensor_create {1 2} -shape {2 1}]
        puts [torch::tensor_to_list [torch::tensor_expand $col {2 3}]]   ;# -> {1.0 1.0 1.0} {2.0 2.0 2.0}
        puts [torch::tensor_shape [torch::tensorExpand -input $col -sizes {4 -1 3}]]   ;# -> 4 2 3
    """
    return input.expand(sizes)


@command(
    "tensor_repeat",
    _input(),
    Opt("repeats", IntList(), help="how many times to repeat along each dimension"),
)
def tensor_repeat(input, repeats):
    """A tensor tiled: its data repeated along each dimension (a copy).

    `-repeats` may have more entries than the tensor has dimensions: leading ones add new
    dimensions, as in `torch.Tensor.repeat`.

    Examples:
        set t [torch::tensor_create {1 2} -dtype int64]
        puts [torch::tensor_to_list [torch::tensor_repeat $t {3}]]   ;# -> 1 2 1 2 1 2
        puts [torch::tensor_to_list [torch::tensorRepeat -input $t -repeats {2 2}]]   ;# -> {1 2 1 2} {1 2 1 2}
    """
    if len(repeats) < input.dim():
        raise invalid_value(
            "-repeats",
            " ".join(map(str, repeats)),
            f"must have at least {input.dim()} entries (one per dimension)",
        )
    if any(r < 0 for r in repeats):
        raise invalid_value("-repeats", " ".join(map(str, repeats)), "must be non-negative")
    return input.repeat(repeats)


@command("tensor_contiguous", _input())
def tensor_contiguous(input):
    """A tensor with its data contiguous in memory (a copy only when needed).

    Always a new handle; the data is shared when the input was already contiguous.

    Examples:
        set t [torch::tensor_transpose [torch::zeros {2 3}]]
        puts [torch::tensor_shape [torch::tensor_contiguous $t]]   ;# -> 3 2
        puts [torch::tensor_shape [torch::tensor_view [torch::tensorContiguous $t] {6}]]   ;# -> 6
    """
    return fresh(input.contiguous(), input)


def _atleast(name: str, fn: Any, n: int) -> None:
    def run(input):
        return fresh(fn(input), input)

    run.__name__ = name
    run.__doc__ = f"""A tensor with at least {n} dimension{"s" if n > 1 else ""} (a view).

    Tensors with fewer dimensions get dimensions of size 1 as `torch.{name}` adds them;
    others come back unchanged (as a new handle).

    Examples:
        puts [torch::tensor_shape [torch::{name} [torch::tensor_create 5]]]   ;# -> {" ".join(["1"] * n)}
        puts [torch::tensor_shape [torch::atleast{n}d [torch::zeros {{2 2 2 2}}]]]   ;# -> 2 2 2 2
    """
    command(name, _input())(run)  # its camelCase alias is the other implementation's atleastNd


_atleast("atleast_1d", torch.atleast_1d, 1)


_atleast("atleast_2d", torch.atleast_2d, 2)


_atleast("atleast_3d", torch.atleast_3d, 3)


@command("flip", _input(), _dim_list(help="dimensions to reverse"), extra_aliases=("Flip",))
def flip(input, dims):
    """A tensor with the order of its entries reversed along some dimensions (a copy).

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dims "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dims` |

    Examples:
        set m [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        puts [torch::tensor_to_list [torch::flip $m {0}]]   ;# -> {3 4} {1 2}
        puts [torch::tensor_to_list [torch::Flip -input $m -dims {0 1}]]   ;# -> {4 3} {2 1}
    """
    return torch.flip(input, check_dims(input, dims))


@command(
    "roll",
    _input(),
    Opt("shifts", IntList(), help="shift per dimension (one value without -dims)"),
    _dim_list(None, "dimensions to roll (default: the flattened tensor)"),
    extra_aliases=("Roll",),
)
def roll(input, shifts, dims):
    """A tensor with its entries shifted cyclically along dimensions.

    Entries pushed past the end come back at the start. Without `-dims` the tensor is rolled
    as if flattened (then `-shifts` has one value); otherwise `-shifts` has one value per
    dimension in `-dims`.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dims "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dims` |

    Examples:
        set t [torch::arange 5]
        puts [torch::tensor_to_list [torch::roll $t 2]]   ;# -> 3 4 0 1 2
        set m [torch::tensor_view [torch::arange 6] {2 3}]
        puts [torch::tensor_to_list [torch::Roll -input $m -shifts {1 -1} -dims {0 1}]]   ;# -> {4 5 3} {1 2 0}
    """
    if not shifts:
        raise invalid_value("-shifts", "", "must be a non-empty list of integers")
    if dims is None:
        if len(shifts) != 1:
            raise invalid_value(
                "-shifts", " ".join(map(str, shifts)), "must be one integer when -dims is not given"
            )
        return torch.roll(input, shifts[0])
    norm = check_dims(input, dims)
    if len(norm) != len(shifts):
        raise invalid_value(
            "-dims", " ".join(map(str, dims)), f"must have as many entries as -shifts ({len(shifts)})"
        )
    return torch.roll(input, list(shifts), norm)


@command(
    "rot90",
    _input(),
    Opt("k", Int(), default=1, help="number of quarter turns (negative: clockwise)"),
    _dim_list((0, 1), "the two dimensions of the plane to rotate in"),
    extra_aliases=("Rot90",),
)
def rot90(input, k, dims):
    """A tensor rotated by k quarter turns in the plane of two dimensions (a copy).

    The rotation goes from the first of `-dims` towards the second (counter-clockwise for
    a matrix shown with rows going down).

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dims "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dims` |

    Examples:
        set m [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        puts [torch::tensor_to_list [torch::rot90 $m]]   ;# -> {2 4} {1 3}
        puts [torch::tensor_to_list [torch::Rot90 -input $m -k 2]]   ;# -> {4 3} {2 1}
    """
    if input.dim() < 2:
        raise invalid_value("-input", f"{input.dim()}-d tensor", "must have at least 2 dimensions")
    norm = check_dims(input, dims)
    if len(norm) != 2:
        raise invalid_value("-dims", " ".join(map(str, dims)), "must be two different dimensions")
    return torch.rot90(input, k, norm)


@command(
    "narrow_copy",
    _input(),
    _dim(REQUIRED, "dimension to narrow"),
    Opt("start", Int(), help="first index; negative counts from the end"),
    Opt("length", Int(ge=0), help="number of entries to keep"),
)
def narrow_copy(input, dim, start, length):
    """A copy of the entries start .. start+length-1 of a tensor along one dimension.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::arange 10]
        puts [torch::tensor_to_list [torch::narrow_copy $t 0 2 3]]   ;# -> 2 3 4
        set m [torch::tensor_view [torch::arange 6] {2 3}]
        puts [torch::tensor_to_list [torch::narrowCopy -input $m -dim 1 -start -2 -length 2]]   ;# -> {1 2} {4 5}
    """
    d = check_dim(input, dim)
    size = input.shape[d] if input.dim() else 1
    begin = start + size if start < 0 else start
    if not 0 <= begin <= size:
        raise invalid_value(
            "-start", str(start), f"must be in the range -{size} to {size} for a dimension of size {size}"
        )
    if begin + length > size:
        raise invalid_value(
            "-length",
            str(length),
            f"must be at most {size - begin} (start {begin} in a dimension of size {size})",
        )
    return input.narrow_copy(d, begin, length)


def _index_opt(
    name: str = "index", help: str = "int64 tensor of indices", aliases: tuple[str, ...] = ()
) -> Opt:
    return Opt(name, Handle("tensor"), help=help, aliases=aliases)


@command(
    "tensor_gather",
    _input(),
    _dim(REQUIRED, "dimension to gather along"),
    _index_opt(aliases=("indices",), help="int64 tensor of indices, same number of dimensions as the input"),
)
def tensor_gather(input, dim, index):
    """Values picked along one dimension: out[i][j] = input[index[i][j]][j] for dim 0.

    The result has the shape of `-index`, which has as many dimensions as the input (and is
    not larger than it in the other dimensions), as `torch.gather`.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        set i [torch::tensor_create {{0 0} {1 0}} -dtype int64]
        puts [torch::tensor_to_list [torch::tensor_gather $t 1 $i]]   ;# -> {1 1} {4 3}
        puts [torch::tensor_to_list [torch::tensorGather -input $t -dim 0 -index $i]]   ;# -> {1 2} {3 2}
    """
    d = check_dim(input, dim)
    return torch.gather(input, d, _index_tensor(index, "-index"))


@command(
    "tensor_scatter",
    _input(),
    _dim(REQUIRED, "dimension to scatter along"),
    _index_opt(aliases=("indices",), help="int64 tensor of target indices along -dim"),
    Opt(
        "src",
        TensorOrNumber,
        help="tensor of values (read at the index's positions) or one number",
        aliases=("source", "value"),
    ),
    Opt(
        "reduce",
        Choice("none", "add", "multiply"),
        default="none",
        help="none replaces; add or multiply combine with the values already there",
    ),
)
def tensor_scatter(input, dim, index, src, reduce):
    """A copy of a tensor with values written at indices along one dimension.

    For dim 0: out[index[i][j]][j] = src[i][j] (or `src` itself when it is a number); the
    input is not changed. With `-reduce add` or `multiply` the written values combine with
    those already there. Where an index repeats without a reduction, which value wins is
    unspecified (as in torch). A `-src` tensor is converted to the input's dtype.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set z [torch::zeros {2 3} -dtype int64]
        set i [torch::tensor_create {{1 0 1}} -dtype int64]
        set s [torch::tensor_create {{7 8 9}} -dtype int64]
        puts [torch::tensor_to_list [torch::tensor_scatter $z 0 $i $s]]   ;# -> {0 8 0} {7 0 9}
        puts [torch::tensor_to_list [torch::tensorScatter -input $z -dim 0 -index $i -src 5]]   ;# -> {0 5 0} {5 0 5}
    """
    d = check_dim(input, dim)
    idx = _index_tensor(index, "-index")
    if isinstance(src, torch.Tensor):
        src = src.to(input.dtype)
        if reduce == "none":
            return torch.scatter(input, d, idx, src)
        return torch.scatter_reduce(input, d, idx, src, {"add": "sum", "multiply": "prod"}[reduce])
    if reduce == "none":
        return torch.scatter(input, d, idx, src)
    return torch.scatter(input, d, idx, src, reduce=reduce)


@command(
    "take_along_dim",
    _input(),
    Opt("indices", Handle("tensor"), help="int64 tensor of indices", aliases=("index",)),
    _dim(None, "dimension to take along (default: the flattened input)"),
)
def take_along_dim(input, indices, dim):
    """Values picked along a dimension with broadcasting of the indices, as numpy's
    `take_along_axis`.

    Typical use: the values at the positions `torch::tensor_argmax ... -keepdim 1` found.
    Without `-dim` the input is flattened and `-indices` (of any shape) index it as a 1-d tensor.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::tensor_create {{10 30 20} {60 40 50}} -dtype int64]
        set i [torch::tensor_create {1 0} -shape {2 1} -dtype int64]
        puts [torch::tensor_to_list [torch::take_along_dim $t $i 1]]   ;# -> 30 60
        puts [torch::tensor_to_list [torch::takeAlongDim -input $t -indices [torch::tensor_create {5 0} -dtype int64]]]   ;# -> 50 10
    """
    idx = _index_tensor(indices, "-indices")
    if dim is None:
        return torch.take(input, idx)  # the flattened input, indices of any shape
    return torch.take_along_dim(input, idx, check_dim(input, dim))


def _nd_index(input: torch.Tensor, indices: torch.Tensor) -> tuple[torch.Tensor, ...]:
    idx = _index_tensor(indices, "-indices")
    if idx.dim() == 0:
        raise invalid_value(
            "-indices", "0-d tensor", "must have at least one dimension (its last lists coordinates)"
        )
    k = idx.shape[-1]
    if k > input.dim():
        raise invalid_value(
            "-indices",
            f"last dimension {k}",
            f"must be at most the input's number of dimensions ({input.dim()})",
        )
    for axis in range(k):
        col = idx[..., axis]
        size = input.shape[axis]
        if col.numel() and (int(col.max()) >= size or int(col.min()) < -size):
            raise invalid_value(
                "-indices", f"coordinate {axis}", f"must be in the range -{size} to {size - 1}"
            )
    return tuple(idx[..., axis] for axis in range(k))


@command(
    "gather_nd",
    _input(),
    Opt("indices", Handle("tensor"), help="int64 tensor [..., k] of coordinates into the first k dimensions"),
)
def gather_nd(input, indices):
    """Entries (or slices) at n-dimensional coordinates, as TensorFlow's `gather_nd`.

    The last dimension of `-indices` (size k) holds coordinates into the input's first k
    dimensions; the result has shape `indices.shape[:-1] + input.shape[k:]`. To pick single
    entries of a 1-d tensor, give indices of shape {N 1}. (The other implementation's
    gather_nd is an index_select along dimension 0; this one is the n-d gather. A 1-d
    `-indices` longer than the input has dimensions cannot be one coordinate, so it is read
    as positions along dimension 0, which is what its scripts mean.)

    Examples:
        set m [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        set i [torch::tensor_create {{0 1} {1 0}} -dtype int64]
        puts [torch::tensor_to_list [torch::gather_nd $m $i]]   ;# -> 2 3
        set rows [torch::tensor_create {1 0} -shape {2 1} -dtype int64]
        puts [torch::tensor_to_list [torch::gatherNd -input $m -indices $rows]]   ;# -> {3 4} {1 2}
    """
    if indices.dim() == 1 and indices.shape[0] > input.dim():
        indices = indices.unsqueeze(-1)
    return input[_nd_index(input, indices)]


@command(
    "scatter_nd",
    _input(),
    Opt("indices", Handle("tensor"), help="int64 tensor [..., k] of coordinates into the first k dimensions"),
    Opt("updates", Handle("tensor"), help="values, shape indices.shape[:-1] + input.shape[k:]"),
    Opt(
        "reduce",
        Choice("none", "add"),
        default="none",
        help="none replaces; add accumulates (repeats add up)",
    ),
)
def scatter_nd(input, indices, updates, reduce):
    """A copy of a tensor with entries (or slices) at n-dimensional coordinates replaced,
    as TensorFlow's `tensor_scatter_nd_update` (`-reduce add`: `tensor_scatter_nd_add`).

    `-indices` is as for `torch::gather_nd`; `-updates` has shape
    `indices.shape[:-1] + input.shape[k:]` and is converted to the input's dtype. The input
    is not changed. A 1-d `-indices` longer than the input has dimensions cannot be one
    coordinate: it lists positions along the first dimension (k = 1), as the other
    implementation's scripts give them.

    Examples:
        set z [torch::zeros {2 2} -dtype int64]
        set i [torch::tensor_create {{0 1} {1 0}} -dtype int64]
        set u [torch::tensor_create {5 6} -dtype int64]
        puts [torch::tensor_to_list [torch::scatter_nd $z $i $u]]   ;# -> {0 5} {6 0}
        set j [torch::tensor_create {{0 1} {0 1}} -dtype int64]
        puts [torch::tensor_to_list [torch::scatterNd -input $z -indices $j -updates $u -reduce add]]   ;# -> {0 11} {0 0}
    """
    if indices.dim() == 1 and indices.shape[0] > input.dim():
        indices = indices.unsqueeze(-1)
    where = _nd_index(input, indices)
    want = tuple(indices.shape[:-1]) + tuple(input.shape[len(where) :])
    if tuple(updates.shape) != want:
        raise invalid_value(
            "-updates",
            "{" + " ".join(map(str, updates.shape)) + "}",
            "must have shape {" + " ".join(map(str, want)) + "}",
        )
    return input.index_put(where, updates.to(input.dtype), accumulate=reduce == "add")


@command(
    "tensor_masked_fill",
    _input(),
    Opt("mask", Handle("tensor"), help="bool tensor, broadcastable to the input"),
    Opt("value", TensorOrNumber, help="number (or 0-d tensor) written where the mask is true"),
)
def tensor_masked_fill(input, mask, value):
    """A copy of a tensor with a value written where a mask is true.

    Examples:
        set t [torch::tensor_create {1 2 3 4}]
        set m [torch::tensor_create {1 0 1 0} -dtype bool]
        puts [torch::tensor_to_list [torch::tensor_masked_fill $t $m 0]]   ;# -> 0.0 2.0 0.0 4.0
        puts [torch::tensor_to_list [torch::tensorMaskedFill -tensor $t -mask $m -value -1.5]]   ;# -> -1.5 2.0 -1.5 4.0
    """
    if mask.dtype != torch.bool:
        raise invalid_value("-mask", str(mask.dtype).replace("torch.", ""), "must be a bool tensor")
    if isinstance(value, torch.Tensor) and value.dim() != 0:
        raise invalid_value(
            "-value",
            "tensor of shape {" + " ".join(map(str, value.shape)) + "}",
            "must be a number or a 0-d tensor",
        )
    return input.masked_fill(mask, value)


def _advanced_indices(text: str, option: str, ctx: Any) -> list[Any]:
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "must be a non-empty list of index tensors, integers or :")
    out: list[Any] = []
    for word in words:
        if word in (":", ""):
            out.append(slice(None))
            continue
        number = parse_int64(word)
        if number is not None:
            out.append(number)
            continue
        tensor = ctx.handles.get(word, "tensor")
        if tensor.dtype != torch.bool:
            tensor = _index_tensor(tensor, option)
        out.append(tensor)
    return out


AdvancedIndices = Custom(
    _advanced_indices, "list of index tensors", "must be a non-empty list of index tensors, integers or :"
)


@command(
    "tensor_advanced_index",
    _input(),
    Opt(
        "indices",
        AdvancedIndices,
        help="one entry per leading dimension: int64/bool tensor, integer, or : (all)",
    ),
)
def tensor_advanced_index(input, indices):
    """Entries selected by index tensors, as Python's `input[i0, i1, ...]` with tensors.

    Each entry of `-indices` indexes one dimension, from the first: an int64 tensor (index
    tensors broadcast together), a bool mask, an integer, or `:` for the whole dimension.

    Examples:
        set m [torch::tensor_view [torch::arange 6] {2 3}]
        set r [torch::tensor_create {0 1 1} -dtype int64]
        set c [torch::tensor_create {2 0 1} -dtype int64]
        puts [torch::tensor_to_list [torch::tensor_advanced_index $m [list $r $c]]]   ;# -> 2 3 4
        puts [torch::tensor_to_list [torch::tensorAdvancedIndex -tensor $m -indices [list : $c]]]   ;# -> {2 0 1} {5 3 4}
    """
    if len([i for i in indices if not isinstance(i, torch.Tensor) or i.dtype != torch.bool]) > input.dim():
        raise invalid_value("-indices", f"{len(indices)} entries", f"must have at most {input.dim()} entries")
    try:
        return fresh(input[tuple(indices)], input)
    except IndexError as exc:
        raise TclError(f"invalid -indices: {exc}", ["TORCH", "VALUE", "-indices"]) from None


@command(
    "tensor_where",
    Opt("condition", Handle("tensor"), help="bool tensor"),
    Opt(
        "input", TensorOrNumber, help="values where the condition is true (tensor or number)", aliases=("x",)
    ),
    Opt("other", TensorOrNumber, help="values where it is false (tensor or number)", aliases=("y",)),
)
def tensor_where(condition, input, other):
    """Entries from one tensor where a condition holds and from another where not
    (all three broadcast together).

    Examples:
        set c [torch::tensor_create {1 0 1} -dtype bool]
        set a [torch::tensor_create {1 2 3}]
        set b [torch::tensor_create {10 20 30}]
        puts [torch::tensor_to_list [torch::tensor_where $c $a $b]]   ;# -> 1.0 20.0 3.0
        puts [torch::tensor_to_list [torch::tensorWhere -condition $c -x $a -y 0]]   ;# -> 1.0 0.0 3.0
    """
    if condition.dtype != torch.bool:
        raise invalid_value("-condition", str(condition.dtype).replace("torch.", ""), "must be a bool tensor")
    return torch.where(condition, input, other)


def _sections(text: str, option: str, ctx: Any) -> int | list[int]:
    words = ctx.split(text, option)
    values = [parse_int64(w) for w in words]
    if not values or any(v is None for v in values):
        raise invalid_value(option, text, "must be a number of sections or a list of indices")
    if len(values) == 1:
        if values[0] < 1:  # type: ignore[operator]
            raise invalid_value(option, text, "must be a number of sections >= 1 or a list of indices")
        return values[0]  # type: ignore[return-value]
    return values  # type: ignore[return-value]


Sections = Custom(_sections, "integer or list", "must be a number of sections or a list of indices")


def _split_opts(dim: bool) -> list[Opt]:
    opts = [
        _input(),
        Opt(
            "sections",
            Sections,
            default=None,
            help="one integer: number of (nearly) equal parts; a list of 2 or more: indices to split before",
            aliases=("sectionsOrIndices", "sections_or_indices"),
        ),
    ]
    if dim:
        opts.append(_dim(0, "dimension to split"))
    opts.append(
        Opt(
            "indices",
            IntList(),
            default=None,
            positional=False,
            help="indices to split before (also a single one)",
        )
    )
    return opts


def _how(sections: Any, indices: Any) -> Any:
    if (sections is None) == (indices is None):
        raise TclError(
            'missing required option "-sections" (or -indices, but not both)',
            ["TORCH", "ARGS", "REQUIRED", "-sections"],
        )
    return list(indices) if indices is not None else sections


@command("tensor_split", *_split_opts(dim=True))
def tensor_split(input, sections, dim, indices):
    """A tensor cut into parts along a dimension: a Tcl list of handles (views).

    One integer N gives N parts as equal as possible (the first ones one longer), as
    `torch.tensor_split`; a list of two or more integers gives the indices to cut before.
    `-indices` always means indices (for a single cut: `-indices {2}`); the other
    implementation reads `-indices 2` as 2 sections, like `-sections 2`.

    ## Return Value

    A Tcl list of tensor handles, one per part.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::arange 7]
        puts [lmap p [torch::tensor_split $t 3] {torch::tensor_to_list $p}]   ;# -> {0 1 2} {3 4} {5 6}
        puts [lmap p [torch::tensorSplit -input $t -indices {2}] {torch::tensor_to_list $p}]   ;# -> {0 1} {2 3 4 5 6}
    """
    d = check_dim(input, dim)
    if input.dim() == 0:
        raise invalid_value("-input", "0-d tensor", "must have at least one dimension")
    return list(torch.tensor_split(input, _how(sections, indices), d))


def _xsplit(name: str, fn: Any, need: int, axis: str, example: tuple[str, str, str, str]) -> None:
    shape, sections, out_shapes, alias = example

    def run(input, sections, indices):
        if input.dim() < need:
            raise invalid_value("-input", f"{input.dim()}-d tensor", f"must have at least {need} dimensions")
        return list(fn(input, _how(sections, indices)))

    run.__name__ = name
    run.__doc__ = f"""A tensor split {axis}: a Tcl list of handles (views).

    As `torch.{name}`: one integer N cuts into N equal parts (the size must divide
    evenly); a list of two or more integers gives indices to cut before. `-indices` always
    means indices (the other implementation reads `-indices 2` as 2 sections).

    ## Return Value

    A Tcl list of tensor handles, one per part.

    Examples:
        set t [torch::zeros {{{shape}}}]
        puts [lmap p [torch::{name} $t {sections}] {{torch::tensor_shape $p}}]   ;# -> {out_shapes}
        puts [llength [torch::{alias} -tensor $t -indices {{1}}]]   ;# -> 2
    """
    command(name, *_split_opts(dim=False), extra_aliases=(alias,) if alias != name else ())(run)


_xsplit(
    "hsplit",
    torch.hsplit,
    1,
    "horizontally (along dimension 1, or 0 for a 1-d tensor)",
    ("2 4", 2, "{2 2} {2 2}", "hSplit"),
)


_xsplit("vsplit", torch.vsplit, 2, "vertically (along dimension 0)", ("4 2", 2, "{2 2} {2 2}", "vSplit"))


_xsplit(
    "dsplit", torch.dsplit, 3, "depth-wise (along dimension 2)", ("1 2 4", 2, "{1 2 2} {1 2 2}", "dsplit")
)


@command(
    "tensor_chunk",
    _input(),
    Opt("chunks", Int(ge=1), help="number of parts (at most)"),
    _dim(0, "dimension to split"),
)
def tensor_chunk(input, chunks, dim):
    """A tensor cut into at most N parts of equal size (the last may be smaller): a Tcl list
    of handles (views), as `torch.chunk`.

    ## Return Value

    A Tcl list of tensor handles, one per part.

    ## Errors

    | a dimension out of range (here: a 2-d input) | `invalid -dim "5": must be in the range -2 to 1 for a 2-d tensor` | `TORCH VALUE -dim` |

    Examples:
        set t [torch::arange 5]
        puts [lmap p [torch::tensor_chunk $t 2] {torch::tensor_to_list $p}]   ;# -> {0 1 2} {3 4}
        puts [llength [torch::tensorChunk -input [torch::zeros {2 6}] -chunks 3 -dim 1]]   ;# -> 3
    """
    if input.dim() == 0:
        raise invalid_value("-input", "0-d tensor", "must have at least one dimension")
    return list(torch.chunk(input, chunks, check_dim(input, dim)))


def _stack(name: str, fn: Any, alias: str, what: str, out: str) -> None:
    def run(tensors):
        return fn(_tensors(tensors))

    run.__name__ = name
    run.__doc__ = f"""Tensors joined {what}, as `torch.{name}`.

    The tensors come as several words or as one list (`-tensors`).

    Examples:
        set a [torch::tensor_create {{1 2}} -dtype int64]
        set b [torch::tensor_create {{3 4}} -dtype int64]
        puts [torch::tensor_to_list [torch::{name} $a $b]]   ;# -> {out}
        puts [torch::tensor_to_list [torch::{alias} -tensors [list $a $b]]]   ;# -> {out}
    """
    command(name, _tensors_opt(), extra_aliases=(alias,) if alias != camel(name) else ())(run)


_stack("hstack", torch.hstack, "hStack", "horizontally (along dimension 1; 0 for 1-d tensors)", "1 2 3 4")


_stack("vstack", torch.vstack, "vStack", "vertically (as rows: 1-d tensors become rows)", "{1 2} {3 4}")


_stack("row_stack", torch.vstack, "rowStack", "as rows (the same as vstack)", "{1 2} {3 4}")


_stack(
    "dstack", torch.dstack, "dStack", "depth-wise (along dimension 2, after making them 3-d)", "{{1 3} {2 4}}"
)


_stack(
    "column_stack",
    torch.column_stack,
    "columnStack",
    "as columns (1-d tensors become columns)",
    "{1 3} {2 4}",
)


@command(
    "meshgrid",
    _tensors_opt("1-d tensor handles: several words, or one list"),
    Opt(
        "indexing",
        Choice("ij", "xy"),
        default="ij",
        positional=False,
        help="ij: matrix indexing (default); xy: Cartesian (the first two dimensions swapped)",
    ),
    extra_aliases=("meshGrid",),
)
def meshgrid(tensors, indexing):
    """Coordinate grids from 1-d tensors: a Tcl list of handles, one grid per input.

    With N inputs of sizes s1..sN each grid has shape {s1 ... sN} (`-indexing ij`, the
    default, as the other implementation) and holds its input's values along its own
    dimension.

    ## Return Value

    A Tcl list of tensor handles, one grid per input tensor.

    Examples:
        set x [torch::tensor_create {1 2 3} -dtype int64]
        set y [torch::tensor_create {4 5} -dtype int64]
        lassign [torch::meshgrid $x $y] gx gy
        puts [torch::tensor_to_list $gx]   ;# -> {1 1} {2 2} {3 3}
        puts [torch::tensor_shape [lindex [torch::meshGrid -tensors [list $x $y] -indexing xy] 0]]   ;# -> 2 3
    """
    ts = _tensors(tensors)
    for t in ts:
        if t.dim() > 1:
            raise invalid_value("-tensors", f"{t.dim()}-d tensor", "must be 0-d or 1-d tensors")
    return list(torch.meshgrid(*ts, indexing=indexing))


@command(
    "combinations",
    _input("1-d tensor handle"),
    Opt("r", Int(ge=0), default=2, help="length of each combination"),
    Opt(
        "withReplacement",
        Bool(),
        default=False,
        help="allow an element more than once",
        aliases=("with_replacement", "replacement"),
    ),
)
def combinations(input, r, with_replacement):
    """The r-length combinations of a 1-d tensor's elements, one per row, as
    `torch.combinations` (Python's `itertools.combinations`).

    Examples:
        set t [torch::tensor_create {1 2 3} -dtype int64]
        puts [torch::tensor_to_list [torch::combinations $t]]   ;# -> {1 2} {1 3} {2 3}
        puts [torch::tensor_shape [torch::combinations -input $t -r 2 -withReplacement 1]]   ;# -> 6 2
    """
    if input.dim() != 1:
        raise invalid_value("-input", f"{input.dim()}-d tensor", "must be a 1-d tensor")
    return torch.combinations(input, r, with_replacement)


@command("cartesian_prod", _tensors_opt("1-d tensor handles: several words, or one list"))
def cartesian_prod(tensors):
    """The Cartesian product of 1-d tensors, one combination per row (a single input comes
    back as it is), as `torch.cartesian_prod`. A 0-d tensor counts as a set of one value.

    Examples:
        set a [torch::tensor_create {1 2} -dtype int64]
        set b [torch::tensor_create {3 4} -dtype int64]
        puts [torch::tensor_to_list [torch::cartesian_prod $a $b]]   ;# -> {1 3} {1 4} {2 3} {2 4}
        puts [torch::tensor_shape [torch::cartesianProd -tensors [list $a $b $a]]]   ;# -> 8 3
    """
    ts = [t.reshape(1) if t.dim() == 0 else t for t in _tensors(tensors)]
    for t in ts:
        if t.dim() != 1:
            raise invalid_value("-tensors", f"{t.dim()}-d tensor", "must be 1-d tensors (or single values)")
    return fresh(torch.cartesian_prod(*ts), *ts)


@command("broadcast_tensors", _tensors_opt())
def broadcast_tensors(tensors):
    """Tensors expanded to their common broadcast shape: a Tcl list of handles (views).

    ## Return Value

    A Tcl list of tensor handles, one per input, in order.

    Examples:
        set col [torch::tensor_create {1 2} -shape {2 1}]
        set row [torch::tensor_create {10 20 30}]
        puts [lmap t [torch::broadcast_tensors $col $row] {torch::tensor_shape $t}]   ;# -> {2 3} {2 3}
        puts [torch::tensor_to_list [lindex [torch::broadcastTensors -tensors [list $col $row]] 0]]   ;# -> {1.0 1.0 1.0} {2.0 2.0 2.0}
    """
    ts = _tensors(tensors)
    return fresh(list(torch.broadcast_tensors(*ts)), *ts)


def _shape_words(text: str, option: str, ctx: Any) -> list[tuple[int, ...]]:
    """One shape ({2 1}) or a list of shapes ({{2 1} {3}}): a word of integers is one shape."""
    words = ctx.split(text, option)
    if all(parse_tcl_int(w) is not None for w in words):
        groups = [words]
    else:
        groups = [ctx.split(w, option) for w in words]
    shapes = []
    for g in groups:
        dims = [parse_int64(w) for w in g]
        if any(d is None or d < 0 for d in dims):
            raise invalid_value(option, text, "must be shapes: lists of non-negative integers")
        shapes.append(tuple(dims))
    return shapes  # type: ignore[return-value]


ShapeWords = Custom(_shape_words, "shapes", "must be shapes: lists of non-negative integers")


@command(
    "broadcast_shapes",
    Opt("shapes", ShapeWords, rest=True, help="shapes: several words, or one list of shapes"),
)
def broadcast_shapes(shapes):
    """The shape that shapes broadcast to (a Tcl list of integers), or an error when they
    do not broadcast.

    ## Return Value

    A Tcl list of integers (the broadcast shape).

    Examples:
        puts [torch::broadcast_shapes {2 1} {3}]   ;# -> 2 3
        puts [torch::broadcastShapes -shapes {{4 1 1} {1 5} {1}}]   ;# -> 4 1 5
    """
    all_shapes = [s for group in shapes for s in group]
    try:
        return list(torch.broadcast_shapes(*all_shapes))
    except RuntimeError:
        text = " ".join("{" + " ".join(map(str, s)) + "}" for s in all_shapes)
        raise invalid_value("-shapes", text, "must broadcast together") from None


@command(
    "one_hot",
    _input("int64 tensor of class indices"),
    Opt(
        "numClasses",
        Int(ge=-1),
        default=-1,
        help="number of classes (-1: the largest index + 1)",
        aliases=("num_classes",),
    ),
)
def one_hot(input, num_classes):
    """One-hot encoding: a new last dimension with a 1 at each index (int64), as
    `torch.nn.functional.one_hot`.

    Examples:
        set i [torch::tensor_create {0 2 1} -dtype int64]
        puts [torch::tensor_to_list [torch::one_hot $i]]   ;# -> {1 0 0} {0 0 1} {0 1 0}
        puts [torch::tensor_shape [torch::oneHot -input $i -numClasses 5]]   ;# -> 3 5
    """
    idx = _index_tensor(input, "-input")
    if idx.numel() and int(idx.min()) < 0:
        raise invalid_value("-input", "negative index", "must hold class indices >= 0")
    if num_classes != -1 and idx.numel() and int(idx.max()) >= num_classes:
        raise invalid_value(
            "-numClasses", str(num_classes), f"must be larger than the largest index ({int(idx.max())})"
        )
    return torch.nn.functional.one_hot(idx, num_classes)
