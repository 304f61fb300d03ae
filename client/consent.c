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

#include "base/log.h"
#include "base/util.h"
#include "canon.h"
#include "csv.h"
#include "importer.h"

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

/* ---- the bulk file ----------------------------------------------------- */

#define CONSENT_MAX_RECORD 4096 /* bytes in one record, line end too */

typedef struct consent_row {
    const char *id; /* in the record buffer, trimmed */
    vault_purpose p;
    int granted;
    int64_t ts;
} consent_row;

static bool
has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return true;
    return false;
}

/* The member id as every door reads it: not empty (also once the store's
 * member-id policy has been applied), no longer than the importer takes, no
 * control characters. False with the reason in why (never the id). */
static bool
member_ok(const vault *v, const char *id, char why[CSV_REASON_MAX])
{
    char canon[IMPORT_MEMBER_ID_MAX];
    bool ok = false;

    if (!*id)
        snprintf(why, CSV_REASON_MAX, "field 1 (member id) is empty");
    else if (strlen(id) >= IMPORT_MEMBER_ID_MAX)
        snprintf(why, CSV_REASON_MAX,
                 "field 1 (member id) is longer than %d bytes",
                 IMPORT_MEMBER_ID_MAX - 1);
    else if (has_control(id))
        snprintf(why, CSV_REASON_MAX,
                 "field 1 (member id) contains control characters");
    else if (canon_apply(&v->policy, id, strlen(id), canon, sizeof canon) ||
             !*canon)
        snprintf(why, CSV_REASON_MAX,
                 "field 1 (member id) is empty once canonicalised");
    else
        ok = true;
    fr_crypto_wipe(canon, sizeof canon);
    return ok;
}

/* Judges a record's fields (3 or 4). False with the reason in why. */
static bool
judge_row(const vault *v, csv_fields *fl, int64_t now_s, consent_row *r,
          char why[CSV_REASON_MAX])
{
    const char *action, *when;

    if (fl->n < 3 || fl->n > 4) {
        snprintf(why, CSV_REASON_MAX,
                 "%zu field%s, expected 3 or 4 (member_id,"
                 "training|marketing,grant|withdraw[,unix time])",
                 fl->n, fl->n == 1 ? "" : "s");
        return false;
    }
    for (size_t i = 0; i < fl->n; i++)
        fl->f[i] = csv_trim(fl->f[i]);
    r->id = fl->f[0];
    action = fl->f[2];
    when = fl->n == 4 ? fl->f[3] : "";
    r->ts = now_s;
    if (!member_ok(v, r->id, why))
        return false;
    if (purpose_parse(fl->f[1], &r->p)) {
        snprintf(why, CSV_REASON_MAX,
                 "field 2: expected training or marketing");
        return false;
    }
    if (strcmp(action, "grant") && strcmp(action, "withdraw")) {
        snprintf(why, CSV_REASON_MAX, "field 3: expected grant or withdraw");
        return false;
    }
    if (*when && fr_parse_i64(when, 0, now_s + 86400, &r->ts)) {
        snprintf(why, CSV_REASON_MAX,
                 "field 4: expected a unix time not in the future");
        return false;
    }
    r->granted = !strcmp(action, "grant");
    return true;
}

/* Reads the record just read into fl and judges it: 1 for a row (r set),
 * 0 for the header or a blank line, -1 with the reason in why. */
static int
read_row(const vault *v, csv_reader *rd, int flags, unsigned long line,
         csv_fields *fl, int64_t now_s, consent_row *r,
         char why[CSV_REASON_MAX])
{
    fr_err rc;

    if (rd->len == 0 && !flags)
        return 0; /* blank line */
    if (csv_record_problem(rd, flags, why))
        return -1;
    if ((rc = csv_split(rd->buf, fl))) {
        snprintf(why, CSV_REASON_MAX,
                 rc == FR_ELIMIT
                     ? "more than %d fields, expected 3 or 4"
                     : "malformed quoting (text after a closing quote)",
                 CSV_MAX_FIELDS);
        return -1;
    }
    if (line == 1 && !strncmp(csv_trim(fl->f[0]), "member_id", 9))
        return 0; /* header */
    return judge_row(v, fl, now_s, r, why) ? 1 : -1;
}

/* Adds an event per row of the file to v (begun); FR_EINVAL with
 * "PATH:LINE: reason" in errbuf at the first bad record. */
static fr_err
import_rows(vault *v, csv_reader *rd, const char *path, int64_t now_s,
            size_t *added, char *errbuf, size_t errlen)
{
    csv_fields fl;
    char why[CSV_REASON_MAX];
    unsigned long line;
    int flags, got_row;
    bool got;
    fr_err rc;

    while ((rc = csv_read(rd, &line, &flags, &got)) == FR_OK && got) {
        consent_row r;
        uint8_t pid[VAULT_PID_BYTES];

        got_row = read_row(v, rd, flags, line, &fl, now_s, &r, why);
        if (got_row < 0) {
            snprintf(errbuf, errlen, "%s:%lu: %s", path, line, why);
            return FR_EINVAL;
        }
        if (!got_row)
            continue;
        vault_pid_of(v, r.id, pid);
        if (vault_is_forgotten(v, pid))
            continue; /* erased members stay erased */
        if ((rc = add_event(v, pid, r.p, r.granted, r.ts)))
            return rc;
        (*added)++;
    }
    if (rc)
        snprintf(errbuf, errlen, "%s: read error", path);
    return rc;
}

fr_err
vault_consent_import(vault *v, const char *csv_path, int64_t now_s,
                     size_t *n_changes, char *errbuf, size_t errlen)
{
    FILE *f = fopen(csv_path, "rb");
    char detail[128], dummy[1];
    size_t added = 0;
    csv_reader rd;
    fr_err rc;

    if (!errbuf || !errlen) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    *errbuf = '\0';
    if (!f) {
        snprintf(errbuf, errlen, "%s: %s", csv_path, strerror(errno));
        return errno == ENOENT ? FR_ENOENT : FR_ESYS;
    }
    if ((rc = csv_open(&rd, f, CONSENT_MAX_RECORD))) {
        fclose(f);
        return rc;
    }
    if ((rc = vault_begin(v)) == FR_OK) {
        rc = import_rows(v, &rd, csv_path, now_s, &added, errbuf, errlen);
        /* a refused file leaves the handle as the disk has it too (if
         * the re-read fails, the next change re-reads) */
        if (rc && vault_rollback_reload(v) != FR_OK)
            fr_log_warn("consent", "re-reading the store after a refused "
                        "import failed; the next change re-reads it");
    }
    csv_close(&rd);
    fclose(f);
    if (rc)
        return rc;
    *n_changes = added;
    snprintf(detail, sizeof detail, "%zu consent changes imported", added);
    return vault_commit(v, "consent_import", detail);
}
