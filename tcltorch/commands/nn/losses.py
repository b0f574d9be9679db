"""Loss functions: each takes an input and a target tensor and returns a loss tensor.

With ``-reduction mean`` (the default) or ``sum`` the result is a 0-d tensor, ready for
``torch::tensor_backward`` and ``torch::tensor_item``; with ``none`` it keeps one loss
per element (or per sample for the class losses).

Conversions, all documented on the pages:

* element-wise losses (mse, l1, smooth_l1, bce, bce_with_logits) need a target of the
  input's shape (torch would broadcast with only a warning; here it is an error) and
  convert the target to the input's dtype;
* class losses (cross_entropy, nll) take class indices of any integer dtype, or a float
  tensor of whole numbers, and convert them to int64; cross_entropy also takes class
  probabilities, a float tensor of the input's shape.

The other losses: regression, probabilistic, embedding/ranking, margin, and the
segmentation/imbalance losses focal, dice and tversky (tcltorch/nn/losses.py).

Each returns a loss tensor: 0-d with ``-reduction mean`` (the default) or ``sum``, one value
per element or sample with ``none``.  Positional orders are the other implementation's
(its ``?reduction?`` also accepts 0 = none, 1 = mean, 2 = sum)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from tcltorch.commands.nn._dual import Doc, OptionalTensor, Reduction, register
from tcltorch.commands.nn._vocabulary import _target
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
    dtype_name,
)
from tcltorch.commands.vocabulary import _input, tensor_opt
from tcltorch.errors import invalid_value
from tcltorch.nn import losses as engine

FAMILY = "nn/losses"

REDUCTIONS = ("mean", "sum", "none")


_WEIGHT_REQUIREMENT = "must be a tensor handle, or {} or none for none"


def _optional_tensor(text: str, option: str, ctx: Any) -> torch.Tensor | None:
    word = text.strip()
    if not word or (word == "none" and word not in ctx.handles):  # {} or none: no weight
        return None
    if word in REDUCTIONS and word not in ctx.handles:
        raise invalid_value(
            option,
            text,
            f"must be a tensor handle (a reduction goes after it, e.g. {{}} {word}, or as -reduction {word})",
        )
    return ctx.handles.get(word, "tensor")


WeightTensor = Custom(_optional_tensor, "tensor handle", _WEIGHT_REQUIREMENT)


_PREDICTION = "prediction tensor handle"


def _reduction() -> Opt:
    return Opt("reduction", Reduction(), default="mean", help="mean, sum or none (or 1, 2, 0)")


def _weight(help: str) -> Opt:
    return Opt("weight", WeightTensor, default=None, help=help)


def _shape(tensor: torch.Tensor) -> str:
    return "{" + " ".join(map(str, tensor.shape)) + "}"


def _float_input(input: torch.Tensor, ctx: Any) -> None:
    if not input.is_floating_point():
        raise invalid_value(
            "-input",
            ctx.handles.name_of(input) or "tensor",
            f"must be a floating-point tensor, got {dtype_name(input.dtype)}",
        )


def _elementwise_target(input: torch.Tensor, target: torch.Tensor, ctx: Any) -> torch.Tensor:
    """Check the input, then the target's shape. A floating-point target is passed as it is, so
    that torch's type promotion and autocast decide the loss's dtype (a float32 target is never
    rounded to a bfloat16 input's precision); an integer or bool target takes the input's dtype."""
    _float_input(input, ctx)
    if target.shape != input.shape:
        raise invalid_value(
            "-target",
            ctx.handles.name_of(target) or "tensor",
            f"must have the input's shape {_shape(input)}, got {_shape(target)}",
        )
    if target.dtype == input.dtype or target.is_floating_point():
        return target
    return target.to(input.dtype)


def _promoted(input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Input and target in their promoted dtype, for the torch functions that want one dtype
    (F.binary_cross_entropy); under autocast, as they are (autocast casts them itself)."""
    if target.dtype == input.dtype or torch.is_autocast_enabled(input.device.type):
        return input, target
    dtype = torch.result_type(input, target)
    return input.to(dtype), target.to(dtype)


def _like_input(input: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor | None:
    """A weight tensor in the input's dtype (weights are never integer or of another precision)."""
    return weight if weight is None or weight.dtype == input.dtype else weight.to(input.dtype)


def _class_target(input: torch.Tensor, target: torch.Tensor, ctx: Any, probabilities: bool) -> torch.Tensor:
    """Class indices as int64 (from any integer dtype or whole-number floats), or, where
    allowed, class probabilities (a float tensor of the input's shape)."""
    _float_input(input, ctx)
    if target.dtype == torch.int64:
        return target
    name = ctx.handles.name_of(target) or "tensor"
    if probabilities and target.is_floating_point() and target.shape == input.shape and input.dim() > 0:
        return target if target.dtype == input.dtype else target.to(input.dtype)
    if target.dtype == torch.bool or target.is_complex():
        raise invalid_value(
            "-target", name, f"must hold class indices, got a {dtype_name(target.dtype)} tensor"
        )
    if target.is_floating_point():
        whole = torch.isfinite(target).all() and (target == target.round()).all()
        if not bool(whole):
            what = "class indices (whole numbers)"
            if probabilities:
                what += f" or class probabilities of the input's shape {_shape(input)}"
            raise invalid_value("-target", name, f"must hold {what}")
    return target.long()


def _one_label(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A 0-d class index (one number, as {1} gives) for a batch of one: the batch's label."""
    if target.dim() == 0 and input.dim() == 2 and input.shape[0] == 1:
        return target.reshape(1)
    return target


@command(
    "mse_loss",
    _input(_PREDICTION, aliases=()),
    _target(),
    _reduction(),
    context=True,
    summary="Mean squared error between input and target.",
)
def mse_loss(input, target, reduction, ctx):
    return F.mse_loss(input, _elementwise_target(input, target, ctx), reduction=reduction)


@command(
    "l1_loss",
    _input(_PREDICTION, aliases=()),
    _target(),
    _reduction(),
    context=True,
    summary="Mean absolute error between input and target.",
)
def l1_loss(input, target, reduction, ctx):
    return F.l1_loss(input, _elementwise_target(input, target, ctx), reduction=reduction)


@command(
    "smooth_l1_loss",
    _input(_PREDICTION, aliases=()),
    _target(),
    _reduction(),
    Opt(
        "beta",
        Double(ge=0),
        default=1.0,
        help="where the loss changes from quadratic to linear; 0 gives the L1 loss",
    ),
    context=True,
    summary="Huber-like loss: quadratic for small errors, linear for large ones.",
)
def smooth_l1_loss(input, target, reduction, beta, ctx):
    return F.smooth_l1_loss(input, _elementwise_target(input, target, ctx), reduction=reduction, beta=beta)


@command(
    "bce_loss",
    _input(_PREDICTION, aliases=()),
    _target("target probabilities in [0, 1], same shape as the input"),
    _weight("rescaling weight of each element, broadcastable to the input"),
    _reduction(),
    context=True,
    summary="Binary cross-entropy between probabilities and targets.",
)
def bce_loss(input, target, weight, reduction, ctx):
    x, y = _promoted(input, _elementwise_target(input, target, ctx))
    return F.binary_cross_entropy(x, y, weight=_like_input(x, weight), reduction=reduction)


@command(
    "bce_with_logits_loss",
    _input(_PREDICTION, aliases=()),
    _target("target probabilities in [0, 1], same shape as the input"),
    _weight("rescaling weight of each element, broadcastable to the input"),
    _reduction(),
    Opt(
        "posWeight",
        Handle("tensor"),
        default=None,
        positional=False,
        help="weight of positive examples, one per class (broadcast over the last dimension)",
    ),
    context=True,
    summary="Binary cross-entropy on logits (a sigmoid and bce_loss in one, numerically stable).",
)
def bce_with_logits_loss(input, target, weight, reduction, pos_weight, ctx):
    return F.binary_cross_entropy_with_logits(
        input,
        _elementwise_target(input, target, ctx),
        weight=_like_input(input, weight),
        reduction=reduction,
        pos_weight=_like_input(input, pos_weight),
    )


def _ignore_index() -> Opt:
    return Opt(
        "ignoreIndex",
        Int(),
        default=-100,
        positional=False,
        help="target value that is ignored and adds no gradient",
    )


@command(
    "cross_entropy_loss",
    _input(_PREDICTION, aliases=()),
    _target("class indices (N; one number for a batch of one) or class probabilities (N, C)"),
    _weight("weight of each class, a 1-d tensor of C values"),
    _reduction(),
    _ignore_index(),
    Opt(
        "labelSmoothing",
        Double(ge=0, le=1),
        default=0.0,
        positional=False,
        help="amount of smoothing between 0 and 1",
    ),
    context=True,
    summary="Cross-entropy between logits and class targets.",
)
def cross_entropy_loss(input, target, weight, reduction, ignore_index, label_smoothing, ctx):
    if target.dtype is not torch.int64 or not target.dim() or not input.is_floating_point():
        target = _one_label(input, _class_target(input, target, ctx, probabilities=True))
    return F.cross_entropy(  # (the common call, int64 class indices of float logits, goes straight here)
        input,
        target,
        weight=weight if weight is None else _like_input(input, weight),
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


@command(
    "nll_loss",
    _input(_PREDICTION, aliases=()),
    _target("class indices (N; one number for a batch of one)"),
    _weight("weight of each class, a 1-d tensor of C values"),
    _reduction(),
    _ignore_index(),
    context=True,
    summary="Negative log-likelihood of log-probabilities and class indices.",
)
def nll_loss(input, target, weight, reduction, ignore_index, ctx):
    target = _one_label(input, _class_target(input, target, ctx, probabilities=False))
    return F.nll_loss(
        input, target, weight=_like_input(input, weight), ignore_index=ignore_index, reduction=reduction
    )


def _red(*extra: str) -> Opt:
    return Opt("reduction", Reduction(*extra), default="mean", help="mean, sum or none (or 1, 2, 0)")


def _loss(
    name: str,
    fn: Callable[..., Any],
    options: Sequence[Opt],
    summary: str,
    description: str,
    example: str,
    see: Sequence[str] = (),
) -> None:
    register(Command(name, fn, options, summary, context=True), Doc(description, example, see))


def _same(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return b if b.dtype == a.dtype else b.to(a.dtype)


def _signs(target: torch.Tensor, ctx: Any, option: str = "-target") -> None:
    if not bool(((target == 1) | (target == -1)).all()):
        raise invalid_value(option, ctx.handles.name_of(target) or "tensor", "must hold only 1 and -1")


_V = "set x [torch::tensor_create {0.5 2.0 -1.0}]\nset y [torch::tensor_create {0.0 0.0 1.0}]\n"


def huber_loss(input, target, reduction, delta, ctx):
    return F.huber_loss(input, _elementwise_target(input, target, ctx), reduction=reduction, delta=delta)


_loss(
    "huber_loss",
    huber_loss,
    [
        _input(_PREDICTION),
        _target(),
        _red(),
        Opt("delta", Double(gt=0), default=1.0, help="where quadratic turns linear"),
    ],
    "Huber loss: 0.5 d^2 for |d| <= delta, delta (|d| - 0.5 delta) beyond (F.huber_loss)",
    "The Huber loss of the difference d = input - target: quadratic for small errors, linear for large ones. "
    "With delta = 1 it equals `torch::smooth_l1_loss` with beta = 1.",
    _V + "puts [torch::tensor_item [torch::huber_loss $x $y]]\n"
    "puts [torch::tensor_to_list [torch::huber_loss $x $y none 0.5]]",
    ("smooth_l1_loss", "mse_loss"),
)


def kl_div_loss(input, target, reduction, log_target, ctx):
    with warnings.catch_warnings():  # 'mean' is torch's default; its advice is on the page
        warnings.simplefilter("ignore", UserWarning)
        return F.kl_div(
            input, _elementwise_target(input, target, ctx), reduction=reduction, log_target=log_target
        )


_loss(
    "kl_div_loss",
    kl_div_loss,
    [
        tensor_opt("input", "log-probabilities", ("tensor",)),
        _target("probabilities (log-probabilities with -logTarget 1), the input's shape"),
        _red("batchmean"),
        Opt(
            "logTarget",
            Bool(),
            default=False,
            help="the target is given as log-probabilities",
            aliases=("log_target",),
        ),
    ],
    "Kullback-Leibler divergence of the target from exp(input) (F.kl_div)",
    "target * (log target - input), summed as `-reduction` says. The input holds log-probabilities "
    "(e.g. from `torch::logsoftmax`). `mean` (torch's default) divides by the number of elements; `batchmean` "
    "divides by the batch size, which is the mathematical KL divergence.",
    "set logp [torch::logsoftmax [torch::tensor_create {{1.0 2.0 3.0}}]]\n"
    "set q [torch::tensor_create {{0.2 0.3 0.5}}]\n"
    "puts [torch::tensor_item [torch::kl_div_loss $logp $q batchmean]]",
    ("logsoftmax", "cross_entropy_loss"),
)


def poisson_nll_loss(input, target, log_input, full, reduction, eps, ctx):
    return F.poisson_nll_loss(
        input, _elementwise_target(input, target, ctx), log_input, full, eps=eps, reduction=reduction
    )


_loss(
    "poisson_nll_loss",
    poisson_nll_loss,
    [
        _input(_PREDICTION),
        _target("counts, same shape as the input"),
        Opt(
            "logInput",
            Bool(),
            default=True,
            help="the input is log(rate): loss exp(input) - target*input",
            aliases=("log_input",),
        ),
        Opt("full", Bool(), default=False, help="add the Stirling term of log(target!)"),
        _red(),
        Opt("eps", Double(gt=0), default=1e-8, positional=False, help="added to the rate before its log"),
    ],
    "Negative log-likelihood of a Poisson distribution (F.poisson_nll_loss)",
    "With `-logInput 1` the input is the log of the rate and the loss is exp(input) - target * input; with 0 "
    "the input is the rate and the loss is input - target * log(input + eps).",
    "set x [torch::tensor_create {0.0 1.0}]\n"
    "set k [torch::tensor_create {1.0 2.0}]\n"
    "puts [torch::tensor_item [torch::poisson_nll_loss $x $k]]",
    ("gaussian_nll_loss",),
)


def gaussian_nll_loss(input, target, var, full, eps, reduction, ctx):
    _float_input(input, ctx)
    return F.gaussian_nll_loss(input, _same(input, target), _same(input, var), full, eps, reduction)


_loss(
    "gaussian_nll_loss",
    gaussian_nll_loss,
    [
        _input("predicted means"),
        _target("observed values"),
        tensor_opt(
            "var", "predicted variances: the input's shape, or one fewer trailing dimension of size 1"
        ),
        Opt("full", Bool(), default=False, help="add the constant 0.5 log(2 pi)"),
        Opt("eps", Double(gt=0), default=1e-6, help="lower clamp of the variance"),
        _red(),
    ],
    "Negative log-likelihood of a Gaussian with predicted mean and variance (F.gaussian_nll_loss)",
    "0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)), plus 0.5 log(2 pi) with `-full 1`.",
    "set mu [torch::tensor_create {1.0 2.0}]\n"
    "set y [torch::tensor_create {1.5 2.0}]\n"
    "set var [torch::tensor_create {0.5 1.0}]\n"
    "puts [torch::tensor_item [torch::gaussian_nll_loss $mu $y $var]]",
    ("poisson_nll_loss", "mse_loss"),
)


def cosine_embedding_loss(input1, input2, target, margin, reduction, ctx):
    _float_input(input1, ctx)
    _signs(target, ctx)
    if target.dim() == 0 and input1.dim() == 2:
        target = target.expand(input1.shape[0])  # one label (a single number) for every pair
    return F.cosine_embedding_loss(
        input1, _same(input1, input2), _same(input1, target), margin, reduction=reduction
    )


_loss(
    "cosine_embedding_loss",
    cosine_embedding_loss,
    [
        tensor_opt("input1", "first embeddings (N, D) or (D)"),
        tensor_opt("input2", "second embeddings, same shape"),
        _target("1 (similar) or -1 (dissimilar) per pair"),
        Opt(
            "margin",
            Double(ge=-1, le=1),
            default=0.0,
            help="dissimilar pairs are penalized above this cosine",
        ),
        _red(),
    ],
    "1 - cos(x1, x2) for similar pairs, max(0, cos(x1, x2) - margin) for dissimilar ones (F.cosine_embedding_loss)",
    "Learns embeddings whose cosine similarity is high for pairs labelled 1 and at most `margin` for pairs "
    "labelled -1. A single label (a 0-d target, as `{1.0}` gives) applies to every pair of a batch.",
    "set a [torch::tensor_create {{1.0 0.0} {1.0 1.0}}]\n"
    "set b [torch::tensor_create {{0.0 1.0} {1.0 1.0}}]\n"
    "set y [torch::tensor_create {1.0 -1.0}]\n"
    "puts [torch::tensor_to_list [torch::cosine_embedding_loss $a $b $y 0.0 none]]",
    ("triplet_margin_loss", "margin_ranking_loss"),
)


def margin_ranking_loss(input1, input2, target, margin, reduction, ctx):
    _float_input(input1, ctx)
    _signs(target, ctx)
    return F.margin_ranking_loss(
        input1, _same(input1, input2), _same(input1, target), margin, reduction=reduction
    )


_loss(
    "margin_ranking_loss",
    margin_ranking_loss,
    [
        tensor_opt("input1", "first scores"),
        tensor_opt("input2", "second scores, same shape"),
        _target("1 (input1 should rank higher) or -1 (input2 should)"),
        Opt("margin", Double(), default=0.0, help="required gap between the scores"),
        _red(),
    ],
    "max(0, -target * (input1 - input2) + margin) (F.margin_ranking_loss)",
    "A pairwise ranking loss: zero when the score labelled higher wins by at least `margin`.",
    "set s1 [torch::tensor_create {2.0 0.5}]\n"
    "set s2 [torch::tensor_create {1.0 1.0}]\n"
    "set y [torch::tensor_create {1.0 1.0}]\n"
    "puts [torch::tensor_to_list [torch::margin_ranking_loss $s1 $s2 $y 0.5 none]]",
    ("hinge_embedding_loss",),
)


def hinge_embedding_loss(input, target, margin, reduction, ctx):
    _float_input(input, ctx)
    _signs(target, ctx)
    return F.hinge_embedding_loss(input, _same(input, target), margin, reduction=reduction)


_loss(
    "hinge_embedding_loss",
    hinge_embedding_loss,
    [
        _input("distances"),
        _target("1 or -1, same shape"),
        Opt("margin", Double(), default=1.0, help="distances of -1 pairs are penalized below it"),
        _red(),
    ],
    "x for target 1, max(0, margin - x) for target -1 (F.hinge_embedding_loss)",
    "For inputs that are distances (e.g. an L1 distance between two embeddings): similar pairs (1) are pulled "
    "together, dissimilar pairs (-1) pushed beyond `margin`.",
    "set d [torch::tensor_create {0.3 0.4}]\n"
    "set y [torch::tensor_create {1.0 -1.0}]\n"
    "puts [torch::tensor_to_list [torch::hinge_embedding_loss $d $y 1.0 none]]",
    ("cosine_embedding_loss",),
)


def triplet_margin_loss(anchor, positive, negative, margin, p, reduction, eps, swap, ctx):
    _float_input(anchor, ctx)
    return F.triplet_margin_loss(
        anchor, _same(anchor, positive), _same(anchor, negative), margin, p, eps, swap, reduction=reduction
    )


_TRIPLET = [
    tensor_opt("anchor", "anchor embeddings (N, D) or (D)"),
    tensor_opt("positive", "embeddings like the anchor's"),
    tensor_opt("negative", "embeddings unlike the anchor's"),
]


_loss(
    "triplet_margin_loss",
    triplet_margin_loss,
    [
        *_TRIPLET,
        Opt("margin", Double(ge=0), default=1.0, help="required gap between the two distances"),
        Opt("p", Double(gt=0), default=2.0, help="p of the p-norm distance"),
        _red(),
        Opt("eps", Double(ge=0), default=1e-6, positional=False, help="added inside the norm"),
        Opt(
            "swap",
            Bool(),
            default=False,
            positional=False,
            help="use the positive-negative distance when smaller",
        ),
    ],
    "max(0, d(a, p) - d(a, n) + margin) with p-norm distances (F.triplet_margin_loss)",
    "Pulls the anchor towards the positive and away from the negative until the negative is `margin` farther.",
    "set a [torch::tensor_create {{0.0 0.0}}]\n"
    "set p [torch::tensor_create {{1.0 0.0}}]\n"
    "set n [torch::tensor_create {{0.0 1.5}}]\n"
    "puts [torch::tensor_item [torch::triplet_margin_loss $a $p $n 1.0]]",
    ("triplet_margin_with_distance_loss",),
)


def _cosine_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1 - F.cosine_similarity(x, y, dim=-1)


_DISTANCES = {
    "pairwise": F.pairwise_distance,
    "cosine": _cosine_distance,
    "l1": lambda x, y: F.pairwise_distance(x, y, p=1.0),
    "euclidean": F.pairwise_distance,  # the other implementation's name for pairwise
}


def triplet_margin_with_distance_loss(
    anchor, positive, negative, margin, swap, reduction, distance_function, ctx
):
    _float_input(anchor, ctx)
    return F.triplet_margin_with_distance_loss(
        anchor,
        _same(anchor, positive),
        _same(anchor, negative),
        distance_function=_DISTANCES[distance_function],
        margin=margin,
        swap=swap,
        reduction=reduction,
    )


_loss(
    "triplet_margin_with_distance_loss",
    triplet_margin_with_distance_loss,
    [
        *_TRIPLET,
        Opt("margin", Double(gt=0), default=1.0, help="required gap between the two distances"),
        Opt("swap", Bool(), default=False, help="use the positive-negative distance when smaller"),
        _red(),
        Opt(
            "distanceFunction",
            Choice(*_DISTANCES),
            default="pairwise",
            positional=False,
            help="pairwise or euclidean (F.pairwise_distance), cosine (1 - cosine similarity) or l1",
            aliases=("distance_function", "distance"),
        ),
    ],
    "Triplet margin loss with a chosen distance (F.triplet_margin_with_distance_loss)",
    "max(0, d(a, p) - d(a, n) + margin), d being `-distanceFunction`: `pairwise` (Euclidean, torch's default; "
    "also `euclidean`), `cosine` (1 - cosine similarity) or `l1`.",
    "set a [torch::tensor_create {{1.0 0.0}}]\n"
    "set p [torch::tensor_create {{1.0 0.1}}]\n"
    "set n [torch::tensor_create {{0.0 1.0}}]\n"
    "puts [torch::tensor_item [torch::triplet_margin_with_distance_loss $a $p $n -distanceFunction cosine]]",
    ("triplet_margin_loss",),
)


def multi_margin_loss(input, target, p, margin, reduction, weight, ctx):
    target = _class_target(input, target, ctx, probabilities=False)
    return F.multi_margin_loss(input, target, int(p), margin, _like_input(input, weight), reduction=reduction)


_loss(
    "multi_margin_loss",
    multi_margin_loss,
    [
        _input("class scores (N, C) or (C)"),
        _target("class indices (N)"),
        Opt("p", Choice("1", "2"), default="1", help="1 (hinge) or 2 (squared hinge)"),
        Opt("margin", Double(), default=1.0, help="required gap between the true class and the others"),
        _red(),
        Opt("weight", OptionalTensor, default=None, positional=False, help="weight of each class (C)"),
    ],
    "Multi-class hinge loss: sum over i != y of max(0, margin - x[y] + x[i])^p / C (F.multi_margin_loss)",
    "The SVM-style multi-class margin loss of class scores and class indices.",
    "set s [torch::tensor_create {{0.1 0.2 0.4 0.8}}]\n"
    "set y [torch::tensor_create {3} -dtype int64]\n"
    "puts [torch::tensor_item [torch::multi_margin_loss $s $y]]",
    ("multilabel_margin_loss", "cross_entropy_loss"),
)


def multilabel_margin_loss(input, target, reduction, ctx):
    _float_input(input, ctx)
    if target.is_floating_point() or target.dtype == torch.bool or target.shape != input.shape:
        raise invalid_value(
            "-target",
            ctx.handles.name_of(target) or "tensor",
            "must be an integer tensor of the input's shape (class indices, ended by -1)",
        )
    return F.multilabel_margin_loss(input, target.long(), reduction=reduction)


_loss(
    "multilabel_margin_loss",
    multilabel_margin_loss,
    [
        _input("class scores (N, C) or (C)"),
        _target("the true classes of each sample, then -1 (an integer tensor of the input's shape)"),
        _red(),
    ],
    "Multi-label hinge loss over every (true class, other class) pair (F.multilabel_margin_loss)",
    "For each sample the target lists its true classes first and is ended by -1 (the rest is ignored); each "
    "true class j and each other class i add max(0, 1 - (x[j] - x[i])) / C.",
    "set s [torch::tensor_create {{0.1 0.2 0.4 0.8}}]\n"
    "set y [torch::tensor_create {{3 0 -1 1}} -dtype int64]\n"
    "puts [torch::tensor_item [torch::multilabel_margin_loss $s $y]]",
    ("multilabel_soft_margin_loss", "multi_margin_loss"),
)


def multilabel_soft_margin_loss(input, target, reduction, weight, ctx):
    return F.multilabel_soft_margin_loss(
        input, _elementwise_target(input, target, ctx), _like_input(input, weight), reduction=reduction
    )


_loss(
    "multilabel_soft_margin_loss",
    multilabel_soft_margin_loss,
    [
        _input("class scores (N, C)"),
        _target("0 or 1 per class, same shape"),
        _red(),
        Opt("weight", OptionalTensor, default=None, positional=False, help="weight of each class (C)"),
    ],
    "Multi-label one-versus-all logistic loss (F.multilabel_soft_margin_loss)",
    "The mean over classes of the binary cross-entropy of sigmoid(input) and the 0/1 targets, per sample.",
    "set s [torch::tensor_create {{2.0 -1.0}}]\n"
    "set y [torch::tensor_create {{1.0 0.0}}]\n"
    "puts [torch::tensor_item [torch::multilabel_soft_margin_loss $s $y]]",
    ("multilabel_margin_loss", "bce_with_logits_loss"),
)


def soft_margin_loss(input, target, reduction, ctx):
    target = _elementwise_target(input, target, ctx)
    _signs(target, ctx)
    return F.soft_margin_loss(input, target, reduction=reduction)


_loss(
    "soft_margin_loss",
    soft_margin_loss,
    [_input(_PREDICTION), _target("1 or -1, same shape as the input"), _red()],
    "Two-class logistic loss log(1 + exp(-target * input)) (F.soft_margin_loss)",
    "The logistic loss of scores and labels 1 / -1.",
    "set s [torch::tensor_create {2.0 -1.0}]\n"
    "set y [torch::tensor_create {1.0 1.0}]\n"
    "puts [torch::tensor_to_list [torch::soft_margin_loss $s $y none]]",
    ("bce_with_logits_loss", "hinge_embedding_loss"),
)


def focal_loss(input, target, alpha, gamma, reduction, ctx):
    target = _class_target(input, target, ctx, probabilities=False)
    return engine.focal_loss(input, target, alpha, gamma, reduction)


_loss(
    "focal_loss",
    focal_loss,
    [
        _input("logits (N, C) or (N, C, *)"),
        _target("class indices (N) or (N, *)"),
        Opt("alpha", Double(ge=0), default=1.0, help="weighting factor"),
        Opt("gamma", Double(ge=0), default=2.0, help="focusing parameter; 0 gives alpha * cross-entropy"),
        _red(),
    ],
    "Focal loss -alpha (1 - p_t)^gamma log(p_t) of logits and class indices (Lin et al. 2017)",
    'The focal loss of Lin et al., "Focal Loss for Dense Object Detection" (2017): p_t is the softmax '
    "probability of the true class, and the factor (1 - p_t)^gamma down-weights well-classified examples. "
    "With gamma = 0 and alpha = 1 it is the cross-entropy. The defaults (alpha 1, gamma 2) are the other "
    "implementation's; the paper's detector used alpha = 0.25 with a sigmoid per class.",
    "set logits [torch::tensor_create {{2.0 0.0} {0.0 2.0}}]\n"
    "set y [torch::tensor_create {0 0} -dtype int64]\n"
    "puts [torch::tensor_to_list [torch::focal_loss $logits $y 1.0 2.0 none]]",
    ("cross_entropy_loss", "dice_loss"),
)


def dice_loss(input, target, smooth, reduction, logits, ctx):
    return engine.dice_loss(input, _elementwise_target(input, target, ctx), smooth, reduction, logits)


_LOGITS = Opt(
    "logits",
    Bool(),
    default=True,
    positional=False,
    help="the input holds logits (a sigmoid is applied); 0 for probabilities",
)


_loss(
    "dice_loss",
    dice_loss,
    [
        _input("logits (or probabilities with -logits 0), sample per row of dimension 0"),
        _target("0/1 masks, same shape"),
        Opt("smooth", Double(ge=0), default=1.0, help="added to both sides"),
        _red(),
        _LOGITS,
    ],
    "Dice loss 1 - (2 |P.T| + s) / (|P| + |T| + s) per sample (Milletari et al. 2016)",
    "The soft Dice loss of segmentation: P = sigmoid(input) (or the input itself with `-logits 0`), T the "
    "target; sums run over every dimension but the first (one loss per sample; a 1-d input is one sample).",
    "set x [torch::tensor_create {{1.0 0.0} {0.0 1.0}}]\n"
    "set t [torch::tensor_create {{1.0 0.0} {1.0 1.0}}]\n"
    "puts [torch::tensor_to_list [torch::dice_loss $x $t 1.0 none -logits 0]]",
    ("tversky_loss", "focal_loss"),
)


def tversky_loss(input, target, alpha, beta, smooth, reduction, logits, ctx):
    return engine.tversky_loss(
        input, _elementwise_target(input, target, ctx), alpha, beta, smooth, reduction, logits
    )


_loss(
    "tversky_loss",
    tversky_loss,
    [
        _input("logits (or probabilities with -logits 0), sample per row of dimension 0"),
        _target("0/1 masks, same shape"),
        Opt("alpha", Double(ge=0), default=0.7, help="weight of false positives"),
        Opt("beta", Double(ge=0), default=0.3, help="weight of false negatives"),
        Opt("smooth", Double(ge=0), default=1.0, help="added to both sides"),
        _red(),
        _LOGITS,
    ],
    "Tversky loss 1 - (TP + s) / (TP + alpha FP + beta FN + s) per sample (Salehi et al. 2017)",
    "A generalization of the Dice loss that weighs false positives (alpha) and false negatives (beta) apart: "
    "TP = sum P.T, FP = sum P.(1-T), FN = sum (1-P).T over every dimension but the first, P = sigmoid(input) "
    "(or the input with `-logits 0`). alpha = beta = 0.5 gives the Dice loss (whose smoothing s is s/2 here). The defaults (0.7, 0.3) are the "
    "other implementation's; the paper favours recall with alpha = 0.3, beta = 0.7.",
    "set x [torch::tensor_create {{1.0 0.0} {0.0 1.0}}]\n"
    "set t [torch::tensor_create {{1.0 0.0} {1.0 1.0}}]\n"
    "puts [torch::tensor_to_list [torch::tversky_loss $x $t 0.5 0.5 1.0 none -logits 0]]",
    ("dice_loss",),
)
