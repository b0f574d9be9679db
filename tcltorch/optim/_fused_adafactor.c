/* Fused CPU step of tcltorch.optim.Adafactor: every tensor of a parameter group in one call.
 *
 * The maths is docs/adafactor.md (and the docstring of tcltorch/optim/adafactor/), in float32
 * with float32 state, and every sum (row and column statistics, RMS(X), RMS(U), mean(r)) in
 * double.  Parameters and gradients may be float32, bfloat16 or float16 (any mix); results are
 * rounded to the parameter's dtype to nearest-even.
 *
 * Per factored tensor (batch B, rows n, cols m), two passes:
 *   pass 1 (rows in order):  s_i = sum_j G_ij^2;  r_i <- lerp(r_i, s_i/m + eps2, w);
 *                            csum_j += G_ij^2;  wcol_j += G_ij^2 / r_i;  ||X||^2 (unless cached)
 *   middle:                  c_j <- lerp(c_j, csum_j/n + eps2, w);  cf_j = 1/sqrt(c_j);
 *                            ||U||^2 = sum_b mean(r_b) sum_j cf_j^2 wcol_j  (U is never built)
 *   pass 2:
 *                            X_ij <- X_ij (1 - lambda alpha) - coef rf_i cf_j G_ij [via momentum]
 *                            and ||X_new||^2 of the rounded result, for the next step's alpha.
 * Rank <= 1 tensors: v <- lerp(v, G^2 + eps2, w), U = G/sqrt(v), the same two passes.
 * Memory traffic per step: G read twice (pass 2 rereads it soon after pass 1, mostly from the
 * cache), X read and written once (its norm comes from the previous step's pass 2), the row/col
 * statistics read and written once; U and V are never stored.
 * A tensor is done whole by one thread (largest first, no barrier; pass 1 of the next tensor
 * interleaved with pass 2 of the previous), unless it alone is most of the group (TT_SHARE, and
 * more than TT_LARGE elements): then all threads share it (contiguous row ranges, one barrier).
 * No temporary is larger
 * than four rows (or TT_VCHUNK elements) per thread plus B*m doubles per thread.
 *
 * The row kernels (GCC vector extensions) are compiled three times, for baseline x86-64 and for
 * AVX2+FMA+F16C (8 floats wide), and for AVX-512 (16 wide), with GCC target pragmas, and chosen at
 * run time: the build never uses -march=native.
 */

#include <math.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define TT_F32 0
#define TT_BF16 1
#define TT_F16 2

#define TT_LARGE (1 << 18)  /* elements: below this a tensor is never shared by threads */
#define TT_SHARE 0.6        /* ... nor unless it is more than this fraction of the group */
#define TT_VCHUNK 2048      /* elements per block of a rank <= 1 tensor */
#define TT_BLOCK 16384      /* elements per unit of work of the shared tensors' pipeline */
#define TT_ROWBLK 32        /* rows per block whose column sums pass 1 adds in float32 (short sums;
                             * fewer rows made wide tensors flush to double every row or two) */
#define TT_SUMBLK 256       /* elements per float32 block of a sum of squares */
#define TT_PIPEMAX (1 << 21) /* elements: a larger whole tensor's pass 2 runs alone, back to front */
#define TT_BACKBLK (1 << 18) /* elements per block of the back-to-front pass 2 of a whole tensor */

/* ------------------------------------------------------------------ scalar conversions */

static inline float tt_bf2f(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t tt_f2bf(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float tt_h2f(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    float f;
    if (e == 0) {
        f = (float)m * 0x1p-24f;
        memcpy(&u, &f, 4);
        u |= s;
    } else if (e == 31) {
        u = s | 0x7f800000u | (m << 13);
    } else {
        u = s | ((e + 112u) << 23) | (m << 13);
    }
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t tt_f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds to infinity */
    if (ax < 0x38800000u) {                                   /* subnormal half or zero */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)rintf(a * 0x1p24f));
    }
    uint32_t e = ax - (112u << 23);
    e += 0xfffu + ((e >> 13) & 1u);
    return (uint16_t)(sign | (e >> 13));
}

/* max(a, FLT_MIN) that keeps a NaN (like torch's clamp) and that compilers vectorize (fmaxf is a
 * libm call unless NaNs are ruled out). */
static inline float tt_floor(float a) { return a < FLT_MIN ? FLT_MIN : a; }

/* fmaxf(a, FLT_MIN) exactly (a NaN gives FLT_MIN), inline: fmaxf is a libm call unless NaNs are
 * ruled out, and these run once per row or column. */
static inline float tt_fmax_min(float a) { return a > FLT_MIN ? a : FLT_MIN; }

