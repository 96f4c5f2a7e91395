// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: the block side - gendisk /dev/ublkbN, blk-mq hooks, request
 * timeouts and what happens to requests when the server goes away.
 *
 * Design note. queue_rq binds a request to its tag's I/O slot under the
 * queue lock (ARMED -> QUEUED). Per-I/O mode then hands the request to the
 * server by running task work on the armed uring_cmd (io.c finishes the
 * dispatch in the server's context); batch mode pushes the tag into the
 * queue's fifo and wakes one FETCH command (batch.c). A slot that is not
 * ARMED, or a queue marked canceling, means nobody can take the request: it
 * is failed, or requeued (without kicking) when recovery will bring a new
 * server. When /dev/ublkcN is released the release work aborts what the dead
 * server owned and moves the device to DEAD, QUIESCED or FAIL_IO.
 */
#include <linux/blk-integrity.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/sched/signal.h>

#include "ubk.h"

void ubk_end_request(struct request *rq, blk_status_t status)
{
	/* see blk_mq_end_request(): keep the final fput off this task */
	local_bh_disable();
	blk_mq_end_request(rq, status);
	local_bh_enable();
}

/*
 * Completion of a committed request by the server's result. A request with
 * data advances by the bytes reported and the rest is sent again; one that
 * moved nothing has failed (a retry would loop). A request without data
 * (flush, discard, write zeroes) has no bytes to advance by: servers report
 * 0 for it, and any result >= 0 ends it whole.
 */
void ubk_complete_request(struct ubk_io *io, struct request *rq)
{
	int res = io->result;

	/* a zone report ends whole; a zone append is never cut in two */
	if (req_op(rq) == REQ_OP_DRV_IN || req_op(rq) == REQ_OP_ZONE_APPEND) {
		if (req_op(rq) == REQ_OP_ZONE_APPEND && res >= 0 &&
		    res != blk_rq_bytes(rq))
			res = -EIO;
		ubk_end_request(rq, res < 0 ? errno_to_blk_status(res) :
				BLK_STS_OK);
		return;
	}
	if (res >= 0 && !ubk_rq_has_data(rq)) {
		ubk_end_request(rq, BLK_STS_OK);
		return;
	}
	if (!res)
		res = -EIO;
	if (res < 0) {
		ubk_end_request(rq, errno_to_blk_status(res));
		return;
	}
	local_bh_disable();
	if (blk_update_request(rq, BLK_STS_OK, res))
		blk_mq_requeue_request(rq, true);
	else
		__blk_mq_end_request(rq, BLK_STS_OK);
	local_bh_enable();
}

/* End what ubk_complete_request_batch() collected in @iob. */
void ubk_end_batch(struct io_comp_batch *iob)
{
	if (!iob->complete)
		return;
	/* bio end_io with softirqs off, as in ubk_end_request() */
	local_bh_disable();
	iob->complete(iob);
	local_bh_enable();
}

/*
 * Nobody can serve @rq now. A zone report is never parked: START_DEV
 * may be waiting for it with ub->mutex held, which recovery needs.
 */
void ubk_abort_rq(struct ubk_queue *q, struct request *rq)
{
	if (ubk_recovery_requeues(q->flags) && !READ_ONCE(q->force_abort) &&
	    req_op(rq) != REQ_OP_DRV_IN)
		blk_mq_requeue_request(rq, false);
	else
		ubk_end_request(rq, BLK_STS_IOERR);
}

static enum ubk_bind ubk_bind_rq(struct ubk_queue *q, struct request *rq,
				 struct io_uring_cmd **cmd)
{
	enum ubk_bind ret;

	spin_lock(&q->lock);
	ret = ubk_bind_rq_locked(q, rq, cmd);
	spin_unlock(&q->lock);
	return ret;
}

/* @rq could not be bound, for reason @why: fail or requeue it. */
void ubk_unbound_rq(struct ubk_queue *q, struct request *rq,
		    enum ubk_bind why)
{
	if (why == UBK_BIND_FAIL)
		ubk_end_request(rq, READ_ONCE(q->fail_io) ? BLK_STS_TARGET :
				BLK_STS_IOERR);
	else
		ubk_abort_rq(q, rq);
}

static __always_inline blk_status_t ubk_prep_rq(struct ubk_queue *q,
						 struct request *rq)
{
	if (ubk_rq_op(rq) < 0)
		return BLK_STS_IOERR;
	if (READ_ONCE(q->fail_io))
		return BLK_STS_TARGET;
	if (READ_ONCE(q->force_abort))
		return BLK_STS_IOERR;
	blk_mq_start_request(rq);
	return BLK_STS_OK;
}

/*
 * Bind @rq to its slot. Returns true when bound (per-I/O mode: *cmd is the
 * armed command to dispatch on); otherwise @rq was failed or requeued.
 */
static __always_inline bool ubk_take_rq(struct ubk_queue *q,
					struct request *rq,
					struct io_uring_cmd **cmd)
{
	enum ubk_bind why = ubk_bind_rq(q, rq, cmd);

	if (why == UBK_BIND_OK)
		return true;
	ubk_unbound_rq(q, rq, why);
	return false;
}

static void ubk_kick_dispatch(struct io_uring_cmd *cmd, struct request *rq)
{
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);

	pdu->q = rq->mq_hctx->driver_data;
	pdu->tag = rq->tag;
	io_uring_cmd_complete_in_task(cmd, ubk_dispatch_tw);
}

