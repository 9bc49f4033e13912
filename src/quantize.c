/*
 * quantize.c - the public per-array kernels: every argument is checked here, once, before any
 * output is written; then the range is cut into chunks (threads, when built with OpenMP) and
 * handed to the active kernel table inside the default floating-point environment.
 */
#include "fpenv.h"
#include "fpq_round.h"

#include <stdint.h>

#define KNOWN_FLAGS (FPQ_UNPACKED | FPQ_NO_SATURATE)

/* Arrays below this many elements stay on the calling thread: a parallel region costs more. */
#define PARALLEL_MIN ((size_t)1 << 18)
/* Chunk length for threads: a multiple of 8 so that every chunk starts on a byte boundary. */
#define CHUNK ((size_t)1 << 16)

enum op { OP_QUANTIZE, OP_DEQUANTIZE, OP_FAKE_QUANTIZE };

typedef struct job {
    enum op op;
    const fpqi_kernels *k;
    const fpqi_params *p;
    const void *in;
    void *out;
    float scale;
    unsigned flags;
} job;

static void run_range(const job *j, size_t begin, size_t end)
{
    fpqi_fpenv env;

    fpqi_fpenv_enter(&env);
    switch (j->op) {
    case OP_QUANTIZE:
        j->k->quantize(j->p, (const float *)j->in, begin, end, j->scale, j->flags,
                       (uint8_t *)j->out);
        break;
    case OP_DEQUANTIZE:
        j->k->dequantize(j->p, (const uint8_t *)j->in, begin, end, j->scale, j->flags,
                         (float *)j->out);
        break;
    case OP_FAKE_QUANTIZE:
        j->k->fake_quantize(j->p, (const float *)j->in, begin, end, j->scale, j->flags,
                            (float *)j->out);
        break;
    }
    fpqi_fpenv_leave(&env);
}

/* Every element's result depends on that element alone, so any split gives the same bits. */
static void run(const job *j, size_t n)
{
#ifdef _OPENMP
    int threads = fpqi_thread_count();
    if (n >= PARALLEL_MIN && threads > 1) {
        long long chunks = (long long)((n + CHUNK - 1) / CHUNK), c;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (c = 0; c < chunks; c++) {
            size_t begin = (size_t)c * CHUNK;
            size_t end = begin + CHUNK < n ? begin + CHUNK : n;
            run_range(j, begin, end);
        }
        return;
    }
#endif
    run_range(j, 0, n);
}

static int ranges_overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + b_len && pb < pa + a_len;
}

static int float_misaligned(const void *ptr)
{
    return ((uintptr_t)ptr & (sizeof(float) - 1)) != 0;
}

/* The checks shared by every kernel, in the documented order. */
static int check_common(const fpq_format *fmt, fpqi_params *p, const void *in, const void *out,
                        size_t n, float scale, unsigned flags)
{
    int status;
    if (!fmt || !in || !out)
        return FPQ_ERR_NULL;
    status = fpqi_params_init(fmt, p);
    if (status != FPQ_OK)
        return status;
    if (n == 0 || n > SIZE_MAX / sizeof(float))
        return FPQ_ERR_SIZE;
    if (!fpqi_scale_is_valid(scale))
        return FPQ_ERR_SCALE;
    if (flags & ~(unsigned)KNOWN_FLAGS)
        return FPQ_ERR_FLAGS;
    return FPQ_OK;
}

static size_t code_bytes(const fpqi_params *p, size_t n, unsigned flags)
{
    return (flags & FPQ_UNPACKED) ? n : fpqi_stream_bytes(n, p->bits);
}

size_t fpq_packed_size(const fpq_format *fmt, size_t n, unsigned flags)
{
    fpqi_params p;

    if (fpqi_params_init(fmt, &p) != FPQ_OK || (flags & ~(unsigned)KNOWN_FLAGS))
        return 0;
    if (n > SIZE_MAX / sizeof(float))
        return 0;
    return code_bytes(&p, n, flags);
}

int fpq_quantize(const fpq_format *fmt, const float *x, size_t n, float scale, unsigned flags,
                 void *codes)
{
    fpqi_params p;
    job j;
    int status = check_common(fmt, &p, x, codes, n, scale, flags);

    if (status != FPQ_OK)
        return status;
    if (float_misaligned(x))
        return FPQ_ERR_ALIGN;
    if (ranges_overlap(x, n * sizeof(float), codes, code_bytes(&p, n, flags)))
        return FPQ_ERR_OVERLAP;
    j.op = OP_QUANTIZE;
    j.k = fpqi_active_kernels();
    j.p = &p;
    j.in = x;
    j.out = codes;
    j.scale = scale;
    j.flags = flags;
    run(&j, n);
    return FPQ_OK;
}

int fpq_dequantize(const fpq_format *fmt, const void *codes, size_t n, float scale,
                   unsigned flags, float *y)
{
    fpqi_params p;
    job j;
    int status = check_common(fmt, &p, codes, y, n, scale, flags);

    if (status != FPQ_OK)
        return status;
    if (float_misaligned(y))
        return FPQ_ERR_ALIGN;
    if (ranges_overlap(codes, code_bytes(&p, n, flags), y, n * sizeof(float)))
        return FPQ_ERR_OVERLAP;
    j.op = OP_DEQUANTIZE;
    j.k = fpqi_active_kernels();
    j.p = &p;
    j.in = codes;
    j.out = y;
    j.scale = scale;
    j.flags = flags;
    run(&j, n);
    return FPQ_OK;
}

int fpq_fake_quantize(const fpq_format *fmt, const float *x, size_t n, float scale,
                      unsigned flags, float *y)
{
    fpqi_params p;
    job j;
    int status = check_common(fmt, &p, x, y, n, scale, flags);

    if (status != FPQ_OK)
        return status;
    if (float_misaligned(x) || float_misaligned(y))
        return FPQ_ERR_ALIGN;
    if (x != y && ranges_overlap(x, n * sizeof(float), y, n * sizeof(float)))
        return FPQ_ERR_OVERLAP;
    j.op = OP_FAKE_QUANTIZE;
    j.k = fpqi_active_kernels();
    j.p = &p;
    j.in = x;
    j.out = y;
    j.scale = scale;
    j.flags = flags;
    run(&j, n);
    return FPQ_OK;
}
