/*
 * fuzz_tensor.c - fuzzes the tensor API of include/fpq.h: fpq_tensor_num_scales,
 * fpq_tensor_code_bytes, fpq_tensor_compute_scales, fpq_tensor_quantize,
 * fpq_tensor_dequantize, fpq_tensor_fake_quantize, fpq_tensor_quantize_auto, and with them
 * fpq_convert_to_float32 / fpq_convert_from_float32 and fpq_check_version.
 *
 * The input chooses, in this order: the version number to check; the format (fz_pick_format:
 * presets, fpq_format_make, raw and perturbed descriptors); the shape (rows and cols up to 64,
 * row_stride mostly >= cols but sometimes < cols or 0, now and then a huge rows / cols / stride
 * to test overflow refusal); struct_size (sometimes short), reserved, elem_type, granularity
 * and block_size (valid and invalid); the scale encoding, struct_size, count (sometimes short),
 * NULL data, the scale values (float32 raw bits, any E8M0 or E4M3 byte, the tensor_scale);
 * the flags (unknown bits too); clip_ratio raw bits; the codes capacity; the FP environment;
 * and the data (float32 / float16 / bfloat16 bit patterns, raw or near 1, with specials).
 * Buffers are never sized from a huge value: a huge shape is only passed to the kernels when
 * its element count overflows size_t, so that any accepting call is itself a defect.
 *
 * Invariants (include/fpq.h, docs/tensors.md), each a trap when violated:
 *   - guard bytes around every buffer (x, scales, codes, y) stay intact; inputs are not
 *     written; a failing call writes no output byte (codes, y, scales, tensor_scale);
 *   - a successful call writes only its output: codes [0, code_bytes), the scale entries
 *     (and tensor_scale for E4M3 only), y's elements of each row (never the elements between
 *     cols and row_stride);
 *   - statuses: an all-valid call succeeds, a call with an invalid argument fails;
 *     fpq_tensor_num_scales / fpq_tensor_code_bytes are the documented counts, or 0;
 *   - dequantize(quantize(x)) == fake_quantize(x) bit for bit (16-bit patterns for float16 /
 *     bfloat16), in place or not;
 *   - each element of fake_quantize equals fpq_fake_quantize of that element with its group's
 *     scale decoded per include/fpq.h (float32; E8M0 2^(code-127), NaN for 0xFF; E4M3
 *     tensor_scale * value(code)) when that scale is a valid one; NaN for the E8M0 NaN scale;
 *     for float16 / bfloat16 through the documented widening and narrowing;
 *   - quantize_auto == compute_scales then quantize (scales, tensor_scale and codes);
 *   - the FP environment is restored by every call;
 *   - fpq_convert_from_float32(fpq_convert_to_float32(h)) == h for non-NaN 16-bit h, widening
 *     is exact, NaN stays a quiet NaN with its sign; fpq_check_version's documented rule.
 */
#include "fuzz_common.h"

#include <stddef.h>

#define FT_DIM 64          /* largest small rows / cols */
#define FT_PAD 8           /* largest row_stride - cols of a small shape */
#define FT_BLOB 128        /* room for a struct with struct_size > sizeof */

/* ------------------------------------------------------------------------------------------ */
/* Small helpers */

static int ft_mul_ovf(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return 1;
    *out = a * b;
    return 0;
}

static size_t ft_esize(int et)
{
    return et == FPQ_FLOAT16 || et == FPQ_BFLOAT16 ? 2 : 4;
}

static size_t ft_scale_esize(int enc)
{
    return enc == FPQ_SCALE_E8M0 || enc == FPQ_SCALE_E4M3 ? 1 : 4;
}

/* float8_e4m3fn value of a code (include/fpq.h, FN family, E4 M3, bias 7); NaN for 0x7F / 0xFF. */
static float ft_e4m3(unsigned c)
{
    unsigned e = (c >> 3) & 15u, m = c & 7u;
    float v;
    if (e == 15 && m == 7)
        return fm_u2f(FM_QNAN);
    v = e ? ldexpf((float)(8 + m), (int)e - 7 - 3) : ldexpf((float)m, -9);
    return (c & 0x80u) ? -v : v;
}

/* float16 / bfloat16 bits -> float32, exactly, by the formulas (not via the library). */
static float ft_widen(int et, uint16_t h)
{
    if (et == FPQ_BFLOAT16)
        return fm_u2f((uint32_t)h << 16);
    {
        unsigned e = (h >> 10) & 31u, m = h & 1023u;
        float v;
        if (e == 31)
            return fm_u2f((h & 0x8000u ? 0x80000000u : 0u) | (m ? 0x7fc00000u | m << 13 : 0x7f800000u));
        v = e ? ldexpf((float)(1024 + m), (int)e - 25) : ldexpf((float)m, -24);
        return (h & 0x8000u) ? -v : v;
    }
}

static int ft_is_nan16(int et, uint16_t h)
{
    return et == FPQ_BFLOAT16 ? ((h & 0x7f80u) == 0x7f80u && (h & 0x7fu))
                              : ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu));
}

static uint16_t ft_ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* One input */

typedef struct ft_case {
    fpq_format fmt;
    int fmt_ok;                 /* fpq_format_bits accepts it */
    union { fpq_tensor t; unsigned char raw[FT_BLOB]; } tb;
    union { fpq_scales s; unsigned char raw[FT_BLOB]; } sb;
    size_t rows, cols, stride;
    int small;                  /* every dimension small: buffers sized from them */
    int wrap_defect;            /* a huge shape the library wrongly accepts (see ft_describe) */
    int call_kernels;           /* small, or a huge shape whose element count overflows */
    int desc_ok;                /* the tensor description is valid (small shapes only) */
    size_t ngroups;             /* scale groups when desc_ok */
    size_t esz;                 /* element bytes (4 for an invalid type) */
    size_t extent;              /* elements from x[0] to the last element, + 1 */
    int x_mis;                  /* x misaligned by one byte */
    unsigned flags;
    float clip;
    size_t count;               /* s.count */
    int data_null;
    size_t ssz;                 /* scale entry bytes */
    uint8_t *scales0;           /* the fuzzed scale entries, count * ssz bytes (+1) */
    size_t code_bytes;          /* expected fpq_tensor_code_bytes (0 if invalid) */
    size_t cap;                 /* codes_bytes passed */
    uint8_t *x0;                /* the element bytes, extent * esz (+1) */
    fz_env env;
    int use_computed;           /* quantize with compute_scales' scales when it succeeded */
    int in_place;               /* fake-quantize in place */
} ft_case;

