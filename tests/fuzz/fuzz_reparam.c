/*
 * fuzz_reparam.c - fuzzes the per-channel reparameterization of include/fpq.h:
 * fpq_reparam_fold / fpq_reparam_unfold, fpq_reparam_quantize / fpq_reparam_fake_quantize,
 * fpq_reparam_shared_bias and fpq_reparam_offsets (float32 tensors).
 *
 * The input chooses, in this order: the operation (fold, quantize, offsets); one fault (none,
 * NULL, struct_size, shape, an offset out of range, a misaligned array, overlapping buffers);
 * the FP environment of the library calls; then the operation's format (fz_pick_format:
 * presets, custom splits, raw and perturbed descriptors), shape (rows 1..8, cols 1..40, a
 * stride up to cols + 2), offsets, shared scale (fz_pick_scale), flags and data (raw float32
 * bits, so NaN payloads, +-Inf, -0 and subnormals come up).
 *
 * Invariants (include/fpq.h), each a trap when violated:
 *   - a failing call writes nothing (guarded arena, inputs included); a successful one writes
 *     only its output, and never the elements between cols and row_stride;
 *   - fold: w_out = w * 2^-k rounded once to float32 (from the exact double product); unfold:
 *     w * 2^k the same way, overflow to +-Inf; NaN stays NaN; *inexact counts the finite
 *     elements whose value that rounding changed; inexact == 0 after a fold means unfold gives
 *     w back bit for bit; each fault gives its documented status;
 *   - quantize: the code of x[r, c] is fpq_quantize's code of that element at the channel
 *     scale shared * 2^-k_c (row r of the packed layout at r * fpq_packed_size); fake-quantize
 *     is fpq_fake_quantize's value at that scale; with a valid format, scale, offsets and
 *     flags and no fault the calls succeed;
 *   - shared_bias: the smallest finite bias, or fmt->bias when there is none; offsets:
 *     clamp(round(b_c), z, z + 2^E - 1) - z with z = round(shared) (ties to even; +Inf gives
 *     the top of the window, -Inf and NaN give 0) and the shared scale of fpq_scale_from_bias;
 *   - the FP environment is restored by every call, and the results do not depend on it (the
 *     models run in the default one).
 */
#include "fuzz_common.h"

#include <math.h>

enum { RP_FOLD, RP_QUANT, RP_OFFSETS, RP_OPS };
enum { RP_NONE, RP_NULL, RP_STRUCT, RP_SHAPE, RP_OFFSET, RP_MISALIGN, RP_OVERLAP, RP_FAULTS };

#define RP_MAX_ROWS 8
#define RP_MAX_COLS 40

/* Calls the library in the fuzzed environment, checks that it is restored, returns to the
 * default one for the models. */
#define RP_CALL(status, env, call)                                                          \
    do {                                                                                    \
        unsigned long rp_before_;                                                           \
        fz_env_set(env);                                                                    \
        rp_before_ = fz_env_state();                                                        \
        (status) = (call);                                                                  \
        FZ_CHECK(fz_env_state() == rp_before_);                                             \
        fz_env_default();                                                                   \
    } while (0)

static size_t rp_round_up(size_t v)
{
    return (v + FZ_GUARD - 1) / FZ_GUARD * FZ_GUARD;
}

/* w * 2^k rounded once to float32 (the double product is exact for |k| <= 255). */
static float rp_times_pow2(float w, int k)
{
    return fz_d2f((double)w * ldexp(1.0, k));
}

static int rp_same(float a, float b)
{
    return (isnan(a) && isnan(b)) || fm_f2u(a) == fm_f2u(b);
}

/* Code c of a packed row: LSB-first bit stream of `bits`-bit codes. */
static unsigned rp_code_at(const uint8_t *row, size_t c, int bits, unsigned flags)
{
    size_t bit = c * (size_t)bits;
    unsigned v;
    if ((flags & FPQ_UNPACKED) || bits == 8)
        return row[c];
    v = row[bit / 8];
    if (bit % 8 + (size_t)bits > 8)
        v |= (unsigned)row[bit / 8 + 1] << 8;
    return (v >> (bit % 8)) & ((1u << bits) - 1u);
}

typedef struct rp_case {
    fz_reader r;
    int fault;
    fz_env env;
    fpq_tensor t;
    size_t span; /* elements from the first to the last one of the tensor */
} rp_case;

