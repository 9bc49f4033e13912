/*
 * search.c - the tensor-level search object: options, the calibration store filled batch by
 * batch, and the solve that picks each group's scale and the tensor's format
 * (docs/search.md). The per-group evaluation is in search_eval.c.
 *
 * What the object keeps: every element of every batch as float32 (4 bytes an element, 8 with
 * the per-element weights of weighted L2), per group, in arrival order. The fast objectives
 * would need only the magnitudes, but the cosine, callback and exhaustive paths need the signed
 * values, and one store keeps the object simple; see docs/search.md for the figures.
 */
#include "search.h"
#include "convert.h"
#include "fpenv.h"
#include "fpq_round.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Groups are evaluated in parallel only when the data is large enough to pay for a team. */
#define SEARCH_PARALLEL_MIN ((size_t)1 << 16)
/* Elements widened at a time when a batch is float16 / bfloat16. */
#define SEARCH_WIDEN 256

/* ---- allocation --------------------------------------------------------------------------- */

static void *search_malloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void search_free_default(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static void *search_alloc(const fpq_search *s, size_t size)
{
    return s->alloc.alloc(s->alloc.user, size ? size : 1);
}

static void search_free(const fpq_search *s, void *ptr)
{
    if (ptr)
        s->alloc.free(s->alloc.user, ptr);
}

/* ---- options and formats ------------------------------------------------------------------ */

int fpq_search_options_init(int grid, fpq_search_options *opts)
{
    if (!opts)
        return FPQ_ERR_NULL;
    if (grid != FPQ_GRID_CLIP && grid != FPQ_GRID_BIAS)
        return FPQ_ERR_ARGUMENT;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->objective = FPQ_OBJECTIVE_L2;
    opts->weights = FPQ_WEIGHTS_PER_ELEMENT;
    opts->grid = grid;
    opts->num_candidates = 100;
    opts->grid_low = grid == FPQ_GRID_CLIP ? 0.1 : 0.01;
    opts->grid_high = grid == FPQ_GRID_CLIP ? 1.0 : 1.2;
    opts->method = FPQ_SEARCH_FAST;
    return FPQ_OK;
}

int fpq_search_default_formats(int bits, int with_int, fpq_format *formats, size_t capacity,
                               size_t *count)
{
    fpq_format list[6];
    size_t n = 0;
    int e, m;

    if (!count)
        return FPQ_ERR_NULL;
    if (bits != 4 && bits != 8)
        return FPQ_ERR_ARGUMENT;
    m = bits - 1; /* mantissa bits of the integer grid e0m(bits-1) */
    for (e = bits == 4 ? 3 : 5; e >= 1; e--)
        fpq_format_make(e, m - e, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &list[n++]);
    if (with_int)
        fpq_format_make(0, m, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1, &list[n++]);
    *count = n;
    if (!formats)
        return FPQ_OK;
    if (capacity < n)
        return FPQ_ERR_CAPACITY;
    memcpy(formats, list, n * sizeof *list);
    return FPQ_OK;
}

static int search_check_options(const fpq_search_options *o)
{
    if (o->struct_size < sizeof *o || o->reserved)
        return FPQ_ERR_ARGUMENT;
    if (o->objective < FPQ_OBJECTIVE_L2 || o->objective > FPQ_OBJECTIVE_CALLBACK)
        return FPQ_ERR_ARGUMENT;
    if (o->objective == FPQ_OBJECTIVE_WEIGHTED_L2 && o->weights != FPQ_WEIGHTS_PER_ELEMENT &&
        o->weights != FPQ_WEIGHTS_PER_COLUMN)
        return FPQ_ERR_ARGUMENT;
    if (o->objective == FPQ_OBJECTIVE_CALLBACK && !o->callback)
        return FPQ_ERR_ARGUMENT;
    if (o->method != FPQ_SEARCH_FAST && o->method != FPQ_SEARCH_EXHAUSTIVE)
        return FPQ_ERR_ARGUMENT;
    if (o->num_candidates < 1 || o->num_candidates > FPQI_SEARCH_MAX_CANDIDATES)
        return FPQ_ERR_ARGUMENT;
    if (!(o->grid_low > -1e6 && o->grid_low < 1e6 && o->grid_high > -1e6 &&
          o->grid_high < 1e6 && o->grid_low <= o->grid_high))
        return FPQ_ERR_ARGUMENT;
    if (o->grid == FPQ_GRID_CLIP)
        return o->grid_low > 0.0 && o->grid_high <= 1.0 ? FPQ_OK : FPQ_ERR_ARGUMENT;
    return o->grid == FPQ_GRID_BIAS ? FPQ_OK : FPQ_ERR_ARGUMENT;
}

/* ---- create / destroy --------------------------------------------------------------------- */

/* The value and quotient tables of a signed format (see struct fpq_search): the quotient
 * thresholds by bisection over float32 bits, on which the encoder is monotone. */
static void search_fill_tables(fpq_search *s, size_t f)
{
    const fpqi_params *p = &s->params[f];
    uint32_t k;

    if (!p->is_signed)
        return;
    s->value[f][0] = 0.0f;
    s->quotient[f][0] = 0.0f;
    for (k = 1; k <= p->max_mag; k++) {
        uint32_t lo = 0, hi = 0x7f800000u; /* 0 encodes to 0; Inf saturates to max_mag */
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (fpqi_encode(p, mid, 0) >= k)
                hi = mid;
            else
                lo = mid;
        }
        s->value[f][k] = fpqi_u2f(fpqi_decode(p, k));
        s->quotient[f][k] = fpqi_u2f(hi);
    }
}

