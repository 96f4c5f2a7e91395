// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: /dev/ublkcN in per-I/O mode - FETCH_REQ,
 * COMMIT_AND_FETCH_REQ and NEED_GET_DATA, copy mode, USER_COPY
 * (pread/pwrite on the char device) and the mmap of the I/O descriptors.
 *
 * Design note. Every tag has exactly one server command. FETCH arms the
 * slot once per server round (under ub->mutex, which also counts readiness
 * for START_DEV). A request reaches the server through task work queued
 * on the armed command, so copy-mode data moves in the server's own mm
 * and io_uring buffer registration runs with the ring lock held.
 * COMMIT_AND_FETCH re-arms the slot with the new command before the old
 * request is completed, so a reused tag always finds an armed command.
 * Commands are marked cancelable before they are published in io->cmd;
 * whoever moves the slot out of ARMED under the queue lock completes it.
 */
#include <linux/blk-mq.h>
#include <linux/instrumented.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>

#include "ubk.h"

int ubk_check_cmd_op(u32 cmd_op)
{
	u32 type = _IOC_TYPE(cmd_op);

	/* legacy (plain number) and ioctl-encoded opcodes */
	if (type != 'u' && type != 0)
		return -EOPNOTSUPP;
	if (type == 0 && !IS_ENABLED(CONFIG_BLKDEV_UBLK_LEGACY_OPCODES))
		return -EOPNOTSUPP;
	return 0;
}

/*
 * One piece of a copy between request memory and @iter that starts
 * *@offset bytes in: a single-page segment, or without highmem a whole
 * (physically contiguous) bvec, mapped at once. A piece wholly before the
 * offset is skipped, else the rest of it is copied and counted in *@done.
 * false once @iter ran out.
 */
bool ubk_copy_bvec(const struct bio_vec *bv, size_t *offset,
		   struct iov_iter *iter, int dir, size_t *done)
{
	size_t len, copied;
	void *kaddr;

	if (*offset >= bv->bv_len) {
		*offset -= bv->bv_len;
		return true;
	}
	len = bv->bv_len - *offset;
	/* without highmem the direct map holds the whole bvec, contiguous */
	kaddr = IS_ENABLED(CONFIG_HIGHMEM) ? kmap_local_page(bv->bv_page) :
					     page_address(bv->bv_page);
	kaddr += bv->bv_offset + *offset;
	/*
	 * Bio pages and metadata may be slab memory without a usercopy
	 * region: the length is trusted, so skip the hardened-usercopy check.
	 */
	if (dir == ITER_DEST)
		copied = _copy_to_iter(kaddr, len, iter);
	else
		copied = _copy_from_iter(kaddr, len, iter);
	if (IS_ENABLED(CONFIG_HIGHMEM))
		kunmap_local(kaddr);
	*done += copied;
	*offset = 0;
	return copied == len;
}

/* Copy between the request's pages and @iter, from byte @offset on. */
size_t ubk_copy_rq_user(const struct request *rq, size_t offset,
			struct iov_iter *iter, int dir)
{
	/* rq_for_each_segment() sets both before use */
	struct req_iterator it __uninitialized;
	struct bio_vec bv __uninitialized;
	size_t done = 0;

#ifdef CONFIG_HIGHMEM
	rq_for_each_segment(bv, rq, it)
#else
	/* without highmem a multi-page bvec is one mapping: copied whole */
	rq_for_each_bvec(bv, rq, it)
#endif
		if (!ubk_copy_bvec(&bv, &offset, iter, dir, &done))
			break;
	return done;
}

/*
 * Copy mode: @len bytes between the request's pages and the server's
 * buffer at @ubuf. A request whose first bvec holds them all (every
 * single-segment request) is one raw user copy, after one access_ok(),
 * with the sanitizer hooks _copy_to_iter() would run; any other goes
 * through an iov_iter (ubk_copy_rq_user). Bio pages may be slab memory
 * without a usercopy region, so no hardened-usercopy check (the length
 * is the request's own). Returns the bytes copied (a fault ends the
 * copy), or -EFAULT for a range that is not user memory.
 */
