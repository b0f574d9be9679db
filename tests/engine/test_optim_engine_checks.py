"""The optimizer engine's fixes of issues 20 and 26: 0-d float64 parameters on every Adafactor
implementation, -globalClipNorm's precision, the LBFGS/skip_non_finite rule, state-dict checks."""

from __future__ import annotations

import copy
import math

import pytest
import torch

import tcltorch.optim.adafactor as engine
from tcltorch.optim import Adafactor, check_optimizer_state, extras
from tcltorch.optim.lamb import Lamb
from tcltorch.optim.novograd import NovoGrad
from tcltorch.optim.state_checks import MAX_STEP, check_step

# every option away from its default
ALL_OPTIONS = {
    "lr": 0.5,
    "eps2": 1e-20,
    "clip_threshold": 0.7,
    "decay_rate": -0.5,
    "beta1": 0.9,
    "weight_decay": 0.1,
    "eps_scale": 1e-2,
    "relative_step": True,
    "scale_parameter": True,
    "warmup_init": True,
    "maximize": True,
}


def run_zero_d(impl: str, steps: int = 3) -> tuple[torch.Tensor, Adafactor]:
    p = torch.nn.Parameter(torch.tensor(1.5, dtype=torch.float64))
    opt = Adafactor([p], implementation=impl, **ALL_OPTIONS)
    for i in range(steps):
        p.grad = torch.tensor(0.3 + i, dtype=torch.float64)
        opt.step()
    return p.detach(), opt


@pytest.mark.parametrize(
    "impl",
    ["reference", "foreach", "fused", "auto", pytest.param("compiled", marks=pytest.mark.slow)],
)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit notices raised inside Inductor
def test_zero_d_float64_parameter_steps_like_the_reference(impl):
    ref, _ = run_zero_d("reference")
    got, opt = run_zero_d(impl)
    if impl == "compiled" and opt.resolved_implementation() != "compiled":
        why = str(engine._COMPILE_BROKEN[0])[:300] if engine._COMPILE_BROKEN else "?"
        pytest.skip(f"torch.compile does not work here: {why}")
    moved, expected = got.item() - 1.5, ref.item() - 1.5
    assert abs(expected) > 1e-8
    assert moved != 0.0
    assert math.isclose(moved, expected, rel_tol=1e-9)
    assert math.isclose(
        opt.state[opt.param_groups[0]["params"][0]]["exp_avg"].item(),
        run_zero_d("reference")[1].state_dict()["state"][0]["exp_avg"].item(),
        rel_tol=1e-9,
    )


# --------------------------------------------------------------------------- global clip norm


def test_global_clip_norm_is_float64_for_float64_gradients():
    gen = torch.Generator().manual_seed(3)
    grads = [torch.randn(s, generator=gen, dtype=torch.float64) * 1e3 for s in [(300, 70), (513,), ()]]
    want = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads]))
    got = extras.global_norm(grads)
    assert got.dtype == torch.float64
    assert abs(got.item() - want.item()) <= 1e-13 * want.item()
    # the clipped gradients too: g * c / N, in float64
    clipped = [g.clone() for g in grads]
    extras.clip_by_global_norm(clipped, 1.0)
    for c, g in zip(clipped, grads):
        assert torch.allclose(c, g / want, rtol=1e-13, atol=0)


def test_global_clip_norm_mixed_precisions_use_float64():
    grads = [torch.full((1000,), 0.1, dtype=torch.float32), torch.full((7,), 1.0 / 3, dtype=torch.float64)]
    want = math.sqrt(sum(float(x) ** 2 for g in grads for x in g.double().tolist()))
    got = extras.global_norm(grads)
    assert got.dtype == torch.float64 and abs(got.item() - want) <= 1e-12 * want


def test_global_clip_norm_stays_float32_for_float32_gradients():
    grads = [torch.randn(50), torch.randn(4, 5)]
    got = extras.global_norm(grads)
    want = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads]).double())
    assert got.dtype == torch.float32 and abs(got.item() - want.item()) <= 1e-6 * want.item()


