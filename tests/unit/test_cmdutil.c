// SPDX-License-Identifier: GPL-2.0
/* Device-command plumbing: waiting for a server, state names, deadlines. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "unit.h"

static pid_t spawn_sleeper(int ms)
{
	pid_t pid = fork();

	if (!pid) {
		usleep(ms * 1000);
		_exit(0);
	}
	return pid;
}

int main(void)
{
	char buf[32];
	int64_t t0;
	pid_t pid;

	ublk_cmd_name = "unit";
	CHECK(!strcmp(ublk_state_name(UBLK_S_DEV_LIVE, buf, sizeof(buf)),
		      "live"));
	CHECK(!strcmp(ublk_state_name(UBLK_S_DEV_FAIL_IO, buf, sizeof(buf)),
		      "fail-io"));
	CHECK(!strcmp(ublk_state_name(9, buf, sizeof(buf)), "state-9"));

	CHECK_EQ(ublk_left_ms(ublk_now_ms() - 5), 0);
	CHECK(ublk_left_ms(ublk_now_ms() + 1000) > 900);

	/* No server: nothing to wait for. */
	CHECK_EQ(ublk_wait_pid_exit(0, 10), 0);

	/* A process that exits in time; left a zombie, it counts as gone. */
	pid = spawn_sleeper(50);
	CHECK_EQ(ublk_wait_pid_exit(pid, 5000), 0);
	waitpid(pid, NULL, 0);

	/* One that outlives the bound: -ETIMEDOUT, close to the bound. */
	pid = spawn_sleeper(10000);
	t0 = ublk_now_ms();
	CHECK_EQ(ublk_wait_pid_exit(pid, 100), -ETIMEDOUT);
	CHECK(ublk_now_ms() - t0 < 1000);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	/* A bounded control command whose child fails at once (no driver
	 * here, or no such device): its error, well within the bound.
	 */
	t0 = ublk_now_ms();
	CHECK(ublk_ctrl_bounded(UBLK_U_CMD_STOP_DEV, 1048575, 0, 5000) < 0);
	CHECK(ublk_now_ms() - t0 < 4000);

	/* Naps until the deadline, then says so; never far past it. */
	{
		int64_t end = ublk_deadline(60);
		int nap = 1;

		t0 = ublk_now_ms();
		while (ublk_nap(end, &nap))
			;
		CHECK(ublk_now_ms() >= end);
		CHECK(ublk_now_ms() - t0 < 1000);
		CHECK(nap > 1 && nap <= 128);
	}

	/* Our own process holds no ublk device. */
	CHECK(!ublk_pid_holds_dev(getpid(), 0));
	CHECK(!ublk_pid_holds_dev(0, 0));

	CHECK_EQ(ublk_need_feature(UBLK_F_QUIESCE, UBLK_F_QUIESCE, "x"), 0);
	CHECK_EQ(ublk_need_feature(0, UBLK_F_UPDATE_SIZE, "resize"), -1);
	return unit_done("test_cmdutil");
}
