/*
 * vault.h - a store's protected member data: the store directory.
 *
 * Layout of DIR (made by vault_init, `fedrec-client init --store DIR`):
 *   store.conf          the store's configuration (no secrets, no member data)
 *   keys/NAME.key       CURVE secret key (0600)      keys/NAME.pub
 *   keys/NAME.sign.key  Ed25519 identity key (0600)  keys/NAME.sign.pub
 *   data.key            the data key (0600), unless the store uses a
 *                       passphrase: then data.salt, and the key comes from
 *                       the passphrase through Argon2id
 *   vault.sealed        interactions, consents, erased members: one sealed
 *                       file, replaced atomically, so every change is
 *                       all-or-nothing and survives a crash
 *   pseudonym.sealed    the key of the member-id pseudonyms
 *   members.sealed      member embeddings     model.sealed  the global model
 *   audit.log           the signed, hash-chained audit trail, and
 *   audit_head.sealed   its recorded last entry (common/audit/audit.h)
 *   .lock, audit.lock   lock files: member data, audit appends
 * Sealed files are XChaCha20-Poly1305 under keys derived from the data key
 * (crypto/seal.h); a changed byte anywhere is refused.
 *
 * Member ids: a raw member id exists only in the process that was handed it
 * (an import, a --member argument) and is replaced at once by its pseudonym,
 * BLAKE2b-128 keyed with the store's pseudonym key. Nothing the vault writes
 * holds a raw id.
 *
 * Consent: per member and purpose (training, marketing), opt-in: no record
 * means no consent. Every change is kept with its time.
 */
#ifndef FR_CLIENT_VAULT_H
#define FR_CLIENT_VAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "crypto/crypto.h"

#define VAULT_PID_BYTES 16
#define VAULT_PID_CHARS 32

typedef enum vault_purpose {
    VAULT_TRAINING = 0,
    VAULT_MARKETING = 1,
    VAULT_PURPOSES
} vault_purpose;

typedef struct vault vault;

/* How to unlock a store: a passphrase (non-NULL) or the data.key file. */
typedef struct vault_unlock {
    const char *passphrase;
} vault_unlock;

typedef struct vault_init_opts {
    const char *name;          /* store name (allow-list name), required */
    const char *connect;       /* aggregator endpoint, for store.conf */
    const char *server_key;    /* aggregator public key file, may be "" */
    int64_t n_items;
    int64_t retention_days;    /* 0: kept until erased */
    const char *passphrase;    /* non-NULL: passphrase mode */
} vault_init_opts;

/* Creates DIR (0700) with keys, data key (or salt), an empty vault and the
 * first audit entry. FR_ESTATE if DIR already holds a store. Prints the
 * allow-list line for the aggregator to allowlist_out (may be NULL). */
FR_NODISCARD fr_err vault_init(const char *dir, const vault_init_opts *o,
                               FILE *allowlist_out, char *errbuf,
                               size_t errlen);

/* Opens the store in DIR. Refuses (with a message in errbuf) key files
 * readable by others, a wrong passphrase, and any sealed file that fails
 * authentication. */
FR_NODISCARD fr_err vault_open(const char *dir, const vault_unlock *u,
                               vault **out, char *errbuf, size_t errlen);
void vault_close(vault **vp);

/* Re-reads the sealed state if the file changed since this process last
 * read it (another command may have written it); *changed says whether. */
FR_NODISCARD fr_err vault_reload(vault *v, int *changed);

const char *vault_dir(const vault *v);
const char *vault_name(const vault *v);
const fr_crypto_signkey *vault_identity(const vault *v);

/* The pseudonym of a raw member id, as hex (what the dataset and the
 * serving commands use) and as bytes. */
void vault_pseudonym(const vault *v, const char *raw_id,
                     char out[VAULT_PID_CHARS + 1]);

/* ---- changes (each is audited and saved atomically before returning) ---- */

typedef struct vault_import_report {
    size_t rows_read, rows_added, rows_duplicate;
    size_t rows_forgotten;    /* rows of erased members, not imported */
    size_t members_forgotten; /* how many erased members they belong to */
    size_t rows_expired;      /* older than the retention period */
    size_t members_new;
} vault_import_report;

/* Imports a CSV export through the minimising parser (importer.h). All or
 * nothing: on any error nothing changes, and errbuf lists the bad lines. */
FR_NODISCARD fr_err vault_import(vault *v, const char *csv_path,
                                 uint32_t n_items, int64_t now_s,
                                 vault_import_report *rep, FILE *report_out,
                                 char *errbuf, size_t errlen);

FR_NODISCARD fr_err vault_consent_set(vault *v, const char *raw_id,
                                      vault_purpose p, int granted,
                                      int64_t when_s);

/* CSV "member_id,purpose,action[,timestamp]" with action grant|withdraw;
 * all or nothing. */
FR_NODISCARD fr_err vault_consent_import(vault *v, const char *csv_path,
                                         int64_t now_s, size_t *n_changes,
                                         char *errbuf, size_t errlen);

/* Removes the member's interactions, consents and embedding, and keeps the
 * member out of later imports (which report the rows they skip).
 * FR_ENOENT if the store holds nothing about the member. */
FR_NODISCARD fr_err vault_forget(vault *v, const char *raw_id,
                                 int64_t now_s);

/* Drops interactions older than retention_days (no-op when 0). */
FR_NODISCARD fr_err vault_purge(vault *v, int64_t now_s,
                                int64_t retention_days, size_t *removed);

/* Appends an audit entry (no raw member ids in detail) without touching the
 * member data: only audit.lock is taken, and only audit.log and
 * audit_head.sealed are written. For events that change nothing else
 * (rounds); safe while other processes change the store. */
FR_NODISCARD fr_err vault_audit(vault *v, const char *event,
                                const char *detail);

/* ---- reading ---- */

/* True if the pseudonymous member currently consents to purpose p. */
bool vault_consents(const vault *v, const char *pid_hex, vault_purpose p);

/* Calls fn for every interaction of members consenting to purpose p (or of
 * all members if p is VAULT_PURPOSES), member as pseudonym hex. */
FR_NODISCARD fr_err vault_each(const vault *v, vault_purpose p,
                               fr_err (*fn)(void *ctx, const char *pid,
                                            uint32_t item, int64_t ts),
                               void *ctx);

/* Prints, as JSON, everything held about the member: interactions,
 * consents with their history, whether an embedding exists (has_embedding
 * is the caller's knowledge, -1 if unknown). FR_ENOENT if nothing. */
FR_NODISCARD fr_err vault_export_member(vault *v, const char *raw_id,
                                        int has_embedding, FILE *out);

/* ---- sealed blobs (member embeddings, model) ---- */
FR_NODISCARD fr_err vault_blob_write(const vault *v, const char *name,
                                     const void *buf, size_t len);
FR_NODISCARD fr_err vault_blob_read(const vault *v, const char *name,
                                    uint8_t **buf_out, size_t *len_out);

/* Verifies the audit trail against the store's identity key and recorded
 * head; FR_OK or an error with the first bad entry named in errbuf. */
FR_NODISCARD fr_err vault_audit_verify(const vault *v, uint64_t *n_entries,
                                       char *errbuf, size_t errlen);

#endif
