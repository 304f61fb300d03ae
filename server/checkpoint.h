/*
 * checkpoint.h - the aggregator's durable state, written atomically after
 * every round (completed or abandoned) and read back at start-up.
 *
 * Format 2 (little-endian): "FRCK", u32 version = 2, u64 next_round_id,
 * u64 completed_rounds, u64 model_len, u64 n_history, model_len bytes of
 * the model encoding (common/model/model.h), n_history round records of
 * CK_ROUND_BYTES each (checkpoint.c), u32 CRC-32 of everything before it.
 * One file holds the model, the round counter and the round history, so a
 * crash at any moment leaves either the old state or the new one, never a
 * model without its history line or the reverse. Format 1 (no history) is
 * still read, for upgrades.
 */
#ifndef FR_SERVER_CHECKPOINT_H
#define FR_SERVER_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/model.h"
#include "stats.h"

typedef struct checkpoint {
    uint64_t next_round_id;    /* id of the round in progress or last
                                  closed: a restart starts after it, so no
                                  id is ever used twice */
    uint64_t completed_rounds; /* rounds aggregated into the model */
    fr_model *model;           /* owned after a load */
    agg_round_info *history;   /* one per completed round (format 2);
                                  owned after a load */
    size_t n_history;
    int version;               /* of the file loaded */
} checkpoint;

/* Writes ck to path atomically (temp file, fsync, rename, fsync dir). */
FR_NODISCARD fr_err checkpoint_save(const checkpoint *ck, const char *path);

/* Reads path into *ck (model and history owned by the caller afterwards:
 * checkpoint_clear). FR_ENOENT if there is none; FR_EPROTO if it is
 * damaged or inconsistent (format 2 with n_history != completed_rounds, or
 * history rounds not 1..n in order, or next_round_id before the last
 * history round's id). */
FR_NODISCARD fr_err checkpoint_load(const char *path, checkpoint *ck);

/* Frees what a load gave; accepts a zeroed struct. */
void checkpoint_clear(checkpoint *ck);

/* Writes the history as a tab-separated table (header + one row per
 * round) to path atomically. */
FR_NODISCARD fr_err checkpoint_write_history_tsv(const agg_round_info *h,
                                                 size_t n, const char *path);

#endif
