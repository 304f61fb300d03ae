/*
 * catalogue.c - fedrec-catalogue: builds, identifies and checks the shared
 * item catalogue (common/catalogue/catalogue.h, docs/CATALOGUE.md).
 *
 *   fedrec-catalogue build --master FILE [--sku-column NAME]
 *                          [--rank-column NAME] [options] --out FILE
 *   fedrec-catalogue build --counts FILE... [options] --out FILE
 *   fedrec-catalogue id FILE
 *   fedrec-catalogue check FILE
 *
 * Inputs are CSV (RFC 4180: header row, commas, double quotes, "" for a
 * quote, newlines inside quotes; LF or CR LF; a UTF-8 byte order mark is
 * skipped). A structural error (unterminated quote, text after a closing
 * quote, a row with another field count than the header) refuses the whole
 * input; a row whose SKU or number cannot be used is counted by reason and
 * skipped. Every SKU is trimmed of surrounding spaces and tabs and, with
 * --sku-case upper, has its ASCII letters upper-cased, the same rules an
 * import profile applies, so the catalogue names items as imports see them.
 * --exclude is matched against the trimmed SKU before the case rule.
 *
 * Exit status: 0 done, 1 failure (message on stderr), 2 usage.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/util.h"
#include "catalogue/catalogue.h"

#define PROG        "fedrec-catalogue"
#define INPUT_MAX   (1024u * 1024u * 1024u) /* bytes per input file */
#define MAX_FIELDS  1024u
#define MAX_REASONS 8u
#define NUM_MAX     64u /* longest numeric field accepted */

static const char *const default_sku_columns[] = {"StockCode", "sku",
                                                  "item_id"};

typedef struct opts {
    const char *master, *out, *sku_col, *rank_col, *exclude;
    char **counts;
    int n_counts;
    int upper;
    uint32_t top; /* 0: no limit */
} opts;

/* One RFC 4180 record at a time, unescaped in place in the file's buffer
 * (a field never grows when its quotes are removed). */
typedef struct csv {
    const char *path;
    char *p, *end;
    uint32_t line;     /* physical line the next record starts on */
    uint32_t rec_line; /* where the current record started */
    char *f[MAX_FIELDS];
    size_t flen[MAX_FIELDS];
    size_t nf;
} csv;

/* A kept SKU: its text in the arena, file order and score. */
typedef struct ent {
    size_t off;
    uint64_t seq;
    double score;
} ent;

typedef struct reason_count {
    const char *why;
    uint64_t n;
} reason_count;

/* Everything a build gathers before ordering. */
typedef struct gather {
    char *arena;
    size_t arena_len, arena_cap;
    ent *e;
    size_t n, cap;
    uint64_t rows, dups, excluded, invalid, dropped_top;
    reason_count why[MAX_REASONS];
    regex_t re;
    int have_re;
    int upper;
} gather;

static const char *sort_arena; /* for the qsort comparators */

static int
usage(const char *msg)
{
    FILE *f = msg ? stderr : stdout;

    if (msg)
        fprintf(stderr, PROG ": %s\n", msg);
    fprintf(
        f,
        "usage: " PROG " build --master FILE [--sku-column NAME] "
        "[--rank-column NAME]\n"
        "                        [--exclude REGEX] [--sku-case keep|upper] "
        "[--top N] --out FILE\n"
        "       " PROG " build --counts FILE... [--exclude REGEX] "
        "[--sku-case keep|upper]\n"
        "                        [--top N] --out FILE\n"
        "       " PROG " id FILE       print the id (hex) and the item count\n"
        "       " PROG " check FILE    validate a catalogue (exit 0 or 1)\n"
        "\n"
        "--master: the head office's product master (the normal case), a CSV\n"
        "  with a header row; the SKU column is --sku-column, else StockCode,\n"
        "  sku or item_id (any case). Items keep the file's order, or with\n"
        "  --rank-column are ordered by that number, largest first. The first\n"
        "  occurrence of a SKU wins.\n"
        "--counts: per-store files of `sku,count` (count may be fractional),\n"
        "  summed per SKU and ranked by total (ties by SKU). These are a\n"
        "  store's aggregate item counts, business data the operator decides\n"
        "  whether stores may share. They carry no noise or threshold, so\n"
        "  they give no member-level privacy; this command does not add any.\n"
        "--exclude: POSIX ERE matched against the whole SKU; matches are\n"
        "  left out. --top N keeps the first N items (at most %u).\n",
        FR_CATALOGUE_MAX_ITEMS);
    return 2;
}

