// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl del: stop a device, wait for its server to exit, delete it and
 * its state file. Every step is bounded by --timeout: DEL_DEV blocks while
 * anyone still holds the device, so it runs in a child we stop waiting for
 * at the bound (ublk_ctrl_bounded), with an error naming the cause.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/state.h"

#define DEL_DEFAULT_TIMEOUT_S 10
#define DEL_MAX_TIMEOUT_S 3600

enum {
	OPT_ASYNC = 256,
	OPT_TIMEOUT,
};

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "delete device ID" },
	{ "all", 'a', no_argument, NULL, "delete every device" },
	{ "async", OPT_ASYNC, no_argument, NULL,
	  "do not wait until the device id is free again" },
	{ "timeout", OPT_TIMEOUT, required_argument, "SEC",
	  "give up on a device after SEC seconds (default 10)" },
	UBLK_OPT_END,
};

static void usage(void)
{
	ublk_usage_begin(
		stdout, "-n ID | -a [options]",
		"Stop ublk devices, wait for their servers to exit, and delete them.",
		options);
	ublk_usage_end(stdout);
}

static int del_fn(struct ublk_ctrl *c, uint32_t id, uint64_t async)
{
	return ublk_ctrl_del_dev(c, id, async);
}

static bool char_dev_listed(uint32_t id)
{
	char path[96];

	snprintf(path, sizeof(path), UBLK_SYSFS_CHAR_CLASS "/ublkc%u", id);
	return access(path, F_OK) == 0;
}

/*
 * Delete one device; missing_ok for -a, where a device may vanish between
 * listing and deleting. 0 or -1 (message printed).
 */
static int del_one(struct ublk_ctrl *c, uint32_t id, bool async, int timeout_s,
		   bool missing_ok)
{
	int64_t deadline = ublk_now_ms() + (int64_t)timeout_s * 1000;
	struct ublksrv_ctrl_dev_info info;
	pid_t pid;
	int ret;

	ret = ublk_ctrl_get_info(c, id, &info);
	if ((ret == -ENODEV || ret == -ENOENT) && missing_ok)
		return 0;
	if (ret) {
		ublk_dev_err(id, ret, "cannot read device info");
		return -1;
	}
	pid = ublk_server_pid(id, &info);
	ublk_dbg("device %u: state %u, server pid %d", id, info.state,
		 (int)pid);

	if (ublk_dev_stop(id, pid, false, true, deadline, timeout_s))
		return -1;

	/*
	 * DEL_DEV removes the device at once, then waits (interruptibly)
	 * until the last holder of the device lets go of it; a child killed
	 * at our bound leaves the device deleted, its id freed later.
	 */
	ret = -EINVAL;
	if (async)
		ret = ublk_ctrl_del_dev(c, id, true);
	/*
	 * The driver's permission check for unprivileged devices does not
	 * list DEL_DEV_ASYNC (-EINVAL): use the bounded synchronous delete.
	 */
	if (!async || (ret == -EINVAL && geteuid() != 0))
		ret = ublk_ctrl_bounded(del_fn, id, false,
					ublk_left_ms(deadline));
	/* Gone already: its server deletes it itself on SIGTERM. */
	if (ret == -ENODEV || ret == -ENOENT)
		ret = 0;
	if (ret && ret != -ETIMEDOUT) {
		ublk_dev_err(id, ret, "delete failed");
		return -1;
	}
	if (!ret || !char_dev_listed(id)) {
		int err = ublk_state_remove(id);

		if (err && err != -ENOENT) {
			ublk_errno(
				err,
				"device %u: cannot remove the state file in %s",
				id, ublk_run_dir());
			return -1;
		}
	}
	if (ret == -ETIMEDOUT) {
		ublk_err(
			"device %u: still in use after %d s (is " UBLK_BLOCK_PATH_FMT
			" open?): it is deleted, its id is freed when closed",
			id, timeout_s, id);
		return -1;
	}
	return 0;
}

static int del_all(struct ublk_ctrl *c, bool async, int timeout_s)
{
	uint32_t ids[4096];
	int n, i, failed = 0;

	n = ublk_list_dev_ids(ids, ARRAY_SIZE(ids));
	if (n < 0) {
		ublk_errno(n, "%s", UBLK_SYSFS_CHAR_CLASS);
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++)
		if (del_one(c, ids[i], async, timeout_s, true))
			failed++;
	if (!failed)
		return EXIT_OK;
	return failed == n ? EXIT_ALL_FAILED : EXIT_SOME_FAILED;
}

int cmd_del(int argc, char **argv)
{
	uint32_t id = 0, timeout_s = DEL_DEFAULT_TIMEOUT_S;
	bool have_id = false, all = false, async = false;
	struct ublk_getopt g;
	struct ublk_ctrl c;
	int opt, rc;

	ublk_getopt_init(&g, options);
	while ((opt = ublk_getopt_next(&g, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			if (ublk_parse_dev_id("id", optarg, &id))
				return ublk_usage_hint();
			have_id = true;
			break;
		case 'a':
			all = true;
			break;
		case OPT_ASYNC:
			async = true;
			break;
		case OPT_TIMEOUT:
			if (ublk_parse_u32("timeout", optarg, 1,
					   DEL_MAX_TIMEOUT_S, &timeout_s))
				return ublk_usage_hint();
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (ublk_no_args(argc, argv))
		return EXIT_USAGE;
	if (have_id && all)
		return ublk_usage_err("--id and --all are mutually exclusive");
	if (!have_id && !all)
		return ublk_usage_err("no device given: use --id ID or --all");

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	if (all)
		rc = del_all(&c, async, (int)timeout_s);
	else
		rc = del_one(&c, id, async, (int)timeout_s, false) ? EXIT_FAIL :
								     EXIT_OK;
	ublk_ctrl_close(&c);
	return rc;
}
