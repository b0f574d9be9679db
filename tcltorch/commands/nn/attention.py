"""Attention and transformers: multihead_attention, transformer encoder/decoder layers and
stacks, positional_encoding (a module) and the functional scaled_dot_product_attention.

The layer commands build torch.nn modules with persistent, trainable parameters (the
other implementation's commands of these names make fresh random weights on every call);
``torch::layer_forward`` applies them, with the masks and flags their forward takes."""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tcltorch.commands.nn._dual import DualCommand, OptionalTensor, register
from tcltorch.commands.nn._vocabulary import _param_device, _param_dtype, check_layer_copies, module_bytes
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Command,
    Custom,
    Double,
    Handle,
    Int,
    Opt,
    command,
    parse_int64,
)
from tcltorch.errors import TclError, invalid_value
from tcltorch.positional import PositionalEncoding

FAMILY = "nn/attention"


def _size(text: str, option: str, ctx: Any) -> int:
    value = parse_int64(text)
    if value is None or value < 1:
        why = "must be an integer >= 1"
        if text.strip() in ctx.handles:
            why += " (this command builds a layer; apply it to a tensor with torch::layer_forward)"
        raise invalid_value(option, text, why)
    return value


Size = Custom(_size, "integer", "must be an integer >= 1")


def _batch_first(positional: bool = False) -> Opt:
    return Opt(
        "batchFirst",
        Bool(),
        default=False,
        positional=positional,
        help="inputs are [batch, seq, feature] instead of [seq, batch, feature]",
        aliases=("batch_first",),
    )


def _divides(embed: int, heads: int, option: str = "-numHeads") -> None:
    if embed % heads:
        raise invalid_value(option, str(heads), f"must divide the embedding size ({embed})")


_MHA_OPTS = [
    Opt("embedDim", Size, help="model size (query features)", aliases=("embed_dim",)),
    Opt("numHeads", Size, help="parallel attention heads; must divide -embedDim", aliases=("num_heads",)),
    Opt("dropout", Double(ge=0, le=1), default=0.0, help="dropout on the attention weights (training mode)"),
    Opt("bias", Bool(), default=True, help="biases on the input and output projections"),
    Opt(
        "addBiasKv",
        Bool(),
        default=False,
        positional=False,
        help="learned bias rows appended to key and value",
        aliases=("add_bias_kv",),
    ),
    Opt(
        "addZeroAttn",
        Bool(),
        default=False,
        positional=False,
        help="a zero row appended to key and value",
        aliases=("add_zero_attn",),
    ),
    Opt("kdim", Int(ge=1), default=None, positional=False, help="key features (default: -embedDim)"),
    Opt("vdim", Int(ge=1), default=None, positional=False, help="value features (default: -embedDim)"),
    _batch_first(),
    _param_device("device of the parameters", default_doc=""),
    _param_dtype(default_doc=""),
]


def _mha_module(
    embed_dim, num_heads, dropout, bias, add_bias_kv, add_zero_attn, kdim, vdim, batch_first, device, dtype
):
    _divides(embed_dim, num_heads)
    return nn.MultiheadAttention(
        embed_dim,
        num_heads,
        dropout=dropout,
        bias=bias,
        add_bias_kv=add_bias_kv,
        add_zero_attn=add_zero_attn,
        kdim=kdim,
        vdim=vdim,
        batch_first=batch_first,
        device=device,
        dtype=dtype,
    )


