"""Reliability of the bridge and the core through the Python host and the console
(issue 8): the 2 GiB limit of a Tcl value, Ctrl-C through ``catch``, a stale Ctrl-C,
process-unique handle numbers, None and bytes crossing the bridge, tracebacks on
request, and the console with closed standard streams."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

import tcltorch
from tcltorch import bridge

# -- 1. values too long for Tcl: an error, never a cut length or a crash ------------------


def test_a_long_argument_is_an_overflow_error(interp):
    with bridge.max_value_size(100):
        with pytest.raises(OverflowError, match=r"max size for a Tcl value \(2147483647 bytes\) exceeded"):
            interp.call("string", "length", "a" * 101)
        with pytest.raises(OverflowError):
            interp.call("list", ["short", "b" * 101])  # inside a list too
        with pytest.raises(OverflowError):
            interp.call("string", "length", b"c" * 101)  # the bytes path
        with pytest.raises(OverflowError):
            interp.eval("set x {" + "d" * 101 + "}")
        assert interp.call("string", "length", "a" * 100) == "100"
    assert interp.call("string", "length", "a" * 101) == "101"


def test_a_long_callback_result_is_a_tcl_error(interp):
    interp.register("long_str", lambda: "x" * 200)
    interp.register("long_bytes", lambda: b"y" * 200)
    with bridge.max_value_size(100):
        for cmd in ("long_str", "long_bytes"):
            got = interp.eval(f"list [catch {{{cmd}}} m o] $m [dict get $o -errorcode]")
            assert got == "1 {result max size for a Tcl value (2147483647 bytes) exceeded} {TCL MEMORY}"
    assert interp.eval("string length [long_str]") == "200"


def test_a_long_value_in_a_command_body_is_an_error(interp):
    # a Python str reaching Tcl from inside a command (split of a Tcl list)
    interp.setvar("s", "torch::zeros {" + " 1" * 60 + "}")
    with bridge.max_value_size(100):  # the list (122 bytes) is too long, the message is not
        assert interp.eval("catch $s m") == "1"
    assert interp.getvar("m") == "invalid -shape: max size for a Tcl value (2147483647 bytes) exceeded"


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@pytest.mark.skipif(_available_bytes() < 10 * 2**30, reason="needs about 10 GiB of free memory")
def test_a_real_2_gib_string(interp):
    big = "a" * 2**31  # one byte more than a Tcl value holds
    with pytest.raises(OverflowError, match="max size for a Tcl value"):
        interp.call("string", "length", big)
    interp.register("huge", lambda: big)
    assert interp.eval("catch {huge} m o; list $m [dict get $o -errorcode]") == (
        "{result max size for a Tcl value (2147483647 bytes) exceeded} {TCL MEMORY}"
    )


# -- 3. Ctrl-C stops a loop of catch + scope, in a script and in the console -------------

LOOP = "puts ready; flush stdout; while 1 { catch { torch::scope { torch::zeros 2 } } }"


@pytest.mark.parametrize("form", ["file", "-c", "pure-tcl"])
def test_ctrl_c_unwinds_through_catch(tmp_path, form):
    loop = LOOP if form != "pure-tcl" else "puts ready; flush stdout; while 1 { catch { set x 1 } }"
    if form == "-c":
        args = ["-c", loop]
    else:
        script = tmp_path / "loop.tcl"
        script.write_text(loop + "\n")
        args = [str(script)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcltorch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    assert err.startswith("interrupted\n"), err
    assert "Traceback" not in err


def test_ctrl_c_outside_the_dispatchers_try_is_still_an_interrupt(interp):
    """A Ctrl-C that lands in a command's first or last bytecodes (outside its try) once came
    back as "tcltorch: internal error", which catch swallowed; now it unwinds like any other."""
    session = interp._session
    lib = bridge.lib

    def raw(*args):
        raise KeyboardInterrupt

    session._callables.append(raw)
    lib.tt_create_command(session.addr, b"raw_interrupted", id(raw))
    with pytest.raises(tcltorch.TclError) as err:
        interp.eval("catch {raw_interrupted} m; set reached 1")
    assert "interrupted" in str(err.value)
    assert interp.eval("info exists reached") == "0"


def test_keyboard_interrupt_in_a_command_is_not_caught_by_catch(interp):
    def ctrl_c():
        raise KeyboardInterrupt

    interp.register("ctrl_c", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        interp.eval("catch {ctrl_c}; set after 1")
    assert interp.eval("info exists after") == "0"
    assert interp.eval("catch {error x}") == "1"  # the cancellation is over: catch works again


def test_values_of_any_type_reach_tcl_safely(interp):
    assert interp.eval(b"set a 1") == "1"  # bytes as a script: converted, never read as a str
    assert interp.call("list", 2**70, 1.5, (1, "x y")) == "1180591620717411303424 1.5 {1 {x y}}"


# -- 10. a Ctrl-C that arrived while Python ran is forgotten on leaving interruptible() -----


def test_a_stale_ctrl_c_does_not_cancel_a_later_evaluation(interp):
    if threading_is_not_main():
        pytest.skip("signals go to the main thread")
    caught = False
    with interp.interruptible():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(100):  # Python code running: the KeyboardInterrupt lands here
                time.sleep(0.01)
        except KeyboardInterrupt:
            caught = True
    assert caught
    # the Tcl side of that Ctrl-C must not cancel this unrelated evaluation
    assert interp.eval("set n 0; for {set i 0} {$i < 2000} {incr i} {incr n}; set n") == "2000"
    h = interp.eval("torch::zeros {2}")
    assert interp.eval(f"torch::tensor_shape {h}") == "2"


def threading_is_not_main() -> bool:
    import threading

    return threading.current_thread() is not threading.main_thread()


# -- 8, 9. handle names and values crossing the bridge ---------------------------------------


def test_handle_numbers_are_unique_across_interpreters():
    a, b = tcltorch.Interp(), tcltorch.Interp()
    names_a = {a.eval("torch::zeros {1}") for _ in range(3)}
    names_b = {b.eval("torch::zeros {1}") for _ in range(3)}
    assert not names_a & names_b
    name = next(iter(names_a))
    with pytest.raises(tcltorch.TclError, match=f'no tensor named "{name}"'):
        b.eval(f"torch::tensor_shape {name}")


def test_put_none_is_refused_and_free_agrees_with_get(interp):
    with pytest.raises(TypeError, match="None cannot have a handle"):
        interp.put(None)
    h = interp.put(torch.ones(1))
    interp.free(h)
    with pytest.raises(KeyError):
        interp.get(h)


def test_a_callback_returning_bytes_gives_a_byte_string(interp):
    interp.register("blob", lambda: b"\x00\x01\xff")
    interp.register("blob2", lambda: bytearray(b"ab"))
    assert interp.eval("binary scan [blob] cu* v; set v") == "0 1 255"
    assert interp.eval("string length [blob]") == "3"
    assert interp.eval("blob2") == "ab"
    assert interp.handles("object") == []


def test_strings_keep_nul_and_characters_outside_the_bmp(interp):
    text = "a\x00b\U0001f600c\u00e9"
    assert interp.call("set", "x", text) == text
    # Tcl sees its own forms: the NUL is one char, the emoji a surrogate pair (8.6)
    assert interp.eval("string length $x") == "7"
    assert interp.eval("string index $x 1") == "\x00"
    interp.register("echo", lambda s: s)
    assert interp.call("echo", text) == text
    assert interp.eval("echo $x") == text


# -- 11. tracebacks: short for user errors, full for internal ones or on request ----------------


def test_tracebacks_for_user_errors_only_on_request(interp, monkeypatch):
    lin = interp.eval("torch::linear 3 4")
    x = interp.put(torch.ones(2, 5))
    with pytest.raises(RuntimeError) as info:
        interp.eval(f"torch::layer_forward {lin} {x}")
    assert info.value.errorinfo.split("\n")[1] == "    while executing"
    assert "Traceback" not in info.value.errorinfo
    monkeypatch.setenv("TCLTORCH_TRACEBACK", "1")
    with pytest.raises(RuntimeError) as info:
        interp.eval(f"torch::layer_forward {lin} {x}")
    assert "Traceback (most recent call last)" in info.value.errorinfo


def test_python_callbacks_keep_their_traceback(interp):
    def broken():
        return {}["missing"]

    interp.register("broken", broken)
    info = interp.eval("catch {broken} m o; dict get $o -errorinfo")
    assert "Traceback (most recent call last)" in info and "KeyError" in info


# -- 11. the console with closed standard streams ------------------------------------------------


@pytest.mark.parametrize(
    "args, redirect",
    [
        (["-c", "puts hi; torch::zeros 2"], ">&-"),
        ([], "<&-"),
        (["-c", "error boom"], "<&- >&-"),
        (["SCRIPT"], "<&- >&-"),
    ],
)
def test_console_with_closed_streams_prints_no_traceback(tmp_path, args, redirect):
    script = tmp_path / "s.tcl"
    script.write_text("puts hi\n")
    words = " ".join(str(script) if a == "SCRIPT" else _sh_quote(a) for a in args)
    err = tmp_path / "err.txt"
    cmd = f"{_sh_quote(sys.executable)} -m tcltorch {words} {redirect} 2>{_sh_quote(str(err))}"
    proc = subprocess.run(["sh", "-c", cmd], timeout=300, check=False)
    text = err.read_text()
    assert "Traceback" not in text, text
    assert proc.returncode == (1 if "error" in words else 0), text


def _sh_quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"
