/*
 * search_eval.c - the error of every candidate scale of every format for one group.
 *
 * The fast path (L2, L1 and weighted L2 on signed formats, whose grids are symmetric so that
 * only |x| matters): the quantizer maps |x| to the k-th non-negative value v_k of the format
 * exactly when T_k <= |x| < T_(k+1), where T_k is the smallest float32 that the kernel itself
 * rounds to v_k or above. The T_k of every candidate are found with the kernel's own division
 * and encoder (fpq_round.h), so ties at midpoints and last-bit effects of x / scale fall where
 * the kernels put them. All thresholds of a batch of formats are merged into one sorted list;
 * one pass over the group sums (weight, w|x|, w x^2) per slot between consecutive thresholds;
 * prefix sums then give each candidate's error as a sum over the format's values of
 *   sum_{interval k} w (|x| - y_k)^2 = S2 - 2 y_k S1 + y_k^2 S0,   y_k = v_k * scale (float32),
 * so a candidate costs O(number of values), whatever the size of the group. L1 also splits
 * each interval at y_k (|x| - y_k changes sign there).
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
/* Entries past the last threshold, above every float32, that end the slot search. */
#define SEARCH_SENTINELS 1
/* Marks a table entry whose key some threshold shares: a few compares finish the search. */
#define SEARCH_SHARED_KEY 0x80000000u

