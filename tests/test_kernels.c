/*
 * test_kernels.c - quantize / dequantize / fake-quantize against the brute-force reference:
 * dense sweeps of every format, scaled inputs, special values with their exact codes,
 * packing, the floating-point environment, and chunked calls.
 */
#include "fpq_test.h"
#include "reference.h"

#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#  include <xmmintrin.h>
#endif

/* Inputs that probe every rounding decision of a format at scale 1: 64 steps across every gap
 * between neighbours, every midpoint and its float32 neighbours, a stretch past the largest
 * value, values below the smallest, float32 subnormals and specials; both signs. */
static size_t sweep_inputs(const ref_format *r, float *out)
{
    size_t n = 0, half;
    int i, k;
    double max = r->mag[r->num_mag - 1];
    double top_gap = r->num_mag > 1 ? max - r->mag[r->num_mag - 2] : max;
    static const float extra[] = {0.0f, 1e-45f, 1e-40f, 1.1754942e-38f, 1.1754944e-38f,
                                  5.9e-39f, 1e-30f, 1e30f, FLT_MAX, INFINITY, NAN};

    for (i = 0; i + 1 < r->num_mag; i++) {
        double a = r->mag[i], b = r->mag[i + 1];
        float mid = (float)((a + b) / 2);
        for (k = 0; k < 64; k++)
            out[n++] = (float)(a + (b - a) * k / 64);
        out[n++] = mid;
        out[n++] = nextafterf(mid, 0.0f);
        out[n++] = nextafterf(mid, INFINITY);
    }
    for (k = 0; k <= 192; k++)
        out[n++] = (float)(max + top_gap * k / 64);
    out[n++] = (float)(2 * max);
    for (k = 0; k < 64; k++)
        out[n++] = (float)(r->mag[r->num_mag > 1 ? 1 : 0] * k / 64);
    for (k = 0; k < (int)(sizeof extra / sizeof extra[0]); k++)
        out[n++] = extra[k];
    half = n;
    for (i = 0; i < (int)half; i++)
        out[n++] = -out[i];
    return n;
}

#define SWEEP_MAX (256 * 67 + 512)

static void check_sweep(const fpq_format *fmt, const char *what)
{
    static float x[2 * SWEEP_MAX], y[2 * SWEEP_MAX], z[2 * SWEEP_MAX];
    static uint8_t codes[2 * SWEEP_MAX];
    static const unsigned modes[] = {0, FPQ_NO_SATURATE};
    ref_format r;
    size_t n, i;
    int mi, bad = 0;

    ref_init(&r, fmt);
    n = sweep_inputs(&r, x);
    for (mi = 0; mi < 2; mi++) {
        unsigned flags = modes[mi];
        CHECK(fpq_fake_quantize(fmt, x, n, 1.0f, flags, y) == FPQ_OK);
        CHECK(fpq_quantize(fmt, x, n, 1.0f, flags | FPQ_UNPACKED, codes) == FPQ_OK);
        CHECK(fpq_dequantize(fmt, codes, n, 1.0f, FPQ_UNPACKED, z) == FPQ_OK);
        for (i = 0; i < n && bad < 5; i++) {
            ref_result want = ref_round(&r, x[i], flags);
            const ref_result *got = &r.code[codes[i]];
            int code_ok = got->kind == want.kind &&
                          (want.kind == REF_NAN ||
                           (got->value == want.value && got->negative == want.negative));
            if (!ref_matches(&want, y[i]) || !ref_matches(&want, z[i]) || !code_ok) {
                bad++;
                fpqt_fail(__FILE__, __LINE__, "%s flags %u: x=%a want %a (kind %d), fake %a, "
                          "code %#x -> %a", what, flags, (double)x[i], want.value, want.kind,
                          (double)y[i], codes[i], (double)z[i]);
            }
        }
    }
}

static void test_dense_sweeps_round_to_nearest_even_for_every_format(void)
{
    int count = ref_for_each_format(check_sweep);
    CHECKF(count > 200, "only %d formats", count);
}

/* Inputs spread over the range a scale puts within reach of the format, plus random bits. */
static void scaled_inputs(uint64_t *rng, float scale, double max, float *x, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (i % 8 == 7) {
            x[i] = fpqt_rand_float_bits(rng);
        } else {
            double u = (double)(fpqt_rand(rng) >> 11) / 9007199254740992.0;
            double mag = ldexp(1.0 + u, (int)(fpqt_rand(rng) % 24) - 18) * max * scale;
            x[i] = (float)((fpqt_rand(rng) & 1) ? -mag : mag);
        }
    }
}