static const size_t ft_huge[] = {
    SIZE_MAX, SIZE_MAX / 2 + 1, SIZE_MAX / 4 + 1, (size_t)1 << 32, ((size_t)1 << 33) + 1,
    SIZE_MAX / 3, SIZE_MAX / 64 + 7};

static size_t ft_pick_huge(fz_reader *r)
{
    return ft_huge[fz_u8(r) % (sizeof ft_huge / sizeof ft_huge[0])];
}

static void ft_parse_tensor(ft_case *c, fz_reader *r)
{
    fpq_tensor *t = &c->tb.t;
    uint8_t sb = fz_u8(r), st = fz_u8(r), b;
    size_t rows = 1 + fz_u8(r) % FT_DIM, cols = 1 + fz_u8(r) % FT_DIM, stride;

    switch ((sb >> 1) & 7) {
    case 5:
        if (sb & 1)
            rows = 0;
        else
            cols = 0;
        break;
    case 6:
        if (sb & 0x80)
            rows = ft_pick_huge(r);
        break;
    case 7:
        if (sb & 0x80)
            cols = ft_pick_huge(r);
        break;
    default:
        break;
    }
    switch (st & 15) {
    case 10: case 11: case 12: stride = cols + 1 + (st >> 4) % FT_PAD; break;
    case 13: stride = cols ? cols - 1 - (cols > 1 ? (st >> 4) % (cols > 4 ? 4 : cols - 1) : 0) : 0; break;
    case 14: stride = 0; break;
    case 15: stride = ft_pick_huge(r); break;
    default: stride = cols; break;
    }
    memset(&c->tb, 0, sizeof c->tb);
    t->rows = c->rows = rows;
    t->cols = c->cols = cols;
    t->row_stride = c->stride = stride;

    b = fz_u8(r); /* element type */
    switch (b % 8) {
    case 0: case 1: case 2: t->elem_type = FPQ_FLOAT32; break;
    case 3: case 4: t->elem_type = FPQ_FLOAT16; break;
    case 5: t->elem_type = FPQ_BFLOAT16; break;
    case 6: t->elem_type = (b & 0x80) ? (int)fz_u32(r) : 0; break;
    default: t->elem_type = 4 + (b >> 3) % 3 - ((b & 0x40) ? 10 : 0); break;
    }
    b = fz_u8(r); /* granularity */
    t->granularity = b % 6 < 4 ? 1 + b % 6 : ((b & 0x80) ? (int)fz_u32(r) : (b % 6 == 4 ? 0 : 5));
    b = fz_u8(r); /* block size */
    if (b < 0xc0) {
        t->block_size = 8 << (b % 8);
    } else {
        static const int bad[] = {0, 4, 2, 1, 12, 24, 2048, 4096, -8, -32, 17, 33, 1000, 1023};
        t->block_size = (b & 0x20) ? (int)fz_u32(r) : bad[b % (sizeof bad / sizeof bad[0])];
    }
    b = fz_u8(r); /* struct_size and reserved */
    switch (b % 16) {
    case 12: t->struct_size = sizeof(fpq_tensor) - 1; break;
    case 13: t->struct_size = (b & 0x80) ? 0 : offsetof(fpq_tensor, reserved); break;
    case 14: t->struct_size = sizeof(fpq_tensor) + 8 * (1 + (b >> 4) % 4); break;
    default: t->struct_size = sizeof(fpq_tensor); break;
    }
    t->reserved = (b % 16 == 15) ? 1 + (b >> 4) : 0;
}

static int ft_block_ok(int bs)
{
    return bs >= 8 && bs <= 1024 && !(bs & (bs - 1));
}

/* The description's validity (include/fpq.h) and group count, for small shapes. */
static void ft_describe(ft_case *c)
{
    const fpq_tensor *t = &c->tb.t;
    size_t bpr;

    c->small = c->rows <= FT_DIM && c->cols <= FT_DIM && c->stride <= c->cols + FT_PAD;
    c->esz = ft_esize(t->elem_type);
    if (c->small) {
        size_t w = c->stride > c->cols ? c->stride : c->cols;
        c->extent = c->rows ? (c->rows - 1) * w + c->cols : 0;
        if (!c->extent)
            c->extent = 1;
        c->call_kernels = 1;
    } else {
        size_t w = c->stride > c->cols ? c->stride : c->cols, n;
        c->extent = 16;
        c->call_kernels = ft_mul_ovf(c->rows, w, &n);
    }
    /* Shapes whose byte size overflows must be refused (corpus/fuzz_tensor/
     * defect-shape-overflow-wrap: the library once accepted cols > SIZE_MAX / element size). */
    c->wrap_defect = 0;
    c->desc_ok = c->small && t->struct_size >= sizeof(fpq_tensor) && !t->reserved &&
                 c->rows && c->cols && c->stride >= c->cols &&
                 t->elem_type >= FPQ_FLOAT32 && t->elem_type <= FPQ_BFLOAT16 &&
                 t->granularity >= FPQ_PER_TENSOR && t->granularity <= FPQ_PER_BLOCK &&
                 (t->granularity != FPQ_PER_BLOCK || ft_block_ok(t->block_size));
    c->ngroups = 0;
    if (!c->desc_ok)
        return;
    switch (t->granularity) {
    case FPQ_PER_TENSOR: c->ngroups = 1; break;
    case FPQ_PER_ROW: c->ngroups = c->rows; break;
    case FPQ_PER_COLUMN: c->ngroups = c->cols; break;
    default:
        bpr = (c->cols + (size_t)t->block_size - 1) / (size_t)t->block_size;
        c->ngroups = c->rows * bpr;
        break;
    }
}

