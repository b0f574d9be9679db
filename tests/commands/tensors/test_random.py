"""Random commands: seeded results equal torch's own calls with the same seed."""

from __future__ import annotations

import pytest
import torch

import tcltorch


def seeded(tcl, script: str, fn, seed: int = 1234):
    torch.manual_seed(seed)
    got = tcl.get(tcl.eval(script))
    torch.manual_seed(seed)
    want = fn()
    assert got.dtype == want.dtype and got.shape == want.shape
    assert torch.equal(got, want)  # same generator, same kernel: the draws are identical
    return got


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_distributions_equal_torch_with_the_same_seed(tcl, dtype):
    d = str(dtype).replace("torch.", "")
    seeded(tcl, f"torch::normal 2 0.5 {{2 3}} {d}", lambda: torch.normal(2.0, 0.5, (2, 3), dtype=dtype))
    seeded(tcl, f"torch::uniform {{4}} -1 3 {d}", lambda: torch.empty(4, dtype=dtype).uniform_(-1, 3))
    seeded(tcl, f"torch::exponential {{5}} 2.5 {d}", lambda: torch.empty(5, dtype=dtype).exponential_(2.5))
    seeded(
        tcl,
        f"torch::gamma {{3 2}} 2 0.5 {d}",
        lambda: torch.distributions.Gamma(
            torch.tensor(2.0, dtype=dtype), torch.tensor(0.5, dtype=dtype)
        ).sample((3, 2)),
    )
    seeded(tcl, f"torch::poisson {{6}} 4 {d}", lambda: torch.poisson(torch.full((6,), 4.0, dtype=dtype)))


def test_bernoulli_and_multinomial_equal_torch(tcl):
    p = torch.tensor([[0.1, 0.5, 0.9], [0.3, 0.3, 0.3]])
    name = tcl.put(p)
    seeded(tcl, f"torch::bernoulli {name}", lambda: torch.bernoulli(p))
    seeded(tcl, f"torch::bernoulli {name} 0.25", lambda: torch.bernoulli(torch.empty_like(p), 0.25))
    seeded(tcl, f"torch::multinomial {name} 2", lambda: torch.multinomial(p, 2))
    seeded(
        tcl,
        f"torch::multinomial -input {name} -numSamples 7 -replacement 1",
        lambda: torch.multinomial(p, 7, True),
    )


def test_normal_with_tensor_means(tcl):
    means = torch.tensor([0.0, 10.0, -10.0])
    name = tcl.put(means)
    seeded(tcl, f"torch::normal {name} 0.1", lambda: torch.normal(means, torch.full((3,), 0.1)))


def test_rng_state_round_trip_and_seeds(tcl):
    tcl.eval("torch::manual_seed 99")
    assert tcl.eval("torch::initial_seed") == "99"
    state = tcl.eval("torch::get_rng_state")
    first = tcl.get(tcl.eval("torch::randn {5}")).clone()
    tcl.eval(f"torch::set_rng_state {state}")
    assert torch.equal(tcl.get(tcl.eval("torch::randn {5}")), first)
    new_seed = int(tcl.eval("torch::seed"))
    assert torch.initial_seed() == new_seed


@pytest.mark.parametrize(
    "script,code",
    [
        ("torch::normal 0 0", ["TORCH", "VALUE", "-std"]),
        ("torch::uniform {2} 1 1", ["TORCH", "VALUE", "-high"]),
        ("torch::exponential {2} -1", ["TORCH", "VALUE", "-rate"]),
        ("torch::poisson {2} 0", ["TORCH", "VALUE", "-rate"]),
        ("torch::gamma {2} 1 1 int64", ["TORCH", "VALUE", "-dtype"]),
        ("torch::bernoulli [torch::zeros 2] 1.5", ["TORCH", "VALUE", "-p"]),
        ("torch::multinomial [torch::ones 3] 4", ["TORCH", "VALUE", "-numSamples"]),
        ("torch::set_rng_state [torch::zeros 3]", ["TORCH", "VALUE", "-state"]),
    ],
)
def test_bad_arguments_are_tcl_errors(tcl, script, code):
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval(script)
    assert info.value.errorcode == code
