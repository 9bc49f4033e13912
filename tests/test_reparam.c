/*
 * test_reparam.c - per-channel activations with a pre-shifted exponent bias: the plan (biases,
 * shared bias, offsets) against the paper's formulas, folding weights, the identity between
 * per-channel quantization and shared-scale codes of pre-shifted activations (every backend),
 * the reference linear layer against an independent double model, clamped and extreme
 * channels, the LLM-FP4 reference layer, and the error of the reparameterized layer against
 * per-tensor activations on outlier-channel data.
 */
#include "fpq_test.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(_M_X64)
#  include <xmmintrin.h>
#endif

static fpq_format fmt_named(const char *name)
{
    fpq_format f;
    CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
    return f;
}

static fpq_tensor tensor_2d(size_t rows, size_t cols, int elem_type)
{
    return fpqt_tensor(rows, cols, cols, elem_type, FPQ_PER_COLUMN, 0);
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
    /* Ties go to even, and the largest double below 0.5 rounds down (not through v + 0.5). */
    {
        fpq_format e3 = fmt_named("e3m0");
        const double below_half = 0.49999999999999994;
        double tb[6];
        int tk[6];
        tb[0] = below_half;
        tb[1] = 0.5;
        tb[2] = 1.5;
        tb[3] = 2.5;
        tb[4] = 3.5 - 1e-15;
        tb[5] = 4.5;
        CHECK(fpq_reparam_offsets(&e3, tb, 6, below_half, tk, NULL) == FPQ_OK);
        CHECK(tk[0] == 0 && tk[1] == 0 && tk[2] == 2 && tk[3] == 2 && tk[4] == 3 &&
              tk[5] == 4);
        CHECK(fpq_reparam_offsets(&e3, tb, 6, -0.5, tk, NULL) == FPQ_OK); /* z = -0 */
        CHECK(tk[0] == 0 && tk[2] == 2 && tk[5] == 4);
        CHECK(fpq_reparam_offsets(&e3, tb, 6, 1.5, tk, NULL) == FPQ_OK); /* z = 2 */
        CHECK(tk[0] == 0 && tk[2] == 0 && tk[3] == 0 && tk[4] == 1 && tk[5] == 2);
    }
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
        inexact = 99;
        CHECK(fpq_reparam_fold(&t, u, k, u, &inexact) == FPQ_OK);
        CHECK(memcmp(u, f, R * C * esz) == 0 && inexact == 0);
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
    /* In place: the same values and the same count. */
    {
        float w2[4];
        size_t inexact2 = 0;
        memcpy(w2, w, sizeof w2);
        CHECK(fpq_reparam_fold(&t, w2, k, w2, &inexact2) == FPQ_OK);
        CHECK(inexact2 == 2 && memcmp(w2, out, sizeof out) == 0);
    }
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
    {
        uint16_t h2[4];
        size_t inexact2 = 0;
        memcpy(h2, h, sizeof h2);
        CHECK(fpq_reparam_fold(&t, h2, k, h2, &inexact2) == FPQ_OK);
        CHECK(inexact2 == 2 && memcmp(h2, ho, sizeof ho) == 0);
    }
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
/* The reference linear layer */

/* Unscaled value of every code of a format, through the public kernel. */
static void code_values(const fpq_format *f, float *values)
{
    unsigned char codes[256];
    int bits = fpq_format_bits(f), c;
    for (c = 0; c < 256; c++)
        codes[c] = (unsigned char)(c & ((1 << bits) - 1));
    CHECK(fpq_dequantize(f, codes, 256, 1.0f, FPQ_UNPACKED, values) == FPQ_OK);
}

/* The codes of a packed or unpacked tensor, one per byte, through the public kernels: a
 * second decode path independent of the library's code reader. */
static void unpack_rows(const fpq_format *f, const void *codes, size_t rows, size_t cols,
                        unsigned flags, unsigned char *out)
{
    size_t row_bytes = fpq_packed_size(f, cols, flags), r, c;
    int bits = fpq_format_bits(f);
    for (r = 0; r < rows; r++) {
        const unsigned char *row = (const unsigned char *)codes + r * row_bytes;
        for (c = 0; c < cols; c++) {
            if (flags & FPQ_UNPACKED) {
                out[r * cols + c] = (unsigned char)(row[c] & ((1 << bits) - 1));
            } else {
                size_t bit = c * (size_t)bits;
                unsigned v = row[bit / 8] | (bit / 8 + 1 < row_bytes ? row[bit / 8 + 1] << 8 : 0);
                out[r * cols + c] = (unsigned char)((v >> (bit % 8)) & ((1u << bits) - 1u));
            }
        }
    }
}

/* Quantizes W[out x in] per row, max-based (fpq_tensor_quantize_auto). */
static void quantize_rows(const fpq_format *f, const float *w, size_t out, size_t in,
                          unsigned flags, void *codes, float *scales)
{
    fpq_tensor t = tensor_2d(out, in, FPQ_FLOAT32);
    fpq_scales sc;
    t.granularity = FPQ_PER_ROW;
    memset(&sc, 0, sizeof sc);
    sc.struct_size = sizeof sc;
    sc.encoding = FPQ_SCALE_FLOAT32;
    sc.data = scales;
    sc.count = out;
    CHECK(fpq_tensor_quantize_auto(f, &t, w, 1.0f, &sc, flags, codes,
                                   fpq_tensor_code_bytes(f, &t, flags)) == FPQ_OK);
}

static void test_linear_reference_matches_a_double_model(void)
{
    enum { T = 13, I = 77, O = 9 };
    static const char *const xn[] = {"e2m1", "e1m2", "float6_e2m3fn", "float8_e4m3fn"};
    static const char *const wn[] = {"e3m0", "e2m1", "float6_e3m2fn", "e0m3"};
    float *x = (float *)malloc(T * I * sizeof(float)), *w = (float *)malloc(O * I * 4);
    float ws[O], bias[O], y[T * O], y2[T * O], xv[256], wv[256];
    unsigned char *xc = (unsigned char *)malloc(T * I), *wc = (unsigned char *)malloc(O * I);
    unsigned char *xu = (unsigned char *)malloc(T * I), *wu = (unsigned char *)malloc(O * I);
    size_t fi, t, o, c, pass;
    outlier_activations(x, T, I, 7);
    normal_matrix(w, O * I, 0.1, 8);
    for (o = 0; o < O; o++)
        bias[o] = (float)(0.25 * (double)o - 1.0);
    for (fi = 0; fi < 4; fi++)
        for (pass = 0; pass < 2; pass++) {
            fpq_format xf = fmt_named(xn[fi]), wf = fmt_named(wn[fi]);
            unsigned flags = pass ? (unsigned)FPQ_UNPACKED : 0u;
            fpq_tensor tx = tensor_2d(T, I, FPQ_FLOAT32);
            size_t xb = fpq_tensor_code_bytes(&xf, &tx, flags);
            size_t wb = fpq_packed_size(&wf, I, flags) * O;
            float xs = 0.0371f;
            int k[I];
            memset(k, 0, sizeof k);
            CHECK(fpq_reparam_quantize(&xf, &tx, x, xs, k, flags, xc, xb) == FPQ_OK);
            quantize_rows(&wf, w, O, I, flags, wc, ws);
            CHECK(fpq_reparam_linear_reference(&xf, xc, xb, T, I, xs, &wf, wc, wb, O, ws,
                                               pass ? bias : NULL, flags, y) == FPQ_OK);
            code_values(&xf, xv);
            code_values(&wf, wv);
            unpack_rows(&xf, xc, T, I, flags, xu);
            unpack_rows(&wf, wc, O, I, flags, wu);
            for (t = 0; t < T; t++)
                for (o = 0; o < O; o++) {
                    double acc = 0.0, prod;
                    float want;
                    for (c = 0; c < I; c++)
                        acc += (double)xv[xu[t * I + c]] * (double)wv[wu[o * I + c]];
                    prod = acc * ((double)xs * (double)ws[o]);
                    want = (float)(pass ? prod + (double)bias[o] : prod);
                    CHECKF(fpqt_f2u(y[t * O + o]) == fpqt_f2u(want), "%s x %s t%u o%u: %a %a",
                           xn[fi], wn[fi], (unsigned)t, (unsigned)o, y[t * O + o], want);
                }
            /* Every thread count gives the same bits. */
            CHECK(fpq_set_num_threads(1) == FPQ_OK);
            CHECK(fpq_reparam_linear_reference(&xf, xc, xb, T, I, xs, &wf, wc, wb, O, ws,
                                               pass ? bias : NULL, flags, y2) == FPQ_OK);
            CHECK(fpq_set_num_threads(0) == FPQ_OK);
            CHECK(memcmp(y, y2, sizeof y) == 0);
        }
    free(x);
    free(w);
    free(xc);
    free(wc);
    free(xu);
    free(wu);
}

/* All codes at the maximum, K = 16384: the double sum equals the exact integer sum, so an
 * integer kernel's result (sum of code integers, then the documented scaling) is the same. */
static void test_linear_reference_equals_the_integer_sum(void)
{
    enum { T = 2, I = 16384, O = 3 };
    fpq_format f = fmt_named("e2m1");
    unsigned char *xc = (unsigned char *)malloc(T * I / 2), *wc = (unsigned char *)malloc(O * I / 2);
    float ws[O] = {0.013f, 1.7f, 3.3e-3f}, y[T * O], xs = 0.0917f;
    uint64_t st = 77;
    size_t t, o, c;
    /* Row 0 of X: every code 0x7 (+6); row 1: random codes. W: +-6 and random. */
    for (c = 0; c < I / 2; c++) {
        xc[c] = 0x77;
        xc[I / 2 + c] = (unsigned char)fpqt_rand(&st);
        wc[c] = 0x77;
        wc[I / 2 + c] = 0xff; /* -6, -6 */
        wc[I + c] = (unsigned char)fpqt_rand(&st);
    }
    CHECK(fpq_reparam_linear_reference(&f, xc, T * I / 2, T, I, xs, &f, wc, O * I / 2, O, ws,
                                       NULL, 0, y) == FPQ_OK);
    for (t = 0; t < T; t++)
        for (o = 0; o < O; o++) {
            /* e2m1 values times 2 are the integers {0, 1, 2, 3, 4, 6, 8, 12}. */
            static const int twice[8] = {0, 1, 2, 3, 4, 6, 8, 12};
            long long sum = 0;
            float want;
            for (c = 0; c < I; c++) {
                unsigned a = (xc[(t * I + c) / 2] >> ((c & 1) * 4)) & 15u;
                unsigned b = (wc[(o * I + c) / 2] >> ((c & 1) * 4)) & 15u;
                long long va = (a & 8 ? -1 : 1) * twice[a & 7];
                long long vb = (b & 8 ? -1 : 1) * twice[b & 7];
                sum += va * vb;
            }
            want = (float)(((double)sum * 0.25) * ((double)xs * (double)ws[o]));
            CHECKF(fpqt_f2u(y[t * O + o]) == fpqt_f2u(want), "t%u o%u", (unsigned)t,
                   (unsigned)o);
        }
    CHECK(y[0] == (float)(36.0 * I * ((double)xs * (double)ws[0])));
    free(xc);
    free(wc);
}

static void test_bad_linear_arguments_write_nothing(void)
{
    fpq_format f = fmt_named("e2m1"), e8 = fmt_named("float8_e8m0fnu");
    unsigned char xc[8] = {0x12, 0x34, 0x56, 0x70, 1, 2, 3, 4}, wc[8] = {0x21, 0x43, 0, 0, 0, 0, 0, 0};
    float ws[2] = {1.0f, 0.5f}, y[4] = {-9, -9, -9, -9}, bad[2] = {1.0f, 0.0f};
    size_t i;
    /* 2 tokens x 4 inputs, 2 outputs: 2 bytes a row. */
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 0, y) ==
          FPQ_OK);
    for (i = 0; i < 4; i++)
        y[i] = -9;
    CHECK(fpq_reparam_linear_reference(NULL, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 0, y) ==
          FPQ_ERR_NULL);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 0, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 0, y) ==
          FPQ_ERR_SIZE);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 0.0f, &f, wc, 4, 2, ws, NULL, 0, y) ==
          FPQ_ERR_SCALE);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, bad, NULL, 0, y) ==
          FPQ_ERR_SCALE);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 2, y) ==
          FPQ_ERR_FLAGS);
    CHECK(fpq_reparam_linear_reference(&f, xc, 3, 2, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 0, y) ==
          FPQ_ERR_CAPACITY);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, ws, ws, 0,
                                       (float *)(void *)ws) == FPQ_ERR_OVERLAP);
    CHECK(fpq_reparam_linear_reference(&f, xc, 4, 2, 4, 1.0f, &f, wc, 4, 2, ws, NULL, 0,
                                       (float *)(void *)((char *)y + 2)) == FPQ_ERR_ALIGN);
    for (i = 0; i < 4; i++)
        CHECK(y[i] == -9);
    /* The activation calls: E8M0 refused, offsets outside the window, a channel scale that
     * would be subnormal. */
    {
        fpq_tensor t = tensor_2d(1, 4, FPQ_FLOAT32);
        float x[4] = {1, 2, 3, 4};
        int k[4] = {0, 1, 2, 3};
        unsigned char codes[2] = {0xaa, 0xaa};
        CHECK(fpq_reparam_quantize(&e8, &t, x, 1.0f, k, 0, codes, 4) == FPQ_ERR_FORMAT);
        k[3] = 4;
        CHECK(fpq_reparam_quantize(&f, &t, x, 1.0f, k, 0, codes, 2) == FPQ_ERR_ARGUMENT);
        k[3] = 3;
        CHECK(fpq_reparam_quantize(&f, &t, x, 0x1p-124f, k, 0, codes, 2) == FPQ_ERR_SCALE);
        CHECK(fpq_reparam_quantize(&f, &t, x, 1.0f, k, 0, codes, 1) == FPQ_ERR_CAPACITY);
        CHECK(fpq_reparam_quantize(&f, &t, x, 1.0f, k, 8, codes, 2) == FPQ_ERR_FLAGS);
        CHECK(fpq_reparam_quantize(&f, &t, x, 1.0f, k, 0, (unsigned char *)(void *)x + 2, 2) ==
              FPQ_ERR_OVERLAP);
        CHECK(fpq_reparam_fake_quantize(&f, &t, x, 1.0f, k, 0, x + 1) == FPQ_ERR_OVERLAP);
        CHECK(codes[0] == 0xaa && codes[1] == 0xaa && x[1] == 2.0f);
    }
}

