/*
 * dispatch.c - chooses the kernel table. Only the scalar reference exists so far; the SIMD
 * backends and their run-time selection plug in here without touching the public kernels.
 */
#include "fpq_internal.h"

const fpqi_kernels *fpqi_active_kernels(void)
{
    return &fpqi_kernels_scalar;
}
