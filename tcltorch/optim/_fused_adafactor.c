/* Fused CPU step of tcltorch.optim.Adafactor: every tensor of a parameter group in one call.
 *
 * The maths is docs/adafactor.md (and the docstring of tcltorch/optim/adafactor.py), in float32
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
 * A tensor is done whole by one thread (largest first, no barrier), unless it alone is most of the
 * group (TT_SHARE, and more than TT_LARGE elements): then all threads share it (contiguous row
 * ranges, one barrier).  No temporary is larger
 * than four rows (or TT_VCHUNK elements) per thread plus B*m doubles per thread.
 *
 * The row kernels (GCC vector extensions, 8 floats wide) are compiled twice, for baseline x86-64
 * and for AVX2+FMA+F16C (GCC target pragmas), and chosen at run time: the build never uses
 * -march=native.
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
#define TT_BLOCK 16384      /* elements per block of rows whose column sums pass 1 adds in float32 */
#define TT_ROWBLK 32        /* at most this many rows per block: float32 column sums stay short */
#define TT_SUMBLK 256       /* elements per float32 block of a sum of squares */

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

static inline float tt_lerp(float self, float end, float w) {  /* torch's CPU lerp */
    return fabsf(w) < 0.5f ? self + w * (end - self) : end - (end - self) * (1.0f - w);
}

/* ------------------------------------------------------------------ row kernels (two builds) */

/* GCC vector types: 8 floats, 4 doubles (one AVX2 register, or two SSE registers in the baseline
 * build); loads and stores through memcpy, so no alignment is assumed. */
typedef float tt_v8 __attribute__((vector_size(32)));
typedef double tt_d4 __attribute__((vector_size(32)));
#define tt_lo(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 0, 1, 2, 3), tt_d4)
#define tt_hi(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 4, 5, 6, 7), tt_d4)
#define tt_ld(p)                         \
    __extension__({                      \
        tt_v8 v_;                        \
        memcpy(&v_, (p), sizeof v_);     \
        v_;                              \
    })
#define tt_st(p, v)                      \
    do {                                 \
        tt_v8 s_ = (v);                  \
        memcpy((p), &s_, sizeof s_);     \
    } while (0)

typedef struct {
    void (*load)(float *dst, const void *src, int64_t n, int dt);
    void (*store)(void *dst, float *src, int64_t n, int dt); /* src keeps the rounded values */
    double (*sumsq)(const float *a, int64_t n);
    void (*cols_rows)(const float *g, int64_t m, int R, const float *iv, float *cacc, float *wacc, int first);
    void (*cols_flush)(const float *cacc, const float *wacc, double *csum, double *wcol, int64_t m);
    double (*fac_apply)(float *x, const float *g, const float *cf, int64_t n, float coef, float decay,
                      float *mom, float beta1);
    double (*vec_stats)(const float *g, float *v, int64_t n, float eps2, float w, float *ubuf);
    void (*vec_apply)(float *x, const float *g, const float *v, int64_t n, float coef, float decay,
                      float *mom, float beta1);
} tt_kernels;

#define TT_SUFFIX _base
#include "_fused_adafactor_kernels.h"
#undef TT_SUFFIX

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#define TT_SUFFIX _avx2
#define TT_HAVE_F16C 1
#include "_fused_adafactor_kernels.h"
#undef TT_HAVE_F16C
#undef TT_SUFFIX
#pragma GCC pop_options
#endif

static const tt_kernels *tt_pick(int force_baseline) {
    static tt_kernels base = {load_base, store_base, sumsq_base, cols_rows_base, cols_flush_base,
                              fac_apply_base, vec_stats_base, vec_apply_base};
#if defined(__x86_64__) && defined(__GNUC__)
    static tt_kernels avx2 = {load_avx2, store_avx2, sumsq_avx2, cols_rows_avx2, cols_flush_avx2,
                              fac_apply_avx2, vec_stats_avx2, vec_apply_avx2};
    if (!force_baseline) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c"))
            return &avx2;
    }
#endif
    (void)force_baseline;
    return &base;
}

/* Which row kernels run here: "avx2" or "baseline". */
const char *tt_adafactor_variant(int force_baseline) {
    return tt_pick(force_baseline)->load == load_base ? "baseline" : "avx2";
}

/* ------------------------------------------------------------------ the step */