/* Per-channel layer output through the per-column tensor API, against the engine's data
 * (shared-scale codes, folded weights): equal bits under the documented order. */
static void test_per_channel_layer_equals_the_folded_layer(void)
{
    enum { T = 24, I = 96, O = 16 };
    fpq_format f = fmt_named("e2m1");
    float *x = (float *)malloc(T * I * 4), *w = (float *)malloc(O * I * 4);
    float *wf = (float *)malloc(O * I * 4), ws[O], scales[I], xv[256], wv[256], s;
    float y[T * O];
    unsigned char xc[T * I / 2], xpc[T * I / 2], wc[O * I / 2], xu[T * I], wu[O * I];
    int k[I];
    double shared;
    fpq_tensor tx = tensor_2d(T, I, FPQ_FLOAT32), tw = tensor_2d(O, I, FPQ_FLOAT32);
    fpq_scales sc;
    size_t inexact = 1, t, o, c;
    outlier_activations(x, T, I, 99);
    normal_matrix(w, O * I, 0.05, 100);
    plan_for(&f, x, T, I, &shared, k, &s);
    /* The engine: codes of the pre-shifted X with the shared scale; W' = fold(W), per row. */
    CHECK(fpq_reparam_quantize(&f, &tx, x, s, k, 0, xc, sizeof xc) == FPQ_OK);
    CHECK(fpq_reparam_fold(&tw, w, k, wf, &inexact) == FPQ_OK && inexact == 0);
    quantize_rows(&f, wf, O, I, 0, wc, ws);
    CHECK(fpq_reparam_linear_reference(&f, xc, sizeof xc, T, I, s, &f, wc, sizeof wc, O, ws,
                                       NULL, 0, y) == FPQ_OK);
    /* The simulation: per-channel codes (biases b~ + k_c), and W'^ unfolded, i.e. the
     * quantized weight the per-channel activations multiply. In double, in channel order,
     * x^_c * w^_oc / (s * ws_o) = (v_x 2^-k_c)(v_w 2^k_c) exactly. */
    channel_scales(&f, shared, k, I, scales);
    memset(&sc, 0, sizeof sc);
    sc.struct_size = sizeof sc;
    sc.encoding = FPQ_SCALE_FLOAT32;
    sc.data = scales;
    sc.count = I;
    CHECK(fpq_tensor_quantize(&f, &tx, x, &sc, 0, xpc, sizeof xpc) == FPQ_OK);
    CHECK(memcmp(xpc, xc, sizeof xc) == 0);
    code_values(&f, xv);
    code_values(&f, wv);
    unpack_rows(&f, xpc, T, I, 0, xu);
    unpack_rows(&f, wc, O, I, 0, wu);
    for (t = 0; t < T; t++)
        for (o = 0; o < O; o++) {
            double acc = 0.0, ref = 0.0;
            float want;
            for (c = 0; c < I; c++) {
                double xhat = ldexp((double)xv[xu[t * I + c]] * (double)scales[c] / s, 0);
                double what = ldexp((double)wv[wu[o * I + c]], k[c]);
                acc += xhat * what;
                ref += (double)xv[xu[t * I + c]] * (double)scales[c] *
                       ((double)wv[wu[o * I + c]] * (double)ws[o] * ldexp(1.0, k[c]));
            }
            want = (float)(acc * ((double)s * (double)ws[o]));
            CHECKF(fpqt_f2u(want) == fpqt_f2u(y[t * O + o]), "t%u o%u", (unsigned)t,
                   (unsigned)o);
            /* And the plain float product of the simulated matrices agrees closely. */
            CHECK(fabs(ref - (double)y[t * O + o]) <= 1e-6 * fabs(ref) + 1e-30);
        }
    free(x);
    free(w);
    free(wf);
}

