/*
 * datagen_raw.c - fedrec-datagen --format raw: the stores' purchases as
 * point-of-sale exports in the online-retail shape.
 *
 * DIR/store-SS.csv has the columns
 *   InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,
 *   CustomerID,Country
 * and holds the same member purchases as --format fedrec for the same seed
 * (same members, items and times), dressed as a real export:
 *  - a member's purchases on one (UTC) day form one invoice; invoices are
 *    numbered from 536365 in the order of their time (from 100000 when a
 *    store has more invoices than 6 digits leave room for from there, and
 *    past 999999 with 7 digits), the file listing them in that order, each
 *    line keeping its own time;
 *  - StockCode is a string SKU derived from the item index (5 digits, one
 *    in five with a letter suffix such as 85123A; a few suffixed items
 *    appear in lower case on half of their lines, which the importer's
 *    upper-case rule merges), Description a fake product name (some with a
 *    comma or quotes, so quoted), UnitPrice the item's price such as 2.55;
 *  - InvoiceDate is "YYYY-MM-DD HH:MM:SS", or "M/D/YYYY H:MM" in every
 *    store whose number leaves 2 when divided by 3 (02, 05, ...);
 *  - about 2% of whole-number purchase lines get a later cancellation
 *    (invoice "C" + number, negative quantity), half of those of quantity
 *    2+ returning only part of the line;
 *  - non-product lines on member invoices: about 1% POST, a few BANK
 *    CHARGES, M and DOT (member 1 of every store has one of each); a few
 *    member lines of quantity 0;
 *  - guest invoices (empty CustomerID), about 20% of all lines, bought on
 *    top of the members' purchases with plain popularity;
 *  - CustomerID is the member's integer (12345 + (store - 1) * 100000 +
 *    member); one member in 20 is written "17850.0" style on some of their
 *    purchase lines (always on the second, never on the first);
 *  - quantities 1..12 with a few 0.5 and 1.5; Country fixed per store.
 * The row kinds do not overlap: a guest line is a product with a quantity
 * other than 0, a non-product or zero-quantity line carries a member id,
 * and only purchase lines use the ".0" spelling.
 *
 * DIR/products.csv is the product master, "StockCode,Description,UnitPrice"
 * for every item in rank order (most popular first, upper-case codes).
 * DIR/expected.txt has a line per store with what a correct import reports,
 * counted while generating:
 *   store-SS.csv rows_read=N purchase_rows=N return_rows=N guest_rows=N
 *   nonproduct_rows=N zero_quantity_rows=N pairs_fully_returned=N
 *   ids_merged=N rows_rewritten=N skus_case_merged=N
 * (one line; rows_rewritten counts the ".0" lines, ids_merged the members
 * seen under two spellings, pairs_fully_returned the (member, item) pairs
 * whose net quantity is 0: each member buys an item once; skus_case_merged
 * the codes written in both cases, one code under the upper-case rule).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagen.h"

#define ID_FIRST 12345u    /* CustomerID of member 0 of store 1 */
#define ID_STRIDE 100000u  /* CustomerIDs per store: the member limit */
#define INVOICE_FIRST 536365u
#define INVOICE_LOW 100000u
#define SKU_BASE 10000u    /* 5-digit codes: SKU_BASE..SKU_BASE+SKU_SPAN-1 */
#define SKU_SPAN 90000u

#define P_DOTZERO_MEMBER 0.05
#define P_CANCEL 0.02
#define P_FRACTION 0.006
#define GUEST_LINES_MAX 6u /* 1..6 lines, mean 3.5 */
#define P_GUEST_INVOICE (0.25 / 3.5) /* per member line: guests ~20% */
#define P_POST 0.01
#define P_RARE_FEE 0.0008
#define P_ZERO 0.001
#define CANCEL_DELAY_MAX (30LL * 86400)

enum { LINE_ITEM, LINE_CANCEL, LINE_FEE };
enum { F_DOTZERO = 1, F_LOWER = 2 };
enum { FEE_POST, FEE_BANK, FEE_MANUAL, FEE_DOT, N_FEES };

