"""Learning-rate schedulers: torch.optim.lr_scheduler classes (and LambdaLR with the formulas of
tcltorch.optim.schedules where torch has none), as handles of kind ``scheduler``.

A scheduler changes the ``lr`` of its optimizer's parameter groups (on Adafactor, the cap of the
relative step, as Keras does with a schedule as learning_rate).  Creating one sets the lr of step
0; ``torch::lr_scheduler_step_update`` advances it by one step (after ``optimizer_step``)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch.optim import lr_scheduler as lrs

from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Double,
    Handle,
    HandleList,
    Int,
    IntList,
    Opt,
    Str,
    command,
    parse_tcl_double,
)
from tcltorch.commands.train._scheduler_docs import page
from tcltorch.errors import TclError, invalid_value
from tcltorch.optim import schedules

FAMILY = "train/schedulers"

_OPTIMIZER = Opt("optimizer", Handle("optimizer"), help="optimizer handle", aliases=("opt",))


_SCHEDULER = Opt("scheduler", Handle("scheduler"), help="scheduler handle", aliases=("handle",))


def _last_epoch() -> Opt:
    return Opt(
        "lastEpoch",
        Int(ge=-1),
        -1,
        "index of the last step when resuming (-1: start); an optimizer never scheduled before "
        "starts from its lr as the initial lr",
        aliases=("last_epoch",),
    )


def _gamma(default: Any, help: str = "multiplicative decay factor") -> Opt:
    return Opt("gamma", Double(gt=0), default, help, aliases=("decay",))


def _momentum_auto(optimizer: torch.optim.Optimizer, cycle_momentum: bool | None) -> bool:
    if cycle_momentum is None:
        defaults = optimizer.defaults
        return bool(defaults.get("momentum", 0)) or "betas" in defaults
    return cycle_momentum


def _cycle_momentum_opt() -> Opt:
    return Opt(
        "cycleMomentum",
        Bool(),
        None,
        "cycle the momentum (or beta1) inversely to the lr; default: when the optimizer has one",
        positional=False,
        aliases=("cycle_momentum",),
    )


def _build(factory, optimizer, *args, **kwargs):
    """Create a scheduler; on failure the optimizer's lr and groups are as before."""
    saved = [dict(g) for g in optimizer.param_groups]
    try:
        if kwargs.get("last_epoch", -1) >= 0:
            # resuming at a step: a group no schedule has set yet starts from its lr
            # (torch requires initial_lr, which a scheduler or a loaded optimizer state records)
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return factory(optimizer, *args, **kwargs)
    except BaseException:
        for group, before in zip(optimizer.param_groups, saved):
            group.clear()
            group.update(before)
        raise


@command(
    "lr_scheduler_step",
    _OPTIMIZER,
    Opt("stepSize", Int(ge=1), help="steps between decays", aliases=("step_size",)),
    _gamma(0.1),
    _last_epoch(),
    summary="Create a StepLR scheduler: lr *= gamma every stepSize steps (torch.optim.lr_scheduler.StepLR).",
    **page("lr_scheduler_step"),
)
def lr_scheduler_step(optimizer, step_size, gamma, last_epoch):
    return _build(lrs.StepLR, optimizer, step_size=step_size, gamma=gamma, last_epoch=last_epoch)


@command(
    "lr_scheduler_exponential",
    _OPTIMIZER,
    _gamma(0.95),
    _last_epoch(),
    summary="Create an ExponentialLR scheduler: lr *= gamma every step (torch.optim.lr_scheduler.ExponentialLR).",
    **page("lr_scheduler_exponential"),
)
def lr_scheduler_exponential(optimizer, gamma, last_epoch):
    return _build(lrs.ExponentialLR, optimizer, gamma=gamma, last_epoch=last_epoch)


@command(
    "lr_scheduler_exponential_decay",
    _OPTIMIZER,
    _gamma(0.95, "decay rate: lr = initial_lr * gamma**(step/decaySteps)"),
    Opt("decaySteps", Int(ge=1), 1, "steps per factor gamma (Keras decay_steps)", aliases=("decay_steps",)),
    Opt("staircase", Bool(), False, "decay in whole multiples of decaySteps (Keras staircase)"),
    summary="Create a Keras ExponentialDecay schedule: lr = initial_lr * gamma**(step/decaySteps).",
    **page("lr_scheduler_exponential_decay"),
)
def lr_scheduler_exponential_decay(optimizer, gamma, decay_steps, staircase):
    return _build(lrs.LambdaLR, optimizer, schedules.ExponentialDecay(gamma, decay_steps, staircase))


