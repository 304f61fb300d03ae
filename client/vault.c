/*
 * vault.c - the sealed store itself: opening, creating and closing the
 * store directory, the sealed member-data file, the change cycle (lock,
 * sync, commit) and sealed blobs. See vault.h for the layout; consent,
 * erasure, pseudonyms and the interaction records live in their own files
 * (vault_int.h).
 *
 * DESIGN
 * - One sealed file (vault.sealed) holds everything about members, so a
 *   change is one atomic rename: after a crash the store opens in the old or
 *   the new state, never in between.
 * - Changes run under an exclusive lock on DIR/.lock, re-read the file
 *   first (another process, e.g. `consent withdraw` while `run` runs, may
 *   have changed it; the file is only decrypted again if it changed),
 *   append their audit entry, then save. The audit head (last entry number
 *   and hash) is its own small sealed file, kept by the audit module
 *   (common/audit/audit.h) with its own lock, DIR/audit.lock: a change
 *   takes .lock, then audit.lock for entry + save + head; an audit-only
 *   event (a round: vault_audit) takes audit.lock alone and neither reads
 *   nor rewrites the member data. So both paths extend one chain. An audit
 *   entry whose change was cut short by a crash can exist; the state is
 *   then the old one. The recorded audit head lets `audit verify` notice a
 *   truncated log.
 * - Every record is keyed by the 16-byte pseudonym; the raw id a caller
 *   passes is hashed at the door and never kept.
 *
 * vault.sealed plaintext (little-endian), version 2:
 *   "FRVT" u32 version(2) u64 change_counter
 *   u32 name_len, name bytes
 *   u64 n_skus      { u16 len (1..64), bytes }   sorted by bytes, no repeats
 *   u64 n_recs      { [16] pid, u32 sku index, i64 quantity in thousandths
 *                     (returns < 0), i64 timestamp }
 *   u64 n_events    { [16] pid, u8 purpose, u8 granted, [6] 0, i64 time }
 *   u64 n_forgotten { [16] pid, i64 time }
 * Version 1 had no SKU table and records { [16] pid, u32 item, u32
 * quantity, i64 timestamp }; it still opens, read as SKU "item" (decimal)
 * and quantity * 1000, and the next change writes version 2.
 */
#include "vault_int.h"

#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/util.h"

#define TAG "vault"
#define VAULT_MAGIC "FRVT"
#define VAULT_VERSION 2u
#define REC1_BYTES 32 /* version 1 */
#define REC_BYTES 36
#define EVT_BYTES 32
#define FGT_BYTES 24

/* ---- helpers ---- */

void
vault_path(const vault *v, const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", v->dir, rel);
}

int
vault_cmp_pid(const void *a, const void *b)
{
    return memcmp(a, b, VAULT_PID_BYTES);
}

const char *
vault_dir(const vault *v)
{
    return v->dir;
}

const char *
vault_name(const vault *v)
{
    return v->name;
}

const fr_crypto_signkey *
vault_identity(const vault *v)
{
    return v->id;
}

/* ---- (de)serialisation ---- */

static size_t
skus_bytes(const vault *v)
{
    size_t n = 8;

    for (size_t i = 0; i < v->n_skus; i++)
        n += 2 + v->skus[i].len;
    return n;
}

static uint8_t *
put_skus(const vault *v, uint8_t *p)
{
    fr_put_u64le(p, v->n_skus), p += 8;
    for (size_t i = 0; i < v->n_skus; i++) {
        p[0] = v->skus[i].len;
        p[1] = 0;
        memcpy(p + 2, v->skus[i].s, v->skus[i].len);
        p += 2 + v->skus[i].len;
    }
    return p;
}

