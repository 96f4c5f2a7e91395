// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl recover -n ID: restart the server of a device whose server died.
 * The configuration comes from the state file add wrote (its normalized
 * form, loaded by devcfg.c); the device's queues, depth and flags come
 * from the kernel.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/ctrl.h"
#include "ublkctl/server.h"
#include "ublkctl/state.h"

static const struct ublk_opt recover_opts[] = {
	{ "id", 'n', required_argument, "ID", "device to recover (required)" },
	UBLK_OPT_END,
};

static const struct ublk_help recover_help = {
	.synopsis = "-n ID",
	.summary =
		"Start a new server for a device whose server died (added with --recovery).",
	.notes =
		"\nThe target and its options come from the state file add wrote.\n",
};

int cmd_recover(int argc, char **argv)
{
	struct ublk_ctrl ctrl = { .fd = -1 };
	struct ublk_state st;
	struct ublk_dev_arg dev = { 0 };
	struct ublk_dev_cfg *c = NULL;
	struct ublk_getopt g;
	uint32_t id;
	int ret;

	ublk_getopt_init(&g, recover_opts, &recover_help);
	g.dev = &dev;
	/* recover has no option of its own: -1 is all that comes back. */
	ublk_getopt_next(&g, argc, argv);
	if (!ublk_getopt_end(&g, argc, argv, true))
		return g.exit_code;
	id = dev.id;

	ret = ublk_state_read(id, &st);
	if (ret) {
		if (ret == -ENOENT)
			ublk_err(
				"device %u: no state file in %s (was it added by ublkctl?)",
				id, ublk_run_dir());
		else
			ublk_errno(ret, "device %u: state file in %s", id,
				   ublk_run_dir());
		return EXIT_FAIL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		ublk_errno(ENOMEM, "recover");
		ret = EXIT_FAIL;
		goto out;
	}
	ret = ublk_cfg_load(c, &st);
	if (ret)
		goto out;
	ret = c->tgt.ops->init(&c->tgt, c);
	if (ret) {
		ret = EXIT_FAIL;
		goto out;
	}

	ret = ublk_ctrl_open(&ctrl);
	if (ret) {
		ublk_errno(ret, "%s", UBLK_CONTROL_PATH);
		ret = EXIT_FAIL;
		goto out_deinit;
	}
	ret = ublk_server_recover(&ctrl, c);
	ublk_ctrl_close(&ctrl);
out_deinit:
	if (c->tgt.ops->deinit)
		c->tgt.ops->deinit(&c->tgt);
out:
	if (c)
		ublk_cfg_release(c);
	free(c);
	ublk_state_free(&st);
	return ret;
}
