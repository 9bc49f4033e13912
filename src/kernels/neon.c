/*
 * neon.c - the AArch64 Advanced SIMD backend: 4 lanes; the primitives simd_impl.h needs, and
 * the packing of 4- and 6-bit streams with the structure loads and stores (vld2/vst2,
 * vld4/vst3), 32 or 64 codes at a time.
 */
#include "../fpq_round.h"

#if FPQI_ARM_SIMD

#include <arm_neon.h>

/* Every file-local name below becomes neon_<name> (simd_names.h): the single header holds all
 * backends in one translation unit. */
#define SIMD_PREFIX neon
#include "simd_names.h"

/* Advanced SIMD is part of the AArch64 base architecture: no target attribute needed. */
#define SIMD_TARGET
#define SIMD_NAME "neon"
#define SIMD_KERNELS fpqi_kernels_neon
#define LANES 4
#define PRIM static inline SIMD_TARGET __attribute__((always_inline))

typedef int32x4_t vi;
typedef float32x4_t vf;
typedef uint32x4_t vm;

PRIM vf vf_load(const float *p) { return vld1q_f32(p); }
PRIM void vf_store(float *p, vf v) { vst1q_f32(p, v); }
PRIM vf vf_set1(float x) { return vdupq_n_f32(x); }
PRIM vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
PRIM vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
PRIM vf vf_div(vf a, vf b) { return vdivq_f32(a, b); } /* FDIV: correctly rounded */
PRIM vi vf_as_vi(vf v) { return vreinterpretq_s32_f32(v); }
PRIM vf vi_as_vf(vi v) { return vreinterpretq_f32_s32(v); }
PRIM vi vi_set1(int32_t x) { return vdupq_n_s32(x); }
PRIM vi vi_and(vi a, vi b) { return vandq_s32(a, b); }
PRIM vi vi_or(vi a, vi b) { return vorrq_s32(a, b); }
PRIM vi vi_xor(vi a, vi b) { return veorq_s32(a, b); }
PRIM vi vi_add(vi a, vi b) { return vaddq_s32(a, b); }
PRIM vi vi_sub(vi a, vi b) { return vsubq_s32(a, b); }
PRIM vi vi_max(vi a, vi b) { return vmaxq_s32(a, b); }
PRIM vi vi_min(vi a, vi b) { return vminq_s32(a, b); }
/* Shifts by a run-time count n in 0..31: SSHL/USHL shift right for negative counts. */
PRIM vi vi_srl_n(vi a, int n)
{
    return vreinterpretq_s32_u32(vshlq_u32(vreinterpretq_u32_s32(a), vdupq_n_s32(-n)));
}
PRIM vi vi_sra_n(vi a, int n) { return vshlq_s32(a, vdupq_n_s32(-n)); }
PRIM vm vi_gt(vi a, vi b) { return vcgtq_s32(a, b); }
PRIM vm vi_eq(vi a, vi b) { return vceqq_s32(a, b); }
PRIM vm vm_or(vm a, vm b) { return vorrq_u32(a, b); }
PRIM vm vm_and(vm a, vm b) { return vandq_u32(a, b); }
PRIM vi vi_select(vm m, vi t, vi f) { return vbslq_s32(m, t, f); }

/* The low byte of each 32-bit lane, narrowed into 4 bytes. */
PRIM void vi_store_bytes(uint8_t *p, vi codes)
{
    uint16x4_t h = vmovn_u32(vreinterpretq_u32_s32(codes));
    uint8x8_t b = vmovn_u16(vcombine_u16(h, h));
    uint32_t w = vget_lane_u32(vreinterpret_u32_u8(b), 0);
    memcpy(p, &w, sizeof w);
}

/* No gather instruction: four lane loads. */
PRIM vi vi_gather_u32(const uint32_t *table, vi at)
{
    uint32x4_t v = vdupq_n_u32(0);
    v = vld1q_lane_u32(table + vgetq_lane_s32(at, 0), v, 0);
    v = vld1q_lane_u32(table + vgetq_lane_s32(at, 1), v, 1);
    v = vld1q_lane_u32(table + vgetq_lane_s32(at, 2), v, 2);
    v = vld1q_lane_u32(table + vgetq_lane_s32(at, 3), v, 3);
    return vreinterpretq_s32_u32(v);
}

