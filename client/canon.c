/*
 * canon.c - member-id canonicalisation and its merge counter (canon.h).
 *
 * The counter is an open-addressing table of (H(canonical), H(raw), merged)
 * with H keyed BLAKE2b under a key drawn per counter, so neither form of an
 * id is ever held; the table and the key are wiped when it is destroyed.
 */
#include "canon.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "crypto/prim.h"


const canon_policy canon_legacy = {.trim = 1, .id_case = CANON_CASE_KEEP};
const canon_policy canon_recommended = {
    .trim = 1, .numeric = 1, .id_case = CANON_CASE_KEEP};

static bool
is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

static bool
all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* "DIGITS.ZEROS" (at least one of each): the length of DIGITS, else n. */
static size_t
numeric_len(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    size_t d;

    if (!dot)
        return n;
    d = (size_t)(dot - s);
    if (!all_digits(s, d) || d + 1 == n)
        return n;
    for (size_t i = d + 1; i < n; i++)
        if (s[i] != '0')
            return n;
    return d;
}

fr_err
canon_apply(const canon_policy *p, const char *raw, size_t len, char *out,
            size_t outlen)
{
    const char *s = raw;
    size_t n = len;

    if (p->trim) {
        while (n && is_space((unsigned char)*s))
            s++, n--;
        while (n && is_space((unsigned char)s[n - 1]))
            n--;
    }
    if (p->numeric)
        n = numeric_len(s, n);
    if (p->strip_zeros && all_digits(s, n))
        while (n > 1 && *s == '0')
            s++, n--;
    if (n >= outlen)
        return FR_ELIMIT;
    memmove(out, s, n);
    out[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (p->id_case == CANON_CASE_UPPER && out[i] >= 'a' && out[i] <= 'z')
            out[i] = (char)(out[i] - 'a' + 'A');
        else if (p->id_case == CANON_CASE_LOWER && out[i] >= 'A' &&
                 out[i] <= 'Z')
            out[i] = (char)(out[i] - 'A' + 'a');
    }
    return FR_OK;
}

/* ---- configuration ----------------------------------------------------- */

static fr_err
parse_case(const char *v, canon_case *out)
{
    if (!strcmp(v, "keep"))
        *out = CANON_CASE_KEEP;
    else if (!strcmp(v, "upper"))
        *out = CANON_CASE_UPPER;
    else if (!strcmp(v, "lower"))
        *out = CANON_CASE_LOWER;
    else
        return FR_EINVAL;
    return FR_OK;
}

fr_err
canon_policy_from_config(int trim, const char *id_case, int numeric,
                         const char *zeros, canon_policy *p, char *errbuf,
                         size_t errlen)
{
    canon_policy q = {.trim = trim != 0, .numeric = numeric != 0};

    if (parse_case(id_case, &q.id_case)) {
        fr_errbuf_set(errbuf, errlen,
               "member_id_case: '%.16s' is not keep, upper or lower", id_case);
        return FR_EINVAL;
    }
    if (!strcmp(zeros, "strip"))
        q.strip_zeros = 1;
    else if (strcmp(zeros, "keep")) {
        fr_errbuf_set(errbuf, errlen,
               "member_id_leading_zeros: '%.16s' is not keep or strip", zeros);
        return FR_EINVAL;
    }
    *p = q;
    return FR_OK;
}

void
canon_policy_write(const canon_policy *p, FILE *out)
{
    fprintf(out,
            "member_id_trim %s\n"
            "member_id_case %s\n"
            "member_id_numeric %s\n"
            "member_id_leading_zeros %s\n",
            p->trim ? "yes" : "no",
            p->id_case == CANON_CASE_UPPER   ? "upper"
            : p->id_case == CANON_CASE_LOWER ? "lower"
                                             : "keep",
            p->numeric ? "yes" : "no", p->strip_zeros ? "strip" : "keep");
}

/* ---- the merge counter ------------------------------------------------- */

#define HASH_BYTES 16
#define KEY_BYTES  32

typedef struct slot {
    uint8_t canon[HASH_BYTES];
    uint8_t raw[HASH_BYTES]; /* the first raw spelling met */
    uint8_t used, merged;
} slot;

struct canon_count {
    uint8_t key[KEY_BYTES];
    slot *v;
    size_t cap, n; /* cap a power of two */
    uint64_t rewritten, merged;
};

fr_err
canon_count_new(canon_count **out)
{
    canon_count *m = calloc(1, sizeof *m);

    *out = NULL;
    if (!m || !(m->v = calloc(1024, sizeof *m->v))) {
        free(m);
        return FR_ENOMEM;
    }
    m->cap = 1024;
    fr_crypto_random(m->key, sizeof m->key);
    *out = m;
    return FR_OK;
}

static slot *
find_slot(slot *v, size_t cap, const uint8_t *canon)
{
    uint64_t h = fr_get_u64le(canon);
    size_t i = (size_t)h & (cap - 1);

    while (v[i].used && memcmp(v[i].canon, canon, HASH_BYTES))
        i = (i + 1) & (cap - 1);
    return &v[i];
}

/* Doubles the table, copying then wiping the old one. */
static fr_err
grow(canon_count *m)
{
    size_t cap = m->cap * 2;
    slot *v;

    if (cap > SIZE_MAX / sizeof *v || !(v = calloc(cap, sizeof *v)))
        return FR_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->v[i].used)
            *find_slot(v, cap, m->v[i].canon) = m->v[i];
    fr_crypto_wipe(m->v, m->cap * sizeof *m->v);
    free(m->v);
    m->v = v;
    m->cap = cap;
    return FR_OK;
}

fr_err
canon_count_add(canon_count *m, const char *raw, size_t raw_len,
                const char *canonical)
{
    uint8_t hc[HASH_BYTES], hr[HASH_BYTES];
    slot *s;
    fr_err rc = FR_OK;

    if (raw_len != strlen(canonical) || memcmp(raw, canonical, raw_len))
        m->rewritten++;
    fr_crypto_hash_keyed(hc, sizeof hc, canonical, strlen(canonical), m->key,
                         sizeof m->key);
    fr_crypto_hash_keyed(hr, sizeof hr, raw, raw_len, m->key, sizeof m->key);
    s = find_slot(m->v, m->cap, hc);
    if (!s->used) {
        memcpy(s->canon, hc, HASH_BYTES);
        memcpy(s->raw, hr, HASH_BYTES);
        s->used = 1;
        if (++m->n * 2 > m->cap)
            rc = grow(m);
    } else if (!s->merged && memcmp(s->raw, hr, HASH_BYTES)) {
        s->merged = 1;
        m->merged++;
    }
    fr_crypto_wipe(hc, sizeof hc);
    fr_crypto_wipe(hr, sizeof hr);
    return rc;
}

uint64_t
canon_count_rewritten(const canon_count *m)
{
    return m ? m->rewritten : 0;
}

uint64_t
canon_count_merged(const canon_count *m)
{
    return m ? m->merged : 0;
}

void
canon_count_destroy(canon_count **mp)
{
    canon_count *m;

    if (!mp || !*mp)
        return;
    m = *mp;
    if (m->v)
        fr_crypto_wipe(m->v, m->cap * sizeof *m->v);
    free(m->v);
    fr_crypto_wipe(m, sizeof *m);
    free(m);
    *mp = NULL;
}
