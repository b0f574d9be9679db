"""``tcltorch --install-tcl ?DIR?`` / ``--uninstall-tcl ?DIR?``: make ``package require
tcltorch`` work in every Tcl application without TCLLIBPATH, the way Tcl extensions are
installed: a package folder ``tcltorch<version>`` in a folder on Tcl's ``auto_path`` whose
pkgIndex.tcl sources this package's own (so it follows this Python environment).

The installer touches only what it wrote: a manifest in the package folder lists those
files; a file it did not write is never overwritten nor removed, temporary files get
new unique names (never a path that already exists, so never through a planted
symbolic link), and a package folder that is a symbolic link is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from tcltorch import __version__
from tcltorch.paths import tcl_path

FOLDER = f"tcltorch{__version__}"
MARKER = "# written by tcltorch --install-tcl"
INDEX = "pkgIndex.tcl"
MANIFEST = "tcltorch-install-manifest.txt"
MANIFEST_MARKER = "# tcltorch --install-tcl manifest: the files it wrote in this folder"


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


def _root(directory: str | None, flag: str = "--install-tcl") -> str:
    """The folder to install into: ``directory``, or the site folder when it is None.
    An empty ``directory`` is refused (never taken for "the default")."""
    if directory is None:
        return os.path.abspath(default_dir())
    if not directory.strip():
        raise SystemExit(f"tcltorch: {flag}: the folder is empty; give a folder, or none for the site folder")
    return os.path.abspath(directory)


def _package_folder(root: str) -> str:
    """``root/tcltorch<version>``; a symbolic link there is refused (never written through)."""
    target = os.path.join(root, FOLDER)
    if os.path.islink(target):
        raise SystemExit(f"tcltorch: {target} is a symbolic link; not writing through it (remove it first)")
    if os.path.lexists(target) and not os.path.isdir(target):
        raise SystemExit(f"tcltorch: {target} exists and is not a folder; left as it is")
    return target


def _read_marked(path: str, marker: str) -> str | None:
    """The text of a regular file that starts with ``marker``; None if it does not."""
    if os.path.islink(path) or not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return text if text.startswith(marker) else None


def owned_files(target: str) -> set[str]:
    """The files of the package folder ``target`` that --install-tcl wrote (its manifest
    and what the manifest lists; an older install without one: a pkgIndex.tcl with our
    marker).  A manifest that is not ours is refused."""
    manifest = os.path.join(target, MANIFEST)
    if os.path.lexists(manifest):
        text = _read_marked(manifest, MANIFEST_MARKER)
        if text is None:
            raise SystemExit(f"tcltorch: {manifest} was not written by --install-tcl; left as it is")
        names = {line.strip() for line in text.splitlines()[1:]}
        return {
            n for n in names if n and not n.startswith("#") and os.sep not in n and n not in (".", "..")
        } | {MANIFEST}
    if _read_marked(os.path.join(target, INDEX), MARKER) is not None:
        return {INDEX}
    return set()


def _write_new(target: str, name: str, text: str) -> None:
    """Write ``target/name`` through a new temporary file (O_EXCL, a unique name) renamed
    over it: an existing temporary name or symbolic link is never opened."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(target, name))
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _manifest_text(names: set[str]) -> str:
    return (
        "\n".join(
            [
                MANIFEST_MARKER,
                "# tcltorch --uninstall-tcl removes them, and the folder if empty",
                *sorted(names),
            ]
        )
        + "\n"
    )


def _check_source(source: str) -> None:
    if not os.path.isfile(os.path.join(source, INDEX)):
        raise SystemExit(f"tcltorch: no pkgIndex.tcl in {source}")
    if any(c in source for c in "{}\\"):
        raise SystemExit(f"tcltorch: cannot write a Tcl path for {source!r}")


