/*
 * err.h - the one error convention of fedrec.
 *
 * Every fallible function returns fr_err. FR_OK is zero, so `if (rc)` reads as
 * "on failure". errno and zmq_errno() are mapped to fr_err right at the call
 * that failed; nothing else inspects them later.
 */
#ifndef FR_BASE_ERR_H
#define FR_BASE_ERR_H

#if defined(__GNUC__)
#define FR_NODISCARD __attribute__((warn_unused_result))
#define FR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define FR_NODISCARD
#define FR_PRINTF(f, a)
#endif

typedef enum fr_err {
    FR_OK = 0,
    FR_ENOMEM,    /* allocation failed */
    FR_EINVAL,    /* bad argument or bad local input (file, config, CLI) */
    FR_EPROTO,    /* malformed peer data */
    FR_EAUTH,     /* MAC, signature or key rejected */
    FR_ESTATE,    /* operation not valid in the current state */
    FR_ETIMEDOUT, /* deadline passed */
    FR_ECLOSED,   /* peer or object closed */
    FR_ELIMIT,    /* a size or count limit was exceeded */
    FR_ESYS,      /* operating-system call failed (errno read at the call) */
    FR_ENOENT,    /* named thing does not exist */
    FR_ERR_COUNT_
} fr_err;

/* Returns a static, human-readable description of err; never NULL. */
const char *fr_strerror(fr_err err);

/* Maps an errno value to the closest fr_err. */
fr_err fr_err_from_errno(int errnum);

/*
 * FR_ASSERT guards contracts inside our own code. It aborts in every build.
 * Never use it on bytes that came from outside the process.
 */
void fr_assert_fail(const char *expr, const char *file, int line)
    __attribute__((noreturn));
#define FR_ASSERT(e) ((e) ? (void)0 : fr_assert_fail(#e, __FILE__, __LINE__))

#endif
