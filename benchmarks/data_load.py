"""torch::tensor_load memory-mapped vs numpy's and safetensors' own maps, and foreach_batch streaming.

Issue 26's data goal: ``tensor_load`` memory-mapped where the format allows, peak RSS <= 1.1x
numpy's mmap path, so that ``foreach_batch`` streams a dataset larger than the memory with flat
memory.  Every figure is min / median / max over interleaved rounds (the median counts):

* **load time** (in one process, ``--rounds`` rounds, default 15): ``torch::tensor_load FILE``
  (mapped: the default for a file of 1 MiB or more; the handle freed again) over
  ``numpy.load(FILE, mmap_mode="r")`` for ``.npy`` and over ``safetensors.safe_open`` +
  ``get_tensor`` for ``.safetensors``; and ``-mmap 0`` (read into memory) over ``numpy.load``
  and over ``safetensors.torch.load`` of the file's bytes (``load_file`` maps: it is no read).
* **peak RSS** (one subprocess per run, ``--rss-rounds`` rounds, default 5, the variants
  interleaved): every subprocess imports torch, numpy, safetensors and tcltorch and makes a
  ``tcltorch.Interp`` (the same baseline), then loads the file and takes every batch of
  ``--batch`` rows, summing each (every page of the file is read).  Ours: ``tensor_load`` then
  ``torch::foreach_batch`` with ``torch::tensor_sum`` as its body; the reference: the library's
  map (``np.load(mmap_mode="r")`` + ``torch.from_numpy``, or ``safe_open``) then Python slicing.
  It reports VmHWM (the process's peak resident set) after the load and after the batches, as
  ours / reference, the growth over the baseline in MiB, and how much anonymous memory
  (``RssAnon``: this process's own pages, not the file's) the streaming added: the file's pages
  sit in the page cache (counted in RSS as ``RssFile`` while mapped) and the kernel can drop them,
  so a file larger than the memory streams through.

The data files (``--size-mb``, default 1024, float32 rows of 1024 numbers) are written to a
temporary directory (``--dir``) and removed at the end.  No timing is asserted anywhere (tests
never check timings): this script only prints.

    .venv/bin/python benchmarks/data_load.py            # 1 GiB files, 15 / 5 rounds
    .venv/bin/python benchmarks/data_load.py --quick    # 64 MiB, 3 / 2 rounds: a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import tcltorch

COLS = 1024  # float32 numbers per row: 4 KiB rows
CHUNK_ROWS = 16384  # rows written at a time (64 MiB)


# -- the data files ---------------------------------------------------------------------------


def write_files(directory: str, size_mb: int) -> tuple[str, str, int]:
    """A .npy and a .safetensors file of the same float32 matrix (rows x COLS), written chunk by
    chunk (never whole in memory); returns their paths and the number of rows."""
    rows = size_mb * (1 << 20) // (COLS * 4)
    nbytes = rows * COLS * 4
    npy = os.path.join(directory, "data.npy")
    st = os.path.join(directory, "data.safetensors")
    header = json.dumps({"tensor": {"dtype": "F32", "shape": [rows, COLS], "data_offsets": [0, nbytes]}})
    header += " " * (-len(header) % 8)
    rng = np.random.default_rng(0)
    with open(npy, "wb") as a, open(st, "wb") as b:
        np.lib.format.write_array_header_1_0(
            a, {"descr": "<f4", "fortran_order": False, "shape": (rows, COLS)}
        )
        b.write(len(header).to_bytes(8, "little") + header.encode())
        for start in range(0, rows, CHUNK_ROWS):
            chunk = rng.standard_normal((min(CHUNK_ROWS, rows - start), COLS), dtype=np.float32)
            a.write(chunk.tobytes())
            b.write(chunk.tobytes())
    return npy, st, rows


# -- load time, in this process ---------------------------------------------------------------

LOAD_TCL = r"""
proc loads {file n args} {
    set t0 [clock microseconds]
    for {set i 0} {$i < $n} {incr i} {
        torch::free [torch::tensor_load $file {*}$args]
    }
    expr {([clock microseconds] - $t0) / double($n)}
}
"""


def read_bytes(file: str) -> bytes:
    with open(file, "rb") as f:
        return f.read()


def per_call_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def load_times(npy: str, st: str, rounds: int, copy_rounds: int) -> dict[str, list[float]]:
    from safetensors import safe_open
    from safetensors.torch import load as load_bytes

    interp = tcltorch.Interp()
    interp.eval(LOAD_TCL)

    def np_map():
        np.load(npy, mmap_mode="r")

    def st_map():
        with safe_open(st, framework="pt") as reader:
            reader.get_tensor("tensor")

    def ours(file: str, n: int, *options: str) -> float:
        return float(interp.call("loads", file, n, *options))

    maps = [
        ("npy_map", lambda: ours(npy, 50), lambda: per_call_us(np_map, 50)),
        ("st_map", lambda: ours(st, 50), lambda: per_call_us(st_map, 50)),
    ]
    copies = [
        ("npy_copy", lambda: ours(npy, 1, "-mmap", "0"), lambda: per_call_us(lambda: np.load(npy), 1)),
        (
            "st_copy",
            lambda: ours(st, 1, "-mmap", "0"),
            lambda: per_call_us(lambda: load_bytes(read_bytes(st)), 1),
        ),
    ]
    figures: dict[str, list[float]] = {}
    for name, a, b in maps + copies:  # warm-up (and the page cache)
        a(), b()
    for plan, count in ((maps, rounds), (copies, copy_rounds)):
        for r in range(count):
            for name, a, b in plan:
                if r % 2:  # alternate which one goes first
                    y, x = b(), a()
                else:
                    x, y = a(), b()
                figures.setdefault(name, []).append(x / y)
                figures.setdefault(name + "_us", []).append(x)
                figures.setdefault(name + "_ref_us", []).append(y)
    return figures


# -- peak RSS, one subprocess per run ---------------------------------------------------------

CHILD = r"""
import json, os, sys, warnings
sys.path.insert(0, sys.argv[4])
import numpy as np, torch, safetensors, tcltorch
from safetensors import safe_open
torch.set_num_threads(1)

