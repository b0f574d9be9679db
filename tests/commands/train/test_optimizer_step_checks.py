"""optimizer_step's checks are remembered between steps (issue 26) and run again as soon as
something they depend on changes: a parameter's dtype, its gradient's layout or dtype, or a
state tensor replaced; a step refused then changes nothing, and its message names the parameter."""

from __future__ import annotations

import pytest
import torch
from helpers import deep_equal, mlp, snapshot, tcl_error

from tcltorch.commands.train.optimizers import _CHECKED
from tcltorch.optim import step_memo


@pytest.fixture(autouse=True, params=["torch", "python-metadata", "state-identities"])
def memo_kind(request, monkeypatch):
    """Each test with torch's tensor guard and dict tags (the fast memo), with the parameters'
    metadata read in Python, and with the state's tensors remembered by identity (the fallbacks
    where torch lacks those helpers)."""
    if request.param != "torch":
        monkeypatch.setattr(step_memo, "_GUARDS", None)
    if request.param == "state-identities":
        monkeypatch.setattr(step_memo, "_DICT_VERSION", None)
    return request.param


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


def _step_both(interp, ho: str, models: tuple, ref: torch.optim.Optimizer, steps: int) -> None:
    """``steps`` steps on the same data: the first model through torch::optimizer_step ``ho``,
    the second through ``ref`` from Python."""
    for i in range(steps):
        x = torch.randn(5, 4, generator=torch.Generator().manual_seed(i))
        for m in models:
            m.zero_grad()
            m(x).sum().backward()
        interp.eval(f"torch::optimizer_step {ho}")
        ref.step()


def test_same_trajectory_with_remembered_checks(interp):
    """Steps that skip the checks still step exactly as torch.optim does."""
    model, twin = mlp((4, 3, 2)), mlp((4, 3, 2))
    twin.load_state_dict(model.state_dict())
    ho = interp.eval(f"torch::optimizer_adam {interp.put(model)} 0.01")
    ref = torch.optim.Adam(twin.parameters(), lr=0.01)
    _step_both(interp, ho, (model, twin), ref, 5)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-7)


def test_guard_helpers_work_on_this_torch():
    """The pinned torch has the helpers the fast memo uses, and they behave as it needs."""
    guards, tags = step_memo._probe()
    assert guards is not None and tags is not None


def _adafactor_stepped(interp, steps: int = 2, implementation: str = "foreach"):
    """Adafactor after ``steps`` steps through the command.  Its fused path checks a planned
    step itself (test_prepared_adafactor_step_skips_the_command_checks); the other paths
    take the command's checks, which these tests are about."""
    model = mlp((4, 3, 2))
    ho = interp.eval(f"torch::optimizer_adafactor {interp.put(model)} -implementation {implementation}")
    opt = interp.get(ho)
    for _ in range(steps):
        _backward(model)
        interp.eval(f"torch::optimizer_step {ho}")
    return model, opt, ho


def test_adafactor_verdict_outlives_its_own_steps(interp):
    """Adafactor counts steps in Python ints (each step rewrites its state dicts): the memo takes
    the state a step left, so the next step's checks are skipped, and still run when the model changes."""
    model, opt, ho = _adafactor_stepped(interp, steps=3)
    memo = opt.__dict__[_CHECKED]
    _backward(model)
    assert memo.holds(opt, *step_memo.stepped(opt))
    model.to(torch.float64)
    _backward(model, torch.float64)
    assert not memo.holds(opt, *step_memo.stepped(opt))
    before = snapshot(model, opt)
    message, code = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert message.startswith("cannot step: the optimizer's ") and message.endswith("nothing was changed")
    assert code == ["TORCH", "STEP"]
    assert deep_equal(snapshot(model, opt), before)


def test_adafactor_state_replaced_between_steps_is_checked_again(interp):
    model, opt, ho = _adafactor_stepped(interp)
    p = model[0].weight
    opt.state[p]["row"] = opt.state[p]["row"].double()
    _backward(model)
    before = snapshot(model, opt)
    message, _ = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert "the optimizer's row state of a parameter of shape {3 4} is float64 on cpu" in message
    assert deep_equal(snapshot(model, opt), before)


def test_step_taken_outside_the_command_is_checked_again(interp, memo_kind):
    """An Adafactor step from Python between two torch::optimizer_step calls rewrites the state
    dicts the memo saw (with dict tags the next check runs in full); the steps go on."""
    model, opt, ho = _adafactor_stepped(interp)
    memo = opt.__dict__[_CHECKED]
    _backward(model)
    opt.step()
    _backward(model)
    assert memo.holds(opt, *step_memo.stepped(opt)) == (memo_kind == "state-identities")
    interp.eval(f"torch::optimizer_step {ho}")
    assert all(st["step"] == 4 for st in opt.state.values())


