/*
 * catalogue.c - the shared item catalogue (see catalogue.h).
 *
 * A catalogue keeps its canonical bytes (header and SKUs, each ending in
 * LF), a copy of them with every LF turned into a NUL (so each SKU is a C
 * string in place), the offset of each SKU in that copy and an
 * open-addressing table of item indices. Parsing and fr_catalogue_from_skus
 * both reduce to one builder that checks, copies and indexes SKUs in rank
 * order, so the first bad or repeated entry is the one reported.
 *
 * The table's hash is FNV-1a with a 64-bit finaliser, unkeyed. An adversary
 * who chooses the SKUs could make many of them share a slot chain and slow
 * lookups down (never make them wrong: every probe compares the bytes), but
 * the SKUs come from the operator of the federation, who builds the file
 * and whose aggregator serves it; stores check its id against the round.
 * There is no outside party to choose them, so a keyed hash buys nothing.
 */
#include "catalogue.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/prim.h"

#define HEADER_LEN     (sizeof(FR_CATALOGUE_HEADER) - 1)
#define LOAD_MAX_BYTES (128u * 1024u * 1024u)
#define EMPTY_SLOT     UINT32_MAX
#define REASON_MAX     160

struct fr_catalogue {
    uint32_t n;
    uint8_t *bytes;  /* canonical bytes */
    size_t len;      /* their length */
    char *names;     /* bytes with LF -> NUL */
    uint32_t *off;   /* n + 1 offsets into names: SKU i is [off[i], off[i+1]-1) */
    uint32_t *slots; /* item index or EMPTY_SLOT */
    size_t mask;     /* slots has mask + 1 entries, a power of two */
    uint8_t id[FR_CATALOGUE_ID_BYTES];
};

/* One SKU offered to the builder: bytes and length. */
typedef struct span {
    const char *p;
    size_t len;
} span;

/* Where the builder reports: the unit ("line" or "item"), the number the
 * first SKU has in that unit, and the first failure found. */
typedef struct where {
    const char *unit;
    uint32_t base;
    uint32_t at; /* unit number of the failure */
    char reason[REASON_MAX];
} where;

static void
fail_at(where *w, uint32_t at, const char *fmt, ...) FR_PRINTF(3, 4);

static void
fail_at(where *w, uint32_t at, const char *fmt, ...)
{
    va_list ap;

    w->at = at;
    va_start(ap, fmt);
    vsnprintf(w->reason, sizeof w->reason, fmt, ap);
    va_end(ap);
}

static uint64_t
sku_hash(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    /* FNV-1a's low bits mix poorly; the slot index is taken from them. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

bool
fr_catalogue_sku_ok(const char *sku, size_t len, const char **why)
{
    const unsigned char *p = (const unsigned char *)sku;
    const char *dummy;

    if (!why)
        why = &dummy;
    if (!sku || len == 0)
        return *why = "empty SKU", false;
    if (len > FR_CATALOGUE_SKU_MAX)
        return *why = "SKU longer than 64 bytes", false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k;

        if (p[i] < 0x80) {
            if (p[i] < 0x20 || p[i] == 0x7f)
                return *why = "control character in SKU", false;
            i++;
            continue;
        }
        k = fr_utf8_next(p + i, len - i, &cp);
        if (k == 0)
            return *why = "invalid UTF-8 in SKU", false;
        if (cp <= 0x9f) /* C1 controls */
            return *why = "control character in SKU", false;
        i += k;
    }
    if (p[0] == ' ' || p[len - 1] == ' ')
        return *why = "leading or trailing space in SKU", false;
    return true;
}

static uint32_t
sku_len_of(const fr_catalogue *c, uint32_t i)
{
    return c->off[i + 1] - c->off[i] - 1;
}

/* The slot holding sku, or the empty slot where it would go. */
static size_t
probe(const fr_catalogue *c, const char *sku, size_t len)
{
    size_t s = (size_t)sku_hash(sku, len) & c->mask;

    for (;;) {
        uint32_t i = c->slots[s];
        if (i == EMPTY_SLOT ||
            (sku_len_of(c, i) == len && !memcmp(c->names + c->off[i], sku, len)))
            return s;
        s = (s + 1) & c->mask;
    }
}

void
fr_catalogue_destroy(fr_catalogue **cp)
{
    fr_catalogue *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    free(c->bytes);
    free(c->names);
    free(c->off);
    free(c->slots);
    free(c);
    *cp = NULL;
}

