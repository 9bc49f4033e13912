/*
 * test_backends.c - every backend this CPU has gives the scalar reference's bits: sweeps of
 * every format, every code, random data with specials, every length 0..130 and start offset
 * 0..63, in place, and with 1, 2 and 7 threads.
 */
#include "fpq_test.h"
#include "reference.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The three kernels under one backend, into caller buffers. */
typedef struct outputs {
    int st[3];
    uint8_t *codes;
    float *deq, *fake;
} outputs;

static void run_kernels(const char *backend, const fpq_format *f, const float *x, size_t n,
                        float scale, unsigned flags, outputs *o)
{
    CHECK(fpq_set_backend(backend) == FPQ_OK);
    o->st[0] = fpq_quantize(f, x, n, scale, flags, o->codes);
    o->st[1] = fpq_dequantize(f, o->codes, n, scale, flags, o->deq);
    o->st[2] = fpq_fake_quantize(f, x, n, scale, flags, o->fake);
}

/* Compares backend against scalar on x[0..n) for both packings and both overflow modes. */
static int same_as_scalar(const char *backend, const fpq_format *f, const float *x, size_t n,
                          float scale, const char *what)
{
    static const unsigned modes[] = {0, FPQ_UNPACKED, FPQ_NO_SATURATE,
                                     FPQ_NO_SATURATE | FPQ_UNPACKED};
    outputs a, b;
    int m, ok = 1;

    a.codes = (uint8_t *)malloc(n + 64);
    b.codes = (uint8_t *)malloc(n + 64);
    a.deq = (float *)malloc(n * sizeof(float) + 64);
    b.deq = (float *)malloc(n * sizeof(float) + 64);
    a.fake = (float *)malloc(n * sizeof(float) + 64);
    b.fake = (float *)malloc(n * sizeof(float) + 64);
    if (!a.codes || !b.codes || !a.deq || !b.deq || !a.fake || !b.fake) {
        CHECK(!"out of memory");
        ok = 0;
        goto done;
    }
    for (m = 0; m < 4 && ok; m++) {
        size_t bytes = fpq_packed_size(f, n, modes[m]);
        memset(a.codes, 0x11, n + 64);
        memset(b.codes, 0x22, n + 64);
        run_kernels("scalar", f, x, n, scale, modes[m], &a);
        run_kernels(backend, f, x, n, scale, modes[m], &b);
        ok = !memcmp(a.st, b.st, sizeof a.st) &&
             (a.st[0] != FPQ_OK || (!memcmp(a.codes, b.codes, bytes) &&
                                    !memcmp(a.deq, b.deq, n * sizeof(float)) &&
                                    !memcmp(a.fake, b.fake, n * sizeof(float))));
        /* Nothing written past the packed size. */
        ok = ok && a.codes[bytes] == 0x11 && b.codes[bytes] == 0x22;
        CHECKF(ok, "%s vs scalar: %s, n=%zu, scale %a, flags %u (status %d/%d)", backend, what,
               n, (double)scale, modes[m], a.st[0], b.st[0]);
    }
done:
    free(a.codes);
    free(b.codes);
    free(a.deq);
    free(b.deq);
    free(a.fake);
    free(b.fake);
    CHECK(fpq_set_backend("scalar") == FPQ_OK);
    return ok;
}

/* Sweep inputs (every gap of the format in 64 steps, midpoints, specials) for one format. */
static size_t sweep(const fpq_format *f, float *x)
{
    ref_format r;
    size_t n = 0, half;
    int i, k;
    ref_init(&r, f);
    for (i = 0; i + 1 < r.num_mag; i++) {
        for (k = 0; k < 64; k++)
            x[n++] = (float)(r.mag[i] + (r.mag[i + 1] - r.mag[i]) * k / 64);
        x[n] = (float)((r.mag[i] + r.mag[i + 1]) / 2);
        x[n + 1] = nextafterf(x[n], 0.0f);
        x[n + 2] = nextafterf(x[n], INFINITY);
        n += 3;
    }
    for (k = 0; k < 130; k++)
        x[n++] = (float)(r.mag[r.num_mag - 1] * (1.0 + k / 64.0));
    x[n++] = INFINITY;
    x[n++] = NAN;
    x[n++] = 1e-40f;
    x[n++] = 0.0f;
    half = n;
    for (i = 0; i < (int)half; i++)
        x[n++] = -x[i];
    return n;
}

static const char *current_backend;
static float sweep_buf[2 * (256 * 67 + 256)];

