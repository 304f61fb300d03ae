/*
 * audit.h - the audit module: an append-only, hash-chained, signed log.
 *
 * The log is a text file (a store's audit.log), one entry per line:
 *
 *   seq \t unix_ms \t event \t detail \t prev_hash_hex \t sig_hex \n
 *
 * seq counts 1, 2, 3, ...; prev_hash is the previous entry's hash (32 zero
 * bytes for entry 1). An entry's hash is BLAKE2b-256 over "fedrec-audit-v1\n"
 * followed by the line up to and including prev_hash_hex (no trailing tab),
 * and sig is the store's Ed25519 identity signature of that hash. Numbers
 * are decimal without leading zeros, hex is lowercase.
 *
 * The chain makes editing, removing or reordering entries detectable by
 * anyone holding the store's identity public key. Cutting entries off the
 * end is only detectable against a head recorded elsewhere (its owner keeps
 * the last (seq, hash) sealed and passes it as `expect`).
 *
 * Details are never member ids: callers pass pseudonyms or counts.
 * One writer per file: callers serialise appends to the same path.
 */
#ifndef FR_AUDIT_AUDIT_H
#define FR_AUDIT_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/crypto.h"

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

#endif
