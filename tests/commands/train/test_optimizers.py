"""torch::optimizer_adam / _adamw / _sgd, torch::get_lr / set_lr through the Python host,
compared with torch.optim used directly."""

from __future__ import annotations

import pytest
import torch
from helpers import tcl_only_error, train_mse, twin_models

CASES = [
    # (Tcl command words after the parameters, the same optimizer built in Python)
    ("optimizer_adam", "", lambda p: torch.optim.Adam(p)),
    (
        "optimizer_adam",
        "0.01 0.8 0.99 0.001",
        lambda p: torch.optim.Adam(p, 0.01, (0.8, 0.99), weight_decay=0.001),
    ),
    (
        "optimizer_adam",
        "-lr 0.02 -eps 1e-6 -amsgrad 1 -maximize true",
        lambda p: torch.optim.Adam(p, 0.02, eps=1e-6, amsgrad=True, maximize=True),
    ),
    ("optimizer_adamw", "", lambda p: torch.optim.AdamW(p)),
    (
        "optimizer_adamw",
        "0.005 0.1 0.85 0.95 1e-7 1",
        lambda p: torch.optim.AdamW(p, 0.005, (0.85, 0.95), 1e-7, 0.1, amsgrad=True),
    ),
    ("optimizer_sgd", "", lambda p: torch.optim.SGD(p, 0.01)),
    ("optimizer_sgd", "0.1 0.9 0 0.01 1", lambda p: torch.optim.SGD(p, 0.1, 0.9, 0, 0.01, nesterov=True)),
    ("optimizer_sgd", "-lr 0.05 -momentum 0.5 -dampening 0.1", lambda p: torch.optim.SGD(p, 0.05, 0.5, 0.1)),
]


