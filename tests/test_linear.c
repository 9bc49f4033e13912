/*
 * test_linear.c - the W4A4 linear layer: supported formats and the in_features bound; every
 * output bit of every backend and thread count against a double-precision model of the
 * documented arithmetic (random, wide-code and adversarial inputs: all codes at the maximum,
 * in_features up to 16384 and at the bound, odd shapes, one token); against the
 * reparameterization issue's reference linear layer and plain dequantized products; the
 * fused activation quantizer against quantize-then-pack; statuses, nothing written on error.
 */
#include "fpq_test.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 16-byte aligned buffer from malloc (glibc's is), freed with free. */
static void *lin_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    CHECK(p != NULL && ((uintptr_t)p & 15) == 0);
    return p;
}

/* A preset by name, or "e0m7": the 8-bit integer grid -127..127, whose integers pass 64 (the
 * AVX2 kernel's other sign handling). */
static fpq_format lin_fmt(const char *name)
{
    fpq_format f;
    memset(&f, 0, sizeof f);
    if (strcmp(name, "e0m7") == 0)
        CHECK(fpq_format_make(0, 7, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK);
    else
        CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
    return f;
}

/* The integer of a code: its value divided by the format's smallest positive value (exact:
 * every value is a multiple of it), found through fpq_dequantize alone. */
static int lin_int(const fpq_format *f, uint8_t code)
{
    fpq_format_limits lim;
    float v = 0.0f;
    CHECK(fpq_format_limits_get(f, &lim) == FPQ_OK);
    CHECK(fpq_dequantize(f, &code, 1, 1.0f, FPQ_UNPACKED, &v) == FPQ_OK);
    return (int)(v / lim.min_positive);
}

static double lin_quantum(const fpq_format *f)
{
    fpq_format_limits lim;
    CHECK(fpq_format_limits_get(f, &lim) == FPQ_OK);
    return (double)lim.min_positive;
}

/* Packed codes of rows x cols from one code a byte, as the tensor calls lay them out. */
static uint8_t *lin_pack_rows(const fpq_format *f, const uint8_t *codes, size_t rows,
                              size_t cols, size_t *bytes)
{
    size_t row_bytes = fpq_packed_size(f, cols, 0), r;
    uint8_t *out = (uint8_t *)lin_alloc(rows * row_bytes);
    fpq_format_limits lim;
    float *vals = (float *)lin_alloc(cols * sizeof(float));
    CHECK(fpq_format_limits_get(f, &lim) == FPQ_OK);
    /* Through fpq's own dequantize + quantize at scale 1: codes round-trip exactly (FINITE
     * formats have no NaN, and -0 keeps its sign). */
    for (r = 0; r < rows; r++) {
        CHECK(fpq_dequantize(f, codes + r * cols, cols, 1.0f, FPQ_UNPACKED, vals) == FPQ_OK);
        CHECK(fpq_quantize(f, vals, cols, 1.0f, 0, out + r * row_bytes) == FPQ_OK);
    }
    free(vals);
    *bytes = rows * row_bytes;
    return out;
}

typedef struct lin_case {
    const char *x_name, *w_name;
    size_t tokens, out, k;
    int pow2_scales, with_bias, all_max;
} lin_case;

typedef struct lin_data {
    fpq_format fx, fw;
    size_t tokens, out, k;
    uint8_t *xc, *wc;    /* one code a byte */
    float sx, *sw, *bias;
    void *act, *packed;
    size_t act_bytes, packed_bytes;
} lin_data;

/* What random codes are drawn from: every code, or the largest magnitude of either sign. */
typedef struct lin_codes {
    int num_codes;
    uint8_t max_pos, max_neg;
    int is_signed;
} lin_codes;

static lin_codes lin_codes_of(const fpq_format *f)
{
    lin_codes c;
    fpq_format_limits lim;
    float m;
    CHECK(fpq_format_limits_get(f, &lim) == FPQ_OK);
    c.num_codes = lim.num_codes;
    c.is_signed = f->is_signed;
    c.max_pos = c.max_neg = 0;
    m = lim.max_finite;
    CHECK(fpq_quantize(f, &m, 1, 1.0f, FPQ_UNPACKED, &c.max_pos) == FPQ_OK);
    m = -lim.max_finite;
    CHECK(fpq_quantize(f, &m, 1, 1.0f, FPQ_UNPACKED, &c.max_neg) == FPQ_OK);
    return c;
}

static uint8_t lin_random_code(const lin_codes *c, uint64_t *rng, int all_max, int *flip)
{
    if (all_max) {
        /* The largest magnitude, with a sign that alternates at random. */
        int neg = c->is_signed && (*flip = !*flip);
        if (fpqt_rand(rng) & 1)
            *flip = !*flip;
        return neg ? c->max_neg : c->max_pos;
    }
    return (uint8_t)(fpqt_rand(rng) % (uint64_t)c->num_codes);
}

static float lin_random_scale(uint64_t *rng, int pow2)
{
    if (pow2)
        return ldexpf(1.0f, (int)(fpqt_rand(rng) % 16) - 8);
    return ldexpf(1.0f + (float)(fpqt_rand(rng) % 8388608) / 8388608.0f,
                  (int)(fpqt_rand(rng) % 16) - 8);
}

static void lin_make(const lin_case *c, uint64_t seed, lin_data *d)
{
    uint64_t rng = seed;
    lin_codes cx, cw;
    uint8_t *packed_codes;
    size_t i, bytes;
    int flip = 0;

    d->fx = lin_fmt(c->x_name);
    d->fw = lin_fmt(c->w_name);
    d->tokens = c->tokens;
    d->out = c->out;
    d->k = c->k;
    d->xc = (uint8_t *)lin_alloc(c->tokens * c->k);
    d->wc = (uint8_t *)lin_alloc(c->out * c->k);
    d->sw = (float *)lin_alloc(c->out * sizeof(float));
    d->bias = c->with_bias ? (float *)lin_alloc(c->out * sizeof(float)) : NULL;
    cx = lin_codes_of(&d->fx);
    cw = lin_codes_of(&d->fw);
    for (i = 0; i < c->tokens * c->k; i++)
        d->xc[i] = lin_random_code(&cx, &rng, c->all_max, &flip);
    for (i = 0; i < c->out * c->k; i++)
        d->wc[i] = lin_random_code(&cw, &rng, c->all_max, &flip);
    d->sx = lin_random_scale(&rng, c->pow2_scales);
    for (i = 0; i < c->out; i++) {
        d->sw[i] = lin_random_scale(&rng, c->pow2_scales);
        if (d->bias)
            d->bias[i] = (float)((double)(int64_t)(fpqt_rand(&rng) % 2001) - 1000.0) / 7.0f;
    }
    d->act_bytes = fpq_linear_activations_size(c->tokens, c->k);
    d->packed_bytes = fpq_pack_weights_size(&d->fw, c->out, c->k);
    CHECK(d->act_bytes > 0 && d->packed_bytes > 0);
    d->act = lin_alloc(d->act_bytes);
    d->packed = lin_alloc(d->packed_bytes);
    packed_codes = lin_pack_rows(&d->fx, d->xc, c->tokens, c->k, &bytes);
    CHECK(fpq_linear_pack_activations(&d->fx, packed_codes, c->tokens, c->k, d->sx, d->act,
                                      d->act_bytes) == FPQ_OK);
    free(packed_codes);
    packed_codes = lin_pack_rows(&d->fw, d->wc, c->out, c->k, &bytes);
    CHECK(fpq_pack_weights(&d->fw, packed_codes, c->out, c->k, d->sw, d->packed,
                           d->packed_bytes) == FPQ_OK);
    free(packed_codes);
}

static void lin_free(lin_data *d)
{
    free(d->xc);
    free(d->wc);
    free(d->sw);
    free(d->bias);
    free(d->act);
    free(d->packed);
}

/* The documented arithmetic in double from the integers of the codes (found through
 * fpq_dequantize, not through the layer). */
static void lin_model(const lin_data *d, float *y)
{
    int ix[256], iw[256];
    fpq_format_limits lx, lw;
    double q = lin_quantum(&d->fx) * lin_quantum(&d->fw);
    size_t t, r, k;
    int c;

    CHECK(fpq_format_limits_get(&d->fx, &lx) == FPQ_OK);
    CHECK(fpq_format_limits_get(&d->fw, &lw) == FPQ_OK);
    for (c = 0; c < lx.num_codes; c++)
        ix[c] = lin_int(&d->fx, (uint8_t)c);
    for (c = 0; c < lw.num_codes; c++)
        iw[c] = lin_int(&d->fw, (uint8_t)c);
    for (t = 0; t < d->tokens; t++) {
        for (r = 0; r < d->out; r++) {
            int64_t acc = 0;
            double prod;
            for (k = 0; k < d->k; k++)
                acc += (int64_t)ix[d->xc[t * d->k + k]] * iw[d->wc[r * d->k + k]];
            prod = (double)acc * ((double)d->sx * (double)d->sw[r] * q);
            y[t * d->out + r] = (float)(d->bias ? prod + (double)d->bias[r] : prod);
        }
    }
}

/* Forward on every backend this CPU has and on 1 and 2 threads; each must equal `want`. */
static void lin_check_backends(const lin_data *d, const float *want, const char *what)
{
    size_t n = d->tokens * d->out, i, stride = d->out + 3;
    float *y = (float *)lin_alloc(d->tokens * stride * sizeof(float));
    const char *name;
    int b, threads;

    for (b = 0; (name = fpq_backend_at(b)) != NULL; b++) {
        if (!fpq_backend_available(name))
            continue;
        CHECK(fpq_set_backend(name) == FPQ_OK);
        for (threads = 1; threads <= 2; threads++) {
            size_t bad = 0, first = 0;
            CHECK(fpq_set_num_threads(threads) == FPQ_OK);
            memset(y, 0xa5, d->tokens * stride * sizeof(float));
            CHECK(fpq_linear_forward(d->act, d->act_bytes, d->packed, d->packed_bytes, d->bias,
                                     y, stride) == FPQ_OK);
            for (i = 0; i < n; i++) {
                size_t t = i / d->out, r = i % d->out;
                if (fpqt_f2u(y[t * stride + r]) != fpqt_f2u(want[i]) && bad++ == 0)
                    first = i;
            }
            for (i = 0; i < d->tokens; i++) /* the stride gap is not written */
                CHECK(fpqt_f2u(y[i * stride + d->out]) == 0xa5a5a5a5u);
            CHECKF(bad == 0, "%s, %s, %d threads: %zu outputs differ (first %zu: %a vs %a)",
                   what, name, threads, bad, first, (double)y[first / d->out * stride +
                   first % d->out], (double)want[first]);
        }
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
    CHECK(fpq_set_num_threads(0) == FPQ_OK);
    free(y);
}

static void lin_run_case(const lin_case *c, uint64_t seed)
{
    lin_data d;
    float *want = (float *)lin_alloc(c->tokens * c->out * sizeof(float));
    char what[128];
    lin_make(c, seed, &d);
    lin_model(&d, want);
    snprintf(what, sizeof what, "%s x %s, %zu x %zu x %zu", c->x_name, c->w_name, c->tokens,
             c->out, c->k);
    lin_check_backends(&d, want, what);
    lin_free(&d);
    free(want);
}

static void test_supported_formats(void)
{
    fpq_format e2m1 = lin_fmt("e2m1"), e3m0 = lin_fmt("e3m0"), e1m2 = lin_fmt("e1m2");
    fpq_format e0m3 = lin_fmt("e0m3"), e2m3 = lin_fmt("e2m3"), e3m2 = lin_fmt("e3m2");
    fpq_format e4m3 = lin_fmt("e4m3"), bad = e2m1, fn4, uns;
    /* max |int|: e2m1 12 (6 / 0.5), e3m0 64 (16 / 0.25), e1m2 7, e0m3 7, e2m3 60 */
    CHECK(fpq_linear_max_in_features(&e2m1, &e2m1) == ((size_t)1 << 29) / (12 * 12));
    CHECK(fpq_linear_max_in_features(&e3m0, &e1m2) == ((size_t)1 << 29) / (64 * 7));
    CHECK(fpq_linear_max_in_features(&e0m3, &e2m3) == ((size_t)1 << 29) / (7 * 60));
    CHECK(fpq_linear_max_in_features(&e2m3, &e2m3) == ((size_t)1 << 29) / (60 * 60));
    CHECK(fpq_linear_max_in_features(&e2m3, &e2m3) >= 16384);
    /* float6_e3m2fn's largest integer is 28 / 2^-4 = 448: past int8 */
    CHECK(fpq_linear_max_in_features(&e3m2, &e2m1) == 0);
    CHECK(fpq_linear_max_in_features(&e2m1, &e3m2) == 0);
    CHECK(fpq_pack_weights_size(&e3m2, 4, 4) == 0);
    /* IEEE / FN families have NaN (and Inf) codes: refused */
    CHECK(fpq_linear_max_in_features(&e4m3, &e2m1) == 0);
    CHECK(fpq_format_make(2, 1, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FN, 1, &fn4) == FPQ_OK);
    CHECK(fpq_linear_max_in_features(&fn4, &e2m1) == 0);
    /* an unsigned FINITE format is fine */
    CHECK(fpq_format_make(2, 2, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 0, &uns) == FPQ_OK);
    CHECK(fpq_linear_max_in_features(&uns, &e2m1) > 0);
    bad.reserved[0] = 1;
    CHECK(fpq_linear_max_in_features(&bad, &e2m1) == 0);
    CHECK(fpq_linear_max_in_features(NULL, &e2m1) == 0);
}

static void test_random_all_backends(void)
{
    static const lin_case cases[] = {
        {"e2m1", "e2m1", 1, 1, 1, 0, 0, 0},
        {"e2m1", "e2m1", 1, 33, 7, 0, 1, 0},
        {"e2m1", "e2m1", 9, 45, 100, 0, 1, 0},
        {"e3m0", "e1m2", 5, 17, 61, 0, 0, 0},
        {"e1m2", "e3m0", 13, 64, 24, 1, 1, 0},
        {"e0m3", "e2m1", 3, 31, 129, 0, 1, 0},
        {"e2m3", "e2m1", 7, 40, 77, 0, 0, 0},   /* 6-bit activations */
        {"e2m1", "e2m3", 10, 35, 83, 0, 1, 0},  /* 6-bit weights: the byte layout */
        {"e2m3", "e2m3", 2, 96, 300, 1, 0, 0},
        {"e3m0", "e3m0", 17, 70, 5000, 0, 1, 0}, /* a piece boundary when packing weights */
        {"e2m1", "e2m1", 9, 67, 28000, 0, 1, 0}, /* >= 2^24 multiply-adds: threads split it */
        {"e0m7", "e2m1", 5, 37, 301, 0, 1, 0},   /* activations past 64 */
        {"e2m1", "e0m7", 4, 18, 99, 0, 0, 0},    /* 8-bit weights */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        lin_run_case(&cases[i], 0x11ea7 + i);
}

static void test_adversarial_all_max(void)
{
    static const lin_case cases[] = {
        {"e2m3", "e2m3", 3, 33, 16384, 0, 0, 1},
        {"e3m0", "e3m0", 2, 17, 16384, 1, 0, 1},
        {"e2m1", "e2m1", 1, 19, 16383, 0, 1, 1},
        {"e3m0", "e2m1", 9, 16, 9, 1, 0, 1},
        {"e0m7", "e0m7", 3, 20, 16384, 0, 0, 1}, /* pairs of 127 * 127 products */
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        lin_run_case(&cases[i], 0xad7e + i);
}

/* At the bound the sums reach 2^29 * (1 - tiny): accepted and exact; one more is refused. */
static void test_bound(void)
{
    fpq_format e3m0 = lin_fmt("e3m0");
    size_t kmax = fpq_linear_max_in_features(&e3m0, &e3m0);
    lin_case c = {"e3m0", "e3m0", 1, 3, 0, 1, 0, 1};
    lin_data d;
    float y[4];
    void *act;
    size_t act_bytes = fpq_linear_activations_size(1, kmax + 1);
    float *x = (float *)lin_alloc((kmax + 1) * sizeof(float));
    size_t i;

    CHECK(kmax == 131072);
    c.k = kmax;
    lin_run_case(&c, 0xb0);
    /* kmax + 1 columns: packing works, the forward call refuses the pair */
    c.k = kmax + 1;
    c.all_max = 0;
    lin_make(&c, 0xb1, &d);
    memset(y, 0, sizeof y);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, NULL, y, 3) ==
          FPQ_ERR_SIZE);
    CHECK(y[0] == 0.0f && y[2] == 0.0f);
    lin_free(&d);
    act = lin_alloc(act_bytes);
    for (i = 0; i <= kmax; i++)
        x[i] = 1.0f;
    CHECK(fpq_linear_quantize_activations(&e3m0, x, 1, kmax + 1, kmax + 1, 1.0f, act,
                                          act_bytes) == FPQ_OK);
    free(act);
    free(x);
}

/* Power-of-two scales make every dequantized value exact, so the plain double dot product of
 * fpq_dequantize's outputs, rounded once, is the answer. */
static void test_equals_dequantized_products(void)
{
    lin_case c = {"e2m1", "e1m2", 6, 21, 333, 1, 0, 0};
    lin_data d;
    float *xd, *wd, *y;
    size_t t, r, k;

    lin_make(&c, 0xdeb, &d);
    xd = (float *)lin_alloc(c.tokens * c.k * sizeof(float));
    wd = (float *)lin_alloc(c.out * c.k * sizeof(float));
    y = (float *)lin_alloc(c.tokens * c.out * sizeof(float));
    CHECK(fpq_dequantize(&d.fx, d.xc, c.tokens * c.k, d.sx, FPQ_UNPACKED, xd) == FPQ_OK);
    for (r = 0; r < c.out; r++)
        CHECK(fpq_dequantize(&d.fw, d.wc + r * c.k, c.k, d.sw[r], FPQ_UNPACKED,
                             wd + r * c.k) == FPQ_OK);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, NULL, y, c.out) ==
          FPQ_OK);
    for (t = 0; t < c.tokens; t++) {
        for (r = 0; r < c.out; r++) {
            double s = 0.0;
            for (k = 0; k < c.k; k++)
                s += (double)xd[t * c.k + k] * (double)wd[r * c.k + k];
            CHECK(fpqt_f2u(y[t * c.out + r]) == fpqt_f2u((float)s));
        }
    }
    free(xd);
    free(wd);
    free(y);
    lin_free(&d);
}