def split_heads_attention(
    query, key, value, embed_dim, num_heads, attn_mask=None, is_causal=False, dropout_p=0.0
):
    """Multi-head attention without projections (the other implementation's functional
    form): [seq, batch, embed] inputs split into heads, scaled dot-product attention per head,
    heads joined again."""
    for option, t in (("-query", query), ("-key", key), ("-value", value)):
        if t.dim() != 3:
            raise invalid_value(
                option, "tensor", f"must be a 3-d tensor [seq, batch, embed], got {list(t.shape)}"
            )
    if query.size(-1) != embed_dim or key.size(-1) != embed_dim:
        raise invalid_value("-embedDim", str(embed_dim), "must equal the last dimension of -query and -key")
    _divides(embed_dim, num_heads)

    def heads(t):  # [L, N, E] -> [N, H, L, E/H]
        return t.reshape(t.size(0), t.size(1), num_heads, t.size(2) // num_heads).permute(1, 2, 0, 3)

    out = F.scaled_dot_product_attention(
        heads(query), heads(key), heads(value), attn_mask=attn_mask, dropout_p=dropout_p, is_causal=is_causal
    )
    return out.permute(2, 0, 1, 3).reshape(query.size(0), query.size(1), -1)


_MHA_TENSOR_OPTS = [
    Opt("query", Handle("tensor"), help="query tensor [seq, batch, embed] (tensor form)"),
    Opt("key", Handle("tensor"), help="key tensor [seq, batch, embed] (tensor form)"),
    Opt("value", Handle("tensor"), help="value tensor [seq, batch, embed] (tensor form)"),
    Opt("embedDim", Size, help="model size (query features)", aliases=("embed_dim",)),
    Opt("numHeads", Size, help="parallel attention heads; must divide -embedDim", aliases=("num_heads",)),
    Opt(
        "attnMask",
        OptionalTensor,
        default=None,
        positional=False,
        help="tensor form: mask added to (float) or selecting (bool, true = attend) the scores",
        aliases=("attn_mask",),
    ),
    Opt(
        "isCausal",
        Bool(),
        default=False,
        positional=False,
        help="tensor form: each position sees only earlier ones",
        aliases=("is_causal",),
    ),
]


_MHA_DOC = """Multi-head attention (Vaswani et al., 2017) as a module with trainable projections (nn.MultiheadAttention).

Two forms:

```text
torch::multihead_attention embedDim numHeads ?dropout? ?bias? ?-option value ...?
torch::multihead_attention query key value embedDim numHeads ?-attnMask t? ?-isCausal b?
```

The first builds `nn.MultiheadAttention`: learned input projections for query, key and value,
`numHeads` heads of scaled dot-product attention, an output projection. Apply it with
`torch::layer_forward $mha $query $key $value ?-keyPaddingMask t? ?-attnMask t? ?-needWeights b?
?-averageAttnWeights b? ?-isCausal b?`, which returns what the module returns:
`{output weights}` (`weights` is empty with `-needWeights 0`). Inputs are `[seq, batch, embed]`,
or `[batch, seq, embed]` with `-batchFirst 1`.

The second form (the other implementation's functional command, a tensor handle first) has no
weights: it splits `[seq, batch, embed]` query, key and value into heads, runs scaled dot-product
attention per head and joins the heads; it returns one tensor.

## Return Value

A module handle (`multiheadattentionN`); in the tensor form a new tensor handle.

## See Also

- `torch::scaled_dot_product_attention`
- `torch::transformer_encoder_layer`
- `torch::layer_forward`
"""


_mha_module_cmd = Command("multihead_attention", _mha_module, _MHA_OPTS)


_mha_tensor_cmd = Command("multihead_attention", split_heads_attention, _MHA_TENSOR_OPTS)


_MHA_EXAMPLES = [
    """set mha [torch::multihead_attention -embedDim 8 -numHeads 2 -batchFirst 1]
set x [torch::randn {2 5 8}]
lassign [torch::layer_forward $mha $x $x $x] out weights
puts [torch::tensor_shape $out]       ;# -> 2 5 8
puts [torch::tensor_shape $weights]   ;# -> 2 5 5
# causal self-attention, no weights returned
set mask [torch::tensor_create {{0 1 1 1 1} {0 0 1 1 1} {0 0 0 1 1} {0 0 0 0 1} {0 0 0 0 0}} -dtype bool]
lassign [torch::layer_forward $mha $x $x $x -attnMask $mask -needWeights 0] out2 none
puts [list [torch::tensor_shape $out2] $none]   ;# -> {2 5 8} {}""",
    (
        "Tensor form (no weights)",
        """set q [torch::ones {3 1 4}]
puts [torch::tensor_shape [torch::multiheadAttention $q $q $q 4 2]]   ;# -> 3 1 4""",
    ),
]


_mha = DualCommand(
    "multihead_attention",
    _mha_tensor_cmd,
    _mha_module_cmd,
    torch.Tensor,
    "Multi-head attention with trainable projections (nn.MultiheadAttention).",
    usage_form="other",  # the module form is the main one
    doc=_MHA_DOC,
    examples=_MHA_EXAMPLES,
)


register(_mha)


def _layer_opts() -> list[Opt]:
    return [
        Opt("dModel", Size, help="model size (features of each position)", aliases=("d_model",)),
        Opt("nhead", Size, help="attention heads; must divide -dModel", aliases=("nHead", "numHeads")),
        Opt(
            "dimFeedforward",
            Size,
            default=2048,
            help="hidden size of the feed-forward block",
            aliases=("dim_feedforward",),
        ),
        Opt("dropout", Double(ge=0, le=1), default=0.1, help="dropout probability (training mode)"),
        Opt(
            "activation", Choice("relu", "gelu"), default="relu", help="activation of the feed-forward block"
        ),
        Opt(
            "layerNormEps",
            Double(gt=0),
            default=1e-5,
            positional=False,
            help="eps of the layer norms",
            aliases=("layer_norm_eps",),
        ),
        _batch_first(),
        Opt(
            "normFirst",
            Bool(),
            default=False,
            positional=False,
            help="layer norm before attention and feed-forward (pre-LN) instead of after",
            aliases=("norm_first",),
        ),
        Opt(
            "bias", Bool(), default=True, positional=False, help="biases in the linear and layer-norm layers"
        ),
        _param_device("device of the parameters", default_doc=""),
        _param_dtype(default_doc=""),
    ]


def _layer_builder(cls):
    def build(
        d_model,
        nhead,
        dim_feedforward,
        dropout,
        activation,
        layer_norm_eps,
        batch_first,
        norm_first,
        bias,
        device,
        dtype,
    ):
        _divides(d_model, nhead, "-nhead")
        return cls(
            d_model,
            nhead,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            activation=activation,
            layer_norm_eps=layer_norm_eps,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
            device=device,
            dtype=dtype,
        )

    return build


_LAYER_NOTE = """
Positional order is torch's (and the other implementation's, after its leading tensor):
`dModel nhead ?dimFeedforward? ?dropout? ?activation?`. Its commands of this name ran one layer on a
tensor with new random weights each call; this one builds the layer once, so its weights persist
and train. A tensor handle as first argument (or `-src`/`-tgt`/`-input`) is therefore refused, with
an error naming the module form to use: a functional transformer would compute with weights nobody
can see, train or reproduce.
"""

_STACK_NOTE = """
The other implementation's `torch::{name} src dModel nhead numLayers dimFeedforward` (a tensor first,
or `-src`) ran the stack on the tensor with new random weights on every call. That form is refused,
with an error naming the module form: build the stack once (its weights persist and train) and
apply it with `torch::layer_forward`.
"""

# the module form each refusal names
_MODULE_FORM = {
    "transformer_encoder_layer": "set layer [torch::transformer_encoder_layer dModel nhead ?dimFeedforward?]; "
    "torch::layer_forward $layer $src",
    "transformer_decoder_layer": "set layer [torch::transformer_decoder_layer dModel nhead ?dimFeedforward?]; "
    "torch::layer_forward $layer $tgt $memory",
    "transformer_encoder": "set enc [torch::transformer_encoder [torch::transformer_encoder_layer dModel nhead "
    "?dimFeedforward?] numLayers]; torch::layer_forward $enc $src",
    "transformer_decoder": "set dec [torch::transformer_decoder [torch::transformer_decoder_layer dModel nhead "
    "?dimFeedforward?] numLayers]; torch::layer_forward $dec $tgt $memory",
}

_TENSOR_FLAGS = ("-src", "-tgt", "-input", "-tensor", "-memory")


def _refuse_functional(cmd: Command, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's functional form (tensors given directly) drew new random weights
    on every call: refused, naming the module form."""
    first_is_tensor = (
        bool(args) and args[0] in ctx.handles and isinstance(ctx.handles.get(args[0]), torch.Tensor)
    )
    if first_is_tensor or any(w in _TENSOR_FLAGS for w in args[0::2]):
        raise TclError(
            f"torch::{invoked} builds a module and takes no tensor: a functional transformer would draw new "
            f"random weights on every call. Build it once and apply it: {_MODULE_FORM[cmd.name]}",
            ["TORCH", "ARGS", "FUNCTIONAL", f"torch::{cmd.name}"],
        )
    return parse(ctx, args, invoked)


command(
    "transformer_encoder_layer",
    *_layer_opts(),
    parse_hook=_refuse_functional,
    summary="A transformer encoder layer: self-attention and feed-forward blocks (nn.TransformerEncoderLayer).",
    doc="""A transformer encoder layer: self-attention and feed-forward blocks (nn.TransformerEncoderLayer).

Self-attention then a two-layer feed-forward network, each with dropout, a residual connection
and layer normalization (after each block, or before with `-normFirst 1`). Apply it with
`torch::layer_forward $layer $src ?-srcMask t? ?-srcKeyPaddingMask t? ?-isCausal b?` (`-attnMask`
and `-keyPaddingMask` name the same masks); inputs are `[seq, batch, dModel]`, or
`[batch, seq, dModel]` with `-batchFirst 1`.
"""
    + _LAYER_NOTE
    + """
## Return Value

A module handle (`transformerencoderlayerN`).

## See Also

- `torch::transformer_encoder`
- `torch::transformer_decoder_layer`
- `torch::multihead_attention`
""",
    examples=[
        """set layer [torch::transformer_encoder_layer -dModel 8 -nhead 2 -dimFeedforward 16 -dropout 0 -batchFirst 1]
set x [torch::randn {2 5 8}]
puts [torch::tensor_shape [torch::layer_forward $layer $x]]   ;# -> 2 5 8
# the second sequence has 2 padding positions at its end
set pad [torch::tensor_create {{0 0 0 0 0} {0 0 0 1 1}} -dtype bool]
puts [torch::tensor_shape [torch::layer_forward $layer $x -srcKeyPaddingMask $pad]]   ;# -> 2 5 8"""
    ],
)(_layer_builder(nn.TransformerEncoderLayer))


