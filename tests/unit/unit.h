/* SPDX-License-Identifier: GPL-2.0 */
/* Minimal unit-test helpers: CHECK records a failure and goes on. */
#ifndef UBLKCTL_UNIT_H
#define UBLKCTL_UNIT_H

#include <stdio.h>

static int unit_failures;
static int unit_checks;

#define CHECK(cond)                                                            \
	do {                                                                   \
		unit_checks++;                                                 \
		if (!(cond)) {                                                 \
			unit_failures++;                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		unsigned long long _a = (unsigned long long)(a);            \
		unsigned long long _b = (unsigned long long)(b);            \
		unit_checks++;                                              \
		if (_a != _b) {                                             \
			unit_failures++;                                    \
			fprintf(stderr,                                     \
				"%s:%d: %s == %s failed: %#llx != %#llx\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);        \
		}                                                           \
	} while (0)

/* End of main(): summary line and exit status. */
static inline int unit_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, unit_checks, unit_failures);
	return unit_failures ? 1 : 0;
}

#endif
