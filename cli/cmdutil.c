// SPDX-License-Identifier: GPL-2.0
/* Shared plumbing of the device commands: help, options, errors, bounds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/holders.h"
#include "ublkctl/output.h"
#include "ublkctl/state.h"

/* How long an open by nobody we can name may count as a passing probe. */
#define TRANSIENT_OPEN_MS 1000

void ublk_usage_begin(FILE *f, const char *synopsis, const char *summary,
		      const struct ublk_opt *opts)
{
	static const struct ublk_opt help_row = { "help", 'h', no_argument,
						  NULL, "display this help" };
	struct ublk_opt rows[32];
	size_t n = 0;

	fprintf(f, "Usage:\n " UBLKCTL_NAME " %s %s\n\n%s\n\nOptions:\n",
		ublk_cmd_name, synopsis, summary);
	/* Print the table and the help row together so they align. */
	for (; opts && opts->name && n < ARRAY_SIZE(rows) - 2; opts++)
		rows[n++] = *opts;
	rows[n++] = help_row;
	rows[n] = (struct ublk_opt)UBLK_OPT_END;
	ublk_opts_print(f, rows);
}

void ublk_usage_end(FILE *f)
{
	fprintf(f, "\nSee " UBLKCTL_NAME "-%s(8).\n", ublk_cmd_name);
}

void ublk_usage(FILE *f, const struct ublk_help *help,
		const struct ublk_opt *opts)
{
	ublk_usage_begin(f, help->synopsis, help->summary, opts);
	if (help->cols)
		ublk_out_print_columns(f, help->cols, help->ncols);
	if (help->notes)
		fputs(help->notes, f);
	ublk_usage_end(f);
}

void ublk_getopt_init(struct ublk_getopt *g, const struct ublk_opt *opts,
		      const struct ublk_help *help)
{
	/* The arrays are sized for every command's table: a bug if not. */
	if (ublk_opts_count(opts) + 2 > ARRAY_SIZE(g->longopts) ||
	    3 * ublk_opts_count(opts) + 3 > sizeof(g->shortopts))
		abort();
	g->opts = opts;
	g->exit_code = -1;
	g->help = help;
	g->dev = NULL;
	g->out = NULL;
	g->cols = NULL;
	ublk_opts_build(opts, NULL, g->longopts, g->shortopts);
	/* A full rescan: recover parses a state file's argv after its own. */
	optind = 0;
	opterr = 0;
}

/*
 * The option of key c, if it is one of the shared ones the command has:
 * 0 when handled, 1 when it is the command's own, -1 when the command
 * stops (g->exit_code set).
 */
static int shared_opt(struct ublk_getopt *g, int c)
{
	switch (c) {
	case 'n':
		if (!g->dev)
			return 1;
		if (!ublk_dev_arg(g->dev, optarg))
			return 0;
		g->exit_code = EXIT_USAGE;
		return -1;
	case 'o':
		if (!g->cols)
			return 1;
		*g->cols = optarg;
		return 0;
	case 'J':
	case 'r':
	case 'b':
	case UBLK_OPT_NOHEADINGS:
		if (!g->out)
			return 1;
		if (c == 'J')
			g->out->json = true;
		else if (c == 'r')
			g->out->raw = true;
		else if (c == 'b')
			g->out->bytes = true;
		else
			g->out->noheadings = true;
		return 0;
	case 'h':
		if (!g->help)
			return 1;
		ublk_usage(stdout, g->help, g->opts);
		g->exit_code = EXIT_OK;
		return -1;
	}
	return 1;
}

bool ublk_getopt_end(struct ublk_getopt *g, int argc, char **argv,
		     bool need_dev)
{
	if (g->exit_code >= 0)
		return false;
	g->exit_code = EXIT_USAGE;
	if (ublk_no_args(argc, argv))
		return false;
	if (need_dev && g->dev && ublk_dev_arg_need(g->dev))
		return false;
	if (g->out && g->out->json && g->out->raw) {
		ublk_usage_err("--json and --raw are mutually exclusive");
		return false;
	}
	g->exit_code = -1;
	return true;
}

