"""A model summary: every submodule, its output shape for a given input, its parameter count.

Engine code (no Tcl).  Output shapes come from forward hooks during one forward pass, run
under ``torch.no_grad()`` with every module switched to evaluation mode, so the pass
changes nothing (no running statistics, no dropout); each module's mode is restored after.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


def _shape(value: Any) -> Any:
    """A tensor -> its shape as a list; tuples/lists -> lists of those; anything else -> None."""
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [_shape(v) for v in value]
    return None


def _count(module: nn.Module) -> tuple[int, int]:
    total = trainable = 0
    for p in module.parameters():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return total, trainable


def summarize(model: nn.Module, inputs: Sequence[torch.Tensor] = ()) -> dict[str, Any]:
    """Rows ``{name, type, depth, shape, params, trainable}`` for the model and each submodule
    (``shape`` None when no input is given or the module did not run), and the totals."""
    rows: list[dict[str, Any]] = []
    index: dict[int, dict[str, Any]] = {}
    for name, module in model.named_modules():
        total, trainable = _count(module)
        row = {
            "name": name,
            "type": type(module).__name__,
            "depth": 0 if not name else name.count(".") + 1,
            "shape": None,
            "params": total,
            "trainable": trainable,
        }
        rows.append(row)
        index.setdefault(id(module), row)
    if inputs:
        hooks = []
        modes = [(m, m.training) for m in model.modules()]

        def record(module: nn.Module, args: Any, output: Any) -> None:
            row = index.get(id(module))
            if row is not None and row["shape"] is None:
                row["shape"] = _shape(output)

        try:
            for module in model.modules():
                hooks.append(module.register_forward_hook(record))
            model.eval()
            with torch.no_grad():
                model(*inputs)
        finally:
            for hook in hooks:
                hook.remove()
            for module, training in modes:
                module.training = training
    total, trainable = _count(model)
    return {"layers": rows, "total": total, "trainable": trainable, "frozen": total - trainable}


def _shape_text(shape: Any) -> str:
    if shape is None:
        return "-"
    if shape and all(isinstance(s, int) for s in shape):
        return "[" + ", ".join(map(str, shape)) + "]"
    if not shape:
        return "[]"
    return "(" + ", ".join(_shape_text(s) for s in shape) + ")"


def format_table(summary: dict[str, Any], root: str = "model") -> str:
    """The summary as a fixed-width text table followed by the parameter totals."""
    lines = []
    for row in summary["layers"]:
        label = ("  " * row["depth"]) + (row["name"].rsplit(".", 1)[-1] if row["name"] else root)
        lines.append((f"{label} ({row['type']})", _shape_text(row["shape"]), f"{row['params']:,}"))
    header = ("Layer (type)", "Output Shape", "Param #")
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(3)]

    def fmt(r: tuple[str, str, str]) -> str:
        return f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}".rstrip()

    rule = "=" * (sum(widths) + 4)
    out = [fmt(header), rule, *[fmt(r) for r in lines], rule]
    out.append(f"Total parameters: {summary['total']:,}")
    out.append(f"Trainable parameters: {summary['trainable']:,}")
    out.append(f"Non-trainable parameters: {summary['frozen']:,}")
    return "\n".join(out)
