// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl del: stop a device, wait for its server to exit, delete it and
 * its state file. Safe by default: a device whose block device is open (a
 * mounted file system, a process, a stacked device) is left alone and its
 * holders named; TRY_STOP_DEV makes that check atomic where the driver has
 * SAFE_STOP_DEV. --force stops and deletes it all the same and returns at
 * once; the kernel frees the id when the last holder closes it. Every
 * step is bounded by --timeout: DEL_DEV blocks while anyone still holds
 * the device, so it runs in a child we stop waiting for at the bound
 * (ublk_ctrl_bounded), with an error naming the cause.
 * --keep-recoverable leaves a device whose server died for recovery.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/holders.h"
#include "ublkctl/state.h"

#define DEL_DEFAULT_TIMEOUT_S 10
#define DEL_MAX_TIMEOUT_S 3600

/*
 * --force on a held device: how long DEL_DEV may take when DEL_DEV_ASYNC
 * is refused (unprivileged); it then waits for the holders, we do not.
 */
#define DEL_FORCE_SYNC_MS 300

enum {
	OPT_ASYNC = 256,
	OPT_TIMEOUT,
	OPT_FORCE,
	OPT_KEEP_RECOVERABLE,
};

/* What every device of one invocation is deleted with. */
struct del_how {
	bool async;
	bool force;
	bool safe_stop; /* the driver has SAFE_STOP_DEV (TRY_STOP_DEV) */
	bool keep_recoverable;
	int timeout_s;
};

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "delete device ID" },
	{ "all", 'a', no_argument, NULL, "delete every device" },
	{ "async", OPT_ASYNC, no_argument, NULL,
	  "do not wait until the device id is free again" },
	{ "timeout", OPT_TIMEOUT, required_argument, "SEC",
	  "give up on a device after SEC seconds (default 10)" },
	{ "force", OPT_FORCE, no_argument, NULL,
	  "delete even while the block device is open" },
	{ "keep-recoverable", OPT_KEEP_RECOVERABLE, no_argument, NULL,
	  "keep a --recovery device whose server died" },
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "-n ID | -a [options]",
	.summary = "Stop ublk devices that nobody holds open, and delete them.",
};

static bool char_dev_listed(uint32_t id)
{
	char path[96];

	snprintf(path, sizeof(path), UBLK_SYSFS_CHAR_CLASS "/ublkc%u", id);
	return access(path, F_OK) == 0;
}

/* 0, or -1 with a message printed. */
static int remove_state(uint32_t id)
{
	int ret = ublk_state_remove(id);

	if (ret && ret != -ENOENT) {
		ublk_errno(ret, "device %u: cannot remove the state file in %s",
			   id, ublk_run_dir());
		return -1;
	}
	return 0;
}

/*
 * Stop device id unless its block device is open; h gets the holders.
 * 0 when stopped, -EBUSY when held (nothing printed, nothing changed),
 * -1 with a message printed.
 */
static int stop_unheld(const struct del_how *how, uint32_t id, pid_t pid,
		       int64_t deadline, struct ublk_holders *h)
{
	int ret;

	if (how->safe_stop) {
		ret = ublk_dev_stop(id, pid, true, true, deadline,
				    how->timeout_s);
		if (ret == -EBUSY)
			ublk_holders_find(id, h);
		return ret;
	}
	/* No TRY_STOP_DEV: the holders we can see are the check. */
	ublk_holders_find(id, h);
	if (h->count)
		return -EBUSY;
	return ublk_dev_stop(id, pid, false, true, deadline, how->timeout_s);
}

/*
 * --force on a device with holders: STOP_DEV (its I/O now fails), then
 * DEL_DEV_ASYNC, without waiting for the server or the holders. The
 * server exits by itself once its commands are aborted.
 */
static int del_held(uint32_t id, const struct ublk_holders *h, int64_t deadline,
		    int timeout_s, struct ublk_ctrl *c)
{
	int ret;

	if (ublk_dev_stop(id, 0, false, false, deadline, timeout_s))
		return -1;
	ret = ublk_ctrl_del_dev(c, id, true);
	/* Refused for unprivileged devices: DEL_DEV, not waited for. */
	if (ret == -EINVAL && geteuid() != 0)
		ret = ublk_ctrl_bounded(UBLK_U_CMD_DEL_DEV, id, 0,
					DEL_FORCE_SYNC_MS);
	if (ret && ret != -ETIMEDOUT && ret != -ENODEV && ret != -ENOENT) {
		ublk_dev_err(id, ret, "delete failed");
		return -1;
	}
	if (remove_state(id))
		return -1;
	ublk_err(
		"device %u: deleted while in use (%s): id %u is freed when they close it",
		id, h->text, id);
	return 0;
}

/*
 * Delete one device; missing_ok for -a, where a device may vanish between
 * listing and deleting. 0 or -1 (message printed).
 */
