"""The multi-tensor ("foreach") implementation, and the fallback of the fused path."""

from __future__ import annotations

import functools
import math
from typing import Any

import torch
from torch import Tensor

from .common import _floored, _Hyper, _norms, _tiny
from .reference import _tensor_update

# Elements per streamed block of a factored tensor. On the CPU a 4 MiB float32 block stays in
# cache between the ops that touch it, so each chunk costs one trip to memory per pass.
_CHUNK_NUMEL = {"cpu": 1 << 20}
_CHUNK_NUMEL_DEFAULT = 1 << 24


# --------------------------------------------------------------------------- foreach
#
# Tensors of at most one chunk go through _foreach_small a chunk's worth at a time: every op is a
# torch._foreach_* call over the sub-list (few dispatches for many small tensors). On the CPU, where
# a foreach op is only a loop of per-tensor ops, they go instead through _factored_stacked and
# _vectors_stacked, stacked by shape (one op per shape for all the small maths). Larger factored
# tensors go through _factored_streamed: two passes over G in cache-sized blocks, so that no
# temporary is larger than a block and each pass costs one trip through memory. No path builds U
# to measure it: ||U||^2 = mean(r) * sum_j cf_j^2 w_j with w_j = sum_i G_ij^2 / r_i, a product of
# G^2 (still in cache from the statistics) with 1/r.


def _per_tensor(values: list[float], like: Tensor) -> Tensor:
    """A vector of per-tensor constants for the stacked scalar maths (CPU only: no transfer)."""
    return torch.tensor(values, dtype=like.dtype)


# On the CPU a foreach op is a loop of per-tensor ops, so the 0-d scalars of a step (alpha_t, the
# clipping denominators, the decays) are stacked into one vector and done in a few ops; on other
# devices they stay lists of 0-d tensors, so that no constant has to be copied to the device.


def _alphas(params: list[Tensor], rhos: list[float], hyper: _Hyper, cd) -> list[Tensor] | None:
    """alpha_t = max(eps_scale, RMS(X)) * rho_t as 0-d tensors (None without scale_parameter)."""
    if not hyper.scale_parameter:
        return None
    alphas = _norms(params, cd)
    coefs = [r / math.sqrt(p.numel()) for p, r in zip(params, rhos)]
    floors = [hyper.eps_scale * r for r in rhos]
    if params[0].device.type == "cpu":
        a = torch.stack(alphas)
        a.mul_(_per_tensor(coefs, a)).clamp_min_(_per_tensor(floors, a))
        return list(a.unbind(0))
    torch._foreach_mul_(alphas, coefs)
    torch._foreach_clamp_min_(alphas, floors)
    return alphas


def _scales(
    update_norms: list[Tensor],
    params: list[Tensor],
    alphas: list[Tensor] | None,
    rhos: list[float],
    hyper: _Hyper,
) -> list[Tensor]:
    """sign * alpha_t / max(1, RMS(U)/d) per tensor, times (1 - beta1) with momentum (0-d tensors)."""
    inv_rms = [1.0 / (math.sqrt(p.numel()) * hyper.clip_threshold) for p in params]
    factor = -1.0 if hyper.maximize else 1.0
    if hyper.momentum:
        factor *= 1.0 - hyper.beta1
    if params[0].device.type == "cpu":
        d = torch.stack(update_norms)
        d.mul_(_per_tensor(inv_rms, d)).clamp_min_(1.0)
        if alphas is None:
            scales = d.reciprocal_().mul_(_per_tensor([factor * r for r in rhos], d))
        else:
            scales = torch.stack(alphas).div_(d).mul_(factor)
        return list(scales.unbind(0))
    denoms = list(update_norms)
    torch._foreach_mul_(denoms, inv_rms)
    torch._foreach_clamp_min_(denoms, 1.0)
    if alphas is None:
        scales = torch._foreach_reciprocal(denoms)
        torch._foreach_mul_(scales, [factor * r for r in rhos])
    else:
        scales = torch._foreach_div(alphas, denoms)
        torch._foreach_mul_(scales, factor)
    return scales


