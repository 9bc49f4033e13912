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
 *   - The library never prints, never reads files and never aborts; it is safe to call from
 *     several threads at once on different buffers. It allocates only in the parameter search
 *     calls (fpq_search_*, fpq_layer_search_*), through a caller-supplied fpq_allocator or
 *     malloc/free; every other call works in the caller's buffers.
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
#define FPQ_VERSION_MINOR 2
#define FPQ_VERSION_PATCH 0
/* One integer that orders versions: major * 10000 + minor * 100 + patch. */
#define FPQ_VERSION_NUMBER \
    (FPQ_VERSION_MAJOR * 10000 + FPQ_VERSION_MINOR * 100 + FPQ_VERSION_PATCH)
#define FPQ_VERSION_STRING "0.2.0"

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
 * between calls, and fpq_search_tensor's work space; every other call works in the caller's
 * buffers). alloc returns memory aligned for any C object, or NULL on failure (the call then
 * returns FPQ_ERR_MEMORY); free takes what alloc returned (never NULL). user is passed back unchanged. A NULL fpq_allocator pointer
 * means malloc/free. This struct is fixed: it will never grow. */
typedef struct fpq_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} fpq_allocator;

/* ----- Layer-level search: the LLM-FP4 reference's calibration of one linear layer
 * (docs/layer-search.md) ----------------------------------------------------------------------
 *
 * For Y = X W^T with W[out x in] and calibration activations X[tokens x in], searches the
 * weight format and one real-valued exponent bias per output row, and the activation format
 * and one shared real-valued bias b~ (per-tensor mode) or b~ plus integer per-channel offsets
 * k_c (per-channel mode, LLM-FP4's pre-shifted exponent bias; channel c then has the bias
 * b~ + k_c, the scale s * 2^-k_c), minimising the error of the layer output against the
 * unquantized Y. A bias b of format f is the scale 2^(f.bias - b) (fpq_scale_from_bias).
 * Per round: weight bias search (every weight format, per row), activation bias search (every
 * activation format), weight format search, activation format search. Candidates of a group
 * whose initial (max-based) bias is b0: b0 * g_i (bias grid, the reference's) or
 * b0 - log2(g_i) (clip grid: g_i is the clipping ratio), g_i = alpha + i (beta - alpha) / n,
 * i = 0..n. Ties go to the first candidate / format. Results do not depend on how X was split
 * into batches nor on the thread count.
 * Per-channel mode evaluates the layer a deployment runs: the weights quantized per row are
 * the folded W' = W * 2^-k_c (fpq_reparam_fold) for the offsets of the state evaluated (b0
 * from the rows of W'; while the activation bias search changes the offsets, the row
 * biases are held and W' is refolded for each candidate), times the activation codes of the
 * shared scale (fpq_reparam_quantize). The reported errors are those of that layer, computed
 * as fpq_reparam_linear_reference computes it before its rounding to float32 (the reference
 * code instead simulates its unfolded Q(W) * 2^-k_c, which cannot be deployed). Should the
 * rounds end above the max-based start's error, the start is the result.
 *
 * Usage: fpq_layer_search_options_init, fpq_layer_search_create (copies W),
 * fpq_layer_search_add_batch (copies X; any number of batches), fpq_layer_search_solve, the
 * getters, fpq_layer_search_destroy. The object keeps W and every calibration row (the
 * objective needs all of X): 4 * in * (out + tokens) bytes (X's buffer grows by doubling, so
 * up to twice its rows) plus O(out + in); solve allocates about 24 * tokens * out
 * + 8 * in * (tokens + 2 * out) + 2 * in * max(tokens, out) bytes more while it runs.
 * An object may be used by one thread at a time; solve itself runs on fpq_num_threads().
 * ------------------------------------------------------------------------------------------- */

typedef struct fpq_layer_search fpq_layer_search;

/* The error measures, between the unquantized output y and the quantized one y^ (lower is
 * better). Per output row (the weight bias search) over the tokens; for the whole output (the
 * activation and format searches, and the total reported) over every element, except COSINE,
 * the mean over tokens of each token's cosine distance over the outputs:
 *   L2: mean (y - y^)^2    L1: mean |y - y^|    ABS_WEIGHTED_L2: mean |y| (y - y^)^2
 *   SQUARE_WEIGHTED_L2: mean (y (y - y^))^2    COSINE: 1 - cos(y, y^)
 *   PEARSON: 1 - the Pearson correlation of y and y^
 * COSINE and PEARSON distances are kept in [0, 2] (rounding cannot make one negative). */
enum {
    FPQ_LAYER_METRIC_L2 = 1,
    FPQ_LAYER_METRIC_L1 = 2,
    FPQ_LAYER_METRIC_ABS_WEIGHTED_L2 = 3,
    FPQ_LAYER_METRIC_SQUARE_WEIGHTED_L2 = 4,
    FPQ_LAYER_METRIC_COSINE = 5,
    FPQ_LAYER_METRIC_PEARSON = 6
};

