"""Bridge overhead: µs per call of a trivial torch:: command, from tclsh and from the
Python host, against the same operation done directly in Python.

    python benchmarks/bridge_overhead.py [--calls N]

Prints µs/call for each way in and the difference ("added per command"), which is
what the bridge costs: Tcl dispatch, argument conversion, spec parsing, handle
lookup and result conversion.  Target: under 3 µs added per command.

Two figures: commands that create nothing (tensor_shape), and commands that make a
tensor (``torch::tensor_add $a $b`` on 4x4, results freed by ``torch::scope`` as a
training loop frees them) against ``torch.add(a, b)``.  Then bulk conversion in one
process side by side (Python host): ``tensor_create`` of a 10^6-number Tcl list against
``torch.tensor(list)``, ``tensor_to_list`` of 10^6 float32/float64 values against
``tolist()`` (targets: at most 2x), and the same lists with their text made (what a
script that prints them pays) against ``[repr(v) for v in t.tolist()]``.  ``--bulk 0``
skips that part.  Every figure is the best of several short chunks, and in the Python
host a chunk of Tcl commands is timed next to a chunk of the same torch calls: shared
machines run in slow and fast spells.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import timeit
from typing import Any

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tcltorch
from tcltorch.paths import tcl_path

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


CREATE_LOOP = """
set a [torch::ones {{4 4}}]
set b [torch::ones {{4 4}}]
set best 1e9
for {{set rep 0}} {{$rep < {reps}}} {{incr rep}} {{
    set us [lindex [time {{torch::scope {{
        for {{set i 0}} {{$i < 100}} {{incr i}} {{ torch::tensor_add $a $b }}
    }}}} {rounds}] 0]
    if {{$us < $best}} {{set best $us}}
}}
set loop 1e9
for {{set rep 0}} {{$rep < 5}} {{incr rep}} {{
    set us [lindex [time {{for {{set i 0}} {{$i < 100}} {{incr i}} {{ set x $a }}}} {rounds}] 0]
    if {{$us < $loop}} {{set loop $us}}
}}
list [expr {{$best / 100.0}}] [expr {{$loop / 100.0}}]
"""

# Shared 2-core machines run in slow and fast spells (a neighbour on the same physical
# core): every figure is the best of many short chunks, and in the Python host each
# chunk of Tcl commands is timed next to a chunk of the same torch calls.
CREATE_REPS = 15


def creating(calls: int) -> tuple[float, float, float, float]:
    """(tclsh, py-host, torch.add) µs per tensor_add in a scope, and the Tcl loop's own cost."""
    rounds = max(calls // (100 * 3), 10)
    env = dict(os.environ, TCLLIBPATH=tcl_path())
    script = CREATE_LOOP.format(rounds=rounds, reps=CREATE_REPS)
    full = "package require tcltorch\nputs [apply {{} {" + script + "}}]\n"
    proc = subprocess.run(["tclsh"], input=full, capture_output=True, text=True, env=env, check=True)
    tclsh, loop = (float(x) for x in proc.stdout.split())
    interp = tcltorch.Interp()
    one = CREATE_LOOP.format(rounds=rounds, reps=1)
    a, b = torch.ones(4, 4), torch.ones(4, 4)

    def direct() -> None:
        for _ in range(100):
            torch.add(a, b)

    host = base = 1e9
    for _ in range(CREATE_REPS):  # interleaved: a chunk of Tcl commands, then the same torch calls
        host = min(host, float(interp.eval("apply {{} {" + one + "}}").split()[0]))
        base = min(base, timeit.timeit(direct, number=rounds) / (rounds * 100) * 1e6)
    return tclsh, host, base, loop


def _best_ms(fn: Any, repeat: int = 3) -> float:
    best = 1e9
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def bulk(n: int) -> list[tuple[str, float, float]]:
    """(label, tcltorch ms, torch ms) for the bulk conversions, one process side by side."""
    interp = tcltorch.Interp()
    interp.eval(f"set l {{}}; for {{set i 0}} {{$i < {n}}} {{incr i}} {{lappend l [expr {{rand()}}]}}; list")
    values = [float(v) for v in interp.eval("set l").split()]
    t32 = torch.rand(n)
    t64 = t32.double()
    h32, h64 = interp.put(t32), interp.put(t64)
    return [
        (
            f"tensor_create of {n} numbers vs torch.tensor(list)",
            _best_ms(lambda: interp.eval("torch::scope {torch::tensor_create $l -dtype float64}; list")),
            _best_ms(lambda: torch.tensor(values, dtype=torch.float64)),
        ),
        (
            f"tensor_to_list float32 ({n}) vs tolist()",
            _best_ms(lambda: interp.eval(f"torch::tensor_to_list {h32}; list")),
            _best_ms(t32.tolist),
        ),
        (
            f"tensor_to_list float64 ({n}) vs tolist()",
            _best_ms(lambda: interp.eval(f"torch::tensor_to_list {h64}; list")),
            _best_ms(t64.tolist),
        ),
        # Text made too (Tcl makes a list's string form only when a script needs it): against
        # Python making the text of every element.  No target: a comparison, not a goal.
        (
            f"  float32 list and its text ({n}) vs [repr(v) ...]",
            _best_ms(lambda: interp.eval(f"string length [torch::tensor_to_list {h32}]"), 1),
            _best_ms(lambda: [repr(v) for v in t32.tolist()], 1),
        ),
        (
            f"  float64 list and its text ({n}) vs [repr(v) ...]",
            _best_ms(lambda: interp.eval(f"string length [torch::tensor_to_list {h64}]"), 1),
            _best_ms(lambda: [repr(v) for v in t64.tolist()], 1),
        ),
    ]


def python_direct(calls: int) -> dict[str, float]:
    t = torch.zeros(2, 3)
    out = {}
    for label, fn in (
        ("shape", lambda: list(t.shape)),
        ("dtype", lambda: str(t.dtype).replace("torch.", "")),
    ):
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
    parser.add_argument("--bulk", type=int, default=1_000_000, help="numbers in the bulk figures (0: skip)")
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
    print(
        f"{'command':34} {'tclsh':>8} {'py-host':>8} {'python':>8} {'added(tclsh)':>13} {'added(host)':>12}"
    )
    for label, a, b, base in rows:
        if base is None:
            print(f"{label:34} {a:8.3f} {b:8.3f} {'':>8}")
        else:
            print(f"{label:34} {a:8.3f} {b:8.3f} {base:8.3f} {a - base:13.3f} {b - base:12.3f}")
    print(f"interp.call('torch::tensor_shape', h) from Python: {call_from_python:.3f} µs")
    added = max(tclsh[1] - direct["shape"], host[1] - direct["shape"])
    print(f"added per command (tensor_shape, worst host): {added:.2f} µs  (target < 3 µs)")
    c_tclsh, c_host, c_base, c_loop = creating(args.calls)
    print(
        f"torch::tensor_add $a $b (4x4, freed by torch::scope): tclsh {c_tclsh:.3f}  py-host {c_host:.3f}  "
        f"torch.add {c_base:.3f} µs  (Tcl loop itself {c_loop:.3f})"
    )
    made = max(c_tclsh, c_host) - c_base
    print(f"added per creating command (tensor_add, worst host): {made:.2f} µs  (target <= 3 µs)")
    if args.bulk:
        for label, ours, theirs in bulk(args.bulk):
            goal = "" if label.startswith("  ") else "  (target <= 2)"
            print(f"{label:58} {ours:9.1f} ms {theirs:9.1f} ms  ratio {ours / theirs:6.2f}{goal}")


if __name__ == "__main__":
    main()
