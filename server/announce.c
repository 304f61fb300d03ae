/*
 * announce.c - what the aggregator tells stores outside a round: the item
 * catalogue its model follows, and that training has ended.
 *
 * The catalogue (cfg->catalogue) is read once at start: a new catalogue
 * gives the model's rows another meaning, so it takes a restart (with a
 * new model), never a SIGHUP. Every round start names its id and count; a
 * store that lacks it asks with a CATALOGUE request and gets the canonical
 * bytes in one message, encoded once here and shared by every answer.
 * Answers are rate-limited per store (one per AGG_CATALOGUE_EVERY_MS), so a
 * store cannot make the aggregator push a large file in a loop.
 *
 * Training ends when the `rounds` target is reached or the privacy budget
 * cannot pay for another round (state ST_DONE). The round that reaches the
 * target says so in its ROUND_END (training_done); after it, every HELLO is
 * answered with DONE (once per store per AGG_DONE_EVERY_MS), so a store
 * that missed the round end, or starts later, learns it as well. With a
 * target the daemon keeps answering for linger_ms and then exits (main.c).
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/prim.h"
#include "round_int.h"

#define TAG "round"

/* The model in state_dir belongs to one catalogue (or none): its rows mean
 * that catalogue's SKUs. state_dir/catalogue.id records which, written the
 * first time; a later start under another catalogue is refused rather than
 * training old rows under new meanings. */
static fr_err
bind_state(const aggregator *a, const char *hex)
{
    char path[AGG_PATH_MAX + 32], want[FR_CATALOGUE_ID_HEX + 2];
    uint8_t *had = NULL;
    size_t len = 0;
    int n = snprintf(want, sizeof want, "%s\n", hex ? hex : "none");
    fr_err rc;

    snprintf(path, sizeof path, "%s/catalogue.id", a->cfg->state_dir);
    rc = fr_file_read_all(path, 256, &had, &len);
    if (rc == FR_ENOENT)
        return fr_file_write_atomic(path, want, (size_t)n, 0644);
    if (rc) {
        fr_log_err(TAG, "%s cannot be read: %s", path, fr_strerror(rc));
        return rc;
    }
    rc = len == (size_t)n && !memcmp(had, want, len) ? FR_OK : FR_EINVAL;
    if (rc) {
        int shown = len && had[len - 1] == '\n' ? (int)len - 1 : (int)len;
        fr_log_err(TAG, "the model in %s was trained under catalogue %.*s "
                   "(%s) and the configuration names %.16s: a new catalogue "
                   "is a new model; move checkpoint.bin and catalogue.id "
                   "away to start one, or configure the old catalogue",
                   a->cfg->state_dir, shown > 16 ? 16 : shown,
                   (const char *)had, path, hex ? hex : "none");
    }
    free(had);
    return rc;
}

fr_err
agg_cat_install(aggregator *a, fr_catalogue **catp)
{
    fr_msg m = {.type = FR_MSG_CATALOGUE};
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    fr_catalogue_id(*catp, m.u.catalogue.id);
    m.u.catalogue.items = fr_catalogue_n_items(*catp);
    m.u.catalogue.content =
        fr_catalogue_bytes(*catp, &m.u.catalogue.content_len);
    rc = fr_wire_encode(&m, (size_t)a->cfg->max_message_bytes, &buf, &len);
    if (rc) {
        fr_log_err(TAG, "a catalogue of %u items cannot be sent in one "
                   "message of max_message_bytes %lld: %s",
                   m.u.catalogue.items, (long long)a->cfg->max_message_bytes,
                   fr_strerror(rc));
        return rc;
    }
    agg_cat_close(a);
    a->cat = *catp;
    *catp = NULL;
    a->cat_msg = buf;
    a->cat_msg_len = len;
    return FR_OK;
}

