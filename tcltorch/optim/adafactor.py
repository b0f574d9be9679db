r"""Adafactor (Shazeer & Stern, ICML 2018, arXiv 1804.04235, Algorithms 4 and 5).

The engine behind ``torch::optimizer_adafactor``; pure PyTorch, usable on its own. The
specification is ``docs/adafactor.md`` of the project; this module states it again as maths.

For a parameter :math:`X` with gradient :math:`G` and its own step count :math:`t`
(advanced only on steps where :math:`X` has a gradient), :math:`\mathrm{RMS}(x)=\sqrt{\mathrm{mean}(x^2)}`:

.. math::
    \begin{aligned}
    &G \leftarrow -G \quad\text{if maximize (a copy; } p.grad \text{ is never modified)}\\
    &\rho_t = \min(\gamma, 1/\sqrt t)\ [\,\min(\gamma, 10^{-6}t, 1/\sqrt t) \text{ with warmup\_init}]
        \quad\text{or } \rho_t=\gamma \text{ without relative\_step}\\
    &\alpha_t = \max(\epsilon_{scale}, \mathrm{RMS}(X))\,\rho_t \quad\text{or } \alpha_t=\rho_t
        \text{ without scale\_parameter}\\
    &\hat\beta_{2t} = 1 - t^{-c}\qquad Q = G^2 + \epsilon_2\\
    &\text{rank}\ge 2:\ r \leftarrow \hat\beta_{2t} r + (1-\hat\beta_{2t})\,\mathrm{mean}_{-1}(Q),\;
        c \leftarrow \hat\beta_{2t} c + (1-\hat\beta_{2t})\,\mathrm{mean}_{-2}(Q),\;
        V = \frac{r}{\mathrm{mean}_{-1}(r)} \otimes c\\
    &\text{rank}\le 1:\ v \leftarrow \hat\beta_{2t} v + (1-\hat\beta_{2t})\,Q,\; V = v\\
    &U = G/\sqrt V \qquad \hat U = U / \max(1, \mathrm{RMS}(U)/d) \qquad S = \alpha_t \hat U\\
    &\beta_1 \ge 0:\ m \leftarrow \beta_1 m + (1-\beta_1) S,\; S \leftarrow m\\
    &X \leftarrow X - \lambda\,\alpha_t X \;\;(\lambda>0) \qquad X \leftarrow X - S
    \end{aligned}

Conventions, stated where they are used:

* ``decay_rate`` (:math:`c`): ``-1.0`` selects the paper's :math:`c = 0.8`; any other negative
  value is read in the HF/PyTorch/Keras sign convention (``-0.5`` means :math:`c=0.5`); a value in
  ``(0, 1]`` is :math:`c` itself. ``0`` and :math:`|c|>1` are rejected.
* ``eps2`` is the paper's :math:`\epsilon_1` ("second moment epsilon", added to :math:`G^2`, HF
  ``eps[0]``, Keras ``epsilon_1``); ``eps_scale`` is the paper's :math:`\epsilon_2` (the floor of the
  parameter scale, HF ``eps[1]``, torch ``eps[1]``, Keras ``epsilon_2``).
* ``lr`` is the *cap* of the relative step (as in ``torch.optim.Adafactor``), not a fixed step.
* Momentum is the EMA of the scaled, clipped update (HF / T2T / optax), no bias correction.
* Weight decay is decoupled and scaled by :math:`\alpha_t` (HF), applied to :math:`X` before
  this step's decay was taken into :math:`\mathrm{RMS}(X)`.
* The two dims that are factored are the last two; leading dims are a batch. 0-d and 1-d
  tensors keep a full second-moment vector.
* All arithmetic is in float32 (float64 for float64 parameters) whatever the parameter dtype;
  state lives in that compute dtype; the result is written back in the parameter's dtype.
* :math:`V` and :math:`\mathrm{mean}_{-1}(r)` are floored at the smallest normal number of the
  compute dtype before they divide. With ``eps2 > 0`` the floor never binds; with ``eps2 = 0`` it
  turns the 0/0 of an all-zero gradient row into a zero update instead of NaN.

State per parameter: ``step`` (a Python int: the host knows it, so reading it never waits for
the device, and it round-trips through ``state_dict`` exactly), ``row`` and ``col`` (rank >= 2)
or ``v`` (rank <= 1), and ``exp_avg`` only while ``beta1 >= 0``. No other tensor of the
parameter's size survives a step.

Implementations (``implementation=``): ``"reference"`` is the single-tensor loop of the maths above;
``"foreach"`` does tensors of up to a chunk (2**20 elements on the CPU) a chunk's worth at a time
with ``torch._foreach_*`` ops (on the CPU, stacked by shape instead), and streams each
larger factored tensor in cache-sized blocks (two reads of G, two reads and one write of X), so no
temporary is larger than a chunk or one tensor; ``"compiled"`` runs the reference maths through
``torch.compile`` (Inductor), one kernel per shape/dtype/option signature, cached for the process;
``"fused"`` (CPU) is one native call per parameter group (``_fused_adafactor.c``, built by
setup.py): two passes over G and one read and one write of X, float32 maths and state, every
sum in double, float32/bfloat16/float16 parameters and gradients; anything it cannot take
(other devices, float64, non-contiguous tensors, or a build without the library) goes to the
foreach path, and :attr:`Adafactor.last_implementation` says which paths the last step took.
``"auto"`` picks per device (:data:`AUTO_IMPLEMENTATION`). No implementation reads a device value
on the host during a step: :math:`\alpha_t` and the clipping denominator stay tensors.

Large reductions are accurate on every path: :math:`\mathrm{RMS}(X)` and :math:`\mathrm{RMS}(U)`
of a tensor of more than ``_SUM_BLOCK`` elements are float32 sums of blocks added up in float64
(a float32 norm of GPT-2's 38.6M-element embedding is off by ~1e-3 of the update after three steps).
"""

