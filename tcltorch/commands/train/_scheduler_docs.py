"""The page text and examples of the scheduler commands (train/schedulers.py): each declaration
passes ``**page(NAME)`` (``doc=`` and ``examples=``) to ``@command``.  Kept apart because the
examples are long Tcl; private (``_``) so ``load_all`` does not import it as a family."""

from __future__ import annotations

from typing import Any

_SETUP = "set w [torch::ones {2} -requiresGrad 1]\nset opt [torch::optimizer_sgd $w 0.1]\n"


_LOOP = "foreach k {1 2 3 4 5 6} {\n    torch::optimizer_step $opt\n    lappend lrs [torch::lr_scheduler_step_update $s]\n}\n"


_RETURN = (
    "## Return Value\n\nA scheduler handle (`schedulerN`). Creating it sets the optimizer's lr for step 0; "
    "advance it with `torch::lr_scheduler_step_update` after each `torch::optimizer_step`, and read the "
    "rate with `torch::get_lr` or `torch::get_lr_advanced`. It is saved by `torch::save_checkpoint -scheduler`."
)


def _doc(text: str) -> str:
    return text.strip() + "\n\n" + _RETURN


def _example(create: str, first: str, shown: str) -> str:
    return f"{_SETUP}set s [{create}]\nputs [torch::get_lr $opt]    ;# -> {first}\n{_LOOP}puts $lrs    ;# -> {shown}"


