/*
 * bench.c - throughput of the fpq kernels, next to memcpy of the same float32 array.
 *
 * Built and run by `make bench`. Not a test: it checks nothing and only prints. Each number is
 * the median of RUNS timed runs; a run repeats the kernel enough times to last >= TARGET_S,
 * so that timer resolution and one-off interruptions do not dominate. memcpy is measured in
 * the same process on the same buffers, so the "/memcpy" ratio travels better across machines
 * than raw Gelem/s. Every kernel runs on every backend the CPU has, single-threaded first,
 * then (OpenMP builds) on all threads against a memcpy split the same way.
 * A last section times the tensor calls (fpq_tensor_*) on a TENSOR_ROWS x TENSOR_COLS tensor:
 * MXFP4, NVFP4 and per-row e2m1 quantize / dequantize, float16 and bfloat16 on the float side,
 * and fpq_tensor_compute_scales; with TENSOR_RUNS runs each, as a 64 MiB tensor is slow on the
 * scalar backend. It reuses the arrays above as its buffers.
 * Memory: about 600 MB (two float32 arrays of LARGE_N and the codes) and 1 MB of scales.
 */
#define _POSIX_C_SOURCE 199309L

#include "fpq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define RUNS 5
#define TARGET_S 0.020
#define SMALL_N ((size_t)64 * 1024)        /* 256 KiB of float32: in cache */
#define LARGE_N ((size_t)64 * 1024 * 1024) /* 256 MiB of float32: streams from DRAM */
#define SCALE_ODD 0.0371f                  /* not a power of two: the division path */
#define SCALE_POW2 0.03125f                /* 2^-5: the exact-reciprocal multiply path */
#define TENSOR_ROWS 4096
#define TENSOR_COLS 4096
#define TENSOR_N ((size_t)TENSOR_ROWS * TENSOR_COLS) /* 16 Mi elements: 64 MiB of float32 */
#define TENSOR_RUNS 3 /* <= RUNS: time_runs keeps RUNS rates */
#define MX_BLOCK 32
#define NV_BLOCK 16

enum op { OP_MEMCPY, OP_QUANTIZE, OP_DEQUANTIZE, OP_FAKE_QUANTIZE };

typedef struct kernel {
    const char *label;
    enum op op;
    const char *format; /* fpq_format_from_name() name; NULL for memcpy */
    float scale;
} kernel;

static const kernel kernels[] = {
    {"memcpy float32", OP_MEMCPY, NULL, 0.0f},
    {"quantize", OP_QUANTIZE, "float4_e2m1fn", SCALE_ODD},
    {"quantize", OP_QUANTIZE, "float4_e2m1fn", SCALE_POW2},
    {"dequantize", OP_DEQUANTIZE, "float4_e2m1fn", SCALE_ODD},
    {"fake_quantize", OP_FAKE_QUANTIZE, "float4_e2m1fn", SCALE_ODD},
    {"quantize", OP_QUANTIZE, "float8_e4m3fn", SCALE_ODD},
    {"dequantize", OP_DEQUANTIZE, "float8_e4m3fn", SCALE_ODD},
    {"quantize", OP_QUANTIZE, "float6_e3m2fn", SCALE_ODD},
    {"dequantize", OP_DEQUANTIZE, "float6_e3m2fn", SCALE_ODD},
};
#define NUM_KERNELS ((int)(sizeof kernels / sizeof kernels[0]))

/* The buffers of one size, shared by every kernel. */
typedef struct buffers {
    size_t n;
    float *x;       /* input */
    float *y;       /* float32 output (memcpy, dequantize, fake_quantize) */
    uint8_t *codes; /* packed codes: 8-bit formats need the most, n bytes */
} buffers;

/* A volatile pointer keeps the compiler from proving repeated copies redundant. */
static void *(*volatile memcpy_fn)(void *, const void *, size_t) = memcpy;

static int bench_threads = 1;

/* The baseline: memcpy of the float32 array, split over the threads fpq may use, in chunks
 * as fpq splits its work. */
