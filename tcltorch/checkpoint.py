"""Training checkpoints: the file format, its validation, and an all-or-nothing load (no Tcl).

A checkpoint is an ordinary ``torch.save`` zip archive holding a dict::

    {"format": "tcltorch.checkpoint", "version": 1,
     "model": model.state_dict(), "optimizer": optimizer.state_dict(),
     "optimizer_class": "Adam", "epoch": int, "loss": float,
     "scheduler_classes": [...], "schedulers": [state_dict, ...],   # when schedulers are saved
     "scalers": [GradScaler.state_dict(), ...],                      # when scalers are saved
     "extra": {name: plain data, ...},                               # when extra data is saved
     "rng": {"torch": ByteTensor, "cuda": [ByteTensor, ...]}}        # when RNG states are saved

so ``torch.load(path, weights_only=True)`` reads it anywhere.  :func:`save` writes one atomically
(:mod:`tcltorch.serialization`); :func:`load` reads it without running code and checks every part
against the objects it goes into: the model's keys, shapes and dtypes; the optimizer's class,
groups, options (by the optimizer constructor's own rules) and per-parameter state
(:func:`tcltorch.optim.state_checks.check_optimizer_state`, EMA averages and Keras extras
included); each scheduler's and grad scaler's state (:mod:`tcltorch.train_state`).  Every part is
loaded into a throwaway twin first; only when all of them loaded is the whole committed, and a
failure or ``KeyboardInterrupt`` during the commit puts everything back: the model, optimizer,
schedulers and scalers are either all as in the file or all as before.

Every refusal is a :class:`CheckpointError` (a ``ValueError``) naming the file and the problem.

    >>> import tcltorch.checkpoint as ckpt
    >>> ckpt.save("run.ckpt", model, optimizer, schedulers=[sched], epoch=3, loss=0.25)
    >>> ckpt.load("run.ckpt", model, optimizer, schedulers=[sched])
    {'epoch': 3, 'loss': 0.25}
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from tcltorch import serialization, train_state
from tcltorch.optim import extras as optim_extras
from tcltorch.optim.adafactor import Adafactor
from tcltorch.optim.state_checks import (
    MAX_STEP,
    STATE_KEYS,
    adafactor_rule,
    check_optimizer_state,
    expected_shape,
)
from tcltorch.serialization import SerializationError

__all__ = [
    "FORMAT",
    "VERSION",
    "CheckpointError",
    "LoadPlan",
    "info",
    "load",
    "load_state_dict",
    "prepare",
    "read",
    "save",
    "save_state_dict",
    "state",
]

FORMAT = "tcltorch.checkpoint"
VERSION = 1

OptionCheck = Callable[[list[Mapping[str, Any]], torch.optim.Optimizer], None]


class CheckpointError(SerializationError):
    """A checkpoint (or state-dict file) that does not fit, or is not one."""


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module a DDP wrapper holds: files store it, so any world size (or none) can load them."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def shown(value: Any) -> str:
    """A value as the messages show it: strings quoted, booleans as true/false, lists in braces."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(shown(v) for v in value) + "}"
    return repr(value)


def _shape(shape: Any) -> str:
    return "{" + " ".join(map(str, shape)) + "}"


def _listed(keys: list[str]) -> str:
    text = ", ".join(keys[:4])
    return text + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def is_checkpoint(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("format") == FORMAT


def is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and all(isinstance(k, str) for k in obj)
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    )


# -- extra data and RNG states ----------------------------------------------------------------

MAX_EXTRA_DEPTH = 32
MAX_EXTRA_ITEMS = 1_000_000