/* Candidate grids (see above) and activation modes. */
enum { FPQ_LAYER_GRID_BIAS = 1, FPQ_LAYER_GRID_CLIP = 2 };
enum { FPQ_LAYER_ACT_PER_TENSOR = 1, FPQ_LAYER_ACT_PER_CHANNEL = 2 };

#define FPQ_LAYER_MAX_FORMATS 8

typedef struct fpq_layer_search_options {
    size_t struct_size;         /* sizeof(fpq_layer_search_options) of the caller's header */
    int num_weight_formats;     /* 1..FPQ_LAYER_MAX_FORMATS */
    int num_act_formats;        /* 1..FPQ_LAYER_MAX_FORMATS */
    fpq_format weight_formats[FPQ_LAYER_MAX_FORMATS]; /* any valid format but E8M0 */
    fpq_format act_formats[FPQ_LAYER_MAX_FORMATS];
    int initial_weight_format;  /* index of the format in use before the first format search */
    int initial_act_format;
    int grid;                   /* FPQ_LAYER_GRID_* */
    int grid_steps;             /* n >= 1 (n + 1 candidates), at most 100000 */
    double grid_alpha;          /* finite; bias grid: any; clip grid: 0 < alpha <= beta */
    double grid_beta;           /* finite, >= alpha */
    int rounds;                 /* 1..100 */
    int metric;                 /* FPQ_LAYER_METRIC_* */
    int act_mode;               /* FPQ_LAYER_ACT_PER_TENSOR or FPQ_LAYER_ACT_PER_CHANNEL */
    int reserved;               /* must be zero */
    const fpq_allocator *allocator; /* NULL: malloc / free; the object keeps a copy */
} fpq_layer_search_options;

/* Fills *opts with the LLM-FP4 reference's settings for `bits`-bit weights and activations:
 * bits 4: e3m0, e2m1, e1m2 (the finite family), starting from e2m1; bits 8: the finite
 * e5m2, e4m3, e3m4, e2m5, e1m6, starting from e4m3; the bias grid with alpha 0.01, beta 1.2,
 * n 100; 3 rounds; L2; per-channel activations; malloc.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_ARGUMENT (bits neither 4 nor 8; opts untouched). */
FPQ_API int fpq_layer_search_options_init(fpq_layer_search_options *opts, int bits);

/* Creates a search for the float32 weight W[out_features x in_features] (row-major, copied).
 * Returns FPQ_OK, FPQ_ERR_NULL (w, opts or out NULL), FPQ_ERR_SIZE (a dimension 0, or sizes
 * that overflow), FPQ_ERR_FORMAT (a listed format invalid or E8M0), FPQ_ERR_ARGUMENT (bad
 * options: struct_size, counts, indices, grid, rounds, metric, mode, reserved, an allocator
 * without alloc or free; or W holding NaN or Inf), FPQ_ERR_ALIGN (w misaligned),
 * FPQ_ERR_MEMORY; checked in the order: pointers, options, sizes, alignment, W's values.
 * On error *out is untouched. */
FPQ_API int fpq_layer_search_create(const float *w, size_t out_features, size_t in_features,
                                    const fpq_layer_search_options *opts,
                                    fpq_layer_search **out);

/* Frees the object (NULL: nothing). */
FPQ_API void fpq_layer_search_destroy(fpq_layer_search *s);

/* Appends calibration activations x[tokens x in_features] (row-major, copied).
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_SIZE (tokens 0, or the total too large),
 * FPQ_ERR_ARGUMENT (x holding NaN or Inf: the batch is not added), FPQ_ERR_ALIGN,
 * FPQ_ERR_MEMORY (the batch is not added; the object is unchanged). */
FPQ_API int fpq_layer_search_add_batch(fpq_layer_search *s, const float *x, size_t tokens);

/* Runs the search on every batch added so far (again after more batches, if called again).
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_SIZE (no batch yet), FPQ_ERR_ARGUMENT (a group's
 * initial scale, or a per-channel scale of it, or the initial scale of a folded weight row,
 * is not a valid float32 scale: data beyond float32's normal range), FPQ_ERR_MEMORY. On
 * error the previous results are kept. */
FPQ_API int fpq_layer_search_solve(fpq_layer_search *s);

/* What solve found. Never changes layout (reserved fields for later use). */
typedef struct fpq_layer_search_summary {
    fpq_format weight_format;   /* chosen weight format */
    fpq_format act_format;      /* chosen activation format */
    double act_bias;            /* shared activation bias b~ */
    float act_scale;            /* s = 2^(act_format.bias - b~), float32 */
    int act_mode;               /* FPQ_LAYER_ACT_* */
    double total_error;         /* the metric over the whole output, chosen parameters */
    double max_based_error;     /* the same with the initial formats and max-based biases */
    size_t tokens;              /* calibration rows used */
    int reserved[8];
} fpq_layer_search_summary;

/* Fills *out from the last successful solve.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_ARGUMENT (not solved yet; out untouched). */
FPQ_API int fpq_layer_search_get_summary(const fpq_layer_search *s,
                                         fpq_layer_search_summary *out);

