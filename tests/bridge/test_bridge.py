"""The bridge through the Python host (tcltorch.Interp / tcltorch.install), and the
tclsh library's start-up (venv, minimal PATH, init failure)."""

from __future__ import annotations

import sys
import textwrap
import threading
import tkinter

import pytest
import torch
from conftest import ROOT, run_tclsh, tclsh_env

import tcltorch


def test_eval_returns_the_result(interp):
    assert interp.eval("torch::tensor_shape [torch::zeros {2 3}]") == "2 3"
    assert interp.eval("torch tensor_dtype [torch zeros {1} float64]") == "float64"


@pytest.mark.parametrize(
    "script, message, errorcode",
    [
        (
            "torch::zeros",
            'wrong # args: should be "torch::zeros shape ?dtype? ?device? ?requiresGrad?"',
            ["TCL", "WRONGARGS"],
        ),
        (
            "torch::zeros {2} -invalid 1",
            'bad option "-invalid": must be -shape, -dtype, -device, or -requiresGrad',
            ["TCL", "LOOKUP", "INDEX", "option", "-invalid"],
        ),
        ("torch::zeros -shape", 'missing value for option "-shape"', ["TORCH", "ARGS", "MISSING", "-shape"]),
        (
            "torch::zeros -dtype int64",
            'missing required option "-shape"',
            ["TORCH", "ARGS", "REQUIRED", "-shape"],
        ),
        ("torch::zeros {2} -dtype complex", None, ["TORCH", "VALUE", "-dtype"]),
        ("torch::tensor_item tensor99", 'no tensor named "tensor99"', ["TORCH", "HANDLE", "tensor99"]),
    ],
)
def test_error_table(interp, script, message, errorcode):
    with pytest.raises(tcltorch.TclError) as info:
        interp.eval(script)
    if message is not None:
        assert str(info.value) == message
    assert info.value.errorcode == errorcode
    assert info.value.errorinfo.startswith(str(info.value))
    assert "while executing" in info.value.errorinfo


def test_invalid_dtype_lists_the_valid_names(interp):
    with pytest.raises(
        tcltorch.TclError, match=r'invalid -dtype "complex": must be one of float32, float64, .*bool'
    ):
        interp.eval("torch::zeros {2} -dtype complex")


def test_torch_error_comes_back_as_the_same_exception(interp, monkeypatch):
    with pytest.raises(RuntimeError, match="floating point") as info:
        interp.eval("torch::tensor_create {1 2} -dtype int64 -requiresGrad 1")
    assert info.value.errorcode == ["TORCH", "RuntimeError"]
    # a user error: the Tcl location right after the message, no Python traceback ...
    assert info.value.errorinfo.split("\n")[1] == "    while executing"
    assert "Traceback" not in info.value.errorinfo
    # ... unless asked for
    monkeypatch.setenv("TCLTORCH_TRACEBACK", "1")
    with pytest.raises(RuntimeError) as info:
        interp.eval("torch::tensor_create {1 2} -dtype int64 -requiresGrad 1")
    assert "Traceback" in info.value.errorinfo


def test_python_command_exception_type_survives(interp):
    class Custom(Exception):
        pass

    def boom(*args):
        raise Custom("custom failure: " + " ".join(args))

    interp.register("boom", boom)
    with pytest.raises(Custom, match="custom failure: a b"):
        interp.eval("boom a b")
    # Caught inside Tcl it is an ordinary Tcl error with a structured code.
    assert (
        interp.eval("catch {boom x} m o; list $m [dict get $o -errorcode]")
        == "{custom failure: x} {TORCH Custom}"
    )
    # A different error raised after catching is not confused with the stashed one.
    with pytest.raises(tcltorch.TclError, match="other"):
        interp.eval("catch {boom y}; error other")


def test_call_converts_python_values(interp):
    assert interp.call("list", [1, [2.5, "a b"]], {"k": 1}, None, True) == "{1 {2.5 {a b}}} {k 1} {} 1"
    handle = interp.call("torch::tensor_create", [[1, 2], [3, 4]], "-dtype", "int64")
    assert interp.get(handle).tolist() == [[1, 2], [3, 4]]


def test_full_precision_and_nesting(interp):
    values = torch.randn(2, 3, 4, dtype=torch.float64)
    handle = interp.put(values)
    text = interp.eval(f"torch::tensor_to_list {handle}")
    back = interp.get(interp.call("torch::tensor_create", text, "-dtype", "float64"))
    assert torch.equal(back, values)


def test_put_get_free(interp):
    w = torch.nn.Linear(3, 2)
    name = interp.put(w)
    assert name.startswith("linear")
    assert interp.put(w) == name  # one object, one handle
    assert interp.get(name) is w
    assert name in interp.handles("module")
    interp.free(name)
    with pytest.raises(KeyError):
        interp.get(name)


