"""The tcltorch console: the interactive REPL through a pseudo-terminal (pexpect),
the piped-stdin, -c and script modes as subprocesses, and the completer in-process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x08")
# prompt_toolkit turns bracketed paste on while it reads a line and off when it
# returns it: the first marks "the prompt is ready for keys".
READY = "\x1b[?2004h"
TIMEOUT = 30  # start-up imports torch


def console_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOME=str(home),
        TCLTORCH_HISTORY=str(home / "history"),
        TERM="xterm",
        NO_COLOR="1",
        PROMPT_TOOLKIT_NO_CPR="1",  # the pty does not answer cursor-position requests
    )
    env.update(extra)
    return env


class Session:
    """One interactive tcltorch under a pseudo-terminal."""

    def __init__(self, home: Path, *args: str) -> None:
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "tcltorch", *args],
            env=console_env(home),
            encoding="utf-8",
            timeout=TIMEOUT,
            dimensions=(40, 120),
        )
        self.child.expect_exact(READY)

    def run(self, line: str, pattern: str) -> str:
        """Type a line and Enter; wait for ``pattern`` (a regex) and the next prompt.
        Returns the output in between, without escape sequences."""
        self.child.send(line + "\r")
        self.child.expect(pattern)
        seen = self.child.before + self.child.after
        self.child.expect_exact(READY)
        return ANSI.sub("", seen + self.child.before)

    def tab(self, text: str, inserted: str) -> None:
        """Type ``text`` and Tab; wait until the completion has inserted ``inserted``."""
        self.child.send(text + "\t")
        self.child.expect_exact(inserted)

    def keys(self, text: str, pause: float = 0.3) -> None:
        self.child.send(text)
        time.sleep(pause)

    def eof(self) -> int:
        self.child.sendeof()
        self.child.expect(pexpect.EOF)
        self.child.close()
        return self.child.exitstatus


def line(text: str) -> str:
    """A regex for one output line (Tcl's tty channel writes \\r\\n, the pty adds \\r)."""
    return r"(?:^|\n|\x1b\[\?2004l)" + re.escape(text) + r"\r*\n"


def test_interactive_session(tmp_path):
    s = Session(tmp_path)
    assert "tcltorch 0.1.0 (Tcl 8." in ANSI.sub("", s.child.before)
    s.child.expect_exact("%")  # default prompt
    # a result
    s.run("expr {6*7}", line("42"))
    s.run("set t [torch::ones {2 3}]", line("tensor1  float32 {2 3}"))  # a handle: dtype and shape
    # a multi-line proc: Enter on an incomplete command continues it (info complete)
    s.keys("proc triple {x} {\r")
    s.keys("  return [expr {$x*3}]\r")
    s.run("}", r"\n")
    s.run("triple 14", line("42"))
    # an error: the message and the hint; .tb shows the trace
    out = s.run("triple x", r"shows the full trace\)")
    assert 'can\'t use non-numeric string as operand of "*"\r\n(.tb or "puts $errorInfo"' in out
    out = s.run(".tb", r'\(procedure "triple" line 2\)')
    assert 'invoked from within\r\n"triple x"' in out
    # Tab completes a command name and then an option of that command
    s.tab("torch::tensor_sh", "ape")
    s.run(" $t", line("2 3"))
    s.tab("torch::zeros {2 2} -dt", "ype")
    out = s.run("", line('missing value for option "-dtype"'))
    # ... and a handle name (the only live tensor is tensor1)
    s.tab("torch::tensor_sum tens", "or1")
    s.run(" -dim 1", line("tensor2  float32 {2}"))
    # Ctrl-C at the prompt clears the line
    s.keys("expr {1 + ")
    s.child.sendintr()
    s.child.expect_exact(READY)
    s.run("expr {2*50}", line("100"))
    # Ctrl-C interrupts a running loop; the session and the old handle stay usable
    s.child.send("puts started; while 1 {}\r")
    s.child.expect(line("started"))
    time.sleep(0.3)
    s.child.sendintr()
    s.child.expect(r"(?:\^C)?interrupted\r*\n")
    s.child.expect_exact(READY)
    s.run("torch::tensor_to_list $t", line("{1.0 1.0 1.0} {1.0 1.0 1.0}"))
    # ... and a loop of torch calls, interrupted at a return to Python inside a command;
    # torch::scope still frees what the interrupted iteration made
    s.run("set a [torch::randn {300 300}]", line("tensor3  float32 {300 300}"))
    s.child.send("puts go; while 1 {torch::scope {torch::tensor_matmul $a $a; list}}\r")
    s.child.expect(line("go"))
    time.sleep(0.5)
    s.child.sendintr()
    s.child.expect(r"(?:\^C)?interrupted\r*\n")
    s.child.expect_exact(READY)
    s.run("torch::handles", line("tensor1 tensor2 tensor3"))
    # Ctrl-D on an empty line exits with status 0
    assert s.eof() == 0


def test_history_rc_and_prompt_across_sessions(tmp_path):
    (tmp_path / ".tcltorchrc").write_text(
        'set rcvalue 77\nset tcl_prompt1 {puts -nonewline "tt[incr ::nprompt]>"}\n'
    )
    s = Session(tmp_path)
    s.child.expect(r"tt\d+>")  # tcl_prompt1 from ~/.tcltorchrc is a script that prints the prompt
    s.run("expr {$rcvalue + $tcl_interactive}", line("78"))
    s.run("set remembered [string repeat ab 3]", line("ababab"))
    s.run("expr {19*3}", line("57"))
    s.child.send("exit\r")
    s.child.expect(pexpect.EOF)
    s.child.close()
    assert s.child.exitstatus == 0
    saved = (tmp_path / "history").read_text()
    assert "+set remembered [string repeat ab 3]" in saved

    s = Session(tmp_path)
    s.keys("\x1b[A" * 3)  # Up three times: exit, expr, set remembered
    s.run("", line("ababab"))
    s.keys("\x12rcval")  # Ctrl-R: reverse search
    s.keys("\r")
    s.run("", line("78"))
    assert s.eof() == 0


def run_consoles(home: Path, *runs: tuple[tuple[str, ...], str | None]) -> list[subprocess.CompletedProcess]:
    """Run several non-interactive consoles at once ((args, stdin) each): start-up is slow."""
    procs = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "tcltorch", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=console_env(home),
            ),
            stdin,
        )
        for args, stdin in runs
    ]
    done = []
    for args, proc, stdin in procs:
        out, err = proc.communicate(stdin or "", timeout=TIMEOUT)
        done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def test_piped_stdin_stops_at_the_first_error(tmp_path):
    script = (
        "set x [torch::tensor_create {1 2 3}]\n"
        "puts [torch::tensor_to_list $x]\n"
        "proc double {v} {\n    expr {$v * 2}\n}\n"
        "puts [double 21]\n"
        "expr {6*7}\n"
        "puts prompt=[info exists tcl_prompt1]/$tcl_interactive\n"
        "torch::tensor_shape nosuch\n"
        "puts never\n"
    )
    errs, data = run_consoles(
        tmp_path,
        ((), script),
        (("-", "a"), "puts $argv0:$argv\nputs [gets stdin]\nthis line is data\nputs {open\n"),
    )
    assert errs.returncode == 1
    # results are not echoed (like tclsh < FILE); only the script's own output
    assert errs.stdout == "1.0 2.0 3.0\n42\nprompt=0/0\n"
    assert errs.stderr.startswith('no tensor named "nosuch"\n')
    assert '"torch::tensor_shape nosuch"' in errs.stderr
    assert "\x1b" not in errs.stdout + errs.stderr
    # the script reads the same stdin; an unfinished command at EOF is an error
    # (tcltorch - ARGS sets argv like python -)
    assert (data.returncode, data.stdout) == (1, "-:a\nthis line is data\n")
    assert data.stderr.startswith("missing close-brace")