static const struct {
    const char *code, *desc;
} fees[N_FEES] = {{"POST", "POSTAGE"},
                  {"BANK CHARGES", "Bank Charges"},
                  {"M", "Manual"},
                  {"DOT", "DOTCOM POSTAGE"}};

static const char *const countries[] = {
    "United Kingdom", "France", "Germany", "EIRE", "Spain", "Netherlands",
    "Belgium", "Switzerland", "Portugal", "Australia", "Norway", "Italy"};

static const char *const adjectives[] = {
    "WHITE", "RED", "PINK", "BLUE", "GREEN", "IVORY", "RETRO", "VINTAGE",
    "HEART", "STAR", "FLORAL", "SPOTTY", "JUMBO", "WOODEN", "GLASS",
    "ENAMEL", "PAPER", "REGENCY", "PARTY", "CHRISTMAS"};
static const char *const nouns[] = {
    "T-LIGHT HOLDER", "CAKE STAND", "LUNCH BAG", "TEA CUP", "MUG", "CANDLE",
    "DOORMAT", "BUNTING", "NAPKINS", "COAT HANGER", "PHOTO FRAME",
    "SHOPPER BAG", "ALARM CLOCK", "LANTERN", "CUSHION COVER", "JAM JAR",
    "BAKING SET", "CHALKBOARD", "HOT WATER BOTTLE", "STORAGE TIN"};
static const char *const variants[] = {"WHITE", "RED", "ASSORTED",
                                       "SET OF 3", "PACK OF 12"};
static const unsigned price_cents[] = {29,  39,  42,  55,  65,  85,
                                       95,  125, 165, 195, 210, 250,
                                       255, 295, 375, 425, 495, 595,
                                       750, 850, 995, 1275, 1495};

typedef struct rline {
    int64_t inv_t; /* the invoice's time: the file's order */
    int64_t t;     /* the line's own time */
    uint32_t inv;  /* invoice key, unique in the store */
    uint32_t seq;  /* creation order within the store */
    uint32_t what; /* item index, or fee code for LINE_FEE */
    uint32_t cust; /* member number, 0 for a guest */
    uint32_t cents;
    int32_t milli; /* signed quantity in thousandths */
    uint8_t kind, flags;
} rline;

typedef struct raw_counts {
    uint64_t read, purchase, ret, guest, fee, zero, full, merged, rewritten;
    uint64_t sku_merged;
} raw_counts;

typedef struct raw_store {
    rline *v;
    size_t n, cap;
    uint32_t n_inv; /* invoices so far: the next invoice key */
    fr_rng rr;      /* the export's own draws, apart from the purchases' */
    const catalogue *c;
    const double *cum; /* popularity CDF over item indices */
    uint8_t *cases;    /* per item: 1 written upper case, 2 lower case */
    unsigned store;
    raw_counts k;
} raw_store;

static uint64_t
mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The letter suffix of item i's code in upper case, or 0. Items past the
 * first SKU_SPAN use a letter of their own per block of SKU_SPAN, so
 * codes never repeat. */
static char
item_suffix(uint32_t i)
{
    uint32_t block = i / SKU_SPAN, h = (uint32_t)(mix(i) % 100);

    if (block > 0)
        return (char)('E' + block);
    return h >= 80 ? (char)('A' + (h - 80) % 5) : 0;
}

static void
item_sku(uint32_t i, bool lower, char *out, size_t len)
{
    unsigned num = SKU_BASE + (unsigned)(((uint64_t)(i % SKU_SPAN) * 7919 +
                                          4321) % SKU_SPAN);
    char suf = item_suffix(i);

    if (suf && lower)
        suf = (char)(suf + ('a' - 'A'));
    snprintf(out, len, suf ? "%u%c" : "%u", num, suf);
}

/* Suffixed items whose code the export sometimes writes in lower case. */
static bool
item_case_noisy(uint32_t i)
{
    return item_suffix(i) && (mix(i) >> 20) % 4 == 0;
}

