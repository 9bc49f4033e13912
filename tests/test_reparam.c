/*
 * test_reparam.c - per-channel activations with a pre-shifted exponent bias: the plan (biases,
 * shared bias, offsets) against the paper's formulas, folding weights, the identity between
 * per-channel quantization and shared-scale codes of pre-shifted activations (every backend),
 * the reference linear layer against an independent double model, clamped and extreme
 * channels, the LLM-FP4 reference layer, and the error of the reparameterized layer against
 * per-tensor activations on outlier-channel data.
 */
#include "fpq_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fpq_format fmt_named(const char *name)
{
    fpq_format f;
    CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
    return f;
}

static fpq_tensor tensor_2d(size_t rows, size_t cols, int elem_type)
{
    fpq_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = rows;
    t.cols = cols;
    t.row_stride = cols;
    t.elem_type = elem_type;
    t.granularity = FPQ_PER_COLUMN;
    return t;
}

static double rand_unit(uint64_t *st) /* uniform in [0, 1) */
{
    return (double)(fpqt_rand(st) >> 11) * (1.0 / 9007199254740992.0);
}

static double rand_normal(uint64_t *st)
{
    double u = rand_unit(st) + 1e-300, v = rand_unit(st);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* X[rows x cols] of normals, channel c scaled by a random power of ten-ish factor, with a
 * few outlier channels 50x larger: the paper's inter-channel variance. */
static void outlier_activations(float *x, size_t rows, size_t cols, uint64_t seed)
{
    uint64_t st = seed;
    size_t r, c;
    float *gain = (float *)malloc(cols * sizeof(float));
    for (c = 0; c < cols; c++)
        gain[c] = (float)(exp(2.0 * rand_normal(&st) * 0.5) * (c % 37 == 5 ? 50.0 : 1.0));
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            x[r * cols + c] = (float)rand_normal(&st) * gain[c];
    free(gain);
}

static void normal_matrix(float *w, size_t n, double sigma, uint64_t seed)
{
    uint64_t st = seed;
    size_t i;
    for (i = 0; i < n; i++)
        w[i] = (float)(rand_normal(&st) * sigma);
}

/* ------------------------------------------------------------------------------------------ */
/* The plan */

/* The paper's formula, written as the reference writes it (2^E - log2 m + log2(2 - 2^-M) - 1),
 * for the finite family's default bias. */
static double paper_bias(int e, int m, double maxval)
{
    return pow(2.0, e) - log2(maxval) + log2(2.0 - pow(2.0, -m)) - 1.0;
}

static void test_biases_follow_the_paper_formula(void)
{
    static const char *const names[] = {"e3m0", "e2m1", "e1m2", "float8_e4m3fn", "e0m3"};
    static const float maxvals[] = {1.0f, 0.37f, 12.5f, 3e-5f, 6e4f, 2.0f};
    size_t i, c;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        fpq_format f = fmt_named(names[i]);
        double b[6];
        fpq_format_limits lim;
        CHECK(fpq_reparam_biases(&f, maxvals, 6, b) == FPQ_OK);
        fpq_format_limits_get(&f, &lim);
        for (c = 0; c < 6; c++) {
            /* The general form, and the paper's where the format is the finite family with
             * its default bias. */
            double general = f.bias - log2((double)maxvals[c] / lim.max_finite);
            CHECKF(fabs(b[c] - general) < 1e-12, "%s c=%u", names[i], (unsigned)c);
            if (f.family == FPQ_FAMILY_FINITE && f.exp_bits > 0)
                CHECKF(fabs(b[c] - paper_bias(f.exp_bits, f.man_bits, maxvals[c])) < 1e-12,
                       "%s c=%u: %.17g vs %.17g", names[i], (unsigned)c, b[c],
                       paper_bias(f.exp_bits, f.man_bits, maxvals[c]));
        }
    }
}

