"""Run the other implementation's tcltest suite against tcltorch and classify each failure.

    python tools/peer_suite.py DIR [--only NAMES] [--jobs 2] [--json OUT] [--timeout 120]
                               [--compare OLD.json] [--show CLASS]

DIR holds the other implementation's per-command test files (``NAME_test.tcl``, from
``tests/refactored/`` of vicmay/TCLIBTORCH). Each file runs in its own ``tclsh`` (the package
found through ``python -m tcltorch --tcl-path``), with a scratch directory as its working
directory, from a temporary copy in which the block that loads ``libtorchtcl.so`` is replaced by
``package require tcltorch``. DIR itself is never changed. tcltest is made verbose (pass, fail,
skip, error, start, body) whatever the file asks, so every case is seen.

Each failing case gets a class: the hand-kept table ``REVIEWED`` below first (cases read one by
one: the suite's own bugs, forms refused on purpose, deliberate semantics), then heuristics on
the body, the result, the expected result and the error. The class that matters is
``missing form``: a form the other implementation accepts, that a script for it uses, and that
tcltorch lacks. The tool prints counts per class and per command and lists every missing-form
case with the form and our message; ``--json`` writes every case (pass, fail, skip) so that a
later run can be compared with ``--compare`` (cases that passed before and fail now).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]

MISSING = "missing form"
REFUSED = "missing form: refused on purpose"

# Hand-reviewed cases: "FILE_STEM/CASE" (or "CASE" for every file) -> (class, reason).
# Classes: "suite bug", REFUSED, "convention: ..." (our deliberate choices, docs/migration.md).
SUITE_BUG = "suite bug"
MODULE_FORM = "convention: module form"
SEMANTICS = "convention: documented semantics"
VALUE_REFUSED = "convention: documented refusal of a value"
OK_TEXT = "convention: OK"
REVIEWED: dict[str, tuple[str, str]] = {
    "set_rng_state_test/*": (
        SUITE_BUG,
        "the file reads $state at top level, where it is never set: no case runs",
    ),
    "adaptive_avgpool3d_test/adaptive_avgpool3d-4.1": (MODULE_FORM, "-output_size alone builds the module"),
    "replication_pad3d_test/replication_pad3d-3.1": (MODULE_FORM, "-padding alone builds the module"),
    "rrelu_test/rrelu-4.1": (MODULE_FORM, "no arguments build the module"),
    "replication_pad3d_test/replication_pad3d-3.6": (
        "convention: error wording",
        "a 2-d input for 3-d padding is refused, with PyTorch's words",
    ),
    "resize_image_test/resize_image-3.3": (
        SEMANTICS,
        "-size {6} is a 6x6 size, as a single size is in torchvision",
    ),
    "kron_test/kron-8.1": (SEMANTICS, "-data {5.0} is one number: a 0-d tensor, as torch.tensor(5.0)"),
    "load_checkpoint_test/load_checkpoint-3.*": (
        "convention: load_checkpoint order",
        "model optimizer file; a dict result",
    ),
    "set_flush_denormal_test/*": (
        OK_TEXT,
        "returns 1/0 (torch.set_flush_denormal's result), not a status word",
    ),
    "softmax2d_test/softmax2d-8.3": (
        SEMANTICS,
        "arange of integers is int64 (as torch.arange), and softmax refuses integers as PyTorch does",
    ),
    "softsign_test/softsign-1.4": ("convention: nested lists", "the case's helper compares a flat list"),
    "spectral_norm_test/spectral-norm-1.2": (
        REFUSED,
        (
            "spectral_norm TENSOR N: the tensor form divides by the exact largest singular value and takes no "
            "power-iteration count (an estimate from a random start would change per call); see its page"
        ),
    ),
    "sparse_csc_tensor_test/sparse_csc_tensor-[123].*": (
        SUITE_BUG,
        "ccol_indices {0 1 2} end at 2 but 3 values are given: not a valid CSC tensor (torch refuses it)",
    ),
    "log1p_test/log1p-math-7.3": (
        SUITE_BUG,
        "its expected log1p(0.01) is wrong in the 11th digit (tolerance 1e-13)",
    ),
    "square_test/square-7.*": (
        "convention: number format",
        "float32 values shown exactly (999999995904.0), not 1e+12",
    ),
    "synchronize_test/synchronize-*": (OK_TEXT, "returns an empty result, not a status word (synchronized)"),
    "ceil_test/ceil-1.3": (SEMANTICS, "{3.14} is one number: a 0-d tensor, whose shape is empty"),
    "std_dim_test/std_dim-4.2": (SEMANTICS, "-dim defaults to every dimension, as torch.std"),
    "logsoftmax_test/logsoftmax-7.1": (MODULE_FORM, "no arguments build the module"),
    "lppool[12]d_test/lppool[12]d-4.1": (MODULE_FORM, "no input: the words build the module"),
    "avgpool3d_test/avgpool3d-6.1": (MODULE_FORM, "-kernelSize alone builds the module"),
    "distributed_all_to_all_test/*": (
        VALUE_REFUSED,
        (
            "-group NAME for a group never made: only the default group exists (default, world or {}); the other "
            "implementation ignored the name. See distributed_all_to_all's page"
        ),
    ),
    "lr_scheduler_step_advanced_test/*": (
        VALUE_REFUSED,
        (
            "-metric on a step scheduler: only plateau schedulers read a metric (torch's step(x) would take it as an "
            "epoch number). See lr_scheduler_step_advanced's page"
        ),
    ),
    "lstm_test/lstm-[24].*": (
        VALUE_REFUSED,
        "-dropout with one layer: dropout acts between layers, so it would do nothing (PyTorch warns); see lstm's page",
    ),
    "rnn_relu_test/rnn_relu-6.3": (
        VALUE_REFUSED,
        "-dropout with one layer: dropout acts between layers, so it would do nothing (PyTorch warns)",
    ),
    "tensor_eigen_test/*": (
        "convention: result format",
        "a list of two handles {values vectors}, not the words eigenvalues H eigenvectors H",
    ),
    "tensor_grad_test/tensor-grad-*": (SEMANTICS, "tensor_grad of a tensor without a gradient yet is empty"),
    "cummax_test/cummax-1.3": (SEMANTICS, "-dim defaults to 0 (the other implementation required it)"),
    "lr_scheduler_cosine_test/lr_scheduler_cosine-5.4": (
        SUITE_BUG,
        "cosine annealing is halfway between the lrs at T_max/2, not at eta_min (torch's formula)",
    ),
    "lr_scheduler_cosine_annealing_test/lr_scheduler_cosine_annealing-5.2": (
        SUITE_BUG,
        "cosine annealing is halfway between the lrs at T_max/2, not at eta_min (torch's formula)",
    ),
    "lr_scheduler_cyclic_test/lr_scheduler_cyclic-6.7": (
        SEMANTICS,
        "base lr above max lr is allowed, as in torch",
    ),
    "lr_scheduler_plateau_test/lr_scheduler_plateau-6.6": (SEMANTICS, "patience 0 is allowed, as in torch"),
    "lr_scheduler_polynomial_test/lr_scheduler_polynomial-6.2": (
        SEMANTICS,
        "-totalIters defaults to 5, as in torch",
    ),
    "lr_scheduler_polynomial_test/lr_scheduler_polynomial-7.3": (
        "convention: value checks",
        "-lastEpoch below -1 is no step index",
    ),
    "lr_scheduler_lambda_test/lr_scheduler_lambda-5.[78]": (
        "convention: value checks",
        "a multiplier <= 0 gives a zero or negative lr",
    ),
    "lr_scheduler_plateau_test/lr_scheduler_plateau-5.5": (
        "convention: value checks",
        "-factor must be < 1, as in torch",
    ),
    "lr_scheduler_reduce_on_plateau_test/lr_scheduler_reduce_on_plateau-7.1": (
        "convention: value checks",
        "-factor must be < 1, as in torch",
    ),
    "positional_encoding_test/positional_encoding-[123].*": (
        REFUSED,
        (
            "positional_encoding SEQLEN DMODEL DROPOUT returned the sinusoid table; the same words build the module "
            "here, whose table is its pe buffer (see its page and docs/migration.md)"
        ),
    ),
    "distributed_reduce_scatter_test/*": (
        VALUE_REFUSED,
        "-group NAME for a group never made: only the default group exists (default, world or {})",
    ),
    "optimizer_sparse_adam_test/optimizer_sparse_adam-[123].[24]": (
        VALUE_REFUSED,
        "-weightDecay 0.01: torch.optim.SparseAdam has no weight decay; 0 is accepted (see its page)",
    ),
    "melscale_fbanks_test/*": (SEMANTICS, "torchaudio's layout: n_freqs x n_mels, not n_mels x n_freqs"),
    "time_stretch_test/*": (
        VALUE_REFUSED,
        "a real matrix is no STFT: the phase vocoder needs the complex STFT (torchaudio); see its page",
    ),
    "distributed_wait_test/*": (SUITE_BUG, "waits on work handles the case never made (isend_handle_1, ...)"),
    "distributed_test_test/*": (SUITE_BUG, "tests work handles the case never made (isend_handle_1, ...)"),
    "distributed_gather_test/*": (
        "convention: result format",
        "a list of handles, one per rank (torch.distributed.gather), not one stacked tensor; see its page",
    ),
    "distributed_scatter_test/*": (
        VALUE_REFUSED,
        "-group NAME for a group never made; -src beyond the world",
    ),
    "distributed_barrier_test/*": (
        OK_TEXT,
        "returns an empty result, not a status text (Distributed not initialized)",
    ),
    "distributed_init_test/distributed_init-*": (
        OK_TEXT,
        "returns a dict rank R worldSize N, not a status text",
    ),
    "enable_grad_test/*": (OK_TEXT, "returns an empty result, not ok"),
    "empty_cache_test/*": (OK_TEXT, "returns an empty result, not a status word"),
    "memory_stats_test/*": (OK_TEXT, "no CUDA: a dict of zeros, not a status text"),
    "memory_summary_test/*": (OK_TEXT, "no CUDA: a summary text of its own"),
    "quantized_add_test/*": (
        VALUE_REFUSED,
        "float operands: the quantized ops take quantized tensors (their scales are not the result's); see its page",
    ),
    "quantized_mul_test/*": (
        VALUE_REFUSED,
        "float operands: the quantized ops take quantized tensors (their scales are not the result's); see its page",
    ),
    "quantized_relu_test/quantized_relu-6.2": (VALUE_REFUSED, "a float tensor is not quantized"),
    "tensor_qr_test/*": ("convention: result format", "a list of two handles {Q R}, not the words Q H R H"),
    "tensor_svd_test/*": ("convention: result format", "a list of three handles {U S V}"),
    "mfcc_test/*": (
        VALUE_REFUSED,
        "13 coefficients from a 3-band mel spectrogram: at most as many coefficients as bands (torchaudio)",
    ),
    "tensor_shape_test/tensor_shape-1.1": (
        SEMANTICS,
        "-data 5.0 is one number: a 0-d tensor, whose shape is empty",
    ),
    "tensor_rfft_test/tensor_rfft-5.1": (SEMANTICS, "one number is a 0-d tensor, which has no dimension -1"),
    "tensor_unique_test/*": (SEMANTICS, "sorted, as torch.unique sorts by default"),
    "tensor_to_test/*": ("convention: CUDA fallback", "-device cuda without CUDA is an error"),
    "exponential_test/exponential-7.9": (
        "convention: CUDA fallback",
        "an unknown device is an error, not the CPU",
    ),
    "triplet_margin_loss_test/triplet_margin_loss-14.2": (SEMANTICS, "margin 0 is refused by PyTorch itself"),
    "spectrogram_test/spectrogram-[12].1": (
        SEMANTICS,
        "torchaudio's default nFft 400 needs more than 100 samples (centred frames); the case gives 100",
    ),
    "lr_scheduler_constant_with_warmup_test/lr_scheduler_constant_with_warmup-6.4": (
        "convention: value checks",
        "-lastEpoch below -1 is no step index",
    ),
    "distributed_init_test/distributed_init-9.5": (VALUE_REFUSED, "a backend torch does not have"),
    "distributed_isend_test/distributed_isend-10.4": ("convention: value checks", "a negative message tag"),
    "distributed_recv_test/distributed_recv-8.4": ("convention: value checks", "a negative message tag"),
    "multinomial_test/multinomial-11.1": (
        "convention: value checks",
        "weights must be 1-d or 2-d, as torch.multinomial",
    ),
    "nms_test/nms-4.3": (SEMANTICS, "accepted as torchvision accepts it"),
    "poisson_test/poisson-3.3": (SEMANTICS, "accepted as torch.poisson accepts it"),
    "elu_test/elu-7.1": (SEMANTICS, "{0.001} is one number: a 0-d tensor, whose shape is empty"),
    "empty_test/empty-1.3": (SUITE_BUG, "expects libtorch's TensorOptions dump as the device"),
    "eq_test/eq-5.1": ("convention: dtype", "its helper looks for the capitalised Bool"),
    "mean_dim_test/mean_dim-4.1": ("convention: error wording", "matches *Invalid* in an error"),
    "median_dim_test/median_dim-4.1": ("convention: error wording", "matches *Invalid* in an error"),
    "outer_test/outer-*": ("convention: nested lists", "its helper walks a flat list"),
    "tensor_var_test/tensor-var-5.2": ("convention: number format", "NaN is written nan, not -nan"),
    "tril_test/tril-4.1": ("convention: nested lists", "flat list expected"),
    "triu_test/triu-4.1": ("convention: nested lists", "flat list expected"),
    "expm1_test/expm1-3.1": (
        SEMANTICS,
        "{1e-8} is one number: a 0-d tensor; the case expects the other's result",
    ),
    "lr_scheduler_reduce_on_plateau_test/lr_scheduler_reduce_on_plateau-6.6": (
        SEMANTICS,
        "patience 0 is allowed, as in torch",
    ),
    "grad_test/grad-[1-9].*": (
        SEMANTICS,
        "its outputs do not depend on its inputs: an unused input needs -allowUnused 1, as torch.autograd.grad requires",
    ),
    "interpolate_test/interpolate-3.3": (
        REFUSED,
        "both a size and a scale factor: exactly one is given, as F.interpolate requires; see its page",
    ),
    "grad_check_finite_diff_test/*": (SUITE_BUG, "checks a function the case never defines (dummy_func)"),
    "grad_scaler_update_test/*": (
        SEMANTICS,
        "update before any scale has no inf checks: torch's GradScaler refuses",
    ),
    "grad_scaler_step_test/*": (SEMANTICS, "step before any scale: torch's GradScaler refuses"),
    "grad_scaler_get_scale_test/grad_scaler_get_scale-8.1": (
        SEMANTICS,
        "update before any scale: torch refuses",
    ),
    "freeze_model_test/*": (OK_TEXT, "returns the model's handle, not a status text"),
    "unfreeze_model_test/*": (OK_TEXT, "returns the model's handle, not a status text"),
    "functional_call_test/*": (SUITE_BUG, "calls a module the case never makes (myFunc)"),
    "gradient_test/*": (SEMANTICS, "torch.gradient: central differences, the input's size (not n-1 values)"),
    "is_distributed_test/*": (
        SEMANTICS,
        "after distributed_init the process is in a group (1), even of one process",
    ),
    "quantized_relu_test/quantized_relu-6.*": (
        VALUE_REFUSED,
        "a float tensor is not quantized; see its page",
    ),
    "reflection_pad[123]d_test/*": (MODULE_FORM, "no tensor given: the words build the module"),
    "replication_pad[123]d_test/replication_pad[123]d-3.1": (
        MODULE_FORM,
        "no tensor given: builds the module",
    ),
    "fractional_maxpool[23]d_test/fractional_maxpool[23]d-4.1": (MODULE_FORM, "no tensor: builds the module"),
    "fractional_maxpool2d_test/fractional_maxpool2d-4.5": (SEMANTICS, "accepted as torch accepts it"),
    "hardtanh_test/hardtanh-7.3": (SEMANTICS, "max_val must exceed min_val: PyTorch refuses 0 0"),
    "hilbert_test/hilbert-8.1": (SEMANTICS, "one number is a 0-d tensor, which has no dimension -1"),
    "floor_test/floor-1.3": (SEMANTICS, "{3.14} is one number: a 0-d tensor, whose shape is empty"),
    "randint_like_test/randint_like-14.1": (
        "convention: value checks",
        "-high must exceed -low, as torch requires",
    ),
    "grad_test/grad-10.1": (
        SEMANTICS,
        "an unused input needs -allowUnused 1, as torch.autograd.grad requires",
    ),
    "mean_dim_test/mean_dim-4.*": ("convention: error wording", "matches *Invalid* in an error"),
    "median_dim_test/median_dim-4.*": ("convention: error wording", "matches *Invalid* in an error"),
    "eq_test/eq-5.*": ("convention: dtype", "its helper looks for the capitalised Bool"),
    "fold_test/fold-6.[45]": (
        "convention: error wording",
        "the output size is checked by torch, with its words",
    ),
    "flip_test/flip-8.7": (SEMANTICS, "-dims {} flips nothing, as torch.flip(x, ())"),
    "initial_seed_test/initial_seed-1.1": (SEMANTICS, "torch.initial_seed's value, not the other's"),
    "int_repr_test/int_repr-9.3": (MODULE_FORM, "error text for no arguments (wrong # args)"),
    "get_rng_state_test/get_rng_state-4.2": (
        "convention: result format",
        "the state as a uint8 tensor handle",
    ),
    "get_world_size_test/get_world_size-5.1": (
        SEMANTICS,
        "world size 2 in one process waits for the other rank",
    ),
    "replication_pad[12]d_test/replication_pad[12]d-3.[356]": (
        "convention: error wording",
        "a bad padding is refused with our (or PyTorch's) words",
    ),
    "tensor_shape_test/tensor_shape-*": (SEMANTICS, "one number is a 0-d tensor, whose shape is empty"),
    "uniform_test/uniform-3.1": (MODULE_FORM, "the error of a call without arguments names its own usage"),
    "upsample_bilinear_test/upsample_bilinear-5.1": (MODULE_FORM, "-output_size alone builds the module"),
    "vector_norm_test/vector_norm-8.3": ("convention: nested lists", "its helper walks a flat list"),
    "vmap_test/vmap-7.1": (SEMANTICS, "in_dims 0 over a 0-d input: torch.vmap refuses"),
    "lr_scheduler_inverse_sqrt_test/lr_scheduler_inverse_sqrt-[56].3": (
        "convention: handle names",
        "the case raises its own error when the handle is not named inverse_sqrt_scheduler*",
    ),
    "deg2rad_test/deg2rad-7.6": (SEMANTICS, "{90.0} is one number: a 0-d tensor, whose shape is empty"),
    "cuda_*": ("convention: CUDA fallback", "no CUDA on this machine: the commands say so"),
    "tensor_device_test/tensor-device-[59].2": (
        "convention: CUDA fallback",
        "-device cuda without CUDA is an error",
    ),
    "tensor_item_test/tensor_item-8.[67]": (
        "convention: error wording",
        "tensor_item of several values is an error",
    ),
}

# Prelude put before each file: tcltest reports every case, whatever the file configures.
PRELUDE = r"""package require tcltest
namespace eval ::tcltest {
    rename configure _peer_configure
    proc configure args {
        if {[llength $args] > 1} {
            set keep {}
            foreach {k v} $args { if {$k ne "-verbose"} { lappend keep $k $v } }
            if {[llength $keep] == 0} { return }
            return [_peer_configure {*}$keep]
        }
        return [_peer_configure {*}$args]
    }
    _peer_configure -verbose {pass fail skip error start body}
}
"""


def tcl_commands(text: str) -> list[tuple[int, int]]:
    """Line spans [start, end) of the top-level Tcl commands of a script (brace depth only)."""
    lines = text.split("\n")
    spans = []
    start = None
    depth = 0
    for i, line in enumerate(lines):
        if start is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = i
        j = 0
        while j < len(line):
            c = line[j]
            if c == "\\":
                j += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        if depth <= 0 and not line.endswith("\\"):
            spans.append((start, i + 1))
            start = None
            depth = 0
    if start is not None:
        spans.append((start, len(lines)))
    return spans


def rewrite(text: str) -> str:
    """The file with its libtorchtcl loading replaced by ``package require tcltorch``."""
    lines = text.split("\n")
    out = list(lines)
    done = False
    for start, end in reversed(tcl_commands(text)):
        block = "\n".join(lines[start:end])
        if "libtorchtcl" in block and re.search(r"\bload\b", block) and end - start <= 30:
            out[start:end] = ["package require tcltorch"]
            done = True
    text = "\n".join(out)
    if not done or "libtorchtcl" in text:
        text = re.sub(r"\bload\s+\S*libtorchtcl\S*", "package require tcltorch", text)
    return PRELUDE + text


def count_tests(text: str) -> list[str]:
    """The case names a file declares (``test NAME`` at the start of a line)."""
    return re.findall(r"^\s*(?:tcltest::)?test\s+([^\s{}\[\]\"]+)", text, re.MULTILINE)


def tcl_path() -> str:
    py = ROOT / ".venv" / "bin" / "python"
    return subprocess.run(
        [str(py), "-m", "tcltorch", "--tcl-path"], capture_output=True, text=True, check=True
    ).stdout.strip()


def run_file(path: pathlib.Path, tclpath: str, timeout: float) -> dict:
    """Run one test file; its cases and how the process ended."""
    text = path.read_text(encoding="utf-8", errors="replace")
    with tempfile.TemporaryDirectory(prefix="peer_suite_") as tmp:
        copy = pathlib.Path(tmp) / path.name
        copy.write_text(rewrite(text), encoding="utf-8")
        env = dict(os.environ)
        env["TCLLIBPATH"] = tclpath
        env["OMP_NUM_THREADS"] = "1"
        env.pop("TCLTORCH_TRACEBACK", None)
        started = time.monotonic()
        status = "ok"
        try:
            proc = subprocess.run(
                ["tclsh", str(copy)],
                check=False,
                cwd=tmp,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
            )
            out = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
            rc = proc.returncode
            if rc < 0:
                status = f"crash (signal {-rc})"
        except subprocess.TimeoutExpired as exc:
            out = (exc.stdout or b"").decode("utf-8", "replace") + (exc.stderr or b"").decode(
                "utf-8", "replace"
            )
            rc = None
            status = f"timeout ({timeout:.0f} s)"
        seconds = time.monotonic() - started
    cases = parse_output(out)
    declared = count_tests(text)
    if not re.search(r"Total\s+\d+\s+Passed", out) and status == "ok":
        status = "aborted" if declared else f"no tcltest cases (exit {rc})"
    return {
        "file": path.stem,
        "status": status,
        "rc": rc,
        "seconds": round(seconds, 2),
        "declared": len(declared),
        "cases": cases,
        "tail": out[-1500:] if status != "ok" else "",
        "not_run": [n for n in declared if n not in cases] if status != "ok" else [],
        "capital_dtypes": bool(CAPITAL_DTYPE_COMPARE.search(text)),
        "handle_names": bool(HANDLE_MATCH.search(text)),
    }


FAIL_START = re.compile(r"^==== (\S+) (.*) FAILED$")
FAIL_END = re.compile(r"^==== (\S+) FAILED$")


def parse_output(out: str) -> dict[str, dict]:
    """tcltest's verbose output -> {case: {"outcome": ..., details}}."""
    cases: dict[str, dict] = {}
    lines = out.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^\+\+\+\+ (\S+) PASSED", line)
        if m:
            cases[m.group(1)] = {"outcome": "pass"}
            i += 1
            continue
        m = re.match(r"^\+\+\+\+ (\S+) SKIPPED: (.*)", line)
        if m:
            cases[m.group(1)] = {"outcome": "skip", "constraints": m.group(2)}
            i += 1
            continue
        m = FAIL_START.match(line)
        if m and not FAIL_END.match(line):
            name = m.group(1)
            j = i + 1
            block = []
            while j < len(lines) and lines[j] != f"==== {name} FAILED":
                block.append(lines[j])
                j += 1
            cases[name] = parse_failure(m.group(2), block)
            i = j + 1
            continue
        i += 1
    return cases


