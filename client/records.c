/*
 * records.c - the members' interactions: importing a CSV export through the
 * minimising parser (importer.h), reading them for training, and the
 * member's own export (right of access).
 *
 * v->recs is kept sorted by (pid, time, item) without exact duplicates, so
 * a member's rows are one run and a re-import of the same export adds
 * nothing. Rows of erased members are never imported: they are counted and
 * reported instead.
 */
#include "vault_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "importer.h"

typedef uint8_t pidbuf[VAULT_PID_BYTES];

static int
cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    int c = memcmp(x->pid, y->pid, VAULT_PID_BYTES);
    if (c)
        return c;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* ---- import ---- */

/* Sorts the records and removes exact duplicates; returns how many went. */
static size_t
normalise(vault *v)
{
    size_t m = 0, gone;

    if (!v->n_recs)
        return 0;
    qsort(v->recs, v->n_recs, sizeof *v->recs, cmp_rec);
    for (size_t i = 0; i < v->n_recs; i++)
        if (!m || cmp_rec(&v->recs[m - 1], &v->recs[i]) ||
            v->recs[m - 1].qty != v->recs[i].qty)
            v->recs[m++] = v->recs[i];
    gone = v->n_recs - m;
    v->n_recs = m;
    return gone;
}

/* True if the n sorted records hold pid. */
static bool
has_member(const rec *recs, size_t n, const uint8_t *pid)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(recs[mid].pid, pid, VAULT_PID_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !memcmp(recs[lo].pid, pid, VAULT_PID_BYTES);
}

static void
report_discarded(const import_result *in, FILE *out)
{
    for (size_t i = 0; i < in->n_discarded; i++) {
        int ident = 0;
        for (size_t j = 0; j < in->n_identifiers; j++)
            ident |= !strcmp(in->discarded[i], in->identifiers[j]);
        fprintf(out, "discarded column '%s'%s\n", in->discarded[i],
                ident ? " (a direct identifier: never stored)" : "");
    }
}

/* Adds pid to the n erased members met so far, if new. A failed
 * allocation only makes the count of members smaller. */
static void
note_forgotten(pidbuf **fpids, size_t *n, const uint8_t *pid)
{
    void *g;

    for (size_t j = 0; j < *n; j++)
        if (!memcmp((*fpids)[j], pid, VAULT_PID_BYTES))
            return;
    g = realloc(*fpids, (*n + 1) * sizeof **fpids);
    if (g) {
        *fpids = g;
        memcpy((*fpids)[(*n)++], pid, VAULT_PID_BYTES);
    }
}

/* Appends the rows of members not erased after v->recs (room is reserved)
 * and their pids to added; counts the rows and members of erased ones. */
static void
append_rows(vault *v, const import_result *in, pidbuf *added, size_t *na,
            vault_import_report *r)
{
    pidbuf *fpids = NULL;
    size_t n_fp = 0;

    for (size_t i = 0; i < in->n_rows; i++) {
        rec *x = &v->recs[v->n_recs];
        vault_pid_of(v, in->rows[i].member_id, x->pid);
        if (vault_is_forgotten(v, x->pid)) {
            r->rows_forgotten++;
            note_forgotten(&fpids, &n_fp, x->pid);
            continue;
        }
        x->item = in->rows[i].item;
        x->qty = in->rows[i].quantity;
        x->ts = in->rows[i].timestamp;
        memcpy(added[(*na)++], x->pid, VAULT_PID_BYTES);
        v->n_recs++;
    }
    r->members_forgotten = n_fp;
    free(fpids);
}

/* Under the lock: adds the parsed rows to v and fills r. */
static fr_err
add_rows(vault *v, const import_result *in, vault_import_report *r)
{
    size_t before = v->n_recs, na = 0;
    pidbuf *added;
    rec *grown;

    grown = realloc(v->recs, (v->n_recs + in->n_rows + 1) * sizeof *grown);
    if (!grown)
        return FR_ENOMEM;
    v->recs = grown;
    r->rows_read = in->n_rows;
    added = malloc((in->n_rows + 1) * sizeof *added);
    if (!added)
        return FR_ENOMEM;
    append_rows(v, in, added, &na, r);
    /* New members: among the added rows, pids the old records (still
     * sorted in recs[0..before)) do not hold. */
    qsort(added, na, sizeof *added, vault_cmp_pid);
    for (size_t i = 0; i < na; i++)
        if ((!i || memcmp(added[i], added[i - 1], VAULT_PID_BYTES)) &&
            !has_member(v->recs, before, added[i]))
            r->members_new++;
    free(added);
    r->rows_added = v->n_recs - before;
    r->rows_duplicate = normalise(v);
    r->rows_added -= r->rows_duplicate;
    return FR_OK;
}

