// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl: create, inspect and remove ublk devices, and serve them.
 * main() parses only the global options and dispatches on the command table.
 */
#include <stdlib.h>
#include <string.h>

#include "ublkctl/ublkctl.h"

struct command {
	const char *name;
	int (*handler)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "add", cmd_add, "create a device and start its server" },
	{ "del", cmd_del, "stop and delete devices" },
	{ "list", cmd_list, "list devices" },
	{ "features", cmd_features, "show the features of the ublk driver" },
	{ "resize", cmd_resize, "change the size of a live device" },
	{ "stop", cmd_stop, "stop a device, keeping it for recovery" },
	{ "quiesce", cmd_quiesce, "quiesce a device for a server upgrade" },
	{ "recover", cmd_recover, "restart the server of a device" },
	{ "help", cmd_help, "show the manual page of a command" },
};

bool ublk_is_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return true;
	return false;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage:\n %s [options] <command> [command options]\n\n",
		UBLKCTL_NAME);
	fputs("Manage ublk (userspace block) devices and run their servers.\n\n",
	      f);
	fputs("Commands:\n", f);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, " %-10s %s\n", commands[i].name,
			commands[i].summary);
	fputs("\nOptions:\n", f);
	fputs("     --debug    print debug messages (also: UBLKCTL_DEBUG=1)\n",
	      f);
	fputs(" -h, --help     display this help\n", f);
	fputs(" -V, --version  display version\n", f);
	fprintf(f, "\nRun '%s <command> --help' for a command's options.\n",
		UBLKCTL_NAME);
	fputs("See ublkctl(8).\n", f);
}

/* For the completions and the sync test: one command name per line. */
static int print_commands(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		printf("%s\n", commands[i].name);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *env = getenv("UBLKCTL_DEBUG");
	int i = 1;
	size_t c;

	if (env && *env && strcmp(env, "0"))
		ublk_debug = true;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version")) {
			printf("%s %s\n", UBLKCTL_NAME, UBLKCTL_VERSION);
			return EXIT_OK;
		}
		if (!strcmp(argv[i], "--debug")) {
			ublk_debug = true;
			continue;
		}
		if (!strcmp(argv[i], "--list-commands"))
			return print_commands();
		return ublk_usage_err("unrecognized option '%s'", argv[i]);
	}
	if (i == argc)
		return ublk_usage_err("no command given");

	for (c = 0; c < ARRAY_SIZE(commands); c++) {
		if (strcmp(argv[i], commands[c].name))
			continue;
		ublk_cmd_name = commands[c].name;
		return commands[c].handler(argc - i, argv + i);
	}
	return ublk_usage_err("'%s' is not a command", argv[i]);
}