from __future__ import annotations

import functools
import math
import numbers
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.optim import Optimizer

__all__ = ["AUTO_IMPLEMENTATION", "IMPLEMENTATIONS", "Adafactor"]

IMPLEMENTATIONS = ("auto", "reference", "foreach", "compiled", "fused")

# What "auto" resolves to, per device type. Measured on a 2-core CPU (benchmarks/adafactor_step.py,
# float32): foreach 228 ms a step on GPT-2 small and 9.7 ms on a 5.4M-parameter transformer, where
# the Inductor kernels take 339 ms and 15.7 ms after 20 s and 12 s of compilation; the fused native
# step is faster than both (see the benchmark), so it is the CPU choice when it was built.
# Not measured on CUDA; foreach is the sync-free, compile-free choice there until someone measures.
AUTO_IMPLEMENTATION = {"cpu": "fused"}
_AUTO_DEFAULT = "foreach"

# Reductions over more elements than this are float32 sums of blocks added in float64.
_SUM_BLOCK = 1 << 16

# Elements per streamed block of a factored tensor. On the CPU a 4 MiB float32 block stays in
# cache between the ops that touch it, so each chunk costs one trip to memory per pass.
_CHUNK_NUMEL = {"cpu": 1 << 20}
_CHUNK_NUMEL_DEFAULT = 1 << 24

_PAPER_DECAY_EXPONENT = 0.8
_WARMUP_SLOPE = 1e-6


# --------------------------------------------------------------------------- options


class _Hyper(NamedTuple):
    """The options of one parameter group that the maths reads, as plain Python values."""

    eps2: float
    eps_scale: float
    clip_threshold: float
    beta1: float
    weight_decay: float
    scale_parameter: bool
    maximize: bool

    @classmethod
    def of(cls, group: dict[str, Any]) -> _Hyper:
        return cls(
            float(group["eps2"]),
            float(group["eps_scale"]),
            float(group["clip_threshold"]),
            float(group["beta1"]),
            float(group["weight_decay"]),
            bool(group["scale_parameter"]),
            bool(group["maximize"]),
        )

    @property
    def momentum(self) -> bool:
        return self.beta1 >= 0.0


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_number(name: str, value: object, rule: str, ok: Callable[[float], bool]) -> None:
    if not _is_number(value) or not math.isfinite(float(value)) or not ok(float(value)):
        raise ValueError(f"invalid {name} {value!r}: must be {rule}")


