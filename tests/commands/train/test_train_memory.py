"""A training loop written with torch::scope runs 10,000 steps in constant handles and memory.

This is a correctness property (nothing leaks per step), not a timing: the model is tiny so
that the 10,000 steps are quick.  A control run of the same loop without the scope shows that
the measurement does see a per-step leak.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tcltorch

TOLERANCE = 4 * 2**20  # bytes of RSS growth allowed over 9,000 steps (allocator noise)

LOOP = """
torch::manual_seed 0
set model [torch::sequential [torch::linear 4 8] [torch::relu] [torch::linear 8 2]]
set opt [torch::optimizer_sgd $model 0.05 0.9]
set x [torch::randn {16 4}]
set y [torch::tensor_argmax [torch::randn {16 2}] 1]
proc train {steps} {
    global model opt x y
    for {set i 0} {$i < $steps} {incr i} {
        set loss [torch::scope {
            torch::optimizer_zero_grad $opt
            set l [torch::cross_entropy_loss [torch::layer_forward $model $x] $y]
            torch::tensor_backward $l
            torch::optimizer_step $opt
            set l
        }]
        torch::free $loss
    }
}
proc train_without_scope {steps} {
    global model opt x y
    for {set i 0} {$i < $steps} {incr i} {
        torch::optimizer_zero_grad $opt
        set l [torch::cross_entropy_loss [torch::layer_forward $model $x] $y]
        torch::tensor_backward $l
        torch::optimizer_step $opt
    }
}
"""

LOSS = "torch::scope {torch::tensor_item [torch::cross_entropy_loss [torch::layer_forward $model $x] $y]}"


def rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status on this system")


@pytest.fixture
def loop():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        interp = tcltorch.Interp()
        interp.eval(LOOP)
        yield interp
    finally:
        torch.set_num_threads(threads)


def test_scoped_loop_is_flat_for_10000_steps(loop):
    loop.eval("train 1000")  # warm-up: optimizer state, allocator pools, interned strings
    handles, memory = loop.handles(), rss()
    loss_before = float(loop.eval(LOSS))
    assert loop.handles() == handles
    loop.eval("train 9000")
    assert loop.handles() == handles
    growth = rss() - memory
    assert growth < TOLERANCE, f"RSS grew by {growth / 2**20:.1f} MiB over 9,000 steps"
    loss_after = float(loop.eval(LOSS))
    assert loss_after < loss_before  # it really trained


def test_the_measurement_sees_a_leak():
    """The control runs in a fresh process: there, the heap has no free memory left over from
    earlier tests that could absorb the leak without the RSS growing."""
    script = """
import torch, tcltorch
from test_train_memory import LOOP, TOLERANCE, rss
torch.set_num_threads(1)
loop = tcltorch.Interp()
loop.eval(LOOP)
loop.eval("train 200")
handles, memory = len(loop.handles()), rss()
loop.eval("train_without_scope 3000")
print(len(loop.handles()) - handles, rss() - memory, TOLERANCE)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    new_handles, growth, tolerance = map(int, proc.stdout.split())
    assert new_handles == 2 * 3000  # each step's logits and loss
    assert growth > tolerance, f"RSS grew by only {growth / 2**20:.1f} MiB"
