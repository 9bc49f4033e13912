/*
 * fuzz_layer_search.c - fuzzes the layer-level search of include/fpq.h:
 * fpq_layer_search_options_init, _create / _add_batch / _solve / _destroy and the getters
 * (_get_summary, _get_weights, _get_activations), through an allocator that fails the n-th
 * allocation.
 *
 * The input chooses: the bits given to options_init (4, 8 or anything); 1..4 weight and 1..4
 * activation formats (fz_pick_format: valid or not); the initial indices (now and then out of
 * range); the grid kind, steps (1..20, now and then 0), alpha and beta (the grid's defaults,
 * small multiples of 1/16 or raw doubles); rounds (1..2, now and then 0); metric and mode
 * (now and then out of range); struct size and reserved field; W [out x in], out, in 1..8;
 * 1..3 batches of 1..8 tokens; data (small multiples of 1/32, or raw float32 bits: NaN, Inf,
 * subnormals, huge values); which allocation fails (or none); the FP environment.
 *
 * Invariants (include/fpq.h, docs/layer-search.md), each a trap when violated:
 *   - options_init with bits other than 4 and 8 gives FPQ_ERR_ARGUMENT and writes nothing;
 *   - a failing create leaves *out untouched; a call gives FPQ_ERR_MEMORY exactly when one of
 *     its allocations failed; destroy frees every allocation (the allocator counts);
 *   - a failing call writes no output (guard bytes around and over every output buffer);
 *     getters before a successful solve give FPQ_ERR_ARGUMENT, a short capacity
 *     FPQ_ERR_CAPACITY;
 *   - after solve: the chosen formats are in the lists, the mode is the one asked, tokens is
 *     the sum of the accepted batches, no error is NaN, none negative (beyond rounding for
 *     cosine and Pearson), total <= max-based error,
 *     for the L-measures the total is the mean of the per-row errors (up to rounding), scales
 *     are positive float32 values, offsets lie in [0, 2^E - 1] of the activation format (all 0
 *     per tensor), scale[c] = act_scale * 2^-k_c;
 *   - solve twice gives the same bits; the same rows added as one batch give the same bits;
 *   - the FP environment is restored by every call.
 */
#include "fuzz_common.h"

#include <math.h>

#define FL_MAX_DIM 8
#define FL_MAX_BATCHES 3
#define FL_MAX_FORMATS 4
#define FL_GUARD 32

/* ---- counting, failing allocator ---------------------------------------------------------- */

typedef struct fl_alloc {
    long count, fail_at, live, failed;
} fl_alloc;

static void *fl_alloc_fn(void *user, size_t size)
{
    fl_alloc *a = (fl_alloc *)user;
    void *p;
    if (++a->count == a->fail_at) {
        a->failed++;
        return NULL;
    }
    p = malloc(size ? size : 1);
    FZ_CHECK(p != NULL);
    a->live++;
    return p;
}

static void fl_free_fn(void *user, void *ptr)
{
    fl_alloc *a = (fl_alloc *)user;
    FZ_CHECK(ptr != NULL);
    a->live--;
    free(ptr);
}

/* ---- guarded output buffers: [guard | payload | guard], all pattern-filled ------------------ */

typedef struct fl_buf {
    uint8_t *raw, *snap;
    size_t len; /* payload bytes */
} fl_buf;

static void fl_buf_init(fl_buf *b, size_t len)
{
    size_t i, n = len + 2 * FL_GUARD;
    b->len = len;
    b->raw = (uint8_t *)malloc(n);
    b->snap = (uint8_t *)malloc(n);
    FZ_CHECK(b->raw && b->snap);
    for (i = 0; i < n; i++)
        b->raw[i] = (uint8_t)(0x5a ^ (i * 29u));
    memcpy(b->snap, b->raw, n);
}

static void *fl_buf_ptr(const fl_buf *b)
{
    return b->raw + FL_GUARD;
}

static void fl_buf_free(fl_buf *b)
{
    free(b->raw);
    free(b->snap);
}

