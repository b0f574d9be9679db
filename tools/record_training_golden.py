#!/usr/bin/env python3
"""Record golden trajectories for the training toolkit's tests.

Writes ``tests/data/training_golden.json`` and ``tests/data/TRAINING_GOLDEN.md`` (provenance):

* Keras 3's own Adafactor (KERAS_BACKEND=torch, float32) with the base optimizer's options
  clipnorm, clipvalue, global_clipnorm, use_ema (+ finalize_variable_values),
  ema_overwrite_frequency and an ExponentialDecay schedule as learning_rate;
* pytorch-optimizer's Lamb and NovoGrad (float64), an independent implementation of the
  papers that tcltorch.optim.Lamb / NovoGrad are written from.

Only this script needs keras and pytorch-optimizer; the tests read the JSON with torch alone.

    PIP_CONSTRAINT=constraints.txt .venv/bin/pip install keras pytorch-optimizer
    .venv/bin/python tools/record_training_golden.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

os.environ["KERAS_BACKEND"] = "torch"

import numpy as np
import torch

SHAPES = [[5, 5], [3, 3], [7], [4, 3, 5], []]
STEPS = 10
CHECKPOINTS = [1, 2, 5, 10]
SEED = 1
KERAS_ATOL = 3e-5  # the bound for float32 after 10 steps
OPTIM_ATOL = 1e-12  # float64
LAMB_ATOL = 1e-10  # eps = 1e-10 in the reference's trust ratio denominator

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "training_golden.json"


def f32_list(x) -> list[float]:
    return [float(str(v)) for v in np.asarray(x, dtype=np.float32).reshape(-1)]


def make_inputs():
    gen = torch.Generator().manual_seed(SEED)
    init = [torch.randn(s, generator=gen, dtype=torch.float32).numpy() for s in SHAPES]
    grads = [
        [torch.randn(s, generator=gen, dtype=torch.float32).numpy() for s in SHAPES] for _ in range(STEPS)
    ]
    return init, grads


# name, tcltorch Adafactor command options (Tcl), schedule (None or Tcl command words), keras kwargs, finalize
KERAS_CASES = [
    ("keras_clipnorm", "-lr 0.8 -clipNorm 1.0", None, {"learning_rate": 0.8, "clipnorm": 1.0}, False),
    ("keras_clipvalue", "-lr 0.8 -clipValue 0.5", None, {"learning_rate": 0.8, "clipvalue": 0.5}, False),
    (
        "keras_global_clipnorm",
        "-lr 0.8 -globalClipNorm 2.0",
        None,
        {"learning_rate": 0.8, "global_clipnorm": 2.0},
        False,
    ),
    (
        "keras_ema_finalize",
        "-lr 0.8 -useEma 1 -emaMomentum 0.9",
        None,
        {"learning_rate": 0.8, "use_ema": True, "ema_momentum": 0.9},
        True,
    ),
    ("keras_ema_default_momentum", "-lr 0.8 -useEma 1", None, {"learning_rate": 0.8, "use_ema": True}, True),
    (
        "keras_ema_overwrite",
        "-lr 0.8 -useEma 1 -emaMomentum 0.8 -emaOverwriteFrequency 3",
        None,
        {"learning_rate": 0.8, "use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 3},
        False,
    ),
    (
        "keras_exponential_schedule",
        "-lr 0.05",
        "lr_scheduler_exponential_decay $opt 0.8",
        {"schedule": (0.05, 1, 0.8)},
        False,
    ),
    (
        "keras_schedule_decay_steps",
        "-lr 0.2",
        "lr_scheduler_exponential_decay $opt 0.5 -decaySteps 3",
        {"schedule": (0.2, 3, 0.5)},
        False,
    ),
    (
        "keras_all_together",
        "-lr 0.1 -clipNorm 1.5 -useEma 1 -emaMomentum 0.7 -emaOverwriteFrequency 4",
        "lr_scheduler_exponential_decay $opt 0.9",
        {
            "schedule": (0.1, 1, 0.9),
            "clipnorm": 1.5,
            "use_ema": True,
            "ema_momentum": 0.7,
            "ema_overwrite_frequency": 4,
        },
        True,
    ),
]


def run_keras(kwargs, finalize, init, grads):
    import keras

    kwargs = dict(kwargs)
    schedule = kwargs.pop("schedule", None)
    if schedule is not None:
        initial, steps, rate = schedule
        kwargs["learning_rate"] = keras.optimizers.schedules.ExponentialDecay(initial, steps, rate)
    variables = [keras.Variable(x.copy(), dtype="float32") for x in init]
    opt = keras.optimizers.Adafactor(**kwargs)
    traj = {}
    for t in range(1, STEPS + 1):
        opt.apply_gradients(zip([torch.from_numpy(g.copy()) for g in grads[t - 1]], variables))
        if t in CHECKPOINTS:
            traj[str(t)] = [f32_list(keras.ops.convert_to_numpy(v)) for v in variables]
    if finalize:
        opt.finalize_variable_values(variables)
        traj["finalized"] = [f32_list(keras.ops.convert_to_numpy(v)) for v in variables]
    return traj


# name, tcltorch engine class and options, the pytorch-optimizer class and options
OPTIM_CASES = [
    (
        "lamb_v3",
        "Lamb",
        {"lr": 0.01, "weight_decay": 0.01, "eps": 1e-10, "bias_correction": False},
        "Lamb",
        {
            "lr": 0.01,
            "weight_decay": 0.01,
            "eps": 1e-10,
            "weight_decouple": False,
            "grad_averaging": True,
            "adam_debias": True,
        },
    ),
    (
        "lamb_v3_no_decay",
        "Lamb",
        {"lr": 0.05, "weight_decay": 0.0, "eps": 1e-10, "bias_correction": False, "betas": (0.8, 0.99)},
        "Lamb",
        {
            "lr": 0.05,
            "weight_decay": 0.0,
            "eps": 1e-10,
            "weight_decouple": False,
            "grad_averaging": True,
            "adam_debias": True,
            "betas": (0.8, 0.99),
        },
    ),
    (
        "novograd",
        "NovoGrad",
        {"lr": 0.01, "weight_decay": 0.001},
        "NovoGrad",
        {"lr": 0.01, "weight_decay": 0.001, "weight_decouple": False},
    ),
    (
        "novograd_grad_averaging",
        "NovoGrad",
        {"lr": 0.02, "betas": (0.9, 0.99), "grad_averaging": True},
        "NovoGrad",
        {"lr": 0.02, "betas": (0.9, 0.99), "grad_averaging": True},
    ),
]


def run_reference_optim(cls_name, kwargs, init, grads):
    import pytorch_optimizer

    cls = getattr(pytorch_optimizer, cls_name)
    params = [torch.nn.Parameter(torch.from_numpy(x.copy()).to(torch.float64)) for x in init]
    opt = cls(params, foreach=False, **kwargs)
    if cls_name == "Lamb":
        opt.clamp = float("inf")  # the paper's phi is the identity: no cap on ||x||
    traj = {}
    for t in range(1, STEPS + 1):
        for p, g in zip(params, grads[t - 1]):
            p.grad = torch.from_numpy(g.copy()).to(torch.float64)
        opt.step()
        if t in CHECKPOINTS:
            traj[str(t)] = [p.detach().reshape(-1).tolist() for p in params]
    return traj


def versions() -> dict[str, str]:
    import keras
    import pytorch_optimizer

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "keras": keras.__version__,
        "keras_backend": os.environ["KERAS_BACKEND"],
        "pytorch_optimizer": getattr(pytorch_optimizer, "__version__", "?"),
        "numpy": np.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    init, grads = make_inputs()
    keras_cases = []
    for name, options, schedule, kwargs, finalize in KERAS_CASES:
        traj = run_keras(kwargs, finalize, init, grads)
        settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
        keras_cases.append(
            {
                "name": name,
                "options": options,
                "schedule": schedule,
                "keras": settings,
                "finalize": finalize,
                "atol": KERAS_ATOL,
                "trajectory": traj,
            }
        )
        print(f"recorded {name}", file=sys.stderr)
    optim_cases = []
    for name, ours, our_kwargs, theirs, their_kwargs in OPTIM_CASES:
        traj = run_reference_optim(theirs, their_kwargs, init, grads)
        optim_cases.append(
            {
                "name": name,
                "class": ours,
                "options": {k: list(v) if isinstance(v, tuple) else v for k, v in our_kwargs.items()},
                "reference": f"pytorch_optimizer.{theirs}({', '.join(f'{k}={v!r}' for k, v in their_kwargs.items())})"
                + (", clamp=inf" if theirs == "Lamb" else ""),
                # pytorch-optimizer's trust ratio is ||x||/(||u|| + eps), the paper's ||x||/||u||
                "atol": LAMB_ATOL if theirs == "Lamb" else OPTIM_ATOL,
                "trajectory": traj,
            }
        )
        print(f"recorded {name}", file=sys.stderr)
    meta = {
        "command": "python tools/record_training_golden.py",
        "date": datetime.date.today().isoformat(),
        "versions": versions(),
    }
    doc = {
        "meta": meta,
        "shapes": SHAPES,
        "steps": STEPS,
        "checkpoints": CHECKPOINTS,
        "init": [f32_list(x) for x in init],
        "grads": [[f32_list(g) for g in step] for step in grads],
        "keras": keras_cases,
        "optim": optim_cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    lines = [
        "# Training toolkit golden trajectories: provenance",
        "",
        f"`training_golden.json` was written by `{meta['command']}` on {meta['date']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"Inputs: parameters of shapes {SHAPES}, initial values and one gradient per step drawn N(0,1) in float32",
        f"with `torch.Generator().manual_seed({SEED})`, {STEPS} steps, stored in the JSON as the shortest decimals",
        f"of the float32 values. Stored: every parameter, flattened, after steps {CHECKPOINTS}",
        "(and after `finalize_variable_values` where the case says so).",
        "",
        "## Keras 3 Adafactor with the base optimizer's options (float32)",
        "",
        "tests/commands/train/test_optim_family.py runs `torch::optimizer_adafactor` with the options shown (and, with a",
        "schedule, `torch::lr_scheduler_step_update` after every `torch::optimizer_step`) on the same",
        f"values and gradients and requires |ours - keras| <= {KERAS_ATOL} elementwise.",
        "",
        "| case | tcltorch | keras.optimizers.Adafactor | finalize |",
        "|---|---|---|---|",
    ]
    for c in keras_cases:
        sched = f"; `torch::{c['schedule']}`" if c["schedule"] else ""
        lines.append(f"| `{c['name']}` | `{c['options']}`{sched} | `{c['keras']}` | {c['finalize']} |")
    lines += [
        "",
        (
            "`schedule: (initial, decay_steps, rate)` is "
            "`keras.optimizers.schedules.ExponentialDecay(initial, decay_steps, rate)` as learning_rate."
        ),
        "",
        "## LAMB and NovoGrad against pytorch-optimizer (float64)",
        "",
        f"tcltorch.optim.Lamb / NovoGrad with the options shown; |ours - reference| <= {OPTIM_ATOL} (NovoGrad),",
        f"{LAMB_ATOL} (LAMB: the reference divides by ||u|| + eps in the trust ratio, the paper by ||u||).",
        "`adam_debias=True` makes the reference's step size lr (its default divides it by 1 - beta1^t,",
        "which is neither version of the paper); `clamp=inf` removes its cap of 10 on ||x||.",
        "",
        "| case | tcltorch.optim | reference |",
        "|---|---|---|",
    ]
    for c in optim_cases:
        lines.append(f"| `{c['name']}` | `{c['class']}({c['options']})` | `{c['reference']}` |")
    lines.append("")
    args.out.with_name("TRAINING_GOLDEN.md").write_text("\n".join(lines))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
