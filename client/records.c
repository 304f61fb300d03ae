/*
 * records.c - the members' interactions: importing a CSV export through the
 * minimising parser (importer.h), the SKU table, netting purchases against
 * returns for training, and the member's own export (right of access).
 *
 * v->recs is kept sorted by (pid, time, SKU, quantity) without exact
 * duplicates, so a member's rows are one run and a re-import of the same
 * export adds nothing. The SKU table v->skus is sorted by bytes, so SKU
 * indices order rows as the SKUs themselves do. Rows of erased members are
 * never imported: they are counted and reported instead.
 *
 * Netting: a member's rows of one item (SKU, or item index after the
 * mapping) sum their quantities; a pair whose sum is <= 0 was fully
 * returned and is no positive. Training gets one interaction per
 * net-positive pair, at the time of its latest purchase: the dataset
 * (model/data.h) keeps one interaction per (member, item) at its latest
 * time anyway, so data without returns trains exactly as before.
 */
#include "vault_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "importer.h"

typedef uint8_t pidbuf[VAULT_PID_BYTES];

/* ---- the SKU table ---- */

int
vault_cmp_sku(const vault_sku *a, const vault_sku *b)
{
    int c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);

    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int
cmp_sku_ptr(const void *a, const void *b)
{
    return vault_cmp_sku(*(const vault_sku *const *)a,
                         *(const vault_sku *const *)b);
}

fr_err
vault_skus_tidy(vault *v)
{
    size_t n = v->n_skus, m = 0;
    uint32_t *newidx = calloc(n + 1, sizeof *newidx);
    const vault_sku **used = malloc((n + 1) * sizeof *used);
    vault_sku *table = NULL;

    if (!newidx || !used)
        goto nomem;
    for (size_t i = 0; i < v->n_recs; i++)
        newidx[v->recs[i].sku] = 1;
    for (size_t i = 0; i < n; i++)
        if (newidx[i])
            used[m++] = &v->skus[i];
    qsort(used, m, sizeof *used, cmp_sku_ptr);
    table = malloc((m + 1) * sizeof *table);
    if (!table)
        goto nomem;
    for (size_t i = 0; i < m; i++) {
        table[i] = *used[i];
        newidx[used[i] - v->skus] = (uint32_t)i;
    }
    for (size_t i = 0; i < v->n_recs; i++)
        v->recs[i].sku = newidx[v->recs[i].sku];
    free(v->skus);
    v->skus = table;
    v->n_skus = m;
    free(newidx);
    free(used);
    return FR_OK;
nomem:
    free(newidx);
    free(used);
    return FR_ENOMEM;
}

/* The SKUs met in an import: an open-addressing index over v->skus
 * (slots hold index + 1), and the table's room. */
typedef struct sku_index {
    uint32_t *slots;
    size_t cap, room;
} sku_index;

static uint32_t
hash_sku(const char *s, size_t n)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Room in the index for the table and up to extra new SKUs. */
static fr_err
sku_index_new(const vault *v, size_t extra, sku_index *t)
{
    size_t want = 2 * (v->n_skus + extra) + 2;

    t->cap = 16;
    while (t->cap < want)
        t->cap *= 2;
    t->room = v->n_skus;
    t->slots = calloc(t->cap, sizeof *t->slots);
    if (!t->slots)
        return FR_ENOMEM;
    for (size_t i = 0; i < v->n_skus; i++) {
        size_t h = hash_sku(v->skus[i].s, v->skus[i].len) & (t->cap - 1);
        while (t->slots[h])
            h = (h + 1) & (t->cap - 1);
        t->slots[h] = (uint32_t)i + 1;
    }
    return FR_OK;
}

