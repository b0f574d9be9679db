"""Runtime, devices, memory and performance: threads, CUDA queries, moving modules,
memory statistics, the profiler and a micro-benchmark.

CUDA-only commands fail with a clear error on a machine without CUDA; nothing
falls back to the CPU silently."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import torch

from tcltorch.commands.spec import (
    Bool,
    Choice,
    Custom,
    Device,
    DType,
    Handle,
    HandleList,
    Int,
    Opt,
    Str,
    command,
    is_option_word,
    parse_device,
    parse_tcl_int,
)
from tcltorch.errors import TclError, invalid_value, wrong_args

FAMILY = "runtime/devices"


def require_cuda(what: str) -> None:
    if not torch.cuda.is_available():
        raise TclError(f"{what} needs CUDA, which is not available on this machine", ["TORCH", "CUDA"])


def _cuda_index(text: str, option: str, ctx: Any) -> int:
    require_cuda("a CUDA device")
    index = parse_tcl_int(text)
    count = torch.cuda.device_count()
    if index is None or not 0 <= index < count:
        raise invalid_value(option, text, f"must be a CUDA device index from 0 to {count - 1}")
    return index


def _device_opt(help: str = "cuda device index (default: the current device)") -> Opt:
    return Opt(
        "device",
        Custom(_cuda_index, "integer", "must be a CUDA device index"),
        default=None,
        help=help,
        aliases=("device_id", "deviceId"),
    )


@command(
    "set_num_threads",
    Opt("threads", Int(ge=1), help="number of intra-op threads", aliases=("numThreads", "num_threads", "n")),
)
def set_num_threads(threads: int) -> int:
    """Set the number of threads torch uses inside one operation; returns the new count.

    It takes effect at once in every host (tclsh, the Python host, `tcltorch FILE.tcl`) and is
    also exported as `OMP_NUM_THREADS`, so processes the script starts later agree.

    ## Return Value

    The thread count now in effect (an integer).

    Examples:
        set old [torch::get_num_threads]
        puts [torch::set_num_threads 1]   ;# -> 1
        puts [torch::get_num_threads]     ;# -> 1
        torch::set_num_threads $old
    """
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # child processes (and later OpenMP pools) agree
    return torch.get_num_threads()


@command(
    "get_num_threads",
)
def get_num_threads() -> int:
    """The number of threads torch uses inside one operation.

    ## Return Value

    An integer (torch.get_num_threads()).

    Examples:
        puts [expr {[torch::get_num_threads] >= 1}]   ;# -> 1
    """
    return torch.get_num_threads()


@command(
    "set_flush_denormal",
    Opt(
        "enable",
        Bool(),
        help="1 to flush denormal floats to zero, 0 to keep them",
        aliases=("mode", "enabled"),
    ),
)
def set_flush_denormal(enable: bool) -> bool:
    """Flush denormal floating-point numbers to zero on the CPU.

    Denormals are the tiny numbers below the normal range; computing with them can be slow on
    some CPUs. Returns whether the CPU supports flushing (torch.set_flush_denormal).

    ## Return Value

    1 when the setting took effect (the CPU supports it), else 0.

    Examples:
        set ok [torch::set_flush_denormal 1]
        torch::set_flush_denormal 0
    """
    return torch.set_flush_denormal(enable)


@command(
    "cuda_is_available",
)
def cuda_is_available() -> bool:
    """1 when a CUDA device can be used, else 0.

    ## Return Value

    A boolean (torch.cuda.is_available()).

    Examples:
        if {![torch::cuda_is_available]} { puts "CPU only" }
    """
    return torch.cuda.is_available()


@command(
    "cuda_device_count",
)
def cuda_device_count() -> int:
    """The number of CUDA devices (0 without CUDA).

    ## Return Value

    An integer.

    Examples:
        puts [expr {[torch::cuda_device_count] >= 0}]   ;# -> 1
    """
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@command(
    "cuda_device_info",
    _device_opt(),
)
def cuda_device_info(device: int | None) -> dict[str, Any]:
    """A dict describing a CUDA device: index, name, capability, total_memory, multiprocessors.

    Fails with `TORCH CUDA` on a machine without CUDA (there is no CPU fallback).

    ## Return Value

    A Tcl dict.

    Examples:
        if {[torch::cuda_is_available]} {
            puts [dict get [torch::cuda_device_info] name]
        } else {
            puts [catch {torch::cuda_device_info}]   ;# -> 1
        }
    """
    require_cuda("torch::cuda_device_info")
    index = torch.cuda.current_device() if device is None else device
    props = torch.cuda.get_device_properties(index)
    return {
        "index": index,
        "name": props.name,
        "capability": f"{props.major}.{props.minor}",
        "total_memory": props.total_memory,
        "multiprocessors": props.multi_processor_count,
    }


@command(
    "cuda_memory_info",
    _device_opt(),
)
def cuda_memory_info(device: int | None) -> dict[str, Any]:
    """Free and total memory of a CUDA device, and what torch's allocator holds, in bytes.

    ## Return Value

    A Tcl dict with keys free, total, allocated and reserved.

    Examples:
        if {[torch::cuda_is_available]} { puts [dict get [torch::cuda_memory_info] free] }
    """
    require_cuda("torch::cuda_memory_info")
    index = torch.cuda.current_device() if device is None else device
    free, total = torch.cuda.mem_get_info(index)
    return {
        "free": free,
        "total": total,
        "allocated": torch.cuda.memory_allocated(index),
        "reserved": torch.cuda.memory_reserved(index),
    }


def _module(help: str = "module handle") -> Opt:
    return Opt("layer", Handle("module"), help=help, aliases=("module", "model", "input"))


def _module_device(module: torch.nn.Module) -> str:
    devices = {str(t.device) for t in [*module.parameters(), *module.buffers()]}
    if not devices:
        return "cpu"
    if len(devices) > 1:
        return "mixed"
    return devices.pop()


@command(
    "tensor_is_cuda",
    Opt("input", Handle("tensor"), help="tensor handle", aliases=("tensor",)),
)
def tensor_is_cuda(input: torch.Tensor) -> bool:
    """1 when the tensor lives on a CUDA device, else 0.

    ## Return Value

    A boolean.

    Examples:
        puts [torch::tensor_is_cuda [torch::zeros {2}]]   ;# -> 0
    """
    return input.is_cuda


@command(
    "layer_device",
    _module(),
)
def layer_device(layer: torch.nn.Module) -> str:
    """The device of a module's parameters and buffers: `cpu`, `cuda:0`, ... or `mixed`.

    A module without parameters reports `cpu`.

    ## Return Value

    A device name.

    Examples:
        puts [torch::layer_device [torch::linear 2 3]]   ;# -> cpu
    """
    return _module_device(layer)


@command(
    "layer_cuda",
    _module(),
    _device_opt("cuda device index (default: the current device)"),
)
def layer_cuda(layer: torch.nn.Module, device: int | None) -> torch.nn.Module:
    """Move a module to a CUDA device, in place; returns the module's handle.

    Fails with `TORCH CUDA` on a machine without CUDA.

    ## Return Value

    The module handle.

    Examples:
        set m [torch::linear 2 2]
        if {[torch::cuda_is_available]} { torch::layer_cuda $m }
    """
    require_cuda("torch::layer_cuda")
    return layer.cuda(device)


@command(
    "layer_cpu",
    _module(),
)
def layer_cpu(layer: torch.nn.Module) -> torch.nn.Module:
    """Move a module to the CPU, in place; returns the module's handle.

    ## Return Value

    The module handle.

    Examples:
        set m [torch::linear 2 2]
        puts [expr {[torch::layer_cpu $m] eq $m}]   ;# -> 1
    """
    return layer.cpu()


@command(
    "parameters_to",
    Opt(
        "parameters",
        HandleList(),
        help="tensor handles, or module handles (all their parameters)",
        aliases=("params",),
    ),
    Opt("device", Device(), default=torch.device("cpu"), help="target device", default_doc="cpu"),
)
def parameters_to(parameters: list[Any], device: torch.device) -> list[Any]:
    """Move tensors (or every parameter of the modules given) to a device, in place.

    Every copy is made before any parameter changes, so a failure leaves all of them where they
    were. Gradients move with their parameters. Optimizers keep referring to the same tensors.

    ## Return Value

    The list given.

    Examples:
        set m [torch::linear 2 2]
        torch::parameters_to $m cpu
        puts [torch::layer_device $m]   ;# -> cpu
    """
    tensors: list[torch.Tensor] = []
    for item in parameters:
        if isinstance(item, torch.nn.Module):
            tensors.extend(item.parameters())
        elif isinstance(item, torch.Tensor):
            tensors.append(item)
        else:
            raise invalid_value("-parameters", str(item), "must be tensor or module handles")
    moved = [t.data.to(device) for t in tensors]  # all copies first: nothing changes if one fails
    for tensor, data in zip(tensors, moved):
        tensor.data = data
        if tensor.grad is not None:
            tensor.grad = tensor.grad.to(device)
    return parameters


def _rss_bytes() -> tuple[int, int]:
    rss = peak = 0
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1]) * 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) * 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return rss, peak


_COMPRESSED = {
    torch.sparse_csr: ("crow_indices", "col_indices"),
    torch.sparse_bsr: ("crow_indices", "col_indices"),
    torch.sparse_csc: ("ccol_indices", "row_indices"),
    torch.sparse_bsc: ("ccol_indices", "row_indices"),
}


def _dense_parts(tensor: torch.Tensor) -> list[torch.Tensor]:
    """The strided tensors whose storages hold a tensor's data: itself, or a sparse tensor's
    indices and values (a sparse tensor has no storage of its own)."""
    if tensor.layout == torch.strided:
        return [tensor]
    if tensor.layout == torch.sparse_coo:
        return [tensor._indices(), tensor._values()]
    names = _COMPRESSED.get(tensor.layout)
    if names is None:
        return []
    return [getattr(tensor, names[0])(), getattr(tensor, names[1])(), tensor.values()]


def _handle_tensors(ctx: Any) -> tuple[int, int]:
    seen: set[int] = set()
    count = nbytes = 0
    for name in ctx.handles.names("tensor"):
        tensor = ctx.handles.get(name, "tensor")
        count += 1
        if tensor.device.type != "cpu":
            continue
        for part in _dense_parts(tensor):
            storage = part.untyped_storage()
            key = storage.data_ptr()
            if key not in seen:
                seen.add(key)
                nbytes += storage.nbytes()
    return count, nbytes


def _which(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise invalid_value("-device", device, "must be cpu, cuda or cuda:N")
    if device.startswith("cuda"):
        require_cuda(f"memory statistics of {device}")
    return device


@command(
    "memory_stats",
    Opt("device", Str(), default="cpu", help="cpu (process memory) or cuda/cuda:N (the caching allocator)"),
    context=True,
)
def memory_stats(device: str, ctx: Any) -> dict[str, Any]:
    """Memory statistics as a dict.

    On the CPU: the process's resident and peak memory (`rss_bytes`, `peak_rss_bytes`), the number
    of tensor handles and the bytes their storages hold (`tensor_handles`, `tensor_bytes`), and the
    number of live handles (`handles`). On `cuda`/`cuda:N`: torch.cuda.memory_stats, with `.` in
    the keys written as `_`.

    ## Return Value

    A Tcl dict.

    Examples:
        set big [torch::zeros {1000 250}]
        set s [torch::memory_stats]
        puts [expr {[dict get $s tensor_bytes] >= 1000000}]   ;# -> 1
    """
    if _which(device) == "cpu":
        rss, peak = _rss_bytes()
        count, nbytes = _handle_tensors(ctx)
        return {
            "rss_bytes": rss,
            "peak_rss_bytes": peak,
            "tensor_handles": count,
            "tensor_bytes": nbytes,
            "handles": len(ctx.handles),
        }
    stats = torch.cuda.memory_stats(torch.device(device))
    return {key.replace(".", "_"): value for key, value in stats.items()}


@command(
    "memory_summary",
    Opt("device", Str(), default="cpu", help="cpu or cuda/cuda:N"),
    context=True,
)
def memory_summary(device: str, ctx: Any) -> str:
    """A readable memory report: torch.cuda.memory_summary on CUDA, the process and its tensors on the CPU.

    ## Return Value

    A multi-line string.

    Examples:
        puts [lindex [split [torch::memory_summary] \\n] 0]   ;# -> tcltorch CPU memory summary
    """
    if _which(device) != "cpu":
        return torch.cuda.memory_summary(torch.device(device))
    stats = memory_stats("cpu", ctx)
    mib = 1024 * 1024
    return "\n".join(
        [
            "tcltorch CPU memory summary",
            f"  process resident:  {stats['rss_bytes'] / mib:10.1f} MiB (peak {stats['peak_rss_bytes'] / mib:.1f} MiB)",
            f"  tensors by handle: {stats['tensor_bytes'] / mib:10.1f} MiB in {stats['tensor_handles']} handles",
            f"  live handles:      {stats['handles']:10d}",
        ]
    )


@command(
    "memory_snapshot",
    Opt("file", Str(), default="", help="write the snapshot (pickle, for PyTorch's memory_viz) to this file"),
)
def memory_snapshot(file: str) -> Any:
    """The CUDA allocator's snapshot: a summary dict, or the whole snapshot written to `-file`.

    The file is the pickle PyTorch's memory visualiser (`torch.cuda.memory._snapshot`) reads.
    Fails with `TORCH CUDA` on a machine without CUDA.

    ## Return Value

    A dict with `segments` and `total_size`, or the file name.

    Examples:
        if {[torch::cuda_is_available]} { puts [torch::memory_snapshot] }
    """
    require_cuda("torch::memory_snapshot")
    snapshot = torch.cuda.memory._snapshot()
    if file:
        import pickle

        with open(file, "wb") as out:
            pickle.dump(snapshot, out)
        return file
    segments = snapshot.get("segments", [])
    return {"segments": len(segments), "total_size": sum(s.get("total_size", 0) for s in segments)}


@command(
    "empty_cache",
    Opt(
        "device",
        Str(),
        default="",
        help="cuda or cuda:N (default: the current CUDA device); cpu is a no-op",
        default_doc="cuda",
    ),
)
def empty_cache(device: str) -> None:
    """Release the CUDA caching allocator's unused memory (torch.cuda.empty_cache).

    There is nothing to release on the CPU (its allocator keeps no cache) or before CUDA was
    used, so `cpu`, and any call on a machine without CUDA, returns at once, as
    `torch.cuda.empty_cache()` does. The device word must still be `cpu`, `cuda` or `cuda:N`.

    ## Return Value

    An empty string.

    Examples:
        torch::empty_cache
        torch::empty_cache cpu
    """
    word = device.strip()
    if word and not re.fullmatch(r"cpu|cuda(:\d+)?", word):
        raise invalid_value("-device", device, "must be cpu, cuda or cuda:N")
    if word == "cpu" or not torch.cuda.is_available():
        return
    target = parse_device(word, "-device") if word else None
    with torch.cuda.device(target):
        torch.cuda.empty_cache()


@command(
    "synchronize",
    Opt("device", Str(), default="", help="cuda or cuda:N (default: every CUDA device); cpu is a no-op"),
)
def synchronize(device: str) -> None:
    """Wait until queued work on a device has finished.

    `cpu` returns at once (CPU operations complete before their command returns); `cuda` or
    `cuda:N` waits for that device, and no argument for every CUDA device. Without CUDA, only
    `cpu` is accepted.

    ## Return Value

    An empty string.

    Examples:
        torch::synchronize cpu
    """
    if device == "cpu":
        return  # CPU operations complete before their command returns
    require_cuda("torch::synchronize")
    torch.cuda.synchronize(torch.device(device) if device else None)


_PROFILER: dict[str, Any] = {}


@command(
    "profiler_start",
    Opt(
        "file",
        Str(),
        default="",
        help="where profiler_stop writes the Chrome trace (default: none)",
        aliases=("output", "trace"),
    ),
    Opt("recordShapes", Bool(), default=False, help="record input shapes"),
    Opt("profileMemory", Bool(), default=False, help="record tensor memory"),
    Opt("withStack", Bool(), default=False, help="record Python stacks"),
)
def profiler_start(file: str, record_shapes: bool, profile_memory: bool, with_stack: bool) -> None:
    """Start torch.profiler over CPU (and CUDA, when available) activity.

    Everything until `torch::profiler_stop` is recorded; `-file` names the Chrome trace that
    `profiler_stop` writes (open it in chrome://tracing or Perfetto).

    ## Return Value

    An empty string.

    Examples:
        torch::profiler_start -file trace.json
        torch::scope { torch::tensor_matmul [torch::ones {8 8}] [torch::ones {8 8}] }
        set table [torch::profiler_stop -rowLimit 5]
        puts [file exists trace.json]   ;# -> 1
    """
    if "profiler" in _PROFILER:
        raise TclError("the profiler is already running: call torch::profiler_stop first", ["TORCH", "STATE"])
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    prof = profile(
        activities=activities,
        record_shapes=record_shapes,
        profile_memory=profile_memory,
        with_stack=with_stack,
    )
    prof.__enter__()
    _PROFILER.update(profiler=prof, file=file)


@command(
    "profiler_stop",
    Opt("rowLimit", Int(ge=1), default=10, help="rows of the summary table"),
)
def profiler_stop(row_limit: int) -> str:
    """Stop the profiler, write its trace file, and return a table of the most expensive operators.

    ## Return Value

    The text of `key_averages().table(...)`, sorted by self CPU time.

    Examples:
        torch::profiler_start
        torch::scope { torch::tensor_add [torch::ones 4] 1 }
        puts [string match *aten::* [torch::profiler_stop]]   ;# -> 1
    """
    prof = _PROFILER.pop("profiler", None)
    if prof is None:
        raise TclError("the profiler is not running: call torch::profiler_start first", ["TORCH", "STATE"])
    file = _PROFILER.pop("file", "")
    prof.__exit__(None, None, None)
    if file:
        prof.export_chrome_trace(file)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit)


# the other implementation's built-in benchmark operations: name -> (inputs, operation)
_BENCH_OPS: dict[str, Any] = {
    "matmul": torch.matmul,
    "mm": torch.matmul,
    "add": torch.add,
    "mul": torch.mul,
}


def _bench_size(text: str, option: str, ctx: Any) -> tuple[int, ...]:
    dims = [parse_tcl_int(w) for w in text.strip().lower().split("x")] if text.strip() else []
    if not dims or len(dims) > 2 or any(d is None or d < 1 for d in dims):
        raise invalid_value(option, text, "must be N or RxC, e.g. 1000 or 500x500")
    return tuple(dims)  # type: ignore[arg-type]


def _parse_benchmark(cmd: Any, ctx: Any, args: tuple[str, ...], invoked: str, parse: Any) -> Any:
    """The other implementation's `benchmark OPERATION ?iterations? ?size? ?dtype?`: an operation
    name first (a script is never just one of these words)."""
    if args and args[0] in _BENCH_OPS:
        lead = 1
        while lead < len(args) and not is_option_word(args[lead], cmd._lookup):
            lead += 1
        if lead > 4:
            raise wrong_args("torch::benchmark operation ?iterations? ?size? ?dtype?")
        named = ["-operation", args[0]]
        for flag, word in zip(("-iterations", "-size", "-dtype"), args[1:lead], strict=False):
            named += [flag, word]
        args = (*named, *args[lead:])
    return parse(ctx, args, invoked)


def _bench_operation(
    operation: str, iterations: int, warmup: int, size: Any, dtype: Any, device: Any, verbose: bool
) -> Any:
    """Time a built-in operation on random inputs: the total microseconds of the timed runs."""
    shape = size or (100, 100)
    if operation in ("matmul", "mm") and len(shape) == 1:
        shape = (shape[0], shape[0])
    dtype = dtype or torch.float32
    if not (dtype.is_floating_point or dtype.is_complex):
        raise invalid_value("-dtype", str(dtype).replace("torch.", ""), "must be a floating-point dtype")
    a = torch.randn(shape, dtype=dtype, device=device)
    b = torch.randn(shape, dtype=dtype, device=device)
    fn = _BENCH_OPS[operation]
    cuda = a.device.type == "cuda"
    total = 0.0
    for i in range(warmup + iterations):
        if cuda:
            torch.cuda.synchronize(a.device)
        start = time.perf_counter()
        fn(a, b)
        if cuda:
            torch.cuda.synchronize(a.device)
        if i >= warmup:
            total += time.perf_counter() - start
    micros = max(1, round(total * 1e6))
    if verbose:
        size_text = "x".join(map(str, shape))
        return f"Operation: {operation}, Size: {size_text}, Iterations: {iterations}, Time: {micros} us"
    return micros


@command(
    "benchmark",
    Opt("script", Str(), default=None, help="Tcl script to time", default_doc="required without -operation"),
    Opt("iterations", Int(ge=1), default=10, help="timed runs", aliases=("iters", "iter")),
    Opt("warmup", Int(ge=0), default=1, help="untimed runs first"),
    Opt(
        "operation",
        Choice(*_BENCH_OPS),
        default=None,
        positional=False,
        help="instead of a script, time a built-in operation on random inputs (the other implementation's form)",
        aliases=("op",),
    ),
    Opt(
        "size",
        Custom(_bench_size, "NxM", "must be N or RxC, e.g. 1000 or 500x500"),
        default=None,
        positional=False,
        help="with -operation: input size, N or RxC",
        default_doc="100x100",
    ),
    Opt(
        "dtype",
        DType(),
        default=None,
        positional=False,
        help="with -operation: input dtype",
        default_doc="float32",
    ),
    Opt(
        "device",
        Device(),
        default=None,
        positional=False,
        help="with -operation: input device",
        default_doc="cpu",
    ),
    Opt(
        "verbose",
        Bool(),
        default=False,
        positional=False,
        help="with -operation: a line of text, not a number",
    ),
    context=True,
    parse_hook=_parse_benchmark,
)
def benchmark(
    script: str | None,
    iterations: int,
    warmup: int,
    operation: str | None,
    size: Any,
    dtype: Any,
    device: Any,
    verbose: bool,
    ctx: Any,
) -> Any:
    """Time a Tcl script: a dict of `iterations`, `mean`, `min` and `max` seconds per run.

    Runs the script `-warmup` times untimed, then `-iterations` times timed (synchronising CUDA
    around each run when it is available). Every handle a run makes is freed, its result too.

    The other implementation's form, `torch::benchmark OPERATION ?iterations? ?size? ?dtype?` (or
    `-operation matmul|mm|add|mul -iterations N -size 500x500 -dtype D -device D -verbose B`), times
    that operation on two random inputs of `size` (`N` alone is N×N for matmul) and returns, as it
    did, the total time of the timed runs in whole microseconds (at least 1); with `-verbose 1` a
    line `Operation: ..., Size: ..., Iterations: ..., Time: N us`.

    ## Return Value

    A Tcl dict.

    Examples:
        set r [torch::benchmark {torch::tensor_matmul [torch::ones {32 32}] [torch::ones {32 32}]} -iterations 5]
        puts [dict get $r iterations]   ;# -> 5
    """
    from tcltorch.commands.runtime.core import scoped_eval

    if operation is not None:
        if script is not None:
            raise TclError(
                'give a script or "-operation", not both', ["TORCH", "ARGS", "TWICE", "-operation"]
            )
        return _bench_operation(operation, iterations, warmup, size, dtype, device, verbose)
    if script is None:
        raise TclError(
            'missing required option "-script" (or -operation NAME)', ["TORCH", "ARGS", "REQUIRED", "-script"]
        )
    times = []
    for i in range(warmup + iterations):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        mark = ctx.handles.mark()
        try:
            scoped_eval(ctx, script)
        finally:
            ctx.handles.release_since(mark)  # nothing the script makes survives, not even its result
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return {"iterations": iterations, "mean": sum(times) / len(times), "min": min(times), "max": max(times)}