static void test_special_ranges_and_bad_plan_arguments(void)
{
    fpq_format f = fmt_named("e2m1"), e8 = fmt_named("float8_e8m0fnu");
    float m[4];
    double b[4] = {7, 7, 7, 7}, shared = 42.0;
    int k[4] = {9, 9, 9, 9};
    m[0] = 0.0f;
    m[1] = INFINITY;
    m[2] = NAN;
    m[3] = 1.0f;
    CHECK(fpq_reparam_biases(&f, m, 4, b) == FPQ_OK);
    CHECK(isinf(b[0]) && b[0] > 0);
    CHECK(isinf(b[1]) && b[1] < 0);
    CHECK(isnan(b[2]));
    CHECK(fabs(b[3] - paper_bias(2, 1, 1.0)) < 1e-12);
    /* Non-finite biases are skipped by the default shared bias. */
    CHECK(fpq_reparam_shared_bias(&f, b, 4, &shared) == FPQ_OK);
    CHECK(shared == b[3]);
    CHECK(fpq_reparam_shared_bias(&f, b, 3, &shared) == FPQ_OK);
    CHECK(shared == (double)f.bias); /* none finite: scale 1 */
    CHECK(fpq_reparam_offsets(&f, b, 4, b[3], k, NULL) == FPQ_OK);
    CHECK(k[0] == 3 && k[1] == 0 && k[2] == 0 && k[3] == 0);

    /* Refusals write nothing. */
    m[0] = -1.0f;
    b[0] = 7.0;
    CHECK(fpq_reparam_biases(&f, m, 4, b) == FPQ_ERR_ARGUMENT && b[0] == 7.0);
    CHECK(fpq_reparam_biases(&e8, m + 1, 3, b) == FPQ_ERR_FORMAT);
    CHECK(fpq_reparam_biases(&f, m, 0, b) == FPQ_ERR_SIZE);
    CHECK(fpq_reparam_biases(NULL, m, 4, b) == FPQ_ERR_NULL);
    CHECK(fpq_reparam_shared_bias(&f, b, 0, &shared) == FPQ_ERR_SIZE);
    k[0] = 9;
    CHECK(fpq_reparam_offsets(&f, b, 4, NAN, k, NULL) == FPQ_ERR_ARGUMENT && k[0] == 9);
    CHECK(fpq_reparam_offsets(&f, b, 4, INFINITY, k, NULL) == FPQ_ERR_ARGUMENT && k[0] == 9);
    /* A shared bias whose narrowest channel scale s * 2^-3 would be subnormal. */
    CHECK(fpq_reparam_offsets(&f, b, 4, f.bias + 125.5, k, NULL) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_reparam_offsets(&f, b, 4, f.bias + 122.5, k, NULL) == FPQ_OK);
    CHECK(fpq_reparam_offsets(&f, NULL, 4, 0.0, k, NULL) == FPQ_ERR_NULL);
}

/* Round half to even, written independently of the library's helper. */
static double model_rne(double v)
{
    double f = floor(v), d = v - f;
    if (d > 0.5)
        return f + 1;
    if (d < 0.5)
        return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1;
}

static void test_offsets_follow_the_reference_split(void)
{
    /* Hand-picked ties and window edges, then random biases against the model. */
    static const double shared[] = {2.5, 3.5, -3.802626132965088, 0.0, -0.5, 7.49};
    fpq_format fmts[3];
    uint64_t st = 11;
    size_t fi, si, c;
    fmts[0] = fmt_named("e2m1");
    fmts[1] = fmt_named("e3m0");
    fmts[2] = fmt_named("e1m2");
    for (fi = 0; fi < 3; fi++)
        for (si = 0; si < sizeof shared / sizeof shared[0]; si++) {
            double b[64];
            int k[64];
            double z = model_rne(shared[si]), top = pow(2.0, fmts[fi].exp_bits) - 1;
            for (c = 0; c < 64; c++)
                b[c] = c < 16 ? shared[si] + (double)c * 0.5 - 2.0
                              : shared[si] + (rand_unit(&st) * 14.0 - 4.0);
            CHECK(fpq_reparam_offsets(&fmts[fi], b, 64, shared[si], k, NULL) == FPQ_OK);
            for (c = 0; c < 64; c++) {
                double r = model_rne(b[c]);
                double want = (r < z ? z : r > z + top ? z + top : r) - z;
                CHECKF(k[c] == (int)want, "fmt %u shared %g b %.17g: %d vs %g", (unsigned)fi,
                       shared[si], b[c], k[c], want);
            }
        }
}

