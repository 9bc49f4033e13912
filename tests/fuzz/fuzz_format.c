/*
 * fuzz_format.c - fuzzes the format descriptor calls: fpq_format_from_name on arbitrary bytes,
 * fpq_format_make on arbitrary ints, and fpq_format_bits / fpq_format_limits_get /
 * fpq_format_values / fpq_format_describe / fpq_packed_size / fpq_scale_from_maxval /
 * fpq_scale_from_bias / fpq_bias_from_scale on the results, on presets, on presets with one
 * field changed and on raw hand-filled descriptors, valid or not.
 *
 * Invariants (include/fpq.h), checked against tests/fuzz/fuzz_model.h's independent model:
 *   - a descriptor is accepted exactly when the header's rules accept it;
 *   - limits, the value list and the width are those of the value formulas;
 *   - every documented name is accepted with the right format; an accepted name gives a preset;
 *   - on any error nothing is written (guard bytes around every output, which lives in a
 *     malloc'd arena), statuses are the documented ones;
 *   - the scale conversions compute what the header says, and round-trip;
 *   - format queries give the same results in any floating-point environment, which they
 *     restore.
 *
 * Build: clang -fsanitize=fuzzer,... with the library sources, or any C99 compiler with
 * tests/fuzz/replay_main.c to replay files (.ci/fuzz.sh does both).
 */
#include "fuzz_common.h"

#include <ctype.h>
#include <math.h>

/* ------------------------------------------------------------------------------------------ */
/* Names: the documented set, written down from include/fpq.h and docs/formats.md. */

typedef struct doc_preset {
    const char *name; /* canonical */
    int bits, E, M, bias, family, is_signed;
} doc_preset;

static const doc_preset doc_presets[] = {
    {"float4_e2m1fn", 4, 2, 1, 1, FPQ_FAMILY_FINITE, 1},
    {"float6_e2m3fn", 6, 2, 3, 1, FPQ_FAMILY_FINITE, 1},
    {"float6_e3m2fn", 6, 3, 2, 3, FPQ_FAMILY_FINITE, 1},
    {"float8_e3m4", 8, 3, 4, 3, FPQ_FAMILY_IEEE, 1},
    {"float8_e4m3", 8, 4, 3, 7, FPQ_FAMILY_IEEE, 1},
    {"float8_e4m3fn", 8, 4, 3, 7, FPQ_FAMILY_FN, 1},
    {"float8_e4m3fnuz", 8, 4, 3, 8, FPQ_FAMILY_FNUZ, 1},
    {"float8_e4m3b11fnuz", 8, 4, 3, 11, FPQ_FAMILY_FNUZ, 1},
    {"float8_e5m2", 8, 5, 2, 15, FPQ_FAMILY_IEEE, 1},
    {"float8_e5m2fnuz", 8, 5, 2, 16, FPQ_FAMILY_FNUZ, 1},
    {"float8_e8m0fnu", 8, 8, 0, 127, FPQ_FAMILY_E8M0, 0},
    /* the paper's finite 4-bit family, default biases */
    {"e3m0", 4, 3, 0, 3, FPQ_FAMILY_FINITE, 1},
    {"e2m1", 4, 2, 1, 1, FPQ_FAMILY_FINITE, 1},
    {"e1m2", 4, 1, 2, 0, FPQ_FAMILY_FINITE, 1},
    {"e0m3", 4, 0, 3, 0, FPQ_FAMILY_FINITE, 1},
    {"int4", 4, 0, 3, 0, FPQ_FAMILY_FINITE, 1},
};
#define NUM_DOC_PRESETS ((int)(sizeof doc_presets / sizeof doc_presets[0]))

static void doc_preset_format(const doc_preset *p, fpq_format *f)
{
    memset(f, 0, sizeof *f);
    f->exp_bits = p->E;
    f->man_bits = p->M;
    f->bias = p->bias;
    f->family = p->family;
    f->is_signed = p->is_signed;
}

