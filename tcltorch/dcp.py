"""Distributed checkpoints: a training checkpoint as a torch.distributed.checkpoint directory (no Tcl).

A sharded model (``torch::fully_shard``, FSDP2: DTensor parameters) is saved by every rank at
once, each writing its own shards, into one directory that any world size reads back, resharded:
2 ranks -> 1, 1 -> 2, or into an unsharded model in a process without a process group. The
directory holds::

    .metadata, __0_0.distcp, ...   torch.distributed.checkpoint (DCP): every tensor, by key
    tcltorch.pt                    everything else (torch.save; read weights-only, never code)

Tensor keys: ``model/FQN`` for ``model.state_dict()`` (a DTensor's shards where it is sharded)
and ``optimizer/FQN/KEY`` for each parameter's optimizer state, by the parameter's name in the
model, so that the optimizer state loads whatever the parameter order or world size.
``tcltorch.pt`` holds the format and version, epoch and loss, the optimizer class, its parameter
groups (options, parameters by name), the state that is not a tensor (step counts), the scheduler
and grad-scaler states, the world size that saved it, and the shape and dtype of every tensor
(so every check is made before a byte of tensor data is read).

tcltorch's Adafactor keeps the state of a sharded parameter as plain tensors of the local shard
(:mod:`tcltorch.optim.adafactor.sharded`); they are saved as DTensors of the whole statistic
(``row``, ``v`` and ``exp_avg`` split by rows like the parameter, the ``col`` of a row-split
matrix replicated), which are exactly the unsharded optimizer's tensors, so a checkpoint of a
sharded run loads into an unsharded one and back.

Saving is atomic as a whole: the ranks write into ``.NAME.dcp-partial`` beside the target; after
every rank finished (a barrier), rank 0 writes ``tcltorch.pt`` and swaps the directory in (one
``renameat2(RENAME_EXCHANGE)`` where the kernel has it), so a crash at any point leaves the
previous checkpoint as it was. Loading checks everything against the model and optimizer, reads
the tensors into fresh buffers, and commits all parts or none (:class:`tcltorch.checkpoint.LoadPlan`).

    >>> import tcltorch.dcp as dcp
    >>> dcp.save("run.dcp", model, optimizer, epoch=3)      # on every rank
    >>> dcp.load("run.dcp", model, optimizer)               # any world size, sharded or not
    {'epoch': 3, 'loss': 0.0}
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import math
import os
import pickle
import shutil
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.distributed as dist

from tcltorch import checkpoint, serialization
from tcltorch.checkpoint import CheckpointError
from tcltorch.optim.adafactor import Adafactor
from tcltorch.optim.adafactor.common import compute_dtype
from tcltorch.serialization import FileAccessError, SerializationError

try:  # torch >= 2.4
    from torch.distributed.tensor import DTensor, Replicate, Shard
except ImportError:  # pragma: no cover - older torch: no sharded parameters
    DTensor = None  # type: ignore[assignment,misc]

__all__ = ["FORMAT", "META", "VERSION", "info", "is_dcp", "is_sharded", "load", "read_meta", "save"]

FORMAT = "tcltorch.dcp"
VERSION = 1
META = "tcltorch.pt"
_DCP_METADATA = ".metadata"


def _dtensor(t: Any) -> bool:
    return DTensor is not None and isinstance(t, DTensor)


def is_sharded(model: torch.nn.Module) -> bool:
    """Whether ``model`` has DTensor (sharded) parameters."""
    return any(_dtensor(p) for p in checkpoint.unwrap(model).parameters())


def is_dcp(path: str) -> bool:
    """Whether ``path`` is a directory written by :func:`save`."""
    path = os.path.expanduser(path)
    return os.path.isdir(path) and (
        os.path.exists(os.path.join(path, META)) or os.path.exists(os.path.join(path, _DCP_METADATA))
    )


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _rank() -> int:
    return dist.get_rank() if _distributed() else 0


def _barrier() -> None:
    if _distributed():
        from tcltorch import distributed

        distributed.barrier()


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _dtype(name: Any) -> torch.dtype | None:
    dtype = getattr(torch, name, None) if isinstance(name, str) else None
    return dtype if isinstance(dtype, torch.dtype) else None


def _contiguous_stride(shape: Sequence[int]) -> tuple[int, ...]:
    stride, acc = [], 1
    for size in reversed(shape):
        stride.append(acc)
        acc *= max(int(size), 1)
    return tuple(reversed(stride))


# -- Adafactor's local state <-> DTensors of the whole statistic ---------------------------------


def _adafactor_layout(p: Any, key: str) -> tuple[tuple[int, ...], Any]:
    """(global shape, placement) of tcltorch Adafactor's state ``key`` of DTensor parameter ``p``
    (see :func:`tcltorch.optim.adafactor.sharded.init_state`)."""
    from tcltorch.optim.adafactor import sharded

    split = sharded._split_rows(p)
    shape = tuple(p.shape)
    if key == "row":
        whole = shape[:-1]
    elif key == "col":
        whole = shape[:-2] + shape[-1:]
    else:
        whole = shape
    if not split or (key == "col" and p.dim() == 2):
        return whole, Replicate()
    return whole, Shard(0)


def _adafactor_dtensor(p: Any, key: str, local: torch.Tensor) -> Any:
    whole, place = _adafactor_layout(p, key)
    return DTensor.from_local(
        local,
        p.device_mesh,
        [place],
        run_check=False,
        shape=torch.Size(whole),
        stride=_contiguous_stride(whole),
    )


def _adafactor_target(p: Any, key: str, dtype: torch.dtype) -> Any:
    whole, place = _adafactor_layout(p, key)
    rows = p.to_local().shape[0] if isinstance(place, Shard) else None
    local_shape = whole if rows is None else (rows, *whole[1:])
    local = torch.zeros(local_shape, dtype=dtype, device=p.to_local().device)
    return _adafactor_dtensor(p, key, local)


# -- saving -----------------------------------------------------------------------------------


def _param_names(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The model's name of each of the optimizer's parameters, in the optimizer's order."""
    names = {id(p): n for n, p in model.named_parameters(remove_duplicate=False)}
    out = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if id(p) not in names:
                raise ValueError(
                    "the optimizer has a parameter the model does not have "
                    f"(shape {{{' '.join(map(str, p.shape))}}}): a distributed checkpoint names "
                    "optimizer state by the model's parameter names"
                )
            out.append(names[id(p)])
    return out