static inline float tt_lerp(float self, float end, float w) {  /* torch's CPU lerp */
    return fabsf(w) < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

/* ------------------------------------------------------------------ row kernels (two builds) */

/* GCC vector types: 8 floats and 4 doubles (one AVX2 register, or two SSE registers in the
 * baseline build), 16 floats and 8 doubles (one AVX-512 register); the kernels load and store them
 * through memcpy, so no alignment is assumed. */
/* ||X||^2 of a tensor is the sum of its units' sums of squares (a unit: a row of a factored tensor,
 * a block of TT_VCHUNK elements of the others), each computed alike by pass 1 (of X) and by pass 2
 * (of X_new, as it writes it): the same kernel structure, whatever the instruction set.  The units
 * are added in double-double (hi + lo, non-negative terms), whose rounding to double is that of the
 * exact sum (but within ~n 2^-106 of a tie): the same in whatever order and grouping the threads,
 * the pipeline and the back-to-front pass add them.  So the norm a step reuses from the previous
 * step's pass 2 is the very one pass 1 computes after a resume, and a resumed run takes the same
 * steps as one that never stopped. */
typedef struct {
    double hi, lo;
} tt_dd;

static inline void tt_dd_add(tt_dd *a, double x) { /* Knuth's TwoSum: the rounding error kept */
    double s = a->hi + x, bp = s - a->hi;
    a->lo += (a->hi - (s - bp)) + (x - bp);
    a->hi = s;
}

static inline void tt_dd_merge(tt_dd *a, tt_dd b) {
    tt_dd_add(a, b.hi);
    tt_dd_add(a, b.lo);
}

static inline double tt_dd_value(tt_dd a) { return a.hi + a.lo; }

typedef float tt_v8 __attribute__((vector_size(32)));
typedef double tt_d4 __attribute__((vector_size(32)));
typedef float tt_v16 __attribute__((vector_size(64)));
typedef double tt_d8 __attribute__((vector_size(64)));

typedef struct {
    void (*load)(float *dst, const void *src, int64_t n, int dt);
    void (*store)(void *dst, float *src, int64_t n, int dt); /* src keeps the rounded values */
    double (*sumsq)(const float *a, int64_t n);
    void (*cols_rows)(const float *g, int64_t m, int R, const float *iv, float *cacc, float *wacc, int first);
    void (*cols_flush)(const float *cacc, const float *wacc, double *csum, double *wcol, int64_t m);
    double (*fac_apply)(float *x, const float *g, const float *cf, int64_t n, float coef, float decay,
                      float *mom, float beta1);
    void (*fac_apply_rows)(float *x, const float *g, const float *cf, int64_t m, int64_t R, const float *coefs,
                           float decay, float *mom, float beta1, tt_dd *xsq);
    double (*vec_stats)(const float *g, float *v, int64_t n, float eps2, float w, float *ubuf);
    void (*vec_apply)(float *x, const float *g, const float *v, int64_t n, float coef, float decay,
                      float *mom, float beta1);
} tt_kernels;

#define TT_SUFFIX _base
#define TT_VW 8
#include "_fused_adafactor_kernels.h"
#undef TT_VW
#undef TT_SUFFIX

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define TT_SUFFIX _avx2
#define TT_VW 8
#define TT_HAVE_F16C 1
#include "_fused_adafactor_kernels.h"
#undef TT_HAVE_F16C
#undef TT_VW
#undef TT_SUFFIX
#pragma GCC pop_options

/* AVX-512 (F, VL, BW, DQ): 16 floats a vector, the loops the compiler vectorizes itself at 512 bits
 * too.  The kernels' arithmetic is the AVX2 build's; only the float32 sums' lanes differ. */
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c,prefer-vector-width=512")
#define TT_SUFFIX _avx512
#define TT_VW 16
#define TT_HAVE_F16C 1
#include "_fused_adafactor_kernels.h"
#undef TT_HAVE_F16C
#undef TT_VW
#undef TT_SUFFIX
#pragma GCC pop_options
#endif

/* The row kernels to run: the widest this CPU (and its OS: libgcc's check includes the saved register
 * state) runs, at most `limit` (TT_KERNELS_*: the tests and benchmarks compare them). */
#define TT_KERNELS_BEST 0
#define TT_KERNELS_BASELINE 1
#define TT_KERNELS_AVX2 2
static const tt_kernels *tt_pick(int limit) {
    static tt_kernels base = {load_base, store_base, sumsq_base, cols_rows_base, cols_flush_base,
                              fac_apply_base, fac_apply_rows_base, vec_stats_base, vec_apply_base};
#if defined(__x86_64__) && defined(__GNUC__)
    static tt_kernels avx2 = {load_avx2, store_avx2, sumsq_avx2, cols_rows_avx2, cols_flush_avx2,
                              fac_apply_avx2, fac_apply_rows_avx2, vec_stats_avx2, vec_apply_avx2};
    static tt_kernels avx512 = {load_avx512, store_avx512, sumsq_avx512, cols_rows_avx512, cols_flush_avx512,
                                fac_apply_avx512, fac_apply_rows_avx512, vec_stats_avx512, vec_apply_avx512};
    if (limit != TT_KERNELS_BASELINE) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c")) {
            if (limit == TT_KERNELS_BEST && __builtin_cpu_supports("avx512f") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq"))
                return &avx512;
            return &avx2;
        }
    }
#endif
    (void)limit;
    return &base;
}

/* Which row kernels run here under `limit`: "avx512", "avx2" or "baseline". */
const char *tt_adafactor_variant(int limit) {
    const tt_kernels *k = tt_pick(limit);
#if defined(__x86_64__) && defined(__GNUC__)
    if (k->load == load_avx512) return "avx512";
    if (k->load == load_avx2) return "avx2";
#endif
    return "baseline";
}

/* ------------------------------------------------------------------ the step */

