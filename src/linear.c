/*
 * linear.c - the W4A4 linear layer's public calls: format support and bounds, packing the
 * weights and the activations into the kernels' layouts (linear.h), and the forward call that
 * validates two layouts and hands row chunks to the backend's kernel, on threads when large.
 */
#include "linear.h"

#include "fpenv.h"
#include "fpq_round.h"

#include <math.h>

#ifdef _OPENMP
#  include <omp.h>
#endif

/* Multiply-adds below which a forward call stays on the calling thread: about 0.1 ms of
 * work, where waking a second thread stops being noise. */
#define LINEAR_PARALLEL_MIN ((uint64_t)1 << 24)

/* ------------------------------------------------------------------------------------------ */
/* Formats */

/* Reduces fmt to integers: FPQ_ERR_FORMAT for an invalid descriptor, FPQ_ERR_UNSUPPORTED for
 * one with NaN / Inf codes or integers past 127. */
static int linear_format_init(const fpq_format *fmt, fpqi_linear_format *f)
{
    uint32_t c, count;
    int status = fpqi_params_init(fmt, &f->p);

    if (status != FPQ_OK)
        return status;
    if (f->p.family != FPQ_FAMILY_FINITE)
        return FPQ_ERR_UNSUPPORTED;
    f->shift = f->p.emin - f->p.man_bits;
    f->max_abs = 0;
    f->wide = f->p.bits > 4;
    memset(f->ints, 0, sizeof f->ints);
    count = 1u << f->p.bits;
    for (c = 0; c < count; c++) {
        uint32_t mag = c & (f->p.sign_bit - 1u) & f->p.code_mask;
        uint32_t e_field = mag >> f->p.man_bits;
        uint32_t n = mag & ((1u << f->p.man_bits) - 1u);
        uint32_t v;
        if (e_field) /* a normal: the implicit bit, and a step of 2^(e_field - 1) quanta */
            n |= 1u << f->p.man_bits;
        if (e_field > 8 || (e_field && (n << (e_field - 1)) > 127u))
            return FPQ_ERR_UNSUPPORTED;
        v = e_field ? n << (e_field - 1) : n;
        f->ints[c] = (int8_t)((c & f->p.sign_bit) ? -(int)v : (int)v);
        if ((int)v > f->max_abs)
            f->max_abs = (int)v;
    }
    return FPQ_OK;
}

static size_t linear_max_k(const fpqi_linear_format *x, const fpqi_linear_format *w)
{
    uint64_t per_k = (uint64_t)(x->max_abs ? x->max_abs : 1) * (uint64_t)(w->max_abs ? w->max_abs : 1);
    uint64_t k = FPQI_LINEAR_ACC_LIMIT / per_k;
    return k > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)k;
}

size_t fpq_linear_max_in_features(const fpq_format *x_fmt, const fpq_format *w_fmt)
{
    fpqi_linear_format x, w;
    if (!x_fmt || !w_fmt || linear_format_init(x_fmt, &x) != FPQ_OK ||
        linear_format_init(w_fmt, &w) != FPQ_OK)
        return 0;
    return linear_max_k(&x, &w);
}

/* ------------------------------------------------------------------------------------------ */
/* Sizes; every product checked against overflow. */

static size_t linear_kpad(size_t k) { return k + (size_t)((8 - k % 8) % 8); }

static size_t linear_round64(size_t n) { return n + (size_t)((64 - n % 64) % 64); }

static size_t linear_out_pad(size_t out)
{
    return out + (size_t)((FPQI_LINEAR_CHUNK_ROWS - out % FPQI_LINEAR_CHUNK_ROWS) %
                          FPQI_LINEAR_CHUNK_ROWS);
}

/* Largest size we ever compute: keeps every intermediate below SIZE_MAX. */
#define LINEAR_SIZE_CAP (SIZE_MAX / 4)

static size_t linear_w_codes_offset(size_t out)
{
    return linear_round64(FPQI_LINEAR_HEADER_BYTES + linear_out_pad(out) * sizeof(float));
}

static size_t linear_tile_bytes(size_t k, int wide)
{
    return linear_kpad(k) / 8 * (wide ? 128 : 64);
}

