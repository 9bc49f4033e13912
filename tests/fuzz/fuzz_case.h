/*
 * fuzz_case.h - one kernel test case from fuzz input, and running one kernel call on it inside
 * a guarded arena, for fuzz_kernels.c and fuzz_backends.c.
 *
 * Input layout (every field reads zeros past the end of the input):
 *   format      fz_pick_format: preset by index, fpq_format_make split, 32 raw bytes, or a
 *               preset with one field changed
 *   n           fz_pick_n: 1..40 mostly, up to 1200, or 0 / overflowing counts
 *   flags       fz_pick_flags: the two known bits, or 32 raw bits (unknown bits)
 *   scale       fz_pick_scale: raw float32 bits, a power of two, 1, specials ...
 *   3 x 2 bytes pointer mode and parameter of quantize, dequantize and fake-quantize:
 *               normal, misaligned input or output, overlapping, in place, NULL
 *   data        fz_fill_data: raw float32 bits, or values on the format's grid (values,
 *               midpoints, their neighbours, specials) times the scale
 *   codes       the remaining bytes (then a stream seeded by the input) as codes for
 *               fpq_dequantize, every bit pattern, high bits set in unpacked mode
 */
#ifndef FUZZ_CASE_H
#define FUZZ_CASE_H

#include "fuzz_common.h"

enum { FZ_Q = 0, FZ_DQ = 1, FZ_FQ = 2 };

/* Pointer modes (value % 16): */
enum {
    FZ_PM_MISALIGN_IN = 10,
    FZ_PM_MISALIGN_OUT = 11,
    FZ_PM_OVERLAP_AFTER = 12,
    FZ_PM_IN_PLACE = 13,
    FZ_PM_NULL = 14,
    FZ_PM_OVERLAP_BEFORE = 15
};

typedef struct fz_case {
    fpq_format fmt;
    fm_format m;
    int fmt_ok;        /* the library must accept fmt */
    size_t n;          /* the count passed */
    size_t nalloc;     /* the count buffers are made for (n, or 16 for an absurd n) */
    unsigned flags;
    float scale;
    uint8_t pmode[3], pparam[3];
    float *x;          /* nalloc floats */
    uint8_t *codes;    /* nalloc bytes of arbitrary codes */
    uint64_t seed;
} fz_case;

/* Parses a case; 0 if the input must be skipped (a known library defect, see fuzz_model.h). */
static inline int fz_case_parse(fz_case *c, fz_reader *r, uint64_t seed)
{
    size_t i;
    memset(c, 0, sizeof *c);
    fz_pick_format(r, &c->fmt);
    if (fm_known_defect(&c->fmt))
        return 0;
    fm_init(&c->m, &c->fmt);
    c->fmt_ok = fm_lib_valid(&c->m);
    c->n = fz_pick_n(r);
    c->nalloc = (c->n == 0 || c->n > 4096) ? 16 : c->n;
    c->flags = fz_pick_flags(r);
    c->scale = fz_pick_scale(r);
    for (i = 0; i < 3; i++) {
        c->pmode[i] = fz_u8(r);
        c->pparam[i] = fz_u8(r);
    }
    c->seed = seed;
    c->x = (float *)malloc(c->nalloc * sizeof(float));
    c->codes = (uint8_t *)malloc(c->nalloc);
    FZ_CHECK(c->x && c->codes);
    fz_fill_data(r, &c->m, c->scale, c->x, c->nalloc, seed);
    for (i = 0; i < c->nalloc; i++)
        c->codes[i] = r->n ? fz_u8(r) : (uint8_t)fz_mix(&seed);
    return 1;
}

static inline void fz_case_free(fz_case *c)
{
    free(c->x);
    free(c->codes);
}

/* Bytes of the code side of a call (valid format and flags). */
static inline size_t fz_case_code_bytes(const fz_case *c)
{
    return fm_code_bytes(c->n, c->m.bits, c->flags);
}

static inline int fz_ranges_overlap(const void *a, size_t alen, const void *b, size_t blen)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + blen && pb < pa + alen;
}

static inline int fz_misaligned(const void *p)
{
    return ((uintptr_t)p & 3u) != 0;
}

/* The status include/fpq.h prescribes: NULL, FORMAT, SIZE, SCALE, FLAGS, ALIGN, OVERLAP,
 * checked in that order. */
static inline int fz_expected_status(const fz_case *c, int op, const void *fmt, const void *in,
                                     const void *out)
{
    size_t fbytes;
    if (!fmt || !in || !out)
        return FPQ_ERR_NULL;
    if (!c->fmt_ok)
        return FPQ_ERR_FORMAT;
    if (c->n == 0 || c->n > SIZE_MAX / sizeof(float))
        return FPQ_ERR_SIZE;
    if (!fm_scale_valid(c->scale))
        return FPQ_ERR_SCALE;
    if (c->flags & ~(unsigned)(FPQ_UNPACKED | FPQ_NO_SATURATE))
        return FPQ_ERR_FLAGS;
    fbytes = c->n * sizeof(float);
    switch (op) {
    case FZ_Q:
        if (fz_misaligned(in))
            return FPQ_ERR_ALIGN;
        if (fz_ranges_overlap(in, fbytes, out, fz_case_code_bytes(c)))
            return FPQ_ERR_OVERLAP;
        return FPQ_OK;
    case FZ_DQ:
        if (fz_misaligned(out))
            return FPQ_ERR_ALIGN;
        if (fz_ranges_overlap(in, fz_case_code_bytes(c), out, fbytes))
            return FPQ_ERR_OVERLAP;
        return FPQ_OK;
    default:
        if (fz_misaligned(in) || fz_misaligned(out))
            return FPQ_ERR_ALIGN;
        if (in != out && fz_ranges_overlap(in, fbytes, out, fbytes))
            return FPQ_ERR_OVERLAP;
        return FPQ_OK;
    }
}

