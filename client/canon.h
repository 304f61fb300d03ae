/*
 * canon.h - member-id canonicalisation, a store policy applied before
 * pseudonymisation at every door (import, consent, export, forget,
 * recommend/score), and a counter of the ids it merged in one import.
 *
 * Steps, in order, each switched by a store.conf key:
 *   member_id_trim yes|no           drop leading and trailing spaces, tabs,
 *                                   CR, LF, VT and FF
 *   member_id_numeric yes|no        digits, '.', then only zeros ("17850.0",
 *                                   "17850.00") -> the digits ("17850");
 *                                   anything else is left alone
 *   member_id_leading_zeros keep|strip
 *                                   strip: an id of digits only loses its
 *                                   leading zeros, but "0" (or "000") stays
 *                                   "0"; ids with other characters keep them
 *   member_id_case keep|upper|lower ASCII letters only; other bytes (UTF-8)
 *                                   are kept as they are
 * A store.conf without the keys keeps the behaviour stores had before the
 * keys existed: trim only (canon_legacy), so its pseudonyms stay.
 * `fedrec-client init` writes canon_recommended: trim yes, numeric
 * yes, zeros keep, case keep.
 */
#ifndef FR_CLIENT_CANON_H
#define FR_CLIENT_CANON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "config/config.h"

#define CANON_WORD_MAX 8 /* "keep", "upper", "lower", "strip" and a NUL */

typedef enum canon_case {
    CANON_CASE_KEEP,
    CANON_CASE_UPPER,
    CANON_CASE_LOWER,
} canon_case;

typedef struct canon_policy {
    int trim;
    int numeric;
    int strip_zeros;
    canon_case id_case;
} canon_policy;

/* trim only: stores made before the policy keys */
extern const canon_policy canon_legacy;
/* what `init` writes: trim yes, numeric yes, zeros keep, case keep */
extern const canon_policy canon_recommended;

/*
 * Canonicalises raw[0..len) (no NUL needed) into out (outlen bytes, always
 * terminated on FR_OK). The result is never longer than the input; it may be
 * empty (the caller treats an empty id as no id). FR_ELIMIT when it does not
 * fit in outlen.
 */
FR_NODISCARD fr_err canon_apply(const canon_policy *p, const char *raw,
                                size_t len, char *out, size_t outlen);

/* ---- the policy in store.conf ------------------------------------------ */

/*
 * The keys' rows for a config table over a struct S with the fields
 *   int member_id_trim;  char member_id_case[CANON_WORD_MAX];
 *   int member_id_numeric;  char member_id_leading_zeros[CANON_WORD_MAX];
 * used as `CANON_CONFIG_KEYS(S)` inside the table's initialiser. The
 * defaults are the legacy policy, so a file without the keys keeps it.
 */
#define CANON_CONFIG_KEYS(S)                                                   \
    FR_CFG_BOOL_(S, member_id_trim, "yes",                                     \
                 "drop spaces and tabs around member ids before "              \
                 "pseudonymising them"),                                       \
        FR_CFG_STRING_(S, member_id_case, "keep",                              \
                       "keep, upper or lower: ASCII letters of member ids"),   \
        FR_CFG_BOOL_(S, member_id_numeric, "no",                               \
                     "read a member id of digits with an all-zero fraction "   \
                     "as the digits (17850.0 is 17850); init writes yes"),     \
        FR_CFG_STRING_(S, member_id_leading_zeros, "keep",                     \
                       "keep or strip the leading zeros of all-digit member "  \
                       "ids")

/* Checks the key values (case and zeros words) and fills *p. FR_EINVAL with
 * a message naming the key otherwise; *p unchanged then. */
FR_NODISCARD fr_err canon_policy_from_config(int trim, const char *id_case,
                                             int numeric, const char *zeros,
                                             canon_policy *p, char *errbuf,
                                             size_t errlen);

/* Writes the four "key value" lines of p, for store.conf. */
void canon_policy_write(const canon_policy *p, FILE *out);

/* ---- counting what the policy did to one file ------------------------ */

/*
 * Counts, over the rows of one import, the rows whose canonical id differs
 * from their raw spelling, and the canonical ids seen under two or more raw
 * spellings. Holds only keyed BLAKE2b hashes (a random key per counter) of
 * canonical ids and raw spellings, one entry per distinct canonical id, so
 * memory follows the number of distinct ids; wiped when destroyed.
 */
typedef struct canon_count canon_count;

FR_NODISCARD fr_err canon_count_new(canon_count **out);
/* Adds one row: raw[0..raw_len) as the file spells it, canonical its form.
 * FR_ENOMEM when the table cannot grow (the caller fails the import). */
FR_NODISCARD fr_err canon_count_add(canon_count *c, const char *raw,
                                    size_t raw_len, const char *canonical);
uint64_t canon_count_rewritten(const canon_count *c); /* 0 for NULL */
uint64_t canon_count_merged(const canon_count *c);    /* 0 for NULL */
/* Wipes and frees; accepts NULL and *cp == NULL. */
void canon_count_destroy(canon_count **cp);

#endif