/* 1 and the format if include/fpq.h documents `name` (already lower-cased). */
static int doc_name(const char *name, fpq_format *out)
{
    int i;
    for (i = 0; i < NUM_DOC_PRESETS; i++) {
        const doc_preset *p = &doc_presets[i];
        char tail[32], forms[6][64]; /* room for "float" + any int + "_" + tail */
        int nf = 0, k;
        const char *under = strchr(p->name, '_');
        if (!under) {
            if (!strcmp(name, p->name)) {
                doc_preset_format(p, out);
                return 1;
            }
            continue;
        }
        snprintf(tail, sizeof tail, "%s", under + 1);
        snprintf(forms[nf++], sizeof forms[0], "float%d_%s", p->bits, tail);
        snprintf(forms[nf++], sizeof forms[0], "fp%d_%s", p->bits, tail);
        snprintf(forms[nf++], sizeof forms[0], "%s", tail);
        if (p->bits < 8 && strlen(tail) > 2 && !strcmp(tail + strlen(tail) - 2, "fn")) {
            tail[strlen(tail) - 2] = '\0';
            snprintf(forms[nf++], sizeof forms[0], "float%d_%s", p->bits, tail);
            snprintf(forms[nf++], sizeof forms[0], "fp%d_%s", p->bits, tail);
            snprintf(forms[nf++], sizeof forms[0], "%s", tail);
        }
        for (k = 0; k < nf; k++) {
            if (!strcmp(name, forms[k])) {
                doc_preset_format(p, out);
                return 1;
            }
        }
    }
    return 0;
}

/* Checked once per process: every preset name round-trips, every documented name resolves. */
static void check_presets_once(void)
{
    static int done;
    int i;
    if (done)
        return;
    done = 1;
    FZ_CHECK(fpq_version() == FPQ_VERSION_NUMBER);
    FZ_CHECK(!strcmp(fpq_version_string(), FPQ_VERSION_STRING));
    for (i = 0; fpq_format_preset_name(i); i++) {
        const char *name = fpq_format_preset_name(i);
        fpq_format f, g;
        char buf[40];
        FZ_CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
        FZ_CHECK(fpq_format_describe(&f, buf, sizeof buf) == FPQ_OK);
        FZ_CHECKF(!strcmp(buf, name), "preset %s describes as %s\n", name, buf);
        FZ_CHECK(doc_name(name, &g) && !memcmp(&f, &g, sizeof f));
        FZ_CHECK(i < 64);
    }
    FZ_CHECK(fpq_format_preset_name(-1) == NULL);
    FZ_CHECK(fpq_format_preset_name(i + 1) == NULL);
    for (i = 0; i < NUM_DOC_PRESETS; i++) {
        fpq_format f, g;
        doc_preset_format(&doc_presets[i], &g);
        FZ_CHECKF(fpq_format_from_name(doc_presets[i].name, &f) == FPQ_OK &&
                      !memcmp(&f, &g, sizeof f),
                  "documented name %s\n", doc_presets[i].name);
    }
}

/* 1 if fmt equals a preset bit for bit; its canonical name in *name. The presets are looked
 * up once per process. */
static int lib_preset_of(const fpq_format *fmt, const char **name)
{
    static fpq_format formats[64];
    static int count = -1;
    int i;
    if (count < 0) {
        for (i = 0; fpq_format_preset_name(i) && i < 64; i++)
            FZ_CHECK(fpq_format_from_name(fpq_format_preset_name(i), &formats[i]) == FPQ_OK);
        count = i;
    }
    for (i = 0; i < count; i++) {
        if (!memcmp(&formats[i], fmt, sizeof *fmt)) {
            *name = fpq_format_preset_name(i);
            return 1;
        }
    }
    return 0;
}

