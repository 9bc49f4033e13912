/*
 * layer_search.c - the LLM-FP4 reference's calibration of one linear layer Y = X W^T
 * (docs/layer-search.md): per round, a per-row weight bias search for every weight format, a
 * shared activation bias search for every activation format (with per-channel integer offsets
 * in per-channel mode), then the weight and the activation format searches, each against the
 * layer output of the unquantized layer.
 *
 * Every candidate is judged on the whole layer output, so a candidate costs a matmul in a
 * plain implementation. Two facts make it cheaper without changing the definition: a
 * quantized value is (format value) x (scale), so the output of a row (or of a token) is its
 * scale times a sum of format values times the other operand; and candidates are visited in
 * order of their scale, between neighbours of which few codes change. Each row (weight
 * search) or token (activation search) therefore keeps its sum of format values times the
 * other operand, in double, and updates it by the codes that changed only. Rows and tokens
 * are independent, so threads split them; errors are reduced in a fixed order, so results do
 * not depend on the thread count.
 */
#include "fpenv.h"
#include "reparam_offsets.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#ifdef _OPENMP
#  include <omp.h>
#endif

/* Tokens per unit of work and of error reduction in the activation passes; output rows per
 * unit of work in the weight passes. */
#define LAYER_TOKEN_BLOCK 16
#define LAYER_ROW_BLOCK 8
#define LAYER_MAX_STEPS 100000
#define LAYER_MAX_ROUNDS 100
/* The scale of element j in layer_sums_add. */
#define LAYER_SCALE(j) (per ? scale * (double)per[j] : scale)

struct fpq_layer_search {
    fpq_allocator mem;
    fpq_layer_search_options opt; /* a copy; opt.allocator is not used */
    size_t out, in;
    float *w;                      /* out x in */
    float *x;                      /* tokens x in, room for cap rows */
    size_t tokens, cap;
    float *col_amax;               /* in: per-channel max |x| over every batch */
    /* Results of the last successful solve. */
    int solved;
    fpq_layer_search_summary summary;
    double *res_wbias, *res_rowerr, *res_cbias;
    float *res_wscale, *res_cscale;
    int *res_coff;
};

/* ----- memory ----------------------------------------------------------------------------- */

static void *layer_default_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void layer_default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

/* n elements of `size` bytes, or NULL on overflow or failure. */
static void *layer_alloc(const fpq_allocator *m, size_t n, size_t size)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX / size)
        return NULL;
    return m->alloc(m->user, n * size);
}

static void layer_free(const fpq_allocator *m, void *p)
{
    if (p)
        m->free(m->user, p);
}

/* ----- options ---------------------------------------------------------------------------- */

static int layer_set_formats(fpq_format *list, const char *const *names, int count)
{
    int i;
    for (i = 0; i < count; i++)
        if (fpq_format_from_name(names[i], &list[i]) != FPQ_OK)
            return FPQ_ERR_FORMAT;
    return FPQ_OK;
}

int fpq_layer_search_options_init(fpq_layer_search_options *opts, int bits)
{
    static const char *const fp4[] = {"e3m0", "e2m1", "e1m2"};
    fpq_layer_search_options o;
    int i, status;

    if (!opts)
        return FPQ_ERR_NULL;
    if (bits != 4 && bits != 8)
        return FPQ_ERR_ARGUMENT;
    memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    if (bits == 4) {
        o.num_weight_formats = o.num_act_formats = 3;
        status = layer_set_formats(o.weight_formats, fp4, 3);
        o.initial_weight_format = o.initial_act_format = 1;
    } else {
        /* e5m2 .. e1m6 in the finite family: the reference's 8-bit splits, no specials. */
        o.num_weight_formats = o.num_act_formats = 5;
        status = FPQ_OK;
        for (i = 0; i < 5 && status == FPQ_OK; i++)
            status = fpq_format_make(5 - i, 2 + i, FPQ_BIAS_DEFAULT, FPQ_FAMILY_FINITE, 1,
                                     &o.weight_formats[i]);
        o.initial_weight_format = o.initial_act_format = 1;
    }
    if (status != FPQ_OK)
        return status;
    for (i = 0; i < o.num_weight_formats; i++)
        o.act_formats[i] = o.weight_formats[i];
    o.grid = FPQ_LAYER_GRID_BIAS;
    o.grid_steps = 100;
    o.grid_alpha = 0.01;
    o.grid_beta = 1.2;
    o.rounds = 3;
    o.metric = FPQ_LAYER_METRIC_L2;
    o.act_mode = FPQ_LAYER_ACT_PER_CHANNEL;
    *opts = o;
    return FPQ_OK;
}

static int layer_check_format_list(const fpq_format *list, int count)
{
    int i;
    for (i = 0; i < count; i++)
        if (fpqi_params_init(&list[i], NULL) != FPQ_OK || list[i].family == FPQ_FAMILY_E8M0)
            return FPQ_ERR_FORMAT;
    return FPQ_OK;
}

static int layer_check_options(const fpq_layer_search_options *o)
{
    int status;
    if (o->struct_size < sizeof(fpq_layer_search_options) || o->reserved)
        return FPQ_ERR_ARGUMENT;
    if (o->num_weight_formats < 1 || o->num_weight_formats > FPQ_LAYER_MAX_FORMATS ||
        o->num_act_formats < 1 || o->num_act_formats > FPQ_LAYER_MAX_FORMATS)
        return FPQ_ERR_ARGUMENT;
    status = layer_check_format_list(o->weight_formats, o->num_weight_formats);
    if (status == FPQ_OK)
        status = layer_check_format_list(o->act_formats, o->num_act_formats);
    if (status != FPQ_OK)
        return status;
    if (o->initial_weight_format < 0 || o->initial_weight_format >= o->num_weight_formats ||
        o->initial_act_format < 0 || o->initial_act_format >= o->num_act_formats)
        return FPQ_ERR_ARGUMENT;
    if (o->grid != FPQ_LAYER_GRID_BIAS && o->grid != FPQ_LAYER_GRID_CLIP)
        return FPQ_ERR_ARGUMENT;
    if (o->grid_steps < 1 || o->grid_steps > LAYER_MAX_STEPS || !isfinite(o->grid_alpha) ||
        !isfinite(o->grid_beta) || !(o->grid_beta >= o->grid_alpha) ||
        (o->grid == FPQ_LAYER_GRID_CLIP && !(o->grid_alpha > 0.0)))
        return FPQ_ERR_ARGUMENT;
    if (o->rounds < 1 || o->rounds > LAYER_MAX_ROUNDS)
        return FPQ_ERR_ARGUMENT;
    if (o->metric < FPQ_LAYER_METRIC_L2 || o->metric > FPQ_LAYER_METRIC_PEARSON)
        return FPQ_ERR_ARGUMENT;
    if (o->act_mode != FPQ_LAYER_ACT_PER_TENSOR && o->act_mode != FPQ_LAYER_ACT_PER_CHANNEL)
        return FPQ_ERR_ARGUMENT;
    if (o->allocator && (!o->allocator->alloc || !o->allocator->free))
        return FPQ_ERR_ARGUMENT;
    return FPQ_OK;
}

