/*
 * fuzz_model.h - an independent model of fpq's documented behaviour, for the fuzz harnesses
 * and the thread stress test.
 *
 * Written from include/fpq.h and docs/formats.md only, never from src/: a format's validity
 * (fpq_format_make's rules), the value of every code (the value formulas and the family
 * table), and the documented result of quantizing a quotient q = x / scale, found by a
 * brute-force search for the nearest value with the documented tie, overflow and special-value
 * rules. It calls nothing in the library, so the stress test can use it before its first fpq
 * call.
 *
 * Everything is static: include it in one translation unit per program.
 */
#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H

#include "fpq.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { FM_FINITE = 0, FM_INF = 1, FM_NAN = 2 };

#define FM_QNAN 0x7fc00000u

typedef struct fm_format {
    fpq_format desc;   /* the descriptor as given */
    int structural;    /* fields in range and allowed by the family (bias not yet looked at) */
    int doc_valid;     /* include/fpq.h says fpq_format_make accepts it */
    int lib_stricter;  /* doc_valid, but the library is known to refuse it (see fm_init) */
    int E, M, bias, family, is_signed, bits, num_codes;
    uint32_t code_bits[256];        /* float32 bits of each code's value (NaN: canonical) */
    unsigned char code_kind[256];   /* FM_FINITE, FM_INF, FM_NAN */
    float values[256];              /* distinct finite values, ascending, zero once as +0 */
    int num_values;
    double mags[256];               /* distinct finite values >= 0, ascending */
    int num_mags;
    int has_inf, has_nan, has_negzero;
    float max_finite, min_positive, min_normal, min_subnormal;
} fm_format;

/* The expected result of quantizing one quotient. */
typedef struct fm_expect {
    int kind;          /* FM_FINITE, FM_INF, FM_NAN */
    uint32_t bits;     /* float32 bits of the format value (NaN: as a NaN code decodes) */
    int sign_known;    /* for FM_NAN: 0 if the documents leave the NaN's sign open */
} fm_expect;

static inline uint32_t fm_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fm_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A valid scale (include/fpq.h): a positive, finite, normal float32. */
static inline int fm_scale_valid(float s)
{
    return s > 0.0f && s <= FLT_MAX && s >= FLT_MIN;
}

/* FPQ_BIAS_DEFAULT's meaning (include/fpq.h). Only called for 0 <= E <= 8. */
static inline int fm_default_bias(int E, int family)
{
    if (family == FPQ_FAMILY_E8M0)
        return 127;
    if (E == 0)
        return 0;
    if (family == FPQ_FAMILY_FNUZ)
        return 1 << (E - 1);
    return (1 << (E - 1)) - 1;
}

/* The field and family rules of fpq_format_make, without the bias. */
static inline int fm_structural(const fpq_format *f)
{
    int E = f->exp_bits, M = f->man_bits, s = f->is_signed, width;

    if (f->reserved[0] || f->reserved[1] || f->reserved[2])
        return 0;
    if (E < 0 || E > 8 || M < 0 || M > 7 || (s != 0 && s != 1))
        return 0;
    width = s + E + M;
    if (width > 8 || width < (s ? 2 : 1))
        return 0;
    switch (f->family) {
    case FPQ_FAMILY_IEEE: return E >= 2 && M >= 1;
    case FPQ_FAMILY_FN: return E >= 1 && E + M >= 2;
    case FPQ_FAMILY_FNUZ: return E >= 1 && s == 1;
    case FPQ_FAMILY_FINITE: return E >= 1 || M >= 1;
    case FPQ_FAMILY_E8M0: return E == 8 && M == 0 && s == 0;
    default: return 0;
    }
}

/* The value of code c by the formulas of include/fpq.h, in double (exact: < 2^9 significant
 * bits, exponents bounded by the caller). */
