/*
 * fpq_round.h - the rounding, decoding and packing rules of fpq, once, as inline helpers.
 *
 * Every backend includes this file and either calls these helpers per element (scalar, tails)
 * or implements the same integer operations lane-wise; the tests hold every backend to the bits
 * these helpers give. Rounding is integer arithmetic on the float32 bit pattern, so neither
 * the compiler's FP mode nor the caller's rounding mode can change a result.
 */
#ifndef FPQ_ROUND_H
#define FPQ_ROUND_H

#include "fpq_internal.h"

/*
 * The quotient x / scale. When the scale is a power of two with a representable reciprocal,
 * x * (1 / scale) is the same real number as x / scale, and IEEE multiplication and division
 * both round that number correctly, so the two give identical bits (subnormal results
 * included); the multiply is the fast path.
 */
typedef struct fpqi_divider {
    float scale;
    float reciprocal; /* 1 / scale when exact, else 0 */
} fpqi_divider;

FPQI_INLINE fpqi_divider fpqi_divider_make(float scale)
{
    fpqi_divider d;
    uint32_t u = fpqi_f2u(scale);
    d.scale = scale;
    d.reciprocal = 0.0f;
    /* Normal powers of two 2^-126 .. 2^126 have normal reciprocals 2^126 .. 2^-126. */
    if ((u & 0x007fffffu) == 0 && u >= 0x00800000u && u <= 0x7e800000u)
        d.reciprocal = fpqi_u2f(((uint32_t)(254u << 23)) - u);
    return d;
}

FPQI_INLINE float fpqi_divide(const fpqi_divider *d, float x)
{
    return d->reciprocal != 0.0f ? x * d->reciprocal : x / d->scale;
}

/* The code for an overflow (or infinity) of sign s (0 or sign_bit). */
FPQI_INLINE uint32_t fpqi_overflow_code(const fpqi_params *p, uint32_t s, unsigned flags)
{
    if (p->family == FPQ_FAMILY_E8M0)
        return (flags & FPQ_NO_SATURATE) ? p->nan_mag : p->max_mag;
    if (!(flags & FPQ_NO_SATURATE) || p->family == FPQ_FAMILY_FINITE)
        return s | p->max_mag;
    switch (p->family) {
    case FPQ_FAMILY_IEEE:
        return s | p->inf_mag;
    case FPQ_FAMILY_FN:
        return s | p->nan_mag;
    default: /* FNUZ: its only NaN */
        return p->sign_bit;
    }
}

FPQI_INLINE uint32_t fpqi_nan_code(const fpqi_params *p, uint32_t s)
{
    switch (p->family) {
    case FPQ_FAMILY_IEEE:
    case FPQ_FAMILY_FN:
        return s | p->nan_mag;
    case FPQ_FAMILY_FNUZ:
        return p->sign_bit;
    case FPQ_FAMILY_E8M0:
        return p->nan_mag;
    default: /* FINITE: no NaN; ml_dtypes gives the zero of the opposite sign */
        return s ^ p->sign_bit;
    }
}

/*
 * Code for a value of sign 0 that is not representable because it is negative in an
 * unsigned format, or zero in E8M0: the nearest value by default, NaN when not saturating.
 */
FPQI_INLINE uint32_t fpqi_unsigned_floor_code(const fpqi_params *p, unsigned flags)
{
    int has_nan = p->family != FPQ_FAMILY_FINITE;
    return ((flags & FPQ_NO_SATURATE) && has_nan) ? p->nan_mag : 0u;
}

/*
 * The code of the float32 q (given as bits), already divided by the scale.
 * This function is the definition of fpq's rounding; see fpqi_params for the encoding.
 *
 * From the smallest normal up (and from 2^-126 up, where float32 itself is normal) the
 * quantum of the format is 2^(e - M) for a value of exponent e, the same relative place as
 * in float32: rounding to nearest even is an integer add on the float32 bits (half a quantum
 * minus one, plus the lowest kept bit), a carry running into the exponent exactly as the
 * format's own encoding does; the code is then the rounded bits shifted and rebiased. For
 * M == 0 the candidates in a binade are 1 and 2 quanta, so the lowest kept bit is taken as 1
 * and ties go up. Below that limit the quantum is fixed, 2^(emin - M); adding 2^(emin - M + 23)
 * lets the float32 addition itself round at that quantum, ties to even, exactly (every call
 * runs in the default floating-point environment), and the sum's low bits are the code.
 */