static void sweep_one_format(const fpq_format *f, const char *what)
{
    size_t n = sweep(f, sweep_buf);
    if (!same_as_scalar(current_backend, f, sweep_buf, n, 1.0f, what))
        return;
    same_as_scalar(current_backend, f, sweep_buf, n, 0.37f, what);
}

static void sweeps_match(const char *backend)
{
    current_backend = backend;
    ref_for_each_format(sweep_one_format);
}

static void test_backends_match_scalar_on_sweeps_of_every_format(void)
{
    printf("    backends compared with scalar: %d\n", fpqt_for_each_simd_backend(sweeps_match));
}

static void codes_match(const char *backend)
{
    int i;
    const char *name;
    for (i = 0; (name = fpq_format_preset_name(i)) != NULL; i++) {
        fpq_format f;
        uint8_t codes[512];
        float a[512], b[512];
        int k;
        CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
        for (k = 0; k < 512; k++)
            codes[k] = (uint8_t)(k * 7 + k / 256); /* every byte value, twice, shuffled */
        CHECK(fpq_set_backend("scalar") == FPQ_OK);
        CHECK(fpq_dequantize(&f, codes, 512, 0.3f, FPQ_UNPACKED, a) == FPQ_OK);
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        CHECK(fpq_dequantize(&f, codes, 512, 0.3f, FPQ_UNPACKED, b) == FPQ_OK);
        CHECKF(!memcmp(a, b, sizeof a), "%s: %s unpacked codes", backend, name);
        CHECK(fpq_set_backend("scalar") == FPQ_OK);
        /* 512 packed codes read at most 512 bytes: every bit pattern of the stream. */
        CHECK(fpq_dequantize(&f, codes, 512, 0.3f, 0, a) == FPQ_OK);
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        CHECK(fpq_dequantize(&f, codes, 512, 0.3f, 0, b) == FPQ_OK);
        CHECKF(!memcmp(a, b, sizeof a), "%s: %s packed codes", backend, name);
    }
}

static void test_backends_decode_every_code_like_scalar(void)
{
    fpqt_for_each_simd_backend(codes_match);
}

/* Random values of every magnitude, one in eight a random bit pattern (NaNs with payloads,
 * infinities, subnormals), and exact zeros of both signs. */
static void random_specials(uint64_t *rng, float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t r = fpqt_rand(rng);
        switch (r % 16) {
        case 0: x[i] = fpqt_rand_float_bits(rng); break;
        case 1: x[i] = (r & 32) ? -0.0f : 0.0f; break;
        case 2: x[i] = (r & 32) ? -INFINITY : INFINITY; break;
        case 3: x[i] = fpqt_u2f((uint32_t)(fpqt_rand(rng) & 0x807fffffu)); break;
        default:
            x[i] = (float)ldexp((double)(r >> 40) / 16777216.0, (int)(r % 40) - 20);
            if (r & 64)
                x[i] = -x[i];
        }
    }
}

static void random_match(const char *backend)
{
    enum { N = 4099 };
    static float x[N];
    static const float scales[] = {1.0f, 0.25f, 0.0371f, 3.0e-38f, 1.0e20f};
    uint64_t rng = 2024;
    int i, s;
    const char *name;
    for (i = 0; (name = fpq_format_preset_name(i)) != NULL; i++) {
        fpq_format f;
        CHECK(fpq_format_from_name(name, &f) == FPQ_OK);
        for (s = 0; s < 5; s++) {
            random_specials(&rng, x, N);
            if (!same_as_scalar(backend, &f, x, N, scales[s], name))
                return;
        }
    }
}

static void test_backends_match_scalar_on_random_data_with_specials(void)
{
    fpqt_for_each_simd_backend(random_match);
}

static void lengths_match(const char *backend)
{
    static const char *const names[] = {"e2m1", "float6_e3m2fn", "float8_e4m3fn", "e8m0"};
    static float store[130 + 64];
    uint64_t rng = 77;
    size_t n, off, k;

    for (k = 0; k < 4; k++) {
        fpq_format f;
        CHECK(fpq_format_from_name(names[k], &f) == FPQ_OK);
        for (n = 0; n <= 130; n++) {
            for (off = 0; off < 64; off += 4) {
                float *x = (float *)(void *)((char *)store + off);
                random_specials(&rng, x, n);
                if (!same_as_scalar(backend, &f, x, n, 0.37f, names[k]))
                    return;
            }
        }
    }
}

