"""Saving and loading: model state dicts and training checkpoints.

Writes are atomic: the data goes to a temporary file in the target's directory
(``.NAME.tmp-PID-RANDOM``), which is flushed, fsynced and then renamed over the target, so a
crash mid-save leaves the old file as it was; temporary files of the same target left by a
process that no longer runs (killed mid-save) are removed by the next save.  Only a regular
file is ever replaced: a FIFO, device node or socket at the target is refused.

Reads never run code from the file (``torch.load(weights_only=True)``); the CRC-32 of every
record of the zip archive is verified first, so a damaged file is refused, not loaded.  A
file that does not fit the model or optimizer, or whose optimizer options or state break the
optimizer constructor's own rules, is refused before anything is changed; a load that is
applied changes model and optimizer together or not at all (also when interrupted).

File formats (both ordinary ``torch.save`` zip archives, readable from Python):

* state dict: the module's ``state_dict()`` itself, so ``model.load_state_dict(torch.load(f))``
  works in Python too;
* checkpoint: ``{"format": "tcltorch.checkpoint", "version": 1, "model": state_dict,
  "optimizer": optimizer.state_dict(), "optimizer_class": "Adafactor", "epoch": int,
  "loss": float}``.

torch::get_checkpoint_info: what a checkpoint holds, read without applying it."""

from __future__ import annotations

import errno
import inspect
import math
import numbers
import os
import pickle
import re
import secrets
import stat
import warnings
import zipfile
from collections.abc import Mapping
from typing import Any

import torch

from tcltorch.commands.spec import (
    REGISTRY,
    Bool,
    Choice,
    Double,
    Handle,
    HandleList,
    Int,
    Opt,
    Str,
    command,
    dtype_name,
)
from tcltorch.errors import TclError

FAMILY = "train/checkpoint"

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


def _scaler_opt(help: str) -> Opt:
    return Opt("scaler", HandleList("scaler"), (), help, positional=False, aliases=("scalers",))


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module a DDP wrapper holds: files store it, so any world size (or none) can load them."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


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


class _Writer:
    """The binary stream torch.save writes to: ``os.write`` on a file descriptor, keeping the
    OSError of a failed write.  torch's zip writer swallows that error and reports a bare
    position mismatch (``[enforce fail at inline_container.cc] . unexpected pos``); with the
    error kept, a full disk reads "no space left on device"."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError as exc:
            self.error = exc
            raise
        return total

    def flush(self) -> None:
        pass


_NOT_REGULAR = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(file: str, mode: int) -> TclError:
    kind = next((name for test, name in _NOT_REGULAR if test(mode)), "not a regular file")
    return _bad_file(file, f"is {kind}, not a regular file")


_TEMP_TAIL = re.compile(r"(\d+)-[0-9a-f]{8}")  # PID-RANDOM after ".NAME.tmp-"


def _temp_name(base: str) -> str:
    return f".{base}.tmp-{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we wrote: leave the file alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    try:  # a killed process that nobody has reaped yet is no writer either
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def remove_stale_temps(directory: str, base: str) -> list[str]:
    """Remove the temporary files of target ``base`` whose writing process no longer runs
    (a save killed with SIGKILL, or a crash); returns the names removed."""
    prefix = f".{base}.tmp-"
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    removed = []
    for name in names:
        if not name.startswith(prefix):
            continue
        found = _TEMP_TAIL.fullmatch(name[len(prefix) :])
        if found is None or _pid_alive(int(found.group(1))):
            continue
        full = os.path.join(directory, name)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(name)
        except OSError:
            pass
    return removed


def atomic_save(obj: Any, file: str, serialize: Any = None) -> None:
    """Save ``obj`` to ``file`` so that the file is either the old one or the complete new one.
    ``serialize(obj, stream)`` writes it (default: torch.save; see tcltorch/commands/data.py).

    Only a regular file is replaced: a target that exists and is anything else (a FIFO, a
    device node, a socket) is refused and left alone."""
    path = _path(file)
    if os.path.islink(path):  # replace the file the link points to, keep the link
        path = os.path.realpath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    if not base:
        raise _bad_file(file, "must name a file, not a directory")
    try:
        existing = os.stat(path)
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _os_error(file, exc, "write") from None
    if existing is not None:
        if stat.S_ISDIR(existing.st_mode):
            raise _os_error(file, IsADirectoryError(errno.EISDIR, "is a directory"), "write")
        if not stat.S_ISREG(existing.st_mode):
            raise _not_regular(file, existing.st_mode)
    remove_stale_temps(directory, base)
    tmp = None
    try:
        for _ in range(100):
            candidate = os.path.join(directory, _temp_name(base))
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise FileExistsError(errno.EEXIST, "could not create a temporary file")
        writer = _Writer(fd)
        try:
            if existing is not None:  # a replaced file keeps its permissions
                os.chmod(fd, stat.S_IMODE(existing.st_mode))
            try:
                (serialize or _serialize)(obj, writer)
            except RuntimeError:
                if writer.error is not None:  # the write that failed, not torch's garbled report
                    raise writer.error from None
                raise
            os.fsync(fd)
        finally:
            os.close(fd)
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


def verify_checksums(stream: Any, file: str) -> None:
    """Check the CRC-32 of every record of a zip-format PyTorch file (torch.load never does).

    A file in torch's legacy (pre-1.6, not zip) format has no checksums; torch.load judges it."""
    try:
        if not zipfile.is_zipfile(stream):
            return
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError):
        raise _corrupt(file) from None
    except OSError as exc:
        raise _os_error(file, exc, "read") from None
    finally:
        stream.seek(0)
    if bad is not None:
        raise _bad_file(file, f'is corrupt: its record "{bad}" does not match its checksum (CRC-32)')


