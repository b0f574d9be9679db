"""A step PyTorch refuses after the checks (issue 20): a Tcl message naming the optimizer handle,
and grad_scaler_step leaves the gradients scaled and the scaler ready for the next unscale."""

from __future__ import annotations

import pytest
import torch

import tcltorch


class FailingSGD(torch.optim.SGD):
    """An optimizer whose step fails inside PyTorch, past every check tcltorch makes."""

    def step(self, closure=None):
        raise RuntimeError("expected dtype float for `end` but got dtype double")


@pytest.fixture
def failing_sgd(interp):
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    opt = FailingSGD([w], lr=0.1)
    return interp, interp.put(w), interp.put(opt), w


def test_optimizer_step_names_the_handle(failing_sgd):
    interp, hw, hopt, _w = failing_sgd
    interp.eval(f"torch::tensor_backward [torch::tensor_sum [torch::tensor_mul {hw} {hw}]]")
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::optimizer_step {hopt}")
    message = info.value.message
    assert message.startswith(f"{hopt} (FailingSGD) could not step: its parameters, gradients and running")
    assert message.endswith("(PyTorch: expected dtype float for `end` but got dtype double)")
    assert info.value.errorcode == ["TORCH", "STEP"]


def test_grad_scaler_step_failure_restores_gradients_and_stage(failing_sgd):
    interp, hw, hopt, w = failing_sgd
    scaler = interp.eval("torch::grad_scaler_new -initScale 4096 -deviceType cpu")
    interp.eval(
        f"torch::tensor_backward [torch::grad_scaler_scale {scaler} [torch::tensor_sum [torch::tensor_mul {hw} {hw}]]]"
    )
    before = w.grad.clone()
    torch.testing.assert_close(before, torch.tensor([8192.0, 16384.0]))
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::grad_scaler_step {scaler} {hopt}")
    assert info.value.message.startswith(f"{hopt} (FailingSGD) could not step:")
    torch.testing.assert_close(w.grad, before, rtol=0, atol=0)  # not left divided by the scale
    interp.eval(f"torch::grad_scaler_unscale {scaler} {hopt}")  # the scaler is ready again
    torch.testing.assert_close(w.grad, torch.tensor([2.0, 4.0]))
    torch.testing.assert_close(w.detach(), torch.tensor([1.0, 2.0]))
