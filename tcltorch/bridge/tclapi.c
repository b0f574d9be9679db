/* tcltorch bridge: Tcl C API (through stubs) <-> CPython.
 *
 * This file is compiled into the cffi API-mode module tcltorch._tclapi, which
 * both hosts use.  cffi has no PyObject type, so Python objects cross the cffi
 * boundary as uintptr_t values made with id(): in CPython id() is the object's
 * address, and every caller keeps the object alive for the duration of the call.
 *
 * cffi releases the GIL around every call into this file, so each entry point
 * that touches Python takes it back with PyGILState_Ensure.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <tcl.h>

#define TT_OBJ(p) ((PyObject *)(uintptr_t)(p))

typedef struct {
    PyObject *callable; /* returns (0, value) or (code, msg, errorcode, errorinfo) */
    int runner;         /* 1: callable is a list whose item 0 is called with the words' tuple */
} TTCommand;

/* The running command's words: its Python str arguments and the Tcl_Objs they
 * were made from, so that bulk readers (bulk.c) can use the Tcl_Obj itself. */
typedef struct TTFrame {
    struct TTFrame *up;
    PyObject *args;
    Tcl_Obj *const *objv;
    int n;
} TTFrame;

static __thread TTFrame *tt_frame = NULL;

/* The running command's argument that `str` was made from, or NULL. */
static Tcl_Obj *tt_frame_arg(PyObject *str) {
    TTFrame *f = tt_frame;
    if (f == NULL) return NULL;
    for (int i = 0; i < f->n; i++)
        if (PyTuple_GET_ITEM(f->args, i) == str) return f->objv[i + 1];
    return NULL;
}

static int tt_python_alive(void) {
    return Py_IsInitialized() && !_Py_IsFinalizing();
}

/* ---- size limit ----------------------------------------------------------
 * A Tcl 8.6 value holds at most INT_MAX bytes (lengths are int).  Anything
 * longer is refused with Tcl's own words instead of being cut by a cast.
 * tt_set_max_size lowers the limit for tests. */

static Py_ssize_t tt_max_size = INT_MAX;
#define TT_TOO_BIG "max size for a Tcl value (2147483647 bytes) exceeded"

static Tcl_Obj *tt_too_big(void) {
    PyErr_SetString(PyExc_OverflowError, TT_TOO_BIG);
    return NULL;
}

/* ---- C stack -------------------------------------------------------------
 * Each script evaluated from inside a command (torch::scope and the other
 * script-taking commands) nests the C stack through Python.  Before nesting,
 * check that a safety margin is left and otherwise fail like Tcl's own limit. */

static __thread char *tt_stack_floor = NULL;

static char *tt_stack_limit(void) {
    if (tt_stack_floor == NULL) {
        pthread_attr_t attr;
        void *addr = NULL;
        size_t size = 0;
        char *floor = (char *)1; /* unknown: never refuse */
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr != NULL && size > 0) {
                size_t margin = size / 4;
                if (margin > 256 * 1024) margin = 256 * 1024;
                if (margin < 64 * 1024) margin = 64 * 1024;
                if (margin < size) floor = (char *)addr + margin;
            }
            pthread_attr_destroy(&attr);
        }
        tt_stack_floor = floor;
    }
    return tt_stack_floor;
}

static int tt_stack_exhausted(Tcl_Interp *interp) {
    char *here = (char *)__builtin_frame_address(0);
    if (here > tt_stack_limit()) return 0;
    Tcl_SetObjResult(interp, Tcl_NewStringObj("too many nested evaluations (infinite loop?)", -1));
    Tcl_SetErrorCode(interp, "TCL", "LIMIT", "STACK", NULL);
    return 1;
}

/* ---- strings ------------------------------------------------------------ */

/* Tcl 8.6 keeps strings in "modified UTF-8": NUL is C0 80 and a character
 * outside the BMP is a surrogate pair, each half as 3 bytes (CESU-8).  Decode
 * the common case (plain UTF-8) fast; the slow path decodes Tcl's forms and,
 * as Tcl does, takes a byte that starts no valid sequence as that Latin-1 char. */
static PyObject *tt_decode_tcl(const unsigned char *s, int len) {
    Py_UCS4 *buf = (Py_UCS4 *)PyMem_Malloc(sizeof(Py_UCS4) * ((size_t)len + 1));
    if (buf == NULL) return PyErr_NoMemory();
    Py_ssize_t j = 0;
    int i = 0;
#define TT_CONT(k) (i + (k) < len && (s[i + (k)] & 0xC0) == 0x80)
    while (i < len) {
        unsigned char c = s[i];
        Py_UCS4 cp;
        if (c < 0x80) {
            cp = c;
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && TT_CONT(1)) {
            cp = ((Py_UCS4)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            i += 2;
        } else if ((c & 0xF0) == 0xE0 && TT_CONT(1) && TT_CONT(2)) {
            cp = ((Py_UCS4)(c & 0x0F) << 12) | ((Py_UCS4)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            i += 3;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 2 < len && s[i] == 0xED && (s[i + 1] & 0xF0) == 0xB0 &&
                (s[i + 2] & 0xC0) == 0x80) {
                Py_UCS4 lo = 0xD000 | ((Py_UCS4)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 3;
            }
        } else if ((c & 0xF8) == 0xF0 && TT_CONT(1) && TT_CONT(2) && TT_CONT(3)) {
            cp = ((Py_UCS4)(c & 0x07) << 18) | ((Py_UCS4)(s[i + 1] & 0x3F) << 12) |
                 ((Py_UCS4)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
            if (cp > 0x10FFFF) cp = 0xFFFD;
            i += 4;
        } else {
            cp = c;
            i += 1;
        }
        buf[j++] = cp;
    }
#undef TT_CONT
    PyObject *u = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, buf, j);
    PyMem_Free(buf);
    return u;
}

static PyObject *tt_str_from_tcl(Tcl_Obj *obj) {
    int len;
    const char *s = Tcl_GetStringFromObj(obj, &len);
    PyObject *u = PyUnicode_DecodeUTF8(s, len, NULL);
    if (u != NULL) return u;
    PyErr_Clear();
    return tt_decode_tcl((const unsigned char *)s, len);
}

/* Python str -> Tcl's form (see above); NULL with OverflowError when too long. */
static Tcl_Obj *tt_encode_tcl(PyObject *u) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(u), size = 0;
    int kind = PyUnicode_KIND(u);
    const void *data = PyUnicode_DATA(u);
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_UCS4 cp = PyUnicode_READ(kind, data, k);
        size += cp == 0 ? 2 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 6;
    }
    if (size > tt_max_size) return tt_too_big();
    Tcl_Obj *o = Tcl_NewObj();
    Tcl_SetObjLength(o, (int)size);
    unsigned char *p = (unsigned char *)Tcl_GetString(o);
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_UCS4 cp = PyUnicode_READ(kind, data, k);
        if (cp == 0) {
            *p++ = 0xC0;
            *p++ = 0x80;
        } else if (cp < 0x80) {
            *p++ = (unsigned char)cp;
        } else if (cp < 0x800) {
            *p++ = (unsigned char)(0xC0 | (cp >> 6));
            *p++ = (unsigned char)(0x80 | (cp & 0x3F));
        } else {
            Py_UCS4 units[2];
            int m = 1;
            units[0] = cp;
            if (cp >= 0x10000) {
                units[0] = 0xD800 + ((cp - 0x10000) >> 10);
                units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                m = 2;
            }
            for (int q = 0; q < m; q++) {
                *p++ = (unsigned char)(0xE0 | (units[q] >> 12));
                *p++ = (unsigned char)(0x80 | ((units[q] >> 6) & 0x3F));
                *p++ = (unsigned char)(0x80 | (units[q] & 0x3F));
            }
        }
    }
    return o;
}

static Tcl_Obj *tt_tcl_from_str(PyObject *u) {
    if (PyUnicode_KIND(u) != PyUnicode_4BYTE_KIND) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(u, &len); /* fails on lone surrogates */
        if (s != NULL) {
            if (len > tt_max_size) return tt_too_big();
            if (memchr(s, 0, (size_t)len) == NULL) return Tcl_NewStringObj(s, (int)len);
        } else {
            PyErr_Clear();
        }
    }
    return tt_encode_tcl(u);
}

/* ---- Python value -> Tcl value --------------------------------------------
 * NULL (with a Python exception set) only when a value is too big for Tcl. */

