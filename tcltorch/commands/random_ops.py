"""Random numbers: the generator's seed and state, and samples from the common
distributions, drawn by torch's own samplers so that a seeded run gives exactly
what the same torch calls give in Python."""

from __future__ import annotations

import torch

from tcltorch.commands.spec import Bool, Double, Handle, Int, Opt, Shape, command
from tcltorch.commands.tensors import TensorOrNumber, _device, _dtype
from tcltorch.errors import TclError, invalid_value


@command("initial_seed", summary="The seed the default generator started from (set by manual_seed).")
def initial_seed() -> int:
    return torch.initial_seed()


@command("seed", summary="Seed the default generator from a non-deterministic source; returns the seed.")
def seed() -> int:
    return torch.seed()


@command("get_rng_state", summary="The default CPU generator's state as a uint8 tensor (for set_rng_state).")
def get_rng_state() -> torch.Tensor:
    return torch.get_rng_state()


@command(
    "set_rng_state",
    Opt(
        "state",
        Handle("tensor"),
        help="a state from torch::get_rng_state",
        aliases=("stateTensor", "state_tensor"),
    ),
    summary="Restore the default CPU generator's state: the draws that followed it repeat exactly.",
)
def set_rng_state(state: torch.Tensor) -> None:
    expected = torch.get_rng_state()
    if state.dtype != torch.uint8 or state.shape != expected.shape:
        raise invalid_value(
            "-state", "", f"must be a uint8 tensor of {expected.numel()} bytes from torch::get_rng_state"
        )
    torch.set_rng_state(state.detach().cpu())


def _size(default: tuple[int, ...] | None = (1,)) -> Opt:
    return Opt("size", Shape(), default=default, help="shape of the result", aliases=("shape",))


@command(
    "bernoulli",
    Opt(
        "input",
        Handle("tensor"),
        help="probabilities in [0, 1] (or only the shape, with -p)",
        aliases=("tensor",),
    ),
    Opt(
        "p",
        Double(ge=0, le=1),
        default=None,
        help="one probability for every element",
        aliases=("probability",),
    ),
    summary="0/1 samples: each element is 1 with its probability (torch.bernoulli).",
)
def bernoulli(input: torch.Tensor, p: float | None) -> torch.Tensor:
    if p is None:
        if not input.is_floating_point():
            raise invalid_value("-input", "", "must hold floating-point probabilities (or give -p)")
        return torch.bernoulli(input)
    return torch.bernoulli(
        torch.empty_like(input, dtype=torch.float32 if not input.is_floating_point() else input.dtype), p
    )


@command(
    "multinomial",
    Opt(
        "input",
        Handle("tensor"),
        help="non-negative weights: one row per distribution (1-d or 2-d)",
        aliases=("tensor",),
    ),
    Opt("numSamples", Int(ge=1), help="samples per row", aliases=("num_samples",)),
    Opt("replacement", Bool(), default=False, help="draw with replacement"),
    summary="Indices drawn from categorical distributions given by weights (torch.multinomial).",
)
def multinomial(input: torch.Tensor, num_samples: int, replacement: bool) -> torch.Tensor:
    if input.dim() not in (1, 2):
        raise invalid_value("-input", "", "must be a 1-d or 2-d tensor of weights")
    categories = input.shape[-1]
    if not replacement and num_samples > categories:
        raise invalid_value(
            "-numSamples",
            str(num_samples),
            f"must be at most {categories} (the number of categories) without -replacement 1",
        )
    if not input.is_floating_point():
        input = input.double()
    return torch.multinomial(input, num_samples, replacement)


@command(
    "normal",
    Opt("mean", TensorOrNumber, default=0.0, help="mean: a number, or a tensor of means"),
    Opt("std", TensorOrNumber, default=1.0, help="standard deviation (> 0): a number, or a tensor"),
    _size(None),
    _dtype(),
    _device(),
    summary="Samples from normal distributions (torch.normal).",
)
def normal(mean, std, size, dtype, device):
    if not isinstance(std, torch.Tensor) and not std > 0:
        raise invalid_value("-std", str(std), "must be a number > 0")
    if isinstance(mean, torch.Tensor) or isinstance(std, torch.Tensor):
        if size is not None:
            raise TclError(
                "-size cannot be given with tensor -mean or -std: their shape is the result's",
                ["TORCH", "ARGS", "-size"],
            )
        mean_t = mean if isinstance(mean, torch.Tensor) else torch.tensor(float(mean))
        std_t = std if isinstance(std, torch.Tensor) else torch.tensor(float(std))
        mean_t, std_t = torch.broadcast_tensors(mean_t.to(dtype), std_t.to(dtype))
        return torch.normal(mean_t, std_t)
    return torch.normal(float(mean), float(std), size or (1,), dtype=dtype, device=device)


def _rate(name: str, help: str, aliases: tuple[str, ...] = ()) -> Opt:
    return Opt(name, Double(gt=0), default=1.0, help=help, aliases=aliases)


@command(
    "uniform",
    _size(),
    Opt("low", Double(finite=True), default=0.0, help="lower bound (inclusive)", aliases=("from", "a")),
    Opt("high", Double(finite=True), default=1.0, help="upper bound (exclusive)", aliases=("to", "b")),
    _dtype(),
    _device(),
    summary="Samples uniform on [low, high) (Tensor.uniform_).",
)
def uniform(size, low, high, dtype, device):
    if not high > low:
        raise invalid_value("-high", repr(high), f"must be greater than -low ({low!r})")
    return torch.empty(size, dtype=dtype, device=device).uniform_(low, high)


@command(
    "exponential",
    _size(),
    _rate("rate", "rate lambda (> 0); the mean is 1/rate", ("lambd", "lambda")),
    _dtype(),
    _device(),
    summary="Samples from an exponential distribution (Tensor.exponential_).",
)
def exponential(size, rate, dtype, device):
    return torch.empty(size, dtype=dtype, device=device).exponential_(rate)


@command(
    "gamma",
    _size(),
    _rate("alpha", "shape (concentration) > 0", ("concentration", "shape_param")),
    _rate("beta", "rate > 0 (the mean is alpha/beta)", ("rate",)),
    _dtype(),
    _device(),
    summary="Samples from a gamma distribution with shape alpha and rate beta (torch.distributions.Gamma).",
)
def gamma(size, alpha, beta, dtype, device):
    if not dtype.is_floating_point:
        raise invalid_value("-dtype", str(dtype).replace("torch.", ""), "must be a floating-point dtype")
    dist = torch.distributions.Gamma(
        torch.tensor(alpha, dtype=dtype, device=device), torch.tensor(beta, dtype=dtype, device=device)
    )
    return dist.sample(size)


@command(
    "poisson",
    _size(),
    _rate("rate", "rate lambda > 0 (the mean)", ("lambda", "lambd", "lam")),
    _dtype(),
    _device(),
    summary="Samples from a Poisson distribution (torch.poisson), as whole numbers of -dtype.",
)
def poisson(size, rate, dtype, device):
    return torch.poisson(
        torch.full(
            size, rate, dtype=torch.float64 if dtype == torch.float64 else torch.float32, device=device
        )
    ).to(dtype)
