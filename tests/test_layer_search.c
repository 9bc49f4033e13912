/*
 * test_layer_search.c - the layer-level search (fpq_layer_search_*): agreement with the LLM-FP4
 * reference's calibration of one W4A4 layer (tests/data/llmfp4/layer), the reported errors
 * against an independent recomputation, invariance to batch splits and thread counts,
 * per-channel against per-tensor activations on outlier channels, bad input and a failing
 * allocator.
 */
#include "fpq_test.h"

#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reference layer: W [128 x 256], X [32 x 16 tokens x 256]; its summary.json ("layer"):
 * weights e2m1, activations e2m1, a_interval -3.802626132965088 (zero point -4). */
#define REF_OUT 128
#define REF_IN 256
#define REF_TOKENS 512
#define REF_A_INTERVAL (-3.802626132965088)

/* ----- an independent model of the objective ---------------------------------------------- */

/* y = x w^T in double for T tokens, O outputs, I inputs. */
static double *ls_matmul(const float *x, const float *w, size_t T, size_t O, size_t I)
{
    double *y = (double *)malloc(T * O * sizeof(double));
    size_t t, r, k;
    for (t = 0; t < T; t++)
        for (r = 0; r < O; r++) {
            double s = 0.0;
            for (k = 0; k < I; k++)
                s += (double)x[t * I + k] * (double)w[r * I + k];
            y[t * O + r] = s;
        }
    return y;
}

/* The error measures as the header defines them, over n pairs with stride `step`. */
static double ls_measure(int metric, const double *y, const double *yh, size_t n, size_t step)
{
    double s = 0.0, sy = 0.0, sh = 0.0, syy = 0.0, shh = 0.0, syh = 0.0;
    size_t j;
    for (j = 0; j < n; j++) {
        double a = y[j * step], b = yh[j * step], d = a - b;
        switch (metric) {
        case FPQ_LAYER_METRIC_L1: s += fabs(d); break;
        case FPQ_LAYER_METRIC_ABS_WEIGHTED_L2: s += fabs(a) * d * d; break;
        case FPQ_LAYER_METRIC_SQUARE_WEIGHTED_L2: s += a * a * d * d; break;
        default: s += d * d; break;
        }
        sy += a;
        sh += b;
        syy += a * a;
        shh += b * b;
        syh += a * b;
    }
    if (metric == FPQ_LAYER_METRIC_COSINE)
        return 1.0 - syh / sqrt(syy * shh);
    if (metric == FPQ_LAYER_METRIC_PEARSON)
        return 1.0 - (syh - sy * sh / (double)n) /
                         sqrt((syy - sy * sy / (double)n) * (shh - sh * sh / (double)n));
    return s / (double)n;
}

/* Fake-quantized copies of w (per-row scales) and x (per-column scales). */
static void ls_fake(const fpq_format *f, const float *src, size_t rows, size_t cols,
                    const float *scales, int per_row, float *dst)
{
    size_t r, c;
    for (r = 0; r < rows; r++)
        for (c = 0; c < cols; c++)
            fpq_fake_quantize(f, src + r * cols + c, 1, per_row ? scales[r] : scales[c], 0,
                              dst + r * cols + c);
}

/* The deployed layer's output in double: W' = W with column c times 2^-off[c] (exact for the
 * tests' data), fake-quantized per row at wsc; X fake-quantized per column at csc (the shared
 * scale times 2^-off[c]), times 2^off[c] (the shared-bias values the engine multiplies);
 * then X^ W'^T. */
static double *ls_deployed(const fpq_format *wf, const fpq_format *af, const float *w,
                           const float *x, size_t T, size_t O, size_t I, const float *wsc,
                           const float *csc, const int *off)
{
    float *wfold = (float *)malloc(sizeof(float) * O * I);
    float *wq = (float *)malloc(sizeof(float) * O * I);
    float *xq = (float *)malloc(sizeof(float) * T * I);
    double *yq;
    size_t i;
    memcpy(wfold, w, sizeof(float) * O * I);
    for (i = 0; i < O * I; i++)
        wfold[i] = ldexpf(wfold[i], -off[i % I]);
    ls_fake(wf, wfold, O, I, wsc, 1, wq);
    ls_fake(af, x, T, I, csc, 0, xq);
    for (i = 0; i < T * I; i++)
        xq[i] = ldexpf(xq[i], off[i % I]);
    yq = ls_matmul(xq, wq, T, O, I);
    free(wfold);
    free(wq);
    free(xq);
    return yq;
}

/* The deployed layer built with the library's reparameterization calls from a solve's L2
 * results: W' = fpq_reparam_fold(W, k), its codes per row at the search's scales
 * (fpq_tensor_quantize), the activation codes at the shared scale (fpq_reparam_quantize), and
 * fpq_reparam_linear_reference's float32 output; and the same codes' output in double (the
 * reference's order of operations without its final rounding to float32). The search's total
 * and per-row errors must equal the latter's to 1e-12 and the float32 layer's to its
 * rounding. */
