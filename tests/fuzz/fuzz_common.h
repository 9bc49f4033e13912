/*
 * fuzz_common.h - what the fuzz harnesses share: reading the input, guarded buffers, the
 * floating-point environment, and turning input bytes into formats, scales and data.
 *
 * Every harness builds two ways: with clang -fsanitize=fuzzer (libFuzzer's main) and as a
 * plain program with tests/fuzz/replay_main.c, which replays files. A violated invariant
 * prints what failed and calls __builtin_trap(), so both builds stop on it.
 *
 * Everything is static: include it in one translation unit per program.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include "fpq.h"
#include "fuzz_model.h"

#include <fenv.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <xmmintrin.h>
#  define FZ_HAVE_MXCSR 1
#else
#  define FZ_HAVE_MXCSR 0
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ------------------------------------------------------------------------------------------ */
/* Failing */

static inline void fz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "\n%s:%d: fpq invariant violated: %s\n", file, line, what);
    fflush(stderr);
    __builtin_trap();
}

#define FZ_CHECK(cond)                                                                     \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fz_fail(__FILE__, __LINE__, #cond);                                            \
    } while (0)

/* The same with a formatted explanation printed first. */
#define FZ_CHECKF(cond, ...)                                                               \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "\n");                                                         \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fz_fail(__FILE__, __LINE__, #cond);                                            \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------------------------------------ */
/* Reading the input: past its end every read gives zeros. */

typedef struct fz_reader {
    const uint8_t *p;
    size_t n;
} fz_reader;

static inline uint8_t fz_u8(fz_reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static inline uint16_t fz_u16(fz_reader *r)
{
    uint16_t v = fz_u8(r);
    return (uint16_t)(v | (uint16_t)fz_u8(r) << 8);
}

static inline uint32_t fz_u32(fz_reader *r)
{
    uint32_t v = fz_u16(r);
    return v | (uint32_t)fz_u16(r) << 16;
}

static inline uint64_t fz_u64(fz_reader *r)
{
    uint64_t v = fz_u32(r);
    return v | (uint64_t)fz_u32(r) << 32;
}

/* A deterministic stream for arrays longer than the input (splitmix64). */
static inline uint64_t fz_mix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t fz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < size; i++)
        h = (h ^ data[i]) * 0x100000001b3ull;
    return h;
}

/* ------------------------------------------------------------------------------------------ */
/* Arenas: one malloc'd block holding every buffer of a call between guard bytes. The whole
 * block is filled with a pattern and copied before the call; afterwards every byte outside the
 * one range the call may write must still equal the copy. */

#define FZ_GUARD 64

typedef struct fz_arena {
    uint8_t *base;
    uint8_t *snap;
    size_t size;
} fz_arena;

static inline void fz_arena_init(fz_arena *a, size_t size)
{
    size_t i;
    a->size = size;
    a->base = (uint8_t *)malloc(size);
    a->snap = (uint8_t *)malloc(size);
    FZ_CHECK(a->base && a->snap);
    for (i = 0; i < size; i++)
        a->base[i] = (uint8_t)(0xa5u ^ (i * 0x3bu) ^ (i >> 8));
}

static inline void fz_arena_free(fz_arena *a)
{
    free(a->base);
    free(a->snap);
    a->base = a->snap = NULL;
}

static inline void fz_arena_snapshot(fz_arena *a)
{
    memcpy(a->snap, a->base, a->size);
}

/* Every byte outside [begin, begin + len) is as at the snapshot (len 0: every byte). */
static inline void fz_arena_expect_only(const fz_arena *a, const void *begin, size_t len,
                                 const char *what)
{
    size_t lo = 0, hi = 0, i;
    if (len) {
        lo = (size_t)((const uint8_t *)begin - a->base);
        hi = lo + len;
        FZ_CHECK(lo <= a->size && hi <= a->size);
    }
    for (i = 0; i < a->size; i++) {
        if (i >= lo && i < hi)
            continue;
        if (a->base[i] != a->snap[i]) {
            fprintf(stderr, "\n%s: byte %zu of the arena changed (allowed range [%zu, %zu))\n",
                    what, i, lo, hi);
            fz_fail(__FILE__, __LINE__, "a byte outside the output changed");
        }
    }
}

static inline void fz_arena_restore(fz_arena *a)
{
    memcpy(a->base, a->snap, a->size);
}

/* ------------------------------------------------------------------------------------------ */
/* The floating-point environment: a harness may call the library in a non-default one
 * (include/fpq.h: results must not depend on it, and it must be restored). */

typedef struct fz_env {
    int round;          /* FE_* rounding mode */
    unsigned ftz_daz;   /* MXCSR bits 15 (FTZ) and 6 (DAZ) */
} fz_env;

