"""Linear algebra: products (bmm, tensordot, einsum, kron, cross, dot, outer), matrix
functions (trace, diag, tril/triu, powers, exponential, pseudo-inverse), decompositions (SVD,
eigen, QR, Cholesky, LU) and solvers, norms, rank and condition numbers.

Decompositions return a Tcl list of handles in the order their pages give (U S V, Q R, ...).
Each function's docstring is its docs page's summary, description and examples."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import torch

from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Double,
    Handle,
    Int,
    IntList,
    Opt,
    Str,
    command,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.commands.tensors.shape import _tensors, _tensors_opt, check_dim, check_dims
from tcltorch.commands.vocabulary import _input, _keepdim
from tcltorch.errors import TclError, invalid_value, shorten

FAMILY = "tensors/linalg"


@command(
    "tensor_matmul",
    Opt("input", Handle("tensor"), help="left tensor handle", aliases=("input1", "tensor")),
    Opt("other", Handle("tensor"), help="right tensor handle", aliases=("input2",)),
    summary="Matrix product of two tensors (torch.matmul semantics).",
)
def tensor_matmul(input, other):
    return torch.matmul(input, other)


def _other(help: str = "tensor handle") -> Opt:
    return Opt("other", Handle("tensor"), help=help, aliases=("input2",))


@contextlib.contextmanager
def _linalg() -> Iterator[None]:
    """torch's LinAlgError (singular, not positive-definite ...) as a Tcl error TORCH LINALG."""
    try:
        yield
    except torch.linalg.LinAlgError as exc:
        raise TclError(str(exc).strip().split("\n")[0], ["TORCH", "LINALG"]) from None


def _ord(text: str, option: str, ctx: Any) -> float | str:
    word = text.strip()
    if word in ("fro", "nuc"):
        return word
    if word.lower() in ("inf", "+inf"):
        return math.inf
    if word.lower() == "-inf":
        return -math.inf
    value = parse_tcl_double(word)
    if value is None or math.isnan(value):
        raise invalid_value(option, text, "must be a number, inf, -inf, fro or nuc")
    as_int = parse_tcl_int(word)
    return as_int if as_int is not None else value


Ord = Custom(_ord, "number|inf|-inf|fro|nuc", "must be a number, inf, -inf, fro or nuc")


def _vector_ord(value: Any, option: str) -> float:
    if isinstance(value, str):
        raise invalid_value(option, value, "must be a number, inf or -inf (fro and nuc are matrix norms)")
    return value


@command(
    "tensor_bmm",
    Opt("input", Handle("tensor"), help="batch of matrices [b, n, m]", aliases=("tensor", "input1")),
    Opt("other", Handle("tensor"), help="batch of matrices [b, m, p]", aliases=("input2", "mat2")),
)
def tensor_bmm(input, other):
    """Batched matrix product of two 3-d tensors: [b, n, m] x [b, m, p] -> [b, n, p].

    No broadcasting (use `torch::tensor_matmul` for that).

    Examples:
        set a [torch::ones {2 2 3}]
        set b [torch::ones {2 3 4}]
        puts [torch::tensor_shape [torch::tensor_bmm $a $b]]   ;# -> 2 2 4
        puts [torch::tensor_item [torch::tensor_sum [torch::tensorBmm -input $a -other $b]]]   ;# -> 48.0
    """
    for name, t in (("-input", input), ("-other", other)):
        if t.dim() != 3:
            raise invalid_value(name, f"{t.dim()}-d tensor", "must be a 3-d tensor (a batch of matrices)")
    return torch.bmm(input, other)


def _dims_spec(text: str, option: str, ctx: Any) -> Any:
    words = ctx.split(text, option)
    ints = [parse_tcl_int(w) for w in words]
    if len(words) == 1 and ints[0] is not None:
        if ints[0] < 0:
            raise invalid_value(option, text, _DIMS_REQUIREMENT)
        return ints[0]
    if words and all(i is not None for i in ints):
        return (list(ints), list(ints))  # the other implementation's form: the same dims on both sides
    if len(words) == 2:
        pair = [[parse_tcl_int(x) for x in ctx.split(w, option)] for w in words]
        if all(d is not None for dims in pair for d in dims) and len(pair[0]) == len(pair[1]):
            return (pair[0], pair[1])
    raise invalid_value(option, text, _DIMS_REQUIREMENT)


_DIMS_REQUIREMENT = "must be an integer >= 0, a list of dims, or two lists of dims"


DimsSpec = Custom(_dims_spec, "integer or {dimsA dimsB}", _DIMS_REQUIREMENT)


