/*
 * dispatch.c - the run-time choices: which kernel table (from the CPU's features, once) and
 * how many threads a large call may use.
 *
 * The active table is one pointer, read with an acquire load on every call and written with a
 * release store (the resolver's first choice, or fpq_set_backend). The resolver may run in
 * several threads at once on a cold start; they compute the same answer and the first
 * compare-and-swap wins, so a forced choice is never overwritten by a late resolver.
 */
#include "fpq_internal.h"

#if FPQI_X86_SIMD
#  include <cpuid.h>
#endif
#if FPQI_ARM_SIMD && defined(__linux__)
#  include <sys/auxv.h>
#endif
#ifdef _OPENMP
#  include <omp.h>
#endif

#if defined(__GNUC__)
#  define LOAD_ACQUIRE(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#  define STORE_RELEASE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#  define CAS(p, expected, desired) \
      __atomic_compare_exchange_n((p), (expected), (desired), 0, __ATOMIC_ACQ_REL, \
                                  __ATOMIC_ACQUIRE)
#else /* single-threaded fallback for compilers without the GNU atomics */
#  define LOAD_ACQUIRE(p) (*(p))
#  define STORE_RELEASE(p, v) (*(p) = (v))
#  define CAS(p, expected, desired) (*(p) == *(expected) ? (*(p) = (desired), 1) : 0)
#endif

/* ------------------------------------------------------------------------------------------ */
/* CPU features */

#if FPQI_X86_SIMD
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* AVX2 needs the CPU flags and the OS saving YMM state (XCR0 bits 1-2); AVX-512 also needs
 * opmask and ZMM state (bits 5-7). */
static int x86_has(int want_avx512)
{
    unsigned a, b, c, d;
    uint64_t xcr0;
    int avx2, avx512;

    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    if (!(c & (1u << 27)) || !(c & (1u << 28)) || !(c & (1u << 12)) || !(c & (1u << 29)))
        return 0; /* OSXSAVE, AVX, FMA, F16C */
    xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6)
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    avx2 = (b >> 5) & 1;
    if (!want_avx512)
        return avx2;
    avx512 = ((b >> 16) & 1) && ((b >> 17) & 1) && ((b >> 30) & 1) && ((b >> 31) & 1);
    return avx2 && avx512 && (xcr0 & 0xe6) == 0xe6; /* F, DQ, BW, VL */
}

static int has_avx2(void) { return x86_has(0); }
static int has_avx512(void) { return x86_has(1); }
#endif

#if FPQI_ARM_SIMD
/* Advanced SIMD is part of the AArch64 base architecture; the auxiliary vector confirms the
 * kernel reports it (HWCAP_ASIMD, bit 1). */
static int has_neon(void)
{
#  if defined(__linux__)
    return (getauxval(AT_HWCAP) & (1ul << 1)) != 0;
#  else
    return 1;
#  endif
}
#endif

static int always(void) { return 1; }

typedef struct backend {
    const char *name;
    const fpqi_kernels *kernels;
    int (*available)(void);
} backend;

/* Best first. */
static const backend backends[] = {
#if FPQI_X86_SIMD
    {"avx512", &fpqi_kernels_avx512, has_avx512},
    {"avx2", &fpqi_kernels_avx2, has_avx2},
#endif
#if FPQI_ARM_SIMD
    {"neon", &fpqi_kernels_neon, has_neon},
#endif
    {"scalar", &fpqi_kernels_scalar, always},
};
#define NUM_BACKENDS ((int)(sizeof backends / sizeof backends[0]))

static const fpqi_kernels *best_kernels(void)
{
    int i;
    for (i = 0; i < NUM_BACKENDS - 1; i++)
        if (backends[i].available())
            return backends[i].kernels;
    return &fpqi_kernels_scalar;
}

static const fpqi_kernels *active;

const fpqi_kernels *fpqi_active_kernels(void)
{
    const fpqi_kernels *k = LOAD_ACQUIRE(&active), *expected = NULL;
    if (k)
        return k;
    k = best_kernels();
    if (!CAS(&active, &expected, k))
        k = expected; /* another thread resolved or forced first */
    return k;
}

static const backend *find_backend(const char *name)
{
    int i, j;
    for (i = 0; i < NUM_BACKENDS; i++) {
        for (j = 0; name[j] && name[j] == backends[i].name[j]; j++)
            ;
        if (!name[j] && !backends[i].name[j])
            return &backends[i];
    }
    return NULL;
}

const char *fpq_backend_name(void)
{
    return fpqi_active_kernels()->name;
}

const char *fpq_backend_at(int index)
{
    return (index >= 0 && index < NUM_BACKENDS) ? backends[index].name : NULL;
}

int fpq_backend_available(const char *name)
{
    const backend *b = name ? find_backend(name) : NULL;
    return b && b->available() ? 1 : 0;
}

int fpq_set_backend(const char *name)
{
    const backend *b;
    const fpqi_kernels *k;

    if (!name)
        return FPQ_ERR_NULL;
    if (name[0] == 'a' && name[1] == 'u' && name[2] == 't' && name[3] == 'o' && !name[4]) {
        k = best_kernels();
    } else {
        b = find_backend(name);
        if (!b)
            return FPQ_ERR_NAME;
        if (!b->available())
            return FPQ_ERR_UNSUPPORTED;
        k = b->kernels;
    }
    STORE_RELEASE(&active, k);
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Threads */

static int requested_threads; /* 0: the OpenMP default */

int fpq_set_num_threads(int n)
{
    if (n < 0 || n > 4096)
        return FPQ_ERR_ARGUMENT;
    STORE_RELEASE(&requested_threads, n);
    return FPQ_OK;
}

int fpqi_thread_count(void)
{
#ifdef _OPENMP
    int n = LOAD_ACQUIRE(&requested_threads);
    return n > 0 ? n : omp_get_max_threads();
#else
    return 1;
#endif
}

int fpq_num_threads(void)
{
    return fpqi_thread_count();
}
