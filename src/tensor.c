/*
 * tensor.c - 2-D tensors with scales per tensor, row, column or block (float32, OCP MX E8M0 and
 * NVFP4 E4M3 scale encodings), float32 / float16 / bfloat16 elements.
 *
 * Every row is processed in chunks of CHUNK elements on the stack: elements are widened to
 * float32, the group scales of a per-column or per-block tensor are spread to one scale per
 * element, and the kernel table does the rest, so a tensor element is quantized exactly as
 * fpq_quantize would quantize it with its group's scale. Nothing is allocated.
 */
#include "convert.h"
#include "fpenv.h"
#include "fpq_round.h"

#include <float.h>
#include <math.h>

#ifdef _OPENMP
#  include <omp.h>
#endif

/* A multiple of 8 (chunks start on a byte of the packed stream) and of every block size. */
#define CHUNK 1024
#define PARALLEL_MIN ((size_t)1 << 18)
#define KNOWN_FLAGS (FPQ_UNPACKED | FPQ_NO_SATURATE)
#define E4M3_MAX 448.0

/* A validated tensor description. */
typedef struct shape {
    size_t rows, cols, stride, elem_size, blocks_per_row, num_scales;
    int elem_type, granularity, block_size, block_shift;
} shape;

static int is_pow2_block(int k)
{
    return k >= 8 && k <= 1024 && (k & (k - 1)) == 0;
}

int fpqi_tensor_check(const fpq_tensor *t)
{
    if (t->struct_size < sizeof(fpq_tensor) || t->reserved)
        return FPQ_ERR_ARGUMENT;
    if (t->elem_type < FPQ_FLOAT32 || t->elem_type > FPQ_BFLOAT16)
        return FPQ_ERR_ARGUMENT;
    if (t->granularity < FPQ_PER_TENSOR || t->granularity > FPQ_PER_BLOCK)
        return FPQ_ERR_ARGUMENT;
    if (t->granularity == FPQ_PER_BLOCK && !is_pow2_block(t->block_size))
        return FPQ_ERR_ARGUMENT;
    if (t->rows == 0 || t->cols == 0 || t->row_stride < t->cols)
        return FPQ_ERR_SIZE;
    return FPQ_OK;
}

static int check_shape(const fpq_tensor *t, shape *sh)
{
    int status;
    if (!t)
        return FPQ_ERR_NULL;
    if ((status = fpqi_tensor_check(t)) != FPQ_OK)
        return status;
    sh->elem_size = fpqi_elem_size(t->elem_type);
    if (!fpqi_extent_fits(t->rows, t->cols, t->row_stride, sh->elem_size))
        return FPQ_ERR_SIZE;
    sh->rows = t->rows;
    sh->cols = t->cols;
    sh->stride = t->row_stride;
    sh->elem_type = t->elem_type;
    sh->granularity = t->granularity;
    sh->block_size = t->block_size;
    sh->block_shift = 0;
    if (t->granularity == FPQ_PER_BLOCK) /* validated: a power of two up to 1024 */
        while ((1 << sh->block_shift) < t->block_size)
            sh->block_shift++;
    sh->blocks_per_row = (t->cols + (size_t)t->block_size - 1) / (size_t)(t->block_size | 1);
    switch (t->granularity) {
    case FPQ_PER_TENSOR: sh->num_scales = 1; break;
    case FPQ_PER_ROW: sh->num_scales = t->rows; break;
    case FPQ_PER_COLUMN: sh->num_scales = t->cols; break;
    default:
        sh->blocks_per_row = (t->cols + (size_t)t->block_size - 1) / (size_t)t->block_size;
        sh->num_scales = t->rows * sh->blocks_per_row; /* < rows * cols: no overflow */
        break;
    }
    return FPQ_OK;
}

size_t fpq_tensor_num_scales(const fpq_tensor *t)
{
    shape sh;
    return check_shape(t, &sh) == FPQ_OK ? sh.num_scales : 0;
}

