// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl quiesce: QUIESCE_DEV, for a server upgrade. The driver waits for
 * in-flight I/O, aborts the server's commands and queues new I/O until a
 * new server attaches with `ublkctl recover`. Only a device created with
 * recovery and the QUIESCE flag can be quiesced.
 */
#include <errno.h>
#include <stdio.h>

#include "ublkctl/cmdutil.h"

#define QUIESCE_DEFAULT_MS 10000
#define QUIESCE_MAX_MS 3600000
/* Our own bound on top of the driver's: the command must come back. */
#define QUIESCE_SLACK_MS 5000

enum {
	OPT_TIMEOUT = 256,
};

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "quiesce device ID" },
	{ "timeout", OPT_TIMEOUT, required_argument, "MS",
	  "wait at most MS milliseconds for in-flight I/O (default 10000)" },
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "-n ID [options]",
	.summary =
		"Quiesce a device so its server can be replaced (ublkctl recover).",
};

static int quiesce(struct ublk_ctrl *c, uint32_t id, uint32_t timeout_ms)
{
	struct ublksrv_ctrl_dev_info info;
	int ret;

	if (ublk_dev_info(c, id, &info) ||
	    ublk_require_feature(c, UBLK_F_QUIESCE, "quiesce"))
		return -1;
	if (!(info.flags & UBLK_F_USER_RECOVERY) ||
	    !(info.flags & UBLK_F_QUIESCE)) {
		ublk_err(
			"device %u: cannot quiesce: it was not created with %s",
			id,
			info.flags & UBLK_F_USER_RECOVERY ?
				"the QUIESCE flag" :
				"recovery and the QUIESCE flag (add --recovery)");
		return -1;
	}
	if (info.state == UBLK_S_DEV_QUIESCED)
		return 0;
	if (ublk_dev_need_live(id, &info, "quiesce"))
		return -1;
	ret = ublk_ctrl_bounded(UBLK_U_CMD_QUIESCE_DEV, id, timeout_ms,
				(int)timeout_ms + QUIESCE_SLACK_MS);
	if (ret == -ETIMEDOUT) {
		ublk_err("device %u: quiesce did not finish within %u ms", id,
			 timeout_ms);
		return -1;
	}
	if (ret == -EBUSY) {
		ublk_err(
			"device %u: quiesce: the server did not go idle within %u ms",
			id, timeout_ms);
		return -1;
	}
	if (ret) {
		ublk_dev_err(id, ret, "quiesce failed");
		return -1;
	}
	return 0;
}

int cmd_quiesce(int argc, char **argv)
{
	uint32_t timeout_ms = QUIESCE_DEFAULT_MS;
	struct ublk_dev_arg dev = { 0 };
	struct ublk_getopt g;
	struct ublk_ctrl c;
	int rc;

	ublk_getopt_init(&g, options, &help);
	g.dev = &dev;
	/* The one option of quiesce's own is --timeout. */
	while (ublk_getopt_next(&g, argc, argv) != -1)
		if (ublk_parse_u32("timeout", optarg, 1, QUIESCE_MAX_MS,
				   &timeout_ms))
			return ublk_usage_hint();
	if (!ublk_getopt_end(&g, argc, argv, true))
		return g.exit_code;

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	rc = quiesce(&c, dev.id, timeout_ms) ? EXIT_FAIL : EXIT_OK;
	ublk_ctrl_close(&c);
	return rc;
}
