/*
 * model.c - the global item parameters and their file format. See model.h.
 *
 * The parameters live in one 64-byte aligned float array (embeddings, then
 * biases) so that aggregation, masking and the wire code can treat the model
 * as a single flat vector. Decoding checks the header, the exact length and
 * the CRC before it allocates anything sized by the input, and rejects
 * non-finite values so a corrupted or hostile file cannot poison training.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "../base/util.h"
#include "model_int.h"

#define MODEL_MAGIC "FRMD"
#define MODEL_VERSION 1u
#define MODEL_HEADER_BYTES 16u
#define MODEL_CRC_BYTES 4u

struct fr_model {
    uint32_t n_items;
    uint32_t dim;
    size_t n_params;
    float *params; /* n_items * dim embeddings, then n_items biases */
};

float *
fr_model_falloc(size_t n)
{
    size_t bytes;

    if (n == 0 || fr_model_size_mul(n, sizeof(float), &bytes) ||
        bytes > SIZE_MAX - FR_MODEL_ALIGN)
        return NULL;
    /* aligned_alloc wants a size that is a multiple of the alignment */
    bytes = (bytes + FR_MODEL_ALIGN - 1) / FR_MODEL_ALIGN * FR_MODEL_ALIGN;
    float *p = aligned_alloc(FR_MODEL_ALIGN, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void
fr_model_put_f32le(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    fr_put_u32le(p, u);
}

float
fr_model_get_f32le(const uint8_t *p)
{
    uint32_t u = fr_get_u32le(p);
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Number of parameters for a shape already checked against the maxima. */
static size_t
shape_params(uint32_t n_items, uint32_t dim)
{
    return (size_t)n_items * dim + n_items;
}

static int
shape_ok(uint32_t n_items, uint32_t dim)
{
    return n_items > 0 && n_items <= FR_MODEL_MAX_ITEMS && dim > 0 &&
           dim <= FR_MODEL_MAX_DIM;
}

void
fr_model_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

fr_err
fr_model_new(fr_model **out, uint32_t n_items, uint32_t dim)
{
    fr_model *m;

    if (!shape_ok(n_items, dim))
        return FR_EINVAL;
    m = calloc(1, sizeof *m);
    if (!m)
        return FR_ENOMEM;
    m->n_items = n_items;
    m->dim = dim;
    m->n_params = shape_params(n_items, dim);
    m->params = fr_model_falloc(m->n_params);
    if (!m->params) {
        free(m);
        return FR_ENOMEM;
    }
    *out = m;
    return FR_OK;
}

void
fr_model_destroy(fr_model **mp)
{
    if (!mp || !*mp)
        return;
    free((*mp)->params);
    free(*mp);
    *mp = NULL;
}

void
fr_model_init_random(fr_model *m, uint64_t seed, float scale)
{
    size_t n_emb = (size_t)m->n_items * m->dim;
    fr_rng rng;

    fr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n_emb; i++)
        m->params[i] = (float)(scale * fr_rng_normal(&rng));
    memset(m->params + n_emb, 0, (size_t)m->n_items * sizeof(float));
}

uint32_t
fr_model_n_items(const fr_model *m)
{
    return m->n_items;
}

uint32_t
fr_model_dim(const fr_model *m)
{
    return m->dim;
}

size_t
fr_model_n_params(const fr_model *m)
{
    return m->n_params;
}

float *
fr_model_params(fr_model *m)
{
    return m->params;
}

const float *
fr_model_params_const(const fr_model *m)
{
    return m->params;
}

float *
fr_model_item_emb(fr_model *m)
{
    return m->params;
}

float *
fr_model_item_bias(fr_model *m)
{
    return m->params + (size_t)m->n_items * m->dim;
}

const float *
fr_model_item_emb_const(const fr_model *m)
{
    return m->params;
}

const float *
fr_model_item_bias_const(const fr_model *m)
{
    return m->params + (size_t)m->n_items * m->dim;
}

fr_err
fr_model_copy(fr_model *dst, const fr_model *src)
{
    if (dst->n_items != src->n_items || dst->dim != src->dim)
        return FR_EINVAL;
    if (dst != src)
        memcpy(dst->params, src->params, src->n_params * sizeof(float));
    return FR_OK;
}

fr_err
fr_model_dup(const fr_model *src, fr_model **out)
{
    fr_model *m = NULL;
    fr_err rc = fr_model_new(&m, src->n_items, src->dim);

    if (rc)
        return rc;
    memcpy(m->params, src->params, src->n_params * sizeof(float));
    *out = m;
    return FR_OK;
}

/* Frame length for n floats; the maxima keep this far from SIZE_MAX on
 * 64-bit hosts, the check covers 32-bit ones. */
static int
frame_len(size_t n, size_t *len_out)
{
    size_t body;

    if (fr_model_size_mul(n, sizeof(float), &body) ||
        body > SIZE_MAX - MODEL_HEADER_BYTES - MODEL_CRC_BYTES)
        return -1;
    *len_out = MODEL_HEADER_BYTES + body + MODEL_CRC_BYTES;
    return 0;
}

fr_err
fr_model_frame_encode(const char *magic, uint32_t version, uint32_t a,
                      uint32_t b, const float *v, size_t n, uint8_t **buf_out,
                      size_t *len_out)
{
    size_t len;
    uint8_t *buf, *p;

    if (frame_len(n, &len))
        return FR_ELIMIT;
    buf = malloc(len);
    if (!buf)
        return FR_ENOMEM;
    memcpy(buf, magic, 4);
    fr_put_u32le(buf + 4, version);
    fr_put_u32le(buf + 8, a);
    fr_put_u32le(buf + 12, b);
    p = buf + MODEL_HEADER_BYTES;
    for (size_t i = 0; i < n; i++, p += 4)
        fr_model_put_f32le(p, v[i]);
    fr_put_u32le(p, fr_crc32(0, buf, len - MODEL_CRC_BYTES));
    *buf_out = buf;
    *len_out = len;
    return FR_OK;
}

fr_err
fr_model_frame_header(const uint8_t *buf, size_t len, const char *magic,
                      uint32_t version, uint32_t *a_out, uint32_t *b_out)
{
    if (!buf || len < MODEL_HEADER_BYTES + MODEL_CRC_BYTES ||
        memcmp(buf, magic, 4) != 0 || fr_get_u32le(buf + 4) != version)
        return FR_EPROTO;
    *a_out = fr_get_u32le(buf + 8);
    *b_out = fr_get_u32le(buf + 12);
    return FR_OK;
}

fr_err
fr_model_frame_floats(const uint8_t *buf, size_t len, size_t n, float *out)
{
    const uint8_t *r = buf + MODEL_HEADER_BYTES;
    size_t want;

    if (frame_len(n, &want) || len != want ||
        fr_crc32(0, buf, len - MODEL_CRC_BYTES) !=
            fr_get_u32le(buf + len - MODEL_CRC_BYTES))
        return FR_EPROTO;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(fr_model_get_f32le(r + 4 * i)))
            return FR_EPROTO;
    for (size_t i = 0; i < n; i++)
        out[i] = fr_model_get_f32le(r + 4 * i);
    return FR_OK;
}

fr_err
fr_model_encode(const fr_model *m, uint8_t **buf_out, size_t *len_out)
{
    return fr_model_frame_encode(MODEL_MAGIC, MODEL_VERSION, m->n_items,
                                 m->dim, m->params, m->n_params, buf_out,
                                 len_out);
}

fr_err
fr_model_decode(const uint8_t *buf, size_t len, fr_model **out)
{
    fr_model *m = NULL;
    uint32_t n_items, dim;
    size_t want;
    fr_err rc = fr_model_frame_header(buf, len, MODEL_MAGIC, MODEL_VERSION,
                                      &n_items, &dim);

    if (rc)
        return rc;
    /* Check the length against the declared shape before allocating it. */
    if (!shape_ok(n_items, dim) ||
        frame_len(shape_params(n_items, dim), &want) || len != want)
        return FR_EPROTO;
    rc = fr_model_new(&m, n_items, dim);
    if (rc)
        return rc;
    rc = fr_model_frame_floats(buf, len, m->n_params, m->params);
    if (rc == FR_OK) {
        *out = m;
        m = NULL;
    }
    fr_model_destroy(&m);
    return rc;
}

fr_err
fr_model_save(const fr_model *m, const char *path)
{
    uint8_t *buf = NULL;
    size_t len;
    fr_err rc = fr_model_encode(m, &buf, &len);

    if (rc)
        return rc;
    rc = fr_file_write_atomic(path, buf, len, 0600);
    free(buf);
    return rc;
}

fr_err
fr_model_load(const char *path, fr_model **out)
{
    uint8_t *buf = NULL;
    size_t len, max_len;
    fr_err rc;

    if (frame_len(shape_params(FR_MODEL_MAX_ITEMS, FR_MODEL_MAX_DIM),
                  &max_len))
        max_len = SIZE_MAX - 1; /* 32-bit host: let the allocator decide */
    rc = fr_file_read_all(path, max_len, &buf, &len);
    if (rc)
        return rc;
    rc = fr_model_decode(buf, len, out);
    free(buf);
    return rc;
}
