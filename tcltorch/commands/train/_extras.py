"""Keras's options shared by every optimizer command, and torch::optimizer_finalize.

The options are declared once here (``EXTRA_OPTIONS``); an optimizer command lists them
after its own and wraps its function with :func:`with_extras`.  The work happens in
:mod:`tcltorch.optim.extras`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tcltorch.commands.spec import Bool, Double, Int, Opt
from tcltorch.errors import invalid_value
from tcltorch.optim import extras

EXTRA_OPTIONS = [
    Opt(
        "clipNorm",
        Double(gt=0),
        None,
        "clip each gradient to this norm: g*c/max(||g||, c) (Keras clipnorm)",
        positional=False,
        aliases=("clipnorm",),
    ),
    Opt(
        "clipValue",
        Double(gt=0),
        None,
        "clamp each gradient element to [-v, v] (Keras clipvalue)",
        positional=False,
        aliases=("clipvalue",),
    ),
    Opt(
        "globalClipNorm",
        Double(gt=0),
        None,
        "scale all gradients together to this global norm at most (Keras global_clipnorm)",
        positional=False,
        aliases=("global_clipnorm", "globalClipnorm"),
    ),
    Opt(
        "useEma",
        Bool(),
        False,
        "keep an exponential moving average of the parameters (Keras use_ema)",
        positional=False,
        aliases=("use_ema",),
    ),
    Opt(
        "emaMomentum",
        Double(ge=0, le=1),
        0.99,
        "momentum m of the average: a = m*a + (1-m)*x",
        positional=False,
        aliases=("ema_momentum",),
    ),
    Opt(
        "emaOverwriteFrequency",
        Int(ge=0),
        0,
        "with -useEma, set the parameters to their averages every N steps (0: never)",
        positional=False,
        aliases=("ema_overwrite_frequency",),
    ),
    Opt(
        "skipNonFinite",
        Bool(),
        False,
        "a parameter whose gradient has a NaN or Inf keeps its value and state that step",
        positional=False,
    ),
]


_KEYS = {o.py_name: o for o in EXTRA_OPTIONS}


_FLAGS = {"clip_norm": "-clipNorm", "clip_value": "-clipValue", "global_clip_norm": "-globalClipNorm"}


def split_extras(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Pop the extra options out of a command's keyword arguments, validated."""
    options = {k: kwargs.pop(k) for k in list(kwargs) if k in _KEYS}
    clips = [k for k in _FLAGS if options.get(k) is not None]
    if len(clips) > 1:
        raise invalid_value(
            _FLAGS[clips[1]],
            str(options[clips[1]]),
            f"only one of -clipNorm, -clipValue and -globalClipNorm can be set ({_FLAGS[clips[0]]} is)",
        )
    if options.get("ema_overwrite_frequency") == 0:
        options["ema_overwrite_frequency"] = None
    return options


def attach_extras(optimizer: Any, options: dict[str, Any]) -> Any:
    if extras.is_active(options):
        if options.get("skip_non_finite") and type(optimizer).__name__ == "LBFGS":
            raise invalid_value(
                "-skipNonFinite", "1", "LBFGS cannot skip a step (its line search re-evaluates)"
            )
        extras.attach(optimizer, **options)
    return optimizer


def with_extras(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an optimizer command's function: it never sees the extra options."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        options = split_extras(kwargs)
        if options.get("skip_non_finite") and fn.__name__ == "optimizer_lbfgs":
            raise invalid_value(
                "-skipNonFinite", "1", "LBFGS cannot skip a step (its line search re-evaluates)"
            )
        optimizer = attach_extras(fn(**kwargs), options)
        adopt = getattr(kwargs.get("parameters"), "adopt", None)
        if adopt is not None:  # only now do directly given tensors become trainable
            adopt()
        return optimizer

    return wrapper


EXTRAS_DOC = (
    "Every optimizer command also takes Keras's options, applied inside `torch::optimizer_step` without a "
    "host sync: `-clipNorm` (each gradient scaled to that norm at most), `-globalClipNorm` (all gradients "
    "together), `-clipValue` (elementwise clamp), at most one of the three; `-useEma` keeps an exponential "
    "moving average of every parameter (`-emaMomentum`, 0.99; the first step copies the parameter), written "
    "into the parameters every `-emaOverwriteFrequency` steps and by `torch::optimizer_finalize`; the "
    "averages are optimizer state (`ema`), counted by `torch::optimizer_info` and saved in checkpoints. "
    "`-skipNonFinite 1`: a parameter whose gradient holds a NaN or Inf keeps its value and its tensor "
    "state for that step (decided on the device), and its gradient does not enter the global norm; on the "
    "CPU its step counter is kept too (elsewhere a counter held as a Python number still counts the step)."
)