def parse_failure(title: str, block: list[str]) -> dict:
    sections: dict[str, list[str]] = {}
    key = "pre"
    for line in block:
        if line.startswith("==== Contents of test case:"):
            key = "body"
            continue
        if line.startswith("---- "):
            head = line[5:]
            if head.startswith("Result was:"):
                key = "got"
            elif head.startswith("Result should have been"):
                key = "expected"
            elif head.startswith("errorInfo:"):
                key = "errorInfo"
                sections.setdefault(key, []).append(head[len("errorInfo:") :].strip())
                continue
            elif head.startswith("errorCode:"):
                sections["errorCode"] = [head[len("errorCode:") :].strip()]
                key = "after"
                continue
            elif head.startswith("Test generated error"):
                key = "generated"
                sections["mode"] = ["error"]
            elif head.startswith("Test completed normally"):
                key = "after"
                sections["noerror"] = ["1"]
            elif head.startswith("Return code should have been"):
                key = "after"
            else:
                key = "other"
                sections.setdefault("other", []).append(head)
                continue
            continue
        sections.setdefault(key, []).append(line)
    case = {"outcome": "fail", "title": title}
    for k in ("body", "got", "expected", "errorInfo", "errorCode", "other"):
        if k in sections:
            case[k] = "\n".join(sections[k]).strip("\n")
    case["mode"] = "error" if "mode" in sections else "no error" if "noerror" in sections else "result"
    return case


