"""tcltorch --install-tcl / --uninstall-tcl with a temporary folder on Tcl's auto_path
(never a system folder), and the --tcl-path folder in the source tree's tcl/."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

from tcltorch import __version__
from tcltorch.paths import tcl_path
from tcltorch.tcl_install import FOLDER, default_dir, pkgindex_text


def tclsh(script: str, auto_dir) -> subprocess.CompletedProcess:
    """A plain tclsh (no TCLLIBPATH) with ``auto_dir`` added to auto_path."""
    env = {k: v for k, v in os.environ.items() if k != "TCLLIBPATH"}
    return subprocess.run(
        ["tclsh"],
        input=f"lappend auto_path {{{auto_dir}}}\n{script}\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tcltorch", *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_tcl_path_holds_the_pkgindex():
    path = tcl_path()
    assert os.path.isfile(os.path.join(path, "pkgIndex.tcl"))
    assert cli("--tcl-path").stdout.strip() == path
    # in a source tree (editable install) it is the top-level tcl/ folder
    if not (ROOT / "tcltorch" / "tcl" / "pkgIndex.tcl").exists():
        assert path == str(ROOT / "tcl")


def test_install_then_package_require_then_uninstall(tmp_path):
    before = tclsh("puts [catch {package require tcltorch}]", tmp_path)
    assert before.stdout.strip() == "1"  # not found without TCLLIBPATH
    p = cli("--install-tcl", str(tmp_path))
    assert p.returncode == 0, p.stderr
    assert (tmp_path / FOLDER / "pkgIndex.tcl").is_file()
    assert f"installed: {tmp_path / FOLDER}" in p.stdout
    assert "not on tclsh's auto_path" in p.stderr  # a temporary folder is not on it by default
    r = tclsh(
        "puts [package require tcltorch]; puts [torch::tensor_to_list [torch::ones {2}]]\n"
        "puts [package require tcltorch::test]",  # the tcltest helpers of tcl/ come along
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [__version__, "1.0", "1.0", __version__]
    # installing again overwrites; uninstall removes the folder, and then nothing is left to do
    assert cli("--install-tcl", str(tmp_path)).returncode == 0
    p = cli("--uninstall-tcl", str(tmp_path))
    assert p.returncode == 0 and f"removed: {tmp_path / FOLDER}" in p.stdout
    assert not (tmp_path / FOLDER).exists()
    assert "nothing to remove" in cli("--uninstall-tcl", str(tmp_path)).stdout
    assert tclsh("puts [catch {package require tcltorch}]", tmp_path).stdout.strip() == "1"


def test_uninstall_leaves_a_folder_it_did_not_write(tmp_path):
    (tmp_path / FOLDER).mkdir()
    (tmp_path / FOLDER / "pkgIndex.tcl").write_text("package ifneeded tcltorch 9 {}\n")
    p = cli("--uninstall-tcl", str(tmp_path))
    assert p.returncode != 0 and "not written by --install-tcl" in p.stderr
    assert (tmp_path / FOLDER / "pkgIndex.tcl").exists()


def test_default_dir_prefers_the_local_site_folder(tmp_path):
    local = tmp_path / "usr" / "local" / "lib" / "tcltk"
    (tmp_path / "usr" / "local").mkdir(parents=True)
    entries = [str(tmp_path / "usr" / "share" / "tcltk"), str(local)]
    assert default_dir(entries) == str(local)
    text = pkgindex_text("/some/where/tcl")
    assert "{/some/where/tcl}" in text and "package vsatisfies" in text


def test_usage_error():
    p = cli("--install-tcl", "a", "b")
    assert p.returncode == 2 and "usage" in p.stderr
