"""Tensor creation, inspection, autograd and shape commands through the Python host,
compared with the same operations done in torch directly."""

from __future__ import annotations

import re

import pytest
import torch
from helpers import tcl_error, tcl_tensor

import tcltorch

# --- creation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script, expected",
    [
        ("torch::zeros {2 3}", torch.zeros(2, 3)),
        ("torch::zeros -shape {2} -dtype int64", torch.zeros(2, dtype=torch.int64)),
        ("torch::ones {} float64", torch.ones((), dtype=torch.float64)),
        ("torch::full {2 2} -1.5", torch.full((2, 2), -1.5)),
        ("torch::full -shape {3} -value 4 -dtype int32", torch.full((3,), 4, dtype=torch.int32)),
        (
            "torch::tensor_create {{1 2} {3 4}} -dtype float64",
            torch.tensor([[1.0, 2], [3, 4]], dtype=torch.float64),
        ),
        ("torch::tensorCreate -data {1 2 3 4 5 6} -shape {3 2}", torch.arange(1.0, 7).reshape(3, 2)),
        ("torch::arange 5", torch.arange(5)),
        ("torch::arange 2 7 2", torch.arange(2, 7, 2)),
        ("torch::arange -1 1 0.5", torch.arange(-1, 1, 0.5)),
        ("torch::arange -end 3 -dtype float64", torch.arange(3, dtype=torch.float64)),
        ("torch::arange 10 0 -3", torch.arange(10, 0, -3)),
        ("torch::linspace 0 1 7", torch.linspace(0, 1, 7)),
        (
            "torch::linspace -start -2 -end 2 -steps 5 -dtype float64",
            torch.linspace(-2, 2, 5, dtype=torch.float64),
        ),
        ("torch::eye 3", torch.eye(3)),
        ("torch::eye 2 4 int64", torch.eye(2, 4, dtype=torch.int64)),
        ("torch::eye -n 3 -m 1 -dtype bool", torch.eye(3, 1, dtype=torch.bool)),
    ],
)
def test_creation_matches_torch(interp, script, expected):
    got = tcl_tensor(interp, script)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    assert torch.equal(got, expected)


@pytest.mark.parametrize("cmd", ["zeros", "ones", "randn", "rand", "eye", "arange"])
def test_creation_requires_grad_makes_a_trainable_leaf(interp, cmd):
    arg = {"eye": "2", "arange": "3"}.get(cmd, "{2 2}")
    t = tcl_tensor(interp, f"torch::{cmd} {arg} -dtype float32 -requiresGrad 1")
    assert t.requires_grad and t.is_leaf


@pytest.mark.parametrize("cmd, fn", [("randn", torch.randn), ("rand", torch.rand)])
def test_random_tensors_follow_torchs_global_generator(interp, cmd, fn):
    interp.eval("torch::manual_seed 1234")
    a = tcl_tensor(interp, f"torch::{cmd} {{3 4}}")
    b = tcl_tensor(interp, f"torch::{cmd} -shape {{2}} -dtype float64")
    torch.manual_seed(1234)
    assert torch.equal(a, fn(3, 4))
    assert torch.equal(b, fn(2, dtype=torch.float64))


def test_randn_positional_order_is_shape_device_dtype(interp):
    t = tcl_tensor(interp, "torch::randn {5} cpu float64 true")
    assert (t.device.type, t.dtype, t.requires_grad) == ("cpu", torch.float64, True)


def test_manual_seed_range(interp):
    assert interp.eval("torch::manual_seed 0") == ""
    assert interp.eval(f"torch::manualSeed -seed {2**64 - 1}") == ""
    message, code = tcl_error(interp, f"torch::manual_seed {2**64}")
    assert code == ["TORCH", "VALUE", "-seed"]
    assert message == f'invalid -seed "{2**64}": must be an integer from 0 to {2**64 - 1}'


def test_arange_refuses_zero_step_and_missing_end(interp):
    assert tcl_error(interp, "torch::arange 0 1 0.0") == (
        'invalid -step "0.0": must be a finite nonzero number',
        ["TORCH", "VALUE", "-step"],
    )
    assert tcl_error(interp, "torch::arange -dtype int64") == (
        'missing required option "-end"',
        ["TORCH", "ARGS", "REQUIRED", "-end"],
    )


