"""Optimizers: the -parameters value type and the commands every optimizer shares."""

from __future__ import annotations

from typing import Any

import torch

from tcltorch.commands.optim_extras import EXTRA_OPTIONS, with_extras
from tcltorch.commands.spec import Bool, Custom, Double, Handle, Opt, Script, camel, command
from tcltorch.errors import TclError, invalid_value

PARAMS_REQUIREMENT = "must be a tensor handle, a module handle, or a list of them"


class ParameterList(list):
    """The value of ``-parameters``: the tensors an optimizer will own.

    Tensors given directly must become trainable leaves, but only once the optimizer exists:
    the command calls :meth:`adopt` after the constructor succeeded (``with_extras`` does), so
    a failed constructor leaves every tensor's ``requires_grad`` as it was."""

    direct: list[torch.Tensor]

    def adopt(self) -> None:
        for tensor in self.direct:
            if not tensor.requires_grad:
                tensor.requires_grad_(True)


def _parameters(text: str, option: str, ctx: Any) -> ParameterList:
    """Tensor handles, module handles (all their parameters) or a mix; duplicates
    count once.  Nothing is changed here (see ParameterList.adopt)."""
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
            raise TclError(
                f'"{word}" is {_describe(obj)}, expected a tensor or module', ["TORCH", "HANDLE", word]
            )
    if not params:
        raise invalid_value(option, text, "the modules have no parameters")
    result = ParameterList(params.values())
    result.direct = direct
    return result


def adopt_parameters(kwargs: dict[str, Any]) -> None:
    """After an optimizer command succeeded: make its directly given tensors trainable."""
    value = kwargs.get("parameters")
    if isinstance(value, ParameterList):
        value.adopt()


def _describe(obj: Any) -> str:
    from tcltorch.handles import describe

    return describe(obj)


Parameters = Custom(_parameters, "list/handle", PARAMS_REQUIREMENT)


_OPTIMIZER = Opt("optimizer", Handle("optimizer"), help="optimizer handle")


@command(
    "optimizer_step",
    _OPTIMIZER,
    Opt(
        "closure",
        Script(),
        None,
        "script that re-evaluates the loss (runs backward, returns the loss handle)",
    ),
    context=True,
    summary="Perform one optimization step; with -closure (L-BFGS needs one) returns the loss.",
)
def optimizer_step(optimizer, closure, ctx):
    if closure is None and isinstance(optimizer, torch.optim.LBFGS):
        raise TclError(
            'missing required option "-closure": L-BFGS re-evaluates the loss with a script',
            ["TORCH", "ARGS", "REQUIRED", "-closure"],
        )
    check_step(optimizer, ctx)
    saved = _counters(optimizer)
    try:
        if closure is None:
            optimizer.step()
            return None
        loss = optimizer.step(_closure(ctx, closure))
    except BaseException:
        _restore_counters(optimizer, saved)
        raise
    return float(loss.item()) if isinstance(loss, torch.Tensor) else float(loss)


# Optimizers whose step takes sparse gradients (torch.optim's own list).
_SPARSE_OK = ("SGD", "SparseAdam", "Adagrad")


def check_step(optimizer: torch.optim.Optimizer, ctx: Any) -> None:
    """Refuse, before anything changes, the steps that would fail part-way through."""
    kind = type(optimizer).__name__
    for group in optimizer.param_groups:
        for p in group["params"]:
            g = p.grad
            if g is None:
                continue
            name = ctx.handles.name_of(p) if hasattr(ctx, "handles") else None
            what = f"parameter {name}" if name else f"a parameter of shape {_shape(p.shape)}"
            problem = None
            if kind == "Adafactor" and (p.is_complex() or not p.is_floating_point()):
                problem = f"Adafactor needs real floating-point parameters; {what} is {_dtype(p.dtype)}"
            elif g.is_sparse and kind not in _SPARSE_OK:
                problem = f"{what} has a sparse gradient, which {kind} does not support"
            elif g.shape != p.shape:
                problem = f"the gradient of {what} has shape {_shape(g.shape)}"
            elif g.dtype != p.dtype:
                problem = f"the gradient of {what} is {_dtype(g.dtype)}, the parameter {_dtype(p.dtype)}"
            elif g.device != p.device:
                problem = f"the gradient of {what} is on {g.device}, the parameter on {p.device}"
            if problem is None:
                problem = _state_problem(kind, optimizer.state.get(p), p, what)
            if problem:
                raise TclError(f"cannot step: {problem}; nothing was changed", ["TORCH", "STEP"])