static size_t row_code_bytes(const fpqi_params *p, size_t cols, unsigned flags)
{
    return (flags & FPQ_UNPACKED) ? cols : fpqi_stream_bytes(cols, p->bits);
}

size_t fpq_tensor_code_bytes(const fpq_format *fmt, const fpq_tensor *t, unsigned flags)
{
    fpqi_params p;
    shape sh;
    size_t row;

    if (fpqi_params_init(fmt, &p) != FPQ_OK || check_shape(t, &sh) != FPQ_OK ||
        (flags & ~(unsigned)KNOWN_FLAGS))
        return 0;
    row = row_code_bytes(&p, sh.cols, flags);
    return sh.rows > SIZE_MAX / row ? 0 : sh.rows * row;
}

/* ------------------------------------------------------------------------------------------ */
/* Scales */

/* The E4M3 (float8_e4m3fn) format of NVFP4's block scales. */
static void e4m3_params(fpqi_params *p)
{
    fpq_format f;
    fpq_format_make(4, 3, 7, FPQ_FAMILY_FN, 1, &f);
    fpqi_params_init(&f, p);
}

/* The scales of a call, decoded to float32 on demand. */
typedef struct scale_view {
    int encoding;
    const float *f32;
    const uint8_t *codes;
    float tensor_scale;
    fpqi_params e4m3;
    float e4m3_scale[256]; /* E4M3: tensor_scale * value(code) for every code */
} scale_view;

/* The 256 group scales an E4M3 code can stand for, each the float32 product. */
static void build_e4m3_scales(scale_view *v)
{
    uint32_t c;
    for (c = 0; c < 256; c++)
        v->e4m3_scale[c] = v->tensor_scale * fpqi_u2f(fpqi_decode(&v->e4m3, c));
}

static float scale_at(const scale_view *v, size_t i)
{
    uint32_t c;
    switch (v->encoding) {
    case FPQ_SCALE_FLOAT32:
        return v->f32[i];
    case FPQ_SCALE_E8M0:
        c = v->codes[i];
        if (c == 0xff)
            return fpqi_u2f(0x7fc00000u);
        return fpqi_u2f(c ? c << 23 : 0x00400000u); /* 2^(c - 127); code 0 is 2^-127 */
    default:
        return v->e4m3_scale[v->codes[i]];
    }
}

/* Checks the scale array against the shape; every scale must be valid (E8M0: any code). */
static int check_scales(const fpq_scales *s, const shape *sh, scale_view *v, int writing)
{
    size_t i;

    if (!s || !s->data)
        return FPQ_ERR_NULL;
    if (s->struct_size < sizeof(fpq_scales) || s->reserved)
        return FPQ_ERR_ARGUMENT;
    if (s->encoding < FPQ_SCALE_FLOAT32 || s->encoding > FPQ_SCALE_E4M3)
        return FPQ_ERR_ARGUMENT;
    if (s->count < sh->num_scales)
        return FPQ_ERR_CAPACITY;
    if (s->encoding == FPQ_SCALE_FLOAT32 && ((uintptr_t)s->data & 3))
        return FPQ_ERR_ALIGN;
    v->encoding = s->encoding;
    v->f32 = (const float *)s->data;
    v->codes = (const uint8_t *)s->data;
    v->tensor_scale = s->tensor_scale;
    e4m3_params(&v->e4m3);
    if (s->encoding == FPQ_SCALE_E4M3)
        build_e4m3_scales(v);
    if (writing || s->encoding == FPQ_SCALE_E8M0)
        return FPQ_OK;
    if (s->encoding == FPQ_SCALE_E4M3) {
        /* Only 256 possible scales: mark the valid ones once. */
        uint8_t valid[256];
        for (i = 0; i < 256; i++)
            valid[i] = (uint8_t)fpqi_scale_is_valid(v->e4m3_scale[i]);
        for (i = 0; i < sh->num_scales; i++)
            if (!valid[v->codes[i]])
                return FPQ_ERR_SCALE;
        return FPQ_OK;
    }
    for (i = 0; i < sh->num_scales; i++)
        if (!fpqi_scale_is_valid(scale_at(v, i)))
            return FPQ_ERR_SCALE;
    return FPQ_OK;
}

