"""Seeing training: TensorBoard event files (torch.utils.tensorboard's SummaryWriter), a live
Tk chart fed by the same calls (the tcltorch::chart package) and curves plotted to PNG/SVG."""

from __future__ import annotations

import math
import os
import time
import warnings
from typing import Any

import torch

from tcltorch import visualize as engine
from tcltorch.commands.spec import Bool, Custom, Double, Handle, Int, Opt, Str, command, parse_tcl_double
from tcltorch.errors import TclError, invalid_value, shorten
from tcltorch.handles import register_kind
from tcltorch.visualize import MissingExtra, check_series, plot_format, summary_writer_class

FAMILY = "train/visualize"

CHART_FEED = "::tcltorch::chart::feed"
CHART_KNOWN = "::tcltorch::chart::known"


class Writer:
    """A SummaryWriter plus what Tcl needs around it: the scalars logged so far (for
    torch::plot_series and torch::writer_history), the next step of each tag and the Tk
    charts (widget paths) that torch::add_scalar also feeds."""

    __slots__ = ("charts", "closed", "history", "last", "log_dir", "writer")

    def __init__(self, writer: Any, charts: list[str]) -> None:
        self.writer = writer
        self.log_dir = str(writer.log_dir)
        self.charts = charts
        self.history: dict[str, tuple[list[int], list[float]]] = {}
        self.last: dict[str, int] = {}  # each tag's last step (scalars, histograms, images, texts)
        self.closed = False

    def next_step(self, tag: str) -> int:
        return self.last.get(tag, -1) + 1

    def record(self, tag: str, step: int, value: float, ctx: Any) -> None:
        self.last[tag] = step
        seen = self.history.get(tag)
        if seen is None:
            seen = self.history[tag] = ([], [])
        seen[0].append(step)
        seen[1].append(value)
        for chart in self.charts:
            ctx.call(CHART_FEED, chart, tag, step, value)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()


register_kind(Writer, "writer", on_free=Writer.close)


def _open(writer: Writer, name: str = "") -> Writer:
    if writer.closed:
        raise TclError(
            f"the writer {name or 'given'} is closed (torch::writer_close): make a new one",
            ["TORCH", "WRITER", "CLOSED"],
        )
    return writer


def _scalar(text: str, option: str, ctx: Any) -> float | torch.Tensor:
    """A number, or a tensor handle with one element (read when it is logged)."""
    value = parse_tcl_double(text)
    if value is not None:
        return value
    obj = ctx.handles.lookup(text.strip())
    if isinstance(obj, torch.Tensor):
        if obj.numel() != 1:
            raise invalid_value(
                option, text, f"must be a number or a one-element tensor (it has {obj.numel()})"
            )
        return obj
    raise invalid_value(option, text, "must be a number or a one-element tensor handle")


Scalar = Custom(_scalar, "number or tensor", "must be a number or a one-element tensor handle")


def _number(value: float | torch.Tensor) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


def _step(text: str, option: str, ctx: Any) -> int:
    value = Int(ge=0).convert(text, option, ctx)
    return value


Step = Custom(_step, "integer", "must be an integer >= 0")


def _writer_opt() -> Opt:
    return Opt("writer", Handle("writer"), help="a writer from torch::summary_writer")


def _step_opt() -> Opt:
    return Opt(
        "step",
        Step,
        default=None,
        aliases=("global_step", "globalStep"),
        help="the step (x value); default: one more than the tag's last step (0 first)",
        default_doc="next",
    )


def _wall_time_opt() -> Opt:
    return Opt(
        "wallTime",
        Double(ge=0),
        default=None,
        positional=False,
        aliases=("walltime", "wall_time"),
        help="seconds since the epoch recorded with the value (default: now)",
        default_doc="now",
    )


def _writer_name(ctx: Any, writer: Writer) -> str:
    return ctx.handles.name_of(writer) or "writer"


