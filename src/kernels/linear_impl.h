/*
 * linear_impl.h - the W4A4 linear kernel, written once for every SIMD instruction set.
 *
 * A kernel file (linear_avx2.c, linear_avx512.c, linear_neon.c) defines, before including it:
 *   LIN_TARGET   the function attribute of its instruction set (may be empty)
 *   LIN_PREFIX   a prefix that makes this file's static names unique in the library
 *   LIN_KERNEL   the name of the fpqi_linear_kernel to define
 *   LIN_LANES    int32 lanes of a vector: rows one vector covers, 4 bytes (columns) each
 *   LIN_TILES    16-row tiles one block computes at once (1 or 2)
 *   LIN_TOKENS   tokens one block computes at once
 *   LIN_BIASED(pb) 1 when the kernel makes the weights unsigned by adding 128 (for the
 *                unsigned x signed byte products of vpdpbusd / vpmaddubsw) for this problem:
 *                the sums then hold 128 * (the token's sum of integers) too, subtracted at
 *                the end; else 0
 *   types lin_b (a vector of 4 * LIN_LANES bytes) and lin_acc (LIN_LANES int32 lanes), and
 *   lin_zero() lin_load(p) lin_lut(int8 table[16], biased) lin_lo(raw, lut) lin_hi(raw, lut)
 *     (low / high nibbles of raw through the table) lin_wide(raw, biased) (bytes of integers
 *     to the dot product's weight form) lin_bcast(p) (4 bytes to every lane)
 *     lin_dot(acc, w, x, biased) (every lane += the sum of its 4 byte products) lin_add(a, b)
 *     (int32 lanes, wrapping) lin_store(p, acc).
 * Every sum is exact in int32 (linear.c bounds in_features), and the float32 outputs come
 * from fpqi_linear_finish(), the same function the scalar reference calls: bit-identical.
 */
#ifndef LIN_KERNEL
#  error "define the kernel's primitives before including linear_impl.h"
#endif

#define LIN_PASTE_(a, b) a##_##b
#define LIN_PASTE(a, b) LIN_PASTE_(a, b)
#define LIN_FN(name) LIN_PASTE(LIN_PREFIX, name)
#define LIN_STEP static inline LIN_TARGET __attribute__((always_inline))
#define LIN_VPT (FPQI_LINEAR_TILE_ROWS / LIN_LANES) /* vectors per tile */
#define LIN_VECS (LIN_TILES * LIN_VPT)
#define LIN_ROWS (LIN_TILES * FPQI_LINEAR_TILE_ROWS)
#ifndef LIN_PREFETCH
#  define LIN_PREFETCH 2048 /* bytes ahead in each tile's stream */
#endif

/*
 * One block: nt tokens from t0 times LIN_ROWS rows from the tile at wt, over every column.
 * Per group of 8 columns, each weight vector is loaded (and its codes turned into integers)
 * once and used by every token; activations come 4 bytes at a time, broadcast. nt and wide
 * are constants at every call, so the loops unroll and the accumulators stay in registers.
 */
LIN_STEP void LIN_FN(block)(const fpqi_linear_problem *pb, const uint8_t *wt, size_t t0,
                            const int nt, const int wide, const int biased, int32_t *out)
{
    lin_acc acc[LIN_TOKENS][LIN_VECS], acc_hi[2][LIN_VECS];
    const lin_b lut = lin_lut(pb->lut, biased);
    const size_t group_bytes = wide ? 128 : 64;
    const int8_t *x = pb->x + t0 * pb->x_stride;
    size_t g;
    int t, i;

    for (t = 0; t < nt; t++)
        for (i = 0; i < LIN_VECS; i++)
            acc[t][i] = lin_zero();
    for (t = 0; t < 2; t++)
        for (i = 0; i < LIN_VECS; i++)
            acc_hi[t][i] = lin_zero();
    for (g = 0; g < pb->groups; g++) {
        lin_b lo[LIN_VECS], hi[LIN_VECS];
        for (i = 0; i < LIN_VECS; i++) {
            const uint8_t *p = wt + (size_t)(i / LIN_VPT) * pb->tile_bytes + g * group_bytes +
                               (size_t)(i % LIN_VPT) * 4 * LIN_LANES;
            if (i % LIN_VPT == 0 && nt <= 2) /* few tokens: bound by the weight stream */
                __builtin_prefetch(p + LIN_PREFETCH);
            if (wide) {
                lo[i] = lin_wide(lin_load(p), biased);
                hi[i] = lin_wide(lin_load(p + 64), biased);
            } else {
                lin_b raw = lin_load(p);
                lo[i] = lin_lo(raw, lut);
                hi[i] = lin_hi(raw, lut);
            }
        }
        for (t = 0; t < nt; t++) {
            const int8_t *xt = x + (size_t)t * pb->x_stride + 8 * g;
            lin_b x0 = lin_bcast(xt), x1 = lin_bcast(xt + 4);
            for (i = 0; i < LIN_VECS; i++) {
                /* With few tokens the chain of dot products on one accumulator would set the
                 * pace: the high nibbles get accumulators of their own. */
                if (nt <= 2) {
                    acc[t][i] = lin_dot(acc[t][i], lo[i], x0, biased);
                    acc_hi[t][i] = lin_dot(acc_hi[t][i], hi[i], x1, biased);
                } else {
                    acc[t][i] = lin_dot(lin_dot(acc[t][i], lo[i], x0, biased), hi[i], x1,
                                        biased);
                }
            }
        }
    }
    for (t = 0; t < nt; t++)
        for (i = 0; i < LIN_VECS; i++)
            lin_store(out + t * LIN_ROWS + i * LIN_LANES,
                      nt <= 2 ? lin_add(acc[t][i], acc_hi[t][i]) : acc[t][i]);
}