def _cosine_options() -> list[Opt]:
    return [
        _OPTIMIZER,
        Opt("tMax", Int(ge=1), help="steps of the half cosine period", aliases=("T_max", "t_max", "TMax")),
        Opt("etaMin", Double(ge=0), 0.0, "lowest learning rate", aliases=("eta_min",)),
        _last_epoch(),
    ]


@command(
    "lr_scheduler_cosine",
    *_cosine_options(),
    summary="Create a CosineAnnealingLR scheduler (torch.optim.lr_scheduler.CosineAnnealingLR).",
    **page("lr_scheduler_cosine"),
)
def lr_scheduler_cosine(optimizer, t_max, eta_min, last_epoch):
    return _build(lrs.CosineAnnealingLR, optimizer, T_max=t_max, eta_min=eta_min, last_epoch=last_epoch)


@command(
    "lr_scheduler_cosine_annealing",
    *_cosine_options(),
    summary="Create a CosineAnnealingLR scheduler (same as torch::lr_scheduler_cosine).",
    **page("lr_scheduler_cosine_annealing"),
)
def lr_scheduler_cosine_annealing(optimizer, t_max, eta_min, last_epoch):
    return lr_scheduler_cosine(optimizer, t_max, eta_min, last_epoch)


@command(
    "lr_scheduler_cosine_annealing_warm_restarts",
    _OPTIMIZER,
    Opt("t0", Int(ge=1), help="steps until the first restart", aliases=("T0", "T_0", "t_0")),
    Opt(
        "tMult",
        Int(ge=1),
        1,
        "factor by which each period grows after a restart",
        aliases=("T_mult", "t_mult", "TMult"),
    ),
    Opt("etaMin", Double(ge=0), 0.0, "lowest learning rate", aliases=("eta_min",)),
    _last_epoch(),
    summary="Create a CosineAnnealingWarmRestarts scheduler (SGDR; torch.optim.lr_scheduler).",
    **page("lr_scheduler_cosine_annealing_warm_restarts"),
)
def lr_scheduler_cosine_annealing_warm_restarts(optimizer, t0, t_mult, eta_min, last_epoch):
    return _build(
        lrs.CosineAnnealingWarmRestarts,
        optimizer,
        T_0=t0,
        T_mult=t_mult,
        eta_min=eta_min,
        last_epoch=last_epoch,
    )


def _milestones(text: str, option: str, ctx: Any) -> list[int]:
    values = IntList().convert(text, option, ctx)
    if not values or any(v < 1 for v in values):
        raise invalid_value(option, text, "must be a non-empty list of positive integers")
    return sorted(values)


@command(
    "lr_scheduler_multi_step",
    _OPTIMIZER,
    Opt(
        "milestones",
        Custom(_milestones, "list of integers", "must be a list of positive integers"),
        help="steps at which lr is multiplied by gamma",
    ),
    _gamma(0.1),
    _last_epoch(),
    summary="Create a MultiStepLR scheduler: lr *= gamma at each milestone (torch.optim.lr_scheduler).",
    **page("lr_scheduler_multi_step"),
)
def lr_scheduler_multi_step(optimizer, milestones, gamma, last_epoch):
    return _build(lrs.MultiStepLR, optimizer, milestones=milestones, gamma=gamma, last_epoch=last_epoch)


@command(
    "lr_scheduler_multiplicative",
    _OPTIMIZER,
    Opt(
        "lrLambda",
        Double(gt=0),
        help="factor applied at every step: lr = lr * lrLambda",
        aliases=("lr_lambda",),
    ),
    _last_epoch(),
    summary="Create a MultiplicativeLR scheduler with a constant factor (torch.optim.lr_scheduler).",
    **page("lr_scheduler_multiplicative"),
)
def lr_scheduler_multiplicative(optimizer, lr_lambda, last_epoch):
    return _build(lrs.MultiplicativeLR, optimizer, schedules.Constant(lr_lambda), last_epoch=last_epoch)