/* ------------------------------------------------------------------------------------------ */
/* Clamped and extreme channels */

static void test_clamped_and_extreme_channels(void)
{
    enum { T = 6, C = 5 };
    fpq_format f = fmt_named("e2m1");
    float x[T * C], amax[C], y[T * C], s, ymax;
    double b[C], shared;
    int k[C];
    fpq_tensor t = tensor_2d(T, C, FPQ_FLOAT32);
    size_t r;
    /* ch 0: ordinary, amax 1; ch 1: all zero; ch 2: a huge outlier channel (1000);
     * ch 3: a NaN among small values; ch 4: tiny (1e-4, far above the window). */
    for (r = 0; r < T; r++) {
        x[r * C + 0] = (float)((double)r / 5.0) * (r % 2 ? -1.0f : 1.0f);
        x[r * C + 1] = 0.0f;
        x[r * C + 2] = 1000.0f * (float)(r + 1) / T;
        x[r * C + 3] = r == 2 ? NAN : 0.5f * (float)r;
        x[r * C + 4] = 1e-4f * (float)(r + 1) / T;
    }
    memset(amax, 0, sizeof amax);
    CHECK(fpq_reparam_observe(&t, x, amax) == FPQ_OK);
    CHECK(isnan(amax[3]) && amax[1] == 0.0f && amax[2] == 1000.0f);
    CHECK(fpq_reparam_biases(&f, amax, C, b) == FPQ_OK);
    CHECK(fpq_reparam_shared_bias(&f, b, C, &shared) == FPQ_OK);
    CHECK(shared == b[2]); /* the outlier channel sets the shared range */
    CHECK(fpq_reparam_offsets(&f, b, C, shared, k, &s) == FPQ_OK);
    /* Outlier at 0; zero channel at the top; NaN channel at 0; ordinary channel 1000x
     * narrower (log2 1000 ~ 10) is clamped at the top, 3; the tiny one too. */
    CHECK(k[2] == 0 && k[1] == 3 && k[3] == 0 && k[0] == 3 && k[4] == 3);
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y) == FPQ_OK);
    for (r = 0; r < T; r++) {
        CHECK(y[r * C + 1] == 0.0f);
        /* The outlier channel keeps its full range: its largest value maps to 6 s. */
        if (r == T - 1)
            CHECK(y[r * C + 2] == 6.0f * s);
        /* A NaN becomes the finite format's zero of the opposite sign (fpq_quantize). */
        if (r == 2)
            CHECK(fpqt_f2u(y[r * C + 3]) == 0x80000000u);
        /* The tiny channel, coarser than its own range, underflows to zero. */
        CHECK(y[r * C + 4] == 0.0f);
    }
    /* A shared bias above the minimum clips the channels below the window at the shared
     * range: offset 0, and values saturate at 6 s'. */
    CHECK(fpq_reparam_offsets(&f, b, C, b[2] + 2.0, k, &s) == FPQ_OK);
    CHECK(k[2] == 0);
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y) == FPQ_OK);
    ymax = 6.0f * s;
    CHECK(y[(T - 1) * C + 2] == ymax && ymax < 1000.0f);
}

