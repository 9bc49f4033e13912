/*
 * search_eval.c - the error of every candidate scale of every format for one group.
 *
 * The fast path (L2, L1 and weighted L2 on signed formats, whose grids are symmetric so that
 * only |x| matters): the quantizer maps |x| to the k-th non-negative value v_k of the format
 * exactly when T_k <= |x| < T_(k+1), where T_k is the smallest float32 that the kernel itself
 * rounds to v_k or above. The kernels divide and round the quotient; T_k follows from that
 * rule exactly, without a division (search_threshold), so ties at midpoints and last-bit
 * effects of x / scale fall where the kernels put them. All thresholds of a batch of formats
 * are merged into one sorted list (in the previous group's order, fixed up, when it still
 * fits: the common case). One pass over the group sums (weight, w|x|) per slot between
 * consecutive thresholds, and w x^2 over the group; the slot of |x| comes from a table
 * indexed by its high bits, looked up by the kernel table's table_entries (a gather where
 * the backend has one). Prefix sums then give each candidate's error as a sum over the
 * format's values of
 *   sum_{interval k} w (|x| - y_k)^2 = S2 - 2 y_k S1 + y_k^2 S0,   y_k = v_k * scale (float32),
 * that is sum w x^2 less sum_k y_k (2 S1 - y_k S0), so a candidate costs O(number of values),
 * whatever the size of the group. L1 also splits each interval at y_k (|x| - y_k changes sign
 * there).
 *
 * Overflow: near the top of float32, y_k = v_k * scale can round to +Inf, and the kernels then
 * quantize the elements of interval k (and above) to +-Inf: their error is +Inf. The sums
 * above cannot say so (Inf * 0 and Inf - Inf are NaN), so a candidate whose largest value
 * overflows is settled apart (search_overflows): +Inf when an element that counts (weight
 * > 0) reaches the first overflowing interval, and otherwise the sum over the finite values
 * only, the intervals above holding nothing that counts. One compare per candidate otherwise.
 *
 * Everything else (cosine, the callback, unsigned formats, FPQ_SEARCH_EXHAUSTIVE) quantizes
 * the group at every candidate through the active kernel table; there too an infinite
 * quantized element gives the error +Inf (an element of weight 0 adds nothing), never NaN.
 */
#include "search.h"
#include "fpq_round.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* Thresholds of one merged batch of formats: at most this many (one 8-bit format with 4096
 * candidates and L1's doubled list, 4096 * 254, fits). */
#define SEARCH_MAX_IDS ((size_t)1 << 20)
/* Elements quantized at a time by the exhaustive path: a few KiB, in L1 cache. */
#define SEARCH_CHUNK 2048
#define SEARCH_FINITE_LIMIT 0x7f800000u
/* Table entries per distinct threshold (see search_slotter). */
#define SEARCH_TABLE_PER_THRESHOLD 4
/* Marks a table entry whose key holds more thresholds than its lookup compares; the kernel
 * table's table_entries marks a NaN's or an Inf's entry the same way. */
#define SEARCH_MARKED_KEY FPQI_TABLE_MARK
/* The threshold of an id whose candidate scale is invalid (above every float32's bits). */
#define SEARCH_SKIPPED 0xffffffffu

struct fpqi_search_work {
    size_t max_ids, max_group;
    uint32_t *thr;             /* id -> threshold bits, SEARCH_SKIPPED for an invalid scale */
    uint32_t *order;           /* the ids of the last batch in sorted order (see search_sort) */
    size_t order_n, order_f0;  /* how many, and the batch's first format (order_n 0: none) */
    uint64_t *keys, *keys_tmp; /* threshold bits << 32 | id, and the radix sort's other half */
    uint32_t *unique;          /* the distinct thresholds, ascending (float32 bits) */
    uint32_t *pos;             /* id -> index in unique */
    uint32_t *table;           /* key of |x| -> first threshold with that key or more */
    double *stats;             /* per slot: sum w, sum w|x| */
    float *scales;             /* [num_formats * num_candidates] candidate scales */
    float *xbuf, *wbuf, *qbuf; /* exhaustive path: finite elements, weights, quantized */
    float *rbuf, *rwbuf;       /* SEARCH_CHUNK elements and weights read from a group */
    uint32_t *entries;         /* their slot table entries */
    size_t buf_len;
};

/* ---- formats ------------------------------------------------------------------------------ */

