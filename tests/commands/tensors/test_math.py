"""Math commands through the Python host, compared with torch computed directly."""

from __future__ import annotations

import operator
import re

import pytest
import torch
from helpers import assert_same, tcl_error, tcl_tensor

import tcltorch
from tcltorch.commands.vocabulary import as_tensors

# --- binary operations: tensor or number on either side -------------------------------------

BINARY = {
    "tensor_add": operator.add,
    "tensor_sub": operator.sub,
    "tensor_mul": operator.mul,
    "tensor_div": operator.truediv,
    "tensor_pow": operator.pow,
    "tensor_eq": operator.eq,
}

OPERANDS = {
    "f32": lambda: torch.tensor([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]]),
    "f64": lambda: torch.tensor([0.1, 0.2, 3.0], dtype=torch.float64),
    "i64": lambda: torch.tensor([[3, -4, 5]]),
    "col": lambda: torch.tensor([[2.0], [-1.0]]),
}


@pytest.mark.parametrize("cmd", sorted(BINARY))
@pytest.mark.parametrize(
    "left, right", [("f32", "f32"), ("f32", "col"), ("i64", "f32"), ("f64", "i64"), ("i64", "i64")]
)
def test_binary_tensor_tensor(interp, cmd, left, right):
    a, b = OPERANDS[left](), OPERANDS[right]()
    if cmd == "tensor_pow" and left == "i64" and right == "i64":
        b = b.abs()  # integers to negative integer powers are an error in torch
    got = tcl_tensor(interp, f"torch::{cmd} {interp.put(a)} {interp.put(b)}")
    assert_same(got, BINARY[cmd](a, b), nan_equal=True)


@pytest.mark.parametrize("cmd", sorted(BINARY))
@pytest.mark.parametrize("number", ["2", "2.5", "-0.1", "1e-3"])
@pytest.mark.parametrize("operand", ["f32", "f64", "i64"])
def test_binary_with_a_number_on_either_side(interp, cmd, number, operand):
    t = OPERANDS[operand]()
    n = int(number) if number.lstrip("-").isdigit() else float(number)
    h = interp.put(t)
    assert_same(tcl_tensor(interp, f"torch::{cmd} {h} {number}"), BINARY[cmd](t, n), nan_equal=True)
    got, want = tcl_tensor(interp, f"torch::{cmd} {number} {h}"), BINARY[cmd](n, t)
    if cmd == "tensor_div":
        # torch computes number / tensor as reciprocal(tensor) * number (two roundings);
        # the command divides, which is correctly rounded: equal within one ulp
        assert got.dtype == want.dtype and got.shape == want.shape
        torch.testing.assert_close(got, want)
        n_rounded = torch.tensor(n, dtype=got.dtype).to(
            torch.float64
        )  # torch rounds a scalar to the op's dtype
        exact = (n_rounded / t.to(torch.float64)).to(got.dtype)
        assert torch.equal(got, exact)
    else:
        assert_same(got, want, nan_equal=True)


@pytest.mark.parametrize("cmd", sorted(BINARY))
def test_binary_with_two_numbers_gives_a_0d_tensor(interp, cmd):
    got = tcl_tensor(interp, f"torch::{cmd} 3 2")
    assert_same(got, BINARY[cmd](torch.tensor(3), 2), nan_equal=True)


def test_number_on_the_left_promotes_like_torch_scalars():
    t = torch.tensor([1, 2], dtype=torch.int32)
    a, b = as_tensors(5, t)
    assert a.dtype == torch.int32 and a.dim() == 0 and b is t
    a, _ = as_tensors(0.1, torch.zeros(2, dtype=torch.float64))
    assert a.dtype == torch.float64 and a.item() == 0.1  # no float32 rounding on the way


def test_add_sub_alpha(interp):
    a, b = torch.randn(3, 2), torch.randn(3, 2)
    ha, hb = interp.put(a), interp.put(b)
    assert_same(
        tcl_tensor(interp, f"torch::tensor_add {ha} {hb} 0.5"), torch.add(a, b, alpha=0.5), nan_equal=True
    )
    assert_same(
        tcl_tensor(interp, f"torch::tensorSub -input {ha} -other {hb} -alpha -2"),
        torch.sub(a, b, alpha=-2),
        nan_equal=True,
    )
    assert_same(tcl_tensor(interp, f"torch::tensor_add -input1 {ha} -input2 {hb}"), a + b, nan_equal=True)


@pytest.mark.parametrize("mode", ["trunc", "floor"])
def test_div_rounding_mode(interp, mode):
    a = torch.tensor([7, -7, 9])
    h = interp.put(a)
    assert_same(
        tcl_tensor(interp, f"torch::tensor_div {h} 2 {mode}"),
        torch.div(a, 2, rounding_mode=mode),
        nan_equal=True,
    )
    assert_same(
        tcl_tensor(interp, f"torch::tensor_div -input {h} -other 2 -roundingMode none"), a / 2, nan_equal=True
    )