/* ------------------------------------------------------------------------------------------ */
/* The LLM-FP4 reference layer */

static void test_reference_layer_offsets_and_activations(void)
{
    enum { N = 512, R = 64, C = 256 };
    /* summary.json "layer": a_E 2, a_M 1, a_interval, a_interval_zero_point -4. */
    const double shared = -3.802626132965088;
    fpq_format f = fmt_named("e2m1");
    size_t nb = 0, nx = 0, ns = 0, c, r, compared = 0;
    float *ab = (float *)fpqt_read_data("llmfp4/layer/a_bias.f32", &nb);
    float *x = (float *)fpqt_read_data("llmfp4/layer/X.f32", &nx);
    float *xs = (float *)fpqt_read_data("llmfp4/layer/x_sim_rows64.f32", &ns);
    double b[C], mine[C];
    int k[C], k_mine[C], hist[4] = {0, 0, 0, 0};
    float s, amax[C], *y = (float *)malloc(R * C * sizeof(float));
    fpq_tensor all = tensor_2d(N, C, FPQ_FLOAT32), t = tensor_2d(R, C, FPQ_FLOAT32);
    if (!ab || !x || !xs || nb != C * 4 || nx != N * C * 4 || ns != R * C * 4) {
        CHECK(!"reference layer data");
        free(ab);
        free(x);
        free(xs);
        free(y);
        return;
    }
    /* The biases from the calibration input's column maxima are the reference's a_bias (it
     * computes them in float32). */
    memset(amax, 0, sizeof amax);
    CHECK(fpq_reparam_observe(&all, x, amax) == FPQ_OK);
    CHECK(fpq_reparam_biases(&f, amax, C, mine) == FPQ_OK);
    for (c = 0; c < C; c++) {
        b[c] = ab[c];
        CHECKF(fabs(mine[c] - b[c]) < 2e-6, "c%u: %.9g vs %.9g", (unsigned)c, mine[c], b[c]);
    }
    CHECK(fpq_reparam_offsets(&f, b, C, shared, k, &s) == FPQ_OK);
    CHECK(fpq_reparam_offsets(&f, mine, C, shared, k_mine, NULL) == FPQ_OK);
    CHECK(memcmp(k, k_mine, sizeof k) == 0);
    /* The reference's zero point is -4: its window of channel biases is [-4, -1]. */
    for (c = 0; c < C; c++) {
        double r4 = floor(b[c] + 0.5);
        CHECK(k[c] == (int)(r4 < -4 ? 0 : r4 > -1 ? 3 : r4 + 4));
        hist[k[c]]++;
    }
    CHECK(hist[0] > 0 && hist[3] > 0); /* outlier channels and clamped narrow ones */
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y) == FPQ_OK);
    for (r = 0; r < R; r++)
        for (c = 0; c < C; c++) {
            float sc = (float)ldexp((double)s, -k[c]);
            float ref = xs[r * C + c], got = y[r * C + c];
            if (fabsf(ref) > 6.0f * sc * 1.000001f)
                continue; /* the reference's quirk: one level above the format */
            compared++;
            CHECKF(fabs((double)got - (double)ref) <= 1e-6 * fabs((double)ref),
                   "r%u c%u k%d: x %a got %a ref %a", (unsigned)r, (unsigned)c, k[c],
                   x[r * C + c], got, ref);
        }
    CHECK(compared > R * C * 99 / 100);
    free(ab);
    free(x);
    free(xs);
    free(y);
}

