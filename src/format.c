/*
 * format.c - format descriptors: validation, presets and names, limits, value lists, and the
 * scale / clipping range / real-valued bias conversions.
 */
#include "fpenv.h"
#include "fpq_round.h"

#include <float.h>
#include <math.h>

static int default_bias(int exp_bits, int family)
{
    if (family == FPQ_FAMILY_E8M0)
        return 127;
    if (exp_bits <= 0 || exp_bits > 8)
        return 0; /* E == 0, or an invalid E that validation refuses next */
    if (family == FPQ_FAMILY_FNUZ)
        return 1 << (exp_bits - 1);
    return (1 << (exp_bits - 1)) - 1;
}

static int split_is_valid(int e, int m, int family, int is_signed)
{
    int width;

    /* Ranges first: the width below must not overflow on hand-filled descriptors. */
    if (e < 0 || e > 8 || m < 0 || m > 7 || (is_signed != 0 && is_signed != 1))
        return 0;
    width = is_signed + e + m;
    if (width > 8 || width < (is_signed ? 2 : 1))
        return 0;
    switch (family) {
    case FPQ_FAMILY_IEEE:
        return e >= 2 && m >= 1;
    case FPQ_FAMILY_FN:
        return e >= 1 && e + m >= 2;
    case FPQ_FAMILY_FNUZ:
        return e >= 1 && is_signed;
    case FPQ_FAMILY_FINITE:
        return e >= 1 || m >= 1;
    case FPQ_FAMILY_E8M0:
        return e == 8 && m == 0 && !is_signed;
    default:
        return 0;
    }
}

int fpqi_params_init(const fpq_format *fmt, fpqi_params *out)
{
    fpqi_params p;
    int e, m, mag_bits, top_exp;

    if (!fmt || fmt->reserved[0] || fmt->reserved[1] || fmt->reserved[2])
        return FPQ_ERR_FORMAT;
    e = fmt->exp_bits;
    m = fmt->man_bits;
    if (!split_is_valid(e, m, fmt->family, fmt->is_signed))
        return FPQ_ERR_FORMAT;
    if (fmt->bias < -1000 || fmt->bias > 1000)
        return FPQ_ERR_FORMAT;

    memset(&p, 0, sizeof p);
    p.bits = fmt->is_signed + e + m;
    p.exp_bits = e;
    p.man_bits = m;
    p.family = fmt->family;
    p.is_signed = fmt->is_signed;
    p.bias = fmt->bias;
    p.sign_bit = fmt->is_signed ? 1u << (p.bits - 1) : 0u;
    p.code_mask = (1u << p.bits) - 1u;
    mag_bits = e + m;

    /* emin: E == 0 grids step by 2^-bias, so their quantum exponent emin - M is -bias. */
    if (fmt->family == FPQ_FAMILY_E8M0)
        p.emin = -fmt->bias;
    else if (e == 0)
        p.emin = m - fmt->bias;
    else
        p.emin = 1 - fmt->bias;

    switch (fmt->family) {
    case FPQ_FAMILY_IEEE:
        p.inf_mag = ((1u << e) - 1u) << m;
        p.nan_mag = p.inf_mag | (1u << (m - 1));
        p.max_mag = p.inf_mag - 1u;
        break;
    case FPQ_FAMILY_FN:
        p.nan_mag = (1u << mag_bits) - 1u;
        p.max_mag = p.nan_mag - 1u;
        break;
    case FPQ_FAMILY_E8M0:
        p.nan_mag = 0xffu;
        p.max_mag = 0xfeu;
        break;
    default: /* FNUZ (NaN is the sign bit alone), FINITE */
        p.max_mag = (1u << mag_bits) - 1u;
        break;
    }

    /* Every value must be an exact float32: smallest quantum >= 2^-149, largest <= FLT_MAX.
     * emin >= -127 is what fpqi_encode's treatment of float32 subnormals relies on. */
    if (p.emin < -127 || p.emin - m < -149)
        return FPQ_ERR_FORMAT;
    if (fmt->family == FPQ_FAMILY_E8M0)
        top_exp = (int)p.max_mag - fmt->bias;
    else
        top_exp = (e == 0 ? p.emin - 1 : p.emin + (int)(p.max_mag >> m) - 1);
    /* The encoder's magic constant 2^(emin - M + 23) must be a float32 too. */
    if (top_exp > 127 || p.emin - m + 23 > 127)
        return FPQ_ERR_FORMAT;
    p.low_limit = p.emin >= -126 ? (uint32_t)(p.emin + 127) << 23 : 0x00800000u;
    p.round_add = m ? (1u << (22 - m)) - 1u : 1u << 22;
    p.odd_mask = m ? 1u : 0u;
    p.rebias = (uint32_t)(127 + p.emin - 1) << m;
    p.magic = fpqi_u2f((uint32_t)(p.emin - m + 23 + 127) << 23);
    p.plain = p.is_signed && p.family != FPQ_FAMILY_FNUZ && p.family != FPQ_FAMILY_E8M0;
    if (out)
        *out = p;
    return FPQ_OK;
}

