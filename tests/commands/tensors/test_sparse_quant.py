"""Sparse (COO/CSR/CSC) and quantization commands against the torch calls they wrap."""

from __future__ import annotations

import pytest
import torch
from helpers import tcl_tensor

from tcltorch.errors import TclError

pytestmark = [
    pytest.mark.shared_interp,  # one interpreter for the whole file
    pytest.mark.filterwarnings("ignore:Sparse (CSR|CSC) tensor support is in beta:UserWarning"),
    pytest.mark.filterwarnings("ignore:Sparse invariant checks are implicitly disabled:UserWarning"),
    pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor, torch.quantize_per_channel:UserWarning"),
]


def random_sparse(shape, dtype=torch.float32, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    dense = torch.randn(shape, generator=g, dtype=torch.float64)
    dense = dense * (torch.rand(shape, generator=g, dtype=torch.float64) < density)
    if not dtype.is_floating_point:
        dense = (dense * 10).round()
    return dense.to(dtype)


SHAPES = [(3, 4), (2, 3, 4), (5,)]
DTYPES = [torch.float32, torch.float64, torch.int64]


# ---------------------------------------------------------------------------
# sparse: creation


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_coo_tensor_equals_torch(tcl, shape, dtype):
    dense = random_sparse(shape, dtype)
    ref = dense.to_sparse()
    i, v = tcl.put(ref.indices()), tcl.put(ref.values())
    size = " ".join(map(str, shape))
    got = tcl_tensor(tcl, f"torch::sparse_coo_tensor {i} {v} {{{size}}}")
    assert got.layout == torch.sparse_coo and got.shape == ref.shape and got.dtype == dtype
    assert torch.equal(got.to_dense(), dense)
    inferred = tcl_tensor(tcl, f"torch::sparseCooTensor -indices {i} -values {v}")
    want = torch.sparse_coo_tensor(ref.indices(), ref.values())
    assert inferred.shape == want.shape and torch.equal(inferred.to_dense(), want.to_dense())
    as_f64 = tcl_tensor(tcl, f"torch::sparse_coo_tensor {i} {v} {{{size}}} float64")
    assert as_f64.dtype == torch.float64 and torch.equal(as_f64.to_dense(), dense.double())
    # sparse_tensor_create reads torch's layout and one coordinate per row alike
    assert torch.equal(tcl_tensor(tcl, f"torch::sparse_tensor_create {i} {v} {{{size}}}").to_dense(), dense)
    rows = tcl.put(ref.indices().t().contiguous().int())
    assert torch.equal(
        tcl_tensor(tcl, f"torch::sparseTensorCreate -indices {rows} -values {v} -size {{{size}}}").to_dense(),
        dense,
    )


def test_sparse_coo_hybrid_grad_and_duplicates(tcl):
    i = tcl.put(torch.tensor([[0, 2, 0]]))
    v = tcl.put(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    s = tcl_tensor(tcl, f"torch::sparse_coo_tensor {i} {v} {{3 2}} -requiresGrad 1")
    want = torch.sparse_coo_tensor(torch.tensor([[0, 2, 0]]), tcl.get(v), (3, 2))
    assert s.requires_grad and s.dense_dim() == 1 and torch.equal(s.to_dense(), want.to_dense())
    assert not s.is_coalesced()
    c = tcl_tensor(tcl, f"torch::sparse_coalesce {tcl.put(s.detach())}")
    w = want.coalesce()
    assert c.is_coalesced() and torch.equal(c.indices(), w.indices()) and torch.equal(c.values(), w.values())
    d = tcl_tensor(tcl, f"torch::sparse_to_dense {tcl.put(s)}")
    d.sum().backward()  # gradients reach the sparse leaf
    assert s.grad is not None


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32])
@pytest.mark.parametrize("shape", [(3, 4), (4, 2), (1, 5)])
def test_csr_and_csc_equal_torch(tcl, shape, dtype):
    dense = random_sparse(shape, dtype)
    csr, csc = dense.to_sparse_csr(), dense.to_sparse_csc()
    size = " ".join(map(str, shape))
    a, b, v = (tcl.put(t) for t in (csr.crow_indices(), csr.col_indices(), csr.values()))
    got = tcl_tensor(tcl, f"torch::sparse_csr_tensor {a} {b} {v} {{{size}}}")
    assert got.layout == torch.sparse_csr and torch.equal(got.to_dense(), dense)
    got = tcl_tensor(tcl, f"torch::sparseCsrTensor -crow_indices {a} -col_indices {b} -values {v}")
    assert got.shape == torch.sparse_csr_tensor(csr.crow_indices(), csr.col_indices(), csr.values()).shape
    a, b, v = (tcl.put(t) for t in (csc.ccol_indices(), csc.row_indices(), csc.values()))
    got = tcl_tensor(
        tcl, f"torch::sparse_csc_tensor -ccolIndices {a} -rowIndices {b} -values {v} -size {{{size}}}"
    )
    assert got.layout == torch.sparse_csc and torch.equal(got.to_dense(), dense)


