"""The LM demo's training steps in Tcl against the same model trained in Python (issue 26).

    python benchmarks/lm_demo.py [--rounds N] [--steps K] [--quick]

The Tcl side is ``examples/train_lm.tcl`` itself: the script is sourced by ``tcltorch.Interp``
in this process with ``::lmDemoSetupOnly`` set, which stops it once its text, model, optimizer
(``torch::optimizer_adafactor -lr 0.01 -globalClipNorm 1.0``) and procs exist, and its own
``trainStep`` proc is timed (a ``torch::scope`` with the batch gathered by index, forward with
the causal mask, cross-entropy, backward, step, ``tensor_item``).

The Python replicas build the same model (the same modules in the same order from the same
seed: the same initial weights), gather their batches by index from the same text held as an
int64 tensor, and run the same step (zero_grad, forward with the mask built once, cross-entropy,
backward, step, ``item()``) with

* ``torch.optim.Adafactor(lr=0.01)`` and ``torch.nn.utils.clip_grad_norm_(..., 1.0)`` (the
  demo's optimizer options in torch.optim's terms): the reference of the goal;
* tcltorch's engine: the optimizer the demo's command makes (``torch::optimizer_adafactor -lr
  0.01 -globalClipNorm 1.0`` on the Python model), stepped from Python: for reference.

Every round runs ``--steps`` steps of each, back to back, and computes tokens/s (batch x context
tokens a step) from the wall clock; the figures printed are min/median/max over the rounds of
Tcl / Python+torch.optim (goal >= 1.15x) and engine / torch.optim, and the same ratios of the
thread's CPU time (less sensitive to other work on a shared machine).  No timing is asserted
anywhere: this script only prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import tcltorch

DEMO = os.path.join(ROOT, "examples", "train_lm.tcl")
SEED = 20240601  # the demo's
CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


class Replica:
    """The demo's model and step in Python."""

    def __init__(self, interp: tcltorch.Interp, vocab: int, dims: dict[str, int], ids: torch.Tensor) -> None:
        d, context = dims["dmodel"], dims["context"]
        torch.manual_seed(SEED)  # the demo's buildModel: the same modules in the same order
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        block = nn.TransformerEncoderLayer(
            d, dims["heads"], 4 * d, 0.0, "gelu", batch_first=True, norm_first=True
        )
        self.enc = nn.TransformerEncoder(block, dims["layers"], enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.all = nn.Sequential(self.tok, self.pos, self.enc, self.norm, self.head)
        self.vocab, self.context, self.batch = vocab, context, dims["batch"]
        self.mask = torch.triu(torch.full((context, context), float("-inf")), 1)
        self.positions = torch.arange(context).unsqueeze(0)
        self.rows = ids.unsqueeze(0).expand(self.batch, -1)
        self.offsets = torch.arange(context + 1).unsqueeze(0)
        self.generator = torch.Generator().manual_seed(7919)
        self.n = ids.numel()
        self.interp = interp
        self.clip: Callable[[], object] = lambda: None
        self.opt_seconds = 0.0  # wall time in the optimizer (clipping included) since the last read

    def with_torch_optim(self) -> Replica:
        params = list(self.all.parameters())
        self.opt = torch.optim.Adafactor(params, lr=0.01)
        self.clip = lambda: torch.nn.utils.clip_grad_norm_(params, 1.0)
        return self

    def with_engine(self) -> Replica:
        handle = self.interp.put(self.all)
        self.opt = self.interp.get(
            self.interp.eval(f"torch::optimizer_adafactor -parameters {handle} -lr 0.01 -globalClipNorm 1.0")
        )
        return self

    def batch_of(self) -> tuple[torch.Tensor, torch.Tensor]:
        starts = torch.randint(0, self.n - self.context - 1, (self.batch, 1), generator=self.generator)
        windows = torch.gather(self.rows, 1, starts + self.offsets)
        return windows[:, : self.context], windows[:, 1:]

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.tok(x) + self.pos(self.positions)
        h = self.enc(h, mask=self.mask, is_causal=True)
        out = self.head(self.norm(h))
        return F.cross_entropy(out.reshape(-1, self.vocab), y.reshape(-1))

    def step(self) -> float:
        x, y = self.batch_of()
        self.opt.zero_grad()
        loss = self.loss(x, y)
        loss.backward()
        t0 = time.perf_counter()
        self.clip()
        self.opt.step()
        self.opt_seconds += time.perf_counter() - t0
        return loss.item()


class LmDemo:
    """The demo in a Tcl interpreter of its own and its two Python replicas; :meth:`round` runs
    ``steps`` steps of each, back to back (loop_goals.py's ``lm_demo`` goal uses it too)."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        interp = self.interp = tcltorch.Interp()
        interp.eval("set ::lmDemoSetupOnly 1; set ::argv {}; set ::argv0 train_lm.tcl")
        interp.eval(f"source {{{DEMO}}}")
        dims = self.dims = {
            k: int(interp.eval(f"set ::{k}")) for k in ("dmodel", "heads", "layers", "context", "batch")
        }
        vocab = self.vocab = int(interp.eval("set ::vocab"))
        ids = torch.tensor([int(w) for w in interp.eval("set ::ids").split()], dtype=torch.int64)
        self.tokens = dims["batch"] * dims["context"]
        self.params = int(interp.eval("torch::count_parameters $::all"))
        interp.eval(
            "proc benchSteps {first k} {for {set s $first} {$s < $first + $k} {incr s} {trainStep $::model $::opt $s}}"
        )
        self.torch_optim = Replica(interp, vocab, dims, ids).with_torch_optim()
        self.engine = Replica(interp, vocab, dims, ids).with_engine()
        # the same model: the demo's and the replicas' losses on the demo's first batch, before training
        with torch.no_grad():
            same = interp.eval(
                "torch::no_grad {torch::scope {lassign [batchOf 1] x y; list $x $y [torch::tensor_item "
                "[torch::cross_entropy_loss [torch::tensor_reshape [logits $::model $x] [list -1 $::vocab]] "
                "[torch::tensor_reshape $y {-1}]]]}}"
            ).split()
            x, y = interp.get(same[0]), interp.get(same[1])
            self.initial = (float(same[2]), float(self.torch_optim.loss(x, y)), float(self.engine.loss(x, y)))
            interp.eval(f"torch::free {same[0]} {same[1]}")
        self.first = {
            "tcl": float(interp.eval("trainStep $::model $::opt 1")),
            "torch.optim": self.torch_optim.step(),
            "engine": self.engine.step(),
        }
        self.next_step = 2
        self.rounds_done = 0
        self.loops: dict[str, Callable[[], None]] = {
            "tcl": self._tcl_loop,
            "torch.optim": self._py_loop(self.torch_optim),
            "engine": self._py_loop(self.engine),
        }
        for run in self.loops.values():  # warm-up
            run()

    def _tcl_loop(self) -> None:
        self.interp.eval(f"benchSteps {self.next_step} {self.steps}")
        self.next_step += self.steps

    def _py_loop(self, replica: Replica) -> Callable[[], None]:
        def run() -> None:
            for _ in range(self.steps):
                replica.step()

        return run

    def round(self) -> dict[str, float]:
        """One round: tokens/s of each loop by each clock (``tcl/wall`` ...), the optimizer's ms a
        step in each replica (``opt/torch.optim``, ``opt/engine``), and ``bound``: the torch.optim
        replica's speed-up if its optimizer cost what the engine's does (wall clock)."""
        out: dict[str, float] = {}
        for replica in (self.torch_optim, self.engine):
            replica.opt_seconds = 0.0
        # each round starts with another loop: the first after other work (another goal of
        # loop_goals.py) runs with colder caches, which cost the Tcl loop 4-6 % when it always came first
        names = list(self.loops)
        self.rounds_done += 1
        shift = self.rounds_done % len(names)
        for name in names[shift:] + names[:shift]:
            run = self.loops[name]
            t0 = {c: clock() for c, clock in CLOCKS.items()}
            run()
            for c, clock in CLOCKS.items():
                out[f"{name}/{c}"] = self.steps * self.tokens / (clock() - t0[c])
        out["opt/torch.optim"] = self.torch_optim.opt_seconds / self.steps * 1e3
        out["opt/engine"] = self.engine.opt_seconds / self.steps * 1e3
        step_ms = self.tokens / out["torch.optim/wall"] * 1e3
        out["bound"] = step_ms / (step_ms - out["opt/torch.optim"] + out["opt/engine"])
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--steps", type=int, default=10, help="training steps of each loop a round (default 10)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 rounds of 3 steps: a smoke test, not a measurement"
    )
    args = parser.parse_args()
    rounds, steps = (3, 3) if args.quick else (args.rounds, args.steps)
    torch.set_num_threads(1)
    bench = LmDemo(steps)
    figures = [bench.round() for _ in range(rounds)]
    series = {k: [f[k] for f in figures] for k in figures[0]}
    med = {k: statistics.median(v) for k, v in series.items()}
    dims = bench.dims
    print(
        f"lm_demo: examples/train_lm.tcl's defaults ({dims['layers']} layers, d_model {dims['dmodel']}, "
        f"{dims['heads']} heads, context {dims['context']}, batch {dims['batch']}, vocabulary {bench.vocab}, "
        f"{bench.params} parameters), 1 torch thread, {rounds} interleaved rounds of {steps} steps, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    print(
        "  the same model: loss on the demo's first batch before training: tcl {:.6f}, "
        "torch.optim replica {:.6f}, engine replica {:.6f}".format(*bench.initial)
    )
    print(
        "  first losses (each on its own first batch): "
        + ", ".join(f"{k} {v:.4f}" for k, v in bench.first.items())
    )
    print(
        f"  optimizer step (clipping included), ms a step, median: torch.optim {med['opt/torch.optim']:.3f}, "
        f"engine {med['opt/engine']:.3f}"
    )
    for clock in CLOCKS:
        print(
            f"  tokens/s ({clock} clock), median: "
            + ", ".join(f"{k} {med[f'{k}/{clock}']:.0f}" for k in bench.loops)
        )
    print(f"  {'ratio':58s} {'min':>8s} {'median':>8s} {'max':>8s}  target")
    for clock in CLOCKS:
        for name, target in (("tcl", ">= 1.15x"), ("engine", "(reference)")):
            xs = [
                a / b for a, b in zip(series[f"{name}/{clock}"], series[f"torch.optim/{clock}"], strict=True)
            ]
            label = f"{name} / Python+torch.optim tokens/s ({clock})"
            print(f"  {label:58s} {min(xs):8.3f} {statistics.median(xs):8.3f} {max(xs):8.3f}  {target}")
    xs = series["bound"]
    label = "bound: torch.optim replica at the engine's step cost (wall)"
    print(f"  {label:58s} {min(xs):8.3f} {statistics.median(xs):8.3f} {max(xs):8.3f}  (reference)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
