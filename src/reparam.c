/*
 * reparam.c - LLM-FP4's per-channel activation quantization with a pre-shifted exponent bias
 * (docs/reparam.md): per-column statistics, the split of per-channel biases into a shared bias
 * and integer offsets, folding the offsets into weight columns, quantizing activations with
 * the shared scale and per-column power-of-two pre-shifts, and a reference linear layer on
 * codes that an integer kernel can match bit for bit.
 *
 * Activations go through the kernel table's grouped kernels with one float32 scale per column
 * (s * 2^-k_c, built exactly from s's exponent field in a stack chunk), so every backend gives
 * the bits of the scalar reference and nothing is allocated.
 */
#include "convert.h"
#include "fpenv.h"
#include "fpq_round.h"
#include "reparam_offsets.h"

#include <float.h>
#include <math.h>

#ifdef _OPENMP
#  include <omp.h>
#endif

/* Columns per stack chunk: a multiple of 8, so that chunks start on a byte of the stream. */
#define REPARAM_CHUNK 1024
/* Columns per band of the activation calls (scales and a widened row on the stack). */
#define REPARAM_BAND 4096
#define REPARAM_PARALLEL_MIN ((size_t)1 << 18)
#define REPARAM_KNOWN_FLAGS (FPQ_UNPACKED | FPQ_NO_SATURATE)
#define REPARAM_MAX_FOLD_OFFSET 255

/* A validated 2-D array description (granularity and block size are not used here). */
typedef struct reparam_shape {
    size_t rows, cols, stride, elem_size;
    int elem_type;
} reparam_shape;

static int reparam_check_shape(const fpq_tensor *t, reparam_shape *sh)
{
    if (t->struct_size < sizeof(fpq_tensor) || t->reserved)
        return FPQ_ERR_ARGUMENT;
    if (t->elem_type < FPQ_FLOAT32 || t->elem_type > FPQ_BFLOAT16)
        return FPQ_ERR_ARGUMENT;
    if (t->rows == 0 || t->cols == 0 || t->row_stride < t->cols)
        return FPQ_ERR_SIZE;
    sh->elem_size = fpqi_elem_size(t->elem_type);
    if (!fpqi_extent_fits(t->rows, t->cols, t->row_stride, sh->elem_size))
        return FPQ_ERR_SIZE;
    sh->rows = t->rows;
    sh->cols = t->cols;
    sh->stride = t->row_stride;
    sh->elem_type = t->elem_type;
    return FPQ_OK;
}

static size_t reparam_span(const reparam_shape *sh)
{
    return ((sh->rows - 1) * sh->stride + sh->cols) * sh->elem_size;
}

static int reparam_overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + b_len && pb < pa + a_len;
}

static int reparam_misaligned(const void *ptr, size_t align)
{
    return ((uintptr_t)ptr & (align - 1)) != 0;
}

/* Elements [c, c + n) of row r as float32 (widened into buf for the 16-bit types). */
static const float *reparam_row_run(const reparam_shape *sh, const void *x, size_t r, size_t c,
                                    size_t n, float *buf)
{
    const char *src = (const char *)x + (r * sh->stride + c) * sh->elem_size;
    if (sh->elem_type == FPQ_FLOAT32)
        return (const float *)(const void *)src;
    fpqi_active_kernels()->widen(sh->elem_type, src, n, buf);
    return buf;
}

