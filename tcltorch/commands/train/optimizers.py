"""Optimizers: the -parameters value type and the commands every optimizer shares.

The rest of the optimizer family: torch.optim where it has the algorithm, tcltorch.optim's
LAMB and NovoGrad where it does not.  Every command takes the parameter forms of Adafactor
(tensor, module, list, mix) and the Keras options of optim_extras.

Positional orders follow the C++ extension of this command family; where it takes a pair
(``betas``, ``etas``, ``stepSizes``) as one positional word, the pair's halves are also
options of their own (``-beta1``/``-beta2`` ...).

torch::optimizer_adafactor: the Tcl face of tcltorch.optim.Adafactor.

Parsing and validation only; the algorithm lives in the engine."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch.optim.optimizer import _global_optimizer_pre_hooks as _GLOBAL_PRE_HOOKS

from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Double,
    Handle,
    Int,
    Opt,
    Script,
    camel,
    command,
    is_option_word,
    parse_tcl_double,
)
from tcltorch.commands.train._extras import EXTRA_OPTIONS, EXTRAS_DOC, with_extras
from tcltorch.errors import TclError, TclPassthrough, invalid_value
from tcltorch.optim import extras
from tcltorch.optim.step_memo import StepMemo, stepped, zero_d_names

FAMILY = "train/optimizers"

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
    Opt(
        "lr",
        Double(gt=0),
        None,
        "set this learning rate on every parameter group first (it stays set)",
        positional=False,
        default_doc="unchanged",
    ),
    context=True,
    summary="Perform one optimization step; with -closure (L-BFGS needs one) returns the loss.",
)
def optimizer_step(optimizer, closure, lr, ctx):
    if closure is None and isinstance(optimizer, torch.optim.LBFGS):
        raise TclError(
            'missing required option "-closure": L-BFGS re-evaluates the loss with a script',
            ["TORCH", "ARGS", "REQUIRED", "-closure"],
        )
    if closure is None and lr is None and _prepared(optimizer):
        try:  # the engine checked this whole step: it cannot fail part-way
            optimizer.step()
        except BaseException as exc:
            raise step_error(exc, optimizer, ctx) from exc
        finally:
            optimizer.__dict__.pop("_prepared_plans", None)
        return None
    saved = _counters(optimizer, check_step(optimizer, ctx))
    if lr is not None:
        old_lrs = [
            g["lr"] if not isinstance(g["lr"], torch.Tensor) else float(g["lr"])
            for g in optimizer.param_groups
        ]
        set_lr(optimizer, lr)
    try:
        if closure is None:
            optimizer.step()
        else:
            loss = optimizer.step(_closure(ctx, closure))
    except BaseException as exc:
        _restore_counters(optimizer, saved)
        if lr is not None:  # nothing half-changed: the learning rates as they were
            for group, value in zip(optimizer.param_groups, old_lrs, strict=True):
                _put_lr(group, value)
        raise step_error(exc, optimizer, ctx) from exc
    if closure is None:  # (a closure's script could change anything: its step is checked again)
        after_step(optimizer)
        return None
    return float(loss.item()) if isinstance(loss, torch.Tensor) else float(loss)


def _prepared(optimizer: torch.optim.Optimizer) -> bool:
    """Whether the optimizer's engine checked its next step in full (tcltorch's Adafactor, once
    its groups have native plans: Adafactor._prepare_step), with nothing to run between that
    check and the step: no step pre-hook, and ``step`` the class's own (or an LR scheduler's
    wrapper of it, which only notes the call)."""
    prepare = getattr(optimizer, "_prepare_step", None)
    if prepare is None or optimizer._optimizer_step_pre_hooks or _GLOBAL_PRE_HOOKS:
        return False
    own = optimizer.__dict__.get("step")
    if own is not None and not (
        getattr(own, "_wrapped_by_lr_sched", False)
        and getattr(own, "__wrapped__", None) is type(optimizer).step
    ):
        return False
    return prepare()


def step_error(exc: BaseException, optimizer: torch.optim.Optimizer, ctx: Any) -> BaseException:
    """PyTorch's refusal of a step, said in Tcl terms with the optimizer's handle (Tcl errors,
    return/break/continue and interrupts pass unchanged)."""
    if not isinstance(exc, (RuntimeError, ValueError, TypeError)) or isinstance(exc, TclError):
        return exc
    name = (ctx.handles.name_of(optimizer) if hasattr(ctx, "handles") else None) or "the optimizer"
    kind = type(optimizer).__name__
    text = str(exc).strip().split("\n")[0] or type(exc).__name__
    if "dtype" in text or "Half" in text or "Float" in text or "Double" in text:
        why = (
            "its parameters, gradients and running averages are not all of one dtype (was the model "
            "converted with torch::layer_to after the optimizer was made? make the optimizer after it)"
        )
    elif "device" in text:
        why = "its parameters, gradients and running averages are not all on one device"
    else:
        why = "PyTorch refused the step"
    return TclError(f"{name} ({kind}) could not step: {why} (PyTorch: {text})", ["TORCH", "STEP"])


# Optimizers whose step takes sparse gradients (torch.optim's own list).
_SPARSE_OK = ("SGD", "SparseAdam", "Adagrad")


_Tensor = torch.Tensor
_CHECKED = "_tcltorch_step_checked"  # optimizer attribute: the StepMemo of the last checked step


def check_step(optimizer: torch.optim.Optimizer, ctx: Any) -> list[tuple[str, ...]]:
    """Refuse, before anything changes, the steps that would fail part-way through.

    The checks depend only on each stepped parameter's and gradient's dtype, device, shape and
    layout and on the optimizer's state: while none of that changed since the last step that
    passed them, they are not run again (tcltorch.optim.step_memo says so at a fraction of their
    cost; :func:`after_step` tells it the state a successful step left).
    Returns, for each state entry in order, the names of its 0-d tensors (the counters a failed
    step puts back)."""
    params, grads = stepped(optimizer)
    memo = optimizer.__dict__.get(_CHECKED)
    if memo is not None and memo.holds(optimizer, params, grads):
        return memo.zero_d
    kind = type(optimizer).__name__
    state = optimizer.state
    for p, g in zip(params, grads):
        what = _What(p, ctx)
        problem = _grad_problem(kind, p, g, what) or _state_problem(kind, state.get(p), p, what)
        if problem:
            raise TclError(f"cannot step: {problem}; nothing was changed", ["TORCH", "STEP"])
    zero_d = zero_d_names(state)
    optimizer.__dict__[_CHECKED] = StepMemo(optimizer, params, grads, zero_d)
    return zero_d


def after_step(optimizer: torch.optim.Optimizer) -> None:
    """After a step that passed check_step and succeeded: the state it left is the one the next
    check compares with (else the next check runs in full)."""
    memo = optimizer.__dict__.get(_CHECKED)
    if memo is not None:
        memo.after_step(optimizer)


class _What:
    """A parameter as an error message names it, worked out only when a message is written."""

    __slots__ = ("ctx", "p")

    def __init__(self, p: torch.Tensor, ctx: Any) -> None:
        self.p, self.ctx = p, ctx

    def __str__(self) -> str:
        name = self.ctx.handles.name_of(self.p) if hasattr(self.ctx, "handles") else None
        return f"parameter {name}" if name else f"a parameter of shape {_shape(self.p.shape)}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _grad_problem(kind: str, p: torch.Tensor, g: torch.Tensor, what: Any) -> str | None:
    """Why optimizer ``kind`` cannot step parameter ``p`` with gradient ``g`` (None: it can)."""
    if kind == "Adafactor" and (p.is_complex() or not p.is_floating_point()):
        return f"Adafactor needs real floating-point parameters; {what} is {_dtype(p.dtype)}"
    if g.is_sparse and kind not in _SPARSE_OK:
        return f"{what} has a sparse gradient, which {kind} does not support"
    if kind == "SparseAdam" and not g.is_sparse:
        return (
            f"{what} has a dense gradient, and SparseAdam steps sparse ones only (from "
            "torch::embedding -sparse 1): use torch::optimizer_adam for dense gradients"
        )
    if g.shape != p.shape:
        return f"the gradient of {what} has shape {_shape(g.shape)}"
    if g.dtype != p.dtype:
        return f"the gradient of {what} is {_dtype(g.dtype)}, the parameter {_dtype(p.dtype)}"
    if g.device != p.device:
        return f"the gradient of {what} is on {g.device}, the parameter on {p.device}"
    return None


# Optimizers whose step fails when a running average's dtype or device is not its parameter's.
_STATE_DTYPE = frozenset({"Adam", "AdamW", "Adafactor", "Adamax", "NAdam", "RAdam", "Lamb", "NovoGrad"})


def _state_problem(kind: str, state: Any, p: torch.Tensor, what: Any) -> str | None:
    """A running average kept in another dtype or on another device than its parameter now has
    (the model was converted with torch::layer_to after the optimizer was made)."""
    if not state or kind not in _STATE_DTYPE:  # the ones whose step then fails
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


def _counters(
    optimizer: torch.optim.Optimizer, zero_d: list[tuple[str, ...]] | None = None
) -> tuple[tuple[list, list[dict], dict | None], list[dict]]:
    """What a failed step must put back: each parameter's state entries (a step counter is an
    int or a 0-d tensor changed in place, so those values are kept) and the group options.
    ``zero_d``: check_step's names of the 0-d tensors of each state entry (else found here)."""
    state = optimizer.state
    params = list(state)  # in the state's order, the order of zero_d; no tensor hashing
    copies = list(map(dict, state.values()))
    scalars = None
    if zero_d is None:
        zero_d = zero_d_names(state)
    if any(zero_d):
        for i, names in enumerate(zero_d):
            for k in names:
                v = copies[i].get(k)
                if isinstance(v, _Tensor):
                    # a CPU counter's value (exact: item() is the element's own value) costs less than a copy
                    (scalars := scalars or {}).setdefault(i, {})[k] = v.item() if v.is_cpu else v.clone()
    return (params, copies, scalars), [dict(g) for g in optimizer.param_groups]


