"""cffi builder (embedding mode) for tcltorch.libtcltorch, the library tclsh loads."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _buildconf
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    extern "Python" int tcltorch_boot(uintptr_t interp);
    void tt_set_boot_error(const char *msg);
    """
)
ffibuilder.embedding_api("")
ffibuilder.embedding_init_code(
    """
from tcltorch.libtcltorch import ffi, lib

@ffi.def_extern(error=0)
def tcltorch_boot(interp):
    try:
        from tcltorch.bridge import boot_tclsh
        boot_tclsh(int(interp))
        return 1
    except BaseException:
        import traceback
        lib.tt_set_boot_error(traceback.format_exc().encode("utf-8", "replace"))
        return 2
"""
)
_stubdir, _stublib = _buildconf.tcl_stub_library()
_pydir, _pylink, _pysoname = _buildconf.libpython()
# The interpreter (venv) this build belongs to: not resolved through symlinks,
# so a venv's python starts with the venv's site-packages.
_executable = os.environ.get("TCLTORCH_BUILD_PYTHON", sys.executable)
ffibuilder.set_source(
    "tcltorch.libtcltorch",
    _buildconf.read_source("embed.c"),
    include_dirs=[_buildconf.tcl_include_dir()],
    library_dirs=[_stubdir, _pydir],
    libraries=[_stublib, _pylink, "dl"],
    extra_link_args=["-Wl,-rpath," + _pydir],
    define_macros=[
        ("USE_TCL_STUBS", "1"),
        ("TT_PYTHON_EXECUTABLE", _buildconf.c_string(_executable)),
        ("TT_LIBPYTHON", _buildconf.c_string(_pysoname)),
    ],
    py_limited_api=False,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