static int next_opt(struct ublk_getopt *g, int argc, char **argv);

int ublk_getopt_next(struct ublk_getopt *g, int argc, char **argv)
{
	int c, ret;

	for (;;) {
		c = next_opt(g, argc, argv);
		if (c < 0)
			return -1;
		ret = shared_opt(g, c);
		if (ret != 0)
			return ret == 1 ? c : ret;
	}
}

static int next_opt(struct ublk_getopt *g, int argc, char **argv)
{
	const struct ublk_opt *o;
	int c;

	g->longidx = -1;
	c = getopt_long(argc, argv, g->shortopts, g->longopts, &g->longidx);
	if (c == '?') {
		/* A known option that got "=value" it does not take. */
		o = ublk_opt_find(g->opts, optopt);
		if (o || (optopt == 'h' && argv[optind - 1][1] == '-'))
			ublk_usage_err(
				"option '--%s' doesn't allow an argument",
				o ? o->name : "help");
		else if (optopt)
			ublk_usage_err("invalid option -- '%c'", optopt);
		else
			ublk_usage_err("unrecognized option '%s'",
				       argv[optind - 1]);
		g->exit_code = EXIT_USAGE;
		return -1;
	}
	if (c == ':') {
		o = ublk_opt_find(g->opts, optopt);
		if (o)
			ublk_usage_err("option '--%s' requires an argument",
				       o->name);
		else
			ublk_usage_err("option '%s' requires an argument",
				       argv[optind - 1]);
		g->exit_code = EXIT_USAGE;
		return -1;
	}
	return c;
}

int ublk_dev_arg(struct ublk_dev_arg *d, const char *arg)
{
	if (ublk_parse_dev_id("id", arg, &d->id))
		return ublk_usage_hint();
	d->given = true;
	return 0;
}

int ublk_dev_arg_need(const struct ublk_dev_arg *d)
{
	return d->given ? 0 : ublk_usage_err("no device given: use --id ID");
}

int ublk_no_args(int argc, char **argv)
{
	if (optind < argc) {
		ublk_usage_err("unexpected argument '%s'", argv[optind]);
		return -1;
	}
	return 0;
}

int ublk_open_ctrl(struct ublk_ctrl *c)
{
	int ret = ublk_ctrl_open(c);

	if (!ret)
		return 0;
	if (ret == -ENOENT || ret == -ENODEV || ret == -ENXIO)
		ublk_err("%s: %s: is the ublk_drv module loaded?",
			 UBLK_CONTROL_PATH, strerror(-ret));
	else if (ret == -EACCES || ret == -EPERM)
		ublk_err("%s: %s (needs root, or CAP_SYS_ADMIN)",
			 UBLK_CONTROL_PATH, strerror(-ret));
	else
		ublk_err("%s: cannot set up the control ring: %s",
			 UBLK_CONTROL_PATH, strerror(-ret));
	return -1;
}

void ublk_dev_err(uint32_t id, int err, const char *what)
{
	if (err < 0)
		err = -err;
	if (err == ENODEV || err == ENOENT)
		ublk_err("device %u: no such device", id);
	else if (err == EPERM || err == EACCES)
		ublk_err(
			"device %u: %s: %s (needs CAP_SYS_ADMIN, or to own the device)",
			id, what, strerror(err));
	else
		ublk_err("device %u: %s: %s", id, what, strerror(err));
}

const char *ublk_state_name(uint16_t state, char *buf, size_t len)
{
	static const char *const names[] = {
		[UBLK_S_DEV_DEAD] = "dead",
		[UBLK_S_DEV_LIVE] = "live",
		[UBLK_S_DEV_QUIESCED] = "quiesced",
		[UBLK_S_DEV_FAIL_IO] = "fail-io",
	};

	if (state < ARRAY_SIZE(names))
		return names[state];
	snprintf(buf, len, "state-%u", state);
	return buf;
}

