/*
 * util.c - clock, number parsing, atomic files, CRC-32 and the
 * non-cryptographic generator. See util.h for contracts.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t
fr_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fr_sleep_ms(int64_t ms)
{
    struct timespec req = {.tv_sec = ms / 1000,
                           .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&req, &req) != 0 && errno == EINTR)
        ;
}

fr_err
fr_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return FR_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return FR_EINVAL;
    *out = v;
    return FR_OK;
}

fr_err
fr_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return FR_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return FR_EINVAL;
    *out = v;
    return FR_OK;
}

fr_err
fr_parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    if (!s || !*s)
        return FR_EINVAL;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return FR_EINVAL;
    *out = v;
    return FR_OK;
}

fr_err
fr_file_fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    fr_err rc = FR_OK;
    int fd;

    if (!slash) {
        strcpy(dir, ".");
    } else if (n == 0) {
        strcpy(dir, "/");
    } else {
        if (n >= sizeof dir)
            return FR_ELIMIT;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fr_err_from_errno(errno);
    if (fsync(fd) != 0)
        rc = fr_err_from_errno(errno);
    close(fd);
    return rc;
}

/* What the last failed fr_file_write_atomic of this thread ran into. */
static _Thread_local char last_write_error[PATH_MAX + 96];

const char *
fr_file_last_write_error(void)
{
    return last_write_error;
}

void
fr_file_note_write_error(const char *op, const char *path, int errnum)
{
    snprintf(last_write_error, sizeof last_write_error, "%s %s: %s", op,
             path, strerror(errnum));
}

void
fr_file_set_write_error(const char *text)
{
    snprintf(last_write_error, sizeof last_write_error, "%s",
             text ? text : "");
}

/* Records which call failed on which file and returns errno's fr_err. */
static fr_err
write_failed(const char *op, const char *path, int errnum)
{
    fr_file_note_write_error(op, path, errnum);
    return fr_err_from_errno(errnum);
}

/* Writes all of len bytes (short writes continue; a write that stores
 * nothing is an error, not a reason to spin). */
static fr_err
write_all_fd(int fd, const char *tmp, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return write_failed("write", tmp, n < 0 ? errno : EIO);
        p += n;
        len -= (size_t)n;
    }
    return FR_OK;
}

fr_err
fr_file_write_atomic(const char *path, const void *data, size_t len,
                     unsigned mode)
{
    char tmp[PATH_MAX];
    int fd;
    fr_err rc = FR_OK;

    last_write_error[0] = '\0';
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return FR_ELIMIT;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0)
        return write_failed("open", tmp, errno);
    if (fchmod(fd, (mode_t)mode) != 0)
        rc = write_failed("fchmod", tmp, errno);
    if (rc == FR_OK)
        rc = write_all_fd(fd, tmp, data, len);
    if (rc == FR_OK && fsync(fd) != 0)
        rc = write_failed("fsync", tmp, errno);
    if (close(fd) != 0 && rc == FR_OK)
        rc = write_failed("close", tmp, errno);
    if (rc == FR_OK && rename(tmp, path) != 0)
        rc = write_failed("rename", path, errno);
    if (rc != FR_OK) {
        unlink(tmp);
        return rc;
    }
    rc = fr_file_fsync_dir_of(path);
    if (rc) { /* the new content is in place, its name maybe not durable */
        int e = errno;
        char what[PATH_MAX + 64];
        snprintf(what, sizeof what, "%s was replaced but may not survive a "
                 "crash: fsync of its directory: %s", path, strerror(e));
        fr_file_set_write_error(what);
    }
    return rc;
}

fr_err
fr_file_read_all(const char *path, size_t max_len, uint8_t **buf_out,
                 size_t *len_out)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t got = 0;
    fr_err rc = FR_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return fr_err_from_errno(errno);
    if (fstat(fd, &st) != 0) {
        rc = fr_err_from_errno(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = FR_EINVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max_len) {
        rc = FR_ELIMIT;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = FR_ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? fr_err_from_errno(errno) : FR_EPROTO;
            goto out;
        }
        got += (size_t)n;
    }
    buf[got] = '\0'; /* convenience for text files; not counted in len */
    *buf_out = buf;
    *len_out = got;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

uint32_t
fr_crc32(uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    static int ready;
    const uint8_t *p = data;

    if (!ready) { /* benign race: every thread computes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

void
fr_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void
fr_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t
fr_get_u32le(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t
fr_get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void
fr_rng_seed(fr_rng *rng, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
fr_rng_next(fr_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t
fr_rng_below(fr_rng *rng, uint64_t bound)
{
    uint64_t threshold = -bound % bound;
    for (;;) {
        uint64_t r = fr_rng_next(rng);
        if (r >= threshold)
            return r % bound;
    }
}

double
fr_rng_uniform(fr_rng *rng)
{
    return (double)(fr_rng_next(rng) >> 11) * 0x1.0p-53;
}

double
fr_rng_normal(fr_rng *rng)
{
    double u1 = fr_rng_uniform(rng), u2 = fr_rng_uniform(rng);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void
fr_errbuf_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!errbuf || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* Length of the UTF-8 sequence a lead byte starts, its payload bits and
 * smallest code point (to refuse overlong forms), or 0 for a byte that
 * cannot lead. */
static size_t
utf8_lead(unsigned char c, uint32_t *cp, uint32_t *min)
{
    if (c >= 0xc2 && c <= 0xdf) {
        *cp = c & 0x1fu;
        *min = 0x80;
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        *cp = c & 0x0fu;
        *min = 0x800;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        *cp = c & 0x07u;
        *min = 0x10000;
        return 4;
    }
    return 0;
}

size_t
fr_utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t min;
    size_t k;

    if (n == 0)
        return 0;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    k = utf8_lead(p[0], cp, &min);
    if (k == 0 || n < k)
        return 0;
    for (size_t j = 1; j < k; j++) {
        if ((p[j] & 0xc0) != 0x80)
            return 0;
        *cp = (*cp << 6) | (p[j] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return k;
}