static void check_name(const uint8_t *data, size_t size)
{
    char *s = (char *)malloc(size + 1), lower[64];
    fz_arena a;
    fpq_format *out, doc;
    int st, documented, i;
    size_t len;

    FZ_CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0'; /* exactly size + 1 bytes: ASan sees any read past the NUL */
    len = strlen(s);

    fz_arena_init(&a, 2 * FZ_GUARD + sizeof(fpq_format));
    out = (fpq_format *)(a.base + FZ_GUARD);
    fz_arena_snapshot(&a);
    st = fpq_format_from_name(s, out);

    documented = 0;
    if (len < sizeof lower) {
        for (i = 0; s[i]; i++)
            lower[i] = (char)tolower((unsigned char)s[i]);
        lower[i] = '\0';
        documented = doc_name(lower, &doc);
    }
    if (documented) {
        FZ_CHECKF(st == FPQ_OK && !memcmp(out, &doc, sizeof doc),
                  "documented name \"%s\": status %d\n", s, st);
    }
    if (st == FPQ_OK) {
        const char *canonical = NULL;
        char token[16];
        fz_arena_expect_only(&a, out, sizeof *out, "fpq_format_from_name");
        FZ_CHECKF(lib_preset_of(out, &canonical), "name \"%s\" gave a non-preset format\n", s);
        /* Leniency beyond the documented forms is tolerated (see the report in
         * docs/errors.md), but the name must at least spell the split it gave. */
        snprintf(token, sizeof token, "e%dm%d", out->exp_bits, out->man_bits);
        if (len < sizeof lower)
            FZ_CHECKF(strstr(lower, token) || (out->exp_bits == 0 && strstr(lower, "int4")),
                      "name \"%s\" gave %s\n", s, canonical);
    } else {
        FZ_CHECKF(st == FPQ_ERR_NAME, "name \"%s\": status %d\n", s, st);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_from_name error");
    }
    FZ_CHECK(fpq_format_from_name(NULL, out) == FPQ_ERR_NULL);
    FZ_CHECK(fpq_format_from_name(s, NULL) == FPQ_ERR_NULL);
    fz_arena_free(&a);
    free(s);
}

/* ------------------------------------------------------------------------------------------ */
/* Queries on one descriptor */

static int same_float(float a, float b)
{
    return fm_f2u(a) == fm_f2u(b);
}

static void check_limits(const fpq_format *f, const fm_format *m, int valid)
{
    fz_arena a;
    fpq_format_limits *lim;
    int st;

    fz_arena_init(&a, 2 * FZ_GUARD + sizeof *lim);
    lim = (fpq_format_limits *)(a.base + FZ_GUARD);
    fz_arena_snapshot(&a);
    st = fpq_format_limits_get(f, lim);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_limits_get error");
    } else {
        FZ_CHECK(st == FPQ_OK);
        fz_arena_expect_only(&a, lim, sizeof *lim, "fpq_format_limits_get");
        FZ_CHECK(lim->bits == m->bits);
        FZ_CHECK(lim->num_codes == m->num_codes);
        FZ_CHECKF(lim->num_values == m->num_values, "num_values %d, model %d\n",
                  lim->num_values, m->num_values);
        FZ_CHECK(lim->has_inf == m->has_inf);
        FZ_CHECK(lim->has_nan == m->has_nan);
        FZ_CHECK(lim->has_negative_zero == m->has_negzero);
        FZ_CHECK(lim->has_inf == (m->family == FPQ_FAMILY_IEEE));
        FZ_CHECK(lim->has_nan == (m->family != FPQ_FAMILY_FINITE));
        FZ_CHECK(same_float(lim->max_finite, m->max_finite));
        FZ_CHECKF(same_float(lim->min_normal, m->min_normal), "min_normal %a, model %a\n",
                  (double)lim->min_normal, (double)m->min_normal);
        FZ_CHECKF(same_float(lim->min_subnormal, m->min_subnormal),
                  "min_subnormal %a, model %a\n", (double)lim->min_subnormal,
                  (double)m->min_subnormal);
        FZ_CHECK(same_float(lim->min_positive, m->min_positive));
    }
    fz_arena_restore(&a);
    FZ_CHECK(fpq_format_limits_get(f, NULL) == FPQ_ERR_NULL ||
             (!valid && fpq_format_limits_get(f, NULL) == FPQ_ERR_FORMAT));
    FZ_CHECK(fpq_format_limits_get(NULL, lim) == FPQ_ERR_NULL);
    fz_arena_expect_only(&a, NULL, 0, "fpq_format_limits_get NULL");
    fz_arena_free(&a);
}

