"""Bridge overhead: µs per call of a trivial torch:: command, from tclsh and from the
Python host, against the same operation done directly in Python.

    python benchmarks/bridge_overhead.py [--calls N]

Prints µs/call for each way in and the difference ("added per command"), which is
what the bridge costs: Tcl dispatch, argument conversion, spec parsing, handle
lookup and result conversion.  Target: under 3 µs added per command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import timeit

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tcltorch  # noqa: E402
from tcltorch.__main__ import tcl_path  # noqa: E402

TCL_LOOP = """
set t [torch::zeros {{2 3}}]
set r {{}}
foreach cmd {{
    {{set x 1}}
    {{torch::tensor_shape $t}}
    {{torch::tensor_dtype $t}}
    {{torch::tensor_shape -input $t}}
}} {{
    set best 1e9
    for {{set rep 0}} {{$rep < 5}} {{incr rep}} {{
        set us [lindex [time $cmd {calls}] 0]
        if {{$us < $best}} {{set best $us}}
    }}
    lappend r $best
}}
set r
"""


def python_direct(calls: int) -> dict[str, float]:
    t = torch.zeros(2, 3)
    out = {}
    for label, fn in (("shape", lambda: list(t.shape)), ("dtype", lambda: str(t.dtype).replace("torch.", ""))):
        best = min(timeit.repeat(fn, number=calls, repeat=5))
        out[label] = best / calls * 1e6
    return out


def tclsh_times(calls: int) -> list[float]:
    script = "package require tcltorch\nputs [apply {{} {" + TCL_LOOP.format(calls=calls) + "}}]\n"
    env = dict(os.environ, TCLLIBPATH=tcl_path())
    proc = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, env=env, check=True)
    return [float(x) for x in proc.stdout.split()]


def python_host_times(calls: int) -> tuple[list[float], float]:
    interp = tcltorch.Interp()
    in_tcl = [float(x) for x in interp.eval("apply {{} {" + TCL_LOOP.format(calls=calls) + "}}").split()]
    handle = interp.eval("torch::zeros {2 3}")
    best = min(timeit.repeat(lambda: interp.call("torch::tensor_shape", handle), number=calls // 4, repeat=5))
    return in_tcl, best / (calls // 4) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    direct = python_direct(args.calls)
    tclsh = tclsh_times(args.calls)
    host, call_from_python = python_host_times(args.calls)
    rows = [
        ("Tcl builtin `set x 1` (floor)", tclsh[0], host[0], None),
        ("torch::tensor_shape $t", tclsh[1], host[1], direct["shape"]),
        ("torch::tensor_dtype $t", tclsh[2], host[2], direct["dtype"]),
        ("torch::tensor_shape -input $t", tclsh[3], host[3], direct["shape"]),
    ]
    print(f"µs per call, best of 5 x {args.calls} calls ({torch.__version__}, {os.cpu_count()} cores)")
    print(f"{'command':34} {'tclsh':>8} {'py-host':>8} {'python':>8} {'added(tclsh)':>13} {'added(host)':>12}")
    for label, a, b, base in rows:
        if base is None:
            print(f"{label:34} {a:8.3f} {b:8.3f} {'':>8}")
        else:
            print(f"{label:34} {a:8.3f} {b:8.3f} {base:8.3f} {a - base:13.3f} {b - base:12.3f}")
    print(f"interp.call('torch::tensor_shape', h) from Python: {call_from_python:.3f} µs")
    added = max(tclsh[1] - direct["shape"], host[1] - direct["shape"])
    print(f"added per command (tensor_shape, worst host): {added:.2f} µs  (target < 3 µs)")


if __name__ == "__main__":
    main()