def _tcl_factor(ctx: Any, prefix: str) -> Any:
    """The multiplier of ``-command PREFIX``: PREFIX called with the step, its result a number >= 0."""
    words = ctx.split(prefix, "-command")
    if not words:
        raise invalid_value(
            "-command", prefix, "must be a Tcl command prefix (a proc name and any leading words)"
        )

    def call(step: int) -> float:
        result = ctx.call(*words, str(step))
        value = parse_tcl_double(result)
        if value is None or not math.isfinite(value) or value < 0:
            shown = result if len(result) <= 40 else result[:37] + "..."
            raise TclError(
                f'the -command "{prefix}" returned "{shown}" for step {step}: '
                "it must return a finite number >= 0 (the factor of the initial lr)",
                ["TORCH", "VALUE", "-command"],
            )
        return value

    return schedules.Callback(prefix, call)


@command(
    "lr_scheduler_lambda",
    _OPTIMIZER,
    Opt(
        "multiplier",
        Double(gt=0),
        None,
        "lr = initial_lr * multiplier**step",
        aliases=("lambda",),
        default_doc="1.0",
    ),
    _last_epoch(),
    Opt(
        "command",
        Str(),
        None,
        "Tcl command prefix called with the step, returning the factor: lr = initial_lr * [{*}$command $step]",
        positional=False,
        aliases=("lrLambda", "lr_lambda"),
    ),
    context=True,
    summary="Create a LambdaLR scheduler: lr = initial_lr * multiplier**step, or times what a Tcl command returns.",
    **page("lr_scheduler_lambda"),
)
def lr_scheduler_lambda(optimizer, multiplier, last_epoch, command, ctx):
    if command is not None and multiplier is not None:
        raise TclError("give -multiplier or -command, not both", ["TORCH", "ARGS", "EXCLUSIVE", "-command"])
    factor = _tcl_factor(ctx, command) if command is not None else schedules.Power(multiplier or 1.0)
    return _build(lrs.LambdaLR, optimizer, factor, last_epoch=last_epoch)


@command(
    "lr_scheduler_polynomial",
    _OPTIMIZER,
    Opt("totalIters", Int(ge=1), 5, "steps over which lr decays to 0", aliases=("total_iters",)),
    Opt("power", Double(ge=0), 1.0, "power of the polynomial"),
    _last_epoch(),
    summary="Create a PolynomialLR scheduler: lr decays as (1 - step/totalIters)**power (torch.optim.lr_scheduler).",
    **page("lr_scheduler_polynomial"),
)
def lr_scheduler_polynomial(optimizer, total_iters, power, last_epoch):
    return _build(lrs.PolynomialLR, optimizer, total_iters=total_iters, power=power, last_epoch=last_epoch)


def _plateau_options(positional_tail: bool) -> list[Opt]:
    tail = [
        Opt("threshold", Double(ge=0), 1e-4, "smallest change that counts as an improvement"),
        Opt(
            "thresholdMode",
            Choice("rel", "abs"),
            "rel",
            "threshold relative to the best value, or absolute",
            aliases=("threshold_mode",),
        ),
        Opt("minLr", Double(ge=0), 0.0, "lowest learning rate", aliases=("min_lr",)),
    ]
    for opt in tail:
        opt.positional = positional_tail
    return [
        _OPTIMIZER,
        Opt("mode", Choice("min", "max"), "min", "min: the metric should fall; max: it should rise"),
        Opt("factor", Double(gt=0, lt=1), 0.1, "lr *= factor on a plateau"),
        Opt("patience", Int(ge=0), 10, "steps without improvement before the lr is reduced"),
        *tail,
        Opt(
            "cooldown",
            Int(ge=0),
            0,
            "steps to wait after a reduction before counting again",
            positional=False,
        ),
        Opt("eps", Double(ge=0), 1e-8, "smaller lr changes are ignored", positional=False),
    ]


def _plateau(optimizer, mode, factor, patience, threshold, threshold_mode, min_lr, cooldown, eps):
    return _build(
        lrs.ReduceLROnPlateau,
        optimizer,
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
        eps=eps,
    )


@command(
    "lr_scheduler_plateau",
    *_plateau_options(False),
    summary="Create a ReduceLROnPlateau scheduler, fed a metric at each step (torch.optim.lr_scheduler).",
    **page("lr_scheduler_plateau"),
)
def lr_scheduler_plateau(**kwargs):
    return _plateau(**kwargs)


