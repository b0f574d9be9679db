"""The Python host: a Tcl interpreter with the ``torch::`` commands loaded."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from tcltorch import bridge
from tcltorch.errors import TCL_BREAK, TCL_ERROR, TCL_OK, TCL_RETURN, TclError

lib = bridge.lib


class Interp:
    """A Tcl interpreter (tkinter's, or a new ``tkinter.Tcl()``) with tcltorch loaded.

    >>> tcl = Interp()
    >>> tcl.eval("torch::tensor_shape [torch::zeros {2 3}]")
    '2 3'
    """

    def __init__(self, tk: Any = None) -> None:
        if tk is None:
            import tkinter

            tk = tkinter.Tcl()
        self.tk = tk
        self.addr: int = tk.interpaddr()
        self._session = bridge.install(self.addr)
        self._interruptible = False

    # -- evaluation ---------------------------------------------------------------
    def eval(self, script: str) -> str:
        """Evaluate a script at global level and return its result.  A failing
        script raises :class:`TclError` (with ``errorcode`` and ``errorinfo``), or,
        when a Python exception inside a command caused it, that exception."""
        self._session.check_thread()
        self._session.last_error = None
        code = lib.tt_eval(self.addr, id(script), 1)
        return self._finish(code)

    def call(self, command: str, *args: Any) -> str:
        """Invoke one command with each argument as one word (lists become Tcl lists)."""
        self._session.check_thread()
        self._session.last_error = None
        words = (command, *args)  # keep a reference: the C side borrows it
        code = lib.tt_call(self.addr, id(words), 1)
        return self._finish(code)

    def _finish(self, code: int) -> str:
        if code == bridge.E_SIZE:  # an argument too long for a Tcl value (as tkinter says)
            raise bridge.too_big()
        out: list[Any] = []
        lib.tt_result_into(self.addr, id(out), code == TCL_ERROR)
        if code in (TCL_OK, TCL_RETURN):
            return out[0]
        if code == TCL_ERROR:
            message, errorcode, errorinfo = out
            last = self._session.last_error
            self._session.last_error = None
            if (
                last is not None
                and not isinstance(last[0], TclError)
                and (last[1], last[2]) == (message, errorcode)
            ):
                exc = last[0]
                exc.errorcode, exc.errorinfo = errorcode, errorinfo  # type: ignore[attr-defined]
                raise exc
            raise TclError(message, errorcode, errorinfo)
        word = "break" if code == TCL_BREAK else "continue"
        raise TclError(f'invoked "{word}" outside of a loop', ["TCL", "RESULT", str(code)])

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """While active (main thread only), Ctrl-C cancels the running evaluation
        with an "interrupted" error (no ``catch`` can stop it) and leaves the
        interpreter usable.  A Ctrl-C that came while Python code ran in the block
        is forgotten on leaving it: it never cancels a later evaluation."""
        if threading.current_thread() is not threading.main_thread() or self._interruptible:
            yield
            return
        if signal.getsignal(signal.SIGINT) in (signal.SIG_DFL, signal.SIG_IGN, None):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        lib.tt_interrupt_arm(self.addr)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
            lib.tt_interrupt_disarm()

    # -- objects ------------------------------------------------------------------
    def put(self, obj: Any) -> str:
        """Register a tensor, module or optimizer made in Python; returns its handle.
        Handle numbers are unique in the process, across interpreters."""
        self._session.check_thread()
        return self._session.handles.put(obj)

    def get(self, handle: str) -> Any:
        """The object behind a handle."""
        self._session.check_thread()
        try:
            return self._session.handles.get(handle)
        except TclError as exc:
            raise KeyError(exc.message) from None

    def free(self, handle: str) -> None:
        self._session.check_thread()
        self._session.handles.free(handle)

    def handles(self, kind: str | None = None) -> list[str]:
        return self._session.handles.names(kind)

    def register(self, name: str, fn: Callable[..., Any]) -> None:
        """Add a Tcl command implemented by a Python callable (arguments arrive as str)."""
        self._session.check_thread()
        self._session.register(name, fn)

    def setvar(self, name: str, value: Any) -> None:
        self.call("set", name, value)

    def getvar(self, name: str) -> str:
        return self.call("set", name)


def install(tk: Any) -> Interp:
    """Add the ``torch::`` commands to an existing ``tkinter.Tcl()`` or ``Tk()``."""
    return Interp(tk)