static Tcl_Obj *tt_to_tcl(PyObject *v, int depth) {
    if (v == Py_None) return Tcl_NewObj();
    if (PyCapsule_CheckExact(v)) { /* a Tcl value built in C (bulk.c), owned by the capsule */
        Tcl_Obj *o = (Tcl_Obj *)PyCapsule_GetPointer(v, "tcltorch.tclobj");
        if (o != NULL) return o;
        PyErr_Clear();
    }
    if (PyUnicode_Check(v)) return tt_tcl_from_str(v);
    if (PyBool_Check(v)) return Tcl_NewBooleanObj(v == Py_True);
    if (PyLong_Check(v)) {
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (!overflow && !(x == -1 && PyErr_Occurred())) return Tcl_NewWideIntObj((Tcl_WideInt)x);
        PyErr_Clear();
        /* bignum: Tcl parses the decimal string itself */
    } else if (PyFloat_Check(v)) {
        return Tcl_NewDoubleObj(PyFloat_AS_DOUBLE(v));
    } else if (depth < 64 && (PyList_Check(v) || PyTuple_Check(v))) {
        PyObject *seq = PySequence_Fast(v, "");
        if (seq != NULL) {
            Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
            if (n > INT_MAX) {
                Py_DECREF(seq);
                return tt_too_big();
            }
            /* the items first, then one list of them (no regrowth) */
            Tcl_Obj *small[16];
            Tcl_Obj **items = n <= 16 ? small : (Tcl_Obj **)attemptckalloc(sizeof(Tcl_Obj *) * (size_t)n);
            if (items == NULL) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                return NULL;
            }
            for (Py_ssize_t i = 0; i < n; i++) {
                Tcl_Obj *item = tt_to_tcl(PySequence_Fast_GET_ITEM(seq, i), depth + 1);
                if (item == NULL) {
                    for (Py_ssize_t k = 0; k < i; k++) Tcl_DecrRefCount(items[k]);
                    if (items != small) ckfree((char *)items);
                    Py_DECREF(seq);
                    return NULL;
                }
                Tcl_IncrRefCount(item);
                items[i] = item;
            }
            Py_DECREF(seq);
            Tcl_Obj *list = Tcl_NewListObj((int)n, items); /* takes its own references */
            for (Py_ssize_t i = 0; i < n; i++) Tcl_DecrRefCount(items[i]);
            if (items != small) ckfree((char *)items);
            return list;
        }
        PyErr_Clear();
    } else if (depth < 64 && PyDict_Check(v)) {
        Tcl_Obj *dict = Tcl_NewDictObj();
        Tcl_IncrRefCount(dict);
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(v, &pos, &key, &value)) {
            Tcl_Obj *k = tt_to_tcl(key, depth + 1);
            Tcl_Obj *val = k ? tt_to_tcl(value, depth + 1) : NULL;
            if (val == NULL) {
                if (k) { Tcl_IncrRefCount(k); Tcl_DecrRefCount(k); }
                Tcl_DecrRefCount(dict);
                return NULL;
            }
            Tcl_DictObjPut(NULL, dict, k, val);
        }
        dict->refCount--;
        return dict;
    } else if (PyBytes_Check(v)) {
        if (PyBytes_GET_SIZE(v) > tt_max_size) return tt_too_big();
        return Tcl_NewByteArrayObj((const unsigned char *)PyBytes_AS_STRING(v), (int)PyBytes_GET_SIZE(v));
    }
    PyObject *s = PyObject_Str(v);
    if (s == NULL) { PyErr_Clear(); return Tcl_NewStringObj("<unprintable>", -1); }
    Tcl_Obj *o = tt_tcl_from_str(s);
    Py_DECREF(s);
    return o;
}

/* A Tcl value that always exists: the conversion, or Tcl's size message. */
static Tcl_Obj *tt_to_tcl_or_message(PyObject *v) {
    Tcl_Obj *o = tt_to_tcl(v, 0);
    if (o != NULL) return o;
    PyErr_Clear();
    return Tcl_NewStringObj(TT_TOO_BIG, -1);
}

/* ---- commands ------------------------------------------------------------- */

static void tt_set_error(Tcl_Interp *interp, PyObject *msg, PyObject *errorcode, PyObject *errorinfo) {
    if (msg != Py_None) Tcl_SetObjResult(interp, tt_to_tcl_or_message(msg));
    if (errorinfo != Py_None) Tcl_AppendObjToErrorInfo(interp, tt_to_tcl_or_message(errorinfo));
    if (errorcode != Py_None) Tcl_SetObjErrorCode(interp, tt_to_tcl_or_message(errorcode));
}

/* ---- direct calls ------------------------------------------------------------
 * A command's call whose every word names a live handle of the kind its slot takes goes straight
 * to the command function, without the Python runner (a hot path: a training loop's commands).
 * The holder's item 1, when there, is a tuple indexed by the number of words; its item is None or
 * a plan made by bridge/__init__.py (_plan, for _direct_plans and direct_calls):
 *   (fn, args, places, kinds, failed, young, old, put, export, tensor, classes, excluded)
 * args: fn's positional arguments, None where a word's object goes; places: those places, one per
 * word; kinds: one byte per word: 't' an object of class exactly `tensor`, 'o' any object, 'i' an
 * instance of classes[j] whose class is not a key of excluded[j] (a dict, or None), 'w' the word
 * itself (a script, a string: no handle).  Any other word (an option, a literal, an unknown name,
 * an object of another kind) leaves the call to the runner, which converts, checks and reports as
 * always.  A failure of fn goes to failed(exception, words), the
 * runner's error path, whose (code, message, errorcode, errorinfo) the caller reports. */
#define TT_DIRECT_MAX 16

static PyObject *tt_direct_failed(PyObject *failed, PyObject *words) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value != NULL && tb != NULL) PyException_SetTraceback(value, tb);
    PyObject *out = value != NULL ? PyObject_CallFunctionObjArgs(failed, value, words, NULL) : NULL;
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}

/* The command's result as tt_objcmd takes it (a handle's name, or a 2-tuple whose item 1 is the
 * value, or the error tuple), NULL after a Python failure of the bridge itself; *taken = 0 when
 * the runner must run instead (nothing was called). */
static PyObject *tt_direct(PyObject *plan, PyObject *words, int *taken) {
    *taken = 0;
    PyObject *fn = PyTuple_GET_ITEM(plan, 0), *tmpl = PyTuple_GET_ITEM(plan, 1), *places = PyTuple_GET_ITEM(plan, 2),
             *kinds = PyTuple_GET_ITEM(plan, 3), *failed = PyTuple_GET_ITEM(plan, 4), *young = PyTuple_GET_ITEM(plan, 5),
             *old = PyTuple_GET_ITEM(plan, 6), *put = PyTuple_GET_ITEM(plan, 7), *export = PyTuple_GET_ITEM(plan, 8);
    PyTypeObject *tensor = (PyTypeObject *)PyTuple_GET_ITEM(plan, 9);
    Py_ssize_t n = PyTuple_GET_SIZE(tmpl), k = PyTuple_GET_SIZE(words);
    if (n > TT_DIRECT_MAX || k > n || PyBytes_GET_SIZE(kinds) != k) return NULL;
    const char *kind = PyBytes_AS_STRING(kinds);
    PyObject *stack[TT_DIRECT_MAX], *held[TT_DIRECT_MAX];
    for (Py_ssize_t i = 0; i < n; i++) stack[i] = PyTuple_GET_ITEM(tmpl, i);
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *w = PyTuple_GET_ITEM(words, j);
        if (PyUnicode_GET_LENGTH(w) >= 2 && PyUnicode_READ_CHAR(w, 0) == '-') {
            Py_UCS4 c = PyUnicode_READ_CHAR(w, 1) | 32;
            if (c >= 'a' && c <= 'z') return NULL; /* an option word */
        }
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(places, j));
        if (at < 0 || at >= n) {
            PyErr_Clear();
            return NULL;
        }
        if (kind[j] == 'w') {
            stack[at] = held[j] = w;
            continue;
        }
        PyObject *obj = PyDict_GetItemWithError(young, w);
        if (obj == NULL && !PyErr_Occurred()) obj = PyDict_GetItemWithError(old, w);
        if (obj == NULL) {
            PyErr_Clear();
            return NULL;
        }
        if (kind[j] == 't') {
            if (Py_TYPE(obj) != tensor) return NULL;
        } else if (kind[j] == 'i') {
            PyObject *excluded = PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 11), j);
            int is = PyObject_IsInstance(obj, PyTuple_GET_ITEM(PyTuple_GET_ITEM(plan, 10), j));
            int other = is == 1 && excluded != Py_None ? PyDict_Contains(excluded, (PyObject *)Py_TYPE(obj)) : 0;
            if (is != 1 || other != 0) {
                PyErr_Clear();
                return NULL;
            }
        } else if (kind[j] != 'o') {
            return NULL;
        }
        stack[at] = held[j] = obj;
    }
    *taken = 1;
    for (Py_ssize_t j = 0; j < k; j++) Py_INCREF(held[j]); /* fn may free their handles */
    PyObject *r = PyObject_Vectorcall(fn, stack, (size_t)n, NULL), *out = NULL;
    for (Py_ssize_t j = 0; j < k; j++) Py_DECREF(held[j]);
    if (r == NULL) return tt_direct_failed(failed, words);
    if (Py_TYPE(r) == tensor) {
        out = PyObject_CallOneArg(put, r); /* the new handle's name */
    } else if (r == Py_None) {
        out = PyTuple_Pack(2, Py_None, Py_None); /* what export gives for None */
    } else {
        PyObject *v = PyObject_CallOneArg(export, r);
        if (v != NULL) {
            out = PyTuple_Pack(2, Py_None, v);
            Py_DECREF(v);
        }
    }
    Py_DECREF(r);
    return out != NULL ? out : tt_direct_failed(failed, words);
}