def _validate_options(options: dict[str, Any]) -> None:
    """Raise ValueError naming the first invalid hyper-parameter of a group."""
    _check_number("lr", options["lr"], "a finite number > 0", lambda v: v > 0)
    _check_number("eps2", options["eps2"], "a finite number >= 0", lambda v: v >= 0)
    _check_number("clip_threshold", options["clip_threshold"], "a finite number > 0", lambda v: v > 0)
    _check_number(
        "decay_rate",
        options["decay_rate"],
        "-1.0 (the paper's 0.8) or a finite number with 0 < |decay_rate| <= 1",
        lambda v: 0 < abs(v) <= 1,
    )
    _check_number(
        "beta1", options["beta1"], "a finite number < 0 (momentum off) or in [0, 1)", lambda v: v < 1
    )
    _check_number("weight_decay", options["weight_decay"], "a finite number >= 0", lambda v: v >= 0)
    _check_number("eps_scale", options["eps_scale"], "a finite number >= 0", lambda v: v >= 0)
    for name in ("relative_step", "scale_parameter", "warmup_init", "maximize"):
        if not isinstance(options[name], bool):
            raise ValueError(f"invalid {name} {options[name]!r}: must be a bool")  # noqa: TRY004 - as torch.optim


def decay_exponent(decay_rate: float) -> float:
    """The exponent c of beta2_t = 1 - t**(-c): -1.0 selects the paper's 0.8, else |decay_rate|."""
    return _PAPER_DECAY_EXPONENT if decay_rate == -1.0 else abs(decay_rate)


def relative_step_size(lr: float, step: int, relative_step: bool, warmup_init: bool) -> float:
    """rho_t: min(lr, 1/sqrt(t)) [and 1e-6*t with warmup_init], or lr without relative_step."""
    if not relative_step:
        return lr
    rho = min(lr, 1.0 / math.sqrt(step))
    return min(rho, _WARMUP_SLOPE * step) if warmup_init else rho


def second_moment_weight(step: int, exponent: float) -> float:
    """1 - beta2_t = t**(-c), the weight of this step's statistic (1 at t = 1: no bias correction)."""
    return float(step) ** -exponent


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Arithmetic and state dtype for a parameter dtype: float64 stays, everything else float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------- reference maths


@functools.lru_cache(maxsize=8)
def _tiny(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).tiny


def _floored(t: Tensor) -> Tensor:
    """max(t, tiny): a statistic can be exactly 0 only with eps2 = 0 and an all-zero gradient."""
    return t.clamp(min=torch.finfo(t.dtype).tiny)


def _floored_rsqrt(t: Tensor) -> Tensor:
    return _floored(t).rsqrt()


def _sumsq64(t: Tensor, cd: torch.dtype | None = None) -> Tensor:
    """sum(t**2) as a float64 0-d tensor: float32 norms of blocks (rows, or _SUM_BLOCK elements),
    squared and added in float64. No float64 copy of t is made."""
    cd = cd or compute_dtype(t.dtype)
    if t.dim() >= 2 and t.shape[-1] <= _SUM_BLOCK:
        parts = torch.linalg.vector_norm(t, dim=-1, dtype=cd).reshape(-1)
    else:
        flat = t.reshape(-1)
        k = flat.numel() // _SUM_BLOCK * _SUM_BLOCK
        parts = torch.linalg.vector_norm(flat[:k].view(-1, _SUM_BLOCK), dim=-1, dtype=cd)
        if k < flat.numel():
            parts = torch.cat([parts, torch.linalg.vector_norm(flat[k:], dtype=cd).reshape(1)])
    parts = parts.double()
    return torch.dot(parts, parts)


def _norm(t: Tensor, cd: torch.dtype | None = None) -> Tensor:
    """||t|| in the compute dtype; float64 blockwise accumulation for large tensors."""
    cd = cd or compute_dtype(t.dtype)
    if t.numel() <= _SUM_BLOCK or cd == torch.float64:
        return torch.linalg.vector_norm(t, dtype=cd)
    return _sumsq64(t, cd).sqrt_().to(cd)


