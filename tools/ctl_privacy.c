/*
 * ctl_privacy.c - fedrec-ctl's local computations: "privacy epsilon" (the
 * (epsilon, delta) of a Gaussian or distributed discrete Gaussian run, from
 * the RDP accountant in common/dp/accountant.h) and "privacy noise" (the
 * noise multiplier a target epsilon needs). No daemon is involved; the
 * answer is one JSON object on stdout.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "ctl_int.h"
#include "dp/accountant.h"

/* The options of the privacy commands, one row each. */
enum {
    P_MECHANISM,
    P_NOISE_MULTIPLIER,
    P_EPSILON,
    P_NUM_NOISE_SHARES,
    P_DIM,
    P_LOCAL_STDDEV_SCALED,
    P_L2_SENS_SCALED,
    P_L1_SENS_SCALED,
    P_SAMPLING_RATE,
    P_STEPS,
    P_DELTA,
    P_COUNT
};

typedef struct priv_spec {
    const char *name;
    int integer;     /* whole number in [min, max] */
    double min, max; /* a real number in (min, max] or [min, max] */
    int min_open, max_open;
    const char *expect; /* for the error message */
} priv_spec;

static const priv_spec priv_specs[P_COUNT] = {
    {"--mechanism", 0, 0, 0, 0, 0, "gaussian or ddg"},
    {"--noise-multiplier", 0, 0, 1e7, 1, 0, "a number in (0, 1e7]"},
    {"--epsilon", 0, 0, 1e6, 1, 0, "a number in (0, 1e6]"},
    {"--num-noise-shares", 1, 1, FR_DP_MAX_SHARES, 0, 0,
     "a whole number in [1, 1000000]"},
    {"--dim", 1, 1, 1125899906842624.0, 0, 0, "a whole number in [1, 2^50]"},
    {"--local-stddev-scaled", 0, 0, 1e300, 1, 0, "a finite number > 0"},
    {"--l2-sens-scaled", 0, 0, 1e300, 1, 0, "a finite number > 0"},
    {"--l1-sens-scaled", 0, 0, 1e300, 1, 0, "a finite number > 0"},
    {"--sampling-rate", 0, 0, 1, 1, 0, "a number in (0, 1]"},
    {"--steps", 1, 1, 1e12, 0, 0, "a whole number in [1, 10^12]"},
    {"--delta", 0, 0, 1, 1, 1, "a number in (0, 1)"},
};

#define P_BIT(p) (1u << (p))
#define P_RUN    (P_BIT(P_SAMPLING_RATE) | P_BIT(P_STEPS) | P_BIT(P_DELTA))
#define P_GAUSS  (P_BIT(P_MECHANISM) | P_BIT(P_NOISE_MULTIPLIER) | P_RUN)
#define P_DDG                                                                  \
    (P_BIT(P_MECHANISM) | P_BIT(P_NUM_NOISE_SHARES) | P_BIT(P_DIM) |           \
     P_BIT(P_LOCAL_STDDEV_SCALED) | P_BIT(P_L2_SENS_SCALED) |                  \
     P_BIT(P_L1_SENS_SCALED) | P_RUN)
#define P_NOISE (P_BIT(P_MECHANISM) | P_BIT(P_EPSILON) | P_RUN)

typedef struct priv_args {
    const char *text[P_COUNT]; /* as given, NULL if absent */
    double num[P_COUNT];       /* parsed values */
    int ddg;                   /* --mechanism ddg */
} priv_args;

void
ctl_privacy_usage(FILE *out)
{
    fprintf(out,
            "\nprivacy options (a local computation; prints JSON):\n"
            "  privacy epsilon --mechanism gaussian --noise-multiplier Z\n"
            "      --sampling-rate Q --steps T --delta D\n"
            "  privacy epsilon --mechanism ddg --num-noise-shares N --dim D\n"
            "      --local-stddev-scaled S --l2-sens-scaled A "
            "--l1-sens-scaled B\n"
            "      --sampling-rate Q --steps T --delta D\n"
            "  privacy noise --mechanism gaussian --epsilon E "
            "--sampling-rate Q\n"
            "      --steps T --delta D\n"
            "  Z: noise std-dev / L2 sensitivity; Q: Poisson sampling rate "
            "(1: none);\n"
            "  T: rounds; N: honest noise shares in the sum; D: padded "
            "dimension;\n"
            "  S, A, B: per-share std-dev and inflated L2, L1 sensitivity "
            "in\n"
            "  integer units. ddg with Q < 1 uses the Zhu-Wang bound.\n");
}