/* Per output row r (arrays of `capacity` >= out_features entries; any may be NULL): the
 * bias bias[r], the float32 scale scale[r] = 2^(weight_format.bias - bias[r]) (the per-row
 * scales of fpq_tensor_quantize on the folded W' = fpq_reparam_fold(W, offsets) in
 * per-channel mode, on W per tensor), and error[r], the metric of row r over the tokens in
 * that layer.
 * Returns FPQ_OK, FPQ_ERR_NULL (s), FPQ_ERR_ARGUMENT (not solved), FPQ_ERR_CAPACITY. */
FPQ_API int fpq_layer_search_get_weights(const fpq_layer_search *s, double *bias, float *scale,
                                         double *error, size_t capacity);

/* Per input channel c (arrays of `capacity` >= in_features entries; any may be NULL): the
 * channel's own max-based bias channel_bias[c] = b_c (+Inf for an all-zero channel), its
 * offset offset[c] = k_c (fpq_reparam_offsets' rule; all 0 in per-tensor mode) and its float32
 * scale scale[c] = act_scale * 2^-k_c (the per-column scales of fpq_tensor_quantize).
 * Returns as fpq_layer_search_get_weights. */
FPQ_API int fpq_layer_search_get_activations(const fpq_layer_search *s, double *channel_bias,
                                             int *offset, float *scale, size_t capacity);

/* Tensor-level search (docs/search.md): for each scale group of a tensor, the scale (clipping
 * range, or real-valued exponent bias) and, for the whole tensor, the format that minimise a
 * quantization error, over a list of formats and a grid of candidate scales. Data arrives in
 * one or more batches (streamed calibration); the search object keeps what it needs.
 *
 * Objectives, per group, over its finite elements x_i with quantized values q_i (the
 * saturating fake-quantization of fpq_fake_quantize at the candidate scale):
 *   FPQ_OBJECTIVE_L2           sum (x_i - q_i)^2
 *   FPQ_OBJECTIVE_L1           sum |x_i - q_i|
 *   FPQ_OBJECTIVE_COSINE       1 - <x, q> / (|x| |q|)   (0 if x == 0; 1 if q == 0 != x)
 *   FPQ_OBJECTIVE_WEIGHTED_L2  sum w_i (x_i - q_i)^2, a weight per element or per column
 *   FPQ_OBJECTIVE_CALLBACK     the caller's function of (x, q)
 * L2, L1 and weighted L2 on signed formats are evaluated without quantizing the data per
 * candidate (one pass over the group, then work independent of its size per candidate) and
 * give the errors of quantizing, up to the rounding of double sums; the others quantize the
 * group at every candidate through the kernels. Where a quantized element overflows to +-Inf
 * (data near FLT_MAX, value * scale rounding past it) the error is +Inf, for every objective
 * and method; an element of weight 0 adds nothing. No error is NaN (a callback's NaN counts
 * as +Inf). */
enum {
    FPQ_OBJECTIVE_L2 = 1,
    FPQ_OBJECTIVE_L1 = 2,
    FPQ_OBJECTIVE_COSINE = 3,
    FPQ_OBJECTIVE_WEIGHTED_L2 = 4,
    FPQ_OBJECTIVE_CALLBACK = 5
};

/* Candidate grids, from the group's largest finite |x| (amax), for n = num_candidates:
 *   FPQ_GRID_CLIP (default): clipping ratios r_i = low + i (high - low) / (n - 1), i = 0..n-1
 *     (n == 1: high); scale_i = amax r_i / max_finite(fmt), rounded to float32. Defaults
 *     low 0.1, high 1.0, n 100: max-based clipping (r = 1) is always a candidate.
 *   FPQ_GRID_BIAS (LLM-FP4's grid): initial bias b0 = fmt.bias + log2(max_finite) - log2(amax)
 *     (for the finite family: 2^E - log2(amax) + log2(2 - 2^-M) - 1), candidates
 *     b_i = b0 (low + i (high - low) / n), i = 0..n-1, scale_i = 2^(fmt.bias - b_i) rounded
 *     to float32. The reference's values: low 0.01, high 1.2, n 100.
 * A candidate whose scale is not a valid float32 scale gets the error +Inf. */
enum { FPQ_GRID_CLIP = 1, FPQ_GRID_BIAS = 2 };

/* Where the weights of FPQ_OBJECTIVE_WEIGHTED_L2 come from (fpq_search_add's `weights`):
 * one float per element, laid out as the batch (rows x cols, the batch's row_stride), or one
 * float per column. Weights must be finite and >= 0. */
enum { FPQ_WEIGHTS_PER_ELEMENT = 1, FPQ_WEIGHTS_PER_COLUMN = 2 };

/* FPQ_SEARCH_FAST (default) evaluates L2 / L1 / weighted L2 from sorted statistics where it
 * can; FPQ_SEARCH_EXHAUSTIVE quantizes every group at every candidate (for checking). */
enum { FPQ_SEARCH_FAST = 0, FPQ_SEARCH_EXHAUSTIVE = 1 };

/* A caller objective: the error of quantizing the group's n finite elements x (in the order
 * they were added: batch by batch, row-major within a batch) to xq. Smaller is better; a NaN
 * counts as +Inf. Called from several threads at once in OpenMP builds. */