def _decays(alphas: list[Tensor] | None, rhos: list[float], hyper: _Hyper) -> list | None:
    """1 - lambda * alpha_t per tensor, or None without weight decay."""
    if hyper.weight_decay <= 0:
        return None
    if alphas is None:
        return [1.0 - hyper.weight_decay * r for r in rhos]
    if alphas[0].device.type == "cpu":
        return list(torch.stack(alphas).mul_(-hyper.weight_decay).add_(1.0).unbind(0))
    decays = torch._foreach_mul(alphas, -hyper.weight_decay)
    torch._foreach_add_(decays, 1.0)
    return decays


def _foreach_small(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    rhos: list[float],
    weights: list[float],
    hyper: _Hyper,
    cd: torch.dtype,
) -> None:
    """Tensors of any rank, a chunk's worth in all (G read twice, U never built).

    For a factored tensor ||U||^2 = sum_i rf_i^2 sum_j G_ij^2 cf_j^2 = mean(r) * sum_j cf_j^2 w_j
    with w_j = sum_i G_ij^2 / r_i, one product of G^2 (still in cache) with 1/r; then
    X -= coef (x) (G * cf) with coef_i = rf_i * alpha / max(1, RMS(U)/d).
    """
    tiny = torch.finfo(cd).tiny
    gs = [g if g.dtype == cd else g.to(cd) for g in grads]
    n = len(gs)
    norms: list[Tensor] = [None] * n  # type: ignore[list-item]
    vec = [i for i, g in enumerate(gs) if g.dim() < 2]
    mat = [i for i, g in enumerate(gs) if g.dim() >= 2]

    us: list[Tensor] = []
    if vec:  # U = G / sqrt(v)
        gv = [gs[i] for i in vec]
        vs = [states[i]["v"] for i in vec]
        q = torch._foreach_mul(gv, gv)
        torch._foreach_add_(q, hyper.eps2)
        torch._foreach_lerp_(vs, q, [weights[i] for i in vec])
        us = torch._foreach_clamp_min(vs, tiny)
        torch._foreach_rsqrt_(us)
        torch._foreach_mul_(us, gv)
        for i, t in zip(vec, torch._foreach_norm(us)):
            norms[i] = t

    if mat:
        gm = [gs[i] for i in mat]
        sq = torch._foreach_mul(gm, gm)
        rows = [states[i]["row"] for i in mat]
        cols = [states[i]["col"] for i in mat]
        rstats = [s.mean(dim=-1) for s in sq]
        torch._foreach_add_(rstats, hyper.eps2)
        torch._foreach_lerp_(rows, rstats, [weights[i] for i in mat])
        inv_rows = torch._foreach_clamp_min(rows, tiny)
        torch._foreach_reciprocal_(inv_rows)
        cstats = [s.mean(dim=-2) for s in sq]
        wcols = [torch.matmul(a.unsqueeze(-2), s).squeeze(-2) for a, s in zip(inv_rows, sq)]
        torch._foreach_add_(cstats, hyper.eps2)
        torch._foreach_lerp_(cols, cstats, [weights[i] for i in mat])
        rmeans = [_floored(r.mean(dim=-1, keepdim=True)) for r in rows]
        rfs = torch._foreach_div(rows, rmeans)
        torch._foreach_clamp_min_(rfs, tiny)
        torch._foreach_rsqrt_(rfs)
        cfs = torch._foreach_clamp_min(cols, tiny)
        torch._foreach_rsqrt_(cfs)
        # ||U||^2 = sum_b mean(r_b) sum_j cf_bj^2 w_bj
        parts = torch._foreach_mul(cfs, cfs)
        torch._foreach_mul_(parts, wcols)
        torch._foreach_mul_(parts, rmeans)
        sums = [t.sum() for t in parts]
        torch._foreach_sqrt_(sums)
        for i, t in zip(mat, sums):
            norms[i] = t

    alphas = _alphas(params, rhos, hyper, cd)
    scales = _scales(norms, params, alphas, rhos, hyper)
    decays = _decays(alphas, rhos, hyper)
    xs = [p if p.dtype == cd else p.to(cd) for p in params]
    if decays is not None:
        torch._foreach_mul_(xs, decays)
    if vec:
        xv = [xs[i] for i in vec]
        sv = [scales[i] for i in vec]
        if hyper.momentum:
            ms = [states[i]["exp_avg"] for i in vec]
            torch._foreach_mul_(ms, hyper.beta1)
            torch._foreach_addcmul_(ms, us, sv)
            torch._foreach_sub_(xv, ms)
        else:
            torch._foreach_addcmul_(xv, us, sv, value=-1.0)
    if mat:
        coefs = torch._foreach_mul(rfs, [scales[i] for i in mat])
        for k, i in enumerate(mat):
            t = torch.mul(gm[k], cfs[k].unsqueeze(-2), out=sq[k])
            coef = coefs[k].unsqueeze(-1)
            if hyper.momentum:
                m = states[i]["exp_avg"]
                m.mul_(hyper.beta1).addcmul_(t, coef)
                xs[i].sub_(m)
            else:
                xs[i].addcmul_(t, coef, value=-1.0)
    for p, x in zip(params, xs):
        if x is not p:
            p.copy_(x)