/* The rules for everything but a finite value of a signed, saturating, non-FNUZ, non-E8M0
 * format: NaN, infinities, overflow without saturation, unsigned and E8M0 ranges. */
FPQI_INLINE uint32_t fpqi_encode_rules(const fpqi_params *p, uint32_t a, uint32_t neg,
                                       uint32_t s, uint32_t mag, unsigned flags)
{
    if (a > 0x7f800000u)
        return fpqi_nan_code(p, s);
    if (!p->is_signed && neg && a != 0)
        return fpqi_unsigned_floor_code(p, flags);
    if (p->family == FPQ_FAMILY_E8M0) {
        /* No zero and no subnormals: code 0 is the first normal, 2^-bias. */
        if (a == 0)
            return fpqi_unsigned_floor_code(p, flags);
        mag = mag ? mag - 1u : 0u;
        return mag > p->max_mag ? fpqi_overflow_code(p, 0, flags) : mag;
    }
    /* Infinities land here too: their magnitude is past every format's range. */
    if (mag > p->max_mag)
        return fpqi_overflow_code(p, s, flags);
    if (mag == 0 && p->family == FPQ_FAMILY_FNUZ)
        return 0; /* no -0 in FNUZ */
    return s | mag;
}

FPQI_INLINE uint32_t fpqi_encode(const fpqi_params *p, uint32_t q, unsigned flags)
{
    /* Masks rather than branches: signs and ranges vary at random in real data. */
    uint32_t neg = q >> 31;
    uint32_t a = q & 0x7fffffffu;
    uint32_t s = p->sign_bit & (0u - neg);
    uint32_t shift = 23u - (uint32_t)p->man_bits;
    uint32_t high = ((a + p->round_add + ((a >> shift) & p->odd_mask)) >> shift) - p->rebias;
    uint32_t low = fpqi_f2u(fpqi_u2f(a) + p->magic) - fpqi_f2u(p->magic);
    uint32_t mag = high ^ ((high ^ low) & (0u - (uint32_t)(a < p->low_limit)));

    /* The usual case: a finite value saturating into a signed format, where overflow is the
     * largest magnitude with the value's sign. */
    if (a < 0x7f800000u && p->plain && !(flags & FPQ_NO_SATURATE))
        return s | (mag < p->max_mag ? mag : p->max_mag);
    return fpqi_encode_rules(p, a, neg, s, mag, flags);
}

/* float32 bits of the value of a code (bits above the width ignored); NaN codes give a quiet
 * NaN with the code's sign, infinities their sign. */
FPQI_INLINE uint32_t fpqi_decode(const fpqi_params *p, uint32_t code)
{
    uint32_t s, mag, e_field, n, top;
    int e;

    code &= p->code_mask;
    if (p->family == FPQ_FAMILY_E8M0) {
        if (code == p->nan_mag)
            return 0x7fc00000u;
        e = (int)code - p->bias;
        return e >= -126 ? (uint32_t)(e + 127) << 23 : 1u << (e + 149);
    }
    s = (code & p->sign_bit) ? 0x80000000u : 0u;
    mag = code & (p->sign_bit - 1u) & p->code_mask;
    switch (p->family) {
    case FPQ_FAMILY_IEEE:
        if ((mag & p->inf_mag) == p->inf_mag)
            return s | (mag == p->inf_mag ? 0x7f800000u : 0x7fc00000u);
        break;
    case FPQ_FAMILY_FN:
        if (mag == p->nan_mag)
            return s | 0x7fc00000u;
        break;
    case FPQ_FAMILY_FNUZ:
        if (code == p->sign_bit)
            return 0xffc00000u;
        break;
    default:
        break;
    }
    e_field = mag >> p->man_bits;
    n = mag & ((1u << p->man_bits) - 1u);
    e = p->emin - p->man_bits; /* exponent of the quantum in the lowest binade */
    if (e_field) {
        n |= 1u << p->man_bits;
        e += (int)e_field - 1;
    }
    if (n == 0)
        return s;
    /* value = n * 2^e, n < 2^8: normalise n into a float32 significand. */
    top = 31u - (uint32_t)__builtin_clz(n);
    if (e + (int)top >= -126)
        return s | ((uint32_t)(e + (int)top + 127) << 23) | ((n << (23u - top)) & 0x007fffffu);
    return s | (n << (e + 149)); /* a float32 subnormal, exact since e >= -149 */
}