static void test_scaled_inputs_round_their_float32_quotient(void)
{
    static const float scales[] = {0.37f, 3.0f, 0.125f, 1024.0f, 0.1f, 1.1754944e-38f,
                                   7.0e-30f, 1.0e30f, 3.4e38f};
    enum { N = 4096 };
    static float x[N], y[N];
    uint64_t rng = 12345;
    int i, si, bad = 0;

    for (i = 0; fpq_format_preset_name(i); i++) {
        fpq_format f;
        ref_format r;
        CHECK(fpq_format_from_name(fpq_format_preset_name(i), &f) == FPQ_OK);
        ref_init(&r, &f);
        for (si = 0; si < (int)(sizeof scales / sizeof scales[0]); si++) {
            float s = scales[si];
            unsigned flags = (si & 1) ? FPQ_NO_SATURATE : 0;
            size_t k;
            scaled_inputs(&rng, s, r.mag[r.num_mag - 1], x, N);
            CHECK(fpq_fake_quantize(&f, x, N, s, flags, y) == FPQ_OK);
            for (k = 0; k < N && bad < 5; k++) {
                float q = x[k] / s;
                ref_result want = ref_round(&r, q, flags);
                ref_result scaled = want;
                if (want.kind != REF_NAN)
                    scaled.value = (double)((float)want.value * s);
                if (!ref_matches(&scaled, y[k])) {
                    bad++;
                    fpqt_fail(__FILE__, __LINE__, "%s scale %a: x=%a want %a got %a",
                              fpq_format_preset_name(i), (double)s, (double)x[k],
                              scaled.value, (double)y[k]);
                }
            }
        }
    }
}

static void test_fake_quantize_equals_dequantize_of_quantize(void)
{
    enum { N = 1000 };
    static float x[N], y[N], z[N];
    static uint8_t codes[N];
    uint64_t rng = 99;
    int i, mode;

    for (i = 0; fpq_format_preset_name(i); i++) {
        fpq_format f;
        fpq_format_limits lim;
        CHECK(fpq_format_from_name(fpq_format_preset_name(i), &f) == FPQ_OK);
        CHECK(fpq_format_limits_get(&f, &lim) == FPQ_OK);
        for (mode = 0; mode < 4; mode++) {
            unsigned flags = (mode & 1 ? FPQ_NO_SATURATE : 0) | (mode & 2 ? FPQ_UNPACKED : 0);
            float s = mode == 3 ? 0.0625f : 0.731f;
            scaled_inputs(&rng, s, lim.max_finite, x, N);
            CHECK(fpq_quantize(&f, x, N, s, flags, codes) == FPQ_OK);
            CHECK(fpq_dequantize(&f, codes, N, s, flags, y) == FPQ_OK);
            CHECK(fpq_fake_quantize(&f, x, N, s, flags, z) == FPQ_OK);
            CHECKF(memcmp(y, z, sizeof y) == 0, "%s flags %u", fpq_format_preset_name(i), flags);
        }
    }
}

typedef struct special_case {
    const char *format;
    float x;
    unsigned flags;
    unsigned code;
} special_case;

