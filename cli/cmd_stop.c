// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl stop: STOP_DEV (or TRY_STOP_DEV with --safe) and wait for the
 * server to exit. The device and its state file stay: `ublkctl recover`
 * can start a new server for it, `ublkctl del` removes it.
 */
#include <errno.h>

#include "ublkctl/cmdutil.h"

#define STOP_TIMEOUT_S 30

enum {
	OPT_SAFE = 256,
};

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "stop device ID" },
	{ "safe", OPT_SAFE, no_argument, NULL,
	  "refuse if the block device is open (TRY_STOP_DEV)" },
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "-n ID [options]",
	.summary =
		"Stop a device and its server, keeping the device for recovery.",
};

int cmd_stop(int argc, char **argv)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_dev_arg dev = { 0 };
	bool safe = false;
	struct ublk_getopt g;
	struct ublk_ctrl c;
	int ret, rc = EXIT_FAIL;
	uint32_t id;

	ublk_getopt_init(&g, options, &help);
	g.dev = &dev;
	/* The one option of stop's own is --safe. */
	while (ublk_getopt_next(&g, argc, argv) != -1)
		safe = true;
	if (!ublk_getopt_end(&g, argc, argv, true))
		return g.exit_code;
	id = dev.id;

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	if (safe && ublk_require_feature(&c, UBLK_F_SAFE_STOP_DEV, "--safe"))
		goto close;
	if (ublk_dev_info(&c, id, &info))
		goto close;
	ret = ublk_dev_stop(id, ublk_server_pid(id, &info), safe, false,
			    ublk_now_ms() + STOP_TIMEOUT_S * 1000,
			    STOP_TIMEOUT_S);
	if (ret == -EBUSY)
		ublk_err("device %u: device is open", id);
	else if (!ret)
		rc = EXIT_OK;
close:
	ublk_ctrl_close(&c);
	return rc;
}