def _check_charts(charts: list[str], ctx: Any) -> None:
    for chart in charts:
        try:
            known = ctx.call("info", "commands", CHART_KNOWN)
        except TclError:
            known = ""
        if not known:
            raise invalid_value(
                "-chart",
                chart,
                "must be a chart made by tcltorch::chart::create (package require tcltorch::chart)",
            )
        if ctx.call(CHART_KNOWN, chart) != "1":
            raise invalid_value("-chart", chart, "must be a chart made by tcltorch::chart::create")


class BatchLog:
    """torch::foreach_batch's ``-log {WRITER ?TAG?}``: each batch's result logged as TAG, and
    the loop's mean as TAG/epoch_mean at step -epoch when it ends."""

    __slots__ = ("count", "tag", "total", "writer")

    def __init__(self, writer: Writer, tag: str) -> None:
        self.writer = writer
        self.tag = tag
        self.total = 0.0
        self.count = 0

    def batch(self, result: str, ctx: Any) -> None:
        """Log a batch body's result (a number or a one-element tensor handle)."""
        _open(self.writer, _writer_name(ctx, self.writer))
        try:
            number = _number(_scalar(result, "-log", ctx))
        except TclError:
            raise TclError(
                f"torch::foreach_batch -log: the body must end with the value to log (a number or a "
                f'one-element tensor), not "{result[:60]}"',
                ["TORCH", "VALUE", "-log"],
            ) from None
        step = self.writer.next_step(self.tag)
        self.writer.writer.add_scalar(self.tag, number, step)
        self.writer.record(self.tag, step, number, ctx)
        if math.isfinite(number):
            self.total += number
            self.count += 1

    def end(self, epoch: int, ctx: Any) -> None:
        """Log the mean of the loop's values at step ``epoch``."""
        if self.count and not self.writer.closed:
            tag = self.tag + "/epoch_mean"
            mean = self.total / self.count
            self.writer.writer.add_scalar(tag, mean, epoch)
            self.writer.record(tag, epoch, mean, ctx)


def _batch_log(text: str, option: str, ctx: Any) -> BatchLog | None:
    words = ctx.split(text, option)
    if not words:
        return None
    if len(words) > 2:
        raise invalid_value(option, text, "must be a writer handle and an optional tag")
    writer = ctx.handles.get(words[0], "writer")
    _open(writer, words[0])
    return BatchLog(writer, words[1] if len(words) == 2 else "train/loss")


LogTarget = Custom(_batch_log, "{writer ?tag?}", "must be a writer handle and an optional tag")


def _missing(exc: MissingExtra) -> TclError:
    return TclError(str(exc), ["TORCH", "MISSING", exc.extra])


@command(
    "summary_writer",
    Opt(
        "logDir",
        Str(),
        default=None,
        aliases=("log_dir",),
        help="folder of the event files (default runs/DATE_HOST, as SummaryWriter)",
        default_doc="runs/DATE_HOST",
    ),
    Opt("comment", Str(), default="", positional=False, help="suffix of the default -logDir"),
    Opt(
        "flushSecs",
        Double(gt=0),
        default=120.0,
        positional=False,
        aliases=("flush_secs",),
        help="seconds between flushes of pending events to disk",
    ),
    Opt(
        "maxQueue",
        Int(ge=1),
        default=10,
        positional=False,
        aliases=("max_queue",),
        help="events queued before a call waits for the writer thread",
    ),
    Opt(
        "filenameSuffix",
        Str(),
        default="",
        positional=False,
        aliases=("filename_suffix",),
        help="suffix of the event file's name",
    ),
    Opt(
        "chart",
        Str(),
        default="",
        positional=False,
        help="Tk charts (tcltorch::chart) that torch::add_scalar and add_scalars also feed",
    ),
    context=True,
)
def summary_writer(log_dir, comment, flush_secs, max_queue, filename_suffix, chart, ctx):
    """Make a TensorBoard writer: torch.utils.tensorboard's SummaryWriter, as a handle.

    The writer appends events to a file in `-logDir` (made if missing); point TensorBoard at
    that folder or a parent (`tensorboard --logdir runs`). The torch::add_* commands log to it,
    torch::writer_flush writes what is pending and torch::writer_close (or torch::free) closes it.
    It needs TensorBoard: without it this command fails with the install command
    `pip install 'tcltorch[tensorboard]'`.

    `-chart` names charts made by `tcltorch::chart::create` (package `tcltorch::chart`, Tk):
    every scalar logged through this writer is also added to them, so one call per step both
    logs and draws. The writer also keeps the scalars it logged, for torch::plot_series and
    torch::writer_history.

    ## Return Value

    A writer handle (`writer1`, ...).

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        torch::add_scalar $w loss 0.5
        puts [expr {[torch::writer_log_dir $w] eq $dir}]   ;# -> 1
        torch::writer_close $w
        file delete -force $dir
    """
    charts = ctx.split(chart, "-chart") if chart else []
    _check_charts(charts, ctx)
    try:
        writer_class = summary_writer_class()
    except MissingExtra as exc:
        raise _missing(exc) from None
    try:
        writer = writer_class(
            log_dir=log_dir,
            comment=comment,
            max_queue=max_queue,
            flush_secs=flush_secs,
            filename_suffix=filename_suffix,
        )
    except OSError as exc:
        raise TclError(
            f'cannot write TensorBoard events in "{shorten(log_dir)}": {exc.strerror or exc}',
            ["TORCH", "IO", "WRITER"],
        ) from None
    return Writer(writer, charts)


