/*
 * data.c - a store's interactions indexed by member. See data.h.
 *
 * Interactions are appended to a flat array, then finalize sorts them once
 * and builds a CSR index (offsets per member into parallel item and time
 * arrays). Sorting uses total orders on (member, item, timestamp) and then
 * (member, timestamp, item), so the result does not depend on qsort's
 * instability or on the order rows were added in.
 */
#include "data.h"

#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_int.h"

struct fr_dataset {
    uint32_t n_items;
    uint32_t n_members;
    int finalized;
    fr_interaction *rows; /* appended rows; deduplicated by finalize */
    size_t n_rows;
    size_t cap_rows;
    size_t *offsets;  /* n_members + 1 after finalize */
    uint32_t *items;  /* n_rows, grouped by member, oldest first */
    int64_t *times;   /* parallel to items */
};

fr_err
fr_dataset_new(fr_dataset **out, uint32_t n_items)
{
    fr_dataset *d;

    if (n_items == 0 || n_items > FR_MODEL_MAX_ITEMS)
        return FR_EINVAL;
    d = calloc(1, sizeof *d);
    if (!d)
        return FR_ENOMEM;
    d->n_items = n_items;
    *out = d;
    return FR_OK;
}

void
fr_dataset_destroy(fr_dataset **dp)
{
    if (!dp || !*dp)
        return;
    free((*dp)->rows);
    free((*dp)->offsets);
    free((*dp)->items);
    free((*dp)->times);
    free(*dp);
    *dp = NULL;
}

static fr_err
grow_rows(fr_dataset *d)
{
    size_t cap = d->cap_rows ? d->cap_rows * 2 : 256;
    size_t bytes;
    fr_interaction *rows;

    if (cap < d->cap_rows || fr_model_size_mul(cap, sizeof *rows, &bytes))
        return FR_ENOMEM;
    rows = realloc(d->rows, bytes);
    if (!rows)
        return FR_ENOMEM;
    d->rows = rows;
    d->cap_rows = cap;
    return FR_OK;
}

fr_err
fr_dataset_add(fr_dataset *d, uint32_t member, uint32_t item, int64_t timestamp)
{
    fr_err rc;

    if (d->finalized)
        return FR_ESTATE;
    /* member + 1 must fit the member count */
    if (item >= d->n_items || member == UINT32_MAX)
        return FR_EINVAL;
    if (d->n_rows == d->cap_rows && (rc = grow_rows(d)) != FR_OK)
        return rc;
    d->rows[d->n_rows++] = (fr_interaction){member, item, timestamp};
    if (member >= d->n_members)
        d->n_members = member + 1;
    return FR_OK;
}

static int
cmp_member_item_time(const void *a, const void *b)
{
    const fr_interaction *x = a, *y = b;

    if (x->member != y->member)
        return x->member < y->member ? -1 : 1;
    if (x->item != y->item)
        return x->item < y->item ? -1 : 1;
    return (x->timestamp > y->timestamp) - (x->timestamp < y->timestamp);
}

static int
cmp_member_time_item(const void *a, const void *b)
{
    const fr_interaction *x = a, *y = b;

    if (x->member != y->member)
        return x->member < y->member ? -1 : 1;
    if (x->timestamp != y->timestamp)
        return x->timestamp < y->timestamp ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

/* Keeps the last row of each (member, item) run: the latest timestamp. */
static void
dedup_sorted(fr_dataset *d)
{
    size_t w = 0;

    for (size_t r = 0; r < d->n_rows; r++) {
        const fr_interaction *x = &d->rows[r];
        if (w > 0 && d->rows[w - 1].member == x->member &&
            d->rows[w - 1].item == x->item)
            w--;
        d->rows[w++] = *x;
    }
    d->n_rows = w;
}

static fr_err
build_index(fr_dataset *d)
{
    size_t n = d->n_rows ? d->n_rows : 1;

    d->offsets = calloc((size_t)d->n_members + 1, sizeof *d->offsets);
    d->items = calloc(n, sizeof *d->items);
    d->times = calloc(n, sizeof *d->times);
    if (!d->offsets || !d->items || !d->times)
        return FR_ENOMEM;
    for (size_t r = 0; r < d->n_rows; r++) {
        d->offsets[d->rows[r].member + 1]++;
        d->items[r] = d->rows[r].item;
        d->times[r] = d->rows[r].timestamp;
    }
    for (uint32_t m = 0; m < d->n_members; m++)
        d->offsets[m + 1] += d->offsets[m];
    return FR_OK;
}

fr_err
fr_dataset_finalize(fr_dataset *d)
{
    fr_err rc;

    if (d->finalized)
        return FR_ESTATE;
    if (d->n_rows > 1) {
        qsort(d->rows, d->n_rows, sizeof *d->rows, cmp_member_item_time);
        dedup_sorted(d);
        qsort(d->rows, d->n_rows, sizeof *d->rows, cmp_member_time_item);
    }
    rc = build_index(d);
    if (rc) {
        free(d->offsets);
        free(d->items);
        free(d->times);
        d->offsets = NULL;
        d->items = NULL;
        d->times = NULL;
        return rc;
    }
    /* the index holds everything now; the row array is dead weight */
    free(d->rows);
    d->rows = NULL;
    d->cap_rows = 0;
    d->finalized = 1;
    return FR_OK;
}

uint32_t
fr_dataset_n_members(const fr_dataset *d)
{
    return d->n_members;
}

uint32_t
fr_dataset_n_items(const fr_dataset *d)
{
    return d->n_items;
}

uint64_t
fr_dataset_n_interactions(const fr_dataset *d)
{
    return d->n_rows;
}

/* Range of member's interactions in the index; empty before finalize or
 * for an unknown member, so callers see "no data" rather than garbage. */
static size_t
member_range(const fr_dataset *d, uint32_t member, uint32_t *n_out)
{
    if (!d->finalized || member >= d->n_members) {
        *n_out = 0;
        return 0;
    }
    /* dedup leaves at most n_items <= FR_MODEL_MAX_ITEMS rows per member */
    *n_out = (uint32_t)(d->offsets[member + 1] - d->offsets[member]);
    return d->offsets[member];
}

const uint32_t *
fr_dataset_member_items(const fr_dataset *d, uint32_t member, uint32_t *n_out)
{
    size_t off = member_range(d, member, n_out);
    return *n_out ? d->items + off : NULL;
}

const int64_t *
fr_dataset_member_times(const fr_dataset *d, uint32_t member, uint32_t *n_out)
{
    size_t off = member_range(d, member, n_out);
    return *n_out ? d->times + off : NULL;
}