static ssize_t ubk_copy_rq_ubuf(struct request *rq, void __user *ubuf,
				size_t len, int dir)
{
	struct iov_iter iter __uninitialized;	/* import_ubuf() sets it all */
	unsigned long left;
	struct bio_vec bv;
	void *kaddr;

	bv = req_bvec(rq);
	if (IS_ENABLED(CONFIG_HIGHMEM) || bv.bv_len < len) {
		if (import_ubuf(dir, ubuf, len, &iter))
			return -EFAULT;
		return ubk_copy_rq_user(rq, 0, &iter, dir);
	}
	if (!access_ok(ubuf, len))
		return -EFAULT;
	might_fault();
	kaddr = bvec_virt(&bv);
	if (dir == ITER_DEST) {
		instrument_copy_to_user(ubuf, kaddr, len);
		left = raw_copy_to_user(ubuf, kaddr, len);
	} else {
		instrument_copy_from_user_before(kaddr, ubuf, len);
		left = raw_copy_from_user(kaddr, ubuf, len);
		instrument_copy_from_user_after(kaddr, ubuf, len, left);
	}
	return len - left;
}

/* ubk_io_map()'s copy: false when nothing could be copied */
bool ubk_io_copy_in(struct ubk_queue *q, struct request *rq, struct ubk_io *io)
{
	ssize_t copied = ubk_copy_rq_ubuf(rq, u64_to_user_ptr(io->buf_addr),
					  blk_rq_bytes(rq), ITER_DEST);

	if (copied <= 0)
		return false;
	if (copied < blk_rq_bytes(rq))
		ubk_desc(q, rq->tag)->nr_sectors = copied >> SECTOR_SHIFT;
	return true;
}

/* Copy mode, read request: take the data from the server's buffer. */
static void ubk_io_unmap(struct ubk_io *io, struct request *rq)
{
	ssize_t copied;

	if (io->result <= 0 || !ubk_rq_has_data(rq) ||
	    req_op(rq) != REQ_OP_READ || ubk_desc_is_shmem(io->q, rq->tag))
		return;
	copied = ubk_copy_rq_ubuf(rq, u64_to_user_ptr(io->buf_addr),
				 io->result, ITER_SOURCE);
	if (copied < 0)
		io->result = copied;
	else if (!copied)
		io->result = -EIO;
	else if (copied < io->result)
		io->result = copied;
}

/*
 * Copy mode commit: fetch read data from the server, then complete (in
 * @iob if there is one).
 */
void ubk_complete_copied(struct ubk_io *io, struct request *rq,
			 struct io_comp_batch *iob)
{
	ubk_io_unmap(io, rq);
	ubk_complete_request_batch(io, rq, iob);
}

/* The server is exiting: give the command back, park or fail @rq. */
static void ubk_dispatch_abort(struct ubk_queue *q, struct ubk_io *io,
			       struct io_uring_cmd *cmd, struct request *rq,
			       unsigned int issue_flags)
{
	spin_lock(&q->lock);
	io->state = UBK_IO_CANCELED;
	io->cmd = NULL;
	io->req = NULL;
	q->canceling = true;
	spin_unlock(&q->lock);
	io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, issue_flags);
	ubk_abort_rq(q, rq);
}

static void ubk_set_state(struct ubk_queue *q, struct ubk_io *io,
			  enum ubk_io_state state)
{
	spin_lock(&q->lock);
	io->state = state;
	if (state != UBK_IO_QUEUED && state != UBK_IO_SERVER)
		io->req = NULL;
	spin_unlock(&q->lock);
}

/*
 * In task work of the ring @cmd (the slot's armed command) belongs to:
 * hand the bound request to the server.
 */
