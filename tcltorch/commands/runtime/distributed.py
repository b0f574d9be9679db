"""torch.distributed from Tcl: process groups, collectives, point-to-point messages,
DistributedDataParallel and rank-0-only work.

tcltorch invents no cluster runtime: ``torchrun --no-python tclsh train.tcl`` (or the
``tcltorch`` console) starts the ranks with ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``
and ``MASTER_PORT`` set, and ``torch::distributed_init`` reads them.  Collectives work
in place on the tensor given (as in torch) and return its handle, or a work handle
with ``-async 1``."""

from __future__ import annotations

import datetime
import inspect
import os
import re
import socket
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from tcltorch import distributed as engine
from tcltorch.commands.runtime.core import scoped_eval
from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Double,
    DType,
    Handle,
    HandleList,
    Int,
    Opt,
    Script,
    Shape,
    Str,
    command,
    is_option_word,
    parse_tcl_int,
)
from tcltorch.commands.vocabulary import names_handles, tensor_opt
from tcltorch.errors import TclError, invalid_value, wrong_args
from tcltorch.handles import register_kind

FAMILY = "runtime/distributed"


@dataclass
class Pending:
    """An asynchronous operation: torch's Work, and the tensor it fills or reads."""

    work: Any
    tensor: torch.Tensor | None
    returns_tensor: bool


register_kind(Pending, "work")


register_kind(DistributedDataParallel, "ddp")


_OPS = {
    "sum": dist.ReduceOp.SUM,
    "product": dist.ReduceOp.PRODUCT,
    "prod": dist.ReduceOp.PRODUCT,
    "min": dist.ReduceOp.MIN,
    "max": dist.ReduceOp.MAX,
    "avg": dist.ReduceOp.AVG,
    "mean": dist.ReduceOp.AVG,
}


def _op() -> Opt:
    return Opt(
        "op",
        Choice(*_OPS),
        default="sum",
        help="reduction: sum, product, min, max or avg",
        aliases=("operation",),
    )


_GROUP_WORDS = ("", "default", "world", "WORLD")


def _group_word(text: str, option: str, ctx: Any) -> str:
    if text.strip() not in _GROUP_WORDS:
        raise invalid_value(option, text, "must be the default group: default or world (or {})")
    return text.strip()


def _group() -> Opt:
    """The other implementation's group argument: only the default (world) group exists here."""
    return Opt(
        "group",
        Custom(_group_word, "group", "must be the default group: default or world (or {})"),
        default="",
        help="process group: the default (world) group, the only one",
        default_doc="world",
    )


def grouped() -> bool:
    """Whether a process group is initialised; without one the collectives act as a one-process
    group (rank 0 of world size 1: each is the identity), so a torchrun script runs alone."""
    return dist.is_available() and dist.is_initialized()


class _Done:
    """The work of a collective in a one-process group: already complete."""

    def is_completed(self) -> bool:
        return True

    def wait(self, timeout: Any = None) -> bool:
        return True


def require_group(what: str) -> None:
    if not dist.is_available() or not dist.is_initialized():
        raise TclError(
            f"{what} needs a process group: call torch::distributed_init first "
            "(under torchrun, or with -rank and -worldSize)",
            ["TORCH", "DISTRIBUTED", "NOTINIT"],
        )


def _rank(name: str, help: str) -> Opt:
    return Opt(name, Int(ge=0), default=0, help=help, aliases=("root",))


def _check_rank(option: str, rank: int) -> None:
    size = dist.get_world_size() if grouped() else 1
    if rank >= size:
        raise invalid_value(option, str(rank), f"must be a rank from 0 to {size - 1}")


