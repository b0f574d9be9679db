"""Seeing training: TensorBoard event files read back with TensorBoard's own reader, a real
TensorBoard server's HTTP API, plots written to PNG/SVG, and the Tk chart (tcltorch::chart)
under a virtual display (Xvfb, started here)."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import ROOT, tclsh_env

import tcltorch
from tcltorch.visualize import MissingExtra, plot_series, smooth

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
pytest.importorskip("matplotlib", reason="the plot extra is not installed")

from PIL import Image  # matplotlib depends on pillow
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def tcl_error(interp, script):
    with pytest.raises(Exception) as info:
        interp.eval(script)
    return str(info.value), list(info.value.errorcode)


def accumulator(path) -> EventAccumulator:
    acc = EventAccumulator(
        str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}
    )
    acc.Reload()
    return acc


# --- TensorBoard event files -------------------------------------------------------------------


def test_every_kind_of_event_reads_back(tmp_path):
    interp = tcltorch.Interp()
    logdir = tmp_path / "run"
    interp.eval(f"set w [torch::summary_writer {{{logdir}}}]")
    for step, value in enumerate([2.0, 1.5, 1.25]):
        assert interp.eval(f"torch::add_scalar $w train/loss {value}") == str(step)
    assert (
        interp.eval("torch::add_scalar $w train/loss [torch::tensor_create 0.5 -dtype float64] -step 10")
        == "10"
    )
    assert interp.eval("torch::add_scalar $w train/loss 0.25") == "11"  # counts on from the last step
    assert interp.eval("torch::add_scalars $w loss {train 0.8 held 0.9} -step 4") == "4"
    torch.manual_seed(0)
    weights = torch.randn(1000, dtype=torch.float64)
    h = interp.put(weights)
    interp.eval(f"torch::add_histogram $w weights {h} -step 3")
    image = torch.zeros(3, 6, 8)
    image[0] = 1.0  # red
    interp.eval(f"torch::add_image $w sample {interp.put(image)} -step 2")
    interp.eval(
        f"torch::add_image $w hwc {interp.put(torch.full((5, 7, 3), 128, dtype=torch.uint8))} -dataFormats HWC"
    )
    interp.eval('torch::add_text $w notes "**Adafactor**, batch 64" -step 1')
    interp.eval("set net [torch::sequential [torch::linear 4 8] [torch::relu] [torch::linear 8 2]]")
    interp.eval("torch::add_graph $w $net [torch::randn {2 4}]")
    run = interp.eval(
        "torch::add_hparams $w {lr 0.01 optimizer adafactor layers 2} {accuracy 0.97} -runName trial1"
    )
    interp.eval("torch::writer_close $w")

    acc = accumulator(logdir)
    tags = acc.Tags()
    assert [(e.step, e.value) for e in acc.Scalars("train/loss")] == [
        (0, 2.0),
        (1, 1.5),
        (2, 1.25),
        (10, 0.5),
        (11, 0.25),
    ]
    histo = acc.Histograms("weights")
    assert [e.step for e in histo] == [3]
    value = histo[0].histogram_value
    assert value.num == 1000
    assert math.isclose(value.min, weights.min().item(), rel_tol=1e-9)
    assert math.isclose(value.max, weights.max().item(), rel_tol=1e-9)
    assert math.isclose(value.sum, weights.sum().item(), rel_tol=1e-9, abs_tol=1e-9)
    assert set(tags["images"]) == {"sample", "hwc"}
    sample = acc.Images("sample")[0]
    assert (sample.step, sample.width, sample.height) == (2, 8, 6)
    import io

    pixels = Image.open(io.BytesIO(sample.encoded_image_string)).convert("RGB")
    assert pixels.getpixel((3, 3)) == (255, 0, 0)
    hwc = acc.Images("hwc")[0]
    assert (hwc.width, hwc.height) == (7, 5)
    text = acc.Tensors("notes/text_summary")
    assert text[0].step == 1
    assert text[0].tensor_proto.string_val[0].decode() == "**Adafactor**, batch 64"
    graph = acc.Graph()
    ops = {node.op for node in graph.node}
    assert any("linear" in op.lower() for op in ops), ops
    # add_scalars: one run per series, the main tag in each (as PyTorch writes them)
    for name, number in (("train", 0.8), ("held", 0.9)):
        sub = accumulator(logdir / f"loss_{name}")
        events = sub.Scalars("loss")
        assert [e.step for e in events] == [4]
        assert math.isclose(events[0].value, number, rel_tol=1e-6)
    # hparams: the plugin's session start info names every hyper-parameter
    assert Path(run) == logdir / "trial1"
    from tensorboard.plugins.hparams import plugin_data_pb2

    hp = accumulator(run)
    content = hp.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    values = start.session_start_info.hparams
    assert values["lr"].number_value == pytest.approx(0.01)
    assert values["layers"].number_value == 2
    assert values["optimizer"].string_value == "adafactor"
    assert [(e.step, round(e.value, 6)) for e in hp.Scalars("accuracy")] == [(0, 0.97)]
    # the history keeps the scalars logged through the writer
    assert interp.eval("dict keys [torch::writer_history $w]") == "train/loss loss/train loss/held"


def test_free_and_scope_close_the_writer(tmp_path):
    interp = tcltorch.Interp()
    a, b = tmp_path / "a", tmp_path / "b"
    interp.eval(f"set w [torch::summary_writer {{{a}}} -flushSecs 3600]; torch::add_scalar $w x 1.5")
    interp.eval("torch::free $w")  # closing flushes: the event is on disk now
    assert [e.value for e in accumulator(a).Scalars("x")] == [1.5]
    assert "writer" not in interp.eval("torch::handles")
    interp.eval(f"torch::scope {{ torch::add_scalar [torch::summary_writer {{{b}}} -flushSecs 3600] y 2.5 }}")
    assert [e.value for e in accumulator(b).Scalars("y")] == [2.5]


def test_foreach_batch_logs_the_loss(tmp_path):
    interp = tcltorch.Interp()
    interp.eval(f"set w [torch::summary_writer {{{tmp_path}}}]; set X [torch::arange 10 -dtype float32]")
    before = interp.eval("torch::handles")
    for epoch in (1, 2):
        interp.eval(
            f"torch::foreach_batch {{xb}} [list $X] -batchSize 4 -epoch {epoch} -log [list $w loss] "
            "{ torch::tensor_mean $xb }"
        )
    assert interp.eval("torch::handles") == before  # the body's results were freed
    interp.eval("torch::writer_close $w")
    acc = accumulator(tmp_path)
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [
        (0, 1.5),
        (1, 5.5),
        (2, 8.5),
        (3, 1.5),
        (4, 5.5),
        (5, 8.5),
    ]
    means = [(e.step, e.value) for e in acc.Scalars("loss/epoch_mean")]
    assert [s for s, _ in means] == [1, 2]
    assert all(math.isclose(v, (1.5 + 5.5 + 8.5) / 3, rel_tol=1e-6) for _, v in means)
    message, code = tcl_error(
        interp,
        f"set w2 [torch::summary_writer {{{tmp_path / 'c'}}}]\n"
        "torch::foreach_batch {xb} [list $X] -batchSize 4 -log $w2 { set text hello }",
    )
    assert "the body must end with the value to log" in message and '"hello"' in message
    assert code[:2] == ["TORCH", "VALUE"]


def test_bad_input_is_a_clear_error(tmp_path):
    interp = tcltorch.Interp()
    interp.eval(f"set w [torch::summary_writer {{{tmp_path}}}]")
    interp.call("set", "nan", interp.put(torch.tensor([1.0, math.nan])))
    cases = {
        "torch::add_scalar $w loss abc": "must be a number or a one-element tensor handle",
        "torch::add_scalar $w loss [torch::ones {2}]": "must be a number or a one-element tensor (it has 2)",
        "torch::add_scalar $w loss 1 -step -1": "must be an integer >= 0",
        "torch::add_scalars $w loss {train}": "must be a dict of series names and numbers",
        "torch::add_histogram $w h [torch::zeros {0}]": "must have at least one element",
        "torch::add_histogram $w h $nan": "must hold finite numbers only",
        "torch::add_histogram $w h [torch::randn {5}] -bins lots": "must be a bin count >= 1 or one of",
        "torch::add_image $w i [torch::rand {8 8}]": "must have 3 dimensions for -dataFormats CHW (it has 2)",
        "torch::add_image $w i [torch::rand {2 8 8}]": "must have 1, 3 or 4 channels (it has 2)",
        "torch::add_image $w i [torch::rand {3 8 8}] -dataFormats NCHW": "must be CHW, HWC or HW",
        "torch::add_hparams $w {lr} {acc 1}": "must be a non-empty dict of names and values",
        "torch::add_hparams $w {lr 1} {acc high}": 'must map each name to a number ("acc" is "high")',
        "torch::add_hparams $w {lr 1} {acc 1} -runName ../escape": "must be a relative folder name",
        "torch::add_graph $w [torch::linear 4 2] [torch::randn {2 3}]": "could not be traced",
        "torch::summary_writer -chart .nochart": "must be a chart made by tcltorch::chart::create",
        "torch::plot_series loss.gif -series {a {1 2}}": "must be a file name ending in .png or .svg",
        "torch::plot_series loss.png": "nothing to plot",
        "torch::plot_series loss.png -series {a {1 0 2}} -logScale 1": "a log scale needs positive values",
        "torch::plot_series loss.png -series {a {1 x}}": "must be a number or a {step value} pair",
        "torch::plot_series loss.png -writer $w -tags nope": 'must name scalar series the writer logged ("nope"',
        "torch::add_scalar [torch::linear 2 2] loss 1": "expected a writer",
    }
    for script, expected in cases.items():
        message, _ = tcl_error(interp, script)
        assert expected in message, (script, message)
    # nothing was logged by the failed calls
    assert interp.eval("torch::writer_history $w") == ""
    interp.eval("torch::writer_close $w; torch::writer_close $w")  # twice is harmless
    message, code = tcl_error(interp, "torch::add_scalar $w loss 1")
    assert "is closed" in message and code == ["TORCH", "WRITER", "CLOSED"]


def test_missing_extras_name_the_pip_command(tmp_path, monkeypatch):
    interp = tcltorch.Interp()
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    message, code = tcl_error(interp, f"torch::summary_writer {{{tmp_path}}}")
    assert "pip install 'tcltorch[tensorboard]'" in message
    assert code == ["TORCH", "MISSING", "tensorboard"]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    message, code = tcl_error(interp, f"torch::plot_series {{{tmp_path / 'x.png'}}} -series {{a {{1 2}}}}")
    assert "pip install 'tcltorch[plot]'" in message and code == ["TORCH", "MISSING", "plot"]
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(MissingExtra, match=r"tcltorch\[plot\]"):
        plot_series({"a": ([0, 1], [1.0, 2.0])}, tmp_path / "y.svg")


# --- a real TensorBoard server ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensorboard_server_serves_the_logged_series(tmp_path):
    interp = tcltorch.Interp()
    interp.eval(f"set w [torch::summary_writer {{{tmp_path}}}]")
    losses = [2.0 / (1 + i) for i in range(20)]
    for value in losses:
        interp.eval(f"torch::add_scalar $w train/loss {value}")
    interp.eval("torch::add_scalar $w held/accuracy 0.93 -step 19; torch::writer_close $w")
    exe = shutil.which("tensorboard", path=str(Path(sys.executable).parent)) or shutil.which("tensorboard")
    if exe is None:
        pytest.skip("the tensorboard command is not installed")
    port = _free_port()
    server = subprocess.Popen(
        [exe, "--logdir", str(tmp_path), "--port", str(port), "--host", "127.0.0.1", "--load_fast", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=.&tag=train%2Floss"
        deadline = time.monotonic() + 90
        series = None
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail("tensorboard exited: " + server.stderr.read().decode(errors="replace")[-2000:])
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    series = json.loads(reply.read())
                if series:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.5)
        assert series, "tensorboard did not serve the series within 90 s"
        assert [step for _, step, _ in series] == list(range(20))
        assert all(math.isclose(v, want, rel_tol=1e-6) for (_, _, v), want in zip(series, losses))
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/data/plugin/scalars/tags", timeout=5) as reply:
            tags = json.loads(reply.read())
        assert set(tags["."]) == {"train/loss", "held/accuracy"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- plots to files ----------------------------------------------------------------------------


def test_smoothing_is_tensorboards():
    values = [1.0, 3.0, 2.0, float("nan"), 5.0]
    w = 0.6
    last, n, want = 0.0, 0, []
    for v in values:
        if math.isnan(v):
            want.append(v)
            continue
        last = last * w + (1 - w) * v
        n += 1
        want.append(last / (1 - w**n))
    got = smooth(values, w)
    assert got[0] == pytest.approx(1.0)  # debiased: the first point is itself
    assert all((math.isnan(a) and math.isnan(b)) or a == pytest.approx(b) for a, b in zip(got, want))
    assert smooth([4.0, 4.0, 4.0], 0.9) == [4.0, 4.0, 4.0]
    assert smooth([1.0, 2.0], 0.0) == [1.0, 2.0]
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        smooth([1.0], 1.0)


def _curve_pixels(path):
    image = Image.open(path).convert("RGB")
    rgb = np.asarray(image).astype(int)
    return image, int(((rgb[..., 0] > 200) & (abs(rgb[..., 1] - 120) < 30) & (rgb[..., 2] < 110)).sum())


def test_png_and_svg_have_the_size_and_follow_the_data(tmp_path):
    interp = tcltorch.Interp()
    interp.eval(f"set w [torch::summary_writer {{{tmp_path / 'run'}}}]")
    for i in range(50):
        interp.eval(f"torch::add_scalar $w loss {2.0 * math.exp(-i / 10) + 0.1}")
    first = tmp_path / "first.png"
    assert interp.eval(f"torch::plot_series {{{first}}} -writer $w -width 640 -height 400") == str(first)
    image, _ = _curve_pixels(first)
    assert image.size == (640, 400)
    assert image.getpixel((0, 0)) == (255, 255, 255)
    # other data: other pixels (a rising curve instead of a falling one)
    second = tmp_path / "second.png"
    rising = " ".join(str(0.1 + i / 25) for i in range(50))
    interp.eval(f"torch::plot_series {{{second}}} -series {{loss {{{rising}}}}} -width 640 -height 400")
    a = np.asarray(Image.open(first).convert("L")).astype(int)
    b = np.asarray(Image.open(second).convert("L")).astype(int)
    differing = int((abs(a - b) > 40).sum())
    assert differing > 500
    # SVG: the size in points (72 per inch at 100 dpi), one path per curve whose data follows the values
    svgs = []
    for name, data in (("a.svg", "1 2 3 4"), ("b.svg", "4 3 2 1")):
        path = tmp_path / name
        interp.eval(
            f"torch::plot_series {{{path}}} -series {{loss {{{data}}}}} -width 500 -height 300 -title t"
        )
        root = ET.parse(path).getroot()
        assert root.tag.endswith("svg")
        assert (root.get("width"), root.get("height")) == ("360pt", "216pt")
        svgs.append(path.read_text())
    assert svgs[0] != svgs[1]
    # smoothed and raw curves, log scale: a valid picture
    log_png = tmp_path / "log.png"
    interp.eval(f"torch::plot_series {{{log_png}}} -writer $w -smoothing 0.6 -logScale 1 -title loss")
    assert Image.open(log_png).size == (800, 500)
    assert not list(tmp_path.glob(".plot-*"))  # no temporary left behind


# --- the Tk chart under Xvfb -------------------------------------------------------------------


@pytest.fixture(scope="module")
def display():
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): the Tk chart needs a display")
    if shutil.which("tclsh") is None:
        pytest.skip("tclsh is not installed")
    for number in range(90, 140):
        if not Path(f"/tmp/.X{number}-lock").exists() and not Path(f"/tmp/.X11-unix/X{number}").exists():
            break
    else:
        pytest.skip("no free X display number in 90..139")
    server = subprocess.Popen(
        [xvfb, f":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"Xvfb :{number} did not start")
            time.sleep(0.1)
        probe = subprocess.run(
            ["tclsh"],
            check=False,
            input="package require Tk; puts ok; exit",
            capture_output=True,
            text=True,
            env={**os.environ, "DISPLAY": f":{number}"},
            timeout=60,
        )
        if "ok" not in probe.stdout:
            pytest.skip("Tk is not installed for tclsh (apt-get install tk8.6): " + probe.stderr[-300:])
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def wish(display: str, script: str, timeout: float = 120) -> dict[str, str]:
    """Run a Tk script in tclsh on the display; its `RESULT name value` lines as a dict."""
    with tempfile.NamedTemporaryFile("w", suffix=".tcl", delete=False) as file:
        file.write("package require Tk\n" + script + "\nexit\n")  # a file: an error ends tclsh
    proc = subprocess.run(
        ["tclsh", file.name],
        check=False,
        capture_output=True,
        text=True,
        env=tclsh_env(DISPLAY=display),
        timeout=timeout,
    )
    os.unlink(file.name)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, name, value = line.split(" ", 2)
            out[name] = value
    return out


CHART = ROOT / "tcl" / "tcltorch_chart.tcl"


def test_chart_items_follow_the_series(display, tmp_path):
    shot = tmp_path / "chart.ps"
    out = wish(
        display,
        f"""
        package require tcltorch::chart
        wm geometry . 640x400+0+0
        tcltorch::chart::create .c -title demo -smoothing 0.6 -interval 0
        pack .c -fill both -expand 1
        update
        for {{set i 0}} {{$i < 120}} {{incr i}} {{
            tcltorch::chart::feed .c train/loss $i [expr {{2.0 * exp(-$i / 40.0) + 0.1}}]
        }}
        foreach {{s v}} {{0 2.0 50 0.9 100 0.5}} {{ tcltorch::chart::feed .c held/loss $s $v }}
        tcltorch::chart::flush .c
        set d [tcltorch::chart::describe .c]
        puts "RESULT series [dict get $d series]"
        puts "RESULT xrange [dict get $d xrange]"
        puts "RESULT yrange [dict get $d yrange]"
        set curve [lindex [.c find withtag series0&&curve] 0]
        puts "RESULT coords [llength [.c coords $curve]]"
        puts "RESULT raw [llength [.c find withtag raw]]"
        puts "RESULT legend [lmap i [.c find withtag legend] {{expr {{[.c type $i] eq "text" ? [.c itemcget $i -text] : [continue]}}}}]"
        puts "RESULT width [winfo width .c]"
        puts "RESULT smooth [tcltorch::chart::Smooth {{1.0 3.0 2.0 5.0}} 0.6]"
        puts "RESULT xticks [lmap i [.c find withtag xtick] {{.c itemcget $i -text}}]"
        set before [.c coords [lindex [.c find withtag frame] 0]]
        wm geometry . 800x500
        update
        tcltorch::chart::flush .c
        puts "RESULT resized [list $before [.c coords [lindex [.c find withtag frame] 0]]]"
        tcltorch::chart::configure .c -logscale 1
        puts "RESULT logticks [lmap i [.c find withtag ytick] {{.c itemcget $i -text}}]"
        tcltorch::chart::postscript .c {{{shot}}}
        puts "RESULT ps [file size {{{shot}}}]"
        destroy .c
        tcltorch::chart::feed .c train/loss 200 0.1   ;# a closed window: ignored
        puts "RESULT afterdestroy [tcltorch::chart::known .c]"
        puts "RESULT unknown [catch {{tcltorch::chart::feed .nothing a 1 1}} msg] $msg"
        """,
    )
    assert out["series"] == "train/loss 120 held/loss 3"
    assert out["xrange"] == "0 119"
    lo, hi = map(float, out["yrange"].split())
    assert lo == pytest.approx(min(2.0 * math.exp(-119 / 40.0) + 0.1, 0.5), rel=1e-6) and hi >= 2.0
    assert out["coords"] == str(2 * 120)  # one point per step (fewer than two per pixel column)
    assert out["raw"] == "2"  # with smoothing, each series is also drawn raw
    assert out["legend"] == "train/loss held/loss"
    assert out["width"] == "640"
    tcl_smooth = [float(x) for x in out["smooth"].split()]
    assert tcl_smooth == pytest.approx(smooth([1.0, 3.0, 2.0, 5.0], 0.6), rel=1e-12)
    assert "0" in out["xticks"].split() and "100" in out["xticks"].split()
    before, after = (list(map(float, re.findall(r"[-\d.]+", part))) for part in out["resized"].split("} {"))
    assert after[2] - after[0] == pytest.approx(before[2] - before[0] + 160, abs=2)
    assert after[3] - after[1] == pytest.approx(before[3] - before[1] + 100, abs=2)
    ticks = out["logticks"].split()  # 1, 2 and 5 times powers of ten on a log scale
    assert len(ticks) >= 2 and "1" in ticks
    assert all(re.fullmatch(r"0\.[125]|[125]", t) for t in ticks), ticks
    assert int(out["ps"]) > 10_000 and shot.read_text(errors="replace").startswith("%!PS-Adobe")
    assert out["afterdestroy"] == "1"
    assert out["unknown"].startswith('1 no chart named ".nothing"')


def test_chart_screenshot_and_pixels(display, tmp_path):
    """A real screenshot of the window (the X server's pixels), before and after more data."""
    image_grab = pytest.importorskip("PIL.ImageGrab")
    shots = [tmp_path / "chart-10.png", tmp_path / "chart-200.png"]
    ready = tmp_path / "ready"
    script = f"""
        set ready {{{ready}}}
        package require tcltorch::chart
        wm geometry . 640x400+0+0
        tcltorch::chart::create .c -smoothing 0 -title screenshot
        pack .c -fill both -expand 1
        proc feedTo {{n}} {{
            for {{set i $::fed}} {{$i < $n}} {{incr i}} {{
                tcltorch::chart::feed .c loss $i [expr {{1.0 + sin($i / 15.0)}}]
            }}
            set ::fed $n
            tcltorch::chart::flush .c
            update
        }}
        set ::fed 0
        feedTo 10
        close [open $ready.1 w]
        while {{![file exists $ready.go]}} {{ after 50; update }}
        feedTo 200
        close [open $ready.2 w]
        while {{![file exists $ready.done]}} {{ after 50; update }}
    """
    file = tmp_path / "screenshot.tcl"
    file.write_text("package require Tk\n" + script + "\nexit\n")
    proc = subprocess.Popen(
        ["tclsh", str(file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=tclsh_env(DISPLAY=display),
    )
    try:
        for k, shot in enumerate(shots, 1):
            deadline = time.monotonic() + 60
            while not Path(f"{ready}.{k}").exists():
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the chart did not draw"
                time.sleep(0.05)
            time.sleep(0.3)
            image_grab.grab(bbox=(0, 0, 640, 400), xdisplay=display).save(shot)
            Path(f"{ready}.go" if k == 1 else f"{ready}.done").touch()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    first, second = (Image.open(s).convert("RGB") for s in shots)
    assert first.size == second.size == (640, 400)
    orange = (255, 112, 67)  # the first series' colour

    def curve(img):
        return int((abs(np.asarray(img).astype(int) - orange).max(axis=-1) < 30).sum())

    assert curve(first) > 50 and curve(second) > curve(first) * 2
    assert int((np.asarray(first) != np.asarray(second)).any(axis=-1).sum()) > 1000


def test_writer_feeds_its_chart_in_tclsh(display, tmp_path):
    out = wish(
        display,
        f"""
        package require tcltorch
        package require tcltorch::chart
        tcltorch::chart::create .c -interval 0
        pack .c
        set w [torch::summary_writer {{{tmp_path}}} -chart .c]
        foreach v {{3.0 2.0 1.5}} {{ torch::add_scalar $w train/loss $v }}
        torch::add_scalars $w acc {{train 0.5 held 0.4}}
        set X [torch::arange 8 -dtype float32]
        torch::foreach_batch {{xb}} [list $X] -batchSize 4 -log [list $w batch] {{ torch::tensor_mean $xb }}
        torch::writer_close $w
        puts "RESULT series [dict get [tcltorch::chart::describe .c] series]"
        puts "RESULT points [tcltorch::chart::series .c train/loss]"
        puts "RESULT badopt [catch {{tcltorch::chart::create .d -smoothing 2}} msg] $msg"
        puts "RESULT badfeed [catch {{tcltorch::chart::feed .c x 1 abc}} msg] $msg"
        """,
    )
    assert out["series"] == "train/loss 3 acc/train 1 acc/held 1 batch 2 batch/epoch_mean 1"
    assert out["points"] == "{0 3.0} {1 2.0} {2 1.5}"
    assert out["badopt"] == '1 invalid -smoothing "2": must be a number in [0, 1)'
    assert out["badfeed"].startswith("1 tcltorch::chart::feed: step and value must be numbers")
    assert [e.value for e in accumulator(tmp_path).Scalars("train/loss")] == [3.0, 2.0, 1.5]


def test_chart_of_a_constant_smoothed_to_the_last_bit(display):
    # 3.0 smoothed and debiased is 3.0000000000000004: a y span lost in rounding once made the
    # tick loop add a step that did not move (tclsh hung in the first torch::add_scalar)
    out = wish(
        display,
        """
        package require tcltorch::chart
        tcltorch::chart::create .c -interval 0
        pack .c
        foreach step {0 1 2} { tcltorch::chart::feed .c loss $step [expr {3.0}] }
        tcltorch::chart::flush .c
        puts "RESULT ticks [tcltorch::chart::Ticks 3.0 3.0000000000000004]"
        puts "RESULT points [tcltorch::chart::series .c loss]"
        """,
        timeout=60,
    )
    assert out["ticks"] == "3.0"
    assert out["points"] == "{0 3.0} {1 3.0} {2 3.0}"