static int priv_error(const char *fmt, ...) FR_PRINTF(1, 2);

static int
priv_error(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": privacy: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\ntry '" PROG " --help'\n", stderr);
    return EXIT_USAGE;
}

/* Collects --opt VALUE / --opt=VALUE pairs into pa->text; an exit code on
 * error, -1 after --help, 0 otherwise. */
static int
priv_collect(char **args, priv_args *pa)
{
    for (int i = 0; args[i]; i++) {
        const char *a = args[i], *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        int p;

        if (!strcmp(a, "--help")) {
            ctl_privacy_usage(stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) != 0)
            return priv_error("unexpected argument '%s'", a);
        for (p = 0; p < P_COUNT; p++)
            if (strlen(priv_specs[p].name) == n &&
                !strncmp(a, priv_specs[p].name, n))
                break;
        if (p == P_COUNT)
            return priv_error("unknown option %.*s", (int)n, a);
        if (pa->text[p])
            return priv_error("%s given twice", priv_specs[p].name);
        if (!eq && !args[i + 1])
            return priv_error("%s needs a value (%s)", priv_specs[p].name,
                              priv_specs[p].expect);
        pa->text[p] = eq ? eq + 1 : args[++i];
    }
    return 0;
}

/* Parses one value against its row of priv_specs. */
static int
priv_value(priv_args *pa, int p)
{
    const priv_spec *sp = &priv_specs[p];
    const char *v = pa->text[p];
    uint64_t u;
    double d;

    if (sp->integer) {
        if (fr_parse_u64(v, (uint64_t)sp->max, &u) || u < (uint64_t)sp->min)
            goto bad;
        pa->num[p] = (double)u;
        return 0;
    }
    if (fr_parse_double(v, sp->min, sp->max, &d) ||
        (sp->min_open && d == sp->min) || (sp->max_open && d == sp->max))
        goto bad;
    pa->num[p] = d;
    return 0;
bad:
    return priv_error("%s: expected %s, got '%s'", sp->name, sp->expect, v);
}

/* Checks which options the command and mechanism take, and parses them. */
static int
priv_parse(const char *command, char **args, priv_args *pa)
{
    int noise = strcmp(command, "noise") == 0, rc;
    const char *m;
    unsigned want;

    memset(pa, 0, sizeof *pa);
    if ((rc = priv_collect(args, pa)))
        return rc;
    if (!(m = pa->text[P_MECHANISM]))
        return priv_error("missing --mechanism (%s)",
                          noise ? "gaussian" : "gaussian or ddg");
    pa->ddg = strcmp(m, "ddg") == 0;
    if (strcmp(m, "gaussian") != 0 && (!pa->ddg || noise))
        return priv_error("--mechanism: expected %s, got '%s'",
                          noise ? "gaussian (the only mechanism with a "
                                  "noise inverse)"
                                : "gaussian or ddg",
                          m);
    want = noise ? P_NOISE : pa->ddg ? P_DDG : P_GAUSS;
    for (int p = 0; p < P_COUNT; p++)
        if (pa->text[p] && !(want & P_BIT(p)))
            return priv_error("%s does not apply to privacy %s "
                              "--mechanism %s",
                              priv_specs[p].name, command, m);
    for (int p = 0; p < P_COUNT; p++)
        if ((want & P_BIT(p)) && !pa->text[p])
            return priv_error("missing %s (%s)", priv_specs[p].name,
                              priv_specs[p].expect);
    for (int p = 1; p < P_COUNT; p++)
        if ((want & P_BIT(p)) && (rc = priv_value(pa, p)))
            return rc;
    return 0;
}

/* "key": number, with 17 significant digits; null if not finite. */
static void
json_num(const char *key, double v)
{
    if (isfinite(v))
        printf(", \"%s\": %.17g", key, v);
    else
        printf(", \"%s\": null", key);
}

