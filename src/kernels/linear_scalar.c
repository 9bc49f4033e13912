/*
 * linear_scalar.c - the reference W4A4 linear kernel: the integer dot products of linear.h's
 * layouts in plain C, a group of 8 columns at a time. Every SIMD kernel is held to its bits.
 */
#include "../linear.h"

/* The integers of one group (16 rows x 8 columns) of a tile. */
static void linear_scalar_decode(const fpqi_linear_problem *pb, const uint8_t *grp,
                                 int8_t w[FPQI_LINEAR_TILE_ROWS][8])
{
    int r, j;
    for (r = 0; r < FPQI_LINEAR_TILE_ROWS; r++) {
        for (j = 0; j < 4; j++) {
            if (pb->wide) {
                w[r][j] = (int8_t)grp[4 * r + j];
                w[r][4 + j] = (int8_t)grp[64 + 4 * r + j];
            } else {
                w[r][j] = pb->lut[grp[4 * r + j] & 15];
                w[r][4 + j] = pb->lut[grp[4 * r + j] >> 4];
            }
        }
    }
}

#define LINEAR_SCALAR_TOKENS 4

/* Tokens [t0, t0 + nt) of one tile. Sums wrap modulo 2^32 as the vector lanes do (valid
 * layouts never reach that). */
static void linear_scalar_tile(const fpqi_linear_problem *pb, size_t tile, size_t t0, size_t nt,
                               const double *factor)
{
    uint32_t acc[LINEAR_SCALAR_TOKENS][FPQI_LINEAR_TILE_ROWS];
    int8_t w[FPQI_LINEAR_TILE_ROWS][8];
    const uint8_t *wt = pb->w + tile * pb->tile_bytes;
    size_t row0 = tile * FPQI_LINEAR_TILE_ROWS, g, t, rows;
    int r, j;

    memset(acc, 0, sizeof acc);
    for (g = 0; g < pb->groups; g++) {
        linear_scalar_decode(pb, wt + g * (pb->wide ? 128 : 64), w);
        for (t = 0; t < nt; t++) {
            const int8_t *x = pb->x + (t0 + t) * pb->x_stride + 8 * g;
            for (r = 0; r < FPQI_LINEAR_TILE_ROWS; r++) {
                int32_t s = 0;
                for (j = 0; j < 8; j++)
                    s += (int32_t)x[j] * w[r][j];
                acc[t][r] += (uint32_t)s;
            }
        }
    }
    rows = pb->out - row0 < FPQI_LINEAR_TILE_ROWS ? pb->out - row0 : FPQI_LINEAR_TILE_ROWS;
    for (t = 0; t < nt; t++) {
        float *y = pb->y + (t0 + t) * pb->y_stride + row0;
        for (r = 0; r < (int)rows; r++)
            y[r] = fpqi_linear_finish(fpqi_linear_wrap_sub(acc[t][r], 0, 0), factor[r],
                                      pb->bias, row0 + (size_t)r);
    }
}

void fpqi_linear_scalar(const fpqi_linear_problem *pb, size_t row_begin, size_t row_end)
{
    double factor[FPQI_LINEAR_TILE_ROWS];
    size_t tile, t0;
    int r;

    for (tile = row_begin / FPQI_LINEAR_TILE_ROWS; tile < row_end / FPQI_LINEAR_TILE_ROWS;
         tile++) {
        if (tile * FPQI_LINEAR_TILE_ROWS >= pb->out)
            break;
        for (r = 0; r < FPQI_LINEAR_TILE_ROWS; r++)
            factor[r] = fpqi_linear_row_factor(pb, tile * FPQI_LINEAR_TILE_ROWS + (size_t)r);
        for (t0 = 0; t0 < pb->tokens; t0 += LINEAR_SCALAR_TOKENS)
            linear_scalar_tile(pb, tile, t0,
                               pb->tokens - t0 < LINEAR_SCALAR_TOKENS ? pb->tokens - t0
                                                                     : LINEAR_SCALAR_TOKENS,
                               factor);
    }
}

#undef LINEAR_SCALAR_TOKENS
