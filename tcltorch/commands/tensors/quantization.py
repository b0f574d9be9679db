"""Quantization: torch's quantized tensors (quint8, qint8, qint32; per-tensor and per-channel
affine), their parameters and stored integers, fake quantization for quantization-aware
training, and the quantized kernels torch.ops.quantized.add/mul and quantized ReLU.

A quantized tensor stores integers q and stands for the real values (q - zeroPoint) × scale.
It has no Tcl list form: ``torch::dequantize`` gives the values, ``torch::int_repr`` the integers."""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import torch

from tcltorch.commands.spec import (
    REGISTRY,
    Choice,
    Custom,
    Double,
    Handle,
    Int,
    Opt,
    command,
    parse_int64,
    parse_tcl_double,
)
from tcltorch.commands.vocabulary import _HANDLE_WORD, _dtype, _input
from tcltorch.errors import TclError, invalid_value

FAMILY = "tensors/quantization"

# torch 2.13 marks its quantized-tensor API as deprecated on first use; the warning is about
# torch's plans, not the caller's data.  Filtered per call, since hosts (and pytest) may reset
# the global filters.
_DEPRECATED = r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized"


warnings.filterwarnings("ignore", message=_DEPRECATED, category=UserWarning)


def _quiet(fn: Any) -> Any:
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_DEPRECATED, category=UserWarning)
            return fn(*args, **kwargs)

    return run


QDTYPES = {"quint8": torch.quint8, "qint8": torch.qint8, "qint32": torch.qint32}


_QDTYPE_ALIASES = {"uint8": "quint8", "int8": "qint8", "int32": "qint32"}


QRANGES = {torch.quint8: (0, 255), torch.qint8: (-128, 127), torch.qint32: (-(2**31), 2**31 - 1)}


def qdtype_name(dtype: torch.dtype) -> str:
    return str(dtype).replace("torch.", "")


class QDType(Choice):
    """A quantized dtype: quint8, qint8 or qint32 (uint8, int8 and int32 name the same)."""

    def __init__(self) -> None:
        super().__init__(*QDTYPES)
        self.requirement = "must be quint8, qint8, or qint32 (or uint8, int8, int32)"

    def convert(self, text: str, option: str, ctx: Any) -> torch.dtype:  # type: ignore[override]
        key = text.strip().lower()
        key = _QDTYPE_ALIASES.get(key, key)
        if key not in QDTYPES:
            raise self.fail(option, text)
        return QDTYPES[key]


_SCHEMES = {
    "any": None,
    "per_tensor": (torch.per_tensor_affine,),
    "per_channel": (torch.per_channel_affine, torch.per_channel_affine_float_qparams),
}


class QuantizedTensor(Handle):
    """A tensor handle whose tensor is quantized (optionally with a given scheme)."""

    def __init__(self, scheme: str = "any") -> None:
        super().__init__("tensor")
        self.schemes = _SCHEMES[scheme]
        what = {
            "any": "quantized",
            "per_tensor": "per-tensor quantized",
            "per_channel": "per-channel quantized",
        }
        self.doc = f"{what[scheme]} tensor handle"
        hint = {
            "any": "make one with torch::quantize_per_tensor or torch::quantize_per_channel",
            "per_tensor": "make one with torch::quantize_per_tensor",
            "per_channel": "make one with torch::quantize_per_channel",
        }
        self.requirement = f"must be a {what[scheme]} tensor ({hint[scheme]})"

    def convert(self, text: str, option: str, ctx: Any) -> torch.Tensor:
        tensor = ctx.handles.get(text, "tensor")
        if not tensor.is_quantized:
            raise invalid_value(option, text, f"{self.requirement}; it holds {qdtype_name(tensor.dtype)}")
        if self.schemes is not None and tensor.qscheme() not in self.schemes:
            scheme = "per-channel" if tensor.qscheme() != torch.per_tensor_affine else "per-tensor"
            other = "torch::q_per_channel_scales" if scheme == "per-channel" else "torch::q_scale"
            raise invalid_value(option, text, f"{self.requirement}; it is {scheme} quantized (see {other})")
        return tensor


