"""The Python host's errors: a Python exception inside a command reaches Python with
Tcl's message (the one tclsh shows), of its own class, the original as ``__cause__``; an exception Tcl caught is never raised for a later error; and
``interruptible()`` leaves SIGINT's handler exactly as it found it."""

from __future__ import annotations

import re
import signal

import pytest
import torch

from tcltorch import Interp, TclError


def test_a_torch_error_has_tcls_message(interp):
    interp.eval("set lin [torch::linear 4 2]")
    with pytest.raises(RuntimeError) as info:
        interp.eval("torch::layer_forward $lin [torch::randn {2 5}]")
    exc = info.value
    assert "cannot take an input of shape {2 5}" in str(exc)
    assert type(exc) is RuntimeError and not isinstance(exc, TclError) and exc.message == str(exc)
    assert exc.errorcode == ["TORCH", "RuntimeError"]
    assert "torch::layer_forward $lin" in exc.errorinfo
    cause = exc.__cause__
    assert type(cause) is RuntimeError and "mat1 and mat2 shapes cannot be multiplied" in str(cause)
    assert interp.eval("expr {1 + 1}") == "2"


def test_a_python_callbacks_error(interp):
    def boom(*args):
        raise ValueError("bad value\nsecond line")

    interp.register("boom", boom)
    with pytest.raises(ValueError) as info:
        interp.eval("proc f {} {boom x}; f")
    assert str(info.value) == "bad value" and info.value.errorcode == ["TORCH", "ValueError"]
    assert str(info.value.__cause__) == "bad value\nsecond line"
    # rethrown with its options: still that error
    with pytest.raises(ValueError):
        interp.eval("catch {boom y} m o; return -options $o $m")


def test_a_caught_exception_is_not_raised_for_a_later_error(interp):
    def boom(*args):
        raise ValueError("bad")

    interp.register("boom", boom)
    for script in (
        "catch {boom z}; error bad {} {TORCH ValueError}",  # the same message and code
        "catch {boom}; error bad {} {TORCH ValueError}",
    ):
        with pytest.raises(TclError) as info:
            interp.eval(script)
        assert not isinstance(info.value, ValueError) and info.value.__cause__ is None
        assert "error bad {} {TORCH ValueError}" in info.value.errorinfo


def test_the_console_shows_tcls_message():
    from tcltorch.console import Console, new_interp

    console = Console(new_interp("tcltorch", [], interactive=False))
    ok, message, info = console.evaluate("torch::layer_forward [torch::linear 4 2] [torch::randn {2 5}]")
    assert not ok and re.match(r"linear\d+ cannot take an input of shape \{2 5\}", message)
    assert info.startswith(message)


@pytest.fixture
def sigint():
    saved = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, saved)


@pytest.mark.parametrize("handler", [signal.SIG_IGN, signal.SIG_DFL, "custom", signal.default_int_handler])
def test_interruptible_restores_sigint(sigint, handler):
    if handler == "custom":

        def handler(signum, frame):
            return None

    signal.signal(signal.SIGINT, handler)
    tcl = Interp()
    with tcl.interruptible():
        inside = signal.getsignal(signal.SIGINT)
        assert tcl.eval("expr {2 * 3}") == "6"
    assert signal.getsignal(signal.SIGINT) is handler
    if handler is signal.SIG_IGN:
        assert inside is signal.SIG_IGN  # ignored (nohup) stays ignored
        signal.raise_signal(signal.SIGINT)  # and really is: nothing happens
    elif handler is signal.SIG_DFL:
        assert inside is signal.default_int_handler  # Ctrl-C cancels the evaluation
    else:
        assert inside is handler


def test_tensor_errors_keep_torch_classes(interp):
    with pytest.raises(IndexError) as info:
        interp.eval(
            "torch::tensor_index_select [torch::arange 0 4] 0 [torch::tensor_create {-1} -dtype int64]"
        )
    assert isinstance(info.value.__cause__, IndexError) and str(info.value) == info.value.message


def test_a_class_with_its_own_text(interp):
    def lookup(key):
        raise KeyError(key)

    interp.register("lookup", lookup)
    with pytest.raises(KeyError) as info:
        interp.eval("lookup nosuch")
    assert str(info.value) == info.value.message == "'nosuch'"  # Tcl's message, not repr'd again
    assert type(info.value.__cause__) is KeyError
    assert torch.is_tensor(interp.get(interp.eval("torch::zeros {1}")))


def test_ctrl_c_is_one_exception_wherever_it_lands():
    """Ctrl-C in Tcl byte code gave a TclError, in a command's Python code a bare
    KeyboardInterrupt: now always tcltorch.Interrupted, which is both."""
    import threading

    import tcltorch

    tcl = tcltorch.Interp()
    seen = set()
    for delay in (0.05, 0.2, 0.35):
        timer = threading.Timer(delay, signal.raise_signal, (signal.SIGINT,))
        timer.start()
        try:
            with tcl.interruptible():
                tcl.eval("while 1 { catch { torch::zeros {2} } ; incr n }")
        except KeyboardInterrupt as stop:
            seen.add((type(stop).__name__, str(stop), isinstance(stop, tcltorch.TclError)))
        finally:
            timer.cancel()
    assert seen == {("Interrupted", "interrupted", True)}
    assert tcl.eval("expr {1 + 1}") == "2"
