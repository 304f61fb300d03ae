/*
 * fuzz_file.h - for targets whose reader takes a path: a private directory
 * on tmpfs (/dev/shm, else /tmp) made once by fz_dir_init, files written
 * there from the input, and the directory removed at exit.
 */
#ifndef FR_TESTS_FUZZ_FILE_H
#define FR_TESTS_FUZZ_FILE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fz_dir[64];

static inline void
fz_dir_remove(void)
{
    DIR *d = opendir(fz_dir);
    struct dirent *e;
    char p[sizeof fz_dir + 260];

    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(fz_dir);
}

/* Makes the directory (aborts if it cannot). */
static inline void
fz_dir_init(void)
{
    snprintf(fz_dir, sizeof fz_dir, "/dev/shm/fedrec-fuzz-XXXXXX");
    if (!mkdtemp(fz_dir)) {
        snprintf(fz_dir, sizeof fz_dir, "/tmp/fedrec-fuzz-XXXXXX");
        if (!mkdtemp(fz_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
    }
    atexit(fz_dir_remove);
}

/* fz_dir/name into out. */
static inline void
fz_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", fz_dir, name);
}

/* Writes size bytes of data to fz_dir/name, mode 0600 (replacing it); the
 * path into out. Aborts on a write failure (not the reader's fault). */
static inline void
fz_write(const char *name, const void *data, size_t size, char *out,
         size_t cap)
{
    int fd;

    fz_path(name, out, cap);
    unlink(out);
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
        perror("fuzz: write");
        abort();
    }
    close(fd);
}

/* The bytes of a file (malloc'd, NUL-terminated), or NULL. */
static inline char *
fz_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        *len = (size_t)n;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* Seed-writing mode: FR_FUZZ_WRITE_SEEDS=DIR names where a target's
 * LLVMFuzzerInitialize writes its seeds (then it exits). */
static inline const char *
fz_seed_dir(void)
{
    const char *d = getenv("FR_FUZZ_WRITE_SEEDS");
    return d && *d ? d : NULL;
}

static inline void
fz_seed(const char *dir, const char *name, const void *data, size_t size)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        perror(p);
        abort();
    }
    fclose(f);
}

#endif