class FloatTensor(Handle):
    """A dense floating-point tensor handle (what quantizing takes)."""

    def __init__(self) -> None:
        super().__init__("tensor")
        self.doc = "float tensor handle"
        self.requirement = "must be a dense floating-point tensor"

    def convert(self, text: str, option: str, ctx: Any) -> torch.Tensor:
        tensor = ctx.handles.get(text, "tensor")
        if tensor.layout != torch.strided or tensor.is_quantized or not tensor.is_floating_point():
            kind = "a sparse" if tensor.layout != torch.strided else qdtype_name(tensor.dtype)
            raise invalid_value(option, text, f"{self.requirement}; it is {kind}")
        return tensor


def _per_channel_values(kind: str) -> Custom:
    """A 1-d list of numbers (scales) or integers (zero points): a Tcl list or a tensor handle."""
    integer = kind == "integers"
    requirement = f"must be a list of {kind} or a tensor handle holding them"

    def convert(text: str, option: str, ctx: Any) -> torch.Tensor:
        words = ctx.split(text, option)
        if len(words) == 1 and _HANDLE_WORD.fullmatch(words[0]):
            tensor = ctx.handles.get(words[0], "tensor")
            if (
                tensor.layout != torch.strided
                or tensor.is_quantized
                or tensor.dim() != 1
                or tensor.is_complex()
                or (integer and tensor.is_floating_point())
            ):
                raise invalid_value(option, text, requirement + " (a 1-d dense tensor)")
            return tensor.detach()
        parse = parse_int64 if integer else parse_tcl_double
        values = [parse(w) for w in words]
        if not values or any(v is None for v in values):
            raise invalid_value(option, text, requirement)
        return torch.tensor(values, dtype=torch.int64 if integer else torch.float64)

    return Custom(convert, f"list of {kind}/handle", requirement)


_SCALES = _per_channel_values("numbers")


_ZERO_POINTS = _per_channel_values("integers")


def _zero_point_in_range(zero_point: int, dtype: torch.dtype, option: str = "-zeroPoint") -> None:
    lo, hi = QRANGES[dtype]
    if not lo <= zero_point <= hi:
        raise invalid_value(option, str(zero_point), f"must be in [{lo}, {hi}] for {qdtype_name(dtype)}")


def _axis(x: torch.Tensor, axis: int) -> int:
    if x.dim() == 0 or not -x.dim() <= axis < x.dim():
        raise invalid_value("-axis", str(axis), f"must be a dimension of a {x.dim()}-d tensor")
    return axis % x.dim()


def _channel_params(x: torch.Tensor, scales: torch.Tensor, zero_points: torch.Tensor, axis: int) -> int:
    axis = _axis(x, axis)
    n = x.shape[axis]
    for option, t in (("-scales", scales), ("-zeroPoints", zero_points)):
        if t.numel() != n:
            raise invalid_value(
                option,
                " ".join(map(str, t.tolist()))[:60],
                f"must have {n} entries, one per index of dimension {axis}",
            )
    bad = [s for s in scales.double().tolist() if not (math.isfinite(s) and s > 0)]
    if bad:
        raise invalid_value("-scales", " ".join(map(str, scales.tolist())), "must be finite numbers > 0")
    return axis


_QUANTIZED_ALIASES = ("tensor", "quantized_tensor", "quantizedTensor")


def _scale(help: str = "step between quantized levels") -> Opt:
    return Opt("scale", Double(gt=0), help=help)


def _zero_point(help: str = "the integer that stands for 0.0") -> Opt:
    return Opt("zeroPoint", Int(), help=help, aliases=("zero_point",))


