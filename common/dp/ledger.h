/*
 * ledger.h - the persistent, append-only privacy-budget ledger.
 *
 * DESIGN. Each store keeps one (it is authoritative for its members) and
 * the aggregator keeps a mirror for planning and for /metrics. A round's
 * privacy cost (its RDP curve on a fixed order grid) is charged BEFORE any
 * noised vector may leave: fr_dp_ledger_reserve appends a RESERVED record
 * and fsyncs it, and refuses (FR_ELIMIT, nothing written) when the
 * composed cost would exceed the budget. A reservation is never released:
 * once reserved, a round stays charged whether it completed, aborted or
 * crashed (DP.md 5.4: only a round certain to have sent nothing could be
 * refunded, and a crash leaves no certainty). Composition adds the RDP
 * curves per order; epsilon is always recomputed from the sum.
 *
 * File: text lines, each ending in " #CRC" (CRC-32 of the line before it,
 * 8 hex digits):
 *   fedrec-dp-ledger 1 delta=D budget=E orders=N a1 a2 ... aN #CRC
 *   R ROUND_ID HASH_HEX UNIX_MS r1 ... rN #CRC      reserved (charged)
 *   C ROUND_ID UNIX_MS #CRC                          committed
 * Numbers are printed with 17 significant digits and read back exactly.
 * A torn last line (a crash during an append, before its fsync returned)
 * is cut off at open: that reservation never completed, so its round sent
 * nothing. A damaged line anywhere else is an error: the ledger is refused,
 * never guessed at.
 *
 * Policy: delta and the order grid are fixed when the ledger is created;
 * opening it with another delta or grid, or a larger budget, is refused
 * (raising a budget is a decision for people, recorded by starting a new
 * ledger on new, disjoint member data). A smaller budget is allowed.
 */
#ifndef FR_DP_LEDGER_H
#define FR_DP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"
#include "accountant.h"
#include "setup.h"

typedef struct fr_dp_ledger fr_dp_ledger;

/* Opens or creates the ledger at path (0600). err gets the reason of any
 * failure (damaged line, policy mismatch). */
FR_NODISCARD fr_err fr_dp_ledger_open(fr_dp_ledger **out, const char *path,
                                      const fr_dp_orders *orders, double delta,
                                      double eps_budget, char *err,
                                      size_t errlen);
void fr_dp_ledger_close(fr_dp_ledger **lp);

/* Epsilon (at the ledger's delta) of everything charged, plus rdp_round if
 * not NULL (a prospective round). */
FR_NODISCARD fr_err fr_dp_ledger_epsilon(const fr_dp_ledger *l,
                                         const double *rdp_round,
                                         double *eps_out);

/* Charges a round: FR_ELIMIT if the prospective epsilon exceeds the budget
 * (nothing written); FR_OK once the record is on disk (fsync). A round id
 * already charged with the same hash is FR_OK without a second charge (a
 * replayed or re-sent round start); with another hash FR_EINVAL. */
FR_NODISCARD fr_err fr_dp_ledger_reserve(fr_dp_ledger *l, uint64_t round_id,
                                         const uint8_t hash[32],
                                         const double *rdp_round);
/* Marks a charged round as completed (for the audit; the charge stays).
 * FR_ENOENT if the round was never reserved. */
FR_NODISCARD fr_err fr_dp_ledger_commit(fr_dp_ledger *l, uint64_t round_id);

/* Why the last reserve or commit that returned FR_ESYS failed ("write: No
 * space left on device"); a failed append leaves no partial record. */
const char *fr_dp_ledger_last_error(const fr_dp_ledger *l);

size_t fr_dp_ledger_rounds(const fr_dp_ledger *l);
double fr_dp_ledger_budget(const fr_dp_ledger *l);
double fr_dp_ledger_delta(const fr_dp_ledger *l);
/* Non-zero if round_id is charged. */
int fr_dp_ledger_has(const fr_dp_ledger *l, uint64_t round_id);

/* The hash a ledger record carries: BLAKE2b-256 over the round id and
 * every field of the round's public DP parameters. */
void fr_dp_round_hash(const fr_dp_setup *d, uint64_t round_id, uint8_t out[32]);

#endif
