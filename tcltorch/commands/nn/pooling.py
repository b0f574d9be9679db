"""Pooling layers: one row per torch.nn class.

``torch::maxpool2d 2`` builds ``nn.MaxPool2d(2)``; ``torch::maxpool2d $x 2`` applies it to a
tensor (exactly what calling the module does)."""

from __future__ import annotations

from typing import Any

from torch import nn

from tcltorch.commands.nn._dual import int_tuple, layer
from tcltorch.commands.spec import Bool, Custom, Double, Int, Opt, parse_tcl_double
from tcltorch.errors import TclError, invalid_value

FAMILY = "nn/pooling"

_SPATIAL = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}


_INPUT = {
    1: "set x [torch::tensor_reshape [torch::arange 0 8 -dtype float32] {1 1 8}]",
    2: "set x [torch::tensor_reshape [torch::arange 0 16 -dtype float32] {1 1 4 4}]",
    3: "set x [torch::tensor_reshape [torch::arange 0 64 -dtype float32] {1 1 4 4 4}]",
}


def _kernel(n: int) -> Opt:
    return Opt("kernelSize", int_tuple(n), help="size of the pooling window", aliases=("kernel_size",))


def _stride(n: int) -> Opt:
    return Opt("stride", int_tuple(n), default=None, help="step of the window (default: the kernel size)")


def _padding(n: int) -> Opt:
    return Opt("padding", int_tuple(n, 0), default=0, help="implicit padding on both sides")


def _ceil() -> Opt:
    return Opt(
        "ceilMode",
        Bool(),
        default=False,
        help="round the output size up instead of down",
        aliases=("ceil_mode",),
    )


def _indices() -> Opt:
    return Opt(
        "returnIndices",
        Bool(),
        default=False,
        help="also return the indices of the maxima (a list of two handles)",
        aliases=("return_indices",),
    )


def _output_size(n: int) -> Opt:
    return Opt("outputSize", int_tuple(n), help="size of the output", aliases=("output_size",))


def _example(name: str, n: int, args: str) -> str:
    return (
        f"{_INPUT[n]}\n"
        f"puts [torch::tensor_shape [torch::{name} $x {args}]]\n"
        f"set pool [torch::{name} {args}]\n"
        "puts [torch::tensor_shape [torch::layer_forward $pool $x]]"
    )


def _pool(
    name: str,
    cls: type,
    options: list[Opt],
    summary: str,
    what: str,
    example: str,
    aliases=(),
    build: Any = None,
    extra: str = "",
) -> None:
    layer(
        name,
        cls,
        options,
        summary,
        f"{what} With a tensor handle first it pools that tensor and returns the result; otherwise it builds "
        f"the module (kind `{cls.__name__.lower()}`), for `torch::sequential` and `torch::layer_forward`. Both "
        f"forms compute exactly what calling `nn.{cls.__name__}` does.{extra}",
        example,
        extra_aliases=aliases,
        build=build,
        see=("layer_forward", "sequential"),
    )


_INDICES_NOTE = (
    " With `-returnIndices 1` the result is a list of two handles: the values and the int64 indices."
)


for n in (1, 2, 3):
    _pool(
        f"maxpool{n}d",
        getattr(nn, f"MaxPool{n}d"),
        [
            _kernel(n),
            _stride(n),
            _padding(n),
            Opt("dilation", int_tuple(n), default=1, help="spacing between window elements"),
            _indices(),
            _ceil(),
        ],
        f"{n}-d max pooling over {_SPATIAL[n]} (nn.MaxPool{n}d)",
        f"The maximum over each window of a {n}-d input {_SPATIAL[n]} or its unbatched form.",
        _example(f"maxpool{n}d", n, "2"),
        aliases=(f"maxPool{n}d",),
        extra=_INDICES_NOTE,
    )
    avg_opts = [
        _kernel(n),
        _stride(n),
        _padding(n),
        _ceil(),
        Opt(
            "countIncludePad",
            Bool(),
            default=True,
            help="count the zero padding in the average",
            aliases=("count_include_pad",),
        ),
    ]
    if n > 1:
        avg_opts.append(
            Opt(
                "divisorOverride",
                Int(ge=1),
                default=None,
                help="divide by this instead of the window size",
                aliases=("divisor_override",),
            )
        )
    _pool(
        f"avgpool{n}d",
        getattr(nn, f"AvgPool{n}d"),
        avg_opts,
        f"{n}-d average pooling over {_SPATIAL[n]} (nn.AvgPool{n}d)",
        f"The mean over each window of a {n}-d input {_SPATIAL[n]} or its unbatched form.",
        _example(f"avgpool{n}d", n, "2"),
        aliases=(f"avgPool{n}d",),
    )
    _pool(
        f"adaptive_avgpool{n}d",
        getattr(nn, f"AdaptiveAvgPool{n}d"),
        [_output_size(n)],
        f"{n}-d adaptive average pooling to a fixed output size (nn.AdaptiveAvgPool{n}d)",
        "Averages over windows chosen so that the output has `outputSize` whatever the input's size "
        "(1 gives global average pooling).",
        _example(f"adaptive_avgpool{n}d", n, "1" if n == 3 else "2"),
    )
    _pool(
        f"adaptive_maxpool{n}d",
        getattr(nn, f"AdaptiveMaxPool{n}d"),
        [_output_size(n), _indices()],
        f"{n}-d adaptive max pooling to a fixed output size (nn.AdaptiveMaxPool{n}d)",
        "The maximum over windows chosen so that the output has `outputSize` whatever the input's size.",
        _example(f"adaptive_maxpool{n}d", n, "1" if n == 3 else "2"),
        extra=_INDICES_NOTE,
    )
    _pool(
        f"lppool{n}d",
        getattr(nn, f"LPPool{n}d"),
        [
            Opt(
                "normType",
                Double(gt=0),
                help="p of the power average (sum x^p)^(1/p)",
                aliases=("norm_type",),
            ),
            _kernel(n),
            _stride(n),
            _ceil(),
        ],
        f"{n}-d power-average pooling (sum of x^p)^(1/p) over each window (nn.LPPool{n}d)",
        "The p-norm of each window: p = 1 is sum pooling, p = infinity would be max pooling.",
        _example(f"lppool{n}d", n, "2 2"),
        aliases=(f"lpPool{n}d",),
    )


