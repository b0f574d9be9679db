"""tcltorch --install-tcl / --uninstall-tcl with a temporary folder on Tcl's auto_path
(never a system folder), and the --tcl-path folder in the source tree's tcl/."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT

from tcltorch import __version__
from tcltorch.paths import tcl_path
from tcltorch.tcl_install import FOLDER, MANIFEST, default_dir, install_message, pkgindex_text


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


def cli(*args: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    # relative folders (a regression of a usage check) land in ``cwd``: give tests a scratch one
    return subprocess.run(
        [sys.executable, "-m", "tcltorch", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        cwd=cwd,
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
    # a temporary folder is not on auto_path: one message, saying what to add (not "now finds it")
    assert "is not on tclsh's auto_path" in p.stdout and f"lappend auto_path {{{tmp_path}}}" in p.stdout
    assert "now finds it" not in p.stdout and p.stderr == ""
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


def test_usage_error(tmp_path):
    p = cli("--install-tcl", "a", "b", cwd=tmp_path)
    assert not any(tmp_path.iterdir())
    assert p.returncode == 2 and "usage" in p.stderr


def test_an_empty_folder_is_refused(tmp_path):
    for flag in ("--install-tcl", "--uninstall-tcl"):
        p = cli(flag, "", cwd=tmp_path)
        assert p.returncode == 2 and "the folder is empty" in p.stderr
        assert "installed" not in p.stdout and "removed" not in p.stdout


def test_a_foreign_pkgindex_is_never_overwritten(tmp_path):
    (tmp_path / FOLDER).mkdir()
    index = tmp_path / FOLDER / "pkgIndex.tcl"
    index.write_text("package ifneeded mine 1 {}\n")
    p = cli("--install-tcl", str(tmp_path))
    assert p.returncode != 0 and "not written by --install-tcl" in p.stderr and "Traceback" not in p.stderr
    assert index.read_text() == "package ifneeded mine 1 {}\n"
    assert not (tmp_path / FOLDER / MANIFEST).exists()


def test_uninstall_removes_only_what_it_wrote(tmp_path):
    assert cli("--install-tcl", str(tmp_path)).returncode == 0
    manifest = (tmp_path / FOLDER / MANIFEST).read_text()
    assert (
        manifest.startswith("# tcltorch --install-tcl manifest") and "pkgIndex.tcl" in manifest.splitlines()
    )
    assert cli("--install-tcl", str(tmp_path)).returncode == 0  # its own files: overwritten
    (tmp_path / FOLDER / "notes.txt").write_text("mine")
    p = cli("--uninstall-tcl", str(tmp_path))
    assert p.returncode == 0 and "kept" in p.stdout
    assert sorted(x.name for x in (tmp_path / FOLDER).iterdir()) == ["notes.txt"]
    assert (tmp_path / FOLDER / "notes.txt").read_text() == "mine"


def test_a_planted_temporary_symlink_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    root = tmp_path / "site"
    (root / FOLDER).mkdir(parents=True)
    (root / FOLDER / "pkgIndex.tcl.tmp").symlink_to(victim)
    p = cli("--install-tcl", str(root))
    assert p.returncode == 0, p.stderr
    assert victim.read_text() == "precious\n"
    assert (root / FOLDER / "pkgIndex.tcl").read_text().startswith("# written by tcltorch --install-tcl")
    assert not list((root / FOLDER).glob(".*.tmp"))  # no temporary file left behind
    assert cli("--uninstall-tcl", str(root)).returncode == 0
    assert (root / FOLDER / "pkgIndex.tcl.tmp").is_symlink() and victim.read_text() == "precious\n"


def test_a_symlinked_package_folder_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "site"
    root.mkdir()
    (root / FOLDER).symlink_to(elsewhere, target_is_directory=True)
    for flag in ("--install-tcl", "--uninstall-tcl"):
        p = cli(flag, str(root))
        assert p.returncode != 0 and "is a symbolic link" in p.stderr and "Traceback" not in p.stderr
    assert list(elsewhere.iterdir()) == []


def test_the_message_after_installing(tmp_path):
    target = str(tmp_path / FOLDER)
    assert install_message(target, True) == f"installed: {target} (package require tcltorch now finds it)"
    for on_path in (False, None):
        text = install_message(target, on_path)
        assert "now finds it" not in text
        assert f"lappend auto_path {{{tmp_path}}}" in text and f"TCLLIBPATH={tmp_path}" in text
