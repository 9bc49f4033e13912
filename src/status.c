/*
 * status.c - status strings and the run-time version.
 */
#include "fpq_internal.h"

int fpq_version(void)
{
    return FPQ_VERSION_NUMBER;
}

const char *fpq_version_string(void)
{
    return FPQ_VERSION_STRING;
}

int fpq_check_version(int header_version)
{
    /* Both numbers are major * 10000 + minor * 100 + patch, so within one major version the
     * remainders order minor.patch. */
    const int library_minor_patch = FPQ_VERSION_NUMBER % 10000;

    if (header_version < 0 || header_version / 10000 != FPQ_VERSION_MAJOR)
        return FPQ_ERR_UNSUPPORTED;
    if (header_version % 10000 > library_minor_patch)
        return FPQ_ERR_UNSUPPORTED;
    return FPQ_OK;
}

const char *fpq_status_string(int status)
{
    switch (status) {
    case FPQ_OK: return "ok";
    case FPQ_ERR_NULL: return "null pointer argument";
    case FPQ_ERR_SIZE: return "size is zero or overflows";
    case FPQ_ERR_FORMAT: return "invalid format";
    case FPQ_ERR_SCALE: return "scale is not a positive, finite, normal float";
    case FPQ_ERR_FLAGS: return "unknown flags";
    case FPQ_ERR_NAME: return "unknown format name";
    case FPQ_ERR_CAPACITY: return "output array too small";
    case FPQ_ERR_OVERLAP: return "input and output buffers overlap";
    case FPQ_ERR_ALIGN: return "float buffer not aligned to 4 bytes";
    case FPQ_ERR_ARGUMENT: return "argument out of range";
    case FPQ_ERR_UNSUPPORTED: return "not supported by this CPU, build or version";
    case FPQ_ERR_MEMORY: return "out of memory";
    default: return "unknown status";
    }
}