@command(
    "tensordot",
    Opt("a", Handle("tensor"), help="left tensor", aliases=("input",)),
    Opt("b", Handle("tensor"), help="right tensor", aliases=("other",)),
    Opt(
        "dims",
        DimsSpec,
        default=2,
        help="N: the last N dims of a with the first N of b; a list: those dims of both; {{dimsA} {dimsB}}: pairs",
    ),
    Opt("dimsA", IntList(), default=None, positional=False, help="dims of a to contract (with -dimsB)"),
    Opt("dimsB", IntList(), default=None, positional=False, help="dims of b to contract, paired with -dimsA"),
    alias="tensorDot",
)
def tensordot(a, b, dims, dims_a, dims_b):
    """Sums products over chosen dimensions of two tensors, as `torch.tensordot`.

    `-dims N` contracts the last N dimensions of `a` with the first N of `b` (a single
    integer is always N). A list of two or more dimensions such as `{0 2}` (the other
    implementation's form) contracts those dimensions of both tensors. Two lists,
    `{{1 2} {0 1}}`, contract the listed pairs; since Tcl reads `{{1} {0}}` as the flat list
    `1 0`, give single pairs (or any pairs) as `-dimsA 1 -dimsB 0`.

    Examples:
        set a [torch::ones {2 3}]
        set b [torch::ones {3 4}]
        puts [torch::tensor_shape [torch::tensordot $a $b 1]]   ;# -> 2 4
        puts [torch::tensor_shape [torch::tensordot -a $b -b $a -dimsA 0 -dimsB 1]]   ;# -> 4 2
        puts [torch::tensor_to_list [torch::tensorDot -a $a -b $a -dims {{0 1} {0 1}}]]   ;# -> 6.0
    """
    if (dims_a is None) != (dims_b is None):
        missing = "-dimsB" if dims_b is None else "-dimsA"
        raise TclError(f'missing required option "{missing}"', ["TORCH", "ARGS", "REQUIRED", missing])
    if dims_a is not None:
        if len(dims_a) != len(dims_b):
            raise invalid_value("-dimsB", " ".join(map(str, dims_b)), "must have as many entries as -dimsA")
        dims = (list(dims_a), list(dims_b))
    if isinstance(dims, tuple):
        check_dims(a, tuple(dims[0]), "-dims" if dims_a is None else "-dimsA")
        check_dims(b, tuple(dims[1]), "-dims" if dims_b is None else "-dimsB")
    elif dims > min(a.dim(), b.dim()):
        raise invalid_value("-dims", str(dims), f"must be at most {min(a.dim(), b.dim())} for these tensors")
    return torch.tensordot(a, b, dims)


@command(
    "einsum",
    Opt("equation", Str(), help="subscripts, such as ij,jk->ik"),
    _tensors_opt("operand handles: several words, or one list"),
    extra_aliases=("Einsum",),
)
def einsum(equation, tensors):
    """Einstein summation over operands described by subscripts, as `torch.einsum`.

    Examples:
        set a [torch::tensor_create {{1 2} {3 4}}]
        puts [torch::tensor_to_list [torch::einsum ii $a]]   ;# -> 5.0
        puts [torch::tensor_to_list [torch::einsum ij->ji $a]]   ;# -> {1.0 3.0} {2.0 4.0}
        puts [torch::tensor_to_list [torch::Einsum -equation ij,jk->ik -tensors [list $a $a]]]   ;# -> {7.0 10.0} {15.0 22.0}
    """
    ts = _tensors(tensors)
    try:
        return torch.einsum(equation, *ts)
    except (RuntimeError, ValueError) as exc:
        message = str(exc).strip().split("\n")[0]
        raise invalid_value("-equation", equation, shorten(message, 200)) from None


@command("kron", _input(), _other())
def kron(input, other):
    """The Kronecker product of two tensors.

    Examples:
        set a [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        set i [torch::eye 2 -dtype int64]
        puts [torch::tensor_to_list [torch::kron $i $a]]   ;# -> {1 2 0 0} {3 4 0 0} {0 0 1 2} {0 0 3 4}
        puts [torch::tensor_shape [torch::kron -input $a -other [torch::ones {1 3} -dtype int64]]]   ;# -> 2 6
    """
    return torch.kron(input, other)


@command(
    "cross",
    _input(),
    _other(),
    Opt("dim", Int(), default=-1, help="dimension of size 3 holding the vectors", aliases=("dimension",)),
)
def cross(input, other, dim):
    """The cross product of 3-vectors along a dimension (broadcasting the rest), as
    `torch.linalg.cross`.

    The default dimension is the last (`torch.linalg.cross`'s), which must have size 3.

    Examples:
        set x [torch::tensor_create {1 0 0}]
        set y [torch::tensor_create {0 1 0}]
        puts [torch::tensor_to_list [torch::cross $x $y]]   ;# -> 0.0 0.0 1.0
        puts [torch::tensor_to_list [torch::cross -input $y -other $x -dim 0]]   ;# -> 0.0 0.0 -1.0
    """
    d = check_dim(input, dim)
    if input.dim() == 0 or input.shape[d] != 3:
        raise invalid_value("-dim", str(dim), "must name a dimension of size 3")
    return torch.linalg.cross(input, other, dim=dim)


