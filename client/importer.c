/*
 * importer.c - minimising CSV import (see importer.h).
 *
 * The file is read one record at a time through a fixed 64 KiB buffer, so a
 * hostile or broken export cannot make us allocate without bound. The reader
 * (csv.c) follows RFC 4180 quote state byte by byte to know where a record
 * ends (a quoted field may hold a newline); the splitter then cuts the
 * record into fields in place. Every record is validated whole (UTF-8, NUL, length)
 * before any column is looked at, so a bad byte in a column we are about to
 * discard still stops the import: we do not want to half-understand a file.
 *
 * Raw member ids and everything else from the file pass through the record
 * buffer and the row array. Both are wiped before they are freed, and the row
 * array is never realloc'd in place (realloc would free an unwiped copy).
 * Once an error is seen no more rows are kept; parsing goes on only to collect
 * further messages for the operator.
 */
#include "importer_int.h"

#include <stdbool.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/progress.h"
#include "base/util.h"
#include "crypto/crypto.h"
#include "csv.h"

const char *const import_kept_columns[] = {
    "member_id", "item_id", "timestamp", "quantity", NULL,
};
const char *const import_policy_columns[] = {"price", "invoice", "store",
                                             NULL};

/* name, and whether it may match anywhere inside a column name (distinctive
 * stems); the others match as a whole name or as whole words. */
/* clang-format off */
/* Records between progress updates (an update reads the file offset). */
#define PROGRESS_EVERY 1024

#define IDENTIFIERS(X)                                                         \
    X("name", 0) X("first_name", 1) X("last_name", 1) X("full_name", 1)        \
    X("surname", 1) X("email", 1) X("e_mail", 0) X("mail", 0) X("phone", 1)    \
    X("mobile", 1) X("telephone", 1) X("tel", 0) X("address", 1)               \
    X("street", 1) X("city", 0) X("zip", 0) X("zip_code", 1)                   \
    X("postcode", 1) X("postal_code", 1) X("birth", 1) X("birthday", 1)        \
    X("birth_date", 1) X("dob", 0) X("date_of_birth", 1)                       \
    X("national_id", 1) X("ssn", 0) X("passport", 1) X("id_number", 0)         \
    X("card_number", 1) X("credit_card", 1) X("iban", 0) X("ip", 0)            \
    X("ip_address", 1) X("姓名", 1) X("姓氏", 1) X("電話", 1) X("手機", 1)    \
    X("地址", 1) X("住址", 1) X("電子郵件", 1) X("電子信箱", 1) X("生日", 1)  \
    X("身分證", 1) X("身份證", 1) X("護照", 1) X("信用卡", 1)
/* clang-format on */

#define ID_NAME(n, a)     n,
#define ID_ANYWHERE(n, a) a,
const char *const import_identifier_names[] = {IDENTIFIERS(ID_NAME) NULL};
static const unsigned char identifier_anywhere[] = {IDENTIFIERS(ID_ANYWHERE)};
_Static_assert(sizeof identifier_anywhere + 1 ==
                   FR_ARRAY_LEN(import_identifier_names),
               "one flag per identifier name");

/* Words that make "name" the name of a thing, not of a person. */
static const char *const thing_words[] = {
    "item",     "product",    "store", "shop",      "branch",   "brand",
    "category", "sku",        "file",  "company",   "merchant", "vendor",
    "supplier", "department", "dept",  "article",   "goods",    "menu",
    "plan",     "campaign",   "promo", "promotion", "coupon",   "device",
    "model",    "event",      "list",  "program",   "project",  "group",
    "tag",      "table",      "host",  "domain",    "payment",
};

#define WORDS_MAX 256

/* ---- errors ---------------------------------------------------------- */

typedef struct errs {
    char *buf;
    size_t cap, len;
    const char *path;
    size_t n, max; /* errors counted; messages shown at most */
    int full;
} errs;

/* Appends s[0..n) if there is room; otherwise what fits, cut before a UTF-8
 * continuation byte, and nothing more afterwards. */
static void
err_append(errs *e, const char *s, size_t n)
{
    size_t room;

    if (e->full || !e->buf || e->cap == 0)
        return;
    room = e->cap - 1 - e->len;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        e->full = 1;
    }
    memcpy(e->buf + e->len, s, n);
    e->len += n;
    e->buf[e->len] = '\0';
}

