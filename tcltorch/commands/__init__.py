"""The ``torch::`` commands: one spec plus a short function each (see spec.py)."""

from __future__ import annotations

import importlib

from tcltorch.commands.spec import REGISTRY, Command

# Modules that declare commands; each registers itself on import.
MODULES = ["core", "tensors", "tensor_ops", "optimizers", "adafactor", "io", "modules", "losses"]


def load_all() -> dict[str, Command]:
    for name in MODULES:
        importlib.import_module(f"tcltorch.commands.{name}")
    return REGISTRY
