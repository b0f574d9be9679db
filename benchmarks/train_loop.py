"""Training-loop overhead: the seed network trained from Tcl against the same loop in Python.

    python benchmarks/train_loop.py [--steps N] [--reps R] [--quick] [--no-tclsh]

The network is the Adafactor page's module example: a 784-256-10 MLP (Linear, ReLU, Linear),
cross-entropy loss, mini-batches of 64, Adafactor with default options (the engine
``tcltorch.optim.Adafactor`` from Python; ``torch::optimizer_adafactor`` from Tcl).

Three loops run the same number of steps over the SAME data and the same initial weights:

* Python: plain PyTorch (zero_grad, forward, loss, backward, step);
* Tcl in-process: a Tcl proc run by ``tcltorch.Interp``; the data tensors are the very Python
  tensors of the Python loop, registered with ``interp.put``; each step is wrapped in
  ``torch::scope`` so the handle table stays flat;
* Tcl in a real ``tclsh`` subprocess (``package require tcltorch``): the same proc; there the
  data is rebuilt from the same seed by the same recipe (torch's RNG is the same in both), and
  the final weights come back through ``torch::save_state_dict`` for the comparison.

Each loop is timed (the loop only: model and optimizer creation excluded) ``--reps`` times after
a warm-up, alternating, and the median is reported with the ratio Tcl / Python (target <= 1.05).
All loops must end with bit-identical weights and loss; the script exits 1 if they do not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import tcltorch
from tcltorch.optim import Adafactor
from tcltorch.paths import tcl_path

BATCH = 64
POOL = 16  # distinct mini-batches, used in turn
DATA_SEED = 1234
INIT_SEED = 0

# The Tcl side. `run_tcl steps` builds a fresh model (seeded) and optimizer, trains `steps`
# steps over the batches in $::xs / $::ys, and returns {microseconds loss model}.
TCL_LOOP = r"""
proc run_tcl {steps} {
    global xs ys
    torch::manual_seed @INIT_SEED@
    set model [torch::sequential [torch::linear 784 256] [torch::relu] [torch::linear 256 10]]
    set opt [torch::optimizer_adafactor -parameters $model]
    set pool [llength $xs]
    set t0 [clock microseconds]
    set last [expr {$steps - 1}]
    for {set i 0} {$i < $steps} {incr i} {
        set b [expr {$i % $pool}]
        set kept [torch::scope {
            torch::optimizer_zero_grad $opt
            set loss [torch::cross_entropy_loss [torch::layer_forward $model [lindex $xs $b]] [lindex $ys $b]]
            torch::tensor_backward $loss
            torch::optimizer_step $opt
            if {$i == $last} { set loss }  ;# only the last step's loss outlives its scope
        }]
    }
    set loss $kept
    set us [expr {[clock microseconds] - $t0}]
    set value [torch::tensor_item $loss]
    torch::free $loss $opt
    return [list $us $value $model]
}
proc drop_model {model} {
    torch::free $model {*}[torch::handles linear] {*}[torch::handles relu]
}
""".replace("@INIT_SEED@", str(INIT_SEED))

# tclsh only: the data from the seed (the recipe of make_data, in Tcl).
TCL_DATA = r"""
torch::manual_seed $data_seed
set X [torch::randn [list [expr {$pool * $batch}] 784]]
set Y [torch::tensor_argmax [torch::tensor_slice $X 1 0 10] 1]
set xs {}; set ys {}
for {set b 0} {$b < $pool} {incr b} {
    lappend xs [torch::tensor_slice $X 0 [expr {$b * $batch}] [expr {($b + 1) * $batch}]]
    lappend ys [torch::tensor_slice $Y 0 [expr {$b * $batch}] [expr {($b + 1) * $batch}]]
}
"""


def make_data() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """POOL batches of 64 random 784-vectors; the label is the argmax of the first 10 values."""
    torch.manual_seed(DATA_SEED)
    x = torch.randn(POOL * BATCH, 784)
    y = x[:, 0:10].argmax(1)
    return list(x.split(BATCH)), list(y.split(BATCH))


def make_model() -> torch.nn.Sequential:
    torch.manual_seed(INIT_SEED)
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def run_python(steps: int, xs, ys) -> tuple[float, torch.Tensor, torch.nn.Module]:
    model = make_model()
    opt = Adafactor(model.parameters())
    cross_entropy = torch.nn.functional.cross_entropy
    t0 = time.perf_counter()
    for i in range(steps):
        b = i % POOL
        opt.zero_grad()
        loss = cross_entropy(model(xs[b]), ys[b])
        loss.backward()
        opt.step()
    elapsed = time.perf_counter() - t0
    return elapsed, loss.detach(), model


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def as_float32(text: str) -> torch.Tensor:
    return torch.tensor(float(text), dtype=torch.float32)


class InProcess:
    def __init__(self, xs, ys) -> None:
        self.interp = tcltorch.Interp()
        self.interp.eval(TCL_LOOP)
        self.interp.call("set", "xs", [self.interp.put(x) for x in xs])
        self.interp.call("set", "ys", [self.interp.put(y) for y in ys])

    def run(self, steps: int) -> tuple[float, torch.Tensor, dict[str, torch.Tensor], int]:
        us, loss, model = self.interp.eval(f"run_tcl {steps}").split()
        state = {k: v.clone() for k, v in self.interp.get(model).state_dict().items()}
        self.interp.eval(f"drop_model {model}")
        return int(us) / 1e6, as_float32(loss), state, len(self.interp.handles())


def run_tclsh(steps: int, reps: int) -> tuple[list[float], torch.Tensor, dict[str, torch.Tensor]]:
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "final.pt")
        script = "\n".join(
            [
                "package require tcltorch",
                f"set data_seed {DATA_SEED}; set pool {POOL}; set batch {BATCH}",
                TCL_DATA,
                TCL_LOOP,
                f"drop_model [lindex [run_tcl {min(steps, 20)}] 2]  ;# warm-up",
                "set times {}",
                f"for {{set r 0}} {{$r < {reps}}} {{incr r}} {{",
                "    if {[info exists model]} { drop_model $model }",
                f"    lassign [run_tcl {steps}] us loss model",
                "    lappend times $us",
                "}",
                f"torch::save_state_dict $model {{{weights}}}",
                "puts [list $times $loss]",
            ]
        )
        env = dict(os.environ, TCLLIBPATH=tcl_path())
        proc = subprocess.run(["tclsh"], input=script, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"tclsh failed:\n{proc.stdout}\n{proc.stderr}")
        times, loss = proc.stdout.strip().splitlines()[-1].rsplit(" ", 1)
        state = torch.load(weights, weights_only=True)
        return [int(t) / 1e6 for t in times.strip("{}").split()], as_float32(loss), state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=500, help="training steps per timed run (default 500)")
    parser.add_argument("--reps", type=int, default=5, help="timed runs of each loop (default 5)")
    parser.add_argument(
        "--quick", action="store_true", help="50 steps, 2 runs: a smoke test, not a measurement"
    )
    parser.add_argument("--no-tclsh", action="store_true", help="skip the tclsh subprocess")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads for every loop (default 1: on a shared machine, oversubscribed "
        "threads make the timings noise; 0 keeps torch's default)",
    )
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the tclsh subprocess reads it at startup
    steps, reps = (50, 2) if args.quick else (args.steps, args.reps)

    xs, ys = make_data()
    host = InProcess(xs, ys)
    run_python(min(steps, 20), xs, ys)  # warm-up both (first optimizer creation imports torch._dynamo)
    host.run(min(steps, 20))

    py_times, tcl_times = [], []
    handle_counts = set()
    for _ in range(reps):
        t, py_loss, py_model = run_python(steps, xs, ys)
        py_times.append(t)
        t, tcl_loss, tcl_state, handles = host.run(steps)
        tcl_times.append(t)
        handle_counts.add(handles)
    py_state = py_model.state_dict()

    py_med, tcl_med = statistics.median(py_times), statistics.median(tcl_times)
    print(
        f"train_loop: 784-256-10 MLP, batch {BATCH}, Adafactor, {steps} steps, median of {reps} runs, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"  Python loop                  {py_med:8.3f} s  {py_med / steps * 1e3:7.3f} ms/step")
    print(
        f"  Tcl in-process (Interp)      {tcl_med:8.3f} s  {tcl_med / steps * 1e3:7.3f} ms/step"
        f"   Tcl/Python {tcl_med / py_med:.3f}"
    )
    ok = torch.equal(py_loss, tcl_loss) and same_weights(py_state, tcl_state)
    losses = [f"Python {py_loss.item():.9g}", f"Tcl {tcl_loss.item():.9g}"]
    if not args.no_tclsh:
        sh_times, sh_loss, sh_state = run_tclsh(steps, reps)
        sh_med = statistics.median(sh_times)
        print(
            f"  Tcl in tclsh (subprocess)    {sh_med:8.3f} s  {sh_med / steps * 1e3:7.3f} ms/step"
            f"   Tcl/Python {sh_med / py_med:.3f}"
        )
        ok = ok and torch.equal(py_loss, sh_loss) and same_weights(py_state, sh_state)
        losses.append(f"tclsh {sh_loss.item():.9g}")
    print(f"  final loss: {', '.join(losses)}; weights and loss bit-identical: {'yes' if ok else 'NO'}")
    print(
        f"  live handles after each Tcl run: {sorted(handle_counts)} (flat: {'yes' if len(handle_counts) == 1 else 'NO'})"
    )
    print("  target: Tcl/Python <= 1.05")
    return 0 if ok and len(handle_counts) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