/* A constant token count for every case; counts past LIN_TOKENS never come. One function per
 * weight storage and sign handling, each with a case per token count. */
#define LIN_NT(n) ((n) <= LIN_TOKENS ? (n) : 1)
#define LIN_CASE(n, w, b)                                                                \
    case n:                                                                              \
        LIN_FN(block)(pb, wt, t0, LIN_NT(n), w, b, out);                                 \
        break;
#define LIN_BLOCKS(name, w, b)                                                           \
    static LIN_TARGET void LIN_FN(name)(const fpqi_linear_problem *pb, const uint8_t *wt, \
                                        size_t t0, int nt, int32_t *out)                 \
    {                                                                                    \
        switch (nt) {                                                                    \
            LIN_CASE(1, w, b) LIN_CASE(2, w, b) LIN_CASE(3, w, b) LIN_CASE(4, w, b)      \
            LIN_CASE(5, w, b) LIN_CASE(6, w, b) LIN_CASE(7, w, b) LIN_CASE(8, w, b)      \
        default:                                                                         \
            break;                                                                       \
        }                                                                                \
    }

LIN_BLOCKS(blocks_narrow, 0, 0)
LIN_BLOCKS(blocks_wide, 1, 0)
LIN_BLOCKS(blocks_narrow_biased, 0, 1)
LIN_BLOCKS(blocks_wide_biased, 1, 1)

void LIN_KERNEL(const fpqi_linear_problem *pb, size_t row_begin, size_t row_end)
{
    int32_t sums[LIN_TOKENS * LIN_ROWS];
    double factor[LIN_ROWS];
    size_t row, t0, r, rows;
    const int biased = LIN_BIASED(pb);
    int t;

    for (row = row_begin; row < row_end && row < pb->out; row += LIN_ROWS) {
        const uint8_t *wt = pb->w + row / FPQI_LINEAR_TILE_ROWS * pb->tile_bytes;
        rows = pb->out - row < LIN_ROWS ? pb->out - row : LIN_ROWS;
        for (r = 0; r < rows; r++)
            factor[r] = fpqi_linear_row_factor(pb, row + r);
        for (t0 = 0; t0 < pb->tokens; t0 += LIN_TOKENS) {
            int nt = (int)(pb->tokens - t0 < LIN_TOKENS ? pb->tokens - t0 : LIN_TOKENS);
            if (biased)
                (pb->wide ? LIN_FN(blocks_wide_biased) : LIN_FN(blocks_narrow_biased))(
                    pb, wt, t0, nt, sums);
            else
                (pb->wide ? LIN_FN(blocks_wide) : LIN_FN(blocks_narrow))(pb, wt, t0, nt, sums);
            for (t = 0; t < nt; t++) {
                uint32_t xsum = (uint32_t)pb->x_sums[t0 + (size_t)t];
                float *y = pb->y + (t0 + (size_t)t) * pb->y_stride + row;
                for (r = 0; r < rows; r++)
                    y[r] = fpqi_linear_finish(
                        fpqi_linear_wrap_sub((uint32_t)sums[t * LIN_ROWS + (int)r],
                                             biased ? 128u : 0u, xsum),
                        factor[r], pb->bias, row + r);
            }
        }
    }
}

#undef LIN_CASE
#undef LIN_BLOCKS
#undef LIN_NT
#undef LIN_ROWS
#undef LIN_PREFETCH
#undef LIN_VECS
#undef LIN_VPT
#undef LIN_STEP
#undef LIN_FN
#undef LIN_PASTE
#undef LIN_PASTE_
#undef LIN_KERNEL
#undef LIN_PREFIX
#undef LIN_TARGET
#undef LIN_LANES
#undef LIN_TILES
#undef LIN_TOKENS
#undef LIN_BIASED
#undef lin_b
#undef lin_acc
#undef lin_zero
#undef lin_load
#undef lin_lut
#undef lin_lo
#undef lin_hi
#undef lin_wide
#undef lin_bcast
#undef lin_dot
#undef lin_add
#undef lin_store
