/*
 * fuzz_kernels.c - fuzzes fpq_quantize / fpq_dequantize / fpq_fake_quantize: the input chooses
 * the format (presets by index, custom splits through fpq_format_make, raw and perturbed
 * descriptors), the count, the flags (unknown bits included), the scale from raw float bits
 * (0, negative, NaN, Inf, subnormal, huge), the pointers (misaligned, overlapping, in place,
 * NULL) and the data (NaN payloads, +-Inf, -0, subnormals, values on the grid and the ties
 * between them). See fuzz_case.h for the input layout.
 *
 * Invariants (include/fpq.h, docs/formats.md), each a trap when violated:
 *   - every call returns the documented status, checks in the documented order;
 *   - a failed call writes nothing; a successful one writes its output and nothing else:
 *     guard bytes on both sides of every buffer and the bytes past fpq_packed_size() intact;
 *   - fpq_packed_size() is ceil(n * width / 8) packed, n unpacked; the unused high bits of the
 *     last packed byte and of every unpacked code byte are zero;
 *   - dequantize(quantize(x)) == fake_quantize(x) bit for bit, in place or not;
 *   - for a few elements per input, the code and the fake-quantized value are the ones an
 *     independent brute-force search over the format's values (fpq_format_values, checked
 *     against the value formulas) gives (fuzz_model.h: nearest
 *     value to x / scale, ties to the even multiple of the gap, saturation or Inf / NaN per
 *     family and FPQ_NO_SATURATE, NaN / -0 / unsigned / E8M0 rules), times the scale;
 *   - dequantize of arbitrary codes gives each code's value (the value formulas) times the
 *     scale, NaN codes the quiet NaN with the code's sign, high bits of unpacked codes ignored.
 */
#include "fuzz_case.h"

/* Code i of the codes a quantize call wrote. */
static unsigned code_at(const fz_case *c, const uint8_t *codes, size_t i)
{
    if (c->flags & FPQ_UNPACKED)
        return codes[i];
    return fm_stream_code(codes, i, c->m.bits);
}

static void check_code_padding(const fz_case *c, const uint8_t *codes)
{
    size_t i;
    int w = c->m.bits;
    if (c->flags & FPQ_UNPACKED) {
        for (i = 0; i < c->n; i++)
            FZ_CHECKF((codes[i] >> w) == 0, "unpacked code %zu = %#x has high bits set\n", i,
                      codes[i]);
    } else {
        size_t bits = c->n * (size_t)w, last = (bits + 7) / 8 - 1;
        if (bits % 8)
            FZ_CHECKF((codes[last] >> (bits % 8)) == 0,
                      "last packed byte %#x has unused high bits set\n", codes[last]);
    }
}

/* The brute-force model against codes (of quantize) and y (of fake-quantize), few elements. */
static void check_against_model(const fz_case *c, const uint8_t *codes, const float *y)
{
    size_t k, count = c->n < 32 ? c->n : 32;
    for (k = 0; k < count; k++) {
        size_t i = fz_pick_index(c, k);
        float x = c->x[i], q = fm_divide(x, c->scale), yi;
        fm_expect e = fm_round(&c->m, q, c->flags);
        if (codes) {
            unsigned code = code_at(c, codes, i);
            FZ_CHECKF(fm_code_ok(&c->m, e, code),
                      "element %zu: x %a (bits %#x) / scale %a = q %a, flags %#x: code %#x "
                      "decodes to %#x, expected value bits %#x (kind %d)\n",
                      i, (double)x, fm_f2u(x), (double)c->scale, (double)q, c->flags, code,
                      c->m.code_bits[code], e.bits, e.kind);
        }
        if (y) {
            memcpy(&yi, y + i, sizeof yi);
            FZ_CHECKF(fm_output_ok(e, c->scale, fm_f2u(yi)),
                      "element %zu: x %a (bits %#x) / scale %a = q %a, flags %#x: fake "
                      "quantize gave %a (bits %#x), expected %#x (value bits %#x, kind %d)\n",
                      i, (double)x, fm_f2u(x), (double)c->scale, (double)q, c->flags,
                      (double)yi, fm_f2u(yi), fm_scaled_bits(e, c->scale), e.bits, e.kind);
        }
    }
}