def check_extra(value: Any) -> None:
    """Raise ValueError unless ``value`` is a checkpoint's extra data: a dict with string keys
    whose values are plain data (strings, booleans, integers, finite numbers, None, and lists
    and string-keyed dicts of them), at most MAX_EXTRA_DEPTH deep and MAX_EXTRA_ITEMS in all:
    what ``torch.load(weights_only=True)`` reads back as it was written."""
    if not isinstance(value, Mapping):
        raise ValueError(f"its extra data is {type(value).__name__}: must be a dict")  # noqa: TRY004 - a refusal
    count = 0
    stack: list[tuple[Any, str, int]] = [(value, "extra", 0)]
    while stack:
        item, where, depth = stack.pop()
        count += 1
        if count > MAX_EXTRA_ITEMS:
            raise ValueError(f"its extra data holds more than {MAX_EXTRA_ITEMS} values")
        if depth > MAX_EXTRA_DEPTH:
            raise ValueError(f"its extra data is nested more than {MAX_EXTRA_DEPTH} deep ({where})")
        if item is None or isinstance(item, (str, bool)):
            continue
        if isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                raise ValueError(f"its extra data has {where} = {item}: an integer out of the 64-bit range")
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"its extra data has {where} = {item}: must be a finite number")
            continue
        if isinstance(item, (list, tuple)):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item))
            continue
        if isinstance(item, Mapping):
            for k, v in item.items():
                if not isinstance(k, str):
                    raise ValueError(f"its extra data has a key {k!r} in {where}: keys must be strings")  # noqa: TRY004
                stack.append((v, f"{where}.{k}", depth + 1))
            continue
        raise ValueError(
            f"its extra data has {where} of type {type(item).__name__}: only strings, numbers, booleans, "
            "None, lists and dicts are plain data"
        )


def rng_state() -> dict[str, Any]:
    """The random number generators' states: torch's CPU generator, and each CUDA device's when
    CUDA is in use (what :func:`set_rng` puts back, so a resumed run draws the same numbers:
    the same dropout masks and the same shuffled batch order)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def check_rng(value: Any) -> None:
    """Raise ValueError unless ``value`` is a state :func:`rng_state` made (on any machine: CUDA
    states are checked for their form; they are restored where as many devices exist)."""
    mine = torch.get_rng_state()
    saved = value.get("torch") if isinstance(value, Mapping) else None
    if not (
        isinstance(saved, torch.Tensor)
        and saved.dtype == torch.uint8
        and tuple(saved.shape) == tuple(mine.shape)
    ):
        raise ValueError(
            f"its RNG state is not a torch generator state (a uint8 tensor of {mine.numel()} bytes)"
        )
    if set(value) - {"torch", "cuda"}:
        raise ValueError(
            f"its RNG state has unknown parts: {_listed(sorted(set(value) - {'torch', 'cuda'}))}"
        )
    cuda = value.get("cuda", [])
    if not isinstance(cuda, list) or not all(
        isinstance(s, torch.Tensor) and s.dtype == torch.uint8 and s.dim() == 1 for s in cuda
    ):
        raise ValueError("its CUDA RNG states are not a list of uint8 tensors")


def set_rng(state: Mapping[str, Any]) -> None:
    """Put back the generator states of :func:`rng_state` (CUDA ones where the devices exist)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda", [])
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# -- writing ----------------------------------------------------------------------------------


def state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    epoch: int = 0,
    loss: float = 0.0,
    extra: Mapping[str, Any] | None = None,
    rng: bool = False,
) -> dict[str, Any]:
    """The dict a checkpoint file holds (plain data and tensors); ``extra`` (plain data, see
    :func:`check_extra`) and, with ``rng``, the generators' states (:func:`rng_state`) too."""
    if extra is not None:
        check_extra(extra)
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0):
        raise ValueError(f"epoch {epoch!r}: must be an integer >= 0")
    if not (_real(loss) and math.isfinite(loss)):
        raise ValueError(f"loss {loss!r}: must be a finite number")
    data: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,
        "epoch": int(epoch),
        "loss": float(loss),
        "scheduler_classes": [type(s).__name__ for s in schedulers],
        "schedulers": [s.state_dict() for s in schedulers],
    }
    if scalers:
        data["scalers"] = [s.state_dict() for s in scalers]
    if extra is not None:
        data["extra"] = dict(extra)
    if rng:
        data["rng"] = rng_state()
    return data


def save(
    path: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    epoch: int = 0,
    loss: float = 0.0,
    extra: Mapping[str, Any] | None = None,
    rng: bool = False,
) -> str:
    """Write a checkpoint of ``model`` and ``optimizer`` (and schedulers, grad scalers, extra
    data, RNG states) to ``path`` atomically; returns ``path``."""
    data = state(
        model, optimizer, schedulers=schedulers, scalers=scalers, epoch=epoch, loss=loss, extra=extra, rng=rng
    )
    serialization.atomic_save(data, path)
    return path


