/*
 * demo.h - what the demo's sections share: the synthetic layer (weights W and activations X,
 * made once by demo.c from a seeded PRNG) and the status check that stops at the first error.
 * Each later section lives in its own examples/demo_*.c and is called from demo.c's main.
 */
#ifndef FPQ_DEMO_H
#define FPQ_DEMO_H

#include "fpq.h"

#include <stddef.h>

#define W_ROWS 256
#define W_COLS 512
#define X_TOKENS 64
#define X_CHANNELS 512
#define NUM_OUTLIERS 4
#define STUDENT_T_DOF 4
#define SEED 0x5eed2024u

/* The synthetic layer: Y = X W^T with W [W_ROWS x W_COLS] (heavy-tailed) and
 * X [X_TOKENS x X_CHANNELS] (normal, NUM_OUTLIERS channels scaled up). W_COLS == X_CHANNELS. */
extern float W[W_ROWS * W_COLS], X[X_TOKENS * X_CHANNELS];

/* Exits with a message naming `what` unless status is FPQ_OK. */
void check(int status, const char *what);

/* A dense row-major float32 tensor description (block_size 0: set it for FPQ_PER_BLOCK). */
fpq_tensor demo_tensor(size_t rows, size_t cols, int granularity);

/* The LLM-FP4 pipeline, INT4 to FP4 with pre-shifted channel biases (demo_reparam.c). */
void demo_reparam(void);

/* The W4A4 linear layer computed four ways, with timings (demo_linear.c). */
void demo_linear(void);

/* Max-based against searched clipping per format, and the format the search picks
 * (demo_search.c). */
void demo_search(void);

#endif