static void rp_pick_shape(rp_case *k)
{
    memset(&k->t, 0, sizeof k->t);
    k->t.struct_size = sizeof k->t;
    k->t.rows = 1 + fz_u8(&k->r) % RP_MAX_ROWS;
    k->t.cols = 1 + fz_u8(&k->r) % RP_MAX_COLS;
    k->t.row_stride = k->t.cols + fz_u8(&k->r) % 3;
    k->t.elem_type = FPQ_FLOAT32;
    k->t.granularity = FPQ_PER_TENSOR;
    k->span = (k->t.rows - 1) * k->t.row_stride + k->t.cols;
}

/* The fault's change to the description (the buffers are sized for the original one). */
static void rp_apply_shape_fault(rp_case *k)
{
    if (k->fault == RP_STRUCT)
        k->t.struct_size = fz_u8(&k->r) & 1 ? 0 : sizeof k->t - 1;
    if (k->fault == RP_SHAPE) {
        if (fz_u8(&k->r) & 1)
            k->t.cols = 0;
        else
            k->t.row_stride = k->t.cols - 1;
    }
}

static void rp_fill(fz_reader *r, float *x, size_t n)
{
    uint64_t seed = fz_u64(r);
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = fm_u2f(r->n >= 4 ? fz_u32(r) : (uint32_t)fz_mix(&seed));
}

/* ------------------------------------------------------------------------------------------ */

static void rp_check_scaled(const rp_case *k, const float *w, const int *offsets, int sign,
                            const float *out, size_t inexact, const uint8_t *snap_out)
{
    size_t r, c, count = 0;
    for (r = 0; r < k->t.rows; r++)
        for (c = 0; c < k->t.row_stride && r * k->t.row_stride + c < k->span; c++) {
            size_t i = r * k->t.row_stride + c;
            float want;
            if (c >= k->t.cols) { /* between cols and row_stride: untouched */
                FZ_CHECK(memcmp(out + i, snap_out + i * 4, 4) == 0);
                continue;
            }
            want = rp_times_pow2(w[i], sign * offsets[c]);
            FZ_CHECKF(rp_same(out[i], want), "element %zu: %a * 2^%d gave %a, want %a\n", i,
                      (double)w[i], sign * offsets[c], (double)out[i], (double)want);
            if (!isnan(w[i]) && !isinf(w[i]) &&
                (double)want != (double)w[i] * ldexp(1.0, sign * offsets[c]))
                count++;
        }
    FZ_CHECKF(inexact == count, "inexact %zu, want %zu\n", inexact, count);
}

static void rp_fold(rp_case *k)
{
    size_t cols, bytes, off_x, off_out, off_offs, off_back, inexact = 0, back_inexact = 0;
    int offsets[RP_MAX_COLS], status, want, c, in_place;
    float *w, *out, *back, *in;
    fz_arena a;
    uint8_t *snap_out;

    rp_pick_shape(k);
    cols = k->t.cols;
    bytes = k->span * 4;
    for (c = 0; c < (int)cols; c++)
        offsets[c] = fz_u8(&k->r);
    in_place = fz_u8(&k->r) % 8 == 0;
    off_x = FZ_GUARD;
    off_out = off_x + rp_round_up(bytes) + FZ_GUARD;
    off_back = off_out + rp_round_up(bytes) + FZ_GUARD;
    off_offs = off_back + rp_round_up(bytes) + FZ_GUARD;
    fz_arena_init(&a, off_offs + rp_round_up(cols * sizeof(int)) + FZ_GUARD);
    w = (float *)(void *)(a.base + off_x);
    out = (float *)(void *)(a.base + off_out);
    back = (float *)(void *)(a.base + off_back);
    rp_fill(&k->r, w, k->span);
    memcpy(a.base + off_offs, offsets, cols * sizeof(int));

    want = FPQ_OK;
    in = w;
    switch (k->fault) {
    case RP_NULL: in = NULL; want = FPQ_ERR_NULL; break;
    case RP_STRUCT: want = FPQ_ERR_ARGUMENT; break;
    case RP_SHAPE: want = FPQ_ERR_SIZE; break;
    case RP_OFFSET:
        ((int *)(void *)(a.base + off_offs))[fz_u8(&k->r) % cols] = fz_u8(&k->r) & 1 ? -1 : 256;
        want = FPQ_ERR_ARGUMENT;
        break;
    case RP_MISALIGN: in = (float *)(void *)(a.base + off_x + 1); want = FPQ_ERR_ALIGN; break;
    case RP_OVERLAP:
        if (k->span > 1) {
            out = w + 1;
            want = FPQ_ERR_OVERLAP;
        }
        break;
    }
    rp_apply_shape_fault(k);
    if (in_place && want == FPQ_OK)
        out = w;
    fz_arena_snapshot(&a);
    {
        /* The model reads the input as it was: in place overwrites it. */
        float *w0 = (float *)malloc(bytes);
        FZ_CHECK(w0 != NULL);
        memcpy(w0, w, bytes);
        snap_out = a.snap + ((uint8_t *)out - a.base);
        RP_CALL(status, k->env,
                fpq_reparam_fold(&k->t, in, (const int *)(void *)(a.base + off_offs), out,
                                 &inexact));
        FZ_CHECKF(status == want, "fpq_reparam_fold: status %d, want %d (fault %d)\n", status,
                  want, k->fault);
        if (status != FPQ_OK) {
            fz_arena_expect_only(&a, NULL, 0, "fpq_reparam_fold (refused)");
            free(w0);
            fz_arena_free(&a);
            return;
        }
        fz_arena_expect_only(&a, out, bytes, "fpq_reparam_fold");
        rp_check_scaled(k, w0, offsets, -1, out, inexact, snap_out);

        /* Unfold back into its own buffer. */
        fz_arena_snapshot(&a);
        snap_out = a.snap + off_back;
        RP_CALL(status, k->env,
                fpq_reparam_unfold(&k->t, out, offsets, back, &back_inexact));
        FZ_CHECK(status == FPQ_OK);
        fz_arena_expect_only(&a, back, bytes, "fpq_reparam_unfold");
        rp_check_scaled(k, out, offsets, 1, back, back_inexact, snap_out);
        if (inexact == 0) {
            size_t r, cc;
            for (r = 0; r < k->t.rows; r++)
                for (cc = 0; cc < cols; cc++) {
                    size_t i = r * k->t.row_stride + cc;
                    FZ_CHECKF(rp_same(back[i], w0[i]),
                              "fold with inexact 0 then unfold: %a came back as %a\n",
                              (double)w0[i], (double)back[i]);
                }
        }
        free(w0);
    }
    fz_arena_free(&a);
}

