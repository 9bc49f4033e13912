/*
 * threads.c - a ThreadSanitizer stress test of fpq's thread-safety claims (include/fpq.h:
 * "safe to call from several threads at once on different buffers"; the backend "choice is
 * made once, on first use, thread-safely"; fpq_set_backend is "safe to call at any time").
 *
 * 16 threads wait at a barrier and then make their first fpq call at the same moment, so the
 * lazy backend resolution of src/dispatch.c runs in all of them at once (one thread's first
 * call is fpq_set_backend, racing the resolvers). Then each thread quantizes, dequantizes and
 * fake-quantizes its own arrays in a loop (its own format, flags, scale and length), while
 * thread 0 keeps switching backends with fpq_set_backend and changing the thread count. Every
 * result is checked against results computed before the threads started, without calling fpq
 * (tests/fuzz/fuzz_model.h, an independent model of the documented rounding): a call's bits
 * may not depend on the backend it ran on, so they must match whichever backends ran.
 * Nothing in the process calls fpq before the barrier.
 *
 * Build and run with .ci/tsan.sh (clang -fsanitize=thread, OpenMP off). Usage:
 *   threads [ITERATIONS]      (default 40); exits 0 if every check passed, 1 otherwise.
 */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#  undef _POSIX_C_SOURCE
#  define _POSIX_C_SOURCE 200809L
#endif

#include "fpq.h"
#include "../fuzz/fuzz_model.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 16
#define MAX_BACKENDS 8

typedef struct work {
    int id;
    fpq_format fmt;
    fm_format model;
    unsigned flags;
    float scale;
    size_t n, code_bytes;
    float *x;
    uint32_t *want_fake;    /* expected fake-quantize / dequantize bits */
    unsigned char *any_nan; /* 1: any quiet NaN of either sign (sign left open by the docs) */
    int *want_code;         /* expected code, -1: any documented NaN code (fm_code_ok) */
    fm_expect *expect;
    /* per thread results */
    uint8_t *codes, *first_codes;
    float *y, *z;
    long checks, failures;
} work;

static pthread_barrier_t barrier;
static work works[NTHREADS];
static int iterations = 40;
static long failures_total;
static long backend_iterations[MAX_BACKENDS + 1];
static const char *backend_names[MAX_BACKENDS];
static int num_backends;        /* written by thread 0 before it starts switching */

static uint64_t mix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void fail(work *w, const char *what, size_t i, uint32_t got, uint32_t want)
{
    if (w->failures++ < 5)
        fprintf(stderr, "thread %d: %s, element %zu: got %#x, want %#x (x = %#x)\n", w->id, what,
                i, got, want, fm_f2u(w->x[i]));
    __atomic_fetch_add(&failures_total, 1, __ATOMIC_RELAXED);
}

/* ---- before the threads: data and expectations, without fpq ---------------------------- */

static void hand_format(fpq_format *f, int e, int m, int bias, int family, int is_signed)
{
    memset(f, 0, sizeof *f);
    f->exp_bits = e;
    f->man_bits = m;
    f->bias = bias;
    f->family = family;
    f->is_signed = is_signed;
}

