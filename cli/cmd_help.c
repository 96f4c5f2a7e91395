// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl help [CMD]: show ublkctl-CMD(8) (or ublkctl(8)) with man. From a
 * build tree, the page next to the sources (../man/) is shown when present.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"

static const struct ublk_opt options[] = {
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "[COMMAND]",
	.summary = "Show the manual page of ublkctl or of one of its commands.",
};

/* <dir of the binary>/../man/<page>.8 if it exists (a build tree). */
static bool local_page(const char *page, char *path, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return false;
	exe[n] = '\0';
	snprintf(path, len, "%s/../man/%s.8", dirname(exe), page);
	return access(path, R_OK) == 0;
}

int cmd_help(int argc, char **argv)
{
	char page[64], path[PATH_MAX + 64];
	struct ublk_getopt g;
	const char *cmd;

	ublk_getopt_init(&g, options, &help);
	/* help has no option of its own: -1 is all that comes back. */
	ublk_getopt_next(&g, argc, argv);
	cmd = optind < argc ? argv[optind++] : NULL;
	if (!ublk_getopt_end(&g, argc, argv, false))
		return g.exit_code;
	if (cmd && !ublk_is_command(cmd))
		return ublk_usage_err("'%s' is not a command", cmd);

	if (cmd)
		snprintf(page, sizeof(page), UBLKCTL_NAME "-%s", cmd);
	else
		snprintf(page, sizeof(page), UBLKCTL_NAME);
	fflush(NULL);
	if (local_page(page, path, sizeof(path)))
		execlp("man", "man", "-l", path, (char *)NULL);
	else
		execlp("man", "man", page, (char *)NULL);
	ublk_errno(errno, "cannot run man");
	if (cmd)
		ublk_hint(cmd);
	return EXIT_FAIL;
}