int fpq_format_make(int exp_bits, int man_bits, int bias, int family, int is_signed,
                    fpq_format *out)
{
    fpq_format f;

    if (!out)
        return FPQ_ERR_NULL;
    memset(&f, 0, sizeof f);
    f.exp_bits = exp_bits;
    f.man_bits = man_bits;
    f.family = family;
    f.is_signed = is_signed;
    f.bias = bias == FPQ_BIAS_DEFAULT ? default_bias(exp_bits, family) : bias;
    if (fpqi_params_init(&f, NULL) != FPQ_OK)
        return FPQ_ERR_FORMAT;
    *out = f;
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */

typedef struct preset {
    const char *name;  /* canonical, ml_dtypes' where it has one */
    const char *alias; /* a short form also accepted, or NULL */
    signed char e, m, bias, family, is_signed;
} preset;

static const preset presets[] = {
    {"float4_e2m1fn", "e2m1", 2, 1, 1, FPQ_FAMILY_FINITE, 1},
    {"float6_e2m3fn", "e2m3", 2, 3, 1, FPQ_FAMILY_FINITE, 1},
    {"float6_e3m2fn", "e3m2", 3, 2, 3, FPQ_FAMILY_FINITE, 1},
    {"float8_e3m4", NULL, 3, 4, 3, FPQ_FAMILY_IEEE, 1},
    {"float8_e4m3", NULL, 4, 3, 7, FPQ_FAMILY_IEEE, 1},
    {"float8_e4m3fn", NULL, 4, 3, 7, FPQ_FAMILY_FN, 1},
    {"float8_e4m3fnuz", NULL, 4, 3, 8, FPQ_FAMILY_FNUZ, 1},
    {"float8_e4m3b11fnuz", NULL, 4, 3, 11, FPQ_FAMILY_FNUZ, 1},
    {"float8_e5m2", NULL, 5, 2, 15, FPQ_FAMILY_IEEE, 1},
    {"float8_e5m2fnuz", NULL, 5, 2, 16, FPQ_FAMILY_FNUZ, 1},
    {"float8_e8m0fnu", "e8m0", 8, 0, 127, FPQ_FAMILY_E8M0, 0},
    {"e3m0", "float4_e3m0fn", 3, 0, 3, FPQ_FAMILY_FINITE, 1},
    {"e1m2", "float4_e1m2fn", 1, 2, 0, FPQ_FAMILY_FINITE, 1},
    {"e0m3", "int4", 0, 3, 0, FPQ_FAMILY_FINITE, 1},
};
#define NUM_PRESETS ((int)(sizeof presets / sizeof presets[0]))

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int equal_nocase(const char *a, const char *b)
{
    while (*a && lower_ascii(*a) == lower_ascii(*b)) {
        a++;
        b++;
    }
    return lower_ascii(*a) == lower_ascii(*b);
}

static int starts_with_nocase(const char *s, const char *prefix)
{
    while (*prefix) {
        if (lower_ascii(*s++) != *prefix++)
            return 0;
    }
    return 1;
}

/* The part of a name after an optional "floatN_" / "fpN_" prefix, or NULL if the prefix's N
 * is not the preset's width. */
static const char *strip_width_prefix(const char *name, int bits)
{
    const char *p = name;
    int n = 0;

    if (starts_with_nocase(p, "float"))
        p += 5;
    else if (starts_with_nocase(p, "fp"))
        p += 2;
    else
        return name;
    if (*p < '1' || *p > '9') /* "float08_..." is not a width */
        return *p == '0' ? NULL : name;
    while (*p >= '0' && *p <= '9' && n < 100)
        n = n * 10 + (*p++ - '0');
    if (*p != '_' || n != bits)
        return NULL;
    return p + 1;
}

static int preset_matches(const preset *ps, const char *name)
{
    const char *canonical_tail, *tail;
    int bits = ps->is_signed + ps->e + ps->m;

    if (equal_nocase(name, ps->name) || (ps->alias && equal_nocase(name, ps->alias)))
        return 1;
    tail = strip_width_prefix(name, bits);
    canonical_tail = strip_width_prefix(ps->name, bits);
    if (!tail || !canonical_tail)
        return 0;
    if (equal_nocase(tail, canonical_tail))
        return 1;
    /* fp4 / fp6 formats may drop the "fn" ("fp4_e2m1"): they have no other variant. Only
     * the short e<E>m<M> alias may follow a prefix ("fp4_int4" is not a name). */
    return bits < 8 && ps->alias && lower_ascii(ps->alias[0]) == 'e' &&
           equal_nocase(tail, ps->alias);
}

static void preset_to_format(const preset *ps, fpq_format *out)
{
    memset(out, 0, sizeof *out);
    out->exp_bits = ps->e;
    out->man_bits = ps->m;
    out->bias = ps->bias;
    out->family = ps->family;
    out->is_signed = ps->is_signed;
}

int fpq_format_from_name(const char *name, fpq_format *out)
{
    int i;

    if (!name || !out)
        return FPQ_ERR_NULL;
    for (i = 0; i < NUM_PRESETS; i++) {
        if (preset_matches(&presets[i], name)) {
            preset_to_format(&presets[i], out);
            return FPQ_OK;
        }
    }
    return FPQ_ERR_NAME;
}

const char *fpq_format_preset_name(int index)
{
    return (index >= 0 && index < NUM_PRESETS) ? presets[index].name : NULL;
}

static const char *family_name(int family)
{
    static const char *const names[] = {"?", "ieee", "fn", "fnuz", "finite", "e8m0"};
    return (family >= 1 && family <= 5) ? names[family] : names[0];
}

int fpq_format_describe(const fpq_format *fmt, char *buf, size_t capacity)
{
    char tmp[64];
    size_t len;
    int i;

    if (!fmt || !buf)
        return FPQ_ERR_NULL;
    if (fpqi_params_init(fmt, NULL) != FPQ_OK)
        return FPQ_ERR_FORMAT;
    tmp[0] = '\0';
    for (i = 0; i < NUM_PRESETS; i++) {
        fpq_format f;
        preset_to_format(&presets[i], &f);
        if (memcmp(&f, fmt, sizeof f) == 0) {
            len = strlen(presets[i].name);
            memcpy(tmp, presets[i].name, len + 1);
            break;
        }
    }
    if (!tmp[0]) {
        /* Built by hand: no snprintf, to keep the core free of stdio. */
        char *p = tmp;
        int v = fmt->bias < 0 ? -fmt->bias : fmt->bias;
        char digits[8];
        int nd = 0;
        const char *fam = family_name(fmt->family);
        *p++ = 'e';
        *p++ = (char)('0' + fmt->exp_bits);
        *p++ = 'm';
        *p++ = (char)('0' + fmt->man_bits);
        *p++ = ' ';
        while (*fam)
            *p++ = *fam++;
        memcpy(p, " bias=", 6);
        p += 6;
        if (fmt->bias < 0)
            *p++ = '-';
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v && nd < 7);
        while (nd)
            *p++ = digits[--nd];
        memcpy(p, fmt->is_signed ? " signed" : " unsigned", fmt->is_signed ? 8 : 10);
    }
    len = strlen(tmp) + 1;
    if (len > capacity)
        return FPQ_ERR_CAPACITY;
    memcpy(buf, tmp, len);
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */

/* Decodes every code of the format into vals (float32 bits); returns the number of codes. */
static int decode_all(const fpqi_params *p, uint32_t *vals)
{
    int count = 1 << p->bits, c;
    for (c = 0; c < count; c++)
        vals[c] = fpqi_decode(p, (uint32_t)c);
    return count;
}

static int is_finite_bits(uint32_t u)
{
    return (u & 0x7f800000u) != 0x7f800000u;
}

/* A key that orders float32 bit patterns as their values (for non-NaN): integer compares
 * keep the value lists independent of the caller's FP environment (DAZ would call 2^-127
 * zero). */
static uint32_t order_key(uint32_t u)
{
    return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* Sorts the finite values ascending and removes duplicates (+0 / -0 count once, as +0). */
static int collect_values(const fpqi_params *p, float *out)
{
    uint32_t bits[256], sorted[256];
    int count = decode_all(p, bits), n = 0, kept = 0, i, j;

    for (i = 0; i < count; i++) {
        uint32_t u = bits[i] == 0x80000000u ? 0u : bits[i];
        if (!is_finite_bits(u))
            continue;
        for (j = n; j > 0 && order_key(sorted[j - 1]) > order_key(u); j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = u;
        n++;
    }
    for (i = 0; i < n; i++) {
        if (kept == 0 || sorted[i] != sorted[i - 1])
            out[kept++] = fpqi_u2f(sorted[i]);
    }
    return kept;
}

int fpq_format_limits_get(const fpq_format *fmt, fpq_format_limits *out)
{
    fpqi_params p;
    fpq_format_limits lim;
    float vals[256];
    uint32_t bits[256];
    int count, i, status;

    if (!fmt || !out)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, &p);
    if (status != FPQ_OK)
        return status;

    memset(&lim, 0, sizeof lim);
    lim.bits = p.bits;
    lim.num_codes = 1 << p.bits;
    lim.num_values = collect_values(&p, vals);
    lim.has_inf = p.family == FPQ_FAMILY_IEEE;
    lim.has_nan = p.family != FPQ_FAMILY_FINITE;
    count = decode_all(&p, bits);
    for (i = 0; i < count; i++) {
        if (bits[i] == 0x80000000u)
            lim.has_negative_zero = 1;
    }
    lim.max_finite = vals[lim.num_values - 1];
    for (i = 0; i < lim.num_values; i++) {
        uint32_t u = fpqi_f2u(vals[i]);
        if (u != 0 && u < 0x80000000u) {
            lim.min_positive = vals[i];
            break;
        }
    }
    if (p.family == FPQ_FAMILY_E8M0) {
        lim.min_normal = lim.min_positive;
    } else {
        if (p.exp_bits > 0)
            lim.min_normal = fpqi_u2f(fpqi_decode(&p, 1u << p.man_bits));
        if (p.man_bits > 0)
            lim.min_subnormal = fpqi_u2f(fpqi_decode(&p, 1u));
    }
    *out = lim;
    return FPQ_OK;
}

int fpq_format_bits(const fpq_format *fmt)
{
    fpqi_params p;
    int status;

    if (!fmt)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, &p);
    return status == FPQ_OK ? p.bits : status;
}

int fpq_format_values(const fpq_format *fmt, float *values, size_t capacity, size_t *count)
{
    fpqi_params p;
    float vals[256];
    int n, status;

    if (!fmt || !count)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, &p);
    if (status != FPQ_OK)
        return status;
    n = collect_values(&p, vals);
    *count = (size_t)n;
    if (!values)
        return FPQ_OK;
    if (capacity < (size_t)n)
        return FPQ_ERR_CAPACITY;
    memcpy(values, vals, (size_t)n * sizeof *vals);
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */

static float max_finite_of(const fpqi_params *p)
{
    float vals[256];
    int n = collect_values(p, vals);
    return vals[n - 1];
}

static int scale_from_maxval(const fpq_format *fmt, float maxval, float *scale)
{
    fpqi_params p;
    float s;
    int status;

    if (!fmt || !scale)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, &p);
    if (status != FPQ_OK)
        return status;
    if (!(maxval > 0.0f) || maxval > FLT_MAX)
        return FPQ_ERR_ARGUMENT;
    s = maxval / max_finite_of(&p);
    if (!fpqi_scale_is_valid(s))
        return FPQ_ERR_ARGUMENT;
    *scale = s;
    return FPQ_OK;
}