/* The index of the SKU s (len 1..VAULT_SKU_MAX), added if new. */
static fr_err
sku_intern(vault *v, sku_index *t, const char *s, size_t len, uint32_t *out)
{
    size_t h = hash_sku(s, len) & (t->cap - 1);
    vault_sku *k;

    for (; t->slots[h]; h = (h + 1) & (t->cap - 1)) {
        k = &v->skus[t->slots[h] - 1];
        if (k->len == len && !memcmp(k->s, s, len)) {
            *out = t->slots[h] - 1;
            return FR_OK;
        }
    }
    if (v->n_skus == t->room) {
        size_t room = t->room ? 2 * t->room : 256;
        vault_sku *g = realloc(v->skus, room * sizeof *g);
        if (!g)
            return FR_ENOMEM;
        v->skus = g;
        t->room = room;
    }
    k = &v->skus[v->n_skus];
    k->len = (uint8_t)len;
    memcpy(k->s, s, len);
    k->s[len] = 0;
    t->slots[h] = (uint32_t)++v->n_skus;
    *out = (uint32_t)(v->n_skus - 1);
    return FR_OK;
}

/* ---- order ---- */

static int
cmp_rec(const void *a, const void *b)
{
    const rec *x = a, *y = b;
    int c = memcmp(x->pid, y->pid, VAULT_PID_BYTES);
    if (c)
        return c;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->sku != y->sku)
        return x->sku < y->sku ? -1 : 1;
    return (x->qty > y->qty) - (x->qty < y->qty);
}

size_t
vault_recs_normalise(vault *v)
{
    size_t m = 0, gone;

    if (!v->n_recs)
        return 0;
    qsort(v->recs, v->n_recs, sizeof *v->recs, cmp_rec);
    for (size_t i = 0; i < v->n_recs; i++)
        if (!m || cmp_rec(&v->recs[m - 1], &v->recs[i]))
            v->recs[m++] = v->recs[i];
    gone = v->n_recs - m;
    v->n_recs = m;
    return gone;
}

/* End of the run of rows of recs[i]'s member. */
static size_t
run_end(const vault *v, size_t i)
{
    size_t j = i + 1;

    while (j < v->n_recs &&
           !memcmp(v->recs[j].pid, v->recs[i].pid, VAULT_PID_BYTES))
        j++;
    return j;
}

/* ---- mapping and netting ---- */

/* The legacy rule: decimal digits with a value in [0, n_items). */
static uint32_t
legacy_index(const vault_sku *k, uint32_t n_items)
{
    uint64_t x = 0;

    for (size_t i = 0; i < k->len; i++) {
        if (k->s[i] < '0' || k->s[i] > '9')
            return FR_CATALOGUE_NONE;
        x = x * 10 + (uint64_t)(k->s[i] - '0');
        if (x >= n_items)
            return FR_CATALOGUE_NONE;
    }
    return (uint32_t)x;
}

/* Item index per SKU of the table (FR_CATALOGUE_NONE: outside). */
static fr_err
sku_map(const vault *v, const fr_catalogue *cat, uint32_t n_items,
        uint32_t **out)
{
    uint32_t *m = malloc((v->n_skus + 1) * sizeof *m);

    if (!m)
        return FR_ENOMEM;
    for (size_t i = 0; i < v->n_skus; i++)
        m[i] = cat ? fr_catalogue_find(cat, v->skus[i].s, v->skus[i].len)
                   : legacy_index(&v->skus[i], n_items);
    *out = m;
    return FR_OK;
}

/* One (member, key) pair after netting. */
typedef struct pairsum {
    uint32_t key;
    int64_t qty, last_buy; /* last_buy INT64_MIN: no purchase */
} pairsum;

