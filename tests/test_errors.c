/*
 * test_errors.c - bad input: every kernel returns its documented status and leaves every
 * output byte untouched.
 */
#include "fpq_test.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { N = 64, GUARD = 0xa5 };

typedef struct buffers {
    float x[N + 1];
    float y[N + 1];
    uint8_t codes[4 * N + 8];
} buffers;

static void reset(buffers *b)
{
    int i;
    for (i = 0; i <= N; i++)
        b->x[i] = (float)i * 0.25f - 3.0f;
    memset(b->y, GUARD, sizeof b->y);
    memset(b->codes, GUARD, sizeof b->codes);
}

static int untouched(const buffers *b)
{
    size_t i;
    const uint8_t *y = (const uint8_t *)b->y;
    for (i = 0; i < sizeof b->y; i++)
        if (y[i] != GUARD)
            return 0;
    for (i = 0; i < sizeof b->codes; i++)
        if (b->codes[i] != GUARD)
            return 0;
    return 1;
}

/* Calls all three kernels with the given arguments and expects `status` from each and no
 * write to y or codes. */
static void expect_all(const fpq_format *f, size_t n, float scale, unsigned flags, int status,
                       const char *what)
{
    buffers b;
    int s1, s2, s3;

    reset(&b);
    s1 = fpq_quantize(f, b.x, n, scale, flags, b.codes);
    s2 = fpq_fake_quantize(f, b.x, n, scale, flags, b.y);
    CHECKF(s1 == status && s2 == status && (status == FPQ_OK || untouched(&b)),
           "%s: quantize %d, fake %d, want %d", what, s1, s2, status);
    s3 = fpq_dequantize(f, b.codes, n, scale, flags, b.y);
    memset(b.codes, GUARD, sizeof b.codes); /* dequantize reads codes; only y must stay */
    CHECKF(s3 == status && (status == FPQ_OK || untouched(&b)), "%s: dequantize %d, want %d",
           what, s3, status);
}

static void test_invalid_scales_are_refused(void)
{
    static const float bad[] = {0.0f, -0.0f, -1.0f, 1e-40f, 1e-45f, INFINITY, -INFINITY, NAN,
                                -NAN};
    fpq_format f;
    size_t i;

    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_all(&f, N, bad[i], 0, FPQ_ERR_SCALE, "bad scale");
    expect_all(&f, N, FLT_MIN, 0, FPQ_OK, "smallest normal scale");
    expect_all(&f, N, FLT_MAX, 0, FPQ_OK, "largest scale");
}

static void test_zero_and_overflowing_sizes_are_refused(void)
{
    fpq_format f;
    CHECK(fpq_format_from_name("float6_e3m2fn", &f) == FPQ_OK);
    expect_all(&f, 0, 1.0f, 0, FPQ_ERR_SIZE, "n = 0");
    expect_all(&f, SIZE_MAX, 1.0f, 0, FPQ_ERR_SIZE, "n = SIZE_MAX");
    expect_all(&f, SIZE_MAX / 4 + 1, 1.0f, 0, FPQ_ERR_SIZE, "n * 4 overflows");
    CHECK(fpq_packed_size(&f, SIZE_MAX, 0) == 0);
    CHECK(fpq_packed_size(&f, SIZE_MAX / 4, 0) > 0);
    CHECK(fpq_packed_size(&f, 5, 0) == 4);
}

static void test_invalid_formats_and_flags_are_refused(void)
{
    fpq_format f, bad;
    CHECK(fpq_format_from_name("float8_e4m3fn", &f) == FPQ_OK);
    bad = f;
    bad.exp_bits = 9;
    expect_all(&bad, N, 1.0f, 0, FPQ_ERR_FORMAT, "E = 9");
    bad = f;
    bad.family = 42;
    expect_all(&bad, N, 1.0f, 0, FPQ_ERR_FORMAT, "family 42");
    bad = f;
    bad.reserved[0] = 1;
    expect_all(&bad, N, 1.0f, 0, FPQ_ERR_FORMAT, "reserved set");
    bad = f;
    bad.bias = 100000;
    expect_all(&bad, N, 1.0f, 0, FPQ_ERR_FORMAT, "huge bias");
    expect_all(NULL, N, 1.0f, 0, FPQ_ERR_NULL, "NULL format");
    expect_all(&f, N, 1.0f, 4u, FPQ_ERR_FLAGS, "unknown flag");
    expect_all(&f, N, 1.0f, 0x80000000u, FPQ_ERR_FLAGS, "unknown high flag");
    CHECK(fpq_packed_size(&f, 10, 4u) == 0);
    CHECK(fpq_packed_size(NULL, 10, 0) == 0);
}

