/* Row kernels of _fused_adafactor.c, included once per instruction-set variant (TT_SUFFIX), with
 * TT_VW floats to a vector (8: tt_v8, one AVX2 register or two SSE ones; 16: tt_v16, one AVX-512
 * register).  Every loop takes 32 elements a step (four vectors of 8 or two of 16, each with its own
 * float32 accumulator), so the blocks and the rows kernels' multiple of 32 are those of either width. */

#if TT_VW == 16
#define tt_vf tt_v16
#define tt_vd tt_d8
#define tt_lo(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 0, 1, 2, 3, 4, 5, 6, 7), tt_d8)
#define tt_hi(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 8, 9, 10, 11, 12, 13, 14, 15), tt_d8)
#define tt_dsum(d) ((((d)[0] + (d)[1]) + ((d)[2] + (d)[3])) + (((d)[4] + (d)[5]) + ((d)[6] + (d)[7])))
#define TT_STEP32(STEP, k)      \
    do {                        \
        STEP((k), a0);          \
        STEP((k) + 16, a1);     \
    } while (0)
#else
#define tt_vf tt_v8
#define tt_vd tt_d4
#define tt_lo(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 0, 1, 2, 3), tt_d4)
#define tt_hi(v) __builtin_convertvector(__builtin_shufflevector((v), (v), 4, 5, 6, 7), tt_d4)
#define tt_dsum(d) (((d)[0] + (d)[1]) + ((d)[2] + (d)[3]))
#define TT_STEP32(STEP, k)      \
    do {                        \
        STEP((k), a0);          \
        STEP((k) + 8, a1);      \
        STEP((k) + 16, a2);     \
        STEP((k) + 24, a3);     \
    } while (0)
#endif
#define tt_ld(p)                         \
    __extension__({                      \
        tt_vf v_;                        \
        memcpy(&v_, (p), sizeof v_);     \
        v_;                              \
    })
#define tt_st(p, v)                      \
    do {                                 \
        tt_vf s_ = (v);                  \
        memcpy((p), &s_, sizeof s_);     \
    } while (0)

#define TT_CAT2(a, b) a##b
#define TT_CAT(a, b) TT_CAT2(a, b)
#define TT_FN(name) TT_CAT(name, TT_SUFFIX)

static void TT_FN(load)(float *restrict dst, const void *src, int64_t n, int dt) {
    const uint16_t *restrict s = (const uint16_t *)src;
    int64_t i = 0;
    if (dt == TT_BF16) {
        for (; i < n; i++) dst[i] = tt_bf2f(s[i]);
        return;
    }
#ifdef TT_HAVE_F16C
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
#endif
    for (; i < n; i++) dst[i] = tt_h2f(s[i]);
}

/* Round src to dt into dst, and leave the rounded values in src. */
static void TT_FN(store)(void *dst, float *restrict src, int64_t n, int dt) {
    uint16_t *restrict d = (uint16_t *)dst;
    int64_t i = 0;
    if (dt == TT_BF16) {
        for (; i < n; i++) {
            uint16_t b = tt_f2bf(src[i]);
            d[i] = b;
            src[i] = tt_bf2f(b);
        }
        return;
    }
#ifdef TT_HAVE_F16C
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(d + i), h);
        _mm256_storeu_ps(src + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; i++) {
        uint16_t h = tt_f2h(src[i]);
        d[i] = h;
        src[i] = tt_h2f(h);
    }
}

/* sum(a^2): float32 sums in 32 lanes over blocks of TT_SUMBLK elements, each block's lanes added
 * into double lanes (so a float32 sum never holds more than TT_SUMBLK/32 terms). */
#define TT_SQ_STEP(k, acc)              \
    do {                                \
        tt_vf x_ = tt_ld(a + (k));      \
        acc += x_ * x_;                 \
    } while (0)
static double TT_FN(sumsq)(const float *restrict a, int64_t n) {
    tt_vd dl = {0.0}, dh = dl;
    int64_t i = 0;
    /* blocks of TT_SUMBLK elements, and a last one of the remaining multiple of 32 (rows of a few
     * hundred elements are common: four chains of additions, not one) */
    for (int64_t end; (end = i + TT_SUMBLK <= n ? i + TT_SUMBLK : i + ((n - i) & ~(int64_t)31)) > i; i = end) {
        tt_vf a0 = {0.0f}, a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = i; k < end; k += 32) TT_STEP32(TT_SQ_STEP, k);
        tt_vf sum = (a0 + a1) + (a2 + a3);
        dl += tt_lo(sum);
        dh += tt_hi(sum);
    }
    tt_vf a0 = {0.0f};
    for (; i + TT_VW <= n; i += TT_VW) TT_SQ_STEP(i, a0);
    dl += tt_lo(a0);
    dh += tt_hi(a0);
    tt_vd d = dl + dh;
    double total = tt_dsum(d);
    for (; i < n; i++) total += (double)a[i] * (double)a[i];
    return total;
}
#undef TT_SQ_STEP