static void ls_check_pipeline(const fpq_layer_search_summary *sum, const float *w,
                              const float *x, size_t T, size_t O, size_t I, const float *wsc,
                              const int *off, const double *werr)
{
    fpq_tensor tw, tx;
    fpq_scales sc;
    float *wfold = (float *)malloc(sizeof(float) * O * I);
    float *y32 = (float *)malloc(sizeof(float) * T * O);
    uint8_t *wc = (uint8_t *)malloc(O * I), *xc = (uint8_t *)malloc(T * I), codes[256];
    double *y = ls_matmul(x, w, T, O, I), *yd = (double *)malloc(sizeof(double) * T * O);
    double *yf = (double *)malloc(sizeof(double) * T * O), total_d, total_f;
    float wv[256], xv[256];
    size_t t, r, k;

    memset(&tw, 0, sizeof tw);
    tw.struct_size = sizeof tw;
    tw.rows = O;
    tw.cols = tw.row_stride = I;
    tw.elem_type = FPQ_FLOAT32;
    tw.granularity = FPQ_PER_ROW;
    tx = tw;
    tx.rows = T;
    tx.granularity = FPQ_PER_TENSOR;
    memset(&sc, 0, sizeof sc);
    sc.struct_size = sizeof sc;
    sc.encoding = FPQ_SCALE_FLOAT32;
    sc.data = (float *)wsc;
    sc.count = O;
    for (k = 0; k < 256; k++)
        codes[k] = (uint8_t)k;
    CHECK(fpq_reparam_fold(&tw, w, off, wfold, NULL) == FPQ_OK);
    CHECK(fpq_tensor_quantize(&sum->weight_format, &tw, wfold, &sc, FPQ_UNPACKED, wc, O * I) ==
          FPQ_OK);
    CHECK(fpq_reparam_quantize(&sum->act_format, &tx, x, sum->act_scale, off, FPQ_UNPACKED, xc,
                               T * I) == FPQ_OK);
    CHECK(fpq_reparam_linear_reference(&sum->act_format, xc, T * I, T, I, sum->act_scale,
                                       &sum->weight_format, wc, O * I, O, wsc, NULL,
                                       FPQ_UNPACKED, y32) == FPQ_OK);
    fpq_dequantize(&sum->weight_format, codes, (size_t)1 << fpq_format_bits(&sum->weight_format),
                   1.0f, FPQ_UNPACKED, wv);
    fpq_dequantize(&sum->act_format, codes, (size_t)1 << fpq_format_bits(&sum->act_format), 1.0f,
                   FPQ_UNPACKED, xv);
    for (t = 0; t < T; t++)
        for (r = 0; r < O; r++) {
            double acc = 0.0;
            for (k = 0; k < I; k++)
                acc += (double)xv[xc[t * I + k]] * (double)wv[wc[r * I + k]];
            yd[t * O + r] = acc * ((double)sum->act_scale * (double)wsc[r]);
            yf[t * O + r] = (double)y32[t * O + r];
        }
    total_d = ls_measure(FPQ_LAYER_METRIC_L2, y, yd, T * O, 1);
    total_f = ls_measure(FPQ_LAYER_METRIC_L2, y, yf, T * O, 1);
    CHECKF(fabs(total_d - sum->total_error) <= 1e-12 * total_d,
           "total %.17g, deployed layer %.17g", sum->total_error, total_d);
    CHECKF(fabs(total_f - sum->total_error) <= 1e-5 * total_f,
           "total %.17g, deployed float32 layer %.17g", sum->total_error, total_f);
    for (r = 0; r < O; r++) {
        double e = ls_measure(FPQ_LAYER_METRIC_L2, y + r, yd + r, T, O);
        CHECKF(fabs(e - werr[r]) <= 1e-12 * e, "row %u: %.17g, deployed layer %.17g",
               (unsigned)r, werr[r], e);
    }
    free(wfold);
    free(y32);
    free(wc);
    free(xc);
    free(y);
    free(yd);
    free(yf);
}

/* ----- synthetic layers ------------------------------------------------------------------- */

