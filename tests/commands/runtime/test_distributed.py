"""torch.distributed from Tcl: two ranks on 127.0.0.1 with gloo, started by torchrun (or as
two plain tclsh processes) from the test itself, each run bounded by a timeout."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
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
        assert got[(rank, "alone")] == "1.0"  # without a group: a one-process group (identity)
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


@pytest.mark.parametrize("mode,slowest", [("dies", 15.0), ("timeout", 15.0), ("ddp", 15.0)])
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
    if mode == "ddp":  # raised inside autograd: gloo's text, translated
        assert fields["errorcode"] == "TORCH RuntimeError"
        assert fields["message"].startswith("a distributed operation failed (a DDP gradient reduction")
        assert "torch::distributed_destroy" in fields["message"]
    else:
        assert fields["errorcode"] == "TORCH DISTRIBUTED FAILED"
        assert fields["message"].startswith("all_reduce failed on rank 0: ")
    assert float(fields["seconds"]) < slowest


def test_ranks_that_disagree_get_a_tcl_error_on_every_rank_not_an_abort():
    got = by_rank(torchrun("mismatch.tcl").stdout)
    mismatch = "1 {TORCH DISTRIBUTED MISMATCH}"
    for rank in (0, 1):
        for case in (
            "all_reduce_shape",
            "all_reduce_dtype",
            "all_reduce_op",
            "gather_shape",
            "broadcast_shape",
        ):
            assert got[(rank, case)].startswith(mismatch), (rank, case, got.get((rank, case)))
        assert "(rank 0 float32 {2}, rank 1 float32 {3})" in got[(rank, "all_reduce_shape")]
        assert "(rank 0 float32 {2}, rank 1 float64 {2})" in got[(rank, "all_reduce_dtype")]
        assert "(rank 0 -op sum, rank 1 -op max)" in got[(rank, "all_reduce_op")]
        assert (
            "weight is float32 {3 4} on rank 0 but weight is float32 {4 4} on rank 1"
            in got[(rank, "ddp_models")]
        )
        assert got[(rank, "after")] == "2.0 2.0"  # the group is still usable
    # point to point: the receiver gets the error (the sender's data is taken, so it is not stuck)
    assert "rank 0 sent float32 {3}, this rank expects float32 {4}" in got[(1, "send_larger")]
    assert "rank 0 sent float32 {3}, this rank expects int64 {3}" in got[(1, "send_dtype")]
    assert "rank 0 sent float32 {5}, this rank expects float32 {3}" in got[(1, "isend_smaller")]
    for case in ("send_larger", "send_dtype", "isend_smaller"):
        assert got[(1, case)].startswith(mismatch) and got[(0, case)] == "0 {} {}"


@pytest.mark.parametrize("mode", ["init", "collective"])
def test_ctrl_c_stops_a_waiting_init_or_collective_within_a_second(mode):
    """The Python host evaluates under Interp.interruptible() (as the console does); the other
    rank never comes (init) or never calls the collective: SIGINT must end the wait at once."""
    env = tclsh_env(
        OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), WORLD_SIZE="2"
    )
    other = None
    if mode == "collective":
        other = subprocess.Popen(
            ["tclsh", "/dev/stdin"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "RANK": "1"},
            text=True,
        )
        other.stdin.write(
            "package require tcltorch\ntorch::distributed_init -backend gloo -timeout 60\nafter 60000\n"
        )
        other.stdin.close()
    rank0 = subprocess.Popen(
        [sys.executable, str(HERE / "interrupt.py"), mode],
        env={**env, "RANK": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert rank0.stdout.readline().strip() == "waiting"
        time.sleep(1.5)  # well inside the wait (the timeout is 60 s)
        sent = time.monotonic()
        rank0.send_signal(signal.SIGINT)
        lines = []
        for line in rank0.stdout:
            lines.append(line.strip())
            if line.startswith("after "):
                took = time.monotonic() - sent
        rank0.wait(timeout=30)
    finally:
        rank0.kill()
        if other is not None:
            other.kill()
            other.wait()
    print(f"Ctrl-C in a waiting {mode}: stopped {took:.3f} s after SIGINT")
    assert lines[0] == "result interrupted", lines + [rank0.stderr.read()[-2000:]]
    assert lines[2] == "alive 42" and rank0.returncode == 0  # the interpreter still answers
    assert took < 1.0


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
    assert interp.eval("torch::distributed_barrier") == ""  # alone: nothing to wait for
    with pytest.raises(Exception) as info:
        interp.eval("torch::distributed_send [torch::zeros 1] 0")
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


def _parse_rows(text: str) -> torch.Tensor:
    if text.startswith("{"):
        return torch.tensor([[float(v) for v in row.split()] for row in re.findall(r"\{([^}]*)\}", text)])
    return torch.tensor([float(v) for v in text.split()])


@pytest.mark.slow
def test_fsdp2_adafactor_equals_the_unsharded_step(tmp_path):
    """FSDP2 (2 ranks, per layer and root) with tcltorch Adafactor, reference and foreach, four
    option sets (relative step, momentum, weight decay, clipping, fixed lr; float32 and float64):
    after 5 steps the full weights equal one unsharded process's; each rank's state is its shard's."""
    sys.path.insert(0, str(HERE))
    from fsdp_model import CONFIGS, batch, make_model

    from tcltorch.optim import Adafactor

    env = tclsh_env(OMP_NUM_THREADS="1")
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc-per-node",
        "2",
        str(HERE / "fsdp_adafactor.py"),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sharded = torch.load(tmp_path / "sharded.pt")
    for name, (dtype, options) in CONFIGS.items():
        for impl in ("reference", "foreach"):
            model = make_model(dtype)
            opt = Adafactor(model.parameters(), implementation=impl, **options)
            x, y = batch(dtype)
            for _ in range(5):
                opt.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                opt.step()
            got = sharded[(name, impl)]
            bound = 1e-6 if dtype == torch.float32 else 1e-12
            for pname, p in model.named_parameters():
                rel = ((got["params"][pname] - p.detach()).abs().max() / p.detach().abs().max()).item()
                assert rel <= bound, (name, impl, pname, rel)
            per_rank, whole = got["state_bytes"], opt.state_bytes()
            print(f"{name} {impl}: state bytes per rank {per_rank}, unsharded {whole}")
            # each rank holds its shard's state; a row-split matrix keeps its (small) column vector whole
            assert max(per_rank) < 0.7 * whole and sum(per_rank) >= whole
            if options.get("beta1", -1) >= 0:
                assert max(per_rank) < 0.6 * whole


