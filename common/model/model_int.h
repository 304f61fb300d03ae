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

/*
 * The on-disk frame shared by the model and the member embeddings:
 * 4-byte magic, u32 version, u32 a, u32 b, n float32 (little-endian), u32
 * CRC-32 of everything before it.
 *
 * fr_model_frame_encode: *buf_out is malloc'd. FR_ELIMIT if n is too large.
 * fr_model_frame_header: checks magic and version, returns a and b.
 * fr_model_frame_floats: checks that buf holds exactly n floats, the CRC and
 * that every value is finite, then copies them into out (untouched on
 * failure). Both FR_EPROTO on any mismatch.
 */
FR_NODISCARD fr_err fr_model_frame_encode(const char *magic, uint32_t version,
                                          uint32_t a, uint32_t b,
                                          const float *v, size_t n,
                                          uint8_t **buf_out, size_t *len_out);
FR_NODISCARD fr_err fr_model_frame_header(const uint8_t *buf, size_t len,
                                          const char *magic, uint32_t version,
                                          uint32_t *a_out, uint32_t *b_out);
FR_NODISCARD fr_err fr_model_frame_floats(const uint8_t *buf, size_t len,
                                          size_t n, float *out);
float fr_model_get_f32le(const uint8_t *p);

#endif