def save_state_dict(path: str, model: torch.nn.Module) -> str:
    """Write ``model.state_dict()`` to ``path`` atomically (``.safetensors`` by extension, else
    ``torch.save``); returns ``path``."""
    tensors = unwrap(model).state_dict()
    if path.lower().endswith(".safetensors"):
        serialization.save_safetensors(tensors, path)
    else:
        serialization.atomic_save(tensors, path)
    return path


# -- checking ---------------------------------------------------------------------------------


def check_model_state(saved: Any, model: torch.nn.Module, name: str = "the model") -> None:
    """Raise ValueError unless ``saved`` loads into ``model`` completely (keys, shapes, dtypes)."""
    if not is_state_dict(saved):
        raise ValueError("does not hold a model state dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        parts = ([f"missing {_listed(missing)}"] if missing else []) + (
            [f"unexpected {_listed(unexpected)}"] if unexpected else []
        )
        raise ValueError(f"does not fit {name}: " + "; ".join(parts))
    for key, mine in expected.items():
        theirs = saved[key]
        if theirs.shape != mine.shape:
            raise ValueError(
                f"does not fit {name}: {key} has shape {_shape(theirs.shape)} in the file, "
                f"{_shape(mine.shape)} in the model"
            )
        if theirs.dtype != mine.dtype and not (theirs.is_floating_point() and mine.is_floating_point()):
            raise ValueError(
                f"does not fit {name}: {key} is {_dtype(theirs.dtype)} in the file, "
                f"{_dtype(mine.dtype)} in the model"
            )


def _counts(groups: list[Any]) -> str:
    sizes = [len(g["params"]) for g in groups]
    if len(sizes) == 1:
        return f"{sizes[0]} parameters"
    return f"{len(sizes)} parameter groups of {{{' '.join(map(str, sizes))}}} parameters"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _is_layout(saved: Any) -> bool:
    return (
        isinstance(saved, Mapping)
        and isinstance(saved.get("state"), Mapping)
        and isinstance(saved.get("param_groups"), list)
        and all(isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in saved["param_groups"])
    )


def check_option_values(groups: list[Mapping[str, Any]], optimizer: torch.optim.Optimizer) -> None:
    """Raise ValueError unless the saved group options are ones the optimizer's constructor takes:
    booleans where it has a boolean, finite numbers where it has a number, the Keras extras by
    their rules, and then the constructor itself, called on a throwaway parameter (an ``lr`` of 0,
    where a scheduler ended, is taken: the constructor is shown 1.0 instead)."""
    try:
        signature = inspect.signature(type(optimizer).__init__).parameters
    except (TypeError, ValueError):
        signature = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k not in ("params", "param_names")}
        for key, value in options.items():
            if key in optim_extras.OPTION_DEFAULTS:
                continue
            if key == "iterations":
                if not (
                    _real(value) and math.isfinite(value) and value == int(value) and 0 <= value < MAX_STEP
                ):
                    raise ValueError(
                        f"its optimizer option {key} is {shown(value)}: must be a whole number >= 0"
                    )
                continue
            if key in signature:
                default = signature[key].default
                if (isinstance(default, bool) or default is None) and not (
                    isinstance(value, bool) or (default is None and value is None)
                ):
                    if default is None and not isinstance(value, (bool, str, type(None))):
                        continue  # None defaults stand for numbers and tuples too (torch decides)
                    raise ValueError(f"its optimizer option {key} is {shown(value)}: must be a boolean")
                if _real(default) and not (_real(value) and math.isfinite(value)):
                    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
                        continue  # torch allows a tensor lr
                    raise ValueError(f"its optimizer option {key} is {shown(value)}: must be a finite number")
            elif isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"its optimizer option {key} is {shown(value)}: must be a finite number")
        extra = {k: options[k] for k in optim_extras.OPTION_DEFAULTS if k in options}
        if extra:
            try:
                optim_extras.validate({**optim_extras.OPTION_DEFAULTS, **extra})
            except ValueError as exc:
                raise ValueError(f"its optimizer options are refused: {exc}") from None
        kwargs = {k: v for k, v in options.items() if k in signature and k not in ("self", "params")}
        if kwargs.get("lr") == 0:
            kwargs["lr"] = 1.0
        try:
            type(optimizer)([torch.zeros(1, requires_grad=True)], **kwargs)
        except Exception as exc:  # noqa: BLE001 - the constructor's refusal, in its words
            text = str(exc).strip().split("\n")[0] or type(exc).__name__
            raise ValueError(f"its optimizer options are refused by the constructor: {text}") from None