def test_fully_shard_from_tcl_trains_like_one_process():
    out = torchrun("fsdp_train.tcl").stdout
    got: dict[int, list[str]] = {0: [], 1: []}
    for line in out.splitlines():
        m = re.match(r"^([01]) param (.*)$", line)
        if m:
            got[int(m.group(1))].append(m.group(2))
    assert len(got[0]) == 4 and got[0] == got[1], out[-2000:]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 5))
    torch.manual_seed(1)
    x, y = torch.randn(16, 8), torch.randn(16, 5)
    from tcltorch.optim import Adafactor

    opt = Adafactor(model.parameters(), beta1=0.9, weight_decay=0.01)
    norms = []
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
        opt.step()
    for text, p in zip(got[0], model.parameters()):
        torch.testing.assert_close(_parse_rows(text), p.detach(), rtol=1e-5, atol=1e-6)
    printed = [float(v) for v in re.findall(r"^0 norm (\S+)$", out, re.MULTILINE)]
    assert printed == pytest.approx(norms, rel=1e-5)  # clip_grad_norm: the norm over every shard
    states = dict(re.findall(r"^([01]) state_bytes (\d+)$", out, re.MULTILINE))
    assert int(states["0"]) < 0.6 * opt.state_bytes() and int(states["1"]) < 0.6 * opt.state_bytes()


def _params_by_rank(out: str) -> dict[int, list[torch.Tensor]]:
    got: dict[int, list[torch.Tensor]] = {}
    for line in out.splitlines():
        m = re.match(r"^([01]) param (.*)$", line)
        if m:
            got.setdefault(int(m.group(1)), []).append(_parse_rows(m.group(2)))
    return got