static int layer_all_finite(const float *v, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (!(fabsf(v[i]) <= FLT_MAX))
            return 0;
    return 1;
}

/* ----- create / add / destroy ------------------------------------------------------------- */

void fpq_layer_search_destroy(fpq_layer_search *s)
{
    fpq_allocator m;
    if (!s)
        return;
    m = s->mem;
    layer_free(&m, s->w);
    layer_free(&m, s->x);
    layer_free(&m, s->col_amax);
    layer_free(&m, s->res_wbias);
    layer_free(&m, s->res_rowerr);
    layer_free(&m, s->res_cbias);
    layer_free(&m, s->res_wscale);
    layer_free(&m, s->res_cscale);
    layer_free(&m, s->res_coff);
    layer_free(&m, s);
}

static int layer_create_checked(const float *w, size_t out_features, size_t in_features,
                                const fpq_layer_search_options *opts, fpq_layer_search **out)
{
    fpq_allocator m;
    fpq_layer_search *s;
    int status = layer_check_options(opts);

    if (status != FPQ_OK)
        return status;
    if (out_features == 0 || in_features == 0 || out_features > SIZE_MAX / 8 / in_features)
        return FPQ_ERR_SIZE;
    if (((uintptr_t)w & 3u) != 0)
        return FPQ_ERR_ALIGN;
    if (!layer_all_finite(w, out_features * in_features))
        return FPQ_ERR_ARGUMENT;

    if (opts->allocator) {
        m = *opts->allocator;
    } else {
        m.alloc = layer_default_alloc;
        m.free = layer_default_free;
        m.user = NULL;
    }
    s = (fpq_layer_search *)layer_alloc(&m, 1, sizeof *s);
    if (!s)
        return FPQ_ERR_MEMORY;
    memset(s, 0, sizeof *s);
    s->mem = m;
    s->opt = *opts;
    s->opt.struct_size = sizeof s->opt;
    s->opt.allocator = NULL;
    s->out = out_features;
    s->in = in_features;
    s->w = (float *)layer_alloc(&m, out_features * in_features, sizeof(float));
    s->col_amax = (float *)layer_alloc(&m, in_features, sizeof(float));
    s->res_wbias = (double *)layer_alloc(&m, out_features, sizeof(double));
    s->res_rowerr = (double *)layer_alloc(&m, out_features, sizeof(double));
    s->res_wscale = (float *)layer_alloc(&m, out_features, sizeof(float));
    s->res_cbias = (double *)layer_alloc(&m, in_features, sizeof(double));
    s->res_cscale = (float *)layer_alloc(&m, in_features, sizeof(float));
    s->res_coff = (int *)layer_alloc(&m, in_features, sizeof(int));
    if (!s->w || !s->col_amax || !s->res_wbias || !s->res_rowerr || !s->res_wscale ||
        !s->res_cbias || !s->res_cscale || !s->res_coff) {
        fpq_layer_search_destroy(s);
        return FPQ_ERR_MEMORY;
    }
    memcpy(s->w, w, out_features * in_features * sizeof(float));
    memset(s->col_amax, 0, in_features * sizeof(float));
    *out = s;
    return FPQ_OK;
}

int fpq_layer_search_create(const float *w, size_t out_features, size_t in_features,
                            const fpq_layer_search_options *opts, fpq_layer_search **out)
{
    int status;

    if (!w || !opts || !out)
        return FPQ_ERR_NULL;
    /* The options' doubles (grid_alpha, grid_beta) are compared here: under the caller's DAZ a
     * subnormal one would compare as zero and change which options are accepted. */
    FPQI_IN_DEFAULT_FPENV(status, layer_create_checked(w, out_features, in_features, opts, out));
    return status;
}

/* Room for `need` rows of X: the capacity doubles, so that streaming many small batches
 * copies each row a bounded number of times. */
static int layer_reserve(fpq_layer_search *s, size_t need)
{
    size_t cap = s->cap ? s->cap : 64;
    float *x;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap == s->cap)
        return FPQ_OK;
    if (cap > SIZE_MAX / sizeof(float) / s->in)
        return FPQ_ERR_SIZE;
    x = (float *)layer_alloc(&s->mem, cap * s->in, sizeof(float));
    if (!x)
        return FPQ_ERR_MEMORY;
    if (s->tokens)
        memcpy(x, s->x, s->tokens * s->in * sizeof(float));
    layer_free(&s->mem, s->x);
    s->x = x;
    s->cap = cap;
    return FPQ_OK;
}

/* Per-channel maxima of a batch: compared in the default environment (DAZ would take
 * subnormal inputs for zeros). */
static int layer_observe(fpq_layer_search *s, const float *x, size_t tokens)
{
    size_t t, c;
    for (t = 0; t < tokens; t++)
        for (c = 0; c < s->in; c++) {
            float a = fabsf(x[t * s->in + c]);
            if (a > s->col_amax[c])
                s->col_amax[c] = a;
        }
    return FPQ_OK;
}

int fpq_layer_search_add_batch(fpq_layer_search *s, const float *x, size_t tokens)
{
    int status;

    if (!s || !x)
        return FPQ_ERR_NULL;
    if (tokens == 0 || tokens > SIZE_MAX / sizeof(float) / s->in ||
        s->tokens > SIZE_MAX / sizeof(float) / s->in - tokens)
        return FPQ_ERR_SIZE;
    if (((uintptr_t)x & 3u) != 0)
        return FPQ_ERR_ALIGN;
    if (!layer_all_finite(x, tokens * s->in))
        return FPQ_ERR_ARGUMENT;
    status = layer_reserve(s, s->tokens + tokens);
    if (status != FPQ_OK)
        return status;
    memcpy(s->x + s->tokens * s->in, x, tokens * s->in * sizeof(float));
    FPQI_IN_DEFAULT_FPENV(status, layer_observe(s, x, tokens));
    s->tokens += tokens;
    return FPQ_OK;
}

/* ----- error measures --------------------------------------------------------------------- */

/* Sums over one unit (a row over tokens, or a token over outputs) of y and y^ = scale_j * acc,
 * scale_j = scale * per[j] (per NULL: scale) -- the deployed layer's product of the two
 * operands' scales, exact in double, times the sum of their unscaled values:
 * s the pointwise metric (L1 / L2 / weighted L2), or the moments cosine and Pearson need. */
typedef struct layer_sums {
    double s, yh, yh2, yyh;
} layer_sums;

