"""torch.distributed from Tcl: two ranks on 127.0.0.1 with gloo, started by torchrun (or as
two plain tclsh processes) from the test itself, each run bounded by a timeout."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, tclsh_env

HERE = ROOT / "tests" / "distributed"
TORCHRUN = Path(sys.executable).with_name("torchrun")


def torchrun(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = tclsh_env(OMP_NUM_THREADS="1")
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc-per-node",
        "2",
        "--no-python",
        "tclsh",
        str(HERE / script),
        *args,
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def by_rank(out: str) -> dict[tuple[int, str], str]:
    lines = {}
    for line in out.splitlines():
        m = re.match(r"^([01]) (\S+) ?(.*)$", line)
        if m:
            lines[(int(m.group(1)), m.group(2))] = m.group(3)
    return lines


def test_collectives_and_point_to_point_on_two_ranks():
    got = by_rank(torchrun("collectives.tcl").stdout)
    for rank in (0, 1):
        assert got[(rank, "world")] == "2" and got[(rank, "distributed")] == "1"
        assert got[(rank, "all_reduce")] == "3.0"  # (0+1) + (1+1)
        assert got[(rank, "all_reduce_max")] == "1.0 10.0"
        assert got[(rank, "all_reduce_avg")] == "1.0"
        assert got[(rank, "all_reduce_async")] == "2.0 4.0"
        assert got[(rank, "broadcast")] == "1.0 1.0"  # rank 1's tensor everywhere
        assert got[(rank, "bad_src")] == '{invalid -src "5": must be a rank from 0 to 1} {TORCH VALUE -src}'
        assert got[(rank, "after")] == "0/0/1"
        assert got[(rank, "not_init")] == "TORCH DISTRIBUTED NOTINIT"
    assert got[(0, "gather")] == "{0.0 0.0} {1.0 1.0}" and got[(1, "gather")] == ""
    # scatter: rank 0's {100 1 2 3} split in two
    assert got[(0, "scatter")] == "100.0 1.0" and got[(1, "scatter")] == "2.0 3.0"
    # reduce_scatter: {0 1 2 3} + {1 1 2 3} = {1 2 4 6}, rank i gets chunk i
    assert got[(0, "reduce_scatter")] == "1.0 2.0" and got[(1, "reduce_scatter")] == "4.0 6.0"
    # all_to_all: rank r sends {10r} to rank 0 and {10r+1} to rank 1
    assert got[(0, "all_to_all")] == "0.0 10.0" and got[(1, "all_to_all")] == "1.0 11.0"
    assert got[(1, "recv")] == "5.0 6.0 7.0" and got[(1, "irecv")] == "{1.0 2.0} {3.0 4.0}"
    assert got[(1, "test")] == "1" and got[(0, "sent")] == "1"
    assert got[(0, "rank0")] == "42" and got[(1, "rank0")] == ""


def test_ddp_adafactor_equals_one_process_on_the_whole_batch():
    from tcltorch.optim import Adafactor

    out = torchrun("ddp_adafactor.tcl").stdout
    params = [line[len("param ") :] for line in out.splitlines() if line.startswith("param ")]
    assert len(params) == 2, out
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    torch.manual_seed(1)
    x, y = torch.randn(32, 4), torch.randn(32, 3)
    opt = Adafactor(model.parameters())
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
    weight = torch.tensor(
        [[float(v) for v in row.strip("{}").split()] for row in re.findall(r"\{[^}]*\}", params[0])]
    )
    bias = torch.tensor([float(v) for v in params[1].split()])
    torch.testing.assert_close(weight, model.weight.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(bias, model.bias.detach(), atol=1e-5, rtol=0)
    assert not torch.allclose(weight, torch.nn.Linear(4, 3).weight.detach())  # it did train


@pytest.mark.parametrize("mode,slowest", [("dies", 15.0), ("timeout", 15.0)])
def test_a_dead_or_silent_rank_is_a_tcl_error_not_a_hang(mode, slowest):
    env = tclsh_env(
        OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2"
    )
    script = str(HERE / "failures.tcl")
    other = subprocess.Popen(
        ["tclsh", script, mode],
        env={**env, "RANK": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        proc = subprocess.run(
            ["tclsh", script, mode],
            check=False,
            env={**env, "RANK": "0"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        other.kill()
        other.wait()
    fields = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert fields.get("code") == "1", proc.stdout + proc.stderr[-2000:]
    assert fields["errorcode"] == "TORCH DISTRIBUTED FAILED"
    assert fields["message"].startswith("all_reduce failed on rank 0: ")
    assert float(fields["seconds"]) < slowest


def test_without_torchrun_init_says_what_to_do(interp):
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    assert "RANK" not in env
    with pytest.raises(Exception) as info:
        interp.eval("torch::distributed_init")
    if "RANK" in os.environ:
        pytest.skip("running under a launcher")
    assert "torchrun" in str(info.value)
    assert info.value.errorcode == ["TORCH", "ARGS", "REQUIRED", "-rank"]
    assert interp.eval("torch::is_distributed") == "0"
    assert interp.eval("torch::get_rank") == "0" and interp.eval("torch::get_world_size") == "1"
    with pytest.raises(Exception) as info:
        interp.eval("torch::distributed_barrier")
    assert info.value.errorcode == ["TORCH", "DISTRIBUTED", "NOTINIT"]


def test_digits_demo_on_two_ranks_matches_one_process(tmp_path):
    """examples/train_digits.tcl runs unchanged under torchrun: each rank computes half of every
    mini-batch through torch::ddp, so the epochs match the one-process run's."""
    demo = str(ROOT / "examples" / "train_digits.tcl")
    env = tclsh_env(OMP_NUM_THREADS="1")
    one = subprocess.run(
        ["tclsh", demo, "--fresh", "--epochs", "2", "--checkpoint", str(tmp_path / "one.ckpt")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            str(TORCHRUN),
            "--standalone",
            "--nproc-per-node",
            "2",
            "--no-python",
            "tclsh",
            demo,
            "--fresh",
            "--epochs",
            "2",
            "--checkpoint",
            str(tmp_path / "two.ckpt"),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-2000:]
    assert "distributed: 2 ranks" in two.stdout
    epochs = [
        re.findall(r"epoch +(\d+)/2 +train loss ([\d.]+) +held-out accuracy +([\d.]+)%", p.stdout)
        for p in (one, two)
    ]
    assert len(epochs[0]) == len(epochs[1]) == 2  # rank 0 alone prints
    for (e1, loss1, acc1), (e2, loss2, acc2) in zip(*epochs):
        assert e1 == e2 and abs(float(loss1) - float(loss2)) < 2e-3 and abs(float(acc1) - float(acc2)) < 1.0
    assert (tmp_path / "two.ckpt").exists()
