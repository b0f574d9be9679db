"""Keras's optimizer options on any ``torch.optim.Optimizer``, applied inside its step.

:func:`attach` adds, through the optimizer's step hooks (so the optimizer's own code is
untouched), what ``keras.optimizers.Optimizer`` offers on every optimizer, plus one guard:

* ``clip_norm`` c: each gradient g becomes ``g * c / max(||g||, c)`` (Keras ``clipnorm``);
* ``global_clip_norm`` c: every gradient is multiplied by ``c * min(1/N, 1/c)`` with N the
  norm of all gradients together; a non-finite N makes the scale NaN, as in Keras
  (``global_clipnorm``);
* ``clip_value`` v: each gradient is clamped to [-v, v] (Keras ``clipvalue``);
  at most one of the three may be set, as in Keras;
* ``use_ema``: after each step, every parameter's average a = m*a + (1-m)*x with
  m = ``ema_momentum``, except m = 0 on the first step (so a starts at x); with
  ``ema_overwrite_frequency`` k >= 1 the parameters are set to their averages after
  every k-th step; :func:`finalize` (Keras ``finalize_variable_values``) writes the
  averages into the parameters.  The averages live in ``optimizer.state[p]["ema"]``,
  so they are saved by ``state_dict()`` and counted with the rest of the state;
* ``skip_non_finite``: a parameter whose gradient holds a NaN or an Inf keeps its value
  and its tensor state for that step (its gradient is zeroed before any clipping, so
  it cannot poison the global norm of the others).  Decided on the device with
  ``torch.where``: no host sync.  Step counters kept as Python numbers (Adafactor's) are
  put back too when the parameter is on the CPU (reading the flag there is no sync); on
  another device, they and counters kept off the parameter's device (torch.optim keeps CPU
  counters for CUDA parameters) still count the step, since restoring them would sync.

Everything happens on the device without reading a value back to the host.  The
options that are set are stored in each parameter group (``clip_norm``, ...), with
``iterations`` (the number of steps taken, Keras's ``iterations``), so ``state_dict()``
carries them; they are read from the first group: they apply to the optimizer as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

OPTION_DEFAULTS: dict[str, Any] = {
    "clip_norm": None,
    "clip_value": None,
    "global_clip_norm": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "skip_non_finite": False,
}


def validate(options: dict[str, Any]) -> None:
    """Raise ValueError naming the first invalid option (Keras's rules)."""
    for key in options:
        if key not in OPTION_DEFAULTS:
            raise ValueError(f"unknown option {key!r}")
    clips = [k for k in ("clip_norm", "clip_value", "global_clip_norm") if options.get(k) is not None]
    for key in clips:
        value = options[key]
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"invalid {key} {value!r}: must be a finite number > 0")
    if len(clips) > 1:
        raise ValueError(
            f"only one of clip_norm, clip_value and global_clip_norm can be set, got {', '.join(clips)}"
        )
    momentum = options.get("ema_momentum", 0.99)
    if not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
        raise ValueError(f"invalid ema_momentum {momentum!r}: must be in [0, 1]")
    freq = options.get("ema_overwrite_frequency")
    if freq is not None and (not isinstance(freq, int) or isinstance(freq, bool) or freq < 0):
        raise ValueError(f"invalid ema_overwrite_frequency {freq!r}: must be an integer >= 1 or None")


def check_supported(optimizer_class: type, options: dict[str, Any]) -> None:
    """Raise ValueError when ``options`` cannot work on an optimizer of this class; callable before
    the optimizer is built (the one home of the rule: LBFGS cannot skip a non-finite step, since its
    line search re-evaluates the closure)."""
    if options.get("skip_non_finite") and issubclass(optimizer_class, torch.optim.LBFGS):
        raise ValueError(
            "skip_non_finite is not supported by LBFGS (its line search re-evaluates the closure)"
        )


def is_active(options: dict[str, Any]) -> bool:
    return any(options.get(k, v) != v for k, v in OPTION_DEFAULTS.items())


def attach(optimizer: torch.optim.Optimizer, **options: Any) -> torch.optim.Optimizer:
    """Give ``optimizer`` the options above (validated first; nothing changes on error)."""
    validate(options)
    # only the options that are set go into the groups (the others read as their defaults),
    # so a saved group holds no None values
    full = {k: v for k, v in options.items() if v != OPTION_DEFAULTS[k]}
    check_supported(type(optimizer), options)
    if has_extras(optimizer):
        raise ValueError("the optimizer already has these options")
    for group in optimizer.param_groups:
        group.update(full)
        group["iterations"] = 0
    optimizer.defaults.update(full)
    optimizer.defaults["iterations"] = 0
    optimizer.register_step_pre_hook(_pre_step)
    optimizer.register_step_post_hook(_post_step)
    optimizer._tcltorch_extras = {"pending": None}  # type: ignore[attr-defined]
    return optimizer