static size_t scale_bytes(const fpq_scales *s, const shape *sh)
{
    return sh->num_scales * (s->encoding == FPQ_SCALE_FLOAT32 ? 4 : 1);
}

/* Statistics of a group: largest finite |x|, and whether a NaN or Inf was seen. */
typedef struct group_stats {
    uint32_t amax_bits; /* |x| bits order as the values do */
    int nonfinite;
} group_stats;

static void observe(group_stats *g, const float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t a = fpqi_f2u(x[i]) & 0x7fffffffu;
        if (a >= 0x7f800000u)
            g->nonfinite = 1;
        else if (a > g->amax_bits)
            g->amax_bits = a;
    }
}

/* Elements [c, c + n) of row r (n <= CHUNK) as float32. */
static const float *row_run(const shape *sh, const void *x, size_t r, size_t c, size_t n,
                            float *buf)
{
    const char *src = (const char *)x + (r * sh->stride + c) * sh->elem_size;
    if (sh->elem_type == FPQ_FLOAT32)
        return (const float *)(const void *)src;
    fpqi_active_kernels()->widen(sh->elem_type, src, n, buf);
    return buf;
}

static void observe_rows(const shape *sh, const void *x, size_t r0, size_t r1, size_t c0,
                         size_t c1, group_stats *g)
{
    float buf[CHUNK];
    size_t r, c;
    for (r = r0; r < r1; r++)
        for (c = c0; c < c1; c += CHUNK) {
            size_t n = c1 - c < CHUNK ? c1 - c : CHUNK;
            observe(g, row_run(sh, x, r, c, n, buf), n);
        }
}

/* A float32 scale clamped into the valid range (a tiny or huge group still gets a usable
 * scale; its values then underflow or saturate as they must). */
static float clamp_scale(double s)
{
    if (!(s >= (double)FLT_MIN))
        return FLT_MIN;
    if (s > (double)FLT_MAX)
        return FLT_MAX;
    return (float)s;
}

static int floor_log2(uint32_t bits)
{
    if (bits >= 0x00800000u)
        return (int)(bits >> 23) - 127;
    return -118 - __builtin_clz(bits); /* subnormal: bits * 2^-149, bits < 2^23 */
}

typedef struct scale_recipe {
    int encoding;
    double clip, max_finite;
    int emax_elem;
    const scale_view *view; /* E4M3: its tensor_scale and e4m3 params */
} scale_recipe;

/* Writes group i's scale from its statistics, by the recipes in fpq.h. */
static void write_scale(const scale_recipe *rc, const group_stats *g, size_t i, void *out)
{
    double a = (double)fpqi_u2f(g->amax_bits) * rc->clip;
    uint8_t *codes = (uint8_t *)out;
    int e;

    switch (rc->encoding) {
    case FPQ_SCALE_FLOAT32:
        ((float *)out)[i] = a > 0 ? clamp_scale(a / rc->max_finite) : 1.0f;
        break;
    case FPQ_SCALE_E8M0:
        if (g->nonfinite) {
            codes[i] = 0xff;
        } else if (!((float)a > 0.0f)) { /* zero, or amax * clip below float32 */
            codes[i] = 0;
        } else {
            float af = (float)a;
            e = floor_log2(fpqi_f2u(af)) - rc->emax_elem;
            e = e < -127 ? -127 : e > 127 ? 127 : e;
            codes[i] = (uint8_t)(e + 127);
        }
        break;
    default: {
        float ratio = (float)(a / (rc->max_finite * (double)rc->view->tensor_scale));
        uint32_t c = fpqi_encode(&rc->view->e4m3, fpqi_f2u(ratio), 0);
        codes[i] = (uint8_t)(c ? c : 1);
        break;
    }
    }
}