# --- inspection ---------------------------------------------------------------------------


def test_inspection_commands(interp):
    t = torch.arange(24, dtype=torch.float64).reshape(2, 3, 4)
    h = interp.put(t)
    assert interp.eval(f"torch::tensor_shape {h}") == "2 3 4"
    assert interp.eval(f"torch::tensor_dtype {h}") == "float64"
    assert interp.eval(f"torch::tensor_device {h}") == "cpu"
    assert interp.eval(f"torch::tensorNumel -input {h}") == "24"
    assert interp.eval(f"torch::tensor_item [torch::tensor_sum {h}]") == repr(float(t.sum()))


def test_tensor_item_and_to_list_round_trip_float64(interp):
    t = torch.tensor([[0.1, 1 / 3], [2.5e-300, -7.0]], dtype=torch.float64)
    h = interp.put(t)
    values = interp.eval(f"torch::tensor_to_list {h}")
    back = tcl_tensor(interp, f"torch::tensor_create {{{values}}} -dtype float64")
    assert torch.equal(back, t)
    assert (
        float(interp.eval(f"torch::tensor_item [torch::tensor_slice [torch::tensor_slice {h} 0 0 1] 1 1 2]"))
        == 1 / 3
    )


def test_tensor_print_goes_through_tcl_puts(interp):
    # Replace puts: the output must arrive through Tcl, in order with the script's own output.
    interp.eval("rename puts _real_puts; set ::out {}; proc puts {args} {lappend ::out $args}")
    h = interp.put(torch.tensor([1.0, 2.0]))
    interp.eval(
        f"puts before; torch::tensor_print {h}; torch::tensorPrint -input {h} -channel stderr; puts after"
    )
    out = interp.eval("set ::out")
    assert interp.call("llength", out) == "4"
    assert interp.eval("lindex $::out 1") == "stdout {tensor([1., 2.])}"
    assert interp.eval("lindex $::out 2") == "stderr {tensor([1., 2.])}"
    assert interp.eval("list [lindex $::out 0] [lindex $::out 3]") == "before after"


def test_wrong_kind_handle(interp):
    lin = interp.put(torch.nn.Linear(2, 2))
    for cmd in ("tensor_numel", "tensor_grad", "tensor_clone", "tensor_print"):
        message, code = tcl_error(interp, f"torch::{cmd} {lin}")
        assert message == f'"{lin}" is a linear module, expected a tensor'
        assert code == ["TORCH", "HANDLE", lin]


# --- autograd --------------------------------------------------------------------------------


def test_requires_grad_get_and_set(interp):
    t = torch.zeros(3)
    h = interp.put(t)
    assert interp.eval(f"torch::tensor_requires_grad {h}") == "0"
    assert interp.eval(f"torch::tensor_requires_grad {h} yes") == "1"
    assert t.requires_grad
    assert interp.eval(f"torch::tensorRequiresGrad -input {h} -requiresGrad off") == "0"
    assert not t.requires_grad


def test_requires_grad_refuses_non_leaf_and_changes_nothing(interp):
    a = torch.ones(2, requires_grad=True)
    b = a * 2
    hb = interp.put(b)
    message, code = tcl_error(interp, f"torch::tensor_requires_grad {hb} 0")
    assert code == ["TORCH", "VALUE", "-input"]
    assert message.startswith(f'invalid -input "{hb}": must be a leaf tensor')
    assert b.requires_grad and b.grad_fn is not None


def test_backward_and_grad_match_torch(interp):
    x = torch.tensor([[0.5, -1.0], [2.0, 3.0]], dtype=torch.float64, requires_grad=True)
    w = torch.tensor([[1.5], [-0.25]], dtype=torch.float64, requires_grad=True)
    hx, hw = interp.put(x), interp.put(w)
    interp.eval(
        f"torch::tensor_backward [torch::tensor_sum [torch::tensor_tanh [torch::tensor_matmul {hx} {hw}]]]"
    )
    gx = tcl_tensor(interp, f"torch::tensor_grad {hx}")
    gw = tcl_tensor(interp, f"torch::tensorGrad -input {hw}")
    x2, w2 = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    torch.tanh(x2 @ w2).sum().backward()
    assert torch.equal(gx, x2.grad) and torch.equal(gw, w2.grad)
    assert gx is x.grad
    # the gradient keeps one stable handle
    assert interp.eval(f"torch::tensor_grad {hx}") == interp.eval(f"torch::tensor_grad {hx}")


