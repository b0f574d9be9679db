"""Learning-rate scheduler and grad-scaler state: checked, then loaded apart (pure PyTorch; no Tcl).

``LRScheduler.load_state_dict`` is ``self.__dict__.update(state)``: a gamma of NaN, a step size
of ``"x"``, a ``last_epoch`` of 10**30 or a key named ``optimizer`` go in without a word and break
every later step (or the scheduler itself). :func:`prepare_scheduler` refuses such a state with a
ValueError: only the keys the scheduler's class keeps, each of its type, with the ranges the
constructors (and tcltorch's scheduler commands) allow, step counts below 2**53; then it loads the
state into a twin of the scheduler and steps a second, throwaway twin twice, so a state that
passes the checks but still cannot step is refused too. Nothing of the scheduler or its optimizer
changes: the returned twin's attributes are what :func:`commit` puts in, in one assignment.

:func:`prepare_scaler` does the same for ``torch.amp.GradScaler`` (its five keys; a finite scale
> 0 and < 2**64 ... see :data:`MAX_SCALE`; growth > 1; 0 < backoff < 1; whole-number interval and
tracker).
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch.optim import lr_scheduler as lrs

from tcltorch.optim import schedules
from tcltorch.optim.state_checks import MAX_STEP

__all__ = ["MAX_SCALE", "commit", "prepare_scaler", "prepare_scheduler", "scheduler_parts"]

MAX_SCALE = 2.0**64
"""The largest grad-scaler scale accepted from a file (torch starts at 2**16): beyond it a
float16 or bfloat16 loss times the scale overflows at once, and 1e308 makes every step Inf."""


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(_shown(v) for v in value) + "}"
    return repr(value)


# (predicate, requirement) for the values of the keys a scheduler class keeps
def _whole(lo: int, hi: int = MAX_STEP) -> tuple[Any, str]:
    return (
        lambda v: _real(v) and math.isfinite(v) and v == int(v) and lo <= v < hi,
        f"must be a whole number >= {lo} and < 2**53",
    )


def _number(lo: float | None = None, hi: float | None = None, lo_open=False, hi_open=False, finite=True):
    def ok(v: Any) -> bool:
        if not _real(v) or math.isnan(v) or (finite and not math.isfinite(v)):
            return False
        if lo is not None and (v <= lo if lo_open else v < lo):
            return False
        return not (hi is not None and (v >= hi if hi_open else v > hi))

    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo:g}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi:g}")
    what = "a finite number" if finite else "a number (not NaN)"
    return ok, what + (" " + " and ".join(parts) if parts else "")


def _choice(*names: str) -> tuple[Any, str]:
    return (lambda v: isinstance(v, str) and v in names), "must be " + " or ".join(names)


def _boolean() -> tuple[Any, str]:
    return (lambda v: isinstance(v, bool)), "must be a boolean"


def _none() -> tuple[Any, str]:
    return (lambda v: v is None), "must be empty (None)"


_LAST_EPOCH = _whole(-1)
_COMMON = {
    "last_epoch": _LAST_EPOCH,
    "_step_count": _whole(0),
    "_is_initial": _boolean(),
    "_get_lr_called_within_step": _boolean(),
    "verbose": _boolean(),
}
_GT0 = _number(0, lo_open=True)
_GE0 = _number(0)

_RULES: dict[str, dict[str, tuple[Any, str]]] = {
    "StepLR": {"step_size": _whole(1), "gamma": _GT0},
    "ExponentialLR": {"gamma": _GT0},
    "CosineAnnealingLR": {"T_max": _whole(1), "eta_min": _GE0},
    "CosineAnnealingWarmRestarts": {
        "T_0": _whole(1),
        "T_i": _whole(1),
        "T_mult": _whole(1),
        "T_cur": _number(0, MAX_STEP),
        "eta_min": _GE0,
    },
    "MultiStepLR": {"gamma": _GT0},
    "MultiplicativeLR": {},
    "LambdaLR": {},
    "PolynomialLR": {"total_iters": _whole(1), "power": _GE0},
    "ConstantLR": {"factor": _number(0, 1, lo_open=True), "total_iters": _whole(0)},
    "LinearLR": {
        "start_factor": _number(0, 1, lo_open=True),
        "end_factor": _number(0, 1),
        "total_iters": _whole(0),
    },
    "ReduceLROnPlateau": {
        "factor": _number(0, 1, lo_open=True, hi_open=True),
        "patience": _whole(0),
        "cooldown": _whole(0),
        "cooldown_counter": _whole(0),
        "num_bad_epochs": _whole(0),
        "threshold": _GE0,
        "eps": _GE0,
        "mode": _choice("min", "max"),
        "threshold_mode": _choice("rel", "abs"),
        "default_min_lr": _GE0,
        "best": _number(finite=False),
        "mode_worse": _number(finite=False),
        "last_epoch": _whole(0),
    },
    "CyclicLR": {
        "total_size": _GT0,
        "step_ratio": _number(0, 1, lo_open=True),
        "mode": _choice("triangular", "triangular2", "exp_range"),
        "gamma": _GT0,
        "scale_mode": _choice("cycle", "iterations"),
        "cycle_momentum": _boolean(),
        "use_beta1": _boolean(),
        "_scale_fn_custom": _none(),
    },
    "OneCycleLR": {
        "total_steps": _whole(1),
        "_anneal_func_type": _choice("cos", "linear"),
        "cycle_momentum": _boolean(),
        "use_beta1": _boolean(),
    },
}
# per-group lists of learning rates (or momentums): numbers, one per parameter group
_LISTS = {
    "base_lrs": _GE0,
    "_last_lr": _GE0,
    "min_lrs": _GE0,
    "max_lrs": _GT0,
    "base_momentums": _GE0,
    "max_momentums": _GE0,
}
_PHASE_KEYS = {"end_step", "start_lr", "end_lr", "start_momentum", "end_momentum"}


class _Refusal(ValueError):
    pass


def _bad(kind: str, key: str, value: Any, requirement: str) -> _Refusal:
    return _Refusal(f"its {kind} scheduler state has {key} {_shown(value)}: {requirement}")


def _rule_of(kind: str, key: str) -> tuple[Any, str] | None:
    rules = _RULES.get(kind, {})
    return rules.get(key) or _COMMON.get(key)


def _check_list(kind: str, key: str, value: Any, mine: Any, groups: int) -> None:
    if mine is None:
        if value is not None:
            raise _bad(kind, key, value, "must be empty (None), as the scheduler's")
        return
    ok, requirement = _LISTS[key]
    if not isinstance(value, (list, tuple)) or len(value) != groups:
        raise _bad(kind, key, value, f"must be a list of {groups} numbers, one per parameter group")
    for v in value:
        if isinstance(v, torch.Tensor) and v.numel() == 1 and v.is_floating_point():
            v = v.item()
        if not ok(v):
            raise _bad(kind, key, value, f"each must be {requirement}")


def _check_lambdas(kind: str, value: Any, scheduler: Any) -> None:
    mine = getattr(scheduler, "lr_lambdas", [])
    if not isinstance(value, (list, tuple)) or len(value) != len(mine):
        raise _bad(kind, "lr_lambdas", value, f"must be a list of {len(mine)} multiplier states")
    for fn, saved in zip(mine, value):
        stored = not callable(fn) or not hasattr(fn, "__dict__") or type(fn).__name__ == "function"
        if saved is None:
            continue
        _check_callback(kind, fn, saved)
        if stored or not isinstance(saved, Mapping):
            raise _bad(kind, "lr_lambdas", value, "does not fit the scheduler's multipliers")
        keys = set(vars(fn))
        if set(saved) != keys:
            raise _bad(kind, "lr_lambdas", value, f"must hold the keys {' '.join(sorted(keys))}")
        for k, v in saved.items():
            own = vars(fn)[k]
            if isinstance(own, str):  # a callback's name: checked above
                good = v == own
            elif isinstance(own, bool):
                good = isinstance(v, bool)
            elif isinstance(own, int):
                good = _real(v) and math.isfinite(v) and v == int(v) and abs(v) < MAX_STEP
            else:
                good = _real(v) and math.isfinite(v)
            if not good:
                raise _bad(kind, f"lr_lambdas {k}", v, f"must be {type(own).__name__} like the scheduler's")


def _check_callback(kind: str, fn: Any, saved: Any) -> None:
    """A multiplier computed by a named callback (schedules.Callback) is saved by its name: the
    scheduler loading it must call a callback of that name."""
    was = saved.get("callback") if isinstance(saved, Mapping) else None
    has = fn.callback if isinstance(fn, schedules.Callback) else None
    if was is None and has is None:
        return
    if was is None:
        raise _Refusal(
            f"its {kind} scheduler state has no callback, but the scheduler given calls {has!r}: "
            "give a scheduler made as the saved one was"
        )
    if not isinstance(was, str) or was != has:
        given = f"calls {has!r}" if has is not None else "has no callback"
        raise _Refusal(
            f"its {kind} scheduler state was saved with the callback {was!r} (a callback is saved by "
            f"its name only), but the scheduler given {given}: re-supply it, a scheduler made with "
            f"the callback {was!r}"
        )


def _check_children(kind: str, value: Any, scheduler: Any) -> None:
    """The states of a composite's schedulers (SequentialLR, ChainedScheduler): one per
    scheduler it holds, each checked against that scheduler."""
    mine = scheduler._schedulers
    if not isinstance(value, (list, tuple)) or len(value) != len(mine):
        raise _bad(kind, "_schedulers", value, f"must be a list of {len(mine)} scheduler states")
    for child, state in zip(mine, value):
        check_scheduler_state(child, state)


def _check_milestones(kind: str, value: Any) -> None:
    if not isinstance(value, Mapping) or not all(
        _real(k) and k == int(k) and 1 <= k < MAX_STEP and _real(n) and n == int(n) and 1 <= n < MAX_STEP
        for k, n in value.items()
    ):
        raise _bad(kind, "milestones", value, "must map steps >= 1 to counts >= 1")


def _check_phases(kind: str, value: Any, mine: Any) -> None:
    if not isinstance(value, list) or len(value) != len(mine):
        raise _bad(kind, "_schedule_phases", value, f"must be a list of {len(mine)} phases")
    for phase, own in zip(value, mine):
        if not isinstance(phase, Mapping) or set(phase) != set(own):
            raise _bad(kind, "_schedule_phases", value, "does not fit the scheduler's phases")
        for k, v in phase.items():
            if k == "end_step":
                ok = _real(v) and math.isfinite(v) and -1 <= v < MAX_STEP
            else:
                ok = isinstance(v, str) and v in (
                    "initial_lr",
                    "max_lr",
                    "min_lr",
                    "max_momentum",
                    "base_momentum",
                )
            if not ok:
                raise _bad(kind, f"_schedule_phases {k}", v, "does not fit the scheduler's phases")


def check_scheduler_state(scheduler: Any, state: Any) -> None:
    """Raise ValueError unless ``state`` is a state of ``scheduler``'s class that it can run
    from: exactly its keys, each of its type and range (see the module's text)."""
    kind = type(scheduler).__name__
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise _Refusal(f"its {kind} scheduler state is not a dict of named values")
    mine = scheduler.state_dict()
    missing = sorted(set(mine) - set(state))
    extra = sorted(set(state) - set(mine))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(extra)}"] if extra else []
        )
        raise _Refusal(f"its {kind} scheduler state does not fit the scheduler: " + "; ".join(parts))
    groups = len(scheduler.optimizer.param_groups)
    for key, value in state.items():
        if key in _LISTS:
            _check_list(kind, key, value, mine[key], groups)
        elif key == "lr_lambdas":
            _check_lambdas(kind, value, scheduler)
        elif key == "milestones":
            _check_milestones(kind, value)
        elif key == "_schedulers":
            _check_children(kind, value, scheduler)
        elif key == "_milestones":
            count = len(mine[key])
            if not (
                isinstance(value, (list, tuple))
                and len(value) == count
                and all(_real(v) and v == int(v) and 1 <= v < MAX_STEP for v in value)
                and list(value) == sorted(value)
            ):
                raise _bad(kind, key, value, f"must be {count} increasing steps >= 1")
        elif key == "_schedule_phases":
            _check_phases(kind, value, mine[key])
        elif (rule := _rule_of(kind, key)) is not None:
            ok, requirement = rule
            if not ok(value):
                if not requirement.startswith("must"):
                    requirement = "must be " + requirement
                raise _bad(kind, key, value, requirement)
        else:  # a key this module has no rule for (a newer torch): the scheduler's own type
            own = mine[key]
            same = (
                isinstance(value, bool) == isinstance(own, bool)
                and (_real(value) == _real(own))
                and (isinstance(value, str) == isinstance(own, str))
                and ((value is None) == (own is None))
            )
            if not same or (_real(value) and not math.isfinite(value)):
                raise _bad(kind, key, value, f"must be like the scheduler's {_shown(own)}")
    if kind == "ReduceLROnPlateau":
        worse = math.inf if state["mode"] == "min" else -math.inf
        if state["mode_worse"] != worse:
            raise _bad(kind, "mode_worse", state["mode_worse"], f"must be {worse} in mode {state['mode']}")


