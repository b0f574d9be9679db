"""Saving and loading: model state dicts and training checkpoints.

Writes are atomic: the data goes to a temporary file in the target's directory, which is
flushed, fsynced and then renamed over the target, so a crash mid-save leaves the old file
as it was.  Reads never run code from the file (``torch.load(weights_only=True)``), and a
file that does not fit the model or optimizer is refused before anything is changed.

File formats (both ordinary ``torch.save`` zip archives, readable from Python):

* state dict: the module's ``state_dict()`` itself, so ``model.load_state_dict(torch.load(f))``
  works in Python too;
* checkpoint: ``{"format": "tcltorch.checkpoint", "version": 1, "model": state_dict,
  "optimizer": optimizer.state_dict(), "optimizer_class": "Adafactor", "epoch": int,
  "loss": float}``.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import stat
import warnings
from collections.abc import Mapping
from typing import Any

import torch

from tcltorch.commands.spec import Double, Handle, HandleList, Int, Opt, Str, command, dtype_name
from tcltorch.errors import TclError

CHECKPOINT_FORMAT = "tcltorch.checkpoint"
CHECKPOINT_VERSION = 1

_FILE = "-file"


def _model_opt() -> Opt:
    return Opt("model", Handle("module"), help="module handle")


def _optimizer_opt() -> Opt:
    return Opt("optimizer", Handle("optimizer"), help="optimizer handle")


def _scheduler_opt(help: str) -> Opt:
    return Opt("scheduler", HandleList("scheduler"), (), help, positional=False, aliases=("schedulers",))


def _file_opt() -> Opt:
    return Opt("file", Str(), help="file name", aliases=("filename",))


# -- files ----------------------------------------------------------------------------------


def _path(file: str) -> str:
    if not file.strip():
        raise _bad_file(file, "must be a file name")
    return os.path.expanduser(file)


def _os_error(file: str, exc: OSError, verb: str) -> TclError:
    """An OSError as Tcl reports one: message and ``POSIX ENAME {text}`` errorcode."""
    code = exc.errno or errno.EIO
    text = os.strerror(code).lower()
    name = errno.errorcode.get(code, "EIO")
    return TclError(f'couldn\'t {verb} "{file}": {text}', ["POSIX", name, text])


def _serialize(obj: Any, stream: Any) -> None:
    """Write ``obj`` to an open binary stream (the one place torch.save is called)."""
    torch.save(obj, stream)


def atomic_save(obj: Any, file: str) -> None:
    """Save ``obj`` to ``file`` so that the file is either the old one or the complete new one."""
    path = _path(file)
    if os.path.islink(path):  # replace the file the link points to, keep the link
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    if not base:
        raise _bad_file(file, "must name a file, not a directory")
    if os.path.isdir(path):
        raise _os_error(file, IsADirectoryError(errno.EISDIR, "is a directory"), "write")
    tmp = None
    try:
        for attempt in range(100):
            candidate = os.path.join(directory, f".{base}.{os.getpid()}.{attempt}.tmp")
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise FileExistsError(errno.EEXIST, "could not create a temporary file")
        with os.fdopen(fd, "wb") as stream:
            if os.path.exists(path):  # a replaced file keeps its permissions
                os.chmod(stream.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            _serialize(obj, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_directory(directory)
    except OSError as exc:
        raise _os_error(file, exc, "write") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_REFUSED = re.compile(r"WeightsUnpickler error:\s*(.*?)(?:\s+was not an allowed global|\.\s|\n|$)", re.DOTALL)


def safe_load(file: str) -> Any:
    """``torch.load`` with ``weights_only=True`` onto the CPU; every failure is a Tcl error."""
    path = _path(file)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - opened apart, so that only its errors read "couldn't open"
    except OSError as exc:
        raise _os_error(file, exc, "open") from None
    try:
        with stream, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(stream, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        found = _REFUSED.search(text)
        detail = found.group(1).strip() if found else ""
        if "Weights only load failed" in text and not detail.startswith("Unsupported operand"):
            # An operand the restricted unpickler does not know means a damaged or foreign
            # file; anything else (a global, a class, a call) is code it refused to run.
            detail = f" ({detail})" if detail else ""
            raise _bad_file(
                file,
                "refused: the file holds Python objects other than tensors and plain data, "
                f"which could run code{detail}",
            ) from None
        raise _corrupt(file) from None
    except Exception:  # noqa: BLE001 - whatever a damaged file makes the reader raise
        raise _corrupt(file) from None


def _bad_file(file: str, problem: str) -> TclError:
    """``invalid -file "NAME": problem`` with the whole file name (never shortened)."""
    return TclError(f'invalid {_FILE} "{file}": {problem}', ["TORCH", "VALUE", _FILE])


def _corrupt(file: str) -> TclError:
    return _bad_file(file, "is not a PyTorch file, or it is truncated or corrupt")


# -- validation -----------------------------------------------------------------------------


def _name(ctx: Any, obj: Any, fallback: str) -> str:
    return ctx.handles.name_of(obj) or fallback


def _shape(shape: Any) -> str:
    return "{" + " ".join(map(str, shape)) + "}"


def _listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:4])
    return shown + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")


def _is_checkpoint(obj: Any) -> bool:
    return isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT


def _is_state_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and all(isinstance(k, str) for k in obj)
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    )


def check_model_state(state: Any, model: torch.nn.Module, file: str, model_name: str) -> None:
    """Raise unless ``state`` loads into ``model`` completely (keys, shapes, dtypes)."""
    if not _is_state_dict(state):
        raise _bad_file(file, "does not hold a model state dict")
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_listed(missing)}")
        if unexpected:
            parts.append(f"unexpected {_listed(unexpected)}")
        raise _bad_file(file, f"does not fit {model_name}: " + "; ".join(parts))
    for key, mine in expected.items():
        theirs = state[key]
        if theirs.shape != mine.shape:
            raise _bad_file(
                file,
                f"does not fit {model_name}: {key} has shape {_shape(theirs.shape)} in the file, "
                f"{_shape(mine.shape)} in the model",
            )
        if theirs.dtype != mine.dtype and not (theirs.is_floating_point() and mine.is_floating_point()):
            raise _bad_file(
                file,
                f"does not fit {model_name}: {key} is {dtype_name(theirs.dtype)} in the file, "
                f"{dtype_name(mine.dtype)} in the model",
            )


def _counts(groups: list[Any]) -> str:
    sizes = [len(g["params"]) for g in groups]
    if len(sizes) == 1:
        return f"{sizes[0]} parameters"
    return f"{len(sizes)} parameter groups of {{{' '.join(map(str, sizes))}}} parameters"


def _a(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _expected_state_shape(key: str, param: torch.Tensor) -> tuple[int, ...]:
    shape = tuple(param.shape)
    if key == "row" and param.dim() >= 2:  # Adafactor's factored statistics
        return shape[:-1]
    if key == "col" and param.dim() >= 2:
        return shape[:-2] + shape[-1:]
    return shape


def check_optimizer_state(
    state: Any, kind: Any, optimizer: torch.optim.Optimizer, file: str, opt_name: str
) -> None:
    """Raise unless ``state`` is the state of an optimizer like ``optimizer`` over the same shapes."""
    mine = type(optimizer).__name__
    if kind != mine:
        raise _bad_file(
            file, f"holds {str(kind).lower()} optimizer state; {opt_name} is {_a(mine.lower())} optimizer"
        )
    if not (
        isinstance(state, Mapping)
        and isinstance(state.get("state"), Mapping)
        and isinstance(state.get("param_groups"), list)
        and all(isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in state["param_groups"])
    ):
        raise _bad_file(file, "does not hold an optimizer state dict")
    groups = optimizer.param_groups
    saved = state["param_groups"]
    if len(saved) != len(groups) or any(len(s["params"]) != len(g["params"]) for s, g in zip(saved, groups)):
        raise _bad_file(
            file,
            f"does not fit {opt_name}: the file has {_counts(saved)}, the optimizer {_counts(groups)}",
        )
    for s, g in zip(saved, groups):
        mine_keys = set(g) - {"params", "param_names"}
        their_keys = set(s) - {"params", "param_names"}
        if mine_keys != their_keys:
            raise _bad_file(file, f"does not fit {opt_name}: its options differ")
    params = {}
    for s, g in zip(saved, groups):
        params.update(zip(s["params"], g["params"]))
    for pid, entry in state["state"].items():
        param = params.get(pid)
        if param is None or not isinstance(entry, Mapping):
            raise _bad_file(file, f"does not fit {opt_name}: state for an unknown parameter {pid}")
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor) or (key == "step" and value.dim() == 0):
                continue
            want = _expected_state_shape(key, param)
            if tuple(value.shape) != want:
                raise _bad_file(
                    file,
                    f"does not fit {opt_name}: its {key} state has shape {_shape(value.shape)}, "
                    f"expected {_shape(want)}",
                )


# -- commands -------------------------------------------------------------------------------


@command(
    "save_state_dict",
    _model_opt(),
    _file_opt(),
    summary="Save a module's parameters and buffers to a file (atomically).",
)
def save_state_dict(model, file):
    atomic_save(model.state_dict(), file)
    return file


@command(
    "load_state_dict",
    _model_opt(),
    _file_opt(),
    context=True,
    summary="Load a module's parameters and buffers from a file saved by torch::save_state_dict.",
)
def load_state_dict(model, file, ctx):
    state = safe_load(file)
    if _is_checkpoint(state):
        raise _bad_file(file, "is a checkpoint, not a state dict (use torch::load_checkpoint)")
    name = _name(ctx, model, "the model")
    check_model_state(state, model, file, name)
    model.load_state_dict(state, strict=True)
    return model


@command(
    "save_checkpoint",
    _model_opt(),
    _optimizer_opt(),
    _file_opt(),
    Opt("epoch", Int(ge=0), 0, "epoch number stored with the checkpoint"),
    Opt("loss", Double(), 0.0, "loss value stored with the checkpoint"),
    _scheduler_opt("schedulers whose state is saved too (restore them with torch::load_checkpoint -scheduler)"),
    summary="Save a module and its optimizer's state (a training checkpoint) to a file (atomically).",
)
def save_checkpoint(model, optimizer, file, epoch, loss, scheduler):
    from tcltorch.commands.schedulers import scheduler_states

    atomic_save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "optimizer_class": type(optimizer).__name__,
            "epoch": int(epoch),
            "loss": float(loss),
            **scheduler_states(list(scheduler)),
        },
        file,
    )
    return file


@command(
    "load_checkpoint",
    _model_opt(),
    _optimizer_opt(),
    _file_opt(),
    _scheduler_opt("schedulers to restore (saved by torch::save_checkpoint -scheduler, in the same order)"),
    context=True,
    summary="Restore a module and its optimizer from a checkpoint; returns a dict with epoch and loss.",
)
def load_checkpoint(model, optimizer, file, scheduler, ctx):
    from tcltorch.commands.schedulers import check_scheduler_states, load_scheduler_states

    data = safe_load(file)
    if not _is_checkpoint(data):
        if _is_state_dict(data):
            raise _bad_file(file, "is a model state dict, not a checkpoint (use torch::load_state_dict)")
        raise _bad_file(file, "is not a tcltorch checkpoint")
    version = data.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION or version < 1:
        raise _bad_file(
            file, f"has checkpoint format version {version}; this tcltorch reads version {CHECKPOINT_VERSION}"
        )
    epoch, loss = data.get("epoch"), data.get("loss")
    if not isinstance(epoch, int) or not isinstance(loss, (int, float)):
        raise _bad_file(file, "is not a tcltorch checkpoint (no epoch or loss)")
    check_model_state(data.get("model"), model, file, _name(ctx, model, "the model"))
    check_scheduler_states(data, list(scheduler), file)
    check_optimizer_state(
        data.get("optimizer"),
        data.get("optimizer_class"),
        optimizer,
        file,
        _name(ctx, optimizer, "the optimizer"),
    )
    # Everything fits.  The optimizer first: its old state is kept by reference, so a
    # failure anywhere below puts it back untouched.
    previous = optimizer.__getstate__()
    try:
        optimizer.load_state_dict(data["optimizer"])
        model.load_state_dict(data["model"], strict=True)
    except BaseException:
        optimizer.__setstate__(previous)
        raise
    load_scheduler_states(data, list(scheduler))
    return {"epoch": epoch, "loss": float(loss)}
