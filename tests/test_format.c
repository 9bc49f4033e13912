/*
 * test_format.c - format descriptors: names, validation, decoding, limits, value lists and the
 * scale / bias conversions.
 */
#include "fpq_test.h"
#include "reference.h"

#include <fenv.h>
#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#  include <xmmintrin.h>
#endif

/* Every code of fmt decodes (dequantize, scale 1, unpacked) to the reference formula's value. */
static void check_decode_table(const fpq_format *fmt, const char *what)
{
    ref_format ref;
    uint8_t codes[256];
    float y[256];
    int c, status;

    ref_init(&ref, fmt);
    for (c = 0; c < ref.num_codes; c++)
        codes[c] = (uint8_t)c;
    status = fpq_dequantize(fmt, codes, (size_t)ref.num_codes, 1.0f, FPQ_UNPACKED, y);
    CHECKF(status == FPQ_OK, "%s: dequantize status %d", what, status);
    for (c = 0; c < ref.num_codes && status == FPQ_OK; c++) {
        if (ref.code[c].kind == REF_INF) {
            CHECKF(isinf(y[c]) && (signbit(y[c]) != 0) == ref.code[c].negative,
                   "%s code %#x: want inf, got %a", what, c, (double)y[c]);
            continue;
        }
        CHECKF(ref_matches(&ref.code[c], y[c]), "%s code %#x: want %a, got %a", what, c,
               ref.code[c].value, (double)y[c]);
    }
}

static void test_every_preset_code_decodes_to_the_formula(void)
{
    int i;
    const char *name;
    for (i = 0; (name = fpq_format_preset_name(i)) != NULL; i++) {
        fpq_format f;
        CHECKF(fpq_format_from_name(name, &f) == FPQ_OK, "preset %s not found by name", name);
        check_decode_table(&f, name);
    }
    CHECK(i == 14);
}

static void test_every_custom_split_decodes_to_the_formula(void)
{
    int count = ref_for_each_format(check_decode_table);
    CHECKF(count > 200, "only %d custom formats", count);
}

typedef struct name_case {
    const char *name;
    int e, m, bias, family, is_signed;
} name_case;

static void test_names_and_short_forms_resolve(void)
{
    static const name_case cases[] = {
        {"float4_e2m1fn", 2, 1, 1, FPQ_FAMILY_FINITE, 1},
        {"e2m1", 2, 1, 1, FPQ_FAMILY_FINITE, 1},
        {"fp4_e2m1", 2, 1, 1, FPQ_FAMILY_FINITE, 1},
        {"FP4_E2M1FN", 2, 1, 1, FPQ_FAMILY_FINITE, 1},
        {"float6_e2m3fn", 2, 3, 1, FPQ_FAMILY_FINITE, 1},
        {"e3m2", 3, 2, 3, FPQ_FAMILY_FINITE, 1},
        {"fp6_e3m2fn", 3, 2, 3, FPQ_FAMILY_FINITE, 1},
        {"float8_e3m4", 3, 4, 3, FPQ_FAMILY_IEEE, 1},
        {"float8_e4m3", 4, 3, 7, FPQ_FAMILY_IEEE, 1},
        {"e4m3", 4, 3, 7, FPQ_FAMILY_IEEE, 1},
        {"fp8_e4m3fn", 4, 3, 7, FPQ_FAMILY_FN, 1},
        {"e4m3fn", 4, 3, 7, FPQ_FAMILY_FN, 1},
        {"float8_e4m3fnuz", 4, 3, 8, FPQ_FAMILY_FNUZ, 1},
        {"float8_e4m3b11fnuz", 4, 3, 11, FPQ_FAMILY_FNUZ, 1},
        {"float8_e5m2", 5, 2, 15, FPQ_FAMILY_IEEE, 1},
        {"fp8_e5m2fnuz", 5, 2, 16, FPQ_FAMILY_FNUZ, 1},
        {"float8_e8m0fnu", 8, 0, 127, FPQ_FAMILY_E8M0, 0},
        {"e8m0", 8, 0, 127, FPQ_FAMILY_E8M0, 0},
        {"e3m0", 3, 0, 3, FPQ_FAMILY_FINITE, 1},
        {"e1m2", 1, 2, 0, FPQ_FAMILY_FINITE, 1},
        {"e0m3", 0, 3, 0, FPQ_FAMILY_FINITE, 1},
        {"int4", 0, 3, 0, FPQ_FAMILY_FINITE, 1},
    };
    static const char *const bad[] = {"", "e9m9", "float8_e2m1fn", "fp4_e4m3", "e4m3fnx",
                                      "float4_", "fp16", "e2m1 ", "float4e2m1fn",
                                      "fp4_int4", "float4_float4_e3m0fn", "float08_e4m3fn"};
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fpq_format f;
        const name_case *c = &cases[i];
        memset(&f, 0x5a, sizeof f);
        CHECKF(fpq_format_from_name(c->name, &f) == FPQ_OK, "%s not accepted", c->name);
        CHECKF(f.exp_bits == c->e && f.man_bits == c->m && f.bias == c->bias &&
                   f.family == c->family && f.is_signed == c->is_signed &&
                   !f.reserved[0] && !f.reserved[1] && !f.reserved[2],
               "%s resolved to e%dm%d bias %d family %d", c->name, f.exp_bits, f.man_bits,
               f.bias, f.family);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fpq_format f, before;
        memset(&f, 0x5a, sizeof f);
        before = f;
        CHECKF(fpq_format_from_name(bad[i], &f) == FPQ_ERR_NAME, "'%s' accepted", bad[i]);
        CHECKF(memcmp(&f, &before, sizeof f) == 0, "'%s' wrote the output", bad[i]);
    }
    {
        fpq_format f;
        CHECK(fpq_format_from_name(NULL, &f) == FPQ_ERR_NULL);
    }
    CHECK(fpq_format_from_name("e2m1", NULL) == FPQ_ERR_NULL);
}