def _run(what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a collective; a peer that died or a timeout becomes one clear Tcl error, ranks that
    disagree on the tensors (engine.Mismatch) another. Ctrl-C (KeyboardInterrupt) goes through."""
    try:
        return fn(*args, **kwargs)
    except engine.Mismatch as exc:
        raise TclError(str(exc), ["TORCH", "DISTRIBUTED", "MISMATCH"]) from exc
    except (RuntimeError, dist.DistBackendError) as exc:  # type: ignore[misc]
        first = re.sub(r"^\[[^\]]*\]\s*", "", str(exc).strip().split("\n")[0])  # drop gloo's file:line
        raise TclError(
            f"{what} failed on rank {dist.get_rank()}: {first}", ["TORCH", "DISTRIBUTED", "FAILED"]
        ) from exc


def _async() -> Opt:
    return Opt(
        "asyncOp",
        Bool(),
        default=False,
        positional=False,
        help="return a work handle at once",
        aliases=("async", "async_op"),
    )


def _maybe_async(work: Any, tensor: torch.Tensor, async_op: bool) -> Any:
    if async_op:
        return Pending(_Done() if work is None and not grouped() else work, tensor, True)
    return tensor


_BACKENDS = ("gloo", "nccl", "auto")

# the settings of the group torch::distributed_init made (compared when it is called again)
_CURRENT: dict[str, Any] = {}


def _parse_init(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's order, `rank worldSize ?masterAddr? ?masterPort? ?backend?`,
    when the first word is an integer (ours starts with a backend name, never a number); a
    backend name may come third."""
    lead = 0
    while lead < len(args) and not is_option_word(args[lead], cmd._lookup):
        lead += 1
    if lead >= 1 and parse_tcl_int(args[0]) is not None:
        words, named = list(args[:lead]), ["-rank", args[0]]
        if len(words) > 1:
            named += ["-worldSize", words[1]]
        rest = words[2:]
        if rest and rest[-1] in _BACKENDS:
            named += ["-backend", rest.pop()]
        if len(rest) > 2:
            raise wrong_args("torch::distributed_init rank worldSize ?masterAddr? ?masterPort? ?backend?")
        for flag, word in zip(("-masterAddr", "-masterPort"), rest, strict=False):
            named += [flag, word]
        args = (*named, *args[lead:])
    return parse(ctx, args, invoked)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _same_group(settings: dict[str, Any]) -> dict[str, Any]:
    """Called again on an initialised group: the same settings are a no-op (its rank and world
    size returned), different ones an error naming them."""
    current = _CURRENT or {"rank": dist.get_rank(), "worldSize": dist.get_world_size()}
    differ = [
        f"-{key} {settings[key]} (the group has {current[key]})"
        for key in ("rank", "worldSize", "backend", "initMethod", "masterAddr", "masterPort")
        if settings.get(key) is not None and key in current and str(settings[key]) != str(current[key])
    ]
    if differ:
        raise TclError(
            "the process group is already initialised with other settings: "
            + ", ".join(differ)
            + "; call torch::distributed_destroy first",
            ["TORCH", "DISTRIBUTED", "STATE"],
        )
    return {"rank": dist.get_rank(), "worldSize": dist.get_world_size()}


@command(
    "distributed_init",
    Opt(
        "backend",
        Choice("gloo", "nccl", "auto"),
        default="auto",
        help="gloo (CPU), nccl (CUDA); auto picks nccl when CUDA is available, else gloo",
    ),
    Opt(
        "initMethod",
        Str(),
        default="env://",
        help="env://, tcp://HOST:PORT or file://PATH",
        aliases=("init_method",),
    ),
    Opt("rank", Int(ge=0), default=None, help="this process's rank (default: $RANK)"),
    Opt(
        "worldSize",
        Int(ge=1),
        default=None,
        help="number of processes (default: $WORLD_SIZE)",
        aliases=("world_size",),
    ),
    Opt("timeout", Double(gt=0), default=600.0, help="seconds a collective may wait for the others"),
    Opt(
        "masterAddr",
        Str(),
        default=None,
        help="sets MASTER_ADDR for env:// (default: $MASTER_ADDR)",
        aliases=("master_addr",),
    ),
    Opt(
        "masterPort",
        Int(ge=1),
        default=None,
        help="sets MASTER_PORT for env:// (default: $MASTER_PORT)",
        aliases=("master_port",),
    ),
    Opt(
        "check",
        Bool(),
        default=None,
        help="compare every rank's tensor shapes and dtypes before each collective and message "
        "(default: on, or $TCLTORCH_DISTRIBUTED_CHECK); every rank must use the same setting",
    ),
    parse_hook=_parse_init,
)
def distributed_init(backend, init_method, rank, world_size, timeout, master_addr, master_port, check):
    """Join the process group (torch.distributed.init_process_group); returns `rank R worldSize N`.

    Under `torchrun` every option defaults from the environment it sets (`RANK`, `WORLD_SIZE`,
    `MASTER_ADDR`, `MASTER_PORT`), so a script just calls `torch::distributed_init`. Without a
    launcher give `-rank` and `-worldSize` and an `-initMethod` (`tcp://HOST:PORT`,
    `file://PATH`) or `-masterAddr`/`-masterPort`. `-backend auto` picks NCCL when CUDA is
    available and gloo otherwise. `-timeout` bounds how long any collective waits for the other
    ranks: a rank that dies or stalls gives a Tcl error (`TORCH DISTRIBUTED FAILED`), not a hang.
    Ctrl-C stops the wait for the other ranks (here and in every blocking collective) at once.

    Before each collective and with each point-to-point message the ranks exchange a few numbers
    (operation, shape, dtype): when they disagree every rank of a collective, and the receiver of a
    message, gets `TORCH DISTRIBUTED MISMATCH` instead of gloo aborting the process. `-check 0`
    (on every rank) skips this; it costs one small all-gather per collective.

    The other implementation's order `torch::distributed_init rank worldSize ?masterAddr?
    ?masterPort? ?backend?` is accepted when the first word is a number (a backend name may come
    third: `torch::distributed_init 0 1 gloo`). A one-process group (`worldSize` 1) with no master
    port needs none: it rendezvouses on a free local port (an address given alone is kept as the
    group's setting). Calling it again with the same settings is a no-op that returns the same
    dict; other settings are a `TORCH DISTRIBUTED STATE` error naming them (call `torch::distributed_destroy` first).

    Without `torch::distributed_init` at all, the collectives (`all_reduce`, `broadcast`,
    `distributed_gather`, `distributed_scatter`, `distributed_reduce_scatter`,
    `distributed_all_to_all`, `distributed_barrier`) act as a one-process group — rank 0 of world
    size 1, where each is the identity — so a script written for torchrun runs in a plain tclsh.
    Point-to-point messages (send, recv) have no peer there and need a group.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    A dict: `rank` and `worldSize`.

    Examples:
        set info [torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]]
        puts [dict get $info worldSize]   ;# -> 1
        torch::distributed_destroy
    """
    if dist.is_initialized():
        resolved = "nccl" if backend == "auto" and torch.cuda.is_available() else backend
        return _same_group(
            {
                "rank": rank if rank is not None else os.environ.get("RANK"),
                "worldSize": world_size if world_size is not None else os.environ.get("WORLD_SIZE"),
                "backend": None if backend == "auto" else resolved,
                "initMethod": None if init_method == "env://" else init_method,
                "masterAddr": master_addr,
                "masterPort": master_port,
            }
        )
    if rank is None and "RANK" not in os.environ:
        raise TclError(
            "no -rank given and $RANK is not set: start the script with torchrun, or give -rank "
            "and -worldSize",
            ["TORCH", "ARGS", "REQUIRED", "-rank"],
        )
    if world_size is None and "WORLD_SIZE" not in os.environ:
        raise TclError(
            "no -worldSize given and $WORLD_SIZE is not set: start the script with torchrun, or "
            "give -rank and -worldSize",
            ["TORCH", "ARGS", "REQUIRED", "-worldSize"],
        )
    rank = int(os.environ["RANK"]) if rank is None else rank
    world_size = int(os.environ["WORLD_SIZE"]) if world_size is None else world_size
    if rank >= world_size:
        raise invalid_value("-rank", str(rank), f"must be below -worldSize ({world_size})")
    if backend == "auto":
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl" and not (torch.cuda.is_available() and dist.is_nccl_available()):
        raise invalid_value(
            "-backend", "nccl", "needs CUDA and NCCL, which are not available on this machine"
        )
    if (
        init_method.startswith("env://")
        and world_size == 1
        and master_port is None
        and "MASTER_PORT" not in os.environ
    ):  # a one-process group needs no rendezvous address: a free local port
        init_method = f"tcp://127.0.0.1:{_free_port()}"
    if init_method.startswith("env://"):
        if master_addr is not None:
            os.environ["MASTER_ADDR"] = master_addr
        if master_port is not None:
            os.environ["MASTER_PORT"] = str(master_port)
        missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
        if missing:
            raise TclError(
                f"${missing[0]} is not set: start the script with torchrun, or give "
                f"-{'masterAddr' if missing[0] == 'MASTER_ADDR' else 'masterPort'}",
                ["TORCH", "ARGS", "REQUIRED", "-initMethod"],
            )
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
    if check is not None:
        engine.set_checks(check)
    try:
        engine.init_process_group(
            backend=backend,
            init_method=init_method,
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=timeout),
        )
    except (RuntimeError, ValueError, dist.DistError) as exc:  # type: ignore[misc]
        first = str(exc).strip().split("\n")[0]
        raise TclError(f"distributed_init failed: {first}", ["TORCH", "DISTRIBUTED", "INIT"]) from exc
    _CURRENT.clear()
    _CURRENT.update(
        rank=rank,
        worldSize=world_size,
        backend=backend,
        initMethod=init_method,
        masterAddr=os.environ.get("MASTER_ADDR") if init_method.startswith("env://") else master_addr,
        masterPort=os.environ.get("MASTER_PORT") if init_method.startswith("env://") else None,
    )
    return {"rank": dist.get_rank(), "worldSize": dist.get_world_size()}