static void
item_desc(uint32_t i, char *out, size_t len)
{
    uint64_t h = mix(i ^ 0x6465736372ull);
    const char *adj = adjectives[h % FR_ARRAY_LEN(adjectives)];
    const char *noun = nouns[(h >> 8) % FR_ARRAY_LEN(nouns)];

    switch ((h >> 16) % 10) {
    case 0:
        snprintf(out, len, "%s %s, %s", adj, noun,
                 variants[(h >> 24) % FR_ARRAY_LEN(variants)]);
        break;
    case 1:
        snprintf(out, len, "SET OF %u \"%s\" %s", 2 + (unsigned)(h >> 24) % 5,
                 adj, noun);
        break;
    default:
        snprintf(out, len, "%s %s", adj, noun);
    }
}

static uint32_t
item_cents(uint32_t i)
{
    return price_cents[(mix(i) >> 32) % FR_ARRAY_LEN(price_cents)];
}

/* A CSV field, quoted when it holds a comma, a quote or a line end. */
static void
put_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    putc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            putc('"', f);
        putc(*s, f);
    }
    putc('"', f);
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;

    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void
format_time(int64_t t, bool us, char *out, size_t len)
{
    int64_t days = t / 86400, y;
    unsigned sec = (unsigned)(t % 86400), mo, d;

    civil_from_days(days, &y, &mo, &d);
    if (us)
        snprintf(out, len, "%u/%u/%lld %u:%02u", mo, d, (long long)y,
                 sec / 3600, sec / 60 % 60);
    else
        snprintf(out, len, "%04lld-%02u-%02u %02u:%02u:%02u", (long long)y,
                 mo, d, sec / 3600, sec / 60 % 60, sec % 60);
}

static void
format_qty(int32_t milli, char *out, size_t len)
{
    uint32_t a = milli < 0 ? (uint32_t)-(int64_t)milli : (uint32_t)milli;
    unsigned frac = a % 1000;
    int w = 3;

    if (!frac) {
        snprintf(out, len, "%s%u", milli < 0 ? "-" : "", a / 1000);
        return;
    }
    for (; frac % 10 == 0; frac /= 10)
        w--;
    snprintf(out, len, "%s%u.%0*u", milli < 0 ? "-" : "", a / 1000, w, frac);
}

static bool
us_dates(unsigned store)
{
    return store % 3 == 2;
}

static fr_err
push(raw_store *rs, rline l)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 4096;
        rline *v;

        if (rs->n >= UINT32_MAX || cap > SIZE_MAX / sizeof *v ||
            !(v = realloc(rs->v, cap * sizeof *v)))
            return FR_ENOMEM;
        rs->v = v;
        rs->cap = cap;
    }
    l.seq = (uint32_t)rs->n;
    rs->v[rs->n++] = l;
    if (l.kind != LINE_FEE)
        rs->cases[l.what] |= l.flags & F_LOWER ? 2 : 1;
    return FR_OK;
}

static uint32_t
new_invoice(raw_store *rs)
{
    return rs->n_inv++;
}

/* A line's quantity from the purchase's (q0 in 1..5): mostly q0, else
 * 1..12, a few fractional. */
static int32_t
raw_quantity(raw_store *rs, unsigned q0)
{
    double x = fr_rng_uniform(&rs->rr);

    if (x < P_FRACTION)
        return x < P_FRACTION / 2 ? 500 : 1500;
    if (x < 0.6)
        return (int32_t)q0 * 1000;
    return (int32_t)(1 + fr_rng_below(&rs->rr, 12)) * 1000;
}

static uint8_t
case_flag(raw_store *rs, uint32_t item)
{
    return item_case_noisy(item) && fr_rng_uniform(&rs->rr) < 0.5 ? F_LOWER
                                                                   : 0;
}

