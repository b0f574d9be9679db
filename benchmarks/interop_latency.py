"""Per-call inference latency of a loaded model: from Tcl (``torch::layer_forward`` through
tcltorch.Interp) against the same call from Python, for TorchScript, torch.export (.pt2) and
ONNX Runtime, at batch 1 and batch 64.

Rounds are interleaved (Tcl, Python, Tcl, Python ...) so that drift of the machine hits both
alike; each round times a block of calls and keeps the per-call mean.  Reported: the Tcl/Python
ratio of each round's times, min / median / max over the rounds.  Goal: <= 1.1x at batch 1.

Usage: .venv/bin/python benchmarks/interop_latency.py [--rounds N] [--calls N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import tcltorch
from tcltorch import interop


def model() -> nn.Module:
    """A small CNN classifier (28x28 inputs): ~0.1 ms per call at batch 1 on a CPU core."""
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10),
    ).eval()


def build(folder: Path) -> None:
    net = model()
    x = torch.randn(2, 1, 28, 28)
    torch.jit.script(net).save(str(folder / "m.pt"))
    dim = torch.export.Dim("batch")
    torch.export.save(torch.export.export(net, (x,), dynamic_shapes=({0: dim},)), str(folder / "m.pt2"))
    with open(folder / "m.onnx", "wb") as stream:
        interop.onnx_export(net, [x], stream, dynamic_batch=True, input_names=["x"])


def timed(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder)
        tcl = tcltorch.Interp()
        tcl.eval(f"cd {{{folder}}}")
        python_models = {
            "TorchScript": torch.jit.load(str(folder / "m.pt")),
            ".pt2": interop.exported_module(interop.load_exported(str(folder / "m.pt2"))),
        }
        session = interop.OnnxSession(str(folder / "m.onnx"))
        ort_session, name = session.session, session.input_names[0]

        def onnx_python(x: torch.Tensor) -> torch.Tensor:  # what a Python program writes
            return torch.from_numpy(ort_session.run(None, {name: x.numpy()})[0])

        handles = {
            "TorchScript": tcl.eval("torch::jit_load m.pt"),
            ".pt2": tcl.eval("torch::export_load m.pt2"),
            "ONNX Runtime": tcl.eval("torch::onnx_load m.onnx"),
        }
        print(f"torch {torch.__version__}, 1 thread; {args.rounds} rounds x {args.calls} calls, no_grad")
        print(f"{'model':13s} {'batch':>5s} {'python us':>10s} {'tcl us':>8s}  ratio min/median/max")
        rows = []
        for batch in (1, 64):
            x = torch.randn(batch, 1, 28, 28)
            tcl.eval(f"set x [torch::randn {{{batch} 1 28 28}}]")
            for label, handle in handles.items():
                if label == "ONNX Runtime":

                    def py(x=x):
                        return onnx_python(x)

                else:
                    module = python_models[label]

                    def py(module=module, x=x):
                        return module(x)

                # Tcl times its own loop; the result handle is freed each call, as a script would
                loop = (
                    f"torch::no_grad {{time {{torch::free [torch::layer_forward {handle} $x]}} {args.calls}}}"
                )
                with torch.no_grad():
                    timed(py, 20)
                    tcl.eval(loop.replace(str(args.calls), "20"))
                    ratios, py_times, tcl_times = [], [], []
                    for _ in range(args.rounds):
                        t_tcl = float(tcl.eval(loop).split()[0]) * 1e-6
                        t_py = timed(py, args.calls)
                        ratios.append(t_tcl / t_py)
                        py_times.append(t_py)
                        tcl_times.append(t_tcl)
                row = (
                    f"{label:13s} {batch:5d} {statistics.median(py_times) * 1e6:10.1f} "
                    f"{statistics.median(tcl_times) * 1e6:8.1f}  "
                    f"{min(ratios):.3f} / {statistics.median(ratios):.3f} / {max(ratios):.3f}"
                )
                rows.append(row)
                print(row, flush=True)


if __name__ == "__main__":
    main()