/* ------------------------------------------------------------------------------------------ */

static void rp_quant(rp_case *k)
{
    fpq_format fmt;
    fpq_format_limits lim;
    float shared, *x, *y;
    int offsets[RP_MAX_COLS], window = 0, fmt_ok, all_ok, status, fstatus, bits, c;
    unsigned flags;
    size_t cols, row_bytes, code_bytes, off_x, off_codes, off_y, off_offs, r;
    uint8_t *codes;
    fz_arena a;
    const float *in;

    fz_pick_format(&k->r, &fmt);
    shared = fz_pick_scale(&k->r);
    flags = fz_pick_flags(&k->r);
    rp_pick_shape(k);
    cols = k->t.cols;
    fmt_ok = fpq_format_limits_get(&fmt, &lim) == FPQ_OK && fmt.family != FPQ_FAMILY_E8M0;
    if (fmt_ok)
        window = (1 << fmt.exp_bits) - 1;
    all_ok = fmt_ok && fm_scale_valid(shared) && (flags & ~(unsigned)(FPQ_UNPACKED |
                                                                      FPQ_NO_SATURATE)) == 0;
    for (c = 0; c < (int)cols; c++) {
        offsets[c] = window ? fz_u8(&k->r) % (window + 1) : 0;
        /* The exact channel scale must be normal (converted to float32 a value just below
         * 2^-126 would round up to it). */
        if (all_ok && ldexp((double)shared, -offsets[c]) < (double)FLT_MIN)
            all_ok = 0;
    }
    bits = fmt_ok ? fpq_format_bits(&fmt) : 8;
    row_bytes = fmt_ok ? fpq_packed_size(&fmt, cols, flags & FPQ_UNPACKED) : cols;
    code_bytes = k->t.rows * row_bytes;

    off_x = FZ_GUARD;
    off_codes = off_x + rp_round_up(k->span * 4) + FZ_GUARD;
    off_y = off_codes + rp_round_up(code_bytes) + FZ_GUARD;
    off_offs = off_y + rp_round_up(k->span * 4) + FZ_GUARD;
    fz_arena_init(&a, off_offs + rp_round_up(cols * sizeof(int)) + FZ_GUARD);
    x = (float *)(void *)(a.base + off_x);
    codes = a.base + off_codes;
    y = (float *)(void *)(a.base + off_y);
    rp_fill(&k->r, x, k->span);
    memcpy(a.base + off_offs, offsets, cols * sizeof(int));

    in = x;
    switch (k->fault) {
    case RP_NULL: in = NULL; break;
    case RP_OFFSET:
        ((int *)(void *)(a.base + off_offs))[fz_u8(&k->r) % cols] =
            fz_u8(&k->r) & 1 ? -1 : window + 1;
        break;
    case RP_MISALIGN: in = (const float *)(const void *)(a.base + off_x + 2); break;
    case RP_OVERLAP: /* the codes inside x */
        codes = (uint8_t *)x;
        break;
    }
    rp_apply_shape_fault(k);

    fz_arena_snapshot(&a);
    RP_CALL(status, k->env,
            fpq_reparam_quantize(&fmt, &k->t, in, shared,
                                 (const int *)(void *)(a.base + off_offs), flags, codes,
                                 code_bytes));
    if (k->fault == RP_NONE && all_ok)
        FZ_CHECKF(status == FPQ_OK, "fpq_reparam_quantize refused a valid call: %d\n", status);
    if (k->fault != RP_NONE && k->fault != RP_OVERLAP)
        FZ_CHECK(status != FPQ_OK);
    if (k->fault == RP_OVERLAP && status == FPQ_OK) /* a refused format may come first */
        FZ_CHECK(0);
    fz_arena_expect_only(&a, codes, status == FPQ_OK ? code_bytes : 0, "fpq_reparam_quantize");
    if (status == FPQ_OK)
        for (r = 0; r < k->t.rows; r++)
            for (c = 0; c < (int)cols; c++) {
                size_t i = r * k->t.row_stride + (size_t)c;
                float s = (float)ldexp((double)shared, -offsets[c]);
                uint8_t want;
                unsigned got = rp_code_at(codes + r * row_bytes, (size_t)c, bits, flags);
                FZ_CHECK(fpq_quantize(&fmt, &x[i], 1, s, FPQ_UNPACKED |
                                      (flags & FPQ_NO_SATURATE), &want) == FPQ_OK);
                FZ_CHECKF(got == want, "x[%zu] = %a, offset %d: code %u, fpq_quantize %u\n", i,
                          (double)x[i], offsets[c], got, (unsigned)want);
            }

    /* Fake-quantize: the same arguments, float32 out. */
    fz_arena_restore(&a);
    {
        float *out = k->fault == RP_OVERLAP ? x + 1 : y;
        fz_arena_snapshot(&a);
        RP_CALL(fstatus, k->env,
                fpq_reparam_fake_quantize(&fmt, &k->t, in, shared,
                                          (const int *)(void *)(a.base + off_offs), flags,
                                          out));
        if (k->fault == RP_NONE && all_ok)
            FZ_CHECKF(fstatus == FPQ_OK, "fpq_reparam_fake_quantize refused: %d\n", fstatus);
        if (k->fault != RP_NONE)
            FZ_CHECKF(fstatus != FPQ_OK || (k->fault == RP_OVERLAP && k->span == 1),
                      "fake-quantize accepted fault %d\n", k->fault);
        if (fstatus != FPQ_OK) {
            fz_arena_expect_only(&a, NULL, 0, "fpq_reparam_fake_quantize (refused)");
        } else {
            fz_arena_expect_only(&a, out, k->span * 4, "fpq_reparam_fake_quantize");
            for (r = 0; r < k->t.rows; r++)
                for (c = 0; c < (int)k->t.row_stride; c++) {
                    size_t i = r * k->t.row_stride + (size_t)c;
                    float s = (float)ldexp((double)shared, c < (int)cols ? -offsets[c] : 0);
                    float want;
                    if (i >= k->span)
                        break;
                    if (c >= (int)cols) {
                        FZ_CHECK(memcmp(out + i, a.snap + ((uint8_t *)(out + i) - a.base), 4) ==
                                 0);
                        continue;
                    }
                    FZ_CHECK(fpq_fake_quantize(&fmt, &x[i], 1, s, flags & FPQ_NO_SATURATE,
                                               &want) == FPQ_OK);
                    FZ_CHECKF(rp_same(out[i], want),
                              "x[%zu] = %a, offset %d: %a, fpq_fake_quantize %a\n", i,
                              (double)x[i], offsets[c], (double)out[i], (double)want);
                }
        }
    }
    fz_arena_free(&a);
}