/* The reparameterization issue's reference layer, on the same codes, bit for bit. */
static void test_equals_reparam_reference(void)
{
    static const lin_case cases[] = {
        {"e2m1", "e2m1", 7, 37, 250, 0, 1, 0},
        {"e3m0", "e2m3", 4, 20, 96, 0, 0, 0},
        {"e2m1", "e2m1", 2, 16, 4096, 0, 1, 1},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const lin_case *c = &cases[i];
        lin_data d;
        float *want = (float *)lin_alloc(c->tokens * c->out * sizeof(float));
        lin_make(c, 0x4e9a + i, &d);
        CHECK(fpq_reparam_linear_reference(&d.fx, d.xc, c->tokens * c->k, c->tokens, c->k,
                                           d.sx, &d.fw, d.wc, c->out * c->k, c->out, d.sw,
                                           d.bias, FPQ_UNPACKED, want) == FPQ_OK);
        lin_check_backends(&d, want, "reparam reference");
        lin_free(&d);
        free(want);
    }
}

/* The fused quantizer writes the bytes fpq_quantize + fpq_linear_pack_activations write,
 * specials, a stride and a thread split included. */
static void test_fused_quantize_equals_quantize_then_pack(void)
{
    static const char *const names[] = {"e2m1", "e3m0", "e2m3", "e0m3"};
    size_t tokens = 90, k = 3001, stride = 3010, n, i, t; /* >= 2^18 elements: threads */
    float *x = (float *)lin_alloc(tokens * stride * sizeof(float));
    uint64_t rng = 0xf05ed;
    for (i = 0; i < tokens * stride; i++) {
        uint64_t r = fpqt_rand(&rng);
        x[i] = (r & 7) == 0 ? fpqt_rand_float_bits(&rng)    /* NaN, Inf, huge, tiny */
                            : (float)((double)(int64_t)(r % 20001) - 10000.0) / 997.0f;
    }
    for (n = 0; n < sizeof names / sizeof names[0]; n++) {
        fpq_format f = lin_fmt(names[n]);
        size_t bytes = fpq_linear_activations_size(tokens, k);
        size_t row_bytes = fpq_packed_size(&f, k, 0);
        uint8_t *codes = (uint8_t *)lin_alloc(tokens * row_bytes);
        uint8_t *a = (uint8_t *)lin_alloc(bytes), *b = (uint8_t *)lin_alloc(bytes);
        int threads;
        for (t = 0; t < tokens; t++)
            CHECK(fpq_quantize(&f, x + t * stride, k, 0.37f, 0, codes + t * row_bytes) ==
                  FPQ_OK);
        memset(a, 0x5a, bytes);
        CHECK(fpq_linear_pack_activations(&f, codes, tokens, k, 0.37f, a, bytes) == FPQ_OK);
        for (threads = 1; threads <= 2; threads++) {
            CHECK(fpq_set_num_threads(threads) == FPQ_OK);
            memset(b, 0xa5, bytes);
            CHECK(fpq_linear_quantize_activations(&f, x, tokens, k, stride, 0.37f, b, bytes) ==
                  FPQ_OK);
            CHECKF(memcmp(a, b, bytes) == 0, "%s, %d threads", names[n], threads);
        }
        CHECK(fpq_set_num_threads(0) == FPQ_OK);
        free(codes);
        free(a);
        free(b);
    }
    free(x);
}

