"""The elementwise tables (tcltorch/commands/elementwise.py), row by row, against the torch call
each row wraps, on several shapes and dtypes; plus round, clamp, atan2, isclose/allclose."""

from __future__ import annotations

import pytest
import torch
from helpers import assert_close, tcl_tensor

from tcltorch.commands._tables import operands
from tcltorch.commands.tensors import elementwise

INPUTS = {
    "f32-2x3": lambda: torch.linspace(-2.5, 3.0, 6).reshape(2, 3),
    "f64-4": lambda: torch.tensor([-0.75, 0.0, 0.5, 1.5], dtype=torch.float64),
    "f32-0d": lambda: torch.tensor(0.25),
    "i64-2x2": lambda: torch.tensor([[-2, 0], [1, 7]]),
    "bool-3": lambda: torch.tensor([True, False, True]),
    "f64-special": lambda: torch.tensor(
        [float("nan"), float("inf"), -float("inf"), 1e-8], dtype=torch.float64
    ),
}


def expect_same(interp, script: str, compute) -> None:
    """Torch's result, or: torch refuses and so does the command (a Tcl error, no crash)."""
    try:
        want = compute()
    except (RuntimeError, TypeError, NotImplementedError) as exc:
        with pytest.raises(Exception) as info:
            interp.eval(script)
        assert "PyTorch" in str(info.value) or str(exc).split("\n")[0][:20] in str(info.value)
        return
    assert_close(tcl_tensor(interp, script), want)


@pytest.mark.parametrize("row", elementwise.UNARY, ids=lambda r: r[0])
def test_unary_rows(interp, row):
    name, fn, *_rest, aliases = row
    for make in INPUTS.values():
        x = make()
        h = interp.put(x)
        expect_same(interp, f"torch::{name} {h}", lambda x=x: fn(x))
    x = INPUTS["f32-2x3"]() if name != "bitwise_not" else INPUTS["i64-2x2"]()
    h = interp.put(x)
    want = fn(x)
    for alias in aliases:  # every alias is the same command
        assert_close(tcl_tensor(interp, f"torch::{alias} -input {h}"), want)
    assert_close(tcl_tensor(interp, f"torch::{name} -tensor {h}"), want)


OPERANDS = [
    (
        "f32 2x3 / f32 2x3",
        lambda: torch.linspace(-2, 3, 6).reshape(2, 3),
        lambda: torch.linspace(1, 2, 6).reshape(2, 3),
    ),
    (
        "i64 2x1 / f64 3",
        lambda: torch.tensor([[3], [-4]]),
        lambda: torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64),
    ),
    ("i64 3 / i64 3", lambda: torch.tensor([12, -7, 5]), lambda: torch.tensor([3, 2, 1])),
    (
        "bool / bool",
        lambda: torch.tensor([True, False, True, False]),
        lambda: torch.tensor([True, True, False, False]),
    ),
    ("f32 / number", lambda: torch.tensor([1.0, 2.0, 3.0]), lambda: 2),
    ("number / i64", lambda: 3, lambda: torch.tensor([1, 2, 3])),
    ("i64 / number", lambda: torch.tensor([[1, 2], [3, 4]]), lambda: 1),
]


def _word(interp, value):
    return interp.put(value) if isinstance(value, torch.Tensor) else str(value)


@pytest.mark.parametrize("row", elementwise.BINARY, ids=lambda r: r[0])
def test_binary_rows(interp, row):
    name, fn, *_rest, aliases = row
    for _label, make_a, make_b in OPERANDS:
        a, b = make_a(), make_b()
        script = f"torch::{name} {_word(interp, a)} {_word(interp, b)}"
        expect_same(interp, script, lambda a=a, b=b: fn(*operands(a, b)))
    a, b = torch.tensor([1, 2, 3]), torch.tensor([3, 2, 1])
    want = fn(a, b)
    ha, hb = interp.put(a), interp.put(b)
    for alias in (name, *aliases):
        assert_close(tcl_tensor(interp, f"torch::{alias} -input1 {ha} -input2 {hb}"), want)
        assert_close(tcl_tensor(interp, f"torch::{alias} -tensor1 {ha} -tensor2 {hb}"), want)


def test_eq_and_pow_are_the_tensor_commands(interp):
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 3.0])
    ha, hb = interp.put(a), interp.put(b)
    for cmd in ("eq", "Eq", "tensor_eq"):
        assert_close(tcl_tensor(interp, f"torch::{cmd} -tensor1 {ha} -tensor2 {hb}"), torch.eq(a, b))
    assert_close(tcl_tensor(interp, f"torch::pow -base {ha} -exponent 2"), torch.pow(a, 2))
    assert_close(tcl_tensor(interp, f"torch::pow -input1 {ha} -input2 {hb}"), torch.pow(a, b))
    assert_close(tcl_tensor(interp, f"torch::pow 2 {ha}"), torch.pow(torch.tensor(2.0), a))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_atan2(interp, dtype):
    y = torch.tensor([[1.0, -1.0, 0.0], [2.0, -3.0, 0.5]], dtype=dtype)
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=dtype)
    hy, hx = interp.put(y), interp.put(x)
    assert_close(tcl_tensor(interp, f"torch::atan2 {hy} {hx}"), torch.atan2(y, x))
    assert_close(tcl_tensor(interp, f"torch::atan2 -y {hy} -x {hx}"), torch.atan2(y, x))
    assert_close(tcl_tensor(interp, f"torch::atan2 {hy} 1"), torch.atan2(y, torch.tensor(1, dtype=dtype)))


