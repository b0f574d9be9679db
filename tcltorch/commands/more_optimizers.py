"""The rest of the optimizer family: torch.optim where it has the algorithm, tcltorch.optim's
LAMB and NovoGrad where it does not.  Every command takes the parameter forms of Adafactor
(tensor, module, list, mix) and the Keras options of optim_extras.

Positional orders follow the C++ extension of this command family; where it takes a pair
(``betas``, ``etas``, ``stepSizes``) as one positional word, the pair's halves are also
options of their own (``-beta1``/``-beta2`` ...).
"""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.optim_extras import EXTRA_OPTIONS, with_extras
from tcltorch.commands.optimizers import Parameters
from tcltorch.commands.spec import Bool, Choice, Custom, Double, Int, Opt, command, parse_tcl_double
from tcltorch.errors import invalid_value


def _params() -> Opt:
    return Opt(
        "parameters",
        Parameters,
        help="tensor handle, module handle, or a list mixing them",
        aliases=("params",),
    )


def _lr(default: float) -> Opt:
    return Opt("lr", Double(gt=0), default, "learning rate", aliases=("learningRate",))


def _eps(default: float) -> Opt:
    return Opt(
        "eps", Double(ge=0), default, "added to the denominator for numerical stability", aliases=("epsilon",)
    )


def _wd(default: float = 0.0, help: str = "L2 penalty added to the gradient") -> Opt:
    return Opt("weightDecay", Double(ge=0), default, help, aliases=("weight_decay",))


def _maximize() -> Opt:
    return Opt("maximize", Bool(), False, "ascend instead of descend", positional=False)


def _pair(low: float | None, high: float | None, what: str):
    def convert(text: str, option: str, ctx: Any) -> tuple[float, float]:
        words = ctx.split(text, option)
        values = [parse_tcl_double(w) for w in words]
        if len(values) != 2 or any(v is None for v in values):
            raise invalid_value(option, text, f"must be a list of two numbers ({what})")
        for v in values:
            if (low is not None and v < low) or (high is not None and v >= high):
                raise invalid_value(option, text, f"must be two numbers in [{low:g}, {high:g})")
        return (values[0], values[1])

    return Custom(convert, "list of 2 doubles", f"must be a list of two numbers ({what})")


def _betas_opts(b1: float, b2: float) -> list[Opt]:
    return [
        Opt("betas", _pair(0.0, 1.0, "beta1 beta2"), None, f"{{beta1 beta2}} (default {{{b1} {b2}}})"),
    ]


def _beta_named() -> list[Opt]:
    return [
        Opt(
            "beta1", Double(ge=0, lt=1), None, "decay of the first moment (overrides betas)", positional=False
        ),
        Opt(
            "beta2",
            Double(ge=0, lt=1),
            None,
            "decay of the second moment (overrides betas)",
            positional=False,
        ),
    ]


def _betas(betas, beta1, beta2, default: tuple[float, float]) -> tuple[float, float]:
    if betas is not None and (beta1 is not None or beta2 is not None):
        flag = "-beta1" if beta1 is not None else "-beta2"
        raise invalid_value(
            flag, str(beta1 if beta1 is not None else beta2), "give either -betas or -beta1/-beta2"
        )
    b = betas or default
    return (b[0] if beta1 is None else beta1, b[1] if beta2 is None else beta2)


@command(
    "optimizer_rmsprop",
    _params(),
    _lr(0.01),
    Opt("alpha", Double(ge=0, le=1), 0.99, "smoothing constant of the squared-gradient average"),
    _eps(1e-8),
    _wd(),
    Opt("momentum", Double(ge=0), 0.0, "momentum factor", positional=False),
    Opt(
        "centered",
        Bool(),
        False,
        "normalize by the variance estimate instead of the raw second moment",
        positional=False,
    ),
    _maximize(),
    *EXTRA_OPTIONS,
    extra_aliases=("optimizerRmsprop",),
    summary="Create an RMSprop optimizer (torch.optim.RMSprop).",
)
@with_extras
def optimizer_rmsprop(parameters, **options):
    return torch.optim.RMSprop(parameters, **options)


@command(
    "optimizer_adagrad",
    _params(),
    _lr(0.01),
    _eps(1e-10),
    _wd(),
    Opt("lrDecay", Double(ge=0), 0.0, "learning-rate decay", positional=False, aliases=("lr_decay",)),
    Opt(
        "initialAccumulatorValue",
        Double(ge=0),
        0.0,
        "start of the squared-gradient sum",
        positional=False,
        aliases=("initial_accumulator_value",),
    ),
    _maximize(),
    *EXTRA_OPTIONS,
    summary="Create an Adagrad optimizer (torch.optim.Adagrad).",
)
@with_extras
def optimizer_adagrad(parameters, **options):
    return torch.optim.Adagrad(parameters, **options)