@command(
    "distributed_destroy",
)
def distributed_destroy():
    """Leave the process group (torch.distributed.destroy_process_group); a no-op when there is none.

    ## Return Value

    An empty string.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        torch::distributed_destroy
        puts [torch::is_distributed]   ;# -> 0
    """
    _CURRENT.clear()
    if dist.is_initialized():
        dist.destroy_process_group()


@command(
    "is_distributed",
)
def is_distributed():
    """1 when a process group is initialised, else 0.

    ## Return Value

    A boolean.

    Examples:
        puts [torch::is_distributed]   ;# -> 0
    """
    return dist.is_available() and dist.is_initialized()


@command(
    "get_rank",
)
def get_rank():
    """This process's rank in the group (0 when not distributed).

    ## Return Value

    An integer.

    Examples:
        puts [torch::get_rank]   ;# -> 0
    """
    return dist.get_rank() if dist.is_initialized() else 0


@command(
    "get_world_size",
)
def get_world_size():
    """The number of processes in the group (1 when not distributed).

    ## Return Value

    An integer.

    Examples:
        puts [torch::get_world_size]   ;# -> 1
    """
    return dist.get_world_size() if dist.is_initialized() else 1


@command(
    "distributed_barrier",
    _group(),
)
def distributed_barrier(group):
    """Wait until every rank reaches this point.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    An empty string.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        torch::distributed_barrier
        torch::distributed_destroy
    """
    if grouped():  # alone, there is no one to wait for
        _run("distributed_barrier", engine.barrier)


