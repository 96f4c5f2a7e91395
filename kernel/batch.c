// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: UBLK_F_BATCH_IO - PREP_IO_CMDS, COMMIT_IO_CMDS and the
 * multishot FETCH_IO_CMDS.
 *
 * Design note. There is no per-I/O command in batch mode. PREP arms many
 * slots at once (all or nothing). queue_rq binds the request to its slot
 * and pushes the tag into the queue's tag fifo; one of the queue's armed
 * FETCH commands - the "active" one, at most one at a time - drains the
 * fifo from task work in its own ring: it selects a provided buffer,
 * prepares each I/O (descriptor, copy-mode data, automatic buffer
 * registration in the fetch ring), copies the tags into the buffer and
 * posts one CQE with IORING_CQE_F_MORE. When it runs dry it steps down and
 * hands over to the next FETCH if tags arrived meanwhile. COMMIT completes
 * many requests and re-arms their slots; it may stop early and reports how
 * many element bytes it handled. The queue lock guards the fifo writers,
 * the FETCH list and the active pointer.
 */
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ubk.h"

#define UBK_BATCH_FLAGS (UBLK_BATCH_F_HAS_ZONE_LBA | UBLK_BATCH_F_HAS_BUF_ADDR | \
			 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK)
/* A FETCH may keep the active role this many times in a row. */
#define UBK_BATCH_MAX_ROUNDS	32

int ubk_batch_init_queue(struct ubk_queue *q)
{
	return kfifo_alloc(&q->tag_fifo, roundup_pow_of_two(q->depth),
			   GFP_KERNEL);
}

void ubk_batch_free_queue(struct ubk_queue *q)
{
	kfifo_free(&q->tag_fifo);
}

static void ubk_batch_tw(struct io_tw_req tw_req, io_tw_token_t tw);

/* Under q->lock: make a FETCH active if there is work and none is. */
static struct ubk_fetch_cmd *ubk_batch_pick(struct ubk_queue *q)
{
	struct ubk_fetch_cmd *fetch_cmd;

	lockdep_assert_held(&q->lock);
	if (q->active_fetch || kfifo_is_empty(&q->tag_fifo))
		return NULL;
	fetch_cmd = list_first_entry_or_null(&q->fetch_cmds,
					     struct ubk_fetch_cmd, node);
	q->active_fetch = fetch_cmd;
	return fetch_cmd;
}

static void ubk_batch_schedule(struct ubk_fetch_cmd *fetch_cmd)
{
	if (fetch_cmd)
		io_uring_cmd_complete_in_task(fetch_cmd->cmd, ubk_batch_tw);
}

void ubk_batch_queue_tags(struct ubk_queue *q, struct request **rqs,
			  unsigned int nr, bool kick)
{
	struct ubk_fetch_cmd *fetch_cmd = NULL;
	unsigned int i;

	spin_lock(&q->lock);
	for (i = 0; i < nr; i++) {
		u16 tag = rqs[i]->tag;

		kfifo_put(&q->tag_fifo, tag);
	}
	if (kick)
		fetch_cmd = ubk_batch_pick(q);
	spin_unlock(&q->lock);
	ubk_batch_schedule(fetch_cmd);
}

void ubk_batch_kick(struct ubk_queue *q)
{
	struct ubk_fetch_cmd *fetch_cmd;

	spin_lock(&q->lock);
	fetch_cmd = ubk_batch_pick(q);
	spin_unlock(&q->lock);
	ubk_batch_schedule(fetch_cmd);
}

/*
 * Take @fetch_cmd off the queue and complete it with @res; hand the
 * active role to another FETCH if work is waiting.
 */
static void ubk_batch_end_fetch(struct ubk_queue *q,
				struct ubk_fetch_cmd *fetch_cmd, int res,
				unsigned int issue_flags)
{
	struct ubk_fetch_cmd *next;

	spin_lock(&q->lock);
	list_del_init(&fetch_cmd->node);
	if (q->active_fetch == fetch_cmd)
		q->active_fetch = NULL;
	next = ubk_batch_pick(q);
	spin_unlock(&q->lock);

	io_uring_cmd_done(fetch_cmd->cmd, res, issue_flags);
	kfree(fetch_cmd);
	ubk_batch_schedule(next);
}

/*
 * Set up one QUEUED request for the server: descriptor, copy-mode data,
 * reference, automatic buffer. Runs with the state still QUEUED (the
 * automatic registration requires it); false if the request went
 * elsewhere (requeued, or failed), the caller makes the rest SERVER.
 */