static void layer_sums_add(int metric, const double *y, const double *acc, double scale,
                           const float *per, size_t n, layer_sums *m)
{
    double s = 0.0, yh = 0.0, yh2 = 0.0, yyh = 0.0;
    size_t j;
    if (metric == FPQ_LAYER_METRIC_COSINE || metric == FPQ_LAYER_METRIC_PEARSON)
        for (j = 0; j < n; j++) {
            const double a = y[j], b = LAYER_SCALE(j) * acc[j];
            yh += b;
            yh2 += b * b;
            yyh += a * b;
        }
    /* one loop per measure: no branch in the loop */
    switch (metric) {
    case FPQ_LAYER_METRIC_L1:
        for (j = 0; j < n; j++)
            s += fabs(y[j] - LAYER_SCALE(j) * acc[j]);
        break;
    case FPQ_LAYER_METRIC_ABS_WEIGHTED_L2:
        for (j = 0; j < n; j++) {
            const double d = y[j] - LAYER_SCALE(j) * acc[j];
            s += fabs(y[j]) * d * d;
        }
        break;
    case FPQ_LAYER_METRIC_SQUARE_WEIGHTED_L2:
        for (j = 0; j < n; j++) {
            const double d = y[j] * (y[j] - LAYER_SCALE(j) * acc[j]);
            s += d * d;
        }
        break;
    case FPQ_LAYER_METRIC_L2:
        for (j = 0; j < n; j++) {
            const double d = y[j] - LAYER_SCALE(j) * acc[j];
            s += d * d;
        }
        break;
    default: /* cosine and Pearson need only the moments */
        break;
    }
    m->s = s;
    m->yh = yh;
    m->yh2 = yh2;
    m->yyh = yyh;
}

/* 1 - c for a cosine or correlation c computed from sums: rounding can push |c| a few ulps
 * past 1, which would give a distance below 0 (or above 2); the distance is kept in [0, 2]
 * so that no reported error is negative. */
static double layer_unit_distance(double c)
{
    double d = 1.0 - c;
    return d < 0.0 ? 0.0 : d > 2.0 ? 2.0 : d;
}

static double layer_cosine_distance(double yy, double yhyh, double yyh)
{
    double den = sqrt(yy) * sqrt(yhyh);
    if (!(den > 0.0))
        return yy == yhyh ? 0.0 : 1.0; /* both zero: equal; one zero: orthogonal */
    return layer_unit_distance(yyh / den);
}

/* 1 - Pearson correlation from sums over n points. */
static double layer_pearson_distance(double n, double sy, double syy, const layer_sums *m)
{
    double cov = m->yyh - sy * m->yh / n;
    double vy = syy - sy * sy / n, vh = m->yh2 - m->yh * m->yh / n;
    if (!(vy > 0.0) || !(vh > 0.0))
        return 1.0;
    return layer_unit_distance(cov / (sqrt(vy) * sqrt(vh)));
}

/* The error of a unit from its sums; sy, syy are the unit's sum of y and of y^2. */
static double layer_unit_error(int metric, double n, double sy, double syy,
                               const layer_sums *m)
{
    switch (metric) {
    case FPQ_LAYER_METRIC_COSINE: return layer_cosine_distance(syy, m->yh2, m->yyh);
    case FPQ_LAYER_METRIC_PEARSON: return layer_pearson_distance(n, sy, syy, m);
    default: return m->s / n;
    }
}

/* ----- the solver's working state --------------------------------------------------------- */

typedef struct layer_ctx {
    const fpq_layer_search *s;
    const fpq_layer_search_options *o;
    size_t T, O, I, nblk, ncand;
    int threads;
    double *y;        /* T x O, the unquantized output */
    double *yt;       /* O x T, the same transposed */
    double *row_sy, *row_syy; /* per output row, over tokens */
    double *tok_syy;  /* per token, over outputs */
    double all_sy, all_syy;
    double *grid;     /* ncand multipliers g_i */
    double *bw0, *bw; /* per weight format: out biases, max-based and current */
    double *bw_start; /* O: the max-based biases of the initial weight format at the start */
    double *bc;       /* per activation format: in channel biases */
    double ba0[FPQ_LAYER_MAX_FORMATS], ba[FPQ_LAYER_MAX_FORMATS];
    float *xq;        /* T x I, the activations of the current state as format values
                         (unscaled): codes of the per-channel scales s 2^-k_c */
    float *xqt;       /* I x T, the same transposed */
    float xq_scale;   /* their scale in the deployed layer: the shared s */
    float *wfold;     /* O x I, W' = W with column c times 2^-wfold_offs[c] */
    int *wfold_offs;  /* I */
    int wfold_ready;
    float *wq;        /* O x I, W' quantized per row, as format values (unscaled) */
    int *wq_offs;     /* I: the offsets of the W' that wq quantizes */
    int wq_fmt;       /* the weight format of wq */
    float *row_scale; /* O: wq's row scales */
    float *wt;        /* I x O, wq^T */
    float *wt_old;    /* I x O: columns of wt before a change of offsets */
    uint8_t *chg;     /* I: channels whose offsets the last refold changed */
    double *acc;      /* max(T, O) x max(O, T): per-unit sums of format value x operand */
    uint8_t *code_old, *code_new; /* max(T, O) x I */
    double *best_b, *best_err;    /* O */
    layer_sums *blk;  /* ncand x nblk: each candidate's error sums per token block */
    float *cand_scale;/* ncand: shared scale of each activation candidate */
    float *thr_scale; /* threads x I: per-channel scales, one row per thread */
    float *col_scale; /* I */
    int *offs, *offs_prev; /* I */
} layer_ctx;

static double layer_candidate_bias(int grid, double base, double g)
{
    return grid == FPQ_LAYER_GRID_BIAS ? base * g : base - log2(g);
}

/* The bias that maps amax onto the format's largest value: fmt->bias + log2(max) - log2(amax),
 * the reference's 2^E - log2(amax) + log2(2 - 2^-M) - 1 for the finite family; through
 * fpqi_reparam_channel_bias, so that fpq_reparam_biases gives the same bits. An all-zero group
 * has no range: +Inf (inputs are finite, checked when added). */
static double layer_initial_bias(const fpq_format *fmt, float amax)
{
    fpq_format_limits lim;
    fpq_format_limits_get(fmt, &lim);
    return fpqi_reparam_channel_bias(fmt->bias, log2((double)lim.max_finite), amax);
}

/* Format values of every code at scale 1 (codes of a NaN decode to NaN; the finite family
 * and the formats the options accept never produce one from finite data). */
static void layer_code_values(const fpq_format *fmt, double *vals)
{
    uint8_t codes[256];
    float v[256];
    int bits = fpq_format_bits(fmt), i;
    for (i = 0; i < (1 << bits); i++)
        codes[i] = (uint8_t)i;
    fpq_dequantize(fmt, codes, (size_t)1 << bits, 1.0f, FPQ_UNPACKED, v);
    for (i = 0; i < (1 << bits); i++)
        vals[i] = v[i];
}

/* acc[0..n) += v * col[0..n), four independent lanes a step so that the compiler may pack
 * them into vector registers (each element's sum keeps its order: no reassociation). */