def status():
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out

variant, file, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
interp = tcltorch.Interp()
interp.eval("proc stream {X b} {torch::foreach_batch {xb} [list $X] -batchSize $b {torch::tensor_sum $xb}}")
base = status()
if variant in ("ours", "ours_copy"):
    h = interp.eval(f"torch::tensor_load {file}" + (" -mmap 0" if variant == "ours_copy" else ""))
    loaded = status()
    interp.call("stream", h, batch)
elif variant == "ref_copy":
    t = torch.from_numpy(np.load(file))
    loaded = status()
    for s in range(0, t.shape[0], batch):
        t[s : s + batch].sum()
else:
    if file.endswith(".npy"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a read-only array: torch warns that it is not writable
            t = torch.from_numpy(np.load(file, mmap_mode="r"))
    else:
        with safe_open(file, framework="pt") as reader:
            t = reader.get_tensor("tensor")
    loaded = status()
    for s in range(0, t.shape[0], batch):
        t[s : s + batch].sum()
done = status()
print(json.dumps({"base": base, "loaded": loaded, "done": done}))
"""


def rss_run(variant: str, file: str, batch: int) -> dict[str, dict[str, int]]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, variant, file, str(batch), ROOT],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode:
        raise RuntimeError(f"{variant} {file}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def rss_figures(npy: str, st: str, rounds: int, batch: int) -> dict[str, list[float]]:
    pairs = [
        ("npy", npy, "ours", "ref"),
        ("st", st, "ours", "ref"),
        ("npy_copy", npy, "ours_copy", "ref_copy"),
    ]
    figures: dict[str, list[float]] = {}
    for r in range(rounds):
        for name, file, ours, ref in pairs:
            runs = [(ours, file), (ref, file)] if r % 2 == 0 else [(ref, file), (ours, file)]
            got = {variant: rss_run(variant, f, batch) for variant, f in runs}
            a, b = got[ours], got[ref]
            mib = 1 << 20
            figures.setdefault(f"{name}_load_x", []).append(a["loaded"]["VmHWM"] / b["loaded"]["VmHWM"])
            figures.setdefault(f"{name}_done_x", []).append(a["done"]["VmHWM"] / b["done"]["VmHWM"])
            for who, run in (("ours", a), ("ref", b)):
                base = run["base"]["VmRSS"]
                figures.setdefault(f"{name}_{who}_load_mib", []).append((run["loaded"]["VmHWM"] - base) / mib)
                figures.setdefault(f"{name}_{who}_done_mib", []).append((run["done"]["VmHWM"] - base) / mib)
                anon = (run["done"]["RssAnon"] - run["loaded"]["RssAnon"]) / mib
                figures.setdefault(f"{name}_{who}_anon_mib", []).append(anon)
                figures.setdefault(f"{name}_{who}_file_mib", []).append(run["done"]["RssFile"] / mib)
    return figures


# -- report -----------------------------------------------------------------------------------


def row(text: str, xs: list[float], unit: str, target: str = "") -> None:
    print(f"  {text:58s} {min(xs):9.3f} {statistics.median(xs):9.3f} {max(xs):9.3f}  {unit:4s} {target}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of each data file (default 1024)")
    parser.add_argument(
        "--rounds", type=int, default=15, help="interleaved rounds of load times (default 15)"
    )
    parser.add_argument(
        "--rss-rounds", type=int, default=5, help="interleaved RSS subprocess rounds (default 5)"
    )
    parser.add_argument(
        "--batch", type=int, default=4096, help="rows per batch when streaming (default 4096)"
    )
    parser.add_argument("--dir", default=None, help="where the data files go (default: the temp dir)")
    parser.add_argument("--quick", action="store_true", help="64 MiB, 3 and 2 rounds: a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.size_mb, args.rounds, args.rss_rounds = 64, 3, 2
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    directory = tempfile.mkdtemp(prefix="tcltorch_data_load_", dir=args.dir)
    try:
        npy, st, rows = write_files(directory, args.size_mb)
        times = load_times(npy, st, args.rounds, args.rounds)
        rss = rss_figures(npy, st, args.rss_rounds, args.batch)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print(
        f"data_load: {args.size_mb} MiB float32 files ({rows} x {COLS}), load {os.getloadavg()[0]:.1f}, "
        f"1 torch thread; {args.rounds} rounds of load times, {args.rss_rounds} of RSS"
    )
    print(f"  {'figure':58s} {'min':>9s} {'median':>9s} {'max':>9s}  unit")
    print(" load time (a mapped load reads nothing; -mmap 0 reads the file once):")
    row("tensor_load .npy (mapped) / np.load(mmap_mode=r)", times["npy_map"], "x")
    row("  tensor_load .npy (mapped), per load", times["npy_map_us"], "us")
    row("  np.load(mmap_mode=r), per load", times["npy_map_ref_us"], "us")
    row("tensor_load .safetensors (mapped) / safe_open+get_tensor", times["st_map"], "x")
    row("  tensor_load .safetensors (mapped), per load", times["st_map_us"], "us")
    row("  safe_open + get_tensor, per load", times["st_map_ref_us"], "us")
    row("tensor_load .npy -mmap 0 / np.load", times["npy_copy"], "x")
    row("  tensor_load .npy -mmap 0", [x / 1e3 for x in times["npy_copy_us"]], "ms")
    row("tensor_load .safetensors -mmap 0 / safetensors.torch.load(bytes)", times["st_copy"], "x")
    row("  tensor_load .safetensors -mmap 0", [x / 1e3 for x in times["st_copy_us"]], "ms")
    print(" peak RSS (VmHWM, whole process: same imports and interpreter in every run):")
    for name, text, ref in (
        ("npy", ".npy mapped", "np.load(mmap_mode=r)"),
        ("st", ".safetensors mapped", "safe_open"),
        ("npy_copy", ".npy -mmap 0", "np.load"),
    ):
        row(
            f"{text}: after load, ours / {ref}",
            rss[f"{name}_load_x"],
            "x",
            "(goal <= 1.1x)" if name != "npy_copy" else "",
        )
        row(
            f"{text}: after every batch, ours / {ref}",
            rss[f"{name}_done_x"],
            "x",
            "(goal <= 1.1x)" if name != "npy_copy" else "",
        )
        for who in ("ours", "ref"):
            label = "ours" if who == "ours" else ref
            row(f"  {label}: VmHWM over baseline after load", rss[f"{name}_{who}_load_mib"], "MiB")
            row(f"  {label}: VmHWM over baseline after every batch", rss[f"{name}_{who}_done_mib"], "MiB")
            row(f"  {label}: RssAnon added by streaming the batches", rss[f"{name}_{who}_anon_mib"], "MiB")
            row(
                f"  {label}: RssFile (the file's pages) after every batch",
                rss[f"{name}_{who}_file_mib"],
                "MiB",
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