/* Appends "PATH:LINE: reason" (line 0: "PATH: reason") as a new line. */
static void
err_vappend(errs *e, unsigned long line, const char *fmt, va_list ap)
{
    char msg[512];
    int n;

    if (e->len)
        err_append(e, "\n", 1);
    err_append(e, e->path, strlen(e->path));
    if (line)
        n = snprintf(msg, sizeof msg, ":%lu: ", line);
    else
        n = snprintf(msg, sizeof msg, ": ");
    err_append(e, msg, (size_t)n);
    n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n >= (int)sizeof msg)
        n = (int)sizeof msg - 1;
    err_append(e, msg, n > 0 ? (size_t)n : 0);
}

static void err_line(errs *e, unsigned long line, const char *fmt, ...)
    FR_PRINTF(3, 4);

/* Counts an error and records its message while fewer than max are shown. */
static void
err_line(errs *e, unsigned long line, const char *fmt, ...)
{
    va_list ap;

    if (++e->n > e->max)
        return;
    va_start(ap, fmt);
    err_vappend(e, line, fmt, ap);
    va_end(ap);
}

static void err_more(errs *e, const char *fmt, ...) FR_PRINTF(2, 3);

static void
err_more(errs *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    err_vappend(e, 0, fmt, ap);
    va_end(ap);
}

/* Says how many errors were counted but not shown. */
static void
err_finish(errs *e)
{
    if (e->n > e->max)
        err_more(e, "%zu more error%s not shown", e->n - e->max,
                 e->n - e->max == 1 ? "" : "s");
}

/* ---- reading records ------------------------------------------------- */

char *
import_trim(char *s)
{
    return csv_trim(s);
}

static int
ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

bool
import_equal_nocase(const char *a, const char *b)
{
    while (*a &&
           ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b))
        a++, b++;
    return *a == '\0' && *b == '\0';
}

/* ---- identifier columns ---------------------------------------------- */

/* "_word_word_": lower case, separators and camelCase boundaries as single
 * '_', cut at WORDS_MAX bytes. */
static void
to_words(const char *name, char *out)
{
    size_t n = 0;
    int prev = 0;

    out[n++] = '_';
    for (; *name && n < WORDS_MAX - 3; name++) { /* up to 2 per byte */
        int c = (unsigned char)*name;
        int sep = c == ' ' || c == '_' || c == '-' || c == '.' || c == '/' ||
                  c == '\t';
        int camel =
            c >= 'A' && c <= 'Z' &&
            ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9'));

        if ((sep || camel) && out[n - 1] != '_')
            out[n++] = '_';
        if (!sep)
            out[n++] = (char)ascii_lower(c);
        prev = c;
    }
    if (out[n - 1] != '_')
        out[n++] = '_';
    out[n] = '\0';
}

static void
strip_seps(const char *words, char *out)
{
    for (; *words; words++)
        if (*words != '_')
            *out++ = *words;
    *out = '\0';
}

static bool
has_word(const char *words, const char *word)
{
    char pat[WORDS_MAX];

    snprintf(pat, sizeof pat, "_%s_", word);
    return strstr(words, pat) != NULL;
}

static bool
names_a_thing(const char *words)
{
    for (size_t i = 0; i < FR_ARRAY_LEN(thing_words); i++)
        if (has_word(words, thing_words[i]))
            return true;
    return false;
}

static bool
is_identifier(const char *name)
{
    char words[WORDS_MAX], flat[WORDS_MAX], id_flat[WORDS_MAX];

    to_words(name, words);
    strip_seps(words, flat);
    for (size_t i = 0; import_identifier_names[i]; i++) {
        const char *id = import_identifier_names[i];

        strip_seps(id, id_flat);
        if (!strcmp(flat, id_flat))
            return true;
        if (identifier_anywhere[i] && strstr(flat, id_flat))
            return true;
        if (has_word(words, id) &&
            (strcmp(id, "name") || !names_a_thing(words)))
            return true;
    }
    return false;
}

/* ---- the header ------------------------------------------------------ */

/* Copies name into a reported slot, cut on a character boundary. */
static void
copy_name(char dst[IMPORT_NAME_MAX], const char *name)
{
    size_t n = strlen(name);

    if (n >= IMPORT_NAME_MAX) {
        n = IMPORT_NAME_MAX - 1;
        while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, name, n);
    dst[n] = '\0';
}

/* The profile's names for the mapped columns ("" when unmapped). */
static void
schema_init(schema *sc, const import_profile *p, size_t n_fields)
{
    const import_profile_conf *c = &p->conf;

    sc->name[COL_MEMBER] = c->member_column;
    sc->name[COL_ITEM] = c->item_column;
    sc->name[COL_TIME] = c->time_column;
    sc->name[COL_QUANTITY] = c->quantity_column;
    sc->name[COL_PRICE] = c->price_column;
    sc->name[COL_INVOICE] = c->invoice_column;
    sc->name[COL_STORE] = c->store_column;
    for (int k = 0; k < N_COLS; k++)
        sc->col[k] = -1;
    sc->n_fields = n_fields;
}

