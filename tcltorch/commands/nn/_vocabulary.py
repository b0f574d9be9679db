"""Value types and builders shared by the nn families: floating dtypes for parameters, module
lists, normalized shapes, kernel sizes, and the factory that turns a command's options into a
``torch.nn`` module on the requested device and dtype."""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from tcltorch.commands.spec import (
    Custom,
    DType,
    Handle,
    Opt,
    Shape,
    parse_int64,
)
from tcltorch.commands.vocabulary import _device, _dtype, tensor_opt
from tcltorch.errors import TclError, invalid_value

FLOAT_DTYPE_REQUIREMENT = (
    "must be a floating-point dtype: float32, float64, float16 or bfloat16 (or float, double, half)"
)


_DTYPE = DType()


def _float_dtype(text: str, option: str, ctx: Any) -> torch.dtype:
    try:
        dtype = _DTYPE.convert(text, option, ctx)
    except TclError:
        raise invalid_value(option, text, FLOAT_DTYPE_REQUIREMENT) from None
    if not dtype.is_floating_point:
        raise invalid_value(option, text, FLOAT_DTYPE_REQUIREMENT)
    return dtype


FloatDType = Custom(_float_dtype, "dtype", FLOAT_DTYPE_REQUIREMENT)


def _int_pair(least: int, noun: str, extra: tuple[str, ...] = ()) -> Custom:
    """An integer >= least, or a list of two (height, width); optionally some keywords."""
    requirement = f"must be {noun} integer or a list of two"
    if extra:
        requirement += ", or " + " or ".join(extra)

    def convert(text: str, option: str, ctx: Any) -> int | tuple[int, int] | str:
        if text.strip() in extra:
            return text.strip()
        words = ctx.split(text, option)
        values = [parse_int64(w) for w in words]
        if len(values) not in (1, 2) or any(v is None or v < least for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else (values[0], values[1])  # type: ignore[return-value]

    return Custom(convert, "integer or {h w}", requirement)


def _module_list(text: str, option: str, ctx: Any) -> list[nn.Module]:
    return [ctx.handles.get(word, "module") for word in ctx.split(text, option)]


ModuleList = Custom(_module_list, "module handles", "must be a list of module handles")


def _normalized_shape(text: str, option: str, ctx: Any) -> tuple[int, ...]:
    dims = Shape().convert(text, option, ctx) if text.strip() else ()
    if not dims or any(d < 1 for d in dims):
        raise invalid_value(option, text, "must be a non-empty list of positive integers")
    return dims


NormalizedShape = Custom(
    _normalized_shape, "list of integers", "must be a non-empty list of positive integers"
)


def _param_device(
    help: str = "device of the parameters: cpu, cuda or cuda:N", default_doc: str = "cpu"
) -> Opt:
    """``-device`` of a layer's parameters (named only)."""
    return _device(help, positional=False, default_doc=default_doc)


def _param_dtype(default_doc: str = "float32") -> Opt:
    """``-dtype`` of a layer's parameters: floating-point only, named only."""
    return _dtype(
        None,
        "floating-point dtype of the parameters",
        type=FloatDType,
        positional=False,
        default_doc=default_doc,
    )


def _target(help: str = "target tensor handle, same shape as the input") -> Opt:
    """A loss's ``-target``."""
    return tensor_opt("target", help)


def _module(name: str = "model", help: str = "module handle") -> Opt:
    others = tuple(a for a in ("model", "module", "layer") if a != name)
    return Opt(name, Handle("module"), help=help, aliases=others)


def factory_kwargs(device: torch.device | None, dtype: torch.dtype | None) -> dict[str, Any]:
    return {"device": device, "dtype": dtype}


_KERNEL = _int_pair(1, "a positive")


MAX_LAYER_COPIES = 10_000  # far beyond any real stack; a typo such as 2^63 fails at once


def available_bytes(device: torch.device | None) -> int | None:
    """Memory free for new tensors on ``device`` (CPU: the machine's free pages); None when unknown."""
    if device is not None and device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def module_bytes(module: nn.Module) -> int:
    """Bytes held by a module's parameters and buffers."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def check_layer_copies(option: str, count: int, bytes_each: int, device: torch.device | None) -> None:
    """Refuse ``count`` layer copies of ``bytes_each`` bytes before building them: more than
    MAX_LAYER_COPIES, or more than the memory free on the device."""
    if count > MAX_LAYER_COPIES:
        raise invalid_value(option, str(count), f"must be an integer from 1 to {MAX_LAYER_COPIES}")
    need, free = count * bytes_each, available_bytes(device)
    if free is not None and need > free:
        raise TclError(
            f'invalid {option} "{count}": {count} layers of {bytes_each} bytes each need {need} bytes, '
            f"more than the {free} bytes of memory free",
            ["TORCH", "VALUE", option],
        )
