/* quickstart.c - the README's example, kept compiling and running by `make check`. */
#include <fpq.h>
#include <stdio.h>

int main(void)
{
    float w[6] = {0.31f, -1.7f, 0.02f, 2.9f, -0.44f, 5.5f}, back[6];
    unsigned char codes[3];           /* fpq_packed_size(&fmt, 6, 0) == 3: two 4-bit codes a byte */
    fpq_format fmt;
    float scale;

    fpq_format_from_name("e2m1", &fmt);                 /* FP4: ±{0, .5, 1, 1.5, 2, 3, 4, 6} */
    fpq_scale_from_maxval(&fmt, 5.5f, &scale);          /* clip at the tensor's absolute max */
    if (fpq_quantize(&fmt, w, 6, scale, 0, codes) != FPQ_OK) return 1;
    fpq_dequantize(&fmt, codes, 6, scale, 0, back);
    for (int i = 0; i < 6; i++) printf("%g -> %g\n", w[i], back[i]);
    return 0;
}