# ---------------------------------------------------------------- classification

FORM_WORDS = re.compile(
    r"unknown option|bad option|wrong # args|invalid command name \"torch::|"
    r"unexpected argument|too many arguments|extra argument|expected .* but got|"
    r"missing value for|requires a value|positional|bad value"
)
DTYPES = re.compile(
    r"\b(Float32|Float64|Float16|Int32|Int64|Int16|Int8|UInt8|Bool|BFloat16|Float|Double|Long|Int)\b"
)


def torch_calls(body: str) -> list[str]:
    """The torch:: commands a body calls, camelCase aliases as snake_case names."""
    return [
        re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", c).lower() for c in re.findall(r"torch::(\w+)", body or "")
    ]


def first_line(text: str) -> str:
    return (text or "").split("\n", 1)[0].strip()


def failing_call(case: dict) -> str:
    """The command line errorInfo names ("while executing ..."), else ''."""
    info = case.get("errorInfo", "")
    m = re.search(r'(?:while executing|invoked from within)\n"(torch::[^\n]*)', info)
    if m:
        return m.group(1).rstrip('"')
    return ""


OUR_ERROR = re.compile(
    r"^(invalid -|invalid \w+ \"|no \w+ named|missing required option|missing value for option|"
    r"wrong # args|bad option|invalid command name|"
    r"unknown option|expected |[^\n]*: must be )"
)
PEER_ERROR = re.compile(
    r"Invalid|invalid|Required|required|[Mm]issing|Unknown|Usage|[Ee]rror|must|[Ee]xpected|not found|"
    r"should|[Cc]annot|not supported|Failed"
)