static size_t ft_group(const ft_case *c, size_t row, size_t col)
{
    const fpq_tensor *t = &c->tb.t;
    switch (t->granularity) {
    case FPQ_PER_TENSOR: return 0;
    case FPQ_PER_ROW: return row;
    case FPQ_PER_COLUMN: return col;
    default: {
        size_t bs = (size_t)t->block_size;
        return row * ((c->cols + bs - 1) / bs) + col / bs;
    }
    }
}

static void ft_parse_scales(ft_case *c, fz_reader *r, uint64_t *seed)
{
    fpq_scales *s = &c->sb.s;
    uint8_t b = fz_u8(r), mode;
    size_t i, base;
    float same;

    memset(&c->sb, 0, sizeof c->sb);
    switch (b % 8) {
    case 0: case 1: case 2: s->encoding = FPQ_SCALE_FLOAT32; break;
    case 3: case 4: s->encoding = FPQ_SCALE_E8M0; break;
    case 5: case 6: s->encoding = FPQ_SCALE_E4M3; break;
    default: s->encoding = (b & 0x80) ? (int)fz_u32(r) : ((b & 0x40) ? 0 : 4); break;
    }
    b = fz_u8(r);
    switch (b % 16) {
    case 13: s->struct_size = (b & 0x80) ? 0 : sizeof(fpq_scales) - 4; break;
    case 14: s->struct_size = sizeof(fpq_scales) + 8; break;
    default: s->struct_size = sizeof(fpq_scales); break;
    }
    s->reserved = (b % 16 == 15) ? 1 : 0;
    c->data_null = (b & 0xf0u) == 0xf0u;
    b = fz_u8(r); /* count */
    base = c->desc_ok ? c->ngroups : (size_t)(1 + fz_u8(r) % 32);
    switch (b % 8) {
    case 6: c->count = base - 1 - (base > 1 ? (b >> 3) % (base < 4 ? base - 1 : 4) : 0); break;
    case 7: c->count = base + 1 + (b >> 3) % 4; break;
    default: c->count = base; break;
    }
    s->count = c->count;
    s->tensor_scale = fz_pick_scale(r);
    c->ssz = ft_scale_esize(s->encoding);
    c->scales0 = (uint8_t *)malloc(c->count * c->ssz + 1);
    FZ_CHECK(c->scales0 != NULL);
    mode = fz_u8(r);
    if (c->ssz == 4) {
        same = fz_pick_scale(r);
        for (i = 0; i < c->count; i++) {
            float v;
            switch (mode % 4) {
            case 0: v = r->n ? fz_pick_scale(r) : 1.0f; break;
            case 1: v = same; break;
            case 2: v = ldexpf(1.0f, (int)((r->n ? fz_u8(r) : (uint8_t)fz_mix(seed)) % 41) - 20); break;
            default: v = fm_u2f((uint32_t)fz_mix(seed)); break;
            }
            memcpy(c->scales0 + 4 * i, &v, 4);
        }
    } else {
        uint8_t one = fz_u8(r);
        for (i = 0; i < c->count; i++) {
            uint8_t v, in = 0;
            if (mode % 4 < 2)
                in = r->n ? fz_u8(r) : (uint8_t)fz_mix(seed);
            switch (mode % 4) {
            case 0: v = in; break;
            case 1: /* ordinary scales: E8M0 near 1, E4M3 positive finite non-zero */
                v = s->encoding == FPQ_SCALE_E8M0 ? (uint8_t)(118 + in % 20) : (uint8_t)(1 + in % 0x7e);
                break;
            case 2: v = one; break;
            default: v = (uint8_t)fz_mix(seed); break;
            }
            c->scales0[i] = v;
        }
    }
}