static blk_status_t ubk_queue_rq(struct blk_mq_hw_ctx *hctx,
				 const struct blk_mq_queue_data *bd)
{
	struct ubk_queue *q = hctx->driver_data;
	struct io_uring_cmd *cmd;
	blk_status_t st;

	st = ubk_prep_rq(q, bd->rq);
	if (st != BLK_STS_OK)
		return st;
	if (ubk_take_rq(q, bd->rq, &cmd))
		ubk_kick_dispatch(cmd, bd->rq);
	return BLK_STS_OK;
}

/* One task work for a list of bound requests; @cmd is the first one's. */
static void ubk_kick_list(struct io_uring_cmd *cmd, struct rq_list *list)
{
	struct request *rq = rq_list_peek(list);
	struct ubk_cmd_pdu *pdu = ubk_pdu(cmd);

	pdu->q = rq->mq_hctx->driver_data;
	pdu->tag = rq->tag;
	pdu->rq_list = rq;
	rq_list_init(list);
	io_uring_cmd_complete_in_task(cmd, ubk_dispatch_list_tw);
}

/*
 * Per-I/O mode: the bound requests whose commands share a ring and a
 * task (one per queue, or one per I/O daemon) go to that task in one task
 * work, a run of them at a time.
 */
static void ubk_queue_rqs(struct rq_list *rqlist)
{
	struct io_uring_cmd *head = NULL;
	struct task_struct *task = NULL;
	struct rq_list failed = { };
	struct rq_list submit = { };
	struct request *rq;

	while ((rq = rq_list_pop(rqlist))) {
		struct ubk_queue *q = rq->mq_hctx->driver_data;
		struct io_uring_cmd *cmd;
		struct ubk_io *io;

		if (ubk_prep_rq(q, rq) != BLK_STS_OK) {
			rq_list_add_tail(&failed, rq);
			continue;
		}
		if (!ubk_take_rq(q, rq, &cmd))
			continue;
		/* a bound slot's task stays until the server round ends */
		io = &q->ios[rq->tag];
		if (head && (io->task != task ||
			     io_uring_cmd_ctx_handle(cmd) !=
			     io_uring_cmd_ctx_handle(head))) {
			ubk_kick_list(head, &submit);
			head = NULL;
		}
		if (!head) {
			head = cmd;
			task = io->task;
		}
		rq_list_add_tail(&submit, rq);
	}
	if (head)
		ubk_kick_list(head, &submit);
	*rqlist = failed;
}

static blk_status_t ubk_batch_queue_rq(struct blk_mq_hw_ctx *hctx,
				       const struct blk_mq_queue_data *bd)
{
	struct ubk_queue *q = hctx->driver_data;
	struct request *rq = bd->rq;
	blk_status_t st;

	st = ubk_prep_rq(q, rq);
	if (st != BLK_STS_OK)
		return st;
	/*
	 * The kick goes with the last request of a run even when that one
	 * is failed or requeued: tags pushed before it wait for it.
	 */
	ubk_batch_bind_queue(q, &rq, 1, bd->last);
	return BLK_STS_OK;
}

