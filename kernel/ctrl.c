// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: /dev/ublk-control and the control commands.
 *
 * Design note. Control commands arrive as SQE128 uring_cmds and are handled
 * synchronously (returning -EAGAIN on a non-blocking issue when they may
 * sleep, so io_uring retries them from a worker). Devices live in an IDR
 * keyed by device id; the embedded struct device of /dev/ublkcN carries the
 * device's reference count, and its release frees everything. Global
 * device creation and removal serialise on ubk_ctl_mutex; per-device
 * commands take ub->mutex where they change device state.
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "ubk.h"

static dev_t ubk_char_devt;
const struct class ubk_char_class = {
	.name = "ublk-char",
};

static DEFINE_IDR(ubk_idr);
static DEFINE_SPINLOCK(ubk_idr_lock);
static DECLARE_WAIT_QUEUE_HEAD(ubk_idr_wq);
static DEFINE_MUTEX(ubk_ctl_mutex);

static unsigned int ubk_unpriv_max = 64;
static unsigned int ubk_unpriv_count;	/* under ubk_ctl_mutex */
module_param_named(ublks_max, ubk_unpriv_max, uint, 0644);
MODULE_PARM_DESC(ublks_max, "most unprivileged ublk devices (default 64)");

static struct miscdevice ubk_misc;

struct ubk_device *ubk_get_device(struct ubk_device *ub)
{
	return kobject_get_unless_zero(&ub->cdev_dev.kobj) ? ub : NULL;
}

void ubk_put_device(struct ubk_device *ub)
{
	put_device(&ub->cdev_dev);
}

static struct ubk_device *ubk_find_device(u32 id)
{
	struct ubk_device *ub;

	if (id >= UBK_MAX_DEVS)
		return NULL;
	spin_lock(&ubk_idr_lock);
	ub = idr_find(&ubk_idr, id);
	if (ub)
		ub = ubk_get_device(ub);
	spin_unlock(&ubk_idr_lock);
	return ub;
}

static void ubk_free_queues(struct ubk_device *ub)
{
	unsigned int i, j;

	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q = ub->queues[i];

		if (!q)
			continue;
		for (j = 0; j < q->depth; j++)
			if (q->ios[j].task)
				put_task_struct(q->ios[j].task);
		if (q->descs)
			free_pages((unsigned long)q->descs,
				   get_order(ubk_desc_area_size(q->depth,
								q->desc_size)));
		ubk_batch_free_queue(q);
		kvfree(q);
		ub->queues[i] = NULL;
	}
}

static int ubk_alloc_queues(struct ubk_device *ub)
{
	u16 depth = ub->info.queue_depth;
	unsigned int i, j;

	for (i = 0; i < ub->info.nr_hw_queues; i++) {
		struct ubk_queue *q;

		q = kvzalloc(struct_size(q, ios, depth), GFP_KERNEL);
		if (!q)
			goto fail;
		q->depth = depth;
		ub->queues[i] = q;
		q->dev = ub;
		q->q_id = i;
		q->flags = ub->info.flags;
		spin_lock_init(&q->lock);
		INIT_LIST_HEAD(&q->fetch_cmds);
		q->desc_size = ub->info.io_desc_size;
		/* zeroed: bytes past the descriptor are never written */
		q->descs = (void *)__get_free_pages(GFP_KERNEL | __GFP_ZERO,
				get_order(ubk_desc_area_size(depth,
							     q->desc_size)));
		if (!q->descs)
			goto fail;
		for (j = 0; j < depth; j++)
			q->ios[j].q = q;
		if (ubk_is_batch(ub) && ubk_batch_init_queue(q))
			goto fail;
	}
	return 0;
fail:
	ubk_free_queues(ub);
	return -ENOMEM;
}

static void ubk_cdev_release(struct device *dev)
{
	struct ubk_device *ub = container_of(dev, struct ubk_device, cdev_dev);

	ubk_shmem_free(ub);
	blk_mq_free_tag_set(&ub->tag_set);
	ubk_free_queues(ub);
	spin_lock(&ubk_idr_lock);
	idr_remove(&ubk_idr, ub->id);
	spin_unlock(&ubk_idr_lock);
	wake_up_all(&ubk_idr_wq);
	mutex_destroy(&ub->mutex);
	kfree(ub);
}

static void ubk_owner_ids(u32 *uid, u32 *gid)
{
	kuid_t kuid;
	kgid_t kgid;

	current_uid_gid(&kuid, &kgid);
	*uid = from_kuid(&init_user_ns, kuid);
	*gid = from_kgid(&init_user_ns, kgid);
}