@command(
    "lr_scheduler_reduce_on_plateau",
    *_plateau_options(True),
    summary="Create a ReduceLROnPlateau scheduler with every option positional (torch.optim.lr_scheduler).",
    **page("lr_scheduler_reduce_on_plateau"),
)
def lr_scheduler_reduce_on_plateau(**kwargs):
    return _plateau(**kwargs)


@command(
    "lr_scheduler_cyclic",
    _OPTIMIZER,
    Opt("baseLr", Double(gt=0), help="lower bound of the cycle", aliases=("base_lr",)),
    Opt("maxLr", Double(gt=0), help="upper bound of the cycle", aliases=("max_lr",)),
    Opt("stepSize", Int(ge=1), 2000, "steps of the rising half cycle", aliases=("step_size", "stepSizeUp")),
    Opt("mode", Choice("triangular", "triangular2", "exp_range"), "triangular", "shape of the cycles"),
    Opt(
        "stepSizeDown",
        Int(ge=1),
        None,
        "steps of the falling half (default: stepSize)",
        positional=False,
        aliases=("step_size_down",),
    ),
    Opt("gamma", Double(gt=0), 1.0, "exp_range: amplitude *= gamma**step", positional=False),
    _cycle_momentum_opt(),
    _last_epoch(),
    summary="Create a CyclicLR scheduler (torch.optim.lr_scheduler.CyclicLR).",
    **page("lr_scheduler_cyclic"),
)
def lr_scheduler_cyclic(
    optimizer, base_lr, max_lr, step_size, mode, step_size_down, gamma, cycle_momentum, last_epoch
):
    return _build(
        lrs.CyclicLR,
        optimizer,
        base_lr=base_lr,
        max_lr=max_lr,
        step_size_up=step_size,
        step_size_down=step_size_down,
        mode=mode,
        gamma=gamma,
        cycle_momentum=_momentum_auto(optimizer, cycle_momentum),
        last_epoch=last_epoch,
    )


def _one_cycle_options(final_positional: bool) -> list[Opt]:
    return [
        _OPTIMIZER,
        Opt("maxLr", Double(gt=0), help="peak learning rate", aliases=("max_lr",)),
        Opt("totalSteps", Int(ge=1), help="length of the cycle in steps", aliases=("total_steps",)),
        Opt(
            "pctStart", Double(gt=0, lt=1), 0.3, "fraction of the cycle spent rising", aliases=("pct_start",)
        ),
        Opt(
            "annealStrategy",
            Choice("cos", "linear"),
            "cos",
            "shape of the rise and fall",
            aliases=("anneal_strategy",),
        ),
        Opt("divFactor", Double(gt=0), 25.0, "initial lr = maxLr/divFactor", aliases=("div_factor",)),
        Opt(
            "finalDivFactor",
            Double(gt=0),
            1e4,
            "final lr = initial lr/finalDivFactor",
            positional=final_positional,
            aliases=("final_div_factor",),
        ),
        Opt(
            "threePhase",
            Bool(),
            False,
            "fall back to the initial lr, then anneal (fastai's schedule)",
            positional=False,
            aliases=("three_phase",),
        ),
        _cycle_momentum_opt(),
        _last_epoch(),
    ]


def _one_cycle(
    optimizer,
    max_lr,
    total_steps,
    pct_start,
    anneal_strategy,
    div_factor,
    final_div_factor,
    three_phase,
    cycle_momentum,
    last_epoch,
):
    return _build(
        lrs.OneCycleLR,
        optimizer,
        max_lr=max_lr,
        total_steps=total_steps,
        pct_start=pct_start,
        anneal_strategy=anneal_strategy,
        div_factor=div_factor,
        final_div_factor=final_div_factor,
        three_phase=three_phase,
        cycle_momentum=_momentum_auto(optimizer, cycle_momentum),
        last_epoch=last_epoch,
    )


@command(
    "lr_scheduler_one_cycle",
    *_one_cycle_options(False),
    summary="Create a OneCycleLR scheduler (torch.optim.lr_scheduler.OneCycleLR).",
    **page("lr_scheduler_one_cycle"),
)
def lr_scheduler_one_cycle(**kwargs):
    return _one_cycle(**kwargs)


@command(
    "lr_scheduler_onecycle_advanced",
    *_one_cycle_options(True),
    summary="Create a OneCycleLR scheduler with finalDivFactor positional (torch.optim.lr_scheduler.OneCycleLR).",
    **page("lr_scheduler_onecycle_advanced"),
)
def lr_scheduler_onecycle_advanced(**kwargs):
    return _one_cycle(**kwargs)


