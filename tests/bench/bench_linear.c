/*
 * bench_linear.c - the W4A4 linear layer (fpq_linear_forward) against float32 GEMM on the
 * same dequantized matrices: OpenBLAS's cblas_sgemm, loaded at run time (dlopen; the library
 * never links it) when installed, and a straightforward blocked float loop; and, for one
 * token, the weight bytes streamed per second against the read bandwidth measured here.
 *
 * Built and run by `make bench`. Prints only. W is OUT x IN e2m1 with per-row scales, X is
 * tokens x IN e2m1 with one scale; 1, 16 and 512 tokens, on 1 thread and on 2. Each time is
 * the best of RUNS runs of at least TARGET_S (noisy machines: the best is the least
 * disturbed). The 1-token runs cycle through W_COPIES copies of the packed weights so that
 * they come from DRAM. Memory: about 400 MB (W in float32 for the float GEMMs, the copies,
 * the 256 MiB read buffer).
 */
#define _POSIX_C_SOURCE 200809L

#include "fpq.h"

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define OUT 4096
#define IN 4096
#define RUNS 5
#define TARGET_S 0.05
#define READ_BYTES ((size_t)256 << 20)
/* Copies of the packed weights the 1-token runs cycle through: 8 x 8 MiB, past the last-level
 * cache, so that the weights stream from DRAM as in a real decoder (one layer after another)
 * instead of from a warm L3. */
#define W_COPIES 8

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
typedef void (*set_threads_fn)(int n);

static sgemm_fn blas_sgemm;
static set_threads_fn blas_set_threads;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(int status, const char *what)
{
    if (status != FPQ_OK) {
        fprintf(stderr, "%s: %s\n", what, fpq_status_string(status));
        exit(1);
    }
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

static void load_openblas(void)
{
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
    size_t i;
    for (i = 0; i < 2; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) {
            /* POSIX guarantees a function pointer survives the round trip through void *. */
            void *f = dlsym(h, "cblas_sgemm"), *t = dlsym(h, "openblas_set_num_threads");
            memcpy(&blas_sgemm, &f, sizeof f);
            memcpy(&blas_set_threads, &t, sizeof t);
            if (blas_sgemm) {
                printf("OpenBLAS: %s\n", names[i]);
                return;
            }
        }
    }
    printf("OpenBLAS: not found (libopenblas.so.0 / libopenblas.so): no sgemm column "
           "(apt-get install libopenblas-dev)\n");
}

static void set_threads(int n)
{
    check(fpq_set_num_threads(n), "fpq_set_num_threads");
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    if (blas_set_threads)
        blas_set_threads(n);
}

/* The straightforward float32 loop: 64-row blocks of W stay in cache while every token
 * passes; 8 partial sums per dot product let the compiler keep several additions in flight. */
static void float_gemm(const float *x, const float *w, size_t tokens, float *y)
{
    long long rb;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (rb = 0; rb < OUT / 64; rb++) {
        size_t t, r, k, j;
        for (t = 0; t < tokens; t++) {
            for (r = (size_t)rb * 64; r < (size_t)rb * 64 + 64; r++) {
                float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
                const float *a = x + t * IN, *b = w + r * IN;
                for (k = 0; k < IN; k += 8)
                    for (j = 0; j < 8; j++)
                        s[j] += a[k + j] * b[k + j];
                y[t * OUT + r] = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
            }
        }
    }
}

/* Read bandwidth: sum a 256 MiB buffer (8 independent sums per thread). */
static double read_bandwidth(const uint64_t *buf, int threads)
{
    double best = 1e30;
    int run;
    volatile uint64_t sink = 0;
    for (run = 0; run < RUNS; run++) {
        double t0 = now();
        uint64_t total = 0;
        long long i, n = (long long)(READ_BYTES / 64);
#ifdef _OPENMP
#pragma omp parallel for reduction(+ : total) schedule(static) num_threads(threads)
#endif
        for (i = 0; i < n; i++) {
            const uint64_t *p = buf + i * 8;
            total += ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
        }
        sink += total;
        t0 = now() - t0;
        if (t0 < best)
            best = t0;
    }
    (void)threads;
    (void)sink;
    return (double)READ_BYTES / best;
}

