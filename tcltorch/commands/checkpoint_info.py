"""torch::get_checkpoint_info: what a checkpoint holds, read without applying it."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands._docstrings import examples_from_docstrings
from tcltorch.commands.io import _bad_file, _is_checkpoint, _is_state_dict, safe_load
from tcltorch.commands.spec import Opt, Str, command


def _tensor_count(state: Any) -> tuple[int, int]:
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)] if isinstance(state, dict) else []
    return len(tensors), sum(t.numel() for t in tensors)


@command(
    "get_checkpoint_info", Opt("file", Str(), help="checkpoint or state-dict file", aliases=("filename",))
)
def get_checkpoint_info(file):
    """Describe a checkpoint (or state-dict) file without loading it into anything.

    The file is read as `torch::load_checkpoint` reads it (weights only, every record's CRC
    checked), so a damaged or foreign file is an error here too.

    ## Return Value

    A Tcl dict. For a checkpoint: `kind checkpoint`, `version`, `epoch`, `loss`, `optimizer`
    (its class), `learning_rate` (the first parameter group's), `steps` (the largest step count
    in the optimizer state), `tensors` and `elements` (of the model state), `schedulers` and
    `scalers` (how many states it carries). For a state dict: `kind state_dict`, `tensors`,
    `elements`.

    Examples:
        set model [torch::linear 4 2]
        set opt [torch::optimizer_adam $model 0.01]
        torch::save_checkpoint $model $opt run.ckpt 3 0.25
        set info [torch::get_checkpoint_info run.ckpt]
        puts [dict get $info epoch]       ;# -> 3
        puts [dict get $info optimizer]   ;# -> Adam
        puts [dict get $info elements]    ;# -> 10
    """
    data = safe_load(file)
    if not _is_checkpoint(data):
        if _is_state_dict(data):
            tensors, elements = _tensor_count(data)
            return {"kind": "state_dict", "tensors": tensors, "elements": elements}
        raise _bad_file(file, "is not a tcltorch checkpoint or state dict")
    tensors, elements = _tensor_count(data.get("model"))
    optimizer = data.get("optimizer") if isinstance(data.get("optimizer"), dict) else {}
    groups = optimizer.get("param_groups") or [{}]
    steps = 0
    for state in (optimizer.get("state") or {}).values():
        step = state.get("step") if isinstance(state, dict) else None
        if isinstance(step, torch.Tensor) and step.numel() == 1:
            step = step.item()
        if isinstance(step, (int, float)):
            steps = max(steps, int(step))
    return {
        "kind": "checkpoint",
        "version": data.get("version"),
        "epoch": data.get("epoch"),
        "loss": float(data.get("loss", 0.0)),
        "optimizer": str(data.get("optimizer_class", "")),
        "learning_rate": float(groups[0].get("lr", 0.0))
        if isinstance(groups[0].get("lr"), (int, float))
        else 0.0,
        "steps": steps,
        "tensors": tensors,
        "elements": elements,
        "schedulers": len(data.get("schedulers", [])),
        "scalers": len(data.get("scalers", [])),
    }


examples_from_docstrings(__name__)