struct fpqi_search_work {
    size_t max_ids, max_group;
    uint64_t *keys, *keys_tmp; /* threshold bits << 32 | id, and the radix sort's other half */
    uint32_t *unique;          /* the distinct thresholds, ascending (float32 bits) */
    uint32_t *pos;             /* id -> index in unique */
    uint32_t *table;           /* key of |x| -> first threshold with that key or more */
    double *stats;             /* per slot: sum w, sum w|x|, sum w x^2 */
    float *scales;             /* [num_formats * num_candidates] candidate scales */
    float *xbuf, *wbuf, *qbuf; /* exhaustive path: finite elements, weights, quantized */
    float *rbuf, *rwbuf;       /* SEARCH_CHUNK elements and weights read from a group */
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

size_t fpqi_search_work_bytes(const struct fpq_search *s, size_t max_group)
{
    size_t ids = search_max_ids(s), buf = search_buf_len(s, max_group);
    size_t cands = s->num_formats * (size_t)s->opt.num_candidates;
    return search_align(sizeof(struct fpqi_search_work)) + 2 * search_align(ids * 8) +
           search_align((ids + SEARCH_SENTINELS) * 4) + search_align(ids * 4) +
           search_align(search_table_cap(ids, max_group) * 4) +
           search_align((ids + 2) * 3 * sizeof(double)) + search_align(cands * 4) +
           3 * search_align(buf * 4) + 2 * search_align(SEARCH_CHUNK * 4);
}

fpqi_search_work *fpqi_search_work_init(const struct fpq_search *s, size_t max_group,
                                        void *mem)
{
    size_t ids = search_max_ids(s), buf = search_buf_len(s, max_group);
    size_t cands = s->num_formats * (size_t)s->opt.num_candidates;
    unsigned char *m = (unsigned char *)mem;
    fpqi_search_work *w = (fpqi_search_work *)mem;

    m += search_align(sizeof *w);
    w->max_ids = ids;
    w->max_group = max_group;
    w->keys = (uint64_t *)m;
    m += search_align(ids * 8);
    w->keys_tmp = (uint64_t *)m;
    m += search_align(ids * 8);
    w->unique = (uint32_t *)m;
    m += search_align((ids + SEARCH_SENTINELS) * 4);
    w->pos = (uint32_t *)m;
    m += search_align(ids * 4);
    w->table = (uint32_t *)m;
    m += search_align(search_table_cap(ids, max_group) * 4);
    w->stats = (double *)m;
    m += search_align((ids + 2) * 3 * sizeof(double));
    w->scales = (float *)m;
    m += search_align(cands * 4);
    w->xbuf = (float *)m;
    m += search_align(buf * 4);
    w->wbuf = (float *)m;
    m += search_align(buf * 4);
    w->qbuf = (float *)m;
    m += search_align(buf * 4);
    w->rbuf = (float *)m;
    m += search_align(SEARCH_CHUNK * 4);
    w->rwbuf = (float *)m;
    w->buf_len = buf;
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

/* Whether the kernel quantizes the magnitude with float32 bits a to code magnitude k or more:
 * its quotient reaches the format's quotient threshold (the kernels' x / scale, exactly). */
FPQI_INLINE int search_reaches(uint32_t a, float scale, float quotient)
{
    return fpqi_u2f(a) / scale >= quotient;
}

/*
 * The bits of the smallest float32 that quantizes to a magnitude >= k, given the quotient
 * threshold of k: the quotient is monotone in |x|, 0 stays below and FLT_MAX reaches any
 * threshold (its quotient saturates), so a bracket always exists. It is found by doubling
 * steps from the guess quotient * scale (usually right, or one ulp off) and bisected.
 */
static uint32_t search_threshold(float scale, float quotient)
{
    const uint32_t top = 0x7f7fffffu;
    double guess = (double)quotient * (double)scale;
    uint32_t g = guess >= (double)FLT_MAX ? top : fpqi_f2u((float)guess);
    uint32_t lo, hi, step = 1;

    if (search_reaches(g, scale, quotient)) {
        hi = g;
        for (;;) {
            lo = hi > step ? hi - step : 0;
            if (lo == 0 || !search_reaches(lo, scale, quotient))
                break;
            hi = lo;
            step = step < (1u << 30) ? step << 1 : step;
        }
    } else {
        lo = g;
        for (;;) {
            hi = top - lo > step ? lo + step : top;
            if (hi == top && !search_reaches(top, scale, quotient))
                return 0x7f800000u; /* no float32 gets there: an infinite threshold */
            if (search_reaches(hi, scale, quotient))
                break;
            lo = hi;
            step = step < (1u << 30) ? step << 1 : step;
        }
    }
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (search_reaches(mid, scale, quotient))
            hi = mid;
        else
            lo = mid;
    }
    return hi;
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

/* Collects the thresholds of formats [f0, f1) (fast ones) as keys; ids start at base[f]. */
static size_t search_collect(const struct fpq_search *s, fpqi_search_work *w, size_t f0,
                             size_t f1, size_t *base)
{
    size_t f, nkeys = 0, id = 0;
    int c, nc = s->opt.num_candidates;
    int l1 = s->opt.objective == FPQ_OBJECTIVE_L1;

    for (f = f0; f < f1; f++) {
        const fpqi_params *p = &s->params[f];
        size_t per;
        if (!search_is_fast(s, f))
            continue;
        per = search_ids_per_candidate(s, f);
        base[f] = id;
        for (c = 0; c < nc; c++, id += per) {
            float sc = w->scales[f * (size_t)nc + (size_t)c];
            uint32_t k;
            if (sc == 0.0f)
                continue;
            for (k = 1; k <= p->max_mag; k++) {
                uint32_t t = search_threshold(sc, s->quotient[f][k]);
                w->keys[nkeys++] = (uint64_t)t << 32 | (uint64_t)(id + k - 1);
                if (l1) {
                    uint32_t y = fpqi_f2u(s->value[f][k] * sc) & 0x7fffffffu;
                    w->keys[nkeys++] = (uint64_t)y << 32 | (uint64_t)(id + p->max_mag + k - 1);
                }
            }
        }
    }
    return nkeys;
}

/* Sorted keys -> the distinct thresholds and each id's index among them. */
static size_t search_unique(fpqi_search_work *w, const uint64_t *sorted, size_t nkeys)
{
    size_t i, nu = 0;
    for (i = 0; i < nkeys; i++) {
        uint32_t t = (uint32_t)(sorted[i] >> 32);
        if (nu == 0 || w->unique[nu - 1] != t)
            w->unique[nu++] = t;
        w->pos[(uint32_t)sorted[i]] = (uint32_t)(nu - 1);
    }
    return nu;
}

/* A lookup of the slot of |x| (the number of thresholds <= |x|): the table maps the high bits
 * of |x| (bits >> shift) to the first threshold whose high bits are as large, marked
 * SEARCH_SHARED_KEY when some threshold has that key; at most `run` thresholds share one. The
 * thresholds are followed by SEARCH_SENTINELS entries above every float, which end a search.
 * Large groups get a large table where most keys hold no threshold: their entry is the slot,
 * and a rare branch finishes the others (search_slot_sparse). Small groups get a small table
 * where most keys hold one: `run` compares without branches (search_slot_dense). */
typedef struct search_slotter {
    const uint32_t *unique, *table;
    uint32_t nu, kmin, kmax;
    int shift, run, sparse;
} search_slotter;

/* Table entries for nu thresholds and a group of n elements: one per threshold, and more
 * for large groups, whose pass over the data dominates, up to 2^18 (1 MiB). */
static size_t search_table_cap(size_t nu, size_t n)
{
    size_t big = n / 4 < ((size_t)1 << 18) ? n / 4 : ((size_t)1 << 18);
    return nu + 64 > big ? nu + 64 : big;
}

static void search_slotter_make(fpqi_search_work *w, size_t nu, size_t n, search_slotter *sl)
{
    uint32_t lo = w->unique[0], hi = w->unique[nu - 1], j, len;
    size_t i = 0, cap = search_table_cap(nu, n), prev = 0;
    int shift = 0, run = 0;

    while ((size_t)((hi >> shift) - (lo >> shift)) + 1 > cap)
        shift++;
    for (i = 0; i < SEARCH_SENTINELS; i++)
        w->unique[nu + i] = 0xffffffffu;
    sl->unique = w->unique;
    sl->table = w->table;
    sl->nu = (uint32_t)nu;
    sl->shift = shift;
    sl->kmin = lo >> shift;
    sl->kmax = hi >> shift;
    len = sl->kmax - sl->kmin + 1;
    i = 0;
    for (j = 0; j <= len; j++) {
        while (i < nu && (w->unique[i] >> shift) < sl->kmin + j)
            i++;
        if (j > 0 && i > prev) { /* thresholds with key kmin + j - 1 */
            w->table[j - 1] |= SEARCH_SHARED_KEY;
            run = (int)(i - prev) > run ? (int)(i - prev) : run;
        }
        prev = i;
        if (j < len)
            w->table[j] = (uint32_t)i;
    }
    sl->run = run;
    sl->sparse = n >= 16 * nu || run > 8;
}

FPQI_INLINE uint32_t search_slot_sparse(const search_slotter *sl, uint32_t a)
{
    uint32_t key = a >> sl->shift, j;
    if (key < sl->kmin)
        return 0;
    if (key > sl->kmax)
        return sl->nu;
    j = sl->table[key - sl->kmin];
    if (!(j & SEARCH_SHARED_KEY))
        return j;
    j &= ~SEARCH_SHARED_KEY;
    while (sl->unique[j] <= a)
        j++;
    return j;
}

FPQI_INLINE uint32_t search_slot_dense(const search_slotter *sl, uint32_t a)
{
    uint32_t key = a >> sl->shift, j;
    int t;
    if (key < sl->kmin)
        return 0;
    if (key > sl->kmax)
        return sl->nu;
    j = sl->table[key - sl->kmin] & ~SEARCH_SHARED_KEY;
    for (t = 0; t < sl->run; t++)
        j += sl->unique[j] <= a;
    return j;
}

/* Adds x[0..len) (weights wt, or 1) to the slots: slot j at st[3 * (j + 1)]. */
static void search_accumulate_run(const search_slotter *sl, const float *x, const float *wt,
                                  size_t len, double *st)
{
    size_t i;
    for (i = 0; i < len; i++) {
        uint32_t a = fpqi_f2u(x[i]) & 0x7fffffffu;
        double v, wi;
        double *slot;
        if (a >= SEARCH_FINITE_LIMIT)
            continue;
        v = (double)fpqi_u2f(a);
        wi = wt ? (double)wt[i] : 1.0;
        slot = st + 3 * (size_t)((sl->sparse ? search_slot_sparse(sl, a)
                                             : search_slot_dense(sl, a)) + 1);
        slot[0] += wi;
        slot[1] += wi * v;
        slot[2] += wi * v * v;
    }
}

static void search_accumulate(const struct fpq_search *s, fpqi_search_work *w, size_t g,
                              const search_slotter *sl, double *st)
{
    size_t i, off, len, n = s->groups[g].n, nu = sl->nu;
    double s0 = 0, s1 = 0, s2 = 0;

    memset(st, 0, (nu + 2) * 3 * sizeof(double));
    for (off = 0; off < n; off += len) {
        const float *x, *wt;
        len = fpqi_search_read(s, g, off, SEARCH_CHUNK, w->rbuf, w->rwbuf, &x, &wt);
        search_accumulate_run(sl, x, wt, len, st);
    }
    /* Slot j sits at st[3 * (j + 1)]; running sums turn that into P[j] = sum of the slots
     * below j at st[3 * j], so a range of slots [lo, hi) sums to P[hi] - P[lo]. */
    for (i = 0; i <= nu + 1; i++) {
        double *e = st + 3 * i;
        s0 += e[0];
        s1 += e[1];
        s2 += e[2];
        e[0] = s0;
        e[1] = s1;
        e[2] = s2;
    }
}

static double search_range(const double *st, size_t lo, size_t hi, int which)
{
    return st[3 * hi + (size_t)which] - st[3 * lo + (size_t)which];
}

/* The error of one candidate from the prefix sums, over the values 0..kend-1 (kend <= kk + 1:
 * the intervals from kend on hold nothing that counts). */
static double search_candidate_error(const struct fpq_search *s, const fpqi_search_work *w,
                                     const double *st, size_t nu, size_t f, size_t id,
                                     float scale, uint32_t kend)
{
    const fpqi_params *p = &s->params[f];
    uint32_t k, kk = p->max_mag;
    size_t lo = 0, hi;
    double err = 0.0;
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
            double s0 = search_range(st, lo, hi, 0), s1 = search_range(st, lo, hi, 1);
            double s2 = search_range(st, lo, hi, 2);
            double e = (s2 - y * s1) - y * (s1 - y * s0);
            err += e > 0.0 ? e : 0.0;
        }
        lo = hi;
    }
    return err;
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
    size_t base[FPQI_SEARCH_MAX_FORMATS], nkeys, nu, f;
    int c, nc = s->opt.num_candidates;
    uint32_t top = UINT32_MAX;
    search_slotter sl;
    const uint64_t *sorted;

    nkeys = search_collect(s, w, f0, f1, base);
    if (nkeys == 0) /* every candidate invalid: errs already +Inf */
        return;
    sorted = search_sort_keys(w->keys, w->keys_tmp, nkeys);
    nu = search_unique(w, sorted, nkeys);
    search_slotter_make(w, nu, s->groups[g].n, &sl);
    search_accumulate(s, w, g, &sl, w->stats);
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
            errs[at] = search_candidate_error(s, w, w->stats, nu, f, id, sc, kend);
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
#undef SEARCH_SENTINELS
#undef SEARCH_SHARED_KEY
