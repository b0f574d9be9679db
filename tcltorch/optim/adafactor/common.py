"""Shared maths of every Adafactor implementation: the step-size schedule, the compute dtype, the
options as plain values, and accurate norms (see the package docstring for the maths)."""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

# Reductions over more elements than this are float32 sums of blocks added in float64.
_SUM_BLOCK = 1 << 16

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


def schedule(group: dict[str, Any], steps: list[int]) -> tuple[list[float], list[float]]:
    """rho_t and 1 - beta2_t for each step count of a group's tensors (each distinct step once).

    The one place every implementation gets them from: the fused C step receives them too."""
    exponent = decay_exponent(float(group["decay_rate"]))
    lr = float(group["lr"])
    relative, warmup = group["relative_step"], group["warmup_init"]
    per_step: dict[int, tuple[float, float]] = {}
    for step in steps:
        if step not in per_step:
            per_step[step] = (
                relative_step_size(lr, step, relative, warmup),
                second_moment_weight(step, exponent),
            )
    return [per_step[t][0] for t in steps], [per_step[t][1] for t in steps]


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
