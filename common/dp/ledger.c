/*
 * ledger.c - the append-only privacy-budget ledger (see ledger.h).
 */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../base/util.h"
#include "../crypto/prim.h"

#define LEDGER_MAGIC     "fedrec-dp-ledger 1"
#define LEDGER_MAX_BYTES ((size_t)256 << 20)
#define LINE_MAX_CHARS   (64 + FR_DP_MAX_ORDERS * 26 + 128)

typedef struct record {
    uint64_t round_id;
    uint8_t hash[32];
    int committed;
} record;

struct fr_dp_ledger {
    int fd;
    fr_dp_orders orders;
    double delta, budget;
    double total[FR_DP_MAX_ORDERS]; /* composed RDP */
    record *rec;
    size_t n_rec, cap_rec;
    /* an append failed and could not be cut back: the file is cut to
     * good_end before the next one */
    int torn;
    off_t good_end;
    char last_err[160]; /* why the last append failed */
};

static int64_t
unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends " #CRC\n" to a line of len bytes (room for 11 more). */
static size_t
seal_line(char *line, size_t len)
{
    uint32_t crc = fr_crc32(0, (const uint8_t *)line, len);
    return len + (size_t)sprintf(line + len, " #%08x\n", crc);
}

/* Checks and strips the CRC of one line (without '\n'); 0 if bad. */
static int
unseal_line(char *line, size_t *len)
{
    char *end;
    unsigned long crc;

    if (*len < 11 || line[*len - 10] != ' ' || line[*len - 9] != '#')
        return 0;
    errno = 0;
    crc = strtoul(line + *len - 8, &end, 16);
    if (errno || end != line + *len)
        return 0;
    *len -= 10;
    return (uint32_t)crc == fr_crc32(0, (const uint8_t *)line, *len);
}

static fr_err
append_failed(fr_dp_ledger *l, const char *op, int errnum)
{
    snprintf(l->last_err, sizeof l->last_err, "%s: %s", op,
             strerror(errnum));
    return FR_ESYS;
}

/* Appends one sealed line and fsyncs it. A failed append is cut back off
 * the file, so what is on disk stays whole lines only (now, or before the
 * next append if the cut itself failed). */
static fr_err
write_all(fr_dp_ledger *l, const char *buf, size_t len)
{
    struct stat st;
    fr_err rc = FR_OK;

    if (l->torn) {
        if (ftruncate(l->fd, l->good_end) != 0)
            return append_failed(l, "cut back a torn record", errno);
        l->torn = 0;
    }
    if (fstat(l->fd, &st) != 0)
        return append_failed(l, "fstat", errno);
    while (len && rc == FR_OK) {
        ssize_t n = write(l->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = append_failed(l, "write", n < 0 ? errno : EIO);
            break;
        }
        buf += n;
        len -= (size_t)n;
    }
    if (rc == FR_OK && fsync(l->fd) != 0)
        rc = append_failed(l, "fsync", errno);
    if (rc && ftruncate(l->fd, st.st_size) != 0) {
        l->torn = 1;
        l->good_end = st.st_size;
    }
    return rc;
}

const char *
fr_dp_ledger_last_error(const fr_dp_ledger *l)
{
    return l->last_err;
}

/* Reads up to max doubles separated by spaces from *p; returns how many. */
static size_t
read_doubles(char **p, double *out, size_t max)
{
    size_t n = 0;
    while (n < max) {
        char *end;
        double v;
        while (**p == ' ')
            (*p)++;
        if (!**p)
            break;
        v = strtod(*p, &end);
        if (end == *p || (*end && *end != ' '))
            break;
        out[n++] = v;
        *p = end;
    }
    return n;
}