command(
    "transformer_decoder_layer",
    *_layer_opts(),
    parse_hook=_refuse_functional,
    summary="A transformer decoder layer: self-attention, cross-attention and feed-forward (nn.TransformerDecoderLayer).",
    doc="""A transformer decoder layer: self-attention, cross-attention and feed-forward (nn.TransformerDecoderLayer).

Self-attention over the target, attention over the encoder's output (memory), then a feed-forward
network, each with dropout, a residual connection and layer normalization. Apply it with
`torch::layer_forward $layer $tgt $memory ?-tgtMask t? ?-memoryMask t? ?-tgtKeyPaddingMask t?
?-memoryKeyPaddingMask t? ?-tgtIsCausal b? ?-memoryIsCausal b?` (`-attnMask`, `-keyPaddingMask` and
`-isCausal` name the target's own mask, padding mask and flag).
"""
    + _LAYER_NOTE
    + """
## Return Value

A module handle (`transformerdecoderlayerN`).

## See Also

- `torch::transformer_decoder`
- `torch::transformer_encoder_layer`
""",
    examples=[
        """set layer [torch::transformer_decoder_layer 8 2 16 0.0 -batchFirst 1]
set tgt [torch::randn {2 4 8}]
set memory [torch::randn {2 6 8}]
puts [torch::tensor_shape [torch::layer_forward $layer $tgt $memory]]   ;# -> 2 4 8"""
    ],
)(_layer_builder(nn.TransformerDecoderLayer))


