// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl del: stop a device, wait for its server to exit, delete it and
 * its state file. Every step is bounded by --timeout: DEL_DEV blocks while
 * anyone holds /dev/ublkcN, so the delete is issued as DEL_DEV_ASYNC and
 * the wait for the id to be freed is ours, with an error at the bound.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

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

/* Until GET_DEV_INFO says the id is gone (the last holder closed it). */
static int wait_id_free(struct ublk_ctrl *c, uint32_t id, int64_t deadline)
{
	struct ublksrv_ctrl_dev_info info;
	struct timespec nap = { 0, 5 * 1000 * 1000 };

	for (;;) {
		int ret = ublk_ctrl_get_info(c, id, &info);

		if (ret == -ENODEV)
			return 0;
		if (ret && ret != -EBUSY)
			return ret;
		if (!ublk_left_ms(deadline))
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
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
	char path[64];
	pid_t pid;
	int ret;

	ret = ublk_ctrl_get_info(c, id, &info);
	if (ret == -ENODEV && missing_ok)
		return 0;
	if (ret) {
		ublk_dev_err(id, ret, "cannot read device info");
		return -1;
	}
	pid = ublk_server_pid(id, &info);
	ublk_dbg("device %u: state %u, server pid %d", id, info.state,
		 (int)pid);

	if (ublk_dev_stop(id, pid, false, deadline, timeout_s))
		return -1;

	ret = ublk_ctrl_del_dev(c, id, true);
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		/* No DEL_DEV_ASYNC (or not for this device): bound DEL_DEV. */
		ret = ublk_ctrl_bounded(del_fn, id, false,
					ublk_left_ms(deadline));
	}
	snprintf(path, sizeof(path), UBLK_CHAR_PATH_FMT, id);
	if (ret == -ETIMEDOUT) {
		ublk_err(
			"device %u: delete did not finish within %d s: %s is still open",
			id, timeout_s, path);
		return -1;
	}
	if (ret) {
		ublk_dev_err(id, ret, "delete failed");
		return -1;
	}

	ret = ublk_state_remove(id);
	if (ret && ret != -ENOENT) {
		ublk_errno(ret, "device %u: cannot remove the state file in %s",
			   id, ublk_run_dir());
		return -1;
	}
	if (async)
		return 0;

	ret = wait_id_free(c, id, deadline);
	if (ret == -ETIMEDOUT) {
		ublk_err(
			"device %u: deleted, but %s is still open: the id is freed when it is closed (waited %d s)",
			id, path, timeout_s);
		return -1;
	}
	if (ret) {
		ublk_dev_err(id, ret, "waiting for the delete");
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