typedef struct ctx {
    const void *act, *packed;
    void **copies; /* NULL, or W_COPIES copies of packed to cycle through */
    int next;
    size_t act_bytes, packed_bytes, tokens;
    const float *xf, *wf;
    float *y;
} ctx;

enum which { FPQ_KERNEL, SGEMM, FLOAT_LOOP };

static void run_once(ctx *c, enum which w)
{
    const void *packed = c->packed;
    switch (w) {
    case FPQ_KERNEL:
        if (c->copies) {
            packed = c->copies[c->next];
            c->next = (c->next + 1) % W_COPIES;
        }
        check(fpq_linear_forward(c->act, c->act_bytes, packed, c->packed_bytes, NULL, c->y, OUT),
              "fpq_linear_forward");
        break;
    case SGEMM: /* Y = X W^T, row-major */
        blas_sgemm(101, 111, 112, (int)c->tokens, OUT, IN, 1.0f, c->xf, IN, c->wf, IN, 0.0f,
                   c->y, OUT);
        break;
    case FLOAT_LOOP:
        float_gemm(c->xf, c->wf, c->tokens, c->y);
        break;
    }
}

/* Seconds per call: the best of RUNS runs, each repeating the call for >= TARGET_S (the float
 * loop at 512 tokens runs once: it takes seconds). */
static double time_call(ctx *c, enum which w)
{
    double best = 1e30;
    int run, runs = (w == FLOAT_LOOP && c->tokens > 16) ? 1 : RUNS;
    run_once(c, w); /* warm caches and thread pools */
    for (run = 0; run < runs; run++) {
        double t0 = now(), t;
        long reps = 0;
        do {
            run_once(c, w);
            reps++;
            t = now() - t0;
        } while (t < TARGET_S && !(w == FLOAT_LOOP && c->tokens > 16));
        if (t / (double)reps < best)
            best = t / (double)reps;
    }
    return best;
}