@command("dot", _input("1-d tensor"), _other("1-d tensor of the same size and dtype"))
def dot(input, other):
    """The dot product of two 1-d tensors (a 0-d tensor).

    Examples:
        set a [torch::tensor_create {1 2 3}]
        set b [torch::tensor_create {4 5 6}]
        puts [torch::tensor_item [torch::dot $a $b]]   ;# -> 32.0
        puts [torch::tensor_item [torch::dot -input $a -other $a]]   ;# -> 14.0
    """
    for name, t in (("-input", input), ("-other", other)):
        if t.dim() != 1:
            raise invalid_value(name, f"{t.dim()}-d tensor", "must be a 1-d tensor")
    return torch.dot(input, other)


@command("outer", _input("1-d tensor"), _other("1-d tensor"), extra_aliases=("Outer",))
def outer(input, other):
    """The outer product of two 1-d tensors: out[i][j] = input[i] * other[j].

    Examples:
        set a [torch::tensor_create {1 2} -dtype int64]
        set b [torch::tensor_create {1 10 100} -dtype int64]
        puts [torch::tensor_to_list [torch::outer $a $b]]   ;# -> {1 10 100} {2 20 200}
        puts [torch::tensor_shape [torch::Outer -input $b -other $a]]   ;# -> 3 2
    """
    for name, t in (("-input", input), ("-other", other)):
        if t.dim() != 1:
            raise invalid_value(name, f"{t.dim()}-d tensor", "must be a 1-d tensor")
    return torch.outer(input, other)


def _matrix(t: torch.Tensor, option: str = "-input", square: bool = False, batch: bool = True) -> None:
    if t.dim() < 2 or (not batch and t.dim() != 2):
        want = "a matrix" if not batch else "a matrix or a batch of matrices"
        raise invalid_value(option, f"{t.dim()}-d tensor", f"must be {want}")
    if square and t.shape[-1] != t.shape[-2]:
        raise invalid_value(option, "{" + " ".join(map(str, t.shape)) + "}", "must be square")


@command("trace", _input("matrix"), extra_aliases=("Trace",))
def trace(input):
    """The sum of the main diagonal of a matrix (a 0-d tensor).

    ## Errors

    | -input is not a matrix | `invalid -input "1-d tensor": must be a matrix` | `TORCH VALUE -input` |

    Examples:
        set m [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        puts [torch::tensor_item [torch::trace $m]]   ;# -> 5
        puts [torch::tensor_item [torch::Trace -input [torch::eye 3]]]   ;# -> 3.0
    """
    _matrix(input, batch=False)
    return torch.trace(input)


@command(
    "diag",
    _input("1-d tensor (makes a matrix) or matrix (reads a diagonal)"),
    Opt("diagonal", Int(), default=0, help="which diagonal: 0 main, > 0 above, < 0 below"),
)
def diag(input, diagonal):
    """A diagonal matrix from a 1-d tensor, or a diagonal of a matrix as a 1-d tensor.

    Examples:
        puts [torch::tensor_to_list [torch::diag [torch::tensor_create {1 2} -dtype int64]]]   ;# -> {1 0} {0 2}
        set m [torch::tensor_create {{1 2} {3 4}} -dtype int64]
        puts [torch::tensor_to_list [torch::diag -input $m -diagonal 1]]   ;# -> 2
    """
    if input.dim() not in (1, 2):
        raise invalid_value("-input", f"{input.dim()}-d tensor", "must be a 1-d tensor or a matrix")
    return torch.diag(input, diagonal)


@command(
    "diagflat",
    _input("tensor whose elements (flattened) fill the diagonal"),
    Opt(
        "offset", Int(), default=0, help="which diagonal: 0 main, > 0 above, < 0 below", aliases=("diagonal",)
    ),
    extra_aliases=("diagFlat",),
)
def diagflat(input, offset):
    """A square matrix with a tensor's elements (flattened) on a diagonal.

    Examples:
        set t [torch::tensor_create {{1 2}} -dtype int64]
        puts [torch::tensor_to_list [torch::diagflat $t]]   ;# -> {1 0} {0 2}
        puts [torch::tensor_to_list [torch::diagFlat -input $t -offset 1]]   ;# -> {0 1 0} {0 0 2} {0 0 0}
    """
    return torch.diagflat(input, offset)


def _triangle(name: str, fn: Any, part: str, shift: int, out0: str, out1: str) -> None:
    def run(input, diagonal):
        _matrix(input)
        return fn(input, diagonal)

    run.__name__ = name
    run.__doc__ = f"""The {part} triangle of a matrix (or of each matrix in a batch); the other
    entries are zero.

    `-diagonal 0` keeps the main diagonal; `k > 0` moves the boundary k diagonals up, `k < 0`
    down, as `torch.{name}`.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |

    Examples:
        set m [torch::tensor_create {{{{1 2 3}} {{4 5 6}} {{7 8 9}}}} -dtype int64]
        puts [torch::tensor_to_list [torch::{name} $m]]   ;# -> {out0}
        puts [torch::tensor_to_list [torch::{name} -input $m -diagonal {shift}]]   ;# -> {out1}
    """
    command(
        name,
        _input("matrix or batch of matrices"),
        Opt("diagonal", Int(), default=0, help="0: main diagonal; > 0 above it; < 0 below it"),
    )(run)