def test_scope_frees_handles(interp):
    before = interp.handles()
    kept = interp.eval("torch::scope {torch::zeros {5}; torch::ones {5}; torch::zeros {2}}")
    assert interp.handles() == before + [kept]
    assert interp.eval(f"torch::tensor_shape {kept}") == "2"


def test_nested_evaluation_from_a_command(interp):
    interp.register("twice", lambda script: interp.eval(script) * 2)
    assert interp.eval("twice {torch::tensor_shape [torch::zeros {7}]}") == "77"


def test_other_thread_is_refused_not_crashed(interp):
    errors = []

    def worker():
        try:
            interp.eval("set x 1")
        except tcltorch.TclError as exc:
            errors.append(exc.errorcode)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors == [["TORCH", "THREAD"]]
    assert interp.eval("set y 2") == "2"


def test_install_on_an_existing_tkinter_interpreter():
    tk = tkinter.Tcl()
    tk.eval("set before 1")
    tcl = tcltorch.install(tk)
    assert tk.eval("torch::tensor_shape [torch::ones {3 1}]") == "3 1"
    assert tcl.eval("set before") == "1"
    # tkinter sees our error message (tkinter's own createcommand would lose it).
    with pytest.raises(tkinter.TclError, match='no tensor named "tensor42"'):
        tk.eval("torch::tensor_shape tensor42")
    assert tk.eval("package require tcltorch") == tcltorch.__version__


def test_interpreters_have_separate_tables():
    a, b = tcltorch.Interp(), tcltorch.Interp()
    name = a.eval("torch::zeros {1}")
    assert name in a.handles() and name not in b.handles()


def test_break_outside_a_loop(interp):
    with pytest.raises(tcltorch.TclError, match='invoked "break" outside of a loop'):
        interp.eval("break")


# --- the tclsh host ---------------------------------------------------------------


def test_tclsh_creates_a_tensor_and_reads_it_back():
    proc = run_tclsh(
        "puts [package require tcltorch]\nputs [torch::tensor_to_list [torch::tensor_create {{1 2} {3 4}}]]"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["0.1.0", "{1.0 2.0} {3.0 4.0}"]


def test_pkgindex_version_matches_the_package():
    text = (ROOT / "tcl" / "pkgIndex.tcl").read_text()
    assert f"package ifneeded tcltorch {tcltorch.__version__} " in text


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs tcltorch installed in a virtual environment")
def test_tclsh_uses_the_venv_whatever_path_says():
    env = {k: v for k, v in tclsh_env().items() if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH")}
    env["PATH"] = "/usr/bin:/bin"
    proc = run_tclsh("package require tcltorch\nputs [dict get [torch::runtime_info] prefix]", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == sys.prefix


def test_tclsh_init_failure_is_a_tcl_error_with_the_traceback(tmp_path):
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('broken torch for this test')\n")
    env = tclsh_env(PYTHONPATH=str(tmp_path))
    script = textwrap.dedent(
        """
        set code [catch {package require tcltorch} m o]
        puts $code
        puts $m
        puts [dict get $o -errorcode]
        puts [string match *Traceback* [dict get $o -errorinfo]]
        """
    )
    proc = run_tclsh(script, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "1"
    assert lines[1] == "tcltorch: cannot load: ImportError: broken torch for this test"
    assert lines[2:4] == ["TORCH INIT", "1"]


def test_console_runs_a_script_with_argv(tmp_path):
    from conftest import run_console

    script = tmp_path / "s.tcl"
    script.write_text(
        'puts "$argv0 $argc [lindex $argv 1]"\nputs [torch::tensor_shape [torch::zeros {2 2}]]\n'
    )
    proc = run_console(str(script), "a", "b c")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"{script} 2 b c", "2 2"]


def test_console_script_error_exit_status(tmp_path):
    from conftest import run_console

    script = tmp_path / "bad.tcl"
    script.write_text("puts before\ntorch::tensor_shape nosuch3\nputs after\n")
    proc = run_console(str(script))
    assert proc.returncode == 1
    assert proc.stdout == "before\n"
    assert proc.stderr.startswith('no tensor named "nosuch3"\n')
    assert "torch::tensor_shape nosuch3" in proc.stderr


def test_console_exit_flushes_and_sets_status(tmp_path):
    from conftest import run_console

    script = tmp_path / "exit.tcl"
    script.write_text("puts hello\nexit 3\nputs never\n")
    proc = run_console(str(script))
    assert (proc.returncode, proc.stdout) == (3, "hello\n")