int main(void)
{
    static const size_t token_counts[] = {1, 16, 512};
    fpq_format e2m1;
    float *wf, *xf, *y, *sw, sx;
    uint8_t *wcodes;
    void *packed, *act;
    size_t packed_bytes, act_bytes, row_bytes, i, n;
    uint64_t *readbuf, rng = 0x5eed;
    void *copies[W_COPIES];
    int threads, cp;

    check(fpq_format_from_name("e2m1", &e2m1), "format");
    load_openblas();
    printf("backend %s; W %d x %d e2m1 (per-row scales), X e2m1 (one scale); best of %d\n",
           fpq_backend_name(), OUT, IN, RUNS);

    /* Weights: heavy-ish tails, quantized per row, then dequantized for the float GEMMs. */
    row_bytes = fpq_packed_size(&e2m1, IN, 0);
    wf = (float *)xmalloc((size_t)OUT * IN * sizeof(float));
    wcodes = (uint8_t *)xmalloc((size_t)OUT * row_bytes);
    sw = (float *)xmalloc(OUT * sizeof(float));
    for (i = 0; i < (size_t)OUT * IN; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        wf[i] = (float)((double)(rng >> 40) / 16777216.0 - 0.5) * 0.2f;
    }
    for (i = 0; i < OUT; i++) {
        check(fpq_scale_from_maxval(&e2m1, 0.1f, &sw[i]), "scale");
        check(fpq_quantize(&e2m1, wf + i * IN, IN, sw[i], 0, wcodes + i * row_bytes), "quantize");
        check(fpq_dequantize(&e2m1, wcodes + i * row_bytes, IN, sw[i], 0, wf + i * IN),
              "dequantize");
    }
    packed_bytes = fpq_pack_weights_size(&e2m1, OUT, IN);
    packed = xmalloc(packed_bytes);
    check(fpq_pack_weights(&e2m1, wcodes, OUT, IN, sw, packed, packed_bytes), "pack weights");
    for (cp = 0; cp < W_COPIES; cp++) {
        copies[cp] = xmalloc(packed_bytes);
        memcpy(copies[cp], packed, packed_bytes);
    }

    xf = (float *)xmalloc(512 * IN * sizeof(float));
    y = (float *)xmalloc(512 * OUT * sizeof(float));
    for (i = 0; i < 512 * IN; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        xf[i] = (float)((double)(rng >> 40) / 16777216.0 - 0.5) * 8.0f;
    }
    check(fpq_scale_from_maxval(&e2m1, 4.0f, &sx), "scale");
    act_bytes = fpq_linear_activations_size(512, IN);
    act = xmalloc(act_bytes);

    readbuf = (uint64_t *)xmalloc(READ_BYTES);
    for (i = 0; i < READ_BYTES / 8; i++)
        readbuf[i] = i;

    for (threads = 1; threads <= 2; threads++) {
        double bw;
        set_threads(threads);
        bw = read_bandwidth(readbuf, threads);
        printf("\n%d thread%s: read bandwidth (sum of 256 MiB) %.1f GB/s\n", threads,
               threads > 1 ? "s" : "", bw / 1e9);
        printf("%7s %12s %12s %12s %10s %10s\n", "tokens", "fpq ms", "sgemm ms", "loop ms",
               "vs sgemm", "vs loop");
        for (n = 0; n < sizeof token_counts / sizeof token_counts[0]; n++) {
            size_t tokens = token_counts[n];
            ctx c;
            double t_fpq, t_blas = 0.0, t_loop, t_quant, q0;
            /* Activations: dequantized X for the float GEMMs (the same values fpq sees). */
            check(fpq_linear_quantize_activations(&e2m1, xf, tokens, IN, IN, sx, act, act_bytes),
                  "quantize activations");
            q0 = now();
            for (i = 0; i < 20; i++)
                check(fpq_linear_quantize_activations(&e2m1, xf, tokens, IN, IN, sx, act,
                                                      act_bytes),
                      "quantize activations");
            t_quant = (now() - q0) / 20;
            c.act = act;
            c.act_bytes = act_bytes;
            c.packed = packed;
            c.packed_bytes = packed_bytes;
            c.copies = tokens == 1 ? copies : NULL;
            c.next = 0;
            c.tokens = tokens;
            c.xf = xf;
            c.wf = wf;
            c.y = y;
            t_fpq = time_call(&c, FPQ_KERNEL);
            if (blas_sgemm)
                t_blas = time_call(&c, SGEMM);
            t_loop = time_call(&c, FLOAT_LOOP);
            printf("%7zu %12.3f %12.3f %12.3f %9.2fx %9.2fx   (quantize X: %.3f ms)\n", tokens,
                   t_fpq * 1e3, blas_sgemm ? t_blas * 1e3 : NAN, t_loop * 1e3,
                   blas_sgemm ? t_blas / t_fpq : NAN, t_loop / t_fpq, t_quant * 1e3);
            if (tokens == 1)
                printf("        1 token: %.1f GB/s of packed weights (%zu bytes) = %.2f of the "
                       "read bandwidth\n",
                       (double)packed_bytes / t_fpq / 1e9, packed_bytes,
                       (double)packed_bytes / t_fpq / bw);
            if (tokens == 512)
                printf("        512 tokens: fpq %.0f Gop/s, sgemm %.0f GFLOP/s (2 ops a "
                       "multiply-add)\n",
                       2.0 * tokens * OUT * IN / t_fpq / 1e9,
                       blas_sgemm ? 2.0 * tokens * OUT * IN / t_blas / 1e9 : NAN);
            /* The AVX2 kernel too where the best is AVX-512 (VNNI): what CPUs without VNNI get. */
            if (strcmp(fpq_backend_name(), "avx512") == 0 && fpq_backend_available("avx2")) {
                double t_avx2;
                check(fpq_set_backend("avx2"), "fpq_set_backend");
                c.next = 0;
                t_avx2 = time_call(&c, FPQ_KERNEL);
                printf("        the avx2 kernel: %.3f ms (%.2fx sgemm)\n", t_avx2 * 1e3,
                       blas_sgemm ? t_blas / t_avx2 : NAN);
                check(fpq_set_backend("auto"), "fpq_set_backend");
            }
        }
    }
    free(wf);
    free(wcodes);
    free(sw);
    free(packed);
    for (cp = 0; cp < W_COPIES; cp++)
        free(copies[cp]);
    free(xf);
    free(y);
    free(act);
    free(readbuf);
    return 0;
}
