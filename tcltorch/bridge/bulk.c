/* tcltorch bridge, bulk conversion: a tensor's buffer <-> Tcl list objects.
 *
 * Included at the end of tclapi.c (one cffi module), so it shares its helpers:
 * tt_leaf's rules, the current command's Tcl_Obj arguments (tt_frame) and
 * the size limit.
 *
 * tt_nested_buffer: a rectangular nested Tcl list of numbers -> one buffer of
 *   int64 (while every leaf is an integer) or float64 values, with the same
 *   rules and messages as tt_nested.  When the Python str it is given is one of
 *   the running command's own arguments, the argument's Tcl_Obj is read
 *   directly (its list and number forms are reused, nothing is parsed again).
 * tt_tensor_list: a contiguous buffer -> a nested Tcl list, handed to Python as
 *   a capsule that tt_to_tcl passes through unchanged.  float32 elements get a
 *   Tcl type whose string form (the shortest decimal that reads back to the same
 *   float32) is made only when a script needs it, as Tcl does for doubles.
 */

/* ---- reading numbers ------------------------------------------------------- */

static const Tcl_ObjType *tt_int_type = NULL, *tt_double_type = NULL, *tt_wide_type = NULL;

static void tt_number_types(void) {
    if (tt_double_type == NULL) {
        tt_int_type = Tcl_GetObjType("int");
        tt_wide_type = Tcl_GetObjType("wideInt");
        tt_double_type = Tcl_GetObjType("double");
    }
}

/* A plain decimal (what Tcl and strtod read alike): [+-]?digits[.digits][e[+-]digits],
 * no leading zero before another digit (Tcl 8.6 reads 010 as octal).
 * 1: integer text; 2: float text; 0: something else (leave it to Tcl). */
static int tt_plain_decimal(const char *s, int len) {
    int i = 0, digits = 0, is_float = 0;
    if (len == 0 || len > 40) return 0;
    if (s[i] == '+' || s[i] == '-') i++;
    if (i < len && s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9') return 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') { i++; digits++; }
    if (i < len && s[i] == '.') {
        is_float = 1;
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') { i++; digits++; }
    }
    if (digits == 0) return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        int exp_digits = 0;
        is_float = 1;
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') { i++; exp_digits++; }
        if (exp_digits == 0) return 0;
    }
    if (i != len) return 0;
    return is_float ? 2 : 1;
}

/* tt_leaf without Python objects: 1 a number (*w when *is_int, else *d),
 * 0 not a number, 2 an integer outside int64. */
static int tt_leaf_c(Tcl_Obj *o, Tcl_WideInt *w, double *d, int *is_int) {
    if (o->typePtr == tt_double_type) {
        *d = o->internalRep.doubleValue;
        *is_int = 0;
        return 1;
    }
    if (o->typePtr == tt_int_type || (tt_wide_type != NULL && o->typePtr == tt_wide_type)) {
        if (Tcl_GetWideIntFromObj(NULL, o, w) == TCL_OK) {
            *is_int = 1;
            return 1;
        }
    }
    if (o->typePtr == NULL && o->bytes != NULL) {
        int kind = tt_plain_decimal(o->bytes, o->length);
        char *end;
        if (kind == 2) {
            *d = strtod(o->bytes, &end);
            if (end == o->bytes + o->length) {
                *is_int = 0;
                return 1;
            }
        } else if (kind == 1) {
            errno = 0;
            long long x = strtoll(o->bytes, &end, 10);
            if (errno == 0 && end == o->bytes + o->length) {
                *w = (Tcl_WideInt)x;
                *is_int = 1;
                return 1;
            }
        }
    }
    /* everything else: Tcl's own rules, as tt_leaf applies them */
    if (Tcl_GetWideIntFromObj(NULL, o, w) == TCL_OK) {
        const char *p = Tcl_GetString(o);
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
        if ((*p == '-') ? *w > 0 : *w < 0) return 2;
        *is_int = 1;
        return 1;
    }
    if (o->typePtr != NULL && strcmp(o->typePtr->name, "bignum") == 0) return 2;
    if (Tcl_GetDoubleFromObj(NULL, o, d) == TCL_OK) {
        *is_int = 0;
        return 1;
    }
    int len;
    const char *s = Tcl_GetStringFromObj(o, &len);
    if (len > 0 && len < 8) {
        int b;
        if (Tcl_GetBooleanFromObj(NULL, o, &b) == TCL_OK && strchr("tTfFyYnNoO", s[0])) {
            *w = b;
            *is_int = 1;
            return 1;
        }
    }
    return 0;
}