/* ------------------------------------------------------------------------------------------ */
/* Against the search: the deployable reparameterized layer vs per-tensor activations */

/* The results of one layer search (fpq_layer_search_*, issue 5) that a deployment needs. */
typedef struct searched {
    fpq_format wf, af;
    float act_scale;
    float *w_scales; /* out */
    int *offsets;    /* in */
} searched;

static void run_layer_search(const float *w, const float *x, size_t T, size_t I, size_t O,
                             int act_mode, const fpq_format *only_act, searched *out)
{
    fpq_layer_search_options opts;
    fpq_layer_search *ls = NULL;
    fpq_layer_search_summary sum;
    CHECK(fpq_layer_search_options_init(&opts, 4) == FPQ_OK);
    opts.act_mode = act_mode;
    opts.grid_steps = 25; /* keeps the test quick; the grid is the reference's otherwise */
    opts.rounds = 1;
    if (only_act) {
        opts.num_act_formats = 1;
        opts.act_formats[0] = *only_act;
        opts.initial_act_format = 0;
    }
    CHECK(fpq_layer_search_create(w, O, I, &opts, &ls) == FPQ_OK);
    CHECK(fpq_layer_search_add_batch(ls, x, T) == FPQ_OK);
    CHECK(fpq_layer_search_solve(ls) == FPQ_OK);
    CHECK(fpq_layer_search_get_summary(ls, &sum) == FPQ_OK);
    out->wf = sum.weight_format;
    out->af = sum.act_format;
    out->act_scale = sum.act_scale;
    CHECK(fpq_layer_search_get_weights(ls, NULL, out->w_scales, NULL, O) == FPQ_OK);
    CHECK(fpq_layer_search_get_activations(ls, NULL, out->offsets, NULL, I) == FPQ_OK);
    fpq_layer_search_destroy(ls);
}