def _twin(scheduler: Any, optimizer: Any) -> Any:
    """A copy of ``scheduler`` driving ``optimizer``, with multipliers of its own (a load writes
    into the multiplier objects)."""
    twin = copy.copy(scheduler)
    twin.__dict__ = dict(scheduler.__dict__)
    twin.optimizer = optimizer
    if hasattr(scheduler, "lr_lambdas"):
        twin.lr_lambdas = [copy.deepcopy(f) for f in scheduler.lr_lambdas]
    if isinstance(getattr(scheduler, "_schedulers", None), list):  # a composite: twins drive twins
        twin._schedulers = [_twin(s, optimizer) for s in scheduler._schedulers]
    return twin


def _throwaway_optimizer(optimizer: torch.optim.Optimizer, groups: list[Any] | None) -> Any:
    other = copy.copy(optimizer)
    other.__dict__ = dict(optimizer.__dict__)
    source = groups if groups is not None and len(groups) == len(optimizer.param_groups) else None
    other.param_groups = [dict(g) for g in (source or optimizer.param_groups)]
    return other


def prepare_scheduler(scheduler: Any, state: Any, param_groups: list[Any] | None = None) -> Any:
    """Check ``state`` (ValueError if refused) and return a twin of ``scheduler`` with it loaded;
    :func:`commit` puts the twin's attributes into the scheduler.  The trial steps run on a copy
    of the optimizer's groups (``param_groups``: the groups the optimizer is about to get from the
    same checkpoint, when given).  The scheduler and its optimizer are not changed."""
    check_scheduler_state(scheduler, state)
    kind = type(scheduler).__name__
    twin = _twin(scheduler, scheduler.optimizer)
    trial = _twin(scheduler, _throwaway_optimizer(scheduler.optimizer, param_groups))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            twin.load_state_dict(copy.deepcopy(dict(state)))
            trial.load_state_dict(copy.deepcopy(dict(state)))
            for _ in range(2):
                if isinstance(trial, lrs.ReduceLROnPlateau):
                    trial.step(0.0)
                else:
                    trial.step()
            lrs_ = [g["lr"] for g in trial.optimizer.param_groups]
    except Exception as exc:  # noqa: BLE001 - the scheduler's own refusal, in its words
        text = str(exc).strip().split("\n")[0] or type(exc).__name__
        raise _Refusal(f"its {kind} scheduler state cannot be stepped: {text}") from None
    for lr in lrs_:
        value = float(lr.item()) if isinstance(lr, torch.Tensor) else lr
        if not (_real(value) and math.isfinite(value) and value >= 0):
            raise _Refusal(f"its {kind} scheduler state makes the learning rate {_shown(value)}")
    return twin


