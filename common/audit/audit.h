/*
 * audit.h - the audit module: an append-only, hash-chained, signed log and
 * the recorded head that lets its owner notice a cut-off end.
 *
 * What it owns, in a directory DIR given by its owner (a store directory):
 *   DIR/audit.log          the log
 *   DIR/audit_head.sealed  the recorded head: the last entry's (seq, hash),
 *                          sealed (crypto/seal.h, kind 4, label
 *                          "audit-head") under the owner's data key
 *   DIR/audit.lock         an empty file, flock()ed around every append
 *
 * audit.log is a text file, one entry per line:
 *
 *   seq \t unix_ms \t event \t detail \t prev_hash_hex \t sig_hex \n
 *
 * seq counts 1, 2, 3, ...; prev_hash is the previous entry's hash (32 zero
 * bytes for entry 1). An entry's hash is BLAKE2b-256 over "fedrec-audit-v1\n"
 * followed by the line up to and including prev_hash_hex (no trailing tab),
 * and sig is the owner's Ed25519 identity signature of that hash. Numbers
 * are decimal without leading zeros, hex is lowercase.
 *
 * audit_head.sealed holds 40 bytes: u64 seq (little-endian), then the
 * 32-byte hash. A missing file reads as seq 0 (verification by the owner
 * decides whether that is acceptable).
 *
 * The chain makes editing, removing or reordering entries detectable by
 * anyone holding the identity public key. Cutting entries off the end is
 * only detectable against the recorded head, which verification passes as
 * `expect`.
 *
 * LOCKING. fr_audit_trail_append holds an exclusive flock on audit.lock from
 * reading the recorded head to writing the new one, so appends from any
 * number of processes (and handles) form one chain; fr_audit_trail_verify
 * holds it shared. A caller that also has its own lock (the store's
 * DIR/.lock around its member data) takes that one first and audit.lock
 * second, never the other way round; a caller that only records an event
 * takes audit.lock alone. fr_audit_append itself does no locking: it is for
 * callers that serialise appends to the same path themselves.
 *
 * CRASH SAFETY. An entry is written and fsynced before the head is
 * replaced atomically (temp file, fsync, rename, fsync of DIR), so after a
 * crash the log holds at least the recorded head's entry.
 *
 * Details are never member ids: callers pass pseudonyms or counts.
 */
#ifndef FR_AUDIT_AUDIT_H
#define FR_AUDIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/crypto.h"
#include "crypto/seal.h"

#define FR_AUDIT_EVENT_MAX  32
#define FR_AUDIT_DETAIL_MAX 1000
#define FR_AUDIT_HASH_BYTES 32

/* The last entry's number and hash; seq 0 (hash all zero) = empty log. */
typedef struct fr_audit_head {
    uint64_t seq;
    uint8_t hash[FR_AUDIT_HASH_BYTES];
} fr_audit_head;

/*
 * Appends entry head->seq + 1 (stamped with the wall clock, chained to
 * head->hash, signed with id) and fsyncs the file; a file created here is
 * 0600 and its directory is fsynced too. event is [a-z_]{1,32}; detail is
 * printable UTF-8 without tab, CR or LF, at most 1000 bytes (FR_EINVAL
 * otherwise, nothing written). On success *head becomes the new entry's;
 * on failure *head is unchanged and the file is left as it was (a failed
 * write is cut back off).
 */
FR_NODISCARD fr_err fr_audit_append(const char *path,
                                    const fr_crypto_signkey *id,
                                    const char *event, const char *detail,
                                    fr_audit_head *head);

/*
 * Reads the head (last entry) of an existing log without verifying
 * signatures, to continue the chain at start-up. FR_ENOENT if the file is
 * missing, FR_OK with seq 0 if it is empty, FR_EPROTO if the last line is
 * malformed or unterminated. *out is written only on success.
 */