_triangle("tril", torch.tril, "lower", 1, "{1 0 0} {4 5 0} {7 8 9}", "{1 2 0} {4 5 6} {7 8 9}")


_triangle("triu", torch.triu, "upper", -1, "{1 2 3} {0 5 6} {0 0 9}", "{1 2 3} {4 5 6} {0 8 9}")


@command(
    "matrix_power",
    _input("square matrix or batch of them"),
    Opt("n", Int(), default=2, help="exponent; 0 gives the identity, negative ones use the inverse"),
)
def matrix_power(input, n):
    """A square matrix raised to an integer power (negative powers invert it).

    ## Errors

    | -input is not a matrix or a batch of matrices (or not square) | `invalid -input "1-d tensor": must be a matrix or a batch of matrices`, `invalid -input "{2 3}": must be square` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set m [torch::tensor_create {{1 1} {0 1}} -dtype int64]
        puts [torch::tensor_to_list [torch::matrix_power $m 3]]   ;# -> {1 3} {0 1}
        set d [torch::tensor_create {{2 0} {0 4}}]
        puts [torch::tensor_to_list [torch::matrixPower -input $d -n -1]]   ;# -> {0.5 0.0} {0.0 0.25}
    """
    _matrix(input, square=True)
    with _linalg():
        return torch.linalg.matrix_power(input, n)


@command("tensor_matrix_exp", _input("square matrix or batch of them"))
def tensor_matrix_exp(input):
    """The matrix exponential exp(A) = I + A + A²/2! + ... of a square matrix.

    ## Errors

    | -input is not a matrix or a batch of matrices (or not square) | `invalid -input "1-d tensor": must be a matrix or a batch of matrices`, `invalid -input "{2 3}": must be square` | `TORCH VALUE -input` |

    Examples:
        set z [torch::zeros {2 2}]
        puts [torch::tensor_to_list [torch::tensor_matrix_exp $z]]   ;# -> {1.0 0.0} {0.0 1.0}
        set n [torch::tensor_create {{0 1} {0 0}}]
        puts [torch::tensor_to_list [torch::tensorMatrixExp -input $n]]   ;# -> {1.0 1.0} {0.0 1.0}
    """
    _matrix(input, square=True)
    return torch.linalg.matrix_exp(input)


@command(
    "tensor_pinv",
    _input("matrix or batch of matrices"),
    Opt(
        "rtol",
        Double(ge=0),
        default=None,
        help="singular values below rtol × the largest count as zero",
        aliases=("rcond",),
    ),
    Opt("hermitian", Bool(), default=False, help="the input is symmetric (Hermitian): use a faster method"),
)
def tensor_pinv(input, rtol, hermitian):
    """The Moore-Penrose pseudo-inverse of a matrix, as `torch.linalg.pinv`.

    Without `-rtol` torch's default cut-off is used (machine epsilon × the larger size).

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set d [torch::tensor_create {{2 0} {0 0}}]
        puts [torch::tensor_to_list [torch::tensor_pinv $d]]   ;# -> {0.5 0.0} {0.0 0.0}
        puts [torch::tensor_shape [torch::tensorPinv -input [torch::ones {2 3}] -rtol 1e-6]]   ;# -> 3 2
    """
    _matrix(input)
    with _linalg():
        if rtol is None:
            return torch.linalg.pinv(input, hermitian=hermitian)
        return torch.linalg.pinv(input, rtol=rtol, hermitian=hermitian)


@command(
    "tensor_svd",
    _input("matrix or batch of matrices"),
    Opt(
        "fullMatrices",
        Bool(),
        default=False,
        help="full-size U and V (default: the reduced ones)",
        aliases=("full_matrices",),
    ),
)
def tensor_svd(input, full_matrices):
    """The singular value decomposition A = U diag(S) Vᵀ: a Tcl list `U S V`.

    S holds the singular values in descending order. V (not Vᵀ) is returned, as the other
    implementation and `torch.svd` do; `torch.linalg.svd`'s Vh is its transpose.

    ## Return Value

    A Tcl list of three tensor handles: U, S and V.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{3 0} {0 -2}}]
        lassign [torch::tensor_svd $a] u s v
        puts [torch::tensor_to_list $s]   ;# -> 3.0 2.0
        lassign [torch::tensorSvd -input [torch::ones {4 2}] -fullMatrices 1] u s v
        puts [list [torch::tensor_shape $u] [torch::tensor_shape $s] [torch::tensor_shape $v]]   ;# -> {4 4} 2 {2 2}
    """
    _matrix(input)
    with _linalg():
        u, s, vh = torch.linalg.svd(input, full_matrices=full_matrices)
    return [u, s, vh.mH]