def scheduler_parts(scheduler: Any, twin: Any) -> list[tuple[Any, Any]]:
    """The (object, prepared twin) pairs a load assigns for ``scheduler`` and the ``twin``
    :func:`prepare_scheduler` made: for a composite (SequentialLR, ChainedScheduler) its
    schedulers' pairs first, then itself, its twin holding the schedulers it held (the
    handles given for them stay the ones it drives); else just the pair."""
    children = getattr(scheduler, "_schedulers", None)
    if not isinstance(children, list):
        return [(scheduler, twin)]
    pairs: list[tuple[Any, Any]] = []
    for child, child_twin in zip(children, twin._schedulers):
        pairs.extend(scheduler_parts(child, child_twin))
    twin._schedulers = children
    pairs.append((scheduler, twin))
    return pairs


_SCALER_KEYS = {"scale", "growth_factor", "backoff_factor", "growth_interval", "_growth_tracker"}


def check_scaler_state(state: Any) -> None:
    """Raise ValueError unless ``state`` is a GradScaler state dict with the constructor's rules."""
    if not isinstance(state, Mapping) or set(state) != _SCALER_KEYS:
        raise _Refusal("holds a grad scaler state without its scale and growth settings")
    scale, growth, backoff = state["scale"], state["growth_factor"], state["backoff_factor"]
    interval, tracker = state["growth_interval"], state["_growth_tracker"]
    numbers_ = all(_real(v) for v in (scale, growth, backoff))
    if not numbers_ or not (
        math.isfinite(scale)
        and 0 < scale <= MAX_SCALE
        and math.isfinite(growth)
        and growth > 1
        and 0 < backoff < 1
    ):
        raise _Refusal(
            f"its grad scaler state has scale {scale!r}, growth {growth!r}, backoff {backoff!r}: "
            "the scale must be > 0 and <= 2**64, the growth a finite number > 1, the backoff in (0, 1)"
        )
    whole = lambda v, lo: isinstance(v, int) and not isinstance(v, bool) and lo <= v < MAX_STEP
    if not whole(interval, 1) or not whole(tracker, 0):
        raise _Refusal(
            f"its grad scaler state has growth interval {interval!r} and tracker {tracker!r}: "
            "must be whole numbers >= 1 and >= 0 (below 2**53)"
        )


def prepare_scaler(scaler: torch.amp.GradScaler, state: Any) -> torch.amp.GradScaler | None:
    """Check ``state`` (ValueError if refused) and return a twin of ``scaler`` with it loaded
    (None for a disabled scaler, which keeps no state); the scaler is not changed."""
    if not scaler.is_enabled():
        return None
    check_scaler_state(state)
    twin = copy.copy(scaler)
    twin.__dict__ = dict(scaler.__dict__)
    for name in ("_scale", "_growth_tracker"):
        value = getattr(scaler, name, None)
        if isinstance(value, torch.Tensor):
            setattr(twin, name, value.clone())
    twin.load_state_dict(dict(state))
    return twin


def commit(obj: Any, twin: Any) -> dict[str, Any]:
    """Give ``obj`` the attributes of its prepared ``twin`` (one assignment); returns the old
    attribute dict, which ``obj.__dict__ = old`` puts back."""
    old = obj.__dict__
    obj.__dict__ = twin.__dict__
    return old