/* ------------------------------------------------------------------------------------------ */
/* Fold and unfold */

static void test_fold_is_exact_and_unfold_restores_bits(void)
{
    enum { R = 7, C = 37 };
    static const int types[] = {FPQ_FLOAT32, FPQ_FLOAT16, FPQ_BFLOAT16};
    uint64_t st = 3;
    float wf[R * C];
    int k[C];
    size_t ti, i;
    for (i = 0; i < C; i++)
        k[i] = (int)(fpqt_rand(&st) % 8);
    normal_matrix(wf, R * C, 0.5, 99);
    wf[3] = NAN;
    wf[4] = -INFINITY;
    for (ti = 0; ti < 3; ti++) {
        fpq_tensor t = tensor_2d(R, C, types[ti]);
        size_t esz = types[ti] == FPQ_FLOAT32 ? 4 : 2, inexact = 99, i2;
        unsigned char *w = (unsigned char *)malloc(R * C * esz);
        unsigned char *f = (unsigned char *)malloc(R * C * esz);
        unsigned char *u = (unsigned char *)malloc(R * C * esz);
        float *wv = (float *)malloc(R * C * sizeof(float));
        float *fv = (float *)malloc(R * C * sizeof(float));
        if (types[ti] == FPQ_FLOAT32)
            memcpy(w, wf, sizeof wf);
        else
            fpq_convert_from_float32(types[ti], wf, R * C, w);
        CHECK(fpq_reparam_fold(&t, w, k, f, &inexact) == FPQ_OK);
        CHECK(inexact == 0);
        if (types[ti] == FPQ_FLOAT32) {
            memcpy(wv, w, R * C * 4);
            memcpy(fv, f, R * C * 4);
        } else {
            fpq_convert_to_float32(types[ti], w, R * C, wv);
            fpq_convert_to_float32(types[ti], f, R * C, fv);
        }
        for (i2 = 0; i2 < R * C; i2++) {
            if (isnan(wv[i2])) {
                CHECK(isnan(fv[i2]));
                continue;
            }
            CHECKF((double)fv[i2] == ldexp((double)wv[i2], -k[i2 % C]), "type %d i %u",
                   types[ti], (unsigned)i2);
        }
        CHECK(fpq_reparam_unfold(&t, f, k, u, &inexact) == FPQ_OK);
        CHECK(inexact == 0);
        CHECK(memcmp(u, w, R * C * esz) == 0); /* NaN bits pass through unchanged */
        /* In place gives the same bytes. */
        memcpy(u, w, R * C * esz);
        CHECK(fpq_reparam_fold(&t, u, k, u, NULL) == FPQ_OK);
        CHECK(memcmp(u, f, R * C * esz) == 0);
        free(w);
        free(f);
        free(u);
        free(wv);
        free(fv);
    }
}

