#!/usr/bin/env python3
"""Adafactor step time: tcltorch.optim.Adafactor (every implementation) vs torch.optim.Adafactor.

All optimizers step parameters with the same gradients, in one process, in interleaved rounds
(each round steps every optimizer once, in a rotating order), so that a machine shared with other
processes slows them all alike. Reported per optimizer: the median and minimum ms per step after
warm-up, their ratios to the best torch.optim.Adafactor path (foreach or single-tensor) and to the
physical floor, the first step (state allocation, plus compilation for "compiled"), state bytes.

The physical floor is what any optimizer must move: read X, read G, write X. It is timed in the
same rounds as the optimizers, as torch's in-place axpy (X += a*G, ``torch._foreach_add_``) over
copies of the parameters.

Rows:
  * ``tcltorch fused``: the native step on its own copy of the parameters, the steady state of a
    training loop (nobody else writes X between steps, so RMS(X) comes from the previous write);
  * ``tcltorch fused, shared X``: the same on the parameters every other optimizer also steps, so
    each step reads X once more for RMS(X);
  * ``tcltorch fused, baseline kernels``: the fused step without AVX2 (what an older x86-64 gets);
  * ``tcltorch foreach``: the fallback (no native library, non-contiguous, float64, other devices).

Also printed: three steps on a 50257x768 float32 parameter against the float64 computation, per
implementation (``--accuracy``), and the start-up ratio (``--startup``): a tclsh script's time to its
first Adafactor step over ``python -c 'import torch'``.

    python3 benchmarks/adafactor_step.py                 # everything (a few minutes on 2 cores)
    python3 benchmarks/adafactor_step.py --quick         # small transformer, a few steps (< 1 min)
    python3 benchmarks/adafactor_step.py --sets gpt2-small --impls fused,torch-foreach,floor
    python3 benchmarks/adafactor_step.py --device cuda --dtype bfloat16
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch

import tcltorch.optim.adafactor as engine
from tcltorch.optim import Adafactor

DEFAULT_IMPLS = [
    "fused",
    "fused-shared",
    "fused-baseline",
    "foreach",
    "reference",
    "torch-single",
    "torch-foreach",
    "hf",
    "floor",
]
EXTRA_IMPLS = ["compiled", "keras"]  # --all: minutes of compilation / a slow Keras step
QUICK_IMPLS = ["fused", "fused-shared", "fused-baseline", "foreach", "torch-single", "torch-foreach", "floor"]
TARGETS = {"gpt2-small": (0.15, 1.6), "small-transformer": (0.2, None)}  # (vs torch best, vs floor)


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
# makes every optimizer's small-tensor steps 15-40% slower.
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


def tensor_state_bytes(opt) -> int:
    """All tensor state except step counters (torch keeps `step` as a 0-d tensor)."""
    return sum(
        v.numel() * v.element_size()
        for st in opt.state.values()
        for k, v in st.items()
        if isinstance(v, torch.Tensor) and k != "step"
    )


def own_copies(params, grads):
    """Parameters of one optimizer alone (same values, same gradient tensors)."""
    out = []
    for p, g in zip(params, grads):
        q = torch.nn.Parameter(p.detach().clone())
        q.grad = g
        out.append(q)
    return out


class Runner:
    """One row: built on the shared parameters (or its own copies); steps; reports its state bytes."""

    def __init__(self, name, build, step=None, state=None, own=False, is_floor=False) -> None:
        self.name, self.build, self.own, self.is_floor = name, build, own, is_floor
        self._step = step or (lambda opt: opt.step())
        self._state = state or tensor_state_bytes
        self.opt = None

    def setup(self, params, grads) -> None:
        self.opt = self.build(own_copies(params, grads) if self.own else params, grads)

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


def floor_runner() -> Runner:
    """read X + read G + write X: torch's in-place axpy over copies of the parameters."""

    def build(params, grads):
        return [p.detach().clone() for p in params], list(grads)

    def step(state):
        xs, gs = state
        torch._foreach_add_(xs, gs, alpha=-1e-3)

    return Runner("floor: X += a*G (torch axpy)", build, step, lambda s: 0, is_floor=True)


def baseline_step(opt) -> None:
    engine.fused._KERNELS = "baseline"
    try:
        opt.step()
    finally:
        engine.fused._KERNELS = "best"


