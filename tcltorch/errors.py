"""Exceptions shared by the bridge, the command layer and the Python host."""

from __future__ import annotations

import re
from typing import Any

TCL_OK, TCL_ERROR, TCL_RETURN, TCL_BREAK, TCL_CONTINUE = 0, 1, 2, 3, 4


class TclError(Exception):
    """A Tcl error: a one-line message, a structured ``errorcode`` and ``errorinfo``.

    Raised by :meth:`tcltorch.Interp.eval` when a script fails, and used inside
    commands for usage and value errors (which Tcl then sees with that errorcode).
    """

    def __init__(self, message: str, errorcode: list[str] | None = None, errorinfo: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.errorcode = list(errorcode) if errorcode else ["NONE"]
        self.errorinfo = errorinfo or message


class Interrupted(TclError, KeyboardInterrupt):
    """An evaluation cancelled by Ctrl-C (``Interp.interruptible``): Tcl's ``interrupted``
    error (errorcode ``TCL CANCEL ...``), caught by ``except KeyboardInterrupt`` and by
    ``except TclError`` alike, wherever the Ctrl-C landed (Tcl byte code or a command)."""

    @property
    def result(self) -> str:
        return self.message


class TclPassthrough(Exception):
    """A nested Tcl evaluation ended with a non-OK code: let the command return that
    code and leave the interpreter's result and error state exactly as Tcl set them."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def wrong_args(usage: str) -> TclError:
    return TclError(f'wrong # args: should be "{usage}"', ["TCL", "WRONGARGS"])


def shorten(value: str, limit: int = 60) -> str:
    """A word as a message shows it: at most ``limit`` characters, a longer one cut with "..."."""
    return value if len(value) <= limit else value[: limit - 3] + "..."


def invalid_value(option: str, value: str, requirement: str) -> TclError:
    return TclError(f'invalid {option} "{shorten(value)}": {requirement}', ["TORCH", "VALUE", option])


def tcl_or_list(words: list[str]) -> str:
    """'a', 'a or b', 'a, b, or c' — the way Tcl_GetIndexFromObj lists choices."""
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]} or {words[1]}"
    return ", ".join(words[:-1]) + ", or " + words[-1]


# ---------------------------------------------------------------------------
# PyTorch's messages, said for a Tcl user.  Each rule sees the exception, its
# first line, the command name and its parsed arguments (objects, not words), and
# returns what to say before PyTorch's own text ("... (PyTorch: <text>)"), or None.  The
# rules here come first; the generic table of tcltorch/torch_messages.py is asked after them.

_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")


_DISTRIBUTED = re.compile(
    r"gloo/|ProcessGroupGloo|ProcessGroupNCCL|Connection closed by peer|Connection reset by peer"
    r"|Timed out waiting \d+ms for (send|recv) operation|Application timeout caused pair closure"
)


def _shape(tensor: Any) -> str:
    return "{" + " ".join(str(d) for d in tensor.shape) + "}"


def _first(kwargs: dict[str, Any] | None, kind: type) -> Any:
    for value in (kwargs or {}).values():
        if isinstance(value, kind):
            return value
    return None


def _name(handles: Any, obj: Any, fallback: str) -> str:
    name = handles.name_of(obj) if handles is not None else None
    return name or fallback


def translate(
    exc: BaseException, text: str, invoked: str | None, kwargs: dict[str, Any] | None, handles: Any
) -> str | None:
    from tcltorch import torch_messages

    if not isinstance(exc, RuntimeError):
        return torch_messages.translate(exc, text, invoked or "", kwargs, handles)
    import torch

    if _DISTRIBUTED.search(text):
        return (
            "a distributed operation failed (a DDP gradient reduction, or a collective inside "
            "torch): another rank died, closed its connection or timed out, so see that rank's "
            "log; this process group cannot be used again: call torch::distributed_destroy, or "
            "let torchrun restart the ranks"
        )

    if "backward through the graph a second time" in text:
        tensor = _first(kwargs, torch.Tensor)
        who = _name(handles, tensor, "this tensor") if tensor is not None else "this tensor"
        return (
            f"the graph behind {who} was already freed by an earlier torch::tensor_backward: "
            "give that first call -retainGraph 1 to differentiate the graph again"
        )
    match = _MATMUL.search(text)
    if match:
        module = _first(kwargs, torch.nn.Module)
        tensor = _first(kwargs, torch.Tensor)
        if module is not None and tensor is not None:
            got, expected = match.group(2), match.group(3)
            return (
                f"{_name(handles, module, 'the module')} cannot take an input of shape {_shape(tensor)}: "
                f"a layer expects {expected} features in the last dimension, got {got}"
            )
        return torch_messages.translate(exc, text, invoked or "", kwargs, handles)
    if "'indices'" in text and "scalar types: Long, Int" in text:
        tensor = _first(kwargs, torch.Tensor)
        what = (
            f"{_name(handles, tensor, 'the input')} ({str(tensor.dtype).replace('torch.', '')})"
            if tensor is not None
            else "the input"
        )
        return (
            f"embedding indices must be integers, but {what} is not: "
            "make the index tensor with -dtype int64 (or convert it with torch::tensor_to ... -dtype int64)"
        )
    return torch_messages.translate(exc, text, invoked or "", kwargs, handles)