static int
cmp_pairsum(const void *a, const void *b)
{
    const pairsum *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int64_t
add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Nets the n rows r of one member by key (map[sku], or the SKU index when
 * map is NULL; FR_CATALOGUE_NONE skipped) into out (room for n); returns
 * the number of keys. */
static size_t
net_member(const rec *r, size_t n, const uint32_t *map, pairsum *out)
{
    size_t m = 0, k = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t key = map ? map[r[i].sku] : r[i].sku;
        if (key != FR_CATALOGUE_NONE)
            out[m++] = (pairsum){key, r[i].qty,
                                 r[i].qty > 0 ? r[i].ts : INT64_MIN};
    }
    qsort(out, m, sizeof *out, cmp_pairsum);
    for (size_t i = 0; i < m; i++) {
        if (k && out[k - 1].key == out[i].key) {
            out[k - 1].qty = add_sat(out[k - 1].qty, out[i].qty);
            if (out[i].last_buy > out[k - 1].last_buy)
                out[k - 1].last_buy = out[i].last_buy;
        } else {
            out[k++] = out[i];
        }
    }
    return k;
}

/* Room for the longest member run of v. */
static pairsum *
net_scratch(const vault *v)
{
    size_t longest = 1;

    for (size_t i = 0, j; i < v->n_recs; i = j) {
        j = run_end(v, i);
        if (j - i > longest)
            longest = j - i;
    }
    return malloc(longest * sizeof(pairsum));
}

fr_err
vault_each(const vault *v, vault_purpose p, const fr_catalogue *cat,
           uint32_t n_items,
           fr_err (*fn)(void *ctx, const char *pid, uint32_t item,
                        int64_t ts),
           void *ctx)
{
    char hex[VAULT_PID_CHARS + 1];
    uint32_t *map = NULL;
    pairsum *ps = net_scratch(v);
    fr_err rc = ps ? sku_map(v, cat, n_items, &map) : FR_ENOMEM;

    for (size_t i = 0, j; !rc && i < v->n_recs; i = j) {
        size_t k;
        j = run_end(v, i);
        if (p < VAULT_PURPOSES && !vault_granted(v, v->recs[i].pid, p))
            continue;
        vault_pid_hex(v->recs[i].pid, hex);
        k = net_member(&v->recs[i], j - i, map, ps);
        for (size_t x = 0; !rc && x < k; x++)
            if (ps[x].qty > 0)
                rc = fn(ctx, hex, ps[x].key, ps[x].last_buy);
    }
    free(map);
    free(ps);
    return rc;
}

/* (member, SKU) pairs of the vault whose quantities sum to <= 0. */
static fr_err
count_fully_returned(const vault *v, size_t *n)
{
    pairsum *ps = net_scratch(v);

    if (!ps)
        return FR_ENOMEM;
    *n = 0;
    for (size_t i = 0, j; i < v->n_recs; i = j) {
        size_t k;
        j = run_end(v, i);
        k = net_member(&v->recs[i], j - i, NULL, ps);
        for (size_t x = 0; x < k; x++)
            *n += ps[x].qty <= 0;
    }
    free(ps);
    return FR_OK;
}

fr_err
vault_count_outside(const vault *v, const fr_catalogue *cat,
                    uint32_t n_items, size_t *rows, size_t *skus)
{
    uint32_t *map = NULL;
    uint8_t *seen = calloc(v->n_skus + 1, 1);
    fr_err rc = seen ? sku_map(v, cat, n_items, &map) : FR_ENOMEM;

    *rows = *skus = 0;
    for (size_t i = 0; !rc && i < v->n_recs; i++) {
        uint32_t s = v->recs[i].sku;
        if (map[s] != FR_CATALOGUE_NONE)
            continue;
        (*rows)++;
        *skus += !seen[s];
        seen[s] = 1;
    }
    free(map);
    free(seen);
    return rc;
}

/* ---- import ---- */

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
 * and their pids to added; counts returns, and the rows and members of
 * erased ones. FR_EINVAL on a row without a usable SKU. */
