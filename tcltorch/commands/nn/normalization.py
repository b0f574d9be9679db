"""Normalization layers (one row per torch.nn class) and the weight reparametrizations
spectral_norm and weight_norm (torch.nn.utils.parametrizations)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrizations

from tcltorch.commands.nn._dual import Doc, DualCommand, layer, register
from tcltorch.commands.nn._vocabulary import (
    FloatDType,
    NormalizedShape,
    _param_device,
    _param_dtype,
    factory_kwargs,
)
from tcltorch.commands.spec import (
    Bool,
    Command,
    Device,
    Double,
    Handle,
    Int,
    Opt,
    Str,
    command,
    dtype_name,
)
from tcltorch.commands.vocabulary import _input
from tcltorch.errors import TclError, invalid_value

FAMILY = "nn/normalization"


@command(
    "layer_norm",
    Opt("normalizedShape", NormalizedShape, help="trailing dimensions to normalize over, e.g. {64} or {8 8}"),
    Opt(
        "eps",
        Double(gt=0),
        default=1e-5,
        help="added to the variance for numerical stability",
        aliases=("epsilon",),
    ),
    Opt(
        "elementwiseAffine", Bool(), default=True, help="learn a per-element scale (weight) and shift (bias)"
    ),
    Opt(
        "bias",
        Bool(),
        default=True,
        positional=False,
        help="learn the shift too (only with -elementwiseAffine 1)",
    ),
    _param_device(),
    _param_dtype(),
    summary="Layer normalization over the trailing dimensions (nn.LayerNorm).",
)
def layer_norm(normalized_shape, eps, elementwise_affine, bias, device, dtype):
    return nn.LayerNorm(
        normalized_shape,
        eps=eps,
        elementwise_affine=elementwise_affine,
        bias=bias,
        **factory_kwargs(device, dtype),
    )


def _factory() -> list[Opt]:
    return [
        Opt("device", Device(), default=None, positional=False, help="device of the parameters and buffers"),
        Opt(
            "dtype", FloatDType, default=None, positional=False, help="floating-point dtype of the parameters"
        ),
    ]


def _eps(default: float | None = 1e-5) -> Opt:
    return Opt(
        "eps",
        Double(gt=0),
        default=default,
        help="added to the variance for numerical stability",
        aliases=("epsilon",),
    )


def _stat_opts(affine: bool) -> list[Opt]:
    return [
        Opt("numFeatures", Int(ge=1), help="channels C of the input (N, C, ...)", aliases=("num_features",)),
        _eps(),
        Opt(
            "momentum",
            Double(ge=0, le=1),
            default=0.1,
            help="weight of the newest batch in the running statistics",
        ),
        Opt("affine", Bool(), default=affine, help="learn a per-channel scale (weight) and shift (bias)"),
        Opt(
            "trackRunningStats",
            Bool(),
            default=affine,
            help="keep running mean/variance for evaluation mode",
            aliases=("track_running_stats",),
        ),
        *_factory(),
    ]


_SHAPES = {1: "{4 2 3}", 2: "{2 2 2 2}", 3: "{2 2 2 2 2}"}


# one spelling scheme (as layer_norm, group_norm, instance_norm2d); the others stay as aliases
_NAMES = {1: "batch_norm1d", 2: "batch_norm2d", 3: "batch_norm3d"}


def _fresh_norm(cls: type, n: int, unbatched: bool):
    """The tensor form of a normalization layer: a fresh ``cls`` (weight 1, bias 0, running
    statistics unused) applied once in training mode, i.e. normalized with the input's own
    statistics; nothing random, so the result is the same on every call."""
    ranks = (n + 1, n + 2) if unbatched else (n + 2,)

    def apply(input, eps, momentum, affine, track_running_stats):
        if input.dim() not in ranks:
            shapes = " or ".join(f"{r}-d" for r in ranks)
            raise invalid_value("-input", "", f"must be a {shapes} tensor (N, C and {n} spatial dimensions)")
        channels = input.shape[-(n + 1)]
        module = cls(
            channels, eps, momentum, affine, track_running_stats, device=input.device, dtype=input.dtype
        )
        return module(input)

    return apply


def _fresh_opts() -> list[Opt]:
    return [_input("input tensor (N, C, ...)"), *_stat_opts(False)[1:5]]


_ALIASES = {n: (f"batchnorm{n}d", f"batch_norm_{n}d") for n in (1, 2, 3)}  # and batchNorm{n}d (camelCase)


for n in (1, 2, 3):
    name = _NAMES[n]
    layer(
        name,
        getattr(nn, f"BatchNorm{n}d"),
        _stat_opts(True),
        f"Batch normalization over a {n + 1 if n > 1 else '2- or 3'}-d batch (nn.BatchNorm{n}d)",
        f"Builds `nn.BatchNorm{n}d`: in training mode each channel is normalized with the batch's mean and "
        "variance (and the running statistics are updated with `-momentum`); in evaluation mode "
        "(`torch::model_eval`) the running statistics are used. With `-affine 1` the module learns a "
        "per-channel scale and shift. The running statistics are buffers, saved with the state dict."
        + (
            " With a tensor first (`torch::batch_norm3d $x ?eps? ?momentum? ?affine? ?trackRunningStats?`, the other "
            "implementation's functional form) it returns that batch normalized with its own per-channel statistics "
            "(a fresh module in training mode: scale 1, shift 0, running statistics not used), the same on every call."
            if n == 3
            else ""
        ),
        f"set bn [torch::{name} 2]\n"
        f"set x [torch::randn {_SHAPES[n]}]\n"
        "puts [torch::tensor_shape [torch::layer_forward $bn $x]]\n"
        "puts [llength [torch::layer_parameters $bn]]",
        tensor_form=(_fresh_norm(nn.BatchNorm3d, 3, False), _fresh_opts()) if n == 3 else False,
        extra_aliases=_ALIASES[n],
        see=("instance_norm2d", "group_norm", "layer_norm", "model_eval"),
    )
    layer(
        f"instance_norm{n}d",
        getattr(nn, f"InstanceNorm{n}d"),
        _stat_opts(False),
        f"Instance normalization: each sample and channel of a {n}-d input on its own (nn.InstanceNorm{n}d)",
        f"Builds `nn.InstanceNorm{n}d`, which normalizes every (sample, channel) over its spatial positions. By "
        "default it learns nothing and keeps no running statistics (`-affine 0 -trackRunningStats 0`, as torch). "
        f"With a tensor first (`torch::instance_norm{n}d $x ?eps? ?momentum? ?affine? ?trackRunningStats?`, the "
        "other implementation's functional form) it returns that tensor normalized per sample and channel: a fresh "
        "module's scale 1 and shift 0 change nothing, and running statistics are not used in training mode, so "
        "`affine` and `trackRunningStats` do not change the result.",
        f"set norm [torch::instance_norm{n}d 2]\n"
        f"set x [torch::randn {_SHAPES[n] if n > 1 else '{2 2 4}'}]\n"
        "puts [torch::tensor_shape [torch::layer_forward $norm $x]]",
        tensor_form=(_fresh_norm(getattr(nn, f"InstanceNorm{n}d"), n, True), _fresh_opts()),
        see=(_NAMES[n], "group_norm"),
    )


def _group_norm(num_groups, num_channels, eps, affine, device, dtype):
    if num_channels % num_groups:
        raise invalid_value("-numGroups", str(num_groups), f"must divide -numChannels ({num_channels})")
    return nn.GroupNorm(num_groups, num_channels, eps, affine, device=device, dtype=dtype)


layer(
    "group_norm",
    nn.GroupNorm,
    [
        Opt("numGroups", Int(ge=1), help="groups the channels are divided into", aliases=("num_groups",)),
        Opt("numChannels", Int(ge=1), help="channels C of the input (N, C, ...)", aliases=("num_channels",)),
        _eps(),
        Opt("affine", Bool(), default=True, help="learn a per-channel scale and shift"),
        *_factory(),
    ],
    "Group normalization: channels in groups, each normalized per sample (nn.GroupNorm)",
    "Builds `nn.GroupNorm`: the channels are split into `numGroups` groups and each group of each sample is "
    "normalized over its channels and positions; independent of the batch size.",
    "set gn [torch::group_norm 2 4]\n"
    "puts [torch::tensor_shape [torch::layer_forward $gn [torch::randn {3 4 5}]]]",
    tensor_form=False,
    build=_group_norm,
    see=("batch_norm2d", "layer_norm"),
)


_RMS_OPTS = [
    Opt(
        "normalizedShape",
        NormalizedShape,
        help="trailing dimensions to normalize over",
        aliases=("normalized_shape",),
    ),
    Opt(
        "eps",
        Double(gt=0),
        default=None,
        help="added to the mean square (default: the dtype's epsilon)",
        aliases=("epsilon",),
    ),
    Opt(
        "elementwiseAffine",
        Bool(),
        default=True,
        help="learn a per-element scale",
        aliases=("elementwise_affine",),
    ),
]


def _rms_tensor(input, normalized_shape, eps, elementwise_affine):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(shape) :]) != shape:
        raise invalid_value(
            "-normalizedShape",
            " ".join(map(str, shape)),
            f"must be the trailing dimensions of the input (its shape is {{{' '.join(map(str, input.shape))}}})",
        )
    return torch.nn.functional.rms_norm(input, shape, eps=eps)


layer(
    "rms_norm",
    nn.RMSNorm,
    [*_RMS_OPTS, *_factory()],
    "RMS normalization: x / sqrt(mean(x^2) + eps) * weight (nn.RMSNorm)",
    "Builds `nn.RMSNorm`, which divides by the root mean square over the trailing `normalizedShape` "
    "dimensions (no mean subtraction) and, with `-elementwiseAffine 1`, multiplies by a learned weight. With a "
    "tensor first (`torch::rms_norm $x normalizedShape ?eps?`, the other implementation's functional form) it "
    "returns `torch.nn.functional.rms_norm` of that tensor without a weight (a fresh module's weight is 1, so "
    "`elementwiseAffine` does not change the result).",
    "set norm [torch::rms_norm 2]\n"
    "puts [torch::tensor_to_list [torch::layer_forward $norm [torch::tensor_create {{3.0 4.0}}]]]",
    tensor_form=(_rms_tensor, [_input("input tensor"), *_RMS_OPTS]),
    see=("layer_norm",),
)


_LRN_OPTS = [
    Opt("size", Int(ge=1), help="number of neighbouring channels"),
    Opt("alpha", Double(), default=1e-4, help="multiplicative factor"),
    Opt("beta", Double(), default=0.75, help="exponent"),
    Opt("k", Double(), default=1.0, help="additive factor"),
]


layer(
    "local_response_norm",
    nn.LocalResponseNorm,
    _LRN_OPTS,
    "Local response normalization across neighbouring channels (nn.LocalResponseNorm)",
    "Each element is divided by (k + alpha/size * sum of squares over `size` neighbouring channels)^beta. With a "
    "tensor handle first it is applied to that tensor; otherwise it builds the module. It has no parameters.",
    "set x [torch::ones {1 3 1 1}]\n"
    "puts [torch::tensor_to_list [torch::tensor_reshape [torch::local_response_norm $x 2 1.0 1.0 1.0] {-1}]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::local_response_norm 2] $x]]",
    see=("cross_map_lrn2d",),
)


layer(
    "cross_map_lrn2d",
    nn.CrossMapLRN2d,
    [
        Opt("size", Int(ge=1), default=5, help="number of neighbouring channels"),
        Opt("alpha", Double(), default=1e-4, help="multiplicative factor"),
        Opt("beta", Double(), default=0.75, help="exponent"),
        Opt("k", Double(), default=1.0, help="additive factor"),
    ],
    "Cross-channel local response normalization of a 4-d batch (nn.CrossMapLRN2d)",
    "Local response normalization across channels of an (N, C, H, W) input, as the Lua Torch SpatialCrossMapLRN "
    "(`nn.CrossMapLRN2d`; it differs from `torch::local_response_norm` at the channel borders). With a tensor "
    "handle first it is applied to that tensor; otherwise it builds the module.",
    "set x [torch::ones {1 3 1 1}]\n"
    "puts [torch::tensor_to_list [torch::tensor_reshape [torch::cross_map_lrn2d $x 2 1.0 1.0 1.0] {-1}]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::cross_map_lrn2d 2] $x]]",
    extra_aliases=("crossMapLrn2d",),
    see=("local_response_norm",),
)


def _param_name(module: nn.Module, name: str, ctx: Any) -> None:
    param = getattr(module, name, None) if name in dict(module.named_parameters(recurse=False)) else None
    if not isinstance(param, torch.Tensor):
        names = " ".join(n for n, _ in module.named_parameters(recurse=False)) or "none"
        raise invalid_value(
            "-name", name, f"must be a parameter of {ctx.handles.name_of(module)} (it has: {names})"
        )


def _spectral_module(module, name, n_power_iterations, eps, dim, ctx):
    _param_name(module, name, ctx)
    return parametrizations.spectral_norm(module, name, n_power_iterations, eps, dim)


def _spectral_tensor(input: torch.Tensor) -> torch.Tensor:
    if input.dim() < 2 or not input.is_floating_point():
        raise TclError(
            "invalid -input: must be a floating-point tensor of at least 2 dimensions, got a "
            f"{input.dim()}-d {dtype_name(input.dtype)} tensor",
            ["TORCH", "VALUE", "-input"],
        )
    sigma = torch.linalg.matrix_norm(input.reshape(input.shape[0], -1), ord=2)
    return input / sigma


def _refuse_count(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's ``TENSOR N``: a power-iteration count for an exact result."""
    if len(args) == 2 and not args[1].startswith("-"):
        raise TclError(
            f"torch::{invoked} with a tensor first divides by the exact largest singular value, so it takes no "
            f"power-iteration count: write torch::{invoked} TENSOR (the count applies to the module form, "
            "torch::spectral_norm MODULE weight N)",
            ["TORCH", "ARGS", "COUNT", f"torch::{cmd.name}"],
        )
    return parse(ctx, args, invoked)