@command(
    "optimizer_momentum_sgd",
    _params(),
    _lr(0.01),
    Opt("momentum", Double(ge=0), 0.9, "momentum factor"),
    _wd(),
    Opt("dampening", Double(ge=0), 0.0, "dampening of the momentum", positional=False),
    Opt("nesterov", Bool(), False, "Nesterov momentum (needs -dampening 0)", positional=False),
    _maximize(),
    *EXTRA_OPTIONS,
    extra_aliases=("optimizerMomentumSGD",),
    summary="Create an SGD optimizer with momentum (torch.optim.SGD, momentum 0.9 by default).",
)
@with_extras
def optimizer_momentum_sgd(parameters, momentum, dampening, nesterov, **options):
    if nesterov and (momentum <= 0 or dampening != 0):
        raise invalid_value("-nesterov", "true", "needs -momentum > 0 and -dampening 0")
    return torch.optim.SGD(parameters, momentum=momentum, dampening=dampening, nesterov=nesterov, **options)


@command(
    "optimizer_lbfgs",
    _params(),
    _lr(1.0),
    Opt("maxIter", Int(ge=1), 20, "iterations per optimizer step", aliases=("max_iter",)),
    Opt(
        "maxEval",
        Int(ge=1),
        None,
        "closure evaluations per step (default maxIter*5/4)",
        aliases=("max_eval",),
    ),
    Opt(
        "toleranceGrad",
        Double(ge=0),
        1e-7,
        "stop when the gradient's max-abs falls below this",
        aliases=("tolerance_grad",),
    ),
    Opt(
        "toleranceChange",
        Double(ge=0),
        1e-9,
        "stop when the loss or parameter change falls below this",
        aliases=("tolerance_change",),
    ),
    Opt(
        "historySize",
        Int(ge=1),
        100,
        "number of curvature pairs kept",
        positional=False,
        aliases=("history_size",),
    ),
    Opt(
        "lineSearch",
        Choice("none", "strong_wolfe"),
        "none",
        "line search of each step",
        positional=False,
        aliases=("line_search_fn",),
    ),
    *EXTRA_OPTIONS,
    extra_aliases=("optimizerLbfgs",),
    summary="Create an L-BFGS optimizer (torch.optim.LBFGS); step it with torch::optimizer_step $opt -closure script.",
)
@with_extras
def optimizer_lbfgs(
    parameters, lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size, line_search
):
    return torch.optim.LBFGS(
        parameters,
        lr=lr,
        max_iter=max_iter,
        max_eval=max_eval,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        history_size=history_size,
        line_search_fn=None if line_search == "none" else line_search,
    )


@command(
    "optimizer_rprop",
    _params(),
    _lr(0.01),
    Opt("etas", _pair(None, None, "etaMinus etaPlus"), None, "{etaMinus etaPlus} (default {0.5 1.2})"),
    Opt(
        "stepSizes",
        _pair(None, None, "stepSizeMin stepSizeMax"),
        None,
        "{stepSizeMin stepSizeMax} (default {1e-6 50})",
        aliases=("step_sizes",),
    ),
    Opt("etaMinus", Double(gt=0, lt=1), None, "step-size decrease factor (0.5)", positional=False),
    Opt("etaPlus", Double(gt=1), None, "step-size increase factor (1.2)", positional=False),
    Opt("stepSizeMin", Double(ge=0), None, "smallest step size (1e-6)", positional=False),
    Opt("stepSizeMax", Double(gt=0), None, "largest step size (50)", positional=False),
    _maximize(),
    *EXTRA_OPTIONS,
    summary="Create an Rprop optimizer (torch.optim.Rprop, resilient backpropagation).",
)
@with_extras
def optimizer_rprop(
    parameters, lr, etas, step_sizes, eta_minus, eta_plus, step_size_min, step_size_max, maximize
):
    e = list(etas or (0.5, 1.2))
    s = list(step_sizes or (1e-6, 50.0))
    for i, v in ((0, eta_minus), (1, eta_plus)):
        if v is not None:
            e[i] = v
    for i, v in ((0, step_size_min), (1, step_size_max)):
        if v is not None:
            s[i] = v
    if not 0 < e[0] < 1 < e[1]:
        raise invalid_value("-etas", f"{e[0]} {e[1]}", "must be 0 < etaMinus < 1 < etaPlus")
    if not 0 <= s[0] <= s[1]:
        raise invalid_value("-stepSizes", f"{s[0]} {s[1]}", "must be 0 <= stepSizeMin <= stepSizeMax")
    return torch.optim.Rprop(parameters, lr=lr, etas=tuple(e), step_sizes=tuple(s), maximize=maximize)