fr_err
vault_import(vault *v, const char *csv_path, uint32_t n_items,
             int64_t now_s, vault_import_report *rep, FILE *report_out,
             char *errbuf, size_t errlen)
{
    import_result *in = NULL;
    vault_import_report r = {0};
    char detail[256];
    fr_err rc;

    rc = import_parse_legacy(csv_path, n_items, now_s, 20, &in, errbuf,
                             errlen);
    if (rc)
        return rc;
    if (report_out)
        report_discarded(in, report_out);
    if ((rc = vault_begin(v))) {
        import_result_destroy(&in);
        return rc;
    }
    rc = add_rows(v, in, &r);
    import_result_destroy(&in);
    if (rc) {
        vault_rollback(v);
        return rc;
    }
    if (rep)
        *rep = r;
    snprintf(detail, sizeof detail,
             "rows %zu, added %zu, duplicates %zu, of erased members %zu, "
             "new members %zu", r.rows_read, r.rows_added, r.rows_duplicate,
             r.rows_forgotten, r.members_new);
    if (report_out && r.rows_forgotten)
        fprintf(report_out, "%zu rows of %zu erased member(s) were NOT "
                "imported: they asked to be forgotten\n", r.rows_forgotten,
                r.members_forgotten);
    return vault_commit(v, "import", detail);
}

/* ---- reading ---- */

fr_err
vault_each(const vault *v, vault_purpose p,
           fr_err (*fn)(void *ctx, const char *pid, uint32_t item,
                        int64_t ts),
           void *ctx)
{
    char hex[VAULT_PID_CHARS + 1];
    int ok = 0;

    for (size_t i = 0; i < v->n_recs; i++) {
        const rec *r = &v->recs[i];
        fr_err rc;
        if (!i || memcmp(r->pid, v->recs[i - 1].pid, VAULT_PID_BYTES)) {
            ok = p >= VAULT_PURPOSES || vault_granted(v, r->pid, p);
            vault_pid_hex(r->pid, hex);
        }
        if (ok && (rc = fn(ctx, hex, r->item, r->ts)))
            return rc;
    }
    return FR_OK;
}

fr_err
vault_export_member(vault *v, const char *raw_id, int has_embedding,
                    FILE *out)
{
    uint8_t pid[VAULT_PID_BYTES];
    char hex[VAULT_PID_CHARS + 1], detail[96];
    size_t n = 0;
    int first = 1;
    fr_err rc;

    if ((rc = vault_begin(v)))
        return rc;
    vault_pid_of(v, raw_id, pid);
    vault_pid_hex(pid, hex);
    for (size_t i = 0; i < v->n_recs; i++)
        n += !memcmp(v->recs[i].pid, pid, VAULT_PID_BYTES);
    for (size_t i = 0; i < v->n_evts; i++)
        n += !memcmp(v->evts[i].pid, pid, VAULT_PID_BYTES);
    if (!n) {
        vault_rollback(v);
        return FR_ENOENT;
    }
    fprintf(out, "{\n  \"store\": \"%s\",\n  \"pseudonym\": \"%s\",\n"
                 "  \"interactions\": [", v->name, hex);
    for (size_t i = 0; i < v->n_recs; i++) {
        const rec *r = &v->recs[i];
        if (memcmp(r->pid, pid, VAULT_PID_BYTES))
            continue;
        fprintf(out, "%s\n    {\"item_id\": %u, \"timestamp\": %lld, "
                     "\"quantity\": %u}", first ? "" : ",", r->item,
                (long long)r->ts, r->qty);
        first = 0;
    }
    fprintf(out, "%s],\n  \"consents\": {", first ? "" : "\n  ");
    for (int p = 0; p < VAULT_PURPOSES; p++) {
        int64_t since;
        int state = vault_consent_of(v, pid, (vault_purpose)p, &since);
        fprintf(out, "%s\n    \"%s\": {\"granted\": %s, \"history\": [",
                p ? "," : "", vault_purpose_names[p], state ? "true" : "false");
        first = 1;
        for (size_t i = 0; i < v->n_evts; i++) {
            const evt *e = &v->evts[i];
            if (e->purpose != p || memcmp(e->pid, pid, VAULT_PID_BYTES))
                continue;
            fprintf(out, "%s{\"action\": \"%s\", \"timestamp\": %lld}",
                    first ? "" : ", ", e->granted ? "grant" : "withdraw",
                    (long long)e->ts);
            first = 0;
        }
        fprintf(out, "]}");
    }
    fprintf(out, "\n  },\n  \"has_embedding\": %s\n}\n",
            has_embedding < 0 ? "null" : has_embedding ? "true" : "false");
    snprintf(detail, sizeof detail, "member %s data exported", hex);
    return vault_commit_as(v, "export", detail, 0);
}