/* Per tensor k:
 *   ptrs[5k..]  X, G, row (or v), col (0 for rank <= 1), exp_avg (0 without momentum)
 *   meta[5k..]  batch, rows, cols (0 for rank <= 1: rows is then numel), dtypes (X | G << 4), step
 *   xsq_in[k]   ||X||^2 known from the previous step (< 0: compute it)
 *   out[k]      ||X_new||^2 after the step (the stored, rounded values)
 * hyper: lr, exponent c, eps2, eps_scale, clip_threshold, beta1 (< 0 off), weight_decay,
 *        relative_step, scale_parameter, warmup_init, maximize  (booleans as 0/1)
 */
typedef struct {
    float eps2, eps_scale, clip, beta1, wd;
    double lr, expo;
    int relative, scale, warmup, maximize, momentum;
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
    double part[2][4]; /* per-thread partial sums of the shared tensors, by parity */
    char pad[64];
} tt_thread;

static void tt_unpack(tt_tensor *t, const int64_t *ptrs, const int64_t *meta, const double *xsq_in,
                      const tt_hyper *h, int k) {
    t->x = (char *)(uintptr_t)ptrs[5 * k];
    t->g = (char *)(uintptr_t)ptrs[5 * k + 1];
    t->row = (float *)(uintptr_t)ptrs[5 * k + 2];
    t->col = (float *)(uintptr_t)ptrs[5 * k + 3];
    t->mom = (float *)(uintptr_t)ptrs[5 * k + 4];
    t->B = meta[5 * k];
    t->n = meta[5 * k + 1];
    t->m = meta[5 * k + 2];
    t->numel = t->m ? t->B * t->n * t->m : t->n;
    t->xdt = (int)(meta[5 * k + 3] & 15);
    t->gdt = (int)((meta[5 * k + 3] >> 4) & 15);
    double step = (double)meta[5 * k + 4];
    double rho = h->lr;
    if (h->relative) {
        rho = fmin(h->lr, 1.0 / sqrt(step));
        if (h->warmup) rho = fmin(rho, 1e-6 * step);
    }
    t->rho = (float)rho;
    t->w = (float)pow(step, -h->expo);
    t->xsq_in = xsq_in[k];
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

static double tt_fac_pass1(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                           tt_thread *th, int need_x) {
    const int64_t m = t->m, n = t->n;
    double *csum = th->acc, *wcol = th->acc + t->B * m, xsq = 0.0;
    int64_t rb = TT_BLOCK / m;
    rb = rb < 1 ? 1 : rb > TT_ROWBLK ? TT_ROWBLK : rb;
    const int64_t gsz = t->gdt == TT_F32 ? 4 : 2;
    /* Software prefetch of G about one group of rows ahead (8-16 KB): the hardware prefetcher
     * alone leaves memory idle while a group's column sums are computed (measured: -13 % time). */
    int64_t pfd = 4 * m * gsz;
    pfd = pfd < 8192 ? 8192 : pfd > 16384 ? 16384 : pfd;
    const char *gend = t->g + hi * m * gsz;
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
                for (int64_t o = 0; o < m * gsz && src + pfd + o < gend; o += 64)
                    __builtin_prefetch(src + pfd + o);
                if (t->gdt != TT_F32) K->load(th->gbuf + r * m, src, m, t->gdt);
                double s = K->sumsq(grp + r * m, m);
                float rv = tt_lerp(t->row[i], (float)(s / (double)m + (double)h->eps2), t->w);
                t->row[i] = rv;
                iv[r] = 1.0f / fmaxf(rv, FLT_MIN);
                if (need_x) xsq += K->sumsq(tt_view(K, t->x, t->xdt, i * m, m, th->xbuf), m);
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
        float f = 1.0f / sqrtf(fmaxf(c, FLT_MIN));
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
        float mean = fmaxf((float)(rs / (double)t->n), FLT_MIN);
        rmean[b] = mean;
        usq += (double)mean * ws;
    }
    return usq;
}

static double tt_fac_pass2(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                           tt_thread *th, const float *cf, const float *rmean, float coef, float decay) {
    const int64_t m = t->m, n = t->n;
    double xsq = 0.0;
    for (int64_t ii = lo; ii < hi; ii++) {
        int64_t i = ii;
        int64_t b = i / n;
        float rf = 1.0f / sqrtf(fmaxf(t->row[i] / rmean[b], FLT_MIN));
        const float *g = tt_view(K, t->g, t->gdt, i * m, m, th->gbuf);
        float *x = tt_view(K, t->x, t->xdt, i * m, m, th->xbuf);
        float *mom = t->mom ? t->mom + i * m : NULL;
        double sq = K->fac_apply(x, g, cf + b * m, m, coef * rf, decay, mom, h->beta1);
        if (t->xdt != TT_F32) {
            K->store(t->x + i * m * 2, x, m, t->xdt); /* the norm is of the rounded values */
            sq = K->sumsq(x, m);
        }
        xsq += sq;
    }
    return xsq;
}

