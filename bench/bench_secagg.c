/*
 * bench_secagg.c - the cost of one SecAgg+ round (common/secagg) against the
 * floor set by its two primitives, measured in the same run.
 *
 *   bench_secagg [--quick] [--case N]
 *
 * n stores and the aggregator run the whole protocol in one process (no
 * sockets): every store advertises, shares, masks and reveals through
 * fr_sa_client, the aggregator drives the phases through fr_sa_server. The
 * dropping stores drop after sharing keys and before sending their masked
 * input, the costly case for the aggregator (it rebuilds their mask keys and
 * removes their pairwise masks). Every reply is also encoded with
 * fr_wire_encode to count the bytes a store really sends. The unmasked sum is
 * checked against the sum of the survivors' inputs; a wrong sum stops the
 * benchmark with an error.
 *
 * The floor: ChaCha20 keystream throughput (crypto_stream_chacha20 over a
 * 4 MiB buffer) and X25519 operations per second (crypto_scalarmult), each
 * the best of several trials taken before and after the case. A store must
 * at least expand (1 + k_eff) seeds to d words and agree k_eff pairwise keys;
 * the aggregator must at least expand one seed per survivor plus one per
 * (dropped store, surviving neighbour) pair and agree a key for each such
 * pair. measured / floor <= 2 is the target (PASS/MISS is informational:
 * the exit status is 0 unless the run itself fails).
 *
 * Times are wall-clock (CLOCK_MONOTONIC); the ratios are also given on
 * thread CPU time, which a busy machine disturbs less.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "base/util.h"
#include "crypto/crypto.h"
#include "secagg/secagg.h"
#include "wire/wire.h"

#define PROG "bench_secagg"
#define ROUND_ID 4242u
#define TARGET_RATIO 2.0
#define FLOOR_BUF (4u << 20)
#define FLOOR_TRIALS 7

typedef struct bcase {
    uint32_t n, d, k;
    double drop; /* fraction of stores that drop after sharing keys */
} bcase;

static const bcase cases[] = {
    {100, 100000, 20, 0.0},
    {100, 100000, 20, 0.1},
    {500, 10000, 40, 0.1},
    {100, 100000, 99, 0.1}, /* full graph, k = n - 1 */
};
static const bcase quick_case = {20, 10000, 8, 0.1};

/* Store-side work per request. */
enum { T_ADV, T_KEYS, T_MASKREQ, T_MASK, T_CONSIST, T_UNMASK, T_N };
static const char *t_name[T_N] = {"advertise", "shares", "decrypt",
                                  "mask", "sign", "reveal"};
/* Aggregator work per phase: the advance that opens it, its requests and
 * the replies it collects; A_UNMASK is the last advance alone. */
enum { A_ADV, A_SHARES, A_MASKED, A_SIGNED, A_REVEAL, A_UNMASK, A_N };
static const char *a_name[A_N] = {"advertise", "shares", "masked",
                                  "signed", "reveal", "unmask"};
/* Messages a store sends. */
enum { B_ADV, B_SHARES, B_MASKED, B_SIGNED, B_REVEAL, B_N };
static const char *b_name[B_N] = {"advertise", "shares", "masked", "signed",
                                  "reveal"};

typedef struct tick {
    double wall, cpu; /* seconds */
} tick;

typedef struct floor_rate {
    double gbps, gbps_cpu;   /* ChaCha20 keystream, 1e9 bytes/s */
    double x25519, x25519_cpu; /* operations/s */
} floor_rate;

typedef struct sim {
    bcase bc;
    fr_sa_params p;
    uint8_t seed[32];
    fr_crypto_signkey **ids;
    uint8_t (*idpk)[32];
    fr_sa_client **c;
    fr_sa_server *s;
    uint32_t **in;
    uint8_t *drops;         /* drops after sharing keys */
    tick (*st)[T_N];        /* per store */
    tick ag[A_N];
    size_t (*bytes)[B_N];   /* per store, wire bytes of each message */
} sim;

/* ---- timing ------------------------------------------------------------- */

static tick
now(void)
{
    struct timespec w, c;

    clock_gettime(CLOCK_MONOTONIC, &w);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c);
    return (tick){(double)w.tv_sec + (double)w.tv_nsec * 1e-9,
                  (double)c.tv_sec + (double)c.tv_nsec * 1e-9};
}

