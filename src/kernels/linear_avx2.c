/*
 * linear_avx2.c - the W4A4 linear kernel with AVX2 (also taken by AVX-512 CPUs without VNNI).
 * vpmaddubsw multiplies unsigned by signed bytes and adds pairs into int16 with saturation;
 * vpmaddwd by ones then adds pairs of those into int32 lanes. Two ways to keep the int16
 * pairs exact:
 *   - activations of at most 64 in magnitude (every 4-bit format, float6_e2m3fn): weights
 *     made unsigned by adding 128, as for VNNI: a pair is at most 2 * 255 * 64 = 32640;
 *   - otherwise the sign moves to the weights: |x| (at most 127) times sign(x) * w (at most
 *     127 in magnitude), a pair at most 2 * 127 * 127 = 32258; one more instruction a step.
 */
#include "../linear.h"

#if FPQI_X86_SIMD

#include <immintrin.h>

#define LIN_TARGET __attribute__((target("avx2")))
#define LIN_PREFIX linear_avx2
#define LIN_KERNEL fpqi_linear_avx2
#define LIN_LANES 8
#define LIN_TILES 1
#define LIN_TOKENS 4
#define LIN_BIASED(pb) ((pb)->x_max <= 64)

#define LINEAR_AVX2_PRIM static inline LIN_TARGET __attribute__((always_inline))

LINEAR_AVX2_PRIM __m256i linear_avx2_zero(void) { return _mm256_setzero_si256(); }

LINEAR_AVX2_PRIM __m256i linear_avx2_load(const uint8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* Biased: int + 128 (the flip of the top bit, for |int| <= 127). */
LINEAR_AVX2_PRIM __m256i linear_avx2_lut(const int8_t *lut, int biased)
{
    __m256i t =
        _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)lut));
    return biased ? _mm256_xor_si256(t, _mm256_set1_epi8((char)0x80)) : t;
}

LINEAR_AVX2_PRIM __m256i linear_avx2_lo(__m256i raw, __m256i lut)
{
    return _mm256_shuffle_epi8(lut, _mm256_and_si256(raw, _mm256_set1_epi8(0x0f)));
}

LINEAR_AVX2_PRIM __m256i linear_avx2_hi(__m256i raw, __m256i lut)
{
    return _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(raw, 4),
                                                     _mm256_set1_epi8(0x0f)));
}

LINEAR_AVX2_PRIM __m256i linear_avx2_wide(__m256i raw, int biased)
{
    return biased ? _mm256_xor_si256(raw, _mm256_set1_epi8((char)0x80)) : raw;
}

LINEAR_AVX2_PRIM __m256i linear_avx2_bcast(const int8_t *x)
{
    int32_t v;
    memcpy(&v, x, 4);
    return _mm256_set1_epi32(v);
}

LINEAR_AVX2_PRIM __m256i linear_avx2_dot(__m256i acc, __m256i w, __m256i x, int biased)
{
    __m256i pairs = biased ? _mm256_maddubs_epi16(w, x)
                           : _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(w, x));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

LINEAR_AVX2_PRIM __m256i linear_avx2_add(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }

LINEAR_AVX2_PRIM void linear_avx2_store(int32_t *p, __m256i acc)
{
    _mm256_storeu_si256((__m256i *)(void *)p, acc);
}

#define lin_b __m256i
#define lin_acc __m256i
#define lin_zero linear_avx2_zero
#define lin_load linear_avx2_load
#define lin_lut linear_avx2_lut
#define lin_lo linear_avx2_lo
#define lin_hi linear_avx2_hi
#define lin_wide linear_avx2_wide
#define lin_bcast linear_avx2_bcast
#define lin_dot linear_avx2_dot
#define lin_store linear_avx2_store
#define lin_add linear_avx2_add

#include "linear_impl.h"

#undef LINEAR_AVX2_PRIM

#endif /* FPQI_X86_SIMD */