def make_runners(impls: list[str]) -> list[Runner]:
    out = []
    ours = lambda impl: lambda ps, gs: Adafactor(ps, implementation=impl)
    state = lambda opt: opt.state_bytes()
    fused_ok = engine.fused_unavailable() is None
    if not fused_ok and any(i.startswith("fused") for i in impls):
        print(f"# fused rows skipped: {engine.fused_unavailable()}")
    for impl in impls:
        if impl == "fused" and fused_ok:
            out.append(Runner("tcltorch fused", ours("fused"), state=state, own=True))
        elif impl == "fused-shared" and fused_ok:
            out.append(Runner("tcltorch fused, shared X", ours("fused"), state=state))
        elif impl == "fused-baseline" and fused_ok:
            out.append(
                Runner("tcltorch fused, baseline kernels", ours("fused"), baseline_step, state, own=True)
            )
        elif impl in ("reference", "foreach", "compiled"):
            name = "tcltorch foreach (the fallback)" if impl == "foreach" else f"tcltorch {impl}"
            out.append(Runner(name, ours(impl), state=state))
        elif impl in ("torch-single", "torch-foreach"):
            foreach = impl == "torch-foreach"
            out.append(
                Runner(
                    f"torch.optim {'foreach' if foreach else 'single'}",
                    lambda ps, gs, foreach=foreach: torch.optim.Adafactor(ps, lr=0.8, foreach=foreach),
                )
            )
        elif impl == "hf":
            try:
                from transformers.optimization import Adafactor as HFAdafactor

                out.append(Runner("HF transformers", lambda ps, gs: HFAdafactor(ps)))
            except Exception as exc:  # noqa: BLE001 - not installed: the benchmark runs without it
                print(f"# HF transformers skipped: {exc.__class__.__name__}: {exc}")
        elif impl == "keras":
            try:
                out.append(keras_runner())
            except Exception as exc:  # noqa: BLE001
                print(f"# Keras skipped: {exc.__class__.__name__}: {exc}")
        elif impl == "floor":
            out.append(floor_runner())
    return out