static bool ubk_batch_prep_one(struct ubk_queue *q, struct ubk_io *io,
			       struct io_uring_cmd *cmd,
			       unsigned int issue_flags)
{
	struct request *rq = io->req;

	ubk_setup_desc(q, rq);
	if (!ubk_io_map(q, rq, io)) {
		spin_lock(&q->lock);
		io->state = UBK_IO_ARMED;
		io->req = NULL;
		spin_unlock(&q->lock);
		blk_mq_requeue_request(rq, false);
		blk_mq_delay_kick_requeue_list(rq->q, UBK_REQUEUE_DELAY_MS);
		return false;
	}
	if (ubk_need_ref(q->flags))
		refcount_set(&io->ref, 1);
	if (ubk_auto_reg(q->flags) && blk_rq_has_data(rq) &&
	    !ubk_auto_register(q, rq, io, cmd, issue_flags)) {
		refcount_set(&io->ref, 0);
		spin_lock(&q->lock);
		io->state = UBK_IO_ARMED;
		io->req = NULL;
		spin_unlock(&q->lock);
		ubk_end_request(rq, BLK_STS_IOERR);
		return false;
	}
	return true;
}

/*
 * Take up to @max tags off the FIFO and move the QUEUED ones to SERVER;
 * returns how many went to the server, their tags first in @tags. Two
 * lock round trips a batch rather than three a tag: tags taken here are
 * in no FIFO any more, so nothing else moves their requests meanwhile.
 */
static unsigned int ubk_batch_take(struct ubk_queue *q, u16 *tags,
				   unsigned int max, struct io_uring_cmd *cmd,
				   unsigned int issue_flags)
{
	unsigned int nr, kept, i;

	spin_lock(&q->lock);
	nr = kfifo_out(&q->tag_fifo, tags, max);
	for (i = 0, kept = 0; i < nr; i++) {
		struct ubk_io *io = &q->ios[tags[i]];

		if (!WARN_ON_ONCE(io->state != UBK_IO_QUEUED || !io->req))
			tags[kept++] = tags[i];
	}
	spin_unlock(&q->lock);

	for (i = 0, nr = kept, kept = 0; i < nr; i++)
		if (ubk_batch_prep_one(q, &q->ios[tags[i]], cmd, issue_flags))
			tags[kept++] = tags[i];

	if (!kept)
		return 0;
	spin_lock(&q->lock);
	for (i = 0; i < kept; i++)
		q->ios[tags[i]].state = UBK_IO_SERVER;
	spin_unlock(&q->lock);
	return kept;
}

/* The server never saw @tags: put them back as they were. */
static void ubk_batch_undo(struct ubk_queue *q, struct io_uring_cmd *cmd,
			   const u16 *tags, unsigned int nr,
			   unsigned int issue_flags)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct ubk_io *io = &q->ios[tags[i]];
		int index;

		/*
		 * Review: undo after a failed CQE post restores the
		 * pre-dispatch state and unregisters auto buffers
		 */
		spin_lock(&q->lock);
		ubk_take_auto_reg(io, cmd, &index);
		io->state = UBK_IO_QUEUED;
		spin_unlock(&q->lock);
		if (index >= 0)
			io_buffer_unregister(cmd, index, issue_flags);
		/* the never-used buffer was released synchronously above */
		refcount_set(&io->ref, 0);
	}
	kfifo_in_spinlocked(&q->tag_fifo, tags, nr, &q->lock);
}

/*
 * Move up to one buffer's worth of tags to the server. Returns bytes
 * posted (0 if every tag was filtered out) or a negative error that ends
 * the FETCH.
 */
static int ubk_batch_deliver(struct ubk_queue *q,
			     struct ubk_fetch_cmd *fetch_cmd,
			     unsigned int issue_flags)
{
	struct io_uring_cmd *cmd = fetch_cmd->cmd;
	u16 tags[UBK_BATCH_MAX_TAGS];
	unsigned int nr, kept;
	struct io_br_sel sel;
	size_t len = 0;
	int ret;

	sel = io_uring_cmd_buffer_select(cmd, fetch_cmd->buf_group, &len,
					 issue_flags);
	if (sel.val < 0)
		return sel.val;
	if (!sel.addr)
		return -ENOBUFS;

	nr = min_t(size_t, len / sizeof(tags[0]), ARRAY_SIZE(tags));
	kept = ubk_batch_take(q, tags, nr, cmd, issue_flags);

	if (!kept) {
		/* Review: return the selected buffer when every tag was filtered */
		sel.val = 0;
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		return 0;
	}

	if (copy_to_user(sel.addr, tags, kept * sizeof(tags[0]))) {
		ret = -EFAULT;
		sel.val = ret;	/* recycles the buffer */
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
	} else {
		sel.val = kept * sizeof(tags[0]);
		ret = io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags) ?
			-ENOBUFS : sel.val;
	}
	if (ret < 0)
		ubk_batch_undo(q, cmd, tags, kept, issue_flags);
	return ret;
}

