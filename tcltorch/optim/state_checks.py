"""Checks of an optimizer state dict before it is loaded (pure PyTorch; no Tcl).

``torch.optim.Optimizer.load_state_dict`` takes almost anything: a step count of 1e30, a moment
of the wrong shape or a missing entry is found only by a later step, which then fails (or worse,
runs). :func:`check_optimizer_state` refuses such a state dict up front with a ValueError that
names the parameter and the entry. The rules per optimizer class (which state entries a stepped
parameter keeps, their shapes) are in :data:`STATE_KEYS`, or in the class's own
``check_state_dict`` hook (``tcltorch.optim.Adafactor.check_state_dict``), which
:func:`check_optimizer_state` calls when the class has one.

Per parameter, for the classes it knows: the entries it must have and may have (an ``ema`` entry
too when the group has ``use_ema``, see :mod:`tcltorch.optim.extras`); every entry but ``step`` a
floating-point tensor of the parameter's shape (Adafactor's factored ``row`` and ``col``: the
shape without the last, or the last but one, dimension; NAdam's ``mu_product`` and ASGD's ``eta``
and ``mu`` and NovoGrad's ``grad_norm_sq`` are 0-d); ``step`` a whole number (or a one-element tensor of one), finite, >= 0 and
below 2**53 (a float64 counts exactly up to there). For any class: the state dict's layout, the
number of groups and of parameters per group, and distinct integer parameter ids.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["MAX_STEP", "STATE_KEYS", "check_optimizer_state", "check_param_states", "check_step"]

MAX_STEP = 2**53

# (group, param) -> (entries that must be there, entries that may be there), per class name.
Rule = Callable[[Mapping[str, Any], Tensor], tuple[set[str], set[str]]]


def _fixed(*keys: str) -> Rule:
    return lambda group, param: (set(keys), set(keys))


def _adam(group: Mapping[str, Any], param: Tensor) -> tuple[set[str], set[str]]:
    keys = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
    return keys, keys


def _sgd(group: Mapping[str, Any], param: Tensor) -> tuple[set[str], set[str]]:
    # without momentum SGD keeps no state of its own; its buffer may be None before the first step
    return ({"momentum_buffer"} if group.get("momentum") else set()), {"momentum_buffer"}


def _rmsprop(group: Mapping[str, Any], param: Tensor) -> tuple[set[str], set[str]]:
    keys = {"step", "square_avg"}
    keys |= {"momentum_buffer"} if group.get("momentum", 0) > 0 else set()
    keys |= {"grad_avg"} if group.get("centered") else set()
    return keys, keys


def adafactor_rule(group: Mapping[str, Any], param: Tensor) -> tuple[set[str], set[str]]:
    """tcltorch.optim.Adafactor: step, row and col (rank >= 2) or v, and exp_avg while beta1 >= 0."""
    keys = {"step"} | ({"row", "col"} if param.dim() >= 2 else {"v"})
    beta1 = group.get("beta1")
    momentum = _is_real(beta1) and beta1 >= 0
    return keys | ({"exp_avg"} if momentum else set()), keys | {"exp_avg"}


STATE_KEYS: dict[str, Rule] = {
    "Adam": _adam,
    "AdamW": _adam,
    "SGD": _sgd,
    "RMSprop": _rmsprop,
    "Adagrad": _fixed("step", "sum"),
    "Adamax": _fixed("step", "exp_avg", "exp_inf"),
    "NAdam": _fixed("step", "mu_product", "exp_avg", "exp_avg_sq"),
    "RAdam": _fixed("step", "exp_avg", "exp_avg_sq"),
    "Adadelta": _fixed("step", "square_avg", "acc_delta"),
    "ASGD": _fixed("step", "eta", "mu", "ax"),
    "Rprop": _fixed("step", "prev", "step_size"),
    "Lamb": _fixed("step", "exp_avg", "exp_avg_sq"),
    "NovoGrad": _fixed("step", "grad_norm_sq", "exp_avg"),
}

_SCALAR_KEYS = {"mu_product", "eta", "mu", "grad_norm_sq"}  # 0-d tensors (NAdam, ASGD, NovoGrad)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shape(shape: Iterable[int]) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def expected_shape(key: str, param: Tensor, value: Any = None) -> tuple[int, ...]:
    """The shape of state entry ``key`` of ``param``; for a sharded (DTensor) parameter whose state
    ``value`` is a plain tensor (tcltorch's Adafactor keeps its local shard's), the local shard's."""
    shape = tuple(param.shape)
    if value is not None and _is_dtensor(param) and not _is_dtensor(value):
        shape = tuple(param.to_local().shape)
    if key == "row" and param.dim() >= 2:  # Adafactor's factored statistics
        return shape[:-1]
    if key == "col" and param.dim() >= 2:
        return shape[:-2] + shape[-1:]
    if key in _SCALAR_KEYS:
        return ()
    return shape


def _is_dtensor(t: Any) -> bool:
    return type(t).__name__ == "DTensor" and hasattr(t, "to_local")


