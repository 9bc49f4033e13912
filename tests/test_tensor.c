/*
 * test_tensor.c - tensors with per-tensor / row / column / block scales, the float32, E8M0
 * (OCP MX) and E4M3 (NVFP4) scale encodings, and float32 / float16 / bfloat16 elements,
 * against a per-element model built on the foundation kernels.
 */
#include "fpq_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The scale of group g as the header defines each encoding. */
static float model_scale(const fpq_scales *s, size_t g)
{
    const uint8_t *c = (const uint8_t *)s->data;
    fpq_format e4m3;
    uint8_t code;
    float v;
    switch (s->encoding) {
    case FPQ_SCALE_FLOAT32:
        return ((const float *)s->data)[g];
    case FPQ_SCALE_E8M0:
        return c[g] == 0xff ? NAN : ldexpf(1.0f, (int)c[g] - 127);
    default:
        fpq_format_from_name("float8_e4m3fn", &e4m3);
        code = c[g];
        fpq_dequantize(&e4m3, &code, 1, 1.0f, FPQ_UNPACKED, &v);
        return s->tensor_scale * v;
    }
}

static size_t group_of(const fpq_tensor *t, size_t r, size_t c)
{
    switch (t->granularity) {
    case FPQ_PER_TENSOR: return 0;
    case FPQ_PER_ROW: return r;
    case FPQ_PER_COLUMN: return c;
    default:
        return r * ((t->cols + (size_t)t->block_size - 1) / (size_t)t->block_size) +
               c / (size_t)t->block_size;
    }
}

/* x as float32, whatever the element type. */
static float elem_get(const fpq_tensor *t, const void *x, size_t i)
{
    float f;
    if (t->elem_type == FPQ_FLOAT32)
        return ((const float *)x)[i];
    fpq_convert_to_float32(t->elem_type, (const uint16_t *)x + i, 1, &f);
    return f;
}

/* The code of one element: the foundation kernel with the group's scale (a NaN scale makes
 * the quotient NaN, whose code the kernel defines). */
static uint8_t model_code(const fpq_format *f, float x, float scale, unsigned flags)
{
    uint8_t code = 0;
    float q = x / scale;
    CHECK(fpq_quantize(f, &q, 1, 1.0f, (flags | FPQ_UNPACKED), &code) == FPQ_OK);
    return code;
}

static uint32_t bits_of_elem(const fpq_tensor *t, const void *y, size_t i)
{
    uint16_t h;
    if (t->elem_type == FPQ_FLOAT32)
        return fpqt_f2u(((const float *)y)[i]);
    memcpy(&h, (const uint16_t *)y + i, 2);
    return h;
}

/* The expected output element of dequantize: value(code) * scale in float32, narrowed. */
static uint32_t model_deq_bits(const fpq_tensor *t, const fpq_format *f, uint8_t code,
                               float scale)
{
    float v, y;
    uint16_t h;
    CHECK(fpq_dequantize(f, &code, 1, 1.0f, FPQ_UNPACKED, &v) == FPQ_OK);
    y = v * scale;
    if (t->elem_type == FPQ_FLOAT32)
        return fpqt_f2u(y);
    fpq_convert_from_float32(t->elem_type, &y, 1, &h);
    return h;
}

/* Fills a tensor with values exactly representable in its element type. */
static void fill(const fpq_tensor *t, void *x, uint64_t *rng, int with_specials)
{
    size_t n = (t->rows - 1) * t->row_stride + t->cols, i;
    for (i = 0; i < n; i++) {
        uint64_t r = fpqt_rand(rng);
        float v = (float)ldexp((double)(r >> 40) / 16777216.0 - 0.5, (int)(r % 13) - 6);
        if (with_specials && r % 97 == 0)
            v = (r & 1) ? -0.0f : 1e-41f;
        if (t->elem_type == FPQ_FLOAT32)
            ((float *)x)[i] = v;
        else
            fpq_convert_from_float32(t->elem_type, &v, 1, (uint16_t *)x + i);
    }
}

