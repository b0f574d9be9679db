"""Distributed operations that fail as Python errors instead of aborting or hanging.

Plain PyTorch over gloo aborts the whole process (``terminate called after throwing ...
gloo::EnforceNotMet``) when ranks pass tensors of different sizes to a collective, silently
zero-pads a ``recv`` into a larger buffer, and cannot be interrupted while it waits for a peer.
This module (no Tcl here) wraps the operations the commands use:

* **metadata first**: before a collective every rank contributes a small int64 row (operation,
  its argument, dtype, rank, sizes) to one ``all_gather``; when the rows differ every rank raises
  :class:`Mismatch` naming each rank's tensor, and the real collective is never started. A
  point-to-point send sends the same row ahead of the data; the receiver compares it with the
  shape and dtype it expects and, on a difference, still takes the data (into a scratch buffer of
  the sent size, so the sender is not left blocked) and raises :class:`Mismatch`.
  The check is on by default; ``set_checks(False)`` or ``TCLTORCH_DISTRIBUTED_CHECK=0`` in the
  environment turns it off (then every rank must agree: sends carry no header).
* **interruptible waits**: blocking calls are issued with ``async_op=True`` and waited for in
  slices of :data:`POLL_SECONDS`, so a pending SIGINT (KeyboardInterrupt) is seen within a slice;
  ``init_process_group`` runs in a helper thread for the same reason.
"""

from __future__ import annotations

import datetime
import os
import threading
import zlib
from typing import Any

import torch
import torch.distributed as dist

POLL_SECONDS = 0.05

_MAX_DIMS = 8
# row: what, argument, dtype, ndim, numel, dims[0:8], crc of the dims beyond 8
_ROW = 5 + _MAX_DIMS + 1

_OPERATIONS = (
    "all_reduce",
    "broadcast",
    "distributed_gather",
    "distributed_scatter",
    "distributed_reduce_scatter",
    "distributed_all_to_all",
    "send",
)
_DTYPES = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int64,
    torch.int32,
    torch.int16,
    torch.int8,
    torch.uint8,
    torch.bool,
    torch.complex64,
    torch.complex128,
)


class Mismatch(RuntimeError):
    """The ranks disagree on an operation's tensors (shape, dtype, size) or on the operation."""


_checks = os.environ.get("TCLTORCH_DISTRIBUTED_CHECK", "1").strip().lower() not in ("0", "false", "no", "off")


def checks_enabled() -> bool:
    return _checks


def set_checks(on: bool) -> bool:
    """Turn the metadata check on or off (every rank must do the same); returns the old value."""
    global _checks
    old, _checks = _checks, bool(on)
    return old


# --------------------------------------------------------------------------- waiting


def wait(work: Any, poll: float = POLL_SECONDS) -> None:
    """Wait for a torch Work, in slices, so that Ctrl-C (a pending KeyboardInterrupt) stops it.

    A slice that runs out raises "timed out" while the work is still running; the work's own
    failure (a dead peer, the process group's timeout) comes with the work completed."""
    if work is None:
        return
    if isinstance(work, (Send, Recv)):
        work.wait()
        return
    slice_ = datetime.timedelta(seconds=poll)
    while True:
        try:
            work.wait(timeout=slice_)
            return
        except RuntimeError:
            if work.is_completed():
                work.wait()  # raises the work's own error (or returns if it just finished)
                return
        # the interpreter runs pending signal handlers here: Ctrl-C raises KeyboardInterrupt


def _device(tensor: torch.Tensor | None = None) -> torch.device:
    if tensor is not None:
        return tensor.device
    return (
        torch.device("cuda", torch.cuda.current_device())
        if dist.get_backend() == "nccl"
        else torch.device("cpu")
    )


# --------------------------------------------------------------------------- metadata


def _dtype_code(dtype: torch.dtype) -> int:
    return _DTYPES.index(dtype) if dtype in _DTYPES else 100 + zlib.crc32(str(dtype).encode()) % 1000


