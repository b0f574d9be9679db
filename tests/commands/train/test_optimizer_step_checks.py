"""optimizer_step's checks are remembered between steps (issue 26) and run again as soon as
something they depend on changes: a parameter's dtype, its gradient's layout or dtype, or a
state tensor replaced; a step refused then changes nothing, and its message names the parameter."""

from __future__ import annotations

import pytest
import torch
from helpers import deep_equal, mlp, snapshot, tcl_error

from tcltorch.commands.train.optimizers import _CHECKED


def _backward(model: torch.nn.Module, dtype: torch.dtype = torch.float32) -> None:
    model.zero_grad()
    model(torch.randn(5, 4, dtype=dtype)).sum().backward()


@pytest.fixture
def stepped_adamw(interp):
    """An MLP and an AdamW optimizer that took two steps through torch::optimizer_step."""
    model = mlp((4, 3, 2))
    hm = interp.put(model)
    ho = interp.eval(f"torch::optimizer_adamw {hm}")
    opt = interp.get(ho)
    for _ in range(2):
        _backward(model)
        interp.eval(f"torch::optimizer_step {ho}")
    assert opt.__dict__[_CHECKED], "the second step's verdict is remembered"
    return model, opt, ho


def test_remembered_verdict_is_dropped_when_the_parameter_changes_dtype(interp, stepped_adamw):
    model, opt, ho = stepped_adamw
    model.to(torch.float64)
    _backward(model, torch.float64)
    before = snapshot(model, opt)
    message, code = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert message.startswith("cannot step: the optimizer's ") and message.endswith("nothing was changed")
    assert code == ["TORCH", "STEP"]
    assert deep_equal(snapshot(model, opt), before)


def test_replaced_state_tensor_is_checked_again(interp, stepped_adamw):
    model, opt, ho = stepped_adamw
    p = next(iter(opt.state))
    opt.state[p]["exp_avg"] = opt.state[p]["exp_avg"].double()  # the old tensor is freed
    _backward(model)
    before = snapshot(model, opt)
    message, _ = tcl_error(interp, f"torch::optimizer_step {ho}")
    shape = "{" + " ".join(map(str, p.shape)) + "}"
    assert message.startswith(
        f"cannot step: the optimizer's exp_avg state of a parameter of shape {shape} is float64 on cpu, "
        "but the parameter is now float32 on cpu"
    ), message
    assert deep_equal(snapshot(model, opt), before)


def test_gradient_changed_after_a_remembered_step_is_refused(interp, stepped_adamw):
    model, opt, ho = stepped_adamw
    _backward(model)
    p = model[0].weight
    p.grad = p.grad.to_sparse()
    before = snapshot(model, opt)
    message, _ = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert "has a sparse gradient, which AdamW does not support" in message
    assert deep_equal(snapshot(model, opt), before)


def test_message_names_the_parameter_handle(interp, stepped_adamw):
    model, _, ho = stepped_adamw
    p = model[0].weight
    hp = interp.put(p)
    _backward(model)
    p.grad = p.grad.to_sparse()
    message, _ = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert message == (
        f"cannot step: parameter {hp} has a sparse gradient, which AdamW does not support; nothing was changed"
    )


def test_same_trajectory_with_remembered_checks(interp):
    """Steps that skip the checks still step exactly as torch.optim does."""
    model, twin = mlp((4, 3, 2)), mlp((4, 3, 2))
    twin.load_state_dict(model.state_dict())
    ho = interp.eval(f"torch::optimizer_adam {interp.put(model)} 0.01")
    ref = torch.optim.Adam(twin.parameters(), lr=0.01)
    for i in range(5):
        x = torch.randn(5, 4, generator=torch.Generator().manual_seed(i))
        for m in (model, twin):
            m.zero_grad()
            m(x).sum().backward()
        interp.eval(f"torch::optimizer_step {ho}")
        ref.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)
