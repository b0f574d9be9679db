"""The torch.optim.Optimizer class: options validation, state, and dispatch to the implementations."""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..state_checks import adafactor_rule, check_optimizer_state, check_param_states
from . import compiled as _compiled
from . import fused as _fused
from . import sharded as _sharded
from .common import _Hyper, compute_dtype, schedule
from .foreach import _foreach_bucket
from .reference import _tensor_update

IMPLEMENTATIONS = ("auto", "reference", "foreach", "compiled", "fused")

# What "auto" resolves to, per device type. Measured on a 2-core CPU (benchmarks/adafactor_step.py,
# float32): foreach 228 ms a step on GPT-2 small and 9.7 ms on a 5.4M-parameter transformer, where
# the Inductor kernels take 339 ms and 15.7 ms after 20 s and 12 s of compilation; the fused native
# step is faster than both (see the benchmark), so it is the CPU choice when it was built.
# Not measured on CUDA; foreach is the sync-free, compile-free choice there until someone measures.
AUTO_IMPLEMENTATION = {"cpu": "fused"}
_AUTO_DEFAULT = "foreach"


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_number(name: str, value: object, rule: str, ok: Callable[[float], bool]) -> None:
    if not _is_number(value) or not math.isfinite(float(value)) or not ok(float(value)):
        raise ValueError(f"invalid {name} {value!r}: must be {rule}")


def _validate_options(options: dict[str, Any]) -> None:
    """Raise ValueError naming the first invalid hyper-parameter of a group."""
    _check_number("lr", options["lr"], "a finite number > 0", lambda v: v > 0)
    _check_number("eps2", options["eps2"], "a finite number >= 0", lambda v: v >= 0)
    _check_number("clip_threshold", options["clip_threshold"], "a finite number > 0", lambda v: v > 0)
    _check_number(
        "decay_rate",
        options["decay_rate"],
        "-1.0 (the paper's 0.8) or a finite number with 0 < |decay_rate| <= 1",
        lambda v: 0 < abs(v) <= 1,
    )
    _check_number(
        "beta1", options["beta1"], "a finite number < 0 (momentum off) or in [0, 1)", lambda v: v < 1
    )
    _check_number("weight_decay", options["weight_decay"], "a finite number >= 0", lambda v: v >= 0)
    _check_number("eps_scale", options["eps_scale"], "a finite number >= 0", lambda v: v >= 0)
    for name in ("relative_step", "scale_parameter", "warmup_init", "maximize"):
        if not isinstance(options[name], bool):
            raise ValueError(f"invalid {name} {options[name]!r}: must be a bool")  # noqa: TRY004 - as torch.optim


# --------------------------------------------------------------------------- optimizer


def _resolve(impl: str, device_type: str) -> str:
    """The implementation a step takes on a device type: "auto" resolved, and "fused" or
    "compiled" read as "foreach" where they cannot run (other devices, missing library, no
    working torch.compile)."""
    if impl == "auto":
        impl = AUTO_IMPLEMENTATION.get(device_type, _AUTO_DEFAULT)
    if impl == "fused" and (device_type != "cpu" or _fused.fused_library() is None):
        impl = "foreach"
    if impl == "compiled" and _compiled._COMPILE_BROKEN:
        impl = "foreach"
    return impl


def _undecorated(method: Callable) -> Callable:
    """torch.optim.Optimizer's method without its torch._disable_dynamo wrapper while
    torch._dynamo is not imported (then nothing can trace it); the wrapped method otherwise."""
    if "torch._dynamo" in sys.modules:
        return method
    return getattr(method, "__wrapped__", method)


