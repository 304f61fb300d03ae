/*
 * test_progress.c - the progress reporter: throttled log lines with the
 * right numbers and a final line, the bar on a pipe and on a terminal, and
 * quiet short work. A fake clock makes every case deterministic.
 */
#define _XOPEN_SOURCE 600 /* posix_openpt */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/progress.h"

/* ---- captured log lines and a clock the test moves ---- */

typedef struct capture {
    char lines[16][1024];
    int n;
} capture;

static void
capture_sink(void *arg, fr_log_level level, const char *tag, const char *line)
{
    capture *c = arg;
    (void)level;
    if (strcmp(tag, "progress") == 0 && c->n < 16)
        snprintf(c->lines[c->n++], sizeof c->lines[0], "%s", line);
}

static int64_t fake_now;

static int64_t
fake_clock(void *arg)
{
    (void)arg;
    return fake_now;
}

static int
teardown_log(void **state)
{
    (void)state;
    fr_log_set_sink(NULL, NULL);
    fr_progress_set_format(FR_LOG_HUMAN);
    return 0;
}

static fr_progress_opts
log_opts(void)
{
    return (fr_progress_opts){.mode = FR_PROGRESS_MODE_LOG,
                              .log_every_ms = 5000,
                              .clock_ms = fake_clock};
}

/* The captured line i contains needle. */
static void
assert_line_has(const capture *c, int i, const char *needle)
{
    assert_true(i < c->n);
    if (!strstr(c->lines[i], needle))
        fail_msg("line %d \"%s\" lacks \"%s\"", i, c->lines[i], needle);
}

static void
test_log_lines_throttled(void **state)
{
    capture c = {0};
    fr_progress p;
    fr_progress_opts o = log_opts();
    (void)state;

    fr_log_set_sink(capture_sink, &c);
    fake_now = 1000;
    fr_progress_begin_opts(&p, "import", 200, "rows", &o);
    for (int i = 1; i <= 200; i++) { /* one update per 100 ms */
        fake_now += 100;
        fr_progress_update(&p, (uint64_t)i);
    }
    /* 20 s of work, a line every 5 s: at rows 50, 100, 150 and 200. */
    assert_int_equal(c.n, 4);
    assert_line_has(&c, 0, "task=import done=50 total=200 unit=rows "
                           "percent=25 phase=running");
    assert_line_has(&c, 0, "import: 50 rows of 200 rows (25%)");
    assert_line_has(&c, 1, "done=100 total=200");
    assert_line_has(&c, 1, "percent=50");
    assert_line_has(&c, 3, "percent=100 phase=running");
    fake_now += 300;
    fr_progress_end(&p);
    assert_int_equal(c.n, 5);
    assert_line_has(&c, 4, "task=import done=200 total=200 unit=rows "
                           "percent=100 seconds=20.3 phase=end");
    fr_progress_end(&p); /* a second end writes nothing */
    fr_progress_update(&p, 5);
    assert_int_equal(c.n, 5);
}

static void
test_log_line_clamps_and_ignores_going_back(void **state)
{
    capture c = {0};
    fr_progress p;
    fr_progress_opts o = log_opts();
    (void)state;

    fr_log_set_sink(capture_sink, &c);
    fake_now = 0;
    fr_progress_begin_opts(&p, "train", 4, "epochs", &o);
    fake_now = 6000;
    fr_progress_update(&p, 3);
    fake_now = 12000;
    fr_progress_update(&p, 1); /* ignored: below the last value */
    fake_now = 18000;
    fr_progress_update(&p, 9); /* clamped to the total */
    fr_progress_end(&p);
    assert_int_equal(c.n, 3);
    assert_line_has(&c, 0, "done=3 total=4 unit=epochs percent=75");
    assert_line_has(&c, 1, "done=4 total=4 unit=epochs percent=100");
    assert_line_has(&c, 2, "done=4 total=4");
    assert_line_has(&c, 2, "phase=end");
}

static void
test_unknown_total_and_bytes(void **state)
{
    capture c = {0};
    fr_progress p;
    fr_progress_opts o = log_opts();
    (void)state;

    fr_log_set_sink(capture_sink, &c);
    fake_now = 0;
    fr_progress_begin_opts(&p, "scan", 0, "bytes", &o);
    fake_now = 5000;
    fr_progress_update(&p, 3 * 1024 * 1024 + 512 * 1024);
    fr_progress_end(&p);
    assert_int_equal(c.n, 2);
    assert_line_has(&c, 0, "scan: 3.5 MiB so far");
    assert_line_has(&c, 0, "done=3670016 unit=bytes phase=running");
    assert_null(strstr(c.lines[0], "percent="));
    assert_line_has(&c, 1, "phase=end");
}

