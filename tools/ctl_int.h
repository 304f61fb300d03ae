/*
 * ctl_int.h - what fedrec-ctl's files share: the program name, the exit
 * codes and the privacy commands (ctl_privacy.c).
 */
#ifndef FR_TOOLS_CTL_INT_H
#define FR_TOOLS_CTL_INT_H

#include <stdio.h>

#define PROG             "fedrec-ctl"
#define EXIT_OK          0 /* done */
#define EXIT_REFUSED     1 /* refused, or a computation found no answer */
#define EXIT_USAGE       2
#define EXIT_UNREACHABLE 3

/* "privacy epsilon|noise" with their --options (args, NULL-terminated);
 * returns an exit code. */
int ctl_privacy_run(const char *command, char **args);
/* The privacy options, for --help. */
void ctl_privacy_usage(FILE *out);

#endif
