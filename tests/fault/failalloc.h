/*
 * failalloc.h - a test allocator that fails the N-th allocation.
 *
 * Linked into a test with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,
 * --wrap=strdup,--wrap=strndup,--wrap=aligned_alloc,--wrap=posix_memalign
 * (fr_fault_link_failalloc in CMakeLists.txt): every allocation made from
 * our own object files (the test, libfrcommon, libfedrec_client, libfragg)
 * goes through the counter. Allocations inside shared libraries (libzmq,
 * libsodium, libc itself) are not seen; protobuf-c's are when the caller
 * hands it an allocator that calls malloc (wire.c does).
 *
 * After fr_failalloc_arm(n) the n-th counted allocation (1-based) returns
 * NULL with errno ENOMEM; with sticky set every later one fails as well.
 */
#ifndef FR_TESTS_FAILALLOC_H
#define FR_TESTS_FAILALLOC_H

#include <stddef.h>

/* Starts counting from zero; fails allocation number n (0: never). */
void fr_failalloc_arm(unsigned long n, int sticky);
/* Stops failing (counting goes on). */
void fr_failalloc_disarm(void);
/* Allocations counted since the last arm. */
unsigned long fr_failalloc_count(void);
/* Non-zero once the armed failure was handed out. */
int fr_failalloc_hit(void);

/*
 * Runs op(ctx) for n = 1, 2, ... with allocation n failing, until a run
 * makes fewer than n allocations (it never met the failure). Each failing
 * run must return non-zero; check(ctx, rc) runs after each (disarmed) and
 * asserts what the caller needs (a clear error, state still usable).
 * Returns the number of failure points (runs that met the failure).
 */
unsigned long fr_failalloc_loop(int (*op)(void *ctx),
                                void (*check)(void *ctx, int rc, int hit),
                                void *ctx, unsigned long max_n);

#endif