/* A scale array description, as every test below builds them. */
static fpq_scales scales_desc(int encoding, void *data, size_t count)
{
    fpq_scales s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.encoding = encoding;
    s.data = data;
    s.count = count;
    return s;
}

/* Quantize, dequantize and fake-quantize one tensor and compare every byte with the model. */
static void check_against_model(const fpq_format *f, const char *fname, const fpq_tensor *t,
                                int encoding, unsigned flags)
{
    size_t esize = t->elem_type == FPQ_FLOAT32 ? 4 : 2;
    size_t span = ((t->rows - 1) * t->row_stride + t->cols);
    size_t nscales = fpq_tensor_num_scales(t), code_bytes = fpq_tensor_code_bytes(f, t, flags);
    size_t row_bytes = code_bytes / t->rows, r, c;
    void *x = malloc(span * esize), *y = malloc(span * esize), *z = malloc(span * esize);
    uint8_t *codes = (uint8_t *)malloc(code_bytes + 1);
    uint8_t *sdata = (uint8_t *)malloc(nscales * 4 + 4);
    fpq_scales s;
    uint64_t rng = 1234 + (uint64_t)t->cols * 7 + (uint64_t)t->granularity;
    int bad = 0;

    if (!x || !y || !z || !codes || !sdata) {
        CHECK(!"out of memory");
        goto done;
    }
    s = scales_desc(encoding, sdata, nscales);
    fill(t, x, &rng, 1);
    memset(y, 0x5a, span * esize);
    memcpy(z, y, span * esize);
    codes[code_bytes] = 0xee;
    CHECKF(fpq_tensor_quantize_auto(f, t, x, 1.0f, &s, flags, codes, code_bytes) == FPQ_OK,
           "%s quantize_auto", fname);
    CHECK(codes[code_bytes] == 0xee);
    CHECK(fpq_tensor_dequantize(f, t, codes, code_bytes, &s, flags, y) == FPQ_OK);
    CHECK(fpq_tensor_fake_quantize(f, t, x, &s, flags, z) == FPQ_OK);
    for (r = 0; r < t->rows && bad < 3; r++) {
        for (c = 0; c < t->cols && bad < 3; c++) {
            size_t i = r * t->row_stride + c;
            float scale = model_scale(&s, group_of(t, r, c));
            uint8_t want = model_code(f, elem_get(t, x, i), scale, flags), got;
            int bits = fpq_format_bits(f);
            if (flags & FPQ_UNPACKED)
                got = codes[r * row_bytes + c];
            else
                got = (uint8_t)(((codes[r * row_bytes + c * (size_t)bits / 8] |
                                  (unsigned)codes[r * row_bytes + c * (size_t)bits / 8 + 1]
                                      << 8) >>
                                 (c * (size_t)bits % 8)) &
                                ((1u << bits) - 1));
            if (got != want || bits_of_elem(t, y, i) != model_deq_bits(t, f, want, scale) ||
                bits_of_elem(t, z, i) != bits_of_elem(t, y, i)) {
                bad++;
                fpqt_fail(__FILE__, __LINE__,
                          "%s %zux%zu stride %zu gran %d block %d enc %d type %d flags %u at "
                          "(%zu,%zu): code %#x want %#x, y %08x want %08x, fake %08x",
                          fname, t->rows, t->cols, t->row_stride, t->granularity,
                          t->block_size, encoding, t->elem_type, flags, r, c, got, want,
                          bits_of_elem(t, y, i), model_deq_bits(t, f, want, scale),
                          bits_of_elem(t, z, i));
            }
        }
        /* Elements between cols and the stride are not written. */
        if (r + 1 < t->rows && t->row_stride > t->cols)
            CHECK(((unsigned char *)y)[(r * t->row_stride + t->cols) * esize] == 0x5a);
    }
done:
    free(x);
    free(y);
    free(z);
    free(codes);
    free(sdata);
}