def test_dash_c(tmp_path):
    result, error = run_consoles(
        tmp_path,
        (
            (
                "-c",
                'puts "$argv0 $argc [lindex $argv 1]"; torch::tensor_shape [torch::zeros {4 5}]',
                "p",
                "q r",
            ),
            None,
        ),
        (("-c", "torch::zeros {2 -2}"), None),
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "-c 2 q r\n4 5\n", "")
    assert (error.returncode, error.stdout) == (1, "")
    assert error.stderr.startswith('invalid -shape "2 -2": must be a list of non-negative integers\n')


def test_script_mode_and_options(tmp_path):
    script = tmp_path / "s.tcl"
    script.write_text('puts "$argv0|$argc|[lindex $argv 1]"\nexit [llength $argv]\n')
    bad = tmp_path / "bad.tcl"
    bad.write_text("puts before\nerror boom\n")
    ok, failed, version, usage, unknown = run_consoles(
        tmp_path,
        ((str(script), "a", "b c"), None),
        ((str(bad),), None),
        (("--version",), None),
        (("--help",), None),
        (("-q",), None),
    )
    assert (ok.returncode, ok.stdout) == (2, f"{script}|2|b c\n")
    assert (failed.returncode, failed.stdout) == (1, "before\n")
    assert failed.stderr.startswith("boom\n    while executing\n")
    assert (version.returncode, version.stdout) == (0, "tcltorch 0.1.0\n")
    assert usage.returncode == 0 and "tcltorch -c SCRIPT" in usage.stdout
    assert unknown.returncode == 2 and unknown.stderr.startswith("tcltorch: unknown option -q\n")