static void layer_axpy(double *restrict acc, double v, const float *restrict col, size_t n)
{
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        acc[j] += v * (double)col[j];
        acc[j + 1] += v * (double)col[j + 1];
        acc[j + 2] += v * (double)col[j + 2];
        acc[j + 3] += v * (double)col[j + 3];
    }
    for (; j < n; j++)
        acc[j] += v * (double)col[j];
}

/* Per-channel scales of shared bias b for activation format f: s * 2^-k_c, k_c by the
 * reference's rule (all 0 per tensor). Returns 0 if a scale is not valid. */
static int layer_act_scales(layer_ctx *c, int f, double b, float *shared)
{
    const fpq_format *fmt = &c->o->act_formats[f];
    size_t k;
    float s;
    if (fpq_scale_from_bias(fmt, b, &s) != FPQ_OK)
        return 0;
    for (k = 0; k < c->I; k++) {
        c->offs[k] = c->o->act_mode == FPQ_LAYER_ACT_PER_CHANNEL
                         ? fpqi_reparam_offset(c->bc[(size_t)f * c->I + k], b, fmt->exp_bits)
                         : 0;
        c->col_scale[k] = ldexpf(s, -c->offs[k]);
        if (!fpqi_scale_is_valid(c->col_scale[k]))
            return 0;
    }
    *shared = s;
    return 1;
}

static void layer_matrix(fpq_tensor *t, size_t rows, size_t cols, int granularity)
{
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
    t->rows = rows;
    t->cols = t->row_stride = cols;
    t->elem_type = FPQ_FLOAT32;
    t->granularity = granularity;
}

static void layer_float_scales(fpq_scales *sc, float *data, size_t count)
{
    memset(sc, 0, sizeof *sc);
    sc->struct_size = sizeof *sc;
    sc->encoding = FPQ_SCALE_FLOAT32;
    sc->data = data;
    sc->count = count;
}

/* wfold <- W' = fold(W, offs) through fpq_reparam_fold, so that its bits are the ones an
 * engine folds; nothing to do when wfold already has these offsets. */
static void layer_fold_weights(layer_ctx *c, const int *offs)
{
    fpq_tensor t;
    if (c->wfold_ready && memcmp(c->wfold_offs, offs, c->I * sizeof(int)) == 0)
        return;
    layer_matrix(&t, c->O, c->I, FPQ_PER_TENSOR);
    fpq_reparam_fold(&t, c->s->w, offs, c->wfold, NULL);
    memcpy(c->wfold_offs, offs, c->I * sizeof(int));
    c->wfold_ready = 1;
}

/* xq, xqt, xq_scale <- the activations of the deployed layer for activation format f at
 * shared bias b: the values of the codes of the per-channel scales s 2^-k_c
 * (fpq_reparam_quantize's codes), their scale the shared s alone (the layer computes with
 * s v = 2^k_c x^, which W' expects); c->offs <- the offsets, wfold <- W folded with them. */
static int layer_set_acts(layer_ctx *c, int f, double b)
{
    const fpq_format *fmt = &c->o->act_formats[f];
    fpq_tensor t;
    fpq_scales sc;
    float s;
    size_t i, k;
    if (!layer_act_scales(c, f, b, &s))
        return FPQ_ERR_ARGUMENT;
    layer_matrix(&t, c->T, c->I, FPQ_PER_COLUMN);
    layer_float_scales(&sc, c->col_scale, c->I);
    fpq_tensor_quantize(fmt, &t, c->s->x, &sc, FPQ_UNPACKED, c->code_new, c->T * c->I);
    fpq_dequantize(fmt, c->code_new, c->T * c->I, 1.0f, FPQ_UNPACKED, c->xq);
    c->xq_scale = s;
    for (i = 0; i < c->T; i++)
        for (k = 0; k < c->I; k++)
            c->xqt[k * c->T + i] = c->xq[i * c->I + k];
    layer_fold_weights(c, c->offs);
    return FPQ_OK;
}

/* wq <- the values of the codes of wfold quantized per row at row_scale with weight format
 * wq_fmt (code_new is free scratch here: the passes rewrite it before reading it). */
static void layer_quantize_weights(layer_ctx *c)
{
    const fpq_format *fmt = &c->o->weight_formats[c->wq_fmt];
    fpq_tensor t;
    fpq_scales sc;
    layer_matrix(&t, c->O, c->I, FPQ_PER_ROW);
    layer_float_scales(&sc, c->row_scale, c->O);
    fpq_tensor_quantize(fmt, &t, c->wfold, &sc, FPQ_UNPACKED, c->code_new, c->O * c->I);
    fpq_dequantize(fmt, c->code_new, c->O * c->I, 1.0f, FPQ_UNPACKED, c->wq);
    memcpy(c->wq_offs, c->wfold_offs, c->I * sizeof(int));
}

/* wq <- wfold (W' of the offsets last set) quantized with weight format f at per-row biases
 * b[0..O). The activation passes refold it for each candidate's offsets (layer_refold). */
static int layer_set_weights(layer_ctx *c, int f, const double *b)
{
    const fpq_format *fmt = &c->o->weight_formats[f];
    size_t r;
    float sc;
    for (r = 0; r < c->O; r++)
        if (fpq_scale_from_bias(fmt, b[r], &sc) != FPQ_OK)
            return FPQ_ERR_ARGUMENT;
    for (r = 0; r < c->O; r++)
        fpq_scale_from_bias(fmt, b[r], &c->row_scale[r]);
    c->wq_fmt = f;
    layer_quantize_weights(c);
    return FPQ_OK;
}

/* wq, wt <- the quantized W' of offsets offs (the row scales and format staying those of
 * layer_set_weights: what an engine deploys with them). chg marks the channels whose offset
 * changed; their previous columns of wt are kept in wt_old. Returns how many changed. */
static size_t layer_refold(layer_ctx *c, const int *offs)
{
    const size_t O = c->O, I = c->I;
    size_t k, r, n = 0;
    for (k = 0; k < I; k++) {
        c->chg[k] = offs[k] != c->wq_offs[k];
        n += c->chg[k];
    }
    if (n == 0)
        return 0;
    layer_fold_weights(c, offs);
    layer_quantize_weights(c);
    for (k = 0; k < I; k++) {
        if (!c->chg[k])
            continue;
        memcpy(c->wt_old + k * O, c->wt + k * O, O * sizeof(float));
        for (r = 0; r < O; r++)
            c->wt[k * O + r] = c->wq[r * I + k];
    }
    return n;
}

/* Max-based biases bw0 of every weight format for the rows of wfold (the W' being searched).
 * Returns FPQ_ERR_ARGUMENT where a scale would not be valid. */
