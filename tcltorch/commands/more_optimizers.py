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


# -- docs (tools/gen_docs.py renders them with the specs) ---------------------------------------

_RETURN = (
    "## Return Value\n\nAn optimizer handle (`optimizerN`) for `torch::optimizer_step`, "
    "`torch::optimizer_zero_grad`, the schedulers and `torch::save_checkpoint`."
)
_TRAIN = (
    "set w [torch::tensor_create {1.0 -2.0} -requiresGrad 1]\n"
    "set opt [CREATE]\n"
    "foreach k {1 2} {\n"
    "    torch::optimizer_zero_grad $opt\n"
    "    torch::tensor_backward [torch::tensor_sum [torch::tensor_mul $w $w]]\n"
    "    torch::optimizer_step $opt\n"
    "}\n"
    "puts [torch::tensor_to_list $w]    ;# -> SHOWN"
)

_DOCS = {
    "optimizer_rmsprop": (
        (
            "RMSprop (`torch.optim.RMSprop`): divides the gradient by the root of a running average of its square "
            "(`-alpha`), optionally centered and with momentum."
        ),
        "torch::optimizer_rmsprop $w 0.01",
        "0.832918 -1.8309433",
    ),
    "optimizer_adagrad": (
        "Adagrad (`torch.optim.Adagrad`): divides the gradient by the root of the sum of all past squared gradients.",
        "torch::optimizer_adagrad -parameters $w -lr 0.1",
        "0.83310354 -1.831125",
    ),
    "optimizer_momentum_sgd": (
        (
            "SGD with momentum (`torch.optim.SGD`) whose momentum defaults to 0.9; the peer's positional order "
            "`parameters lr momentum weightDecay`."
        ),
        "torch::optimizer_momentum_sgd $w 0.1 0.9",
        "0.46 -0.92",
    ),
    "optimizer_lbfgs": (
        (
            "L-BFGS (`torch.optim.LBFGS`). Each `torch::optimizer_step $opt -closure script` runs up to `-maxIter` "
            "iterations; the closure script zeroes the gradients, computes the loss, runs `torch::tensor_backward` "
            "and returns the loss handle. It is evaluated like `torch::scope` (handles it creates are freed), possibly "
            "several times per step. `-skipNonFinite` is refused: the line search re-evaluates the closure."
        ),
        None,
        None,
    ),
    "optimizer_rprop": (
        (
            "Rprop (`torch.optim.Rprop`, resilient backpropagation): each element has its own step size, multiplied "
            "by etaPlus while the gradient keeps its sign and by etaMinus when it flips, within [stepSizeMin, "
            "stepSizeMax]. Positional pairs `{etaMinus etaPlus}` and `{stepSizeMin stepSizeMax}` as in the peer; "
            "the halves are also options."
        ),
        "torch::optimizer_rprop $w 0.1 {0.5 1.2} {1e-6 50}",
        "0.78 -1.78",
    ),
    "optimizer_adamax": (
        (
            "Adamax (`torch.optim.Adamax`): Adam with the infinity norm in place of the second moment. "
            "`betas` is a pair `{beta1 beta2}`; `-beta1`/`-beta2` set one half."
        ),
        "torch::optimizer_adamax $w 0.1",
        "0.8051683 -1.8025341",
    ),
    "optimizer_sparse_adam": (
        (
            "SparseAdam (`torch.optim.SparseAdam`): Adam that updates only the rows present in sparse gradients, "
            "for `torch::embedding ... -sparse 1`. Dense gradients are refused by PyTorch at the step."
        ),
        None,
        None,
    ),
    "optimizer_nadam": (
        (
            "NAdam (`torch.optim.NAdam`): Adam with Nesterov momentum (`-momentumDecay`), optional decoupled "
            "weight decay."
        ),
        "torch::optimizer_nadam $w 0.1",
        "0.81997305 -1.8178976",
    ),
    "optimizer_radam": (
        "RAdam (`torch.optim.RAdam`): Adam with the variance of the adaptive rate rectified in early steps.",
        "torch::optimizer_radam $w 0.1",
        "0.6210526 -1.2421052",
    ),
    "optimizer_lamb": (
        (
            "LAMB (tcltorch.optim.Lamb, You et al. 2020, Algorithm 2): Adam's update r = m_hat/(sqrt(v_hat)+eps) "
            "plus `-weightDecay` times the parameter, scaled per tensor by the trust ratio ||x||/||u|| (1 when a "
            "norm is 0). `-biasCorrection 0` gives the paper's version 3. Checked against pytorch-optimizer's Lamb "
            "(tests/data/TRAINING_GOLDEN.md)."
        ),
        "torch::optimizer_lamb $w 0.1",
        "0.7005646 -1.6968709",
    ),
    "optimizer_novograd": (
        (
            "NovoGrad (tcltorch.optim.NovoGrad, Ginsburg et al. 2019): a second moment per tensor (v = running "
            "average of ||g||^2), m = beta1*m + g/(sqrt(v)+eps) + weightDecay*x (times 1-beta1 with "
            "`-gradAveraging`), x -= lr*m. Checked against pytorch-optimizer's NovoGrad."
        ),
        "torch::optimizer_novograd $w 0.1",
        "0.8700346 -1.7400692",
    ),
}


def _document() -> None:
    from tcltorch.commands.optim_extras import EXTRAS_DOC
    from tcltorch.commands.spec import REGISTRY

    for name, (text, create, shown) in _DOCS.items():
        cmd = REGISTRY[name]
        cmd.doc = text + "\n\n" + EXTRAS_DOC + "\n\n" + _RETURN
        if create is not None:
            cmd.examples = [_TRAIN.replace("CREATE", create).replace("SHOWN", shown)]
    REGISTRY["optimizer_lbfgs"].examples = [
        (
            "set w [torch::tensor_create {1.0 -2.0} -requiresGrad 1]\n"
            "set opt [torch::optimizer_lbfgs $w 1.0 -lineSearch strong_wolfe]\n"
            "set loss [torch::optimizer_step $opt -closure {\n"
            "    torch::optimizer_zero_grad $opt\n"
            "    set l [torch::tensor_sum [torch::tensor_mul $w $w]]\n"
            "    torch::tensor_backward $l\n"
            "    set l\n"
            "}]\n"
            "puts $loss    ;# -> 5.0\n"
            "puts [torch::tensor_to_list $w]    ;# -> 1.192e-07 -2.384e-07"
        )
    ]
    REGISTRY["optimizer_sparse_adam"].examples = [
        (
            "set w [torch::tensor_create {1.0 -2.0} -requiresGrad 1]\n"
            "set opt [torch::optimizer_sparse_adam $w 0.1]\n"
            "puts [torch::get_lr $opt]    ;# -> 0.1"
        )
    ]


_document()
