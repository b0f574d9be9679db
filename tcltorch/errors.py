"""Exceptions shared by the bridge, the command layer and the Python host."""

from __future__ import annotations

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


def invalid_value(option: str, value: str, requirement: str) -> TclError:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return TclError(f'invalid {option} "{shown}": {requirement}', ["TORCH", "VALUE", option])


def tcl_or_list(words: list[str]) -> str:
    """'a', 'a or b', 'a, b, or c' — the way Tcl_GetIndexFromObj lists choices."""
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]} or {words[1]}"
    return ", ".join(words[:-1]) + ", or " + words[-1]