typedef double (*fpq_search_callback)(void *user, size_t group, const float *x,
                                      const float *xq, size_t n);

/* Options. Fill with fpq_search_options_init(), then change what you need. */
typedef struct fpq_search_options {
    size_t struct_size;    /* sizeof(fpq_search_options) */
    int objective;         /* FPQ_OBJECTIVE_*; default L2 */
    int weights;           /* FPQ_WEIGHTS_*, for WEIGHTED_L2; default per element */
    int grid;              /* FPQ_GRID_*; default CLIP */
    int num_candidates;    /* 1..4096; default 100 */
    double grid_low;       /* see FPQ_GRID_*: CLIP 0 < low <= high <= 1; BIAS
                            * -1e6 < low <= high < 1e6 */
    double grid_high;
    int method;            /* FPQ_SEARCH_FAST or FPQ_SEARCH_EXHAUSTIVE */
    int reserved;          /* must be zero */
    fpq_search_callback callback; /* FPQ_OBJECTIVE_CALLBACK */
    void *callback_user;
} fpq_search_options;

/* Defaults: L2, clip grid 0.1..1.0 with 100 candidates, fast method. `grid` selects the
 * defaults of the grid (FPQ_GRID_BIAS: 0.01, 1.2, 100, the reference's). Why the clip grid is
 * the default (docs/search.md): the bias grid is not scale-invariant, spends most candidates
 * above amax on small tensors and collapses to one candidate where b0 = 0. Returns FPQ_OK,
 * FPQ_ERR_NULL or FPQ_ERR_ARGUMENT (unknown grid; opts untouched). */
FPQ_API int fpq_search_options_init(int grid, fpq_search_options *opts);

/* The paper's format lists, finite family with default bias, exponent bits descending:
 * bits 4: e3m0, e2m1, e1m2; bits 8: e5m2, e4m3, e3m4, e2m5, e1m6 (every split with E >= 1).
 * with_int != 0 appends the integer grid of the width (e0m3 / e0m7). *count receives the
 * number; formats may be NULL to ask only for it. Returns FPQ_OK, FPQ_ERR_NULL,
 * FPQ_ERR_ARGUMENT (bits not 4 or 8) or FPQ_ERR_CAPACITY (formats untouched). */
FPQ_API int fpq_search_default_formats(int bits, int with_int, fpq_format *formats,
                                       size_t capacity, size_t *count);

/* The search object (opaque). */
typedef struct fpq_search fpq_search;

/* Creates a search over formats[0 .. num_formats) (1..64, any valid formats; copied) with
 * the options (copied; NULL for the defaults) and allocator (NULL: malloc/free; copied).
 * Returns FPQ_OK, FPQ_ERR_NULL (formats or out NULL, or an allocator with a NULL function),
 * FPQ_ERR_SIZE (num_formats 0 or > 64), FPQ_ERR_FORMAT,
 * FPQ_ERR_ARGUMENT (bad options: unknown objective / grid / weights / method, grid bounds,
 * candidates, a NULL callback for CALLBACK, struct_size too small, reserved not zero),
 * FPQ_ERR_MEMORY. *out is NULL on error. */
FPQ_API int fpq_search_create(const fpq_format *formats, size_t num_formats,
                              const fpq_search_options *opts, const fpq_allocator *alloc,
                              fpq_search **out);

/* Adds a batch: the tensor x described by t (float32 / float16 / bfloat16, rows, cols,
 * row_stride, and the scale granularity of the search: t->granularity, t->block_size).
 * The first batch fixes the granularity; later ones must have the same granularity and:
 * per tensor any shape; per column the same cols; per row and per block the same rows and
 * cols (row r of every batch belongs to group r). NaN and Inf elements are ignored (they take
 * part in neither amax nor the error). `weights` is required for WEIGHTED_L2 (see
 * FPQ_WEIGHTS_*) and ignored otherwise. The object copies what it needs: x and weights may
 * be freed on return. Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_SIZE (bad shape), FPQ_ERR_ALIGN,
 * FPQ_ERR_ARGUMENT (bad granularity or element type, a shape or granularity that differs from
 * the first batch, a negative or non-finite weight), FPQ_ERR_MEMORY; on error the data the
 * object holds and its results are unchanged (after FPQ_ERR_MEMORY, buffers already grown for
 * the batch stay allocated: fpq_search_memory may report more). */
FPQ_API int fpq_search_add(fpq_search *s, const fpq_tensor *t, const void *x,
                           const float *weights);