static int del_one(struct ublk_ctrl *c, const struct del_how *how, uint32_t id,
		   bool missing_ok)
{
	int64_t deadline = ublk_now_ms() + (int64_t)how->timeout_s * 1000;
	struct ublksrv_ctrl_dev_info info;
	struct ublk_holders h;
	int timeout_s = how->timeout_s;
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
	/* ublkctl@.service's ExecStopPost: the restarted unit recovers it. */
	if (how->keep_recoverable && (info.flags & UBLK_F_USER_RECOVERY) &&
	    !ublk_server_alive(id, &info)) {
		ublk_err("device %u: kept for recovery (its server is gone)",
			 id);
		return 0;
	}

	if (how->force) {
		ublk_holders_find(id, &h);
		if (h.count)
			return del_held(id, &h, deadline, timeout_s, c);
		ret = ublk_dev_stop(id, pid, false, true, deadline, timeout_s);
	} else {
		ret = stop_unheld(how, id, pid, deadline, &h);
	}
	if (ret == -EBUSY) {
		ublk_err(
			"device %u: in use%s%s: not deleted (--force deletes it anyway)",
			id, h.count ? ": " : "", h.text);
		return -1;
	}
	if (ret)
		return -1;

	/*
	 * DEL_DEV removes the device at once, then waits (interruptibly)
	 * until the last holder of the device lets go of it; a child killed
	 * at our bound leaves the device deleted, its id freed later.
	 */
	ret = -EINVAL;
	if (how->async)
		ret = ublk_ctrl_del_dev(c, id, true);
	/*
	 * The driver's permission check for unprivileged devices does not
	 * list DEL_DEV_ASYNC (-EINVAL): use the bounded synchronous delete.
	 */
	if (!how->async || (ret == -EINVAL && geteuid() != 0))
		ret = ublk_ctrl_bounded(UBLK_U_CMD_DEL_DEV, id, 0,
					ublk_left_ms(deadline));
	/* Gone already: its server deletes it itself on SIGTERM. */
	if (ret == -ENODEV || ret == -ENOENT)
		ret = 0;
	if (ret && ret != -ETIMEDOUT) {
		ublk_dev_err(id, ret, "delete failed");
		return -1;
	}
	if ((!ret || !char_dev_listed(id)) && remove_state(id))
		return -1;
	if (ret == -ETIMEDOUT) {
		ublk_err(
			"device %u: still in use after %d s (is " UBLK_BLOCK_PATH_FMT
			" open?): it is deleted, its id is freed when closed",
			id, timeout_s, id);
		return -1;
	}
	return 0;
}

static int del_all(struct ublk_ctrl *c, const struct del_how *how)
{
	uint32_t ids[4096];
	int n, i, failed = 0;

	n = ublk_list_dev_ids(ids, ARRAY_SIZE(ids));
	if (n < 0) {
		ublk_errno(n, "%s", UBLK_SYSFS_CHAR_CLASS);
		return EXIT_FAIL;
	}
	for (i = 0; i < n; i++)
		if (del_one(c, how, ids[i], true))
			failed++;
	if (!failed)
		return EXIT_OK;
	return failed == n ? EXIT_ALL_FAILED : EXIT_SOME_FAILED;
}

int cmd_del(int argc, char **argv)
{
	struct del_how how = { .timeout_s = DEL_DEFAULT_TIMEOUT_S };
	uint32_t timeout_s = DEL_DEFAULT_TIMEOUT_S;
	struct ublk_dev_arg dev = { 0 };
	bool all = false;
	struct ublk_getopt g;
	uint64_t features;
	struct ublk_ctrl c;
	int opt, rc;

	ublk_getopt_init(&g, options, &help);
	g.dev = &dev;
	while ((opt = ublk_getopt_next(&g, argc, argv)) != -1) {
		switch (opt) {
		case 'a':
			all = true;
			break;
		case OPT_ASYNC:
			how.async = true;
			break;
		case OPT_FORCE:
			how.force = true;
			break;
		case OPT_KEEP_RECOVERABLE:
			how.keep_recoverable = true;
			break;
		case OPT_TIMEOUT:
			if (ublk_parse_u32("timeout", optarg, 1,
					   DEL_MAX_TIMEOUT_S, &timeout_s))
				return ublk_usage_hint();
			how.timeout_s = (int)timeout_s;
			break;
		}
	}
	if (!ublk_getopt_end(&g, argc, argv, false))
		return g.exit_code;
	if (dev.given && all)
		return ublk_usage_err("--id and --all are mutually exclusive");
	if (!dev.given && !all)
		return ublk_usage_err("no device given: use --id ID or --all");

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	/* Unknown features (an old driver): check the holders ourselves. */
	if (!ublk_ctrl_get_features(&c, &features))
		how.safe_stop = features & UBLK_F_SAFE_STOP_DEV;
	if (all)
		rc = del_all(&c, &how);
	else
		rc = del_one(&c, &how, dev.id, false) ? EXIT_FAIL : EXIT_OK;
	ublk_ctrl_close(&c);
	return rc;
}
