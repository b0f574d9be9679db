"""Mixed precision: autocast (as a script, or the other implementation's global
switches) and gradient scaling with torch.amp.GradScaler, on the CPU and CUDA."""

from __future__ import annotations

from typing import Any

import torch
from torch.amp.grad_scaler import OptState

from tcltorch.commands.runtime.core import scoped_eval
from tcltorch.commands.spec import Bool, Custom, Double, Handle, Int, Opt, Script, command, dtype_name
from tcltorch.errors import TclError, invalid_value
from tcltorch.handles import register_kind

FAMILY = "train/amp"

register_kind(torch.amp.GradScaler, "scaler")


_AMP_DTYPES = {
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float": torch.float32,
}


_AMP_REQUIREMENT = "must be float16, bfloat16 or float32"


def _amp_dtype(text: str, option: str, ctx: Any) -> torch.dtype:
    dtype = _AMP_DTYPES.get(text.strip().lower())
    if dtype is None:
        raise invalid_value(option, text, _AMP_REQUIREMENT)
    return dtype


AmpDType = Custom(_amp_dtype, "dtype", _AMP_REQUIREMENT)


def _device_type(text: str, option: str, ctx: Any) -> str:
    kind = text.strip().lower()
    if kind not in ("cpu", "cuda"):
        raise invalid_value(option, text, "must be cpu or cuda")
    if kind == "cuda" and not torch.cuda.is_available():
        raise invalid_value(option, text, "CUDA is not available on this machine")
    return kind


DeviceType = Custom(_device_type, "cpu|cuda", "must be cpu or cuda")


def _device_type_opt(default: str | None) -> Opt:
    return Opt(
        "deviceType",
        DeviceType,
        default=default,
        aliases=("device_type", "device"),
        help="cpu or cuda"
        + (f" (default {default})" if default else " (default: cuda when available, else cpu)"),
    )


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@command(
    "autocast",
    _device_type_opt(None),
    Opt(
        "dtype",
        AmpDType,
        default=None,
        aliases=("data_type",),
        help="lower-precision type (default: bfloat16 on the CPU, float16 on CUDA)",
    ),
    Opt("enabled", Bool(), default=True, help="0 runs the script with autocast off"),
    Opt(
        "cacheEnabled",
        Bool(),
        default=True,
        help="cache casted weights inside the region",
        aliases=("cache_enabled",),
    ),
    Opt(
        "script", Script(), last=True, help="script run with autocast; the previous state returns afterwards"
    ),
    context=True,
)
def autocast(device_type, dtype, enabled, cache_enabled, script, ctx):
    """Run a script under torch.autocast: eligible operations compute in a lower precision.

    Matrix products, convolutions and the like run in `-dtype` (bfloat16 on the CPU and float16 on
    CUDA by default) while numerically sensitive operations stay in float32, exactly as
    `torch.autocast` decides. The options come first and the script last, as in Tcl's own
    commands. The script runs like `torch::scope`'s (handles it makes are freed except those in its
    result) and the previous autocast state returns on every way out: error, `return`, `break`.

    ## Return Value

    The script's result.

    Examples:
        set a [torch::randn {4 4}]
        puts [torch::autocast -deviceType cpu { torch::tensor_dtype [torch::tensor_matmul $a $a] }]   ;# -> bfloat16
        puts [torch::tensor_dtype [torch::tensor_matmul $a $a]]   ;# -> float32
    """
    device_type = device_type or _default_device()
    with torch.autocast(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled):
        return scoped_eval(ctx, script)


@command(
    "autocast_enable",
    _device_type_opt("cuda"),
    Opt(
        "dtype",
        AmpDType,
        default=None,
        aliases=("data_type",),
        help="lower-precision type (default: the device's current autocast dtype)",
    ),
)
def autocast_enable(device_type, dtype):
    """Turn autocast on for a device for the rest of the session (the other implementation's form).

    Prefer `torch::autocast script`, which restores the previous state. The device defaults to
    `cuda`, as in the other implementation; without CUDA that is an error, never a silent switch to
    the CPU.

    ## Return Value

    An empty string.

    Examples:
        torch::autocast_enable cpu bfloat16
        puts [torch::autocast_is_enabled cpu]   ;# -> 1
        torch::autocast_disable cpu
    """
    _device_type(device_type, "-deviceType", None)
    if dtype is not None:
        torch.set_autocast_dtype(device_type, dtype)
    torch.set_autocast_enabled(device_type, True)


@command(
    "autocast_disable",
    _device_type_opt("cuda"),
)
def autocast_disable(device_type):
    """Turn autocast off for a device.

    ## Return Value

    An empty string.

    Examples:
        torch::autocast_enable cpu
        torch::autocast_disable cpu
        puts [torch::autocast_is_enabled cpu]   ;# -> 0
    """
    _device_type(device_type, "-deviceType", None)
    torch.set_autocast_enabled(device_type, False)