static void ubk_batch_commit_rqs(struct blk_mq_hw_ctx *hctx)
{
	ubk_batch_kick(hctx->driver_data);
}

/* Batch mode: one critical section and one wake-up per run of a queue. */
static void ubk_batch_queue_rqs(struct rq_list *rqlist)
{
	struct request *rqs[UBK_BATCH_MAX_TAGS] __uninitialized;
	struct rq_list failed = { };
	struct ubk_queue *cur = NULL;
	unsigned int nr = 0;
	struct request *rq;

	while ((rq = rq_list_pop(rqlist))) {
		struct ubk_queue *q = rq->mq_hctx->driver_data;

		if (ubk_prep_rq(q, rq) != BLK_STS_OK) {
			rq_list_add_tail(&failed, rq);
			continue;
		}
		if (nr && (q != cur || nr == ARRAY_SIZE(rqs))) {
			ubk_batch_bind_queue(cur, rqs, nr, true);
			nr = 0;
		}
		cur = q;
		rqs[nr++] = rq;
	}
	if (nr)
		ubk_batch_bind_queue(cur, rqs, nr, true);
	*rqlist = failed;
}

static enum blk_eh_timer_return ubk_timeout(struct request *rq)
{
	struct ubk_queue *q = rq->mq_hctx->driver_data;
	pid_t tgid = READ_ONCE(q->dev->srv_tgid);
	struct task_struct *p;

	/* only an untrusted server is killed for being slow */
	if (!(q->flags & UBLK_F_UNPRIVILEGED_DEV) || tgid <= 0)
		return BLK_EH_RESET_TIMER;

	rcu_read_lock();
	p = pid_task(find_pid_ns(tgid, &init_pid_ns), PIDTYPE_TGID);
	if (p)
		send_sig(SIGKILL, p, 0);
	rcu_read_unlock();
	return BLK_EH_DONE;
}

static int ubk_init_hctx(struct blk_mq_hw_ctx *hctx, void *data,
			 unsigned int idx)
{
	struct ubk_device *ub = data;

	hctx->driver_data = ub->queues[idx];
	return 0;
}

static const struct blk_mq_ops ubk_mq_ops = {
	.queue_rq	= ubk_queue_rq,
	.queue_rqs	= ubk_queue_rqs,
	.init_hctx	= ubk_init_hctx,
	.timeout	= ubk_timeout,
};

static const struct blk_mq_ops ubk_batch_mq_ops = {
	.queue_rq	= ubk_batch_queue_rq,
	.queue_rqs	= ubk_batch_queue_rqs,
	.commit_rqs	= ubk_batch_commit_rqs,
	.init_hctx	= ubk_init_hctx,
	.timeout	= ubk_timeout,
};

int ubk_alloc_tag_set(struct ubk_device *ub)
{
	ub->tag_set.ops = ubk_is_batch(ub) ? &ubk_batch_mq_ops : &ubk_mq_ops;
	ub->tag_set.nr_hw_queues = ub->info.nr_hw_queues;
	ub->tag_set.queue_depth = ub->info.queue_depth;
	ub->tag_set.numa_node = NUMA_NO_NODE;
	ub->tag_set.driver_data = ub;
	ub->tag_set.cmd_size = sizeof(struct ubk_rq_pdu);
	return blk_mq_alloc_tag_set(&ub->tag_set);
}

static int ubk_bdev_open(struct gendisk *disk, blk_mode_t mode)
{
	struct ubk_device *ub = disk->private_data;
	u32 uid, gid;
	kuid_t kuid;
	kgid_t kgid;

	if (capable(CAP_SYS_ADMIN))
		return 0;
	/* an unprivileged device opens for its owner only */
	if (ub->info.flags & UBLK_F_UNPRIVILEGED_DEV) {
		current_uid_gid(&kuid, &kgid);
		uid = from_kuid(&init_user_ns, kuid);
		gid = from_kgid(&init_user_ns, kgid);
		if (uid != ub->info.owner_uid || gid != ub->info.owner_gid)
			return -EPERM;
	}
	if (ub->block_open)
		return -ENXIO;
	return 0;
}

