"""The reference implementation: the single-tensor loop of the maths, one tensor at a time.

Also the kernel that the compiled path hands to ``torch.compile`` and the fallback of the foreach
path for large tensors that have no (batch, rows, cols) view."""

from __future__ import annotations

import torch
from torch import Tensor

from .common import _floored, _floored_rsqrt, _Hyper, _rms


def _tensor_update(
    param: Tensor,
    grad: Tensor,
    row: Tensor | None,
    col: Tensor | None,
    v: Tensor | None,
    exp_avg: Tensor | None,
    rho: float | Tensor,
    weight: float | Tensor,
    hyper: _Hyper,
) -> None:
    """One Adafactor step for one tensor, exactly the maths of the module docstring.

    ``rho`` is rho_t and ``weight`` is 1 - beta2_t (floats, or 0-d tensors for the compiled path).
    Mutates ``param`` and the state tensors in place; never writes ``grad``.
    """
    cd = (row if row is not None else v).dtype
    upcast = param.dtype != cd
    x = param.to(cd) if upcast else param  # a compute-dtype copy only for bf16/fp16 parameters
    g = grad.to(cd)
    if hyper.maximize:
        g = -g
    alpha = torch.clamp(_rms(x), min=hyper.eps_scale) * rho if hyper.scale_parameter else rho
    q = g * g + hyper.eps2
    if row is not None:
        row.lerp_(q.mean(dim=-1), weight)
        col.lerp_(q.mean(dim=-2), weight)
        row_factor = _floored_rsqrt(row / _floored(row.mean(dim=-1, keepdim=True)))
        u = g * row_factor.unsqueeze(-1) * _floored_rsqrt(col).unsqueeze(-2)
    else:
        v.lerp_(q, weight)
        u = g * _floored_rsqrt(v)
    u = u / torch.clamp(_rms(u) / hyper.clip_threshold, min=1.0)
    s = u * alpha
    if hyper.momentum:
        exp_avg.mul_(hyper.beta1).add_(s, alpha=1.0 - hyper.beta1)
        s = exp_avg
    if hyper.weight_decay > 0:
        x.mul_(1.0 - hyper.weight_decay * alpha)
    x.sub_(s)
    if upcast:
        param.copy_(x)
