/*
 * fpq.h - low-bit floating-point quantization (FP4 / FP6 / FP8) for neural networks.
 *
 * This header is the whole public contract of libfpq. Every declaration carries its own
 * documentation: what it does, what it returns, and what it guarantees on bad input.
 *
 * Conventions that hold for every function below:
 *   - Functions that can fail return an `int` status: FPQ_OK (0) or a negative FPQ_ERR_* code;
 *     fpq_status_string() names it.
 *   - On any error nothing is written to any output buffer.
 *   - The library never allocates in these calls, never prints, never reads files and never
 *     aborts; it is safe to call from several threads at once on different buffers.
 *   - Results do not depend on the caller's floating-point environment: rounding mode and
 *     flush-to-zero / denormals-are-zero are set to the IEEE defaults for the duration of a call
 *     and restored before it returns.
 *   - Enumerations are passed as `int`; there is no `bool`, `long` or bit-field in the API, and
 *     no struct is returned by value, so every function is easy to reach through FFI.
 *
 * C99, and includable from C++.
 */
#ifndef FPQ_H
#define FPQ_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Export control and version
 * ------------------------------------------------------------------------------------------- */

#ifndef FPQ_API
#  if defined(_WIN32) && defined(FPQ_BUILDING_DLL)
#    define FPQ_API __declspec(dllexport)
#  elif defined(__GNUC__) && __GNUC__ >= 4
#    define FPQ_API __attribute__((visibility("default")))
#  else
#    define FPQ_API
#  endif
#endif

#define FPQ_VERSION_MAJOR 0
#define FPQ_VERSION_MINOR 1
#define FPQ_VERSION_PATCH 0
/* One integer that orders versions: major * 10000 + minor * 100 + patch. */
#define FPQ_VERSION_NUMBER \
    (FPQ_VERSION_MAJOR * 10000 + FPQ_VERSION_MINOR * 100 + FPQ_VERSION_PATCH)
#define FPQ_VERSION_STRING "0.1.0"

/* The version of the library actually linked or loaded, as FPQ_VERSION_NUMBER encodes it.
 * Compare with FPQ_VERSION_NUMBER to detect a header / library mismatch. */
FPQ_API int fpq_version(void);
/* The same as a string, e.g. "0.1.0". Never NULL; static storage. */
FPQ_API const char *fpq_version_string(void);

/* For programs that load fpq dynamically (dlopen, FFI): call it first, passing the
 * FPQ_VERSION_NUMBER of the header the program was compiled (or written) against.
 * Returns FPQ_OK if the loaded library is compatible with that header: the same major version
 * and the library's minor.patch >= the header's (a newer library of the same major version
 * keeps every declaration of an older header; docs/abi.md). Else FPQ_ERR_UNSUPPORTED (an
 * older library, another major version, or a negative number). */
FPQ_API int fpq_check_version(int header_version);

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */

enum {
    FPQ_OK = 0,
    FPQ_ERR_NULL = -1,         /* a required pointer argument is NULL */
    FPQ_ERR_SIZE = -2,         /* a count is zero, or a byte size it implies overflows size_t */
    FPQ_ERR_FORMAT = -3,       /* the format descriptor is invalid (see fpq_format_make) */
    FPQ_ERR_SCALE = -4,        /* a scale is zero, negative, subnormal, infinite or NaN */
    FPQ_ERR_FLAGS = -5,        /* unknown flag bits */
    FPQ_ERR_NAME = -6,         /* a format name that fpq does not know */
    FPQ_ERR_CAPACITY = -7,     /* an output array is too small for the result */
    FPQ_ERR_OVERLAP = -8,      /* input and output buffers overlap where that is not allowed */
    FPQ_ERR_ALIGN = -9,        /* a float pointer is not aligned to 4 bytes */
    FPQ_ERR_ARGUMENT = -10,    /* any other out-of-range argument (e.g. a non-finite max value) */
    FPQ_ERR_UNSUPPORTED = -11, /* a backend this CPU or build lacks, or an incompatible version */
    FPQ_ERR_MEMORY = -12       /* an allocation failed (only the calls that allocate) */
};

