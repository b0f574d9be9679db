"""The console's own output that cannot be written (a full disk: /dev/full as stdout)
ends with a message on stderr and a non-zero status, in every mode; a reader that
went away (``| head``) ends it quietly, without a Python traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")


def to_full(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [sys.executable, "-m", "tcltorch", *args],
            input=stdin,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )


@pytest.mark.parametrize(
    "args",
    [
        ("-c", "expr {6*7}"),  # the result, printed by the console
        ("-c", "puts -nonewline hi"),  # Tcl's buffered output, flushed after the script
        ("-c", "puts -nonewline hi; exit 0"),  # exit flushes, and must not say 0
        ("--version",),
        ("--tcl-path",),
    ],
)
def test_a_full_disk_is_an_error(args):
    p = to_full(*args)
    assert p.returncode == 1, p.stderr
    assert "no space left on device" in p.stderr
    assert "Traceback" not in p.stderr and "Exception ignored" not in p.stderr


def test_script_and_piped_modes(tmp_path):
    script = tmp_path / "s.tcl"
    script.write_text("puts -nonewline written\n")
    p = to_full(str(script))
    assert p.returncode == 1 and "no space left on device" in p.stderr
    p = to_full(stdin="puts -nonewline one\nputs -nonewline two\n")
    assert p.returncode == 1 and "no space left on device" in p.stderr
    assert "Traceback" not in p.stderr


def test_a_failing_puts_is_the_scripts_error():
    p = to_full("-c", "puts hi")  # tclsh says so too: the error of puts itself
    assert p.returncode == 1
    assert p.stderr.startswith('error writing "stdout": no space left on device')
    assert "Traceback" not in p.stderr


def test_a_reader_that_goes_away():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tcltorch", "-c", "expr {[string repeat x 1000000]}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like | head -0
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) in (0, 1)
    assert "Traceback" not in err and "Exception ignored" not in err
    assert "no space" not in err


def test_the_repl_reports_a_lost_result(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    env = dict(os.environ, HOME=str(tmp_path), TCLTORCH_HISTORY="", TERM="xterm", NO_COLOR="1")
    child = pexpect.spawn(
        "/bin/sh",
        ["-c", f"exec {sys.executable} -m tcltorch > /dev/full"],  # stdin a terminal, stdout full
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    child.send("expr {6*7}\r")
    child.expect('tcltorch: error writing "stdout": no space left on device')
    child.send("expr {1+1}\r")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1
    assert "Traceback" not in child.before