/* Formats the reparameterization accepts: any valid one but E8M0 (no sign, no zero). */
static int reparam_check_format(const fpq_format *fmt, fpqi_params *p)
{
    int status = fpqi_params_init(fmt, p);
    if (status != FPQ_OK)
        return status;
    return p->family == FPQ_FAMILY_E8M0 ? FPQ_ERR_FORMAT : FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Plan: statistics, biases, the shared bias, offsets */

int fpq_reparam_observe(const fpq_tensor *t, const void *x, float *absmax)
{
    float buf[REPARAM_BAND];
    uint32_t amax[REPARAM_BAND];
    reparam_shape sh;
    size_t r, c0, j;
    int status;

    if (!t || !x || !absmax)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_shape(t, &sh)) != FPQ_OK)
        return status;
    if (reparam_misaligned(x, sh.elem_size) || reparam_misaligned(absmax, 4))
        return FPQ_ERR_ALIGN;
    if (reparam_overlap(absmax, sh.cols * sizeof(float), x, reparam_span(&sh)))
        return FPQ_ERR_OVERLAP;
    /* Integer compares on |x|'s bits: NaN patterns sort above Inf, so a NaN sticks. Bands of
     * columns, each walked row by row. */
    for (c0 = 0; c0 < sh.cols; c0 += REPARAM_BAND) {
        size_t n = sh.cols - c0 < REPARAM_BAND ? sh.cols - c0 : REPARAM_BAND;
        for (j = 0; j < n; j++)
            amax[j] = fpqi_f2u(absmax[c0 + j]) & 0x7fffffffu;
        for (r = 0; r < sh.rows; r++) {
            const float *row = reparam_row_run(&sh, x, r, c0, n, buf);
            for (j = 0; j < n; j++) {
                uint32_t v = fpqi_f2u(row[j]) & 0x7fffffffu;
                amax[j] = v > amax[j] ? v : amax[j];
            }
        }
        for (j = 0; j < n; j++)
            absmax[c0 + j] = fpqi_u2f(amax[j] > 0x7f800000u ? 0x7fc00000u : amax[j]);
    }
    return FPQ_OK;
}

static int reparam_biases(const fpq_format *fmt, const float *maxvals, size_t channels,
                          double *biases)
{
    fpq_format_limits lim;
    fpqi_params p;
    double log2_max;
    size_t c;
    int status;

    if (!fmt || !maxvals || !biases)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_format(fmt, &p)) != FPQ_OK)
        return status;
    if (channels == 0 || channels > SIZE_MAX / sizeof(double))
        return FPQ_ERR_SIZE;
    if (reparam_misaligned(maxvals, 4))
        return FPQ_ERR_ALIGN;
    for (c = 0; c < channels; c++)
        if (maxvals[c] < 0.0f)
            return FPQ_ERR_ARGUMENT;
    if (reparam_overlap(biases, channels * sizeof(double), maxvals, channels * sizeof(float)))
        return FPQ_ERR_OVERLAP;
    fpq_format_limits_get(fmt, &lim);
    log2_max = log2((double)lim.max_finite);
    for (c = 0; c < channels; c++)
        biases[c] = fpqi_reparam_channel_bias(p.bias, log2_max, maxvals[c]);
    return FPQ_OK;
}

int fpq_reparam_biases(const fpq_format *fmt, const float *maxvals, size_t channels,
                       double *biases)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, reparam_biases(fmt, maxvals, channels, biases));
    return status;
}

static int reparam_shared_bias(const fpq_format *fmt, const double *biases, size_t channels,
                               double *shared_bias)
{
    fpqi_params p;
    double best = 0.0;
    int found = 0, status;
    size_t c;

    if (!fmt || !biases || !shared_bias)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_format(fmt, &p)) != FPQ_OK)
        return status;
    if (channels == 0)
        return FPQ_ERR_SIZE;
    for (c = 0; c < channels; c++) {
        double b = biases[c];
        if (b - b != 0.0) /* NaN or +-Inf */
            continue;
        if (!found || b < best)
            best = b;
        found = 1;
    }
    *shared_bias = found ? best : (double)p.bias;
    return FPQ_OK;
}

/* In the default environment: under the caller's DAZ a subnormal bias compared as zero
 * (fuzz_reparam, corpus/fuzz_reparam/defect-shared-bias-daz). */
int fpq_reparam_shared_bias(const fpq_format *fmt, const double *biases, size_t channels,
                            double *shared_bias)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, reparam_shared_bias(fmt, biases, channels, shared_bias));
    return status;
}

/* The float32 bits of a channel scale s * 2^-k, or 0 when it is not a normal float32 (the
 * exponent field of a valid s is >= 1; subtracting k from it is the exact product). */