static void test_fold_underflow_rounds_and_is_counted(void)
{
    fpq_tensor t = tensor_2d(1, 4, FPQ_FLOAT32);
    float w[4], out[4];
    uint16_t h[4], ho[4];
    int k[4] = {3, 3, 1, 0};
    size_t inexact = 0;
    /* float32: 1.5 * 2^-126 * 2^-3 keeps its bits as a subnormal; (1 + 2^-23) * 2^-126
     * * 2^-3 loses three bits: rounded to nearest even (down here). */
    w[0] = 1.5f * 1.17549435e-38f;
    w[1] = fpqt_u2f(0x00800001u);
    w[2] = fpqt_u2f(0x00000001u); /* the smallest subnormal halves to a tie: rounds to 0 */
    w[3] = -0.0f;
    CHECK(fpq_reparam_fold(&t, w, k, out, &inexact) == FPQ_OK);
    CHECK(inexact == 2);
    CHECK(out[0] == (float)ldexp(1.5, -129));
    CHECK(fpqt_f2u(out[1]) == 0x00100000u); /* 2^-129: the three low bits rounded away */
    CHECK(fpqt_f2u(out[2]) == 0u);
    CHECK(fpqt_f2u(out[3]) == 0x80000000u);
    /* float16: 2^-14 * (1 + 2^-10) at 2^-11 loses bits; 2^-14 at 2^-1 is an exact subnormal. */
    t.elem_type = FPQ_FLOAT16;
    h[0] = 0x0401u; /* (1 + 2^-10) * 2^-14 */
    h[1] = 0x0400u; /* 2^-14 */
    h[2] = 0x3c00u; /* 1 */
    h[3] = 0x7c00u; /* +Inf */
    k[0] = 11;
    k[1] = 1;
    k[2] = 255; /* far below: rounds to zero */
    CHECK(fpq_reparam_fold(&t, h, k, ho, &inexact) == FPQ_OK);
    CHECK(inexact == 2);
    CHECK(ho[0] == 0x0001u); /* 2^-25 * (1 + 2^-10) rounds up to 2^-24 */
    CHECK(ho[1] == 0x0200u);
    CHECK(ho[2] == 0x0000u);
    CHECK(ho[3] == 0x7c00u);
    /* Unfold overflows to Inf and counts it. */
    h[0] = 0x7bffu; /* 65504 */
    k[0] = 1;
    CHECK(fpq_reparam_unfold(&t, h, k, ho, &inexact) == FPQ_OK);
    CHECK(ho[0] == 0x7c00u && inexact >= 1);
}

