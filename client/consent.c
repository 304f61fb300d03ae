/*
 * consent.c - consent per member and purpose (training, marketing).
 *
 * Opt-in: no record means no consent. Every grant and withdrawal is kept
 * as an event with its time (v->evts, in vault.sealed); the current state
 * of a (member, purpose) is its latest event, ties going to the later one
 * in the list. v->granted indexes the current grants per purpose as sorted
 * pids, rebuilt whenever the events change (vault_commit does it), so
 * vault_consents is a binary search. An erased member cannot consent.
 */
#include "vault_int.h"

#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Current consent of pid for p: the latest event wins (ties: the later
 * one in the list). */
bool
vault_consent_of(const vault *v, const uint8_t *pid, vault_purpose p,
                 int64_t *since)
{
    bool state = false;
    int64_t best = INT64_MIN;

    for (size_t i = 0; i < v->n_evts; i++) {
        const evt *e = &v->evts[i];
        if (e->purpose != p || memcmp(e->pid, pid, VAULT_PID_BYTES))
            continue;
        if (e->ts >= best) {
            best = e->ts;
            state = e->granted;
        }
    }
    if (since)
        *since = best;
    return state;
}

/* Orders events by member, purpose, time, then list position, so the last
 * event of each (member, purpose) run is its current state. */
typedef struct evt_ref {
    const evt *e;
    size_t pos;
} evt_ref;