static int search_create(const fpq_format *formats, size_t num_formats,
                         const fpq_search_options *opts, const fpq_allocator *alloc,
                         fpq_search **out)
{
    fpq_search_options o;
    fpq_search *s;
    fpqi_params params[FPQI_SEARCH_MAX_FORMATS];
    size_t f;
    int status;

    if (!out)
        return FPQ_ERR_NULL;
    *out = NULL;
    if (!formats || (alloc && (!alloc->alloc || !alloc->free)))
        return FPQ_ERR_NULL;
    if (num_formats == 0 || num_formats > FPQI_SEARCH_MAX_FORMATS)
        return FPQ_ERR_SIZE;
    for (f = 0; f < num_formats; f++) {
        status = fpqi_params_init(&formats[f], &params[f]);
        if (status != FPQ_OK)
            return status;
    }
    if (opts) {
        if (opts->struct_size < sizeof o)
            return FPQ_ERR_ARGUMENT;
        o = *opts;
    } else {
        fpq_search_options_init(FPQ_GRID_CLIP, &o);
    }
    status = search_check_options(&o);
    if (status != FPQ_OK)
        return status;
    s = (fpq_search *)(alloc ? alloc->alloc(alloc->user, sizeof *s) : malloc(sizeof *s));
    if (!s)
        return FPQ_ERR_MEMORY;
    memset(s, 0, sizeof *s);
    if (alloc) {
        s->alloc = *alloc;
    } else {
        s->alloc.alloc = search_malloc;
        s->alloc.free = search_free_default;
    }
    s->opt = o;
    s->num_formats = num_formats;
    for (f = 0; f < num_formats; f++) {
        fpq_format_limits lim;
        s->formats[f] = formats[f];
        s->params[f] = params[f];
        fpq_format_limits_get(&formats[f], &lim);
        s->max_finite[f] = lim.max_finite;
        search_fill_tables(s, f);
    }
    s->bytes = sizeof *s;
    *out = s;
    return FPQ_OK;
}

int fpq_search_create(const fpq_format *formats, size_t num_formats,
                      const fpq_search_options *opts, const fpq_allocator *alloc,
                      fpq_search **out)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, search_create(formats, num_formats, opts, alloc, out));
    return status;
}

static void search_free_groups(fpq_search *s)
{
    size_t g;
    if (!s->groups)
        return;
    for (g = 0; g < s->num_groups; g++) {
        search_free(s, s->groups[g].x);
        search_free(s, s->groups[g].w);
    }
    search_free(s, s->groups);
    s->groups = NULL;
}

void fpq_search_destroy(fpq_search *s)
{
    if (!s)
        return;
    search_free_groups(s);
    s->alloc.free(s->alloc.user, s);
}

size_t fpq_search_num_groups(const fpq_search *s)
{
    return s && s->have_shape ? s->num_groups : 0;
}

size_t fpq_search_memory(const fpq_search *s)
{
    return s ? s->bytes : 0;
}

static void search_scan(const float *x, size_t n, uint32_t *amax, size_t *nonfinite);

/* ---- adding a batch ----------------------------------------------------------------------- */