@pytest.mark.parametrize("name,args,make", CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_same_trajectory_as_torch(interp, name, args, make):
    a, b = twin_models()
    handle = interp.put(a)
    opt_name = interp.eval(
        f"torch::{name} {handle} {args}" if args[:1] != "-" else f"torch::{name} -parameters {handle} {args}"
    )
    assert opt_name.startswith("optimizer")
    tcl_opt = interp.get(opt_name)
    ref = make(b.parameters())
    assert type(tcl_opt) is type(ref)
    mine = {k: v for k, v in tcl_opt.param_groups[0].items() if k != "params"}
    theirs = {k: v for k, v in ref.param_groups[0].items() if k != "params"}
    assert mine == theirs
    train_mse(
        a,
        lambda: interp.eval(f"torch::optimizer_step {opt_name}"),
        lambda: interp.eval(f"torch::optimizer_zero_grad {opt_name}"),
        steps=6,
        seed=123,
    )
    train_mse(b, ref.step, ref.zero_grad, steps=6, seed=123)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_named_and_positional_forms_agree(interp):
    w = interp.put(torch.ones(3, 2))
    pos = interp.get(interp.eval(f"torch::optimizer_adam {w} 0.01 0.8 0.9 0.1 1e-5 1"))
    named = interp.get(
        interp.eval(
            f"torch::optimizerAdam -weightDecay 0.1 -beta2 0.9 -parameters {w} -beta1 0.8 -lr 0.01 -eps 1e-5 -amsgrad 1"
        )
    )
    assert pos.param_groups[0]["betas"] == (0.8, 0.9) and pos.param_groups[0]["weight_decay"] == 0.1
    assert {k: v for k, v in pos.param_groups[0].items() if k != "params"} == {
        k: v for k, v in named.param_groups[0].items() if k != "params"
    }
    # hybrid: positional values followed by options; peer spellings of options
    hybrid = interp.get(interp.eval(f"torch::optimizer_sgd {w} 0.2 -momentum 0.3 -weight_decay 0.4"))
    assert (hybrid.param_groups[0]["lr"], hybrid.param_groups[0]["momentum"]) == (0.2, 0.3)
    assert hybrid.param_groups[0]["weight_decay"] == 0.4
    spelled = interp.get(interp.eval(f"torch::optimizer_adamw -params {w} -learningRate 0.3 -epsilon 1e-3"))
    assert (spelled.param_groups[0]["lr"], spelled.param_groups[0]["eps"]) == (0.3, 1e-3)


def test_adamw_positional_order_is_lr_then_weight_decay(interp):
    w = interp.put(torch.ones(2))
    opt = interp.get(interp.eval(f"torch::optimizer_adamw {w} 0.002 0.2"))
    assert opt.param_groups[0]["lr"] == 0.002 and opt.param_groups[0]["weight_decay"] == 0.2
    assert opt.param_groups[0]["betas"] == (0.9, 0.999)


@pytest.mark.parametrize("alias", ["optimizerAdam", "optimizerAdamw", "optimizerAdamW", "optimizerSgd"])
def test_aliases(interp, alias):
    w = interp.put(torch.ones(2))
    opt = interp.get(interp.eval(f"torch::{alias} {w}"))
    assert isinstance(opt, torch.optim.Optimizer)


def test_module_and_mixed_parameters(interp):
    lin = torch.nn.Linear(3, 2)
    extra = torch.zeros(4)
    h, e = interp.put(lin), interp.put(extra)
    opt = interp.get(interp.eval(f"torch::optimizer_sgd [list {h} {e} {h}] 0.1"))
    params = opt.param_groups[0]["params"]
    assert len(params) == 3 and params[0] is lin.weight and params[2] is extra
    assert extra.requires_grad  # a tensor given directly becomes a trainable leaf


BAD_VALUES = [
    ("optimizer_adam", "-lr 0", 'invalid -lr "0": must be a finite number > 0', "-lr"),
    ("optimizer_adam", "-lr nan", 'invalid -lr "nan": must be a finite number > 0', "-lr"),
    ("optimizer_adam", "-beta1 1.0", 'invalid -beta1 "1.0": must be a finite number >= 0 and < 1', "-beta1"),
    (
        "optimizer_adam",
        "-beta2 -0.1",
        'invalid -beta2 "-0.1": must be a finite number >= 0 and < 1',
        "-beta2",
    ),
    ("optimizer_adam", "-eps -1e-8", 'invalid -eps "-1e-8": must be a finite number >= 0', "-eps"),
    (
        "optimizer_adam",
        "-weightDecay -1",
        'invalid -weightDecay "-1": must be a finite number >= 0',
        "-weightDecay",
    ),
    ("optimizer_adam", "-amsgrad maybe", 'invalid -amsgrad "maybe": must be a boolean', "-amsgrad"),
    ("optimizer_adamw", "-lr abc", 'invalid -lr "abc": must be a finite number > 0', "-lr"),
    (
        "optimizer_adamw",
        "-weightDecay inf",
        'invalid -weightDecay "inf": must be a finite number >= 0',
        "-weightDecay",
    ),
    (
        "optimizer_sgd",
        "-momentum -0.5",
        'invalid -momentum "-0.5": must be a finite number >= 0',
        "-momentum",
    ),
    ("optimizer_sgd", "-dampening x", 'invalid -dampening "x": must be a finite number >= 0', "-dampening"),
    (
        "optimizer_sgd",
        "-nesterov 1",
        'invalid -nesterov "true": needs -momentum > 0 and -dampening 0',
        "-nesterov",
    ),
    (
        "optimizer_sgd",
        "-nesterov 1 -momentum 0.9 -dampening 0.1",
        'invalid -nesterov "true": needs -momentum > 0 and -dampening 0',
        "-nesterov",
    ),
]


@pytest.mark.parametrize("name,args,message,option", BAD_VALUES, ids=[f"{b[0]} {b[1]}" for b in BAD_VALUES])
def test_bad_values_make_no_handle(interp, name, args, message, option):
    w = interp.put(torch.ones(2))
    before = interp.handles()
    assert tcl_only_error(interp, f"torch::{name} -parameters {w} {args}") == (
        message,
        ["TORCH", "VALUE", option],
    )
    assert interp.handles() == before


def test_usage_errors(interp):
    usage = (
        'wrong # args: should be "torch::optimizer_sgd parameters ?lr? ?momentum? ?dampening? ?weightDecay? '
        '?nesterov? ?-option value ...?"'
    )
    assert tcl_only_error(interp, "torch::optimizer_sgd") == (usage, ["TCL", "WRONGARGS"])
    assert tcl_only_error(interp, "torch::optimizer_adamw -lr 0.1") == (
        'missing required option "-parameters"',
        ["TORCH", "ARGS", "REQUIRED", "-parameters"],
    )
    assert tcl_only_error(interp, "torch::optimizer_adam -parameters") == (
        'missing value for option "-parameters"',
        ["TORCH", "ARGS", "MISSING", "-parameters"],
    )
    message, code = tcl_only_error(interp, "torch::optimizer_adam -bogus 1")
    assert message == (
        'bad option "-bogus": must be -parameters, -lr, -beta1, -beta2, -weightDecay, -eps, '
        "-amsgrad, -maximize, -clipNorm, -clipValue, -globalClipNorm, -useEma, -emaMomentum, "
        "-emaOverwriteFrequency, or -skipNonFinite"
    )
    assert code == ["TCL", "LOOKUP", "INDEX", "option", "-bogus"]
    assert tcl_only_error(interp, "torch::optimizer_sgd tensor99") == (
        'no object named "tensor99"',
        ["TORCH", "HANDLE", "tensor99"],
    )
    assert tcl_only_error(interp, "torch::optimizer_sgd {}") == (
        'invalid -parameters "": the parameter list is empty',
        ["TORCH", "VALUE", "-parameters"],
    )
    t = interp.put(torch.ones(2, dtype=torch.int64))
    assert tcl_only_error(interp, f"torch::optimizer_adam {t}") == (
        f'invalid -parameters "{t}": parameters must be floating-point tensors',
        ["TORCH", "VALUE", "-parameters"],
    )


def test_get_and_set_lr(interp):
    w = interp.put(torch.ones(2))
    opt = interp.eval(f"torch::optimizer_adam {w} 0.0025")
    assert interp.eval(f"torch::get_lr {opt}") == "0.0025"
    assert interp.eval(f"torch::getLr -optimizer {opt}") == "0.0025"
    assert interp.eval(f"torch::set_lr {opt} 0.5") == "0.5"
    assert interp.get(opt).param_groups[0]["lr"] == 0.5
    assert interp.eval(f"torch::setLr -lr 1e-4 -optimizer {opt}") == "0.0001"
    assert float(interp.eval(f"torch::get_lr {opt}")) == 1e-4
    ada = interp.eval(f"torch::optimizer_adafactor {w}")
    assert interp.eval(f"torch::get_lr {ada}") == "0.8"


def test_set_lr_sets_every_group_and_steps_with_it(interp):
    a, b = torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    h = interp.put(opt)
    interp.eval(f"torch::set_lr {h} 0.25")
    assert [g["lr"] for g in opt.param_groups] == [0.25, 0.25]
    a.grad, b.grad = torch.ones(3), torch.ones(2)
    interp.eval(f"torch::optimizer_step {h}")
    assert torch.equal(a.detach(), torch.full((3,), -0.25)) and torch.equal(
        b.detach(), torch.full((2,), -0.25)
    )


def test_set_lr_tensor_lr_keeps_tensor(interp):
    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([p], lr=torch.tensor(0.01))
    h = interp.put(opt)
    interp.eval(f"torch::set_lr {h} 0.02")
    assert isinstance(opt.param_groups[0]["lr"], torch.Tensor)
    assert float(interp.eval(f"torch::get_lr {h}")) == pytest.approx(0.02)


def test_lr_errors(interp):
    w = interp.put(torch.ones(2))
    opt = interp.eval(f"torch::optimizer_sgd {w}")
    before = interp.get(opt).param_groups[0]["lr"]
    for bad in ("-1", "inf", "x"):  # 0 is a learning rate (it freezes the weights)
        assert tcl_only_error(interp, f"torch::set_lr {opt} {bad}") == (
            f'invalid -lr "{bad}": must be a finite number >= 0',
            ["TORCH", "VALUE", "-lr"],
        )
    assert interp.get(opt).param_groups[0]["lr"] == before
    assert tcl_only_error(interp, f"torch::get_lr {w}") == (
        f'"{w}" is a tensor, expected an optimizer',
        ["TORCH", "HANDLE", w],
    )
    assert tcl_only_error(interp, "torch::set_lr optimizer99 0.1") == (
        'no optimizer named "optimizer99"',
        ["TORCH", "HANDLE", "optimizer99"],
    )
    assert tcl_only_error(interp, "torch::get_lr") == (
        'wrong # args: should be "torch::get_lr optimizer"',
        ["TCL", "WRONGARGS"],
    )
    assert tcl_only_error(interp, f"torch::set_lr {opt}") == (
        'wrong # args: should be "torch::set_lr optimizer lr"',
        ["TCL", "WRONGARGS"],
    )
