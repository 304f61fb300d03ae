/*
 * model.h - the global (federated) part of the recommendation model.
 *
 * Implicit-feedback matrix factorisation: score(member u, item i) =
 * <p_u, q_i> + b_i. The item embeddings q (n_items x dim, row-major) and item
 * biases b are global and federated; member embeddings p live only on the
 * store (see mf.h) and never leave it.
 *
 * Vectors are 64-byte aligned and owned by the model; the accessors return
 * borrowed pointers valid until the model is destroyed.
 *
 * File format (little-endian): "FRMD" magic, u32 version, u32 n_items,
 * u32 dim, then n_items*dim + n_items float32, then u32 CRC-32 of everything
 * before it. Saves are atomic (fr_file_write_atomic).
 */
#ifndef FR_MODEL_MODEL_H
#define FR_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct fr_model fr_model;

#define FR_MODEL_MAX_ITEMS (1u << 20)
#define FR_MODEL_MAX_DIM 1024u

/*
 * Sets how many threads the linear-algebra library may use for the whole
 * process (n >= 1). Call once at start-up, before any training.
 */
void fr_model_set_threads(int n);

/* Zero-filled model. FR_EINVAL if n_items or dim is 0 or above the max. */
FR_NODISCARD fr_err fr_model_new(fr_model **out, uint32_t n_items,
                                 uint32_t dim);
void fr_model_destroy(fr_model **mp);

/* Embeddings ~ N(0, scale^2) from seed; biases zero. Deterministic. */
void fr_model_init_random(fr_model *m, uint64_t seed, float scale);

uint32_t fr_model_n_items(const fr_model *m);
uint32_t fr_model_dim(const fr_model *m);
/* n_items * dim + n_items: the length of the flat parameter vector. */
size_t fr_model_n_params(const fr_model *m);

/* The flat parameter vector: embeddings first, then biases, contiguous.
 * fr_model_item_emb(m) == fr_model_params(m); fr_model_item_bias(m) ==
 * fr_model_params(m) + n_items * dim. */
float *fr_model_params(fr_model *m);
const float *fr_model_params_const(const fr_model *m);
float *fr_model_item_emb(fr_model *m);
float *fr_model_item_bias(fr_model *m);
const float *fr_model_item_emb_const(const fr_model *m);
const float *fr_model_item_bias_const(const fr_model *m);

/* Copies src's parameters into dst; FR_EINVAL if shapes differ. */
FR_NODISCARD fr_err fr_model_copy(fr_model *dst, const fr_model *src);
/* Owned deep copy. */
FR_NODISCARD fr_err fr_model_dup(const fr_model *src, fr_model **out);

/* Serialises to a malloc'd buffer in the file format above. */
FR_NODISCARD fr_err fr_model_encode(const fr_model *m, uint8_t **buf_out,
                                    size_t *len_out);
/* Parses the file format; FR_EPROTO on bad magic, version, size or CRC, or
 * non-finite values. */
FR_NODISCARD fr_err fr_model_decode(const uint8_t *buf, size_t len,
                                    fr_model **out);
FR_NODISCARD fr_err fr_model_save(const fr_model *m, const char *path);
FR_NODISCARD fr_err fr_model_load(const char *path, fr_model **out);

#endif