static void check_values(const fpq_format *f, const fm_format *m, int valid, size_t cap)
{
    fz_arena a;
    float *vals;
    size_t *count, i;
    int st;

    fz_arena_init(&a, 3 * FZ_GUARD + cap * sizeof(float) + sizeof(size_t));
    count = (size_t *)(a.base + FZ_GUARD);
    vals = (float *)(a.base + 2 * FZ_GUARD + sizeof(size_t));
    fz_arena_snapshot(&a);

    /* count only */
    st = fpq_format_values(f, NULL, cap, count);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_values error");
    } else {
        FZ_CHECK(st == FPQ_OK && *count == (size_t)m->num_values);
        fz_arena_expect_only(&a, count, sizeof *count, "fpq_format_values count");
    }
    fz_arena_restore(&a);

    st = fpq_format_values(f, vals, cap, count);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_values error");
    } else if (cap < (size_t)m->num_values) {
        FZ_CHECK(st == FPQ_ERR_CAPACITY && *count == (size_t)m->num_values);
        fz_arena_expect_only(&a, count, sizeof *count, "fpq_format_values capacity");
    } else {
        FZ_CHECK(st == FPQ_OK && *count == (size_t)m->num_values);
        for (i = 0; i < *count; i++) {
            FZ_CHECKF(same_float(vals[i], m->values[i]), "value %zu: %a, model %a\n", i,
                      (double)vals[i], (double)m->values[i]);
            FZ_CHECK(i == 0 || vals[i - 1] < vals[i]);
        }
        /* everything past count untouched: count and the values are the only writes */
        {
            uint8_t *end = (uint8_t *)(vals + *count);
            size_t k;
            for (k = (size_t)(end - a.base); k < a.size; k++)
                FZ_CHECK(a.base[k] == a.snap[k]);
            for (k = 0; k < FZ_GUARD; k++)
                FZ_CHECK(a.base[k] == a.snap[k]);
        }
    }
    fz_arena_restore(&a);
    FZ_CHECK(fpq_format_values(NULL, vals, cap, count) == FPQ_ERR_NULL);
    st = fpq_format_values(f, vals, cap, NULL);
    FZ_CHECK(st == FPQ_ERR_NULL || (!valid && st == FPQ_ERR_FORMAT));
    fz_arena_expect_only(&a, NULL, 0, "fpq_format_values NULL");
    fz_arena_free(&a);
}

static void check_describe(const fpq_format *f, const fm_format *m, int valid, size_t cap)
{
    char full[64];
    fz_arena a;
    char *buf;
    int st;
    size_t len;

    memset(full, 0x5a, sizeof full);
    st = fpq_format_describe(f, full, sizeof full);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        len = 0;
    } else {
        const char *preset;
        FZ_CHECK(st == FPQ_OK);
        len = 0;
        while (len < sizeof full && full[len])
            len++;
        FZ_CHECKF(len + 1 <= 40, "description \"%.64s\" longer than 39 characters\n", full);
        if (lib_preset_of(f, &preset)) {
            FZ_CHECK(!strcmp(full, preset));
        } else {
            char head[16], tail[32];
            size_t hl, tl;
            snprintf(head, sizeof head, "e%dm%d ", m->E, m->M);
            snprintf(tail, sizeof tail, " bias=%d %s", m->bias,
                     m->is_signed ? "signed" : "unsigned");
            hl = strlen(head);
            tl = strlen(tail);
            FZ_CHECKF(len > hl + tl && !strncmp(full, head, hl) &&
                          !strcmp(full + len - tl, tail),
                      "description \"%s\" of e%dm%d bias %d family %d signed %d\n", full,
                      m->E, m->M, m->bias, m->family, m->is_signed);
            if (m->family == FPQ_FAMILY_FINITE)
                FZ_CHECK(!strncmp(full + hl, "finite ", 7));
        }
    }
    fz_arena_init(&a, 2 * FZ_GUARD + cap);
    buf = (char *)(a.base + FZ_GUARD);
    fz_arena_snapshot(&a);
    st = fpq_format_describe(f, buf, cap);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_describe error");
    } else if (cap < len + 1) {
        FZ_CHECK(st == FPQ_ERR_CAPACITY);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_describe capacity");
    } else {
        FZ_CHECK(st == FPQ_OK && !memcmp(buf, full, len + 1));
        fz_arena_expect_only(&a, buf, len + 1, "fpq_format_describe");
    }
    fz_arena_restore(&a);
    FZ_CHECK(fpq_format_describe(NULL, buf, cap) == FPQ_ERR_NULL);
    st = fpq_format_describe(f, NULL, cap);
    FZ_CHECK(st == FPQ_ERR_NULL || (!valid && st == FPQ_ERR_FORMAT));
    fz_arena_expect_only(&a, NULL, 0, "fpq_format_describe NULL");
    fz_arena_free(&a);
}

