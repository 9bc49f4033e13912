/*
 * fuzz_linear.c - fuzzes the W4A4 linear layer of include/fpq.h: fpq_linear_max_in_features,
 * fpq_pack_weights_size / fpq_pack_weights, fpq_linear_activations_size,
 * fpq_linear_pack_activations, fpq_linear_quantize_activations and fpq_linear_forward.
 *
 * The input chooses, in this order: the activation and weight formats (fz_pick_format:
 * presets, custom splits, raw and perturbed descriptors); tokens (1..9), out_features (1..40),
 * in_features (1..300, now and then up to 20 000); the activation scale (fz_pick_scale: valid
 * or not); one weight row scale from fz_pick_scale (the others are powers of two or near 1);
 * whether there is a bias; whether activations come from float32 (the fused call) or codes;
 * one fault (none, NULL, zero count, misaligned, short buffer, overlap, a changed layout
 * header byte, a short y_stride) and the call it hits; the FP environment; the backend; the
 * thread count. Codes, floats and biases come from a stream seeded by the input.
 *
 * Invariants (include/fpq.h, docs/linear.md), each a trap when violated:
 *   - supported formats are the FINITE ones whose values, divided by their smallest positive
 *     value, are integers of at most 127 in magnitude (fuzz_model.h's decoding);
 *     fpq_linear_max_in_features is floor(2^29 / (max|int_x| * max|int_w|)), 0 otherwise;
 *   - every call returns the documented status of its single fault, in the documented order,
 *     and a failing call writes nothing (guarded arena); a successful one writes only its
 *     output (the layout's bytes, y's t * y_stride + r for r < out);
 *   - the fused quantizer's layout equals fpq_quantize + fpq_linear_pack_activations, byte
 *     for byte;
 *   - without a fault every output equals the documented arithmetic computed here from the
 *     integers: (float)((double)acc * ((double)sx * sw[r] * q_x * q_w) (+ (double)bias[r]));
 *   - a changed header byte gives OK (any output, memory-safe) or ARGUMENT / CAPACITY / SIZE;
 *   - the FP environment is restored by every call.
 */
#include "fuzz_common.h"

#include <math.h>

#define FL_ALIGN 64

enum {
    FL_NONE, FL_NULL, FL_ZERO, FL_MISALIGN, FL_SHORT, FL_OVERLAP, FL_HEADER, FL_STRIDE,
    FL_FAULTS
};
enum { FL_AT_W, FL_AT_X, FL_AT_FWD };

typedef struct fl_fmt {
    fpq_format desc;
    fm_format m;
    int supported;
    int max_int;
    double q;          /* smallest positive value */
    int ints[256];
} fl_fmt;

static void fl_fmt_init(fl_fmt *f, const fpq_format *desc)
{
    int c;
    f->desc = *desc;
    fm_init(&f->m, desc);
    f->supported = 0;
    f->max_int = 0;
    if (!f->m.doc_valid || f->m.lib_stricter || f->m.family != FPQ_FAMILY_FINITE)
        return;
    f->q = (double)f->m.min_positive;
    for (c = 0; c < f->m.num_codes; c++) {
        int kind, neg;
        double v, i;
        fm_decode_double(&f->m, (unsigned)c, &kind, &neg, &v);
        FZ_CHECK(kind == FM_FINITE);
        i = v / f->q;
        FZ_CHECK(i == floor(i));
        if (i > 127.0)
            return;
        f->ints[c] = neg ? -(int)i : (int)i;
        if ((int)i > f->max_int)
            f->max_int = (int)i;
    }
    f->supported = 1;
}

static size_t fl_round(size_t n) { return (n + FL_ALIGN - 1) / FL_ALIGN * FL_ALIGN; }

/* Packed code bytes of rows x cols codes of width w, rows padded to bytes. */
static size_t fl_code_bytes(size_t rows, size_t cols, int w)
{
    return rows * ((cols * (size_t)w + 7) / 8);
}

static void fl_write_codes(uint8_t *dst, size_t rows, size_t cols, int w, uint64_t *st)
{
    size_t row_bytes = (cols * (size_t)w + 7) / 8, r, i;
    memset(dst, 0, rows * row_bytes);
    for (r = 0; r < rows; r++)
        for (i = 0; i < cols; i++) {
            unsigned c = (unsigned)(fz_mix(st) & ((1u << w) - 1u));
            size_t bit = i * (size_t)w;
            uint32_t v = (uint32_t)c << (bit % 8);
            uint8_t *p = dst + r * row_bytes + bit / 8;
            p[0] |= (uint8_t)v;
            if (bit % 8 + (size_t)w > 8)
                p[1] |= (uint8_t)(v >> 8);
        }
}