/* Which flag combinations ADD_DEV accepts, and what it grants. */
static int ubk_check_add_flags(struct ublksrv_ctrl_dev_info *info)
{
	switch (info->flags & UBK_RECOVERY_FLAGS) {
	case 0:
	case UBLK_F_USER_RECOVERY:
	case UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE:
	case UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_FAIL_IO:
		break;
	default:
		return -EINVAL;
	}
	if ((info->flags & UBLK_F_QUIESCE) &&
	    !(info->flags & UBLK_F_USER_RECOVERY))
		return -EINVAL;

	if (info->flags & UBLK_F_UNPRIVILEGED_DEV) {
		/* recovery may stall error handling for untrusted servers */
		info->flags &= ~(UBLK_F_USER_RECOVERY |
				 UBLK_F_USER_RECOVERY_REISSUE);
		/* an untrusted server must not see raw request pages */
		if (info->flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
				   UBLK_F_AUTO_BUF_REG))
			return -EINVAL;
	}

	/* metadata moves only through user copy */
	if ((info->flags & UBLK_F_INTEGRITY) &&
	    !(info->flags & UBLK_F_USER_COPY))
		return -EINVAL;
	/*
	 * A zoned commit's addr carries the append LBA, so the server has
	 * no copy buffer: user copy or zero copy (a batch commit carries
	 * the LBA in its element, UBLK_BATCH_F_HAS_ZONE_LBA).
	 */
	if ((info->flags & UBLK_F_ZONED) &&
	    (!UBK_F_ZONED ||
	     !(info->flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY))))
		return -EINVAL;

	info->flags &= UBK_FEATURES;
	info->flags |= UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_URING_CMD_COMP_IN_TASK |
		       UBLK_F_PER_IO_DAEMON | UBLK_F_BUF_REG_OFF_DAEMON |
		       UBLK_F_SAFE_STOP_DEV;

	if (!ubk_copy_mode(info->flags))
		info->flags &= ~UBLK_F_NEED_GET_DATA;

	if (info->flags & UBLK_F_BATCH_IO) {
		/* batch mode has no per-I/O command to ask for data: clear it */
		info->flags &= ~(UBLK_F_NEED_GET_DATA | UBLK_F_PER_IO_DAEMON);
	}
	return 0;
}

static int ubk_add_char_dev(struct ubk_device *ub)
{
	struct device *dev = &ub->cdev_dev;
	int ret;

	dev->parent = ubk_misc.this_device;
	dev->devt = MKDEV(MAJOR(ubk_char_devt), ub->id);
	dev->class = &ubk_char_class;
	dev->release = ubk_cdev_release;
	device_initialize(dev);

	ret = dev_set_name(dev, "ublkc%d", ub->id);
	if (ret)
		goto fail;
	cdev_init(&ub->cdev, ubk_is_batch(ub) ? &ubk_ch_batch_fops :
						&ubk_ch_fops);
	ret = cdev_device_add(&ub->cdev, dev);
	if (ret)
		goto fail;
	if (ub->info.flags & UBLK_F_UNPRIVILEGED_DEV)
		ubk_unpriv_count++;
	return 0;
fail:
	/* the release callback frees the rest */
	put_device(dev);
	return ret;
}