@pytest.mark.parametrize(
    "shapes", [((2, 3), (3, 4)), ((3,), (3,)), ((5, 2, 3), (3,)), ((4, 2, 3), (4, 3, 2))]
)
def test_matmul(interp, shapes):
    a, b = torch.randn(*shapes[0]), torch.randn(*shapes[1])
    assert_same(
        tcl_tensor(interp, f"torch::tensor_matmul {interp.put(a)} {interp.put(b)}"),
        torch.matmul(a, b),
        nan_equal=True,
    )


# --- element-wise functions ----------------------------------------------------------------

UNARY = {
    "tensor_exp": torch.exp,
    "tensor_log": torch.log,
    "tensor_sqrt": torch.sqrt,
    "tensor_abs": torch.abs,
    "tensor_relu": torch.relu,
    "tensor_sigmoid": torch.sigmoid,
    "tensor_tanh": torch.tanh,
}


@pytest.mark.parametrize("cmd", sorted(UNARY))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unary_matches_torch(interp, cmd, dtype):
    t = torch.randn(4, 5, dtype=dtype)
    if cmd in ("tensor_log", "tensor_sqrt"):
        t = t.abs() + 0.01
    h = interp.put(t)
    assert_same(tcl_tensor(interp, f"torch::{cmd} {h}"), UNARY[cmd](t), nan_equal=True)
    alias = "tensor" + cmd[len("tensor_") :].capitalize()
    assert_same(tcl_tensor(interp, f"torch::{alias} -input {h}"), UNARY[cmd](t), nan_equal=True)


# --- reductions ---------------------------------------------------------------------------