static void ubk_batch_dispatch(struct ubk_queue *q,
			       struct ubk_fetch_cmd *fetch_cmd,
			       unsigned int issue_flags)
{
	struct ubk_fetch_cmd *next;
	unsigned int rounds = 0;
	bool stop;
	int ret;

again:
	ret = 0;
	while (!kfifo_is_empty(&q->tag_fifo)) {
		ret = ubk_batch_deliver(q, fetch_cmd, issue_flags);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		ubk_batch_end_fetch(q, fetch_cmd, ret, issue_flags);
		return;
	}

	spin_lock(&q->lock);
	q->active_fetch = NULL;
	/* a stop or quiesce ran while we were active: we are the last one */
	stop = q->canceling || q->force_abort;
	next = stop ? NULL : ubk_batch_pick(q);
	spin_unlock(&q->lock);

	if (stop) {
		ubk_batch_end_fetch(q, fetch_cmd, UBLK_IO_RES_ABORT,
				    issue_flags);
		return;
	}
	if (next == fetch_cmd && rounds++ < UBK_BATCH_MAX_ROUNDS)
		goto again;
	ubk_batch_schedule(next);
}

static void ubk_batch_tw(struct io_tw_req tw_req, io_tw_token_t tw)
{
	unsigned int issue_flags = IO_URING_CMD_TASK_WORK_ISSUE_FLAGS;
	struct io_uring_cmd *cmd = io_uring_cmd_from_tw(tw_req);
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_fetch_cmd *fetch_cmd = pdu->fetch_cmd;
	struct ubk_queue *q = pdu->q;

	WARN_ON_ONCE(READ_ONCE(q->active_fetch) != fetch_cmd);
	if (tw.cancel || (current->flags & PF_EXITING)) {
		ubk_batch_end_fetch(q, fetch_cmd, UBLK_IO_RES_ABORT,
				    issue_flags);
		return;
	}
	ubk_batch_dispatch(q, fetch_cmd, issue_flags);
}

/* Complete every idle FETCH of @q with ABORT; the active one follows. */
void ubk_batch_cancel_queue(struct ubk_queue *q)
{
	struct ubk_fetch_cmd *fetch_cmd, *tmp;
	LIST_HEAD(victims);

	spin_lock(&q->lock);
	q->canceling = true;
	list_for_each_entry_safe(fetch_cmd, tmp, &q->fetch_cmds, node)
		if (fetch_cmd != q->active_fetch)
			list_move_tail(&fetch_cmd->node, &victims);
	spin_unlock(&q->lock);

	list_for_each_entry_safe(fetch_cmd, tmp, &victims, node) {
		list_del_init(&fetch_cmd->node);
		io_uring_cmd_done(fetch_cmd->cmd, UBLK_IO_RES_ABORT,
				  IO_URING_F_UNLOCKED);
		kfree(fetch_cmd);
	}
}

/* io_uring cancels one FETCH (ring teardown). */
static void ubk_batch_cancel_fn(struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_fetch_cmd *fetch_cmd = pdu->fetch_cmd;
	struct ubk_queue *q = pdu->q;
	bool mine;

	ubk_set_canceling(q->dev, true);
	spin_lock(&q->lock);
	/* the active one is finished by its own task work */
	mine = q->active_fetch != fetch_cmd && !list_empty(&fetch_cmd->node);
	if (mine)
		list_del_init(&fetch_cmd->node);
	spin_unlock(&q->lock);
	if (mine) {
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, issue_flags);
		kfree(fetch_cmd);
	}
}