static int ubk_ctrl_add_dev(const struct ublksrv_ctrl_cmd *hdr)
{
	void __user *argp = u64_to_user_ptr(hdr->addr);
	struct ublksrv_ctrl_dev_info info;
	struct ubk_device *ub;
	int ret;

	if (hdr->len < sizeof(info) || !hdr->addr)
		return -EINVAL;
	if (hdr->queue_id != (u16)-1)
		return -EINVAL;
	if (copy_from_user(&info, argp, sizeof(info)))
		return -EFAULT;

	if (!info.queue_depth || info.queue_depth > UBLK_MAX_QUEUE_DEPTH ||
	    !info.nr_hw_queues || info.nr_hw_queues > UBLK_MAX_NR_QUEUES)
		return -EINVAL;
	if (hdr->dev_id != info.dev_id)
		return -EINVAL;
	if (hdr->dev_id != U32_MAX && hdr->dev_id >= UBK_MAX_DEVS)
		return -EINVAL;

	if (capable(CAP_SYS_ADMIN))
		info.flags &= ~UBLK_F_UNPRIVILEGED_DEV;
	else if (!(info.flags & UBLK_F_UNPRIVILEGED_DEV))
		return -EPERM;

	ret = ubk_check_add_flags(&info);
	if (ret)
		return ret;

	ubk_owner_ids(&info.owner_uid, &info.owner_gid);
	info.nr_hw_queues = min_t(unsigned int, info.nr_hw_queues, nr_cpu_ids);
	info.max_io_buf_bytes = round_down(info.max_io_buf_bytes, PAGE_SIZE);
	/*
	 * IO_DESC_SIZE: the server picks the descriptor stride, a multiple
	 * of the descriptor's alignment between its size and
	 * UBK_MAX_DESC_SIZE (so a queue's area stays within 1 MiB);
	 * without it the stride is the descriptor's size, reported so.
	 */
	if (info.flags & UBLK_F_IO_DESC_SIZE) {
		if (info.io_desc_size < sizeof(struct ublksrv_io_desc) ||
		    info.io_desc_size % __alignof__(struct ublksrv_io_desc) ||
		    info.io_desc_size > UBK_MAX_DESC_SIZE)
			return -EINVAL;
	} else {
		info.io_desc_size = sizeof(struct ublksrv_io_desc);
	}
	info.state = UBLK_S_DEV_DEAD;
	info.ublksrv_pid = -1;

	ret = mutex_lock_killable(&ubk_ctl_mutex);
	if (ret)
		return ret;

	ret = -EACCES;
	if ((info.flags & UBLK_F_UNPRIVILEGED_DEV) &&
	    ubk_unpriv_count >= ubk_unpriv_max)
		goto out_unlock;

	ret = -ENOMEM;
	ub = kzalloc(struct_size(ub, queues, info.nr_hw_queues), GFP_KERNEL);
	if (!ub)
		goto out_unlock;
	mutex_init(&ub->mutex);
	spin_lock_init(&ub->lock);
	ubk_shmem_init(ub);
	INIT_WORK(&ub->part_scan_work, ubk_part_scan_work_fn);
	INIT_DELAYED_WORK(&ub->release_work, ubk_release_work_fn);
	ub->srv_tgid = -1;
	ub->info = info;

	idr_preload(GFP_KERNEL);
	spin_lock(&ubk_idr_lock);
	if (hdr->dev_id == U32_MAX)
		ret = idr_alloc(&ubk_idr, ub, 0, UBK_MAX_DEVS, GFP_NOWAIT);
	else
		ret = idr_alloc(&ubk_idr, ub, hdr->dev_id, hdr->dev_id + 1,
				GFP_NOWAIT);
	spin_unlock(&ubk_idr_lock);
	idr_preload_end();
	if (ret == -ENOSPC && hdr->dev_id != U32_MAX)
		ret = -EEXIST;
	if (ret < 0)
		goto out_free;
	ub->id = ret;
	ub->info.dev_id = ret;

	ret = ubk_alloc_tag_set(ub);
	if (ret)
		goto out_free_id;
	ret = ubk_alloc_queues(ub);
	if (ret)
		goto out_free_tags;

	ret = -EFAULT;
	if (copy_to_user(argp, &ub->info, sizeof(info)))
		goto out_free_queues;

	/* from here on the char device's release frees everything */
	ret = ubk_add_char_dev(ub);
	goto out_unlock;

out_free_queues:
	ubk_free_queues(ub);
out_free_tags:
	blk_mq_free_tag_set(&ub->tag_set);
out_free_id:
	spin_lock(&ubk_idr_lock);
	idr_remove(&ubk_idr, ub->id);
	spin_unlock(&ubk_idr_lock);
out_free:
	ubk_shmem_free(ub);
	mutex_destroy(&ub->mutex);
	kfree(ub);
out_unlock:
	mutex_unlock(&ubk_ctl_mutex);
	return ret;
}

static void ubk_remove(struct ubk_device *ub)
{
	bool unpriv = ub->info.flags & UBLK_F_UNPRIVILEGED_DEV;

	ubk_stop_dev(ub);
	ubk_shmem_remove(ub);
	cdev_device_del(&ub->cdev, &ub->cdev_dev);
	ubk_put_device(ub);
	if (unpriv)
		ubk_unpriv_count--;
}

static bool ubk_id_freed(int id)
{
	void *p;

	spin_lock(&ubk_idr_lock);
	p = idr_find(&ubk_idr, id);
	spin_unlock(&ubk_idr_lock);
	return !p;
}

/* Consumes the caller's reference on @ub. */
static int ubk_ctrl_del_dev(struct ubk_device *ub, bool wait)
{
	int id = ub->id;
	int ret;

	ret = mutex_lock_killable(&ubk_ctl_mutex);
	if (ret) {
		ubk_put_device(ub);
		return ret;
	}
	if (!test_and_set_bit(UBK_DEV_DELETED, &ub->state))
		ubk_remove(ub);
	ubk_put_device(ub);
	mutex_unlock(&ubk_ctl_mutex);

	/* the id is reusable once DEL_DEV returns */
	if (wait && wait_event_interruptible(ubk_idr_wq, ubk_id_freed(id)))
		return -EINTR;
	return 0;
}