static void ubk_free_disk(struct gendisk *disk)
{
	struct ubk_device *ub = disk->private_data;

	clear_bit(UBK_DEV_USED, &ub->state);
	ubk_put_device(ub);
}

static const struct block_device_operations ubk_bdev_fops = {
	.owner		= THIS_MODULE,
	.open		= ubk_bdev_open,
	.free_disk	= ubk_free_disk,
	.report_zones	= ubk_report_zones,
};

struct gendisk *ubk_get_disk(struct ubk_device *ub)
{
	struct gendisk *disk;

	spin_lock(&ub->lock);
	disk = ub->disk;
	if (disk)
		get_device(disk_to_dev(disk));
	spin_unlock(&ub->lock);
	return disk;
}

void ubk_part_scan_work_fn(struct work_struct *work)
{
	struct ubk_device *ub = container_of(work, struct ubk_device,
					     part_scan_work);
	struct gendisk *disk = ubk_get_disk(ub);

	if (!disk)
		return;
	if (test_and_clear_bit(GD_SUPPRESS_PART_SCAN, &disk->state)) {
		mutex_lock(&disk->open_mutex);
		bdev_disk_changed(disk, false);
		mutex_unlock(&disk->open_mutex);
	}
	put_device(disk_to_dev(disk));
}

/* START_DEV, with ub->mutex held and every queue ready. */
int ubk_start_disk(struct ubk_device *ub)
{
	const struct ublk_params *p = &ub->params;
	struct queue_limits lim = {
		.logical_block_size	= 1 << p->basic.logical_bs_shift,
		.physical_block_size	= 1 << p->basic.physical_bs_shift,
		.io_min			= 1 << p->basic.io_min_shift,
		.io_opt			= 1 << p->basic.io_opt_shift,
		.max_hw_sectors		= p->basic.max_sectors,
		.chunk_sectors		= p->basic.chunk_sectors,
		.virt_boundary_mask	= p->basic.virt_boundary_mask,
		.max_segments		= USHRT_MAX,
		.max_segment_size	= UINT_MAX,
		.dma_alignment		= 3,
	};
	struct gendisk *disk;
	int ret;

	if (p->types & UBLK_PARAM_TYPE_DISCARD) {
		lim.discard_alignment = p->discard.discard_alignment;
		lim.discard_granularity = p->discard.discard_granularity;
		lim.max_hw_discard_sectors = p->discard.max_discard_sectors;
		lim.max_write_zeroes_sectors = p->discard.max_write_zeroes_sectors;
		lim.max_discard_segments = p->discard.max_discard_segments;
	}
	if (p->basic.attrs & UBLK_ATTR_VOLATILE_CACHE) {
		lim.features |= BLK_FEAT_WRITE_CACHE;
		if (p->basic.attrs & UBLK_ATTR_FUA)
			lim.features |= BLK_FEAT_FUA;
	}
	if (p->basic.attrs & UBLK_ATTR_ROTATIONAL)
		lim.features |= BLK_FEAT_ROTATIONAL;
	if (ub->info.flags & UBLK_F_ZONED)
		ubk_zoned_limits(ub, &lim);
	if (p->types & UBLK_PARAM_TYPE_DMA_ALIGN)
		lim.dma_alignment = p->dma.alignment;
	if (p->types & UBLK_PARAM_TYPE_SEGMENT) {
		lim.seg_boundary_mask = p->seg.seg_boundary_mask;
		lim.max_segment_size = p->seg.max_segment_size;
		lim.max_segments = p->seg.max_segments;
	}
	ubk_integrity_limits(ub, &lim);

	disk = blk_mq_alloc_disk(&ub->tag_set, &lim, NULL);
	if (IS_ERR(disk))
		return PTR_ERR(disk);
	snprintf(disk->disk_name, sizeof(disk->disk_name), "ublkb%d", ub->id);
	disk->fops = &ubk_bdev_fops;
	disk->private_data = ub;
	if (p->basic.attrs & UBLK_ATTR_READ_ONLY)
		set_disk_ro(disk, true);
	set_capacity(disk, p->basic.dev_sectors);
	/* scan partitions from a worker, never under ub->mutex */
	set_bit(GD_SUPPRESS_PART_SCAN, &disk->state);

	spin_lock(&ub->lock);
	ub->disk = disk;
	spin_unlock(&ub->lock);
	ub->info.ublksrv_pid = ub->srv_tgid;
	ub->info.state = UBLK_S_DEV_LIVE;
	ubk_get_device(ub);		/* dropped by ubk_free_disk() */

	/*
	 * The zones come from the server (report_zones), so ub->disk is set
	 * first: if the server dies meanwhile, the release work finds the
	 * disk and fails what it held.
	 */
	ret = 0;
	if (ub->info.flags & UBLK_F_ZONED)
		ret = ubk_zoned_revalidate(ub);
	if (!ret)
		ret = add_disk(disk);
	if (ret) {
		spin_lock(&ub->lock);
		ub->disk = NULL;
		spin_unlock(&ub->lock);
		ub->info.state = UBLK_S_DEV_DEAD;
		ub->info.ublksrv_pid = -1;
		ubk_put_device(ub);
		put_disk(disk);
		return ret;
	}
	set_bit(UBK_DEV_USED, &ub->state);

	if (!ub->unprivileged_srv) {
		if (ub->info.flags & UBLK_F_NO_AUTO_PART_SCAN)
			clear_bit(GD_SUPPRESS_PART_SCAN, &disk->state);
		else
			schedule_work(&ub->part_scan_work);
	}
	return 0;
}

