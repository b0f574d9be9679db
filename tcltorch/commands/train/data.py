"""Data in and out: tensor files (.npy, .safetensors, .pt), CSV, and the batching loop.

Files are chosen by extension.  The files are written and read by
:mod:`tcltorch.serialization` (atomic writes: a temporary file in the target's directory,
fsynced and renamed; only a regular, writable file is replaced; reads never run code from the
file: ``.npy`` without pickles, ``.pt`` with ``weights_only=True``)."""

from __future__ import annotations

import math
import os
import re
import time
from typing import Any

import numpy as np
import torch

from tcltorch import serialization
from tcltorch.commands.spec import Bool, DType, Int, Opt, Script, Str, command, dtype_name
from tcltorch.commands.train._files import bad_file, translated
from tcltorch.commands.train.visualize import LogTarget
from tcltorch.commands.vocabulary import Seed, TensorList, _input
from tcltorch.errors import TCL_BREAK, TCL_CONTINUE, TclError, TclPassthrough, invalid_value

FAMILY = "train/data"


@command(
    "tensor_save",
    _input("tensor to save"),
    Opt("file", Str(), help="file name; .npy, .safetensors or .pt chooses the format", aliases=("filename",)),
    summary="Save one tensor to a .npy, .safetensors or .pt file (atomically).",
)
def tensor_save(input, file):
    """Save one tensor to a file, in the format its extension names.

    `.npy` is NumPy's format (every dtype but bfloat16), `.safetensors` holds the tensor
    under the name `tensor`, `.pt` (or `.pth`) is `torch.save` of the tensor.  The file
    is written atomically: a temporary file in the same directory is fsynced and renamed
    over the target, so it is either the old file or the complete new one; only a regular
    file is replaced.  The tensor is saved as it is on the CPU, detached.

    ## Return Value

    The file name.

    Examples:
        set f /tmp/tcltorch_doc_t.npy
        torch::tensor_save [torch::tensor_create {1 2 3}] $f
        torch::tensor_to_list [torch::tensor_load $f]   ;# -> 1.0 2.0 3.0
    """
    if input.dtype == torch.bfloat16 and file.lower().endswith(".npy"):
        raise invalid_value(
            "-tensor", dtype_name(input.dtype), ".npy has no bfloat16: use .safetensors or .pt"
        )
    with translated():
        serialization.save_tensor(input, file)
    return file


@command(
    "tensor_load",
    Opt("file", Str(), help="a .npy, .safetensors or .pt file", aliases=("filename",)),
    Opt(
        "mmap",
        Bool(),
        default=None,
        positional=False,
        help="memory-map the file (copy-on-write) instead of reading it: 1 maps or fails, 0 reads",
        default_doc="maps files of 1 MiB or more where the format allows",
    ),
    summary="Load one tensor from a .npy, .safetensors or .pt file.",
)
def tensor_load(file, mmap):
    """Load one tensor from a file, in the format its extension names.

    `.npy` files are read without pickles (object arrays are refused); a `.safetensors`
    file must hold one tensor, or one named `tensor` (use torch::load_state_dict for a
    model's file); `.pt` files are read with `weights_only=True` (no code runs) and must
    hold a tensor.  Values, dtype and shape come back bit for bit.

    ### Memory-mapped files

    A file of 1 MiB or more is memory-mapped by default: loading reads nothing, the tensor's
    pages come from the file as they are used and the kernel can drop them again, so
    torch::foreach_batch can stream a dataset larger than the memory with flat memory.
    `-mmap 1` maps any size, `-mmap 0` reads the whole tensor into memory (once).
    `.npy` is mapped by torch after NumPy's parser read the header (as
    `numpy.load(mmap_mode="c")` would map it, but no file stays open per tensor),
    `.safetensors` by safetensors' own `safe_open`, `.pt` by `torch.load(mmap=True)`; the
    checks stay (no pickles, `weights_only`, zip sizes and checksums: a `.pt` file is read
    once to check them).

    The map is copy-on-write: an in-place change of the tensor (`torch::init_constant`,
    an optimizer step) copies the pages it touches into this process and never reaches the
    file.  Replacing the file (torch::tensor_save writes a new file and renames it) or
    deleting it leaves the loaded tensor as it was.  Rewriting the file in place while the
    tensor lives (Tcl's `open $f w`, another program) does show through, and reading past
    the end of a file truncated that way kills the process (SIGBUS), as with numpy and
    safetensors maps: load with `-mmap 0` a file that will be rewritten so.

    Some files cannot be mapped: `.npy` numbers in the other byte order (big-endian on this
    machine), `.pt` files in PyTorch's legacy (pre-1.6) format or with compressed records.
    By default they are read into memory; `-mmap 1` is an error saying why (errorcode
    `TORCH VALUE -mmap`).  A Fortran-ordered `.npy` maps to a tensor with column-major
    strides (read into memory, it is made contiguous).

    ## Errors

    | `-mmap 1` on a file that cannot be mapped | `invalid -mmap "1": "FILE" cannot be memory-mapped: its numbers are big-endian, ...: -mmap 0 reads it into memory` | `TORCH VALUE -mmap` |
    | a damaged or foreign file | `invalid -file "FILE": is not a valid .npy file of numbers` (and the like) | `TORCH VALUE -file` |
    | a missing or unreadable file | `couldn't open "FILE": no such file or directory` | `POSIX ENOENT ...` |

    Examples:
        set f /tmp/tcltorch_doc_t.safetensors
        torch::tensor_save [torch::tensor_create {{1 2} {3 4}} -dtype int64] $f
        torch::tensor_to_list [torch::tensor_load $f]   ;# -> {1 2} {3 4}
        torch::tensor_to_list [torch::tensor_load $f -mmap 1]   ;# -> {1 2} {3 4}
    """
    with translated():
        try:
            return serialization.load_tensor(file, mmap)
        except serialization.NotMappableError as exc:
            raise invalid_value(
                "-mmap", "1", f'"{file}" {exc.problem}: -mmap 0 reads it into memory'
            ) from None


