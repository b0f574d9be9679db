#!/usr/bin/env python3
"""Record golden Adafactor trajectories from HF transformers and Keras 3 for the engine's tests.

Writes ``tests/data/adafactor_golden.json`` (inputs + trajectories) and
``tests/data/ADAFACTOR_GOLDEN.md`` (provenance). Only this script needs transformers and keras;
the tests read the JSON with torch alone.

    echo 'torch==2.13.0' > /tmp/c.txt && pip install -c /tmp/c.txt transformers keras
    python3 tools/record_adafactor_golden.py

Each case names the tcltorch options (``options``) and the reference settings that compute
the same thing (``reference_settings``); see docs/research/adafactor_anchors.md for why these
settings correspond.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import torch

SHAPES = [[5, 5], [3, 3], [7], [4, 3, 5], []]
STEPS = 20
CHECKPOINTS = [1, 2, 5, 10, 20]
SEED = 0
HF_ATOL = 1e-12
KERAS_ATOL = 3e-6
KERAS_RTOL = 2e-7  # about two float32 ulps: the largest values reach ~19 in the eps case

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "adafactor_golden.json"


def f32_list(x) -> list[float]:
    """Shortest decimals that round back to the same float32 values (load them as float32 first)."""
    return [float(str(v)) for v in np.asarray(x, dtype=np.float32).reshape(-1)]


def make_inputs() -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """N(0,1) initial values and one N(0,1) gradient per step, drawn in float32 (exact in float64)."""
    gen = torch.Generator().manual_seed(SEED)
    init = [torch.randn(s, generator=gen, dtype=torch.float32).numpy() for s in SHAPES]
    grads = [
        [torch.randn(s, generator=gen, dtype=torch.float32).numpy() for s in SHAPES] for _ in range(STEPS)
    ]
    return init, grads


def hf_case(name, options, hf_kwargs, *, per_step_rho=None, missing=None, note=""):
    """per_step_rho=cap: before each step set the group lr to min(cap, 1/sqrt(t)) (HF relative_step=False)."""
    settings = f"transformers.optimization.Adafactor({', '.join(f'{k}={v!r}' for k, v in hf_kwargs.items())})"
    if per_step_rho is not None:
        settings += f", group lr set to min({per_step_rho}, 1/sqrt(t)) before every step"
    return {
        "name": name,
        "reference": "hf",
        "dtype": "float64",
        "options": options,
        "reference_settings": settings,
        "note": note,
        "missing_grad": missing or {},
        "atol": HF_ATOL,
        "rtol": 0.0,
        "_hf_kwargs": hf_kwargs,
        "_per_step_rho": per_step_rho,
    }


def keras_case(name, options, keras_kwargs, note=""):
    settings = f"keras.optimizers.Adafactor({', '.join(f'{k}={v!r}' for k, v in keras_kwargs.items())})"
    return {
        "name": name,
        "reference": "keras",
        "dtype": "float32",
        "options": options,
        "reference_settings": settings + " with KERAS_BACKEND=torch",
        "note": note,
        "missing_grad": {},
        "atol": KERAS_ATOL,
        "rtol": KERAS_RTOL,
        "_keras_kwargs": keras_kwargs,
    }


HF_PARAM_SCALED = {"relative_step": False, "scale_parameter": True}

CASES = [
    hf_case(
        "hf_defaults_cap_0.8",
        {"lr": 0.8},
        {**HF_PARAM_SCALED, "lr": 0.8},
        per_step_rho=0.8,
        note="the spec's anchor: our defaults = HF with its lr set to rho_t each step",
    ),
    hf_case(
        "hf_paper_defaults",
        {"lr": 0.01},
        {},
        note="HF all defaults (relative_step, rho_t = min(1e-2, 1/sqrt t)) = our lr=0.01",
    ),
    hf_case(
        "hf_beta1_0.9",
        {"lr": 0.8, "beta1": 0.9},
        {**HF_PARAM_SCALED, "lr": 0.8, "beta1": 0.9},
        per_step_rho=0.8,
        note="momentum: EMA of the scaled, clipped update",
    ),
    hf_case(
        "hf_beta1_0",
        {"lr": 0.8, "beta1": 0.0},
        {**HF_PARAM_SCALED, "lr": 0.8, "beta1": 0.0},
        per_step_rho=0.8,
        note="beta1 = 0 keeps exp_avg = S (on, not off)",
    ),
    hf_case(
        "hf_weight_decay_0.1",
        {"lr": 0.8, "weight_decay": 0.1},
        {**HF_PARAM_SCALED, "lr": 0.8, "weight_decay": 0.1},
        per_step_rho=0.8,
        note="decoupled decay X -= lambda*alpha_t*X",
    ),
    hf_case(
        "hf_beta1_0.5_weight_decay_0.05",
        {"lr": 0.8, "beta1": 0.5, "weight_decay": 0.05},
        {**HF_PARAM_SCALED, "lr": 0.8, "beta1": 0.5, "weight_decay": 0.05},
        per_step_rho=0.8,
    ),
    hf_case(
        "hf_warmup_init",
        {"lr": 0.8, "warmup_init": True},
        {"warmup_init": True},
        note="rho_t = min(lr, 1e-6*t, 1/sqrt t); 1e-6*t binds for t <= 20",
    ),
    hf_case(
        "hf_scale_parameter_false",
        {"lr": 0.8, "scale_parameter": False},
        {"relative_step": False, "scale_parameter": False, "lr": 0.8},
        per_step_rho=0.8,
        note="alpha_t = rho_t",
    ),
    hf_case(
        "hf_relative_step_false",
        {"lr": 0.05, "relative_step": False},
        {**HF_PARAM_SCALED, "lr": 0.05},
        note="rho_t = lr constant, parameter-scaled",
    ),
    hf_case(
        "hf_t5_recipe",
        {"lr": 1e-3, "relative_step": False, "scale_parameter": False},
        {"relative_step": False, "scale_parameter": False, "warmup_init": False, "lr": 1e-3},
        note="HF's documented T5 fine-tuning settings: alpha_t = lr",
    ),
    hf_case(
        "hf_decay_rate_0.5",
        {"lr": 0.8, "decay_rate": -0.5},
        {**HF_PARAM_SCALED, "lr": 0.8, "decay_rate": -0.5},
        per_step_rho=0.8,
        note="c = 0.5; our decay_rate=-0.5 and decay_rate=0.5 both mean this",
    ),
    hf_case(
        "hf_decay_rate_1.0",
        {"lr": 0.8, "decay_rate": 1.0},
        {**HF_PARAM_SCALED, "lr": 0.8, "decay_rate": -1.0},
        per_step_rho=0.8,
        note="c = 1: HF decay_rate=-1.0; ours must say +1.0 because -1.0 selects 0.8",
    ),
    hf_case(
        "hf_clip_threshold_0.5",
        {"lr": 0.8, "clip_threshold": 0.5},
        {**HF_PARAM_SCALED, "lr": 0.8, "clip_threshold": 0.5},
        per_step_rho=0.8,
    ),
    hf_case(
        "hf_eps2_1e-3",
        {"lr": 0.8, "eps2": 1e-3},
        {**HF_PARAM_SCALED, "lr": 0.8, "eps": (1e-3, 1e-3)},
        per_step_rho=0.8,
        note="eps2 (paper eps1) large enough to change the trajectory",
    ),
    hf_case(
        "hf_eps_scale_2.0",
        {"lr": 0.8, "eps_scale": 2.0},
        {**HF_PARAM_SCALED, "lr": 0.8, "eps": (1e-30, 2.0)},
        per_step_rho=0.8,
        note="the parameter-scale floor binds (RMS(X) ~ 1 < 2)",
    ),
    hf_case(
        "hf_missing_grad",
        {"lr": 0.01},
        {},
        missing={"2": [3, 4]},
        note="the (7,) tensor has no gradient at steps 3 and 4: per-parameter step counts",
    ),
    keras_case("keras_cap_0.8", {"lr": 0.8}, {"learning_rate": 0.8}, note="our defaults in float32"),
    keras_case("keras_cap_0.01", {"lr": 0.01}, {"learning_rate": 0.01}),
    keras_case(
        "keras_decay_rate_0.5", {"lr": 0.8, "decay_rate": -0.5}, {"learning_rate": 0.8, "beta_2_decay": -0.5}
    ),
    keras_case(
        "keras_clip_threshold_0.5",
        {"lr": 0.8, "clip_threshold": 0.5},
        {"learning_rate": 0.8, "clip_threshold": 0.5},
    ),
    keras_case(
        "keras_eps",
        {"lr": 0.8, "eps2": 1e-3, "eps_scale": 2.0},
        {"learning_rate": 0.8, "epsilon_1": 1e-3, "epsilon_2": 2.0},
    ),
]


def run_hf(case, init, grads):
    from transformers.optimization import Adafactor as HFAdafactor

    params = [torch.nn.Parameter(torch.from_numpy(x).to(torch.float64)) for x in init]
    opt = HFAdafactor(params, **case["_hf_kwargs"])
    missing = {int(k): set(v) for k, v in case["missing_grad"].items()}
    traj = {}
    for t in range(1, STEPS + 1):
        for i, p in enumerate(params):
            skip = t in missing.get(i, ())
            p.grad = None if skip else torch.from_numpy(grads[t - 1][i]).to(torch.float64)
        if case["_per_step_rho"] is not None:
            for group in opt.param_groups:
                group["lr"] = min(case["_per_step_rho"], 1.0 / math.sqrt(t))
        opt.step()
        if t in CHECKPOINTS:
            traj[str(t)] = [p.detach().reshape(-1).tolist() for p in params]
    return traj


def run_keras(case, init, grads):
    import keras

    variables = [keras.Variable(x.copy(), dtype="float32") for x in init]
    opt = keras.optimizers.Adafactor(**case["_keras_kwargs"])
    traj = {}
    for t in range(1, STEPS + 1):
        opt.apply_gradients(zip([torch.from_numpy(g.copy()) for g in grads[t - 1]], variables))
        if t in CHECKPOINTS:
            traj[str(t)] = [f32_list(keras.ops.convert_to_numpy(v)) for v in variables]
    return traj


def versions() -> dict[str, str]:
    import keras
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "keras": keras.__version__,
        "keras_backend": os.environ["KERAS_BACKEND"],
        "numpy": np.__version__,
    }


def write_provenance(path: Path, meta: dict, cases: list[dict]) -> None:
    lines = [
        "# Adafactor golden trajectories: provenance",
        "",
        f"`adafactor_golden.json` was written by `{meta['command']}` on {meta['date']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
        f"Inputs: parameters of shapes {SHAPES} (the last one 0-d), initial values and one gradient",
        f"per step drawn N(0,1) in float32 with `torch.Generator().manual_seed({SEED})`, {STEPS} steps;",
        "the values are stored in the JSON (`init`, `grads`) as the shortest decimals of the float32 values",
        "(parse them as float32, then cast), so the tests do not depend on the RNG.",
        "HF cases run in float64 (inputs cast exactly), Keras cases in float32.",
        f"Stored: every parameter, flattened, after steps {CHECKPOINTS}.",
        "",
        "The tests (`tests/engine/test_adafactor_engine.py`) run `tcltorch.optim.Adafactor(**options)` on the",
        "same inputs and require |ours - reference| <= atol + rtol * |reference| elementwise",
        f"(HF float64: atol {HF_ATOL}, rtol 0; Keras float32: atol {KERAS_ATOL}, rtol {KERAS_RTOL}).",
        "",
        "| case | ours | reference settings | note |",
        "|---|---|---|---|",
    ]
    for c in cases:
        opts = ", ".join(f"{k}={v!r}" for k, v in c["options"].items())
        miss = "".join(
            f"; parameter {i} {SHAPES[int(i)]} has no gradient at steps {steps}"
            for i, steps in c["missing_grad"].items()
        )
        lines.append(f"| `{c['name']}` | `{opts}` | `{c['reference_settings']}`{miss} | {c['note']} |")
    lines += [
        "",
        "Why these settings correspond (docs/research/adafactor_anchors.md): HF's `relative_step=True`",
        "hard-codes the cap 1e-2, so a different cap gamma is HF `relative_step=False` with its group lr",
        "set to min(gamma, 1/sqrt t) before every step; HF `decay_rate` is the negative exponent;",
        "Keras always uses rho_t = min(learning_rate, 1/sqrt t) and keeps its learning rate in float32,",
        "which is why Keras is compared in float32 only.",
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)

    init, grads = make_inputs()
    cases = []
    for case in CASES:
        traj = run_hf(case, init, grads) if case["reference"] == "hf" else run_keras(case, init, grads)
        cases.append({k: v for k, v in case.items() if not k.startswith("_")} | {"trajectory": traj})
        print(f"recorded {case['name']}", file=sys.stderr)

    meta = {
        "command": "python3 tools/record_adafactor_golden.py",
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
        "cases": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    write_provenance(args.out.with_name("ADAFACTOR_GOLDEN.md"), meta, cases)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