static int tt_objcmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]) {
    TTCommand *cmd = (TTCommand *)cd;
    int code = TCL_ERROR;
    if (!tt_python_alive()) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("tcltorch: Python is shutting down", -1));
        return TCL_ERROR;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args = PyTuple_New(objc - 1);
    if (args == NULL) goto python_failed;
    for (int i = 1; i < objc; i++) {
        PyObject *s = tt_str_from_tcl(objv[i]);
        if (s == NULL) { Py_DECREF(args); goto python_failed; }
        PyTuple_SET_ITEM(args, i - 1, s);
    }
    TTFrame frame = {tt_frame, args, objv, objc - 1};
    tt_frame = &frame;
    PyObject *res;
    if (cmd->runner) {
        int taken = 0;
        res = NULL;
        if (PyList_GET_SIZE(cmd->callable) > 1) { /* the direct plans (see tt_direct) */
            PyObject *plans = PyList_GET_ITEM(cmd->callable, 1);
            if (PyTuple_CheckExact(plans) && objc - 1 < PyTuple_GET_SIZE(plans)) {
                PyObject *plan = PyTuple_GET_ITEM(plans, objc - 1);
                if (plan != Py_None) {
                    Py_INCREF(plans);
                    res = tt_direct(plan, args, &taken);
                    Py_DECREF(plans);
                }
            }
        }
        if (!taken) {
            /* the list's item may be replaced while it runs (compiled on first use) */
            PyObject *fn = PyList_GET_ITEM(cmd->callable, 0);
            Py_INCREF(fn);
            res = PyObject_CallOneArg(fn, args);
            Py_DECREF(fn);
        }
    } else {
        res = PyObject_Call(cmd->callable, args, NULL);
    }
    tt_frame = frame.up;
    Py_DECREF(args);
    if (res == NULL) goto python_failed;
    if (PyUnicode_CheckExact(res) || (PyTuple_CheckExact(res) && PyTuple_GET_SIZE(res) == 2)) {
        /* (TCL_OK, value), or a str alone: a new handle's name, from a compiled runner */
        Tcl_Obj *value = PyUnicode_CheckExact(res) ? tt_tcl_from_str(res) : tt_to_tcl(PyTuple_GET_ITEM(res, 1), 0);
        if (value != NULL) {
            Tcl_SetObjResult(interp, value);
            code = TCL_OK;
        } else {
            PyErr_Clear();
            Tcl_SetObjResult(interp, Tcl_NewStringObj("result " TT_TOO_BIG, -1));
            Tcl_SetErrorCode(interp, "TCL", "MEMORY", NULL);
        }
    } else if (PyTuple_CheckExact(res) && PyTuple_GET_SIZE(res) == 4) {
        code = (int)PyLong_AsLong(PyTuple_GET_ITEM(res, 0));
        tt_set_error(interp, PyTuple_GET_ITEM(res, 1), PyTuple_GET_ITEM(res, 2), PyTuple_GET_ITEM(res, 3));
    } else {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("tcltorch: malformed command result", -1));
    }
    Py_DECREF(res);
    PyErr_Clear();
    PyGILState_Release(gil);
    return code;

python_failed: {
        /* Only reached when the Python dispatcher itself failed: report, never crash. */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        /* Python's own nesting limit, reached through nested evaluations; or a Ctrl-C that
         * landed outside the dispatcher's try (its first or last bytecodes): as inside it, an
         * interrupt that unwinds through every catch */
        int recursion = type != NULL && PyErr_GivenExceptionMatches(type, PyExc_RecursionError);
        int interrupt = type != NULL && PyErr_GivenExceptionMatches(type, PyExc_KeyboardInterrupt);
        if (recursion || interrupt) {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
            PyGILState_Release(gil);
            const char *message = recursion ? "too many nested evaluations (infinite loop?)" : "interrupted";
            if (interrupt)
                Tcl_CancelEval(interp, Tcl_NewStringObj(message, -1), NULL, TCL_CANCEL_UNWIND);
            Tcl_SetObjResult(interp, Tcl_NewStringObj(message, -1));
            if (recursion) Tcl_SetErrorCode(interp, "TCL", "LIMIT", "STACK", NULL);
            else Tcl_SetErrorCode(interp, "TORCH", "INTERRUPT", NULL);
            return TCL_ERROR;
        }
        PyObject *s = value ? PyObject_Str(value) : NULL;
        if (s == NULL) PyErr_Clear();
        Tcl_Obj *m = s ? tt_tcl_from_str(s) : NULL;
        if (m == NULL) PyErr_Clear();
        Tcl_SetObjResult(interp, m ? m : Tcl_NewStringObj("tcltorch: internal error", -1));
        Tcl_SetErrorCode(interp, "TORCH", "INTERNAL", NULL);
        Py_XDECREF(s);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyGILState_Release(gil);
        return TCL_ERROR;
    }
}

static void tt_cmd_deleted(ClientData cd) {
    TTCommand *cmd = (TTCommand *)cd;
    if (tt_python_alive()) {
        PyGILState_STATE gil = PyGILState_Ensure();
        Py_DECREF(cmd->callable);
        PyGILState_Release(gil);
    }
    ckfree((char *)cmd);
}

/* ---- entry points called from Python through cffi -------------------------
 * Those taking a Python str (by id) return TT_E_SIZE when it is too long for
 * a Tcl value; the Python side raises OverflowError. */

#define TT_E_SIZE (-1)

int tt_init_stubs(uintptr_t interp) {
    if (Tcl_InitStubs((Tcl_Interp *)interp, "8.6", 0) == NULL) return 1;
    return 0;
}

uintptr_t tt_current_thread(void) {
    return (uintptr_t)Tcl_GetCurrentThread();
}

long long tt_set_max_size(long long size) {
    long long old = (long long)tt_max_size;
    tt_max_size = size < 0 || size > INT_MAX ? INT_MAX : (Py_ssize_t)size;
    return old;
}

int tt_create_command(uintptr_t interp, const char *name, uintptr_t callable) {
    TTCommand *cmd = (TTCommand *)ckalloc(sizeof(TTCommand));
    PyGILState_STATE gil = PyGILState_Ensure();
    cmd->callable = TT_OBJ(callable);
    cmd->runner = 0;
    Py_INCREF(cmd->callable);
    PyGILState_Release(gil);
    Tcl_CreateObjCommand((Tcl_Interp *)interp, name, tt_objcmd, (ClientData)cmd, tt_cmd_deleted);
    return 0;
}

/* A command whose Python side is `holder[0](words)`: holder is a list, so that Python can put a
 * compiled runner in place of the first call's stub; its item 1, when there, holds the direct
 * plans (tt_direct). */
int tt_create_runner(uintptr_t interp, const char *name, uintptr_t holder) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *list = TT_OBJ(holder);
    if (!PyList_CheckExact(list) || PyList_GET_SIZE(list) < 1 || PyList_GET_SIZE(list) > 2) {
        PyGILState_Release(gil);
        return 1;
    }
    TTCommand *cmd = (TTCommand *)ckalloc(sizeof(TTCommand));
    cmd->callable = list;
    cmd->runner = 1;
    Py_INCREF(list);
    PyGILState_Release(gil);
    Tcl_CreateObjCommand((Tcl_Interp *)interp, name, tt_objcmd, (ClientData)cmd, tt_cmd_deleted);
    return 0;
}