def _ratio(n: int) -> Custom:
    requirement = "must be a number between 0 and 1 (exclusive)" + (f" or a list of {n}" if n > 1 else "")

    def convert(text: str, option: str, ctx: Any) -> Any:
        values = [parse_tcl_double(w) for w in ctx.split(text, option)]
        if len(values) not in {1, n} or any(v is None or not 0 < v < 1 for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else tuple(values)

    return Custom(convert, "number or list", requirement)


class _AsRatio(tuple):
    """An -outputSize word of fractions in (0, 1): an output ratio (no size is a fraction)."""


def _size_or_ratio(n: int) -> Custom:
    sizes, ratios = int_tuple(n), _ratio(n)
    requirement = sizes.requirement + "; or fractions in (0, 1), read as -outputRatio"

    def convert(text: str, option: str, ctx: Any) -> Any:
        values = [parse_tcl_double(w) for w in ctx.split(text, option)]
        if values and all(v is not None and 0 < v < 1 for v in values):
            ratio = ratios.fn(text, option, ctx)
            return _AsRatio(ratio if isinstance(ratio, tuple) else (ratio,))
        try:
            return sizes.fn(text, option, ctx)
        except TclError:
            raise invalid_value(option, text, requirement) from None

    return Custom(convert, sizes.doc, requirement)


def _fractional(n: int):
    cls = getattr(nn, f"FractionalMaxPool{n}d")

    def build(kernel_size, output_size, output_ratio, return_indices):
        if isinstance(output_size, _AsRatio):  # the other implementation's 3rd word: a ratio
            if output_ratio is not None:
                raise TclError(
                    'give one of "-outputSize" and "-outputRatio", not both',
                    ["TORCH", "ARGS", "TWICE", "-outputRatio"],
                )
            output_size, output_ratio = None, output_size if len(output_size) > 1 else output_size[0]
        if output_size is not None and output_ratio is not None:
            raise TclError(
                'give one of "-outputSize" and "-outputRatio", not both',
                ["TORCH", "ARGS", "TWICE", "-outputRatio"],
            )
        if output_size is None and output_ratio is None:
            output_ratio = 0.5
        return cls(kernel_size, output_size, output_ratio, return_indices)

    return cls, build


for n in (2, 3):
    cls, build = _fractional(n)
    _pool(
        f"fractional_maxpool{n}d",
        cls,
        [
            _kernel(n),
            Opt(
                "outputSize",
                _size_or_ratio(n),
                default=None,
                help="size of the output (fractions in (0, 1) here are read as -outputRatio)",
                aliases=("output_size",),
            ),
            Opt(
                "outputRatio",
                _ratio(n),
                default=None,
                help="output size as a fraction of the input size (0.5 when neither is given)",
                aliases=("output_ratio",),
                default_doc="0.5",
            ),
            _indices(),
        ],
        f"{n}-d fractional max pooling with pseudo-random windows (nn.FractionalMaxPool{n}d)",
        "Max pooling over windows at pseudo-random positions (Graham, 2014), to an output of `outputSize` or "
        "`outputRatio` times the input size (at most one of the two; neither means `-outputRatio 0.5`; a third "
        "positional word of fractions, as in `torch::fractional_maxpool2d $x {2 2} {0.6 0.6}`, is the ratio). The positions are drawn on every call "
        "from torch's generator, so `torch::manual_seed` makes them repeatable.",
        f"{_INPUT[n]}\n"
        f"puts [torch::tensor_shape [torch::fractional_maxpool{n}d $x 2 -outputSize 2]]\n"
        f"set pool [torch::fractional_maxpool{n}d 2 -outputRatio 0.5]\n"
        "puts [torch::tensor_shape [torch::layer_forward $pool $x]]",
        build=build,
        extra=_INDICES_NOTE,
    )
