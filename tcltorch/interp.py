"""The Python host: a Tcl interpreter with the ``torch::`` commands loaded."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any

from tcltorch import bridge
from tcltorch.errors import TCL_BREAK, TCL_ERROR, TCL_OK, TCL_RETURN, Interrupted, TclError

lib = bridge.lib


_CANCELLED = ("TCL", "CANCEL", "IUNWIND", "interrupted")


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
        import tkinter

        self._tk_error = tkinter.TclError
        self.addr: int = tk.interpaddr()
        self._session = bridge.install(self.addr)
        self._interruptible = False

    # -- evaluation ---------------------------------------------------------------
    def eval(self, script: str) -> str:
        """Evaluate a script at global level and return its result.  A failing
        script raises :class:`TclError` (with ``errorcode`` and ``errorinfo``).  When a
        Python exception inside a command caused it, the exception raised is of that
        exception's class (a RuntimeError from torch, say), its text is Tcl's message
        (what tclsh shows), it has ``message``, ``errorcode`` and ``errorinfo`` like a
        TclError, and the original exception is its ``__cause__``."""
        return self._enter(0, script)

    def call(self, command: str, *args: Any) -> str:
        """Invoke one command with each argument as one word (lists become Tcl lists)."""
        return self._enter(1, (command, *args))

    def _enter(self, mode: int, obj: Any) -> str:
        """Run a script (mode 0, a str) or a command's words (mode 1, a tuple) at level #0.

        Through tkinter (its ``call`` of the bridge's hidden command, tclapi.c): tkinter's own
        commands in the script (``createcommand``, a Tk widget's callbacks) take the GIL back
        from the thread state tkinter saved on entering Tcl, so only tkinter may enter it.
        The hidden command hands back the code, the result and, after an error, the error
        code and info (``out``; ``obj`` and ``out`` stay referenced here while it runs)."""
        self._session.check_thread()
        self._session.last_error = None
        out: list[Any] = []
        try:
            try:
                self.tk.call("interp", "invokehidden", "", bridge.HOST_COMMAND, mode, id(obj), id(out))
            except self._tk_error:
                if not out:  # the hidden command never ran (the interp is being deleted ...)
                    raise
            finally:
                lib.tt_reset_cancellation(self.addr)  # a Ctrl-C's cancellation ends with it
        except KeyboardInterrupt as stop:  # Python's own handler ran as the evaluation ended
            raise Interrupted("interrupted", list(_CANCELLED)) from stop
        return self._finish(out[0], out[1:])

    def _finish(self, code: int, out: list[Any] | None = None) -> str:
        """The outcome of an evaluation that returned ``code``: the interp's result, or ``out``
        (what tclapi.c's tcltorch_host read from it)."""
        if code == bridge.E_SIZE:  # an argument too long for a Tcl value (as tkinter says)
            raise bridge.too_big()
        if out is None:
            out = []
            lib.tt_result_into(self.addr, id(out), code == TCL_ERROR)
        if code in (TCL_OK, TCL_RETURN):
            return out[0]
        if code == TCL_ERROR:
            message, errorcode, errorinfo = out
            last = self._session.last_error
            self._session.last_error = None
            if last is not None and self._ended_by(last, message, errorcode):
                error = python_error(last[0], message, errorcode, errorinfo)
                if isinstance(error, KeyboardInterrupt):  # Ctrl-C inside a command
                    raise Interrupted(message, errorcode, errorinfo) from error
                raise error from last[0]
            if errorcode[:2] in (["TCL", "CANCEL"], ["TORCH", "INTERRUPT"]):  # Ctrl-C, wherever
                raise Interrupted(message, errorcode, errorinfo)
            raise TclError(message, errorcode, errorinfo)
        word = "break" if code == TCL_BREAK else "continue"
        raise TclError(f'invoked "{word}" outside of a loop', ["TCL", "RESULT", str(code)])

    def _ended_by(self, last: tuple[Any, ...], message: str, errorcode: list[str]) -> bool:
        """Whether the Python failure ``last`` (bridge.Session.last_error) is the error
        that ended the script: the same message and code, raised by the same command
        (Tcl's errorstack) -- not one Tcl caught before another error alike ended it."""
        exc, last_message, last_code, words = last
        if isinstance(exc, TclError) or (last_message, last_code) != (message, errorcode):
            return False
        if isinstance(exc, KeyboardInterrupt) or not words:
            return True
        try:
            stack = bridge.split(self.tk.eval("info errorstack"))
            inner = bridge.split(stack[1]) if stack[:1] == ["INNER"] else []
        except Exception:  # noqa: BLE001 (no errorstack to read: trust message and code)
            return True
        name, args = words[0], list(words[1:])
        if len(inner) <= len(args) or inner[len(inner) - len(args) :] != args:
            return False
        return inner[-len(args) - 1].rsplit("::", 1)[-1] == name.rsplit("::", 1)[-1]

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """While active (main thread only), Ctrl-C cancels the running evaluation
        with an "interrupted" error (no ``catch`` can stop it) and leaves the
        interpreter usable.  A Ctrl-C that came while Python code ran in the block
        is forgotten on leaving it: it never cancels a later evaluation."""
        if threading.current_thread() is not threading.main_thread() or self._interruptible:
            yield
            return
        # SIGINT ignored (nohup, a background job) stays ignored; a default action becomes
        # KeyboardInterrupt while the block runs, and comes back exactly on leaving it.
        previous = signal.getsignal(signal.SIGINT)
        replaced = previous == signal.SIG_DFL
        if replaced:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        lib.tt_interrupt_arm(self.addr)
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False
            lib.tt_interrupt_disarm()
            if replaced:
                signal.signal(signal.SIGINT, previous)

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


@functools.cache
def _plain_text_class(base: type[BaseException]) -> type[BaseException]:
    """``base`` itself when its text is its message (RuntimeError, ValueError, torch's
    errors), else a subclass of the same name whose text is (KeyError, OSError, ...)."""
    if base.__str__ is BaseException.__str__:
        return base
    return type(
        base.__name__,
        (base,),
        {
            "__module__": base.__module__,
            "__qualname__": base.__qualname__,
            "__doc__": base.__doc__,
            "__str__": lambda self: str(self.args[0]),
        },
    )


def python_error(exc: BaseException, message: str, errorcode: list[str], errorinfo: str) -> BaseException:
    """The exception :meth:`Interp.eval` raises for a script that a Python exception in a
    command ended: of ``exc``'s class, its text Tcl's message (what tclsh shows), with
    ``message``, ``errorcode`` and ``errorinfo`` as a TclError has them.  A
    KeyboardInterrupt or SystemExit stays the very exception."""
    if not isinstance(exc, Exception):
        exc.errorcode, exc.errorinfo = errorcode, errorinfo  # type: ignore[attr-defined]
        return exc
    try:
        cls = _plain_text_class(type(exc))
        new = cls.__new__(cls)
        new.args = (message,)
    except Exception:  # noqa: BLE001 (a class that cannot be made so: a plain TclError)
        return TclError(message, errorcode, errorinfo)
    new.message, new.errorcode, new.errorinfo = message, errorcode, errorinfo  # type: ignore[attr-defined]
    return new


def install(tk: Any) -> Interp:
    """Add the ``torch::`` commands to an existing ``tkinter.Tcl()`` or ``Tk()``."""
    return Interp(tk)
