/* Row kernels of _fused_adafactor.c, included once per instruction-set variant (TT_SUFFIX). */

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

/* sum(a^2): float32 sums in 32 lanes over blocks of TT_SUMBLK elements, the blocks added in double
 * (so a sum never holds more than TT_SUMBLK/32 float32 terms). */
static double TT_FN(sumsq)(const float *restrict a, int64_t n) {
    double total = 0.0;
    for (int64_t o = 0; o < n; o += TT_SUMBLK) {
        int64_t len = n - o < TT_SUMBLK ? n - o : TT_SUMBLK;
        const float *restrict p = a + o;
        float acc[32] = {0.0f};
        int64_t i = 0;
        for (; i + 32 <= len; i += 32)
            for (int k = 0; k < 32; k++) acc[k] += p[i + k] * p[i + k];
        for (int k = 0; k < 8; k++) acc[k] = (acc[k] + acc[k + 8]) + (acc[k + 16] + acc[k + 24]);
        double s = 0.0;
        for (int k = 0; k < 8; k++) s += (double)acc[k];
        for (; i < len; i++) s += (double)p[i] * (double)p[i];
        total += s;
    }
    return total;
}

/* Column sums of G^2 and of G^2 / r_i over a block of R consecutive rows (float32 over at most
 * TT_ROWBLK rows), added into the double accumulators csum and wcol. */
static void TT_FN(cols_block)(const float *restrict g, int64_t R, int64_t m, const float *restrict inv,
                              double *restrict csum, double *restrict wcol, float *restrict cacc,
                              float *restrict wacc) {
    {
        const float iv = inv[0];
        for (int64_t j = 0; j < m; j++) {
            float q = g[j] * g[j];
            cacc[j] = q;
            wacc[j] = q * iv;
        }
    }
    for (int64_t r = 1; r < R; r++) {
        const float *restrict gr = g + r * m;
        const float iv = inv[r];
        for (int64_t j = 0; j < m; j++) {
            float q = gr[j] * gr[j];
            cacc[j] += q;
            wacc[j] += q * iv;
        }
    }
    for (int64_t j = 0; j < m; j++) {
        csum[j] += (double)cacc[j];
        wcol[j] += (double)wacc[j];
    }
}

static void TT_FN(fac_apply)(float *restrict x, const float *restrict g, const float *restrict cf, int64_t n,
                             float coef, float decay, float *restrict mom, float beta1) {
    if (mom) {
        for (int64_t i = 0; i < n; i++) {
            float mm = beta1 * mom[i] + (g[i] * cf[i]) * coef;
            mom[i] = mm;
            x[i] = x[i] * decay - mm;
        }
    } else {
        for (int64_t i = 0; i < n; i++) x[i] = x[i] * decay - (g[i] * cf[i]) * coef;
    }
}

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