static float ls_gauss(uint64_t *st)
{
    double u1 = ((double)(fpqt_rand(st) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(fpqt_rand(st) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* W [out x in] ~ N(0, 0.05^2); X [tokens x in] ~ N(0, 1) except every 8th channel, an outlier
 * channel: `outlier` x N(0, 1) clamped to +-3.5, and 4 x `outlier` at token 0, so that every
 * outlier channel has the same range (as the large channels of LLM activations have, where the
 * reference's offsets, each side rounded on its own, would otherwise give some of them an
 * offset of 1 and clip them: see docs/layer-search.md). */
static void ls_make_layer(uint64_t seed, size_t out, size_t in, size_t tokens, float outlier,
                          float **w, float **x)
{
    uint64_t st = seed;
    size_t i;
    *w = (float *)malloc(out * in * sizeof(float));
    *x = (float *)malloc(tokens * in * sizeof(float));
    for (i = 0; i < out * in; i++)
        (*w)[i] = 0.05f * ls_gauss(&st);
    for (i = 0; i < tokens * in; i++) {
        float g = ls_gauss(&st);
        if ((i % in) % 8 == 3)
            g = outlier * (i < in ? 4.0f : g > 3.5f ? 3.5f : g < -3.5f ? -3.5f : g);
        (*x)[i] = g;
    }
}

/* Everything a solve returns, to compare runs bit for bit. */
typedef struct ls_result {
    fpq_layer_search_summary sum;
    double wbias[64], werr[64], cbias[64];
    float wscale[64], cscale[64];
    int off[64];
} ls_result;

static int ls_solve(const fpq_layer_search_options *o, const float *w, const float *x,
                    size_t out, size_t in, const size_t *batches, int nbatches, ls_result *res)
{
    fpq_layer_search *s = NULL;
    size_t done = 0;
    int b, st = fpq_layer_search_create(w, out, in, o, &s);
    memset(res, 0, sizeof *res);
    for (b = 0; b < nbatches && st == FPQ_OK; b++) {
        st = fpq_layer_search_add_batch(s, x + done * in, batches[b]);
        done += batches[b];
    }
    if (st == FPQ_OK)
        st = fpq_layer_search_solve(s);
    if (st == FPQ_OK)
        st = fpq_layer_search_get_summary(s, &res->sum);
    if (st == FPQ_OK)
        st = fpq_layer_search_get_weights(s, res->wbias, res->wscale, res->werr, 64);
    if (st == FPQ_OK)
        st = fpq_layer_search_get_activations(s, res->cbias, res->off, res->cscale, 64);
    fpq_layer_search_destroy(s);
    return st;
}

/* ----- the reference layer ---------------------------------------------------------------- */

static void test_reference_layer(void)
{
    size_t nw, nx, nab, nxs, r, c, i;
    float *w = (float *)fpqt_read_data("llmfp4/layer/W.f32", &nw);
    float *x = (float *)fpqt_read_data("llmfp4/layer/X.f32", &nx);
    float *ab = (float *)fpqt_read_data("llmfp4/layer/a_bias.f32", &nab);
    float *xsim = (float *)fpqt_read_data("llmfp4/layer/x_sim_rows64.f32", &nxs);
    fpq_layer_search_options o;
    fpq_layer_search *s = NULL;
    fpq_layer_search_summary sum;
    fpq_format e2m1;
    double wb[REF_OUT], werr[REF_OUT], cb[REF_IN];
    float wsc[REF_OUT], csc[REF_IN];
    int off[REF_IN], xmis = 0, xcmp = 0;
    float *xq;
    double *y, *yq;

    if (!w || !x || !ab || !xsim)
        goto done;
    CHECK(nw == REF_OUT * REF_IN * 4 && nx == REF_TOKENS * REF_IN * 4 && nab == REF_IN * 4 &&
          nxs == 64 * REF_IN * 4);
    fpq_format_from_name("e2m1", &e2m1);
    CHECK(fpq_layer_search_options_init(&o, 4) == FPQ_OK);
    CHECK(fpq_layer_search_create(w, REF_OUT, REF_IN, &o, &s) == FPQ_OK);
    CHECK(fpq_layer_search_add_batch(s, x, REF_TOKENS) == FPQ_OK);
    CHECK(fpq_layer_search_solve(s) == FPQ_OK);
    CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_OK);
    CHECK(fpq_layer_search_get_weights(s, wb, wsc, werr, REF_OUT) == FPQ_OK);
    CHECK(fpq_layer_search_get_activations(s, cb, off, csc, REF_IN) == FPQ_OK);
    fpq_layer_search_destroy(s);

    /* the formats and the shared bias the reference chose */
    CHECK(memcmp(&sum.weight_format, &e2m1, sizeof e2m1) == 0);
    CHECK(memcmp(&sum.act_format, &e2m1, sizeof e2m1) == 0);
    CHECKF(fabs(sum.act_bias - REF_A_INTERVAL) < 1e-6, "b~ %.9f", sum.act_bias);
    CHECK(sum.tokens == REF_TOKENS && sum.act_mode == FPQ_LAYER_ACT_PER_CHANNEL);

    /* per-channel biases (max-based: float32 in the reference) and the offsets of its rule,
     * computed here from the reference's own biases and zero point -4 */
    for (c = 0; c < REF_IN; c++) {
        double rb = nearbyint((double)ab[c]);
        int k = (int)((rb < -4.0 ? -4.0 : rb > -1.0 ? -1.0 : rb) + 4.0);
        CHECKF(fabs(cb[c] - ab[c]) <= 1e-6 * fabs(ab[c]) + 1e-6, "b_%u", (unsigned)c);
        CHECKF(off[c] == k, "k_%u: %d, reference %d", (unsigned)c, off[c], k);
        CHECK(csc[c] == ldexpf(sum.act_scale, -off[c]));
    }

    /* per-row weight biases: the search quantizes the folded W' = W 2^-k (what is deployed),
     * the reference its unfolded W (its simulation multiplies Q(W) by 2^-k), so their biases
     * are not comparable; each row's reported error is that of the deployed layer */
    y = ls_matmul(x, w, REF_TOKENS, REF_OUT, REF_IN);
    yq = ls_deployed(&e2m1, &e2m1, w, x, REF_TOKENS, REF_OUT, REF_IN, wsc, csc, off);
    for (r = 0; r < REF_OUT; r++) {
        double mine = ls_measure(FPQ_LAYER_METRIC_L2, y + r, yq + r, REF_TOKENS, REF_OUT);
        CHECKF(fabs(mine - werr[r]) <= 1e-6 * mine, "row %u error %.12g vs %.12g",
               (unsigned)r, werr[r], mine);
    }
    CHECK(sum.total_error < sum.max_based_error);
    {
        double total = ls_measure(FPQ_LAYER_METRIC_L2, y, yq, REF_TOKENS * REF_OUT, 1);
        CHECKF(fabs(total - sum.total_error) <= 1e-6 * total, "total %.9f, recomputed %.9f",
               sum.total_error, total);
    }

    /* fake-quantized activations equal the reference's x_sim below the format's largest value
     * (the quirk lets the reference go one level higher) */
    xq = (float *)malloc(sizeof(float) * REF_TOKENS * REF_IN);
    ls_fake(&e2m1, x, REF_TOKENS, REF_IN, csc, 0, xq);
    for (i = 0; i < 64 * REF_IN; i++) {
        if (fabsf(xsim[i]) >= 6.0f * csc[i % REF_IN] * (1.0f - 1e-6f))
            continue;
        xcmp++;
        if (fabsf(xq[i] - xsim[i]) > 1e-6f * fabsf(xsim[i]))
            xmis++;
    }
    CHECKF(xcmp > 64 * 250 && xmis == 0, "x_sim: %d of %d differ", xmis, xcmp);
    ls_check_pipeline(&sum, w, x, REF_TOKENS, REF_OUT, REF_IN, wsc, off, werr);
    free(y);
    free(yq);
    free(xq);
done:
    free(w);
    free(x);
    free(ab);
    free(xsim);
}

/* ----- properties on synthetic layers ----------------------------------------------------- */

enum { LS_OUT = 24, LS_IN = 40, LS_TOKENS = 70 };

static void ls_small_options(fpq_layer_search_options *o)
{
    fpq_layer_search_options_init(o, 4);
    o->grid_steps = 40;
    o->rounds = 2;
}

static int ls_same(const ls_result *a, const ls_result *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_batch_split(void)
{
    static const size_t one[] = {LS_TOKENS}, two[] = {33, 37}, seven[] = {1, 10, 9, 20, 5, 16, 9};
    fpq_layer_search_options o;
    ls_result *r1 = (ls_result *)malloc(3 * sizeof(ls_result)), *r2 = r1 + 1, *r7 = r1 + 2;
    float *w, *x;
    int mode;
    ls_make_layer(11, LS_OUT, LS_IN, LS_TOKENS, 20.0f, &w, &x);
    for (mode = FPQ_LAYER_ACT_PER_TENSOR; mode <= FPQ_LAYER_ACT_PER_CHANNEL; mode++) {
        ls_small_options(&o);
        o.act_mode = mode;
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, r1) == FPQ_OK);
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, two, 2, r2) == FPQ_OK);
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, seven, 7, r7) == FPQ_OK);
        CHECK(r1->sum.tokens == LS_TOKENS);
        CHECKF(ls_same(r1, r2) && ls_same(r1, r7), "mode %d", mode);
    }
    free(r1);
    free(w);
    free(x);
}