/* The interface (declared again in build_fused_adafactor.py's cdef, filled by name from Python).
 * The step-size schedule is Python's: rho_t and 1 - beta2_t arrive per tensor, already computed. */
struct tt_adafactor_options {
    double eps2;           /* added to G^2 before the statistics */
    double eps_scale;      /* floor of RMS(X) in alpha_t */
    double clip_threshold; /* d of the update clipping */
    double beta1;          /* momentum; < 0: off */
    double weight_decay;   /* lambda of X -= lambda alpha_t X */
    int scale_parameter;   /* alpha_t = max(eps_scale, RMS(X)) rho_t; else rho_t */
    int maximize;          /* ascend */
    int nthreads;          /* threads to use (at most) */
    int kernels;           /* TT_KERNELS_*: the widest row kernels allowed (0: the best here) */
};

struct tt_adafactor_tensor {
    int64_t x, g, row, col, exp_avg; /* addresses: X, G, row (or v), col (0: rank <= 1), exp_avg (0: none) */
    int64_t batch, rows, cols;       /* cols 0 for rank <= 1: rows is then numel */
    int x_dtype, g_dtype;            /* TT_F32, TT_BF16, TT_F16 */
    double rho;                      /* rho_t of this tensor's step */
    double weight;                   /* 1 - beta2_t of this tensor's step */
    double xsq;                      /* ||X||^2 known from the previous step (< 0: compute it) */
    double xsq_out;                  /* written: ||X_new||^2 of the stored, rounded values */
};

typedef struct {
    float eps2, eps_scale, clip, beta1, wd;
    int scale, maximize, momentum;
} tt_hyper;

typedef struct {
    char *x, *g;
    float *row, *col, *mom;
    int64_t B, n, m, numel;
    int xdt, gdt;
    float rho, w;
    double xsq_in;
    int shared; /* done by all threads together */
} tt_tensor;

typedef struct {
    float *gbuf, *xbuf, *cacc, *wacc;
    double *acc;     /* the accumulators in use: column sums of G^2 (B*m), then of G^2 / r (B*m) */
    double *accs[2]; /* two sets, alternating between consecutive shared tensors */
    float *cf, *oldcol, *rmean;
    double *wpart;
    double part[2][4]; /* per-thread partial sums of the shared tensors, by parity: [0] and [2]
                        * ||X||^2 (a tt_dd's hi and lo), [1] ||U||^2 */
    char pad[64];
} tt_thread;

static void tt_hyper_of(tt_hyper *h, const struct tt_adafactor_options *o) {
    h->eps2 = (float)o->eps2;
    h->eps_scale = (float)o->eps_scale;
    h->clip = (float)o->clip_threshold;
    h->beta1 = (float)o->beta1;
    h->wd = (float)o->weight_decay;
    h->scale = o->scale_parameter != 0;
    h->maximize = o->maximize != 0;
    h->momentum = o->beta1 >= 0.0;
}

static void tt_unpack(tt_tensor *t, const struct tt_adafactor_tensor *in) {
    t->x = (char *)(uintptr_t)in->x;
    t->g = (char *)(uintptr_t)in->g;
    t->row = (float *)(uintptr_t)in->row;
    t->col = (float *)(uintptr_t)in->col;
    t->mom = (float *)(uintptr_t)in->exp_avg;
    t->B = in->batch;
    t->n = in->rows;
    t->m = in->cols;
    t->numel = t->m ? t->B * t->n * t->m : t->n;
    t->xdt = in->x_dtype;
    t->gdt = in->g_dtype;
    t->rho = (float)in->rho;
    t->w = (float)in->weight;
    t->xsq_in = in->xsq;
}

/* A float view of n elements at element offset off of a tensor: the memory itself for float32,
 * else converted into buf. */
static inline float *tt_view(const tt_kernels *K, char *base, int dt, int64_t off, int64_t n,
                             float *buf) {
    if (dt == TT_F32) return (float *)base + off;
    K->load(buf, base + off * 2, n, dt);
    return buf;
}

/* alpha_t, the scale of the update (sign, clipping, 1 - beta1) and the decay factor. */
static void tt_scalars(const tt_hyper *h, const tt_tensor *t, double xsq, double usq, float *coef,
                       float *decay) {
    double alpha = t->rho;
    if (h->scale) alpha = fmax((double)h->eps_scale, sqrt(xsq / (double)t->numel)) * (double)t->rho;
    float a = (float)alpha;
    float denom = fmaxf(1.0f, (float)(sqrt(usq / (double)t->numel) / (double)h->clip));
    float c = a / denom;
    if (h->momentum) c *= 1.0f - h->beta1;
    if (h->maximize) c = -c;
    *coef = c;
    *decay = h->wd > 0.0f ? 1.0f - h->wd * a : 1.0f;
}

/* ---- factored tensors: rows [lo, hi) of the flattened (B*n, m) view */