static void check_packed_size(const fpq_format *f, const fm_format *m, int valid, size_t n,
                              unsigned flags)
{
    size_t got = fpq_packed_size(f, n, flags), want = 0;
    if (valid && !(flags & ~(unsigned)(FPQ_UNPACKED | FPQ_NO_SATURATE)) &&
        n <= SIZE_MAX / sizeof(float))
        want = fm_code_bytes(n, m->bits, flags);
    FZ_CHECKF(got == want, "fpq_packed_size(n=%zu, flags=%#x) = %zu, want %zu\n", n, flags,
              got, want);
    FZ_CHECK(fpq_packed_size(NULL, n, flags) == 0);
}

/* One float32 ulp of a finite positive value. */
static double ulp_of(float v)
{
    int ex;
    if (v < FLT_MIN)
        return ldexp(1.0, -149);
    (void)frexp((double)v, &ex);
    return ldexp(1.0, ex - 24);
}

static double pick_bias(fz_reader *r, int fmt_bias)
{
    uint8_t mode = fz_u8(r);
    uint64_t raw;
    double d;
    switch (mode % 5) {
    case 0:
        raw = fz_u64(r);
        memcpy(&d, &raw, sizeof d);
        return d;
    case 1:
        return (double)fmt_bias + (int8_t)fz_u8(r);
    case 2:
        return (double)fmt_bias + (int16_t)fz_u16(r) / 256.0;
    case 3: {
        static const double special[] = {0.0, -0.0, 1e6, -1e6, 1e300, -1e300, 127.0, -127.0,
                                         126.0, -128.0, 128.0, 1.0 / 3.0, -149.0, 150.0};
        return special[fz_u8(r) % (sizeof special / sizeof special[0])];
    }
    default:
        return (double)(int32_t)fz_u32(r) / 65536.0;
    }
}