/* An item by popularity alone (what a guest buys). */
static uint32_t
popular_item(raw_store *rs)
{
    double x = fr_rng_uniform(&rs->rr) * rs->cum[rs->c->n - 1];
    uint32_t lo = 0, hi = rs->c->n - 1;

    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rs->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static fr_err
push_guest_invoice(raw_store *rs)
{
    int64_t t = T0 + (int64_t)fr_rng_below(&rs->rr, (uint64_t)PERIOD);
    uint32_t inv = new_invoice(rs);
    unsigned n = 1 + (unsigned)fr_rng_below(&rs->rr, GUEST_LINES_MAX);
    fr_err rc;

    for (unsigned i = 0; i < n; i++) {
        uint32_t item = popular_item(rs);
        rline g = {.inv_t = t, .t = t, .inv = inv, .what = item,
                   .cents = item_cents(item), .kind = LINE_ITEM};
        g.milli = raw_quantity(rs, 1);
        g.flags = case_flag(rs, item);
        if ((rc = push(rs, g)))
            return rc;
        rs->k.guest++;
    }
    return FR_OK;
}

/* A later cancellation of purchase line l, all of it or part. */
static fr_err
push_cancel(raw_store *rs, const rline *l)
{
    int32_t q = l->milli / 1000, r = q;
    rline c = *l;

    if (q > 1 && fr_rng_uniform(&rs->rr) < 0.5)
        r = 1 + (int32_t)fr_rng_below(&rs->rr, (uint64_t)(q - 1));
    c.inv_t = c.t = l->t + 3600 +
                    (int64_t)fr_rng_below(&rs->rr, CANCEL_DELAY_MAX);
    c.inv = new_invoice(rs);
    c.milli = -r * 1000;
    c.kind = LINE_CANCEL;
    c.flags = case_flag(rs, l->what);
    rs->k.ret++;
    rs->k.full += r == q;
    return push(rs, c);
}

static uint32_t
fee_cents(raw_store *rs, int fee)
{
    static const uint32_t post[] = {1800, 4000, 1500};

    switch (fee) {
    case FEE_POST:
        return post[fr_rng_below(&rs->rr, FR_ARRAY_LEN(post))];
    case FEE_BANK:
        return 1500;
    default:
        return 50 + (uint32_t)fr_rng_below(&rs->rr, 30000);
    }
}

/* Whatever rides on member m's purchase line j: non-product and
 * zero-quantity lines on its invoice, a cancellation, a guest invoice. */
static fr_err
line_extras(raw_store *rs, const rline *l, unsigned m, uint32_t j)
{
    static const uint32_t forced_on[N_FEES] = {0, 1, 2, 2};
    rline x = *l;
    fr_err rc;

    x.flags = 0;
    for (int fee = 0; fee < N_FEES; fee++) {
        double p = fee == FEE_POST ? P_POST : P_RARE_FEE;
        if (!(fr_rng_uniform(&rs->rr) < p) && !(m == 1 && j == forced_on[fee]))
            continue;
        x.kind = LINE_FEE;
        x.what = (uint32_t)fee;
        x.milli = 1000;
        x.cents = fee_cents(rs, fee);
        if ((rc = push(rs, x)))
            return rc;
        rs->k.fee++;
    }
    if (fr_rng_uniform(&rs->rr) < P_ZERO) {
        x.kind = LINE_ITEM;
        x.what = (uint32_t)fr_rng_below(&rs->rr, rs->c->n);
        x.milli = 0;
        x.cents = item_cents(x.what);
        if ((rc = push(rs, x)))
            return rc;
        rs->k.zero++;
    }
    if (fr_rng_uniform(&rs->rr) < P_CANCEL && l->milli % 1000 == 0 &&
        (rc = push_cancel(rs, l)))
        return rc;
    if (fr_rng_uniform(&rs->rr) < P_GUEST_INVOICE)
        return push_guest_invoice(rs);
    return FR_OK;
}

/* Member m's k purchases (s) as invoice lines, with what rides on them. */
static fr_err
raw_member(raw_store *rs, const scratch *s, uint32_t k, unsigned m)
{
    bool dotzero = fr_rng_uniform(&rs->rr) < P_DOTZERO_MEMBER;
    rline l = {.cust = m, .kind = LINE_ITEM};
    fr_err rc;

    rs->k.merged += dotzero && k >= 2;
    for (uint32_t j = 0; j < k; j++) {
        if (j == 0 || s->times[j] / 86400 != s->times[j - 1] / 86400) {
            l.inv = new_invoice(rs);
            l.inv_t = s->times[j];
        }
        l.t = s->times[j];
        l.what = s->items[j];
        l.cents = item_cents(l.what);
        l.milli = raw_quantity(rs, s->qty[j]);
        l.flags = case_flag(rs, l.what);
        if (dotzero && (j == 1 || (j > 1 && fr_rng_uniform(&rs->rr) < 0.5))) {
            l.flags |= F_DOTZERO;
            rs->k.rewritten++;
        }
        if ((rc = push(rs, l)))
            return rc;
        rs->k.purchase++;
        if ((rc = line_extras(rs, &l, m, j)))
            return rc;
    }
    return FR_OK;
}

static int
rline_cmp(const void *pa, const void *pb)
{
    const rline *a = pa, *b = pb;

    if (a->inv_t != b->inv_t)
        return a->inv_t < b->inv_t ? -1 : 1;
    if (a->inv != b->inv)
        return a->inv < b->inv ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Draws the store's members exactly as --format fedrec does and turns
 * them into sorted export lines. */
static fr_err
raw_build(raw_store *rs, const args *a, scratch *s)
{
    double shift[D];
    person p;
    fr_rng rng;
    fr_err rc;

    store_begin(a, rs->store, &rng, shift);
    fr_rng_seed(&rs->rr, a->seed ^ (0x5241570000000000ull + rs->store));
    for (unsigned m = 1; m <= (unsigned)a->members; m++) {
        uint32_t k = draw_member(rs->c, a, shift, &rng, s, &p);
        if ((rc = raw_member(rs, s, k, m)))
            return rc;
    }
    qsort(rs->v, rs->n, sizeof *rs->v, rline_cmp);
    rs->k.read = rs->n;
    for (uint32_t i = 0; i < rs->c->n; i++)
        rs->k.sku_merged += rs->cases[i] == 3;
    return FR_OK;
}

static void
write_line(FILE *f, const raw_store *rs, const rline *l, uint32_t no)
{
    char sku[24], desc[96], qty[24], when[64], cust[32];
    const char *country =
        countries[(rs->store - 1) % FR_ARRAY_LEN(countries)];

    if (l->kind == LINE_FEE) {
        snprintf(sku, sizeof sku, "%s", fees[l->what].code);
        snprintf(desc, sizeof desc, "%s", fees[l->what].desc);
    } else {
        item_sku(l->what, l->flags & F_LOWER, sku, sizeof sku);
        item_desc(l->what, desc, sizeof desc);
    }
    format_qty(l->milli, qty, sizeof qty);
    format_time(l->t, us_dates(rs->store), when, sizeof when);
    cust[0] = '\0';
    if (l->cust)
        snprintf(cust, sizeof cust, "%u%s",
                 ID_FIRST + (rs->store - 1) * ID_STRIDE + l->cust,
                 l->flags & F_DOTZERO ? ".0" : "");
    fprintf(f, "%s%u,%s,", l->kind == LINE_CANCEL ? "C" : "", no, sku);
    put_field(f, desc);
    fprintf(f, ",%s,%s,%u.%02u,%s,%s\n", qty, when, l->cents / 100,
            l->cents % 100, cust, country);
}

static fr_err
store_path(const args *a, unsigned store, char *path, char *tmp)
{
    if (snprintf(path, PATH_MAX, "%s/store-%02u.csv", a->out, store) >=
            PATH_MAX ||
        snprintf(tmp, PATH_MAX, "%s.tmp", path) >= PATH_MAX)
        return FR_ELIMIT;
    return FR_OK;
}

static fr_err
raw_write(const args *a, const raw_store *rs)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    uint32_t first = rs->n_inv <= 1000000u - INVOICE_FIRST ? INVOICE_FIRST
                                                           : INVOICE_LOW;
    uint32_t no = first - 1, prev = UINT32_MAX;
    FILE *f;

    if (store_path(a, rs->store, path, tmp))
        return FR_ELIMIT;
    if (!(f = open_private(tmp)))
        return FR_ESYS;
    fputs("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,"
          "CustomerID,Country\n", f);
    for (size_t i = 0; i < rs->n; i++) {
        const rline *l = &rs->v[i];
        if (l->inv != prev) {
            no++;
            prev = l->inv;
        }
        write_line(f, rs, l, no);
    }
    return close_into_place(f, tmp, path);
}

/* DIR/products.csv: every item, most popular first. */
static fr_err
write_products(const args *a, const catalogue *c)
{
    char path[PATH_MAX], tmp[PATH_MAX], sku[24], desc[96];
    uint32_t *by_rank = malloc((size_t)c->n * sizeof *by_rank);
    FILE *f;

    if (!by_rank)
        return FR_ENOMEM;
    for (uint32_t i = 0; i < c->n; i++)
        by_rank[c->rank[i]] = i;
    if (snprintf(path, sizeof path, "%s/products.csv", a->out) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(by_rank);
        return FR_ELIMIT;
    }
    if (!(f = open_private(tmp))) {
        free(by_rank);
        return FR_ESYS;
    }
    fputs("StockCode,Description,UnitPrice\n", f);
    for (uint32_t r = 0; r < c->n; r++) {
        uint32_t i = by_rank[r], cents = item_cents(i);
        item_sku(i, false, sku, sizeof sku);
        item_desc(i, desc, sizeof desc);
        fprintf(f, "%s,", sku);
        put_field(f, desc);
        fprintf(f, ",%u.%02u\n", cents / 100, cents % 100);
    }
    free(by_rank);
    return close_into_place(f, tmp, path);
}

static fr_err
write_expected(const args *a, const raw_counts *k)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    FILE *f;

    if (snprintf(path, sizeof path, "%s/expected.txt", a->out) >=
            (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return FR_ELIMIT;
    if (!(f = open_private(tmp)))
        return FR_ESYS;
    fputs("# what a correct import of each store file reports\n", f);
    for (unsigned s = 0; s < (unsigned)a->stores; s++, k++)
        fprintf(f,
                "store-%02u.csv rows_read=%llu purchase_rows=%llu "
                "return_rows=%llu guest_rows=%llu nonproduct_rows=%llu "
                "zero_quantity_rows=%llu pairs_fully_returned=%llu "
                "ids_merged=%llu rows_rewritten=%llu skus_case_merged=%llu\n",
                s + 1, (unsigned long long)k->read,
                (unsigned long long)k->purchase, (unsigned long long)k->ret,
                (unsigned long long)k->guest, (unsigned long long)k->fee,
                (unsigned long long)k->zero, (unsigned long long)k->full,
                (unsigned long long)k->merged,
                (unsigned long long)k->rewritten,
                (unsigned long long)k->sku_merged);
    return close_into_place(f, tmp, path);
}

static double *
popularity_cdf(const catalogue *c)
{
    double *cum = malloc((size_t)c->n * sizeof *cum), sum = 0.0;

    if (!cum)
        return NULL;
    for (uint32_t i = 0; i < c->n; i++)
        cum[i] = sum += exp(c->log_pop[i]);
    return cum;
}

/* One store: build, write, count. An error after printing it. */
static fr_err
raw_store_run(const args *a, const catalogue *c, const double *cum,
              unsigned store, scratch *s, raw_counts *out)
{
    raw_store rs = {.c = c, .cum = cum, .store = store};
    fr_err rc = (rs.cases = calloc(c->n, 1)) ? raw_build(&rs, a, s)
                                             : FR_ENOMEM;

    if (rc)
        fprintf(stderr, PROG ": out of memory for store %02u\n", store);
    else if ((rc = raw_write(a, &rs)))
        fprintf(stderr, PROG ": cannot write store %02u in '%s': %s\n",
                store, a->out, strerror(errno));
    *out = rs.k;
    free(rs.v);
    free(rs.cases);
    return rc;
}

fr_err
raw_generate(const args *a, const catalogue *c, scratch *s, uint64_t *rows)
{
    raw_counts *k = calloc((size_t)a->stores, sizeof *k);
    double *cum = popularity_cdf(c);
    fr_err rc = FR_ENOMEM;

    if (!k || !cum) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if ((rc = write_products(a, c))) {
        fprintf(stderr, PROG ": cannot write products.csv in '%s': %s\n",
                a->out, rc == FR_ENOMEM ? "out of memory" : strerror(errno));
        goto out;
    }
    for (unsigned st = 1; st <= (unsigned)a->stores; st++) {
        if ((rc = raw_store_run(a, c, cum, st, s, &k[st - 1])))
            goto out;
        *rows += k[st - 1].read;
    }
    if ((rc = write_expected(a, k)))
        fprintf(stderr, PROG ": cannot write expected.txt in '%s': %s\n",
                a->out, strerror(errno));
out:
    free(k);
    free(cum);
    return rc;
}