/* ---- rank <= 1 tensors: elements [lo, hi) */

static void tt_vec_pass1(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                         tt_thread *th, int need_x, double *xsq, double *usq) {
    double xs = 0.0, us = 0.0;
    for (int64_t o = lo; o < hi; o += TT_VCHUNK) {
        int64_t len = hi - o < TT_VCHUNK ? hi - o : TT_VCHUNK;
        const float *g = tt_view(K, t->g, t->gdt, o, len, th->gbuf);
        us += K->vec_stats(g, t->row + o, len, h->eps2, t->w, th->cacc);
        if (need_x) xs += K->sumsq(tt_view(K, t->x, t->xdt, o, len, th->xbuf), len);
    }
    *xsq = xs;
    *usq = us;
}

static double tt_vec_pass2(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, int64_t lo, int64_t hi,
                           tt_thread *th, float coef, float decay) {
    double xsq = 0.0;
    if (hi <= lo) return 0.0;
    int64_t nblk = (hi - lo + TT_VCHUNK - 1) / TT_VCHUNK;
    for (int64_t k = nblk - 1; k >= 0; k--) {
        int64_t o = lo + k * TT_VCHUNK;
        int64_t len = hi - o < TT_VCHUNK ? hi - o : TT_VCHUNK;
        const float *g = tt_view(K, t->g, t->gdt, o, len, th->gbuf);
        float *x = tt_view(K, t->x, t->xdt, o, len, th->xbuf);
        K->vec_apply(x, g, t->row + o, len, coef, decay, t->mom ? t->mom + o : NULL, h->beta1);
        if (t->xdt != TT_F32) K->store(t->x + o * 2, x, len, t->xdt);
        xsq += K->sumsq(x, len);
    }
    return xsq;
}

/* ---- one tensor by one thread */

static double tt_whole(const tt_kernels *K, const tt_hyper *h, tt_tensor *t, tt_thread *th, float *cf,
                       double *wpart, float *rmean) {
    int need_x = h->scale && t->xsq_in < 0.0;
    double xsq = t->xsq_in, usq;
    float coef, decay;
    if (t->m) {
        memset(th->acc, 0, sizeof(double) * 2 * (size_t)(t->B * t->m));
        double xs = tt_fac_pass1(K, h, t, 0, t->B * t->n, th, need_x);
        if (need_x) xsq = xs;
        tt_fac_cols(h, t, th, 1, -1, t->col, t->col, cf, wpart);
        usq = tt_fac_middle(t, wpart, rmean);
        tt_scalars(h, t, xsq, usq, &coef, &decay);
        return tt_fac_pass2(K, h, t, 0, t->B * t->n, th, cf, rmean, coef, decay);
    }
    double xs;
    tt_vec_pass1(K, h, t, 0, t->n, th, need_x, &xs, &usq);
    if (need_x) xsq = xs;
    tt_scalars(h, t, xsq, usq, &coef, &decay);
    return tt_vec_pass2(K, h, t, 0, t->n, th, coef, decay);
}

static inline void tt_range(int64_t total, int nt, int tid, int64_t *lo, int64_t *hi) {
    int64_t per = total / nt, extra = total % nt;
    *lo = tid * per + (tid < extra ? tid : extra);
    *hi = *lo + per + (tid < extra ? 1 : 0);
}

