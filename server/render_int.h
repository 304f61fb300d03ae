/*
 * render_int.h - the text buffer and Prometheus helpers of render.c,
 * shared with render_regions.c (the regions' series and page section).
 * Not for other modules.
 */
#ifndef FR_SERVER_RENDER_INT_H
#define FR_SERVER_RENDER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "stats.h"

/* A growable text buffer; an allocation failure is remembered (oom) and
 * the text dropped at the end. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

void sb_puts(sbuf *b, const char *s);
void sb_printf(sbuf *b, const char *fmt, ...) FR_PRINTF(2, 3);
/* s (at most max bytes) HTML-escaped. */
void sb_html(sbuf *b, const char *s, size_t max);

/* One # HELP and # TYPE pair; a sample with its labels ("" or "{...}"). */
void prom_family(sbuf *b, const char *name, const char *type,
                 const char *help);
void prom_sample_u64(sbuf *b, const char *name, const char *labels,
                     uint64_t x);
void prom_sample_f(sbuf *b, const char *name, const char *labels, double x);
void prom_gauge_u64(sbuf *b, const char *name, const char *help, uint64_t x);
void prom_gauge_f(sbuf *b, const char *name, const char *help, double x);
void prom_counter_u64(sbuf *b, const char *name, const char *help,
                      uint64_t x);

/* render_regions.c: a central's per-region series and a regional's link
 * to the central (nothing when neither applies); the page's section. */
void render_regions_metrics(sbuf *b, const agg_stats_view *v);
void render_regions_page(sbuf *b, const agg_stats_view *v);

#endif
