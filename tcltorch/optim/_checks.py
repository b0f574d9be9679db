"""Argument checks shared by the optimizers written in tcltorch.optim (torch.optim's rules)."""

from __future__ import annotations


def check_adam_like(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    """Raise ValueError unless lr > 0, each beta in [0, 1), eps >= 0 and weight_decay >= 0."""
    if not lr > 0:
        raise ValueError(f"invalid lr {lr!r}: must be > 0")
    for i, b in enumerate(betas):
        if not 0 <= b < 1:
            raise ValueError(f"invalid beta{i + 1} {b!r}: must be in [0, 1)")
    if not eps >= 0:
        raise ValueError(f"invalid eps {eps!r}: must be >= 0")
    if not weight_decay >= 0:
        raise ValueError(f"invalid weight_decay {weight_decay!r}: must be >= 0")
