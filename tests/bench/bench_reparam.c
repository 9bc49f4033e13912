/*
 * bench_reparam.c - speed of the pre-shifted activation kernel against the per-tensor one.
 *
 * Built and run by `make bench`. Not a test: it only prints. For activations X [ROWS x COLS]
 * (float32, e2m1, packed codes) it times, on every backend the CPU has single-threaded and on
 * the best one with two threads: fpq_tensor_quantize with one scale (per tensor), fpq_reparam_quantize (shared
 * scale, per-column power-of-two pre-shift), and fpq_tensor_quantize with per-column float32
 * scales s * 2^-k_c (the same codes through the tensor API, for comparison); then the same
 * three for fake-quantization. Each figure is the best of RUNS runs of at least TARGET_S,
 * the three calls' runs interleaved.
 * Last, the reference linear layer (double accumulation) on a small layer, for scale.
 * Memory: about 3 * ROWS * COLS * 4 bytes (48 MiB).
 */
#define _POSIX_C_SOURCE 199309L

#include "fpq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS 1024
#define COLS 4096
#define N ((size_t)ROWS * COLS)
#define RUNS 7
#define TARGET_S 0.03
#define SHARED_SCALE 0.0371f /* not a power of two: the division path */

enum op { OP_PER_TENSOR, OP_REPARAM, OP_PER_COLUMN };

typedef struct ctx {
    fpq_format fmt;
    fpq_tensor t;
    float *x, *y, *col_scales;
    unsigned char *codes;
    size_t code_bytes;
    int *offsets;
    enum op op;
    int fake;
} ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(int status, const char *what)
{
    if (status != FPQ_OK) {
        fprintf(stderr, "bench_reparam: %s: %s\n", what, fpq_status_string(status));
        exit(1);
    }
}

static void run_once(ctx *c)
{
    float one = SHARED_SCALE;
    fpq_scales s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.encoding = FPQ_SCALE_FLOAT32;
    if (c->op == OP_REPARAM) {
        if (c->fake)
            check(fpq_reparam_fake_quantize(&c->fmt, &c->t, c->x, SHARED_SCALE, c->offsets, 0,
                                            c->y), "reparam fake");
        else
            check(fpq_reparam_quantize(&c->fmt, &c->t, c->x, SHARED_SCALE, c->offsets, 0,
                                       c->codes, c->code_bytes), "reparam quantize");
        return;
    }
    if (c->op == OP_PER_TENSOR) {
        c->t.granularity = FPQ_PER_TENSOR;
        s.data = &one;
        s.count = 1;
    } else {
        c->t.granularity = FPQ_PER_COLUMN;
        s.data = c->col_scales;
        s.count = COLS;
    }
    if (c->fake)
        check(fpq_tensor_fake_quantize(&c->fmt, &c->t, c->x, &s, 0, c->y), "tensor fake");
    else
        check(fpq_tensor_quantize(&c->fmt, &c->t, c->x, &s, 0, c->codes, c->code_bytes),
              "tensor quantize");
}

/* Elements per second of one timed run: the call repeated for >= TARGET_S. */
static double one_run(ctx *c)
{
    double t0 = now_s(), t;
    long reps = 0;
    do {
        run_once(c);
        reps++;
        t = now_s() - t0;
    } while (t < TARGET_S);
    return (double)N * (double)reps / t;
}

/* The three calls' rates, runs interleaved (so that load from other processes falls on all
 * three alike): the best run of each, the least disturbed on a shared machine. */
static void rates(ctx *c, double *best)
{
    int i, op;
    for (op = OP_PER_TENSOR; op <= OP_PER_COLUMN; op++) {
        c->op = (enum op)op;
        run_once(c); /* warm up: pages, caches, dispatch */
        best[op] = 0.0;
    }
    for (i = 0; i < RUNS; i++)
        for (op = OP_PER_TENSOR; op <= OP_PER_COLUMN; op++) {
            double r;
            c->op = (enum op)op;
            r = one_run(c);
            best[op] = r > best[op] ? r : best[op];
        }
}

