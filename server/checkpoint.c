/*
 * checkpoint.c - atomic save and verified load of the aggregator's state.
 * A damaged checkpoint is refused, never half-applied: the operator keeps the
 * file for inspection and the daemon says exactly what is wrong.
 */
#include "checkpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define CK_MAGIC "FRCK"
#define CK_V1_HEADER (4 + 4 + 8 + 8 + 8)
#define CK_V2_HEADER (CK_V1_HEADER + 8)
#define CK_ROUND_BYTES (8 + 8 + 4 + 8 + 6 * 8 + 8)
#define CK_MAX_BYTES ((size_t)2 << 30)

static void
put_f64(uint8_t *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    fr_put_u64le(p, u);
}

static double
get_f64(const uint8_t *p)
{
    uint64_t u = fr_get_u64le(p);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

static void
put_round(uint8_t *p, const agg_round_info *r)
{
    fr_put_u64le(p, r->round);
    fr_put_u64le(p + 8, r->round_id);
    fr_put_u32le(p + 16, r->stores);
    fr_put_u64le(p + 20, r->examples);
    put_f64(p + 28, r->hr10);
    put_f64(p + 36, r->ndcg10);
    put_f64(p + 44, r->pop_hr10);
    put_f64(p + 52, r->pop_ndcg10);
    put_f64(p + 60, r->loss);
    put_f64(p + 68, r->seconds);
    fr_put_u64le(p + 76, (uint64_t)r->end_unix_ms);
}

static void
get_round(const uint8_t *p, agg_round_info *r)
{
    r->round = fr_get_u64le(p);
    r->round_id = fr_get_u64le(p + 8);
    r->stores = fr_get_u32le(p + 16);
    r->examples = fr_get_u64le(p + 20);
    r->hr10 = get_f64(p + 28);
    r->ndcg10 = get_f64(p + 36);
    r->pop_hr10 = get_f64(p + 44);
    r->pop_ndcg10 = get_f64(p + 52);
    r->loss = get_f64(p + 60);
    r->seconds = get_f64(p + 68);
    r->end_unix_ms = (int64_t)fr_get_u64le(p + 76);
}

fr_err
checkpoint_save(const checkpoint *ck, const char *path)
{
    uint8_t *model_buf = NULL, *buf = NULL, *p;
    size_t model_len = 0, len;
    fr_err rc = fr_model_encode(ck->model, &model_buf, &model_len);

    if (rc)
        return rc;
    if (ck->n_history > (CK_MAX_BYTES - model_len) / CK_ROUND_BYTES) {
        rc = FR_ELIMIT;
        goto out;
    }
    len = CK_V2_HEADER + model_len + ck->n_history * CK_ROUND_BYTES + 4;
    buf = malloc(len);
    if (!buf) {
        rc = FR_ENOMEM;
        goto out;
    }
    memcpy(buf, CK_MAGIC, 4);
    fr_put_u32le(buf + 4, 2);
    fr_put_u64le(buf + 8, ck->next_round_id);
    fr_put_u64le(buf + 16, ck->completed_rounds);
    fr_put_u64le(buf + 24, model_len);
    fr_put_u64le(buf + 32, ck->n_history);
    memcpy(buf + CK_V2_HEADER, model_buf, model_len);
    p = buf + CK_V2_HEADER + model_len;
    for (size_t i = 0; i < ck->n_history; i++, p += CK_ROUND_BYTES)
        put_round(p, &ck->history[i]);
    fr_put_u32le(p, fr_crc32(0, buf, len - 4));
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
    size_t len = 0, header, n_hist = 0;
    uint64_t model_len, version;
    fr_model *model = NULL;
    agg_round_info *hist = NULL;
    fr_err rc = fr_file_read_all(path, CK_MAX_BYTES, &buf, &len);

    memset(ck, 0, sizeof *ck);
    if (rc)
        return rc;
    rc = FR_EPROTO;
    if (len < CK_V1_HEADER + 4 || memcmp(buf, CK_MAGIC, 4) != 0)
        goto out;
    version = fr_get_u32le(buf + 4);
    if (version != 1 && version != 2)
        goto out;
    header = version == 1 ? CK_V1_HEADER : CK_V2_HEADER;
    if (len < header + 4 ||
        fr_crc32(0, buf, len - 4) != fr_get_u32le(buf + len - 4))
        goto out;
    model_len = fr_get_u64le(buf + 24);
    if (version == 2) {
        uint64_t nh = fr_get_u64le(buf + 32);
        if (nh > (len - header - 4) / CK_ROUND_BYTES)
            goto out;
        n_hist = (size_t)nh;
    }
    if (model_len != len - header - 4 - n_hist * CK_ROUND_BYTES)
        goto out;
    if (version == 2 && n_hist != fr_get_u64le(buf + 16))
        goto out; /* every completed round has its history record */
    if (n_hist) {
        const uint8_t *p = buf + header + model_len;
        hist = malloc(n_hist * sizeof *hist);
        if (!hist) {
            rc = FR_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n_hist; i++, p += CK_ROUND_BYTES) {
            get_round(p, &hist[i]);
            if (hist[i].round != i + 1 ||
                (i && hist[i].round_id <= hist[i - 1].round_id))
                goto out;
        }
        /* a restart starts after next_round_id: it must not go back past
         * an id the history has used */
        if (fr_get_u64le(buf + 8) < hist[n_hist - 1].round_id)
            goto out;
    }
    rc = fr_model_decode(buf + header, (size_t)model_len, &model);
    if (rc)
        goto out;
    ck->next_round_id = fr_get_u64le(buf + 8);
    ck->completed_rounds = fr_get_u64le(buf + 16);
    ck->model = model;
    ck->history = hist;
    ck->n_history = n_hist;
    ck->version = (int)version;
    hist = NULL;
out:
    free(hist);
    free(buf);
    return rc;
}

void
checkpoint_clear(checkpoint *ck)
{
    if (!ck)
        return;
    fr_model_destroy(&ck->model);
    free(ck->history);
    memset(ck, 0, sizeof *ck);
}

/* Appends a formatted cell; NaN (a figure no store reported) prints "-". */
static size_t
cell(char *p, size_t cap, const char *fmt, double v)
{
    int n = isnan(v) ? snprintf(p, cap, "\t-") : snprintf(p, cap, fmt, v);
    return n < 0 ? 0 : (size_t)n;
}

fr_err
checkpoint_write_history_tsv(const agg_round_info *h, size_t n,
                             const char *path)
{
    static const char header[] =
        "round\tround_id\tstores\texamples\thr10\tndcg10\tpop_hr10\t"
        "pop_ndcg10\tloss\tseconds\n";
    const size_t row_max = 256;
    size_t cap = sizeof header + n * row_max, len;
    char *buf = malloc(cap);
    fr_err rc;

    if (!buf)
        return FR_ENOMEM;
    memcpy(buf, header, sizeof header - 1);
    len = sizeof header - 1;
    for (size_t i = 0; i < n; i++) {
        char *p = buf + len;
        size_t k = (size_t)snprintf(p, row_max, "%llu\t%llu\t%u\t%llu",
                                    (unsigned long long)h[i].round,
                                    (unsigned long long)h[i].round_id,
                                    h[i].stores,
                                    (unsigned long long)h[i].examples);
        k += cell(p + k, row_max - k, "\t%.4f", h[i].hr10);
        k += cell(p + k, row_max - k, "\t%.4f", h[i].ndcg10);
        k += cell(p + k, row_max - k, "\t%.4f", h[i].pop_hr10);
        k += cell(p + k, row_max - k, "\t%.4f", h[i].pop_ndcg10);
        k += cell(p + k, row_max - k, "\t%.4f", h[i].loss);
        k += cell(p + k, row_max - k, "\t%.3f", h[i].seconds);
        p[k++] = '\n';
        len += k;
    }
    rc = fr_file_write_atomic(path, buf, len, 0644);
    free(buf);
    return rc;
}
