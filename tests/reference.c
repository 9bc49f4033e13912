/*
 * reference.c - see reference.h.
 */
#include "reference.h"

#include <math.h>
#include <string.h>

static ref_result decode_code(const fpq_format *f, int bits, unsigned c)
{
    ref_result r;
    int E = f->exp_bits, M = f->man_bits;
    unsigned mag_mask = (1u << (E + M)) - 1u;
    unsigned mag = c & mag_mask, e = mag >> M, m = mag & ((1u << M) - 1u);
    int neg = f->is_signed ? (int)((c >> (bits - 1)) & 1u) : 0;

    memset(&r, 0, sizeof r);
    r.negative = neg;
    if (f->family == FPQ_FAMILY_E8M0) {
        r.negative = 0;
        if (c == 255u) {
            r.kind = REF_NAN;
            return r;
        }
        r.value = ldexp(1.0, (int)c - f->bias);
        return r;
    }
    if (f->family == FPQ_FAMILY_IEEE && e == (1u << E) - 1u) {
        r.kind = m ? REF_NAN : REF_INF;
        r.value = neg ? -INFINITY : INFINITY;
        return r;
    }
    if (f->family == FPQ_FAMILY_FN && mag == mag_mask) {
        r.kind = REF_NAN;
        return r;
    }
    if (f->family == FPQ_FAMILY_FNUZ && neg && mag == 0) {
        r.kind = REF_NAN;
        return r;
    }
    if (E == 0)
        r.value = ldexp((double)m, -f->bias);
    else if (e == 0)
        r.value = ldexp((double)m / (double)(1u << M), 1 - f->bias);
    else
        r.value = ldexp(1.0 + (double)m / (double)(1u << M), (int)e - f->bias);
    if (neg)
        r.value = -r.value;
    return r;
}

void ref_init(ref_format *r, const fpq_format *fmt)
{
    int c, i, j;

    memset(r, 0, sizeof *r);
    r->fmt = *fmt;
    r->bits = fmt->is_signed + fmt->exp_bits + fmt->man_bits;
    r->num_codes = 1 << r->bits;
    for (c = 0; c < r->num_codes; c++) {
        ref_result v = decode_code(fmt, r->bits, (unsigned)c);
        double a;
        r->code[c] = v;
        if (v.kind != REF_FINITE)
            continue;
        if (v.value == 0.0 && v.negative)
            r->has_neg_zero = 1;
        a = fabs(v.value);
        for (i = 0; i < r->num_mag && r->mag[i] < a; i++)
            ;
        if (i < r->num_mag && r->mag[i] == a)
            continue;
        for (j = r->num_mag; j > i; j--)
            r->mag[j] = r->mag[j - 1];
        r->mag[i] = a;
        r->num_mag++;
    }
}

/* Between neighbours a < b at the same distance: the one that is an even multiple of b - a.
 * (b - a is the quantum of a's binade, so this is "ties to the even significand"; for M = 0
 * formats it picks the larger power of two, for a = 0 it picks zero.) */
static double break_tie(double a, double b)
{
    double k = a / (b - a);
    return fmod(k, 2.0) == 0.0 ? a : b;
}

static double nearest_of(double m, double a, double b)
{
    double da = m - a, db = b - m;
    if (da < db)
        return a;
    if (db < da)
        return b;
    return break_tie(a, b);
}

static ref_result overflow_result(const ref_format *r, int neg, unsigned flags)
{
    ref_result out;
    double max = r->mag[r->num_mag - 1];

    memset(&out, 0, sizeof out);
    out.negative = neg;
    if (!(flags & FPQ_NO_SATURATE) || r->fmt.family == FPQ_FAMILY_FINITE) {
        out.value = neg ? -max : max;
        if (!r->fmt.is_signed) {
            out.value = max;
            out.negative = 0;
        }
        return out;
    }
    if (r->fmt.family == FPQ_FAMILY_IEEE) {
        out.kind = REF_INF;
        out.value = neg ? -INFINITY : INFINITY;
    } else {
        out.kind = REF_NAN;
    }
    return out;
}

