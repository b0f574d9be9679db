"""Reductions and statistics (tcltorch/commands/reductions.py) against the torch calls they wrap,
on several shapes and dtypes."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_close, tcl_tensor, tcl_tensors

FLOATS = {
    "f32-3x4": lambda: torch.tensor([[3.0, 1.0, 4.0, 1.5], [5.0, 9.0, 2.0, 6.0], [5.0, 3.0, 5.0, 8.0]]),
    "f64-2x3x2": lambda: torch.linspace(-1, 2, 12, dtype=torch.float64).reshape(2, 3, 2).sin(),
    "f32-5": lambda: torch.tensor([2.0, -1.0, 7.0, 2.0, 0.5]),
}
ANY = {
    **FLOATS,
    "i64-2x3": lambda: torch.tensor([[4, -2, 4], [0, 9, 9]]),
    "i32-4": lambda: torch.tensor([3, 1, 3, 2], dtype=torch.int32),
}

# command words (x = the input handle) -> the torch computation; every row runs on each input
ROWS = [
    ("mean_dim {x} 0", lambda x: torch.mean(x, 0), FLOATS),
    ("mean_dim -input {x} -dim {{0 -1}} -keepdim 1", lambda x: torch.mean(x, (0, -1), keepdim=True), FLOATS),
    ("mean_dim {x}", lambda x: torch.mean(x), FLOATS),
    ("std_dim {x} -1", lambda x: torch.std(x, -1), FLOATS),
    ("std_dim {x} 0 0 1", lambda x: torch.std(x, 0, correction=0, keepdim=True), FLOATS),
    ("var_dim {x} -1", lambda x: torch.var(x, -1), FLOATS),
    ("varDim -input {x} -dim 0 -unbiased false", lambda x: torch.var(x, 0, correction=0), FLOATS),
    ("tensor_std {x}", lambda x: torch.std(x), FLOATS),
    ("tensor_std {x} {{}} 0 1", lambda x: torch.std(x, correction=0).reshape([1] * x.dim()), FLOATS),
    ("tensor_var {x}", lambda x: torch.var(x), FLOATS),
    ("tensor_var -input {x} -dim 0 -keepdim 1", lambda x: torch.var(x, 0, keepdim=True), FLOATS),
    ("median_dim {x} 0", lambda x: torch.median(x, 0).values, ANY),
    ("median_dim {x} -1 1", lambda x: torch.median(x, -1, keepdim=True).values, ANY),
    ("tensor_median {x}", lambda x: torch.median(x), ANY),
    ("tensor_median {x} 0", lambda x: torch.median(x, 0).values, ANY),
    ("kthvalue {x} 2 0", lambda x: torch.kthvalue(x, 2, 0).values, ANY),
    ("kthValue -input {x} -k 1", lambda x: torch.kthvalue(x, 1).values, ANY),
    ("cumsum {x} 0", lambda x: torch.cumsum(x, 0), ANY),
    ("cumSum -input {x} -dim -1 -dtype float64", lambda x: torch.cumsum(x, -1, dtype=torch.float64), ANY),
    ("cumprod {x} 0", lambda x: torch.cumprod(x, 0), ANY),
    ("cummax {x} 0", lambda x: torch.cummax(x, 0).values, ANY),
    ("cummin {x} -1", lambda x: torch.cummin(x, -1).values, ANY),
    ("diff {x}", lambda x: torch.diff(x), ANY),
    ("diff {x} 2 0", lambda x: torch.diff(x, 2, 0), ANY),
    ("tensor_quantile {x} 0.3", lambda x: torch.quantile(x, 0.3), FLOATS),
    ("tensor_quantile {x} 0.5 0 1", lambda x: torch.quantile(x, 0.5, 0, keepdim=True), FLOATS),
    (
        "tensor_quantile -input {x} -q {{0.1 0.9}} -dim -1 -interpolation midpoint",
        lambda x: torch.quantile(x, torch.tensor([0.1, 0.9], dtype=x.dtype), -1, interpolation="midpoint"),
        FLOATS,
    ),
    ("tensor_mode {x}", lambda x: torch.mode(x.reshape(-1), 0).values, ANY),
    ("tensor_mode {x} 0", lambda x: torch.mode(x, 0).values, ANY),
    ("tensor_argmin {x}", lambda x: torch.argmin(x), ANY),
    ("argmin -input {x} -dim 0 -keepdim 1", lambda x: torch.argmin(x, 0, keepdim=True), ANY),
]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r[0].split(" {x}")[0] + r[0].split("{x}")[1])
def test_single_result_rows(interp, row):
    words, fn, inputs = row
    for make in inputs.values():
        x = make()
        if "2 0" in words and "kthvalue" in words and x.dim() and x.shape[0] < 2:
            continue
        script = "torch::" + words.format(x=interp.put(x))
        try:
            want = fn(x)
        except RuntimeError:  # torch refuses (e.g. a repeated dim): so must the command
            with pytest.raises(Exception, match="PyTorch|dim"):
                interp.eval(script)
            continue
        assert_close(tcl_tensor(interp, script), want)


PAIRS = [
    ("median_dim {x} 0 -indices 1", lambda x: torch.median(x, 0)),
    ("tensor_median -input {x} -dim -1 -keepdim 1 -indices 1", lambda x: torch.median(x, -1, keepdim=True)),
    ("kthvalue {x} 1 0 -returnIndices 1", lambda x: torch.kthvalue(x, 1, 0)),
    ("cummax {x} 0 -indices 1", lambda x: torch.cummax(x, 0)),
    ("cummin -input {x} -dim -1 -indices true", lambda x: torch.cummin(x, -1)),
    ("tensor_mode {x} -1 -indices 1", lambda x: torch.mode(x, -1)),
    ("tensor_sort {x}", lambda x: torch.sort(x)),
    (
        "sort -input {x} -dim 0 -descending 1 -stable 1",
        lambda x: torch.sort(x, dim=0, descending=True, stable=True),
    ),
    ("tensor_topk {x} 2", lambda x: torch.topk(x, 2)),
    ("topk -input {x} -k 1 -dim 0 -largest 0", lambda x: torch.topk(x, 1, 0, largest=False)),
]


@pytest.mark.parametrize("row", PAIRS, ids=lambda r: r[0].split(" ")[0] + "-" + str(len(r[0])))
def test_values_and_indices(interp, row):
    words, fn = row
    for make in ANY.values():
        x = make()
        got = tcl_tensors(interp, "torch::" + words.format(x=interp.put(x)))
        want = fn(x)
        assert len(got) == 2
        assert_close(got[0], want.values)
        if "sort" not in words or "stable" in words or x.unique().numel() == x.numel():
            assert_close(got[1], want.indices)  # ties: only stable sort fixes the order of equal elements


@pytest.mark.parametrize("make", ANY.values(), ids=list(ANY))
def test_gradient(interp, make):
    x = make()
    xf = x if x.is_floating_point() else x.float()
    h = interp.put(x)
    for words, kw in [
        ("", {}),
        (" 2.0", {"spacing": 2.0}),
        (" 1 0", {"dim": [0]}),
        (" -edgeOrder 2", {"edge_order": 2}),
    ]:
        if kw.get("edge_order") == 2 and min(x.shape) < 3:
            continue
        got = tcl_tensors(interp, f"torch::gradient {h}{words}")
        want = torch.gradient(xf, **kw)
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert_close(g, w)
    spacing = " ".join(["0.5"] * x.dim())
    got = tcl_tensors(interp, f"torch::gradientCmd -input {h} -spacing {{{spacing}}}")
    for g, w in zip(got, torch.gradient(xf, spacing=[0.5] * x.dim())):
        assert_close(g, w)


def test_diff_prepend_append(interp):
    x = torch.tensor([[1.0, 4.0], [9.0, 16.0]])
    p = torch.zeros(2, 1)
    got = tcl_tensor(
        interp, f"torch::diff -input {interp.put(x)} -prepend {interp.put(p)} -append {interp.put(p)}"
    )
    assert_close(got, torch.diff(x, prepend=p, append=p))


@pytest.mark.parametrize(
    "x",
    [
        torch.tensor([3, 1, 3, 2, 1, 7]),
        torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.5, 2.0]]),
        torch.tensor([True, False, True]),
    ],
    ids=["i64", "f32-2d", "bool"],
)
def test_unique(interp, x):
    h = interp.put(x)
    assert_close(tcl_tensor(interp, f"torch::tensor_unique {h}"), torch.unique(x))
    parts = dict(
        zip(*[iter(interp.tk.splitlist(interp.eval(f"torch::tensor_unique {h} 1 1 -returnCounts 1")))] * 2)
    )
    values, inverse, counts = torch.unique(x, return_inverse=True, return_counts=True)
    assert_close(interp.get(parts["unique"]), values)
    assert_close(interp.get(parts["inverse"]), inverse)
    assert_close(interp.get(parts["counts"]), counts)
    # -sorted 0: order of first appearance, inverse still maps back to the input
    parts = dict(
        zip(
            *[
                iter(
                    interp.tk.splitlist(
                        interp.eval(f"torch::tensorUnique -input {h} -sorted 0 -returnInverse 1")
                    )
                )
            ]
            * 2
        )
    )
    u, inv = interp.get(parts["unique"]), interp.get(parts["inverse"])
    assert_close(u[inv], x)
    flat = x.reshape(-1).tolist()
    firsts = []
    for v in flat:
        if v not in firsts:
            firsts.append(v)
    assert u.tolist() == firsts
    if x.dim() == 2:
        assert_close(tcl_tensor(interp, f"torch::tensor_unique {h} -dim 0"), torch.unique(x, dim=0))


def test_errors(interp):
    h = interp.put(torch.ones(2, 3))
    for script, code in [
        (f"torch::kthvalue {h} 0", ["TORCH", "VALUE", "-k"]),
        (f"torch::tensor_quantile {h} 1.5", ["TORCH", "VALUE", "-q"]),
        (f"torch::median_dim {h}", ["TCL", "WRONGARGS"]),
        (f"torch::tensor_median {h} -indices 1", ["TORCH", "VALUE", "-indices"]),
        (f"torch::gradient {h} abc", ["TORCH", "VALUE", "-spacing"]),
        (f"torch::cumsum {h} x", ["TORCH", "VALUE", "-dim"]),
        (f"torch::tensor_topk {h} 5", ["TORCH", "RuntimeError"]),
    ]:
        with pytest.raises(Exception) as info:
            interp.eval(script)
        assert info.value.errorcode[:3] == code, (script, info.value.errorcode)
