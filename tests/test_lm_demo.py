"""examples/train_lm.tcl on a tiny configuration in a real tclsh: the four result lines, the
checkpoint and the resume, and the flag errors."""

from __future__ import annotations

import re

from conftest import ROOT
from helpers import run_tclsh_file

SCRIPT = ROOT / "examples" / "train_lm.tcl"
TINY = ["--dmodel", "16", "--heads", "2", "--layers", "1", "--context", "12", "--batch", "8",
        "--chars", "8000", "--sample", "100"]  # fmt: skip


def results(out: str) -> dict[str, str]:
    found = {}
    for key, pattern in [
        ("first", r"^first loss ([0-9.]+)$"),
        ("final", r"^final loss ([0-9.]+)$"),
        ("state", r"^optimizer state: adafactor (\d+) bytes, adam (\d+) bytes$"),
        ("sample", r"^sample: (.*)$"),
    ]:
        m = re.search(pattern, out, re.MULTILINE)
        assert m, f"no {key!r} line in:\n{out}"
        found[key] = m.groups() if key == "state" else m.group(1)
    return found


def test_tiny_run_resume_and_lines(tmp_path):
    ckpt = str(tmp_path / "lm.ckpt")
    p = run_tclsh_file(SCRIPT, "--steps", "40", "--fresh", "--checkpoint", ckpt, *TINY, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    r = results(p.stdout)
    assert re.search(r"^step +1/40 +loss [0-9.]+ +\d+ tokens/s", p.stdout, re.MULTILINE)
    first, final = float(r["first"]), float(r["final"])
    assert 3.0 < first < 6.0  # about ln(vocabulary) at the start
    assert final < first
    ada, adam = map(int, r["state"])
    assert 0 < ada < 0.1 * adam
    assert len(r["sample"]) >= 100 and r["sample"].startswith("proc ")
    # the second run resumes from the checkpoint and trains the steps that are left
    p2 = run_tclsh_file(SCRIPT, "--steps", "45", "--checkpoint", ckpt, *TINY, cwd=tmp_path)
    assert p2.returncode == 0, p2.stderr
    assert "resumed from" in p2.stdout and "at step 40" in p2.stdout
    assert re.search(r"^step +41/45", p2.stdout, re.MULTILINE) and not re.search(
        r"^step +40/", p2.stdout, re.MULTILINE
    )
    results(p2.stdout)
    # nothing left to do: still the four lines
    p3 = run_tclsh_file(SCRIPT, "--steps", "45", "--checkpoint", ckpt, *TINY, cwd=tmp_path)
    assert p3.returncode == 0, p3.stderr
    assert "nothing to do" in p3.stdout
    results(p3.stdout)


def test_bad_flags(tmp_path):
    p = run_tclsh_file(SCRIPT, "--steps", "x", cwd=tmp_path)
    assert p.returncode == 2 and "--steps must be a positive integer" in p.stderr
    p = run_tclsh_file(SCRIPT, "--nope", "1", cwd=tmp_path)
    assert p.returncode == 2 and 'unknown argument "--nope"' in p.stderr