/* The result of a search, as plain arrays supplied by the caller. */
typedef struct fpq_search_result {
    size_t struct_size;    /* sizeof(fpq_search_result) */
    size_t num_groups;     /* in: length of the per-group arrays (>= fpq_search_num_groups) */
    float *scales;         /* out [num_groups], required: the float32 scale of each group in
                            * the chosen format, in fpq_scales order (FPQ_SCALE_FLOAT32 data);
                            * 1 for a group without a finite non-zero element, and 1 (with
                            * the error +Inf) where no candidate scale is valid, e.g. when
                            * amax / max_finite is below 2^-126 */
    double *biases;        /* out [num_groups] or NULL: fmt.bias - log2(scale) */
    double *errors;        /* out [num_groups] or NULL: each group's error at its scale */
    int *candidates;       /* out [num_groups] or NULL: the chosen candidate index; -1 for a
                            * group without a finite non-zero element */
    double *format_errors; /* out [num_formats] or NULL: each format's total error (each
                            * group at its best candidate for that format) */
    double *error_table;   /* out or NULL: error of group g, format f, candidate c at
                            * [(g * num_formats + f) * num_candidates + c] */
    size_t error_table_count; /* in: length of error_table */
    int format_index;      /* out: the chosen format (least total error; first on ties) */
    int reserved;
    double total_error;    /* out: the chosen format's total error */
} fpq_search_result;

/* Number of scale groups (known after the first batch; 0 before). NULL gives 0. */
FPQ_API size_t fpq_search_num_groups(const fpq_search *s);

/* Bytes the object holds now (its statistics: docs/search.md). NULL gives 0. */
FPQ_API size_t fpq_search_memory(const fpq_search *s);

/* Solves over everything added so far (the object stays usable: more batches may follow).
 * Returns FPQ_OK, FPQ_ERR_NULL (s, r or r->scales), FPQ_ERR_ARGUMENT (r->struct_size too
 * small), FPQ_ERR_SIZE (no batch yet), FPQ_ERR_CAPACITY (num_groups or error_table_count too
 * small; nothing written), FPQ_ERR_MEMORY (work space). Results are the same bits for every
 * thread count and backend. */
FPQ_API int fpq_search_solve(fpq_search *s, fpq_search_result *r);

/* Frees the object and everything it holds. NULL is accepted. */
FPQ_API void fpq_search_destroy(fpq_search *s);

/* One tensor, searched in place: the result of fpq_search_create, fpq_search_add(t, x,
 * weights), fpq_search_solve and fpq_search_destroy, bit for bit, without copying the data
 * (it allocates only work space through alloc: per thread, about the largest group's
 * elements plus the candidates x formats error table: tens of MB for 2^20-element groups
 * or 4096-candidate grids; docs/errors.md gives measured sizes). The choice for weights,
 * which arrive whole. Returns the statuses of those four calls. */
FPQ_API int fpq_search_tensor(const fpq_format *formats, size_t num_formats,
                              const fpq_search_options *opts, const fpq_tensor *t,
                              const void *x, const float *weights,
                              const fpq_allocator *alloc, fpq_search_result *r);

/* ---------------------------------------------------------------------------------------------
 * Per-channel activations with pre-shifted exponent bias (docs/reparam.md)
 *
 * LLM-FP4's reparameterization: each input channel c of a linear layer Y = X W^T gets its own
 * real-valued exponent bias b_c, split into one shared real bias b~ and an integer offset
 * k_c >= 0, so that channel c is quantized with bias b~ + k_c, i.e. with the scale
 * s * 2^-k_c where s = 2^(fmt->bias - b~) is the one shared scale. Since
 *     quantize(x / (s * 2^-k_c)) == quantize((2^k_c * x) / s)
 * the activation codes are the shared-scale codes of the pre-shifted activations 2^k_c * x, and
 * the factor 2^-k_c moves into weight column c: W'[:, c] = W[:, c] * 2^-k_c (exact). An engine
 * consumes activation codes + one scale s, and W' codes + per-row scales; k_c is needed offline
 * only. The pipeline: fpq_reparam_observe (per-column absmax) -> fpq_reparam_biases ->
 * fpq_reparam_shared_bias (or a searched b~) -> fpq_reparam_offsets -> fpq_reparam_fold on W,
 * then fpq_reparam_quantize on every activation batch.
 *
 * The calls take every format but E8M0 (the reference's formats are the FINITE family); the
 * offset window of a format with E exponent bits is [0, 2^E - 1].
 * ------------------------------------------------------------------------------------------- */

/* Per-column absolute maxima of X[rows x cols] (the tensor's element type; granularity and
 * block_size are not used), merged into absmax[0..cols): absmax[c] = max(|absmax[c]|,
 * max_r |x[r, c]|), so that calibration batches can be streamed (start from zeros). A column
 * holding a NaN makes absmax[c] NaN, and a NaN stays NaN; +-Inf makes it +Inf.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_SIZE (bad shape), FPQ_ERR_ARGUMENT (struct_size,
 * reserved, element type), FPQ_ERR_ALIGN (x or absmax misaligned), FPQ_ERR_OVERLAP. */
FPQ_API int fpq_reparam_observe(const fpq_tensor *t, const void *x, float *absmax);

/* The real-valued bias that maps each channel's clipping range maxvals[c] onto the format's
 * largest value (scale = maxval / max_finite):
 *     biases[c] = fmt->bias - log2(maxvals[c] / max_finite)          (in double)
 * which for the finite family's default bias is the paper's
 *     b_c = 2^E - log2(m_c) + log2(2 - 2^-M) - 1.
 * Special ranges: 0 gives +Inf (a channel with no range: it takes the top of the offset
 * window), +Inf gives -Inf and NaN gives NaN (both take offset 0, the widest range).
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT (invalid, or E8M0), FPQ_ERR_SIZE (channels 0),
 * FPQ_ERR_ARGUMENT (a negative maxval), FPQ_ERR_ALIGN (maxvals misaligned). biases may not
 * overlap maxvals (FPQ_ERR_OVERLAP). */