@command(
    "tensor_eigen",
    _input("square matrix or batch of them"),
    Opt(
        "symmetric",
        Bool(),
        default=True,
        help="1: a symmetric (Hermitian) matrix, real results (eigh); 0: any matrix, complex results (eig)",
        aliases=("hermitian",),
    ),
    Opt(
        "uplo",
        Choice("L", "U"),
        default="L",
        help="with -symmetric 1: the triangle that is read",
        aliases=("UPLO",),
    ),
)
def tensor_eigen(input, symmetric, uplo):
    """Eigenvalues and eigenvectors: a Tcl list `eigenvalues eigenvectors` (the vectors are the
    columns).

    By default the matrix is taken as symmetric (`torch.linalg.eigh`, the other
    implementation's method): the eigenvalues are real and ascending, and only the `-uplo`
    triangle is read. With `-symmetric 0` any square matrix is decomposed
    (`torch.linalg.eig`) and both results are complex tensors.

    ## Return Value

    A Tcl list of two tensor handles: the eigenvalues and the eigenvectors.

    ## Errors

    | -input is not a matrix or a batch of matrices (or not square) | `invalid -input "1-d tensor": must be a matrix or a batch of matrices`, `invalid -input "{2 3}": must be square` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{2 0} {0 1}}]
        lassign [torch::tensor_eigen $a] values vectors
        puts [torch::tensor_to_list $values]   ;# -> 1.0 2.0
        lassign [torch::tensorEigen -input $a -symmetric 0] values vectors
        puts [torch::tensor_dtype $values]   ;# -> complex64
    """
    _matrix(input, square=True)
    with _linalg():
        if symmetric:
            values, vectors = torch.linalg.eigh(input, UPLO=uplo)
        else:
            values, vectors = torch.linalg.eig(input)
    return [values, vectors]


@command(
    "tensor_qr",
    _input("matrix or batch of matrices"),
    Opt(
        "mode",
        Choice("reduced", "complete"),
        default="reduced",
        help="reduced: Q is m×k, R k×n (k = min(m, n)); complete: Q is m×m",
    ),
)
def tensor_qr(input, mode):
    """The QR decomposition A = Q R (Q orthonormal columns, R upper triangular): a Tcl list `Q R`.

    ## Return Value

    A Tcl list of two tensor handles: Q and R.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{2 0} {0 3}}]
        lassign [torch::tensor_qr $a] q r
        puts [torch::tensor_to_list [torch::tensor_abs $r]]   ;# -> {2.0 0.0} {0.0 3.0}
        lassign [torch::tensorQr -tensor [torch::ones {3 2}] -mode complete] q r
        puts [list [torch::tensor_shape $q] [torch::tensor_shape $r]]   ;# -> {3 3} {3 2}
    """
    _matrix(input)
    with _linalg():
        q, r = torch.linalg.qr(input, mode=mode)
    return [q, r]


@command(
    "tensor_cholesky",
    _input("symmetric positive-definite matrix or batch of them"),
    Opt("upper", Bool(), default=False, help="return U with A = Uᵀ U instead of L with A = L Lᵀ"),
)
def tensor_cholesky(input, upper):
    """The Cholesky factor of a symmetric positive-definite matrix: L with A = L Lᵀ (or U).

    A matrix that is not positive-definite is an error (`TORCH LINALG`).

    ## Errors

    | -input is not a matrix or a batch of matrices (or not square) | `invalid -input "1-d tensor": must be a matrix or a batch of matrices`, `invalid -input "{2 3}": must be square` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{4 2} {2 2}}]
        puts [torch::tensor_to_list [torch::tensor_cholesky $a]]   ;# -> {2.0 0.0} {1.0 1.0}
        puts [torch::tensor_to_list [torch::tensorCholesky -input $a -upper 1]]   ;# -> {2.0 1.0} {0.0 1.0}
    """
    _matrix(input, square=True)
    with _linalg():
        return torch.linalg.cholesky(input, upper=upper)


@command("lu_factor", _input("square matrix or batch of them"), alias="luFactor")
def lu_factor(input):
    """The LU factorization with partial pivoting, compact form: a Tcl list `LU pivots`
    for `torch::lu_solve`.

    LU holds L (below the diagonal, unit diagonal implied) and U; pivots (int32) are 1-based
    row swaps, as LAPACK's getrf and `torch.linalg.lu_factor`.

    ## Return Value

    A Tcl list of two tensor handles: LU and pivots.

    ## Errors

    | -input is not a matrix or a batch of matrices (or not square) | `invalid -input "1-d tensor": must be a matrix or a batch of matrices`, `invalid -input "{2 3}": must be square` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{0 1} {2 0}}]
        lassign [torch::lu_factor $a] lu piv
        puts [torch::tensor_to_list $piv]   ;# -> 2 2
        puts [torch::tensor_to_list [lindex [torch::luFactor -input $a] 0]]   ;# -> {2.0 0.0} {0.0 1.0}
    """
    _matrix(input, square=True)
    with _linalg():
        lu, pivots = torch.linalg.lu_factor(input)
    return [lu, pivots]


def _B(help: str = "right-hand side(s): matrix [n, k] (or batch)") -> Opt:
    return Opt("B", Handle("tensor"), help=help, aliases=("b",))