@pytest.mark.parametrize("cmd, fn", [("tensor_sum", torch.sum), ("tensor_mean", torch.mean)])
@pytest.mark.parametrize("dim", [None, "0", "-1", "{0 2}", "{-1 -2}"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean(interp, cmd, fn, dim, keepdim):
    t = torch.randn(2, 3, 4, dtype=torch.float64)
    h = interp.put(t)
    script = f"torch::{cmd} {h}" + ("" if dim is None else f" -dim {dim}") + f" -keepdim {int(keepdim)}"
    if dim is None:
        want = fn(t).reshape([1, 1, 1]) if keepdim else fn(t)
    else:
        dims = tuple(int(d) for d in dim.strip("{}").split())
        want = fn(t, dim=dims, keepdim=keepdim)
    got = tcl_tensor(interp, script)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "cmd, fn", [("tensor_max", torch.max), ("tensor_min", torch.min), ("tensor_argmax", torch.argmax)]
)
@pytest.mark.parametrize("dim", [None, 0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_argmax(interp, cmd, fn, dim, keepdim):
    t = torch.randn(3, 4)
    h = interp.put(t)
    if dim is None:
        got = tcl_tensor(interp, f"torch::{cmd} {h} -keepdim {int(keepdim)}")
        want = fn(t)
        if keepdim:
            want = want.reshape(1, 1)
    else:
        got = tcl_tensor(interp, f"torch::{cmd} {h} {dim} {int(keepdim)}")
        want = fn(t, dim, keepdim)
        if cmd != "tensor_argmax":
            want = want.values
    assert_same(got, want, nan_equal=True)


# --- comparison, softmax --------------------------------------------------------------------


def test_eq_gives_bool(interp):
    a, b = torch.tensor([1, 2, 3]), torch.tensor([1, 0, 3])
    got = tcl_tensor(interp, f"torch::tensor_eq {interp.put(a)} {interp.put(b)}")
    assert_same(got, a == b, nan_equal=True)


@pytest.mark.parametrize(
    "cmd, fn", [("tensor_softmax", torch.softmax), ("tensor_log_softmax", torch.log_softmax)]
)
@pytest.mark.parametrize("dim", [None, 0, 1, -1, -2])
def test_softmax(interp, cmd, fn, dim):
    t = torch.randn(3, 5, dtype=torch.float64)
    h = interp.put(t)
    got = tcl_tensor(interp, f"torch::{cmd} {h}" + ("" if dim is None else f" {dim}"))
    assert_same(got, fn(t, -1 if dim is None else dim), nan_equal=True)


# --- autograd end to end -------------------------------------------------------------------


def test_two_layer_network_gradients_match_torch(interp):
    """A loss built entirely from torch:: math commands; gradients compared with torch."""
    torch.manual_seed(0)
    x = torch.randn(8, 4, dtype=torch.float64)
    labels = torch.randint(0, 3, (8,))
    w1 = torch.randn(4, 6, dtype=torch.float64) * 0.5
    b1 = torch.zeros(6, dtype=torch.float64)
    w2 = torch.randn(6, 3, dtype=torch.float64) * 0.5
    hx, hl = interp.put(x), interp.put(labels)
    names = {}
    for name, value in {"w1": w1, "b1": b1, "w2": w2}.items():
        values = interp.call("torch::tensor_to_list", interp.put(value))
        shape = " ".join(map(str, value.shape))
        names[name] = interp.eval(
            f"torch::tensor_create {{{values}}} -shape {{{shape}}} -dtype float64 -requiresGrad 1"
        )
    script = f"""
        set h [torch::tensor_relu [torch::tensor_add [torch::tensor_matmul {hx} {names["w1"]}] {names["b1"]}]]
        set logits [torch::tensor_matmul [torch::tensor_sigmoid $h] {names["w2"]}]
        set lp [torch::tensor_log_softmax $logits 1]
        set onehot [torch::tensor_eq [torch::tensor_reshape {hl} {{-1 1}}] [torch::arange 3]]
        set picked [torch::tensor_sum [torch::tensor_mul $lp [torch::tensor_to $onehot -dtype float64]] 1]
        set loss [torch::tensor_add [torch::tensor_mul -1 [torch::tensor_mean $picked]] \
                     [torch::tensor_mul 0.01 [torch::tensor_sum [torch::tensor_pow {names["w2"]} 2]]]]
        torch::tensor_backward $loss
        set loss
    """
    loss = tcl_tensor(interp, script)

    p = {k: v.clone().requires_grad_() for k, v in {"w1": w1, "b1": b1, "w2": w2}.items()}
    hidden = torch.relu(x @ p["w1"] + p["b1"])
    want = (
        torch.nn.functional.cross_entropy(torch.sigmoid(hidden) @ p["w2"], labels)
        + 0.01 * (p["w2"] ** 2).sum()
    )
    want.backward()

    torch.testing.assert_close(loss.detach(), want.detach(), rtol=1e-12, atol=1e-12)
    for name in ("w1", "b1", "w2"):
        grad = tcl_tensor(interp, f"torch::tensor_grad {names[name]}")
        torch.testing.assert_close(grad, p[name].grad, rtol=1e-12, atol=1e-12)


def test_gradient_through_number_on_the_left(interp):
    x = torch.tensor([0.5, 2.0], dtype=torch.float64, requires_grad=True)
    h = interp.put(x)
    interp.eval(f"torch::tensor_backward [torch::tensor_sum [torch::tensor_div 1 [torch::tensor_sub 3 {h}]]]")
    # d/dx 1/(3-x) = 1/(3-x)^2
    torch.testing.assert_close(x.grad, 1 / (3 - x.detach()) ** 2)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script, message, errorcode",
    [
        (
            "torch::tensor_add",
            'wrong # args: should be "torch::tensor_add input other ?alpha?"',
            ["TCL", "WRONGARGS"],
        ),
        (
            "torch::tensor_softmax [torch::ones {2}] 0 1",
            'wrong # args: should be "torch::tensor_softmax input ?dim?"',
            ["TCL", "WRONGARGS"],
        ),
        (
            "torch::tensor_sum [torch::ones {2}] -axis 0",
            'bad option "-axis": must be -input, -dim, or -keepdim',
            ["TCL", "LOOKUP", "INDEX", "option", "-axis"],
        ),
        (
            "torch::tensor_mul -input 2 -other",
            'missing value for option "-other"',
            ["TORCH", "ARGS", "MISSING", "-other"],
        ),
        (
            "torch::tensor_pow -exponent 2",
            'missing required option "-input"',
            ["TORCH", "ARGS", "REQUIRED", "-input"],
        ),
        (
            "torch::tensor_add 1 2x",
            'invalid -other "2x": must be a tensor handle or a number',
            ["TORCH", "VALUE", "-other"],
        ),
        (
            "torch::tensor_argmax [torch::ones {2}] 1.5",
            'invalid -dim "1.5": must be an integer',
            ["TORCH", "VALUE", "-dim"],
        ),
        ("torch::tensor_exp nosuch12", 'no tensor named "nosuch12"', ["TORCH", "HANDLE", "nosuch12"]),
        (
            "torch::tensor_matmul [torch::ones {2 3}] [torch::ones {2 3}]",
            re.compile(
                r"cannot multiply tensor\d+ \{2 3\} by tensor\d+ \{2 3\}: .* "
                r"\(PyTorch: mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)\)"
            ),
            ["TORCH", "RuntimeError"],
        ),
        (
            "torch::tensor_sub [torch::ones {2}] [torch::ones {3}]",
            re.compile(
                r"the shapes of tensor\d+ \{2\} and tensor\d+ \{3\} do not broadcast: .* \(PyTorch: "
                r"The size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton dimension 0\)"
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


def test_wrong_kind_operand(interp):
    lin = interp.put(torch.nn.Linear(1, 1))
    for script in (
        f"torch::tensor_add 1 {lin}",
        f"torch::tensor_matmul {lin} {lin}",
        f"torch::tensor_sum {lin}",
    ):
        assert tcl_error(interp, script) == (
            f'"{lin}" is a linear module, expected a tensor',
            ["TORCH", "HANDLE", lin],
        )


def test_torch_refusal_is_the_python_exception(interp):
    with pytest.raises(RuntimeError) as info:
        interp.eval("torch::tensor_mean [torch::arange 3]")
    assert info.value.errorcode == ["TORCH", "RuntimeError"]
    assert not isinstance(info.value, tcltorch.TclError)
