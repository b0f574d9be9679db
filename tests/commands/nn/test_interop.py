"""Models in and out (torch::jit_*, export_*, onnx_*, load_state_dict -strict/-map): models built
and trained in Python load in a real tclsh and give Python's outputs; a model trained from Tcl is
exported each way and plain Python reproduces its outputs; damaged files are clear Tcl errors;
the worked examples of docs/interop.md run as written."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import pytest
import torch
from conftest import ROOT, run_tclsh
from safetensors.torch import load_file, save_file
from torch import nn

pytest.importorskip("onnxruntime")

# float32: outputs of another process (its thread count may block a matmul differently) or
# another runtime (ONNX Runtime) agree to this relative difference
REL = 1e-6


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class SmallTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(6, 16)
        layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(16, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(x)).mean(1))


def _train(model: nn.Module, x: torch.Tensor, steps: int = 5) -> nn.Module:
    target = torch.randn(model(x).shape, generator=torch.Generator().manual_seed(3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), target).backward()
        opt.step()
    return model.eval()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item()


def _tcl(script: str, cwd) -> str:
    proc = run_tclsh(f"package require tcltorch\ncd {{{cwd}}}\n{script}")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def python_models(tmp_path_factory):
    """Both models trained in Python and saved every way, with inputs and Python's outputs."""
    d = tmp_path_factory.mktemp("from_python")
    torch.manual_seed(0)
    cases = {
        "cnn": (SmallCNN(), torch.randn(4, 1, 8, 8)),
        "tf": (SmallTransformer(), torch.randn(4, 5, 6)),
    }
    outputs = {}
    for name, (model, x) in cases.items():
        _train(model, x)
        save_file({"tensor": x}, d / f"{name}_x.safetensors")  # what torch::tensor_load reads
        torch.jit.script(model).save(str(d / f"{name}.pt"))
        program = torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.export.save(program, str(d / f"{name}.pt2"))
        torch.onnx.export(model, (x,), str(d / f"{name}.onnx"), dynamo=True, input_names=["x"])
        save_file(model.state_dict(), d / f"{name}.safetensors")
        with torch.no_grad():
            outputs[name] = model(x)
    return d, outputs


@pytest.mark.slow
def test_python_models_give_python_outputs_in_tclsh(python_models):
    d, outputs = python_models
    script = """
    foreach name {cnn tf} {
        set x [torch::tensor_load ${name}_x.safetensors]
        set m [torch::jit_load $name.pt]
        torch::tensor_save [torch::layer_forward $m $x] ${name}_jit.safetensors
        set p [torch::export_load $name.pt2]
        torch::tensor_save [torch::layer_forward $p $x] ${name}_pt2.safetensors
        set s [torch::onnx_load $name.onnx]
        torch::tensor_save [torch::layer_forward $s -feeds [list x $x]] ${name}_onnx.safetensors
        puts "$name [string match scriptmodule* $m] [string match exportedmodule* $p] [string match onnxsession* $s]"
    }
    # the state dict by name: the CNN rebuilt from Tcl (a flat sequential) loads Python's keys
    set net [torch::sequential [torch::conv2d 1 4 3 -padding 1] [torch::relu] [torch::maxpool2d 2] \\
        [torch::flatten] [torch::linear 64 3]]
    puts [catch {torch::load_state_dict $net cnn.safetensors} msg]
    puts $msg
    torch::load_state_dict $net cnn.safetensors -map {{^features\\.0\\.} 0. {^head\\.1\\.} 4.}
    torch::model_eval $net
    set x [torch::tensor_load cnn_x.safetensors]
    torch::tensor_save [torch::layer_forward $net $x] cnn_sd.safetensors
    """
    out = _tcl(script, d)
    assert "cnn 1 1 1" in out and "tf 1 1 1" in out
    assert (
        "does not fit sequential" in out
        and "missing 0.weight" in out
        and "unexpected " in out
        and "features.0.weight" in out
    )
    for name, want in outputs.items():
        for kind in ("jit", "pt2", "onnx"):
            got = load_file(d / f"{name}_{kind}.safetensors")["tensor"]
            assert got.shape == want.shape and _rel(got, want) <= REL, (name, kind, _rel(got, want))
    got = load_file(d / "cnn_sd.safetensors")["tensor"]
    assert _rel(got, outputs["cnn"]) <= REL


