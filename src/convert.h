/*
 * convert.h - float16 / bfloat16 <-> float32, correctly rounded, as inline helpers.
 *
 * Widening is exact (NaNs come out quiet). Narrowing rounds to nearest even with the same integer add as the
 * encoder (fpq_round.h); float16's subnormal range rounds through one float addition, exact in
 * the default environment every public call runs in. NaNs stay NaN (quieted when narrowed).
 */
#ifndef FPQ_CONVERT_H
#define FPQ_CONVERT_H

#include "fpq_internal.h"

FPQI_INLINE float fpqi_f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 0x3ffu;
    if (e == 31) /* infinities; NaNs quieted, as F16C and AArch64 conversions do */
        return fpqi_u2f(s | 0x7f800000u | (m ? 0x00400000u : 0u) | m << 13);
    if (e == 0) {
        /* m * 2^-24, exact: an integer below 2^10 times a power of two */
        float v = (float)m * 5.9604644775390625e-8f;
        return fpqi_u2f(s | fpqi_f2u(v));
    }
    return fpqi_u2f(s | (e + 112u) << 23 | m << 13);
}

FPQI_INLINE uint16_t fpqi_f32_to_f16(float f)
{
    uint32_t u = fpqi_f2u(f), s = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return (uint16_t)(s | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* 65520 and up round past 65504 */
        return (uint16_t)(s | 0x7c00u);
    if (a >= 0x38800000u) /* 2^-14 and up: normal float16 */
        return (uint16_t)(s | ((a + 0xfffu + ((a >> 13) & 1u) - (112u << 23)) >> 13));
    /* Subnormal: adding 0.5 rounds at float16's quantum 2^-24. */
    return (uint16_t)(s | (fpqi_f2u(fpqi_u2f(a) + 0.5f) - 0x3f000000u));
}

FPQI_INLINE float fpqi_bf16_to_f32(uint16_t h)
{
    return fpqi_u2f((uint32_t)h << 16);
}

FPQI_INLINE uint16_t fpqi_f32_to_bf16(float f)
{
    uint32_t u = fpqi_f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

FPQI_INLINE size_t fpqi_elem_size(int elem_type)
{
    return elem_type == FPQ_FLOAT32 ? 4 : 2;
}

/* Whether a 2-D array of rows x cols elements (both non-zero, row_stride >= cols) of elem_size
 * bytes can be addressed: its last row ends at (rows - 1) * stride + cols elements, and that
 * many bytes must fit in size_t. Each term is checked before it is used, so nothing wraps (a
 * wrapping version of this check once let overflowing shapes through). */
FPQI_INLINE int fpqi_extent_fits(size_t rows, size_t cols, size_t stride, size_t elem_size)
{
    return stride <= SIZE_MAX / elem_size && rows - 1 <= (SIZE_MAX / elem_size - cols) / stride;
}

/* in[0..n) of elem_type -> float32 out. */
FPQI_INLINE void fpqi_widen(int elem_type, const void *in, size_t n, float *out)
{
    const uint16_t *h = (const uint16_t *)in;
    size_t i;
    if (elem_type == FPQ_FLOAT32)
        memcpy(out, in, n * sizeof(float));
    else if (elem_type == FPQ_FLOAT16)
        for (i = 0; i < n; i++)
            out[i] = fpqi_f16_to_f32(h[i]);
    else
        for (i = 0; i < n; i++)
            out[i] = fpqi_bf16_to_f32(h[i]);
}

/* float32 in[0..n) -> out of elem_type. */
FPQI_INLINE void fpqi_narrow(int elem_type, const float *in, size_t n, void *out)
{
    uint16_t *h = (uint16_t *)out;
    size_t i;
    if (elem_type == FPQ_FLOAT32)
        memcpy(out, in, n * sizeof(float));
    else if (elem_type == FPQ_FLOAT16)
        for (i = 0; i < n; i++)
            h[i] = fpqi_f32_to_f16(in[i]);
    else
        for (i = 0; i < n; i++)
            h[i] = fpqi_f32_to_bf16(in[i]);
}

#endif /* FPQ_CONVERT_H */