static void ubk_dispatch(struct ubk_queue *q, struct ubk_io *io,
			 struct io_uring_cmd *cmd, bool cancel,
			 unsigned int issue_flags)
{
	struct request *rq = io->req;

	if (cancel || current != io->task || (current->flags & PF_EXITING)) {
		ubk_dispatch_abort(q, io, cmd, rq, issue_flags);
		return;
	}

	ubk_setup_desc(q, rq);

	if ((q->flags & UBLK_F_NEED_GET_DATA) && req_op(rq) == REQ_OP_WRITE &&
	    ubk_rq_has_data(rq) && !ubk_desc_is_shmem(q, rq->tag)) {
		/* the server first tells us where the data goes */
		spin_lock(&q->lock);
		io->flags |= UBK_IOF_NEED_GET_DATA;
		io->state = UBK_IO_SERVER;
		io->cmd = NULL;
		spin_unlock(&q->lock);
		io_uring_cmd_done(cmd, UBLK_IO_RES_NEED_GET_DATA, issue_flags);
		return;
	}

	if (!ubk_io_map(q, rq, io)) {
		ubk_set_state(q, io, UBK_IO_ARMED);
		blk_mq_requeue_request(rq, false);
		blk_mq_delay_kick_requeue_list(rq->q, UBK_REQUEUE_DELAY_MS);
		return;
	}

	if (ubk_need_ref(q->flags))
		refcount_set(&io->ref, 1);	/* the server's, until COMMIT */

	if (ubk_auto_reg(q->flags) && ubk_rq_has_data(rq) &&
	    !ubk_auto_register(q, rq, io, cmd, issue_flags)) {
		/* no fallback asked for: fail the request, keep the command */
		refcount_set(&io->ref, 0);
		ubk_set_state(q, io, UBK_IO_ARMED);
		ubk_end_request(rq, BLK_STS_IOERR);
		return;
	}

	/*
	 * No lock: nobody else moves a QUEUED slot, and readers of SERVER
	 * acquire the state (ubk_io_state()), which this release publishes
	 * with everything set above.
	 */
	WRITE_ONCE(io->cmd, NULL);
	smp_store_release(&io->state, UBK_IO_SERVER);
	io_uring_cmd_done(cmd, UBLK_IO_RES_OK, issue_flags);
}

/* Task work on the armed command: hand the bound request to the server. */
void ubk_dispatch_tw(struct io_tw_req tw_req, io_tw_token_t tw)
{
	struct io_uring_cmd *cmd = io_uring_cmd_from_tw(tw_req);
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_queue *q = pdu->q;

	ubk_dispatch(q, &q->ios[pdu->tag], cmd, tw.cancel,
		     IO_URING_CMD_TASK_WORK_ISSUE_FLAGS);
}

/*
 * Task work on the first of a list of bound requests (pdu->rq_list,
 * chained by rq_next) whose armed commands all belong to this ring and
 * task: one task work for the whole list. A QUEUED slot's command and
 * request stay put until its dispatch, so each is read from its slot.
 */
void ubk_dispatch_list_tw(struct io_tw_req tw_req, io_tw_token_t tw)
{
	struct io_uring_cmd *cmd = io_uring_cmd_from_tw(tw_req);
	struct request *rq = ubk_pdu(cmd)->rq_list, *next;

	do {
		struct ubk_queue *q = rq->mq_hctx->driver_data;
		struct ubk_io *io = &q->ios[rq->tag];

		/* rq_next shares room with the requeue list's link */
		next = rq->rq_next;
		rq->rq_next = NULL;
		ubk_dispatch(q, io, io->cmd, tw.cancel,
			     IO_URING_CMD_TASK_WORK_ISSUE_FLAGS);
		rq = next;
	} while (rq);
}

/* Under ub->mutex: one more slot fetched or prepared. */
void ubk_mark_io_ready(struct ubk_device *ub, struct ubk_queue *q)
{
	if (!capable(CAP_SYS_ADMIN))
		ub->unprivileged_srv = true;
	if (++q->nr_ready != q->depth)
		return;
	spin_lock(&q->lock);
	q->canceling = false;
	q->fail_io = false;
	q->force_abort = false;
	spin_unlock(&q->lock);
	if (++ub->nr_queues_ready == ub->info.nr_hw_queues)
		wake_up_var(&ub->nr_queues_ready);
}