def _char(text: str, option: str, ctx: Any) -> str:
    if len(text) != 1 or text in '\n\r"':
        raise invalid_value(option, text, "must be one character (not a newline or quote)")
    return text


@command(
    "load_csv",
    Opt("file", Str(), help="CSV file of numbers", aliases=("filename",)),
    Opt(
        "header",
        Bool(),
        default=False,
        positional=False,
        help="the first row (after -skipRows) names the columns",
    ),
    Opt(
        "columns",
        Str(),
        default=None,
        positional=False,
        help="columns to read: names (with -header) or 0-based indices",
        default_doc="all",
    ),
    Opt("delimiter", Str(), default=",", positional=False, help="field separator, one character"),
    Opt("dtype", DType(), default=torch.float32, positional=False, help="element type"),
    Opt("skipRows", Int(ge=0), default=0, positional=False, help="lines to skip at the top"),
    context=True,
    summary="Read a CSV file of numbers into a 2-d tensor (rows x columns).",
)
def load_csv(file, header, columns, delimiter, dtype, skip_rows, ctx):
    """Read a CSV file of numbers into a 2-d tensor, one row per line.

    The file is parsed by NumPy, never through Tcl lists.  Fields are decimal numbers
    (exponents such as `1.5e-3` allowed, surrounding spaces ignored); empty lines are
    skipped.  `-header 1` takes the first line after `-skipRows` as column names, which
    `-columns` may then use; otherwise `-columns` takes 0-based indices.  A field that
    is not a number is an error naming its line (1-based, in the file) and column
    (1-based), errorcode `TORCH VALUE -file`.  With an integer `-dtype` the fields are
    read as integers, exactly (never through float64): a field that is not a whole
    decimal number (`1.5`, `nan`) or does not fit the dtype (`300` as uint8) is such an
    error too.

    The result has one row per line and one column per column read, except that ONE column
    named by its header name (`-header 1 -columns label`) gives a 1-d tensor of shape `{N}`:
    a target vector as `torch::cross_entropy_loss` wants it. Indices keep the 2-d shape
    (`-columns 3` gives `{N 1}`; `torch::tensor_squeeze` it, or name the column).

    Examples:
        set f /tmp/tcltorch_doc.csv
        set ch [open $f w]; puts $ch "x,y\\n1,2.5e1\\n3,-4"; close $ch
        torch::tensor_to_list [torch::load_csv $f -header 1]   ;# -> {1.0 25.0} {3.0 -4.0}
        torch::tensor_to_list [torch::load_csv $f -header 1 -columns y]   ;# -> 25.0 -4.0
        puts [torch::tensor_shape [torch::load_csv $f -header 1 -columns y]]   ;# -> 2
        puts [torch::tensor_shape [torch::load_csv $f -header 1 -columns 1]]   ;# -> 2 1
    """
    delimiter = _char(delimiter, "-delimiter", ctx)
    with translated():
        path = serialization.readable_path(file)
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as stream:
            lines = stream.read().splitlines()
    except OSError as exc:
        with translated():
            raise serialization.FileAccessError(file, "read", exc.errno) from None
    first = skip_rows
    names: list[str] = []
    if header:
        while first < len(lines) and not lines[first].strip():
            first += 1
        if first >= len(lines):
            raise bad_file(file, "has no header line")
        names = [n.strip().strip('"') for n in lines[first].split(delimiter)]
        first += 1
    body = [(i + 1, line) for i, line in enumerate(lines[first:], start=first) if line.strip()]
    width = len(body[0][1].split(delimiter)) if body else len(names)
    wanted = list(range(width))
    one_named = False  # -columns NAME: one column by its header name gives a 1-d tensor
    if columns is not None:
        wanted = []
        words = ctx.split(columns, "-columns")
        one_named = len(words) == 1 and words[0] in names
        for word in words:
            if word in names:
                wanted.append(names.index(word))
                continue
            try:
                index = int(word)
            except ValueError:
                index = -1
            if not 0 <= index < width:
                known = f"a column name ({' '.join(names)}) or " if names else ""
                raise invalid_value(
                    "-columns", columns, f"must be a list of {known}0-based indices below {width}"
                )
            wanted.append(index)
    integer = _INTEGER_DTYPES.get(dtype)
    if not body:
        return torch.empty(0, dtype=dtype) if one_named else torch.empty(0, len(wanted), dtype=dtype)
    try:
        with np.errstate(all="ignore"):
            array = np.loadtxt(
                [line for _, line in body],
                delimiter=delimiter,
                dtype=integer if integer is not None else np.float64,
                ndmin=2,
                usecols=wanted,
                comments=None,
            )
    except (ValueError, OverflowError):
        _locate_bad_field(file, body, delimiter, width, wanted, dtype if integer is not None else None)
        raise bad_file(file, "is not a CSV file of numbers") from None
    tensor = torch.from_numpy(array).to(dtype)
    return tensor[:, 0].contiguous() if one_named else tensor