static int search_is_fast(const struct fpq_search *s, size_t f)
{
    int obj = s->opt.objective;
    return s->opt.method == FPQ_SEARCH_FAST && s->params[f].is_signed &&
           (obj == FPQ_OBJECTIVE_L2 || obj == FPQ_OBJECTIVE_L1 ||
            obj == FPQ_OBJECTIVE_WEIGHTED_L2);
}

/* Thresholds per candidate: one per positive value (T_1..T_K), and for L1 the values too. */
static size_t search_ids_per_candidate(const struct fpq_search *s, size_t f)
{
    size_t k = s->params[f].max_mag;
    return s->opt.objective == FPQ_OBJECTIVE_L1 ? 2 * k : k;
}

/* The fast formats from f0 on that fit one merged batch; returns the end of the batch. */
static size_t search_batch_end(const struct fpq_search *s, size_t f0, size_t *ids)
{
    size_t f = f0, total = 0, per;
    for (; f < s->num_formats; f++) {
        if (!search_is_fast(s, f))
            continue;
        per = search_ids_per_candidate(s, f) * (size_t)s->opt.num_candidates;
        if (total > 0 && total + per > SEARCH_MAX_IDS)
            break;
        total += per;
    }
    *ids = total;
    return f;
}

static size_t search_table_cap(size_t nu, size_t n);

/* ---- work space --------------------------------------------------------------------------- */