static size_t linear_w_size(size_t out, size_t k, int wide)
{
    size_t tiles;
    if (out == 0 || k == 0 || out > LINEAR_SIZE_CAP / 64 || k > LINEAR_SIZE_CAP / 32)
        return 0;
    tiles = linear_out_pad(out) / FPQI_LINEAR_TILE_ROWS;
    if (linear_tile_bytes(k, wide) > (LINEAR_SIZE_CAP - linear_w_codes_offset(out)) / tiles)
        return 0;
    return linear_w_codes_offset(out) + tiles * linear_tile_bytes(k, wide);
}

static size_t linear_x_data_offset(size_t tokens)
{
    return linear_round64(FPQI_LINEAR_HEADER_BYTES + tokens * sizeof(int32_t));
}

size_t fpq_linear_activations_size(size_t tokens, size_t in_features)
{
    size_t kpad;
    if (tokens == 0 || in_features == 0 || tokens > LINEAR_SIZE_CAP / 64 ||
        in_features > LINEAR_SIZE_CAP / 32)
        return 0;
    kpad = linear_kpad(in_features);
    if (kpad > (LINEAR_SIZE_CAP - linear_x_data_offset(tokens)) / tokens)
        return 0;
    return linear_x_data_offset(tokens) + tokens * kpad;
}

size_t fpq_pack_weights_size(const fpq_format *w_fmt, size_t out_features, size_t in_features)
{
    fpqi_linear_format w;
    if (!w_fmt || linear_format_init(w_fmt, &w) != FPQ_OK)
        return 0;
    return linear_w_size(out_features, in_features, w.wide);
}

/* ------------------------------------------------------------------------------------------ */
/* Shared checks */

static int linear_overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + b_len && pb < pa + a_len;
}

static int linear_misaligned(const void *ptr, size_t alignment)
{
    return ((uintptr_t)ptr & (alignment - 1)) != 0;
}

/* The code bytes of rows x cols codes laid out as the tensor calls do; 0 on overflow. */
static size_t linear_code_bytes(const fpqi_params *p, size_t rows, size_t cols)
{
    size_t row = fpqi_stream_bytes(cols, p->bits);
    return row > LINEAR_SIZE_CAP / rows ? 0 : row * rows;
}

static void linear_header_write(void *dst, uint32_t magic, const fpq_format *fmt, int wide,
                                size_t rows, size_t cols, float scale)
{
    fpqi_linear_header h;
    memset(&h, 0, sizeof h);
    h.magic = magic;
    h.layout = FPQI_LINEAR_LAYOUT;
    h.fmt[0] = fmt->exp_bits;
    h.fmt[1] = fmt->man_bits;
    h.fmt[2] = fmt->bias;
    h.fmt[3] = fmt->family;
    h.fmt[4] = fmt->is_signed;
    h.wide = wide;
    h.rows = rows;
    h.cols = cols;
    h.scale = scale;
    memcpy(dst, &h, sizeof h);
}

/* The alignment padding between a layout's arrays: zero, so that a layout is a function of
 * its inputs alone. */
static void linear_zero_gap(void *blob, size_t begin, size_t end)
{
    memset((uint8_t *)blob + begin, 0, end - begin);
}

/* ------------------------------------------------------------------------------------------ */
/* Weights */

/* Codes of rows [r0, r0 + 16) (zero past out) into one tile of the layout. */
static void linear_pack_tile(const fpqi_linear_format *f, const uint8_t *codes, size_t row_bytes,
                             size_t out, size_t k, size_t r0, uint8_t *tile, uint8_t *row_buf)
{
    size_t kpad = linear_kpad(k), r, g, j;
    for (r = 0; r < FPQI_LINEAR_TILE_ROWS; r++) {
        memset(row_buf, 0, kpad);
        if (r0 + r < out)
            fpqi_unpack(codes + (r0 + r) * row_bytes, k, f->p.bits, 0, row_buf);
        for (g = 0; g < kpad / 8; g++) {
            const uint8_t *c = row_buf + 8 * g;
            for (j = 0; j < 4; j++) {
                if (f->wide) {
                    uint8_t *grp = tile + 128 * g;
                    grp[4 * r + j] = (uint8_t)f->ints[c[j]];
                    grp[64 + 4 * r + j] = (uint8_t)f->ints[c[4 + j]];
                } else {
                    tile[64 * g + 4 * r + j] = (uint8_t)(c[j] | c[4 + j] << 4);
                }
            }
        }
    }
}

/* Columns a row is unpacked in at a time, into a stack buffer (no allocation). */
#define LINEAR_PIECE 4096