def safe_load(file: str) -> Any:
    """``torch.load`` with ``weights_only=True`` onto the CPU; every failure is a Tcl error.

    Only a regular file is read (a FIFO would block for ever), and its zip records' checksums
    are verified before anything in it is unpickled."""
    path = _path(file)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _os_error(file, exc, "open") from None
    if stat.S_ISDIR(info.st_mode):
        raise _os_error(file, IsADirectoryError(errno.EISDIR, "is a directory"), "open")
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(file, info.st_mode)
    try:
        stream = open(path, "rb")  # noqa: SIM115 - opened apart, so that only its errors read "couldn't open"
    except OSError as exc:
        raise _os_error(file, exc, "open") from None
    with stream:
        verify_checksums(stream, file)
        try:
            with warnings.catch_warnings():
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


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "{" + " ".join(_shown(v) for v in value) + "}"
    return repr(value)


def _option_rules(kind: str) -> dict[str, tuple[Opt, int | None]]:
    """Group key -> (the constructor command's Opt, index into a pair or None): the Tcl
    constructor's own rules for each option an optimizer of class ``kind`` keeps."""
    spec = REGISTRY.get(f"optimizer_{kind.lower()}")
    rules: dict[str, tuple[Opt, int | None]] = {}
    if spec is None:
        return rules
    for opt in spec.options:
        if isinstance(opt.type, (Double, Bool, Choice)) or getattr(opt.type, "doc", "") == "double":
            if opt.py_name in ("beta1", "beta2") and kind != "Adafactor":  # torch keeps betas=(b1, b2)
                rules[f"betas[{opt.py_name[-1]}]"] = (opt, int(opt.py_name[-1]) - 1)
            else:
                rules[opt.py_name] = (opt, None)
    return rules