static void copy_floats(float *dst, const float *src, size_t n)
{
#ifdef _OPENMP
    if (bench_threads > 1) {
        const long long chunk = 1 << 16, chunks = ((long long)n + chunk - 1) / chunk;
        long long c;
#pragma omp parallel for schedule(static) num_threads(bench_threads)
        for (c = 0; c < chunks; c++) {
            size_t begin = (size_t)(c * chunk), len = n - begin < (size_t)chunk ? n - begin
                                                                                 : (size_t)chunk;
            memcpy_fn(dst + begin, src + begin, len * sizeof(float));
        }
        return;
    }
#endif
    memcpy_fn(dst, src, n * sizeof(float));
}

static void check(int status, const char *what)
{
    if (status != FPQ_OK) {
        fprintf(stderr, "bench: %s failed: %s\n", what, fpq_status_string(status));
        exit(1);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64 and Box-Muller: seeded, so every run benchmarks the same data. */
static uint64_t rng_state = 0x62656e6368u;

static double uniform01(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* N(0, sigma^2) with sigma = 2 * SCALE_ODD, so x / scale spreads over the whole e2m1 grid
 * (max 6) with a few values saturating, and stays in range for the 6- and 8-bit formats. */
static void fill_normal(float *x, size_t n)
{
    const double sigma = 2.0 * SCALE_ODD, two_pi = 6.283185307179586;
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        double r = sigma * sqrt(-2.0 * log(uniform01())), t = two_pi * uniform01();
        x[i] = (float)(r * cos(t));
        x[i + 1] = (float)(r * sin(t));
    }
    if (i < n)
        x[i] = (float)sigma;
}

static void *alloc_or_die(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    memset(p, 0, bytes); /* touch every page now, not inside a timed run */
    return p;
}

static void run_once(const kernel *k, const fpq_format *fmt, const buffers *b)
{
    switch (k->op) {
    case OP_MEMCPY:
        copy_floats(b->y, b->x, b->n);
        break;
    case OP_QUANTIZE:
        check(fpq_quantize(fmt, b->x, b->n, k->scale, 0, b->codes), "fpq_quantize");
        break;
    case OP_DEQUANTIZE:
        check(fpq_dequantize(fmt, b->codes, b->n, k->scale, 0, b->y), "fpq_dequantize");
        break;
    case OP_FAKE_QUANTIZE:
        check(fpq_fake_quantize(fmt, b->x, b->n, k->scale, 0, b->y), "fpq_fake_quantize");
        break;
    }
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median throughput in Gelem/s of `runs` (<= RUNS) timed runs of fn(ctx), each call n
 * elements; *spread receives (max - min) / median of the runs. */
static double time_runs(void (*fn)(void *), void *ctx, size_t n, int runs, double *spread)
{
    double t, rate[RUNS];
    long iters, it;
    int r;

    /* One untimed call warms caches and sizes the runs. */
    t = now_s();
    fn(ctx);
    t = now_s() - t;
    iters = t >= TARGET_S ? 1 : (long)ceil(TARGET_S / (t > 1e-9 ? t : 1e-9));

    for (r = 0; r < runs; r++) {
        t = now_s();
        for (it = 0; it < iters; it++)
            fn(ctx);
        t = now_s() - t;
        rate[r] = (double)n * (double)iters / t * 1e-9;
    }
    qsort(rate, (size_t)runs, sizeof rate[0], compare_double);
    *spread = (rate[runs - 1] - rate[0]) / rate[runs / 2];
    return rate[runs / 2];
}

typedef struct array_call {
    const kernel *k;
    const fpq_format *fmt;
    const buffers *b;
} array_call;

static void run_array_call(void *ctx)
{
    const array_call *c = (const array_call *)ctx;
    run_once(c->k, c->fmt, c->b);
}

/* Median throughput in Gelem/s; *spread receives (max - min) / median of the runs. */
static double measure(const kernel *k, const buffers *b, double *spread)
{
    fpq_format fmt;
    array_call call;

    memset(&fmt, 0, sizeof fmt);
    if (k->format)
        check(fpq_format_from_name(k->format, &fmt), "fpq_format_from_name");
    /* Dequantize reads real codes of this format and scale, not leftovers. */
    if (k->op == OP_DEQUANTIZE)
        check(fpq_quantize(&fmt, b->x, b->n, k->scale, 0, b->codes), "fpq_quantize");

    call.k = k;
    call.fmt = &fmt;
    call.b = b;
    return time_runs(run_array_call, &call, b->n, RUNS, spread);
}

/* For one size and thread count: memcpy, then every kernel on every available backend. */
static void bench_size(size_t n, const char *size_label, buffers *b)
{
    double memcpy_rate, spread, scalar_rate[NUM_KERNELS];
    const char *backend;
    int i, bi;

    b->n = n;
    memcpy_rate = measure(&kernels[0], b, &spread);
    printf("%-36s %-7s %-3d %-7s %9.3f %8.2f %8s %6.0f%%\n", kernels[0].label, size_label,
           bench_threads, "-", memcpy_rate, 1.0, "-", 100.0 * spread);
    for (i = 1; i < NUM_KERNELS; i++) {
        const kernel *k = &kernels[i];
        char what[64];
        sprintf(what, "%s %s s=%g", k->label, k->format, k->scale);
        for (bi = 0; (backend = fpq_backend_at(bi)) != NULL; bi++)
            ; /* count */
        /* scalar is the last backend: measure it first, as the ratio's base */
        for (bi = bi - 1; bi >= 0; bi--) {
            double rate;
            backend = fpq_backend_at(bi);
            if (!fpq_backend_available(backend))
                continue;
            check(fpq_set_backend(backend), "fpq_set_backend");
            rate = measure(k, b, &spread);
            if (!strcmp(backend, "scalar"))
                scalar_rate[i] = rate;
            printf("%-36s %-7s %-3d %-7s %9.3f %8.2f %8.1f %6.0f%%\n", what, size_label,
                   bench_threads, backend, rate, rate / memcpy_rate, rate / scalar_rate[i],
                   100.0 * spread);
        }
    }
    check(fpq_set_backend("auto"), "fpq_set_backend");
}

/* ---- tensors ------------------------------------------------------------------------------ */

enum tensor_op { TOP_MEMCPY, TOP_QUANTIZE, TOP_DEQUANTIZE, TOP_SCALES };
enum scheme { SCHEME_MX, SCHEME_NV, SCHEME_ROW }; /* the scales of every row are e2m1's */

typedef struct tensor_kernel {
    const char *label;
    enum tensor_op op;
    enum scheme scheme;
    int elem_type; /* the float side: quantize / compute_scales input, dequantize output */
} tensor_kernel;

static const tensor_kernel tensor_kernels[] = {
    {"memcpy float32", TOP_MEMCPY, SCHEME_ROW, FPQ_FLOAT32},
    {"quantize MXFP4 (k32 E8M0) f32", TOP_QUANTIZE, SCHEME_MX, FPQ_FLOAT32},
    {"dequantize MXFP4 (k32 E8M0) f32", TOP_DEQUANTIZE, SCHEME_MX, FPQ_FLOAT32},
    {"quantize NVFP4 (k16 E4M3) f32", TOP_QUANTIZE, SCHEME_NV, FPQ_FLOAT32},
    {"dequantize NVFP4 (k16 E4M3) f32", TOP_DEQUANTIZE, SCHEME_NV, FPQ_FLOAT32},
    {"quantize per-row (float32) f32", TOP_QUANTIZE, SCHEME_ROW, FPQ_FLOAT32},
    {"dequantize per-row (float32) f32", TOP_DEQUANTIZE, SCHEME_ROW, FPQ_FLOAT32},
    {"quantize MXFP4 (k32 E8M0) f16", TOP_QUANTIZE, SCHEME_MX, FPQ_FLOAT16},
    {"quantize MXFP4 (k32 E8M0) bf16", TOP_QUANTIZE, SCHEME_MX, FPQ_BFLOAT16},
    {"dequantize MXFP4 (k32 E8M0) f16", TOP_DEQUANTIZE, SCHEME_MX, FPQ_FLOAT16},
    {"dequantize MXFP4 (k32 E8M0) bf16", TOP_DEQUANTIZE, SCHEME_MX, FPQ_BFLOAT16},
    {"compute_scales MXFP4 (k32 E8M0) f32", TOP_SCALES, SCHEME_MX, FPQ_FLOAT32},
    {"compute_scales per-row (float32) f32", TOP_SCALES, SCHEME_ROW, FPQ_FLOAT32},
};
#define NUM_TENSOR_KERNELS ((int)(sizeof tensor_kernels / sizeof tensor_kernels[0]))

/* The tensor section's buffers, carved out of the arrays of the sections above: they hold
 * LARGE_N = 4 * TENSOR_N elements, so the 16-bit inputs fit in the upper half of y. */
typedef char tensor_fits_in_arrays[LARGE_N >= 4 * TENSOR_N ? 1 : -1];

typedef struct tensor_buffers {
    const float *x;     /* float32 input: x[0..TENSOR_N) of the arrays */
    void *x16, *xbf16;  /* float16 / bfloat16 copies of x: y + 2 * TENSOR_N, y + 3 * TENSOR_N */
    float *y;           /* output of memcpy and dequantize (any element type): y[0..TENSOR_N) */
    uint8_t *codes;     /* the arrays' codes */
    size_t codes_capacity;
    float *scale_f32;   /* TENSOR_ROWS per-row scales */
    uint8_t *scale_u8;  /* TENSOR_N / NV_BLOCK block scales (E8M0 or E4M3) */
} tensor_buffers;

/* Everything one timed call needs, set up (untimed) by tensor_setup. */
typedef struct tensor_call {
    const tensor_kernel *k;
    const tensor_buffers *tb;
    fpq_format fmt;
    fpq_tensor t;
    fpq_scales s;
    const void *x; /* quantize / compute_scales input, of t.elem_type */
    size_t code_bytes;
} tensor_call;

static void run_tensor_call(void *ctx)
{
    tensor_call *c = (tensor_call *)ctx;
    switch (c->k->op) {
    case TOP_MEMCPY:
        copy_floats(c->tb->y, c->tb->x, TENSOR_N);
        break;
    case TOP_QUANTIZE:
        check(fpq_tensor_quantize(&c->fmt, &c->t, c->x, &c->s, 0, c->tb->codes, c->code_bytes),
              "fpq_tensor_quantize");
        break;
    case TOP_DEQUANTIZE:
        check(fpq_tensor_dequantize(&c->fmt, &c->t, c->tb->codes, c->code_bytes, &c->s, 0,
                                    c->tb->y),
              "fpq_tensor_dequantize");
        break;
    case TOP_SCALES:
        check(fpq_tensor_compute_scales(&c->fmt, &c->t, c->x, 1.0f, &c->s),
              "fpq_tensor_compute_scales");
        break;
    }
}

static void tensor_shape(enum scheme sc, int elem_type, fpq_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->rows = TENSOR_ROWS;
    t->cols = TENSOR_COLS;
    t->row_stride = TENSOR_COLS;
    t->elem_type = elem_type;
    t->granularity = sc == SCHEME_ROW ? FPQ_PER_ROW : FPQ_PER_BLOCK;
    t->block_size = sc == SCHEME_MX ? MX_BLOCK : sc == SCHEME_NV ? NV_BLOCK : 0;
}

static void tensor_scales(enum scheme sc, const tensor_buffers *tb, const fpq_tensor *t,
                          fpq_scales *s)
{
    size_t needed = fpq_tensor_num_scales(t);
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
    if (sc == SCHEME_ROW) {
        s->encoding = FPQ_SCALE_FLOAT32;
        s->data = tb->scale_f32;
        s->count = TENSOR_ROWS;
    } else {
        s->encoding = sc == SCHEME_MX ? FPQ_SCALE_E8M0 : FPQ_SCALE_E4M3;
        s->data = tb->scale_u8;
        s->count = TENSOR_N / NV_BLOCK;
    }
    if (needed == 0 || needed > s->count)
        check(FPQ_ERR_CAPACITY, "fpq_tensor_num_scales");
}

/* Untimed: the tensor and scales of a row; the scales from its own input (quantize), and for
 * dequantize the scales and codes of the float32 tensor, whatever the output type. The same
 * bits on every backend, so once per row of the table. */
static void tensor_setup(const tensor_kernel *k, const tensor_buffers *tb, tensor_call *c)
{
    memset(c, 0, sizeof *c);
    c->k = k;
    c->tb = tb;
    c->x = k->elem_type == FPQ_FLOAT16    ? tb->x16
           : k->elem_type == FPQ_BFLOAT16 ? tb->xbf16
                                          : (const void *)tb->x;
    check(fpq_format_from_name("float4_e2m1fn", &c->fmt), "fpq_format_from_name");
    if (k->op == TOP_MEMCPY)
        return;
    tensor_shape(k->scheme, k->elem_type, &c->t);
    tensor_scales(k->scheme, tb, &c->t, &c->s);
    c->code_bytes = fpq_tensor_code_bytes(&c->fmt, &c->t, 0);
    if (c->code_bytes == 0 || c->code_bytes > tb->codes_capacity)
        check(FPQ_ERR_CAPACITY, "fpq_tensor_code_bytes");
    if (k->op == TOP_QUANTIZE) {
        check(fpq_tensor_compute_scales(&c->fmt, &c->t, c->x, 1.0f, &c->s),
              "fpq_tensor_compute_scales");
    } else if (k->op == TOP_DEQUANTIZE) {
        fpq_tensor t32;
        tensor_shape(k->scheme, FPQ_FLOAT32, &t32);
        check(fpq_tensor_compute_scales(&c->fmt, &t32, tb->x, 1.0f, &c->s),
              "fpq_tensor_compute_scales");
        check(fpq_tensor_quantize(&c->fmt, &t32, tb->x, &c->s, 0, tb->codes, c->code_bytes),
              "fpq_tensor_quantize");
    }
}

/* For one thread count: memcpy of the float32 tensor, then every tensor row on every
 * available backend, scalar first as the ratio's base. */
static void bench_tensors(const tensor_buffers *tb)
{
    const char *size_label = "4096^2";
    double memcpy_rate, spread;
    tensor_call call;
    int i, bi, num_backends;

    tensor_setup(&tensor_kernels[0], tb, &call);
    memcpy_rate = time_runs(run_tensor_call, &call, TENSOR_N, TENSOR_RUNS, &spread);
    printf("%-36s %-7s %-3d %-7s %9.3f %8.2f %8s %6.0f%%\n", tensor_kernels[0].label,
           size_label, bench_threads, "-", memcpy_rate, 1.0, "-", 100.0 * spread);
    for (num_backends = 0; fpq_backend_at(num_backends) != NULL; num_backends++)
        ; /* count */
    for (i = 1; i < NUM_TENSOR_KERNELS; i++) {
        double scalar_rate = 0.0;
        check(fpq_set_backend("auto"), "fpq_set_backend");
        tensor_setup(&tensor_kernels[i], tb, &call);
        for (bi = num_backends - 1; bi >= 0; bi--) {
            const char *backend = fpq_backend_at(bi);
            double rate;
            if (!fpq_backend_available(backend))
                continue;
            check(fpq_set_backend(backend), "fpq_set_backend");
            rate = time_runs(run_tensor_call, &call, TENSOR_N, TENSOR_RUNS, &spread);
            if (!strcmp(backend, "scalar"))
                scalar_rate = rate;
            printf("%-36s %-7s %-3d %-7s %9.3f %8.2f %8.1f %6.0f%%\n", tensor_kernels[i].label,
                   size_label, bench_threads, backend, rate, rate / memcpy_rate,
                   rate / scalar_rate, 100.0 * spread);
        }
    }
    check(fpq_set_backend("auto"), "fpq_set_backend");
}

static void print_tensor_header(void)
{
    printf("\nTensors: %d x %d row-major (16 Mi elements), fpq_tensor_* calls, float4_e2m1fn "
           "codes;\nmedian of %d runs (not %d: a 64 MiB tensor is slow on scalar), each >= "
           "%.0f ms; Gelem/s = tensor elements per ns;\n"
           "MXFP4 = blocks of %d, E8M0 scales; NVFP4 = blocks of %d, E4M3 scales times a "
           "float32 tensor scale;\nper-row = one float32 scale per row; f32 / f16 / bf16 = the "
           "float side (input of quantize and\ncompute_scales, output of dequantize); scales "
           "are computed beforehand and not timed except in\nthe compute_scales rows; /memcpy: "
           "memcpy of the float32 tensor (64 MiB) with the same threads\n",
           TENSOR_ROWS, TENSOR_COLS, TENSOR_RUNS, RUNS, TARGET_S * 1e3, MX_BLOCK, NV_BLOCK);
    printf("%-36s %-7s %-3s %-7s %9s %8s %8s %7s\n", "kernel", "size", "thr", "backend",
           "Gelem/s", "/memcpy", "/scalar", "spread");
}

static void print_header(void)
{
#if defined(__VERSION__) && defined(__GNUC__) && !defined(__clang__)
    const char *compiler = "gcc " __VERSION__; /* gcc's __VERSION__ is the number alone */
#elif defined(__VERSION__)
    const char *compiler = __VERSION__;
#else
    const char *compiler = "unknown";
#endif
#ifdef _OPENMP
    char threads[48];
    sprintf(threads, "OpenMP, up to %d threads", omp_get_max_threads());
#else
    const char *threads = "no OpenMP: 1 thread";
#endif
    printf("fpq %s bench | best backend: %s | compiler: %s | %s\n", fpq_version_string(),
           fpq_backend_name(), compiler, threads);
    printf("median of %d runs, each >= %.0f ms; Gelem/s = float32 elements per ns; packed "
           "codes;\n/memcpy and /scalar: ratios to the same-size, same-thread memcpy and scalar "
           "rows of this run; spread = (max - min) / median\n", RUNS, TARGET_S * 1e3);
    printf("%-36s %-7s %-3s %-7s %9s %8s %8s %7s\n", "kernel", "size", "thr", "backend",
           "Gelem/s", "/memcpy", "/scalar", "spread");
}

int main(void)
{
    buffers b;
    tensor_buffers tb;

    b.x = alloc_or_die(LARGE_N * sizeof(float));
    b.y = alloc_or_die(LARGE_N * sizeof(float));
    b.codes = alloc_or_die(LARGE_N);
    fill_normal(b.x, LARGE_N);

    print_header();
    check(fpq_set_num_threads(1), "fpq_set_num_threads");
    bench_threads = 1;
    bench_size(SMALL_N, "64Ki", &b);
    bench_size(LARGE_N, "64Mi", &b);
#ifdef _OPENMP
    if (omp_get_max_threads() > 1) {
        bench_threads = omp_get_max_threads();
        check(fpq_set_num_threads(bench_threads), "fpq_set_num_threads");
        bench_size(LARGE_N, "64Mi", &b);
    }
#endif

    tb.x = b.x;
    tb.y = b.y;
    tb.x16 = b.y + 2 * TENSOR_N;
    tb.xbf16 = b.y + 3 * TENSOR_N;
    tb.codes = b.codes;
    tb.codes_capacity = LARGE_N;
    tb.scale_f32 = alloc_or_die(TENSOR_ROWS * sizeof(float));
    tb.scale_u8 = alloc_or_die(TENSOR_N / NV_BLOCK);
    check(fpq_convert_from_float32(FPQ_FLOAT16, b.x, TENSOR_N, tb.x16),
          "fpq_convert_from_float32");
    check(fpq_convert_from_float32(FPQ_BFLOAT16, b.x, TENSOR_N, tb.xbf16),
          "fpq_convert_from_float32");
    print_tensor_header();
    check(fpq_set_num_threads(1), "fpq_set_num_threads");
    bench_threads = 1;
    bench_tensors(&tb);
#ifdef _OPENMP
    if (omp_get_max_threads() > 1) {
        bench_threads = omp_get_max_threads();
        check(fpq_set_num_threads(bench_threads), "fpq_set_num_threads");
        bench_tensors(&tb);
    }
#endif

    free(tb.scale_f32);
    free(tb.scale_u8);
    free(b.x);
    free(b.y);
    free(b.codes);
    return 0;
}
