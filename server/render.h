/*
 * render.h - turns a stats snapshot (stats.h) into the two things the HTTP
 * endpoint serves: the Prometheus text exposition and the status page.
 *
 * DESIGN. Pure functions of an agg_stats_view: no locks, no I/O, no clock
 * (the page's "now" is passed in), so tests can render hand-made views.
 * Every string in the view (state, phase, store names) is read with its
 * array bound, so a view without a terminating NUL is still safe, and is
 * HTML-escaped on the page. Metric names and label values come only from
 * the constant name arrays in stats.h, never from stores.
 */
#ifndef FR_SERVER_RENDER_H
#define FR_SERVER_RENDER_H

#include <stdint.h>

#include "stats.h"

/* The version reported in fedrec_info and on the status page. */
extern const char agg_render_version[];

/* Prometheus text exposition format 0.0.4; malloc'd (caller frees), NULL on
 * ENOMEM. Each family has one # HELP and one # TYPE line; gauges with no
 * value (NaN, no round yet, DP off) are left out with their family. */
char *agg_render_metrics(const agg_stats_view *v);

/* The status page for a person: self-contained HTML (no external assets,
 * no JavaScript needed), inline SVG chart. malloc'd (caller frees), NULL on
 * ENOMEM. now_unix_ms is the wall-clock time ages and uptime count from.
 * Stable ids for tests and scrapers: state, round-id, phase,
 * rounds-completed, rounds-target, paused, secagg, dp, uptime,
 * last-checkpoint, stores-connected, stores (table, one tr[data-store] per
 * store) and chart (one circle.hr10[data-round] per round with a known
 * HR@10, one rect.secs[data-round] per round; chart-empty when none). */
char *agg_render_status_html(const agg_stats_view *v, int64_t now_unix_ms);

#endif
