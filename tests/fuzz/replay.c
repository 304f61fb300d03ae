/*
 * replay.c - runs a fuzz target's LLVMFuzzerTestOneInput over every file of
 * the corpus directories (or files) named on the command line, so the normal
 * suite (gcc, plain and ASan+UBSan) replays what the fuzzers found. Stands in
 * for libFuzzer's main() when the target is built without -fsanitize=fuzzer.
 * Exit 0 when every input ran; 1 on an unreadable path or an empty corpus.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_BYTES (64u << 20)

static int
replay_file(const char *path, size_t *ran)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf;
    size_t n;

    if (!f || fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
        (uint64_t)st.st_size > REPLAY_MAX_BYTES) {
        fprintf(stderr, "replay: %s: cannot read (or over 64 MiB)\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    /* One byte more than asked, so an empty input is still a valid pointer. */
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        fclose(f);
        return 1;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (n != (size_t)st.st_size) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        return 1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    (*ran)++;
    return 0;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays a directory's regular files in name order (stable output). */
static int
replay_dir(const char *dir, size_t *ran)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int bad = 0;

    if (!d) {
        fprintf(stderr, "replay: %s: cannot open\n", dir);
        return 1;
    }
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            char **p = realloc(names, (cap ? cap * 2 : 64) * sizeof *p);
            if (!p) {
                bad = 1;
                break;
            }
            names = p;
            cap = cap ? cap * 2 : 64;
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[n]) {
            bad = 1;
            break;
        }
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (!bad && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            bad |= replay_file(names[i], ran);
        free(names[i]);
    }
    free(names);
    return bad;
}

int
main(int argc, char **argv)
{
    size_t ran = 0;
    int bad = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n",
                    argv[i]);
            bad = 1;
        } else if (S_ISDIR(st.st_mode))
            bad |= replay_dir(argv[i], &ran);
        else
            bad |= replay_file(argv[i], &ran);
    }
    printf("replayed %zu inputs\n", ran);
    if (!bad && ran == 0) {
        fprintf(stderr, "replay: the corpus is empty\n");
        return 1;
    }
    return bad;
}