static void test_special_values_get_their_documented_codes(void)
{
    static const special_case cases[] = {
        {"float8_e4m3fn", NAN, 0, 0x7f},
        {"float8_e4m3fn", -NAN, 0, 0xff},
        {"float8_e4m3fn", INFINITY, 0, 0x7e},
        {"float8_e4m3fn", INFINITY, FPQ_NO_SATURATE, 0x7f},
        {"float8_e4m3fn", -INFINITY, FPQ_NO_SATURATE, 0xff},
        {"float8_e4m3fn", -0.0f, 0, 0x80},
        {"float8_e4m3fn", 464.0f, FPQ_NO_SATURATE, 0x7e}, /* tie to even 448 */
        {"float8_e4m3fn", 465.0f, FPQ_NO_SATURATE, 0x7f}, /* past it: NaN */
        {"float8_e4m3fn", 1e6f, 0, 0x7e},
        {"float8_e4m3fn", -1e-10f, 0, 0x80},
        {"float8_e4m3fn", 1e-40f, 0, 0x00},
        {"float8_e4m3fnuz", NAN, 0, 0x80},
        {"float8_e4m3fnuz", -0.0f, 0, 0x00},
        {"float8_e4m3fnuz", -1e-10f, 0, 0x00},
        {"float8_e4m3fnuz", INFINITY, FPQ_NO_SATURATE, 0x80},
        {"float8_e4m3fnuz", -INFINITY, 0, 0xff},
        {"float8_e5m2", NAN, 0, 0x7e},
        {"float8_e5m2", -NAN, 0, 0xfe},
        {"float8_e5m2", INFINITY, FPQ_NO_SATURATE, 0x7c},
        {"float8_e5m2", -INFINITY, FPQ_NO_SATURATE, 0xfc},
        {"float8_e5m2", INFINITY, 0, 0x7b},
        {"float8_e5m2", 61440.0f, FPQ_NO_SATURATE, 0x7c}, /* tie above 57344 goes to inf */
        {"float8_e5m2", 61439.0f, FPQ_NO_SATURATE, 0x7b},
        {"float4_e2m1fn", NAN, 0, 0x8},
        {"float4_e2m1fn", -NAN, 0, 0x0},
        {"float4_e2m1fn", INFINITY, FPQ_NO_SATURATE, 0x7},
        {"float4_e2m1fn", -INFINITY, 0, 0xf},
        {"float4_e2m1fn", -0.0f, 0, 0x8},
        {"float4_e2m1fn", 0.25f, 0, 0x0},  /* tie between 0 and 0.5: zero */
        {"float4_e2m1fn", 0.75f, 0, 0x2},  /* tie between 0.5 and 1: 1 (even) */
        {"float4_e2m1fn", 2.5f, 0, 0x4},   /* tie between 2 and 3: 2 */
        {"float4_e2m1fn", 5.0f, 0, 0x6},   /* tie between 4 and 6: 4 */
        {"float8_e8m0fnu", NAN, 0, 0xff},
        {"float8_e8m0fnu", 0.0f, 0, 0x00},
        {"float8_e8m0fnu", 0.0f, FPQ_NO_SATURATE, 0xff},
        {"float8_e8m0fnu", -1.0f, 0, 0x00},
        {"float8_e8m0fnu", -1.0f, FPQ_NO_SATURATE, 0xff},
        {"float8_e8m0fnu", INFINITY, 0, 0xfe},
        {"float8_e8m0fnu", INFINITY, FPQ_NO_SATURATE, 0xff},
        {"float8_e8m0fnu", 1.5f, 0, 128},  /* ties go up for M = 0 */
        {"float8_e8m0fnu", 1.4999999f, 0, 127},
        {"float8_e8m0fnu", 3.0f, 0, 129},
        {"float8_e8m0fnu", 1e-45f, 0, 0},
        {"float8_e8m0fnu", 3.0e38f, FPQ_NO_SATURATE, 0xff},
        {"e0m3", 7.5f, 0, 0x7},
        {"e0m3", 2.5f, 0, 0x2},
        {"e0m3", 3.5f, 0, 0x4},
        {"e0m3", -0.5f, 0, 0x8},
        {"e0m3", -100.0f, FPQ_NO_SATURATE, 0xf},
        {"e3m0", 0.375f, 0, 0x2},
        {"e3m0", 0.125f, 0, 0x0},
        {"e3m0", 12.0f, 0, 0x7},
        {"e3m0", 24.0f, 0, 0x7},
        {"e1m2", 1.25f, 0, 0x2},
        {"e1m2", 1.75f, 0, 0x4},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const special_case *c = &cases[i];
        fpq_format f;
        uint8_t code = 0xaa;
        CHECK(fpq_format_from_name(c->format, &f) == FPQ_OK);
        CHECK(fpq_quantize(&f, &c->x, 1, 1.0f, c->flags | FPQ_UNPACKED, &code) == FPQ_OK);
        CHECKF(code == c->code, "%s x=%a flags %u: code %#x, want %#x", c->format,
               (double)c->x, c->flags, code, c->code);
    }
}

/* The packed stream as the header defines it: code i at bits [w*i, w*i + w), little-endian. */
static void pack_by_definition(const uint8_t *codes, size_t n, int w, uint8_t *out)
{
    size_t i, bytes = (n * (size_t)w + 7) / 8;
    int b;
    memset(out, 0, bytes);
    for (i = 0; i < n; i++)
        for (b = 0; b < w; b++)
            if (codes[i] >> b & 1)
                out[(i * (size_t)w + (size_t)b) / 8] |= (uint8_t)(1u << ((i * (size_t)w + (size_t)b) % 8));
}