/* A Python str (any value: converted like a result) -> a new Tcl_Obj with one
 * reference, or NULL (too big). */
static Tcl_Obj *tt_str_obj(uintptr_t str) {
    PyGILState_STATE gil = PyGILState_Ensure();
    Tcl_Obj *obj = tt_to_tcl(TT_OBJ(str), 0);
    if (obj == NULL) PyErr_Clear();
    else Tcl_IncrRefCount(obj);
    PyGILState_Release(gil);
    return obj;
}

/* Evaluate a script given as a Python str (global != 0: at level #0).  Result
 * handling is left to tt_result_into so nested calls keep the interp state. */
int tt_eval(uintptr_t interp, uintptr_t script, int global) {
    Tcl_Obj *obj = tt_str_obj(script);
    if (obj == NULL) return TT_E_SIZE;
    int code = tt_stack_exhausted((Tcl_Interp *)interp)
                   ? TCL_ERROR
                   : Tcl_EvalObjEx((Tcl_Interp *)interp, obj, global ? TCL_EVAL_GLOBAL : 0);
    Tcl_DecrRefCount(obj);
    return code;
}

/* Script objects kept by Python so that Tcl's compiled form is reused
 * (a new Tcl_Obj per evaluation would be compiled again every time). */
uintptr_t tt_obj_new(uintptr_t str) {
    return (uintptr_t)tt_str_obj(str);
}

void tt_obj_free(uintptr_t obj) {
    Tcl_DecrRefCount((Tcl_Obj *)obj);
}

int tt_eval_obj(uintptr_t interp, uintptr_t obj, int global) {
    if (tt_stack_exhausted((Tcl_Interp *)interp)) return TCL_ERROR;
    return Tcl_EvalObjEx((Tcl_Interp *)interp, (Tcl_Obj *)obj, global ? TCL_EVAL_GLOBAL : 0);
}

/* Call a command with Python values as its words (converted like results). */
int tt_call(uintptr_t interp, uintptr_t words, int global) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *seq = TT_OBJ(words);
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    Tcl_Obj **objv = (Tcl_Obj **)ckalloc(sizeof(Tcl_Obj *) * (n ? n : 1));
    for (Py_ssize_t i = 0; i < n; i++) {
        objv[i] = tt_to_tcl(PyTuple_GET_ITEM(seq, i), 0);
        if (objv[i] == NULL) {
            PyErr_Clear();
            for (Py_ssize_t k = 0; k < i; k++) Tcl_DecrRefCount(objv[k]);
            ckfree((char *)objv);
            PyGILState_Release(gil);
            return TT_E_SIZE;
        }
        Tcl_IncrRefCount(objv[i]);
    }
    PyGILState_Release(gil); /* the evaluation runs without the GIL */
    int code = tt_stack_exhausted((Tcl_Interp *)interp)
                   ? TCL_ERROR
                   : Tcl_EvalObjv((Tcl_Interp *)interp, (int)n, objv, global ? TCL_EVAL_GLOBAL : 0);
    for (Py_ssize_t i = 0; i < n; i++) Tcl_DecrRefCount(objv[i]);
    ckfree((char *)objv);
    return code;
}

/* ---- The Python host's evaluations, entered through tkinter ----------------
 * tkinter's own commands (createcommand, a Tk widget's callbacks) take the GIL back from
 * the thread state tkinter saved when *it* entered Tcl, so Interp.eval enters Tcl through
 * tkinter (tk.call of this hidden command) and runs the script here: `tcltorch_host MODE
 * OBJ OUT` evaluates the Python str (MODE 0) or calls the Python tuple of words (MODE 1)
 * whose id is OBJ, appends the code, then the result (and -errorcode, -errorinfo after an
 * error) to the Python list whose id is OUT, and returns TCL_OK with an empty result (tkinter
 * resets the interp's result as it returns).  The Python side keeps both objects alive. */
int tt_result_into(uintptr_t interp, uintptr_t out, int options);

static int tt_host_cmd(ClientData cd, Tcl_Interp *interp, int objc, Tcl_Obj *const objv[]) {
    (void)cd;
    Tcl_WideInt mode, obj, out;
    if (objc != 4 || Tcl_GetWideIntFromObj(interp, objv[1], &mode) != TCL_OK ||
        Tcl_GetWideIntFromObj(interp, objv[2], &obj) != TCL_OK ||
        Tcl_GetWideIntFromObj(interp, objv[3], &out) != TCL_OK) {
        Tcl_SetObjResult(interp, Tcl_NewStringObj("tcltorch_host: bad arguments", -1));
        return TCL_ERROR;
    }
    int code = mode ? tt_call((uintptr_t)interp, (uintptr_t)obj, 1) : tt_eval((uintptr_t)interp, (uintptr_t)obj, 1);
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *c = PyLong_FromLong(code);
    if (c == NULL || PyList_Append(TT_OBJ(out), c) != 0) PyErr_Clear();
    Py_XDECREF(c);
    PyGILState_Release(gil);
    if (code != TT_E_SIZE) tt_result_into((uintptr_t)interp, (uintptr_t)out, code == TCL_ERROR);
    Tcl_ResetResult(interp);
    return TCL_OK;
}

int tt_create_host(uintptr_t interp, const char *name) {
    return Tcl_CreateObjCommand((Tcl_Interp *)interp, name, tt_host_cmd, NULL, NULL) == NULL;
}

/* Tcl resets a cancelled evaluation (Ctrl-C) when the outermost one returns; an evaluation
 * entered through tkinter ends one level down (in tcltorch_host), so the host resets it
 * after tkinter returns: TclResetCancellation(interp, 0), which does so only at level 0.  It
 * is entry 237 of Tcl 8.6's internal stubs table (tclInt.decls; entries never move). */
void tt_reset_cancellation(uintptr_t interp) {
    const struct {
        int magic;
        void *hooks;
        void (*entry[238])(void);
    } *internal = (const void *)tclStubsPtr->hooks->tclIntStubs;
    int (*reset)(Tcl_Interp *, int) = (int (*)(Tcl_Interp *, int))internal->entry[237];
    if (reset != NULL) reset((Tcl_Interp *)interp, 0);
}

/* Cancel the running evaluation so that catch cannot stop it (Ctrl-C). */
void tt_cancel(uintptr_t interp) {
    Tcl_CancelEval((Tcl_Interp *)interp, Tcl_NewStringObj("interrupted", -1), NULL, TCL_CANCEL_UNWIND);
}

/* Append the interp result as str to `out`; with `options`, also the
 * -errorcode (as a list of str) and -errorinfo of the last return options. */
int tt_result_into(uintptr_t interp, uintptr_t out, int options) {
    Tcl_Interp *ip = (Tcl_Interp *)interp;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *list = TT_OBJ(out);
    PyObject *s = tt_str_from_tcl(Tcl_GetObjResult(ip));
    if (s) { PyList_Append(list, s); Py_DECREF(s); }
    if (options) {
        Tcl_Obj *opts = Tcl_GetReturnOptions(ip, TCL_ERROR);
        Tcl_IncrRefCount(opts);
        const char *keys[2] = {"-errorcode", "-errorinfo"};
        for (int k = 0; k < 2; k++) {
            Tcl_Obj *key = Tcl_NewStringObj(keys[k], -1), *val = NULL;
            Tcl_IncrRefCount(key);
            Tcl_DictObjGet(NULL, opts, key, &val);
            Tcl_DecrRefCount(key);
            PyObject *pv;
            if (val == NULL) {
                pv = k == 0 ? PyList_New(0) : PyUnicode_FromString("");
            } else if (k == 0) {
                int n; Tcl_Obj **elems;
                if (Tcl_ListObjGetElements(NULL, val, &n, &elems) != TCL_OK) { n = 1; elems = &val; }
                pv = PyList_New(n);
                for (int i = 0; i < n; i++) PyList_SET_ITEM(pv, i, tt_str_from_tcl(elems[i]));
            } else {
                pv = tt_str_from_tcl(val);
            }
            if (pv) { PyList_Append(list, pv); Py_DECREF(pv); }
        }
        Tcl_DecrRefCount(opts);
    }
    PyErr_Clear();
    PyGILState_Release(gil);
    return 0;
}

void tt_reset_result(uintptr_t interp) {
    Tcl_ResetResult((Tcl_Interp *)interp);
}