@pytest.mark.slow
def test_torchscript_from_python_fine_tunes_with_adafactor(python_models):
    d, _ = python_models
    out = _tcl(
        """
        torch::manual_seed 1
        set m [torch::jit_load cnn.pt]
        torch::model_train $m
        set x [torch::tensor_load cnn_x.safetensors]
        set y [torch::randn {4 3}]
        set opt [torch::optimizer_adafactor [torch::layer_parameters $m] -lr 0.01]
        set losses {}
        for {set i 0} {$i < 20} {incr i} {
            torch::optimizer_zero_grad $opt
            set loss [torch::mse_loss [torch::layer_forward $m $x] $y]
            torch::tensor_backward $loss
            torch::optimizer_step $opt
            lappend losses [torch::tensor_item $loss]
        }
        puts "losses $losses"
        torch::save_state_dict $m tuned.safetensors
        """,
        d,
    )
    losses = [float(v) for v in re.search(r"losses (.*)", out).group(1).split()]
    assert losses[-1] < 0.7 * losses[0], losses
    tuned = load_file(d / "tuned.safetensors")
    original = torch.jit.load(str(d / "cnn.pt")).state_dict()
    assert set(tuned) == set(original)
    assert not torch.equal(tuned["head.1.weight"], original["head.1.weight"])


