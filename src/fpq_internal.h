/*
 * fpq_internal.h - what the library's files share: the derived form of a format that kernels
 * consume, the kernel table, and small utilities. Not installed.
 */
#ifndef FPQ_INTERNAL_H
#define FPQ_INTERNAL_H

#include "fpq.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#  define FPQI_INLINE static inline __attribute__((always_inline))
#  define FPQI_HIDDEN __attribute__((visibility("hidden")))
#else
#  define FPQI_INLINE static inline
#  define FPQI_HIDDEN
#endif

/*
 * A format reduced to the constants the kernels need. Built once per public call by
 * fpqi_params_init(), after validation, so the hot loops never re-derive them.
 *
 * The rounding works on the exponent of the lowest binade: `emin` is the unbiased exponent of
 * the smallest normal (for E == 0, of the first value past the grid), and every value of a
 * binade with exponent e >= emin is a multiple of 2^(e - M); below emin the quantum is
 * 2^(emin - M). The code of a magnitude n * 2^(max(e, emin) - M) is then
 * ((max(e, emin) - emin) << M) + n, carries included: an IEEE-style encoding.
 */
typedef struct fpqi_params {
    int bits;          /* code width */
    int man_bits;      /* M */
    int exp_bits;      /* E */
    int family;        /* FPQ_FAMILY_* */
    int is_signed;
    int emin;          /* unbiased exponent of the smallest normal, >= -127 */
    int bias;
    uint32_t sign_bit; /* 1 << (bits - 1) for signed formats, 0 for unsigned */
    uint32_t max_mag;  /* code magnitude of the largest finite value */
    uint32_t nan_mag;  /* magnitude bits of the NaN code (IEEE, FN, E8M0) */
    uint32_t inf_mag;  /* magnitude bits of infinity (IEEE) */
    uint32_t code_mask;/* (1 << bits) - 1 */
    /* Encoder constants (see fpqi_encode): */
    uint32_t low_limit;   /* float32 bits of max(2^emin, 2^-126): below it, the fixed quantum */
    uint32_t round_add;   /* added to the float32 bits to round to M mantissa bits */
    uint32_t odd_mask;    /* 1, or 0 for M == 0 (whose ties always go up) */
    uint32_t rebias;      /* ((127 + emin - 1) << M): float32 exponent field to code field */
    float magic;          /* 2^(emin - M + 23): adding it rounds at the quantum 2^(emin - M) */
    int plain;            /* signed and neither FNUZ nor E8M0: saturation is a clamp */
} fpqi_params;

/* Validates fmt; fills *p (may be NULL) on success. Returns FPQ_OK or FPQ_ERR_FORMAT. */
FPQI_HIDDEN int fpqi_params_init(const fpq_format *fmt, fpqi_params *p);

/*
 * The kernel table: every hot loop of the library, one pointer each. The public entry points
 * validate arguments once and call through it; kernels never validate, allocate or fail, and
 * every backend gives the bits of the scalar reference.
 *
 * Kernels take a range [begin, end) of element indices of the whole array so that threads can
 * split work on byte boundaries of the packed stream; `begin` is a multiple of 8 (8 codes of
 * any width end on a byte boundary).
 */
typedef struct fpqi_kernels {
    const char *name;
    void (*quantize)(const fpqi_params *p, const float *x, size_t begin, size_t end,
                     float scale, unsigned flags, uint8_t *codes);
    void (*dequantize)(const fpqi_params *p, const uint8_t *codes, size_t begin, size_t end,
                       float scale, unsigned flags, float *y);
    void (*fake_quantize)(const fpqi_params *p, const float *x, size_t begin, size_t end,
                          float scale, unsigned flags, float *y);
    /* The same with a scale per group of 2^group_shift consecutive elements: element i has
     * scales[i >> group_shift] (per-column scales: shift 0; blocks of k: log2 k). Groups
     * start at element 0. Scales may be NaN (an MX NaN scale). With `reciprocals` not NULL
     * the caller guarantees every scale is a power of two whose reciprocal is a float32
     * (E8M0), so x * reciprocals[g] gives the bits of x / scales[g] and kernels may multiply. */
    void (*quantize_grouped)(const fpqi_params *p, const float *x, const float *scales,
                             const float *reciprocals, int group_shift, size_t n,
                             unsigned flags, uint8_t *codes);
    void (*dequantize_grouped)(const fpqi_params *p, const uint8_t *codes, const float *scales,
                               int group_shift, size_t n, unsigned flags, float *y);
    void (*fake_quantize_grouped)(const fpqi_params *p, const float *x, const float *scales,
                                  const float *reciprocals, int group_shift, size_t n,
                                  unsigned flags, float *y);
    /* float16 / bfloat16 (elem_type) <-> float32, with convert.h's rounding. */
    void (*widen)(int elem_type, const void *in, size_t n, float *out);
    void (*narrow)(int elem_type, const float *in, size_t n, void *out);
    /* out[i] = fpqi_table_entry(table, bits of x[i], shift, key_base, last) for i < n: the
     * search's slot lookup (search_eval.c), the part of its pass over the data that vectors
     * do. Integer work only: every backend gives the same bits. */
    void (*table_entries)(const float *x, size_t n, const uint32_t *table, int shift,
                          uint32_t key_base, uint32_t last, uint32_t *out);
    /* *amax_bits = the largest of itself and the |x| bits of the finite x[i], i < n;
     * *nonfinite += how many x[i] are NaN or Inf (the search's first pass, search.c). */
    void (*abs_max)(const float *x, size_t n, uint32_t *amax_bits, size_t *nonfinite);
} fpqi_kernels;