static void test_threads(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *a = (ls_result *)malloc(3 * sizeof(ls_result)), *b = a + 1, *c = a + 2;
    int m;
    float *w, *x;
    ls_make_layer(12, LS_OUT, LS_IN, LS_TOKENS, 20.0f, &w, &x);
    for (m = FPQ_LAYER_METRIC_L2; m <= FPQ_LAYER_METRIC_PEARSON; m += 4) {
        ls_small_options(&o);
        o.metric = m;
        fpq_set_num_threads(1);
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, a) == FPQ_OK);
        fpq_set_num_threads(2);
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, b) == FPQ_OK);
        fpq_set_num_threads(3);
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, c) == FPQ_OK);
        CHECKF(ls_same(a, b) && ls_same(a, c), "metric %d", m);
    }
    fpq_set_num_threads(0);
    free(a);
    free(w);
    free(x);
}

/* The caller's rounding mode does not change a bit of the result. */
static void test_rounding_mode(void)
{
    static const size_t two[] = {35, 35};
    static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    fpq_layer_search_options o;
    ls_result *a = (ls_result *)malloc(2 * sizeof(ls_result)), *b = a + 1;
    float *w, *x;
    int i;
    ls_make_layer(17, LS_OUT, LS_IN, LS_TOKENS, 20.0f, &w, &x);
    ls_small_options(&o);
    o.rounds = 1;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, two, 2, a) == FPQ_OK);
    for (i = 0; i < 3; i++) {
        int st;
        fesetround(modes[i]);
        st = ls_solve(&o, w, x, LS_OUT, LS_IN, two, 2, b);
        fesetround(FE_TONEAREST);
        CHECK(st == FPQ_OK);
        CHECKF(ls_same(a, b), "rounding mode %d", modes[i]);
    }
    free(a);
    free(w);
    free(x);
}