/* Guards intact; `payload_too`: the payload unchanged as well (failed call). */
static void fl_buf_expect(const fl_buf *b, int payload_too, const char *what)
{
    size_t n = b->len + 2 * FL_GUARD;
    FZ_CHECKF(memcmp(b->raw, b->snap, FL_GUARD) == 0 &&
                  memcmp(b->raw + FL_GUARD + b->len, b->snap + FL_GUARD + b->len, FL_GUARD) == 0,
              "%s: a guard byte changed\n", what);
    if (payload_too)
        FZ_CHECKF(memcmp(b->raw, b->snap, n) == 0, "%s: a failed call wrote its output\n",
                  what);
}

/* Re-pattern and re-snapshot (before each call). */
static void fl_buf_reset(fl_buf *b)
{
    memcpy(b->raw, b->snap, b->len + 2 * FL_GUARD);
}

/* ---- calls in the fuzzed FP environment ---------------------------------------------------- */

#define FL_CALL(status, env, call)                                                          \
    do {                                                                                    \
        unsigned long fl_before_;                                                           \
        fz_env_set(env);                                                                    \
        fl_before_ = fz_env_state();                                                        \
        (status) = (call);                                                                  \
        FZ_CHECK(fz_env_state() == fl_before_);                                             \
        fz_env_default();                                                                   \
    } while (0)

/* Everything the getters return, for bit comparisons. */
typedef struct fl_result {
    fpq_layer_search_summary sum;
    double bias[FL_MAX_DIM], error[FL_MAX_DIM], cbias[FL_MAX_DIM];
    float wscale[FL_MAX_DIM], ascale[FL_MAX_DIM];
    int offset[FL_MAX_DIM];
} fl_result;

static void fl_get(const fpq_layer_search *s, size_t out, size_t in, fl_result *r)
{
    memset(r, 0, sizeof *r);
    FZ_CHECK(fpq_layer_search_get_summary(s, &r->sum) == FPQ_OK);
    FZ_CHECK(fpq_layer_search_get_weights(s, r->bias, r->wscale, r->error, out) == FPQ_OK);
    FZ_CHECK(fpq_layer_search_get_activations(s, r->cbias, r->offset, r->ascale, in) ==
             FPQ_OK);
}

static void fl_same_bits(const fl_result *a, const fl_result *b, const char *what)
{
    FZ_CHECKF(memcmp(&a->sum.weight_format, &b->sum.weight_format, sizeof(fpq_format)) == 0 &&
                  memcmp(&a->sum.act_format, &b->sum.act_format, sizeof(fpq_format)) == 0 &&
                  memcmp(&a->sum.act_bias, &b->sum.act_bias, sizeof(double)) == 0 &&
                  memcmp(&a->sum.act_scale, &b->sum.act_scale, sizeof(float)) == 0 &&
                  memcmp(&a->sum.total_error, &b->sum.total_error, sizeof(double)) == 0 &&
                  memcmp(&a->sum.max_based_error, &b->sum.max_based_error, sizeof(double)) ==
                      0 &&
                  a->sum.tokens == b->sum.tokens && a->sum.act_mode == b->sum.act_mode,
              "%s: summaries differ (total %.17g vs %.17g)\n", what, a->sum.total_error,
              b->sum.total_error);
    FZ_CHECKF(memcmp(a->bias, b->bias, sizeof a->bias) == 0 &&
                  memcmp(a->error, b->error, sizeof a->error) == 0 &&
                  memcmp(a->cbias, b->cbias, sizeof a->cbias) == 0 &&
                  memcmp(a->wscale, b->wscale, sizeof a->wscale) == 0 &&
                  memcmp(a->ascale, b->ascale, sizeof a->ascale) == 0 &&
                  memcmp(a->offset, b->offset, sizeof a->offset) == 0,
              "%s: per-row or per-channel results differ\n", what);
}

static int fl_in_list(const fpq_format *f, const fpq_format *list, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (memcmp(f, &list[i], sizeof *f) == 0)
            return 1;
    return 0;
}