static int scale_from_bias(const fpq_format *fmt, double bias, float *scale)
{
    double s;
    int status;

    if (!fmt || !scale)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, NULL);
    if (status != FPQ_OK)
        return status;
    if (!(bias > -1e6 && bias < 1e6))
        return FPQ_ERR_ARGUMENT;
    s = exp2((double)fmt->bias - bias);
    if (!(s >= (double)FLT_MIN && s <= (double)FLT_MAX))
        return FPQ_ERR_ARGUMENT;
    if (!fpqi_scale_is_valid((float)s))
        return FPQ_ERR_ARGUMENT;
    *scale = (float)s;
    return FPQ_OK;
}

static int bias_from_scale(const fpq_format *fmt, float scale, double *bias)
{
    int status;

    if (!fmt || !bias)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, NULL);
    if (status != FPQ_OK)
        return status;
    if (!fpqi_scale_is_valid(scale))
        return FPQ_ERR_SCALE;
    *bias = (double)fmt->bias - log2((double)scale);
    return FPQ_OK;
}

/* The conversions do float and libm arithmetic: run them in the default environment too. */
int fpq_scale_from_maxval(const fpq_format *fmt, float maxval, float *scale)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, scale_from_maxval(fmt, maxval, scale));
    return status;
}

int fpq_scale_from_bias(const fpq_format *fmt, double bias, float *scale)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, scale_from_bias(fmt, bias, scale));
    return status;
}

int fpq_bias_from_scale(const fpq_format *fmt, float scale, double *bias)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, bias_from_scale(fmt, scale, bias));
    return status;
}