static void test_packing_round_trips_every_length_width_and_offset(void)
{
    static const char *const names[] = {"e0m1", "e1m1", "e2m1", "e2m2", "e3m2", "e3m3", "e4m3fn"};
    static const int splits[7][2] = {{0, 1}, {1, 1}, {2, 1}, {2, 2}, {3, 2}, {3, 3}, {4, 3}};
    enum { MAXN = 100, GUARD = 16 };
    uint64_t rng = 7;
    int fi;

    for (fi = 0; fi < 7; fi++) {
        fpq_format f;
        int w = 1 + splits[fi][0] + splits[fi][1];
        size_t n;
        CHECK(fpq_format_make(splits[fi][0], splits[fi][1], FPQ_BIAS_DEFAULT,
                              fi == 6 ? FPQ_FAMILY_FN : FPQ_FAMILY_FINITE, 1, &f) == FPQ_OK);
        for (n = 1; n <= MAXN; n++) {
            float x[MAXN], y1[MAXN], y2[MAXN], y3[MAXN];
            uint8_t unpacked[MAXN], noisy[MAXN], want[MAXN], buf[MAXN + 2 * GUARD + 8];
            size_t bytes = fpq_packed_size(&f, n, 0), i, off = n % 8;
            uint8_t *packed = buf + GUARD + off;
            CHECKF(bytes == (n * (size_t)w + 7) / 8, "%s n=%zu: packed size %zu", names[fi], n,
                   bytes);
            CHECK(fpq_packed_size(&f, n, FPQ_UNPACKED) == n);
            scaled_inputs(&rng, 1.0f, 4.0, x, n);
            memset(buf, 0xcd, sizeof buf);
            CHECK(fpq_quantize(&f, x, n, 0.5f, FPQ_UNPACKED, unpacked) == FPQ_OK);
            CHECK(fpq_quantize(&f, x, n, 0.5f, 0, packed) == FPQ_OK);
            pack_by_definition(unpacked, n, w, want);
            CHECKF(memcmp(packed, want, bytes) == 0, "%s n=%zu: packed bytes differ", names[fi], n);
            for (i = 0; i < GUARD + off; i++)
                CHECKF(buf[i] == 0xcd, "%s n=%zu: wrote before the buffer", names[fi], n);
            for (i = GUARD + off + bytes; i < sizeof buf; i++)
                CHECKF(buf[i] == 0xcd, "%s n=%zu: wrote past packed size", names[fi], n);
            /* Unpacked input ignores bits above the width. */
            for (i = 0; i < n; i++)
                noisy[i] = (uint8_t)(unpacked[i] | (fpqt_rand(&rng) << w));
            CHECK(fpq_dequantize(&f, unpacked, n, 0.5f, FPQ_UNPACKED, y1) == FPQ_OK);
            CHECK(fpq_dequantize(&f, packed, n, 0.5f, 0, y2) == FPQ_OK);
            CHECK(fpq_dequantize(&f, noisy, n, 0.5f, FPQ_UNPACKED, y3) == FPQ_OK);
            CHECKF(memcmp(y1, y2, n * sizeof(float)) == 0 &&
                       memcmp(y1, y3, n * sizeof(float)) == 0,
                   "%s n=%zu: dequantized values differ", names[fi], n);
        }
    }
}

enum { FP_N = 2048 };
static float fp_inputs[2][FP_N];
static uint8_t fp_codes[FP_N];
static const float fp_scales[2] = {0.1f, 1.1754944e-38f};

/* Inputs made once, in the default environment: the test's own arithmetic must not move. */
static void make_fingerprint_inputs(void)
{
    uint64_t rng = 5;
    size_t i;
    scaled_inputs(&rng, fp_scales[0], 100.0, fp_inputs[0], FP_N);
    scaled_inputs(&rng, fp_scales[1], 100.0, fp_inputs[1], FP_N);
    for (i = 0; i < FP_N; i++)
        fp_codes[i] = (uint8_t)fpqt_rand(&rng);
}

/* Runs the three kernels on fixed data and returns a hash of every output bit. */
static uint64_t kernel_fingerprint(void)
{
    enum { N = FP_N };
    static float y[N];
    static uint8_t codes[N];
    static const char *const names[] = {"float8_e4m3fn", "float8_e5m2", "e2m1", "e3m2"};
    uint64_t h = 1469598103934665603ull;
    size_t i, k;

    for (k = 0; k < 4; k++) {
        fpq_format f;
        int si;
        if (fpq_format_from_name(names[k], &f) != FPQ_OK)
            return 0;
        for (si = 0; si < 2; si++) {
            const float *x = fp_inputs[si];
            const float *scales = fp_scales;
            memcpy(codes, fp_codes, N);
            if (fpq_fake_quantize(&f, x, N, scales[si], 0, y) != FPQ_OK)
                return 0;
            for (i = 0; i < N; i++)
                h = (h ^ fpqt_f2u(y[i])) * 1099511628211ull;
            if (fpq_dequantize(&f, codes, N, scales[si], FPQ_UNPACKED, y) != FPQ_OK)
                return 0;
            for (i = 0; i < N; i++)
                h = (h ^ fpqt_f2u(y[i])) * 1099511628211ull;
            if (fpq_quantize(&f, x, N, scales[si], FPQ_UNPACKED, codes) != FPQ_OK)
                return 0;
            for (i = 0; i < N; i++)
                h = (h ^ codes[i]) * 1099511628211ull;
        }
    }
    return h;
}

