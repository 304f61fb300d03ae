/*
 * err.c - descriptions for fr_err and the errno mapping.
 */
#include "err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const messages[FR_ERR_COUNT_] = {
    [FR_OK] = "success",
    [FR_ENOMEM] = "out of memory",
    [FR_EINVAL] = "invalid input",
    [FR_EPROTO] = "malformed message",
    [FR_EAUTH] = "authentication failed",
    [FR_ESTATE] = "invalid state",
    [FR_ETIMEDOUT] = "timed out",
    [FR_ECLOSED] = "closed",
    [FR_ELIMIT] = "limit exceeded",
    [FR_ESYS] = "system call failed",
    [FR_ENOENT] = "not found",
};

const char *
fr_strerror(fr_err err)
{
    if ((unsigned)err >= FR_ERR_COUNT_)
        return "unknown error";
    return messages[err];
}

fr_err
fr_err_from_errno(int errnum)
{
    switch (errnum) {
    case 0: return FR_OK;
    case ENOMEM: return FR_ENOMEM;
    case EINVAL: return FR_EINVAL;
    case ENOENT: return FR_ENOENT;
    case ETIMEDOUT:
    case EAGAIN: return FR_ETIMEDOUT;
    case EMSGSIZE:
    case E2BIG: return FR_ELIMIT;
    case EACCES:
    case EPERM: return FR_EAUTH;
    default: return FR_ESYS;
    }
}

void
fr_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "fedrec: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
