/*
 * test_render.c - the Prometheus text and the status page rendered from
 * stats filled through the real setters (and from hand-made views for the
 * edge cases): exact sample lines, cumulative histogram buckets, left-out
 * unknown gauges, one HELP and TYPE per family, a line-by-line parse of the
 * whole exposition, and an escaped hostile store name on the page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "stats.h"

#define T0 1700000000000LL /* a fixed "now" for the page */

/* 1 if text holds exactly this line. */
static int
has_line(const char *text, const char *line)
{
    size_t n = strlen(line);

    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

static void
expect_line(const char *text, const char *line)
{
    if (!has_line(text, line))
        fail_msg("missing line: %s", line);
}

static int
count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static agg_round_info
round_info(uint64_t round, double hr, double ndcg, double secs)
{
    agg_round_info r = {.round = round, .round_id = round + 10, .stores = 4,
                        .examples = 1000 * round, .hr10 = hr, .ndcg10 = ndcg,
                        .pop_hr10 = 0.1, .pop_ndcg10 = NAN, .loss = 0.5,
                        .seconds = secs, .end_unix_ms = T0 - 1000};
    return r;
}

/* A stats object with something in every figure. */
static agg_stats *
filled_stats(void)
{
    agg_stats *s = NULL;
    agg_store_info st[3] = {
        {.name = "alpha", .connected = 1, .selected = 1,
         .last_seen_unix_ms = T0 - 5000, .rounds_joined = 4, .examples = 120},
        {.name = "beta", .connected = 1, .last_seen_unix_ms = T0 - 1000,
         .rounds_joined = 2, .examples = 80},
        {.name = "gamma", .last_seen_unix_ms = 0},
    };

    assert_int_equal(agg_stats_new(&s), FR_OK);
    agg_stats_set_static(s, 1, 10);
    agg_stats_set_state(s, "collecting", "share_keys", 12, 5, 4);
    agg_stats_loop_alive(s, T0);
    agg_stats_round_done(s, AGG_ROUND_COMPLETED, 0.3);
    agg_stats_round_done(s, AGG_ROUND_COMPLETED, 0.3);
    agg_stats_round_done(s, AGG_ROUND_COMPLETED, 7.0);
    agg_stats_round_done(s, AGG_ROUND_ABANDONED, 400.0); /* above 300 */
    agg_stats_phase_done(s, AGG_PHASE_COLLECT, 0.07, 1);
    agg_stats_phase_done(s, AGG_PHASE_SHARE, 0.02, 2);
    agg_round_info r1 = round_info(1, 0.125, 0.0625, 0.3);
    agg_round_info r2 = round_info(2, 0.25, NAN, 7.0);
    agg_stats_add_round(s, &r1);
    agg_stats_add_round(s, &r2);
    agg_stats_reject(s, AGG_REJECT_REPLAYED);
    agg_stats_reject(s, AGG_REJECT_REPLAYED);
    agg_stats_reject(s, AGG_REJECT_MALFORMED);
    agg_stats_set_refused_handshakes(s, 3);
    agg_stats_traffic(s, 1000, 2000, 10, 20);
    agg_stats_traffic(s, 1, 2, 1, 2);
    agg_stats_checkpointed(s, T0 + 123);
    agg_stats_set_dp(s, 1, 0.5, 8, 1e-5);
    agg_stats_set_paused(s, 1);
    agg_stats_set_stores(s, st, 3);
    return s;
}

static char *
render_metrics_of(agg_stats *s)
{
    agg_stats_view v;
    char *text;

    assert_int_equal(agg_stats_snapshot(s, &v), FR_OK);
    text = agg_render_metrics(&v);
    agg_stats_view_clear(&v);
    assert_non_null(text);
    return text;
}

static void
test_metrics_fresh(void **state)
{
    agg_stats *s = NULL;
    char *m;

    (void)state;
    assert_int_equal(agg_stats_new(&s), FR_OK);
    m = render_metrics_of(s);
    expect_line(m, "fedrec_info{version=\"0.1.0\",secagg=\"false\"} 1");
    expect_line(m, "fedrec_rounds_total{outcome=\"completed\"} 0");
    expect_line(m, "fedrec_rounds_total{outcome=\"abandoned\"} 0");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"+Inf\"} 0");
    expect_line(m, "fedrec_round_duration_seconds_count 0");
    expect_line(m, "fedrec_stores_known 0");
    expect_line(m, "fedrec_dp_enabled 0");
    expect_line(m, "fedrec_paused 0");
    /* No checkpoint, no round, no DP: those families are left out. */
    assert_null(strstr(m, "fedrec_last_checkpoint_time_seconds"));
    assert_null(strstr(m, "fedrec_quality_"));
    assert_null(strstr(m, "fedrec_train_loss"));
    assert_null(strstr(m, "fedrec_dp_epsilon"));
    assert_null(strstr(m, "fedrec_dp_delta"));
    free(m);
    agg_stats_destroy(&s);
}

