"""Optimizers: the -parameters value type and the commands every optimizer shares."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.spec import Bool, Custom, Handle, Opt, camel, command
from tcltorch.errors import TclError, invalid_value

PARAMS_REQUIREMENT = "must be a tensor handle, a module handle, or a list of them"


def _parameters(text: str, option: str, ctx: Any) -> list[torch.Tensor]:
    """Tensor handles, module handles (all their parameters) or a mix; duplicates
    count once.  Tensors given directly become trainable leaves (checked first,
    changed only when every entry is valid)."""
    words = ctx.split(text, option)
    if not words:
        raise invalid_value(option, text, "the parameter list is empty")
    params: dict[int, torch.Tensor] = {}
    direct: list[torch.Tensor] = []
    for word in words:
        obj = ctx.handles.get(word)
        if isinstance(obj, torch.nn.Module):
            for p in obj.parameters():
                params.setdefault(id(p), p)
        elif isinstance(obj, torch.Tensor):
            if not (obj.is_floating_point() or obj.is_complex()):
                raise invalid_value(option, word, "parameters must be floating-point tensors")
            if not obj.is_leaf:
                raise invalid_value(
                    option, word, "it is the result of a computation, not a leaf (use torch::tensor_detach)"
                )
            params.setdefault(id(obj), obj)
            direct.append(obj)
        else:
            raise TclError(f'"{word}" is {_describe(obj)}, expected a tensor or module', ["TORCH", "HANDLE", word])
    if not params:
        raise invalid_value(option, text, "the modules have no parameters")
    for tensor in direct:
        tensor.requires_grad_(True)
    return list(params.values())


def _describe(obj: Any) -> str:
    from tcltorch.handles import describe

    return describe(obj)


Parameters = Custom(_parameters, "list/handle", PARAMS_REQUIREMENT)


_OPTIMIZER = Opt("optimizer", Handle("optimizer"), help="optimizer handle")


@command("optimizer_step", _OPTIMIZER, summary="Perform one optimization step.")
def optimizer_step(optimizer):
    optimizer.step()


@command(
    "optimizer_zero_grad",
    _OPTIMIZER,
    Opt("setToNone", Bool(), True, "drop the gradients (true) or fill them with zeros (false)"),
    summary="Reset the gradients of an optimizer's parameters.",
)
def optimizer_zero_grad(optimizer, set_to_none):
    optimizer.zero_grad(set_to_none=set_to_none)


def _tcl_option_value(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item() if value.numel() == 1 else value.tolist()
    if isinstance(value, (tuple, list)):
        return [_tcl_option_value(v) for v in value]
    return value


def state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in tensor state (step counters excluded)."""
    if hasattr(optimizer, "state_bytes"):
        return int(optimizer.state_bytes())
    return sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and k != "step"
    )


@command("optimizer_info", _OPTIMIZER, summary="A dict describing an optimizer: kind, options, steps, state bytes.")
def optimizer_info(optimizer):
    group = optimizer.param_groups[0]
    options = {camel(k): _tcl_option_value(v) for k, v in group.items() if k != "params"}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    steps = []
    for p in params:
        step = optimizer.state.get(p, {}).get("step", 0)
        steps.append(int(step.item()) if isinstance(step, torch.Tensor) else int(step))
    return {
        "kind": type(optimizer).__name__.lower(),
        "options": options,
        "groups": len(optimizer.param_groups),
        "parameters": len(params),
        "steps": steps,
        "stateBytes": state_bytes(optimizer),
    }