_DOCS: dict[str, tuple[str, list[str]]] = {
    "lr_scheduler_step": (
        (
            "Multiplies the learning rate by `-gamma` every `-stepSize` steps: lr = initial_lr * gamma**floor(step/stepSize), "
            "as `torch.optim.lr_scheduler.StepLR`. The peer's `-decay` spelling of `-gamma` is accepted."
        ),
        [_example("torch::lr_scheduler_step $opt 2 0.5", "0.1", "0.1 0.05 0.05 0.025 0.025 0.0125")],
    ),
    "lr_scheduler_exponential": (
        (
            "Multiplies the learning rate by `-gamma` at every step: lr = initial_lr * gamma**step "
            "(`torch.optim.lr_scheduler.ExponentialLR`)."
        ),
        [
            _example(
                "torch::lr_scheduler_exponential $opt 0.5",
                "0.1",
                "0.05 0.025 0.0125 0.00625 0.003125 0.0015625",
            )
        ],
    ),
    "lr_scheduler_exponential_decay": (
        (
            "Keras's `ExponentialDecay` schedule: lr = initial_lr * gamma**(step/decaySteps), with `-staircase` "
            "the exponent is floored. With `-decaySteps 1` (the default) it is `ExponentialLR`. Stepped after each "
            "optimizer step, it gives the learning rate Keras evaluates at each iteration when an `ExponentialDecay` is "
            "passed as `learning_rate`; on Adafactor it moves the `-lr` cap of the relative step, as in Keras."
        ),
        [
            _example(
                "torch::lr_scheduler_exponential_decay $opt 0.5 -decaySteps 2 -staircase 1",
                "0.1",
                "0.1 0.05 0.05 0.025 0.025 0.0125",
            )
        ],
    ),
    "lr_scheduler_cosine": (
        (
            "Cosine annealing from the initial lr to `-etaMin` over `-tMax` steps (and back up after, "
            "as `torch.optim.lr_scheduler.CosineAnnealingLR` does)."
        ),
        [
            _example(
                "torch::lr_scheduler_cosine $opt 4 0.01",
                "0.1",
                "0.0868198052 0.055 0.0231801948 0.01 0.0231801948 0.055",
            )
        ],
    ),
    "lr_scheduler_cosine_annealing": (
        "The same scheduler as `torch::lr_scheduler_cosine` (`CosineAnnealingLR`), under the peer's second name.",
        [
            _example(
                "torch::lr_scheduler_cosine_annealing -optimizer $opt -tMax 3",
                "0.1",
                "0.075 0.025 0.0 0.025 0.075 0.1",
            )
        ],
    ),
    "lr_scheduler_cosine_annealing_warm_restarts": (
        (
            "SGDR: cosine annealing from the initial lr to `-etaMin` over `-t0` steps, then a restart; each period is "
            "`-tMult` times longer than the last (`torch.optim.lr_scheduler.CosineAnnealingWarmRestarts`)."
        ),
        [
            _example(
                "torch::lr_scheduler_cosine_annealing_warm_restarts $opt 2 2",
                "0.1",
                "0.05 0.1 0.0853553391 0.05 0.0146446609 0.1",
            )
        ],
    ),
    "lr_scheduler_multi_step": (
        (
            "Multiplies the learning rate by `-gamma` at each step listed in `-milestones` "
            "(`torch.optim.lr_scheduler.MultiStepLR`)."
        ),
        [_example("torch::lr_scheduler_multi_step $opt {2 5} 0.1", "0.1", "0.1 0.01 0.01 0.01 0.001 0.001")],
    ),
    "lr_scheduler_multiplicative": (
        (
            "Multiplies the current learning rate by the constant `-lrLambda` at every step "
            "(`torch.optim.lr_scheduler.MultiplicativeLR` with a constant factor, as the peer defines it)."
        ),
        [
            _example(
                "torch::lr_scheduler_multiplicative $opt 0.5",
                "0.1",
                "0.05 0.025 0.0125 0.00625 0.003125 0.0015625",
            )
        ],
    ),
    "lr_scheduler_lambda": (
        (
            "`torch.optim.lr_scheduler.LambdaLR` with lr = initial_lr * multiplier**step, the peer's meaning of this "
            "command (a Tcl number). `-lambda` is accepted for `-multiplier`.\n\n"
            "With `-command PREFIX` instead, the factor is a Tcl function: PREFIX (a proc name and any leading "
            "words) is called with the step (0 when the scheduler is made, then 1, 2, ...) and must return a "
            "finite number >= 0; lr = initial_lr * that number. A checkpoint (`torch::save_checkpoint -scheduler`) "
            "saves the prefix by its NAME only, not the proc: to resume, define the proc again and make the "
            "scheduler with the same `-command` before `torch::load_checkpoint`; a scheduler made with another "
            "prefix, or with `-multiplier`, is refused with a message naming the saved one."
        ),
        [
            _example(
                "torch::lr_scheduler_lambda $opt 0.5", "0.1", "0.05 0.025 0.0125 0.00625 0.003125 0.0015625"
            ),
            _SETUP
            + "proc halve_at {n step} { expr {$step < $n ? 1.0 : 0.5} }\n"
            + "set s [torch::lr_scheduler_lambda $opt -command {halve_at 3}]\nset lrs {}\n"
            + _LOOP
            + "puts $lrs    ;# -> 0.1 0.1 0.05 0.05 0.05 0.05",
        ],
    ),
    "lr_scheduler_polynomial": (
        (
            "lr = initial_lr * (1 - step/totalIters)**power until `-totalIters`, then 0 "
            "(`torch.optim.lr_scheduler.PolynomialLR`)."
        ),
        [_example("torch::lr_scheduler_polynomial $opt 4 2.0", "0.1", "0.05625 0.025 0.00625 0.0 0.0 0.0")],
    ),
    "lr_scheduler_plateau": (
        (
            "`torch.optim.lr_scheduler.ReduceLROnPlateau`: after each step it is fed the monitored value "
            "(`torch::lr_scheduler_step_update $s $loss`, a number or a one-element tensor); when the value has not "
            "improved by `-threshold` for more than `-patience` steps the lr is multiplied by `-factor` (not below "
            "`-minLr`), then `-cooldown` steps pass before it counts again. Positional: `optimizer ?mode? ?factor? "
            "?patience?`; see `torch::lr_scheduler_reduce_on_plateau` for every option positional."
        ),
        [
            (
                f"{_SETUP}set s [torch::lr_scheduler_plateau $opt min 0.5 1]\n"
                "foreach loss {1.0 0.8 0.9 0.85 0.7 0.75 0.8} {\n    lappend lrs [torch::lr_scheduler_step_update $s $loss]\n}\n"
                "puts $lrs    ;# -> 0.1 0.1 0.1 0.05 0.05 0.05 0.025"
            )
        ],
    ),
    "lr_scheduler_reduce_on_plateau": (
        (
            "`torch.optim.lr_scheduler.ReduceLROnPlateau` (as `torch::lr_scheduler_plateau`) with the positional order "
            "`optimizer ?mode? ?factor? ?patience? ?threshold? ?thresholdMode? ?minLr?`. Fed the metric at each step "
            "(`torch::lr_scheduler_step_update $s $metric`)."
        ),
        [
            (
                f"{_SETUP}set s [torch::lr_scheduler_reduce_on_plateau $opt max 0.1 0 0.01 abs 0.001]\n"
                "foreach acc {0.5 0.6 0.605 0.7 0.7} {\n    lappend lrs [torch::lr_scheduler_step_update $s $acc]\n}\n"
                "puts $lrs    ;# -> 0.1 0.1 0.01 0.01 0.001"
            )
        ],
    ),
    "lr_scheduler_cyclic": (
        (
            "`torch.optim.lr_scheduler.CyclicLR`: the lr moves between `-baseLr` and `-maxLr`, rising over `-stepSize` "
            "steps and falling over `-stepSizeDown` (default the same); `triangular2` halves the amplitude each cycle, "
            "`exp_range` multiplies it by `-gamma`**step. With `-cycleMomentum` (default: when the optimizer has a "
            "momentum or betas) the momentum cycles the other way, between 0.8 and 0.9."
        ),
        [_example("torch::lr_scheduler_cyclic $opt 0.01 0.1 2", "0.01", "0.055 0.1 0.055 0.01 0.055 0.1")],
    ),
    "lr_scheduler_one_cycle": (
        (
            "`torch.optim.lr_scheduler.OneCycleLR`: from maxLr/divFactor up to `-maxLr` over the first `-pctStart` of "
            "`-totalSteps`, then down to initial/finalDivFactor (`cos` or `linear`). Step it exactly `-totalSteps` "
            "times; one more is an error from PyTorch."
        ),
        [
            _example(
                "torch::lr_scheduler_one_cycle $opt 1.0 7 0.5 linear 10",
                "0.1",
                "0.46 0.82 0.8571442857 0.5714328571 0.2857214286 1e-05",
            )
        ],
    ),
    "lr_scheduler_onecycle_advanced": (
        (
            "`torch.optim.lr_scheduler.OneCycleLR` as `torch::lr_scheduler_one_cycle`, with `-finalDivFactor` as a "
            "seventh positional argument (the peer's order)."
        ),
        [
            _example(
                "torch::lr_scheduler_onecycle_advanced $opt 1.0 7 0.5 cos 10 100",
                "0.1",
                "0.4109423525 0.9140576475 0.9505339495 0.6116492065 0.189066844 0.001",
            )
        ],
    ),
    "lr_scheduler_linear_with_warmup": (
        (
            "Hugging Face's `get_linear_schedule_with_warmup`: lr = initial_lr * step/numWarmupSteps during the warmup, "
            "then falls linearly to 0 at `-numTrainingSteps` (LambdaLR with that formula). Step 0 has lr 0."
        ),
        [_example("torch::lr_scheduler_linear_with_warmup $opt 2 6", "0.0", "0.05 0.1 0.075 0.05 0.025 0.0")],
    ),
    "lr_scheduler_constant_with_warmup": (
        (
            "Hugging Face's `get_constant_schedule_with_warmup`: lr rises linearly from 0 over `-numWarmupSteps`, "
            "then stays at the initial lr."
        ),
        [_example("torch::lr_scheduler_constant_with_warmup $opt 4", "0.0", "0.025 0.05 0.075 0.1 0.1 0.1")],
    ),
    "lr_scheduler_inverse_sqrt": (
        (
            "Hugging Face's `get_inverse_sqrt_schedule` (timescale = warmup) times `-decayFactor`: "
            "lr = initial_lr * decayFactor * step/warmupSteps during the warmup, then "
            "initial_lr * decayFactor * sqrt(warmupSteps/step)."
        ),
        [
            _example(
                "torch::lr_scheduler_inverse_sqrt $opt 2",
                "0.0",
                "0.05 0.1 0.0816496581 0.0707106781 0.0632455532 0.0577350269",
            )
        ],
    ),
    "lr_scheduler_noam": (
        (
            "The schedule of 'Attention Is All You Need' (sec. 5.3), as the Annotated Transformer writes it: "
            "lr = initial_lr * modelSize**-0.5 * min(step**-0.5, step * warmupSteps**-1.5), step 0 read as 1. "
            "The optimizer's lr is the paper's scale factor (1.0 for the paper's rates)."
        ),
        [
            _example(
                "torch::lr_scheduler_noam $opt 4 2",
                "0.0176776695",
                "0.0176776695 0.0353553391 0.0288675135 0.025 0.0223606798 0.0204124145",
            )
        ],
    ),
}