static void test_null_pointers_are_refused(void)
{
    buffers b;
    fpq_format f;
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    reset(&b);
    CHECK(fpq_quantize(&f, NULL, N, 1.0f, 0, b.codes) == FPQ_ERR_NULL);
    CHECK(fpq_quantize(&f, b.x, N, 1.0f, 0, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_dequantize(&f, NULL, N, 1.0f, 0, b.y) == FPQ_ERR_NULL);
    CHECK(fpq_dequantize(&f, b.codes, N, 1.0f, 0, NULL) == FPQ_ERR_NULL);
    CHECK(fpq_fake_quantize(&f, NULL, N, 1.0f, 0, b.y) == FPQ_ERR_NULL);
    CHECK(fpq_fake_quantize(&f, b.x, N, 1.0f, 0, NULL) == FPQ_ERR_NULL);
    CHECK(untouched(&b));
}

static void test_misaligned_and_overlapping_buffers_are_refused(void)
{
    buffers b;
    fpq_format f;
    char *raw = (char *)b.x;
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);

    reset(&b);
    CHECK(fpq_quantize(&f, (const float *)(void *)(raw + 1), N - 1, 1.0f, 0, b.codes) ==
          FPQ_ERR_ALIGN);
    CHECK(fpq_fake_quantize(&f, b.x, N, 1.0f, 0, (float *)(void *)((char *)b.y + 2)) ==
          FPQ_ERR_ALIGN);
    CHECK(fpq_dequantize(&f, b.codes, N, 1.0f, 0, (float *)(void *)((char *)b.y + 3)) ==
          FPQ_ERR_ALIGN);
    CHECK(untouched(&b));

    /* Codes written over the input: refused. The packed 4-bit codes of x[0..N) take N/2 bytes. */
    {
        float x[N];
        memcpy(x, b.x, sizeof x);
        CHECK(fpq_quantize(&f, x, N, 1.0f, 0, (uint8_t *)x + 8) == FPQ_ERR_OVERLAP);
        CHECK(fpq_quantize(&f, x + 1, N - 1, 1.0f, 0, x) == FPQ_ERR_OVERLAP);
        CHECK(memcmp(x, b.x, sizeof x) == 0);
        /* Adjacent, not overlapping: fine. */
        CHECK(fpq_quantize(&f, x, N / 2, 1.0f, 0, x + N / 2) == FPQ_OK);
        /* Dequantize into its own codes: refused. */
        CHECK(fpq_dequantize(&f, x, N, 1.0f, 0, x) == FPQ_ERR_OVERLAP);
        /* Fake quantize: exactly in place is allowed, shifted is not. */
        memcpy(x, b.x, sizeof x);
        CHECK(fpq_fake_quantize(&f, x, N - 1, 1.0f, 0, x + 1) == FPQ_ERR_OVERLAP);
        CHECK(memcmp(x, b.x, sizeof x) == 0);
        CHECK(fpq_fake_quantize(&f, x, N, 1.0f, 0, x) == FPQ_OK);
    }
}

const fpqt_case fpqt_error_cases[] = {
    {"invalid scales are refused", test_invalid_scales_are_refused},
    {"zero and overflowing sizes are refused", test_zero_and_overflowing_sizes_are_refused},
    {"invalid formats and flags are refused", test_invalid_formats_and_flags_are_refused},
    {"null pointers are refused", test_null_pointers_are_refused},
    {"misaligned and overlapping buffers are refused",
     test_misaligned_and_overlapping_buffers_are_refused},
    {NULL, NULL},
};
