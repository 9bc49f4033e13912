/*
 * search.h - what the tensor-level search's two files share: the search object with its
 * calibration store (search.c), and the evaluation of one group's candidates (search_eval.c).
 * Not installed.
 */
#ifndef FPQ_SEARCH_H
#define FPQ_SEARCH_H

#include "fpq_internal.h"

#define FPQI_SEARCH_MAX_FORMATS 64
#define FPQI_SEARCH_MAX_CANDIDATES 4096

/* One scale group's data: every element added so far, as float32, in arrival order
 * (non-finite ones too: they are skipped when evaluating, and counted here), and the weights
 * for the weighted objective. */
typedef struct fpqi_search_group {
    float *x;
    float *w;         /* NULL unless the objective is weighted L2 */
    size_t n, cap;    /* elements stored, and room */
    size_t nonfinite; /* how many of them are NaN or Inf */
    uint32_t amax_bits; /* bits of the largest finite |x| (0 when none) */
} fpqi_search_group;

/* The caller's tensor, read in place by the one-shot fpq_search_tensor (no copy). */
typedef struct fpqi_search_source {
    const unsigned char *x;
    const float *w;        /* weights as fpq_search_add takes them, or NULL */
    size_t stride;         /* in elements */
    size_t elem_size;
    int elem_type;
    int w_per_column;
} fpqi_search_source;

struct fpq_search {
    fpq_allocator alloc;
    const fpqi_search_source *borrowed; /* NULL: groups hold their data */
    fpq_search_options opt;
    size_t num_formats;
    fpq_format formats[FPQI_SEARCH_MAX_FORMATS];
    fpqi_params params[FPQI_SEARCH_MAX_FORMATS];
    float max_finite[FPQI_SEARCH_MAX_FORMATS];
    /* Signed formats: value k = the k-th non-negative value (code magnitude k, 0..max_mag),
     * and quotient[k] = the smallest float32 quotient x / scale the encoder rounds to a
     * magnitude >= k (k >= 1): every rounding decision of the kernels, ties included, is
     * "quotient >= quotient[k]". */
    float value[FPQI_SEARCH_MAX_FORMATS][128];
    float quotient[FPQI_SEARCH_MAX_FORMATS][128];
    /* Fixed by the first batch: */
    int have_shape, granularity, block_shift;
    size_t rows, cols, blocks_per_row, num_groups;
    fpqi_search_group *groups;
    size_t bytes; /* what the object holds, for fpq_search_memory */
};

/* Up to `max` elements of group g from element `off` on (in the group's order), as float32:
 * *xp (and *wp, the weights, NULL when unweighted) point either into the data or into
 * buf / wbuf (max floats each), filled. Returns how many (>= 1 while off < n). */
FPQI_HIDDEN size_t fpqi_search_read(const struct fpq_search *s, size_t g, size_t off,
                                    size_t max, float *buf, float *wbuf, const float **xp,
                                    const float **wp);

/* Per-thread work space of the evaluation, sized by fpqi_search_work_bytes. */
typedef struct fpqi_search_work fpqi_search_work;

/* Bytes of one thread's work space for this object (formats, candidates, objective, and the
 * largest group when the objective needs a whole quantized group). */
FPQI_HIDDEN size_t fpqi_search_work_bytes(const struct fpq_search *s, size_t max_group);

/* Lays a work space out in `mem` (fpqi_search_work_bytes bytes, aligned for any object). */
FPQI_HIDDEN fpqi_search_work *fpqi_search_work_init(const struct fpq_search *s,
                                                    size_t max_group, void *mem);

/* The float32 scale of candidate c of format f for a group whose largest finite |x| is amax
 * (> 0), or 0 when that scale is not a valid one. */
FPQI_HIDDEN float fpqi_search_candidate_scale(const struct fpq_search *s, size_t f, int c,
                                             float amax);

/* errs[f * num_candidates + c] = the error of group g at candidate c of format f, for every
 * format and candidate (+Inf for an invalid scale). The group holds a finite non-zero
 * element. Runs in the caller's floating-point environment (the default one). */
FPQI_HIDDEN void fpqi_search_eval_group(const struct fpq_search *s, fpqi_search_work *w,
                                        size_t g, double *errs);

#endif