def _rhs(B: torch.Tensor) -> None:
    if B.dim() < 2:
        raise invalid_value(
            "-B", f"{B.dim()}-d tensor", "must be a matrix (use shape {n 1} for one right-hand side)"
        )


@command(
    "lstsq",
    _B(),
    Opt("A", Handle("tensor"), help="matrix [m, n] (or batch)", aliases=("a",)),
    Opt("rcond", Double(ge=0), default=None, help="singular values below rcond × the largest count as zero"),
    extra_aliases=("leastSquares",),
)
def lstsq(b, a, rcond):
    """The least-squares solution X of A X = B (minimizing ‖A X − B‖), as
    `torch.linalg.lstsq(A, B).solution`.

    Note the order: B first, as the other implementation. Only the solution is returned.

    ## Errors

    | -A is not a matrix or a batch of matrices | `invalid -A "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -A` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{1 0} {0 1} {0 0}}]
        set b [torch::tensor_create {1 2 3} -shape {3 1}]
        puts [torch::tensor_to_list [torch::lstsq $b $a]]   ;# -> 1.0 2.0
        puts [torch::tensor_shape [torch::leastSquares -B $b -A $a]]   ;# -> 2 1
    """
    _matrix(a, "-A")
    _rhs(b)
    with _linalg():
        return torch.linalg.lstsq(a, b, rcond=rcond).solution


@command(
    "solve_triangular",
    _B(),
    Opt("A", Handle("tensor"), help="triangular square matrix (or batch)", aliases=("a",)),
    Opt("upper", Bool(), default=True, help="A is upper (1) or lower (0) triangular"),
    Opt("left", Bool(), default=True, help="solve A X = B (1) or X A = B (0)"),
    Opt("unitriangular", Bool(), default=False, help="take A's diagonal as all ones"),
)
def solve_triangular(b, a, upper, left, unitriangular):
    """The solution X of a triangular system A X = B (or X A = B), as
    `torch.linalg.solve_triangular`.

    Only the `-upper` triangle of A is read.

    ## Errors

    | -A is not a matrix or a batch of matrices (or not square) | `invalid -A "1-d tensor": must be a matrix or a batch of matrices`, `invalid -A "{2 3}": must be square` | `TORCH VALUE -A` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{2 1} {0 4}}]
        set b [torch::tensor_create {4 8} -shape {2 1}]
        puts [torch::tensor_to_list [torch::solve_triangular $b $a]]   ;# -> 1.0 2.0
        puts [torch::tensor_to_list [torch::solveTriangular -B $b -A [torch::tensor_transpose $a] -upper 0]]   ;# -> 2.0 1.5
    """
    _matrix(a, "-A", square=True)
    _rhs(b)
    with _linalg():
        return torch.linalg.solve_triangular(a, b, upper=upper, left=left, unitriangular=unitriangular)


@command(
    "cholesky_solve",
    _B(),
    Opt("L", Handle("tensor"), help="Cholesky factor from torch::tensor_cholesky", aliases=("l",)),
    Opt("upper", Bool(), default=False, help="-L is the upper factor U (A = Uᵀ U)"),
)
def cholesky_solve(b, l, upper):
    """The solution X of A X = B given A's Cholesky factor (from `torch::tensor_cholesky`).

    ## Errors

    | -L is not a matrix or a batch of matrices (or not square) | `invalid -L "1-d tensor": must be a matrix or a batch of matrices`, `invalid -L "{2 3}": must be square` | `TORCH VALUE -L` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{4 2} {2 2}}]
        set l [torch::tensor_cholesky $a]
        set b [torch::tensor_create {6 4} -shape {2 1}]
        puts [torch::tensor_to_list [torch::cholesky_solve $b $l]]   ;# -> 1.0 1.0
        puts [torch::tensor_to_list [torch::choleskySolve -B $b -L [torch::tensor_transpose $l] -upper 1]]   ;# -> 1.0 1.0
    """
    _matrix(l, "-L", square=True)
    _rhs(b)
    with _linalg():
        return torch.cholesky_solve(b, l, upper=upper)


@command(
    "lu_solve",
    _B(),
    Opt("luData", Handle("tensor"), help="LU from torch::lu_factor", aliases=("LU_data", "lu")),
    Opt("luPivots", Handle("tensor"), help="pivots from torch::lu_factor", aliases=("LU_pivots", "pivots")),
)
def lu_solve(b, lu_data, lu_pivots):
    """The solution X of A X = B given A's LU factorization (from `torch::lu_factor`).

    ## Errors

    | -luData is not a matrix or a batch of matrices (or not square) | `invalid -luData "1-d tensor": must be a matrix or a batch of matrices`, `invalid -luData "{2 3}": must be square` | `TORCH VALUE -luData` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set a [torch::tensor_create {{0 1} {2 0}}]
        lassign [torch::lu_factor $a] lu piv
        set b [torch::tensor_create {3 4} -shape {2 1}]
        puts [torch::tensor_to_list [torch::lu_solve $b $lu $piv]]   ;# -> 2.0 3.0
        puts [torch::tensor_shape [torch::luSolve -B $b -luData $lu -luPivots $piv]]   ;# -> 2 1
    """
    _matrix(lu_data, "-luData", square=True)
    _rhs(b)
    if lu_pivots.dtype not in (torch.int32, torch.int64):
        raise invalid_value(
            "-luPivots", str(lu_pivots.dtype).replace("torch.", ""), "must be the int32 pivots of lu_factor"
        )
    with _linalg():
        return torch.linalg.lu_solve(lu_data, lu_pivots.to(torch.int32), b)


