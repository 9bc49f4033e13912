/*
 * avx2.c - the AVX2 backend (with FMA and F16C, as the CPUs that have AVX2 do): 8 lanes; the
 * primitives simd_impl.h needs, and the packing of 4- and 6-bit streams 32 codes at a time.
 */
#include "../fpq_round.h"

#if FPQI_X86_SIMD

#include <immintrin.h>

/* Every file-local name below becomes avx2_<name> (simd_names.h): the single header holds all
 * backends in one translation unit. */
#define SIMD_PREFIX avx2
#include "simd_names.h"

#define SIMD_TARGET __attribute__((target("avx2,fma,f16c")))
#define SIMD_NAME "avx2"
#define SIMD_KERNELS fpqi_kernels_avx2
#define LANES 8
#define PRIM static inline SIMD_TARGET __attribute__((always_inline))

typedef __m256i vi;
typedef __m256 vf;
typedef __m256i vm;

PRIM vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
PRIM void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
PRIM vf vf_set1(float x) { return _mm256_set1_ps(x); }
PRIM vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
PRIM vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
PRIM vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
PRIM vi vf_as_vi(vf v) { return _mm256_castps_si256(v); }
PRIM vf vi_as_vf(vi v) { return _mm256_castsi256_ps(v); }
PRIM vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
PRIM vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
PRIM vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
PRIM vi vi_xor(vi a, vi b) { return _mm256_xor_si256(a, b); }
PRIM vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
PRIM vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
PRIM vi vi_max(vi a, vi b) { return _mm256_max_epi32(a, b); }
PRIM vi vi_min(vi a, vi b) { return _mm256_min_epi32(a, b); }
PRIM vi vi_srl_n(vi a, int n) { return _mm256_srl_epi32(a, _mm_cvtsi32_si128(n)); }
PRIM vi vi_sra_n(vi a, int n) { return _mm256_sra_epi32(a, _mm_cvtsi32_si128(n)); }
PRIM vm vi_gt(vi a, vi b) { return _mm256_cmpgt_epi32(a, b); }
PRIM vm vi_eq(vi a, vi b) { return _mm256_cmpeq_epi32(a, b); }
PRIM vm vm_or(vm a, vm b) { return _mm256_or_si256(a, b); }
PRIM vm vm_and(vm a, vm b) { return _mm256_and_si256(a, b); }
PRIM vi vi_select(vm m, vi t, vi f) { return _mm256_blendv_epi8(f, t, m); }

/* The low byte of each 32-bit lane, gathered into 8 bytes. */
PRIM void vi_store_bytes(uint8_t *p, vi codes)
{
    const __m256i low_bytes = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                               -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
                                               -1, -1, -1, -1, -1, -1);
    __m256i b = _mm256_shuffle_epi8(codes, low_bytes);
    b = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    _mm_storel_epi64((__m128i *)(void *)p, _mm256_castsi256_si128(b));
}

PRIM vi vi_gather_u32(const uint32_t *table, vi at)
{
    return _mm256_i32gather_epi32((const int *)(const void *)table, at, 4);
}

PRIM void vi_store_u32(uint32_t *p, vi v) { _mm256_storeu_si256((__m256i *)(void *)p, v); }

PRIM vi vi_load_bytes(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
}

/* Up to 8 entries: one permute; 16: two and a blend on bit 3 (moved to the sign bit that
 * blendv reads); wider tables: a gather. */
PRIM vf vf_lookup(const float *lut, int bits, vi c)
{
    if (bits <= 3)
        return _mm256_permutevar8x32_ps(_mm256_loadu_ps(lut), c);
    if (bits == 4) {
        vf lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(lut), c);
        vf hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(lut + 8), c);
        return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
    }
    return _mm256_i32gather_ps(lut, c, 4);
}

/* 32 codes to 16 bytes: pairs combine as c0 + 16 * c1. */
PRIM void pack4_32(const uint8_t *codes, uint8_t *out)
{
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
    __m256i pairs = _mm256_maddubs_epi16(v, _mm256_set1_epi16(0x1001));
    __m256i b = _mm256_packus_epi16(pairs, pairs); /* per 128-bit half: 8 bytes, twice */
    b = _mm256_permute4x64_epi64(b, 0x08);
    _mm_storeu_si128((__m128i *)(void *)out, _mm256_castsi256_si128(b));
}

