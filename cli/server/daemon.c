// SPDX-License-Identifier: GPL-2.0
/*
 * Server life cycle: fork and detach (or stay in the foreground), start the
 * threads, START_DEV or END_USER_RECOVERY, report "LIVE <id>" over a pipe,
 * drop capabilities, and on SIGTERM/SIGINT stop and delete the device.
 * A detached server logs to syslog; one whose thread failed leaves the
 * reason in the state file and exits, so the kernel sees it die.
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/ctrl.h"
#include "ublkctl/server.h"
#include "ublkctl/state.h"

#define LIVE_TIMEOUT_MS 60000
#define RECOVER_BUSY_MS 10000

/* Keep only what the stop path needs (STOP_DEV/DEL_DEV on a signal). */
static void drop_caps(const struct ublk_dev_cfg *cfg)
{
	if (capng_get_caps_process() ||
	    capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return;
	capng_clear(CAPNG_SELECT_BOTH);
	if (!(cfg->info.flags & UBLK_F_UNPRIVILEGED_DEV))
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			     CAP_SYS_ADMIN);
	if (capng_apply(CAPNG_SELECT_BOTH))
		ublk_dbg("dropping capabilities failed");
}

static int write_state(const struct ublk_dev_cfg *cfg, pid_t pid)
{
	struct ublk_state st;
	int ret;

	memset(&st, 0, sizeof(st));
	st.id = cfg->info.dev_id;
	st.pid = pid;
	snprintf(st.target, sizeof(st.target), "%s", cfg->tgt.ops->name);
	snprintf(st.backing, sizeof(st.backing), "%s", cfg->tgt.backing);
	st.threads = cfg->nthreads ? cfg->nthreads : cfg->info.nr_hw_queues;
	ret = ublk_cfg_save(cfg, &st);
	if (!ret)
		ret = ublk_state_write(&st);
	ublk_state_free(&st);
	if (ret)
		ublk_errno(ret, "device %u: state file in %s", st.id,
			   ublk_run_dir());
	return ret;
}

/*
 * What the server reports for list, into the state file: the targets'
 * status (a connection lost or back) and why it failed; NULL keeps a
 * field. Skipped while there is no state file yet (the detached parent
 * writes it once live).
 */
static void update_state(uint32_t id, const char *status, const char *error)
{
	struct ublk_state st;
	int ret;

	if (!ublk_state_read(id, &st) &&
	    ((status && strcmp(st.status, status)) ||
	     (error && strcmp(st.error, error)))) {
		if (status)
			snprintf(st.status, sizeof(st.status), "%s", status);
		if (error)
			snprintf(st.error, sizeof(st.error), "%s", error);
		ret = ublk_state_write(&st);
		if (ret)
			ublk_errno(-ret, "device %u: state file", id);
	}
	ublk_state_free(&st);
}

static int start_or_recover(struct ublk_ctrl *ctrl, struct ublk_dev_cfg *cfg,
			    bool recover)
{
	uint32_t id = cfg->info.dev_id;
	int ret;

	if (recover)
		ret = ublk_ctrl_end_recovery(ctrl, id, getpid());
	else
		ret = ublk_ctrl_start_dev(ctrl, id, getpid());
	if (ret < 0)
		ublk_errno(ret, "device %u: %s", id,
			   recover ? "END_USER_RECOVERY" : "START_DEV");
	return ret;
}

/*
 * The server proper, in the process that will serve. report_fd >= 0: the
 * detached child, which reports "LIVE <id>" there and then leaves the
 * terminal; else the foreground process, which writes the state file and
 * prints the device itself.
 */
