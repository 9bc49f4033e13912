/*
 * simd_impl.h - the vector kernels, written once for every SIMD backend.
 *
 * A backend file (avx2.c, avx512.c, neon.c) defines, with its target attribute SIMD_TARGET:
 *   LANES, types vi (int32 lanes), vf (float lanes), vm (lane mask), and the primitives
 *     vf_load vf_store vf_set1 vf_add vf_mul vf_div vf_as_vi vi_as_vf
 *     vi_set1 vi_and vi_or vi_xor vi_add vi_sub vi_max vi_min vi_srl_n vi_sra_n
 *     vi_gt vi_eq vm_or vm_and vi_select
 *     vi_store_bytes (LANES codes -> LANES bytes)  vi_load_bytes (LANES bytes -> lanes)
 *     vf_lookup (a table of 2^bits floats indexed by codes)
 *     vi_gather_u32 (lanes of a uint32 table)  vi_store_u32 (lanes to uint32s)
 *     simd_pack (codes -> stream for 4/6-bit widths, returns how many codes it packed)
 *     simd_unpack (the reverse)
 *   and SIMD_KERNELS, the name of the table to define;
 * then includes this file. The arithmetic below is fpqi_encode() of fpq_round.h done on all
 * lanes at once, with selects instead of branches: the tests hold it to the scalar bits.
 *
 * Before its primitives the backend defines SIMD_PREFIX and includes simd_names.h, which
 * turns every file-local name of the backend and of this file into <prefix>_<name>; this
 * file ends by including it again, which undefines those names and the backend's macros. So
 * every backend fits in one translation unit (the single header, lib/fpq_single.h).
 */
#ifndef SIMD_TARGET
#  error "define the backend's primitives before including simd_impl.h"
#endif

#include "../convert.h"

#define SIMD_FN static SIMD_TARGET
/* The per-vector steps must inline into the loops: a call would spill every constant. */
#define SIMD_STEP static inline SIMD_TARGET __attribute__((always_inline))

/* Per-call constants of the lane-wise encoder, taken from fpqi_params and the scalar helpers
 * so that both take every decision from the same source. */
typedef struct simd_encoder {
    vi round_add, odd_mask, low_limit, magic_bits, max_mag, sign_bit;
    vi ovf_pos, nan_pos, floor_code;
    vf magic;
    int shift; /* 23 - M */
    int saturate, is_unsigned, is_e8m0, is_fnuz;
    int common; /* signed, saturating, neither FNUZ nor E8M0 */
} simd_encoder;

SIMD_STEP void simd_encoder_init(simd_encoder *k, const fpqi_params *p, unsigned flags)
{
    k->shift = 23 - p->man_bits;
    /* The rebias is subtracted before the shift: lanes where that goes negative are below
     * low_limit and take the other rounding. */
    k->round_add = vi_set1((int32_t)(p->round_add - (p->rebias << k->shift)));
    k->odd_mask = vi_set1((int32_t)p->odd_mask);
    k->low_limit = vi_set1((int32_t)p->low_limit);
    k->magic = vf_set1(p->magic);
    k->magic_bits = vi_set1((int32_t)fpqi_f2u(p->magic));
    k->max_mag = vi_set1((int32_t)p->max_mag);
    k->sign_bit = vi_set1((int32_t)p->sign_bit);
    /* Every family's overflow code is the positive one with the sign or-ed in (FNUZ's NaN has
     * it already; unsigned formats have no sign). Saturation is a plain minimum then. */
    k->ovf_pos = vi_set1((int32_t)fpqi_overflow_code(p, 0, flags));
    k->saturate = fpqi_overflow_code(p, 0, flags) == p->max_mag && p->family != FPQ_FAMILY_E8M0;
    /* NaN codes: the positive one with the sign flipped in (FINITE: the opposite zero; IEEE
     * and FN: sign kept), except FNUZ and E8M0 whose one NaN has no sign to flip. */
    k->nan_pos = vi_set1((int32_t)fpqi_nan_code(p, 0));
    k->floor_code = vi_set1((int32_t)fpqi_unsigned_floor_code(p, flags));
    k->is_unsigned = !p->is_signed;
    k->is_e8m0 = p->family == FPQ_FAMILY_E8M0;
    k->is_fnuz = p->family == FPQ_FAMILY_FNUZ;
    k->common = k->saturate && !k->is_unsigned && !k->is_fnuz;
}

/* fpqi_encode on every lane: both roundings computed, the right one selected. `common` (a
 * constant at every call) compiles the usual case - signed, saturating, neither FNUZ nor
 * E8M0 - without the other families' steps. */
