/*
 * test_main.c - runs every case of every test file; exits non-zero if any failed.
 * Usage: fpq_tests DATA_DIR [NAME_SUBSTRING]
 */
#include "fpq_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fpqt_data_dir = "tests/data";

static int failures_in_case;

void fpqt_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    /* Print the first few failures of a case: enough to debug, not a flood. */
    if (failures_in_case++ < 5) {
        fprintf(stdout, "    %s:%d: ", file, line);
        va_start(ap, fmt);
        vfprintf(stdout, fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
    }
}

void *fpqt_read_data(const char *relative_path, size_t *size)
{
    char path[1024];
    FILE *f;
    long len;
    void *buf;

    snprintf(path, sizeof path, "%s/%s", fpqt_data_dir, relative_path);
    f = fopen(path, "rb");
    if (!f) {
        fpqt_fail(__FILE__, __LINE__, "cannot open test data %s", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    len = ftell(f);
    fseek(f, 0, SEEK_SET);
    /* One more byte, a NUL: text files are parsed with sscanf. */
    buf = malloc((size_t)(len > 0 ? len : 0) + 1);
    if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
        fpqt_fail(__FILE__, __LINE__, "cannot read test data %s", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    ((char *)buf)[len] = '\0';
    *size = (size_t)len;
    return buf;
}

uint64_t fpqt_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint32_t fpqt_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float fpqt_u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Runs fn once per available non-scalar backend, with that backend forced; returns how many
 * ran and prints which, so that a CPU without SIMD shows it instead of passing silently. */
int fpqt_for_each_simd_backend(void (*fn)(const char *backend))
{
    const char *name;
    int i, ran = 0;
    for (i = 0; (name = fpq_backend_at(i)) != NULL; i++) {
        if (!strcmp(name, "scalar"))
            continue;
        if (!fpq_backend_available(name)) {
            printf("    %s: not available on this CPU\n", name);
            CHECK(fpq_set_backend(name) == FPQ_ERR_UNSUPPORTED);
            continue;
        }
        CHECK(fpq_set_backend(name) == FPQ_OK);
        fn(name);
        ran++;
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
    return ran;
}

fpq_tensor fpqt_tensor(size_t rows, size_t cols, size_t stride, int type, int gran, int block)
{
    fpq_tensor t;
    memset(&t, 0, sizeof t);
    t.struct_size = sizeof t;
    t.rows = rows;
    t.cols = cols;
    t.row_stride = stride;
    t.elem_type = type;
    t.granularity = gran;
    t.block_size = block;
    return t;
}

float fpqt_rand_float_bits(uint64_t *state)
{
    return fpqt_u2f((uint32_t)fpqt_rand(state));
}

/* The runner's second argument: run the cases whose names contain it, or with a leading '!'
 * every case whose name does not. */
static int fpqt_selected(const char *name, const char *filter)
{
    if (!filter)
        return 1;
    if (filter[0] == '!')
        return strstr(name, filter + 1) == NULL;
    return strstr(name, filter) != NULL;
}

int main(int argc, char **argv)
{
    static const fpqt_case *const suites[] = {
        fpqt_format_cases, fpqt_kernel_cases, fpqt_conformance_cases, fpqt_error_cases,
        fpqt_backend_cases, fpqt_tensor_cases, fpqt_reparam_cases, fpqt_linear_cases, fpqt_search_cases,
        fpqt_layer_search_cases,
    };
    const char *filter = argc > 2 ? argv[2] : NULL;
    int passed = 0, failed = 0;
    size_t s;

    if (argc > 1)
        fpqt_data_dir = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    for (s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        const fpqt_case *c;
        for (c = suites[s]; c->name; c++) {
            if (!fpqt_selected(c->name, filter))
                continue;
            failures_in_case = 0;
            c->run();
            if (failures_in_case) {
                printf("FAIL %s (%d checks failed)\n", c->name, failures_in_case);
                failed++;
            } else {
                printf("ok   %s\n", c->name);
                passed++;
            }
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