/* A validated batch. */
typedef struct search_batch {
    size_t rows, cols, stride, elem_size, blocks_per_row, num_groups;
    int elem_type, granularity, block_shift;
} search_batch;

static int search_check_batch(const fpq_tensor *t, const void *x, search_batch *b)
{
    int k = t->block_size, status = fpqi_tensor_check(t);
    if (status != FPQ_OK)
        return status;
    b->elem_size = fpqi_elem_size(t->elem_type);
    /* The object keeps each element as a float32 and its weight: 8 bytes must fit. */
    if (!fpqi_extent_fits(t->rows, t->cols, t->row_stride, 8))
        return FPQ_ERR_SIZE;
    if ((uintptr_t)x % b->elem_size)
        return FPQ_ERR_ALIGN;
    b->rows = t->rows;
    b->cols = t->cols;
    b->stride = t->row_stride;
    b->elem_type = t->elem_type;
    b->granularity = t->granularity;
    b->block_shift = 0;
    b->blocks_per_row = 1;
    if (t->granularity == FPQ_PER_BLOCK) {
        while ((1 << b->block_shift) < k)
            b->block_shift++;
        b->blocks_per_row = (t->cols + (size_t)k - 1) / (size_t)k;
    }
    switch (t->granularity) {
    case FPQ_PER_TENSOR: b->num_groups = 1; break;
    case FPQ_PER_ROW: b->num_groups = t->rows; break;
    case FPQ_PER_COLUMN: b->num_groups = t->cols; break;
    default: b->num_groups = t->rows * b->blocks_per_row; break;
    }
    return FPQ_OK;
}

/* Whether a batch fits the shape fixed by the first one. */
static int search_batch_matches(const fpq_search *s, const search_batch *b)
{
    if (!s->have_shape)
        return 1;
    if (b->granularity != s->granularity)
        return 0;
    switch (b->granularity) {
    case FPQ_PER_TENSOR: return 1;
    case FPQ_PER_COLUMN: return b->cols == s->cols;
    default:
        return b->rows == s->rows && b->cols == s->cols && b->block_shift == s->block_shift;
    }
}

static int search_check_weights(const fpq_search *s, const search_batch *b, const float *w)
{
    size_t r, c, rows;
    if (s->opt.objective != FPQ_OBJECTIVE_WEIGHTED_L2)
        return FPQ_OK;
    if (!w)
        return FPQ_ERR_NULL;
    if ((uintptr_t)w % sizeof(float))
        return FPQ_ERR_ALIGN;
    rows = s->opt.weights == FPQ_WEIGHTS_PER_COLUMN ? 1 : b->rows;
    for (r = 0; r < rows; r++)
        for (c = 0; c < b->cols; c++) {
            float v = w[r * b->stride + c];
            if (!(v >= 0.0f && v <= FLT_MAX))
                return FPQ_ERR_ARGUMENT;
        }
    return FPQ_OK;
}

/* Elements of group g one batch adds: an upper bound used to reserve room. */
static size_t search_group_share(const search_batch *b, size_t g)
{
    size_t k;
    switch (b->granularity) {
    case FPQ_PER_TENSOR: return b->rows * b->cols;
    case FPQ_PER_ROW: return b->cols;
    case FPQ_PER_COLUMN: return b->rows;
    default:
        k = (size_t)1 << b->block_shift;
        g %= b->blocks_per_row;
        return g + 1 < b->blocks_per_row ? k : b->cols - g * k;
    }
}

static int search_grow(fpq_search *s, fpqi_search_group *grp, size_t need)
{
    size_t cap = grp->cap * 2 > need ? grp->cap * 2 : need;
    int weighted = s->opt.objective == FPQ_OBJECTIVE_WEIGHTED_L2;
    float *x, *w = NULL;

    if (need <= grp->cap)
        return FPQ_OK;
    if (cap > SIZE_MAX / sizeof(float) / 2)
        return FPQ_ERR_MEMORY;
    x = (float *)search_alloc(s, cap * sizeof(float));
    if (x && weighted)
        w = (float *)search_alloc(s, cap * sizeof(float));
    if (!x || (weighted && !w)) {
        search_free(s, x);
        return FPQ_ERR_MEMORY;
    }
    if (grp->n) {
        memcpy(x, grp->x, grp->n * sizeof(float));
        if (weighted)
            memcpy(w, grp->w, grp->n * sizeof(float));
    }
    search_free(s, grp->x);
    search_free(s, grp->w);
    s->bytes += (cap - grp->cap) * sizeof(float) * (weighted ? 2 : 1);
    grp->x = x;
    grp->w = w;
    grp->cap = cap;
    return FPQ_OK;
}