/* ---- builtins ---------------------------------------------------------------
 * cffi releases the GIL around every call into this file and each entry point
 * takes it back: two GIL round trips and a cffi wrapper per call.  The calls a
 * command makes on every run (evaluate its script, read the result, call a
 * command) are also offered as builtin functions, which Python calls with the
 * GIL held, like any builtin.  Each is bound to one interpreter: `self` is its
 * address as a Python int.  They answer the result as a str when the code is
 * TCL_OK, else the completion code as an int (TT_E_SIZE: a word too long). */

/* The GIL is released while Tcl evaluates: a command of the script may be a tkinter
 * callback (Tk's `update` in a loop body runs them), which takes the GIL with
 * PyEval_RestoreThread and would wait forever for a GIL this thread held; and
 * another Python thread (a writer's, a Tcl thread's tcltorch) may run meanwhile. */
static int tt_eval_nested(Tcl_Interp *ip, Tcl_Obj *obj) {
    if (tt_stack_exhausted(ip)) return TCL_ERROR;
    int code;
    Py_BEGIN_ALLOW_THREADS
    code = Tcl_EvalObjEx(ip, obj, 0);
    Py_END_ALLOW_THREADS
    return code;
}

static PyObject *tt_answer(Tcl_Interp *ip, int code) {
    if (code != TCL_OK) return PyLong_FromLong(code);
    return tt_str_from_tcl(Tcl_GetObjResult(ip));
}

/* eval_word(script): when `script` is a word of the running command (the str made
 * from its Tcl_Obj), evaluate that very Tcl_Obj in the current frame, so that its
 * compiled form is Tcl's own (a literal of a proc body keeps it); else None. */
static PyObject *tt_b_eval_word(PyObject *self, PyObject *script) {
    Tcl_Obj *obj = tt_frame_arg(script);
    if (obj == NULL) Py_RETURN_NONE;
    Tcl_Interp *ip = (Tcl_Interp *)PyLong_AsVoidPtr(self);
    Tcl_IncrRefCount(obj);
    int code = tt_eval_nested(ip, obj);
    Tcl_DecrRefCount(obj);
    return tt_answer(ip, code);
}

/* eval_obj(address): evaluate a script object kept by Python (tt_obj_new). */
static PyObject *tt_b_eval_obj(PyObject *self, PyObject *address) {
    Tcl_Obj *obj = (Tcl_Obj *)PyLong_AsVoidPtr(address);
    if (obj == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no script object");
        return NULL;
    }
    Tcl_Interp *ip = (Tcl_Interp *)PyLong_AsVoidPtr(self);
    return tt_answer(ip, tt_eval_nested(ip, obj));
}

/* call(words): invoke a command with Python values as its words (a tuple). */
static PyObject *tt_b_call(PyObject *self, PyObject *words) {
    if (!PyTuple_Check(words)) {
        PyErr_SetString(PyExc_TypeError, "call takes a tuple of words");
        return NULL;
    }
    Tcl_Interp *ip = (Tcl_Interp *)PyLong_AsVoidPtr(self);
    Py_ssize_t n = PyTuple_GET_SIZE(words);
    Tcl_Obj *small[8];
    Tcl_Obj **objv = n <= 8 ? small : (Tcl_Obj **)ckalloc(sizeof(Tcl_Obj *) * n);
    for (Py_ssize_t i = 0; i < n; i++) {
        objv[i] = tt_to_tcl(PyTuple_GET_ITEM(words, i), 0);
        if (objv[i] == NULL) {
            PyErr_Clear();
            for (Py_ssize_t k = 0; k < i; k++) Tcl_DecrRefCount(objv[k]);
            if (objv != small) ckfree((char *)objv);
            return PyLong_FromLong(TT_E_SIZE);
        }
        Tcl_IncrRefCount(objv[i]);
    }
    int code;
    if (tt_stack_exhausted(ip)) {
        code = TCL_ERROR;
    } else { /* without the GIL: see tt_eval_nested */
        Py_BEGIN_ALLOW_THREADS
        code = Tcl_EvalObjv(ip, (int)n, objv, 0);
        Py_END_ALLOW_THREADS
    }
    for (Py_ssize_t i = 0; i < n; i++) Tcl_DecrRefCount(objv[i]);
    if (objv != small) ckfree((char *)objv);
    return tt_answer(ip, code);
}

/* result(): the interpreter's result as a str. */
static PyObject *tt_b_result(PyObject *self, PyObject *unused) {
    (void)unused;
    return tt_str_from_tcl(Tcl_GetObjResult((Tcl_Interp *)PyLong_AsVoidPtr(self)));
}

static void tt_capsule_free(PyObject *cap); /* bulk.c */

/* join_keys(dict): the dict's keys (ASCII str) joined by spaces, as a Tcl value (a
 * capsule that tt_to_tcl hands over as it is); None when a key is not an ASCII str.
 * One pass over the entries into a growing buffer, no Python str made: torch::handles
 * at 10^6 handles (each key read once: the pass is memory-bound). */
static PyObject *tt_b_join_keys(PyObject *self, PyObject *dict) {
    (void)self;
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "join_keys takes a dict");
        return NULL;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0, used = 0, cap = 4096;
    char *buf = (char *)attemptckalloc((unsigned)cap);
    if (buf == NULL) return PyErr_NoMemory();
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_ASCII(key)) {
            ckfree(buf);
            Py_RETURN_NONE;
        }
        Py_ssize_t len = PyUnicode_GET_LENGTH(key);
        if (used + len + 1 > cap) {
            while (used + len + 1 > cap) cap *= 2;
            if (cap > tt_max_size + (Py_ssize_t)1 || cap > INT_MAX) {
                ckfree(buf);
                tt_too_big();
                return NULL;
            }
            char *grown = (char *)attemptckrealloc(buf, (unsigned)cap);
            if (grown == NULL) {
                ckfree(buf);
                return PyErr_NoMemory();
            }
            buf = grown;
        }
        if (used) buf[used++] = ' ';
        memcpy(buf + used, PyUnicode_DATA(key), (size_t)len);
        used += len;
    }
    if (used > tt_max_size) {
        ckfree(buf);
        tt_too_big();
        return NULL;
    }
    Tcl_Obj *text = Tcl_NewStringObj(buf, (int)used);
    ckfree(buf);
    Tcl_IncrRefCount(text);
    PyObject *capsule = PyCapsule_New(text, "tcltorch.tclobj", tt_capsule_free);
    if (capsule == NULL) Tcl_DecrRefCount(text);
    return capsule;
}

/* put_tensor(tensor), bound to (table, young, by_id, order, counter, limit): HandleTable.put
 * for a plain tensor (the common command result), in C.  The same steps: the name the
 * object already has, else "tensor" + the next number of the process-wide counter, the
 * table's next serial, then young[name], by_id[id] and order's (serial, name), and the
 * table's _promote() once the young generation holds more than limit handles. */
static PyObject *tt_str_serial = NULL;