typedef struct {
    TTNested *st;
    union { long long *i; double *f; } out;
    Py_ssize_t pos;
} TTBuffer;

static int tt_walk_buffer(TTBuffer *b, Tcl_Obj *o, int depth) {
    TTNested *st = b->st;
    char where[256];
    Tcl_WideInt w;
    double d;
    int is_int;
    if (depth == st->ndim) {
        int kind = tt_leaf_c(o, &w, &d, &is_int);
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
        if (st->all_ints) {
            if (is_int) {
                b->out.i[b->pos++] = (long long)w;
                return 0;
            }
            /* the first float: what came before becomes float64, in place */
            for (Py_ssize_t k = 0; k < b->pos; k++) b->out.f[k] = (double)b->out.i[k];
            st->all_ints = 0;
        }
        b->out.f[b->pos++] = is_int ? (double)w : d;
        return 0;
    }
    int n;
    Tcl_Obj **elems;
    if (tt_leaf_c(o, &w, &d, &is_int)) {
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
        if (tt_walk_buffer(b, elems[i], depth + 1)) return 1;
    }
    return 0;
}

/* Appends [bytearray of int64 or float64, shape, all_ints] to out; 1 and a
 * message on bad data (tt_nested's words); TT_E_SIZE when too big. */
int tt_nested_buffer(uintptr_t str, uintptr_t out) {
    PyGILState_STATE gil = PyGILState_Ensure();
    tt_number_types();
    PyObject *list = TT_OBJ(out);
    Tcl_Obj *root = tt_frame_arg(TT_OBJ(str));
    if (root == NULL) root = tt_tcl_from_str(TT_OBJ(str));
    if (root == NULL) { PyErr_Clear(); PyGILState_Release(gil); return TT_E_SIZE; }
    Tcl_IncrRefCount(root);
    TTNested st;
    memset(&st, 0, sizeof st);
    st.all_ints = 1;
    int rc = 0;
    Tcl_Obj *cur = root;
    Tcl_WideInt w;
    double d;
    int is_int;
    for (;;) {
        int n;
        Tcl_Obj **elems;
        if (tt_leaf_c(cur, &w, &d, &is_int)) break;
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
    PyObject *buf = NULL;
    if (rc == 0) {
        Py_ssize_t count = 1;
        for (int i = 0; i < st.ndim; i++) {
            if (st.shape[i] != 0 && count > PY_SSIZE_T_MAX / 8 / st.shape[i]) {
                Tcl_DecrRefCount(root);
                PyGILState_Release(gil);
                return TT_E_SIZE;
            }
            count *= st.shape[i];
        }
        buf = PyByteArray_FromStringAndSize(NULL, count * 8);
        if (buf == NULL) {
            PyErr_Clear();
            snprintf(st.err, sizeof st.err, "out of memory");
            rc = 1;
        } else {
            TTBuffer b;
            b.st = &st;
            b.out.i = (long long *)PyByteArray_AS_STRING(buf);
            b.pos = 0;
            rc = tt_walk_buffer(&b, root, 0);
        }
    }
    Tcl_DecrRefCount(root);
    if (rc) {
        PyObject *m = tt_decode_tcl((const unsigned char *)st.err, (int)strlen(st.err));
        if (m) { PyList_Append(list, m); Py_DECREF(m); }
    } else {
        PyObject *shape = PyList_New(st.ndim);
        for (int i = 0; i < st.ndim; i++) PyList_SET_ITEM(shape, i, PyLong_FromLong(st.shape[i]));
        PyList_Append(list, buf);
        PyList_Append(list, shape);
        PyList_Append(list, st.all_ints ? Py_True : Py_False);
        Py_DECREF(shape);
    }
    Py_XDECREF(buf);
    PyErr_Clear();
    PyGILState_Release(gil);
    return rc;
}

/* ---- writing lists ----------------------------------------------------------- */

/* float32 element: the value in internalRep.doubleValue, the string made on demand. */
static void tt_f32_dup(Tcl_Obj *src, Tcl_Obj *dup) {
    dup->internalRep.doubleValue = src->internalRep.doubleValue;
    dup->typePtr = src->typePtr;
}

/* The text tt_f32_text makes ("%.Ng" for the least N from 6 that reads back to x), made without
 * printf: N-digit roundings of x computed in double and checked against the float32's rounding
 * interval (the midpoints to its neighbours, exact in double).  Double's 29 spare bits decide
 * every case except those within a guard band of a tie or of an interval end; for those, for
 * subnormals and for |x| outside about [1e-13, 1e22] it returns -1 and the caller prints. */
static const double tt_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int tt_f32_fast(float x, char *buf) {
    float ax = fabsf(x);
    if (!(ax >= FLT_MIN) || ax > 1e22f || ax < 1e-13f) return -1; /* 0, NaN, Inf, subnormal, far out */
    const double v = ax, lo = (v + (double)nextafterf(ax, 0.0f)) * 0.5,
                 hi = (v + (double)nextafterf(ax, INFINITY)) * 0.5;
    int e10 = (int)floor(log10(v));
    for (int p = 6; p <= 9; p++) {
        uint64_t d = 0;
        int X = e10;
        for (int tries = 0; tries < 2; tries++) {
            int s = p - 1 - X;
            if (s > 22 || s < -22) return -1;
            double y = s >= 0 ? v * tt_pow10[s] : v / tt_pow10[-s];
            double f = floor(y), frac = y - f;
            if (fabs(frac - 0.5) < 1e-6) return -1; /* near a tie: let printf decide */
            d = (uint64_t)f + (frac > 0.5);
            if (d >= (uint64_t)tt_pow10[p]) { /* rounded up to 10^p, or X was one too small */
                if (d == (uint64_t)tt_pow10[p] && frac > 0.5 && f == tt_pow10[p] - 1) {
                    d /= 10;
                    X += 1;
                    break;
                }
                X += 1;
                continue;
            }
            if (d < (uint64_t)tt_pow10[p - 1]) { /* X was one too large */
                X -= 1;
                continue;
            }
            break;
        }
        if (d < (uint64_t)tt_pow10[p - 1] || d >= (uint64_t)tt_pow10[p]) return -1;
        int s = p - 1 - X;
        if (s > 22 || s < -22) return -1;
        double c = s >= 0 ? (double)d / tt_pow10[s] : (double)d * tt_pow10[-s];
        double guard = v * 1e-14;
        if (fabs(c - lo) < guard || fabs(c - hi) < guard) return -1; /* too close to call (or a tie) */
        if (!(c > lo && c < hi)) {
            if (p == 9) return -1; /* 9 digits always read back: something is off, let printf do it */
            continue;
        }
        /* d has p digits; print it as "%.pg" does, trailing zeros dropped */
        char dig[10];
        for (int k = p - 1; k >= 0; k--) {
            dig[k] = (char)('0' + d % 10);
            d /= 10;
        }
        int nd = p;
        while (nd > 1 && dig[nd - 1] == '0') nd--;
        int len = 0;
        if (x < 0) buf[len++] = '-';
        if (X < -4 || X >= p) {
            buf[len++] = dig[0];
            if (nd > 1) {
                buf[len++] = '.';
                for (int k = 1; k < nd; k++) buf[len++] = dig[k];
            }
            int ex = X < 0 ? -X : X;
            buf[len++] = 'e';
            buf[len++] = X < 0 ? '-' : '+';
            if (ex >= 10) buf[len++] = (char)('0' + ex / 10);
            else buf[len++] = '0';
            buf[len++] = (char)('0' + ex % 10);
        } else if (X >= 0) {
            for (int k = 0; k <= X; k++) buf[len++] = k < nd ? dig[k] : '0';
            buf[len++] = '.';
            if (nd > X + 1)
                for (int k = X + 1; k < nd; k++) buf[len++] = dig[k];
            else
                buf[len++] = '0'; /* Tcl's ".0" on an integer-looking double */
        } else {
            buf[len++] = '0';
            buf[len++] = '.';
            for (int k = 0; k < -X - 1; k++) buf[len++] = '0';
            for (int k = 0; k < nd; k++) buf[len++] = dig[k];
        }
        buf[len] = 0;
        return len;
    }
    return -1;
}

/* The shortest "%.Ng" that reads back to x, with ".0" added to an integer-looking
 * text as Tcl prints doubles.  N starts at 6: %g drops trailing zeros, and every
 * normal float32 whose shortest form has fewer digits prints that form at 6 (FLT_DIG);
 * subnormals have less precision and start at 4. */
static int tt_f32_text(float x, char *buf, size_t size) {
    if (x != x) return snprintf(buf, size, "NaN");
    if (x == (float)INFINITY) return snprintf(buf, size, "Inf");
    if (x == -(float)INFINITY) return snprintf(buf, size, "-Inf");
    int len = tt_f32_fast(x, buf); /* the same text, 5x faster, for all but rare cases */
    if (len >= 0) return len;
    len = 0;
    for (int digits = fabsf(x) < FLT_MIN ? 4 : 6; digits <= 9; digits++) {
        len = snprintf(buf, size, "%.*g", digits, (double)x);
        if (strtof(buf, NULL) == x) break;
    }
    if (strpbrk(buf, ".e") == NULL && strstr(buf, "inf") == NULL && strstr(buf, "nan") == NULL) {
        buf[len++] = '.';
        buf[len++] = '0';
        buf[len] = 0;
    }
    return len;
}

static void tt_f32_string(Tcl_Obj *o) {
    char text[40];
    int len = tt_f32_text((float)o->internalRep.doubleValue, text, sizeof text - 3);
    o->bytes = ckalloc((unsigned)len + 1);
    memcpy(o->bytes, text, (size_t)len + 1);
    o->length = len;
}

static Tcl_ObjType tt_f32_type = {"tcltorch-float32", NULL, tt_f32_dup, tt_f32_string, NULL};

static Tcl_Obj *tt_new_f32(float x) {
    Tcl_Obj *o = Tcl_NewObj();
    o->bytes = NULL; /* a new object's string is Tcl's shared empty one, never freed: no text yet */
    o->internalRep.doubleValue = (double)x;
    o->typePtr = &tt_f32_type;
    return o;
}

enum { TT_F64, TT_F32, TT_I64, TT_I32, TT_I16, TT_I8, TT_U8, TT_BOOL };

static Tcl_Obj *tt_element(const char *p, int kind) {
    switch (kind) {
    case TT_F64: { double v; memcpy(&v, p, 8); return Tcl_NewDoubleObj(v); }
    case TT_F32: { float v; memcpy(&v, p, 4); return tt_new_f32(v); }
    case TT_I64: { long long v; memcpy(&v, p, 8); return Tcl_NewWideIntObj((Tcl_WideInt)v); }
    case TT_I32: { int v; memcpy(&v, p, 4); return Tcl_NewWideIntObj(v); }
    case TT_I16: { short v; memcpy(&v, p, 2); return Tcl_NewWideIntObj(v); }
    case TT_I8: return Tcl_NewWideIntObj(*(const signed char *)p);
    case TT_U8: return Tcl_NewWideIntObj(*(const unsigned char *)p);
    default: return Tcl_NewBooleanObj(*(const unsigned char *)p != 0);
    }
}

static const int tt_item_size[] = {8, 4, 8, 4, 2, 1, 1, 1};

#define TT_CHUNK 256

static Tcl_Obj *tt_build(const char **p, int kind, int ndim, const long long *shape) {
    if (ndim == 0) {
        Tcl_Obj *o = tt_element(*p, kind);
        *p += tt_item_size[kind];
        return o;
    }
    int n = (int)shape[0];
    /* room for n elements, none yet (Tcl_NewListObj with no array); the elements go in by chunks
     * made just before, so the list's reference to each is taken while it is still in the cache */
    Tcl_Obj *list = Tcl_NewListObj(n, NULL), *chunk[TT_CHUNK];
    for (int i = 0; i < n; i += TT_CHUNK) {
        int k = n - i < TT_CHUNK ? n - i : TT_CHUNK;
        for (int j = 0; j < k; j++) chunk[j] = tt_build(p, kind, ndim - 1, shape + 1);
        Tcl_ListObjReplace(NULL, list, i, 0, k, chunk);
    }
    return list;
}

static void tt_capsule_free(PyObject *cap) {
    Tcl_Obj *o = (Tcl_Obj *)PyCapsule_GetPointer(cap, "tcltorch.tclobj");
    if (o != NULL) Tcl_DecrRefCount(o);
}

/* A contiguous buffer of `kind` values with this shape -> a capsule holding the
 * nested Tcl list (or one number for 0-d), appended to out.  TT_E_SIZE when a
 * dimension is longer than a Tcl list can be. */
int tt_tensor_list(uintptr_t data, int kind, int ndim, const long long *shape, uintptr_t out) {
    for (int i = 0; i < ndim; i++)
        if (shape[i] > INT_MAX || shape[i] > tt_max_size) return TT_E_SIZE;
    const char *p = (const char *)data;
    Tcl_Obj *value = tt_build(&p, kind, ndim, shape);
    Tcl_IncrRefCount(value);
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *cap = PyCapsule_New(value, "tcltorch.tclobj", tt_capsule_free);
    int rc = 0;
    if (cap == NULL) {
        PyErr_Clear();
        Tcl_DecrRefCount(value);
        rc = 1;
    } else {
        PyList_Append(TT_OBJ(out), cap);
        Py_DECREF(cap);
    }
    PyGILState_Release(gil);
    return rc;
}