_spectral = DualCommand(
    "spectral_norm",
    Command(
        "spectral_norm",
        _spectral_tensor,
        [_input("a tensor of 2 or more dimensions")],
        parse_hook=_refuse_count,
    ),
    Command(
        "spectral_norm",
        _spectral_module,
        [
            Opt(
                "module",
                Handle("module"),
                help="module whose weight is normalized",
                aliases=("model", "layer"),
            ),
            Opt("name", Str(), default="weight", help="name of the parameter"),
            Opt(
                "nPowerIterations",
                Int(ge=1),
                default=1,
                help="power iterations per forward pass",
                aliases=("n_power_iterations",),
            ),
            Opt("eps", Double(gt=0), default=1e-12, help="added to norms for numerical stability"),
            Opt(
                "dim",
                Int(),
                default=None,
                help="output dimension of the weight (default 0; 1 for transposed convs)",
            ),
        ],
        context=True,
    ),
    torch.Tensor,
    "Spectral normalization: a module's weight divided by its largest singular value, or a tensor's",
    other_label="with a module first",
)


register(
    _spectral,
    Doc(
        "`torch::spectral_norm module ?name? ?nPowerIterations? ?eps? ?dim?` reparametrizes the parameter `name` of a "
        "module (`torch.nn.utils.parametrizations.spectral_norm`): from then on the module uses weight / sigma, sigma "
        "being estimated by power iteration on every training-mode forward pass. The module keeps its handle (its kind "
        "becomes e.g. `parametrizedlinear`) and is returned. With a tensor handle first, `torch::spectral_norm tensor` "
        "returns the tensor divided by its exact largest singular value (of the tensor seen as a matrix "
        "(shape[0], -1)); the other implementation's power-iteration count (`torch::spectral_norm tensor 5`) is "
        "refused there with an error that says so: an exact result has no iteration count, and an estimate "
        "from a random start would differ from call to call.",
        "set lin [torch::linear 3 2]\n"
        "puts [torch::tensor_shape [torch::layer_forward [torch::spectral_norm $lin] [torch::ones {1 3}]]]\n"
        "set m [torch::tensor_create {{4.0 0.0} {0.0 2.0}}]\n"
        "puts [torch::tensor_to_list [torch::spectral_norm $m]]",
        ("weight_norm",),
        "With a module first, the same module handle; with a tensor first, a new tensor handle (`tensorN`).",
    ),
)