/* Every measure (per channel and per tensor in turn): the reported total and per-row errors
 * equal an independent recomputation of the deployed layer from the reported scales and
 * offsets, and the search does not end worse than where it started. */
static void test_reported_errors(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *res = (ls_result *)malloc(sizeof(ls_result));
    float *w, *x;
    double *y, *yq;
    int m;
    size_t r, t;
    ls_make_layer(13, LS_OUT, LS_IN, LS_TOKENS, 10.0f, &w, &x);
    y = ls_matmul(x, w, LS_TOKENS, LS_OUT, LS_IN);
    for (m = FPQ_LAYER_METRIC_L2; m <= FPQ_LAYER_METRIC_PEARSON; m++) {
        double total = 0.0;
        ls_small_options(&o);
        o.metric = m;
        o.act_mode = m % 2 ? FPQ_LAYER_ACT_PER_CHANNEL : FPQ_LAYER_ACT_PER_TENSOR;
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, res) == FPQ_OK);
        yq = ls_deployed(&res->sum.weight_format, &res->sum.act_format, w, x, LS_TOKENS,
                         LS_OUT, LS_IN, res->wscale, res->cscale, res->off);
        if (m == FPQ_LAYER_METRIC_COSINE) {
            for (t = 0; t < LS_TOKENS; t++)
                total += ls_measure(m, y + t * LS_OUT, yq + t * LS_OUT, LS_OUT, 1);
            total /= LS_TOKENS;
        } else {
            total = ls_measure(m, y, yq, LS_TOKENS * LS_OUT, 1);
        }
        /* 1e-5: the model rounds both operands to float32 (test_deployed_identity holds the
         * exact layer to 1e-12) */
        CHECKF(fabs(total - res->sum.total_error) <= 1e-5 * total + 1e-15,
               "metric %d: total %.12g, recomputed %.12g", m, res->sum.total_error, total);
        for (r = 0; r < LS_OUT; r++) {
            double e = ls_measure(m, y + r, yq + r, LS_TOKENS, LS_OUT);
            CHECKF(fabs(e - res->werr[r]) <= 1e-5 * e + 1e-15, "metric %d row %u: %.12g vs %.12g",
                   m, (unsigned)r, res->werr[r], e);
        }
        CHECKF(res->sum.total_error <= res->sum.max_based_error, "metric %d: %.9g vs %.9g", m,
               res->sum.total_error, res->sum.max_based_error);
        free(yq);
    }
    free(y);
    free(res);
    free(w);
    free(x);
}

/* A grid of one candidate g = 1 is the max-based start in both grids: nothing to search. */
static void test_single_candidate(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *res = (ls_result *)malloc(sizeof(ls_result));
    float *w, *x;
    int grid;
    ls_make_layer(14, LS_OUT, LS_IN, LS_TOKENS, 1.0f, &w, &x);
    for (grid = FPQ_LAYER_GRID_BIAS; grid <= FPQ_LAYER_GRID_CLIP; grid++) {
        ls_small_options(&o);
        o.num_weight_formats = o.num_act_formats = 1;
        fpq_format_from_name("e2m1", &o.weight_formats[0]);
        o.act_formats[0] = o.weight_formats[0];
        o.initial_weight_format = o.initial_act_format = 0;
        o.grid = grid;
        o.grid_alpha = o.grid_beta = 1.0;
        o.grid_steps = 1;
        o.rounds = 1;
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, res) == FPQ_OK);
        CHECKF(res->sum.total_error == res->sum.max_based_error, "grid %d: %g vs %g", grid,
               res->sum.total_error, res->sum.max_based_error);
        /* the max-based scale: amax / 6 for each row */
        {
            float amax = 0.0f, expect;
            size_t k;
            for (k = 0; k < LS_IN; k++)
                amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax;
            expect = amax / 6.0f;
            CHECKF(fabsf(res->wscale[0] - expect) <= 1e-6f * expect, "%g vs %g",
                   res->wscale[0], expect);
        }
    }
    free(res);
    free(w);
    free(x);
}

/* The 8-bit settings, and the INT4 grid e0m3 (E = 0: an offset window of one) in a list:
 * every search ends no worse than its max-based start, on a format of its lists. */