/* R (1..4) consecutive rows' share of the column sums, in float32 and row order:
 * cacc_j (+)= G_ij^2 and wacc_j (+)= G_ij^2 / r_i (iv[r] = 1/r_i); first: the rows start a block
 * (set instead of add).  The accumulators are read and written once per R rows. */
static void TT_FN(cols_rows)(const float *restrict g, int64_t m, int R, const float *iv, float *restrict cacc,
                             float *restrict wacc, int first) {
    const float *restrict g1 = g + m, *restrict g2 = g + 2 * m, *restrict g3 = g + 3 * m;
    const float i0 = iv[0], i1 = R > 1 ? iv[1] : 0.0f, i2 = R > 2 ? iv[2] : 0.0f, i3 = R > 3 ? iv[3] : 0.0f;
    int64_t j = 0;
    for (; j + TT_VW <= m; j += TT_VW) {
        tt_vf x = tt_ld(g + j), q = x * x, c, w;
        if (first) {
            c = q;
            w = q * i0;
        } else {
            c = tt_ld(cacc + j) + q;
            w = tt_ld(wacc + j) + q * i0;
        }
        if (R > 1) {
            x = tt_ld(g1 + j);
            q = x * x;
            c += q;
            w += q * i1;
        }
        if (R > 2) {
            x = tt_ld(g2 + j);
            q = x * x;
            c += q;
            w += q * i2;
        }
        if (R > 3) {
            x = tt_ld(g3 + j);
            q = x * x;
            c += q;
            w += q * i3;
        }
        tt_st(cacc + j, c);
        tt_st(wacc + j, w);
    }
    for (; j < m; j++) {
        float q = g[j] * g[j], c, w;
        if (first) {
            c = q;
            w = q * i0;
        } else {
            c = cacc[j] + q;
            w = wacc[j] + q * i0;
        }
        for (int r = 1; r < R; r++) {
            q = g[r * m + j] * g[r * m + j];
            c += q;
            w += q * iv[r];
        }
        cacc[j] = c;
        wacc[j] = w;
    }
}

/* A block's float32 column sums (at most TT_ROWBLK rows) added into the double accumulators. */
static void TT_FN(cols_flush)(const float *restrict cacc, const float *restrict wacc, double *restrict csum,
                              double *restrict wcol, int64_t m) {
    for (int64_t j = 0; j < m; j++) {
        csum[j] += (double)cacc[j];
        wcol[j] += (double)wacc[j];
    }
}

/* X_j <- X_j decay - coef (G_j cf_j), through momentum m_j <- beta1 m_j + coef (G_j cf_j) when mom is
 * given; returns sum(X_new^2) of the float32 results, summed like sumsq. */
#define TT_FAC_STEP(k, acc)                                                                  \
    do {                                                                                     \
        tt_vf u_ = (tt_ld(g + (k)) * tt_ld(cf + (k))) * coef, x_;                            \
        if (mom) {                                                                           \
            u_ = tt_ld(mom + (k)) * beta1 + u_;                                              \
            tt_st(mom + (k), u_);                                                            \
        }                                                                                    \
        x_ = tt_ld(x + (k)) * decay - u_;                                                    \
        tt_st(x + (k), x_);                                                                  \
        acc += x_ * x_;                                                                      \
    } while (0)