fr_err
vault_encode(const vault *v, uint8_t **buf_out, size_t *len_out)
{
    size_t nl = strlen(v->name);
    size_t len = 4 + 4 + 8 + 4 + nl + skus_bytes(v) + 8 +
                 v->n_recs * REC_BYTES + 8 + v->n_evts * EVT_BYTES + 8 +
                 v->n_fgts * FGT_BYTES;
    uint8_t *b = calloc(1, len), *p = b;

    if (!b)
        return FR_ENOMEM;
    memcpy(p, VAULT_MAGIC, 4), p += 4;
    fr_put_u32le(p, VAULT_VERSION), p += 4;
    fr_put_u64le(p, v->changes), p += 8;
    fr_put_u32le(p, (uint32_t)nl), p += 4;
    memcpy(p, v->name, nl), p += nl;
    p = put_skus(v, p);
    fr_put_u64le(p, v->n_recs), p += 8;
    for (size_t i = 0; i < v->n_recs; i++, p += REC_BYTES) {
        memcpy(p, v->recs[i].pid, 16);
        fr_put_u32le(p + 16, v->recs[i].sku);
        fr_put_u64le(p + 20, (uint64_t)v->recs[i].qty);
        fr_put_u64le(p + 28, (uint64_t)v->recs[i].ts);
    }
    fr_put_u64le(p, v->n_evts), p += 8;
    for (size_t i = 0; i < v->n_evts; i++, p += EVT_BYTES) {
        memcpy(p, v->evts[i].pid, 16);
        p[16] = v->evts[i].purpose;
        p[17] = v->evts[i].granted;
        fr_put_u64le(p + 24, (uint64_t)v->evts[i].ts);
    }
    fr_put_u64le(p, v->n_fgts), p += 8;
    for (size_t i = 0; i < v->n_fgts; i++, p += FGT_BYTES) {
        memcpy(p, v->fgts[i].pid, 16);
        fr_put_u64le(p + 16, (uint64_t)v->fgts[i].ts);
    }
    FR_ASSERT((size_t)(p - b) == len);
    *buf_out = b;
    *len_out = len;
    return FR_OK;
}

/* Reads a u64 count of fixed-size records, bounded by what is left. */
static fr_err
take_count(const uint8_t **p, const uint8_t *end, size_t each, size_t *n)
{
    uint64_t c;
    if ((size_t)(end - *p) < 8)
        return FR_EPROTO;
    c = fr_get_u64le(*p);
    *p += 8;
    if (c > (uint64_t)(end - *p) / each)
        return FR_EPROTO;
    *n = (size_t)c;
    return FR_OK;
}

/* What decode reads, before it replaces v's state. */
typedef struct decoded {
    vault_sku *skus;
    size_t n_skus;
    rec *recs;
    size_t n_recs;
    evt *evts;
    size_t n_evts;
    fgt *fgts;
    size_t n_fgts;
} decoded;

static void
decoded_free(decoded *d)
{
    if (d->recs)
        fr_crypto_wipe(d->recs, d->n_recs * sizeof *d->recs);
    free(d->skus);
    free(d->recs);
    free(d->evts);
    free(d->fgts);
}

/* The SKU table: each 1..VAULT_SKU_MAX bytes without NUL, strictly
 * increasing. */
static fr_err
decode_skus(const uint8_t **pp, const uint8_t *end, decoded *d)
{
    const uint8_t *p = *pp;
    size_t n;

    if (take_count(&p, end, 3, &n))
        return FR_EPROTO;
    d->skus = calloc(n ? n : 1, sizeof *d->skus);
    if (!d->skus)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        vault_sku *k = &d->skus[i];
        uint32_t len;
        if ((size_t)(end - p) < 2)
            return FR_EPROTO;
        len = (uint32_t)p[0] | (uint32_t)p[1] << 8;
        p += 2;
        if (len == 0 || len > VAULT_SKU_MAX || (size_t)(end - p) < len ||
            memchr(p, 0, len))
            return FR_EPROTO;
        k->len = (uint8_t)len;
        memcpy(k->s, p, len);
        k->s[len] = 0;
        p += len;
        if (i && vault_cmp_sku(&d->skus[i - 1], k) >= 0)
            return FR_EPROTO;
    }
    d->n_skus = n;
    *pp = p;
    return FR_OK;
}