def _restore_counters(
    optimizer: torch.optim.Optimizer, saved: tuple[tuple[list, list[dict], dict | None], list[dict]]
) -> None:
    (params, copies, scalars), groups = saved
    while True:  # idempotent: an interrupt landing here only repeats it
        try:
            had = {id(p) for p in params}  # the saved parameters are alive: ids are theirs
            for p in [p for p in optimizer.state if id(p) not in had]:
                del optimizer.state[p]  # state the failed step created
            for i, (p, entries) in enumerate(zip(params, copies)):
                st = optimizer.state[p]
                st.clear()
                st.update(entries)
                for k, v in (scalars or {}).get(i, {}).items():
                    if isinstance(v, _Tensor):
                        entries[k].copy_(v)
                    else:
                        entries[k].fill_(v)
            for g, old in zip(optimizer.param_groups, groups):
                g.clear()
                g.update(old)
            return
        except KeyboardInterrupt:
            continue


def _closure(ctx: Any, script: str):
    """A torch closure that evaluates ``script`` (through scoped_eval) and returns its loss."""
    from tcltorch.commands.runtime.core import scoped_eval

    def closure() -> torch.Tensor:
        mark = ctx.handles.mark()
        keep: list[str] = []
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
        except TclPassthrough:
            # return/break/continue leave the step (before it changed anything) and reach the
            # caller as from torch::scope: the handles named in their result stay alive
            keep = ctx.handles.words_in(ctx.result())
            raise
        finally:
            ctx.handles.release_since(mark, keep=keep)  # the loss handle too: the optimizer holds it

    return closure