def _row(what: str, argument: int, tensor: torch.Tensor | None, shape=None, dtype=None) -> torch.Tensor:
    shape = list(tensor.shape if tensor is not None else shape)
    dtype = tensor.dtype if tensor is not None else dtype
    numel = 1
    for s in shape:
        numel *= int(s)
    dims = [int(s) for s in shape[:_MAX_DIMS]] + [-1] * (_MAX_DIMS - min(len(shape), _MAX_DIMS))
    rest = zlib.crc32(repr(shape[_MAX_DIMS:]).encode()) if len(shape) > _MAX_DIMS else 0
    row = [_OPERATIONS.index(what), argument, _dtype_code(dtype), len(shape), numel, *dims, rest]
    return torch.tensor(row, dtype=torch.int64, device=_device(tensor))


def _describe(row: list[int]) -> str:
    dtype_code, ndim = row[2], row[3]
    dtype = str(_DTYPES[dtype_code]).replace("torch.", "") if dtype_code < len(_DTYPES) else "dtype?"
    dims = [d for d in row[5 : 5 + min(ndim, _MAX_DIMS)]]
    shape = "{" + " ".join(map(str, dims)) + (" ..." if ndim > _MAX_DIMS else "") + "}"
    return f"{dtype} {shape}"


def check_collective(what: str, tensor: torch.Tensor, argument: int = 0, argument_name: str = "") -> None:
    """One all_gather of every rank's metadata row; :class:`Mismatch` on every rank if they differ."""
    if not _checks:
        return
    mine = _row(what, argument, tensor)
    rows = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    wait(dist.all_gather(rows, mine, async_op=True))
    table = [r.tolist() for r in rows]
    if all(r == table[0] for r in table):
        return
    ops = {r[0] for r in table}
    if len(ops) > 1:
        names = ", ".join(f"rank {i} {_OPERATIONS[r[0]]}" for i, r in enumerate(table))
        raise Mismatch(f"{what}: the ranks are in different collectives ({names})")
    args = {r[1] for r in table}
    if len(args) > 1 and argument_name:
        show = (
            (lambda v: _OP_NAMES[v].lower() if v < len(_OP_NAMES) else v) if argument_name == "-op" else str
        )
        names = ", ".join(f"rank {i} {argument_name} {show(r[1])}" for i, r in enumerate(table))
        raise Mismatch(f"{what}: the ranks disagree on {argument_name} ({names})")
    names = ", ".join(f"rank {i} {_describe(r)}" for i, r in enumerate(table))
    raise Mismatch(f"{what}: every rank must pass a tensor of the same shape and dtype ({names})")


# --------------------------------------------------------------------------- operations


def all_reduce(tensor: torch.Tensor, op: Any, async_op: bool = False) -> Any:
    check_collective("all_reduce", tensor, _op_code(op), "-op")
    work = dist.all_reduce(tensor, op=op, async_op=True)
    if async_op:
        return work
    wait(work)
    return None


_OP_NAMES = ("SUM", "PRODUCT", "MIN", "MAX", "AVG", "BAND", "BOR", "BXOR")


def _op_code(op: Any) -> int:
    for code, name in enumerate(_OP_NAMES):
        if op == getattr(dist.ReduceOp, name, None):
            return code
    return 99


def broadcast(tensor: torch.Tensor, src: int, async_op: bool = False) -> Any:
    check_collective("broadcast", tensor, src, "-src")
    work = dist.broadcast(tensor, src=src, async_op=True)
    if async_op:
        return work
    wait(work)
    return None


def gather(tensor: torch.Tensor, dst: int) -> list[torch.Tensor] | None:
    check_collective("distributed_gather", tensor, dst, "-dst")
    mine = dist.get_rank() == dst
    out = [torch.empty_like(tensor) for _ in range(dist.get_world_size())] if mine else None
    wait(dist.gather(tensor.contiguous(), out, dst=dst, async_op=True))
    return out


def scatter(chunks: list[torch.Tensor], src: int) -> torch.Tensor:
    check_collective("distributed_scatter", chunks[0], src, "-src")
    out = torch.empty_like(chunks[0])
    wait(dist.scatter(out, chunks if dist.get_rank() == src else None, src=src, async_op=True))
    return out


