/*
 * audit.c - the hash-chained, signed audit log itself (see audit.h).
 *
 * Every line is built and parsed behind the 16-byte domain prefix in one
 * buffer, so an entry's hash is one BLAKE2b call over prefix + signed part.
 * The parser is strict (exact field count, canonical decimals, lowercase
 * hex, the same event and detail rules as appending): a line either is
 * exactly what fr_audit_append would write or it is malformed.
 *
 * Verification checks each line in order: well-formed, then its signature
 * (so nothing on a line is trusted before it), then its place (seq) and
 * then its link to the previous hash. The first failure ends the walk.
 */
#include "audit.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DOMAIN         "fedrec-audit-v1\n"
#define DOMAIN_LEN     (sizeof(DOMAIN) - 1)
#define N_FIELDS       6
#define PREV_HEX_CHARS (2 * FR_AUDIT_HASH_BYTES)
#define SIG_HEX_CHARS  (2 * FR_CRYPTO_SIG_BYTES)
/* Longest well-formed line without its '\n': 20-digit seq, 19-digit time,
 * the longest event and detail, both hex fields and five tabs (1268). */
#define LINE_MAX_BYTES                                                         \
    (20 + 19 + FR_AUDIT_EVENT_MAX + FR_AUDIT_DETAIL_MAX + PREV_HEX_CHARS +     \
     SIG_HEX_CHARS + 5)

_Static_assert(FR_AUDIT_HASH_BYTES == FR_CRYPTO_PK_BYTES,
               "hash and key hex helpers share a width");

/* One parsed line. signed_len counts the line's bytes that the hash covers
 * (everything up to and including prev_hash_hex). */
typedef struct entry {
    uint64_t seq;
    size_t signed_len;
    uint8_t prev[FR_AUDIT_HASH_BYTES];
    uint8_t sig[FR_CRYPTO_SIG_BYTES];
    uint8_t hash[FR_AUDIT_HASH_BYTES];
} entry;

/* Line buffer: domain prefix, the line, its '\n', a NUL. */
typedef struct line_buf {
    char b[DOMAIN_LEN + LINE_MAX_BYTES + 2];
} line_buf;

static char *
line_start(line_buf *lb)
{
    memcpy(lb->b, DOMAIN, DOMAIN_LEN);
    return lb->b + DOMAIN_LEN;
}

static int
valid_event(const char *s, size_t n)
{
    if (n < 1 || n > FR_AUDIT_EVENT_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_'))
            return 0;
    return 1;
}

/* Printable UTF-8: no C0/C1 controls or DEL (so no tab, CR, LF or NUL), no
 * overlong forms, surrogates or code points past U+10FFFF. */
static int
valid_detail(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    if (n > FR_AUDIT_DETAIL_MAX)
        return 0;
    while (i < n) {
        uint32_t cp;
        size_t k;

        if (p[i] < 0x80) {
            if (p[i] < 0x20 || p[i] == 0x7f)
                return 0;
            i++;
            continue;
        }
        k = fr_utf8_next(p + i, n - i, &cp);
        if (k == 0)
            return 0;
        if (cp <= 0x9f) /* C1 controls */
            return 0;
        i += k;
    }
    return 1;
}

/* Canonical decimal in [0, max]: digits only, no leading zero. */
static int
parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (n < 1 || n > 20 || (n > 1 && s[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return 0;
        d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *out = v;
    return 1;
}

static int
hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Exactly 2 * len lowercase hex characters. */
static int
parse_hex(const char *s, size_t n, uint8_t *out, size_t len)
{
    if (n != 2 * len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 1;
}

static void
to_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0xf];
    }
}

/* Checks the six fields of a line, filling e; NULL if all are good, else
 * what is wrong. */
static const char *
check_fields(const char *const f[N_FIELDS], const size_t fl[N_FIELDS], entry *e)
{
    uint64_t ms;

    if (!parse_dec(f[0], fl[0], UINT64_MAX, &e->seq) || e->seq == 0)
        return "bad sequence number";
    if (!parse_dec(f[1], fl[1], INT64_MAX, &ms))
        return "bad timestamp";
    if (!valid_event(f[2], fl[2]))
        return "bad event name";
    if (!valid_detail(f[3], fl[3]))
        return "bad detail";
    if (!parse_hex(f[4], fl[4], e->prev, sizeof e->prev))
        return "bad previous-hash field";
    if (!parse_hex(f[5], fl[5], e->sig, sizeof e->sig))
        return "bad signature field";
    return NULL;
}

/* Parses line (len bytes, no '\n'). On failure *what names the problem. */
static fr_err
parse_line(const char *line, size_t len, entry *e, const char **what)
{
    const char *f[N_FIELDS];
    size_t fl[N_FIELDS], start = 0;
    int nf = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] != '\t')
            continue;
        if (nf == N_FIELDS) {
            *what = "too many fields";
            return FR_EPROTO;
        }
        f[nf] = line + start;
        fl[nf++] = i - start;
        start = i + 1;
    }
    *what = nf != N_FIELDS ? "too few fields" : check_fields(f, fl, e);
    if (*what)
        return FR_EPROTO;
    e->signed_len = (size_t)(f[4] + fl[4] - line);
    return FR_OK;
}