# integer element types are read as integers (exactly, range-checked), never through float64
_INTEGER_DTYPES = {
    torch.uint8: np.uint8,
    torch.int8: np.int8,
    torch.int16: np.int16,
    torch.int32: np.int32,
    torch.int64: np.int64,
    torch.uint16: np.uint16,
    torch.uint32: np.uint32,
    torch.uint64: np.uint64,
}

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _field_error(file: str, lineno: int, col: int, problem: str) -> TclError:
    return bad_file(file, f"line {lineno} column {col + 1}: {problem}")


def _locate_bad_field(
    file: str,
    body: list[tuple[int, str]],
    delimiter: str,
    width: int,
    wanted: list[int],
    integer: torch.dtype | None = None,
) -> None:
    """Raise the error for the first field numpy could not read, by line and column (for an
    integer dtype: a field that is not an integer, or does not fit the dtype)."""
    bounds = torch.iinfo(integer) if integer is not None else None
    for lineno, line in body:
        fields = line.split(delimiter)
        if len(fields) != width:
            raise bad_file(file, f"line {lineno} has {len(fields)} fields, expected {width}")
        for col in wanted:
            field = fields[col].strip()
            if bounds is not None:
                if not _INTEGER.fullmatch(field):
                    raise _field_error(file, lineno, col, f'expected an integer but got "{field[:40]}"')
                if not bounds.min <= int(field) <= bounds.max:
                    raise _field_error(
                        file,
                        lineno,
                        col,
                        f"{field[:40]} does not fit {dtype_name(integer)} ({bounds.min} to {bounds.max})",
                    )
                continue
            try:
                float(field)
                ok = bool(field) and "_" not in field
            except ValueError:
                ok = False
            if not ok:
                raise _field_error(file, lineno, col, f'expected a number but got "{field[:40]}"')