static void fl_env_check(unsigned long before, const char *what)
{
    FZ_CHECKF(fz_env_state() == before, "%s changed the FP environment\n", what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fpq_format dx, dw;
    fl_fmt fx, fw;
    size_t tokens, out, k, y_stride, i, t, o;
    size_t xcb, wcb, act_need, w_need, kmax_doc, off, arena_size;
    size_t o_xc, o_wc, o_sw, o_bias, o_x, o_act, o_act2, o_w, o_y;
    float sx, odd_scale, *sw, *bias, *x, *y;
    uint8_t *xc, *wc, *act, *act2, *packed;
    int fused, has_bias, fault, at, bad_scale_row, env_byte, status, want, threads;
    fz_arena a;
    fz_env env;
    uint64_t st;
    unsigned long env_state;
    const char *backend;

    r.p = data;
    r.n = size;
    st = fz_hash(data, size);
    fz_pick_format(&r, &dx);
    fz_pick_format(&r, &dw);
    fl_fmt_init(&fx, &dx);
    fl_fmt_init(&fw, &dw);
    tokens = 1 + fz_u8(&r) % 9;
    out = 1 + fz_u8(&r) % 40;
    k = 1 + fz_u16(&r) % 300;
    if (fz_u8(&r) == 0xff)
        k = 1 + fz_u16(&r) % 20000;
    sx = fz_pick_scale(&r);
    odd_scale = fz_pick_scale(&r);
    bad_scale_row = (int)(fz_u8(&r) % out);
    has_bias = fz_u8(&r) & 1;
    fused = fz_u8(&r) & 1;
    fault = fz_u8(&r) % FL_FAULTS;
    at = fz_u8(&r) % 3;
    env_byte = fz_u8(&r);
    backend = fpq_backend_at(fz_u8(&r) % 4);
    threads = 1 + fz_u8(&r) % 2;
    y_stride = out + fz_u8(&r) % 3;

    /* The documented queries. */
    kmax_doc = fx.supported && fw.supported
                   ? ((size_t)1 << 29) / ((size_t)(fx.max_int ? fx.max_int : 1) *
                                          (size_t)(fw.max_int ? fw.max_int : 1))
                   : 0;
    FZ_CHECK(fpq_linear_max_in_features(&dx, &dw) == kmax_doc);
    w_need = fpq_pack_weights_size(&dw, out, k);
    act_need = fpq_linear_activations_size(tokens, k);
    FZ_CHECK((w_need != 0) == (fw.supported != 0));
    FZ_CHECK(act_need != 0);
    if (!fx.supported || !fw.supported) {
        /* Only the refusal is left to check. */
        uint8_t codes[64] = {0}, buf[4096];
        float one = 1.0f;
        int expect_w = !fw.m.doc_valid || fw.m.lib_stricter ? FPQ_ERR_FORMAT
                                                            : FPQ_ERR_UNSUPPORTED;
        int expect_x = !fx.m.doc_valid || fx.m.lib_stricter ? FPQ_ERR_FORMAT
                                                            : FPQ_ERR_UNSUPPORTED;
        if (!fw.supported)
            FZ_CHECK(fpq_pack_weights(&dw, codes, 1, 4, &one, buf, sizeof buf) == expect_w);
        if (!fx.supported)
            FZ_CHECK(fpq_linear_pack_activations(&dx, codes, 1, 4, 1.0f, buf, sizeof buf) ==
                     expect_x);
        return 0;
    }

    /* One arena: codes, scales, bias, floats, two activation layouts, packed weights, y. */
    xcb = fl_code_bytes(tokens, k, fx.m.bits);
    wcb = fl_code_bytes(out, k, fw.m.bits);
    off = FZ_GUARD;
    o_xc = off = fl_round(off);
    o_wc = off = fl_round(off + xcb + FZ_GUARD);
    o_sw = off = fl_round(off + wcb + FZ_GUARD);
    o_bias = off = fl_round(off + out * 4 + FZ_GUARD);
    o_x = off = fl_round(off + out * 4 + FZ_GUARD);
    o_act = off = fl_round(off + tokens * k * 4 + FZ_GUARD);
    o_act2 = off = fl_round(off + act_need + FZ_GUARD);
    o_w = off = fl_round(off + act_need + FZ_GUARD);
    o_y = off = fl_round(off + w_need + FZ_GUARD);
    arena_size = fl_round(off + tokens * y_stride * 4 + FZ_GUARD) + FZ_GUARD;
    fz_arena_init(&a, arena_size);
    xc = a.base + o_xc;
    wc = a.base + o_wc;
    sw = (float *)(void *)(a.base + o_sw);
    bias = (float *)(void *)(a.base + o_bias);
    x = (float *)(void *)(a.base + o_x);
    act = a.base + o_act;
    act2 = a.base + o_act2;
    packed = a.base + o_w;
    y = (float *)(void *)(a.base + o_y);
    fl_write_codes(xc, tokens, k, fx.m.bits, &st);
    fl_write_codes(wc, out, k, fw.m.bits, &st);
    for (o = 0; o < out; o++) {
        uint64_t v = fz_mix(&st);
        sw[o] = (v & 1) ? ldexpf(1.0f, (int)(v >> 8) % 20 - 10)
                        : fm_u2f(0x3f800000u + (uint32_t)((v >> 16) & 0xffffu));
        bias[o] = (v >> 40) % 16 == 0 ? fm_u2f((uint32_t)(v >> 1))
                                      : (float)((double)((v >> 24) % 2001) - 1000.0) / 8.0f;
    }
    sw[bad_scale_row] = odd_scale;
    for (i = 0; i < tokens * k; i++) {
        uint64_t v = fz_mix(&st);
        x[i] = (v & 7) == 0 ? fm_u2f((uint32_t)(v >> 32))
                            : (float)((double)((v >> 8) % 20001) - 10000.0) / 1000.0f;
    }
    if (backend && fpq_backend_available(backend))
        FZ_CHECK(fpq_set_backend(backend) == FPQ_OK);
    FZ_CHECK(fpq_set_num_threads(threads) == FPQ_OK);
    env = fz_env_pick((uint8_t)env_byte);
    fz_env_set(env);
    env_state = fz_env_state();

    /* Weights. */
    {
        const uint8_t *codes = wc;
        const float *scales = sw;
        uint8_t *dst = packed;
        size_t n_out = out, bytes = w_need;
        int f = at == FL_AT_W ? fault : FL_NONE;
        want = FPQ_OK;
        if (f == FL_NULL) {
            codes = NULL;
            want = FPQ_ERR_NULL;
        } else if (f == FL_ZERO) {
            n_out = 0;
            want = FPQ_ERR_SIZE;
        } else if (f == FL_MISALIGN) {
            dst += 8;
            want = FPQ_ERR_ALIGN;
        } else if (!fm_scale_valid(odd_scale)) {
            want = FPQ_ERR_SCALE;
        } else if (f == FL_SHORT) {
            bytes -= 1;
            want = FPQ_ERR_CAPACITY;
        } else if (f == FL_OVERLAP) {
            codes = packed + 16;
            want = FPQ_ERR_OVERLAP;
        }
        fz_arena_snapshot(&a);
        status = fpq_pack_weights(&dw, codes, n_out, k, scales, dst, bytes);
        fl_env_check(env_state, "fpq_pack_weights");
        FZ_CHECKF(status == want, "fpq_pack_weights: %d, expected %d\n", status, want);
        fz_arena_expect_only(&a, packed, status == FPQ_OK ? w_need : 0, "fpq_pack_weights");
        if (status != FPQ_OK)
            goto done;
    }

    /* Activations: the fused call, checked against quantize + pack; or packed from codes. */
    {
        int f = at == FL_AT_X ? fault : FL_NONE;
        uint8_t *dst = act;
        size_t bytes = act_need, n_tok = tokens, stride = k;
        const float *src = x;
        want = FPQ_OK;
        if (f == FL_NULL) {
            dst = NULL;
            want = FPQ_ERR_NULL;
        } else if (f == FL_ZERO) {
            n_tok = 0;
            want = FPQ_ERR_SIZE;
        } else if (f == FL_STRIDE && fused) {
            stride = k - 1;
            want = FPQ_ERR_SIZE;
        } else if (f == FL_MISALIGN) {
            dst += 4;
            want = FPQ_ERR_ALIGN;
        } else if (!fm_scale_valid(sx)) {
            want = FPQ_ERR_SCALE;
        } else if (f == FL_SHORT) {
            bytes -= 1;
            want = FPQ_ERR_CAPACITY;
        } else if (f == FL_OVERLAP) {
            dst = fused ? (uint8_t *)x : xc; /* 16-aligned: the overlap is what fails */
            want = FPQ_ERR_OVERLAP;
        }
        fz_arena_snapshot(&a);
        if (fused)
            status = fpq_linear_quantize_activations(&dx, src, n_tok, k, stride, sx, dst, bytes);
        else
            status = fpq_linear_pack_activations(&dx, xc, n_tok, k, sx, dst, bytes);
        fl_env_check(env_state, "activations");
        FZ_CHECKF(status == want, "activations (fused %d): %d, expected %d\n", fused, status,
                  want);
        fz_arena_expect_only(&a, act, status == FPQ_OK ? act_need : 0, "activations");
        if (status != FPQ_OK)
            goto done;
        if (fused) {
            /* The same through fpq_quantize into xc, then packing into act2. */
            size_t row_bytes = (k * (size_t)fx.m.bits + 7) / 8;
            for (t = 0; t < tokens; t++)
                FZ_CHECK(fpq_quantize(&dx, x + t * k, k, sx, 0, xc + t * row_bytes) == FPQ_OK);
            FZ_CHECK(fpq_linear_pack_activations(&dx, xc, tokens, k, sx, act2, act_need) ==
                     FPQ_OK);
            FZ_CHECK(memcmp(act, act2, act_need) == 0);
        }
    }

    /* Forward. */
    {
        int f = at == FL_AT_FWD ? fault : FL_NONE;
        float *dst = y;
        size_t stride = y_stride, abytes = act_need;
        const float *b = has_bias ? bias : NULL;
        uint8_t saved = 0;
        size_t hdr = 0;
        want = k > kmax_doc ? FPQ_ERR_SIZE : FPQ_OK;
        if (f == FL_NULL) {
            dst = NULL;
            want = FPQ_ERR_NULL;
        } else if (f == FL_SHORT) {
            abytes -= 1;
            want = FPQ_ERR_CAPACITY;
        } else if (f == FL_HEADER) {
            hdr = fz_mix(&st) % 64;
            saved = act[hdr];
            act[hdr] ^= (uint8_t)(1u + fz_mix(&st) % 255u);
            want = -1000; /* OK or a refusal, checked below */
        } else if (want == FPQ_OK && f == FL_STRIDE) {
            stride = out - 1;
            want = FPQ_ERR_SIZE;
        } else if (want == FPQ_OK && f == FL_MISALIGN) {
            dst = (float *)(void *)((uint8_t *)y + 2);
            want = FPQ_ERR_ALIGN;
        } else if (want == FPQ_OK && f == FL_OVERLAP) {
            dst = (float *)(void *)packed;
            want = FPQ_ERR_OVERLAP;
        }
        if (stride == 0)
            want = FPQ_ERR_SIZE;
        fz_arena_snapshot(&a);
        status = fpq_linear_forward(act, abytes, packed, w_need, b, dst, stride);
        fl_env_check(env_state, "fpq_linear_forward");
        if (want == -1000) {
            FZ_CHECKF(status == FPQ_OK || status == FPQ_ERR_ARGUMENT ||
                      status == FPQ_ERR_CAPACITY || status == FPQ_ERR_SIZE,
                      "fpq_linear_forward with header byte %zu changed: %d\n", hdr, status);
            if (status != FPQ_OK)
                fz_arena_expect_only(&a, NULL, 0, "fpq_linear_forward (refused header)");
            act[hdr] = saved;
            goto done;
        }
        FZ_CHECKF(status == want, "fpq_linear_forward: %d, expected %d\n", status, want);
        if (status != FPQ_OK) {
            fz_arena_expect_only(&a, NULL, 0, "fpq_linear_forward");
            goto done;
        }
        fz_arena_expect_only(&a, y, tokens * y_stride * 4, "fpq_linear_forward");
        fz_env_default();
        for (t = 0; t < tokens; t++) {
            size_t xrow = (k * (size_t)fx.m.bits + 7) / 8, wrow = (k * (size_t)fw.m.bits + 7) / 8;
            for (o = 0; o < y_stride; o++) {
                int64_t acc = 0;
                double prod;
                float expect;
                size_t e = t * y_stride + o;
                if (o >= out) {
                    FZ_CHECK(memcmp(&y[e], a.snap + o_y + e * 4, 4) == 0);
                    continue;
                }
                for (i = 0; i < k; i++)
                    acc += (int64_t)fx.ints[fm_stream_code(xc + t * xrow, i, fx.m.bits)] *
                           fw.ints[fm_stream_code(wc + o * wrow, i, fw.m.bits)];
                prod = (double)acc * ((double)sx * (double)sw[o] * fx.q * fw.q);
                expect = (float)(b ? prod + (double)b[o] : prod);
                FZ_CHECKF(fm_f2u(y[e]) == fm_f2u(expect) || (expect != expect && y[e] != y[e]),
                          "y[%zu][%zu] = %a, expected %a\n", t, o, (double)y[e],
                          (double)expect);
            }
        }
    }
done:
    fz_env_default();
    FZ_CHECK(fpq_set_backend("auto") == FPQ_OK);
    FZ_CHECK(fpq_set_num_threads(0) == FPQ_OK);
    fz_arena_free(&a);
    return 0;
}

#undef FL_ALIGN