/* ---- CSV ---------------------------------------------------------------- */

static int
csv_fail(const csv *c, const char *why)
{
    fprintf(stderr, PROG ": %s:%u: %s\n", c->path, c->rec_line, why);
    return -1;
}

/* Reads a quoted field starting after its opening quote; *w is where its
 * bytes go. Stops after the closing quote. */
static int
csv_quoted(csv *c, char **w)
{
    while (c->p < c->end) {
        char ch = *c->p++;
        if (ch == '"') {
            if (c->p < c->end && *c->p == '"') {
                *(*w)++ = *c->p++;
                continue;
            }
            return 0;
        }
        if (ch == '\n')
            c->line++;
        *(*w)++ = ch;
    }
    return csv_fail(c, "unterminated quoted field");
}

/* Reads one field; *last is set when the record ends after it. */
static int
csv_field(csv *c, int *last)
{
    char *start = c->p, *w = c->p;

    if (c->nf == MAX_FIELDS)
        return csv_fail(c, "more than 1024 fields");
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        if (csv_quoted(c, &w))
            return -1;
    } else {
        while (c->p < c->end && *c->p != ',' && *c->p != '\n')
            *w++ = *c->p++;
        if (c->p < c->end && *c->p == '\n' && w > start && w[-1] == '\r')
            w--;
    }
    if (c->p < c->end && *c->p == '\r' && c->p + 1 < c->end &&
        c->p[1] == '\n')
        c->p++; /* CR LF after a closing quote */
    if (c->p < c->end && *c->p != ',' && *c->p != '\n')
        return csv_fail(c, "text after a closing quote");
    c->f[c->nf] = start;
    c->flen[c->nf++] = (size_t)(w - start);
    *last = c->p >= c->end || *c->p == '\n';
    if (c->p < c->end && *c->p++ == '\n')
        c->line++;
    return 0;
}

/* 1 with a record in c->f, 0 at the end, -1 on a refused input. Lines
 * that are entirely empty are skipped. */
static int
csv_next(csv *c)
{
    int last = 0;

    for (;;) {
        if (c->p >= c->end)
            return 0;
        if (*c->p == '\n' || (*c->p == '\r' && c->p + 1 < c->end &&
                              c->p[1] == '\n')) {
            c->p += *c->p == '\n' ? 1 : 2;
            c->line++;
            continue;
        }
        break;
    }
    c->nf = 0;
    c->rec_line = c->line;
    while (!last)
        if (csv_field(c, &last))
            return -1;
    return 1;
}

static void
csv_open(csv *c, const char *path, uint8_t *buf, size_t len)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    c->p = (char *)buf;
    c->end = c->p + len;
    c->line = 1;
    if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
        c->p += 3;
}

static fr_err
read_input(const char *path, uint8_t **buf, size_t *len)
{
    fr_err rc = fr_file_read_all(path, INPUT_MAX, buf, len);

    if (rc)
        fprintf(stderr, PROG ": %s: %s\n", path,
                rc == FR_ELIMIT   ? "larger than 1 GiB"
                : rc == FR_EINVAL ? "not a regular file"
                                  : fr_strerror(rc));
    return rc;
}

/* ---- gathering rows ----------------------------------------------------- */

static void
trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static void
count_invalid(gather *g, const char *why)
{
    size_t i;

    g->invalid++;
    for (i = 0; i < MAX_REASONS && g->why[i].why; i++)
        if (g->why[i].why == why)
            break;
    if (i == MAX_REASONS)
        i = MAX_REASONS - 1; /* cannot happen: the reasons are few */
    g->why[i].why = why;
    g->why[i].n++;
}

/* Parses a numeric field (trimmed, finite). */
static int
parse_num(const char *s, size_t n, double *out)
{
    char tmp[NUM_MAX + 1];

    trim(&s, &n);
    if (n == 0 || n > NUM_MAX)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return fr_parse_double(tmp, -1e300, 1e300, out) ? -1 : 0;
}

static fr_err
push_ent(gather *g, const char *sku, size_t len, double score)
{
    if (g->n == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 4096;
        ent *e = realloc(g->e, cap * sizeof *e);
        if (!e)
            return FR_ENOMEM;
        g->e = e;
        g->cap = cap;
    }
    if (g->arena_cap - g->arena_len < len + 1) {
        size_t cap = g->arena_cap ? 2 * g->arena_cap : 65536;
        char *a = realloc(g->arena, cap);
        if (!a)
            return FR_ENOMEM;
        g->arena = a;
        g->arena_cap = cap;
    }
    g->e[g->n] = (ent){g->arena_len, g->n, score};
    memcpy(g->arena + g->arena_len, sku, len);
    g->arena[g->arena_len + len] = '\0';
    g->arena_len += len + 1;
    g->n++;
    return FR_OK;
}

