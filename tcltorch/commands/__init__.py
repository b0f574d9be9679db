"""The ``torch::`` commands: one spec plus a short function each (see spec.py).

Every module of this package (and of its sub-packages, one per family) that
declares commands registers them on import; :func:`load_all` imports them all,
so a new family is a new file and nothing else."""

from __future__ import annotations

import importlib
import pkgutil

from tcltorch.commands.spec import REGISTRY, Command

_NOT_COMMANDS = {"spec"}
_loaded = False


def _module_names() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if info.name.rsplit(".", 1)[-1].startswith("_") or info.name.rsplit(".", 1)[-1] in _NOT_COMMANDS:
            continue
        names.append(info.name)
    return sorted(names)


def load_all() -> dict[str, Command]:
    global _loaded
    if not _loaded:
        for name in _module_names():
            importlib.import_module(name)
        _loaded = True
    return REGISTRY