static int compute_scales(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                          float clip_ratio, fpq_scales *s)
{
    enum { SLICE = 1024 };
    fpqi_params p;
    fpq_format_limits lim;
    scale_view v;
    scale_recipe rc;
    shape sh;
    size_t r, b, c0, j;
    int status;

    if (!fmt || !t || !x || !s)
        return FPQ_ERR_NULL;
    if ((status = fpqi_params_init(fmt, &p)) != FPQ_OK)
        return status;
    if ((status = check_shape(t, &sh)) != FPQ_OK)
        return status;
    if ((status = check_scales(s, &sh, &v, 1)) != FPQ_OK)
        return status;
    if (!(clip_ratio > 0.0f && clip_ratio <= 1.0f))
        return FPQ_ERR_ARGUMENT;
    if ((uintptr_t)x & (sh.elem_size - 1))
        return FPQ_ERR_ALIGN;
    fpq_format_limits_get(fmt, &lim);
    rc.encoding = s->encoding;
    rc.clip = clip_ratio;
    rc.max_finite = lim.max_finite;
    rc.emax_elem = floor_log2(fpqi_f2u(lim.max_finite));
    rc.view = &v;

    if (s->encoding == FPQ_SCALE_E4M3) {
        /* NVFP4's tensor scale: the whole tensor's amax maps onto max_finite * 448. */
        group_stats all = {0, 0};
        double amax;
        observe_rows(&sh, x, 0, sh.rows, 0, sh.cols, &all);
        amax = (double)fpqi_u2f(all.amax_bits) * clip_ratio;
        v.tensor_scale = amax > 0 ? clamp_scale(amax / (rc.max_finite * E4M3_MAX)) : 1.0f;
        /* Keep tensor_scale * 2^-9 (the smallest code) a normal float, and * 448 finite. */
        if (v.tensor_scale < 0x1p-117f)
            v.tensor_scale = 0x1p-117f;
        if (v.tensor_scale > FLT_MAX / 512.0f)
            v.tensor_scale = FLT_MAX / 512.0f;
    }

    switch (sh.granularity) {
    case FPQ_PER_TENSOR: {
        group_stats g = {0, 0};
        observe_rows(&sh, x, 0, sh.rows, 0, sh.cols, &g);
        write_scale(&rc, &g, 0, s->data);
        break;
    }
    case FPQ_PER_ROW:
        for (r = 0; r < sh.rows; r++) {
            group_stats g = {0, 0};
            observe_rows(&sh, x, r, r + 1, 0, sh.cols, &g);
            write_scale(&rc, &g, r, s->data);
        }
        break;
    case FPQ_PER_BLOCK:
        for (r = 0; r < sh.rows; r++)
            for (b = 0; b < sh.blocks_per_row; b++) {
                group_stats g = {0, 0};
                size_t c = b * (size_t)sh.block_size;
                size_t end = c + (size_t)sh.block_size < sh.cols ? c + (size_t)sh.block_size
                                                                 : sh.cols;
                observe_rows(&sh, x, r, r + 1, c, end, &g);
                write_scale(&rc, &g, r * sh.blocks_per_row + b, s->data);
            }
        break;
    default: /* per column: slices of columns, each a pass over every row */
        for (c0 = 0; c0 < sh.cols; c0 += SLICE) {
            group_stats g[SLICE];
            float buf[SLICE];
            size_t w = sh.cols - c0 < SLICE ? sh.cols - c0 : (size_t)SLICE;
            memset(g, 0, w * sizeof g[0]);
            for (r = 0; r < sh.rows; r++) {
                const float *row = row_run(&sh, x, r, c0, w, buf);
                for (j = 0; j < w; j++)
                    observe(&g[j], row + j, 1);
            }
            for (j = 0; j < w; j++)
                write_scale(&rc, &g[j], c0 + j, s->data);
        }
        break;
    }
    if (s->encoding == FPQ_SCALE_E4M3)
        s->tensor_scale = v.tensor_scale;
    return FPQ_OK;
}