@command(
    "distributed_rank0",
    Opt("script", Script(), help="script run on rank 0 only (and when not distributed)", aliases=("body",)),
    Opt("barrier", Bool(), default=False, help="then wait until every rank gets here"),
    context=True,
)
def distributed_rank0(script, barrier, ctx):
    """Run a script on rank 0 only (printing, checkpoint writes); the other ranks get an empty result.

    Without a process group the script always runs, so a script written for torchrun also runs
    alone. `-barrier 1` makes every rank wait until rank 0 has finished (e.g. before the others
    read a checkpoint rank 0 wrote). The script runs like `torch::scope`'s.

    ## Return Value

    The script's result on rank 0, an empty string elsewhere.

    Examples:
        puts [torch::distributed_rank0 { expr {6 * 7} }]   ;# -> 42
    """
    result = ""
    if not dist.is_initialized() or dist.get_rank() == 0:
        result = scoped_eval(ctx, script)
    if barrier and dist.is_initialized():
        _run("distributed_rank0 barrier", engine.barrier)
    return result


@command(
    "all_reduce",
    tensor_opt("tensor", "tensor reduced in place over every rank", ("input",)),
    _op(),
    _group(),
    _async(),
    extra_aliases=("distributed_all_reduce", "distributedAllReduce"),
)
def all_reduce(tensor, op, group, async_op):
    """Reduce a tensor over every rank, in place: every rank ends with the result.

    `-op` is sum (default), product, min, max or avg. The tensor given is changed and its handle
    returned; with `-async 1` a work handle is returned at once and `torch::distributed_wait`
    returns the tensor when the reduction is done.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    The tensor's handle, or a work handle with `-async 1`.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set t [torch::tensor_create {1 2 3}]
        puts [torch::tensor_to_list [torch::all_reduce $t -op max]]   ;# -> 1.0 2.0 3.0
        set work [torch::all_reduce $t -async 1]
        puts [torch::tensor_to_list [torch::distributed_wait $work]]   ;# -> 1.0 2.0 3.0
        torch::distributed_destroy
    """
    if not grouped():  # one process: every reduction of one tensor is that tensor
        return _maybe_async(None, tensor, async_op)
    work = _run("all_reduce", engine.all_reduce, tensor, _OPS[op], async_op)
    return _maybe_async(work, tensor, async_op)