def test_backward_with_gradient_and_retain_graph(interp):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    hy, hx = interp.put(y), interp.put(x)
    g = interp.put(torch.tensor([1.0, 0.0, -1.0]))
    interp.eval(f"torch::tensor_backward {hy} {g} -retainGraph 1")
    interp.eval(f"torch::tensor_backward -input {hy} -gradient {g}")
    assert torch.equal(x.grad, 2 * torch.tensor([2.0, 0.0, -6.0]))
    assert interp.get(interp.eval(f"torch::tensor_grad {hx}")) is x.grad
    # the graph was freed by the second backward (no -retainGraph): PyTorch refuses a third
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        interp.eval(f"torch::tensor_backward {hy} {g}")


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_backward_create_graph_gives_second_derivatives(interp):
    x = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    hx = interp.put(x)
    interp.eval(f"torch::tensor_backward [torch::tensor_pow {hx} 3] -createGraph 1")
    g = x.grad
    assert g.item() == 27.0 and g.requires_grad  # 3x^2, still differentiable
    (second,) = torch.autograd.grad(g, x)
    assert second.item() == 18.0


def test_backward_non_scalar_needs_gradient(interp):
    y = torch.ones(2, 3, requires_grad=True) * 2
    h = interp.put(y)
    message, code = tcl_error(interp, f"torch::tensor_backward {h}")
    assert code == ["TORCH", "ARGS", "REQUIRED", "-gradient"]
    assert message == (
        f'missing required option "-gradient": {h} has shape {{2 3}}, '
        "and only a one-element tensor can go without a gradient"
    )


def test_grad_is_empty_when_there_is_none(interp):
    a = torch.ones(2, requires_grad=True)
    ha, hb, hc = interp.put(a), interp.put(a * 3), interp.put(torch.ones(2))
    assert [interp.eval(f"torch::tensor_grad {h}") for h in (ha, hb, hc)] == ["", "", ""]


def test_detach_shares_storage_clone_copies(interp):
    a = torch.arange(4.0, requires_grad=True)
    h = interp.put(a)
    d = tcl_tensor(interp, f"torch::tensor_detach {h}")
    c = tcl_tensor(interp, f"torch::tensor_clone {h}")
    assert d.data_ptr() == a.data_ptr() and not d.requires_grad
    assert c.data_ptr() != a.data_ptr() and c.requires_grad and c.grad_fn is not None
    assert torch.equal(c, a)


# --- conversion, shape -------------------------------------------------------------------------


def test_tensor_to(interp):
    t = torch.tensor([1.25, -2.75])
    h = interp.put(t)
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_to {h} cpu float64"), t.to(torch.float64))
    assert torch.equal(tcl_tensor(interp, f"torch::tensorTo -input {h} -dtype int32"), t.to(torch.int32))
    assert interp.eval(f"torch::tensor_to {h} -device cpu") == h


@pytest.mark.parametrize("shape, expected", [("{2 -1}", (2, 3)), ("{-1}", (6,)), ("{3 1 2}", (3, 1, 2))])
def test_reshape(interp, shape, expected):
    t = torch.arange(6)
    h = interp.put(t)
    got = tcl_tensor(interp, f"torch::tensor_reshape {h} {shape}")
    assert torch.equal(got, t.reshape(expected))


@pytest.mark.parametrize("dim", [0, 1, -1, -2])
def test_cat_and_stack_match_torch(interp, dim):
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    ha, hb = interp.put(a), interp.put(b)
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_cat {{{ha} {hb}}} {dim}"), torch.cat([a, b], dim))
    assert torch.equal(
        tcl_tensor(interp, f"torch::tensor_stack -tensors {{{ha} {hb}}} -dim {dim}"), torch.stack([a, b], dim)
    )


