"""The fused CPU implementation: one native call per parameter group (_fused_adafactor.c)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from .common import _Hyper

# --------------------------------------------------------------------------- fused (native CPU)
#
# _fused_adafactor.c, built by setup.py into tcltorch/optim/_adafactor_native (cffi): one call per
# group does every tensor it can take (see _fused_ok), in float32 with double sums, threads as
# torch.get_num_threads(). RMS(X) of the next step is the norm of what this step wrote, so while a
# parameter's version counter and storage are unchanged (nobody wrote it since) pass 1 reads G only.

_FUSED_DTYPES = {torch.float32: 0, torch.bfloat16: 1, torch.float16: 2}
_NATIVE: list = []  # [module] once loaded, [None, reason] when it is missing
_REUSE_PARAM_NORM = True
_FORCE_BASELINE = False  # run the baseline x86-64 row kernels even where AVX2 is there (tests, benchmark)


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


def fused_variant() -> str | None:
    """Which row kernels the fused library runs on this CPU ("avx2" or "baseline"), or None."""
    native = fused_library()
    return None if native is None else native.ffi.string(native.lib.tt_adafactor_variant(0)).decode()


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
    opts.force_baseline = _FORCE_BASELINE
    return opts


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
        known = norms.get(p) if norms is not None else None
        xsq = known[2] if known is not None and known[0] == p.data_ptr() and known[1] == p._version else -1.0
        m = st.get("exp_avg")
        mom = 0 if m is None else m.data_ptr()
        shape = p.shape
        if len(shape) >= 2:
            rows, cols = shape[-2], shape[-1]
            row, col, batch = st["row"].data_ptr(), st["col"].data_ptr(), p.numel() // (rows * cols)
        else:
            row, col, batch, rows, cols = st["v"].data_ptr(), 0, 1, p.numel(), 0
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