static int layer_weight_bases(layer_ctx *c)
{
    const fpq_layer_search_options *o = c->o;
    int f, status = FPQ_OK;
    size_t r, k;
    for (f = 0; f < o->num_weight_formats; f++) {
        const fpq_format *fmt = &o->weight_formats[f];
        for (r = 0; r < c->O; r++) {
            const float *w = c->wfold + r * c->I;
            float amax = 0.0f, sc;
            double b;
            for (k = 0; k < c->I; k++)
                amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
            b = layer_initial_bias(fmt, amax);
            if (isinf(b))
                b = fmt->bias; /* an all-zero row: scale 1, every candidate gives zeros */
            if (fpq_scale_from_bias(fmt, b, &sc) != FPQ_OK)
                status = FPQ_ERR_ARGUMENT;
            c->bw0[(size_t)f * c->O + r] = b;
        }
    }
    return status;
}

/* ----- weight pass: per-row biases against the current quantized activations ------------ */

/* Rows [r0, r1) (at most LAYER_ROW_BLOCK) at candidate i: codes, the rows' sums, their errors;
 * keeps the best. fresh[j]: row r0 + j has no valid state yet (its sums are computed in full,
 * not updated). The loop runs channel by channel over the block's rows, so that a column of
 * the activations serves every row of the block while it is in cache; each row's sums still
 * add the channels in increasing order. */
static void layer_rows_step(layer_ctx *c, const fpq_format *fmt, const double *vals,
                            const double *base, size_t i, size_t r0, size_t r1, int *fresh)
{
    const size_t T = c->T, I = c->I;
    double b[LAYER_ROW_BLOCK];
    float sc[LAYER_ROW_BLOCK];
    int ok[LAYER_ROW_BLOCK];
    size_t r, j, k;

    for (r = r0; r < r1; r++) {
        j = r - r0;
        b[j] = layer_candidate_bias(c->o->grid, base[r], c->grid[i]);
        ok[j] = fpq_scale_from_bias(fmt, b[j], &sc[j]) == FPQ_OK; /* else skipped: the state
                                                                    stays the last valid one */
        if (!ok[j])
            continue;
        fpq_quantize(fmt, c->wfold + r * I, I, sc[j], FPQ_UNPACKED, c->code_new + r * I);
        if (fresh[j])
            memset(c->acc + r * T, 0, T * sizeof(double));
    }
    for (k = 0; k < I; k++) {
        const float *col = c->xqt + k * T;
        for (r = r0; r < r1; r++) {
            const uint8_t cur = c->code_new[r * I + k], old = c->code_old[r * I + k];
            double d;
            j = r - r0;
            if (!ok[j] || (!fresh[j] && cur == old))
                continue;
            d = fresh[j] ? vals[cur] : vals[cur] - vals[old];
            if (d != 0.0)
                layer_axpy(c->acc + r * T, d, col, T);
        }
    }
    for (r = r0; r < r1; r++) {
        layer_sums m;
        double err;
        j = r - r0;
        if (!ok[j])
            continue;
        fresh[j] = 0;
        memcpy(c->code_old + r * I, c->code_new + r * I, I);
        layer_sums_add(c->o->metric, c->yt + r * T, c->acc + r * T,
                       (double)sc[j] * (double)c->xq_scale, NULL, T, &m);
        err = layer_unit_error(c->o->metric, (double)T, c->row_sy[r], c->row_syy[r], &m);
        if (err < c->best_err[r]) {
            c->best_err[r] = err;
            c->best_b[r] = b[j];
        }
    }
}

/* For weight format f: every row's best bias among the candidates around base[0..O) (ncand
 * of them from c->grid) into best_b / best_err (best_b NaN where none was valid). Rows are
 * independent: one parallel region, each block of rows walking every candidate. */
static void layer_rows_pass(layer_ctx *c, int f, const double *base, size_t ncand)
{
    const fpq_format *fmt = &c->o->weight_formats[f];
    double vals[256];
    long long blocks = (long long)((c->O + LAYER_ROW_BLOCK - 1) / LAYER_ROW_BLOCK), bb;

    layer_code_values(fmt, vals);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->threads)
#endif
    for (bb = 0; bb < blocks; bb++) {
        const size_t r0 = (size_t)bb * LAYER_ROW_BLOCK;
        const size_t r1 = r0 + LAYER_ROW_BLOCK < c->O ? r0 + LAYER_ROW_BLOCK : c->O;
        int fresh[LAYER_ROW_BLOCK];
        fpqi_fpenv env;
        size_t i, r;
        fpqi_fpenv_enter(&env);
        for (r = r0; r < r1; r++) {
            fresh[r - r0] = 1;
            c->best_err[r] = INFINITY;
            c->best_b[r] = NAN;
        }
        for (i = 0; i < ncand; i++)
            layer_rows_step(c, fmt, vals, base, i, r0, r1, fresh);
        fpqi_fpenv_leave(&env);
    }
}

/* ----- activation pass: shared biases against the quantized weights wq ------------------- */

/* Tokens of block `blk` at one candidate (shared scale `shared`, per-channel scales
 * `col_scale`): codes, sums of code value x quantized W' (in full when `full`, else by the
 * codes that changed since the last candidate and, when `refolded`, the channels whose W'
 * column changed with the offsets: old value x old column out, new value x new column in),
 * and the block's error sums into *out. */
static void layer_token_block(layer_ctx *c, const fpq_format *fmt, const double *vals,
                              size_t blk, float shared, float *col_scale, int refolded,
                              int full, layer_sums *out)
{
    const size_t T = c->T, I = c->I, O = c->O;
    const size_t t0 = blk * LAYER_TOKEN_BLOCK;
    const size_t t1 = t0 + LAYER_TOKEN_BLOCK < T ? t0 + LAYER_TOKEN_BLOCK : T;
    const int metric = c->o->metric;
    layer_sums total, m;
    fpq_tensor t;
    fpq_scales sc;
    size_t i, k;

    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = t1 - t0;
    t.cols = t.row_stride = I;
    t.elem_type = FPQ_FLOAT32;
    t.granularity = FPQ_PER_COLUMN;
    memset(&sc, 0, sizeof sc);
    sc.struct_size = sizeof sc;
    sc.encoding = FPQ_SCALE_FLOAT32;
    sc.data = col_scale;
    sc.count = I;
    fpq_tensor_quantize(fmt, &t, c->s->x + t0 * I, &sc, FPQ_UNPACKED, c->code_new + t0 * I,
                        (t1 - t0) * I);

    /* channel by channel over the block's tokens: a weight column serves every token of the
     * block while it is in cache; each token's sums still add the channels in order */
    for (i = t0; i < t1; i++)
        if (full)
            memset(c->acc + i * O, 0, O * sizeof(double));
    for (k = 0; k < I; k++) {
        const float *col = c->wt + k * O;
        const int moved = !full && refolded && c->chg[k];
        for (i = t0; i < t1; i++) {
            const uint8_t cur = c->code_new[i * I + k], old = c->code_old[i * I + k];
            const double d = full || moved ? vals[cur] : vals[cur] - vals[old];
            if (moved && vals[old] != 0.0)
                layer_axpy(c->acc + i * O, -vals[old], c->wt_old + k * O, O);
            if (d != 0.0)
                layer_axpy(c->acc + i * O, d, col, O);
        }
    }
    memset(&total, 0, sizeof total);
    for (i = t0; i < t1; i++) {
        memcpy(c->code_old + i * I, c->code_new + i * I, I);
        layer_sums_add(metric, c->y + i * O, c->acc + i * O, (double)shared, c->row_scale, O,
                       &m);
        if (metric == FPQ_LAYER_METRIC_COSINE)
            m.s = layer_cosine_distance(c->tok_syy[i], m.yh2, m.yyh);
        total.s += m.s;
        total.yh += m.yh;
        total.yh2 += m.yh2;
        total.yyh += m.yyh;
    }
    *out = total;
}

