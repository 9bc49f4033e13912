/*
 * scalar.c - the reference kernels: one element at a time through fpq_round.h.
 * Every other backend is tested bit for bit against these loops.
 */
#include "../convert.h"
#include "../fpq_round.h"

/* Codes are made and consumed in blocks so that packing stays a separate, simple step. */
#define BLOCK 256

/* The quotients of a block first, in a loop of its own: it keeps the division's latency out
 * of the encoder's dependency chains (and lets compilers vectorize it). */
static void divide_block(const fpqi_divider *d, const float *x, size_t count, uint32_t *q)
{
    size_t j;
    if (d->reciprocal != 0.0f) {
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[j] * d->reciprocal);
    } else {
        for (j = 0; j < count; j++)
            q[j] = fpqi_f2u(x[j] / d->scale);
    }
}

static void quantize_scalar(const fpqi_params *params, const float *x, size_t begin,
                            size_t end, float scale, unsigned flags, uint8_t *codes)
{
    /* A local copy: byte stores to codes could otherwise alias it and force reloads. */
    const fpqi_params local = *params, *p = &local;
    fpqi_divider d = fpqi_divider_make(scale);
    uint8_t block[BLOCK];
    uint32_t q[BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK;
        uint8_t *dst = (flags & FPQ_UNPACKED) ? codes + i : block;
        divide_block(&d, x + i, count, q);
        for (j = 0; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(p, q[j], flags);
        if (!(flags & FPQ_UNPACKED))
            fpqi_pack(block, count, p->bits, i, codes);
    }
}

/* Short ranges decode each element; longer ones look values up in a table built once. */
static void dequantize_scalar(const fpqi_params *p, const uint8_t *codes, size_t begin,
                              size_t end, float scale, unsigned flags, float *y)
{
    uint8_t block[BLOCK];
    float lut[256];
    size_t i, j;
    int use_lut = end - begin >= ((size_t)1 << p->bits);

    if (use_lut)
        fpqi_build_lut(p, scale, lut);
    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK;
        const uint8_t *src = codes + i;
        if (!(flags & FPQ_UNPACKED)) {
            fpqi_unpack(codes, count, p->bits, i, block);
            src = block;
        }
        if (use_lut) {
            for (j = 0; j < count; j++)
                y[i + j] = lut[src[j] & p->code_mask];
        } else {
            for (j = 0; j < count; j++)
                y[i + j] = fpqi_u2f(fpqi_decode(p, src[j])) * scale;
        }
    }
}

static void fake_quantize_scalar(const fpqi_params *params, const float *x, size_t begin,
                                 size_t end, float scale, unsigned flags, float *y)
{
    /* A local copy: stores to y could otherwise alias its float member and force reloads. */
    const fpqi_params local = *params, *p = &local;
    fpqi_divider d = fpqi_divider_make(scale);
    float lut[256];
    uint32_t q[BLOCK];
    size_t i, j;
    int use_lut = end - begin >= ((size_t)1 << p->bits);

    if (use_lut)
        fpqi_build_lut(p, scale, lut);
    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK;
        divide_block(&d, x + i, count, q);
        if (use_lut) {
            for (j = 0; j < count; j++)
                y[i + j] = lut[fpqi_encode(p, q[j], flags)];
        } else {
            for (j = 0; j < count; j++)
                y[i + j] = fpqi_u2f(fpqi_decode(p, fpqi_encode(p, q[j], flags))) * scale;
        }
    }
}

/* The quotient of element i by its group's scale: see the reciprocals contract in
 * fpq_internal.h. */
static float quotient(const float *x, const float *scales, const float *reciprocals,
                      int shift, size_t i)
{
    return reciprocals ? x[i] * reciprocals[i >> shift] : x[i] / scales[i >> shift];
}

static void quantize_grouped_scalar(const fpqi_params *params, const float *x,
                                    const float *scales, const float *reciprocals, int shift,
                                    size_t n, unsigned flags, uint8_t *codes)
{
    const fpqi_params local = *params, *p = &local;
    uint8_t block[BLOCK];
    size_t i, j;

    for (i = 0; i < n; i += BLOCK) {
        size_t count = n - i < BLOCK ? n - i : BLOCK;
        uint8_t *dst = (flags & FPQ_UNPACKED) ? codes + i : block;
        for (j = 0; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(
                p, fpqi_f2u(quotient(x, scales, reciprocals, shift, i + j)), flags);
        if (!(flags & FPQ_UNPACKED))
            fpqi_pack(block, count, p->bits, i, codes);
    }
}

static void dequantize_grouped_scalar(const fpqi_params *p, const uint8_t *codes,
                                      const float *scales, int shift, size_t n, unsigned flags,
                                      float *y)
{
    uint8_t block[BLOCK];
    size_t i, j;

    for (i = 0; i < n; i += BLOCK) {
        size_t count = n - i < BLOCK ? n - i : BLOCK;
        const uint8_t *src = codes + i;
        if (!(flags & FPQ_UNPACKED)) {
            fpqi_unpack(codes, count, p->bits, i, block);
            src = block;
        }
        for (j = 0; j < count; j++)
            y[i + j] = fpqi_u2f(fpqi_decode(p, src[j])) * scales[(i + j) >> shift];
    }
}

static void fake_quantize_grouped_scalar(const fpqi_params *params, const float *x,
                                         const float *scales, const float *reciprocals,
                                         int shift, size_t n, unsigned flags, float *y)
{
    const fpqi_params local = *params, *p = &local;
    size_t i;

    for (i = 0; i < n; i++) {
        uint32_t code =
            fpqi_encode(p, fpqi_f2u(quotient(x, scales, reciprocals, shift, i)), flags);
        y[i] = fpqi_u2f(fpqi_decode(p, code)) * scales[i >> shift];
    }
}

static void widen_scalar(int elem_type, const void *in, size_t n, float *out)
{
    fpqi_widen(elem_type, in, n, out);
}

static void narrow_scalar(int elem_type, const float *in, size_t n, void *out)
{
    fpqi_narrow(elem_type, in, n, out);
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
};