def has_extras(optimizer: torch.optim.Optimizer) -> bool:
    return hasattr(optimizer, "_tcltorch_extras")


def options_of(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    group = optimizer.param_groups[0]
    return {k: group.get(k, v) for k, v in OPTION_DEFAULTS.items()}


# -- clipping (sync-free) ---------------------------------------------------------------------


def clip_each_by_norm(grads: list[Tensor], clip_norm: float) -> None:
    """Keras ``_clip_by_norm`` on each gradient: g * c / max(||g||, c)."""
    if not grads:
        return
    norms = torch._foreach_norm(grads)
    for g, n in zip(grads, norms):
        g.mul_(clip_norm).div_(n.clamp_min(clip_norm))


def global_norm(grads: list[Tensor]) -> Tensor:
    """The norm of all gradients together, on the first one's device: in float64 when any gradient
    is float64 (each norm, and their sum, in float64, as ``clip_norm`` measures a float64 gradient),
    else in float32."""
    device = grads[0].device
    if any(g.dtype == torch.float64 for g in grads):
        norms = torch._foreach_norm(grads, 2, dtype=torch.float64)
        dtype = torch.float64
    else:
        norms = torch._foreach_norm(grads)
        dtype = torch.float32
    return torch.linalg.vector_norm(torch.stack([n.to(device=device, dtype=dtype) for n in norms]))


def clip_by_global_norm(grads: list[Tensor], clip_norm: float) -> None:
    """Keras ``clip_by_global_norm``: scale = c * min(1/N, 1/c), NaN when N is not finite."""
    if not grads:
        return
    norm = global_norm(grads)
    scale = torch.clamp(1.0 / norm, max=1.0 / clip_norm) * clip_norm
    scale = scale + (norm - norm)
    for g in grads:
        g.mul_(scale.to(device=g.device, dtype=g.dtype))


def clip_by_value(grads: list[Tensor], clip_value: float) -> None:
    for g in grads:
        g.clamp_(-clip_value, clip_value)


# -- the hooks --------------------------------------------------------------------------------


def _params(optimizer: torch.optim.Optimizer) -> list[Tensor]:
    return [p for g in optimizer.param_groups for p in g["params"]]


def _grad_values(p: Tensor) -> Tensor:
    """The dense gradient, or the values of a (coalesced) sparse one: in-place edits reach p.grad."""
    if p.grad.is_sparse:
        if not p.grad.is_coalesced():
            p.grad = p.grad.coalesce()
        return p.grad._values()
    return p.grad


def _prepare_gradients(optimizer: torch.optim.Optimizer) -> dict[Tensor, Tensor]:
    """Zero non-finite gradients (skip_non_finite) and clip; returns parameter -> finite flag."""
    opts = options_of(optimizer)
    with_grad = [p for p in _params(optimizer) if p.grad is not None]
    grads = [_grad_values(p) for p in with_grad]
    flags: dict[Tensor, Tensor] = {}
    if opts["skip_non_finite"]:
        for p, g in zip(with_grad, grads):
            finite = torch.isfinite(g).all()
            g.masked_fill_(~finite, 0.0)
            flags[p] = finite
    if opts["clip_norm"] is not None:
        clip_each_by_norm(grads, opts["clip_norm"])
    elif opts["global_clip_norm"] is not None:
        clip_by_global_norm(grads, opts["global_clip_norm"])
    elif opts["clip_value"] is not None:
        clip_by_value(grads, opts["clip_value"])
    return flags


def _wrap_closure(optimizer: torch.optim.Optimizer, closure: Callable[[], Any]) -> Callable[[], Any]:
    pending = optimizer._tcltorch_extras  # type: ignore[attr-defined]

    def prepared_closure() -> Any:
        loss = closure()
        pending["flags"] = _prepare_gradients(optimizer)
        return loss

    return prepared_closure


def _pre_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
    opts = options_of(optimizer)
    extras = optimizer._tcltorch_extras  # type: ignore[attr-defined]
    iterations = optimizer.param_groups[0]["iterations"]
    before: dict[Tensor, tuple[Tensor, dict[str, Tensor], set[str]]] = {}
    if opts["skip_non_finite"]:
        for p in _params(optimizer):
            if p.grad is not None:
                st = optimizer.state.get(p, {})
                saved = {k: v.clone() for k, v in st.items() if isinstance(v, Tensor)}
                saved.update((k, v) for k, v in st.items() if _is_number(v))
                before[p] = (p.detach().clone(), saved, set(st))
    first_values = {}
    if opts["use_ema"] and iterations > 0:  # a parameter's average starts late: it held its value so far
        for p in _params(optimizer):
            if not optimizer.state.get(p) and p.grad is not None:  # frozen ones: never averaged
                first_values[p] = before[p][0] if p in before else p.detach().clone()
    extras["before"] = before
    extras["first_values"] = first_values
    extras["flags"] = {}
    # torch passes the step's own arguments: (optimizer, closure?) and kwargs
    closure = kwargs.get("closure", args[1] if len(args) > 1 else None)
    if closure is not None:
        wrapped = _wrap_closure(optimizer, closure)
        if "closure" in kwargs:
            return args, {**kwargs, "closure": wrapped}
        return (args[0], wrapped, *args[2:]), kwargs
    extras["flags"] = _prepare_gradients(optimizer)
    return None


@torch.no_grad()
def _post_step(optimizer: torch.optim.Optimizer, args: tuple, kwargs: dict) -> None:
    opts = options_of(optimizer)
    extras = optimizer._tcltorch_extras  # type: ignore[attr-defined]
    iterations = optimizer.param_groups[0]["iterations"]
    if opts["use_ema"]:
        momentum = opts["ema_momentum"] if iterations != 0 else 0.0
        lbfgs = isinstance(optimizer, torch.optim.LBFGS)
        for p in _params(optimizer):
            # An average is added once the parameter has been stepped (a gradient this step,
            # or state): before that it is its unchanged value, and an entry in an empty state
            # would stop torch's optimizers from initializing theirs.
            if not (optimizer.state.get(p) or p.grad is not None or lbfgs):
                continue
            st = optimizer.state[p]
            average = st.get("ema")
            if average is None:
                start = extras["first_values"].get(p)
                if start is None or momentum == 0.0:
                    st["ema"] = p.detach().clone()
                    continue
                average = st["ema"] = start.clone()
            _ema_update(average, p, momentum)
        freq = opts["ema_overwrite_frequency"]
        if freq and (iterations + 1) % freq == 0:
            _overwrite_with_average(optimizer)
    for p, finite in extras["flags"].items():
        if p in extras["before"]:
            _restore(optimizer, p, finite, *extras["before"][p])
    for group in optimizer.param_groups:
        group["iterations"] = iterations + 1
    extras["before"] = extras["first_values"] = extras["flags"] = None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ema_update(average: Tensor, p: Tensor, momentum: float) -> None:
    """a = m*a + (1-m)*x, with m and 1-m rounded to the average's dtype as Keras rounds them."""
    m = torch.tensor(momentum, dtype=average.dtype)  # on the CPU: no device transfer
    average.mul_(float(m)).add_(p.detach().to(average.dtype), alpha=float(1 - m))


def _restore(
    optimizer: torch.optim.Optimizer,
    p: Tensor,
    finite: Tensor,
    value: Tensor,
    saved: dict[str, Tensor],
    keys: set[str],
) -> None:
    p.copy_(torch.where(finite, p, value))
    st = optimizer.state.get(p, {})
    # Python-number state (Adafactor's step counter): put back when the flag is on the CPU,
    # where reading it is no device sync; state this step created starts again from 0.
    if finite.device.type == "cpu" and not bool(finite):
        for key, now in list(st.items()):
            if _is_number(now):
                st[key] = saved[key] if key in saved else type(now)(0)
    for key, now in st.items():
        if not isinstance(now, Tensor) or now.device != finite.device:
            continue
        if key in saved:
            old = saved[key]
        elif key == "ema":
            old = value.to(now.dtype)
        else:
            old = torch.zeros_like(now)  # state this step created: the optimizer's initial zeros
        if old.shape == now.shape:
            now.copy_(torch.where(finite, now, old))


def _overwrite_with_average(optimizer: torch.optim.Optimizer) -> int:
    count = 0
    for p in _params(optimizer):
        average = optimizer.state.get(p, {}).get("ema")
        if average is not None:
            p.detach().copy_(average)
            count += 1
    return count


@torch.no_grad()
def finalize(optimizer: torch.optim.Optimizer) -> int:
    """Keras ``finalize_variable_values``: with use_ema, set the parameters to their averages.

    Returns the number of parameters written (0 without use_ema or before the first step)."""
    if not has_extras(optimizer) or not options_of(optimizer)["use_ema"]:
        return 0
    return _overwrite_with_average(optimizer)