/* A short English description of a status code ("ok", "null pointer", ...). Unknown codes give
 * "unknown status". Never NULL; static storage. */
FPQ_API const char *fpq_status_string(int status);

/* ---------------------------------------------------------------------------------------------
 * Formats
 *
 * A format is sign / exponent / mantissa bits, an integer exponent bias and a family that says
 * which codes are special. Its values are:
 *   exponent field e >= 1 (normal):  (1 + m / 2^M) * 2^(e - bias)
 *   exponent field e == 0:           (m / 2^M) * 2^(1 - bias)        (subnormals and zero)
 *   E == 0 (no exponent bits):       m * 2^(-bias)                   (a uniform integer grid)
 *   family E8M0:                     2^(code - bias), no zero, no sign
 * with the codes the family reserves taken out:
 *
 *   family           infinities                  NaN                          example
 *   FPQ_FAMILY_IEEE   all-ones exponent, m == 0   all-ones exponent, m != 0   float8_e5m2
 *   FPQ_FAMILY_FN     none                        all-ones exponent and m     float8_e4m3fn
 *   FPQ_FAMILY_FNUZ   none                        the negative-zero code;     float8_e4m3fnuz
 *                                                 there is no -0
 *   FPQ_FAMILY_FINITE none                        none: every code a number   float4_e2m1fn
 *   FPQ_FAMILY_E8M0   none                        all-ones code               float8_e8m0fnu
 *
 * Code layout: sign bit on top (signed formats), then E exponent bits, then M mantissa bits;
 * a code is the low (sign + E + M) bits of an unsigned integer.
 *
 * The struct below never changes size or layout (32 bytes). Fill it with fpq_format_make() or
 * fpq_format_from_name(); a hand-filled one is checked by every call that takes it.
 * ------------------------------------------------------------------------------------------- */

enum {
    FPQ_FAMILY_IEEE = 1,
    FPQ_FAMILY_FN = 2,
    FPQ_FAMILY_FNUZ = 3,
    FPQ_FAMILY_FINITE = 4,
    FPQ_FAMILY_E8M0 = 5
};

typedef struct fpq_format {
    int exp_bits;    /* E: 0..8 */
    int man_bits;    /* M: 0..7 */
    int bias;        /* integer exponent bias */
    int family;      /* FPQ_FAMILY_* */
    int is_signed;   /* 1: a sign bit on top of the code; 0: unsigned */
    int reserved[3]; /* must be zero */
} fpq_format;

/* Pass as `bias` to fpq_format_make() to get the family's default bias:
 * 2^(E-1) - 1 for IEEE, FN and FINITE; 2^(E-1) for FNUZ; 127 for E8M0; 0 when E == 0
 * (so e0m3 is the integer grid -7..7). */
#define FPQ_BIAS_DEFAULT (-32768)

/* Builds and validates a format.
 * Accepted: width (is_signed + E + M) from 2 to 8 bits for signed formats, 1 to 8 for unsigned;
 *   IEEE: E >= 2, M >= 1.   FN: E >= 1, E + M >= 2.   FNUZ: E >= 1, signed only.
 *   FINITE: any E (E == 0 needs M >= 1).   E8M0: E == 8, M == 0, unsigned.
 *   The bias must keep every value exactly representable as a float32 (smallest positive
 *   value >= 2^-149, largest <= FLT_MAX), the format's smallest normal (for E == 0: the first
 *   power of two past its grid, 2^(M - bias)) at or above 2^-127, and its smallest positive
 *   value at most 2^104 (the encoder's rounding constants must be float32s).
 * Returns FPQ_OK, FPQ_ERR_NULL (out == NULL) or FPQ_ERR_FORMAT. */