SIMD_STEP vi simd_encode(const simd_encoder *k, vf q, const int common)
{
    const vi zero = vi_set1(0);
    vi u = vf_as_vi(q);
    vi a = vi_and(u, vi_set1(0x7fffffff));
    vi odd = vi_and(vi_srl_n(a, k->shift), k->odd_mask);
    vi high = vi_srl_n(vi_add(vi_add(a, k->round_add), odd), k->shift);
    vi low = vi_sub(vf_as_vi(vf_add(vi_as_vf(a), k->magic)), k->magic_bits);
    vi mag = vi_select(vi_gt(k->low_limit, a), low, high);
    vi s = vi_and(vi_sra_n(u, 31), k->sign_bit);
    vm nan = vi_gt(a, vi_set1(0x7f800000));
    vi code;

    /* Overflow; infinities land here too, their magnitude being past every format's. */
    if (common)
        return vi_select(nan, vi_xor(k->nan_pos, s), vi_or(s, vi_min(mag, k->max_mag)));
    if (k->is_e8m0)
        mag = vi_max(vi_sub(mag, vi_set1(1)), zero);
    if (k->saturate)
        code = vi_or(s, vi_min(mag, k->max_mag));
    else
        code = vi_select(vi_gt(mag, k->max_mag), vi_or(k->ovf_pos, s), vi_or(s, mag));
    if (k->is_fnuz)
        code = vi_select(vi_eq(mag, zero), zero, code);
    if (k->is_unsigned) {
        vm floor_m = vm_and(vi_gt(zero, u), vi_gt(a, zero));
        if (k->is_e8m0)
            floor_m = vm_or(floor_m, vi_eq(a, zero));
        code = vi_select(floor_m, k->floor_code, code);
    }
    return vi_select(nan, k->is_fnuz ? k->nan_pos : vi_xor(k->nan_pos, s), code);
}

/* The quotient x / scale: a multiply by the exact reciprocal of a power-of-two scale, else a
 * division (see fpqi_divider). */
SIMD_STEP vf simd_divide(const fpqi_divider *d, vf x)
{
    return d->reciprocal != 0.0f ? vf_mul(x, vf_set1(d->reciprocal))
                                 : vf_div(x, vf_set1(d->scale));
}

/*
 * The loops below serve both kinds of kernel: one scale for the range (`scales` NULL: the
 * divider `d` for quotients, the scale folded into the lookup table) or one scale per group
 * of 2^shift elements (`scales[i >> shift]`, and reciprocals when they are exact: see
 * fpq_internal.h; the table holds plain values and lookups are multiplied by the scale).
 */
typedef struct simd_scaling {
    const fpqi_divider *d;
    const float *scales, *reciprocals;
    int shift;
} simd_scaling;

/* The group scales of lanes [i, i + LANES), i a multiple of LANES: a load for one group per
 * element, a broadcast when a group spans the vector, else assembled lane by lane. */
SIMD_STEP vf group_vec(const float *s, size_t i, int shift)
{
    float lanes[LANES];
    int l;
    if (shift == 0)
        return vf_load(s + i);
    if ((LANES >> shift) <= 1)
        return vf_set1(s[i >> shift]);
    for (l = 0; l < LANES; l++)
        lanes[l] = s[(i + (size_t)l) >> shift];
    return vf_load(lanes);
}

/* `per_element` (a constant at every call, like `common` and `table` below) compiles each
 * kind of loop without the other's tests. */
SIMD_STEP vf quotient_vec(const simd_scaling *sc, const float *x, size_t i, const int per_element)
{
    if (!per_element)
        return simd_divide(sc->d, vf_load(x + i));
    return sc->reciprocals ? vf_mul(vf_load(x + i), group_vec(sc->reciprocals, i, sc->shift))
                           : vf_div(vf_load(x + i), group_vec(sc->scales, i, sc->shift));
}

FPQI_INLINE float quotient_one(const simd_scaling *sc, const float *x, size_t i)
{
    if (!sc->scales)
        return fpqi_divide(sc->d, x[i]);
    return sc->reciprocals ? x[i] * sc->reciprocals[i >> sc->shift]
                           : x[i] / sc->scales[i >> sc->shift];
}