static inline void fm_decode_double(const fm_format *f, unsigned c, int *kind, int *neg,
                                    double *value)
{
    unsigned mag_mask, mag, e, m;

    *kind = FM_FINITE;
    *neg = 0;
    *value = 0.0;
    if (f->family == FPQ_FAMILY_E8M0) {
        if (c == 0xffu)
            *kind = FM_NAN;
        else
            *value = ldexp(1.0, (int)c - f->bias);
        return;
    }
    *neg = f->is_signed ? (int)((c >> (f->bits - 1)) & 1u) : 0;
    mag_mask = (1u << (f->E + f->M)) - 1u;
    mag = c & mag_mask;
    e = mag >> f->M;
    m = mag & ((1u << f->M) - 1u);
    if (f->family == FPQ_FAMILY_IEEE && e == (1u << f->E) - 1u) {
        *kind = m ? FM_NAN : FM_INF;
        return;
    }
    if (f->family == FPQ_FAMILY_FN && mag == mag_mask) {
        *kind = FM_NAN;
        return;
    }
    if (f->family == FPQ_FAMILY_FNUZ && *neg && mag == 0) {
        *kind = FM_NAN;
        return;
    }
    if (f->E == 0)
        *value = ldexp((double)m, -f->bias);
    else if (e == 0)
        *value = ldexp((double)m, 1 - f->bias - f->M);
    else
        *value = ldexp((double)((1u << f->M) + m), (int)e - f->bias - f->M);
}

/*
 * Builds the model of a descriptor. doc_valid follows include/fpq.h: the field and family
 * rules, then "every value exactly representable as a float32, the smallest normal (for E = 0:
 * the first power of two past the grid, 2^(M - bias)) at or above 2^-127, and the smallest
 * positive value at most 2^104". (The last two rules were written into the header after this
 * harness found the library refusing such formats; lib_stricter is kept, always 0.)
 */
static inline void fm_init(fm_format *f, const fpq_format *desc)
{
    int c, i, j, n = 0;
    double smallest = 0.0, largest = 0.0;
    int ok;

    memset(f, 0, sizeof *f);
    f->desc = *desc;
    f->E = desc->exp_bits;
    f->M = desc->man_bits;
    f->bias = desc->bias;
    f->family = desc->family;
    f->is_signed = desc->is_signed;
    f->structural = fm_structural(desc);
    if (!f->structural)
        return;
    f->bits = f->is_signed + f->E + f->M;
    f->num_codes = 1 << f->bits;
    /* Any bias beyond +-2000 puts a value outside float32 for every split; refusing early
     * keeps the exponent arithmetic below far from int overflow. */
    if (f->bias < -2000 || f->bias > 2000)
        return;

    ok = 1;
    for (c = 0; c < f->num_codes; c++) {
        int kind, neg;
        double v;
        fm_decode_double(f, (unsigned)c, &kind, &neg, &v);
        f->code_kind[c] = (unsigned char)kind;
        if (kind == FM_NAN) {
            f->has_nan = 1;
            f->code_bits[c] = f->family == FPQ_FAMILY_FNUZ ? 0xffc00000u
                                                           : (FM_QNAN | (neg ? 0x80000000u : 0u));
            continue;
        }
        if (kind == FM_INF) {
            f->has_inf = 1;
            f->code_bits[c] = neg ? 0xff800000u : 0x7f800000u;
            continue;
        }
        if (v == 0.0) {
            if (neg)
                f->has_negzero = 1;
            f->code_bits[c] = neg ? 0x80000000u : 0u;
        } else {
            if (smallest == 0.0 || v < smallest)
                smallest = v;
            if (v > largest)
                largest = v;
            if (v > (double)FLT_MAX) {
                ok = 0;
                continue;
            }
            if ((double)(float)v != v)
                ok = 0; /* not exactly a float32 (below 2^-149 or too many bits) */
            f->code_bits[c] = fm_f2u(neg ? -(float)v : (float)v);
        }
        /* magnitude list, sorted insert, distinct */
        for (i = 0; i < f->num_mags && f->mags[i] < v; i++)
            ;
        if (i < f->num_mags && f->mags[i] == v)
            continue;
        for (j = f->num_mags; j > i; j--)
            f->mags[j] = f->mags[j - 1];
        f->mags[i] = v;
        f->num_mags++;
    }
    if (f->num_mags == 0 || smallest == 0.0)
        ok = 0;
    if (ok && smallest < ldexp(1.0, -149))
        ok = 0;
    if (ok && largest > (double)FLT_MAX)
        ok = 0;
    /* The smallest normal: code e = 1, m = 0 where E >= 1; E8M0's codes are all normal. */
    if (ok && f->family == FPQ_FAMILY_E8M0 && ldexp(1.0, -f->bias) < ldexp(1.0, -127))
        ok = 0;
    if (ok && f->family != FPQ_FAMILY_E8M0 && f->E >= 1 && 1 - f->bias < -127)
        ok = 0;
    f->doc_valid = ok;
    if (!ok)
        return;

    {
        int qexp = (f->E == 0 || f->family == FPQ_FAMILY_E8M0) ? -f->bias : 1 - f->bias - f->M;
        if ((f->E == 0 && f->M - f->bias < -127) || qexp > 104) {
            f->doc_valid = 0;
            return;
        }
        f->lib_stricter = 0;
    }

    /* values: negatives (descending magnitude), zero once, positives */
    if (f->is_signed && f->family != FPQ_FAMILY_E8M0) {
        for (i = f->num_mags - 1; i >= 0; i--)
            if (f->mags[i] != 0.0)
                f->values[n++] = -(float)f->mags[i];
    }
    for (i = 0; i < f->num_mags; i++)
        f->values[n++] = (float)f->mags[i];
    f->num_values = n;
    f->max_finite = (float)f->mags[f->num_mags - 1];
    f->min_positive = (float)smallest;
    if (f->family == FPQ_FAMILY_E8M0) {
        f->min_normal = f->min_positive;
        f->min_subnormal = 0.0f;
    } else {
        f->min_normal = f->E >= 1 ? (float)ldexp(1.0, 1 - f->bias) : 0.0f;
        if (f->M == 0)
            f->min_subnormal = 0.0f;
        else if (f->E == 0)
            f->min_subnormal = (float)ldexp(1.0, -f->bias);
        else
            f->min_subnormal = (float)ldexp(1.0, 1 - f->bias - f->M);
    }
}

