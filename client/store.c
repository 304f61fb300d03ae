/*
 * store.c - CSV import of a store's purchases (see store.h).
 *
 * The parser handles RFC 4180 quoting (a name may contain a comma). Member
 * ids get dense indices in order of first appearance; a sorted index of
 * (id, local index) serves look-ups by id.
 */
#include "store.h"

#include <stdbool.h>
#include <stdarg.h>
#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

#define MAX_COLUMNS 64

typedef struct member_key {
    char id[STORE_MEMBER_ID_MAX];
    uint32_t index;
} member_key;

struct store_data {
    fr_dataset *data;
    member_key *members; /* sorted by id once loading ends */
    uint32_t *by_index;  /* local index -> position in members */
    uint32_t n_members, cap_members;
    uint32_t ignored_columns;
    void *build_table; /* id_table while built by store_data_add */
};

typedef struct csv_row {
    char *field[MAX_COLUMNS];
    int n;
} csv_row;

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...) FR_PRINTF(3, 4);

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Splits line in place into fields; FR_EPROTO on a broken quote or too
 * many columns. */
static fr_err
split_csv(char *line, csv_row *row)
{
    char *r = line, *w = line;

    row->n = 0;
    for (;;) {
        if (row->n >= MAX_COLUMNS)
            return FR_ELIMIT;
        row->field[row->n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (*r == '\0')
                    return FR_EPROTO;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            if (*r != ',' && *r != '\0')
                return FR_EPROTO;
        } else {
            while (*r && *r != ',')
                *w++ = *r++;
        }
        if (*r == '\0') {
            *w = '\0';
            return FR_OK;
        }
        *w++ = '\0';
        r++;
        w = r;
    }
}

static bool
valid_utf8(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80 ? 0 : (*s >> 5) == 6 ? 1 : (*s >> 4) == 14 ? 2
                : (*s >> 3) == 30 ? 3 : -1;
        if (n < 0)
            return false;
        s++;
        for (int i = 0; i < n; i++, s++)
            if ((*s & 0xC0) != 0x80)
                return false;
    }
    return true;
}

typedef struct columns {
    int member, item, timestamp;
} columns;

static fr_err
read_header(char *line, columns *c, uint32_t *ignored, char *errbuf,
            size_t errlen, const char *path)
{
    csv_row row;

    c->member = c->item = c->timestamp = -1;
    if (split_csv(line, &row)) {
        seterr(errbuf, errlen, "%s:1: malformed header", path);
        return FR_EINVAL;
    }
    *ignored = 0;
    for (int i = 0; i < row.n; i++) {
        if (!strcmp(row.field[i], "member_id") && c->member < 0)
            c->member = i;
        else if (!strcmp(row.field[i], "item_id") && c->item < 0)
            c->item = i;
        else if (!strcmp(row.field[i], "timestamp") && c->timestamp < 0)
            c->timestamp = i;
        else
            (*ignored)++;
    }
    if (c->member < 0 || c->item < 0 || c->timestamp < 0) {
        seterr(errbuf, errlen, "%s:1: header must name member_id, item_id "
               "and timestamp columns", path);
        return FR_EINVAL;
    }
    return FR_OK;
}

static int
cmp_key(const void *a, const void *b)
{
    return strcmp(((const member_key *)a)->id, ((const member_key *)b)->id);
}

/* Member id -> index during loading: open addressing, power-of-two size. */
typedef struct id_table {
    uint32_t *slots; /* index + 1, 0 = empty */
    uint32_t cap;
} id_table;

