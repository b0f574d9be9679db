"""Run by torchrun on two ranks (tests/commands/runtime/test_distributed.py): a small model sharded with FSDP2
(``fully_shard`` per layer and at the root), five tcltorch Adafactor steps per option set, each
rank on its half of the batch. Rank 0 saves the final full weights and every rank's optimizer
state bytes to OUT/sharded.pt; the test compares them with one unsharded process."""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from torch.distributed.fsdp import fully_shard

sys.path.insert(0, os.path.dirname(__file__))
from fsdp_model import CONFIGS, batch, make_model

from tcltorch.optim import Adafactor


def main(out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {}
    for name, (dtype, options) in CONFIGS.items():
        for impl in ("reference", "foreach"):
            model = make_model(dtype)
            for layer in (model.lin1, model.lin2):
                fully_shard(layer)
            fully_shard(model)
            opt = Adafactor(model.parameters(), implementation=impl, **options)
            x, y = batch(dtype)
            rows = x.shape[0] // world
            xs, ys = x[rank * rows : (rank + 1) * rows], y[rank * rows : (rank + 1) * rows]
            for _ in range(5):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(xs), ys).backward()
                opt.step()
            assert opt.last_implementation == "sharded", opt.last_implementation
            full = {n: p.full_tensor().detach().clone() for n, p in model.named_parameters()}
            bytes_ = torch.tensor([opt.state_bytes()])
            every = [torch.zeros_like(bytes_) for _ in range(world)]
            dist.all_gather(every, bytes_)
            results[(name, impl)] = {"params": full, "state_bytes": [int(b) for b in every]}
    if rank == 0:
        torch.save(results, os.path.join(out, "sharded.pt"))
    # both ranks reach the shutdown together: a rank that tears its gloo connections down
    # while the other's are still in use aborted that one once ("terminate called without an
    # active exception", a fresh clone's suite)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
