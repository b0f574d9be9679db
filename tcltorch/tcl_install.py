"""``tcltorch --install-tcl ?DIR?`` / ``--uninstall-tcl ?DIR?``: make ``package require
tcltorch`` work in every Tcl application without TCLLIBPATH, the way Tcl extensions are
installed: a package folder ``tcltorch<version>`` in a folder on Tcl's ``auto_path`` whose
pkgIndex.tcl sources this package's own (so it follows this Python environment)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tcltorch import __version__

FOLDER = f"tcltorch{__version__}"
MARKER = "# written by tcltorch --install-tcl"


def tcl_auto_path(tclsh: str = "tclsh") -> list[str]:
    """Tcl's auto_path as a plain tclsh sees it (without TCLLIBPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "TCLLIBPATH"}
    out = subprocess.run(
        [tclsh],
        input="puts [join $auto_path \\n]\n",
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    return [line for line in out.splitlines() if line]


def _writable(path: str) -> bool:
    """The folder exists and is writable, or can be made inside a writable existing parent."""
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent
    return os.path.isdir(path) and os.access(path, os.W_OK)


def default_dir(auto_path: list[str] | None = None) -> str:
    """The site folder for Tcl packages: the first auto_path entry under a ``local`` prefix
    (/usr/local/lib/tcltk on Debian), else the first entry; the first writable such one wins."""
    entries = tcl_auto_path() if auto_path is None else auto_path
    if not entries:
        raise SystemExit("tcltorch: tclsh reports an empty auto_path; give a folder: --install-tcl DIR")
    ranked = [e for e in entries if "/local/" in e + "/"] + [e for e in entries if "/local/" not in e + "/"]
    for entry in ranked:
        if _writable(entry):
            return entry
    return ranked[0]


def pkgindex_text(source_dir: str) -> str:
    return (
        f"{MARKER} (tcltorch {__version__}, Python {sys.executable})\n"
        "# it loads the tcltorch of that Python environment: remove with tcltorch --uninstall-tcl\n"
        "if {![package vsatisfies [package provide Tcl] 8.6-]} return\n"
        f"apply {{{{dir}} {{\n"
        "    if {[file exists [file join $dir pkgIndex.tcl]]} { source [file join $dir pkgIndex.tcl] }\n"
        f"}}}} {{{source_dir}}}\n"
    )


def install(directory: str | None = None) -> str:
    """Write ``DIR/tcltorch<version>/pkgIndex.tcl``; returns the package folder."""
    from tcltorch.paths import tcl_path

    target_root = os.path.abspath(directory or default_dir())
    target = os.path.join(target_root, FOLDER)
    source = tcl_path()
    if not os.path.isfile(os.path.join(source, "pkgIndex.tcl")):
        raise SystemExit(f"tcltorch: no pkgIndex.tcl in {source}")
    if any(c in source for c in "{}\\"):
        raise SystemExit(f"tcltorch: cannot write a Tcl path for {source!r}")
    try:
        os.makedirs(target, exist_ok=True)
        tmp = os.path.join(target, "pkgIndex.tcl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(pkgindex_text(source))
        os.replace(tmp, os.path.join(target, "pkgIndex.tcl"))
    except PermissionError as exc:
        raise SystemExit(
            f"tcltorch: cannot write {target}: {exc.strerror} (run with the rights to write there, "
            "or give a folder on auto_path: tcltorch --install-tcl DIR)"
        ) from None
    return target


def uninstall(directory: str | None = None) -> str | None:
    """Remove the package folder written by :func:`install`; returns it, or None if absent."""
    target = os.path.join(os.path.abspath(directory or default_dir()), FOLDER)
    index = os.path.join(target, "pkgIndex.tcl")
    if not os.path.isfile(index):
        return None
    with open(index, encoding="utf-8") as f:
        if not f.read().startswith(MARKER):
            raise SystemExit(f"tcltorch: {target} was not written by --install-tcl; left as it is")
    shutil.rmtree(target)
    return target


def main(argv: list[str]) -> int:
    """``--install-tcl ?DIR?`` or ``--uninstall-tcl ?DIR?`` (argv[0] is the flag)."""
    flag, rest = argv[0], argv[1:]
    if len(rest) > 1:
        print(f"tcltorch: usage: tcltorch {flag} ?DIR?", file=sys.stderr)
        return 2
    directory = rest[0] if rest else None
    if flag == "--install-tcl":
        target = install(directory)
        print(f"installed: {target} (package require tcltorch now finds it)")
        root = os.path.dirname(target)
        try:
            on_path = root in {os.path.abspath(p) for p in tcl_auto_path()}
        except (OSError, subprocess.SubprocessError):
            on_path = True
        if not on_path:
            print(
                f"note: {root} is not on tclsh's auto_path: add it (TCLLIBPATH, or lappend auto_path)",
                file=sys.stderr,
            )
        return 0
    target = uninstall(directory)
    print(f"removed: {target}" if target else f"nothing to remove: no {FOLDER} there")
    return 0