/* 32 codes to 24 bytes: c0 + 64 c1 + 4096 c2 + 262144 c3 per lane, three low bytes each. */
PRIM void pack6_32(const uint8_t *codes, uint8_t *out)
{
    const __m256i drop_top = _mm256_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1,
                                              -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14,
                                              -1, -1, -1, -1);
    __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)codes);
    __m256i w = _mm256_maddubs_epi16(v, _mm256_set1_epi16(0x4001));
    __m256i d = _mm256_madd_epi16(w, _mm256_set1_epi32(0x10000001));
    d = _mm256_shuffle_epi8(d, drop_top);
    d = _mm256_permutevar8x32_epi32(d, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7));
    _mm_storeu_si128((__m128i *)(void *)out, _mm256_castsi256_si128(d));
    _mm_storel_epi64((__m128i *)(void *)(out + 16), _mm256_extracti128_si256(d, 1));
}

/* 16 bytes to 32 codes. */
PRIM void unpack4_32(const uint8_t *in, uint8_t *codes)
{
    __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)in));
    __m256i r = _mm256_or_si256(_mm256_and_si256(w, _mm256_set1_epi16(0x000f)),
                                _mm256_and_si256(_mm256_slli_epi16(w, 4),
                                                 _mm256_set1_epi16(0x0f00)));
    _mm256_storeu_si256((__m256i *)(void *)codes, r);
}

/* 24 bytes to 32 codes. */
PRIM void unpack6_32(const uint8_t *in, uint8_t *codes)
{
    const __m256i spread_bytes = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10,
                                                  11, -1, 0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1,
                                                  9, 10, 11, -1);
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)in);
    __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(in + 16));
    __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
    __m256i r;
    /* dwords 0..5 hold the 24 bytes: lanes get dwords 0,1,2 and 3,4,5. */
    v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0));
    v = _mm256_shuffle_epi8(v, spread_bytes);
    r = _mm256_and_si256(v, _mm256_set1_epi32(0x3f));
    r = _mm256_or_si256(r, _mm256_and_si256(_mm256_slli_epi32(v, 2), _mm256_set1_epi32(0x3f00)));
    r = _mm256_or_si256(r, _mm256_and_si256(_mm256_slli_epi32(v, 4), _mm256_set1_epi32(0x3f0000)));
    r = _mm256_or_si256(r, _mm256_and_si256(_mm256_slli_epi32(v, 6),
                                            _mm256_set1_epi32(0x3f000000)));
    _mm256_storeu_si256((__m256i *)(void *)codes, r);
}

PRIM size_t simd_pack(const uint8_t *codes, size_t count, int bits, uint8_t *out)
{
    size_t i = 0;
    if (bits == 4)
        for (; i + 32 <= count; i += 32)
            pack4_32(codes + i, out + i / 2);
    else if (bits == 6)
        for (; i + 32 <= count; i += 32)
            pack6_32(codes + i, out + i / 4 * 3);
    return i;
}

PRIM size_t simd_unpack(const uint8_t *in, size_t count, int bits, uint8_t *codes)
{
    size_t i = 0;
    if (bits == 4)
        for (; i + 32 <= count; i += 32)
            unpack4_32(in + i / 2, codes + i);
    else if (bits == 6)
        for (; i + 32 <= count; i += 32)
            unpack6_32(in + i / 4 * 3, codes + i);
    return i;
}

/* float16 with F16C (exact widening; narrowing rounds to nearest even and quiets NaNs as
 * convert.h does); bfloat16 with integer shifts and the rounding add. */
PRIM size_t convert_widen(int elem_type, const uint16_t *in, size_t n, float *out)
{
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        if (elem_type == FPQ_FLOAT16)
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
        else
            _mm256_storeu_si256((__m256i *)(void *)(out + i),
                                _mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    return i;
}

PRIM size_t convert_narrow(int elem_type, const float *in, size_t n, uint16_t *out)
{
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(in + i);
        __m128i h;
        if (elem_type == FPQ_FLOAT16) {
            h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        } else {
            __m256i u = _mm256_castps_si256(f);
            __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
            __m256i r = _mm256_srli_epi32(
                _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
            __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                             _mm256_set1_epi32(0x7f800000));
            __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
            r = _mm256_blendv_epi8(r, q, nan);
            /* 32-bit lanes to 16: packus works per 128-bit half, then the halves join. */
            r = _mm256_packus_epi32(r, r);
            h = _mm256_castsi256_si128(_mm256_permute4x64_epi64(r, 0x08));
        }
        _mm_storeu_si128((__m128i *)(void *)(out + i), h);
    }
    return i;
}

#define SIMD_WIDEN convert_widen
#define SIMD_NARROW convert_narrow

#include "simd_impl.h"

#endif /* FPQI_X86_SIMD */