@command(
    "vector_norm",
    _input(),
    Opt("ord", Ord, default=2, help="order: a number, inf or -inf (0 counts non-zeros)"),
    Opt("dim", IntList(), default=None, help="dimensions to reduce (default: all)", aliases=("dims",)),
    _keepdim(),
)
def vector_norm(input, ord, dim, keepdim):
    """The vector p-norm (sum |x|^p)^(1/p) over all or some dimensions, as
    `torch.linalg.vector_norm`.

    A negative order is given in the named form (`-ord -inf`): as a positional word it would
    read as an option.

    Examples:
        set t [torch::tensor_create {3 -4}]
        puts [torch::tensor_item [torch::vector_norm $t]]   ;# -> 5.0
        puts [torch::tensor_item [torch::vector_norm $t 1]]   ;# -> 7.0
        puts [torch::tensor_to_list [torch::vectorNorm -input [torch::ones {2 2}] -ord inf -dim 1]]   ;# -> 1.0 1.0
    """
    ord = _vector_ord(ord, "-ord")
    dims = tuple(check_dims(input, dim, "-dim")) if dim else None
    return torch.linalg.vector_norm(input, ord, dims, keepdim)


@command(
    "matrix_norm",
    _input("matrix or batch of matrices"),
    Opt("ord", Ord, default="fro", help="fro, nuc, inf, -inf, 1, -1, 2 or -2"),
    Opt(
        "dim", IntList(), default=(-2, -1), help="the two dimensions holding the matrices", aliases=("dims",)
    ),
    _keepdim(),
)
def matrix_norm(input, ord, dim, keepdim):
    """A matrix norm (Frobenius by default), as `torch.linalg.matrix_norm`.

    `-ord 2` is the largest singular value, `nuc` their sum, `inf` the largest row sum of
    absolute values, `1` the largest column sum.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set m [torch::tensor_create {{1 -2} {3 4}}]
        puts [torch::tensor_item [torch::matrix_norm [torch::tensor_create {{3 0} {0 4}}]]]   ;# -> 5.0
        puts [torch::tensor_item [torch::matrix_norm $m inf]]   ;# -> 7.0
        puts [torch::tensor_item [torch::matrixNorm -input $m -ord 1]]   ;# -> 6.0
    """
    _matrix(input)
    if len(dim) != 2:
        raise invalid_value("-dim", " ".join(map(str, dim)), "must be two dimensions")
    check_dims(input, dim, "-dim")
    if ord not in ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2):
        raise invalid_value("-ord", str(ord), "must be fro, nuc, inf, -inf, 1, -1, 2 or -2")
    with _linalg():
        return torch.linalg.matrix_norm(input, ord, tuple(dim), keepdim)


@command(
    "tensor_norm",
    _input(),
    Opt("p", Ord, default=2, help="order: a number, inf, -inf, or fro / nuc (matrix norms)"),
    Opt("dim", IntList(), default=None, help="dimension(s) to reduce (default: all)", aliases=("dims",)),
    _keepdim(),
)
def tensor_norm(input, p, dim, keepdim):
    """The p-norm of a tensor, over all elements or some dimensions, as `torch.norm`.

    A number (or inf) gives a vector norm over the elements; `fro` is the Frobenius norm and
    `nuc` the nuclear norm (sum of singular values, which needs two dimensions).

    Examples:
        set t [torch::tensor_create {{3 0} {0 4}}]
        puts [torch::tensor_item [torch::tensor_norm $t]]   ;# -> 5.0
        puts [torch::tensor_to_list [torch::tensor_norm $t 1 1]]   ;# -> 3.0 4.0
        puts [torch::tensor_item [torch::tensorNorm -tensor $t -p nuc]]   ;# -> 7.0
    """
    dims = check_dims(input, dim, "-dim") if dim else None
    if p == "nuc" and (dims is None and input.dim() != 2 or dims is not None and len(dims) != 2):
        raise invalid_value("-p", "nuc", "needs a matrix or two dimensions in -dim")
    with _linalg():
        if dims is None:
            if isinstance(p, str):
                return torch.norm(input, p, keepdim=keepdim) if keepdim else torch.norm(input, p)
            return torch.linalg.vector_norm(input, p, keepdim=keepdim)
        return torch.norm(input, p, dims, keepdim)