@command(
    "broadcast",
    tensor_opt("tensor", "tensor sent from -src, overwritten in place elsewhere", ("input",)),
    _rank("src", "rank whose tensor is sent"),
    _group(),
    _async(),
    extra_aliases=("distributed_broadcast", "distributedBroadcast"),
)
def broadcast(tensor, src, group, async_op):
    """Copy a tensor from rank `-src` to every rank, in place.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    The tensor's handle, or a work handle with `-async 1`.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        puts [torch::tensor_to_list [torch::broadcast [torch::tensor_create {4 5}] 0]]   ;# -> 4.0 5.0
        torch::distributed_destroy
    """
    _check_rank("-src", src)
    if not grouped():
        return _maybe_async(None, tensor, async_op)
    work = _run("broadcast", engine.broadcast, tensor, src, async_op)
    return _maybe_async(work, tensor, async_op)


@command(
    "distributed_gather",
    tensor_opt("tensor", "this rank's tensor (same shape on every rank)", ("input",)),
    _rank("dst", "rank that receives every tensor"),
    _group(),
)
def distributed_gather(tensor, dst, group):
    """Collect every rank's tensor on rank `-dst`.

    Every rank passes a tensor of the same shape. On `-dst` the result is a list of handles, one
    per rank in rank order (`torch::tensor_stack` makes one tensor of them); on the other ranks it
    is empty.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    A Tcl list of tensor handles on `-dst`, an empty list elsewhere.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set parts [torch::distributed_gather [torch::tensor_create {7 8}] -dst 0]
        puts [llength $parts]   ;# -> 1
        torch::distributed_destroy
    """
    _check_rank("-dst", dst)
    if not grouped():
        return [tensor.clone()]
    gathered = _run("distributed_gather", engine.gather, tensor, dst)
    return gathered if gathered is not None else []


def _chunks(tensor: torch.Tensor, option: str) -> list[torch.Tensor]:
    size = dist.get_world_size() if grouped() else 1
    if tensor.dim() == 0 or tensor.shape[0] % size:
        raise invalid_value(option, "", f"must have a first dimension divisible by the world size ({size})")
    return [c.contiguous() for c in tensor.chunk(size)]


@command(
    "distributed_scatter",
    tensor_opt(
        "tensor",
        "on -src: the tensor split along dim 0, one chunk per rank; elsewhere: a tensor of the same shape",
        ("input",),
    ),
    _rank("src", "rank that sends the chunks"),
    _group(),
)
def distributed_scatter(tensor, src, group):
    """Send chunk i (along dim 0) of rank `-src`'s tensor to rank i; every rank returns its chunk.

    Every rank passes a tensor of the same shape (on ranks other than `-src` its values are not
    read); its first dimension must divide by the world size.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    A new tensor handle: this rank's chunk.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        puts [torch::tensor_to_list [torch::distributed_scatter [torch::tensor_create {1 2 3}]]]   ;# -> 1.0 2.0 3.0
        torch::distributed_destroy
    """
    _check_rank("-src", src)
    chunks = _chunks(tensor, "-tensor")
    if not grouped():
        return chunks[0].clone()
    return _run("distributed_scatter", engine.scatter, chunks, src)


@command(
    "distributed_reduce_scatter",
    tensor_opt("tensor", "this rank's tensor, split along dim 0 into one chunk per rank", ("input",)),
    _op(),
    _group(),
)
def distributed_reduce_scatter(tensor, op, group):
    """Reduce every rank's tensor, then give rank i chunk i (along dim 0) of the result.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    A new tensor handle: this rank's chunk of the reduction.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        puts [torch::tensor_to_list [torch::distributed_reduce_scatter [torch::tensor_create {1 2}] -op sum]]   ;# -> 1.0 2.0
        torch::distributed_destroy
    """
    _chunks(tensor, "-tensor")
    if not grouped():
        return tensor.clone()
    return _run("distributed_reduce_scatter", engine.reduce_scatter, tensor, _OPS[op])


@command(
    "distributed_all_to_all",
    tensor_opt("tensor", "this rank's tensor: chunk i (along dim 0) goes to rank i", ("input",)),
    _group(),
)
def distributed_all_to_all(tensor, group):
    """Every rank sends chunk i (along dim 0) of its tensor to rank i; the result holds the chunks received, in rank order.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    A new tensor handle, shaped like the input.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        puts [torch::tensor_to_list [torch::distributed_all_to_all [torch::tensor_create {5 6}]]]   ;# -> 5.0 6.0
        torch::distributed_destroy
    """
    _chunks(tensor, "-tensor")
    if not grouped():
        return tensor.clone()
    return _run("distributed_all_to_all", engine.all_to_all, tensor)