static void
test_metrics_values(void **state)
{
    agg_stats *s = filled_stats();
    char *m = render_metrics_of(s);

    (void)state;
    expect_line(m, "fedrec_info{version=\"0.1.0\",secagg=\"true\"} 1");
    expect_line(m, "fedrec_last_checkpoint_time_seconds 1700000000.123");
    expect_line(m, "fedrec_rounds_total{outcome=\"completed\"} 3");
    expect_line(m, "fedrec_rounds_total{outcome=\"abandoned\"} 1");
    expect_line(m, "fedrec_rounds_completed 5");
    expect_line(m, "fedrec_round_id 12");
    expect_line(m, "fedrec_rounds_target 10");
    /* Cumulative buckets: 0.3, 0.3, 7 and 400 seconds. */
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"0.25\"} 0");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"0.5\"} 2");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"5\"} 2");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"10\"} 3");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"300\"} 3");
    expect_line(m, "fedrec_round_duration_seconds_bucket{le=\"+Inf\"} 4");
    expect_line(m, "fedrec_round_duration_seconds_sum 407.6");
    expect_line(m, "fedrec_round_duration_seconds_count 4");
    expect_line(m, "fedrec_phase_duration_seconds_bucket{phase=\"collect\","
                   "le=\"0.05\"} 0");
    expect_line(m, "fedrec_phase_duration_seconds_bucket{phase=\"collect\","
                   "le=\"0.1\"} 1");
    expect_line(m, "fedrec_phase_duration_seconds_bucket{phase=\"share_keys\","
                   "le=\"0.05\"} 1");
    expect_line(m, "fedrec_phase_duration_seconds_count{phase=\"share_keys\"}"
                   " 1");
    expect_line(m, "fedrec_phase_duration_seconds_count{phase=\"unmasking\"}"
                   " 0");
    expect_line(m, "fedrec_stores_known 3");
    expect_line(m, "fedrec_stores_connected 2");
    expect_line(m, "fedrec_stores_selected 4");
    expect_line(m, "fedrec_stores_dropped_total{phase=\"collect\"} 1");
    expect_line(m, "fedrec_stores_dropped_total{phase=\"share_keys\"} 2");
    expect_line(m, "fedrec_stores_dropped_total{phase=\"masked_input\"} 0");
    expect_line(m, "fedrec_refused_connections_total{reason=\"unknown_key\"}"
                   " 3");
    expect_line(m, "fedrec_rejected_messages_total{reason=\"replayed\"} 2");
    expect_line(m, "fedrec_rejected_messages_total{reason=\"malformed\"} 1");
    expect_line(m, "fedrec_rejected_messages_total{reason=\"revoked\"} 0");
    assert_null(strstr(m, "fedrec_rejected_messages_total{reason=\"unknown"));
    expect_line(m, "fedrec_received_bytes_total 1001");
    expect_line(m, "fedrec_sent_bytes_total 2002");
    expect_line(m, "fedrec_received_messages_total 11");
    expect_line(m, "fedrec_sent_messages_total 22");
    /* The latest round: NDCG@10 and popularity NDCG@10 unknown. */
    expect_line(m, "fedrec_quality_hr10 0.25");
    expect_line(m, "fedrec_quality_pop_hr10 0.1");
    expect_line(m, "fedrec_train_loss 0.5");
    assert_null(strstr(m, "fedrec_quality_ndcg10"));
    assert_null(strstr(m, "fedrec_quality_pop_ndcg10"));
    assert_null(strstr(m, "NaN"));
    expect_line(m, "fedrec_paused 1");
    expect_line(m, "fedrec_dp_enabled 1");
    expect_line(m, "fedrec_dp_epsilon_spent 0.5");
    expect_line(m, "fedrec_dp_epsilon_budget 8");
    expect_line(m, "fedrec_dp_delta 1e-05");
    expect_line(m, "# TYPE fedrec_round_duration_seconds histogram");
    expect_line(m, "# TYPE fedrec_rounds_total counter");
    expect_line(m, "# TYPE fedrec_stores_connected gauge");
    free(m);
    agg_stats_destroy(&s);
}