/* Applies the SKU rules to one field and keeps it, counts it as excluded
 * or counts it as invalid. bad_score: why the score field was unusable, or
 * NULL when score holds it. */
static fr_err
take_sku(gather *g, const char *s, size_t n, const char *bad_score,
         double score)
{
    char sku[FR_CATALOGUE_SKU_MAX + 1];
    const char *why;

    g->rows++;
    trim(&s, &n);
    if (!fr_catalogue_sku_ok(s, n, &why))
        return count_invalid(g, why), FR_OK;
    memcpy(sku, s, n);
    sku[n] = '\0';
    /* Matched as the file spells it: an export's non-product codes keep
     * their own case (gift_...) whatever case rule the SKUs get. */
    if (g->have_re && regexec(&g->re, sku, 0, NULL, 0) == 0)
        return g->excluded++, FR_OK;
    for (size_t i = 0; g->upper && i < n; i++)
        if (sku[i] >= 'a' && sku[i] <= 'z')
            sku[i] = (char)(sku[i] - 'a' + 'A');
    if (bad_score)
        return count_invalid(g, bad_score), FR_OK;
    return push_ent(g, sku, n, score);
}

static int
column_named(const csv *c, const char *name)
{
    for (size_t i = 0; i < c->nf; i++) {
        const char *s = c->f[i];
        size_t n = c->flen[i];
        trim(&s, &n);
        if (n == strlen(name) && !strncasecmp(s, name, n))
            return (int)i;
    }
    return -1;
}

/* Finds the SKU and rank columns in the header record. */
static int
master_columns(const csv *c, const opts *o, int *sku, int *rank)
{
    *sku = *rank = -1;
    if (o->sku_col)
        *sku = column_named(c, o->sku_col);
    for (size_t i = 0; !o->sku_col && *sku < 0 &&
                       i < FR_ARRAY_LEN(default_sku_columns);
         i++)
        *sku = column_named(c, default_sku_columns[i]);
    if (*sku < 0) {
        fprintf(stderr, PROG ": %s:%u: no SKU column (%s)\n", c->path,
                c->rec_line,
                o->sku_col ? o->sku_col : "StockCode, sku or item_id");
        return -1;
    }
    if (o->rank_col && (*rank = column_named(c, o->rank_col)) < 0) {
        fprintf(stderr, PROG ": %s:%u: no rank column %s\n", c->path,
                c->rec_line, o->rank_col);
        return -1;
    }
    return 0;
}

static fr_err
gather_master(gather *g, const opts *o, csv *c)
{
    int sku, rank, r;
    size_t nf;

    if ((r = csv_next(c)) <= 0) {
        if (r == 0)
            fprintf(stderr, PROG ": %s: empty (no header row)\n", c->path);
        return FR_EINVAL;
    }
    if (master_columns(c, o, &sku, &rank))
        return FR_EINVAL;
    nf = c->nf;
    while ((r = csv_next(c)) > 0) {
        double score = 0;
        int ok = 1;
        fr_err rc;

        if (c->nf != nf) {
            fprintf(stderr, PROG ": %s:%u: %zu fields, the header has %zu\n",
                    c->path, c->rec_line, c->nf, nf);
            return FR_EINVAL;
        }
        if (rank >= 0)
            ok = !parse_num(c->f[rank], c->flen[rank], &score);
        if ((rc = take_sku(g, c->f[sku], c->flen[sku],
                           ok ? NULL : "rank is not a number", score)))
            return rc;
    }
    return r < 0 ? FR_EINVAL : FR_OK;
}

/* A counts file: `sku,count` rows, a first row `sku,count` is a header. */
static fr_err
gather_counts(gather *g, csv *c)
{
    int r, first = 1;

    while ((r = csv_next(c)) > 0) {
        double v = 0;
        int ok;
        fr_err rc;

        if (c->nf != 2) {
            fprintf(stderr, PROG ": %s:%u: %zu fields, want 2 (sku,count)\n",
                    c->path, c->rec_line, c->nf);
            return FR_EINVAL;
        }
        if (first && column_named(c, "sku") == 0 &&
            column_named(c, "count") == 1) {
            first = 0;
            continue;
        }
        first = 0;
        ok = !parse_num(c->f[1], c->flen[1], &v);
        if ((rc = take_sku(g, c->f[0], c->flen[0],
                           ok ? NULL : "count is not a number", v)))
            return rc;
    }
    return r < 0 ? FR_EINVAL : FR_OK;
}