@pytest.mark.parametrize("decimals", [0, 1, 2, -1])
def test_round(interp, decimals):
    for x in (
        torch.tensor([0.5, 1.5, 2.5, -1.26, 123.456]),
        torch.tensor([1.25, 9.999], dtype=torch.float64),
    ):
        h = interp.put(x)
        assert_close(tcl_tensor(interp, f"torch::round {h} {decimals}"), torch.round(x, decimals=decimals))
        assert_close(
            tcl_tensor(interp, f"torch::Round -input {h} -decimals {decimals}"),
            torch.round(x, decimals=decimals),
        )
    i = torch.tensor([1, -2, 3])
    assert_close(tcl_tensor(interp, f"torch::round {interp.put(i)}"), torch.round(i))


def test_clamp(interp):
    x = torch.linspace(-3, 3, 7).reshape(7)
    i = torch.tensor([[-5, 0, 5]])
    hx, hi = interp.put(x), interp.put(i)
    assert_close(tcl_tensor(interp, f"torch::tensor_clamp {hx} -1 2"), torch.clamp(x, -1, 2))
    assert_close(tcl_tensor(interp, f"torch::tensor_clamp {hx} 0.5"), torch.clamp(x, min=0.5))
    assert_close(tcl_tensor(interp, f"torch::tensorClamp -tensor {hx} -max -1"), torch.clamp(x, max=-1))
    assert_close(tcl_tensor(interp, f"torch::clamp {hi} -1 1"), torch.clamp(i, -1, 1))
    assert_close(tcl_tensor(interp, f"torch::tensor_clamp {hx}"), x)
    lo = torch.zeros(7) - torch.arange(7.0) / 3
    assert_close(
        tcl_tensor(interp, f"torch::tensor_clamp -input {hx} -min {interp.put(lo)}"), torch.clamp(x, min=lo)
    )
    assert tcl_tensor(interp, f"torch::tensor_clamp {hx}") is not x  # a copy, not the input


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_isclose_allclose(interp, dtype):
    nan = float("nan")
    a = torch.tensor([[1.0, 2.0, nan], [1e-9, 100.0, -1.0]], dtype=dtype)
    b = torch.tensor([1.000001, 2.1, nan], dtype=dtype)
    ha, hb = interp.put(a), interp.put(b)
    for opts, kw in [
        ("", {}),
        ("-rtol 0.1", {"rtol": 0.1}),
        ("-atol 0.2 -equalNan 1", {"atol": 0.2, "equal_nan": True}),
        ("-relativeTolerance 0 -absoluteTolerance 0 -equal_nan 1", {"rtol": 0, "atol": 0, "equal_nan": True}),
    ]:
        assert_close(
            tcl_tensor(interp, f"torch::isclose -input {ha} -other {hb} {opts}"), torch.isclose(a, b, **kw)
        )
        want = int(torch.allclose(*torch.broadcast_tensors(a, b), **kw))
        assert interp.eval(f"torch::allclose -input {ha} -other {hb} {opts}") == str(want)
    same = torch.tensor([1.0, 2.0], dtype=dtype)
    hs = interp.put(same)
    assert interp.eval(f"torch::allClose {hs} {hs}") == "1"
    assert_close(
        tcl_tensor(interp, f"torch::isClose {hs} 1.0"), torch.isclose(same, torch.tensor(1.0, dtype=dtype))
    )
    i = torch.tensor([1, 2])
    assert_close(tcl_tensor(interp, f"torch::isclose {interp.put(i)} {hs}"), torch.isclose(i.to(dtype), same))


def test_errors_name_the_option(interp):
    h = interp.put(torch.ones(2))
    for script, code in [
        (f"torch::sin {h} extra", ["TCL", "WRONGARGS"]),
        ("torch::sin nosuch1", ["TORCH", "HANDLE", "nosuch1"]),
        (f"torch::lt {h} {{1 2}}", ["TORCH", "VALUE", "-other"]),
        (f"torch::round {h} 1.5", ["TORCH", "VALUE", "-decimals"]),
        (f"torch::isclose {h} {h} -rtol -1", ["TORCH", "VALUE", "-rtol"]),
        (f"torch::tensor_clamp {h} {{1 2}}", ["TORCH", "VALUE", "-min"]),
    ]:
        with pytest.raises(Exception) as info:
            interp.eval(script)
        assert info.value.errorcode == code, (script, info.value.errorcode)
