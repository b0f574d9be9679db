"""The fused CPU implementation: one native call per parameter group (_fused_adafactor.c)."""

from __future__ import annotations

import operator
from typing import Any

import torch
from torch import Tensor

from .common import _Hyper, schedule

# --------------------------------------------------------------------------- fused (native CPU)
#
# _fused_adafactor.c, built by setup.py into tcltorch/optim/_adafactor_native (cffi): one call per
# group does every tensor it can take (see _fused_ok), in float32 with double sums, threads as
# torch.get_num_threads(). RMS(X) of the next step is the norm of what this step wrote, so while a
# parameter's version counter and storage are unchanged (nobody wrote it since) pass 1 reads G only.

_FUSED_DTYPES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
_NATIVE: list = []  # [module] once loaded, [None, reason] when it is missing
_REUSE_PARAM_NORM = True
# the widest row kernels the fused step may run (tests, benchmarks): "best" (what this CPU runs),
# "avx2" (not AVX-512) or "baseline" (x86-64 without AVX)
_KERNELS = "best"
_KERNEL_LIMITS = {"best": 0, "baseline": 1, "avx2": 2}


def fused_library():
    """The native module (``ffi``, ``lib``), or None when it was not built; see fused_unavailable()."""
    if not _NATIVE:
        try:
            from .. import _adafactor_native as native  # built by setup.py, never compiled on use

            _NATIVE.append(native)
        except ImportError as exc:
            reason = f"tcltorch.optim._adafactor_native is not built ({exc}); run `make setup` to build it"
            _NATIVE.extend([None, reason])
    return _NATIVE[0]


def fused_unavailable() -> str | None:
    """Why the fused path cannot run in this process, or None when it can."""
    return None if fused_library() is not None else _NATIVE[1]


def fused_variant(limit: str = "best") -> str | None:
    """Which row kernels the fused library runs on this CPU ("avx512", "avx2" or "baseline") when
    allowed at most ``limit`` (see ``_KERNELS``), or None when it is not built."""
    native = fused_library()
    if native is None:
        return None
    return native.ffi.string(native.lib.tt_adafactor_variant(_KERNEL_LIMITS[limit])).decode()


def _fused_ok(p: Tensor, g: Tensor, st: dict[str, Any]) -> bool:
    """Whether the native step can take this tensor: CPU, float32/bf16/fp16, dense, contiguous."""
    if p.device.type != "cpu" or g.device.type != "cpu":
        return False
    if p.dtype not in _FUSED_DTYPES or g.dtype not in _FUSED_DTYPES or g.layout != torch.strided:
        return False
    if not (p.is_contiguous() and g.is_contiguous()) or g.is_neg() or g.is_conj():
        return False
    m = st.get("exp_avg")
    return m is None or (m.is_contiguous() and m.dtype == torch.float32)


def _options(hyper: _Hyper):
    """The group's options as the C struct ``tt_adafactor_options``, filled by name."""
    opts = fused_library().ffi.new("struct tt_adafactor_options *")
    opts.eps2 = hyper.eps2
    opts.eps_scale = hyper.eps_scale
    opts.clip_threshold = hyper.clip_threshold
    opts.beta1 = hyper.beta1
    opts.weight_decay = hyper.weight_decay
    opts.scale_parameter = hyper.scale_parameter
    opts.maximize = hyper.maximize
    opts.nthreads = torch.get_num_threads()
    opts.kernels = _KERNEL_LIMITS[_KERNELS]
    return opts


def _layout(p: Tensor, st: dict[str, Any], norms: Any) -> tuple[int, int, int, int, int, int, float]:
    """The kernel's view of one parameter and its state: (row or v, col, exp_avg, batch, rows,
    cols, cached sum of x^2 or -1) -- the fields of a tt_adafactor_tensor besides x, g and the
    dtypes and options."""
    known = norms.get(p) if norms is not None else None
    xsq = known[2] if known is not None and known[0] == p.data_ptr() and known[1] == p._version else -1.0
    m = st.get("exp_avg")
    mom = 0 if m is None else m.data_ptr()
    shape = p.shape
    if len(shape) >= 2:
        rows, cols = shape[-2], shape[-1]
        return st["row"].data_ptr(), st["col"].data_ptr(), mom, p.numel() // (rows * cols), rows, cols, xsq
    return st["v"].data_ptr(), 0, mom, 1, p.numel(), 0, xsq