static void test_other_formats(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *res = (ls_result *)malloc(sizeof(ls_result));
    float *w, *x;
    int k;
    ls_make_layer(18, LS_OUT, LS_IN, LS_TOKENS, 20.0f, &w, &x);
    CHECK(fpq_layer_search_options_init(&o, 8) == FPQ_OK);
    o.grid_steps = 20;
    o.rounds = 1;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, res) == FPQ_OK);
    CHECK(res->sum.total_error <= res->sum.max_based_error);
    CHECK(res->sum.weight_format.exp_bits + res->sum.weight_format.man_bits == 7 &&
          res->sum.act_format.exp_bits >= 1 && res->sum.act_format.exp_bits <= 5);
    for (k = 0; k < LS_IN; k++)
        CHECK(res->off[k] >= 0 && res->off[k] <= (1 << res->sum.act_format.exp_bits) - 1);

    ls_small_options(&o);
    fpq_format_from_name("e0m3", &o.weight_formats[3]);
    o.act_formats[3] = o.weight_formats[3];
    o.num_weight_formats = o.num_act_formats = 4;
    o.initial_weight_format = o.initial_act_format = 3;
    o.act_mode = FPQ_LAYER_ACT_PER_CHANNEL;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, res) == FPQ_OK);
    CHECK(res->sum.total_error <= res->sum.max_based_error);
    if (res->sum.act_format.exp_bits == 0)
        for (k = 0; k < LS_IN; k++)
            CHECK(res->off[k] == 0);
    free(res);
    free(w);
    free(x);
}

/* LLM-FP4's point: on outlier channels, per-channel activation biases beat one shared bias. */
static void test_per_channel_outliers(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *pt = (ls_result *)malloc(2 * sizeof(ls_result)), *pc = pt + 1;
    float *w, *x;
    int k, spread = 0;
    ls_make_layer(15, LS_OUT, LS_IN, LS_TOKENS, 60.0f, &w, &x);
    ls_small_options(&o);
    o.act_mode = FPQ_LAYER_ACT_PER_TENSOR;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, pt) == FPQ_OK);
    o.act_mode = FPQ_LAYER_ACT_PER_CHANNEL;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, pc) == FPQ_OK);
    CHECKF(pc->sum.total_error < pt->sum.total_error, "per-channel %g, per-tensor %g",
           pc->sum.total_error, pt->sum.total_error);
    for (k = 0; k < LS_IN; k++) {
        CHECK(pt->off[k] == 0 && pt->cscale[k] == pt->sum.act_scale);
        spread |= pc->off[k] != 0;
        CHECK(pc->off[k] >= 0 && pc->off[k] <= (1 << pc->sum.act_format.exp_bits) - 1);
        if (k % 8 == 3)
            CHECK(pc->off[k] <= 1); /* outlier channels keep the widest ranges */
    }
    CHECK(spread);
    /* the reparameterization calls give the same biases, offsets and scale, bit for bit */
    {
        fpq_tensor t;
        float amax[LS_IN], shared = 0.0f;
        double biases[LS_IN];
        int offs[LS_IN];
        memset(&t, 0, sizeof t);
        t.struct_size = sizeof t;
        t.rows = LS_TOKENS;
        t.cols = t.row_stride = LS_IN;
        t.elem_type = FPQ_FLOAT32;
        t.granularity = FPQ_PER_COLUMN;
        memset(amax, 0, sizeof amax);
        CHECK(fpq_reparam_observe(&t, x, amax) == FPQ_OK);
        CHECK(fpq_reparam_biases(&pc->sum.act_format, amax, LS_IN, biases) == FPQ_OK);
        CHECK(fpq_reparam_offsets(&pc->sum.act_format, biases, LS_IN, pc->sum.act_bias, offs,
                                  &shared) == FPQ_OK);
        CHECK(memcmp(biases, pc->cbias, sizeof biases) == 0);
        CHECK(memcmp(offs, pc->off, sizeof offs) == 0);
        CHECK(fpqt_f2u(shared) == fpqt_f2u(pc->sum.act_scale));
    }
    free(pt);
    free(w);
    free(x);
}

/* The reported errors are those of the layer an engine deploys (fold, per-row weight codes,
 * shared-scale activation codes), per channel with offsets that differ between channels, and
 * per tensor. */
static void test_deployed_identity(void)
{
    static const size_t one[] = {LS_TOKENS};
    fpq_layer_search_options o;
    ls_result *res = (ls_result *)malloc(sizeof(ls_result));
    float *w, *x;
    int mode, k, spread;
    ls_make_layer(16, LS_OUT, LS_IN, LS_TOKENS, 60.0f, &w, &x);
    for (mode = FPQ_LAYER_ACT_PER_TENSOR; mode <= FPQ_LAYER_ACT_PER_CHANNEL; mode++) {
        ls_small_options(&o);
        o.act_mode = mode;
        CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, one, 1, res) == FPQ_OK);
        for (k = 1, spread = 0; k < LS_IN; k++)
            spread |= res->off[k] != res->off[0];
        CHECK(spread == (mode == FPQ_LAYER_ACT_PER_CHANNEL));
        ls_check_pipeline(&res->sum, w, x, LS_TOKENS, LS_OUT, LS_IN, res->wscale, res->off,
                          res->werr);
    }
    free(res);
    free(w);
    free(x);
}

/* ----- bad input and memory --------------------------------------------------------------- */

