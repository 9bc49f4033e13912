/*
 * test_conformance.c - bit-for-bit agreement with ml_dtypes 0.6 (decode tables and casts) and
 * with the LLM-FP4 reference quantizer (tests/data, reduced from ../shared/data by
 * tests/data/reduce_shared.py).
 */
#include "fpq_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Calls fn for each ml_dtypes type named in mldtypes/formats.txt; returns how many. */
static int for_each_mldtypes_type(void (*fn)(const char *name))
{
    size_t size = 0, i, start = 0;
    char *list = (char *)fpqt_read_data("mldtypes/formats.txt", &size);
    int count = 0;

    if (!list)
        return 0;
    for (i = 0; i <= size; i++) {
        if (i == size || list[i] == '\n') {
            char name[64];
            size_t len = i - start;
            if (len > 0 && len < sizeof name) {
                memcpy(name, list + start, len);
                name[len] = '\0';
                fn(name);
                count++;
            }
            start = i + 1;
        }
    }
    free(list);
    return count;
}

static void check_decode_table(const char *name)
{
    char path[128];
    size_t size = 0, i;
    uint32_t *want;
    uint8_t codes[256];
    float got[256];
    fpq_format f;

    CHECKF(fpq_format_from_name(name, &f) == FPQ_OK, "%s unknown", name);
    snprintf(path, sizeof path, "mldtypes/%s.decode.f32", name);
    want = (uint32_t *)fpqt_read_data(path, &size);
    if (!want)
        return;
    CHECKF(size == 4u << fpq_format_bits(&f), "%s: table of %zu bytes", name, size);
    for (i = 0; i < size / 4; i++)
        codes[i] = (uint8_t)i;
    CHECK(fpq_dequantize(&f, codes, size / 4, 1.0f, FPQ_UNPACKED, got) == FPQ_OK);
    for (i = 0; i < size / 4; i++)
        CHECKF(fpqt_f2u(got[i]) == want[i], "%s code %#zx: %08x, ml_dtypes %08x", name, i,
               fpqt_f2u(got[i]), want[i]);
    free(want);
}

static void test_decode_tables_match_ml_dtypes(void)
{
    CHECK(for_each_mldtypes_type(check_decode_table) == 11);
}

/* Codes that are Inf or NaN: where ml_dtypes' cast overflowed. */
static int is_nonfinite_code(const fpq_format *f, uint8_t code)
{
    float v;
    return fpq_dequantize(f, &code, 1, 1.0f, FPQ_UNPACKED, &v) == FPQ_OK && !isfinite(v);
}

static void check_casts(const char *name)
{
    char path[128];
    size_t in_size = 0, out_size = 0, n, i;
    uint32_t *in;
    uint8_t *want, *got, *sat;
    fpq_format f;
    fpq_format_limits lim;

    CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
    CHECK(fpq_format_limits_get(&f, &lim) == FPQ_OK);
    snprintf(path, sizeof path, "mldtypes/%s.in.u32", name);
    in = (uint32_t *)fpqt_read_data(path, &in_size);
    snprintf(path, sizeof path, "mldtypes/%s.out.u8", name);
    want = (uint8_t *)fpqt_read_data(path, &out_size);
    n = out_size;
    got = (uint8_t *)malloc(n ? n : 1);
    sat = (uint8_t *)malloc(n ? n : 1);
    if (!in || !want || !got || !sat || in_size != 4 * n || n < 1000) {
        CHECKF(0, "%s: bad data (%zu inputs, %zu outputs)", name, in_size / 4, n);
        goto done;
    }
    /* ml_dtypes' casts: overflow to Inf / NaN where the type has them. */
    CHECK(fpq_quantize(&f, (const float *)in, n, 1.0f, FPQ_UNPACKED | FPQ_NO_SATURATE, got) ==
          FPQ_OK);
    for (i = 0; i < n; i++) {
        if (f.family == FPQ_FAMILY_E8M0 && in[i] > 0x00400000u && in[i] < 0x00600000u) {
            /* ml_dtypes 0.6 sends float32 subnormals in (2^-127, 1.5 * 2^-127) to 2^-126
             * (code 1); the nearest value is 2^-127 (code 0). fpq rounds to nearest: see
             * docs/formats.md. */
            CHECKF(got[i] == 0 && want[i] == 1, "%s: x=%08x -> %#x", name, in[i], got[i]);
            continue;
        }
        CHECKF(got[i] == want[i], "%s: x=%08x -> %#x, ml_dtypes %#x", name, in[i], got[i],
               want[i]);
    }
    /* The default saturates: the same codes, except that finite overflow and +-Inf become
     * +-max_finite instead of Inf / NaN. */
    CHECK(fpq_quantize(&f, (const float *)in, n, 1.0f, FPQ_UNPACKED, sat) == FPQ_OK);
    for (i = 0; i < n; i++) {
        float x = fpqt_u2f(in[i]), v = 0;
        if (f.family == FPQ_FAMILY_E8M0 && in[i] > 0x00400000u && in[i] < 0x00600000u) {
            CHECK(sat[i] == 0); /* the same ml_dtypes deviation as above */
        } else if (isnan(x) || !is_nonfinite_code(&f, want[i])) {
            CHECKF(sat[i] == want[i], "%s: x=%08x saturating -> %#x, ml_dtypes %#x", name,
                   in[i], sat[i], want[i]);
        } else if (!f.is_signed && !(x > 0)) {
            /* Zero or negative into an unsigned type: the smallest value, code 0. */
            CHECKF(sat[i] == 0, "%s: x=%08x saturating -> %#x", name, in[i], sat[i]);
        } else {
            CHECK(fpq_dequantize(&f, &sat[i], 1, 1.0f, FPQ_UNPACKED, &v) == FPQ_OK);
            CHECKF(fabsf(v) == lim.max_finite && (signbit(v) != 0) == (signbit(x) != 0),
                   "%s: x=%08x saturating gave %a", name, in[i], (double)v);
        }
    }
done:
    free(in);
    free(want);
    free(got);
    free(sat);
}