typedef struct shape_case {
    size_t rows, cols, stride;
} shape_case;

static void test_every_granularity_encoding_format_and_type_matches_the_model(void)
{
    static const shape_case shapes[] = {{1, 1, 1}, {1, 33, 33}, {3, 37, 40}, {5, 100, 100},
                                        {2, 1100, 1103}, {17, 16, 16}};
    static const char *const formats[] = {"e2m1", "float6_e2m3fn", "float6_e3m2fn",
                                          "float8_e4m3fn", "float8_e5m2", "e3m0"};
    static const int grans[] = {FPQ_PER_TENSOR, FPQ_PER_ROW, FPQ_PER_COLUMN, FPQ_PER_BLOCK};
    const char *backend;
    int bi;

    for (bi = 0; (backend = fpq_backend_at(bi)) != NULL; bi++) {
        size_t si, fi, gi;
        int enc, type;
        if (!fpq_backend_available(backend))
            continue;
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        for (fi = 0; fi < sizeof formats / sizeof formats[0]; fi++) {
            fpq_format f;
            CHECK(fpq_format_from_name(formats[fi], &f) == FPQ_OK);
            for (si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
                for (gi = 0; gi < 4; gi++)
                    for (enc = FPQ_SCALE_FLOAT32; enc <= FPQ_SCALE_E4M3; enc++)
                        for (type = FPQ_FLOAT32; type <= FPQ_BFLOAT16; type++) {
                            fpq_tensor t;
                            unsigned flags = ((si + gi + (size_t)enc) % 3 == 0) ? FPQ_UNPACKED
                                                                                : 0;
                            memset(&t, 0, sizeof t);
                            t.struct_size = sizeof t;
                            t.rows = shapes[si].rows;
                            t.cols = shapes[si].cols;
                            t.row_stride = shapes[si].stride;
                            t.elem_type = type;
                            t.granularity = grans[gi];
                            t.block_size = enc == FPQ_SCALE_E4M3 ? 16 : enc == FPQ_SCALE_E8M0
                                                                            ? 32
                                                                            : 8;
                            check_against_model(&f, formats[fi], &t, enc, flags);
                        }
        }
        printf("    tensors compared with the model on backend %s\n", backend);
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
}

/* OCP MX v1.0 known answers, worked by hand: shared exponent floor(log2(amax)) - emax_elem
 * (e2m1: 2, e4m3fn: 8), elements rounded to nearest even and saturated. */
static void test_mx_blocks_give_the_hand_worked_answers(void)
{
    fpq_format e2m1, e4m3;
    fpq_tensor t;
    fpq_scales s;
    float x[6 * 32], y[6 * 32];
    uint8_t scales[6], codes[6 * 16];
    int i;

    CHECK(fpq_format_from_name("e2m1", &e2m1) == FPQ_OK);
    CHECK(fpq_format_from_name("float8_e4m3fn", &e4m3) == FPQ_OK);
    t = fpqt_tensor(6, 32, 32, FPQ_FLOAT32, FPQ_PER_BLOCK, 32);
    s = scales_desc(FPQ_SCALE_E8M0, scales, 6);
    for (i = 0; i < 32; i++) {
        x[i] = (i % 2 ? -1.0f : 1.0f) * (float)(i % 8) * 0.5f; /* amax 3.5 */
        x[32 + i] = 0.25f * (float)i / 31.0f;                  /* amax 0.25 */
        x[64 + i] = 0.0f;                                      /* all zero */
        x[96 + i] = i == 5 ? NAN : 1.0f;                       /* a NaN */
        x[128 + i] = i == 9 ? -INFINITY : 1.0f;                /* an Inf */
        x[160 + i] = i == 0 ? 4.0f : (i == 1 ? 3.9f : 0.1f);   /* amax a power of two */
    }
    x[0] = 4.0f - 1.0f / 64; /* just below 4: block 0's amax */
    CHECK(fpq_tensor_quantize_auto(&e2m1, &t, x, 1.0f, &s, 0, codes, sizeof codes) == FPQ_OK);
    /* 3.984: floor(log2) = 1, minus 2 -> 2^-1 (code 126); 3.984 / 0.5 = 7.97 saturates to 6. */
    CHECKF(scales[0] == 126, "block 0 scale %u", scales[0]);
    CHECK((codes[0] & 15) == 0x7);
    /* 0.25: floor(log2) = -2, minus 2 -> 2^-4 (code 123); 0.25 / 2^-4 = 4 -> code 6. */
    CHECKF(scales[1] == 123, "block 1 scale %u", scales[1]);
    CHECK((codes[16 + 15] >> 4) == 0x6);
    /* All zero: the smallest scale, 2^-127 (code 0), and zero codes. */
    CHECK(scales[2] == 0 && codes[32] == 0 && codes[47] == 0);
    /* NaN or Inf in a block: the NaN scale. */
    CHECK(scales[3] == 0xff && scales[4] == 0xff);
    /* amax exactly 4 = 2^2: exponent 0 (code 127); 4 -> code 6, 3.9 -> 4 (code 6). */
    CHECKF(scales[5] == 127, "block 5 scale %u", scales[5]);
    CHECK(codes[80] == 0x66);
    CHECK(fpq_tensor_dequantize(&e2m1, &t, codes, sizeof codes, &s, 0, y) == FPQ_OK);
    CHECK(y[0] == 3.0f && y[160] == 4.0f && y[161] == 4.0f && y[64] == 0.0f);
    for (i = 0; i < 32; i++)
        CHECK(isnan(y[96 + i]) && isnan(y[128 + i]));

    /* MXFP8 (e4m3fn): amax 1.0 -> exponent 0 - 8 = -8 (code 119); 1.0 * 2^8 = 256 exactly. */
    t.rows = 1;
    for (i = 0; i < 32; i++)
        x[i] = i == 3 ? 1.0f : 0.001f * (float)i;
    CHECK(fpq_tensor_quantize_auto(&e4m3, &t, x, 1.0f, &s, 0, codes, 32) == FPQ_OK);
    CHECKF(scales[0] == 119, "MXFP8 scale %u", scales[0]);
    CHECK(codes[3] == 0x78); /* 256 = 1.0 * 2^8 in e4m3fn */
}

/* Caller-supplied E8M0 scales across the whole range, NaN included, against the model. */
static void test_e8m0_scales_over_their_whole_range_match_the_model(void)
{
    static const uint8_t codes_used[] = {0, 1, 2, 100, 126, 127, 128, 200, 253, 254, 0xff};
    enum { NB = sizeof codes_used, K = 8 };
    float x[NB * K], y[NB * K], z[NB * K];
    uint8_t scales[NB], codes[NB * K];
    fpq_format f;
    fpq_tensor t;
    fpq_scales s;
    uint64_t rng = 77;
    size_t i;
    const char *backend;
    int bi;

    t = fpqt_tensor(1, NB * K, NB * K, FPQ_FLOAT32, FPQ_PER_BLOCK, K);
    s = scales_desc(FPQ_SCALE_E8M0, scales, NB);
    memcpy(scales, codes_used, NB);
    for (i = 0; i < NB * K; i++)
        x[i] = fpqt_rand_float_bits(&rng);
    CHECK(fpq_format_from_name("float8_e5m2", &f) == FPQ_OK);
    for (bi = 0; (backend = fpq_backend_at(bi)) != NULL; bi++) {
        if (!fpq_backend_available(backend))
            continue;
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        CHECK(fpq_tensor_quantize(&f, &t, x, &s, FPQ_UNPACKED, codes, sizeof codes) == FPQ_OK);
        CHECK(fpq_tensor_dequantize(&f, &t, codes, sizeof codes, &s, FPQ_UNPACKED, y) ==
              FPQ_OK);
        CHECK(fpq_tensor_fake_quantize(&f, &t, x, &s, 0, z) == FPQ_OK);
        for (i = 0; i < NB * K; i++) {
            float scale = model_scale(&s, i / K);
            uint8_t want = model_code(&f, x[i], scale, 0);
            uint32_t yw = model_deq_bits(&t, &f, want, scale);
            CHECKF(codes[i] == want && (fpqt_f2u(y[i]) == yw || (isnan(y[i]) && isnan(fpqt_u2f(yw)))) &&
                       !memcmp(&y[i], &z[i], 4),
                   "%s: scale code %u, x=%a: code %#x want %#x", backend, scales[i / K],
                   (double)x[i], codes[i], want);
        }
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
}

static void test_nvfp4_round_trip_stays_within_the_recipe_bound(void)
{
    enum { R = 16, C = 256 };
    static float x[R * C], y[R * C];
    uint8_t codes[R * C / 2], scales[R * C / 16];
    fpq_format f, e4m3;
    fpq_tensor t;
    fpq_scales s;
    uint64_t rng = 42;
    double err = 0, sig = 0;
    size_t i;

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    CHECK(fpq_format_from_name("float8_e4m3fn", &e4m3) == FPQ_OK);
    for (i = 0; i < R * C; i++) {
        double u1 = ((double)(fpqt_rand(&rng) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(fpqt_rand(&rng) >> 11) + 0.5) / 9007199254740992.0;
        x[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2) * (i % 3 ? 1 : 40));
    }
    t = fpqt_tensor(R, C, C, FPQ_FLOAT32, FPQ_PER_BLOCK, 16);
    s = scales_desc(FPQ_SCALE_E4M3, scales, sizeof scales);
    CHECK(fpq_tensor_quantize_auto(&f, &t, x, 1.0f, &s, 0, codes, sizeof codes) == FPQ_OK);
    CHECK(fpq_tensor_dequantize(&f, &t, codes, sizeof codes, &s, 0, y) == FPQ_OK);
    {
        float amax = 0;
        for (i = 0; i < R * C; i++)
            amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        /* The tensor scale maps amax onto 6 * 448. */
        CHECKF(fabsf(s.tensor_scale * 6 * 448 - amax) <= amax * 1e-6f, "tensor scale %g",
               (double)s.tensor_scale);
    }
    for (i = 0; i < R * C; i++) {
        float bs;
        uint8_t code = scales[i / 16];
        CHECK(fpq_dequantize(&e4m3, &code, 1, 1.0f, FPQ_UNPACKED, &bs) == FPQ_OK);
        bs *= s.tensor_scale;
        /* The block scale is within 1/16 of amax_b / 6, so x / scale <= 6.4: the error of an
         * element is at most half e2m1's widest gap (2), i.e. one block scale. */
        CHECKF(fabsf(x[i] - y[i]) <= bs, "element %zu: %g -> %g, block scale %g", i,
               (double)x[i], (double)y[i], (double)bs);
        err += (double)(x[i] - y[i]) * (x[i] - y[i]);
        sig += (double)x[i] * x[i];
    }
    printf("    NVFP4 round trip SQNR: %.1f dB\n", 10 * log10(sig / err));
    CHECK(10 * log10(sig / err) > 15.0);
}

static void test_conversions_round_to_nearest_even(void)
{
    uint32_t h;
    int bad = 0;
    /* Widening float16 is exact: every code against the formula. */
    for (h = 0; h < 65536 && bad < 3; h++) {
        uint16_t c = (uint16_t)h;
        float f, want;
        unsigned e = (h >> 10) & 31, m = h & 1023;
        CHECK(fpq_convert_to_float32(FPQ_FLOAT16, &c, 1, &f) == FPQ_OK);
        want = e == 31 ? (m ? NAN : INFINITY)
                       : (float)ldexp(e ? 1024 + m : m, (e ? (int)e : 1) - 25);
        if (h & 0x8000)
            want = -want;
        if (!(isnan(want) ? isnan(f) : fpqt_f2u(f) == fpqt_f2u(want)))
            bad++, fpqt_fail(__FILE__, __LINE__, "f16 %04x -> %a", h, (double)f);
    }
    /* Narrowing: the nearest float16 / bfloat16, ties to even, on a sweep of float32. */
    for (h = 0; h < 200000 && bad < 6; h++) {
        uint64_t rng = h;
        float f = fpqt_rand_float_bits(&rng), back;
        uint16_t c, n;
        int type;
        if (isnan(f))
            continue;
        for (type = FPQ_FLOAT16; type <= FPQ_BFLOAT16; type++) {
            double d, best;
            CHECK(fpq_convert_from_float32(type, &f, 1, &c) == FPQ_OK);
            CHECK(fpq_convert_to_float32(type, &c, 1, &back) == FPQ_OK);
            /* Neither neighbour code may be nearer; at a tie the code must be even. */
            d = fabs((double)back - f);
            best = d;
            for (n = (uint16_t)(c - 1); n != (uint16_t)(c + 2); n++) {
                float other;
                double od;
                if (n == c || ((n ^ c) & 0x8000))
                    continue;
                fpq_convert_to_float32(type, &n, 1, &other);
                od = fabs((double)other - f);
                if (!isnan(other) && !isinf(other) && !isinf(back) &&
                    (od < best || (od == best && (c & 1))))
                    bad++, fpqt_fail(__FILE__, __LINE__, "type %d: %a -> %04x", type,
                                     (double)f, c);
            }
        }
    }
    {
        float one = 1.0f;
        CHECK(fpq_convert_from_float32(FPQ_FLOAT32, &one, 1, &h) == FPQ_ERR_ARGUMENT);
    }
}

static void test_bad_tensor_arguments_are_refused_and_write_nothing(void)
{
    fpq_format f;
    fpq_tensor t;
    fpq_scales s;
    float x[64], y[64], sc[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    uint8_t codes[64], before[64];
    size_t huge = (size_t)1 << (sizeof(size_t) * 8 - 2);

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    memset(x, 0, sizeof x);
    t = fpqt_tensor(4, 16, 16, FPQ_FLOAT32, FPQ_PER_ROW, 0);
    s = scales_desc(FPQ_SCALE_FLOAT32, sc, 4);
    memset(codes, 0xab, sizeof codes);
    memcpy(before, codes, sizeof codes);
    CHECK(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes) == FPQ_OK);
    memset(codes, 0xab, sizeof codes);
#define REFUSED(call, status)                                                            \
    do {                                                                                 \
        CHECKF((call) == (status), "%s", #call);                                         \
        CHECK(!memcmp(codes, before, sizeof codes));                                     \
    } while (0)
    t.row_stride = 15;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SIZE);
    t.row_stride = 16;
    t.rows = huge;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SIZE);
    t.rows = 4;
    t.granularity = FPQ_PER_BLOCK;
    t.block_size = 12;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_ARGUMENT);
    t.block_size = 2048;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_ARGUMENT);
    t.block_size = 8; /* 8 scales needed, 4 given */
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_CAPACITY);
    t.granularity = FPQ_PER_ROW;
    sc[2] = -1.0f;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SCALE);
    sc[2] = NAN;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SCALE);
    sc[2] = 0.0f;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SCALE);
    sc[2] = INFINITY;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_SCALE);
    sc[2] = 1.0f;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, 31), FPQ_ERR_CAPACITY);
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 8u, codes, sizeof codes), FPQ_ERR_FLAGS);
    REFUSED(fpq_tensor_quantize(&f, &t, NULL, &s, 0, codes, sizeof codes), FPQ_ERR_NULL);
    REFUSED(fpq_tensor_quantize(&f, &t, (const float *)(const void *)((const char *)x + 1),
                                &s, 0, codes, sizeof codes),
            FPQ_ERR_ALIGN);
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, (uint8_t *)x, sizeof x), FPQ_ERR_OVERLAP);
    t.struct_size = sizeof t - 1;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_ARGUMENT);
    t.struct_size = sizeof t;
    t.elem_type = 7;
    REFUSED(fpq_tensor_quantize(&f, &t, x, &s, 0, codes, sizeof codes), FPQ_ERR_ARGUMENT);
    t.elem_type = FPQ_FLOAT32;
    /* An E4M3 block scale of 0 is no scale. */
    {
        uint8_t e4[4] = {0x38, 0x00, 0x38, 0x38};
        fpq_scales s4 = s;
        s4.encoding = FPQ_SCALE_E4M3;
        s4.data = e4;
        s4.tensor_scale = 1.0f;
        REFUSED(fpq_tensor_quantize(&f, &t, x, &s4, 0, codes, sizeof codes), FPQ_ERR_SCALE);
    }
    /* Dequantize refuses the same way and leaves y alone. */
    memset(y, 0x11, sizeof y);
    sc[1] = -2.0f;
    CHECK(fpq_tensor_dequantize(&f, &t, codes, sizeof codes, &s, 0, y) == FPQ_ERR_SCALE);
    CHECK(((uint8_t *)y)[0] == 0x11);
    CHECK(fpq_tensor_compute_scales(&f, &t, x, 0.0f, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_tensor_compute_scales(&f, &t, x, 1.5f, &s) == FPQ_ERR_ARGUMENT);
    CHECK(sc[1] == -2.0f);
#undef REFUSED
}