static void test_bad_input(void)
{
    fpq_layer_search_options o, keep;
    fpq_layer_search *s = NULL, *sentinel = (fpq_layer_search *)&keep;
    fpq_layer_search_summary sum;
    float w[8 * 4], x[16 * 4];
    double wb[8], wb_keep[8];
    int off[4];
    size_t i;
    for (i = 0; i < 32; i++)
        w[i] = (float)i - 15.5f;
    for (i = 0; i < 64; i++)
        x[i] = (float)(i % 7) - 3.0f;

    memset(&o, 0x5a, sizeof o);
    keep = o;
    CHECK(fpq_layer_search_options_init(NULL, 4) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_options_init(&o, 6) == FPQ_ERR_ARGUMENT);
    CHECK(memcmp(&o, &keep, sizeof o) == 0);
    CHECK(fpq_layer_search_options_init(&o, 8) == FPQ_OK);
    CHECK(o.num_weight_formats == 5 && o.weight_formats[4].man_bits == 6);
    CHECK(fpq_layer_search_options_init(&o, 4) == FPQ_OK);

    s = sentinel;
    CHECK(fpq_layer_search_create(NULL, 8, 4, &o, &s) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_create(w, 8, 4, NULL, &s) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_create(w, 8, 4, &o, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_create(w, 0, 4, &o, &s) == FPQ_ERR_SIZE);
    CHECK(fpq_layer_search_create(w, 8, 0, &o, &s) == FPQ_ERR_SIZE);
    CHECK(fpq_layer_search_create(w, (size_t)-1 / 2, 4, &o, &s) == FPQ_ERR_SIZE);
    CHECK(fpq_layer_search_create((const float *)((const char *)w + 1), 8, 4, &o, &s) ==
          FPQ_ERR_ALIGN);
    keep = o;
    o.struct_size = 8;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.reserved = 1;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.num_act_formats = 0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.num_weight_formats = FPQ_LAYER_MAX_FORMATS + 1;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.weight_formats[2].reserved[0] = 1;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_FORMAT);
    o = keep;
    fpq_format_from_name("float8_e8m0fnu", &o.act_formats[0]);
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_FORMAT);
    o = keep;
    o.initial_act_format = 3;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.grid = 3;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.grid_steps = 0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.grid_beta = NAN;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.grid_alpha = 2.0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.grid = FPQ_LAYER_GRID_CLIP;
    o.grid_alpha = 0.0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.rounds = 0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.metric = 7;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    o.act_mode = 0;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    o = keep;
    w[5] = NAN;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    w[5] = INFINITY;
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_ERR_ARGUMENT);
    w[5] = 1.0f;
    CHECK(s == sentinel);

    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_OK && s != sentinel);
    CHECK(fpq_layer_search_solve(s) == FPQ_ERR_SIZE); /* no batch yet */
    CHECK(fpq_layer_search_solve(NULL) == FPQ_ERR_NULL);
    memset(&sum, 0x5a, sizeof sum);
    memset(wb, 0x5a, sizeof wb);
    CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_layer_search_get_weights(s, wb, NULL, NULL, 8) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_layer_search_get_activations(s, NULL, off, NULL, 4) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_layer_search_get_summary(NULL, &sum) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_get_summary(s, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_add_batch(NULL, x, 16) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_add_batch(s, NULL, 16) == FPQ_ERR_NULL);
    CHECK(fpq_layer_search_add_batch(s, x, 0) == FPQ_ERR_SIZE);
    CHECK(fpq_layer_search_add_batch(s, x, (size_t)-1 / 8) == FPQ_ERR_SIZE);
    CHECK(fpq_layer_search_add_batch(s, (const float *)((const char *)x + 2), 4) ==
          FPQ_ERR_ALIGN);
    x[9] = -INFINITY;
    CHECK(fpq_layer_search_add_batch(s, x, 16) == FPQ_ERR_ARGUMENT);
    x[9] = NAN;
    CHECK(fpq_layer_search_add_batch(s, x, 16) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_layer_search_solve(s) == FPQ_ERR_SIZE); /* the rejected batches were not kept */
    x[9] = 1.0f;
    CHECK(fpq_layer_search_add_batch(s, x, 16) == FPQ_OK);
    CHECK(fpq_layer_search_solve(s) == FPQ_OK);
    CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_OK && sum.tokens == 16);
    memset(wb, 0x5a, sizeof wb);
    memset(wb_keep, 0x5a, sizeof wb_keep);
    CHECK(fpq_layer_search_get_weights(s, wb, NULL, NULL, 7) == FPQ_ERR_CAPACITY);
    CHECK(fpq_layer_search_get_activations(s, NULL, off, NULL, 3) == FPQ_ERR_CAPACITY);
    CHECK(fpq_layer_search_get_weights(NULL, wb, NULL, NULL, 8) == FPQ_ERR_NULL);
    CHECK(memcmp(wb, wb_keep, sizeof wb) == 0);
    CHECK(fpq_layer_search_get_weights(s, wb, NULL, NULL, 8) == FPQ_OK);
    CHECK(memcmp(wb, wb_keep, sizeof wb) != 0);
    /* more batches after a solve: the next solve uses them all */
    CHECK(fpq_layer_search_add_batch(s, x, 5) == FPQ_OK);
    CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_OK && sum.tokens == 16);
    CHECK(fpq_layer_search_solve(s) == FPQ_OK);
    CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_OK && sum.tokens == 21);
    /* data beyond float32's normal range: no valid scale for the max-based start */
    fpq_layer_search_destroy(s);
    CHECK(fpq_layer_search_create(w, 8, 4, &o, &s) == FPQ_OK);
    {
        float xb[4] = {1e-38f, -1e-38f, 1e-39f, 0.0f};
        CHECK(fpq_layer_search_add_batch(s, xb, 1) == FPQ_OK);
        CHECK(fpq_layer_search_solve(s) == FPQ_ERR_ARGUMENT);
        CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_ERR_ARGUMENT);
    }
    fpq_layer_search_destroy(s);
    fpq_layer_search_destroy(NULL);
}

