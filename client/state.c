/*
 * state.c - the two back ends of state.h.
 *
 * Member embeddings in a vault are sealed with a BLAKE2b digest of the
 * member list they belong to (in data order): a member set changed by
 * consent, erasure or retention makes them invalid, and they are fitted
 * afresh rather than given to the wrong members.
 */
#include "state.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "vault.h"

#define TAG "state"
#define STATE_MAX_BYTES ((size_t)1 << 31)
#define DIGEST_BYTES 32

struct cstate {
    const client_config *cfg;
    vault *v;          /* NULL in benchmark mode */
    store_data *data;
    /* the SKU -> item mapping of the data: a catalogue (the store's own,
     * loaded at open, or the client's for the round in hand), or NULL for
     * the legacy integer rule */
    const fr_catalogue *cat;
    fr_catalogue *own_cat; /* loaded at open; NULL: none */
    bool map_changed;      /* rebuild at the next refresh */
    char members_path[CLIENT_PATH_MAX + 32];
    char model_path[CLIENT_PATH_MAX + 32];
};

static fr_err
add_one(void *ctx, const char *pid, uint32_t item, int64_t ts)
{
    return store_data_add(ctx, pid, item, ts);
}

static fr_err
build_from_vault(cstate *cs, store_data **out)
{
    store_data *d = NULL;
    fr_err rc = store_data_new((uint32_t)cs->cfg->n_items, &d);

    if (!rc)
        rc = vault_each(cs->v, VAULT_TRAINING, cs->cat,
                        (uint32_t)cs->cfg->n_items, add_one, d);
    if (!rc)
        rc = store_data_finish(d);
    if (rc) {
        store_data_destroy(&d);
        return rc;
    }
    *out = d;
    return FR_OK;
}

static void
log_data(const cstate *cs)
{
    const fr_dataset *d = store_data_dataset(cs->data);

    fr_log_info(TAG, "%llu interactions of %u members %s",
                (unsigned long long)fr_dataset_n_interactions(d),
                fr_dataset_n_members(d),
                cs->v ? "who consent to training" : "(benchmark CSV)");
}

/* The store's catalogue file (cfg catalogue, or DIR/catalogue), if any. */
static fr_err
load_catalogue(cstate *cs)
{
    char err[512];
    fr_err rc = client_catalogue_load(cs->cfg, &cs->own_cat, err, sizeof err);

    if (rc)
        fr_log_err(TAG, "catalogue: %s", err);
    cs->cat = cs->own_cat;
    return rc;
}

const fr_catalogue *
cstate_catalogue(const cstate *cs)
{
    return cs->cat;
}

void
cstate_set_catalogue(cstate *cs, const fr_catalogue *cat)
{
    if (cs->cat == cat)
        return;
    cs->cat = cat;
    cs->map_changed = true;
}

fr_err
cstate_open(const client_config *cfg, cstate **out)
{
    cstate *cs = calloc(1, sizeof *cs);
    char err[1024] = "";
    fr_err rc;

    if (!cs)
        return FR_ENOMEM;
    cs->cfg = cfg;
    if (*cfg->store) {
        vault_unlock u = {.passphrase = getenv("FEDREC_PASSPHRASE")};
        vault_member_policy mp;
        const char *why = "";
        size_t purged = 0;
        if ((rc = client_member_policy(cfg, &mp, &why))) {
            fr_log_err(TAG, "%s", why);
            goto fail;
        }
        rc = vault_open(cfg->store, &u, &cs->v, err, sizeof err);
        if (rc) {
            fr_log_err(TAG, "%s", err);
            goto fail;
        }
        vault_set_member_policy(cs->v, &mp);
        if ((rc = load_catalogue(cs)))
            goto fail;
        if ((rc = vault_purge(cs->v, (int64_t)time(NULL), cfg->retention_days,
                              &purged)) ||
            (rc = build_from_vault(cs, &cs->data))) {
            fr_log_err(TAG, "cannot read the store in %s: %s", cfg->store,
                       fr_strerror(rc));
            goto fail;
        }
        if (purged)
            fr_log_notice(TAG, "%zu interactions past retention (%lld days) "
                          "purged", purged, (long long)cfg->retention_days);
    } else {
        rc = store_data_load(cfg->data, (uint32_t)cfg->n_items, &cs->data,
                             err, sizeof err);
        if (rc) {
            fr_log_err(TAG, "%s", err);
            goto fail;
        }
        snprintf(cs->members_path, sizeof cs->members_path, "%s/members.bin",
                 cfg->state_dir);
        snprintf(cs->model_path, sizeof cs->model_path, "%s/model.bin",
                 cfg->state_dir);
    }
    log_data(cs);
    *out = cs;
    return FR_OK;
fail:
    cstate_close(&cs);
    return rc;
}

void
cstate_close(cstate **csp)
{
    cstate *cs = csp ? *csp : NULL;

    if (!cs)
        return;
    store_data_destroy(&cs->data);
    vault_close(&cs->v);
    fr_catalogue_destroy(&cs->own_cat);
    free(cs);
    *csp = NULL;
}

bool
cstate_is_vault(const cstate *cs)
{
    return cs->v != NULL;
}

store_data *
cstate_data(const cstate *cs)
{
    return cs->data;
}

const fr_crypto_signkey *
cstate_identity(const cstate *cs)
{
    return cs->v ? vault_identity(cs->v) : NULL;
}