def _norm_opt() -> Opt:
    return Opt(
        "norm", Handle("module"), default=None, help="module applied to the stack's output (a layer_norm)"
    )


def _check_copies(layer: nn.Module, num_layers: int) -> None:
    first = next(iter([*layer.parameters(), *layer.buffers()]), None)
    device = first.device if first is not None else None
    check_layer_copies("-numLayers", num_layers, module_bytes(layer), device)


@command(
    "transformer_encoder",
    Opt(
        "encoderLayer",
        Handle("transformerencoderlayer"),
        help="the layer to stack (it is copied)",
        aliases=("encoder_layer", "layer"),
    ),
    Opt("numLayers", Size, help="number of copies of the layer", aliases=("num_layers",)),
    _norm_opt(),
    Opt(
        "enableNestedTensor",
        Bool(),
        default=True,
        positional=False,
        help="let torch use nested tensors for padded batches in evaluation mode",
        aliases=("enable_nested_tensor",),
    ),
    parse_hook=_refuse_functional,
    summary="A stack of transformer encoder layers (nn.TransformerEncoder).",
    doc="""A stack of transformer encoder layers (nn.TransformerEncoder).

`numLayers` independent copies of `encoderLayer` (each with its own weights, initialised from the
layer's), applied in turn, then the optional `norm`. Apply it with
`torch::layer_forward $enc $src ?-mask t? ?-srcKeyPaddingMask t? ?-isCausal b?` (`-attnMask`,
`-srcMask` and `-keyPaddingMask` are accepted for the masks).
"""
    + _STACK_NOTE.format(name="transformer_encoder")
    + """
## Return Value

A module handle (`transformerencoderN`).

## See Also

- `torch::transformer_encoder_layer`
- `torch::transformer_decoder`
""",
    examples=[
        """set layer [torch::transformer_encoder_layer 8 2 16 0.0 -batchFirst 1]
set enc [torch::transformer_encoder $layer 3 [torch::layer_norm 8]]
puts [torch::count_parameters $enc]                                      ;# -> 1816
puts [torch::tensor_shape [torch::layer_forward $enc [torch::randn {2 5 8}]]]   ;# -> 2 5 8"""
    ],
)
def transformer_encoder(encoder_layer, num_layers, norm, enable_nested_tensor):
    _check_copies(encoder_layer, num_layers)
    with (
        warnings.catch_warnings()
    ):  # torch warns that nested tensors need batch_first; it just won't use them
        warnings.simplefilter("ignore", UserWarning)
        return nn.TransformerEncoder(
            encoder_layer, num_layers, norm=norm, enable_nested_tensor=enable_nested_tensor
        )


