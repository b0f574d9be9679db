"""What an optimizer step's checks depended on, so that a training loop pays them once.

Pure PyTorch (no Tcl).  ``torch::optimizer_step`` refuses, before anything changes, the steps
that would fail part-way through (``tcltorch.commands.train.optimizers.check_step``).  Their
verdict depends only on

* the stepped parameters (those with a gradient): which ones, and their and their gradients'
  dtype, device, shape and layout;
* the optimizer's state: which tensors each parameter's entry holds, and (for the rollback of
  a failed step) which of them are 0-d counters.

A :class:`StepMemo` records that after a step passed the checks, and :meth:`StepMemo.holds`
says, at a fraction of the checks' cost, whether it is all still so:

* the parameters by identity, and their and their gradients' metadata through torch's C++
  tensor guard (``torch._C._dynamo.guards.TensorGuards``: dispatch keys, which include the
  layout and device type, dtype, device index, shape, strides and ``requires_grad``; about
  60 ns a tensor), or a tuple of that metadata read from Python where the guard cannot take
  a tensor (sparse) or is not there;
* the state through the version tag CPython keeps on every dict (``dict_version``: it changes
  on every insertion, deletion or replacement, and a new dict never has an old dict's tag) of
  ``optimizer.state`` and of each parameter's entry.  A step changes its own optimizer's state
  (Adafactor counts steps in Python ints; the first step makes the state), so after a step
  that succeeded :meth:`StepMemo.after_step` takes the new tags: that state was made by the
  optimizer from parameters that passed the checks.  When the step added or removed entries
  it reads the 0-d counters again (a step keeps the kind of the entries it made: a counter
  stays a counter).  Where ``dict_version`` is not there (or does not work),
  the memo keeps the identity of every state tensor instead, and forgets itself as soon as
  one of them is freed (so an id is never reused).

Any doubt means "run the checks again": a guard that fails under another dispatch state
(autocast), strides that changed, a state entry replaced by an equal one.  Never the other way.
"""

from __future__ import annotations

import weakref
from typing import Any

import torch

__all__ = ["FAST", "StepMemo", "stepped", "zero_d_names"]

_Tensor = torch.Tensor


def _probe() -> tuple[Any, Any]:
    """torch's tensor guard and dict_version, each only if it behaves as this module needs."""
    try:
        from torch._C._dynamo.guards import TensorGuards, dict_version
    except Exception:  # noqa: BLE001 - another torch: the Python fallbacks
        return None, None
    try:
        d: dict = {}
        tags = [dict_version(d)]
        d[0] = 0
        tags.append(dict_version(d))
        d[0] = 1  # a replaced value changes the tag too
        tags.append(dict_version(d))
        tags.append(dict_version({0: 1}))  # a new dict never has an old one's tag
        versions = dict_version if len(set(tags)) == 4 else None
    except Exception:  # noqa: BLE001
        versions = None
    try:
        a = torch.zeros(2)
        guard = TensorGuards(a, dynamic_dims_sizes=[[2]], dynamic_dims_strides=[[1]])
        ok = (
            guard.check(torch.ones(2))
            and not guard.check(torch.zeros(3))
            and not guard.check(torch.zeros(2, dtype=torch.float64))
            and not guard.check(torch.zeros(4)[::2])
        )
        guards = TensorGuards if ok else None
    except Exception:  # noqa: BLE001
        guards = None
    return guards, versions


_GUARDS, _DICT_VERSION = _probe()
FAST = _GUARDS is not None and _DICT_VERSION is not None  # both of torch's helpers work here


def stepped(optimizer: torch.optim.Optimizer) -> tuple[list[_Tensor], list[_Tensor]]:
    """The parameters a step would update (those with a gradient), in order, and their gradients."""
    params: list[_Tensor] = []
    grads: list[_Tensor] = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            g = p.grad
            if g is not None:
                params.append(p)
                grads.append(g)
    return params, grads


def zero_d_names(state: Any) -> list[tuple[str, ...]]:
    """For each entry of ``optimizer.state``, in its order: the keys of its 0-d tensors."""
    return [
        tuple(k for k, v in st.items() if isinstance(v, _Tensor) and v.dim() == 0) for st in state.values()
    ]


def _metadata(params: list[_Tensor], grads: list[_Tensor]) -> list[tuple]:
    return [
        (p.dtype, p.device, p.shape, g.dtype, g.device, g.shape, g.layout)
        for p, g in zip(params, grads, strict=True)
    ]