static void test_results_ignore_the_callers_rounding_mode_and_flush_to_zero(void)
{
    uint64_t base;
    static const int modes[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    int i;

    make_fingerprint_inputs();
    base = kernel_fingerprint();
    CHECK(base != 0);
    for (i = 0; i < 3; i++) {
        uint64_t h;
        CHECK(fesetround(modes[i]) == 0);
        h = kernel_fingerprint();
        CHECKF(fegetround() == modes[i], "rounding mode %d not restored", modes[i]);
        fesetround(FE_TONEAREST);
        CHECKF(h == base, "rounding mode %d changed results", modes[i]);
    }
#if defined(__x86_64__) || defined(_M_X64)
    {
        unsigned csr = _mm_getcsr();
        uint64_t h;
        _mm_setcsr(csr | 0x8040u); /* FTZ and DAZ */
        h = kernel_fingerprint();
        CHECKF(_mm_getcsr() == (csr | 0x8040u), "MXCSR not restored");
        _mm_setcsr(csr);
        CHECKF(h == base, "flush-to-zero / denormals-are-zero changed results");
    }
#endif
}

static void test_large_arrays_equal_piecewise_calls(void)
{
    /* Past the size where the library splits work (into threads when built with OpenMP). */
    enum { N = 300000, PIECE = 1000 };
    float *x = (float *)malloc(N * sizeof(float)), *y1 = (float *)malloc(N * sizeof(float));
    float *y2 = (float *)malloc(N * sizeof(float));
    uint8_t *c1 = (uint8_t *)malloc(N), *c2 = (uint8_t *)malloc(N);
    uint64_t rng = 3;
    fpq_format f;
    size_t i;

    CHECK(x && y1 && y2 && c1 && c2);
    if (!(x && y1 && y2 && c1 && c2))
        goto done;
    CHECK(fpq_format_from_name("e3m2", &f) == FPQ_OK);
    scaled_inputs(&rng, 0.3f, 28.0, x, N);
    CHECK(fpq_quantize(&f, x, N, 0.3f, 0, c1) == FPQ_OK);
    CHECK(fpq_fake_quantize(&f, x, N, 0.3f, 0, y1) == FPQ_OK);
    for (i = 0; i < N; i += PIECE) {
        CHECK(fpq_quantize(&f, x + i, PIECE, 0.3f, 0, c2 + i / 8 * 6) == FPQ_OK);
        CHECK(fpq_fake_quantize(&f, x + i, PIECE, 0.3f, 0, y2 + i) == FPQ_OK);
    }
    CHECK(memcmp(c1, c2, fpq_packed_size(&f, N, 0)) == 0);
    CHECK(memcmp(y1, y2, N * sizeof(float)) == 0);
    CHECK(fpq_dequantize(&f, c1, N, 0.3f, 0, y2) == FPQ_OK);
    CHECK(memcmp(y1, y2, N * sizeof(float)) == 0);
    /* In place. */
    CHECK(fpq_fake_quantize(&f, x, N, 0.3f, 0, x) == FPQ_OK);
    CHECK(memcmp(x, y1, N * sizeof(float)) == 0);
done:
    free(x);
    free(y1);
    free(y2);
    free(c1);
    free(c2);
}

const fpqt_case fpqt_kernel_cases[] = {
    {"dense sweeps round to nearest even for every format",
     test_dense_sweeps_round_to_nearest_even_for_every_format},
    {"scaled inputs round their float32 quotient",
     test_scaled_inputs_round_their_float32_quotient},
    {"fake_quantize equals dequantize of quantize",
     test_fake_quantize_equals_dequantize_of_quantize},
    {"special values get their documented codes",
     test_special_values_get_their_documented_codes},
    {"packing round trips every length, width and offset",
     test_packing_round_trips_every_length_width_and_offset},
    {"results ignore the caller's rounding mode and flush-to-zero",
     test_results_ignore_the_callers_rounding_mode_and_flush_to_zero},
    {"large arrays equal piecewise calls", test_large_arrays_equal_piecewise_calls},
    {NULL, NULL},
};