def _distributed() -> tuple[int, int] | None:
    """(rank, world size) when torch.distributed is initialised, else None."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None


def batch_order(
    n: int,
    shuffle: bool,
    seed: int | None,
    epoch: int,
    drop_last: bool,
    rank: int = 0,
    world: int = 1,
) -> torch.Tensor:
    """The row indices one rank visits in one epoch, with DistributedSampler's rules:
    a permutation by a generator seeded ``seed + epoch`` (the global generator without a
    seed), then padded by repeating (or, with ``drop_last``, cut) to a multiple of the
    world size, and every ``world``-th row from ``rank``."""
    if shuffle:
        if seed is None:
            order = torch.randperm(n)
        else:
            generator = torch.Generator()
            generator.manual_seed((seed + epoch) % 2**64)
            order = torch.randperm(n, generator=generator)
    else:
        order = torch.arange(n)
    if world == 1:
        return order
    if drop_last and n % world:
        per_rank = math.ceil((n - world) / world)
    else:
        per_rank = math.ceil(n / world)
    total = per_rank * world
    if total > n:
        repeat = math.ceil((total - n) / max(n, 1))
        order = torch.cat([order] + [order] * repeat)[:total] if n else order
    else:
        order = order[:total]
    return order[rank:total:world]


class _Progress:
    """A progress bar with rate and ETA on a terminal; one line per epoch otherwise."""

    def __init__(self, ctx: Any, total: int, epoch: int) -> None:
        self.ctx, self.total, self.epoch = ctx, total, epoch
        self.start = self.last = time.monotonic()
        self.tty = os.isatty(2)
        self.drawn = -1

    def _write(self, text: str) -> None:
        self.ctx.call("puts", "-nonewline", "stderr", text)
        self.ctx.call("flush", "stderr")

    def step(self, done: int) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done < self.total:
            return
        self.last, self.drawn = now, done
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        width = 30
        filled = int(width * done / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        self._write(f"\r[{bar}] {done}/{self.total} batches {rate:.1f} batch/s ETA {_clock(eta)}\x1b[K")

    def finish(self, done: int, rows: int) -> None:
        elapsed = time.monotonic() - self.start
        rate = rows / elapsed if elapsed > 0 else 0.0
        if self.tty:
            if self.drawn != done:
                self.last = 0.0
                self.step(done)
            self._write("\n")
        else:
            self._write(
                f"epoch {self.epoch}: {done}/{self.total} batches, {rows} rows in {elapsed:.2f}s ({rate:.0f} rows/s)\n"
            )


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


_VIEW_CHUNK = 256  # batches whose views foreach_batch makes at a time


def _batch_views(tensors: list[torch.Tensor], start: int, batch_size: int, count: int) -> list[Any]:
    """The views of the next (at most _VIEW_CHUNK) batches from row ``start``, one tuple (a view
    of each tensor) per batch, last batch first (the loop pops them): made by one ``split`` of
    each tensor's rows, a view each and nothing read, so a memory-mapped tensor stays unread."""
    rows = min(count - start, batch_size * _VIEW_CHUNK)
    per = [t.narrow(0, start, rows).split(batch_size) for t in tensors]
    return list(zip(*per))[::-1]