/* Appends x[0..n) (float32 already) and their weights to a group, tracking amax. */
static void search_append(fpqi_search_group *grp, const float *x, const float *w, size_t n)
{
    memcpy(grp->x + grp->n, x, n * sizeof(float));
    if (grp->w)
        memcpy(grp->w + grp->n, w, n * sizeof(float));
    search_scan(x, n, &grp->amax_bits, &grp->nonfinite);
    grp->n += n;
}

/* Appends a run of n consecutive elements of a row (any element type) to group g. */
static void search_append_run(fpq_search *s, const search_batch *b, const unsigned char *src,
                              const float *w, size_t n, size_t g)
{
    float buf[SEARCH_WIDEN];
    size_t done = 0;
    if (b->elem_type == FPQ_FLOAT32) {
        search_append(&s->groups[g], (const float *)(const void *)src, w, n);
        return;
    }
    while (done < n) {
        size_t len = n - done < SEARCH_WIDEN ? n - done : SEARCH_WIDEN;
        fpqi_widen(b->elem_type, src + done * 2, len, buf);
        search_append(&s->groups[g], buf, w ? w + done : NULL, len);
        done += len;
    }
}

static void search_append_batch(fpq_search *s, const search_batch *b, const void *x,
                                const float *weights)
{
    const unsigned char *base = (const unsigned char *)x;
    int per_column_w = s->opt.weights == FPQ_WEIGHTS_PER_COLUMN;
    size_t r, c, k = (size_t)1 << b->block_shift;

    for (r = 0; r < b->rows; r++) {
        const unsigned char *row = base + r * b->stride * b->elem_size;
        const float *wrow = weights ? weights + (per_column_w ? 0 : r * b->stride) : NULL;
        switch (b->granularity) {
        case FPQ_PER_TENSOR:
            search_append_run(s, b, row, wrow, b->cols, 0);
            break;
        case FPQ_PER_ROW:
            search_append_run(s, b, row, wrow, b->cols, r);
            break;
        case FPQ_PER_COLUMN:
            for (c = 0; c < b->cols; c++)
                search_append_run(s, b, row + c * b->elem_size, wrow ? wrow + c : NULL, 1, c);
            break;
        default:
            for (c = 0; c < b->cols; c += k)
                search_append_run(s, b, row + c * b->elem_size, wrow ? wrow + c : NULL,
                                  b->cols - c < k ? b->cols - c : k,
                                  r * b->blocks_per_row + c / k);
            break;
        }
    }
}

static int search_add(fpq_search *s, const fpq_tensor *t, const void *x, const float *weights)
{
    search_batch b;
    size_t g;
    int status, fresh;

    if (!s || !t || !x)
        return FPQ_ERR_NULL;
    status = search_check_batch(t, x, &b);
    if (status != FPQ_OK)
        return status;
    if (!search_batch_matches(s, &b))
        return FPQ_ERR_ARGUMENT;
    status = search_check_weights(s, &b, weights);
    if (status != FPQ_OK)
        return status;
    fresh = !s->have_shape;
    if (fresh) {
        if (b.num_groups > SIZE_MAX / sizeof(fpqi_search_group))
            return FPQ_ERR_MEMORY;
        s->groups = (fpqi_search_group *)search_alloc(s, b.num_groups * sizeof *s->groups);
        if (!s->groups)
            return FPQ_ERR_MEMORY;
        memset(s->groups, 0, b.num_groups * sizeof *s->groups);
        s->num_groups = b.num_groups;
    }
    /* Room first, so that a failed allocation leaves the stored data as it was. */
    for (g = 0; g < b.num_groups; g++) {
        status = search_grow(s, &s->groups[g], s->groups[g].n + search_group_share(&b, g));
        if (status != FPQ_OK) {
            if (fresh) {
                search_free_groups(s);
                s->num_groups = 0;
                s->bytes = sizeof *s;
            }
            return status;
        }
    }
    if (fresh) {
        s->have_shape = 1;
        s->granularity = b.granularity;
        s->block_shift = b.block_shift;
        s->rows = b.rows;
        s->cols = b.cols;
        s->blocks_per_row = b.blocks_per_row;
        s->bytes += b.num_groups * sizeof *s->groups;
    }
    search_append_batch(s, &b, x, s->opt.objective == FPQ_OBJECTIVE_WEIGHTED_L2 ? weights
                                                                             : NULL);
    return FPQ_OK;
}

