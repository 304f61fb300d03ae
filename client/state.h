/*
 * state.h - where a store client's data and state live.
 *
 * Two back ends behind one interface:
 *  - the protected store (`store` set: the vault in DIR, vault.h): member
 *    data, consent, embeddings and the model sealed at rest, member ids
 *    pseudonymised, every change audited. Training sees only members who
 *    consented to training; recommend and segment serve only members who
 *    consented to marketing.
 *  - benchmark mode (`data` + `state_dir`): a plain CSV export read at start
 *    and unsealed state files. It exists for public benchmark data only
 *    (make bench-quality); it has no consent, and member ids stay as given.
 */
#ifndef FR_CLIENT_STATE_H
#define FR_CLIENT_STATE_H

#include <stdbool.h>

#include "base/err.h"
#include "catalogue/catalogue.h"
#include "client.h"
#include "crypto/crypto.h"
#include "model/mf.h"
#include "model/model.h"
#include "store.h"

typedef struct cstate cstate;

/* Opens the store (vault) or the benchmark files; logs what went wrong. */
FR_NODISCARD fr_err cstate_open(const client_config *cfg, cstate **out);
void cstate_close(cstate **csp);

bool cstate_is_vault(const cstate *cs);
/* The training data (consenting members only, in a vault). Borrowed; a
 * refresh may replace it. */
store_data *cstate_data(const cstate *cs);
/* The identity key of a vault, or NULL. Borrowed. */
const fr_crypto_signkey *cstate_identity(const cstate *cs);

/* Maps a member id typed by an operator to the id the data uses (its
 * pseudonym in a vault). out needs STORE_MEMBER_ID_MAX bytes. */
void cstate_member_key(const cstate *cs, const char *raw, char *out);
/* True if the member (internal id) may be served for marketing. */
bool cstate_marketing_ok(const cstate *cs, const char *internal_id);

FR_NODISCARD fr_err cstate_load_model(const cstate *cs, fr_model **out);
FR_NODISCARD fr_err cstate_save_model(const cstate *cs, const fr_model *m);
/* FR_ENOENT if none saved or saved for another member set. */
FR_NODISCARD fr_err cstate_load_members(const cstate *cs, fr_mf *mf);
FR_NODISCARD fr_err cstate_save_members(const cstate *cs, const fr_mf *mf);

/* Before a round: re-reads the vault (consent may have changed through
 * another command), purges interactions past retention_days, and rebuilds
 * the training data if it changed (*changed = 1; the old store_data is
 * freed, so drop anything built on it first). No-op in benchmark mode. */
FR_NODISCARD fr_err cstate_refresh(cstate *cs, int *changed);

/* The catalogue the store's SKUs map through from the next refresh on
 * (NULL: the legacy rule, a decimal SKU in [0, n_items) is that item).
 * Borrowed: cat must outlive its use here (until the next call). At open a
 * store's own catalogue file, if any, is the mapping. */
void cstate_set_catalogue(cstate *cs, const fr_catalogue *cat);
/* The mapping in force (NULL: the legacy rule). */
const fr_catalogue *cstate_catalogue(const cstate *cs);

/* Appends an audit entry in a vault (no-op in benchmark mode) through
 * vault_audit: the member data is not locked, re-read or rewritten, so a
 * round event never waits on or disturbs a consent or erase command. A
 * failure is logged at warn and otherwise ignored. */
void cstate_audit(cstate *cs, const char *event, const char *detail);

#endif
