"""Seeing a run: TensorBoard's smoothing and curves written to PNG or SVG files (no Tcl).

Plain Python, usable without an interpreter::

    from tcltorch.visualize import plot_series, smooth
    plot_series({"loss": (steps, losses)}, "loss.png", smoothing=0.6)

The plotting needs matplotlib (``pip install 'tcltorch[plot]'``); the TensorBoard writer of the
``torch::summary_writer`` commands needs TensorBoard (``pip install 'tcltorch[tensorboard]'``).
:func:`require` turns a missing one into :class:`MissingExtra`, whose message names the extra.
"""

from __future__ import annotations

import importlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

# the optional packages each extra of pyproject.toml brings, by the module imported first
EXTRAS = {"tensorboard": "tensorboard", "matplotlib": "plot"}
PLOT_FORMATS = ("png", "svg")


class MissingExtra(ImportError):
    """An optional package is not installed; the message says which extra installs it."""

    def __init__(self, module: str, purpose: str, cause: BaseException | None = None) -> None:
        self.module = module
        self.extra = EXTRAS.get(module, module)
        detail = f" ({cause})" if cause is not None else ""
        super().__init__(
            f"{purpose} needs the {module} package, which is not installed{detail}: "
            f"pip install 'tcltorch[{self.extra}]'"
        )


def require(module: str, purpose: str) -> Any:
    """Import an optional module or raise :class:`MissingExtra` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(module.split(".")[0], purpose, exc) from None


def summary_writer_class() -> type:
    """torch.utils.tensorboard.SummaryWriter (it needs the tensorboard package)."""
    require("tensorboard", "TensorBoard logging")
    module = require("torch.utils.tensorboard", "TensorBoard logging")
    return module.SummaryWriter


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's smoothing of a scalar series: an exponential moving average with
    debiasing, as its line chart computes it (``last = last*w + (1-w)*v``, divided by
    ``1 - w**n`` for the n-th finite value). Non-finite values pass through unchanged and a
    constant series is returned as is. ``weight`` is in [0, 1): 0 leaves the series alone."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    values = [float(v) for v in values]
    if not values or weight == 0.0 or all(v == values[0] for v in values):
        return values
    out = []
    last = 0.0
    count = 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1.0 - weight) * v
        count += 1
        out.append(last / (1.0 - weight**count))
    return out


Series = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def plot_format(path: str | os.PathLike[str]) -> str:
    """'png' or 'svg' from a file name's extension; ValueError for anything else."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in PLOT_FORMATS:
        raise ValueError(f"the file name must end in .png or .svg, got {os.fspath(path)!r}")
    return ext


def check_series(series: Series, log_y: bool = False) -> None:
    """ValueError unless every series has as many steps as values, at least one point, and
    (for a log scale) positive finite values only."""
    if not series:
        raise ValueError("no series to plot")
    for name, (steps, values) in series.items():
        if len(steps) != len(values):
            raise ValueError(f"series {name!r} has {len(steps)} steps but {len(values)} values")
        if not values:
            raise ValueError(f"series {name!r} has no points")
        if log_y:
            bad = next((v for v in values if not (v > 0)), None)
            if bad is not None:
                raise ValueError(f"a log scale needs positive values; series {name!r} has {bad}")


def plot_series(
    series: Series,
    path: str | os.PathLike[str],
    *,
    smoothing: float = 0.0,
    log_y: bool = False,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str | None = None,
    width: int = 800,
    height: int = 500,
    dpi: int = 100,
) -> str:
    """Plot named series (name -> (steps, values)) to a PNG or SVG file; returns the path.

    The format follows the extension. A PNG is ``width`` x ``height`` pixels; an SVG has the
    same size in points scaled by 72/``dpi``. With ``smoothing`` > 0 each series is drawn
    faintly as logged and boldly smoothed (:func:`smooth`), as TensorBoard shows it. The file
    is written to a temporary name next to ``path`` and renamed: a failed plot leaves no
    half-written file."""
    fmt = plot_format(path)
    check_series(series, log_y)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if width < 50 or height < 50 or dpi < 10:
        raise ValueError(f"a plot must be at least 50x50 pixels at 10 dpi, got {width}x{height} at {dpi}")
    require("matplotlib", "plotting to a file")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    colors = [f"C{i % 10}" for i in range(len(series))]
    for color, (name, (steps, values)) in zip(colors, series.items()):
        steps = [float(s) for s in steps]
        values = [float(v) for v in values]
        if smoothing > 0:
            ax.plot(steps, values, color=color, alpha=0.25, linewidth=1)
            ax.plot(steps, smooth(values, smoothing), color=color, linewidth=1.8, label=name)
        else:
            ax.plot(steps, values, color=color, linewidth=1.5, label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    fd, tmp = tempfile.mkstemp(prefix=".plot-", suffix="." + fmt, dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format=fmt, dpi=dpi)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # mkstemp made it private; a picture is an ordinary file
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target
