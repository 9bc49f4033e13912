/*
 * test_search.c - the tensor-level parameter search (fpq_search_*): its errors against a brute
 * force written here on fpq_fake_quantize (every objective, granularity and grid), the fast
 * path against the exhaustive one (also near FLT_MAX, where errors overflow), midpoint ties, degenerate data, NaN/Inf, streamed batches,
 * a known optimum from numerical integration, and bad input.
 */
#include "fpq_test.h"

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- data --------------------------------------------------------------------------------- */

static double unit_open(uint64_t *st)
{
    return ((double)(fpqt_rand(st) >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(uint64_t *st)
{
    return sqrt(-2.0 * log(unit_open(st))) * cos(6.283185307179586 * unit_open(st));
}

/* kind 0: normal; 1: heavy-tailed (normal / sqrt(uniform)); 2: Laplace(1). */
static void fill(float *x, size_t n, int kind, uint64_t seed)
{
    uint64_t st = seed;
    size_t i;
    for (i = 0; i < n; i++) {
        double v = gauss(&st);
        if (kind == 1)
            v /= sqrt(unit_open(&st));
        else if (kind == 2)
            v = (unit_open(&st) < 0.5 ? -1.0 : 1.0) * -log(unit_open(&st));
        x[i] = (float)v;
    }
}

static size_t group_count(const fpq_tensor *t)
{
    switch (t->granularity) {
    case FPQ_PER_TENSOR: return 1;
    case FPQ_PER_ROW: return t->rows;
    case FPQ_PER_COLUMN: return t->cols;
    default: return t->rows * ((t->cols + (size_t)t->block_size - 1) / (size_t)t->block_size);
    }
}

static size_t group_of(const fpq_tensor *t, size_t r, size_t c)
{
    switch (t->granularity) {
    case FPQ_PER_TENSOR: return 0;
    case FPQ_PER_ROW: return r;
    case FPQ_PER_COLUMN: return c;
    default:
        return r * ((t->cols + (size_t)t->block_size - 1) / (size_t)t->block_size) +
               c / (size_t)t->block_size;
    }
}

/* ---- the brute force: candidates as the header defines them, errors via fake_quantize --- */

static float model_scale(const fpq_search_options *o, const fpq_format *f, float max_finite,
                         int c, float amax)
{
    double s;
    int n = o->num_candidates;
    if (o->grid == FPQ_GRID_CLIP) {
        double r = n == 1 ? o->grid_high : o->grid_low + c * (o->grid_high - o->grid_low) / (n - 1);
        s = amax * r / max_finite;
    } else {
        double b0 = f->bias + log2((double)max_finite) - log2((double)amax);
        s = exp2(f->bias - b0 * (o->grid_low + c * (o->grid_high - o->grid_low) / n));
    }
    if (!(s >= FLT_MIN && s <= FLT_MAX))
        return 0.0f;
    return (float)s;
}

typedef struct model_ctx {
    const fpq_search_options *o;
    const float *w; /* per element weights gathered like x, or NULL */
} model_ctx;

static double model_error(const model_ctx *m, const float *x, const float *q, size_t n,
                          size_t g)
{
    double a = 0, b = 0, c = 0;
    size_t i;
    if (m->o->objective == FPQ_OBJECTIVE_CALLBACK)
        return m->o->callback(m->o->callback_user, g, x, q, n);
    for (i = 0; i < n; i++) {
        double d = (double)x[i] - q[i];
        switch (m->o->objective) {
        case FPQ_OBJECTIVE_L1: a += fabs(d); break;
        case FPQ_OBJECTIVE_WEIGHTED_L2: a += m->w[i] * d * d; break;
        case FPQ_OBJECTIVE_COSINE:
            a += (double)x[i] * q[i];
            b += (double)x[i] * x[i];
            c += (double)q[i] * q[i];
            break;
        default: a += d * d; break;
        }
    }
    if (m->o->objective != FPQ_OBJECTIVE_COSINE)
        return a;
    if (b == 0)
        return 0;
    if (c == 0)
        return 1;
    return 1.0 - a / (sqrt(b) * sqrt(c));
}

/* The expected error table [g][f][c] of float32 data x (finite elements per group in
 * row-major order); weights per element or per column as the options say. */
static double *model_table(const fpq_format *fmts, size_t nf, const fpq_search_options *o,
                           const fpq_tensor *t, const float *x, const float *wts)
{
    size_t ng = group_count(t), nc = (size_t)o->num_candidates, g, r, cc, f;
    double *table = (double *)malloc(ng * nf * nc * sizeof(double));
    float *gx = (float *)malloc(t->rows * t->cols * sizeof(float));
    float *gw = (float *)malloc(t->rows * t->cols * sizeof(float));
    float *q = (float *)malloc(t->rows * t->cols * sizeof(float));
    for (g = 0; g < ng; g++) {
        size_t n = 0;
        float amax = 0;
        model_ctx m;
        for (r = 0; r < t->rows; r++)
            for (cc = 0; cc < t->cols; cc++) {
                float v = x[r * t->row_stride + cc];
                if (group_of(t, r, cc) != g || !isfinite(v))
                    continue;
                gx[n] = v;
                if (wts)
                    gw[n] = o->weights == FPQ_WEIGHTS_PER_COLUMN ? wts[cc]
                                                                 : wts[r * t->row_stride + cc];
                amax = fabsf(v) > amax ? fabsf(v) : amax;
                n++;
            }
        m.o = o;
        m.w = gw;
        for (f = 0; f < nf; f++) {
            fpq_format_limits lim;
            int c;
            fpq_format_limits_get(&fmts[f], &lim);
            for (c = 0; c < (int)nc; c++) {
                double *e = &table[(g * nf + f) * nc + (size_t)c];
                float s = amax > 0 ? model_scale(o, &fmts[f], lim.max_finite, c, amax) : 1.0f;
                if (amax == 0) {
                    *e = 0;
                } else if (s == 0.0f) {
                    *e = INFINITY;
                } else {
                    CHECK(fpq_fake_quantize(&fmts[f], gx, n, s, 0, q) == FPQ_OK);
                    *e = model_error(&m, gx, q, n, g);
                }
            }
        }
    }
    free(gx);
    free(gw);
    free(q);
    return table;
}

/* ---- running the search ------------------------------------------------------------------- */

typedef struct outcome {
    int status, format;
    double total;
    size_t ng, nt;
    float *scales;
    double *biases, *errors, *table, *fmt_err;
    int *cands;
} outcome;

static void outcome_free(outcome *o)
{
    free(o->scales);
    free(o->biases);
    free(o->errors);
    free(o->table);
    free(o->fmt_err);
    free(o->cands);
}

/* Creates a search, adds the tensor in `batches` row slices (1 = whole), solves; with
 * batches == 0, the one-shot fpq_search_tensor instead. */
static outcome run_search(const fpq_format *fmts, size_t nf, const fpq_search_options *o,
                          const fpq_tensor *t, const void *x, const float *w, int batches)
{
    fpq_search *s = NULL;
    fpq_search_result r;
    outcome out;
    size_t ng = group_count(t), nc = (size_t)o->num_candidates;
    size_t esize = t->elem_type == FPQ_FLOAT32 ? 4 : 2;
    int b;

    memset(&out, 0, sizeof out);
    out.ng = ng;
    out.nt = ng * nf * nc;
    out.scales = (float *)calloc(ng, sizeof(float));
    out.biases = (double *)calloc(ng, sizeof(double));
    out.errors = (double *)calloc(ng, sizeof(double));
    out.cands = (int *)calloc(ng, sizeof(int));
    out.fmt_err = (double *)calloc(nf, sizeof(double));
    out.table = (double *)calloc(out.nt, sizeof(double));
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.num_groups = ng;
    r.scales = out.scales;
    r.biases = out.biases;
    r.errors = out.errors;
    r.candidates = out.cands;
    r.format_errors = out.fmt_err;
    r.error_table = out.table;
    r.error_table_count = out.nt;
    if (batches == 0) {
        out.status = fpq_search_tensor(fmts, nf, o, t, x, w, NULL, &r);
        out.format = r.format_index;
        out.total = r.total_error;
        return out;
    }
    out.status = fpq_search_create(fmts, nf, o, NULL, &s);
    if (out.status != FPQ_OK)
        return out;
    for (b = 0; b < batches && out.status == FPQ_OK; b++) {
        size_t r0 = t->rows * (size_t)b / (size_t)batches;
        size_t r1 = t->rows * (size_t)(b + 1) / (size_t)batches;
        fpq_tensor part = *t;
        if (r1 == r0)
            continue;
        part.rows = r1 - r0;
        out.status = fpq_search_add(s, &part,
                                    (const char *)x + r0 * t->row_stride * esize,
                                    w && o->weights == FPQ_WEIGHTS_PER_ELEMENT
                                        ? w + r0 * t->row_stride : w);
    }
    if (out.status == FPQ_OK) {
        out.status = fpq_search_solve(s, &r);
        out.format = r.format_index;
        out.total = r.total_error;
    }
    fpq_search_destroy(s);
    return out;
}

/* Two outcomes are the same bits. */
static int same_outcome(const outcome *a, const outcome *b)
{
    return a->status == FPQ_OK && b->status == FPQ_OK && a->format == b->format &&
           memcmp(a->table, b->table, a->nt * sizeof(double)) == 0 &&
           memcmp(a->scales, b->scales, a->ng * sizeof(float)) == 0 &&
           memcmp(a->errors, b->errors, a->ng * sizeof(double)) == 0 &&
           memcmp(a->cands, b->cands, a->ng * sizeof(int)) == 0;
}

static int close_enough(double got, double want, double scale)
{
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= 1e-6 * fabs(want) + 1e-12 * scale;
}

static double energy_of(const float *x, size_t n)
{
    double e = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (isfinite(x[i]))
            e += (double)x[i] * x[i];
    return e + 1e-30;
}

/* The whole table equals the brute force, and the choices are its argmins (or ties). */
static void check_against_model(const fpq_format *fmts, size_t nf, const fpq_search_options *o,
                                const fpq_tensor *t, const float *x, const float *w,
                                const char *what)
{
    outcome got = run_search(fmts, nf, o, t, x, w, 1);
    outcome in_place = run_search(fmts, nf, o, t, x, w, 0);
    double *want = model_table(fmts, nf, o, t, x, w);
    double energy = energy_of(x, t->rows * t->row_stride);
    size_t i, g, nc = (size_t)o->num_candidates, bad = 0;

    CHECKF(got.status == FPQ_OK, "%s: status %d", what, got.status);
    if (got.status == FPQ_OK) {
        for (i = 0; i < got.nt; i++)
            if (!close_enough(got.table[i], want[i], energy) && bad++ < 3)
                CHECKF(0, "%s: table[%zu] = %.17g, brute force %.17g", what, i, got.table[i],
                       want[i]);
        for (g = 0; g < got.ng; g++) {
            const double *row = want + (g * nf + (size_t)got.format) * nc;
            double best = INFINITY;
            size_t c;
            for (c = 0; c < nc; c++)
                best = row[c] < best ? row[c] : best;
            if (got.cands[g] >= 0)
                CHECKF(close_enough(row[got.cands[g]], best, energy),
                       "%s: group %zu picks %d (%.17g), best %.17g", what, g, got.cands[g],
                       row[got.cands[g]], best);
        }
    }
    CHECKF(same_outcome(&got, &in_place), "%s: fpq_search_tensor differs", what);
    free(want);
    outcome_free(&got);
    outcome_free(&in_place);
}

/* Ten formats: the paper's 4-bit list with INT4, every family, an unsigned one. */
static size_t test_formats(fpq_format *f)
{
    size_t n = 0;
    CHECK(fpq_search_default_formats(4, 1, f, 8, &n) == FPQ_OK && n == 4);
    CHECK(fpq_format_from_name("float8_e4m3fn", &f[n++]) == FPQ_OK);
    CHECK(fpq_format_from_name("float6_e3m2fn", &f[n++]) == FPQ_OK);
    CHECK(fpq_format_from_name("float8_e5m2", &f[n++]) == FPQ_OK);     /* IEEE: infinities */
    CHECK(fpq_format_from_name("float8_e4m3fnuz", &f[n++]) == FPQ_OK); /* no -0, bias 8 */
    /* unsigned: taken by the exhaustive path; negative values become 0 */
    CHECK(fpq_format_make(2, 2, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 0, &f[n++]) == FPQ_OK);
    return n;
}

static double sum_callback(void *user, size_t group, const float *x, const float *q, size_t n)
{
    /* a max-error objective: nothing the fast path could do */
    double m = 0;
    size_t i;
    (void)user;
    (void)group;
    for (i = 0; i < n; i++)
        m = fabs((double)x[i] - q[i]) > m ? fabs((double)x[i] - q[i]) : m;
    return m;
}

static void test_fast_matches_brute_force(void)
{
    static const int grans[4] = {FPQ_PER_TENSOR, FPQ_PER_ROW, FPQ_PER_COLUMN, FPQ_PER_BLOCK};
    static const int objs[6] = {FPQ_OBJECTIVE_L2, FPQ_OBJECTIVE_L1, FPQ_OBJECTIVE_WEIGHTED_L2,
                                FPQ_OBJECTIVE_WEIGHTED_L2, FPQ_OBJECTIVE_COSINE,
                                FPQ_OBJECTIVE_CALLBACK};
    enum { ROWS = 7, COLS = 37, STRIDE = 40 };
    fpq_format fmts[10];
    size_t nf = test_formats(fmts);
    float x[ROWS * STRIDE], w[ROWS * STRIDE];
    int kind, gi, oi, grid;
    char what[96];

    fill(w, ROWS * STRIDE, 0, 99);
    for (gi = 0; gi < ROWS * STRIDE; gi++)
        w[gi] = fabsf(w[gi]);
    for (kind = 0; kind < 2; kind++) {
        fill(x, ROWS * STRIDE, kind, 1234 + (uint64_t)kind);
        for (grid = FPQ_GRID_CLIP; grid <= FPQ_GRID_BIAS; grid++)
            for (gi = 0; gi < 4; gi++)
                for (oi = 0; oi < 6; oi++) {
                    fpq_tensor t = fpqt_tensor(ROWS, COLS, STRIDE, FPQ_FLOAT32, grans[gi], 8);
                    fpq_search_options o;
                    fpq_search_options_init(grid, &o);
                    o.num_candidates = 13;
                    o.objective = objs[oi];
                    o.weights = oi == 3 ? FPQ_WEIGHTS_PER_COLUMN : FPQ_WEIGHTS_PER_ELEMENT;
                    o.callback = sum_callback;
                    snprintf(what, sizeof what, "data %d grid %d gran %d objective %d w %d",
                             kind, grid, grans[gi], objs[oi], o.weights);
                    check_against_model(fmts, nf, &o, &t, x, w, what);
                }
    }
}

/* Fast and exhaustive paths on bigger groups, both grids: 8-bit formats per row (thresholds
 * outnumber the elements), 4-bit formats per tensor (the elements outnumber the thresholds:
 * the sparse slot table). */
static void test_fast_equals_exhaustive(void)
{
    enum { ROWS = 3, COLS = 6000 };
    fpq_format fmts[2][8];
    size_t nfs[2], i;
    float *x = (float *)malloc(ROWS * COLS * sizeof(float));
    int grid, obj, k;

    CHECK(fpq_search_default_formats(8, 1, fmts[0], 8, &nfs[0]) == FPQ_OK && nfs[0] == 6);
    CHECK(fpq_search_default_formats(4, 1, fmts[1], 8, &nfs[1]) == FPQ_OK && nfs[1] == 4);
    fill(x, ROWS * COLS, 1, 77);
    x[17] = 0.0f;
    x[18] = -0.0f;
    for (k = 0; k < 2; k++)
        for (grid = FPQ_GRID_CLIP; grid <= FPQ_GRID_BIAS; grid++)
            for (obj = FPQ_OBJECTIVE_L2; obj <= FPQ_OBJECTIVE_L1; obj++) {
                fpq_tensor t = fpqt_tensor(ROWS, COLS, COLS, FPQ_FLOAT32,
                                           k == 0 ? FPQ_PER_ROW : FPQ_PER_TENSOR, 0);
                fpq_search_options o;
                outcome fast, slow;
                double energy = energy_of(x, ROWS * COLS);
                fpq_search_options_init(grid, &o);
                o.num_candidates = 17;
                o.objective = obj;
                fast = run_search(fmts[k], nfs[k], &o, &t, x, NULL, 0);
                o.method = FPQ_SEARCH_EXHAUSTIVE;
                slow = run_search(fmts[k], nfs[k], &o, &t, x, NULL, 0);
                CHECK(fast.status == FPQ_OK && slow.status == FPQ_OK);
                for (i = 0; i < fast.nt; i++)
                    CHECKF(close_enough(fast.table[i], slow.table[i], energy),
                           "formats %d grid %d obj %d [%zu]: %.17g vs %.17g", k, grid, obj, i,
                           fast.table[i], slow.table[i]);
                CHECK(fast.format == slow.format);
                outcome_free(&fast);
                outcome_free(&slow);
            }
    free(x);
}

/* Data near FLT_MAX, for overflow_data: row r's finite elements. */
static void overflow_data(float *x, float *w, size_t rows, size_t cols)
{
    uint64_t st = 4242;
    size_t r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++) {
            double g = gauss(&st), v;
            switch (r % 4) {
            case 0: /* all near the top: [0.5, 1] FLT_MAX */
                v = (g < 0 ? -1.0 : 1.0) * (0.5 + 0.5 * unit_open(&st)) * FLT_MAX;
                break;
            case 1: /* one element at FLT_MAX, the rest far below */
                v = c == 3 ? -FLT_MAX : g * 1e30;
                break;
            case 2: /* heavy-tailed, up to FLT_MAX */
                v = g * 1e37 / sqrt(unit_open(&st));
                v = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
                break;
            default: /* FLT_MAX of weight 0 among values a bias-grid scale can overflow on */
                v = c == 5 ? FLT_MAX : g * 1e38;
                v = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
                break;
            }
            x[r * cols + c] = (float)v;
            w[r * cols + c] = (r % 4 == 3 && c == 5) || c % 7 == 0 ? 0.0f : (float)fabs(g);
        }
}

/* Near FLT_MAX a candidate's v_k * scale overflows float32: the kernels quantize the elements
 * reaching it to +-Inf and the error is +Inf; elements that do not reach it (or weigh 0) leave
 * a finite error. Every fast objective gives the exhaustive path's errors, +Inf where it has
 * them, never NaN; the overflowing candidates include both outcomes (the fast path once gave
 * a finite error or NaN for them); L2 and L1 also equal the brute force on fake_quantize. */
static void test_fast_overflow_near_flt_max(void)
{
    enum { ROWS = 8, COLS = 24, NC = 29 };
    static const int objs[5] = {FPQ_OBJECTIVE_L2, FPQ_OBJECTIVE_L1, FPQ_OBJECTIVE_WEIGHTED_L2,
                                FPQ_OBJECTIVE_WEIGHTED_L2, FPQ_OBJECTIVE_COSINE};
    fpq_format fmts[10];
    size_t nf = test_formats(fmts), i;
    float x[ROWS * COLS], w[ROWS * COLS];
    long inf_over = 0, finite_over = 0;
    int grid, oi;

    overflow_data(x, w, ROWS, COLS);
    for (grid = FPQ_GRID_CLIP; grid <= FPQ_GRID_BIAS; grid++)
        for (oi = 0; oi < 5; oi++) {
            fpq_tensor t = fpqt_tensor(ROWS, COLS, COLS, FPQ_FLOAT32, FPQ_PER_ROW, 0);
            double energy = energy_of(x, ROWS * COLS), *model = NULL;
            fpq_search_options o;
            outcome fast, slow;
            fpq_search_options_init(grid, &o);
            o.num_candidates = NC;
            o.objective = objs[oi];
            o.weights = oi == 3 ? FPQ_WEIGHTS_PER_COLUMN : FPQ_WEIGHTS_PER_ELEMENT;
            fast = run_search(fmts, nf, &o, &t, x, w, 1);
            o.method = FPQ_SEARCH_EXHAUSTIVE;
            slow = run_search(fmts, nf, &o, &t, x, w, 0);
            CHECK(fast.status == FPQ_OK && slow.status == FPQ_OK);
            if (objs[oi] == FPQ_OBJECTIVE_L2 || objs[oi] == FPQ_OBJECTIVE_L1)
                model = model_table(fmts, nf, &o, &t, x, NULL);
            for (i = 0; i < fast.nt; i++) {
                size_t g = i / (nf * NC), f = i / NC % nf;
                fpq_format_limits lim;
                float amax = 0, sc;
                size_t c;
                CHECKF(!isnan(fast.table[i]) && !isnan(slow.table[i]),
                       "grid %d obj %d [%zu]: NaN", grid, objs[oi], i);
                CHECKF(close_enough(fast.table[i], slow.table[i], energy),
                       "grid %d obj %d [%zu]: fast %.17g, exhaustive %.17g", grid, objs[oi], i,
                       fast.table[i], slow.table[i]);
                if (model)
                    CHECKF(close_enough(fast.table[i], model[i], energy),
                           "grid %d obj %d [%zu]: fast %.17g, brute force %.17g", grid,
                           objs[oi], i, fast.table[i], model[i]);
                /* Which candidates overflow: v_max * scale rounds to +Inf. */
                for (c = 0; c < COLS; c++)
                    amax = fabsf(x[g * COLS + c]) > amax ? fabsf(x[g * COLS + c]) : amax;
                fpq_format_limits_get(&fmts[f], &lim);
                sc = model_scale(&o, &fmts[f], lim.max_finite, (int)(i % NC), amax);
                if (sc != 0.0f && isinf(lim.max_finite * sc)) {
                    inf_over += isinf(fast.table[i]);
                    finite_over += !isinf(fast.table[i]);
                }
            }
            free(model);
            outcome_free(&fast);
            outcome_free(&slow);
        }
    CHECKF(inf_over > 0 && finite_over > 0, "overflowing candidates: %ld +Inf, %ld finite",
           inf_over, finite_over);
}

/* Elements exactly at the midpoints between e2m1 values (scale 1: amax 6, ratio 1) round to
 * the even code; the fast path must put them where the kernel does. */
static void test_midpoint_ties(void)
{
    static const float mids[] = {0.25f, 0.75f, 1.25f, 1.75f, 2.5f, 3.5f, 5.0f, 6.0f, 7.0f};
    float x[64];
    fpq_format f;
    fpq_search_options o;
    size_t i;
    fpq_tensor t = fpqt_tensor(1, 64, 64, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);

    for (i = 0; i < 64; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * mids[i % 9] * (i % 5 == 4 ? 0.5f : 1.0f);
    x[0] = 6.0f;
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.num_candidates = 9; /* includes ratio 1: scale 1, and others whose midpoints differ */
    for (o.objective = FPQ_OBJECTIVE_L2; o.objective <= FPQ_OBJECTIVE_L1; o.objective++)
        check_against_model(&f, 1, &o, &t, x, NULL, "midpoints");
}

/* The smallest float32 that fake_quantize at `scale` maps to v or above (v > 0, reached by
 * FLT_MAX): the kernel's own decision by bisection over float32 bits, independent of the
 * search's threshold rule. */
static int kernel_reaches(const fpq_format *f, float scale, float target, uint32_t bits)
{
    float x, q;
    memcpy(&x, &bits, 4);
    CHECK(fpq_fake_quantize(f, &x, 1, scale, 0, &q) == FPQ_OK);
    return q >= target;
}

static uint32_t kernel_threshold(const fpq_format *f, float scale, float v, float guess)
{
    const float target = v * scale; /* the kernel's output for v */
    uint32_t g, lo = 0, hi = 0x7f7fffffu;
    memcpy(&g, &guess, 4);
    /* A bracket of 64 steps around a guess, kept only if the kernel confirms it (a few calls
     * instead of 31: the suite also runs under valgrind and qemu); else all of float32. */
    if (g > 64 && g < 0x7f7fffffu - 64 && !kernel_reaches(f, scale, target, g - 64) &&
        kernel_reaches(f, scale, target, g + 64)) {
        lo = g - 64;
        hi = g + 64;
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (kernel_reaches(f, scale, target, mid))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* Probes one float32 step below, at and above every rounding threshold of 13 candidates:
 * the search computes its thresholds without dividing (a product in double), and a
 * threshold one step off moves one probe into the next interval. Each row is an anchor that
 * fixes amax (weight 0) and one probe (weight 1), so a row's error is its probe's alone, and
 * a probe in the wrong interval changes it by about 1e-6 relative: the tolerance is 1e-10. */
static void test_thresholds_at_kernel_decisions(void)
{
    static const char *const names[] = {"float6_e2m3fn", "float6_e3m2fn", "float8_e4m3fn"};
    const float anchor = 0.7302f;
    fpq_format fmts[8];
    size_t nn, nf = 0;

    CHECK(fpq_search_default_formats(4, 1, fmts, 8, &nf) == FPQ_OK); /* with INT4 */
    for (nn = 0; nn < 3; nn++)
        CHECK(fpq_format_from_name(names[nn], &fmts[nf++]) == FPQ_OK);
    for (nn = 0; nn < nf; nn++) {
        char name[64];
        fpq_format f = fmts[nn];
        fpq_format_limits lim;
        fpq_search_options o;
        float values[256], *x, *w;
        size_t nv = 0, rows = 0, cap, i, bad = 0;
        int c, k, d, obj;

        fpq_format_describe(&f, name, sizeof name);
        fpq_format_limits_get(&f, &lim);
        CHECK(fpq_format_values(&f, values, 256, &nv) == FPQ_OK);
        fpq_search_options_init(FPQ_GRID_CLIP, &o);
        o.num_candidates = 13;
        o.grid_low = 0.05;
        cap = (size_t)o.num_candidates * nv * 3;
        x = (float *)malloc(cap * 2 * sizeof(float));
        w = (float *)malloc(cap * 2 * sizeof(float));
        for (c = 0; c < o.num_candidates; c++) {
            float s = model_scale(&o, &f, lim.max_finite, c, anchor);
            for (k = 0; k < (int)nv; k++) {
                uint32_t tb;
                if (!(values[k] > 0.0f))
                    continue;
                /* guess: the midpoint with the value below, times the scale */
                tb = kernel_threshold(&f, s, values[k], 0.5f * (values[k] + values[k - 1]) * s);
                for (d = -1; d <= 1; d++) {
                    uint32_t pb = tb + (uint32_t)d;
                    float p;
                    memcpy(&p, &pb, 4);
                    if (!(p < anchor))
                        continue;
                    x[2 * rows] = anchor;
                    w[2 * rows] = 0.0f;
                    x[2 * rows + 1] = p;
                    w[2 * rows + 1] = 1.0f;
                    rows++;
                }
            }
        }
        for (obj = 0; obj < 2; obj++) {
            fpq_tensor t = fpqt_tensor(rows, 2, 2, FPQ_FLOAT32, FPQ_PER_ROW, 0);
            outcome got;
            double *want;
            o.objective = obj ? FPQ_OBJECTIVE_L1 : FPQ_OBJECTIVE_WEIGHTED_L2;
            o.weights = FPQ_WEIGHTS_PER_ELEMENT; /* ignored by L1 */
            got = run_search(&f, 1, &o, &t, x, obj ? NULL : w, 0);
            want = model_table(&f, 1, &o, &t, x, obj ? NULL : w);
            CHECKF(got.status == FPQ_OK && rows > 50, "%s: status %d, %zu rows", name,
                   got.status, rows);
            for (i = 0; got.status == FPQ_OK && i < got.nt; i++)
                if (!(fabs(got.table[i] - want[i]) <= 1e-10 * want[i] + 1e-30) && bad++ < 3)
                    CHECKF(0, "%s objective %d: row %zu candidate %zu: %.17g, kernel %.17g",
                           name, o.objective, i / (size_t)o.num_candidates,
                           i % (size_t)o.num_candidates, got.table[i], want[i]);
            free(want);
            outcome_free(&got);
        }
        free(x);
        free(w);
    }
}

/* The fast path's two kernels (the first pass's amax, the slot lookup) are integer work: every
 * backend must give the same bits, in both table layouts (a small group per row, one large
 * group), with NaN, Inf, zeros and subnormals in the data. */
static outcome backend_run;
static const fpq_format *backend_fmts;
static size_t backend_nf;
static const fpq_search_options *backend_opts;
static const fpq_tensor *backend_tensor;
static const float *backend_x;

static void search_on_backend(const char *backend)
{
    outcome got = run_search(backend_fmts, backend_nf, backend_opts, backend_tensor, backend_x,
                             NULL, 0);
    CHECKF(same_outcome(&backend_run, &got), "%s differs from scalar", backend);
    outcome_free(&got);
}

static void test_backends_same_bits(void)
{
    enum { N = 60013 };
    fpq_format fmts[8];
    fpq_search_options o;
    size_t nf = 0, i;
    float *x = (float *)malloc(N * sizeof(float));
    fpq_tensor shapes[2];
    int sh, obj;

    CHECK(fpq_search_default_formats(4, 1, fmts, 8, &nf) == FPQ_OK);
    fill(x, N, 1, 77);
    for (i = 0; i < N; i += 97)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? -INFINITY : 0.0f;
    for (i = 5; i < N; i += 101)
        x[i] = (i % 2 ? -1.0f : 1.0f) * 1e-40f; /* subnormal */
    shapes[0] = fpqt_tensor(59, 1017, 1017, FPQ_FLOAT32, FPQ_PER_ROW, 0);
    shapes[1] = fpqt_tensor(1, N, N, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);
    for (sh = 0; sh < 2; sh++)
        for (obj = FPQ_OBJECTIVE_L2; obj <= FPQ_OBJECTIVE_L1; obj++) {
            int ran;
            fpq_search_options_init(FPQ_GRID_CLIP, &o);
            o.num_candidates = 17;
            o.objective = obj;
            CHECK(fpq_set_backend("scalar") == FPQ_OK);
            backend_run = run_search(fmts, nf, &o, &shapes[sh], x, NULL, 0);
            CHECK(backend_run.status == FPQ_OK);
            backend_fmts = fmts;
            backend_nf = nf;
            backend_opts = &o;
            backend_tensor = &shapes[sh];
            backend_x = x;
            ran = fpqt_for_each_simd_backend(search_on_backend);
            if (sh == 0 && obj == FPQ_OBJECTIVE_L2)
                printf("    compared scalar with %d SIMD backend(s)\n", ran);
            outcome_free(&backend_run);
        }
    free(x);
}

static void test_degenerate_data(void)
{
    fpq_format fmts[10];
    size_t nf = test_formats(fmts);
    float x[5 * 8];
    fpq_search_options o;
    size_t i;
    outcome out;
    fpq_tensor t = fpqt_tensor(5, 8, 8, FPQ_FLOAT32, FPQ_PER_ROW, 0);

    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.num_candidates = 11;
    for (i = 0; i < 40; i++)
        x[i] = i < 8 ? 0.0f : i < 16 ? 0.37f : i < 24 ? (i == 20 ? -2.5f : 0.0f)
                                     : i < 32 ? -1e-3f : (float)i;
    check_against_model(fmts, nf, &o, &t, x, NULL, "zeros/constant/single");
    out = run_search(fmts, nf, &o, &t, x, NULL, 1);
    CHECK(out.status == FPQ_OK);
    /* an all-zero row: scale 1, no candidate, no error */
    CHECK(out.scales[0] == 1.0f && out.cands[0] == -1 && out.errors[0] == 0.0);
    /* a constant row: at ratio 1 the constant is the largest value: error 0 (or a tie) */
    CHECK(out.errors[1] == 0.0);
    outcome_free(&out);

    /* a single element */
    t = fpqt_tensor(1, 1, 1, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);
    x[0] = -3.0f;
    check_against_model(fmts, nf, &o, &t, x, NULL, "single element");
    out = run_search(fmts, nf, &o, &t, x, NULL, 1);
    CHECK(out.status == FPQ_OK && out.errors[0] == 0.0 && out.total == 0.0);
    outcome_free(&out);
}

/* NaN and Inf are ignored: the result equals the one without them. */
static void test_nonfinite_ignored(void)
{
    enum { N = 300 };
    fpq_format fmts[10];
    size_t nf = test_formats(fmts), i;
    float x[N], y[N];
    fpq_search_options o;
    int obj;
    fpq_tensor t = fpqt_tensor(1, N, N, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);
    fpq_tensor tc = t;

    fill(x, N, 0, 5);
    memcpy(y, x, sizeof x);
    x[3] = NAN;
    x[50] = INFINITY;
    x[51] = -INFINITY;
    x[299] = -NAN;
    tc.cols = 0;
    for (i = 0; i < N; i++)
        if (isfinite(x[i]))
            y[tc.cols++] = x[i];
    tc.row_stride = tc.cols;
    for (obj = FPQ_OBJECTIVE_L2; obj <= FPQ_OBJECTIVE_COSINE; obj++) {
        outcome a, b;
        fpq_search_options_init(FPQ_GRID_CLIP, &o);
        o.num_candidates = 13;
        o.objective = obj;
        a = run_search(fmts, nf, &o, &t, x, NULL, 1);
        b = run_search(fmts, nf, &o, &tc, y, NULL, 1);
        CHECK(a.status == FPQ_OK && b.status == FPQ_OK);
        CHECK(memcmp(a.table, b.table, a.nt * sizeof(double)) == 0);
        CHECK(a.scales[0] == b.scales[0] && a.format == b.format);
        outcome_free(&a);
        outcome_free(&b);
    }
}

/* 1, 2 and 7 batches give the bits of one batch, for every granularity and float16 data. */
static void test_streamed_batches(void)
{
    static const int grans[4] = {FPQ_PER_TENSOR, FPQ_PER_ROW, FPQ_PER_COLUMN, FPQ_PER_BLOCK};
    static const int counts[3] = {2, 7, 14};
    enum { ROWS = 14, COLS = 50, STRIDE = 53 };
    fpq_format fmts[10];
    size_t nf = test_formats(fmts);
    float x[ROWS * STRIDE], w[ROWS * STRIDE];
    uint16_t h[ROWS * STRIDE];
    int gi, k, obj;

    fill(x, ROWS * STRIDE, 1, 31);
    fill(w, ROWS * STRIDE, 0, 32);
    for (k = 0; k < ROWS * STRIDE; k++)
        w[k] = fabsf(w[k]);
    x[5] = NAN;
    x[70] = -INFINITY;
    CHECK(fpq_convert_from_float32(FPQ_FLOAT16, x, ROWS * STRIDE, h) == FPQ_OK);
    for (gi = 0; gi < 4; gi++)
        for (obj = FPQ_OBJECTIVE_L2; obj <= FPQ_OBJECTIVE_WEIGHTED_L2; obj++) {
            fpq_search_options o;
            fpq_tensor t = fpqt_tensor(ROWS, COLS, STRIDE, FPQ_FLOAT16, grans[gi], 16);
            outcome one;
            fpq_search_options_init(FPQ_GRID_CLIP, &o);
            o.num_candidates = 10;
            o.objective = obj;
            /* per-row and per-block groups are rows: their batches repeat the shape */
            if (grans[gi] == FPQ_PER_ROW || grans[gi] == FPQ_PER_BLOCK)
                t.rows = 2;
            one = run_search(fmts, nf, &o, &t, h, w, 1);
            CHECK(one.status == FPQ_OK);
            {
                outcome in_place = run_search(fmts, nf, &o, &t, h, w, 0);
                CHECKF(same_outcome(&one, &in_place), "gran %d obj %d: fpq_search_tensor",
                       grans[gi], obj);
                outcome_free(&in_place);
            }
            for (k = 0; k < 3 && t.rows == ROWS; k++) {
                outcome many = run_search(fmts, nf, &o, &t, h, w, counts[k]);
                CHECK(many.status == FPQ_OK);
                CHECKF(same_outcome(&one, &many), "gran %d obj %d: %d batches differ",
                       grans[gi], obj, counts[k]);
                outcome_free(&many);
            }
            outcome_free(&one);
        }
    /* Per-row groups across batches: row r of each batch joins group r; two identical
     * batches double every error and keep every scale. */
    {
        fpq_search_options o;
        fpq_tensor t = fpqt_tensor(ROWS, COLS, STRIDE, FPQ_FLOAT32, FPQ_PER_ROW, 0);
        fpq_search *s = NULL;
        fpq_search_result r;
        float sc1[ROWS], sc2[ROWS];
        double e1[ROWS], e2[ROWS];
        int row;
        fpq_search_options_init(FPQ_GRID_CLIP, &o);
        memset(&r, 0, sizeof r);
        r.struct_size = sizeof r;
        r.num_groups = ROWS;
        r.errors = e1;
        r.scales = sc1;
        CHECK(fpq_search_create(fmts, 3, &o, NULL, &s) == FPQ_OK);
        CHECK(fpq_search_add(s, &t, x, NULL) == FPQ_OK);
        CHECK(fpq_search_solve(s, &r) == FPQ_OK);
        CHECK(fpq_search_add(s, &t, x, NULL) == FPQ_OK);
        r.errors = e2;
        r.scales = sc2;
        CHECK(fpq_search_solve(s, &r) == FPQ_OK);
        for (row = 0; row < ROWS; row++)
            CHECK(sc1[row] == sc2[row] && close_enough(e2[row], 2 * e1[row], 1.0));
        fpq_search_destroy(s);
    }
}

/* The same bits for 1, 2 and 3 threads, and under the caller's upward rounding. */
static void test_threads_and_rounding_mode(void)
{
    enum { ROWS = 64, COLS = 1100 };
    fpq_format fmts[10];
    size_t nf = 0;
    float *x = (float *)malloc(ROWS * COLS * sizeof(float));
    fpq_search_options o;
    fpq_tensor t = fpqt_tensor(ROWS, COLS, COLS, FPQ_FLOAT32, FPQ_PER_ROW, 0);
    outcome base;
    int threads, obj;

    CHECK(fpq_search_default_formats(4, 1, fmts, 8, &nf) == FPQ_OK);
    fill(x, ROWS * COLS, 1, 404);
    for (obj = FPQ_OBJECTIVE_L2; obj <= FPQ_OBJECTIVE_COSINE; obj += 2) {
        fpq_search_options_init(FPQ_GRID_CLIP, &o);
        o.num_candidates = 15;
        o.objective = obj;
        CHECK(fpq_set_num_threads(1) == FPQ_OK);
        base = run_search(fmts, nf, &o, &t, x, NULL, 0);
        for (threads = 2; threads <= 3; threads++) {
            outcome other;
            CHECK(fpq_set_num_threads(threads) == FPQ_OK);
            other = run_search(fmts, nf, &o, &t, x, NULL, threads == 2 ? 0 : 1);
            CHECKF(same_outcome(&base, &other), "objective %d, %d threads", obj, threads);
            outcome_free(&other);
        }
        CHECK(fpq_set_num_threads(0) == FPQ_OK);
        if (fesetround(FE_UPWARD) == 0) {
            outcome up = run_search(fmts, nf, &o, &t, x, NULL, 0);
            fesetround(FE_TONEAREST);
            CHECKF(same_outcome(&base, &up), "objective %d, upward rounding", obj);
            outcome_free(&up);
        }
        outcome_free(&base);
    }
    free(x);
}

/* ---- known answer ------------------------------------------------------------------------- */

/* Expected squared error of e2m1 with clipping range c on Laplace(1) data, by numerical
 * integration (midpoint rule on |x| in [0, 30], density e^-x), rounding to the nearest value
 * (ties are measure zero). Independent of the library. */
static double laplace_e2m1_mse(double c)
{
    static const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    const double h = 2e-3;
    double sum = 0, x;
    for (x = h / 2; x < 30.0; x += h) {
        double best = INFINITY;
        int k;
        for (k = 0; k < 8; k++) {
            double d = x - v[k] * c / 6.0;
            best = d * d < best ? d * d : best;
        }
        sum += best * exp(-x) * h;
    }
    return sum;
}

static void test_known_optimum(void)
{
    enum { N = 1 << 18 };
    float *x = (float *)malloc(N * sizeof(float));
    fpq_format f;
    fpq_search_options o;
    fpq_tensor t = fpqt_tensor(1, N, N, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);
    outcome out;
    double c, best_c = 0, best = INFINITY, chosen;

    /* the optimum of the integral on a fine grid of clipping ranges */
    for (c = 3.0; c <= 10.0; c += 0.02) {
        double e = laplace_e2m1_mse(c);
        if (e < best) {
            best = e;
            best_c = c;
        }
    }
    fill(x, N, 2, 2024);
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.num_candidates = 200;
    out = run_search(&f, 1, &o, &t, x, NULL, 1);
    CHECK(out.status == FPQ_OK);
    chosen = (double)out.scales[0] * 6.0;
    CHECKF(fabs(chosen - best_c) < 0.05 * best_c, "clip %.3f, integral's optimum %.3f",
           chosen, best_c);
    /* the empirical error per element is the integral's at the chosen clip */
    CHECKF(fabs(out.errors[0] / N - laplace_e2m1_mse(chosen)) < 0.02 * best,
           "mse %.5f vs %.5f", out.errors[0] / N, laplace_e2m1_mse(chosen));
    outcome_free(&out);
    free(x);
}

/* The bias grid is the reference's: b0 from amax, multiples 0.01 + i 1.19 / 100. */
static void test_bias_grid_is_the_reference(void)
{
    float x[4] = {0.3f, -0.02f, 0.11f, 0.05f};
    fpq_format f;
    fpq_search_options o;
    fpq_tensor t = fpqt_tensor(1, 4, 4, FPQ_FLOAT32, FPQ_PER_TENSOR, 0);
    outcome out;
    double b0, b;

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    fpq_search_options_init(FPQ_GRID_BIAS, &o);
    CHECK(o.grid_low == 0.01 && o.grid_high == 1.2 && o.num_candidates == 100);
    out = run_search(&f, 1, &o, &t, x, NULL, 1);
    CHECK(out.status == FPQ_OK && out.cands[0] >= 0);
    /* LLM-FP4: b0 = 2^E - log2(amax) + log2(2 - 2^-M) - 1, scale 2^(default bias - b) */
    b0 = 4.0 - log2((double)0.3f) + log2(1.5) - 1.0;
    b = b0 * (0.01 + out.cands[0] * 1.19 / 100);
    CHECK(out.scales[0] == (float)exp2(1.0 - b));
    CHECK(fabs(out.biases[0] - b) < 1e-6);
    outcome_free(&out);
}

/* ---- bad input ---------------------------------------------------------------------------- */

static size_t alloc_calls, alloc_fail_at;

static void *counting_alloc(void *user, size_t size)
{
    (void)user;
    if (++alloc_calls == alloc_fail_at)
        return NULL;
    return malloc(size);
}

static void counting_free(void *user, void *p)
{
    (void)user;
    free(p);
}

static void test_bad_input(void)
{
    fpq_format f, bad;
    fpq_search_options o;
    fpq_search *s = NULL;
    fpq_search_result r;
    fpq_allocator al = {counting_alloc, counting_free, NULL};
    float x[8] = {1, 2, 3, -4, 5, 6, 7, 8}, w[8] = {1, 1, 1, 1, 1, 1, 1, -1};
    float scales[4] = {9, 9, 9, 9};
    double table[2];
    fpq_tensor t = fpqt_tensor(2, 4, 4, FPQ_FLOAT32, FPQ_PER_ROW, 0), t2;
    size_t n, fails;

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    memset(&bad, 0, sizeof bad);
    CHECK(fpq_search_options_init(FPQ_GRID_CLIP, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_search_options_init(7, &o) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_search_default_formats(6, 0, NULL, 0, &n) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_search_default_formats(8, 0, &bad, 1, &n) == FPQ_ERR_CAPACITY && n == 5);
    CHECK(bad.exp_bits == 0); /* untouched */
    CHECK(fpq_search_default_formats(4, 0, NULL, 0, NULL) == FPQ_ERR_NULL);

    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    CHECK(fpq_search_create(&f, 1, &o, NULL, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_search_create(NULL, 1, &o, NULL, &s) == FPQ_ERR_NULL && s == NULL);
    CHECK(fpq_search_create(&f, 0, &o, NULL, &s) == FPQ_ERR_SIZE);
    CHECK(fpq_search_create(&f, 65, &o, NULL, &s) == FPQ_ERR_SIZE);
    CHECK(fpq_search_create(&bad, 1, &o, NULL, &s) == FPQ_ERR_FORMAT);
    o.grid_low = 0.0;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.grid_high = 1.5;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT);
    fpq_search_options_init(FPQ_GRID_BIAS, &o);
    o.grid_low = NAN;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.num_candidates = 0;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.objective = FPQ_OBJECTIVE_CALLBACK; /* without a callback */
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT);
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.struct_size = 8;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_ERR_ARGUMENT && s == NULL);

    /* add and solve */
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    o.objective = FPQ_OBJECTIVE_WEIGHTED_L2;
    CHECK(fpq_search_create(&f, 1, &o, NULL, &s) == FPQ_OK);
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.num_groups = 2;
    r.scales = scales;
    CHECK(fpq_search_solve(s, &r) == FPQ_ERR_SIZE); /* nothing added */
    CHECK(fpq_search_add(s, &t, x, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_search_add(s, &t, x, w) == FPQ_ERR_ARGUMENT); /* a negative weight */
    CHECK(fpq_search_num_groups(s) == 0);
    w[7] = 1;
    t2 = t;
    t2.row_stride = 3;
    CHECK(fpq_search_add(s, &t2, x, w) == FPQ_ERR_SIZE);
    t2 = t;
    t2.granularity = 9;
    CHECK(fpq_search_add(s, &t2, x, w) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_search_add(s, &t, (const char *)x + 1, w) == FPQ_ERR_ALIGN);
    CHECK(fpq_search_add(s, &t, x, w) == FPQ_OK);
    CHECK(fpq_search_num_groups(s) == 2 && fpq_search_memory(s) >= 16 * sizeof(float));
    t2 = t;
    t2.granularity = FPQ_PER_COLUMN;
    CHECK(fpq_search_add(s, &t2, x, w) == FPQ_ERR_ARGUMENT); /* another granularity */
    t2 = t;
    t2.rows = 1;
    CHECK(fpq_search_add(s, &t2, x, w) == FPQ_ERR_ARGUMENT); /* per row: rows must match */
    r.num_groups = 1;
    CHECK(fpq_search_solve(s, &r) == FPQ_ERR_CAPACITY);
    r.num_groups = 2;
    r.error_table = table;
    r.error_table_count = 2;
    CHECK(fpq_search_solve(s, &r) == FPQ_ERR_CAPACITY);
    r.error_table = NULL;
    r.struct_size = 8;
    CHECK(fpq_search_solve(s, &r) == FPQ_ERR_ARGUMENT);
    r.struct_size = sizeof r;
    r.scales = NULL;
    CHECK(fpq_search_solve(s, &r) == FPQ_ERR_NULL);
    CHECK(scales[0] == 9 && scales[1] == 9); /* untouched by every failure */
    r.scales = scales;
    CHECK(fpq_search_solve(s, &r) == FPQ_OK && scales[0] != 9);
    fpq_search_destroy(s);
    fpq_search_destroy(NULL);
    CHECK(fpq_search_num_groups(NULL) == 0 && fpq_search_memory(NULL) == 0);

    /* Every allocation failing in turn gives FPQ_ERR_MEMORY and no leak (ASan checks). */
    fpq_search_options_init(FPQ_GRID_CLIP, &o);
    for (fails = 1; fails < 12; fails++) {
        int st;
        alloc_calls = 0;
        alloc_fail_at = fails;
        s = NULL;
        st = fpq_search_create(&f, 1, &o, &al, &s);
        if (st == FPQ_OK) {
            st = fpq_search_add(s, &t, x, NULL);
            if (st == FPQ_OK) {
                scales[0] = 9;
                st = fpq_search_solve(s, &r);
                CHECK(st == FPQ_OK || scales[0] == 9);
            }
            fpq_search_destroy(s);
        }
        CHECK(st == FPQ_OK || st == FPQ_ERR_MEMORY);
    }
    alloc_fail_at = 0;
}

const fpqt_case fpqt_search_cases[] = {
    {"search: fast errors equal brute force (objectives x granularities x grids)",
     test_fast_matches_brute_force},
    {"search: fast path equals the exhaustive path (8-bit, large groups)",
     test_fast_equals_exhaustive},
    {"search: near FLT_MAX an overflowing error is +Inf on both paths, never NaN",
     test_fast_overflow_near_flt_max},
    {"search: elements at midpoints round as the kernel does", test_midpoint_ties},
    {"search: thresholds fall where the kernel decides, to the float32 step",
     test_thresholds_at_kernel_decisions},
    {"search: every backend gives the scalar backend's bits", test_backends_same_bits},
    {"search: zeros, constants, a single element", test_degenerate_data},
    {"search: NaN and Inf are ignored", test_nonfinite_ignored},
    {"search: 1, 2, 7 batches and fpq_search_tensor give one batch's bits",
     test_streamed_batches},
    {"search: 1, 2, 3 threads and the caller's rounding mode give the same bits",
     test_threads_and_rounding_mode},
    {"search: optimal clip of Laplace data matches numerical integration", test_known_optimum},
    {"search: the bias grid is LLM-FP4's", test_bias_grid_is_the_reference},
    {"search: bad input gives a status and leaves outputs untouched", test_bad_input},
    {NULL, NULL}};
