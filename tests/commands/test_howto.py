"""docs/howto.md ("How do I ...?"): generated from torch::help's search by tools/gen_howto.py;
every task's command exists and its search finds it, the page is current, and the examples
run top to bottom in a real tclsh, printing what the page shows."""

from __future__ import annotations

import importlib.util
import re
import subprocess

from conftest import ROOT, tclsh_env

SPEC = importlib.util.spec_from_file_location("gen_howto", ROOT / "tools" / "gen_howto.py")
gen_howto = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gen_howto)

SHOWN = re.compile(r"^(\s*)puts (.*?)\s*;#\s*->\s?(.*)$", re.MULTILINE)


def test_every_task_names_a_command_its_search_finds():
    from tcltorch.commands.runtime.help import search

    assert len(gen_howto.TASKS) >= 30
    assert gen_howto.check_tasks() == []
    for _, words, name, _ in gen_howto.TASKS:
        assert name in [m.cmd.name for m in search(words)[: gen_howto.HITS]]
    # the check catches a command that is gone and one the search does not find
    saved = list(gen_howto.TASKS)
    try:
        gen_howto.TASKS[:] = [("x", "csv", "no_such_command", ""), ("y", "csv", "tensor_add", "")]
        problems = gen_howto.check_tasks()
        assert problems[0] == "x: torch::no_such_command does not exist"
        assert problems[1].startswith('y: "help csv" does not list torch::tensor_add')
    finally:
        gen_howto.TASKS[:] = saved


def test_page_is_current():
    assert gen_howto.PAGE.read_text(encoding="utf-8") == gen_howto.render()
    page = gen_howto.PAGE.read_text(encoding="utf-8")
    for _, _, name, example in gen_howto.TASKS:
        assert f"(commands/{name}.md)" in page and example in page
        assert (ROOT / "docs" / "commands" / f"{name}.md").exists()


def test_examples_run_in_tclsh(tmp_path):
    expected: list[str] = []

    def record(match):
        expected.append(match.group(3).strip())
        return f'{match.group(1)}puts -nonewline "SHOWN {len(expected) - 1} "; puts {match.group(2)}'

    script = "package require tcltorch\n" + SHOWN.sub(record, gen_howto.script())
    path = tmp_path / "howto.tcl"
    path.write_text(script)
    proc = subprocess.run(
        ["tclsh", str(path)],
        check=False,
        capture_output=True,
        text=True,
        env=tclsh_env(),
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    got = dict(re.findall(r"^SHOWN (\d+) (.*)$", proc.stdout, re.MULTILINE))
    for i, want in enumerate(expected):
        value = got[str(i)]
        if re.fullmatch(r"[-+0-9.e]+", want):
            assert abs(float(value) - float(want)) <= 1e-6 * max(1.0, abs(float(want))), (i, value, want)
        else:
            assert value == want, (i, value, want)
