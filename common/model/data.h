/*
 * data.h - a store's interactions in memory, indexed by member.
 *
 * Members are dense local indices 0..n_members-1 (the caller maps its own
 * member identifiers to them); items are global ids 0..n_items-1. After
 * fr_dataset_finalize each member's interactions are sorted by timestamp
 * (ties by item id) with exact duplicate (member, item) pairs kept once (the
 * latest timestamp wins).
 */
#ifndef FR_MODEL_DATA_H
#define FR_MODEL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

typedef struct fr_dataset fr_dataset;

typedef struct fr_interaction {
    uint32_t member;
    uint32_t item;
    int64_t timestamp;
} fr_interaction;

FR_NODISCARD fr_err fr_dataset_new(fr_dataset **out, uint32_t n_items);
void fr_dataset_destroy(fr_dataset **dp);

/* Appends one interaction. FR_EINVAL if item >= n_items; FR_ESTATE after
 * finalize. Grows n_members to member + 1 if needed. */
FR_NODISCARD fr_err fr_dataset_add(fr_dataset *d, uint32_t member,
                                   uint32_t item, int64_t timestamp);

/* Builds the per-member index. Must be called once before the queries. */
FR_NODISCARD fr_err fr_dataset_finalize(fr_dataset *d);

uint32_t fr_dataset_n_members(const fr_dataset *d);
uint32_t fr_dataset_n_items(const fr_dataset *d);
uint64_t fr_dataset_n_interactions(const fr_dataset *d);

/* Items of member, oldest first; *n_out gets the count. Borrowed. */
const uint32_t *fr_dataset_member_items(const fr_dataset *d, uint32_t member,
                                        uint32_t *n_out);
const int64_t *fr_dataset_member_times(const fr_dataset *d, uint32_t member,
                                       uint32_t *n_out);

#endif