def _state_problem(kind: str, state: Any, p: torch.Tensor, what: str) -> str | None:
    """A running average kept in another dtype or on another device than its parameter now has
    (the model was converted with torch::layer_to after the optimizer was made)."""
    if not state or kind not in ("Adam", "AdamW", "Adafactor"):  # the ones whose step then fails
        return None
    if kind == "Adafactor":
        from tcltorch.optim.adafactor import compute_dtype

        want = compute_dtype(p.dtype)
    else:
        want = p.dtype
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or key == "step":
            continue
        if value.dtype != want or value.device != p.device:
            return (
                f"the optimizer's {key} state of {what} is {_dtype(value.dtype)} on {value.device}, "
                f"but the parameter is now {_dtype(p.dtype)} on {p.device} (convert the model with "
                "torch::layer_to before making its optimizer, or make a new one)"
            )
    return None


def _shape(shape: Any) -> str:
    return "{" + " ".join(map(str, shape)) + "}"


def _dtype(dtype: torch.dtype) -> str:
    from tcltorch.commands.spec import dtype_name

    return dtype_name(dtype)


def _counters(optimizer: torch.optim.Optimizer) -> tuple[dict, list[dict]]:
    """What a failed step must put back: each parameter's state entries (a step counter is an
    int or a 0-d tensor changed in place, so those are copied) and the group options."""
    state = {}
    for p, st in optimizer.state.items():
        scalars = {k: v.clone() for k, v in st.items() if isinstance(v, torch.Tensor) and v.dim() == 0}
        state[p] = (dict(st), scalars)
    return state, [dict(g) for g in optimizer.param_groups]


def _restore_counters(optimizer: torch.optim.Optimizer, saved: tuple[dict, list[dict]]) -> None:
    state, groups = saved
    while True:  # idempotent: an interrupt landing here only repeats it
        try:
            for p in [p for p in optimizer.state if p not in state]:
                del optimizer.state[p]  # state the failed step created
            for p, (entries, scalars) in state.items():
                st = optimizer.state[p]
                st.clear()
                st.update(entries)
                for k, v in scalars.items():
                    entries[k].copy_(v)
            for g, old in zip(optimizer.param_groups, groups):
                g.clear()
                g.update(old)
            return
        except KeyboardInterrupt:
            continue


def _closure(ctx: Any, script: str):
    """A torch closure that evaluates ``script`` (through scoped_eval) and returns its loss."""
    from tcltorch.commands.core import scoped_eval

    def closure() -> torch.Tensor:
        mark = ctx.handles.mark()
        try:
            result = scoped_eval(ctx, script).strip()
            obj = ctx.handles.get(result) if result in ctx.handles else None
            if isinstance(obj, torch.Tensor) and obj.numel() == 1:
                return obj
            from tcltorch.commands.spec import parse_tcl_double

            value = parse_tcl_double(result)
            if value is None:
                raise TclError(
                    f'invalid -closure result "{result}": the script must return the loss '
                    "(a one-element tensor handle or a number)",
                    ["TORCH", "VALUE", "-closure"],
                )
            return torch.tensor(value)
        finally:
            ctx.handles.release_since(mark)  # the loss handle too: the optimizer holds the tensor

    return closure


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


@command(
    "optimizer_info", _OPTIMIZER, summary="A dict describing an optimizer: kind, options, steps, state bytes."
)
def optimizer_info(optimizer):
    group = optimizer.param_groups[0]
    options = {camel(k): _tcl_option_value(v) for k, v in group.items() if k != "params"}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    steps = []
    for p in params:
        step = optimizer.state.get(p, {}).get("step", 0)
        steps.append(int(step.item()) if isinstance(step, torch.Tensor) else int(step))
    effective = {}
    if hasattr(optimizer, "resolved_implementation"):  # Adafactor: what the options resolve to
        from tcltorch.optim.adafactor import decay_exponent

        effective = {
            "implementation": optimizer.resolved_implementation(),
            # the path(s) the last step took ("fused+foreach" when some tensors fell back)
            "lastImplementation": optimizer.last_implementation or "",
            "decayExponent": decay_exponent(group["decay_rate"]),
            "momentum": group["beta1"] >= 0,
        }
    return {
        "kind": type(optimizer).__name__.lower(),
        "options": options,
        **({"effective": effective} if effective else {}),
        "groups": len(optimizer.param_groups),
        "parameters": len(params),
        "steps": steps,
        "stateBytes": state_bytes(optimizer),
    }