@command(
    "autocast_is_enabled",
    _device_type_opt("cuda"),
)
def autocast_is_enabled(device_type):
    """1 when autocast is on for the device, else 0.

    ## Return Value

    A boolean.

    Examples:
        puts [torch::autocast_is_enabled cpu]   ;# -> 0
        puts [torch::autocast -deviceType cpu { torch::autocast_is_enabled cpu }]   ;# -> 1
    """
    return torch.is_autocast_enabled(device_type)


@command(
    "autocast_set_dtype",
    Opt("dtype", AmpDType, aliases=("data_type",), help="float16, bfloat16 or float32"),
    _device_type_opt("cuda"),
)
def autocast_set_dtype(dtype, device_type):
    """Set the dtype autocast uses on a device; returns it.

    ## Return Value

    The dtype's name.

    Examples:
        puts [torch::autocast_set_dtype bfloat16 cpu]   ;# -> bfloat16
    """
    _device_type(device_type, "-deviceType", None)
    torch.set_autocast_dtype(device_type, dtype)
    return dtype_name(torch.get_autocast_dtype(device_type))


@command(
    "grad_scaler_new",
    Opt("initScale", Double(gt=0), default=65536.0, help="first scale factor", aliases=("init_scale",)),
    Opt(
        "growthFactor",
        Double(gt=1),
        default=2.0,
        help="scale multiplier after -growthInterval good steps",
        aliases=("growth_factor",),
    ),
    Opt(
        "backoffFactor",
        Double(gt=0, lt=1),
        default=0.5,
        help="scale multiplier after a step with Inf/NaN",
        aliases=("backoff_factor",),
    ),
    Opt(
        "growthInterval",
        Int(ge=1),
        default=2000,
        help="good steps before the scale grows",
        aliases=("growth_interval",),
    ),
    Opt("enabled", Bool(), default=True, help="0 makes every call a pass-through"),
    _device_type_opt(None),
)
def grad_scaler_new(init_scale, growth_factor, backoff_factor, growth_interval, enabled, device_type):
    """A gradient scaler (torch.amp.GradScaler) for mixed-precision training.

    Scaling the loss before backward keeps small float16 gradients from flushing to zero;
    `grad_scaler_step` unscales them, skips the step when they hold Inf or NaN, and
    `grad_scaler_update` lowers the scale after such a step and raises it after
    `-growthInterval` good ones. Works on the CPU and on CUDA.

    ## Return Value

    A scaler handle (`scalerN`).

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set scaler [torch::grad_scaler_new -initScale 8 -deviceType cpu]
        set loss [torch::tensor_sum [torch::tensor_mul $w $w]]
        torch::tensor_backward [torch::grad_scaler_scale $scaler $loss]
        puts [torch::tensor_to_list [torch::tensor_grad $w]]   ;# -> 16.0 16.0
        puts [torch::grad_scaler_step $scaler $opt]            ;# -> 1
        puts [torch::grad_scaler_update $scaler]               ;# -> 8.0
        puts [torch::tensor_to_list $w]                        ;# -> 0.8 0.8
    """
    return torch.amp.GradScaler(
        device_type or _default_device(),
        init_scale=init_scale,
        growth_factor=growth_factor,
        backoff_factor=backoff_factor,
        growth_interval=growth_interval,
        enabled=enabled,
    )


def _scaler() -> Opt:
    return Opt(
        "scaler",
        Handle("scaler"),
        help="grad scaler handle",
        aliases=("gradScaler", "grad_scaler", "gradscaler"),
    )


@command(
    "grad_scaler_scale",
    _scaler(),
    Opt("tensor", Handle("tensor"), help="loss to scale", aliases=("outputs", "input", "loss")),
)
def grad_scaler_scale(scaler, tensor):
    """The loss multiplied by the scaler's current scale: backpropagate this one.

    ## Return Value

    A new tensor handle.

    Examples:
        set scaler [torch::grad_scaler_new -initScale 4 -deviceType cpu]
        puts [torch::tensor_to_list [torch::grad_scaler_scale $scaler [torch::tensor_create {1.5}]]]   ;# -> 6.0
    """
    return scaler.scale(tensor)


@command(
    "grad_scaler_unscale",
    _scaler(),
    Opt(
        "optimizer",
        Handle("optimizer"),
        help="optimizer whose gradients to unscale in place",
        aliases=("optim",),
    ),
)
def grad_scaler_unscale(scaler, optimizer):
    """Divide an optimizer's gradients by the scale, in place: do it before clipping them.

    `grad_scaler_step` then does not unscale them a second time.

    ## Return Value

    An empty string.

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set scaler [torch::grad_scaler_new -initScale 4 -deviceType cpu]
        torch::tensor_backward [torch::grad_scaler_scale $scaler [torch::tensor_sum $w]]
        torch::grad_scaler_unscale $scaler $opt
        puts [torch::tensor_to_list [torch::tensor_grad $w]]   ;# -> 1.0 1.0
    """
    scaler.unscale_(optimizer)


