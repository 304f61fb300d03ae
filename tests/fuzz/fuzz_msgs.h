/*
 * fuzz_msgs.h - what the wire-level fuzz targets share: valid messages of
 * every type to seed the corpora, and the seed writer. When the environment
 * variable FR_FUZZ_WRITE_SEEDS names a directory, a target's initialiser
 * writes its seeds there (tests/fuzz/corpus/NAME/ holds the committed ones).
 */
#ifndef FR_TESTS_FUZZ_MSGS_H
#define FR_TESTS_FUZZ_MSGS_H

#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* Writes one seed file DIR/name (prefix bytes, then buf) if
 * FR_FUZZ_WRITE_SEEDS is set; otherwise does nothing. */
void fuzz_seed_write(const char *name, const uint8_t *prefix, size_t plen,
                     const uint8_t *buf, size_t len);

/* Encodes m and writes it as a seed (aborts if m does not encode). */
void fuzz_seed_msg(const char *name, const uint8_t *prefix, size_t plen,
                   const fr_msg *m);

/* Calls emit with one valid message of every type and SecAgg phase. */
typedef void (*fuzz_msg_fn)(const char *name, const fr_msg *m);
void fuzz_msgs_each(fuzz_msg_fn emit);

/* Writes those messages as seeds (no prefix) if FR_FUZZ_WRITE_SEEDS is
 * set. */
void fuzz_msgs_write_seeds(void);

/* Splits a fuzz input into frames: each frame is a 2-byte little-endian
 * length then that many bytes (the last one takes what is left). Returns
 * the next position and sets *frame / *flen; NULL at the end. */
const uint8_t *fuzz_next_frame(const uint8_t *p, const uint8_t *end,
                               const uint8_t **frame, size_t *flen);

#endif
