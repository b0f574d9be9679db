"""Embeddings: embedding_bag, sparse_embedding, and the tensor form of torch::embedding.

``torch::embedding numEmbeddings embeddingDim`` (modules.py) builds a lookup table with learned
vectors; with a tensor of indices first, ``torch::embedding $ids $weight`` looks the indices up in
the matrix ``weight`` (``torch.nn.functional.embedding``).  The other implementation's
``embedding $ids 10 64 ?pad?`` (two integers after the indices) looks them up in a fresh random
table drawn on every call, as that implementation did (see docs/commands/embedding.md)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from tcltorch.commands.nn._dual import OptionalTensor, layer, with_tensor_form
from tcltorch.commands.nn._vocabulary import FloatDType, _param_device, _param_dtype, factory_kwargs
from tcltorch.commands.spec import (
    Bool,
    Custom,
    Device,
    Double,
    Int,
    Opt,
    command,
    dtype_name,
    is_option_word,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import _input
from tcltorch.errors import TclError, invalid_value

FAMILY = "nn/embeddings"


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
    _param_device(),
    _param_dtype(),
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
        **factory_kwargs(device, dtype),
    )


def _weight(text: str, option: str, ctx: Any) -> torch.Tensor:
    word = text.strip()
    if parse_tcl_int(word) is not None and word not in ctx.handles:
        raise invalid_value(
            option,
            text,
            "must be a tensor handle (the embedding matrix); torch::embedding numEmbeddings embeddingDim "
            "builds a layer with learned vectors",
        )
    return ctx.handles.get(word, "tensor")


Weight = Custom(_weight, "tensor handle", "must be a tensor handle (the embedding matrix)")


def _lookup_opts(sparse_default: bool) -> list[Opt]:
    return [
        _input("indices, an integer tensor of any shape"),
        Opt(
            "weight",
            Weight,
            default=None,
            help="embedding matrix (num_embeddings, embedding_dim); or give -numEmbeddings and -embeddingDim",
            default_doc="a fresh table",
        ),
        Opt(
            "paddingIdx",
            Int(),
            default=None,
            help="index whose row gets no gradient",
            aliases=("padding_idx",),
        ),
        Opt(
            "maxNorm",
            Double(gt=0),
            default=None,
            positional=False,
            help="renormalize looked-up rows of weight (in place) to at most this norm",
            aliases=("max_norm",),
        ),
        Opt(
            "normType",
            Double(gt=0),
            default=2.0,
            positional=False,
            help="p of the p-norm for -maxNorm",
            aliases=("norm_type",),
        ),
        Opt(
            "scaleGradByFreq",
            Bool(),
            default=False,
            positional=False,
            help="scale gradients by the inverse frequency in the batch",
            aliases=("scale_grad_by_freq",),
        ),
        Opt("sparse", Bool(), default=sparse_default, positional=False, help="sparse gradient for weight"),
        Opt(
            "numEmbeddings",
            Int(ge=1),
            default=None,
            positional=False,
            help="without -weight: rows of a fresh random table (drawn on every call)",
            aliases=("num_embeddings",),
        ),
        Opt(
            "embeddingDim",
            Int(ge=1),
            default=None,
            positional=False,
            help="without -weight: columns of that table",
            aliases=("embedding_dim",),
        ),
    ]


def _peer_table(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's ``INDICES NUM DIM ?PAD?``: two integers after the indices
    (a weight is a tensor handle, never an integer) are the size of a fresh table."""
    words = [w for w in args[1:4] if not is_option_word(w, cmd._lookup)]
    if (
        len(args) in (3, 4)
        and len(words) == len(args) - 1
        and all(parse_tcl_int(w) is not None and w not in ctx.handles for w in words[:2])
    ):
        named = ["-numEmbeddings", args[1], "-embeddingDim", args[2]]
        if len(args) == 4:
            named += ["-paddingIdx", args[3]]
        args = (args[0], *named)
    return parse(ctx, args, invoked)


def _indices(input: torch.Tensor) -> torch.Tensor:
    if input.is_floating_point() or input.dtype == torch.bool or input.is_complex():
        raise TclError(
            f"invalid -input: must hold integer indices, got a {dtype_name(input.dtype)} tensor",
            ["TORCH", "VALUE", "-input"],
        )
    return input


