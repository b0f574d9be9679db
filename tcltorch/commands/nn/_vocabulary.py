"""Value types and builders shared by the nn families: floating dtypes for parameters, module
lists, normalized shapes, kernel sizes, and the factory that turns a command's options into a
``torch.nn`` module on the requested device and dtype."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tcltorch.commands.spec import (
    Custom,
    DType,
    Handle,
    Opt,
    Shape,
    parse_tcl_int,
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
        values = [parse_tcl_int(w) for w in words]
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