static void
test_quiet_work_shows_nothing(void **state)
{
    capture c = {0};
    fr_progress p;
    fr_progress_opts o = log_opts();
    (void)state;

    o.quiet_ms = 1000;
    fr_log_set_sink(capture_sink, &c);
    fake_now = 0;
    fr_progress_begin_opts(&p, "import", 10, "rows", &o);
    fake_now = 900;
    fr_progress_update(&p, 10);
    fr_progress_end(&p);
    assert_int_equal(c.n, 0);
    /* The same work taking longer gets its final line. */
    fr_progress_begin_opts(&p, "import", 10, "rows", &o);
    fake_now = 2000;
    fr_progress_update(&p, 10);
    fr_progress_end(&p);
    assert_int_equal(c.n, 1);
    assert_line_has(&c, 0, "done=10 total=10");
}

/* Everything written to the read end of a pipe so far. */
static char *
drain_fd(int fd)
{
    static char buf[65536];
    size_t n = 0;
    ssize_t got;

    while (n + 1 < sizeof buf &&
           (got = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)got;
    buf[n] = 0;
    return buf;
}

static int
count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void
test_bar_on_a_pipe(void **state)
{
    int fds[2];
    FILE *w;
    fr_progress p;
    fr_progress_opts o = {.mode = FR_PROGRESS_MODE_BAR, .redraw_ms = 100,
                          .clock_ms = fake_clock};
    capture c = {0};
    char *out;
    (void)state;

    fr_log_set_sink(capture_sink, &c);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    w = fdopen(fds[1], "w");
    assert_non_null(w);
    o.out = w;
    fake_now = 0;
    fr_progress_begin_opts(&p, "train", 1000, "batches", &o);
    /* 1,000 updates 1 ms apart: at most one redraw per 100 ms. */
    for (int i = 1; i <= 1000; i++) {
        fake_now++;
        fr_progress_update(&p, (uint64_t)i);
    }
    fr_progress_end(&p);
    fclose(w);
    out = drain_fd(fds[0]);
    close(fds[0]);
    assert_int_equal(c.n, 0); /* a bar, not log lines */
    assert_int_equal(count_of(out, "\r"), 11); /* ten redraws and the end */
    assert_non_null(strstr(out, "\rtrain [#"));
    assert_non_null(strstr(out, "  0%  1/1000 batches"));
    assert_non_null(strstr(out, " 10%  101/1000 batches"));
    assert_non_null(strstr(out, "ETA 0:"));
    /* The last draw is the full bar and ends the line. */
    assert_non_null(strstr(out, "[########################] 100%  "
                                "1000/1000 batches  1000 batches/s\033[K\n"));
    assert_int_equal(count_of(out, "\n"), 1);
}

static void
test_auto_mode_follows_terminal_and_format(void **state)
{
    capture c = {0};
    fr_progress p;
    fr_progress_opts o = {.clock_ms = fake_clock};
    int master, slave, fds[2];
    FILE *w;
    char *out;
    (void)state;

    fr_log_set_sink(capture_sink, &c);
    /* A pipe is not a terminal: log lines. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    w = fdopen(fds[1], "w");
    assert_non_null(w);
    o.out = w;
    fake_now = 0;
    fr_progress_begin_opts(&p, "import", 10, "rows", &o);
    fr_progress_update(&p, 10);
    fr_progress_end(&p);
    fclose(w);
    assert_string_equal(drain_fd(fds[0]), "");
    close(fds[0]);
    assert_int_equal(c.n, 1);

    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master))
        skip(); /* no pseudo-terminals here */
    slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(slave >= 0);
    assert_int_equal(fcntl(master, F_SETFL, O_NONBLOCK), 0);
    w = fdopen(slave, "w");
    assert_non_null(w);
    o.out = w;
    /* A terminal with JSON logs: still log lines. */
    fr_progress_set_format(FR_LOG_JSON);
    fr_progress_begin_opts(&p, "import", 10, "rows", &o);
    fr_progress_update(&p, 10);
    fr_progress_end(&p);
    assert_int_equal(c.n, 2);
    /* A terminal with human logs: the bar. */
    fr_progress_set_format(FR_LOG_HUMAN);
    fr_progress_begin_opts(&p, "import", 10, "rows", &o);
    fr_progress_update(&p, 10);
    fr_progress_end(&p);
    fflush(w);
    assert_int_equal(c.n, 2);
    usleep(50 * 1000); /* let the line discipline pass the bytes on */
    out = drain_fd(master);
    assert_non_null(strstr(out, "import [#"));
    assert_non_null(strstr(out, "100%"));
    fclose(w);
    close(master);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_log_lines_throttled, teardown_log),
        cmocka_unit_test_teardown(test_log_line_clamps_and_ignores_going_back,
                                  teardown_log),
        cmocka_unit_test_teardown(test_unknown_total_and_bytes, teardown_log),
        cmocka_unit_test_teardown(test_quiet_work_shows_nothing,
                                  teardown_log),
        cmocka_unit_test_teardown(test_bar_on_a_pipe, teardown_log),
        cmocka_unit_test_teardown(test_auto_mode_follows_terminal_and_format,
                                  teardown_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