/* An allocator that fails from the n-th call on, and counts what is live. */
typedef struct ls_budget {
    int calls, fail_at, live;
} ls_budget;

static void *ls_budget_alloc(void *user, size_t size)
{
    ls_budget *b = (ls_budget *)user;
    void *p;
    if (b->calls++ >= b->fail_at)
        return NULL;
    p = malloc(size);
    if (p)
        b->live++;
    return p;
}

static void ls_budget_free(void *user, void *ptr)
{
    ((ls_budget *)user)->live--;
    free(ptr);
}

static void test_failing_allocator(void)
{
    static const size_t batches[] = {30, 40};
    fpq_layer_search_options o;
    fpq_allocator a;
    ls_budget b;
    ls_result *ref = (ls_result *)malloc(2 * sizeof(ls_result)), *got = ref + 1;
    float *w, *x;
    int n, st = FPQ_ERR_MEMORY, create_fails = 0, solve_fails = 0;
    ls_make_layer(16, LS_OUT, LS_IN, LS_TOKENS, 5.0f, &w, &x);
    ls_small_options(&o);
    o.rounds = 1;
    o.grid_steps = 4;
    CHECK(ls_solve(&o, w, x, LS_OUT, LS_IN, batches, 2, ref) == FPQ_OK);
    a.alloc = ls_budget_alloc;
    a.free = ls_budget_free;
    a.user = &b;
    o.allocator = &a;
    for (n = 0; n < 200 && st != FPQ_OK; n++) {
        fpq_layer_search *s = (fpq_layer_search *)&b;
        b.calls = b.live = 0;
        b.fail_at = n;
        st = fpq_layer_search_create(w, LS_OUT, LS_IN, &o, &s);
        if (st != FPQ_OK) {
            CHECK(st == FPQ_ERR_MEMORY && s == (fpq_layer_search *)&b && b.live == 0);
            create_fails++;
            continue;
        }
        st = fpq_layer_search_add_batch(s, x, 30);
        if (st == FPQ_OK)
            st = fpq_layer_search_add_batch(s, x + 30 * LS_IN, 40);
        if (st == FPQ_OK) {
            st = fpq_layer_search_solve(s);
            if (st != FPQ_OK) {
                fpq_layer_search_summary sum;
                solve_fails++;
                CHECK(fpq_layer_search_get_summary(s, &sum) == FPQ_ERR_ARGUMENT);
            }
        }
        CHECK(st == FPQ_OK || st == FPQ_ERR_MEMORY);
        if (st == FPQ_OK) {
            memset(got, 0, sizeof *got);
            fpq_layer_search_get_summary(s, &got->sum);
            fpq_layer_search_get_weights(s, got->wbias, got->wscale, got->werr, 64);
            fpq_layer_search_get_activations(s, got->cbias, got->off, got->cscale, 64);
            CHECK(ls_same(ref, got));
        }
        fpq_layer_search_destroy(s);
        CHECK(b.live == 0);
    }
    CHECK(st == FPQ_OK && create_fails >= 5 && solve_fails >= 10);
    a.alloc = NULL;
    {
        fpq_layer_search *s = NULL;
        CHECK(fpq_layer_search_create(w, LS_OUT, LS_IN, &o, &s) == FPQ_ERR_ARGUMENT && !s);
    }
    free(ref);
    free(w);
    free(x);
}

const fpqt_case fpqt_layer_search_cases[] = {
    {"layer search: the LLM-FP4 reference layer (formats, biases, offsets, x_sim)",
     test_reference_layer},
    {"layer search: 1, 2 and 7 batches give the same result", test_batch_split},
    {"layer search: 1, 2 and 3 threads give the same result", test_threads},
    {"layer search: reported errors equal a recomputation, every measure",
     test_reported_errors},
    {"layer search: reported errors are the deployed layer's (fold, codes, reparam_linear)",
     test_deployed_identity},
    {"layer search: one candidate g = 1 is the max-based start", test_single_candidate},
    {"layer search: the caller's rounding mode does not matter", test_rounding_mode},
    {"layer search: 8-bit formats, and e0m3 (INT4) in the lists", test_other_formats},
    {"layer search: per-channel beats per-tensor on outlier channels",
     test_per_channel_outliers},
    {"layer search: statuses, outputs untouched on error", test_bad_input},
    {"layer search: FPQ_ERR_MEMORY from a failing allocator, nothing leaked",
     test_failing_allocator},
    {NULL, NULL}};