def test_index_select_list_and_tensor(interp):
    t = torch.randn(4, 5)
    h = interp.put(t)
    idx = interp.put(torch.tensor([4, 0, 0]))
    idx32 = interp.put(torch.tensor([1, 3], dtype=torch.int32))
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_index_select {h} 1 {{4 0 0}}"), t[:, [4, 0, 0]])
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_index_select {h} -1 {idx}"), t[:, [4, 0, 0]])
    assert torch.equal(tcl_tensor(interp, f"torch::tensor_index_select {h} 0 {idx32}"), t[[1, 3]])
    assert torch.equal(
        tcl_tensor(interp, f"torch::tensorIndexSelect -input {h} -dimension 0 -index 2"), t[[2]]
    )
    with pytest.raises(IndexError):  # index_select takes no negative indices
        interp.eval(f"torch::tensor_index_select {h} 0 -1")


@pytest.mark.parametrize(
    "args, index",
    [
        ("0 1 3", (slice(1, 3),)),
        ("0 -2", (slice(-2, None),)),
        ("0 0 end 2", (slice(0, None, 2),)),
        ("1 1", (slice(None), slice(1, None))),
        ("-1 0 2", (slice(None), slice(0, 2))),
        ("0 -3 -1", (slice(-3, -1),)),
        ("0 2 100", (slice(2, 100),)),
        ("0 4 2", (slice(4, 2),)),
    ],
)
def test_slice_matches_python_slicing(interp, args, index):
    t = torch.arange(15).reshape(5, 3)
    h = interp.put(t)
    got = tcl_tensor(interp, f"torch::tensor_slice {h} {args}")
    assert torch.equal(got, t[index])


def test_slice_is_a_view_and_keeps_the_graph(interp):
    x = torch.arange(6.0, requires_grad=True)
    h = interp.put(x)
    s = tcl_tensor(interp, f"torch::tensor_slice {h} 0 1 5 2")
    s.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]


# --- errors through the Python host ----------------------------------------------------------------


@pytest.mark.parametrize(
    "script, message, errorcode",
    [
        (
            "torch::randn",
            'wrong # args: should be "torch::randn shape ?device? ?dtype? ?requiresGrad?"',
            ["TCL", "WRONGARGS"],
        ),
        (
            "torch::eye 2 -cols 3",
            'bad option "-cols": must be -n, -m, -dtype, -device, or -requiresGrad',
            ["TCL", "LOOKUP", "INDEX", "option", "-cols"],
        ),
        (
            "torch::linspace 0 1 -steps",
            'missing value for option "-steps"',
            ["TORCH", "ARGS", "MISSING", "-steps"],
        ),
        (
            "torch::tensor_slice -dim 0 -start 0",
            'missing required option "-input"',
            ["TORCH", "ARGS", "REQUIRED", "-input"],
        ),
        (
            "torch::rand {2} -dtype int32",
            'invalid -dtype "int32": must be a floating-point dtype (float32, float64, float16 or bfloat16)',
            ["TORCH", "VALUE", "-dtype"],
        ),
        ("torch::tensor_cat {nosuch1 nosuch2}", 'no tensor named "nosuch1"', ["TORCH", "HANDLE", "nosuch1"]),
        (
            "torch::tensor_reshape [torch::zeros {2 3}] {5}",
            re.compile(
                r"cannot reshape tensor\d+ \{2 3\} \(6 elements\) to \{5\}: .* "
                r"\(PyTorch: shape '\[5\]' is invalid for input of size 6\)"
            ),
            ["TORCH", "RuntimeError"],
        ),
    ],
)
def test_error_classes(interp, script, message, errorcode):
    got, code = tcl_error(interp, script)
    # PyTorch's messages come translated: handle names vary, so those are patterns
    assert message.fullmatch(got) if isinstance(message, re.Pattern) else got == message, got
    assert code == errorcode


def test_torch_refusal_keeps_the_python_exception(interp):
    with pytest.raises(RuntimeError) as info:
        interp.eval("torch::tensor_stack [list [torch::zeros {2}] [torch::zeros {3}]]")
    assert info.value.errorcode == ["TORCH", "RuntimeError"]
    assert not isinstance(info.value, tcltorch.TclError)