/* The vector part of elements [i, i + n); returns how many it did (a multiple of LANES). */
SIMD_STEP size_t quantize_run(const simd_encoder *k, const simd_scaling *sc, const float *x,
                              size_t i, size_t n, uint8_t *dst, const int common,
                              const int per_element)
{
    size_t j;
    for (j = 0; j + LANES <= n; j += LANES)
        vi_store_bytes(dst + j,
                       simd_encode(k, quotient_vec(sc, x, i + j, per_element), common));
    return j;
}

/* `table` is a constant at every call: the lookup compiles to one kind of permute or gather. */
SIMD_STEP size_t fake_quantize_run(const simd_encoder *k, const simd_scaling *sc,
                                   const float *lut, const int table, const float *x, size_t i,
                                   size_t n, float *y, const int common, const int per_element)
{
    size_t j;
    for (j = 0; j + LANES <= n; j += LANES) {
        vf q = quotient_vec(sc, x, i + j, per_element);
        vf v = vf_lookup(lut, table, simd_encode(k, q, common));
        vf_store(y + i + j, per_element ? vf_mul(v, group_vec(sc->scales, i + j, sc->shift)) : v);
    }
    return j;
}

SIMD_STEP size_t dequantize_run(const float *lut, const int table, vi mask, const uint8_t *src,
                                const float *scales, int shift, size_t i, size_t n, float *y,
                                const int per_element)
{
    size_t j;
    for (j = 0; j + LANES <= n; j += LANES) {
        vf v = vf_lookup(lut, table, vi_and(vi_load_bytes(src + j), mask));
        vf_store(y + i + j, per_element ? vf_mul(v, group_vec(scales, i + j, shift)) : v);
    }
    return j;
}

/* Lookup tables come in four sizes: up to 16 entries, 32, 64, and wider; a wide table of a
 * signed format without FNUZ's NaN is kind 9, "symmetric": lut[c | sign] == lut[c] | -0.0f
 * (value * scale is odd in the value, NaN included), which a backend may use to look up
 * magnitudes only. */
FPQI_INLINE int table_kind(const fpqi_params *p)
{
    if (p->bits <= 6)
        return p->bits <= 4 ? 4 : p->bits;
    return p->bits == 8 && p->is_signed && p->family != FPQ_FAMILY_FNUZ ? 9 : 8;
}

#define SIMD_BLOCK 256