def _factored_stacked(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    rhos: list[float],
    weights: list[float],
    hyper: _Hyper,
    cd: torch.dtype,
) -> None:
    """Factored tensors of one shape, a chunk's worth in all, as one stack (the CPU path).

    The maths of _foreach_small. On the CPU a foreach op is a loop of per-tensor ops, so the ~25
    small ops on the statistics, the factors and the scalars of each tensor are what a step of
    small tensors costs; stacked, each is one op for all the tensors of a shape. G^2 is written
    once into the stack and read for the row and column statistics and for w (U is never built).
    """
    tiny = _tiny(cd)
    b = len(params)
    shape = params[0].shape
    numel = params[0].numel()
    gs = [g if g.dtype == cd else g.to(cd) for g in grads]
    xs = [p if p.dtype == cd else p.to(cd) for p in params]
    sq = torch.empty((b, *shape), dtype=cd, device=params[0].device)
    sqs = sq.unbind(0)
    for g, out in zip(gs, sqs):
        torch.mul(g, g, out=out)

    def per_tensor(values: list[float], dims: int) -> float | Tensor:
        if all(v == values[0] for v in values):
            return values[0]
        return torch.tensor(values, dtype=cd).view(b, *([1] * dims))

    row_states = [st["row"] for st in states]
    col_states = [st["col"] for st in states]
    rows = torch.stack(row_states)
    cols = torch.stack(col_states)
    weight = per_tensor(weights, rows.dim() - 1)
    rows.lerp_(sq.mean(dim=-1).add_(hyper.eps2), weight)
    inv_rows = torch.clamp_min(rows, tiny).reciprocal_()
    cstats = sq.mean(dim=-2).add_(hyper.eps2)
    wcols = torch.matmul(inv_rows.unsqueeze(-2), sq).squeeze(-2)
    cols.lerp_(cstats, weight)
    torch._foreach_copy_(row_states, list(rows.unbind(0)))
    torch._foreach_copy_(col_states, list(cols.unbind(0)))
    rmeans = _floored(rows.mean(dim=-1, keepdim=True))
    rfs = torch.div(rows, rmeans).clamp_min_(tiny).rsqrt_()
    cfs = torch.clamp_min(cols, tiny).rsqrt_()
    # ||U||^2 = sum_b mean(r_b) sum_j cf_bj^2 w_bj, per tensor
    norms = (cfs * cfs).mul_(wcols).mul_(rmeans).reshape(b, -1).sum(dim=1).sqrt_()

    factor = -1.0 if hyper.maximize else 1.0
    if hyper.momentum:
        factor *= 1.0 - hyper.beta1
    denoms = norms.mul_(1.0 / (math.sqrt(numel) * hyper.clip_threshold)).clamp_min_(1.0)
    decays = None
    if hyper.scale_parameter:
        alphas = torch.stack(_norms(xs, cd))
        alphas.mul_(per_tensor([r / math.sqrt(numel) for r in rhos], 0))
        alphas.clamp_min_(per_tensor([hyper.eps_scale * r for r in rhos], 0))
        scales = torch.div(alphas, denoms).mul_(factor)
        if hyper.weight_decay > 0:
            decays = alphas.mul_(-hyper.weight_decay).add_(1.0).unbind(0)
    else:
        scales = denoms.reciprocal_().mul_(per_tensor([factor * r for r in rhos], 0))
        if hyper.weight_decay > 0:
            decays = [1.0 - hyper.weight_decay * r for r in rhos]
    coefs = rfs.mul_(scales.view(b, *([1] * (rfs.dim() - 1)))).unsqueeze(-1).unbind(0)
    cfs = cfs.unsqueeze(-2).unbind(0)
    for k, (x, g, st) in enumerate(zip(xs, gs, states)):
        if decays is not None:
            x.mul_(decays[k])
        t = torch.mul(g, cfs[k], out=sqs[k])
        if hyper.momentum:
            m = st["exp_avg"]
            m.mul_(hyper.beta1).addcmul_(t, coefs[k])
            x.sub_(m)
        else:
            x.addcmul_(t, coefs[k], value=-1.0)
        if x is not params[k]:
            params[k].copy_(x)