def _tclsh(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        ["tclsh", str(HERE / script), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env or tclsh_env(OMP_NUM_THREADS="1"),
        timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _assert_same_weights(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    assert len(got) == len(want) == 4
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.slow
def test_distributed_checkpoint_reshards_from_2_ranks_to_1_and_from_1_to_2(tmp_path):
    """torch::save_checkpoint of a torch::fully_shard model writes a DCP directory (each rank its
    shards); it loads into an unsharded model in one process (2 -> 1) and a one-process save
    (-format distributed) loads into a sharded model on 2 ranks (1 -> 2): training continues as
    the uninterrupted run (5 steps: 3, save, 2)."""
    two = tmp_path / "two.dcp"
    one = tmp_path / "one.dcp"
    out = torchrun("dcp_checkpoint.tcl", "-save", str(two), "-saveAt", "3", "-steps", "5").stdout
    sharded = _params_by_rank(out)
    _assert_same_weights(sharded[1], sharded[0])
    words = re.search(r"^0 info (.*)$", out, re.MULTILINE).group(1).split()
    fields = dict(zip(words[::2], words[1::2]))
    assert fields["kind"] == "distributed" and fields["world_size"] == "2" and fields["epoch"] == "3"
    assert fields["steps"] == "3" and fields["optimizer"] == "Adafactor" and fields["elements"] == "89"
    assert sorted(p.name for p in two.iterdir()) == [
        ".metadata",
        "__0_0.distcp",
        "__1_0.distcp",
        "tcltorch.pt",
    ]
    assert not list(tmp_path.glob(".*partial*"))  # the temporary directory was renamed

    resumed = _tclsh("dcp_checkpoint.tcl", "-load", str(two), "-steps", "2").stdout
    assert "0 loaded epoch 3 loss 0.5" in resumed
    _assert_same_weights(_params_by_rank(resumed)[0], sharded[0])  # 2 ranks -> 1, unsharded

    whole = _tclsh(
        "dcp_checkpoint.tcl", "-save", str(one), "-saveAt", "3", "-steps", "5", "-format", "distributed"
    ).stdout
    unsharded = _params_by_rank(whole)[0]
    _assert_same_weights(unsharded, sharded[0])
    assert "world_size 1" in whole
    out = torchrun("dcp_checkpoint.tcl", "-load", str(one), "-steps", "2").stdout
    again = _params_by_rank(out)
    assert "0 loaded epoch 3 loss 0.5" in out and "1 loaded epoch 3 loss 0.5" in out
    _assert_same_weights(again[0], unsharded)  # 1 -> 2 ranks, sharded
    _assert_same_weights(again[1], unsharded)


def _elastic(tmp_path, name: str, *args: str, restarts: int = 0) -> subprocess.CompletedProcess:
    cmd = [
        str(TORCHRUN),
        "--standalone",
        "--nproc-per-node",
        "2",
        "--max-restarts",
        str(restarts),
        "--no-python",
        "tclsh",
        str(ROOT / "examples" / "elastic_train.tcl"),
        "--steps",
        "10",
        "--every",
        "4",
        "--dir",
        str(tmp_path / name),
        *args,
    ]
    env = tclsh_env(OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_elastic_run_survives_a_killed_rank_and_ends_as_an_uninterrupted_run(tmp_path):
    """examples/elastic_train.tcl under torchrun --max-restarts 1: rank 1 SIGKILLs itself after
    step 6 on the first attempt; torchrun restarts both ranks, they resume from the step-4
    distributed checkpoint, and the final weights are those of a run that was never killed."""
    started = time.monotonic()
    killed = _elastic(tmp_path, "killed", "--kill-at", "6", restarts=1)
    took = time.monotonic() - started
    out = killed.stdout
    assert "rank 1: killing itself after step 6 (attempt 0)" in out
    assert "attempt 1: resumed after step 4" in out, out[-2000:]
    # torchrun saw the attempt fail: it names the first failure it noticed, rank 1's SIGKILL or,
    # on a loaded machine, rank 0 ending with an error after it found its peer gone
    seen = re.findall(r"failed \(exitcode: (-?\d+)\) local_rank: (\d)", killed.stderr)
    assert seen and seen[0] in (("-9", "1"), ("1", "0")), killed.stderr[-2000:]
    whole = _elastic(tmp_path, "whole").stdout
    assert "attempt 1" not in whole
    final = lambda text: re.findall(r"^final (\S+) (.*)$", text, re.MULTILINE)
    assert len(final(out)) == 4 and final(out) == final(whole)  # the very same numbers
    steps = dict(re.findall(r"^step (\d+) loss (\S+)$", whole, re.MULTILINE))
    redone = re.findall(r"^step (\d+) loss (\S+)$", out.split("attempt 1:")[1], re.MULTILINE)
    assert [s for s, _ in redone] == [str(i) for i in range(5, 11)]
    assert all(steps[s] == loss for s, loss in redone)
    print(f"elastic run with a killed rank and one restart: {took:.1f} s")


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=False, capture_output=True, text=True, timeout=30)


@pytest.mark.slow
def test_two_hosts_over_a_veth_pair_train_like_one_process(tmp_path):
    """The README's multi-machine torchrun line on two "hosts": network namespaces joined by a
    veth pair (10.77.0.1 and 10.77.0.2), one rank in each, rendezvous over TCP between them.
    The sharded run (torch::fully_shard + Adafactor, 5 steps) equals one process, and its
    distributed checkpoint (written by both hosts into one directory) loads in one process."""
    import shutil
    import uuid

    if shutil.which("ip") is None:
        pytest.skip("the ip command (iproute2) is not installed")
    tag = uuid.uuid4().hex[:6]
    hosts = [f"tt{tag}a", f"tt{tag}b"]
    links = [f"tv{tag}a", f"tv{tag}b"]
    addresses = ["10.77.0.1", "10.77.0.2"]
    probe = _ip("netns", "add", hosts[0])
    if probe.returncode != 0:
        pytest.skip(f"cannot create network namespaces here (ip netns add: {probe.stderr.strip()})")
    procs: list[subprocess.Popen] = []
    try:
        for step in (
            ("netns", "add", hosts[1]),
            ("link", "add", links[0], "type", "veth", "peer", "name", links[1]),
            ("link", "set", links[0], "netns", hosts[0]),
            ("link", "set", links[1], "netns", hosts[1]),
            ("-n", hosts[0], "addr", "add", f"{addresses[0]}/24", "dev", links[0]),
            ("-n", hosts[1], "addr", "add", f"{addresses[1]}/24", "dev", links[1]),
            ("-n", hosts[0], "link", "set", links[0], "up"),
            ("-n", hosts[1], "link", "set", links[1], "up"),
            ("-n", hosts[0], "link", "set", "lo", "up"),
            ("-n", hosts[1], "link", "set", "lo", "up"),
        ):
            done = _ip(*step)
            assert done.returncode == 0, (step, done.stderr)
        for host, address in zip(hosts, addresses):  # each host sees its own address only
            shown = _ip("-n", host, "-brief", "addr", "show").stdout
            assert address in shown and addresses[1 - hosts.index(host)] not in shown, shown
        ckpt = tmp_path / "two_hosts.dcp"
        started = time.monotonic()
        for i, (host, link, address) in enumerate(zip(hosts, links, addresses)):
            # the README's line, one rank per host; the machine's host name does not resolve to
            # the veth addresses inside a namespace, hence is_host, --local-addr, GLOO_SOCKET_IFNAME
            cmd = [
                "ip", "netns", "exec", host,
                str(TORCHRUN), "--nnodes", "2", "--nproc-per-node", "1",
                "--rdzv-backend", "c10d", "--rdzv-endpoint", f"{addresses[0]}:29400",
                "--rdzv-id", f"veth{tag}", "--rdzv-conf", f"is_host={int(i == 0)},join_timeout=60",
                "--local-addr", address,
                "--no-python", "tclsh", str(HERE / "dcp_checkpoint.tcl"),
                "-save", str(ckpt), "-saveAt", "5", "-steps", "5",
            ]  # fmt: skip
            env = tclsh_env(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME=link)
            procs.append(
                subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            )
        outs = [p.communicate(timeout=240) for p in procs]
        took = time.monotonic() - started
        for p, (out, err) in zip(procs, outs):
            assert p.returncode == 0, out[-2000:] + err[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for host in hosts:
            _ip("netns", "del", host)  # takes its end of the veth pair with it
    assert not any(host in _ip("netns", "list").stdout for host in hosts)
    print(f"two namespaces, one rank each, 5 sharded steps and a checkpoint: {took:.1f} s")
    first, second = (_params_by_rank(out) for out, _ in outs)
    assert "0 info kind distributed" in outs[0][0] and "world_size 2" in outs[0][0]
    _assert_same_weights(second[1], first[0])
    alone = _params_by_rank(_tclsh("dcp_checkpoint.tcl", "-steps", "5").stdout)[0]
    _assert_same_weights(first[0], alone)
    resumed = _tclsh("dcp_checkpoint.tcl", "-load", str(ckpt), "-steps", "0").stdout
    _assert_same_weights(_params_by_rank(resumed)[0], alone)
