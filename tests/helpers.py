"""Helpers shared by the Python tests (one copy each; tests/conftest.py holds the fixtures).

Two ways to run Tcl, named apart:
  run_tclsh(script, *args)       a script (text) in a real tclsh subprocess -> CompletedProcess
  run_tclsh_file(path, *args)    a script file in a real tclsh subprocess   -> CompletedProcess
  tcl_eval(interp, script)       a script in a tcltorch.Interp (this process) -> its result (str)
  tcl_tensor(interp, script)     ... whose result is one handle -> that object
  tcl_tensors(interp, script)    ... whose result is a list of handles -> the objects
  tcl_error(interp, script)      ... that must fail -> (message, errorcode list)
  tcl_only_error(interp, script) ... that must fail with a TclError (no Python exception)
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
TCL_TESTS = ROOT / "tests" / "tcl"


# --- real tclsh / console subprocesses ------------------------------------------------------


def tcl_path() -> str:
    from tcltorch.paths import tcl_path as path

    return path()


def tclsh_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["TCLLIBPATH"] = tcl_path()
    env.update(extra)
    return env


def run_tclsh(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 300):
    """Run a Tcl script (text) in a real tclsh with tcltorch on its auto_path."""
    return subprocess.run(
        ["tclsh", "/dev/stdin", *args],
        check=False,
        input=script,
        capture_output=True,
        text=True,
        env=env or tclsh_env(),
        timeout=timeout,
    )


def run_tclsh_file(path: str | Path, *args: str, cwd: str | Path | None = None, timeout: float = 300):
    """Run a Tcl script file in a real tclsh (tcltorch on its auto_path), stdout and stderr kept apart."""
    return subprocess.run(
        ["tclsh", str(path), *args],
        check=False,
        capture_output=True,
        text=True,
        env=tclsh_env(),
        cwd=cwd,
        timeout=timeout,
    )


def run_console(*args: str, stdin: str | None = None, timeout: float = 300, cwd: str | None = None):
    """Run the tcltorch console command (the installed entry point's module)."""
    return subprocess.run(
        [sys.executable, "-m", "tcltorch", *args],
        check=False,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


# --- a tcltorch.Interp in this process --------------------------------------------------------


def tcl_eval(interp, script: str) -> str:
    """The result of a script (a Tcl string)."""
    return interp.eval(script)


def tcl_tensor(interp, script: str) -> Any:
    """The object named by the handle a script returns (a tensor, usually)."""
    return interp.get(interp.eval(script))


def tcl_tensors(interp, script: str) -> list[Any]:
    """The objects named by the list of handles a script returns."""
    return [interp.get(h) for h in interp.tk.splitlist(interp.eval(script))]


def tcl_error(interp, script: str, kind: type[BaseException] = Exception, **tensors: torch.Tensor):
    """(message, errorcode) of a script that must fail.  ``kind``: the exception class it must
    raise (tcltorch.TclError for a Tcl usage/value error; a Python exception raised inside a
    command reaches the Python host as its own class, carrying the Tcl errorcode).  Keyword
    tensors are put in the interpreter first as variables of those names."""
    for name, value in tensors.items():
        interp.eval(f"set {name} {interp.put(value)}")
    with pytest.raises(kind) as info:
        interp.eval(script)
    exc = info.value
    message = getattr(exc, "message", str(exc))
    assert message == str(exc), (message, str(exc))
    return message, list(exc.errorcode)


def tcl_only_error(interp, script: str):
    """(message, errorcode) of a script that must fail with a tcltorch.TclError (a Tcl-side
    usage or value error, not a Python exception raised inside a command)."""
    from tcltorch import TclError

    return tcl_error(interp, script, TclError)


def call_error(fn, *args):
    """(message, errorcode) of a Python call that must raise a tcltorch.TclError."""
    from tcltorch import TclError

    with pytest.raises(TclError) as info:
        fn(*args)
    return info.value.message, info.value.errorcode


# --- comparing results ------------------------------------------------------------------------


def assert_same(got: Any, want: Any, *, nan_equal: bool = False) -> None:
    """Bit-for-bit equal tensors: same dtype, shape and device.  ``want`` a list/tuple: ``got``
    a list of as many (a one-handle list reads back as one handle), compared pairwise."""
    if isinstance(want, (list, tuple)):
        got = got if isinstance(got, (list, tuple)) else [got]
        assert len(got) == len(want), (len(got), len(want))
        for g, w in zip(got, want):
            assert_same(g, w, nan_equal=nan_equal)
        return
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.device == want.device, (got.device, want.device)
    if nan_equal:
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    else:
        assert torch.equal(got, want)


def assert_close(
    got: torch.Tensor,
    want: torch.Tensor,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = True,
) -> None:
    """Same dtype and shape; exact for integer/bool results, within tolerance for floats
    (torch.testing's dtype-based rtol/atol unless given).  Complex results: exact, or within
    the given rtol/atol."""
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if want.is_floating_point() or (rtol is not None and want.is_complex()):
        torch.testing.assert_close(got, want, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        assert torch.equal(got, want)


def deep_equal(a: Any, b: Any, *, strict_sequences: bool = True) -> bool:
    """Equality of nested state (dicts, lists, tuples, None, tensors bit for bit with their dtype).
    ``strict_sequences``: a list never equals a tuple."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(deep_equal(a[k], b[k], strict_sequences=strict_sequences) for k in a)
        )
    if isinstance(a, (list, tuple)):
        if strict_sequences and type(a) is not type(b):
            return False
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(deep_equal(x, y, strict_sequences=strict_sequences) for x, y in zip(a, b))
        )
    return a == b


# --- small models and training loops (plain PyTorch) -------------------------------------------


def mlp(sizes: tuple[int, int, int] = (6, 5, 3), seed: int = 0, activation: type = torch.nn.ReLU):
    """Linear-activation-Linear, initialised from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(sizes[0], sizes[1]), activation(), torch.nn.Linear(sizes[1], sizes[2])
    )


def twin_models(seed: int = 0):
    """Two 6-5-3 tanh MLPs with the same weights."""
    a = mlp((6, 5, 3), seed, torch.nn.Tanh)
    b = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    b.load_state_dict(a.state_dict())
    return a, b


def train_mse(model, step, zero, *, steps: int, seed: int, batch: int = 8) -> None:
    """``steps`` steps of MSE regression on random data from a generator seeded ``seed``
    (inputs then targets, shaped by the model's first and last Linear): zero(), backward, step()."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    n_in, n_out = linears[0].in_features, linears[-1].out_features
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(batch, n_in, generator=g)
        y = torch.randn(batch, n_out, generator=g)
        zero()
        torch.nn.functional.mse_loss(model(x), y).backward()
        step()


def snapshot(model, opt=None):
    """A deep copy of (model state, optimizer state or None)."""
    return copy.deepcopy((model.state_dict(), opt.state_dict() if opt is not None else None))


def tampered_checkpoint(src, dst, change) -> None:
    """Write to ``dst`` the checkpoint ``src`` after ``change(data)`` edited its loaded dict."""
    import torch

    data = torch.load(src, weights_only=True)
    change(data)
    torch.save(data, dst)