static PyObject *tt_b_put_tensor(PyObject *state, PyObject *obj) {
    PyObject *table = PyTuple_GET_ITEM(state, 0), *objects = PyTuple_GET_ITEM(state, 1);
    PyObject *by_id = PyTuple_GET_ITEM(state, 2), *order = PyTuple_GET_ITEM(state, 3);
    PyObject *counter = PyTuple_GET_ITEM(state, 4);
    PyObject *key = PyLong_FromVoidPtr(obj), *name = NULL, *serial = NULL, *next = NULL, *entry = NULL;
    if (key == NULL) return NULL;
    name = PyDict_GetItemWithError(by_id, key);
    if (name != NULL) {
        Py_INCREF(name);
        Py_DECREF(key);
        return name;
    }
    if (PyErr_Occurred()) goto failed;
    PyObject *number = PyIter_Next(counter);
    if (number == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "the handle counter stopped");
        goto failed;
    }
    long long k = PyLong_AsLongLong(number);
    Py_DECREF(number);
    if (k == -1 && PyErr_Occurred()) goto failed;
    char digits[24];
    int nd = 0;
    unsigned long long u = k < 0 ? 0 : (unsigned long long)k;
    do {
        digits[nd++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    name = PyUnicode_New(6 + nd, 127);
    if (name == NULL) goto failed;
    char *text = (char *)PyUnicode_DATA(name);
    memcpy(text, "tensor", 6);
    for (int d = 0; d < nd; d++) text[6 + d] = digits[nd - 1 - d];
    if (tt_str_serial == NULL && (tt_str_serial = PyUnicode_InternFromString("_serial")) == NULL) goto failed;
    serial = PyObject_GetAttr(table, tt_str_serial);
    if (serial == NULL) goto failed;
    long long was = PyLong_AsLongLong(serial);
    if (was == -1 && PyErr_Occurred()) goto failed;
    next = PyLong_FromLongLong(was + 1);
    if (next == NULL) goto failed;
    entry = PyTuple_Pack(2, next, name);
    if (entry == NULL) goto failed;
    /* the updates in put()'s order; each one that fails leaves the earlier ones as put()
     * would (an entry of order without a live name is skipped by release_since) */
    if (PyObject_SetAttr(table, tt_str_serial, next) != 0) goto failed;
    if (PyDict_SetItem(objects, name, obj) != 0) goto failed;
    if (PyDict_SetItem(by_id, key, name) != 0) goto failed;
    if (PyList_Append(order, entry) != 0) goto failed;
    if (PyDict_GET_SIZE(objects) > PyLong_AsSsize_t(PyTuple_GET_ITEM(state, 5))) {
        PyObject *r = PyObject_CallMethod(table, "_promote", NULL);
        if (r == NULL) goto failed;
        Py_DECREF(r);
    }
    Py_DECREF(key);
    Py_DECREF(serial);
    Py_DECREF(next);
    Py_DECREF(entry);
    return name;
failed:
    Py_XDECREF(key);
    Py_XDECREF(name);
    Py_XDECREF(serial);
    Py_XDECREF(next);
    Py_XDECREF(entry);
    return NULL;
}

static PyMethodDef tt_put_def = {"put_tensor", (PyCFunction)tt_b_put_tensor, METH_O, NULL};

/* lookup(name), bound to (young, old): HandleTable.lookup in C, the object or None. */
static PyObject *tt_b_lookup(PyObject *state, PyObject *name) {
    PyObject *obj = PyDict_GetItemWithError(PyTuple_GET_ITEM(state, 0), name);
    if (obj == NULL && !PyErr_Occurred()) obj = PyDict_GetItemWithError(PyTuple_GET_ITEM(state, 1), name);
    if (obj == NULL) {
        if (PyErr_Occurred()) return NULL;
        Py_RETURN_NONE;
    }
    Py_INCREF(obj);
    return obj;
}

static PyMethodDef tt_lookup_def = {"lookup", (PyCFunction)tt_b_lookup, METH_O, NULL};

/* make_lookup((young, old)) -> lookup bound to them. */
static PyObject *tt_b_make_lookup(PyObject *self, PyObject *state) {
    (void)self;
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 2 || !PyDict_CheckExact(PyTuple_GET_ITEM(state, 0)) ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(state, 1))) {
        PyErr_SetString(PyExc_TypeError, "make_lookup takes (young, old)");
        return NULL;
    }
    return PyCFunction_New(&tt_lookup_def, state);
}

/* Whether name is a live handle (in the young or the old generation): 1, 0, or -1 (error). */
static int tt_live(PyObject *young, PyObject *old, PyObject *name) {
    int live = PyDict_Contains(young, name);
    return live != 0 ? live : PyDict_Contains(old, name);
}

/* release_since(mark, keep), bound to (table, young, old, by_id, order, closers, release):
 * HandleTable.release_since in C, the same steps.  The entries of order newer than mark
 * are cut off; those whose names are live and in `keep` (a set, or None) are put back in
 * their order; the other live ones are freed newest first.  The names to free are taken
 * before anything is freed: freeing a tensor may run Python code (weakref callbacks). */
static PyObject *tt_b_release_since(PyObject *state, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "release_since takes (mark, keep)");
        return NULL;
    }
    PyObject *table = PyTuple_GET_ITEM(state, 0), *young = PyTuple_GET_ITEM(state, 1);
    PyObject *objects = PyTuple_GET_ITEM(state, 2), *by_id = PyTuple_GET_ITEM(state, 3);
    PyObject *order = PyTuple_GET_ITEM(state, 4), *closers = PyTuple_GET_ITEM(state, 5);
    PyObject *release = PyTuple_GET_ITEM(state, 6);
    PyObject *keep = args[1] == Py_None ? NULL : args[1];
    long long mark = PyLong_AsLongLong(args[0]);
    if (mark == -1 && PyErr_Occurred()) return NULL;
    if (tt_str_serial == NULL && (tt_str_serial = PyUnicode_InternFromString("_serial")) == NULL) return NULL;
    PyObject *serial_obj = PyObject_GetAttr(table, tt_str_serial);
    if (serial_obj == NULL) return NULL;
    long long serial = PyLong_AsLongLong(serial_obj);
    Py_DECREF(serial_obj);
    if (serial == -1 && PyErr_Occurred()) return NULL;
    if (mark >= serial) return PyLong_FromLong(0);
    Py_ssize_t cut = PyList_GET_SIZE(order);
    while (cut > 0) {
        PyObject *entry = PyList_GET_ITEM(order, cut - 1);
        long long s = PyLong_AsLongLong(PyTuple_GET_ITEM(entry, 0));
        if (s == -1 && PyErr_Occurred()) return NULL;
        if (s <= mark) break;
        cut--;
    }
    Py_ssize_t total = PyList_GET_SIZE(order);
    PyObject *kept = PyList_New(0), *doomed = PyList_New(0);
    if (kept == NULL || doomed == NULL) goto failed;
    for (Py_ssize_t i = cut; i < total; i++) { /* kept: in creation order */
        PyObject *entry = PyList_GET_ITEM(order, i), *name = PyTuple_GET_ITEM(entry, 1);
        int live = tt_live(young, objects, name);
        if (live < 0) goto failed;
        if (!live) continue;
        int kept_here = keep ? PySet_Contains(keep, name) : 0;
        if (kept_here < 0) goto failed;
        if (kept_here && PyList_Append(kept, entry) != 0) goto failed;
    }
    for (Py_ssize_t i = total - 1; i >= cut; i--) { /* doomed: newest first */
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(order, i), 1);
        int live = tt_live(young, objects, name);
        if (live < 0) goto failed;
        if (!live) continue;
        int kept_here = keep ? PySet_Contains(keep, name) : 0;
        if (kept_here < 0) goto failed;
        if (!kept_here && PyList_Append(doomed, name) != 0) goto failed;
    }
    if (PyList_SetSlice(order, cut, total, kept) != 0) goto failed;
    Py_CLEAR(kept);
    /* _compact(): only when the dropped entries outnumber the live ones */
    if (PyList_GET_SIZE(order) > 2 * (PyDict_GET_SIZE(objects) + PyDict_GET_SIZE(young)) + 64) {
        PyObject *r = PyObject_CallMethod(table, "_compact", NULL);
        if (r == NULL) goto failed;
        Py_DECREF(r);
    }
    Py_ssize_t n = PyList_GET_SIZE(doomed);
    int closing = PyDict_GET_SIZE(closers) > 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyList_GET_ITEM(doomed, i);
        PyObject *holder = young, *obj = PyDict_GetItemWithError(young, name);
        if (obj == NULL && !PyErr_Occurred()) obj = PyDict_GetItemWithError(holder = objects, name);
        if (obj == NULL) {
            if (PyErr_Occurred()) goto failed;
            continue;
        }
        Py_INCREF(obj);
        if (PyDict_DelItem(holder, name) != 0) {
            Py_DECREF(obj);
            goto failed;
        }
        PyObject *key = PyLong_FromVoidPtr(obj);
        PyObject *named = key ? PyDict_GetItemWithError(by_id, key) : NULL;
        int same = named != NULL ? PyObject_RichCompareBool(named, name, Py_EQ) : 0;
        if (same < 0 || (named == NULL && PyErr_Occurred()) || (same == 1 && PyDict_DelItem(by_id, key) != 0)) {
            Py_XDECREF(key);
            Py_DECREF(obj);
            goto failed;
        }
        Py_XDECREF(key);
        if (key == NULL) {
            Py_DECREF(obj);
            goto failed;
        }
        /* _release(obj) for an object whose class has a closer (CLOSERS: writers ...) */
        PyObject *closer = closing ? PyDict_GetItemWithError(closers, (PyObject *)Py_TYPE(obj)) : NULL;
        if (closer == NULL && PyErr_Occurred()) {
            Py_DECREF(obj);
            goto failed;
        }
        if (closer != NULL) {
            PyObject *r = PyObject_CallOneArg(release, obj);
            if (r == NULL) {
                Py_DECREF(obj);
                goto failed;
            }
            Py_DECREF(r);
        }
        Py_DECREF(obj); /* may free the object, running Python code */
    }
    Py_DECREF(doomed);
    return PyLong_FromSsize_t(n);