/* Validity as the library is expected to report it. */
static inline int fm_lib_valid(const fm_format *f)
{
    return f->doc_valid;
}

/*
 * Known library defects that the harnesses must step around: none. (D1, an int overflow in
 * format validation for huge exp_bits, was fixed; its input stays in the seed corpus,
 * corpus/fuzz_format/defect-d1-width-overflow, and is replayed by every CI run.)
 */
static inline int fm_known_defect(const fpq_format *f)
{
    (void)f;
    return 0;
}

static inline fm_expect fm_finite(uint32_t bits)
{
    fm_expect r;
    r.kind = FM_FINITE;
    r.bits = bits;
    r.sign_known = 1;
    return r;
}

static inline fm_expect fm_nan(uint32_t bits, int sign_known)
{
    fm_expect r;
    r.kind = FM_NAN;
    r.bits = bits;
    r.sign_known = sign_known;
    return r;
}

static inline uint32_t fm_signed_bits(double v, int neg)
{
    float f = (float)v;
    return fm_f2u(neg ? -f : f);
}

/* Overflow and infinities (include/fpq.h "Special inputs"). */
static inline fm_expect fm_overflow(const fm_format *f, int neg, unsigned flags)
{
    fm_expect r;
    neg = neg && f->is_signed;
    if (!(flags & FPQ_NO_SATURATE) || f->family == FPQ_FAMILY_FINITE)
        return fm_finite(fm_signed_bits(f->mags[f->num_mags - 1], neg));
    switch (f->family) {
    case FPQ_FAMILY_IEEE:
        r.kind = FM_INF;
        r.bits = neg ? 0xff800000u : 0x7f800000u;
        r.sign_known = 1;
        return r;
    case FPQ_FAMILY_FN:
        /* "NaN": the documents do not say which sign the FN overflow NaN has. */
        return fm_nan(FM_QNAN, !f->is_signed);
    case FPQ_FAMILY_FNUZ:
        return fm_nan(0xffc00000u, 1);
    default: /* E8M0 */
        return fm_nan(FM_QNAN, 1);
    }
}

/* Between neighbours a < b at the same distance: the one that is an even multiple of b - a. */
static inline double fm_break_tie(double a, double b)
{
    double k = a / (b - a);
    return fmod(k, 2.0) == 0.0 ? a : b;
}

/* The nearest of a < b to m (a <= m <= b); 2m and a + b are exact in double. */
static inline double fm_nearest(double m, double a, double b)
{
    double twice = 2.0 * m, sum = a + b;
    if (twice < sum)
        return a;
    if (twice > sum)
        return b;
    return fm_break_tie(a, b);
}

/*
 * The documented result of rounding the float32 quotient q (x / scale, already divided).
 */
