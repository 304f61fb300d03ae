/*
 * failalloc.c - the counting, failing allocator behind failalloc.h. The
 * __wrap_* functions replace the C library's allocators for every object
 * linked with --wrap; __real_* are the originals (or the sanitizer's
 * interceptors in an ASan build, which keeps its leak check working).
 */
#define _POSIX_C_SOURCE 200809L
#include "failalloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);
int __real_posix_memalign(void **p, size_t a, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void *__wrap_aligned_alloc(size_t a, size_t n);
int __wrap_posix_memalign(void **p, size_t a, size_t n);

static atomic_ulong g_count;
static atomic_ulong g_fail_at;
static atomic_int g_sticky;
static atomic_int g_hit;

void
fr_failalloc_arm(unsigned long n, int sticky)
{
    atomic_store(&g_count, 0);
    atomic_store(&g_hit, 0);
    atomic_store(&g_sticky, sticky);
    atomic_store(&g_fail_at, n);
}

void
fr_failalloc_disarm(void)
{
    atomic_store(&g_fail_at, 0);
}

unsigned long
fr_failalloc_count(void)
{
    return atomic_load(&g_count);
}

int
fr_failalloc_hit(void)
{
    return atomic_load(&g_hit);
}

/* Counts one allocation; non-zero if it must fail. */
static int
should_fail(void)
{
    unsigned long k = atomic_fetch_add(&g_count, 1) + 1;
    unsigned long at = atomic_load(&g_fail_at);

    if (at == 0)
        return 0;
    if (k == at || (atomic_load(&g_sticky) && k > at)) {
        atomic_store(&g_hit, 1);
        errno = ENOMEM;
        return 1;
    }
    return 0;
}

void *
__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t k, size_t n)
{
    return should_fail() ? NULL : __real_calloc(k, n);
}

void *
__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

char *
__wrap_strdup(const char *s)
{
    return should_fail() ? NULL : __real_strdup(s);
}

char *
__wrap_strndup(const char *s, size_t n)
{
    return should_fail() ? NULL : __real_strndup(s, n);
}

void *
__wrap_aligned_alloc(size_t a, size_t n)
{
    return should_fail() ? NULL : __real_aligned_alloc(a, n);
}

int
__wrap_posix_memalign(void **p, size_t a, size_t n)
{
    return should_fail() ? ENOMEM : __real_posix_memalign(p, a, n);
}

unsigned long
fr_failalloc_loop(int (*op)(void *ctx),
                  void (*check)(void *ctx, int rc, int hit), void *ctx,
                  unsigned long max_n)
{
    unsigned long points = 0;

    for (unsigned long n = 1; n <= max_n; n++) {
        int rc, hit;

        fr_failalloc_arm(n, 0);
        rc = op(ctx);
        hit = fr_failalloc_hit();
        fr_failalloc_disarm();
        if (check)
            check(ctx, rc, hit);
        if (!hit) {
            if (rc != 0) {
                fprintf(stderr, "failalloc: run %lu failed (%d) without "
                        "meeting the failure\n", n, rc);
                abort();
            }
            return points;
        }
        points++;
    }
    fprintf(stderr, "failalloc: still failing after %lu points\n", max_n);
    abort();
}