def _describe(t: torch.Tensor) -> list[Any]:
    return [list(t.shape), _dtype_name(t.dtype)]


def state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    epoch: int = 0,
    loss: float = 0.0,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the tensors DCP writes, the ``tcltorch.pt`` dict) of a checkpoint."""
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0):
        raise ValueError(f"epoch {epoch!r}: must be an integer >= 0")
    if not (checkpoint._real(loss) and math.isfinite(loss)):
        raise ValueError(f"loss {loss!r}: must be a finite number")
    model = checkpoint.unwrap(model)
    names = _param_names(model, optimizer)
    tensors: dict[str, Any] = {}
    shapes: dict[str, Any] = {"model": {}, "optimizer": {}}
    for key, value in model.state_dict().items():
        tensors[f"model/{key}"] = value
        shapes["model"][key] = _describe(value)
    saved = optimizer.state_dict()
    params = [p for g in optimizer.param_groups for p in g["params"]]
    ids = [pid for g in saved["param_groups"] for pid in g["params"]]
    values: dict[str, dict[str, Any]] = {}
    steps = 0
    adafactor = isinstance(optimizer, Adafactor)
    for pid, p, name in zip(ids, params, names):
        entry = saved["state"].get(pid)
        if not entry:
            continue
        values[name], shapes["optimizer"][name] = {}, {}
        for key, value in entry.items():
            if key == "step":
                number = value.item() if isinstance(value, torch.Tensor) else value
                if checkpoint._real(number) and math.isfinite(number):
                    steps = max(steps, int(number))
            if not isinstance(value, torch.Tensor):
                values[name][key] = value
                continue
            if _dtensor(p) and not _dtensor(value) and value.dim() > 0:
                if not adafactor:
                    raise ValueError(
                        f"the {key} state of sharded parameter {name} is a plain tensor; only "
                        "tcltorch's Adafactor keeps local-shard state that can be saved"
                    )
                value = _adafactor_dtensor(p, key, value)
            tensors[f"optimizer/{name}/{key}"] = value
            shapes["optimizer"][name][key] = _describe(value)
    groups = []
    at = 0
    for g in saved["param_groups"]:
        group = {k: v for k, v in g.items() if k not in ("params", "param_names")}
        group["params"] = names[at : at + len(g["params"])]
        at += len(g["params"])
        groups.append(group)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "epoch": int(epoch),
        "loss": float(loss),
        "optimizer_class": type(optimizer).__name__,
        "param_groups": groups,
        "values": values,
        "steps": steps,
        "shapes": shapes,
        "scheduler_classes": [type(s).__name__ for s in schedulers],
        "schedulers": [s.state_dict() for s in schedulers],
        "scalers": [s.state_dict() for s in scalers],
        "world_size": dist.get_world_size() if _distributed() else 1,
    }
    return tensors, meta


def _partial(path: str) -> str:
    directory, base = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{base}.dcp-partial")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unavailable."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot
        return False
    raise OSError(code, os.strerror(code), b)


def _swap_in(tmp: str, path: str) -> None:
    """Make the complete directory ``tmp`` the checkpoint at ``path``; the old one is removed."""
    with serialization.deferred_interrupts():
        if not os.path.lexists(path):
            os.rename(tmp, path)
        elif _exchange(tmp, path):
            _remove(tmp)  # now the old checkpoint
        else:
            old = f"{tmp}.old"
            _remove(old)
            os.rename(path, old)
            os.rename(tmp, path)
            _remove(old)
    serialization._fsync_directory(os.path.dirname(os.path.abspath(path)))


def _write_meta(meta: dict[str, Any], directory: str) -> None:
    target = os.path.join(directory, META)
    with open(target, "wb") as stream:
        torch.save(meta, stream)
        stream.flush()
        os.fsync(stream.fileno())


def save(
    path: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    epoch: int = 0,
    loss: float = 0.0,
) -> str:
    """Write a distributed checkpoint of ``model`` and ``optimizer`` (and schedulers, scalers) to
    the directory ``path`` (every rank calls it, on a file system they share); returns ``path``.
    Without a process group the one process writes it all."""
    import torch.distributed.checkpoint as dcp

    target = serialization.expand(path)
    if os.path.exists(target) and not os.path.isdir(target):
        raise CheckpointError(path, "is a file; a distributed checkpoint is a directory")
    try:
        tensors, meta = state(
            model, optimizer, schedulers=schedulers, scalers=scalers, epoch=epoch, loss=loss
        )
    except ValueError as exc:
        raise CheckpointError(path, str(exc)) from None
    tmp = _partial(target)
    rank = _rank()
    failed: BaseException | None = None
    try:
        if rank == 0:
            _remove(tmp)  # a crashed save's leftovers
            os.makedirs(tmp)
    except OSError as exc:
        failed = exc
    _agree(failed, path, "write")
    try:
        with warnings.catch_warnings():  # "torch.distributed is disabled": one process, as meant
            warnings.simplefilter("ignore", UserWarning)
            dcp.save(tensors, storage_writer=dcp.FileSystemWriter(tmp, sync_files=True))
        _barrier()
        if rank == 0:
            _write_meta(meta, tmp)
            _swap_in(tmp, target)
    except OSError as exc:
        failed = exc
    except BaseException as exc:
        if rank == 0:
            _remove(tmp)
        if _is_dcp_failure(exc):  # every rank has it: DCP gathers each rank's failure
            raise _dcp_failure(path, exc, "write") from None
        raise
    if failed is not None and rank == 0:
        _remove(tmp)
    _agree(failed, path, "write")
    return path


def _is_dcp_failure(exc: BaseException) -> bool:
    return type(exc).__name__ == "CheckpointException" and hasattr(exc, "failures")


def _dcp_failure(path: str, exc: BaseException, verb: str) -> SerializationError:
    """DCP's CheckpointException (every rank's failures) as the engines' error: the first
    operating-system error as such, anything else in words, naming the rank."""
    failures = sorted(exc.failures.items())
    for _rank_, (error, _trace) in failures:
        if isinstance(error, OSError) and error.errno:
            return FileAccessError(path, verb, error.errno)
    rank_, (error, _trace) = failures[0]
    text = str(error).strip().split("\n")[0] or type(error).__name__
    kind = serialization.CorruptFileError if verb == "read" else SerializationError
    return kind(path, f"couldn't {verb} (rank {rank_}): {text}")


def _agree(failed: BaseException | None, path: str, verb: str) -> None:
    """Every rank learns whether any rank failed (one small all_reduce); raise the error if so."""
    bad = failed is not None
    if _distributed():
        from tcltorch import distributed

        flag = torch.tensor([1 if bad else 0], dtype=torch.int64)
        distributed.wait(dist.all_reduce(flag, async_op=True))
        if flag.item() and not bad:
            raise SerializationError(path, f"couldn't {verb}: another rank failed")
    if isinstance(failed, OSError):
        raise FileAccessError(path, verb, failed.errno) from None
    if failed is not None:
        raise failed


# -- reading ----------------------------------------------------------------------------------


class _MetadataUnpickler(pickle.Unpickler):
    """Reads DCP's ``.metadata`` pickle allowing only DCP's metadata classes and plain data."""

    _MODULES = ("torch.distributed.checkpoint.",)
    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("torch", "Size"),
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("torch.serialization", "_get_layout"),  # a layout by its name
        ("pathlib", "PosixPath"),  # where it was saved
        ("pathlib", "WindowsPath"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        if module.startswith(self._MODULES) and "." not in name:
            found = super().find_class(module, name)
            # DCP's own classes (dataclasses, enums) only: no function, no module attribute
            if isinstance(found, type) and found.__module__.startswith(self._MODULES):
                return found
        if module == "torch" and isinstance(getattr(torch, name, None), (torch.dtype, torch.layout)):
            return getattr(torch, name)
        if module == "torch" and name in ("contiguous_format", "channels_last", "preserve_format"):
            return getattr(torch, name)
        raise pickle.UnpicklingError(f"{module}.{name}")


def _check_dcp_metadata(path: str, directory: str) -> Any:
    """DCP's own metadata file, read by a restricted unpickler first: torch's reader unpickles it
    without restriction, so a foreign file is refused before it gets there."""
    name = os.path.join(directory, _DCP_METADATA)
    try:
        with open(name, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise FileAccessError(path, "read", exc.errno) from None
    try:
        metadata = _MetadataUnpickler(io.BytesIO(data)).load()
    except pickle.UnpicklingError as exc:
        raise serialization.UnsafeFileError(
            path, f"refused: its {_DCP_METADATA} holds Python objects other than DCP metadata ({exc})"
        ) from None
    except Exception:  # noqa: BLE001 - whatever a damaged file makes the unpickler raise
        raise serialization.CorruptFileError(path, f"its {_DCP_METADATA} is truncated or corrupt") from None
    if not hasattr(metadata, "state_dict_metadata"):
        raise serialization.CorruptFileError(path, f"its {_DCP_METADATA} is not DCP metadata")
    return metadata


def read_meta(path: str) -> dict[str, Any]:
    """The checked ``tcltorch.pt`` of the checkpoint directory ``path``."""
    directory = serialization.expand(path)
    if not os.path.isdir(directory):
        raise CheckpointError(path, "is not a distributed checkpoint directory")
    name = os.path.join(directory, META)
    if not os.path.exists(name):
        raise CheckpointError(path, f"is not a tcltorch distributed checkpoint (it has no {META})")
    try:
        meta = serialization.safe_load(name)
    except SerializationError as exc:
        raise type(exc)(path, f"its {META}: {exc.problem}") from None
    if not (isinstance(meta, Mapping) and meta.get("format") == FORMAT):
        raise CheckpointError(path, f"its {META} is not a tcltorch distributed checkpoint's")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
        raise CheckpointError(
            path,
            f"has checkpoint format version {checkpoint.shown(version)}; this tcltorch reads version {VERSION}",
        )
    epoch, loss = meta.get("epoch"), meta.get("loss")
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0):
        raise CheckpointError(path, f"its epoch is {checkpoint.shown(epoch)}: must be an integer >= 0")
    if not (checkpoint._real(loss) and math.isfinite(loss)):
        raise CheckpointError(path, f"its loss is {checkpoint.shown(loss)}: must be a finite number")
    shapes = meta.get("shapes")
    groups = meta.get("param_groups")
    ok = (
        isinstance(shapes, Mapping)
        and isinstance(shapes.get("model"), Mapping)
        and isinstance(shapes.get("optimizer"), Mapping)
        and isinstance(groups, list)
        and all(isinstance(g, Mapping) and isinstance(g.get("params"), list) for g in groups)
        and isinstance(meta.get("values"), Mapping)
        and all(_shape_entry(v) for v in shapes["model"].values())
        and all(
            isinstance(e, Mapping) and all(_shape_entry(v) for v in e.values())
            for e in shapes["optimizer"].values()
        )
    )
    if not ok:
        raise CheckpointError(path, f"its {META} is damaged (tensor shapes or parameter groups)")
    classes, states = meta.get("scheduler_classes", []), meta.get("schedulers", [])
    if not (isinstance(classes, list) and isinstance(states, list) and len(classes) == len(states)):
        raise CheckpointError(path, "its scheduler states are not a list of states with their classes")
    if not isinstance(meta.get("scalers", []), list):
        raise CheckpointError(path, "its grad scaler states are not a list")
    return dict(meta)


def _shape_entry(v: Any) -> bool:
    return (
        isinstance(v, (list, tuple))
        and len(v) == 2
        and isinstance(v[0], (list, tuple))
        and all(isinstance(s, int) and s >= 0 for s in v[0])
        and _dtype(v[1]) is not None
    )


def _meta_tensor(entry: Sequence[Any]) -> torch.Tensor:
    return torch.empty(entry[0], dtype=_dtype(entry[1]), device="meta")


def _model_targets(model: torch.nn.Module) -> dict[str, Any]:
    """Fresh buffers, laid out as the model's state (DTensors where it is sharded)."""
    out = {}
    for key, value in model.state_dict().items():
        if _dtensor(value):
            out[key] = DTensor.from_local(
                torch.empty_like(value.to_local()),
                value.device_mesh,
                value.placements,
                run_check=False,
                shape=value.shape,
                stride=value.stride(),
            )
        else:
            out[key] = torch.empty_like(value)
    return out