/* Caller holds the queues' locks out of queue_rq: quiesce, or lock. */
void ubk_set_canceling(struct ubk_device *ub, bool canceling)
{
	unsigned int i;

	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q = ub->queues[i];

		spin_lock(&q->lock);
		q->canceling = canceling;
		spin_unlock(&q->lock);
	}
}

static void ubk_set_force_abort(struct ubk_device *ub)
{
	unsigned int i;

	for (i = 0; i < ub->info.nr_hw_queues; i++)
		WRITE_ONCE(ub->queues[i]->force_abort, true);
}

/* Complete every held server command with ABORT (server must go). */
void ubk_cancel_dev_cmds(struct ubk_device *ub)
{
	unsigned int i, tag;

	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q = ub->queues[i];

		if (ubk_is_batch(ub)) {
			ubk_batch_cancel_queue(q);
			continue;
		}
		for (tag = 0; tag < q->depth; tag++)
			ubk_cancel_io_cmd(q, tag, IO_URING_F_UNLOCKED);
	}
}

/* With ub->mutex held. */
void ubk_stop_dev_locked(struct ubk_device *ub)
{
	struct gendisk *disk = ub->disk;

	if (!disk)
		return;
	/* requests parked for recovery must fail, or del_gendisk waits */
	if (ubk_recovery_requeues(ub->info.flags)) {
		blk_mq_quiesce_queue(disk->queue);
		ubk_set_force_abort(ub);
		blk_mq_unquiesce_queue(disk->queue);
		blk_mq_kick_requeue_list(disk->queue);
	}
	del_gendisk(disk);
	spin_lock(&ub->lock);
	ub->disk = NULL;
	ub->info.state = UBLK_S_DEV_DEAD;
	ub->info.ublksrv_pid = -1;
	spin_unlock(&ub->lock);
	put_disk(disk);
}

void ubk_stop_dev(struct ubk_device *ub)
{
	bool attached;

	mutex_lock(&ub->mutex);
	ubk_stop_dev_locked(ub);
	attached = test_bit(UBK_DEV_OPEN, &ub->state);
	/* a server still attached must close /dev/ublkcN before a restart */
	if (attached)
		set_bit(UBK_DEV_STOPPING, &ub->state);
	mutex_unlock(&ub->mutex);
	cancel_work_sync(&ub->part_scan_work);

	if (attached) {
		wake_up_var(&ub->nr_queues_ready);
		ubk_cancel_dev_cmds(ub);
	}
}