/* Dequantize of arbitrary codes: every element is its code's value times the scale. */
static void check_decode(const fz_case *c, const uint8_t *codes, const float *y)
{
    size_t i;
    unsigned mask = (1u << c->m.bits) - 1u;
    for (i = 0; i < c->n; i++) {
        unsigned code = code_at(c, codes, i) & mask;
        fm_expect e;
        float yi;
        e.kind = c->m.code_kind[code];
        e.bits = c->m.code_bits[code];
        e.sign_known = 1;
        memcpy(&yi, y + i, sizeof yi);
        FZ_CHECKF(fm_output_ok(e, c->scale, fm_f2u(yi)),
                  "element %zu: code %#x (byte %#x) at scale %a dequantized to %#x, want %#x\n",
                  i, code, codes[i < c->nalloc ? i : 0], (double)c->scale, fm_f2u(yi),
                  fm_scaled_bits(e, c->scale));
    }
}

/* The backend for this input, chosen by its hash: "auto" or any available one, so that the
 * model checks every backend (fuzz_backends.c compares them with each other). */
static void pick_backend(uint64_t hash)
{
    const char *names[16];
    int i, count = 0;
    for (i = 0; fpq_backend_at(i) && count < 16; i++)
        if (fpq_backend_available(fpq_backend_at(i)))
            names[count++] = fpq_backend_at(i);
    i = (int)(hash % (uint64_t)(count + 1));
    FZ_CHECK(fpq_set_backend(i < count ? names[i] : "auto") == FPQ_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_case c;
    fz_result rq, rf, rd;
    uint64_t hash = fz_hash(data, size);

    fz_env_default();
    pick_backend(hash >> 32);
    r.p = data;
    r.n = size;
    if (!fz_case_parse(&c, &r, hash))
        return 0;
    if (c.fmt_ok) {
        /* The brute force searches the model's value list: it must be fpq_format_values'. */
        float vals[256];
        size_t count = 0, i;
        FZ_CHECK(fpq_format_values(&c.fmt, vals, 256, &count) == FPQ_OK);
        FZ_CHECK(count == (size_t)c.m.num_values);
        for (i = 0; i < count; i++)
            FZ_CHECK(fm_f2u(vals[i]) == fm_f2u(c.m.values[i]));
    }
    FZ_CHECK(fpq_packed_size(&c.fmt, c.n, c.flags) ==
             (c.fmt_ok && !(c.flags & ~3u) && c.n <= SIZE_MAX / 4 ? fz_case_code_bytes(&c)
                                                                  : 0));

    fz_run(&c, FZ_Q, c.x, c.pmode[FZ_Q], c.pparam[FZ_Q], NULL, &rq);
    fz_run(&c, FZ_FQ, c.x, c.pmode[FZ_FQ], c.pparam[FZ_FQ], NULL, &rf);
    fz_run(&c, FZ_DQ, c.codes, c.pmode[FZ_DQ], c.pparam[FZ_DQ], NULL, &rd);

    if (rd.status == FPQ_OK)
        check_decode(&c, c.codes, (const float *)(void *)rd.out);

    if (rq.status == FPQ_OK) {
        /* the codes, copied out of the arena as a dequantize input of nalloc bytes */
        uint8_t *codes = (uint8_t *)calloc(c.nalloc, 1);
        fz_result back, fake;
        FZ_CHECK(codes != NULL);
        memcpy(codes, rq.out, rq.out_len);
        check_code_padding(&c, codes);

        fz_run(&c, FZ_DQ, codes, 0, 0, NULL, &back);
        FZ_CHECK(back.status == FPQ_OK);
        if (rf.status == FPQ_OK) {
            fake = rf;
        } else { /* fake-quantize failed on its pointers only: again with plain ones */
            fz_run(&c, FZ_FQ, c.x, 0, 0, NULL, &fake);
        }
        FZ_CHECK(fake.status == FPQ_OK);
        FZ_CHECKF(!memcmp(back.out, fake.out, c.n * sizeof(float)),
                  "dequantize(quantize(x)) differs from fake_quantize(x)\n");
        check_against_model(&c, codes, (const float *)(void *)fake.out);

        /* in place: the same bits */
        if (c.pmode[FZ_FQ] % 16 != FZ_PM_IN_PLACE) {
            fz_result inplace;
            fz_run(&c, FZ_FQ, c.x, FZ_PM_IN_PLACE, 0, NULL, &inplace);
            FZ_CHECK(inplace.status == FPQ_OK);
            FZ_CHECK(!memcmp(inplace.out, fake.out, c.n * sizeof(float)));
            fz_arena_free(&inplace.arena);
        }
        if (fake.arena.base != rf.arena.base)
            fz_arena_free(&fake.arena);
        fz_arena_free(&back.arena);
        free(codes);
    } else if (rf.status == FPQ_OK) {
        check_against_model(&c, NULL, (const float *)(void *)rf.out);
    }

    fz_arena_free(&rq.arena);
    fz_arena_free(&rf.arena);
    fz_arena_free(&rd.arena);
    fz_case_free(&c);
    return 0;
}