PRIM void vi_store_u32(uint32_t *p, vi v) { vst1q_u32(p, vreinterpretq_u32_s32(v)); }

PRIM vi vi_load_bytes(const uint8_t *p)
{
    uint32_t w;
    uint16x8_t h;
    memcpy(&w, p, sizeof w);
    h = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(w)));
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(h)));
}

/* 64 bytes of the table: 16 floats. */
PRIM uint8x16x4_t lut_bytes(const float *lut)
{
    uint8x16x4_t t;
    t.val[0] = vreinterpretq_u8_f32(vld1q_f32(lut));
    t.val[1] = vreinterpretq_u8_f32(vld1q_f32(lut + 4));
    t.val[2] = vreinterpretq_u8_f32(vld1q_f32(lut + 8));
    t.val[3] = vreinterpretq_u8_f32(vld1q_f32(lut + 12));
    return t;
}

/*
 * Up to 64 entries: byte lookups, the bytes 4c .. 4c + 3 of entry c in each lane (c < 64, so
 * 4c + 3 < 256 and nothing carries between bytes); TBL gives 0 for an index past its 64
 * bytes and TBX keeps the lane, so the 16-entry tables past the first take index - 64k.
 * Wider tables: one load per lane.
 */
PRIM vf vf_lookup(const float *lut, int bits, vi c)
{
    uint8x16_t idx, r, step;
    int k;

    if (bits > 6) {
        vf v = vdupq_n_f32(0.0f);
        v = vld1q_lane_f32(lut + vgetq_lane_s32(c, 0), v, 0);
        v = vld1q_lane_f32(lut + vgetq_lane_s32(c, 1), v, 1);
        v = vld1q_lane_f32(lut + vgetq_lane_s32(c, 2), v, 2);
        v = vld1q_lane_f32(lut + vgetq_lane_s32(c, 3), v, 3);
        return v;
    }
    idx = vreinterpretq_u8_u32(vmlaq_u32(vdupq_n_u32(0x03020100u), vreinterpretq_u32_s32(c),
                                         vdupq_n_u32(0x04040404u)));
    r = vqtbl4q_u8(lut_bytes(lut), idx);
    step = vdupq_n_u8(64);
    for (k = 1; k < (1 << bits) / 16; k++) {
        idx = vsubq_u8(idx, step);
        r = vqtbx4q_u8(r, lut_bytes(lut + 16 * k), idx);
    }
    return vreinterpretq_f32_u8(r);
}

/* 4-bit: code pairs (even, odd) become the byte even + 16 * odd, and back. */
PRIM void pack4_32(const uint8_t *codes, uint8_t *out)
{
    uint8x16x2_t v = vld2q_u8(codes);
    vst1q_u8(out, vsliq_n_u8(v.val[0], v.val[1], 4));
}

PRIM void pack4_16(const uint8_t *codes, uint8_t *out)
{
    uint8x8x2_t v = vld2_u8(codes);
    vst1_u8(out, vsli_n_u8(v.val[0], v.val[1], 4));
}

PRIM void unpack4_32(const uint8_t *in, uint8_t *codes)
{
    uint8x16_t b = vld1q_u8(in);
    uint8x16x2_t v;
    v.val[0] = vandq_u8(b, vdupq_n_u8(0x0f));
    v.val[1] = vshrq_n_u8(b, 4);
    vst2q_u8(codes, v);
}

PRIM void unpack4_16(const uint8_t *in, uint8_t *codes)
{
    uint8x8_t b = vld1_u8(in);
    uint8x8x2_t v;
    v.val[0] = vand_u8(b, vdup_n_u8(0x0f));
    v.val[1] = vshr_n_u8(b, 4);
    vst2_u8(codes, v);
}

/*
 * 6-bit: codes c0..c3 of each group of 4 become the bytes
 *   c0 | c1 << 6,  c1 >> 2 | c2 << 4,  c2 >> 4 | c3 << 2,
 * de-interleaved by vld4 and interleaved by vst3 (and the reverse).
 */