/* Y^ from what an engine holds: activation codes (shared scale, pre-shift `k`), weight codes
 * of `w` per row; through the reference linear layer. Returns the MSE against y. */
static double deployed_mse(const searched *sr, const float *w, const float *x, const int *k,
                           const double *y, size_t T, size_t I, size_t O)
{
    fpq_tensor tx = tensor_2d(T, I, FPQ_FLOAT32), tw = tensor_2d(O, I, FPQ_FLOAT32);
    size_t xb = fpq_tensor_code_bytes(&sr->af, &tx, 0), wb, i;
    unsigned char *xc = (unsigned char *)malloc(xb), *wc;
    float *yq = (float *)malloc(T * O * sizeof(float));
    fpq_scales sc;
    double mse = 0.0;
    tw.granularity = FPQ_PER_ROW;
    wb = fpq_tensor_code_bytes(&sr->wf, &tw, 0);
    wc = (unsigned char *)malloc(wb);
    memset(&sc, 0, sizeof sc);
    sc.struct_size = sizeof sc;
    sc.encoding = FPQ_SCALE_FLOAT32;
    sc.data = sr->w_scales;
    sc.count = O;
    CHECK(fpq_reparam_quantize(&sr->af, &tx, x, sr->act_scale, k, 0, xc, xb) == FPQ_OK);
    CHECK(fpq_tensor_quantize(&sr->wf, &tw, w, &sc, 0, wc, wb) == FPQ_OK);
    CHECK(fpq_reparam_linear_reference(&sr->af, xc, xb, T, I, sr->act_scale, &sr->wf, wc, wb,
                                       O, sr->w_scales, NULL, 0, yq) == FPQ_OK);
    for (i = 0; i < T * O; i++)
        mse += ((double)yq[i] - y[i]) * ((double)yq[i] - y[i]);
    free(xc);
    free(wc);
    free(yq);
    return mse / (double)(T * O);
}