FPQ_API int fpq_format_make(int exp_bits, int man_bits, int bias, int family, int is_signed,
                            fpq_format *out);

/* Looks a format up by name. Names are ml_dtypes' (float4_e2m1fn, float6_e2m3fn,
 * float6_e3m2fn, float8_e3m4, float8_e4m3, float8_e4m3fn, float8_e4m3fnuz,
 * float8_e4m3b11fnuz, float8_e5m2, float8_e5m2fnuz, float8_e8m0fnu) and the paper's finite
 * 4-bit family (e3m0, e2m1, e1m2, e0m3). The "floatN_" prefix may be written "fpN_" or left
 * out; for fp4/fp6 "fn" may be left out ("e2m1" == "float4_e2m1fn"); "int4" is e0m3.
 * Letters are case-insensitive.
 * Returns FPQ_OK, FPQ_ERR_NULL or FPQ_ERR_NAME (out untouched). */
FPQ_API int fpq_format_from_name(const char *name, fpq_format *out);

/* The canonical names fpq_format_from_name() accepts, for enumeration: index 0, 1, ... gives
 * a name until it returns NULL. Static storage. */
FPQ_API const char *fpq_format_preset_name(int index);

/* The canonical name of a format if it equals a preset, else a description such as
 * "e3m2 finite bias=5 signed". Writes at most `capacity` bytes including the terminating NUL.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT, or FPQ_ERR_CAPACITY (capacity too small: buf
 * untouched; 40 bytes always suffice). */
FPQ_API int fpq_format_describe(const fpq_format *fmt, char *buf, size_t capacity);

/* Facts about a format. Never changes size. */
typedef struct fpq_format_limits {
    int bits;             /* code width: is_signed + E + M */
    int num_codes;        /* 2^bits */
    int num_values;       /* distinct finite values (+0 and -0 count once) */
    int has_inf;          /* 1 if the family has infinities */
    int has_nan;          /* 1 if some code is NaN */
    int has_negative_zero;/* 1 if a code decodes to -0.0 */
    float max_finite;     /* largest finite value */
    float min_normal;     /* smallest positive normal value; 0 if the format has none (E == 0) */
    float min_subnormal;  /* smallest positive subnormal; 0 if none (M == 0, or family E8M0) */
    float min_positive;   /* smallest positive value */
} fpq_format_limits;

/* Fills *out. Returns FPQ_OK, FPQ_ERR_NULL or FPQ_ERR_FORMAT. */
FPQ_API int fpq_format_limits_get(const fpq_format *fmt, fpq_format_limits *out);

/* The code width in bits (2..8), or FPQ_ERR_FORMAT / FPQ_ERR_NULL. */
FPQ_API int fpq_format_bits(const fpq_format *fmt);

/* Every distinct finite value of the format in ascending order (zero once, as +0.0).
 * `capacity` is the length of `values`; *count receives the number of values
 * (limits.num_values; at most 256). Pass values == NULL to ask only for the count.
 * Returns FPQ_OK, FPQ_ERR_NULL (fmt or count NULL), FPQ_ERR_FORMAT, or FPQ_ERR_CAPACITY
 * (*count still set, values untouched). */
FPQ_API int fpq_format_values(const fpq_format *fmt, float *values, size_t capacity,
                              size_t *count);

/* ---------------------------------------------------------------------------------------------
 * Scales and the real-valued exponent bias
 *
 * Every kernel maps x to the format's grid through a positive float32 scale: the code holds
 * the nearest representable value to x / scale, and decodes to value * scale. The LLM-FP4 paper
 * speaks of a clipping range (max value) m or a real-valued exponent bias b instead:
 *   scale = m / max_finite(fmt)          scale = 2^(fmt->bias - b)
 * A valid scale is a positive, finite, normal float32.
 * ------------------------------------------------------------------------------------------- */