/* Hash of a parsed entry whose line starts at lb's line_start. */
static void
entry_hash(const line_buf *lb, entry *e)
{
    fr_crypto_hash(e->hash, sizeof e->hash, lb->b, DOMAIN_LEN + e->signed_len);
}

/* ---- appending ---- */

static int64_t
unix_ms(void)
{
    struct timespec ts;
    int64_t ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ms < 0 ? 0 : ms;
}

/* Builds and signs entry head->seq + 1; returns the line's length with its
 * '\n' and the entry's hash. */
static size_t
build_line(line_buf *lb, const fr_crypto_signkey *id, const char *event,
           const char *detail, const fr_audit_head *head,
           uint8_t hash_out[FR_AUDIT_HASH_BYTES])
{
    char *line = line_start(lb);
    uint8_t sig[FR_CRYPTO_SIG_BYTES];
    int n;
    size_t len;

    n = snprintf(line, LINE_MAX_BYTES + 2, "%" PRIu64 "\t%" PRId64 "\t%s\t%s\t",
                 head->seq + 1, unix_ms(), event, detail);
    FR_ASSERT(n > 0 &&
              (size_t)n + PREV_HEX_CHARS + SIG_HEX_CHARS + 1 <= LINE_MAX_BYTES);
    len = (size_t)n;
    to_hex(head->hash, FR_AUDIT_HASH_BYTES, line + len);
    len += PREV_HEX_CHARS;
    fr_crypto_hash(hash_out, FR_AUDIT_HASH_BYTES, lb->b, DOMAIN_LEN + len);
    fr_crypto_sign(id, hash_out, FR_AUDIT_HASH_BYTES, sig);
    line[len++] = '\t';
    to_hex(sig, sizeof sig, line + len);
    len += SIG_HEX_CHARS;
    line[len++] = '\n';
    return len;
}

/* Opens path for appending, creating it 0600 if missing (*created = 1). */
static fr_err
open_append(const char *path, int *fd_out, int *created)
{
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd >= 0) {
            *fd_out = fd;
            *created = 0;
            return FR_OK;
        }
        if (errno != ENOENT)
            return fr_err_from_errno(errno);
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC,
                  0600);
        if (fd >= 0) {
            *fd_out = fd;
            *created = 1;
            return FR_OK;
        }
        if (errno != EEXIST)
            return fr_err_from_errno(errno);
    }
    return FR_ESYS;
}

/* Writes all of buf at the end of fd and fsyncs it; on failure cuts the
 * file back to its old length so no torn line stays behind. */
static fr_err
write_synced(int fd, const char *path, const char *buf, size_t len)
{
    struct stat st;
    size_t done = 0;
    fr_err rc = FR_OK;

    if (fstat(fd, &st) != 0)
        return fr_err_from_errno(errno);
    if (!S_ISREG(st.st_mode))
        return FR_EINVAL;
    while (done < len) {
        ssize_t n = write(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;
            fr_file_note_write_error("write", path, e);
            rc = n < 0 ? fr_err_from_errno(e) : FR_ESYS;
            break;
        }
        done += (size_t)n;
    }
    if (rc == FR_OK && fsync(fd) != 0) {
        int e = errno;
        fr_file_note_write_error("fsync", path, e);
        rc = fr_err_from_errno(e);
    }
    if (rc != FR_OK && ftruncate(fd, st.st_size) != 0) {
        /* Nothing more to do: the caller sees rc; verify would name the
         * torn line as malformed. */
    }
    return rc;
}