@command(
    "quantize_per_tensor",
    _input("floating-point tensor to quantize", type=FloatTensor(), aliases=_QUANTIZED_ALIASES),
    _scale(),
    _zero_point(),
    _dtype(torch.quint8, "quantized element type", type=QDType()),
)
def quantize_per_tensor(input, scale, zero_point, dtype):
    """A quantized tensor with one scale and zero point: q = clamp(round(x / scale) + zeroPoint)
    (torch.quantize_per_tensor).

    q is clamped to the dtype's range (quint8 0..255, qint8 -128..127, qint32 the int32 range), and
    `-zeroPoint` must lie in it. torch quantizes float32 values; other floating dtypes are converted
    to float32 first. Quantizing is not differentiable (use `torch::fake_quantize_per_tensor` in
    training).

    ## Return Value

    A new quantized tensor handle.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {-1.0 0.5 2.0}] 0.1 10 quint8]
        puts [torch::tensor_dtype $q]   ;# -> quint8
        puts [torch::tensor_to_list [torch::int_repr $q]]   ;# -> 0 15 30
        puts [torch::tensor_to_list [torch::dequantize $q]]   ;# -> -1.0 0.5 2.0
    """
    _zero_point_in_range(zero_point, dtype)
    return torch.quantize_per_tensor(input.detach().float(), scale, zero_point, dtype)


@command(
    "quantize_per_channel",
    _input("floating-point tensor to quantize", type=FloatTensor(), aliases=_QUANTIZED_ALIASES),
    Opt("scales", _SCALES, help="one scale per index along -axis"),
    Opt("zeroPoints", _ZERO_POINTS, help="one zero point per index along -axis", aliases=("zero_points",)),
    Opt("axis", Int(), help="the channel dimension"),
    _dtype(torch.quint8, "quantized element type", type=QDType()),
)
def quantize_per_channel(input, scales, zero_points, axis, dtype):
    """A quantized tensor with a scale and zero point per slice along one dimension
    (torch.quantize_per_channel).

    Slice i along `-axis` is quantized as q = clamp(round(x / scales[i]) + zeroPoints[i]). Scales
    and zero points are Tcl lists or 1-d tensor handles with one entry per index of `-axis`
    (kept as float64 and int64, as torch keeps them). Floating inputs other than float32 are
    converted to float32 first.

    ## Return Value

    A new quantized tensor handle (per-channel affine).

    Examples:
        set x [torch::tensor_create {{1.0 1.0} {2.0 2.0}}]
        set q [torch::quantize_per_channel $x {0.5 0.25} {0 0} 1 qint8]
        puts [torch::tensor_to_list [torch::int_repr $q]]   ;# -> {2 4} {4 8}
        puts [torch::tensor_to_list [torch::q_per_channel_scales $q]]   ;# -> 0.5 0.25
    """
    axis = _channel_params(input, scales, zero_points, axis)
    for z in zero_points.tolist():
        _zero_point_in_range(int(z), dtype, "-zeroPoints")
    return torch.quantize_per_channel(
        input.detach().float(), scales.double(), zero_points.long(), axis, dtype
    )


@command(
    "dequantize",
    _input("quantized tensor", type=QuantizedTensor(), aliases=_QUANTIZED_ALIASES),
    extra_aliases=("deQuantize",),
)
def dequantize(input):
    """The real values a quantized tensor stands for: (q - zeroPoint) × scale, as float32
    (Tensor.dequantize).

    ## Return Value

    A new float32 tensor handle.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {0.26 -0.74}] 0.5 0 qint8]
        puts [torch::tensor_to_list [torch::deQuantize $q]]   ;# -> 0.5 -0.5
    """
    return input.dequantize()


@command("int_repr", _input("quantized tensor", type=QuantizedTensor(), aliases=_QUANTIZED_ALIASES))
def int_repr(input):
    """The integers a quantized tensor stores, as an ordinary integer tensor (Tensor.int_repr).

    quint8 gives uint8, qint8 int8 and qint32 int32.

    ## Return Value

    A new integer tensor handle.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {0.0 1.0}] 0.5 3 qint8]
        puts [torch::tensor_to_list [torch::intRepr $q]]   ;# -> 3 5
        puts [torch::tensor_dtype [torch::int_repr $q]]    ;# -> int8
    """
    return input.int_repr()


@command(
    "q_scale",
    _input("per-tensor quantized tensor", type=QuantizedTensor("per_tensor"), aliases=_QUANTIZED_ALIASES),
)
def q_scale(input):
    """The scale of a per-tensor quantized tensor (Tensor.q_scale).

    ## Return Value

    A number.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {1.0}] 0.25 0 quint8]
        puts [torch::q_scale $q]   ;# -> 0.25
    """
    return input.q_scale()


