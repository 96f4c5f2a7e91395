// SPDX-License-Identifier: GPL-2.0
/*
 * Diagnostics: every message is "ublkctl: <cmd>: ..." on stderr, or, in a
 * detached server, a LOG_ERR record "device N: ..." to syslog. The last
 * error of the process is kept for the state file.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ublkctl/ublkctl.h"

const char *ublk_cmd_name;
bool ublk_debug;

/* Server threads report errors too: the sink and last_err under one lock. */
static pthread_mutex_t msg_lock = PTHREAD_MUTEX_INITIALIZER;
static bool to_syslog;
static uint32_t syslog_id;
static char last_err[512];

void ublk_msg_syslog(uint32_t dev_id)
{
	pthread_mutex_lock(&msg_lock);
	openlog(UBLKCTL_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	syslog_id = dev_id;
	to_syslog = true;
	pthread_mutex_unlock(&msg_lock);
}

void ublk_last_error(char *buf, size_t len)
{
	pthread_mutex_lock(&msg_lock);
	snprintf(buf, len, "%s", last_err);
	pthread_mutex_unlock(&msg_lock);
}

static void vmsg(const char *fmt, va_list ap, int err)
{
	char text[1024], id[32];
	size_t n;

	vsnprintf(text, sizeof(text), fmt, ap);
	n = strlen(text);
	if (err)
		snprintf(text + n, sizeof(text) - n, ": %s", strerror(err));
	pthread_mutex_lock(&msg_lock);
	snprintf(last_err, sizeof(last_err), "%s", text);
	if (to_syslog) {
		/* the device id leads every record, once */
		n = (size_t)snprintf(id, sizeof(id), "device %u: ", syslog_id);
		syslog(LOG_ERR, "%s%s", strncmp(text, id, n) ? id : "", text);
	} else if (ublk_cmd_name) {
		fprintf(stderr, UBLKCTL_NAME ": %s: %s\n", ublk_cmd_name, text);
	} else {
		fprintf(stderr, UBLKCTL_NAME ": %s\n", text);
	}
	pthread_mutex_unlock(&msg_lock);
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