@command(
    "lr_scheduler_linear_with_warmup",
    _OPTIMIZER,
    Opt(
        "numWarmupSteps",
        Int(ge=0),
        help="steps of the linear rise from 0",
        aliases=("num_warmup_steps", "warmupSteps", "warmup_steps", "warmup"),
    ),
    Opt(
        "numTrainingSteps",
        Int(ge=1),
        help="step at which lr reaches 0",
        aliases=("num_training_steps", "totalSteps", "total_steps", "total"),
    ),
    _last_epoch(),
    summary="Create HF's linear schedule with warmup: 0 -> lr over the warmup, then linearly to 0.",
    **page("lr_scheduler_linear_with_warmup"),
)
def lr_scheduler_linear_with_warmup(optimizer, num_warmup_steps, num_training_steps, last_epoch):
    return _build(
        lrs.LambdaLR,
        optimizer,
        schedules.LinearWarmup(num_warmup_steps, num_training_steps),
        last_epoch=last_epoch,
    )


@command(
    "lr_scheduler_constant_with_warmup",
    _OPTIMIZER,
    Opt(
        "numWarmupSteps",
        Int(ge=0),
        help="steps of the linear rise from 0",
        aliases=("num_warmup_steps", "warmupSteps", "warmup_steps", "warmup"),
    ),
    _last_epoch(),
    summary="Create HF's constant schedule with warmup: 0 -> lr over the warmup, then constant.",
    **page("lr_scheduler_constant_with_warmup"),
)
def lr_scheduler_constant_with_warmup(optimizer, num_warmup_steps, last_epoch):
    return _build(lrs.LambdaLR, optimizer, schedules.ConstantWarmup(num_warmup_steps), last_epoch=last_epoch)


@command(
    "lr_scheduler_inverse_sqrt",
    _OPTIMIZER,
    Opt("warmupSteps", Int(ge=1), help="steps of the linear rise from 0", aliases=("warmup_steps",)),
    Opt("decayFactor", Double(gt=0), 1.0, "scale of the whole schedule", aliases=("decay_factor",)),
    summary="Create an inverse square root schedule (HF get_inverse_sqrt_schedule) times decayFactor.",
    **page("lr_scheduler_inverse_sqrt"),
)
def lr_scheduler_inverse_sqrt(optimizer, warmup_steps, decay_factor):
    return _build(lrs.LambdaLR, optimizer, schedules.InverseSqrt(warmup_steps, decay_factor))


@command(
    "lr_scheduler_noam",
    _OPTIMIZER,
    Opt("modelSize", Int(ge=1), help="model dimension d_model", aliases=("model_size",)),
    Opt("warmupSteps", Int(ge=1), 4000, "steps of the linear rise", aliases=("warmup_steps",)),
    summary="Create the Noam schedule of 'Attention Is All You Need': lr = lr0 * d**-0.5 * min(t**-0.5, t*w**-1.5).",
    **page("lr_scheduler_noam"),
)
def lr_scheduler_noam(optimizer, model_size, warmup_steps):
    return _build(lrs.LambdaLR, optimizer, schedules.Noam(model_size, warmup_steps))


@command(
    "lr_scheduler_cosine_with_warmup",
    _OPTIMIZER,
    Opt(
        "numWarmupSteps",
        Int(ge=0),
        help="steps of the linear rise from 0",
        aliases=("num_warmup_steps", "warmupSteps", "warmup_steps", "warmup"),
    ),
    Opt(
        "numTrainingSteps",
        Int(ge=1),
        help="step at which the cosine reaches 0",
        aliases=("num_training_steps", "totalSteps", "total_steps", "total"),
    ),
    Opt(
        "numCycles",
        Double(gt=0),
        0.5,
        "cosine periods after the warmup (0.5: down to 0 once)",
        aliases=("num_cycles",),
    ),
    _last_epoch(),
)
def lr_scheduler_cosine_with_warmup(optimizer, num_warmup_steps, num_training_steps, num_cycles, last_epoch):
    """Create HF's cosine schedule with warmup: 0 -> lr over the warmup, then a cosine down to 0.

    As `transformers.get_cosine_schedule_with_warmup`: lr = initial_lr * step/warmup during the
    warmup, then initial_lr * 0.5 * (1 + cos(pi * 2 * numCycles * progress)), progress going
    from 0 to 1 between the end of the warmup and `-numTrainingSteps` (never below 0). A
    `torch.optim.lr_scheduler.LambdaLR`; saved by `torch::save_checkpoint -scheduler`.

    ## Return Value

    A scheduler handle; advance it with `torch::lr_scheduler_step_update` after each
    `torch::optimizer_step`.

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set s [torch::lr_scheduler_cosine_with_warmup $opt 2 6]
        set lrs [torch::get_lr $opt]
        foreach k {1 2 3 4 5 6} { lappend lrs [format %.4f [torch::lr_scheduler_step_update $s]] }
        puts $lrs   ;# -> 0.0 0.0500 0.1000 0.0854 0.0500 0.0146 0.0000
    """
    return _build(
        lrs.LambdaLR,
        optimizer,
        schedules.CosineWarmup(num_warmup_steps, num_training_steps, num_cycles),
        last_epoch=last_epoch,
    )


