"""How many of the other implementation's commands exist here.

    python tools/peer_coverage.py            # totals per family
    python tools/peer_coverage.py --missing  # also list the missing names

A peer command counts as present when its snake_case name or any of its
aliases is a torch:: name here (a command or one of its aliases)."""

from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PEER = ROOT / "docs" / "research" / "peer_commands.txt"


def peer_families() -> dict[str, list[list[str]]]:
    families: dict[str, list[list[str]]] = {}
    family = ""
    for line in PEER.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            family = line[3:].rsplit(" (", 1)[0]
            families[family] = []
        elif line.startswith("  ") and line.strip():
            families[family].append(line.split())
    return families


def our_names() -> set[str]:
    sys.path.insert(0, str(ROOT))
    from tcltorch.commands import load_all

    names: set[str] = set()
    for cmd in load_all().values():
        names.update(cmd.names)
    return names


def coverage() -> tuple[int, int, dict[str, tuple[int, int, list[str]]]]:
    ours = our_names()
    report = {}
    have = total = 0
    for family, handlers in peer_families().items():
        missing = [h[0] for h in handlers if not any(n in ours for n in h)]
        report[family] = (len(handlers) - len(missing), len(handlers), missing)
        have += len(handlers) - len(missing)
        total += len(handlers)
    return have, total, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--missing", action="store_true", help="list missing names per family")
    args = parser.parse_args()
    have, total, report = coverage()
    for family, (got, n, missing) in report.items():
        print(f"{got:4d}/{n:<4d} {family}")
        if args.missing and missing:
            print("          missing: " + " ".join(missing))
    print(f"{have}/{total} = {100 * have / total:.1f}%")


if __name__ == "__main__":
    main()