/* Results do not follow the caller's rounding mode. */
static void test_rounding_mode_ignored(void)
{
    lin_case c = {"e2m1", "e2m1", 3, 40, 200, 0, 1, 0};
    lin_data d;
    float *a = (float *)lin_alloc(3 * 40 * sizeof(float)), *b = (float *)lin_alloc(3 * 40 * 4);
    lin_make(&c, 0xfe, &d);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, d.bias, a, 40) ==
          FPQ_OK);
    fesetround(FE_UPWARD);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, d.bias, b, 40) ==
          FPQ_OK);
    fesetround(FE_TONEAREST);
    CHECK(memcmp(a, b, 3 * 40 * sizeof(float)) == 0);
    lin_free(&d);
    free(a);
    free(b);
}

static void test_statuses(void)
{
    lin_case c = {"e2m1", "e2m1", 2, 5, 10, 0, 1, 0};
    fpq_format e2m1 = lin_fmt("e2m1"), e3m2 = lin_fmt("e3m2"), bad = e2m1;
    lin_data d, d2;
    uint8_t codes[64];
    float y[32], sw[5] = {1, 1, 1, 1, 1}, x[40];
    uint8_t *buf;
    size_t wbytes = fpq_pack_weights_size(&e2m1, 5, 10);

    lin_make(&c, 0x57a7, &d);
    memset(codes, 0x11, sizeof codes);
    memset(x, 0, sizeof x);
    buf = (uint8_t *)lin_alloc(wbytes + 32);
    memset(buf, 0x77, wbytes + 32);
    bad.reserved[0] = 1;
    CHECK(fpq_pack_weights(NULL, codes, 5, 10, sw, buf, wbytes) == FPQ_ERR_NULL);
    CHECK(fpq_pack_weights(&bad, codes, 5, 10, sw, buf, wbytes) == FPQ_ERR_FORMAT);
    CHECK(fpq_pack_weights(&e3m2, codes, 5, 10, sw, buf, wbytes) == FPQ_ERR_UNSUPPORTED);
    CHECK(fpq_pack_weights(&e2m1, codes, 0, 10, sw, buf, wbytes) == FPQ_ERR_SIZE);
    CHECK(fpq_pack_weights(&e2m1, codes, 5, 0, sw, buf, wbytes) == FPQ_ERR_SIZE);
    sw[3] = 0.0f;
    CHECK(fpq_pack_weights(&e2m1, codes, 5, 10, sw, buf, wbytes) == FPQ_ERR_SCALE);
    sw[3] = 1.0f;
    CHECK(fpq_pack_weights(&e2m1, codes, 5, 10, sw, buf, wbytes - 1) == FPQ_ERR_CAPACITY);
    CHECK(fpq_pack_weights(&e2m1, codes, 5, 10, sw, buf + 8, wbytes) == FPQ_ERR_ALIGN);
    CHECK(fpq_pack_weights(&e2m1, buf + 16, 5, 10, sw, buf, wbytes) == FPQ_ERR_OVERLAP);
    CHECK(buf[0] == 0x77 && buf[wbytes - 1] == 0x77);
    CHECK(fpq_linear_activations_size(0, 4) == 0 && fpq_linear_activations_size(4, 0) == 0);
    CHECK(fpq_linear_activations_size((size_t)-1, 8) == 0);
    CHECK(fpq_pack_weights_size(&e2m1, (size_t)-1 / 2, 1000) == 0);
    CHECK(fpq_linear_pack_activations(&e2m1, codes, 2, 10, -1.0f, buf, wbytes) ==
          FPQ_ERR_SCALE);
    CHECK(fpq_linear_pack_activations(&e2m1, codes, 2, 10, 1.0f, buf, 10) == FPQ_ERR_CAPACITY);
    CHECK(fpq_linear_quantize_activations(&e2m1, x, 2, 10, 9, 1.0f, buf, wbytes) ==
          FPQ_ERR_SIZE);
    CHECK(fpq_linear_quantize_activations(&e2m1, (const float *)(const void *)(codes + 1), 2,
                                          10, 10, 1.0f, buf, wbytes) == FPQ_ERR_ALIGN);
    CHECK(fpq_linear_quantize_activations(&e3m2, x, 2, 10, 10, 1.0f, buf, wbytes) ==
          FPQ_ERR_UNSUPPORTED);
    CHECK(buf[0] == 0x77 && buf[wbytes - 1] == 0x77);

    memset(y, 0, sizeof y);
    CHECK(fpq_linear_forward(NULL, d.act_bytes, d.packed, d.packed_bytes, NULL, y, 5) ==
          FPQ_ERR_NULL);
    /* the two layouts swapped, a garbage buffer, short buffers */
    CHECK(fpq_linear_forward(d.packed, d.packed_bytes, d.act, d.act_bytes, NULL, y, 5) ==
          FPQ_ERR_ARGUMENT);
    CHECK(fpq_linear_forward(buf, wbytes, d.packed, d.packed_bytes, NULL, y, 5) ==
          FPQ_ERR_ARGUMENT);
    CHECK(fpq_linear_forward(d.act, d.act_bytes - 1, d.packed, d.packed_bytes, NULL, y, 5) ==
          FPQ_ERR_CAPACITY);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, 10, NULL, y, 5) ==
          FPQ_ERR_CAPACITY);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, NULL, y, 4) ==
          FPQ_ERR_SIZE);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, NULL,
                             (float *)(void *)((uint8_t *)y + 2), 5) == FPQ_ERR_ALIGN);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, NULL,
                             (float *)d.act, 5) == FPQ_ERR_OVERLAP);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d.packed, d.packed_bytes, y + 1, y, 5) ==
          FPQ_ERR_OVERLAP);
    /* in_features that differ */
    c.k = 11;
    lin_make(&c, 0x57a8, &d2);
    CHECK(fpq_linear_forward(d.act, d.act_bytes, d2.packed, d2.packed_bytes, NULL, y, 5) ==
          FPQ_ERR_ARGUMENT);
    {
        size_t i;
        for (i = 0; i < 32; i++)
            CHECK(y[i] == 0.0f);
    }
    lin_free(&d2);
    lin_free(&d);
    free(buf);
}

const fpqt_case fpqt_linear_cases[] = {
    {"linear: supported formats and the in_features bound", test_supported_formats},
    {"linear: random inputs, every backend and thread count, bit for bit",
     test_random_all_backends},
    {"linear: all codes at the maximum, in_features up to 16384", test_adversarial_all_max},
    {"linear: in_features at the bound is exact, one past it refused", test_bound},
    {"linear: power-of-two scales give the rounded exact product", test_equals_dequantized_products},
    {"linear: equals fpq_reparam_linear_reference bit for bit", test_equals_reparam_reference},
    {"linear: fused activation quantize equals quantize then pack",
     test_fused_quantize_equals_quantize_then_pack},
    {"linear: the caller's rounding mode does not matter", test_rounding_mode_ignored},
    {"linear: statuses, nothing written on error", test_statuses},
    {NULL, NULL},
};