def _lookup(
    input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, num_embeddings, embedding_dim
):
    if weight is None:  # a fresh table, as building nn.Embedding and applying it once
        if num_embeddings is None or embedding_dim is None:
            raise TclError(
                'missing required option "-weight" (or -numEmbeddings and -embeddingDim for a fresh table)',
                ["TORCH", "ARGS", "REQUIRED", "-weight"],
            )
        if padding_idx is not None and not -num_embeddings <= padding_idx < num_embeddings:
            raise invalid_value(
                "-paddingIdx",
                str(padding_idx),
                f"must be an integer from {-num_embeddings} to {num_embeddings - 1}",
            )
        table = nn.Embedding(num_embeddings, embedding_dim, padding_idx, device=input.device)
        return F.embedding(
            _indices(input), table.weight, table.padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse
        )
    if num_embeddings is not None or embedding_dim is not None:
        raise TclError(
            'give "-weight" or "-numEmbeddings"/"-embeddingDim" (a fresh table), not both',
            ["TORCH", "ARGS", "TWICE", "-weight"],
        )
    return F.embedding(_indices(input), weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)


# the peer's alias Embedding; its `embedding INDICES NUM DIM ?PAD?` through _peer_table
with_tensor_form("embedding", _lookup, _lookup_opts(False), ("Embedding",), parse_hook=_peer_table)


def _sparse_embedding(
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
        padding_idx,
        max_norm,
        norm_type,
        scale_grad_by_freq,
        sparse=True,
        device=device,
        dtype=dtype,
    )


def _factory() -> list[Opt]:
    return [
        Opt("device", Device(), default=None, positional=False, help="device of the weight"),
        Opt("dtype", FloatDType, default=None, positional=False, help="floating-point dtype of the weight"),
    ]


_TABLE_OPTS = [
    Opt("numEmbeddings", Int(ge=1), help="size of the vocabulary", aliases=("num_embeddings",)),
    Opt("embeddingDim", Int(ge=1), help="size of each vector", aliases=("embedding_dim",)),
]


layer(
    "sparse_embedding",
    nn.Embedding,
    [
        *_TABLE_OPTS,
        Opt(
            "paddingIdx",
            Int(),
            default=None,
            help="index whose vector is zero and gets no gradient",
            aliases=("padding_idx",),
        ),
        Opt(
            "maxNorm",
            Double(gt=0),
            default=None,
            positional=False,
            help="renormalize looked-up vectors",
            aliases=("max_norm",),
        ),
        Opt(
            "normType",
            Double(gt=0),
            default=2.0,
            positional=False,
            help="p of the p-norm for -maxNorm",
            aliases=("norm_type",),
        ),
        Opt(
            "scaleGradByFreq",
            Bool(),
            default=False,
            positional=False,
            help="scale gradients by the inverse frequency in the batch",
            aliases=("scale_grad_by_freq",),
        ),
        *_factory(),
    ],
    "An embedding table with sparse gradients (nn.Embedding with sparse=True)",
    "Builds `nn.Embedding(..., sparse=True)`: the gradient of its weight is a sparse tensor holding only the "
    "rows looked up (for optimizers that take sparse gradients, such as SGD). With a tensor of indices first, "
    "`torch::sparse_embedding ids weight` is `torch.nn.functional.embedding` with `sparse=True`; the other "
    "implementation's `torch::sparse_embedding ids numEmbeddings embeddingDim ?paddingIdx?` looks the indices up "
    "in a fresh random table drawn on every call (nothing is learned: build the module for that).",
    "set emb [torch::sparse_embedding 10 3]\n"
    "set ids [torch::tensor_create {1 4 4} -dtype int64]\n"
    "puts [torch::tensor_shape [torch::layer_forward $emb $ids]]",
    tensor_form=(_lookup, _lookup_opts(True)),
    tensor_parse_hook=_peer_table,
    build=_sparse_embedding,
    see=("embedding", "embedding_bag"),
)


_BAG_MODES = {"0": "sum", "1": "mean", "2": "max"}


def _bag_mode(text: str, option: str, ctx: Any) -> str:
    word = _BAG_MODES.get(text.strip(), text.strip())
    if word not in ("sum", "mean", "max"):
        raise invalid_value(option, text, "must be sum, mean, or max (or 0, 1, 2)")
    return word