/* T * the curve on o, converted at delta; prints epsilon and order. */
static int
priv_report(const fr_dp_orders *o, double *rdp, double steps, double delta)
{
    double eps, order;

    for (size_t i = 0; i < o->n; i++)
        rdp[i] *= steps;
    if (fr_dp_epsilon(o, rdp, delta, &eps, &order)) {
        fprintf(stderr, PROG ": privacy: the accountant refused the "
                             "curve\n");
        return EXIT_REFUSED;
    }
    json_num("epsilon", eps);
    json_num("order", order);
    printf("}\n");
    return EXIT_OK;
}

static int
run_privacy_epsilon(const priv_args *pa)
{
    double rdp[FR_DP_MAX_ORDERS], q = pa->num[P_SAMPLING_RATE];
    fr_dp_orders o;
    fr_dp_ddg m;

    if (!pa->ddg) {
        fr_dp_orders_default(&o);
        if (fr_dp_rdp_gaussian_curve(q, pa->num[P_NOISE_MULTIPLIER], 1, &o,
                                     rdp))
            return priv_error("the inputs are out of range");
        printf("{\"mechanism\": \"gaussian\"");
        json_num("noise_multiplier", pa->num[P_NOISE_MULTIPLIER]);
    } else {
        fr_dp_orders_ddg(&o);
        m.n_shares = (uint32_t)pa->num[P_NUM_NOISE_SHARES];
        m.dim = (uint64_t)pa->num[P_DIM];
        m.sigma_scaled = pa->num[P_LOCAL_STDDEV_SCALED];
        m.l2_sens = pa->num[P_L2_SENS_SCALED];
        m.l1_sens = pa->num[P_L1_SENS_SCALED];
        m.q = q;
        if (fr_dp_rdp_ddg(&m, &o, rdp))
            return priv_error("the inputs are out of range");
        printf("{\"mechanism\": \"ddg\"");
        printf(", \"num_noise_shares\": %u, \"dim\": %llu", m.n_shares,
               (unsigned long long)m.dim);
        json_num("local_stddev_scaled", m.sigma_scaled);
        json_num("l2_sens_scaled", m.l2_sens);
        json_num("l1_sens_scaled", m.l1_sens);
        json_num("tau", fr_dp_ddg_tau(m.sigma_scaled, m.n_shares));
    }
    json_num("sampling_rate", q);
    printf(", \"steps\": %.0f", pa->num[P_STEPS]);
    json_num("delta", pa->num[P_DELTA]);
    printf(", \"orders\": \"%s\"", pa->ddg ? "2..128,256" : "default");
    return priv_report(&o, rdp, pa->num[P_STEPS], pa->num[P_DELTA]);
}

static int
run_privacy_noise(const priv_args *pa)
{
    double q = pa->num[P_SAMPLING_RATE], delta = pa->num[P_DELTA];
    double target = pa->num[P_EPSILON], z, rdp[FR_DP_MAX_ORDERS];
    uint64_t steps = (uint64_t)pa->num[P_STEPS];
    fr_dp_orders o;
    fr_err rc;

    rc = fr_dp_gaussian_noise_for(q, steps, delta, target, &z);
    if (rc == FR_ELIMIT) {
        fprintf(stderr,
                PROG ": privacy: no noise multiplier in [0.001, 1e7] "
                     "gives epsilon %g at delta %g\n",
                target, delta);
        return EXIT_REFUSED;
    }
    if (rc)
        return priv_error("the inputs are out of range");
    fr_dp_orders_default(&o);
    if (fr_dp_rdp_gaussian_curve(q, z, 1, &o, rdp))
        return priv_error("the inputs are out of range");
    printf("{\"mechanism\": \"gaussian\"");
    json_num("epsilon_target", target);
    json_num("sampling_rate", q);
    printf(", \"steps\": %llu", (unsigned long long)steps);
    json_num("delta", delta);
    printf(", \"orders\": \"default\"");
    json_num("noise_multiplier", z);
    return priv_report(&o, rdp, (double)steps, delta);
}

int
ctl_privacy_run(const char *command, char **args)
{
    priv_args pa;
    int rc;

    if ((rc = priv_parse(command, args, &pa)))
        return rc < 0 ? EXIT_OK : rc;
    return strcmp(command, "noise") == 0 ? run_privacy_noise(&pa)
                                         : run_privacy_epsilon(&pa);
}
