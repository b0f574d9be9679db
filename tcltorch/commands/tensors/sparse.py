"""Sparse tensors: torch's own COO, CSR and CSC tensors, made from index and value tensors,
and the sparse operations of torch.sparse (sum, softmax, matrix product, masking, ...).

Every constructor checks torch's sparse invariants (indices in range, compressed indices
consistent), so a malformed tensor is an error here, never memory corruption later.  A sparse
tensor has no Tcl list form: ``torch::sparse_to_dense`` converts it."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import torch

from tcltorch.commands.spec import REGISTRY, Bool, Device, DType, Handle, Int, IntList, Opt, Shape, command
from tcltorch.commands.vocabulary import FiniteNumber, _input, names_handles
from tcltorch.errors import invalid_value

FAMILY = "tensors/sparse"

# torch's notes on its own status ("CSR/CSC tensor support is in beta"); they say nothing about
# the caller's data.  Filtered per call, since hosts (and pytest) may reset the global filters.
_BETA = r"Sparse (CSR|CSC|BSR|BSC) tensor support is in beta"


warnings.filterwarnings("ignore", message=_BETA, category=UserWarning)


def _quiet(fn: Any) -> Any:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_BETA, category=UserWarning)
            return fn(*args, **kwargs)

    return run


SPARSE_LAYOUTS = (torch.sparse_coo, torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc)


_LAYOUT_NAMES = {
    torch.strided: "dense",
    torch.sparse_coo: "COO",
    torch.sparse_csr: "CSR",
    torch.sparse_csc: "CSC",
    torch.sparse_bsr: "BSR",
    torch.sparse_bsc: "BSC",
}


def layout_name(tensor: torch.Tensor) -> str:
    return _LAYOUT_NAMES.get(tensor.layout, str(tensor.layout).replace("torch.", ""))


class SparseTensor(Handle):
    """A tensor handle whose tensor has one of ``layouts``; checked when the word is read, so
    the message names the option and the handle."""

    def __init__(self, layouts: tuple[torch.layout, ...] = SPARSE_LAYOUTS, requirement: str = "") -> None:
        super().__init__("tensor")
        self.layouts = layouts
        self.doc = "sparse tensor handle" if layouts != (torch.sparse_coo,) else "sparse COO tensor handle"
        self.requirement = requirement or (
            "must be a sparse tensor (make one with torch::sparse_coo_tensor, torch::sparse_csr_tensor "
            "or torch::sparse_csc_tensor)"
        )

    def convert(self, text: str, option: str, ctx: Any) -> torch.Tensor:
        tensor = ctx.handles.get(text, "tensor")
        if tensor.layout not in self.layouts:
            raise invalid_value(option, text, f"{self.requirement}; it is a {layout_name(tensor)} tensor")
        return tensor


class IndexTensor(Handle):
    """A tensor handle holding integer indices (converted to int64)."""

    def __init__(self) -> None:
        super().__init__("tensor")
        self.doc = "integer tensor handle"
        self.requirement = "must be a dense tensor of integer indices"

    def convert(self, text: str, option: str, ctx: Any) -> torch.Tensor:
        tensor = ctx.handles.get(text, "tensor")
        if (
            tensor.layout != torch.strided
            or tensor.is_quantized
            or tensor.is_floating_point()
            or tensor.is_complex()
            or tensor.dtype == torch.bool
        ):
            raise invalid_value(
                option,
                text,
                f"{self.requirement} (int64 or int32); it holds {str(tensor.dtype).replace('torch.', '')}",
            )
        return tensor


class DenseTensor(Handle):
    def __init__(self) -> None:
        super().__init__("tensor")
        self.requirement = "must be a dense tensor"

    def convert(self, text: str, option: str, ctx: Any) -> torch.Tensor:
        tensor = ctx.handles.get(text, "tensor")
        if tensor.layout != torch.strided:
            raise invalid_value(option, text, f"must be a dense tensor; it is a {layout_name(tensor)} tensor")
        return tensor


_ANY_SPARSE = SparseTensor()


_COO = SparseTensor(
    (torch.sparse_coo,),
    "must be a sparse COO tensor (CSR and CSC tensors are always coalesced)",
)


_SPARSE_ALIASES = ("tensor", "sparse_tensor", "sparseTensor")


def _make_options(values_help: str = "values, one per stored element (a dense tensor)") -> list[Opt]:
    return [
        Opt("values", DenseTensor(), help=values_help),
        Opt(
            "size",
            Shape(),
            default=None,
            help="the sparse tensor's shape",
            default_doc="inferred",
            aliases=("shape",),
        ),
        Opt("dtype", DType(), default=None, help="element type", default_doc="the values' dtype"),
        Opt("device", Device(), default=None, help="cpu, cuda or cuda:N", default_doc="the values' device"),
        Opt(
            "requiresGrad",
            Bool(),
            default=False,
            help="track gradients (floating-point dtypes only)",
            aliases=("requires_grad",),
        ),
    ]


def _bad(ctx: Any, option: str, obj: torch.Tensor, requirement: str) -> Exception:
    """An invalid-value error for a tensor argument, showing its handle name."""
    return invalid_value(option, ctx.handles.name_of(obj) or "", requirement)


def _shape(x: torch.Tensor | tuple[int, ...] | list[int]) -> str:
    return "{" + " ".join(map(str, x.shape if isinstance(x, torch.Tensor) else x)) + "}"


def _check_dim(x: torch.Tensor, dim: int, option: str = "-dim") -> int:
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise invalid_value(option, str(dim), f"must be a dimension of a {x.dim()}-d tensor")
    return dim % x.dim()


def _relayout(result: torch.Tensor, layout: torch.layout) -> torch.Tensor:
    if layout == torch.sparse_csr:
        return result.to_sparse_csr()
    if layout == torch.sparse_csc:
        return result.to_sparse_csc()
    return result


@command(
    "sparse_coo_tensor",
    Opt(
        "indices",
        IndexTensor(),
        help="integer tensor of shape {sparseDims nnz}: column k holds element k's coordinates",
    ),
    *_make_options(),
    context=True,
)
def sparse_coo_tensor(indices, values, size, dtype, device, requires_grad, ctx):
    """A sparse COO tensor from its coordinates and values (torch.sparse_coo_tensor).

    `indices` has one row per sparse dimension and one column per stored element, the layout of
    `torch.sparse_coo_tensor`. The values may have dense dimensions of their own (a hybrid tensor:
    `-values` of shape {nnz d1 ...}). Without `-size` the shape is the smallest that holds the
    indices. Duplicate coordinates are kept until `torch::sparse_coalesce` sums them. Indices out
    of range for `-size`, or negative, are an error (torch's invariant checks are on).

    ## Return Value

    A new sparse tensor handle (COO layout).

    Examples:
        set i [torch::tensor_create {{0 1 1} {2 0 2}} int64]
        set v [torch::tensor_create {3 4 5}]
        set s [torch::sparse_coo_tensor $i $v {2 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense $s]]   ;# -> {0.0 0.0 3.0} {4.0 0.0 5.0}
        puts [torch::tensor_shape [torch::sparseCooTensor -indices $i -values $v]]   ;# -> 2 3
    """
    if indices.dim() != 2:
        raise _bad(
            ctx, "-indices", indices, f"must be a 2-d tensor {{sparseDims nnz}}, got {indices.dim()}-d"
        )
    indices = indices.to(torch.int64)
    args = (indices, values) if size is None else (indices, values, size)
    return torch.sparse_coo_tensor(
        *args, dtype=dtype, device=device, requires_grad=requires_grad, check_invariants=True
    )


@command(
    "sparse_tensor_create",
    Opt(
        "indices",
        IndexTensor(),
        help="integer tensor: {sparseDims nnz} (torch's layout) or {nnz sparseDims} (one row per element)",
    ),
    *_make_options(),
    context=True,
)
def sparse_tensor_create(indices, values, size, dtype, device, requires_grad, ctx):
    """A sparse COO tensor from coordinates and values, taking the coordinates either way round.

    Like `torch::sparse_coo_tensor`, but `-indices` may also list one coordinate per row
    ({nnz sparseDims}, as the other implementation's documentation shows), and a 1-d index list
    is accepted for a 1-d tensor. The number of sparse dimensions is the length of `-size` less
    the values' own dense dimensions (without `-size`, indices are read in torch's layout). When
    both readings fit (as many elements as sparse dimensions), torch's layout {sparseDims nnz}
    is used.

    ## Return Value

    A new sparse tensor handle (COO layout).

    Examples:
        set rows [torch::tensor_create {{0 0} {1 1} {2 2}} int64]
        set s [torch::sparse_tensor_create $rows [torch::tensor_create {1 2 3}] {3 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense $s]]   ;# -> {1.0 0.0 0.0} {0.0 2.0 0.0} {0.0 0.0 3.0}
    """
    if values.dim() == 0:
        raise _bad(ctx, "-values", values, "must have at least one dimension (one entry per stored element)")
    nnz, given = values.shape[0], indices
    if size is not None:
        sparse_dims = len(size) - (values.dim() - 1)
        if sparse_dims < 1:
            raise invalid_value(
                "-size",
                " ".join(map(str, size)),
                f"must have more dimensions than the values' dense part ({values.dim() - 1})",
            )
        if indices.dim() == 1 and sparse_dims == 1:
            indices = indices.reshape(1, -1)
        if (
            indices.dim() == 2
            and tuple(indices.shape) != (sparse_dims, nnz)
            and tuple(indices.shape) == (nnz, sparse_dims)
        ):
            indices = indices.t()
        if indices.dim() != 2 or tuple(indices.shape) != (sparse_dims, nnz):
            raise _bad(
                ctx,
                "-indices",
                given,
                f"must have shape {{{sparse_dims} {nnz}}} or {{{nnz} {sparse_dims}}} for "
                f"{nnz} values and {sparse_dims} sparse dimensions, got {_shape(given)}",
            )
    elif indices.dim() == 1:
        indices = indices.reshape(1, -1)
    return sparse_coo_tensor(indices, values, size, dtype, device, requires_grad, ctx)


def _compressed(name: str, fn: Any, compressed: str, plain: str, what: str, example: str) -> None:
    def run(compressed_indices, plain_indices, values, size, dtype, device, requires_grad):
        compressed_indices, plain_indices = compressed_indices.to(torch.int64), plain_indices.to(torch.int64)
        args = (compressed_indices, plain_indices, values) + (() if size is None else (size,))
        return fn(*args, dtype=dtype, device=device, requires_grad=requires_grad, check_invariants=True)

    snake_c = {"crowIndices": "crow_indices", "ccolIndices": "ccol_indices"}[compressed]
    snake_p = {"colIndices": "col_indices", "rowIndices": "row_indices"}[plain]
    run.__name__ = name
    run.__doc__ = f"""A sparse {what} tensor from its compressed indices, plain indices and values ({fn.__module__}.{fn.__name__}).

    `{compressed}` has one entry per {"row" if what == "CSR" else "column"} plus one: entry i is where
    {"row" if what == "CSR" else "column"} i starts in `{plain}` and `values`, and the last equals the number
    of stored elements. `{plain}` holds each element's {"column" if what == "CSR" else "row"}. torch's invariant
    checks are on, so inconsistent indices are an error. Without `-size` the shape is inferred.

    ## Return Value

    A new sparse tensor handle ({what} layout).

    Examples:
{example}
    """
    command(
        name,
        Opt(
            "compressedIndices",
            IndexTensor(),
            help=f"compressed {'row' if what == 'CSR' else 'column'} starts",
            aliases=(compressed, snake_c),
        ),
        Opt(
            "plainIndices",
            IndexTensor(),
            help=f"each element's {'column' if what == 'CSR' else 'row'}",
            aliases=(plain, snake_p),
        ),
        *_make_options(),
    )(run)


_compressed(
    "sparse_csr_tensor",
    torch.sparse_csr_tensor,
    "crowIndices",
    "colIndices",
    "CSR",
    """        set crow [torch::tensor_create {0 2 3} int64]
        set col [torch::tensor_create {1 2 0} int64]
        set s [torch::sparse_csr_tensor $crow $col [torch::tensor_create {1 2 3}] {2 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense $s]]   ;# -> {0.0 1.0 2.0} {3.0 0.0 0.0}""",
)