def _weight_norm(module, name, dim, ctx):
    _param_name(module, name, ctx)
    return parametrizations.weight_norm(module, name, dim)


def _weight_norm_tensor(input, dim):
    if input.dim() == 0 or not -input.dim() <= dim < input.dim():
        raise invalid_value(
            "-dim", str(dim), f"must be a dimension of the input (-{input.dim()} to {input.dim() - 1})"
        )
    if not input.is_floating_point():
        raise invalid_value("-input", "", f"must be a floating-point tensor, got {dtype_name(input.dtype)}")
    # torch's weight norm with g = 1: v / ||v||, one norm per slice along dim
    return input / torch.norm_except_dim(input, 2, dim % input.dim())


register(
    DualCommand(
        "weight_norm",
        Command(
            "weight_norm",
            _weight_norm_tensor,
            [
                _input("a floating-point tensor (a weight v)"),
                Opt("dim", Int(), default=0, help="dimension kept by the norm (one norm per slice along it)"),
            ],
        ),
        Command(
            "weight_norm",
            _weight_norm,
            [
                Opt(
                    "module",
                    Handle("module"),
                    help="module whose weight is reparametrized",
                    aliases=("model", "layer"),
                ),
                Opt("name", Str(), default="weight", help="name of the parameter"),
                Opt("dim", Int(), default=0, help="dimension kept by the norm (one norm per slice along it)"),
            ],
            context=True,
        ),
        torch.Tensor,
        "Weight normalization: a module's weight as g * v / ||v|| (learned g and v), or a tensor's direction",
        other_label="with a module first",
    ),
    Doc(
        "Reparametrizes the parameter `name` of a module as g * v / ||v|| "
        "(`torch.nn.utils.parametrizations.weight_norm`): the magnitude g (`original0`) and direction v (`original1`) "
        "become the trainable parameters, the norm taken over every dimension except `dim`. The computed weight "
        "equals the old one at first. The module keeps its handle and is returned. With a tensor first, "
        "`torch::weight_norm v ?dim?` (the other implementation's functional form) returns the direction "
        "v / ||v|| (g = 1), each slice along `dim` scaled to norm 1, as torch's weight norm computes it.",
        "set lin [torch::linear 3 2]\n"
        "torch::weight_norm $lin\n"
        "puts [dict keys [torch::layer_parameters $lin -named 1]]\n"
        "puts [torch::tensor_to_list [torch::weight_norm [torch::tensor_create {{3.0 4.0} {0.0 2.0}}]]]",
        ("spectral_norm",),
        "With a module first, the same module handle; with a tensor first, a new tensor handle (`tensorN`).",
    ),
)
