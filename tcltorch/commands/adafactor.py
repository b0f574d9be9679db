"""torch::optimizer_adafactor: the Tcl face of tcltorch.optim.Adafactor.

Parsing and validation only; the algorithm lives in the engine.
"""

from __future__ import annotations

import math
from typing import Any

from tcltorch.commands.optim_extras import EXTRA_OPTIONS, with_extras
from tcltorch.commands.optimizers import Parameters
from tcltorch.commands.spec import Bool, Choice, Custom, Double, Opt, command, parse_tcl_double
from tcltorch.errors import invalid_value


def _decay_rate(text: str, option: str, ctx: Any) -> float:
    value = parse_tcl_double(text)
    if value is None or not math.isfinite(value) or not (value == -1.0 or 0 < abs(value) <= 1):
        raise invalid_value(
            option, text, "must be -1.0 (the default schedule) or a number c with 0 < |c| <= 1"
        )
    return value


def _beta1(text: str, option: str, ctx: Any) -> float:
    value = parse_tcl_double(text)
    if value is None or not math.isfinite(value) or not value < 1:
        raise invalid_value(option, text, "must be a finite number < 1 (negative: no momentum)")
    return value


DecayRate = Custom(_decay_rate, "double", "must be -1.0 or 0 < |c| <= 1")
Beta1 = Custom(_beta1, "double", "must be a finite number < 1")

ADAFACTOR_OPTIONS = [
    Opt("parameters", Parameters, help="tensor handle, module handle, or a list mixing them"),
    Opt("lr", Double(gt=0), 0.8, "cap on the relative step (the step itself with -relativeStep false)"),
    Opt("eps2", Double(ge=0), 1e-30, "added to the squared gradient (second moment epsilon)"),
    Opt("clipThreshold", Double(gt=0), 1.0, "update clipping threshold d"),
    Opt("decayRate", DecayRate, -1.0, "second-moment decay exponent c: -1.0 means 0.8"),
    Opt("beta1", Beta1, -1.0, "momentum on the update; negative turns it off"),
    Opt("weightDecay", Double(ge=0), 0.0, "decoupled weight decay, scaled by the step size"),
    Opt("epsScale", Double(ge=0), 1e-3, "floor of the parameter scale RMS(X)", positional=False),
    Opt("relativeStep", Bool(), True, "step = min(lr, 1/sqrt(t)); false: step = lr", positional=False),
    Opt("scaleParameter", Bool(), True, "multiply the step by max(epsScale, RMS(X))", positional=False),
    Opt("warmupInit", Bool(), False, "step = min(lr, 1e-6*t, 1/sqrt(t))", positional=False),
    Opt("maximize", Bool(), False, "ascend instead of descend", positional=False),
    Opt(
        "implementation",
        Choice("auto", "reference", "foreach", "compiled", "fused"),
        "auto",
        "which engine path runs the step",
        positional=False,
    ),
]


@command("optimizer_adafactor", *ADAFACTOR_OPTIONS, *EXTRA_OPTIONS, summary="Create an Adafactor optimizer.")
@with_extras
def optimizer_adafactor(parameters, implementation, **options):
    from tcltorch.optim import Adafactor

    return Adafactor(parameters, implementation=implementation, **options)