# ---------------------------------------------------------------------------
# sparse: arithmetic and structure


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_add_equals_torch(tcl, shape, dtype):
    x, y = random_sparse(shape, dtype, seed=1), random_sparse(shape, dtype, seed=2)
    sx, sy, dx = tcl.put(x.to_sparse()), tcl.put(y.to_sparse()), tcl.put(x)
    got = tcl_tensor(tcl, f"torch::sparse_add {sx} {sy}")
    assert got.layout == torch.sparse_coo and torch.equal(
        got.to_dense(), torch.add(x.to_sparse(), y.to_sparse()).to_dense()
    )
    assert torch.equal(
        tcl_tensor(tcl, f"torch::sparseAdd -tensor1 {dx} -tensor2 {sy} -alpha 3"),
        torch.add(x, y.to_sparse(), alpha=3),
    )
    got = tcl_tensor(tcl, f"torch::sparse_add {sy} {dx} 2")  # sparse + alpha × dense
    assert got.layout == torch.strided
    torch.testing.assert_close(got, y + 2 * x)
    if len(shape) == 2:
        csr = tcl_tensor(tcl, f"torch::sparse_add {tcl.put(x.to_sparse_csr())} {tcl.put(y.to_sparse_csr())}")
        assert csr.layout == torch.sparse_csr and torch.equal(csr.to_dense(), x + y)