/* *sum += now() - t0 */
static void
add_since(tick *sum, tick t0)
{
    tick t1 = now();

    sum->wall += t1.wall - t0.wall;
    sum->cpu += t1.cpu - t0.cpu;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..m-1] (sorted in place); 0 for m == 0. */
static double
median(double *v, size_t m)
{
    if (m == 0)
        return 0.0;
    qsort(v, m, sizeof *v, cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

/* ---- floor --------------------------------------------------------------- */

static void
floor_chacha(floor_rate *f)
{
    uint8_t key[crypto_stream_chacha20_KEYBYTES];
    uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    uint8_t *buf = malloc(FLOOR_BUF);
    const int reps = 4;

    if (!buf) {
        fprintf(stderr, PROG ": out of memory\n");
        exit(1);
    }
    randombytes_buf(key, sizeof key);
    for (int trial = 0; trial < FLOOR_TRIALS; trial++) {
        tick t0 = now(), dt = {0, 0};
        for (int r = 0; r < reps; r++) {
            nonce[0] = (uint8_t)r;
            crypto_stream_chacha20(buf, FLOOR_BUF, nonce, key);
        }
        add_since(&dt, t0);
        if ((double)reps * FLOOR_BUF / dt.wall * 1e-9 > f->gbps)
            f->gbps = (double)reps * FLOOR_BUF / dt.wall * 1e-9;
        if ((double)reps * FLOOR_BUF / dt.cpu * 1e-9 > f->gbps_cpu)
            f->gbps_cpu = (double)reps * FLOOR_BUF / dt.cpu * 1e-9;
    }
    free(buf);
}

static void
floor_x25519(floor_rate *f)
{
    uint8_t sk[32], pk[32], out[32];
    const int ops = 200;

    randombytes_buf(sk, sizeof sk);
    crypto_scalarmult_base(pk, sk);
    for (int trial = 0; trial < FLOOR_TRIALS; trial++) {
        tick t0 = now(), dt = {0, 0};
        for (int r = 0; r < ops; r++) {
            sk[0] = (uint8_t)r;
            if (crypto_scalarmult(out, sk, pk) != 0)
                out[0] ^= 1; /* cannot happen for a base-point multiple */
        }
        add_since(&dt, t0);
        if (ops / dt.wall > f->x25519)
            f->x25519 = ops / dt.wall;
        if (ops / dt.cpu > f->x25519_cpu)
            f->x25519_cpu = ops / dt.cpu;
    }
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(out, sizeof out);
}

/* Best rates seen so far, updated in place. */
static void
floor_measure(floor_rate *f)
{
    floor_chacha(f);
    floor_x25519(f);
}

/* ---- simulation ------------------------------------------------------------ */

static void
die(const char *what, const char *why)
{
    fprintf(stderr, PROG ": %s%s%s\n", what, why ? ": " : "", why ? why : "");
    exit(1);
}

static void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        die("out of memory", NULL);
    return p;
}

static void
sim_init(sim *w, const bcase *bc)
{
    uint32_t n = bc->n, n_drop = (uint32_t)lround(bc->drop * n);
    uint32_t *order = xcalloc(n, sizeof *order);
    char err[256];
    fr_rng rng;

    memset(w, 0, sizeof *w);
    w->bc = *bc;
    w->p.round_id = ROUND_ID;
    w->p.n = n;
    w->p.k = bc->k;
    w->p.t = fr_sa_default_t(bc->k);
    w->p.n_words = bc->d;
    w->p.min_inputs = w->p.t;
    if (fr_sa_check_params(n, bc->k, w->p.t, bc->drop, err, sizeof err))
        die("bad case", err);
    fr_sa_graph_seed(w->seed, w->p.graph_commit);
    w->ids = xcalloc(n, sizeof *w->ids);
    w->idpk = xcalloc(n, sizeof *w->idpk);
    w->c = xcalloc(n, sizeof *w->c);
    w->in = xcalloc(n, sizeof *w->in);
    w->drops = xcalloc(n, 1);
    w->st = xcalloc(n, sizeof *w->st);
    w->bytes = xcalloc(n, sizeof *w->bytes);
    fr_rng_seed(&rng, (uint64_t)n * 1000003u + bc->d + bc->k);
    for (uint32_t i = 0; i < n; i++) {
        if (fr_crypto_signkey_generate(&w->ids[i]))
            die("cannot make an identity key", NULL);
        memcpy(w->idpk[i], fr_crypto_signkey_public(w->ids[i]), 32);
        if (fr_sa_client_new(&w->p, i, w->ids[i], &w->c[i]))
            die("cannot make a store", NULL);
        w->in[i] = xcalloc(bc->d, sizeof **w->in);
        for (uint32_t j = 0; j < bc->d; j++)
            w->in[i][j] = (uint32_t)fr_rng_next(&rng);
        order[i] = i;
    }
    for (uint32_t i = n - 1; i > 0; i--) { /* which stores drop */
        uint32_t j = (uint32_t)fr_rng_below(&rng, i + 1), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    for (uint32_t i = 0; i < n_drop; i++)
        w->drops[order[i]] = 1;
    free(order);
    if (fr_sa_server_new(&w->p, w->seed, (const uint8_t(*)[32])w->idpk,
                         &w->s))
        die("cannot make the aggregator", NULL);
}

static void
sim_free(sim *w)
{
    for (uint32_t i = 0; i < w->bc.n; i++) {
        fr_sa_client_destroy(&w->c[i]);
        fr_crypto_signkey_destroy(&w->ids[i]);
        free(w->in[i]);
    }
    fr_sa_server_destroy(&w->s);
    free(w->ids);
    free(w->idpk);
    free(w->c);
    free(w->in);
    free(w->drops);
    free(w->st);
    free(w->bytes);
}

/* Wire size of a store's reply, as the client sends it (the masked input
 * carries the store's metrics). */
static size_t
wire_size(const fr_sa_msg *reply)
{
    fr_msg m = {.type = FR_MSG_SECAGG, .round_id = ROUND_ID};
    uint8_t *buf = NULL;
    size_t len = 0;

    m.u.secagg.sa = *reply;
    if (reply->phase == FR_SA_MASKED) {
        m.u.secagg.has_metrics = 1;
        m.u.secagg.metrics = (fr_metrics){0.5, 0.3, 0.4, 0.2, 100, 0.6};
    }
    if (fr_wire_encode(&m, FR_WIRE_DEFAULT_MAX_BYTES, &buf, &len))
        die("cannot encode a reply", NULL);
    free(buf);
    return len;
}

/* Which message of a store this is. */
static int
msg_slot(const fr_sa_msg *m)
{
    switch (m->phase) {
    case FR_SA_ADVERTISE: return B_ADV;
    case FR_SA_SHARES: return B_SHARES;
    case FR_SA_MASKED: return B_MASKED;
    case FR_SA_SIGNED: return B_SIGNED;
    case FR_SA_REVEAL: return B_REVEAL;
    default: die("a store sent an unexpected message", NULL);
    }
    return -1;
}

/* A store's reply to the aggregator, timed as aggregator phase `ap`. */
static void
deliver(sim *w, uint32_t i, const fr_sa_msg *reply, int ap)
{
    const char *why = NULL;
    tick t0;

    w->bytes[i][msg_slot(reply)] = wire_size(reply);
    t0 = now();
    if (fr_sa_server_recv(w->s, i, reply, &why))
        die("the aggregator refused an honest reply", why);
    add_since(&w->ag[ap], t0);
}

/* One store answers one request (and masks after MASK_REQ). */
static void
store_answer(sim *w, uint32_t i, const fr_sa_msg *req, int ap)
{
    static const int t_of[] = {[FR_SA_KEYS] = T_KEYS,
                               [FR_SA_MASK_REQ] = T_MASKREQ,
                               [FR_SA_CONSIST] = T_CONSIST,
                               [FR_SA_UNMASK] = T_UNMASK};
    fr_sa_msg reply;
    const char *why = NULL;
    tick t0;

    if (req->phase >= FR_ARRAY_LEN(t_of) || t_of[req->phase] == T_ADV)
        die("the aggregator sent an unexpected request", NULL);
    t0 = now();
    if (fr_sa_client_recv(w->c[i], req, &reply, &why))
        die("a store refused the round", why);
    add_since(&w->st[i][t_of[req->phase]], t0);
    if (req->phase == FR_SA_MASK_REQ) {
        t0 = now();
        if (fr_sa_client_mask(w->c[i], w->in[i], &reply, &why))
            die("a store cannot mask", why);
        add_since(&w->st[i][T_MASK], t0);
    }
    deliver(w, i, &reply, ap);
}

static void
sim_run(sim *w)
{
    fr_sa_msg req, reply;
    const char *why = NULL;
    tick t0;

    for (uint32_t i = 0; i < w->bc.n; i++) {
        t0 = now();
        if (fr_sa_client_advertise(w->c[i], &reply))
            die("a store cannot advertise", NULL);
        add_since(&w->st[i][T_ADV], t0);
        deliver(w, i, &reply, A_ADV);
    }
    for (int ap = A_SHARES; ap <= A_REVEAL; ap++) {
        t0 = now();
        if (fr_sa_server_advance(w->s, &why))
            die("the round aborted", why);
        add_since(&w->ag[ap], t0);
        for (uint32_t i = 0; i < w->bc.n; i++) {
            fr_err rc;
            t0 = now();
            rc = fr_sa_server_request(w->s, i, &req);
            add_since(&w->ag[ap], t0);
            if (rc)
                continue;
            /* The dropping stores vanish once their shares are out. */
            if (w->drops[i] && ap >= A_MASKED)
                continue;
            store_answer(w, i, &req, ap);
        }
    }
    t0 = now();
    if (fr_sa_server_advance(w->s, &why))
        die("unmasking failed", why);
    add_since(&w->ag[A_UNMASK], t0);
}

/* The sum must be exactly that of the survivors' inputs. */
static uint32_t
sim_check(const sim *w)
{
    const uint32_t *sum;
    const uint8_t *inc;
    uint32_t n_in, survivors = 0, *want = xcalloc(w->bc.d, sizeof *want);

    if (fr_sa_server_result(w->s, &sum, &n_in, &inc))
        die("no result after the last phase", NULL);
    for (uint32_t i = 0; i < w->bc.n; i++) {
        if ((inc[i] != 0) != !w->drops[i])
            die("the result covers the wrong set of stores", NULL);
        if (w->drops[i])
            continue;
        survivors++;
        for (uint32_t j = 0; j < w->bc.d; j++)
            want[j] += w->in[i][j];
    }
    if (n_in != survivors || memcmp(sum, want, (size_t)w->bc.d * 4))
        die("WRONG SUM: the unmasked sum differs from the sum of the "
            "survivors' inputs", NULL);
    free(want);
    return survivors;
}

/* ---- report ------------------------------------------------------------------- */

typedef struct result {
    double mask_ms, mask_floor_ms, mask_cpu_ratio;
    double unmask_ms, unmask_floor_ms, unmask_cpu_ratio;
    double bytes;
} result;

/* Median over the stores (survivors only if `surv`) of phase tp. */
static tick
store_median(const sim *w, int tp, int surv)
{
    double *wall = xcalloc(w->bc.n, sizeof *wall);
    double *cpu = xcalloc(w->bc.n, sizeof *cpu);
    size_t m = 0;
    tick r;

    for (uint32_t i = 0; i < w->bc.n; i++) {
        if (surv && w->drops[i])
            continue;
        wall[m] = w->st[i][tp].wall;
        cpu[m++] = w->st[i][tp].cpu;
    }
    r.wall = median(wall, m);
    r.cpu = median(cpu, m);
    free(wall);
    free(cpu);
    return r;
}

static const char *
verdict(double ratio)
{
    return ratio <= TARGET_RATIO ? "PASS" : "MISS";
}

/* Pairs (dropped store, surviving neighbour): the masks the aggregator
 * must rebuild. */
static uint64_t
dropped_pairs(const sim *w)
{
    uint32_t *nb = xcalloc(w->bc.k, sizeof *nb);
    uint64_t pairs = 0;

    for (uint32_t i = 0; i < w->bc.n; i++) {
        if (!w->drops[i])
            continue;
        if (fr_sa_neighbours(w->seed, w->bc.n, w->bc.k, i, nb))
            die("cannot rebuild the neighbour graph", NULL);
        for (uint32_t e = 0; e < w->bc.k; e++)
            pairs += !w->drops[nb[e]];
    }
    free(nb);
    return pairs;
}

static void
print_phases(const sim *w)
{
    printf("  store ms (median):");
    for (int tp = 0; tp < T_N; tp++) {
        tick m = store_median(w, tp, tp >= T_MASKREQ);
        printf(" %s %.3f", t_name[tp], m.wall * 1e3);
    }
    printf("\n  aggregator ms:    ");
    for (int ap = 0; ap < A_N; ap++)
        printf(" %s %.2f", a_name[ap], w->ag[ap].wall * 1e3);
    printf("\n");
}

static double
print_bytes(const sim *w)
{
    double *tot = xcalloc(w->bc.n, sizeof *tot), med;
    size_t m = 0, one = 0;

    for (uint32_t i = 0; i < w->bc.n; i++) {
        if (w->drops[i])
            continue;
        one = i;
        for (int b = 0; b < B_N; b++)
            tot[m] += (double)w->bytes[i][b];
        m++;
    }
    med = median(tot, m);
    printf("  bytes sent per surviving store (median): %.0f  [store %zu:",
           med, one);
    for (int b = 0; b < B_N; b++)
        printf(" %s %zu", b_name[b], w->bytes[one][b]);
    printf("]\n");
    free(tot);
    return med;
}

static result
report(const sim *w, const floor_rate *f, uint32_t survivors)
{
    double d4 = (double)w->bc.d * 4, k_eff, mask_bytes, unmask_bytes;
    uint64_t pairs;
    tick mask = store_median(w, T_MASK, 1), unmask = w->ag[A_UNMASK];
    double mf_cpu, uf_cpu;
    result r;

    /* Every store shares keys (the dropping ones drop later), so a
     * surviving store masks with all k neighbours. */
    k_eff = w->bc.k;
    pairs = dropped_pairs(w);
    print_phases(w);
    r.bytes = print_bytes(w);
    mask_bytes = (1.0 + k_eff) * d4;
    unmask_bytes = ((double)survivors + (double)pairs) * d4;
    r.mask_floor_ms = (mask_bytes / (f->gbps * 1e9) + k_eff / f->x25519) * 1e3;
    mf_cpu = (mask_bytes / (f->gbps_cpu * 1e9) + k_eff / f->x25519_cpu) * 1e3;
    r.unmask_floor_ms = (unmask_bytes / (f->gbps * 1e9) +
                         (double)pairs / f->x25519) * 1e3;
    uf_cpu = (unmask_bytes / (f->gbps_cpu * 1e9) +
              (double)pairs / f->x25519_cpu) * 1e3;
    r.mask_ms = mask.wall * 1e3;
    r.unmask_ms = unmask.wall * 1e3;
    r.mask_cpu_ratio = mask.cpu * 1e3 / mf_cpu;
    r.unmask_cpu_ratio = unmask.cpu * 1e3 / uf_cpu;
    printf("  masking (per store): %.3f ms, floor %.3f ms "
           "(%.2f MB keystream + %.1f X25519), ratio %.2f %s  "
           "[cpu time: %.3f ms, ratio %.2f]\n",
           r.mask_ms, r.mask_floor_ms, mask_bytes * 1e-6, k_eff,
           r.mask_ms / r.mask_floor_ms, verdict(r.mask_ms / r.mask_floor_ms),
           mask.cpu * 1e3, r.mask_cpu_ratio);
    printf("  unmasking (aggregator): %.2f ms, floor %.2f ms "
           "(%.1f MB keystream: %u survivors + %llu dropped-neighbour "
           "pairs; %llu X25519), ratio %.2f %s  [cpu time: %.2f ms, "
           "ratio %.2f]\n",
           r.unmask_ms, r.unmask_floor_ms, unmask_bytes * 1e-6, survivors,
           (unsigned long long)pairs, (unsigned long long)pairs,
           r.unmask_ms / r.unmask_floor_ms,
           verdict(r.unmask_ms / r.unmask_floor_ms), unmask.cpu * 1e3,
           r.unmask_cpu_ratio);
    return r;
}

static result
run_case(int no, const bcase *bc)
{
    floor_rate f = {0};
    uint32_t survivors;
    sim w;
    result r;
    tick t0 = now(), total = {0, 0};

    printf("case %d: n=%u d=%u k=%u%s t=%u, %.0f%% drop after sharing keys\n",
           no, bc->n, bc->d, bc->k, bc->k == bc->n - 1 ? " (full graph)" : "",
           fr_sa_default_t(bc->k), bc->drop * 100);
    fflush(stdout);
    floor_measure(&f);
    sim_init(&w, bc);
    sim_run(&w);
    survivors = sim_check(&w);
    floor_measure(&f);
    add_since(&total, t0);
    printf("  floor: ChaCha20 %.2f GB/s, X25519 %.0f ops/s (best of %d, "
           "before and after)\n",
           f.gbps, f.x25519, 2 * FLOOR_TRIALS);
    printf("  sum: correct (%u inputs of %u stores)\n", survivors, bc->n);
    r = report(&w, &f, survivors);
    printf("  case wall time %.1f s\n\n", total.wall);
    fflush(stdout);
    sim_free(&w);
    return r;
}

/* ---- main ------------------------------------------------------------------------ */

static void
usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--quick] [--case N]\n"
               "  --quick   one small case (smoke test)\n"
               "  --case N  only case N (1..%zu)\n",
            FR_ARRAY_LEN(cases));
}

