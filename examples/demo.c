/*
 * demo.c - what 4-bit formats do to LLM-like tensors, with one scale per tensor.
 *
 * The LLM-FP4 paper observes that weights are heavy-tailed and that activations have a few
 * channels far larger than the rest. This program builds synthetic tensors with both traits,
 * fake-quantizes them to INT4 (e0m3) and to the three 4-bit float splits at several clipping
 * ranges, and prints the error. A section keeps e2m1 and varies the scale granularity
 * instead: per tensor, row, column, MX block and NVFP4 block (fpq_tensor_*). Then the sections
 * of examples/demo_*.c: the parameter search (clipping and format), the paper's pipeline on the
 * layer's output (INT4, FP4 max-based, searched, and with per-channel pre-shifted biases), and
 * the W4A4 integer kernel against float32. It needs no input: every number comes from a seeded
 * PRNG.
 *
 * Built and run by `make demo`.
 */
#include "fpq.h"
#include "demo.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* e0m3 is INT4 (the grid -7..7); the others are the paper's three 4-bit float splits. */
enum { F_INT4, F_E3M0, F_E2M1, F_E1M2, NUM_FORMATS };
static const char *const format_names[NUM_FORMATS] = {"e0m3", "e3m0", "e2m1", "e1m2"};
/* Heavy tails put the best clip of the uniform-ish grids well below absmax: hence 0.15, 0.1. */
static const double clip_ratios[] = {1.0, 0.8, 0.6, 0.4, 0.25, 0.15, 0.1};
#define NUM_CLIPS 7

/* Outlier channels of X and how much larger they are than an ordinary channel. */
static const int outlier_channel[NUM_OUTLIERS] = {37, 141, 300, 466};
static const float outlier_gain[NUM_OUTLIERS] = {20.0f, 28.0f, 36.0f, 50.0f};

float W[W_ROWS * W_COLS], X[X_TOKENS * X_CHANNELS];
static float Y[W_ROWS * W_COLS]; /* fake-quantized copy, large enough for W or X */

/* Every fpq_* status is checked: the demo stops at the first failure. */
void check(int status, const char *what)
{
    if (status != FPQ_OK) {
        fprintf(stderr, "demo: %s failed: %s\n", what, fpq_status_string(status));
        exit(1);
    }
}

fpq_tensor demo_tensor(size_t rows, size_t cols, int granularity)
{
    fpq_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = rows;
    t.cols = cols;
    t.row_stride = cols;
    t.elem_type = FPQ_FLOAT32;
    t.granularity = granularity;
    return t;
}

/* ---- synthetic data ---------------------------------------------------------------------- */