# -- the torch.optim optimizers ------------------------------------------------------
#
# Names and positional order follow the C++ extension of this command family: its real
# positional slots come first, the options it documented but never read follow them.
# Every hyper-parameter is checked by its spec type before torch sees it.


def _params_opt() -> Opt:
    return Opt(
        "parameters",
        Parameters,
        help="tensor handle, module handle, or a list mixing them",
        aliases=("params",),
    )


def _lr_opt(default: float) -> Opt:
    return Opt("lr", Double(gt=0), default, "learning rate", aliases=("learningRate",))


def _weight_decay_opt(default: float, help: str) -> Opt:
    return Opt("weightDecay", Double(ge=0), default, help, aliases=("weight_decay",))


def _beta_opts() -> list[Opt]:
    return [
        Opt("beta1", Double(ge=0, lt=1), 0.9, "decay of the running average of the gradient"),
        Opt("beta2", Double(ge=0, lt=1), 0.999, "decay of the running average of the squared gradient"),
    ]


def _adam_tail() -> list[Opt]:
    return [
        Opt(
            "eps",
            Double(ge=0),
            1e-8,
            "added to the denominator for numerical stability",
            aliases=("epsilon",),
        ),
        Opt("amsgrad", Bool(), False, "use the maximum of past squared-gradient averages (AMSGrad)"),
        Opt("maximize", Bool(), False, "ascend instead of descend", positional=False),
    ]


@command(
    "optimizer_adam",
    _params_opt(),
    _lr_opt(1e-3),
    *_beta_opts(),
    _weight_decay_opt(0.0, "L2 penalty added to the gradient"),
    *_adam_tail(),
    *EXTRA_OPTIONS,
    summary="Create an Adam optimizer (torch.optim.Adam).",
)
@with_extras
def optimizer_adam(parameters, beta1, beta2, **options):
    return torch.optim.Adam(parameters, betas=(beta1, beta2), **options)


@command(
    "optimizer_adamw",
    _params_opt(),
    _lr_opt(1e-3),
    _weight_decay_opt(
        0.01, "decoupled weight decay: each step multiplies the parameters by 1 - lr*weightDecay"
    ),
    *_beta_opts(),
    *_adam_tail(),
    *EXTRA_OPTIONS,
    extra_aliases=("optimizerAdamW",),
    summary="Create an AdamW optimizer (torch.optim.AdamW, decoupled weight decay).",
)
@with_extras
def optimizer_adamw(parameters, beta1, beta2, **options):
    return torch.optim.AdamW(parameters, betas=(beta1, beta2), **options)


@command(
    "optimizer_sgd",
    _params_opt(),
    _lr_opt(0.01),
    Opt("momentum", Double(ge=0), 0.0, "momentum factor"),
    Opt("dampening", Double(ge=0), 0.0, "dampening of the momentum"),
    _weight_decay_opt(0.0, "L2 penalty added to the gradient"),
    Opt("nesterov", Bool(), False, "Nesterov momentum (needs -momentum > 0 and -dampening 0)"),
    Opt("maximize", Bool(), False, "ascend instead of descend", positional=False),
    *EXTRA_OPTIONS,
    summary="Create a stochastic gradient descent optimizer (torch.optim.SGD).",
)
@with_extras
def optimizer_sgd(parameters, lr, momentum, dampening, weight_decay, nesterov, maximize):
    if nesterov and (momentum <= 0 or dampening != 0):
        raise invalid_value("-nesterov", "true", "needs -momentum > 0 and -dampening 0")
    return torch.optim.SGD(
        parameters,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )


# -- learning rate -----------------------------------------------------------------------


def _lr_value(lr: Any) -> float:
    return float(lr.item()) if isinstance(lr, torch.Tensor) else float(lr)


@command(
    "get_lr",
    _OPTIMIZER,
    summary="The learning rate of an optimizer (its first parameter group).",
)
def get_lr(optimizer):
    return _lr_value(optimizer.param_groups[0]["lr"])


@command(
    "set_lr",
    _OPTIMIZER,
    Opt("lr", Double(gt=0), help="new learning rate for every parameter group", aliases=("learningRate",)),
    summary="Set the learning rate of every parameter group of an optimizer.",
)
def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        if isinstance(group["lr"], torch.Tensor):
            group["lr"].fill_(lr)
        else:
            group["lr"] = lr
    return lr
