/*
 * diskfault.c - an LD_PRELOAD shim that makes writes to files under a path
 * prefix fail the way a full or failing disk does. Driven by environment
 * variables read at each call:
 *
 *   FR_DISKFAULT          enospc | eio | short | fsync (unset: idle)
 *   FR_DISKFAULT_PREFIX   only files whose path starts with this (required)
 *   FR_DISKFAULT_CONTROL  if set, faults happen only while this file exists:
 *                         a test switches the disk "off" and "on" by
 *                         creating and removing it; a kind written in it
 *                         ("eio") overrides FR_DISKFAULT, so one process can
 *                         meet every kind in turn
 *   FR_DISKFAULT_SKIP     let this many matching calls through first
 *   FR_DISKFAULT_HITS     append "OP PATH\n" here for each injected fault
 *
 * enospc: write/pwrite/writev fail with ENOSPC, fsync/fdatasync with ENOSPC,
 *         rename (onto or from the prefix) with ENOSPC.
 * eio:    the same with EIO.
 * short:  a write stores half of what it was given and reports that; the
 *         next write to that file fails with ENOSPC (a disk that filled up
 *         in the middle of a record). fsync and rename pass.
 * fsync:  writes pass (into the page cache) and fsync/fdatasync fail with
 *         EIO (the data never reached the disk); rename passes.
 * Open, read, unlink and ftruncate always pass, so a program can still read
 * what is there and clean up.
 *
 * Built without sanitizers; under ASan the preloaded library comes before
 * the runtime, so run with ASAN_OPTIONS=verify_asan_link_order=0.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

enum { KIND_NONE, KIND_ENOSPC, KIND_EIO, KIND_SHORT, KIND_FSYNC };

static atomic_long g_seen;      /* matching calls so far */
static atomic_int g_short_fd = -1; /* fd whose last write was cut */