_compressed(
    "sparse_csc_tensor",
    torch.sparse_csc_tensor,
    "ccolIndices",
    "rowIndices",
    "CSC",
    """        set ccol [torch::tensor_create {0 1 2 3} int64]
        set row [torch::tensor_create {0 1 0} int64]
        set s [torch::sparseCscTensor -ccolIndices $ccol -rowIndices $row -values [torch::tensor_create {1 2 3}] -size {2 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense $s]]   ;# -> {1.0 0.0 3.0} {0.0 2.0 0.0}""",
)


_SPARSE_OR_DENSE = SparseTensor((*SPARSE_LAYOUTS, torch.strided), "must be a sparse or dense tensor")


@command(
    "sparse_to_dense",
    _input("sparse tensor (a dense one comes back as it is)", type=_SPARSE_OR_DENSE, aliases=_SPARSE_ALIASES),
    context=True,
)
@names_handles
def sparse_to_dense(input):
    """The dense tensor a sparse tensor stands for: stored values in place, zeros elsewhere.

    Duplicate COO coordinates are summed. Gradients flow back to the sparse tensor's values.
    A tensor that is already dense comes back unchanged (a new handle to the same values), as
    `Tensor.to_dense` does, so a script need not know which layout a result has
    (`torch::sparse_sum` without `-dim` gives a dense 0-d tensor).

    ## Return Value

    A new (dense) tensor handle.

    Examples:
        set i [torch::tensor_create {{0 0}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {1 2}] {3}]
        puts [torch::tensor_to_list [torch::sparseToDense -input $s]]   ;# -> 3.0 0.0 0.0
    """
    if input.is_quantized:
        raise invalid_value(
            "-input", "", "must be a sparse or dense tensor: dequantize it with torch::dequantize"
        )
    if input.layout == torch.strided:
        return input.view_as(input)
    return input.to_dense()