static void prepare(work *w, int id)
{
    static const struct { int e, m, bias, family, is_signed; } formats[] = {
        {2, 1, 1, FPQ_FAMILY_FINITE, 1},   /* float4_e2m1fn */
        {4, 3, 7, FPQ_FAMILY_FN, 1},       /* float8_e4m3fn */
        {5, 2, 15, FPQ_FAMILY_IEEE, 1},    /* float8_e5m2 */
        {8, 0, 127, FPQ_FAMILY_E8M0, 0},   /* float8_e8m0fnu */
        {3, 2, 3, FPQ_FAMILY_FINITE, 1},   /* float6_e3m2fn */
        {4, 3, 8, FPQ_FAMILY_FNUZ, 1},     /* float8_e4m3fnuz */
        {0, 3, 0, FPQ_FAMILY_FINITE, 1},   /* e0m3 */
        {3, 4, 3, FPQ_FAMILY_IEEE, 0},     /* an unsigned IEEE split */
    };
    static const float scales[] = {1.0f, 0.37f, 0.0078125f, 3.0f, 1e-30f, 65536.0f};
    static const uint32_t specials[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f800000u,
                                        0xff800000u, 0x80000000u, 0u, 1u, 0x80000001u,
                                        0x007fffffu, 0x7f7fffffu, 0xff7fffffu};
    const size_t nf = sizeof formats / sizeof formats[0];
    uint64_t seed = 0x1234u + (uint64_t)id * 977u;
    size_t i;
    int c;

    memset(w, 0, sizeof *w);
    w->id = id;
    hand_format(&w->fmt, formats[id % nf].e, formats[id % nf].m, formats[id % nf].bias,
                formats[id % nf].family, formats[id % nf].is_signed);
    fm_init(&w->model, &w->fmt);
    if (!fm_lib_valid(&w->model)) {
        fprintf(stderr, "thread %d: the model says its format is invalid\n", id);
        exit(2);
    }
    w->flags = (unsigned)(id / (int)nf) % 4u; /* FPQ_UNPACKED, FPQ_NO_SATURATE */
    if (id % 3 == 2)
        w->flags ^= FPQ_NO_SATURATE;
    w->scale = scales[id % (sizeof scales / sizeof scales[0])];
    w->n = 700 + 97 * (size_t)id; /* past 2^8 codes and several 256-element blocks */
    w->code_bytes = fm_code_bytes(w->n, w->model.bits, w->flags);
    w->x = malloc(w->n * sizeof(float));
    w->want_fake = malloc(w->n * sizeof(uint32_t));
    w->any_nan = malloc(w->n);
    w->want_code = malloc(w->n * sizeof(int));
    w->expect = malloc(w->n * sizeof(fm_expect));
    w->codes = calloc(w->code_bytes, 1);
    w->first_codes = malloc(w->code_bytes);
    w->y = malloc(w->n * sizeof(float));
    w->z = malloc(w->n * sizeof(float));
    if (!w->x || !w->want_fake || !w->any_nan || !w->want_code || !w->expect || !w->codes ||
        !w->first_codes || !w->y || !w->z) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (i = 0; i < w->n; i++) {
        uint64_t r = mix(&seed);
        float q;
        if (r % 10 < 6) { /* the grid: values, midpoints (ties), neighbours */
            const fm_format *m = &w->model;
            int k = (int)((r >> 8) % (uint64_t)m->num_values);
            double a = m->values[k], b = k + 1 < m->num_values ? m->values[k + 1] : a * 1.5;
            uint32_t qb;
            q = (r >> 20) & 1 ? (float)((a + b) / 2.0) : (float)a;
            qb = fm_f2u(q);
            if ((r >> 21) % 4 == 0 && (qb & 0x7fffffffu))
                qb += (r >> 23) & 1 ? 1u : (uint32_t)-1;
            q = fm_u2f(qb);
            w->x[i] = q * w->scale;
        } else if (r % 10 < 9) {
            w->x[i] = (float)((double)((int64_t)(r >> 12) % 2000001 - 1000000) / 1e6 *
                              (double)w->model.max_finite * 2.0 * (double)w->scale);
        } else {
            w->x[i] = fm_u2f(specials[(r >> 8) % (sizeof specials / sizeof specials[0])]);
        }
    }
    for (i = 0; i < w->n; i++) {
        fm_expect e = fm_round(&w->model, fm_divide(w->x[i], w->scale), w->flags);
        w->expect[i] = e;
        w->want_fake[i] = fm_scaled_bits(e, w->scale);
        w->any_nan[i] = e.kind == FM_NAN && !e.sign_known;
        w->want_code[i] = -1;
        if (e.kind != FM_NAN) {
            for (c = 0; c < w->model.num_codes; c++)
                if (w->model.code_kind[c] == e.kind && w->model.code_bits[c] == e.bits)
                    w->want_code[i] = c;
            if (w->want_code[i] < 0) {
                fprintf(stderr, "thread %d: no code for expected bits %#x\n", id, e.bits);
                exit(2);
            }
        }
    }
}