static fr_err
append_rows(vault *v, const import_result *in, sku_index *t, pidbuf *added,
            size_t *na, vault_import_report *r)
{
    pidbuf *fpids = NULL;
    size_t n_fp = 0;
    fr_err rc = FR_OK;

    for (size_t i = 0; !rc && i < in->n_rows; i++) {
        const import_row *row = &in->rows[i];
        rec *x = &v->recs[v->n_recs];
        size_t len = strnlen(row->sku, sizeof row->sku);
        r->rows_return += row->qty_milli < 0;
        vault_pid_of(v, row->member_id, x->pid);
        if (vault_is_forgotten(v, x->pid)) {
            r->rows_forgotten++;
            note_forgotten(&fpids, &n_fp, x->pid);
            continue;
        }
        if (len == 0 || len > VAULT_SKU_MAX) {
            rc = FR_EINVAL;
            break;
        }
        rc = sku_intern(v, t, row->sku, len, &x->sku);
        x->qty = row->qty_milli;
        x->ts = row->timestamp;
        memcpy(added[(*na)++], x->pid, VAULT_PID_BYTES);
        v->n_recs += !rc;
    }
    r->members_forgotten = n_fp;
    free(fpids);
    return rc;
}

/* Under the lock: adds the parsed rows to v and fills r. */
static fr_err
add_rows(vault *v, const import_result *in, vault_import_report *r)
{
    size_t before = v->n_recs, na = 0;
    sku_index t = {0};
    pidbuf *added;
    rec *grown;
    fr_err rc;

    grown = realloc(v->recs, (v->n_recs + in->n_rows + 1) * sizeof *grown);
    if (!grown)
        return FR_ENOMEM;
    v->recs = grown;
    r->rows_read = in->n_rows;
    added = malloc((in->n_rows + 1) * sizeof *added);
    if (!added || sku_index_new(v, in->n_rows, &t)) {
        free(added);
        return FR_ENOMEM;
    }
    rc = append_rows(v, in, &t, added, &na, r);
    free(t.slots);
    /* New members: among the added rows, pids the old records (still
     * sorted in recs[0..before)) do not hold. */
    qsort(added, na, sizeof *added, vault_cmp_pid);
    for (size_t i = 0; !rc && i < na; i++)
        if ((!i || memcmp(added[i], added[i - 1], VAULT_PID_BYTES)) &&
            !has_member(v->recs, before, added[i]))
            r->members_new++;
    free(added);
    if (rc || (rc = vault_skus_tidy(v)))
        return rc;
    r->rows_added = v->n_recs - before;
    r->rows_duplicate = vault_recs_normalise(v);
    r->rows_added -= r->rows_duplicate;
    return FR_OK;
}

/* Under the lock, after add_rows: the figures of the merged vault. */
static fr_err
count_merged(const vault *v, const vault_import_opts *o,
             vault_import_report *r)
{
    fr_err rc = count_fully_returned(v, &r->pairs_fully_returned);

    return rc ? rc
              : vault_count_outside(v, o->catalogue, o->n_items,
                                    &r->rows_outside_catalogue,
                                    &r->skus_outside_catalogue);
}

/* Parses the file and prints what the parser dropped; FR_EINVAL on an
 * unknown profile. */
static fr_err
parse_export(const char *csv_path, const vault_import_opts *o,
             const canon_policy *canon, import_result **in,
             FILE *report_out, char *errbuf, size_t errlen)
{
    import_profile *prof = NULL;
    import_opts io = {.canon = canon, .n_items = o->n_items,
                      .now_s = o->now_s, .max_errors = 20};
    fr_err rc;

    rc = import_profile_load(o->profile ? o->profile : "fedrec", &prof,
                             errbuf, errlen);
    if (rc == FR_ENOENT) {
        snprintf(errbuf, errlen, "unknown profile '%s' (built in: fedrec, "
                 "online-retail; or a profile file)", o->profile);
        return FR_EINVAL;
    }
    if (rc)
        return rc;
    io.profile = prof;
    rc = import_parse(csv_path, &io, in, errbuf, errlen);
    import_profile_destroy(&prof);
    if (rc)
        return rc;
    if (report_out && o->dry_run)
        fprintf(report_out, "dry run: nothing written\n");
    if (report_out) {
        report_discarded(*in, report_out);
        import_counts_print(&(*in)->counts, report_out);
    }
    return FR_OK;
}

