"""Random numbers: the generator's seed and state, and samples from the common
distributions, drawn by torch's own samplers so that a seeded run gives exactly
what the same torch calls give in Python."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.spec import (
    Bool,
    Double,
    Handle,
    Int,
    Opt,
    Shape,
    command,
)
from tcltorch.commands.vocabulary import Seed, TensorOrNumber, _device, _dtype
from tcltorch.errors import TclError, invalid_value

FAMILY = "tensors/random"


@command(
    "manual_seed",
    Opt("seed", Seed, help="seed of torch's global random number generator"),
    summary="Seed the global random number generator.",
)
def manual_seed(seed):
    torch.manual_seed(seed)


@command(
    "initial_seed",
)
def initial_seed() -> int:
    """The seed the default generator started from (what `torch::manual_seed` set).

    ## Return Value

    An integer.

    Examples:
        torch::manual_seed 42
        puts [torch::initial_seed]   ;# -> 42
    """
    return torch.initial_seed()


@command(
    "seed",
)
def seed() -> int:
    """Seed the default generator from a non-deterministic source; returns the seed chosen.

    ## Return Value

    An integer (the new `torch::initial_seed`).

    Examples:
        set s [torch::seed]
        puts [expr {[torch::initial_seed] == $s}]   ;# -> 1
    """
    return torch.seed()


@command(
    "get_rng_state",
)
def get_rng_state() -> torch.Tensor:
    """The default CPU generator's state as a uint8 tensor, for `torch::set_rng_state`.

    ## Return Value

    A new tensor handle.

    Examples:
        set state [torch::get_rng_state]
        puts [torch::tensor_dtype $state]   ;# -> uint8
    """
    return torch.get_rng_state()


@command(
    "set_rng_state",
    Opt(
        "state",
        Handle("tensor"),
        help="a state from torch::get_rng_state",
        aliases=("stateTensor", "state_tensor"),
    ),
)
def set_rng_state(state: torch.Tensor) -> None:
    """Restore the default CPU generator's state: the draws that followed it repeat exactly.

    ## Return Value

    An empty string.

    Examples:
        set state [torch::get_rng_state]
        set a [torch::tensor_to_list [torch::rand {3}]]
        torch::set_rng_state $state
        puts [expr {$a eq [torch::tensor_to_list [torch::rand {3}]]}]   ;# -> 1
    """
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
    context=True,
)
def bernoulli(input: torch.Tensor, p: float | None, ctx: Any) -> torch.Tensor:
    """0/1 samples: each element is 1 with its probability (torch.bernoulli).

    Without `-p` the input's elements are the probabilities; with `-p` the input only gives the
    shape and every element has probability `-p`.

    ## Return Value

    A new tensor handle (the input's floating dtype).

    Examples:
        puts [torch::tensor_to_list [torch::bernoulli [torch::tensor_create {0 1 1 0}]]]   ;# -> 0.0 1.0 1.0 0.0
        puts [torch::tensor_to_list [torch::bernoulli [torch::zeros {3}] -p 1]]            ;# -> 1.0 1.0 1.0
    """
    if p is None:
        name = ctx.handles.name_of(input) or ""
        if not input.is_floating_point():
            raise invalid_value("-input", name, "must hold floating-point probabilities (or give -p)")
        if input.numel() and not bool(((input >= 0) & (input <= 1)).all()):
            # checked before the draw: a refusal leaves the generator as it was
            raise invalid_value("-input", name, "must hold probabilities from 0 to 1")
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
    context=True,
)
def multinomial(input: torch.Tensor, num_samples: int, replacement: bool, ctx: Any) -> torch.Tensor:
    """Indices drawn from categorical distributions given by non-negative weights (torch.multinomial).

    A 1-d input is one distribution, a 2-d input one per row. Without `-replacement 1` each row
    gives at most as many samples as it has categories. (The other implementation draws with
    replacement by default; tcltorch follows torch.)

    ## Return Value

    A new int64 tensor handle of indices.

    Examples:
        torch::manual_seed 0
        puts [torch::tensor_to_list [torch::multinomial [torch::tensor_create {0 0 1}] 2 1]]   ;# -> 2 2
        puts [lsort [torch::tensor_to_list [torch::multinomial [torch::ones 3] 3]]]            ;# -> 0 1 2
    """
    if input.dim() not in (1, 2):
        raise invalid_value(
            "-input", ctx.handles.name_of(input) or "", "must be a 1-d or 2-d tensor of weights"
        )
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
    extra_aliases=("Normal",),
)
def normal(mean, std, size, dtype, device):
    """Samples from normal distributions (torch.normal).

    With numbers for `-mean` and `-std` the result has shape `-size` (default {1}); with a tensor
    for either, the (broadcast) tensors give the shape and each element its own mean and standard
    deviation. The positional order is the other implementation's: mean std ?size? ?dtype? ?device?.

    ## Return Value

    A new tensor handle.

    Examples:
        torch::manual_seed 0
        set x [torch::normal 10 0.001 {2 2}]
        puts [torch::tensor_shape $x]   ;# -> 2 2
        puts [expr {abs([torch::tensor_item [torch::tensor_mean $x]] - 10) < 0.01}]   ;# -> 1
    """
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
)
def uniform(size, low, high, dtype, device):
    """Samples uniform on [low, high) (Tensor.uniform_).

    ## Return Value

    A new tensor handle.

    Examples:
        set u [torch::tensor_to_list [torch::uniform {100} -1 1]]
        puts [expr {[tcl::mathfunc::min {*}$u] >= -1 && [tcl::mathfunc::max {*}$u] < 1}]   ;# -> 1
    """
    if not high > low:
        raise invalid_value("-high", repr(high), f"must be greater than -low ({low!r})")
    return torch.empty(size, dtype=dtype, device=device).uniform_(low, high)


@command(
    "exponential",
    _size(),
    _rate("rate", "rate lambda (> 0); the mean is 1/rate", ("lambd", "lambda")),
    _dtype(),
    _device(),
)
def exponential(size, rate, dtype, device):
    """Samples from an exponential distribution with rate λ (Tensor.exponential_); the mean is 1/λ.

    ## Return Value

    A new tensor handle.

    Examples:
        set e [torch::exponential {1000} 4]
        puts [expr {abs([torch::tensor_item [torch::tensor_mean $e]] - 0.25) < 0.05}]   ;# -> 1
    """
    return torch.empty(size, dtype=dtype, device=device).exponential_(rate)


@command(
    "gamma",
    _size(),
    _rate("alpha", "shape (concentration) > 0", ("concentration", "shape_param")),
    _rate("beta", "rate > 0 (the mean is alpha/beta)", ("rate",)),
    _dtype(),
    _device(),
)
def gamma(size, alpha, beta, dtype, device):
    """Samples from a gamma distribution with shape α and rate β (torch.distributions.Gamma); the mean is α/β.

    ## Return Value

    A new tensor handle.

    Examples:
        set g [torch::gamma {2000} 3 2]
        puts [expr {abs([torch::tensor_item [torch::tensor_mean $g]] - 1.5) < 0.15}]   ;# -> 1
    """
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
    extra_aliases=("Poisson",),
)
def poisson(size, rate, dtype, device):
    """Samples from a Poisson distribution with rate λ (torch.poisson), as whole numbers of `-dtype`.

    ## Return Value

    A new tensor handle.

    Examples:
        set p [torch::poisson {5} 3 int64]
        puts [torch::tensor_dtype $p]   ;# -> int64
    """
    return torch.poisson(
        torch.full(
            size, rate, dtype=torch.float64 if dtype == torch.float64 else torch.float32, device=device
        )
    ).to(dtype)