@command(
    "add_scalar",
    _writer_opt(),
    Opt("tag", Str(), help="the series' name, e.g. train/loss"),
    Opt("value", Scalar, help="a number or a one-element tensor"),
    _step_opt(),
    _wall_time_opt(),
    context=True,
)
def add_scalar(writer, tag, value, step, wall_time, ctx):
    """Log one value of a scalar series (SummaryWriter.add_scalar); returns its step.

    A tensor value is read when it is logged (one host sync for a CUDA tensor, as `.item()`).
    Without `-step` the step is one more than the tag's last one (0 the first time), so a
    loop can log without counting. The value also goes to the writer's `-chart`s.

    ## Return Value

    The step the value was logged at.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        puts [torch::add_scalar $w train/loss 0.9]   ;# -> 0
        puts [torch::add_scalar $w train/loss [torch::tensor_create 0.7]]   ;# -> 1
        puts [torch::add_scalar $w train/loss 0.5 -step 10]   ;# -> 10
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    if not tag:
        raise invalid_value("-tag", tag, "must be a non-empty name")
    number = _number(value)
    if step is None:
        step = writer.next_step(tag)
    writer.writer.add_scalar(tag, number, step, walltime=wall_time)
    writer.record(tag, step, number, ctx)
    return step


@command(
    "add_scalars",
    _writer_opt(),
    Opt("mainTag", Str(), aliases=("main_tag",), help="the chart's name"),
    Opt("values", Str(), help="dict: series name -> number or one-element tensor"),
    _step_opt(),
    _wall_time_opt(),
    context=True,
)
def add_scalars(writer, main_tag, values, step, wall_time, ctx):
    """Log several series on one TensorBoard chart (SummaryWriter.add_scalars).

    Each series is written by TensorBoard into its own run, `LOGDIR/MAINTAG_NAME`, under the tag
    MAINTAG, as PyTorch does. The writer's history and charts name them `MAINTAG/NAME`.
    Without `-step`, the step is one more than the last step of any of them.

    ## Return Value

    The step the values were logged at.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        puts [torch::add_scalars $w loss {train 0.8 held 0.9}]   ;# -> 0
        puts [dict keys [torch::writer_history $w]]   ;# -> loss/train loss/held
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    if not main_tag:
        raise invalid_value("-mainTag", main_tag, "must be a non-empty name")
    words = ctx.split(values, "-values")
    if not words or len(words) % 2:
        raise invalid_value("-values", values, "must be a dict of series names and numbers")
    numbers = {}
    for name, text in zip(words[::2], words[1::2]):
        numbers[name] = _number(_scalar(text, "-values", ctx))
    if step is None:
        step = max(writer.next_step(f"{main_tag}/{name}") for name in numbers)
    writer.writer.add_scalars(main_tag, numbers, step, walltime=wall_time)
    for name, number in numbers.items():
        writer.record(f"{main_tag}/{name}", step, number, ctx)
    return step