/* Allocates a catalogue for n SKUs of total bytes canonical bytes. */
static fr_err
alloc_catalogue(size_t n, size_t total, fr_catalogue **out)
{
    fr_catalogue *c = calloc(1, sizeof *c);
    size_t cap = 16;

    if (!c)
        return FR_ENOMEM;
    while (cap < 2 * n) /* load factor at most one half */
        cap *= 2;
    c->bytes = malloc(total);
    c->names = malloc(total);
    c->off = malloc((n + 1) * sizeof *c->off);
    c->slots = malloc(cap * sizeof *c->slots);
    if (!c->bytes || !c->names || !c->off || !c->slots) {
        fr_catalogue_destroy(&c);
        return FR_ENOMEM;
    }
    memset(c->slots, 0xff, cap * sizeof *c->slots);
    c->mask = cap - 1;
    *out = c;
    return FR_OK;
}

/* Checks, copies and indexes n SKUs in rank order. */
static fr_err
build(const span *skus, size_t n, fr_catalogue **out, where *w)
{
    fr_catalogue *c = NULL;
    fr_crypto_hash_state st;
    size_t total = HEADER_LEN + 1, pos;
    const char *why;
    fr_err rc;

    if (n == 0)
        return fail_at(w, w->base, "no items"), FR_EINVAL;
    if (n > FR_CATALOGUE_MAX_ITEMS)
        return fail_at(w, w->base + FR_CATALOGUE_MAX_ITEMS,
                       "more than %u items", FR_CATALOGUE_MAX_ITEMS),
               FR_ELIMIT;
    for (size_t i = 0; i < n; i++) {
        if (!fr_catalogue_sku_ok(skus[i].p, skus[i].len, &why))
            return fail_at(w, w->base + (uint32_t)i, "%s", why), FR_EINVAL;
        total += skus[i].len + 1;
    }
    if ((rc = alloc_catalogue(n, total, &c)))
        return fail_at(w, w->base, "out of memory"), rc;
    memcpy(c->bytes, FR_CATALOGUE_HEADER "\n", HEADER_LEN + 1);
    pos = HEADER_LEN + 1;
    for (size_t i = 0; i < n; i++) {
        size_t s;

        c->off[i] = (uint32_t)pos;
        memcpy(c->bytes + pos, skus[i].p, skus[i].len);
        memcpy(c->names + pos, skus[i].p, skus[i].len);
        pos += skus[i].len;
        c->bytes[pos] = '\n';
        c->names[pos++] = '\0';
        c->off[i + 1] = (uint32_t)pos;
        s = probe(c, skus[i].p, skus[i].len);
        if (c->slots[s] != EMPTY_SLOT) {
            fail_at(w, w->base + (uint32_t)i,
                    "duplicate SKU \"%.*s\" (first at %s %u)",
                    (int)skus[i].len, skus[i].p, w->unit,
                    w->base + c->slots[s]);
            fr_catalogue_destroy(&c);
            return FR_EINVAL;
        }
        c->slots[s] = (uint32_t)i;
    }
    memcpy(c->names, c->bytes, HEADER_LEN);
    c->names[HEADER_LEN] = '\0';
    c->n = (uint32_t)n;
    c->len = total;
    fr_crypto_hash_init(&st, FR_CATALOGUE_ID_BYTES);
    fr_crypto_hash_update(&st, c->bytes, c->len);
    fr_crypto_hash_final(&st, c->id, FR_CATALOGUE_ID_BYTES);
    *out = c;
    return FR_OK;
}

/* Cuts buf into lines (LF or CR LF; the last may lack its LF) and checks
 * the header. *skus receives the lines after it (malloc'd). */
static fr_err
split_lines(const char *buf, size_t len, span **skus, size_t *n, where *w)
{
    const char *p = buf, *end = buf + len, *nl;
    size_t cap = 0, k = 0;
    span *v;

    for (const char *q = buf; q < end && (q = memchr(q, '\n', (size_t)(end - q)));
         q++)
        if (++cap > FR_CATALOGUE_MAX_ITEMS + 1)
            break;
    if (!(v = malloc((cap + 1) * sizeof *v)))
        return fail_at(w, 1, "out of memory"), FR_ENOMEM;
    while (p < end) {
        size_t l;

        nl = memchr(p, '\n', (size_t)(end - p));
        l = (size_t)((nl ? nl : end) - p);
        if (nl && l > 0 && p[l - 1] == '\r')
            l--;
        if (k == 0 && (l != HEADER_LEN || memcmp(p, FR_CATALOGUE_HEADER, l))) {
            free(v);
            return fail_at(w, 1, "not a catalogue (the first line must be "
                                 "\"" FR_CATALOGUE_HEADER "\")"),
                   FR_EINVAL;
        }
        if (k > FR_CATALOGUE_MAX_ITEMS) {
            free(v);
            return fail_at(w, (uint32_t)k + 1, "more than %u items",
                           FR_CATALOGUE_MAX_ITEMS),
                   FR_ELIMIT;
        }
        v[k++] = (span){p, l};
        p = nl ? nl + 1 : end;
    }
    if (k == 0) {
        free(v);
        return fail_at(w, 1, "empty file (no header)"), FR_EINVAL;
    }
    *skus = v;
    *n = k;
    return FR_OK;
}