/* ---- a tiny exposition-format parser --------------------------------- */

typedef struct sample {
    char name[96];
    char labels[256]; /* raw text between the braces */
    double value;
} sample;

/* Parses one sample line (name{labels} value); 0 if it is malformed. */
static int
parse_sample(const char *line, size_t len, sample *out)
{
    size_t i = 0, n = 0;
    char num[64];
    char *end;

    if (len == 0 || !(isalpha((unsigned char)line[0]) || line[0] == '_'))
        return 0;
    while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '_' ||
                       line[i] == ':'))
        i++;
    if (i >= sizeof out->name)
        return 0;
    memcpy(out->name, line, i);
    out->name[i] = 0;
    out->labels[0] = 0;
    if (i < len && line[i] == '{') {
        size_t start = ++i;
        int in_str = 0;
        for (; i < len && (in_str || line[i] != '}'); i++) {
            if (in_str && line[i] == '\\')
                i++;
            else if (line[i] == '"')
                in_str = !in_str;
            else if (!in_str && !(isalnum((unsigned char)line[i]) ||
                                  line[i] == '_' || line[i] == '=' ||
                                  line[i] == ','))
                return 0;
        }
        if (i >= len || i - start >= sizeof out->labels)
            return 0;
        memcpy(out->labels, line + start, i - start);
        out->labels[i - start] = 0;
        i++;
    }
    if (i >= len || line[i] != ' ')
        return 0;
    n = len - i - 1;
    if (n == 0 || n >= sizeof num)
        return 0;
    memcpy(num, line + i + 1, n);
    num[n] = 0;
    if (!strcmp(num, "+Inf") || !strcmp(num, "-Inf") || !strcmp(num, "NaN"))
        return 1;
    out->value = strtod(num, &end);
    return *end == 0;
}

/* The family a sample belongs to (histogram suffixes removed when the
 * stripped name was declared a histogram). */
static void
family_of(const char *m, const char *name, char *fam, size_t n)
{
    static const char *const sfx[] = {"_bucket", "_sum", "_count"};
    char type_line[160];

    snprintf(fam, n, "%s", name);
    for (size_t i = 0; i < 3; i++) {
        size_t ln = strlen(name), ls = strlen(sfx[i]);
        if (ln > ls && !strcmp(name + ln - ls, sfx[i])) {
            snprintf(type_line, sizeof type_line, "# TYPE %.*s histogram",
                     (int)(ln - ls), name);
            if (has_line(m, type_line)) {
                snprintf(fam, n, "%.*s", (int)(ln - ls), name);
                return;
            }
        }
    }
}

static void
check_parses(const char *m)
{
    char fam[96], prev[96] = "", hdr[160];
    int samples = 0;
    sample sm;

    for (const char *p = m; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len;

        assert_non_null(nl); /* every line ends with a newline */
        len = (size_t)(nl - p);
        if (p[0] == '#') {
            assert_true(!strncmp(p, "# HELP ", 7) || !strncmp(p, "# TYPE ", 7));
        } else {
            if (!parse_sample(p, len, &sm))
                fail_msg("unparsable line: %.*s", (int)len, p);
            family_of(m, sm.name, fam, sizeof fam);
            /* One HELP and one TYPE per family, and a family's samples
             * together (the format requires both). */
            snprintf(hdr, sizeof hdr, "# TYPE %s ", fam);
            assert_int_equal(count(m, hdr), 1);
            snprintf(hdr, sizeof hdr, "# HELP %s ", fam);
            assert_int_equal(count(m, hdr), 1);
            if (strcmp(prev, fam)) {
                snprintf(hdr, sizeof hdr, "\n%s", fam);
                assert_ptr_equal(strstr(m, hdr) + 1, p);
                snprintf(prev, sizeof prev, "%s", fam);
            }
            samples++;
        }
        p = nl + 1;
    }
    assert_true(samples > 50);
}

