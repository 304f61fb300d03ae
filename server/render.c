/*
 * render.c - Prometheus text and the HTML status page from a stats view
 * (see render.h).
 *
 * Both renderers append to one growable buffer; an allocation failure is
 * remembered and reported once at the end (NULL), so the many small
 * appends need no error handling of their own.
 */
#include "render.h"
#include "render_int.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef AGG_VERSION
#define AGG_VERSION "0.1.0"
#endif
const char agg_render_version[] = AGG_VERSION;

/* ---- growable text buffer ------------------------------------------- */

/* Room for more bytes and a NUL; FR_ENOMEM (and b->oom, for good) if the
 * buffer cannot grow: the caller's text is then dropped by sb_take. */
static fr_err
sb_reserve(sbuf *b, size_t more)
{
    size_t cap;
    char *grown;

    if (b->oom)
        return FR_ENOMEM;
    if (b->len + more + 1 <= b->cap)
        return FR_OK;
    cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    grown = realloc(b->p, cap);
    if (!grown) {
        b->oom = 1;
        return FR_ENOMEM;
    }
    b->p = grown;
    b->cap = cap;
    return FR_OK;
}

static void
sb_putn(sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

void
sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

void
sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends at most max bytes of s (up to its NUL), HTML-escaped. */
void
sb_html(sbuf *b, const char *s, size_t max)
{
    size_t n = strnlen(s, max);

    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&#39;"); break;
        default:
            /* Control bytes have no business on the page. */
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                sb_puts(b, "&#xFFFD;");
            else
                sb_putn(b, s + i, 1);
        }
    }
}

/* The finished text, or NULL (buffer freed) after an allocation failure. */
static char *
sb_take(sbuf *b)
{
    if (!b->oom && !b->p)
        (void)sb_reserve(b, 0); /* a failure sets b->oom */
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    b->p[b->len] = 0;
    return b->p;
}

/* ---- Prometheus text format 0.0.4 ------------------------------------ */

/* Sample values: Go-style special values, else shortest exact-enough. */
static const char *
num(char buf[32], double x)
{
    if (isnan(x))
        return "NaN";
    if (isinf(x))
        return x > 0 ? "+Inf" : "-Inf";
    snprintf(buf, 32, "%.10g", x);
    return buf;
}