static uint32_t
hash_id(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static fr_err
table_grow(store_data *s, id_table *t)
{
    uint32_t cap = t->cap ? t->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);

    if (!slots)
        return FR_ENOMEM;
    for (uint32_t i = 0; i < s->n_members; i++) {
        uint32_t h = hash_id(s->members[i].id) & (cap - 1);
        while (slots[h])
            h = (h + 1) & (cap - 1);
        slots[h] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return FR_OK;
}

static fr_err
intern_member(store_data *s, id_table *t, const char *id, uint32_t *out)
{
    uint32_t h;

    if ((uint64_t)(s->n_members + 1) * 2 > t->cap && table_grow(s, t))
        return FR_ENOMEM;
    for (h = hash_id(id) & (t->cap - 1); t->slots[h];
         h = (h + 1) & (t->cap - 1)) {
        if (!strcmp(s->members[t->slots[h] - 1].id, id)) {
            *out = t->slots[h] - 1;
            return FR_OK;
        }
    }
    if (s->n_members == s->cap_members) {
        uint32_t cap = s->cap_members ? s->cap_members * 2 : 1024;
        member_key *m = realloc(s->members, cap * sizeof *m);
        if (!m)
            return FR_ENOMEM;
        s->members = m;
        s->cap_members = cap;
    }
    snprintf(s->members[s->n_members].id, STORE_MEMBER_ID_MAX, "%s", id);
    s->members[s->n_members].index = s->n_members;
    t->slots[h] = s->n_members + 1;
    *out = s->n_members++;
    return FR_OK;
}

static fr_err
parse_row(store_data *s, id_table *t, char *line, const columns *c,
          uint32_t n_items, const char *where, char *errbuf, size_t errlen)
{
    csv_row row;
    int64_t item, ts;
    int need = c->member;
    uint32_t member;
    const char *id;
    int64_t latest = (int64_t)time(NULL) + 86400;

    if (c->item > need)
        need = c->item;
    if (c->timestamp > need)
        need = c->timestamp;
    if (!valid_utf8((const unsigned char *)line)) {
        seterr(errbuf, errlen, "%s: not valid UTF-8", where);
        return FR_EINVAL;
    }
    if (split_csv(line, &row) || row.n <= need) {
        seterr(errbuf, errlen, "%s: malformed row or missing fields", where);
        return FR_EINVAL;
    }
    id = row.field[c->member];
    if (!*id || strlen(id) >= STORE_MEMBER_ID_MAX) {
        seterr(errbuf, errlen, "%s: member_id empty or longer than %d "
               "characters", where, STORE_MEMBER_ID_MAX - 1);
        return FR_EINVAL;
    }
    if (fr_parse_i64(row.field[c->item], 0, (int64_t)n_items - 1, &item)) {
        seterr(errbuf, errlen, "%s: item_id is not an integer in [0, %u]",
               where, n_items - 1);
        return FR_EINVAL;
    }
    if (fr_parse_i64(row.field[c->timestamp], 0, latest, &ts)) {
        seterr(errbuf, errlen, "%s: timestamp is not unix seconds between "
               "1970 and tomorrow", where);
        return FR_EINVAL;
    }
    if (intern_member(s, t, id, &member) ||
        fr_dataset_add(s->data, member, (uint32_t)item, ts)) {
        seterr(errbuf, errlen, "%s: out of memory", where);
        return FR_ENOMEM;
    }
    return FR_OK;
}

static fr_err
check_line(char *line, ssize_t got, const char *where, char *errbuf,
           size_t errlen)
{
    size_t n = (size_t)got;

    if (n > STORE_MAX_LINE) {
        seterr(errbuf, errlen, "%s: line longer than %d bytes", where,
               STORE_MAX_LINE);
        return FR_EINVAL;
    }
    if (strlen(line) != n) {
        seterr(errbuf, errlen, "%s: contains a NUL byte", where);
        return FR_EINVAL;
    }
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return FR_OK;
}

static fr_err
load_lines(store_data *s, FILE *f, const char *path, uint32_t n_items,
           char *errbuf, size_t errlen)
{
    char *line = NULL, where[300];
    size_t cap = 0;
    ssize_t got;
    columns cols = {-1, -1, -1};
    id_table table = {0};
    unsigned long lineno = 0;
    fr_err rc = FR_OK;

    while (rc == FR_OK && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        snprintf(where, sizeof where, "%s:%lu", path, lineno);
        if ((rc = check_line(line, got, where, errbuf, errlen)))
            break;
        if (lineno == 1)
            rc = read_header(line, &cols, &s->ignored_columns, errbuf, errlen,
                             path);
        else if (*line)
            rc = parse_row(s, &table, line, &cols, n_items, where, errbuf,
                           errlen);
    }
    if (rc == FR_OK && lineno == 0) {
        seterr(errbuf, errlen, "%s: empty file", path);
        rc = FR_EINVAL;
    }
    if (rc == FR_OK && s->n_members == 0) {
        seterr(errbuf, errlen, "%s: no interactions", path);
        rc = FR_EINVAL;
    }
    free(line);
    free(table.slots);
    return rc;
}

static fr_err
index_members(store_data *s)
{
    if (s->n_members) /* qsort wants a valid pointer even for none */
        qsort(s->members, s->n_members, sizeof *s->members, cmp_key);
    s->by_index = malloc(((size_t)s->n_members + 1) * sizeof *s->by_index);
    if (!s->by_index)
        return FR_ENOMEM;
    for (uint32_t i = 0; i < s->n_members; i++)
        s->by_index[s->members[i].index] = i;
    return FR_OK;
}

fr_err
store_data_new(uint32_t n_items, store_data **out)
{
    store_data *s = calloc(1, sizeof *s);

    if (!s)
        return FR_ENOMEM;
    s->build_table = calloc(1, sizeof(id_table));
    if (!s->build_table || fr_dataset_new(&s->data, n_items)) {
        store_data_destroy(&s);
        return FR_ENOMEM;
    }
    *out = s;
    return FR_OK;
}

fr_err
store_data_add(store_data *s, const char *member_id, uint32_t item,
               int64_t timestamp)
{
    uint32_t member;
    fr_err rc;

    if (!s->build_table)
        return FR_ESTATE;
    if (!*member_id || strlen(member_id) >= STORE_MEMBER_ID_MAX)
        return FR_EINVAL;
    rc = intern_member(s, s->build_table, member_id, &member);
    return rc ? rc : fr_dataset_add(s->data, member, item, timestamp);
}

fr_err
store_data_finish(store_data *s)
{
    id_table *t = s->build_table;
    fr_err rc;

    if (!t)
        return FR_ESTATE;
    free(t->slots);
    free(t);
    s->build_table = NULL;
    if ((rc = fr_dataset_finalize(s->data)))
        return rc;
    return index_members(s);
}

fr_err
store_data_load(const char *path, uint32_t n_items, store_data **out,
                char *errbuf, size_t errlen)
{
    store_data *s = calloc(1, sizeof *s);
    FILE *f = NULL;
    fr_err rc = FR_ENOMEM;

    if (!s || fr_dataset_new(&s->data, n_items))
        goto fail;
    f = fopen(path, "r");
    if (!f) {
        seterr(errbuf, errlen, "%s: cannot open", path);
        rc = FR_ENOENT;
        goto fail;
    }
    if ((rc = load_lines(s, f, path, n_items, errbuf, errlen)))
        goto fail;
    if ((rc = fr_dataset_finalize(s->data))) {
        seterr(errbuf, errlen, "%s: cannot index the data: %s", path,
               fr_strerror(rc));
        goto fail;
    }
    if ((rc = index_members(s)))
        goto fail;
    fclose(f);
    *out = s;
    return FR_OK;
fail:
    if (rc == FR_ENOMEM && errbuf && !*errbuf)
        seterr(errbuf, errlen, "%s: out of memory", path);
    if (f)
        fclose(f);
    store_data_destroy(&s);
    return rc;
}

void
store_data_destroy(store_data **sp)
{
    store_data *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    fr_dataset_destroy(&s->data);
    if (s->build_table) {
        free(((id_table *)s->build_table)->slots);
        free(s->build_table);
    }
    if (s->members) /* member ids are personal data: do not leave them */
        memset(s->members, 0, (size_t)s->cap_members * sizeof *s->members);
    free(s->members);
    free(s->by_index);
    free(s);
    *sp = NULL;
}

const fr_dataset *
store_data_dataset(const store_data *s)
{
    return s->data;
}

uint32_t
store_data_ignored_columns(const store_data *s)
{
    return s->ignored_columns;
}

fr_err
store_data_member(const store_data *s, const char *member_id,
                  uint32_t *index_out)
{
    member_key key;
    const member_key *hit;

    if (s->n_members == 0 || strlen(member_id) >= STORE_MEMBER_ID_MAX)
        return FR_ENOENT; /* bsearch needs a non-NULL array */
    snprintf(key.id, sizeof key.id, "%s", member_id);
    hit = bsearch(&key, s->members, s->n_members, sizeof *s->members,
                  cmp_key);
    if (!hit)
        return FR_ENOENT;
    *index_out = hit->index;
    return FR_OK;
}

const char *
store_data_member_id(const store_data *s, uint32_t index)
{
    if (index >= s->n_members)
        return NULL;
    return s->members[s->by_index[index]].id;
}