static fr_err
add_record(fr_dp_ledger *l, uint64_t round_id, const uint8_t hash[32])
{
    if (l->n_rec == l->cap_rec) {
        size_t cap = l->cap_rec ? 2 * l->cap_rec : 64;
        record *v = realloc(l->rec, cap * sizeof *v);
        if (!v)
            return FR_ENOMEM;
        l->rec = v;
        l->cap_rec = cap;
    }
    l->rec[l->n_rec].round_id = round_id;
    memcpy(l->rec[l->n_rec].hash, hash, 32);
    l->rec[l->n_rec].committed = 0;
    l->n_rec++;
    return FR_OK;
}

static record *
find(const fr_dp_ledger *l, uint64_t round_id)
{
    for (size_t i = l->n_rec; i-- > 0;)
        if (l->rec[i].round_id == round_id)
            return &l->rec[i];
    return NULL;
}

/* Parses the header line against the configuration. */
static fr_err
parse_header(fr_dp_ledger *l, char *line, double delta, double budget,
             char *err, size_t errlen)
{
    char *p = line + strlen(LEDGER_MAGIC);
    double file_delta, file_budget, a[FR_DP_MAX_ORDERS];
    unsigned long n;
    char *end;

    if (strncmp(line, LEDGER_MAGIC, strlen(LEDGER_MAGIC)) != 0 ||
        sscanf(p, " delta=%lf budget=%lf orders=%lu", &file_delta, &file_budget,
               &n) != 3 ||
        n != l->orders.n) {
        snprintf(err, errlen,
                 "the header is not a ledger header for %zu "
                 "orders",
                 l->orders.n);
        return FR_EPROTO;
    }
    p = strstr(p, "orders=");
    strtoul(p + 7, &end, 10);
    p = end;
    if (read_doubles(&p, a, FR_DP_MAX_ORDERS) != n || *p) {
        snprintf(err, errlen, "the header's order list is damaged");
        return FR_EPROTO;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != l->orders.a[i]) {
            snprintf(err, errlen, "the ledger uses another order grid");
            return FR_EINVAL;
        }
    if (file_delta != delta) {
        snprintf(err, errlen,
                 "the ledger was created with delta %.3g, the "
                 "configuration says %.3g",
                 file_delta, delta);
        return FR_EINVAL;
    }
    if (budget > file_budget) {
        snprintf(err, errlen,
                 "the ledger was created with an epsilon "
                 "budget of %.6g; raising it to %.6g is not allowed (start "
                 "a new ledger, on new members, by an explicit decision)",
                 file_budget, budget);
        return FR_EINVAL;
    }
    return FR_OK;
}

static fr_err
parse_record(fr_dp_ledger *l, char *line, size_t lineno, char *err,
             size_t errlen)
{
    char *p = line + 2, *end;
    unsigned long long id;
    record *r;

    if ((line[0] != 'R' && line[0] != 'C') || line[1] != ' ')
        goto bad;
    errno = 0;
    id = strtoull(p, &end, 10);
    if (errno || end == p || *end != ' ')
        goto bad;
    p = end + 1;
    if (line[0] == 'C') {
        if (!(r = find(l, id)))
            goto bad;
        r->committed = 1;
        return FR_OK;
    }
    {
        uint8_t hash[32];
        double rdp[FR_DP_MAX_ORDERS];
        if (fr_crypto_hex2bin(hash, 32, p) != FR_OK ||
            p[64] != ' ')
            goto bad;
        p += 65;
        strtoll(p, &end, 10); /* time stamp, for people */
        if (end == p)
            goto bad;
        p = end;
        if (read_doubles(&p, rdp, FR_DP_MAX_ORDERS) != l->orders.n || *p)
            goto bad;
        for (size_t i = 0; i < l->orders.n; i++) {
            if (isnan(rdp[i]) || rdp[i] < 0)
                goto bad;
            l->total[i] += rdp[i];
        }
        if (find(l, id))
            goto bad; /* each round is charged once */
        return add_record(l, id, hash);
    }
bad:
    snprintf(err, errlen, "line %zu is not a valid ledger record", lineno);
    return FR_EPROTO;
}