fr_err
fr_audit_append(const char *path, const fr_crypto_signkey *id,
                const char *event, const char *detail, fr_audit_head *head)
{
    line_buf lb;
    uint8_t hash[FR_AUDIT_HASH_BYTES];
    size_t len;
    int fd = -1, created = 0;
    fr_err rc;

    FR_ASSERT(path && id && head);
    /* strnlen bounds the scan; one byte too many fails the length check. */
    if (!event || !detail ||
        !valid_event(event, strnlen(event, FR_AUDIT_EVENT_MAX + 1)) ||
        !valid_detail(detail, strnlen(detail, FR_AUDIT_DETAIL_MAX + 1)))
        return FR_EINVAL;
    if (head->seq == UINT64_MAX)
        return FR_ELIMIT;
    len = build_line(&lb, id, event, detail, head, hash);
    rc = open_append(path, &fd, &created);
    if (rc)
        return rc;
    rc = write_synced(fd, path, line_start(&lb), len);
    if (close(fd) != 0 && rc == FR_OK)
        rc = fr_err_from_errno(errno);
    if (rc == FR_OK && created)
        rc = fr_file_fsync_dir_of(path);
    if (rc) {
        if (created)
            unlink(path);
        return rc;
    }
    head->seq++;
    memcpy(head->hash, hash, sizeof hash);
    return FR_OK;
}

/* ---- reading the head ---- */

static fr_err
pread_all(int fd, char *buf, size_t len, off_t off)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fr_err_from_errno(errno);
        if (n == 0)
            return FR_EPROTO; /* shrank under us */
        done += (size_t)n;
    }
    return FR_OK;
}

/* Reads the file's last line (without '\n') into lb; *len_out = 0 and
 * FR_OK for an empty file. */
static fr_err
read_last_line(int fd, line_buf *lb, size_t *len_out)
{
    char tail[LINE_MAX_BYTES + 2];
    struct stat st;
    size_t n, start;
    fr_err rc;

    if (fstat(fd, &st) != 0)
        return fr_err_from_errno(errno);
    if (!S_ISREG(st.st_mode))
        return FR_EINVAL;
    *len_out = 0;
    if (st.st_size == 0)
        return FR_OK;
    n = (uint64_t)st.st_size < sizeof tail ? (size_t)st.st_size : sizeof tail;
    rc = pread_all(fd, tail, n, st.st_size - (off_t)n);
    if (rc)
        return rc;
    if (tail[n - 1] != '\n')
        return FR_EPROTO; /* torn last write */
    start = n - 1;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    if (start == 0 && n < (size_t)st.st_size)
        return FR_EPROTO; /* line too long to be well-formed */
    if (n - 1 - start > LINE_MAX_BYTES)
        return FR_EPROTO;
    memcpy(line_start(lb), tail + start, n - 1 - start);
    *len_out = n - 1 - start;
    return FR_OK;
}

fr_err
fr_audit_read_head(const char *path, fr_audit_head *out)
{
    line_buf lb;
    entry e;
    const char *what;
    size_t len = 0;
    fr_err rc;
    int fd;

    FR_ASSERT(path && out);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fr_err_from_errno(errno);
    rc = read_last_line(fd, &lb, &len);
    close(fd);
    if (rc)
        return rc;
    if (len == 0) {
        memset(out, 0, sizeof *out);
        return FR_OK;
    }
    rc = parse_line(line_start(&lb), len, &e, &what);
    if (rc)
        return rc;
    entry_hash(&lb, &e);
    out->seq = e.seq;
    memcpy(out->hash, e.hash, sizeof e.hash);
    return FR_OK;
}

/* ---- verifying ---- */

enum { LINE_EOF, LINE_OK, LINE_LONG, LINE_UNTERMINATED, LINE_IOERR };

/* Reads one line into buf (at most cap bytes, '\n' not stored). A longer
 * line is consumed to its end and reported as LINE_LONG. */
static int
read_line(FILE *f, char *buf, size_t cap, size_t *len_out)
{
    size_t n = 0;
    int c, too_long = 0;

    while ((c = getc(f)) != EOF && c != '\n') {
        if (n < cap)
            buf[n++] = (char)c;
        else
            too_long = 1;
    }
    *len_out = n;
    if (c == EOF && ferror(f))
        return LINE_IOERR;
    if (c == EOF)
        return n == 0 && !too_long ? LINE_EOF : LINE_UNTERMINATED;
    return too_long ? LINE_LONG : LINE_OK;
}

typedef struct walk {
    const uint8_t *pk;
    const fr_audit_head *expect;
    uint64_t good; /* entries verified so far */
    uint64_t bad;  /* seq or line number of the first bad one */
    uint8_t prev[FR_AUDIT_HASH_BYTES];
    char *why;
    size_t whylen;
} walk;