fr_err
vault_import(vault *v, const char *csv_path, const vault_import_opts *o,
             vault_import_report *rep, FILE *report_out, char *errbuf,
             size_t errlen)
{
    import_result *in = NULL;
    vault_import_report r = {0};
    char detail[256];
    fr_err rc = parse_export(csv_path, o, &v->policy, &in, report_out, errbuf,
                             errlen);

    if (rc)
        return rc;
    if ((rc = vault_begin(v))) {
        import_result_destroy(&in);
        return rc;
    }
    rc = add_rows(v, in, &r);
    import_result_destroy(&in);
    if (rc == FR_EINVAL)
        snprintf(errbuf, errlen, "%s: a row names no item", csv_path);
    if (!rc)
        rc = count_merged(v, o, &r);
    if (rc) {
        vault_rollback(v);
        return rc;
    }
    if (rep)
        *rep = r;
    if (report_out && r.rows_forgotten)
        fprintf(report_out, "%zu rows of %zu erased member(s) were NOT "
                "imported: they asked to be forgotten\n", r.rows_forgotten,
                r.members_forgotten);
    if (o->dry_run)
        return vault_rollback_reload(v);
    snprintf(detail, sizeof detail,
             "rows %zu, added %zu, duplicates %zu, of erased members %zu, "
             "new members %zu, returns %zu", r.rows_read, r.rows_added,
             r.rows_duplicate, r.rows_forgotten, r.members_new,
             r.rows_return);
    return vault_commit(v, "import", detail);
}

void
vault_import_report_print(const vault_import_report *r, FILE *out)
{
    fprintf(out, "imported %zu of %zu rows (%zu duplicates, %zu new "
            "members)\n", r->rows_added, r->rows_read, r->rows_duplicate,
            r->members_new);
    fprintf(out, "rows_read: %zu\nrows_added: %zu\nrows_duplicate: %zu\n"
            "rows_return: %zu\nrows_forgotten: %zu\n"
            "members_forgotten: %zu\nrows_expired: %zu\nmembers_new: %zu\n"
            "pairs_fully_returned: %zu\nrows_outside_catalogue: %zu\n"
            "skus_outside_catalogue: %zu\n", r->rows_read, r->rows_added,
            r->rows_duplicate, r->rows_return, r->rows_forgotten,
            r->members_forgotten, r->rows_expired, r->members_new,
            r->pairs_fully_returned, r->rows_outside_catalogue,
            r->skus_outside_catalogue);
}

/* ---- reading ---- */

/* A JSON string of s. */
static void
json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* A quantity in thousandths as a JSON number: 2, -1, 0.25. */
static void
json_milli(FILE *out, int64_t q)
{
    uint64_t u = q < 0 ? (uint64_t)0 - (uint64_t)q : (uint64_t)q;
    unsigned frac = (unsigned)(u % 1000);
    int digits = 3;

    fprintf(out, "%s%llu", q < 0 ? "-" : "", (unsigned long long)(u / 1000));
    if (!frac)
        return;
    while (frac % 10 == 0)
        frac /= 10, digits--;
    fprintf(out, ".%0*u", digits, frac);
}

static void
export_row(const vault *v, const rec *r, int first, FILE *out)
{
    const vault_sku *k = &v->skus[r->sku];
    uint32_t item = legacy_index(k, UINT32_MAX);

    fprintf(out, "%s\n    {", first ? "" : ",");
    if (item != FR_CATALOGUE_NONE)
        fprintf(out, "\"item_id\": %u, ", item);
    fprintf(out, "\"sku\": ");
    json_str(out, k->s);
    fprintf(out, ", \"timestamp\": %lld, \"quantity\": ", (long long)r->ts);
    json_milli(out, r->qty);
    fputc('}', out);
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
        if (memcmp(v->recs[i].pid, pid, VAULT_PID_BYTES))
            continue;
        export_row(v, &v->recs[i], first, out);
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