SIMD_FN void quantize_any(const fpqi_params *p, const float *x, size_t begin, size_t end,
                          const simd_scaling *sc, unsigned flags, uint8_t *codes)
{
    simd_encoder k;
    uint8_t block[SIMD_BLOCK];
    size_t i, j;

    simd_encoder_init(&k, p, flags);
    for (i = begin; i < end; i += SIMD_BLOCK) {
        size_t count = end - i < SIMD_BLOCK ? end - i : SIMD_BLOCK, packed;
        uint8_t *dst = (flags & FPQ_UNPACKED) || p->bits == 8 ? codes + i : block;
        if (sc->scales)
            j = k.common ? quantize_run(&k, sc, x, i, count, dst, 1, 1)
                         : quantize_run(&k, sc, x, i, count, dst, 0, 1);
        else
            j = k.common ? quantize_run(&k, sc, x, i, count, dst, 1, 0)
                         : quantize_run(&k, sc, x, i, count, dst, 0, 0);
        for (; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(p, fpqi_f2u(quotient_one(sc, x, i + j)), flags);
        if (dst != block)
            continue;
        packed = simd_pack(block, count, p->bits, codes + (i / 8) * (size_t)p->bits);
        fpqi_pack(block + packed, count - packed, p->bits, i + packed, codes);
    }
}

/* y = lut[code], times scales[i >> shift] when given. */
SIMD_FN void dequantize_any(const fpqi_params *p, const uint8_t *codes, size_t begin,
                            size_t end, const float *lut, const float *scales, int shift,
                            unsigned flags, float *y)
{
    const vi mask = vi_set1((int32_t)p->code_mask);
    uint8_t block[SIMD_BLOCK];
    size_t i, j;

    for (i = begin; i < end; i += SIMD_BLOCK) {
        size_t count = end - i < SIMD_BLOCK ? end - i : SIMD_BLOCK, done;
        const uint8_t *src = codes + i;
        if (!(flags & FPQ_UNPACKED) && p->bits != 8) {
            done = simd_unpack(codes + (i / 8) * (size_t)p->bits, count, p->bits, block);
            fpqi_unpack(codes, count - done, p->bits, i + done, block + done);
            src = block;
        }
#define DEQUANTIZE_RUN(table)                                                               \
    (scales ? dequantize_run(lut, table, mask, src, scales, shift, i, count, y, 1)          \
            : dequantize_run(lut, table, mask, src, scales, shift, i, count, y, 0))
        switch (table_kind(p)) {
        case 4: j = DEQUANTIZE_RUN(4); break;
        case 5: j = DEQUANTIZE_RUN(5); break;
        case 6: j = DEQUANTIZE_RUN(6); break;
        case 9: j = DEQUANTIZE_RUN(9); break;
        default: j = DEQUANTIZE_RUN(8); break;
        }
#undef DEQUANTIZE_RUN
        for (; j < count; j++)
            y[i + j] = scales ? lut[src[j] & p->code_mask] * scales[(i + j) >> shift]
                              : lut[src[j] & p->code_mask];
    }
}

SIMD_FN void fake_quantize_any(const fpqi_params *p, const float *x, size_t begin, size_t end,
                               const float *lut, const simd_scaling *sc, unsigned flags,
                               float *y)
{
    simd_encoder k;
    size_t i, n = end - begin;

    simd_encoder_init(&k, p, flags);
#define FAKE_RUN(table, pe) \
    (k.common ? fake_quantize_run(&k, sc, lut, table, x, begin, n, y, 1, pe) \
              : fake_quantize_run(&k, sc, lut, table, x, begin, n, y, 0, pe))
#define FAKE_RUNS(pe)                                                                       \
    switch (table_kind(p)) {                                                                \
    case 4: i = FAKE_RUN(4, pe); break;                                                     \
    case 5: i = FAKE_RUN(5, pe); break;                                                     \
    case 6: i = FAKE_RUN(6, pe); break;                                                     \
    case 9: i = FAKE_RUN(9, pe); break;                                                     \
    default: i = FAKE_RUN(8, pe); break;                                                    \
    }
    if (sc->scales) {
        FAKE_RUNS(1)
    } else {
        FAKE_RUNS(0)
    }
#undef FAKE_RUNS
#undef FAKE_RUN
    for (i += begin; i < end; i++) {
        float v = lut[fpqi_encode(p, fpqi_f2u(quotient_one(sc, x, i)), flags)];
        y[i] = sc->scales ? v * sc->scales[i >> sc->shift] : v;
    }
}

/* The table entry points. Local copies of the parameters: stores through the output pointers
 * may not alias them. Ranges shorter than the table take the scalar loops. */
SIMD_FN void simd_quantize(const fpqi_params *params, const float *x, size_t begin,
                           size_t end, float scale, unsigned flags, uint8_t *codes)
{
    const fpqi_params local = *params;
    fpqi_divider d = fpqi_divider_make(scale);
    simd_scaling sc = {&d, NULL, NULL, 0};
    quantize_any(&local, x, begin, end, &sc, flags, codes);
}

SIMD_FN void simd_dequantize(const fpqi_params *params, const uint8_t *codes, size_t begin,
                             size_t end, float scale, unsigned flags, float *y)
{
    const fpqi_params local = *params;
    float lut[256];
    if (end - begin < ((size_t)1 << local.bits)) {
        fpqi_kernels_scalar.dequantize(&local, codes, begin, end, scale, flags, y);
        return;
    }
    fpqi_build_lut(&local, scale, lut);
    dequantize_any(&local, codes, begin, end, lut, NULL, 0, flags, y);
}

SIMD_FN void simd_fake_quantize(const fpqi_params *params, const float *x, size_t begin,
                                size_t end, float scale, unsigned flags, float *y)
{
    const fpqi_params local = *params;
    fpqi_divider d = fpqi_divider_make(scale);
    simd_scaling sc = {&d, NULL, NULL, 0};
    float lut[256];
    if (end - begin < ((size_t)1 << local.bits)) {
        fpqi_kernels_scalar.fake_quantize(&local, x, begin, end, scale, flags, y);
        return;
    }
    fpqi_build_lut(&local, scale, lut);
    fake_quantize_any(&local, x, begin, end, lut, &sc, flags, y);
}

SIMD_FN void simd_quantize_grouped(const fpqi_params *params, const float *x,
                                   const float *scales, const float *reciprocals, int shift,
                                   size_t n, unsigned flags, uint8_t *codes)
{
    const fpqi_params local = *params;
    simd_scaling sc = {NULL, scales, reciprocals, shift};
    quantize_any(&local, x, 0, n, &sc, flags, codes);
}

SIMD_FN void simd_dequantize_grouped(const fpqi_params *params, const uint8_t *codes,
                                     const float *scales, int shift, size_t n, unsigned flags,
                                     float *y)
{
    const fpqi_params local = *params;
    float lut[256];
    fpqi_build_lut(&local, 1.0f, lut);
    dequantize_any(&local, codes, 0, n, lut, scales, shift, flags, y);
}

SIMD_FN void simd_fake_quantize_grouped(const fpqi_params *params, const float *x,
                                        const float *scales, const float *reciprocals,
                                        int shift, size_t n, unsigned flags, float *y)
{
    const fpqi_params local = *params;
    simd_scaling sc = {NULL, scales, reciprocals, shift};
    float lut[256];
    fpqi_build_lut(&local, 1.0f, lut);
    fake_quantize_any(&local, x, 0, n, lut, &sc, flags, y);
}

/* float16 / bfloat16 conversions: the backend's vector loop where it has one (SIMD_WIDEN,
 * SIMD_NARROW: the converted count), the scalar helpers for the rest. */
SIMD_FN void simd_widen(int elem_type, const void *in, size_t n, float *out)
{
    size_t done = 0;
#ifdef SIMD_WIDEN
    done = SIMD_WIDEN(elem_type, (const uint16_t *)in, n, out);
#endif
    fpqi_widen(elem_type, (const uint16_t *)in + done, n - done, out + done);
}

SIMD_FN void simd_narrow(int elem_type, const float *in, size_t n, void *out)
{
    size_t done = 0;
#ifdef SIMD_NARROW
    done = SIMD_NARROW(elem_type, in, n, (uint16_t *)out);
#endif
    fpqi_narrow(elem_type, in + done, n - done, (uint16_t *)out + done);
}

/* fpqi_table_entry lane-wise (a signed max and min: last < 2^31), then a gather. */
SIMD_FN void simd_table_entries(const float *x, size_t n, const uint32_t *table, int shift,
                                uint32_t key_base, uint32_t last, uint32_t *out)
{
    const vi magnitude = vi_set1(0x7fffffff), base = vi_set1((int32_t)key_base);
    const vi zero = vi_set1(0), top = vi_set1((int32_t)last);
    const vi finite_top = vi_set1(0x7f7fffff), mark = vi_set1((int32_t)FPQI_TABLE_MARK);
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        vi a = vi_and(vf_as_vi(vf_load(x + i)), magnitude);
        vi at = vi_min(vi_max(vi_sub(vi_srl_n(a, shift), base), zero), top);
        vi e = vi_gather_u32(table, at);
        vi_store_u32(out + i, vi_select(vi_gt(a, finite_top), vi_or(e, mark), e));
    }
    fpqi_kernels_scalar.table_entries(x + i, n - i, table, shift, key_base, last, out + i);
}