_BIN_RULES = ("tensorflow", "auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")


def _bins(text: str, option: str, ctx: Any) -> str | int:
    word = text.strip()
    if word in _BIN_RULES:
        return word
    count = Int(ge=1).convert(word, option, ctx) if word[:1].isdigit() else None
    if count is None:
        raise invalid_value(option, text, "must be a bin count >= 1 or one of " + ", ".join(_BIN_RULES))
    return count


Bins = Custom(_bins, "bins", "must be a bin count or a rule such as tensorflow or auto")


@command(
    "add_histogram",
    _writer_opt(),
    Opt("tag", Str(), help="the histogram's name, e.g. weights/layer1"),
    Opt("values", Handle("tensor"), help="a tensor of finite numbers (any shape)"),
    _step_opt(),
    Opt(
        "bins",
        Bins,
        default="tensorflow",
        positional=False,
        help="tensorflow (TensorBoard's exponential bins), a numpy rule (auto, fd, ...) or a count",
    ),
    _wall_time_opt(),
    context=True,
)
def add_histogram(writer, tag, values, step, bins, wall_time, ctx):
    """Log the distribution of a tensor's values (SummaryWriter.add_histogram).

    TensorBoard shows it in its Histograms and Distributions tabs, one slice per step.

    ## Return Value

    The step.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        puts [torch::add_histogram $w weights [torch::randn {1000}] -step 3]   ;# -> 3
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    if values.numel() == 0:
        raise invalid_value("-values", ctx.handles.name_of(values) or "", "must have at least one element")
    if values.is_complex() or values.dtype == torch.bool:
        raise invalid_value("-values", ctx.handles.name_of(values) or "", "must be a real number tensor")
    data = values.detach()
    if data.is_floating_point() and not bool(torch.isfinite(data).all()):
        raise invalid_value("-values", ctx.handles.name_of(values) or "", "must hold finite numbers only")
    if step is None:
        step = writer.next_step(tag)
    writer.writer.add_histogram(tag, data.cpu().double(), step, bins=bins, walltime=wall_time)
    writer.last[tag] = step
    return step


_IMAGE_FORMATS = ("CHW", "HWC", "HW")


@command(
    "add_image",
    _writer_opt(),
    Opt("tag", Str(), help="the image's name"),
    Opt("image", Handle("tensor"), help="pixels: float in [0, 1] or uint8 in [0, 255]"),
    _step_opt(),
    Opt(
        "dataFormats",
        Str(),
        default="CHW",
        positional=False,
        aliases=("dataformats", "data_formats"),
        help="layout: CHW, HWC (C = 1, 3 or 4) or HW (grey)",
    ),
    _wall_time_opt(),
    context=True,
)
def add_image(writer, tag, image, step, data_formats, wall_time, ctx):
    """Log an image (SummaryWriter.add_image): TensorBoard's Images tab shows it per step.

    ## Return Value

    The step.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        set img [torch::rand {3 8 8}]
        puts [torch::add_image $w sample $img]   ;# -> 0
        puts [torch::add_image $w grey [torch::rand {8 8}] -dataFormats HW]   ;# -> 0
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    name = ctx.handles.name_of(image) or ""
    fmt = data_formats.strip().upper()
    if fmt not in _IMAGE_FORMATS:
        raise invalid_value("-dataFormats", data_formats, "must be CHW, HWC or HW")
    if image.dim() != len(fmt):
        raise invalid_value(
            "-image", name, f"must have {len(fmt)} dimensions for -dataFormats {fmt} (it has {image.dim()})"
        )
    if "C" in fmt and image.shape[fmt.index("C")] not in (1, 3, 4):
        raise invalid_value(
            "-image", name, f"must have 1, 3 or 4 channels (it has {image.shape[fmt.index('C')]})"
        )
    if image.numel() == 0:
        raise invalid_value("-image", name, "must have at least one pixel")
    if not (image.is_floating_point() or image.dtype == torch.uint8):
        raise invalid_value("-image", name, "must be a float tensor in [0, 1] or a uint8 tensor")
    data = image.detach().cpu()
    if data.is_floating_point():
        data = data.float()
        if not bool(torch.isfinite(data).all()):
            raise invalid_value("-image", name, "must hold finite numbers only")
    if step is None:
        step = writer.next_step(tag)
    writer.writer.add_image(tag, data, step, walltime=wall_time, dataformats=fmt)
    writer.last[tag] = step
    return step