static bool ubk_dev_ready(const struct ubk_device *ub)
{
	return ub->nr_queues_ready == ub->info.nr_hw_queues;
}

static bool ubk_ready_or_stopping(const struct ubk_device *ub)
{
	return ubk_dev_ready(ub) || test_bit(UBK_DEV_STOPPING, &ub->state);
}

/* Wait for every queue to be fetched/prepared; returns with the mutex. */
static int ubk_wait_ready_lock(struct ubk_device *ub)
{
	for (;;) {
		if (wait_var_event_interruptible(&ub->nr_queues_ready,
						 ubk_ready_or_stopping(ub)))
			return -EINTR;
		mutex_lock(&ub->mutex);
		if (ubk_ready_or_stopping(ub))
			return 0;
		mutex_unlock(&ub->mutex);
	}
}

/* data[0] is the server's tgid as the caller sees it. */
static bool ubk_srv_matches(struct ubk_device *ub, s64 vpid)
{
	pid_t nr;

	if (vpid <= 0 || vpid > INT_MAX)
		return false;
	rcu_read_lock();
	nr = pid_nr(find_vpid((pid_t)vpid));
	rcu_read_unlock();
	return nr && nr == ub->srv_tgid;
}

static int ubk_ctrl_start_dev(struct ubk_device *ub,
			      const struct ublksrv_ctrl_cmd *hdr)
{
	int ret;

	if ((s64)hdr->data[0] <= 0)
		return -EINVAL;
	if (!(ub->params.types & UBLK_PARAM_TYPE_BASIC))
		return -EINVAL;

	if (ubk_wait_ready_lock(ub))
		return -EINTR;

	if (!ubk_srv_matches(ub, hdr->data[0]))
		ret = -EINVAL;
	else if (ub->info.state == UBLK_S_DEV_LIVE ||
		 test_bit(UBK_DEV_USED, &ub->state))
		ret = -EEXIST;
	else if (test_bit(UBK_DEV_STOPPING, &ub->state))
		ret = -EBUSY;
	else
		ret = ubk_start_disk(ub);
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ubk_ctrl_get_affinity(struct ubk_device *ub,
				 const struct ublksrv_ctrl_cmd *hdr)
{
	void __user *argp = u64_to_user_ptr(hdr->addr);
	cpumask_var_t mask;
	unsigned int cpu, len;
	int ret = -EFAULT;

	if (hdr->len * BITS_PER_BYTE < nr_cpu_ids || !hdr->addr ||
	    hdr->len & (sizeof(unsigned long) - 1))
		return -EINVAL;
	if (hdr->data[0] >= ub->info.nr_hw_queues)
		return -EINVAL;
	if (!zalloc_cpumask_var(&mask, GFP_KERNEL))
		return -ENOMEM;

	for_each_possible_cpu(cpu)
		if (ub->tag_set.map[HCTX_TYPE_DEFAULT].mq_map[cpu] ==
		    hdr->data[0])
			cpumask_set_cpu(cpu, mask);

	len = min_t(unsigned int, hdr->len, cpumask_size());
	if (copy_to_user(argp, mask, len))
		goto out;
	if (len < hdr->len && clear_user(argp + len, hdr->len - len))
		goto out;
	ret = 0;
out:
	free_cpumask_var(mask);
	return ret;
}

static int ubk_ctrl_get_dev_info(struct ubk_device *ub,
				 const struct ublksrv_ctrl_cmd *hdr)
{
	struct ublksrv_ctrl_dev_info info;
	struct task_struct *p;

	if (hdr->len < sizeof(info) || !hdr->addr)
		return -EINVAL;

	info = ub->info;
	info.ublksrv_pid = -1;
	/* report the server's pid as the caller's namespace sees it */
	if (ub->info.ublksrv_pid > 0) {
		rcu_read_lock();
		p = pid_task(find_pid_ns(ub->info.ublksrv_pid, &init_pid_ns),
			     PIDTYPE_TGID);
		if (p && task_tgid_vnr(p))
			info.ublksrv_pid = task_tgid_vnr(p);
		rcu_read_unlock();
	}
	if (copy_to_user(u64_to_user_ptr(hdr->addr), &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

struct ubk_params_hdr {
	__u32 len;
	__u32 types;
};

static int ubk_validate_params(const struct ubk_device *ub)
{
	const struct ublk_params *p = &ub->params;

	if (!(p->types & UBLK_PARAM_TYPE_BASIC))
		return -EINVAL;
	if (p->basic.logical_bs_shift < 9 ||
	    p->basic.logical_bs_shift > PAGE_SHIFT ||
	    p->basic.logical_bs_shift > p->basic.physical_bs_shift ||
	    p->basic.physical_bs_shift > ilog2(SZ_256M) ||
	    p->basic.io_min_shift > ilog2(SZ_256M) ||
	    p->basic.io_opt_shift > ilog2(SZ_256M))
		return -EINVAL;
	if (p->basic.max_sectors > (ub->info.max_io_buf_bytes >> 9) ||
	    p->basic.max_sectors < PAGE_SECTORS)
		return -EINVAL;

	if (p->types & UBLK_PARAM_TYPE_DISCARD) {
		if (p->discard.max_discard_sectors &&
		    p->discard.max_discard_segments != 1)
			return -EINVAL;
		if (!p->discard.discard_granularity)
			return -EINVAL;
	}
	if (p->types & UBLK_PARAM_TYPE_DEVT)
		return -EINVAL;
	if (ub->info.flags & UBLK_F_ZONED) {
		int ret = ubk_zoned_validate(ub);

		if (ret)
			return ret;
	} else if (p->types & UBLK_PARAM_TYPE_ZONED) {
		return -EINVAL;
	}
	if (p->types & UBLK_PARAM_TYPE_DMA_ALIGN) {
		if (p->dma.alignment >= PAGE_SIZE ||
		    !is_power_of_2(p->dma.alignment + 1))
			return -EINVAL;
	}
	if (p->types & UBLK_PARAM_TYPE_SEGMENT) {
		if (!is_power_of_2(p->seg.seg_boundary_mask + 1) ||
		    p->seg.seg_boundary_mask + 1 < UBLK_MIN_SEGMENT_SIZE ||
		    p->seg.max_segment_size < UBLK_MIN_SEGMENT_SIZE)
			return -EINVAL;
	}
	return ubk_integrity_validate(ub);
}

static int ubk_read_params_hdr(const struct ublksrv_ctrl_cmd *hdr,
			       struct ubk_params_hdr *ph)
{
	if (hdr->len <= sizeof(*ph) || !hdr->addr)
		return -EINVAL;
	if (copy_from_user(ph, u64_to_user_ptr(hdr->addr), sizeof(*ph)))
		return -EFAULT;
	if (!ph->len || ph->len > hdr->len)
		return -EINVAL;
	ph->len = min_t(u32, ph->len, sizeof(struct ublk_params));
	return 0;
}

static int ubk_ctrl_get_params(struct ubk_device *ub,
			       const struct ublksrv_ctrl_cmd *hdr)
{
	struct ubk_params_hdr ph;
	int ret;

	ret = ubk_read_params_hdr(hdr, &ph);
	if (ret)
		return ret;

	mutex_lock(&ub->mutex);
	ub->params.devt.char_major = MAJOR(ub->cdev_dev.devt);
	ub->params.devt.char_minor = MINOR(ub->cdev_dev.devt);
	ub->params.devt.disk_major = ub->disk ? MAJOR(disk_devt(ub->disk)) : 0;
	ub->params.devt.disk_minor = ub->disk ? MINOR(disk_devt(ub->disk)) : 0;
	ub->params.types |= UBLK_PARAM_TYPE_DEVT;
	ret = copy_to_user(u64_to_user_ptr(hdr->addr), &ub->params, ph.len) ?
		-EFAULT : 0;
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ubk_ctrl_set_params(struct ubk_device *ub,
			       const struct ublksrv_ctrl_cmd *hdr)
{
	struct ubk_params_hdr ph;
	int ret;

	ret = ubk_read_params_hdr(hdr, &ph);
	if (ret)
		return ret;
	if (!ph.types)
		return -EINVAL;

	mutex_lock(&ub->mutex);
	if (test_bit(UBK_DEV_USED, &ub->state)) {
		ret = -EACCES;
	} else {
		memset(&ub->params, 0, sizeof(ub->params));
		if (copy_from_user(&ub->params, u64_to_user_ptr(hdr->addr),
				   ph.len))
			ret = -EFAULT;
		else
			ret = ubk_validate_params(ub);
		if (ret)
			memset(&ub->params, 0, sizeof(ub->params));
	}
	mutex_unlock(&ub->mutex);
	return ret;
}

static bool ubk_recoverable(const struct ubk_device *ub)
{
	return ub->info.state == UBLK_S_DEV_QUIESCED ||
	       ub->info.state == UBLK_S_DEV_FAIL_IO;
}

static int ubk_ctrl_start_recovery(struct ubk_device *ub)
{
	int ret = -EINVAL;

	mutex_lock(&ub->mutex);
	if (!(ub->info.flags & UBLK_F_USER_RECOVERY))
		goto out;
	/* the old server must be fully gone (char device released) */
	ret = -EBUSY;
	if (test_bit(UBK_DEV_OPEN, &ub->state) || !ubk_recoverable(ub))
		goto out;
	ret = 0;
out:
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ubk_ctrl_end_recovery(struct ubk_device *ub,
				 const struct ublksrv_ctrl_cmd *hdr)
{
	int ret;

	if (ubk_wait_ready_lock(ub))
		return -EINTR;

	if (!ubk_srv_matches(ub, hdr->data[0]) ||
	    !(ub->info.flags & UBLK_F_USER_RECOVERY))
		ret = -EINVAL;
	else if (!ubk_recoverable(ub) || !ub->disk)
		ret = -EBUSY;
	else {
		ub->info.ublksrv_pid = ub->srv_tgid;
		ub->info.state = UBLK_S_DEV_LIVE;
		blk_mq_kick_requeue_list(ub->disk->queue);
		ret = 0;
	}
	mutex_unlock(&ub->mutex);
	return ret;
}

static int ubk_ctrl_get_features(const struct ublksrv_ctrl_cmd *hdr)
{
	u64 features = UBK_FEATURES;

	if (hdr->len != UBLK_FEATURES_LEN || !hdr->addr)
		return -EINVAL;
	if (copy_to_user(u64_to_user_ptr(hdr->addr), &features,
			 UBLK_FEATURES_LEN))
		return -EFAULT;
	return 0;
}

static int ubk_ctrl_update_size(struct ubk_device *ub,
				const struct ublksrv_ctrl_cmd *hdr)
{
	int ret = -ENODEV;

	/* a zoned device's zones are fixed at START_DEV */
	if (ub->info.flags & UBLK_F_ZONED)
		return -EINVAL;
	mutex_lock(&ub->mutex);
	if (ub->disk) {
		ub->params.basic.dev_sectors = hdr->data[0];
		set_capacity_and_notify(ub->disk, hdr->data[0]);
		ret = 0;
	}
	mutex_unlock(&ub->mutex);
	return ret;
}

static bool ubk_queue_has_armed(struct ubk_queue *q)
{
	bool found = false;
	unsigned int i;

	spin_lock(&q->lock);
	for (i = 0; i < q->depth && !found; i++)
		found = q->ios[i].state == UBK_IO_ARMED;
	spin_unlock(&q->lock);
	return found;
}

static int ubk_ctrl_quiesce_dev(struct ubk_device *ub,
				const struct ublksrv_ctrl_cmd *hdr)
{
	u64 timeout_ms = hdr->data[0] ?: UINT_MAX;
	unsigned long deadline;
	struct gendisk *disk;
	unsigned int i;
	int ret = -ENODEV;

	if (!(ub->info.flags & UBLK_F_QUIESCE))
		return -EOPNOTSUPP;

	mutex_lock(&ub->mutex);
	disk = ubk_get_disk(ub);
	if (!disk)
		goto unlock;
	ret = 0;
	if (ub->info.state != UBLK_S_DEV_LIVE)
		goto put;

	blk_mq_quiesce_queue(disk->queue);
	ubk_set_canceling(ub, true);
	blk_mq_unquiesce_queue(disk->queue);

	/* each queue needs an armed command to tell its server to go */
	deadline = jiffies + msecs_to_jiffies(min_t(u64, timeout_ms, UINT_MAX));
	for (i = 0; i < ub->info.nr_hw_queues && !ubk_is_batch(ub); ) {
		if (ubk_queue_has_armed(ub->queues[i])) {
			i++;
			continue;
		}
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (time_after(jiffies, deadline)) {
			ret = -EBUSY;
			break;
		}
		msleep(UBK_REQUEUE_DELAY_MS);
	}
put:
	put_device(disk_to_dev(disk));
unlock:
	mutex_unlock(&ub->mutex);
	if (!ret)
		ubk_cancel_dev_cmds(ub);
	return ret;
}

static int ubk_ctrl_try_stop_dev(struct ubk_device *ub)
{
	struct gendisk *disk = ubk_get_disk(ub);
	int ret = 0;

	if (!disk)
		return -ENODEV;
	mutex_lock(&disk->open_mutex);
	/* nobody may open the disk between this check and the stop */
	if (disk_openers(disk) > 0)
		ret = -EBUSY;
	else
		ub->block_open = true;
	mutex_unlock(&disk->open_mutex);
	if (!ret)
		ubk_stop_dev(ub);
	put_device(disk_to_dev(disk));
	return ret;
}

/* Unprivileged devices: the caller proves access through /dev/ublkcN. */
static int ubk_check_char_path(struct ubk_device *ub, const char *path_name,
			       int mask)
{
	struct kstat stat;
	struct path path;
	int ret;

	ret = kern_path(path_name, LOOKUP_FOLLOW, &path);
	if (ret)
		return ret;
	ret = vfs_getattr(&path, &stat, STATX_TYPE, AT_STATX_SYNC_AS_STAT);
	if (ret)
		goto out;
	ret = -EPERM;
	if (!S_ISCHR(stat.mode) || stat.rdev != ub->cdev_dev.devt)
		goto out;
	ret = inode_permission(&nop_mnt_idmap, d_backing_inode(path.dentry),
			       mask);
out:
	path_put(&path);
	return ret;
}

static int ubk_ctrl_permission(struct ubk_device *ub, u32 nr,
			       struct ublksrv_ctrl_cmd *hdr)
{
	char *path_name;
	int mask, ret;

	if (!(ub->info.flags & UBLK_F_UNPRIVILEGED_DEV)) {
		if (!capable(CAP_SYS_ADMIN))
			return -EPERM;
		/* GET_DEV_INFO2 always carries the path: strip it below */
		if (nr != UBLK_CMD_GET_DEV_INFO2)
			return 0;
	}

	if (!hdr->dev_path_len || hdr->dev_path_len > PATH_MAX ||
	    hdr->len < hdr->dev_path_len)
		return -EINVAL;

	switch (nr) {
	case UBLK_CMD_GET_DEV_INFO:
	case UBLK_CMD_GET_DEV_INFO2:
	case UBLK_CMD_GET_QUEUE_AFFINITY:
	case UBLK_CMD_GET_PARAMS:
	case UBLK_CMD_GET_FEATURES:
		mask = MAY_READ;
		break;
	case UBLK_CMD_START_DEV:
	case UBLK_CMD_STOP_DEV:
	case UBLK_CMD_ADD_DEV:
	case UBLK_CMD_DEL_DEV:
	case UBLK_CMD_DEL_DEV_ASYNC:
	case UBLK_CMD_SET_PARAMS:
	case UBLK_CMD_START_USER_RECOVERY:
	case UBLK_CMD_END_USER_RECOVERY:
	case UBLK_CMD_UPDATE_SIZE:
	case UBLK_CMD_QUIESCE_DEV:
	case UBLK_CMD_TRY_STOP_DEV:
	case UBLK_CMD_REG_BUF:
	case UBLK_CMD_UNREG_BUF:
		mask = MAY_READ | MAY_WRITE;
		break;
	default:
		return -EINVAL;
	}

	path_name = memdup_user_nul(u64_to_user_ptr(hdr->addr),
				    hdr->dev_path_len);
	if (IS_ERR(path_name))
		return PTR_ERR(path_name);
	ret = ubk_check_char_path(ub, path_name, mask);
	kfree(path_name);
	if (!ret) {
		hdr->len -= hdr->dev_path_len;
		hdr->addr += hdr->dev_path_len;
	}
	return ret;
}

static bool ubk_ctrl_may_sleep(u32 nr)
{
	switch (nr) {
	case UBLK_CMD_GET_QUEUE_AFFINITY:
	case UBLK_CMD_GET_DEV_INFO:
	case UBLK_CMD_GET_DEV_INFO2:
	case UBLK_CMD_GET_FEATURES:
		return false;
	default:
		return true;
	}
}

static int ubk_ctrl_uring_cmd(struct io_uring_cmd *cmd,
			      unsigned int issue_flags)
{
	const struct ublksrv_ctrl_cmd *src =
		io_uring_sqe128_cmd(cmd->sqe, struct ublksrv_ctrl_cmd);
	struct ublksrv_ctrl_cmd hdr;
	struct ubk_device *ub = NULL;
	u32 nr = _IOC_NR(cmd->cmd_op);
	int ret;

	if (issue_flags & IO_URING_F_CANCEL)
		return 0;
	ret = ubk_check_cmd_op(cmd->cmd_op);
	if (ret)
		return ret;
	if (ubk_ctrl_may_sleep(nr) && (issue_flags & IO_URING_F_NONBLOCK))
		return -EAGAIN;
	if (!(issue_flags & IO_URING_F_SQE128))
		return -EINVAL;

	hdr.dev_id = READ_ONCE(src->dev_id);
	hdr.queue_id = READ_ONCE(src->queue_id);
	hdr.len = READ_ONCE(src->len);
	hdr.addr = READ_ONCE(src->addr);
	hdr.data[0] = READ_ONCE(src->data[0]);
	hdr.dev_path_len = READ_ONCE(src->dev_path_len);

	if (nr == UBLK_CMD_GET_FEATURES)
		return ubk_ctrl_get_features(&hdr);
	if (nr == UBLK_CMD_ADD_DEV)
		return ubk_ctrl_add_dev(&hdr);

	ub = ubk_find_device(hdr.dev_id);
	if (!ub)
		return -ENODEV;
	ret = ubk_ctrl_permission(ub, nr, &hdr);
	if (ret)
		goto out;

	switch (nr) {
	case UBLK_CMD_START_DEV:
		ret = ubk_ctrl_start_dev(ub, &hdr);
		break;
	case UBLK_CMD_STOP_DEV:
		ubk_stop_dev(ub);
		ret = 0;
		break;
	case UBLK_CMD_GET_DEV_INFO:
	case UBLK_CMD_GET_DEV_INFO2:
		ret = ubk_ctrl_get_dev_info(ub, &hdr);
		break;
	case UBLK_CMD_DEL_DEV:
	case UBLK_CMD_DEL_DEV_ASYNC:
		ret = ubk_ctrl_del_dev(ub, nr == UBLK_CMD_DEL_DEV);
		ub = NULL;	/* reference consumed */
		break;
	case UBLK_CMD_GET_QUEUE_AFFINITY:
		ret = ubk_ctrl_get_affinity(ub, &hdr);
		break;
	case UBLK_CMD_GET_PARAMS:
		ret = ubk_ctrl_get_params(ub, &hdr);
		break;
	case UBLK_CMD_SET_PARAMS:
		ret = ubk_ctrl_set_params(ub, &hdr);
		break;
	case UBLK_CMD_START_USER_RECOVERY:
		ret = ubk_ctrl_start_recovery(ub);
		break;
	case UBLK_CMD_END_USER_RECOVERY:
		ret = ubk_ctrl_end_recovery(ub, &hdr);
		break;
	case UBLK_CMD_UPDATE_SIZE:
		ret = ubk_ctrl_update_size(ub, &hdr);
		break;
	case UBLK_CMD_QUIESCE_DEV:
		ret = ubk_ctrl_quiesce_dev(ub, &hdr);
		break;
	case UBLK_CMD_TRY_STOP_DEV:
		ret = ubk_ctrl_try_stop_dev(ub);
		break;
	case UBLK_CMD_REG_BUF:
		ret = ubk_ctrl_reg_buf(ub, &hdr);
		break;
	case UBLK_CMD_UNREG_BUF:
		ret = ubk_ctrl_unreg_buf(ub, &hdr);
		break;
	default:
		ret = -EOPNOTSUPP;
		break;
	}
out:
	if (ub)
		ubk_put_device(ub);
	return ret;
}

static const struct file_operations ubk_ctl_fops = {
	.owner		= THIS_MODULE,
	.open		= nonseekable_open,
	.uring_cmd	= ubk_ctrl_uring_cmd,
	.llseek		= noop_llseek,
};

static struct miscdevice ubk_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ublk-control",
	.fops	= &ubk_ctl_fops,
};

static int __init ubk_init(void)
{
	int ret;

	BUILD_BUG_ON(sizeof(struct ublk_auto_buf_reg) != 8);
	BUILD_BUG_ON(sizeof(struct ublksrv_io_desc) != 24);

	ret = misc_register(&ubk_misc);
	if (ret)
		return ret;
	ret = alloc_chrdev_region(&ubk_char_devt, 0, UBK_MAX_DEVS, "ublk-char");
	if (ret)
		goto err_misc;
	ret = class_register(&ubk_char_class);
	if (ret)
		goto err_region;
	return 0;

err_region:
	unregister_chrdev_region(ubk_char_devt, UBK_MAX_DEVS);
err_misc:
	misc_deregister(&ubk_misc);
	return ret;
}

static void __exit ubk_exit(void)
{
	struct ubk_device *ub;
	int id;

	idr_for_each_entry(&ubk_idr, ub, id)
		if (!test_and_set_bit(UBK_DEV_DELETED, &ub->state))
			ubk_remove(ub);
	class_unregister(&ubk_char_class);
	misc_deregister(&ubk_misc);
	idr_destroy(&ubk_idr);
	unregister_chrdev_region(ubk_char_devt, UBK_MAX_DEVS);
}

module_init(ubk_init);
module_exit(ubk_exit);

MODULE_DESCRIPTION("ublkctl userspace block device driver (ublk UAPI)");
MODULE_LICENSE("GPL");
