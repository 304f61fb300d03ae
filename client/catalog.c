/*
 * catalog.c - the item catalogue a store trains under.
 *
 * Every round start names the catalogue its model follows (id and item
 * count; none: legacy integer item ids). The store keeps its copy in
 * `catalogue` (default DIR/catalogue, or state_dir/catalogue in benchmark
 * mode), read at start. A round under the store's catalogue, or a legacy
 * round, trains. Under another catalogue:
 *  - catalogue_fetch no: the round is refused, the log naming both ids and
 *    counts;
 *  - catalogue_fetch yes (default): the store asks the aggregator for it
 *    (at most once every CAT_ASK_EVERY_MS) and holds the round start. The
 *    bytes that come back are parsed and hashed here: only if their id is
 *    the one asked for are they saved (atomically) and made the store's.
 *    If half the round's deadline is still ahead the held round trains at
 *    once, else the store trains from the next round. Bytes that do not
 *    match refuse the round, naming both ids.
 * Nothing the aggregator claims about a catalogue is taken on trust: the
 * id compared is always the one computed from the bytes.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/util.h"
#include "client_int.h"
#include "crypto/prim.h"

#define TAG "client"

#define CAT_ASK_EVERY_MS 5000

void
client_catalogue_path(const client_config *cfg, char *out, size_t n)
{
    if (*cfg->catalogue)
        snprintf(out, n, "%s", cfg->catalogue);
    else
        snprintf(out, n, "%s/catalogue",
                 *cfg->store ? cfg->store : cfg->state_dir);
}

fr_err
client_catalogue_load(const client_config *cfg, fr_catalogue **out,
                      char *errbuf, size_t errlen)
{
    char path[CLIENT_PATH_MAX + 16];
    fr_err rc;

    *out = NULL;
    client_catalogue_path(cfg, path, sizeof path);
    rc = fr_catalogue_load(path, out, errbuf, errlen);
    return rc == FR_ENOENT ? FR_OK : rc;
}

fr_err
client_cat_open(client *c)
{
    const client_config *cfg = c->cfg;
    char err[512];
    fr_err rc;

    client_catalogue_path(cfg, c->cat_path, sizeof c->cat_path);
    rc = fr_catalogue_load(c->cat_path, &c->cat, err, sizeof err);
    if (rc == FR_ENOENT) {
        fr_log_info(TAG, "no catalogue at %s (%s)", c->cat_path,
                    cfg->catalogue_fetch ? "fetched when a round names one"
                                         : "catalogue_fetch is off");
        return FR_OK;
    }
    if (rc) {
        fr_log_err(TAG, "catalogue: %s", err);
        return rc;
    }
    {
        char hex[FR_CATALOGUE_ID_HEX + 1];
        fr_catalogue_id_hex(c->cat, hex);
        fr_log_info(TAG, "catalogue %s: %u items, id %.16s", c->cat_path,
                    fr_catalogue_n_items(c->cat), hex);
    }
    return FR_OK;
}

void
client_cat_close(client *c)
{
    fr_catalogue_destroy(&c->cat);
    fr_msg_destroy(&c->cat_wait);
}

const fr_catalogue *
client_cat_for_round(const client *c)
{
    return c->round_cat ? c->cat : NULL;
}

/* "3fa2c0d1e4b5a697 (100000 items)" of the store's catalogue, or "none". */
static void
own_label(const client *c, char *out, size_t cap)
{
    char hex[FR_CATALOGUE_ID_HEX + 1];

    if (!c->cat) {
        snprintf(out, cap, "(none)");
        return;
    }
    fr_catalogue_id_hex(c->cat, hex);
    snprintf(out, cap, "%.16s (%u items)", hex, fr_catalogue_n_items(c->cat));
}

static void
refuse(client *c, uint64_t round_id, const fr_msg_round_start *rs,
       const char *hint)
{
    char want[FR_CATALOGUE_ID_HEX + 1], own[64], detail[320];

    fr_crypto_bin2hex(want, rs->catalogue_id, sizeof rs->catalogue_id);
    own_label(c, own, sizeof own);
    fr_log_ev(FR_LOG_WARN, TAG, "catalogue_mismatch",
              "round %llu: the aggregator's catalogue %.16s (%u items) is "
              "not this store's %s: not training; %s",
              (unsigned long long)round_id, want, rs->catalogue_items, own,
              hint);
    snprintf(detail, sizeof detail,
             "round id %llu refused: catalogue %.16s is not the store's %s",
             (unsigned long long)round_id, want, own);
    cstate_audit(c->cs, "round", detail);
}

/* Asks for the catalogue of rs, unless it was asked for a moment ago. */
static void
ask(client *c, const fr_msg_round_start *rs, int64_t now)
{
    fr_msg m = {.type = FR_MSG_CATALOGUE};

    if (c->cat_asked_ms && now - c->cat_asked_ms < CAT_ASK_EVERY_MS &&
        !memcmp(c->cat_want, rs->catalogue_id, sizeof c->cat_want))
        return;
    memcpy(c->cat_want, rs->catalogue_id, sizeof c->cat_want);
    memcpy(m.u.catalogue.id, rs->catalogue_id, sizeof m.u.catalogue.id);
    c->cat_asked_ms = now ? now : 1;
    client_send_msg(c, &m);
}