def _composite_parts(schedulers: list[Any], optimizer: Any | None, option: str) -> Any:
    """The optimizer all of ``schedulers`` drive (refusing an empty list, a plateau scheduler,
    one used twice, or two optimizers)."""
    if not schedulers:
        raise invalid_value(option, "", "must be a non-empty list of scheduler handles")
    if len({id(s) for s in schedulers}) != len(schedulers):
        raise TclError(f"a scheduler is given twice in {option}", ["TORCH", "VALUE", option])
    for s in schedulers:
        if isinstance(s, lrs.ReduceLROnPlateau):
            raise TclError(
                "a plateau scheduler cannot be part of a composite schedule (it is stepped with a metric): "
                "step it on its own with torch::lr_scheduler_step_update $s $metric",
                ["TORCH", "VALUE", option],
            )
    target = optimizer if optimizer is not None else schedulers[0].optimizer
    if any(s.optimizer is not target for s in schedulers):
        raise TclError(
            f"every scheduler in {option} must drive the same optimizer"
            + (" (the -optimizer given)" if optimizer is not None else ""),
            ["TORCH", "VALUE", option],
        )
    return target


@command(
    "lr_scheduler_sequential",
    _OPTIMIZER,
    Opt("schedulers", HandleList("scheduler"), help="schedulers of this optimizer, used one after another"),
    Opt(
        "milestones",
        Custom(_milestones, "list of integers", "must be a list of positive integers"),
        help="steps at which the next scheduler takes over (one fewer than -schedulers)",
    ),
    _last_epoch(),
)
def lr_scheduler_sequential(optimizer, schedulers, milestones, last_epoch):
    """Create a SequentialLR: one scheduler after another, switching at the milestones.

    As `torch.optim.lr_scheduler.SequentialLR`: the first of `-schedulers` runs until the first
    milestone, then the second starts (from its own step 0), and so on; a warm-up then a
    cosine is `{$warm $cosine}` with `-milestones {$warmupSteps}`. Make the schedulers on the
    same optimizer first (each sets the lr as it is made; this command resets it to the first
    one's step 0), then step only the composite. `torch::save_checkpoint -scheduler $seq` saves
    the schedulers inside it too; load it into a composite made the same way.

    ## Return Value

    A scheduler handle; advance it with `torch::lr_scheduler_step_update`.

    ## Errors

    Milestones that are not one fewer than the schedulers, a plateau scheduler, a scheduler of
    another optimizer.

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.1]
        set warm [torch::lr_scheduler_linear_with_warmup $opt 2 1000000]
        set decay [torch::lr_scheduler_exponential $opt 0.5]
        set s [torch::lr_scheduler_sequential $opt [list $warm $decay] {2}]
        set lrs [torch::get_lr $opt]
        foreach k {1 2 3 4} { lappend lrs [format %.4f [torch::lr_scheduler_step_update $s]] }
        puts $lrs   ;# -> 0.0 0.0500 0.1000 0.0500 0.0250
    """
    _composite_parts(schedulers, optimizer, "-schedulers")
    if len(milestones) != len(schedulers) - 1:
        raise invalid_value(
            "-milestones",
            " ".join(map(str, milestones)),
            f"must hold {len(schedulers) - 1} steps (one fewer than the {len(schedulers)} schedulers)",
        )
    return _build(
        lrs.SequentialLR, optimizer, schedulers=schedulers, milestones=milestones, last_epoch=last_epoch
    )