static fr_err
decode_recs(const uint8_t **pp, const uint8_t *end, decoded *d)
{
    const uint8_t *p = *pp;
    size_t n;

    if (take_count(&p, end, REC_BYTES, &n))
        return FR_EPROTO;
    d->recs = calloc(n ? n : 1, sizeof *d->recs);
    if (!d->recs)
        return FR_ENOMEM;
    d->n_recs = n;
    for (size_t i = 0; i < n; i++, p += REC_BYTES) {
        rec *r = &d->recs[i];
        memcpy(r->pid, p, 16);
        r->sku = fr_get_u32le(p + 16);
        r->qty = (int64_t)fr_get_u64le(p + 20);
        r->ts = (int64_t)fr_get_u64le(p + 28);
        if (r->sku >= d->n_skus)
            return FR_EPROTO;
    }
    *pp = p;
    return FR_OK;
}

static int
cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Version 1 rows: item k becomes SKU "k", quantity q becomes q * 1000.
 * The table is in item order here; vault_skus_tidy sorts it later. */
static fr_err
decode_recs_v1(const uint8_t **pp, const uint8_t *end, decoded *d)
{
    const uint8_t *p = *pp;
    uint32_t *items;
    size_t n, m = 0;

    if (take_count(&p, end, REC1_BYTES, &n))
        return FR_EPROTO;
    d->recs = calloc(n ? n : 1, sizeof *d->recs);
    items = malloc((n ? n : 1) * sizeof *items);
    if (!d->recs || !items) {
        free(items);
        return FR_ENOMEM;
    }
    d->n_recs = n;
    for (size_t i = 0; i < n; i++)
        items[i] = fr_get_u32le(p + i * REC1_BYTES + 16);
    qsort(items, n, sizeof *items, cmp_u32);
    for (size_t i = 0; i < n; i++)
        if (!m || items[m - 1] != items[i])
            items[m++] = items[i];
    d->skus = calloc(m ? m : 1, sizeof *d->skus);
    for (size_t i = 0; d->skus && i < m; i++)
        d->skus[i].len = (uint8_t)snprintf(d->skus[i].s, sizeof d->skus[i].s,
                                           "%u", items[i]);
    d->n_skus = d->skus ? m : 0;
    for (size_t i = 0; d->skus && i < n; i++, p += REC1_BYTES) {
        uint32_t item = fr_get_u32le(p + 16);
        rec *r = &d->recs[i];
        memcpy(r->pid, p, 16);
        r->sku = (uint32_t)((uint32_t *)bsearch(&item, items, m, sizeof *items,
                                                cmp_u32) - items);
        r->qty = (int64_t)fr_get_u32le(p + 20) * 1000;
        r->ts = (int64_t)fr_get_u64le(p + 24);
    }
    free(items);
    *pp = p;
    return d->skus ? FR_OK : FR_ENOMEM;
}

static fr_err
decode_consents(const uint8_t **pp, const uint8_t *end, decoded *d)
{
    const uint8_t *p = *pp;
    size_t n;

    if (take_count(&p, end, EVT_BYTES, &n))
        return FR_EPROTO;
    d->evts = calloc(n ? n : 1, sizeof *d->evts);
    if (!d->evts)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++, p += EVT_BYTES) {
        evt *e = &d->evts[i];
        memcpy(e->pid, p, 16);
        e->purpose = p[16];
        e->granted = p[17];
        e->ts = (int64_t)fr_get_u64le(p + 24);
        if (e->purpose >= VAULT_PURPOSES || e->granted > 1)
            return FR_EPROTO;
    }
    d->n_evts = n;
    if (take_count(&p, end, FGT_BYTES, &n))
        return FR_EPROTO;
    d->fgts = calloc(n ? n : 1, sizeof *d->fgts);
    if (!d->fgts)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++, p += FGT_BYTES) {
        memcpy(d->fgts[i].pid, p, 16);
        d->fgts[i].ts = (int64_t)fr_get_u64le(p + 16);
    }
    d->n_fgts = n;
    *pp = p;
    return FR_OK;
}

/* Moves what was decoded into v (whose old state goes). */
static void
adopt(vault *v, decoded *d)
{
    decoded old = {v->skus, v->n_skus, v->recs, v->n_recs,
                   v->evts, v->n_evts, v->fgts, v->n_fgts};

    decoded_free(&old);
    v->skus = d->skus, v->n_skus = d->n_skus;
    v->recs = d->recs, v->n_recs = d->n_recs;
    v->evts = d->evts, v->n_evts = d->n_evts;
    v->fgts = d->fgts, v->n_fgts = d->n_fgts;
}