def _vectors_stacked(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    rhos: list[float],
    weights: list[float],
    hyper: _Hyper,
    cd: torch.dtype,
) -> None:
    """Rank <= 1 tensors of one shape, a chunk's worth in all, as one stack (the CPU path).

    The maths of _foreach_small, each op once for the stack; v, X (and m) are stacked, updated
    and copied back.
    """
    b = len(params)
    numel = params[0].numel()
    rest = (1,) * params[0].dim()

    def per_tensor(values: list[float]) -> float | Tensor:
        if all(v == values[0] for v in values):
            return values[0]
        return torch.tensor(values, dtype=cd).view(b, *rest)

    g = torch.stack([t if t.dtype == cd else t.to(cd) for t in grads])
    x = torch.stack([t if t.dtype == cd else t.to(cd) for t in params])
    v_states = [st["v"] for st in states]
    v = torch.stack(v_states)
    v.lerp_(torch.mul(g, g).add_(hyper.eps2), per_tensor(weights))
    torch._foreach_copy_(v_states, list(v.unbind(0)))
    u = torch.clamp_min(v, _tiny(cd)).rsqrt_().mul_(g)

    factor = -1.0 if hyper.maximize else 1.0
    if hyper.momentum:
        factor *= 1.0 - hyper.beta1
    denoms = torch.linalg.vector_norm(u.reshape(b, -1), dim=1).view(b, *rest)
    denoms.mul_(1.0 / (math.sqrt(numel) * hyper.clip_threshold)).clamp_min_(1.0)
    decays = None
    if hyper.scale_parameter:
        alphas = torch.linalg.vector_norm(x.reshape(b, -1), dim=1).view(b, *rest)
        alphas.mul_(per_tensor([r / math.sqrt(numel) for r in rhos]))
        alphas.clamp_min_(per_tensor([hyper.eps_scale * r for r in rhos]))
        scales = torch.div(alphas, denoms).mul_(factor)
        if hyper.weight_decay > 0:
            decays = alphas.mul_(-hyper.weight_decay).add_(1.0)
    else:
        scales = denoms.reciprocal_().mul_(per_tensor([factor * r for r in rhos]))
        if hyper.weight_decay > 0:
            decays = per_tensor([1.0 - hyper.weight_decay * r for r in rhos])
    if decays is not None:
        x.mul_(decays)
    if hyper.momentum:
        m_states = [st["exp_avg"] for st in states]
        m = torch.stack(m_states)
        m.mul_(hyper.beta1).addcmul_(u, scales)
        torch._foreach_copy_(m_states, list(m.unbind(0)))
        x.sub_(m)
    else:
        x.addcmul_(u, scales, value=-1.0)
    torch._foreach_copy_(params, list(x.unbind(0)))