@command(
    "lr_scheduler_chained",
    Opt("schedulers", HandleList("scheduler"), help="schedulers of one optimizer, all stepped at every step"),
    Opt(
        "optimizer",
        Handle("optimizer"),
        None,
        "their optimizer (default: the first scheduler's)",
        aliases=("opt",),
    ),
)
def lr_scheduler_chained(schedulers, optimizer):
    """Create a ChainedScheduler: several schedulers stepped together, their factors multiplied.

    As `torch.optim.lr_scheduler.ChainedScheduler`: each `torch::lr_scheduler_step_update` of
    the chain steps every scheduler in it, in order, so their effects compose (an exponential
    decay and a step decay together, say). The schedulers must drive one optimizer.
    `torch::save_checkpoint -scheduler $chain` saves the schedulers inside it too.

    ## Return Value

    A scheduler handle; advance it with `torch::lr_scheduler_step_update`.

    Examples:
        set w [torch::ones {2} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 1.0]
        set a [torch::lr_scheduler_exponential $opt 0.5]
        set b [torch::lr_scheduler_step $opt 2 0.1]
        set s [torch::lr_scheduler_chained [list $a $b]]
        set lrs {}
        foreach k {1 2 3} { lappend lrs [format %.4f [torch::lr_scheduler_step_update $s]] }
        puts $lrs   ;# -> 0.5000 0.0250 0.0125
    """
    target = _composite_parts(schedulers, optimizer, "-schedulers")
    return _build(lambda opt, **kw: lrs.ChainedScheduler(schedulers, optimizer=opt), target)


def _metric(text: str, option: str, ctx: Any) -> float:
    value = parse_tcl_double(text)
    if value is None:
        obj = ctx.handles.get(text) if text in ctx.handles else None
        if isinstance(obj, torch.Tensor) and obj.numel() == 1:
            value = float(obj.detach().reshape(()).item())
        else:
            raise invalid_value(option, text, "must be a number or a one-element tensor handle")
    if math.isnan(value):
        raise invalid_value(option, text, "must not be NaN")
    return value


_METRIC = Opt(
    "metric",
    Custom(_metric, "number/tensor", "must be a number or a one-element tensor handle"),
    None,
    "value of the monitored metric (plateau schedulers only): a number or a one-element tensor",
    aliases=("value",),
)


def scheduler_lr(scheduler: Any) -> float:
    lrs_ = scheduler.get_last_lr() if hasattr(scheduler, "get_last_lr") else None
    if not lrs_:
        lrs_ = [g["lr"] for g in scheduler.optimizer.param_groups]
    lr = lrs_[0]
    return float(lr.item()) if isinstance(lr, torch.Tensor) else float(lr)


def step_scheduler(scheduler: Any, metric: float | None) -> float:
    plateau = isinstance(scheduler, lrs.ReduceLROnPlateau)
    if plateau and metric is None:
        raise TclError(
            "missing metric: a plateau scheduler is stepped with the monitored value "
            "(torch::lr_scheduler_step_update $scheduler $loss)",
            ["TORCH", "ARGS", "REQUIRED", "-metric"],
        )
    if not plateau and metric is not None:
        raise invalid_value("-metric", repr(metric), "only plateau schedulers take a metric")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping before any optimizer step is fine here
        if plateau:
            scheduler.step(metric)
        else:
            scheduler.step()
    return scheduler_lr(scheduler)


@command(
    "lr_scheduler_step_update",
    _SCHEDULER,
    _METRIC,
    summary="Advance a scheduler by one step (plateau kinds: fed the metric); returns the new learning rate.",
    **page("lr_scheduler_step_update"),
)
def lr_scheduler_step_update(scheduler, metric):
    return step_scheduler(scheduler, metric)


@command(
    "lr_scheduler_step_advanced",
    _SCHEDULER,
    _METRIC,
    summary="Advance a scheduler by one step, with a metric for plateau kinds (same as lr_scheduler_step_update).",
    **page("lr_scheduler_step_advanced"),
)
def lr_scheduler_step_advanced(scheduler, metric):
    return step_scheduler(scheduler, metric)


@command(
    "get_lr_advanced",
    _SCHEDULER,
    summary="The learning rate a scheduler set last (its first parameter group).",
    **page("get_lr_advanced"),
)
def get_lr_advanced(scheduler):
    return scheduler_lr(scheduler)
