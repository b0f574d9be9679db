"""Elementwise losses follow torch's type promotion (issue 20): a float32 target is not rounded
to a bfloat16 input's precision, with or without CPU bfloat16 autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

LOSSES = {  # command -> the torch function it is, on (input, target)
    "mse_loss": F.mse_loss,
    "l1_loss": F.l1_loss,
    "smooth_l1_loss": F.smooth_l1_loss,
    "huber_loss": F.huber_loss,
    "bce_with_logits_loss": F.binary_cross_entropy_with_logits,
    "soft_margin_loss": F.soft_margin_loss,
    "multilabel_soft_margin_loss": F.multilabel_soft_margin_loss,
}


def _pair(name):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 5, generator=g)
    if name == "soft_margin_loss":
        t = torch.randint(0, 2, (4, 5), generator=g).float() * 2 - 1
    elif name in ("bce_loss", "bce_with_logits_loss", "multilabel_soft_margin_loss"):
        t = torch.rand(4, 5, generator=g) * 0.98 + 0.01  # values bfloat16 cannot hold exactly
    else:
        t = torch.randn(4, 5, generator=g) * 3
    return x, t


def _run(interp, name, x, t, autocast: bool) -> torch.Tensor:
    script = f"torch::{name} {interp.put(x)} {interp.put(t)}"
    if autocast:
        script = f"torch::autocast cpu -dtype bfloat16 {{ {script} }}"
    return interp.get(interp.eval(script))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_bfloat16_input_float32_target(interp, name):
    x, t = _pair(name)
    x = x.bfloat16()
    got, want = _run(interp, name, x, t, False), LOSSES[name](x, t)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_under_cpu_bfloat16_autocast(interp, name):
    x, t = _pair(name)
    x = x.bfloat16()  # as a layer's output under autocast would be
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = LOSSES[name](x, t)
    got = _run(interp, name, x, t, True)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_bce_mixed_dtypes_promote(interp):
    x, t = _pair("bce_loss")
    p = torch.sigmoid(x).bfloat16()
    got = _run(interp, "bce_loss", p, t, False)
    want = F.binary_cross_entropy(p.float(), t)  # torch refuses the mix; the promoted dtype is float32
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = F.binary_cross_entropy(p, t)
    got = _run(interp, "bce_loss", p, t, True)
    assert got.dtype == want.dtype
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)


def test_integer_target_takes_the_input_dtype(interp):
    x = torch.randn(3, 2, dtype=torch.float64)
    t = torch.tensor([[1, 0], [0, 1], [1, 1]])
    got = _run(interp, "mse_loss", x, t, False)
    assert got.dtype == torch.float64
    torch.testing.assert_close(got, F.mse_loss(x, t.double()))
