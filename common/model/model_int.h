/*
 * model_int.h - helpers shared by the files of common/model only.
 *
 * Parameter vectors in this module are 64-byte aligned (cache lines and the
 * widest SIMD loads OpenBLAS uses) and every size derived from outside input
 * goes through an overflow-checked multiplication before it reaches malloc.
 */
#ifndef FR_MODEL_MODEL_INT_H
#define FR_MODEL_MODEL_INT_H

#include <stddef.h>
#include <stdint.h>

#define FR_MODEL_ALIGN 64u

/* *out = a * b; returns 0 on success, -1 if the product overflows size_t. */
static inline int
fr_model_size_mul(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

/* Zero-filled, 64-byte aligned array of n floats (n > 0); release with
 * free(). NULL if n * sizeof(float) overflows or memory runs out. */
float *fr_model_falloc(size_t n);

/* Little-endian float32 stores and loads for the on-disk formats. */
void fr_model_put_f32le(uint8_t *p, float v);
float fr_model_get_f32le(const uint8_t *p);

#endif