static size_t search_align(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

static size_t search_max_ids(const struct fpq_search *s)
{
    size_t f = 0, ids, most = 0;
    while (f < s->num_formats) {
        size_t end = search_batch_end(s, f, &ids);
        most = ids > most ? ids : most;
        f = end > f ? end : f + 1;
    }
    return most;
}

static size_t search_buf_len(const struct fpq_search *s, size_t max_group)
{
    return s->opt.objective == FPQ_OBJECTIVE_CALLBACK && max_group > SEARCH_CHUNK
               ? max_group
               : SEARCH_CHUNK;
}

/* Hands out consecutive 64-byte-aligned pieces of a work space; with no memory (base NULL)
 * it only counts, so that one list gives both the size and the layout. */
typedef struct search_carver {
    unsigned char *base;
    size_t used;
} search_carver;

static void *search_carve(search_carver *c, size_t bytes)
{
    void *p = c->base ? (void *)(c->base + c->used) : NULL;
    c->used += search_align(bytes);
    return p;
}

static size_t search_work_layout(const struct fpq_search *s, size_t max_group,
                                 unsigned char *mem, fpqi_search_work *w)
{
    size_t ids = search_max_ids(s), buf = search_buf_len(s, max_group);
    size_t cands = s->num_formats * (size_t)s->opt.num_candidates;
    search_carver c;

    c.base = mem;
    c.used = search_align(sizeof *w);
    w->thr = (uint32_t *)search_carve(&c, ids * 4);
    w->order = (uint32_t *)search_carve(&c, ids * 4);
    w->keys = (uint64_t *)search_carve(&c, ids * 8);
    w->keys_tmp = (uint64_t *)search_carve(&c, ids * 8);
    w->unique = (uint32_t *)search_carve(&c, (ids + 1) * 4); /* and a sentinel */
    w->pos = (uint32_t *)search_carve(&c, ids * 4);
    w->table = (uint32_t *)search_carve(&c, (search_table_cap(ids, max_group) + 2) * 4);
    w->stats = (double *)search_carve(&c, (ids + 2) * 2 * sizeof(double));
    w->scales = (float *)search_carve(&c, cands * 4);
    w->xbuf = (float *)search_carve(&c, buf * 4);
    w->wbuf = (float *)search_carve(&c, buf * 4);
    w->qbuf = (float *)search_carve(&c, buf * 4);
    w->rbuf = (float *)search_carve(&c, SEARCH_CHUNK * 4);
    w->rwbuf = (float *)search_carve(&c, SEARCH_CHUNK * 4);
    w->entries = (uint32_t *)search_carve(&c, SEARCH_CHUNK * 4);
    w->max_ids = ids;
    w->max_group = max_group;
    w->order_n = 0;
    w->order_f0 = 0;
    w->buf_len = buf;
    return c.used;
}

size_t fpqi_search_work_bytes(const struct fpq_search *s, size_t max_group)
{
    fpqi_search_work sizing;
    return search_work_layout(s, max_group, NULL, &sizing);
}

fpqi_search_work *fpqi_search_work_init(const struct fpq_search *s, size_t max_group,
                                        void *mem)
{
    fpqi_search_work *w = (fpqi_search_work *)mem;
    search_work_layout(s, max_group, (unsigned char *)mem, w);
    return w;
}

/* ---- candidates --------------------------------------------------------------------------- */

float fpqi_search_candidate_scale(const struct fpq_search *s, size_t f, int c, float amax)
{
    const fpq_search_options *o = &s->opt;
    double maxf = (double)s->max_finite[f], sc, ratio;
    float out;
    int n = o->num_candidates;

    if (o->grid == FPQ_GRID_CLIP) {
        ratio = n == 1 ? o->grid_high : o->grid_low + c * (o->grid_high - o->grid_low) / (n - 1);
        sc = (double)amax * ratio / maxf;
    } else {
        double b0 = s->formats[f].bias + log2(maxf) - log2((double)amax);
        double b = b0 * (o->grid_low + c * (o->grid_high - o->grid_low) / n);
        sc = exp2((double)s->formats[f].bias - b);
    }
    if (!(sc >= (double)FLT_MIN && sc <= (double)FLT_MAX))
        return 0.0f;
    out = (float)sc;
    return fpqi_scale_is_valid(out) ? out : 0.0f;
}

/* ---- thresholds --------------------------------------------------------------------------- */

/*
 * The kernels divide (IEEE division to float32, ties to even) and compare the quotient with
 * the quotient threshold q of a magnitude k: |x| with bits a reaches k exactly when
 * RN(a / scale) >= q, that is when the real quotient lies above the midpoint m between q and
 * the float32 below it, or on it when q is the even one of the two (a tie rounds to it).
 * a / scale > m is a > m * scale, and m * scale is exact in double: m has at most 25
 * significant bits, the scale 24, and both are far inside double's range. So the threshold of
 * k is the smallest float32 above that product (or at it, for an even q): one rounding of the
 * product to float32 and one compare, no division. test_search checks this rule against the
 * kernels at the thresholds of many scales.
 */
typedef struct search_midpoint {
    double m;     /* the midpoint below q */
    uint32_t tie; /* 1 when a quotient on the midpoint reaches q (q's bits are even) */
} search_midpoint;

static search_midpoint search_midpoint_of(float quotient)
{
    uint32_t q = fpqi_f2u(quotient);
    /* An infinite q is reached only by quotients that overflow: those from FLT_MAX's half
     * step above on, as if q were 2^128. */
    double top = q >= 0x7f800000u ? ldexp(1.0, 128) : (double)quotient;
    search_midpoint r;
    r.m = 0.5 * ((double)fpqi_u2f(q - 1) + top);
    r.tie = (q & 1u) == 0;
    return r;
}

/* The bits of the smallest float32 that reaches the midpoint's magnitude at `scale`:
 * 0x7f800000 when no finite one does. */
FPQI_INLINE uint32_t search_threshold(search_midpoint mp, float scale)
{
    double p = mp.m * (double)scale;
    float f = (float)p; /* the nearest float32: the answer, or the one below it */
    double d = (double)f;
    return fpqi_f2u(f) + (uint32_t)(d < p || (d == p && !mp.tie));
}

/*
 * Every threshold of the fast formats of [f0, f1) into w->thr by id. Format f's ids start at
 * base[f], candidate c's at base[f] + c * per; T_k is at + k - 1, and for L1 the bits of
 * v_k * scale (where |x| - y_k changes sign) at + max_mag + k - 1. An invalid candidate's
 * ids hold SEARCH_SKIPPED. *nids = the batch's ids; returns how many of them are valid.
 */
static size_t search_collect(const struct fpq_search *s, fpqi_search_work *w, size_t f0,
                             size_t f1, size_t *base, size_t *nids)
{
    size_t f, valid = 0, id0 = 0, nc = (size_t)s->opt.num_candidates;
    int l1 = s->opt.objective == FPQ_OBJECTIVE_L1;

    for (f = f0; f < f1; f++) {
        const float *sc = w->scales + f * nc;
        size_t per, c, k, kk = s->params[f].max_mag;
        if (!search_is_fast(s, f))
            continue;
        per = search_ids_per_candidate(s, f);
        base[f] = id0;
        for (k = 1; k <= kk; k++) {
            search_midpoint mp = search_midpoint_of(s->quotient[f][k]);
            uint32_t *t = w->thr + id0 + k - 1;
            for (c = 0; c < nc; c++)
                t[c * per] = sc[c] != 0.0f ? search_threshold(mp, sc[c]) : SEARCH_SKIPPED;
            if (l1) {
                float v = s->value[f][k];
                for (c = 0; c < nc; c++)
                    t[c * per + kk] =
                        sc[c] != 0.0f ? fpqi_f2u(v * sc[c]) & 0x7fffffffu : SEARCH_SKIPPED;
            }
        }
        for (c = 0; c < nc; c++)
            valid += sc[c] != 0.0f ? per : 0;
        id0 += nc * per;
    }
    *nids = id0;
    return valid;
}

/* One stable counting pass of an LSD radix sort on digit (((key >> 32) - base) >> shift)
 * & 2047; returns the array holding the result. */
static uint64_t *search_radix_pass(uint64_t *keys, uint64_t *tmp, size_t n, uint32_t base,
                                   int shift)
{
    size_t count[2048], i, sum = 0;
    memset(count, 0, sizeof count);
    for (i = 0; i < n; i++)
        count[(((uint32_t)(keys[i] >> 32) - base) >> shift) & 2047u]++;
    for (i = 0; i < 2048; i++) {
        size_t c = count[i];
        count[i] = sum;
        sum += c;
    }
    for (i = 0; i < n; i++)
        tmp[count[(((uint32_t)(keys[i] >> 32) - base) >> shift) & 2047u]++] = keys[i];
    return tmp;
}

/* Sorts keys by their high 32 bits (threshold bits). Two radix passes order them by the top
 * 22 bits of their offset from the smallest; an insertion sort then fixes the order inside
 * those buckets (thresholds rarely share one). If it has too much to fix, three exact passes
 * redo the sort. Returns the array holding the result. */
static uint64_t *search_sort_keys(uint64_t *keys, uint64_t *tmp, size_t n)
{
    uint32_t lo = 0xffffffffu, hi = 0, range;
    size_t i, moves = 0;
    int bits = 0, shift;
    uint64_t *out;

    for (i = 0; i < n; i++) {
        uint32_t t = (uint32_t)(keys[i] >> 32);
        lo = t < lo ? t : lo;
        hi = t > hi ? t : hi;
    }
    for (range = hi - lo; range; range >>= 1)
        bits++;
    shift = bits > 22 ? bits - 22 : 0;
    out = search_radix_pass(keys, tmp, n, lo, shift);
    out = search_radix_pass(out, keys, n, lo, shift + 11);
    for (i = 1; i < n && shift > 0; i++) {
        uint64_t v = out[i];
        size_t j = i;
        while (j > 0 && out[j - 1] > v && moves <= 8 * n) {
            out[j] = out[j - 1];
            j--;
            moves++;
        }
        out[j] = v;
    }
    if (moves > 8 * n) { /* crowded buckets: sort exactly (keys hold the data again) */
        out = search_radix_pass(out, tmp, n, lo, 0);
        out = search_radix_pass(out, out == tmp ? keys : tmp, n, lo, 11);
        out = search_radix_pass(out, out == tmp ? keys : tmp, n, lo, 22);
    }
    return out;
}

/* The keys in the order of the last batch, insertion-sorted; NULL when that order does not
 * fit (another set of valid ids) or is too far off. */
static const uint64_t *search_sort_like_last(fpqi_search_work *w, size_t n)
{
    uint64_t *keys = w->keys;
    size_t i, moves = 0;

    for (i = 0; i < n; i++) {
        uint32_t id = w->order[i], t = w->thr[id];
        if (t == SEARCH_SKIPPED)
            return NULL;
        keys[i] = (uint64_t)t << 32 | id;
    }
    for (i = 1; i < n; i++) {
        uint64_t v = keys[i];
        size_t j = i;
        while (j > 0 && keys[j - 1] > v) {
            keys[j] = keys[j - 1];
            j--;
        }
        keys[j] = v;
        moves += i - j;
        if (moves > 2 * n)
            return NULL;
    }
    return keys;
}

/*
 * The valid ids of the batch as keys (threshold bits << 32 | id), ascending. The order of the
 * previous group's batch is tried first: a clip-ratio grid's thresholds are the group's amax
 * times the same ratios in every group, so that order is right up to a few last-bit swaps,
 * which one insertion pass fixes. Otherwise (the first group, a bias grid whose order moves
 * with amax, another set of valid ids) a radix sort. Either way the result is the same:
 * (threshold, id) is a total order.
 */
static const uint64_t *search_sort(fpqi_search_work *w, size_t f0, size_t nids, size_t nkeys)
{
    const uint64_t *out = NULL;
    size_t i;

    if (w->order_n == nkeys && w->order_f0 == f0)
        out = search_sort_like_last(w, nkeys);
    if (!out) {
        size_t n = 0;
        for (i = 0; i < nids; i++)
            if (w->thr[i] != SEARCH_SKIPPED)
                w->keys[n++] = (uint64_t)w->thr[i] << 32 | (uint64_t)i;
        out = search_sort_keys(w->keys, w->keys_tmp, n);
    }
    for (i = 0; i < nkeys; i++)
        w->order[i] = (uint32_t)out[i];
    w->order_n = nkeys;
    w->order_f0 = f0;
    return out;
}

/* Sorted keys -> the distinct thresholds and each id's index among them. */
static size_t search_unique(fpqi_search_work *w, const uint64_t *sorted, size_t nkeys)
{
    size_t i, nu = 0;
    uint32_t prev = SEARCH_SKIPPED; /* no threshold's bits */
    for (i = 0; i < nkeys; i++) {
        uint32_t t = (uint32_t)(sorted[i] >> 32);
        w->unique[nu] = t;
        nu += t != prev;
        prev = t;
        w->pos[(uint32_t)sorted[i]] = (uint32_t)(nu - 1);
    }
    return nu;
}

/* ---- one pass over the group -------------------------------------------------------------- */

/*
 * The slot of |x| is the number of thresholds <= |x|. A table maps the high bits of |x|
 * (bits >> shift) to the first threshold with those high bits or more. Entry 0 stands for
 * every key below the thresholds' and entry len + 1 for every key above. Two layouts:
 *   - sparse, for groups much larger than the threshold list, whose pass over the data is
 *     the cost: a large table where few keys hold a threshold. The entry of an empty key is
 *     the slot; a marked entry (a key holding thresholds) is finished by a scan.
 *   - dense, for smaller groups (a row of a weight), where the table is built per group: a
 *     few entries per threshold, and one compare with the key's threshold finishes; a marked
 *     entry (a key holding two or more) is finished by a scan.
 * A sentinel above every float ends the scans.
 */
typedef struct search_slotter {
    const uint32_t *unique, *table;
    uint32_t kmin, len;
    int shift, sparse;
} search_slotter;

/* Table entries for nu thresholds and a group of n elements (see search_slotter). */
static size_t search_table_cap(size_t nu, size_t n)
{
    size_t big = n / 4 < ((size_t)1 << 17) ? n / 4 : ((size_t)1 << 17);
    size_t fine = SEARCH_TABLE_PER_THRESHOLD * nu + 64;
    return fine > big ? fine : big;
}

static void search_slotter_make(fpqi_search_work *w, size_t nu, size_t n, search_slotter *sl)
{
    uint32_t lo = w->unique[0], hi = w->unique[nu - 1], *table = w->table, i, sum = 0;
    uint32_t most; /* thresholds a key may hold unmarked */
    size_t cap = search_table_cap(nu, n);
    int shift = 0;

    while ((size_t)((hi >> shift) - (lo >> shift)) + 1 > cap)
        shift++;
    w->unique[nu] = 0xffffffffu;
    sl->unique = w->unique;
    sl->table = table;
    sl->shift = shift;
    sl->kmin = lo >> shift;
    sl->len = (hi >> shift) - sl->kmin + 1;
    sl->sparse = n >= 16 * nu;
    most = sl->sparse ? 0 : 1;
    /* Count each key's thresholds one entry further on, then replace the counts by running
     * sums, each entry read before it is written. */
    memset(table, 0, ((size_t)sl->len + 2) * sizeof *table);
    for (i = 0; i < (uint32_t)nu; i++)
        table[2 + (w->unique[i] >> shift) - sl->kmin]++;
    for (i = 1; i <= sl->len; i++) {
        uint32_t count = table[i + 1];
        table[i] = sum | (count > most ? SEARCH_MARKED_KEY : 0);
        sum += count;
    }
    table[sl->len + 1] = sum;
}

/* Adds x[0..len) (weights wt when `weighted`, else 1; entry: their table entries) to the
 * slots, slot j at st[2 * (j + 1)] (sum w, sum w|x|), and sum w x^2 to *s2, in element
 * order (the same sums whatever the chunks). A marked entry is a NaN or Inf, skipped, or a
 * key the lookup must scan; an unmarked one is the slot (sparse) or one compare from it.
 * Inlined once for each layout and weighting. */
FPQI_INLINE void search_accumulate_run(const search_slotter *sl, int sparse, const float *x,
                                       const float *wt, int weighted, const uint32_t *entry,
                                       size_t len, double *st, double *s2)
{
    double sq = *s2;
    size_t i;
    for (i = 0; i < len; i++) {
        uint32_t j = entry[i];
        double v, wi, *slot;
        if (j & SEARCH_MARKED_KEY) {
            uint32_t a = fpqi_f2u(x[i]) & 0x7fffffffu;
            if (a >= SEARCH_FINITE_LIMIT)
                continue;
            j &= ~SEARCH_MARKED_KEY;
            while (sl->unique[j] <= a)
                j++;
        } else if (!sparse) {
            j += sl->unique[j] <= (fpqi_f2u(x[i]) & 0x7fffffffu);
        }
        v = fabs((double)x[i]);
        wi = weighted ? (double)wt[i] : 1.0;
        slot = st + 2 * (size_t)(j + 1);
        slot[0] += wi;
        slot[1] += wi * v;
        sq += wi * v * v;
    }
    *s2 = sq;
}

/* The slot sums of group g as prefix sums (see below); returns the sum of w x^2. */
static double search_accumulate(const struct fpq_search *s, fpqi_search_work *w, size_t g,
                                const search_slotter *sl, size_t nu, double *st)
{
    const fpqi_kernels *k = fpqi_active_kernels();
    uint32_t *e = w->entries;
    size_t i, off, len, n = s->groups[g].n;
    double s0 = 0, s1 = 0, s2 = 0;

    memset(st, 0, (nu + 2) * 2 * sizeof(double));
    for (off = 0; off < n; off += len) {
        const float *x, *wt;
        len = fpqi_search_read(s, g, off, SEARCH_CHUNK, w->rbuf, w->rwbuf, &x, &wt);
        k->table_entries(x, len, sl->table, sl->shift, sl->kmin - 1, sl->len + 1, e);
        if (sl->sparse && wt)
            search_accumulate_run(sl, 1, x, wt, 1, e, len, st, &s2);
        else if (sl->sparse)
            search_accumulate_run(sl, 1, x, NULL, 0, e, len, st, &s2);
        else if (wt)
            search_accumulate_run(sl, 0, x, wt, 1, e, len, st, &s2);
        else
            search_accumulate_run(sl, 0, x, NULL, 0, e, len, st, &s2);
    }
    /* Slot j sits at st[2 * (j + 1)]; running sums turn that into P[j] = sum of the slots
     * below j at st[2 * j], so a range of slots [lo, hi) sums to P[hi] - P[lo]. */
    for (i = 0; i <= nu + 1; i++) {
        double *e = st + 2 * i;
        s0 += e[0];
        s1 += e[1];
        e[0] = s0;
        e[1] = s1;
    }
    return s2;
}

/* ---- candidates' errors ------------------------------------------------------------------- */

static double search_range(const double *st, size_t lo, size_t hi, int which)
{
    return st[2 * hi + (size_t)which] - st[2 * lo + (size_t)which];
}

/* The error of one candidate from the prefix sums, over the values 0..kend-1 (kend <= kk + 1:
 * the intervals from kend on hold nothing that counts). L2: the sum over the intervals of
 * S2 - 2 y S1 + y^2 S0, that is sum w x^2 (s2) less the sum of y (2 S1 - y S0). */
static double search_candidate_error(const struct fpq_search *s, const fpqi_search_work *w,
                                     const double *st, double s2, size_t nu, size_t f,
                                     size_t id, float scale, uint32_t kend)
{
    const fpqi_params *p = &s->params[f];
    uint32_t k, kk = p->max_mag;
    size_t lo = 0, hi;
    double err = 0.0, cut = 0.0;
    int l1 = s->opt.objective == FPQ_OBJECTIVE_L1;

    for (k = 0; k < kend; k++) {
        double y = (double)(s->value[f][k] * scale);
        hi = k < kk ? (size_t)w->pos[id + k] + 1 : nu + 1;
        if (l1) {
            size_t m = k == 0 ? lo : (size_t)w->pos[id + kk + k - 1] + 1;
            m = m < lo ? lo : m > hi ? hi : m;
            err += (search_range(st, m, hi, 1) - y * search_range(st, m, hi, 0)) +
                   (y * search_range(st, lo, m, 0) - search_range(st, lo, m, 1));
        } else {
            cut += y * (2.0 * search_range(st, lo, hi, 1) - y * search_range(st, lo, hi, 0));
        }
        lo = hi;
    }
    if (!l1)
        err = s2 - cut;
    return err > 0.0 ? err : 0.0;
}
/* The bits of the largest finite |x| of group g that counts in the error: every element's for
 * L2 and L1 (the group's amax), those of weight > 0 for weighted L2 (0 when none). */
static uint32_t search_counted_amax(const struct fpq_search *s, fpqi_search_work *w, size_t g)
{
    const fpqi_search_group *grp = &s->groups[g];
    size_t off, len, i;
    uint32_t top = 0;

    if (s->opt.objective != FPQ_OBJECTIVE_WEIGHTED_L2)
        return grp->amax_bits;
    for (off = 0; off < grp->n; off += len) {
        const float *x, *wt;
        len = fpqi_search_read(s, g, off, SEARCH_CHUNK, w->rbuf, w->rwbuf, &x, &wt);
        for (i = 0; i < len; i++) {
            uint32_t a = fpqi_f2u(x[i]) & 0x7fffffffu;
            if (a < SEARCH_FINITE_LIMIT && wt[i] > 0.0f && a > top)
                top = a;
        }
    }
    return top;
}

/* Candidate `id` of format f at `scale`, whose largest value v_kk * scale overflows float32:
 * returns 1 when an element that counts (largest: the bits *top, found on the first call
 * when *top is UINT32_MAX) quantizes to an overflowing value, the error being +Inf; else 0,
 * with *kend the first overflowing magnitude (the values below it make the error). */
static int search_overflows(const struct fpq_search *s, fpqi_search_work *w, size_t g, size_t f,
                            size_t id, float scale, uint32_t *top, uint32_t *kend)
{
    uint32_t k = s->params[f].max_mag; /* v_0 = 0 never overflows: k stops at 1 at the least */

    while (k > 1 && isinf(s->value[f][k - 1] * scale))
        k--;
    *kend = k;
    if (*top == UINT32_MAX)
        *top = search_counted_amax(s, w, g);
    return *top >= w->unique[w->pos[id + k - 1]]; /* |x| >= T_k: quantized to +-Inf */
}

static void search_fast_batch(const struct fpq_search *s, fpqi_search_work *w, size_t g,
                              size_t f0, size_t f1, double *errs)
{
    size_t base[FPQI_SEARCH_MAX_FORMATS], nkeys, nids, nu, f;
    int c, nc = s->opt.num_candidates;
    uint32_t top = UINT32_MAX;
    search_slotter sl;
    double s2;

    nkeys = search_collect(s, w, f0, f1, base, &nids);
    if (nkeys == 0) /* every candidate invalid: errs already +Inf */
        return;
    nu = search_unique(w, search_sort(w, f0, nids, nkeys), nkeys);
    search_slotter_make(w, nu, s->groups[g].n, &sl);
    s2 = search_accumulate(s, w, g, &sl, nu, w->stats);
    for (f = f0; f < f1; f++) {
        size_t per;
        if (!search_is_fast(s, f))
            continue;
        per = search_ids_per_candidate(s, f);
        for (c = 0; c < nc; c++) {
            size_t at = f * (size_t)nc + (size_t)c, id = base[f] + (size_t)c * per;
            float sc = w->scales[at];
            uint32_t kk = s->params[f].max_mag, kend = kk + 1;
            if (sc == 0.0f)
                continue;
            if (isinf(s->value[f][kk] * sc) &&
                search_overflows(s, w, g, f, id, sc, &top, &kend))
                continue; /* errs[at] stays +Inf */
            errs[at] = search_candidate_error(s, w, w->stats, s2, nu, f, id, sc, kend);
        }
    }
}

/* ---- exhaustive path ---------------------------------------------------------------------- */

typedef struct search_sums {
    double a, b, c; /* L2/L1/weighted: a = error; cosine: a = <x,q>, b = |x|^2, c = |q|^2 */
} search_sums;

static void search_add_sums(int objective, const float *x, const float *q, const float *wt,
                            size_t n, search_sums *acc)
{
    size_t i;
    for (i = 0; i < n; i++) {
        double d = (double)x[i] - (double)q[i];
        switch (objective) {
        case FPQ_OBJECTIVE_L1:
            acc->a += fabs(d);
            break;
        case FPQ_OBJECTIVE_WEIGHTED_L2:
            if (wt[i] > 0.0f) /* weight 0 adds nothing, even to an infinite q (0 * Inf) */
                acc->a += (double)wt[i] * d * d;
            break;
        case FPQ_OBJECTIVE_COSINE:
            acc->a += (double)x[i] * (double)q[i];
            acc->b += (double)x[i] * (double)x[i];
            acc->c += (double)q[i] * (double)q[i];
            break;
        default:
            acc->a += d * d;
            break;
        }
    }
}

/* Copies the finite elements of x[0..n) (and their weights) to xo / wo; returns how many. */
static size_t search_compact(const float *x, const float *wt, size_t n, float *xo, float *wo)
{
    size_t i, m = 0;
    for (i = 0; i < n; i++) {
        if ((fpqi_f2u(x[i]) & 0x7fffffffu) >= SEARCH_FINITE_LIMIT)
            continue;
        xo[m] = x[i];
        if (wt)
            wo[m] = wt[i];
        m++;
    }
    return m;
}

static double search_cosine_error(const search_sums *acc)
{
    double cosv;
    if (acc->b == 0.0)
        return 0.0;
    if (acc->c == 0.0)
        return 1.0;
    if (isinf(acc->c)) /* some q is +-Inf: the error overflows (Inf / Inf would be NaN) */
        return (double)INFINITY;
    cosv = acc->a / (sqrt(acc->b) * sqrt(acc->c));
    cosv = cosv > 1.0 ? 1.0 : cosv < -1.0 ? -1.0 : cosv;
    return 1.0 - cosv;
}

static double search_exhaustive_error(const struct fpq_search *s, fpqi_search_work *w,
                                      size_t g, size_t f, float scale)
{
    const fpqi_search_group *grp = &s->groups[g];
    const fpqi_kernels *k = fpqi_active_kernels();
    const fpqi_params *p = &s->params[f];
    int obj = s->opt.objective;
    search_sums acc = {0.0, 0.0, 0.0};
    size_t off = 0;

    if (obj == FPQ_OBJECTIVE_CALLBACK) {
        size_t m = 0, len;
        double e;
        for (off = 0; off < grp->n; off += len) {
            const float *x, *wt;
            len = fpqi_search_read(s, g, off, SEARCH_CHUNK, w->rbuf, w->rwbuf, &x, &wt);
            m += search_compact(x, NULL, len, w->xbuf + m, NULL);
        }
        k->fake_quantize(p, w->xbuf, 0, m, scale, 0, w->qbuf);
        e = s->opt.callback(s->opt.callback_user, g, w->xbuf, w->qbuf, m);
        return e == e ? e : (double)INFINITY;
    }
    while (off < grp->n) {
        const float *x, *wt;
        size_t len = fpqi_search_read(s, g, off, SEARCH_CHUNK, w->rbuf, w->rwbuf, &x, &wt);
        size_t m = len;
        if (grp->nonfinite) {
            m = search_compact(x, wt, len, w->xbuf, w->wbuf);
            x = w->xbuf;
            wt = wt ? w->wbuf : NULL;
        }
        if (m > 0) {
            k->fake_quantize(p, x, 0, m, scale, 0, w->qbuf);
            search_add_sums(obj, x, w->qbuf, wt, m, &acc);
        }
        off += len;
    }
    return obj == FPQ_OBJECTIVE_COSINE ? search_cosine_error(&acc) : acc.a;
}

/* ---- one group ---------------------------------------------------------------------------- */

void fpqi_search_eval_group(const struct fpq_search *s, fpqi_search_work *w, size_t g,
                            double *errs)
{
    const fpqi_search_group *grp = &s->groups[g];
    float amax = fpqi_u2f(grp->amax_bits);
    size_t f, nc = (size_t)s->opt.num_candidates, ids;

    for (f = 0; f < s->num_formats; f++) {
        size_t c;
        for (c = 0; c < nc; c++) {
            w->scales[f * nc + c] = fpqi_search_candidate_scale(s, f, (int)c, amax);
            errs[f * nc + c] = (double)INFINITY;
        }
    }
    f = 0;
    while (f < s->num_formats) {
        size_t end = search_batch_end(s, f, &ids);
        if (ids > 0)
            search_fast_batch(s, w, g, f, end, errs);
        f = end > f ? end : f + 1;
    }
    for (f = 0; f < s->num_formats; f++) {
        size_t c;
        if (search_is_fast(s, f))
            continue;
        for (c = 0; c < nc; c++)
            if (w->scales[f * nc + c] != 0.0f)
                errs[f * nc + c] = search_exhaustive_error(s, w, g, f, w->scales[f * nc + c]);
    }
}

#undef SEARCH_MAX_IDS
#undef SEARCH_CHUNK
#undef SEARCH_FINITE_LIMIT
#undef SEARCH_TABLE_PER_THRESHOLD
#undef SEARCH_MARKED_KEY
#undef SEARCH_SKIPPED