static void
test_metrics_parse(void **state)
{
    agg_stats *s = filled_stats();
    char *m = render_metrics_of(s);
    sample sm;

    (void)state;
    check_parses(m);
    /* The parser itself rejects what it should. */
    assert_false(parse_sample("a b", 3, &sm));
    assert_false(parse_sample("a{x=\"1\" 1", 9, &sm));
    assert_false(parse_sample("a 1 2", 5, &sm));
    assert_true(parse_sample("a{x=\"}\"} 2.5", 12, &sm));
    assert_string_equal(sm.labels, "x=\"}\"");
    assert_true(sm.value == 2.5);
    free(m);
    agg_stats_destroy(&s);
}

/* ---- status page ------------------------------------------------------ */

static char *
render_page_of(agg_stats *s, int64_t now)
{
    agg_stats_view v;
    char *html;

    assert_int_equal(agg_stats_snapshot(s, &v), FR_OK);
    html = agg_render_status_html(&v, now);
    agg_stats_view_clear(&v);
    assert_non_null(html);
    return html;
}

static void
expect_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("page lacks: %s", needle);
}

/* A central's per-region series and a regional's upstream ones, which
 * parse like the rest; the page's sections. */
static void
test_regions_rendered(void **state)
{
    agg_stats *s = filled_stats();
    agg_store_info st[2] = {
        {.name = "north", .connected = 1, .region = 1, .region_stores = 7,
         .region_round_id = 41, .region_covers = 6,
         .region_has_metrics = 1, .region_hr10 = 0.5,
         .region_ndcg10 = 0.25},
        {.name = "south", .region = 1, .region_stores = 3},
    };
    char *m, *html;

    (void)state;
    m = render_metrics_of(s);
    assert_null(strstr(m, "fedrec_region"));
    assert_null(strstr(m, "fedrec_upstream"));
    free(m);
    agg_stats_set_stores(s, st, 2);
    agg_stats_set_upstream(s, "down", 0, 0, 4, 2);
    m = render_metrics_of(s);
    check_parses(m);
    expect_line(m, "fedrec_regions_known 2");
    expect_line(m, "fedrec_region_stores{region=\"north\"} 7");
    expect_line(m, "fedrec_region_stores{region=\"south\"} 3");
    expect_line(m, "fedrec_region_contributors{region=\"north\"} 6");
    expect_line(m, "fedrec_region_last_round_id{region=\"north\"} 41");
    expect_line(m, "fedrec_region_hr10{region=\"north\"} 0.5");
    expect_line(m, "fedrec_region_ndcg10{region=\"north\"} 0.25");
    assert_null(strstr(m, "fedrec_region_hr10{region=\"south\"}"));
    expect_line(m, "fedrec_upstream_up 0");
    expect_line(m, "fedrec_upstream_link{state=\"down\"} 1");
    expect_line(m, "fedrec_upstream_results_sent_total 4");
    expect_line(m, "fedrec_upstream_reconnects_total 2");
    assert_int_equal(count(m, "# TYPE fedrec_region_stores "), 1);
    free(m);
    html = render_page_of(s, T0);
    expect_has(html, "<table id=\"regions\">");
    expect_has(html, "<tr data-region=\"north\">");
    expect_has(html, "<p id=\"upstream\">");
    free(html);
    agg_stats_destroy(&s);
}