/* scale = maxval / max_finite, in float32. maxval must be positive and finite and the result a
 * valid scale; else FPQ_ERR_ARGUMENT. Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT. */
FPQ_API int fpq_scale_from_maxval(const fpq_format *fmt, float maxval, float *scale);

/* scale = 2^(fmt->bias - bias) rounded to float32; FPQ_ERR_ARGUMENT if bias is not finite or
 * the scale would not be a valid one. */
FPQ_API int fpq_scale_from_bias(const fpq_format *fmt, double bias, float *scale);

/* The real-valued bias equivalent to a scale: fmt->bias - log2(scale). FPQ_ERR_SCALE for an
 * invalid scale. */
FPQ_API int fpq_bias_from_scale(const fpq_format *fmt, float scale, double *bias);

/* ---------------------------------------------------------------------------------------------
 * Kernels: one scale for the whole array
 *
 * Rounding: the float32 quotient q = x / scale (IEEE division, round to nearest) is rounded to
 * the nearest representable value, ties to the even code (for M == 0 formats, whose
 * neighbours within a binade are 1 and 2 quanta, a tie goes to the larger magnitude, as
 * ml_dtypes does for float8_e8m0fnu).
 *
 * Special inputs (q after the division):
 *   -0.0      the -0 code where the format has one (IEEE, FN, FINITE signed); else +0.
 *   subnormal float32 inputs are values like any other (never flushed).
 *   overflow  (|q| rounds past max_finite) and +-Inf: +-max_finite by default;
 *             with FPQ_NO_SATURATE: +-Inf for IEEE, NaN for FN (with the value's sign),
 *             FNUZ and E8M0 (their one NaN), and still +-max_finite for FINITE formats
 *             (ml_dtypes' casts).
 *   NaN       the NaN code (IEEE: quiet, sign kept; FN: all ones, sign kept; FNUZ and E8M0:
 *             their only NaN). FINITE formats have no NaN: a NaN becomes the zero code of the
 *             opposite sign (the default, positive NaN gives -0), exactly as ml_dtypes does.
 *   negative  values in unsigned formats: 0 (the nearest value) by default; NaN with
 *             FPQ_NO_SATURATE where the family has a NaN. E8M0 has no zero: zero, negative
 *             values and values below 2^-127 become code 0 (2^-127) by default, and with
 *             FPQ_NO_SATURATE zero and negative values become NaN (0xFF), as in ml_dtypes.
 * Every backend and every thread count gives the same bits.
 *
 * Packed layout: codes form a little-endian bit stream, code i in bits [w*i, w*i + w) where w
 * is the code width: 4-bit codes two to a byte with element 0 in the low nibble, 6-bit codes
 * four to three bytes, 8-bit codes one to a byte. The unused high bits of the last byte are
 * written as zero. With FPQ_UNPACKED every code takes one byte (in its low bits; the high
 * bits are written as zero on output and ignored on input).
 * ------------------------------------------------------------------------------------------- */

enum {
    FPQ_UNPACKED = 1u << 0,    /* one code per byte instead of the packed bit stream */
    FPQ_NO_SATURATE = 1u << 1  /* overflow to Inf / NaN where the family has them (ml_dtypes) */
};

/* Bytes needed for n codes of `fmt` with these flags: ceil(n * width / 8) packed, n unpacked.
 * Returns 0 for an invalid format, unknown flags, or n > SIZE_MAX / 4 (the largest array a
 * kernel accepts, since its float32 side must fit in size_t). */
FPQ_API size_t fpq_packed_size(const fpq_format *fmt, size_t n, unsigned flags);

/* float32 x[0..n) -> codes. `codes` receives fpq_packed_size(fmt, n, flags) bytes and may not
 * overlap x.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT, FPQ_ERR_SIZE (n == 0 or too large),
 * FPQ_ERR_SCALE, FPQ_ERR_FLAGS, FPQ_ERR_ALIGN (x not 4-byte aligned), FPQ_ERR_OVERLAP;
 * checked in that order. */