@command(
    "optimizer_zero_grad",
    _OPTIMIZER,
    Opt(
        "setToNone",
        Bool(),
        True,
        "drop the gradients (true) or fill them with zeros (false)",
        aliases=("set_to_none",),
    ),
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
    Opt(
        "lr",
        Double(ge=0),
        help="new learning rate for every parameter group (0 freezes the weights, e.g. for a probe)",
        aliases=("learningRate",),
    ),
    summary="Set the learning rate of every parameter group of an optimizer.",
)
def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        _put_lr(group, lr)
    return lr


def _put_lr(group: dict, lr: float) -> None:
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].fill_(lr)
    else:
        group["lr"] = lr


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
            "for `torch::embedding ... -sparse 1`. Dense gradients are refused by PyTorch at the step. "
            "`-weightDecay` (the other implementation's scripts pass one) must be 0: SparseAdam has no weight "
            "decay, which would make its sparse gradients dense; decay dense parameters with another optimizer."
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


# examples other than the _TRAIN loop
_EXAMPLES = {
    "optimizer_lbfgs": [
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
    ],
    "optimizer_sparse_adam": [
        (
            "set w [torch::tensor_create {1.0 -2.0} -requiresGrad 1]\n"
            "set opt [torch::optimizer_sparse_adam $w 0.1]\n"
            "puts [torch::get_lr $opt]    ;# -> 0.1"
        )
    ],
}