FPQ_API int fpq_reparam_biases(const fpq_format *fmt, const float *maxvals, size_t channels,
                               double *biases);

/* The default shared bias: the smallest finite biases[c] (the channel with the widest range,
 * so that no channel is clipped). Non-finite biases (+-Inf, NaN) are skipped; when none is
 * finite, *shared_bias = fmt->bias (scale 1).
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT, FPQ_ERR_SIZE (channels 0). */
FPQ_API int fpq_reparam_shared_bias(const fpq_format *fmt, const double *biases,
                                    size_t channels, double *shared_bias);

/* The integer offsets, as the LLM-FP4 reference computes them: with z = round(shared_bias)
 * (ties to even),
 *     offsets[c] = clamp(round(biases[c]), z, z + 2^E - 1) - z          in [0, 2^E - 1]
 * and channel c is quantized with the bias shared_bias + offsets[c]. Clamped channels get the
 * nearest bias of the window: a channel whose own bias is below the window (a range wider than
 * the shared one: only when shared_bias was chosen above the minimum) is clipped at the shared
 * range; one above it (a narrow channel) gets the narrowest range the window offers, coarser
 * than its own. biases[c] = +Inf takes 2^E - 1; -Inf and NaN take 0.
 * *shared_scale (may be NULL) receives s = 2^(fmt->bias - shared_bias) in float32, as
 * fpq_scale_from_bias gives it. Every channel scale s * 2^-k, k in the window, must be a
 * valid (normal) scale, so that the identity above is exact: else FPQ_ERR_ARGUMENT.
 * Returns FPQ_OK, FPQ_ERR_NULL (fmt, biases or offsets NULL), FPQ_ERR_FORMAT, FPQ_ERR_SIZE,
 * FPQ_ERR_ARGUMENT (shared_bias not finite, or the scales above invalid). */
FPQ_API int fpq_reparam_offsets(const fpq_format *fmt, const double *biases, size_t channels,
                                double shared_bias, int *offsets, float *shared_scale);

/* Folds the offsets into a weight matrix W[out x in] (float32, float16 or bfloat16; the
 * tensor's rows are output channels, its cols = in input channels, offsets[0..cols), each in
 * [0, 255]; granularity and block_size are not used):
 *     w_out[r, c] = w[r, c] * 2^-offsets[c]
 * w_out has the tensor's type and stride (elements between cols and row_stride are not
 * written); it may be w (in place) but may not overlap it otherwise. The product is exact
 * unless it falls below the type's smallest normal (float32 and bfloat16: 2^-126; float16:
 * 2^-14): there it is rounded to nearest even as a multiplication would (gradual underflow,
 * possibly to zero). *inexact (may be NULL) receives the number of elements whose value that
 * rounding changed: 0 means fpq_reparam_unfold restores w bit for bit. NaN and +-Inf pass
 * through (not counted).
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_SIZE, FPQ_ERR_ARGUMENT (struct_size, reserved,
 * element type, an offset outside [0, 255]), FPQ_ERR_ALIGN, FPQ_ERR_OVERLAP. */
FPQ_API int fpq_reparam_fold(const fpq_tensor *t, const void *w, const int *offsets,
                             void *w_out, size_t *inexact);

/* The inverse: w_out[r, c] = w[r, c] * 2^offsets[c], rounded as a multiplication (overflow
 * gives +-Inf, counted in *inexact). Same arguments and statuses as fpq_reparam_fold. */
FPQ_API int fpq_reparam_unfold(const fpq_tensor *t, const void *w, const int *offsets,
                               void *w_out, size_t *inexact);

/* Quantizes activations X[tokens x in] (the tensor's element type; granularity and block_size
 * are not used) with the shared scale and per-column pre-shift: the code of x[r, c] is the
 * code of x[r, c] / (shared_scale * 2^-offsets[c]) as fpq_quantize rounds it, which is the
 * shared-scale code of the pre-shifted 2^offsets[c] * x[r, c] (bit for bit, whenever that
 * product is finite in float32). Codes are laid out as fpq_tensor_quantize lays them out
 * (row r at r * fpq_packed_size(fmt, cols, flags)); dequantize them with shared_scale alone
 * (fpq_tensor_dequantize per tensor) to get 2^k_c * x^, which W' expects. Every backend gives
 * the same bits, for every thread count. offsets[c] must lie in [0, 2^E - 1] and
 * shared_scale * 2^-offsets[c] be a valid scale.
 * Returns FPQ_OK or, checked in this order: FPQ_ERR_NULL; FPQ_ERR_FORMAT (invalid, or E8M0);
 * the tensor description (FPQ_ERR_ARGUMENT: struct_size, reserved, element type; then
 * FPQ_ERR_SIZE: shape); FPQ_ERR_SCALE (shared_scale invalid); FPQ_ERR_ARGUMENT (an offset
 * out of the window); FPQ_ERR_SCALE (a channel scale subnormal); FPQ_ERR_FLAGS;
 * FPQ_ERR_CAPACITY; FPQ_ERR_ALIGN; FPQ_ERR_OVERLAP. */
