#!/usr/bin/env python3
"""The fused Adafactor step against the memory floor, and its per-tensor fixed cost (issue 26).

The floor is what any optimizer step must move: read X, read G, write X. It is timed as torch's
in-place axpy over copies of the parameters (``torch._foreach_add_(xs, gs, alpha=...)``), in the
same rounds as the fused step: each round times both, in alternating order, so a machine shared
with other processes slows both alike. Exact Adafactor cannot go below 4/3 of the floor on
tensors larger than the cache: its update needs the whole gradient's row and column statistics
(and the RMS of the update) before it can write X, so it reads G twice.

Printed per set and thread count, over the timed rounds (no best case alone):

* ``fused / floor``: the ratio of the two times of each round, min / median / max
  (goal from 10M parameters up: median <= 1.5; a 1M set: <= 2);
* the two times themselves (ms, min / median / max);
* ``fused / two-pass bound``: the fused step against the floor plus a lone read of G
  (``torch._foreach_norm`` of the gradients, timed in the same rounds): the least two passes
  over G cost on this machine, whatever their arithmetic (1.0 is that bound);
* for the ``tiny`` set (``--tiny`` tensors of a few elements, where moving memory costs nothing):
  the per-tensor fixed cost ``(fused - floor) / tensors`` of each round, min / median / max in us
  (goal <= 5 us).

With more than one thread the floor of a round is the faster of torch's axpy on those threads
and on one thread (on a machine shared with other processes, torch's threads wait for the slowest
one, which would make the floor, and so our ratio, look better than it is).

The fused optimizer steps its own parameters (the steady state of a training loop: nobody else
writes X between steps, so RMS(X) comes from the previous step's write).

    python3 benchmarks/adafactor_floor.py                       # 1M, 10M, 50M, tiny; 1 and 2 threads
    python3 benchmarks/adafactor_floor.py --sets 1M,tiny --threads 1 --rounds 30
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

import tcltorch.optim.adafactor as engine
from tcltorch.optim import Adafactor


def transformer(vocab: int, ctx: int, d: int, layers: int, ff: int) -> list[tuple[int, ...]]:
    """A decoder's parameter shapes: embeddings, `layers` blocks (2 norms, qkv, proj, mlp), final norm."""
    shapes: list[tuple[int, ...]] = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,)]
        shapes += [(d,), (d,), (d, ff), (ff,), (ff, d), (d,)]
    return shapes + [(d,), (d,)]


SETS = {
    "1M": lambda: transformer(2048, 256, 128, 4, 512),  # 1.08M parameters, 52 tensors
    "10M": lambda: transformer(8192, 512, 256, 10, 1024),  # 10.1M, 124 tensors
    "50M": lambda: transformer(16384, 512, 512, 13, 2048),  # 49.8M, 160 tensors
    "125M": lambda: transformer(50257, 1024, 768, 12, 3072),  # GPT-2 small, 148 tensors
}


def tiny_set(n: int) -> list[tuple[int, ...]]:
    """n tensors of a few elements: half 1-d (16,), half 2-d (4, 4)."""
    return [(16,) if k % 2 else (4, 4) for k in range(n)]


def stats(xs: list[float], fmt: str) -> str:
    return f"{fmt.format(min(xs))} / {fmt.format(statistics.median(xs))} / {fmt.format(max(xs))}"


def bench(shapes, rounds: int, warmup: int, dtype: torch.dtype):
    gen = torch.Generator().manual_seed(0)
    base = [(torch.randn(s, generator=gen) * 0.02).to(dtype) for s in shapes]
    grads = [(torch.randn(s, generator=gen) * 1e-3).to(dtype) for s in shapes]
    params = [torch.nn.Parameter(b.clone()) for b in base]
    for p, g in zip(params, grads):
        p.grad = g
    opt = Adafactor(params, implementation="fused")
    xs = [b.clone() for b in base]
    del base

    def fused():
        opt.step()

    threads = torch.get_num_threads()

    def floor():
        torch._foreach_add_(xs, grads, alpha=-1e-3)

    def one_thread(fn):  # on a shared machine torch's threads may wait for a busy core
        def run():
            torch.set_num_threads(1)
            try:
                fn()
            finally:
                torch.set_num_threads(threads)

        return run

    def read_g():  # a lone read of G (its norms): what the first pass of any exact Adafactor costs
        torch._foreach_norm(grads)

    floor1, read_g1 = one_thread(floor), one_thread(read_g)
    fns = [fused, floor, read_g] if threads == 1 else [fused, floor, floor1, read_g, read_g1]
    for _ in range(warmup):
        for fn in fns:
            fn()
    assert opt.last_implementation == "fused", opt.last_implementation
    times: dict = {fn: [] for fn in fns}
    for i in range(rounds):
        k = i % len(fns)
        for fn in fns[k:] + fns[:k]:
            t = time.perf_counter()
            fn()
            times[fn].append(time.perf_counter() - t)
    if threads == 1:
        tl, tg = times[floor], times[read_g]
    else:
        tl = [min(a, b) for a, b in zip(times[floor], times[floor1])]
        tg = [min(a, b) for a, b in zip(times[read_g], times[read_g1])]
    return sum(p.numel() for p in params), times[fused], tl, tg


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="1M,10M,50M,tiny", help=f"comma list of {', '.join(SETS)}, tiny")
    ap.add_argument("--threads", default="1,2", help="comma list of thread counts")
    ap.add_argument("--rounds", type=int, default=20, help="timed rounds (>= 15 for the goals)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--tiny", type=int, default=1000, help="tensors in the tiny set")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    args = ap.parse_args(argv)
    if engine.fused_unavailable() is not None:
        print(f"# fused step unavailable: {engine.fused_unavailable()}")
        return 1
    dtype = getattr(torch, args.dtype)
    print(
        f"# fused Adafactor vs the floor (read X, read G, write X): torch {torch.__version__}, {args.dtype}, "
        f"kernels {engine.fused_variant()}, {args.rounds} interleaved rounds, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        "| set | tensors | params | threads | fused / floor min/med/max | fused ms min/med/max "
        "| floor ms min/med/max | fused / two-pass bound min/med/max | per-tensor us min/med/max | goal |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for name in args.sets.split(","):
            shapes = tiny_set(args.tiny) if name == "tiny" else SETS[name]()
            numel, tf, tl, tg = bench(shapes, args.rounds, args.warmup, dtype)
            gc.collect()
            ratio = [a / b for a, b in zip(tf, tl)]
            bound = [a / (b + c) for a, b, c in zip(tf, tl, tg)]
            per = [(a - b) / len(shapes) * 1e6 for a, b in zip(tf, tl)]
            ms = lambda xs: [x * 1e3 for x in xs]
            if name == "tiny":
                goal = f"per tensor <= 5 us: median {statistics.median(per):.2f}"
            elif numel >= 9_000_000:
                goal = f"<= 1.5x: median {statistics.median(ratio):.2f}"
            else:
                goal = f"<= 2x: median {statistics.median(ratio):.2f}"
            print(
                f"| {name} | {len(shapes)} | {numel / 1e6:.2f}M | {threads} | {stats(ratio, '{:.2f}')} "
                f"| {stats(ms(tf), '{:.3f}')} | {stats(ms(tl), '{:.3f}')} | {stats(bound, '{:.2f}')} "
                f"| {stats(per, '{:.2f}')} | {goal} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