def _check_option(file: str, key: str, value: Any, opt: Opt) -> None:
    def refuse() -> TclError:
        requirement = getattr(opt.type, "requirement", "is invalid")
        return _bad_file(file, f"its optimizer option {opt.flag} is {_shown(value)}: {requirement}")

    if isinstance(opt.type, Bool):
        if not isinstance(value, bool):
            raise refuse()
        return
    if isinstance(opt.type, Choice):
        if not isinstance(value, str):
            raise refuse()
    elif isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        value = value.item()  # torch allows a tensor lr
    if not isinstance(opt.type, Choice) and not _is_real(value):
        raise refuse()
    try:
        opt.type.convert(value if isinstance(value, str) else repr(float(value)), opt.flag, None)
    except TclError:
        raise refuse() from None


def check_optimizer_options(
    groups: list[Any], kind: str, optimizer: torch.optim.Optimizer, file: str
) -> None:
    """Refuse saved options that the optimizer's constructor would refuse: the Tcl command's
    rules first (types and ranges: NaN, a negative lr or the string "yes" for a boolean are
    refused), then the constructor itself, called on a throwaway parameter."""
    rules = _option_rules(kind)
    try:
        signature = inspect.signature(type(optimizer).__init__).parameters
    except (TypeError, ValueError):
        signature = {}
    for group in groups:
        options = {k: v for k, v in group.items() if k not in ("params", "param_names")}
        for key, value in options.items():
            if key == "betas" and any(k.startswith("betas[") for k in rules):
                if not (isinstance(value, (list, tuple)) and len(value) == 2):
                    raise _bad_file(
                        file, f"its optimizer option betas is {_shown(value)}: must be two numbers"
                    )
                for i, v in enumerate(value):
                    _check_option(file, key, v, rules[f"betas[{i + 1}]"][0])
            elif key in rules:
                _check_option(file, key, value, rules[key][0])
            elif key in signature:
                default = signature[key].default
                if (isinstance(default, bool) or default is None) and not (
                    isinstance(value, bool) or (default is None and value is None)
                ):
                    raise _bad_file(file, f"its optimizer option {key} is {_shown(value)}: must be a boolean")
                if _is_real(default) and not (_is_real(value) and math.isfinite(value)):
                    raise _bad_file(
                        file, f"its optimizer option {key} is {_shown(value)}: must be a finite number"
                    )
            elif isinstance(value, float) and not math.isfinite(value):
                raise _bad_file(
                    file, f"its optimizer option {key} is {_shown(value)}: must be a finite number"
                )
        kwargs = {k: v for k, v in options.items() if k in signature and k not in ("self", "params")}
        try:
            type(optimizer)([torch.zeros(1, requires_grad=True)], **kwargs)
        except Exception as exc:  # noqa: BLE001 - the constructor's refusal, in its words
            text = str(exc).strip().split("\n")[0] or type(exc).__name__
            raise _bad_file(file, f"its optimizer options are refused by the constructor: {text}") from None


def _required_state(kind: str, group: Mapping, param: torch.Tensor) -> tuple[set[str], set[str]]:
    """(keys that must be there, keys that may be there) in a stepped parameter's state."""
    if kind in ("Adam", "AdamW"):
        keys = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
        return keys, keys
    if kind == "SGD":  # without momentum SGD keeps no state of its own
        return ({"momentum_buffer"} if group.get("momentum") else set()), {"momentum_buffer"}
    if kind == "Adafactor":
        keys = {"step"} | ({"row", "col"} if param.dim() >= 2 else {"v"})
        momentum = _is_real(group.get("beta1")) and group["beta1"] >= 0
        return keys | ({"exp_avg"} if momentum else set()), keys | {"exp_avg"}
    return set(), set()