@command(
    "q_zero_point",
    _input("per-tensor quantized tensor", type=QuantizedTensor("per_tensor"), aliases=_QUANTIZED_ALIASES),
)
def q_zero_point(input):
    """The zero point of a per-tensor quantized tensor (Tensor.q_zero_point).

    ## Return Value

    An integer.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {1.0}] 0.25 7 quint8]
        puts [torch::qZeroPoint $q]   ;# -> 7
    """
    return input.q_zero_point()


@command(
    "q_per_channel_scales",
    _input("per-channel quantized tensor", type=QuantizedTensor("per_channel"), aliases=_QUANTIZED_ALIASES),
)
def q_per_channel_scales(input):
    """The scales of a per-channel quantized tensor, one per index along its axis
    (Tensor.q_per_channel_scales).

    ## Return Value

    A new float64 tensor handle.

    Examples:
        set x [torch::tensor_create {{1.0 2.0 3.0} {4.0 5.0 6.0}}]
        set q [torch::quantize_per_channel $x {0.1 0.2} {0 5} 0 quint8]
        puts [torch::tensor_to_list [torch::q_per_channel_scales $q]]   ;# -> 0.1 0.2
    """
    return input.q_per_channel_scales()


@command(
    "q_per_channel_zero_points",
    _input("per-channel quantized tensor", type=QuantizedTensor("per_channel"), aliases=_QUANTIZED_ALIASES),
)
def q_per_channel_zero_points(input):
    """The zero points of a per-channel quantized tensor, one per index along its axis
    (Tensor.q_per_channel_zero_points).

    ## Return Value

    A new int64 tensor handle.

    Examples:
        set x [torch::tensor_create {{1.0 2.0 3.0} {4.0 5.0 6.0}}]
        set q [torch::quantize_per_channel $x {0.1 0.2} {0 5} 0 quint8]
        puts [torch::tensor_to_list [torch::qPerChannelZeroPoints $q]]   ;# -> 0 5
    """
    return input.q_per_channel_zero_points()


@command(
    "q_per_channel_axis",
    _input("per-channel quantized tensor", type=QuantizedTensor("per_channel"), aliases=_QUANTIZED_ALIASES),
)
def q_per_channel_axis(input):
    """The dimension a per-channel quantized tensor was quantized along (Tensor.q_per_channel_axis).

    ## Return Value

    An integer.

    Examples:
        set x [torch::tensor_create {{1.0 2.0 3.0} {4.0 5.0 6.0}}]
        set q [torch::quantize_per_channel $x {0.1 0.2 0.3} {0 0 0} -1 qint8]
        puts [torch::q_per_channel_axis $q]   ;# -> 1
    """
    return input.q_per_channel_axis()


def _quant_range() -> list[Opt]:
    return [
        Opt("quantMin", Int(), default=-128, help="smallest quantized level", aliases=("quant_min",)),
        Opt("quantMax", Int(), default=127, help="largest quantized level", aliases=("quant_max",)),
    ]


def _check_range(quant_min: int, quant_max: int) -> None:
    if quant_min > quant_max:
        raise invalid_value("-quantMax", str(quant_max), f"must be >= -quantMin ({quant_min})")


@command(
    "fake_quantize_per_tensor",
    _input("floating-point tensor", type=FloatTensor(), aliases=_QUANTIZED_ALIASES),
    _scale(),
    _zero_point(),
    *_quant_range(),
)
def fake_quantize_per_tensor(input, scale, zero_point, quant_min, quant_max):
    """Quantize and dequantize in one step, staying in floating point
    (torch.fake_quantize_per_tensor_affine).

    Each element becomes (clamp(round(x / scale) + zeroPoint, quantMin, quantMax) - zeroPoint) ×
    scale, in the input's dtype. Gradients pass straight through for elements inside the range
    and are zero for clamped ones, which is what quantization-aware training needs.
    `-zeroPoint` must lie in [quantMin, quantMax].

    ## Return Value

    A new tensor handle (the input's dtype).

    Examples:
        set x [torch::tensor_create {0.26 -0.74 30.0} -dtype float64]
        puts [torch::tensor_to_list [torch::fake_quantize_per_tensor $x 0.5 0]]   ;# -> 0.5 -0.5 30.0
        puts [torch::tensor_to_list [torch::fakeQuantizePerTensor -input $x -scale 0.5 -zeroPoint 0 -quantMax 10]]   ;# -> 0.5 -0.5 5.0
    """
    _check_range(quant_min, quant_max)
    if not quant_min <= zero_point <= quant_max:
        raise invalid_value(
            "-zeroPoint", str(zero_point), f"must be in [{quant_min}, {quant_max}] (-quantMin, -quantMax)"
        )
    return torch.fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max)