/* The consistency of one solve's results (see the header comment). */
static void fl_check_result(const fl_result *r, const fpq_layer_search_options *o, size_t out,
                            size_t in, size_t tokens)
{
    size_t i;
    double mean = 0;
    /* 1 - cos and 1 - corr round a hair below 0 for (nearly) parallel outputs; the header
     * promises no sign for them, only for the L-measures */
    const double low = 0.0; /* no error is negative, cosine and Pearson included */
    FZ_CHECK(fl_in_list(&r->sum.weight_format, o->weight_formats, o->num_weight_formats));
    FZ_CHECK(fl_in_list(&r->sum.act_format, o->act_formats, o->num_act_formats));
    FZ_CHECK(r->sum.act_mode == o->act_mode);
    FZ_CHECKF(r->sum.tokens == tokens, "tokens %zu, added %zu\n", r->sum.tokens, tokens);
    FZ_CHECKF(r->sum.total_error >= low && r->sum.max_based_error >= low,
              "total %.17g, max-based %.17g\n", r->sum.total_error, r->sum.max_based_error);
    FZ_CHECKF(r->sum.total_error <= r->sum.max_based_error,
              "total %.17g above the max-based %.17g\n", r->sum.total_error,
              r->sum.max_based_error);
    FZ_CHECKF(isfinite(r->sum.act_scale) && r->sum.act_scale > 0, "act_scale %a\n",
              (double)r->sum.act_scale);
    for (i = 0; i < out; i++) {
        FZ_CHECKF(r->error[i] >= low, "row %zu: error %.17g\n", i, r->error[i]);
        FZ_CHECKF(isfinite(r->wscale[i]) && r->wscale[i] > 0, "row %zu: scale %a\n", i,
                  (double)r->wscale[i]);
        FZ_CHECK(!isnan(r->bias[i]));
        mean += r->error[i];
    }
    mean /= (double)out;
    if (o->metric >= FPQ_LAYER_METRIC_L2 && o->metric <= FPQ_LAYER_METRIC_SQUARE_WEIGHTED_L2 &&
        isfinite(mean) && isfinite(r->sum.total_error))
        FZ_CHECKF(fabs(mean - r->sum.total_error) <= 1e-9 * fabs(r->sum.total_error) + 1e-300,
                  "mean of the row errors %.17g, total %.17g\n", mean, r->sum.total_error);
    for (i = 0; i < in; i++) {
        int k = r->offset[i];
        int top = (1 << r->sum.act_format.exp_bits) - 1;
        FZ_CHECKF(k >= 0 && k <= top, "channel %zu: offset %d outside [0, %d]\n", i, k, top);
        if (o->act_mode == FPQ_LAYER_ACT_PER_TENSOR)
            FZ_CHECK(k == 0);
        FZ_CHECK(!isnan(r->cbias[i]));
        FZ_CHECKF(r->ascale[i] == ldexpf(r->sum.act_scale, -k),
                  "channel %zu: scale %a, act_scale %a, offset %d\n", i, (double)r->ascale[i],
                  (double)r->sum.act_scale, k);
    }
}

/* ---- reading the input --------------------------------------------------------------------- */

static float fl_value(fz_reader *r)
{
    uint8_t kind = fz_u8(r);
    if (kind < 224)
        return (float)(int8_t)fz_u8(r) * 0.03125f;
    return fm_u2f(fz_u32(r));
}

/* A small int mostly in [lo, lo + span), `bad` when the byte is 0xff. */
static int fl_pick(fz_reader *r, int lo, int span, int bad)
{
    uint8_t b = fz_u8(r);
    return b == 0xff ? bad : lo + b % span;
}