_STEP_DOCS: dict[str, tuple[str, list[str]]] = {
    "lr_scheduler_step_update": (
        (
            "Advances the scheduler by one step and returns the learning rate it set (first parameter group). "
            "Call it after `torch::optimizer_step`. Plateau schedulers must be given the monitored value "
            "(`-metric`, a number or a one-element tensor such as the loss); the others take none.\n\n"
            "## Return Value\n\nThe new learning rate, a Tcl double.\n\n"
            "## Errors\n\n| plateau scheduler without a metric | `missing metric: a plateau scheduler is stepped with "
            "the monitored value ...` | `TORCH ARGS REQUIRED -metric` |\n"
            '| a metric for another kind | `invalid -metric "1.0": only plateau schedulers take a metric` '
            "| `TORCH VALUE -metric` |"
        ),
        [
            (
                f"{_SETUP}set s [torch::lr_scheduler_exponential $opt 0.5]\ntorch::optimizer_step $opt\n"
                "puts [torch::lr_scheduler_step_update $s]    ;# -> 0.05\n"
                "set p [torch::lr_scheduler_plateau $opt -patience 0]\n"
                "puts [torch::lr_scheduler_step_update $p 1.0]    ;# -> 0.05\n"
                "puts [torch::lr_scheduler_step_update -scheduler $p -metric 2.0]    ;# -> 0.005"
            )
        ],
    ),
    "lr_scheduler_step_advanced": (
        (
            "The same as `torch::lr_scheduler_step_update` under the peer's second name: advances the scheduler "
            "by one step (plateau kinds fed `-metric`) and returns the new learning rate.\n\n"
            "## Return Value\n\nThe new learning rate, a Tcl double."
        ),
        [
            (
                f"{_SETUP}set s [torch::lr_scheduler_plateau $opt min 0.5 0]\n"
                "set loss [torch::tensor_create {0.25}]\n"
                "puts [torch::lr_scheduler_step_advanced $s $loss]    ;# -> 0.1\n"
                "puts [torch::lr_scheduler_step_advanced $s 0.3]    ;# -> 0.05"
            )
        ],
    ),
    "get_lr_advanced": (
        (
            "The learning rate the scheduler set last, for its optimizer's first parameter group "
            "(`get_last_lr()`); `torch::get_lr $opt` reads the same value from the optimizer.\n\n"
            "## Return Value\n\nA Tcl double."
        ),
        [
            (
                f"{_SETUP}set s [torch::lr_scheduler_step $opt 1 0.5]\ntorch::lr_scheduler_step_update $s\n"
                "puts [torch::get_lr_advanced $s]    ;# -> 0.05\nputs [torch::getLrAdvanced -scheduler $s]    ;# -> 0.05"
            )
        ],
    ),
}


def page(name: str) -> dict[str, Any]:
    """``doc=`` and ``examples=`` for the declaration of scheduler command ``name``."""
    if name in _STEP_DOCS:
        text, examples = _STEP_DOCS[name]
        return {"doc": text.strip(), "examples": examples}
    text, examples = _DOCS[name]
    return {"doc": _doc(text), "examples": examples}