void
cstate_member_key(const cstate *cs, const char *raw, char *out)
{
    if (cs->v)
        vault_pseudonym(cs->v, raw, out);
    else
        snprintf(out, STORE_MEMBER_ID_MAX, "%s", raw);
}

bool
cstate_marketing_ok(const cstate *cs, const char *internal_id)
{
    return !cs->v || vault_consents(cs->v, internal_id, VAULT_MARKETING);
}

fr_err
cstate_load_model(const cstate *cs, fr_model **out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    if (!cs->v)
        return fr_model_load(cs->model_path, out);
    rc = vault_blob_read(cs->v, "model", &buf, &len);
    if (rc)
        return rc;
    rc = fr_model_decode(buf, len, out);
    free(buf);
    return rc;
}

fr_err
cstate_save_model(const cstate *cs, const fr_model *m)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    if (!cs->v)
        return fr_model_save(m, cs->model_path);
    rc = fr_model_encode(m, &buf, &len);
    if (rc)
        return rc;
    rc = vault_blob_write(cs->v, "model", buf, len);
    free(buf);
    return rc;
}

/* BLAKE2b-256 of the member ids in data order. */
static void
member_digest(const store_data *d, uint8_t out[DIGEST_BYTES])
{
    uint32_t n = fr_dataset_n_members(store_data_dataset(d));
    size_t len = 4;
    char *buf;

    for (uint32_t i = 0; i < n; i++)
        len += strlen(store_data_member_id(d, i)) + 1;
    buf = malloc(len);
    if (!buf) {
        memset(out, 0, DIGEST_BYTES);
        return;
    }
    fr_put_u32le((uint8_t *)buf, n);
    len = 4;
    for (uint32_t i = 0; i < n; i++) {
        const char *id = store_data_member_id(d, i);
        size_t l = strlen(id) + 1;
        memcpy(buf + len, id, l);
        len += l;
    }
    fr_crypto_hash(out, DIGEST_BYTES, buf, len);
    free(buf);
}

fr_err
cstate_load_members(const cstate *cs, fr_mf *mf)
{
    uint8_t *buf = NULL, digest[DIGEST_BYTES];
    size_t len = 0;
    fr_err rc;

    if (!cs->v) {
        rc = fr_file_read_all(cs->members_path, STATE_MAX_BYTES, &buf, &len);
        if (!rc)
            rc = fr_mf_decode_members(mf, buf, len);
    } else {
        rc = vault_blob_read(cs->v, "members", &buf, &len);
        if (!rc) {
            member_digest(cs->data, digest);
            rc = len > DIGEST_BYTES && !memcmp(buf, digest, DIGEST_BYTES)
                     ? fr_mf_decode_members(mf, buf + DIGEST_BYTES,
                                            len - DIGEST_BYTES)
                     : FR_ENOENT;
        }
    }
    if (buf) {
        fr_crypto_wipe(buf, len);
        free(buf);
    }
    return rc;
}

fr_err
cstate_save_members(const cstate *cs, const fr_mf *mf)
{
    uint8_t *buf = NULL, *all = NULL;
    size_t len = 0;
    fr_err rc = fr_mf_encode_members(mf, &buf, &len);

    if (rc)
        return rc;
    if (!cs->v) {
        rc = fr_file_write_atomic(cs->members_path, buf, len, 0600);
    } else {
        all = malloc(len + DIGEST_BYTES);
        if (!all) {
            rc = FR_ENOMEM;
        } else {
            member_digest(cs->data, all);
            memcpy(all + DIGEST_BYTES, buf, len);
            rc = vault_blob_write(cs->v, "members", all, len + DIGEST_BYTES);
            fr_crypto_wipe(all, len + DIGEST_BYTES);
            free(all);
        }
    }
    fr_crypto_wipe(buf, len);
    free(buf);
    return rc;
}

fr_err
cstate_refresh(cstate *cs, int *changed)
{
    store_data *d = NULL;
    uint8_t a[DIGEST_BYTES], b[DIGEST_BYTES];
    size_t purged = 0;
    int reloaded = 0;
    fr_err rc;

    *changed = 0;
    if (!cs->v)
        return FR_OK;
    /* A fresh look at the vault: another command may have changed it. The
     * vault object stays (its identity key is in use). */
    if ((rc = vault_reload(cs->v, &reloaded)) ||
        (rc = vault_purge(cs->v, (int64_t)time(NULL),
                          cs->cfg->retention_days, &purged)))
        return rc;
    if (!reloaded && !purged && !cs->map_changed)
        return FR_OK; /* nothing can have changed */
    cs->map_changed = false;
    if ((rc = build_from_vault(cs, &d)))
        return rc;
    if (purged)
        fr_log_notice(TAG, "%zu interactions past retention purged", purged);
    member_digest(cs->data, a);
    member_digest(d, b);
    if (!memcmp(a, b, DIGEST_BYTES) &&
        fr_dataset_n_interactions(store_data_dataset(d)) ==
            fr_dataset_n_interactions(store_data_dataset(cs->data))) {
        store_data_destroy(&d);
        return FR_OK;
    }
    store_data_destroy(&cs->data);
    cs->data = d;
    *changed = 1;
    log_data(cs);
    return FR_OK;
}

void
cstate_audit(cstate *cs, const char *event, const char *detail)
{
    fr_err rc;

    if (!cs->v)
        return;
    rc = vault_audit(cs->v, event, detail);
    if (rc)
        fr_log_warn(TAG, "audit entry '%s' not written: %s", event,
                    fr_strerror(rc));
}
