"""A sharded (DTensor) tensor handed to torch::tensor_to_list is a Tcl error, not a crash: the C list
walker must never read a tensor subclass's data_ptr as its values."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.tensor import Shard, distribute_tensor

    import tcltorch

    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    mesh = init_device_mesh("cpu", (1,))
    sharded = distribute_tensor(torch.arange(6.0).reshape(3, 2), mesh, [Shard(0)])
    interp = tcltorch.Interp()
    name = interp._session.handles.put(sharded)
    try:
        interp.eval(f"torch::tensor_to_list {name}")
    except Exception as exc:
        print("ERROR", exc)
    print("SHAPE", interp.eval(f"torch::tensor_shape {name}"))
    dist.destroy_process_group()
    """
)


def test_tensor_to_list_of_a_dtensor_is_a_tcl_error():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ERROR a sharded tensor has no Tcl list form on one rank" in out.stdout
    assert "torch::distributed_full_tensor" in out.stdout
    assert "SHAPE 3 2" in out.stdout
