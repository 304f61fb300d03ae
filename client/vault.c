/*
 * vault.c - the store directory: sealed member data, pseudonyms, consent,
 * erasure, retention and the audit trail. See vault.h for the layout.
 *
 * DESIGN
 * - One sealed file (vault.sealed) holds everything about members, so a
 *   change is one atomic rename: after a crash the store opens in the old or
 *   the new state, never in between.
 * - Changes run under an exclusive lock on DIR/.lock, re-read the file
 *   first (another process, e.g. `consent withdraw` while `run` runs, may
 *   have changed it; the file is only decrypted again if it changed),
 *   append their audit entry, then save. The audit head (last entry number
 *   and hash) is its own small sealed file, so an audit-only event (a
 *   round, an export) does not rewrite the member data. An audit entry
 *   whose change was cut short by a crash can therefore exist; the state is
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
#include "vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "base/log.h"
#include "base/util.h"
#include "crypto/seal.h"
#include "importer.h"

#define TAG "vault"
#define VAULT_MAGIC "FRVT"
#define VAULT_VERSION 1u
#define KIND_VAULT 1
#define KIND_PSEUDO 2
#define KIND_BLOB 3
#define VAULT_MAX_BYTES ((size_t)1 << 31)
#define REC_BYTES 32
#define EVT_BYTES 32
#define FGT_BYTES 24
#define NAME_MAX_LEN 63

typedef struct rec {
    uint8_t pid[VAULT_PID_BYTES];
    uint32_t item, qty;
    int64_t ts;
} rec;

typedef struct evt {
    uint8_t pid[VAULT_PID_BYTES];
    uint8_t purpose, granted;
    int64_t ts;
} evt;

typedef struct fgt {
    uint8_t pid[VAULT_PID_BYTES];
    int64_t ts;
} fgt;

struct vault {
    char dir[512];
    char name[NAME_MAX_LEN + 1];
    fr_seal_key *key;
    fr_crypto_signkey *id;
    uint8_t *pkey; /* pseudonym key, sodium-guarded via fr_crypto_wipe */
    uint64_t changes;
    fr_audit_head head;
    rec *recs;
    size_t n_recs;
    evt *evts;
    size_t n_evts;
    fgt *fgts;
    size_t n_fgts;
    /* current consent: sorted pids granting each purpose (rebuilt whenever
     * the events change) */
    uint8_t (*granted[VAULT_PURPOSES])[VAULT_PID_BYTES];
    size_t n_granted[VAULT_PURPOSES];
    ino_t seen_ino; /* the vault.sealed last read */
    off_t seen_size;
    struct timespec seen_mtime;
    int lock_fd;
};

static fr_err index_consents(vault *v);

/* ---- helpers ---------------------------------------------------------- */

static void
path_of(const vault *v, const char *rel, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", v->dir, rel);
}

static int
cmp_pid(const void *a, const void *b)
{
    return memcmp(a, b, VAULT_PID_BYTES);
}

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

static void
hex_of(const uint8_t pid[VAULT_PID_BYTES], char out[VAULT_PID_CHARS + 1])
{
    static const char d[] = "0123456789abcdef";
    for (int i = 0; i < VAULT_PID_BYTES; i++) {
        out[2 * i] = d[pid[i] >> 4];
        out[2 * i + 1] = d[pid[i] & 15];
    }
    out[VAULT_PID_CHARS] = 0;
}

static int
pid_from_hex(const char *hex, uint8_t pid[VAULT_PID_BYTES])
{
    for (int i = 0; i < VAULT_PID_BYTES; i++) {
        unsigned v = 0;
        for (int j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9')
                v |= (unsigned)(c - '0');
            else if (c >= 'a' && c <= 'f')
                v |= (unsigned)(c - 'a' + 10);
            else
                return -1;
        }
        pid[i] = (uint8_t)v;
    }
    return hex[VAULT_PID_CHARS] == 0 ? 0 : -1;
}

