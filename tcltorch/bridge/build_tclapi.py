"""cffi builder for tcltorch._tclapi, the bridge module both hosts use."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _buildconf
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    int tt_init_stubs(uintptr_t interp);
    uintptr_t tt_current_thread(void);
    int tt_create_command(uintptr_t interp, const char *name, uintptr_t callable);
    int tt_create_runner(uintptr_t interp, const char *name, uintptr_t holder);
    long long tt_set_max_size(long long size);
    int tt_eval(uintptr_t interp, uintptr_t script, int global);
    uintptr_t tt_obj_new(uintptr_t str);
    void tt_obj_free(uintptr_t obj);
    int tt_eval_obj(uintptr_t interp, uintptr_t obj, int global);
    int tt_call(uintptr_t interp, uintptr_t words, int global);
    int tt_result_into(uintptr_t interp, uintptr_t out, int options);
    void tt_reset_result(uintptr_t interp);
    int tt_builtins(uintptr_t interp, uintptr_t out);
    void tt_cancel(uintptr_t interp);
    int tt_create_host(uintptr_t interp, const char *name);
    void tt_reset_cancellation(uintptr_t interp);
    int tt_split(uintptr_t str, uintptr_t out);
    int tt_nested(uintptr_t str, uintptr_t out);
    int tt_on_delete(uintptr_t interp, const char *key, uintptr_t callback);
    int tt_has_assoc(uintptr_t interp, const char *key);
    int tt_watch_namespace(uintptr_t interp, const char *name, uintptr_t callback);
    int tt_interrupt_arm(uintptr_t interp);
    int tt_interrupt_disarm(void);
    int tt_interrupt_pending(void);
    int tt_nested_buffer(uintptr_t str, uintptr_t out);
    int tt_tensor_list(uintptr_t data, int kind, int ndim, const long long *shape, uintptr_t out);
    """
)
_stubdir, _stublib = _buildconf.tcl_stub_library()
ffibuilder.set_source(
    "tcltorch._tclapi",
    _buildconf.read_source("tclapi.c").replace('#include "bulk.c"', _buildconf.read_source("bulk.c")),
    include_dirs=[_buildconf.tcl_include_dir()],
    library_dirs=[_stubdir],
    libraries=[_stublib],
    define_macros=[("USE_TCL_STUBS", "1")],
    py_limited_api=False,
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