static double TT_FN(fac_apply)(float *restrict x, const float *restrict g, const float *restrict cf,
                               int64_t n, float coef, float decay, float *restrict mom, float beta1) {
    tt_vd dl = {0.0}, dh = dl;
    int64_t i = 0;
    for (int64_t end; (end = i + TT_SUMBLK <= n ? i + TT_SUMBLK : i + ((n - i) & ~(int64_t)31)) > i; i = end) {
        tt_vf a0 = {0.0f}, a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = i; k < end; k += 32) TT_STEP32(TT_FAC_STEP, k);
        tt_vf sum = (a0 + a1) + (a2 + a3);
        dl += tt_lo(sum);
        dh += tt_hi(sum);
    }
    tt_vf a0 = {0.0f};
    for (; i + TT_VW <= n; i += TT_VW) TT_FAC_STEP(i, a0);
    dl += tt_lo(a0);
    dh += tt_hi(a0);
    tt_vd d = dl + dh;
    double total = tt_dsum(d);
    for (; i < n; i++) {
        float u = (g[i] * cf[i]) * coef;
        if (mom) {
            u = mom[i] * beta1 + u;
            mom[i] = u;
        }
        float v = x[i] * decay - u;
        x[i] = v;
        total += (double)v * (double)v;
    }
    return total;
}
#undef TT_FAC_STEP

/* R consecutive rows of m elements (m a multiple of 32, below TT_SUMBLK), row r with coefficient
 * coefs[r]: fac_apply of each in one call; each row's sum(X_new^2), summed as sumsq sums a row
 * (its float32 lanes folded into double once), goes into xsq. */
#define TT_ROWS_STEP(k, acc)                                                                 \
    do {                                                                                     \
        tt_vf u_ = (tt_ld(gr + (k)) * tt_ld(cf + (k))) * coef, x_;                           \
        if (mom) {                                                                           \
            u_ = tt_ld(mr + (k)) * beta1 + u_;                                               \
            tt_st(mr + (k), u_);                                                             \
        }                                                                                    \
        x_ = tt_ld(xr + (k)) * decay - u_;                                                   \
        tt_st(xr + (k), x_);                                                                 \
        acc += x_ * x_;                                                                      \
    } while (0)

static void TT_FN(fac_apply_rows)(float *restrict x, const float *restrict g, const float *restrict cf,
                                  int64_t m, int64_t R, const float *restrict coefs, float decay,
                                  float *restrict mom, float beta1, tt_dd *xsq) {
    for (int64_t r = 0; r < R; r++) {
        const float coef = coefs[r];
        float *restrict xr = x + r * m;
        const float *restrict gr = g + r * m;
        float *restrict mr = mom ? mom + r * m : NULL;
        tt_vf a0 = {0.0f}, a1 = a0, a2 = a0, a3 = a0;
        for (int64_t k = 0; k < m; k += 32) TT_STEP32(TT_ROWS_STEP, k);
        tt_vf sum = (a0 + a1) + (a2 + a3);
        tt_vd d = tt_lo(sum) + tt_hi(sum);
        tt_dd_add(xsq, tt_dsum(d));
    }
}
#undef TT_ROWS_STEP

/* v <- lerp(v, G^2 + eps2, w) (torch's CPU lerp), and sum(U^2) for U = G / sqrt(v), U built in
 * ubuf (n <= TT_VCHUNK). */
static double TT_FN(vec_stats)(const float *restrict g, float *restrict v, int64_t n, float eps2, float w,
                               float *restrict ubuf) {
    if (fabsf(w) < 0.5f) {
        for (int64_t i = 0; i < n; i++) {
            float q = g[i] * g[i] + eps2;
            v[i] = v[i] + w * (q - v[i]);
        }
    } else {
        const float omw = 1.0f - w;
        for (int64_t i = 0; i < n; i++) {
            float q = g[i] * g[i] + eps2;
            v[i] = q - (q - v[i]) * omw;
        }
    }
    for (int64_t i = 0; i < n; i++) ubuf[i] = g[i] * (1.0f / sqrtf(tt_floor(v[i])));
    return TT_FN(sumsq)(ubuf, n);
}

static void TT_FN(vec_apply)(float *restrict x, const float *restrict g, const float *restrict v, int64_t n,
                             float coef, float decay, float *restrict mom, float beta1) {
    if (mom) {
        for (int64_t i = 0; i < n; i++) {
            float u = g[i] * (1.0f / sqrtf(tt_floor(v[i])));
            float mm = beta1 * mom[i] + u * coef;
            mom[i] = mm;
            x[i] = x[i] * decay - mm;
        }
    } else {
        for (int64_t i = 0; i < n; i++) x[i] = x[i] * decay - g[i] * (1.0f / sqrtf(tt_floor(v[i]))) * coef;
    }
}

#undef TT_FN
#undef TT_CAT
#undef TT_CAT2
#undef TT_STEP32
#undef tt_st
#undef tt_ld
#undef tt_dsum
#undef tt_hi
#undef tt_lo
#undef tt_vd
#undef tt_vf
