// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: request buffers in io_uring buffer tables - zero copy
 * (REGISTER_IO_BUF / UNREGISTER_IO_BUF) and automatic registration
 * (AUTO_BUF_REG), plus the request reference that keeps them safe.
 *
 * Design note. While the server owns a request, io->ref holds one
 * reference for the server (dropped by COMMIT) and one per registered
 * buffer (dropped by io_uring's release callback when the buffer's last
 * user is gone) or per in-flight user copy. The request completes on the
 * last put, wherever it happens. Automatic registration uses the index the
 * server put in the FETCH/COMMIT SQE's addr and the ring of the command it
 * arrives on; the commit only unregisters it when it comes through that
 * same ring, otherwise that is the server's job.
 */
#include <linux/blk-mq.h>

#include "ubk.h"

/* io_uring dropped a registered request buffer. */
void ubk_buf_release(void *priv)
{
	struct request *rq = priv;

	ubk_io_put_ref(ubk_rq_io(rq), rq);
}

int ubk_register_io_buf(struct io_uring_cmd *cmd, struct ubk_device *ub,
			u16 q_id, u16 tag, unsigned int index,
			unsigned int issue_flags)
{
	struct ubk_queue *q = ub->queues[q_id];
	struct ubk_io *io = &q->ios[tag];
	struct request *rq;
	int ret;

	if (!(ub->info.flags & UBLK_F_SUPPORT_ZERO_COPY))
		return -EINVAL;

	spin_lock(&q->lock);
	rq = ubk_io_state(io) == UBK_IO_SERVER ? io->req : NULL;
	if (rq && (!ubk_rq_has_data(rq) || !ubk_io_get_ref(io)))
		rq = NULL;
	spin_unlock(&q->lock);
	if (!rq)
		return -EINVAL;

	ret = io_buffer_register_request(cmd, rq, ubk_buf_release, index,
					 issue_flags);
	if (ret)
		ubk_io_put_ref(io, rq);
	return ret;
}

int ubk_unregister_io_buf(struct io_uring_cmd *cmd, struct ubk_device *ub,
			  unsigned int index, unsigned int issue_flags)
{
	if (!(ub->info.flags & UBLK_F_SUPPORT_ZERO_COPY))
		return -EINVAL;
	return io_buffer_unregister(cmd, index, issue_flags);
}

/*
 * Register @rq's pages at the slot's chosen index in @cmd's ring. Returns
 * false when the request must be failed (registration failed, no
 * fallback). With fallback the server is told to register by hand.
 */
bool ubk_auto_register(struct ubk_queue *q, struct request *rq,
		       struct ubk_io *io, struct io_uring_cmd *cmd,
		       unsigned int issue_flags)
{
	struct ublk_auto_buf_reg reg;
	int ret;

	/*
	 * No lock: a QUEUED slot is its dispatcher's alone. Its registration
	 * data was set before it was bound and nothing else changes it or
	 * its flags until the dispatcher moves it on (a release, or q->lock
	 * in batch mode), which also publishes what is set here. For the
	 * same reason the one reference is the server's, just set by the
	 * caller: the buffer's is added by a plain store.
	 */
	if (WARN_ON_ONCE(READ_ONCE(io->state) != UBK_IO_QUEUED ||
			 refcount_read(&io->ref) != 1))
		return false;
	reg = io->auto_reg;

	refcount_set(&io->ref, 2);	/* the server's and the buffer's */
	ret = io_buffer_register_request(cmd, rq, ubk_buf_release, reg.index,
					 issue_flags);
	if (ret) {
		refcount_set(&io->ref, 1);
		if (!(reg.flags & UBLK_AUTO_BUF_REG_FALLBACK))
			return false;
		ubk_desc(q, rq->tag)->op_flags |= UBLK_IO_F_NEED_REG_BUF;
		return true;
	}

	io->flags |= UBK_IOF_AUTO_REG;
	io->auto_reg_ctx = io_uring_cmd_ctx_handle(cmd);
	return true;
}