fr_err
agg_cat_open(aggregator *a)
{
    fr_catalogue *cat = NULL;
    char why[512], hex[FR_CATALOGUE_ID_HEX + 1];
    fr_err rc;

    if (!*a->cfg->catalogue)
        return bind_state(a, NULL);
    rc = fr_catalogue_load(a->cfg->catalogue, &cat, why, sizeof why);
    if (rc) {
        fr_log_err(TAG, "catalogue: %s", why);
        return rc;
    }
    if (fr_catalogue_n_items(cat) < (uint64_t)a->cfg->n_items) {
        fr_log_err(TAG, "catalogue %s lists %u items, fewer than n_items %lld",
                   a->cfg->catalogue, fr_catalogue_n_items(cat),
                   (long long)a->cfg->n_items);
        fr_catalogue_destroy(&cat);
        return FR_EINVAL;
    }
    if ((rc = agg_cat_install(a, &cat))) {
        fr_catalogue_destroy(&cat);
        return rc;
    }
    fr_catalogue_id_hex(a->cat, hex);
    if ((rc = bind_state(a, hex)))
        return rc;
    fr_log_ev(FR_LOG_NOTICE, TAG, "catalogue_loaded",
              "catalogue %s: %u items, id %.16s (catalogue_id=%s)",
              a->cfg->catalogue, fr_catalogue_n_items(a->cat), hex, hex);
    return FR_OK;
}

void
agg_cat_close(aggregator *a)
{
    fr_catalogue_destroy(&a->cat);
    free(a->cat_msg);
    a->cat_msg = NULL;
    a->cat_msg_len = 0;
}

void
agg_cat_fill_start(const aggregator *a, fr_msg_round_start *rs)
{
    if (!a->cat)
        return;
    rs->has_catalogue = 1;
    fr_catalogue_id(a->cat, rs->catalogue_id);
    rs->catalogue_items = fr_catalogue_n_items(a->cat);
}

/* True (and the time noted) if e may be sent another message now. */
static bool
due(int64_t *last_ms, int64_t every_ms, int64_t now)
{
    if (*last_ms && now - *last_ms < every_ms)
        return false;
    *last_ms = now ? now : 1;
    return true;
}

void
agg_on_catalogue(aggregator *a, store_entry *e, const fr_msg *msg,
                 int64_t now)
{
    const fr_msg_catalogue *req = &msg->u.catalogue;
    uint8_t own[FR_CATALOGUE_ID_BYTES];
    char want[2 * FR_CATALOGUE_ID_BYTES + 1];
    fr_err rc;

    fr_crypto_bin2hex(want, req->id, sizeof req->id);
    if (req->content_len || !a->cat) {
        if (round_reject(a, AGG_REJECT_UNEXPECTED))
            fr_log_warn(TAG, "dropped a catalogue %s from store %s: %s",
                        req->content_len ? "upload" : "request",
                        e->peer.store,
                        req->content_len ? "stores do not send catalogues"
                                         : "this aggregator has no catalogue");
        return;
    }
    fr_catalogue_id(a->cat, own);
    if (memcmp(own, req->id, sizeof own) != 0) {
        if (round_reject(a, AGG_REJECT_UNEXPECTED))
            fr_log_warn(TAG, "dropped a request from store %s for catalogue "
                        "%.16s: not the catalogue of this aggregator",
                        e->peer.store, want);
        return;
    }
    if (!due(&e->catalogue_sent_ms, AGG_CATALOGUE_EVERY_MS, now)) {
        if (round_reject(a, AGG_REJECT_UNEXPECTED))
            fr_log_info(TAG, "catalogue request from store %s not answered: "
                        "one was sent less than %d s ago", e->peer.store,
                        AGG_CATALOGUE_EVERY_MS / 1000);
        return;
    }
    rc = fr_net_send(a->sock, &e->peer, a->cat_msg, a->cat_msg_len);
    if (rc) {
        fr_log_info(TAG, "could not send the catalogue to store %s: %s",
                    e->peer.store, fr_strerror(rc));
        return;
    }
    round_count_sent(a, a->cat_msg_len, 1);
    fr_log_info(TAG, "catalogue %.16s sent to store %s (%zu bytes)", want,
                e->peer.store, a->cat_msg_len);
}

void
agg_hello_after_end(aggregator *a, store_entry *e, int64_t now)
{
    fr_msg m = {.type = FR_MSG_DONE, .round_id = a->round_id};
    uint8_t *buf = NULL;
    size_t len = 0;

    if (a->state != ST_DONE ||
        !due(&e->done_sent_ms, AGG_DONE_EVERY_MS, now))
        return;
    m.u.done.completed_rounds = a->completed;
    if (fr_wire_encode(&m, (size_t)a->cfg->max_message_bytes, &buf, &len))
        return;
    round_send_to(a, e->peer.store, buf, len);
    free(buf);
}