def _check_step(file: str, opt_name: str, pid: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        ok = value.numel() == 1 and not value.is_complex()
        number = value.item() if ok else None
    else:
        ok, number = _is_real(value), value
    if not ok or not math.isfinite(number) or number < 0 or number != int(number):
        raise _bad_file(
            file,
            f"does not fit {opt_name}: the step count of parameter {pid} is {_shown(number if ok else value)}, "
            "must be a whole number >= 0",
        )


def check_optimizer_state(
    state: Any, kind: Any, optimizer: torch.optim.Optimizer, file: str, opt_name: str
) -> None:
    """Raise unless ``state`` is the state of an optimizer like ``optimizer`` over the same shapes,
    with options its constructor accepts and, per parameter, the state entries its kind keeps."""
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
    ids = [pid for s in saved for pid in s["params"]]
    if len(set(ids)) != len(ids) or not all(
        isinstance(pid, int) and not isinstance(pid, bool) for pid in ids
    ):
        raise _bad_file(
            file, "does not hold an optimizer state dict (its parameter ids are not distinct integers)"
        )
    for s, g in zip(saved, groups):
        mine_keys = set(g) - {"params", "param_names"}
        their_keys = set(s) - {"params", "param_names"}
        if mine_keys != their_keys:
            raise _bad_file(file, f"does not fit {opt_name}: its options differ")
    check_optimizer_options(saved, mine, optimizer, file)
    params: dict[Any, tuple[torch.Tensor, Mapping]] = {}
    for s, g in zip(saved, groups):
        params.update((pid, (p, s)) for pid, p in zip(s["params"], g["params"]))
    for pid, entry in state["state"].items():
        param, group = params.get(pid, (None, None))
        if param is None or not isinstance(entry, Mapping):
            raise _bad_file(file, f"does not fit {opt_name}: state for an unknown parameter {pid}")
        if not entry:
            continue
        required, allowed = _required_state(mine, group, param)
        if allowed and group.get("use_ema"):  # -useEma: the parameter's moving average
            allowed = allowed | {"ema"}
        missing = sorted(required - set(entry))
        extra = sorted(set(entry) - allowed) if allowed else []
        if missing or extra:
            what = "; ".join(
                ([f"missing its {', '.join(missing)} state"] if missing else [])
                + ([f"unexpected {', '.join(map(str, extra))} state"] if extra else [])
            )
            raise _bad_file(file, f"does not fit {opt_name}: parameter {pid} is {what}")
        for key, value in entry.items():
            if key == "step":
                _check_step(file, opt_name, pid, value)
                continue
            if value is None and mine == "SGD":
                continue
            if not isinstance(value, torch.Tensor):
                if mine in ("Adam", "AdamW", "SGD", "Adafactor"):
                    raise _bad_file(
                        file, f"does not fit {opt_name}: its {key} state of parameter {pid} is not a tensor"
                    )
                continue
            want = _expected_state_shape(key, param)
            if tuple(value.shape) != want:
                raise _bad_file(
                    file,
                    f"does not fit {opt_name}: its {key} state has shape {_shape(value.shape)}, "
                    f"expected {_shape(want)}",
                )
            if not (value.is_floating_point() or (value.is_complex() and param.is_complex())):
                raise _bad_file(
                    file,
                    f"does not fit {opt_name}: its {key} state is {dtype_name(value.dtype)}, "
                    "expected a floating-point tensor",
                )


@command(
    "save_state_dict",
    _model_opt(),
    _file_opt(),
    summary="Save a module's parameters and buffers to a file (atomically).",
    extra_aliases=("save_state", "saveState"),
)
def save_state_dict(model, file):
    state = _unwrap(model).state_dict()
    if file.lower().endswith(".safetensors"):
        from tcltorch.commands.train.data import save_safetensors

        save_safetensors(state, file)
    else:
        atomic_save(state, file)
    return file


@command(
    "load_state_dict",
    _model_opt(),
    _file_opt(),
    context=True,
    summary="Load a module's parameters and buffers from a file saved by torch::save_state_dict.",
    extra_aliases=("load_state", "loadState"),
)
def load_state_dict(model, file, ctx):
    model = _unwrap(model)
    if file.lower().endswith(".safetensors"):
        from tcltorch.commands.train.data import load_safetensors

        state = load_safetensors(file)
    else:
        state = safe_load(file)
    if _is_checkpoint(state):
        raise _bad_file(file, "is a checkpoint, not a state dict (use torch::load_checkpoint)")
    name = _name(ctx, model, "the model")
    check_model_state(state, model, file, name)
    _commit(model, state, None, {})
    return model


@command(
    "save_checkpoint",
    _model_opt(),
    _optimizer_opt(),
    _file_opt(),
    Opt("epoch", Int(ge=0), 0, "epoch number stored with the checkpoint"),
    Opt("loss", Double(), 0.0, "loss value stored with the checkpoint"),
    _scheduler_opt(
        "schedulers whose state is saved too (restore them with torch::load_checkpoint -scheduler)"
    ),
    _scaler_opt("grad scalers whose state is saved too (restore them with torch::load_checkpoint -scaler)"),
    summary="Save a module and its optimizer's state (a training checkpoint) to a file (atomically).",
)
def save_checkpoint(model, optimizer, file, epoch, loss, scheduler, scaler):
    from tcltorch.commands.train.amp import scaler_states
    from tcltorch.commands.train.schedulers import scheduler_states

    model = _unwrap(model)

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
            **scaler_states(list(scaler)),
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
    _scaler_opt("grad scalers to restore (saved by torch::save_checkpoint -scaler, in the same order)"),
    context=True,
    summary="Restore a module and its optimizer from a checkpoint; returns a dict with epoch and loss.",
)
def load_checkpoint(model, optimizer, file, scheduler, scaler, ctx):
    from tcltorch.commands.train.amp import check_scaler_states, load_scaler_states
    from tcltorch.commands.train.schedulers import check_scheduler_states, load_scheduler_states

    model = _unwrap(model)

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
    if not _is_real(epoch) or not _is_real(loss):
        raise _bad_file(file, "is not a tcltorch checkpoint (no epoch or loss)")
    if not isinstance(epoch, int) or epoch < 0:
        raise _bad_file(file, f"its epoch is {_shown(epoch)}: must be an integer >= 0")
    if not math.isfinite(loss):
        raise _bad_file(file, f"its loss is {_shown(loss)}: must be a finite number")
    check_model_state(data.get("model"), model, file, _name(ctx, model, "the model"))
    check_scheduler_states(data, list(scheduler), file)
    check_scaler_states(data, list(scaler), file)
    name = _name(ctx, optimizer, "the optimizer")
    check_optimizer_state(data.get("optimizer"), data.get("optimizer_class"), optimizer, file, name)
    changes = _loaded_optimizer(optimizer, data["optimizer"], file, name)
    _commit(model, data["model"], optimizer, changes)
    load_scheduler_states(data, list(scheduler))
    load_scaler_states(data, list(scaler))
    return {"epoch": epoch, "loss": float(loss)}