def _tag() -> Opt:
    return Opt("tag", Int(ge=0), default=0, help="message tag: a recv takes the send with the same tag")


@command(
    "distributed_send",
    tensor_opt("tensor", "tensor to send", ("input",)),
    Opt("dst", Int(ge=0), help="receiving rank"),
    _tag(),
)
def distributed_send(tensor, dst, tag):
    """Send a tensor to rank `-dst` (blocks until it is received).

    The receiver calls `torch::distributed_recv` with the same shape, dtype and `-tag`.

    ## Return Value

    An empty string.

    Examples:
        # rank 0:  torch::distributed_send [torch::tensor_create {5 6 7}] 1
        # rank 1:  set t [torch::distributed_recv {3} 0]
        puts [llength [info commands torch::distributed_send]]   ;# -> 1
    """
    require_group("torch::distributed_send")
    _check_rank("-dst", dst)
    _run("distributed_send", engine.send, tensor, dst, tag)


@command(
    "distributed_recv",
    Opt("shape", Shape(), help="shape of the tensor to receive"),
    Opt("src", Int(ge=0), help="sending rank"),
    _tag(),
    Opt("dtype", DType(), default=torch.float32, help="element type of the tensor to receive"),
)
def distributed_recv(shape, src, tag, dtype):
    """Receive a tensor from rank `-src`: a new tensor of `-shape` and `-dtype`.

    The sender's tensor must have exactly this shape and dtype: anything else is a
    `TORCH DISTRIBUTED MISMATCH` error on this rank (the data sent is taken and dropped, so the
    sender is not left waiting).

    ## Return Value

    A new tensor handle.

    Examples:
        # rank 0:  torch::distributed_send [torch::tensor_create {5 6 7}] 1
        # rank 1:  set t [torch::distributed_recv {3} 0]
        puts [llength [info commands torch::distributed_recv]]   ;# -> 1
    """
    require_group("torch::distributed_recv")
    _check_rank("-src", src)
    return _run("distributed_recv", engine.recv, list(shape), dtype, src, tag)


@command(
    "distributed_isend",
    tensor_opt("tensor", "tensor to send (do not change it before distributed_wait)", ("input",)),
    Opt("dst", Int(ge=0), help="receiving rank"),
    _tag(),
)
def distributed_isend(tensor, dst, tag):
    """Start sending a tensor to rank `-dst`; returns a work handle at once.

    Do not change the tensor until `torch::distributed_wait` on the handle returns.

    ## Return Value

    A work handle (`workN`).

    Examples:
        # rank 0:  torch::distributed_wait [torch::distributed_isend $t 1]
        # rank 1:  set t [torch::distributed_wait [torch::distributed_irecv {2 2} 0]]
        puts [llength [info commands torch::distributed_isend]]   ;# -> 1
    """
    require_group("torch::distributed_isend")
    _check_rank("-dst", dst)
    data = tensor.contiguous()
    return Pending(_run("distributed_isend", engine.Send, data, dst, tag), data, False)


@command(
    "distributed_irecv",
    Opt("shape", Shape(), help="shape of the tensor to receive"),
    Opt("src", Int(ge=0), help="sending rank"),
    _tag(),
    Opt("dtype", DType(), default=torch.float32, help="element type of the tensor to receive"),
)
def distributed_irecv(shape, src, tag, dtype):
    """Start receiving a tensor from rank `-src`; `torch::distributed_wait` on the work handle returns it.

    ## Return Value

    A work handle (`workN`).

    Examples:
        # rank 1:  set work [torch::distributed_irecv {2 2} 0 -dtype float64]
        #          ... other work ...
        #          set t [torch::distributed_wait $work]
        puts [llength [info commands torch::distributed_irecv]]   ;# -> 1
    """
    require_group("torch::distributed_irecv")
    _check_rank("-src", src)
    work = _run("distributed_irecv", engine.Recv, list(shape), dtype, src, tag)
    return Pending(work, work.out, True)