static void
pid_of(const vault *v, const char *raw, uint8_t pid[VAULT_PID_BYTES])
{
    char hex[FR_PSEUDONYM_CHARS + 1];
    fr_pseudonym(v->pkey, raw, strlen(raw), hex);
    FR_ASSERT(pid_from_hex(hex, pid) == 0);
}

void
vault_pseudonym(const vault *v, const char *raw_id,
                char out[VAULT_PID_CHARS + 1])
{
    fr_pseudonym(v->pkey, raw_id, strlen(raw_id), out);
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

/* ---- (de)serialisation -------------------------------------------------- */

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
static int
take_count(const uint8_t **p, const uint8_t *end, size_t each, size_t *n)
{
    uint64_t c;
    if ((size_t)(end - *p) < 8)
        return -1;
    c = fr_get_u64le(*p);
    *p += 8;
    if (c > (uint64_t)(end - *p) / each)
        return -1;
    *n = (size_t)c;
    return 0;
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
    if (nl == 0 || nl > NAME_MAX_LEN || (size_t)(end - p) < nl)
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
    char p[600];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    path_of(v, "vault.sealed", p, sizeof p);
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
    return rc ? rc : index_consents(v);
}

static fr_err
save_state(vault *v)
{
    char p[600];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc = encode(v, &buf, &len);

    if (rc)
        return rc;
    path_of(v, "vault.sealed", p, sizeof p);
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

/* ---- locking ---------------------------------------------------------------- */

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

static int
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

#define KIND_HEAD 4

static fr_err
load_head(vault *v)
{
    char p[600];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    path_of(v, "audit_head.sealed", p, sizeof p);
    rc = fr_seal_read(v->key, KIND_HEAD, "audit-head", p, 64, &buf, &len);
    if (rc == FR_ENOENT) { /* checked by audit verify */
        memset(&v->head, 0, sizeof v->head);
        return FR_OK;
    }
    if (rc)
        return rc;
    if (len != 40) {
        free(buf);
        return FR_EPROTO;
    }
    v->head.seq = fr_get_u64le(buf);
    memcpy(v->head.hash, buf + 8, 32);
    free(buf);
    return FR_OK;
}

static fr_err
save_head(const vault *v)
{
    char p[600];
    uint8_t buf[40];

    fr_put_u64le(buf, v->head.seq);
    memcpy(buf + 8, v->head.hash, 32);
    path_of(v, "audit_head.sealed", p, sizeof p);
    return fr_seal_write(v->key, KIND_HEAD, "audit-head", p, buf, sizeof buf);
}

/* Under the lock: the state on disk, read again only if it changed. */
static fr_err
sync_locked(vault *v)
{
    char p[600];
    fr_err rc = FR_OK;

    path_of(v, "vault.sealed", p, sizeof p);
    if (!file_unchanged(v, p))
        rc = load_state(v);
    return rc ? rc : load_head(v);
}

/* Starts a change: exclusive lock, current state from disk. */
static fr_err
begin(vault *v)
{
    fr_err rc = lock(v, 1);

    if (rc)
        return rc;
    rc = sync_locked(v);
    if (rc)
        unlock(v);
    return rc;
}

/* Ends a change: audit entry, then the new state (if the member data
 * changed) and the new audit head, then unlock. */
static fr_err
commit_as(vault *v, const char *event, const char *detail, int data)
{
    fr_err rc = FR_OK;
    char p[600];

    path_of(v, "audit.log", p, sizeof p);
    if (data) {
        v->changes++;
        rc = index_consents(v);
    }
    if (!rc)
        rc = fr_audit_append(p, v->id, event, detail, &v->head);
    if (!rc && data)
        rc = save_state(v);
    if (!rc)
        rc = save_head(v);
    unlock(v);
    return rc;
}

static fr_err
commit(vault *v, const char *event, const char *detail)
{
    return commit_as(v, event, detail, 1);
}

static void
rollback(vault *v)
{
    unlock(v);
}

/* ---- open / init -------------------------------------------------------------- */

static fr_err
unlock_key(vault *v, const vault_unlock *u, char *errbuf, size_t errlen)
{
    char p[600];
    uint8_t salt[FR_SEAL_SALT_BYTES];
    struct stat st;
    fr_err rc;

    path_of(v, "data.salt", p, sizeof p);
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
    path_of(v, "data.key", p, sizeof p);
    rc = fr_seal_key_load_file(p, &v->key);
    if (rc == FR_EAUTH)
        snprintf(errbuf, errlen, "%s is readable by others: refused (chmod "
                 "600)", p);
    else if (rc)
        snprintf(errbuf, errlen, "cannot load the data key %s: %s", p,
                 fr_strerror(rc));
    return rc;
}

static fr_err
load_pseudo_key(vault *v)
{
    char p[600];
    uint8_t *buf = NULL;
    size_t len = 0;
    fr_err rc;

    path_of(v, "pseudonym.sealed", p, sizeof p);
    rc = fr_seal_read(v->key, KIND_PSEUDO, "pseudonym", p, 64, &buf, &len);
    if (rc)
        return rc;
    if (len != 32) {
        fr_crypto_wipe(buf, len);
        free(buf);
        return FR_EPROTO;
    }
    v->pkey = buf;
    return FR_OK;
}

static fr_err
open_lock(vault *v)
{
    char p[600];

    path_of(v, ".lock", p, sizeof p);
    v->lock_fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    return v->lock_fd < 0 ? fr_err_from_errno(errno) : FR_OK;
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
    char p[600];
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
        rc = load_head(v);
    unlock(v);
    if (rc) {
        snprintf(errbuf, errlen, "%s/vault.sealed: %s", dir,
                 seal_problem(rc));
        goto fail;
    }
    if ((rc = load_pseudo_key(v))) {
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
    char p[600];
    fr_err rc;

    path_of(v, "vault.sealed", p, sizeof p);
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
    if (v->lock_fd >= 0)
        close(v->lock_fd);
    free(v);
    *vp = NULL;
}

static fr_err
write_conf(const char *dir, const vault_init_opts *o)
{
    char p[600], text[2048];
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

fr_err
vault_init(const char *dir, const vault_init_opts *o, FILE *allowlist_out,
           char *errbuf, size_t errlen)
{
    vault *v = NULL;
    fr_crypto_keypair *kp = NULL;
    char p[600], hex1[65], hex2[65];
    uint8_t pkey[32];
    struct stat st;
    fr_err rc;

    if (!o->name || !*o->name || strlen(o->name) > NAME_MAX_LEN) {
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
    v = calloc(1, sizeof *v);
    if (!v)
        return FR_ENOMEM;
    v->lock_fd = -1;
    snprintf(v->dir, sizeof v->dir, "%s", dir);
    snprintf(v->name, sizeof v->name, "%s", o->name);
    snprintf(p, sizeof p, "%s/keys/%s", dir, o->name);
    if ((rc = fr_crypto_keypair_generate(&kp)) ||
        (rc = fr_crypto_keypair_save(kp, p, 0)) ||
        (rc = fr_crypto_signkey_generate(&v->id)) ||
        (rc = fr_crypto_signkey_save(v->id, p, 0))) {
        snprintf(errbuf, errlen, "cannot make the store's keys in %s/keys: "
                 "%s", dir, fr_strerror(rc));
        goto out;
    }
    if (o->passphrase) {
        uint8_t salt[FR_SEAL_SALT_BYTES];
        path_of(v, "data.salt", p, sizeof p);
        if (!*o->passphrase) {
            rc = FR_EINVAL;
            snprintf(errbuf, errlen, "the passphrase is empty");
            goto out;
        }
        if ((rc = fr_seal_salt_create_file(p)) ||
            (rc = fr_seal_salt_load(p, salt)) ||
            (rc = fr_seal_key_from_passphrase(o->passphrase,
                                              strlen(o->passphrase), salt,
                                              &v->key))) {
            snprintf(errbuf, errlen, "cannot set up the passphrase key: %s",
                     fr_strerror(rc));
            goto out;
        }
    } else {
        path_of(v, "data.key", p, sizeof p);
        if ((rc = fr_seal_key_create_file(p)) ||
            (rc = fr_seal_key_load_file(p, &v->key))) {
            snprintf(errbuf, errlen, "cannot make the data key %s: %s", p,
                     fr_strerror(rc));
            goto out;
        }
    }
    fr_crypto_random(pkey, sizeof pkey);
    path_of(v, "pseudonym.sealed", p, sizeof p);
    rc = fr_seal_write(v->key, KIND_PSEUDO, "pseudonym", p, pkey,
                       sizeof pkey);
    fr_crypto_wipe(pkey, sizeof pkey);
    if (rc || (rc = open_lock(v)) || (rc = lock(v, 1))) {
        snprintf(errbuf, errlen, "cannot write the store's state in %s: %s",
                 dir, fr_strerror(rc));
        goto out;
    }
    if ((rc = commit(v, "init", "store created"))) {
        snprintf(errbuf, errlen, "cannot write the store's state in %s: %s",
                 dir, fr_strerror(rc));
        goto out;
    }
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

/* ---- consent --------------------------------------------------------------------- */

/* Current consent of pid for p: the latest event wins (ties: the later
 * one in the list). */
static int
consent_of(const vault *v, const uint8_t *pid, vault_purpose p,
           int64_t *since)
{
    int state = 0;
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

static fr_err
index_consents(vault *v)
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

static int
granted(const vault *v, const uint8_t *pid, vault_purpose p)
{
    return bsearch(pid, v->granted[p], v->n_granted[p], VAULT_PID_BYTES,
                   cmp_pid) != NULL;
}

int
vault_consents(const vault *v, const char *pid_hex, vault_purpose p)
{
    uint8_t pid[VAULT_PID_BYTES];

    if (p >= VAULT_PURPOSES || pid_from_hex(pid_hex, pid))
        return 0;
    return granted(v, pid, p);
}

static int
is_forgotten(const vault *v, const uint8_t *pid)
{
    return bsearch(pid, v->fgts, v->n_fgts, sizeof *v->fgts, cmp_pid) != NULL;
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

static const char *const purpose_names[VAULT_PURPOSES] = {"training",
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
    if ((rc = begin(v)))
        return rc;
    pid_of(v, raw_id, pid);
    if (is_forgotten(v, pid)) {
        rollback(v);
        return FR_ESTATE;
    }
    if ((rc = add_event(v, pid, p, granted, when_s))) {
        rollback(v);
        return rc;
    }
    hex_of(pid, hex);
    snprintf(detail, sizeof detail, "member %s %s %s", hex,
             granted ? "grant" : "withdraw", purpose_names[p]);
    return commit(v, "consent", detail);
}

static int
purpose_parse(const char *s, vault_purpose *p)
{
    for (int i = 0; i < VAULT_PURPOSES; i++)
        if (!strcmp(s, purpose_names[i])) {
            *p = (vault_purpose)i;
            return 0;
        }
    return -1;
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
    if ((rc = begin(v))) {
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
        pid_of(v, fields[0], pid);
        fr_crypto_wipe(fields[0], strlen(fields[0]));
        if (is_forgotten(v, pid))
            continue; /* erased members stay erased */
        if ((rc = add_event(v, pid, p, !strcmp(fields[2], "grant"), ts)))
            break;
        added++;
    }
    fr_crypto_wipe(line, sizeof line);
    fclose(f);
    if (rc) {
        rollback(v);
        return rc;
    }
    *n_changes = added;
    snprintf(detail, sizeof detail, "%zu consent changes imported", added);
    return commit(v, "consent_import", detail);
}

/* ---- import, forget, retention ------------------------------------------------------ */

/* Sorts the records and removes exact duplicates; returns how many went. */
static size_t
normalise(vault *v)
{
    size_t m = 0;

    if (!v->n_recs)
        return 0;
    qsort(v->recs, v->n_recs, sizeof *v->recs, cmp_rec);
    for (size_t i = 0; i < v->n_recs; i++)
        if (!m || cmp_rec(&v->recs[m - 1], &v->recs[i]) ||
            v->recs[m - 1].qty != v->recs[i].qty)
            v->recs[m++] = v->recs[i];
    {
        size_t gone = v->n_recs - m;
        v->n_recs = m;
        return gone;
    }
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

static int
has_member(const vault *v, const uint8_t *pid)
{
    size_t lo = 0, hi = v->n_recs;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(v->recs[mid].pid, pid, VAULT_PID_BYTES) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < v->n_recs && !memcmp(v->recs[lo].pid, pid, VAULT_PID_BYTES);
}

fr_err
vault_import(vault *v, const char *csv_path, uint32_t n_items,
             int64_t now_s, vault_import_report *rep, FILE *report_out,
             char *errbuf, size_t errlen)
{
    import_result *in = NULL;
    vault_import_report r = {0};
    char detail[256];
    rec *grown;
    fr_err rc;

    rc = import_parse(csv_path, n_items, now_s, 20, &in, errbuf, errlen);
    if (rc)
        return rc;
    if (report_out) {
        for (size_t i = 0; i < in->n_discarded; i++) {
            int ident = 0;
            for (size_t j = 0; j < in->n_identifiers; j++)
                ident |= !strcmp(in->discarded[i], in->identifiers[j]);
            fprintf(report_out, "discarded column '%s'%s\n", in->discarded[i],
                    ident ? " (a direct identifier: never stored)" : "");
        }
    }
    if ((rc = begin(v))) {
        import_result_destroy(&in);
        return rc;
    }
    grown = realloc(v->recs, (v->n_recs + in->n_rows + 1) * sizeof *grown);
    if (!grown) {
        rollback(v);
        import_result_destroy(&in);
        return FR_ENOMEM;
    }
    v->recs = grown;
    r.rows_read = in->n_rows;
    {
        size_t before = v->n_recs, n_fp = 0, na = 0;
        uint8_t(*fpids)[VAULT_PID_BYTES] = NULL;
        uint8_t(*added)[VAULT_PID_BYTES] =
            malloc((in->n_rows + 1) * sizeof *added);

        if (!added) {
            rollback(v);
            import_result_destroy(&in);
            return FR_ENOMEM;
        }
        for (size_t i = 0; i < in->n_rows; i++) {
            rec *x = &v->recs[v->n_recs];
            pid_of(v, in->rows[i].member_id, x->pid);
            if (is_forgotten(v, x->pid)) {
                int known = 0;
                r.rows_forgotten++;
                for (size_t j = 0; j < n_fp && !known; j++)
                    known = !memcmp(fpids[j], x->pid, VAULT_PID_BYTES);
                if (!known) {
                    void *g = realloc(fpids, (n_fp + 1) * sizeof *fpids);
                    if (g) {
                        fpids = g;
                        memcpy(fpids[n_fp++], x->pid, VAULT_PID_BYTES);
                    }
                }
                continue;
            }
            x->item = in->rows[i].item;
            x->qty = in->rows[i].quantity;
            x->ts = in->rows[i].timestamp;
            memcpy(added[na++], x->pid, VAULT_PID_BYTES);
            v->n_recs++;
        }
        r.members_forgotten = n_fp;
        free(fpids);
        /* New members: among the added rows, pids the old records (still
         * sorted in recs[0..before)) do not hold. */
        qsort(added, na, sizeof *added, cmp_pid);
        {
            size_t all = v->n_recs;
            v->n_recs = before;
            for (size_t i = 0; i < na; i++)
                if ((!i || memcmp(added[i], added[i - 1], VAULT_PID_BYTES)) &&
                    !has_member(v, added[i]))
                    r.members_new++;
            v->n_recs = all;
        }
        free(added);
        r.rows_added = v->n_recs - before;
    }
    r.rows_duplicate = normalise(v);
    r.rows_added -= r.rows_duplicate;
    import_result_destroy(&in);
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
    return commit(v, "import", detail);
}

fr_err
vault_forget(vault *v, const char *raw_id, int64_t now_s)
{
    uint8_t pid[VAULT_PID_BYTES];
    char hex[VAULT_PID_CHARS + 1], detail[128], p[600];
    size_t m = 0, removed, ev = 0;
    fgt *g;
    fr_err rc;

    if ((rc = begin(v)))
        return rc;
    pid_of(v, raw_id, pid);
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
        rollback(v);
        return is_forgotten(v, pid) ? FR_ESTATE : FR_ENOENT;
    }
    if (!is_forgotten(v, pid)) {
        g = realloc(v->fgts, (v->n_fgts + 1) * sizeof *g);
        if (!g) {
            rollback(v);
            return FR_ENOMEM;
        }
        v->fgts = g;
        memcpy(g[v->n_fgts].pid, pid, VAULT_PID_BYTES);
        g[v->n_fgts].ts = now_s;
        v->n_fgts++;
        qsort(v->fgts, v->n_fgts, sizeof *v->fgts, cmp_pid);
    }
    /* Member embeddings are indexed by the member set; erasing one member
     * drops them all, and the next round fits them afresh. */
    path_of(v, "members.sealed", p, sizeof p);
    if (unlink(p) != 0 && errno != ENOENT) {
        rollback(v);
        return FR_ESYS;
    }
    hex_of(pid, hex);
    snprintf(detail, sizeof detail, "member %s erased: %zu interactions, %zu "
             "consent records", hex, removed, ev);
    return commit(v, "erase", detail);
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
    if ((rc = begin(v)))
        return rc;
    gone = purge_before(v, now_s - retention_days * 86400);
    if (!gone) {
        rollback(v);
        return FR_OK;
    }
    *removed = gone;
    snprintf(detail, sizeof detail, "%zu interactions older than %lld days "
             "purged", gone, (long long)retention_days);
    return commit(v, "retention", detail);
}

fr_err
vault_audit(vault *v, const char *event, const char *detail)
{
    fr_err rc = begin(v);

    if (rc)
        return rc;
    return commit_as(v, event, detail, 0);
}

/* ---- reading ---------------------------------------------------------------------------- */

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
            ok = p >= VAULT_PURPOSES || granted(v, r->pid, p);
            hex_of(r->pid, hex);
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

    if ((rc = begin(v)))
        return rc;
    pid_of(v, raw_id, pid);
    hex_of(pid, hex);
    for (size_t i = 0; i < v->n_recs; i++)
        n += !memcmp(v->recs[i].pid, pid, VAULT_PID_BYTES);
    for (size_t i = 0; i < v->n_evts; i++)
        n += !memcmp(v->evts[i].pid, pid, VAULT_PID_BYTES);
    if (!n) {
        rollback(v);
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
        int state = consent_of(v, pid, (vault_purpose)p, &since);
        fprintf(out, "%s\n    \"%s\": {\"granted\": %s, \"history\": [",
                p ? "," : "", purpose_names[p], state ? "true" : "false");
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
    return commit_as(v, "export", detail, 0);
}

/* ---- blobs ---------------------------------------------------------------------------------- */

fr_err
vault_blob_write(const vault *v, const char *name, const void *buf,
                 size_t len)
{
    char p[600];

    snprintf(p, sizeof p, "%s/%s.sealed", v->dir, name);
    return fr_seal_write(v->key, KIND_BLOB, name, p, buf, len);
}

fr_err
vault_blob_read(const vault *v, const char *name, uint8_t **buf_out,
                size_t *len_out)
{
    char p[600];

    snprintf(p, sizeof p, "%s/%s.sealed", v->dir, name);
    return fr_seal_read(v->key, KIND_BLOB, name, p, VAULT_MAX_BYTES, buf_out,
                        len_out);
}

fr_err
vault_audit_verify(const vault *v, uint64_t *n_entries, char *errbuf,
                   size_t errlen)
{
    char p[600];
    uint64_t first_bad = 0;

    struct stat st;

    path_of(v, "audit_head.sealed", p, sizeof p);
    if (stat(p, &st) != 0) {
        snprintf(errbuf, errlen, "the recorded audit head %s is missing: "
                 "the end of the log cannot be checked", p);
        return FR_EPROTO;
    }
    path_of(v, "audit.log", p, sizeof p);
    return fr_audit_verify(p, fr_crypto_signkey_public(v->id), &v->head,
                        n_entries, &first_bad, errbuf, errlen);
}