/* True if rows a, b are in the order vault_recs_normalise leaves (member,
 * time, SKU, quantity) and not the same row. */
static bool
recs_before(const rec *a, const rec *b)
{
    int c = memcmp(a->pid, b->pid, VAULT_PID_BYTES);

    if (c)
        return c < 0;
    if (a->ts != b->ts)
        return a->ts < b->ts;
    if (a->sku != b->sku)
        return a->sku < b->sku;
    return a->qty < b->qty;
}

/* The readers rely on the rows' order (one run per member) and on sorted
 * erasures (bsearch). The writers keep both; a file from elsewhere (format
 * 1, or a writer's bug) gets them back here rather than wrong answers. */
static void
restore_order(vault *v)
{
    for (size_t i = 1; i < v->n_recs; i++)
        if (!recs_before(&v->recs[i - 1], &v->recs[i])) {
            (void)vault_recs_normalise(v);
            break;
        }
    for (size_t i = 1; i < v->n_fgts; i++)
        if (vault_cmp_pid(v->fgts[i - 1].pid, v->fgts[i].pid) > 0) {
            qsort(v->fgts, v->n_fgts, sizeof *v->fgts, vault_cmp_pid);
            break;
        }
}

fr_err
vault_decode(vault *v, const uint8_t *b, size_t len)
{
    const uint8_t *p = b, *end = b + len;
    decoded d = {0};
    uint32_t nl, version;
    fr_err rc;

    if (len < 20 || memcmp(p, VAULT_MAGIC, 4))
        return FR_EPROTO;
    version = fr_get_u32le(p + 4);
    if (version != 1 && version != VAULT_VERSION)
        return FR_EPROTO;
    nl = fr_get_u32le(p + 16);
    if (nl == 0 || nl > VAULT_NAME_MAX_LEN || len - 20 < nl ||
        memchr(p + 20, 0, nl)) /* the name is a C string */
        return FR_EPROTO;
    p += 20 + nl;
    rc = version == 1 ? decode_recs_v1(&p, end, &d)
                      : decode_skus(&p, end, &d);
    if (!rc && version != 1)
        rc = decode_recs(&p, end, &d);
    if (!rc)
        rc = decode_consents(&p, end, &d);
    if (!rc && p != end)
        rc = FR_EPROTO;
    if (rc) {
        decoded_free(&d);
        return rc;
    }
    v->changes = fr_get_u64le(b + 8);
    memcpy(v->name, b + 20, nl);
    v->name[nl] = 0;
    adopt(v, &d);
    if (version == 1 && (rc = vault_skus_tidy(v))) /* the table in order */
        return rc;
    restore_order(v);
    return FR_OK;
}