static tt_dd tt_fac_pass1(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                           tt_thread *th, int need_x) {
    const int64_t m = t->m, n = t->n;
    double *csum = th->acc, *wcol = th->acc + t->B * m;
    tt_dd xsq = {0.0, 0.0};
    int64_t rb = TT_ROWBLK;
    const int64_t gsz = t->gdt == TT_F32 ? 4 : 2;
    /* Blocks of rb rows start at lo and never cross a batch; within a block, groups of up to 4
     * rows: each row's sum of squares (its r_i), then the group's share of the column sums. */
    for (int64_t i0 = lo; i0 < hi;) {
        int64_t b = i0 / n, i1 = i0 + rb;
        if (i1 > hi) i1 = hi;
        if (i1 > (b + 1) * n) i1 = (b + 1) * n;
        for (int64_t k0 = i0; k0 < i1; k0 += 4) {
            int R = i1 - k0 < 4 ? (int)(i1 - k0) : 4;
            const float *grp = (const float *)(t->g + k0 * m * gsz);
            float iv[4];
            if (t->gdt != TT_F32) grp = th->gbuf;
            for (int r = 0; r < R; r++) {
                int64_t i = k0 + r;
                const char *src = t->g + i * m * gsz;
                if (t->gdt != TT_F32) K->load(th->gbuf + r * m, src, m, t->gdt);
                double s = K->sumsq(grp + r * m, m);
                float rv = tt_lerp(t->row[i], (float)(s / (double)m + (double)h->eps2), t->w);
                t->row[i] = rv;
                iv[r] = 1.0f / tt_fmax_min(rv);
                if (need_x) tt_dd_add(&xsq, K->sumsq(tt_view(K, t->x, t->xdt, i * m, m, th->xbuf), m));
            }
            K->cols_rows(grp, m, R, iv, th->cacc, th->wacc, k0 == i0);
        }
        K->cols_flush(th->cacc, th->wacc, csum + b * m, wcol + b * m, m);
        i0 = i1;
    }
    return xsq;
}

/* The column statistics of all B*m columns from nt per-thread accumulator sets (accumulators of
 * parity `set`, or each thread's current set when set < 0); the old column state is read from
 * oldcol and the new one written to newcol (which may be the same array, or NULL); cf gets
 * 1/sqrt(c) and wpart cf^2 * sum_i G_ij^2 / r_i. */
static void tt_fac_cols(const tt_hyper *h, const tt_tensor *t, tt_thread *ths, int nt, int set, const float *oldcol,
                        float *newcol, float *cf, double *wpart) {
    const int64_t BM = t->B * t->m;
    for (int64_t j = 0; j < BM; j++) {
        double cs = 0.0, wc = 0.0;
        for (int k = 0; k < nt; k++) {
            const double *a = set < 0 ? ths[k].acc : ths[k].accs[set];
            cs += a[j];
            wc += a[BM + j];
        }
        float c = tt_lerp(oldcol[j], (float)(cs / (double)t->n + (double)h->eps2), t->w);
        if (newcol) newcol[j] = c;
        float f = 1.0f / sqrtf(tt_fmax_min(c));
        cf[j] = f;
        wpart[j] = (double)f * (double)f * wc;
    }
}

/* mean(r_b), floored, per batch, and ||U||^2. */
static double tt_fac_middle(const tt_tensor *t, const double *wpart, float *rmean) {
    double usq = 0.0;
    for (int64_t b = 0; b < t->B; b++) {
        double rs = 0.0, ws = 0.0;
        const float *r = t->row + b * t->n;
        for (int64_t i = 0; i < t->n; i++) rs += r[i];
        const double *wp = wpart + b * t->m;
        for (int64_t j = 0; j < t->m; j++) ws += wp[j];
        float mean = tt_fmax_min((float)(rs / (double)t->n));
        rmean[b] = mean;
        usq += (double)mean * ws;
    }
    return usq;
}

static tt_dd tt_fac_pass2(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                          tt_thread *th, const float *cf, const float *rmean, float coef, float decay) {
    const int64_t m = t->m, n = t->n;
    tt_dd xsq = {0.0, 0.0};
    if (t->xdt == TT_F32 && t->gdt == TT_F32 && m % 32 == 0 && m < TT_SUMBLK) {
        /* short float32 rows: up to TT_ROWBLK rows of one batch per kernel call */
        float coefs[TT_ROWBLK];
        for (int64_t i0 = lo; i0 < hi;) {
            int64_t b = i0 / n, i1 = i0 + TT_ROWBLK;
            if (i1 > hi) i1 = hi;
            if (i1 > (b + 1) * n) i1 = (b + 1) * n;
            const float rm = rmean[b];
            for (int64_t i = i0; i < i1; i++) coefs[i - i0] = coef * (1.0f / sqrtf(tt_fmax_min(t->row[i] / rm)));
            K->fac_apply_rows((float *)t->x + i0 * m, (const float *)t->g + i0 * m, cf + b * m, m, i1 - i0, coefs,
                              decay, t->mom ? t->mom + i0 * m : NULL, h->beta1, &xsq);
            i0 = i1;
        }
        return xsq;
    }
    for (int64_t ii = lo; ii < hi; ii++) {
        int64_t i = ii;
        int64_t b = i / n;
        float rf = 1.0f / sqrtf(tt_fmax_min(t->row[i] / rmean[b]));
        const float *g = tt_view(K, t->g, t->gdt, i * m, m, th->gbuf);
        float *x = tt_view(K, t->x, t->xdt, i * m, m, th->xbuf);
        float *mom = t->mom ? t->mom + i * m : NULL;
        double sq = K->fac_apply(x, g, cf + b * m, m, coef * rf, decay, mom, h->beta1);
        if (t->xdt != TT_F32) {
            K->store(t->x + i * m * 2, x, m, t->xdt); /* the norm is of the rounded values */
            sq = K->sumsq(x, m);
        }
        tt_dd_add(&xsq, sq);
    }
    return xsq;
}