static void test_backends_match_scalar_for_every_length_and_offset(void)
{
    fpqt_for_each_simd_backend(lengths_match);
}

/* Code buffers at every byte offset, and float buffers at every misaligned offset (refused
 * the same way by every backend). */
static void offsets_match(const char *backend)
{
    static uint8_t store[4096];
    static float x[512], y[512];
    fpq_format f;
    uint64_t rng = 5;
    size_t off;
    CHECK(fpq_format_from_name("e2m1", &f) == FPQ_OK);
    random_specials(&rng, x, 512);
    for (off = 0; off < 64; off++) {
        uint8_t a[300], b[300];
        CHECK(fpq_set_backend("scalar") == FPQ_OK);
        CHECK(fpq_quantize(&f, x, 511, 0.1f, 0, store + off) == FPQ_OK);
        memcpy(a, store + off, 256);
        CHECK(fpq_dequantize(&f, store + off, 511, 0.1f, 0, y) == FPQ_OK);
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        CHECK(fpq_quantize(&f, x, 511, 0.1f, 0, store + off) == FPQ_OK);
        memcpy(b, store + off, 256);
        CHECKF(!memcmp(a, b, 256), "%s: codes at byte offset %zu", backend, off);
        {
            float z[512];
            CHECK(fpq_dequantize(&f, store + off, 511, 0.1f, 0, z) == FPQ_OK);
            CHECKF(!memcmp(y, z, 511 * sizeof(float)), "%s: dequantize from offset %zu",
                   backend, off);
        }
        if (off % 4) {
            CHECK(fpq_fake_quantize(&f, (const float *)(const void *)(store + off), 10, 1.0f, 0,
                                    y) == FPQ_ERR_ALIGN);
        }
    }
    CHECK(fpq_set_backend("scalar") == FPQ_OK);
}

static void test_backends_match_scalar_at_every_byte_offset(void)
{
    fpqt_for_each_simd_backend(offsets_match);
}

static void in_place_match(const char *backend)
{
    enum { N = 1000 };
    static float a[N], b[N];
    uint64_t rng = 8;
    fpq_format f;
    CHECK(fpq_format_from_name("float8_e5m2", &f) == FPQ_OK);
    random_specials(&rng, a, N);
    memcpy(b, a, sizeof a);
    CHECK(fpq_set_backend("scalar") == FPQ_OK);
    CHECK(fpq_fake_quantize(&f, a, N, 0.5f, 0, a) == FPQ_OK);
    CHECK(fpq_set_backend(backend) == FPQ_OK);
    CHECK(fpq_fake_quantize(&f, b, N, 0.5f, 0, b) == FPQ_OK);
    CHECKF(!memcmp(a, b, sizeof a), "%s: in place", backend);
}

static void test_backends_match_scalar_in_place(void)
{
    fpqt_for_each_simd_backend(in_place_match);
}

/* Conversions: every float16 / bfloat16 code widened, and random float32 patterns (NaN
 * payloads, subnormals, exact ties) narrowed, give scalar's bits. */
static void conversions_match(const char *backend)
{
    enum { N = 65536 };
    static uint16_t codes[N], a16[N], b16[N];
    static float fa[N], fb[N], src[N];
    uint64_t rng = 31;
    int type;
    size_t i;

    for (i = 0; i < N; i++) {
        codes[i] = (uint16_t)i;
        src[i] = i % 4 == 0 ? fpqt_u2f(((uint32_t)fpqt_rand(&rng) & 0xffffe000u) | 0x1000u)
                            : fpqt_rand_float_bits(&rng);
    }
    for (type = FPQ_FLOAT16; type <= FPQ_BFLOAT16; type++) {
        CHECK(fpq_set_backend("scalar") == FPQ_OK);
        CHECK(fpq_convert_to_float32(type, codes, N, fa) == FPQ_OK);
        CHECK(fpq_convert_from_float32(type, src, N - 3, a16) == FPQ_OK);
        CHECK(fpq_set_backend(backend) == FPQ_OK);
        CHECK(fpq_convert_to_float32(type, codes, N, fb) == FPQ_OK);
        CHECK(fpq_convert_from_float32(type, src, N - 3, b16) == FPQ_OK);
        CHECKF(!memcmp(fa, fb, sizeof fa), "%s: widening type %d", backend, type);
        CHECKF(!memcmp(a16, b16, (N - 3) * 2), "%s: narrowing type %d", backend, type);
    }
    CHECK(fpq_set_backend("auto") == FPQ_OK);
}