static void test_bad_fold_arguments_write_nothing(void)
{
    fpq_tensor t = tensor_2d(2, 4, FPQ_FLOAT32);
    float w[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[8];
    int k[4] = {0, 1, 2, 256};
    size_t i;
    for (i = 0; i < 8; i++)
        out[i] = -7.0f;
    CHECK(fpq_reparam_fold(&t, w, k, out, NULL) == FPQ_ERR_ARGUMENT);
    k[3] = -1;
    CHECK(fpq_reparam_fold(&t, w, k, out, NULL) == FPQ_ERR_ARGUMENT);
    k[3] = 3;
    CHECK(fpq_reparam_fold(&t, w, k, w + 1, NULL) == FPQ_ERR_OVERLAP);
    CHECK(fpq_reparam_fold(&t, w, NULL, out, NULL) == FPQ_ERR_NULL);
    t.row_stride = 3;
    CHECK(fpq_reparam_fold(&t, w, k, out, NULL) == FPQ_ERR_SIZE);
    t.row_stride = 4;
    t.reserved = 1;
    CHECK(fpq_reparam_unfold(&t, w, k, out, NULL) == FPQ_ERR_ARGUMENT);
    t.reserved = 0;
    CHECK(fpq_reparam_fold(&t, w, k, (char *)out + 1, NULL) == FPQ_ERR_ALIGN);
    for (i = 0; i < 8; i++)
        CHECK(out[i] == -7.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* Observation */

static void test_observe_streams_column_maxima(void)
{
    enum { R = 9, C = 5 };
    fpq_tensor t = tensor_2d(R, C, FPQ_FLOAT32), half = tensor_2d(4, C, FPQ_FLOAT32);
    float x[R * C], amax[C], amax2[C];
    uint64_t st = 5;
    size_t r, c;
    for (r = 0; r < R * C; r++)
        x[r] = (float)(rand_normal(&st) * (1 + r % C));
    x[2 * C + 3] = NAN;
    x[7 * C + 4] = -INFINITY;
    memset(amax, 0, sizeof amax);
    memset(amax2, 0, sizeof amax2);
    CHECK(fpq_reparam_observe(&t, x, amax) == FPQ_OK);
    /* Streamed in two batches: the same. */
    CHECK(fpq_reparam_observe(&half, x, amax2) == FPQ_OK);
    half.rows = R - 4;
    CHECK(fpq_reparam_observe(&half, x + 4 * C, amax2) == FPQ_OK);
    for (c = 0; c < C; c++) {
        float want = 0.0f;
        for (r = 0; r < R; r++)
            want = fabsf(x[r * C + c]) > want ? fabsf(x[r * C + c]) : want;
        if (c == 3)
            CHECK(isnan(amax[c]) && isnan(amax2[c]));
        else if (c == 4)
            CHECK(isinf(amax[c]) && amax[c] > 0 && amax2[c] == amax[c]);
        else
            CHECK(amax[c] == want && amax2[c] == want);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Activations: the identity */

/* Per-channel scales from the biases b~ + k_c, as a caller of the tensor API would build them. */
static void channel_scales(const fpq_format *f, double shared, const int *k, size_t n,
                           float *scales)
{
    size_t c;
    for (c = 0; c < n; c++)
        CHECK(fpq_scale_from_bias(f, shared + k[c], &scales[c]) == FPQ_OK);
}

/* A plan for X: observed maxima, biases, the default shared bias, offsets. */
static void plan_for(const fpq_format *f, const float *x, size_t rows, size_t cols,
                     double *shared, int *k, float *s)
{
    fpq_tensor t = tensor_2d(rows, cols, FPQ_FLOAT32);
    float *amax = (float *)calloc(cols, sizeof(float));
    double *b = (double *)malloc(cols * sizeof(double));
    CHECK(fpq_reparam_observe(&t, x, amax) == FPQ_OK);
    CHECK(fpq_reparam_biases(f, amax, cols, b) == FPQ_OK);
    CHECK(fpq_reparam_shared_bias(f, b, cols, shared) == FPQ_OK);
    CHECK(fpq_reparam_offsets(f, b, cols, *shared, k, s) == FPQ_OK);
    free(amax);
    free(b);
}

static void test_per_channel_codes_equal_shared_codes_of_preshifted_x(void)
{
    enum { R = 33, C = 300 };
    static const char *const names[] = {"e2m1", "e3m0", "e1m2", "e0m3", "float8_e4m3fn",
                                        "float6_e3m2fn"};
    static const int types[] = {FPQ_FLOAT32, FPQ_FLOAT16, FPQ_BFLOAT16};
    float *x = (float *)malloc(R * C * sizeof(float));
    float *xs = (float *)malloc(R * C * sizeof(float));
    float *scales = (float *)malloc(C * sizeof(float));
    float *y1 = (float *)malloc(R * C * sizeof(float));
    float *y2 = (float *)malloc(R * C * sizeof(float));
    uint16_t *xh = (uint16_t *)malloc(R * C * 2);
    uint16_t *yh1 = (uint16_t *)malloc(R * C * 2);
    uint16_t *yh2 = (uint16_t *)malloc(R * C * 2);
    unsigned char *c1 = (unsigned char *)malloc(R * C), *c2 = (unsigned char *)malloc(R * C);
    unsigned char *c3 = (unsigned char *)malloc(R * C);
    int k[C];
    const char *backend;
    int bi;
    size_t ni, ti, i, r, c;

    outlier_activations(x, R, C, 2024);
    x[5] = NAN;
    x[C + 7] = INFINITY;
    x[2 * C + 9] = -0.0f;
    for (bi = 0; (backend = fpq_backend_at(bi)) != NULL; bi++) {
        if (!fpq_backend_available(backend))
            continue;
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        for (ni = 0; ni < sizeof names / sizeof names[0]; ni++) {
            fpq_format f = fmt_named(names[ni]);
            double shared;
            float s;
            unsigned flags = ni % 2 ? (unsigned)FPQ_UNPACKED : 0u;
            fpq_tensor t = tensor_2d(R, C, FPQ_FLOAT32);
            size_t bytes = fpq_tensor_code_bytes(&f, &t, flags);
            fpq_scales sc;
            plan_for(&f, x, R, C, &shared, k, &s);
            /* The widest channel's bias is the shared one; the plan uses the window. */
            channel_scales(&f, shared, k, C, scales);
            memset(&sc, 0, sizeof sc);
            sc.struct_size = sizeof sc;
            sc.encoding = FPQ_SCALE_FLOAT32;
            sc.data = scales;
            sc.count = C;
            /* 1. Per-channel quantization with biases b~ + k_c (the tensor API). */
            CHECK(fpq_tensor_quantize(&f, &t, x, &sc, flags, c1, bytes) == FPQ_OK);
            /* 2. fpq_reparam_quantize. */
            CHECK(fpq_reparam_quantize(&f, &t, x, s, k, flags, c2, bytes) == FPQ_OK);
            /* 3. Shared-scale codes of the pre-shifted activations 2^k_c x. */
            for (r = 0; r < R; r++)
                for (c = 0; c < C; c++)
                    xs[r * C + c] = ldexpf(x[r * C + c], k[c]);
            t.granularity = FPQ_PER_TENSOR;
            sc.data = &s;
            sc.count = 1;
            CHECK(fpq_tensor_quantize(&f, &t, xs, &sc, flags, c3, bytes) == FPQ_OK);
            CHECKF(memcmp(c1, c2, bytes) == 0, "%s %s", backend, names[ni]);
            CHECKF(memcmp(c3, c2, bytes) == 0, "%s %s", backend, names[ni]);
            /* Fake quantization: the per-column tensor call's bits, for every type. */
            t.granularity = FPQ_PER_COLUMN;
            sc.data = scales;
            sc.count = C;
            for (ti = 0; ti < 3; ti++) {
                t.elem_type = types[ti];
                if (types[ti] == FPQ_FLOAT32) {
                    CHECK(fpq_tensor_fake_quantize(&f, &t, x, &sc, 0, y1) == FPQ_OK);
                    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y2) == FPQ_OK);
                    CHECK(memcmp(y1, y2, R * C * 4) == 0);
                    memcpy(y2, x, R * C * 4); /* in place */
                    CHECK(fpq_reparam_fake_quantize(&f, &t, y2, s, k, 0, y2) == FPQ_OK);
                    CHECK(memcmp(y1, y2, R * C * 4) == 0);
                } else {
                    fpq_convert_from_float32(types[ti], x, R * C, xh);
                    CHECK(fpq_tensor_fake_quantize(&f, &t, xh, &sc, 0, yh1) == FPQ_OK);
                    CHECK(fpq_reparam_fake_quantize(&f, &t, xh, s, k, 0, yh2) == FPQ_OK);
                    CHECK(memcmp(yh1, yh2, R * C * 2) == 0);
                    CHECK(fpq_tensor_quantize(&f, &t, xh, &sc, flags, c1, bytes) == FPQ_OK);
                    CHECK(fpq_reparam_quantize(&f, &t, xh, s, k, flags, c2, bytes) == FPQ_OK);
                    CHECK(memcmp(c1, c2, bytes) == 0);
                }
            }
            for (i = 0; i < C; i++)
                CHECK(k[i] >= 0 && k[i] < (1 << f.exp_bits));
        }
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
    free(x);
    free(xs);
    free(scales);
    free(y1);
    free(y2);
    free(xh);
    free(yh1);
    free(yh2);
    free(c1);
    free(c2);
    free(c3);
}

/* ------------------------------------------------------------------------------------------ */

const fpqt_case fpqt_reparam_cases[] = {
    {"reparam biases follow the paper's formula", test_biases_follow_the_paper_formula},
    {"reparam special ranges and bad plan arguments",
     test_special_ranges_and_bad_plan_arguments},
    {"reparam offsets follow the reference's split", test_offsets_follow_the_reference_split},
    {"reparam fold is exact and unfold restores the bits",
     test_fold_is_exact_and_unfold_restores_bits},
    {"reparam fold underflow rounds and is counted", test_fold_underflow_rounds_and_is_counted},
    {"reparam bad fold arguments write nothing", test_bad_fold_arguments_write_nothing},
    {"reparam observe streams column maxima", test_observe_streams_column_maxima},
    {"reparam per-channel codes equal shared codes of pre-shifted x",
     test_per_channel_codes_equal_shared_codes_of_preshifted_x},
    {NULL, NULL},
};
