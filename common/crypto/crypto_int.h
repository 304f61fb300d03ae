/*
 * crypto_int.h - declarations shared by the files of common/crypto and not
 * part of its interface: reading and parsing the one-line hex files that
 * hold secret keys (crypto.c's CURVE and identity keys, seal.c's data key
 * and salt).
 */
#ifndef FR_CRYPTO_CRYPTO_INT_H
#define FR_CRYPTO_CRYPTO_INT_H

#include <stddef.h>
#include <stdint.h>

#include "../base/err.h"

/* Longest hex file read: a key file is 64 hex chars and a newline, and
 * reading a little more than that lets us call a longer file malformed
 * without reading it all. */
#define FR_CRYPTO_HEX_FILE_MAX 128

/*
 * Parses text (len bytes, not NUL-terminated) as exactly 2 * n hex
 * characters, then "\n", "\r\n" or nothing, into out (n <= 32 bytes), in
 * constant time. FR_EINVAL otherwise. Writes out only on success; its own
 * copy of the bytes is wiped.
 */
FR_NODISCARD fr_err fr_crypto_parse_hex_line(const char *text, size_t len,
                                             uint8_t *out, size_t n);

/*
 * Reads a secret hex file of n bytes (n <= 32) into out, which should be
 * guarded memory. The file is opened, checked and read on one descriptor,
 * so the permission check and the bytes parsed cannot come from different
 * files. FR_EAUTH if group or others have any access, FR_EINVAL if it is not
 * a regular file or is malformed, the errno mapping (FR_ENOENT...) if it
 * cannot be opened. Refusals are logged under tag, naming the file as
 * "<what> <path>" (what: "secret key", "data key"). Writes out only on
 * success; the file's bytes are wiped on every path out.
 */
FR_NODISCARD fr_err fr_crypto_read_secret_hex(const char *path,
                                              const char *tag,
                                              const char *what, uint8_t *out,
                                              size_t n);

/* Allocates len bytes of guarded memory (sodium_malloc, after making sure
 * libsodium is initialised) into *out: FR_ESYS if libsodium cannot start,
 * FR_ENOMEM. The one allocator of the key objects of this module. */
FR_NODISCARD fr_err fr_crypto_guarded_alloc(size_t len, void **out);

#endif