static fr_err
load(fr_dp_ledger *l, const char *path, double delta, double budget, char *err,
     size_t errlen)
{
    uint8_t *buf = NULL;
    size_t len = 0, pos = 0, lineno = 0, good_end = 0;
    fr_err rc = fr_file_read_all(path, LEDGER_MAX_BYTES, &buf, &len);

    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", path, fr_strerror(rc));
        return rc;
    }
    while (pos < len && rc == FR_OK) {
        char *line = (char *)buf + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - line) : len - pos;
        int last = !nl || pos + n + 1 >= len;

        lineno++;
        if (!nl || !unseal_line(line, &n)) {
            if (last && lineno > 1) /* a torn append: cut it off */
                break;
            snprintf(err, errlen, "line %zu of %s is damaged", lineno, path);
            rc = FR_EPROTO;
            break;
        }
        line[n] = 0;
        rc = lineno == 1 ? parse_header(l, line, delta, budget, err, errlen)
                         : parse_record(l, line, lineno, err, errlen);
        pos += (size_t)(nl - (char *)buf) - pos + 1;
        good_end = pos;
    }
    if (rc == FR_OK && lineno == 0) {
        snprintf(err, errlen, "%s is empty", path);
        rc = FR_EPROTO;
    }
    if (rc == FR_OK && good_end < len && ftruncate(l->fd, (off_t)good_end))
        rc = FR_ESYS;
    free(buf);
    return rc;
}