FPQ_API int fpq_reparam_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                                 float shared_scale, const int *offsets, unsigned flags,
                                 void *codes, size_t codes_bytes);

/* y = the per-channel quantized activations, value(code) * shared_scale * 2^-offsets[c]
 * rounded once to float32 (then narrowed to the tensor's type): what the layer computes with,
 * and equal to fpq_tensor_fake_quantize with per-column scales shared_scale * 2^-offsets[c].
 * y may be x (in place) but may not overlap it otherwise. Statuses as fpq_reparam_quantize. */
FPQ_API int fpq_reparam_fake_quantize(const fpq_format *fmt, const fpq_tensor *t,
                                      const void *x, float shared_scale, const int *offsets,
                                      unsigned flags, void *y);

/* The reference linear layer on codes:
 *     y[t, o] = sum_c value_x(x_codes[t, c]) * value_w(w_codes[o, c]) * x_scale * w_scales[o]
 *               (+ bias[o])
 * x_codes: tokens rows of in_features codes of x_fmt (the layout of fpq_reparam_quantize);
 * w_codes: out_features rows of in_features codes of w_fmt (fpq_tensor_quantize per row);
 * flags: FPQ_UNPACKED for both, or 0. y is float32 [tokens x out_features], row-major.
 * The arithmetic, in this order, so that an integer kernel can match it bit for bit:
 *     acc  = 0.0; for c = 0 .. in_features - 1: acc += (double)vx[c] * (double)vw[c]
 *            (vx, vw the format values of the codes, unscaled; in double)
 *     prod = acc * ((double)x_scale * (double)w_scales[o])      (the scale product is exact)
 *     y    = (float)(bias ? prod + (double)bias[o] : prod)      (round to nearest even)
 * For formats whose values are multiples of their smallest positive value q (every 4-bit and
 * 6-bit format, and any format whose values span few binades) every partial sum is exact
 * when in_features * (max_x / q_x) * (max_w / q_w) < 2^53, so acc equals the exact integer
 * sum times q_x * q_w, and an integer kernel gets the same y by computing prod from its sum.
 * NaN codes give NaN; a NaN or Inf bias propagates. Results do not depend on the thread count.
 * Returns FPQ_OK, FPQ_ERR_NULL (bias alone may be NULL), FPQ_ERR_FORMAT, FPQ_ERR_SIZE (a zero
 * count, or sizes overflowing), FPQ_ERR_SCALE (x_scale or a w_scales entry invalid),
 * FPQ_ERR_FLAGS (flags other than FPQ_UNPACKED), FPQ_ERR_CAPACITY (x_codes_bytes or
 * w_codes_bytes too small), FPQ_ERR_ALIGN (a float array misaligned), FPQ_ERR_OVERLAP (y
 * overlaps an input). */
FPQ_API int fpq_reparam_linear_reference(const fpq_format *x_fmt, const void *x_codes,
                                         size_t x_codes_bytes, size_t tokens,
                                         size_t in_features, float x_scale,
                                         const fpq_format *w_fmt, const void *w_codes,
                                         size_t w_codes_bytes, size_t out_features,
                                         const float *w_scales, const float *bias,
                                         unsigned flags, float *y);

/* ---------------------------------------------------------------------------------------------
 * W4A4 linear layer (docs/linear.md)
 *
 * Y[tokens x out] = dequant(X) . dequant(W)^T (+ bias), float32, computed as exact integer
 * dot products: every value of a supported format is an integer times 2^shift (shift = the
 * exponent of its smallest step, e.g. e2m1 values are {0..6, 8, 12} * 2^-1, e3m0 values
 * {0, 1, 2, 4, ..., 64} * 2^-2). Supported: FPQ_FAMILY_FINITE formats (no NaN or Inf codes)
 * whose integers are at most 127 in magnitude: e2m1, e3m0, e1m2, e0m3, float6_e2m3fn,
 * signed and unsigned, any width up to 8 bits (float6_e3m2fn needs 448: refused). Weights
 * of 4 bits or less are kept as 4-bit codes, wider ones as one byte each.
 *
 * The weights are packed once into the kernel's layout with their per-row scales
 * (fpq_pack_weights); activations (one shared scale) are either packed from codes or
 * quantized from float32 in one pass into their layout; fpq_linear_forward then multiplies.
 * Both layouts are caller buffers whose size is asked first: nothing here allocates.
 *
 * For token t and output row r, with acc the exact integer sum over k of int_x * int_w,
 * the arithmetic of fpq_reparam_linear_reference (whose result this equals bit for bit):
 *   f    = (double)sx * (double)sw[r] * 2^(shift_x + shift_w)     (exact)
 *   prod = (double)acc * f                                         (rounded to double)
 *   Y[t][r] = (float)(bias ? prod + (double)bias[r] : prod)       (rounded to float32)
 * in the default floating-point environment. When sx * sw[r] has at most 24 significant bits
 * (e.g. one of the scales a power of two), prod is exact and Y without bias is the exact dot
 * product of the dequantized values rounded once to float32. Every backend and thread count
 * gives the same bits.
 *
 * The sum must stay below 2^29 in magnitude: in_features * max|int_x| * max|int_w| <= 2^29,
 * which fpq_linear_max_in_features() gives per format pair (e2m1 x e2m1: 3728270; the widest
 * pair, e2m3 x e2m3: 149130). A layout buffer holds its format, shape and scale; buffers
 * must be 16-byte aligned (malloc's); results from a buffer changed by other means than these
 * calls are unspecified (but memory-safe).
 * ------------------------------------------------------------------------------------------- */