@command(
    "fake_quantize_per_channel",
    _input("floating-point tensor", type=FloatTensor(), aliases=_QUANTIZED_ALIASES),
    Opt("scales", _SCALES, help="one scale per index along -axis", aliases=("scale",)),
    Opt(
        "zeroPoints",
        _ZERO_POINTS,
        help="one zero point per index along -axis",
        aliases=("zero_points", "zeroPoint", "zero_point"),
    ),
    Opt("axis", Int(), help="the channel dimension"),
    *_quant_range(),
)
def fake_quantize_per_channel(input, scales, zero_points, axis, quant_min, quant_max):
    """Per-channel quantize and dequantize in one step, staying in floating point
    (torch.fake_quantize_per_channel_affine).

    Slice i along `-axis` uses scales[i] and zeroPoints[i] as `torch::fake_quantize_per_tensor`
    uses its scale and zero point; gradients pass straight through inside the range. Scales and
    zero points are Tcl lists or 1-d tensor handles (torch computes with float32 scales and int32
    zero points).

    ## Return Value

    A new tensor handle (the input's dtype).

    Examples:
        set x [torch::tensor_create {{0.3 0.3} {0.9 0.9}}]
        puts [torch::tensor_to_list [torch::fake_quantize_per_channel $x {0.5 0.25} {0 0} 1]]   ;# -> {0.5 0.25} {1.0 1.0}
    """
    _check_range(quant_min, quant_max)
    axis = _channel_params(input, scales, zero_points, axis)
    for z in zero_points.tolist():
        if not (quant_min <= int(z) <= quant_max and -(2**31) <= int(z) < 2**31):
            raise invalid_value(
                "-zeroPoints", str(int(z)), f"must be in [{quant_min}, {quant_max}] (-quantMin, -quantMax)"
            )
    return torch.fake_quantize_per_channel_affine(
        input, scales.float(), zero_points.to(torch.int32), axis, quant_min, quant_max
    )


def _kernel(name: str) -> Any:
    try:
        return getattr(torch.ops.quantized, name)
    except (AttributeError, RuntimeError):
        raise TclError(
            f"this torch build has no quantized {name} kernel (torch.ops.quantized.{name})",
            ["TORCH", "UNSUPPORTED", f"quantized.{name}"],
        ) from None


def _binary_options(with_alpha: bool) -> list[Opt]:
    options = [
        Opt(
            "input",
            QuantizedTensor("per_tensor"),
            help="per-tensor quantized tensor",
            aliases=("tensor1", "input1", "tensor"),
        ),
        Opt(
            "other",
            QuantizedTensor("per_tensor"),
            help="per-tensor quantized tensor of the same dtype",
            aliases=("tensor2", "input2"),
        ),
        _scale("scale of the result"),
        _zero_point("zero point of the result"),
    ]
    if with_alpha:
        options.append(
            Opt(
                "alpha",
                Double(gt=0),
                default=1.0,
                help="multiplier of -other (exact: it scales -other's scale)",
            )
        )
    return options


def _check_pair(input: torch.Tensor, other: torch.Tensor, zero_point: int, ctx: Any) -> None:
    if input.dtype != other.dtype:
        raise invalid_value(
            "-other",
            ctx.handles.name_of(other) or "",
            f"must have the dtype of -input ({qdtype_name(input.dtype)}), got {qdtype_name(other.dtype)}",
        )
    _zero_point_in_range(zero_point, input.dtype)