failed:
    Py_XDECREF(kept);
    Py_XDECREF(doomed);
    return NULL;
}

static PyMethodDef tt_release_def = {"release_since", (PyCFunction)(void (*)(void))tt_b_release_since,
                                     METH_FASTCALL, NULL};

/* make_release((table, young, old, by_id, order, closers, release)) -> release_since bound to them. */
static PyObject *tt_b_make_release(PyObject *self, PyObject *state) {
    (void)self;
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 7 || !PyDict_CheckExact(PyTuple_GET_ITEM(state, 1)) ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(state, 2)) || !PyDict_CheckExact(PyTuple_GET_ITEM(state, 3)) ||
        !PyList_CheckExact(PyTuple_GET_ITEM(state, 4)) || !PyDict_CheckExact(PyTuple_GET_ITEM(state, 5)) ||
        !PyCallable_Check(PyTuple_GET_ITEM(state, 6))) {
        PyErr_SetString(PyExc_TypeError, "make_release takes (table, young, old, by_id, order, closers, release)");
        return NULL;
    }
    return PyCFunction_New(&tt_release_def, state);
}

/* make_put((table, young, by_id, order, counter, limit)) -> put_tensor bound to them. */
static PyObject *tt_b_make_put(PyObject *self, PyObject *state) {
    (void)self;
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 6 || !PyDict_CheckExact(PyTuple_GET_ITEM(state, 1)) ||
        !PyDict_CheckExact(PyTuple_GET_ITEM(state, 2)) || !PyList_CheckExact(PyTuple_GET_ITEM(state, 3)) ||
        !PyIter_Check(PyTuple_GET_ITEM(state, 4)) || !PyLong_CheckExact(PyTuple_GET_ITEM(state, 5))) {
        PyErr_SetString(PyExc_TypeError, "make_put takes (table, young, by_id, order, counter, limit)");
        return NULL;
    }
    return PyCFunction_New(&tt_put_def, state);
}