@command(
    "distributed_wait",
    Opt("work", Handle("work"), help="work handle from -async 1, isend or irecv", aliases=("handle",)),
)
def distributed_wait(work):
    """Wait for an asynchronous operation to finish.

    ## Return Value

    The tensor the operation produced (a received tensor, or the tensor an `-async 1` collective
    reduced), or an empty string for a send.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set work [torch::all_reduce [torch::tensor_create {2 4}] -async 1]
        puts [torch::tensor_to_list [torch::distributed_wait $work]]   ;# -> 2.0 4.0
        torch::distributed_destroy
    """
    _run("distributed_wait", engine.wait, work.work)
    return work.tensor if work.returns_tensor else ""


@command(
    "distributed_test",
    Opt("work", Handle("work"), help="work handle", aliases=("handle",)),
)
def distributed_test(work):
    """1 when an asynchronous operation has completed, else 0; it does not wait.

    ## Return Value

    A boolean.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set work [torch::all_reduce [torch::tensor_create {1}] -async 1]
        torch::distributed_wait $work
        puts [torch::distributed_test $work]   ;# -> 1
        torch::distributed_destroy
    """
    return bool(work.work is None or work.work.is_completed())


@command(
    "ddp",
    Opt(
        "model",
        Handle("module"),
        help="module to wrap (its parameters are broadcast from rank 0)",
        aliases=("module",),
    ),
    Opt(
        "findUnusedParameters",
        Bool(),
        default=False,
        help="allow parameters that get no gradient in a step",
        aliases=("find_unused_parameters",),
    ),
    Opt(
        "bucketCapMb",
        Double(gt=0),
        default=25.0,
        help="gradient bucket size in MiB",
        aliases=("bucket_cap_mb",),
    ),
    Opt(
        "broadcastBuffers",
        Bool(),
        default=True,
        help="sync buffers (batch-norm statistics) each forward",
        aliases=("broadcast_buffers",),
    ),
    extra_aliases=("distributed_data_parallel",),
    context=True,
)
@names_handles
def ddp(model, find_unused_parameters, bucket_cap_mb, broadcast_buffers):
    """Wrap a module in DistributedDataParallel: backward averages the gradients over the ranks.

    Use the returned `ddpN` handle for `torch::layer_forward`; give it (or the inner module) to any
    optimizer, Adafactor included: they share the same parameters. The inner module's parameters are
    broadcast from rank 0 when it is wrapped, so every rank starts equal. Checkpoints save the inner
    module, so a run with another world size (or none) can resume them.

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    Models of several parts: wrap the model once, as one module, when you can: a GRU, LSTM or attention layer returns a
    pair, so put `torch::nn_select 0` (or `torch::add_module $seq $gru -output 0`) after it and
    the whole classifier is one `torch::sequential` for `torch::ddp`. A model you run piece by
    piece in Tcl (an encoder, then your own code, then a decoder) can instead have each piece
    wrapped: `set enc [torch::ddp $encoder]; set dec [torch::ddp $decoder]`, forward through the
    `ddpN` handles, one optimizer over both (`torch::optimizer_adam [concat [torch::layer_parameters
    $encoder] [torch::layer_parameters $decoder]]`). Each wrapped piece averages its own gradients;
    every piece must take part in every step's loss, else give it `-findUnusedParameters 1`. Never
    wrap a module and, separately, a module inside it. A checkpoint holds one model: keep the
    pieces in one container for it (`set whole [torch::sequential $encoder $decoder]`, only
    saved, never run) or save each with `torch::save_state_dict`. For sharding
    (`torch::fully_shard`) the same holds: shard each piece, with its repeated blocks as
    `-children`.

    ## Return Value

    A module handle (`ddpN`).

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set model [torch::linear 4 2]
        set net [torch::ddp $model]
        set opt [torch::optimizer_adafactor -parameters $net]
        set loss [torch::tensor_sum [torch::layer_forward $net [torch::ones {3 4}]]]
        torch::tensor_backward $loss
        torch::optimizer_step $opt
        puts [string match ddp* $net]   ;# -> 1
        torch::distributed_destroy
    """
    require_group("torch::ddp")
    if isinstance(model, DistributedDataParallel):
        raise invalid_value("-model", "", "is already wrapped by torch::ddp")
    _run("ddp", engine.check_module, "ddp", model)
    device_ids = [torch.cuda.current_device()] if dist.get_backend() == "nccl" else None
    buffers = {_BUFFER_SYNC: broadcast_buffers}  # this torch's name for "sync buffers each forward"
    return _run(
        "ddp",
        DistributedDataParallel,
        model,
        device_ids=device_ids,
        find_unused_parameters=find_unused_parameters,
        bucket_cap_mb=bucket_cap_mb,
        **buffers,
    )