@functools.lru_cache(maxsize=4096)
def _chunk_plan(batch: int, rows: int, cols: int, chunk: int) -> tuple[tuple[slice, slice], ...]:
    """Blocks (batch slice, row slice) of a (batch, rows, cols) array of about ``chunk`` elements."""
    if batch * rows * cols <= chunk:
        return ((slice(None), slice(None)),)
    if rows * cols <= chunk:
        per = chunk // (rows * cols)
        return tuple((slice(b, b + per), slice(None)) for b in range(0, batch, per))
    per = max(1, chunk // cols)
    return tuple((slice(b, b + 1), slice(r, r + per)) for b in range(batch) for r in range(0, rows, per))


def _as_batched(t: Tensor) -> Tensor | None:
    """A (batch, rows, cols) view of a rank >= 2 tensor, or None when no view exists."""
    if t.dim() == 2:
        return t.unsqueeze(0)
    try:
        return t.view(-1, t.shape[-2], t.shape[-1])
    except RuntimeError:
        return None


def _square_into(buf: Tensor, gc: Tensor) -> Tensor:
    if gc.dtype == buf.dtype:
        return torch.mul(gc, gc, out=buf)
    buf.copy_(gc)  # square after the upcast: exact, where a bf16 square would round
    return buf.mul_(buf)


def _streamed_stats(
    g3: Tensor, row3: Tensor, plan, scratch: Tensor, weight: float, eps2: float
) -> tuple[Tensor, Tensor]:
    """Pass 1 over G: the row averages r (updated in place, block by block), the column sums of
    G^2 (B, m), and w (B, m) with w_j = sum_i G_ij^2 / r_i, for ||U||^2 = mean(r) * cf^2 . w."""
    b, n, m = g3.shape
    tiny = torch.finfo(scratch.dtype).tiny
    rsum = torch.empty((b, n), dtype=scratch.dtype, device=g3.device)
    csum = torch.zeros((b, m), dtype=scratch.dtype, device=g3.device)
    wcol = torch.zeros((b, m), dtype=scratch.dtype, device=g3.device)
    for bs, rs in plan:
        gc = g3[bs, rs]
        buf = _square_into(scratch[: gc.numel()].view(gc.shape), gc)
        rstat = torch.sum(buf, dim=-1, out=rsum[bs, rs])
        csum[bs].add_(buf.sum(dim=-2))
        rstat.mul_(1.0 / m).add_(eps2)
        r = row3[bs, rs]
        r.lerp_(rstat, weight)
        inv = torch.clamp_min(r, tiny).reciprocal_()
        wcol[bs].add_(torch.matmul(inv.unsqueeze(-2), buf).squeeze(-2))
    return csum, wcol


def _streamed_apply(
    x3: Tensor,
    g3: Tensor,
    cf3: Tensor,
    coef3: Tensor,
    m3: Tensor | None,
    beta1: float,
    decay: Tensor | float | None,
    plan,
    scratch: Tensor,
) -> None:
    """Pass 2 over G and X: X -= coef (x) (G * cf) [through the momentum buffer], block by block.

    ``coef3`` (B, n) holds sign * alpha/denominator * rf, times (1 - beta1) with momentum.
    """
    cd = scratch.dtype
    for bs, rs in plan:
        gc = g3[bs, rs]
        t = torch.mul(gc, cf3[bs].unsqueeze(-2), out=scratch[: gc.numel()].view(gc.shape))
        coef = coef3[bs, rs].unsqueeze(-1)
        xc = x3[bs, rs]
        xw = xc if xc.dtype == cd else xc.to(cd)
        if decay is not None:
            xw.mul_(decay)
        if m3 is not None:
            mc = m3[bs, rs]
            mc.mul_(beta1).addcmul_(t, coef)
            xw.sub_(mc)
        else:
            xw.addcmul_(t, coef, value=-1.0)
        if xw is not xc:
            xc.copy_(xw)


def _factored_streamed(params, grads, states, rhos, weights, hyper: _Hyper, cd, chunk) -> None:
    """Large factored tensors: pass 1 (statistics and RMS(U)), pass 2 (update), in blocks."""
    x3s = [_as_batched(p) for p in params]
    g3s = [_as_batched(g) for g in grads]
    m3s = [_as_batched(st["exp_avg"]) if hyper.momentum else None for st in states]
    plans = [_chunk_plan(*g3.shape, chunk) for g3 in g3s]
    scratch = torch.empty(max(chunk, *(g3.shape[-1] for g3 in g3s)), dtype=cd, device=params[0].device)

    # Pass 1: row averages (in place), column statistics and the weighted column sums of G^2.
    rows = [st["row"].view(g3.shape[:-1]) for st, g3 in zip(states, g3s)]
    sums = [
        _streamed_stats(g3, r3, plan, scratch, w, hyper.eps2)
        for g3, r3, plan, w in zip(g3s, rows, plans, weights)
    ]
    cstats = [cs for cs, _ in sums]
    wcols = [wc for _, wc in sums]
    torch._foreach_mul_(cstats, [1.0 / g.shape[-2] for g in grads])
    torch._foreach_add_(cstats, hyper.eps2)
    cols = [st["col"].view(cs.shape) for st, cs in zip(states, cstats)]
    torch._foreach_lerp_(cols, cstats, weights)

    tiny = torch.finfo(cd).tiny
    rmeans = [_floored(r.mean(dim=-1, keepdim=True)) for r in rows]
    rfs = torch._foreach_div(rows, rmeans)
    torch._foreach_clamp_min_(rfs, tiny)
    torch._foreach_rsqrt_(rfs)
    cfs = torch._foreach_clamp_min(cols, tiny)
    torch._foreach_rsqrt_(cfs)

    # RMS(U) for the clipping denominator, from pass 1; alpha_t reads X; per-row coefficients.
    parts = torch._foreach_mul(cfs, cfs)
    torch._foreach_mul_(parts, wcols)
    torch._foreach_mul_(parts, rmeans)
    norms = [t.sum() for t in parts]
    torch._foreach_sqrt_(norms)
    alphas = _alphas(params, rhos, hyper, cd)
    coefs = torch._foreach_mul(rfs, _scales(norms, params, alphas, rhos, hyper))
    decays = _decays(alphas, rhos, hyper) or [None] * len(params)

    # Pass 2: the update itself.
    for x3, g3, cf, coef, m3, decay, plan in zip(x3s, g3s, cfs, coefs, m3s, decays, plans):
        _streamed_apply(x3, g3, cf, coef, m3, hyper.beta1, decay, plan, scratch)


def _groups(sizes: list[int], budget: int) -> list[list[int]]:
    """Consecutive index groups whose sizes add up to at most ``budget`` (a larger item stands alone)."""
    groups: list[list[int]] = []
    total = budget + 1
    for i, size in enumerate(sizes):
        if total + size > budget:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += size
    return groups


def _foreach_bucket(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    rhos: list[float],
    weights: list[float],
    hyper: _Hyper,
    cd: torch.dtype,
) -> None:
    """The multi-tensor path for parameters that share a device and a compute dtype."""
    chunk = _CHUNK_NUMEL.get(params[0].device.type, _CHUNK_NUMEL_DEFAULT)
    small, streamed, fallback = [], [], []
    for i, p in enumerate(params):
        if p.dim() < 2 or p.numel() <= chunk:
            small.append(i)
        elif None not in (_as_batched(p), _as_batched(grads[i])) and (
            not hyper.momentum or _as_batched(states[i]["exp_avg"]) is not None
        ):
            streamed.append(i)
        else:
            fallback.append(i)

    def pick(idx: list[int]):
        return (
            [params[i] for i in idx],
            [grads[i] for i in idx],
            [states[i] for i in idx],
            [rhos[i] for i in idx],
            [weights[i] for i in idx],
        )

    if params[0].device.type == "cpu":  # stacked by shape: see _factored_stacked
        shapes: dict[tuple, list[int]] = {}
        for i in small:
            shapes.setdefault(tuple(params[i].shape), []).append(i)
        for shape, same in shapes.items():
            fn = _factored_stacked if len(shape) >= 2 else _vectors_stacked
            for group in _groups([params[i].numel() for i in same], chunk):
                fn(*pick([same[j] for j in group]), hyper, cd)
        small = []
    small.sort(key=lambda i: params[i].dim() >= 2)  # the vectors together: fewer small foreach ops
    for group in _groups([params[i].numel() for i in small], chunk):
        _foreach_small(*pick([small[j] for j in group]), hyper, cd)
    if streamed:
        _factored_streamed(*pick(streamed), hyper, cd, chunk)
    for i in fallback:  # a large tensor with no (batch, rows, cols) view: plain maths
        st = states[i]
        _tensor_update(
            params[i],
            grads[i],
            st["row"],
            st["col"],
            None,
            st.get("exp_avg"),
            rhos[i],
            weights[i],
            hyper,
        )