@pytest.mark.parametrize("layout", ["coo", "csr", "csc"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n,m,p", [(3, 4, 2), (5, 5, 1), (1, 6, 3)])
def test_sparse_mm_equals_torch(tcl, n, m, p, dtype, layout):
    a, b = random_sparse((n, m), dtype), torch.randn(m, p, dtype=dtype)
    sa = {"coo": a.to_sparse(), "csr": a.to_sparse_csr(), "csc": a.to_sparse_csc()}[layout]
    got = tcl_tensor(tcl, f"torch::sparse_mm {tcl.put(sa)} {tcl.put(b)}")
    torch.testing.assert_close(got, torch.sparse.mm(sa, b))
    if layout == "coo":
        sb = b.to_sparse()
        got = tcl_tensor(tcl, f"torch::sparseMm -sparseTensor {tcl.put(sa)} -denseTensor {tcl.put(sb)}")
        assert got.layout == torch.sparse_coo
        torch.testing.assert_close(got.to_dense(), torch.sparse.mm(sa, sb).to_dense())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_sum_equals_torch(tcl, shape, dtype):
    x = random_sparse(shape, dtype).to_sparse()
    h = tcl.put(x)
    torch.testing.assert_close(tcl_tensor(tcl, f"torch::sparse_sum {h}"), torch.sparse.sum(x))
    got = tcl_tensor(tcl, f"torch::sparseSum -input {h} -dim 0")
    want = torch.sparse.sum(x, 0)
    torch.testing.assert_close(
        got.to_dense() if got.is_sparse else got, want.to_dense() if want.is_sparse else want
    )
    if len(shape) > 1:
        got = tcl_tensor(tcl, f"torch::sparse_sum {h} {{0 -1}} -dtype float64")
        want = torch.sparse.sum(x, (0, -1), dtype=torch.float64)
        assert got.dtype == torch.float64
        torch.testing.assert_close(
            got.to_dense() if got.is_sparse else got, want.to_dense() if want.is_sparse else want
        )
        csr_sum = tcl_tensor(
            tcl,
            f"torch::sparse_sum {tcl.put(x.to_dense()[0].to_sparse_csr() if len(shape) == 3 else x.to_sparse_csr())}",
        )
        torch.testing.assert_close(csr_sum, (x.to_dense()[0] if len(shape) == 3 else x.to_dense()).sum())


@pytest.mark.parametrize("name", ["sparse_softmax", "sparse_log_softmax"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape,dim", [((3, 4), 1), ((3, 4), 0), ((2, 3, 4), -1)])
def test_sparse_softmax_equals_torch(tcl, name, shape, dim, dtype):
    sparse_fn = {"sparse_softmax": torch.sparse.softmax, "sparse_log_softmax": torch.sparse.log_softmax}[name]
    dense_fn = {"sparse_softmax": torch.softmax, "sparse_log_softmax": torch.log_softmax}[name]
    x = random_sparse(shape, dtype).to_sparse()
    got = tcl_tensor(tcl, f"torch::{name} {tcl.put(x)} {dim}")
    assert got.layout == torch.sparse_coo
    torch.testing.assert_close(got.to_dense(), sparse_fn(x, dim).to_dense())
    d = torch.randn(shape, dtype=dtype)
    torch.testing.assert_close(
        tcl_tensor(tcl, f"torch::{name} -input {tcl.put(d)} -dim {dim}"), dense_fn(d, dim)
    )
    got = tcl_tensor(tcl, f"torch::{name} {tcl.put(x)} {dim} -dtype float64")
    assert got.dtype == torch.float64
    if len(shape) == 2:
        got = tcl_tensor(tcl, f"torch::{name} {tcl.put(x.to_sparse_csr())} {dim}")
        assert got.layout == torch.sparse_csr
        torch.testing.assert_close(got.to_dense(), sparse_fn(x, dim).to_dense())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_sparse_mask_transpose_equal_torch(tcl, shape, dtype):
    x, m = torch.randn(shape).to(dtype), random_sparse(shape, seed=3).to_sparse()
    got = tcl_tensor(tcl, f"torch::sparse_mask {tcl.put(x)} {tcl.put(m)}")
    want = x.sparse_mask(m.to(dtype))
    assert got.layout == torch.sparse_coo and torch.equal(got.to_dense(), want.to_dense())
    got = tcl_tensor(tcl, f"torch::sparseMask -tensor {tcl.put(x.to_sparse())} -mask {tcl.put(m)}")
    assert torch.equal(got.to_dense(), x.to_sparse().sparse_mask(m.to(dtype)).to_dense())
    if len(shape) >= 2:
        s = random_sparse(shape, dtype).to_sparse()
        got = tcl_tensor(tcl, f"torch::sparse_transpose {tcl.put(s)} 0 -1")
        assert got.is_sparse and torch.equal(got.to_dense(), torch.transpose(s, 0, -1).to_dense())
        m2 = s.to_dense().reshape(shape[0], -1)
        got = tcl_tensor(tcl, f"torch::sparseTranspose -tensor {tcl.put(m2.to_sparse_csr())} -dim0 0 -dim1 1")
        assert got.layout == torch.sparse_csc and torch.equal(got.to_dense(), m2.t())


@pytest.mark.parametrize(
    "shape,new",
    [((3, 4), (4, 3)), ((3, 4), (-1,)), ((2, 3, 4), (6, -1)), ((2, 3, 4), (4, 3, 2)), ((12,), (2, 2, 3))],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.int64])
def test_sparse_reshape_equals_dense_reshape(tcl, shape, new, dtype):
    dense = random_sparse(shape, dtype, density=0.5)
    x = dense.to_sparse()
    # an uncoalesced input (duplicates split in two) reshapes to the same tensor
    dup = torch.sparse_coo_tensor(
        torch.cat([x.indices(), x.indices()], 1), torch.cat([x.values(), x.values()]), shape
    )
    for s in (x, dup):
        got = tcl_tensor(tcl, f"torch::sparse_reshape {tcl.put(s)} {{{' '.join(map(str, new))}}}")
        assert got.is_sparse and got.is_coalesced()
        want = s.to_dense().reshape(new)
        assert got.shape == want.shape and torch.equal(got.to_dense(), want)
    if len(shape) == 2:
        got = tcl_tensor(
            tcl,
            f"torch::sparseReshape -input {tcl.put(dense.to_sparse_csr())} -shape {{{' '.join(map(str, new))}}}",
        )
        assert torch.equal(got.to_dense(), dense.reshape(new))
        assert got.layout == (torch.sparse_csr if len(new) == 2 else torch.sparse_coo)


def test_sparse_reshape_hybrid(tcl):
    x = torch.sparse_coo_tensor(torch.tensor([[0, 1, 1], [2, 0, 1]]), torch.randn(3, 2), (2, 3, 2))
    got = tcl_tensor(tcl, f"torch::sparse_reshape {tcl.put(x)} {{3 2 2}}")
    assert got.dense_dim() == 1
    assert torch.equal(got.to_dense(), x.to_dense().reshape(3, 2, 2))
    with pytest.raises(TclError, match="must end with the values' dense dimensions"):
        tcl.eval(f"torch::sparse_reshape {tcl.put(x)} {{12}}")


# ---------------------------------------------------------------------------
# quantization


QSPECS = [
    ("quint8", torch.quint8, 0.05, 128),
    ("qint8", torch.qint8, 0.1, -3),
    ("qint32", torch.qint32, 0.001, 7),
]


@pytest.mark.parametrize("name,qdtype,scale,zp", QSPECS)
@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 4)])
def test_quantize_per_tensor_equals_torch(tcl, shape, name, qdtype, scale, zp):
    x = torch.randn(shape) * 4
    want = torch.quantize_per_tensor(x, scale, zp, qdtype)
    h = tcl.eval(f"torch::quantize_per_tensor {tcl.put(x)} {scale} {zp} {name}")
    got = tcl.get(h)
    assert got.dtype == qdtype and got.qscheme() == torch.per_tensor_affine
    assert torch.equal(tcl_tensor(tcl, f"torch::int_repr {h}"), want.int_repr())
    assert torch.equal(tcl_tensor(tcl, f"torch::dequantize {h}"), want.dequantize())
    assert float(tcl.eval(f"torch::q_scale {h}")) == want.q_scale()
    assert int(tcl.eval(f"torch::qZeroPoint {h}")) == want.q_zero_point()
    assert tcl.eval(f"torch::tensor_dtype {h}") == name
    # float64 input is quantized as float32 (torch's quantizer takes float32)
    got = tcl_tensor(
        tcl,
        f"torch::quantizePerTensor -input {tcl.put(x.double())} -scale {scale} -zero_point {zp} -dtype {name}",
    )
    assert torch.equal(got.int_repr(), want.int_repr())