/* ---- rank <= 1 tensors: elements [lo, hi) */

static void tt_vec_pass1(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                         tt_thread *th, int need_x, tt_dd *xsq, double *usq) {
    tt_dd xs = {0.0, 0.0};
    double us = 0.0;
    for (int64_t o = lo; o < hi; o += TT_VCHUNK) {
        int64_t len = hi - o < TT_VCHUNK ? hi - o : TT_VCHUNK;
        const float *g = tt_view(K, t->g, t->gdt, o, len, th->gbuf);
        us += K->vec_stats(g, t->row + o, len, h->eps2, t->w, th->cacc);
        if (need_x) tt_dd_add(&xs, K->sumsq(tt_view(K, t->x, t->xdt, o, len, th->xbuf), len));
    }
    *xsq = xs;
    *usq = us;
}

static tt_dd tt_vec_pass2(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                          tt_thread *th, float coef, float decay) {
    tt_dd xsq = {0.0, 0.0};
    if (hi <= lo) return xsq;
    int64_t nblk = (hi - lo + TT_VCHUNK - 1) / TT_VCHUNK;
    for (int64_t k = nblk - 1; k >= 0; k--) {
        int64_t o = lo + k * TT_VCHUNK;
        int64_t len = hi - o < TT_VCHUNK ? hi - o : TT_VCHUNK;
        const float *g = tt_view(K, t->g, t->gdt, o, len, th->gbuf);
        float *x = tt_view(K, t->x, t->xdt, o, len, th->xbuf);
        K->vec_apply(x, g, t->row + o, len, coef, decay, t->mom ? t->mom + o : NULL, h->beta1);
        if (t->xdt != TT_F32) K->store(t->x + o * 2, x, len, t->xdt);
        tt_dd_add(&xsq, K->sumsq(x, len));
    }
    return xsq;
}

static inline void tt_range(int64_t total, int nt, int tid, int64_t *lo, int64_t *hi) {
    int64_t per = total / nt, extra = total % nt;
    *lo = tid * per + (tid < extra ? tid : extra);
    *hi = *lo + per + (tid < extra ? 1 : 0);
}

/* ------------------------------------------------------------------ one call */

/* Everything one call shares between its threads. */
typedef struct {
    const tt_kernels *K;
    tt_hyper h;
    int count, nt, nlarge; /* tensors, threads, shared tensors */
    tt_tensor *ts;
    tt_thread *ths;
    char *mem;      /* the threads' scratch */
    tt_dd *xpart;   /* [k * nt + tid]: a thread's share of ||X_new||^2 of tensor k */
    int *large;     /* the shared tensors, in order (nlarge of them) */
    int *order;     /* every tensor, largest first */
    int *next;      /* the next entry of order that a thread takes (whole tensors) */
} tt_step;

/* The sizes that the per-thread scratch is cut for. */
typedef struct {
    int64_t maxrow, maxbm, maxb, total, gsize;
    int nlarge; /* tensors of more than TT_LARGE elements */
    size_t per_thread;
} tt_sizes;

static void tt_measure(tt_tensor *ts, int count, const struct tt_adafactor_tensor *in, tt_sizes *z) {
    z->maxrow = TT_VCHUNK;
    z->maxbm = z->maxb = 1;
    z->total = 0;
    z->nlarge = 0;
    for (int k = 0; k < count; k++) {
        tt_tensor *t = &ts[k];
        tt_unpack(t, &in[k]);
        z->total += t->numel;
        if (t->numel > TT_LARGE) z->nlarge++;
        if (t->m) {
            if (t->m > z->maxrow) z->maxrow = t->m;
            if (t->B * t->m > z->maxbm) z->maxbm = t->B * t->m;
            if (t->B > z->maxb) z->maxb = t->B;
        }
    }
    /* Per thread: a block of G rows, an X row, float column sums of a block, 2 sets of 2*maxbm
     * double accumulators, cf, old col, wpart (maxbm each) and rmean (maxb). */
    z->gsize = 4 * z->maxrow > TT_BLOCK ? 4 * z->maxrow : TT_BLOCK;
    size_t per_thread = (size_t)z->maxbm * 5 * sizeof(double) +
                        (size_t)(z->gsize + 3 * z->maxrow) * sizeof(float) +
                        (size_t)z->maxbm * 2 * sizeof(float) + (size_t)z->maxb * sizeof(float) + 256;
    z->per_thread = (per_thread + 63) & ~(size_t)63;
}

static int tt_thread_count(int nthreads, int count, const tt_sizes *z) {
    int nt = nthreads < 1 ? 1 : nthreads;
    if (nt > 256) nt = 256;
    if (z->total < 32768) nt = 1;
    if (nt > count && z->nlarge == 0) nt = count > 0 ? count : 1;
    return nt;
}