int
main(int argc, char **argv)
{
    const bcase *run[FR_ARRAY_LEN(cases)];
    int nos[FR_ARRAY_LEN(cases)], n_run = 0, only = 0, quick = 0;
    result res[FR_ARRAY_LEN(cases)];

    for (int a = 1; a < argc; a++) {
        int64_t v;
        if (!strcmp(argv[a], "--quick")) {
            quick = 1;
        } else if (!strcmp(argv[a], "--case") && a + 1 < argc &&
                   !fr_parse_i64(argv[a + 1], 1,
                                 (int64_t)FR_ARRAY_LEN(cases), &v)) {
            only = (int)v;
            a++;
        } else if (!strcmp(argv[a], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, PROG ": bad option or value: %s\n", argv[a]);
            usage(stderr);
            return 2;
        }
    }
    if (fr_crypto_init())
        die("cannot initialise libsodium", NULL);
    if (quick) {
        run[n_run] = &quick_case;
        nos[n_run++] = 0;
    } else {
        for (size_t i = 0; i < FR_ARRAY_LEN(cases); i++)
            if (!only || only == (int)i + 1) {
                run[n_run] = &cases[i];
                nos[n_run++] = (int)i + 1;
            }
    }
    for (int i = 0; i < n_run; i++)
        res[i] = run_case(nos[i], run[i]);
    printf("summary (target: measured/floor <= %.1f, wall-clock; cpu: the "
           "same on thread CPU time; informational)\n", TARGET_RATIO);
    printf("%-4s %4s %6s %3s %4s | %8s %8s %5s %4s %5s | %9s %8s %5s %4s "
           "%5s | %7s\n", "case", "n", "d", "k", "drop", "mask ms", "floor",
           "ratio", "", "cpu", "unmask ms", "floor", "ratio", "", "cpu",
           "bytes");
    for (int i = 0; i < n_run; i++) {
        const result *r = &res[i];
        double mr = r->mask_ms / r->mask_floor_ms;
        double ur = r->unmask_ms / r->unmask_floor_ms;
        printf("%-4d %4u %6u %3u %3.0f%% | %8.3f %8.3f %5.2f %4s %5.2f | "
               "%9.2f %8.2f %5.2f %4s %5.2f | %7.0f\n",
               nos[i], run[i]->n, run[i]->d, run[i]->k, run[i]->drop * 100,
               r->mask_ms, r->mask_floor_ms, mr, verdict(mr),
               r->mask_cpu_ratio, r->unmask_ms, r->unmask_floor_ms, ur,
               verdict(ur), r->unmask_cpu_ratio, r->bytes);
    }
    return 0;
}
