/*
 * util.h - small helpers every module needs: monotonic clock, bounded number
 * parsing, atomic file replacement and a CRC for on-disk integrity.
 *
 * The CRC guards against torn or corrupted files, not against an attacker;
 * authenticated encryption (crypto/) is what protects stored secrets.
 */
#ifndef FR_BASE_UTIL_H
#define FR_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Milliseconds from an arbitrary fixed point (CLOCK_MONOTONIC). */
int64_t fr_clock_ms(void);

/* Sleeps for ms milliseconds (restarts on EINTR until the time is spent). */
void fr_sleep_ms(int64_t ms);

/*
 * Parses a whole decimal string into [min, max]. Leading/trailing garbage,
 * overflow and out-of-range values give FR_EINVAL; *out is untouched then.
 */
FR_NODISCARD fr_err fr_parse_i64(const char *s, int64_t min, int64_t max,
                                 int64_t *out);
FR_NODISCARD fr_err fr_parse_u64(const char *s, uint64_t max, uint64_t *out);
FR_NODISCARD fr_err fr_parse_double(const char *s, double min, double max,
                                    double *out);

/*
 * fsyncs the directory holding path, so that a name just created, renamed
 * or removed in it is durable ("." when path has no slash).
 */
FR_NODISCARD fr_err fr_file_fsync_dir_of(const char *path);

/* Decodes the UTF-8 sequence at p (n > 0 bytes left): its length (1 for
 * ASCII) with the code point in *cp, or 0 if it is not valid UTF-8 (a bad
 * lead or continuation byte, a cut sequence, an overlong form, a surrogate,
 * past U+10FFFF). */
size_t fr_utf8_next(const unsigned char *p, size_t n, uint32_t *cp);

/* printf into an error buffer of errlen bytes (nothing if errbuf is NULL or
 * errlen 0); always terminated. */
void fr_errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
    FR_PRINTF(3, 4);

/*
 * Replaces path with data atomically: writes path.tmp, fsyncs it, renames it
 * over path and fsyncs the directory. On failure path is unchanged and the
 * temporary file is removed. mode is applied to the new file.
 */
FR_NODISCARD fr_err fr_file_write_atomic(const char *path, const void *data,
                                         size_t len, unsigned mode);

/*
 * After a write of a state file failed in this thread (fr_file_write_atomic,
 * or an append that notes its failure): which call failed on which file and
 * why ("write PATH.tmp: No space left on device"), for the caller's
 * message. Never NULL; "" if nothing was noted since the last clear (each
 * fr_file_write_atomic starts by clearing it).
 */
const char *fr_file_last_write_error(void);
/* Notes a failed write call (op, path, errno) for fr_file_last_write_error. */
void fr_file_note_write_error(const char *op, const char *path, int errnum);
/* Sets the text fr_file_last_write_error returns (NULL or "" clears it). */
void fr_file_set_write_error(const char *text);

/*
 * Reads a whole regular file of at most max_len bytes into a malloc'd buffer
 * (caller frees). FR_ENOENT if missing, FR_ELIMIT if larger than max_len.
 */
FR_NODISCARD fr_err fr_file_read_all(const char *path, size_t max_len,
                                     uint8_t **buf_out, size_t *len_out);

/* CRC-32 (IEEE 802.3 polynomial) of data, continuing from crc (start at 0). */
uint32_t fr_crc32(uint32_t crc, const void *data, size_t len);

/* Little-endian stores and loads for on-disk formats. */
void fr_put_u32le(uint8_t *p, uint32_t v);
void fr_put_u64le(uint8_t *p, uint64_t v);
uint32_t fr_get_u32le(const uint8_t *p);
uint64_t fr_get_u64le(const uint8_t *p);

/* SplitMix64-seeded xoshiro256** generator for non-secret randomness
 * (data synthesis, negative sampling, shuffles). Not for keys or masks. */
typedef struct fr_rng {
    uint64_t s[4];
} fr_rng;

void fr_rng_seed(fr_rng *rng, uint64_t seed);
uint64_t fr_rng_next(fr_rng *rng);
/* Uniform integer in [0, bound) without modulo bias; bound > 0. */
uint64_t fr_rng_below(fr_rng *rng, uint64_t bound);
/* Uniform double in [0, 1). */
double fr_rng_uniform(fr_rng *rng);
/* Standard normal sample (Box-Muller). */
double fr_rng_normal(fr_rng *rng);

#endif