/* Maps one header name: a mapped column, else a discarded one. */
static void
header_name(const char *name, size_t i, unsigned long line, schema *sc,
            import_result *res, errs *e)
{
    int k = 0;

    while (k < N_COLS &&
           (!*sc->name[k] || !import_equal_nocase(name, sc->name[k])))
        k++;
    if (k < N_COLS && sc->col[k] >= 0) {
        err_line(e, line, "header names %s more than once", sc->name[k]);
        return;
    }
    if (k < N_COLS)
        sc->col[k] = (int)i;
    if (k < N_STORED)
        return;
    copy_name(res->discarded[res->n_discarded++], name);
    if (is_identifier(name))
        copy_name(res->identifiers[res->n_identifiers++], name);
    if (k < N_COLS)
        copy_name(res->policy_read[res->n_policy_read++], name);
}

static fr_err
read_header(const fields *fl, unsigned long line, schema *sc,
            const import_profile *p, import_result *res, errs *e)
{
    char missing[4 * PROFILE_NAME_MAX + 16] = "";
    size_t before = e->n;

    schema_init(sc, p, fl->n);
    res->discarded = calloc(fl->n, sizeof *res->discarded);
    res->identifiers = calloc(fl->n, sizeof *res->identifiers);
    res->policy_read = calloc(fl->n, sizeof *res->policy_read);
    if (!res->discarded || !res->identifiers || !res->policy_read)
        return FR_ENOMEM;
    for (size_t i = 0; i < fl->n; i++)
        header_name(import_trim(fl->f[i]), i, line, sc, res, e);
    for (int k = 0; k < N_COLS; k++) {
        bool required = k == COL_QUANTITY ? p->conf.quantity_required != 0
                                          : k < COL_QUANTITY || *sc->name[k];
        if (required && sc->col[k] < 0 &&
            strlen(missing) + strlen(sc->name[k]) + 3 < sizeof missing) {
            strcat(missing, *missing ? ", " : "");
            strcat(missing, sc->name[k]);
        }
    }
    if (*missing)
        err_line(e, line, "header lacks the required column(s) %s", missing);
    res->has_quantity = sc->col[COL_QUANTITY] >= 0;
    return e->n > before ? FR_EINVAL : FR_OK;
}

/* ---- the row array --------------------------------------------------- */

typedef struct rows {
    import_row *v;
    size_t n, cap;
} rows;

static void
rows_clear(rows *rs)
{
    if (rs->v)
        fr_crypto_wipe(rs->v, rs->cap * sizeof *rs->v);
    free(rs->v);
    rs->v = NULL;
    rs->n = rs->cap = 0;
}

/* Appends a copy of row, growing by copy-then-wipe rather than realloc. */
static fr_err
rows_push(rows *rs, const import_row *row)
{
    if (rs->n == rs->cap) {
        size_t n = rs->n, cap = rs->cap ? rs->cap * 2 : 1024;
        import_row *v;

        if (cap > SIZE_MAX / sizeof *v)
            return FR_ENOMEM;
        v = malloc(cap * sizeof *v);
        if (!v)
            return FR_ENOMEM;
        if (n)
            memcpy(v, rs->v, n * sizeof *v);
        rows_clear(rs);
        rs->v = v;
        rs->n = n;
        rs->cap = cap;
    }
    rs->v[rs->n++] = *row;
    return FR_OK;
}

/* ---- the whole file -------------------------------------------------- */

/* Record-level problems: too long, NUL, quoting, UTF-8. True if any
 * (reported in e). */
static bool
record_broken(const csv_reader *rd, int flags, unsigned long line, errs *e)
{
    char why[CSV_REASON_MAX];

    if (!csv_record_problem(rd, flags, why))
        return false;
    err_line(e, line, "%s", why);
    return true;
}

typedef struct parse_state {
    csv_reader rd;
    schema sc;
    row_policy pol;
    rows rs;
    fields fl;
    import_counts counts;
    canon_count *cc;
    int have_header;
} parse_state;

/* Counts the member id's spelling (the trimmed field; row holds the
 * canonical form) and appends the row. */
static fr_err
keep_row(parse_state *ps, const import_row *row)
{
    const char *raw = import_trim(ps->fl.f[ps->sc.col[COL_MEMBER]]);
    fr_err rc = canon_count_add(ps->cc, raw, strlen(raw), row->member_id);

    return rc ? rc : rows_push(&ps->rs, row);
}

