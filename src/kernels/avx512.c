/*
 * avx512.c - the AVX-512 (F, BW, VL, DQ) backend: 16 lanes; the primitives simd_impl.h needs,
 * and the packing of 4- and 6-bit streams 64 codes at a time.
 */
#include "../fpq_round.h"

#if FPQI_X86_SIMD

#include <immintrin.h>

/* Every file-local name below becomes avx512_<name> (simd_names.h): the single header holds all
 * backends in one translation unit. */
#define SIMD_PREFIX avx512
#include "simd_names.h"

#define SIMD_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define SIMD_NAME "avx512"
#define SIMD_KERNELS fpqi_kernels_avx512
#define LANES 16
#define PRIM static inline SIMD_TARGET __attribute__((always_inline))

typedef __m512i vi;
typedef __m512 vf;
typedef __mmask16 vm;

PRIM vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
PRIM void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
PRIM vf vf_set1(float x) { return _mm512_set1_ps(x); }
PRIM vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
PRIM vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
PRIM vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
PRIM vi vf_as_vi(vf v) { return _mm512_castps_si512(v); }
PRIM vf vi_as_vf(vi v) { return _mm512_castsi512_ps(v); }
PRIM vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
PRIM vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
PRIM vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
PRIM vi vi_xor(vi a, vi b) { return _mm512_xor_si512(a, b); }
PRIM vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
PRIM vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
PRIM vi vi_max(vi a, vi b) { return _mm512_max_epi32(a, b); }
PRIM vi vi_min(vi a, vi b) { return _mm512_min_epi32(a, b); }
PRIM vi vi_srl_n(vi a, int n) { return _mm512_srl_epi32(a, _mm_cvtsi32_si128(n)); }
PRIM vi vi_sra_n(vi a, int n) { return _mm512_sra_epi32(a, _mm_cvtsi32_si128(n)); }
PRIM vm vi_gt(vi a, vi b) { return _mm512_cmpgt_epi32_mask(a, b); }
PRIM vm vi_eq(vi a, vi b) { return _mm512_cmpeq_epi32_mask(a, b); }
PRIM vm vm_or(vm a, vm b) { return (vm)(a | b); }
PRIM vm vm_and(vm a, vm b) { return (vm)(a & b); }
PRIM vi vi_select(vm m, vi t, vi f) { return _mm512_mask_blend_epi32(m, f, t); }

PRIM void vi_store_bytes(uint8_t *p, vi codes)
{
    _mm_storeu_si128((__m128i *)(void *)p, _mm512_cvtepi32_epi8(codes));
}

PRIM vi vi_gather_u32(const uint32_t *table, vi at)
{
    return _mm512_i32gather_epi32(at, (const void *)table, 4);
}

PRIM void vi_store_u32(uint32_t *p, vi v) { _mm512_storeu_si512((void *)p, v); }

PRIM vi vi_load_bytes(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
}

/* Entries 0..127 of a table: four two-table permutes, blended on bits 5 and 6. */
PRIM vf lookup128(const float *lut, vi c)
{
    vf t0 = _mm512_permutex2var_ps(_mm512_loadu_ps(lut), c, _mm512_loadu_ps(lut + 16));
    vf t1 = _mm512_permutex2var_ps(_mm512_loadu_ps(lut + 32), c, _mm512_loadu_ps(lut + 48));
    vf t2 = _mm512_permutex2var_ps(_mm512_loadu_ps(lut + 64), c, _mm512_loadu_ps(lut + 80));
    vf t3 = _mm512_permutex2var_ps(_mm512_loadu_ps(lut + 96), c, _mm512_loadu_ps(lut + 112));
    __mmask16 b5 = _mm512_test_epi32_mask(c, _mm512_set1_epi32(32));
    __mmask16 b6 = _mm512_test_epi32_mask(c, _mm512_set1_epi32(64));
    return _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, t0, t1),
                                _mm512_mask_blend_ps(b5, t2, t3));
}

/* 16 entries: one permute; 32: a two-table permute; 64: two of those and a blend on bit 5;
 * symmetric 8-bit tables (kind 9): the magnitude's entry with the code's sign or-ed in;
 * other wide tables: a gather. */
PRIM vf vf_lookup(const float *lut, int bits, vi c)
{
    if (bits == 9) {
        vi sign = _mm512_slli_epi32(_mm512_srli_epi32(c, 7), 31);
        return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(lookup128(lut, c)), sign));
    }
    if (bits <= 4)
        return _mm512_permutexvar_ps(c, _mm512_loadu_ps(lut));
    if (bits == 5)
        return _mm512_permutex2var_ps(_mm512_loadu_ps(lut), c, _mm512_loadu_ps(lut + 16));
    if (bits == 6) {
        vf lo = _mm512_permutex2var_ps(_mm512_loadu_ps(lut), c, _mm512_loadu_ps(lut + 16));
        vf hi = _mm512_permutex2var_ps(_mm512_loadu_ps(lut + 32), c, _mm512_loadu_ps(lut + 48));
        return _mm512_mask_blend_ps(_mm512_test_epi32_mask(c, _mm512_set1_epi32(32)), lo, hi);
    }
    return _mm512_i32gather_ps(c, lut, 4);
}