static fr_err
load_state(vault *v)
{
    char p[VAULT_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    vault_path(v, "vault.sealed", p, sizeof p);
    rc = fr_seal_read(v->key, KIND_VAULT, "vault", p, VAULT_MAX_BYTES, &buf,
                      &len);
    if (rc)
        return rc;
    rc = vault_decode(v, buf, len);
    fr_crypto_wipe(buf, len);
    free(buf);
    if (!rc) {
        struct stat st;
        if (stat(p, &st) == 0) {
            v->seen_ino = st.st_ino;
            v->seen_size = st.st_size;
            v->seen_mtime = st.st_mtim;
        }
    }
    return rc ? rc : vault_index_consents(v);
}

static fr_err
save_state(vault *v)
{
    char p[VAULT_PATH_MAX];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc = vault_encode(v, &buf, &len);

    if (rc)
        return rc;
    vault_path(v, "vault.sealed", p, sizeof p);
    rc = fr_seal_write(v->key, KIND_VAULT, "vault", p, buf, len);
    fr_crypto_wipe(buf, len);
    free(buf);
    if (!rc) { /* what is in memory is what is on disk */
        struct stat st;
        if (stat(p, &st) == 0) {
            v->seen_ino = st.st_ino;
            v->seen_size = st.st_size;
            v->seen_mtime = st.st_mtim;
        }
    }
    return rc;
}

/* ---- locking ---- */

static fr_err
lock(vault *v, int exclusive)
{
    while (flock(v->lock_fd, exclusive ? LOCK_EX : LOCK_SH) != 0)
        if (errno != EINTR)
            return FR_ESYS;
    return FR_OK;
}

static void
unlock(vault *v)
{
    (void)flock(v->lock_fd, LOCK_UN);
}

static bool
file_unchanged(const vault *v, const char *p)
{
    struct stat st;

    /* vault.sealed is only ever replaced by rename: the same inode, size
     * and time mean the same content. */
    return stat(p, &st) == 0 && st.st_ino == v->seen_ino &&
           st.st_size == v->seen_size &&
           st.st_mtim.tv_sec == v->seen_mtime.tv_sec &&
           st.st_mtim.tv_nsec == v->seen_mtime.tv_nsec;
}

/* What is in memory may no longer match vault.sealed (a change given up or
 * failed half-way): the next vault_begin or vault_reload reads it again. */
static void
forget_seen(vault *v)
{
    v->seen_size = -1;
}

/* Under the lock: the state on disk, read again only if it changed. */
static fr_err
sync_locked(vault *v)
{
    char p[VAULT_PATH_MAX];
    fr_err rc = FR_OK;

    fr_audit_head head;

    vault_path(v, "vault.sealed", p, sizeof p);
    if (!file_unchanged(v, p))
        rc = load_state(v);
    /* The head is read again by the append itself; reading it here refuses
     * a change up front when the recorded head is damaged. */
    return rc ? rc : fr_audit_trail_head(v->trail, &head);
}

/* Starts a change: exclusive lock, current state from disk. */
fr_err
vault_begin(vault *v)
{
    fr_err rc = lock(v, 1);

    if (rc)
        return rc;
    rc = sync_locked(v);
    if (rc)
        unlock(v);
    return rc;
}

static fr_err
save_state_cb(void *ctx)
{
    return save_state(ctx);
}

/* Ends a change: the audit entry, then the new state (if the member data
 * changed) and the new audit head, all under audit.lock (taken inside
 * fr_audit_trail_append, after .lock: audit.h), then unlock. */
fr_err
vault_commit_as(vault *v, const char *event, const char *detail, int data)
{
    fr_err rc = FR_OK;

    if (data) {
        v->changes++;
        rc = vault_skus_tidy(v);
        if (!rc)
            rc = vault_index_consents(v);
    }
    if (!rc)
        rc = fr_audit_trail_append(v->trail, v->id, event, detail,
                                   data ? save_state_cb : NULL, v, NULL);
    if (rc && data)
        forget_seen(v);
    unlock(v);
    return rc;
}

fr_err
vault_commit(vault *v, const char *event, const char *detail)
{
    return vault_commit_as(v, event, detail, 1);
}

void
vault_rollback(vault *v)
{
    forget_seen(v);
    unlock(v);
}

fr_err
vault_rollback_reload(vault *v)
{
    fr_err rc = load_state(v);

    if (rc)
        forget_seen(v);
    unlock(v);
    return rc;
}

/* ---- open / init ---- */

static fr_err
unlock_key(vault *v, const vault_unlock *u, char *errbuf, size_t errlen)
{
    char p[VAULT_PATH_MAX];
    uint8_t salt[FR_SEAL_SALT_BYTES];
    struct stat st;
    fr_err rc;

    vault_path(v, "data.salt", p, sizeof p);
    if (stat(p, &st) == 0) {
        const char *pass = u ? u->passphrase : NULL;
        if (!pass || !*pass) {
            snprintf(errbuf, errlen, "this store is locked with a passphrase "
                     "(set FEDREC_PASSPHRASE)");
            return FR_EAUTH;
        }
        if ((rc = fr_seal_salt_load(p, salt)))
            return rc;
        return fr_seal_key_from_passphrase(pass, strlen(pass), salt, &v->key);
    }
    vault_path(v, "data.key", p, sizeof p);
    rc = fr_seal_key_load_file(p, &v->key);
    if (rc == FR_EAUTH)
        snprintf(errbuf, errlen, "%s is readable by others: refused (chmod "
                 "600)", p);
    else if (rc)
        snprintf(errbuf, errlen, "cannot load the data key %s: %s", p,
                 fr_strerror(rc));
    return rc;
}

/* DIR/.lock, and the audit trail with its own lock (audit.h). */
static fr_err
open_lock(vault *v)
{
    fr_audit_trail_opts ao = {.dir = v->dir, .key = v->key};
    char p[VAULT_PATH_MAX];

    vault_path(v, ".lock", p, sizeof p);
    v->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (v->lock_fd < 0)
        return fr_err_from_errno(errno);
    return fr_audit_trail_new(&v->trail, &ao);
}

static const char *
seal_problem(fr_err rc)
{
    switch (rc) {
    case FR_EAUTH:
        return "authentication failed: the file was changed, or the key or "
               "passphrase is wrong";
    case FR_EPROTO:
        return "not a sealed file of this kind";
    case FR_ENOENT:
        return "missing";
    default:
        return fr_strerror(rc);
    }
}

fr_err
vault_open(const char *dir, const vault_unlock *u, vault **out,
           char *errbuf, size_t errlen)
{
    vault *v = calloc(1, sizeof *v);
    char p[VAULT_PATH_MAX];
    fr_audit_head head;
    fr_err rc;

    if (!v)
        return FR_ENOMEM;
    v->lock_fd = -1;
    v->policy = vault_policy_legacy;
    snprintf(v->dir, sizeof v->dir, "%s", dir);
    snprintf(errbuf, errlen, "cannot open the store in %s", dir);
    if ((rc = unlock_key(v, u, errbuf, errlen)))
        goto fail;
    if ((rc = open_lock(v)) || (rc = lock(v, 0)))
        goto fail;
    rc = load_state(v);
    if (!rc)
        rc = fr_audit_trail_head(v->trail, &head);
    unlock(v);
    if (rc) {
        snprintf(errbuf, errlen, "%s/vault.sealed: %s", dir,
                 seal_problem(rc));
        goto fail;
    }
    if ((rc = vault_pseudo_key_load(v))) {
        snprintf(errbuf, errlen, "%s/pseudonym.sealed: %s", dir,
                 seal_problem(rc));
        goto fail;
    }
    snprintf(p, sizeof p, "%s/keys/%s.sign.key", dir, v->name);
    if ((rc = fr_crypto_signkey_load(p, &v->id))) {
        snprintf(errbuf, errlen, "cannot load the identity key %s: %s", p,
                 fr_strerror(rc));
        goto fail;
    }
    *out = v;
    return FR_OK;
fail:
    vault_close(&v);
    return rc;
}

fr_err
vault_reload(vault *v, int *changed)
{
    char p[VAULT_PATH_MAX];
    fr_err rc;

    vault_path(v, "vault.sealed", p, sizeof p);
    *changed = 0;
    if (file_unchanged(v, p))
        return FR_OK;
    if ((rc = lock(v, 0)))
        return rc;
    rc = load_state(v);
    unlock(v);
    *changed = 1;
    return rc;
}

void
vault_close(vault **vp)
{
    vault *v = vp ? *vp : NULL;

    if (!v)
        return;
    {
        decoded d = {v->skus, v->n_skus, v->recs, v->n_recs,
                     v->evts, v->n_evts, v->fgts, v->n_fgts};
        decoded_free(&d);
    }
    for (int p = 0; p < VAULT_PURPOSES; p++)
        free(v->granted[p]);
    if (v->pkey) {
        fr_crypto_wipe(v->pkey, 32);
        free(v->pkey);
    }
    fr_seal_key_destroy(&v->key);
    fr_crypto_signkey_destroy(&v->id);
    fr_audit_trail_destroy(&v->trail);
    if (v->lock_fd >= 0)
        close(v->lock_fd);
    free(v);
    *vp = NULL;
}

static fr_err
write_conf(const char *dir, const vault_init_opts *o)
{
    const vault_member_policy *mp =
        o->policy ? o->policy : &vault_policy_recommended;
    char p[VAULT_PATH_MAX], text[2048];
    int n;

    snprintf(p, sizeof p, "%s/store.conf", dir);
    int has_sk = o->server_key && *o->server_key;

    n = snprintf(text, sizeof text,
                 "# fedrec store %s (fedrec-client init). No secrets here.\n"
                 "store %s\n"
                 "connect %s\n"
                 "key_file %s/keys/%s.key\n"
                 "%sserver_key %s\n"
                 "n_items %lld\n"
                 "retention_days %lld\n"
                 "# how member ids are read before pseudonymisation; change "
                 "them only\n# before the first import\n",
                 o->name, dir, o->connect ? o->connect : "tcp://127.0.0.1:7600",
                 dir, o->name, has_sk ? "" : "# set before run: ",
                 has_sk ? o->server_key : "/path/to/aggregator.pub",
                 (long long)o->n_items, (long long)o->retention_days);
    if (n < 0 || (size_t)n >= sizeof text)
        return FR_ELIMIT;
    {
        FILE *m = fmemopen(text + n, sizeof text - (size_t)n, "w");
        long more;
        if (!m)
            return FR_ENOMEM;
        canon_policy_write(mp, m);
        more = ftell(m);
        if (fclose(m) || more < 0 || (size_t)n + (size_t)more >= sizeof text)
            return FR_ELIMIT;
        n += (int)more;
    }
    return fr_file_write_atomic(p, text, (size_t)n, 0644);
}

/* Checks the name and that DIR holds no store yet, then makes DIR and
 * DIR/keys (0700). */
static fr_err
init_dirs(const char *dir, const vault_init_opts *o, char *errbuf,
          size_t errlen)
{
    char p[VAULT_PATH_MAX];
    struct stat st;

    if (!o->name || !*o->name || strlen(o->name) > VAULT_NAME_MAX_LEN) {
        snprintf(errbuf, errlen, "init needs --name (1 to 63 characters)");
        return FR_EINVAL;
    }
    snprintf(p, sizeof p, "%s/store.conf", dir);
    if (stat(p, &st) == 0) {
        snprintf(errbuf, errlen, "%s already holds a store", dir);
        return FR_ESTATE;
    }
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        snprintf(errbuf, errlen, "cannot create %s: %s", dir,
                 strerror(errno));
        return FR_ESYS;
    }
    snprintf(p, sizeof p, "%s/keys", dir);
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        snprintf(errbuf, errlen, "cannot create %s", p);
        return FR_ESYS;
    }
    return FR_OK;
}