def test_global_clip_norm_option_steps_float64_parameters_exactly():
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.randn(20, 30, dtype=torch.float64)) for _ in range(2)]
    grads = [torch.randn(20, 30, dtype=torch.float64) * 10 for _ in ps]
    opt = extras.attach(torch.optim.SGD(ps, lr=1.0), global_clip_norm=2.0)
    before = [p.detach().clone() for p in ps]
    for p, g in zip(ps, grads):
        p.grad = g.clone()
    opt.step()
    norm = torch.linalg.vector_norm(torch.cat([g.reshape(-1) for g in grads]))
    for p, b, g in zip(ps, before, grads):
        assert torch.allclose(p.detach(), b - g * (2.0 / norm), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- LBFGS rule


def test_skip_non_finite_refused_for_lbfgs_before_and_after_construction():
    with pytest.raises(ValueError, match="skip_non_finite is not supported by LBFGS"):
        extras.check_supported(torch.optim.LBFGS, {"skip_non_finite": True})
    extras.check_supported(torch.optim.LBFGS, {"skip_non_finite": False, "clip_norm": 1.0})
    extras.check_supported(torch.optim.Adam, {"skip_non_finite": True})
    opt = torch.optim.LBFGS([torch.nn.Parameter(torch.ones(2))])
    with pytest.raises(ValueError, match="skip_non_finite is not supported by LBFGS"):
        extras.attach(opt, skip_non_finite=True)
    assert not extras.has_extras(opt) and "skip_non_finite" not in opt.param_groups[0]


# --------------------------------------------------------------------------- state checks


def stepped_engine(make, shapes=((3, 4), (5,), (2, 3, 4)), steps=2):
    torch.manual_seed(1)
    ps = [torch.nn.Parameter(torch.randn(s)) for s in shapes]
    opt = make(ps)
    for _ in range(steps):
        for p in ps:
            p.grad = torch.randn_like(p)
        opt.step(lambda: torch.tensor(0.0)) if isinstance(opt, torch.optim.LBFGS) else opt.step()
    return ps, opt


CLASSES = {
    "Adafactor": lambda ps: Adafactor(ps, beta1=0.9),
    "Adafactor-nomomentum": lambda ps: Adafactor(ps),
    "Adam": lambda ps: torch.optim.Adam(ps),
    "Adam-amsgrad": lambda ps: torch.optim.Adam(ps, amsgrad=True),
    "AdamW": lambda ps: torch.optim.AdamW(ps),
    "SGD": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "SGD-momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    "RMSprop": lambda ps: torch.optim.RMSprop(ps, momentum=0.5, centered=True),
    "Adagrad": lambda ps: torch.optim.Adagrad(ps),
    "Adamax": lambda ps: torch.optim.Adamax(ps),
    "NAdam": lambda ps: torch.optim.NAdam(ps),
    "RAdam": lambda ps: torch.optim.RAdam(ps),
    "Adadelta": lambda ps: torch.optim.Adadelta(ps),
    "ASGD": lambda ps: torch.optim.ASGD(ps),
    "Rprop": lambda ps: torch.optim.Rprop(ps),
    "Lamb": lambda ps: Lamb(ps),
    "NovoGrad": lambda ps: NovoGrad(ps),
    "LBFGS": lambda ps: torch.optim.LBFGS(ps),
}


@pytest.mark.parametrize("name", list(CLASSES))
def test_saved_state_passes_its_own_check(name):
    _, opt = stepped_engine(CLASSES[name])
    state = opt.state_dict()
    check_optimizer_state(opt, state)
    check_optimizer_state(opt, copy.deepcopy(state))


@pytest.mark.parametrize(
    "name", ["Adafactor", "Adam", "Adam-amsgrad", "RMSprop", "NAdam", "Lamb", "NovoGrad"]
)
def test_a_missing_entry_is_refused(name):
    _, opt = stepped_engine(CLASSES[name])
    state = copy.deepcopy(opt.state_dict())
    key = next(k for k in state["state"][0] if k != "step")
    del state["state"][0][key]
    with pytest.raises(ValueError, match=f"parameter 0 is missing its {key} state"):
        check_optimizer_state(opt, state)


@pytest.mark.parametrize("name", ["Adafactor", "Adam", "Adagrad", "Lamb"])
def test_a_wrong_shape_is_refused(name):
    _, opt = stepped_engine(CLASSES[name])
    state = copy.deepcopy(opt.state_dict())
    key = next(k for k in state["state"][2] if k != "step")
    state["state"][2][key] = torch.zeros(7)
    with pytest.raises(ValueError, match=rf"the {key} state of parameter 2 has shape \(7\), expected"):
        check_optimizer_state(opt, state)


def test_adafactor_factored_shapes_and_dtypes():
    _, opt = stepped_engine(CLASSES["Adafactor"])
    state = copy.deepcopy(opt.state_dict())
    assert state["state"][2]["row"].shape == (2, 3) and state["state"][2]["col"].shape == (2, 4)
    state["state"][2]["row"] = torch.zeros(2, 4)
    with pytest.raises(ValueError, match=r"row state of parameter 2 has shape \(2, 4\), expected \(2, 3\)"):
        Adafactor.check_state_dict(state, [p for g in opt.param_groups for p in g["params"]])
    state = copy.deepcopy(opt.state_dict())
    state["state"][1]["v"] = torch.zeros(5, dtype=torch.int64)
    with pytest.raises(ValueError, match="v state of parameter 1 is int64, expected a floating-point tensor"):
        check_optimizer_state(opt, state)
    state = copy.deepcopy(opt.state_dict())
    state["state"][1]["v"] = [0.0] * 5
    with pytest.raises(ValueError, match="v state of parameter 1 is not a tensor"):
        check_optimizer_state(opt, state)
    state = copy.deepcopy(opt.state_dict())
    state["state"][1]["bogus"] = torch.zeros(5)
    with pytest.raises(ValueError, match="parameter 1 is unexpected bogus state"):
        check_optimizer_state(opt, state)


@pytest.mark.parametrize("step", [10**30, 2**53, -1, 1.5, float("nan"), float("inf"), "3", None, True])
def test_bad_adafactor_step_is_refused_and_nothing_changes(step):
    ps, opt = stepped_engine(CLASSES["Adafactor"])
    good = copy.deepcopy(opt.state_dict())
    bad = copy.deepcopy(good)
    bad["state"][0]["step"] = step
    with pytest.raises(ValueError, match="the step count of parameter 0 is .*must be a whole number"):
        opt.load_state_dict(bad)
    assert opt.state[ps[0]]["step"] == 2 and torch.equal(opt.state[ps[0]]["row"], good["state"][0]["row"])
    for p in ps:  # and the optimizer still steps
        p.grad = torch.ones_like(p)
    opt.step()
    assert opt.state[ps[0]]["step"] == 3


def test_largest_step_loads_and_steps():
    ps, opt = stepped_engine(CLASSES["Adafactor"])
    state = copy.deepcopy(opt.state_dict())
    for entry in state["state"].values():
        entry["step"] = MAX_STEP - 2
    opt.load_state_dict(state)
    for p in ps:
        p.grad = torch.ones_like(p)
    opt.step()
    assert opt.state[ps[0]]["step"] == MAX_STEP - 1
    assert all(torch.isfinite(p).all() for p in ps)


def test_torch_tensor_steps_are_checked():
    _, opt = stepped_engine(CLASSES["Adam"])
    state = copy.deepcopy(opt.state_dict())
    state["state"][1]["step"] = torch.tensor(float(2**60))
    with pytest.raises(ValueError, match="the step count of parameter 1 is .* < 2\\*\\*53"):
        check_optimizer_state(opt, state)
    state["state"][1]["step"] = torch.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="the step count of parameter 1 is .*must be a whole number"):
        check_optimizer_state(opt, state)


