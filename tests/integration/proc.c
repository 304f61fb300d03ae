/*
 * proc.c - process and log helpers for the integration tests (see proc.h).
 */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
nap_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t
proc_start(char *const argv[], const char *log_path)
{
    pid_t pid = fork();

    if (pid != 0)
        return pid;
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    execv(argv[0], argv);
    _exit(127);
}

int
proc_wait(pid_t pid, int timeout_ms)
{
    int status;

    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        nap_ms(20);
    }
    return -1;
}

int
proc_stop(pid_t pid, int sig, int timeout_ms)
{
    int status;

    kill(pid, sig);
    status = proc_wait(pid, timeout_ms);
    if (status == -1) {
        kill(pid, SIGKILL);
        status = proc_wait(pid, 10000);
    }
    return status;
}

int
proc_run(const char *cmdline)
{
    int st = system(cmdline);
    return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

char *
proc_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];

    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            char *nb;
            cap = (len + n + 1) * 2;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

int
proc_count(const char *path, const char *needle)
{
    char *text = proc_read_file(path);
    int n = 0;

    for (const char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

int
proc_wait_for(const char *path, const char *needle, int n, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (proc_count(path, needle) >= n)
            return 1;
        nap_ms(20);
    }
    return 0;
}

int
proc_find_line(const char *path, const char *needle, int n, char *out,
               size_t out_len)
{
    char *text = proc_read_file(path);
    const char *p = text;
    int found = 0;

    while (p && (p = strstr(p, needle))) {
        if (++found == n) {
            const char *start = p, *end = strchr(p, '\n');
            while (start > text && start[-1] != '\n')
                start--;
            if (!end)
                end = p + strlen(p);
            snprintf(out, out_len, "%.*s", (int)(end - start), start);
            break;
        }
        p++;
    }
    free(text);
    return found == n;
}

int
proc_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int
proc_runf(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= sizeof cmd ? -1 : proc_run(cmd);
}

int
proc_make_stores(const char *bin, const char *dir, int n, int items,
                 int members, int seed, const char *endpoint)
{
    if (proc_runf("%s/fedrec-keygen --name aggregator --dir %s/keys "
                  ">/dev/null 2>&1", bin, dir) ||
        proc_runf("%s/fedrec-datagen --stores %d --seed %d --members %d "
                  "--items %d --out %s/data >/dev/null",
                  bin, n, seed, members, items, dir))
        return -1;
    for (int i = 1; i <= n; i++)
        if (proc_runf("set -e; B=%s; S=%s/st-store%02d;"
                      "$B/fedrec-client init --store $S --name store%02d "
                      "--n_items %d --connect %s "
                      "--server_key %s/keys/aggregator.pub "
                      ">>%s/allowlist 2>/dev/null;"
                      "$B/fedrec-client import --store $S "
                      "%s/data/store-%02d.csv >/dev/null;"
                      "awk -F, 'NR > 1 && !seen[$1]++ "
                      "{ print $1 \",training,grant\" }' "
                      "%s/data/store-%02d.csv > %s/consent-%d.csv;"
                      "$B/fedrec-client consent import --store $S "
                      "%s/consent-%d.csv >/dev/null",
                      bin, dir, i, i, items, endpoint, dir, dir, dir, i, dir,
                      i, dir, i, dir, i))
            return -1;
    return 0;
}
