/*
 * fpq_test.h - the plain-C test runner's interface. Each test file exports a table of cases;
 * a case fails when any CHECK in it fails. The runner prints one line per case and ends with
 * "N passed, N failed".
 */
#ifndef FPQ_TEST_H
#define FPQ_TEST_H

#include "fpq.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fpqt_case {
    const char *name;
    void (*run)(void);
} fpqt_case;

/* The folder holding tests/data (first command-line argument). */
extern const char *fpqt_data_dir;

void fpqt_fail(const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fpqt_fail(__FILE__, __LINE__, "%s", #cond);                                  \
    } while (0)

#define CHECKF(cond, ...)                                                                \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fpqt_fail(__FILE__, __LINE__, __VA_ARGS__);                                  \
    } while (0)

/* Reads a whole file under fpqt_data_dir into a malloc'd buffer; NULL (and a failure) if it
 * cannot, so a missing data file fails the test instead of skipping it. */
void *fpqt_read_data(const char *relative_path, size_t *size);

/* Deterministic PRNG for the tests (splitmix64). */
uint64_t fpqt_rand(uint64_t *state);
float fpqt_rand_float_bits(uint64_t *state); /* any float32 bit pattern */

/* Runs fn once per available non-scalar backend, that backend forced, then restores "auto";
 * returns how many ran and prints the unavailable ones. */
int fpqt_for_each_simd_backend(void (*fn)(const char *backend));

/* A tensor description with every other field zero (struct_size set). */
fpq_tensor fpqt_tensor(size_t rows, size_t cols, size_t stride, int type, int gran, int block);

uint32_t fpqt_f2u(float f);
float fpqt_u2f(uint32_t u);

extern const fpqt_case fpqt_format_cases[];
extern const fpqt_case fpqt_kernel_cases[];
extern const fpqt_case fpqt_conformance_cases[];
extern const fpqt_case fpqt_error_cases[];
extern const fpqt_case fpqt_backend_cases[];
extern const fpqt_case fpqt_tensor_cases[];
extern const fpqt_case fpqt_reparam_cases[];
extern const fpqt_case fpqt_linear_cases[];
extern const fpqt_case fpqt_search_cases[];
extern const fpqt_case fpqt_layer_search_cases[];

#endif