@command(
    "foreach_batch",
    Opt("vars", Str(), help="list of variable names, one per tensor"),
    Opt("tensors", TensorList, help="list of tensor handles with the same number of rows"),
    Opt("batchSize", Int(ge=1), default=64, positional=False, help="rows per batch", aliases=("batch_size",)),
    Opt("shuffle", Bool(), default=False, positional=False, help="visit the rows in a random order"),
    Opt(
        "seed",
        Seed,
        default=None,
        positional=False,
        help="seed of the shuffle (with -epoch)",
        default_doc="global generator",
    ),
    Opt("epoch", Int(ge=0), default=0, positional=False, help="epoch number, added to -seed to reshuffle"),
    Opt(
        "dropLast",
        Bool(),
        default=False,
        positional=False,
        help="skip a last batch shorter than -batchSize",
        aliases=("drop_last",),
    ),
    Opt("progress", Bool(), default=False, positional=False, help="show progress on stderr"),
    Opt(
        "shard",
        Bool(),
        default=True,
        positional=False,
        help="when distributed, visit only this rank's shard (0: every rank visits every row)",
    ),
    Opt(
        "log",
        LogTarget,
        default=None,
        positional=False,
        help="{WRITER ?TAG?}: log each body's result (the loss) as TAG (train/loss) to a torch::summary_writer",
    ),
    Opt("body", Script(), last=True, help="script run for each batch in its own scope"),
    context=True,
    summary="Run a script for each mini-batch of rows of one or more tensors.",
)
def foreach_batch(
    vars, tensors, batch_size, shuffle, seed, epoch, drop_last, progress, shard, log, body, ctx
):
    """Run a script once per mini-batch of rows, in Tcl's `foreach` style.

    The tensors (all with the same number of rows, their first dimension) are cut into
    batches of `-batchSize` rows; for each batch, the variables (in the caller's frame)
    name that batch's rows of each tensor and the body runs in its own scope: handles it
    creates are freed when it ends, except those in its result.  `break`, `continue`,
    `return` and errors behave as in `foreach`.

    Without `-shuffle` (and outside torch.distributed) each batch is a view of its rows:
    nothing is copied and no row order is made, so a tensor that torch::tensor_load
    memory-mapped streams from its file with flat memory (only the pages the body reads
    are brought in, and the kernel can drop them again).  A shuffled or sharded loop makes
    the row order (8 bytes a row) and copies each batch's rows (`index_select`).

    `-shuffle 1` visits the rows in a random order: with `-seed`, the order of epoch
    `-epoch` comes from a generator seeded `seed + epoch` (reproducible, and a new order
    per epoch); without it, from torch's global generator (torch::manual_seed).  When
    torch.distributed is initialised (torch::distributed_init), each rank visits only its
    shard, as torch's DistributedSampler gives it: the order is padded by repeating rows
    (or, with `-dropLast 1`, cut) to a multiple of the world size and rank r takes every
    world-size-th row from r; `-shard 0` gives every rank every batch (to split each
    batch among the ranks yourself, as examples/train_digits.tcl does).  `-dropLast 1`
    also skips a last batch shorter than `-batchSize`.

    `-progress 1` draws a progress bar with the rate and the time left on stderr when
    stderr is a terminal, and writes one line when the loop ends otherwise.

    `-log {WRITER ?TAG?}` logs each batch's result, which must then be a number or a
    one-element tensor (end the body with the loss), to a torch::summary_writer as TAG
    (default train/loss, steps counted on), and their mean as TAG/epoch_mean at step `-epoch`
    when the loop ends; the writer's `-chart`s see them too.

    ## Return Value

    An empty result (as `foreach`); `return` in the body returns from the enclosing proc.

    Examples:
        set X [torch::arange 10]
        set sizes {}
        torch::foreach_batch {xb} [list $X] -batchSize 4 {
            lappend sizes [torch::tensor_numel $xb]
        }
        set sizes   ;# -> 4 4 2
    """
    names = ctx.split(vars, "-vars")
    if not names or len(names) != len(tensors):
        raise invalid_value("-vars", vars, f"must be a list of {len(tensors)} variable names, one per tensor")
    rows = [t.shape[0] if t.dim() else None for t in tensors]
    if any(r is None for r in rows):
        raise invalid_value("-tensors", "", "must be tensors with at least one dimension (rows)")
    if len(set(rows)) != 1:
        raise invalid_value("-tensors", " ".join(map(str, rows)), "must all have the same number of rows")
    n = rows[0]
    ranks = _distributed() if shard else None
    rank, world = ranks if ranks else (0, 1)
    sequential = not shuffle and world == 1  # plain slices: no row order is made
    order = None if sequential else batch_order(n, shuffle, seed, epoch, drop_last, rank, world)
    count = n if order is None else len(order)
    starts = range(0, count, batch_size)
    if drop_last and starts and count - starts[-1] < batch_size:
        starts = starts[:-1]
    bar = _Progress(ctx, len(starts), epoch) if progress else None
    handles = ctx.handles
    mark_now, release, call, evaluate = handles.mark, handles.release_since, ctx.call, ctx.eval
    # a plain tensor's rows are plain tensors: the table's put for them (the bridge's, in C)
    puts = [handles.put_tensor if type(t) is torch.Tensor else handles.put for t in tensors]
    pairs = list(zip(puts, tensors))
    # one variable: `set VAR HANDLE` (no list to build); several: one `lassign` sets them all
    single = names[0] if len(tensors) == 1 else None
    put_first = puts[0]
    views: list[Any] = []  # plain slices: the views of the next batches, made by split in chunks
    done = 0
    for start in starts:
        mark = mark_now()
        code = 0
        try:
            # the batch's handles and the body's are freed together below (as scoped_eval
            # would, without a second walk of the table), on every way out
            if order is None:  # plain slices: views of the rows, nothing copied
                if not views:
                    views = _batch_views(tensors, start, batch_size, count)
                batch = views.pop()
                if single is not None:
                    call("set", single, put_first(batch[0]))
                else:
                    call("lassign", [put(view) for (put, _), view in zip(pairs, batch)], *names)
            else:
                index = order[start : start + batch_size]
                call("lassign", [put(t.index_select(0, index.to(t.device))) for put, t in pairs], *names)
            result = evaluate(body)
            if log is not None:
                log.batch(result, ctx)
        except TclPassthrough as exc:
            code = exc.code
            if code not in (TCL_BREAK, TCL_CONTINUE):
                release(mark, keep=handles.words_in(ctx.result()))
                raise
        except BaseException:
            release(mark)
            raise
        release(mark)
        done += 1
        if bar is not None:
            bar.step(done)
        if code == TCL_BREAK:
            break
    seen = min(done * batch_size, count)  # the batches are consecutive runs of -batchSize rows
    if bar is not None:
        bar.finish(done, seen)
    if log is not None:
        log.end(epoch, ctx)