typedef struct fz_result {
    int status;
    fz_arena arena;   /* every buffer of the call, after it */
    uint8_t *out;     /* the output inside the arena, or NULL */
    size_t out_len;   /* bytes the call wrote on success */
} fz_result;

/*
 * Runs `op` on `input` (floats for quantize / fake-quantize, code bytes for dequantize; nalloc
 * elements) with pointer mode pm / parameter pp, in floating-point environment *env (NULL: the
 * default), and checks everything a single call must satisfy: the documented status, nothing
 * written on error, only the output written on success (guards on both sides and the bytes
 * past fpq_packed_size intact), the environment restored. The caller frees res->arena.
 */
static inline void fz_run(const fz_case *c, int op, const void *input, uint8_t pm, uint8_t pp,
                          const fz_env *env, fz_result *res)
{
    size_t N = c->nalloc;
    size_t in_len = op == FZ_DQ ? N : N * sizeof(float);
    size_t out_cap = op == FZ_Q ? N : N * sizeof(float);
    size_t pre = N * sizeof(float) + 16;
    size_t in_off = FZ_GUARD + pre;
    size_t out_off = (in_off + in_len + 8 + FZ_GUARD + 15) & ~(size_t)15;
    size_t size = out_off + out_cap + 32 + FZ_GUARD;
    const fpq_format *f = &c->fmt;
    uint8_t *in, *out;
    unsigned long before = 0, after = 0;
    int want;

    switch (pm % 16) {
    case FZ_PM_MISALIGN_IN:
        in_off += 1 + pp % 3;
        break;
    case FZ_PM_MISALIGN_OUT:
        out_off += 1 + pp % 3;
        break;
    case FZ_PM_OVERLAP_AFTER: {
        size_t span = in_len & ~(size_t)3;
        out_off = in_off + (span ? ((size_t)pp * 4u) % span : 0);
        break;
    }
    case FZ_PM_IN_PLACE:
        out_off = in_off;
        break;
    case FZ_PM_OVERLAP_BEFORE:
        out_off = in_off - 4 * (1 + (size_t)pp % N);
        break;
    default:
        break;
    }
    fz_arena_init(&res->arena, size);
    in = res->arena.base + in_off;
    out = res->arena.base + out_off;
    memcpy(in, input, in_len);
    fz_arena_snapshot(&res->arena);
    if (pm % 16 == FZ_PM_NULL) {
        switch (pp % 3) {
        case 0: f = NULL; break;
        case 1: in = NULL; break;
        default: out = NULL; break;
        }
    }
    want = fz_expected_status(c, op, f, in, out);

    if (env) {
        fz_env_set(*env);
        before = fz_env_state();
    }
    switch (op) {
    case FZ_Q:
        res->status = fpq_quantize(f, (const float *)(void *)in, c->n, c->scale, c->flags, out);
        break;
    case FZ_DQ:
        res->status = fpq_dequantize(f, in, c->n, c->scale, c->flags, (float *)(void *)out);
        break;
    default:
        res->status = fpq_fake_quantize(f, (const float *)(void *)in, c->n, c->scale, c->flags,
                                        (float *)(void *)out);
        break;
    }
    if (env) {
        after = fz_env_state();
        fz_env_default();
        FZ_CHECKF(before == after, "FP environment not restored: %#lx -> %#lx\n", before,
                  after);
    }
    FZ_CHECKF(res->status == want,
              "op %d (0 quantize, 1 dequantize, 2 fake) pointer mode %d: status %d, want %d\n",
              op, pm % 16, res->status, want);
    res->out = out;
    res->out_len = 0;
    if (res->status != FPQ_OK) {
        fz_arena_expect_only(&res->arena, NULL, 0, "failed kernel call");
        return;
    }
    res->out_len = op == FZ_Q ? fz_case_code_bytes(c) : c->n * sizeof(float);
    FZ_CHECK(fpq_packed_size(&c->fmt, c->n, c->flags) == fz_case_code_bytes(c));
    fz_arena_expect_only(&res->arena, out, res->out_len, "kernel call");
}

/* The indices to check against the brute-force model: the first 24 and 8 spread out. */
static inline size_t fz_pick_index(const fz_case *c, size_t k)
{
    if (k < 24)
        return k;
    return (size_t)((c->seed >> (k % 8) * 8) * 2654435761u + k) % c->n;
}

#endif /* FUZZ_CASE_H */