FPQ_API int fpq_quantize(const fpq_format *fmt, const float *x, size_t n, float scale,
                         unsigned flags, void *codes);

/* codes -> float32 y[0..n): y[i] = value(code i) * scale (one float32 rounding; the product
 * may overflow to Inf for huge scales). NaN codes give a quiet NaN with the code's sign.
 * FPQ_NO_SATURATE is accepted and has no effect here. `y` may not overlap `codes`.
 * Returns as fpq_quantize. */
FPQ_API int fpq_dequantize(const fpq_format *fmt, const void *codes, size_t n, float scale,
                           unsigned flags, float *y);

/* y[i] = dequantize(quantize(x[i])) without the intermediate buffer: the nearest value the
 * format can hold at this scale, as float32. FPQ_UNPACKED is accepted and ignored. y may be x
 * (in place) but may not overlap it otherwise. Returns as fpq_quantize. */
FPQ_API int fpq_fake_quantize(const fpq_format *fmt, const float *x, size_t n, float scale,
                              unsigned flags, float *y);

/* ---------------------------------------------------------------------------------------------
 * Tensors: 2-D arrays with scales per tensor, row, column or block
 *
 * A tensor is `rows` x `cols` elements, row-major, `row_stride` elements from one row's start
 * to the next (>= cols), of type float32, float16 (IEEE binary16) or bfloat16. Weights
 * W[out x in] usually take per-row scales (one per output channel), activations X[tokens x in]
 * per-column scales (one per input channel: the paper's per-channel activation scales), MX and
 * NVFP4 per-block scales (blocks of k consecutive elements of a row; the last block of a row may
 * be shorter).
 *
 * Codes are stored row by row, each row packed as fpq_quantize packs an array and padded to a
 * whole byte: row r starts at byte r * fpq_packed_size(fmt, cols, flags). Scales live in their
 * own array (fpq_scales), in the order: per tensor 1; per row r; per column c; per block
 * r * blocks_per_row + b. docs/tensors.md draws the layout.
 *
 * Every element is quantized exactly as fpq_quantize would with its group's scale (float32
 * scales), so per-tensor results equal fpq_quantize on each row. float16 / bfloat16 inputs are
 * widened to float32 exactly (a float16 NaN comes out quiet, as F16C does); float16 / bfloat16
 * outputs are the float32 result rounded to nearest even (NaN stays NaN, overflow gives Inf).
 * ------------------------------------------------------------------------------------------- */

enum { FPQ_FLOAT32 = 1, FPQ_FLOAT16 = 2, FPQ_BFLOAT16 = 3 };

enum { FPQ_PER_TENSOR = 1, FPQ_PER_ROW = 2, FPQ_PER_COLUMN = 3, FPQ_PER_BLOCK = 4 };

typedef struct fpq_tensor {
    size_t struct_size; /* sizeof(fpq_tensor) of the caller's header: later versions append */
    size_t rows;
    size_t cols;
    size_t row_stride;  /* in elements, >= cols */
    int elem_type;      /* FPQ_FLOAT32, FPQ_FLOAT16 or FPQ_BFLOAT16 of the float side */
    int granularity;    /* FPQ_PER_* */
    int block_size;     /* FPQ_PER_BLOCK: a power of two from 8 to 1024; else ignored */
    int reserved;       /* must be zero */
} fpq_tensor;

/* How scales are stored:
 *   FPQ_SCALE_FLOAT32: one float32 per group, each a valid scale (positive, finite, normal).
 *   FPQ_SCALE_E8M0:    one byte per group, the OCP MX shared scale 2^(code - 127); 0xFF is NaN
 *                      (the whole group dequantizes to NaN).
 *   FPQ_SCALE_E4M3:    one float8_e4m3fn byte per group times the float32 `tensor_scale`
 *                      (NVFP4's two-level scale); a group's scale is the float32 product
 *                      tensor_scale * value(code), which must be a valid scale (code 0 is not).
 */