static uint32_t reparam_channel_scale_bits(float s, int k)
{
    uint32_t u = fpqi_f2u(s);
    return (int)(u >> 23) > k ? u - ((uint32_t)k << 23) : 0u;
}

static int reparam_window(const fpqi_params *p)
{
    return (1 << p->exp_bits) - 1;
}

static int reparam_offsets(const fpq_format *fmt, const double *biases, size_t channels,
                           double shared_bias, int *offsets, float *shared_scale)
{
    fpqi_params p;
    float s;
    size_t c;
    int status;

    if (!fmt || !biases || !offsets)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_format(fmt, &p)) != FPQ_OK)
        return status;
    if (channels == 0 || channels > SIZE_MAX / sizeof(double))
        return FPQ_ERR_SIZE;
    if (shared_bias - shared_bias != 0.0)
        return FPQ_ERR_ARGUMENT;
    if (fpq_scale_from_bias(fmt, shared_bias, &s) != FPQ_OK ||
        reparam_channel_scale_bits(s, reparam_window(&p)) == 0)
        return FPQ_ERR_ARGUMENT;
    for (c = 0; c < channels; c++)
        offsets[c] = fpqi_reparam_offset(biases[c], shared_bias, p.exp_bits);
    if (shared_scale)
        *shared_scale = s;
    return FPQ_OK;
}

int fpq_reparam_offsets(const fpq_format *fmt, const double *biases, size_t channels,
                        double shared_bias, int *offsets, float *shared_scale)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, reparam_offsets(fmt, biases, channels, shared_bias, offsets,
                                                  shared_scale));
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Fold and unfold: w * 2^-+k per column */

/* A double rounded to float32 to nearest even, overflow to +-Inf without relying on the
 * out-of-range conversion (undefined in C). */
static float reparam_to_float(double d)
{
    const double inf_threshold = 0x1.ffffffp127; /* FLT_MAX + half an ulp: rounds to Inf */
    if (d >= inf_threshold)
        return HUGE_VALF;
    if (d <= -inf_threshold)
        return -HUGE_VALF;
    return (float)d;
}

typedef struct reparam_fold_call {
    reparam_shape sh;
    const void *in;
    void *out;
    const int *offsets;
    int direction; /* -1 fold, +1 unfold */
    const fpqi_kernels *k;
} reparam_fold_call;

/* Elements [c0, c0 + n) of row r; returns how many were rounded. */
static size_t reparam_fold_run(const reparam_fold_call *fc, size_t r, size_t c0, size_t n)
{
    float xbuf[REPARAM_CHUNK], ybuf[REPARAM_CHUNK], back[REPARAM_CHUNK];
    uint16_t narrowed[REPARAM_CHUNK];
    const reparam_shape *sh = &fc->sh;
    const float *x = reparam_row_run(sh, fc->in, r, c0, n, xbuf);
    char *dst = (char *)fc->out + (r * sh->stride + c0) * sh->elem_size;
    const float *result = ybuf;
    size_t j, rounded = 0;

    /* x * 2^(+-k) is exact in double (k <= 255); one rounding to float32. For the 16-bit
     * types the float32 step is exact wherever the narrowing could give a non-zero result
     * (their values carry at most 11 significant bits), so it is still one rounding. */
    for (j = 0; j < n; j++)
        ybuf[j] = reparam_to_float(ldexp((double)x[j], fc->direction * fc->offsets[c0 + j]));
    if (sh->elem_type != FPQ_FLOAT32) {
        fc->k->narrow(sh->elem_type, ybuf, n, narrowed); /* the stored value, widened back */
        fc->k->widen(sh->elem_type, narrowed, n, back);
        result = back;
    }
    /* Counted before the store: in place, x is the output row (float32). */
    for (j = 0; j < n; j++) {
        double exact = ldexp((double)x[j], fc->direction * fc->offsets[c0 + j]);
        if (x[j] == x[j] && (double)result[j] != exact)
            rounded++;
    }
    memcpy(dst, sh->elem_type == FPQ_FLOAT32 ? (const void *)ybuf : (const void *)narrowed,
           n * sh->elem_size);
    return rounded;
}