@pytest.mark.parametrize(
    "name,qdtype", [("quint8", torch.quint8), ("qint8", torch.qint8), ("qint32", torch.qint32)]
)
@pytest.mark.parametrize("shape,axis", [((3, 4), 0), ((3, 4), 1), ((2, 3, 4), -1)])
def test_quantize_per_channel_equals_torch(tcl, shape, axis, name, qdtype):
    x = torch.randn(shape) * 3
    n = shape[axis]
    scales = torch.linspace(0.02, 0.2, n, dtype=torch.float64)
    lo = 0 if qdtype == torch.quint8 else -5
    zps = torch.arange(lo, lo + n, dtype=torch.int64)
    want = torch.quantize_per_channel(x, scales, zps, axis % len(shape), qdtype)
    as_lists = f"{{{' '.join(map(repr, scales.tolist()))}}} {{{' '.join(map(str, zps.tolist()))}}}"
    h = tcl.eval(f"torch::quantize_per_channel {tcl.put(x)} {as_lists} {axis} {name}")
    assert torch.equal(tcl_tensor(tcl, f"torch::int_repr {h}"), want.int_repr())
    assert torch.equal(tcl_tensor(tcl, f"torch::deQuantize {h}"), want.dequantize())
    assert torch.equal(tcl_tensor(tcl, f"torch::q_per_channel_scales {h}"), want.q_per_channel_scales())
    assert torch.equal(
        tcl_tensor(tcl, f"torch::q_per_channel_zero_points {h}"), want.q_per_channel_zero_points()
    )
    assert int(tcl.eval(f"torch::qPerChannelAxis {h}")) == want.q_per_channel_axis()
    got = tcl_tensor(
        tcl,
        f"torch::quantizePerChannel -input {tcl.put(x)} -scales {tcl.put(scales.float())} "
        f"-zeroPoints {tcl.put(zps.int())} -axis {axis} -dtype {name}",
    )
    assert torch.equal(
        got.int_repr(),
        torch.quantize_per_channel(x, scales.float().double(), zps, axis % len(shape), qdtype).int_repr(),
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("qmin,qmax,zp", [(-128, 127, 0), (0, 255, 100), (-8, 7, -2)])
def test_fake_quantize_equals_torch(tcl, dtype, qmin, qmax, zp):
    x = (torch.randn(3, 5) * 3).to(dtype).requires_grad_()
    got = tcl_tensor(tcl, f"torch::fake_quantize_per_tensor {tcl.put(x)} 0.1 {zp} {qmin} {qmax}")
    want = torch.fake_quantize_per_tensor_affine(x, 0.1, zp, qmin, qmax)
    assert got.dtype == dtype and torch.equal(got, want)
    got.sum().backward()
    g = x.grad.clone()
    x.grad = None
    want.sum().backward()
    assert torch.equal(g, x.grad)
    scales, zps = torch.tensor([0.1, 0.2, 0.05, 0.3, 0.5]), torch.full((5,), zp, dtype=torch.int32)
    got = tcl_tensor(
        tcl,
        f"torch::fakeQuantizePerChannel -input {tcl.put(x.detach())} -scales {tcl.put(scales)} "
        f"-zero_points {{{' '.join([str(zp)] * 5)}}} -axis 1 -quant_min {qmin} -quant_max {qmax}",
    )
    assert torch.equal(got, torch.fake_quantize_per_channel_affine(x.detach(), scales, zps, 1, qmin, qmax))


@pytest.mark.parametrize("name,qdtype,scale,zp", QSPECS)
@pytest.mark.parametrize("shape_a,shape_b", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((5,), (5,))])
def test_quantized_add_mul_equal_torch_ops(tcl, shape_a, shape_b, name, qdtype, scale, zp):
    a = torch.quantize_per_tensor(torch.randn(shape_a), scale, zp, qdtype)
    b = torch.quantize_per_tensor(torch.randn(shape_b), scale * 2, zp, qdtype)
    ha, hb = tcl.put(a), tcl.put(b)
    out_scale, out_zp = scale * 1.5, zp
    got = tcl_tensor(tcl, f"torch::quantized_add {ha} {hb} {out_scale} {out_zp}")
    want = torch.ops.quantized.add(a, b, out_scale, out_zp)
    assert (
        got.dtype == qdtype
        and got.q_scale() == want.q_scale()
        and torch.equal(got.int_repr(), want.int_repr())
    )
    got = tcl_tensor(
        tcl, f"torch::quantizedMul -tensor1 {ha} -tensor2 {hb} -scale {out_scale} -zeroPoint {out_zp}"
    )
    assert torch.equal(got.int_repr(), torch.ops.quantized.mul(a, b, out_scale, out_zp).int_repr())
    # -alpha: the result is the requantized a + alpha × b, to within one quantization step
    got = tcl_tensor(tcl, f"torch::quantized_add {ha} {hb} {out_scale} {out_zp} 2.5")
    exact = torch.quantize_per_tensor(a.dequantize() + 2.5 * b.dequantize(), out_scale, out_zp, qdtype)
    assert (got.int_repr().long() - exact.int_repr().long()).abs().max() <= 1


