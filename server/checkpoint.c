/*
 * checkpoint.c - atomic save and verified load of the aggregator's state.
 * A damaged checkpoint is refused, never half-applied: the operator keeps the
 * file for inspection and the daemon says exactly what is wrong.
 */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define CK_MAGIC "FRCK"
#define CK_VERSION 1u
#define CK_HEADER (4 + 4 + 8 + 8 + 8)
#define CK_MAX_BYTES ((size_t)2 << 30)

fr_err
checkpoint_save(const checkpoint *ck, const char *path)
{
    uint8_t *model_buf = NULL, *buf = NULL;
    size_t model_len = 0, len;
    fr_err rc = fr_model_encode(ck->model, &model_buf, &model_len);

    if (rc)
        return rc;
    len = CK_HEADER + model_len + 4;
    buf = malloc(len);
    if (!buf) {
        rc = FR_ENOMEM;
        goto out;
    }
    memcpy(buf, CK_MAGIC, 4);
    fr_put_u32le(buf + 4, CK_VERSION);
    fr_put_u64le(buf + 8, ck->next_round_id);
    fr_put_u64le(buf + 16, ck->completed_rounds);
    fr_put_u64le(buf + 24, model_len);
    memcpy(buf + CK_HEADER, model_buf, model_len);
    fr_put_u32le(buf + CK_HEADER + model_len,
                 fr_crc32(0, buf, CK_HEADER + model_len));
    rc = fr_file_write_atomic(path, buf, len, 0600);
out:
    free(buf);
    free(model_buf);
    return rc;
}

fr_err
checkpoint_load(const char *path, checkpoint *ck)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t model_len;
    fr_model *model = NULL;
    fr_err rc = fr_file_read_all(path, CK_MAX_BYTES, &buf, &len);

    if (rc)
        return rc;
    rc = FR_EPROTO;
    if (len < CK_HEADER + 4 || memcmp(buf, CK_MAGIC, 4) != 0 ||
        fr_get_u32le(buf + 4) != CK_VERSION)
        goto out;
    model_len = fr_get_u64le(buf + 24);
    if (model_len != len - CK_HEADER - 4)
        goto out;
    if (fr_crc32(0, buf, len - 4) != fr_get_u32le(buf + len - 4))
        goto out;
    rc = fr_model_decode(buf + CK_HEADER, (size_t)model_len, &model);
    if (rc)
        goto out;
    ck->next_round_id = fr_get_u64le(buf + 8);
    ck->completed_rounds = fr_get_u64le(buf + 16);
    ck->model = model;
out:
    free(buf);
    return rc;
}
