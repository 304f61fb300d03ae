/*
 * wire_cat.c - the end of training and the item catalogue on the wire:
 * RoundStart's catalogue id and count, the Done message and the Catalogue
 * request / answer.
 *
 * The decoder checks shapes only: an id is 32 bytes, a count agrees with
 * the model, and a catalogue's content has a length its item count allows
 * (each line 1..FR_CATALOGUE_SKU_MAX bytes plus its LF, after the header
 * line). Whether the bytes are a valid catalogue and hash to the id is for
 * the receiver to check with catalogue/ (fr_catalogue_parse,
 * fr_catalogue_id): a peer's claim of an id is never trusted.
 */
#include <string.h>

#include "wire_int.h"

#include "../catalogue/catalogue.h"

_Static_assert(FR_WIRE_CATALOGUE_ID_BYTES == FR_CATALOGUE_ID_BYTES,
               "the wire carries catalogue ids whole");
_Static_assert(FR_WIRE_MAX_ITEMS >= FR_CATALOGUE_MAX_ITEMS,
               "every catalogue fits a model");

/* The header line and its LF. */
#define HEADER_BYTES (sizeof FR_CATALOGUE_HEADER)

/* ---- RoundStart.catalogue_id / catalogue_items ---- */

const char *
wire_cat_check_rs(const fr_msg_round_start *rs)
{
    if (rs->has_catalogue > 1)
        return "round_start has_catalogue must be 0 or 1";
    if (!rs->has_catalogue)
        return rs->catalogue_items
                   ? "round_start catalogue_items without a catalogue id"
                   : NULL;
    /* the model is the catalogue's head: its first n_items SKUs */
    if (rs->catalogue_items < rs->n_items)
        return "round_start catalogue_items is less than n_items";
    return NULL;
}

const char *
wire_cat_check_rs_pb(const Fedrec__RoundStart *pb)
{
    if (pb->catalogue_id.len == 0)
        return pb->catalogue_items
                   ? "round_start catalogue_items without a catalogue id"
                   : NULL;
    if (pb->catalogue_id.len != FR_WIRE_CATALOGUE_ID_BYTES)
        return "round_start catalogue_id must be 32 bytes";
    return NULL;
}

void
wire_cat_view_rs(Fedrec__RoundStart *pb, const fr_msg_round_start *rs)
{
    if (!rs->has_catalogue)
        return;
    pb->catalogue_id.len = FR_WIRE_CATALOGUE_ID_BYTES;
    pb->catalogue_id.data = (uint8_t *)rs->catalogue_id;
    pb->catalogue_items = rs->catalogue_items;
}

void
wire_cat_fill_rs(fr_msg_round_start *rs, const Fedrec__RoundStart *pb)
{
    if (pb->catalogue_id.len != FR_WIRE_CATALOGUE_ID_BYTES)
        return;
    rs->has_catalogue = 1;
    memcpy(rs->catalogue_id, pb->catalogue_id.data,
           FR_WIRE_CATALOGUE_ID_BYTES);
    rs->catalogue_items = pb->catalogue_items;
}

/* ---- Done ---- */

const char *
wire_done_check_pb(const Fedrec__Done *pb)
{
    return pb->base.n_unknown_fields ? "unknown field in message" : NULL;
}

/* ---- Catalogue ---- */

const char *
wire_catmsg_check(const fr_msg_catalogue *m)
{
    uint64_t lo, hi;

    if (m->content_len == 0)
        return m->items ? "catalogue request with an item count" : NULL;
    if (!m->content)
        return "catalogue without content";
    if (m->items < 1 || m->items > FR_CATALOGUE_MAX_ITEMS)
        return "catalogue item count out of range";
    lo = HEADER_BYTES + 2ull * m->items;
    hi = HEADER_BYTES + (uint64_t)m->items * (FR_CATALOGUE_SKU_MAX + 1u);
    if ((uint64_t)m->content_len > hi)
        return "catalogue larger than its item count allows";
    if ((uint64_t)m->content_len < lo)
        return "catalogue shorter than its item count needs";
    return NULL;
}

const char *
wire_catmsg_check_pb(const Fedrec__Catalogue *pb)
{
    if (pb->base.n_unknown_fields)
        return "unknown field in message";
    if (pb->id.len != FR_WIRE_CATALOGUE_ID_BYTES)
        return "catalogue id must be 32 bytes";
    return NULL;
}

void
wire_catmsg_view(Fedrec__Catalogue *pb, const fr_msg_catalogue *m)
{
    pb->id.len = FR_WIRE_CATALOGUE_ID_BYTES;
    pb->id.data = (uint8_t *)m->id;
    pb->items = m->items;
    pb->content.len = m->content_len;
    pb->content.data = (uint8_t *)m->content;
}

void
wire_catmsg_fill(fr_msg_catalogue *m, const Fedrec__Catalogue *pb)
{
    memcpy(m->id, pb->id.data, FR_WIRE_CATALOGUE_ID_BYTES);
    m->items = pb->items;
    m->content = pb->content.len ? pb->content.data : NULL;
    m->content_len = pb->content.len;
}