/* Is @addr a valid buffer address for this device's FETCH? */
static int ubk_check_fetch_addr(const struct ubk_device *ub, u64 addr)
{
	if (ubk_copy_mode(ub->info.flags)) {
		if (!addr && !(ub->info.flags & UBLK_F_NEED_GET_DATA))
			return -EINVAL;
	} else if (addr) {
		return -EINVAL;
	}
	return 0;
}

static void ubk_prep_cancel(struct io_uring_cmd *cmd, struct ubk_queue *q,
			    u16 tag, unsigned int issue_flags)
{
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);

	pdu->q = q;
	pdu->tag = tag;
	io_uring_cmd_mark_cancelable(cmd, issue_flags);
}

static int ubk_fetch(struct io_uring_cmd *cmd, struct ubk_device *ub,
		     struct ubk_queue *q, u16 tag, u64 addr,
		     unsigned int issue_flags)
{
	struct ubk_io *io = &q->ios[tag];
	struct ublk_auto_buf_reg reg = { };
	int ret;

	ret = ubk_check_fetch_addr(ub, addr);
	if (ret)
		return ret;
	if (ubk_auto_reg(ub->info.flags)) {
		ret = ubk_parse_auto_reg(READ_ONCE(cmd->sqe->addr), &reg);
		if (ret)
			return ret;
	}

	/*
	 * Killable: STOP/DEL hold ub->mutex while del_gendisk waits for the
	 * server's requests; a server blocked here must still die on SIGKILL,
	 * so that the release work can end those requests.
	 */
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
	if (READ_ONCE(io->state) != UBK_IO_IDLE) {
		ret = -EINVAL;
		goto out;
	}

	ubk_prep_cancel(cmd, q, tag, issue_flags);
	spin_lock(&q->lock);
	io->buf_addr = addr;
	io->auto_reg = reg;
	io->flags = 0;
	io->task = get_task_struct(current);
	io->cmd = cmd;
	io->state = UBK_IO_ARMED;
	spin_unlock(&q->lock);
	ubk_mark_io_ready(ub, q);
	ret = -EIOCBQUEUED;
out:
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ubk_commit_and_fetch(struct io_uring_cmd *cmd,
				struct ubk_device *ub, struct ubk_queue *q,
				u16 tag, s32 result, u64 addr,
				unsigned int issue_flags)
{
	struct ubk_io *io = &q->ios[tag];
	struct ublk_auto_buf_reg reg = { };
	int unreg_index = -1;
	struct request *rq;
	u64 lba = 0;
	int ret;

	if (ubk_auto_reg(ub->info.flags)) {
		ret = ubk_parse_auto_reg(READ_ONCE(cmd->sqe->addr), &reg);
		if (ret)
			return ret;
	}

	spin_lock(&q->lock);
	if (ubk_io_state(io) != UBK_IO_SERVER) {
		ret = -EBUSY;
		goto unlock;
	}
	ret = -EINVAL;
	if (io->flags & UBK_IOF_NEED_GET_DATA)
		goto unlock;
	rq = io->req;
	if (req_op(rq) == REQ_OP_ZONE_APPEND) {
		/* zoned devices have no copy mode: addr is the LBA written */
		lba = addr;
		addr = 0;
	}
	if (ubk_copy_mode(q->flags)) {
		if (!addr && (!(q->flags & UBLK_F_NEED_GET_DATA) ||
			      req_op(rq) == REQ_OP_READ))
			goto unlock;
	} else if (addr) {
		goto unlock;
	}
	result = ubk_zoned_commit_append(q, rq, lba, result);
	/*
	 * Before the command becomes visible to a cancel. With the ring
	 * locked (the only way we get here), marking it takes no sleeping
	 * lock, so it can share the critical section that validated it.
	 */
	ubk_prep_cancel(cmd, q, tag, issue_flags);
	io->result = result;
	io->buf_addr = addr;
	ubk_take_auto_reg(io, cmd, &unreg_index);
	io->auto_reg = reg;
	io->req = NULL;
	io->cmd = cmd;
	io->state = UBK_IO_ARMED;
	spin_unlock(&q->lock);

	if (unreg_index >= 0)
		io_buffer_unregister(cmd, unreg_index, issue_flags);

	if (ubk_need_ref(q->flags))
		ubk_io_put_ref(io, rq);
	else
		ubk_complete_copied(io, rq, NULL);
	return -EIOCBQUEUED;
unlock:
	spin_unlock(&q->lock);
	return ret;
}

static int ubk_need_get_data(struct io_uring_cmd *cmd, struct ubk_queue *q,
			     u16 tag, u64 addr, unsigned int issue_flags)
{
	struct ubk_io *io = &q->ios[tag];
	struct request *rq;

	spin_lock(&q->lock);
	if (ubk_io_state(io) != UBK_IO_SERVER ||
	    !(io->flags & UBK_IOF_NEED_GET_DATA)) {
		spin_unlock(&q->lock);
		return -EINVAL;
	}
	io->flags &= ~UBK_IOF_NEED_GET_DATA;
	io->buf_addr = addr;
	rq = io->req;
	spin_unlock(&q->lock);

	ubk_desc(q, tag)->addr = addr;
	if (ubk_io_map(q, rq, io))
		return UBLK_IO_RES_OK;

	/* nothing copied: keep the command armed and retry the request */
	ubk_prep_cancel(cmd, q, tag, issue_flags);
	spin_lock(&q->lock);
	io->cmd = cmd;
	io->req = NULL;
	io->state = UBK_IO_ARMED;
	spin_unlock(&q->lock);
	blk_mq_requeue_request(rq, false);
	blk_mq_delay_kick_requeue_list(rq->q, UBK_REQUEUE_DELAY_MS);
	return -EIOCBQUEUED;
}

/* Give one armed command back to the server with ABORT. */
void ubk_cancel_io_cmd(struct ubk_queue *q, u16 tag, unsigned int issue_flags)
{
	struct ubk_io *io = &q->ios[tag];
	struct io_uring_cmd *cmd = NULL;

	spin_lock(&q->lock);
	if (io->state == UBK_IO_ARMED && io->cmd) {
		cmd = io->cmd;
		io->cmd = NULL;
		io->state = UBK_IO_CANCELED;
	}
	spin_unlock(&q->lock);
	if (cmd)
		io_uring_cmd_done(cmd, UBLK_IO_RES_ABORT, issue_flags);
}

/* io_uring is tearing the server's ring down. */
static void ubk_io_cancel_fn(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);
	struct ubk_queue *q = pdu->q;

	if (WARN_ON_ONCE(!q || pdu->tag >= q->depth))
		return;
	/* no new request may be bound to a command of this server */
	ubk_set_canceling(q->dev, true);
	if (READ_ONCE(q->ios[pdu->tag].cmd) == cmd)
		ubk_cancel_io_cmd(q, pdu->tag, issue_flags);
}