@command("sparse_coalesce", _input("sparse COO tensor", type=_COO, aliases=_SPARSE_ALIASES))
def sparse_coalesce(input):
    """A COO tensor with duplicate coordinates summed and coordinates sorted (Tensor.coalesce).

    ## Return Value

    A new sparse tensor handle (COO layout, coalesced).

    Examples:
        set i [torch::tensor_create {{2 0 2}} int64]
        set s [torch::sparse_coalesce [torch::sparse_coo_tensor $i [torch::tensor_create {1 2 3}] {3}]]
        puts [torch::tensor_to_list [torch::sparse_to_dense $s]]   ;# -> 2.0 0.0 4.0
    """
    return input.coalesce()


@command(
    "sparse_transpose",
    _input("sparse tensor", type=_ANY_SPARSE, aliases=_SPARSE_ALIASES),
    Opt("dim0", Int(), help="first dimension to swap"),
    Opt("dim1", Int(), help="second dimension to swap"),
)
def sparse_transpose(input, dim0, dim1):
    """A sparse tensor with two dimensions swapped (torch.transpose).

    A COO tensor stays COO; transposing the two dimensions of a CSR tensor gives the CSC tensor of
    the same data (and CSC gives CSR), as in torch.

    ## Return Value

    A new sparse tensor handle.

    Examples:
        set i [torch::tensor_create {{0 1} {2 0}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {5 6}] {2 3}]
        set t [torch::sparse_transpose $s 0 1]
        puts [torch::tensor_shape $t]   ;# -> 3 2
        puts [torch::tensor_to_list [torch::sparse_to_dense $t]]   ;# -> {0.0 6.0} {0.0 0.0} {5.0 0.0}
    """
    _check_dim(input, dim0, "-dim0")
    _check_dim(input, dim1, "-dim1")
    return torch.transpose(input, dim0, dim1)