static void fl_read_options(fz_reader *r, fpq_layer_search_options *o, int *bits)
{
    int i;
    uint8_t g;
    *bits = fz_u8(r) & 1 ? 8 : 4;
    FZ_CHECK(fpq_layer_search_options_init(o, *bits) == FPQ_OK);
    o->num_weight_formats = 1 + fz_u8(r) % FL_MAX_FORMATS;
    for (i = 0; i < o->num_weight_formats; i++)
        fz_pick_format(r, &o->weight_formats[i]);
    o->num_act_formats = 1 + fz_u8(r) % FL_MAX_FORMATS;
    for (i = 0; i < o->num_act_formats; i++)
        fz_pick_format(r, &o->act_formats[i]);
    o->initial_weight_format = fl_pick(r, 0, o->num_weight_formats, o->num_weight_formats);
    o->initial_act_format = fl_pick(r, 0, o->num_act_formats, -1);
    o->grid = fl_pick(r, FPQ_LAYER_GRID_BIAS, 2, 0);
    o->grid_steps = fl_pick(r, 1, 20, 0);
    g = fz_u8(r);
    switch (g % 4) {
    case 0: /* the bias grid's defaults (also for the clip grid) */
        break;
    case 1: /* multiples of 1/16 */
        o->grid_alpha = (double)(g >> 2) / 16.0;
        o->grid_beta = o->grid_alpha + (double)fz_u8(r) / 16.0;
        break;
    case 2: { /* raw doubles */
        uint64_t a = fz_u64(r), b = fz_u64(r);
        memcpy(&o->grid_alpha, &a, sizeof a);
        memcpy(&o->grid_beta, &b, sizeof b);
        break;
    }
    default: /* the clip grid's usual range */
        o->grid_alpha = 0.5;
        o->grid_beta = 1.0;
        break;
    }
    o->rounds = fl_pick(r, 1, 2, 0);
    o->metric = fl_pick(r, FPQ_LAYER_METRIC_L2, 6, 7);
    o->act_mode = fl_pick(r, FPQ_LAYER_ACT_PER_TENSOR, 2, 3);
    switch (fz_u8(r) % 16) {
    case 0: o->struct_size = fz_u8(r); break;
    case 1: o->reserved = 1 + fz_u8(r); break;
    default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_reader r;
    fz_env env;
    fpq_layer_search_options o;
    fpq_allocator al;
    fl_alloc counter;
    fpq_layer_search *s, *one = NULL;
    float w[FL_MAX_DIM * FL_MAX_DIM];
    float x[FL_MAX_BATCHES * FL_MAX_DIM * FL_MAX_DIM];
    size_t out, in, tok[FL_MAX_BATCHES], added = 0, accepted_rows = 0, i;
    int status, bits, b, batches, all_added = 1;
    long before;
    static fl_result res, res2, res_one;
    fl_buf bsum, bbias, bscale, berr, bcbias, boff, bascale, bopts;

    r.p = data;
    r.n = size;
    env = fz_env_pick(fz_u8(&r));
    fz_env_default();

    /* options_init: bits neither 4 nor 8 write nothing */
    {
        int anybits = (int)(int8_t)fz_u8(&r);
        fl_buf_init(&bopts, sizeof o);
        FL_CALL(status, env, fpq_layer_search_options_init(
                                 (fpq_layer_search_options *)fl_buf_ptr(&bopts), anybits));
        FZ_CHECK(status == (anybits == 4 || anybits == 8 ? FPQ_OK : FPQ_ERR_ARGUMENT));
        fl_buf_expect(&bopts, status != FPQ_OK, "options_init");
        fl_buf_free(&bopts);
        FZ_CHECK(fpq_layer_search_options_init(NULL, 4) == FPQ_ERR_NULL);
    }
    fl_read_options(&r, &o, &bits);

    out = 1 + fz_u8(&r) % FL_MAX_DIM;
    in = 1 + fz_u8(&r) % FL_MAX_DIM;
    batches = 1 + fz_u8(&r) % FL_MAX_BATCHES;
    for (b = 0; b < batches; b++)
        tok[b] = 1 + fz_u8(&r) % FL_MAX_DIM;
    counter.count = counter.live = counter.failed = 0;
    counter.fail_at = fz_u8(&r) % 24; /* 0: never */
    al.alloc = fl_alloc_fn;
    al.free = fl_free_fn;
    al.user = &counter;
    o.allocator = &al;
    for (i = 0; i < out * in; i++)
        w[i] = fl_value(&r);
    for (i = 0; i < (size_t)batches * FL_MAX_DIM * in; i++)
        x[i] = fl_value(&r);

    /* create: *out untouched on failure, MEMORY exactly when an allocation failed, the
     * status that of the default FP environment */
    s = (fpq_layer_search *)&counter;
    before = counter.failed;
    FL_CALL(status, env, fpq_layer_search_create(w, out, in, &o, &s));
    FZ_CHECKF((status == FPQ_ERR_MEMORY) == (counter.failed != before), "create: %d\n", status);
    if (status != FPQ_ERR_MEMORY) {
        fpq_layer_search_options od = o;
        int st_default;
        od.allocator = NULL;
        one = NULL;
        st_default = fpq_layer_search_create(w, out, in, &od, &one);
        FZ_CHECKF(st_default == status, "create: %d in the caller's FP environment, %d in the"
                  " default one\n", status, st_default);
        fpq_layer_search_destroy(one);
        one = NULL;
    }
    if (status != FPQ_OK) {
        FZ_CHECK(s == (fpq_layer_search *)&counter);
        FZ_CHECK(counter.live == 0);
        return 0;
    }

    fl_buf_init(&bsum, sizeof(fpq_layer_search_summary));
    fl_buf_init(&bbias, out * sizeof(double));
    fl_buf_init(&berr, out * sizeof(double));
    fl_buf_init(&bscale, out * sizeof(float));
    fl_buf_init(&bcbias, in * sizeof(double));
    fl_buf_init(&boff, in * sizeof(int));
    fl_buf_init(&bascale, in * sizeof(float));

    /* getters before a solve, solve before a batch: nothing written */
    FL_CALL(status, env,
            fpq_layer_search_get_summary(s, (fpq_layer_search_summary *)fl_buf_ptr(&bsum)));
    FZ_CHECK(status == FPQ_ERR_ARGUMENT);
    fl_buf_expect(&bsum, 1, "get_summary before solve");
    FL_CALL(status, env,
            fpq_layer_search_get_weights(s, (double *)fl_buf_ptr(&bbias),
                                         (float *)fl_buf_ptr(&bscale),
                                         (double *)fl_buf_ptr(&berr), out));
    FZ_CHECK(status == FPQ_ERR_ARGUMENT);
    fl_buf_expect(&bbias, 1, "get_weights before solve");
    before = counter.failed;
    FL_CALL(status, env, fpq_layer_search_solve(s));
    FZ_CHECK(status == FPQ_ERR_SIZE && counter.failed == before);

    for (b = 0; b < batches; b++) {
        before = counter.failed;
        FL_CALL(status, env, fpq_layer_search_add_batch(s, x + added * in, tok[b]));
        FZ_CHECKF((status == FPQ_ERR_MEMORY) == (counter.failed != before), "add: %d\n",
                  status);
        FZ_CHECK(status == FPQ_OK || status == FPQ_ERR_MEMORY || status == FPQ_ERR_ARGUMENT);
        if (status == FPQ_OK)
            accepted_rows += tok[b];
        else
            all_added = 0;
        added += tok[b];
    }

    before = counter.failed;
    FL_CALL(status, env, fpq_layer_search_solve(s));
    FZ_CHECKF((status == FPQ_ERR_MEMORY) == (counter.failed != before), "solve: %d\n", status);
    if (accepted_rows == 0)
        FZ_CHECK(status == FPQ_ERR_SIZE);
    if (status != FPQ_OK) {
        FZ_CHECK(status == FPQ_ERR_MEMORY || status == FPQ_ERR_ARGUMENT ||
                 status == FPQ_ERR_SIZE);
        fl_buf_reset(&bsum);
        FL_CALL(status, env,
                fpq_layer_search_get_summary(s, (fpq_layer_search_summary *)fl_buf_ptr(&bsum)));
        FZ_CHECK(status == FPQ_ERR_ARGUMENT); /* still not solved */
        fl_buf_expect(&bsum, 1, "get_summary after a failed solve");
        goto done;
    }

    /* short capacity: CAPACITY, nothing written */
    if (out > 1) {
        FL_CALL(status, env,
                fpq_layer_search_get_weights(s, (double *)fl_buf_ptr(&bbias),
                                             (float *)fl_buf_ptr(&bscale),
                                             (double *)fl_buf_ptr(&berr), out - 1));
        FZ_CHECK(status == FPQ_ERR_CAPACITY);
        fl_buf_expect(&bbias, 1, "get_weights, short");
        fl_buf_expect(&bscale, 1, "get_weights, short");
        fl_buf_expect(&berr, 1, "get_weights, short");
    }
    if (in > 1) {
        FL_CALL(status, env,
                fpq_layer_search_get_activations(s, (double *)fl_buf_ptr(&bcbias),
                                                 (int *)fl_buf_ptr(&boff),
                                                 (float *)fl_buf_ptr(&bascale), in - 1));
        FZ_CHECK(status == FPQ_ERR_CAPACITY);
        fl_buf_expect(&bcbias, 1, "get_activations, short");
        fl_buf_expect(&boff, 1, "get_activations, short");
        fl_buf_expect(&bascale, 1, "get_activations, short");
    }
    /* exact capacity into guarded buffers: the guards stay, the values match fl_get's */
    FL_CALL(status, env,
            fpq_layer_search_get_summary(s, (fpq_layer_search_summary *)fl_buf_ptr(&bsum)));
    FZ_CHECK(status == FPQ_OK);
    fl_buf_expect(&bsum, 0, "get_summary");
    FL_CALL(status, env,
            fpq_layer_search_get_weights(s, (double *)fl_buf_ptr(&bbias),
                                         (float *)fl_buf_ptr(&bscale),
                                         (double *)fl_buf_ptr(&berr), out));
    FZ_CHECK(status == FPQ_OK);
    fl_buf_expect(&bbias, 0, "get_weights bias");
    fl_buf_expect(&bscale, 0, "get_weights scale");
    fl_buf_expect(&berr, 0, "get_weights error");
    FL_CALL(status, env,
            fpq_layer_search_get_activations(s, (double *)fl_buf_ptr(&bcbias),
                                             (int *)fl_buf_ptr(&boff),
                                             (float *)fl_buf_ptr(&bascale), in));
    FZ_CHECK(status == FPQ_OK);
    fl_buf_expect(&bcbias, 0, "get_activations channel_bias");
    fl_buf_expect(&boff, 0, "get_activations offset");
    fl_buf_expect(&bascale, 0, "get_activations scale");
    FZ_CHECK(fpq_layer_search_get_weights(s, NULL, NULL, NULL, out) == FPQ_OK);

    fl_get(s, out, in, &res);
    FZ_CHECK(memcmp(fl_buf_ptr(&bbias), res.bias, out * sizeof(double)) == 0);
    FZ_CHECK(memcmp(fl_buf_ptr(&boff), res.offset, in * sizeof(int)) == 0);
    fl_check_result(&res, &o, out, in, accepted_rows);

    /* solve again: the same bits (or MEMORY, keeping the previous results) */
    before = counter.failed;
    FL_CALL(status, env, fpq_layer_search_solve(s));
    FZ_CHECKF((status == FPQ_ERR_MEMORY) == (counter.failed != before), "solve 2: %d\n",
              status);
    FZ_CHECK(status == FPQ_OK || status == FPQ_ERR_MEMORY);
    fl_get(s, out, in, &res2);
    fl_same_bits(&res, &res2, "second solve");

    /* the same rows as one batch, malloc: the same bits */
    if (batches > 1 && all_added) {
        fpq_layer_search_options o1 = o;
        o1.allocator = NULL;
        status = fpq_layer_search_create(w, out, in, &o1, &one);
        FZ_CHECKF(status == FPQ_OK, "create with malloc: %d\n", status);
        FZ_CHECK(fpq_layer_search_add_batch(one, x, added) == FPQ_OK);
        FZ_CHECK(fpq_layer_search_solve(one) == FPQ_OK);
        fl_get(one, out, in, &res_one);
        fl_same_bits(&res, &res_one, "one batch vs several");
        fpq_layer_search_destroy(one);
    }

done:
    fpq_layer_search_destroy(s);
    FZ_CHECK(counter.live == 0);
    fl_buf_free(&bsum);
    fl_buf_free(&bbias);
    fl_buf_free(&berr);
    fl_buf_free(&bscale);
    fl_buf_free(&bcbias);
    fl_buf_free(&boff);
    fl_buf_free(&bascale);
    return 0;
}

#undef FL_CALL
