/*
 * fuzz.h - what every fuzz target defines. A target is one .c file with
 * LLVMFuzzerTestOneInput (and, if it needs set-up, LLVMFuzzerInitialize;
 * FR_FUZZ_NO_INIT gives the empty one). Built with clang and
 * -fsanitize=fuzzer by `make fuzz`; built with replay.c in the normal suite,
 * which feeds it the committed corpus (tests/fuzz/corpus/NAME/).
 *
 * A target must not leak, must not keep state between inputs that changes
 * what a later input does (or a crash would not replay alone), and must
 * fail loudly (abort) only on a real defect: a decoder refusing bad bytes
 * is the expected outcome.
 */
#ifndef FR_TESTS_FUZZ_H
#define FR_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FR_FUZZ_NO_INIT                                                        \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                          \
    {                                                                          \
        (void)argc;                                                            \
        (void)argv;                                                            \
        return 0;                                                              \
    }

/* Aborts with a message: a property the target checks did not hold. */
#define FR_FUZZ_CHECK(cond)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