/* A thread's scratch, cut from its share p of the memory. */
static void tt_carve(tt_thread *th, char *p, const tt_sizes *z) {
    th->accs[0] = (double *)p;
    th->accs[1] = th->accs[0] + 2 * z->maxbm;
    th->acc = th->accs[0];
    th->wpart = th->accs[1] + 2 * z->maxbm;
    th->gbuf = (float *)(th->wpart + z->maxbm);
    th->xbuf = th->gbuf + z->gsize;
    th->cacc = th->xbuf + z->maxrow;
    th->wacc = th->cacc + z->maxrow;
    th->cf = th->wacc + z->maxrow;
    th->oldcol = th->cf + z->maxbm;
    th->rmean = th->oldcol + z->maxbm;
}

/* A tensor is shared by all threads only when it alone is most of the group (TT_SHARE); every
 * other tensor is done whole by one thread, largest first, with no barrier: a barrier waits for
 * the slowest thread, and on a busy machine that is a thread the OS took the core from (measured
 * on 2 shared cores: a shared 8192x256 tensor took 3-4x as long as one thread). */
static void tt_schedule(tt_step *s, int64_t total) {
    tt_tensor *ts = s->ts;
    s->nlarge = 0;
    for (int k = 0; k < s->count; k++) {
        ts[k].shared = s->nt > 1 && ts[k].numel > TT_LARGE && (double)ts[k].numel > TT_SHARE * (double)total;
        if (ts[k].shared) s->large[s->nlarge++] = k;
        s->order[k] = k;
    }
    for (int a = 1; a < s->count; a++) { /* largest first (insertion sort: groups are short) */
        int k = s->order[a], b = a - 1;
        while (b >= 0 && ts[s->order[b]].numel < ts[k].numel) {
            s->order[b + 1] = s->order[b];
            b--;
        }
        s->order[b + 1] = k;
    }
}

/* Unpack the tensors, size and get the scratch, plan the work: 0, or -1 when memory could not
 * be had (then nothing was changed; tt_teardown frees what was had). */
static int tt_setup(tt_step *s, int count, const struct tt_adafactor_tensor *in,
                    const struct tt_adafactor_options *o) {
    size_t n = (size_t)(count > 0 ? count : 1);
    tt_sizes z;
    memset(s, 0, sizeof *s);
    s->K = tt_pick(o->kernels);
    tt_hyper_of(&s->h, o);
    s->count = count;
    s->ts = (tt_tensor *)malloc(sizeof(tt_tensor) * n);
    int ok = s->ts != NULL;
    if (ok) {
        tt_measure(s->ts, count, in, &z);
        s->nt = tt_thread_count(o->nthreads, count, &z);
        s->mem = (char *)malloc(z.per_thread * (size_t)s->nt);
        s->ths = (tt_thread *)calloc((size_t)s->nt, sizeof(tt_thread));
        s->xpart = (tt_dd *)calloc((size_t)s->nt * n, sizeof(tt_dd));
        s->large = (int *)malloc(sizeof(int) * (n * 2 + 1));
        ok = s->mem && s->ths && s->xpart && s->large;
    }
    if (ok) {
        for (int k = 0; k < s->nt; k++) tt_carve(&s->ths[k], s->mem + z.per_thread * (size_t)k, &z);
        s->order = s->large + count;
        s->next = s->order + count;
        *s->next = 0;
        tt_schedule(s, z.total);
    }
    return ok ? 0 : -1;
}

static void tt_teardown(tt_step *s) {
    free(s->large);
    free(s->xpart);
    free(s->mem);
    free(s->ths);
    free(s->ts);
}

/* ---- shared tensors: one barrier each, software-pipelined.
 *
 * Every thread does its rows of pass 1 of tensor k (keeping a copy of the old column state)
 * interleaved with its rows of pass 2 of tensor k-1, so that the single read stream of pass 1 runs
 * beside the streams of pass 2 (one core alone cannot fill the memory bus from one stream). After
 * the barrier each thread derives the column statistics, RMS(U) and the scalars of tensor k itself
 * from everyone's accumulators (tid 0 alone writes the column state). Accumulators alternate
 * between two sets, so a thread that runs ahead never clears what a slower one still reads. */

typedef struct {
    tt_tensor *t; /* the shared tensor whose pass 2 is pending (NULL: none) */
    int k;
    int64_t lo, hi; /* this thread's rows (or elements) of it */
    float coef, decay;
} tt_pending;

/* This thread's share of a shared tensor: whole rows (factored) or blocks of TT_VCHUNK elements,
 * and the unit of work that the pipeline takes at a time. */
static void tt_share(const tt_tensor *t, int nth, int tid, int64_t *lo, int64_t *hi, int64_t *unit) {
    if (t->m) {
        tt_range(t->B * t->n, nth, tid, lo, hi);
        int64_t u = TT_BLOCK / t->m;
        *unit = u < 1 ? 1 : u > TT_ROWBLK ? TT_ROWBLK : u;
    } else {
        int64_t nblk = (t->n + TT_VCHUNK - 1) / TT_VCHUNK, blo, bhi;
        tt_range(nblk, nth, tid, &blo, &bhi);
        *lo = blo * TT_VCHUNK;
        *hi = bhi * TT_VCHUNK < t->n ? bhi * TT_VCHUNK : t->n;
        if (*lo > *hi) *lo = *hi;
        *unit = TT_VCHUNK;
    }
}