/* The CURVE key pair and the identity key in DIR/keys. */
static fr_err
init_keys(vault *v, fr_crypto_keypair **kp, char *errbuf, size_t errlen)
{
    char p[VAULT_PATH_MAX];
    fr_err rc;

    snprintf(p, sizeof p, "%s/keys/%s", v->dir, v->name);
    if ((rc = fr_crypto_keypair_generate(kp)) ||
        (rc = fr_crypto_keypair_save(*kp, p, 0)) ||
        (rc = fr_crypto_signkey_generate(&v->id)) ||
        (rc = fr_crypto_signkey_save(v->id, p, 0)))
        snprintf(errbuf, errlen, "cannot make the store's keys in %s/keys: "
                 "%s", v->dir, fr_strerror(rc));
    return rc;
}

/* The data key: from the passphrase and a new salt, or a new data.key. */
static fr_err
init_data_key(vault *v, const char *passphrase, char *errbuf, size_t errlen)
{
    char p[VAULT_PATH_MAX];
    uint8_t salt[FR_SEAL_SALT_BYTES];
    fr_err rc;

    if (!passphrase) {
        vault_path(v, "data.key", p, sizeof p);
        if ((rc = fr_seal_key_create_file(p)) ||
            (rc = fr_seal_key_load_file(p, &v->key)))
            snprintf(errbuf, errlen, "cannot make the data key %s: %s", p,
                     fr_strerror(rc));
        return rc;
    }
    vault_path(v, "data.salt", p, sizeof p);
    if (!*passphrase) {
        snprintf(errbuf, errlen, "the passphrase is empty");
        return FR_EINVAL;
    }
    if ((rc = fr_seal_salt_create_file(p)) ||
        (rc = fr_seal_salt_load(p, salt)) ||
        (rc = fr_seal_key_from_passphrase(passphrase, strlen(passphrase),
                                          salt, &v->key)))
        snprintf(errbuf, errlen, "cannot set up the passphrase key: %s",
                 fr_strerror(rc));
    return rc;
}