# -- the completer, in-process --------------------------------------------------------


@pytest.fixture(scope="module")
def completer():
    from tcltorch.console import Console, _make_completer, new_interp

    console = Console(new_interp("tcltorch", [], interactive=True))
    console.interp.eval("set t [torch::zeros {2 3}]; set lin [torch::linear 3 2]; set myvar 1")
    return console, _make_completer(console)


def complete(completer, text: str) -> list[str]:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    _, comp = completer
    return [c.text for c in comp.get_completions(Document(text), CompleteEvent(completion_requested=True))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("torch::tensor_sh", ["torch::tensor_shape"]),
        ("::torch::tensorSh", ["::torch::tensorShape"]),
        ("torch tensor_sh", ["tensor_shape"]),
        ("torch::zeros {2 2} -dt", ["-dtype"]),
        ("torch::zeros -shape {2 2} -d", ["-dtype", "-device"]),
        ("torch::zeros {2 2} -dtype float6", ["float64"]),
        ("set u [torch::tensor_shape te", ["$t"]),
        ("torch::tensor_shape -input li", []),  # a linear module is not a tensor
        ("puts $myv", ["myvar"]),
        ("set myv", ["myvar"]),
        ("proc f {} {\n    torch::tensor_num", ["torch::tensor_numel"]),
        ("# torch::zer", []),
    ],
)
def test_completions(completer, text, expected):
    # handle numbers are unique in the process: "$t" stands for the fixture's tensor
    console, _ = completer
    expected = [console.interp.getvar(e[1:]) if e.startswith("$") else e for e in expected]
    assert complete(completer, text) == expected


def test_help_and_handle_warning(tmp_path):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "tcltorch"],
        env=console_env(tmp_path, TCLTORCH_HANDLE_WARN="5"),
        encoding="utf-8",
        timeout=TIMEOUT,
        dimensions=(40, 120),
    )
    child.expect_exact(READY)
    s = Session.__new__(Session)
    s.child = child
    # help CMD: the text of torch::help, for a full name, a short name or an alias
    out = s.run("help tensorAdd", r"Family: tensors/elementwise\r*\n")
    assert "torch::tensor_add input other ?alpha?" in out and "Aliases: torch::tensorAdd" in out
    out = s.run("help", r"torch::help COMMAND for one command")
    # a result that is a handle of another kind, or a scalar, is shown as it is
    s.run("torch::linear 2 2", line("linear1"))
    s.run("torch::tensor_item [torch::ones {}]", line("1.0"))
    # more than 5 live handles: one warning, not repeated
    out = s.run("for {set i 0} {$i < 6} {incr i} {torch::zeros {1}}", r"live handles \(over 5\)[^\n]*\n")
    assert "torch::scope" in out
    out = s.run("torch::zeros {3 0} -dtype int64", line("tensor8  int64 {3 0}"))
    assert "live handles" not in out
    assert s.eof() == 0


def test_completion_hides_host_variables_and_duplicate_aliases(completer):
    console, _ = completer
    assert console.interp.eval("info exists ::_tkinter_skip_tk_init") == "1"
    assert complete(completer, "puts $_tk") == []
    assert complete(completer, "set _tk") == []
    # the command under its own name only, not again as its camelCase alias
    names = complete(completer, "torch::tensor_ad")
    assert "torch::tensor_add" in names and "torch::tensorAdd" not in names
    names = complete(completer, "torch::")
    assert len(names) == len(set(names))
    assert "torch::tensor_add" in names and "torch::tensorAdd" not in names
    # an alias is still completed when only the alias matches
    assert "torch::tensorAdd" in complete(completer, "torch::tensorAd")


def test_completion_of_tcl_commands_and_handles(completer):
    assert {"foreach", "format"} <= set(complete(completer, "fo"))
    console, _ = completer
    t, lin = console.interp.getvar("t"), console.interp.getvar("lin")
    assert complete(completer, "torch::layer_forward ") == [lin]
    assert complete(completer, "foo bar ") == [t, lin]


def test_ctrl_c_in_the_interactive_console_stops_catch_scope(tmp_path):
    pexpect = pytest.importorskip("pexpect")

    s = Session(tmp_path)
    s.child.send("puts go; while 1 { catch { torch::scope { torch::zeros 2 } } }\r")
    s.child.expect(line("go"))
    time.sleep(0.5)
    s.child.sendintr()
    s.child.expect(r"(?:\^C)?interrupted\r*\n", timeout=20)
    s.child.expect_exact(READY)
    s.run("expr {6*7}", line("42"))  # the session goes on
    assert s.eof() == 0
    del pexpect
