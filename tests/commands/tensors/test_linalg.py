"""Linear-algebra commands through the Python host, compared with torch (with tolerances: LAPACK
and BLAS kernels round differently across machines)."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import tcl_error, tcl_tensor, tcl_tensors


def close(got: torch.Tensor, want: torch.Tensor, dtype_tol: torch.dtype | None = None) -> None:
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    tol = 1e-4 if (dtype_tol or got.dtype) in (torch.float32, torch.complex64) else 1e-9
    torch.testing.assert_close(got, want, rtol=tol, atol=tol)


DTYPES = [torch.float32, torch.float64]


def spd(n: int, dtype, batch=()) -> torch.Tensor:
    g = torch.Generator().manual_seed(n)
    a = torch.randn(*batch, n, n, generator=g, dtype=dtype)
    return a @ a.mT + n * torch.eye(n, dtype=dtype)


def rand(*shape, dtype=torch.float32, seed=0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# -- products -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 4, 5)), ((1, 1, 2), (1, 2, 1))])
def test_bmm(interp, dtype, shapes):
    a, b = rand(*shapes[0], dtype=dtype), rand(*shapes[1], dtype=dtype, seed=1)
    close(tcl_tensor(interp, f"torch::tensor_bmm {interp.put(a)} {interp.put(b)}"), torch.bmm(a, b))


@pytest.mark.parametrize("dtype", DTYPES)
def test_products(interp, dtype):
    a, b = rand(3, 4, dtype=dtype), rand(4, 5, dtype=dtype, seed=1)
    ha, hb = interp.put(a), interp.put(b)
    close(tcl_tensor(interp, f"torch::tensordot {ha} {hb} 1"), torch.tensordot(a, b, 1))
    close(tcl_tensor(interp, f"torch::tensordot {ha} {ha}"), torch.tensordot(a, a, 2))
    close(
        tcl_tensor(interp, f"torch::tensordot -a {ha} -b {hb} -dimsA 1 -dimsB 0"),
        torch.tensordot(a, b, ([1], [0])),
    )
    close(
        tcl_tensor(interp, f"torch::tensordot {ha} {ha} {{{{0 1}} {{0 1}}}}"),
        torch.tensordot(a, a, ([0, 1], [0, 1])),
    )
    t = rand(2, 3, 4, dtype=dtype, seed=4)
    close(
        tcl_tensor(interp, f"torch::tensordot {interp.put(t)} {interp.put(t)} {{0 2}}"),
        torch.tensordot(t, t, ([0, 2], [0, 2])),
    )
    close(tcl_tensor(interp, f"torch::einsum ij,jk->ik {ha} {hb}"), torch.einsum("ij,jk->ik", a, b))
    close(tcl_tensor(interp, f"torch::einsum -equation ij->j -tensors {ha}"), torch.einsum("ij->j", a))
    close(tcl_tensor(interp, f"torch::kron {ha} {hb}"), torch.kron(a, b))
    v, w = rand(4, 3, dtype=dtype, seed=2), rand(4, 3, dtype=dtype, seed=3)
    close(tcl_tensor(interp, f"torch::cross {interp.put(v)} {interp.put(w)}"), torch.linalg.cross(v, w))
    close(
        tcl_tensor(interp, f"torch::cross {interp.put(v.T)} {interp.put(w.T)} 0"),
        torch.linalg.cross(v.T, w.T, dim=0),
    )
    x, y = a[0], b[:, 0]
    close(tcl_tensor(interp, f"torch::dot {interp.put(x)} {interp.put(y)}"), torch.dot(x, y))
    close(tcl_tensor(interp, f"torch::outer {interp.put(x)} {interp.put(b[0])}"), torch.outer(x, b[0]))


# -- matrix functions -----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_diagonals_and_triangles(interp, dtype):
    m = torch.arange(12).reshape(3, 4).to(dtype)
    h = interp.put(m)
    for k in (-1, 0, 2):
        assert torch.equal(tcl_tensor(interp, f"torch::tril {h} {k}"), torch.tril(m, k))
        assert torch.equal(tcl_tensor(interp, f"torch::triu -input {h} -diagonal {k}"), torch.triu(m, k))
        assert torch.equal(tcl_tensor(interp, f"torch::diag {h} {k}"), torch.diag(m, k))
        assert torch.equal(tcl_tensor(interp, f"torch::diagflat {h} {k}"), torch.diagflat(m, k))
    assert torch.equal(tcl_tensor(interp, f"torch::diag {interp.put(m[0])}"), torch.diag(m[0]))
    assert torch.equal(tcl_tensor(interp, f"torch::trace {h}"), torch.trace(m))
    batch = torch.arange(18).reshape(2, 3, 3).to(dtype)
    assert torch.equal(tcl_tensor(interp, f"torch::tril {interp.put(batch)}"), torch.tril(batch))
    blocks = [m[:2, :2], m[0], torch.tensor(5).to(dtype)]
    got = tcl_tensor(interp, "torch::block_diag " + " ".join(interp.put(t) for t in blocks))
    assert torch.equal(got, torch.block_diag(*blocks))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 3])
def test_matrix_functions(interp, dtype, n):
    a = spd(n, dtype)
    h = interp.put(a)
    for p in (0, 1, 3, -2):
        close(tcl_tensor(interp, f"torch::matrix_power {h} {p}"), torch.linalg.matrix_power(a, p))
    small = a / a.norm()
    close(tcl_tensor(interp, f"torch::tensor_matrix_exp {interp.put(small)}"), torch.linalg.matrix_exp(small))
    r = rand(2, 3, 4, dtype=dtype)
    close(tcl_tensor(interp, f"torch::tensor_pinv {interp.put(r)}"), torch.linalg.pinv(r))
    close(tcl_tensor(interp, f"torch::tensor_pinv {interp.put(r)} 0.1"), torch.linalg.pinv(r, rtol=0.1))
    close(
        tcl_tensor(interp, f"torch::tensor_pinv -input {h} -hermitian 1"),
        torch.linalg.pinv(a, hermitian=True),
    )


# -- decompositions: checked by reconstruction and against torch's values -------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 3), (4, 2), (2, 2, 5)])
def test_svd(interp, dtype, shape):
    a = rand(*shape, dtype=dtype)
    u, s, v = tcl_tensors(interp, f"torch::tensor_svd {interp.put(a)}")
    close(s, torch.linalg.svdvals(a))
    close(u @ torch.diag_embed(s) @ v.mT, a)
    u, s, v = tcl_tensors(interp, f"torch::tensor_svd -input {interp.put(a)} -fullMatrices 1")
    assert u.shape[-1] == u.shape[-2] == shape[-2] and v.shape[-1] == v.shape[-2] == shape[-1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", [(), (2,)])
def test_eigen_qr_cholesky(interp, dtype, batch):
    a = spd(3, dtype, batch)
    h = interp.put(a)
    values, vectors = tcl_tensors(interp, f"torch::tensor_eigen {h}")
    close(values, torch.linalg.eigvalsh(a))
    close(vectors @ torch.diag_embed(values) @ vectors.mT, a)
    values, vectors = tcl_tensors(interp, f"torch::tensor_eigen -input {h} -symmetric 0")
    assert values.is_complex()
    close(torch.sort(values.real).values, torch.linalg.eigvalsh(a))
    q, r = tcl_tensors(interp, f"torch::tensor_qr {h}")
    close(q @ r, a)
    assert torch.equal(r, torch.triu(r))
    q, r = tcl_tensors(interp, f"torch::tensor_qr {interp.put(rand(4, 2, dtype=dtype))} complete")
    assert q.shape == (4, 4) and r.shape == (4, 2)
    ell = tcl_tensor(interp, f"torch::tensor_cholesky {h}")
    close(ell, torch.linalg.cholesky(a))
    close(tcl_tensor(interp, f"torch::tensor_cholesky {h} 1"), torch.linalg.cholesky(a, upper=True))


@pytest.mark.parametrize("dtype", DTYPES)
def test_solvers(interp, dtype):
    a = spd(3, dtype)
    b = rand(3, 2, dtype=dtype, seed=5)
    ha, hb = interp.put(a), interp.put(b)
    close(tcl_tensor(interp, f"torch::lstsq {hb} {ha}"), torch.linalg.lstsq(a, b).solution)
    tall = rand(5, 3, dtype=dtype, seed=6)
    rhs = rand(5, 1, dtype=dtype, seed=7)
    close(
        tcl_tensor(interp, f"torch::leastSquares -B {interp.put(rhs)} -A {interp.put(tall)}"),
        torch.linalg.lstsq(tall, rhs).solution,
    )
    up = torch.triu(a)
    close(
        tcl_tensor(interp, f"torch::solve_triangular {hb} {interp.put(up)}"),
        torch.linalg.solve_triangular(up, b, upper=True),
    )
    low = torch.tril(a)
    close(
        tcl_tensor(interp, f"torch::solve_triangular {interp.put(b.T)} {interp.put(low)} 0 0 1"),
        torch.linalg.solve_triangular(low, b.T, upper=False, left=False, unitriangular=True),
    )
    ell = torch.linalg.cholesky(a)
    close(tcl_tensor(interp, f"torch::cholesky_solve {hb} {interp.put(ell)}"), torch.cholesky_solve(b, ell))
    close(
        tcl_tensor(interp, f"torch::cholesky_solve -B {hb} -L {interp.put(ell.T)} -upper 1"),
        torch.cholesky_solve(b, ell.T, upper=True),
    )
    lu, piv = tcl_tensors(interp, f"torch::lu_factor {ha}")
    want_lu, want_piv = torch.linalg.lu_factor(a)
    close(lu, want_lu)
    assert torch.equal(piv, want_piv)
    x = tcl_tensor(interp, f"torch::lu_solve {hb} {interp.put(lu)} {interp.put(piv)}")
    close(x, torch.linalg.solve(a, b))


# -- norms --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ["2", "1", "inf", "-inf", "0", "3.5"])
def test_vector_norm(interp, dtype, ord):
    x = rand(3, 4, dtype=dtype)
    o = float(ord)
    h = interp.put(x)
    close(tcl_tensor(interp, f"torch::vector_norm {h} -ord {ord}"), torch.linalg.vector_norm(x, o))
    close(
        tcl_tensor(interp, f"torch::vector_norm {h} -ord {ord} -dim 1 -keepdim 1"),
        torch.linalg.vector_norm(x, o, 1, True),
    )
    close(tcl_tensor(interp, f"torch::tensor_norm {h} -p {ord} -dim 0"), torch.norm(x, o, 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ord", ["fro", "nuc", "inf", "-inf", "1", "-1", "2", "-2"])
def test_matrix_norm_and_cond(interp, dtype, ord):
    x = rand(2, 3, 3, dtype=dtype)
    o = ord if ord in ("fro", "nuc") else float(ord)
    h = interp.put(x)
    close(tcl_tensor(interp, f"torch::matrix_norm {h} -ord {ord}"), torch.linalg.matrix_norm(x, o))
    close(
        tcl_tensor(interp, f"torch::matrix_norm -input {h} -ord {ord} -dim {{0 2}} -keepdim 1"),
        torch.linalg.matrix_norm(x, o, (0, 2), True),
    )
    close(tcl_tensor(interp, f"torch::cond {h} -p {ord}"), torch.linalg.cond(x, o))
    if ord in ("fro", "nuc"):
        close(tcl_tensor(interp, f"torch::tensor_norm {interp.put(x[0])} {ord}"), torch.norm(x[0], o))


def test_normalize_and_rank(interp):
    x = rand(3, 4)
    h = interp.put(x)
    close(tcl_tensor(interp, f"torch::tensor_normalize {h} 2 1"), torch.nn.functional.normalize(x, 2, 1))
    close(tcl_tensor(interp, f"torch::tensor_normalize {h} 1 0"), torch.nn.functional.normalize(x, 1, 0))
    close(tcl_tensor(interp, f"torch::tensor_normalize {h}"), x / torch.linalg.vector_norm(x))
    z = interp.put(torch.zeros(2))
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_normalize {z}"), torch.zeros(2))
    low = rand(5, 2, dtype=torch.float64) @ rand(2, 4, dtype=torch.float64, seed=1)
    assert tcl_tensor(interp, f"torch::matrix_rank {interp.put(low)}").item() == 2
    assert (
        tcl_tensor(
            interp, f"torch::matrix_rank {interp.put(torch.diag(torch.tensor([1.0, 1e-3])))} 0.01"
        ).item()
        == 1
    )
    assert (
        tcl_tensor(
            interp, f"torch::matrix_rank -input {interp.put(spd(3, torch.float64))} -hermitian 1"
        ).item()
        == 3
    )


def test_gradients_flow(interp):
    a = spd(3, torch.float64).requires_grad_(True)
    h = interp.put(a)
    out = tcl_tensor(interp, f"torch::tensor_sum [lindex [torch::tensor_svd {h}] 1]")
    out.backward()
    want = torch.autograd.grad(torch.linalg.svdvals(a).sum(), a)[0]
    close(a.grad, want)


@pytest.mark.parametrize(
    "script, message, code",
    [
        (
            "torch::tensor_bmm M M",
            'invalid -input "2-d tensor": must be a 3-d tensor (a batch of matrices)',
            "VALUE",
        ),
        (
            "torch::tensor_cholesky N",
            (
                "linalg.cholesky: The factorization could not be completed because the input is "
                "not positive-definite (the leading minor of order 2 is not positive-definite)."
            ),
            "LINALG",
        ),
        ("torch::matrix_power R", 'invalid -input "{2 3}": must be square', "VALUE"),
        ("torch::cross M M", 'invalid -dim "-1": must name a dimension of size 3', "VALUE"),
        (
            "torch::vector_norm M fro",
            'invalid -ord "fro": must be a number, inf or -inf (fro and nuc are matrix norms)',
            "VALUE",
        ),
        ("torch::matrix_norm M 3", 'invalid -ord "3": must be fro, nuc, inf, -inf, 1, -1, 2 or -2', "VALUE"),
        (
            "torch::tensordot M M {{0} {0 1}}",
            'invalid -dims "{0} {0 1}": must be an integer >= 0, a list of dims, or two lists of dims',
            "VALUE",
        ),
        (
            "torch::einsum ij,jk M",
            (
                'invalid -equation "ij,jk": einsum(): fewer operands were provided than specified '
                "in the equation"
            ),
            "VALUE",
        ),
        (
            "torch::lstsq V M",
            'invalid -B "1-d tensor": must be a matrix (use shape {n 1} for one right-hand side)',
            "VALUE",
        ),
    ],
)
def test_errors(interp, script, message, code):
    names = {
        "M": torch.zeros(2, 2),
        "N": torch.tensor([[1.0, 2.0], [2.0, 1.0]]),
        "R": torch.zeros(2, 3),
        "V": torch.zeros(2),
    }
    for key, t in names.items():
        script = script.replace(f" {key}", f" {interp.put(t)}")
    got, errorcode = tcl_error(interp, script)
    if code == "LINALG":
        assert errorcode == ["TORCH", "LINALG"] and "not positive-definite" in got
    else:
        assert got == message and errorcode[:2] == ["TORCH", code]


def test_inf_and_nan_orders(interp):
    x = interp.put(torch.tensor([1.0, -3.0]))
    assert tcl_tensor(interp, f"torch::vector_norm {x} inf").item() == 3.0
    assert (
        tcl_tensor(interp, f"torch::vector_norm {x} -ord -Inf").item() == 1.0
    )  # positionally, -inf reads as an option
    assert math.isclose(tcl_tensor(interp, f"torch::tensor_norm {x}").item(), math.sqrt(10), rel_tol=1e-6)
    assert tcl_error(interp, f"torch::vector_norm {x} nan")[1] == ["TORCH", "VALUE", "-ord"]