/* The table index of the float32 bits b: the key |b| >> shift less key_base, clamped to
 * [0, last] as an int32 (last < 2^31), as SIMD lanes compute it with a signed max and min. */
FPQI_INLINE uint32_t fpqi_table_index(uint32_t b, int shift, uint32_t key_base, uint32_t last)
{
    uint32_t at = ((b & 0x7fffffffu) >> shift) - key_base;
    at = at >= 0x80000000u ? 0 : at;
    return at > last ? last : at;
}

/* Marks the entry of a NaN or Inf (and, in the search's tables, a key that needs a scan). */
#define FPQI_TABLE_MARK 0x80000000u

/* The table entry of the float32 bits b, marked when b is NaN or Inf: the search's slow path
 * then skips the element, and its common path needs no test of its own. */
FPQI_INLINE uint32_t fpqi_table_entry(const uint32_t *table, uint32_t b, int shift,
                                      uint32_t key_base, uint32_t last)
{
    uint32_t e = table[fpqi_table_index(b, shift, key_base, last)];
    return (b & 0x7fffffffu) >= 0x7f800000u ? e | FPQI_TABLE_MARK : e;
}

/* SIMD backends are built where the compiler can target them per function; FPQ_NO_SIMD
 * leaves only the scalar reference. */
#if !defined(FPQ_NO_SIMD) && (defined(__x86_64__) || defined(_M_X64)) && defined(__GNUC__)
#  define FPQI_X86_SIMD 1
#else
#  define FPQI_X86_SIMD 0
#endif
#if !defined(FPQ_NO_SIMD) && defined(__aarch64__) && defined(__GNUC__)
#  define FPQI_ARM_SIMD 1
#else
#  define FPQI_ARM_SIMD 0
#endif

FPQI_HIDDEN extern const fpqi_kernels fpqi_kernels_scalar;
#if FPQI_X86_SIMD
FPQI_HIDDEN extern const fpqi_kernels fpqi_kernels_avx2;
FPQI_HIDDEN extern const fpqi_kernels fpqi_kernels_avx512;
#endif
#if FPQI_ARM_SIMD
FPQI_HIDDEN extern const fpqi_kernels fpqi_kernels_neon;
#endif

/* The kernel table in use: resolved on first use from the CPU's features, or forced by
 * fpq_set_backend(). One atomic load on the hot path. */
FPQI_HIDDEN const fpqi_kernels *fpqi_active_kernels(void);

/* The checks of an fpq_tensor descriptor that need no data (t not NULL): struct size and
 * reserved field, element type, granularity and block size (FPQ_ERR_ARGUMENT), a zero or
 * inconsistent shape (FPQ_ERR_SIZE), in that order; the byte extent is the caller's, which
 * knows its element size (tensor.c). */
FPQI_HIDDEN int fpqi_tensor_check(const fpq_tensor *t);

/* Threads a large call may use (fpq_set_num_threads, else the OpenMP default). */
FPQI_HIDDEN int fpqi_thread_count(void);

/* float <-> bits without aliasing trouble; compilers turn these into moves. */
FPQI_INLINE uint32_t fpqi_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

FPQI_INLINE float fpqi_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A valid scale: positive, finite, normal (bits 0x00800000 .. 0x7f7fffff). */
FPQI_INLINE int fpqi_scale_is_valid(float scale)
{
    uint32_t u = fpqi_f2u(scale);
    return u >= 0x00800000u && u <= 0x7f7fffffu;
}

#endif /* FPQ_INTERNAL_H */