static void check_scales(const fpq_format *f, const fm_format *m, int valid, fz_reader *r)
{
    fz_arena a;
    float *s;
    double *b;
    float maxval = fm_u2f(fz_u32(r)), scale = fz_pick_scale(r);
    double bias = pick_bias(r, valid ? m->bias : 0);
    int st;

    fz_arena_init(&a, 3 * FZ_GUARD + sizeof(float) + sizeof(double));
    s = (float *)(a.base + FZ_GUARD);
    b = (double *)(a.base + 2 * FZ_GUARD);
    fz_arena_snapshot(&a);

    /* fpq_scale_from_maxval: maxval / max_finite in float32 */
    st = fpq_scale_from_maxval(f, maxval, s);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_scale_from_maxval error");
    } else {
        volatile float num = maxval, den = m->max_finite;
        float want = num / den;
        if (maxval > 0.0f && maxval <= FLT_MAX && fm_scale_valid(want)) {
            FZ_CHECKF(st == FPQ_OK && same_float(*s, want),
                      "fpq_scale_from_maxval(%a) = %d, %a; want %a\n", (double)maxval, st,
                      (double)*s, (double)want);
            fz_arena_expect_only(&a, s, sizeof *s, "fpq_scale_from_maxval");
        } else {
            FZ_CHECKF(st == FPQ_ERR_ARGUMENT, "fpq_scale_from_maxval(%a): %d\n",
                      (double)maxval, st);
            fz_arena_expect_only(&a, NULL, 0, "fpq_scale_from_maxval error");
        }
    }
    fz_arena_restore(&a);

    /* fpq_scale_from_bias: 2^(fmt->bias - bias) rounded to float32 */
    st = fpq_scale_from_bias(f, bias, s);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_scale_from_bias error");
    } else if (!isfinite(bias) || fabs((double)m->bias - bias) > 1000.0) {
        FZ_CHECKF(st == FPQ_ERR_ARGUMENT, "fpq_scale_from_bias(%a): %d\n", bias, st);
        fz_arena_expect_only(&a, NULL, 0, "fpq_scale_from_bias error");
    } else {
        double d = (double)m->bias - bias, ideal = exp2(d);
        int surely_valid = ideal >= (double)FLT_MIN && ideal <= (double)FLT_MAX;
        int surely_invalid = ideal < (double)FLT_MIN * (1.0 - 1e-6) ||
                             ideal > (double)FLT_MAX * (1.0 + 1e-6);
        if (surely_valid)
            FZ_CHECKF(st == FPQ_OK, "fpq_scale_from_bias(%a): %d\n", bias, st);
        if (surely_invalid)
            FZ_CHECKF(st == FPQ_ERR_ARGUMENT, "fpq_scale_from_bias(%a): %d\n", bias, st);
        if (st == FPQ_OK) {
            FZ_CHECK(fm_scale_valid(*s));
            if (d == floor(d))
                FZ_CHECKF((double)*s == ideal, "2^%g gave %a\n", d, (double)*s);
            else
                FZ_CHECKF(fabs((double)*s - ideal) <= ulp_of(*s), "2^%.17g gave %a, want %a\n",
                          d, (double)*s, ideal);
            fz_arena_expect_only(&a, s, sizeof *s, "fpq_scale_from_bias");
        } else {
            FZ_CHECK(st == FPQ_ERR_ARGUMENT);
            fz_arena_expect_only(&a, NULL, 0, "fpq_scale_from_bias error");
        }
    }
    fz_arena_restore(&a);

    /* fpq_bias_from_scale: fmt->bias - log2(scale), and back */
    st = fpq_bias_from_scale(f, scale, b);
    if (!valid) {
        FZ_CHECK(st == FPQ_ERR_FORMAT);
        fz_arena_expect_only(&a, NULL, 0, "fpq_bias_from_scale error");
    } else if (!fm_scale_valid(scale)) {
        FZ_CHECKF(st == FPQ_ERR_SCALE, "fpq_bias_from_scale(%a): %d\n", (double)scale, st);
        fz_arena_expect_only(&a, NULL, 0, "fpq_bias_from_scale error");
    } else {
        double want = (double)m->bias - log2((double)scale), got;
        int e;
        FZ_CHECK(st == FPQ_OK);
        fz_arena_expect_only(&a, b, sizeof *b, "fpq_bias_from_scale");
        got = *b;
        if (frexp((double)scale, &e) == 0.5)
            FZ_CHECKF(got == want, "bias_from_scale(%a) = %.17g, want %.17g\n", (double)scale,
                      got, want);
        else
            FZ_CHECKF(fabs(got - want) <= 1e-12 * (fabs(want) + 1.0),
                      "bias_from_scale(%a) = %.17g, want %.17g\n", (double)scale, got, want);
        if (scale <= 0x1p127f) {
            float back;
            FZ_CHECKF(fpq_scale_from_bias(f, got, &back) == FPQ_OK &&
                          fabs((double)back - (double)scale) <= ulp_of(scale),
                      "scale %a -> bias %.17g -> scale %a\n", (double)scale, got, (double)back);
            if (frexp((double)scale, &e) == 0.5)
                FZ_CHECK(same_float(back, scale));
        }
    }
    fz_arena_restore(&a);

    /* NULL outputs and formats */
    st = fpq_scale_from_maxval(f, maxval, NULL);
    FZ_CHECK(st == FPQ_ERR_NULL || (!valid && st == FPQ_ERR_FORMAT));
    st = fpq_scale_from_bias(f, bias, NULL);
    FZ_CHECK(st == FPQ_ERR_NULL || (!valid && st == FPQ_ERR_FORMAT));
    st = fpq_bias_from_scale(f, scale, NULL);
    FZ_CHECK(st == FPQ_ERR_NULL || (!valid && st == FPQ_ERR_FORMAT));
    FZ_CHECK(fpq_scale_from_maxval(NULL, maxval, s) == FPQ_ERR_NULL);
    FZ_CHECK(fpq_scale_from_bias(NULL, bias, s) == FPQ_ERR_NULL);
    FZ_CHECK(fpq_bias_from_scale(NULL, scale, b) == FPQ_ERR_NULL);
    fz_arena_expect_only(&a, NULL, 0, "scale conversions with NULL");
    fz_arena_free(&a);
}