FR_NODISCARD fr_err fr_audit_read_head(const char *path, fr_audit_head *out);

/*
 * Verifies the whole log against the store's identity public key pk: every
 * line well-formed, seq = 1, 2, 3, ... without gaps, each prev_hash equal to
 * the previous entry's hash, each signature valid. If expect is not NULL,
 * the log must also hold entry expect->seq with hash expect->hash, so a
 * truncated end is detected too.
 *
 * FR_OK if all holds. FR_EAUTH for a bad signature, a broken hash link or a
 * hash differing from expect; FR_EPROTO for a malformed line, a gap, a
 * reordering or a truncation; FR_ENOENT (or another I/O code) if the file
 * cannot be read. On any result *n_entries is the number of good entries
 * before the first bad one, *first_bad the seq of the first bad entry (the
 * line number for a malformed line; 0 if none) and why a one-line
 * explanation ("" if none). Any of the three outputs may be NULL.
 */
FR_NODISCARD fr_err fr_audit_verify(const char *path, const uint8_t pk[32],
                                    const fr_audit_head *expect,
                                    uint64_t *n_entries, uint64_t *first_bad,
                                    char *why, size_t whylen);

/* ---- the trail: the log with its recorded head, under audit.lock ---- */

typedef struct fr_audit_trail fr_audit_trail;

typedef struct fr_audit_trail_opts {
    const char *dir;        /* holds audit.log, audit_head.sealed, audit.lock */
    const fr_seal_key *key; /* seals the recorded head; borrowed, must
                             * outlive the trail */
} fr_audit_trail_opts;

/*
 * Opens (creating it 0600 if missing) DIR/audit.lock. FR_EINVAL if the
 * paths do not fit. *out is set only on success and owned by the caller.
 * A trail is used by one thread at a time.
 */
FR_NODISCARD fr_err fr_audit_trail_new(fr_audit_trail **out,
                                       const fr_audit_trail_opts *o);
/* Closes the lock file and frees; accepts NULL; sets *tp to NULL. */
void fr_audit_trail_destroy(fr_audit_trail **tp);

/*
 * Reads the recorded head (seq 0 if audit_head.sealed is missing; errors
 * as fr_seal_read, FR_EPROTO for a wrong size). *out is written only on
 * success.
 */
FR_NODISCARD fr_err fr_audit_trail_head(const fr_audit_trail *t,
                                        fr_audit_head *out);

/*
 * The one way to record an event: under audit.lock (exclusive), reads the
 * recorded head, appends the entry chained to it and signed with id
 * (fr_audit_append), then calls then(ctx) if then is not NULL (the owner's
 * own write that belongs to the event, e.g. its member data), and records
 * the new head. The entry stays in the log if then fails, so the head is
 * recorded anyway (the chain goes on from it); the result is then's error.
 * On success *head_out (may be NULL) is the new head. Errors of reading the
 * head or appending leave log and head as they were, then is not called.
 * If only recording the head fails (a full disk), the entry and then's
 * write stand and the result is FR_OK (with a warning): the next append
 * chains to the log's last entry, which is ahead of the recorded head, and
 * records the head then.
 */
FR_NODISCARD fr_err fr_audit_trail_append(fr_audit_trail *t,
                                          const fr_crypto_signkey *id,
                                          const char *event,
                                          const char *detail,
                                          fr_err (*then)(void *ctx),
                                          void *ctx, fr_audit_head *head_out);

/*
 * Verifies audit.log with fr_audit_verify against the identity public key
 * pk and the recorded head, under audit.lock (shared). Outputs as
 * fr_audit_verify; if the recorded head cannot be read, its error, with why
 * naming the file.
 */
FR_NODISCARD fr_err fr_audit_trail_verify(const fr_audit_trail *t,
                                          const uint8_t pk[32],
                                          uint64_t *n_entries,
                                          uint64_t *first_bad, char *why,
                                          size_t whylen);

#endif
