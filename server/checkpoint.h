/*
 * checkpoint.h - the aggregator's durable state, written atomically after
 * every completed round and read back at start-up.
 *
 * Format (little-endian): "FRCK", u32 version, u64 next_round_id,
 * u64 completed_rounds, u64 model_len, model_len bytes of the model encoding
 * (common/model/model.h), u32 CRC-32 of everything before it.
 */
#ifndef FR_SERVER_CHECKPOINT_H
#define FR_SERVER_CHECKPOINT_H

#include <stdint.h>

#include "base/err.h"
#include "model/model.h"

typedef struct checkpoint {
    uint64_t next_round_id;    /* first round id not yet used */
    uint64_t completed_rounds; /* rounds aggregated into the model */
    fr_model *model;           /* owned */
} checkpoint;

/* Writes ck to path atomically (temp file, fsync, rename, fsync dir). */
FR_NODISCARD fr_err checkpoint_save(const checkpoint *ck, const char *path);

/* Reads path into *ck (ck->model owned by the caller afterwards).
 * FR_ENOENT if there is none; FR_EPROTO if it is damaged. */
FR_NODISCARD fr_err checkpoint_load(const char *path, checkpoint *ck);

#endif