int ublk_dev_info(struct ublk_ctrl *c, uint32_t id,
		  struct ublksrv_ctrl_dev_info *info)
{
	int ret = ublk_ctrl_get_info(c, id, info);

	if (ret)
		ublk_dev_err(id, ret, "cannot read device info");
	return ret ? -1 : 0;
}

int ublk_dev_need_live(uint32_t id, const struct ublksrv_ctrl_dev_info *info,
		       const char *what)
{
	char buf[32];

	if (info->state == UBLK_S_DEV_LIVE)
		return 0;
	ublk_err("device %u: cannot %s: it is %s, not live", id, what,
		 ublk_state_name(info->state, buf, sizeof(buf)));
	return -1;
}

int ublk_get_features_or_err(struct ublk_ctrl *c, uint64_t *features)
{
	int ret = ublk_ctrl_get_features(c, features);

	if (ret) {
		ublk_errno(ret, "cannot read the driver's features");
		return -1;
	}
	return 0;
}

int ublk_need_feature(uint64_t features, uint64_t flag, const char *why)
{
	if (features & flag)
		return 0;
	ublk_err("%s: this kernel lacks %s", why,
		 ublk_feature_name((unsigned int)__builtin_ctzll(flag)));
	return -1;
}

int ublk_require_feature(struct ublk_ctrl *c, uint64_t flag, const char *why)
{
	uint64_t features;

	if (ublk_get_features_or_err(c, &features))
		return -1;
	return ublk_need_feature(features, flag, why);
}

int64_t ublk_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ublk_deadline(int timeout_ms)
{
	return ublk_now_ms() + timeout_ms;
}

int ublk_left_ms(int64_t deadline)
{
	int64_t left = deadline - ublk_now_ms();

	return left > 0 ? (int)left : 0;
}

bool ublk_nap(int64_t deadline, int *nap_ms)
{
	int left = ublk_left_ms(deadline), ms = *nap_ms;
	struct timespec ts;

	if (!left)
		return false;
	if (ms > left)
		ms = left;
	ts = (struct timespec){ ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
	*nap_ms = *nap_ms < 50 ? *nap_ms * 2 : 100;
	return true;
}

/*
 * Wait until process pid has exited (a zombie has: nobody may reap a
 * detached server promptly) or deadline: a pidfd polls readable then.
 * 0, or -ETIMEDOUT.
 */
static int wait_exit(pid_t pid, int64_t deadline)
{
	struct pollfd pfd = { .events = POLLIN };
	int ret, nap = 1;

	pfd.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd.fd < 0 && errno == ESRCH)
		return 0;
	if (pfd.fd < 0) {
		/* No pidfd (before Linux 5.3): signal 0 until it is reaped. */
		while (!kill(pid, 0) || errno != ESRCH)
			if (!ublk_nap(deadline, &nap))
				return -ETIMEDOUT;
		return 0;
	}
	do {
		ret = poll(&pfd, 1, ublk_left_ms(deadline));
	} while (ret < 0 && errno == EINTR);
	close(pfd.fd);
	return ret > 0 ? 0 : -ETIMEDOUT;
}

int ublk_ctrl_bounded(uint32_t op, uint32_t dev_id, uint64_t data,
		      int timeout_ms)
{
	int64_t deadline = ublk_deadline(timeout_ms);
	pid_t child;
	int status;

	fflush(NULL);
	child = fork();
	if (child < 0)
		return -errno;
	if (!child) {
		struct ublk_ctrl c;
		int ret = ublk_ctrl_open(&c);

		if (!ret) {
			ret = ublk_ctrl_dev_op(&c, op, dev_id, data);
			ublk_ctrl_close(&c);
		}
		/* errno values fit the 8-bit exit status. */
		_exit(ret < 0 ? (-ret & 0xff) : 0);
	}
	if (wait_exit(child, deadline)) {
		kill(child, SIGKILL);
		return -ETIMEDOUT;
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -EINTR;
	return -WEXITSTATUS(status);
}

int ublk_wait_pid_exit(pid_t pid, int timeout_ms)
{
	if (pid <= 0)
		return 0;
	return wait_exit(pid, ublk_deadline(timeout_ms));
}

bool ublk_pid_holds_dev(pid_t pid, uint32_t id)
{
	char dir[64], link[320], want[64], target[64];
	struct dirent *e;
	bool found = false;
	DIR *d;

	if (pid <= 0)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), UBLK_CHAR_PATH_FMT, id);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		found = !strcmp(target, want);
	}
	closedir(d);
	return found;
}