void
prom_family(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
prom_sample_u64(sbuf *b, const char *name, const char *labels, uint64_t x)
{
    sb_printf(b, "%s%s %" PRIu64 "\n", name, labels, x);
}

void
prom_sample_f(sbuf *b, const char *name, const char *labels, double x)
{
    char t[32];
    sb_printf(b, "%s%s %s\n", name, labels, num(t, x));
}

void
prom_gauge_u64(sbuf *b, const char *name, const char *help, uint64_t x)
{
    prom_family(b, name, "gauge", help);
    prom_sample_u64(b, name, "", x);
}

void
prom_gauge_f(sbuf *b, const char *name, const char *help, double x)
{
    prom_family(b, name, "gauge", help);
    prom_sample_f(b, name, "", x);
}

void
prom_counter_u64(sbuf *b, const char *name, const char *help, uint64_t x)
{
    prom_family(b, name, "counter", help);
    prom_sample_u64(b, name, "", x);
}

/* One histogram series set. The stats keep per-bucket counts; Prometheus
 * wants cumulative ones. The +Inf bucket and _count both come from the
 * buckets so they always agree. lk/lv: an optional extra label. */
static void
histogram(sbuf *b, const char *name, const char *lk, const char *lv,
          const agg_hist *h)
{
    char lab[96], t[32];
    uint64_t cum = 0;

    lab[0] = 0;
    if (lk)
        snprintf(lab, sizeof lab, "%s=\"%s\",", lk, lv);
    for (size_t i = 0; i < AGG_HIST_BOUNDS; i++) {
        cum += h->bucket[i];
        snprintf(t, sizeof t, "%g", agg_hist_bounds[i]);
        sb_printf(b, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, lab, t,
                  cum);
    }
    cum += h->bucket[AGG_HIST_BOUNDS];
    sb_printf(b, "%s_bucket{%sle=\"+Inf\"} %" PRIu64 "\n", name, lab, cum);
    if (lk)
        snprintf(lab, sizeof lab, "{%s=\"%s\"}", lk, lv);
    sb_printf(b, "%s_sum%s %s\n", name, lab, num(t, h->sum));
    sb_printf(b, "%s_count%s %" PRIu64 "\n", name, lab, cum);
}

static void
metrics_rounds(sbuf *b, const agg_stats_view *v)
{
    char lab[64];

    prom_family(b, "fedrec_rounds_total", "counter",
           "Rounds ended by this process, by outcome.");
    for (int o = 0; o < AGG_ROUND_N; o++) {
        snprintf(lab, sizeof lab, "{outcome=\"%s\"}", agg_outcome_names[o]);
        prom_sample_u64(b, "fedrec_rounds_total", lab, v->rounds_total[o]);
    }
    prom_gauge_u64(b, "fedrec_rounds_completed",
              "Rounds aggregated into the model, all time (checkpoint).",
              v->completed);
    prom_gauge_u64(b, "fedrec_round_id", "Current or next wire round id.",
              v->round_id);
    prom_gauge_f(b, "fedrec_rounds_target",
            "Configured number of rounds (0: run forever).",
            (double)v->rounds_target);
    prom_family(b, "fedrec_round_duration_seconds", "histogram",
           "Wall time of ended rounds.");
    histogram(b, "fedrec_round_duration_seconds", NULL, NULL,
              &v->round_seconds);
    prom_family(b, "fedrec_phase_duration_seconds", "histogram",
           "Wall time of round phases.");
    for (int p = 0; p < AGG_PHASE_N; p++)
        histogram(b, "fedrec_phase_duration_seconds", "phase",
                  agg_phase_names[p], &v->phase_seconds[p]);
}

static void
metrics_stores(sbuf *b, const agg_stats_view *v)
{
    char lab[64];

    prom_gauge_u64(b, "fedrec_stores_known", "Stores the aggregator has heard from.",
              v->n_stores);
    prom_gauge_u64(b, "fedrec_stores_connected",
              "Stores heard from within the heartbeat timeout.",
              v->n_connected);
    prom_gauge_u64(b, "fedrec_stores_selected",
              "Stores selected for the current or last round.", v->selected);
    prom_family(b, "fedrec_stores_dropped_total", "counter",
           "Selected stores that dropped out, by phase.");
    for (int p = 0; p < AGG_PHASE_N; p++) {
        snprintf(lab, sizeof lab, "{phase=\"%s\"}", agg_phase_names[p]);
        prom_sample_u64(b, "fedrec_stores_dropped_total", lab,
                   v->dropped_total[p]);
    }
    prom_family(b, "fedrec_refused_connections_total", "counter",
           "CURVE handshakes refused, by reason.");
    snprintf(lab, sizeof lab, "{reason=\"%s\"}",
             agg_reject_names[AGG_REJECT_UNKNOWN_KEY]);
    prom_sample_u64(b, "fedrec_refused_connections_total", lab,
               v->rejected_total[AGG_REJECT_UNKNOWN_KEY]);
    prom_family(b, "fedrec_rejected_messages_total", "counter",
           "Messages from stores turned away, by reason.");
    for (int r = AGG_REJECT_UNKNOWN_KEY + 1; r < AGG_REJECT_N; r++) {
        snprintf(lab, sizeof lab, "{reason=\"%s\"}", agg_reject_names[r]);
        prom_sample_u64(b, "fedrec_rejected_messages_total", lab,
                   v->rejected_total[r]);
    }
    prom_counter_u64(b, "fedrec_quarantines_total",
                "Stores put in quarantine for repeated refused messages.",
                v->quarantines_total);
    prom_counter_u64(b, "fedrec_round_starts_resent_total",
                "Secure round starts sent again to a store that "
                "reconnected without its start.",
                v->starts_resent_total);
    prom_gauge_u64(b, "fedrec_stores_quarantined",
              "Stores in quarantine now (their messages dropped unread).",
              v->n_quarantined);
    prom_counter_u64(b, "fedrec_refusal_log_suppressed_total",
                "Refused-message log lines held back by the rate limit.",
                v->refusal_logs_suppressed);
    prom_family(b, "fedrec_store_quarantined", "gauge",
           "1 while the store is in quarantine.");
    for (size_t i = 0; v->stores && i < v->n_stores; i++) {
        char sl[96]; /* names are [A-Za-z0-9._-]: nothing to escape */
        if (!v->stores[i].quarantined_until_unix_ms)
            continue;
        snprintf(sl, sizeof sl, "{store=\"%.*s\"}",
                 (int)strnlen(v->stores[i].name, sizeof v->stores[i].name),
                 v->stores[i].name);
        prom_sample_u64(b, "fedrec_store_quarantined", sl, 1);
    }
    prom_counter_u64(b, "fedrec_received_bytes_total",
                "Bytes received from stores.", v->bytes_in);
    prom_counter_u64(b, "fedrec_sent_bytes_total", "Bytes sent to stores.",
                v->bytes_out);
    prom_counter_u64(b, "fedrec_received_messages_total",
                "Messages received from stores.", v->messages_in);
    prom_counter_u64(b, "fedrec_sent_messages_total", "Messages sent to stores.",
                v->messages_out);
}

/* Quality of the latest completed round; unknown figures are left out. */
static void
metrics_quality(sbuf *b, const agg_stats_view *v)
{
    static const char *const name[] = {
        "fedrec_quality_hr10", "fedrec_quality_ndcg10",
        "fedrec_quality_pop_hr10", "fedrec_quality_pop_ndcg10",
        "fedrec_train_loss"};
    static const char *const help[] = {
        "HR@10 of the latest round.", "NDCG@10 of the latest round.",
        "HR@10 of the popularity baseline in the latest round.",
        "NDCG@10 of the popularity baseline in the latest round.",
        "Mean training loss of the latest round."};
    const agg_round_info *last;

    if (v->n_recent == 0 || v->n_recent > AGG_RECENT_ROUNDS)
        return;
    last = &v->recent[v->n_recent - 1];
    const double x[] = {last->hr10, last->ndcg10, last->pop_hr10,
                        last->pop_ndcg10, last->loss};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        if (isfinite(x[i]))
            prom_gauge_f(b, name[i], help[i], x[i]);
}

static void
metrics_disk(sbuf *b, const agg_stats_view *v)
{
    char lab[64];

    prom_family(b, "fedrec_disk_write_errors_total", "counter",
           "Writes of state files that failed (the previous file stays), "
           "by file.");
    for (int f = 0; f < AGG_DISK_N; f++) {
        snprintf(lab, sizeof lab, "{file=\"%s\"}", agg_disk_file_names[f]);
        prom_sample_u64(b, "fedrec_disk_write_errors_total", lab,
                   v->disk_errors_total[f]);
    }
}

char *
agg_render_metrics(const agg_stats_view *v)
{
    sbuf b = {0};
    char t[32];

    prom_family(&b, "fedrec_info", "gauge", "Version and mode of the aggregator.");
    sb_printf(&b, "fedrec_info{version=\"%s\",secagg=\"%s\"} 1\n",
              agg_render_version, v->secagg ? "true" : "false");
    prom_family(&b, "fedrec_start_time_seconds", "gauge",
           "Start time of the process, seconds since the Unix epoch.");
    snprintf(t, sizeof t, "%.3f", (double)v->started_unix_ms / 1000.0);
    sb_printf(&b, "fedrec_start_time_seconds %s\n", t);
    if (v->last_checkpoint_unix_ms) {
        prom_family(&b, "fedrec_last_checkpoint_time_seconds", "gauge",
               "Time of the last checkpoint, seconds since the Unix epoch.");
        snprintf(t, sizeof t, "%.3f",
                 (double)v->last_checkpoint_unix_ms / 1000.0);
        sb_printf(&b, "fedrec_last_checkpoint_time_seconds %s\n", t);
    }
    metrics_rounds(&b, v);
    metrics_stores(&b, v);
    metrics_quality(&b, v);
    metrics_disk(&b, v);
    render_regions_metrics(&b, v);
    prom_gauge_u64(&b, "fedrec_paused", "1 while an operator has paused rounds.",
              v->paused != 0);
    prom_gauge_u64(&b, "fedrec_dp_enabled",
              "1 if updates carry a differential-privacy guarantee.",
              v->dp_enabled != 0);
    if (v->dp_enabled) {
        prom_gauge_f(&b, "fedrec_dp_epsilon_spent", "Privacy budget spent so far.",
                v->dp_epsilon_spent);
        prom_gauge_f(&b, "fedrec_dp_epsilon_budget", "Total privacy budget.",
                v->dp_epsilon_budget);
        prom_gauge_f(&b, "fedrec_dp_delta", "Delta of the DP guarantee.",
                v->dp_delta);
    }
    return sb_take(&b);
}

/* ---- status page ------------------------------------------------------ */

/* "3 s", "4 min 05 s", "2 h 07 min", "3 d 04 h". */
static void
fmt_duration(char *out, size_t n, int64_t ms)
{
    long long s = ms > 0 ? ms / 1000 : 0;

    if (s < 60)
        snprintf(out, n, "%lld s", s);
    else if (s < 3600)
        snprintf(out, n, "%lld min %02lld s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, n, "%lld h %02lld min", s / 3600, s % 3600 / 60);
    else
        snprintf(out, n, "%lld d %02lld h", s / 86400, s % 86400 / 3600);
}

static void
fmt_utc(char *out, size_t n, int64_t unix_ms)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;

    if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(out, n, "?");
}

/* A CSS class suffix for the state: the state itself if it is a plain
 * lower-case word, else "other". */
static const char *
state_class(const char *state, size_t max)
{
    size_t n = strnlen(state, max);

    if (n == 0 || n == max)
        return "other";
    for (size_t i = 0; i < n; i++)
        if (state[i] < 'a' || state[i] > 'z')
            return "other";
    return state;
}

static const char page_css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;background:#f5f6f8;color:#1f2937}"
    "main{max-width:1040px;margin:0 auto;padding:20px 24px 32px}"
    "header{display:flex;align-items:center;gap:14px;margin-bottom:16px}"
    "h1{font-size:22px;margin:0}h2{font-size:16px;margin:0 0 10px}"
    ".badge{padding:3px 10px;border-radius:12px;font-size:13px;"
    "font-weight:600;background:#e5e7eb}"
    ".st-collecting{background:#dbeafe;color:#1e40af}"
    ".st-idle{background:#dcfce7;color:#166534}"
    ".st-done{background:#e0e7ff;color:#3730a3}"
    ".st-paused,.st-stopping{background:#fef3c7;color:#92400e}"
    ".cards{display:grid;grid-template-columns:repeat(4,1fr);gap:12px;"
    "margin-bottom:16px}"
    ".card,section{background:#fff;border:1px solid #e5e7eb;"
    "border-radius:8px;padding:12px 16px}"
    "section{margin-bottom:16px}"
    ".k{font-size:12px;color:#6b7280;text-transform:uppercase;"
    "letter-spacing:.04em}"
    ".v{font-size:24px;font-weight:600}.s{font-size:13px;color:#6b7280;"
    "font-weight:400}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:5px 10px;border-bottom:1px solid #f0f1f3}"
    "th{font-size:12px;color:#6b7280;font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr max-content "
    "1fr;gap:6px 18px;margin:0}dt{font-size:12px;color:#6b7280;"
    "font-weight:600;padding-top:2px}dd{margin:0}"
    ".yes{color:#166534}.no{color:#9ca3af}"
    ".empty{color:#6b7280;font-style:italic}"
    "svg text{font:12px system-ui,sans-serif;fill:#4b5563}"
    "footer{font-size:12px;color:#6b7280}a{color:#2563eb}";

static void
page_head(sbuf *b, const agg_stats_view *v)
{
    sb_printf(b,
              "<!DOCTYPE html>\n<html lang=\"en\"><head>"
              "<meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width\">"
              "<meta http-equiv=\"refresh\" content=\"5\">"
              "<title>fedrec aggregator</title><style>%s</style></head>\n"
              "<body><main><header><h1>fedrec aggregator</h1>",
              page_css);
    sb_printf(b, "<span class=\"badge st-%s\" id=\"state\">",
              state_class(v->state, sizeof v->state));
    sb_html(b, v->state, sizeof v->state);
    sb_puts(b, "</span></header>\n");
}

static void
page_cards(sbuf *b, const agg_stats_view *v, int64_t now)
{
    char up[48];

    sb_printf(b,
              "<div class=\"cards\"><div class=\"card\"><div class=\"k\">"
              "Round</div><div class=\"v\" id=\"round-id\">%" PRIu64 "</div>"
              "<div class=\"s\">phase <span id=\"phase\">",
              v->round_id);
    if (strnlen(v->phase, sizeof v->phase))
        sb_html(b, v->phase, sizeof v->phase);
    else
        sb_puts(b, "none");
    sb_printf(b,
              "</span></div></div>\n<div class=\"card\"><div class=\"k\">"
              "Completed rounds</div><div class=\"v\"><span "
              "id=\"rounds-completed\">%" PRIu64 "</span> <span class=\"s\">"
              "of <span id=\"rounds-target\">",
              v->completed);
    if (v->rounds_target > 0)
        sb_printf(b, "%" PRId64, v->rounds_target);
    else
        sb_puts(b, "no limit");
    sb_printf(b,
              "</span></span></div></div>\n<div class=\"card\"><div "
              "class=\"k\">Stores connected</div><div class=\"v\"><span "
              "id=\"stores-connected\">%zu</span> <span class=\"s\">of %zu "
              "known, %u selected</span></div></div>\n",
              v->n_connected, v->n_stores, (unsigned)v->selected);
    fmt_duration(up, sizeof up, now - v->started_unix_ms);
    sb_printf(b,
              "<div class=\"card\"><div class=\"k\">Uptime</div><div "
              "class=\"v\" id=\"uptime\">%s</div></div></div>\n",
              up);
}

static void
page_settings(sbuf *b, const agg_stats_view *v, int64_t now)
{
    char t[48], age[48];

    sb_printf(b,
              "<section><h2>Run</h2><dl class=\"kv\">"
              "<dt>Paused</dt><dd id=\"paused\">%s</dd>"
              "<dt>Secure aggregation</dt><dd id=\"secagg\">%s</dd>"
              "<dt>Differential privacy</dt><dd id=\"dp\">",
              v->paused ? "yes: no new rounds start" : "no",
              v->secagg ? "on (SecAgg+)" : "off");
    if (!v->dp_enabled) {
        sb_puts(b, "no DP guarantee");
    } else {
        char e[32], bu[32], d[32];
        sb_printf(b, "&epsilon; %s spent of %s, at &delta; = %s",
                  num(e, v->dp_epsilon_spent), num(bu, v->dp_epsilon_budget),
                  num(d, v->dp_delta));
    }
    sb_puts(b, "</dd><dt>Last checkpoint</dt><dd id=\"last-checkpoint\">");
    if (v->last_checkpoint_unix_ms) {
        fmt_utc(t, sizeof t, v->last_checkpoint_unix_ms);
        fmt_duration(age, sizeof age, now - v->last_checkpoint_unix_ms);
        sb_printf(b, "%s (%s ago)", t, age);
    } else {
        sb_puts(b, "none yet");
    }
    fmt_utc(t, sizeof t, v->started_unix_ms);
    sb_printf(b, "</dd><dt>Started</dt><dd>%s</dd></dl></section>\n", t);
}

static void
page_stores(sbuf *b, const agg_stats_view *v, int64_t now)
{
    char age[48];

    sb_puts(b, "<section><h2>Stores</h2><table id=\"stores\"><thead><tr>"
               "<th>Name</th><th>Connected</th><th>Selected</th>"
               "<th>Last seen</th><th class=\"n\">Rounds joined</th>"
               "<th class=\"n\">Examples</th><th>Quarantine</th></tr>"
               "</thead><tbody>\n");
    if (!v->stores || v->n_stores == 0)
        sb_puts(b, "<tr><td colspan=\"7\" class=\"empty\">No store has "
                   "connected yet.</td></tr>\n");
    for (size_t i = 0; v->stores && i < v->n_stores; i++) {
        const agg_store_info *s = &v->stores[i];
        sb_puts(b, "<tr data-store=\"");
        sb_html(b, s->name, sizeof s->name);
        sb_puts(b, "\"><td>");
        sb_html(b, s->name, sizeof s->name);
        if (s->last_seen_unix_ms > 0) {
            fmt_duration(age, sizeof age, now - s->last_seen_unix_ms);
            strncat(age, " ago", sizeof age - strlen(age) - 1);
        } else {
            snprintf(age, sizeof age, "never");
        }
        sb_printf(b,
                  "</td><td class=\"%s\">%s</td><td>%s</td><td>%s</td>"
                  "<td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
                  "</td>",
                  s->connected ? "yes" : "no", s->connected ? "yes" : "no",
                  s->selected ? "yes" : "no", age, s->rounds_joined,
                  s->examples);
        if (s->quarantined_until_unix_ms) {
            fmt_duration(age, sizeof age, s->quarantined_until_unix_ms - now);
            sb_printf(b, "<td class=\"no\">quarantined, %s left</td>", age);
        } else {
            sb_puts(b, "<td>no</td>");
        }
        sb_puts(b, "</tr>\n");
    }
    sb_puts(b, "</tbody></table></section>\n");
}

/* ---- the chart -------------------------------------------------------- */

#define CH_W 900
#define CH_L 60  /* left edge of the plot area */
#define CH_R 880 /* right edge */
#define Q_TOP 36 /* quality panel */
#define Q_BOT 196
#define S_TOP 232 /* round-seconds panel */
#define S_BOT 302
#define CH_H 340

/* Smallest 1, 2 or 5 times a power of ten that is >= x (1 if x <= 0). */
static double
nice_ceil(double x)
{
    double p, m;

    if (!(x > 0) || !isfinite(x))
        return 1;
    p = pow(10, floor(log10(x)));
    m = x / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

static double
x_of(size_t i, size_t n)
{
    if (n <= 1)
        return (CH_L + CH_R) / 2.0;
    return CH_L + 20 + (double)i * (CH_R - CH_L - 40) / (double)(n - 1);
}

static double
quality_at(const agg_round_info *r, int which)
{
    return which == 0 ? r->hr10 : which == 1 ? r->ndcg10 : r->pop_hr10;
}

/* One quality series: a path with gaps at unknown values, and a circle
 * per known value (not for the dashed baseline). */
static void
chart_series(sbuf *b, const agg_stats_view *v, size_t n, int which,
             double ymax)
{
    static const char *const cls[] = {"hr10", "ndcg10", "pop"};
    static const char *const color[] = {"#2563eb", "#16a34a", "#9ca3af"};
    static const char *const label[] = {"HR@10", "NDCG@10", "popularity HR@10"};
    int pen_up = 1;

    sb_printf(b, "<path class=\"line %s\" fill=\"none\" stroke=\"%s\" "
                 "stroke-width=\"2\"%s d=\"", cls[which], color[which],
              which == 2 ? " stroke-dasharray=\"6 4\"" : "");
    for (size_t i = 0; i < n; i++) {
        double y = quality_at(&v->recent[i], which);
        if (!isfinite(y)) {
            pen_up = 1;
            continue;
        }
        sb_printf(b, "%s%.1f %.1f ", pen_up ? "M" : "L", x_of(i, n),
                  Q_BOT - fmin(y / ymax, 1.0) * (Q_BOT - Q_TOP));
        pen_up = 0;
    }
    sb_puts(b, "\"/>\n");
    if (which == 2)
        return;
    for (size_t i = 0; i < n; i++) {
        double y = quality_at(&v->recent[i], which);
        if (!isfinite(y))
            continue;
        sb_printf(b, "<circle class=\"%s\" data-round=\"%" PRIu64 "\" "
                     "cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\">"
                     "<title>round %" PRIu64 ": %s %.4f</title></circle>\n",
                  cls[which], v->recent[i].round, x_of(i, n),
                  Q_BOT - fmin(y / ymax, 1.0) * (Q_BOT - Q_TOP), color[which],
                  v->recent[i].round, label[which], y);
    }
}

/* Axes, grid and tick labels of both panels. */
static void
chart_axes(sbuf *b, const agg_stats_view *v, size_t n, double ymax,
           double smax)
{
    size_t step = n > 12 ? (n + 11) / 12 : 1;

    for (int k = 0; k <= 4; k++) {
        double y = Q_BOT - k * (Q_BOT - Q_TOP) / 4.0;
        sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                     "stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" "
                     "text-anchor=\"end\">%.2f</text>\n",
                  CH_L, CH_R, y, y, k ? "#eef0f3" : "#9ca3af", CH_L - 6,
                  y + 4, ymax * k / 4);
    }
    for (int k = 0; k <= 2; k++) {
        double y = S_BOT - k * (S_BOT - S_TOP) / 2.0;
        sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
                     "stroke=\"%s\"/><text x=\"%d\" y=\"%.1f\" "
                     "text-anchor=\"end\">%g</text>\n",
                  CH_L, CH_R, y, y, k ? "#eef0f3" : "#9ca3af", CH_L - 6,
                  y + 4, smax * k / 2);
    }
    sb_printf(b, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" "
                 "stroke=\"#9ca3af\"/><line x1=\"%d\" x2=\"%d\" y1=\"%d\" "
                 "y2=\"%d\" stroke=\"#9ca3af\"/>\n",
              CH_L, CH_L, Q_TOP, Q_BOT, CH_L, CH_L, S_TOP, S_BOT);
    for (size_t i = 0; i < n; i++)
        /* Every step-th round, and always the latest one unless a label
         * sits too close to it. */
        if ((i % step == 0 && (i == n - 1 || n - 1 - i >= (step + 1) / 2)) ||
            i == n - 1)
            sb_printf(b, "<text x=\"%.1f\" y=\"%d\" "
                         "text-anchor=\"middle\">%" PRIu64 "</text>\n",
                      x_of(i, n), S_BOT + 16, v->recent[i].round);
    sb_printf(b,
              "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
              "text-anchor=\"middle\">quality</text>"
              "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
              "text-anchor=\"middle\">seconds</text>"
              "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">round</text>\n",
              (Q_TOP + Q_BOT) / 2, (Q_TOP + Q_BOT) / 2, (S_TOP + S_BOT) / 2,
              (S_TOP + S_BOT) / 2, (CH_L + CH_R) / 2, CH_H - 6);
}

