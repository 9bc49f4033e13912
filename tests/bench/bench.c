/*
 * bench.c - throughput of the fpq kernels, next to memcpy of the same float32 array.
 *
 * Built and run by `make bench`. Not a test: it checks nothing and only prints. Each number is
 * the median of RUNS timed runs; a run repeats the kernel enough times to last >= TARGET_S,
 * so that timer resolution and one-off interruptions do not dominate. memcpy is measured in
 * the same process on the same buffers, so the "/memcpy" ratio travels better across machines
 * than raw Gelem/s. Every kernel runs on every backend the CPU has, single-threaded first,
 * then (OpenMP builds) on all threads against a memcpy split the same way.
 * Memory: about 600 MB (two float32 arrays of LARGE_N and the codes).
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

/* Median throughput in Gelem/s; *spread receives (max - min) / median of the runs. */
static double measure(const kernel *k, const buffers *b, double *spread)
{
    fpq_format fmt;
    double t, rate[RUNS];
    long iters, it;
    int r;

    memset(&fmt, 0, sizeof fmt);
    if (k->format)
        check(fpq_format_from_name(k->format, &fmt), "fpq_format_from_name");
    /* Dequantize reads real codes of this format and scale, not leftovers. */
    if (k->op == OP_DEQUANTIZE)
        check(fpq_quantize(&fmt, b->x, b->n, k->scale, 0, b->codes), "fpq_quantize");

    /* One untimed call warms caches and sizes the runs. */
    t = now_s();
    run_once(k, &fmt, b);
    t = now_s() - t;
    iters = t >= TARGET_S ? 1 : (long)ceil(TARGET_S / (t > 1e-9 ? t : 1e-9));

    for (r = 0; r < RUNS; r++) {
        t = now_s();
        for (it = 0; it < iters; it++)
            run_once(k, &fmt, b);
        t = now_s() - t;
        rate[r] = (double)b->n * (double)iters / t * 1e-9;
    }
    qsort(rate, RUNS, sizeof rate[0], compare_double);
    *spread = (rate[RUNS - 1] - rate[0]) / rate[RUNS / 2];
    return rate[RUNS / 2];
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

    free(b.x);
    free(b.y);
    free(b.codes);
    return 0;
}