static fr_err fail(walk *w, fr_err rc, uint64_t bad, const char *fmt, ...)
    FR_PRINTF(4, 5);

static fr_err
fail(walk *w, fr_err rc, uint64_t bad, const char *fmt, ...)
{
    va_list ap;

    w->bad = bad;
    if (w->why && w->whylen > 0) {
        va_start(ap, fmt);
        vsnprintf(w->why, w->whylen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Checks the entry on line lineno (len bytes at lb's line_start). */
static fr_err
check_line(walk *w, line_buf *lb, size_t len, uint64_t lineno)
{
    uint64_t want = w->good + 1;
    const char *what;
    entry e;

    if (parse_line(line_start(lb), len, &e, &what))
        return fail(w, FR_EPROTO, lineno, "line %" PRIu64 ": malformed (%s)",
                    lineno, what);
    entry_hash(lb, &e);
    if (fr_crypto_verify(w->pk, e.hash, sizeof e.hash, e.sig))
        return fail(w, FR_EAUTH, want,
                    "entry %" PRIu64 ": signature does not verify", want);
    if (e.seq > want)
        return fail(w, FR_EPROTO, e.seq,
                    "entry %" PRIu64 ": found where entry %" PRIu64
                    " was expected (entry removed, or entries reordered?)",
                    e.seq, want);
    if (e.seq < want)
        return fail(w, FR_EPROTO, e.seq,
                    "entry %" PRIu64 ": found after entry %" PRIu64
                    " (entries repeated or reordered?)",
                    e.seq, w->good);
    if (memcmp(e.prev, w->prev, sizeof e.prev) != 0)
        return fail(w, FR_EAUTH, e.seq,
                    "entry %" PRIu64 ": previous-hash link broken (entry "
                    "removed or reordered?)",
                    e.seq);
    if (w->expect && w->expect->seq == e.seq &&
        memcmp(w->expect->hash, e.hash, sizeof e.hash) != 0)
        return fail(w, FR_EAUTH, e.seq,
                    "entry %" PRIu64 ": hash differs from the one the store "
                    "recorded (log rewritten?)",
                    e.seq);
    memcpy(w->prev, e.hash, sizeof e.hash);
    w->good++;
    return FR_OK;
}

static fr_err
walk_file(walk *w, FILE *f)
{
    line_buf lb;
    uint64_t lineno = 0;
    size_t len;
    fr_err rc;

    for (;;) {
        int r = read_line(f, line_start(&lb), LINE_MAX_BYTES, &len);
        if (r == LINE_EOF)
            break;
        lineno++;
        if (r == LINE_IOERR)
            return fail(w, FR_ESYS, lineno, "line %" PRIu64 ": read error",
                        lineno);
        if (r == LINE_LONG)
            return fail(w, FR_EPROTO, lineno,
                        "line %" PRIu64 ": malformed (longer than %d bytes)",
                        lineno, LINE_MAX_BYTES);
        if (r == LINE_UNTERMINATED)
            return fail(w, FR_EPROTO, lineno,
                        "line %" PRIu64 ": malformed (no newline at the end "
                        "of the file: torn write?)",
                        lineno);
        rc = check_line(w, &lb, len, lineno);
        if (rc)
            return rc;
    }
    if (w->expect && w->expect->seq > w->good)
        return fail(w, FR_EPROTO, w->good + 1,
                    "entry %" PRIu64 " missing: the log ends at %" PRIu64
                    " but the store recorded %" PRIu64,
                    w->good + 1, w->good, w->expect->seq);
    return FR_OK;
}

fr_err
fr_audit_verify(const char *path, const uint8_t pk[32],
                const fr_audit_head *expect, uint64_t *n_entries,
                uint64_t *first_bad, char *why, size_t whylen)
{
    walk w = {.pk = pk, .expect = expect, .why = why, .whylen = whylen};
    FILE *f;
    fr_err rc;

    FR_ASSERT(path && pk);
    if (why && whylen > 0)
        why[0] = '\0';
    f = fopen(path, "rb");
    if (!f) {
        rc = fr_err_from_errno(errno);
        fail(&w, rc, 0, "cannot open %s: %s", path, fr_strerror(rc));
    } else {
        rc = walk_file(&w, f);
        fclose(f);
    }
    if (n_entries)
        *n_entries = w.good;
    if (first_bad)
        *first_bad = w.bad;
    return rc;
}
