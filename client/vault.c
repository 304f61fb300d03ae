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
 * vault.sealed plaintext (little-endian):
 *   "FRVT" u32 version(1) u64 change_counter
 *   u32 name_len, name bytes
 *   u64 n_recs      { [16] pid, u32 item, u32 quantity, i64 timestamp }
 *   u64 n_events    { [16] pid, u8 purpose, u8 granted, [6] 0, i64 time }
 *   u64 n_forgotten { [16] pid, i64 time }
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
#define VAULT_VERSION 1u
#define REC_BYTES 32
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

static fr_err
encode(const vault *v, uint8_t **buf_out, size_t *len_out)
{
    size_t nl = strlen(v->name);
    size_t len = 4 + 4 + 8 + 4 + nl + 8 + v->n_recs * REC_BYTES +
                 8 + v->n_evts * EVT_BYTES + 8 + v->n_fgts * FGT_BYTES;
    uint8_t *b = calloc(1, len), *p = b;

    if (!b)
        return FR_ENOMEM;
    memcpy(p, VAULT_MAGIC, 4), p += 4;
    fr_put_u32le(p, VAULT_VERSION), p += 4;
    fr_put_u64le(p, v->changes), p += 8;
    fr_put_u32le(p, (uint32_t)nl), p += 4;
    memcpy(p, v->name, nl), p += nl;
    fr_put_u64le(p, v->n_recs), p += 8;
    for (size_t i = 0; i < v->n_recs; i++, p += REC_BYTES) {
        memcpy(p, v->recs[i].pid, 16);
        fr_put_u32le(p + 16, v->recs[i].item);
        fr_put_u32le(p + 20, v->recs[i].qty);
        fr_put_u64le(p + 24, (uint64_t)v->recs[i].ts);
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

static fr_err
decode(vault *v, const uint8_t *b, size_t len)
{
    const uint8_t *p = b, *end = b + len;
    uint32_t nl;
    size_t n;
    rec *recs = NULL;
    evt *evts = NULL;
    fgt *fgts = NULL;

    if (len < 20 || memcmp(p, VAULT_MAGIC, 4) ||
        fr_get_u32le(p + 4) != VAULT_VERSION)
        return FR_EPROTO;
    p += 8;
    v->changes = fr_get_u64le(p), p += 8;
    nl = fr_get_u32le(p), p += 4;
    if (nl == 0 || nl > VAULT_NAME_MAX_LEN || (size_t)(end - p) < nl)
        return FR_EPROTO;
    memcpy(v->name, p, nl);
    v->name[nl] = 0;
    p += nl;
    if (take_count(&p, end, REC_BYTES, &n))
        return FR_EPROTO;
    recs = calloc(n ? n : 1, sizeof *recs);
    if (!recs)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++, p += REC_BYTES) {
        memcpy(recs[i].pid, p, 16);
        recs[i].item = fr_get_u32le(p + 16);
        recs[i].qty = fr_get_u32le(p + 20);
        recs[i].ts = (int64_t)fr_get_u64le(p + 24);
    }
    free(v->recs);
    v->recs = recs;
    v->n_recs = n;
    if (take_count(&p, end, EVT_BYTES, &n))
        return FR_EPROTO;
    evts = calloc(n ? n : 1, sizeof *evts);
    if (!evts)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++, p += EVT_BYTES) {
        memcpy(evts[i].pid, p, 16);
        evts[i].purpose = p[16];
        evts[i].granted = p[17];
        evts[i].ts = (int64_t)fr_get_u64le(p + 24);
        if (evts[i].purpose >= VAULT_PURPOSES || evts[i].granted > 1) {
            free(evts);
            return FR_EPROTO;
        }
    }
    free(v->evts);
    v->evts = evts;
    v->n_evts = n;
    if (take_count(&p, end, FGT_BYTES, &n))
        return FR_EPROTO;
    fgts = calloc(n ? n : 1, sizeof *fgts);
    if (!fgts)
        return FR_ENOMEM;
    for (size_t i = 0; i < n; i++, p += FGT_BYTES) {
        memcpy(fgts[i].pid, p, 16);
        fgts[i].ts = (int64_t)fr_get_u64le(p + 16);
    }
    free(v->fgts);
    v->fgts = fgts;
    v->n_fgts = n;
    return p == end ? FR_OK : FR_EPROTO;
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
    rc = decode(v, buf, len);
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
    fr_err rc = encode(v, &buf, &len);

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
    if (v->recs)
        fr_crypto_wipe(v->recs, v->n_recs * sizeof *v->recs);
    free(v->recs);
    free(v->evts);
    free(v->fgts);
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
                 "retention_days %lld\n",
                 o->name, dir, o->connect ? o->connect : "tcp://127.0.0.1:7600",
                 dir, o->name, has_sk ? "" : "# set before run: ",
                 has_sk ? o->server_key : "/path/to/aggregator.pub",
                 (long long)o->n_items, (long long)o->retention_days);
    if (n < 0 || (size_t)n >= sizeof text)
        return FR_ELIMIT;
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
