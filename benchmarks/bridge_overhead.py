"""Bridge overhead: what a torch:: command adds over the same operation done in Python,
from tclsh and from the Python host, as min/median/max over interleaved rounds.

    python benchmarks/bridge_overhead.py [--rounds N] [--calls N] [--bulk N]

Each round times, back to back, a chunk of Tcl commands (with Tcl's ``time``) in a tclsh
(one process kept running, fed a round at a time) and in the Python host
(``tcltorch.Interp``), then the same operation done directly in Python, and takes the
difference: the microseconds the bridge adds (Tcl dispatch, argument conversion, spec
parsing, handle lookup, result conversion).  Shared machines run in slow and fast spells,
so a round compares like with like; the figures printed are the min/median/max over the
rounds, and the median is the one that counts (the min alone is a best case).  The Tcl
loop's own cost (an equivalent ``set x $a``) is subtracted.

Rows: commands that create nothing (``tensor_shape``, ``tensor_dtype``, the named form),
the bridge floor (``get_num_threads``), a command that makes a tensor
(``torch::tensor_add $a $b`` on 4x4, 100 in one ``torch::scope`` as a training loop frees
them) against ``torch.add(a, b)``, and an empty ``torch::scope``.  Then the bulk
conversions (Python host, same process, interleaved): ``tensor_create`` of a 10^6-number
Tcl list against ``torch.tensor(list)`` and ``tensor_to_list`` of 10^6 float32/float64
values against ``tolist()``, as ratios (targets: at most 2x); ``--bulk 0`` skips them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tcltorch
from tcltorch.paths import tcl_path

# One round of Tcl timings: µs per run of each script, "set x $a" (the loop's own cost) first.
ROUND_PROC = r"""
proc bench_round {calls} {
    global a b t
    set out {}
    foreach script {
        {set x $a}
        {torch::get_num_threads}
        {torch::tensor_shape $t}
        {torch::tensor_dtype $t}
        {torch::tensor_shape -input $t}
        {torch::scope {}}
    } {
        lappend out [lindex [time $script $calls] 0]
    }
    set loop {for {set i 0} {$i < 100} {incr i} {%s}}
    set n [expr {max(1, $calls / 100)}]
    lappend out [expr {[lindex [time [format $loop {set x $a}] $n] 0] / 100.0}]
    lappend out [expr {[lindex [time [list torch::scope [format $loop {torch::tensor_add $a $b}]] $n] 0] / 100.0}]
    return $out
}
set a [torch::ones {4 4}]
set b [torch::ones {4 4}]
set t [torch::zeros {2 3}]
"""

LABELS = [
    ("torch::get_num_threads (floor)", "threads"),
    ("torch::tensor_shape $t", "shape"),
    ("torch::tensor_dtype $t", "dtype"),
    ("torch::tensor_shape -input $t", "shape"),
    ("torch::scope {} (whole cost)", None),
    ("torch::tensor_add 4x4 in a scope", "add"),
]


def tcl_figures(raw: list[float]) -> list[float]:
    """One round's Tcl µs per command, the loop's own cost subtracted."""
    base, *singles, loop, add = raw
    return [x - base for x in singles] + [add - loop]


def python_figures(calls: int) -> dict[str, float]:
    """One round's µs per call of the same operations done directly in Python."""
    t, a, b = torch.zeros(2, 3), torch.ones(4, 4), torch.ones(4, 4)
    add = torch.add
    n = max(1, calls // 100)
    return {
        "threads": timeit.timeit(torch.get_num_threads, number=calls) / calls * 1e6,
        "shape": timeit.timeit(lambda: list(t.shape), number=calls) / calls * 1e6,
        "dtype": timeit.timeit(lambda: str(t.dtype).replace("torch.", ""), number=calls) / calls * 1e6,
        "add": timeit.timeit(lambda: [add(a, b) for _ in range(100)], number=n) / (n * 100) * 1e6,
    }


class Tclsh:
    """A tclsh with tcltorch loaded that runs one round per request."""

    def __init__(self) -> None:
        env = dict(os.environ, TCLLIBPATH=tcl_path())
        self.proc = subprocess.Popen(
            ["tclsh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, bufsize=1
        )
        self.send("package require tcltorch\ntorch::set_num_threads 1\n" + ROUND_PROC)

    def send(self, script: str) -> str:
        """Evaluate ``script`` at global level; its result (one line)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"set code [catch {{{script}\n}} r]; puts [list $code $r]; flush stdout\n")
        code, result = self.proc.stdout.readline().strip().split(" ", 1)
        if code != "0":
            raise RuntimeError(f"tclsh: {result}")
        return result.strip("{}")

    def round(self, calls: int) -> list[float]:
        return [float(x) for x in self.send(f"bench_round {calls}").split()]

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def _ms(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


def bulk_rounds(n: int, rounds: int) -> list[tuple[str, list[float]]]:
    """(label, ratios over the rounds) for the bulk conversions, interleaved in one process."""
    interp = tcltorch.Interp()
    interp.eval(f"set l {{}}; for {{set i 0}} {{$i < {n}}} {{incr i}} {{lappend l [expr {{rand()}}]}}; list")
    values = [float(v) for v in interp.eval("set l").split()]
    t32 = torch.rand(n)
    t64 = t32.double()
    h32, h64 = interp.put(t32), interp.put(t64)
    pairs = [
        (
            f"tensor_create of {n} numbers / torch.tensor(list)",
            lambda: interp.eval("torch::scope {torch::tensor_create $l -dtype float64}; list"),
            lambda: torch.tensor(values, dtype=torch.float64),
        ),
        (
            f"tensor_to_list float32 ({n}) / tolist()",
            lambda: interp.eval(f"torch::tensor_to_list {h32}; list"),
            t32.tolist,
        ),
        (
            f"tensor_to_list float64 ({n}) / tolist()",
            lambda: interp.eval(f"torch::tensor_to_list {h64}; list"),
            t64.tolist,
        ),
    ]
    ratios: list[list[float]] = [[] for _ in pairs]
    for _ in range(rounds):
        for k, (_, ours, theirs) in enumerate(pairs):
            ratios[k].append(_ms(ours) / _ms(theirs))
    return [(label, ratios[k]) for k, (label, _, _) in enumerate(pairs)]


def spread(xs: list[float]) -> str:
    return f"{min(xs):8.3f} {statistics.median(xs):8.3f} {max(xs):8.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--calls", type=int, default=20_000, help="commands per figure and round")
    parser.add_argument("--bulk", type=int, default=1_000_000, help="numbers in the bulk figures (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tclsh = Tclsh()
    interp = tcltorch.Interp()
    interp.eval(ROUND_PROC)
    figures: dict[str, list[list[float]]] = {"tclsh": [], "py-host": []}
    for _ in range(args.rounds):  # interleaved: tclsh, the Python host, then Python itself
        raw_tclsh = tclsh.round(args.calls)
        raw_host = [float(x) for x in interp.eval(f"bench_round {args.calls}").split()]
        ref = python_figures(args.calls)
        for host, raw in (("tclsh", raw_tclsh), ("py-host", raw_host)):
            tcl = tcl_figures(raw)
            figures[host].append([us - (ref[key] if key else 0.0) for us, (_, key) in zip(tcl, LABELS)])
    tclsh.close()
    print(
        f"µs added per command over Python (the loop's own cost subtracted), min/median/max of "
        f"{args.rounds} interleaved rounds x {args.calls} calls; torch {torch.__version__}, 1 thread, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(f"  {'command':36s} {'host':8s} {'min':>8s} {'median':>8s} {'max':>8s}")
    for i, (label, key) in enumerate(LABELS):
        for host in ("tclsh", "py-host"):
            xs = [row[i] for row in figures[host]]
            print(f"  {label:36s} {host:8s} {spread(xs)}")
    print("  (torch::scope {} is its whole cost, nothing subtracted but the loop's)")
    if args.bulk:
        print(f"bulk conversions, tcltorch / torch, min/median/max of {args.rounds} interleaved rounds:")
        for label, ratios in bulk_rounds(args.bulk, args.rounds):
            print(f"  {label:52s} {spread(ratios)}  (target <= 2)")


if __name__ == "__main__":
    main()