def _page(name: str) -> dict[str, Any]:
    """``doc=`` and ``examples=`` for the declaration of optimizer ``name`` (its _DOCS entry)."""
    text, create, shown = _DOCS[name]
    examples = _EXAMPLES.get(name)
    if examples is None:
        examples = [] if create is None else [_TRAIN.replace("CREATE", create).replace("SHOWN", shown)]
    return {"doc": text + "\n\n" + EXTRAS_DOC + "\n\n" + _RETURN, "examples": examples}


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
    **_page("optimizer_rmsprop"),
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
    **_page("optimizer_adagrad"),
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
    **_page("optimizer_momentum_sgd"),
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
    **_page("optimizer_lbfgs"),
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
    **_page("optimizer_rprop"),
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


def _split_betas(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's `params lr beta1 beta2 ?eps? ?weightDecay? ?momentumDecay?`:
    one number in the betas slot followed by another number (betas are always a pair)."""
    lead = 0
    while lead < len(args) and not is_option_word(args[lead], cmd._lookup):
        lead += 1
    if (
        lead >= 4
        and len(ctx.split(args[2], "-betas")) == 1
        and parse_tcl_double(args[2]) is not None
        and parse_tcl_double(args[3]) is not None
    ):
        flags = [f for f in ("-eps", "-weightDecay", "-momentumDecay") if f in cmd._lookup]
        rest = args[4:lead]
        if len(rest) <= len(flags):
            named = [w for pair in zip(flags, rest, strict=False) for w in pair]
            args = (args[0], args[1], "-beta1", args[2], "-beta2", args[3], *named, *args[lead:])
    return parse(ctx, args, invoked)


def _no_weight_decay(weight_decay: float) -> dict:
    """SparseAdam has no weight decay: 0 is what it does; any other value is refused."""
    if weight_decay != 0:
        raise invalid_value(
            "-weightDecay",
            str(weight_decay),
            "must be 0: torch.optim.SparseAdam has no weight decay (decay would make its sparse gradients dense)",
        )
    return {}


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
    command(name, *opts, summary=cls_summary, extra_aliases=aliases, parse_hook=_split_betas, **_page(name))(
        with_extras(entry)
    )


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
    lambda params, betas, weight_decay, **o: torch.optim.SparseAdam(
        params, betas=betas, **_no_weight_decay(weight_decay), **o
    ),
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


@command(
    "optimizer_finalize",
    Opt("optimizer", Handle("optimizer"), help="optimizer handle"),
)
def optimizer_finalize(optimizer):
    """Write an optimizer's moving averages (-useEma) into its parameters (Keras finalize_variable_values).

    Keras's `finalize_variable_values`: for an optimizer created with `-useEma 1`, sets every parameter
    to its moving average (those not yet stepped keep their value). Without `-useEma` it does nothing,
    as in Keras. Call it once training is over, before evaluating or saving the model.

    ## Return Value

    The number of parameters written (0 without `-useEma` or before the first step).

    Examples:
        set w [torch::tensor_create {1.0 2.0} -requiresGrad 1]
        set opt [torch::optimizer_sgd $w 0.5 -useEma 1 -emaMomentum 0.5]
        foreach k {1 2} {
            torch::optimizer_zero_grad $opt
            torch::tensor_backward [torch::tensor_sum $w]
            torch::optimizer_step $opt
        }
        puts [torch::tensor_to_list $w]    ;# -> 0.0 1.0
        puts [torch::optimizer_finalize $opt]    ;# -> 1
        puts [torch::tensor_to_list $w]    ;# -> 0.25 1.25
    """
    return extras.finalize(optimizer)
