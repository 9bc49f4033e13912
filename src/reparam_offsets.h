/*
 * reparam_offsets.h - the split of per-channel exponent biases into one shared real-valued bias
 * and integer per-channel offsets (LLM-FP4's pre-shifted exponent bias; docs/reparam.md). Shared
 * by the reparameterization calls and the layer-level search, which must agree to the bit.
 */
#ifndef FPQ_REPARAM_OFFSETS_H
#define FPQ_REPARAM_OFFSETS_H

#include <math.h>

/* Round half to even, independent of the caller's rounding mode (nearbyint would follow it):
 * v - floor(v) is exact, so the tie test sees v itself (floor(v + 0.5) would round
 * 0.49999999999999994 up to 1). Finite v only. */
static inline double fpqi_round_half_even(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1.0;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1.0; /* a tie: the even neighbour */
}

/* The integer offset k_c in [0, 2^exp_bits - 1] of a channel whose own bias is b_c, under the
 * shared bias b_shared: with z = round(b_shared), k_c = clamp(round(b_c), z, z + 2^E - 1) - z.
 * b_c = +Inf (an all-zero channel: no range) clamps to the top of the window, -Inf to 0; NaN
 * (a channel holding NaN) gets 0, the offset of the largest range. */
static inline int fpqi_reparam_offset(double b_c, double b_shared, int exp_bits)
{
    const double z = fpqi_round_half_even(b_shared);
    const double window = ldexp(1.0, exp_bits) - 1.0;
    double r;

    if (b_c != b_c)
        return 0;
    r = b_c >= z + window ? z + window : b_c <= z ? z : fpqi_round_half_even(b_c);
    if (r > z + window)
        r = z + window;
    if (r < z)
        r = z;
    return (int)(r - z);
}

/* A channel's own real-valued bias: the one whose scale 2^(fmt_bias - b) maps its clipping
 * range m onto the format's largest value, b = fmt_bias + log2(max_finite) - log2(m) (for the
 * finite family's default bias, LLM-FP4's 2^E - log2(m) + log2(2 - 2^-M) - 1). m = 0 gives
 * +Inf (no range), m = +Inf gives -Inf, NaN gives NaN: fpqi_reparam_offset's special cases. */
static inline double fpqi_reparam_channel_bias(int fmt_bias, double log2_max_finite, float m)
{
    if (m != m)
        return m;
    if (m == 0.0f)
        return HUGE_VAL;
    if (m > 3.4028234663852886e38)
        return -HUGE_VAL;
    return (double)fmt_bias + log2_max_finite - log2((double)m);
}

#endif