HANDLE_MATCH = re.compile(r'string match\s+"?\*?[a-z0-9_]+_(scheduler|optimizer|module|scaler)\*')


def same_numbers(got: str, expected: str) -> bool:
    """The same numbers (within float32 precision) written differently: 3.1622777 vs 3.1622776985168457."""
    a, b = (
        got.replace("{", " ").replace("}", " ").split(),
        expected.replace("{", " ").replace("}", " ").split(),
    )
    if not a or len(a) != len(b) or a == b:
        return False
    try:
        return all(abs(float(x) - float(y)) <= 1e-6 * max(1.0, abs(float(y))) for x, y in zip(a, b))
    except ValueError:
        return False


def is_handle(text: str) -> bool:
    return bool(re.fullmatch(r"[a-z_0-9]*[a-z]\d+", text.strip()))


def is_message(text: str) -> bool:
    """Words (an error message), not a value: letters and spaces, not a number list or a handle."""
    text = text.strip()
    if re.fullmatch(r"\*?([A-Za-z_#]+\*)+[A-Za-z_#]*\*?", text) and "*" in text:
        return True  # a glob of words: *Invalid*input*
    if not re.search(r"[A-Za-z]{3,}", text) or " " not in text:
        return False
    return not re.fullmatch(r"[\w.:-]+\d+( [\w.:-]+\d+)*", text)


