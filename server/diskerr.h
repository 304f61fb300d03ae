/*
 * diskerr.h - how the aggregator reports a state file it could not write
 * (a full or failing disk): counted in /metrics
 * (fedrec_disk_write_errors_total{file=...}) on every failure, logged once
 * when the file starts failing and then at most once a minute while it goes
 * on, and once more when a write of it succeeds again. The previous file
 * stays in place in every case (atomic replacement, or an append that is
 * cut back), so a restart reads the last good state.
 */
#ifndef FR_SERVER_DISKERR_H
#define FR_SERVER_DISKERR_H

#include "base/err.h"
#include "stats.h"

/* Interval between repeated log lines about one failing file. */
#define AGG_DISK_LOG_INTERVAL_MS 60000

/* A write of file f at path failed with rc; detail says which call and
 * why (may be NULL or ""). stats may be NULL. Thread-safe. */
void agg_disk_failed(agg_stats *stats, agg_disk_file f, const char *path,
                     fr_err rc, const char *detail);

/* A write of file f succeeded (logs the recovery after failures). */
void agg_disk_written(agg_disk_file f, const char *path);

#endif
