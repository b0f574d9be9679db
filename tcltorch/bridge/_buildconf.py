"""Build settings shared by the two cffi builders (run at install time only)."""

from __future__ import annotations

import glob
import os
import sys
import sysconfig

NEEDS = (
    "Building tcltorch needs a C compiler and the Tcl 8.6 headers and stubs library "
    "(Debian/Ubuntu: apt-get install tcl-dev; or set TCL_INCLUDE_DIR and TCL_LIB_DIR)"
)

HERE = os.path.dirname(os.path.abspath(__file__))


def _first(paths: list[str], what: str) -> str:
    for path in paths:
        if path and os.path.exists(path):
            return path
    raise SystemExit(f"{NEEDS}; {what} not found")


def tcl_include_dir() -> str:
    env = os.environ.get("TCL_INCLUDE_DIR", "")
    found = _first(
        [
            env and os.path.join(env, "tcl.h"),
            "/usr/include/tcl8.6/tcl.h",
            "/usr/include/tcl.h",
            "/usr/local/include/tcl8.6/tcl.h",
            "/usr/local/include/tcl.h",
        ],
        "tcl.h",
    )
    return os.path.dirname(found)


def tcl_stub_library() -> tuple[str, str]:
    """(directory, library name) of libtclstub8.6.a."""
    env = os.environ.get("TCL_LIB_DIR", "")
    candidates = [env and os.path.join(env, "libtclstub8.6.a")]
    candidates += glob.glob("/usr/lib/*/libtclstub8.6.a") + glob.glob("/usr/lib/libtclstub8.6.a")
    candidates += glob.glob("/usr/local/lib/libtclstub8.6.a")
    found = _first(candidates, "libtclstub8.6.a")
    return os.path.dirname(found), "tclstub8.6"


def read_source(name: str) -> str:
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


def libpython() -> tuple[str, str, str]:
    """(library dir, link name, soname) of the shared libpython to embed."""
    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        raise SystemExit(
            "tcltorch's tclsh library embeds Python and needs a shared libpython "
            "(a Python built with --enable-shared)"
        )
    libdir = sysconfig.get_config_var("LIBDIR")
    soname = sysconfig.get_config_var("INSTSONAME")
    link = f"python{sys.version_info[0]}.{sys.version_info[1]}{getattr(sys, 'abiflags', '')}"
    return libdir, link, soname


def c_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