def install(directory: str | None = None) -> str:
    """Write ``DIR/tcltorch<version>/pkgIndex.tcl`` and its manifest; returns the package
    folder.  A pkgIndex.tcl that --install-tcl did not write is left alone (an error)."""
    source = tcl_path()
    _check_source(source)
    target = _package_folder(_root(directory))
    try:
        os.makedirs(target, exist_ok=True)
        owned = owned_files(target)
        if os.path.lexists(os.path.join(target, INDEX)) and INDEX not in owned:
            raise SystemExit(
                f"tcltorch: {os.path.join(target, INDEX)} was not written by --install-tcl; "
                "not overwriting it (remove it, or install into another folder)"
            )
        _write_new(target, INDEX, pkgindex_text(source))
        _write_new(target, MANIFEST, _manifest_text({INDEX}))
    except OSError as exc:
        raise SystemExit(
            f"tcltorch: cannot write {target}: {exc.strerror or exc} (run with the rights to write there, "
            "or give a folder on auto_path: tcltorch --install-tcl DIR)"
        ) from None
    return target


def uninstall(directory: str | None = None) -> tuple[str, bool] | None:
    """Remove the files :func:`install` wrote (those its manifest lists), then the package
    folder if nothing else is left in it.  Returns (the folder, whether it was removed),
    or None when there was nothing to remove."""
    target = _package_folder(_root(directory, "--uninstall-tcl"))
    if not os.path.isdir(target):
        return None
    owned = owned_files(target)
    if not owned:
        if os.listdir(target):
            raise SystemExit(f"tcltorch: {target} was not written by --install-tcl; left as it is")
        return None
    try:
        for name in sorted(owned - {MANIFEST}) + [MANIFEST]:  # the manifest last
            path = os.path.join(target, name)
            if os.path.lexists(path):
                os.unlink(path)  # a symbolic link itself, never its target
        if os.listdir(target):
            return target, False
        os.rmdir(target)
    except OSError as exc:
        raise SystemExit(f"tcltorch: cannot remove {target}: {exc.strerror or exc}") from None
    return target, True


def _on_auto_path(root: str) -> bool | None:
    """Whether a plain tclsh has ``root`` on its auto_path (None: tclsh could not say)."""
    try:
        entries = tcl_auto_path()
    except (OSError, subprocess.SubprocessError):
        return None
    return os.path.realpath(root) in {os.path.realpath(p) for p in entries}


def install_message(target: str, on_path: bool | None) -> str:
    """The one line said after installing: found as it is, or what to add."""
    root = os.path.dirname(target)
    if on_path:
        return f"installed: {target} (package require tcltorch now finds it)"
    add = f"lappend auto_path {{{root}}} in the script, or TCLLIBPATH={root} in the environment"
    if on_path is None:
        return f"installed: {target} (tclsh could not be asked for its auto_path; if it lacks {root}: {add})"
    return f"installed: {target} ({root} is not on tclsh's auto_path; for package require tcltorch: {add})"


def main(argv: list[str]) -> int:
    """``--install-tcl ?DIR?`` or ``--uninstall-tcl ?DIR?`` (argv[0] is the flag)."""
    flag, rest = argv[0], argv[1:]
    if len(rest) > 1:
        print(f"tcltorch: usage: tcltorch {flag} ?DIR?", file=sys.stderr)
        return 2
    directory = rest[0] if rest else None
    if directory is not None and not directory.strip():
        print(
            f"tcltorch: {flag}: the folder is empty; give a folder, or none for the site folder",
            file=sys.stderr,
        )
        return 2
    if flag == "--install-tcl":
        target = install(directory)
        print(install_message(target, _on_auto_path(os.path.dirname(target))))
        return 0
    done = uninstall(directory)
    if done is None:
        print(f"nothing to remove: no {FOLDER} there")
    elif done[1]:
        print(f"removed: {done[0]}")
    else:
        print(f"removed the files --install-tcl wrote; kept {done[0]}: it holds other files")
    return 0