@command(
    "transformer_decoder",
    Opt(
        "decoderLayer",
        Handle("transformerdecoderlayer"),
        help="the layer to stack (it is copied)",
        aliases=("decoder_layer", "layer"),
    ),
    Opt("numLayers", Size, help="number of copies of the layer", aliases=("num_layers",)),
    _norm_opt(),
    parse_hook=_refuse_functional,
    summary="A stack of transformer decoder layers (nn.TransformerDecoder).",
    doc="""A stack of transformer decoder layers (nn.TransformerDecoder).

`numLayers` independent copies of `decoderLayer`, applied in turn to the target with the same
memory, then the optional `norm`. Apply it with `torch::layer_forward $dec $tgt $memory ?-tgtMask t?
?-memoryMask t? ?-tgtKeyPaddingMask t? ?-memoryKeyPaddingMask t? ?-tgtIsCausal b?`.
"""
    + _STACK_NOTE.format(name="transformer_decoder")
    + """
## Return Value

A module handle (`transformerdecoderN`).

## See Also

- `torch::transformer_decoder_layer`
- `torch::transformer_encoder`
""",
    examples=[
        """set dec [torch::transformer_decoder [torch::transformer_decoder_layer 8 2 16 0.0] 2]
set out [torch::layer_forward $dec [torch::randn {4 1 8}] [torch::randn {6 1 8}] -tgtIsCausal 1 \\
    -tgtMask [torch::tensor_create {{0 -inf -inf -inf} {0 0 -inf -inf} {0 0 0 -inf} {0 0 0 0}}]]
puts [torch::tensor_shape $out]   ;# -> 4 1 8"""
    ],
)
def transformer_decoder(decoder_layer, num_layers, norm):
    _check_copies(decoder_layer, num_layers)
    return nn.TransformerDecoder(decoder_layer, num_layers, norm=norm)