def expects_error_text(body: str, expected: str) -> bool:
    """The case catches an error and matches its words (or expects the words themselves)."""
    if "catch" not in body:
        return False
    if re.search(r"string match|regexp|string first|eq \"|ne \"", body) and expected.strip() in ("0", "1"):
        return True
    return bool(PEER_ERROR.search(expected)) and " " in expected.strip()


def reviewed(stem: str, name: str) -> tuple[str, str] | None:
    for key in (f"{stem}/{name}", name):
        if key in REVIEWED:
            return REVIEWED[key]
    for key, value in REVIEWED.items():
        if any(c in key for c in "*?[") and fnmatch.fnmatchcase(f"{stem}/{name}", key):
            return value
    return None


STATUS_MATCH = re.compile(
    r'string match\s+"?\*?[A-Z][a-z]+( [a-z_]+)* (saved|loaded|set|created|updated|written)', re.IGNORECASE
)
CAPITAL_DTYPE_MATCH = re.compile(r'string match\s+"?\*?(Float|Int|Bool|Double|Long)')
CAPITAL_DTYPE_COMPARE = re.compile(r'(eq|ne|==|!=)\s+"?(Bool|Float32|Float64|Int32|Int64)\b')


def classify(
    stem: str, name: str, case: dict, capital_dtypes: bool = False, handle_names: bool = False
) -> tuple[str, str]:
    hand = reviewed(stem, name)
    if hand:
        return hand
    body = case.get("body", "")
    got = case.get("got", "")
    expected = case.get("expected", "")
    calls = torch_calls(body)
    if case["mode"] == "error":
        msg = first_line(case.get("errorInfo", ""))
        code = case.get("errorCode", "")
        if code.startswith(("TORCH ARGS FUNCTIONAL", "TORCH ARGS COUNT")):
            return REFUSED, msg
        if "needs a process group" in msg or "must be a rank from 0 to 0" in msg:
            return SEMANTICS, "one process without distributed_init: no peer, ranks above 0 do not exist"
        if "already initialised with other settings" in msg:
            return SEMANTICS, "re-initialising with other settings is an error (distributed_init's page)"
        if msg.startswith('invalid command name "torch::'):
            return MISSING, f"no such command: {msg}"
        if msg.startswith("invalid command name") or 'should be "test name description' in msg:
            return "suite bug", f"calls a function the case never defines: {msg}"
        if code.startswith(("TCL WRONGARGS", "TCL LOOKUP INDEX")) or FORM_WORDS.search(msg):
            return MISSING, msg
        if code.startswith("TORCH ARGS"):
            return MISSING, msg
        if "cuda" in msg.lower() and "available" in msg.lower():
            return "convention: CUDA fallback", msg
        if "load_checkpoint" in body and "load_checkpoint" in failing_call(case):
            return "convention: load_checkpoint order", msg
        if capital_dtypes and re.search(r'\(procedure "', case.get("errorInfo", "")):
            return "convention: dtype", f"a helper compares tensor_dtype with capitalised names: {msg[:120]}"
        if code.startswith("TORCH HANDLE"):
            return "review: handle error", msg
        if code.startswith("TORCH VALUE"):
            return "review: value refused", msg
        return "review: error", msg
    if same_numbers(got, expected):
        return "convention: number format", f"{first_line(expected)[:60]!r} vs {first_line(got)[:60]!r}"
    pair = (expected.strip(), got.strip())
    if pair[0][:2] == pair[1][:2] == "1 " and is_message(pair[0][2:]) and is_message(pair[1][2:]):
        return "convention: error wording", f"{first_line(expected)[:70]!r} vs {first_line(got)[:90]!r}"
    if pair == ("1", "0") and (HANDLE_MATCH.search(body) or (handle_names and "catch" not in body)):
        return "convention: handle names", "the case matches a handle name of the other implementation"
    if pair == ("1", "0") and re.search(
        r'((eq|==)\s+"(ok|OK|success|synchronized|cache_cleared)")|string equal \$\w+ "OK"', body
    ):
        return OK_TEXT, "the case compares the result with a status word"
    if case["mode"] == "no error" or (
        "catch" in body and is_handle(got) and is_message(expected) and not OUR_ERROR.search(got)
    ):
        if re.search(r"catch\s*\{\s*torch::\w+\s*(-\w+\s+[^$\s]+\s*)*\}", body):
            return (
                "convention: module form",
                "no tensor given: the words build the module (a layer for torch::sequential)",
            )
        return "review: accepts what the other refuses", "an error was expected; the call succeeded"
    # the body completed, with another result
    if expected.strip() in ("OK", "ok") and not OUR_ERROR.search(got):
        return "convention: OK", f"OK expected, got {first_line(got)[:60]!r}"
    if got.strip() == "0" and expected.strip() == "1" and STATUS_MATCH.search(body):
        return "convention: OK", "the case matches a status text (saved/loaded ...) in the result"
    if re.fullmatch(r"(Checkpoint|Model|State|Saved|Loaded|Success).*", expected.strip()) and not got.strip():
        return "convention: OK", f"{first_line(expected)!r} expected, empty result"
    if DTYPES.search(expected) and got.lower() == expected.lower():
        return "convention: dtype", f"{expected!r} vs {got!r}"
    if "tensor_dtype" in calls and (
        re.search(r'"\*?(Float|Int|Bool|Double|Long)\w*\*?"', body) or CAPITAL_DTYPE_MATCH.search(body)
    ):
        return "convention: dtype", "the case compares tensor_dtype with a capitalised name"
    if DTYPES.search(expected) and not DTYPES.search(got) and "tensor_dtype" in body:
        return "convention: dtype", f"{first_line(expected)!r} vs {first_line(got)!r}"
    if "tensor_print" in calls:
        return "convention: tensor_print", f"{first_line(got)!r}"
    if re.search(r"\d\.\d{6}\b", expected) and "tensor_item" in calls:
        return "convention: number format", f"{first_line(expected)!r} vs {first_line(got)!r}"
    if OUR_ERROR.search(got) and (is_message(expected) or (not expected.strip() and "catch" in body)):
        return "convention: error wording", f"{first_line(expected)[:70]!r} vs {first_line(got)[:90]!r}"
    if "catch" in body and re.search(r"string match|regexp", body):
        pair = (expected.strip(), got.strip())
        if pair == ("1 1", "1 0"):
            return "convention: error wording", "an error message matched against the other wording"
        if pair == ("1 1", "0 0"):
            if re.search(r"catch\s*\{\s*torch::\w+\s*\}", body):
                return "convention: module form", "no arguments: builds the module"
            return "review: accepts what the other refuses", "an error was expected; the call succeeded"
    if expects_error_text(body, expected):
        if OUR_ERROR.search(got) or got.strip() in ("0", "1"):
            if got.strip() == "1" and expected.strip() == "0":
                return "review: refuses what the other accepts", "the case expects no error"
            return "convention: error wording", f"{first_line(expected)[:70]!r} vs {first_line(got)[:90]!r}"
        return (
            "review: accepts what the other refuses",
            f"{first_line(expected)[:70]!r} vs {first_line(got)[:90]!r}",
        )
    if OUR_ERROR.search(got) and not PEER_ERROR.search(expected):
        return MISSING, first_line(got)
    if "load_checkpoint" in calls:
        return "convention: load_checkpoint order", first_line(got)
    if re.search(r"-device\s+\"?cuda|cuda", body) and ("cuda" in got.lower() or "CUDA" in got):
        return "convention: CUDA fallback", first_line(got)
    if "tensor_to_list" in calls and "{" in got and "{" not in expected:
        return "convention: nested lists", f"{first_line(expected)[:60]!r} vs {first_line(got)[:60]!r}"
    if "tensor_to_list" in calls and (got.strip(), expected.strip()) == ("0", "1") and "catch" not in body:
        return (
            "convention: nested lists",
            "a flat list compared with tensor_to_list's (probably nested) result",
        )
    return "review: result differs", f"{first_line(expected)[:80]!r} vs {first_line(got)[:80]!r}"