static void test_casts_match_ml_dtypes_bit_for_bit(void)
{
    CHECK(for_each_mldtypes_type(check_casts) == 11);
}

/* The LLM-FP4 reference quantizer at real-valued bias b is fpq's finite E/M format at scale
 * 2^(default_bias - b): every output within 1e-6 relative (its pow() wobbles in the last bit). */
static void test_llmfp4_reference_quantizer_equals_finite_format_at_its_bias(void)
{
    size_t size = 0, pos = 0;
    char *cases = (char *)fpqt_read_data("llmfp4/cases.txt", &size);
    int count = 0;

    if (!cases)
        return;
    while (pos < size) {
        char key[64], path[128];
        int e, m, used = 0;
        double bias;
        size_t data_size = 0, n, i;
        float *xy, *y, s = 0;
        fpq_format f;
        double worst = 0;

        if (sscanf(cases + pos, "%63s %d %d %lf%n", key, &e, &m, &bias, &used) != 4)
            break;
        pos += (size_t)used;
        while (pos < size && cases[pos] == '\n')
            pos++;
        CHECK(fpq_format_make(e, m, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK);
        CHECK(fpq_scale_from_bias(&f, bias, &s) == FPQ_OK);
        snprintf(path, sizeof path, "llmfp4/%s.xy.f32", key);
        xy = (float *)fpqt_read_data(path, &data_size);
        if (!xy)
            continue;
        n = data_size / 8;
        y = (float *)malloc(n * sizeof *y);
        if (!y) {
            free(xy);
            continue;
        }
        for (i = 0; i < n; i++)
            y[i] = xy[2 * i]; /* inputs, compacted */
        CHECK(fpq_fake_quantize(&f, y, n, s, 0, y) == FPQ_OK);
        for (i = 0; i < n; i++) {
            double want = xy[2 * i + 1], err = fabs((double)y[i] - want);
            double rel = want != 0 ? err / fabs(want) : err;
            if (rel > worst)
                worst = rel;
        }
        CHECKF(worst <= 1e-6, "%s: worst relative difference %g", key, worst);
        free(xy);
        free(y);
        count++;
    }
    free(cases);
    CHECKF(count == 56, "%d LLM-FP4 cases", count);
}

const fpqt_case fpqt_conformance_cases[] = {
    {"decode tables match ml_dtypes", test_decode_tables_match_ml_dtypes},
    {"casts match ml_dtypes bit for bit", test_casts_match_ml_dtypes_bit_for_bit},
    {"LLM-FP4 reference quantizer equals the finite format at its bias",
     test_llmfp4_reference_quantizer_equals_finite_format_at_its_bias},
    {NULL, NULL},
};
