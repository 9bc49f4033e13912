/*
 * reference.h - an independent model of fpq's formats for the tests, in double precision,
 * written from the formulas in fpq.h and not from the library's code: decoding by the
 * value formulas, and rounding by brute-force search for the nearest value.
 */
#ifndef FPQ_TEST_REFERENCE_H
#define FPQ_TEST_REFERENCE_H

#include "fpq.h"

enum { REF_FINITE = 0, REF_INF = 1, REF_NAN = 2 };

typedef struct ref_result {
    int kind;      /* REF_FINITE, REF_INF, REF_NAN */
    double value;  /* for REF_FINITE and REF_INF (+-inf) */
    int negative;  /* sign, also for zeros */
} ref_result;

typedef struct ref_format {
    fpq_format fmt;
    int bits, num_codes;
    ref_result code[256];    /* the value of every code */
    double mag[256];         /* distinct finite magnitudes, ascending */
    int num_mag;
    int has_neg_zero;
} ref_format;

void ref_init(ref_format *r, const fpq_format *fmt);

/* The documented result of quantizing the (already divided) float32 q, as a value. */
ref_result ref_round(const ref_format *r, float q, unsigned flags);

/* 1 if a float32 equals the reference result exactly (NaN matches any NaN; zeros by sign). */
int ref_matches(const ref_result *want, float got);

/* Calls fn for every split fpq_format_make accepts (every family, sign, E and M), at the
 * family's default bias, 3 above and 5 below it where valid; returns how many. */
int ref_for_each_format(void (*fn)(const fpq_format *fmt, const char *what));

#endif