def _norms(ts: list[Tensor], cd: torch.dtype) -> list[Tensor]:
    """_norm of each tensor: one _foreach_norm for the small ones, blockwise for the large ones."""
    small = [i for i, t in enumerate(ts) if t.numel() <= _SUM_BLOCK or cd == torch.float64]
    out: list[Tensor] = [None] * len(ts)  # type: ignore[list-item]
    if small:
        for i, n in zip(small, torch._foreach_norm([ts[i] for i in small], 2, dtype=cd)):
            out[i] = n
    for i, t in enumerate(ts):
        if out[i] is None:
            out[i] = _norm(t, cd)
    return out


def _rms(t: Tensor) -> Tensor:
    return _norm(t, t.dtype) / math.sqrt(t.numel())


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


# --------------------------------------------------------------------------- fused (native CPU)
#
# _fused_adafactor.c, built by setup.py into tcltorch/optim/_adafactor_native (cffi): one call per
# group does every tensor it can take (see _fused_ok), in float32 with double sums, threads as
# torch.get_num_threads(). RMS(X) of the next step is the norm of what this step wrote, so while a
# parameter's version counter and storage are unchanged (nobody wrote it since) pass 1 reads G only.

_FUSED_DTYPES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
_NATIVE: list = []  # [module] once loaded, [None, reason] when it is missing
_REUSE_PARAM_NORM = True
_FORCE_BASELINE = False  # run the baseline x86-64 row kernels even where AVX2 is there (tests, benchmark)


def fused_library():
    """The native module (``ffi``, ``lib``), or None when it was not built; see fused_unavailable()."""
    if not _NATIVE:
        try:
            from . import _adafactor_native as native  # built by setup.py, never compiled on use

            _NATIVE.append(native)
        except ImportError as exc:
            reason = f"tcltorch.optim._adafactor_native is not built ({exc}); run `make setup` to build it"
            _NATIVE.extend([None, reason])
    return _NATIVE[0]


def fused_unavailable() -> str | None:
    """Why the fused path cannot run in this process, or None when it can."""
    return None if fused_library() is not None else _NATIVE[1]


def fused_variant() -> str | None:
    """Which row kernels the fused library runs on this CPU ("avx2" or "baseline"), or None."""
    native = fused_library()
    return None if native is None else native.ffi.string(native.lib.tt_adafactor_variant(0)).decode()


def _fused_ok(p: Tensor, g: Tensor, st: dict[str, Any]) -> bool:
    """Whether the native step can take this tensor: CPU, float32/bf16/fp16, dense, contiguous."""
    if p.device.type != "cpu" or g.device.type != "cpu":
        return False
    if p.dtype not in _FUSED_DTYPES or g.dtype not in _FUSED_DTYPES or g.layout != torch.strided:
        return False
    if not (p.is_contiguous() and g.is_contiguous()) or g.is_neg() or g.is_conj():
        return False
    m = st.get("exp_avg")
    return m is None or (m.is_contiguous() and m.dtype == torch.float32)


def _fused_update(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    group: dict[str, Any],
    norms: dict | None,
) -> bool:
    """One native call for all these tensors; False (and nothing changed) when it could not run."""
    native = fused_library()
    if native is None:
        return False
    ptrs: list[int] = []
    meta: list[int] = []
    xsq: list[float] = []
    momentum = group["beta1"] >= 0
    for p, g, st in zip(params, grads, states):
        shape = p.shape
        if len(shape) >= 2:
            rows, cols = shape[-2], shape[-1]
            batch = p.numel() // (rows * cols)
            ptrs += (p.data_ptr(), g.data_ptr(), st["row"].data_ptr(), st["col"].data_ptr())
        else:
            batch, rows, cols = 1, p.numel(), 0
            ptrs += (p.data_ptr(), g.data_ptr(), st["v"].data_ptr(), 0)
        ptrs.append(st["exp_avg"].data_ptr() if momentum else 0)
        meta += (batch, rows, cols, _FUSED_DTYPES[p.dtype] | (_FUSED_DTYPES[g.dtype] << 4), st["step"])
        known = norms.get(p) if norms is not None else None
        if known is not None and known[0] == p.data_ptr() and known[1] == p._version:
            xsq.append(known[2])
        else:
            xsq.append(-1.0)
    hyper = [
        float(group["lr"]),
        decay_exponent(float(group["decay_rate"])),
        float(group["eps2"]),
        float(group["eps_scale"]),
        float(group["clip_threshold"]),
        float(group["beta1"]),
        float(group["weight_decay"]),
        float(bool(group["relative_step"])),
        float(bool(group["scale_parameter"])),
        float(bool(group["warmup_init"])),
        float(bool(group["maximize"])),
    ]
    ffi, lib = native.ffi, native.lib
    n = len(params)
    out = ffi.new("double[]", n)
    rc = lib.tt_adafactor_step(
        n,
        ffi.new("int64_t[]", ptrs),
        ffi.new("int64_t[]", meta),
        ffi.new("double[]", xsq),
        ffi.new("double[]", hyper),
        out,
        torch.get_num_threads(),
        int(_FORCE_BASELINE),
    )
    if rc != 0:
        return False
    # Written through raw pointers: tell autograd (and our own norm cache) that X changed.
    torch._C._increment_version(params)
    if norms is not None:
        for k, p in enumerate(params):
            norms[p] = (p.data_ptr(), p._version, out[k])
    return True