def test_check_step_rules():
    for ok in (0, 1, 2**53 - 1, 5.0, torch.tensor(3.0), torch.tensor(7)):
        check_step(ok)
    for bad in (-0.5, 2**53, float("nan"), torch.tensor(True), torch.tensor(1 + 1j), "1"):
        with pytest.raises(ValueError, match="must be a whole number"):
            check_step(bad)


def test_layout_and_counts_are_checked():
    _, opt = stepped_engine(CLASSES["Adam"])
    state = opt.state_dict()
    with pytest.raises(ValueError, match="not an optimizer state dict"):
        check_optimizer_state(opt, {"state": {}})
    with pytest.raises(ValueError, match="parameter groups of \\{2\\} parameters, the optimizer \\{3\\}"):
        check_optimizer_state(
            opt, {**state, "param_groups": [{**state["param_groups"][0], "params": [0, 1]}]}
        )
    dup = copy.deepcopy(state)
    dup["param_groups"][0]["params"] = [0, 0, 1]
    with pytest.raises(ValueError, match="parameter ids are not distinct integers"):
        check_optimizer_state(opt, dup)
    unknown = copy.deepcopy(state)
    unknown["state"][9] = unknown["state"][0]
    with pytest.raises(ValueError, match="state for an unknown parameter 9"):
        check_optimizer_state(opt, unknown)


def test_ema_state_is_allowed_only_with_use_ema():
    ps = [torch.nn.Parameter(torch.randn(3, 2))]
    opt = extras.attach(Adafactor(ps), use_ema=True)
    ps[0].grad = torch.ones_like(ps[0])
    opt.step()
    state = opt.state_dict()
    assert "ema" in state["state"][0]
    check_optimizer_state(opt, state)
    plain = Adafactor([torch.nn.Parameter(torch.randn(3, 2))])
    no_ema = copy.deepcopy(state)
    no_ema["param_groups"][0].pop("use_ema")
    with pytest.raises(ValueError, match="unexpected ema state"):
        Adafactor.check_state_dict(no_ema, [p for g in plain.param_groups for p in g["params"]])


def test_sgd_without_momentum_keeps_no_state_and_a_none_buffer_is_fine():
    _, opt = stepped_engine(CLASSES["SGD"])
    state = copy.deepcopy(opt.state_dict())
    state["state"][0] = {"momentum_buffer": None}
    check_optimizer_state(opt, state)
    _, opt = stepped_engine(CLASSES["SGD-momentum"])
    state = copy.deepcopy(opt.state_dict())
    state["state"][0]["momentum_buffer"] = torch.zeros(3, 4, dtype=torch.int32)
    with pytest.raises(ValueError, match="momentum_buffer state of parameter 0 is int32"):
        check_optimizer_state(opt, state)