static fr_err
gather_file(gather *g, const opts *o, const char *path, int counts)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    csv c;
    fr_err rc;

    if ((rc = read_input(path, &buf, &len)))
        return rc;
    csv_open(&c, path, buf, len);
    rc = counts ? gather_counts(g, &c) : gather_master(g, o, &c);
    if (rc == FR_ENOMEM)
        fprintf(stderr, PROG ": %s: out of memory\n", path);
    free(buf);
    return rc;
}

/* ---- ordering ----------------------------------------------------------- */

static int
by_sku_seq(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    int d = strcmp(sort_arena + x->off, sort_arena + y->off);

    return d ? d : (x->seq > y->seq) - (x->seq < y->seq);
}

static int
by_seq(const void *a, const void *b)
{
    const ent *x = a, *y = b;

    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
by_score_seq(const void *a, const void *b)
{
    const ent *x = a, *y = b;

    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return by_seq(a, b);
}

static int
by_score_sku(const void *a, const void *b)
{
    const ent *x = a, *y = b;

    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(sort_arena + x->off, sort_arena + y->off);
}

/* Keeps the first occurrence of each SKU (summing scores if sum), then
 * orders the rest for the catalogue and applies --top. */
static void
order(gather *g, const opts *o, int sum)
{
    size_t k = 0;

    sort_arena = g->arena;
    if (g->n) /* qsort needs a non-NULL array */
        qsort(g->e, g->n, sizeof *g->e, by_sku_seq);
    for (size_t i = 0; i < g->n; i++) {
        if (k && !strcmp(g->arena + g->e[k - 1].off, g->arena + g->e[i].off)) {
            g->dups++;
            if (sum)
                g->e[k - 1].score += g->e[i].score;
            continue;
        }
        g->e[k++] = g->e[i];
    }
    g->n = k;
    if (g->n)
        qsort(g->e, g->n, sizeof *g->e,
              sum ? by_score_sku : o->rank_col ? by_score_seq : by_seq);
    if (o->top && g->n > o->top) {
        g->dropped_top = g->n - o->top;
        g->n = o->top;
    }
}

/* ---- commands ----------------------------------------------------------- */

static void
print_summary(const gather *g, const fr_catalogue *cat, const opts *o)
{
    char hex[FR_CATALOGUE_ID_HEX + 1];

    fr_catalogue_id_hex(cat, hex);
    printf("wrote %s\n", o->out);
    printf("items written: %u\n", fr_catalogue_n_items(cat));
    printf("rows read: %llu\n", (unsigned long long)g->rows);
    printf("duplicates%s: %llu\n", o->counts ? " (summed)" : "",
           (unsigned long long)g->dups);
    printf("excluded: %llu\n", (unsigned long long)g->excluded);
    printf("invalid: %llu", (unsigned long long)g->invalid);
    for (size_t i = 0; i < MAX_REASONS && g->why[i].why; i++)
        printf("%s%s: %llu", i ? ", " : " (", g->why[i].why,
               (unsigned long long)g->why[i].n);
    printf("%s\n", g->invalid ? ")" : "");
    printf("dropped by --top: %llu\n", (unsigned long long)g->dropped_top);
    printf("id: %s\n", hex);
}

/* Turns the ordered SKUs into a catalogue and writes it. */
static int
emit(gather *g, const opts *o)
{
    const char **skus;
    fr_catalogue *cat = NULL;
    char err[256];
    fr_err rc;

    if (g->n == 0)
        return fprintf(stderr, PROG ": no items left to write\n"), 1;
    if (g->n > FR_CATALOGUE_MAX_ITEMS) {
        fprintf(stderr, PROG ": %zu items, more than %u (use --top)\n", g->n,
                FR_CATALOGUE_MAX_ITEMS);
        return 1;
    }
    if (!(skus = malloc(g->n * sizeof *skus)))
        return fprintf(stderr, PROG ": out of memory\n"), 1;
    for (size_t i = 0; i < g->n; i++)
        skus[i] = g->arena + g->e[i].off;
    rc = fr_catalogue_from_skus(skus, g->n, &cat, err, sizeof err);
    free(skus);
    if (rc)
        return fprintf(stderr, PROG ": %s\n", err), 1;
    if ((rc = fr_catalogue_write(cat, o->out))) {
        fprintf(stderr, PROG ": %s: cannot write: %s\n", o->out,
                fr_strerror(rc));
        fr_catalogue_destroy(&cat);
        return 1;
    }
    print_summary(g, cat, o);
    fr_catalogue_destroy(&cat);
    return 0;
}

static int
set_option(opts *o, const char *k, const char *v)
{
    int64_t n;

    if (!strcmp(k, "--master"))
        o->master = v;
    else if (!strcmp(k, "--out"))
        o->out = v;
    else if (!strcmp(k, "--sku-column"))
        o->sku_col = v;
    else if (!strcmp(k, "--rank-column"))
        o->rank_col = v;
    else if (!strcmp(k, "--exclude"))
        o->exclude = v;
    else if (!strcmp(k, "--sku-case")) {
        if (strcmp(v, "keep") && strcmp(v, "upper"))
            return usage("--sku-case is keep or upper");
        o->upper = !strcmp(v, "upper");
    } else if (!strcmp(k, "--top")) {
        if (fr_parse_i64(v, 1, FR_CATALOGUE_MAX_ITEMS, &n))
            return usage("--top must be an integer in [1, 1048576]");
        o->top = (uint32_t)n;
    } else {
        fprintf(stderr, PROG ": unknown option %s\n", k);
        return usage("see the usage below");
    }
    return 0;
}

static int
parse_build_args(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        if (!strcmp(k, "--counts")) {
            o->counts = argv + i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2))
                i++, o->n_counts++;
            if (!o->n_counts)
                return usage("--counts needs at least one file");
            continue;
        }
        if (i + 1 >= argc)
            return usage("every option needs a value");
        if (set_option(o, k, argv[++i]))
            return 2;
    }
    if (!o->out || !o->master == !o->counts)
        return usage("build needs --out and one of --master or --counts");
    if (o->counts && (o->sku_col || o->rank_col))
        return usage("--sku-column and --rank-column go with --master");
    return 0;
}

