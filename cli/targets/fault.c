// SPDX-License-Identifier: GPL-2.0
/*
 * fault target: a null device that misbehaves on purpose, for testing the
 * stack above it. --delay-us N completes every request N microseconds late
 * (an io_uring timeout, so the thread keeps serving others); --fail-every N
 * fails every Nth request (counted across the device) with EIO;
 * --exit-after N makes the thread that takes request N fail, so the server
 * exits as a crashed one would, leaving that request to the kernel.
 */
#include <errno.h>
#include <liburing.h>

#include "ublkctl/server.h"

enum {
	FAULT_OPT_DELAY = 1200,
	FAULT_OPT_FAIL_EVERY,
	FAULT_OPT_EXIT_AFTER,
};

enum { FAULT_OP_DELAY = 1 };

struct fault_priv {
	uint32_t delay_us;
	uint32_t fail_every;
	uint32_t exit_after;
	uint64_t count; /* requests seen (atomic) */
	struct __kernel_timespec ts; /* delay_us, for timeout SQEs */
};

static const struct ublk_opt fault_opts[] = {
	{ "delay-us", FAULT_OPT_DELAY, required_argument, "N",
	  "complete each request N microseconds late (default 0)" },
	{ "fail-every", FAULT_OPT_FAIL_EVERY, required_argument, "N",
	  "fail every Nth request with EIO (default 0: never)" },
	{ "exit-after", FAULT_OPT_EXIT_AFTER, required_argument, "N",
	  "the server fails and exits at request N (default 0: never)" },
	UBLK_OPT_END,
};

static int fault_parse_opt(struct ublk_tgt *tgt, int key, const char *arg)
{
	struct fault_priv *p = ublk_tgt_priv(tgt, sizeof(*p));

	if (!p)
		return EXIT_FAIL;
	if (key == FAULT_OPT_DELAY)
		return ublk_parse_u32("delay-us", arg, 0, 10000000,
				      &p->delay_us) ?
			       EXIT_USAGE :
			       EXIT_OK;
	if (key == FAULT_OPT_FAIL_EVERY)
		return ublk_parse_u32("fail-every", arg, 0, UINT32_MAX,
				      &p->fail_every) ?
			       EXIT_USAGE :
			       EXIT_OK;
	if (key == FAULT_OPT_EXIT_AFTER)
		return ublk_parse_u32("exit-after", arg, 0, UINT32_MAX,
				      &p->exit_after) ?
			       EXIT_USAGE :
			       EXIT_OK;
	return EXIT_USAGE;
}

static int fault_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct fault_priv *p = ublk_tgt_priv(tgt, sizeof(*p));

	if (!p)
		return EXIT_FAIL;
	p->ts.tv_sec = p->delay_us / 1000000;
	p->ts.tv_nsec = (long long)(p->delay_us % 1000000) * 1000;
	return ublk_tgt_init_nostore(tgt, cfg);
}

static int fault_save(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx)
{
	const struct fault_priv *p = tgt->priv;
	int ret = 0;

	if (p->delay_us)
		ret = ublk_emit_u64(emit, ctx, "delay-us", p->delay_us);
	if (!ret && p->fail_every)
		ret = ublk_emit_u64(emit, ctx, "fail-every", p->fail_every);
	return ret;
}

static int fault_result(struct ublk_queue *q, unsigned int tag, uint64_t n)
{
	struct fault_priv *p = q->tgt->priv;
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	unsigned int op = ublksrv_get_op(iod);

	if (p->fail_every && n % p->fail_every == 0)
		return -EIO;
	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		return (int)(iod->nr_sectors << 9);
	return 0;
}

static int fault_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			  unsigned int tag)
{
	struct fault_priv *p = q->tgt->priv;
	uint64_t n = __atomic_add_fetch(&p->count, 1, __ATOMIC_RELAXED);
	struct io_uring_sqe *sqe;

	if (p->exit_after && n == p->exit_after) {
		ublk_err(
			"fault: request %llu: --exit-after: the server fails on purpose",
			(unsigned long long)n);
		ublk_thread_fail(t, -EIO);
		return 0;
	}
	q->ios[tag].result = fault_result(q, tag, n);
	if (!p->delay_us) {
		ublk_complete_io(t, q, tag, q->ios[tag].result);
		return 0;
	}
	sqe = ublk_get_sqe(t);
	/* The kernel reads ts at submission: it lives in priv, read-only. */
	io_uring_prep_timeout(sqe, &p->ts, 0, 0);
	sqe->user_data = ublk_tgt_user_data(q, tag, FAULT_OP_DELAY);
	return 1;
}

static void fault_io_done(struct ublk_thread *t, struct ublk_queue *q,
			  unsigned int tag, unsigned int op,
			  const struct io_uring_cqe *cqe)
{
	/* -ETIME is the timeout expiring: the planned result stands. */
	ublk_complete_io(t, q, tag, q->ios[tag].result);
}

const struct target_ops target_fault = {
	.name = "fault",
	.fast_flags = UBLK_F_USER_COPY | UBLK_F_BATCH_IO,
	.summary = "a null device that delays and fails requests on purpose",
	.opts = fault_opts,
	.notes =
		"  --delay-us and --fail-every combine; a failed request is delayed too.\n"
		"  --exit-after is not kept for recover: the recovered server serves on.\n",
	.parse_opt = fault_parse_opt,
	.init = fault_init,
	.deinit = ublk_tgt_free_priv,
	.save = fault_save,
	.queue_io = fault_queue_io,
	.io_done = fault_io_done,
};