@pytest.mark.slow
def test_tcl_model_out_to_python_each_way(tmp_path):
    _tcl(
        """
        torch::manual_seed 0
        set net [torch::sequential [torch::linear 4 8] [torch::tanh] [torch::linear 8 2]]
        set x [torch::randn {16 4}]
        set y [torch::randn {16 2}]
        set opt [torch::optimizer_adafactor [torch::layer_parameters $net] -lr 0.01]
        for {set i 0} {$i < 10} {incr i} {
            torch::optimizer_zero_grad $opt
            torch::tensor_backward [torch::mse_loss [torch::layer_forward $net $x] $y]
            torch::optimizer_step $opt
        }
        torch::model_eval $net
        set probe [torch::randn {5 4}]
        torch::tensor_save $probe probe.safetensors
        torch::tensor_save [torch::layer_forward $net $probe] out.safetensors
        torch::jit_save $net net.pt
        torch::jit_save [torch::jit_trace $net [list $x]] traced.pt
        torch::export_save $net [list [torch::ones {1 4}]] net.pt2 -dynamicBatch 1
        torch::onnx_export $net [list [torch::ones {3 4}]] net.onnx -dynamicBatch 1 -inputNames x -outputNames y
        torch::save_state_dict $net net.safetensors
        """,
        tmp_path,
    )
    probe = load_file(tmp_path / "probe.safetensors")["tensor"]
    want = load_file(tmp_path / "out.safetensors")["tensor"]
    code = f"""
import sys, torch, numpy as np, onnxruntime as ort
from safetensors.torch import load_file
probe = load_file({str(tmp_path / "probe.safetensors")!r})["tensor"]
want = load_file({str(tmp_path / "out.safetensors")!r})["tensor"]
d = {str(tmp_path)!r}
outs = {{}}
outs["jit"] = torch.jit.load(d + "/net.pt")(probe)
outs["traced"] = torch.jit.load(d + "/traced.pt")(probe)
outs["pt2"] = torch.export.load(d + "/net.pt2").module()(probe)
s = ort.InferenceSession(d + "/net.onnx", providers=["CPUExecutionProvider"])
outs["onnx"] = torch.from_numpy(s.run(["y"], {{"x": probe.numpy()}})[0])
net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
net.load_state_dict(load_file(d + "/net.safetensors"))
outs["state_dict"] = net(probe)
for k, v in outs.items():
    print(k, ((v - want).abs().max() / want.abs().max()).item())
# dynamic batch: one row and 33 rows
for b in (1, 33):
    xb = torch.randn(b, 4)
    ref = torch.jit.load(d + "/net.pt")(xb)
    print("batch", b, torch.export.load(d + "/net.pt2").module()(xb).shape[0],
          s.run(None, {{"x": xb.numpy()}})[0].shape[0])
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    diffs = dict(line.split() for line in proc.stdout.splitlines() if not line.startswith("batch"))
    assert set(diffs) == {"jit", "traced", "pt2", "onnx", "state_dict"}
    for kind in ("jit", "traced", "pt2", "state_dict", "onnx"):
        assert float(diffs[kind]) <= REL, (kind, diffs)
    assert "batch 1 1 1" in proc.stdout and "batch 33 33 33" in proc.stdout
    assert probe.shape == (5, 4) and want.shape == (5, 2)


def _bad_files(d) -> dict[str, str]:
    """Truncated and garbage files of each kind, from small good ones."""
    net = nn.Sequential(nn.Linear(3, 2))
    torch.jit.script(net).save(str(d / "good.pt"))
    torch.export.save(torch.export.export(net, (torch.ones(2, 3),)), str(d / "good.pt2"))
    torch.onnx.export(net, (torch.ones(2, 3),), str(d / "good.onnx"), dynamo=False)
    save_file(net.state_dict(), d / "good.safetensors")
    files = {}
    for ext in ("pt", "pt2", "onnx", "safetensors"):
        blob = (d / f"good.{ext}").read_bytes()
        (d / f"trunc.{ext}").write_bytes(blob[: len(blob) // 2])
        (d / f"garbage.{ext}").write_bytes(b"\x80\x04not a model at all" * 20)
        (d / f"empty.{ext}").write_bytes(b"")
        files[ext] = blob
    return files


def test_damaged_files_are_clear_tcl_errors(tmp_path):
    _bad_files(tmp_path)
    out = _tcl(
        """
        set net [torch::sequential [torch::linear 3 2]]
        proc try {args} {
            if {[catch {uplevel 1 $args} msg opts]} {
                puts "ERR [dict get $opts -errorcode] | $msg"
            } else { puts "OK $msg" }
        }
        foreach kind {trunc garbage empty} {
            try torch::jit_load $kind.pt
            try torch::export_load $kind.pt2
            try torch::onnx_load $kind.onnx
            try torch::onnx_info $kind.onnx
            try torch::load_state_dict $net $kind.safetensors -strict 0
            try torch::state_dict_keys $kind.safetensors
        }
        try torch::jit_load good.safetensors
        try torch::jit_load good.pt2
        try torch::export_load good.pt
        try torch::onnx_load good.pt
        try torch::jit_load nosuch.pt
        try torch::export_load .
        try torch::jit_load good.pt
        try torch::export_load good.pt2
        try torch::onnx_load good.onnx
        """,
        tmp_path,
    )
    lines = out.strip().splitlines()
    errors = [line for line in lines if line.startswith("ERR")]
    assert len(errors) == 3 * 6 + 6, out
    for line in errors[:-2]:
        assert "TORCH VALUE -file" in line and "invalid -file" in line, line
    assert any(
        "is a torch.save file" in e or "not TorchScript" in e or "not a TorchScript" in e for e in errors
    )
    assert any("is a TorchScript archive, not a .pt2" in e for e in errors), out
    assert "POSIX ENOENT" in errors[-2] and "POSIX EISDIR" in errors[-1], out
    oks = [line for line in lines if line.startswith("OK")]
    assert (
        len(oks) == 3 and "scriptmodule" in oks[0] and "exportedmodule" in oks[1] and "onnxsession" in oks[2]
    )


def test_pt2_with_pickled_code_is_refused(tmp_path):
    """A .pt2 whose sample-inputs record is a pickle that would run code: refused, nothing runs."""
    net = nn.Linear(3, 2)
    torch.export.save(torch.export.export(net, (torch.ones(2, 3),)), str(tmp_path / "ok.pt2"))

    class Boom:
        def __reduce__(self):
            return (print, ("PWNED",))

    import io
    import pickle

    evil = io.BytesIO()
    torch.save({"x": Boom()}, evil, pickle_module=pickle)
    with zipfile.ZipFile(tmp_path / "ok.pt2") as src, zipfile.ZipFile(tmp_path / "evil.pt2", "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data/sample_inputs/model.pt"):
                data = evil.getvalue()
            dst.writestr(item, data)
    out = _tcl(
        """
        puts [catch {torch::export_load evil.pt2} msg]
        puts $msg
        """,
        tmp_path,
    )
    assert out.startswith("1\n") and "refused" in out and "sample inputs" in out, out
    assert "PWNED" not in out


def test_onnx_session_inputs_outputs_by_name(tmp_path):
    class TwoInTwoOut(nn.Module):
        def forward(self, a, b):
            return a + b, a * b

    torch.onnx.export(
        TwoInTwoOut(),
        (torch.ones(2, 3), torch.ones(2, 3)),
        str(tmp_path / "two.onnx"),
        dynamo=False,
        input_names=["a", "b"],
        output_names=["sum", "prod"],
    )
    out = _tcl(
        """
        set s [torch::onnx_load two.onnx]
        set a [torch::tensor_create {{1 2 3} {4 5 6}}]
        set b [torch::tensor_create {{2 2 2} {3 3 3}}]
        lassign [torch::layer_forward $s $a $b] sum prod
        puts [torch::tensor_to_list $sum]
        puts [torch::tensor_to_list $prod]
        puts [torch::tensor_to_list [torch::layer_forward $s -feeds [list b $b a $a] -outputs prod]]
        set both [torch::layer_forward -layer $s -feeds [list a $a b $b] -outputs {prod sum}]
        puts [torch::tensor_to_list [lindex $both 1]]
        puts [dict get [lindex [dict get [torch::onnx_info $s] inputs] 1] name]
        foreach bad [list [list $s $a] [list $s -feeds [list z $a]] [list $s $a $b -outputs nope] \\
                [list $s [torch::tensor_create {1.0 2.0} -dtype float64] $b] [list $s -bogus 1] \\
                [list $a $b]] {
            catch {torch::layer_forward {*}$bad} msg
            puts "E $msg"
        }
        puts [catch {torch::onnx_load two.onnx -providers NoSuchProvider} msg]
        puts $msg
        puts [catch {torch::layer_parameters $s} msg]
        puts $msg
        """,
        tmp_path,
    )
    lines = out.strip().splitlines()
    assert lines[0] == "{3.0 4.0 5.0} {7.0 8.0 9.0}"
    assert lines[1] == "{2.0 4.0 6.0} {12.0 15.0 18.0}"
    assert lines[2] == lines[1] and lines[3] == lines[0]
    assert lines[4] == "b"
    errs = [line for line in lines if line.startswith("E ")]
    assert "missing input b" in errs[0]
    assert 'no input "z"' in errs[1]
    assert 'no output "nope"' in errs[2]
    assert 'input "a" must be float32, not float64' in errs[3]
    assert 'bad option "-bogus"' in errs[4]
    assert '"tensor' in errs[5] and "expected a module" in errs[5]
    assert "provider NoSuchProvider is not available" in out
    assert "expected a module" in lines[-1]


def test_state_dict_by_name_strict_map_and_report(tmp_path):
    py = nn.Sequential()
    py.add_module("body", nn.Linear(4, 3))
    py.add_module("act", nn.ReLU())
    py.add_module("out", nn.Linear(3, 2))
    torch.save(py.state_dict(), tmp_path / "py.pt")
    save_file(py.state_dict(), tmp_path / "py.safetensors")
    out = _tcl(
        """
        set net [torch::sequential [torch::linear 4 3] [torch::relu] [torch::linear 3 5]]
        set before [torch::tensor_to_list [lindex [torch::layer_parameters $net] 0]]
        puts [lsort [torch::state_dict_keys py.pt]]
        puts [dict get [torch::state_dict_keys py.safetensors -details 1] out.weight]
        # strict: every difference listed, nothing changed
        puts [catch {torch::load_state_dict $net py.pt -map {^body 0 ^out 2}} msg]
        puts $msg
        puts [expr {[torch::tensor_to_list [lindex [torch::layer_parameters $net] 0]] eq $before}]
        # non-strict: what fits loads, the rest is reported
        set report [torch::load_state_dict $net py.safetensors -map {^body 0 ^out 2} -strict 0]
        puts $report
        puts [expr {[torch::tensor_to_list [lindex [torch::layer_parameters $net] 0]] eq $before}]
        puts [catch {torch::load_state_dict $net py.pt -map {^body 0 ^out 0}} msg]
        puts $msg
        """,
        tmp_path,
    )
    lines = out.strip().splitlines()
    assert lines[0] == "body.bias body.weight out.bias out.weight"
    assert lines[1] == "{2 3} float32"
    assert lines[2] == "1"
    assert "mismatched 2.weight ({2 3} in the file, {5 3} in the model)" in lines[3]
    assert lines[4] == "1"
    assert lines[5] == "loaded 2 missing {} unexpected {} mismatched {{2.weight {2 3} {5 3}} {2.bias 2 5}}"
    assert lines[6] == "0"
    assert lines[7] == "1" and 'invalid -map "^body 0 ^out 0": renames both' in lines[8]


def test_missing_extra_is_named(tmp_path):
    """Without onnxruntime the ONNX commands say which extra to install."""
    code = """