/* The pseudonym key, the empty vault, the first audit entry and the head. */
static fr_err
init_state(vault *v, char *errbuf, size_t errlen)
{
    fr_err rc = vault_pseudo_key_create(v);

    if (rc || (rc = open_lock(v)) || (rc = lock(v, 1))) {
        snprintf(errbuf, errlen, "cannot write the store's state in %s: %s",
                 v->dir, fr_strerror(rc));
        return rc;
    }
    if ((rc = vault_commit(v, "init", "store created")))
        snprintf(errbuf, errlen, "cannot write the store's state in %s: %s",
                 v->dir, fr_strerror(rc));
    return rc;
}

fr_err
vault_init(const char *dir, const vault_init_opts *o, FILE *allowlist_out,
           char *errbuf, size_t errlen)
{
    vault *v = NULL;
    fr_crypto_keypair *kp = NULL;
    char hex1[65], hex2[65];
    fr_err rc;

    if ((rc = init_dirs(dir, o, errbuf, errlen)))
        return rc;
    v = calloc(1, sizeof *v);
    if (!v)
        return FR_ENOMEM;
    v->lock_fd = -1;
    snprintf(v->dir, sizeof v->dir, "%s", dir);
    snprintf(v->name, sizeof v->name, "%s", o->name);
    if ((rc = init_keys(v, &kp, errbuf, errlen)) ||
        (rc = init_data_key(v, o->passphrase, errbuf, errlen)) ||
        (rc = init_state(v, errbuf, errlen)))
        goto out;
    if ((rc = write_conf(dir, o))) {
        snprintf(errbuf, errlen, "cannot write %s/store.conf", dir);
        goto out;
    }
    fr_crypto_key_to_hex(fr_crypto_keypair_public(kp), hex1);
    fr_crypto_key_to_hex(fr_crypto_signkey_public(v->id), hex2);
    if (allowlist_out)
        fprintf(allowlist_out, "%s %s %s\n", o->name, hex1, hex2);
out:
    fr_crypto_keypair_destroy(&kp);
    vault_close(&v);
    return rc;
}

