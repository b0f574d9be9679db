"""Mixed precision: autocast regions and GradScaler, compared with torch.amp directly."""

from __future__ import annotations

import pytest
import torch

import tcltorch


def test_autocast_region_matches_torch_and_restores_state(tcl):
    a = torch.randn(4, 4)
    name = tcl.put(a)
    got = tcl.get(
        tcl.eval(f"torch::autocast -deviceType cpu -dtype bfloat16 {{torch::tensor_matmul {name} {name}}}")
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = a @ a
    assert got.dtype == want.dtype == torch.bfloat16
    torch.testing.assert_close(got, want)
    assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(tcltorch.TclError):
        tcl.eval(f"torch::autocast -deviceType cpu {{torch::tensor_matmul {name} {name}; error boom}}")
    assert not torch.is_autocast_enabled("cpu")
    assert (
        tcl.eval(f"torch::autocast -enabled 0 {{torch::tensor_dtype [torch::tensor_matmul {name} {name}]}}")
        == "float32"
    )


def test_autocast_switches(tcl):
    try:
        tcl.eval("torch::autocast_enable cpu bfloat16")
        assert torch.is_autocast_enabled("cpu") and tcl.eval("torch::autocast_is_enabled cpu") == "1"
        assert tcl.eval("torch::autocast_set_dtype float16 cpu") == "float16"
        assert torch.get_autocast_dtype("cpu") == torch.float16
        tcl.eval("torch::autocastDisable -deviceType cpu")
        assert not torch.is_autocast_enabled("cpu")
    finally:
        torch.set_autocast_enabled("cpu", False)
        torch.set_autocast_dtype("cpu", torch.bfloat16)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error of a machine without CUDA")
def test_cuda_autocast_without_cuda_is_an_error(tcl):
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("torch::autocast_enable")
    assert info.value.errorcode == ["TORCH", "VALUE", "-deviceType"]
    assert "CUDA is not available" in str(info.value)


def test_grad_scaler_follows_torch_gradscaler(tcl):
    """Same scale sequence, same skipped steps, same weights as torch.amp.GradScaler."""
    losses = [
        ("1.0", 1.0),
        ("Inf", float("inf")),
        ("1.0", 1.0),
        ("1.0", 1.0),
        ("NaN", float("nan")),
        ("1.0", 1.0),
    ]
    w_ref = torch.tensor([1.0, -2.0], requires_grad=True)
    opt_ref = torch.optim.SGD([w_ref], lr=0.1)
    ref = torch.amp.GradScaler(
        "cpu", init_scale=8.0, growth_factor=2.0, backoff_factor=0.5, growth_interval=2
    )
    w = tcl.put(torch.tensor([1.0, -2.0], requires_grad=True))
    opt = tcl.eval(f"torch::optimizer_sgd {w} 0.1")
    s = tcl.eval("torch::grad_scaler_new -initScale 8 -growthInterval 2 -deviceType cpu")
    assert s.startswith("scaler")
    for text, factor in losses:
        opt_ref.zero_grad()
        ref.scale((w_ref * w_ref).sum() * factor).backward()
        ref.step(opt_ref)
        ref.update()
        tcl.setvar("f", text)
        tcl.eval(f"torch::optimizer_zero_grad {opt}")
        tcl.eval(
            f"torch::scope {{torch::tensor_backward [torch::grad_scaler_scale {s} "
            f"[torch::tensor_mul [torch::tensor_sum [torch::tensor_mul {w} {w}]] $f]]}}"
        )
        tcl.eval(f"torch::grad_scaler_step {s} {opt}")
        assert float(tcl.eval(f"torch::grad_scaler_update {s}")) == ref.get_scale()
        assert float(tcl.eval(f"torch::grad_scaler_get_scale {s}")) == ref.get_scale()
        torch.testing.assert_close(tcl.get(w).detach(), w_ref.detach())


def test_grad_scaler_step_reports_skips_and_needs_a_scale_first(tcl):
    w = tcl.put(torch.ones(2, requires_grad=True))
    opt = tcl.eval(f"torch::optimizer_sgd {w} 0.1")
    s = tcl.eval("torch::grad_scaler_new -deviceType cpu")
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::grad_scaler_step {s} {opt}")
    assert info.value.errorcode == ["TORCH", "STATE"]
    tcl.eval(f"torch::tensor_backward [torch::grad_scaler_scale {s} [torch::tensor_sum {w}]]")
    assert tcl.eval(f"torch::grad_scaler_step {s} {opt}") == "1"
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("torch::grad_scaler_new -backoffFactor 2")
    assert info.value.errorcode == ["TORCH", "VALUE", "-backoffFactor"]
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(f"torch::grad_scaler_scale {opt} {w}")
    assert info.value.errorcode == ["TORCH", "HANDLE", opt]