static int
compile_exclude(gather *g, const char *re)
{
    char *full, msg[256];
    size_t n;
    int rc;

    if (!re)
        return 0;
    n = strlen(re) + 5;
    if (!(full = malloc(n)))
        return fprintf(stderr, PROG ": out of memory\n"), 1;
    snprintf(full, n, "^(%s)$", re);
    rc = regcomp(&g->re, full, REG_EXTENDED | REG_NOSUB);
    free(full);
    if (rc) {
        regerror(rc, &g->re, msg, sizeof msg);
        fprintf(stderr, PROG ": --exclude: %s\n", msg);
        return 2;
    }
    g->have_re = 1;
    return 0;
}

static int
cmd_build(int argc, char **argv)
{
    opts o;
    gather g;
    int rc;

    if ((rc = parse_build_args(argc, argv, &o)))
        return rc;
    memset(&g, 0, sizeof g);
    g.upper = o.upper;
    if ((rc = compile_exclude(&g, o.exclude)))
        return rc;
    if (o.master)
        rc = gather_file(&g, &o, o.master, 0) ? 1 : 0;
    for (int i = 0; !rc && i < o.n_counts; i++)
        rc = gather_file(&g, &o, o.counts[i], 1) ? 1 : 0;
    if (!rc) {
        order(&g, &o, o.counts != NULL);
        rc = emit(&g, &o);
    }
    if (g.have_re)
        regfree(&g.re);
    free(g.e);
    free(g.arena);
    return rc;
}

static int
cmd_id_check(const char *cmd, const char *path)
{
    fr_catalogue *cat = NULL;
    char err[512], hex[FR_CATALOGUE_ID_HEX + 1];

    if (fr_catalogue_load(path, &cat, err, sizeof err))
        return fprintf(stderr, PROG ": %s\n", err), 1;
    fr_catalogue_id_hex(cat, hex);
    if (!strcmp(cmd, "id"))
        printf("%s %u\n", hex, fr_catalogue_n_items(cat));
    else
        printf("%s: ok, %u items, id %s\n", path, fr_catalogue_n_items(cat),
               hex);
    fr_catalogue_destroy(&cat);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        return usage("a command is needed");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))
        return usage(NULL), 0;
    if (!strcmp(argv[1], "build"))
        return cmd_build(argc, argv);
    if (!strcmp(argv[1], "id") || !strcmp(argv[1], "check")) {
        if (argc != 3)
            return usage("id and check take one FILE");
        return cmd_id_check(argv[1], argv[2]);
    }
    return usage("unknown command");
}
