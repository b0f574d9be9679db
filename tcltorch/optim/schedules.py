"""Learning-rate multipliers for ``torch.optim.lr_scheduler.LambdaLR`` / ``MultiplicativeLR``
where torch has no class of its own.

Each is a small callable object (not a function) whose ``__dict__`` holds only numbers, so a
scheduler's ``state_dict()`` stores it as plain data and a checkpoint restores it exactly.
``LambdaLR`` sets lr = initial_lr * f(step); ``MultiplicativeLR`` sets lr = lr * f(step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


class Constant:
    """f(step) = factor (MultiplicativeLR: lr *= factor at every step)."""

    def __init__(self, factor: float) -> None:
        self.factor = float(factor)

    def __call__(self, step: int) -> float:
        return self.factor


class Power:
    """f(step) = multiplier ** step (LambdaLR: lr = initial_lr * multiplier**step)."""

    def __init__(self, multiplier: float) -> None:
        self.multiplier = float(multiplier)

    def __call__(self, step: int) -> float:
        return self.multiplier**step


class LinearWarmup:
    """HF ``get_linear_schedule_with_warmup``: 0 -> 1 over the warmup, then 1 -> 0 at the end."""

    def __init__(self, num_warmup_steps: int, num_training_steps: int) -> None:
        self.num_warmup_steps = int(num_warmup_steps)
        self.num_training_steps = int(num_training_steps)

    def __call__(self, step: int) -> float:
        if step < self.num_warmup_steps:
            return float(step) / float(max(1, self.num_warmup_steps))
        return max(
            0.0,
            float(self.num_training_steps - step)
            / float(max(1, self.num_training_steps - self.num_warmup_steps)),
        )


class ConstantWarmup:
    """HF ``get_constant_schedule_with_warmup``: 0 -> 1 over the warmup, then 1."""

    def __init__(self, num_warmup_steps: int) -> None:
        self.num_warmup_steps = int(num_warmup_steps)

    def __call__(self, step: int) -> float:
        if step < self.num_warmup_steps:
            return float(step) / float(max(1.0, self.num_warmup_steps))
        return 1.0


class InverseSqrt:
    """HF ``get_inverse_sqrt_schedule`` (timescale = warmup) times ``decay_factor``:
    step/warmup during the warmup, then sqrt(warmup/step)."""

    def __init__(self, warmup_steps: int, decay_factor: float = 1.0) -> None:
        self.warmup_steps = int(warmup_steps)
        self.decay_factor = float(decay_factor)

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.decay_factor * float(step) / float(max(1, self.warmup_steps))
        timescale = self.warmup_steps or 10_000
        shift = timescale - self.warmup_steps
        return self.decay_factor / math.sqrt((step + shift) / timescale)


class Noam:
    """Vaswani et al. 2017, sec. 5.3 (as in the Annotated Transformer's ``rate``, step 0 read as 1):
    f(step) = model_size**-0.5 * min(step**-0.5, step * warmup**-1.5); lr = initial_lr * f."""

    def __init__(self, model_size: int, warmup_steps: int = 4000) -> None:
        self.model_size = int(model_size)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step: int) -> float:
        step = max(step, 1)
        return self.model_size**-0.5 * min(step**-0.5, step * self.warmup_steps**-1.5)


class ExponentialDecay:
    """Keras ``ExponentialDecay``: f(step) = rate ** (step / decay_steps), floored with staircase."""

    def __init__(self, decay_rate: float, decay_steps: int = 1, staircase: bool = False) -> None:
        self.decay_rate = float(decay_rate)
        self.decay_steps = int(decay_steps)
        self.staircase = bool(staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.decay_rate**p


class CosineWarmup:
    """HF ``get_cosine_schedule_with_warmup``: 0 -> 1 over the warmup, then a cosine from 1 to 0
    over the remaining steps (``num_cycles`` = 0.5: half a period, the default)."""

    def __init__(self, num_warmup_steps: int, num_training_steps: int, num_cycles: float = 0.5) -> None:
        self.num_warmup_steps = int(num_warmup_steps)
        self.num_training_steps = int(num_training_steps)
        self.num_cycles = float(num_cycles)

    def __call__(self, step: int) -> float:
        if step < self.num_warmup_steps:
            return float(step) / float(max(1, self.num_warmup_steps))
        progress = float(step - self.num_warmup_steps) / float(
            max(1, self.num_training_steps - self.num_warmup_steps)
        )
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * self.num_cycles * 2.0 * progress)))


class Callback:
    """f(step) = call(step): a multiplier computed by a function the engine does not own (the
    Tcl command of ``torch::lr_scheduler_lambda -command``).

    Its state is the callback's NAME only (``{"callback": name}``): a function cannot be saved.
    A scheduler that loads the state must have been made with a callback of the same name
    (:func:`tcltorch.train_state.check_scheduler_state` refuses another)."""

    __slots__ = ("__dict__", "call")

    def __init__(self, name: str, call: Callable[[int], float]) -> None:
        self.callback = str(name)
        self.call = call  # a slot: not part of __dict__, so never in the state

    def __call__(self, step: int) -> float:
        return self.call(step)

    def __deepcopy__(self, memo: dict[int, Any]) -> Callback:
        # twins made for a checkpoint load share the function, not a copy of what it holds
        return Callback(self.callback, self.call)