static void
chart_legend(sbuf *b)
{
    sb_printf(b,
              "<g class=\"legend\">"
              "<line x1=\"%d\" x2=\"%d\" y1=\"16\" y2=\"16\" stroke=\"#2563eb\" "
              "stroke-width=\"2\"/><circle cx=\"%d\" cy=\"16\" r=\"3.5\" "
              "fill=\"#2563eb\"/><text x=\"%d\" y=\"20\">HR@10</text>"
              "<line x1=\"%d\" x2=\"%d\" y1=\"16\" y2=\"16\" stroke=\"#16a34a\" "
              "stroke-width=\"2\"/><circle cx=\"%d\" cy=\"16\" r=\"3.5\" "
              "fill=\"#16a34a\"/><text x=\"%d\" y=\"20\">NDCG@10</text>"
              "<line x1=\"%d\" x2=\"%d\" y1=\"16\" y2=\"16\" stroke=\"#9ca3af\" "
              "stroke-width=\"2\" stroke-dasharray=\"6 4\"/>"
              "<text x=\"%d\" y=\"20\">popularity HR@10 (baseline)</text>"
              "<rect x=\"%d\" y=\"10\" width=\"12\" height=\"12\" "
              "fill=\"#f59e0b\"/><text x=\"%d\" y=\"20\">round seconds</text>"
              "</g>\n",
              CH_L, CH_L + 24, CH_L + 12, CH_L + 30, CH_L + 110, CH_L + 134,
              CH_L + 122, CH_L + 140, CH_L + 230, CH_L + 260, CH_L + 266,
              CH_L + 470, CH_L + 488);
}