static int ubk_io_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	const struct ublksrv_io_cmd *src =
		io_uring_sqe_cmd(cmd->sqe, struct ublksrv_io_cmd);
	struct ubk_device *ub = cmd->file->private_data;
	u16 q_id = READ_ONCE(src->q_id);
	u16 tag = READ_ONCE(src->tag);
	s32 result = READ_ONCE(src->result);
	u64 addr = READ_ONCE(src->addr);
	u32 nr = _IOC_NR(cmd->cmd_op);
	struct ubk_queue *q;
	int ret;

	ret = ubk_check_cmd_op(cmd->cmd_op);
	if (ret)
		return ret;
	if (nr == UBLK_IO_UNREGISTER_IO_BUF)
		return ubk_unregister_io_buf(cmd, ub, addr, issue_flags);
	if (q_id >= ub->info.nr_hw_queues || tag >= ub->info.queue_depth)
		return -EINVAL;
	q = ub->queues[q_id];

	switch (nr) {
	case UBLK_IO_FETCH_REQ:
		return ubk_fetch(cmd, ub, q, tag, addr, issue_flags);
	case UBLK_IO_REGISTER_IO_BUF:
		/* any task may register (BUF_REG_OFF_DAEMON) */
		return ubk_register_io_buf(cmd, ub, q_id, tag, addr,
					   issue_flags);
	case UBLK_IO_COMMIT_AND_FETCH_REQ:
	case UBLK_IO_NEED_GET_DATA:
		break;
	default:
		return -EINVAL;
	}

	/* the rest belongs to the task that fetched this tag */
	if (READ_ONCE(q->ios[tag].task) != current)
		return -EINVAL;

	if (nr == UBLK_IO_NEED_GET_DATA)
		return ubk_need_get_data(cmd, q, tag, addr, issue_flags);
	ret = ubk_commit_and_fetch(cmd, ub, q, tag, result, addr, issue_flags);
	return ret;
}

