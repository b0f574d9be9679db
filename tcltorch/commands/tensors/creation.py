"""Tensor creation: from values (tensor_create), shapes (zeros, ones, full, empty, eye), ranges
(arange, linspace, logspace), random draws (rand, randn, randint, randperm) and the ``_like``
family that copies another tensor's shape, dtype and device."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from tcltorch.commands._tables import shown
from tcltorch.commands.spec import (
    DTYPE_ALIASES,
    DTYPES,
    Command,
    DType,
    Int,
    Opt,
    Shape,
    command,
    dtype_name,
    is_option_word,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import (
    Data,
    FiniteNumber,
    NonzeroNumber,
    Number,
    _Buffered,
    _device,
    _dtype,
    _float_dtype,
    _input,
    _named,
    _requires_grad,
    made,
)
from tcltorch.errors import TclError, wrong_args

FAMILY = "tensors/creation"


@command(
    "zeros",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with zeros.",
)
def zeros(shape, dtype, device, requires_grad):
    return made(torch.zeros(shape, dtype=dtype, device=device), requires_grad)


@command(
    "ones",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with ones.",
)
def ones(shape, dtype, device, requires_grad):
    return made(torch.ones(shape, dtype=dtype, device=device), requires_grad)


@command(
    "full",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    Opt("value", Number, help="fill value"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor filled with one value.",
)
def full(shape, value, dtype, device, requires_grad):
    return made(torch.full(shape, value, dtype=dtype, device=device), requires_grad)


def _is_dtype_word(word: str) -> bool:
    key = word.strip()
    return key.lower() in DTYPES or key in DTYPE_ALIASES or key.lower() in DTYPE_ALIASES


def _parse_tensor_create(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    # The other implementation's positional form: data dtype ?device? ?requiresGrad?.
    # A dtype name is never a shape, so a dtype in the second slot means that form.
    if len(args) >= 2 and not is_option_word(args[0], cmd._lookup) and _is_dtype_word(args[1]):
        words, rest = [args[0]], list(args[1:])
        for flag in ("-dtype", "-device", "-requiresGrad"):
            if not rest or is_option_word(rest[0], cmd._lookup):
                break
            words += [flag, rest.pop(0)]
        if rest and not is_option_word(rest[0], cmd._lookup):
            raise wrong_args(cmd.usage(invoked))
        args = (*words, *rest)
    return parse(ctx, args, invoked)


def _is_integer(dtype: torch.dtype) -> bool:
    return not (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)


def _check_fits(low: float, high: float, dtype: torch.dtype) -> None:
    """Refuse -data values outside an integer dtype's range (torch would wrap some of them)."""
    info = torch.iinfo(dtype)
    for value in (low, high):
        if not (math.isfinite(value) and info.min <= int(value) <= info.max):
            shown = int(value) if float(value).is_integer() else value
            raise TclError(
                f"invalid -data: {shown} does not fit in {dtype_name(dtype)} "
                f"(from {info.min} to {info.max}): give a wider -dtype",
                ["TORCH", "VALUE", "-data"],
            )


