"""Vision layers: pixel shuffles, upsampling, interpolate, channel shuffle."""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import nn

from tcltorch.commands.nn._dual import SizeList, layer
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Int,
    Opt,
    is_option_word,
    parse_tcl_double,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import _input
from tcltorch.errors import TclError, invalid_value

FAMILY = "nn/resampling"

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


layer(
    "pixel_shuffle",
    nn.PixelShuffle,
    [
        Opt(
            "upscaleFactor",
            Int(ge=1),
            help="factor r: (C*r*r, H, W) becomes (C, H*r, W*r)",
            aliases=("upscale_factor",),
        )
    ],
    "Rearranges (N, C*r^2, H, W) into (N, C, H*r, W*r) (nn.PixelShuffle)",
    "Moves channel blocks into space: an input (*, C*r*r, H, W) becomes (*, C, H*r, W*r). With a tensor handle "
    "first it is applied to that tensor; otherwise it builds the module.",
    "set x [torch::ones {1 4 2 2}]\n"
    "puts [torch::tensor_shape [torch::pixel_shuffle $x 2]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::pixel_shuffle 2] $x]]",
    see=("pixel_unshuffle",),
)


layer(
    "pixel_unshuffle",
    nn.PixelUnshuffle,
    [
        Opt(
            "downscaleFactor",
            Int(ge=1),
            help="factor r: (C, H*r, W*r) becomes (C*r*r, H, W)",
            aliases=("downscale_factor",),
        )
    ],
    "Rearranges (N, C, H*r, W*r) into (N, C*r^2, H, W) (nn.PixelUnshuffle)",
    "The inverse of `torch::pixel_shuffle`: an input (*, C, H*r, W*r) becomes (*, C*r*r, H, W). With a tensor "
    "handle first it is applied to that tensor; otherwise it builds the module.",
    "set x [torch::ones {1 1 4 4}]\n"
    "puts [torch::tensor_shape [torch::pixel_unshuffle $x 2]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::pixel_unshuffle 2] $x]]",
    see=("pixel_shuffle",),
)


layer(
    "channel_shuffle",
    nn.ChannelShuffle,
    [Opt("groups", Int(ge=1), help="number of channel groups; must divide the channels")],
    "Interleaves the channels of g groups (nn.ChannelShuffle)",
    "Splits the channels of (N, C, *) into `groups` groups and interleaves them (ShuffleNet). With a tensor "
    "handle first it is applied to that tensor; otherwise it builds the module.",
    "set x [torch::tensor_reshape [torch::arange 0 4 -dtype float32] {1 4 1}]\n"
    "puts [torch::tensor_to_list [torch::tensor_reshape [torch::channel_shuffle $x 2] {-1}]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::channel_shuffle 2] $x]]",
    see=("pixel_shuffle",),
)


class _AsScale(tuple):
    """A -size word of non-integer numbers ({2.0 2.0}): a scale factor (no size has a fraction)."""


def _size_or_scale(text: str, option: str, ctx: Any) -> Any:
    words = ctx.split(text, option)
    if words and any(parse_tcl_int(w) is None for w in words):
        scales = [parse_tcl_double(w) for w in words]
        if all(v is not None and 0 < v < float("inf") for v in scales):
            return _AsScale(scales)
    return SizeList.fn(text, option, ctx)


SizeOrScale = Custom(
    _size_or_scale,
    SizeList.doc,
    SizeList.requirement + " (non-integer numbers such as {2.0 2.0} are read as -scaleFactor)",
)


def _size() -> Opt:
    return Opt(
        "size",
        SizeOrScale,
        default=None,
        help="output size: one or one per spatial dimension ({2.0 2.0}: a scale factor)",
        aliases=("output_size", "outputSize"),
    )


def _sized(size, scale_factor) -> tuple[Any, Any]:
    """(size, scale_factor), a -size of fractions moved to the scale factor."""
    if isinstance(size, _AsScale):
        if scale_factor is not None:
            _one_of(size, scale_factor)
        return None, size if len(size) > 1 else size[0]
    return size, scale_factor


