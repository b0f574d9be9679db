/* libtcltorch: the library `package require tcltorch` loads into a plain tclsh.
 *
 * Tcltorch_Init starts CPython for the interpreter tcltorch was installed into
 * (baked in at build time as TT_PYTHON_EXECUTABLE; $TCLTORCH_PYTHON overrides),
 * then hands over to Python (tcltorch.bridge.boot_tclsh), which registers the
 * commands through the same bridge the Python host uses.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <tcl.h>

static int tcltorch_boot(uintptr_t interp); /* extern "Python", made by cffi */
static char tt_boot_error[8192];

void tt_set_boot_error(const char *msg) {
    strncpy(tt_boot_error, msg, sizeof tt_boot_error - 1);
    tt_boot_error[sizeof tt_boot_error - 1] = 0;
}

static int tt_fail(Tcl_Interp *interp, const char *msg, const char *detail) {
    Tcl_SetObjResult(interp, Tcl_NewStringObj(msg, -1));
    if (detail && *detail) {
        Tcl_AddErrorInfo(interp, "\n");
        Tcl_AddErrorInfo(interp, detail);
    }
    Tcl_SetErrorCode(interp, "TORCH", "INIT", NULL);
    return TCL_ERROR;
}

static int tt_start_python(Tcl_Interp *interp) {
    /* Tcl's load is RTLD_LOCAL: promote libpython so extension modules
     * (_cffi_backend, numpy, torch) can resolve its symbols. */
    if (dlopen(TT_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
        return tt_fail(interp, "tcltorch: cannot make " TT_LIBPYTHON " global", dlerror());
    if (Py_IsInitialized()) return TCL_OK;
    const char *exe = getenv("TCLTORCH_PYTHON");
    if (exe == NULL || *exe == 0) exe = TT_PYTHON_EXECUTABLE;
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0; /* Tcl owns the process's signals */
    config.parse_argv = 0;
    /* PYTHONHOME in the environment belongs to the host application's own Python
     * (EDA tools set it), and so do PYTHONPATH and the other PYTHON* variables
     * then: ignore them all, as python -E does, so the Python tcltorch was
     * installed into starts.  Without PYTHONHOME they apply as usual. */
    const char *home = getenv("PYTHONHOME");
    if (home != NULL && *home != 0) config.use_environment = 0;
    PyStatus status = PyConfig_SetBytesString(&config, &config.executable, exe);
    if (!PyStatus_Exception(status)) status = PyConfig_SetBytesString(&config, &config.program_name, exe);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        return tt_fail(interp, "tcltorch: cannot start Python", status.err_msg ? status.err_msg : "");
    PyEval_SaveThread(); /* cffi and every command take the GIL themselves */
    return TCL_OK;
}

CFFI_DLLEXPORT int Tcltorch_Init(Tcl_Interp *interp) {
    if (Tcl_InitStubs(interp, "8.6", 0) == NULL) return TCL_ERROR;
    if (tt_start_python(interp) != TCL_OK) return TCL_ERROR;
    tt_boot_error[0] = 0;
    /* cffi returns 0 when its own start-up failed, and 0 is TCL_OK:
     * success is 1, so anything else is an error. */
    int rc = tcltorch_boot((uintptr_t)interp);
    if (rc == 1) return TCL_OK;
    if (tt_boot_error[0]) {
        const char *last = tt_boot_error, *p;
        size_t n = strlen(tt_boot_error);
        while (n > 0 && tt_boot_error[n - 1] == '\n') tt_boot_error[--n] = 0;
        for (p = tt_boot_error; *p; p++)
            if (*p == '\n' && p[1]) last = p + 1;
        Tcl_SetObjResult(interp, Tcl_ObjPrintf("tcltorch: cannot load: %s", last));
        Tcl_AddErrorInfo(interp, "\n");
        Tcl_AddErrorInfo(interp, tt_boot_error);
        Tcl_SetErrorCode(interp, "TORCH", "INIT", NULL);
        return TCL_ERROR;
    }
    return tt_fail(interp, "tcltorch: Python start-up failed (the traceback is on stderr)", NULL);
}

CFFI_DLLEXPORT int Tcltorch_SafeInit(Tcl_Interp *interp) {
    Tcl_SetObjResult(interp, Tcl_NewStringObj("tcltorch cannot be loaded into a safe interpreter", -1));
    return TCL_ERROR;
}