static int
cmp_evt_ref(const void *a, const void *b)
{
    const evt_ref *x = a, *y = b;
    int c = memcmp(x->e->pid, y->e->pid, VAULT_PID_BYTES);

    if (c)
        return c;
    if (x->e->purpose != y->e->purpose)
        return x->e->purpose < y->e->purpose ? -1 : 1;
    if (x->e->ts != y->e->ts)
        return x->e->ts < y->e->ts ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

fr_err
vault_index_consents(vault *v)
{
    evt_ref *r = malloc((v->n_evts + 1) * sizeof *r);

    if (!r)
        return FR_ENOMEM;
    for (int p = 0; p < VAULT_PURPOSES; p++) {
        free(v->granted[p]);
        v->granted[p] = malloc((v->n_evts + 1) * VAULT_PID_BYTES);
        v->n_granted[p] = 0;
        if (!v->granted[p]) {
            free(r);
            return FR_ENOMEM;
        }
    }
    for (size_t i = 0; i < v->n_evts; i++)
        r[i] = (evt_ref){&v->evts[i], i};
    qsort(r, v->n_evts, sizeof *r, cmp_evt_ref);
    for (size_t i = 0; i < v->n_evts; i++) {
        const evt *e = r[i].e;
        int last = i + 1 == v->n_evts ||
                   memcmp(r[i + 1].e->pid, e->pid, VAULT_PID_BYTES) ||
                   r[i + 1].e->purpose != e->purpose;
        if (last && e->granted)
            memcpy(v->granted[e->purpose][v->n_granted[e->purpose]++],
                   e->pid, VAULT_PID_BYTES);
    }
    free(r);
    return FR_OK;
}

bool
vault_granted(const vault *v, const uint8_t *pid, vault_purpose p)
{
    return v->n_granted[p] &&
           bsearch(pid, v->granted[p], v->n_granted[p], VAULT_PID_BYTES,
                   vault_cmp_pid) != NULL;
}

bool
vault_consents(const vault *v, const char *pid_hex, vault_purpose p)
{
    uint8_t pid[VAULT_PID_BYTES];

    if (p >= VAULT_PURPOSES || vault_pid_from_hex(pid_hex, pid))
        return false;
    return vault_granted(v, pid, p);
}

static fr_err
add_event(vault *v, const uint8_t *pid, vault_purpose p, int granted,
          int64_t ts)
{
    evt *n = realloc(v->evts, (v->n_evts + 1) * sizeof *n);

    if (!n)
        return FR_ENOMEM;
    v->evts = n;
    memcpy(n[v->n_evts].pid, pid, VAULT_PID_BYTES);
    n[v->n_evts].purpose = (uint8_t)p;
    n[v->n_evts].granted = (uint8_t)(granted != 0);
    n[v->n_evts].ts = ts;
    v->n_evts++;
    return FR_OK;
}

const char *const vault_purpose_names[VAULT_PURPOSES] = {"training",
                                                         "marketing"};

fr_err
vault_consent_set(vault *v, const char *raw_id, vault_purpose p, int granted,
                  int64_t when_s)
{
    uint8_t pid[VAULT_PID_BYTES];
    char hex[VAULT_PID_CHARS + 1], detail[128];
    fr_err rc;

    if (p >= VAULT_PURPOSES || !raw_id || !*raw_id)
        return FR_EINVAL;
    if ((rc = vault_begin(v)))
        return rc;
    vault_pid_of(v, raw_id, pid);
    if (vault_is_forgotten(v, pid)) {
        vault_rollback(v);
        return FR_ESTATE;
    }
    if ((rc = add_event(v, pid, p, granted, when_s))) {
        vault_rollback(v);
        return rc;
    }
    vault_pid_hex(pid, hex);
    snprintf(detail, sizeof detail, "member %s %s %s", hex,
             granted ? "grant" : "withdraw", vault_purpose_names[p]);
    return vault_commit(v, "consent", detail);
}

static fr_err
purpose_parse(const char *s, vault_purpose *p)
{
    for (int i = 0; i < VAULT_PURPOSES; i++)
        if (!strcmp(s, vault_purpose_names[i])) {
            *p = (vault_purpose)i;
            return FR_OK;
        }
    return FR_EINVAL;
}

fr_err
vault_consent_import(vault *v, const char *csv_path, int64_t now_s,
                     size_t *n_changes, char *errbuf, size_t errlen)
{
    FILE *f = fopen(csv_path, "r");
    char line[1024], detail[128];
    size_t lineno = 0, added = 0;
    fr_err rc = FR_OK;

    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", csv_path, strerror(errno));
        return errno == ENOENT ? FR_ENOENT : FR_ESYS;
    }
    if ((rc = vault_begin(v))) {
        fclose(f);
        return rc;
    }
    while (fgets(line, sizeof line, f)) {
        char *fields[4] = {0}, *save = NULL, *tok;
        int nf = 0;
        vault_purpose p;
        int64_t ts = now_s;
        uint8_t pid[VAULT_PID_BYTES];

        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (lineno == 1 && !strncmp(line, "member_id", 9))
            continue; /* header */
        if (!*line)
            continue;
        for (tok = strtok_r(line, ",", &save); tok && nf < 4;
             tok = strtok_r(NULL, ",", &save))
            fields[nf++] = tok;
        if (nf < 3 || purpose_parse(fields[1], &p) ||
            (strcmp(fields[2], "grant") && strcmp(fields[2], "withdraw")) ||
            (nf == 4 && fr_parse_i64(fields[3], 0, now_s + 86400, &ts))) {
            snprintf(errbuf, errlen, "%s:%zu: expected member_id,"
                     "training|marketing,grant|withdraw[,unix time not in "
                     "the future]", csv_path, lineno);
            rc = FR_EINVAL;
            break;
        }
        vault_pid_of(v, fields[0], pid);
        fr_crypto_wipe(fields[0], strlen(fields[0]));
        if (vault_is_forgotten(v, pid))
            continue; /* erased members stay erased */
        if ((rc = add_event(v, pid, p, !strcmp(fields[2], "grant"), ts)))
            break;
        added++;
    }
    fr_crypto_wipe(line, sizeof line);
    fclose(f);
    if (rc) {
        vault_rollback(v);
        return rc;
    }
    *n_changes = added;
    snprintf(detail, sizeof detail, "%zu consent changes imported", added);
    return vault_commit(v, "consent_import", detail);
}
