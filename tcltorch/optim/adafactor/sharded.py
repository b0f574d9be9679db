"""Adafactor on sharded parameters (DTensor, e.g. FSDP2's ``fully_shard``): the exact unsharded step.

Each rank updates its local shard (``p.to_local()``) and keeps state for that shard only. The
maths of the package docstring needs a few quantities of the whole tensor; they are summed over
the shards with two ``all_reduce`` calls per parameter group and step, whatever the number of
parameters (every parameter's numbers travel in one flat float64 buffer):

1. before the update: sum(X^2) of every tensor (for RMS(X)), and for a matrix split by rows
   (rank 2, ``Shard(0)``) the column sums of Q = G^2 + eps2 and the sum of its updated row
   statistic r (for mean(r)). Row statistics stay local (each row lives on one rank); for rank >= 3
   the split dim is a batch dim, so rows and columns are both local;
2. after it: sum(U^2) of every tensor (for RMS(U), the clipping).

State per shard: ``row`` of the local rows, ``col`` of the whole width (the same on every rank,
for a rank-2 ``Shard(0)`` matrix) or of the local batch, ``v`` and ``exp_avg`` of the local
shard. Placements handled: ``Shard(0)`` or ``Replicate()`` on a one-dimensional mesh.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from .common import _floored, _floored_rsqrt, _Hyper, compute_dtype

try:  # torch >= 2.4
    from torch.distributed.tensor import DTensor, Replicate, Shard
except ImportError:  # pragma: no cover - older torch: no sharded parameters exist
    DTensor = ()  # type: ignore[assignment,misc]


def is_sharded(p: Tensor) -> bool:
    return bool(DTensor) and isinstance(p, DTensor)


def _split_rows(p: Any) -> bool:
    """Whether p is split along dim 0 across ranks (False for Replicate)."""
    mesh = p.device_mesh
    placements = tuple(p.placements)
    if mesh.ndim != 1 or len(placements) != 1:
        raise ValueError(
            f"Adafactor steps DTensor parameters on a one-dimensional mesh, got a {mesh.ndim}-d mesh "
            f"with placements {placements}"
        )
    (place,) = placements
    if isinstance(place, Replicate):
        return False
    if isinstance(place, Shard) and place.dim == 0:
        return True
    raise ValueError(f"Adafactor steps DTensor parameters placed Shard(0) or Replicate(), got {place}")


def init_state(p: Any, st: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
    """State of the local shard (plain tensors): see the module docstring."""
    local = p.to_local()
    cd = compute_dtype(p.dtype)
    dev = local.device
    if not st:
        st["step"] = 0
        if p.dim() >= 2:
            st["row"] = torch.zeros(local.shape[:-1], dtype=cd, device=dev)
            if p.dim() == 2 and _split_rows(p):
                st["col"] = torch.zeros(p.shape[-1:], dtype=cd, device=dev)
            else:
                st["col"] = torch.zeros(local.shape[:-2] + local.shape[-1:], dtype=cd, device=dev)
        else:
            st["v"] = torch.zeros(local.shape, dtype=cd, device=dev)
    if group["beta1"] >= 0:
        if "exp_avg" not in st:
            st["exp_avg"] = torch.zeros(local.shape, dtype=cd, device=dev)
    else:
        st.pop("exp_avg", None)
    return st


def _sumsq(t: Tensor) -> Tensor:
    """sum(t^2) as a float64 0-d tensor (float64 accumulation of row norms for large tensors)."""
    if t.numel() == 0:
        return torch.zeros((), dtype=torch.float64, device=t.device)
    if t.dim() >= 2:
        parts = torch.linalg.vector_norm(t.reshape(-1, t.shape[-1]), dim=-1, dtype=t.dtype).double()
        return torch.dot(parts, parts)
    return torch.linalg.vector_norm(t, dtype=t.dtype).double().square()


def _all_reduce(parts: list[Tensor], group: Any) -> list[Tensor]:
    """Sum a list of float64 tensors over the group in one collective; returns them summed."""
    flat = torch.cat([t.reshape(-1) for t in parts])
    if group is not None and dist.get_world_size(group) > 1:
        from tcltorch import distributed as engine

        engine.wait(dist.all_reduce(flat, group=group, async_op=True))
    out, at = [], 0
    for t in parts:
        out.append(flat[at : at + t.numel()].view(t.shape))
        at += t.numel()
    return out


def step(params, grads, states, rhos, weights, hyper: _Hyper) -> None:
    """One Adafactor step for DTensor parameters of one group (see the module docstring)."""
    group = params[0].device_mesh.get_group()
    work = []
    first: list[Tensor] = []
    for p, g, st, rho, w in zip(params, grads, states, rhos, weights):
        if p.device_mesh.get_group() is not group:
            raise ValueError("Adafactor: the sharded parameters of one group must share one device mesh")
        split = _split_rows(p)
        local = p.to_local()
        cd = st["row"].dtype if "row" in st else st["v"].dtype
        x = local.to(cd) if local.dtype != cd else local
        gl = (g.to_local() if is_sharded(g) else g).to(cd)
        if hyper.maximize:
            gl = -gl
        q = gl * gl + hyper.eps2
        item = {"p": p, "local": local, "x": x, "g": gl, "q": q, "st": st, "rho": rho, "w": w}
        item["at"] = len(first)
        first.append(_sumsq(x) if split else torch.zeros((), dtype=torch.float64, device=x.device))
        if p.dim() >= 2:
            st["row"].lerp_(q.mean(dim=-1), w)
            item["rows_split"] = split and p.dim() == 2
            if item["rows_split"]:
                first.append(q.sum(dim=-2).double())
                first.append(st["row"].sum(dim=-1).double())
            else:
                st["col"].lerp_(q.mean(dim=-2), w)
        else:
            st["v"].lerp_(q, w)
        item["split"] = split
        work.append(item)
    summed = _all_reduce(first, group)
    second: list[Tensor] = []
    for it in work:
        p, x, st, gl = it["p"], it["x"], it["st"], it["g"]
        cd = x.dtype
        sumsq_x = summed[it["at"]] if it["split"] else _sumsq(x)
        it["alpha"] = (
            torch.clamp(sumsq_x.sqrt() / math.sqrt(p.numel()), min=hyper.eps_scale).to(cd) * it["rho"]
            if hyper.scale_parameter
            else it["rho"]
        )
        if p.dim() >= 2:
            if it["rows_split"]:
                rows = p.shape[0]
                st["col"].lerp_((summed[it["at"] + 1] / rows).to(cd), it["w"])
                row_mean = (summed[it["at"] + 2] / rows).to(cd)
            else:
                row_mean = st["row"].mean(dim=-1, keepdim=True)
            row_factor = _floored_rsqrt(st["row"] / _floored(row_mean))
            u = gl * row_factor.unsqueeze(-1) * _floored_rsqrt(st["col"]).unsqueeze(-2)
        else:
            u = gl * _floored_rsqrt(st["v"])
        it["u"] = u
        second.append(_sumsq(u) if it["split"] else torch.zeros((), dtype=torch.float64, device=u.device))
    summed_u = _all_reduce(second, group)
    for it, su in zip(work, summed_u):
        p, x, u, st = it["p"], it["x"], it["u"], it["st"]
        sumsq_u = su if it["split"] else _sumsq(u)
        rms_u = (sumsq_u.sqrt() / math.sqrt(p.numel())).to(x.dtype)
        u = u / torch.clamp(rms_u / hyper.clip_threshold, min=1.0)
        s = u * it["alpha"]
        if hyper.momentum:
            st["exp_avg"].mul_(hyper.beta1).add_(s, alpha=1.0 - hyper.beta1)
            s = st["exp_avg"]
        if hyper.weight_decay > 0:
            x.mul_(1.0 - hyper.weight_decay * it["alpha"])
        x.sub_(s)
        if x is not it["local"]:
            it["local"].copy_(x)