cat_verdict
client_cat_check(client *c, fr_msg **msgp)
{
    const fr_msg *msg = *msgp;
    const fr_msg_round_start *rs = &msg->u.round_start;
    uint8_t own[FR_CATALOGUE_ID_BYTES];
    char want[FR_CATALOGUE_ID_HEX + 1], have[64];

    c->round_cat = rs->has_catalogue != 0;
    if (!rs->has_catalogue) {
        if (c->cat && !c->legacy_told)
            fr_log_info(TAG, "round id %llu names no catalogue: item ids "
                        "follow the legacy integer rule",
                        (unsigned long long)msg->round_id);
        c->legacy_told = 1;
        return CAT_GO;
    }
    if (c->cat) {
        fr_catalogue_id(c->cat, own);
        if (!memcmp(own, rs->catalogue_id, sizeof own))
            return CAT_GO;
    }
    if (!c->cfg->catalogue_fetch) {
        refuse(c, msg->round_id, rs, "fetch it or set catalogue_fetch yes");
        return CAT_REFUSED;
    }
    ask(c, rs, fr_clock_ms());
    fr_crypto_bin2hex(want, rs->catalogue_id, sizeof rs->catalogue_id);
    own_label(c, have, sizeof have);
    fr_log_ev(FR_LOG_NOTICE, TAG, "catalogue_fetch",
              "round id %llu: fetching the aggregator's catalogue %.16s "
              "(%u items); this store has %s",
              (unsigned long long)msg->round_id, want, rs->catalogue_items,
              have);
    fr_msg_destroy(&c->cat_wait);
    c->cat_wait = *msgp;
    c->cat_wait_ms = fr_clock_ms();
    *msgp = NULL;
    return CAT_HELD;
}

/* Parses and checks the bytes against the id asked for; the catalogue, or
 * NULL (logged; a held round is refused naming both ids). */
static fr_catalogue *
accept_bytes(client *c, const fr_msg_catalogue *m)
{
    fr_catalogue *cat = NULL;
    uint8_t got[FR_CATALOGUE_ID_BYTES];
    char err[256], want[FR_CATALOGUE_ID_HEX + 1], hex[FR_CATALOGUE_ID_HEX + 1];
    uint64_t round_id = c->cat_wait ? c->cat_wait->round_id : 0;

    fr_crypto_bin2hex(want, c->cat_want, sizeof c->cat_want);
    if (fr_catalogue_parse(m->content, m->content_len, &cat, err,
                           sizeof err)) {
        fr_log_ev(FR_LOG_WARN, TAG, "catalogue_refused",
                  "round %llu: the catalogue the aggregator sent for %.16s "
                  "is not a valid catalogue (%s): not training",
                  (unsigned long long)round_id, want, err);
        return NULL;
    }
    fr_catalogue_id(cat, got);
    fr_catalogue_id_hex(cat, hex);
    if (memcmp(got, c->cat_want, sizeof got) != 0 ||
        fr_catalogue_n_items(cat) != m->items) {
        fr_log_ev(FR_LOG_WARN, TAG, "catalogue_refused",
                  "round %llu: the catalogue the aggregator sent is "
                  "%.16s (%u items), not the round's %.16s (%u items): not "
                  "training",
                  (unsigned long long)round_id, hex,
                  fr_catalogue_n_items(cat), want,
                  c->cat_wait ? c->cat_wait->u.round_start.catalogue_items
                              : m->items);
        fr_catalogue_destroy(&cat);
    }
    return cat;
}

/* Makes cat the store's catalogue and saves it. */
static void
install(client *c, fr_catalogue *cat)
{
    char hex[FR_CATALOGUE_ID_HEX + 1], detail[160];
    fr_err rc = fr_catalogue_write(cat, c->cat_path);

    fr_catalogue_id_hex(cat, hex);
    if (rc)
        fr_log_err(TAG, "catalogue %.16s not saved to %s: %s (used until "
                   "the store stops)", hex, c->cat_path, fr_strerror(rc));
    fr_log_ev(FR_LOG_NOTICE, TAG, "catalogue_fetched",
              "catalogue %.16s (%u items) fetched from the aggregator%s%s",
              hex, fr_catalogue_n_items(cat), rc ? "" : ", saved to ",
              rc ? "" : c->cat_path);
    snprintf(detail, sizeof detail, "catalogue %.16s (%u items) fetched",
             hex, fr_catalogue_n_items(cat));
    cstate_audit(c->cs, "catalogue", detail);
    /* the data may map through the old one until the next refresh */
    cstate_set_catalogue(c->cs, NULL);
    fr_catalogue_destroy(&c->cat);
    c->cat = cat;
}

fr_msg *
client_cat_on_message(client *c, const fr_msg *msg)
{
    const fr_msg_catalogue *m = &msg->u.catalogue;
    fr_catalogue *cat;
    fr_msg *held;
    int64_t waited;

    if (!c->cat_asked_ms || !m->content_len ||
        memcmp(m->id, c->cat_want, sizeof c->cat_want) != 0) {
        fr_log_warn(TAG, "dropped a catalogue message this store did not "
                    "ask for");
        return NULL;
    }
    c->cat_asked_ms = 0;
    cat = accept_bytes(c, m);
    held = c->cat_wait;
    c->cat_wait = NULL;
    if (!cat) {
        fr_msg_destroy(&held);
        return NULL;
    }
    install(c, cat);
    if (!held)
        return NULL;
    waited = fr_clock_ms() - c->cat_wait_ms;
    if (memcmp(held->u.round_start.catalogue_id, c->cat_want,
               sizeof c->cat_want) == 0 &&
        waited < (int64_t)held->u.round_start.deadline_ms / 2 && !c->busy &&
        !c->finish)
        return held;
    fr_log_info(TAG, "round id %llu: the catalogue came %lld ms into the "
                "round, too late to train in it; training from the next "
                "round", (unsigned long long)held->round_id,
                (long long)waited);
    fr_msg_destroy(&held);
    return NULL;
}