static inline fz_env fz_env_pick(uint8_t b)
{
    static const int modes[] = {FE_TONEAREST,
#ifdef FE_UPWARD
                                FE_UPWARD,
#else
                                FE_TONEAREST,
#endif
#ifdef FE_DOWNWARD
                                FE_DOWNWARD,
#else
                                FE_TONEAREST,
#endif
#ifdef FE_TOWARDZERO
                                FE_TOWARDZERO
#else
                                FE_TONEAREST
#endif
    };
    fz_env e;
    e.round = modes[b & 3];
    e.ftz_daz = 0;
#if FZ_HAVE_MXCSR
    if (b & 4)
        e.ftz_daz |= 0x8000u;
    if (b & 8)
        e.ftz_daz |= 0x0040u;
#endif
    return e;
}

/* The state to compare before and after a call. */
static inline unsigned long fz_env_state(void)
{
#if FZ_HAVE_MXCSR
    return (unsigned long)(_mm_getcsr() & 0xffc0u) << 8 | (unsigned)fegetround();
#else
    return (unsigned)fegetround();
#endif
}

static inline void fz_env_set(fz_env e)
{
    fesetround(e.round);
#if FZ_HAVE_MXCSR
    _mm_setcsr((_mm_getcsr() & ~0x8040u) | e.ftz_daz);
#endif
}

static inline void fz_env_default(void)
{
    fz_env e;
    e.round = FE_TONEAREST;
    e.ftz_daz = 0;
    fz_env_set(e);
}

/* ------------------------------------------------------------------------------------------ */
/* Formats from bytes */

static inline int fz_num_presets(void)
{
    int n = 0;
    while (fpq_format_preset_name(n))
        n++;
    return n;
}

/* A small int most of the time, any int now and then. */
static inline int fz_small_int(fz_reader *r, int lo, int span)
{
    uint8_t b = fz_u8(r);
    if (b >= 0xf8u)
        return (int)fz_u32(r);
    return lo + (int)(b % (unsigned)span);
}

enum { FZ_FMT_PRESET, FZ_FMT_MAKE, FZ_FMT_RAW, FZ_FMT_PERTURBED };

/*
 * A format descriptor from the input, valid or not: a preset by index (through
 * fpq_format_preset_name and fpq_format_from_name), a custom split through fpq_format_make
 * (on refusal the same fields filled by hand, an invalid descriptor), 32 raw bytes, or a
 * preset with one field changed. Returns the mode used.
 */
static inline int fz_pick_format(fz_reader *r, fpq_format *out)
{
    uint8_t mode = fz_u8(r);
    int np = fz_num_presets();

    memset(out, 0, sizeof *out);
    switch (mode & 3) {
    case FZ_FMT_PRESET: {
        const char *name = fpq_format_preset_name(fz_u8(r) % np);
        FZ_CHECK(name != NULL);
        FZ_CHECK(fpq_format_from_name(name, out) == FPQ_OK);
        return FZ_FMT_PRESET;
    }
    case FZ_FMT_MAKE: {
        int E = fz_u8(r) % 9, M = fz_u8(r) % 8, fam = 1 + fz_u8(r) % 5, s = fz_u8(r) & 1;
        uint8_t bm = fz_u8(r);
        int bias = FPQ_BIAS_DEFAULT;
        if (bm & 1)
            bias = fm_default_bias(E, fam) + (int8_t)fz_u8(r);
        if (fpq_format_make(E, M, bias, fam, s, out) != FPQ_OK) {
            out->exp_bits = E;
            out->man_bits = M;
            out->bias = bias == FPQ_BIAS_DEFAULT ? fm_default_bias(E, fam) : bias;
            out->family = fam;
            out->is_signed = s;
        }
        return FZ_FMT_MAKE;
    }
    case FZ_FMT_RAW: {
        uint8_t raw[sizeof(fpq_format)];
        size_t i;
        for (i = 0; i < sizeof raw; i++)
            raw[i] = fz_u8(r);
        memcpy(out, raw, sizeof raw);
        return FZ_FMT_RAW;
    }
    default: {
        const char *name = fpq_format_preset_name(fz_u8(r) % np);
        int *fields[8];
        int field = fz_u8(r) % 8, delta = (int8_t)fz_u8(r);
        FZ_CHECK(name != NULL && fpq_format_from_name(name, out) == FPQ_OK);
        fields[0] = &out->exp_bits;
        fields[1] = &out->man_bits;
        fields[2] = &out->bias;
        fields[3] = &out->family;
        fields[4] = &out->is_signed;
        fields[5] = &out->reserved[0];
        fields[6] = &out->reserved[1];
        fields[7] = &out->reserved[2];
        *fields[field] += delta;
        return FZ_FMT_PERTURBED;
    }
    }
}

/* A scale from the input: raw float bits (0, negative, NaN, Inf, subnormal, huge...), a power
 * of two, 1, a near-1 value, or a listed special. */