_MISSING = object()


def _loaded_optimizer(optimizer: torch.optim.Optimizer, state: Any, file: str, name: str) -> dict[str, Any]:
    """The optimizer attributes a load of ``state`` sets (``state``, ``param_groups``), built on
    a shallow twin of ``optimizer`` so that the optimizer itself is not touched yet."""
    twin = object.__new__(type(optimizer))
    twin.__dict__.update(optimizer.__dict__)
    try:
        twin.load_state_dict(state)
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as exc:
        text = str(exc).strip().split("\n")[0] or type(exc).__name__
        raise _bad_file(file, f"does not fit {name}: {text}") from None
    return {k: v for k, v in twin.__dict__.items() if optimizer.__dict__.get(k, _MISSING) is not v}


def _commit(model: torch.nn.Module, model_state: Mapping, optimizer: Any, changes: dict[str, Any]) -> None:
    """Apply a checked checkpoint: all of it, or (on any exception, KeyboardInterrupt included,
    wherever it lands) none of it.

    The optimizer's new state was built apart and goes in by reference assignment; the model's
    tensors are copied in place (their identity is what the optimizer and the handles hold), so
    their old values are kept aside first and copied back if the load does not complete."""
    grad_mode = torch.is_grad_enabled()
    targets = model.state_dict()  # detached views of the parameters and buffers
    saved = {k: t.clone() for k, t in targets.items()}
    previous = {k: optimizer.__dict__.get(k, _MISSING) for k in changes}
    done = False
    try:
        model.load_state_dict(model_state, strict=True)
        if changes:
            optimizer.__dict__.update(changes)
        done = True
    finally:
        if not done:
            _undo(targets, saved, optimizer, previous)
        # torch's load runs under no_grad; an interrupt inside its context manager's exit
        # would leave gradients off for good (a C call: it cannot itself be split)
        torch._C._set_grad_enabled(grad_mode)