@command("quantized_add", *_binary_options(True), context=True)
def quantized_add(input, other, scale, zero_point, alpha, ctx):
    """input + alpha × other computed by torch's quantized kernel, requantized to the given scale and
    zero point (torch.ops.quantized.add).

    Both operands are per-tensor quantized tensors of one dtype (their scales and zero points may
    differ); shapes broadcast. The result has the operands' dtype and `-scale`/`-zeroPoint`. A
    positive `-alpha` is applied exactly, by giving -other's integers the scale alpha × its scale.

    ## Return Value

    A new quantized tensor handle.

    Examples:
        set a [torch::quantize_per_tensor [torch::tensor_create {1.0 2.0}] 0.1 0 qint8]
        set b [torch::quantize_per_tensor [torch::tensor_create {0.5 0.5}] 0.05 0 qint8]
        puts [torch::tensor_to_list [torch::dequantize [torch::quantized_add $a $b 0.1 0]]]   ;# -> 1.5 2.5
        puts [torch::tensor_to_list [torch::dequantize [torch::quantizedAdd $a $b 0.1 0 -alpha 2]]]   ;# -> 2.0 3.0
    """
    _check_pair(input, other, zero_point, ctx)
    if alpha != 1:
        other = torch._make_per_tensor_quantized_tensor(
            other.int_repr(), other.q_scale() * alpha, other.q_zero_point()
        )
    return _kernel("add")(input, other, scale, zero_point)


@command("quantized_mul", *_binary_options(False), context=True)
def quantized_mul(input, other, scale, zero_point, ctx):
    """input × other computed by torch's quantized kernel, requantized to the given scale and zero
    point (torch.ops.quantized.mul).

    Both operands are per-tensor quantized tensors of one dtype; shapes broadcast. The result has
    the operands' dtype and `-scale`/`-zeroPoint`.

    ## Return Value

    A new quantized tensor handle.

    Examples:
        set a [torch::quantize_per_tensor [torch::tensor_create {1.0 -2.0}] 0.1 0 qint8]
        set b [torch::quantize_per_tensor [torch::tensor_create {1.5 1.5}] 0.1 0 qint8]
        puts [torch::tensor_to_list [torch::dequantize [torch::quantized_mul $a $b 0.5 0]]]   ;# -> 1.5 -3.0
    """
    _check_pair(input, other, zero_point, ctx)
    return _kernel("mul")(input, other, scale, zero_point)


@command(
    "quantized_relu",
    _input("quantized tensor", type=QuantizedTensor(), aliases=_QUANTIZED_ALIASES),
    context=True,
)
def quantized_relu(input, ctx):
    """ReLU on a quantized tensor, in the quantized domain: stored integers below the zero point
    become the zero point (torch.relu's quantized kernel).

    The result keeps the input's dtype, scheme, scales and zero points. torch's kernel takes
    per-tensor tensors; for a per-channel tensor the same rule is applied per channel (each
    integer clamped at its channel's zero point), which is exact.

    ## Return Value

    A new quantized tensor handle.

    Examples:
        set q [torch::quantize_per_tensor [torch::tensor_create {-1.0 0.0 2.0}] 0.5 10 quint8]
        set r [torch::quantized_relu $q]
        puts [torch::tensor_to_list [torch::dequantize $r]]   ;# -> 0.0 0.0 2.0
        puts [torch::tensor_to_list [torch::int_repr $r]]     ;# -> 10 10 14
    """
    if input.qscheme() == torch.per_tensor_affine:
        return torch.relu(input)
    if input.qscheme() != torch.per_channel_affine:
        raise invalid_value(
            "-input",
            ctx.handles.name_of(input) or "",
            "must be per-tensor or per-channel affine quantized (integer zero points)",
        )
    axis = input.q_per_channel_axis()
    zero_points = input.q_per_channel_zero_points()
    shape = [1] * input.dim()
    shape[axis] = -1
    ints = input.int_repr()
    clamped = torch.maximum(ints, zero_points.to(ints.dtype).reshape(shape))
    return torch._make_per_channel_quantized_tensor(clamped, input.q_per_channel_scales(), zero_points, axis)


for _cmd in REGISTRY.values():
    if _cmd.fn.__module__ == __name__:
        _cmd.fn = _quiet(_cmd.fn)