def _group_ids(
    meta: Mapping[str, Any], optimizer: torch.optim.Optimizer, names: list[str]
) -> list[list[int]]:
    """The saved groups' parameters as indices of the optimizer's (the same names per group)."""
    groups = meta["param_groups"]
    mine = optimizer.param_groups
    sizes = [len(g["params"]) for g in groups]
    if len(groups) != len(mine) or sizes != [len(g["params"]) for g in mine]:
        raise ValueError(
            f"does not fit the optimizer: the file has {checkpoint._counts(groups)}, "
            f"the optimizer {checkpoint._counts(mine)}"
        )
    index = {n: i for i, n in enumerate(names)}
    out, at = [], 0
    for g, size in zip(groups, sizes):
        own = names[at : at + size]
        if sorted(map(str, g["params"])) != sorted(own):
            extra = [n for n in g["params"] if n not in own]
            raise ValueError(
                "does not fit the optimizer: its parameter groups hold other parameters"
                + (f" ({checkpoint._listed([str(n) for n in extra])})" if extra else "")
            )
        out.append([index[n] for n in g["params"]])
        at += size
    return out


def load(
    path: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    schedulers: Sequence[Any] = (),
    scalers: Sequence[torch.amp.GradScaler] = (),
    names: Mapping[Any, str] | None = None,
    check_options: checkpoint.OptionCheck | None = None,
) -> dict[str, Any]:
    """Restore ``model``, ``optimizer``, ``schedulers`` and ``scalers`` from the distributed
    checkpoint directory ``path``, on every rank (or in one process), whatever the world size
    that saved it and whether ``model`` is sharded; all of them or none. Returns
    ``{"epoch": int, "loss": float}``."""
    import torch.distributed.checkpoint as dcp

    meta = read_meta(path)
    directory = serialization.expand(path)
    metadata = _check_dcp_metadata(path, directory)
    model = checkpoint.unwrap(model)
    model_name = (names or {}).get(id(model), "the model")
    opt_name = (names or {}).get(id(optimizer), "the optimizer")
    kind = meta.get("optimizer_class")
    try:
        saved_model = {k: _meta_tensor(v) for k, v in meta["shapes"]["model"].items()}
        checkpoint.check_model_state(saved_model, model, model_name)
        mine = type(optimizer).__name__
        if kind != mine:
            raise ValueError(
                f"holds {str(kind).lower()} optimizer state; {opt_name} is "
                f"{checkpoint._a(mine.lower())} optimizer"
            )
        param_names = _param_names(model, optimizer)
        group_ids = _group_ids(meta, optimizer, param_names)
    except ValueError as exc:
        raise CheckpointError(path, str(exc).replace("the optimizer", opt_name, 1)) from None
    params = [p for g in optimizer.param_groups for p in g["params"]]
    by_name = dict(zip(param_names, params))
    adafactor = isinstance(optimizer, Adafactor)
    targets: dict[str, Any] = {f"model/{k}": v for k, v in _model_targets(model).items()}
    for name, entry in meta["shapes"]["optimizer"].items():
        p = by_name.get(name)
        if p is None:
            raise CheckpointError(path, f"does not fit {opt_name}: state for an unknown parameter {name}")
        for key, (shape, dtype_name) in entry.items():
            dtype = _dtype(dtype_name)
            if adafactor:
                dtype = compute_dtype(p.dtype)
            if _dtensor(p) and len(shape) > 0:
                if adafactor:
                    whole, _ = _adafactor_layout(p, key)
                    if tuple(whole) != tuple(shape):
                        raise CheckpointError(
                            path,
                            f"does not fit {opt_name}: the {key} state of {name} has shape "
                            f"{checkpoint._shape(shape)} in the file, expected {checkpoint._shape(whole)}",
                        )
                    target = _adafactor_target(p, key, dtype)
                elif tuple(shape) == tuple(p.shape):
                    target = torch.empty_like(p, dtype=dtype)
                else:
                    raise CheckpointError(
                        path,
                        f"does not fit {opt_name}: the {key} state of {name} has shape "
                        f"{checkpoint._shape(shape)} in the file, the parameter {checkpoint._shape(p.shape)}",
                    )
            else:
                target = torch.zeros(shape, dtype=dtype, device=p.device if not _dtensor(p) else "cpu")
            targets[f"optimizer/{name}/{key}"] = target
    missing = [k for k in targets if k not in metadata.state_dict_metadata]
    if missing:
        raise CheckpointError(path, f"is incomplete: its tensor files lack {checkpoint._listed(missing)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dcp.load(targets, storage_reader=dcp.FileSystemReader(directory))
    except BaseException as exc:
        if _is_dcp_failure(exc):  # read errors, damaged data: on every rank
            raise _dcp_failure(path, exc, "read") from None
        raise
    state: dict[int, dict[str, Any]] = {}
    for name, entry in meta["values"].items():
        if name in by_name and isinstance(entry, Mapping):
            state.setdefault(param_names.index(name), {}).update(entry)
    for name, entry in meta["shapes"]["optimizer"].items():
        p = by_name[name]
        pid = param_names.index(name)
        for key in entry:
            value = targets[f"optimizer/{name}/{key}"]
            if adafactor and _dtensor(value):
                value = value.to_local()
            state.setdefault(pid, {})[key] = value
    groups = []
    for g, ids in zip(meta["param_groups"], group_ids):
        group = {k: v for k, v in g.items() if k != "params"}
        group["params"] = ids
        groups.append(group)
    data = {
        "format": checkpoint.FORMAT,
        "version": checkpoint.VERSION,
        "model": {k[len("model/") :]: v for k, v in targets.items() if k.startswith("model/")},
        "optimizer": {"state": state, "param_groups": groups},
        "optimizer_class": kind,
        "epoch": meta["epoch"],
        "loss": float(meta["loss"]),
        "scheduler_classes": meta.get("scheduler_classes", []),
        "schedulers": meta.get("schedulers", []),
        "scalers": meta.get("scalers", []),
    }
    plan = checkpoint.prepare(
        path,
        data,
        model,
        optimizer,
        schedulers=schedulers,
        scalers=scalers,
        names=names,
        check_options=check_options,
    )
    return plan.commit()


def info(path: str) -> dict[str, Any]:
    """What a distributed checkpoint directory holds, read without applying it: ``kind``
    "distributed", ``version``, ``epoch``, ``loss``, ``optimizer``, ``learning_rate``, ``steps``,
    ``tensors`` and ``elements`` (of the model state), ``schedulers``, ``scalers`` and
    ``world_size`` (of the run that saved it)."""
    meta = read_meta(path)
    model = meta["shapes"]["model"]
    elements = sum(math.prod(shape) for shape, _ in model.values())
    groups = meta["param_groups"]
    lr = groups[0].get("lr") if groups else None
    if isinstance(lr, torch.Tensor) and lr.numel() == 1 and lr.is_floating_point():
        lr = lr.item()
    steps = meta.get("steps", 0)
    world = meta.get("world_size", 1)
    return {
        "kind": "distributed",
        "version": meta["version"],
        "epoch": meta["epoch"],
        "loss": float(meta["loss"]),
        "optimizer": str(meta.get("optimizer_class", "")),
        "learning_rate": float(lr) if checkpoint._real(lr) else 0.0,
        "steps": int(steps) if isinstance(steps, int) else 0,
        "tensors": len(model),
        "elements": int(elements),
        "schedulers": len(meta.get("schedulers", [])),
        "scalers": len(meta.get("scalers", [])),
        "world_size": int(world) if isinstance(world, int) else 1,
    }
