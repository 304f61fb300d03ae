/*
 * log.h - levelled, tagged logging with a pluggable sink.
 *
 * The macros test the level before evaluating their arguments, so a debug
 * line costs one comparison when debug is off. Never pass keys, seeds, masks,
 * model updates or member ids: log sizes, counts and fingerprints instead.
 * Thread safety: all functions may be called from any thread; the sink is
 * called under a lock.
 */
#ifndef FR_BASE_LOG_H
#define FR_BASE_LOG_H

#include <stddef.h>

#include "err.h"

typedef enum fr_log_level {
    FR_LOG_ERR = 0,
    FR_LOG_WARN,
    FR_LOG_NOTICE,
    FR_LOG_INFO,
    FR_LOG_DEBUG,
} fr_log_level;

/* How the stderr sink writes a line. HUMAN: "TIME IDENT LEVEL TAG: text".
 * JSON: one object per line with "ts", "level", "src" (the program), "tag",
 * "event", "msg" and one member per KEY=VALUE token found in the text
 * (numbers stay numbers), so log collectors can index the fields. */
typedef enum fr_log_format { FR_LOG_HUMAN = 0, FR_LOG_JSON } fr_log_format;

void fr_log_set_format(fr_log_format format);
/* Parses "human" or "json"; FR_EINVAL otherwise. */
FR_NODISCARD fr_err fr_log_format_parse(const char *name, fr_log_format *out);

/* Writes line as one JSON log object (no trailing newline) into out, cut
 * short (still valid JSON) if cap is too small. event may be NULL (then
 * "tag" is used). Exposed for tests. Returns the length written. */
size_t fr_log_format_json(char *out, size_t cap, const char *stamp,
                          const char *ident, fr_log_level level,
                          const char *tag, const char *event,
                          const char *line);

/* A sink receives one formatted line (no trailing newline). */
typedef void (*fr_log_sink)(void *arg, fr_log_level level, const char *tag,
                            const char *line);

extern fr_log_level fr_log_threshold_;

/* Sets the most verbose level that is emitted (default FR_LOG_INFO). */
void fr_log_set_level(fr_log_level level);

/* Parses "err", "warn", "notice", "info" or "debug"; FR_EINVAL otherwise. */
FR_NODISCARD fr_err fr_log_level_parse(const char *name, fr_log_level *out);

/* Installs sink (NULL restores the stderr sink). arg is borrowed. */
void fr_log_set_sink(fr_log_sink sink, void *arg);

/* Sets the program name printed by the stderr sink (borrowed, static). */
void fr_log_set_ident(const char *ident);

void fr_log_emit(fr_log_level level, const char *tag, const char *fmt, ...)
    FR_PRINTF(3, 4);

/* Like fr_log_emit, with an event name ("round_completed") that JSON logs
 * carry as "event"; the human format prints the text only. */
void fr_log_event(fr_log_level level, const char *tag, const char *event,
                  const char *fmt, ...) FR_PRINTF(4, 5);

#define FR_LOG_AT_(lvl, tag, ...)                                              \
    do {                                                                       \
        if ((lvl) <= fr_log_threshold_)                                        \
            fr_log_emit((lvl), (tag), __VA_ARGS__);                            \
    } while (0)

#define fr_log_err(tag, ...) FR_LOG_AT_(FR_LOG_ERR, tag, __VA_ARGS__)
#define fr_log_warn(tag, ...) FR_LOG_AT_(FR_LOG_WARN, tag, __VA_ARGS__)
#define fr_log_notice(tag, ...) FR_LOG_AT_(FR_LOG_NOTICE, tag, __VA_ARGS__)
#define fr_log_info(tag, ...) FR_LOG_AT_(FR_LOG_INFO, tag, __VA_ARGS__)
#define fr_log_debug(tag, ...) FR_LOG_AT_(FR_LOG_DEBUG, tag, __VA_ARGS__)

#define fr_log_ev(lvl, tag, event, ...)                                        \
    do {                                                                       \
        if ((lvl) <= fr_log_threshold_)                                        \
            fr_log_event((lvl), (tag), (event), __VA_ARGS__);                  \
    } while (0)

#endif