static void
page_chart(sbuf *b, const agg_stats_view *v)
{
    size_t n = v->n_recent <= AGG_RECENT_ROUNDS ? v->n_recent : 0;
    double qmax = 0, smax = 0, bw;

    sb_puts(b, "<section><h2>Recent rounds</h2><div id=\"chart\">");
    if (n == 0) {
        sb_puts(b, "<p class=\"empty\" id=\"chart-empty\">No completed rounds "
                   "yet.</p></div></section>\n");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (int w = 0; w < 3; w++)
            if (isfinite(quality_at(&v->recent[i], w)))
                qmax = fmax(qmax, quality_at(&v->recent[i], w));
        if (isfinite(v->recent[i].seconds))
            smax = fmax(smax, v->recent[i].seconds);
    }
    qmax = fmin(fmax(ceil(qmax * 10) / 10, 0.1), 1.0);
    smax = nice_ceil(smax);
    sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" "
                 "aria-label=\"quality and duration of the last %zu rounds\" "
                 "viewBox=\"0 0 %d %d\" width=\"100%%\">\n",
              n, CH_W, CH_H);
    chart_legend(b);
    chart_axes(b, v, n, qmax, smax);
    bw = fmin(18, (CH_R - CH_L - 40) / (double)n * 0.6);
    for (size_t i = 0; i < n; i++) {
        double s = v->recent[i].seconds;
        double h = isfinite(s) && s > 0 ? fmin(s / smax, 1) * (S_BOT - S_TOP)
                                        : 0;
        sb_printf(b, "<rect class=\"secs\" data-round=\"%" PRIu64 "\" "
                     "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                     "fill=\"#f59e0b\"><title>round %" PRIu64 ": %.2f s, %u "
                     "stores, %" PRIu64 " examples</title></rect>\n",
                  v->recent[i].round, x_of(i, n) - bw / 2, S_BOT - h, bw, h,
                  v->recent[i].round, isfinite(s) ? s : 0.0,
                  (unsigned)v->recent[i].stores, v->recent[i].examples);
    }
    for (int w = 2; w >= 0; w--)
        chart_series(b, v, n, w, qmax);
    sb_puts(b, "</svg></div></section>\n");
}

char *
agg_render_status_html(const agg_stats_view *v, int64_t now_unix_ms)
{
    sbuf b = {0};
    char t[48];

    page_head(&b, v);
    page_cards(&b, v, now_unix_ms);
    page_settings(&b, v, now_unix_ms);
    page_chart(&b, v);
    render_regions_page(&b, v);
    page_stores(&b, v, now_unix_ms);
    fmt_utc(t, sizeof t, now_unix_ms);
    sb_printf(&b,
              "<footer>fedrec %s &middot; generated %s &middot; refreshes "
              "every 5 s &middot; <a href=\"/metrics\">metrics</a> &middot; "
              "<a href=\"/healthz\">health</a></footer>\n</main></body>"
              "</html>\n",
              agg_render_version, t);
    return sb_take(&b);
}
