/*
 * erasure.c - erasure and retention.
 *
 * Forgetting a member removes its interactions and consent events and
 * records its pseudonym with the time (v->fgts, sorted, in vault.sealed),
 * so later imports skip the member's rows and report them; the member
 * embeddings (indexed by the member set) go too and are fitted afresh.
 * Retention drops interactions older than the store's retention period.
 * Both are changes: locked, audited and saved atomically (vault_int.h).
 */
#include "vault_int.h"

#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
vault_is_forgotten(const vault *v, const uint8_t *pid)
{
    return bsearch(pid, v->fgts, v->n_fgts, sizeof *v->fgts, vault_cmp_pid) !=
           NULL;
}

static size_t
purge_before(vault *v, int64_t cutoff)
{
    size_t m = 0, gone;

    for (size_t i = 0; i < v->n_recs; i++)
        if (v->recs[i].ts >= cutoff)
            v->recs[m++] = v->recs[i];
    gone = v->n_recs - m;
    v->n_recs = m;
    return gone;
}

fr_err
vault_forget(vault *v, const char *raw_id, int64_t now_s)
{
    uint8_t pid[VAULT_PID_BYTES];
    char hex[VAULT_PID_CHARS + 1], detail[128], p[VAULT_PATH_MAX];
    size_t m = 0, removed, ev = 0;
    fgt *g;
    fr_err rc;

    if ((rc = vault_begin(v)))
        return rc;
    vault_pid_of(v, raw_id, pid);
    for (size_t i = 0; i < v->n_recs; i++)
        if (memcmp(v->recs[i].pid, pid, VAULT_PID_BYTES))
            v->recs[m++] = v->recs[i];
    removed = v->n_recs - m;
    v->n_recs = m;
    m = 0;
    for (size_t i = 0; i < v->n_evts; i++)
        if (memcmp(v->evts[i].pid, pid, VAULT_PID_BYTES))
            v->evts[m++] = v->evts[i];
    ev = v->n_evts - m;
    v->n_evts = m;
    if (!removed && !ev) {
        vault_rollback(v);
        return vault_is_forgotten(v, pid) ? FR_ESTATE : FR_ENOENT;
    }
    if (!vault_is_forgotten(v, pid)) {
        g = realloc(v->fgts, (v->n_fgts + 1) * sizeof *g);
        if (!g) {
            vault_rollback(v);
            return FR_ENOMEM;
        }
        v->fgts = g;
        memcpy(g[v->n_fgts].pid, pid, VAULT_PID_BYTES);
        g[v->n_fgts].ts = now_s;
        v->n_fgts++;
        qsort(v->fgts, v->n_fgts, sizeof *v->fgts, vault_cmp_pid);
    }
    /* Member embeddings are indexed by the member set; erasing one member
     * drops them all, and the next round fits them afresh. */
    vault_path(v, "members.sealed", p, sizeof p);
    if (unlink(p) != 0 && errno != ENOENT) {
        vault_rollback(v);
        return FR_ESYS;
    }
    vault_pid_hex(pid, hex);
    snprintf(detail, sizeof detail, "member %s erased: %zu interactions, %zu "
             "consent records", hex, removed, ev);
    return vault_commit(v, "erase", detail);
}

fr_err
vault_purge(vault *v, int64_t now_s, int64_t retention_days, size_t *removed)
{
    char detail[96];
    size_t gone;
    fr_err rc;

    *removed = 0;
    if (retention_days <= 0)
        return FR_OK;
    /* Nothing expired in what this process holds: no need to lock and
     * re-read (callers reload first when others may have written). */
    {
        int64_t cutoff = now_s - retention_days * 86400;
        int any = 0;
        for (size_t i = 0; i < v->n_recs && !any; i++)
            any = v->recs[i].ts < cutoff;
        if (!any)
            return FR_OK;
    }
    if ((rc = vault_begin(v)))
        return rc;
    gone = purge_before(v, now_s - retention_days * 86400);
    if (!gone) {
        vault_rollback(v);
        return FR_OK;
    }
    *removed = gone;
    snprintf(detail, sizeof detail, "%zu interactions older than %lld days "
             "purged", gone, (long long)retention_days);
    return vault_commit(v, "retention", detail);
}