static inline float fz_pick_scale(fz_reader *r)
{
    static const uint32_t specials[] = {
        0x00000000u, 0x80000000u, 0xbf800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u,
        0x7f800000u, 0xff800000u, 0x00800000u, 0x7f7fffffu, 0x007fffffu, 0x00000001u,
        0x3f800001u, 0x3f7fffffu, 0x3e2aaaabu, 0x40c00000u, 0x00ffffffu, 0x7effffffu};
    uint8_t mode = fz_u8(r);
    switch (mode % 6) {
    case 0:
        return fm_u2f(fz_u32(r));
    case 1: {
        int k = (int8_t)fz_u8(r);
        return (float)ldexp(1.0, k < -126 ? -126 : k);
    }
    case 2:
        return 1.0f;
    case 3: /* exponent within 2^+-31 of 1, any mantissa */
        return fm_u2f(((uint32_t)(127 - 31 + fz_u8(r) % 63) << 23) | (fz_u32(r) & 0x7fffffu));
    case 4:
        return fm_u2f(specials[fz_u8(r) % (sizeof specials / sizeof specials[0])]);
    default:
        return fm_u2f(0x3f800000u + (uint32_t)(int32_t)(int8_t)fz_u8(r));
    }
}

/* Flags: the two known bits, or any 32 bits now and then. */
static inline unsigned fz_pick_flags(fz_reader *r)
{
    uint8_t b = fz_u8(r);
    if (b & 0x80u)
        return fz_u32(r);
    return b & 3u;
}

/* An element count: mostly 1..1200 (more than 2^8 codes, several 256-element blocks), now
 * and then 0 or a count whose byte size overflows. */
static inline size_t fz_pick_n(fz_reader *r)
{
    uint16_t v = fz_u16(r);
    switch (v >> 13) {
    case 7:
        switch (v & 3) {
        case 0: return 0;
        case 1: return SIZE_MAX;
        case 2: return SIZE_MAX / sizeof(float) + 1;
        default: return SIZE_MAX / 2;
        }
    case 6:
        return 1 + v % 1200;
    default:
        return 1 + v % 40;
    }
}

/*
 * Fills x[0..n) from the input. Modes: raw float32 bits (the input's, then a stream seeded by
 * it); or values built on the format's grid at this scale - values, midpoints, their float32
 * neighbours, signs, and specials (NaN payloads, +-Inf, -0, subnormals) - so that ties and
 * boundaries come up often.
 */
/* double -> float32, giving +-Inf past the float32 range instead of undefined behaviour. */
static inline float fz_d2f(double v)
{
    if (v >= 0x1p128)
        return fm_u2f(0x7f800000u);
    if (v <= -0x1p128)
        return fm_u2f(0xff800000u);
    return (float)v;
}

static inline void fz_fill_data(fz_reader *r, const fm_format *m, float scale, float *x,
                                size_t n, uint64_t seed)
{
    static const uint32_t specials[] = {
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0xff812345u, 0x7fbfffffu, 0x7f800000u,
        0xff800000u, 0x80000000u, 0x00000000u, 0x00000001u, 0x80000001u, 0x007fffffu,
        0x00400000u, 0x00800000u, 0x7f7fffffu, 0xff7fffffu, 0x00c00000u, 0x00600000u};
    uint8_t mode = fz_u8(r);
    size_t i;
    int grid = (mode & 1) && m->doc_valid && fm_scale_valid(scale);

    for (i = 0; i < n; i++) {
        uint8_t idx, kind;
        int k;
        double a, b;
        float q;
        uint32_t qb;

        if (!grid) {
            x[i] = fm_u2f(r->n >= 4 ? fz_u32(r) : (uint32_t)fz_mix(&seed));
            continue;
        }
        idx = r->n ? fz_u8(r) : (uint8_t)fz_mix(&seed);
        kind = r->n ? fz_u8(r) : (uint8_t)fz_mix(&seed);
        k = idx % m->num_values;
        a = m->values[k];
        b = k + 1 < m->num_values ? m->values[k + 1] : a * 2.0;
        switch (kind & 7) {
        case 0:
        case 4: /* a value (4: then a neighbour) */
            q = (float)a;
            break;
        case 1:
        case 2:
        case 3: /* the midpoint, a tie (2: then a neighbour) */
            q = fz_d2f((a + b) / 2.0);
            break;
        case 5: /* past the next value; past the top for the largest */
            q = fz_d2f(b + (b - a) / 2.0);
            break;
        case 6: /* a special, not scaled */
            x[i] = fm_u2f(specials[(kind >> 3) % (sizeof specials / sizeof specials[0])]);
            continue;
        default: /* somewhere between two values */
            q = fz_d2f(a + (b - a) * (double)((kind >> 3) & 31) / 32.0);
            break;
        }
        qb = fm_f2u(q);
        if ((kind & 7) == 2 || (kind & 7) == 4)
            qb += (kind & 0x40) ? 1u : ((qb & 0x7fffffffu) ? (uint32_t)-1 : 0u);
        if (kind & 0x80)
            qb ^= 0x80000000u;
        /* x = q * scale: exact for power-of-two scales, so the quotient is q again. */
        {
            volatile float qq = fm_u2f(qb), s = scale;
            x[i] = qq * s;
        }
    }
}

#endif /* FUZZ_COMMON_H */