# --------------------------------------------------------------------------- compiled

_COMPILED_KERNELS: dict[tuple, Callable[..., None]] = {}
_COMPILE_BROKEN: list[BaseException] = []  # the first failure, once torch.compile failed here


def _kernel_key(param: Tensor, grad: Tensor, st: dict[str, Any], hyper: _Hyper) -> tuple:
    return (
        tuple(param.shape),
        param.stride(),
        grad.stride(),
        param.dtype,
        grad.dtype,
        param.device.type,
        "row" in st,
        hyper,
    )


def _compiled_kernel(key: tuple, hyper: _Hyper) -> Callable[..., None]:
    """torch.compile of the reference maths for one signature, cached for the process.

    Each signature gets its own code object, so each has its own Dynamo cache and no signature
    can push another out through the recompile limit. The per-step scalars are 0-d tensors, so
    a new step never recompiles.
    """
    kernel = _COMPILED_KERNELS.get(key)
    if kernel is None:

        def update(param, grad, row, col, v, exp_avg, rho, weight):
            _tensor_update(param, grad, row, col, v, exp_avg, rho, weight, hyper)

        code = update.__code__.replace(co_name=f"adafactor_kernel_{len(_COMPILED_KERNELS)}")
        fresh = types.FunctionType(code, update.__globals__, code.co_name, None, update.__closure__)
        kernel = torch.compile(fresh, fullgraph=True, dynamic=False)
        _COMPILED_KERNELS[key] = kernel
    return kernel


def _compiled_update(params, grads, states, rhos, weights, hyper: _Hyper) -> list[int]:
    """Run each tensor through its compiled kernel; return the indices left undone on failure."""
    for i, (p, g, st) in enumerate(zip(params, grads, states)):
        if _COMPILE_BROKEN:
            return list(range(i, len(params)))
        cd = compute_dtype(p.dtype)
        rho = torch.full((), rhos[i], dtype=cd, device=p.device)
        weight = torch.full((), weights[i], dtype=cd, device=p.device)
        key = _kernel_key(p, g, st, hyper)
        try:
            _compiled_kernel(key, hyper)(
                p, g, st.get("row"), st.get("col"), st.get("v"), st.get("exp_avg"), rho, weight
            )
        except Exception as exc:  # noqa: BLE001 - no C++ compiler, no Triton, an unsupported backend ...
            _COMPILED_KERNELS.pop(key, None)
            _COMPILE_BROKEN.append(exc)
            return list(range(i, len(params)))
    return []


# --------------------------------------------------------------------------- optimizer


def _resolve(impl: str, device_type: str) -> str:
    """The implementation a step takes on a device type: "auto" resolved, and "fused" or
    "compiled" read as "foreach" where they cannot run (other devices, missing library, no
    working torch.compile)."""
    if impl == "auto":
        impl = AUTO_IMPLEMENTATION.get(device_type, _AUTO_DEFAULT)
    if impl == "fused" and (device_type != "cpu" or fused_library() is None):
        impl = "foreach"
    if impl == "compiled" and _COMPILE_BROKEN:
        impl = "foreach"
    return impl