/* Lane-wise maxima and counts, then the lanes; blocks keep a lane's count within int32. */
SIMD_FN void simd_abs_max(const float *x, size_t n, uint32_t *amax_bits, size_t *nonfinite)
{
    const vi magnitude = vi_set1(0x7fffffff), top = vi_set1(0x7f7fffff);
    const vi zero = vi_set1(0), one = vi_set1(1);
    uint32_t lanes[LANES], counts[LANES], m = *amax_bits;
    size_t i = 0, bad = 0;
    int l;
    while (n - i >= LANES) {
        size_t end = n - i > ((size_t)1 << 30) ? i + ((size_t)1 << 30) : n;
        vi most = zero, count = zero;
        for (; i + LANES <= end; i += LANES) {
            vi a = vi_and(vf_as_vi(vf_load(x + i)), magnitude);
            vm nonfinite_lane = vi_gt(a, top);
            most = vi_max(most, vi_select(nonfinite_lane, zero, a));
            count = vi_add(count, vi_select(nonfinite_lane, one, zero));
        }
        vi_store_u32(lanes, most);
        vi_store_u32(counts, count);
        for (l = 0; l < LANES; l++) {
            m = lanes[l] > m ? lanes[l] : m;
            bad += counts[l];
        }
    }
    *amax_bits = m;
    *nonfinite += bad;
    fpqi_kernels_scalar.abs_max(x + i, n - i, amax_bits, nonfinite);
}

const fpqi_kernels SIMD_KERNELS = {
    SIMD_NAME,
    simd_quantize,
    simd_dequantize,
    simd_fake_quantize,
    simd_quantize_grouped,
    simd_dequantize_grouped,
    simd_fake_quantize_grouped,
    simd_widen,
    simd_narrow,
    simd_table_entries,
    simd_abs_max,
};

/* The names of this backend stop here: the next one in the same translation unit reuses them. */
#include "simd_names.h"
