/*
 * linear_neon.c - the W4A4 linear kernel for AArch64, twice from linear_impl.h: with the
 * Armv8.2 dot product (sdot: 16 signed bytes times 16, each 4 products added into an int32
 * lane; chosen when the kernel reports HWCAP_ASIMDDP) and with base Advanced SIMD (smull
 * into int16, exact since |products| <= 127 * 127, then two pairwise widening adds).
 * tbl turns 4-bit codes into integers. Both operands are signed: nothing to correct.
 */
#include "../linear.h"

#if FPQI_ARM_SIMD

#include <arm_neon.h>

#define LINEAR_NEON_PRIM static inline __attribute__((always_inline))

LINEAR_NEON_PRIM int32x4_t linear_neon_zero(void) { return vdupq_n_s32(0); }
LINEAR_NEON_PRIM int8x16_t linear_neon_load(const uint8_t *p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }
LINEAR_NEON_PRIM int8x16_t linear_neon_lut(const int8_t *lut, int biased)
{
    (void)biased; /* always 0 here */
    return vld1q_s8(lut);
}

LINEAR_NEON_PRIM int8x16_t linear_neon_lo(int8x16_t raw, int8x16_t lut)
{
    return vqtbl1q_s8(lut, vandq_u8(vreinterpretq_u8_s8(raw), vdupq_n_u8(15)));
}

LINEAR_NEON_PRIM int8x16_t linear_neon_hi(int8x16_t raw, int8x16_t lut)
{
    return vqtbl1q_s8(lut, vshrq_n_u8(vreinterpretq_u8_s8(raw), 4));
}

LINEAR_NEON_PRIM int8x16_t linear_neon_wide(int8x16_t raw, int biased)
{
    (void)biased;
    return raw;
}

LINEAR_NEON_PRIM int8x16_t linear_neon_bcast(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return vreinterpretq_s8_s32(vdupq_n_s32(v));
}

LINEAR_NEON_PRIM int32x4_t linear_neon_dot_plain(int32x4_t acc, int8x16_t w, int8x16_t x,
                                                 int biased)
{
    int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(w), vget_low_s8(x)));
    int32x4_t hi = vpaddlq_s16(vmull_high_s8(w, x));
    (void)biased;
    return vaddq_s32(acc, vpaddq_s32(lo, hi));
}

LINEAR_NEON_PRIM int32x4_t linear_neon_add(int32x4_t a, int32x4_t b) { return vaddq_s32(a, b); }

LINEAR_NEON_PRIM void linear_neon_store(int32_t *p, int32x4_t acc) { vst1q_s32(p, acc); }

/* The plain Advanced SIMD kernel. */
#define lin_b int8x16_t
#define lin_acc int32x4_t
#define LIN_LANES 4
#define LIN_TILES 1
#define LIN_TOKENS 4
#define LIN_BIASED(pb) 0 /* signed x signed: nothing to correct */
#define lin_zero linear_neon_zero
#define lin_load linear_neon_load
#define lin_lut linear_neon_lut
#define lin_lo linear_neon_lo
#define lin_hi linear_neon_hi
#define lin_wide linear_neon_wide
#define lin_bcast linear_neon_bcast
#define lin_store linear_neon_store
#define lin_add linear_neon_add
#define lin_dot linear_neon_dot_plain
#define LIN_TARGET
#define LIN_PREFIX linear_neon
#define LIN_KERNEL fpqi_linear_neon
#include "linear_impl.h"

/* The same with sdot, in functions compiled for Armv8.2 + dotprod. */
#define LINEAR_NEON_DOT_TARGET __attribute__((target("arch=armv8.2-a+dotprod")))

static inline LINEAR_NEON_DOT_TARGET __attribute__((always_inline)) int32x4_t
linear_neon_dot_sdot(int32x4_t acc, int8x16_t w, int8x16_t x, int biased)
{
    (void)biased;
    return vdotq_s32(acc, w, x);
}

#define lin_b int8x16_t
#define lin_acc int32x4_t
#define LIN_LANES 4
#define LIN_TILES 1
#define LIN_TOKENS 4
#define LIN_BIASED(pb) 0 /* signed x signed: nothing to correct */
#define lin_zero linear_neon_zero
#define lin_load linear_neon_load
#define lin_lut linear_neon_lut
#define lin_lo linear_neon_lo
#define lin_hi linear_neon_hi
#define lin_wide linear_neon_wide
#define lin_bcast linear_neon_bcast
#define lin_store linear_neon_store
#define lin_add linear_neon_add
#define lin_dot linear_neon_dot_sdot
#define LIN_TARGET LINEAR_NEON_DOT_TARGET
#define LIN_PREFIX linear_neondot
#define LIN_KERNEL fpqi_linear_neon_dot
#include "linear_impl.h"

#undef LINEAR_NEON_DOT_TARGET
#undef LINEAR_NEON_PRIM

#endif /* FPQI_ARM_SIMD */
