"""Print every command's spec (name, aliases, options with type, default and slot) as sorted JSON.

Used to show that a refactoring keeps the command set and every option unchanged:
``python tools/dump_specs.py > before.json`` ... ``diff before.json after.json``."""

from __future__ import annotations

import json
import sys

from tcltorch.commands import load_all


def _describe(cmd) -> dict:
    out = {
        "aliases": sorted(cmd.aliases),
        "options": [
            {
                "name": o.name,
                "type": type(o.type).__name__,
                "default": repr(o.default) if not callable(o.default) else "<factory>",
                "positional": o.positional,
                "aliases": list(o.aliases),
                "rest": o.rest,
                "last": o.last,
            }
            for o in cmd.options
        ],
    }
    for form in ("first", "other"):
        sub = getattr(cmd, form, None)
        if sub is not None and hasattr(sub, "options"):
            out[form] = _describe(sub)
    return out


def main() -> None:
    registry = load_all()
    json.dump(
        {name: _describe(cmd) for name, cmd in sorted(registry.items())}, sys.stdout, indent=1, sort_keys=True
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