import sys
sys.modules["onnxruntime"] = None
sys.modules["onnxscript"] = None
import tcltorch
interp = tcltorch.Interp()
for script in ("torch::onnx_load x.onnx", "torch::onnx_export [torch::linear 2 2] [list [torch::ones {1 2}]] x.onnx"):
    try:
        interp.eval(script)
    except Exception as exc:
        print(exc)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("pip install 'tcltorch[onnx]'") == 2, proc.stdout


@pytest.mark.slow
def test_worked_examples_in_docs_run(tmp_path):
    """docs/interop.md: each ```python and ```tcl block of both examples runs, in order, in one folder."""
    text = (ROOT / "docs" / "interop.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(python|tcl)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert [k for k, _ in blocks].count("tcl") >= 2 and [k for k, _ in blocks].count("python") >= 2
    for number, (kind, code) in enumerate(blocks, 1):
        if kind == "python":
            script = tmp_path / f"block{number}.py"  # a file: torch.jit.script reads the source
            script.write_text(code, encoding="utf-8")
            proc = subprocess.run(
                [sys.executable, str(script)],
                check=False,
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp_path,
            )
        else:
            proc = run_tclsh(f"cd {{{tmp_path}}}\n{code}")
        assert proc.returncode == 0 and "Error" not in proc.stderr, (
            f"block {number} ({kind}) failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}\n---\n{code}"
        )
