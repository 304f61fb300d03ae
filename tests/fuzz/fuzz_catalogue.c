/*
 * fuzz_catalogue.c - the catalogue parser (a file on disk, or the bytes an
 * aggregator serves to a store). Properties: a refusal says why; an accepted
 * catalogue's canonical bytes parse again to the same id and items, and every
 * SKU is found at its own index.
 */
#include <string.h>

#include "catalogue/catalogue.h"
#include "fuzz.h"

FR_FUZZ_NO_INIT

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fr_catalogue *c = NULL, *again = NULL;
    char err[256] = "";
    uint8_t id[FR_CATALOGUE_ID_BYTES], id2[FR_CATALOGUE_ID_BYTES];
    const uint8_t *bytes;
    size_t len;

    if (fr_catalogue_parse(data, size, &c, err, sizeof err) != FR_OK) {
        FR_FUZZ_CHECK(c == NULL && err[0] != 0);
        return 0;
    }
    bytes = fr_catalogue_bytes(c, &len);
    FR_FUZZ_CHECK(fr_catalogue_parse(bytes, len, &again, err, sizeof err) ==
                  FR_OK);
    fr_catalogue_id(c, id);
    fr_catalogue_id(again, id2);
    FR_FUZZ_CHECK(memcmp(id, id2, sizeof id) == 0);
    FR_FUZZ_CHECK(fr_catalogue_n_items(c) == fr_catalogue_n_items(again));
    for (uint32_t i = 0; i < fr_catalogue_n_items(c); i++) {
        const char *sku = fr_catalogue_sku(c, i);
        FR_FUZZ_CHECK(fr_catalogue_find(c, sku, strlen(sku)) == i);
    }
    fr_catalogue_destroy(&again);
    fr_catalogue_destroy(&c);
    return 0;
}
