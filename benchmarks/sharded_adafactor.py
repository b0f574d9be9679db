"""Sharded Adafactor step time against the unsharded step and against FSDP2 + AdamW, 2 ranks, CPU.

A stack of Linear(WIDTH, WIDTH) layers, ``fully_shard`` per layer and at the root (FSDP2, gloo).
Times only ``optimizer.step()`` (median of STEPS after warm-up; forward/backward excluded), and
reports each rank's optimizer-state bytes and peak resident memory. The unsharded Adafactor runs
in one process with one thread (as each rank has).

    .venv/bin/python benchmarks/sharded_adafactor.py [--width 512] [--layers 4] [--steps 20]
"""

from __future__ import annotations

import argparse
import resource
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.fsdp import fully_shard

from tcltorch.optim import Adafactor


def make(width: int, layers: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(*[torch.nn.Linear(width, width) for _ in range(layers)])


def state_bytes(opt: torch.optim.Optimizer) -> int:
    total = 0
    for st in opt.state.values():
        for t in st.values():
            if isinstance(t, torch.Tensor):
                t = t.to_local() if hasattr(t, "to_local") else t
                total += t.numel() * t.element_size()
    return total


def time_steps(model, opt, width: int, steps: int) -> float:
    x = torch.randn(8, width)
    times = []
    for i in range(steps + 3):
        opt.zero_grad()
        model(x).square().mean().backward()
        if dist.is_initialized():
            dist.barrier()
        start = time.perf_counter()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def rank_main(rank: int, port: int, args, out) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    rows = {}
    for name in ("sharded Adafactor", "FSDP2 AdamW"):
        model = make(args.width, args.layers)
        for layer in model:
            fully_shard(layer)
        fully_shard(model)
        opt = (
            Adafactor(model.parameters())
            if name == "sharded Adafactor"
            else torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=True)
        )
        ms = time_steps(model, opt, args.width, args.steps)
        rows[name] = (ms, state_bytes(opt))
    rows["peak RSS MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put((rank, rows))
    dist.destroy_process_group()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--width", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = make(args.width, args.layers)
    opt = Adafactor(model.parameters())
    unsharded = (
        time_steps(model, opt, args.width, args.steps),
        opt.state_bytes(),
        opt.resolved_implementation(),
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, port, args, out)) for r in range(2)]
    for p in procs:
        p.start()
    ranks = dict(out.get(timeout=600) for _ in procs)
    for p in procs:
        p.join()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"torch {torch.__version__}; {args.layers} x Linear({args.width}, {args.width}) = {params} parameters"
    )
    print(f"{'optimizer step':<34} {'ms/step':>8} {'state bytes':>12}")
    print(f"{'Adafactor, 1 process (' + unsharded[2] + ')':<34} {unsharded[0]:>8.2f} {unsharded[1]:>12}")
    for name in ("sharded Adafactor", "FSDP2 AdamW"):
        for r in (0, 1):
            ms, nbytes = ranks[r][name]
            print(f"{name + f', rank {r} of 2':<34} {ms:>8.2f} {nbytes:>12}")
    print("peak RSS per rank (MiB): " + ", ".join(f"{ranks[r]['peak RSS MiB']:.0f}" for r in (0, 1)))


if __name__ == "__main__":
    main()