int fpq_tensor_compute_scales(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                              float clip_ratio, fpq_scales *s)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, compute_scales(fmt, t, x, clip_ratio, s));
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Quantize, dequantize, fake-quantize */

enum tensor_op { T_QUANTIZE, T_DEQUANTIZE, T_FAKE_QUANTIZE };

typedef struct tensor_call {
    enum tensor_op op;
    const fpqi_kernels *k;
    fpqi_params p;
    shape sh;
    scale_view v;
    const void *in;
    void *out;
    unsigned flags;
    size_t row_bytes;
} tensor_call;

/* Bytes from a tensor's first element to the end of its last row. */
static size_t tensor_span(const shape *sh)
{
    return ((sh->rows - 1) * sh->stride + sh->cols) * sh->elem_size;
}

static int overlap(const void *a, size_t a_len, const void *b, size_t b_len)
{
    uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return pa < pb + b_len && pb < pa + a_len;
}

/* The exact reciprocal of an E8M0 scale 2^(c - 127): 2^(127 - c), NaN for NaN. */
static float e8m0_reciprocal(float s)
{
    uint32_t u = fpqi_f2u(s);
    if (u > 0x7f800000u)
        return s;
    if (u == 0x00400000u || u == 0x7f000000u) /* 2^-127 <-> 2^127: one side subnormal */
        return u == 0x00400000u ? 0x1p127f : 0x1p-127f;
    return fpqi_u2f((254u << 23) - u);
}

/* The group scales of elements [c, c + n) of row r of a per-column or per-block tensor, as
 * float32: float32 scales in place, others decoded into buf (with exact reciprocals of E8M0
 * scales in rbuf, for the kernels to multiply). c is a multiple of CHUNK, hence of the block. */
static const float *group_scales(const tensor_call *tc, size_t r, size_t c, size_t n,
                                 float *buf, float *rbuf, int *shift, const float **recip)
{
    size_t first = c, count = n, g;

    *shift = 0;
    *recip = NULL;
    if (tc->sh.granularity == FPQ_PER_BLOCK) {
        size_t k = (size_t)tc->sh.block_size;
        first = r * tc->sh.blocks_per_row + c / k;
        count = (n + k - 1) / k;
        *shift = tc->sh.block_shift;
    }
    if (tc->v.encoding == FPQ_SCALE_FLOAT32)
        return tc->v.f32 + first;
    for (g = 0; g < count; g++)
        buf[g] = scale_at(&tc->v, first + g);
    if (tc->v.encoding == FPQ_SCALE_E8M0) {
        for (g = 0; g < count; g++)
            rbuf[g] = e8m0_reciprocal(buf[g]);
        *recip = rbuf;
    }
    return buf;
}

static void run_chunk(const tensor_call *tc, size_t r, size_t c, size_t n)
{
    const fpqi_kernels *k = tc->k;
    const fpqi_params *p = &tc->p;
    const shape *sh = &tc->sh;
    float xbuf[CHUNK], sbuf[CHUNK], rbuf[CHUNK], s = 0.0f;
    const float *scales = NULL, *recip = NULL;
    int shift = 0;
    size_t code_off = r * tc->row_bytes + ((tc->flags & FPQ_UNPACKED) ? c : (c / 8) * (size_t)p->bits);
    char *y = (char *)tc->out + (r * sh->stride + c) * sh->elem_size;
    float *yf = sh->elem_type == FPQ_FLOAT32 ? (float *)(void *)y : xbuf;
    int uniform = sh->granularity == FPQ_PER_TENSOR || sh->granularity == FPQ_PER_ROW;

    if (uniform)
        s = scale_at(&tc->v, sh->granularity == FPQ_PER_TENSOR ? 0 : r);
    else
        scales = group_scales(tc, r, c, n, sbuf, rbuf, &shift, &recip);
    switch (tc->op) {
    case T_QUANTIZE: {
        const float *x = row_run(sh, tc->in, r, c, n, xbuf);
        uint8_t *codes = (uint8_t *)tc->out + code_off;
        if (uniform)
            k->quantize(p, x, 0, n, s, tc->flags, codes);
        else
            k->quantize_grouped(p, x, scales, recip, shift, n, tc->flags, codes);
        return;
    }
    case T_DEQUANTIZE: {
        const uint8_t *codes = (const uint8_t *)tc->in + code_off;
        if (uniform)
            k->dequantize(p, codes, 0, n, s, tc->flags, yf);
        else
            k->dequantize_grouped(p, codes, scales, shift, n, tc->flags, yf);
        break;
    }
    default: {
        const float *x = row_run(sh, tc->in, r, c, n, xbuf);
        if (uniform)
            k->fake_quantize(p, x, 0, n, s, tc->flags, yf);
        else
            k->fake_quantize_grouped(p, x, scales, recip, shift, n, tc->flags, yf);
        break;
    }
    }
    if (yf == xbuf)
        k->narrow(sh->elem_type, xbuf, n, y);
}

