// SPDX-License-Identifier: GPL-2.0
/* null target: every request succeeds at once; reads return garbage. */
#include <liburing.h>

#include "ublkctl/compat.h"
#include "ublkctl/server.h"

#define NULL_OP_NOP 1

/*
 * With a registered buffer, a NOP that names it (IORING_NOP_FIXED_BUFFER)
 * proves the buffer is there; its injected result is the byte count.
 */
static void prep_nop(struct io_uring_sqe *sqe, const struct ublk_queue *q,
		     unsigned int tag)
{
	io_uring_prep_nop(sqe);
	sqe->buf_index = (uint16_t)ublk_io_buf_index(q, tag);
	ublkctl_sqe_set_nop_flags(sqe, IORING_NOP_FIXED_BUFFER |
					       IORING_NOP_INJECT_RESULT);
	sqe->len = ublk_iod(q, tag)->nr_sectors << 9;
	sqe->user_data = ublk_tgt_user_data(q, tag, NULL_OP_NOP);
}

/* Out of line, so that the automatic-buffer NOP saves no registers. */
static __attribute__((noinline)) int null_complete(struct ublk_thread *t,
						   struct ublk_queue *q,
						   unsigned int tag, int res)
{
	ublk_complete_io(t, q, tag, res);
	return 0;
}

static __attribute__((noinline)) int
null_queue_zc(struct ublk_thread *t, struct ublk_queue *q, unsigned int tag)
{
	struct io_uring_sqe *sqe = ublk_zc_chain_begin(t, q, tag, 1);

	prep_nop(sqe, q, tag);
	ublk_zc_chain_end(t, q, tag, sqe);
	return 2;
}

static int null_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	unsigned int op = ublksrv_get_op(iod);

	if (op != UBLK_IO_OP_READ && op != UBLK_IO_OP_WRITE)
		return null_complete(t, q, tag, 0);
	switch (ublk_io_buf_mode(q, tag)) {
	case UBLK_BUF_AUTO:
		prep_nop(ublk_get_sqe(t), q, tag);
		return 1;
	case UBLK_BUF_ZC:
		return null_queue_zc(t, q, tag);
	default:
		return null_complete(t, q, tag, (int)(iod->nr_sectors << 9));
	}
}

const struct target_ops target_null = {
	.name = "null",
	.fast_flags = UBLK_F_USER_COPY | UBLK_F_BATCH_IO,
	.summary = "no storage: writes are dropped, reads return garbage",
	.init = ublk_tgt_init_nostore,
	.queue_io = null_queue_io,
};
