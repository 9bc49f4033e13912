/*
 * simd_impl.h - the vector kernels, written once for every SIMD backend.
 *
 * A backend file (avx2.c, avx512.c, neon.c) defines, with its target attribute SIMD_TARGET:
 *   LANES, types vi (int32 lanes), vf (float lanes), vm (lane mask), and the primitives
 *     vf_load vf_store vf_set1 vf_mul vf_div vf_as_vi vi_as_vf
 *     vi_set1 vi_and vi_or vi_add vi_sub vi_max vi_sll_n vi_srl_n vi_sra_n vi_sllv vi_srlv
 *     vi_gt vi_eq vm_or vm_and vi_select
 *     vi_store_bytes (LANES codes -> LANES bytes)  vi_load_bytes (LANES bytes -> lanes)
 *     vf_lookup (a table of 2^bits floats indexed by codes)
 *     simd_pack (codes -> stream for 4/6-bit widths, returns how many codes it packed)
 *     simd_unpack (the reverse)
 *   and SIMD_KERNELS, the name of the table to define;
 * then includes this file. The arithmetic below is fpqi_encode() of fpq_round.h done on all
 * lanes at once, with selects instead of branches: the tests hold it to the scalar bits.
 */
#ifndef SIMD_TARGET
#  error "define the backend's primitives before including simd_impl.h"
#endif

#define SIMD_FN static SIMD_TARGET

/* Per-call constants of the lane-wise encoder, derived from the scalar helpers so that both
 * take every decision from the same source. */
typedef struct simd_encoder {
    vi emin, shift_base, max_mag, sign_bit, ovf_pos, ovf_neg, nan_pos, nan_neg, floor_code;
    vi zero_sign_mask; /* all ones where -0 keeps its sign; 0 for FNUZ */
    vi e8m0_sub;       /* 1 for E8M0 (no subnormals: code = magnitude - 1), else 0 */
    int man_bits;
    int is_unsigned, is_e8m0;
} simd_encoder;

SIMD_FN void simd_encoder_init(simd_encoder *k, const fpqi_params *p, unsigned flags)
{
    k->emin = vi_set1(p->emin);
    k->shift_base = vi_set1(150 - p->man_bits);
    k->max_mag = vi_set1((int32_t)p->max_mag);
    k->sign_bit = vi_set1((int32_t)p->sign_bit);
    k->ovf_pos = vi_set1((int32_t)fpqi_overflow_code(p, 0, flags));
    k->ovf_neg = vi_set1((int32_t)fpqi_overflow_code(p, p->sign_bit, flags));
    k->nan_pos = vi_set1((int32_t)fpqi_nan_code(p, 0));
    k->nan_neg = vi_set1((int32_t)fpqi_nan_code(p, p->sign_bit));
    k->floor_code = vi_set1((int32_t)fpqi_unsigned_floor_code(p, flags));
    k->zero_sign_mask = vi_set1(p->family == FPQ_FAMILY_FNUZ ? 0 : -1);
    k->e8m0_sub = vi_set1(p->family == FPQ_FAMILY_E8M0 ? 1 : 0);
    k->man_bits = p->man_bits;
    k->is_unsigned = !p->is_signed;
    k->is_e8m0 = p->family == FPQ_FAMILY_E8M0;
}

/* The lane-wise encoder needs every rounding shift to be at least 1 (a zero shift would make
 * its half-quantum 2^-1); only formats whose quantum reaches 2^-149 have shift 0, and they
 * take the scalar loop. */
FPQI_INLINE int simd_supports(const fpqi_params *p)
{
    return p->emin - p->man_bits > -149;
}

SIMD_FN vi simd_encode(const simd_encoder *k, vf q)
{
    const vi zero = vi_set1(0), one = vi_set1(1);
    vi u = vf_as_vi(q);
    vi a = vi_and(u, vi_set1(0x7fffffff));
    vi ea = vi_srl_n(a, 23);
    vi eam = vi_max(ea, one);
    /* The 24-bit significand: the implicit bit only for normal floats (eam == ea). */
    vi sig = vi_or(vi_and(a, vi_set1(0x007fffff)), vi_sll_n(vi_sub(one, vi_sub(eam, ea)), 23));
    vi e = vi_max(vi_sub(ea, vi_set1(127)), k->emin);
    /* From the float's quantum 2^(eam - 150) to the format's 2^(e - M); at least 1 here. */
    vi shift = vi_sub(vi_add(e, k->shift_base), eam);
    vi half = vi_sllv(one, vi_sub(shift, one));
    vi odd = vi_and(vi_srlv(sig, shift), one);
    vi n = vi_srlv(vi_add(vi_sub(vi_add(sig, half), one), odd), shift);
    vi mag = vi_add(vi_sll_n(vi_sub(e, k->emin), k->man_bits), n);
    vi s, code;
    vm negative;

    mag = vi_max(vi_sub(mag, k->e8m0_sub), zero);
    s = vi_and(vi_sra_n(u, 31), k->sign_bit);
    negative = vi_gt(zero, u);
    code = vi_select(vi_eq(mag, zero), vi_and(s, k->zero_sign_mask), vi_or(s, mag));
    /* Overflow; infinities land here too, their magnitude being past every format's. */
    code = vi_select(vi_gt(mag, k->max_mag), vi_select(negative, k->ovf_neg, k->ovf_pos), code);
    if (k->is_unsigned) {
        vm floor_m = vm_and(negative, vi_gt(a, zero));
        if (k->is_e8m0)
            floor_m = vm_or(floor_m, vi_eq(a, zero));
        code = vi_select(floor_m, k->floor_code, code);
    }
    return vi_select(vi_gt(a, vi_set1(0x7f800000)), vi_select(negative, k->nan_neg, k->nan_pos),
                     code);
}