static void ubk_io_cmd_tw(struct io_tw_req tw_req, io_tw_token_t tw)
{
	unsigned int issue_flags = IO_URING_CMD_TASK_WORK_ISSUE_FLAGS;
	struct io_uring_cmd *cmd = io_uring_cmd_from_tw(tw_req);
	int ret = -ECANCELED;

	if (!tw.cancel)
		ret = ubk_io_cmd(cmd, issue_flags);
	if (ret != -EIOCBQUEUED)
		io_uring_cmd_done(cmd, ret, issue_flags);
}

static int ubk_ch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags)
{
	if (issue_flags & IO_URING_F_CANCEL) {
		ubk_io_cancel_fn(cmd, issue_flags);
		return 0;
	}
	/* the handlers want the ring lock held: run from task work */
	if (issue_flags & IO_URING_F_UNLOCKED) {
		io_uring_cmd_complete_in_task(cmd, ubk_io_cmd_tw);
		return -EIOCBQUEUED;
	}
	return ubk_io_cmd(cmd, issue_flags);
}

int ubk_ch_open(struct inode *inode, struct file *filp)
{
	struct ubk_device *ub = container_of(inode->i_cdev, struct ubk_device,
					     cdev);

	if (test_and_set_bit(UBK_DEV_OPEN, &ub->state))
		return -EBUSY;
	filp->private_data = ub;
	WRITE_ONCE(ub->srv_tgid, current->tgid);
	return 0;
}

int ubk_ch_release(struct inode *inode, struct file *filp)
{
	struct ubk_device *ub = filp->private_data;

	/* the work drops both; it may have to wait for buffer releases */
	ubk_get_device(ub);
	__module_get(THIS_MODULE);
	schedule_delayed_work(&ub->release_work, 0);
	return 0;
}

/*
 * Queue q's descriptors sit at q * (page-rounded max-depth area), the
 * area scaled by the device's descriptor stride.
 */
int ubk_ch_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct ubk_device *ub = filp->private_data;
	size_t stride = ubk_desc_area_size(UBLK_MAX_QUEUE_DEPTH,
					   ub->info.io_desc_size);
	unsigned long off = vma->vm_pgoff << PAGE_SHIFT;
	size_t len = vma->vm_end - vma->vm_start;
	struct ubk_queue *q;
	int ret = 0;

	spin_lock(&ub->lock);
	if (!ub->mm)
		ub->mm = current->mm;
	if (ub->mm != current->mm)
		ret = -EINVAL;
	spin_unlock(&ub->lock);
	if (ret)
		return ret;

	if (vma->vm_flags & VM_WRITE)
		return -EPERM;
	vm_flags_clear(vma, VM_MAYWRITE);

	if (off < UBLKSRV_CMD_BUF_OFFSET ||
	    off >= UBLKSRV_CMD_BUF_OFFSET + ub->info.nr_hw_queues * stride)
		return -EINVAL;
	if ((off - UBLKSRV_CMD_BUF_OFFSET) % stride)
		return -EINVAL;
	q = ub->queues[(off - UBLKSRV_CMD_BUF_OFFSET) / stride];
	if (len != ubk_desc_area_size(q->depth, q->desc_size))
		return -EINVAL;
	return remap_pfn_range(vma, vma->vm_start,
			       virt_to_phys(q->descs) >> PAGE_SHIFT, len,
			       vma->vm_page_prot);
}