/* The error of the whole output from one candidate's block sums, reduced in block order. */
static double layer_total_error(const layer_ctx *c, const layer_sums *blk)
{
    layer_sums t;
    size_t b;
    double n = (double)c->T * (double)c->O;
    memset(&t, 0, sizeof t);
    for (b = 0; b < c->nblk; b++) {
        t.s += blk[b].s;
        t.yh += blk[b].yh;
        t.yh2 += blk[b].yh2;
        t.yyh += blk[b].yyh;
    }
    switch (c->o->metric) {
    case FPQ_LAYER_METRIC_COSINE: return t.s / (double)c->T;
    case FPQ_LAYER_METRIC_PEARSON: return layer_pearson_distance(n, c->all_sy, c->all_syy, &t);
    default: return t.s / n;
    }
}

/* wt <- wq^T, so that a channel's weights are contiguous. */
static void layer_transpose_weights(layer_ctx *c)
{
    size_t r, k;
    for (k = 0; k < c->I; k++)
        for (r = 0; r < c->O; r++)
            c->wt[k * c->O + r] = c->wq[r * c->I + k];
}

/* Candidates [i0, i1) share the offsets c->offs (and wt is W' quantized for them): tokens
 * are independent across them, so one parallel region walks them all, block by block. The
 * first candidate starts from the sums of the previous run (whose W' columns, where
 * `refolded`, are those marked in chg), or from nothing when `first`. */
static void layer_acts_run(layer_ctx *c, const fpq_format *fmt, const double *vals,
                           size_t i0, size_t i1, int first, int refolded)
{
    long long nb = (long long)c->nblk, bb;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->threads)
#endif
    for (bb = 0; bb < nb; bb++) {
        fpqi_fpenv env;
        int tid = 0;
        float *col_scale;
        size_t i, k;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        col_scale = c->thr_scale + (size_t)tid * c->I;
        fpqi_fpenv_enter(&env);
        for (i = i0; i < i1; i++) {
            for (k = 0; k < c->I; k++)
                col_scale[k] = ldexpf(c->cand_scale[i], -c->offs[k]);
            layer_token_block(c, fmt, vals, (size_t)bb, c->cand_scale[i], col_scale,
                              refolded && i == i0, first && i == i0,
                              c->blk + (i - i0) * c->nblk + (size_t)bb);
        }
        fpqi_fpenv_leave(&env);
    }
}

/* For activation format f: err[i] of each shared bias cands[i] (Inf where not valid), the
 * weights being W' folded with each candidate's offsets and quantized at the row scales of
 * layer_set_weights. Candidates are cut into runs of equal offsets (one per rounded b~). */
static void layer_acts_pass(layer_ctx *c, int f, const double *cands, size_t ncand,
                            double *err)
{
    const fpq_format *fmt = &c->o->act_formats[f];
    double vals[256];
    size_t i = 0, j, k;
    int first = 1;

    layer_code_values(fmt, vals);
    layer_transpose_weights(c);
    while (i < ncand) {
        if (!layer_act_scales(c, f, cands[i], &c->cand_scale[i])) {
            err[i++] = INFINITY;
            continue;
        }
        memcpy(c->offs_prev, c->offs, c->I * sizeof(int));
        for (j = i + 1; j < ncand; j++)
            if (!layer_act_scales(c, f, cands[j], &c->cand_scale[j]) ||
                memcmp(c->offs, c->offs_prev, c->I * sizeof(int)) != 0)
                break;
        memcpy(c->offs, c->offs_prev, c->I * sizeof(int));
        layer_acts_run(c, fmt, vals, i, j, first, layer_refold(c, c->offs) > 0);
        first = 0;
        for (k = i; k < j; k++)
            err[k] = layer_total_error(c, c->blk + (k - i) * c->nblk);
        i = j;
    }
}

/* The error of the whole output with weight format wf at biases bw and activation format af
 * at shared bias b. */
static double layer_eval(layer_ctx *c, int wf, const double *bw, int af, double b)
{
    double err = INFINITY;
    if (layer_set_weights(c, wf, bw) == FPQ_OK)
        layer_acts_pass(c, af, &b, 1, &err);
    return err;
}

/* ----- the procedure ---------------------------------------------------------------------- */

/* Y = X W^T in double (products of floats are exact in double), its transposed copy, and
 * the sums the error measures need. */
static void layer_reference_output(layer_ctx *c)
{
    const size_t T = c->T, O = c->O, I = c->I;
    long long tt, rows = (long long)T;
    size_t r, t;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(c->threads)
#endif
    for (tt = 0; tt < rows; tt++) {
        const float *x = c->s->x + (size_t)tt * I;
        size_t rr, k;
        fpqi_fpenv env;
        fpqi_fpenv_enter(&env);
        for (rr = 0; rr < O; rr++) {
            const float *w = c->s->w + rr * I;
            double sum = 0.0;
            for (k = 0; k < I; k++)
                sum += (double)x[k] * (double)w[k];
            c->y[(size_t)tt * O + rr] = sum;
        }
        fpqi_fpenv_leave(&env);
    }
    c->all_sy = c->all_syy = 0.0;
    for (r = 0; r < O; r++)
        c->row_sy[r] = c->row_syy[r] = 0.0;
    for (t = 0; t < T; t++) {
        double syy = 0.0;
        for (r = 0; r < O; r++) {
            const double v = c->y[t * O + r];
            c->yt[r * T + t] = v;
            c->row_sy[r] += v;
            c->row_syy[r] += v * v;
            syy += v * v;
        }
        c->tok_syy[t] = syy;
    }
    for (r = 0; r < O; r++) {
        c->all_sy += c->row_sy[r];
        c->all_syy += c->row_syy[r];
    }
}

/* Initial (max-based) biases of every format; FPQ_ERR_ARGUMENT where a scale is invalid. The
 * activations' come first: the weights' are those of W' folded with the offsets of the initial
 * activation format at its initial shared bias (W itself per tensor). */