# ---------------------------------------------------------------- reporting


def command_of(stem: str) -> str:
    return stem.removesuffix("_test")


def analyse(results: list[dict]) -> dict:
    rows = []
    for res in results:
        for name, case in res["cases"].items():
            row = {"file": res["file"], "case": name, "outcome": case["outcome"]}
            if case["outcome"] == "fail":
                cls, why = classify(res["file"], name, case, res["capital_dtypes"], res["handle_names"])
                row.update(
                    {
                        "class": cls,
                        "why": why,
                        "call": failing_call(case),
                        "mode": case["mode"],
                    }
                )
                for k in ("title", "body", "got", "expected", "errorInfo", "errorCode"):
                    if k in case:
                        row[k] = case[k]
            rows.append(row)
        for name in res["not_run"]:
            cls, why = reviewed(res["file"], name) or (res["status"], "")
            rows.append({"file": res["file"], "case": name, "outcome": "not run", "class": cls, "why": why})
    files = [{k: v for k, v in r.items() if k != "cases"} for r in results]
    return {"files": files, "cases": rows}


def reclassify(data: dict) -> dict:
    """Classify the failures of an earlier --json again (after editing REVIEWED or the heuristics)."""
    flags = {f["file"]: (f.get("capital_dtypes", False), f.get("handle_names", False)) for f in data["files"]}
    for row in data["cases"]:
        if row["outcome"] == "not run":
            row["class"], row["why"] = reviewed(row["file"], row["case"]) or (row["class"], row["why"])
        if row["outcome"] == "fail":
            row["class"], row["why"] = classify(
                row["file"], row["case"], row, *flags.get(row["file"], (False, False))
            )
    return data


