/*
 * fuzz_search.c - fuzzes the tensor-level parameter search of include/fpq.h:
 * fpq_search_options_init, fpq_search_create / _add / _solve / _destroy, fpq_search_num_groups
 * and fpq_search_tensor, through an allocator that fails the n-th allocation.
 *
 * The input chooses: 1..4 formats (fz_pick_format: valid or not); the objective (L2, L1,
 * cosine, weighted L2), grid (clip or bias), 1..8 candidates and now and then raw grid bounds,
 * struct size and reserved field; the method; the granularity and shape of two batches
 * (rows 1..6, cols 1..24, blocks of 8 or 16); data (raw float32 bits: NaN, Inf, subnormals,
 * huge values) and weights; which allocation fails (or none); the FP environment.
 *
 * Invariants (include/fpq.h, docs/search.md), each a trap when violated:
 *   - a failing create leaves *out NULL; a failed allocation gives FPQ_ERR_MEMORY, and every
 *     allocation is freed by destroy (the allocator counts; LeakSanitizer sees the rest);
 *   - a failing add or solve changes nothing the caller holds; solve with a too short result
 *     gives FPQ_ERR_CAPACITY and writes nothing (guarded arena);
 *   - solve's result is consistent: errors[g] is the table entry of the chosen format and
 *     candidate, and the least of that format's row (an invalid candidate's error is +Inf);
 *     format_errors[f] is the sum of each group's least error for f (up to the order of the
 *     sums); format_index has the least total (the first on ties) and total_error is it;
 *     scales are valid float32 scales, 1 where candidates[g] is -1 (where every error of the
 *     chosen format is +Inf because values overflow, the scale is candidate 0's, valid; 1
 *     only where no candidate scale is valid, as fpq.h says);
 *   - the fast method gives the exhaustive method's errors up to rounding of double sums,
 *     +Inf where a quantized element overflows to +-Inf; no error is NaN (non-finite data
 *     is ignored, weights are finite);
 *   - fpq_search_tensor on one batch gives fpq_search_create/add/solve's bits;
 *   - the FP environment is restored by every call.
 */
#include "fuzz_common.h"

#include <math.h>

#define FS_MAX_FORMATS 4
#define FS_MAX_CANDS 8
#define FS_MAX_ELEMS (6 * 26)

typedef struct fs_alloc {
    long count, fail_at, live;
} fs_alloc;

static void *fs_alloc_fn(void *user, size_t size)
{
    fs_alloc *a = (fs_alloc *)user;
    void *p;
    if (++a->count == a->fail_at)
        return NULL;
    p = malloc(size ? size : 1);
    FZ_CHECK(p != NULL);
    a->live++;
    return p;
}

static void fs_free_fn(void *user, void *ptr)
{
    fs_alloc *a = (fs_alloc *)user;
    FZ_CHECK(ptr != NULL);
    a->live--;
    free(ptr);
}

typedef struct fs_out {
    float scales[FS_MAX_ELEMS];
    double biases[FS_MAX_ELEMS], errors[FS_MAX_ELEMS];
    int cands[FS_MAX_ELEMS];
    double format_errors[FS_MAX_FORMATS];
    double table[FS_MAX_ELEMS * FS_MAX_FORMATS * FS_MAX_CANDS];
    fpq_search_result r;
} fs_out;

static void fs_out_init(fs_out *o, size_t groups, size_t table_count)
{
    memset(o, 0xA5, sizeof *o);
    memset(&o->r, 0, sizeof o->r);
    o->r.struct_size = sizeof o->r;
    o->r.num_groups = groups;
    o->r.scales = o->scales;
    o->r.biases = o->biases;
    o->r.errors = o->errors;
    o->r.candidates = o->cands;
    o->r.format_errors = o->format_errors;
    o->r.error_table = o->table;
    o->r.error_table_count = table_count;
}

/* Equal up to the rounding of double sums: relative, plus `abs_tol` for errors that cancel
 * to almost nothing (the scale of the data's own sums). */
static int fs_close(double a, double b, double abs_tol)
{
    if (isinf(a) || isinf(b) || isnan(a) || isnan(b))
        return (isinf(a) && isinf(b)) || (isnan(a) && isnan(b));
    return fabs(a - b) <= 1e-6 * fabs(b) + abs_tol + 1e-30;
}