static void bench_layer(void)
{
    enum { T = 64, I = 512, O = 256 };
    fpq_format f;
    unsigned char *xc = (unsigned char *)calloc(T * I / 2, 1);
    unsigned char *wc = (unsigned char *)calloc(O * I / 2, 1);
    float ws[O], *y = (float *)malloc(T * O * sizeof(float));
    double t0, t;
    int i, reps = 0;
    check(fpq_format_from_name("e2m1", &f), "format");
    for (i = 0; i < O; i++)
        ws[i] = 0.01f;
    for (i = 0; i < T * I / 2; i++)
        xc[i] = (unsigned char)(i * 37);
    for (i = 0; i < O * I / 2; i++)
        wc[i] = (unsigned char)(i * 91);
    t0 = now_s();
    do {
        check(fpq_reparam_linear_reference(&f, xc, T * I / 2, T, I, 0.05f, &f, wc, O * I / 2,
                                           O, ws, NULL, 0, y), "linear reference");
        reps++;
        t = now_s() - t0;
    } while (t < 0.2);
    printf("\nreference linear layer (double accumulation), %d x %d x %d, %d thread(s): "
           "%.2f ms, %.2f GMAC/s\n", T, I, O, fpq_num_threads(), 1e3 * t / reps,
           (double)T * I * O * reps / t * 1e-9);
    free(xc);
    free(wc);
    free(y);
}

int main(void)
{
    static const char *const names[] = {"per tensor (fpq_tensor_quantize)",
                                        "pre-shifted (fpq_reparam_quantize)",
                                        "per column (fpq_tensor_quantize)"};
    ctx c;
    size_t i;
    int threads, fake, op, b;

    memset(&c, 0, sizeof c);
    check(fpq_format_from_name("e2m1", &c.fmt), "format");
    c.t.struct_size = sizeof c.t;
    c.t.rows = ROWS;
    c.t.cols = COLS;
    c.t.row_stride = COLS;
    c.t.elem_type = FPQ_FLOAT32;
    c.t.granularity = FPQ_PER_TENSOR;
    c.x = (float *)malloc(N * sizeof(float));
    c.y = (float *)malloc(N * sizeof(float));
    c.code_bytes = fpq_tensor_code_bytes(&c.fmt, &c.t, 0);
    c.codes = (unsigned char *)malloc(c.code_bytes);
    c.offsets = (int *)malloc(COLS * sizeof(int));
    c.col_scales = (float *)malloc(COLS * sizeof(float));
    if (!c.x || !c.y || !c.codes || !c.offsets || !c.col_scales) {
        fprintf(stderr, "bench_reparam: out of memory\n");
        return 1;
    }
    for (i = 0; i < N; i++) /* deterministic, varied magnitudes */
        c.x[i] = (float)sin((double)i * 0.7071) * (float)(1 + (i % COLS) % 13);
    for (i = 0; i < COLS; i++) {
        c.offsets[i] = (int)((i * 7) % 4);
        c.col_scales[i] = ldexpf(SHARED_SCALE, -c.offsets[i]);
    }
    printf("fpq %s: e2m1 activations %d x %d float32 (best of %d interleaved runs)\n",
           fpq_version_string(), ROWS, COLS, RUNS);
    /* Every backend single-threaded, then the best one on two threads. */
    for (b = 0; fpq_backend_at(b) != NULL; b++) {
        if (!fpq_backend_available(fpq_backend_at(b)))
            continue;
        check(fpq_set_backend(fpq_backend_at(b)), "backend");
        for (threads = 1; threads <= 2; threads++) {
            if (threads == 2 && b > 0)
                continue;
            check(fpq_set_num_threads(threads), "threads");
            for (fake = 0; fake <= 1; fake++) {
                double best[3];
                printf("%s, backend %s, %d thread(s):\n", fake ? "fake-quantize" : "quantize",
                       fpq_backend_name(), fpq_num_threads());
                c.fake = fake;
                rates(&c, best);
                for (op = OP_PER_TENSOR; op <= OP_PER_COLUMN; op++)
                    printf("  %-36s %7.3f Gelem/s  %5.2fx per tensor\n", names[op],
                           best[op] * 1e-9, best[op] / best[OP_PER_TENSOR]);
            }
        }
    }
    check(fpq_set_backend("auto"), "backend");
    check(fpq_set_num_threads(1), "threads");
    bench_layer();
    free(c.x);
    free(c.y);
    free(c.codes);
    free(c.offsets);
    free(c.col_scales);
    return 0;
}