def _undecorated(method: Callable) -> Callable:
    """torch.optim.Optimizer's method without its torch._disable_dynamo wrapper while
    torch._dynamo is not imported (then nothing can trace it); the wrapped method otherwise."""
    if "torch._dynamo" in sys.modules:
        return method
    return getattr(method, "__wrapped__", method)


class Adafactor(Optimizer):
    """Adafactor with the paper's update rule, the HF/PyTorch options, and a streamed fast path.

    Args:
        params: parameters or parameter groups (groups may override every option below).
        lr: gamma, cap of the relative step rho_t = min(gamma, 1/sqrt(t)) (finite, > 0);
            the step itself when ``relative_step=False``.
        eps2: epsilon added to G^2 before the second-moment statistics (finite, >= 0).
        clip_threshold: update clipping threshold d (finite, > 0).
        decay_rate: c of beta2_t = 1 - t^-c; -1.0 selects 0.8, other negatives mean |c| (finite,
            -1.0 or 0 < |c| <= 1).
        beta1: momentum on the final update; negative turns it off (< 0 or 0 <= beta1 < 1).
        weight_decay: lambda of the decoupled decay X -= lambda * alpha_t * X (finite, >= 0).
        eps_scale: floor of the parameter scale, alpha_t = max(eps_scale, RMS(X)) * rho_t.
        relative_step: False makes rho_t = lr.
        scale_parameter: False makes alpha_t = rho_t.
        warmup_init: rho_t = min(lr, 1e-6 * t, 1/sqrt(t)) (only with relative_step).
        maximize: ascend; the caller's gradient is never modified.
        implementation: "auto", "reference", "foreach", "compiled" or "fused" (keyword only).

    ``last_implementation`` names the path(s) the last step took, e.g. ``"fused"`` or
    ``"fused+foreach"`` when some tensors could not go through the native step.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.8,
        eps2: float = 1e-30,
        clip_threshold: float = 1.0,
        decay_rate: float = -1.0,
        beta1: float = -1.0,
        weight_decay: float = 0.0,
        eps_scale: float = 1e-3,
        relative_step: bool = True,
        scale_parameter: bool = True,
        warmup_init: bool = False,
        maximize: bool = False,
        *,
        implementation: str = "auto",
    ) -> None:
        defaults = {
            "lr": lr,
            "eps2": eps2,
            "clip_threshold": clip_threshold,
            "decay_rate": decay_rate,
            "beta1": beta1,
            "weight_decay": weight_decay,
            "eps_scale": eps_scale,
            "relative_step": relative_step,
            "scale_parameter": scale_parameter,
            "warmup_init": warmup_init,
            "maximize": maximize,
        }
        _validate_options(defaults)
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"invalid implementation {implementation!r}: must be one of {', '.join(IMPLEMENTATIONS)}"
            )
        self.implementation = implementation
        self.last_implementation: str | None = None
        super().__init__(params, defaults)

    # torch wraps these four in torch._disable_dynamo, whose first call imports torch._dynamo
    # (about a second of start-up). Dynamo can only be tracing us if it was imported, so until
    # then the undecorated methods do the same job.

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _validate_options({**self.defaults, **param_group})
        _undecorated(Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _undecorated(Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return _undecorated(Optimizer.state_dict)(self)

    # ------------------------------------------------------------------ introspection

    def resolved_implementation(self, device: torch.device | str | None = None) -> str:
        """The path a step takes on ``device`` (default: the first parameter's).

        "auto" resolved for the device; "compiled" reads "foreach" once torch.compile failed here.
        """
        if device is None:
            device = next((p.device for g in self.param_groups for p in g["params"]), "cpu")
        return _resolve(self.implementation, torch.device(device).type)

    def state_bytes(self) -> int:
        """Bytes held by all tensor state (row, col, v, exp_avg); step counters are Python ints."""
        return sum(
            t.numel() * t.element_size()
            for st in self.state.values()
            for t in st.values()
            if isinstance(t, Tensor)
        )

    # ------------------------------------------------------------------ state

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        st = self.state[p]
        cd = compute_dtype(p.dtype)
        if not st:
            st["step"] = 0
            if p.dim() >= 2:
                st["row"] = torch.zeros(p.shape[:-1], dtype=cd, device=p.device)
                st["col"] = torch.zeros(p.shape[:-2] + p.shape[-1:], dtype=cd, device=p.device)
            else:
                st["v"] = torch.zeros(p.shape, dtype=cd, device=p.device)
        if group["beta1"] >= 0:
            if "exp_avg" not in st:
                st["exp_avg"] = torch.zeros(p.shape, dtype=cd, device=p.device)
        else:
            st.pop("exp_avg", None)
        return st

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        _undecorated(Optimizer.load_state_dict)(self, state_dict)
        # torch casts floating state to each parameter's dtype (bf16 -> lossy); ours lives in the
        # compute dtype, so take the saved tensors again, exactly.
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(saved_ids, params):
            saved = state_dict["state"].get(pid)
            if not saved:
                continue
            cd = compute_dtype(p.dtype)
            for k, v in saved.items():
                if isinstance(v, Tensor):
                    self.state[p][k] = v.to(device=p.device, dtype=cd, copy=True)
                elif k == "step":
                    self.state[p][k] = int(v)

    # ------------------------------------------------------------------ step

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step; ``closure`` re-evaluates the loss (with grad enabled)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self._ran: set[str] = set()
        for group in self.param_groups:
            params, grads, states = [], [], []
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                if not p.is_floating_point() or p.is_complex():
                    raise RuntimeError(f"Adafactor needs real floating-point parameters, got {p.dtype}")
                st = self._init_state(p, group)
                st["step"] += 1
                if p.numel() == 0:
                    continue
                params.append(p)
                grads.append(grad)
                states.append(st)
            if params:
                self._update_group(group, params, grads, states)
        self.last_implementation = "+".join(sorted(self._ran)) or None
        return loss

    def _update_group(self, group, params, grads, states) -> None:
        hyper = _Hyper.of(group)
        impl = _resolve(self.implementation, params[0].device.type)
        if impl == "fused":  # the native step derives rho_t and beta2_t itself
            fused = [i for i, (p, g, st) in enumerate(zip(params, grads, states)) if _fused_ok(p, g, st)]
            norms = None
            if _REUSE_PARAM_NORM and hyper.scale_parameter:
                norms = self.__dict__.setdefault("_fused_norms", {})
            if len(fused) == len(params) and _fused_update(params, grads, states, group, norms):
                self._ran.add("fused")
                return
        exponent = decay_exponent(float(group["decay_rate"]))
        lr = float(group["lr"])
        rhos = [
            relative_step_size(lr, st["step"], group["relative_step"], group["warmup_init"]) for st in states
        ]
        weights = [second_moment_weight(st["step"], exponent) for st in states]
        if impl == "reference":
            for p, g, st, rho, w in zip(params, grads, states, rhos, weights):
                _tensor_update(
                    p, g, st.get("row"), st.get("col"), st.get("v"), st.get("exp_avg"), rho, w, hyper
                )
            self._ran.add("reference")
            return
        todo = list(range(len(params)))
        if impl == "compiled":
            todo = _compiled_update(params, grads, states, rhos, weights, hyper)
            if len(todo) < len(params):
                self._ran.add("compiled")
        elif (
            impl == "fused"
            and 0 < len(fused) < len(params)
            and _fused_update(
                [params[i] for i in fused],
                [grads[i] for i in fused],
                [states[i] for i in fused],
                group,
                norms,
            )
        ):
            self._ran.add("fused")
            done = set(fused)
            todo = [i for i in todo if i not in done]
        if todo:
            self._ran.add("foreach")
        buckets: dict[tuple, list[int]] = {}
        for i in todo:
            buckets.setdefault((params[i].device, compute_dtype(params[i].dtype)), []).append(i)
        for (_, cd), idx in buckets.items():
            _foreach_bucket(
                [params[i] for i in idx],
                [grads[i] for i in idx],
                [states[i] for i in idx],
                [rhos[i] for i in idx],
                [weights[i] for i in idx],
                hyper,
                cd,
            )
