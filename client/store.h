/*
 * store.h - a store's member data as the client holds it in memory.
 *
 * Reads a point-of-sale export (CSV with a header) keeping only member_id,
 * item_id and timestamp; every other column is ignored and counted. Member
 * ids are mapped to dense local indices; they stay in this process and are
 * never logged or sent. Loading is all-or-nothing: the first bad row stops it
 * with "FILE:LINE: what is wrong" and nothing is returned.
 */
#ifndef FR_CLIENT_STORE_H
#define FR_CLIENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/data.h"

typedef struct store_data store_data;

#define STORE_MEMBER_ID_MAX 64
#define STORE_MAX_LINE 4096

/* Loads path. n_items bounds item ids; timestamps later than now + one day
 * are refused. errbuf gets a one-line reason on failure. */
FR_NODISCARD fr_err store_data_load(const char *path, uint32_t n_items,
                                    store_data **out, char *errbuf,
                                    size_t errlen);
void store_data_destroy(store_data **sp);

/* Building store data from another source (the store's vault): new, then
 * add each (member id, item, timestamp), then finish once. An empty store
 * is allowed here (a store whose members have not consented yet). */
FR_NODISCARD fr_err store_data_new(uint32_t n_items, store_data **out);
FR_NODISCARD fr_err store_data_add(store_data *s, const char *member_id,
                                   uint32_t item, int64_t timestamp);
FR_NODISCARD fr_err store_data_finish(store_data *s);

/* The interactions, finalized. Borrowed. */
const fr_dataset *store_data_dataset(const store_data *s);

/* Columns the loader ignored (e.g. names, e-mails): their count. */
uint32_t store_data_ignored_columns(const store_data *s);

/* Local index of member_id; FR_ENOENT if the store does not know it. */
FR_NODISCARD fr_err store_data_member(const store_data *s,
                                      const char *member_id,
                                      uint32_t *index_out);

/* The member_id of a local index (borrowed), or NULL if out of range. For
 * output the operator asked for (segments); never for logs. */
const char *store_data_member_id(const store_data *s, uint32_t index);

#endif