static void test_reparameterized_layer_beats_per_tensor_activations(void)
{
    enum { T = 32, I = 64, O = 16 };
    float *x = (float *)malloc(T * I * 4), *w = (float *)malloc(O * I * 4);
    float *xs = (float *)malloc(T * I * 4), *wf = (float *)malloc(O * I * 4);
    double *y = (double *)malloc(T * O * sizeof(double)), mse_pt, mse_pc;
    float ws1[O], ws2[O], ws3[O];
    int k1[I], k2[I], k3[I], zero[I];
    searched pt, pc, pc2;
    size_t t, o, c, inexact = 1;
    fpq_tensor tw = tensor_2d(O, I, FPQ_FLOAT32);
    outlier_activations(x, T, I, 4242);
    normal_matrix(w, O * I, 0.05, 4343);
    for (t = 0; t < T; t++)
        for (o = 0; o < O; o++) {
            double acc = 0.0;
            for (c = 0; c < I; c++)
                acc += (double)x[t * I + c] * (double)w[o * I + c];
            y[t * O + o] = acc;
        }
    memset(zero, 0, sizeof zero);
    pt.w_scales = ws1;
    pt.offsets = k1;
    pc.w_scales = ws2;
    pc.offsets = k2;
    pc2.w_scales = ws3;
    pc2.offsets = k3;
    /* Per-tensor activations: the search's baseline. */
    run_layer_search(w, x, T, I, O, FPQ_LAYER_ACT_PER_TENSOR, NULL, &pt);
    for (c = 0; c < I; c++)
        CHECK(k1[c] == 0);
    mse_pt = deployed_mse(&pt, w, x, zero, y, T, I, O);
    /* Per-channel: the search picks the activation format, b~ and the offsets; the offsets
     * fold into W, and a second search on the folded layer (W', 2^k X: the same Y) sees the
     * folded weights, with the activation format fixed so that the offsets stay in its window. */
    run_layer_search(w, x, T, I, O, FPQ_LAYER_ACT_PER_CHANNEL, NULL, &pc);
    CHECK(fpq_reparam_fold(&tw, w, k2, wf, &inexact) == FPQ_OK && inexact == 0);
    for (t = 0; t < T; t++)
        for (c = 0; c < I; c++)
            xs[t * I + c] = ldexpf(x[t * I + c], k2[c]);
    run_layer_search(wf, xs, T, I, O, FPQ_LAYER_ACT_PER_TENSOR, &pc.af, &pc2);
    mse_pc = deployed_mse(&pc2, wf, x, k2, y, T, I, O);
    CHECKF(mse_pc <= mse_pt, "per-channel %g vs per-tensor %g", mse_pc, mse_pt);
    if (getenv("FPQT_VERBOSE"))
        printf("    per-channel MSE %g, per-tensor %g\n", mse_pc, mse_pt);
    /* Outlier channels: the offsets spread (the window is used). */
    {
        int lo = 99, hi = -1;
        for (c = 0; c < I; c++) {
            lo = k2[c] < lo ? k2[c] : lo;
            hi = k2[c] > hi ? k2[c] : hi;
        }
        CHECK(lo == 0 && hi > 0);
    }
    free(x);
    free(w);
    free(xs);
    free(wf);
    free(y);
}

/* ------------------------------------------------------------------------------------------ */
/* Threads and the caller's floating-point environment */

static void test_activation_threads_give_identical_bytes(void)
{
    enum { R = 256, C = 1100 }; /* 281600 elements: above the 2^18 threading threshold */
    fpq_format f = fmt_named("e2m1");
    fpq_tensor t = tensor_2d(R, C, FPQ_FLOAT32);
    size_t bytes = fpq_tensor_code_bytes(&f, &t, 0);
    float *x = (float *)malloc(R * C * 4), *y1 = (float *)malloc(R * C * 4);
    float *y2 = (float *)malloc(R * C * 4), s;
    unsigned char *c1 = (unsigned char *)malloc(bytes), *c2 = (unsigned char *)malloc(bytes);
    int *k = (int *)malloc(C * sizeof(int));
    double shared;
    outlier_activations(x, R, C, 31337);
    plan_for(&f, x, R, C, &shared, k, &s);
    CHECK(fpq_set_num_threads(1) == FPQ_OK);
    CHECK(fpq_reparam_quantize(&f, &t, x, s, k, 0, c1, bytes) == FPQ_OK);
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y1) == FPQ_OK);
    CHECK(fpq_set_num_threads(3) == FPQ_OK);
    CHECK(fpq_reparam_quantize(&f, &t, x, s, k, 0, c2, bytes) == FPQ_OK);
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, s, k, 0, y2) == FPQ_OK);
    CHECK(fpq_set_num_threads(0) == FPQ_OK);
    CHECK(memcmp(c1, c2, bytes) == 0);
    CHECK(memcmp(y1, y2, R * C * 4) == 0);
    free(x);
    free(y1);
    free(y2);
    free(c1);
    free(c2);
    free(k);
}

