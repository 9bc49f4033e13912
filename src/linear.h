/*
 * linear.h - what the W4A4 linear layer (linear.c) shares with its per-ISA kernels
 * (kernels/linear_*.c): the layouts of the packed weights and activations, the problem a
 * kernel receives, the kernel table, and the one function that turns an integer dot product
 * into a float32 output. docs/linear.md explains the design. Not installed.
 */
#ifndef FPQ_LINEAR_H
#define FPQ_LINEAR_H

#include "fpq_internal.h"

/*
 * Packed weights (fpq_pack_weights): a 64-byte header, then a float32 scale per row for
 * out_pad rows (out rounded up to FPQI_LINEAR_CHUNK_ROWS; padding rows get scale 1), then the
 * codes from byte fpqi_linear_w_codes_offset(), tile after tile.
 *
 * A tile is FPQI_LINEAR_TILE_ROWS (16) consecutive rows; in_features is padded with zeros to
 * kpad, a multiple of 8. A tile holds kpad / 8 groups of 8 columns; a group is
 *   4-bit codes ("narrow"): 64 bytes; byte 4 r + j holds in its low nibble the code of row r,
 *     column 8 g + j, and in its high nibble the code of column 8 g + 4 + j (j = 0..3);
 *   wider codes ("wide", 5 to 8 bits): 128 bytes of signed integers (below), byte 4 r + j the
 *     value of column 8 g + j, byte 64 + 4 r + j that of column 8 g + 4 + j.
 * So one 4 * L-byte vector load gives L rows times 4 consecutive columns: what one step of
 * vpdpbusd / sdot consumes, after a 16-entry byte shuffle turns codes into integers.
 *
 * Activations (fpq_linear_pack_activations / fpq_linear_quantize_activations): a 64-byte
 * header, an int32 per token (the sum of its integers), then from fpqi_linear_x_data_offset()
 * one row of kpad signed bytes per token: element k's integer, zero past in_features.
 *
 * The integer of a code: every value of a supported format is int * 2^shift with shift =
 * emin - M (the quantum of its lowest binade) and |int| <= 127.
 */
#define FPQI_LINEAR_TILE_ROWS 16
#define FPQI_LINEAR_CHUNK_ROWS 32 /* rows a thread takes at a time: two tiles */
#define FPQI_LINEAR_HEADER_BYTES 64
#define FPQI_LINEAR_MAGIC_W 0x57515046u /* "FPQW" */
#define FPQI_LINEAR_MAGIC_X 0x58515046u /* "FPQX" */
#define FPQI_LINEAR_LAYOUT 1u
/* |sum of in_features products| must stay below this, so that acc * factor is exact in a
 * double (29 + 24 significant bits <= 53) */
#define FPQI_LINEAR_ACC_LIMIT ((uint64_t)1 << 29)

/* The header both blobs start with; copied in and out with memcpy (blobs may sit anywhere). */
typedef struct fpqi_linear_header {
    uint32_t magic;   /* FPQI_LINEAR_MAGIC_W or _X */
    uint32_t layout;  /* FPQI_LINEAR_LAYOUT */
    int32_t fmt[5];   /* exp_bits, man_bits, bias, family, is_signed */
    int32_t wide;     /* weights: 1 when stored as bytes of integers */
    uint64_t rows;    /* out_features (weights) or tokens (activations) */
    uint64_t cols;    /* in_features */
    float scale;      /* activations: the shared scale; weights: 0 */
    uint32_t reserved;
    uint8_t pad[8];
} fpqi_linear_header;

/* A supported format reduced to its integers. */
typedef struct fpqi_linear_format {
    fpqi_params p;
    int shift;         /* value = int * 2^shift */
    int max_abs;       /* largest |int| */
    int wide;          /* weights in this format are stored as bytes */
    int8_t ints[256];  /* the integer of every code (0 past 2^bits) */
} fpqi_linear_format;

/* One forward call as a kernel sees it (all validated). */
typedef struct fpqi_linear_problem {
    const uint8_t *w;        /* the first tile */
    size_t tile_bytes;       /* bytes from one tile to the next */
    const float *w_scales;   /* a scale per (padded) row */
    int wide;
    int x_max;               /* largest |integer| of the activation format */
    int8_t lut[16];          /* narrow weights: integer of every nibble code */
    const int8_t *x;         /* token rows */
    size_t x_stride;         /* kpad */
    const int32_t *x_sums;   /* a sum of integers per token */
    size_t tokens, out, groups; /* groups = kpad / 8 */
    float sx;
    double pow2;             /* 2^(shift_x + shift_w) */
    const float *bias;       /* NULL or out floats */
    float *y;
    size_t y_stride;
} fpqi_linear_problem;

/* Computes every token's outputs for rows [row_begin, row_end) (multiples of
 * FPQI_LINEAR_CHUNK_ROWS; row_end may pass out, rows past out are not written). */
typedef void (*fpqi_linear_kernel)(const fpqi_linear_problem *pb, size_t row_begin,
                                   size_t row_end);

FPQI_HIDDEN void fpqi_linear_scalar(const fpqi_linear_problem *pb, size_t row_begin,
                                    size_t row_end);
#if FPQI_X86_SIMD
FPQI_HIDDEN void fpqi_linear_avx2(const fpqi_linear_problem *pb, size_t row_begin,
                                  size_t row_end);
FPQI_HIDDEN void fpqi_linear_avx512_vnni(const fpqi_linear_problem *pb, size_t row_begin,
                                         size_t row_end);
#endif
#if FPQI_ARM_SIMD
FPQI_HIDDEN void fpqi_linear_neon(const fpqi_linear_problem *pb, size_t row_begin,
                                  size_t row_end);
FPQI_HIDDEN void fpqi_linear_neon_dot(const fpqi_linear_problem *pb, size_t row_begin,
                                      size_t row_end);
#endif

/* The factor of row r: sx * sw[r] * 2^(shift_x + shift_w), exact in double (two float32
 * significands make at most 48 bits; the power of two only moves the exponent). */
FPQI_INLINE double fpqi_linear_row_factor(const fpqi_linear_problem *pb, size_t r)
{
    return (double)pb->sx * (double)pb->w_scales[r] * pb->pow2;
}

/*
 * The output from the exact integer dot product, with the arithmetic and order of
 * fpq_reparam_linear_reference (whose double sum of unscaled values is acc * 2^shift exactly):
 * prod = acc * factor rounded to double, plus the bias in double, then rounded to float32.
 * When the factor has at most 24 significant bits (one of the scales a power of two, say),
 * acc * factor is exact (|acc| < 2^29) and without bias the float32 rounding is the only one.
 * Every backend calls this, so they agree to the bit.
 */
FPQI_INLINE float fpqi_linear_finish(int32_t acc, double factor, const float *bias, size_t r)
{
    double prod = (double)acc * factor;
    return (float)(bias ? prod + (double)bias[r] : prod);
}

/* acc - k * sum with 32-bit wrap-around, as the vector units compute it (a blob changed by
 * the caller may make the sum overflow; valid ones never do). */
FPQI_INLINE int32_t fpqi_linear_wrap_sub(uint32_t acc, uint32_t k, uint32_t sum)
{
    uint32_t d = acc - k * sum;
    return d < 0x80000000u ? (int32_t)d : -(int32_t)(~d) - 1;
}

#endif /* FPQ_LINEAR_H */