/* ------------------------------------------------------------------------------------------ */

static double rp_pick_bias(fz_reader *r)
{
    uint8_t mode = fz_u8(r);
    uint64_t bits;
    double v;
    switch (mode % 5) {
    case 0:
        bits = fz_u64(r);
        memcpy(&v, &bits, sizeof v);
        return v;
    case 1: return HUGE_VAL;
    case 2: return fz_u8(r) & 1 ? -HUGE_VAL : NAN;
    case 3: return (int8_t)fz_u8(r) / 2.0; /* halves: ties */
    default: return (int8_t)fz_u8(r) / 16.0 + (int8_t)fz_u8(r) * 1e-9;
    }
}

static void rp_offsets(rp_case *k)
{
    fpq_format fmt;
    double biases[RP_MAX_COLS], shared, want_shared, z;
    size_t n = 1 + fz_u8(&k->r) % RP_MAX_COLS, i, off_b, off_o, off_s;
    int status, window;
    float *sscale;
    int *offs;
    fz_arena a;

    fz_pick_format(&k->r, &fmt);
    for (i = 0; i < n; i++)
        biases[i] = rp_pick_bias(&k->r);
    off_b = FZ_GUARD;
    off_o = off_b + rp_round_up(n * sizeof(double)) + FZ_GUARD;
    off_s = off_o + rp_round_up(n * sizeof(int)) + FZ_GUARD;
    fz_arena_init(&a, off_s + FZ_GUARD + FZ_GUARD);
    memcpy(a.base + off_b, biases, n * sizeof(double));
    offs = (int *)(void *)(a.base + off_o);
    sscale = (float *)(void *)(a.base + off_s);

    fz_arena_snapshot(&a);
    RP_CALL(status, k->env,
            fpq_reparam_shared_bias(&fmt, (const double *)(void *)(a.base + off_b), n,
                                    &shared));
    fz_arena_expect_only(&a, NULL, 0, "fpq_reparam_shared_bias");
    if (status != FPQ_OK) {
        FZ_CHECK(fpq_format_limits_get(&fmt, NULL) != FPQ_OK || fmt.family == FPQ_FAMILY_E8M0);
        fz_arena_free(&a);
        return;
    }
    want_shared = HUGE_VAL;
    for (i = 0; i < n; i++)
        if (isfinite(biases[i]) && biases[i] < want_shared)
            want_shared = biases[i];
    if (want_shared == HUGE_VAL)
        want_shared = fmt.bias;
    FZ_CHECKF(shared == want_shared, "shared bias %.17g, want %.17g\n", shared, want_shared);

    if (fz_u8(&k->r) & 1)
        shared += (int8_t)fz_u8(&k->r) / 8.0;
    fz_arena_snapshot(&a);
    RP_CALL(status, k->env,
            fpq_reparam_offsets(&fmt, (const double *)(void *)(a.base + off_b), n, shared, offs,
                                sscale));
    if (status != FPQ_OK) {
        fz_arena_expect_only(&a, NULL, 0, "fpq_reparam_offsets (refused)");
        fz_arena_free(&a);
        return;
    }
    window = (1 << fmt.exp_bits) - 1;
    z = nearbyint(shared);
    for (i = 0; i < n; i++) {
        double b = biases[i], want;
        if (isnan(b) || b == -HUGE_VAL)
            want = 0;
        else if (b == HUGE_VAL)
            want = window;
        else {
            want = nearbyint(b);
            want = want < z ? z : want > z + window ? z + window : want;
            want -= z;
        }
        FZ_CHECKF(offs[i] == (int)want, "bias %.17g, shared %.17g: offset %d, want %d\n", b,
                  shared, offs[i], (int)want);
    }
    {
        float s;
        FZ_CHECK(fpq_scale_from_bias(&fmt, shared, &s) == FPQ_OK);
        FZ_CHECKF(fm_f2u(*sscale) == fm_f2u(s), "shared scale %a, fpq_scale_from_bias %a\n",
                  (double)*sscale, (double)s);
    }
    /* Outputs: the offsets and the scale, nothing else. */
    memcpy(a.snap + off_o, a.base + off_o, n * sizeof(int));
    memcpy(a.snap + off_s, a.base + off_s, sizeof(float));
    fz_arena_expect_only(&a, NULL, 0, "fpq_reparam_offsets");
    fz_arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rp_case k;
    uint8_t op;

    k.r.p = data;
    k.r.n = size;
    op = fz_u8(&k.r) % RP_OPS;
    k.fault = fz_u8(&k.r) % RP_FAULTS;
    k.env = fz_env_pick(fz_u8(&k.r));
    fz_env_default();
    switch (op) {
    case RP_FOLD: rp_fold(&k); break;
    case RP_QUANT: rp_quant(&k); break;
    default: rp_offsets(&k); break;
    }
    return 0;
}

#undef RP_CALL
#undef RP_MAX_ROWS
#undef RP_MAX_COLS