PRIM void pack6_64(const uint8_t *codes, uint8_t *out)
{
    uint8x16x4_t c = vld4q_u8(codes);
    uint8x16x3_t b;
    b.val[0] = vsliq_n_u8(c.val[0], c.val[1], 6);
    b.val[1] = vsliq_n_u8(vshrq_n_u8(c.val[1], 2), c.val[2], 4);
    b.val[2] = vsliq_n_u8(vshrq_n_u8(c.val[2], 4), c.val[3], 2);
    vst3q_u8(out, b);
}

PRIM void pack6_32(const uint8_t *codes, uint8_t *out)
{
    uint8x8x4_t c = vld4_u8(codes);
    uint8x8x3_t b;
    b.val[0] = vsli_n_u8(c.val[0], c.val[1], 6);
    b.val[1] = vsli_n_u8(vshr_n_u8(c.val[1], 2), c.val[2], 4);
    b.val[2] = vsli_n_u8(vshr_n_u8(c.val[2], 4), c.val[3], 2);
    vst3_u8(out, b);
}

PRIM void unpack6_64(const uint8_t *in, uint8_t *codes)
{
    const uint8x16_t mask = vdupq_n_u8(0x3f);
    uint8x16x3_t b = vld3q_u8(in);
    uint8x16x4_t c;
    c.val[0] = vandq_u8(b.val[0], mask);
    c.val[1] = vandq_u8(vsliq_n_u8(vshrq_n_u8(b.val[0], 6), b.val[1], 2), mask);
    c.val[2] = vandq_u8(vsliq_n_u8(vshrq_n_u8(b.val[1], 4), b.val[2], 4), mask);
    c.val[3] = vshrq_n_u8(b.val[2], 2);
    vst4q_u8(codes, c);
}

PRIM void unpack6_32(const uint8_t *in, uint8_t *codes)
{
    const uint8x8_t mask = vdup_n_u8(0x3f);
    uint8x8x3_t b = vld3_u8(in);
    uint8x8x4_t c;
    c.val[0] = vand_u8(b.val[0], mask);
    c.val[1] = vand_u8(vsli_n_u8(vshr_n_u8(b.val[0], 6), b.val[1], 2), mask);
    c.val[2] = vand_u8(vsli_n_u8(vshr_n_u8(b.val[1], 4), b.val[2], 4), mask);
    c.val[3] = vshr_n_u8(b.val[2], 2);
    vst4_u8(codes, c);
}

/* Packs whole groups of 32 (4-bit) or 64 (6-bit) codes, then at most one group of half that
 * size; returns how many codes it packed (a multiple of 8). */
PRIM size_t simd_pack(const uint8_t *codes, size_t count, int bits, uint8_t *out)
{
    size_t i = 0;
    if (bits == 4) {
        for (; i + 32 <= count; i += 32)
            pack4_32(codes + i, out + i / 2);
        if (i + 16 <= count) {
            pack4_16(codes + i, out + i / 2);
            i += 16;
        }
    } else if (bits == 6) {
        for (; i + 64 <= count; i += 64)
            pack6_64(codes + i, out + i / 4 * 3);
        if (i + 32 <= count) {
            pack6_32(codes + i, out + i / 4 * 3);
            i += 32;
        }
    }
    return i;
}

PRIM size_t simd_unpack(const uint8_t *in, size_t count, int bits, uint8_t *codes)
{
    size_t i = 0;
    if (bits == 4) {
        for (; i + 32 <= count; i += 32)
            unpack4_32(in + i / 2, codes + i);
        if (i + 16 <= count) {
            unpack4_16(in + i / 2, codes + i);
            i += 16;
        }
    } else if (bits == 6) {
        for (; i + 64 <= count; i += 64)
            unpack6_64(in + i / 4 * 3, codes + i);
        if (i + 32 <= count) {
            unpack6_32(in + i / 4 * 3, codes + i);
            i += 32;
        }
    }
    return i;
}

#include "simd_impl.h"

#endif /* FPQI_ARM_SIMD */