def _fused_update(
    params: list[Tensor],
    grads: list[Tensor],
    states: list[dict[str, Any]],
    rhos: list[float],
    weights: list[float],
    hyper: _Hyper,
    norms: dict | None,
) -> bool:
    """One native call for all these tensors, with the rho_t and 1 - beta2_t of each;
    False (and nothing changed) when it could not run."""
    native = fused_library()
    if native is None:
        return False
    # One tt_adafactor_tensor per tensor, its fields in declaration order: x, g, row (or v), col,
    # exp_avg, batch, rows, cols, x_dtype, g_dtype, rho, weight, xsq, xsq_out. Built inline: this
    # loop is the Python cost of a step of many small tensors.
    entries = []
    dtypes = _FUSED_DTYPES
    for p, g, st, rho, w in zip(params, grads, states, rhos, weights):
        row, col, mom, batch, rows, cols, xsq = _layout(p, st, norms)
        x_dtype, g_dtype = dtypes[p.dtype], dtypes[g.dtype]
        entries.append(
            (p.data_ptr(), g.data_ptr(), row, col, mom, batch, rows, cols, x_dtype, g_dtype, rho, w, xsq, 0.0)
        )
    tensors = native.ffi.new("struct tt_adafactor_tensor[]", entries)
    if native.lib.tt_adafactor_step(len(entries), tensors, _options(hyper)) != 0:
        return False
    # Written through raw pointers: tell autograd (and our own norm cache) that X changed.
    torch._C._increment_version(params)
    if norms is not None:
        for k, p in enumerate(params):
            norms[p] = (p.data_ptr(), p._version, tensors[k].xsq_out)
    return True


# --------------------------------------------------------------------------- the planned step
#
# A training loop steps the same tensors every time. Once a group's step went wholly through the
# native call (parameters without a gradient left out), the group gets a plan: the tensor structs
# filled once (addresses of X and of the state, shapes, dtypes), the options struct, and what each
# entry depends on. A later step checks, per tensor, only what can change between steps without
# the optimizer seeing it (the gradient tensor and its layout; X's address, shape and dtype; the
# state dicts and tensors' identity; X's version counter, for the cached RMS(X)), then passes the
# gradients' addresses and one rho_t / 1 - beta2_t (each tensor's own when the step counts differ)
# in one call. Anything else (a gradient that appeared or went, a new tensor, other options,
# load_state_dict) takes the general step, which makes a new plan.

_STRIDED = torch.strided
_INT_ONLY = {int}


class _Plan:
    __slots__ = (
        "entries",
        "gptrs",
        "group",
        "held",
        "hyper",
        "ids",
        "keys",
        "native",
        "opts",
        "params",
        "skipped",
        "state",
        "states",
        "tensors",
        "versions",
    )


def _state_held(st: dict[str, Any]) -> tuple:
    """The state tensors of an entry (checked by identity) and how many entries it has."""
    return (st.get("row"), st.get("col"), st.get("v"), st.get("exp_avg"), len(st))


def make_plan(opt, group: dict[str, Any], params: list[Tensor], states: list[dict[str, Any]], hyper: _Hyper):
    """The plan of a group whose step just went wholly through _fused_update (or None)."""
    native = fused_library()
    plans = opt.__dict__.setdefault("_fused_plans", {})
    plans.pop(id(group), None)
    live = {id(g) for g in opt.param_groups}
    for key in [k for k in plans if k not in live]:  # groups no longer there (load_state_dict)
        del plans[key]
    if native is None or not params:
        return None
    skipped = [p for p in group["params"] if p.grad is None]
    if len(params) + len(skipped) != len(group["params"]):  # an empty tensor: stepped, not in the call
        return None
    if any(type(st["step"]) is not int for st in states):
        return None
    norms = opt.__dict__.get("_fused_norms") if _REUSE_PARAM_NORM and hyper.scale_parameter else None
    entries, keys, held, versions = [], [], [], []
    for p, st in zip(params, states):
        g = p.grad
        if g is None or not _fused_ok(p, g, st) or p.numel() == 0:
            return None
        row, col, mom, batch, rows, cols, xsq = _layout(p, st, norms)
        xd = _FUSED_DTYPES[p.dtype]
        entries.append((p.data_ptr(), 0, row, col, mom, batch, rows, cols, xd, xd, 0.0, 0.0, xsq, 0.0))
        keys.append((p.data_ptr(), p.dtype, p.shape))
        held.append(_state_held(st))
        versions.append(p._version)
    plan = _Plan()
    plan.gptrs = None
    plan.group, plan.ids, plan.params = group, list(map(id, group["params"])), list(params)
    plan.skipped = skipped
    plan.keys, plan.states, plan.held, plan.hyper = keys, list(states), held, hyper
    plan.opts = _options(hyper)
    plan.tensors = native.ffi.new("struct tt_adafactor_tensor[]", entries)
    plan.versions, plan.native, plan.state = versions, native, opt.state
    plan.entries = list(opt.state.values())
    plans[id(group)] = plan
    return plan


