/*
 * bench_search.c - the tensor-level search (fpq_search_*) against brute force.
 *
 * Two cases of issue 5, each with 100 clip-ratio candidates x 3 formats (e3m0, e2m1, e1m2),
 * objective L2:
 *   - a 4096 x 4096 weight (heavy-tailed), one scale per row;
 *   - a 16 Mi-element activation (normal, a few outlier channels), one scale for the tensor.
 * "fpq" is fpq_search_tensor, the one-shot search in place; "fpq object" is the streaming
 * object's whole life on the same tensor as one batch: create, add (which copies the data:
 * on a VM, the page faults of fresh memory cost as much as the search), solve, destroy.
 * "brute force" fake-quantizes with fpq_fake_quantize at every candidate and sums the squared
 * error (chunks of 16 Ki elements so that the data stays in cache; four partial sums). It
 * would take minutes at full size, so it runs on a subset (BRUTE_ROWS rows, BRUTE_ELEMS
 * elements) and is scaled linearly to the full size; the output says so. The brute force's
 * choices on the subset are checked against fpq's on the same subset.
 * Single thread first (fpq_set_num_threads(1)), then per-row with 2 threads. Every time is
 * the median of RUNS runs (a shared VM varies by 2x from run to run).
 * Memory: about 200 MB.
 */
#define _POSIX_C_SOURCE 199309L

#include "fpq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define W_ROWS 4096
#define W_COLS 4096
#define X_ELEMS ((size_t)16 * 1024 * 1024)
#define X_CHANNELS 4096
#define BRUTE_ROWS 64
#define BRUTE_ELEMS ((size_t)1024 * 1024)
#define CANDIDATES 100
#define NUM_FORMATS 3
#define CHUNK 16384
#define RUNS 3

static const char *const format_names[NUM_FORMATS] = {"e3m0", "e2m1", "e1m2"};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

static uint64_t rng = 0x5eed5eedu;