_BUFFER_SYNC = (
    "forward_sync_buffers"
    if "forward_sync_buffers" in inspect.signature(DistributedDataParallel.__init__).parameters
    else "broadcast_buffers"
)


@command(
    "fully_shard",
    Opt("model", Handle("module"), help="module to shard (changed in place)", aliases=("module",)),
    Opt(
        "reshardAfterForward",
        Bool(),
        default=True,
        help="free the gathered parameters after forward (less memory, one more all-gather in backward)",
        aliases=("reshard_after_forward",),
    ),
    Opt(
        "children",
        HandleList("module"),
        default=(),
        help="submodules (blocks) sharded first, each its own unit, then the module itself",
    ),
    context=True,
)
@names_handles
def fully_shard(model, reshard_after_forward, children):
    """Shard a module's parameters over the process group (FSDP2, torch.distributed.fsdp.fully_shard).

    Every parameter becomes a DTensor split along its first dimension: each rank keeps 1/world of
    it, and of its optimizer state. Forward gathers a unit's parameters just before it runs;
    backward reduce-scatters the gradients (averaged over the ranks, as with `torch::ddp`). As torch
    recommends, give the model's blocks as `-children` (each gathered on its own) and the root as
    the model. The module is changed in place and its handle returned: use it with
    `torch::layer_forward`, `torch::tensor_backward`, any optimizer (`torch::optimizer_adafactor`
    steps the local shards exactly as the unsharded model would step), `torch::clip_grad_norm`
    (the norm over every shard) and `torch::save_checkpoint` (a directory with every rank's shards).

    The example runs a one-process group (a file store), so it works without torchrun; under
    `torchrun --nproc-per-node 2 --no-python tclsh script.tcl` the same lines run on every rank.

    ## Return Value

    The module's handle.

    Examples:
        torch::distributed_init -rank 0 -worldSize 1 -initMethod file://[file normalize pg.store]
        set block [torch::linear 4 4]
        set model [torch::sequential [list $block [torch::linear 4 2]]]
        torch::fully_shard $model -children [list $block]
        set opt [torch::optimizer_adafactor -parameters $model]
        torch::tensor_backward [torch::tensor_sum [torch::layer_forward $model [torch::ones {3 4}]]]
        torch::optimizer_step $opt
        puts [torch::tensor_shape [torch::layer_forward $model [torch::ones {3 4}]]]   ;# -> 3 2
        torch::distributed_destroy
    """
    require_group("torch::fully_shard")
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.fsdp import fully_shard as shard

    if isinstance(model, DistributedDataParallel):
        raise invalid_value("-model", "", "is wrapped by torch::ddp: shard the inner module instead")
    if isinstance(model, FSDPModule):
        raise invalid_value("-model", "", "is already sharded by torch::fully_shard")
    inside = {id(m) for m in model.modules()}
    for i, child in enumerate(children):
        if id(child) not in inside or child is model:
            raise invalid_value("-children", "", f"element {i} is not a submodule of -model")
        if isinstance(child, FSDPModule):
            raise invalid_value("-children", "", f"element {i} is already sharded")
    _run("fully_shard", engine.check_module, "fully_shard", model)
    engine.clear_dtensor_caches_at_exit()
    for child in children:
        _run("fully_shard", shard, child, reshard_after_forward=reshard_after_forward)
    _run("fully_shard", shard, model, reshard_after_forward=reshard_after_forward)
    return model


@command(
    "distributed_full_tensor",
    tensor_opt("tensor", "a sharded (DTensor) tensor, e.g. a parameter after torch::fully_shard", ("input",)),
)
def distributed_full_tensor(tensor):
    """The whole tensor behind a sharded one (DTensor.full_tensor: an all-gather, so every rank calls it).

    Parameters and gradients of a `torch::fully_shard` model are DTensors, of which each rank holds
    a part; this returns an ordinary tensor with every part, for printing, comparing or saving. A
    tensor that is not sharded is returned as it is.

    ## Return Value

    A tensor handle.

    Examples:
        puts [torch::tensor_to_list [torch::distributed_full_tensor [torch::tensor_create {1 2}]]]   ;# -> 1.0 2.0
    """
    from tcltorch.optim.adafactor.sharded import is_sharded

    if not is_sharded(tensor):
        return tensor
    require_group("torch::distributed_full_tensor")
    return _run("distributed_full_tensor", tensor.full_tensor).detach()