def reduce_scatter(tensor: torch.Tensor, op: Any) -> torch.Tensor:
    check_collective("distributed_reduce_scatter", tensor, _op_code(op), "-op")
    out = torch.empty_like(tensor.chunk(dist.get_world_size())[0].contiguous())
    wait(dist.reduce_scatter_tensor(out, tensor.contiguous(), op=op, async_op=True))
    return out


def all_to_all(tensor: torch.Tensor) -> torch.Tensor:
    check_collective("distributed_all_to_all", tensor)
    data = tensor.contiguous()
    out = torch.empty_like(data)
    wait(dist.all_to_all_single(out, data, async_op=True))
    return out


def check_module(what: str, module: torch.nn.Module) -> None:
    """Every rank must hold the same parameters (names, shapes, dtypes): one all_gather_object of
    the list, :class:`Mismatch` naming the first difference on every rank. DDP's own check leaves
    the ranks that pass it waiting for the one that failed."""
    if not _checks:
        return
    mine = [(n, tuple(p.shape), str(p.dtype).replace("torch.", "")) for n, p in module.named_parameters()]
    every: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    for rank, theirs in enumerate(every):
        if theirs == every[0]:
            continue
        if len(theirs) != len(every[0]):
            raise Mismatch(
                f"{what}: rank 0 has {len(every[0])} parameters, rank {rank} has {len(theirs)}: "
                "every rank must build the same model"
            )
        for a, b in zip(every[0], theirs):
            if a != b:
                raise Mismatch(
                    f"{what}: parameter {a[0]} is {a[2]} {{{' '.join(map(str, a[1]))}}} on rank 0 but "
                    f"{b[0]} is {b[2]} {{{' '.join(map(str, b[1]))}}} on rank {rank}: every rank must "
                    "build the same model"
                )


def barrier() -> None:
    wait(dist.barrier(async_op=True))


class Send:
    """A send in flight: the header (when checks are on) and the data."""

    def __init__(self, tensor: torch.Tensor, dst: int, tag: int) -> None:
        self.works = []
        if _checks:
            self.header = _row("send", 0, tensor)
            self.works.append(dist.isend(self.header, dst=dst, tag=tag))
        self.data = tensor
        self.works.append(dist.isend(tensor, dst=dst, tag=tag))

    def is_completed(self) -> bool:
        return all(w.is_completed() for w in self.works)

    def wait(self) -> None:
        for w in self.works:
            wait(w)


class Recv:
    """A receive in flight: the header first; the data once the header matched (or, when it
    did not, into a scratch buffer of the size sent, then :class:`Mismatch`)."""

    def __init__(self, shape: list[int], dtype: torch.dtype, src: int, tag: int, device=None) -> None:
        self.src, self.tag = src, tag
        self.out = torch.empty(shape, dtype=dtype, device=device or _device())
        self.header_work = None
        self.data_work = None
        self.mismatch: str | None = None
        if _checks:
            self.header = torch.empty(_ROW, dtype=torch.int64, device=self.out.device)
            self.header_work = dist.irecv(self.header, src=src, tag=tag)
        else:
            self.data_work = dist.irecv(self.out, src=src, tag=tag)

    def is_completed(self) -> bool:
        if self.data_work is None:
            if not self.header_work.is_completed():
                return False
            self._start_data()
        return self.data_work.is_completed()

    def _start_data(self) -> None:
        if self.data_work is not None:
            return
        sent = self.header.tolist()
        expected = _row("send", 0, self.out).tolist()
        if sent != expected:
            self.mismatch = (
                f"distributed_recv from rank {self.src}: rank {self.src} sent {_describe(sent)}, "
                f"this rank expects {_describe(expected)} (-shape and -dtype must match the tensor sent)"
            )
            dtype = _DTYPES[sent[2]] if sent[2] < len(_DTYPES) else torch.uint8
            dims = sent[5 : 5 + sent[3]] if sent[3] <= _MAX_DIMS else [sent[4]]
            scratch = torch.empty(dims, dtype=dtype, device=self.out.device)
            self.data_work = dist.irecv(scratch, src=self.src, tag=self.tag)
        else:
            self.data_work = dist.irecv(self.out, src=self.src, tag=self.tag)

    def wait(self) -> torch.Tensor:
        if self.header_work is not None:
            wait(self.header_work)
            self._start_data()
        wait(self.data_work)
        if self.mismatch:
            raise Mismatch(self.mismatch)
        return self.out