/* Release work: tags the server never saw. */
void ubk_batch_abort_fifo(struct ubk_queue *q)
{
	bool reissue = (q->flags & UBLK_F_USER_RECOVERY) &&
		       (q->flags & UBLK_F_USER_RECOVERY_REISSUE);
	u16 tag;

	while (kfifo_out_spinlocked(&q->tag_fifo, &tag, 1, &q->lock)) {
		struct ubk_io *io = &q->ios[tag];
		struct request *rq = NULL;

		spin_lock(&q->lock);
		if (io->state == UBK_IO_QUEUED) {
			rq = io->req;
			io->req = NULL;
			io->state = UBK_IO_IDLE;
		}
		spin_unlock(&q->lock);
		if (!rq)
			continue;
		if (reissue)
			blk_mq_requeue_request(rq, false);
		else
			ubk_end_request(rq, BLK_STS_IOERR);
	}
}

static int ubk_batch_check(struct ubk_device *ub, const struct ublk_batch_io *uc)
{
	unsigned int elem_bytes = sizeof(struct ublk_elem_header);

	if (uc->q_id >= ub->info.nr_hw_queues)
		return -EINVAL;
	if (uc->nr_elem > ub->info.queue_depth)
		return -E2BIG;
	if (uc->flags & ~UBK_BATCH_FLAGS)
		return -EINVAL;
	/* no zoned support here */
	if (uc->flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		return -EINVAL;
	if ((uc->flags & UBLK_BATCH_F_HAS_BUF_ADDR) &&
	    !ubk_copy_mode(ub->info.flags))
		return -EINVAL;
	if (uc->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) {
		if (uc->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
			return -EINVAL;
		if (!ubk_auto_reg(ub->info.flags))
			return -EINVAL;
	}
	if (uc->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		elem_bytes += sizeof(u64);
	if (uc->elem_bytes != elem_bytes)
		return -EINVAL;
	return 0;
}

/* What one PREP/COMMIT element asks for. */
struct ubk_batch_elem {
	u16 tag;
	s32 result;
	u64 buf_addr;
	struct ublk_auto_buf_reg reg;
};

static void ubk_batch_parse(const struct ublk_batch_io *uc, const void *raw,
			    struct ubk_batch_elem *elem)
{
	const struct ublk_elem_header *hdr = raw;

	elem->tag = hdr->tag;
	elem->result = hdr->result;
	elem->buf_addr = 0;
	if (uc->flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		memcpy(&elem->buf_addr, raw + sizeof(*hdr), sizeof(u64));
	elem->reg = (struct ublk_auto_buf_reg) {
		.index = hdr->buf_index,
		.flags = (uc->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) ?
			 UBLK_AUTO_BUF_REG_FALLBACK : 0,
	};
}

/* Undo PREP for one armed slot (ub->mutex held). */
static void ubk_batch_unprep(struct ubk_device *ub, struct ubk_queue *q,
			     u16 tag)
{
	if (q->nr_ready == q->depth)
		ub->nr_queues_ready--;
	q->nr_ready--;
	spin_lock(&q->lock);
	if (q->nr_ready + 1 == q->depth)
		q->canceling = true;
	q->ios[tag].state = UBK_IO_IDLE;
	spin_unlock(&q->lock);
}

static int ubk_batch_prep(struct ubk_device *ub, const struct ublk_batch_io *uc,
			  const void *buf)
{
	struct ubk_queue *q = ub->queues[uc->q_id];
	struct ubk_batch_elem elem;
	unsigned int i, done;
	int ret = 0;

	mutex_lock(&ub->mutex);
	if (test_bit(UBK_DEV_STOPPING, &ub->state)) {
		ret = UBLK_IO_RES_ABORT;
		goto out;
	}
	for (done = 0; done < uc->nr_elem; done++) {
		struct ubk_io *io;

		ubk_batch_parse(uc, buf + done * uc->elem_bytes, &elem);
		ret = -EINVAL;
		if (elem.tag >= q->depth)
			break;
		if (ubk_copy_mode(q->flags) && !elem.buf_addr)
			break;
		if (ub->nr_queues_ready == ub->info.nr_hw_queues) {
			ret = -EBUSY;
			break;
		}
		io = &q->ios[elem.tag];
		spin_lock(&q->lock);
		if (io->state != UBK_IO_IDLE) {
			spin_unlock(&q->lock);
			break;
		}
		io->buf_addr = elem.buf_addr;
		io->auto_reg = elem.reg;
		io->flags = 0;
		io->state = UBK_IO_ARMED;
		spin_unlock(&q->lock);
		ubk_mark_io_ready(ub, q);
		ret = 0;
	}
	if (ret) {
		/* all or nothing */
		for (i = 0; i < done; i++) {
			ubk_batch_parse(uc, buf + i * uc->elem_bytes, &elem);
			ubk_batch_unprep(ub, q, elem.tag);
		}
	}
out:
	mutex_unlock(&ub->mutex);
	return ret;
}

/* Commits are taken UBK_COMMIT_CHUNK at a time under one lock. */
#define UBK_COMMIT_CHUNK 16

/* Under q->lock: SERVER -> ARMED for one element; 0 or why not. */
static int ubk_batch_commit_one(struct ubk_queue *q, struct io_uring_cmd *cmd,
				const struct ubk_batch_elem *elem,
				struct request **rqp, int *index)
{
	struct ubk_io *io = &q->ios[elem->tag];

	lockdep_assert_held(&q->lock);
	if (io->state != UBK_IO_SERVER)
		return -EBUSY;
	/* Review: no NEED_GET_DATA in batch commit: copy mode needs a buffer */
	if (ubk_copy_mode(q->flags) && !elem->buf_addr)
		return -EINVAL;
	*rqp = io->req;
	io->result = elem->result;
	io->buf_addr = elem->buf_addr;
	ubk_take_auto_reg(io, cmd, index);
	io->auto_reg = elem->reg;
	io->req = NULL;
	io->state = UBK_IO_ARMED;
	return 0;
}

/*
 * The elements are read from the server UBK_COMMIT_CHUNK at a time into
 * the stack (at most 16 bytes each): no allocation per commit.
 */
static int ubk_batch_commit(struct ubk_device *ub, struct io_uring_cmd *cmd,
			    const struct ublk_batch_io *uc,
			    const void __user *ubuf, unsigned int issue_flags)
{
	struct ubk_queue *q = ub->queues[uc->q_id];
	u8 buf[UBK_COMMIT_CHUNK * (sizeof(struct ublk_elem_header) + sizeof(u64))];
	struct request *rqs[UBK_COMMIT_CHUNK];
	u16 tags[UBK_COMMIT_CHUNK];
	int index[UBK_COMMIT_CHUNK];
	struct ubk_batch_elem elem;
	unsigned int done = 0, n, i;
	int ret = 0;

	while (!ret && done < uc->nr_elem) {
		unsigned int chunk = min_t(unsigned int, UBK_COMMIT_CHUNK,
					   uc->nr_elem - done);

		if (copy_from_user(buf, ubuf + done * uc->elem_bytes,
				   chunk * uc->elem_bytes)) {
			ret = -EFAULT;
			break;
		}
		/* move the chunk on under the lock, complete it outside */
		spin_lock(&q->lock);
		for (n = 0; n < chunk; n++) {
			ubk_batch_parse(uc, buf + n * uc->elem_bytes, &elem);
			ret = elem.tag < q->depth ?
				      ubk_batch_commit_one(q, cmd, &elem,
							   &rqs[n], &index[n]) :
				      -EINVAL;
			if (ret)
				break;
			tags[n] = elem.tag;
		}
		spin_unlock(&q->lock);

		for (i = 0; i < n; i++) {
			struct ubk_io *io = &q->ios[tags[i]];

			if (index[i] >= 0)
				io_buffer_unregister(cmd, index[i], issue_flags);
			if (ubk_need_ref(q->flags))
				ubk_io_put_ref(io, rqs[i]);
			else
				ubk_complete_copied(io, rqs[i]);
		}
		done += n;
		if (ret)
			pr_warn_ratelimited("ublkc%d: queue %u tag %u: commit failed %d\n",
					    ub->id, q->q_id, elem.tag, ret);
	}
	/* partial success reports the element bytes handled */
	return done ? done * uc->elem_bytes : ret;
}

static int ubk_batch_fetch(struct ubk_device *ub, struct io_uring_cmd *cmd,
			   const struct ublk_batch_io *uc,
			   unsigned int issue_flags)
{
	struct ubk_fetch_cmd *fetch_cmd, *next;
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_queue *q;
	bool refused;

	if (uc->q_id >= ub->info.nr_hw_queues)
		return -EINVAL;
	if (!(cmd->flags & IORING_URING_CMD_MULTISHOT))
		return -EINVAL;
	/* Review: element size by sizeof, not a literal */
	if (uc->elem_bytes != sizeof(u16) || uc->flags)
		return -EINVAL;

	q = ub->queues[uc->q_id];
	fetch_cmd = kzalloc_obj(*fetch_cmd, GFP_KERNEL);
	if (!fetch_cmd)
		return -ENOMEM;
	fetch_cmd->cmd = cmd;
	fetch_cmd->buf_group = READ_ONCE(cmd->sqe->buf_index);
	INIT_LIST_HEAD(&fetch_cmd->node);
	pdu->q = q;
	pdu->fetch_cmd = fetch_cmd;
	io_uring_cmd_mark_cancelable(cmd, issue_flags);

	spin_lock(&q->lock);
	refused = q->canceling || q->force_abort;
	next = NULL;
	if (!refused) {
		list_add_tail(&fetch_cmd->node, &q->fetch_cmds);
		next = ubk_batch_pick(q);
	}
	spin_unlock(&q->lock);

	if (refused) {
		io_uring_cmd_done(cmd, -ENODEV, issue_flags);
		kfree(fetch_cmd);
		return -EIOCBQUEUED;
	}
	ubk_batch_schedule(next);
	return -EIOCBQUEUED;
}

/* Per-I/O buffer commands still work on a batch device. */
static int ubk_batch_other_cmd(struct ubk_device *ub, struct io_uring_cmd *cmd,
			       unsigned int issue_flags)
{
	const struct ublksrv_io_cmd *src =
		io_uring_sqe_cmd(cmd->sqe, struct ublksrv_io_cmd);
	u16 q_id = READ_ONCE(src->q_id);
	u16 tag = READ_ONCE(src->tag);
	u64 addr = READ_ONCE(src->addr);

	if (cmd->cmd_op == UBLK_U_IO_UNREGISTER_IO_BUF)
		return ubk_unregister_io_buf(cmd, ub, addr, issue_flags);
	if (q_id >= ub->info.nr_hw_queues || tag >= ub->info.queue_depth)
		return -EINVAL;
	if (cmd->cmd_op != UBLK_U_IO_REGISTER_IO_BUF)
		return -EOPNOTSUPP;
	return ubk_register_io_buf(cmd, ub, q_id, tag, addr, issue_flags);
}

int ubk_batch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	const struct ublk_batch_io *src =
		io_uring_sqe_cmd(cmd->sqe, struct ublk_batch_io);
	struct ubk_device *ub = cmd->file->private_data;
	struct ublk_batch_io uc;
	void *buf;
	int ret;

	if (issue_flags & IO_URING_F_CANCEL) {
		ubk_batch_cancel_fn(cmd, issue_flags);
		return 0;
	}

	uc.q_id = READ_ONCE(src->q_id);
	uc.flags = READ_ONCE(src->flags);
	uc.nr_elem = READ_ONCE(src->nr_elem);
	uc.elem_bytes = READ_ONCE(src->elem_bytes);

	switch (cmd->cmd_op) {
	case UBLK_U_IO_FETCH_IO_CMDS:
		return ubk_batch_fetch(ub, cmd, &uc, issue_flags);
	case UBLK_U_IO_PREP_IO_CMDS:
	case UBLK_U_IO_COMMIT_IO_CMDS:
		break;
	default:
		return ubk_batch_other_cmd(ub, cmd, issue_flags);
	}

	ret = ubk_batch_check(ub, &uc);
	if (ret)
		return ret;
	if (!uc.nr_elem)
		return cmd->cmd_op == UBLK_U_IO_PREP_IO_CMDS ? 0 : -EINVAL;
	if (cmd->cmd_op == UBLK_U_IO_COMMIT_IO_CMDS)
		return ubk_batch_commit(ub, cmd, &uc,
					u64_to_user_ptr(READ_ONCE(cmd->sqe->addr)),
					issue_flags);
	buf = vmemdup_user(u64_to_user_ptr(READ_ONCE(cmd->sqe->addr)),
			   (size_t)uc.nr_elem * uc.elem_bytes);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = ubk_batch_prep(ub, &uc, buf);
	kvfree(buf);
	return ret;
}

const struct file_operations ubk_ch_batch_fops = {
	.owner		= THIS_MODULE,
	.open		= ubk_ch_open,
	.release	= ubk_ch_release,
	.read_iter	= ubk_ch_read_iter,
	.write_iter	= ubk_ch_write_iter,
	.uring_cmd	= ubk_batch_uring_cmd,
	.mmap		= ubk_ch_mmap,
};