static void linear_pack_weights_run(const fpqi_linear_format *f, const uint8_t *codes,
                                    size_t out, size_t k, const float *row_scales,
                                    uint8_t *packed)
{
    uint8_t piece[LINEAR_PIECE + 8];
    size_t out_pad = linear_out_pad(out), r, t, k0;
    size_t row_bytes = fpqi_stream_bytes(k, f->p.bits);
    size_t tile_bytes = linear_tile_bytes(k, f->wide);
    uint8_t *tiles = packed + linear_w_codes_offset(out);
    float *scales = (float *)(void *)(packed + FPQI_LINEAR_HEADER_BYTES);

    for (r = 0; r < out_pad; r++)
        scales[r] = r < out ? row_scales[r] : 1.0f;
    /* Column pieces of LINEAR_PIECE (a multiple of 8) keep the buffer on the stack; a piece
     * starts on a byte of every row's stream and on a group of the tile. */
    for (t = 0; t < out_pad / FPQI_LINEAR_TILE_ROWS; t++) {
        for (k0 = 0; k0 < k; k0 += LINEAR_PIECE) {
            size_t len = k - k0 < LINEAR_PIECE ? k - k0 : LINEAR_PIECE;
            linear_pack_tile(f, codes + k0 / 8 * (size_t)f->p.bits, row_bytes, out, len,
                             t * FPQI_LINEAR_TILE_ROWS,
                             tiles + t * tile_bytes + k0 / 8 * (f->wide ? 128 : 64), piece);
        }
    }
}