static void tt_pass1_part(const tt_step *s, tt_tensor *t, int64_t a, int64_t b, tt_thread *th, int need_x,
                          tt_dd *xs, double *us) {
    if (t->m) {
        tt_dd_merge(xs, tt_fac_pass1(s->K, &s->h, t, a, b, th, need_x));
    } else {
        tt_dd px;
        double pu;
        tt_vec_pass1(s->K, &s->h, t, a, b, th, need_x, &px, &pu);
        tt_dd_merge(xs, px);
        *us += pu;
    }
}

static tt_dd tt_pass2_part(const tt_step *s, const tt_pending *p, int64_t a, int64_t b, tt_thread *th) {
    if (p->t->m) return tt_fac_pass2(s->K, &s->h, p->t, a, b, th, th->cf, th->rmean, p->coef, p->decay);
    return tt_vec_pass2(s->K, &s->h, p->t, a, b, th, p->coef, p->decay);
}

/* Pass 1 of [lo1, hi1) of t (none when t is NULL) interleaved with pass 2 of this thread's part of
 * the pending tensor, back to front (fwd: front to back); the sums of pass 1 go to xs and us, and
 * the result is ||X_new||^2 of the pending part. */
static tt_dd tt_interleave(const tt_step *s, tt_thread *th, tt_tensor *t, int need_x, int64_t lo1,
                           int64_t hi1, int64_t unit, const tt_pending *prev, tt_dd *xs, double *us, int fwd) {
    const int64_t n1 = hi1 - lo1, n2 = prev->t ? prev->hi - prev->lo : 0;
    int64_t done1 = 0, done2 = 0;
    tt_dd x2 = {0.0, 0.0};
    while (done1 < n1 || done2 < n2) {
        if (done1 < n1) {
            int64_t c = n1 - done1 < unit ? n1 - done1 : unit;
            tt_pass1_part(s, t, lo1 + done1, lo1 + done1 + c, th, need_x, xs, us);
            done1 += c;
        }
        int64_t target = done1 >= n1 ? n2 : (int64_t)((double)done1 / (double)n1 * (double)n2);
        if (target > done2) {
            tt_dd_merge(&x2, fwd ? tt_pass2_part(s, prev, prev->lo + done2, prev->lo + target, th)
                                 : tt_pass2_part(s, prev, prev->hi - target, prev->hi - done2, th));
            done2 = target;
        }
    }
    return x2;
}

/* After the barrier: alpha_t's and the clipping's inputs of shared tensor t from every thread's
 * partial sums, then its scalars. */
static void tt_shared_scalars(const tt_step *s, tt_tensor *t, tt_thread *th, int tid, int nth, int parity,
                              int need_x, float *coef, float *decay) {
    double xsq = t->xsq_in, usq = 0.0;
    if (need_x) {
        tt_dd xs = {0.0, 0.0};
        for (int r = 0; r < nth; r++) tt_dd_merge(&xs, (tt_dd){s->ths[r].part[parity][0], s->ths[r].part[parity][2]});
        xsq = tt_dd_value(xs);
    }
    if (t->m) {
        tt_fac_cols(&s->h, t, s->ths, nth, parity, th->oldcol, tid == 0 ? t->col : NULL, th->cf, th->wpart);
        usq = tt_fac_middle(t, th->wpart, th->rmean);
    } else {
        for (int r = 0; r < nth; r++) usq += s->ths[r].part[parity][1];
    }
    tt_scalars(&s->h, t, xsq, usq, coef, decay);
}

/* This thread's part of every shared tensor; returns the parity of the accumulator set to use next. */
static int tt_run_shared(const tt_step *s, tt_thread *th, int tid, int nth) {
    int parity = 0;
    tt_pending prev = {NULL, -1, 0, 0, 0.0f, 1.0f};
    for (int q = 0; q <= s->nlarge; q++) {
        tt_tensor *t = q < s->nlarge ? &s->ts[s->large[q]] : NULL;
        int need_x = t && s->h.scale && t->xsq_in < 0.0;
        int64_t lo1 = 0, hi1 = 0, unit = 1;
        if (t) {
            if (t->m) {
                th->acc = th->accs[parity];
                memset(th->acc, 0, sizeof(double) * 2 * (size_t)(t->B * t->m));
            }
            tt_share(t, nth, tid, &lo1, &hi1, &unit);
        }
        tt_dd xs = {0.0, 0.0};
        double us = 0.0;
        tt_dd x2 = tt_interleave(s, th, t, need_x, lo1, hi1, unit, &prev, &xs, &us, 0);
        if (prev.t) s->xpart[(size_t)prev.k * s->nt + tid] = x2;
        if (t) {
            th->part[parity][0] = xs.hi;
            th->part[parity][2] = xs.lo;
            th->part[parity][1] = us;
            if (t->m) memcpy(th->oldcol, t->col, sizeof(float) * (size_t)(t->B * t->m));
#pragma omp barrier
            tt_shared_scalars(s, t, th, tid, nth, parity, need_x, &prev.coef, &prev.decay);
            prev.t = t;
            prev.k = s->large[q];
            prev.lo = lo1;
            prev.hi = hi1;
            parity ^= 1;
        }
    }
    return parity;
}