fr_err
fr_dp_ledger_open(fr_dp_ledger **out, const char *path,
                  const fr_dp_orders *orders, double delta, double budget,
                  char *err, size_t errlen)
{
    fr_dp_ledger *l;
    struct stat st;
    fr_err rc = FR_OK;

    if (!out || !path || !orders || orders->n == 0 ||
        orders->n > FR_DP_MAX_ORDERS || !(delta > 0 && delta < 1) ||
        !(budget > 0) || !isfinite(budget)) {
        snprintf(err, errlen, "invalid ledger parameters");
        return FR_EINVAL;
    }
    if (!(l = calloc(1, sizeof *l)))
        return FR_ENOMEM;
    l->orders = *orders;
    l->delta = delta;
    l->budget = budget;
    l->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (l->fd < 0 || fstat(l->fd, &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        rc = FR_ESYS;
    } else if (st.st_size == 0) {
        char *line = malloc(LINE_MAX_CHARS);
        int n;
        if (!line) {
            rc = FR_ENOMEM;
        } else {
            n = snprintf(line, LINE_MAX_CHARS,
                         LEDGER_MAGIC " delta=%.17g budget=%.17g orders=%zu",
                         delta, budget, orders->n);
            for (size_t i = 0; i < orders->n; i++)
                n += snprintf(line + n, LINE_MAX_CHARS - (size_t)n, " %.17g",
                              orders->a[i]);
            rc = write_all(l, line, seal_line(line, (size_t)n));
            if (rc)
                snprintf(err, errlen, "cannot write %s", path);
            free(line);
        }
    } else {
        rc = load(l, path, delta, budget, err, errlen);
    }
    if (rc) {
        fr_dp_ledger_close(&l);
        return rc;
    }
    *out = l;
    return FR_OK;
}

void
fr_dp_ledger_close(fr_dp_ledger **lp)
{
    if (!lp || !*lp)
        return;
    if ((*lp)->fd >= 0)
        close((*lp)->fd);
    free((*lp)->rec);
    free(*lp);
    *lp = NULL;
}

fr_err
fr_dp_ledger_epsilon(const fr_dp_ledger *l, const double *rdp_round,
                     double *eps_out)
{
    double sum[FR_DP_MAX_ORDERS];

    for (size_t i = 0; i < l->orders.n; i++)
        sum[i] = l->total[i] + (rdp_round ? rdp_round[i] : 0);
    return fr_dp_epsilon(&l->orders, sum, l->delta, eps_out, NULL);
}

fr_err
fr_dp_ledger_reserve(fr_dp_ledger *l, uint64_t round_id, const uint8_t hash[32],
                     const double *rdp_round)
{
    const record *r = find(l, round_id);
    char *line, hex[65];
    double eps;
    int n;
    fr_err rc;

    if (r)
        return memcmp(r->hash, hash, 32) == 0 ? FR_OK : FR_EINVAL;
    for (size_t i = 0; i < l->orders.n; i++)
        if (isnan(rdp_round[i]) || rdp_round[i] < 0)
            return FR_EINVAL;
    if ((rc = fr_dp_ledger_epsilon(l, rdp_round, &eps)))
        return rc;
    if (!(eps <= l->budget)) /* compared without tolerance (DP.md 5.3) */
        return FR_ELIMIT;
    if (!(line = malloc(LINE_MAX_CHARS)))
        return FR_ENOMEM;
    fr_crypto_bin2hex(hex, hash, 32);
    n = snprintf(line, LINE_MAX_CHARS, "R %llu %s %lld",
                 (unsigned long long)round_id, hex, (long long)unix_ms());
    for (size_t i = 0; i < l->orders.n; i++)
        n += snprintf(line + n, LINE_MAX_CHARS - (size_t)n, " %.17g",
                      rdp_round[i]);
    rc = write_all(l, line, seal_line(line, (size_t)n));
    free(line);
    if (rc)
        return rc;
    if ((rc = add_record(l, round_id, hash)))
        return rc; /* on disk already: the next open counts it */
    for (size_t i = 0; i < l->orders.n; i++)
        l->total[i] += rdp_round[i];
    return FR_OK;
}

fr_err
fr_dp_ledger_commit(fr_dp_ledger *l, uint64_t round_id)
{
    record *r = find(l, round_id);
    char line[96];
    int n;
    fr_err rc;

    if (!r)
        return FR_ENOENT;
    if (r->committed)
        return FR_OK;
    n = snprintf(line, sizeof line - 12, "C %llu %lld",
                 (unsigned long long)round_id, (long long)unix_ms());
    if ((rc = write_all(l, line, seal_line(line, (size_t)n))))
        return rc;
    r->committed = 1;
    return FR_OK;
}

size_t
fr_dp_ledger_rounds(const fr_dp_ledger *l)
{
    return l->n_rec;
}

double
fr_dp_ledger_budget(const fr_dp_ledger *l)
{
    return l->budget;
}

double
fr_dp_ledger_delta(const fr_dp_ledger *l)
{
    return l->delta;
}

int
fr_dp_ledger_has(const fr_dp_ledger *l, uint64_t round_id)
{
    return find(l, round_id) != NULL;
}

static void
hash_u64(fr_crypto_hash_state *st, uint64_t v)
{
    uint8_t b[8];
    fr_put_u64le(b, v);
    fr_crypto_hash_update(st, b, 8);
}

static void
hash_f64(fr_crypto_hash_state *st, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    hash_u64(st, u);
}

void
fr_dp_round_hash(const fr_dp_setup *d, uint64_t round_id, uint8_t out[32])
{
    fr_crypto_hash_state st;

    fr_crypto_hash_init(&st, 32);
    fr_crypto_hash_update(&st, "fedrec-dp-round", 15);
    hash_u64(&st, round_id);
    hash_u64(&st, d->mechanism);
    hash_f64(&st, d->clip);
    hash_f64(&st, d->q);
    hash_f64(&st, d->scale);
    hash_u64(&st, d->sigma2_int);
    hash_u64(&st, d->dim);
    hash_u64(&st, d->rotation_seed);
    hash_u64(&st, d->n_target);
    hash_u64(&st, d->t_collude);
    hash_f64(&st, d->delta);
    hash_f64(&st, d->epsilon_budget);
    hash_f64(&st, d->l2_sens);
    hash_f64(&st, d->l1_sens);
    fr_crypto_hash_final(&st, out, 32);
}
