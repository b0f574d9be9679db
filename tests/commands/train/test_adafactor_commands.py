"""torch::optimizer_adafactor and friends through the Python host: the same numbers as
the engine and as torch.optim.Adafactor, and every error of the page."""

from __future__ import annotations

import math

import pytest
import torch

import tcltorch
from tcltorch.optim import Adafactor

SHAPES = [(6, 5), (7,), (3, 4, 5), ()]


def make_params(dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=dtype) for s in SHAPES]


def grads_for(step, dtype=torch.float32):
    g = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(s, generator=g, dtype=dtype) * (0.5 + step % 3) for s in SHAPES]


def step_through_tcl(interp, params, steps, options="", dtype=torch.float32):
    handles = [interp.put(p) for p in params]
    opt = interp.eval(f"torch::optimizer_adafactor -parameters {{{' '.join(handles)}}} {options}")
    for step in range(steps):
        for p, g in zip(params, grads_for(step, dtype)):
            p.grad = g
        interp.eval(f"torch::optimizer_step {opt}")
    return opt


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 3e-6), (torch.float64, 1e-12)])
def test_default_trajectory_matches_torch_optim_adafactor(interp, dtype, tol):
    ours = make_params(dtype)
    ref = [p.clone().requires_grad_(True) for p in ours]
    step_through_tcl(interp, ours, 20, "-lr 0.8", dtype)
    reference = torch.optim.Adafactor(ref, lr=0.8)
    for step in range(20):
        for p, g in zip(ref, grads_for(step, dtype)):
            p.grad = g
        reference.step()
    for a, b in zip(ours, ref):
        assert torch.allclose(a.detach(), b.detach(), atol=tol, rtol=0), (a - b).abs().max()


OPTION_SETS = [
    ("-beta1 0.9", {"beta1": 0.9}),
    ("-weightDecay 0.01", {"weight_decay": 0.01}),
    ("-decayRate -0.5", {"decay_rate": -0.5}),
    ("-decayRate 0.6", {"decay_rate": 0.6}),
    ("-relativeStep false -lr 0.01", {"relative_step": False, "lr": 0.01}),
    ("-scaleParameter 0", {"scale_parameter": False}),
    ("-warmupInit yes", {"warmup_init": True}),
    ("-maximize true", {"maximize": True}),
    (
        "-clipThreshold 0.5 -eps2 1e-3 -epsScale 1e-2",
        {"clip_threshold": 0.5, "eps2": 1e-3, "eps_scale": 1e-2},
    ),
]


@pytest.mark.parametrize("options, kwargs", OPTION_SETS, ids=[o for o, _ in OPTION_SETS])
def test_tcl_options_reach_the_engine(interp, options, kwargs):
    ours = make_params(torch.float64)
    ref = [p.clone().requires_grad_(True) for p in ours]
    step_through_tcl(interp, ours, 6, options, torch.float64)
    engine = Adafactor(ref, **kwargs)
    for step in range(6):
        for p, g in zip(ref, grads_for(step, torch.float64)):
            p.grad = g
        engine.step()
    for a, b in zip(ours, ref):
        assert torch.equal(a.detach(), b.detach())


def test_positional_form_with_negative_values(interp):
    w = interp.put(torch.zeros(3, 3))
    opt = interp.eval(f"torch::optimizer_adafactor {w} 0.5 1e-20 2.0 -0.5 -1 0.25")
    group = interp.get(opt).param_groups[0]
    assert (group["lr"], group["eps2"], group["clip_threshold"]) == (0.5, 1e-20, 2.0)
    assert (group["decay_rate"], group["beta1"], group["weight_decay"]) == (-0.5, -1.0, 0.25)


def test_hybrid_form_and_alias(interp):
    w = interp.put(torch.zeros(2, 2))
    opt = interp.eval(f"torch::optimizerAdafactor {w} 0.3 -beta1 0.5 -warmupInit 1")
    group = interp.get(opt).param_groups[0]
    assert (group["lr"], group["beta1"], group["warmup_init"]) == (0.3, 0.5, True)


def test_parameters_mix_modules_and_tensors_once_each(interp):
    lin = torch.nn.Linear(4, 3)
    m, extra = interp.put(lin), interp.put(torch.zeros(5))
    weight = interp.put(lin.weight)
    opt = interp.get(
        interp.eval(f"torch::optimizer_adafactor -parameters [list {m} {extra} {weight} {extra}]")
    )
    params = opt.param_groups[0]["params"]
    assert len(params) == 3
    assert interp.get(extra).requires_grad and interp.get(extra).is_leaf


def test_info_reports_state_bytes_by_the_formula(interp):
    ws = [torch.zeros(64, 32), torch.zeros(10), torch.zeros(2, 8, 4)]
    handles = " ".join(interp.put(w) for w in ws)
    opt = interp.eval(f"torch::optimizer_adafactor -parameters {{{handles}}}")
    for w in ws:
        w.grad = torch.ones_like(w)
    interp.eval(f"torch::optimizer_step {opt}")
    info = interp.eval(f"torch::optimizer_info {opt}")
    d = dict(zip(info.split()[0::2], info.split()[1::2]))
    assert d["kind"] == "adafactor"
    expected = 4 * ((64 + 32) + 10 + (2 * 8 + 2 * 4))
    assert int(interp.eval(f"dict get [torch::optimizer_info {opt}] stateBytes")) == expected
    assert interp.eval(f"dict get [torch::optimizer_info {opt}] steps") == "1 1 1"