/* Judges one data record (its fields split) and keeps or counts it. */
static fr_err
handle_row(parse_state *ps, unsigned long line, errs *e)
{
    import_row row;
    char why[ROW_REASON_MAX];
    fr_err rc = FR_OK;
    row_outcome o;

    ps->counts.rows_read++;
    if (ps->fl.n != ps->sc.n_fields) {
        err_line(e, line, "wrong field count: %zu, the header has %zu",
                 ps->fl.n, ps->sc.n_fields);
        return FR_OK;
    }
    o = import_judge_row(&ps->fl, &ps->sc, &ps->pol, &row, why);
    switch (o) {
    case ROW_BAD: err_line(e, line, "%s", why); break;
    case ROW_GUEST: ps->counts.guest++; break;
    case ROW_NON_PRODUCT: ps->counts.non_product++; break;
    case ROW_ZERO: ps->counts.zero_quantity++; break;
    case ROW_PURCHASE:
    case ROW_RETURN:
        *(o == ROW_RETURN ? &ps->counts.kept_return
                          : &ps->counts.kept_purchase) += 1;
        if (e->n == 0)
            rc = keep_row(ps, &row);
        break;
    }
    fr_crypto_wipe(&row, sizeof row);
    return rc;
}

/* Handles one non-blank record. FR_EINVAL only for a broken header (which
 * ends parsing); row errors are collected in e and parsing goes on. */
static fr_err
handle_record(parse_state *ps, int flags, unsigned long line,
              import_result *res, errs *e)
{
    fr_err rc;

    if (record_broken(&ps->rd, flags, line, e))
        return ps->have_header ? FR_OK : FR_EINVAL;
    rc = csv_split(ps->rd.buf, &ps->fl);
    if (!ps->have_header) {
        ps->have_header = 1;
        if (rc) {
            err_line(e, line,
                     rc == FR_ELIMIT ? "header has more than %d "
                                       "columns"
                                     : "malformed quoting in the header",
                     IMPORT_MAX_COLUMNS);
            return FR_EINVAL;
        }
        return read_header(&ps->fl, line, &ps->sc, ps->pol.prof, res, e);
    }
    if (rc == FR_EPROTO) {
        err_line(e, line, "malformed quoting (text after a closing quote)");
        return FR_OK;
    }
    if (rc == FR_ELIMIT) {
        err_line(e, line,
                 "wrong field count: more than %d, the header has "
                 "%zu",
                 IMPORT_MAX_COLUMNS, ps->sc.n_fields);
        return FR_OK;
    }
    rc = handle_row(ps, line, e);
    if (e->n)
        rows_clear(&ps->rs); /* all or nothing: stop holding ids */
    return rc;
}

/* The file's size in bytes, for progress; 0 if it is not a regular file. */
static uint64_t
file_size(FILE *f)
{
    struct stat st;

    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
        return 0;
    return (uint64_t)st.st_size;
}

static fr_err
parse_file(parse_state *ps, import_result *res, errs *e)
{
    unsigned long line;
    unsigned long n_records = 0;
    int flags;
    bool got = false;
    fr_err rc = FR_OK, read_rc;
    fr_progress p;

    uint64_t size = file_size(ps->rd.f);

    fr_progress_begin(&p, "import", size, "bytes");
    while ((read_rc = csv_read(&ps->rd, &line, &flags, &got)) == FR_OK &&
           got) {
        if (++n_records % PROGRESS_EVERY == 0) {
            off_t at = ftello(ps->rd.f);
            if (at > 0)
                fr_progress_update(&p, (uint64_t)at);
        }
        if (ps->rd.len == 0 && !flags)
            continue; /* blank line */
        if ((rc = handle_record(ps, flags, line, res, e)))
            break;
    }
    if (rc == FR_OK && read_rc == FR_OK)
        fr_progress_update(&p, size);
    fr_progress_end(&p);
    if (rc)
        return rc;
    if (read_rc) {
        err_line(e, 0, "read error");
        return read_rc;
    }
    return e->n ? FR_EINVAL : FR_OK;
}

static fr_err
open_file(const char *path, FILE **f_out, errs *e)
{
    int errnum;

    *f_out = fopen(path, "rb");
    if (*f_out)
        return FR_OK;
    errnum = errno;
    if (errnum == ENOENT) {
        err_line(e, 0, "cannot open: no such file");
        return FR_ENOENT;
    }
    err_line(e, 0, "cannot open (errno %d)", errnum);
    return FR_ESYS;
}