def _adam_like(
    name: str,
    cls_summary: str,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    wd: float,
    extra: list[Opt],
    build,
    with_wd: bool = True,
    aliases: tuple[str, ...] = (),
):
    opts = [_params(), _lr(lr), *_betas_opts(*betas), _eps(eps)]
    if with_wd:
        opts.append(_wd(wd, "weight decay (see Description)"))
    opts += [*_beta_named(), *extra, _maximize(), *EXTRA_OPTIONS]

    def fn(parameters, betas_, beta1, beta2, **options):
        return build(parameters, _betas(betas_, beta1, beta2, betas), **options)

    def entry(parameters, betas, beta1, beta2, **options):
        return fn(parameters, betas, beta1, beta2, **options)

    entry.__name__ = name
    command(name, *opts, summary=cls_summary, extra_aliases=aliases)(with_extras(entry))


_adam_like(
    "optimizer_adamax",
    "Create an Adamax optimizer (torch.optim.Adamax, Adam with the infinity norm).",
    0.002,
    (0.9, 0.999),
    1e-8,
    0.0,
    [],
    lambda params, betas, **o: torch.optim.Adamax(params, betas=betas, **o),
)
_adam_like(
    "optimizer_sparse_adam",
    "Create a SparseAdam optimizer (torch.optim.SparseAdam, for sparse gradients).",
    0.001,
    (0.9, 0.999),
    1e-8,
    0.0,
    [],
    lambda params, betas, **o: torch.optim.SparseAdam(params, betas=betas, **o),
    with_wd=False,
)
_adam_like(
    "optimizer_nadam",
    "Create a NAdam optimizer (torch.optim.NAdam, Adam with Nesterov momentum).",
    0.002,
    (0.9, 0.999),
    1e-8,
    0.0,
    [
        Opt(
            "momentumDecay",
            Double(ge=0),
            0.004,
            "momentum decay psi",
            positional=False,
            aliases=("momentum_decay",),
        ),
        Opt(
            "decoupledWeightDecay",
            Bool(),
            False,
            "AdamW-style decoupled weight decay",
            positional=False,
            aliases=("decoupled_weight_decay",),
        ),
    ],
    lambda params, betas, **o: torch.optim.NAdam(params, betas=betas, **o),
    aliases=("optimizerNAdam",),
)
_adam_like(
    "optimizer_radam",
    "Create a RAdam optimizer (torch.optim.RAdam, rectified Adam).",
    0.001,
    (0.9, 0.999),
    1e-8,
    0.0,
    [
        Opt(
            "decoupledWeightDecay",
            Bool(),
            False,
            "AdamW-style decoupled weight decay",
            positional=False,
            aliases=("decoupled_weight_decay",),
        ),
    ],
    lambda params, betas, **o: torch.optim.RAdam(params, betas=betas, **o),
    aliases=("optimizerRAdam",),
)


def _lamb(params, betas, **o):
    from tcltorch.optim.lamb import Lamb

    return Lamb(params, betas=betas, **o)


def _novograd(params, betas, **o):
    from tcltorch.optim.novograd import NovoGrad

    return NovoGrad(params, betas=betas, **o)


_adam_like(
    "optimizer_lamb",
    "Create a LAMB optimizer (tcltorch.optim.Lamb: layer-wise trust ratio, You et al. 2020).",
    0.001,
    (0.9, 0.999),
    1e-6,
    0.01,
    [
        Opt(
            "biasCorrection",
            Bool(),
            True,
            "divide the moments by 1 - beta^t (Algorithm 2; false: v3 of the paper)",
            positional=False,
            aliases=("bias_correction",),
        )
    ],
    _lamb,
)
_adam_like(
    "optimizer_novograd",
    "Create a NovoGrad optimizer (tcltorch.optim.NovoGrad: layer-wise second moments).",
    0.001,
    (0.95, 0.98),
    1e-8,
    0.0,
    [
        Opt(
            "gradAveraging",
            Bool(),
            False,
            "scale the new momentum term by 1 - beta1",
            positional=False,
            aliases=("grad_averaging",),
        )
    ],
    _novograd,
)
