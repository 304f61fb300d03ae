/*
 * notice.h - the plain-language data notice behind `fedrec-client notice`.
 *
 * The notice is generated from the store's configuration and from the
 * importer's own column lists (import_kept_columns, import_identifier_names),
 * so what it tells customers cannot drift from what the software does: the
 * columns kept, the identifier kinds discarded, the retention period, whether
 * updates leave the store masked, and the exact commands that serve each
 * right. Output is Markdown, in English or Traditional Chinese (Taiwan).
 */
#ifndef FR_CLIENT_NOTICE_H
#define FR_CLIENT_NOTICE_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

typedef struct notice_info {
    const char *store_name;   /* e.g. "store01" */
    const char *aggregator;   /* the aggregator endpoint the store talks to,
                                 e.g. "tcp://agg.example:7600" */
    int64_t retention_days;   /* 0 = kept until erased */
    int secure_aggregation;   /* 1 if updates leave the store only masked */
    int differential_privacy; /* 1 if the model is trained with DP noise */
} notice_info;

/*
 * Writes the notice for ni in Markdown to out. lang is "en" or "zh-TW".
 * FR_EINVAL for another lang, a NULL argument, a negative retention or a
 * store name or endpoint holding control characters; FR_ESYS if writing to
 * out fails (out may then hold part of the notice). ni is borrowed; nothing
 * secret passes through. Thread-safe for distinct out streams.
 */
FR_NODISCARD fr_err notice_write(FILE *out, const notice_info *ni,
                                 const char *lang);

#endif