static void run_rows(const tensor_call *tc, size_t r0, size_t r1)
{
    fpqi_fpenv env;
    size_t r, c;

    fpqi_fpenv_enter(&env);
    for (r = r0; r < r1; r++)
        for (c = 0; c < tc->sh.cols; c += CHUNK)
            run_chunk(tc, r, c, tc->sh.cols - c < CHUNK ? tc->sh.cols - c : CHUNK);
    fpqi_fpenv_leave(&env);
}

/* Rows are independent: threads split them, and any split gives the same bytes. */
static void run_tensor(const tensor_call *tc)
{
#ifdef _OPENMP
    int threads = fpqi_thread_count();
    if (threads > 1 && tc->sh.rows > 1 && tc->sh.rows * tc->sh.cols >= PARALLEL_MIN) {
        long long rows = (long long)tc->sh.rows, r;
#pragma omp parallel for schedule(static) num_threads(threads)
        for (r = 0; r < rows; r++)
            run_rows(tc, (size_t)r, (size_t)r + 1);
        return;
    }
#endif
    run_rows(tc, 0, tc->sh.rows);
}

/* Every check of a tensor call, in order, before anything is written. `codes` is the code
 * buffer (input of dequantize, output of quantize), NULL for fake-quantize. */
static int prepare(tensor_call *tc, enum tensor_op op, const fpq_format *fmt,
                   const fpq_tensor *t, const void *in, const fpq_scales *s, unsigned flags,
                   void *out, const void *codes, size_t codes_bytes, int scales_to_write)
{
    int status;
    size_t span, sbytes;
    const void *floats = op == T_DEQUANTIZE ? out : in;

    if (!fmt || !t || !in || !s || !out)
        return FPQ_ERR_NULL;
    if ((status = fpqi_params_init(fmt, &tc->p)) != FPQ_OK)
        return status;
    if ((status = check_shape(t, &tc->sh)) != FPQ_OK)
        return status;
    if ((status = check_scales(s, &tc->sh, &tc->v, scales_to_write)) != FPQ_OK)
        return status;
    if (flags & ~(unsigned)KNOWN_FLAGS)
        return FPQ_ERR_FLAGS;
    tc->row_bytes = row_code_bytes(&tc->p, tc->sh.cols, flags);
    if (codes && (tc->sh.rows > SIZE_MAX / tc->row_bytes ||
                  codes_bytes < tc->sh.rows * tc->row_bytes))
        return FPQ_ERR_CAPACITY;
    if (((uintptr_t)floats & (tc->sh.elem_size - 1)) ||
        (op == T_FAKE_QUANTIZE && ((uintptr_t)out & (tc->sh.elem_size - 1))))
        return FPQ_ERR_ALIGN;
    span = tensor_span(&tc->sh);
    sbytes = scale_bytes(s, &tc->sh);
    if (codes && (overlap(codes, tc->sh.rows * tc->row_bytes, floats, span) ||
                  overlap(codes, tc->sh.rows * tc->row_bytes, s->data, sbytes)))
        return FPQ_ERR_OVERLAP;
    if (op != T_QUANTIZE && overlap(out, span, s->data, sbytes))
        return FPQ_ERR_OVERLAP;
    if (op == T_FAKE_QUANTIZE && in != out && overlap(in, span, out, span))
        return FPQ_ERR_OVERLAP;
    tc->op = op;
    tc->k = fpqi_active_kernels();
    tc->in = in;
    tc->out = out;
    tc->flags = flags;
    return FPQ_OK;
}