static void test_make_validates_splits_and_biases(void)
{
    fpq_format f, before;

    /* Default biases per family. */
    CHECK(fpq_format_make(4, 3, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FN, 1, &f) == FPQ_OK && f.bias == 7);
    CHECK(fpq_format_make(4, 3, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FNUZ, 1, &f) == FPQ_OK &&
          f.bias == 8);
    CHECK(fpq_format_make(0, 5, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK &&
          f.bias == 0);
    CHECK(fpq_format_make(8, 0, FPQ_BIAS_DEFAULT, FPQ_FAMILY_E8M0, 0, &f) == FPQ_OK &&
          f.bias == 127);
    CHECK(fpq_format_make(2, 5, 1, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK); /* 8-bit e2m5 */
    CHECK(fpq_format_make(4, 4, 7, FPQ_FAMILY_FINITE, 0, &f) == FPQ_OK); /* unsigned 8-bit */

    memset(&f, 0x77, sizeof f);
    before = f;
    CHECK(fpq_format_make(9, 0, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 0, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(4, 4, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(1, 2, FPQ_BIAS_DEFAULT, FPQ_FAMILY_IEEE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(4, 0, FPQ_BIAS_DEFAULT, FPQ_FAMILY_IEEE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(8, 0, FPQ_BIAS_DEFAULT, FPQ_FAMILY_E8M0, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(0, 3, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FN, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(3, 2, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FNUZ, 0, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(0, 0, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(2, 1, FPQ_BIAS_DEFAULT, 0, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(2, 1, FPQ_BIAS_DEFAULT, 6, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(2, 1, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 2, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(-1, 3, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    /* Out-of-range fields are refused before any arithmetic on them (fuzzer input D1). */
    CHECK(fpq_format_make(0x7fffffff, -2, FPQ_BIAS_DEFAULT, -1, -1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(0x7fffffff, 0x7fffffff, 0, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    /* Values must stay exact float32s: largest <= FLT_MAX, smallest normal >= 2^-127. */
    CHECK(fpq_format_make(5, 2, -98, FPQ_FAMILY_IEEE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(5, 2, -97, FPQ_FAMILY_IEEE, 1, &f) == FPQ_OK);
    f = before;
    CHECK(fpq_format_make(2, 1, 129, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(fpq_format_make(2, 1, 128, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK);
    f = before;
    CHECK(fpq_format_make(0, 3, 150, FPQ_FAMILY_FINITE, 1, &f) == FPQ_ERR_FORMAT);
    CHECK(memcmp(&f, &before, sizeof f) == 0);
    CHECK(fpq_format_make(2, 1, 1, FPQ_FAMILY_FINITE, 1, NULL) == FPQ_ERR_NULL);

    /* Hand-filled descriptors are checked by every call: reserved fields must be zero. */
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    f.reserved[2] = 1;
    CHECK(fpq_format_bits(&f) == FPQ_ERR_FORMAT);
    CHECK(fpq_packed_size(&f, 10, 0) == 0);
}

typedef struct limit_case {
    const char *name;
    double max, min_sub, min_normal;
    int values, has_inf, has_nan, neg_zero;
} limit_case;

static void test_limits_match_ml_dtypes_and_the_paper(void)
{
    /* Maxima and smallest subnormals as ml_dtypes 0.6 reports them; the paper's formats from
     * its formula max = (2 - 2^-M) * 2^(2^E - 1 - bias). */
    static const limit_case cases[] = {
        {"float4_e2m1fn", 6.0, 0.5, 1.0, 15, 0, 0, 1},
        {"float6_e2m3fn", 7.5, 0.125, 1.0, 63, 0, 0, 1},
        {"float6_e3m2fn", 28.0, 0.0625, 0.25, 63, 0, 0, 1},
        {"float8_e3m4", 15.5, 0.015625, 0.25, 223, 1, 1, 1},
        {"float8_e4m3", 240.0, 0.001953125, 0.015625, 239, 1, 1, 1},
        {"float8_e4m3fn", 448.0, 0.001953125, 0.015625, 253, 0, 1, 1},
        {"float8_e4m3fnuz", 240.0, 0.0009765625, 0.0078125, 255, 0, 1, 0},
        {"float8_e4m3b11fnuz", 30.0, 0.0001220703125, 0.0009765625, 255, 0, 1, 0},
        {"float8_e5m2", 57344.0, 1.52587890625e-05, 6.103515625e-05, 247, 1, 1, 1},
        {"float8_e5m2fnuz", 57344.0, 7.62939453125e-06, 3.0517578125e-05, 255, 0, 1, 0},
        {"float8_e8m0fnu", 1.7014118346046923e+38, 0.0, 5.877471754111438e-39, 255, 0, 1, 0},
        {"e3m0", 16.0, 0.0, 0.25, 15, 0, 0, 1},
        {"e1m2", 3.5, 0.5, 2.0, 15, 0, 0, 1},
        {"e0m3", 7.0, 1.0, 0.0, 15, 0, 0, 1},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const limit_case *c = &cases[i];
        fpq_format f;
        fpq_format_limits lim;
        double min_pos = c->min_sub > 0 ? c->min_sub : c->min_normal;
        CHECK(fpq_format_from_name(c->name, &f) == FPQ_OK);
        CHECK(fpq_format_limits_get(&f, &lim) == FPQ_OK);
        CHECKF((double)lim.max_finite == c->max && (double)lim.min_subnormal == c->min_sub &&
                   (double)lim.min_normal == c->min_normal &&
                   (double)lim.min_positive == min_pos,
               "%s: max %g min_sub %g min_normal %g", c->name, (double)lim.max_finite,
               (double)lim.min_subnormal, (double)lim.min_normal);
        CHECKF(lim.num_values == c->values && lim.has_inf == c->has_inf &&
                   lim.has_nan == c->has_nan && lim.has_negative_zero == c->neg_zero,
               "%s: %d values, inf %d nan %d -0 %d", c->name, lim.num_values, lim.has_inf,
               lim.has_nan, lim.has_negative_zero);
        CHECK(lim.bits == fpq_format_bits(&f) && lim.num_codes == 1 << lim.bits);
    }
    {
        fpq_format_limits lim;
        CHECK(fpq_format_limits_get(NULL, &lim) == FPQ_ERR_NULL);
    }
}

static void check_value_list(const fpq_format *fmt, const char *what)
{
    ref_format ref;
    float vals[256];
    size_t count = 0, i, k = 0;
    double want[512];
    int j;

    ref_init(&ref, fmt);
    /* Expected: the reference magnitudes, mirrored for signed formats. */
    if (fmt->is_signed)
        for (j = ref.num_mag - 1; j >= 0; j--)
            if (ref.mag[j] != 0.0)
                want[k++] = -ref.mag[j];
    for (j = 0; j < ref.num_mag; j++)
        want[k++] = ref.mag[j];
    CHECKF(fpq_format_values(fmt, NULL, 0, &count) == FPQ_OK && count == k,
           "%s: count %zu, want %zu", what, count, k);
    CHECK(fpq_format_values(fmt, vals, sizeof vals / sizeof vals[0], &count) == FPQ_OK);
    for (i = 0; i < count && i < k; i++)
        CHECKF((double)vals[i] == want[i] && !(vals[i] == 0.0f && signbit(vals[i])),
               "%s value %zu: %a want %a", what, i, (double)vals[i], want[i]);
}

static void test_value_lists_are_sorted_and_complete(void)
{
    fpq_format f;
    float small[4] = {1, 2, 3, 4};
    size_t count = 0;

    ref_for_each_format(check_value_list);
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    CHECK(fpq_format_values(&f, small, 4, &count) == FPQ_ERR_CAPACITY && count == 15);
    CHECK(small[0] == 1 && small[3] == 4);
}

static void test_describe_names_presets_and_custom_formats(void)
{
    fpq_format f;
    char buf[64];
    char tiny[4] = "abc";

    CHECK(fpq_format_from_name("fp8_e4m3fn", &f) == FPQ_OK);
    CHECK(fpq_format_describe(&f, buf, sizeof buf) == FPQ_OK && !strcmp(buf, "float8_e4m3fn"));
    CHECK(fpq_format_make(3, 2, 5, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK);
    CHECK(fpq_format_describe(&f, buf, sizeof buf) == FPQ_OK &&
          !strcmp(buf, "e3m2 finite bias=5 signed"));
    CHECK(fpq_format_make(4, 4, -3, FPQ_FAMILY_IEEE, 0, &f) == FPQ_OK);
    CHECK(fpq_format_describe(&f, buf, sizeof buf) == FPQ_OK &&
          !strcmp(buf, "e4m4 ieee bias=-3 unsigned"));
    CHECK(fpq_format_describe(&f, tiny, sizeof tiny) == FPQ_ERR_CAPACITY &&
          !strcmp(tiny, "abc"));
}

static void test_scale_bias_and_maxval_conversions(void)
{
    fpq_format f;
    float s = 0, x, y;
    double b = 0;

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    /* A clipping range maps onto the largest value. */
    CHECK(fpq_scale_from_maxval(&f, 3.0f, &s) == FPQ_OK && s == 0.5f);
    x = 3.0f;
    CHECK(fpq_fake_quantize(&f, &x, 1, s, 0, &y) == FPQ_OK && y == 3.0f);
    /* The paper's bias: default bias 1, real bias b gives scale 2^(1 - b). */
    CHECK(fpq_scale_from_bias(&f, 1.0, &s) == FPQ_OK && s == 1.0f);
    CHECK(fpq_scale_from_bias(&f, 3.0, &s) == FPQ_OK && s == 0.25f);
    CHECK(fpq_scale_from_bias(&f, 0.5, &s) == FPQ_OK && fabsf(s - 1.41421356f) < 1e-6f);
    CHECK(fpq_bias_from_scale(&f, 0.25f, &b) == FPQ_OK && b == 3.0);
    s = 0.25f;
    CHECK(fpq_bias_from_scale(&f, 0.0f, &b) == FPQ_ERR_SCALE);
    CHECK(fpq_scale_from_maxval(&f, -1.0f, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_scale_from_maxval(&f, INFINITY, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_scale_from_maxval(&f, NAN, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_scale_from_maxval(&f, 1e-45f, &s) == FPQ_ERR_ARGUMENT); /* scale would be 0 */
    CHECK(fpq_scale_from_bias(&f, NAN, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_scale_from_bias(&f, 500.0, &s) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_scale_from_bias(&f, -500.0, &s) == FPQ_ERR_ARGUMENT);
    CHECK(s == 0.25f); /* untouched by the failures above */
    CHECK(fpq_scale_from_bias(NULL, 1.0, &s) == FPQ_ERR_NULL);
}

typedef struct query_results {
    fpq_format_limits lim;
    float values[256];
    float scale_max, scale_bias, scale_tiny;
    double bias;
} query_results;

static void run_queries(query_results *q)
{
    fpq_format e8m0, e2m1, tiny;
    size_t count = 0;
    memset(q, 0, sizeof *q);
    CHECK(fpq_format_from_name("e8m0", &e8m0) == FPQ_OK);
    CHECK(fpq_format_from_name("e2m1", &e2m1) == FPQ_OK);
    CHECK(fpq_format_make(2, 1, 10, FPQ_FAMILY_FINITE, 1, &tiny) == FPQ_OK);
    CHECK(fpq_format_limits_get(&e8m0, &q->lim) == FPQ_OK);
    CHECK(fpq_format_values(&e8m0, q->values, 256, &count) == FPQ_OK && count == 255);
    CHECK(fpq_scale_from_maxval(&e2m1, 1.0f, &q->scale_max) == FPQ_OK);
    CHECK(fpq_scale_from_maxval(&tiny, 1e-39f, &q->scale_tiny) == FPQ_OK);
    CHECK(fpq_scale_from_bias(&e2m1, 0.3, &q->scale_bias) == FPQ_OK);
    CHECK(fpq_bias_from_scale(&e2m1, 0.3f, &q->bias) == FPQ_OK);
}

static void test_format_queries_ignore_the_callers_fp_environment(void)
{
    query_results base, other;

    run_queries(&base);
    CHECK(base.values[0] == 0x1p-127f && base.lim.min_positive == 0x1p-127f);
    CHECK(fesetround(FE_DOWNWARD) == 0);
    run_queries(&other);
    fesetround(FE_TONEAREST);
    CHECK(memcmp(&base, &other, sizeof base) == 0);
#if defined(__x86_64__) || defined(_M_X64)
    {
        unsigned csr = _mm_getcsr();
        _mm_setcsr(csr | 0x8040u); /* FTZ and DAZ */
        run_queries(&other);
        _mm_setcsr(csr);
        CHECK(memcmp(&base, &other, sizeof base) == 0);
    }
#endif
}

static void test_version_and_status_strings(void)
{
    CHECK(fpq_version() == FPQ_VERSION_NUMBER);
    CHECK(!strcmp(fpq_version_string(), FPQ_VERSION_STRING));
    /* fpq_check_version: same major, library minor.patch >= the header's. */
    CHECK(fpq_check_version(FPQ_VERSION_NUMBER) == FPQ_OK);
    CHECK(fpq_check_version(fpq_version()) == FPQ_OK);
    CHECK(fpq_check_version(FPQ_VERSION_MAJOR * 10000) == FPQ_OK);
    if (FPQ_VERSION_PATCH > 0)
        CHECK(fpq_check_version(FPQ_VERSION_NUMBER - 1) == FPQ_OK);
    if (FPQ_VERSION_MINOR > 0)
        CHECK(fpq_check_version(FPQ_VERSION_NUMBER - 100 + 99) == FPQ_OK);
    CHECK(fpq_check_version(FPQ_VERSION_NUMBER + 1) == FPQ_ERR_UNSUPPORTED);
    CHECK(fpq_check_version(FPQ_VERSION_NUMBER + 100) == FPQ_ERR_UNSUPPORTED);
    CHECK(fpq_check_version((FPQ_VERSION_MAJOR + 1) * 10000) == FPQ_ERR_UNSUPPORTED);
    if (FPQ_VERSION_MAJOR > 0)
        CHECK(fpq_check_version(FPQ_VERSION_NUMBER - 10000) == FPQ_ERR_UNSUPPORTED);
    CHECK(fpq_check_version(-1) == FPQ_ERR_UNSUPPORTED);
    CHECK(!strcmp(fpq_status_string(FPQ_OK), "ok"));
    CHECK(strcmp(fpq_status_string(FPQ_ERR_SCALE), fpq_status_string(FPQ_ERR_SIZE)) != 0);
    CHECK(!strcmp(fpq_status_string(12345), "unknown status"));
}

const fpqt_case fpqt_format_cases[] = {
    {"every preset code decodes to the formula", test_every_preset_code_decodes_to_the_formula},
    {"every custom split decodes to the formula",
     test_every_custom_split_decodes_to_the_formula},
    {"names and short forms resolve", test_names_and_short_forms_resolve},
    {"make validates splits and biases", test_make_validates_splits_and_biases},
    {"limits match ml_dtypes and the paper", test_limits_match_ml_dtypes_and_the_paper},
    {"value lists are sorted and complete", test_value_lists_are_sorted_and_complete},
    {"describe names presets and custom formats",
     test_describe_names_presets_and_custom_formats},
    {"scale, bias and maxval conversions", test_scale_bias_and_maxval_conversions},
    {"format queries ignore the caller's FP environment",
     test_format_queries_ignore_the_callers_fp_environment},
    {"version and status strings", test_version_and_status_strings},
    {NULL, NULL},
};