/* The whole tensors that a thread takes (largest first, each from a shared counter), pipelined as
 * the shared ones: pass 1 of the tensor it takes interleaved with pass 2 (front to back) of the one
 * it took before, whose G it has just read (so mostly from the cache), unless that one is larger
 * than TT_PIPEMAX. No barrier. */
static void tt_run_whole(const tt_step *s, tt_thread *th, int tid) {
    tt_pending prev = {NULL, -1, 0, 0, 0.0f, 1.0f};
    for (;;) {
        tt_tensor *t = NULL;
        int q, k = -1;
        while ((q = __atomic_fetch_add(s->next, 1, __ATOMIC_RELAXED)) < s->count) {
            k = s->order[q];
            if (!s->ts[k].shared) {
                t = &s->ts[k];
                break;
            }
        }
        int need_x = t && s->h.scale && t->xsq_in < 0.0;
        int64_t hi1 = 0, unit = 1, lo1;
        if (t) {
            if (t->m) memset(th->acc, 0, sizeof(double) * 2 * (size_t)(t->B * t->m));
            tt_share(t, 1, 0, &lo1, &hi1, &unit);
            unit *= 8; /* larger pieces than the shared tensors' (measured: 6-9 % faster steps) */
        }
        tt_dd xs = {0.0, 0.0};
        double us = 0.0;
        /* A large tensor's pass 2 alone, back to front in blocks of TT_BACKBLK elements: the rows
         * that pass 1 read last are still in the cache (front to back, a tensor larger than the
         * cache finds none of its G there; blocks of 16 KB instead defeat the hardware prefetcher). */
        if (prev.t && prev.t->numel > TT_PIPEMAX) {
            int64_t rb = prev.t->m ? TT_BACKBLK / prev.t->m : TT_BACKBLK;
            tt_dd x2s = {0.0, 0.0};
            rb = rb < 1 ? 1 : rb;
            for (int64_t hi = prev.hi; hi > 0; hi -= rb)
                tt_dd_merge(&x2s, tt_pass2_part(s, &prev, hi > rb ? hi - rb : 0, hi, th));
            s->xpart[(size_t)prev.k * s->nt + tid] = x2s;
            prev.t = NULL;
        }
        tt_dd x2 = tt_interleave(s, th, t, need_x, 0, hi1, unit, &prev, &xs, &us, 1);
        if (prev.t) s->xpart[(size_t)prev.k * s->nt + tid] = x2;
        if (!t) return;
        double xsq = need_x ? tt_dd_value(xs) : t->xsq_in;
        if (t->m) {
            tt_fac_cols(&s->h, t, th, 1, -1, t->col, t->col, th->cf, th->wpart);
            us = tt_fac_middle(t, th->wpart, th->rmean);
        }
        tt_scalars(&s->h, t, xsq, us, &prev.coef, &prev.decay);
        prev.t = t;
        prev.k = k;
        prev.lo = 0;
        prev.hi = hi1;
    }
}

/* One thread's work: its parts of the shared tensors, then whole tensors, largest first. */
static void tt_run_thread(const tt_step *s, int tid, int nth) {
    tt_thread *th = &s->ths[tid];
    int parity = tt_run_shared(s, th, tid, nth);
    th->acc = th->accs[parity];
    tt_run_whole(s, th, tid);
}

/* Every tensor of a parameter group in one call. Returns 0 (each tensors[k].xsq_out written), or
 * -1 when memory for the scratch buffers could not be had (nothing was changed). */
int tt_adafactor_step(int count, struct tt_adafactor_tensor *tensors, const struct tt_adafactor_options *options) {
    tt_step s;
    int rc = tt_setup(&s, count, tensors, options);
    if (rc == 0) {
#pragma omp parallel num_threads(s.nt)
        {
            int tid = 0, nth = 1;
#ifdef _OPENMP
            tid = omp_get_thread_num();
            nth = omp_get_num_threads();
#endif
            tt_run_thread(&s, tid, nth);
        }
        for (int k = 0; k < count; k++) {
            tt_dd x = {0.0, 0.0};
            for (int q = 0; q < s.nt; q++) tt_dd_merge(&x, s.xpart[(size_t)k * s.nt + q]);
            tensors[k].xsq_out = tt_dd_value(x);
        }
    }
    tt_teardown(&s);
    return rc;
}

/* The planned step (fused.py's plan): the tensors hold everything but the gradients' addresses,
 * given in grads, and the schedule: one rho_t and 1 - beta2_t for all (rho < 0: each tensor's own,
 * already in its struct).  As tt_adafactor_step; on success each tensor's xsq also becomes the
 * ||X_new||^2 just written (the next step's known norm). */
int tt_adafactor_step_planned(int count, struct tt_adafactor_tensor *tensors, const int64_t *grads, double rho,
                              double weight, const struct tt_adafactor_options *options) {
    for (int k = 0; k < count; k++) {
        tensors[k].g = grads[k];
        if (rho >= 0.0) {
            tensors[k].rho = rho;
            tensors[k].weight = weight;
        }
    }
    int rc = tt_adafactor_step(count, tensors, options);
    if (rc == 0)
        for (int k = 0; k < count; k++) tensors[k].xsq = tensors[k].xsq_out;
    return rc;
}