@command(
    "tensor_create",
    Opt("data", Data, help="a number or a rectangular nested list of numbers, any depth"),
    Opt("shape", Shape(), default=None, help="reshape the data to this shape"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A tensor from Tcl data.",
    parse_hook=_parse_tensor_create,
)
def tensor_create(data, shape, dtype, device, requires_grad):
    flat, data_shape, all_ints = data
    if isinstance(flat, _Buffered):
        if flat.buffer and _is_integer(dtype):
            raw = torch.frombuffer(flat.buffer, dtype=torch.int64 if all_ints else torch.float64)
            _check_fits(raw.min().item(), raw.max().item(), dtype)
        tensor = flat.tensor(all_ints, dtype, device)
    else:
        if flat and _is_integer(dtype):
            _check_fits(min(flat), max(flat), dtype)
        tensor = torch.tensor(flat, dtype=dtype, device=device)
    if shape is not None:
        numel = 1
        for d in shape:
            numel *= d
        if numel != tensor.numel():
            raise TclError(
                f'invalid -shape "{" ".join(map(str, shape))}": {tensor.numel()} values cannot take shape '
                f"{{{' '.join(map(str, shape))}}}",
                ["TORCH", "VALUE", "-shape"],
            )
        tensor = tensor.reshape(shape)
    else:
        tensor = tensor.reshape(data_shape)
    return made(tensor, requires_grad)


def _parse_random(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """``SHAPE DTYPE ?DEVICE?``: a dtype name is never a device, so a dtype in the device slot
    (the other implementation's scripts put it there) is the dtype."""
    lead = 0
    while lead < len(args) and not is_option_word(args[lead], cmd._lookup):
        lead += 1
    if lead in (2, 3) and _is_dtype_word(args[1]):
        named = ["-dtype", args[1], *(["-device", args[2]] if lead == 3 else [])]
        args = (args[0], *named, *args[lead:])
    return parse(ctx, args, invoked)


@command(
    "randn",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _device(),
    _dtype(),
    _requires_grad(),
    extra_aliases=("tensor_randn", "tensorRandn"),
    summary="A tensor of samples from the standard normal distribution.",
    parse_hook=_parse_random,
)
def randn(shape, device, dtype, requires_grad):
    return made(torch.randn(shape, dtype=_float_dtype(dtype), device=device), requires_grad)


@command(
    "rand",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor"),
    _device(),
    _dtype(),
    _requires_grad(),
    extra_aliases=("tensor_rand", "tensorRand"),
    summary="A tensor of samples from the uniform distribution on [0, 1).",
    parse_hook=_parse_random,
)
def rand(shape, device, dtype, requires_grad):
    return made(torch.rand(shape, dtype=_float_dtype(dtype), device=device), requires_grad)


def _dtype_first_words(cmd: Command, args: tuple[str, ...], numbers: int, flags: tuple[str, ...]) -> tuple:
    """The other implementation's ``NUMBER... DTYPE ?DEVICE? ...``: a dtype name among the first
    ``numbers`` positional words (where only numbers go) starts the ``flags`` words, given so."""
    lead = 0
    while lead < len(args) and not is_option_word(args[lead], cmd._lookup):
        lead += 1
    at = next((i for i in range(min(lead, numbers + 1)) if _is_dtype_word(args[i])), None)
    if at is None or at == numbers:
        return args
    tail = list(args[at:lead])
    if len(tail) > len(flags):
        return args  # too many words: the spec's own parse reports it
    named = [w for flag, value in zip(flags, tail, strict=False) for w in (flag, value)]
    return (*args[:at], *named, *args[lead:])


def _parse_arange(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    # A lone positional number is the end, as in torch.arange(5); a lone -start is not.
    # A dtype after one or two numbers (arange 5 int32, arange 0 10 float64) ends the numbers.
    args = _dtype_first_words(cmd, args, 3, ("-dtype", "-device", "-requiresGrad"))
    kwargs = parse(ctx, args, invoked)
    if kwargs["end"] is None and kwargs["start"] is not None and "start" in _named(cmd, args):
        raise TclError(
            'missing required option "-end": -start alone is no range (torch::arange 5 or -end 5 counts 0 to 4)',
            ["TORCH", "ARGS", "REQUIRED", "-end"],
        )
    return kwargs


@command(
    "arange",
    Opt("start", FiniteNumber, default=None, help="first value; a lone number is the end", default_doc="0"),
    Opt("end", FiniteNumber, default=None, help="end of the range, exclusive"),
    Opt("step", NonzeroNumber, default=1, help="distance between values"),
    Opt(
        "dtype",
        DType(),
        default=None,
        help="element type: int64 when start, end and step are all integers, else float32",
        default_doc="inferred",
    ),
    _device(),
    _requires_grad(),
    summary="A 1-d tensor of evenly spaced values in [start, end).",
    parse_hook=_parse_arange,
)
def arange(start, end, step, dtype, device, requires_grad):
    if end is None:
        if start is None:
            raise TclError('missing required option "-end"', ["TORCH", "ARGS", "REQUIRED", "-end"])
        start, end = 0, start
    if start is None:
        start = 0
    return made(torch.arange(start, end, step, dtype=dtype, device=device), requires_grad)


@command(
    "linspace",
    Opt("start", FiniteNumber, help="first value"),
    Opt("end", FiniteNumber, help="last value (included)"),
    Opt("steps", Int(ge=0), help="number of values"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A 1-d tensor of steps values evenly spaced from start to end.",
)
def linspace(start, end, steps, dtype, device, requires_grad):
    return made(torch.linspace(start, end, steps, dtype=dtype, device=device), requires_grad)


@command(
    "eye",
    Opt("n", Int(ge=0), help="number of rows"),
    Opt("m", Int(ge=0), default=None, help="number of columns", default_doc="n"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="A 2-d tensor with ones on the diagonal and zeros elsewhere.",
)
def eye(n, m, dtype, device, requires_grad):
    return made(torch.eye(n, n if m is None else m, dtype=dtype, device=device), requires_grad)


_LIKE = "the input's"  # the default of the _like commands' -dtype and -device


def _grad_dtype(dtype: torch.dtype, requires_grad: bool) -> None:
    """Refuse -requiresGrad for a dtype without gradients, before anything is drawn or made."""
    if requires_grad and not (dtype.is_floating_point or dtype.is_complex):
        raise TclError(
            "-requiresGrad needs a floating-point dtype, got " + str(dtype).replace("torch.", ""),
            ["TORCH", "VALUE", "-requiresGrad"],
        )


def _check_grad(tensor: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    _grad_dtype(tensor.dtype, requires_grad)
    return made(tensor, requires_grad)


LIKE_DOC = (
    "The result has the input's shape; its dtype and device are the input's unless `-dtype` / `-device` "
    "say otherwise. The input's values and autograd graph are not used: the result is a new leaf "
    "(trainable with `-requiresGrad true`, floating-point dtypes only)."
)


def _like_command(
    name: str, fn: Callable[..., torch.Tensor], summary: str, example: str, out: str, float_only: bool = False
) -> None:
    def run(input, dtype, device, requires_grad):
        tensor = fn(input, dtype=dtype, device=device)
        return _check_grad(tensor, requires_grad)

    run.__name__ = name
    extra = " The dtype must be floating point." if float_only else ""
    command(
        name,
        _input("tensor handle whose shape is copied"),
        _dtype(None, default_doc=_LIKE),
        _device(default_doc=_LIKE),
        _requires_grad(),
        summary=summary,
        doc=f"{summary}\n\nAs `torch.{name}`. {LIKE_DOC}{extra}",
        examples=[example + "\n" + out],
    )(run)


_REF = "set x [torch::tensor_create {{1 2 3} {4 5 6}} -dtype int64]"


_like_command(
    "zeros_like",
    torch.zeros_like,
    "A tensor of zeros with the input's shape.",
    _REF,
    shown("[torch::zeros_like $x]", "{0 0 0} {0 0 0}")
    + "\n"
    + shown("[torch::zerosLike -input $x -dtype float32]", "{0.0 0.0 0.0} {0.0 0.0 0.0}")
    + "\n",
)


_like_command(
    "ones_like",
    torch.ones_like,
    "A tensor of ones with the input's shape.",
    _REF,
    shown("[torch::ones_like $x]", "{1 1 1} {1 1 1}")
    + "\n"
    + shown("[torch::onesLike $x float64]", "{1.0 1.0 1.0} {1.0 1.0 1.0}")
    + "\n",
)


_like_command(
    "empty_like",
    torch.empty_like,
    "An uninitialised tensor with the input's shape (its values are whatever memory held).",
    _REF,
    "puts [torch::tensor_shape [torch::empty_like $x]]            ;# -> 2 3\n"
    "puts [torch::tensor_dtype [torch::emptyLike -input $x -dtype float64]]  ;# -> float64\n",
)


_like_command(
    "rand_like",
    torch.rand_like,
    "Uniform samples on [0, 1) with the input's shape.",
    "torch::manual_seed 0\nset x [torch::zeros {2 2}]",
    shown("[torch::rand_like $x]", "{0.4962566 0.7682218} {0.08847743 0.13203049}") + "\n",
    float_only=True,
)


_like_command(
    "randn_like",
    torch.randn_like,
    "Standard normal samples with the input's shape.",
    "torch::manual_seed 0\nset x [torch::zeros {3}]",
    shown(
        "[torch::randnLike -input $x -dtype float64]",
        "1.5409961082440433 -0.2934289057609464 -2.1787893820745574",
    )
    + "\n",
    float_only=True,
)


@command(
    "full_like",
    _input("tensor handle whose shape is copied"),
    Opt("value", Number, help="fill value", aliases=("fillValue", "fill_value")),
    _dtype(None, default_doc=_LIKE),
    _device(default_doc=_LIKE),
    _requires_grad(),
    summary="A tensor of the input's shape filled with one value.",
    doc=f"A tensor of the input's shape filled with one value.\n\nAs `torch.full_like`. {LIKE_DOC}",
    examples=[
        _REF
        + "\n"
        + shown("[torch::full_like $x 7]", "{7 7 7} {7 7 7}")
        + "\n"
        + shown("[torch::fullLike -input $x -value 0.5 -dtype float32]", "{0.5 0.5 0.5} {0.5 0.5 0.5}")
        + "\n"
    ],
)
def full_like(input, value, dtype, device, requires_grad):
    return _check_grad(torch.full_like(input, value, dtype=dtype, device=device), requires_grad)


def _bounds(low: int, high: int) -> None:
    if high <= low:
        raise TclError(f"-high ({high}) must be greater than -low ({low})", ["TORCH", "VALUE", "-high"])


@command(
    "randint_like",
    _input("tensor handle whose shape is copied"),
    Opt("high", Int(), help="upper bound, exclusive"),
    Opt("low", Int(), default=0, help="lower bound, inclusive"),
    _dtype(None, default_doc="int64"),
    _device(default_doc=_LIKE),
    _requires_grad(),
    summary="Random integers in [low, high) with the input's shape.",
    doc="Random integers in [low, high) with the input's shape.\n\n"
    "As `torch.randint_like(input, low, high)`; note the positional order `input high ?low?` (the other "
    "implementation's). The dtype is int64 unless `-dtype` says otherwise (a floating dtype holds the "
    "integers as floats). With `torch::manual_seed` the values equal PyTorch's for the same seed.",
    examples=[
        "torch::manual_seed 0\nset x [torch::zeros {2 3}]\n"
        + shown("[torch::randint_like $x 10]", "{4 9 3} {0 3 9}")
        + "\n"
        + shown("[torch::randintLike -input $x -low 5 -high 7]", "{6 6 6} {6 6 5}")
        + "\n"
    ],
)
def randint_like(input, high, low, dtype, device, requires_grad):
    _bounds(low, high)
    _grad_dtype(dtype or torch.int64, requires_grad)  # before the draw: a refusal leaves the generator
    tensor = torch.randint_like(input, low, high, dtype=dtype or torch.int64, device=device)
    return _check_grad(tensor, requires_grad)


def _torch_order(ctx: Any, words: tuple[str, ...]) -> tuple[str, ...] | None:
    """``low high size`` or ``high size`` (torch.randint's order) as this command's named form,
    when the words make a valid call that way (integers, then a list of integers last,
    low < high); else None."""
    if len(words) not in (2, 3):
        return None
    bounds = [parse_tcl_int(w) for w in words[:-1]]
    try:
        size = [parse_tcl_int(w) for w in ctx.split(words[-1], "-shape")]
    except TclError:
        return None
    if any(b is None for b in bounds) or any(d is None or d < 0 for d in size):
        return None
    low, high = (0, bounds[0]) if len(bounds) == 1 else (bounds[0], bounds[1])
    if high <= low:
        return None
    return ("-shape", words[-1], "-high", str(high), "-low", str(low))


def _parse_randint(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    # ``shape high ?low?`` is this command's order; PyTorch's ``low high size`` (or ``high size``)
    # is taken when the words cannot be ours but are a valid call in PyTorch's order:
    # torch::randint 0 10 {64} (as ours, low 64 would exceed high 10).
    first_option = next((i for i, w in enumerate(args) if is_option_word(w, cmd._lookup)), len(args))
    try:
        kwargs = parse(ctx, args, invoked)
    except TclError:
        theirs = _torch_order(ctx, args[:first_option])
        if theirs is None:
            raise
        return parse(ctx, theirs + args[first_option:], invoked)
    # as ours, low >= high is refused, and a lone 0 first is an empty tensor nobody asks for this way
    if kwargs["high"] <= kwargs["low"] or (first_option == 3 and kwargs["shape"] == (0,)):
        theirs = _torch_order(ctx, args[:first_option])
        if theirs is not None:
            return parse(ctx, theirs + args[first_option:], invoked)
    return kwargs


@command(
    "randint",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor", aliases=("size",)),
    Opt("high", Int(), help="upper bound, exclusive"),
    Opt("low", Int(), default=0, help="lower bound, inclusive"),
    _dtype(torch.int64),
    _device(),
    _requires_grad(),
    extra_aliases=("tensor_randint",),
    summary="Random integers in [low, high) of a given shape.",
    doc="Random integers in [low, high) of a given shape.\n\nAs `torch.randint(low, high, size)`, in the "
    "order of `torch::randint_like`: `shape high ?low?`. Seeded draws equal PyTorch's.\n\n"
    "PyTorch's own order, `low high size` or `high size` (`torch::randint 0 10 {64}`), is taken when "
    "the words cannot be read in this command's order but make a valid call in PyTorch's: integers "
    "first, a list of integers last, low < high (also `torch::randint 0 10 {5}`: read as this command's "
    "order it would be an empty tensor of shape {0}). Where both readings are valid (`torch::randint 4 10 2`: "
    "4 values in [2, 10), or 2 values in [4, 10)?) this command's order wins; name the options "
    "(`-shape {64} -low 0 -high 10`) to leave no doubt.",
    examples=[
        "torch::manual_seed 0\n"
        + shown("[torch::randint {2 3} 10]", "{4 9 3} {0 3 9}")
        + "\n"
        + shown("[torch::randint -shape {4} -low -1 -high 1]", "0 0 0 0")
        + "\n"
        + "puts [torch::tensor_shape [torch::randint 0 10 {64}]]   ;# -> 64\n"
    ],
    parse_hook=_parse_randint,
)
def randint(shape, high, low, dtype, device, requires_grad):
    _bounds(low, high)
    _grad_dtype(dtype, requires_grad)  # before the draw: a refusal leaves the generator as it was
    return _check_grad(torch.randint(low, high, shape, dtype=dtype, device=device), requires_grad)


@command(
    "randperm",
    Opt("n", Int(ge=0), help="length: the values 0 .. n-1"),
    _dtype(torch.int64),
    _device(),
    _requires_grad(),
    extra_aliases=("tensor_randperm",),
    summary="A random permutation of 0 .. n-1.",
    doc="A random permutation of 0 .. n-1.\n\nAs `torch.randperm(n)`; seeded draws equal PyTorch's.",
    examples=["torch::manual_seed 0\n" + shown("[torch::randperm 5]", "4 0 1 3 2") + "\n"],
)
def randperm(n, dtype, device, requires_grad):
    _grad_dtype(dtype, requires_grad)  # before the draw: a refusal leaves the generator as it was
    return _check_grad(torch.randperm(n, dtype=dtype, device=device), requires_grad)


@command(
    "empty",
    Opt("shape", Shape(), help="dimensions, {} for a 0-d tensor", aliases=("size",)),
    _dtype(),
    _device(),
    _requires_grad(),
    extra_aliases=("Empty",),
    summary="An uninitialised tensor of a given shape (its values are whatever memory held).",
    doc="An uninitialised tensor of a given shape (its values are whatever memory held).\n\n"
    "As `torch.empty(shape)`: fast when every element is about to be written.",
    examples=[
        (
            "set t [torch::empty {2 3}]\n"
            "puts [torch::tensor_shape $t]                          ;# -> 2 3\n"
            "puts [torch::tensor_dtype [torch::Empty -shape {4} -dtype int64]]  ;# -> int64\n"
        )
    ],
)
def empty(shape, dtype, device, requires_grad):
    return _check_grad(torch.empty(shape, dtype=dtype, device=device), requires_grad)


@command(
    "logspace",
    Opt("start", FiniteNumber, help="first exponent"),
    Opt("end", FiniteNumber, help="last exponent (included)"),
    Opt("steps", Int(ge=0), help="number of values"),
    Opt("base", FiniteNumber, default=10.0, help="base of the powers"),
    _dtype(),
    _device(),
    _requires_grad(),
    summary="steps values base**x for x evenly spaced from start to end.",
    doc="steps values base**x for x evenly spaced from start to end.\n\nAs `torch.logspace(start, end, steps, base)`.",
    examples=[
        shown("[torch::logspace 0 3 4]", "1.0 10.0 100.0 1000.0")
        + "\n"
        + shown("[torch::logspace -start 0 -end 2 -steps 3 -base 2 -dtype int64]", "1 2 4")
        + "\n"
    ],
)
def logspace(start, end, steps, base, dtype, device, requires_grad):
    return _check_grad(
        torch.logspace(start, end, steps, base=base, dtype=dtype, device=device), requires_grad
    )
