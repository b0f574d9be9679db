"""The compiled implementation: the reference maths through torch.compile (Inductor)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .common import _Hyper, compute_dtype
from .reference import _tensor_update

# --------------------------------------------------------------------------- compiled

_COMPILED_KERNELS: dict[tuple, Callable[..., None]] = {}
_COMPILE_BROKEN: list[BaseException] = []  # the first failure, once torch.compile failed here


def _kernel_key(param: Tensor, grad: Tensor, st: dict[str, Any], hyper: _Hyper) -> tuple:
    return (
        tuple(param.shape),
        param.stride(),
        grad.stride(),
        param.dtype,
        grad.dtype,
        param.device.type,
        "row" in st,
        hyper,
    )


def _compiled_kernel(key: tuple, hyper: _Hyper) -> Callable[..., None]:
    """torch.compile of the reference maths for one signature, cached for the process.

    Each signature gets its own code object, so each has its own Dynamo cache and no signature
    can push another out through the recompile limit. The per-step scalars are 0-d tensors, so
    a new step never recompiles.
    """
    kernel = _COMPILED_KERNELS.get(key)
    if kernel is None:

        def update(param, grad, row, col, v, exp_avg, rho, weight):
            _tensor_update(param, grad, row, col, v, exp_avg, rho, weight, hyper)

        code = update.__code__.replace(co_name=f"adafactor_kernel_{len(_COMPILED_KERNELS)}")
        fresh = types.FunctionType(code, update.__globals__, code.co_name, None, update.__closure__)
        kernel = torch.compile(fresh, fullgraph=True, dynamic=False)
        _COMPILED_KERNELS[key] = kernel
    return kernel


def _one_element_view(t: Tensor | None) -> Tensor | None:
    """A 0-d tensor as a 1-element vector view (same storage); other tensors (and None) as they are.

    Inductor's CPU code drops in-place writes to 0-d float64 inputs (torch 2.13: the compiled step
    of a 0-d float64 parameter left it and its momentum unchanged, issue 20), so the kernels never
    see a 0-d tensor; the maths of a rank <= 1 tensor is the same for shape () and (1,)."""
    return t.view(1) if t is not None and t.dim() == 0 else t


def _compiled_update(params, grads, states, rhos, weights, hyper: _Hyper) -> list[int]:
    """Run each tensor through its compiled kernel; return the indices left undone on failure."""
    for i, (p, g, st) in enumerate(zip(params, grads, states)):
        if _COMPILE_BROKEN:
            return list(range(i, len(params)))
        cd = compute_dtype(p.dtype)
        rho = torch.full((), rhos[i], dtype=cd, device=p.device)
        weight = torch.full((), weights[i], dtype=cd, device=p.device)
        args = [
            _one_element_view(t) for t in (p, g, st.get("row"), st.get("col"), st.get("v"), st.get("exp_avg"))
        ]
        key = _kernel_key(args[0], args[1], st, hyper)
        try:
            _compiled_kernel(key, hyper)(*args, rho, weight)
        except Exception as exc:  # noqa: BLE001 - no C++ compiler, no Triton, an unsupported backend ...
            _COMPILED_KERNELS.pop(key, None)
            _COMPILE_BROKEN.append(exc)
            return list(range(i, len(params)))
    return []
