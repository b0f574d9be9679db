"""Cost of tcltorch's metadata check before each collective (tcltorch/distributed.py): 2 ranks,
gloo, CPU, loopback. Times torch.distributed.all_reduce alone, the engine's all_reduce with the
check off (async + sliced wait only) and with it on, for a small and a 1M-element tensor.

    .venv/bin/python benchmarks/distributed_check.py
"""

from __future__ import annotations

import datetime
import os
import socket
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tcltorch import distributed as engine


def _bench(fn, reps: int) -> float:
    for _ in range(5):
        fn()
    dist.barrier()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - start) / reps * 1e6


def _rank(rank: int, port: int, out) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=2,
        timeout=datetime.timedelta(seconds=60),
    )
    rows = []
    for numel, reps in ((4, 2000), (1 << 20, 40)):
        t = torch.ones(numel)
        plain = _bench(lambda t=t: dist.all_reduce(t), reps)
        engine.set_checks(False)
        unchecked = _bench(lambda t=t: engine.all_reduce(t, dist.ReduceOp.SUM), reps)
        engine.set_checks(True)
        checked = _bench(lambda t=t: engine.all_reduce(t, dist.ReduceOp.SUM), reps)
        rows.append((numel, plain, unchecked, checked))
    if rank == 0:
        out.put(rows)
    dist.destroy_process_group()


def main() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_rank, args=(r, port, out)) for r in range(2)]
    for p in procs:
        p.start()
    rows = out.get(timeout=300)
    for p in procs:
        p.join()
    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPUs, 2 ranks gloo loopback; microseconds per all_reduce"
    )
    print(f"{'elements':>10} {'torch':>10} {'check off':>10} {'check on':>10} {'check cost':>11}")
    for numel, plain, unchecked, checked in rows:
        print(f"{numel:>10} {plain:>10.1f} {unchecked:>10.1f} {checked:>10.1f} {checked - unchecked:>+10.1f}")


if __name__ == "__main__":
    sys.exit(main())
