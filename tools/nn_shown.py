"""Record what the examples of the layer/loss tables print (tcltorch/commands/nn/shown.json).

    python tools/nn_shown.py            # rerun every example in tcltorch.commands.nn._dual.DOCS
    python tools/nn_shown.py NAME ...   # only these commands

Each example runs in a fresh interpreter (as tests/test_docs.py runs a page); the value of each
``puts`` line is stored in order, and the pages (tools/gen_docs.py) show it as ``;# -> ...``.
Then regenerate the pages: ``python tools/gen_docs.py NAME ...``."""

from __future__ import annotations

import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import tcltorch
from tcltorch.commands import load_all
from tcltorch.commands.nn import _dual


def shown(example: str) -> list[str]:
    interp = tcltorch.Interp()
    interp.eval("set ::__shown {}")
    out: list[str] = []
    command = ""
    for line in example.split("\n"):
        command = f"{command}\n{line}" if command else line
        if interp.eval(f"info complete {{{command}}}") != "1":
            continue
        if command.startswith("puts "):
            out.append(interp.eval(f"lindex [list {command[5:]}] end"))
        else:
            interp.eval(command)
        command = ""
    return out


def main(names: list[str]) -> None:
    load_all()
    data = json.loads(_dual.SHOWN_FILE.read_text(encoding="utf-8")) if _dual.SHOWN_FILE.exists() else {}
    for name in names or sorted(_dual.DOCS):
        data[name] = shown(_dual.DOCS[name]["example"])
        print(name, data[name])
    _dual.SHOWN_FILE.write_text(json.dumps(dict(sorted(data.items())), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