def planned_step(opt, group: dict[str, Any], checked: _Plan | None = None) -> bool:
    """The group's step through its plan; False (nothing changed) when it has none or it no longer
    holds, and the general step must run.  ``checked``: the plan plan_holds just passed for this
    group (nothing changed since), not checked again."""
    plan = checked if checked is not None and checked.group is group else plan_holds(opt, group)
    return plan is not None and _run_plan(plan, group)


def plan_holds(opt, group: dict[str, Any]) -> _Plan | None:
    """The group's plan when its step can go through it, every check of that step made here (the
    native call then does the whole group, or nothing when it cannot get its scratch memory);
    else None.  The plan keeps the gradients' addresses it found for the step that follows."""
    plans = opt.__dict__.get("_fused_plans")
    plan = plans.get(id(group)) if plans else None
    if plan is None:
        return None
    params = plan.params
    if (
        plan.group is not group
        or opt.state is not plan.state
        or not _NATIVE
        or _NATIVE[0] is not plan.native
        or list(map(id, group["params"])) != plan.ids
        or _Hyper.of(group) != plan.hyper
    ):
        return None
    entries = list(opt.state.values())  # the same state dicts (none replaced, added or dropped)
    if len(entries) != len(plan.entries) or not all(map(operator.is_, entries, plan.entries)):
        return None
    grads = [p.grad for p in params]
    gptrs = []
    for p, g, key, st, held in zip(params, grads, plan.keys, plan.states, plan.held):
        if (
            g is None
            or g.layout is not _STRIDED
            or not g.is_contiguous()
            or g.is_neg()
            or g.dtype is not key[1]
            or p.data_ptr() != key[0]
            or p.dtype is not key[1]
            or p.shape != key[2]
            or st.get("row") is not held[0]
            or st.get("col") is not held[1]
            or st.get("v") is not held[2]
            or st.get("exp_avg") is not held[3]
            or len(st) != held[4]
        ):
            return None
        gptrs.append(g.data_ptr())
    for p in plan.skipped:
        if p.grad is not None:
            return None
    if set(map(type, [st["step"] for st in plan.states])) != _INT_ONLY:
        return None
    plan.gptrs = gptrs
    return plan


def _run_plan(plan: _Plan, group: dict[str, Any]) -> bool:
    """The native call of a plan that plan_holds passed (with the gradients it found)."""
    params, gptrs, states = plan.params, plan.gptrs, plan.states
    plan.gptrs = None
    steps = [st["step"] + 1 for st in states]
    step = steps[0]
    tensors = plan.tensors
    if steps.count(step) == len(steps):  # one step count for all: rho_t and 1 - beta2_t once
        (rho,), (weight,) = schedule(group, [step])
    else:  # each tensor's own (some missed steps without a gradient)
        rhos, weights = schedule(group, steps)
        for k, (r, w) in enumerate(zip(rhos, weights)):
            tensors[k].rho = r
            tensors[k].weight = w
        rho = weight = -1.0
    if plan.hyper.scale_parameter:
        versions = [p._version for p in params]
        if versions != plan.versions or not _REUSE_PARAM_NORM:
            for k, (v, w) in enumerate(zip(versions, plan.versions)):
                if v != w or not _REUSE_PARAM_NORM:
                    tensors[k].xsq = -1.0
    opts = plan.opts
    opts.nthreads = torch.get_num_threads()
    opts.kernels = _KERNEL_LIMITS[_KERNELS]
    native = plan.native
    grads_arr = native.ffi.new("int64_t[]", gptrs)
    if native.lib.tt_adafactor_step_planned(len(params), tensors, grads_arr, rho, weight, opts) != 0:
        return False
    for st, t in zip(states, steps):
        st["step"] = t
    torch._C._increment_version(params)
    if plan.hyper.scale_parameter:  # the counters as _increment_version left them
        plan.versions = [v + 1 for v in versions]
    return True
