#!/usr/bin/env python3
"""Adafactor step time: tcltorch.optim.Adafactor (every implementation) vs torch.optim.Adafactor.

All optimizers step the same parameters with the same gradients, in one process. Reports the
median ms per step after warm-up, the ratio to the best torch.optim.Adafactor path (foreach or
single-tensor), the first step (state allocation, and compilation for "compiled"), the optimizer
state bytes, and the memory-bandwidth floor: six passes over the parameter bytes at the speed of
a plain copy. HF transformers and Keras 3 (KERAS_BACKEND=torch) are timed too when importable.

    python3 benchmarks/adafactor_step.py                 # GPT-2 small + small transformer
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

from tcltorch.optim import Adafactor  # noqa: E402
from tcltorch.optim.adafactor import AUTO_IMPLEMENTATION  # noqa: E402

FLOOR_PASSES = 6  # read G (x3), read X (x2), write X: see docs/adafactor.md


def gpt2_small() -> list[tuple[int, ...]]:
    """GPT-2 small (124M): wte, wpe, 12 blocks (ln_1, c_attn, attn c_proj, ln_2, c_fc, mlp c_proj), ln_f."""
    shapes: list[tuple[int, ...]] = [(50257, 768), (1024, 768)]
    for _ in range(12):
        shapes += [(768,), (768,), (768, 2304), (2304,), (768, 768), (768,)]
        shapes += [(768,), (768,), (768, 3072), (3072,), (3072, 768), (768,)]
    return shapes + [(768,), (768,)]


def small_transformer(vocab=8192, ctx=512, d=256, layers=4, ff=1024) -> list[tuple[int, ...]]:
    """A small decoder (~5.4M parameters): embeddings, `layers` blocks, final layer norm."""
    shapes: list[tuple[int, ...]] = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,)]
        shapes += [(d,), (d,), (d, ff), (ff,), (ff, d), (d,)]
    return shapes + [(d,), (d,)]


SHAPE_SETS = {"gpt2-small": gpt2_small, "small-transformer": small_transformer}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def copy_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes per second of a plain copy (read + write counted), best of 10."""
    n = max(nbytes // 4, 1 << 20)
    a = torch.randn(n, device=device)
    b = torch.empty_like(a)
    best = float("inf")
    for _ in range(12):
        sync(device)
        t = time.perf_counter()
        b.copy_(a)
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n * 4 / best


def tensor_state_bytes(opt) -> int:
    """All tensor state except step counters (torch keeps `step` as a 0-d tensor)."""
    return sum(
        v.numel() * v.element_size()
        for st in opt.state.values()
        for k, v in st.items()
        if isinstance(v, torch.Tensor) and k != "step"
    )


class Runner:
    """One optimizer under test: builds itself on the shared parameters, steps, reports state bytes."""

    def __init__(self, name: str, build: Callable, step: Callable | None = None, state: Callable | None = None):
        self.name, self.build, self._step, self._state = name, build, step, state

    def setup(self, params, grads):
        self.opt = self.build(params, grads)

    def step(self):
        (self._step or (lambda o: o.step()))(self.opt)

    def state_bytes(self) -> int | None:
        return (self._state or tensor_state_bytes)(self.opt)


def runners(impls: list[str]) -> list[Runner]:
    out = []

    def ours(impl):
        return Runner(f"tcltorch {impl}", lambda ps, gs: Adafactor(ps, implementation=impl), state=lambda o: o.state_bytes())

    for impl in ("reference", "foreach", "compiled"):
        if impl in impls:
            out.append(ours(impl))
    if "torch-single" in impls:
        out.append(Runner("torch.optim single", lambda ps, gs: torch.optim.Adafactor(ps, lr=0.8, foreach=False)))
    if "torch-foreach" in impls:
        out.append(Runner("torch.optim foreach", lambda ps, gs: torch.optim.Adafactor(ps, lr=0.8, foreach=True)))
    if "hf" in impls:
        try:
            from transformers.optimization import Adafactor as HFAdafactor

            out.append(Runner("HF transformers", lambda ps, gs: HFAdafactor(ps)))
        except Exception as exc:  # not installed: the benchmark still runs
            print(f"# HF transformers skipped: {exc.__class__.__name__}: {exc}")
    if "keras" in impls:
        try:
            import keras

            def build_keras(ps, gs):
                variables = [keras.Variable(p.detach()) for p in ps]
                opt = keras.optimizers.Adafactor(learning_rate=0.8)
                opt.build(variables)
                return (opt, variables, gs)

            def step_keras(o):
                opt, variables, gs = o
                opt.apply_gradients(zip(gs, variables))

            def keras_state(o):
                return sum(v.value.numel() * v.value.element_size() for v in o[0].variables if v.value.dim() > 0)

            out.append(Runner("Keras 3 (torch backend)", build_keras, step_keras, keras_state))
        except Exception as exc:
            print(f"# Keras skipped: {exc.__class__.__name__}: {exc}")
    return out


def bench_set(name: str, shapes, device, dtype, impls, steps: int, warmup: int, budget_s: float, bw: float):
    gen = torch.Generator().manual_seed(0)
    params = [torch.nn.Parameter((torch.randn(s, generator=gen) * 0.02).to(device=device, dtype=dtype)) for s in shapes]
    grads = [(torch.randn(s, generator=gen) * 1e-3).to(device=device, dtype=dtype) for s in shapes]
    for p, g in zip(params, grads):
        p.grad = g
    numel = sum(p.numel() for p in params)
    pbytes = sum(p.numel() * p.element_size() for p in params)
    floor_ms = FLOOR_PASSES * pbytes / bw * 1e3
    print(f"\n## {name}: {len(shapes)} tensors, {numel / 1e6:.2f} M parameters ({pbytes / 1e6:.1f} MB {str(dtype)[6:]})")
    print(f"copy bandwidth {bw / 1e9:.1f} GB/s -> floor ({FLOOR_PASSES} passes over the parameter bytes) {floor_ms:.1f} ms")
    rows = []
    for r in runners(impls):
        gc.collect()
        try:
            r.setup(params, grads)
            sync(device)
            t = time.perf_counter()
            r.step()
            sync(device)
            first = time.perf_counter() - t
            n = steps if first * steps < budget_s else max(2, int(budget_s / max(first, 1e-9)))
            for _ in range(warmup if first * warmup < budget_s else 1):
                r.step()
            times = []
            for _ in range(n):
                sync(device)
                t = time.perf_counter()
                r.step()
                sync(device)
                times.append(time.perf_counter() - t)
            rows.append((r.name, first, statistics.median(times) * 1e3, n, r.state_bytes()))
        except Exception as exc:
            print(f"# {r.name} failed: {exc.__class__.__name__}: {exc}")
        finally:
            r.opt = None
    torch_best = min((ms for nm, _, ms, _, _ in rows if nm.startswith("torch.optim")), default=None)
    print(f"| implementation | first step s | ms/step | steps | vs best torch.optim | vs floor | state bytes | state/params |")
    print("|---|---|---|---|---|---|---|---|")
    for nm, first, ms, n, sb in rows:
        ratio = f"{ms / torch_best:.2f}" if torch_best else "-"
        sbs = f"{sb:,}" if sb is not None else "-"
        frac = f"{sb / pbytes:.4f}" if sb is not None else "-"
        print(f"| {nm} | {first:.2f} | {ms:.1f} | {n} | {ratio} | {ms / floor_ms:.2f} | {sbs} | {frac} |")
    del params, grads
    gc.collect()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small transformer only, few steps, no compiled/Keras")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--sets", default=None, help=f"comma list of {', '.join(SHAPE_SETS)}")
    ap.add_argument("--impls", default=None,
                    help="comma list of reference,foreach,compiled,torch-single,torch-foreach,hf,keras")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per implementation")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--budget", type=float, default=None, help="seconds of timed steps per implementation")
    args = ap.parse_args(argv)

    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    if args.quick:
        sets = ["small-transformer"]
        impls = ["reference", "foreach", "torch-single", "torch-foreach", "hf"]
        steps, budget = args.steps or 5, args.budget or 3.0
    else:
        sets = list(SHAPE_SETS)
        impls = ["reference", "foreach", "compiled", "torch-single", "torch-foreach", "hf", "keras"]
        steps, budget = args.steps or 10, args.budget or 20.0
    sets = args.sets.split(",") if args.sets else sets
    impls = args.impls.split(",") if args.impls else impls

    print(f"# Adafactor step benchmark: torch {torch.__version__}, device {device}, dtype {args.dtype}, "
          f"{torch.get_num_threads()} threads; 'auto' = {AUTO_IMPLEMENTATION.get(device.type, 'foreach')} here")
    bw = copy_bandwidth(device, 256 << 20 if not args.quick else 64 << 20)
    for name in sets:
        bench_set(name, SHAPE_SETS[name](), device, dtype, impls, steps, args.warmup, budget, bw)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