enum { FPQ_SCALE_FLOAT32 = 1, FPQ_SCALE_E8M0 = 2, FPQ_SCALE_E4M3 = 3 };

typedef struct fpq_scales {
    size_t struct_size; /* sizeof(fpq_scales) of the caller's header */
    int encoding;       /* FPQ_SCALE_* */
    int reserved;       /* must be zero */
    void *data;         /* float32 array or bytes, as the encoding says */
    size_t count;       /* entries `data` holds: at least fpq_tensor_num_scales() */
    float tensor_scale; /* FPQ_SCALE_E4M3: the second-level scale; else ignored */
} fpq_scales;

/* Number of scale groups of a tensor, or 0 for an invalid description. */
FPQ_API size_t fpq_tensor_num_scales(const fpq_tensor *t);

/* Bytes the codes of a tensor take: rows * fpq_packed_size(fmt, cols, flags); 0 if invalid. */
FPQ_API size_t fpq_tensor_code_bytes(const fpq_format *fmt, const fpq_tensor *t,
                                     unsigned flags);

/* Scales from data: for each group, the scale that maps the group's largest finite |x| times
 * clip_ratio (0 < clip_ratio <= 1; pass 1 for plain max scaling) onto the format's largest
 * value, in the encoding of `s` (s->data and s->count supplied by the caller; for E4M3 the
 * tensor_scale is written too). The recipes:
 *   FLOAT32: amax * clip_ratio / max_finite, rounded to float32; a group without a finite
 *            non-zero value gets 1.
 *   E8M0 (OCP Microscaling v1.0): 2^(floor(log2(amax)) - emax_elem), emax_elem the exponent
 *            of the format's largest value, clamped to 2^-127 .. 2^127; a group with a NaN gets
 *            the NaN scale 0xFF; Inf counts as a NaN (see docs/tensors.md); a clip_ratio below
 *            1 scales amax before the floor.
 *   E4M3 (NVFP4): tensor_scale = amax_tensor * clip_ratio / (max_finite * 448); each group's
 *            code is float8_e4m3fn(amax_group * clip_ratio / (max_finite * tensor_scale)),
 *            rounded to nearest, saturating, and at least the smallest positive code.
 * NaN and Inf elements are ignored by the FLOAT32 and E4M3 recipes.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT, FPQ_ERR_SIZE (bad shape, stride < cols,
 * overflowing sizes), FPQ_ERR_ARGUMENT (bad granularity, block size, element type, encoding,
 * clip_ratio), FPQ_ERR_CAPACITY (s->count too small), FPQ_ERR_ALIGN (x misaligned for its
 * type). */
FPQ_API int fpq_tensor_compute_scales(const fpq_format *fmt, const fpq_tensor *t,
                                      const void *x, float clip_ratio, fpq_scales *s);

/* Quantizes x (the tensor's element type) with the given scales into codes
 * (codes_bytes >= fpq_tensor_code_bytes). Flags as fpq_quantize. Returns the statuses of
 * fpq_tensor_compute_scales, and FPQ_ERR_SCALE for an invalid scale, FPQ_ERR_FLAGS,
 * FPQ_ERR_CAPACITY (codes_bytes too small), FPQ_ERR_OVERLAP (codes overlap x or the
 * scales). Checked in the order: NULL pointers, format, shape, scales, flags, capacity,
 * alignment, overlap. */
FPQ_API int fpq_tensor_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                                const fpq_scales *s, unsigned flags, void *codes,
                                size_t codes_bytes);

/* Codes -> y (the tensor's element type and stride; elements between cols and row_stride are
 * not written). Returns as fpq_tensor_quantize. */