class Adafactor(Optimizer):
    """Adafactor with the paper's update rule, the HF/PyTorch options, and a streamed fast path.

    Args:
        params: parameters or parameter groups (groups may override every option below).
        lr: gamma, cap of the relative step rho_t = min(gamma, 1/sqrt(t)) (finite, > 0);
            the step itself when ``relative_step=False``.
        eps2: epsilon added to G^2 before the second-moment statistics (finite, >= 0).
        clip_threshold: update clipping threshold d (finite, > 0).
        decay_rate: c of beta2_t = 1 - t^-c; -1.0 selects 0.8, other negatives mean |c| (finite,
            -1.0 or 0 < |c| <= 1).
        beta1: momentum on the final update; negative turns it off (< 0 or 0 <= beta1 < 1).
        weight_decay: lambda of the decoupled decay X -= lambda * alpha_t * X (finite, >= 0).
        eps_scale: floor of the parameter scale, alpha_t = max(eps_scale, RMS(X)) * rho_t.
        relative_step: False makes rho_t = lr.
        scale_parameter: False makes alpha_t = rho_t.
        warmup_init: rho_t = min(lr, 1e-6 * t, 1/sqrt(t)) (only with relative_step).
        maximize: ascend; the caller's gradient is never modified.
        implementation: "auto", "reference", "foreach", "compiled" or "fused" (keyword only).

    ``last_implementation`` names the path(s) the last step took, e.g. ``"fused"`` or
    ``"fused+foreach"`` when some tensors could not go through the native step.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        lr: float = 0.8,
        eps2: float = 1e-30,
        clip_threshold: float = 1.0,
        decay_rate: float = -1.0,
        beta1: float = -1.0,
        weight_decay: float = 0.0,
        eps_scale: float = 1e-3,
        relative_step: bool = True,
        scale_parameter: bool = True,
        warmup_init: bool = False,
        maximize: bool = False,
        *,
        implementation: str = "auto",
    ) -> None:
        defaults = {
            "lr": lr,
            "eps2": eps2,
            "clip_threshold": clip_threshold,
            "decay_rate": decay_rate,
            "beta1": beta1,
            "weight_decay": weight_decay,
            "eps_scale": eps_scale,
            "relative_step": relative_step,
            "scale_parameter": scale_parameter,
            "warmup_init": warmup_init,
            "maximize": maximize,
        }
        _validate_options(defaults)
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"invalid implementation {implementation!r}: must be one of {', '.join(IMPLEMENTATIONS)}"
            )
        self.implementation = implementation
        self.last_implementation: str | None = None
        super().__init__(params, defaults)

    # torch wraps these four in torch._disable_dynamo, whose first call imports torch._dynamo
    # (about a second of start-up). Dynamo can only be tracing us if it was imported, so until
    # then the undecorated methods do the same job.

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        _validate_options({**self.defaults, **param_group})
        _undecorated(Optimizer.add_param_group)(self, param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        _undecorated(Optimizer.zero_grad)(self, set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return _undecorated(Optimizer.state_dict)(self)

    # ------------------------------------------------------------------ introspection

    def resolved_implementation(self, device: torch.device | str | None = None) -> str:
        """The path a step takes on ``device`` (default: the first parameter's).

        "auto" resolved for the device; "compiled" reads "foreach" once torch.compile failed here.
        """
        if device is None:
            device = next((p.device for g in self.param_groups for p in g["params"]), "cpu")
        return _resolve(self.implementation, torch.device(device).type)

    def state_bytes(self) -> int:
        """Bytes held by all tensor state (row, col, v, exp_avg); step counters are Python ints.
        For sharded (DTensor) parameters: this rank's state, which is of its local shard."""
        return sum(
            t.numel() * t.element_size()
            for st in self.state.values()
            for t in st.values()
            if isinstance(t, Tensor)
        )

    # ------------------------------------------------------------------ state

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        st = self.state[p]
        if _sharded.is_sharded(p):  # a DTensor (FSDP2): state of the local shard
            return _sharded.init_state(p, st, group)
        cd = compute_dtype(p.dtype)
        if not st:
            st["step"] = 0
            if p.dim() >= 2:
                st["row"] = torch.zeros(p.shape[:-1], dtype=cd, device=p.device)
                st["col"] = torch.zeros(p.shape[:-2] + p.shape[-1:], dtype=cd, device=p.device)
            else:
                st["v"] = torch.zeros(p.shape, dtype=cd, device=p.device)
        if group["beta1"] >= 0:
            if "exp_avg" not in st:
                st["exp_avg"] = torch.zeros(p.shape, dtype=cd, device=p.device)
        else:
            st.pop("exp_avg", None)
        return st

    @staticmethod
    def check_state_dict(state_dict: Any, params: list[Tensor]) -> None:
        """Raise ValueError unless ``state_dict`` holds Adafactor state for ``params`` (the
        optimizer's parameters, in order): per stepped parameter ``step`` (a whole number,
        0 <= step < 2**53), ``row`` and ``col`` (rank >= 2) or ``v``, and ``exp_avg`` while the
        group's beta1 >= 0, floating-point tensors of the shapes those take for the parameter."""
        check_param_states(state_dict, params, adafactor_rule, "Adafactor")

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's load, after :meth:`check_state_dict` (ValueError, nothing changed, on bad state)."""
        check_optimizer_state(self, state_dict)
        _undecorated(Optimizer.load_state_dict)(self, state_dict)
        # torch casts floating state to each parameter's dtype (bf16 -> lossy); ours lives in the
        # compute dtype, so take the saved tensors again, exactly.
        saved_ids = [i for g in state_dict["param_groups"] for i in g["params"]]
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(saved_ids, params):
            saved = state_dict["state"].get(pid)
            if not saved:
                continue
            cd = compute_dtype(p.dtype)
            for k, v in saved.items():
                if isinstance(v, Tensor):
                    self.state[p][k] = v.to(device=p.device, dtype=cd, copy=True)
                elif k == "step":
                    self.state[p][k] = int(v)

    # ------------------------------------------------------------------ step

    def _prepare_step(self) -> bool:
        """Check the next :meth:`step` (without a closure) in full: True when every group will go
        through its native plan, so that the step updates every parameter that has a gradient
        or, when the native call cannot get its scratch memory, changes nothing in that group;
        False says nothing either way (a first step, a changed model: the general step).

        After True, the next call of :meth:`step` uses what this checked without checking
        again (the gradients' addresses included), so it is private: torch::optimizer_step
        calls it right before ``step()``, with nothing in between (no step pre-hook), and
        drops ``_prepared_plans`` from the optimizer's ``__dict__`` when ``step()`` fails."""
        plans = [_fused.plan_holds(self, group) for group in self.param_groups]
        if not plans or None in plans:
            self.__dict__.pop("_prepared_plans", None)
            return False
        self._prepared_plans = plans
        return True

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step; ``closure`` re-evaluates the loss (with grad enabled)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        prepared = self.__dict__.pop("_prepared_plans", None) or ()
        self._ran: set[str] = set()
        for i, group in enumerate(self.param_groups):
            checked = prepared[i] if i < len(prepared) else None
            if _fused.planned_step(self, group, checked):  # the group's prepared native call (fused.py)
                self._ran.add("fused")
                continue
            params, grads, states = [], [], []
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise RuntimeError("Adafactor does not support sparse gradients")
                if not p.is_floating_point() or p.is_complex():
                    raise RuntimeError(f"Adafactor needs real floating-point parameters, got {p.dtype}")
                st = self._init_state(p, group)
                st["step"] += 1
                if p.numel() == 0:
                    continue
                params.append(p)
                grads.append(grad)
                states.append(st)
            if params and self._update_group(group, params, grads, states) == "fused":
                _fused.make_plan(self, group, params, states, _Hyper.of(group))
        self.last_implementation = "+".join(sorted(self._ran)) or None
        return loss

    def _update_group(self, group, params, grads, states) -> str | None:
        """Step these tensors of a group; returns "fused" when one native call did them all."""
        hyper = _Hyper.of(group)
        rhos, weights = schedule(group, [st["step"] for st in states])
        shards = [i for i, p in enumerate(params) if _sharded.is_sharded(p)]
        if shards:  # DTensor parameters: local shards, whole-tensor sums all-reduced (sharded.py)
            pick = lambda xs, idx: [xs[i] for i in idx]
            _sharded.step(*(pick(xs, shards) for xs in (params, grads, states, rhos, weights)), hyper)
            self._ran.add("sharded")
            rest = [i for i in range(len(params)) if i not in set(shards)]
            if not rest:
                return None
            params, grads, states, rhos, weights = (
                pick(xs, rest) for xs in (params, grads, states, rhos, weights)
            )
        impl = _resolve(self.implementation, params[0].device.type)
        todo = list(range(len(params)))
        if impl == "reference":
            for p, g, st, rho, w in zip(params, grads, states, rhos, weights):
                _tensor_update(
                    p, g, st.get("row"), st.get("col"), st.get("v"), st.get("exp_avg"), rho, w, hyper
                )
            todo = []
        elif impl == "compiled":
            todo = _compiled._compiled_update(params, grads, states, rhos, weights, hyper)
        elif impl == "fused":
            todo = self._fused_step(params, grads, states, rhos, weights, hyper)
        if len(todo) < len(params):
            self._ran.add(impl)
        if todo:
            self._ran.add("foreach")
            self._foreach_step(todo, params, grads, states, rhos, weights, hyper)
        return "fused" if impl == "fused" and not todo and not shards else None

    def _fused_step(self, params, grads, states, rhos, weights, hyper: _Hyper) -> list[int]:
        """The tensors the native step can take, in one call; returns the indices left to do."""
        ok = [i for i, (p, g, st) in enumerate(zip(params, grads, states)) if _fused._fused_ok(p, g, st)]
        norms = None
        if _fused._REUSE_PARAM_NORM and hyper.scale_parameter:
            norms = self.__dict__.setdefault("_fused_norms", {})
        if len(ok) == len(params):
            done = _fused._fused_update(params, grads, states, rhos, weights, hyper, norms)
            return [] if done else ok
        pick = lambda xs: [xs[i] for i in ok]
        if ok and _fused._fused_update(
            pick(params), pick(grads), pick(states), pick(rhos), pick(weights), hyper, norms
        ):
            skip = set(ok)
            return [i for i in range(len(params)) if i not in skip]
        return list(range(len(params)))

    @staticmethod
    def _foreach_step(todo, params, grads, states, rhos, weights, hyper: _Hyper) -> None:
        """The multi-tensor path for the tensors ``todo``, bucketed by device and compute dtype."""
        buckets: dict[tuple, list[int]] = {}
        for i in todo:
            buckets.setdefault((params[i].device, compute_dtype(params[i].dtype)), []).append(i)
        for (_, cd), idx in buckets.items():
            _foreach_bucket(
                [params[i] for i in idx],
                [grads[i] for i in idx],
                [states[i] for i in idx],
                [rhos[i] for i in idx],
                [weights[i] for i in idx],
                hyper,
                cd,
            )
