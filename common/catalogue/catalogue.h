/*
 * catalogue.h - the shared item catalogue: string SKUs to model item indices.
 *
 * Every store of a federation must map a SKU to the same row of the model,
 * so the mapping is one file, the same everywhere: the aggregator loads it,
 * announces its id in every round start and serves its bytes to a store that
 * lacks them; a store trains only under the catalogue the round names.
 *
 * File (UTF-8 text, LF or CR LF line ends):
 *   fedrec-catalogue 1          first line, exactly
 *   SKU                         one per line; line k + 2 is item index k
 *   ...
 * Lines are in rank order (the product master's order or chain-wide
 * popularity, most important first), so "the first N items" is a meaningful
 * head of the catalogue. A SKU is 1..FR_CATALOGUE_SKU_MAX bytes of valid
 * UTF-8 without control characters, with no leading or trailing space or
 * tab, and appears once. At most FR_CATALOGUE_MAX_ITEMS items.
 *
 * The id of a catalogue is BLAKE2b-256 over its canonical bytes: the header
 * line and every SKU, each followed by a single LF (so CR LF and LF copies
 * of one catalogue have the same id). Two catalogues with the same id list
 * the same SKUs in the same order.
 *
 * A catalogue is immutable once made; lookups are O(1) (an open-addressing
 * table keyed by a hash of the SKU) and safe from several threads.
 */
#ifndef FR_CATALOGUE_CATALOGUE_H
#define FR_CATALOGUE_CATALOGUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define FR_CATALOGUE_SKU_MAX   64u /* bytes, without a terminator */
#define FR_CATALOGUE_MAX_ITEMS 1048576u
#define FR_CATALOGUE_ID_BYTES  32u
#define FR_CATALOGUE_ID_HEX    (2u * FR_CATALOGUE_ID_BYTES)
#define FR_CATALOGUE_HEADER    "fedrec-catalogue 1"
#define FR_CATALOGUE_NONE      UINT32_MAX /* fr_catalogue_find: not listed */

typedef struct fr_catalogue fr_catalogue;

/* Parses a catalogue from len bytes (a file's whole content, as read from
 * disk or received from the aggregator). On error *out stays NULL and errbuf
 * names the first bad line ("line N: reason"). FR_EINVAL on bad content,
 * FR_ELIMIT on too many items, FR_ENOMEM. */
FR_NODISCARD fr_err fr_catalogue_parse(const void *buf, size_t len,
                                       fr_catalogue **out, char *errbuf,
                                       size_t errlen);

/* Reads and parses path (at most 128 MiB). FR_ENOENT if it does not exist;
 * errbuf is "PATH: reason" or "PATH:LINE: reason". */
FR_NODISCARD fr_err fr_catalogue_load(const char *path, fr_catalogue **out,
                                      char *errbuf, size_t errlen);

/* Makes a catalogue from n SKUs in rank order (each checked as above;
 * duplicates refused, errbuf names the first). The strings are copied. */
FR_NODISCARD fr_err fr_catalogue_from_skus(const char *const *skus, size_t n,
                                           fr_catalogue **out, char *errbuf,
                                           size_t errlen);

void fr_catalogue_destroy(fr_catalogue **cp);

uint32_t fr_catalogue_n_items(const fr_catalogue *c);

/* The SKU of item index i (< n_items), NUL-terminated; owned by c. */
const char *fr_catalogue_sku(const fr_catalogue *c, uint32_t i);

/* The index of sku (len bytes, need not be terminated), or
 * FR_CATALOGUE_NONE. */
uint32_t fr_catalogue_find(const fr_catalogue *c, const char *sku,
                           size_t len);

/* The catalogue's id, raw and as lowercase hex (NUL-terminated). */
void fr_catalogue_id(const fr_catalogue *c,
                     uint8_t out[FR_CATALOGUE_ID_BYTES]);
void fr_catalogue_id_hex(const fr_catalogue *c,
                         char out[FR_CATALOGUE_ID_HEX + 1]);

/* The canonical bytes (the id's input, what the aggregator serves), owned
 * by c. */
const uint8_t *fr_catalogue_bytes(const fr_catalogue *c, size_t *len);

/* Writes the canonical bytes to path atomically (temporary file, fsync,
 * rename, fsync of the directory), mode 0644. */
FR_NODISCARD fr_err fr_catalogue_write(const fr_catalogue *c,
                                       const char *path);

/* True if the SKU (len bytes) is acceptable as a catalogue entry; else false,
 * with a short reason in *why (a static string). */
bool fr_catalogue_sku_ok(const char *sku, size_t len, const char **why);

#endif