/* The queries again in a non-default floating-point environment: the same results as the
 * model (limits, values) or as in the default environment (conversions), and the
 * environment is left as it was. */
static void check_env(const fpq_format *f, const fm_format *m, int valid, uint8_t env_byte)
{
    fz_env env = fz_env_pick(env_byte);
    fpq_format_limits lim;
    float vals[256], s0 = 0, s1 = 0;
    size_t count = 0;
    double b0 = 0, b1 = 0;
    int st[4], st0, i;
    unsigned long before, after;

    if (!valid)
        return;
    /* tiny arguments, where flush-to-zero or the rounding mode would show */
    st0 = fpq_scale_from_maxval(f, 3.0e-38f, &s0);
    FZ_CHECK(fpq_bias_from_scale(f, 1.5e-38f, &b0) == FPQ_OK);
    fz_env_set(env);
    before = fz_env_state();
    st[0] = fpq_format_limits_get(f, &lim);
    st[1] = fpq_format_values(f, vals, 256, &count);
    st[2] = fpq_scale_from_maxval(f, 3.0e-38f, &s1);
    st[3] = fpq_bias_from_scale(f, 1.5e-38f, &b1);
    after = fz_env_state();
    fz_env_default();
    FZ_CHECKF(before == after, "FP environment not restored: %#lx -> %#lx\n", before, after);
    FZ_CHECK(st[0] == FPQ_OK && st[1] == FPQ_OK && st[3] == FPQ_OK);
    FZ_CHECK(lim.num_values == m->num_values && same_float(lim.max_finite, m->max_finite));
    FZ_CHECK(same_float(lim.min_normal, m->min_normal));
    FZ_CHECK(same_float(lim.min_subnormal, m->min_subnormal));
    FZ_CHECK(same_float(lim.min_positive, m->min_positive));
    FZ_CHECK(count == (size_t)m->num_values);
    for (i = 0; i < m->num_values; i++)
        FZ_CHECK(same_float(vals[i], m->values[i]));
    FZ_CHECK(st[2] == st0 && same_float(s0, s1));
    FZ_CHECK(!memcmp(&b0, &b1, sizeof b0));
}

static void check_format(const fpq_format *f, fz_reader *r)
{
    fm_format m;
    int valid, bits;
    size_t n;
    unsigned flags;

    if (fm_known_defect(f))
        return;
    fm_init(&m, f);
    valid = fm_lib_valid(&m);
    bits = fpq_format_bits(f);
    FZ_CHECKF(valid ? bits == m.bits : bits == FPQ_ERR_FORMAT,
              "e%dm%d bias %d family %d signed %d reserved %d %d %d: fpq_format_bits %d, "
              "documented validity %d (known library refusal %d)\n",
              f->exp_bits, f->man_bits, f->bias, f->family, f->is_signed, f->reserved[0],
              f->reserved[1], f->reserved[2], bits, m.doc_valid, m.lib_stricter);
    check_limits(f, &m, valid);
    check_values(f, &m, valid, fz_u8(r) % 260);
    check_describe(f, &m, valid, fz_u8(r) % 48);
    n = (fz_u8(r) & 1) ? (size_t)fz_u64(r) : fz_u16(r);
    flags = fz_pick_flags(r);
    check_packed_size(f, &m, valid, n, flags);
    check_scales(f, &m, valid, r);
    check_env(f, &m, valid, fz_u8(r));
}