int fpq_search_add(fpq_search *s, const fpq_tensor *t, const void *x, const float *weights)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, search_add(s, t, x, weights));
    return status;
}

static int search_solve(fpq_search *s, fpq_search_result *r);

/* ---- reading a group ---------------------------------------------------------------------- */

/* The element at row r, column c of the borrowed tensor, widened. */
static float search_borrowed_at(const fpqi_search_source *src, size_t r, size_t c)
{
    const unsigned char *p = src->x + (r * src->stride + c) * src->elem_size;
    float v;
    if (src->elem_type == FPQ_FLOAT32)
        memcpy(&v, p, sizeof v);
    else
        fpqi_widen(src->elem_type, p, 1, &v);
    return v;
}

size_t fpqi_search_read(const fpq_search *s, size_t g, size_t off, size_t max, float *buf,
                        float *wbuf, const float **xp, const float **wp)
{
    const fpqi_search_source *src = s->borrowed;
    const fpqi_search_group *grp = &s->groups[g];
    size_t len = grp->n - off < max ? grp->n - off : max, r, c, i;

    if (!src) {
        *xp = grp->x + off;
        *wp = grp->w ? grp->w + off : NULL;
        return len;
    }
    if (s->granularity == FPQ_PER_COLUMN) { /* a strided column: gathered */
        for (i = 0; i < len; i++) {
            buf[i] = search_borrowed_at(src, off + i, g);
            if (src->w)
                wbuf[i] = src->w[src->w_per_column ? g : (off + i) * src->stride + g];
        }
        *xp = buf;
        *wp = src->w ? wbuf : NULL;
        return len;
    }
    switch (s->granularity) {
    case FPQ_PER_TENSOR:
        r = off / s->cols;
        c = off % s->cols;
        len = s->cols - c < len ? s->cols - c : len; /* stay within the row */
        break;
    case FPQ_PER_ROW:
        r = g;
        c = off;
        break;
    default:
        r = g / s->blocks_per_row;
        c = ((g % s->blocks_per_row) << s->block_shift) + off;
        break;
    }
    if (src->elem_type == FPQ_FLOAT32) {
        *xp = (const float *)(const void *)(src->x + (r * src->stride + c) * 4);
    } else {
        fpqi_widen(src->elem_type, src->x + (r * src->stride + c) * 2, len, buf);
        *xp = buf;
    }
    *wp = !src->w ? NULL : src->w + (src->w_per_column ? c : r * src->stride + c);
    return len;
}

/* ---- one-shot search of a tensor in place ------------------------------------------------- */

/* The largest finite |x| (as bits, at least *amax) and the non-finite count of x[0..n). */
static void search_scan(const float *x, size_t n, uint32_t *amax, size_t *nonfinite)
{
    fpqi_active_kernels()->abs_max(x, n, amax, nonfinite);
}

/* Sizes, amax and non-finite counts of the groups of a borrowed tensor. */
static void search_borrowed_stats(fpq_search *s, const search_batch *b)
{
    float buf[SEARCH_WIDEN], wbuf[SEARCH_WIDEN];
    /* float32 rows are read in place, whole; other reads fill the buffers */
    int direct = b->elem_type == FPQ_FLOAT32 && b->granularity != FPQ_PER_COLUMN;
    size_t g;

    for (g = 0; g < s->num_groups; g++) {
        fpqi_search_group *grp = &s->groups[g];
        size_t off, len;
        switch (b->granularity) {
        case FPQ_PER_TENSOR: grp->n = b->rows * b->cols; break;
        case FPQ_PER_ROW: grp->n = b->cols; break;
        case FPQ_PER_COLUMN: grp->n = b->rows; break;
        default:
            grp->n = search_group_share(b, g);
            break;
        }
        for (off = 0; off < grp->n; off += len) {
            const float *x, *w;
            len = fpqi_search_read(s, g, off, direct ? grp->n : SEARCH_WIDEN, buf, wbuf, &x,
                                   &w);
            search_scan(x, len, &grp->amax_bits, &grp->nonfinite);
        }
    }
}