def check_step(value: Any, where: str = "the step count") -> None:
    """Raise ValueError unless ``value`` is a step count: a whole number (or a one-element real
    tensor holding one), finite, >= 0 and < 2**53."""
    if isinstance(value, Tensor):
        ok = value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool
        number = value.item() if ok else None
    else:
        ok, number = _is_real(value), value
    if not ok:
        raise ValueError(f"{where} is {value!r}: must be a whole number")
    if not (math.isfinite(number) and 0 <= number < MAX_STEP and number == int(number)):
        raise ValueError(f"{where} is {number!r}: must be a whole number >= 0 and < 2**53")


def _layout(state_dict: Any) -> tuple[Mapping[Any, Any], list[Mapping[str, Any]]]:
    if not (
        isinstance(state_dict, Mapping)
        and isinstance(state_dict.get("state"), Mapping)
        and isinstance(state_dict.get("param_groups"), list)
        and all(
            isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in state_dict["param_groups"]
        )
    ):
        raise ValueError("not an optimizer state dict: it needs a 'state' mapping and a 'param_groups' list")
    ids = [pid for g in state_dict["param_groups"] for pid in g["params"]]
    if len(set(ids)) != len(ids) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValueError("not an optimizer state dict: its parameter ids are not distinct integers")
    return state_dict["state"], state_dict["param_groups"]


def check_param_states(
    state_dict: Any, params: list[Tensor], rule: Rule | None, name: str = "the optimizer"
) -> None:
    """Raise ValueError unless ``state_dict`` fits ``params`` (the optimizer's parameters in order)
    under ``rule`` (None: only the layout, the parameter count, ids and step counts are checked)."""
    state, groups = _layout(state_dict)
    ids = [pid for g in groups for pid in g["params"]]
    if len(ids) != len(params):
        raise ValueError(f"the state dict has {len(ids)} parameters, {name} {len(params)}")
    where: dict[int, tuple[Tensor, Mapping[str, Any]]] = {}
    remaining = iter(params)
    for g in groups:
        for pid in g["params"]:
            where[pid] = (next(remaining), g)
    for pid, entry in state.items():
        if pid not in where or not isinstance(entry, Mapping):
            raise ValueError(f"the state dict has state for an unknown parameter {pid!r}")
        if not entry:
            continue
        param, group = where[pid]
        _check_entry(pid, entry, param, group, rule)


def _check_entry(pid: Any, entry: Mapping[str, Any], param: Tensor, group: Mapping[str, Any], rule) -> None:
    if rule is not None:
        required, allowed = rule(group, param)
        if group.get("use_ema"):  # tcltorch.optim.extras: the parameter's moving average
            allowed = allowed | {"ema"}
        missing = sorted(required - set(entry))
        extra = sorted(map(str, set(entry) - allowed))
        if missing or extra:
            what = "; ".join(
                ([f"missing its {', '.join(missing)} state"] if missing else [])
                + ([f"unexpected {', '.join(extra)} state"] if extra else [])
            )
            raise ValueError(f"parameter {pid} is {what}")
    for key, value in entry.items():
        if key == "step":
            check_step(value, f"the step count of parameter {pid}")
            continue
        if rule is None or (value is None and key == "momentum_buffer"):
            continue
        if not isinstance(value, Tensor):
            raise ValueError(f"the {key} state of parameter {pid} is not a tensor")  # noqa: TRY004 - one error type for every refusal
        want = expected_shape(key, param, value)
        if tuple(value.shape) != want:
            raise ValueError(
                f"the {key} state of parameter {pid} has shape {_shape(value.shape)}, expected {_shape(want)}"
            )
        if not (value.is_floating_point() or (value.is_complex() and param.is_complex())):
            raise ValueError(
                f"the {key} state of parameter {pid} is {str(value.dtype).removeprefix('torch.')}, "
                "expected a floating-point tensor"
            )


def check_optimizer_state(optimizer: torch.optim.Optimizer, state_dict: Any) -> None:
    """Raise ValueError unless ``state_dict`` can be loaded into ``optimizer``: the layout, the same
    number of groups and of parameters in each, and each parameter's state by the rules of the
    optimizer's class (its ``check_state_dict`` hook when it has one, else :data:`STATE_KEYS`; a
    class known to neither gets the layout and step checks only)."""
    _, groups = _layout(state_dict)
    mine = optimizer.param_groups
    if len(groups) != len(mine) or any(len(s["params"]) != len(g["params"]) for s, g in zip(groups, mine)):
        sizes = lambda gs: "{" + " ".join(str(len(g["params"])) for g in gs) + "}"
        raise ValueError(
            f"the state dict has parameter groups of {sizes(groups)} parameters, the optimizer {sizes(mine)}"
        )
    params = [p for g in mine for p in g["params"]]
    hook = getattr(type(optimizer), "check_state_dict", None)
    if hook is not None:
        hook(state_dict, params)
        return
    rule = next((STATE_KEYS[c.__name__] for c in type(optimizer).__mro__ if c.__name__ in STATE_KEYS), None)
    check_param_states(state_dict, params, rule, type(optimizer).__name__)
