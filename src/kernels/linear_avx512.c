/*
 * linear_avx512.c - the W4A4 linear kernel with AVX-512 VNNI: vpdpbusd multiplies 64
 * unsigned weight bytes by 64 signed activation bytes and adds each 4 products into an int32
 * lane, without saturation. The weights are made unsigned by adding 128 (the nibble table
 * holds int + 128, at most 255); the sum then holds 128 * (sum of the token's integers) too,
 * which the layout keeps per token and the epilogue subtracts: exact in int32.
 */
#include "../linear.h"

#if FPQI_X86_SIMD

#include <immintrin.h>

#define LIN_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))
#define LIN_PREFIX linear_avx512
#define LIN_KERNEL fpqi_linear_avx512_vnni
#define LIN_LANES 16
#define LIN_TILES 2
#define LIN_TOKENS 8
#define LIN_BIASED(pb) 1 /* vpdpbusd: unsigned weights, always */

#define LINEAR_AVX512_PRIM static inline LIN_TARGET __attribute__((always_inline))

LINEAR_AVX512_PRIM __m512i linear_avx512_zero(void) { return _mm512_setzero_si512(); }
LINEAR_AVX512_PRIM __m512i linear_avx512_load(const uint8_t *p) { return _mm512_loadu_si512(p); }

/* Biased: int + 128 (the flip of the top bit, for |int| <= 127). */
LINEAR_AVX512_PRIM __m512i linear_avx512_lut(const int8_t *lut, int biased)
{
    __m512i t = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)lut));
    return biased ? _mm512_xor_si512(t, _mm512_set1_epi8((char)0x80)) : t;
}

LINEAR_AVX512_PRIM __m512i linear_avx512_lo(__m512i raw, __m512i lut)
{
    return _mm512_shuffle_epi8(lut, _mm512_and_si512(raw, _mm512_set1_epi8(0x0f)));
}

LINEAR_AVX512_PRIM __m512i linear_avx512_hi(__m512i raw, __m512i lut)
{
    return _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(raw, 4),
                                                     _mm512_set1_epi8(0x0f)));
}

LINEAR_AVX512_PRIM __m512i linear_avx512_wide(__m512i raw, int biased)
{
    return biased ? _mm512_xor_si512(raw, _mm512_set1_epi8((char)0x80)) : raw;
}

LINEAR_AVX512_PRIM __m512i linear_avx512_bcast(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm512_set1_epi32(v);
}

LINEAR_AVX512_PRIM __m512i linear_avx512_dot(__m512i acc, __m512i w, __m512i x, int biased)
{
    (void)biased; /* always 1 here */
    return _mm512_dpbusd_epi32(acc, w, x);
}

LINEAR_AVX512_PRIM __m512i linear_avx512_add(__m512i a, __m512i b) { return _mm512_add_epi32(a, b); }

LINEAR_AVX512_PRIM void linear_avx512_store(int32_t *p, __m512i acc)
{
    _mm512_storeu_si512(p, acc);
}

#define lin_b __m512i
#define lin_acc __m512i
#define lin_zero linear_avx512_zero
#define lin_load linear_avx512_load
#define lin_lut linear_avx512_lut
#define lin_lo linear_avx512_lo
#define lin_hi linear_avx512_hi
#define lin_wide linear_avx512_wide
#define lin_bcast linear_avx512_bcast
#define lin_dot linear_avx512_dot
#define lin_store linear_avx512_store
#define lin_add linear_avx512_add

#include "linear_impl.h"

#undef LINEAR_AVX512_PRIM

#endif /* FPQI_X86_SIMD */