/* The dead server's requests: fail them, or park them for recovery. */
static void ubk_abort_queue(struct ubk_device *ub, struct ubk_queue *q)
{
	bool reissue = (ub->info.flags & UBLK_F_USER_RECOVERY) &&
		       (ub->info.flags & UBLK_F_USER_RECOVERY_REISSUE);
	unsigned int tag;

	for (tag = 0; tag < q->depth; tag++) {
		struct ubk_io *io = &q->ios[tag];
		struct request *rq = NULL;

		spin_lock(&q->lock);
		if (ubk_io_state(io) == UBK_IO_SERVER) {
			rq = io->req;
			io->req = NULL;
			io->state = UBK_IO_IDLE;
			io->flags = 0;
			refcount_set(&io->ref, 0);
		}
		spin_unlock(&q->lock);
		if (!rq)
			continue;
		if (reissue) {
			blk_mq_requeue_request(rq, false);
		} else {
			io->result = -EIO;
			ubk_complete_request(io, rq);
		}
	}
	if (ubk_is_batch(ub))
		ubk_batch_abort_fifo(q);
}

/* Registered buffers of the dead server still hold requests. */
static bool ubk_refs_busy(struct ubk_device *ub)
{
	unsigned int i, tag;

	if (!ubk_need_ref(ub->info.flags))
		return false;
	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q = ub->queues[i];

		for (tag = 0; tag < q->depth; tag++) {
			struct ubk_io *io = &q->ios[tag];

			if (ubk_io_state(io) == UBK_IO_SERVER &&
			    refcount_read(&io->ref) > 1)
				return true;
		}
	}
	return false;
}

/* Back to "no server": every slot IDLE, ready counts zero. */
static void ubk_reset_round(struct ubk_device *ub)
{
	unsigned int i, tag;

	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q = ub->queues[i];

		spin_lock(&q->lock);
		for (tag = 0; tag < q->depth; tag++) {
			struct ubk_io *io = &q->ios[tag];

			WARN_ON_ONCE(io->state == UBK_IO_QUEUED ||
				     io->state == UBK_IO_SERVER);
			io->state = UBK_IO_IDLE;
			io->flags = 0;
			io->cmd = NULL;
			io->req = NULL;
			io->buf_addr = 0;
			if (io->task) {
				put_task_struct(io->task);
				io->task = NULL;
			}
		}
		q->nr_ready = 0;
		/* stays canceling until a new server has fetched everything */
		q->canceling = true;
		spin_unlock(&q->lock);
	}
	ub->nr_queues_ready = 0;
	ub->mm = NULL;
	ub->srv_tgid = -1;
	ub->unprivileged_srv = false;
	clear_bit(UBK_DEV_STOPPING, &ub->state);
}

void ubk_release_work_fn(struct work_struct *work)
{
	struct ubk_device *ub = container_of(to_delayed_work(work),
					     struct ubk_device, release_work);
	struct gendisk *disk;
	unsigned int i;

	/* io_uring drops the dead ring's buffers asynchronously: wait */
	if (ubk_refs_busy(ub)) {
		schedule_delayed_work(&ub->release_work, 1);
		return;
	}

	disk = ubk_get_disk(ub);
	if (disk) {
		/*
		 * No ub->mutex before the requests are gone: a control task
		 * may hold it while waiting for them (del_gendisk).
		 */
		ubk_set_canceling(ub, true);
		for (i = 0; i < ub->info.nr_hw_queues; i++)
			ubk_abort_queue(ub, ub->queues[i]);
		blk_mq_kick_requeue_list(disk->queue);
	}

	mutex_lock(&ub->mutex);
	if (disk && ub->disk) {
		if (!(ub->info.flags & UBLK_F_USER_RECOVERY)) {
			ubk_set_force_abort(ub);
			ubk_stop_dev_locked(ub);
		} else if (ubk_recovery_requeues(ub->info.flags)) {
			ub->info.state = UBLK_S_DEV_QUIESCED;
		} else {
			ub->info.state = UBLK_S_DEV_FAIL_IO;
			for (i = 0; i < ub->info.nr_hw_queues; i++)
				WRITE_ONCE(ub->queues[i]->fail_io, true);
		}
	}
	ubk_reset_round(ub);
	mutex_unlock(&ub->mutex);
	if (disk)
		put_device(disk_to_dev(disk));

	clear_bit(UBK_DEV_OPEN, &ub->state);
	ubk_put_device(ub);
	module_put(THIS_MODULE);
}