/* splitmix64: tiny, seedable, and the same sequence on every platform (unlike rand()). */
static uint64_t rng_state = SEED;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so log() below is safe. */
static double uniform01(void)
{
    return ((double)(next_u64() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller (one of the pair is enough here). */
static double normal(void)
{
    const double two_pi = 6.283185307179586;
    return sqrt(-2.0 * log(uniform01())) * cos(two_pi * uniform01());
}

/* Student-t = normal / sqrt(chi-square / dof): heavy tails like trained LLM weights. */
static double student_t(int dof)
{
    double chi2 = 0.0;
    int k;
    for (k = 0; k < dof; k++) {
        double z = normal();
        chi2 += z * z;
    }
    return normal() / sqrt(chi2 / dof);
}

static int outlier_index(int channel)
{
    int k;
    for (k = 0; k < NUM_OUTLIERS; k++)
        if (outlier_channel[k] == channel)
            return k;
    return -1;
}

static void make_tensors(void)
{
    int i, t, c;
    for (i = 0; i < W_ROWS * W_COLS; i++)
        W[i] = (float)(0.02 * student_t(STUDENT_T_DOF));
    for (t = 0; t < X_TOKENS; t++) {
        for (c = 0; c < X_CHANNELS; c++) {
            int k = outlier_index(c);
            float gain = k >= 0 ? outlier_gain[k] : 1.0f;
            X[t * X_CHANNELS + c] = gain * (float)normal();
        }
    }
}

/* ---- measurements ------------------------------------------------------------------------ */

static float abs_max(const float *x, size_t n)
{
    float m = 0.0f;
    size_t i;
    for (i = 0; i < n; i++)
        m = fabsf(x[i]) > m ? fabsf(x[i]) : m;
    return m;
}

/* Error of y against x; with `columns` > 0 only the non-outlier channels count, which shows
 * what a per-tensor scale leaves of the ordinary channels. */
typedef struct errstats { double mse, sqnr_db; } errstats;

static errstats measure(const float *x, const float *y, size_t n, int columns)
{
    double signal = 0.0, noise = 0.0;
    size_t i, used = 0;
    errstats s;
    for (i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        if (columns > 0 && outlier_index((int)(i % (size_t)columns)) >= 0)
            continue;
        signal += (double)x[i] * x[i];
        noise += d * d;
        used++;
    }
    s.mse = noise / (double)used;
    s.sqnr_db = noise > 0.0 ? 10.0 * log10(signal / noise) : INFINITY;
    return s;
}

/* One scale for the whole tensor, from a clipping range of ratio * absmax. */
static float fake_quantize_clipped(const fpq_format *fmt, const float *x, size_t n,
                                   double ratio, float *y)
{
    float scale;
    check(fpq_scale_from_maxval(fmt, (float)(ratio * abs_max(x, n)), &scale),
          "fpq_scale_from_maxval");
    check(fpq_fake_quantize(fmt, x, n, scale, 0, y), "fpq_fake_quantize");
    return scale;
}

/* ---- report sections --------------------------------------------------------------------- */

/* e1m2 (bias 0) is 0, 0.5, ..., 3.5: with subnormals it is the INT4 grid halved, so at the
 * same clipping range it rounds exactly like INT4. Checked here rather than assumed. */
static int e1m2_is_halved_int4(const fpq_format *int4, const float *e1m2_grid, size_t count)
{
    float grid[256];
    size_t n, i;
    check(fpq_format_values(int4, grid, 256, &n), "fpq_format_values");
    if (n != count)
        return 0;
    for (i = 0; i < n; i++)
        if (e1m2_grid[i] * 2.0f != grid[i])
            return 0;
    return 1;
}

static void print_formats(const fpq_format *fmts)
{
    float grid[256];
    size_t count, i;
    int f;

    printf("Formats (4-bit codes, one scale per tensor):\n");
    for (f = 0; f < NUM_FORMATS; f++) {
        fpq_format_limits lim;
        check(fpq_format_limits_get(&fmts[f], &lim), "fpq_format_limits_get");
        printf("  %-5s max_finite %-5g  %2d values%s\n", format_names[f], lim.max_finite,
               lim.num_values, f == F_INT4 ? "  (INT4: integers -7..7)" : "");
    }
    check(fpq_format_values(&fmts[F_E2M1], grid, 256, &count), "fpq_format_values");
    printf("  e2m1 grid:");
    for (i = 0; i < count; i++)
        printf(" %g", grid[i]);
    printf("\n");
    check(fpq_format_values(&fmts[F_E1M2], grid, 256, &count), "fpq_format_values");
    if (e1m2_is_halved_int4(&fmts[F_INT4], grid, count))
        printf("  e1m2 grid = INT4 grid / 2, so its rows below equal e0m3's.\n");
    printf("\n");
}

/* Prints the table; sqnr_w / sqnr_x receive every SQNR for the "best clip" summary. */
static void print_error_table(const fpq_format *fmts, double sqnr_w[][NUM_CLIPS],
                              double sqnr_x[][NUM_CLIPS])
{
    const size_t nw = W_ROWS * W_COLS, nx = X_TOKENS * X_CHANNELS;
    int f, r;

    printf("Per-tensor fake quantization, clipping range = clip * absmax\n");
    printf("%-5s %5s | %10s %8s | %10s %8s %14s\n", "fmt", "clip", "W MSE", "W SQNR",
           "X MSE", "X SQNR", "X SQNR normal");
    for (f = 0; f < NUM_FORMATS; f++) {
        for (r = 0; r < NUM_CLIPS; r++) {
            errstats w, x, xn;
            fake_quantize_clipped(&fmts[f], W, nw, clip_ratios[r], Y);
            w = measure(W, Y, nw, 0);
            fake_quantize_clipped(&fmts[f], X, nx, clip_ratios[r], Y);
            x = measure(X, Y, nx, 0);
            xn = measure(X, Y, nx, X_CHANNELS);
            printf("%-5s %5.2f | %10.3e %5.1f dB | %10.3e %5.1f dB %11.1f dB\n",
                   format_names[f], clip_ratios[r], w.mse, w.sqnr_db, x.mse, x.sqnr_db,
                   xn.sqnr_db);
            sqnr_w[f][r] = w.sqnr_db;
            sqnr_x[f][r] = x.sqnr_db;
        }
    }
    printf("(X SQNR normal: the %d ordinary channels only; they share the outliers' scale)\n\n",
           X_CHANNELS - NUM_OUTLIERS);
}

static int argmax(const double *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Prints the best clip per format and returns e2m1's best for the weights. */
static double print_best(double sqnr_w[][NUM_CLIPS], double sqnr_x[][NUM_CLIPS])
{
    int f, bw, bx;
    double e2m1_best = 1.0;
    printf("Best clipping ratio (highest SQNR among those tried):\n");
    for (f = 0; f < NUM_FORMATS; f++) {
        bw = argmax(sqnr_w[f], NUM_CLIPS);
        bx = argmax(sqnr_x[f], NUM_CLIPS);
        printf("  %-5s W: %.2f (%4.1f dB)   X: %.2f (%4.1f dB)\n", format_names[f],
               clip_ratios[bw], sqnr_w[f][bw], clip_ratios[bx], sqnr_x[f][bx]);
        if (f == F_E2M1)
            e2m1_best = clip_ratios[bw];
    }
    printf("\n");
    return e2m1_best;
}

/* quantize -> packed codes -> dequantize must give exactly what fake_quantize gives. */
static void print_round_trip(const fpq_format *e2m1, double ratio)
{
    enum { N = 8 };
    unsigned char codes[16];
    float deq[N], fake[N], scale;
    size_t bytes = fpq_packed_size(e2m1, N, 0), i;

    if (bytes == 0 || bytes > sizeof codes)
        check(FPQ_ERR_CAPACITY, "fpq_packed_size");
    scale = fake_quantize_clipped(e2m1, W, W_ROWS * W_COLS, ratio, Y); /* scale of all of W */
    check(fpq_quantize(e2m1, W, N, scale, 0, codes), "fpq_quantize");
    check(fpq_dequantize(e2m1, codes, N, scale, 0, deq), "fpq_dequantize");
    check(fpq_fake_quantize(e2m1, W, N, scale, 0, fake), "fpq_fake_quantize");

    printf("Round trip of W[0..7] with e2m1, clip %.2f (scale %.6g):\n", ratio, scale);
    printf("  input      ");
    for (i = 0; i < N; i++)
        printf(" %8.5f", W[i]);
    printf("\n  packed (%u bytes, element 0 in the low nibble):", (unsigned)bytes);
    for (i = 0; i < bytes; i++)
        printf(" %02x", codes[i]);
    printf("\n  dequantized");
    for (i = 0; i < N; i++)
        printf(" %8.5f", deq[i]);
    printf("\n  matches fake_quantize: %s\n",
           memcmp(deq, fake, sizeof deq) == 0 ? "yes" : "no");
}

/* One scale per group of the tensor: the granularities of the "granularity" section. */
typedef struct granularity {
    const char *name, *scales;
    int granularity, block_size, encoding;
} granularity;

static const granularity granularities[] = {
    {"per tensor", "float32", FPQ_PER_TENSOR, 0, FPQ_SCALE_FLOAT32},
    {"per row", "float32", FPQ_PER_ROW, 0, FPQ_SCALE_FLOAT32},
    {"per column", "float32", FPQ_PER_COLUMN, 0, FPQ_SCALE_FLOAT32},
    {"MX block 32", "E8M0", FPQ_PER_BLOCK, 32, FPQ_SCALE_E8M0},
    {"NVFP4 block 16", "E4M3", FPQ_PER_BLOCK, 16, FPQ_SCALE_E4M3},
};
#define NUM_GRANULARITIES 5

/* Scale storage for any granularity of W or X: at most W_ROWS * W_COLS / 16 groups. */
static float scale_f32[W_ROWS * W_COLS / 16];
static uint8_t scale_u8[W_ROWS * W_COLS / 16];

/* Fake-quantizes x [rows x cols] into Y with clip-1 scales of the given granularity. */
static void fake_quantize_grouped(const fpq_format *fmt, const granularity *g, const float *x,
                                  size_t rows, size_t cols)
{
    fpq_tensor t;
    fpq_scales s;
    size_t groups;

    t = demo_tensor(rows, cols, g->granularity);
    t.block_size = g->block_size;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.encoding = g->encoding;
    s.data = g->encoding == FPQ_SCALE_FLOAT32 ? (void *)scale_f32 : (void *)scale_u8;
    s.count = sizeof scale_u8; /* entries: the same for both arrays */
    groups = fpq_tensor_num_scales(&t);
    if (groups == 0 || groups > s.count)
        check(FPQ_ERR_CAPACITY, "fpq_tensor_num_scales");
    check(fpq_tensor_compute_scales(fmt, &t, x, 1.0f, &s), "fpq_tensor_compute_scales");
    check(fpq_tensor_fake_quantize(fmt, &t, x, &s, 0, Y), "fpq_tensor_fake_quantize");
}

static void print_granularity(const fpq_format *e2m1)
{
    const size_t nw = W_ROWS * W_COLS, nx = X_TOKENS * X_CHANNELS;
    errstats w[NUM_GRANULARITIES], x[NUM_GRANULARITIES], xn[NUM_GRANULARITIES];
    int g;

    printf("\nGranularity: e2m1 fake quantization, clip 1, one scale per group "
           "(fpq_tensor_compute_scales)\n");
    printf("%-14s %-7s | %10s %8s | %10s %8s %14s\n", "granularity", "scale", "W MSE", "W SQNR",
           "X MSE", "X SQNR", "X SQNR normal");
    for (g = 0; g < NUM_GRANULARITIES; g++) {
        fake_quantize_grouped(e2m1, &granularities[g], W, W_ROWS, W_COLS);
        w[g] = measure(W, Y, nw, 0);
        fake_quantize_grouped(e2m1, &granularities[g], X, X_TOKENS, X_CHANNELS);
        x[g] = measure(X, Y, nx, 0);
        xn[g] = measure(X, Y, nx, X_CHANNELS);
        printf("%-14s %-7s | %10.3e %5.1f dB | %10.3e %5.1f dB %11.1f dB\n",
               granularities[g].name, granularities[g].scales, w[g].mse, w[g].sqnr_db,
               x[g].mse, x[g].sqnr_db, xn[g].sqnr_db);
    }
    printf("(rows: output channels of W, tokens of X; columns: input channels, the paper's "
           "per-channel\nactivation scales)\n");
    printf("Per-row scales barely help X (%.1f dB: every token holds the outlier channels), "
           "per-column\nscales give each outlier channel its own range (ordinary channels %.1f "
           "-> %.1f dB), and blocks\nhelp W and X alike, NVFP4's most (W %.1f dB, X %.1f dB).\n",
           x[1].sqnr_db, xn[0].sqnr_db, xn[2].sqnr_db, w[4].sqnr_db, x[4].sqnr_db);
}

int main(void)
{
    fpq_format fmts[NUM_FORMATS];
    double sqnr_w[NUM_FORMATS][NUM_CLIPS], sqnr_x[NUM_FORMATS][NUM_CLIPS], e2m1_clip;
    int f;

    printf("fpq %s demo. All data is SYNTHETIC, from a seeded PRNG (splitmix64, seed 0x%x):\n",
           fpq_version_string(), (unsigned)SEED);
    printf("  W [%d x %d] = 0.02 * Student-t(%d dof); X [%d tokens x %d channels] ~ N(0,1)\n",
           W_ROWS, W_COLS, STUDENT_T_DOF, X_TOKENS, X_CHANNELS);
    printf("  except channels %d %d %d %d, scaled by %g %g %g %g (outlier channels).\n\n",
           outlier_channel[0], outlier_channel[1], outlier_channel[2], outlier_channel[3],
           outlier_gain[0], outlier_gain[1], outlier_gain[2], outlier_gain[3]);
    make_tensors();
    for (f = 0; f < NUM_FORMATS; f++)
        check(fpq_format_from_name(format_names[f], &fmts[f]), "fpq_format_from_name");

    print_formats(fmts);
    print_error_table(fmts, sqnr_w, sqnr_x);
    e2m1_clip = print_best(sqnr_w, sqnr_x);
    print_round_trip(&fmts[F_E2M1], e2m1_clip); /* at e2m1's best clip: not all zeros */
    print_granularity(&fmts[F_E2M1]);
    demo_search();  /* the search's clipping and format per tensor (examples/demo_search.c) */
    demo_reparam(); /* the LLM-FP4 pipeline on the layer's output (examples/demo_reparam.c) */
    demo_linear();  /* the same layer on the W4A4 integer kernel (examples/demo_linear.c) */
    return 0;
}