static void test_tensor_threads_give_identical_bytes(void)
{
    enum { R = 512, C = 1024 };
    float *x = (float *)malloc(R * C * sizeof(float));
    float *y = (float *)malloc(R * C * sizeof(float));
    float *y1 = (float *)malloc(R * C * sizeof(float));
    uint8_t scales[R * C / 32];
    fpq_format f;
    fpq_tensor t;
    fpq_scales s;
    uint64_t rng = 9;
    static const int counts[] = {1, 2, 7};
    int i;

    if (!x || !y || !y1) {
        CHECK(!"out of memory");
        goto done;
    }
    t = fpqt_tensor(R, C, C, FPQ_FLOAT32, FPQ_PER_BLOCK, 32);
    s = scales_desc(FPQ_SCALE_E8M0, scales, sizeof scales);
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    fill(&t, x, &rng, 0);
    CHECK(fpq_tensor_compute_scales(&f, &t, x, 1.0f, &s) == FPQ_OK);
    for (i = 0; i < 3; i++) {
        CHECK(fpq_set_num_threads(counts[i]) == FPQ_OK);
        CHECK(fpq_tensor_fake_quantize(&f, &t, x, &s, 0, i ? y : y1) == FPQ_OK);
        if (i)
            CHECKF(!memcmp(y, y1, R * C * sizeof(float)), "%d threads", counts[i]);
    }
    CHECK(fpq_set_num_threads(0) == FPQ_OK);
done:
    free(x);
    free(y);
    free(y1);
}

const fpqt_case fpqt_tensor_cases[] = {
    {"every granularity, encoding, format and type matches the model",
     test_every_granularity_encoding_format_and_type_matches_the_model},
    {"MX blocks give the hand-worked answers", test_mx_blocks_give_the_hand_worked_answers},
    {"E8M0 scales over their whole range match the model",
     test_e8m0_scales_over_their_whole_range_match_the_model},
    {"NVFP4 round trip stays within the recipe's bound",
     test_nvfp4_round_trip_stays_within_the_recipe_bound},
    {"float16 and bfloat16 conversions round to nearest even",
     test_conversions_round_to_nearest_even},
    {"bad tensor arguments are refused and write nothing",
     test_bad_tensor_arguments_are_refused_and_write_nothing},
    {"tensor thread counts give identical bytes", test_tensor_threads_give_identical_bytes},
    {NULL, NULL},
};
