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

#define RECOVER_BUSY_MS 10000

static const struct ublk_opt recover_opts[] = {
	{ "id", 'n', required_argument, "ID", "device to recover (required)" },
	UBLK_OPT_END,
};

static void recover_usage(void)
{
	ublk_usage_begin(
		stdout, "-n ID",
		"Start a new server for a device whose server died (added with --recovery).",
		recover_opts);
	puts("\nThe target and its options come from the state file add wrote.");
	ublk_usage_end(stdout);
}

static int parse_args(int argc, char **argv, uint32_t *id)
{
	struct ublk_dev_arg dev = { 0 };
	struct ublk_getopt g;
	int opt;

	ublk_getopt_init(&g, recover_opts);
	while ((opt = ublk_getopt_next(&g, argc, argv)) != -1) {
		switch (opt) {
		case 'h':
			recover_usage();
			return -1;
		case 'n':
			if (ublk_dev_arg(&dev, optarg))
				return EXIT_USAGE;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (ublk_no_args(argc, argv) || ublk_dev_arg_need(&dev))
		return EXIT_USAGE;
	*id = dev.id;
	return EXIT_OK;
}

static int start_recovery(struct ublk_ctrl *ctrl, uint32_t id)
{
	int64_t deadline = ublk_deadline(RECOVER_BUSY_MS);
	int ret, nap = 10;

	/* -EBUSY while the dead server's files are still being released. */
	do
		ret = ublk_ctrl_start_recovery(ctrl, id);
	while (ret == -EBUSY && ublk_nap(deadline, &nap));
	if (ret < 0)
		ublk_errno(ret, "device %u: START_USER_RECOVERY", id);
	return ret;
}

int cmd_recover(int argc, char **argv)
{
	struct ublk_ctrl ctrl = { .fd = -1 };
	struct ublk_state st;
	struct ublk_dev_cfg *c = NULL;
	uint32_t id = 0;
	int ret;

	ret = parse_args(argc, argv, &id);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;

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
	ret = ublk_ctrl_get_info(&ctrl, id, &c->info);
	if (ret) {
		ublk_errno(ret, "device %u", id);
		ret = EXIT_FAIL;
		goto out_close;
	}
	if (!(c->info.flags & UBLK_F_USER_RECOVERY)) {
		ublk_err("device %u: added without --recovery", id);
		ret = EXIT_FAIL;
		goto out_close;
	}
	if (c->info.state == UBLK_S_DEV_LIVE) {
		ublk_err("device %u: live, its server is running", id);
		ret = EXIT_FAIL;
		goto out_close;
	}
	if (start_recovery(&ctrl, id)) {
		ret = EXIT_FAIL;
		goto out_close;
	}
	ret = ublk_server_launch(c, true, NULL);
out_close:
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
