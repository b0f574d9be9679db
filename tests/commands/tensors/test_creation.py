"""Creation (empty, logspace, the _like family, randint, randperm) and inspection
(tensor_is_contiguous, tensor_size) against torch; seeded draws equal torch's."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_same, tcl_tensor

REFS = {
    "f32-2x3": lambda: torch.zeros(2, 3),
    "i64-4": lambda: torch.arange(4),
    "f64-0d": lambda: torch.tensor(1.5, dtype=torch.float64),
    "bool-1x2x1": lambda: torch.ones(1, 2, 1, dtype=torch.bool),
}

LIKE = [  # command, torch function, extra positional words, whether the values are deterministic
    ("zeros_like", torch.zeros_like),
    ("ones_like", torch.ones_like),
]


@pytest.mark.parametrize("name, fn", LIKE)
@pytest.mark.parametrize("ref", REFS, ids=list(REFS))
def test_constant_like(interp, name, fn, ref):
    x = REFS[ref]()
    h = interp.put(x)
    assert_same(tcl_tensor(interp, f"torch::{name} {h}"), fn(x))
    assert_same(tcl_tensor(interp, f"torch::{name} {h} float64"), fn(x, dtype=torch.float64))
    assert_same(
        tcl_tensor(interp, f"torch::{name} -input {h} -dtype int32 -device cpu"), fn(x, dtype=torch.int32)
    )
    camel = {"zeros_like": "zerosLike", "ones_like": "onesLike"}[name]
    assert_same(tcl_tensor(interp, f"torch::{camel} -tensor {h}"), fn(x))


@pytest.mark.parametrize("ref", REFS, ids=list(REFS))
def test_full_and_empty_like(interp, ref):
    x = REFS[ref]()
    h = interp.put(x)
    for value in ("7", "-2.5", "1"):
        number = float(value) if "." in value else int(value)
        want = torch.full_like(x, number) if x.dtype != torch.bool or value == "1" else None
        if want is not None:
            assert_same(tcl_tensor(interp, f"torch::full_like {h} {value}"), want)
        assert_same(
            tcl_tensor(interp, f"torch::fullLike -input {h} -value {value} -dtype float64"),
            torch.full_like(x, number, dtype=torch.float64),
        )
    e = tcl_tensor(interp, f"torch::empty_like {h}")
    assert e.shape == x.shape and e.dtype == x.dtype
    e = tcl_tensor(interp, f"torch::emptyLike -input {h} -dtype int16")
    assert e.shape == x.shape and e.dtype == torch.int16


@pytest.mark.parametrize("name, fn", [("rand_like", torch.rand_like), ("randn_like", torch.randn_like)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_like_equals_torch(interp, name, fn, dtype):
    x = torch.zeros(3, 5, dtype=dtype)
    h = interp.put(x)
    interp.eval("torch::manual_seed 123")
    got = tcl_tensor(interp, f"torch::{name} {h}")
    torch.manual_seed(123)
    assert_same(got, fn(x))
    interp.eval("torch::manual_seed 7")
    got = tcl_tensor(interp, f"torch::{name} -input {h} -dtype float64 -requiresGrad 1")
    torch.manual_seed(7)
    want = fn(x, dtype=torch.float64)
    assert got.requires_grad and got.is_leaf
    assert_same(got.detach(), want)


def test_randint_family_equals_torch(interp):
    x = torch.zeros(4, 6)
    h = interp.put(x)
    cases = [
        (f"torch::randint_like {h} 10", lambda: torch.randint_like(x, 0, 10, dtype=torch.int64)),
        (f"torch::randint_like {h} 20 5 int32", lambda: torch.randint_like(x, 5, 20, dtype=torch.int32)),
        (
            f"torch::randintLike -input {h} -high 3 -low -3 -dtype float64",
            lambda: torch.randint_like(x, -3, 3, dtype=torch.float64),
        ),
        ("torch::randint {2 3} 10", lambda: torch.randint(0, 10, (2, 3))),
        (
            "torch::randint -shape {5} -high 100 -low 50 -dtype int32",
            lambda: torch.randint(50, 100, (5,), dtype=torch.int32),
        ),
        ("torch::randint {} 4", lambda: torch.randint(0, 4, ())),
        ("torch::randperm 10", lambda: torch.randperm(10)),
        ("torch::randperm -n 6 -dtype float32", lambda: torch.randperm(6, dtype=torch.float32)),
        ("torch::randperm 0", lambda: torch.randperm(0)),
    ]
    for script, make in cases:
        interp.eval("torch::manual_seed 42")
        got = tcl_tensor(interp, script)
        torch.manual_seed(42)
        assert_same(got, make())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_logspace_and_empty(interp, dtype):
    name = {torch.float32: "float32", torch.float64: "float64", torch.int64: "int64"}[dtype]
    for words, args in [
        ("0 3 4", (0, 3, 4)),
        ("-1 1 5 2", (-1, 1, 5, 2.0)),
        ("2 2 1", (2, 2, 1)),
        ("0 1 0", (0, 1, 0)),
    ]:
        got = tcl_tensor(
            interp,
            f"torch::logspace {words} {name}" if len(args) == 4 else f"torch::logspace {words} -dtype {name}",
        )
        want = torch.logspace(*args[:3], base=args[3] if len(args) == 4 else 10.0, dtype=dtype)
        assert got.dtype == want.dtype and got.shape == want.shape
        if dtype.is_floating_point:
            torch.testing.assert_close(got, want)  # pow kernels may round differently
        else:
            assert torch.equal(got, want)
    e = tcl_tensor(interp, f"torch::empty {{2 0 3}} {name}")
    assert e.shape == (2, 0, 3) and e.dtype == dtype
    e = tcl_tensor(interp, f"torch::Empty -shape {{4}} -dtype {name}")
    assert e.shape == (4,) and e.dtype == dtype


def test_requires_grad_needs_floats(interp):
    h = interp.put(torch.zeros(2))
    for script in (
        "torch::randint {2} 5 -requiresGrad 1",
        f"torch::zeros_like {h} int64 -requiresGrad 1",
        "torch::randperm 3 -requiresGrad 1",
    ):
        with pytest.raises(Exception) as info:
            interp.eval(script)
        assert info.value.errorcode == ["TORCH", "VALUE", "-requiresGrad"]
    t = tcl_tensor(interp, f"torch::ones_like {h} -requiresGrad 1")
    assert t.requires_grad and t.is_leaf


def test_info(interp):
    x = torch.zeros(2, 3, 4)
    h = interp.put(x)
    assert interp.eval(f"torch::tensor_size {h}") == "2 3 4"
    assert interp.eval(f"torch::tensor_size {h} -1") == "4"
    assert interp.eval(f"torch::tensorSize -input {h} -dimension 1") == "3"
    assert interp.eval(f"torch::tensor_size {interp.put(torch.tensor(1.0))}") == ""
    assert interp.eval(f"torch::tensor_is_contiguous {h}") == "1"
    assert interp.eval(f"torch::tensorIsContiguous {interp.put(x.transpose(0, 2))}") == "0"
    assert interp.eval(f"torch::tensor_is_contiguous -input {interp.put(x[:, ::2])}") == "0"


def test_errors(interp):
    h = interp.put(torch.zeros(2, 3))
    for script, code in [
        (f"torch::tensor_size {h} 2", ["TORCH", "VALUE", "-dim"]),
        (f"torch::randint_like {h} 0", ["TORCH", "VALUE", "-high"]),
        ("torch::randint {2 2} 3 3", ["TORCH", "VALUE", "-high"]),  # in neither order
        ("torch::randperm -1", ["TORCH", "VALUE", "-n"]),
        ("torch::logspace 0 1 x", ["TORCH", "VALUE", "-steps"]),
        (f"torch::full_like {h}", ["TCL", "WRONGARGS"]),
        ("torch::empty {2 -1}", ["TORCH", "VALUE", "-shape"]),
        (f"torch::zeros_like {h} bogus", ["TORCH", "VALUE", "-dtype"]),
    ]:
        with pytest.raises(Exception) as info:
            interp.eval(script)
        assert info.value.errorcode == code, (script, info.value.errorcode)
