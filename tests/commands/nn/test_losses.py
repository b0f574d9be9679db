"""Loss commands through the Python host, compared with torch.nn.functional."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import tcl_error

torch.manual_seed(1234)
X = torch.randn(6, 4, dtype=torch.float64)
Y = torch.randn(6, 4, dtype=torch.float64)
P = torch.rand(6, 4, dtype=torch.float64).clamp(0.05, 0.95)
T01 = (torch.rand(6, 4) > 0.5).double()
LOGITS = torch.randn(5, 3, dtype=torch.float64)
CLASSES = torch.tensor([0, 2, 1, 1, 0])
LOGP = torch.log_softmax(LOGITS, dim=1)


def loss(interp, script: str, **tensors: torch.Tensor) -> torch.Tensor:
    for name, value in tensors.items():
        interp.eval(f"set {name} {interp.put(value)}")
    return interp.get(interp.eval(script))


REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "command, fn, a, b",
    [
        ("mse_loss", F.mse_loss, X, Y),
        ("l1_loss", F.l1_loss, X, Y),
        ("smooth_l1_loss", F.smooth_l1_loss, X, Y),
        ("bce_loss", F.binary_cross_entropy, P, T01),
        ("bce_with_logits_loss", F.binary_cross_entropy_with_logits, X, T01),
        ("cross_entropy_loss", F.cross_entropy, LOGITS, CLASSES),
        ("nll_loss", F.nll_loss, LOGP, CLASSES),
    ],
)
def test_reductions_match_functional(interp, command, fn, a, b, reduction):
    positional = loss(interp, f"torch::{command} $a $b -reduction {reduction}", a=a, b=b)
    named = loss(interp, f"torch::{command} -input $a -target $b -reduction {reduction}", a=a, b=b)
    expected = fn(a, b, reduction=reduction)
    torch.testing.assert_close(positional, expected)
    torch.testing.assert_close(named, expected)


def test_default_reduction_is_mean_and_result_is_0d(interp):
    out = loss(interp, "torch::mse_loss $a $b", a=X, b=Y)
    assert out.shape == () and torch.equal(out, F.mse_loss(X, Y))


def test_positional_reduction_slots(interp):
    torch.testing.assert_close(
        loss(interp, "torch::mse_loss $a $b sum", a=X, b=Y), F.mse_loss(X, Y, reduction="sum")
    )
    w = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(
        loss(interp, "torch::cross_entropy_loss $a $b $w sum", a=LOGITS, b=CLASSES, w=w),
        F.cross_entropy(LOGITS, CLASSES, weight=w, reduction="sum"),
    )
    torch.testing.assert_close(
        loss(interp, "torch::nll_loss $a $b {} none", a=LOGP, b=CLASSES),
        F.nll_loss(LOGP, CLASSES, reduction="none"),
    )


@pytest.mark.parametrize("beta", [0.0, 0.3, 1.0, 2.5])
def test_smooth_l1_beta(interp, beta):
    torch.testing.assert_close(
        loss(interp, f"torch::smoothL1Loss $a $b -beta {beta}", a=X, b=Y), F.smooth_l1_loss(X, Y, beta=beta)
    )


def test_bce_weight_and_pos_weight(interp):
    w = torch.rand(6, 4, dtype=torch.float64)
    pw = torch.tensor([1.0, 2.0, 3.0, 0.5], dtype=torch.float64)
    torch.testing.assert_close(
        loss(interp, "torch::bce_loss $a $b -weight $w", a=P, b=T01, w=w),
        F.binary_cross_entropy(P, T01, weight=w),
    )
    torch.testing.assert_close(
        loss(interp, "torch::bceWithLogitsLoss $a $b $w sum -posWeight $pw", a=X, b=T01, w=w, pw=pw),
        F.binary_cross_entropy_with_logits(X, T01, weight=w, reduction="sum", pos_weight=pw),
    )


def test_cross_entropy_options(interp):
    w = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    got = loss(
        interp,
        "torch::crossEntropyLoss -input $a -target $b -weight $w -ignoreIndex 1 -labelSmoothing 0.2",
        a=LOGITS,
        b=CLASSES,
        w=w,
    )
    torch.testing.assert_close(
        got, F.cross_entropy(LOGITS, CLASSES, weight=w, ignore_index=1, label_smoothing=0.2)
    )


def test_nll_options(interp):
    w = torch.tensor([0.2, 1.0, 3.0], dtype=torch.float64)
    got = loss(interp, "torch::nllLoss $a $b $w -ignoreIndex 0", a=LOGP, b=CLASSES, w=w)
    torch.testing.assert_close(got, F.nll_loss(LOGP, CLASSES, weight=w, ignore_index=0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32, torch.int16, torch.uint8])
def test_class_targets_of_other_dtypes_are_converted(interp, dtype):
    target = CLASSES.to(dtype)
    expected = F.cross_entropy(LOGITS, CLASSES)
    torch.testing.assert_close(loss(interp, "torch::cross_entropy_loss $a $b", a=LOGITS, b=target), expected)
    torch.testing.assert_close(
        loss(interp, "torch::nll_loss $a $b", a=LOGP, b=target), F.nll_loss(LOGP, CLASSES)
    )


def test_cross_entropy_with_class_probabilities(interp):
    probs = torch.softmax(torch.randn(5, 3, dtype=torch.float64), dim=1)
    torch.testing.assert_close(
        loss(interp, "torch::cross_entropy_loss $a $b", a=LOGITS, b=probs), F.cross_entropy(LOGITS, probs)
    )
    # float32 probabilities with a float64 input get the input's dtype
    torch.testing.assert_close(
        loss(interp, "torch::cross_entropy_loss $a $b", a=LOGITS, b=probs.float()),
        F.cross_entropy(LOGITS, probs.float().double()),
    )


def test_tcl_made_int64_targets_work(interp):
    interp.eval("set logits [torch::tensor_create {{1 2 3} {1 2 3} {3 2 1}}]")
    got = interp.get(
        interp.eval("torch::cross_entropy_loss $logits [torch::tensor_create {0 2 1} -dtype int64]")
    )
    logits = torch.tensor([[1.0, 2, 3], [1, 2, 3], [3, 2, 1]])
    torch.testing.assert_close(got, F.cross_entropy(logits, torch.tensor([0, 2, 1])))


def test_elementwise_targets_follow_torch_promotion(interp):
    # a floating target keeps its dtype: torch's promotion decides the loss's (issue 20);
    # an integer target takes the input's dtype
    a = X.float()
    got = loss(interp, "torch::mse_loss $a $b", a=a, b=Y)
    assert got.dtype == F.mse_loss(a, Y).dtype == torch.float64
    torch.testing.assert_close(got, F.mse_loss(a, Y))
    got = loss(interp, "torch::l1_loss $a $b", a=X, b=torch.ones(6, 4, dtype=torch.int64))
    torch.testing.assert_close(got, F.l1_loss(X, torch.ones(6, 4, dtype=torch.float64)))


def test_gradients_flow_through_the_loss(interp):
    a = X.clone().requires_grad_(True)
    out = loss(interp, "torch::mse_loss $a $b", a=a, b=Y)
    interp.eval(f"torch::tensor_backward {interp.put(out)}")
    torch.testing.assert_close(a.grad, 2 * (X - Y) / X.numel())


@pytest.mark.parametrize(
    "script, tensors, errorcode, text",
    [
        (
            "torch::mse_loss $a $b median",
            {"a": X, "b": Y},
            ["TORCH", "VALUE", "-reduction"],
            "must be mean, sum, or none",
        ),
        (
            "torch::l1_loss $a $b",
            {"a": X, "b": Y[:, :2]},
            ["TORCH", "VALUE", "-target"],
            "must have the input's shape",
        ),
        ("torch::mse_loss $a $b", {"a": X, "b": Y[0]}, ["TORCH", "VALUE", "-target"], "got {4}"),
        (
            "torch::bce_loss $a $b",
            {"a": CLASSES.double(), "b": CLASSES.double()},
            ["TORCH", "RuntimeError"],
            "between 0",
        ),
        (
            "torch::mse_loss $a $b",
            {"a": CLASSES, "b": CLASSES},
            ["TORCH", "VALUE", "-input"],
            "floating-point",
        ),
        (
            "torch::cross_entropy_loss $a $b",
            {"a": LOGITS, "b": CLASSES + 0.5},
            ["TORCH", "VALUE", "-target"],
            "whole",
        ),
        (
            "torch::nll_loss $a $b",
            {"a": LOGP, "b": torch.full((5,), float("nan"))},
            ["TORCH", "VALUE", "-target"],
            "whole",
        ),
        (
            "torch::cross_entropy_loss $a $b sum",
            {"a": LOGITS, "b": CLASSES},
            ["TORCH", "VALUE", "-weight"],
            "-reduction sum",
        ),
        ("torch::cross_entropy_loss $a $b $a", {"a": LOGITS, "b": CLASSES}, ["TORCH", "RuntimeError"], ""),
        (
            "torch::cross_entropy_loss $a $b -labelSmoothing -0.1",
            {"a": LOGITS, "b": CLASSES},
            ["TORCH", "VALUE", "-labelSmoothing"],
            "",
        ),
        ("torch::smooth_l1_loss $a $b -beta inf", {"a": X, "b": Y}, ["TORCH", "VALUE", "-beta"], ""),
        (
            "torch::bce_with_logits_loss $a $b -posWeight",
            {"a": X, "b": T01},
            ["TORCH", "ARGS", "MISSING", "-posWeight"],
            "",
        ),
        ("torch::nll_loss -input $a", {"a": LOGP}, ["TORCH", "ARGS", "REQUIRED", "-target"], ""),
        (
            "torch::mse_loss $a",
            {"a": X},
            ["TCL", "WRONGARGS"],
            'should be "torch::mse_loss input target ?reduction?"',
        ),
        (
            "torch::mse_loss $a $b -size 2",
            {"a": X, "b": Y},
            ["TCL", "LOOKUP", "INDEX", "option", "-size"],
            "bad option",
        ),
        ("torch::mse_loss $a [torch::relu]", {"a": X}, ["TORCH", "HANDLE"], "expected a tensor"),
    ],
)
def test_errors(interp, script, tensors, errorcode, text):
    message, code = tcl_error(interp, script, **tensors)
    assert code[: len(errorcode)] == errorcode, message
    assert text in message


def test_weights_take_the_input_dtype(interp):
    w = torch.tensor([1, 2, 3])  # int64 class weights
    a = LOGITS.float()
    got = loss(interp, "torch::cross_entropy_loss $a $b $w", a=a, b=CLASSES, w=w)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, F.cross_entropy(a, CLASSES, weight=w.float()))
    pw = torch.tensor([2.0, 1.0, 1.0, 3.0], dtype=torch.float64)
    got = loss(interp, "torch::bce_with_logits_loss $a $b -posWeight $pw", a=X.float(), b=T01, pw=pw)
    torch.testing.assert_close(got, F.binary_cross_entropy_with_logits(X.float(), T01, pos_weight=pw.float()))
