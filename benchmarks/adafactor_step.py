#!/usr/bin/env python3
"""Adafactor step time: tcltorch.optim.Adafactor (every implementation) vs torch.optim.Adafactor.

All optimizers step the same parameters with the same gradients, in one process, in interleaved
rounds (each round steps every optimizer once, in a rotating order), so that a machine shared with
other processes slows them all alike. Reports the median and the minimum ms per step after
warm-up, their ratios to the best torch.optim.Adafactor path (foreach or single-tensor), the first
step (state allocation, plus compilation for "compiled"), the optimizer state bytes, and the
memory-bandwidth floor: six passes over the parameter bytes at the speed of a plain copy.
HF transformers and Keras 3 (KERAS_BACKEND=torch) are timed too when importable.

    python3 benchmarks/adafactor_step.py                 # small transformer + GPT-2 small
    python3 benchmarks/adafactor_step.py --quick         # small transformer, a few steps (< 1 min)
    python3 benchmarks/adafactor_step.py --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from tcltorch.optim import AUTO_IMPLEMENTATION, Adafactor  # noqa: E402

FLOOR_PASSES = 6  # read G three times, read X twice, write X once: docs/adafactor.md
ALL_IMPLS = ["reference", "foreach", "compiled", "torch-single", "torch-foreach", "hf", "keras"]
QUICK_IMPLS = ["reference", "foreach", "torch-single", "torch-foreach", "hf"]


def gpt2_small() -> list[tuple[int, ...]]:
    """GPT-2 small (124M): wte, wpe, 12 blocks (ln_1, c_attn, attn c_proj, ln_2, c_fc, mlp c_proj), ln_f."""
    shapes: list[tuple[int, ...]] = [(50257, 768), (1024, 768)]
    for _ in range(12):
        shapes += [(768,), (768,), (768, 2304), (2304,), (768, 768), (768,)]
        shapes += [(768,), (768,), (768, 3072), (3072,), (3072, 768), (768,)]
    return shapes + [(768,), (768,)]


def small_transformer(vocab=8192, ctx=512, d=256, layers=4, ff=1024) -> list[tuple[int, ...]]:
    """A small decoder (5.4M parameters): embeddings, `layers` blocks, final layer norm."""
    shapes: list[tuple[int, ...]] = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,)]
        shapes += [(d,), (d,), (d, ff), (ff,), (ff, d), (d,)]
    return shapes + [(d,), (d,)]


# The small set runs first: after GPT-2's half-gigabyte tensors are freed, the process's heap
# makes every optimizer's small-tensor steps 15-40% slower, ours more than torch's.
SHAPE_SETS = {"small-transformer": small_transformer, "gpt2-small": gpt2_small}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], object]) -> float:
    sync(device)
    t = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t


def copy_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes per second of a plain copy (read + write counted), best of 12."""
    a = torch.randn(max(nbytes // 4, 1 << 20), device=device)
    b = torch.empty_like(a)
    best = min(timed(device, lambda: b.copy_(a)) for _ in range(12))
    return 2 * a.numel() * 4 / best


def tensor_state_bytes(opt: torch.optim.Optimizer) -> int:
    """All tensor state except step counters (torch keeps `step` as a 0-d tensor)."""
    return sum(
        v.numel() * v.element_size()
        for st in opt.state.values()
        for k, v in st.items()
        if isinstance(v, torch.Tensor) and k != "step"
    )


class Runner:
    """One optimizer under test: built on the shared parameters; steps; reports its state bytes."""

    def __init__(
        self, name: str, build: Callable, step: Callable | None = None, state: Callable | None = None
    ) -> None:
        self.name, self.build = name, build
        self._step = step or (lambda opt: opt.step())
        self._state = state or tensor_state_bytes
        self.opt = None

    def setup(self, params, grads) -> None:
        self.opt = self.build(params, grads)

    def step(self) -> None:
        self._step(self.opt)

    def state_bytes(self) -> int:
        return self._state(self.opt)


def keras_runner() -> Runner:
    import keras

    def build(params, grads):
        variables = [keras.Variable(p.detach()) for p in params]
        opt = keras.optimizers.Adafactor(learning_rate=0.8)
        opt.build(variables)
        return opt, variables, grads

    def step(state):
        opt, variables, grads = state
        opt.apply_gradients(zip(grads, variables))

    def state_bytes(state):
        return sum(v.value.numel() * v.value.element_size() for v in state[0].variables if v.value.dim() > 0)

    return Runner("Keras 3 (torch backend)", build, step, state_bytes)


def make_runners(impls: list[str]) -> list[Runner]:
    out = []
    for impl in ("reference", "foreach", "compiled"):
        if impl in impls:
            out.append(
                Runner(
                    f"tcltorch {impl}",
                    lambda ps, gs, impl=impl: Adafactor(ps, implementation=impl),
                    state=lambda opt: opt.state_bytes(),
                )
            )
    for impl, foreach in (("torch-single", False), ("torch-foreach", True)):
        if impl in impls:
            out.append(
                Runner(
                    f"torch.optim {'foreach' if foreach else 'single'}",
                    lambda ps, gs, foreach=foreach: torch.optim.Adafactor(ps, lr=0.8, foreach=foreach),
                )
            )
    if "hf" in impls:
        try:
            from transformers.optimization import Adafactor as HFAdafactor

            out.append(Runner("HF transformers", lambda ps, gs: HFAdafactor(ps)))
        except Exception as exc:  # not installed: the benchmark runs without it
            print(f"# HF transformers skipped: {exc.__class__.__name__}: {exc}")
    if "keras" in impls:
        try:
            out.append(keras_runner())
        except Exception as exc:
            print(f"# Keras skipped: {exc.__class__.__name__}: {exc}")
    return out


def bench_set(name, shapes, device, dtype, impls, rounds: int, warmup: int, budget_s: float, bw: float):
    gen = torch.Generator().manual_seed(0)
    params = [
        torch.nn.Parameter((torch.randn(s, generator=gen) * 0.02).to(device=device, dtype=dtype))
        for s in shapes
    ]
    grads = [(torch.randn(s, generator=gen) * 1e-3).to(device=device, dtype=dtype) for s in shapes]
    for p, g in zip(params, grads):
        p.grad = g
    numel = sum(p.numel() for p in params)
    pbytes = sum(p.numel() * p.element_size() for p in params)
    floor_ms = FLOOR_PASSES * pbytes / bw * 1e3
    print(f"\n## {name}: {len(shapes)} tensors, {numel / 1e6:.2f} M parameters "
          f"({pbytes / 1e6:.1f} MB {str(dtype).removeprefix('torch.')})")
    print(f"copy bandwidth {bw / 1e9:.1f} GB/s -> floor ({FLOOR_PASSES} passes over the parameter bytes) "
          f"{floor_ms:.1f} ms")

    live, first = [], {}
    for r in make_runners(impls):
        try:
            r.setup(params, grads)
            first[r.name] = timed(device, r.step)  # state allocation (+ compilation)
            live.append(r)
        except Exception as exc:
            print(f"# {r.name} failed: {exc.__class__.__name__}: {exc}")
    for _ in range(warmup):
        for r in live:
            r.step()
    times: dict[str, list[float]] = {r.name: [] for r in live}
    load = os.getloadavg()[0]
    for i in range(rounds):
        for r in live[i % len(live):] + live[: i % len(live)]:
            if len(times[r.name]) < 3 or sum(times[r.name]) < budget_s:  # slow ones leave the rotation
                times[r.name].append(timed(device, r.step))
    load = max(load, os.getloadavg()[0])
    rows = [
        (r.name, first[r.name], statistics.median(times[r.name]) * 1e3, min(times[r.name]) * 1e3,
         len(times[r.name]), r.state_bytes())
        for r in live
    ]
    for r in live:
        r.opt = None

    torch_rows = [row for row in rows if row[0].startswith("torch.optim")]
    best_med = min((row[2] for row in torch_rows), default=None)
    best_min = min((row[3] for row in torch_rows), default=None)
    print(f"load average during the rounds: up to {load:.2f} on {os.cpu_count()} CPUs")
    print("| implementation | first step s | ms/step median | ms/step min | steps | median / best torch "
          "| min / best torch | median / floor | state bytes | state / param bytes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for nm, first_s, med, mn, n, sb in rows:
        r_med = f"{med / best_med:.2f}" if best_med else "-"
        r_min = f"{mn / best_min:.2f}" if best_min else "-"
        print(f"| {nm} | {first_s:.2f} | {med:.1f} | {mn:.1f} | {n} | {r_med} | {r_min} "
              f"| {med / floor_ms:.2f} | {sb:,} | {sb / pbytes:.4f} |")
    del params, grads
    gc.collect()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="small transformer only, few steps, no compiled/Keras"
    )
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--sets", help=f"comma list of {', '.join(SHAPE_SETS)}")
    ap.add_argument("--impls", help=f"comma list of {', '.join(ALL_IMPLS)}")
    ap.add_argument("--steps", type=int, help="timed rounds (each steps every implementation once)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds after the first step")
    ap.add_argument("--budget", type=float, help="seconds of timed steps after which a slow one stops")
    args = ap.parse_args(argv)

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if args.quick:
        sets, impls, rounds, budget = ["small-transformer"], QUICK_IMPLS, 8, 3.0
    else:
        sets, impls, rounds, budget = list(SHAPE_SETS), ALL_IMPLS, 12, 20.0
    sets = args.sets.split(",") if args.sets else sets
    impls = args.impls.split(",") if args.impls else impls
    rounds = args.steps or rounds
    budget = args.budget or budget

    print(f"# Adafactor step benchmark: torch {torch.__version__}, device {device}, dtype {args.dtype}, "
          f"{torch.get_num_threads()} threads; implementation='auto' is "
          f"{AUTO_IMPLEMENTATION.get(device.type, 'foreach')!r} here")
    bw = copy_bandwidth(device, (64 if args.quick else 256) << 20)
    for name in sets:
        bench_set(name, SHAPE_SETS[name](), device, dtype, impls, rounds, args.warmup, budget, bw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