/* 64 codes (one per byte) to 32 bytes: pairs combine as c0 + 16 * c1. */
PRIM void pack4_64(const uint8_t *codes, uint8_t *out)
{
    __m512i v = _mm512_loadu_si512(codes);
    __m512i pairs = _mm512_maddubs_epi16(v, _mm512_set1_epi16(0x1001));
    _mm256_storeu_si256((__m256i *)(void *)out, _mm512_cvtepi16_epi8(pairs));
}

/* 64 codes to 48 bytes: each 4 codes become the 24-bit c0 + 64 c1 + 4096 c2 + 262144 c3;
 * then the three low bytes of every 32-bit lane are gathered. */
PRIM void pack6_64(const uint8_t *codes, uint8_t *out)
{
    const __m512i drop_top = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1));
    const __m512i gather = _mm512_setr_epi32(0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0);
    __m512i v = _mm512_loadu_si512(codes);
    __m512i w = _mm512_maddubs_epi16(v, _mm512_set1_epi16(0x4001));
    __m512i d = _mm512_madd_epi16(w, _mm512_set1_epi32(0x10000001));
    d = _mm512_shuffle_epi8(d, drop_top);
    _mm512_mask_storeu_epi32(out, 0x0fff, _mm512_permutexvar_epi32(gather, d));
}

/* 32 bytes to 64 codes: byte b becomes the pair (b & 15, b >> 4). */
PRIM void unpack4_64(const uint8_t *in, uint8_t *codes)
{
    __m512i w = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)in));
    __m512i r = _mm512_or_si512(_mm512_and_si512(w, _mm512_set1_epi16(0x000f)),
                                _mm512_and_si512(_mm512_slli_epi16(w, 4),
                                                 _mm512_set1_epi16(0x0f00)));
    _mm512_storeu_si512(codes, r);
}

/* 48 bytes to 64 codes: spread each 3 bytes into a 32-bit lane, then each 6 bits to a byte. */
PRIM void unpack6_64(const uint8_t *in, uint8_t *codes)
{
    const __m512i spread_dwords = _mm512_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10,
                                                    11, 0);
    const __m512i spread_bytes = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1));
    __m512i v = _mm512_maskz_loadu_epi32(0x0fff, in);
    __m512i r;
    v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(spread_dwords, v), spread_bytes);
    r = _mm512_and_si512(v, _mm512_set1_epi32(0x3f));
    r = _mm512_or_si512(r, _mm512_and_si512(_mm512_slli_epi32(v, 2), _mm512_set1_epi32(0x3f00)));
    r = _mm512_or_si512(r, _mm512_and_si512(_mm512_slli_epi32(v, 4), _mm512_set1_epi32(0x3f0000)));
    r = _mm512_or_si512(r, _mm512_and_si512(_mm512_slli_epi32(v, 6),
                                            _mm512_set1_epi32(0x3f000000)));
    _mm512_storeu_si512(codes, r);
}

/* Packs whole groups of 64 codes; returns how many codes it packed (a multiple of 8). */
PRIM size_t simd_pack(const uint8_t *codes, size_t count, int bits, uint8_t *out)
{
    size_t i = 0;
    if (bits == 4)
        for (; i + 64 <= count; i += 64)
            pack4_64(codes + i, out + i / 2);
    else if (bits == 6)
        for (; i + 64 <= count; i += 64)
            pack6_64(codes + i, out + i / 4 * 3);
    return i;
}

PRIM size_t simd_unpack(const uint8_t *in, size_t count, int bits, uint8_t *codes)
{
    size_t i = 0;
    if (bits == 4)
        for (; i + 64 <= count; i += 64)
            unpack4_64(in + i / 2, codes + i);
    else if (bits == 6)
        for (; i + 64 <= count; i += 64)
            unpack6_64(in + i / 4 * 3, codes + i);
    return i;
}

/* float16 with F16C-style conversions (exact widening; narrowing rounds to nearest even and
 * quiets NaNs as convert.h does); bfloat16 with integer shifts and the rounding add. */
PRIM size_t convert_widen(int elem_type, const uint16_t *in, size_t n, float *out)
{
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)(in + i));
        if (elem_type == FPQ_FLOAT16)
            _mm512_storeu_ps(out + i, _mm512_cvtph_ps(h));
        else
            _mm512_storeu_si512(out + i, _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    return i;
}

PRIM size_t convert_narrow(int elem_type, const float *in, size_t n, uint16_t *out)
{
    size_t i;
    for (i = 0; i + 16 <= n; i += 16) {
        __m512 f = _mm512_loadu_ps(in + i);
        __m256i h;
        if (elem_type == FPQ_FLOAT16) {
            h = _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        } else {
            __m512i u = _mm512_castps_si512(f);
            __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
            __m512i r = _mm512_srli_epi32(
                _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16);
            __mmask16 nan = _mm512_cmpgt_epi32_mask(
                _mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                _mm512_set1_epi32(0x7f800000));
            r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16),
                                     _mm512_set1_epi32(0x40));
            h = _mm512_cvtepi32_epi16(r);
        }
        _mm256_storeu_si256((__m256i *)(void *)(out + i), h);
    }
    return i;
}

#define SIMD_WIDEN convert_widen
#define SIMD_NARROW convert_narrow

#include "simd_impl.h"

#endif /* FPQI_X86_SIMD */