@pytest.mark.parametrize("name,qdtype,scale,zp", QSPECS)
def test_quantized_relu(tcl, name, qdtype, scale, zp):
    x = torch.randn(3, 4)
    q = torch.quantize_per_tensor(x, scale, zp, qdtype)
    got = tcl_tensor(tcl, f"torch::quantized_relu {tcl.put(q)}")
    want = torch.relu(q)
    assert got.q_scale() == want.q_scale() and torch.equal(got.int_repr(), want.int_repr())
    zps = torch.tensor([zp, zp + 1, zp + 2], dtype=torch.int64)
    pc = torch.quantize_per_channel(x, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64), zps, 0, qdtype)
    got = tcl_tensor(tcl, f"torch::quantizedRelu -input {tcl.put(pc)}")
    assert got.qscheme() == torch.per_channel_affine
    assert torch.equal(got.q_per_channel_zero_points(), zps)
    assert torch.equal(got.dequantize(), torch.relu(pc.dequantize()))  # exact: (max(q, z) - z) × s


def test_refusals(tcl):
    s = tcl.put(torch.eye(2).to_sparse())
    d = tcl.put(torch.eye(2))
    q = tcl.put(torch.quantize_per_tensor(torch.eye(2), 0.1, 0, torch.qint8))
    cases = [
        (f"torch::sparse_to_dense {q}", "TORCH VALUE -input", "dequantize it with torch::dequantize"),
        (f"torch::sparse_coo_tensor {d} {d} {{2 2}}", "TORCH VALUE -indices", "integer indices"),
        (f"torch::sparse_mm {s} [torch::ones {{3 2}}]", "TORCH VALUE -mat2", "with 2 rows"),
        (f"torch::sparse_add {s} [torch::ones {{3}}]", "TORCH VALUE -other", "must have the shape"),
        (f"torch::sparse_reshape {s} {{3}}", "TORCH VALUE -shape", "must hold 4 elements"),
        (f"torch::quantize_per_tensor {d} 0.1 200 qint8", "TORCH VALUE -zeroPoint", "[-128, 127]"),
        (f"torch::quantize_per_tensor {d} 0 0", "TORCH VALUE -scale", "> 0"),
        (f"torch::quantize_per_tensor {d} 0.1 0 float32", "TORCH VALUE -dtype", "quint8, qint8, or qint32"),
        (f"torch::dequantize {d}", "TORCH VALUE -input", "quantized tensor"),
        (f"torch::q_per_channel_axis {q}", "TORCH VALUE -input", "per-tensor quantized (see torch::q_scale)"),
        (f"torch::quantize_per_channel {d} {{0.1}} {{0 0}} 0", "TORCH VALUE -scales", "must have 2 entries"),
        (f"torch::fake_quantize_per_tensor {d} 0.1 0 5 1", "TORCH VALUE -quantMax", "must be >= -quantMin"),
        (f"torch::quantized_add {q} {d} 0.1 0", "TORCH VALUE -other", "quantized"),
    ]
    for script, code, text in cases:
        with pytest.raises(TclError) as info:
            tcl.eval(script)
        assert " ".join(info.value.errorcode) == code, script
        assert text in info.value.message, (script, info.value.message)