static fr_err
parse_into(const void *buf, size_t len, fr_catalogue **out, where *w)
{
    span *lines = NULL;
    size_t n = 0;
    fr_err rc;

    w->unit = "line";
    w->base = 2;
    if (!buf && len)
        return fail_at(w, 1, "no data"), FR_EINVAL;
    if ((rc = split_lines(buf, len, &lines, &n, w)))
        return rc;
    rc = build(lines + 1, n - 1, out, w);
    free(lines);
    return rc;
}

fr_err
fr_catalogue_parse(const void *buf, size_t len, fr_catalogue **out,
                   char *errbuf, size_t errlen)
{
    where w = {0};
    fr_err rc;

    *out = NULL;
    rc = parse_into(buf, len, out, &w);
    if (rc && errbuf && errlen)
        snprintf(errbuf, errlen, "line %u: %s", w.at, w.reason);
    return rc;
}

fr_err
fr_catalogue_load(const char *path, fr_catalogue **out, char *errbuf,
                  size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    where w = {0};
    fr_err rc;

    *out = NULL;
    rc = fr_file_read_all(path, LOAD_MAX_BYTES, &buf, &len);
    if (rc) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: %s", path,
                     rc == FR_ELIMIT ? "larger than 128 MiB"
                     : rc == FR_EINVAL ? "not a regular file"
                                       : fr_strerror(rc));
        return rc;
    }
    rc = parse_into(buf, len, out, &w);
    free(buf);
    if (rc && errbuf && errlen)
        snprintf(errbuf, errlen, "%s:%u: %s", path, w.at, w.reason);
    return rc;
}

fr_err
fr_catalogue_from_skus(const char *const *skus, size_t n, fr_catalogue **out,
                       char *errbuf, size_t errlen)
{
    where w = {.unit = "item", .base = 0};
    span *v;
    fr_err rc;

    *out = NULL;
    if (n > FR_CATALOGUE_MAX_ITEMS) {
        rc = FR_ELIMIT;
        fail_at(&w, FR_CATALOGUE_MAX_ITEMS, "more than %u items",
                FR_CATALOGUE_MAX_ITEMS);
    } else if (!(v = malloc((n ? n : 1) * sizeof *v))) {
        rc = FR_ENOMEM;
        fail_at(&w, 0, "out of memory");
    } else {
        for (size_t i = 0; i < n; i++)
            v[i] = (span){skus[i], skus[i] ? strnlen(skus[i],
                                                     FR_CATALOGUE_SKU_MAX + 1)
                                           : 0};
        rc = build(v, n, out, &w);
        free(v);
    }
    if (rc && errbuf && errlen)
        snprintf(errbuf, errlen, "item %u: %s", w.at, w.reason);
    return rc;
}

uint32_t
fr_catalogue_n_items(const fr_catalogue *c)
{
    return c->n;
}

const char *
fr_catalogue_sku(const fr_catalogue *c, uint32_t i)
{
    FR_ASSERT(i < c->n);
    return c->names + c->off[i];
}

uint32_t
fr_catalogue_find(const fr_catalogue *c, const char *sku, size_t len)
{
    if (!sku || len == 0 || len > FR_CATALOGUE_SKU_MAX)
        return FR_CATALOGUE_NONE;
    return c->slots[probe(c, sku, len)]; /* EMPTY_SLOT == FR_CATALOGUE_NONE */
}

void
fr_catalogue_id(const fr_catalogue *c, uint8_t out[FR_CATALOGUE_ID_BYTES])
{
    memcpy(out, c->id, FR_CATALOGUE_ID_BYTES);
}

void
fr_catalogue_id_hex(const fr_catalogue *c, char out[FR_CATALOGUE_ID_HEX + 1])
{
    fr_crypto_bin2hex(out, c->id, FR_CATALOGUE_ID_BYTES);
}

const uint8_t *
fr_catalogue_bytes(const fr_catalogue *c, size_t *len)
{
    *len = c->len;
    return c->bytes;
}

fr_err
fr_catalogue_write(const fr_catalogue *c, const char *path)
{
    return fr_file_write_atomic(path, c->bytes, c->len, 0644);
}
