"""Neural network modules: layers, activations, containers and the commands on them.

Every constructor returns a kind-prefixed module handle (``linear3``, ``conv2d1``,
``relu4``, ``sequential2``, ``layernorm1`` ...).  The activations ``torch::relu`` etc.
make *modules* (``nn.ReLU``) so they can go into a ``torch::sequential``; the tensor
functions of the same name are ``torch::tensor_relu`` etc.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Device,
    Double,
    DType,
    Handle,
    Int,
    Opt,
    Shape,
    Str,
    command,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value

# -- value types ---------------------------------------------------------------------------

FLOAT_DTYPE_REQUIREMENT = (
    "must be a floating-point dtype: float32, float64, float16 or bfloat16 (or float, double, half)"
)
_DTYPE = DType()


def _float_dtype(text: str, option: str, ctx: Any) -> torch.dtype:
    try:
        dtype = _DTYPE.convert(text, option, ctx)
    except TclError:
        raise invalid_value(option, text, FLOAT_DTYPE_REQUIREMENT) from None
    if not dtype.is_floating_point:
        raise invalid_value(option, text, FLOAT_DTYPE_REQUIREMENT)
    return dtype


FloatDType = Custom(_float_dtype, "dtype", FLOAT_DTYPE_REQUIREMENT)


def _int_pair(least: int, noun: str, extra: tuple[str, ...] = ()) -> Custom:
    """An integer >= least, or a list of two (height, width); optionally some keywords."""
    requirement = f"must be {noun} integer or a list of two"
    if extra:
        requirement += ", or " + " or ".join(extra)

    def convert(text: str, option: str, ctx: Any) -> int | tuple[int, int] | str:
        if text.strip() in extra:
            return text.strip()
        words = ctx.split(text, option)
        values = [parse_tcl_int(w) for w in words]
        if len(values) not in (1, 2) or any(v is None or v < least for v in values):
            raise invalid_value(option, text, requirement)
        return values[0] if len(values) == 1 else (values[0], values[1])  # type: ignore[return-value]

    return Custom(convert, "integer or {h w}", requirement)


def _module_list(text: str, option: str, ctx: Any) -> list[nn.Module]:
    return [ctx.handles.get(word, "module") for word in ctx.split(text, option)]


ModuleList = Custom(_module_list, "module handles", "must be a list of module handles")


def _normalized_shape(text: str, option: str, ctx: Any) -> tuple[int, ...]:
    dims = Shape().convert(text, option, ctx) if text.strip() else ()
    if not dims or any(d < 1 for d in dims):
        raise invalid_value(option, text, "must be a non-empty list of positive integers")
    return dims


NormalizedShape = Custom(
    _normalized_shape, "list of integers", "must be a non-empty list of positive integers"
)


def _device() -> Opt:
    return Opt(
        "device",
        Device(),
        default=None,
        positional=False,
        help="device of the parameters: cpu, cuda or cuda:N",
        default_doc="cpu",
    )


def _dtype() -> Opt:
    return Opt(
        "dtype",
        FloatDType,
        default=None,
        positional=False,
        help="floating-point dtype of the parameters",
        default_doc="float32",
    )


def _module(name: str = "model", help: str = "module handle") -> Opt:
    others = tuple(a for a in ("model", "module", "layer") if a != name)
    return Opt(name, Handle("module"), help=help, aliases=others)


def _factory(device: torch.device | None, dtype: torch.dtype | None) -> dict[str, Any]:
    return {"device": device, "dtype": dtype}


# -- layers --------------------------------------------------------------------------------


@command(
    "linear",
    Opt("inFeatures", Int(ge=1), help="size of each input sample"),
    Opt("outFeatures", Int(ge=1), help="size of each output sample"),
    Opt("bias", Bool(), default=True, help="learn an additive bias"),
    _device(),
    _dtype(),
    extra_aliases=("linearLayer",),
    summary="A fully connected layer y = x W^T + b (nn.Linear).",
)
def linear(in_features, out_features, bias, device, dtype):
    return nn.Linear(in_features, out_features, bias=bias, **_factory(device, dtype))


_KERNEL = _int_pair(1, "a positive")


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
    _device(),
    _dtype(),
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
        **_factory(device, dtype),
    )


@command(
    "layer_norm",
    Opt("normalizedShape", NormalizedShape, help="trailing dimensions to normalize over, e.g. {64} or {8 8}"),
    Opt("eps", Double(gt=0), default=1e-5, help="added to the variance for numerical stability"),
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
    _device(),
    _dtype(),
    summary="Layer normalization over the trailing dimensions (nn.LayerNorm).",
)
def layer_norm(normalized_shape, eps, elementwise_affine, bias, device, dtype):
    return nn.LayerNorm(
        normalized_shape, eps=eps, elementwise_affine=elementwise_affine, bias=bias, **_factory(device, dtype)
    )


# With a tensor of indices first, torch::embedding is F.embedding: see commands/nn/embeddings.py.
@command(
    "embedding",
    Opt("numEmbeddings", Int(ge=1), help="size of the vocabulary"),
    Opt("embeddingDim", Int(ge=1), help="size of each embedding vector"),
    Opt(
        "paddingIdx",
        Int(),
        default=None,
        help="index whose vector is zero and gets no gradient",
    ),
    Opt(
        "maxNorm",
        Double(gt=0),
        default=None,
        positional=False,
        help="renormalize looked-up vectors to at most this norm",
    ),
    Opt("normType", Double(gt=0), default=2.0, positional=False, help="p of the p-norm used with -maxNorm"),
    Opt(
        "scaleGradByFreq",
        Bool(),
        default=False,
        positional=False,
        help="scale gradients by the inverse word frequency in the batch",
    ),
    _device(),
    _dtype(),
    summary="A lookup table of embedding vectors (nn.Embedding).",
)
def embedding(
    num_embeddings, embedding_dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, device, dtype
):
    if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
        raise invalid_value(
            "-paddingIdx",
            str(padding_idx),
            f"must be an integer from {-num_embeddings} to {num_embeddings - 1}",
        )
    return nn.Embedding(
        num_embeddings,
        embedding_dim,
        padding_idx=padding_idx,
        max_norm=max_norm,
        norm_type=norm_type,
        scale_grad_by_freq=scale_grad_by_freq,
        **_factory(device, dtype),
    )


@command(
    "dropout",
    Opt("p", Double(ge=0, le=1), default=0.5, help="probability of zeroing an element"),
    Opt("training", Bool(), default=True, help="start in training mode (1) or evaluation mode (0)"),
    Opt("inplace", Bool(), default=False, help="zero the input tensor in place"),
    summary="Randomly zeroes elements in training mode (nn.Dropout).",
)
def dropout(p, training, inplace):
    return nn.Dropout(p, inplace=inplace).train(training)


@command(
    "flatten",
    Opt("startDim", Int(), default=1, help="first dimension to flatten; negative counts from the end"),
    Opt("endDim", Int(), default=-1, help="last dimension to flatten; negative counts from the end"),
    summary="Flattens a range of dimensions into one (nn.Flatten).",
)
def flatten(start_dim, end_dim):
    return nn.Flatten(start_dim, end_dim)


# -- activations ---------------------------------------------------------------------------


@command("relu", summary="The activation max(0, x) as a module (nn.ReLU).")
def relu():
    return nn.ReLU()


@command("sigmoid", summary="The activation 1 / (1 + exp(-x)) as a module (nn.Sigmoid).")
def sigmoid():
    return nn.Sigmoid()


@command("tanh", summary="The activation tanh(x) as a module (nn.Tanh).")
def tanh():
    return nn.Tanh()


# With a tensor first, torch::gelu applies F.gelu: see commands/nn/activations.py.
@command(
    "gelu",
    Opt("approximate", Choice("none", "tanh"), default="none", help="exact (none) or the tanh approximation"),
    summary="The activation x * Phi(x) as a module (nn.GELU).",
)
def gelu(approximate):
    return nn.GELU(approximate=approximate)


# -- containers ----------------------------------------------------------------------------


def _contains(outer: nn.Module, inner: nn.Module) -> bool:
    return any(m is inner for m in outer.modules())


@command(
    "sequential",
    Opt("modules", ModuleList, default=(), rest=True, help="module handles (words or lists), in order"),
    summary="A container that applies its modules one after another (nn.Sequential).",
)
def sequential(modules):
    return nn.Sequential(*[m for group in modules for m in group])


_RESERVED = frozenset(dir(nn.Sequential()))


@command(
    "add_module",
    Opt("model", Handle("sequential"), help="sequential handle", aliases=("sequential",)),
    Opt("module", Handle("module"), help="module handle to append", aliases=("layer",)),
    Opt("name", Str(), default=None, help="name of the new child (default: its position, 0 1 2 ...)"),
    context=True,
    summary="Append a module to a sequential container.",
)
def add_module(model, module, name, ctx):
    if _contains(module, model):  # nn.Module would accept it and recurse forever in forward
        model_name = ctx.handles.name_of(model)
        why = (
            "cannot add a sequential to itself"
            if module is model
            else f"it contains {model_name}, so adding it would make a cycle"
        )
        raise invalid_value("-module", ctx.handles.name_of(module) or "module", why)
    if name is None:
        number = len(model)
        while str(number) in model._modules:
            number += 1
        name = str(number)
    elif not name or "." in name or name in _RESERVED:
        raise invalid_value(
            "-name", name, 'must be a non-empty name without "." that is not a Sequential attribute'
        )
    elif name in model._modules:
        raise invalid_value(
            "-name", name, f"{ctx.handles.name_of(model)} already has a module with this name"
        )
    model.add_module(name, module)
    return model


# -- using modules -------------------------------------------------------------------------


# torch::layer_forward (several inputs, forward options, tuple results) is in nn/forward.py.


@command(
    "layer_parameters",
    _module("layer"),
    Opt(
        "named",
        Bool(),
        default=False,
        positional=False,
        help="return a dict name -> handle instead of a list",
    ),
    summary="The parameter tensors of a module, with stable handles.",
)
def layer_parameters(layer, named):
    if named:
        return dict(layer.named_parameters())
    return list(layer.parameters())


@command("model_train", _module(), summary="Put a module and all its children in training mode.")
def model_train(model):
    return model.train()


@command("model_eval", _module(), summary="Put a module and all its children in evaluation mode.")
def model_eval(model):
    return model.eval()


@command(
    "count_parameters",
    _module(),
    Opt("trainableOnly", Bool(), default=False, help="count only parameters that require gradients"),
    summary="The number of scalar parameters of a module.",
)
def count_parameters(model, trainable_only):
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@command(
    "layer_to",
    _module("layer"),
    Opt("device", Device(), default=None, help="target device: cpu, cuda or cuda:N", default_doc="unchanged"),
    Opt("dtype", FloatDType, default=None, help="target floating-point dtype", default_doc="unchanged"),
    summary="Move a module's parameters and buffers to a device and/or dtype, in place.",
)
def layer_to(layer, device, dtype):
    if device is None and dtype is None:
        raise TclError(
            'missing required option "-device" or "-dtype"', ["TORCH", "ARGS", "REQUIRED", "-device"]
        )
    return layer.to(device=device, dtype=dtype)
