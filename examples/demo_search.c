/*
 * demo_search.c - the FP-PTQ baseline of LLM-FP4: search the clipping range (and the format)
 * instead of scaling by the absolute maximum.
 *
 * For the demo's synthetic W (heavy-tailed; one scale per output row) and X (outlier
 * channels; one scale for the tensor), per 4-bit format: the error of max-based scales next to
 * the scales fpq_search_tensor finds (L2 objective, 100 clipping ratios 0.1 .. 1.0), then the
 * format the search picks among all of them.
 */
#include "fpq.h"
#include "demo.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_FORMATS 4
static const char *const search_format_names[SEARCH_FORMATS] = {"e0m3", "e3m0", "e2m1",
                                                                 "e1m2"};

typedef struct search_error {
    double mse, sqnr_db;
} search_error;

/* MSE and SQNR of x fake-quantized with the given float32 scales. */
static search_error search_demo_error(const fpq_format *f, const fpq_tensor *t, const float *x,
                                      float *scales, float *y)
{
    fpq_scales s;
    search_error e;
    double num = 0.0, den = 0.0;
    size_t i, n = t->rows * t->cols;

    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.encoding = FPQ_SCALE_FLOAT32;
    s.data = scales;
    s.count = fpq_tensor_num_scales(t);
    check(fpq_tensor_fake_quantize(f, t, x, &s, 0, y), "fpq_tensor_fake_quantize");
    for (i = 0; i < n; i++) {
        double d = (double)x[i] - y[i];
        num += d * d;
        den += (double)x[i] * x[i];
    }
    e.mse = num / (double)n;
    e.sqnr_db = 10.0 * log10(den / num);
    return e;
}

/* Max-based scales (clip ratio 1) in `scales`. */
static void search_demo_max_scales(const fpq_format *f, const fpq_tensor *t, const float *x,
                                   float *scales)
{
    fpq_scales s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.encoding = FPQ_SCALE_FLOAT32;
    s.data = scales;
    s.count = fpq_tensor_num_scales(t);
    check(fpq_tensor_compute_scales(f, t, x, 1.0f, &s), "fpq_tensor_compute_scales");
}

/* Searched scales in `scales`; returns the chosen format's index. */
static int search_demo_search(const fpq_format *fmts, size_t nf, const fpq_tensor *t,
                              const float *x, float *scales)
{
    fpq_search_result r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.num_groups = fpq_tensor_num_scales(t);
    r.scales = scales;
    check(fpq_search_tensor(fmts, nf, NULL, t, x, NULL, NULL, &r), "fpq_search_tensor");
    return r.format_index;
}

static void search_demo_tensor_rows(const char *name, const fpq_format *fmts,
                                    const fpq_tensor *t, const float *x, float *scales,
                                    float *y)
{
    int f, pick;
    for (f = 0; f < SEARCH_FORMATS; f++) {
        search_error a, b;
        search_demo_max_scales(&fmts[f], t, x, scales);
        a = search_demo_error(&fmts[f], t, x, scales, y);
        search_demo_search(&fmts[f], 1, t, x, scales);
        b = search_demo_error(&fmts[f], t, x, scales, y);
        printf("%-3s %-5s | %10.3e %6.2f dB | %10.3e %6.2f dB | %+6.2f dB\n", name,
               search_format_names[f], a.mse, a.sqnr_db, b.mse, b.sqnr_db,
               b.sqnr_db - a.sqnr_db);
    }
    pick = search_demo_search(fmts, SEARCH_FORMATS, t, x, scales);
    printf("%-3s search over all four picks %s\n", name, search_format_names[pick]);
}

void demo_search(void)
{
    fpq_format fmts[SEARCH_FORMATS];
    fpq_tensor tw = demo_tensor(W_ROWS, W_COLS, FPQ_PER_ROW);
    fpq_tensor tx = demo_tensor(X_TOKENS, X_CHANNELS, FPQ_PER_TENSOR);
    float *y = (float *)malloc(sizeof(float) * W_ROWS * W_COLS);
    float *scales = (float *)malloc(sizeof(float) * W_ROWS);
    int f;

    if (!y || !scales) {
        fprintf(stderr, "demo: out of memory\n");
        exit(1);
    }
    for (f = 0; f < SEARCH_FORMATS; f++)
        check(fpq_format_from_name(search_format_names[f], &fmts[f]), "fpq_format_from_name");
    printf("\n== Parameter search (fpq_search_tensor; docs/search.md) ==\n");
    printf("Max-based scales (absmax -> largest value) against searched clipping ranges (L2, "
           "100 ratios\n0.1 .. 1.0 of absmax); W per output row, X one scale for the tensor.\n");
    printf("          | max-based clipping   | searched clipping    | gain\n");
    printf("          | MSE         SQNR     | MSE         SQNR     |\n");
    search_demo_tensor_rows("W", fmts, &tw, W, scales, y);
    search_demo_tensor_rows("X", fmts, &tx, X, scales, y);
    printf("The search never loses to max scaling (ratio 1 is a candidate) and names the split "
           "that suits\neach tensor: the paper's FP-PTQ baseline. e1m2 equals e0m3 here: one "
           "exponent bit with the\ndefault bias gives the uniform grid 0, 0.5 .. 3.5, INT4 "
           "at half the scale.\n");
    free(y);
    free(scales);
}