static double uniform01(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return ((double)((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static void check(int status, const char *what)
{
    if (status != FPQ_OK) {
        fprintf(stderr, "bench_search: %s: %s\n", what, fpq_status_string(status));
        exit(1);
    }
}

/* fpq's search over a rows x cols float32 tensor (in place, or through the object); the
 * chosen scales go to `scales`. */
static double run_fpq(const fpq_format *fmts, const float *x, size_t rows, size_t cols,
                      int granularity, float *scales, int *format, int object)
{
    fpq_search_options o;
    fpq_search *s;
    fpq_search_result r;
    fpq_tensor t;
    double t0 = now();

    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = rows;
    t.cols = cols;
    t.row_stride = cols;
    t.elem_type = FPQ_FLOAT32;
    t.granularity = granularity;
    check(fpq_search_options_init(FPQ_GRID_CLIP, &o), "options");
    o.num_candidates = CANDIDATES;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.num_groups = granularity == FPQ_PER_ROW ? rows : 1;
    r.scales = scales;
    if (object) {
        check(fpq_search_create(fmts, NUM_FORMATS, &o, NULL, &s), "create");
        check(fpq_search_add(s, &t, x, NULL), "add");
        check(fpq_search_solve(s, &r), "solve");
        fpq_search_destroy(s);
    } else {
        check(fpq_search_tensor(fmts, NUM_FORMATS, &o, &t, x, NULL, NULL, &r), "search");
    }
    *format = r.format_index;
    return now() - t0;
}

/* Sum of squared errors of x[0..n) fake-quantized at `scale`, chunk by chunk. */
static double brute_error(const fpq_format *f, const float *x, size_t n, float scale, float *q)
{
    double acc[4] = {0, 0, 0, 0};
    size_t off, i;
    for (off = 0; off < n; off += CHUNK) {
        size_t len = n - off < CHUNK ? n - off : CHUNK;
        check(fpq_fake_quantize(f, x + off, len, scale, 0, q), "fake_quantize");
        for (i = 0; i + 4 <= len; i += 4) {
            double d0 = (double)x[off + i] - q[i], d1 = (double)x[off + i + 1] - q[i + 1];
            double d2 = (double)x[off + i + 2] - q[i + 2], d3 = (double)x[off + i + 3] - q[i + 3];
            acc[0] += d0 * d0;
            acc[1] += d1 * d1;
            acc[2] += d2 * d2;
            acc[3] += d3 * d3;
        }
        for (; i < len; i++)
            acc[0] += ((double)x[off + i] - q[i]) * ((double)x[off + i] - q[i]);
    }
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

/* Brute force over one group: every format, every candidate of the clip grid (0.1 .. 1.0).
 * Returns the best scale per format in best[]. */
static void brute_group(const fpq_format *fmts, const float *x, size_t n, float *q,
                        float best_scale[NUM_FORMATS], double best_err[NUM_FORMATS])
{
    float amax = 0.0f;
    size_t i;
    int f, c;
    for (i = 0; i < n; i++)
        amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    for (f = 0; f < NUM_FORMATS; f++) {
        fpq_format_limits lim;
        fpq_format_limits_get(&fmts[f], &lim);
        best_err[f] = INFINITY;
        for (c = 0; c < CANDIDATES; c++) {
            double ratio = 0.1 + c * 0.9 / (CANDIDATES - 1);
            float scale = (float)((double)amax * ratio / lim.max_finite);
            double e = brute_error(&fmts[f], x, n, scale, q);
            if (e < best_err[f]) {
                best_err[f] = e;
                best_scale[f] = scale;
            }
        }
    }
}

static void bench_weight(const fpq_format *fmts, const float *w, float *q, float *scales)
{
    double t_fast1, t_fast2, t_obj, t_brute, t0;
    float best_scale[NUM_FORMATS], sub_scales[BRUTE_ROWS];
    double best_err[NUM_FORMATS], totals[NUM_FORMATS] = {0, 0, 0};
    float (*brute_scales)[NUM_FORMATS] =
        (float (*)[NUM_FORMATS])malloc(sizeof(float) * NUM_FORMATS * BRUTE_ROWS);
    int format, sub_format, r, f, agree = 0;

    double tb[RUNS];
    int run;

    check(fpq_set_num_threads(1), "threads");
    t_fast1 = median3(run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0),
                      run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0),
                      run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0));
    t_obj = median3(run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 1),
                    run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 1),
                    run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 1));
    run_fpq(fmts, w, BRUTE_ROWS, W_COLS, FPQ_PER_ROW, sub_scales, &sub_format, 0);
    for (run = 0; run < RUNS; run++) {
        t0 = now();
        for (r = 0; r < BRUTE_ROWS; r++) {
            brute_group(fmts, w + (size_t)r * W_COLS, W_COLS, q, best_scale, best_err);
            for (f = 0; f < NUM_FORMATS && run == 0; f++) {
                totals[f] += best_err[f];
                brute_scales[r][f] = best_scale[f];
            }
        }
        tb[run] = (now() - t0) * (double)W_ROWS / BRUTE_ROWS;
    }
    t_brute = median3(tb[0], tb[1], tb[2]);
    f = totals[1] < totals[0] ? 1 : 0;
    f = totals[2] < totals[f] ? 2 : f;
    for (r = 0; r < BRUTE_ROWS; r++)
        agree += brute_scales[r][sub_format] == sub_scales[r];
    check(fpq_set_num_threads(2), "threads");
    t_fast2 = median3(run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0),
                      run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0),
                      run_fpq(fmts, w, W_ROWS, W_COLS, FPQ_PER_ROW, scales, &format, 0));

    printf("weight %d x %d, per row, %d candidates x %d formats (L2):\n", W_ROWS, W_COLS,
           CANDIDATES, NUM_FORMATS);
    printf("  brute force  %8.3f s  (measured on %d rows: %.3f s, scaled x%d)\n", t_brute,
           BRUTE_ROWS, t_brute * BRUTE_ROWS / W_ROWS, W_ROWS / BRUTE_ROWS);
    printf("  fpq 1 thread %8.3f s  %6.1fx faster (target >= 10x)\n", t_fast1,
           t_brute / t_fast1);
    printf("  fpq 2 threads%8.3f s  (target < 1 s)\n", t_fast2);
    printf("  fpq object   %8.3f s  %6.1fx (1 thread, copying the data in)\n", t_obj,
           t_brute / t_obj);
    printf("  chosen format %s; on the %d-row subset brute force picks %s, and %d of %d row "
           "scales agree\n",
           format_names[format], BRUTE_ROWS, format_names[f], agree, BRUTE_ROWS);
    free(brute_scales);
}