static void
test_page_values(void **state)
{
    agg_stats *s = filled_stats();
    agg_stats_view v;
    char *h;

    (void)state;
    assert_int_equal(agg_stats_snapshot(s, &v), FR_OK);
    h = agg_render_status_html(&v, v.started_unix_ms + 3723000);
    agg_stats_view_clear(&v);
    assert_non_null(h);
    expect_has(h, "id=\"state\">collecting</span>");
    expect_has(h, "id=\"round-id\">12</div>");
    expect_has(h, "id=\"phase\">share_keys</span>");
    expect_has(h, "id=\"rounds-completed\">5</span>");
    expect_has(h, "id=\"rounds-target\">10</span>");
    expect_has(h, "id=\"stores-connected\">2</span>");
    expect_has(h, "id=\"paused\">yes");
    expect_has(h, "id=\"secagg\">on");
    expect_has(h, "id=\"dp\">&epsilon; 0.5 spent of 8, at &delta; = 1e-05");
    expect_has(h, "id=\"uptime\">1 h 02 min</div>");
    expect_has(h, "id=\"last-checkpoint\">");
    /* Stores: one row each, in order, with their figures. */
    assert_int_equal(count(h, "<tr data-store="), 3);
    expect_has(h, "<tr data-store=\"alpha\"><td>alpha</td><td class=\"yes\">"
                  "yes</td><td>yes</td>");
    expect_has(h, "<tr data-store=\"gamma\"><td>gamma</td><td class=\"no\">"
                  "no</td><td>no</td><td>never</td>");
    assert_true(strstr(h, "data-store=\"alpha\"") <
                strstr(h, "data-store=\"beta\""));
    /* The chart: a point per round with a known HR@10 and NDCG@10 (round 2
     * has none), and a bar per round. */
    expect_has(h, "id=\"chart\"><svg");
    assert_int_equal(count(h, "<circle class=\"hr10\" data-round="), 2);
    assert_int_equal(count(h, "<circle class=\"ndcg10\" data-round="), 1);
    assert_int_equal(count(h, "<rect class=\"secs\" data-round="), 2);
    expect_has(h, "<circle class=\"hr10\" data-round=\"2\"");
    expect_has(h, "stroke-dasharray"); /* the popularity baseline */
    expect_has(h, "HR@10</text>");
    assert_null(strstr(h, "chart-empty"));
    /* Self-contained: no script, nothing fetched. */
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, " src="));
    assert_null(strstr(h, "<link"));
    free(h);
    agg_stats_destroy(&s);
}

static void
test_page_empty(void **state)
{
    agg_stats *s = NULL;
    char *h;

    (void)state;
    assert_int_equal(agg_stats_new(&s), FR_OK);
    h = render_page_of(s, T0);
    expect_has(h, "id=\"chart-empty\"");
    expect_has(h, "id=\"state\">starting</span>");
    expect_has(h, "id=\"rounds-target\">no limit</span>");
    expect_has(h, "id=\"dp\">no DP guarantee</dd>");
    expect_has(h, "id=\"secagg\">off");
    expect_has(h, "id=\"last-checkpoint\">none yet</dd>");
    expect_has(h, "No store has connected yet.");
    assert_null(strstr(h, "<circle class=\"hr10\""));
    free(h);
    agg_stats_destroy(&s);
}

static void
test_page_escapes(void **state)
{
    static const char hostile[] = "<script>alert(\"x\")</script>&'";
    agg_stats_view v;
    agg_store_info st[2];
    char *h;

    (void)state;
    memset(&v, 0, sizeof v);
    memset(st, 0, sizeof st);
    snprintf(st[0].name, sizeof st[0].name, "%s", hostile);
    /* A name filling its array with no terminating NUL. */
    memset(st[1].name, 'A', sizeof st[1].name);
    st[1].connected = 7;
    v.stores = st;
    v.n_stores = 2;
    snprintf(v.state, sizeof v.state, "<b>idle");
    memset(v.phase, 'p', sizeof v.phase); /* no NUL either */
    v.n_recent = AGG_RECENT_ROUNDS + 5;    /* out of range: ignored */
    h = agg_render_status_html(&v, T0);
    assert_non_null(h);
    expect_has(h, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
                  "&amp;&#39;</td>");
    expect_has(h, "data-store=\"&lt;script&gt;alert(&quot;x&quot;)");
    assert_null(strstr(h, "<script"));
    assert_null(strstr(h, "<b>"));
    expect_has(h, "class=\"badge st-other\" id=\"state\">&lt;b&gt;idle<");
    /* Exactly the 64 bytes of the unterminated name, then the cell ends. */
    char want[sizeof st[1].name + 16];
    memset(want, 'A', sizeof st[1].name);
    snprintf(want + sizeof st[1].name, 16, "</td>");
    expect_has(h, want);
    expect_has(h, "id=\"chart-empty\"");
    free(h);
    /* Metrics ignore an out-of-range recent count as well. */
    h = agg_render_metrics(&v);
    assert_non_null(h);
    assert_null(strstr(h, "fedrec_quality_hr10"));
    free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_fresh),
        cmocka_unit_test(test_metrics_values),
        cmocka_unit_test(test_metrics_parse),
        cmocka_unit_test(test_regions_rendered),
        cmocka_unit_test(test_page_values),
        cmocka_unit_test(test_page_empty),
        cmocka_unit_test(test_page_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