/* The result's internal consistency (see the header's comment). */
static void fs_check_result(const fs_out *o, size_t groups, size_t nf, int nc, double tol)
{
    size_t g, f;
    int c, best = 0;
    double sums[FS_MAX_FORMATS];
    for (f = 0; f < nf; f++)
        sums[f] = 0;
    FZ_CHECK(o->r.format_index >= 0 && (size_t)o->r.format_index < nf);
    for (g = 0; g < groups; g++) {
        const double *row = o->table + (g * nf + (size_t)o->r.format_index) * (size_t)nc;
        uint32_t sb = fm_f2u(o->scales[g]);
        FZ_CHECKF(sb >= 0x00800000u && sb <= 0x7f7fffffu, "group %zu: scale %a\n", g,
                  (double)o->scales[g]);
        FZ_CHECK(o->cands[g] >= -1 && o->cands[g] < nc);
        if (o->cands[g] >= 0) {
            FZ_CHECKF(o->errors[g] == row[o->cands[g]], "group %zu: error %.17g, table %.17g\n",
                      g, o->errors[g], row[o->cands[g]]);
            for (c = 0; c < nc; c++)
                FZ_CHECKF(!(row[c] < o->errors[g]), "group %zu: candidate %d beats the chosen"
                          " one (%.17g < %.17g)\n", g, c, row[c], o->errors[g]);
        }
        if (o->cands[g] < 0)
            FZ_CHECK(o->scales[g] == 1.0f);
        for (f = 0; f < nf; f++) {
            const double *fr = o->table + (g * nf + f) * (size_t)nc;
            double m = fr[0];
            for (c = 0; c < nc; c++) /* finite data: an overflow is +Inf, never NaN */
                FZ_CHECKF(!isnan(fr[c]), "group %zu format %zu candidate %d: NaN\n", g, f, c);
            for (c = 1; c < nc; c++)
                m = fr[c] < m ? fr[c] : m;
            sums[f] += m;
        }
    }
    for (f = 0; f < nf; f++)
        FZ_CHECKF(fs_close(o->format_errors[f], sums[f], tol) || groups == 0,
                  "format %zu: total %.17g, sum of group minima %.17g\n", f,
                  o->format_errors[f], sums[f]);
    for (f = 1; f < nf; f++)
        if (o->format_errors[f] < o->format_errors[best])
            best = (int)f;
    FZ_CHECKF(o->r.format_index == best || o->format_errors[best] ==
              o->format_errors[o->r.format_index], "format %d chosen, %d has less error\n",
              o->r.format_index, best);
    FZ_CHECK(o->r.total_error == o->format_errors[o->r.format_index] ||
             (isnan(o->r.total_error) && isnan(o->format_errors[o->r.format_index])));
}