/* Checks a call and runs it. Each public call runs whole in the default FP environment:
 * scale products and checks as well as the kernels (run_rows' own guard then finds nothing to
 * change). */
static int checked_run(enum tensor_op op, const fpq_format *fmt, const fpq_tensor *t,
                       const void *in, const fpq_scales *s, unsigned flags, void *out,
                       const void *codes, size_t codes_bytes)
{
    tensor_call tc;
    int status = prepare(&tc, op, fmt, t, in, s, flags, out, codes, codes_bytes, 0);
    if (status == FPQ_OK)
        run_tensor(&tc);
    return status;
}

int fpq_tensor_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                        const fpq_scales *s, unsigned flags, void *codes, size_t codes_bytes)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, checked_run(T_QUANTIZE, fmt, t, x, s, flags, codes, codes, codes_bytes));
    return status;
}

int fpq_tensor_dequantize(const fpq_format *fmt, const fpq_tensor *t, const void *codes,
                          size_t codes_bytes, const fpq_scales *s, unsigned flags, void *y)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, checked_run(T_DEQUANTIZE, fmt, t, codes, s, flags, y, codes, codes_bytes));
    return status;
}

int fpq_tensor_fake_quantize(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                             const fpq_scales *s, unsigned flags, void *y)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, checked_run(T_FAKE_QUANTIZE, fmt, t, x, s, flags, y, NULL, 0));
    return status;
}

int fpq_tensor_quantize_auto(const fpq_format *fmt, const fpq_tensor *t, const void *x,
                             float clip_ratio, fpq_scales *s, unsigned flags, void *codes,
                             size_t codes_bytes)
{
    tensor_call tc;
    fpqi_fpenv env;
    int status;
    fpqi_fpenv_enter(&env);
    status = prepare(&tc, T_QUANTIZE, fmt, t, x, s, flags, codes, codes, codes_bytes, 1);
    if (status == FPQ_OK && !(clip_ratio > 0.0f && clip_ratio <= 1.0f))
        status = FPQ_ERR_ARGUMENT;
    if (status == FPQ_OK)
        status = compute_scales(fmt, t, x, clip_ratio, s);
    if (status == FPQ_OK) {
        tc.v.tensor_scale = s->tensor_scale;
        if (tc.v.encoding == FPQ_SCALE_E4M3)
            build_e4m3_scales(&tc.v);
        run_tensor(&tc);
    }
    fpqi_fpenv_leave(&env);
    return status;
}

/* ------------------------------------------------------------------------------------------ */

/* The public conversions: checks, then the kernel table's loop in the default environment. */
static int convert(int elem_type, const void *in, size_t n, void *out, int widen)
{
    fpqi_fpenv env;
    if (!in || !out)
        return FPQ_ERR_NULL;
    if (elem_type != FPQ_FLOAT16 && elem_type != FPQ_BFLOAT16)
        return FPQ_ERR_ARGUMENT;
    fpqi_fpenv_enter(&env);
    if (widen)
        fpqi_active_kernels()->widen(elem_type, in, n, (float *)out);
    else
        fpqi_active_kernels()->narrow(elem_type, (const float *)in, n, out);
    fpqi_fpenv_leave(&env);
    return FPQ_OK;
}

int fpq_convert_to_float32(int elem_type, const void *in, size_t n, float *out)
{
    return convert(elem_type, in, n, out, 1);
}

int fpq_convert_from_float32(int elem_type, const float *in, size_t n, void *out)
{
    return convert(elem_type, in, n, out, 0);
}