def bench_set(name, shapes, device, dtype, impls, rounds: int, warmup: int, budget_s: float):
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
    print(
        f"\n## {name}: {len(shapes)} tensors, {numel / 1e6:.2f} M parameters "
        f"({pbytes / 1e6:.1f} MB {str(dtype).removeprefix('torch.')})"
    )

    live, first, paths = [], {}, {}
    for r in make_runners(impls):
        try:
            r.setup(params, grads)
            first[r.name] = timed(device, r.step)  # state allocation (+ compilation)
            live.append(r)
            paths[r.name] = getattr(r.opt, "last_implementation", None) or ""
        except Exception as exc:  # noqa: BLE001 - one broken row must not hide the others
            print(f"# {r.name} failed: {exc.__class__.__name__}: {exc}")
    for _ in range(warmup):
        for r in live:
            r.step()
    times: dict[str, list[float]] = {r.name: [] for r in live}
    load = os.getloadavg()[0]
    for i in range(rounds):
        for r in live[i % len(live) :] + live[: i % len(live)]:
            if len(times[r.name]) < 3 or sum(times[r.name]) < budget_s:  # slow ones leave the rotation
                times[r.name].append(timed(device, r.step))
    load = max(load, os.getloadavg()[0])
    rows = [
        (
            r.name,
            first[r.name],
            statistics.median(times[r.name]) * 1e3,
            min(times[r.name]) * 1e3,
            len(times[r.name]),
            r.state_bytes(),
            paths[r.name],
            r.is_floor,
        )
        for r in live
    ]
    for r in live:
        r.opt = None

    torch_rows = [row for row in rows if row[0].startswith("torch.optim")]
    best_med = min((row[2] for row in torch_rows), default=None)
    best_min = min((row[3] for row in torch_rows), default=None)
    floor = next((row for row in rows if row[7]), None)
    print(f"load average during the rounds: up to {load:.2f} on {os.cpu_count()} CPUs")
    print(
        "| implementation | path | first step s | ms/step median | ms/step min | steps | median / best torch "
        "| min / best torch | median / floor | min / floor | state bytes | state / param bytes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for nm, first_s, med, mn, n, sb, path, _ in rows:
        r_med = f"{med / best_med:.3f}" if best_med else "-"
        r_min = f"{mn / best_min:.3f}" if best_min else "-"
        f_med = f"{med / floor[2]:.2f}" if floor else "-"
        f_min = f"{mn / floor[3]:.2f}" if floor else "-"
        print(
            f"| {nm} | {path or '-'} | {first_s:.3f} | {med:.2f} | {mn:.2f} | {n} | {r_med} | {r_min} "
            f"| {f_med} | {f_min} | {sb:,} | {sb / pbytes:.4f} |"
        )
    target = TARGETS.get(name)
    fused = next((row for row in rows if row[0] == "tcltorch fused"), None)
    if target and fused and best_med:
        vs_torch, vs_floor = target
        line = f"target: fused median {fused[2] / best_med:.3f}x best torch.optim (goal <= {vs_torch})"
        if vs_floor and floor:
            line += f", {fused[2] / floor[2]:.2f}x the floor (goal <= {vs_floor})"
        print(line)
    del params, grads
    gc.collect()
    return rows


# --------------------------------------------------------------------------- accuracy


def accuracy(steps: int = 3, shape=(50257, 768), compiled: bool = False) -> None:
    """Three steps on a GPT-2 embedding-sized float32 parameter against the float64 computation.

    The error is max |X - X64| / max |X64 - X0| (relative to the update), goal <= 1e-5."""
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(shape, generator=gen) * 0.02
    grads = [torch.randn(shape, generator=gen) * 1e-3 for _ in range(steps)]

    def run(make, dtype):
        p = torch.nn.Parameter(x0.to(dtype, copy=True))
        opt = make([p])
        for g in grads:
            p.grad = g.to(dtype)
            opt.step()
        return p.detach(), opt

    exact, _ = run(lambda ps: Adafactor(ps, implementation="reference"), torch.float64)
    update = (exact - x0.double()).abs().max().item()
    print(f"\n## accuracy: {steps} steps on a {shape[0]}x{shape[1]} float32 parameter vs float64")
    print("| implementation | path | max error / max update | goal |")
    print("|---|---|---|---|")
    cases = [
        (f"tcltorch {i}", lambda ps, i=i: Adafactor(ps, implementation=i)) for i in ("reference", "foreach")
    ]
    if engine.fused_unavailable() is None:
        cases.append(("tcltorch fused", lambda ps: Adafactor(ps, implementation="fused")))
    if compiled:  # --all: about 12 s of Inductor compilation
        cases.append(("tcltorch compiled", lambda ps: Adafactor(ps, implementation="compiled")))
    cases.append(("torch.optim foreach", lambda ps: torch.optim.Adafactor(ps, lr=0.8, foreach=True)))
    for name, make in cases:
        got, opt = run(make, torch.float32)
        err = (got.double() - exact).abs().max().item() / update
        path = getattr(opt, "last_implementation", None) or "-"
        goal = "<= 1e-5" if name.startswith("tcltorch") else "(not ours)"
        print(f"| {name} | {path} | {err:.2e} | {goal} |")
        del got, opt
        gc.collect()


# --------------------------------------------------------------------------- start-up

FIRST_STEP_TCL = """\
package require tcltorch
set w [torch::ones {256 128} -requiresGrad 1]
set opt [torch::optimizer_adafactor -parameters $w]
torch::tensor_backward [torch::tensor_sum $w]
torch::optimizer_step $opt
"""


def startup(repeats: int = 3) -> None:
    """A tclsh script's time to its first Adafactor step over `python -c 'import torch'`."""
    tclsh = shutil.which("tclsh")
    print("\n## start-up: tclsh script to its first Adafactor step vs python -c 'import torch'")
    if tclsh is None:
        print("# tclsh not found: skipped")
        return
    tcl_path = subprocess.run(
        [sys.executable, "-m", "tcltorch", "--tcl-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {**os.environ, "TCLLIBPATH": tcl_path}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "first_step.tcl"
        script.write_text(FIRST_STEP_TCL)
        runs = {"tcl": [], "py": []}
        for _ in range(repeats):  # interleaved, so load changes hit both alike
            for key, cmd in (("tcl", [tclsh, str(script)]), ("py", [sys.executable, "-c", "import torch"])):
                t = time.perf_counter()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                runs[key].append(time.perf_counter() - t)
    tcl, py = runs["tcl"], runs["py"]
    print(f"tclsh to first step: min {min(tcl):.2f} s, median {statistics.median(tcl):.2f} s")
    print(f"python -c 'import torch': min {min(py):.2f} s, median {statistics.median(py):.2f} s")
    print(
        f"start-up ratio: {min(tcl) / min(py):.2f} (min), {statistics.median(tcl) / statistics.median(py):.2f} "
        "(median); goal <= 1.1"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small transformer only, few steps, no accuracy")
    ap.add_argument("--all", action="store_true", help="also the compiled path and Keras 3 (slow)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--sets", help=f"comma list of {', '.join(SHAPE_SETS)} (empty: none)")
    ap.add_argument("--impls", help=f"comma list of {', '.join(DEFAULT_IMPLS + EXTRA_IMPLS)}")
    ap.add_argument("--steps", type=int, help="timed rounds (each steps every implementation once)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds after the first step")
    ap.add_argument("--budget", type=float, help="seconds of timed steps after which a slow one stops")
    ap.add_argument("--accuracy", action=argparse.BooleanOptionalAction, help="the 50257x768 float64 check")
    ap.add_argument("--startup", action=argparse.BooleanOptionalAction, help="the tclsh start-up ratio")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (the fused step follows it)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if args.quick:
        sets, impls, rounds, budget = ["small-transformer"], QUICK_IMPLS, 8, 3.0
    else:
        sets, impls, rounds, budget = list(SHAPE_SETS), DEFAULT_IMPLS, 12, 20.0
    if args.all:
        impls = impls + EXTRA_IMPLS
    sets = [s for s in args.sets.split(",") if s] if args.sets is not None else sets
    impls = args.impls.split(",") if args.impls else impls
    rounds = args.steps or rounds
    budget = args.budget or budget
    do_accuracy = args.accuracy if args.accuracy is not None else not args.quick
    do_startup = args.startup if args.startup is not None else not args.quick

    print(
        f"# Adafactor step benchmark: torch {torch.__version__}, device {device}, dtype {args.dtype}, "
        f"{torch.get_num_threads()} threads; implementation='auto' is "
        f"{engine._resolve('auto', device.type)!r} here; fused kernels: "
        f"{engine.fused_variant() or engine.fused_unavailable()}"
    )
    for name in sets:
        bench_set(name, SHAPE_SETS[name](), device, dtype, impls, rounds, args.warmup, budget)
    if do_accuracy:
        accuracy(compiled=args.all)
    if do_startup:
        startup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