/* ---- the threads --------------------------------------------------------------------------- */

static int float_ok(const work *w, size_t i, uint32_t got)
{
    if (w->any_nan[i])
        return (got & 0x7fffffffu) == FM_QNAN;
    return got == w->want_fake[i];
}

static void check_codes(work *w, int first)
{
    size_t i;
    for (i = 0; i < w->n; i++) {
        unsigned c = (w->flags & FPQ_UNPACKED) ? w->codes[i]
                                               : fm_stream_code(w->codes, i, w->model.bits);
        int ok = w->want_code[i] >= 0 ? (int)c == w->want_code[i]
                                      : fm_code_ok(&w->model, w->expect[i], c);
        if (!ok)
            fail(w, "quantize code", i, c, (uint32_t)w->want_code[i]);
    }
    if (first)
        memcpy(w->first_codes, w->codes, w->code_bytes);
    else if (memcmp(w->first_codes, w->codes, w->code_bytes) != 0)
        fail(w, "quantize codes differ from the first iteration's", 0, 0, 0);
    w->checks++;
}

static void check_floats(work *w, const float *y, const char *what)
{
    size_t i;
    for (i = 0; i < w->n; i++) {
        uint32_t got = fm_f2u(y[i]);
        if (!float_ok(w, i, got))
            fail(w, what, i, got, w->want_fake[i]);
    }
    w->checks++;
}

static void count_backend(void)
{
    const char *name = fpq_backend_name();
    int i, n = __atomic_load_n(&num_backends, __ATOMIC_ACQUIRE);
    for (i = 0; i < n; i++)
        if (!strcmp(name, backend_names[i]))
            break;
    if (i == n)
        i = MAX_BACKENDS; /* before thread 0 listed them */
    __atomic_fetch_add(&backend_iterations[i], 1, __ATOMIC_RELAXED);
}

static int switch_count;
static int workers_done;

/* Thread 0 between its calls: the next backend in the list, or "auto", and a thread count. */
static void switch_backend(work *w)
{
    int n = num_backends, k = switch_count++ % (num_backends + 1), st;
    const char *next = k < n ? backend_names[k] : "auto";
    st = fpq_set_backend(next);
    if (st != FPQ_OK && !(st == FPQ_ERR_UNSUPPORTED && !fpq_backend_available(next)))
        fail(w, "fpq_set_backend", (size_t)k, (uint32_t)st, 0);
    if (fpq_set_num_threads(switch_count % 5) != FPQ_OK || fpq_num_threads() < 1)
        fail(w, "fpq_set_num_threads", 0, 0, 0);
}

static void iteration(work *w, int it, int switching)
{
    int st;
    if (switching)
        switch_backend(w);
    count_backend();
    st = fpq_quantize(&w->fmt, w->x, w->n, w->scale, w->flags, w->codes);
    if (st != FPQ_OK)
        fail(w, "fpq_quantize status", 0, (uint32_t)st, 0);
    else
        check_codes(w, it == 0);
    if (switching)
        switch_backend(w);
    st = fpq_dequantize(&w->fmt, w->codes, w->n, w->scale, w->flags, w->y);
    if (st != FPQ_OK)
        fail(w, "fpq_dequantize status", 0, (uint32_t)st, 0);
    else
        check_floats(w, w->y, "dequantize(quantize(x))");
    if (switching)
        switch_backend(w);
    st = fpq_fake_quantize(&w->fmt, w->x, w->n, w->scale, w->flags, w->y);
    if (st != FPQ_OK)
        fail(w, "fpq_fake_quantize status", 0, (uint32_t)st, 0);
    else
        check_floats(w, w->y, "fake_quantize(x)");
    if (switching)
        switch_backend(w);
    memcpy(w->z, w->x, w->n * sizeof(float));
    st = fpq_fake_quantize(&w->fmt, w->z, w->n, w->scale, w->flags, w->z);
    if (st != FPQ_OK)
        fail(w, "fpq_fake_quantize in place status", 0, (uint32_t)st, 0);
    else
        check_floats(w, w->z, "fake_quantize in place");
}

