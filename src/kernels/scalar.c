/*
 * scalar.c - the reference kernels: one element at a time through fpq_round.h.
 * Every other backend is tested bit for bit against these loops.
 */
#include "../convert.h"
#include "../fpq_round.h"

/* Codes are made and consumed in blocks so that packing stays a separate, simple step. */
#define SCALAR_BLOCK 256

/* One scale for the range (`scales` NULL: the divider) or one per group of 2^shift elements,
 * with exact reciprocals when the caller has them (see fpq_internal.h). */
typedef struct scalar_scaling {
    const fpqi_divider *d;
    const float *scales, *reciprocals;
    int shift;
} scalar_scaling;

/* The quotients of elements [i, i + count) first, in a loop of their own: it keeps the
 * division's latency out of the encoder's dependency chains (and lets compilers vectorize). */
static void scalar_quotients(const scalar_scaling *sc, const float *x, size_t i, size_t count,
                             uint32_t *q)
{
    size_t j;
    if (!sc->scales && sc->d->reciprocal != 0.0f)
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[i + j] * sc->d->reciprocal);
    else if (!sc->scales)
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[i + j] / sc->d->scale);
    else if (sc->reciprocals)
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[i + j] * sc->reciprocals[(i + j) >> sc->shift]);
    else
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[i + j] / sc->scales[(i + j) >> sc->shift]);
}

/* Parameters arrive by pointer and are copied: stores through the output pointers could
 * otherwise alias them and force reloads. */