/* Returns 0, or -1 when memory for the scratch buffers could not be had (nothing was changed). */
int tt_adafactor_step(int count, const int64_t *ptrs, const int64_t *meta, const double *xsq_in,
                      const double *hyper, double *out, int nthreads, int force_baseline) {
    const tt_kernels *K = tt_pick(force_baseline);
    tt_hyper h;
    h.lr = hyper[0];
    h.expo = hyper[1];
    h.eps2 = (float)hyper[2];
    h.eps_scale = (float)hyper[3];
    h.clip = (float)hyper[4];
    h.beta1 = (float)hyper[5];
    h.wd = (float)hyper[6];
    h.relative = hyper[7] != 0.0;
    h.scale = hyper[8] != 0.0;
    h.warmup = hyper[9] != 0.0;
    h.maximize = hyper[10] != 0.0;
    h.momentum = hyper[5] >= 0.0;

    tt_tensor *ts = (tt_tensor *)malloc(sizeof(tt_tensor) * (size_t)(count > 0 ? count : 1));
    if (!ts) return -1;
    int64_t maxrow = TT_VCHUNK, maxbm = 1, maxb = 1, total = 0;
    int nlarge = 0;
    for (int k = 0; k < count; k++) {
        tt_unpack(&ts[k], ptrs, meta, xsq_in, &h, k);
        tt_tensor *t = &ts[k];
        total += t->numel;
        if (t->numel > TT_LARGE) nlarge++;
        if (t->m) {
            if (t->m > maxrow) maxrow = t->m;
            if (t->B * t->m > maxbm) maxbm = t->B * t->m;
            if (t->B > maxb) maxb = t->B;
        }
    }
    int nt = nthreads < 1 ? 1 : nthreads;
    if (nt > 256) nt = 256;
    if (total < 32768) nt = 1;
    if (nt > count && nlarge == 0) nt = count > 0 ? count : 1;

    /* Scratch per thread: a block of G rows, an X row, float column sums of a block, 2 sets of
     * 2*maxbm double accumulators, cf, old col, wpart (maxbm each) and rmean (maxb). */
    int64_t gsize = 4 * maxrow > TT_BLOCK ? 4 * maxrow : TT_BLOCK;
    size_t per_thread = (size_t)maxbm * 5 * sizeof(double) + (size_t)(gsize + 3 * maxrow) * sizeof(float) +
                        (size_t)maxbm * 2 * sizeof(float) + (size_t)maxb * sizeof(float) + 256;
    per_thread = (per_thread + 63) & ~(size_t)63;
    char *mem = (char *)malloc(per_thread * (size_t)nt);
    tt_thread *ths = (tt_thread *)calloc((size_t)nt, sizeof(tt_thread));
    double *xpart = (double *)calloc((size_t)nt * (size_t)(count > 0 ? count : 1), sizeof(double));
    if (!mem || !ths || !xpart) {
        free(mem);
        free(ths);
        free(xpart);
        free(ts);
        return -1;
    }
    for (int k = 0; k < nt; k++) {
        char *p = mem + per_thread * (size_t)k;
        tt_thread *th = &ths[k];
        th->accs[0] = (double *)p;
        th->accs[1] = th->accs[0] + 2 * maxbm;
        th->acc = th->accs[0];
        th->wpart = th->accs[1] + 2 * maxbm;
        th->gbuf = (float *)(th->wpart + maxbm);
        th->xbuf = th->gbuf + gsize;
        th->cacc = th->xbuf + maxrow;
        th->wacc = th->cacc + maxrow;
        th->cf = th->wacc + maxrow;
        th->oldcol = th->cf + maxbm;
        th->rmean = th->oldcol + maxbm;
    }

    /* Shared tensors: one barrier each, software-pipelined. Every thread does its rows of pass 1
     * of tensor k (keeping a copy of the old column state) interleaved with its rows of pass 2 of
     * tensor k-1, so that the single read stream of pass 1 runs beside the streams of pass 2
     * (one core alone cannot fill the memory bus from one stream). After the barrier each thread
     * derives the column statistics, RMS(U) and the scalars of tensor k itself from everyone's
     * accumulators (tid 0 alone writes the column state). Accumulators alternate between two
     * sets, so a thread that runs ahead never clears what a slower one still reads. */
    int *large = (int *)malloc(sizeof(int) * (size_t)(count > 0 ? count : 1) * 2);
    if (!large) {
        free(mem);
        free(ths);
        free(xpart);
        free(ts);
        return -1;
    }
    /* A tensor is shared by all threads only when it alone is most of the group (TT_SHARE); every
     * other tensor is done whole by one thread, largest first, with no barrier: a barrier waits
     * for the slowest thread, and on a busy machine that is a thread the OS took the core from
     * (measured on 2 shared cores: a shared 8192x256 tensor took 3-4x as long as one thread). */
    int *order = large + count;
    nlarge = 0;
    for (int k = 0; k < count; k++) {
        ts[k].shared = nt > 1 && ts[k].numel > TT_LARGE && (double)ts[k].numel > TT_SHARE * (double)total;
        if (ts[k].shared) large[nlarge++] = k;
        order[k] = k;
    }
    for (int a = 1; a < count; a++) { /* largest first (insertion sort: groups are short) */
        int k = order[a], b = a - 1;
        while (b >= 0 && ts[order[b]].numel < ts[k].numel) {
            order[b + 1] = order[b];
            b--;
        }
        order[b + 1] = k;
    }
#pragma omp parallel num_threads(nt)
    {
        int tid = 0, nth = 1;
#ifdef _OPENMP
        tid = omp_get_thread_num();
        nth = omp_get_num_threads();
#endif
        tt_thread *th = &ths[tid];
        int parity = 0;
        tt_tensor *prev = NULL; /* the tensor whose pass 2 is pending */
        int prev_k = -1;
        int64_t lo2 = 0, hi2 = 0;
        float coef = 0.0f, decay = 1.0f;
        for (int q = 0; q <= nlarge; q++) {
            tt_tensor *t = q < nlarge ? &ts[large[q]] : NULL;
            int need_x = t && h.scale && t->xsq_in < 0.0;
            int64_t lo1 = 0, hi1 = 0, unit = 1;
            if (t) {
                if (t->m) {
                    th->acc = th->accs[parity];
                    memset(th->acc, 0, sizeof(double) * 2 * (size_t)(t->B * t->m));
                    tt_range(t->B * t->n, nth, tid, &lo1, &hi1);
                    unit = TT_BLOCK / t->m;
                    unit = unit < 1 ? 1 : unit > TT_ROWBLK ? TT_ROWBLK : unit;
                } else {
                    int64_t nblk = (t->n + TT_VCHUNK - 1) / TT_VCHUNK, blo, bhi;
                    tt_range(nblk, nth, tid, &blo, &bhi);
                    lo1 = blo * TT_VCHUNK;
                    hi1 = bhi * TT_VCHUNK < t->n ? bhi * TT_VCHUNK : t->n;
                    if (lo1 > hi1) lo1 = hi1;
                    unit = TT_VCHUNK;
                }
            }
            const int64_t n1 = hi1 - lo1, n2 = hi2 - lo2;
            int64_t done1 = 0, done2 = 0;
            double xs = 0.0, us = 0.0, x2 = 0.0;
            while (done1 < n1 || done2 < n2) {
                if (done1 < n1) {
                    int64_t c = n1 - done1 < unit ? n1 - done1 : unit;
                    int64_t a = lo1 + done1;
                    if (t->m) {
                        xs += tt_fac_pass1(K, &h, t, a, a + c, th, need_x);
                    } else {
                        double px, pu;
                        tt_vec_pass1(K, &h, t, a, a + c, th, need_x, &px, &pu);
                        xs += px;
                        us += pu;
                    }
                    done1 += c;
                }
                int64_t target = done1 >= n1 ? n2 : (int64_t)((double)done1 / (double)n1 * (double)n2);
                if (prev && target > done2) {
                    if (prev->m)
                        x2 += tt_fac_pass2(K, &h, prev, hi2 - target, hi2 - done2, th, th->cf, th->rmean, coef,
                                           decay);
                    else
                        x2 += tt_vec_pass2(K, &h, prev, hi2 - target, hi2 - done2, th, coef, decay);
                }
                if (target > done2) done2 = target;
            }
            if (prev) xpart[(size_t)prev_k * nt + tid] = x2;
            if (!t) break;
            th->part[parity][0] = xs;
            th->part[parity][1] = us;
            if (t->m) memcpy(th->oldcol, t->col, sizeof(float) * (size_t)(t->B * t->m));
#pragma omp barrier
            double xsq = t->xsq_in, usq = 0.0;
            if (need_x) {
                xsq = 0.0;
                for (int r = 0; r < nth; r++) xsq += ths[r].part[parity][0];
            }
            if (t->m) {
                tt_fac_cols(&h, t, ths, nth, parity, th->oldcol, tid == 0 ? t->col : NULL, th->cf, th->wpart);
                usq = tt_fac_middle(t, th->wpart, th->rmean);
            } else {
                for (int r = 0; r < nth; r++) usq += ths[r].part[parity][1];
            }
            tt_scalars(&h, t, xsq, usq, &coef, &decay);
            prev = t;
            prev_k = large[q];
            lo2 = lo1;
            hi2 = hi1;
            parity ^= 1;
        }
        /* The other tensors, each whole by one thread, largest first. */
        th->acc = th->accs[parity];
#pragma omp for schedule(dynamic, 1)
        for (int q = 0; q < count; q++) {
            int k = order[q];
            tt_tensor *t = &ts[k];
            if (t->shared) continue;
            xpart[(size_t)k * nt + tid] = tt_whole(K, &h, t, th, th->cf, th->wpart, th->rmean);
        }
    }
    for (int k = 0; k < count; k++) {
        double x = 0.0;
        for (int q = 0; q < nt; q++) x += xpart[(size_t)k * nt + q];
        out[k] = x;
    }
    free(large);
    free(xpart);
    free(mem);
    free(ths);
    free(ts);
    return 0;
}