/* Everything the calls compute, for comparing runs under different FP environments. */
typedef struct env_results {
    double biases[6], shared;
    int offsets[6];
    float scale, folded[12], fake[12], y[4];
    unsigned char codes[6];
} env_results;

static void run_everything(env_results *r)
{
    fpq_format f = fmt_named("e2m1");
    fpq_tensor t = tensor_2d(2, 6, FPQ_FLOAT32);
    static const float maxvals[6] = {3.3f, 0.71f, 1e-3f, 17.0f, 0.0999f, 2.5e-38f};
    /* Subnormal inputs and results, ties, and quotients that round differently upward. */
    static const float x[12] = {1.1f, -0.3f, 7e-4f, 16.9f, 0.05f, 1e-39f,
                                -2.9f, 0.7f, -1e-3f, 3.3f, -0.0999f, 2.4e-38f};
    static const float w[12] = {0.3f, -1.7f, 2.2e-38f, 0.9f, -0.01f, 5e-39f,
                                -0.2f, 0.4f, 1e-3f, -3.0f, 0.77f, 1e-37f};
    float ws[2] = {0.0123f, 3.1e-37f};
    memset(r, 0, sizeof *r);
    CHECK(fpq_reparam_biases(&f, maxvals, 6, r->biases) == FPQ_OK);
    CHECK(fpq_reparam_shared_bias(&f, r->biases, 6, &r->shared) == FPQ_OK);
    CHECK(fpq_reparam_offsets(&f, r->biases, 6, r->shared + 0.37, r->offsets, &r->scale) ==
          FPQ_OK);
    CHECK(fpq_reparam_fold(&t, w, r->offsets, r->folded, NULL) == FPQ_OK);
    CHECK(fpq_reparam_quantize(&f, &t, x, r->scale, r->offsets, 0, r->codes, 6) == FPQ_OK);
    CHECK(fpq_reparam_fake_quantize(&f, &t, x, r->scale, r->offsets, 0, r->fake) == FPQ_OK);
    CHECK(fpq_reparam_linear_reference(&f, r->codes, 6, 2, 6, r->scale, &f, r->codes, 6, 2, ws,
                                       NULL, 0, r->y) == FPQ_OK);
}

static void test_results_ignore_the_callers_fp_environment(void)
{
    static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    env_results base, other;
    size_t i;
    run_everything(&base);
    CHECK(base.folded[5] != 0.0f); /* a subnormal result is there to flush */
    for (i = 0; i < 3; i++) {
        CHECK(fesetround(modes[i]) == 0);
        run_everything(&other);
        fesetround(FE_TONEAREST);
        CHECKF(memcmp(&base, &other, sizeof base) == 0, "rounding mode %u", (unsigned)i);
    }
#if defined(__x86_64__) || defined(_M_X64)
    {
        unsigned csr = _mm_getcsr();
        _mm_setcsr(csr | 0x8040u); /* FTZ and DAZ */
        run_everything(&other);
        _mm_setcsr(csr);
        CHECK(memcmp(&base, &other, sizeof base) == 0);
    }
#endif
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
    {"reparam linear reference matches a double model",
     test_linear_reference_matches_a_double_model},
    {"reparam linear reference equals the integer sum",
     test_linear_reference_equals_the_integer_sum},
    {"reparam bad linear and activation arguments write nothing",
     test_bad_linear_arguments_write_nothing},
    {"reparam per-channel layer equals the folded layer",
     test_per_channel_layer_equals_the_folded_layer},
    {"reparam clamped and extreme channels", test_clamped_and_extreme_channels},
    {"reparam reference layer offsets and activations",
     test_reference_layer_offsets_and_activations},
    {"reparam reparameterized layer beats per-tensor activations",
     test_reparameterized_layer_beats_per_tensor_activations},
    {"reparam activation thread counts give identical bytes",
     test_activation_threads_give_identical_bytes},
    {"reparam results ignore the caller's FP environment",
     test_results_ignore_the_callers_fp_environment},
    {NULL, NULL},
};