static int server_run(struct ublk_dev_cfg *cfg, bool recover, int report_fd,
		      void (*live)(uint32_t id))
{
	uint32_t id = cfg->info.dev_id;
	struct ublk_ctrl ctrl = { .fd = -1 };
	struct ublk_srv *srv = NULL;
	bool stopping = false, failed = false;
	int efd = -1, sfd = -1, ret;
	sigset_t sigs;

	ret = ublk_ctrl_open(&ctrl);
	if (ret) {
		ublk_errno(ret, "%s", UBLK_CONTROL_PATH);
		return EXIT_FAIL;
	}
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || efd < 0) {
		ublk_errno(errno, "device %u: signalfd/eventfd", id);
		ret = EXIT_FAIL;
		goto out;
	}

	if (ublk_srv_create(cfg, &srv)) {
		ret = EXIT_FAIL;
		goto out;
	}
	ublk_srv_get_affinity(srv, &ctrl);
	if (!recover && ublk_srv_register_shmem(srv, &ctrl)) {
		ret = EXIT_FAIL;
		goto out;
	}
	drop_caps(cfg);
	if (ublk_srv_start(srv, efd) || start_or_recover(&ctrl, cfg, recover)) {
		/*
		 * Threads may sit in the kernel: leave without joining. The
		 * detached child's parent deletes the device; a foreground
		 * add deletes it here, asynchronously, as it cannot wait.
		 */
		if (report_fd < 0 && !recover)
			ublk_ctrl_del_dev(&ctrl, id, true);
		_exit(EXIT_FAIL);
	}

	if (report_fd >= 0) {
		char msg[32];
		int n = snprintf(msg, sizeof(msg), "LIVE %u\n", id), devnull;

		if (write(report_fd, msg, (size_t)n) != n)
			_exit(EXIT_FAIL);
		close(report_fd);
		ublk_msg_syslog(id);
		devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
			close(devnull);
		}
	} else {
		write_state(cfg, getpid());
		if (live)
			live(id);
		fflush(stdout);
	}

	/* Serve until every thread ends: device gone, or our stop. */
	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = efd, .events = POLLIN },
			{ .fd = ublk_srv_status_fd(srv), .events = POLLIN },
		};
		unsigned int exited = ublk_srv_exited(srv, &failed);
		uint64_t v;

		if (failed && !stopping) {
			char why[UBLK_STATE_ERROR_LEN];

			ublk_last_error(why, sizeof(why));
			update_state(id, NULL, why);
			ublk_err(
				"device %u: a server thread failed, the server exits",
				id);
			/* Let the kernel see the server die (recovery). */
			_exit(EXIT_FAIL);
		}
		if (exited >= ublk_srv_nr_threads(srv))
			break;
		if (poll(pfd, 3, -1) < 0)
			continue;
		if (pfd[2].revents & POLLIN) {
			char status[UBLK_STATE_STATUS_LEN];

			ublk_srv_status(srv, status, sizeof(status));
			update_state(id, status, NULL);
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    !stopping) {
				stopping = true;
				ret = ublk_ctrl_stop_dev(&ctrl, id);
				if (ret < 0)
					ublk_errno(ret, "device %u: stop", id);
			}
		}
		if ((pfd[1].revents & POLLIN) && read(efd, &v, sizeof(v)) < 0 &&
		    errno != EAGAIN)
			break;
	}
	ublk_srv_destroy(srv);
	srv = NULL;
	ret = EXIT_OK;
	if (stopping) {
		int r = ublk_ctrl_del_dev(&ctrl, id, false);

		if (r < 0 && r != -ENODEV) {
			ublk_errno(r, "device %u: delete", id);
			ret = EXIT_FAIL;
		}
		r = ublk_state_remove(id);
		if (r && r != -ENOENT)
			ublk_errno(r, "device %u: remove state file", id);
	}
out:
	ublk_srv_destroy(srv);
	if (sfd >= 0)
		close(sfd);
	if (efd >= 0)
		close(efd);
	ublk_ctrl_close(&ctrl);
	return ret;
}

/* Parent side of a detached start: wait for "LIVE <id>" or EOF. */
static int wait_live(int fd, pid_t pid, uint32_t id)
{
	int64_t deadline = ublk_deadline(LIVE_TIMEOUT_MS);
	char buf[64];
	size_t len = 0;

	while (len < sizeof(buf) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r = poll(&pfd, 1, ublk_left_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		if (!r) {
			ublk_err("device %u: server not live after %d s", id,
				 LIVE_TIMEOUT_MS / 1000);
			kill(pid, SIGKILL);
			break;
		}
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!len)
				ublk_err(
					"device %u: server exited before the device was live",
					id);
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		if (strchr(buf, '\n')) {
			unsigned int got;

			if (sscanf(buf, "LIVE %u", &got) == 1 && got == id)
				return 0;
			break;
		}
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -1;
}

int ublk_server_launch(struct ublk_dev_cfg *cfg, bool recover,
		       void (*live)(uint32_t id))
{
	uint32_t id = cfg->info.dev_id;
	int pfd[2];
	pid_t pid;

	if (cfg->foreground)
		return server_run(cfg, recover, -1, live);

	if (pipe2(pfd, O_CLOEXEC)) {
		ublk_errno(errno, "pipe");
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		ublk_errno(errno, "fork");
		close(pfd[0]);
		close(pfd[1]);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		_exit(server_run(cfg, recover, pfd[1], NULL));
	}
	close(pfd[1]);
	if (wait_live(pfd[0], pid, id)) {
		close(pfd[0]);
		return EXIT_FAIL;
	}
	close(pfd[0]);
	if (write_state(cfg, pid))
		return EXIT_FAIL;
	if (live)
		live(id);
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

int ublk_server_recover(struct ublk_ctrl *ctrl, struct ublk_dev_cfg *cfg)
{
	uint32_t id = cfg->dev_id;
	int ret;

	ret = ublk_ctrl_get_info(ctrl, id, &cfg->info);
	if (ret) {
		ublk_errno(ret, "device %u", id);
		return EXIT_FAIL;
	}
	if (!(cfg->info.flags & UBLK_F_USER_RECOVERY)) {
		ublk_err("device %u: added without --recovery", id);
		return EXIT_FAIL;
	}
	if (cfg->info.state == UBLK_S_DEV_LIVE &&
	    ublk_server_alive(id, &cfg->info)) {
		ublk_err("device %u: live, its server is running", id);
		return EXIT_FAIL;
	}
	if (start_recovery(ctrl, id))
		return EXIT_FAIL;
	return ublk_server_launch(cfg, true, NULL);
}