/* The kind named in the control file, if it names one. */
static int
control_kind(char *out, size_t cap)
{
    const char *ctl = getenv("FR_DISKFAULT_CONTROL");
    long n;
    int fd;

    if (!ctl)
        return 0;
    fd = (int)syscall(SYS_openat, AT_FDCWD, ctl, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = syscall(SYS_read, fd, out, cap - 1);
    (void)syscall(SYS_close, fd);
    if (n <= 0)
        return 0;
    out[n] = '\0';
    out[strcspn(out, " \t\r\n")] = '\0';
    return out[0] != '\0';
}

static int
kind(void)
{
    char buf[16];
    const char *k = control_kind(buf, sizeof buf) ? buf
                                                  : getenv("FR_DISKFAULT");

    if (!k)
        return KIND_NONE;
    if (!strcmp(k, "enospc"))
        return KIND_ENOSPC;
    if (!strcmp(k, "eio"))
        return KIND_EIO;
    if (!strcmp(k, "short"))
        return KIND_SHORT;
    if (!strcmp(k, "fsync"))
        return KIND_FSYNC;
    return KIND_NONE;
}

static int
under_prefix(const char *path)
{
    const char *pre = getenv("FR_DISKFAULT_PREFIX");

    return pre && *pre && path && strncmp(path, pre, strlen(pre)) == 0;
}

static int
fd_under_prefix(int fd)
{
    char link[64], path[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, sizeof path - 1);
    if (n <= 0)
        return 0;
    path[n] = '\0';
    return under_prefix(path);
}

static void
note_hit(const char *op, const char *what)
{
    const char *hits = getenv("FR_DISKFAULT_HITS");
    char line[PATH_MAX + 32];
    int n, fd;

    if (!hits)
        return;
    n = snprintf(line, sizeof line, "%s %s\n", op, what);
    fd = (int)syscall(SYS_openat, AT_FDCWD, hits,
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (n > 0)
        (void)syscall(SYS_write, fd, line, (size_t)n);
    (void)syscall(SYS_close, fd);
}

/* The fault kind to apply to this call (KIND_NONE: pass it through). */
static int
active(int matches)
{
    const char *ctl = getenv("FR_DISKFAULT_CONTROL");
    const char *skip = getenv("FR_DISKFAULT_SKIP");
    int k = kind();

    if (k == KIND_NONE || !matches)
        return KIND_NONE;
    if (ctl && access(ctl, F_OK) != 0)
        return KIND_NONE;
    if (skip && atomic_fetch_add(&g_seen, 1) < atol(skip))
        return KIND_NONE;
    return k;
}

static void *
next(const char *name)
{
    return dlsym(RTLD_NEXT, name);
}

static int
fd_path(int fd, char *out, size_t cap)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    return n > 0;
}

/* Decides a write of len bytes to fd: -1 with errno set, or the byte count
 * to really write (len, or less for a short write). */
static ssize_t
write_verdict(int fd, size_t len, const char *op)
{
    char path[PATH_MAX];
    int k;

    if (atomic_load(&g_short_fd) == fd && fd_under_prefix(fd) &&
        kind() == KIND_SHORT) {
        atomic_store(&g_short_fd, -1);
        fd_path(fd, path, sizeof path);
        note_hit(op, path);
        errno = ENOSPC;
        return -1;
    }
    k = active(fd_under_prefix(fd));
    if (k == KIND_NONE || k == KIND_FSYNC || len == 0)
        return (ssize_t)len;
    fd_path(fd, path, sizeof path);
    note_hit(op, path);
    if (k == KIND_SHORT) {
        atomic_store(&g_short_fd, fd);
        return (ssize_t)(len > 1 ? len / 2 : 1);
    }
    errno = k == KIND_EIO ? EIO : ENOSPC;
    return -1;
}

ssize_t
write(int fd, const void *buf, size_t len)
{
    static ssize_t (*real)(int, const void *, size_t);
    ssize_t n = write_verdict(fd, len, "write");

    if (!real)
        real = (ssize_t(*)(int, const void *, size_t))next("write");
    return n < 0 ? -1 : real(fd, buf, (size_t)n);
}

ssize_t
pwrite(int fd, const void *buf, size_t len, off_t off)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    ssize_t n = write_verdict(fd, len, "pwrite");

    if (!real)
        real = (ssize_t(*)(int, const void *, size_t, off_t))next("pwrite");
    return n < 0 ? -1 : real(fd, buf, (size_t)n, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    static ssize_t (*real)(int, const struct iovec *, int);
    size_t len = 0;
    ssize_t n;

    for (int i = 0; i < cnt; i++)
        len += iov[i].iov_len;
    n = write_verdict(fd, len, "writev");
    if (!real)
        real = (ssize_t(*)(int, const struct iovec *, int))next("writev");
    if (n < 0)
        return -1;
    if ((size_t)n < len && cnt > 0) /* short: the first buffer, cut */
        return write(fd, iov[0].iov_base,
                     iov[0].iov_len < (size_t)n ? iov[0].iov_len : (size_t)n);
    return real(fd, iov, cnt);
}

static int
sync_verdict(int fd, const char *op)
{
    char path[PATH_MAX];
    int k = active(fd_under_prefix(fd));

    if (k == KIND_NONE || k == KIND_SHORT)
        return 0;
    fd_path(fd, path, sizeof path);
    note_hit(op, path);
    errno = k == KIND_ENOSPC ? ENOSPC : EIO;
    return -1;
}

int
fsync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))next("fsync");
    return sync_verdict(fd, "fsync") ? -1 : real(fd);
}

int
fdatasync(int fd)
{
    static int (*real)(int);

    if (!real)
        real = (int (*)(int))next("fdatasync");
    return sync_verdict(fd, "fdatasync") ? -1 : real(fd);
}

/* Paths handed to rename may be relative; the shim only matches absolute
 * prefixes, which is how the daemons name their state files. */
int
rename(const char *from, const char *to)
{
    static int (*real)(const char *, const char *);
    int k = active(under_prefix(from) || under_prefix(to));

    if (!real)
        real = (int (*)(const char *, const char *))next("rename");
    if (k == KIND_ENOSPC || k == KIND_EIO) {
        note_hit("rename", to);
        errno = k == KIND_EIO ? EIO : ENOSPC;
        return -1;
    }
    return real(from, to);
}