/*
 * Every code's dequantized value, value(code) * scale, in lut[0 .. 2^bits); entries up to 64
 * are zero-filled so that vector lookups may load a whole 16/32/64-entry table. The product is
 * the same float32 multiplication a per-element decode would do, so a table lookup gives the
 * same bits.
 */
FPQI_INLINE void fpqi_build_lut(const fpqi_params *p, float scale, float *lut)
{
    uint32_t c, count = 1u << p->bits;
    for (c = 0; c < count; c++)
        lut[c] = fpqi_u2f(fpqi_decode(p, c)) * scale;
    for (; c < 64; c++)
        lut[c] = 0.0f;
}

/*
 * Packing: the code stream is little-endian, code i in bits [w*i, w*i + w). Groups of 8 codes
 * fill exactly w bytes, which is why kernel ranges start on multiples of 8.
 */
FPQI_INLINE size_t fpqi_stream_bytes(size_t n, int bits)
{
    /* n * bits / 8 rounded up, without overflow for n < SIZE_MAX / 8. */
    return (n / 8) * (size_t)bits + ((n % 8) * (size_t)bits + 7) / 8;
}

/* Writes codes[0..count) as a stream starting at element index `begin` (a multiple of 8) of
 * `out`; the last partial byte's unused high bits are zero. */
FPQI_INLINE void fpqi_pack(const uint8_t *codes, size_t count, int bits, size_t begin,
                           uint8_t *out)
{
    uint8_t *dst = out + (begin / 8) * (size_t)bits;
    uint32_t acc = 0;
    int have = 0;
    size_t i;

    if (bits == 8) {
        memcpy(dst, codes, count);
        return;
    }
    if (bits == 4) {
        for (i = 0; i + 1 < count; i += 2)
            *dst++ = (uint8_t)(codes[i] | codes[i + 1] << 4);
        if (i < count)
            *dst = codes[i];
        return;
    }
    i = 0;
    if (bits == 6) {
        for (; i + 4 <= count; i += 4, dst += 3) {
            uint32_t v = codes[i] | (uint32_t)codes[i + 1] << 6 | (uint32_t)codes[i + 2] << 12 |
                         (uint32_t)codes[i + 3] << 18;
            dst[0] = (uint8_t)v;
            dst[1] = (uint8_t)(v >> 8);
            dst[2] = (uint8_t)(v >> 16);
        }
    }
    for (; i < count; i++) {
        acc |= (uint32_t)codes[i] << have;
        have += bits;
        while (have >= 8) {
            *dst++ = (uint8_t)acc;
            acc >>= 8;
            have -= 8;
        }
    }
    if (have > 0)
        *dst = (uint8_t)acc;
}

/* Reads `count` codes of the stream starting at element `begin` (a multiple of 8). */
FPQI_INLINE void fpqi_unpack(const uint8_t *in, size_t count, int bits, size_t begin,
                             uint8_t *codes)
{
    const uint8_t *src = in + (begin / 8) * (size_t)bits;
    uint32_t acc = 0, mask = (1u << bits) - 1u;
    int have = 0;
    size_t i;

    if (bits == 8) {
        memcpy(codes, src, count);
        return;
    }
    if (bits == 4) {
        for (i = 0; i + 1 < count; i += 2, src++) {
            codes[i] = *src & 15u;
            codes[i + 1] = *src >> 4;
        }
        if (i < count)
            codes[i] = *src & 15u;
        return;
    }
    i = 0;
    if (bits == 6) {
        for (; i + 4 <= count; i += 4, src += 3) {
            uint32_t v = src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16;
            codes[i] = (uint8_t)(v & 63u);
            codes[i + 1] = (uint8_t)(v >> 6 & 63u);
            codes[i + 2] = (uint8_t)(v >> 12 & 63u);
            codes[i + 3] = (uint8_t)(v >> 18);
        }
    }
    for (; i < count; i++) {
        if (have < bits) {
            acc |= (uint32_t)*src++ << have;
            have += 8;
        }
        codes[i] = (uint8_t)(acc & mask);
        acc >>= bits;
        have -= bits;
    }
}

#endif /* FPQ_ROUND_H */