static void test_backends_convert_float16_and_bfloat16_like_scalar(void)
{
    fpqt_for_each_simd_backend(conversions_match);
}

static void test_thread_counts_give_identical_bytes(void)
{
    enum { N = (1 << 19) + 333 };
    static const int counts[] = {1, 2, 7};
    float *x = (float *)malloc(N * sizeof(float)), *y = (float *)malloc(N * sizeof(float));
    float *y1 = (float *)malloc(N * sizeof(float));
    uint8_t *c = (uint8_t *)malloc(N), *c1 = (uint8_t *)malloc(N);
    uint64_t rng = 11;
    fpq_format f;
    size_t bytes;
    int i;

    if (!x || !y || !y1 || !c || !c1) {
        CHECK(!"out of memory");
        goto done;
    }
    CHECK(fpq_format_from_name("float6_e2m3fn", &f) == FPQ_OK);
    bytes = fpq_packed_size(&f, N, 0);
    random_specials(&rng, x, N);
    for (i = 0; i < 3; i++) {
        CHECK(fpq_set_num_threads(counts[i]) == FPQ_OK);
        CHECK(fpq_quantize(&f, x, N, 0.07f, 0, c) == FPQ_OK);
        CHECK(fpq_fake_quantize(&f, x, N, 0.07f, 0, y) == FPQ_OK);
        if (i == 0) {
            memcpy(c1, c, bytes);
            memcpy(y1, y, N * sizeof(float));
            continue;
        }
        CHECKF(!memcmp(c, c1, bytes) && !memcmp(y, y1, N * sizeof(float)),
               "%d threads differ from 1", counts[i]);
        CHECK(fpq_dequantize(&f, c, N, 0.07f, 0, y) == FPQ_OK);
        CHECKF(!memcmp(y, y1, N * sizeof(float)), "%d threads: dequantize", counts[i]);
    }
    CHECK(fpq_set_num_threads(-1) == FPQ_ERR_ARGUMENT);
    CHECK(fpq_set_num_threads(0) == FPQ_OK);
    printf("    threads a large call uses by default: %d\n", fpq_num_threads());
done:
    free(x);
    free(y);
    free(y1);
    free(c);
    free(c1);
}

static void test_backend_selection_api(void)
{
    const char *best = fpq_backend_at(0);
    char before[16];
    CHECK(best != NULL);
    CHECK(fpq_set_backend("auto") == FPQ_OK);
    snprintf(before, sizeof before, "%s", fpq_backend_name());
    CHECK(fpq_backend_available("scalar") == 1);
    CHECK(fpq_backend_available("mmx") == 0 && fpq_backend_available(NULL) == 0);
    CHECK(fpq_set_backend("mmx") == FPQ_ERR_NAME);
    CHECK(fpq_set_backend("AVX2") == FPQ_ERR_NAME);
    CHECK(fpq_set_backend(NULL) == FPQ_ERR_NULL);
    CHECK(!strcmp(fpq_backend_name(), before)); /* refused calls change nothing */
    CHECK(fpq_set_backend("scalar") == FPQ_OK && !strcmp(fpq_backend_name(), "scalar"));
    CHECK(fpq_set_backend("auto") == FPQ_OK && !strcmp(fpq_backend_name(), before));
    /* auto picks the first available in best-first order */
    {
        int i;
        const char *name;
        for (i = 0; (name = fpq_backend_at(i)) != NULL; i++)
            if (fpq_backend_available(name))
                break;
        CHECK(name && !strcmp(name, before));
    }
    printf("    backend in use: %s\n", fpq_backend_name());
}

const fpqt_case fpqt_backend_cases[] = {
    {"backend selection API", test_backend_selection_api},
    {"backends match scalar on sweeps of every format",
     test_backends_match_scalar_on_sweeps_of_every_format},
    {"backends decode every code like scalar", test_backends_decode_every_code_like_scalar},
    {"backends match scalar on random data with specials",
     test_backends_match_scalar_on_random_data_with_specials},
    {"backends match scalar for every length and offset",
     test_backends_match_scalar_for_every_length_and_offset},
    {"backends match scalar at every byte offset",
     test_backends_match_scalar_at_every_byte_offset},
    {"backends match scalar in place", test_backends_match_scalar_in_place},
    {"backends convert float16 and bfloat16 like scalar",
     test_backends_convert_float16_and_bfloat16_like_scalar},
    {"thread counts give identical bytes", test_thread_counts_give_identical_bytes},
    {NULL, NULL},
};