/* The largest in_features a forward call accepts for this pair of activation and weight
 * formats; 0 if either format is invalid or unsupported (see above). */
FPQ_API size_t fpq_linear_max_in_features(const fpq_format *x_fmt, const fpq_format *w_fmt);

/* Bytes of the packed weights of an out_features x in_features matrix in w_fmt; 0 if the
 * format is invalid or unsupported, a count is 0, or the size overflows. */
FPQ_API size_t fpq_pack_weights_size(const fpq_format *w_fmt, size_t out_features,
                                     size_t in_features);

/* Packs W's codes into the kernel layout. `codes` holds out_features rows laid out as the
 * tensor calls write them (row r from byte r * fpq_packed_size(w_fmt, in_features, 0),
 * packed little-endian, no FPQ_UNPACKED); row_scales[r] is row r's float32 scale.
 * Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_FORMAT (invalid descriptor), FPQ_ERR_UNSUPPORTED
 * (a valid format the integer kernel cannot take), FPQ_ERR_SIZE (a count is 0, or the
 * sizes overflow), FPQ_ERR_ALIGN (row_scales not 4-byte or packed not 16-byte aligned),
 * FPQ_ERR_SCALE (a row scale is not a valid scale), FPQ_ERR_CAPACITY (packed_bytes <
 * fpq_pack_weights_size), FPQ_ERR_OVERLAP (packed overlaps codes or row_scales); checked in
 * that order. */
FPQ_API int fpq_pack_weights(const fpq_format *w_fmt, const void *codes, size_t out_features,
                             size_t in_features, const float *row_scales, void *packed,
                             size_t packed_bytes);

/* Bytes of the activation layout for tokens x in_features; 0 if a count is 0 or it
 * overflows. */
FPQ_API size_t fpq_linear_activations_size(size_t tokens, size_t in_features);

/* Activation codes -> the layout: `codes` holds `tokens` rows as fpq_pack_weights' codes do,
 * with the one shared scale `scale`. Returns as fpq_pack_weights (FPQ_ERR_SCALE for the
 * scale, FPQ_ERR_CAPACITY against act_bytes). */
FPQ_API int fpq_linear_pack_activations(const fpq_format *x_fmt, const void *codes,
                                        size_t tokens, size_t in_features, float scale,
                                        void *act, size_t act_bytes);

/* float32 x (tokens rows of in_features, x_stride >= in_features floats apart) quantized
 * with `scale` (saturating, exactly as fpq_quantize) straight into the layout, one pass:
 * the result equals fpq_quantize of every row followed by fpq_linear_pack_activations, to
 * the byte. NaN inputs give zero codes, as fpq_quantize's FINITE rule. Returns as
 * fpq_linear_pack_activations, with FPQ_ERR_SIZE also for x_stride < in_features and
 * FPQ_ERR_ALIGN also for an x not 4-byte aligned; FPQ_ERR_OVERLAP if act overlaps x. */
FPQ_API int fpq_linear_quantize_activations(const fpq_format *x_fmt, const float *x,
                                            size_t tokens, size_t in_features,
                                            size_t x_stride, float scale, void *act,
                                            size_t act_bytes);

/* Y = dequant(X) . dequant(W)^T (+ bias) as above: y[t * y_stride + r] for t < tokens,
 * r < out_features; other floats of y are not written. bias may be NULL (else out_features
 * floats). act and packed are the layouts above (act_bytes / packed_bytes: their buffers'
 * sizes). Returns FPQ_OK, FPQ_ERR_NULL, FPQ_ERR_ARGUMENT (a buffer that is not such a layout,
 * or whose in_features differ), FPQ_ERR_CAPACITY (a buffer shorter than its layout),
 * FPQ_ERR_SIZE (in_features above fpq_linear_max_in_features for the pair; y_stride <
 * out_features; tokens * y_stride overflows), FPQ_ERR_ALIGN (y, bias not 4-byte, layouts not
 * 16-byte aligned), FPQ_ERR_OVERLAP (y overlaps a layout or bias). Checked in the order:
 * NULL; act's layout (ARGUMENT, CAPACITY); packed's; in_features equal; SIZE; ALIGN;
 * OVERLAP. */
FPQ_API int fpq_linear_forward(const void *act, size_t act_bytes, const void *packed,
                               size_t packed_bytes, const float *bias, float *y,
                               size_t y_stride);

#ifdef __cplusplus
}
#endif

#endif /* FPQ_H */