def send(tensor: torch.Tensor, dst: int, tag: int = 0) -> None:
    Send(tensor.contiguous(), dst, tag).wait()


def recv(shape: list[int], dtype: torch.dtype, src: int, tag: int = 0) -> torch.Tensor:
    return Recv(shape, dtype, src, tag).wait()


# --------------------------------------------------------------------------- exit

_exit_hook: Any = None


def clear_dtensor_caches_at_exit() -> None:
    """Register (once) a Tcl exit handler that empties DTensor's per-thread sharding cache.

    libtorch_python keeps Python objects in a thread-local cache of DTensor dispatch; in tclsh,
    where Python is never finalised, exit() destroys that cache without the GIL and Python aborts
    the process ("PyThreadState_Get: the function must be called with the GIL held"). Clearing it
    in a Tcl exit handler (ctypes takes the GIL for the callback) lets the process exit cleanly.
    Outside a tclsh host (no Tcl_CreateExitHandler in the process's global symbols) it does
    nothing: Python's own finalisation runs there."""
    global _exit_hook
    if _exit_hook is not None:
        return
    import ctypes

    try:
        create = ctypes.CDLL(None).Tcl_CreateExitHandler
    except (AttributeError, OSError):
        _exit_hook = False
        return

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def on_exit(_client_data: Any) -> None:
        clear = getattr(torch._C, "_clear_DTensor_sharding_propagator_cache", None)
        if clear is not None:
            clear()

    create.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    create.restype = None
    create(ctypes.cast(on_exit, ctypes.c_void_p), None)
    _exit_hook = on_exit  # kept alive for the process's life


# --------------------------------------------------------------------------- init


def elastic_store(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of an ``env://`` rendezvous under a torchrun agent's store, with the store
    prefixed by the restart count (``TORCHELASTIC_RESTART_COUNT``); others as given.

    torchrun's agent keeps one TCPStore for all its restarts and its workers use it as is
    (``TORCHELASTIC_USE_AGENT_STORE``): after a restart the new ranks find the dead ranks'
    addresses under the same keys, and gloo's connectFullMesh fails ("Connection refused") or
    waits for its timeout, so ``--max-restarts`` cannot restart anything (torch 2.13, plain
    PyTorch too). A prefix per attempt gives each restarted group keys of its own."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True" or "store" in kwargs:
        return kwargs
    if kwargs.get("init_method") not in (None, "env://") or kwargs.get("rank") is None:
        return kwargs
    try:
        host, port = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    except (KeyError, ValueError):
        return kwargs
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    timeout = kwargs.get("timeout") or datetime.timedelta(minutes=10)
    store = dist.TCPStore(host, port, kwargs["world_size"], is_master=False, timeout=timeout)
    out = {k: v for k, v in kwargs.items() if k != "init_method"}
    out["store"] = dist.PrefixStore(f"tcltorch/attempt_{attempt}/", store)
    return out


def init_process_group(poll: float = POLL_SECONDS, **kwargs: Any) -> None:
    """``dist.init_process_group`` run in a helper thread while this one waits in slices, so
    Ctrl-C stops the wait for the other ranks at once. A rendezvous that completes after an
    interrupt is torn down again by the helper. Under torchrun the rendezvous keys are kept
    apart per restart (:func:`elastic_store`)."""
    state: dict[str, Any] = {"abandoned": False}
    lock = threading.Lock()

    def run() -> None:
        try:
            dist.init_process_group(**elastic_store(kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            state["error"] = exc
            return
        with lock:
            if state["abandoned"]:
                dist.destroy_process_group()

    helper = threading.Thread(target=run, name="tcltorch-distributed-init", daemon=True)
    helper.start()
    try:
        while helper.is_alive():
            helper.join(poll)
    except BaseException:
        with lock:
            state["abandoned"] = True
            if not helper.is_alive() and dist.is_initialized():
                dist.destroy_process_group()
        raise
    if "error" in state:
        raise state["error"]
