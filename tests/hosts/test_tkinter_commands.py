"""The Python host enters Tcl through tkinter (tclapi.c's hidden tcltorch_host), so commands made
with tkinter's own ``createcommand`` (a Tk widget's callbacks) run from ``Interp.eval`` and
``Interp.call`` as they do from ``tk.eval``: before, Python aborted the process there."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tkinter

import pytest

import tcltorch
from tcltorch import bridge


@pytest.fixture
def tk_and_interp():
    tk = tkinter.Tcl()
    return tk, tcltorch.install(tk)


def test_tkinter_commands_run_from_interp_eval_and_call(tk_and_interp):
    tk, tcl = tk_and_interp
    seen: list[tuple[str, ...]] = []

    def hello(*words: str) -> str:
        seen.append(words)
        return "hi " + " ".join(words)

    tk.createcommand("pyhello", hello)
    assert tcl.eval("pyhello a b") == "hi a b"
    assert tcl.call("pyhello", "c d", "e") == "hi c d e"
    # inside a tcltorch command's script (a nested evaluation), and around tensors
    assert tcl.eval("torch::scope { pyhello [torch::tensor_numel [torch::zeros {2 3}]] }") == "hi 6"
    assert seen == [("a", "b"), ("c d", "e"), ("6",)]
    assert tk.eval("pyhello x") == "hi x"


def test_a_tkinter_command_that_fails_is_a_tcl_error(tk_and_interp):
    tk, tcl = tk_and_interp

    def broken(*words: str) -> str:
        raise ValueError("no good")

    tk.createcommand("pybroken", broken)
    # tkinter keeps the Python exception for its mainloop and gives Tcl an error without a
    # message, from tk.eval as from here
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("pybroken 1")
    assert info.value.message == ""
    assert tcl.eval("catch {pybroken 2}") == "1"
    assert tcl.eval("expr {6 * 7}") == "42"  # the interpreter goes on


def test_results_errors_and_sizes_are_as_before(tk_and_interp):
    _, tcl = tk_and_interp
    assert tcl.eval("list a {b c}") == "a {b c}"
    assert tcl.call("list", "a", "b c") == "a {b c}"
    with pytest.raises(tcltorch.TclError) as info:
        tcl.eval("error boom {} {MY CODE}")
    assert (info.value.message, info.value.errorcode) == ("boom", ["MY", "CODE"])
    assert info.value.errorinfo == 'boom\n    while executing\n"error boom {} {MY CODE}"'
    with pytest.raises(tcltorch.TclError, match='invoked "break" outside of a loop'):
        tcl.eval("break")


def test_a_new_interpreter_where_a_deleted_one_was_gets_its_own_session():
    tk = tkinter.Tcl()
    addr = tk.interpaddr()

    class Stale:  # what a session of an interpreter deleted unseen would look like
        class handles:
            cleared = False

            @classmethod
            def clear(cls) -> None:
                cls.cleared = True

    bridge._sessions[addr] = Stale  # type: ignore[assignment]
    tcl = tcltorch.install(tk)
    assert tcl._session is not Stale and Stale.handles.cleared
    assert tcl.eval("torch::tensor_numel [torch::ones {4}]") == "4"
    assert tcltorch.install(tk)._session is tcl._session  # the live one is kept


def test_a_tk_callback_during_update_from_interp_eval_in_a_fresh_process():
    """The case that aborted: a Python callback tkinter made, fired by Tcl code that
    Interp.eval runs (`after` + `update`, as a Tk chart's refresh does)."""
    script = textwrap.dedent(
        """
        import tkinter, tcltorch
        tk = tkinter.Tcl()
        tcl = tcltorch.install(tk)
        fired = []
        tk.createcommand("on_tick", lambda: fired.append(1))
        tcl.eval("after 0 on_tick; update")
        print("fired", len(fired))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert (run.returncode, run.stdout.strip()) == (0, "fired 1"), run.stderr[-2000:]