@pytest.mark.parametrize("kind", ["adamw", "adafactor", "sgd"])
def test_counters_made_by_a_checked_step_are_put_back(interp, kind, monkeypatch, memo_kind):
    """The first step through the command makes the state (AdamW's 0-d step counters); a second
    step that skips the checks and fails part-way puts those counters back."""
    model = mlp((4, 3, 2))
    extra = {"sgd": " -momentum 0.9", "adafactor": " -implementation foreach"}.get(kind, "")
    ho = interp.eval(f"torch::optimizer_{kind} {interp.put(model)}{extra}")
    opt = interp.get(ho)
    _backward(model)
    interp.eval(f"torch::optimizer_step {ho}")
    _backward(model)
    if memo_kind != "state-identities":  # (identities: the first step's new state is checked again)
        assert opt.__dict__[_CHECKED].holds(opt, *step_memo.stepped(opt)), "the second step skips the checks"
    before = snapshot(model, opt)

    def failing(*args, **kwargs):
        for st in opt.state.values():
            if "step" in st:
                st["step"] += 1  # in place for a tensor counter, as torch's own steps do
        raise RuntimeError("simulated")

    monkeypatch.setattr(opt, "step", failing)
    with pytest.raises(Exception, match="simulated"):
        interp.eval(f"torch::optimizer_step {ho}")
    monkeypatch.undo()
    assert deep_equal(snapshot(model, opt), before)
    interp.eval(f"torch::optimizer_step {ho}")  # and the next step works


def test_sparse_gradients_are_remembered_too(interp):
    """SGD takes sparse gradients (torch::embedding -sparse 1): the guard cannot take them, and
    the metadata read in Python stands in."""
    emb = torch.nn.Embedding(5, 3, sparse=True)
    ho = interp.eval(f"torch::optimizer_sgd {interp.put(emb)} 0.1")
    opt = interp.get(ho)
    ref = emb.weight.detach().clone()
    for i in range(3):
        opt.zero_grad()
        emb(torch.tensor([i, 4])).sum().backward()
        interp.eval(f"torch::optimizer_step {ho}")
    assert isinstance(opt.__dict__[_CHECKED].guard, step_memo._PythonGuard)
    expected = ref.clone()
    for i in range(3):
        expected[[i, 4]] -= 0.1
    assert torch.allclose(emb.weight.detach(), expected)


@pytest.mark.parametrize("enabled", [1, 0])
def test_grad_scaler_step_leaves_a_memo_that_holds(interp, enabled, memo_kind):
    """grad_scaler_step tells the memo the state its step left, as optimizer_step does, so the
    next step's checks are skipped until something changes (enabled and disabled scalers)."""
    model = mlp((4, 3, 2))
    hm = interp.put(model)
    ho = interp.eval(f"torch::optimizer_adafactor {hm}")
    hs = interp.eval(f"torch::grad_scaler_new -enabled {enabled}")
    opt = interp.get(ho)
    for _ in range(2):
        model.zero_grad()
        loss = interp.put(model(torch.randn(5, 4)).sum())
        interp.eval(f"torch::tensor_backward [torch::grad_scaler_scale {hs} {loss}]")
        assert interp.eval(f"torch::grad_scaler_step {hs} {ho}") == "1"
        interp.eval(f"torch::grad_scaler_update {hs}")
    memo = opt.__dict__[_CHECKED]
    _backward(model)
    assert memo.holds(opt, *step_memo.stepped(opt)), "the next step skips the checks"


@pytest.mark.parametrize("implementation", ["auto", "fused"])
def test_prepared_adafactor_step_skips_the_command_checks(interp, implementation, monkeypatch):
    """Once its groups have native plans, Adafactor checks each whole step itself
    (Adafactor._prepare_step): the command's checks do not run, and the steps match the
    engine's own from Python.  A changed model is refused as before, nothing changed; a
    replaced ``step`` (not an LR scheduler's note of the call) or a pre-hook takes the checks."""
    from tcltorch.commands.train import optimizers
    from tcltorch.optim.adafactor.fused import fused_library

    if fused_library() is None:
        pytest.skip("the native Adafactor library is not built here")
    model, opt, ho = _adafactor_stepped(interp, steps=2, implementation=implementation)
    twin = mlp((4, 3, 2))
    twin.load_state_dict(model.state_dict())
    ref = type(opt)(twin.parameters(), implementation=implementation)
    ref.load_state_dict(opt.state_dict())
    checks: list[object] = []
    real = optimizers.check_step
    monkeypatch.setattr(optimizers, "check_step", lambda *a: checks.append(a) or real(*a))
    _step_both(interp, ho, (model, twin), ref, 3)
    assert checks == [] and opt.last_implementation == "fused"
    assert "_prepared_plans" not in opt.__dict__
    for a, b in zip(model.parameters(), twin.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert [st["step"] for st in opt.state.values()] == [5] * 4
    # an LR scheduler wraps step to note the call: still the engine's check
    interp.eval(f"torch::lr_scheduler_step {ho} 10")
    assert getattr(opt.step, "_wrapped_by_lr_sched", False), "torch notes the calls of a scheduled step"
    _backward(model)
    interp.eval(f"torch::optimizer_step {ho}")
    assert checks == []
    # a pre-hook could change what was checked: the command's checks run
    handle = opt.register_step_pre_hook(lambda *_: None)
    _backward(model)
    interp.eval(f"torch::optimizer_step {ho}")
    handle.remove()
    assert len(checks) == 1
    # a changed model: refused, nothing changed
    model.to(torch.float64)
    _backward(model, torch.float64)
    assert opt._prepare_step() is False
    before = snapshot(model, opt)
    message, code = tcl_error(interp, f"torch::optimizer_step {ho}")
    assert message.startswith("cannot step: the optimizer's ") and message.endswith("nothing was changed")
    assert code == ["TORCH", "STEP"]
    assert deep_equal(snapshot(model, opt), before)
