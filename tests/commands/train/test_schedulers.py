"""LR scheduler commands: over 12 steps each gives the lr sequence of its PyTorch counterpart
(or of the reference formula: HF's warmup schedules, Noam, Keras ExponentialDecay) to 1e-12."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import deep_equal, tcl_only_error
from torch.optim import lr_scheduler as lrs

import tcltorch

EPOCHS = 12
BASE_LR = 0.1


def _optimizer(kind="sgd"):
    w = torch.zeros(3, requires_grad=True)
    if kind == "adam":
        return torch.optim.Adam([w], lr=BASE_LR)
    return torch.optim.SGD([w], lr=BASE_LR, momentum=0.9)


def _hf_linear(warmup, total):
    def f(step):
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return f


def _hf_inverse_sqrt(warmup):
    def f(step):
        if step < warmup:
            return step / max(1, warmup)
        return 1.0 / math.sqrt(step / warmup)

    return f


def _noam(d, warmup):
    def f(step):
        step = max(step, 1)
        return d**-0.5 * min(step**-0.5, step * warmup**-1.5)

    return f


CASES = [
    # (Tcl words after the optimizer, the torch scheduler on an identical optimizer)
    ("lr_scheduler_step", "3 0.5", lambda o: lrs.StepLR(o, 3, 0.5)),
    ("lr_scheduler_step", "-stepSize 2", lambda o: lrs.StepLR(o, 2)),
    ("lr_scheduler_exponential", "0.9", lambda o: lrs.ExponentialLR(o, 0.9)),
    ("lr_scheduler_exponential", "", lambda o: lrs.ExponentialLR(o, 0.95)),
    ("lr_scheduler_exponential_decay", "0.8", lambda o: lrs.ExponentialLR(o, 0.8)),
    (
        "lr_scheduler_exponential_decay",
        "0.5 -decaySteps 4 -staircase 1",
        lambda o: lrs.LambdaLR(o, lambda s: 0.5 ** (s // 4)),
    ),
    (
        "lr_scheduler_exponential_decay",
        "0.5 -decaySteps 4",
        lambda o: lrs.LambdaLR(o, lambda s: 0.5 ** (s / 4)),
    ),
    ("lr_scheduler_cosine", "5", lambda o: lrs.CosineAnnealingLR(o, 5)),
    ("lr_scheduler_cosine", "-tMax 7 -etaMin 0.01", lambda o: lrs.CosineAnnealingLR(o, 7, 0.01)),
    ("lr_scheduler_cosine_annealing", "4 0.001", lambda o: lrs.CosineAnnealingLR(o, 4, 0.001)),
    (
        "lr_scheduler_cosine_annealing_warm_restarts",
        "3 2 0.01",
        lambda o: lrs.CosineAnnealingWarmRestarts(o, 3, 2, 0.01),
    ),
    (
        "lr_scheduler_cosine_annealing_warm_restarts",
        "-T_0 4",
        lambda o: lrs.CosineAnnealingWarmRestarts(o, 4),
    ),
    ("lr_scheduler_multi_step", "{2 5 9} 0.3", lambda o: lrs.MultiStepLR(o, [2, 5, 9], 0.3)),
    ("lr_scheduler_multiplicative", "0.9", lambda o: lrs.MultiplicativeLR(o, lambda s: 0.9)),
    ("lr_scheduler_lambda", "0.8", lambda o: lrs.LambdaLR(o, lambda s: 0.8**s)),
    ("lr_scheduler_lambda", "", lambda o: lrs.LambdaLR(o, lambda s: 1.0)),
    ("lr_scheduler_polynomial", "10 2.0", lambda o: lrs.PolynomialLR(o, 10, 2.0)),
    ("lr_scheduler_polynomial", "", lambda o: lrs.PolynomialLR(o)),
    ("lr_scheduler_linear_with_warmup", "3 10", lambda o: lrs.LambdaLR(o, _hf_linear(3, 10))),
    (
        "lr_scheduler_constant_with_warmup",
        "4",
        lambda o: lrs.LambdaLR(o, lambda s: s / 4 if s < 4 else 1.0),
    ),
    ("lr_scheduler_inverse_sqrt", "3", lambda o: lrs.LambdaLR(o, _hf_inverse_sqrt(3))),
    ("lr_scheduler_inverse_sqrt", "4 0.5", lambda o: lrs.LambdaLR(o, lambda s: 0.5 * _hf_inverse_sqrt(4)(s))),
    ("lr_scheduler_noam", "16 5", lambda o: lrs.LambdaLR(o, _noam(16, 5))),
    ("lr_scheduler_noam", "-modelSize 512", lambda o: lrs.LambdaLR(o, _noam(512, 4000))),
    ("lr_scheduler_cyclic", "0.01 0.1 3", lambda o: lrs.CyclicLR(o, 0.01, 0.1, 3)),
    (
        "lr_scheduler_cyclic",
        "0.01 0.1 2 exp_range -gamma 0.9 -stepSizeDown 3",
        lambda o: lrs.CyclicLR(o, 0.01, 0.1, 2, 3, mode="exp_range", gamma=0.9),
    ),
    (
        "lr_scheduler_cyclic",
        "0.01 0.1 2 triangular2",
        lambda o: lrs.CyclicLR(o, 0.01, 0.1, 2, mode="triangular2"),
    ),
    ("lr_scheduler_one_cycle", "0.5 12", lambda o: lrs.OneCycleLR(o, 0.5, 12)),
    (
        "lr_scheduler_one_cycle",
        "0.5 13 0.25 linear 10",
        lambda o: lrs.OneCycleLR(o, 0.5, 13, pct_start=0.25, anneal_strategy="linear", div_factor=10),
    ),
    (
        "lr_scheduler_onecycle_advanced",
        "0.5 14 0.3 cos 20 100 -threePhase 1",
        lambda o: lrs.OneCycleLR(o, 0.5, 14, div_factor=20, final_div_factor=100, three_phase=True),
    ),
]


def _lrs(opt):
    return [g["lr"] for g in opt.param_groups]


@pytest.mark.parametrize("name,words,make", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_lr_sequence_matches_torch(name, words, make):
    interp = tcltorch.Interp()
    mine = _optimizer()
    theirs = _optimizer()
    opt = interp.put(mine)
    sched = interp.eval(f"torch::{name} {opt} {words}")
    assert sched.startswith("scheduler")
    ref = make(theirs)
    assert interp.eval(f"torch::get_lr {opt}") == repr(theirs.param_groups[0]["lr"]) or math.isclose(
        float(interp.eval(f"torch::get_lr {opt}")), theirs.param_groups[0]["lr"], rel_tol=0, abs_tol=1e-12
    )
    for epoch in range(EPOCHS):
        mine.step()
        theirs.step()
        got = float(interp.eval(f"torch::lr_scheduler_step_update {sched}"))
        ref.step()
        want = theirs.param_groups[0]["lr"]
        assert abs(got - want) <= 1e-12, (epoch, got, want)
        assert abs(float(interp.eval(f"torch::get_lr {opt}")) - want) <= 1e-12
        assert abs(float(interp.eval(f"torch::get_lr_advanced {sched}")) - want) <= 1e-12
        if "momentum" in theirs.param_groups[0]:
            assert abs(mine.param_groups[0]["momentum"] - theirs.param_groups[0]["momentum"]) <= 1e-12


METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.5, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65]


@pytest.mark.parametrize(
    "name,words,kwargs",
    [
        ("lr_scheduler_plateau", "min 0.5 2", {"mode": "min", "factor": 0.5, "patience": 2}),
        (
            "lr_scheduler_plateau",
            "-patience 1 -cooldown 1 -minLr 0.02",
            {"patience": 1, "cooldown": 1, "min_lr": 0.02},
        ),
        (
            "lr_scheduler_reduce_on_plateau",
            "max 0.3 1 0.01 abs 0.001",
            {
                "mode": "max",
                "factor": 0.3,
                "patience": 1,
                "threshold": 0.01,
                "threshold_mode": "abs",
                "min_lr": 0.001,
            },
        ),
        (
            "lr_scheduler_reduce_on_plateau",
            "-mode min -factor 0.2 -patience 0",
            {"factor": 0.2, "patience": 0},
        ),
    ],
)
def test_plateau_fed_metrics_matches_torch(name, words, kwargs):
    interp = tcltorch.Interp()
    mine, theirs = _optimizer(), _optimizer()
    opt = interp.put(mine)
    sched = interp.eval(f"torch::{name} {opt} {words}")
    ref = lrs.ReduceLROnPlateau(theirs, **kwargs)
    metric_tensor = interp.put(torch.tensor(0.0))
    seen = set()
    for epoch, metric in enumerate(METRICS):
        if epoch % 2:  # a number, or a one-element tensor handle (a loss)
            got = float(interp.eval(f"torch::lr_scheduler_step_update {sched} {metric!r}"))
        else:
            interp.get(metric_tensor).fill_(metric)
            got = float(
                interp.eval(f"torch::lr_scheduler_step_advanced -scheduler {sched} -metric {metric_tensor}")
            )
        ref.step(float(torch.tensor(metric)) if epoch % 2 == 0 else metric)
        want = theirs.param_groups[0]["lr"]
        assert abs(got - want) <= 1e-12, (epoch, got, want)
        seen.add(want)
    assert len(seen) > 1  # the sequence reduced the lr at least once


def test_adafactor_cap_moves_with_the_schedule():
    interp = tcltorch.Interp()
    interp.eval("set w [torch::ones {4 3} -requiresGrad 1]; set opt [torch::optimizer_adafactor $w 0.05]")
    interp.eval("set s [torch::lr_scheduler_exponential_decay $opt 0.5]")
    opt = interp.get(interp.eval("set opt"))
    seen = []
    for _ in range(3):
        interp.eval("torch::tensor_backward [torch::tensor_sum $w]; torch::optimizer_step $opt")
        seen.append(opt.param_groups[0]["lr"])
        interp.eval("torch::lr_scheduler_step_update $s")
    assert seen == [0.05, 0.025, 0.0125]


def test_errors_and_nothing_changes():
    interp = tcltorch.Interp()
    interp.eval("set w [torch::ones {2}]; set opt [torch::optimizer_sgd $w 0.1]")
    assert tcl_only_error(interp, "torch::lr_scheduler_step $opt") == (
        'wrong # args: should be "torch::lr_scheduler_step optimizer stepSize ?gamma? ?lastEpoch?"',
        ["TCL", "WRONGARGS"],
    )
    assert tcl_only_error(interp, "torch::lr_scheduler_step $opt 0")[1] == ["TORCH", "VALUE", "-stepSize"]
    assert tcl_only_error(interp, "torch::lr_scheduler_step nosuch 2") == (
        'no optimizer named "nosuch"',
        ["TORCH", "HANDLE", "nosuch"],
    )
    assert (
        tcl_only_error(interp, "torch::lr_scheduler_plateau $opt sideways")[0]
        == 'invalid -mode "sideways": must be min or max'
    )
    sched = interp.eval("torch::lr_scheduler_plateau $opt")
    assert tcl_only_error(interp, f"torch::lr_scheduler_step_update {sched}")[1] == [
        "TORCH",
        "ARGS",
        "REQUIRED",
        "-metric",
    ]
    assert tcl_only_error(interp, f"torch::lr_scheduler_step_update {sched} abc")[1] == [
        "TORCH",
        "VALUE",
        "-metric",
    ]
    step = interp.eval("torch::lr_scheduler_step $opt 2")
    assert tcl_only_error(interp, f"torch::lr_scheduler_step_update {step} 1.0")[1] == [
        "TORCH",
        "VALUE",
        "-metric",
    ]
    assert (
        tcl_only_error(interp, "torch::lr_scheduler_step_update $opt")[0]
        == f'"{interp.eval("set opt")}" is an optimizer, expected a scheduler'
    )
    # torch refuses (cyclic momentum on an optimizer without one is skipped by default; forced here)
    adam = interp.eval("torch::optimizer_adagrad $w 0.1")
    with pytest.raises(ValueError, match="momentum"):  # PyTorch's refusal (TORCH ValueError in Tcl)
        interp.eval(f"torch::lr_scheduler_cyclic {adam} 0.01 0.1 -cycleMomentum 1")
    assert interp.get(adam).param_groups[0]["lr"] == 0.1
    assert set(interp.get(adam).param_groups[0]) == set(
        torch.optim.Adagrad([torch.zeros(1)], lr=0.1).param_groups[0]
    )
    assert interp.handles("scheduler") == [sched, step]


def test_scheduler_state_dict_is_plain_data(tmp_path):
    """Every scheduler's state saves and loads with torch.load(weights_only=True)."""
    interp = tcltorch.Interp()
    for name, words, _ in CASES:
        opt = interp.put(_optimizer())
        sched = interp.get(interp.eval(f"torch::{name} {opt} {words}"))
        for _ in range(3):  # a state that differs from a new scheduler's
            interp.get(opt).step()
            if isinstance(sched, lrs.ReduceLROnPlateau):
                sched.step(1.0)
            else:
                sched.step()
        path = tmp_path / "s.pt"
        torch.save(sched.state_dict(), path)
        state = torch.load(path, weights_only=True)  # raises on anything but plain data
        assert deep_equal(state, sched.state_dict()), (name, words)
        # a second scheduler of the same words takes the state and then has exactly that state
        twin = interp.get(interp.eval(f"torch::{name} {interp.put(_optimizer())} {words}"))
        assert not deep_equal(twin.state_dict(), state), (name, words)
        twin.load_state_dict(state)
        assert deep_equal(twin.state_dict(), sched.state_dict()), (name, words)
        assert twin.get_last_lr() == sched.get_last_lr(), (name, words)
