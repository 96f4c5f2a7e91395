// SPDX-License-Identifier: GPL-2.0
/* Diagnostics: every message is "ublkctl: <cmd>: ..." on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/ublkctl.h"

const char *ublk_cmd_name;
bool ublk_debug;

static void vmsg(const char *fmt, va_list ap, int err)
{
	char buf[1024];
	int n;

	if (ublk_cmd_name)
		n = snprintf(buf, sizeof(buf),
			     UBLKCTL_NAME ": %s: ", ublk_cmd_name);
	else
		n = snprintf(buf, sizeof(buf), UBLKCTL_NAME ": ");
	vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (err)
		fprintf(stderr, "%s: %s\n", buf, strerror(err));
	else
		fprintf(stderr, "%s\n", buf);
}

void ublk_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, 0);
	va_end(ap);
}

void ublk_errno(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, err < 0 ? -err : err);
	va_end(ap);
}

void ublk_hint(const char *cmd)
{
	if (cmd)
		fprintf(stderr, "Try '" UBLKCTL_NAME " %s --help'.\n", cmd);
	else
		fprintf(stderr, "Try '" UBLKCTL_NAME " --help'.\n");
}

int ublk_usage_hint(void)
{
	ublk_hint(ublk_cmd_name);
	return EXIT_USAGE;
}

int ublk_usage_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap, 0);
	va_end(ap);
	return ublk_usage_hint();
}

void ublk_dbg(const char *fmt, ...)
{
	va_list ap;

	if (!ublk_debug)
		return;
	va_start(ap, fmt);
	fprintf(stderr, UBLKCTL_NAME "[%d]: debug: ", (int)getpid());
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}