@command(
    "add_text",
    _writer_opt(),
    Opt("tag", Str(), help="the text's name"),
    Opt("text", Str(), help="the text (markdown)", aliases=("text_string",)),
    _step_opt(),
    _wall_time_opt(),
    context=True,
)
def add_text(writer, tag, text, step, wall_time, ctx):
    """Log a text (SummaryWriter.add_text; TensorBoard renders it as markdown).

    ## Return Value

    The step.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        puts [torch::add_text $w notes "Adafactor, batch 64"]   ;# -> 0
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    if step is None:
        step = writer.next_step(tag)
    writer.writer.add_text(tag, text, step, walltime=wall_time)
    writer.last[tag] = step
    return step


@command(
    "add_graph",
    _writer_opt(),
    Opt("model", Handle("module"), help="the module"),
    Opt("input", Str(), help="a tensor handle, or a list of them: the forward call's arguments"),
    Opt("verbose", Bool(), default=False, positional=False, help="print the traced graph"),
    context=True,
)
def add_graph(writer, model, input, verbose, ctx):
    """Log a module's graph (SummaryWriter.add_graph): TensorBoard's Graphs tab draws it.

    The module is traced once with the inputs (torch.jit.trace), in eval mode semantics of its
    current state; its parameters are not changed.

    ## Return Value

    An empty string.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        set net [torch::sequential [torch::linear 4 8] [torch::relu] [torch::linear 8 2]]
        torch::add_graph $w $net [torch::randn {1 4}]
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    names = ctx.split(input, "-input")
    if not names:
        raise invalid_value("-input", input, "must be a tensor handle or a list of them")
    inputs = tuple(ctx.handles.get(n, "tensor") for n in names)
    try:
        with warnings.catch_warnings():  # SummaryWriter traces with torch.jit, which warns it is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            writer.writer.add_graph(model, inputs[0] if len(inputs) == 1 else inputs, verbose=verbose)
    except (RuntimeError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TclError(
            f"torch::add_graph: the module could not be traced with these inputs: {first}",
            ["TORCH", "GRAPH"],
        ) from None


def _hparam(text: str) -> Any:
    number = parse_tcl_double(text)
    if number is None:
        return text
    as_int = int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else None
    return as_int if as_int is not None else number


@command(
    "add_hparams",
    _writer_opt(),
    Opt("hparams", Str(), help="dict: hyper-parameter -> number or string"),
    Opt("metrics", Str(), help="dict: metric -> number (the run's results)"),
    Opt(
        "runName",
        Str(),
        default=None,
        positional=False,
        aliases=("run_name",),
        help="sub-run of the writer's folder that holds them (default: the current time)",
        default_doc="the time",
    ),
    _step_opt(),
    context=True,
)
def add_hparams(writer, hparams, metrics, run_name, step, ctx):
    """Log a run's hyper-parameters with its results (SummaryWriter.add_hparams).

    TensorBoard's HParams tab then compares runs in a table. As in PyTorch, they are written
    to a sub-run of the writer's folder (`-runName`) together with each metric as a scalar.

    ## Return Value

    The sub-run's folder.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        set run [torch::add_hparams $w {lr 0.01 optimizer adafactor} {accuracy 0.97} -runName trial1]
        puts [file tail $run]   ;# -> trial1
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    words = ctx.split(hparams, "-hparams")
    if not words or len(words) % 2:
        raise invalid_value("-hparams", hparams, "must be a non-empty dict of names and values")
    hp = {k: _hparam(v) for k, v in zip(words[::2], words[1::2])}
    words = ctx.split(metrics, "-metrics")
    if not words or len(words) % 2:
        raise invalid_value("-metrics", metrics, "must be a non-empty dict of names and numbers")
    mt = {}
    for k, v in zip(words[::2], words[1::2]):
        number = parse_tcl_double(v)
        if number is None:
            raise invalid_value("-metrics", metrics, f'must map each name to a number ("{k}" is "{v}")')
        mt[k] = number
    if run_name is None:
        run_name = str(time.time())
    if not run_name or os.path.isabs(run_name) or ".." in run_name.split("/"):
        raise invalid_value("-runName", run_name, "must be a relative folder name inside the writer's folder")
    writer.writer.add_hparams(hp, mt, run_name=run_name, global_step=step)
    return os.path.join(writer.log_dir, run_name)


@command("writer_flush", _writer_opt(), context=True)
def writer_flush(writer, ctx):
    """Write the writer's pending events to disk now (SummaryWriter.flush).

    ## Return Value

    An empty string.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        torch::add_scalar $w loss 1.0
        torch::writer_flush $w
        puts [llength [glob -directory $dir events.out.tfevents.*]]   ;# -> 1
        torch::free $w
        file delete -force $dir
    """
    _open(writer, _writer_name(ctx, writer))
    writer.writer.flush()


@command("writer_close", _writer_opt())
def writer_close(writer):
    """Flush and close a writer (SummaryWriter.close); closing twice is harmless.

    The handle stays valid for torch::writer_history and torch::plot_series; logging to it is an
    error. torch::free closes a writer as well (and so does the end of the torch::scope that
    made it).

    ## Return Value

    An empty string.

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        torch::add_scalar $w loss 1.0
        torch::writer_close $w
        puts [catch {torch::add_scalar $w loss 0.5}]   ;# -> 1
        torch::free $w
        file delete -force $dir
    """
    writer.close()


@command("writer_log_dir", _writer_opt())
def writer_log_dir(writer):
    """The folder a writer's event files are in (give it, or a parent, to `tensorboard --logdir`).

    ## Return Value

    A path.

    Examples:
        set w [torch::summary_writer [file join [pwd] runs_example]]
        puts [file tail [torch::writer_log_dir $w]]   ;# -> runs_example
        torch::free $w
        file delete -force [file join [pwd] runs_example]
    """
    return writer.log_dir


@command(
    "writer_history",
    _writer_opt(),
    Opt("tag", Str(), default=None, positional=False, help="only this series"),
)
def writer_history(writer, tag):
    """The scalars a writer logged: a dict of series name -> list of {step value} pairs.

    ## Return Value

    A dict (tags in the order first logged).

    Examples:
        set dir [file join [pwd] runs_example]
        set w [torch::summary_writer $dir]
        torch::add_scalar $w loss 0.75
        torch::add_scalar $w loss 0.5
        puts [torch::writer_history $w]   ;# -> loss {{0 0.75} {1 0.5}}
        torch::free $w
        file delete -force $dir
    """
    series = {
        name: [[s, v] for s, v in zip(steps, values)]
        for name, (steps, values) in writer.history.items()
        if tag is None or name == tag
    }
    if tag is not None and tag not in series:
        raise invalid_value("-tag", tag, "must be a series the writer logged: " + " ".join(writer.history))
    return series


def _series(text: str, ctx: Any) -> dict[str, tuple[list[float], list[float]]]:
    words = ctx.split(text, "-series")
    if len(words) % 2:
        raise invalid_value("-series", text, "must be a dict of series names and lists of values")
    out = {}
    for name, points in zip(words[::2], words[1::2]):
        items = ctx.split(points, "-series")
        steps: list[float] = []
        values: list[float] = []
        for i, item in enumerate(items):
            pair = ctx.split(item, "-series")
            if len(pair) == 1:
                step, value = float(i), parse_tcl_double(pair[0])
            elif len(pair) == 2:
                step, value = parse_tcl_double(pair[0]), parse_tcl_double(pair[1])
            else:
                step = value = None
            if step is None or value is None:
                raise invalid_value(
                    "-series", item, f'must be a number or a {{step value}} pair (in series "{name}")'
                )
            steps.append(step)
            values.append(value)
        out[name] = (steps, values)
    return out


@command(
    "plot_series",
    Opt("file", Str(), help="the picture to write: NAME.png or NAME.svg"),
    Opt("series", Str(), default="", positional=False, help="dict: name -> values, or {step value} pairs"),
    Opt(
        "writer", Handle("writer"), default=None, positional=False, help="plot the scalars this writer logged"
    ),
    Opt("tags", Str(), default="", positional=False, help="with -writer: only these series (default all)"),
    Opt(
        "smoothing",
        Double(ge=0, lt=1),
        default=0.0,
        positional=False,
        help="TensorBoard's smoothing weight (0: none; 0.6 is TensorBoard's default)",
    ),
    Opt(
        "logScale", Bool(), default=False, positional=False, aliases=("log_scale",), help="logarithmic y axis"
    ),
    Opt("title", Str(), default="", positional=False, help="the title"),
    Opt("xlabel", Str(), default="step", positional=False, help="the x axis' label"),
    Opt("ylabel", Str(), default="", positional=False, help="the y axis' label"),
    Opt("width", Int(ge=50), default=800, positional=False, help="width in pixels"),
    Opt("height", Int(ge=50), default=500, positional=False, help="height in pixels"),
    context=True,
)
def plot_series(file, series, writer, tags, smoothing, log_scale, title, xlabel, ylabel, width, height, ctx):
    """Plot named series to a PNG or SVG file with matplotlib (headless machines).

    The series come from `-series` (a dict: name -> a list of values, steps 0, 1, ..., or of
    {step value} pairs) and/or from the scalars a `-writer` logged (`-tags` picks some). With
    `-smoothing W` each curve is drawn faintly as logged and boldly smoothed as TensorBoard does.
    A PNG is `-width` x `-height` pixels. It needs matplotlib: without it this command fails with
    the install command `pip install 'tcltorch[plot]'`.

    ## Return Value

    The file's name.

    Examples:
        set f [file join [pwd] example_loss.svg]
        torch::plot_series $f -series {loss {2.0 1.2 0.8 0.6 0.5} held {{0 2.1} {4 0.7}}} -smoothing 0.3
        puts [file exists $f]   ;# -> 1
        file delete $f
    """
    try:
        plot_format(file)
    except ValueError as exc:
        raise invalid_value("-file", file, "must be a file name ending in .png or .svg") from exc
    data = _series(series, ctx) if series else {}
    if writer is not None:
        wanted = ctx.split(tags, "-tags") if tags else [t for t in writer.history]
        for tag in wanted:
            seen = writer.history.get(tag)
            if seen is None:
                raise invalid_value(
                    "-tags", tags, f'must name scalar series the writer logged ("{tag}" is not one)'
                )
            steps, values = seen
            data[tag] = (list(steps), list(values))
    if not data:
        raise TclError(
            "torch::plot_series: nothing to plot (give -series, or a -writer that logged scalars)",
            ["TORCH", "VALUE", "EMPTY"],
        )
    try:
        check_series(data, log_scale)
    except ValueError as exc:
        raise TclError(f"torch::plot_series: {exc}", ["TORCH", "VALUE"]) from None
    folder = os.path.dirname(os.path.abspath(file))
    if not os.path.isdir(folder):
        raise invalid_value("-file", file, "must be in an existing folder")
    try:
        return engine.plot_series(
            data,
            file,
            smoothing=smoothing,
            log_y=log_scale,
            title=title or None,
            xlabel=xlabel,
            ylabel=ylabel or None,
            width=width,
            height=height,
        )
    except MissingExtra as exc:
        raise _missing(exc) from None
    except OSError as exc:
        raise TclError(f'cannot write "{file}": {exc.strerror or exc}', ["TORCH", "IO", "PLOT"]) from None