FPQ_API int fpq_tensor_dequantize(const fpq_format *fmt, const fpq_tensor *t, const void *codes,
                                  size_t codes_bytes, const fpq_scales *s, unsigned flags,
                                  void *y);

/* y = dequantize(quantize(x)) element by element; y may be x (in place). */
FPQ_API int fpq_tensor_fake_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                                     const fpq_scales *s, unsigned flags, void *y);

/* fpq_tensor_compute_scales then fpq_tensor_quantize in one call. */
FPQ_API int fpq_tensor_quantize_auto(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                                     float clip_ratio, fpq_scales *s, unsigned flags,
                                     void *codes, size_t codes_bytes);

/* float16 / bfloat16 <-> float32 conversions used by the tensor calls, for callers' own data:
 * widening is exact; narrowing rounds to nearest even, keeps NaN quiet and the sign. n may be 0
 * here. Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_ARGUMENT (type not FPQ_FLOAT16/FPQ_BFLOAT16). */
FPQ_API int fpq_convert_to_float32(int elem_type, const void *in, size_t n, float *out);
FPQ_API int fpq_convert_from_float32(int elem_type, const float *in, size_t n, void *out);

/* ---------------------------------------------------------------------------------------------
 * Backends and threads
 *
 * Every kernel runs through one table of hot loops chosen at run time from the CPU's features:
 * "avx512" (AVX-512 F/BW/VL/DQ), "avx2" (AVX2 + FMA + F16C), "neon" (AArch64), and "scalar",
 * the reference. All give bit-identical results; the choice changes only speed. The choice is
 * made once, on first use, thread-safely; reading it costs one atomic load per call.
 * ------------------------------------------------------------------------------------------- */

/* The backend in use ("avx512", "avx2", "neon" or "scalar"). Never NULL; static storage. */
FPQ_API const char *fpq_backend_name(void);

/* The backends this build contains, best first: index 0, 1, ... until NULL. */
FPQ_API const char *fpq_backend_at(int index);

/* 1 if the named backend is built in and this CPU and OS support it, else 0. */
FPQ_API int fpq_backend_available(const char *name);

/* Forces a backend for every later call in the process (tests, benchmarks); "auto" returns to
 * the best available. Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_NAME (no such backend in this
 * build) or FPQ_ERR_UNSUPPORTED (this CPU lacks it; the backend in use is unchanged).
 * Safe to call at any time; calls already running finish on the backend they started with. */
FPQ_API int fpq_set_backend(const char *name);

/* How many threads a large call may use, when fpq is built with OpenMP: n >= 1, or 0 for the
 * OpenMP default (OMP_NUM_THREADS). Arrays below 2^18 elements always run on the calling
 * thread. Results are the same bits for every thread count. Returns FPQ_OK or
 * FPQ_ERR_ARGUMENT (n < 0 or n > 4096). Without OpenMP it is accepted and has no effect. */
FPQ_API int fpq_set_num_threads(int n);

/* The number of threads a large call would use now (1 without OpenMP). */
FPQ_API int fpq_num_threads(void);

/* ---------------------------------------------------------------------------------------------
 * Parameter search (docs/search.md)
 * ------------------------------------------------------------------------------------------- */

/* Memory for the calls that allocate (the search objects, which keep calibration statistics
 * between calls; every other call works in the caller's buffers). alloc returns memory aligned
 * for any C object, or NULL on failure (the call then returns FPQ_ERR_MEMORY); free takes what
 * alloc returned (never NULL). user is passed back unchanged. A NULL fpq_allocator pointer
 * means malloc/free. This struct is fixed: it will never grow. */
typedef struct fpq_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} fpq_allocator;

/* ---------------------------------------------------------------------------------------------
 * Per-channel activations with pre-shifted exponent bias (docs/reparam.md)
 * ------------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------------
 * W4A4 linear layer (docs/linear.md)
 * ------------------------------------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif

#endif /* FPQ_H */
