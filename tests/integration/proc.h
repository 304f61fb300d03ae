/*
 * proc.h - helpers for black-box tests that run the real binaries: start a
 * process with its stderr in a file, signal it, wait for it with a bound,
 * and wait for a line to appear in a log.
 */
#ifndef FR_TEST_PROC_H
#define FR_TEST_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Starts argv[0] (a path) with stdout and stderr appended to log_path.
 * Returns the pid, or -1. */
pid_t proc_start(char *const argv[], const char *log_path);

/* Waits up to timeout_ms for pid to exit; returns its wait status, or -1 on
 * timeout (the process is left running). */
int proc_wait(pid_t pid, int timeout_ms);

/* Sends sig and waits up to timeout_ms; SIGKILLs after that. Returns the
 * wait status. */
int proc_stop(pid_t pid, int sig, int timeout_ms);

/* Runs a shell command line; returns its exit code (-1 if it did not exit
 * normally). */
int proc_run(const char *cmdline);

/* Reads a whole file into a malloc'd NUL-terminated string (NULL if it
 * cannot be read). */
char *proc_read_file(const char *path);

/* Number of times needle occurs in the file at path. */
int proc_count(const char *path, const char *needle);

/* Waits up to timeout_ms until needle occurs at least n times in path.
 * Returns 1 if it did. */
int proc_wait_for(const char *path, const char *needle, int n,
                  int timeout_ms);

/* The line containing the n-th (1-based) occurrence of needle, copied into
 * out; 1 if found. */
int proc_find_line(const char *path, const char *needle, int n, char *out,
                   size_t out_len);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int proc_free_port(void);

/* proc_run of a formatted command line (at most 4 KiB). */
int proc_runf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Makes the aggregator's keys (dir/keys/aggregator.*) and n protected
 * stores dir/st-store01.. (fedrec-client init, import of generated data
 * of `members` members each from seed, every member consenting to
 * training), appending their lines to dir/allowlist. bin is the
 * directory of the binaries. Returns 0 on success. */
int proc_make_stores(const char *bin, const char *dir, int n, int items,
                     int members, int seed, const char *endpoint);

#endif