int fpq_pack_weights(const fpq_format *w_fmt, const void *codes, size_t out_features,
                     size_t in_features, const float *row_scales, void *packed,
                     size_t packed_bytes)
{
    fpqi_linear_format f;
    size_t need, code_bytes, r;
    int status;

    if (!w_fmt || !codes || !row_scales || !packed)
        return FPQ_ERR_NULL;
    status = linear_format_init(w_fmt, &f);
    if (status != FPQ_OK)
        return status;
    need = linear_w_size(out_features, in_features, f.wide);
    code_bytes = need ? linear_code_bytes(&f.p, out_features, in_features) : 0;
    if (!need || !code_bytes)
        return FPQ_ERR_SIZE;
    if (linear_misaligned(row_scales, sizeof(float)) || linear_misaligned(packed, 16))
        return FPQ_ERR_ALIGN;
    for (r = 0; r < out_features; r++)
        if (!fpqi_scale_is_valid(row_scales[r]))
            return FPQ_ERR_SCALE;
    if (packed_bytes < need)
        return FPQ_ERR_CAPACITY;
    if (linear_overlap(packed, need, codes, code_bytes) ||
        linear_overlap(packed, need, row_scales, out_features * sizeof(float)))
        return FPQ_ERR_OVERLAP;
    linear_header_write(packed, FPQI_LINEAR_MAGIC_W, w_fmt, f.wide, out_features, in_features,
                        0.0f);
    linear_zero_gap(packed, FPQI_LINEAR_HEADER_BYTES + linear_out_pad(out_features) * sizeof(float),
                    linear_w_codes_offset(out_features));
    linear_pack_weights_run(&f, (const uint8_t *)codes, out_features, in_features, row_scales,
                            (uint8_t *)packed);
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Activations */

/* Codes (one a byte) -> integers in place, zero padding to kpad; returns the row's sum. */
static int32_t linear_codes_to_ints(const fpqi_linear_format *f, uint8_t *row, size_t k,
                                    size_t kpad)
{
    uint32_t sum = 0; /* wraps like the kernels' int32 lanes for huge rows */
    size_t i;
    for (i = 0; i < k; i++) {
        int8_t v = f->ints[row[i]];
        row[i] = (uint8_t)v;
        sum += (uint32_t)(int32_t)v;
    }
    for (; i < kpad; i++)
        row[i] = 0;
    return fpqi_linear_wrap_sub(sum, 0, 0);
}

/* The checks both activation calls share, in the documented order after the NULL checks;
 * x (the float input of the fused call, else NULL) adds its stride and alignment. */
static int linear_act_check(const fpq_format *x_fmt, fpqi_linear_format *f, size_t tokens,
                            size_t k, const float *x, size_t x_stride, float scale, void *act,
                            size_t act_bytes, size_t *need)
{
    int status = linear_format_init(x_fmt, f);
    if (status != FPQ_OK)
        return status;
    *need = fpq_linear_activations_size(tokens, k);
    if (!*need)
        return FPQ_ERR_SIZE;
    if (x && (x_stride < k || x_stride > LINEAR_SIZE_CAP / sizeof(float) / tokens))
        return FPQ_ERR_SIZE;
    if (linear_misaligned(act, 16) || (x && linear_misaligned(x, sizeof(float))))
        return FPQ_ERR_ALIGN;
    if (!fpqi_scale_is_valid(scale))
        return FPQ_ERR_SCALE;
    if (act_bytes < *need)
        return FPQ_ERR_CAPACITY;
    return FPQ_OK;
}

int fpq_linear_pack_activations(const fpq_format *x_fmt, const void *codes, size_t tokens,
                                size_t in_features, float scale, void *act, size_t act_bytes)
{
    fpqi_linear_format f;
    size_t need, code_bytes, t, kpad = linear_kpad(in_features);
    uint8_t *base = (uint8_t *)act;
    int32_t *sums;
    int status;

    if (!x_fmt || !codes || !act)
        return FPQ_ERR_NULL;
    status = linear_act_check(x_fmt, &f, tokens, in_features, NULL, 0, scale, act, act_bytes,
                              &need);
    if (status != FPQ_OK)
        return status;
    code_bytes = linear_code_bytes(&f.p, tokens, in_features);
    if (!code_bytes)
        return FPQ_ERR_SIZE;
    if (linear_overlap(act, need, codes, code_bytes))
        return FPQ_ERR_OVERLAP;
    linear_header_write(act, FPQI_LINEAR_MAGIC_X, x_fmt, f.wide, tokens, in_features, scale);
    linear_zero_gap(act, FPQI_LINEAR_HEADER_BYTES + tokens * sizeof(int32_t),
                    linear_x_data_offset(tokens));
    sums = (int32_t *)(void *)(base + FPQI_LINEAR_HEADER_BYTES);
    for (t = 0; t < tokens; t++) {
        uint8_t *row = base + linear_x_data_offset(tokens) + t * kpad;
        fpqi_unpack((const uint8_t *)codes + t * fpqi_stream_bytes(in_features, f.p.bits),
                    in_features, f.p.bits, 0, row);
        sums[t] = linear_codes_to_ints(&f, row, in_features, kpad);
    }
    return FPQ_OK;
}

typedef struct linear_quantize_job {
    const fpqi_linear_format *f;
    const fpqi_kernels *k;
    const float *x;
    size_t x_stride, cols, kpad, tokens;
    float scale;
    uint8_t *rows;
    int32_t *sums;
} linear_quantize_job;

/* Tokens [t0, t1): the backend's quantize kernel writes one code a byte straight into the
 * token's row of the layout, which is then mapped to integers while it is still in L1. */
static void linear_quantize_range(const linear_quantize_job *j, size_t t0, size_t t1)
{
    fpqi_fpenv env;
    size_t t;
    fpqi_fpenv_enter(&env);
    for (t = t0; t < t1; t++) {
        uint8_t *row = j->rows + t * j->kpad;
        j->k->quantize(&j->f->p, j->x + t * j->x_stride, 0, j->cols, j->scale, FPQ_UNPACKED,
                       row);
        j->sums[t] = linear_codes_to_ints(j->f, row, j->cols, j->kpad);
    }
    fpqi_fpenv_leave(&env);
}

int fpq_linear_quantize_activations(const fpq_format *x_fmt, const float *x, size_t tokens,
                                    size_t in_features, size_t x_stride, float scale, void *act,
                                    size_t act_bytes)
{
    fpqi_linear_format f;
    linear_quantize_job j;
    size_t need, x_len;
    int status;

    if (!x_fmt || !x || !act)
        return FPQ_ERR_NULL;
    status = linear_act_check(x_fmt, &f, tokens, in_features, x, x_stride, scale, act,
                              act_bytes, &need);
    if (status != FPQ_OK)
        return status;
    x_len = ((tokens - 1) * x_stride + in_features) * sizeof(float);
    if (linear_overlap(act, need, x, x_len))
        return FPQ_ERR_OVERLAP;
    linear_header_write(act, FPQI_LINEAR_MAGIC_X, x_fmt, f.wide, tokens, in_features, scale);
    linear_zero_gap(act, FPQI_LINEAR_HEADER_BYTES + tokens * sizeof(int32_t),
                    linear_x_data_offset(tokens));
    j.f = &f;
    j.k = fpqi_active_kernels();
    j.x = x;
    j.x_stride = x_stride;
    j.cols = in_features;
    j.kpad = linear_kpad(in_features);
    j.tokens = tokens;
    j.scale = scale;
    j.rows = (uint8_t *)act + linear_x_data_offset(tokens);
    j.sums = (int32_t *)(void *)((uint8_t *)act + FPQI_LINEAR_HEADER_BYTES);
#ifdef _OPENMP
    {
        int threads = fpqi_thread_count();
        if (threads > 1 && (uint64_t)tokens * in_features >= ((uint64_t)1 << 18)) {
            long long n = (long long)tokens, t;
#pragma omp parallel for schedule(static) num_threads(threads)
            for (t = 0; t < n; t++)
                linear_quantize_range(&j, (size_t)t, (size_t)t + 1);
            return FPQ_OK;
        }
    }
#endif
    linear_quantize_range(&j, 0, tokens);
    return FPQ_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Forward */

/* Reads and checks a layout's header: its magic and version, a supported format, a shape
 * whose size fits in `bytes`. */
static int linear_layout_read(const void *blob, size_t bytes, uint32_t magic,
                              fpqi_linear_header *h, fpqi_linear_format *f, fpq_format *fmt)
{
    size_t need;
    if (bytes < FPQI_LINEAR_HEADER_BYTES)
        return FPQ_ERR_CAPACITY;
    memcpy(h, blob, sizeof *h);
    if (h->magic != magic || h->layout != FPQI_LINEAR_LAYOUT || h->rows == 0 || h->cols == 0 ||
        h->rows > (uint64_t)LINEAR_SIZE_CAP || h->cols > (uint64_t)LINEAR_SIZE_CAP)
        return FPQ_ERR_ARGUMENT;
    memset(fmt, 0, sizeof *fmt);
    fmt->exp_bits = h->fmt[0];
    fmt->man_bits = h->fmt[1];
    fmt->bias = h->fmt[2];
    fmt->family = h->fmt[3];
    fmt->is_signed = h->fmt[4];
    if (linear_format_init(fmt, f) != FPQ_OK || h->wide != f->wide)
        return FPQ_ERR_ARGUMENT;
    if (magic == FPQI_LINEAR_MAGIC_X) {
        if (!fpqi_scale_is_valid(h->scale))
            return FPQ_ERR_ARGUMENT;
        need = fpq_linear_activations_size((size_t)h->rows, (size_t)h->cols);
    } else {
        need = linear_w_size((size_t)h->rows, (size_t)h->cols, f->wide);
    }
    if (!need)
        return FPQ_ERR_ARGUMENT;
    return bytes < need ? FPQ_ERR_CAPACITY : FPQ_OK;
}

/* The kernel for the backend in use: the same backend name selects the linear kernel of the
 * same instruction set (AVX-512 without VNNI takes the AVX2 one; NEON without the dot
 * product instructions its plain-NEON one). */
#if FPQI_X86_SIMD
#  include <cpuid.h>
static int linear_has_avx512_vnni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (c >> 11) & 1; /* AVX512_VNNI; the AVX-512 backend checked the OS state */
}
#endif
#if FPQI_ARM_SIMD && defined(__linux__)
#  include <sys/auxv.h>
#endif
#if FPQI_ARM_SIMD
static int linear_has_dotprod(void)
{
#  if defined(__linux__)
    return (getauxval(AT_HWCAP) & (1ul << 20)) != 0; /* HWCAP_ASIMDDP */
#  else
    return 0;
#  endif
}
#endif

static fpqi_linear_kernel linear_kernel_for(const fpqi_kernels *k)
{
#if FPQI_X86_SIMD
    if (k == &fpqi_kernels_avx512)
        return linear_has_avx512_vnni() ? fpqi_linear_avx512_vnni : fpqi_linear_avx2;
    if (k == &fpqi_kernels_avx2)
        return fpqi_linear_avx2;
#endif
#if FPQI_ARM_SIMD
    if (k == &fpqi_kernels_neon)
        return linear_has_dotprod() ? fpqi_linear_neon_dot : fpqi_linear_neon;
#endif
    (void)k;
    return fpqi_linear_scalar;
}

static void linear_run_rows(fpqi_linear_kernel kernel, const fpqi_linear_problem *pb,
                            size_t r0, size_t r1)
{
    fpqi_fpenv env;
    fpqi_fpenv_enter(&env);
    kernel(pb, r0, r1);
    fpqi_fpenv_leave(&env);
}

static void linear_run(fpqi_linear_kernel kernel, const fpqi_linear_problem *pb, size_t kpad)
{
    size_t chunks = linear_out_pad(pb->out) / FPQI_LINEAR_CHUNK_ROWS;
#ifdef _OPENMP
    int threads = fpqi_thread_count();
    if (threads > 1 && chunks > 1 &&
        (uint64_t)pb->tokens * pb->out * kpad >= LINEAR_PARALLEL_MIN) {
        long long n = (long long)chunks, c;
        /* Each output is one thread's alone and integer sums do not depend on order: the
         * bits are those of one thread. Dynamic chunks, so that a thread the OS delays does
         * not hold back a fixed share. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (c = 0; c < n; c++)
            linear_run_rows(kernel, pb, (size_t)c * FPQI_LINEAR_CHUNK_ROWS,
                            (size_t)(c + 1) * FPQI_LINEAR_CHUNK_ROWS);
        return;
    }
#else
    (void)kpad;
#endif
    linear_run_rows(kernel, pb, 0, chunks * FPQI_LINEAR_CHUNK_ROWS);
}

int fpq_linear_forward(const void *act, size_t act_bytes, const void *packed,
                       size_t packed_bytes, const float *bias, float *y, size_t y_stride)
{
    fpqi_linear_header hx, hw;
    fpqi_linear_format fx, fw;
    fpq_format fmt_x, fmt_w;
    fpqi_linear_problem pb;
    size_t tokens, out, k, y_len, c;
    int status;

    if (!act || !packed || !y)
        return FPQ_ERR_NULL;
    status = linear_layout_read(act, act_bytes, FPQI_LINEAR_MAGIC_X, &hx, &fx, &fmt_x);
    if (status == FPQ_OK)
        status = linear_layout_read(packed, packed_bytes, FPQI_LINEAR_MAGIC_W, &hw, &fw, &fmt_w);
    if (status != FPQ_OK)
        return status;
    if (hx.cols != hw.cols)
        return FPQ_ERR_ARGUMENT;
    tokens = (size_t)hx.rows;
    out = (size_t)hw.rows;
    k = (size_t)hx.cols;
    if (k > linear_max_k(&fx, &fw) || y_stride < out ||
        y_stride > LINEAR_SIZE_CAP / sizeof(float) / tokens)
        return FPQ_ERR_SIZE;
    if (linear_misaligned(y, sizeof(float)) || (bias && linear_misaligned(bias, sizeof(float))) ||
        linear_misaligned(act, 16) || linear_misaligned(packed, 16))
        return FPQ_ERR_ALIGN;
    y_len = ((tokens - 1) * y_stride + out) * sizeof(float);
    if (linear_overlap(y, y_len, act, act_bytes) || linear_overlap(y, y_len, packed, packed_bytes) ||
        (bias && linear_overlap(y, y_len, bias, out * sizeof(float))))
        return FPQ_ERR_OVERLAP;

    pb.tile_bytes = linear_tile_bytes(k, fw.wide);
    pb.w = (const uint8_t *)packed + linear_w_codes_offset(out);
    pb.w_scales = (const float *)(const void *)((const uint8_t *)packed + FPQI_LINEAR_HEADER_BYTES);
    pb.wide = fw.wide;
    pb.x_max = fx.max_abs;
    for (c = 0; c < 16; c++)
        pb.lut[c] = fw.ints[c];
    pb.x = (const int8_t *)act + linear_x_data_offset(tokens);
    pb.x_stride = linear_kpad(k);
    pb.x_sums = (const int32_t *)(const void *)((const uint8_t *)act + FPQI_LINEAR_HEADER_BYTES);
    pb.tokens = tokens;
    pb.out = out;
    pb.groups = linear_kpad(k) / 8;
    pb.sx = hx.scale;
    /* shift_x + shift_w >= 2 * (-127 - 7): far inside double's range */
    pb.pow2 = ldexp(1.0, fx.shift + fw.shift);
    pb.bias = bias;
    pb.y = y;
    pb.y_stride = y_stride;
    linear_run(linear_kernel_for(fpqi_active_kernels()), &pb, linear_kpad(k));
    return FPQ_OK;
}

#undef LINEAR_PARALLEL_MIN
#undef LINEAR_SIZE_CAP
#undef LINEAR_PIECE