static int layer_initial_biases(layer_ctx *c)
{
    const fpq_layer_search_options *o = c->o;
    size_t k;
    int f, status;
    for (f = 0; f < o->num_act_formats; f++) {
        const fpq_format *fmt = &o->act_formats[f];
        double bmin = INFINITY;
        float sc;
        for (k = 0; k < c->I; k++) {
            double b = layer_initial_bias(fmt, c->s->col_amax[k]);
            c->bc[(size_t)f * c->I + k] = b;
            bmin = b < bmin ? b : bmin;
        }
        if (isinf(bmin))
            bmin = fmt->bias; /* all activations zero */
        c->ba0[f] = c->ba[f] = bmin;
        if (!layer_act_scales(c, f, bmin, &sc))
            return FPQ_ERR_ARGUMENT;
    }
    status = layer_set_acts(c, o->initial_act_format, c->ba0[o->initial_act_format]);
    if (status == FPQ_OK)
        status = layer_weight_bases(c);
    memcpy(c->bw, c->bw0, (size_t)o->num_weight_formats * c->O * sizeof(double));
    return status;
}

/* Index of the smallest err (the first of equals); -1 if none is finite. */
static int layer_argmin(const double *err, size_t n)
{
    size_t i;
    int best = -1;
    for (i = 0; i < n; i++)
        if (err[i] < INFINITY && (best < 0 || err[i] < err[best]))
            best = (int)i;
    return best;
}

static void layer_round(layer_ctx *c, int *wf, int *af, double *errs)
{
    const fpq_layer_search_options *o = c->o;
    const size_t O = c->O;
    size_t r, i;
    int f, best;

    /* 1. per-row weight biases of every weight format, activations as they stand; the
     * candidates derive from the max-based biases of W' as the offsets now fold it */
    layer_set_acts(c, *af, c->ba[*af]);
    layer_weight_bases(c);
    for (f = 0; f < o->num_weight_formats; f++) {
        layer_rows_pass(c, f, c->bw0 + (size_t)f * O, c->ncand);
        for (r = 0; r < O; r++)
            if (c->best_b[r] == c->best_b[r])
                c->bw[(size_t)f * O + r] = c->best_b[r];
    }
    /* 2. shared activation bias of every activation format, weights as they stand */
    layer_set_weights(c, *wf, c->bw + (size_t)*wf * O);
    for (f = 0; f < o->num_act_formats; f++) {
        double *cands = errs + c->ncand;
        for (i = 0; i < c->ncand; i++)
            cands[i] = layer_candidate_bias(o->grid, c->ba0[f], c->grid[i]);
        layer_acts_pass(c, f, cands, c->ncand, errs);
        best = layer_argmin(errs, c->ncand);
        if (best >= 0)
            c->ba[f] = cands[best];
    }
    /* 3. weight format */
    for (f = 0; f < o->num_weight_formats; f++)
        errs[f] = layer_eval(c, f, c->bw + (size_t)f * O, *af, c->ba[*af]);
    best = layer_argmin(errs, (size_t)o->num_weight_formats);
    if (best >= 0)
        *wf = best;
    /* 4. activation format */
    layer_set_weights(c, *wf, c->bw + (size_t)*wf * O);
    for (f = 0; f < o->num_act_formats; f++) {
        errs[f] = INFINITY;
        layer_acts_pass(c, f, &c->ba[f], 1, &errs[f]);
    }
    best = layer_argmin(errs, (size_t)o->num_act_formats);
    if (best >= 0)
        *af = best;
}

/* Copies the final state into the object's results. */
static void layer_store_results(layer_ctx *c, int wf, int af, double total, double max_based)
{
    fpq_layer_search *s = (fpq_layer_search *)c->s;
    const fpq_format *afmt = &c->o->act_formats[af];
    float shared = 1.0f;
    size_t r, k;

    layer_act_scales(c, af, c->ba[af], &shared);
    for (r = 0; r < c->O; r++) {
        s->res_wbias[r] = c->bw[(size_t)wf * c->O + r];
        fpq_scale_from_bias(&c->o->weight_formats[wf], s->res_wbias[r], &s->res_wscale[r]);
        s->res_rowerr[r] = c->best_err[r];
    }
    for (k = 0; k < c->I; k++) {
        s->res_cbias[k] = c->bc[(size_t)af * c->I + k];
        s->res_coff[k] = c->offs[k];
        s->res_cscale[k] = c->col_scale[k];
    }
    memset(&s->summary, 0, sizeof s->summary);
    s->summary.weight_format = c->o->weight_formats[wf];
    s->summary.act_format = *afmt;
    s->summary.act_bias = c->ba[af];
    s->summary.act_scale = shared;
    s->summary.act_mode = c->o->act_mode;
    s->summary.total_error = total;
    s->summary.max_based_error = max_based;
    s->summary.tokens = c->T;
    s->solved = 1;
}

static int layer_run(layer_ctx *c, double *errs)
{
    const fpq_layer_search_options *o = c->o;
    int wf = o->initial_weight_format, af = o->initial_act_format, round, status;
    double max_based, total;
    size_t i;

    for (i = 0; i < c->ncand; i++)
        c->grid[i] = o->grid_alpha + (double)i * (o->grid_beta - o->grid_alpha) /
                                         (double)o->grid_steps;
    layer_reference_output(c);
    status = layer_initial_biases(c);
    if (status != FPQ_OK)
        return status;
    max_based = layer_eval(c, wf, c->bw0 + (size_t)wf * c->O, af, c->ba0[af]);
    memcpy(c->bw_start, c->bw0 + (size_t)wf * c->O, c->O * sizeof(double));
    for (round = 0; round < o->rounds; round++)
        layer_round(c, &wf, &af, errs);

    total = layer_eval(c, wf, c->bw + (size_t)wf * c->O, af, c->ba[af]);
    if (!(total <= max_based)) {
        /* Each step minimizes its own objective with the other operand held, but a new b~
         * refolds W' under row biases searched for the old fold, and the per-row cosine is
         * not the total's: the descent need not end below its start. Then the start it is. */
        wf = o->initial_weight_format;
        af = o->initial_act_format;
        memcpy(c->bw + (size_t)wf * c->O, c->bw_start, c->O * sizeof(double));
        c->ba[af] = c->ba0[af];
        total = max_based;
    }
    /* per-row errors: the one candidate g = 1 is the row's bias itself in both grids */
    layer_set_acts(c, af, c->ba[af]);
    c->grid[0] = 1.0;
    layer_rows_pass(c, wf, c->bw + (size_t)wf * c->O, 1);
    layer_store_results(c, wf, af, total, max_based);
    return FPQ_OK;
}