pid_t ublk_server_pid(uint32_t id, const struct ublksrv_ctrl_dev_info *info)
{
	struct ublk_state st;
	pid_t pid = 0;

	if (info->ublksrv_pid > 0)
		return info->ublksrv_pid;
	/* A pid from a file may have been reused: trust it only if it holds
	 * the device.
	 */
	if (!ublk_state_read(id, &st)) {
		if (ublk_pid_holds_dev(st.pid, id))
			pid = st.pid;
		ublk_state_free(&st);
	}
	return pid;
}

bool ublk_server_alive(uint32_t id, const struct ublksrv_ctrl_dev_info *info)
{
	return ublk_pid_holds_dev(ublk_server_pid(id, info), id);
}

static int wait_server(uint32_t id, pid_t pid, bool term, int64_t deadline,
		       int bound_s)
{
	if (pid <= 0)
		return 0;
	if (term) {
		if (!ublk_wait_pid_exit(pid, ublk_left_ms(deadline) / 2))
			return 0;
		/* Its commands were aborted; a server that lingers gets a
		 * clean stop.
		 */
		ublk_dbg("device %u: server %d still running: SIGTERM", id,
			 (int)pid);
		kill(pid, SIGTERM);
	}
	if (!ublk_wait_pid_exit(pid, ublk_left_ms(deadline)))
		return 0;
	ublk_err("device %u: server (pid %d) did not exit within %d s", id,
		 (int)pid, bound_s);
	return -1;
}

/*
 * TRY_STOP_DEV, retried for a moment while the device is open but nobody
 * we can see holds it: a prober (udev's blkid, a partition scan) that
 * opened it just after add closes it again at once.
 */
static int try_stop(uint32_t id, int64_t deadline)
{
	int64_t grace = ublk_deadline(TRANSIENT_OPEN_MS);
	struct ublk_holders h;
	int ret, nap = 10;

	if (grace > deadline)
		grace = deadline;
	for (;;) {
		ret = ublk_ctrl_bounded(UBLK_U_CMD_TRY_STOP_DEV, id, 0,
					ublk_left_ms(deadline));
		if (ret != -EBUSY)
			return ret;
		ublk_holders_find(id, &h);
		if (h.count || !ublk_nap(grace, &nap))
			return ret;
	}
}

int ublk_dev_stop(uint32_t id, pid_t pid, bool safe, bool term,
		  int64_t deadline, int bound_s)
{
	int ret;

	if (safe)
		ret = try_stop(id, deadline);
	else
		ret = ublk_ctrl_bounded(UBLK_U_CMD_STOP_DEV, id, 0,
					ublk_left_ms(deadline));
	if (ret == -ETIMEDOUT) {
		ublk_err(
			"device %u: stop did not finish within %d s (server hung?)",
			id, bound_s);
		return -1;
	}
	if (safe && ret == -EBUSY)
		return -EBUSY;
	/* TRY_STOP_DEV without a block device: stopped already, as STOP_DEV
	 * would treat it.
	 */
	if (safe && ret == -ENODEV)
		ret = 0;
	if (ret) {
		ublk_dev_err(id, ret, "stop failed");
		return -1;
	}
	return wait_server(id, pid, term, deadline, bound_s);
}