def _rule(optimizer: torch.optim.Optimizer) -> Any:
    """The optimizer class's per-parameter state rule (Adafactor's, or STATE_KEYS'), or None."""
    if isinstance(optimizer, Adafactor):
        return adafactor_rule
    return next((STATE_KEYS[c.__name__] for c in type(optimizer).__mro__ if c.__name__ in STATE_KEYS), None)


def _check_values(saved: Mapping[str, Any], optimizer: torch.optim.Optimizer, name: str) -> None:
    """The step counts, shapes and dtypes of the saved per-parameter state, in the file's terms
    (entries whose keys do not fit the class's rule are left to check_optimizer_state)."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    where: dict[Any, tuple[torch.Tensor, Mapping[str, Any]]] = {}
    remaining = iter(params)
    for g in saved["param_groups"]:
        for pid in g["params"]:
            where[pid] = (next(remaining), g)
    rule = _rule(optimizer)
    for pid, entry in saved["state"].items():
        if pid not in where or not isinstance(entry, Mapping):
            raise ValueError(f"does not fit {name}: state for an unknown parameter {pid}")
        param, group = where[pid]
        if rule is not None and entry:
            required, allowed = rule(group, param)
            allowed = allowed | ({"ema"} if group.get("use_ema") else set())
            if not required <= set(entry) or not set(entry) <= allowed:
                continue  # the key rule's refusal says it better
        for key, value in entry.items():
            if key == "step":
                _check_step(name, pid, value)
                continue
            if rule is None or not isinstance(value, torch.Tensor):
                continue
            want = expected_shape(key, param, value)
            if tuple(value.shape) != want:
                raise ValueError(
                    f"does not fit {name}: its {key} state has shape {_shape(value.shape)}, "
                    f"expected {_shape(want)}"
                )
            if not (value.is_floating_point() or (value.is_complex() and param.is_complex())):
                raise ValueError(
                    f"does not fit {name}: its {key} state is {_dtype(value.dtype)}, "
                    "expected a floating-point tensor"
                )


def _check_step(name: str, pid: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        ok = value.numel() == 1 and not value.is_complex() and value.dtype != torch.bool
        number = value.item() if ok else None
    else:
        ok, number = _real(value), value
    where = f"does not fit {name}: the step count of parameter {pid} is {shown(number if ok else value)}"
    if not ok or not math.isfinite(number) or number < 0 or number != int(number):
        raise ValueError(f"{where}, must be a whole number >= 0")
    if number >= MAX_STEP:
        raise ValueError(f"{where}, must be below 2**53")


def check_optimizer(
    saved: Any,
    kind: Any,
    optimizer: torch.optim.Optimizer,
    name: str = "the optimizer",
    check_options: OptionCheck | None = None,
) -> None:
    """Raise ValueError unless ``saved`` (of class name ``kind``) loads into ``optimizer``: the
    same class, groups and parameter counts; options the constructor accepts (``check_options``
    first, when given: e.g. the Tcl command's own rules); the per-parameter state by
    :func:`tcltorch.optim.state_checks.check_optimizer_state`."""
    mine = type(optimizer).__name__
    if kind != mine:
        raise ValueError(f"holds {str(kind).lower()} optimizer state; {name} is {_a(mine.lower())} optimizer")
    if not _is_layout(saved):
        raise ValueError("does not hold an optimizer state dict")
    groups, theirs = optimizer.param_groups, saved["param_groups"]
    if len(theirs) != len(groups) or any(
        len(s["params"]) != len(g["params"]) for s, g in zip(theirs, groups)
    ):
        raise ValueError(
            f"does not fit {name}: the file has {_counts(theirs)}, the optimizer {_counts(groups)}"
        )
    ids = [pid for s in theirs for pid in s["params"]]
    if len(set(ids)) != len(ids) or not all(
        isinstance(pid, int) and not isinstance(pid, bool) for pid in ids
    ):
        raise ValueError(
            "does not hold an optimizer state dict (its parameter ids are not distinct integers)"
        )
    for s, g in zip(theirs, groups):
        if set(g) - {"params", "param_names"} != set(s) - {"params", "param_names"}:
            raise ValueError(f"does not fit {name}: its options differ")
    if check_options is not None:
        check_options(theirs, optimizer)
    check_option_values(theirs, optimizer)
    _check_values(saved, optimizer, name)
    try:
        check_optimizer_state(optimizer, saved)
    except ValueError as exc:
        raise ValueError(f"does not fit {name}: {exc}") from None


_MISSING = object()


def _loaded_optimizer(optimizer: torch.optim.Optimizer, saved: Any, name: str) -> dict[str, Any]:
    """The optimizer attributes a load of ``saved`` sets (``state``, ``param_groups``), built on a
    shallow twin of ``optimizer`` so that the optimizer itself is not touched yet."""
    twin = object.__new__(type(optimizer))
    twin.__dict__.update(optimizer.__dict__)
    try:
        twin.load_state_dict(saved)
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        text = str(exc).strip().split("\n")[0] or type(exc).__name__
        raise ValueError(f"does not fit {name}: {text}") from None
    return {k: v for k, v in twin.__dict__.items() if optimizer.__dict__.get(k, _MISSING) is not v}


# -- reading ----------------------------------------------------------------------------------


def _refuse(path: str, exc: ValueError) -> CheckpointError:
    return CheckpointError(path, str(exc))


def read(path: str) -> dict[str, Any]:
    """The checked top level of a checkpoint file: its format, version, epoch and loss, and parts
    of the right kinds (a model state dict, an optimizer state dict, lists of scheduler and scaler
    states).  Nothing is loaded into anything."""
    return checked(path, serialization.safe_load(path))


def checked(path: str, data: Any) -> dict[str, Any]:
    """:func:`read`'s checks of what a file at ``path`` held (``data``)."""
    if not is_checkpoint(data):
        if is_state_dict(data):
            raise CheckpointError(
                path, "is a model state dict, not a checkpoint (use torch::load_state_dict)"
            )
        raise CheckpointError(path, "is not a tcltorch checkpoint")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise CheckpointError(
            path, f"has checkpoint format version {shown(version)}; this tcltorch reads version {VERSION}"
        )
    epoch, loss = data.get("epoch"), data.get("loss")
    if not _real(epoch) or not _real(loss):
        raise CheckpointError(path, "is not a tcltorch checkpoint (no epoch or loss)")
    if not isinstance(epoch, int) or not 0 <= epoch < MAX_STEP:
        raise CheckpointError(path, f"its epoch is {shown(epoch)}: must be an integer >= 0")
    if not math.isfinite(loss):
        raise CheckpointError(path, f"its loss is {shown(loss)}: must be a finite number")
    if not is_state_dict(data.get("model")):
        raise CheckpointError(path, "does not hold a model state dict")
    if not _is_layout(data.get("optimizer")):
        raise CheckpointError(path, "does not hold an optimizer state dict")
    classes, states = data.get("scheduler_classes", []), data.get("schedulers", [])
    if not (isinstance(classes, list) and isinstance(states, list) and len(classes) == len(states)):
        raise CheckpointError(path, "its scheduler states are not a list of states with their classes")
    if not isinstance(data.get("scalers", []), list):
        raise CheckpointError(path, "its grad scaler states are not a list")
    try:
        if "extra" in data:
            check_extra(data["extra"])
        if "rng" in data:
            check_rng(data["rng"])
    except ValueError as exc:
        raise _refuse(path, exc) from None
    return data


class LoadPlan:
    """A checked checkpoint, loaded into twins of its targets; :meth:`commit` applies it."""

    def __init__(self) -> None:
        self.model: torch.nn.Module | None = None
        self.model_state: Mapping[str, torch.Tensor] = {}
        self.optimizer: torch.optim.Optimizer | None = None
        self.optimizer_changes: dict[str, Any] = {}
        self.twins: list[tuple[Any, Any]] = []  # (scheduler or scaler, its loaded twin)
        self.rng: Mapping[str, Any] | None = None  # generator states to put back, last
        self.result: dict[str, Any] = {}

    def commit(self) -> dict[str, Any]:
        """Apply everything, or (on any exception, KeyboardInterrupt included, wherever it lands)
        nothing.  The optimizer's, schedulers' and scalers' new attributes were built apart and go
        in by assignment; the model's tensors are copied in place (their identity is what the
        optimizer and handles hold), so their old values are kept aside first and copied back if
        the load does not complete."""
        grad_mode = torch.is_grad_enabled()
        model, optimizer = self.model, self.optimizer
        targets = model.state_dict() if model is not None else {}  # detached views
        saved = {k: t.clone() for k, t in targets.items()}
        previous = (
            {k: optimizer.__dict__.get(k, _MISSING) for k in self.optimizer_changes} if optimizer else {}
        )
        swapped: list[tuple[Any, dict[str, Any]]] = []
        old_rng = rng_state() if self.rng is not None else None
        done = False
        try:
            if model is not None:
                model.load_state_dict(self.model_state, strict=True)
            if self.optimizer_changes:
                optimizer.__dict__.update(self.optimizer_changes)
            for obj, twin in self.twins:
                old = obj.__dict__
                swapped.append((obj, old))
                obj.__dict__ = twin.__dict__
            if self.rng is not None:
                set_rng(self.rng)
            done = True
        finally:
            if not done:
                _undo(targets, saved, optimizer, previous, swapped)
                if old_rng is not None:
                    set_rng(old_rng)
            # torch's load runs under no_grad; an interrupt inside its context manager's exit
            # would leave gradients off for good (a C call: it cannot itself be split)
            torch._C._set_grad_enabled(grad_mode)
        return self.result


def _undo(targets: Mapping, saved: Mapping, optimizer: Any, previous: dict[str, Any], swapped: list) -> None:
    """Put everything back; idempotent, so an interrupt landing here only repeats it."""
    while True:
        try:
            for key, tensor in targets.items():  # detached: no autograd bookkeeping needed
                tensor.copy_(saved[key])
            for key, value in previous.items():
                if value is _MISSING:
                    optimizer.__dict__.pop(key, None)
                else:
                    optimizer.__dict__[key] = value
            for obj, old in swapped:
                obj.__dict__ = old
            return
        except KeyboardInterrupt:
            continue


def prepare(
    path: str,
    data: Mapping[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    names: Mapping[Any, str] | None = None,
    check_options: OptionCheck | None = None,
) -> LoadPlan:
    """Check the checkpoint ``data`` (from :func:`read`) against every target and load each part
    into a twin; returns the plan whose :meth:`LoadPlan.commit` applies it.  Nothing changes here.
    ``names`` maps targets to the names messages use (default "the model", "the optimizer")."""
    names = names or {}
    model = unwrap(model)
    model_name = names.get(id(model), "the model")
    opt_name = names.get(id(optimizer), "the optimizer")
    plan = LoadPlan()
    try:
        check_model_state(data.get("model"), model, model_name)
        classes = data.get("scheduler_classes", []) if schedulers else []
        states = data.get("schedulers", []) if schedulers else []
        if len(classes) != len(schedulers) or len(states) != len(schedulers):
            raise ValueError(
                f"holds {len(classes)} scheduler states, {len(schedulers)} schedulers were given"
            )
        for sched, kind in zip(schedulers, classes):
            if kind != type(sched).__name__:
                raise ValueError(f"holds a {kind} scheduler state where a {type(sched).__name__} was given")
        scaler_states = data.get("scalers", []) if scalers else []
        if len(scaler_states) != len(scalers):
            raise ValueError(
                f"holds {len(scaler_states)} grad scaler states, {len(scalers)} scalers were given"
            )
        check_optimizer(
            data.get("optimizer"), data.get("optimizer_class"), optimizer, opt_name, check_options
        )
        plan.optimizer_changes = _loaded_optimizer(optimizer, data["optimizer"], opt_name)
        groups = plan.optimizer_changes.get("param_groups")
        for sched, saved in zip(schedulers, states):
            if getattr(sched, "optimizer", None) is not optimizer:
                raise ValueError(f"a {type(sched).__name__} scheduler given is not one of {opt_name}")
            twin = train_state.prepare_scheduler(sched, saved, groups)
            plan.twins.extend(train_state.scheduler_parts(sched, twin))  # a composite's schedulers too
        for scaler, saved in zip(scalers, scaler_states):
            twin = train_state.prepare_scaler(scaler, saved)
            if twin is not None:
                plan.twins.append((scaler, twin))
    except ValueError as exc:
        raise _refuse(path, exc) from None
    plan.model, plan.model_state, plan.optimizer = model, data["model"], optimizer
    plan.rng = data.get("rng")
    plan.result = {"epoch": data["epoch"], "loss": float(data["loss"])}
    if "extra" in data:
        plan.result["extra"] = dict(data["extra"])
    return plan


def load(
    path: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    names: Mapping[Any, str] | None = None,
    check_options: OptionCheck | None = None,
) -> dict[str, Any]:
    """Restore ``model``, ``optimizer``, ``schedulers`` and ``scalers`` (in the order they were
    saved) from the checkpoint at ``path``, all of them or (CheckpointError, or any failure while
    applying) none, and the RNG states when the file has them; returns ``{"epoch": int, "loss":
    float}``, with ``"extra"`` (a dict) when extra data was saved."""
    data = read(path)
    plan = prepare(
        path,
        data,
        model,
        optimizer,
        schedulers=schedulers,
        scalers=scalers,
        names=names,
        check_options=check_options,
    )
    return plan.commit()


def load_state_dict(path: str, model: torch.nn.Module, *, name: str = "the model") -> torch.nn.Module:
    """Load a model state-dict file (``.safetensors`` by extension, else ``torch.save`` read with
    ``weights_only``) into ``model``, completely or not at all; returns the model."""
    model = unwrap(model)
    if path.lower().endswith(".safetensors"):
        saved: Any = serialization.load_safetensors(path)
    else:
        saved = serialization.safe_load(path)
    if is_checkpoint(saved):
        raise CheckpointError(path, "is a checkpoint, not a state dict (use torch::load_checkpoint)")
    try:
        check_model_state(saved, model, name)
    except ValueError as exc:
        raise _refuse(path, exc) from None
    plan = LoadPlan()
    plan.model, plan.model_state = model, saved
    plan.commit()
    return model


def _tensor_count(saved: Any) -> tuple[int, int]:
    tensors = [v for v in saved.values() if isinstance(v, torch.Tensor)] if isinstance(saved, Mapping) else []
    return len(tensors), sum(t.numel() for t in tensors)


def info(path: str) -> dict[str, Any]:
    """What a checkpoint or state-dict file holds, read (as :func:`load` reads it) without applying
    it.  A checkpoint: ``kind`` "checkpoint", ``version``, ``epoch``, ``loss``, ``optimizer`` (its
    class), ``learning_rate`` (the first group's), ``steps`` (the largest step count), ``tensors``
    and ``elements`` (of the model state), ``schedulers`` and ``scalers`` (how many states); and
    ``extra`` (the dict) and ``rng`` (True) when the file has extra data or RNG states.
    A state dict: ``kind`` "state_dict", ``tensors``, ``elements``."""
    saved = serialization.safe_load(path)
    if not is_checkpoint(saved):
        if is_state_dict(saved):
            tensors, elements = _tensor_count(saved)
            return {"kind": "state_dict", "tensors": tensors, "elements": elements}
        raise CheckpointError(path, "is not a tcltorch checkpoint or state dict")
    data = checked(path, saved)
    optimizer = data["optimizer"]
    tensors, elements = _tensor_count(data["model"])
    steps = 0
    for entry in optimizer["state"].values():
        step = entry.get("step") if isinstance(entry, Mapping) else None
        if isinstance(step, torch.Tensor) and step.numel() == 1 and not step.is_complex():
            step = step.item()
        if _real(step) and math.isfinite(step):
            steps = max(steps, int(step))
    groups = optimizer["param_groups"]
    lr = groups[0].get("lr") if groups else None
    if isinstance(lr, torch.Tensor) and lr.numel() == 1 and lr.is_floating_point():
        lr = lr.item()
    return {
        "kind": "checkpoint",
        "version": data["version"],
        "epoch": data["epoch"],
        "loss": float(data["loss"]),
        "optimizer": str(data.get("optimizer_class", "")),
        "learning_rate": float(lr) if _real(lr) else 0.0,
        "steps": steps,
        "tensors": tensors,
        "elements": elements,
        "schedulers": len(data.get("schedulers", [])),
        "scalers": len(data.get("scalers", [])),
        **({"extra": dict(data["extra"])} if "extra" in data else {}),
        **({"rng": True} if "rng" in data else {}),
    }