static int reparam_fold(const fpq_tensor *t, const void *w, const int *offsets, void *w_out,
                        size_t *inexact, int direction)
{
    reparam_fold_call fc;
    fpqi_fpenv env;
    size_t r, c0, span, rounded = 0;
    int status;

    if (!t || !w || !offsets || !w_out)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_shape(t, &fc.sh)) != FPQ_OK)
        return status;
    for (c0 = 0; c0 < fc.sh.cols; c0++)
        if (offsets[c0] < 0 || offsets[c0] > REPARAM_MAX_FOLD_OFFSET)
            return FPQ_ERR_ARGUMENT;
    if (reparam_misaligned(w, fc.sh.elem_size) || reparam_misaligned(w_out, fc.sh.elem_size))
        return FPQ_ERR_ALIGN;
    span = reparam_span(&fc.sh);
    if (w != w_out && reparam_overlap(w, span, w_out, span))
        return FPQ_ERR_OVERLAP;
    if (reparam_overlap(offsets, fc.sh.cols * sizeof(int), w_out, span))
        return FPQ_ERR_OVERLAP;
    fc.in = w;
    fc.out = w_out;
    fc.offsets = offsets;
    fc.direction = direction;
    fc.k = fpqi_active_kernels();
    fpqi_fpenv_enter(&env);
    for (r = 0; r < fc.sh.rows; r++)
        for (c0 = 0; c0 < fc.sh.cols; c0 += REPARAM_CHUNK)
            rounded += reparam_fold_run(&fc, r, c0,
                                        fc.sh.cols - c0 < REPARAM_CHUNK ? fc.sh.cols - c0
                                                                         : REPARAM_CHUNK);
    fpqi_fpenv_leave(&env);
    if (inexact)
        *inexact = rounded;
    return FPQ_OK;
}

int fpq_reparam_fold(const fpq_tensor *t, const void *w, const int *offsets, void *w_out,
                     size_t *inexact)
{
    return reparam_fold(t, w, offsets, w_out, inexact, -1);
}

int fpq_reparam_unfold(const fpq_tensor *t, const void *w, const int *offsets, void *w_out,
                       size_t *inexact)
{
    return reparam_fold(t, w, offsets, w_out, inexact, +1);
}

/* ------------------------------------------------------------------------------------------ */
/* Activations: shared scale, per-column pre-shift */

typedef struct reparam_act_call {
    int fake; /* 0: codes, 1: fake-quantized values */
    const fpqi_kernels *k;
    fpqi_params p;
    reparam_shape sh;
    const void *in;
    void *out;
    float shared_scale;
    const int *offsets;
    unsigned flags;
    size_t row_bytes;
} reparam_act_call;

/* Rows [r0, r1): per band of columns, the channel scales once, then every row of the band
 * through the grouped kernel with one scale per element (group shift 0). A band is wide
 * enough that usual activations (up to REPARAM_BAND channels) are walked row by row. */
static void reparam_act_rows(const reparam_act_call *ac, size_t r0, size_t r1)
{
    float scales[REPARAM_BAND], xbuf[REPARAM_BAND];
    const reparam_shape *sh = &ac->sh;
    fpqi_fpenv env;
    size_t r, c0, j;

    fpqi_fpenv_enter(&env);
    for (c0 = 0; c0 < sh->cols; c0 += REPARAM_BAND) {
        size_t n = sh->cols - c0 < REPARAM_BAND ? sh->cols - c0 : REPARAM_BAND;
        size_t code_off = (ac->flags & FPQ_UNPACKED) ? c0 : (c0 / 8) * (size_t)ac->p.bits;
        for (j = 0; j < n; j++)
            scales[j] = fpqi_u2f(reparam_channel_scale_bits(ac->shared_scale,
                                                            ac->offsets[c0 + j]));
        for (r = r0; r < r1; r++) {
            const float *x = reparam_row_run(sh, ac->in, r, c0, n, xbuf);
            if (!ac->fake) {
                uint8_t *codes = (uint8_t *)ac->out + r * ac->row_bytes + code_off;
                ac->k->quantize_grouped(&ac->p, x, scales, NULL, 0, n, ac->flags, codes);
            } else {
                char *y = (char *)ac->out + (r * sh->stride + c0) * sh->elem_size;
                float *yf = sh->elem_type == FPQ_FLOAT32 ? (float *)(void *)y : xbuf;
                ac->k->fake_quantize_grouped(&ac->p, x, scales, NULL, 0, n, ac->flags, yf);
                if (yf == xbuf)
                    ac->k->narrow(sh->elem_type, xbuf, n, y);
            }
        }
    }
    fpqi_fpenv_leave(&env);
}

