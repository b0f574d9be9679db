"""Data in and out: bulk conversion in C (tensor_create, tensor_to_list), tensor files,
CSV, and the batching loop, compared with torch/numpy directly."""

from __future__ import annotations

import math

import pytest
import torch

import tcltorch
from tcltorch.commands.tensors import tcl_values


@pytest.fixture(scope="module")
def interp():
    return tcltorch.Interp()


def error(interp, script: str) -> tuple[str, list[str]]:
    with pytest.raises(Exception) as info:
        interp.eval(script)
    return str(info.value), info.value.errorcode


# --- bulk conversion -------------------------------------------------------------------------


def _specials(dtype):
    values = [0.1, -0.0, 1.0, 1e-5, 3.4028235e38, 1e-45, 16777217.0, 1 / 3, math.inf, -math.inf, math.nan]
    return torch.tensor(values, dtype=dtype)


TENSORS = [
    lambda: torch.randn(5, 3),
    lambda: torch.randn(4, 2, 3, dtype=torch.float64),
    lambda: _specials(torch.float32),
    lambda: _specials(torch.float64),
    lambda: torch.randint(-(2**62), 2**62, (3, 4)),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int32),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int16),
    lambda: torch.randint(-100, 100, (6,), dtype=torch.int8),
    lambda: torch.randint(0, 255, (2, 3), dtype=torch.uint8),
    lambda: torch.tensor([True, False, True]),
    lambda: torch.randn(3, dtype=torch.complex64),
    lambda: torch.randn(2, 2, dtype=torch.complex128),
    lambda: torch.zeros(2, 0),
    lambda: torch.tensor(2.5),
    lambda: torch.randn(4, 6).t(),  # not contiguous
    lambda: torch.randn(3, dtype=torch.float16),
]


@pytest.mark.parametrize("make", TENSORS)
def test_to_list_matches_python_rules(interp, make):
    torch.manual_seed(0)
    t = make()
    h = interp.put(t)
    fast = interp.eval(f"torch::tensor_to_list {h}")
    expected = interp.call("set", "expected", tcl_values(t))
    assert fast == expected


def test_float32_shortest_and_exact(interp):
    t = torch.randn(1000)
    h = interp.put(t)
    words = interp.eval(f"torch::tensor_to_list {h}").split()
    back = torch.tensor([float(w) for w in words], dtype=torch.float32)
    assert torch.equal(back, t)
    assert words[:1] != [] and all(
        len(w.lstrip("-").split("e")[0].replace(".", "").lstrip("0")) <= 9 for w in words
    )
    assert interp.eval("torch::tensor_to_list [torch::tensor_create {0.1 1 100000}]") == "0.1 1.0 100000.0"


def test_float32_elements_are_numbers_in_tcl(interp):
    h = interp.put(torch.tensor([0.1, 2.0]))
    assert interp.eval(f"expr {{[lindex [torch::tensor_to_list {h}] 0] * 10}}") == "1.0"
    assert interp.eval(f"llength [torch::tensor_to_list {h}]") == "2"


@pytest.mark.parametrize(
    "data, dtype",
    [
        ("{1 2 3}", torch.float32),
        ("{{1.5 2} {3 -4e-3}}", torch.float64),
        ("{1 0x10 true 010}", torch.int64),
        ("{9223372036854775807 -9223372036854775808}", torch.int64),
        ("{1.7 -2.7 3}", torch.int32),
        ("{0 2 0.5}", torch.bool),
        ("{-1 200}", torch.uint8),
        ("{}", torch.float32),
        ("5", torch.float64),
        ("{0.1 1e-30 1e30}", torch.float16),
    ],
)
def test_create_matches_torch_tensor(interp, data, dtype):
    from tcltorch.commands.spec import DTYPE_NAMES

    words = interp.eval(f"join [list {data}]")  # the numbers as Python reads them
    got = interp.get(interp.eval(f"torch::tensor_create {data} -dtype {DTYPE_NAMES[dtype]}"))
    flat, shape, _ = tcltorch.bridge.nested(data[1:-1] if data.startswith("{") else data)
    expected = torch.tensor(flat, dtype=dtype).reshape(shape)
    assert words is not None and got.dtype == dtype
    assert torch.equal(got, expected)


def test_create_big_list_from_a_variable(interp):
    interp.eval("set big {}; for {set i 0} {$i < 5000} {incr i} {lappend big [expr {$i * 0.25}]}")
    t = interp.get(interp.eval("torch::tensor_create $big -dtype float64"))
    assert torch.equal(t, torch.arange(5000, dtype=torch.float64) * 0.25)


@pytest.mark.parametrize(
    "data, message",
    [
        ("{1 x}", 'invalid -data: expected a number but got "x" at index {1}'),
        ("{{1 2} {3}}", "invalid -data: ragged data: element {1} is a number where a list of 2 was expected"),
        ("{{1 2} {3 4 5}}", "invalid -data: ragged data: element {1} has 3 items, expected 2"),
        ("9223372036854775808", "invalid -data: integer 9223372036854775808 does not fit in int64"),
        ('"1\\0"', 'invalid -data: expected a number but got "1\\0"'),
    ],
)
def test_create_errors(interp, data, message):
    text, code = error(interp, f"torch::tensor_create {data}")
    assert text == message
    assert code == ["TORCH", "VALUE", "-data"]