def report(data: dict, show: list[str], out=sys.stdout) -> None:
    rows = data["cases"]
    outcomes = collections.Counter(r["outcome"] for r in rows)
    print(
        f"files: {len(data['files'])}   cases: {len(rows)}   "
        + "   ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())),
        file=out,
    )
    bad = [f for f in data["files"] if f["status"] != "ok"]
    for f in bad:
        print(
            f"  file {f['file']}: {f['status']} ({len(f['not_run'])} of {f['declared']} cases not run)",
            file=out,
        )
    classes = collections.Counter(r["class"] for r in rows if r["outcome"] in ("fail", "not run"))
    print("\nfailures per class:", file=out)
    for cls, n in classes.most_common():
        print(f"  {n:6d}  {cls}", file=out)
    per_cmd: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in rows:
        if r["outcome"] in ("fail", "not run"):
            per_cmd[command_of(r["file"])][r["class"]] += 1
    print("\nfailures per command (most first):", file=out)
    for cmd, cnt in sorted(per_cmd.items(), key=lambda kv: -sum(kv[1].values())):
        parts = ", ".join(f"{c} {n}" for c, n in cnt.most_common())
        print(f"  {sum(cnt.values()):4d}  {cmd}: {parts}", file=out)
    for cls in show:
        picked = [
            r
            for r in rows
            if r.get("class", "") == cls or (cls == "review" and r.get("class", "").startswith("review"))
        ]
        print(f"\n{cls} ({len(picked)}):", file=out)
        for r in picked:
            form = r.get("call") or next(
                (ln.strip() for ln in r.get("body", "").split("\n") if "torch::" in ln), ""
            )
            print(f"  {r['file']}/{r['case']}: {form[:150]}", file=out)
            print(f"      -> {r.get('why', '')[:220]}", file=out)