def _undo(targets: Mapping, saved: Mapping, optimizer: Any, previous: dict[str, Any]) -> None:
    """Put model and optimizer back; idempotent, so an interrupt landing here only repeats it."""
    while True:
        try:
            for key, tensor in targets.items():  # detached: no autograd bookkeeping needed
                tensor.copy_(saved[key])
            for key, value in previous.items():
                if value is _MISSING:
                    optimizer.__dict__.pop(key, None)
                else:
                    optimizer.__dict__[key] = value
            return
        except KeyboardInterrupt:
            continue


def _tensor_count(state: Any) -> tuple[int, int]:
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)] if isinstance(state, dict) else []
    return len(tensors), sum(t.numel() for t in tensors)


@command(
    "get_checkpoint_info", Opt("file", Str(), help="checkpoint or state-dict file", aliases=("filename",))
)
def get_checkpoint_info(file):
    """Describe a checkpoint (or state-dict) file without loading it into anything.

    The file is read as `torch::load_checkpoint` reads it (weights only, every record's CRC
    checked), so a damaged or foreign file is an error here too.

    ## Return Value

    A Tcl dict. For a checkpoint: `kind checkpoint`, `version`, `epoch`, `loss`, `optimizer`
    (its class), `learning_rate` (the first parameter group's), `steps` (the largest step count
    in the optimizer state), `tensors` and `elements` (of the model state), `schedulers` and
    `scalers` (how many states it carries). For a state dict: `kind state_dict`, `tensors`,
    `elements`.

    Examples:
        set model [torch::linear 4 2]
        set opt [torch::optimizer_adam $model 0.01]
        torch::save_checkpoint $model $opt run.ckpt 3 0.25
        set info [torch::get_checkpoint_info run.ckpt]
        puts [dict get $info epoch]       ;# -> 3
        puts [dict get $info optimizer]   ;# -> Adam
        puts [dict get $info elements]    ;# -> 10
    """
    data = safe_load(file)
    if not _is_checkpoint(data):
        if _is_state_dict(data):
            tensors, elements = _tensor_count(data)
            return {"kind": "state_dict", "tensors": tensors, "elements": elements}
        raise _bad_file(file, "is not a tcltorch checkpoint or state dict")
    tensors, elements = _tensor_count(data.get("model"))
    optimizer = data.get("optimizer") if isinstance(data.get("optimizer"), dict) else {}
    groups = optimizer.get("param_groups") or [{}]
    steps = 0
    for state in (optimizer.get("state") or {}).values():
        step = state.get("step") if isinstance(state, dict) else None
        if isinstance(step, torch.Tensor) and step.numel() == 1:
            step = step.item()
        if isinstance(step, (int, float)):
            steps = max(steps, int(step))
    return {
        "kind": "checkpoint",
        "version": data.get("version"),
        "epoch": data.get("epoch"),
        "loss": float(data.get("loss", 0.0)),
        "optimizer": str(data.get("optimizer_class", "")),
        "learning_rate": float(groups[0].get("lr", 0.0))
        if isinstance(groups[0].get("lr"), (int, float))
        else 0.0,
        "steps": steps,
        "tensors": tensors,
        "elements": elements,
        "schedulers": len(data.get("schedulers", [])),
        "scalers": len(data.get("scalers", [])),
    }