/* The quotient x / scale: a multiply by the exact reciprocal of a power-of-two scale, else a
 * division (see fpqi_divider). */
SIMD_FN vf simd_divide(const fpqi_divider *d, vf x)
{
    return d->reciprocal != 0.0f ? vf_mul(x, vf_set1(d->reciprocal))
                                 : vf_div(x, vf_set1(d->scale));
}

#define BLOCK 256

SIMD_FN void simd_quantize(const fpqi_params *p, const float *x, size_t begin, size_t end,
                           float scale, unsigned flags, uint8_t *codes)
{
    fpqi_divider d = fpqi_divider_make(scale);
    simd_encoder k;
    uint8_t block[BLOCK];
    size_t i, j;

    if (!simd_supports(p)) {
        fpqi_kernels_scalar.quantize(p, x, begin, end, scale, flags, codes);
        return;
    }
    simd_encoder_init(&k, p, flags);
    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK, packed = 0;
        uint8_t *dst = (flags & FPQ_UNPACKED) || p->bits == 8 ? codes + i : block;
        for (j = 0; j + LANES <= count; j += LANES)
            vi_store_bytes(dst + j, simd_encode(&k, simd_divide(&d, vf_load(x + i + j))));
        for (; j < count; j++)
            dst[j] = (uint8_t)fpqi_encode(p, fpqi_f2u(fpqi_divide(&d, x[i + j])), flags);
        if (dst != block)
            continue;
        packed = simd_pack(block, count, p->bits, codes + (i / 8) * (size_t)p->bits);
        fpqi_pack(block + packed, count - packed, p->bits, i + packed, codes);
    }
}

SIMD_FN void simd_dequantize(const fpqi_params *p, const uint8_t *codes, size_t begin,
                             size_t end, float scale, unsigned flags, float *y)
{
    float lut[256];
    uint8_t block[BLOCK];
    size_t i, j;

    if (end - begin < ((size_t)1 << p->bits)) {
        fpqi_kernels_scalar.dequantize(p, codes, begin, end, scale, flags, y);
        return;
    }
    fpqi_build_lut(p, scale, lut);
    for (i = begin; i < end; i += BLOCK) {
        size_t count = end - i < BLOCK ? end - i : BLOCK, done;
        const uint8_t *src = codes + i;
        if (!(flags & FPQ_UNPACKED) && p->bits != 8) {
            done = simd_unpack(codes + (i / 8) * (size_t)p->bits, count, p->bits, block);
            fpqi_unpack(codes, count - done, p->bits, i + done, block + done);
            src = block;
        }
        for (j = 0; j + LANES <= count; j += LANES) {
            vi c = vi_and(vi_load_bytes(src + j), vi_set1((int32_t)p->code_mask));
            vf_store(y + i + j, vf_lookup(lut, p->bits, c));
        }
        for (; j < count; j++)
            y[i + j] = lut[src[j] & p->code_mask];
    }
}

SIMD_FN void simd_fake_quantize(const fpqi_params *p, const float *x, size_t begin, size_t end,
                                float scale, unsigned flags, float *y)
{
    fpqi_divider d = fpqi_divider_make(scale);
    simd_encoder k;
    float lut[256];
    size_t i;

    if (!simd_supports(p) || end - begin < ((size_t)1 << p->bits)) {
        fpqi_kernels_scalar.fake_quantize(p, x, begin, end, scale, flags, y);
        return;
    }
    simd_encoder_init(&k, p, flags);
    fpqi_build_lut(p, scale, lut);
    for (i = begin; i + LANES <= end; i += LANES)
        vf_store(y + i, vf_lookup(lut, p->bits, simd_encode(&k, simd_divide(&d, vf_load(x + i)))));
    for (; i < end; i++)
        y[i] = lut[fpqi_encode(p, fpqi_f2u(fpqi_divide(&d, x[i])), flags)];
}

const fpqi_kernels SIMD_KERNELS = {
    SIMD_NAME,
    simd_quantize,
    simd_dequantize,
    simd_fake_quantize,
};