BagMode = Custom(_bag_mode, "sum|mean|max", "must be sum, mean, or max (or 0, 1, 2)")


def _bag_tensor(input, weight, offsets, mode, per_sample_weights, include_last_offset, padding_idx):
    return F.embedding_bag(
        _indices(input),
        weight,
        offsets,
        mode=mode,
        per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
    )


def _bag(
    num_embeddings,
    embedding_dim,
    mode,
    max_norm,
    norm_type,
    scale_grad_by_freq,
    sparse,
    include_last_offset,
    padding_idx,
    device,
    dtype,
):
    return nn.EmbeddingBag(
        num_embeddings,
        embedding_dim,
        max_norm,
        norm_type,
        scale_grad_by_freq,
        mode,
        sparse,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
        device=device,
        dtype=dtype,
    )


_LAST = Opt(
    "includeLastOffset",
    Bool(),
    default=False,
    positional=False,
    help="offsets has one more entry, the end of the last bag",
    aliases=("include_last_offset",),
)


_PAD = Opt(
    "paddingIdx",
    Int(),
    default=None,
    positional=False,
    help="index left out of every bag",
    aliases=("padding_idx",),
)


layer(
    "embedding_bag",
    nn.EmbeddingBag,
    [
        *_TABLE_OPTS,
        Opt("mode", BagMode, default="mean", help="how a bag's vectors combine: sum, mean or max"),
        Opt(
            "maxNorm",
            Double(gt=0),
            default=None,
            positional=False,
            help="renormalize looked-up vectors",
            aliases=("max_norm",),
        ),
        Opt(
            "normType",
            Double(gt=0),
            default=2.0,
            positional=False,
            help="p of the p-norm for -maxNorm",
            aliases=("norm_type",),
        ),
        Opt(
            "scaleGradByFreq",
            Bool(),
            default=False,
            positional=False,
            help="scale gradients by the inverse frequency in the batch",
            aliases=("scale_grad_by_freq",),
        ),
        Opt("sparse", Bool(), default=False, positional=False, help="sparse gradient for the weight"),
        _LAST,
        _PAD,
        *_factory(),
    ],
    "Sums, means or maxima of bags of embedding vectors (nn.EmbeddingBag)",
    "`torch::embedding_bag numEmbeddings embeddingDim ?mode?` builds `nn.EmbeddingBag`; `torch::layer_forward` "
    "on it takes a 2-d tensor of indices, one bag per row, and returns (bags, embeddingDim). With a tensor of "
    "indices first, `torch::embedding_bag input weight offsets ?mode? ?perSampleWeights?` is the other "
    "implementation's form, `torch.nn.functional.embedding_bag`: a 1-d `input` cut into bags at `offsets` "
    "(`none` for 2-d input), combined with `mode` (sum, mean, max, or its 0, 1, 2).",
    "set w [torch::tensor_create {{1.0 2.0} {3.0 4.0} {5.0 6.0}}]\n"
    "set ids [torch::tensor_create {0 1 2 1} -dtype int64]\n"
    "set offsets [torch::tensor_create {0 2} -dtype int64]\n"
    "puts [torch::tensor_to_list [torch::embedding_bag $ids $w $offsets sum]]\n"
    "set bag [torch::embedding_bag 10 3 max]\n"
    "puts [torch::tensor_shape [torch::layer_forward $bag [torch::tensor_create {{1 2} {3 4}} -dtype int64]]]",
    tensor_form=(
        _bag_tensor,
        [
            _input("indices: 1-d with offsets, or 2-d (one bag per row)"),
            Opt("weight", Weight, help="embedding matrix (num_embeddings, embedding_dim)"),
            Opt("offsets", OptionalTensor, default=None, help="start of each bag in a 1-d input, or none"),
            Opt("mode", BagMode, default="mean", help="sum, mean or max (or 0, 1, 2)"),
            Opt(
                "perSampleWeights",
                OptionalTensor,
                default=None,
                help="weight of each index (mode sum)",
                aliases=("per_sample_weights",),
            ),
            _LAST,
            _PAD,
        ],
    ),
    build=_bag,
    see=("embedding", "sparse_embedding"),
)