@command(
    "tensor_normalize",
    _input(),
    Opt("p", Double(finite=False), default=2.0, help="order of the norm (inf: the largest absolute value)"),
    Opt(
        "dim",
        Int(),
        default=None,
        help="dimension whose vectors get unit norm (default: the whole tensor)",
        aliases=("dimension",),
    ),
    Opt("eps", Double(gt=0), default=1e-12, help="smallest norm divided by (avoids dividing by zero)"),
)
def tensor_normalize(input, p, dim, eps):
    """A tensor divided by its p-norm: the whole tensor, or each vector along `-dim` (as
    `torch.nn.functional.normalize`), so that the norm becomes 1.

    The divisor is max(norm, eps), as in torch (the other implementation adds 1e-8 to the norm
    instead).

    Examples:
        set t [torch::tensor_create {3 4}]
        puts [torch::tensor_to_list [torch::tensor_normalize $t]]   ;# -> 0.6 0.8
        set m [torch::tensor_create {{3 4} {0 2}}]
        puts [torch::tensor_to_list [torch::tensorNormalize -tensor $m -dim 1]]   ;# -> {0.6 0.8} {0.0 1.0}
        puts [torch::tensor_to_list [torch::tensor_normalize $m 1 0]]   ;# -> {1.0 0.6666667} {0.0 0.33333334}
    """
    if not input.is_floating_point() and not input.is_complex():
        raise invalid_value(
            "-input", str(input.dtype).replace("torch.", ""), "must be a floating-point tensor"
        )
    if dim is None:
        norm = torch.linalg.vector_norm(input, p)
        return input / norm.clamp_min(eps)
    return torch.nn.functional.normalize(input, p, check_dim(input, dim), eps)


@command(
    "matrix_rank",
    _input("matrix or batch of matrices"),
    Opt(
        "tol",
        Double(ge=0),
        default=None,
        help="singular values at or below tol count as zero (default: torch's)",
        aliases=("tolerance", "atol"),
    ),
    Opt("hermitian", Bool(), default=False, help="the input is symmetric (Hermitian): use eigenvalues"),
)
def matrix_rank(input, tol, hermitian):
    """The numerical rank of a matrix: how many singular values exceed the tolerance (int64).

    Without `-tol`, torch's default (machine epsilon × the larger size × the largest singular
    value) is used.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set m [torch::tensor_create {{1 2} {2 4}}]
        puts [torch::tensor_item [torch::matrix_rank $m]]   ;# -> 1
        puts [torch::tensor_item [torch::matrixRank -input [torch::eye 3] -tol 0.5]]   ;# -> 3
    """
    _matrix(input)
    with _linalg():
        if tol is None:
            return torch.linalg.matrix_rank(input, hermitian=hermitian)
        return torch.linalg.matrix_rank(input, atol=tol, rtol=0.0, hermitian=hermitian)


@command(
    "cond",
    _input("matrix or batch of matrices"),
    Opt(
        "p", Ord, default=None, help="norm: 2 (default), -2, 1, -1, inf, -inf, fro or nuc", aliases=("norm",)
    ),
)
def cond(input, p):
    """The condition number ‖A‖·‖A⁻¹‖ of a matrix (by default the 2-norm one: largest over
    smallest singular value), as `torch.linalg.cond`.

    ## Errors

    | -input is not a matrix or a batch of matrices | `invalid -input "1-d tensor": must be a matrix or a batch of matrices` | `TORCH VALUE -input` |
    | the matrix is singular, not positive-definite, or the algorithm does not converge | PyTorch's message | `TORCH LINALG` |

    Examples:
        set d [torch::tensor_create {{4 0} {0 2}}]
        puts [torch::tensor_item [torch::cond $d]]   ;# -> 2.0
        puts [torch::tensor_item [torch::cond -input $d -p 1]]   ;# -> 2.0
    """
    _matrix(input)
    if p is not None and p not in ("fro", "nuc", math.inf, -math.inf, 1, -1, 2, -2):
        raise invalid_value("-p", str(p), "must be 2, -2, 1, -1, inf, -inf, fro or nuc")
    with _linalg():
        return torch.linalg.cond(input, p)


@command(
    "block_diag",
    _tensors_opt("matrices (or 1-d / 0-d tensors): several words, or one list"),
    alias="blockDiag",
)
def block_diag(tensors):
    """A block-diagonal matrix with the given matrices on its diagonal, as `torch.block_diag`.

    Examples:
        set a [torch::tensor_create {{1 2}} -dtype int64]
        set b [torch::tensor_create 3 -dtype int64]
        puts [torch::tensor_to_list [torch::block_diag $a $b]]   ;# -> {1 2 0} {0 0 3}
        puts [torch::tensor_shape [torch::blockDiag -tensors [list $a $a]]]   ;# -> 2 4
    """
    ts = _tensors(tensors)
    for t in ts:
        if t.dim() > 2:
            raise invalid_value("-tensors", f"{t.dim()}-d tensor", "must be tensors of at most 2 dimensions")
    return torch.block_diag(*ts)
