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
 * Member-id policy: before hashing, every door (import, consent, export,
 * forget, pseudonym, recommend/score) rewrites the raw id by the store's
 * policy (vault_member_policy), so one member spelt "17850.0" in one
 * export and "17850" in another has one pseudonym.
 *
 * Consent: per member and purpose (training, marketing), opt-in: no record
 * means no consent. Every change is kept with its time.
 *
 * Interactions: each row keeps the item as the export names it (its SKU)
 * and a signed quantity in thousandths (returns are negative). Training
 * sees, per member, the items whose quantities sum to more than zero
 * (vault_each); an item index comes from the catalogue, or without one from
 * the legacy rule: a SKU that is a decimal integer in [0, n_items) is that
 * index. Rows whose SKU the mapping does not know stay in the vault (a
 * later catalogue may list them) and are counted (vault_count_outside).
 */
#ifndef FR_CLIENT_VAULT_H
#define FR_CLIENT_VAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "canon.h"
#include "catalogue/catalogue.h"
#include "crypto/crypto.h"

#define VAULT_PID_BYTES 16
#define VAULT_PID_CHARS 32

typedef enum vault_purpose {
    VAULT_TRAINING = 0,
    VAULT_MARKETING = 1,
    VAULT_PURPOSES
} vault_purpose;

typedef struct vault vault;

/* The member-id policy (store.conf member_id_*) is canon.h's canon_policy:
 * trim, case, numeric text ("17850.0" -> "17850"), leading zeros. The
 * legacy policy (a store.conf without the keys): trim only. */
typedef canon_policy vault_member_policy;
#define vault_policy_legacy canon_legacy
#define vault_policy_recommended canon_recommended

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
    /* written into store.conf; NULL: vault_policy_recommended */
    const vault_member_policy *policy;
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

/* Sets the member-id policy for every later door of v (vault_open starts
 * with vault_policy_legacy). */
void vault_set_member_policy(vault *v, const vault_member_policy *p);

/* Re-reads the sealed state if the file changed since this process last
 * read it (another command may have written it); *changed says whether. */
FR_NODISCARD fr_err vault_reload(vault *v, int *changed);

const char *vault_dir(const vault *v);
const char *vault_name(const vault *v);
const fr_crypto_signkey *vault_identity(const vault *v);

/* The pseudonym of a raw member id (after the member-id policy), as hex
 * (what the dataset and the serving commands use). */
void vault_pseudonym(const vault *v, const char *raw_id,
                     char out[VAULT_PID_CHARS + 1]);

/* ---- changes (each is audited and saved atomically before returning) ---- */

typedef struct vault_import_report {
    size_t rows_read, rows_added, rows_duplicate;
    size_t rows_return;       /* of rows_read: returns (quantity < 0) */
    size_t rows_forgotten;    /* rows of erased members, not imported */
    size_t members_forgotten; /* how many erased members they belong to */
    size_t rows_expired;      /* older than the retention period */
    size_t members_new;
    /* In the store after this import (all members): (member, SKU) pairs
     * whose quantities sum to <= 0 (not a positive), and the rows and
     * distinct SKUs the import's mapping does not know (kept, not trained). */
    size_t pairs_fully_returned;
    size_t rows_outside_catalogue, skus_outside_catalogue;
} vault_import_report;

typedef struct vault_import_opts {
    const char *profile;           /* NULL or "fedrec" (the only one yet) */
    const fr_catalogue *catalogue; /* NULL: the legacy rule with n_items */
    uint32_t n_items;
    int64_t now_s;
    bool dry_run; /* everything but writing: vault.sealed and the audit
                   * trail stay as they were */
} vault_import_opts;

/* Imports a CSV export through the minimising parser (importer.h). All or
 * nothing: on any error nothing changes, and errbuf lists the bad lines.
 * report_out (may be NULL) gets the discarded columns and notes; a dry run
 * first prints "dry run: nothing written". An unknown profile is FR_EINVAL
 * ("unknown profile"). */
FR_NODISCARD fr_err vault_import(vault *v, const char *csv_path,
                                 const vault_import_opts *o,
                                 vault_import_report *rep, FILE *report_out,
                                 char *errbuf, size_t errlen);

/* The import summary: the line "imported A of R rows (D duplicates, N new
 * members)", then one "NAME: COUNT" line per field of r, in the order of
 * the struct, NAME being the field's name. */
void vault_import_report_print(const vault_import_report *r, FILE *out);

FR_NODISCARD fr_err vault_consent_set(vault *v, const char *raw_id,
                                      vault_purpose p, int granted,
                                      int64_t when_s);

/* A consent file: CSV records (RFC 4180, client/csv.h) of exactly 3 or 4
 * fields "member_id,training|marketing,grant|withdraw[,unix time]", an
 * optional member_id header; all or nothing: the first bad record refuses
 * the file with "FILE:LINE: reason" in errbuf (never the member id). */
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

/* Calls fn once for every (member, item) pair with a net-positive quantity
 * (purchases plus returns of the SKUs mapped to the item) of members
 * consenting to purpose p (or of all members if p is VAULT_PURPOSES),
 * member as pseudonym hex, with the time of the pair's latest purchase.
 * Members come in pseudonym order. Item indices come from cat, or when cat
 * is NULL from the legacy rule with n_items; rows outside are skipped (and
 * stay). The dataset keeps one interaction per (member, item) at its latest
 * time (model/data.h), so without returns it is the same as from every
 * row. */
FR_NODISCARD fr_err vault_each(const vault *v, vault_purpose p,
                               const fr_catalogue *cat, uint32_t n_items,
                               fr_err (*fn)(void *ctx, const char *pid,
                                            uint32_t item, int64_t ts),
                               void *ctx);

/* Over all rows of the vault: how many rows, and how many distinct SKUs,
 * the mapping (cat, or the legacy rule with n_items) does not know. */
FR_NODISCARD fr_err vault_count_outside(const vault *v,
                                        const fr_catalogue *cat,
                                        uint32_t n_items, size_t *rows,
                                        size_t *skus);

/* Prints, as JSON, everything held about the member: interactions (sku,
 * item_id when the SKU is a decimal integer, timestamp, quantity with
 * returns negative), consents with their history, whether an embedding
 * exists (has_embedding is the caller's knowledge, -1 if unknown).
 * FR_ENOENT if nothing. */
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