static PyMethodDef tt_builtin_defs[] = {
    {"eval_word", (PyCFunction)tt_b_eval_word, METH_O, NULL},
    {"eval_obj", (PyCFunction)tt_b_eval_obj, METH_O, NULL},
    {"call", (PyCFunction)tt_b_call, METH_O, NULL},
    {"result", (PyCFunction)tt_b_result, METH_NOARGS, NULL},
    {"join_keys", (PyCFunction)tt_b_join_keys, METH_O, NULL},
    {"make_put", (PyCFunction)tt_b_make_put, METH_O, NULL},
    {"make_release", (PyCFunction)tt_b_make_release, METH_O, NULL},
    {"make_lookup", (PyCFunction)tt_b_make_lookup, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

/* Append the builtins bound to `interp` to `out` (a list), in tt_builtin_defs' order. */
int tt_builtins(uintptr_t interp, uintptr_t out) {
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = 0;
    PyObject *self = PyLong_FromVoidPtr((void *)interp);
    for (PyMethodDef *d = tt_builtin_defs; self != NULL && d->ml_name != NULL; d++) {
        PyObject *f = PyCFunction_New(d, self);
        if (f == NULL || PyList_Append(TT_OBJ(out), f) != 0) rc = 1;
        Py_XDECREF(f);
    }
    if (self == NULL) rc = 1;
    Py_XDECREF(self);
    PyErr_Clear();
    PyGILState_Release(gil);
    return rc;
}

/* Split a Tcl list into a Python list of str appended to `out`.
 * On a malformed list, appends Tcl's message instead and returns 1. */
int tt_split(uintptr_t str, uintptr_t out) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *list = TT_OBJ(out);
    Tcl_Obj *obj = tt_to_tcl(TT_OBJ(str), 0);
    if (obj == NULL) { PyErr_Clear(); PyGILState_Release(gil); return TT_E_SIZE; }
    Tcl_IncrRefCount(obj);
    int n, rc = 0;
    Tcl_Obj **elems;
    if (Tcl_ListObjGetElements(NULL, obj, &n, &elems) != TCL_OK) {
        PyObject *m = PyUnicode_FromString("malformed Tcl list (unmatched brace or quote)");
        if (m) { PyList_Append(list, m); Py_DECREF(m); }
        rc = 1;
    } else {
        for (int i = 0; i < n; i++) {
            PyObject *e = tt_str_from_tcl(elems[i]);
            if (e) { PyList_Append(list, e); Py_DECREF(e); }
        }
    }
    Tcl_DecrRefCount(obj);
    PyErr_Clear();
    PyGILState_Release(gil);
    return rc;
}

/* ---- nested numeric data ---------------------------------------------------
 * Walks a nested Tcl list, checks it is rectangular, and appends to `out`:
 * [flat list of numbers, shape list, all_ints].  A leaf is any element that
 * parses as a number (so {{0} {1}} is the 1-D list {0 1}: Tcl lists cannot
 * tell them apart; -shape says otherwise).  On bad data, appends a message
 * and returns 1. */

#define TT_MAXDIM 32

typedef struct {
    PyObject *flat;
    int ndim;
    int shape[TT_MAXDIM];
    int all_ints;
    int path[TT_MAXDIM];
    char err[512];
} TTNested;

/* 1: a number (in *out); 0: not a number; 2: an integer outside int64.
 * Tcl_GetWideIntFromObj takes any integer of magnitude below 2^64 and wraps
 * it; the sign of the text tells when that happened. */
static int tt_leaf(Tcl_Obj *o, PyObject **out, int *is_int) {
    Tcl_WideInt w;
    double d;
    *out = NULL;
    if (Tcl_GetWideIntFromObj(NULL, o, &w) == TCL_OK) {
        const char *p = Tcl_GetString(o);
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
        if ((*p == '-') ? w > 0 : w < 0) return 2;
        *out = PyLong_FromLongLong((long long)w);
        *is_int = 1;
        return 1;
    }
    /* an integer too big even for that wrap is still an integer, not a double */
    if (o->typePtr != NULL && strcmp(o->typePtr->name, "bignum") == 0) return 2;
    if (Tcl_GetDoubleFromObj(NULL, o, &d) == TCL_OK) {
        *out = PyFloat_FromDouble(d);
        *is_int = 0;
        return 1;
    }
    int len;
    const char *s = Tcl_GetStringFromObj(o, &len);
    if (len > 0 && len < 8) {
        int b;
        if (Tcl_GetBooleanFromObj(NULL, o, &b) == TCL_OK && strchr("tTfFyYnNoO", s[0])) {
            *out = PyLong_FromLong(b);
            *is_int = 1;
            return 1;
        }
    }
    return 0;
}

static void tt_path_str(TTNested *st, int depth, char *buf, size_t size) {
    size_t pos = 0;
    buf[0] = 0;
    for (int i = 0; i < depth && pos + 16 < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, i ? " %d" : "%d", st->path[i]);
}

static int tt_walk(TTNested *st, Tcl_Obj *o, int depth) {
    char where[256];
    if (depth == st->ndim) {
        PyObject *v;
        int is_int;
        int kind = tt_leaf(o, &v, &is_int);
        if (kind == 2) {
            tt_path_str(st, depth, where, sizeof where);
            snprintf(st->err, sizeof st->err, "integer %.40s at index {%s} does not fit in int64",
                     Tcl_GetString(o), where);
            return 1;
        }
        if (kind == 0) {
            tt_path_str(st, depth, where, sizeof where);
            snprintf(st->err, sizeof st->err, "expected a number but got \"%.40s\" at index {%s}",
                     Tcl_GetString(o), where);
            return 1;
        }
        if (v == NULL) { PyErr_Clear(); snprintf(st->err, sizeof st->err, "out of memory"); return 1; }
        if (!is_int) st->all_ints = 0;
        PyList_Append(st->flat, v);
        Py_DECREF(v);
        return 0;
    }
    int n;
    Tcl_Obj **elems;
    PyObject *probe;
    int is_int;
    if (tt_leaf(o, &probe, &is_int)) { /* a number (or an out-of-range integer) */
        Py_XDECREF(probe);
        PyErr_Clear();
        tt_path_str(st, depth, where, sizeof where);
        snprintf(st->err, sizeof st->err, "ragged data: element {%s} is a number where a list of %d was expected",
                 where, st->shape[depth]);
        return 1;
    }
    if (Tcl_ListObjGetElements(NULL, o, &n, &elems) != TCL_OK) {
        tt_path_str(st, depth, where, sizeof where);
        snprintf(st->err, sizeof st->err, "malformed list at index {%s}", where);
        return 1;
    }
    if (n != st->shape[depth]) {
        tt_path_str(st, depth, where, sizeof where);
        snprintf(st->err, sizeof st->err, "ragged data: element {%s} has %d items, expected %d", where, n,
                 st->shape[depth]);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        st->path[depth] = i;
        if (tt_walk(st, elems[i], depth + 1)) return 1;
    }
    return 0;
}

int tt_nested(uintptr_t str, uintptr_t out) {
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *list = TT_OBJ(out);
    Tcl_Obj *root = tt_to_tcl(TT_OBJ(str), 0);
    if (root == NULL) { PyErr_Clear(); PyGILState_Release(gil); return TT_E_SIZE; }
    Tcl_IncrRefCount(root);
    TTNested st;
    memset(&st, 0, sizeof st);
    st.all_ints = 1;
    st.flat = PyList_New(0);
    int rc = 0;
    /* Discover the shape along the first elements. */
    Tcl_Obj *cur = root;
    for (;;) {
        PyObject *probe;
        int is_int, n;
        Tcl_Obj **elems;
        if (tt_leaf(cur, &probe, &is_int)) { Py_XDECREF(probe); break; }
        if (Tcl_ListObjGetElements(NULL, cur, &n, &elems) != TCL_OK) {
            snprintf(st.err, sizeof st.err, "malformed list (unmatched brace or quote)");
            rc = 1;
            break;
        }
        if (n == 1 && strcmp(Tcl_GetString(elems[0]), Tcl_GetString(cur)) == 0) {
            snprintf(st.err, sizeof st.err, "expected a number but got \"%.40s\"", Tcl_GetString(cur));
            rc = 1;
            break;
        }
        if (st.ndim == TT_MAXDIM) { snprintf(st.err, sizeof st.err, "data nested too deeply"); rc = 1; break; }
        st.shape[st.ndim++] = n;
        if (n == 0) break;
        cur = elems[0];
    }
    PyErr_Clear();
    if (rc == 0) rc = tt_walk(&st, root, 0);
    Tcl_DecrRefCount(root);
    if (rc) {
        /* the message quotes Tcl text: decode it from Tcl's form */
        PyObject *m = tt_decode_tcl((const unsigned char *)st.err, (int)strlen(st.err));
        if (m) { PyList_Append(list, m); Py_DECREF(m); }
    } else {
        PyObject *shape = PyList_New(st.ndim);
        for (int i = 0; i < st.ndim; i++) PyList_SET_ITEM(shape, i, PyLong_FromLong(st.shape[i]));
        PyList_Append(list, st.flat);
        PyList_Append(list, shape);
        PyList_Append(list, st.all_ints ? Py_True : Py_False);
        Py_DECREF(shape);
    }
    Py_DECREF(st.flat);
    PyErr_Clear();
    PyGILState_Release(gil);
    return rc;
}

/* ---- per-interp teardown ---------------------------------------------------- */

typedef struct {
    PyObject *callback;
} TTAssoc;

static void tt_assoc_deleted(ClientData cd, Tcl_Interp *interp) {
    TTAssoc *a = (TTAssoc *)cd;
    if (tt_python_alive()) {
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject *r = PyObject_CallNoArgs(a->callback);
        Py_XDECREF(r);
        PyErr_Clear();
        Py_DECREF(a->callback);
        PyGILState_Release(gil);
    }
    ckfree((char *)a);
}

/* Whether the interp holds tt_on_delete's data under key (an interp made at the address of
 * one that was deleted does not). */
int tt_has_assoc(uintptr_t interp, const char *key) {
    return Tcl_GetAssocData((Tcl_Interp *)interp, key, NULL) != NULL;
}

int tt_on_delete(uintptr_t interp, const char *key, uintptr_t callback) {
    TTAssoc *a = (TTAssoc *)ckalloc(sizeof(TTAssoc));
    PyGILState_STATE gil = PyGILState_Ensure();
    a->callback = TT_OBJ(callback);
    Py_INCREF(a->callback);
    PyGILState_Release(gil);
    Tcl_SetAssocData((Tcl_Interp *)interp, key, tt_assoc_deleted, (ClientData)a);
    return 0;
}

/* ---- the ::torch namespace --------------------------------------------------
 * Created here with a delete callback, so that after `namespace delete ::torch`
 * Python can make `package require tcltorch` install the commands again. */

typedef struct {
    Tcl_Interp *interp;
    PyObject *callback;
} TTNamespace;

static void tt_namespace_deleted(ClientData cd) {
    TTNamespace *w = (TTNamespace *)cd;
    if (tt_python_alive()) {
        PyGILState_STATE gil = PyGILState_Ensure();
        if (!Tcl_InterpDeleted(w->interp)) {
            Tcl_InterpState state = Tcl_SaveInterpState(w->interp, TCL_OK);
            PyObject *r = PyObject_CallNoArgs(w->callback);
            Py_XDECREF(r);
            PyErr_Clear();
            Tcl_RestoreInterpState(w->interp, state);
        }
        Py_DECREF(w->callback);
        PyGILState_Release(gil);
    }
    ckfree((char *)w);
}

/* 0: created and watched; 1: it already existed (not watched). */
int tt_watch_namespace(uintptr_t interp, const char *name, uintptr_t callback) {
    Tcl_Interp *ip = (Tcl_Interp *)interp;
    if (Tcl_FindNamespace(ip, name, NULL, 0) != NULL) return 1;
    TTNamespace *w = (TTNamespace *)ckalloc(sizeof(TTNamespace));
    w->interp = ip;
    PyGILState_STATE gil = PyGILState_Ensure();
    w->callback = TT_OBJ(callback);
    Py_INCREF(w->callback);
    PyGILState_Release(gil);
    if (Tcl_CreateNamespace(ip, name, (ClientData)w, tt_namespace_deleted) == NULL) {
        Tcl_ResetResult(ip);
        gil = PyGILState_Ensure();
        Py_DECREF(w->callback);
        PyGILState_Release(gil);
        ckfree((char *)w);
        return 1;
    }
    return 0;
}

/* ---- Ctrl-C: interrupt a running evaluation --------------------------------
 * While armed, SIGINT marks an async handler (async-signal-safe); at the next
 * safe point Tcl runs it and cancels the evaluation with TCL_CANCEL_UNWIND, so
 * that no catch can swallow it.  Python code running in a command gets
 * KeyboardInterrupt through PyErr_SetInterruptEx.  A mark still pending when
 * the console disarms (the Ctrl-C came while Python ran outside Tcl) is stale:
 * the handler ignores it instead of cancelling a later, unrelated evaluation. */

static Tcl_AsyncHandler tt_async = NULL;
static Tcl_Interp *tt_async_interp = NULL;
static struct sigaction tt_old_sigint;
static volatile sig_atomic_t tt_armed = 0;
static volatile sig_atomic_t tt_interrupted = 0;

static int tt_async_proc(ClientData cd, Tcl_Interp *interp, int code) {
    (void)cd;
    (void)interp;
    if (tt_armed && tt_interrupted && tt_async_interp != NULL)
        Tcl_CancelEval(tt_async_interp, Tcl_NewStringObj("interrupted", -1), NULL, TCL_CANCEL_UNWIND);
    return code;
}

static void tt_on_sigint(int sig) {
    (void)sig;
    tt_interrupted = 1;
    if (tt_async) Tcl_AsyncMark(tt_async);
    PyErr_SetInterruptEx(SIGINT);
}

int tt_interrupt_arm(uintptr_t interp) {
    if (tt_async == NULL) tt_async = Tcl_AsyncCreate(tt_async_proc, NULL);
    tt_async_interp = (Tcl_Interp *)interp;
    tt_interrupted = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = tt_on_sigint;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, &tt_old_sigint) != 0) return 1;
    tt_armed = 1;
    return 0;
}

int tt_interrupt_disarm(void) {
    int was = tt_interrupted;
    if (tt_armed) {
        sigaction(SIGINT, &tt_old_sigint, NULL);
        tt_armed = 0;
    }
    tt_interrupted = 0;
    return was;
}

/* Whether a Ctrl-C arrived since arming (and was not yet cleared). */
int tt_interrupt_pending(void) {
    return tt_interrupted;
}

#include "bulk.c"