def compare(old: dict, new: dict, out=sys.stdout) -> int:
    before = {(r["file"], r["case"]): r["outcome"] for r in old["cases"]}
    now = {(r["file"], r["case"]): r for r in new["cases"]}
    regressed = [
        now[k] for k, o in before.items() if o == "pass" and k in now and now[k]["outcome"] != "pass"
    ]
    fixed = [k for k, o in before.items() if o != "pass" and k in now and now[k]["outcome"] == "pass"]
    print(
        f"\ncompared with the earlier run: {len(fixed)} now pass, {len(regressed)} passed before and fail now",
        file=out,
    )
    for r in regressed:
        print(
            f"  REGRESSED {r['file']}/{r['case']}: {r.get('class', r['outcome'])}: {r.get('why', '')[:200]}",
            file=out,
        )
    return len(regressed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "dir", type=pathlib.Path, help="the test files, or an earlier --json to classify again"
    )
    parser.add_argument("--only", default="", help="comma- or space-separated names (acos or acos_test)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=pathlib.Path, help="write every case here")
    parser.add_argument("--compare", type=pathlib.Path, help="an earlier --json: list regressions")
    parser.add_argument(
        "--show",
        action="append",
        default=None,
        help=f'list the cases of a class (default: "{MISSING}"; "review" for every review class)',
    )
    args = parser.parse_args()
    if args.dir.suffix == ".json":
        data = reclassify(json.loads(args.dir.read_text(encoding="utf-8")))
        report(data, args.show if args.show is not None else [MISSING])
        if args.compare:
            compare(json.loads(args.compare.read_text(encoding="utf-8")), data)
        return 0
    files = sorted(args.dir.glob("*_test.tcl"))
    if args.only:
        want = {n if n.endswith("_test") else n + "_test" for n in re.split(r"[,\s]+", args.only) if n}
        files = [f for f in files if f.stem in want]
    if not files:
        print(f"no *_test.tcl files in {args.dir}", file=sys.stderr)
        return 2
    if not shutil.which("tclsh"):
        print("tclsh not found", file=sys.stderr)
        return 2
    tclpath = tcl_path()
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_file, f, tclpath, args.timeout): f for f in files}
        for fut in concurrent.futures.as_completed(futures):
            results.append(fut.result())
    results.sort(key=lambda r: r["file"])
    data = analyse(results)
    data["dir"] = str(args.dir)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1), encoding="utf-8")
    report(data, args.show if args.show is not None else [MISSING])
    if args.compare:
        compare(json.loads(args.compare.read_text(encoding="utf-8")), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