/* ------------------------------------------------------------------------------------------ */

static void check_make(fz_reader *r)
{
    int E = fz_small_int(r, -2, 12), M = fz_small_int(r, -2, 11);
    int fam = fz_small_int(r, -1, 8), s = fz_small_int(r, -1, 4);
    uint8_t bm = fz_u8(r);
    int bias, resolved;
    fpq_format want;
    fm_format m;
    fz_arena a;
    fpq_format *out;
    int st, valid;

    if (bm < 0x40)
        bias = FPQ_BIAS_DEFAULT;
    else if (bm < 0xc0)
        bias = (E >= 0 && E <= 8 ? fm_default_bias(E, fam) : 0) + (int8_t)fz_u8(r);
    else
        bias = (int)fz_u32(r);
    resolved = bias;
    if (bias == FPQ_BIAS_DEFAULT)
        resolved = (E >= 0 && E <= 8) ? fm_default_bias(E, fam) : 0;

    memset(&want, 0, sizeof want);
    want.exp_bits = E;
    want.man_bits = M;
    want.bias = resolved;
    want.family = fam;
    want.is_signed = s;
    if (fm_known_defect(&want))
        return;
    fm_init(&m, &want);
    valid = fm_lib_valid(&m) && E >= 0 && E <= 8;

    fz_arena_init(&a, 2 * FZ_GUARD + sizeof *out);
    out = (fpq_format *)(a.base + FZ_GUARD);
    fz_arena_snapshot(&a);
    st = fpq_format_make(E, M, bias, fam, s, out);
    if (valid) {
        FZ_CHECKF(st == FPQ_OK && !memcmp(out, &want, sizeof want),
                  "fpq_format_make(%d, %d, %d, %d, %d) = %d\n", E, M, bias, fam, s, st);
        fz_arena_expect_only(&a, out, sizeof *out, "fpq_format_make");
    } else {
        FZ_CHECKF(st == FPQ_ERR_FORMAT, "fpq_format_make(%d, %d, %d, %d, %d) = %d\n", E, M,
                  bias, fam, s, st);
        fz_arena_expect_only(&a, NULL, 0, "fpq_format_make error");
    }
    FZ_CHECK(fpq_format_make(E, M, bias, fam, s, NULL) == FPQ_ERR_NULL);
    fz_arena_free(&a);
    check_format(&want, r);
}

static void check_status_strings(int code)
{
    const char *s = fpq_status_string(code);
    FZ_CHECK(s != NULL);
    if (code <= 0 && code >= FPQ_ERR_MEMORY) /* the lowest status include/fpq.h defines */
        FZ_CHECK(strcmp(s, "unknown status") != 0);
    else
        FZ_CHECK(!strcmp(s, "unknown status"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fpq_format f;
    int np = fz_num_presets();

    fz_env_default();
    check_presets_once();
    check_name(data, size);

    r.p = data;
    r.n = size;
    check_status_strings((int)fz_u32(&r) % 64 - 32);
    check_make(&r);
    /* a preset, a raw descriptor, a perturbed preset, whatever fz_pick_format gives */
    FZ_CHECK(fpq_format_from_name(fpq_format_preset_name(fz_u8(&r) % np), &f) == FPQ_OK);
    check_format(&f, &r);
    {
        uint8_t raw[sizeof(fpq_format)];
        size_t i;
        for (i = 0; i < sizeof raw; i++)
            raw[i] = fz_u8(&r);
        memcpy(&f, raw, sizeof raw);
        check_format(&f, &r);
    }
    fz_pick_format(&r, &f);
    check_format(&f, &r);
    return 0;
}