/* Rows are independent: threads split them, and any split gives the same bytes. */
static void reparam_act_run(const reparam_act_call *ac)
{
#ifdef _OPENMP
    int threads = fpqi_thread_count();
    if (threads > 1 && ac->sh.rows > 1 && ac->sh.rows * ac->sh.cols >= REPARAM_PARALLEL_MIN) {
        long long rows = (long long)ac->sh.rows, per, t;
        per = (rows + threads - 1) / threads;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (t = 0; t < threads; t++) {
            long long a = t * per, b = a + per < rows ? a + per : rows;
            if (a < b)
                reparam_act_rows(ac, (size_t)a, (size_t)b);
        }
        return;
    }
#endif
    reparam_act_rows(ac, 0, ac->sh.rows);
}

/* Every check of an activation call, in the documented order, before anything is written. */
static int reparam_act_prepare(reparam_act_call *ac, int fake, const fpq_format *fmt,
                               const fpq_tensor *t, const void *x, float shared_scale,
                               const int *offsets, unsigned flags, void *out,
                               size_t codes_bytes)
{
    size_t c, span;
    int status, window;

    if (!fmt || !t || !x || !offsets || !out)
        return FPQ_ERR_NULL;
    if ((status = reparam_check_format(fmt, &ac->p)) != FPQ_OK)
        return status;
    if ((status = reparam_check_shape(t, &ac->sh)) != FPQ_OK)
        return status;
    if (!fpqi_scale_is_valid(shared_scale))
        return FPQ_ERR_SCALE;
    window = reparam_window(&ac->p);
    for (c = 0; c < ac->sh.cols; c++)
        if (offsets[c] < 0 || offsets[c] > window)
            return FPQ_ERR_ARGUMENT;
    for (c = 0; c < ac->sh.cols; c++)
        if (reparam_channel_scale_bits(shared_scale, offsets[c]) == 0)
            return FPQ_ERR_SCALE;
    if (flags & ~(unsigned)REPARAM_KNOWN_FLAGS)
        return FPQ_ERR_FLAGS;
    ac->row_bytes = (flags & FPQ_UNPACKED) ? ac->sh.cols : fpqi_stream_bytes(ac->sh.cols, ac->p.bits);
    if (!fake && (ac->sh.rows > SIZE_MAX / ac->row_bytes ||
                  codes_bytes < ac->sh.rows * ac->row_bytes))
        return FPQ_ERR_CAPACITY;
    if (reparam_misaligned(x, ac->sh.elem_size) ||
        (fake && reparam_misaligned(out, ac->sh.elem_size)))
        return FPQ_ERR_ALIGN;
    span = reparam_span(&ac->sh);
    if (!fake && reparam_overlap(out, ac->sh.rows * ac->row_bytes, x, span))
        return FPQ_ERR_OVERLAP;
    if (fake && out != x && reparam_overlap(out, span, x, span))
        return FPQ_ERR_OVERLAP;
    if (reparam_overlap(offsets, ac->sh.cols * sizeof(int), out,
                        fake ? span : ac->sh.rows * ac->row_bytes))
        return FPQ_ERR_OVERLAP;
    ac->fake = fake;
    ac->k = fpqi_active_kernels();
    ac->in = x;
    ac->out = out;
    ac->shared_scale = shared_scale;
    ac->offsets = offsets;
    ac->flags = flags;
    return FPQ_OK;
}

