"""Handle management: torch::free, torch::handles, torch::scope."""

from __future__ import annotations

from typing import Any

from tcltorch.commands.spec import Opt, Script, Str, command
from tcltorch.errors import TclError, TclPassthrough, invalid_value, shorten
from tcltorch.handles import known_kind

FAMILY = "runtime/core"

KIND_REQUIREMENT = "must be tensor, module, optimizer, scheduler, object or a module kind such as linear"


@command(
    "free",
    Opt("handle", Str(), rest=True, help="handles to release"),
    context=True,
    summary="Release objects by handle.",
)
def free(handle: list[str], ctx: Any) -> None:
    missing = [h for h in handle if h not in ctx.handles]
    if missing:  # check all first: nothing is freed when one name is bad
        raise TclError(f'no object named "{shorten(missing[0])}"', ["TORCH", "HANDLE", missing[0]])
    for name in dict.fromkeys(handle):
        ctx.handles.free(name)


@command(
    "handles",
    Opt("kind", Str(), default=None, help="tensor, module, optimizer or a module kind such as linear"),
    context=True,
    summary="List live handles, oldest first.",
)
def handles(kind: str | None, ctx: Any) -> list[str] | str:
    if kind is None:  # every handle: one text (10^6 names are one join, not 10^6 Tcl values)
        text = ctx.handles.names_text()
        if text is not None:
            return text
    elif not known_kind(kind, (ctx.handles.get(n) for n in ctx.handles.names())):
        raise invalid_value("-kind", kind, KIND_REQUIREMENT)
    return ctx.handles.names(kind)


@command(
    "scope",
    Opt("script", Script(), help="script evaluated in the caller's frame"),
    context=True,
    summary="Evaluate a script and free every handle it created, except those in its result.",
)
def scope(script: str, ctx: Any) -> str:
    return scoped_eval(ctx, script)


def scoped_eval(ctx: Any, script: str) -> str:
    """Evaluate ``script`` in the caller's frame and free every handle it created,
    except those named in its result.  Every command that takes a script body
    (scope, no_grad, autocast, ...) runs it through this function (foreach_batch inlines it,
    freeing a batch and its body's handles in one release),
    so they share one behaviour for errors, return/break/continue and interrupts:

    - ``return``, ``break``, ``continue`` and errors pass through unchanged, and the
      handles named in their result (the returned value, the error message) are kept,
      like those of a normal result;
    - nesting is bounded by the C stack left (the bridge checks it before each nested
      evaluation and fails with Tcl's ``too many nested evaluations`` error,
      errorcode ``TCL LIMIT STACK``), never a crash;
    - Ctrl-C cancels the whole evaluation (TCL_CANCEL_UNWIND): ``catch`` cannot stop it.
    """
    handles = ctx.handles
    mark = handles._serial  # handles.mark(), one call less (this runs around every loop body)
    try:
        result = ctx.eval(script)
    except TclPassthrough:
        handles.release_since(mark, keep=handles.words_in(ctx.result()))
        raise
    except BaseException:
        handles.release_since(mark)
        raise
    if handles._serial != mark:  # the script made handles (an empty scope skips the scan)
        handles.release_since(mark, keep=handles.words_in(result) if result else ())
    return result


@command("runtime_info", summary="A dict describing the running tcltorch, torch and Python.")
def runtime_info() -> dict[str, Any]:
    import sys

    import torch

    from tcltorch import __version__

    return {
        "tcltorch": __version__,
        "torch": torch.__version__,
        "python": sys.executable,
        "prefix": sys.prefix,
        "cuda": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
    }