#define FS_CALL(status, env, call)                                                          \
    do {                                                                                    \
        unsigned long fs_before_;                                                           \
        fz_env_set(env);                                                                    \
        fs_before_ = fz_env_state();                                                        \
        (status) = (call);                                                                  \
        FZ_CHECK(fz_env_state() == fs_before_);                                             \
        fz_env_default();                                                                   \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_env env;
    fpq_format formats[FS_MAX_FORMATS];
    fpq_search_options o;
    fpq_tensor t;
    fpq_allocator al;
    fs_alloc counter;
    fpq_search *s = NULL, *ex = NULL;
    static fs_out out, out_ex, out_one;
    float x[2][FS_MAX_ELEMS], w[2][FS_MAX_ELEMS];
    size_t nf, groups, i, table_count;
    double tol;
    int status, b, batches, nc, short_result;
    uint64_t seed;

    r.p = data;
    r.n = size;
    env = fz_env_pick(fz_u8(&r));
    fz_env_default();
    nf = 1 + fz_u8(&r) % FS_MAX_FORMATS;
    for (i = 0; i < nf; i++)
        fz_pick_format(&r, &formats[i]);

    FZ_CHECK(fpq_search_options_init(fz_u8(&r) & 1 ? FPQ_GRID_BIAS : FPQ_GRID_CLIP, &o) ==
             FPQ_OK);
    o.objective = 1 + fz_u8(&r) % 4;
    o.weights = 1 + fz_u8(&r) % 2;
    o.num_candidates = 1 + fz_u8(&r) % FS_MAX_CANDS;
    o.method = fz_u8(&r) % 2;
    switch (fz_u8(&r) % 8) {
    case 0: { /* raw bounds */
        uint64_t lo = fz_u64(&r), hi = fz_u64(&r);
        memcpy(&o.grid_low, &lo, sizeof lo);
        memcpy(&o.grid_high, &hi, sizeof hi);
        break;
    }
    case 1: o.struct_size = fz_u8(&r); break;
    case 2: o.reserved = 1 + fz_u8(&r); break;
    default: break;
    }
    nc = o.num_candidates;

    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = 1 + fz_u8(&r) % 6;
    t.cols = 1 + fz_u8(&r) % 24;
    t.row_stride = t.cols + fz_u8(&r) % 2;
    t.elem_type = FPQ_FLOAT32;
    t.granularity = 1 + fz_u8(&r) % 4;
    t.block_size = fz_u8(&r) & 1 ? 16 : 8;
    batches = 1 + fz_u8(&r) % 2;
    seed = fz_u64(&r);
    for (b = 0; b < batches; b++)
        for (i = 0; i < FS_MAX_ELEMS; i++) {
            uint8_t kind = fz_u8(&r);
            x[b][i] = kind < 200 ? (float)((int8_t)fz_u8(&r)) * 0.03125f
                                 : fm_u2f(r.n >= 4 ? fz_u32(&r) : (uint32_t)fz_mix(&seed));
            w[b][i] = (float)(fz_u8(&r) % 4);
        }
    counter.count = 0;
    counter.fail_at = fz_u8(&r) % 16; /* 0: never */
    counter.live = 0;
    al.alloc = fs_alloc_fn;
    al.free = fs_free_fn;
    al.user = &counter;
    short_result = fz_u8(&r) % 8 == 0;

    s = (fpq_search *)&counter; /* must become NULL on failure */
    FS_CALL(status, env, fpq_search_create(formats, nf, &o, &al, &s));
    if (status != FPQ_OK) {
        FZ_CHECK(s == NULL);
        FZ_CHECK(counter.live == 0);
        return 0;
    }
    for (b = 0; b < batches; b++) {
        size_t before = fpq_search_num_groups(s);
        FS_CALL(status, env, fpq_search_add(s, &t, x[b], w[b]));
        if (status == FPQ_ERR_MEMORY)
            FZ_CHECK(counter.fail_at != 0);
        if (status != FPQ_OK)
            FZ_CHECK(fpq_search_num_groups(s) == before);
    }
    groups = fpq_search_num_groups(s);
    if (groups == 0) { /* no batch was taken */
        fs_out_init(&out, 1, 0);
        FS_CALL(status, env, fpq_search_solve(s, &out.r));
        FZ_CHECK(status == FPQ_ERR_SIZE);
        fpq_search_destroy(s);
        FZ_CHECK(counter.live == 0);
        return 0;
    }
    FZ_CHECK(groups <= FS_MAX_ELEMS);
    table_count = groups * nf * (size_t)nc;

    if (short_result) { /* one group or table entry short: CAPACITY, nothing written */
        fs_out_init(&out, groups - (table_count > 1 ? 0 : 1), table_count - 1);
        if (table_count == 1)
            out.r.num_groups = groups - 1;
        memcpy(&out_one, &out, sizeof out);
        FS_CALL(status, env, fpq_search_solve(s, &out.r));
        FZ_CHECK(status == FPQ_ERR_CAPACITY);
        FZ_CHECK(memcmp(&out, &out_one, sizeof out) == 0);
    }
    fs_out_init(&out, groups, table_count);
    FS_CALL(status, env, fpq_search_solve(s, &out.r));
    if (status == FPQ_ERR_MEMORY) {
        FZ_CHECK(counter.fail_at != 0);
        fpq_search_destroy(s);
        FZ_CHECK(counter.live == 0);
        return 0;
    }
    FZ_CHECKF(status == FPQ_OK, "solve: %d\n", status);
    {
        double mass = 0;
        for (b = 0; b < batches; b++)
            for (i = 0; i < FS_MAX_ELEMS; i++)
                if (isfinite(x[b][i]))
                    mass += (double)x[b][i] * x[b][i] * 4.0 + fabs((double)x[b][i]) * 4.0;
        tol = 1e-12 * mass;
    }
    fs_check_result(&out, groups, nf, nc, tol);

    /* The exhaustive method, same data: the same errors up to rounding. */
    if (batches == 1 && o.method == FPQ_SEARCH_FAST && counter.fail_at == 0) {
        fpq_search_options oe = o;
        size_t k;
        oe.method = FPQ_SEARCH_EXHAUSTIVE;
        FZ_CHECK(fpq_search_create(formats, nf, &oe, NULL, &ex) == FPQ_OK);
        FZ_CHECK(fpq_search_add(ex, &t, x[0], w[0]) == FPQ_OK);
        fs_out_init(&out_ex, groups, table_count);
        FZ_CHECK(fpq_search_solve(ex, &out_ex.r) == FPQ_OK);
        /* Also with data near the top of float32, where a candidate's value * scale
         * overflows: both methods give +Inf when an element quantizes to +-Inf (inputs
         * defect-search-fast-overflow-*). */
        for (k = 0; k < table_count; k++) {
            FZ_CHECKF(fs_close(out.table[k], out_ex.table[k], tol),
                      "table[%zu]: fast %.17g, exhaustive %.17g\n", k, out.table[k],
                      out_ex.table[k]);
        }
        fpq_search_destroy(ex);

        /* One call for one tensor: the same bits. */
        fs_out_init(&out_one, groups, table_count);
        FS_CALL(status, env, fpq_search_tensor(formats, nf, &o, &t, x[0], w[0], NULL,
                                               &out_one.r));
        FZ_CHECK(status == FPQ_OK);
        FZ_CHECK(memcmp(out_one.scales, out.scales, groups * sizeof(float)) == 0);
        FZ_CHECK(memcmp(out_one.table, out.table, table_count * sizeof(double)) == 0);
        FZ_CHECK(out_one.r.format_index == out.r.format_index);
    }
    fpq_search_destroy(s);
    FZ_CHECK(counter.live == 0);
    return 0;
}

#undef FS_CALL