class _PythonGuard:
    """The guard's job in Python: the metadata of every parameter and gradient."""

    __slots__ = ("key",)

    def __init__(self, params: list[_Tensor], grads: list[_Tensor]) -> None:
        self.key = _metadata(params, grads)

    def holds(self, params: list[_Tensor], grads: list[_Tensor]) -> bool:
        return self.key == _metadata(params, grads)


class _TorchGuard:
    __slots__ = ("guard", "n")

    def __init__(self, params: list[_Tensor], grads: list[_Tensor]) -> None:
        tensors = [*params, *grads]
        self.n = len(params)
        self.guard = _GUARDS(
            *tensors,
            dynamic_dims_sizes=[list(t.size()) for t in tensors],
            dynamic_dims_strides=[list(t.stride()) for t in tensors],
        )

    def holds(self, params: list[_Tensor], grads: list[_Tensor]) -> bool:
        return len(params) == self.n and self.guard.check(*params, *grads)


def _guard(params: list[_Tensor], grads: list[_Tensor]) -> Any:
    plain = (_Tensor, torch.nn.Parameter)  # not a subclass (DTensor ...) the guard may not know
    if _GUARDS is not None and all(type(t) in plain and t.layout is torch.strided for t in (*params, *grads)):
        try:
            return _TorchGuard(params, grads)
        except Exception:  # noqa: BLE001, S110 - a tensor the guard does not take: read the metadata
            pass
    return _PythonGuard(params, grads)


def _tags(state: Any) -> tuple[int, list[int]]:
    return _DICT_VERSION(state), list(map(_DICT_VERSION, state.values()))


def _identities(state: Any) -> tuple[list[tuple], list[_Tensor]]:
    """Without dict tags: which tensors each state entry holds (by identity), and those tensors."""
    key: list[tuple] = []
    held: list[_Tensor] = []
    for p, st in state.items():
        tensors = [v for v in st.values() if isinstance(v, _Tensor)]
        held += tensors
        key.append((id(p), *map(id, tensors)))
    return key, held


class StepMemo:
    """The parameters and state of a step that passed the checks (see the module's doc)."""

    __slots__ = ("__weakref__", "check", "guard", "ids", "lengths", "refs", "tags", "valid", "zero_d")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        params: list[_Tensor],
        grads: list[_Tensor],
        zero_d: list[tuple[str, ...]],
    ) -> None:
        state = optimizer.state
        self.ids = list(map(id, params))
        self.guard = _guard(params, grads)
        # torch's guard called directly (holds() compares the ids first: the count is right)
        self.check = self.guard.guard.check if isinstance(self.guard, _TorchGuard) else None
        self.zero_d = zero_d
        self.valid = True
        if _DICT_VERSION is not None:
            self.tags: Any = _tags(state)
            self.lengths = list(map(len, state.values()))
        else:
            self.tags, held = _identities(state)
            self.lengths = None

            memo = weakref.ref(self)

            def forget(_ref: Any) -> None:
                live = memo()
                if live is not None:
                    live.valid = False

            self.refs = [weakref.ref(t, forget) for t in held]

    def holds(self, optimizer: torch.optim.Optimizer, params: list[_Tensor], grads: list[_Tensor]) -> bool:
        """Whether the checks' verdict still stands for the step about to run."""
        if not self.valid:
            return False
        state = optimizer.state
        if self.lengths is not None:
            tag = _DICT_VERSION  # _tags(state), inlined: this runs every step
            if (tag(state), list(map(tag, state.values()))) != self.tags:
                return False
        elif _identities(state)[0] != self.tags:
            return False
        if list(map(id, params)) != self.ids:
            return False
        check = self.check
        return check(*params, *grads) if check is not None else self.guard.holds(params, grads)

    def after_step(self, optimizer: torch.optim.Optimizer) -> None:
        """After a step that succeeded: the state it left is the one the next check compares with
        (the 0-d counters read again when the step added or removed entries)."""
        if self.lengths is None or not self.valid:  # identities: a step keeps or frees them
            return
        state = optimizer.state
        lengths = list(map(len, state.values()))
        if lengths != self.lengths:
            self.zero_d = zero_d_names(state)
            self.lengths = lengths
        tag = _DICT_VERSION
        self.tags = (tag(state), list(map(tag, state.values())))