def _scale_factors(most: int) -> Custom:
    """A positive number, or a list of 1 to ``most`` of them: one per spatial dimension."""
    lengths = "1 or 2" if most == 2 else f"1 to {most}"
    requirement = f"must be a positive number or a list of {lengths} (one per spatial dimension)"

    def convert(text: str, option: str, ctx: Any) -> Any:
        values = [parse_tcl_double(w) for w in ctx.split(text, option)]
        if not 1 <= len(values) <= most or any(v is None or not 0 < v < float("inf") for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else tuple(values)

    return Custom(convert, "number or list", requirement)


def _scale(most: int = 3) -> Opt:
    return Opt(
        "scaleFactor",
        _scale_factors(most),
        default=None,
        help="multiplier of the spatial size",
        aliases=("scale_factor",),
    )


_NEEDS = "Exactly one of `-size` and `-scaleFactor` is given."


def _one_of(size, scale_factor) -> None:
    if (size is None) == (scale_factor is None):
        raise TclError(
            'exactly one of "-size" and "-scaleFactor" is required', ["TORCH", "ARGS", "REQUIRED", "-size"]
        )


def _spatial(input, option: str, value: Any) -> None:
    """A list of sizes or scale factors has one entry per spatial dimension of the input."""
    if isinstance(value, tuple) and len(value) != input.dim() - 2:
        raise invalid_value(
            option,
            " ".join(map(str, value)),
            f"must hold one entry per spatial dimension: {max(input.dim() - 2, 0)} for an input of "
            f"{input.dim()} dimensions (N, C, ...), or a single number",
        )


def _interpolate(input, size, mode, align_corners, scale_factor, recompute_scale_factor, antialias):
    size, scale_factor = _sized(size, scale_factor)
    _one_of(size, scale_factor)
    _spatial(input, "-size", size)
    _spatial(input, "-scaleFactor", scale_factor)
    return F.interpolate(input, size, scale_factor, mode, align_corners, recompute_scale_factor, antialias)


def _upsample(size, mode, align_corners, scale_factor, recompute_scale_factor):
    size, scale_factor = _sized(size, scale_factor)
    _one_of(size, scale_factor)
    return nn.Upsample(size, scale_factor, mode, align_corners, recompute_scale_factor)


def _upsampling(cls):
    def build(size, scale_factor, align_corners=True):
        size, scale_factor = _sized(size, scale_factor)
        _one_of(size, scale_factor)
        if cls is nn.UpsamplingBilinear2d and not align_corners:
            return nn.Upsample(size, scale_factor, mode="bilinear", align_corners=False)
        return cls(size, scale_factor)

    return build


_ALIGN = Opt(
    "alignCorners",
    Bool(),
    default=True,
    help="align the corner pixels (nn.UpsamplingBilinear2d's true); 0 gives nn.Upsample(mode='bilinear')",
    aliases=("align_corners",),
)


_BOOLEAN_WORDS = ("0", "1", "true", "false")


def _peer_align(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's `upsample_bilinear INPUT SIZE ALIGNCORNERS ?ANTIALIAS?`: after an
    integer size the third word cannot be a scale factor (never both), so a boolean there aligns
    corners, and a boolean after it is antialias."""
    words = [w for w in args[:4] if not is_option_word(w, cmd._lookup)]
    if (
        len(words) >= 3
        and all(parse_tcl_int(w) is not None for w in ctx.split(args[1], "-size"))
        and args[2].strip().lower() in _BOOLEAN_WORDS
    ):
        rest = args[3:]
        named = ["-alignCorners", args[2]]
        if len(words) == 4 and args[3].strip().lower() in _BOOLEAN_WORDS:
            named += ["-antialias", args[3]]
            rest = args[4:]
        args = (args[0], args[1], *named, *rest)
    return parse(ctx, args, invoked)


def _bilinear_tensor(input, size, scale_factor, align_corners, antialias):
    """F.interpolate(mode='bilinear'): the tensor form of upsample_bilinear, with antialias."""
    size, scale_factor = _sized(size, scale_factor)
    _one_of(size, scale_factor)
    return F.interpolate(
        input, size, scale_factor, mode="bilinear", align_corners=align_corners, antialias=antialias
    )


_ANTIALIAS = Opt(
    "antialias",
    Bool(),
    default=False,
    positional=False,
    help="anti-aliasing when downsampling (the tensor form only)",
)


for name, cls, how, extra in (
    ("upsample_nearest", nn.UpsamplingNearest2d, "nearest-neighbour", []),
    ("upsample_bilinear", nn.UpsamplingBilinear2d, "bilinear (align_corners=True)", [_ALIGN]),
):
    layer(
        name,
        cls,
        [_size(), _scale(2), *extra],
        f"2-d {how} upsampling of (N, C, H, W) (nn.{cls.__name__})",
        f"Upsamples an (N, C, H, W) input with {how} interpolation to `size` or by `scaleFactor`. {_NEEDS} "
        "A `size` of non-integer numbers (`{2.0 2.0}`) is read as the scale factor; `-output_size` is another "
        "spelling of `-size`. With a tensor handle first it is applied to that tensor; otherwise it builds "
        "the module."
        + (
            " After an integer size, a third word 0 or 1 is `-alignCorners` and a fourth `-antialias` (the "
            "other implementation's `upsample_bilinear input size alignCorners antialias`: size and scale "
            "factor are never both given); `-antialias` applies to the tensor form only."
            if extra
            else ""
        ),
        "set x [torch::tensor_create {1.0 2.0 3.0 4.0} -shape {1 1 2 2}]\n"
        f"puts [torch::tensor_shape [torch::{name} $x -scaleFactor 2]]\n"
        f"puts [torch::tensor_shape [torch::layer_forward [torch::{name} {{3 3}}] $x]]",
        build=_upsampling(cls),
        see=("interpolate",),
        tensor_parse_hook=_peer_align if extra else None,
        tensor_form=(
            (_bilinear_tensor, [_input("input tensor handle"), _size(), _scale(2), *extra, _ANTIALIAS])
            if extra
            else True
        ),
    )


_INTERP_OPTS = [
    _size(),
    Opt("mode", Choice(*_MODES), default="nearest", help="interpolation: " + ", ".join(_MODES)),
    Opt(
        "alignCorners",
        Bool(),
        default=None,
        help="align the corner pixels (linear modes only)",
        aliases=("align_corners",),
    ),
    _scale(),
    Opt(
        "recomputeScaleFactor",
        Bool(),
        default=None,
        positional=False,
        help="compute the scale from the output size for the interpolation",
        aliases=("recompute_scale_factor",),
    ),
]


layer(
    "interpolate",
    nn.Upsample,
    _INTERP_OPTS,
    "Resizes a batch by interpolation (nn.functional.interpolate; nn.Upsample as a layer)",
    "With a tensor handle first, `torch::interpolate input ?size? ?mode? ?alignCorners? ?scaleFactor?` resizes "
    "a (N, C, L), (N, C, H, W) or (N, C, D, H, W) tensor (`torch.nn.functional.interpolate`); `-antialias` is "
    f"for that form only. Otherwise it builds `nn.Upsample` with the same options. {_NEEDS}",
    "set x [torch::tensor_create {0.0 1.0} -shape {1 1 2}]\n"
    "puts [torch::tensor_to_list [torch::interpolate $x 4 linear]]\n"
    "puts [torch::tensor_shape [torch::layer_forward [torch::interpolate -scaleFactor 3] $x]]",
    tensor_form=(
        _interpolate,
        [
            _input("input tensor handle"),
            *_INTERP_OPTS,
            Opt("antialias", Bool(), default=False, positional=False, help="anti-aliasing when downsampling"),
        ],
    ),
    build=_upsample,
    see=("upsample_nearest", "upsample_bilinear"),
)
