"""The optimizer family beyond Adam/AdamW/SGD/Adafactor, the Keras options on every optimizer,
and gradient clipping: each compared with torch.optim / torch.nn.utils, Keras 3 or
pytorch-optimizer (recorded by tools/record_training_golden.py, see tests/data/TRAINING_GOLDEN.md)."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import ROOT
from helpers import tcl_only_error, train_mse, twin_models

import tcltorch
from tcltorch.optim.lamb import Lamb
from tcltorch.optim.novograd import NovoGrad

GOLDEN = json.loads((ROOT / "tests" / "data" / "training_golden.json").read_text())


def _inputs(dtype):
    init = [
        torch.tensor(v, dtype=torch.float32).reshape(s).to(dtype)
        for v, s in zip(GOLDEN["init"], GOLDEN["shapes"])
    ]
    grads = [
        [torch.tensor(v, dtype=torch.float32).reshape(s).to(dtype) for v, s in zip(step, GOLDEN["shapes"])]
        for step in GOLDEN["grads"]
    ]
    return init, grads


# -- Keras 3 Adafactor with its base options, through torch::optimizer_adafactor ---------------


@pytest.mark.parametrize("case", GOLDEN["keras"], ids=[c["name"] for c in GOLDEN["keras"]])
def test_keras_options_match_keras_adafactor(case):
    interp = tcltorch.Interp()
    init, grads = _inputs(torch.float32)
    params = [p.clone().requires_grad_(True) for p in init]
    names = [interp.put(p) for p in params]
    interp.eval(f"set opt [torch::optimizer_adafactor -parameters {{{' '.join(names)}}} {case['options']}]")
    if case["schedule"]:
        interp.eval(f"set sched [torch::{case['schedule']}]")
    worst = 0.0
    for t in range(1, GOLDEN["steps"] + 1):
        for p, g in zip(params, grads[t - 1]):
            p.grad = g.clone()
        interp.eval("torch::optimizer_step $opt")
        if case["schedule"]:
            interp.eval("torch::lr_scheduler_step_update $sched")
        if str(t) in case["trajectory"]:
            for p, want in zip(params, case["trajectory"][str(t)]):
                diff = (p.detach().reshape(-1) - torch.tensor(want)).abs().max().item() if want else 0.0
                worst = max(worst, diff)
    if case["finalize"]:
        assert int(interp.eval("torch::optimizer_finalize $opt")) == len(params)
        for p, want in zip(params, case["trajectory"]["finalized"]):
            worst = max(
                worst, (p.detach().reshape(-1) - torch.tensor(want)).abs().max().item() if want else 0.0
            )
    assert worst <= case["atol"], worst


# -- LAMB and NovoGrad ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", GOLDEN["optim"], ids=[c["name"] for c in GOLDEN["optim"]])
def test_lamb_novograd_match_pytorch_optimizer(case):
    init, grads = _inputs(torch.float64)
    params = [p.clone().requires_grad_(True) for p in init]
    options = {k: tuple(v) if isinstance(v, list) else v for k, v in case["options"].items()}
    opt = {"Lamb": Lamb, "NovoGrad": NovoGrad}[case["class"]](params, **options)
    for t in range(1, GOLDEN["steps"] + 1):
        for p, g in zip(params, grads[t - 1]):
            p.grad = g.clone()
        opt.step()
        if str(t) in case["trajectory"]:
            for p, want in zip(params, case["trajectory"][str(t)]):
                torch.testing.assert_close(
                    p.detach().reshape(-1), torch.tensor(want, dtype=torch.float64), rtol=0, atol=case["atol"]
                )


def _lamb_reference(params, grads, lr, b1, b2, eps, wd):
    """Algorithm 2 of You et al. (ICLR 2020), written out on plain tensors (float64)."""
    xs = [p.detach().clone() for p in params]
    ms = [torch.zeros_like(x) for x in xs]
    vs = [torch.zeros_like(x) for x in xs]
    for t, step in enumerate(grads, 1):
        for i, g in enumerate(step):
            ms[i] = b1 * ms[i] + (1 - b1) * g
            vs[i] = b2 * vs[i] + (1 - b2) * g * g
            r = (ms[i] / (1 - b1**t)) / ((vs[i] / (1 - b2**t)).sqrt() + eps)
            u = r + wd * xs[i]
            wn, un = xs[i].norm().item(), u.norm().item()
            trust = wn / un if wn > 0 and un > 0 else 1.0
            xs[i] = xs[i] - lr * trust * u
    return xs


def test_lamb_bias_corrected_matches_algorithm_2():
    init, grads = _inputs(torch.float64)
    params = [p.clone().requires_grad_(True) for p in init]
    opt = Lamb(params, lr=0.02, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.05)
    for step in grads:
        for p, g in zip(params, step):
            p.grad = g.clone()
        opt.step()
    for p, want in zip(params, _lamb_reference(init, grads, 0.02, 0.9, 0.99, 1e-6, 0.05)):
        torch.testing.assert_close(p.detach(), want, rtol=0, atol=1e-12)


# -- torch.optim-backed commands ----------------------------------------------------------------


TORCH_CASES = [
    ("optimizer_rmsprop", "", lambda p: torch.optim.RMSprop(p, lr=0.01)),
    (
        "optimizer_rmsprop",
        "0.005 0.9 1e-6 0.01 -momentum 0.5 -centered 1",
        lambda p: torch.optim.RMSprop(
            p, lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.5, centered=True
        ),
    ),
    (
        "optimizer_adagrad",
        "0.1 1e-8 -lrDecay 0.01",
        lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-8, lr_decay=0.01),
    ),
    ("optimizer_momentum_sgd", "0.05", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    (
        "optimizer_momentum_sgd",
        "0.05 0.8 0.01 -nesterov 1",
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0.01, nesterov=True),
    ),
    ("optimizer_rprop", "", lambda p: torch.optim.Rprop(p)),
    (
        "optimizer_rprop",
        "0.02 {0.4 1.3} {1e-5 1}",
        lambda p: torch.optim.Rprop(p, 0.02, (0.4, 1.3), (1e-5, 1)),
    ),
    (
        "optimizer_rprop",
        "-etaPlus 1.5 -stepSizeMax 2",
        lambda p: torch.optim.Rprop(p, etas=(0.5, 1.5), step_sizes=(1e-6, 2)),
    ),
    ("optimizer_adamax", "", lambda p: torch.optim.Adamax(p)),
    (
        "optimizer_adamax",
        "0.01 {0.8 0.99} 1e-6 0.1",
        lambda p: torch.optim.Adamax(p, 0.01, (0.8, 0.99), 1e-6, 0.1),
    ),
    (
        "optimizer_nadam",
        "0.01 -beta2 0.99 -momentumDecay 0.01",
        lambda p: torch.optim.NAdam(p, 0.01, (0.9, 0.99), momentum_decay=0.01),
    ),
    (
        "optimizer_nadam",
        "-decoupledWeightDecay 1 -weightDecay 0.1",
        lambda p: torch.optim.NAdam(p, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    ("optimizer_radam", "", lambda p: torch.optim.RAdam(p)),
    (
        "optimizer_radam",
        "0.01 {0.85 0.995} 1e-7 0.01",
        lambda p: torch.optim.RAdam(p, 0.01, (0.85, 0.995), 1e-7, 0.01),
    ),
    ("optimizer_lamb", "0.01", lambda p: Lamb(p, lr=0.01)),
    (
        "optimizer_novograd",
        "0.01 {0.9 0.95} 1e-8 0.001 -gradAveraging 1",
        lambda p: NovoGrad(p, 0.01, (0.9, 0.95), 1e-8, 0.001, grad_averaging=True),
    ),
]


@pytest.mark.parametrize("name,words,make", TORCH_CASES, ids=[f"{c[0]} {c[1]}" for c in TORCH_CASES])
def test_command_matches_torch_optimizer(name, words, make):
    interp = tcltorch.Interp()
    a, b = twin_models()
    opt = interp.eval(f"torch::{name} {interp.put(a)} {words}")
    assert opt.startswith("optimizer")
    mine = interp.get(opt)
    theirs = make(list(b.parameters()))
    assert type(mine) is type(theirs)
    train_mse(
        a,
        lambda: interp.eval(f"torch::optimizer_step {opt}"),
        lambda: interp.eval(f"torch::optimizer_zero_grad {opt}"),
        steps=5,
        seed=7,
    )
    train_mse(b, theirs.step, theirs.zero_grad, steps=5, seed=7)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def test_sparse_adam_on_sparse_embedding_matches_torch():
    interp = tcltorch.Interp()
    torch.manual_seed(0)
    a = torch.nn.Embedding(10, 4, sparse=True)
    b = torch.nn.Embedding(10, 4, sparse=True)
    b.load_state_dict(a.state_dict())
    opt = interp.get(interp.eval(f"torch::optimizer_sparse_adam {interp.put(a)} 0.01 -clipNorm 0.5"))
    ref = torch.optim.SparseAdam(list(b.parameters()), lr=0.01)
    idx = torch.tensor([1, 3, 3, 7])
    for model, o, clip in ((a, opt, False), (b, ref, True)):
        for _ in range(3):
            o.zero_grad()
            model(idx).square().sum().backward()
            if clip:  # Keras clipnorm on the coalesced sparse gradient's values
                g = model.weight.grad.coalesce()
                v = g._values()
                v.mul_(0.5).div_(torch.linalg.vector_norm(v).clamp_min(0.5))
                model.weight.grad = g
            o.step()
    torch.testing.assert_close(a.weight, b.weight, rtol=0, atol=1e-6)


def test_every_parameter_form():
    interp = tcltorch.Interp()
    interp.eval("set m [torch::linear 3 2]; set t [torch::ones {4}]; set u [torch::zeros {2 2}]")
    for name in (
        "rmsprop",
        "adagrad",
        "momentum_sgd",
        "lbfgs",
        "rprop",
        "adamax",
        "sparse_adam",
        "nadam",
        "radam",
        "lamb",
        "novograd",
    ):
        for words, count in (("$t", 1), ("[list $t $u]", 2), ("$m", 2), ("[list $m $t $m]", 3)):
            opt = interp.get(interp.eval(f"torch::optimizer_{name} {words}"))
            assert sum(len(g["params"]) for g in opt.param_groups) == count, (name, words)
        assert "-clipNorm" in tcl_only_error(interp, f"torch::optimizer_{name} $t -bogus 1")[0]
        assert tcl_only_error(interp, f"torch::optimizer_{name} {{}}")[1] == ["TORCH", "VALUE", "-parameters"]


def test_aliases_and_errors():
    interp = tcltorch.Interp()
    interp.eval("set t [torch::ones {2}]")
    for alias in (
        "optimizerRmsprop",
        "optimizerLbfgs",
        "optimizerRAdam",
        "optimizerNAdam",
        "optimizerMomentumSgd",
        "optimizerSparseAdam",
        "optimizerNovograd",
        "optimizerLamb",
    ):
        assert interp.eval(f"torch::{alias} $t").startswith("optimizer")
    assert tcl_only_error(interp, "torch::optimizer_adamax $t 0.01 {0.9}")[1] == ["TORCH", "VALUE", "-betas"]
    assert tcl_only_error(interp, "torch::optimizer_adamax $t 0.01 {0.9 1.0}")[1] == [
        "TORCH",
        "VALUE",
        "-betas",
    ]
    assert tcl_only_error(interp, "torch::optimizer_lamb $t -betas {0.9 0.99} -beta1 0.8")[1] == [
        "TORCH",
        "VALUE",
        "-beta1",
    ]
    assert tcl_only_error(interp, "torch::optimizer_rprop $t -etaMinus 1.5")[1] == [
        "TORCH",
        "VALUE",
        "-etaMinus",
    ]
    assert tcl_only_error(interp, "torch::optimizer_momentum_sgd $t 0.1 0 -nesterov 1")[1] == [
        "TORCH",
        "VALUE",
        "-nesterov",
    ]
    assert tcl_only_error(interp, "torch::optimizer_rmsprop $t -1")[1] == ["TORCH", "VALUE", "-lr"]
    assert tcl_only_error(interp, "torch::optimizer_adam $t -clipNorm 1 -clipValue 2") == (
        'invalid -clipValue "2.0": only one of -clipNorm, -clipValue and -globalClipNorm can be set (-clipNorm is)',
        ["TORCH", "VALUE", "-clipValue"],
    )
    assert tcl_only_error(interp, "torch::optimizer_lbfgs $t -skipNonFinite 1")[1] == [
        "TORCH",
        "VALUE",
        "-skipNonFinite",
    ]
    assert tcl_only_error(interp, "torch::optimizer_sgd $t -emaMomentum 1.5")[1] == [
        "TORCH",
        "VALUE",
        "-emaMomentum",
    ]
    assert interp.handles("optimizer") == interp.handles("optimizer")[:8]


# -- L-BFGS with a Tcl closure --------------------------------------------------------------------


def test_lbfgs_closure_matches_torch():
    interp = tcltorch.Interp()
    target = torch.tensor([1.0, -2.0, 0.5])
    w_ref = torch.zeros(3, requires_grad=True)
    ref = torch.optim.LBFGS([w_ref], lr=0.8, max_iter=5)

    def closure():
        ref.zero_grad()
        loss = ((w_ref - target) ** 2 * torch.tensor([1.0, 3.0, 10.0])).sum()
        loss.backward()
        return loss

    interp.eval("set w [torch::zeros {3} -requiresGrad 1]; set opt [torch::optimizer_lbfgs $w 0.8 5]")
    interp.eval(
        "set target [torch::tensor_create {1.0 -2.0 0.5}]; set k [torch::tensor_create {1.0 3.0 10.0}]"
    )
    script = """
        torch::optimizer_zero_grad $opt
        set loss [torch::tensor_sum [torch::tensor_mul [torch::tensor_pow [torch::tensor_sub $w $target] 2] $k]]
        torch::tensor_backward $loss
        set loss
    """
    live = len(interp.handles())
    for _ in range(3):
        got = float(interp.eval(f"torch::optimizer_step $opt -closure {{{script}}}"))
        want = float(ref.step(closure))
        assert abs(got - want) <= 1e-6 * max(1.0, abs(want))
    torch.testing.assert_close(interp.get(interp.eval("set w")), w_ref.detach(), rtol=0, atol=1e-6)
    assert len(interp.handles()) <= live + 1  # closure results are released ($loss's last one stays)
    assert tcl_only_error(interp, "torch::optimizer_step $opt")[1] == [
        "TORCH",
        "ARGS",
        "REQUIRED",
        "-closure",
    ]
    assert tcl_only_error(interp, "torch::optimizer_step $opt {set x notaloss}")[1] == [
        "TORCH",
        "VALUE",
        "-closure",
    ]


# -- Keras options: behaviour -------------------------------------------------------------------------


def test_clip_options_inside_the_step_match_keras_formulas():
    grads = [torch.tensor([3.0, 4.0]), torch.tensor([[0.1, -0.2]]), torch.tensor([12.0])]
    for option, expected in (
        ("-clipNorm 1.0", [g * 1.0 / max(g.norm().item(), 1.0) for g in grads]),
        ("-clipValue 0.15", [g.clamp(-0.15, 0.15) for g in grads]),
        ("-globalClipNorm 2.0", [g * 2.0 / torch.sqrt(sum(x.square().sum() for x in grads)) for g in grads]),
    ):
        interp = tcltorch.Interp()
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        names = " ".join(interp.put(p) for p in params)
        interp.eval(f"set opt [torch::optimizer_sgd [list {names}] 1.0 {option}]")
        for p, g in zip(params, grads):
            p.grad = g.clone()
        interp.eval("torch::optimizer_step $opt")
        for p, e in zip(params, expected):
            torch.testing.assert_close(p.detach(), -e, rtol=1e-6, atol=1e-7)


def test_skip_non_finite_keeps_value_and_state():
    interp = tcltorch.Interp()
    a, b = torch.ones(3, requires_grad=True), torch.ones(2, requires_grad=True)
    interp.eval(
        f"set opt [torch::optimizer_adam [list {interp.put(a)} {interp.put(b)}] 0.1 -skipNonFinite 1 -globalClipNorm 1]"
    )
    opt = interp.get(interp.eval("set opt"))
    a.grad, b.grad = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0])
    interp.eval("torch::optimizer_step $opt")
    before_a = a.detach().clone()
    state_a = {k: v.clone() for k, v in opt.state[a].items()}
    before_b = b.detach().clone()
    a.grad, b.grad = torch.tensor([1.0, float("nan"), 3.0]), torch.tensor([1.0, 1.0])
    interp.eval("torch::optimizer_step $opt")
    assert torch.equal(a.detach(), before_a)
    for k, v in state_a.items():
        assert torch.equal(opt.state[a][k], v), k
    assert not torch.equal(b.detach(), before_b)  # the finite one stepped, not poisoned by the NaN
    assert torch.isfinite(b).all()
    # the first step of a parameter with an Inf gradient leaves it untouched too
    c = torch.ones(2, requires_grad=True)
    interp.eval(f"set o2 [torch::optimizer_rmsprop {interp.put(c)} -skipNonFinite 1]")
    c.grad = torch.tensor([float("inf"), 1.0])
    interp.eval("torch::optimizer_step $o2")
    assert torch.equal(c.detach(), torch.ones(2))
    assert all(torch.count_nonzero(v) == 0 for v in interp.get(interp.eval("set o2")).state[c].values())


def test_ema_state_is_counted_saved_and_finalized(tmp_path):
    interp = tcltorch.Interp()
    interp.eval("set m [torch::linear 3 2]; set opt [torch::optimizer_sgd $m 0.1 -useEma 1 -emaMomentum 0.5]")
    opt = interp.get(interp.eval("set opt"))
    model = interp.get(interp.eval("set m"))
    assert interp.eval("torch::optimizer_finalize $opt") == "0"  # no average before the first step
    x = torch.randn(4, 3)
    values = []
    for _ in range(3):
        opt.zero_grad()
        model(x).sum().backward()
        interp.eval("torch::optimizer_step $opt")
        values.append([p.detach().clone() for p in model.parameters()])
    info = interp.eval("dict get [torch::optimizer_info $opt] stateBytes")
    assert int(info) == sum(p.numel() * 4 for p in model.parameters())  # sgd keeps only the averages
    for i, p in enumerate(model.parameters()):
        want = 0.5 * (0.5 * values[0][i] + 0.5 * values[1][i]) + 0.5 * values[2][i]
        torch.testing.assert_close(opt.state[p]["ema"], want)
    path = tmp_path / "ck.pt"
    interp.eval(f"torch::save_checkpoint $m $opt {{{path}}}")
    saved = torch.load(path, weights_only=True)
    assert all("ema" in s for s in saved["optimizer"]["state"].values())
    fresh = interp.get(interp.eval("set o2 [torch::optimizer_sgd $m 0.1 -useEma 1 -emaMomentum 0.5]"))
    interp.eval(f"torch::load_checkpoint $m $o2 {{{path}}}")
    for p in model.parameters():
        assert torch.equal(fresh.state[p]["ema"], opt.state[p]["ema"])
    assert fresh.param_groups[0]["iterations"] == 3
    assert int(interp.eval("torch::optimizer_finalize $opt")) == 2
    for p in model.parameters():
        assert torch.equal(p.detach(), opt.state[p]["ema"])
    plain = interp.eval("torch::optimizer_sgd $m 0.1")
    assert interp.eval(f"torch::optimizer_finalize {plain}") == "0"


# -- clip_grad_norm / clip_grad_value -----------------------------------------------------------


@pytest.mark.parametrize("norm_type", ["2", "1", "inf", "3.5"])
def test_clip_grad_norm_matches_torch(norm_type):
    interp = tcltorch.Interp()
    a, b = twin_models(3)
    x = torch.randn(5, 6)
    for m in (a, b):
        m(x).square().sum().backward()
    got = float(
        interp.eval(f"torch::clip_grad_norm -parameters {interp.put(a)} -maxNorm 0.5 -normType {norm_type}")
    )
    want = torch.nn.utils.clip_grad_norm_(b.parameters(), 0.5, norm_type=float(norm_type))
    assert got == pytest.approx(want.item(), rel=1e-6)
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa.grad, pb.grad, rtol=0, atol=0)


def test_clip_grad_value_and_errors():
    interp = tcltorch.Interp()
    a, b = twin_models(4)
    x = torch.randn(5, 6)
    for m in (a, b):
        m(x).square().sum().backward()
    name = interp.put(a)
    assert interp.eval(f"torch::clip_grad_value {name} 0.01") == ""
    torch.nn.utils.clip_grad_value_(b.parameters(), 0.01)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa.grad, pb.grad)
    t = torch.tensor([float("nan"), 1.0], requires_grad=True)
    t.grad = torch.tensor([float("nan"), 1.0])
    tn = interp.put(t)
    with pytest.raises(RuntimeError, match="non-finite"):
        interp.eval(f"torch::clip_grad_norm {tn} 1.0 2 1")
    assert tcl_only_error(interp, f"torch::clip_grad_norm {tn} 1.0 -1")[1] == ["TORCH", "VALUE", "-normType"]
    assert tcl_only_error(interp, f"torch::clip_grad_norm -parameters {tn}")[1] == [
        "TORCH",
        "ARGS",
        "REQUIRED",
        "-maxNorm",
    ]
    assert tcl_only_error(interp, "torch::clip_grad_value nosuch 1")[1] == ["TORCH", "HANDLE", "nosuch"]


def test_ema_of_a_parameter_stepped_late_follows_keras():
    """Keras averages every variable from the first step; one without a gradient so far is constant,
    so its average is its value until it first moves."""
    from tcltorch.optim import extras

    a, b = torch.ones(2, requires_grad=True), torch.full((2,), 3.0, requires_grad=True)
    frozen = torch.zeros(2, requires_grad=True)
    opt = extras.attach(torch.optim.SGD([a, b, frozen], lr=0.5), use_ema=True, ema_momentum=0.5)
    a.grad = torch.ones(2)
    opt.step()
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    opt.step()
    assert torch.equal(opt.state[a]["ema"], torch.full((2,), 0.25))  # 0.5*0.5 + 0.5*0.0
    assert torch.equal(opt.state[b]["ema"], torch.full((2,), 2.75))  # 0.5*3.0 + 0.5*2.5
    assert "ema" not in opt.state.get(frozen, {})
    assert extras.finalize(opt) == 2 and torch.equal(b.detach(), torch.full((2,), 2.75))
