/*
 * registry.c - a small sorted array of stores. The number of stores is
 * bounded by the allow-list (and max_stores), so a sorted array with binary
 * search is simpler and fast enough; insertion is O(n) and rare.
 */
#include "registry.h"

#include <stdlib.h>
#include <string.h>

struct registry {
    store_entry *entries;
    size_t count;
    size_t max;
};

fr_err
registry_new(registry **out, size_t max_stores)
{
    registry *r = calloc(1, sizeof *r);

    if (!r)
        return FR_ENOMEM;
    r->entries = calloc(max_stores ? max_stores : 1, sizeof *r->entries);
    if (!r->entries) {
        free(r);
        return FR_ENOMEM;
    }
    r->max = max_stores;
    *out = r;
    return FR_OK;
}

void
registry_destroy(registry **rp)
{
    if (!rp || !*rp)
        return;
    free((*rp)->entries);
    free(*rp);
    *rp = NULL;
}

/* Index of name, or of where it would be inserted (*found says which). */
static size_t
lookup(const registry *r, const char *name, int *found)
{
    size_t lo = 0, hi = r->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->entries[mid].peer.store, name);
        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

/* The index of peer's entry, added (zeroed, with peer) if new. */
static fr_err
find_or_add(registry *r, const fr_net_peer *peer, size_t *index)
{
    int found;
    size_t i = lookup(r, peer->store, &found);

    if (!found) {
        if (r->count >= r->max)
            return FR_ELIMIT;
        memmove(&r->entries[i + 1], &r->entries[i],
                (r->count - i) * sizeof *r->entries);
        memset(&r->entries[i], 0, sizeof r->entries[i]);
        r->entries[i].peer = *peer;
        r->entries[i].last_seen_ms = INT64_MIN / 2; /* never heard from */
        r->count++;
    }
    *index = i;
    return FR_OK;
}

fr_err
registry_entry_for(registry *r, const fr_net_peer *peer,
                   store_entry **entry_out)
{
    size_t i;
    fr_err rc = find_or_add(r, peer, &i);

    if (rc == FR_OK)
        *entry_out = &r->entries[i];
    return rc;
}

fr_err
registry_touch(registry *r, const fr_net_peer *peer, int64_t now_ms,
               store_entry **entry_out)
{
    size_t i;
    fr_err rc = find_or_add(r, peer, &i);

    if (rc)
        return rc;
    if (r->entries[i].peer.id_len != peer->id_len ||
        memcmp(r->entries[i].peer.id, peer->id, peer->id_len))
        r->entries[i].links++; /* a new connection (or the first) */
    r->entries[i].peer = *peer;
    r->entries[i].last_seen_ms = now_ms;
    r->entries[i].revoked = 0; /* only listed keys get this far */
    *entry_out = &r->entries[i];
    return FR_OK;
}

store_entry *
registry_find(registry *r, const char *name)
{
    int found;
    size_t i = lookup(r, name, &found);
    return found ? &r->entries[i] : NULL;
}

bool
registry_alive(const store_entry *e, int64_t now_ms, int64_t timeout_ms)
{
    return !e->revoked && now_ms - e->last_seen_ms <= timeout_ms &&
           now_ms >= e->quarantined_until_ms;
}

store_entry *
registry_at(registry *r, size_t i)
{
    return i < r->count ? &r->entries[i] : NULL;
}

size_t
registry_list_alive(registry *r, int64_t now_ms, int64_t timeout_ms,
                    store_entry **out, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < r->count && n < max; i++)
        if (registry_alive(&r->entries[i], now_ms, timeout_ms))
            out[n++] = &r->entries[i];
    return n;
}

size_t
registry_count(const registry *r)
{
    return r->count;
}