static int search_tensor(const fpq_format *formats, size_t num_formats,
                         const fpq_search_options *opts, const fpq_tensor *t, const void *x,
                         const float *weights, const fpq_allocator *alloc,
                         fpq_search_result *r)
{
    fpq_search *s = NULL;
    fpqi_search_source src;
    search_batch b;
    int status;

    if (!t || !x || !r)
        return FPQ_ERR_NULL;
    status = search_create(formats, num_formats, opts, alloc, &s);
    if (status != FPQ_OK)
        return status;
    status = search_check_batch(t, x, &b);
    if (status == FPQ_OK)
        status = search_check_weights(s, &b, weights);
    if (status == FPQ_OK && b.num_groups > SIZE_MAX / sizeof(fpqi_search_group))
        status = FPQ_ERR_MEMORY;
    if (status == FPQ_OK) {
        s->groups = (fpqi_search_group *)search_alloc(s, b.num_groups * sizeof *s->groups);
        status = s->groups ? FPQ_OK : FPQ_ERR_MEMORY;
    }
    if (status == FPQ_OK) {
        memset(s->groups, 0, b.num_groups * sizeof *s->groups);
        src.x = (const unsigned char *)x;
        src.w = s->opt.objective == FPQ_OBJECTIVE_WEIGHTED_L2 ? weights : NULL;
        src.stride = b.stride;
        src.elem_size = b.elem_size;
        src.elem_type = b.elem_type;
        src.w_per_column = s->opt.weights == FPQ_WEIGHTS_PER_COLUMN;
        s->borrowed = &src;
        s->num_groups = b.num_groups;
        s->have_shape = 1;
        s->granularity = b.granularity;
        s->block_shift = b.block_shift;
        s->rows = b.rows;
        s->cols = b.cols;
        s->blocks_per_row = b.blocks_per_row;
        search_borrowed_stats(s, &b);
        status = search_solve(s, r);
    }
    fpq_search_destroy(s);
    return status;
}

int fpq_search_tensor(const fpq_format *formats, size_t num_formats,
                      const fpq_search_options *opts, const fpq_tensor *t, const void *x,
                      const float *weights, const fpq_allocator *alloc, fpq_search_result *r)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, search_tensor(formats, num_formats, opts, t, x, weights,
                                                alloc, r));
    return status;
}

/* ---- solve -------------------------------------------------------------------------------- */

typedef struct search_solution {
    double *best_err; /* [g * F + f] each group's least error per format */
    int *best_cand;   /* [g * F + f] its candidate; -1 for a group without data */
} search_solution;

static int search_has_data(const fpqi_search_group *grp)
{
    return grp->amax_bits != 0;
}

/* Evaluates group g into row (F x C errors) and keeps the best per format. */
static void search_solve_group(const fpq_search *s, fpqi_search_work *w, size_t g,
                               double *row, search_solution *sol, fpq_search_result *r)
{
    size_t f, c, nf = s->num_formats, nc = (size_t)s->opt.num_candidates;
    if (!search_has_data(&s->groups[g])) {
        for (f = 0; f < nf * nc; f++)
            row[f] = 0.0;
        for (f = 0; f < nf; f++) {
            sol->best_err[g * nf + f] = 0.0;
            sol->best_cand[g * nf + f] = -1;
        }
    } else {
        fpqi_search_eval_group(s, w, g, row);
        for (f = 0; f < nf; f++) {
            double best = (double)INFINITY;
            int at = 0;
            for (c = 0; c < nc; c++)
                if (row[f * nc + c] < best) {
                    best = row[f * nc + c];
                    at = (int)c;
                }
            sol->best_err[g * nf + f] = best;
            sol->best_cand[g * nf + f] = at;
        }
    }
    if (r->error_table)
        memcpy(r->error_table + g * nf * nc, row, nf * nc * sizeof(double));
}

static void search_run_groups(const fpq_search *s, void **work, double **rows, int threads,
                              search_solution *sol, fpq_search_result *r)
{
    size_t g;
#ifdef _OPENMP
    if (threads > 1) {
        long long gg, ng = (long long)s->num_groups;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (gg = 0; gg < ng; gg++) {
            int t = omp_get_thread_num();
            fpqi_fpenv env;
            fpqi_fpenv_enter(&env);
            search_solve_group(s, (fpqi_search_work *)work[t], (size_t)gg, rows[t], sol, r);
            fpqi_fpenv_leave(&env);
        }
        return;
    }
#endif
    (void)threads;
    for (g = 0; g < s->num_groups; g++)
        search_solve_group(s, (fpqi_search_work *)work[0], g, rows[0], sol, r);
}