/* The quantum of the binade holding the largest value: the gap to the next value the format
 * would have if its exponent range went on. */
static double quantum_of_max(const ref_format *r)
{
    double max = r->mag[r->num_mag - 1];
    int ex;
    if (r->fmt.exp_bits == 0)
        return ldexp(1.0, -r->fmt.bias);
    frexp(max, &ex); /* max = f * 2^ex, f in [0.5, 1) */
    return ldexp(1.0, ex - 1 - r->fmt.man_bits);
}

ref_result ref_round(const ref_format *r, float qf, unsigned flags)
{
    ref_result out;
    double q = (double)qf, m = fabs(q), max = r->mag[r->num_mag - 1], v;
    int neg = signbit(qf) ? 1 : 0, has_nan = r->fmt.family != FPQ_FAMILY_FINITE;
    int lo, hi;

    memset(&out, 0, sizeof out);
    if (isnan(qf)) {
        if (!has_nan) { /* zero of the opposite sign, as ml_dtypes */
            out.negative = r->fmt.is_signed ? !neg : 0;
            return out;
        }
        out.kind = REF_NAN;
        return out;
    }
    if (!r->fmt.is_signed && neg && m != 0.0) {
        if ((flags & FPQ_NO_SATURATE) && has_nan) {
            out.kind = REF_NAN;
            return out;
        }
        out.value = r->mag[0];
        return out;
    }
    if (r->fmt.family == FPQ_FAMILY_E8M0 && m == 0.0) {
        if (flags & FPQ_NO_SATURATE)
            out.kind = REF_NAN;
        else
            out.value = r->mag[0];
        return out;
    }
    if (isinf(qf))
        return overflow_result(r, neg, flags);
    if (m > max) {
        if (flags & FPQ_NO_SATURATE) {
            double next = max + quantum_of_max(r);
            if (nearest_of(m, max, next) == next)
                return overflow_result(r, neg, flags);
        }
        v = max;
    } else if (m <= r->mag[0]) {
        v = r->mag[0];
    } else {
        lo = 0;
        hi = r->num_mag - 1;
        while (hi - lo > 1) { /* invariant: mag[lo] < m <= mag[hi] */
            int mid = (lo + hi) / 2;
            if (r->mag[mid] < m)
                lo = mid;
            else
                hi = mid;
        }
        v = nearest_of(m, r->mag[lo], r->mag[hi]);
    }
    out.value = neg ? -v : v;
    out.negative = neg && (v != 0.0 || r->has_neg_zero);
    if (v == 0.0 && !out.negative)
        out.value = 0.0;
    return out;
}

int ref_matches(const ref_result *want, float got)
{
    if (want->kind == REF_NAN)
        return isnan(got);
    if (isnan(got))
        return 0;
    if ((double)got != want->value)
        return 0;
    return (signbit(got) ? 1 : 0) == want->negative;
}

int ref_for_each_format(void (*fn)(const fpq_format *fmt, const char *what))
{
    static const int families[] = {FPQ_FAMILY_IEEE, FPQ_FAMILY_FN, FPQ_FAMILY_FNUZ,
                                   FPQ_FAMILY_FINITE, FPQ_FAMILY_E8M0};
    static const int bias_offsets[] = {0, 3, -5};
    int count = 0, e, m, fi, sgn, b;

    for (fi = 0; fi < 5; fi++)
        for (sgn = 0; sgn <= 1; sgn++)
            for (e = 0; e <= 8; e++)
                for (m = 0; m <= 7; m++)
                    for (b = 0; b < 3; b++) {
                        fpq_format f;
                        char what[64];
                        if (fpq_format_make(e, m, FPQ_BIAS_DEFAULT, families[fi], sgn, &f))
                            continue;
                        if (fpq_format_make(e, m, f.bias + bias_offsets[b], families[fi], sgn,
                                            &f))
                            continue;
                        if (fpq_format_describe(&f, what, sizeof what))
                            continue;
                        fn(&f, what);
                        count++;
                    }
    return count;
}