int fpq_reparam_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                         float shared_scale, const int *offsets, unsigned flags, void *codes,
                         size_t codes_bytes)
{
    reparam_act_call ac;
    int status = reparam_act_prepare(&ac, 0, fmt, t, x, shared_scale, offsets, flags, codes,
                                     codes_bytes);
    if (status == FPQ_OK)
        reparam_act_run(&ac);
    return status;
}

int fpq_reparam_fake_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                              float shared_scale, const int *offsets, unsigned flags, void *y)
{
    reparam_act_call ac;
    int status = reparam_act_prepare(&ac, 1, fmt, t, x, shared_scale, offsets, flags, y, 0);
    if (status == FPQ_OK)
        reparam_act_run(&ac);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* The reference linear layer */

typedef struct reparam_linear_call {
    const uint8_t *x_codes, *w_codes;
    size_t tokens, in, out, x_row_bytes, w_row_bytes;
    int x_bits, w_bits, unpacked;
    double x_values[256], w_values[256]; /* every code's unscaled value */
    float x_scale;
    const float *w_scales, *bias;
    float *y;
} reparam_linear_call;

/* Code c of a row of the little-endian stream (or of one byte per code). */
static uint32_t reparam_code_at(const uint8_t *row, size_t c, int bits, int unpacked)
{
    size_t bit;
    uint32_t v;
    unsigned shift;

    if (unpacked || bits == 8)
        return row[c];
    bit = c * (size_t)bits;
    shift = (unsigned)(bit & 7);
    v = (uint32_t)row[bit >> 3] >> shift;
    if (shift + (unsigned)bits > 8)
        v |= (uint32_t)row[(bit >> 3) + 1] << (8 - shift);
    return v & ((1u << bits) - 1u);
}

static void reparam_values(const fpqi_params *p, double *values)
{
    uint32_t c;
    for (c = 0; c < 256; c++)
        values[c] = (double)fpqi_u2f(fpqi_decode(p, c));
}

/* One output row (token t): the documented order of operations, nothing else. */
static void reparam_linear_token(const reparam_linear_call *lc, size_t t)
{
    const uint8_t *xr = lc->x_codes + t * lc->x_row_bytes;
    size_t o, c;

    for (o = 0; o < lc->out; o++) {
        const uint8_t *wr = lc->w_codes + o * lc->w_row_bytes;
        double acc = 0.0, prod;
        for (c = 0; c < lc->in; c++)
            acc += lc->x_values[reparam_code_at(xr, c, lc->x_bits, lc->unpacked)] *
                   lc->w_values[reparam_code_at(wr, c, lc->w_bits, lc->unpacked)];
        prod = acc * ((double)lc->x_scale * (double)lc->w_scales[o]);
        lc->y[t * lc->out + o] =
            reparam_to_float(lc->bias ? prod + (double)lc->bias[o] : prod);
    }
}

static void reparam_linear_run(const reparam_linear_call *lc)
{
#ifdef _OPENMP
    int threads = fpqi_thread_count();
    double work = (double)lc->tokens * (double)lc->out * (double)lc->in;
    if (threads > 1 && lc->tokens > 1 && work >= (double)REPARAM_PARALLEL_MIN) {
        long long tokens = (long long)lc->tokens, t;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (t = 0; t < tokens; t++) {
            fpqi_fpenv env;
            fpqi_fpenv_enter(&env);
            reparam_linear_token(lc, (size_t)t);
            fpqi_fpenv_leave(&env);
        }
        return;
    }
#endif
    {
        size_t t;
        for (t = 0; t < lc->tokens; t++)
            reparam_linear_token(lc, t);
    }
}

/* Bytes of `rows` rows of `cols` codes, or 0 when that overflows. */
static size_t reparam_codes_size(const fpqi_params *p, size_t rows, size_t cols,
                                 unsigned flags, size_t *row_bytes)
{
    if (cols > SIZE_MAX / 8)
        return 0;
    *row_bytes = (flags & FPQ_UNPACKED) ? cols : fpqi_stream_bytes(cols, p->bits);
    return rows > SIZE_MAX / *row_bytes ? 0 : rows * *row_bytes;
}

static int reparam_linear(const fpq_format *x_fmt, const void *x_codes, size_t x_codes_bytes,
                          size_t tokens, size_t in_features, float x_scale,
                          const fpq_format *w_fmt, const void *w_codes, size_t w_codes_bytes,
                          size_t out_features, const float *w_scales, const float *bias,
                          unsigned flags, float *y)
{
    reparam_linear_call lc;
    fpqi_params xp, wp;
    size_t x_size, w_size, o, y_bytes;
    int status;

    if (!x_fmt || !x_codes || !w_fmt || !w_codes || !w_scales || !y)
        return FPQ_ERR_NULL;
    if ((status = fpqi_params_init(x_fmt, &xp)) != FPQ_OK ||
        (status = fpqi_params_init(w_fmt, &wp)) != FPQ_OK)
        return status;
    if (tokens == 0 || in_features == 0 || out_features == 0)
        return FPQ_ERR_SIZE;
    x_size = reparam_codes_size(&xp, tokens, in_features, flags, &lc.x_row_bytes);
    w_size = reparam_codes_size(&wp, out_features, in_features, flags, &lc.w_row_bytes);
    if (x_size == 0 || w_size == 0 || tokens > SIZE_MAX / sizeof(float) / out_features ||
        out_features > SIZE_MAX / sizeof(float))
        return FPQ_ERR_SIZE;
    y_bytes = tokens * out_features * sizeof(float);
    if (!fpqi_scale_is_valid(x_scale))
        return FPQ_ERR_SCALE;
    if (reparam_misaligned(w_scales, 4) || reparam_misaligned(y, 4) ||
        (bias && reparam_misaligned(bias, 4)))
        return FPQ_ERR_ALIGN;
    for (o = 0; o < out_features; o++)
        if (!fpqi_scale_is_valid(w_scales[o]))
            return FPQ_ERR_SCALE;
    if (flags & ~(unsigned)FPQ_UNPACKED)
        return FPQ_ERR_FLAGS;
    if (x_codes_bytes < x_size || w_codes_bytes < w_size)
        return FPQ_ERR_CAPACITY;
    if (reparam_overlap(y, y_bytes, x_codes, x_size) ||
        reparam_overlap(y, y_bytes, w_codes, w_size) ||
        reparam_overlap(y, y_bytes, w_scales, out_features * sizeof(float)) ||
        (bias && reparam_overlap(y, y_bytes, bias, out_features * sizeof(float))))
        return FPQ_ERR_OVERLAP;
    lc.x_codes = (const uint8_t *)x_codes;
    lc.w_codes = (const uint8_t *)w_codes;
    lc.tokens = tokens;
    lc.in = in_features;
    lc.out = out_features;
    lc.x_bits = xp.bits;
    lc.w_bits = wp.bits;
    lc.unpacked = (flags & FPQ_UNPACKED) != 0;
    reparam_values(&xp, lc.x_values);
    reparam_values(&wp, lc.w_values);
    lc.x_scale = x_scale;
    lc.w_scales = w_scales;
    lc.bias = bias;
    lc.y = y;
    reparam_linear_run(&lc);
    return FPQ_OK;
}

int fpq_reparam_linear_reference(const fpq_format *x_fmt, const void *x_codes,
                                 size_t x_codes_bytes, size_t tokens, size_t in_features,
                                 float x_scale, const fpq_format *w_fmt, const void *w_codes,
                                 size_t w_codes_bytes, size_t out_features,
                                 const float *w_scales, const float *bias, unsigned flags,
                                 float *y)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, reparam_linear(x_fmt, x_codes, x_codes_bytes, tokens,
                                                 in_features, x_scale, w_fmt, w_codes,
                                                 w_codes_bytes, out_features, w_scales, bias,
                                                 flags, y));
    return status;
}

#undef REPARAM_CHUNK
#undef REPARAM_BAND
#undef REPARAM_PARALLEL_MIN
#undef REPARAM_KNOWN_FLAGS
#undef REPARAM_MAX_FOLD_OFFSET