/* The chosen format and the caller's arrays. */
static void search_write_result(const fpq_search *s, const search_solution *sol,
                                fpq_search_result *r)
{
    size_t g, f, nf = s->num_formats, chosen = 0;
    double totals[FPQI_SEARCH_MAX_FORMATS];

    for (f = 0; f < nf; f++) {
        double t = 0.0;
        for (g = 0; g < s->num_groups; g++)
            t += sol->best_err[g * nf + f];
        totals[f] = t;
        if (t < totals[chosen])
            chosen = f;
    }
    r->format_index = (int)chosen;
    r->total_error = totals[chosen];
    if (r->format_errors)
        memcpy(r->format_errors, totals, nf * sizeof(double));
    for (g = 0; g < s->num_groups; g++) {
        int c = sol->best_cand[g * nf + chosen];
        float scale = 1.0f;
        if (c >= 0) {
            float sc = fpqi_search_candidate_scale(s, chosen, c,
                                                   fpqi_u2f(s->groups[g].amax_bits));
            scale = sc != 0.0f ? sc : 1.0f; /* every candidate invalid: keep a usable scale */
        }
        r->scales[g] = scale;
        if (r->biases)
            r->biases[g] = (double)s->formats[chosen].bias - log2((double)scale);
        if (r->errors)
            r->errors[g] = sol->best_err[g * nf + chosen];
        if (r->candidates)
            r->candidates[g] = c;
    }
}

static int search_solve(fpq_search *s, fpq_search_result *r)
{
    size_t g, max_group = 0, total = 0, work_bytes, row_bytes, nf, nc;
    void *work[64];
    double *rows[64];
    search_solution sol;
    int threads = 1, t, status = FPQ_OK;

    if (!s || !r)
        return FPQ_ERR_NULL;
    if (r->struct_size < sizeof *r)
        return FPQ_ERR_ARGUMENT;
    if (!r->scales)
        return FPQ_ERR_NULL;
    if (!s->have_shape)
        return FPQ_ERR_SIZE;
    nf = s->num_formats;
    nc = (size_t)s->opt.num_candidates;
    if (r->num_groups < s->num_groups)
        return FPQ_ERR_CAPACITY;
    if (r->error_table && (s->num_groups > SIZE_MAX / nf / nc ||
                           r->error_table_count < s->num_groups * nf * nc))
        return FPQ_ERR_CAPACITY;
    for (g = 0; g < s->num_groups; g++) {
        size_t n = s->groups[g].n;
        max_group = n > max_group ? n : max_group;
        total += n;
    }
#ifdef _OPENMP
    threads = fpqi_thread_count();
    threads = threads > 64 ? 64 : threads;
    if ((size_t)threads > s->num_groups)
        threads = (int)s->num_groups;
    if (total < SEARCH_PARALLEL_MIN || threads < 1)
        threads = 1;
#endif
    (void)total;
    work_bytes = fpqi_search_work_bytes(s, max_group);
    row_bytes = nf * nc * sizeof(double);
    sol.best_err = (double *)search_alloc(s, s->num_groups * nf * sizeof(double));
    sol.best_cand = (int *)search_alloc(s, s->num_groups * nf * sizeof(int));
    for (t = 0; t < threads; t++) {
        work[t] = search_alloc(s, work_bytes);
        rows[t] = (double *)search_alloc(s, row_bytes);
        if (!work[t] || !rows[t])
            status = FPQ_ERR_MEMORY;
    }
    if (!sol.best_err || !sol.best_cand)
        status = FPQ_ERR_MEMORY;
    if (status == FPQ_OK) {
        for (t = 0; t < threads; t++)
            work[t] = fpqi_search_work_init(s, max_group, work[t]);
        search_run_groups(s, work, rows, threads, &sol, r);
        search_write_result(s, &sol, r);
    }
    for (t = 0; t < threads; t++) {
        search_free(s, work[t]);
        search_free(s, rows[t]);
    }
    search_free(s, sol.best_err);
    search_free(s, sol.best_cand);
    return status;
}

int fpq_search_solve(fpq_search *s, fpq_search_result *r)
{
    int status;
    FPQI_IN_DEFAULT_FPENV(status, search_solve(s, r));
    return status;
}

#undef SEARCH_PARALLEL_MIN
#undef SEARCH_WIDEN
