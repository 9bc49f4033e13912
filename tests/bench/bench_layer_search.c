/*
 * bench_layer_search.c - time of a full layer-level search (fpq_layer_search_*, the LLM-FP4
 * reference's settings: 4-bit e3m0/e2m1/e1m2 for weights and activations, 101 candidates,
 * 3 rounds, L2, per-channel activations) on 1 and 2 threads.
 *
 * Built and run by `make bench` (from the repository root: it reads the reference layer from
 * tests/data/llmfp4/layer). Not a test: it only prints. Layers: the LLM-FP4 reference layer
 * (W 128 x 256, 512 tokens), a layer of the demo's shape (W 256 x 512, 64 tokens, four
 * outlier channels), and with arguments `out in tokens` one synthetic layer of that shape.
 * Each figure is the best of RUNS solves (create and add_batch not included). The output MSE
 * printed is the search's reported error: per channel, that of the deployed layer (folded
 * weights, shared-scale activation codes).
 */
#define _POSIX_C_SOURCE 199309L

#include "fpq.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RUNS 2

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
    double u1 = ((double)(rng(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(rng(s) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* W = 0.02 * Student-t(4); X ~ N(0, 1) with four outlier channels (the demo's gains). */
static void synthetic(size_t out, size_t in, size_t tokens, float *w, float *x)
{
    static const float gain[4] = {20.0f, 28.0f, 36.0f, 50.0f};
    uint64_t s = 42;
    size_t i;
    for (i = 0; i < out * in; i++) {
        double z = gauss(&s), chi = 0.0;
        int k;
        for (k = 0; k < 4; k++) {
            double g = gauss(&s);
            chi += g * g;
        }
        w[i] = (float)(0.02 * z / sqrt(chi / 4.0));
    }
    for (i = 0; i < tokens * in; i++) {
        size_t c = i % in;
        float g = (float)gauss(&s);
        if (c == in * 37 / 512 || c == in * 141 / 512 || c == in * 300 / 512 ||
            c == in * 466 / 512)
            g *= gain[(c * 4) / in];
        x[i] = g;
    }
}

static void *read_file(const char *path, size_t want)
{
    FILE *f = fopen(path, "rb");
    void *p = malloc(want);
    if (!f || !p || fread(p, 1, want, f) != want) {
        if (f)
            fclose(f);
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

static void run(const char *name, const float *w, const float *x, size_t out, size_t in,
                size_t tokens)
{
    fpq_layer_search_options o;
    fpq_layer_search_summary sum;
    double best[2] = {1e30, 1e30};
    int threads, r;

    fpq_layer_search_options_init(&o, 4);
    for (threads = 1; threads <= 2; threads++) {
        fpq_set_num_threads(threads);
        for (r = 0; r < RUNS; r++) {
            fpq_layer_search *s = NULL;
            double t0;
            if (fpq_layer_search_create(w, out, in, &o, &s) != FPQ_OK ||
                fpq_layer_search_add_batch(s, x, tokens) != FPQ_OK) {
                printf("%s: setup failed\n", name);
                fpq_layer_search_destroy(s);
                return;
            }
            t0 = now();
            if (fpq_layer_search_solve(s) != FPQ_OK)
                printf("%s: solve failed\n", name);
            t0 = now() - t0;
            best[threads - 1] = t0 < best[threads - 1] ? t0 : best[threads - 1];
            fpq_layer_search_get_summary(s, &sum);
            fpq_layer_search_destroy(s);
        }
    }
    fpq_set_num_threads(0);
    printf("%-34s W %4u x %-5u %5u tokens: 1 thread %7.3f s, 2 threads %7.3f s;"
           " output MSE %.4g (max-based %.4g), w e%dm%d a e%dm%d\n",
           name, (unsigned)out, (unsigned)in, (unsigned)tokens, best[0], best[1],
           sum.total_error, sum.max_based_error, sum.weight_format.exp_bits,
           sum.weight_format.man_bits, sum.act_format.exp_bits, sum.act_format.man_bits);
}

int main(int argc, char **argv)
{
    float *w = (float *)read_file("tests/data/llmfp4/layer/W.f32", 128 * 256 * 4);
    float *x = (float *)read_file("tests/data/llmfp4/layer/X.f32", 512 * 256 * 4);
    size_t out = 256, in = 512, tokens = 64;

    printf("layer search, LLM-FP4 settings (3 formats x 101 candidates, 3 rounds), backend %s\n",
           fpq_backend_name());
    if (w && x)
        run("LLM-FP4 reference layer", w, x, 128, 256, 512);
    else
        printf("tests/data/llmfp4/layer not found: run from the repository root\n");
    free(w);
    free(x);
    if (argc == 4) {
        out = (size_t)strtoul(argv[1], NULL, 10);
        in = (size_t)strtoul(argv[2], NULL, 10);
        tokens = (size_t)strtoul(argv[3], NULL, 10);
    }
    w = (float *)malloc(out * in * sizeof(float));
    x = (float *)malloc(tokens * in * sizeof(float));
    if (!w || !x || !out || !in || !tokens)
        return 1;
    synthetic(out, in, tokens, w, x);
    run(argc == 4 ? "synthetic layer" : "demo-shaped layer (4 outlier ch.)", w, x, out, in,
        tokens);
    free(w);
    free(x);
    return 0;
}