def test_step_without_gradients_changes_nothing(interp):
    w = torch.randn(4, 4)
    before = w.clone()
    opt = interp.eval(f"torch::optimizer_adafactor {interp.put(w)}")
    interp.eval(f"torch::optimizer_step {opt}")
    assert torch.equal(w.detach(), before)
    assert interp.eval(f"dict get [torch::optimizer_info {opt}] steps") == "0"


INVALID = [
    ("-lr -1.0", '-lr "-1.0": must be a finite number > 0'),
    ("-lr 0", '-lr "0": must be a finite number > 0'),
    ("-lr nan", '-lr "nan": must be a finite number > 0'),
    ("-lr inf", '-lr "inf": must be a finite number > 0'),
    ("-lr abc", '-lr "abc": must be a finite number > 0'),
    ("-eps2 -1e-30", '-eps2 "-1e-30": must be a finite number >= 0'),
    ("-clipThreshold 0", '-clipThreshold "0": must be a finite number > 0'),
    ("-decayRate 0", '-decayRate "0": must be -1.0 (the default schedule) or a number c with 0 < |c| <= 1'),
    (
        "-decayRate 1.5",
        '-decayRate "1.5": must be -1.0 (the default schedule) or a number c with 0 < |c| <= 1',
    ),
    ("-decayRate -2", '-decayRate "-2": must be -1.0 (the default schedule) or a number c with 0 < |c| <= 1'),
    ("-beta1 1.0", '-beta1 "1.0": must be a finite number < 1 (negative: no momentum)'),
    ("-beta1 -inf", '-beta1 "-inf": must be a finite number < 1 (negative: no momentum)'),
    ("-weightDecay -0.1", '-weightDecay "-0.1": must be a finite number >= 0'),
    ("-epsScale -1", '-epsScale "-1": must be a finite number >= 0'),
    ("-relativeStep maybe", '-relativeStep "maybe": must be a boolean'),
    (
        "-implementation fastest",
        '-implementation "fastest": must be auto, reference, foreach, compiled, or fused',
    ),
]


@pytest.mark.parametrize("options, message", INVALID, ids=[o for o, _ in INVALID])
def test_invalid_values(interp, options, message):
    w = interp.put(torch.zeros(2))
    before = interp.handles()
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(f"torch::optimizer_adafactor -parameters {w} {options}")
    assert str(info.value) == "invalid " + message
    assert info.value.errorcode == ["TORCH", "VALUE", options.split()[0]]
    assert interp.handles() == before


def test_usage_errors(interp):
    w = interp.put(torch.zeros(2))
    cases = {
        "torch::optimizer_adafactor": ["TCL", "WRONGARGS"],
        "torch::optimizer_adafactor -lr 0.1": ["TORCH", "ARGS", "REQUIRED", "-parameters"],
        f"torch::optimizer_adafactor -parameters {w} -invalid 1": [
            "TCL",
            "LOOKUP",
            "INDEX",
            "option",
            "-invalid",
        ],
        f"torch::optimizer_adafactor -parameters {w} -lr": ["TORCH", "ARGS", "MISSING", "-lr"],
        "torch::optimizer_adafactor -parameters tensor999": ["TORCH", "HANDLE", "tensor999"],
        "torch::optimizer_adafactor -parameters {}": ["TORCH", "VALUE", "-parameters"],
    }
    for script, code in cases.items():
        with pytest.raises(tcltorch.TclError) as info:
            interp.eval(script)
        assert info.value.errorcode == code, script
    with pytest.raises(tcltorch.TclError, match=r'^bad option "-invalid": must be -parameters, -lr, -eps2, '):
        interp.eval(f"torch::optimizer_adafactor -parameters {w} -invalid 1")


def test_a_bad_entry_leaves_the_other_tensors_untouched(interp):
    good = torch.zeros(3)
    g = interp.put(good)
    opt = interp.eval(f"torch::optimizer_adafactor {g}")
    other = interp.put(torch.zeros(2))
    with pytest.raises(tcltorch.TclError, match="expected a tensor or module"):
        interp.eval(f"torch::optimizer_adafactor -parameters [list {other} {opt}]")
    assert not interp.get(other).requires_grad
    with pytest.raises(tcltorch.TclError, match="not a leaf"):
        interp.eval(f"torch::optimizer_adafactor -parameters [list {other} {interp.put(good * 2)}]")
    assert not interp.get(other).requires_grad


def test_bfloat16_parameters_train_through_tcl(interp):
    w = torch.full((32, 16), 0.5, dtype=torch.bfloat16)
    opt = interp.eval(
        f"torch::optimizer_adafactor {interp.put(w)} -relativeStep 0 -lr 0.01 -scaleParameter 0"
    )
    w.grad = torch.full_like(w, 1e-3)
    interp.eval(f"torch::optimizer_step {opt}")
    assert w.dtype == torch.bfloat16
    moved = (0.5 - w.float()).abs().mean().item()
    assert math.isclose(moved, 0.01, rel_tol=0.05)
