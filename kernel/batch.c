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
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "ubk.h"

#define UBK_BATCH_FLAGS (UBLK_BATCH_F_HAS_ZONE_LBA | UBLK_BATCH_F_HAS_BUF_ADDR | \
			 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK)
/* A FETCH may keep the active role this many times in a row. */
#define UBK_BATCH_MAX_ROUNDS	32

/*
 * Fault injection for tests/hostile: a stop or quiesce waits this long
 * between claiming an idle FETCH and completing it, which widens the race
 * with io_uring's cancel on ring exit from nanoseconds to a window a test
 * can hit. Root-only, 0 (no wait) unless a test sets it.
 */
static unsigned int cancel_delay_ms;
module_param(cancel_delay_ms, uint, 0600);
MODULE_PARM_DESC(cancel_delay_ms, "test only: delay a stop's FETCH cancel (ms, default 0)");

/* Room for every tag; kfifo holds two elements at least (depth 1 too). */
int ubk_batch_init_queue(struct ubk_queue *q)
{
	return kfifo_alloc(&q->tag_fifo,
			   roundup_pow_of_two(max_t(unsigned int, q->depth, 2)),
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

/*
 * Bind @rqs (at most UBK_BATCH_MAX_TAGS, all of @q) to their slots and
 * push the tags of the bound ones, in one critical section; with @kick,
 * make a FETCH active. The requests that could not be bound are failed or
 * requeued; the others may be the server's as soon as the lock is dropped.
 */
void ubk_batch_bind_queue(struct ubk_queue *q, struct request **rqs,
			  unsigned int nr, bool kick)
{
	u8 why[UBK_BATCH_MAX_TAGS] __uninitialized;
	struct ubk_fetch_cmd *fetch_cmd = NULL;
	unsigned int i, unbound = 0;

	if (WARN_ON_ONCE(nr > ARRAY_SIZE(why)))
		nr = ARRAY_SIZE(why);
	spin_lock(&q->lock);
	for (i = 0; i < nr; i++) {
		struct io_uring_cmd *cmd;

		why[i] = ubk_bind_rq_locked(q, rqs[i], &cmd);
		if (why[i] == UBK_BIND_OK)
			kfifo_put(&q->tag_fifo, (u16)rqs[i]->tag);
		else
			unbound++;
	}
	if (kick)
		fetch_cmd = ubk_batch_pick(q);
	spin_unlock(&q->lock);
	for (i = 0; unbound && i < nr; i++) {
		if (why[i] != UBK_BIND_OK) {
			ubk_unbound_rq(q, rqs[i], why[i]);
			unbound--;
		}
	}
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
 * Complete @fetch_cmd, which its caller has claimed (taken off
 * q->fetch_cmds under q->lock: whoever takes it off the list owns it), and
 * start the FETCH that was made active in its place, if any.
 */
static void ubk_batch_finish(struct ubk_fetch_cmd *fetch_cmd,
			     struct ubk_fetch_cmd *next, int res,
			     unsigned int issue_flags)
{
	io_uring_cmd_done(fetch_cmd->cmd, res, issue_flags);
	kfree(fetch_cmd);
	ubk_batch_schedule(next);
}

/*
 * End the active @fetch_cmd with @res; hand the active role to another
 * FETCH if work is waiting. Only the active FETCH's own task work calls
 * this, and no cancel path claims the active FETCH.
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
	ubk_batch_finish(fetch_cmd, next, res, issue_flags);
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
	if (ubk_auto_reg(q->flags) && ubk_rq_has_data(rq) &&
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

		/*
		 * A tag is pushed once per binding and only the active
		 * dispatch takes it out, so a pushed slot is QUEUED with its
		 * request. Anything else is a driver bug, and such an entry
		 * has no request of its own to end.
		 */
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

/*
 * The CQE naming @tags was never posted: take back what this dispatch
 * gave. The slots were SERVER from ubk_batch_take() on, so in that window
 * the server - guessing tags - may already have committed one from another
 * ring, or registered or user-copied its buffer. A slot goes back to the
 * FIFO only if it is still SERVER and, once this ring's automatic buffer is
 * unregistered, nothing but the dispatch's own reference holds its
 * request: the check and the switch back to QUEUED are one critical
 * section, and new references are only taken under q->lock on SERVER
 * slots. Every other slot stays the server's: its commit, or the server's
 * exit (ubk_abort_queue), ends the request.
 */
static void ubk_batch_undo(struct ubk_queue *q, struct io_uring_cmd *cmd,
			   const u16 *tags, unsigned int nr,
			   unsigned int issue_flags)
{
	bool need_ref = ubk_need_ref(q->flags);
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct ubk_io *io = &q->ios[tags[i]];
		int index = -1;

		spin_lock(&q->lock);
		if (io->state == UBK_IO_SERVER)
			ubk_take_auto_reg(io, cmd, &index);
		spin_unlock(&q->lock);
		if (index >= 0)
			io_buffer_unregister(cmd, index, issue_flags);

		spin_lock(&q->lock);
		if (io->state == UBK_IO_SERVER &&
		    (!need_ref || refcount_read(&io->ref) == 1)) {
			if (need_ref)
				refcount_set(&io->ref, 0);
			io->state = UBK_IO_QUEUED;
			kfifo_put(&q->tag_fifo, tags[i]);
		}
		spin_unlock(&q->lock);
	}
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
	u16 tags[UBK_BATCH_MAX_TAGS] __uninitialized;
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

	/*
	 * A buffer too short for one tag (0 or 1 byte, such as the tail of
	 * an odd-sized incremental buffer) can never take one: end the
	 * FETCH, or the dispatch loop would select it again forever.
	 */
	nr = min_t(size_t, len / sizeof(tags[0]), ARRAY_SIZE(tags));
	if (!nr) {
		sel.val = -ENOBUFS;	/* recycles the buffer */
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		return -ENOBUFS;
	}

	kept = ubk_batch_take(q, tags, nr, cmd, issue_flags);
	if (!kept) {
		/* every tag went elsewhere: give the buffer back unused */
		sel.val = 0;
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		return 0;
	}

	/* as upstream, a failed copy or post ends the FETCH with -ENOBUFS */
	if (copy_to_user(sel.addr, tags, kept * sizeof(tags[0]))) {
		sel.val = -EFAULT;	/* recycles the buffer */
		io_uring_mshot_cmd_post_cqe(cmd, &sel, issue_flags);
		ret = -ENOBUFS;
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
	/*
	 * A stop or quiesce ran while we were active: we are the last one.
	 * We claim ourselves in the critical section that ends our active
	 * role, or a cancel could claim and complete us too.
	 */
	stop = q->canceling || q->force_abort;
	if (stop)
		list_del_init(&fetch_cmd->node);
	next = stop ? NULL : ubk_batch_pick(q);
	spin_unlock(&q->lock);

	if (stop) {
		ubk_batch_finish(fetch_cmd, NULL, UBLK_IO_RES_ABORT,
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

/*
 * Claim @fetch_cmd for a cancel path: true if it was idle and still
 * listed, and is now the caller's to complete. The active FETCH is left to
 * its own task work, which ends it when it sees the queue canceling.
 */
static bool ubk_batch_claim(struct ubk_queue *q,
			    struct ubk_fetch_cmd *fetch_cmd)
{
	bool mine;

	lockdep_assert_held(&q->lock);
	mine = q->active_fetch != fetch_cmd && !list_empty(&fetch_cmd->node);
	if (mine)
		list_del_init(&fetch_cmd->node);
	return mine;
}

/* Claim any idle FETCH of @q, or NULL. */
static struct ubk_fetch_cmd *ubk_batch_claim_idle(struct ubk_queue *q)
{
	struct ubk_fetch_cmd *fetch_cmd;

	spin_lock(&q->lock);
	list_for_each_entry(fetch_cmd, &q->fetch_cmds, node) {
		if (ubk_batch_claim(q, fetch_cmd)) {
			spin_unlock(&q->lock);
			return fetch_cmd;
		}
	}
	spin_unlock(&q->lock);
	return NULL;
}

/*
 * Complete every idle FETCH of @q with ABORT; the active one follows. Each
 * is claimed under q->lock, one at a time, so io_uring's cancel callback
 * racing on ring exit never takes one of them for its own.
 */
void ubk_batch_cancel_queue(struct ubk_queue *q)
{
	struct ubk_fetch_cmd *fetch_cmd;

	spin_lock(&q->lock);
	q->canceling = true;
	spin_unlock(&q->lock);

	while ((fetch_cmd = ubk_batch_claim_idle(q))) {
		if (unlikely(READ_ONCE(cancel_delay_ms)))
			msleep(READ_ONCE(cancel_delay_ms));
		ubk_batch_finish(fetch_cmd, NULL, UBLK_IO_RES_ABORT,
				 IO_URING_F_UNLOCKED);
	}
}

/*
 * io_uring cancels one FETCH (ring teardown). io_uring calls this under
 * the ring's lock, and completing a FETCH claimed elsewhere takes that lock
 * to unlink it from the cancelable list first, so @fetch_cmd is still
 * allocated here even when another path has claimed it.
 */
static void ubk_batch_cancel_fn(struct io_uring_cmd *cmd,
				unsigned int issue_flags)
{
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_fetch_cmd *fetch_cmd = pdu->fetch_cmd;
	struct ubk_queue *q = pdu->q;
	bool mine;

	ubk_set_canceling(q->dev, true);
	spin_lock(&q->lock);
	mine = ubk_batch_claim(q, fetch_cmd);
	spin_unlock(&q->lock);
	if (mine)
		ubk_batch_finish(fetch_cmd, NULL, UBLK_IO_RES_ABORT,
				 issue_flags);
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
	/* append LBAs come back only from a zoned device */
	if ((uc->flags & UBLK_BATCH_F_HAS_ZONE_LBA) &&
	    !(ub->info.flags & UBLK_F_ZONED))
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
	if (uc->flags & UBLK_BATCH_F_HAS_ZONE_LBA)
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
	u64 zone_lba; /* U64_MAX: the element carries none */
	struct ublk_auto_buf_reg reg;
};

static __always_inline void ubk_batch_parse(const struct ublk_batch_io *uc,
					    const void *raw,
					    struct ubk_batch_elem *elem)
{
	const struct ublk_elem_header *hdr = raw;
	const void *opt = raw + sizeof(*hdr);

	elem->tag = hdr->tag;
	elem->result = hdr->result;
	elem->buf_addr = 0;
	if (uc->flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
		memcpy(&elem->buf_addr, opt, sizeof(u64));
		opt += sizeof(u64);
	}
	elem->zone_lba = U64_MAX;
	if (uc->flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		memcpy(&elem->zone_lba, opt, sizeof(u64));
	elem->reg = (struct ublk_auto_buf_reg) {
		.index = hdr->buf_index,
		.flags = (uc->flags & UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK) ?
			 UBLK_AUTO_BUF_REG_FALLBACK : 0,
	};
}

/*
 * PREP is all or nothing. Every element is checked and its slot armed
 * (IDLE -> ARMED) before any slot counts as ready, so the queue cannot go
 * live part-way through the list: until it is ready it stays canceling,
 * queue_rq binds none of these slots, and a failed element can put every
 * slot this command armed back to IDLE. IDLE slots change only under
 * ub->mutex, which we hold.
 */
static int ubk_batch_prep(struct ubk_device *ub, const struct ublk_batch_io *uc,
			  const void *buf)
{
	struct ubk_queue *q = ub->queues[uc->q_id];
	struct ubk_batch_elem elem;
	unsigned int i, done;
	int ret = 0;

	/* killable for the reason given at ubk_fetch() */
	if (mutex_lock_killable(&ub->mutex))
		return -EINTR;
	if (test_bit(UBK_DEV_STOPPING, &ub->state)) {
		ret = UBLK_IO_RES_ABORT;
		goto out;
	}
	if (ub->nr_queues_ready == ub->info.nr_hw_queues) {
		ret = -EBUSY;
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
		ret = 0;
	}
	if (ret) {
		for (i = 0; i < done; i++) {
			ubk_batch_parse(uc, buf + i * uc->elem_bytes, &elem);
			spin_lock(&q->lock);
			q->ios[elem.tag].state = UBK_IO_IDLE;
			spin_unlock(&q->lock);
		}
		goto out;
	}
	for (i = 0; i < done; i++)
		ubk_mark_io_ready(ub, q);
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
	/* batch devices have no NEED_GET_DATA: a copy-mode commit names a buffer */
	if (ubk_copy_mode(q->flags) && !elem->buf_addr)
		return -EINVAL;
	*rqp = io->req;
	/* an element without a zone LBA carries U64_MAX: an append fails */
	io->result = ubk_zoned_commit_append(q, io->req, elem->zone_lba,
					     elem->result);
	io->buf_addr = elem->buf_addr;
	ubk_take_auto_reg(io, cmd, index);
	io->auto_reg = elem->reg;
	io->req = NULL;
	io->state = UBK_IO_ARMED;
	return 0;
}

/*
 * The elements are read from the server UBK_COMMIT_CHUNK at a time into
 * the stack (at most 24 bytes each): no allocation per commit.
 */
static int ubk_batch_commit(struct ubk_device *ub, struct io_uring_cmd *cmd,
			    const struct ublk_batch_io *uc,
			    const void __user *ubuf, unsigned int issue_flags)
{
	struct ubk_queue *q = ub->queues[uc->q_id];
	/* scratch, written before it is read: not zeroed on every call */
	u8 buf[UBK_COMMIT_CHUNK * (sizeof(struct ublk_elem_header) +
				   2 * sizeof(u64))] __uninitialized;
	struct request *rqs[UBK_COMMIT_CHUNK] __uninitialized;
	u16 tags[UBK_COMMIT_CHUNK] __uninitialized;
	int index[UBK_COMMIT_CHUNK] __uninitialized;
	struct ubk_batch_elem elem __uninitialized;
	unsigned int done = 0, n, i;
	DEFINE_IO_COMP_BATCH(iob);
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
			if (!ubk_need_ref(q->flags))
				ubk_complete_copied(io, rqs[i], &iob);
			else if (refcount_dec_and_test(&io->ref))
				ubk_complete_request_batch(io, rqs[i], &iob);
		}
		done += n;
		if (ret)
			pr_debug("ublkc%d: queue %u tag %u: commit failed %d\n",
					    ub->id, q->q_id, elem.tag, ret);
	}
	ubk_end_batch(&iob);
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
	if (uc->elem_bytes != sizeof(u16) || uc->flags)
		return -EINVAL;

	q = ub->queues[uc->q_id];
	/* the server may be writing back to its own device: no I/O here */
	fetch_cmd = kzalloc_obj(*fetch_cmd, GFP_NOIO);
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
	unsigned int noio;
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
	/* an empty list is a no-op for both, as upstream */
	if (!uc.nr_elem)
		return 0;
	if (cmd->cmd_op == UBLK_U_IO_COMMIT_IO_CMDS)
		return ubk_batch_commit(ub, cmd, &uc,
					u64_to_user_ptr(READ_ONCE(cmd->sqe->addr)),
					issue_flags);
	/*
	 * PREP also runs in user recovery, with the disk live and writeback
	 * to it stalled until the new server is ready: no I/O from reclaim.
	 */
	noio = memalloc_noio_save();
	buf = vmemdup_user(u64_to_user_ptr(READ_ONCE(cmd->sqe->addr)),
			   (size_t)uc.nr_elem * uc.elem_bytes);
	memalloc_noio_restore(noio);
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
