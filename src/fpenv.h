/*
 * fpenv.h - run a kernel in the IEEE default floating-point environment.
 *
 * The one floating-point operation per element (x / scale, value * scale) is correctly
 * rounded only in round-to-nearest with subnormals kept. A caller may run with another
 * rounding mode or with flush-to-zero / denormals-are-zero set (common in inference engines);
 * fpq's results must not change with it, so every kernel range runs between enter and leave,
 * which touch the control register only when it is not already the default.
 */
#ifndef FPQ_FPENV_H
#define FPQ_FPENV_H

#include "fpq_internal.h"

#if defined(__x86_64__) || defined(_M_X64) || (defined(__i386__) && defined(__SSE2__))
#  include <xmmintrin.h>
/* MXCSR: DAZ (bit 6), rounding control (bits 13-14), FTZ (bit 15). */
#  define FPQI_ENV_MASK 0xe040u
typedef struct fpqi_fpenv { unsigned int saved; } fpqi_fpenv;
FPQI_INLINE void fpqi_fpenv_enter(fpqi_fpenv *env)
{
    env->saved = _mm_getcsr();
    if (env->saved & FPQI_ENV_MASK)
        _mm_setcsr(env->saved & ~FPQI_ENV_MASK);
}
FPQI_INLINE void fpqi_fpenv_leave(const fpqi_fpenv *env)
{
    if (env->saved & FPQI_ENV_MASK)
        _mm_setcsr(env->saved);
}
#elif defined(__aarch64__) && defined(__GNUC__)
/* FPCR: rounding mode (bits 22-23), FZ (bit 24), and on Armv8.7 cores FIZ (bit 0, flush
 * subnormal inputs) and AH (bit 1, alternate handling). Bits a core lacks read as zero, so
 * they are never written there. */
#  define FPQI_ENV_MASK (((uint64_t)7 << 22) | 3u)
typedef struct fpqi_fpenv { uint64_t saved; } fpqi_fpenv;
FPQI_INLINE void fpqi_fpenv_enter(fpqi_fpenv *env)
{
    uint64_t v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    env->saved = v;
    if (v & FPQI_ENV_MASK) {
        v &= ~FPQI_ENV_MASK;
        __asm__ __volatile__("msr fpcr, %0" : : "r"(v));
    }
}
FPQI_INLINE void fpqi_fpenv_leave(const fpqi_fpenv *env)
{
    if (env->saved & FPQI_ENV_MASK)
        __asm__ __volatile__("msr fpcr, %0" : : "r"(env->saved));
}
#else
#  include <fenv.h>
typedef struct fpqi_fpenv { int saved; } fpqi_fpenv;
FPQI_INLINE void fpqi_fpenv_enter(fpqi_fpenv *env)
{
    env->saved = fegetround();
    if (env->saved != FE_TONEAREST)
        fesetround(FE_TONEAREST);
}
FPQI_INLINE void fpqi_fpenv_leave(const fpqi_fpenv *env)
{
    if (env->saved != FE_TONEAREST)
        fesetround(env->saved);
}
#endif

/* status = call, run in the default environment: for public entry points whose work does
 * floating-point arithmetic outside the kernels. */
#define FPQI_IN_DEFAULT_FPENV(status, call)                                              \
    do {                                                                                 \
        fpqi_fpenv fpqi_env_;                                                            \
        fpqi_fpenv_enter(&fpqi_env_);                                                    \
        (status) = (call);                                                               \
        fpqi_fpenv_leave(&fpqi_env_);                                                    \
    } while (0)

#endif /* FPQ_FPENV_H */
