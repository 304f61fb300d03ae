/*
 * vault_int.h - what the store's files share behind vault.h: the vault
 * struct, its records, and the change cycle.
 *
 * The store is one object split by concern over
 *   vault.c      the sealed store: open, init, lock, sync, commit, blobs
 *   pseudonym.c  member-id pseudonyms and their key
 *   consent.c    consent per member and purpose
 *   erasure.c    erasure (forget) and retention
 *   records.c    interactions: import, reading, the member's export
 * Only these files include this header.
 *
 * A change runs as
 *     if ((rc = vault_begin(v))) return rc;   exclusive lock, fresh state
 *     ... edit v->recs / v->evts / v->fgts ...
 *     on failure: vault_rollback(v); return rc;   (then the state in memory
 *                 may be half-edited: the next vault_begin re-reads it)
 *     return vault_commit(v, event, detail);      audit entry, save, unlock
 * vault_commit_as(v, event, detail, 0) records an audit entry for a read
 * made under the lock (an export) without rewriting the member data.
 */
#ifndef FR_CLIENT_VAULT_INT_H
#define FR_CLIENT_VAULT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "audit/audit.h"
#include "crypto/seal.h"
#include "vault.h"

/* Kinds of sealed file (crypto/seal.h); the audit module seals the
 * recorded audit head as kind 4. */
#define KIND_VAULT         1
#define KIND_PSEUDO        2
#define KIND_BLOB          3
#define VAULT_MAX_BYTES    ((size_t)1 << 31)
#define VAULT_NAME_MAX_LEN 63
#define VAULT_PATH_MAX     600

#define VAULT_SKU_MAX FR_CATALOGUE_SKU_MAX /* bytes, no terminator */

/* One interaction row: the SKU by its index in v->skus, the signed
 * quantity in thousandths (int64: a v1 quantity, up to 2^32 - 1, times 1000
 * needs more than 32 bits; sums saturate). */
typedef struct rec {
    uint8_t pid[VAULT_PID_BYTES];
    uint32_t sku;
    int64_t qty;
    int64_t ts;
} rec;

/* A SKU of the table: len bytes of s, NUL-terminated. The table is kept
 * sorted by bytes (shorter first on a common prefix) without repeats, and
 * every SKU in it is used by some row once a change is committed. */
typedef struct vault_sku {
    uint8_t len;
    char s[VAULT_SKU_MAX + 1];
} vault_sku;

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
    char name[VAULT_NAME_MAX_LEN + 1];
    fr_seal_key *key;
    fr_crypto_signkey *id;
    uint8_t *pkey; /* pseudonym key, wiped with fr_crypto_wipe */
    uint64_t changes;
    fr_audit_trail *trail; /* audit.log and its recorded head */
    vault_member_policy policy;
    vault_sku *skus;
    size_t n_skus;
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

/* ---- vault.c: paths and the change cycle ---- */

/* DIR/rel into out (n bytes). */
void vault_path(const vault *v, const char *rel, char *out, size_t n);
/* memcmp order of two pids, for qsort and bsearch. */
int vault_cmp_pid(const void *a, const void *b);

/* Exclusive lock, then the state on disk (re-read only if it changed).
 * On failure nothing is held. */
FR_NODISCARD fr_err vault_begin(vault *v);
/* Ends a change: the audit entry, then the member data (if data) and the
 * audit head, under audit.lock (fr_audit_trail_append); always unlocks. */
FR_NODISCARD fr_err vault_commit_as(vault *v, const char *event,
                                    const char *detail, int data);
/* vault_commit_as(v, event, detail, 1). */
FR_NODISCARD fr_err vault_commit(vault *v, const char *event,
                                 const char *detail);
/* Gives up a change: unlocks. */
void vault_rollback(vault *v);
/* Gives up a change and puts the state on disk back in memory before
 * unlocking, so v reads as if the change never started. */
FR_NODISCARD fr_err vault_rollback_reload(vault *v);

/* The plaintext of vault.sealed (formats 1 and 2) from v's state, and
 * back. vault_decode replaces v's name, change count, SKU table, rows,
 * consent events and erasures only when all of b is well-formed (FR_EPROTO
 * otherwise, v unchanged); it does not rebuild the consent index
 * (vault_index_consents). */
FR_NODISCARD fr_err vault_encode(const vault *v, uint8_t **buf_out,
                                 size_t *len_out);
FR_NODISCARD fr_err vault_decode(vault *v, const uint8_t *b, size_t len);
/* ---- records.c: the SKU table and the order of the rows ---- */

/* memcmp order of two SKUs, shorter first on a common prefix. */
int vault_cmp_sku(const vault_sku *a, const vault_sku *b);
/* Drops SKUs no row uses, sorts the table and renumbers the rows'
 * indices. Keeps the rows' order valid when the table was sorted. */
FR_NODISCARD fr_err vault_skus_tidy(vault *v);
/* Sorts the rows by (pid, time, SKU, quantity) and removes exact
 * duplicates; returns how many went. Needs a sorted table. */
size_t vault_recs_normalise(vault *v);

/* ---- pseudonym.c ---- */

/* The pseudonym of raw (NUL-terminated) as bytes. */
void vault_pid_of(const vault *v, const char *raw,
                  uint8_t pid[VAULT_PID_BYTES]);
/* Lowercase hex of a pid. */
void vault_pid_hex(const uint8_t pid[VAULT_PID_BYTES],
                   char out[VAULT_PID_CHARS + 1]);
/* Parses exactly VAULT_PID_CHARS lowercase hex characters; FR_EINVAL
 * otherwise (pid then unspecified). */
FR_NODISCARD fr_err vault_pid_from_hex(const char *hex,
                                       uint8_t pid[VAULT_PID_BYTES]);
/* Loads pseudonym.sealed into v->pkey. */
FR_NODISCARD fr_err vault_pseudo_key_load(vault *v);
/* Makes a fresh pseudonym key and writes pseudonym.sealed. */
FR_NODISCARD fr_err vault_pseudo_key_create(const vault *v);

/* ---- consent.c ---- */

extern const char *const vault_purpose_names[VAULT_PURPOSES];

/* Rebuilds v->granted from v->evts. */
FR_NODISCARD fr_err vault_index_consents(vault *v);
/* True if pid currently consents to p (from the index). */
bool vault_granted(const vault *v, const uint8_t *pid, vault_purpose p);
/* Current consent of pid for p from the events, and since when. */
bool vault_consent_of(const vault *v, const uint8_t *pid, vault_purpose p,
                      int64_t *since);

/* ---- erasure.c ---- */

/* True if pid was erased (v->fgts is sorted). */
bool vault_is_forgotten(const vault *v, const uint8_t *pid);

#endif