@command(
    "positional_encoding",
    Opt(
        "maxLen",
        Size,
        help="longest sequence it encodes (rows of its table)",
        aliases=("seqLen", "seq_len", "max_len"),
    ),
    Opt("dModel", Size, help="model size (features of each position)", aliases=("d_model",)),
    Opt("dropout", Double(ge=0, le=1), default=0.0, help="dropout after adding the encoding (training mode)"),
    _batch_first(positional=True),
    _param_device("device of the parameters", default_doc=""),
    _param_dtype(default_doc=""),
    summary="Sinusoidal positional encoding as a module: adds PE[:seq] to its input, then dropout.",
    doc="""Sinusoidal positional encoding as a module: adds PE[:seq] to its input, then dropout.

The table is that of Vaswani et al. (2017), section 3.5, for positions 0 .. maxLen-1:
`PE[pos, 2i] = sin(pos / 10000^(2i/dModel))`, `PE[pos, 2i+1] = cos(pos / 10000^(2i/dModel))`.
It is a buffer named `pe` (`[maxLen, dModel]`, see `torch::named_buffers`): saved with the model,
moved by `torch::layer_to`, not trained. `torch::layer_forward $pe $x` returns
`dropout(x + PE[:seq])` for `x` of shape `[seq, batch, dModel]`, `[batch, seq, dModel]` with
`-batchFirst 1`, or `[seq, dModel]`; a sequence longer than `maxLen` is an error.

The other implementation's command of this name (`seq_len d_model dropout`, the same positional
order) returned the table itself as a tensor; here it is the module, which fits in a
`torch::sequential` after an embedding, and the table is its `pe` buffer.

## Return Value

A module handle (`positionalencodingN`).

## See Also

- `torch::embedding`
- `torch::transformer_encoder_layer`
- `torch::named_buffers`
""",
    examples=[
        """set pe [torch::positional_encoding 16 4 -batchFirst 1]
set table [dict get [torch::named_buffers $pe] pe]
puts [torch::tensor_shape $table]                                  ;# -> 16 4
puts [torch::tensor_to_list [torch::tensor_slice $table 0 1 2]]    ;# -> {0.8414709568023682 0.5403022766113281 0.009999833069741726 0.9999499917030334}
set y [torch::layer_forward $pe [torch::zeros {2 3 4}]]
puts [torch::tensor_shape $y]                                      ;# -> 2 3 4"""
    ],
)
def positional_encoding(max_len, d_model, dropout, batch_first, device, dtype):
    return PositionalEncoding(
        d_model, max_len=max_len, dropout=dropout, batch_first=batch_first, device=device, dtype=dtype
    )


@command(
    "scaled_dot_product_attention",
    Opt("query", Handle("tensor"), help="query tensor [..., L, E]"),
    Opt("key", Handle("tensor"), help="key tensor [..., S, E]"),
    Opt("value", Handle("tensor"), help="value tensor [..., S, Ev]"),
    Opt(
        "attnMask",
        OptionalTensor,
        default=None,
        help="mask added to (float) or selecting (bool, true = attend) the scores",
        aliases=("attn_mask", "mask"),
    ),
    Opt(
        "dropoutP",
        Double(ge=0, le=1),
        default=0.0,
        help="dropout probability on the attention weights",
        aliases=("dropout_p", "dropout"),
    ),
    Opt(
        "isCausal",
        Bool(),
        default=False,
        help="each query position attends only to key positions up to it",
        aliases=("is_causal", "causal"),
    ),
    Opt("scale", Double(), default=None, help="factor on the scores (default 1/sqrt(E))"),
    Opt(
        "enableGqa",
        Bool(),
        default=False,
        positional=False,
        help="grouped-query attention: query heads share key/value heads",
        aliases=("enable_gqa",),
    ),
    summary="softmax(Q K^T * scale + mask) V, the functional attention (F.scaled_dot_product_attention).",
    doc="""softmax(Q K^T * scale + mask) V, the functional attention (F.scaled_dot_product_attention).

Leading dimensions (batch, heads) broadcast. A boolean `-attnMask` marks the positions that may be
attended (true); a float mask is added to the scores (`-inf` blocks). `-isCausal 1` applies the
lower-triangular mask itself (and cannot be combined with `-attnMask`). `-dropoutP` drops
attention weights on every call (it has no training mode: pass 0 for evaluation).

## See Also

- `torch::multihead_attention`
- `torch::tensor_softmax`
""",
    examples=[
        """set q [torch::tensor_create {{{1 0} {0 1}}}]
set v [torch::tensor_create {{{1 2} {3 4}}}]
puts [torch::tensor_to_list [torch::scaled_dot_product_attention $q $q $v -isCausal 1 -scale 0]]   ;# -> {{1.0 2.0} {2.0 3.0}}
puts [torch::tensor_to_list [torch::scaledDotProductAttention $q $q $v -scale 0]]        ;# -> {{2.0 3.0} {2.0 3.0}}"""
    ],
)
def scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    if is_causal and attn_mask is not None:
        raise invalid_value(
            "-isCausal", "1", "cannot be combined with -attnMask (put the causal mask into it)"
        )
    return F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attn_mask,
        dropout_p=dropout_p,
        is_causal=is_causal,
        scale=scale,
        enable_gqa=enable_gqa,
    )