static int layer_solve_checked(fpq_layer_search *s)
{
    const fpq_allocator *m = &s->mem;
    const size_t T = s->tokens, O = s->out, I = s->in;
    const size_t units = T > O ? T : O;
    const size_t nw = (size_t)s->opt.num_weight_formats, na = (size_t)s->opt.num_act_formats;
    layer_ctx c;
    double *errs;
    int status = FPQ_ERR_MEMORY;

    if (T == 0)
        return FPQ_ERR_SIZE;
    if (T > SIZE_MAX / sizeof(double) / O || units > SIZE_MAX / I)
        return FPQ_ERR_SIZE;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.o = &s->opt;
    c.T = T;
    c.O = O;
    c.I = I;
    c.nblk = (T + LAYER_TOKEN_BLOCK - 1) / LAYER_TOKEN_BLOCK;
    c.ncand = (size_t)s->opt.grid_steps + 1;
    c.threads = fpqi_thread_count() > 1 ? fpqi_thread_count() : 1;
    c.y = (double *)layer_alloc(m, T * O, sizeof(double));
    c.yt = (double *)layer_alloc(m, T * O, sizeof(double));
    c.row_sy = (double *)layer_alloc(m, O, sizeof(double));
    c.row_syy = (double *)layer_alloc(m, O, sizeof(double));
    c.tok_syy = (double *)layer_alloc(m, T, sizeof(double));
    c.grid = (double *)layer_alloc(m, c.ncand, sizeof(double));
    c.bw0 = (double *)layer_alloc(m, nw * O, sizeof(double));
    c.bw = (double *)layer_alloc(m, nw * O, sizeof(double));
    c.bw_start = (double *)layer_alloc(m, O, sizeof(double));
    c.bc = (double *)layer_alloc(m, na * I, sizeof(double));
    c.xq = (float *)layer_alloc(m, T * I, sizeof(float));
    c.xqt = (float *)layer_alloc(m, T * I, sizeof(float));
    c.wq = (float *)layer_alloc(m, O * I, sizeof(float));
    c.row_scale = (float *)layer_alloc(m, O, sizeof(float));
    c.wt = (float *)layer_alloc(m, O * I, sizeof(float));
    c.wt_old = (float *)layer_alloc(m, O * I, sizeof(float));
    c.wfold = (float *)layer_alloc(m, O * I, sizeof(float));
    c.wfold_offs = (int *)layer_alloc(m, I, sizeof(int));
    c.wq_offs = (int *)layer_alloc(m, I, sizeof(int));
    c.chg = (uint8_t *)layer_alloc(m, I, 1);
    c.acc = (double *)layer_alloc(m, T * O, sizeof(double));
    c.code_old = (uint8_t *)layer_alloc(m, units * I, 1);
    c.code_new = (uint8_t *)layer_alloc(m, units * I, 1);
    c.best_b = (double *)layer_alloc(m, O, sizeof(double));
    c.best_err = (double *)layer_alloc(m, O, sizeof(double));
    c.blk = (layer_sums *)layer_alloc(m, c.nblk, c.ncand * sizeof(layer_sums));
    c.cand_scale = (float *)layer_alloc(m, c.ncand, sizeof(float));
    c.thr_scale = (float *)layer_alloc(m, (size_t)c.threads, I * sizeof(float));
    c.col_scale = (float *)layer_alloc(m, I, sizeof(float));
    c.offs = (int *)layer_alloc(m, I, sizeof(int));
    c.offs_prev = (int *)layer_alloc(m, I, sizeof(int));
    errs = (double *)layer_alloc(m, 2 * c.ncand + FPQ_LAYER_MAX_FORMATS, sizeof(double));
    if (c.y && c.yt && c.row_sy && c.row_syy && c.tok_syy && c.grid && c.bw0 && c.bw &&
        c.bw_start && c.bc &&
        c.xq && c.xqt && c.wq && c.row_scale && c.wt && c.wt_old && c.wfold && c.wfold_offs &&
        c.wq_offs && c.chg && c.acc && c.code_old && c.code_new &&
        c.best_b && c.best_err && c.blk && c.cand_scale && c.thr_scale && c.col_scale && c.offs &&
        c.offs_prev && errs)
        status = layer_run(&c, errs);
    layer_free(m, c.y);
    layer_free(m, c.yt);
    layer_free(m, c.row_sy);
    layer_free(m, c.row_syy);
    layer_free(m, c.tok_syy);
    layer_free(m, c.grid);
    layer_free(m, c.bw0);
    layer_free(m, c.bw);
    layer_free(m, c.bw_start);
    layer_free(m, c.bc);
    layer_free(m, c.xq);
    layer_free(m, c.xqt);
    layer_free(m, c.wq);
    layer_free(m, c.row_scale);
    layer_free(m, c.wt);
    layer_free(m, c.wt_old);
    layer_free(m, c.wfold);
    layer_free(m, c.wfold_offs);
    layer_free(m, c.wq_offs);
    layer_free(m, c.chg);
    layer_free(m, c.acc);
    layer_free(m, c.code_old);
    layer_free(m, c.code_new);
    layer_free(m, c.best_b);
    layer_free(m, c.best_err);
    layer_free(m, c.blk);
    layer_free(m, c.cand_scale);
    layer_free(m, c.thr_scale);
    layer_free(m, c.col_scale);
    layer_free(m, c.offs);
    layer_free(m, c.offs_prev);
    layer_free(m, errs);
    return status;
}

int fpq_layer_search_solve(fpq_layer_search *s)
{
    int status;
    if (!s)
        return FPQ_ERR_NULL;
    FPQI_IN_DEFAULT_FPENV(status, layer_solve_checked(s));
    return status;
}

/* ----- results ---------------------------------------------------------------------------- */

int fpq_layer_search_get_summary(const fpq_layer_search *s, fpq_layer_search_summary *out)
{
    if (!s || !out)
        return FPQ_ERR_NULL;
    if (!s->solved)
        return FPQ_ERR_ARGUMENT;
    *out = s->summary;
    return FPQ_OK;
}

int fpq_layer_search_get_weights(const fpq_layer_search *s, double *bias, float *scale,
                                 double *error, size_t capacity)
{
    if (!s)
        return FPQ_ERR_NULL;
    if (!s->solved)
        return FPQ_ERR_ARGUMENT;
    if (capacity < s->out)
        return FPQ_ERR_CAPACITY;
    if (bias)
        memcpy(bias, s->res_wbias, s->out * sizeof *bias);
    if (scale)
        memcpy(scale, s->res_wscale, s->out * sizeof *scale);
    if (error)
        memcpy(error, s->res_rowerr, s->out * sizeof *error);
    return FPQ_OK;
}

int fpq_layer_search_get_activations(const fpq_layer_search *s, double *channel_bias,
                                     int *offset, float *scale, size_t capacity)
{
    if (!s)
        return FPQ_ERR_NULL;
    if (!s->solved)
        return FPQ_ERR_ARGUMENT;
    if (capacity < s->in)
        return FPQ_ERR_CAPACITY;
    if (channel_bias)
        memcpy(channel_bias, s->res_cbias, s->in * sizeof *channel_bias);
    if (offset)
        memcpy(offset, s->res_coff, s->in * sizeof *offset);
    if (scale)
        memcpy(scale, s->res_cscale, s->in * sizeof *scale);
    return FPQ_OK;
}

#undef LAYER_TOKEN_BLOCK
#undef LAYER_ROW_BLOCK
#undef LAYER_MAX_STEPS
#undef LAYER_MAX_ROUNDS
#undef LAYER_SCALE
