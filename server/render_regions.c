/*
 * render_regions.c - regions on /metrics and the status page
 * (docs/OPERATIONS.md "Running regions").
 *
 * A central aggregator shows, per regional aggregator among its
 * participants (a store that reported stores in its HELLO), what the
 * region reports and its last input that counted: the stores it would
 * bring now, the stores that input covered, their mean HR@10 and NDCG@10
 * (when they sent figures) and the round it counted in. A regional
 * aggregator shows its link to the central and the central round in hand.
 * Region names are allow-listed store names ([A-Za-z0-9._-]): nothing to
 * escape in labels; the page escapes them anyway.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "render_int.h"

static size_t
count_regions(const agg_stats_view *v)
{
    size_t n = 0;

    for (size_t i = 0; v->stores && i < v->n_stores; i++)
        n += v->stores[i].region != 0;
    return n;
}

static void
region_label(char *out, size_t cap, const agg_store_info *s)
{
    snprintf(out, cap, "{region=\"%.*s\"}",
             (int)strnlen(s->name, sizeof s->name), s->name);
}

/* One family over every region; which: 0 stores, 1 contributors, 2 last
 * round id, 3 HR@10, 4 NDCG@10 (the last two only where known). */
static void
region_family(sbuf *b, const agg_stats_view *v, int which, const char *name,
              const char *help)
{
    char lab[96];

    prom_family(b, name, "gauge", help);
    for (size_t i = 0; v->stores && i < v->n_stores; i++) {
        const agg_store_info *s = &v->stores[i];
        if (!s->region || (which >= 3 && !s->region_has_metrics))
            continue;
        region_label(lab, sizeof lab, s);
        if (which == 0)
            prom_sample_u64(b, name, lab, s->region_stores);
        else if (which == 1)
            prom_sample_u64(b, name, lab, s->region_covers);
        else if (which == 2)
            prom_sample_u64(b, name, lab, s->region_round_id);
        else
            prom_sample_f(b, name, lab,
                          which == 3 ? s->region_hr10 : s->region_ndcg10);
    }
}

static void
upstream_metrics(sbuf *b, const agg_stats_view *v)
{
    char lab[48];

    prom_gauge_u64(b, "fedrec_upstream_up",
                   "1 while this regional aggregator's link to the central "
                   "is up.", v->upstream_up != 0);
    prom_family(b, "fedrec_upstream_link", "gauge",
                "The link to the central by state (connecting, up, down, "
                "refused, failed): 1 for the current one.");
    snprintf(lab, sizeof lab, "{state=\"%.*s\"}",
             (int)strnlen(v->upstream_link, sizeof v->upstream_link),
             v->upstream_link);
    prom_sample_u64(b, "fedrec_upstream_link", lab, 1);
    prom_gauge_u64(b, "fedrec_upstream_round_id",
                   "The central's secure round this region takes part in "
                   "(0: none).", v->upstream_round_id);
    prom_counter_u64(b, "fedrec_upstream_results_sent_total",
                     "Region sums (or means) sent to the central.",
                     v->upstream_sent);
    prom_counter_u64(b, "fedrec_upstream_reconnects_total",
                     "Times the link to the central was made afresh.",
                     v->upstream_rebuilds);
}

void
render_regions_metrics(sbuf *b, const agg_stats_view *v)
{
    if (v->regional)
        upstream_metrics(b, v);
    if (!count_regions(v))
        return;
    prom_gauge_u64(b, "fedrec_regions_known",
                   "Regional aggregators among the participants.",
                   count_regions(v));
    region_family(b, v, 0, "fedrec_region_stores",
                  "Stores the region would bring to a round now, as it "
                  "reports.");
    region_family(b, v, 1, "fedrec_region_contributors",
                  "Stores the region's last input that counted covered.");
    region_family(b, v, 2, "fedrec_region_last_round_id",
                  "Round id of the region's last input that counted (0: "
                  "none yet).");
    region_family(b, v, 3, "fedrec_region_hr10",
                  "Mean HR@10 of the region's stores in that round.");
    region_family(b, v, 4, "fedrec_region_ndcg10",
                  "Mean NDCG@10 of the region's stores in that round.");
}

static void
page_region_rows(sbuf *b, const agg_stats_view *v)
{
    for (size_t i = 0; v->stores && i < v->n_stores; i++) {
        const agg_store_info *s = &v->stores[i];
        if (!s->region)
            continue;
        sb_puts(b, "<tr data-region=\"");
        sb_html(b, s->name, sizeof s->name);
        sb_puts(b, "\"><td>");
        sb_html(b, s->name, sizeof s->name);
        sb_printf(b, "</td><td class=\"%s\">%s</td><td class=\"n\">%" PRIu32
                  "</td><td class=\"n\">%" PRIu32 "</td><td class=\"n\">%"
                  PRIu64 "</td>", s->connected ? "yes" : "no",
                  s->connected ? "yes" : "no", s->region_stores,
                  s->region_covers, s->region_round_id);
        if (s->region_has_metrics)
            sb_printf(b, "<td class=\"n\">%.4f</td><td class=\"n\">%.4f</td>",
                      s->region_hr10, s->region_ndcg10);
        else
            sb_puts(b, "<td class=\"n\">&ndash;</td>"
                       "<td class=\"n\">&ndash;</td>");
        sb_puts(b, "</tr>\n");
    }
}

void
render_regions_page(sbuf *b, const agg_stats_view *v)
{
    if (v->regional) {
        sb_printf(b, "<section><h2>Upstream</h2><p id=\"upstream\">Link to "
                  "the central aggregator: <b class=\"%s\">", v->upstream_up
                  ? "yes" : "no");
        sb_html(b, v->upstream_link, sizeof v->upstream_link);
        sb_printf(b, "</b>; central round in hand: %" PRIu64 "; results "
                  "sent: %" PRIu64 "; reconnects: %" PRIu64 ".</p>"
                  "</section>\n", v->upstream_round_id, v->upstream_sent,
                  v->upstream_rebuilds);
    }
    if (!count_regions(v))
        return;
    sb_puts(b, "<section><h2>Regions</h2><table id=\"regions\"><thead><tr>"
               "<th>Region</th><th>Connected</th><th class=\"n\">Stores "
               "now</th><th class=\"n\">Last covered</th><th class=\"n\">"
               "Last round id</th><th class=\"n\">HR@10</th>"
               "<th class=\"n\">NDCG@10</th></tr></thead><tbody>\n");
    page_region_rows(b, v);
    sb_puts(b, "</tbody></table></section>\n");
}