/* The round path: audit.log and audit_head.sealed under audit.lock only;
 * the member data is neither locked nor read nor written. */
fr_err
vault_audit(vault *v, const char *event, const char *detail)
{
    return fr_audit_trail_append(v->trail, v->id, event, detail, NULL, NULL,
                                 NULL);
}

/* ---- blobs ---- */

fr_err
vault_blob_write(const vault *v, const char *name, const void *buf,
                 size_t len)
{
    char p[VAULT_PATH_MAX];

    snprintf(p, sizeof p, "%s/%s.sealed", v->dir, name);
    return fr_seal_write(v->key, KIND_BLOB, name, p, buf, len);
}

fr_err
vault_blob_read(const vault *v, const char *name, uint8_t **buf_out,
                size_t *len_out)
{
    char p[VAULT_PATH_MAX];

    snprintf(p, sizeof p, "%s/%s.sealed", v->dir, name);
    return fr_seal_read(v->key, KIND_BLOB, name, p, VAULT_MAX_BYTES, buf_out,
                        len_out);
}

fr_err
vault_audit_verify(const vault *v, uint64_t *n_entries, char *errbuf,
                   size_t errlen)
{
    char p[VAULT_PATH_MAX];
    uint64_t first_bad = 0;
    struct stat st;

    vault_path(v, "audit_head.sealed", p, sizeof p);
    if (stat(p, &st) != 0) {
        snprintf(errbuf, errlen, "the recorded audit head %s is missing: "
                 "the end of the log cannot be checked", p);
        return FR_EPROTO;
    }
    return fr_audit_trail_verify(v->trail, fr_crypto_signkey_public(v->id),
                                 n_entries, &first_bad, errbuf, errlen);
}