def _resolve_shape(shape: tuple[int, ...], numel: int, text: str, what: str) -> list[int]:
    if sum(1 for d in shape if d == -1) > 1 or any(d < -1 for d in shape):
        raise invalid_value("-shape", text, "must be a list of non-negative integers with at most one -1")
    known = math.prod(d for d in shape if d != -1)
    if -1 in shape:
        if known == 0 or numel % known:
            raise invalid_value("-shape", text, f"cannot hold {numel} elements ({what})")
        return [numel // known if d == -1 else d for d in shape]
    if known != numel:
        raise invalid_value("-shape", text, f"must hold {numel} elements in all ({what})")
    return list(shape)


def _reshape_coo(x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    text = " ".join(map(str, shape))
    x = x.coalesce()
    sparse_dims = x.sparse_dim()
    old_sparse, dense = list(x.shape[:sparse_dims]), list(x.shape[sparse_dims:])
    if dense:  # a hybrid tensor: its dense trailing dimensions stay as they are
        if len(shape) <= len(dense) or list(shape[len(shape) - len(dense) :]) != dense:
            raise invalid_value(
                "-shape",
                text,
                f"must end with the values' dense dimensions {{{' '.join(map(str, dense))}}} (a hybrid tensor)",
            )
        shape = shape[: len(shape) - len(dense)]
    what = f"the input's shape is {{{' '.join(map(str, x.shape))}}}"
    new_sparse = _resolve_shape(shape, math.prod(old_sparse), text, what)
    if not new_sparse:
        raise invalid_value("-shape", text, "must keep at least one sparse dimension")
    indices = x.indices()
    strides = [math.prod(old_sparse[k + 1 :]) for k in range(len(old_sparse))]
    linear = (indices * torch.tensor(strides, dtype=torch.int64, device=indices.device).unsqueeze(1)).sum(0)
    rows = []
    for k in range(len(new_sparse)):
        stride = math.prod(new_sparse[k + 1 :])
        rows.append(torch.div(linear, stride, rounding_mode="floor") % new_sparse[k])
    new_indices = torch.stack(rows) if rows else indices.new_zeros((0, indices.shape[1]))
    return torch.sparse_coo_tensor(
        new_indices, x.values(), new_sparse + dense, is_coalesced=True, check_invariants=True
    )


@command(
    "sparse_reshape",
    _input("sparse tensor", type=_ANY_SPARSE, aliases=_SPARSE_ALIASES),
    Opt("shape", IntList(), help="the new shape (one entry may be -1)", aliases=("size",)),
    context=True,
)
def sparse_reshape(input, shape, ctx):
    """A sparse tensor with a new shape and the same elements in row-major order, as torch.reshape
    does for dense tensors.

    torch has no reshape for sparse tensors; this one maps each stored coordinate to its row-major
    position in the new shape, so `torch::sparse_to_dense` of the result equals torch.reshape of the
    dense tensor, exactly. One entry of `-shape` may be -1. For a hybrid COO tensor (values with
    dense dimensions) the new shape must end with those dimensions. A COO input gives a coalesced
    COO result; a CSR or CSC input gives the same layout when the new shape is 2-d, COO otherwise.

    ## Return Value

    A new sparse tensor handle.

    Examples:
        set i [torch::tensor_create {{0 1} {1 2}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {7 8}] {2 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense [torch::sparse_reshape $s {3 2}]]]   ;# -> {0.0 7.0} {0.0 0.0} {0.0 8.0}
        puts [torch::tensor_shape [torch::sparseReshape -input $s -shape {-1}]]   ;# -> 6
    """
    if input.layout == torch.sparse_coo:
        return _reshape_coo(input, shape)
    if input.layout not in (torch.sparse_csr, torch.sparse_csc) or input.dim() != 2:
        raise _bad(ctx, "-input", input, "must be a COO tensor, or a 2-d CSR or CSC tensor")
    result = _reshape_coo(input.to_sparse_coo(), shape)
    return _relayout(result, input.layout) if result.dim() == 2 else result


def _add_operand(name: str, help: str, aliases: tuple[str, ...]) -> Opt:
    return Opt(name, Handle("tensor"), help=help, aliases=aliases)


@command(
    "sparse_add",
    _add_operand("input", "sparse or dense tensor", ("tensor1", "input1", "tensor")),
    _add_operand("other", "sparse or dense tensor of the same shape", ("tensor2", "input2")),
    Opt("alpha", FiniteNumber, default=1, help="multiplier of -other"),
    context=True,
)
def sparse_add(input, other, alpha, ctx):
    """input + alpha × other, where either operand may be sparse (torch.add).

    Two sparse operands (of one layout) give a sparse tensor, stored elements of both (a COO result
    is not coalesced); a sparse and a dense operand, in either order, give a dense tensor. Two dense
    operands are added as `torch::tensor_add` would. Shapes must match when an operand is sparse.

    ## Return Value

    A new tensor handle: sparse when both operands are sparse, dense otherwise.

    Examples:
        set i [torch::tensor_create {{0 2}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {1 2}] {3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense [torch::sparse_add $s $s 10]]]   ;# -> 11.0 0.0 22.0
        puts [torch::tensor_to_list [torch::sparseAdd -input [torch::ones {3}] -other $s]]   ;# -> 2.0 1.0 3.0
    """
    a_sparse, b_sparse = input.layout != torch.strided, other.layout != torch.strided
    if (a_sparse or b_sparse) and input.shape != other.shape:
        raise _bad(
            ctx,
            "-other",
            other,
            f"must have the shape of -input {_shape(input)} when an operand is sparse, got {_shape(other)}",
        )
    if a_sparse and b_sparse and input.layout != other.layout:
        raise _bad(
            ctx,
            "-other",
            other,
            f"must have the layout of -input ({layout_name(input)}), got {layout_name(other)}",
        )
    if a_sparse and not b_sparse:  # torch adds a sparse tensor only to a dense one
        return torch.add(other if alpha == 1 else torch.mul(other, alpha), input)
    if a_sparse and input.layout in (torch.sparse_csr, torch.sparse_csc) and not input.is_floating_point():
        # torch's CSR/CSC add kernel takes floating-point values only; integer sums are exact via COO
        return _relayout(
            torch.add(input.to_sparse_coo(), other.to_sparse_coo(), alpha=alpha).coalesce(), input.layout
        )
    return torch.add(input, other, alpha=alpha)


@command(
    "sparse_mm",
    Opt("mat1", _ANY_SPARSE, help="sparse matrix {n m}", aliases=("sparseTensor", "sparse_tensor", "sparse")),
    Opt(
        "mat2",
        Handle("tensor"),
        help="dense or sparse matrix {m p}",
        aliases=("denseTensor", "dense_tensor", "dense"),
    ),
    context=True,
)
def sparse_mm(mat1, mat2, ctx):
    """The matrix product of a sparse matrix and a dense or sparse one (torch.sparse.mm).

    A dense `-mat2` gives a dense product; a sparse COO `-mat2` (with a COO `-mat1`) gives a
    sparse one. Gradients flow to both operands.

    ## Return Value

    A new tensor handle (dense for a dense -mat2).

    Examples:
        set i [torch::tensor_create {{0 1} {1 0}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {2 3}] {2 2}]
        set d [torch::tensor_create {{1 2} {3 4}}]
        puts [torch::tensor_to_list [torch::sparse_mm $s $d]]   ;# -> {6.0 8.0} {3.0 6.0}
    """
    if mat1.dim() != 2:
        raise _bad(ctx, "-mat1", mat1, f"must be a 2-d sparse matrix, got {mat1.dim()}-d")
    if mat2.dim() != 2 or mat2.shape[0] != mat1.shape[1]:
        raise _bad(
            ctx,
            "-mat2",
            mat2,
            f"must be a 2-d matrix with {mat1.shape[1]} rows (-mat1 is {_shape(mat1)}), got {_shape(mat2)}",
        )
    return torch.sparse.mm(mat1, mat2)


def _dims(x: torch.Tensor, dim: tuple[int, ...] | None) -> tuple[int, ...] | None:
    if dim is None or len(dim) == 0:
        return None
    for d in dim:
        _check_dim(x, d)
    return dim


@command(
    "sparse_sum",
    _input("sparse tensor", type=_ANY_SPARSE, aliases=_SPARSE_ALIASES),
    Opt(
        "dim",
        IntList(),
        default=None,
        help="dimension or list of dimensions to sum over",
        default_doc="all",
        aliases=("dimension",),
    ),
    Opt("dtype", DType(), default=None, help="element type of the sum", default_doc="the input's"),
)
def sparse_sum(input, dim, dtype):
    """The sum of a sparse tensor's elements, over all dimensions or the given ones (torch.sparse.sum).

    Over all dimensions (or all sparse ones) the result is a dense tensor; over some sparse
    dimensions it is a sparse COO tensor of the remaining ones. CSR and CSC inputs are summed as
    COO.

    ## Return Value

    A new tensor handle: dense (0-d for a full sum) or sparse COO.

    Examples:
        set i [torch::tensor_create {{0 1 1} {2 0 2}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {3 4 5}] {2 3}]
        puts [torch::tensor_item [torch::sparse_sum $s]]   ;# -> 12.0
        puts [torch::tensor_to_list [torch::sparse_to_dense [torch::sparseSum -input $s -dim 0]]]   ;# -> 4.0 0.0 8.0
    """
    dims = _dims(input, dim)
    if input.layout != torch.sparse_coo:
        input = input.to_sparse_coo()
    kwargs = {} if dtype is None else {"dtype": dtype}
    return torch.sparse.sum(input, dims, **kwargs) if dims is not None else torch.sparse.sum(input, **kwargs)


def _softmax(name: str, sparse_fn: Any, dense_fn: Any, formula: str, example: str) -> None:
    def run(input, dim, dtype, ctx):
        _check_dim(input, dim)
        if dtype is not None and not dtype.is_floating_point:
            raise invalid_value("-dtype", str(dtype).replace("torch.", ""), "must be a floating-point dtype")
        if dtype is None and not input.is_floating_point():
            raise _bad(ctx, "-input", input, "must hold floating-point values (or give a floating -dtype)")
        if input.layout == torch.strided:  # every element is specified: the ordinary function
            return dense_fn(input, dim, dtype=dtype)
        if input.layout == torch.sparse_coo:
            return sparse_fn(input, dim, dtype=dtype)
        if input.layout in (torch.sparse_csr, torch.sparse_csc):
            return _relayout(sparse_fn(input.to_sparse_coo(), dim, dtype=dtype), input.layout)
        raise _bad(ctx, "-input", input, f"must be a dense, COO, CSR or CSC tensor, not {layout_name(input)}")

    run.__name__ = name
    run.__doc__ = f"""{formula} over the stored elements along a dimension ({sparse_fn.__module__}.{sparse_fn.__name__}).

    Elements that are not stored count as minus infinity, not as zero: they take no share and stay
    unstored, so the result has the input's sparsity pattern. A dense input has every element
    stored, so the result is the ordinary dense function. CSR and CSC inputs keep their layout.

    ## Return Value

    A new tensor handle of the input's layout.

    Examples:
{example}
    """
    command(
        name,
        Opt("input", Handle("tensor"), help="sparse or dense tensor", aliases=("tensor",)),
        Opt("dim", Int(), help="dimension to normalize along", aliases=("dimension",)),
        Opt(
            "dtype",
            DType(),
            default=None,
            help="element type of the result (the input is cast first)",
            default_doc="the input's",
        ),
        context=True,
    )(run)


_softmax(
    "sparse_softmax",
    torch.sparse.softmax,
    torch.softmax,
    "The softmax",
    """        set i [torch::tensor_create {{0 0} {0 2}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {1 1}] {1 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense [torch::sparse_softmax $s 1]]]   ;# -> {0.5 0.0 0.5}""",
)


_softmax(
    "sparse_log_softmax",
    torch.sparse.log_softmax,
    torch.log_softmax,
    "The log-softmax",
    """        set i [torch::tensor_create {{0 0} {0 2}} int64]
        set s [torch::sparse_coo_tensor $i [torch::tensor_create {1 1} -dtype float64] {1 3}]
        set r [torch::sparse_to_dense [torch::sparseLogSoftmax -input $s -dim 1]]
        puts [torch::tensor_to_list [torch::tensor_exp $r]]   ;# -> {0.5 1.0 0.5}""",
)


@command(
    "sparse_mask",
    Opt(
        "input",
        Handle("tensor"),
        help="dense (or sparse COO) tensor to take values from",
        aliases=("tensor",),
    ),
    Opt("mask", _ANY_SPARSE, help="sparse tensor whose stored coordinates are kept"),
    context=True,
)
def sparse_mask(input, mask, ctx):
    """The input's values at the mask's stored coordinates, as a sparse tensor (Tensor.sparse_mask).

    The result has the mask's layout and sparsity pattern; its values come from `-input` (the
    mask's own values are ignored). Input and mask have the same shape.

    ## Return Value

    A new sparse tensor handle (the mask's layout).

    Examples:
        set x [torch::tensor_create {{1 2 3} {4 5 6}}]
        set i [torch::tensor_create {{0 1} {1 2}} int64]
        set m [torch::sparse_coo_tensor $i [torch::tensor_create {9 9}] {2 3}]
        puts [torch::tensor_to_list [torch::sparse_to_dense [torch::sparse_mask $x $m]]]   ;# -> {0.0 2.0 0.0} {0.0 0.0 6.0}
    """
    if input.shape != mask.shape:
        raise _bad(ctx, "-mask", mask, f"must have the shape of -input {_shape(input)}, got {_shape(mask)}")
    if input.layout not in (torch.strided, torch.sparse_coo):
        raise _bad(ctx, "-input", input, f"must be a dense or COO tensor, not {layout_name(input)}")
    if input.layout == torch.sparse_coo and mask.layout != torch.sparse_coo:
        raise _bad(ctx, "-mask", mask, "must be a COO tensor when -input is sparse")
    if mask.dtype != input.dtype:  # only the mask's pattern matters; torch wants one dtype
        mask = mask.detach().to(input.dtype)
    return input.sparse_mask(mask)


for _cmd in REGISTRY.values():
    if _cmd.fn.__module__ == __name__:
        _cmd.fn = _quiet(_cmd.fn)