static void scalar_quantize_any(const fpqi_params *params, const float *x, size_t begin,
                                size_t end, const scalar_scaling *sc, unsigned flags,
                                uint8_t *codes)
{
    const fpqi_params local = *params, *p = &local;
    uint8_t block[SCALAR_BLOCK];
    uint32_t q[SCALAR_BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += SCALAR_BLOCK) {
        size_t count = end - i < SCALAR_BLOCK ? end - i : SCALAR_BLOCK;
        uint8_t *dst = (flags & FPQ_UNPACKED) ? codes + i : block;
        scalar_quotients(sc, x, i, count, q);
        for (j = 0; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(p, q[j], flags);
        if (!(flags & FPQ_UNPACKED))
            fpqi_pack(block, count, p->bits, i, codes);
    }
}

/* The value of a code: from the table when there is one (value * scale for one scale, plain
 * values for groups), else decoded and multiplied by the one scale. */
static float scalar_value_of(const fpqi_params *p, const float *lut, float scale, uint32_t code)
{
    return lut ? lut[code & p->code_mask] : fpqi_u2f(fpqi_decode(p, code)) * scale;
}

static void scalar_dequantize_any(const fpqi_params *p, const uint8_t *codes, size_t begin,
                                  size_t end, const float *lut, float scale,
                                  const scalar_scaling *sc, unsigned flags, float *y)
{
    uint8_t block[SCALAR_BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += SCALAR_BLOCK) {
        size_t count = end - i < SCALAR_BLOCK ? end - i : SCALAR_BLOCK;
        const uint8_t *src = codes + i;
        if (!(flags & FPQ_UNPACKED)) {
            fpqi_unpack(codes, count, p->bits, i, block);
            src = block;
        }
        if (lut && !sc->scales) { /* the common case, kept to a plain lookup */
            for (j = 0; j < count; j++)
                y[i + j] = lut[src[j] & p->code_mask];
            continue;
        }
        for (j = 0; j < count; j++) {
            float v = scalar_value_of(p, lut, scale, src[j]);
            y[i + j] = sc->scales ? v * sc->scales[(i + j) >> sc->shift] : v;
        }
    }
}

static void scalar_fake_quantize_any(const fpqi_params *params, const float *x, size_t begin,
                                     size_t end, const float *lut, float scale,
                                     const scalar_scaling *sc, unsigned flags, float *y)
{
    const fpqi_params local = *params, *p = &local;
    uint32_t q[SCALAR_BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += SCALAR_BLOCK) {
        size_t count = end - i < SCALAR_BLOCK ? end - i : SCALAR_BLOCK;
        scalar_quotients(sc, x, i, count, q);
        if (lut && !sc->scales) { /* the common case, kept to a plain lookup */
            for (j = 0; j < count; j++)
                y[i + j] = lut[fpqi_encode(p, q[j], flags)];
            continue;
        }
        for (j = 0; j < count; j++) {
            float v = scalar_value_of(p, lut, scale, fpqi_encode(p, q[j], flags));
            y[i + j] = sc->scales ? v * sc->scales[(i + j) >> sc->shift] : v;
        }
    }
}

/* Ranges at least as long as the table look values up in it; shorter ones decode. */
static const float *scalar_table_for(const fpqi_params *p, size_t n, float scale, float *lut)
{
    if (n < ((size_t)1 << p->bits))
        return NULL;
    fpqi_build_lut(p, scale, lut);
    return lut;
}

static void quantize_scalar(const fpqi_params *p, const float *x, size_t begin, size_t end,
                            float scale, unsigned flags, uint8_t *codes)
{
    fpqi_divider d = fpqi_divider_make(scale);
    scalar_scaling sc = {&d, NULL, NULL, 0};
    scalar_quantize_any(p, x, begin, end, &sc, flags, codes);
}

static void dequantize_scalar(const fpqi_params *p, const uint8_t *codes, size_t begin,
                              size_t end, float scale, unsigned flags, float *y)
{
    scalar_scaling sc = {NULL, NULL, NULL, 0};
    float lut[256];
    scalar_dequantize_any(p, codes, begin, end, scalar_table_for(p, end - begin, scale, lut),
                          scale, &sc, flags, y);
}

static void fake_quantize_scalar(const fpqi_params *p, const float *x, size_t begin,
                                 size_t end, float scale, unsigned flags, float *y)
{
    fpqi_divider d = fpqi_divider_make(scale);
    scalar_scaling sc = {&d, NULL, NULL, 0};
    float lut[256];
    scalar_fake_quantize_any(p, x, begin, end, scalar_table_for(p, end - begin, scale, lut),
                             scale, &sc, flags, y);
}

static void quantize_grouped_scalar(const fpqi_params *p, const float *x, const float *scales,
                                    const float *reciprocals, int shift, size_t n,
                                    unsigned flags, uint8_t *codes)
{
    scalar_scaling sc = {NULL, scales, reciprocals, shift};
    scalar_quantize_any(p, x, 0, n, &sc, flags, codes);
}

static void dequantize_grouped_scalar(const fpqi_params *p, const uint8_t *codes,
                                      const float *scales, int shift, size_t n, unsigned flags,
                                      float *y)
{
    scalar_scaling sc = {NULL, scales, NULL, shift};
    float lut[256];
    scalar_dequantize_any(p, codes, 0, n, scalar_table_for(p, n, 1.0f, lut), 1.0f, &sc, flags, y);
}

static void fake_quantize_grouped_scalar(const fpqi_params *p, const float *x,
                                         const float *scales, const float *reciprocals,
                                         int shift, size_t n, unsigned flags, float *y)
{
    scalar_scaling sc = {NULL, scales, reciprocals, shift};
    float lut[256];
    scalar_fake_quantize_any(p, x, 0, n, scalar_table_for(p, n, 1.0f, lut), 1.0f, &sc, flags, y);
}

static void widen_scalar(int elem_type, const void *in, size_t n, float *out)
{
    fpqi_widen(elem_type, in, n, out);
}

static void narrow_scalar(int elem_type, const float *in, size_t n, void *out)
{
    fpqi_narrow(elem_type, in, n, out);
}

static void table_entries_scalar(const float *x, size_t n, const uint32_t *table, int shift,
                                 uint32_t key_base, uint32_t last, uint32_t *out)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = fpqi_table_entry(table, fpqi_f2u(x[i]), shift, key_base, last);
}

static void abs_max_scalar(const float *x, size_t n, uint32_t *amax_bits, size_t *nonfinite)
{
    uint32_t m = *amax_bits;
    size_t i, bad = 0;
    for (i = 0; i < n; i++) {
        uint32_t a = fpqi_f2u(x[i]) & 0x7fffffffu;
        int finite = a < 0x7f800000u;
        bad += (size_t)!finite;
        m = finite && a > m ? a : m;
    }
    *amax_bits = m;
    *nonfinite += bad;
}

const fpqi_kernels fpqi_kernels_scalar = {
    "scalar",
    quantize_scalar,
    dequantize_scalar,
    fake_quantize_scalar,
    quantize_grouped_scalar,
    dequantize_grouped_scalar,
    fake_quantize_grouped_scalar,
    widen_scalar,
    narrow_scalar,
    table_entries_scalar,
    abs_max_scalar,
};

#undef SCALAR_BLOCK