def _rescale(optimizer: torch.optim.Optimizer, scale: torch.Tensor) -> None:
    """Undo GradScaler.unscale_ on an optimizer's gradients (multiply them by the scale again)."""
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                values = g._values() if g.is_sparse else g
                values.mul_(scale.to(device=values.device, dtype=values.dtype))


@command(
    "grad_scaler_step",
    _scaler(),
    Opt("optimizer", Handle("optimizer"), help="optimizer to step", aliases=("optim",)),
    context=True,
)
def grad_scaler_step(scaler, optimizer, ctx):
    """Unscale the gradients and step the optimizer, skipping the step when they hold Inf or NaN.

    ## Return Value

    1 when the optimizer stepped, 0 when the step was skipped.

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set scaler [torch::grad_scaler_new -deviceType cpu]
        set loss [torch::tensor_mul [torch::tensor_sum $w] Inf]
        torch::tensor_backward [torch::grad_scaler_scale $scaler $loss]
        puts [torch::grad_scaler_step $scaler $opt]   ;# -> 0
        puts [torch::tensor_to_list $w]               ;# -> 1.0 1.0
    """
    from tcltorch.commands.train.optimizers import after_step, check_step, step_error

    if isinstance(optimizer, torch.optim.LBFGS):
        name = ctx.handles.name_of(optimizer) or "the optimizer"
        raise TclError(
            f"{name} is L-BFGS, which grad_scaler_step cannot step: its step re-evaluates the loss "
            "(use torch::optimizer_step -closure, without a grad scaler)",
            ["TORCH", "STEP"],
        )
    if not scaler.is_enabled():
        check_step(optimizer, ctx)
        try:
            optimizer.step()
        except BaseException as exc:
            raise step_error(exc, optimizer, ctx) from exc
        after_step(optimizer)
        return True
    if scaler._scale is None:
        raise TclError(
            "grad_scaler_step before any grad_scaler_scale: scale the loss and call "
            "torch::tensor_backward first",
            ["TORCH", "STATE"],
        )
    check_step(optimizer, ctx)  # the refusals that need no unscaling come first: nothing changes
    states = scaler._per_optimizer_states
    had = id(optimizer) in states
    before = dict(states[id(optimizer)]) if had else None
    unscales = before is None or before["stage"] is OptState.READY
    try:
        scaler.step(optimizer)
    except BaseException as exc:
        # nothing half-changed: gradients scaled again and the stage as it was, so that the
        # next grad_scaler_unscale / grad_scaler_step works
        now = states.get(id(optimizer))
        if unscales and now is not None and now["stage"] is not OptState.READY:
            _rescale(optimizer, scaler._scale)
        if had:
            states[id(optimizer)] = before
        else:
            states.pop(id(optimizer), None)
        raise step_error(exc, optimizer, ctx) from exc
    found = states[id(optimizer)]["found_inf_per_device"]
    stepped = not any(bool(v.item()) for v in found.values())
    if stepped:  # the state this step left is what the next check_step compares with
        after_step(optimizer)
    return stepped


@command(
    "grad_scaler_update",
    _scaler(),
    Opt(
        "newScale",
        Double(gt=0),
        default=None,
        help="set this scale instead of the automatic update",
        aliases=("new_scale",),
    ),
)
def grad_scaler_update(scaler, new_scale):
    """Update the scale after a step: back off after Inf/NaN, grow after enough good steps.

    ## Return Value

    The new scale.

    Examples:
        set w [torch::ones {1} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set scaler [torch::grad_scaler_new -initScale 2 -growthInterval 1 -deviceType cpu]
        torch::tensor_backward [torch::grad_scaler_scale $scaler [torch::tensor_sum $w]]
        torch::grad_scaler_step $scaler $opt
        puts [torch::grad_scaler_update $scaler]   ;# -> 4.0
    """
    if scaler.is_enabled() and scaler._scale is None:
        raise TclError("grad_scaler_update before any grad_scaler_scale", ["TORCH", "STATE"])
    scaler.update(new_scale)
    return scaler.get_scale()


@command(
    "grad_scaler_get_scale",
    _scaler(),
)
def grad_scaler_get_scale(scaler):
    """The scaler's current scale factor.

    ## Return Value

    A double.

    Examples:
        puts [torch::grad_scaler_get_scale [torch::grad_scaler_new -deviceType cpu]]   ;# -> 65536.0
    """
    return float(scaler.get_scale())