static void *worker(void *arg)
{
    work *w = arg;
    int it, st;

    pthread_barrier_wait(&barrier);
    /* The first fpq call of every thread, all at once: each resolves the backend lazily. */
    switch (w->id % 4) {
    case 0:
        st = fpq_fake_quantize(&w->fmt, w->x, w->n, w->scale, w->flags, w->y);
        if (st == FPQ_OK)
            check_floats(w, w->y, "first fake_quantize");
        break;
    case 1:
        st = fpq_quantize(&w->fmt, w->x, w->n, w->scale, w->flags, w->codes);
        if (st == FPQ_OK)
            check_codes(w, 1);
        break;
    case 2:
        if (!fpq_backend_name()[0])
            fail(w, "empty backend name", 0, 0, 0);
        st = FPQ_OK;
        break;
    default:
        st = fpq_dequantize(&w->fmt, w->codes, w->n < 8 ? w->n : 8, w->scale,
                            w->flags | FPQ_UNPACKED, w->y); /* any code bytes: a lookup */
        break;
    }
    if (st != FPQ_OK)
        fail(w, "first call status", 0, (uint32_t)st, 0);
    for (it = 0; it < iterations; it++)
        iteration(w, it, 0);
    __atomic_fetch_add(&workers_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Thread 0: its first call sets a backend while the others resolve theirs; then it works like
 * the others, switching backends and thread counts before each of its calls, and keeps
 * switching until every other thread is done. */
static void *switcher(void *arg)
{
    work *w = arg;
    const char *name;
    int it, i, st, n = 0;

    pthread_barrier_wait(&barrier);
    st = fpq_set_backend("scalar");
    if (st != FPQ_OK)
        fail(w, "fpq_set_backend(scalar) as the first call", 0, (uint32_t)st, 0);
    for (i = 0; (name = fpq_backend_at(i)) != NULL && n < MAX_BACKENDS; i++)
        backend_names[n++] = name;
    __atomic_store_n(&num_backends, n, __ATOMIC_RELEASE);
    for (it = 0; it < iterations; it++)
        iteration(w, it, 1);
    while (__atomic_load_n(&workers_done, __ATOMIC_ACQUIRE) < NTHREADS - 1) {
        switch_backend(w);
        sched_yield();
    }
    fpq_set_backend("auto");
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t threads[NTHREADS];
    long checks = 0;
    int i;

    if (argc > 1)
        iterations = atoi(argv[1]) > 0 ? atoi(argv[1]) : 1;
    for (i = 0; i < NTHREADS; i++)
        prepare(&works[i], i);
    if (pthread_barrier_init(&barrier, NULL, NTHREADS) != 0) {
        fprintf(stderr, "pthread_barrier_init failed\n");
        return 2;
    }
    for (i = 0; i < NTHREADS; i++) {
        if (pthread_create(&threads[i], NULL, i == 0 ? switcher : worker, &works[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    }
    for (i = 0; i < NTHREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);

    for (i = 0; i < NTHREADS; i++)
        checks += works[i].checks;
    printf("%d threads x %d iterations, %ld array checks, %ld failures; iterations per backend:",
           NTHREADS, iterations, checks, failures_total);
    for (i = 0; i < num_backends; i++)
        printf(" %s %ld", backend_names[i], backend_iterations[i]);
    printf(" (unlisted yet %ld); %d backend switches\n", backend_iterations[MAX_BACKENDS],
           switch_count);
    for (i = 0; i < NTHREADS; i++) {
        work *w = &works[i];
        free(w->x);
        free(w->want_fake);
        free(w->any_nan);
        free(w->want_code);
        free(w->expect);
        free(w->codes);
        free(w->first_codes);
        free(w->y);
        free(w->z);
    }
    return failures_total ? 1 : 0;
}