/* USER_COPY: pread/pwrite at an offset naming queue, tag and byte. */
static ssize_t ubk_user_copy(struct kiocb *iocb, struct iov_iter *iter,
			     int dir)
{
	struct ubk_device *ub = iocb->ki_filp->private_data;
	loff_t pos = iocb->ki_pos;
	struct ubk_queue *q;
	struct request *rq;
	struct ubk_io *io;
	size_t buf_off, len;
	u16 q_id, tag;
	ssize_t ret;
	bool to_rq, md;

	/*
	 * The refusals come in ublk_drv's order, so a server sees the same
	 * errno from either driver: a device not started (or stopped) has
	 * no request to copy and answers -EACCES before anything else.
	 */
	if (!user_backed_iter(iter))
		return -EACCES;
	if (READ_ONCE(ub->info.state) == UBLK_S_DEV_DEAD)
		return -EACCES;
	/* the request's integrity metadata instead of its data */
	md = pos & UBLKSRV_IO_INTEGRITY_FLAG;
	if (md && !(ub->info.flags & UBLK_F_INTEGRITY))
		return -EINVAL;
	pos &= ~UBLKSRV_IO_INTEGRITY_FLAG;
	if (pos < UBLKSRV_IO_BUF_OFFSET)
		return -EINVAL;
	pos -= UBLKSRV_IO_BUF_OFFSET;
	q_id = (pos >> UBLK_QID_OFF) & UBLK_QID_BITS_MASK;
	tag = (pos >> UBLK_TAG_OFF) & UBLK_TAG_BITS_MASK;
	buf_off = pos & UBLK_IO_BUF_BITS_MASK;
	if (q_id >= ub->info.nr_hw_queues)
		return -EINVAL;
	if (!(ub->info.flags & UBLK_F_USER_COPY))
		return -EACCES;
	if (tag >= ub->info.queue_depth)
		return -EINVAL;
	q = ub->queues[q_id];
	io = &q->ios[tag];

	spin_lock(&q->lock);
	rq = ubk_io_state(io) == UBK_IO_SERVER ? io->req : NULL;
	if (rq && (!ubk_rq_has_data(rq) || !refcount_inc_not_zero(&io->ref)))
		rq = NULL;
	spin_unlock(&q->lock);
	if (!rq)
		return -EINVAL;

	/*
	 * Bounds first, then direction, as ublk_drv checks them. Metadata is
	 * bounded by what the request's length spans under the queue's
	 * profile; a request that carries none copies 0 bytes.
	 */
	ret = -EINVAL;
	len = md ? ubk_integrity_bytes(rq) : blk_rq_bytes(rq);
	if (buf_off > len)
		goto out;
	to_rq = dir == ITER_SOURCE;
	ret = -EACCES;
	/* a zone report is read into the request, an append out of it */
	if (to_rq && req_op(rq) != REQ_OP_READ && req_op(rq) != REQ_OP_DRV_IN)
		goto out;
	if (!to_rq && req_op(rq) != REQ_OP_WRITE &&
	    req_op(rq) != REQ_OP_ZONE_APPEND)
		goto out;
	if (md)
		ret = ubk_copy_rq_integrity(rq, buf_off, iter, dir);
	else
		ret = ubk_copy_rq_user(rq, buf_off, iter, dir);
out:
	ubk_io_put_ref(io, rq);
	return ret;
}

ssize_t ubk_ch_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return ubk_user_copy(iocb, to, ITER_DEST);
}

ssize_t ubk_ch_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return ubk_user_copy(iocb, from, ITER_SOURCE);
}

const struct file_operations ubk_ch_fops = {
	.owner		= THIS_MODULE,
	.open		= ubk_ch_open,
	.release	= ubk_ch_release,
	.read_iter	= ubk_ch_read_iter,
	.write_iter	= ubk_ch_write_iter,
	.uring_cmd	= ubk_ch_uring_cmd,
	.mmap		= ubk_ch_mmap,
};
