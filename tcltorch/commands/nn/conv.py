"""Convolutions: conv1d/conv3d, transposed convolutions, unfold/fold, the functional
``tensor_conv*`` commands and ``conv2d_set_weights``.

``torch::conv1d inChannels outChannels kernelSize ...`` builds ``nn.Conv1d``;
``torch::conv1d $input $weight ?bias? ...`` (a tensor first, the other implementation's
form) is ``torch.nn.functional.conv1d``.  The same holds for conv3d and the transposed
convolutions."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tcltorch.commands.nn._dual import Doc, DualCommand, OptionalTensor, int_tuple, register
from tcltorch.commands.nn._vocabulary import (
    _KERNEL,
    FloatDType,
    _int_pair,
    _param_device,
    _param_dtype,
    factory_kwargs,
)
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Command,
    Device,
    Handle,
    Int,
    Opt,
    command,
)
from tcltorch.commands.vocabulary import _input
from tcltorch.errors import invalid_value

FAMILY = "nn/conv"


@command(
    "conv2d",
    Opt("inChannels", Int(ge=1), help="channels of the input image"),
    Opt("outChannels", Int(ge=1), help="channels produced by the convolution"),
    Opt("kernelSize", _KERNEL, help="kernel size: k or {kh kw}"),
    Opt("stride", _KERNEL, default=1, help="stride: s or {sh sw}"),
    Opt(
        "padding",
        _int_pair(0, "a non-negative", ("same", "valid")),
        default=0,
        help="zero padding: p, {ph pw}, same or valid",
    ),
    Opt("bias", Bool(), default=True, help="learn an additive bias"),
    Opt(
        "dilation", _KERNEL, default=1, positional=False, help="spacing between kernel elements: d or {dh dw}"
    ),
    Opt(
        "groups",
        Int(ge=1),
        default=1,
        positional=False,
        help="blocked connections from input to output channels",
    ),
    Opt(
        "paddingMode",
        Choice("zeros", "reflect", "replicate", "circular"),
        default="zeros",
        positional=False,
        help="how the padding is filled: zeros, reflect, replicate or circular",
    ),
    _param_device(),
    _param_dtype(),
    extra_aliases=("conv2dLayer",),
    summary="A 2-d convolution layer (nn.Conv2d).",
)
def conv2d(
    in_channels,
    out_channels,
    kernel_size,
    stride,
    padding,
    bias,
    dilation,
    groups,
    padding_mode,
    device,
    dtype,
):
    for option, channels in (("-inChannels", in_channels), ("-outChannels", out_channels)):
        if channels % groups:
            raise invalid_value("-groups", str(groups), f"must divide {option} ({channels})")
    if padding == "same" and stride not in (1, (1, 1)):
        raise invalid_value("-padding", padding, "same padding needs -stride 1")
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
        **factory_kwargs(device, dtype),
    )


_FUNCTIONS = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


_TRANSPOSED = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


_CLASSES = {1: nn.Conv1d, 3: nn.Conv3d}


_TRANSPOSED_CLASSES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


def _factory_opts() -> list[Opt]:
    return [
        Opt("device", Device(), default=None, positional=False, help="device of the parameters"),
        Opt(
            "dtype", FloatDType, default=None, positional=False, help="floating-point dtype of the parameters"
        ),
    ]


def _check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    for option, channels in (("-inChannels", in_channels), ("-outChannels", out_channels)):
        if channels % groups:
            raise invalid_value("-groups", str(groups), f"must divide {option} ({channels})")


def _like(input: torch.Tensor, other: torch.Tensor | None) -> torch.Tensor | None:
    return other if other is None or other.dtype == input.dtype else other.to(input.dtype)


def _conv_fn_opts(n: int) -> list[Opt]:
    return [
        _input("input tensor (N, C_in, *spatial) or unbatched (C_in, *spatial)"),
        Opt("weight", Handle("tensor"), help="filters (C_out, C_in/groups, *kernel)"),
        Opt("bias", OptionalTensor, default=None, help="bias (C_out), or none"),
        Opt("stride", int_tuple(n), default=1, help="stride"),
        Opt(
            "padding",
            int_tuple(n, 0, ("same", "valid")),
            default=0,
            help="zero padding: p, a list, same or valid",
        ),
        Opt("dilation", int_tuple(n), default=1, help="spacing between kernel elements"),
        Opt("groups", Int(ge=1), default=1, help="blocked connections from input to output channels"),
    ]


def _conv_fn(n: int):
    fn = _FUNCTIONS[n]

    def conv(input, weight, bias, stride, padding, dilation, groups):
        return fn(input, _like(input, weight), _like(input, bias), stride, padding, dilation, groups)

    return conv


def _transposed_fn_opts(n: int) -> list[Opt]:
    return [
        _input("input tensor (N, C_in, *spatial) or unbatched (C_in, *spatial)"),
        Opt("weight", Handle("tensor"), help="filters (C_in, C_out/groups, *kernel)"),
        Opt("bias", OptionalTensor, default=None, help="bias (C_out), or none"),
        Opt("stride", int_tuple(n), default=1, help="stride"),
        Opt("padding", int_tuple(n, 0), default=0, help="implicit zero padding removed from both sides"),
        Opt(
            "outputPadding",
            int_tuple(n, 0),
            default=0,
            help="size added to one side of the output",
            aliases=("output_padding",),
        ),
        Opt("groups", Int(ge=1), default=1, help="blocked connections from input to output channels"),
        Opt("dilation", int_tuple(n), default=1, help="spacing between kernel elements"),
    ]


def _transposed_fn(n: int):
    fn = _TRANSPOSED[n]

    def conv_transpose(input, weight, bias, stride, padding, output_padding, groups, dilation):
        return fn(
            input, _like(input, weight), _like(input, bias), stride, padding, output_padding, groups, dilation
        )

    return conv_transpose


def _conv_module_opts(n: int) -> list[Opt]:
    return [
        Opt("inChannels", Int(ge=1), help="channels of the input", aliases=("in_channels",)),
        Opt("outChannels", Int(ge=1), help="channels produced by the convolution", aliases=("out_channels",)),
        Opt("kernelSize", int_tuple(n), help="kernel size: k or a list", aliases=("kernel_size",)),
        Opt("stride", int_tuple(n), default=1, help="stride"),
        Opt(
            "padding",
            int_tuple(n, 0, ("same", "valid")),
            default=0,
            help="zero padding: p, a list, same or valid",
        ),
        Opt("bias", Bool(), default=True, help="learn an additive bias"),
        Opt("dilation", int_tuple(n), default=1, positional=False, help="spacing between kernel elements"),
        Opt(
            "groups",
            Int(ge=1),
            default=1,
            positional=False,
            help="blocked connections from input to output channels",
        ),
        Opt(
            "paddingMode",
            Choice("zeros", "reflect", "replicate", "circular"),
            default="zeros",
            positional=False,
            help="how the padding is filled",
            aliases=("padding_mode",),
        ),
        *_factory_opts(),
    ]


def _conv_module(n: int):
    cls = _CLASSES[n]

    def build(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        bias,
        dilation,
        groups,
        padding_mode,
        device,
        dtype,
    ):
        _check_groups(in_channels, out_channels, groups)
        if padding == "same" and stride not in (1, (1,) * n):
            raise invalid_value("-padding", padding, "same padding needs -stride 1")
        return cls(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            device=device,
            dtype=dtype,
        )

    return build


def _transposed_module_opts(n: int) -> list[Opt]:
    return [
        Opt("inChannels", Int(ge=1), help="channels of the input", aliases=("in_channels",)),
        Opt("outChannels", Int(ge=1), help="channels produced", aliases=("out_channels",)),
        Opt("kernelSize", int_tuple(n), help="kernel size: k or a list", aliases=("kernel_size",)),
        Opt("stride", int_tuple(n), default=1, help="stride"),
        Opt("padding", int_tuple(n, 0), default=0, help="implicit zero padding removed from both sides"),
        Opt(
            "outputPadding",
            int_tuple(n, 0),
            default=0,
            help="size added to one side of the output",
            aliases=("output_padding",),
        ),
        Opt(
            "groups",
            Int(ge=1),
            default=1,
            positional=False,
            help="blocked connections from input to output channels",
        ),
        Opt("bias", Bool(), default=True, positional=False, help="learn an additive bias"),
        Opt("dilation", int_tuple(n), default=1, positional=False, help="spacing between kernel elements"),
        *_factory_opts(),
    ]


def _transposed_module(n: int):
    cls = _TRANSPOSED_CLASSES[n]

    def build(
        in_channels,
        out_channels,
        kernel_size,
        stride,
        padding,
        output_padding,
        groups,
        bias,
        dilation,
        device,
        dtype,
    ):
        _check_groups(in_channels, out_channels, groups)
        return cls(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            output_padding,
            groups,
            bias,
            dilation,
            device=device,
            dtype=dtype,
        )

    return build


def _dual(
    name: str, fn, fn_opts, build, build_opts, summary: str, cls: type, aliases=(), doc: Doc | None = None
) -> Command:
    first = Command(name, fn, fn_opts, summary, None, aliases)
    other = Command(name, build, build_opts, summary, None, aliases)
    cmd = DualCommand(name, first, other, torch.Tensor, summary, aliases)
    cmd.torch_class = cls  # type: ignore[attr-defined]
    return register(cmd, doc)


_DIMS = {1: "1-d (N, C, L)", 2: "2-d (N, C, H, W)", 3: "3-d (N, C, D, H, W)"}


_SHAPES = {1: "{1 1 4}", 2: "{1 1 3 3}", 3: "{1 1 2 2 2}"}


_KERNELS = {1: "{1 1 2}", 2: "{1 1 2 2}", 3: "{1 1 2 2 2}"}


for n in (1, 3):
    name = f"conv{n}d"
    _dual(
        name,
        _conv_fn(n),
        _conv_fn_opts(n),
        _conv_module(n),
        _conv_module_opts(n),
        f"A {n}-d convolution: a layer (nn.Conv{n}d), or applied to a tensor with given filters",
        _CLASSES[n],
        doc=Doc(
            f"`torch::{name} inChannels outChannels kernelSize ?stride? ?padding? ?bias?` builds `nn.Conv{n}d`, "
            f"a {_DIMS[n]} convolution with learned filters; `-dilation`, `-groups`, `-paddingMode`, `-device` and "
            f"`-dtype` are named only. With a tensor handle first, `torch::{name} input weight ?bias? ?stride? "
            f"?padding? ?dilation? ?groups?` is `torch.nn.functional.conv{n}d` with the filters given (the other "
            f"implementation's form; the same as `torch::tensor_conv{n}d`). `-bias none` or an empty bias means no bias.",
            f"set conv [torch::{name} 1 2 2 -bias 0]\n"
            f"set x [torch::ones {_SHAPES[n]}]\n"
            "puts [torch::tensor_shape [torch::layer_forward $conv $x]]\n"
            f"set w [torch::ones {_KERNELS[n]}]\n"
            f"puts [torch::tensor_to_list [torch::tensor_reshape [torch::{name} $x $w] {{-1}}]]",
            ("conv2d", f"tensor_conv{n}d" if n == 1 else "conv_transpose3d", "layer_forward"),
        ),
    )


for n in (1, 2, 3):
    name = f"conv_transpose{n}d"
    _dual(
        name,
        _transposed_fn(n),
        _transposed_fn_opts(n),
        _transposed_module(n),
        _transposed_module_opts(n),
        f"A {n}-d transposed convolution: a layer (nn.ConvTranspose{n}d), or applied to a tensor",
        _TRANSPOSED_CLASSES[n],
        ("conv_transpose_2d",) if n == 2 else (),
        doc=Doc(
            f"`torch::{name} inChannels outChannels kernelSize ?stride? ?padding? ?outputPadding?` builds "
            f"`nn.ConvTranspose{n}d` (the gradient of a {n}-d convolution, used to upsample); `-groups`, `-bias`, "
            f"`-dilation`, `-device`, `-dtype` are named. With a tensor handle first, `torch::{name} input weight "
            f"?bias? ?stride? ?padding? ?outputPadding? ?groups? ?dilation?` is "
            f"`torch.nn.functional.conv_transpose{n}d` with the filters given (shape (C_in, C_out/groups, *kernel))."
            + (" `torch::conv_transpose_2d` is the other implementation's spelling." if n == 2 else ""),
            f"set up [torch::{name} 1 1 2 2 -bias 0]\n"
            f"set x [torch::ones {_SHAPES[n]}]\n"
            "puts [torch::tensor_shape [torch::layer_forward $up $x]]\n"
            f"set w [torch::ones {_KERNELS[n]}]\n"
            f"puts [torch::tensor_shape [torch::{name} $x $w none 2]]",
            (f"conv{n}d" if n != 2 else "conv2d", "layer_forward"),
        ),
    )


for name, fn, opts, what in (
    ("tensor_conv1d", _conv_fn(1), _conv_fn_opts(1), "conv1d"),
    ("tensor_conv_transpose1d", _transposed_fn(1), _transposed_fn_opts(1), "conv_transpose1d"),
    ("tensor_conv_transpose2d", _transposed_fn(2), _transposed_fn_opts(2), "conv_transpose2d"),
):
    n = int(what[-2])
    register(
        Command(name, fn, opts, f"torch.nn.functional.{what} of a tensor with the filters given"),
        Doc(
            f"`torch.nn.functional.{what}`: the input convolved with the filters `weight` (and `bias`). "
            f"Integer options take one value or a list of {n}. The same as `torch::{what}` with a tensor first.",
            f"set x [torch::ones {_SHAPES[n]}]\n"
            f"set w [torch::ones {_KERNELS[n]}]\n"
            f"puts [torch::tensor_shape [torch::{name} $x $w]]\n"
            f"puts [torch::tensor_shape [torch::{name} -input $x -weight $w -stride 2]]",
            (what,),
        ),
    )


def _tensor_unfold(input, dimension, size, step):
    if not -max(input.dim(), 1) <= dimension < max(input.dim(), 1):
        raise invalid_value("-dimension", str(dimension), f"must be a dimension of a {input.dim()}-d tensor")
    return input.unfold(dimension, size, step)


_dual(
    "unfold",
    _tensor_unfold,
    [
        _input("input tensor handle"),
        Opt("dimension", Int(), help="dimension to take slices along", aliases=("dim",)),
        Opt("size", Int(ge=1), help="length of each slice"),
        Opt("step", Int(ge=1), help="step between slices"),
    ],
    lambda kernel_size, dilation, padding, stride: nn.Unfold(kernel_size, dilation, padding, stride),
    [
        Opt("kernelSize", int_tuple(2), help="size of the sliding blocks", aliases=("kernel_size",)),
        Opt("dilation", int_tuple(2), default=1, help="spacing between block elements"),
        Opt("padding", int_tuple(2, 0), default=0, help="zero padding of the input"),
        Opt("stride", int_tuple(2), default=1, help="stride of the sliding blocks"),
    ],
    "Sliding blocks: nn.Unfold (im2col) as a layer, or slices of a tensor along a dimension",
    nn.Unfold,
    doc=Doc(
        "`torch::unfold kernelSize ?dilation? ?padding? ?stride?` builds `nn.Unfold`, which turns an (N, C, H, W) "
        "batch into the columns of its sliding blocks, (N, C*kh*kw, L) (im2col). With a tensor handle first, "
        "`torch::unfold input dimension size step` is the other implementation's command: `Tensor.unfold`, every "
        "slice of length `size` along `dimension`, `step` apart, as a new last dimension (a view of the input).",
        "set t [torch::arange 0 6 -dtype float32]\n"
        "puts [torch::tensor_to_list [torch::unfold $t 0 3 2]]\n"
        "set im [torch::ones {1 1 3 3}]\n"
        "puts [torch::tensor_shape [torch::layer_forward [torch::unfold 2] $im]]",
        ("fold", "conv2d"),
    ),
)


_dual(
    "fold",
    lambda input, output_size, kernel_size, dilation, padding, stride: F.fold(
        input, output_size, kernel_size, dilation, padding, stride
    ),
    [
        _input("blocks (N, C*kh*kw, L) or (C*kh*kw, L)"),
        Opt("outputSize", int_tuple(2), help="spatial size of the output {h w}", aliases=("output_size",)),
        Opt("kernelSize", int_tuple(2), help="size of the sliding blocks", aliases=("kernel_size",)),
        Opt("dilation", int_tuple(2), default=1, help="spacing between block elements"),
        Opt("padding", int_tuple(2, 0), default=0, help="zero padding"),
        Opt("stride", int_tuple(2), default=1, help="stride of the sliding blocks"),
    ],
    lambda output_size, kernel_size, dilation, padding, stride: nn.Fold(
        output_size, kernel_size, dilation, padding, stride
    ),
    [
        Opt("outputSize", int_tuple(2), help="spatial size of the output {h w}", aliases=("output_size",)),
        Opt("kernelSize", int_tuple(2), help="size of the sliding blocks", aliases=("kernel_size",)),
        Opt("dilation", int_tuple(2), default=1, help="spacing between block elements"),
        Opt("padding", int_tuple(2, 0), default=0, help="zero padding"),
        Opt("stride", int_tuple(2), default=1, help="stride of the sliding blocks"),
    ],
    "Sums sliding blocks back into an image (nn.Fold, col2im), as a layer or applied to a tensor",
    nn.Fold,
    ("Fold",),
    doc=Doc(
        "The inverse arrangement of `torch::unfold`'s layer: blocks (N, C*kh*kw, L) are summed into an image "
        "(N, C, h, w) of `outputSize` (overlapping entries add up). `torch::fold outputSize kernelSize ...` builds "
        "`nn.Fold`; `torch::fold input outputSize kernelSize ?dilation? ?padding? ?stride?` applies "
        "`torch.nn.functional.fold` to a tensor.",
        "set blocks [torch::ones {1 4 4}]\n"
        "puts [torch::tensor_to_list [torch::fold $blocks {3 3} 2]]\n"
        "puts [torch::tensor_shape [torch::layer_forward [torch::fold {3 3} 2] $blocks]]",
        ("unfold",),
    ),
)


def _shape(t: torch.Tensor) -> str:
    return "{" + " ".join(map(str, t.shape)) + "}"


@command(
    "conv2d_set_weights",
    Opt(
        "layer",
        Handle("module"),
        help="a convolution module (conv1d, conv2d, conv3d, conv_transpose*)",
        aliases=("model", "module"),
    ),
    Opt("weight", Handle("tensor"), help="new filters, the shape of the layer's weight"),
    Opt("bias", OptionalTensor, default=None, help="new bias (C_out), or none to keep the bias"),
    context=True,
)
def conv2d_set_weights(layer: Any, weight: torch.Tensor, bias: torch.Tensor | None, ctx: Any) -> Any:
    """Copy filters (and a bias) into a convolution layer.

    Copies `weight` (and `bias`, when given) into the parameters of a convolution layer, in place and
    without recording gradients; the parameters keep their handles, dtype and device (values are
    converted). Any convolution module is accepted (conv1d, conv2d, conv3d and the transposed ones). Both
    shapes must match the layer's; nothing changes when one does not. Returns the layer handle (the other
    implementation returned `OK`).

    ## Return Value

    The layer handle.

    ## See Also

    - `torch::conv2d`
    - `torch::layer_parameters`

    Examples:
        set conv [torch::conv2d 1 1 2 -bias 0]
        torch::conv2d_set_weights $conv [torch::ones {1 1 2 2}]
        puts [torch::tensor_to_list [torch::layer_forward $conv [torch::ones {1 1 2 2}]]]  ;# -> 4.0
    """
    name = ctx.handles.name_of(layer) or "module"
    if not isinstance(layer, nn.modules.conv._ConvNd):
        raise invalid_value("-layer", name, "must be a convolution module")
    if weight.shape != layer.weight.shape:
        raise invalid_value(
            "-weight",
            ctx.handles.name_of(weight) or "tensor",
            f"must have the layer's weight shape {_shape(layer.weight)}, got {_shape(weight)}",
        )
    if bias is not None:
        if layer.bias is None:
            raise invalid_value("-bias", ctx.handles.name_of(bias) or "tensor", f"{name} has no bias")
        if bias.shape != layer.bias.shape:
            raise invalid_value(
                "-bias",
                ctx.handles.name_of(bias) or "tensor",
                f"must have the layer's bias shape {_shape(layer.bias)}, got {_shape(bias)}",
            )
    with torch.no_grad():
        layer.weight.copy_(weight)
        if bias is not None:
            layer.bias.copy_(bias)
    return layer