static void bench_activation(const fpq_format *fmts, const float *x, float *q)
{
    double t_fast, t_obj, t_brute, t0, best_err[NUM_FORMATS];
    float scale, sub_scale, best_scale[NUM_FORMATS];
    int format, sub_format, f, best_f = 0;

    double tb[RUNS];
    int run;

    check(fpq_set_num_threads(1), "threads");
    t_fast = median3(run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 0),
                     run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 0),
                     run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 0));
    t_obj = median3(run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 1),
                    run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 1),
                    run_fpq(fmts, x, 1, X_ELEMS, FPQ_PER_TENSOR, &scale, &format, 1));
    run_fpq(fmts, x, 1, BRUTE_ELEMS, FPQ_PER_TENSOR, &sub_scale, &sub_format, 0);
    for (run = 0; run < RUNS; run++) {
        t0 = now();
        brute_group(fmts, x, BRUTE_ELEMS, q, best_scale, best_err);
        tb[run] = (now() - t0) * (double)(X_ELEMS / BRUTE_ELEMS);
    }
    t_brute = median3(tb[0], tb[1], tb[2]);
    for (f = 1; f < NUM_FORMATS; f++)
        best_f = best_err[f] < best_err[best_f] ? f : best_f;

    printf("activation %zu Mi elements, per tensor, %d candidates x %d formats (L2):\n",
           X_ELEMS >> 20, CANDIDATES, NUM_FORMATS);
    printf("  brute force  %8.3f s  (measured on %zu Mi elements: %.3f s, scaled x%zu)\n",
           t_brute, BRUTE_ELEMS >> 20, t_brute / (double)(X_ELEMS / BRUTE_ELEMS),
           X_ELEMS / BRUTE_ELEMS);
    printf("  fpq 1 thread %8.3f s  %6.1fx faster (target >= 50x)\n", t_fast, t_brute / t_fast);
    printf("  fpq object   %8.3f s  %6.1fx (1 thread, copying the data in)\n", t_obj,
           t_brute / t_obj);
    printf("  chosen format %s; on the subset: fpq %s scale %.6g, brute force %s scale %.6g\n",
           format_names[format], format_names[sub_format], sub_scale, format_names[best_f],
           best_scale[best_f]);
}

int main(void)
{
    fpq_format fmts[NUM_FORMATS];
    float *w = (float *)malloc(sizeof(float) * W_ROWS * W_COLS);
    float *x = (float *)malloc(sizeof(float) * X_ELEMS);
    float *q = (float *)malloc(sizeof(float) * CHUNK);
    float *scales = (float *)malloc(sizeof(float) * W_ROWS);
    size_t i;
    int f;

    if (!w || !x || !q || !scales) {
        fprintf(stderr, "bench_search: out of memory\n");
        return 1;
    }
    for (f = 0; f < NUM_FORMATS; f++)
        check(fpq_format_from_name(format_names[f], &fmts[f]), "format");
    /* weights: 0.02 * Student-t(4); activations: N(0,1) with every 512th channel x 30 */
    for (i = 0; i < (size_t)W_ROWS * W_COLS; i++) {
        double chi2 = 0;
        int k;
        for (k = 0; k < 4; k++) {
            double g = normal();
            chi2 += g * g;
        }
        w[i] = (float)(0.02 * normal() / sqrt(chi2 / 4));
    }
    for (i = 0; i < X_ELEMS; i++)
        x[i] = (float)(normal() * (i % X_CHANNELS % 512 == 37 ? 30.0 : 1.0));
    printf("fpq %s, backend %s. Timings are indicative (shared machine).\n",
           fpq_version_string(), fpq_backend_name());
    bench_weight(fmts, w, q, scales);
    bench_activation(fmts, x, q);
    free(w);
    free(x);
    free(q);
    free(scales);
    return 0;
}
