/*
 * scalar.c - the reference kernels: one element at a time through fpq_round.h.
 * Every other backend is tested bit for bit against these loops.
 */
#include "../fpq_round.h"

/* Codes are made and consumed in blocks so that packing stays a separate, simple step. */
#define BLOCK 256

static void quantize_scalar(const fpqi_params *p, const float *x, size_t begin, size_t end,
                            float scale, unsigned flags, uint8_t *codes)
{
    fpqi_divider d = fpqi_divider_make(scale);
    uint8_t block[BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK;
        uint8_t *dst = (flags & FPQ_UNPACKED) ? codes + i : block;
        for (j = 0; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(p, fpqi_f2u(fpqi_divide(&d, x[i + j])), flags);
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

static void fake_quantize_scalar(const fpqi_params *p, const float *x, size_t begin,
                                 size_t end, float scale, unsigned flags, float *y)
{
    fpqi_divider d = fpqi_divider_make(scale);
    float lut[256];
    size_t i;

    if (end - begin >= ((size_t)1 << p->bits)) {
        fpqi_build_lut(p, scale, lut);
        for (i = begin; i < end; i++)
            y[i] = lut[fpqi_encode(p, fpqi_f2u(fpqi_divide(&d, x[i])), flags)];
        return;
    }
    for (i = begin; i < end; i++) {
        uint32_t code = fpqi_encode(p, fpqi_f2u(fpqi_divide(&d, x[i])), flags);
        y[i] = fpqi_u2f(fpqi_decode(p, code)) * scale;
    }
}

const fpqi_kernels fpqi_kernels_scalar = {
    "scalar",
    quantize_scalar,
    dequantize_scalar,
    fake_quantize_scalar,
};