/* Element bytes: raw bit patterns, or values near 1 (scaled by a power of two), with specials. */
static void ft_parse_data(ft_case *c, fz_reader *r, uint64_t *seed)
{
    static const uint32_t sp32[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7f800000u,
                                    0xff800000u, 0x80000000u, 0x00000000u, 0x00000001u,
                                    0x807fffffu, 0x7f7fffffu, 0x00800000u, 0x3f800000u};
    static const uint16_t sp16[] = {0x7e00u, 0xfe00u, 0x7c01u, 0x7c00u, 0xfc00u, 0x8000u,
                                    0x0000u, 0x0001u, 0x83ffu, 0x7bffu, 0x0400u, 0x3c00u};
    static const uint16_t spbf[] = {0x7fc0u, 0xffc0u, 0x7f81u, 0x7f80u, 0xff80u, 0x8000u,
                                    0x0000u, 0x0001u, 0x807fu, 0x7f7fu, 0x0080u, 0x3f80u};
    int et = c->tb.t.elem_type;
    uint8_t mode = fz_u8(r);
    int k = (int)(int8_t)fz_u8(r) % 40;
    size_t i;

    c->x0 = (uint8_t *)malloc(c->extent * c->esz + 1);
    FZ_CHECK(c->x0 != NULL);
    for (i = 0; i < c->extent; i++) {
        uint32_t v32;
        uint16_t v16;
        uint8_t sel = (mode & 2) ? (uint8_t)fz_mix(seed) : 0xff;
        if (sel < 24) { /* a special, ~1 in 10 */
            v32 = sp32[sel % 12];
            v16 = et == FPQ_BFLOAT16 ? spbf[sel % 12] : sp16[sel % 12];
        } else if (mode & 1) { /* near 2^k: byte / 16 * 2^k with a sign */
            uint8_t b = r->n ? fz_u8(r) : (uint8_t)fz_mix(seed);
            float f = ldexpf((float)(b & 0x7f) / 16.0f, k);
            if (b & 0x80)
                f = -f;
            v32 = fm_f2u(f);
            if (et == FPQ_FLOAT16) {
                float h = ldexpf((float)(b & 0x7f) / 16.0f, k % 12);
                FZ_CHECK(fpq_convert_from_float32(FPQ_FLOAT16, &h, 1, &v16) == FPQ_OK);
                v16 |= (uint16_t)((b & 0x80) << 8);
            } else {
                v16 = (uint16_t)(v32 >> 16);
            }
        } else {
            v32 = r->n >= 4 ? fz_u32(r) : (uint32_t)fz_mix(seed);
            v16 = (uint16_t)v32;
        }
        if (c->esz == 2)
            memcpy(c->x0 + 2 * i, &v16, 2);
        else
            memcpy(c->x0 + 4 * i, &v32, 4);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Buffers */

typedef struct ft_buf {
    fz_arena a;
    uint8_t *p;      /* the buffer passed */
    size_t len;
} ft_buf;

static void ft_buf_init(ft_buf *b, const void *init, size_t len, int mis)
{
    fz_arena_init(&b->a, len + 2 * FZ_GUARD + 1);
    b->p = b->a.base + FZ_GUARD + (mis ? 1 : 0);
    b->len = len;
    if (init && len)
        memcpy(b->p, init, len);
    fz_arena_snapshot(&b->a);
}

static void ft_buf_free(ft_buf *b)
{
    fz_arena_free(&b->a);
}

/* y's bytes that a successful call may write: the elements c < cols of each row. */
static void ft_check_y(const ft_case *c, const ft_buf *y, int ok, const char *what)
{
    size_t i, lo = (size_t)(y->p - y->a.base);
    for (i = 0; i < y->a.size; i++) {
        int allowed = 0;
        if (ok && i >= lo && i < lo + c->extent * c->esz) {
            size_t e = (i - lo) / c->esz;
            allowed = e % c->stride < c->cols;
        }
        if (!allowed && y->a.base[i] != y->a.snap[i]) {
            fprintf(stderr, "\n%s (status ok: %d): byte %zu of y's arena changed (y at %zu, "
                    "rows %zu cols %zu stride %zu esz %zu)\n", what, ok, i, lo, c->rows, c->cols,
                    c->stride, c->esz);
            fz_fail(__FILE__, __LINE__, "a byte outside y's elements changed");
        }
    }
}

/* The fpq_scales struct: untouched, except tensor_scale by a successful E4M3 compute. */
static void ft_check_sstruct(const fpq_scales *before, const fpq_scales *after, int ts_ok,
                             const char *what)
{
    fpq_scales a = *after;
    if (ts_ok)
        a.tensor_scale = before->tensor_scale;
    FZ_CHECKF(!memcmp(before, &a, sizeof a), "%s: the fpq_scales struct changed\n", what);
}

#define FT_CALL(c, expr)                                                                   \
    do {                                                                                   \
        unsigned long env_before_;                                                         \
        fz_env_set((c)->env);                                                              \
        env_before_ = fz_env_state();                                                      \
        expr;                                                                              \
        FZ_CHECKF(fz_env_state() == env_before_, "FP environment not restored\n");         \
        fz_env_default();                                                                  \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Validity of the given scales (include/fpq.h); decoded group scales */

enum { FT_SC_VALID, FT_SC_NAN, FT_SC_INVALID };

static int ft_group_scale(const ft_case *c, const uint8_t *entries, float ts, size_t g, float *out)
{
    switch (c->sb.s.encoding) {
    case FPQ_SCALE_FLOAT32:
        memcpy(out, entries + 4 * g, 4);
        break;
    case FPQ_SCALE_E8M0:
        if (entries[g] == 0xff) {
            *out = fm_u2f(FM_QNAN);
            return FT_SC_NAN;
        }
        *out = ldexpf(1.0f, (int)entries[g] - 127);
        break;
    default: {
        volatile float a = ts, b = ft_e4m3(entries[g]);
        *out = a * b;
        break;
    }
    }
    return fm_scale_valid(*out) ? FT_SC_VALID : FT_SC_INVALID;
}

/* 1: every group scale valid (so a well-formed call must succeed); 0: some group scale is
 * invalid by the header (a call must fail); -1: undecided (E8M0 code 0 or 0xFF, invalid
 * tensor_scale with valid products). */
static int ft_scales_valid(const ft_case *c, const uint8_t *entries, float ts)
{
    size_t g;
    int res = 1;
    for (g = 0; g < c->ngroups; g++) {
        float v;
        int k = ft_group_scale(c, entries, ts, g, &v);
        if (c->sb.s.encoding == FPQ_SCALE_E8M0) {
            if (entries[g] == 0 || entries[g] == 0xff)
                res = -1;
        } else if (k != FT_SC_VALID) {
            return 0;
        }
    }
    if (c->sb.s.encoding == FPQ_SCALE_E4M3 && res == 1 && !fm_scale_valid(ts))
        res = -1;
    return res;
}

/* ------------------------------------------------------------------------------------------ */
/* Checks on successful results */

/* Element (row, col) of fake-quantize output y against fpq_fake_quantize of that element. */
static void ft_check_elements(const ft_case *c, const uint8_t *x, const uint8_t *y,
                              const uint8_t *entries, float ts)
{
    int et = c->tb.t.elem_type;
    size_t row, col;
    for (row = 0; row < c->rows; row++) {
        for (col = 0; col < c->cols; col++) {
            size_t e = row * c->stride + col;
            float g, xf, ref;
            int k = ft_group_scale(c, entries, ts, ft_group(c, row, col), &g);
            uint32_t got32;
            if (et == FPQ_FLOAT32) {
                memcpy(&xf, x + 4 * e, 4);
                memcpy(&got32, y + 4 * e, 4);
            } else {
                xf = ft_widen(et, ft_ld16(x + 2 * e));
                got32 = fm_f2u(ft_widen(et, ft_ld16(y + 2 * e)));
            }
            if (k == FT_SC_NAN) {
                FZ_CHECKF((got32 & 0x7fffffffu) > 0x7f800000u,
                          "element (%zu, %zu): NaN scale, got %#x\n", row, col, got32);
                continue;
            }
            if (k != FT_SC_VALID)
                continue;
            FZ_CHECK(fpq_fake_quantize(&c->fmt, &xf, 1, g, c->flags, &ref) == FPQ_OK);
            if (et == FPQ_FLOAT32) {
                FZ_CHECKF(got32 == fm_f2u(ref),
                          "element (%zu, %zu): x %#x scale %a (group %zu, encoding %d, entry "
                          "%#x, tensor_scale %a) flags %#x: tensor fake quantize %#x, "
                          "fpq_fake_quantize %#x\n", row, col, fm_f2u(xf), (double)g,
                          ft_group(c, row, col), c->sb.s.encoding,
                          entries[ft_group(c, row, col) * c->ssz], (double)ts, c->flags, got32,
                          fm_f2u(ref));
            } else {
                uint16_t want, got = ft_ld16(y + 2 * e);
                FZ_CHECK(fpq_convert_from_float32(et, &ref, 1, &want) == FPQ_OK);
                FZ_CHECKF(got == want || (ft_is_nan16(et, got) && ft_is_nan16(et, want)),
                          "element (%zu, %zu): type %d x %#x scale %a flags %#x: tensor fake "
                          "quantize %#x, narrowed fpq_fake_quantize %#x\n", row, col, et,
                          fm_f2u(xf), (double)g, c->flags, got, want);
            }
        }
    }
}


/* y1 and y2 hold the same elements, bit for bit. */
static void ft_same_elements(const ft_case *c, const uint8_t *y1, const uint8_t *y2,
                             const char *what)
{
    size_t row;
    for (row = 0; row < c->rows; row++)
        FZ_CHECKF(!memcmp(y1 + row * c->stride * c->esz, y2 + row * c->stride * c->esz,
                          c->cols * c->esz),
                  "%s: row %zu differs\n", what, row);
}

/* ------------------------------------------------------------------------------------------ */
/* Conversions and version */

static void ft_check_convert(fz_reader *r, uint64_t *seed)
{
    uint16_t h[24], back[24 + 2];
    float f[24 + 2];
    int types[2] = {FPQ_FLOAT16, FPQ_BFLOAT16}, ti;
    size_t i, n = 1 + fz_u8(r) % 24;
    uint8_t bad = fz_u8(r);

    for (i = 0; i < n; i++)
        h[i] = r->n >= 2 ? fz_u16(r) : (uint16_t)fz_mix(seed);
    for (ti = 0; ti < 2; ti++) {
        int et = types[ti];
        memset(f, 0xa5, sizeof f);
        memset(back, 0x5a, sizeof back);
        FZ_CHECK(fpq_convert_to_float32(et, h, n, f) == FPQ_OK);
        FZ_CHECK(fm_f2u(f[n]) == 0xa5a5a5a5u);
        FZ_CHECK(fpq_convert_from_float32(et, f, n, back) == FPQ_OK);
        FZ_CHECK(back[n] == 0x5a5au);
        for (i = 0; i < n; i++) {
            if (et == FPQ_BFLOAT16) /* widening is exact, NaNs included */
                FZ_CHECKF(fm_f2u(f[i]) == (uint32_t)h[i] << 16,
                          "bfloat16 %#x widened to %#x\n", h[i], fm_f2u(f[i]));
            if (ft_is_nan16(et, h[i])) { /* a float16 NaN comes out quiet (F16C) */
                uint16_t quiet = et == FPQ_BFLOAT16 ? 0x40u : 0x200u;
                FZ_CHECKF((fm_f2u(f[i]) & 0x7fffffffu) > 0x7f800000u &&
                          (et == FPQ_BFLOAT16 || (fm_f2u(f[i]) & 0x00400000u)) &&
                          (fm_f2u(f[i]) >> 31) == (uint32_t)(h[i] >> 15u),
                          "type %d: NaN %#x widened to %#x\n", et, h[i], fm_f2u(f[i]));
                FZ_CHECKF(ft_is_nan16(et, back[i]) && (back[i] & quiet) &&
                          (back[i] >> 15) == (h[i] >> 15),
                          "type %d: NaN %#x came back as %#x\n", et, h[i], back[i]);
            } else {
                FZ_CHECKF(fm_f2u(f[i]) == fm_f2u(ft_widen(et, h[i])),
                          "type %d: %#x widened to %#x, want %#x\n", et, h[i], fm_f2u(f[i]),
                          fm_f2u(ft_widen(et, h[i])));
                FZ_CHECKF(back[i] == h[i], "type %d: %#x -> %#x -> %#x\n", et, h[i],
                          fm_f2u(f[i]), back[i]);
            }
        }
        /* n == 0 is accepted and writes nothing */
        FZ_CHECK(fpq_convert_to_float32(et, h, 0, f) == FPQ_OK);
        FZ_CHECK(fpq_convert_from_float32(et, f, 0, back) == FPQ_OK);
    }
    /* bad types and NULL pointers write nothing */
    {
        int et = (bad & 1) ? FPQ_FLOAT32 : (int)(int8_t)bad;
        if (et != FPQ_FLOAT16 && et != FPQ_BFLOAT16) {
            memset(f, 0xa5, sizeof f);
            memset(back, 0x5a, sizeof back);
            FZ_CHECK(fpq_convert_to_float32(et, h, n, f) == FPQ_ERR_ARGUMENT);
            FZ_CHECK(fpq_convert_from_float32(et, f, n, back) == FPQ_ERR_ARGUMENT);
            for (i = 0; i < n; i++)
                FZ_CHECK(fm_f2u(f[i]) == 0xa5a5a5a5u && back[i] == 0x5a5au);
        }
        FZ_CHECK(fpq_convert_to_float32(FPQ_FLOAT16, NULL, n, f) == FPQ_ERR_NULL);
        FZ_CHECK(fpq_convert_from_float32(FPQ_BFLOAT16, f, n, NULL) == FPQ_ERR_NULL);
    }
}

static void ft_check_version(fz_reader *r)
{
    uint8_t b = fz_u8(r);
    int lib = fpq_version(), v, ok;
    FZ_CHECK(lib == FPQ_VERSION_NUMBER);
    switch (b % 4) {
    case 0: v = FPQ_VERSION_NUMBER + (int)(int8_t)fz_u8(r); break;
    case 1: v = (int)fz_u32(r); break;
    case 2: v = (int)(int8_t)fz_u8(r) * 10000 + (int)(fz_u8(r) % 100) * 100 + fz_u8(r) % 100; break;
    default: v = FPQ_VERSION_NUMBER; break;
    }
    ok = v >= 0 && v / 10000 == lib / 10000 && v % 10000 <= lib % 10000;
    FZ_CHECKF(fpq_check_version(v) == (ok ? FPQ_OK : FPQ_ERR_UNSUPPORTED),
              "fpq_check_version(%d) returned %d\n", v, fpq_check_version(v));
}

/* ------------------------------------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    ft_case c;
    uint64_t seed = fz_hash(data, size);
    const fpq_tensor *t;
    fpq_scales *s;
    fpq_scales sgiven, s_before;
    ft_buf xb, scb, qb, yb, db, autosc, autoq;
    int st_cs, st_q, st_fq, st_dq, st_auto, st_qa = -999, bits;
    int x_aligned, s_ok, clip_ok, sv, base_ok, cs_ok;
    int env_default;
    size_t nq, cb, row_bytes = 0;
    uint8_t misc, capmode;
    uint8_t *computed = NULL, *codes_a = NULL;
    float ts_computed = 0.0f;

    fz_env_default();
    memset(&c, 0, sizeof c);
    r.p = data;
    r.n = size;

    ft_check_version(&r);
    fz_pick_format(&r, &c.fmt);
    bits = fpq_format_bits(&c.fmt);
    c.fmt_ok = bits > 0;
    ft_parse_tensor(&c, &r);
    ft_describe(&c);
    t = &c.tb.t;
    ft_parse_scales(&c, &r, &seed);
    s = &c.sb.s;
    c.flags = fz_pick_flags(&r);
    {
        static const uint32_t clips[] = {0x00000000u, 0xbf800000u, 0x7fc00000u, 0x7f800000u,
                                         0x3f800001u, 0x00000001u, 0x3f7fffffu, 0x80000000u,
                                         0x3e800000u, 0x00800000u};
        uint8_t b = fz_u8(&r);
        switch (b % 8) {
        case 4: c.clip = 0.5f; break;
        case 5: c.clip = fm_u2f(fz_u32(&r)); break;
        case 6: c.clip = fm_u2f(clips[(b >> 3) % 10]); break;
        case 7: c.clip = fm_u2f(0x3f000000u | (fz_u32(&r) & 0x7fffffu)); break;
        default: c.clip = 1.0f; break;
        }
    }
    misc = fz_u8(&r);
    c.x_mis = (misc & 0x1fu) == 0x1fu;
    c.use_computed = (misc & 0x20u) != 0;
    c.in_place = (misc & 0x40u) != 0;
    c.env = fz_env_pick(fz_u8(&r));
    capmode = fz_u8(&r);

    /* ---- the queries ---- */
    nq = fpq_tensor_num_scales(t);
    if (c.desc_ok)
        FZ_CHECKF(nq == c.ngroups, "fpq_tensor_num_scales = %zu, want %zu\n", nq, c.ngroups);
    else if (t->struct_size < sizeof(fpq_tensor) || t->reserved || !c.rows || !c.cols ||
             c.stride < c.cols || t->elem_type < FPQ_FLOAT32 || t->elem_type > FPQ_BFLOAT16 ||
             t->granularity < FPQ_PER_TENSOR || t->granularity > FPQ_PER_BLOCK ||
             (t->granularity == FPQ_PER_BLOCK && !ft_block_ok(t->block_size)) ||
             (c.call_kernels && !c.wrap_defect))
        FZ_CHECKF(nq == 0, "fpq_tensor_num_scales = %zu for an invalid description (rows %zu "
                  "cols %zu stride %zu type %d granularity %d block %d)\n", nq, c.rows, c.cols,
                  c.stride, t->elem_type, t->granularity, t->block_size);
    cb = fpq_tensor_code_bytes(&c.fmt, t, c.flags);
    c.code_bytes = 0;
    if (c.desc_ok && c.fmt_ok && !(c.flags & ~3u)) {
        row_bytes = fpq_packed_size(&c.fmt, c.cols, c.flags);
        c.code_bytes = c.rows * row_bytes;
        FZ_CHECKF(cb == c.code_bytes, "fpq_tensor_code_bytes = %zu, want %zu\n", cb,
                  c.code_bytes);
    } else if (!c.fmt_ok || (c.flags & ~3u) || (nq == 0 && c.call_kernels && !c.wrap_defect) ||
               (!c.desc_ok && c.small)) {
        FZ_CHECKF(cb == 0, "fpq_tensor_code_bytes = %zu for an invalid call\n", cb);
    }
    {
        size_t base = c.code_bytes ? c.code_bytes : (size_t)(1 + capmode % 64);
        switch (capmode % 8) {
        case 6: c.cap = c.code_bytes ? c.code_bytes - 1 : 0; break;
        case 7: c.cap = base + 1 + (capmode >> 3) % 8; break;
        default: c.cap = base; break;
        }
    }

    ft_parse_data(&c, &r, &seed);
    ft_check_convert(&r, &seed);

    if (!c.call_kernels) /* a huge shape that fits size_t: nothing sized from it */
        goto done;

    x_aligned = !c.x_mis || c.esz == 1;
    s_ok = s->struct_size >= sizeof(fpq_scales) && !s->reserved && !c.data_null &&
           s->encoding >= FPQ_SCALE_FLOAT32 && s->encoding <= FPQ_SCALE_E4M3 &&
           c.count >= c.ngroups;
    clip_ok = c.clip > 0.0f && c.clip <= 1.0f; /* every encoding, E8M0 included */
    /* Regression inputs kept in the corpus for defects fixed in the library: E8M0 scales
     * with clip_ratio < 1 reaching floor(log2(0)) (defect-e8m0-clip-below-one*), E4M3 group
     * scales computed in the caller's FP environment (defect-e4m3-scale-rounding-mode), and
     * quantize_auto testing clip_ratio under the caller's DAZ (defect-quantize-auto-clip-daz).
     * Every check applies to them now. */
    base_ok = c.desc_ok && c.fmt_ok && s_ok && x_aligned;
    env_default = c.env.round == FE_TONEAREST && !c.env.ftz_daz;
    ft_buf_init(&xb, c.x0, c.extent * c.esz, c.x_mis);

    /* ---- compute_scales ---- */
    ft_buf_init(&scb, c.scales0, c.count * c.ssz, 0);
    s->data = c.data_null ? NULL : scb.p;
    s_before = *s;
    st_cs = -999;
    FT_CALL(&c, st_cs = fpq_tensor_compute_scales(&c.fmt, t, xb.p, c.clip, s));
    fz_arena_expect_only(&xb.a, NULL, 0, "compute_scales: x");
    cs_ok = st_cs == FPQ_OK;
    ft_check_sstruct(&s_before, s, cs_ok && s->encoding == FPQ_SCALE_E4M3, "compute_scales");
    fz_arena_expect_only(&scb.a, scb.p, cs_ok ? c.ngroups * c.ssz : 0, "compute_scales: scales");
    if (base_ok && clip_ok)
        FZ_CHECKF(cs_ok, "compute_scales failed (%d) on a valid call\n", st_cs);
    if (!base_ok || !clip_ok)
        FZ_CHECKF(!cs_ok, "compute_scales accepted an invalid call (desc %d fmt %d scales %d "
                  "aligned %d clip %a encoding %d)\n", c.desc_ok, c.fmt_ok, s_ok, x_aligned,
                  (double)c.clip, s->encoding);
    if (cs_ok && !env_default) { /* the same scales in the default environment */
        ft_buf again;
        fpq_scales s2 = s_before;
        ft_buf_init(&again, c.scales0, c.count * c.ssz, 0);
        s2.data = again.p;
        FZ_CHECK(fpq_tensor_compute_scales(&c.fmt, t, xb.p, c.clip, &s2) == FPQ_OK);
        FZ_CHECKF(!memcmp(again.p, scb.p, c.ngroups * c.ssz) &&
                  fm_f2u(s2.tensor_scale) == fm_f2u(s->tensor_scale),
                  "compute_scales: other scales in the default FP environment\n");
        ft_buf_free(&again);
    }
    if (cs_ok) {
        computed = (uint8_t *)malloc(c.ngroups * c.ssz + 1);
        FZ_CHECK(computed != NULL);
        memcpy(computed, scb.p, c.ngroups * c.ssz);
        ts_computed = s->tensor_scale;
        if (s->encoding == FPQ_SCALE_FLOAT32) {
            size_t g;
            for (g = 0; g < c.ngroups; g++) {
                float v;
                memcpy(&v, computed + 4 * g, 4);
                FZ_CHECKF(v > 0.0f && v <= FLT_MAX,
                          "compute_scales: group %zu scale %a not positive finite\n", g,
                          (double)v);
            }
        } else if (s->encoding == FPQ_SCALE_E4M3) {
            size_t g;
            for (g = 0; g < c.ngroups; g++)
                FZ_CHECKF(computed[g] >= 1 && computed[g] <= 0x7e,
                          "compute_scales: E4M3 code %#x for group %zu\n", computed[g], g);
        }
    }
    ft_buf_free(&scb);

    /* the scales the kernels use: the fuzzed ones, or the computed ones */
    if (c.use_computed && cs_ok) {
        ft_buf_init(&scb, computed, c.ngroups * c.ssz, 0);
        s->count = c.ngroups;
    } else {
        ft_buf_init(&scb, c.scales0, c.count * c.ssz, 0);
        s->tensor_scale = s_before.tensor_scale;
    }
    s->data = c.data_null ? NULL : scb.p;
    sgiven = *s;
    sv = s_ok && c.desc_ok ? ft_scales_valid(&c, scb.p, s->tensor_scale)
                                                : -1;

    /* ---- quantize ---- */
    ft_buf_init(&qb, NULL, c.cap > c.code_bytes ? c.cap : c.code_bytes, 0);
    FT_CALL(&c, st_q = fpq_tensor_quantize(&c.fmt, t, xb.p, s, c.flags, qb.p, c.cap));
    fz_arena_expect_only(&xb.a, NULL, 0, "quantize: x");
    fz_arena_expect_only(&scb.a, NULL, 0, "quantize: scales");
    FZ_CHECK(!memcmp(&sgiven, s, sizeof sgiven));
    fz_arena_expect_only(&qb.a, qb.p, st_q == FPQ_OK ? c.code_bytes : 0, "quantize: codes");
    {
        int ok_call = base_ok && sv == 1 && !(c.flags & ~3u) && c.cap >= c.code_bytes;
        int bad_call = !base_ok || sv == 0 || (c.flags & ~3u) || c.cap < c.code_bytes;
        if (ok_call)
            FZ_CHECKF(st_q == FPQ_OK, "quantize failed (%d) on a valid call\n", st_q);
        if (bad_call)
            FZ_CHECKF(st_q != FPQ_OK, "quantize accepted an invalid call\n");
    }
    if (st_q == FPQ_OK && !(c.flags & FPQ_UNPACKED)) { /* each row's pad bits are zero */
        size_t row, used = c.cols * (size_t)bits % 8;
        for (row = 0; used && row < c.rows; row++)
            FZ_CHECKF((qb.p[row * row_bytes + row_bytes - 1] >> used) == 0,
                      "row %zu: pad bits set\n", row);
    }

    /* ---- fake_quantize (in place: y is x's copy) ---- */
    ft_buf_init(&yb, c.in_place ? c.x0 : NULL, c.extent * c.esz, c.x_mis);
    FT_CALL(&c, st_fq = fpq_tensor_fake_quantize(&c.fmt, t, c.in_place ? yb.p : xb.p, s,
                                                 c.flags, yb.p));
    fz_arena_expect_only(&xb.a, NULL, 0, "fake_quantize: x");
    fz_arena_expect_only(&scb.a, NULL, 0, "fake_quantize: scales");
    FZ_CHECK(!memcmp(&sgiven, s, sizeof sgiven));
    ft_check_y(&c, &yb, st_fq == FPQ_OK, "fake_quantize");
    {
        int ok_call = base_ok && sv == 1 && !(c.flags & ~3u);
        int bad_call = !base_ok || sv == 0 || (c.flags & ~3u);
        if (ok_call)
            FZ_CHECKF(st_fq == FPQ_OK, "fake_quantize failed (%d) on a valid call\n", st_fq);
        if (bad_call)
            FZ_CHECKF(st_fq != FPQ_OK, "fake_quantize accepted an invalid call\n");
    }

    /* ---- dequantize: of quantize's codes, or of the arena pattern ---- */
    ft_buf_init(&db, NULL, c.extent * c.esz, c.x_mis);
    FT_CALL(&c, st_dq = fpq_tensor_dequantize(&c.fmt, t, qb.p, c.cap, s, c.flags, db.p));
    fz_arena_expect_only(&scb.a, NULL, 0, "dequantize: scales");
    FZ_CHECK(!memcmp(&sgiven, s, sizeof sgiven));
    ft_check_y(&c, &db, st_dq == FPQ_OK, "dequantize");
    {
        int ok_call = base_ok && sv == 1 && !(c.flags & ~3u) && c.cap >= c.code_bytes;
        int bad_call = !base_ok || sv == 0 || (c.flags & ~3u) || c.cap < c.code_bytes;
        if (ok_call)
            FZ_CHECKF(st_dq == FPQ_OK, "dequantize failed (%d) on a valid call\n", st_dq);
        if (bad_call)
            FZ_CHECKF(st_dq != FPQ_OK, "dequantize accepted an invalid call\n");
    }

    if (st_q == FPQ_OK && st_fq == FPQ_OK) {
        FZ_CHECK(st_dq == FPQ_OK);
        ft_same_elements(&c, db.p, yb.p, "dequantize(quantize(x)) vs fake_quantize(x)");
    }
    if (st_fq == FPQ_OK)
        ft_check_elements(&c, c.x0, yb.p, scb.p, s->tensor_scale);
    if (st_fq == FPQ_OK && !env_default) { /* the same in the default one */
        ft_buf again;
        ft_buf_init(&again, c.in_place ? c.x0 : NULL, c.extent * c.esz, c.x_mis);
        FZ_CHECK(fpq_tensor_fake_quantize(&c.fmt, t, c.in_place ? again.p : xb.p, s, c.flags,
                                          again.p) == FPQ_OK);
        ft_same_elements(&c, again.p, yb.p, "fake_quantize: default vs fuzzed FP environment");
        ft_buf_free(&again);
    }

    /* ---- quantize_auto == compute_scales + quantize ---- */
    if (cs_ok) { /* quantize with the computed scales, for the comparison */
        fpq_scales sa = s_before;
        ft_buf tmp;
        ft_buf_init(&tmp, NULL, c.cap > c.code_bytes ? c.cap : c.code_bytes, 0);
        sa.data = computed;
        sa.tensor_scale = ts_computed;
        FT_CALL(&c, st_qa = fpq_tensor_quantize(&c.fmt, t, xb.p, &sa, c.flags, tmp.p, c.cap));
        if (st_qa == FPQ_OK) {
            codes_a = (uint8_t *)malloc(c.code_bytes + 1);
            FZ_CHECK(codes_a != NULL);
            memcpy(codes_a, tmp.p, c.code_bytes);
        }
        ft_buf_free(&tmp);
    }
    ft_buf_init(&autosc, c.scales0, c.count * c.ssz, 0);
    ft_buf_init(&autoq, NULL, c.cap > c.code_bytes ? c.cap : c.code_bytes, 0);
    *s = s_before;
    s->data = c.data_null ? NULL : autosc.p;
    s_before = *s;
    FT_CALL(&c, st_auto = fpq_tensor_quantize_auto(&c.fmt, t, xb.p, c.clip, s, c.flags, autoq.p,
                                                   c.cap));
    fz_arena_expect_only(&xb.a, NULL, 0, "quantize_auto: x");
    ft_check_sstruct(&s_before, s, st_auto == FPQ_OK && s->encoding == FPQ_SCALE_E4M3,
                     "quantize_auto");
    fz_arena_expect_only(&autosc.a, autosc.p, st_auto == FPQ_OK ? c.ngroups * c.ssz : 0,
                         "quantize_auto: scales");
    fz_arena_expect_only(&autoq.a, autoq.p, st_auto == FPQ_OK ? c.code_bytes : 0,
                         "quantize_auto: codes");
    if (st_auto == FPQ_OK) {
        FZ_CHECKF(cs_ok && st_qa == FPQ_OK, "quantize_auto succeeded where compute_scales (%d) "
                  "then quantize (%d) did not\n", st_cs, st_qa);
        FZ_CHECK(!memcmp(autosc.p, computed, c.ngroups * c.ssz));
        FZ_CHECK(s->encoding != FPQ_SCALE_E4M3 || fm_f2u(s->tensor_scale) == fm_f2u(ts_computed));
        FZ_CHECK(!memcmp(autoq.p, codes_a, c.code_bytes));
    } else {
        FZ_CHECKF(!(cs_ok && st_qa == FPQ_OK), "quantize_auto failed (%d) where compute_scales "
                  "then quantize succeeded (clip %a, encoding %d, flags %#x, env %d/%#x, "
                  "count %zu of %zu, tensor_scale %a)\n", st_auto, (double)c.clip,
                  s->encoding, c.flags, c.env.round, c.env.ftz_daz, c.count, c.ngroups,
                  (double)s_before.tensor_scale);
    }
    ft_buf_free(&autosc);
    ft_buf_free(&autoq);

    ft_buf_free(&xb);
    ft_buf_free(&scb);
    ft_buf_free(&qb);
    ft_buf_free(&yb);
    ft_buf_free(&db);
done:
    fz_env_default();
    free(computed);
    free(codes_a);
    free(c.scales0);
    free(c.x0);
    return 0;
}