static inline fm_expect fm_round(const fm_format *f, float q, unsigned flags)
{
    uint32_t u = fm_f2u(q), a = u & 0x7fffffffu;
    int neg = (int)(u >> 31), nosat = (flags & FPQ_NO_SATURATE) != 0;
    double m, max = f->mags[f->num_mags - 1], v;

    if (a > 0x7f800000u) { /* NaN */
        switch (f->family) {
        case FPQ_FAMILY_FINITE:
            return fm_finite(f->is_signed && !neg ? 0x80000000u : 0u);
        case FPQ_FAMILY_FNUZ:
            return fm_nan(0xffc00000u, 1);
        case FPQ_FAMILY_E8M0:
            return fm_nan(FM_QNAN, 1);
        default: /* IEEE, FN: sign kept */
            return fm_nan(FM_QNAN | (f->is_signed && neg ? 0x80000000u : 0u), 1);
        }
    }
    if (!f->is_signed && neg && a != 0) { /* negative into an unsigned format */
        if (nosat && f->has_nan)
            return fm_nan(FM_QNAN, 1);
        return fm_finite(fm_f2u((float)f->mags[0])); /* the nearest value */
    }
    if (f->family == FPQ_FAMILY_E8M0 && a == 0)
        return nosat ? fm_nan(FM_QNAN, 1) : fm_finite(fm_f2u((float)f->mags[0]));
    if (a == 0x7f800000u)
        return fm_overflow(f, neg, flags);

    m = fabs((double)q);
    if (m > max) {
        if (nosat) {
            /* "|q| rounds past max_finite": to the value the format would have next if its
             * top binade went on, max + its quantum. */
            double quantum;
            int ex;
            if (f->E == 0) {
                quantum = ldexp(1.0, -f->bias);
            } else {
                (void)frexp(max, &ex);
                quantum = ldexp(1.0, ex - 1 - f->M);
            }
            if (fm_nearest(m, max, max + quantum) != max)
                return fm_overflow(f, neg, flags);
        }
        v = max;
    } else if (m <= f->mags[0]) {
        v = f->mags[0];
    } else {
        int hi = 1;
        while (f->mags[hi] < m)
            hi++;
        v = fm_nearest(m, f->mags[hi - 1], f->mags[hi]);
    }
    if (v == 0.0)
        return fm_finite(neg && f->has_negzero ? 0x80000000u : 0u);
    return fm_finite(fm_signed_bits(v, neg && f->is_signed));
}

/* The float32 a kernel must give for an expected format value at this scale: value * scale
 * in one float32 multiplication; NaN codes give the quiet NaN with the code's sign. */
static inline uint32_t fm_scaled_bits(fm_expect e, float scale)
{
    volatile float v, s = scale;
    if (e.kind == FM_NAN)
        return e.bits;
    v = fm_u2f(e.bits);
    v = v * s;
    return fm_f2u(v);
}

/* 1 if the float32 bits `got` are what a kernel must output for expectation e at `scale`. */
static inline int fm_output_ok(fm_expect e, float scale, uint32_t got)
{
    if (e.kind == FM_NAN) {
        if (e.sign_known)
            return got == e.bits;
        return (got & 0x7fffffffu) == FM_QNAN;
    }
    return got == fm_scaled_bits(e, scale);
}

/* 1 if code c (already masked to the width) is a code the documents allow for e. */
static inline int fm_code_ok(const fm_format *f, fm_expect e, unsigned c)
{
    if (e.kind == FM_NAN) {
        if (f->code_kind[c] != FM_NAN)
            return 0;
        if (e.sign_known && f->code_bits[c] != e.bits)
            return 0;
        /* IEEE: "quiet": the top mantissa bit set. */
        if (f->family == FPQ_FAMILY_IEEE && !((c >> (f->M - 1)) & 1u))
            return 0;
        return 1;
    }
    return f->code_kind[c] == e.kind && f->code_bits[c] == e.bits;
}

/* The quotient the documents define: x / scale, one IEEE float32 division. */
static inline float fm_divide(float x, float scale)
{
    volatile float a = x, b = scale;
    return a / b;
}

/* Code i of a packed little-endian stream of w-bit codes (docs/formats.md "Packed layout"). */
static inline unsigned fm_stream_code(const uint8_t *bytes, size_t i, int w)
{
    size_t bit = i * (size_t)w;
    unsigned c = 0;
    int k;
    for (k = 0; k < w; k++, bit++)
        c |= (unsigned)((bytes[bit / 8] >> (bit % 8)) & 1u) << k;
    return c;
}

/* Bytes of n codes: ceil(n * w / 8) packed, n unpacked (n <= SIZE_MAX / 4). */
static inline size_t fm_code_bytes(size_t n, int w, unsigned flags)
{
    if (flags & FPQ_UNPACKED)
        return n;
    return (n / 8) * (size_t)w + ((n % 8) * (size_t)w + 7) / 8;
}

#endif /* FUZZ_MODEL_H */