static void
state_free(parse_state *ps)
{
    if (!ps)
        return;
    csv_close(&ps->rd);
    rows_clear(&ps->rs);
    fr_crypto_wipe(&ps->fl, sizeof ps->fl);
    canon_count_destroy(&ps->cc);
    free(ps);
}

static fr_err
parse_path(const char *path, const row_policy *pol, size_t max_errors,
           import_result **out, char *errbuf, size_t errlen)
{
    errs e = {.buf = errbuf,
              .cap = errlen,
              .path = path,
              .max = max_errors ? max_errors : 1};
    parse_state *ps = NULL;
    import_result *res = NULL;
    FILE *f = NULL;
    fr_err rc;

    if ((rc = open_file(path, &f, &e)))
        goto out;
    rc = FR_ENOMEM;
    ps = calloc(1, sizeof *ps);
    res = calloc(1, sizeof *res);
    if (!ps || !res || csv_open(&ps->rd, f, IMPORT_MAX_RECORD) ||
        canon_count_new(&ps->cc))
        goto out;
    ps->pol = *pol;
    rc = parse_file(ps, res, &e);
    timefmt_zone_end();
    if (rc)
        goto out;
    res->counts = ps->counts;
    res->counts.canon_rewritten = canon_count_rewritten(ps->cc);
    res->counts.canon_merged_ids = canon_count_merged(ps->cc);
    res->rows = ps->rs.v;
    res->n_rows = ps->rs.n;
    ps->rs.v = NULL;
    *out = res;
    res = NULL;
out:
    if (rc == FR_ENOMEM && e.n == 0)
        err_line(&e, 0, "out of memory");
    err_finish(&e);
    state_free(ps);
    if (f)
        fclose(f);
    import_result_destroy(&res);
    return rc;
}

static fr_err
parse_with(const char *path, const import_opts *o, int strict,
           import_result **out, char *errbuf, size_t errlen)
{
    static const import_opts none = {.now_s = INT64_MAX - 86400};
    row_policy pol;
    import_profile *fedrec = NULL;
    fr_err rc;

    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (out)
        *out = NULL;
    if (!path || !out)
        return FR_EINVAL;
    o = o ? o : &none;
    pol = (row_policy){.prof = o->profile,
                       .canon = o->canon ? o->canon : &canon_legacy,
                       .n_items = o->n_items,
                       .now_s = o->now_s,
                       .strict = strict};
    if (!pol.prof) {
        if ((rc = import_profile_builtin("fedrec", &fedrec, errbuf, errlen)))
            return rc;
        pol.prof = fedrec;
    }
    rc = parse_path(path, &pol, o->max_errors, out, errbuf, errlen);
    import_profile_destroy(&fedrec);
    return rc;
}

fr_err
import_parse(const char *path, const import_opts *o, import_result **out,
             char *errbuf, size_t errlen)
{
    return parse_with(path, o, 0, out, errbuf, errlen);
}

fr_err
import_parse_legacy(const char *path, uint32_t n_items, int64_t now_s,
                    size_t max_errors, import_result **out, char *errbuf,
                    size_t errlen)
{
    import_opts o = {.n_items = n_items, .now_s = now_s,
                     .max_errors = max_errors};

    return parse_with(path, &o, 1, out, errbuf, errlen);
}

void
import_counts_print(const import_counts *c, FILE *out)
{
    fprintf(out,
            "rows read: %llu\n"
            "kept purchase rows: %llu\n"
            "kept return rows: %llu\n"
            "guest rows (no member id): %llu\n"
            "non-product codes: %llu\n"
            "zero quantity rows: %llu\n"
            "rows with a rewritten member id: %llu\n"
            "member ids seen under 2+ spellings: %llu\n",
            (unsigned long long)c->rows_read,
            (unsigned long long)c->kept_purchase,
            (unsigned long long)c->kept_return, (unsigned long long)c->guest,
            (unsigned long long)c->non_product,
            (unsigned long long)c->zero_quantity,
            (unsigned long long)c->canon_rewritten,
            (unsigned long long)c->canon_merged_ids);
}

void
import_result_destroy(import_result **rp)
{
    import_result *r;

    if (!rp || !*rp)
        return;
    r = *rp;
    if (r->rows)
        fr_crypto_wipe(r->rows, r->n_rows * sizeof *r->rows);
    free(r->rows);
    free(r->discarded);
    free(r->identifiers);
    free(r->policy_read);
    free(r);
    *rp = NULL;
}
