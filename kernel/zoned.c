// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: zoned devices (UBLK_F_ZONED) - parameter checks, queue
 * limits, zone reports through the server, zone operations and the LBA a
 * zone append's commit returns.
 *
 * Design note. The zone size is the chunk size (a power of 2) and the
 * device is a whole number of zones. A zone report is a driver-private
 * request (REQ_OP_DRV_IN) whose PDU names the first sector and the zone
 * count; the server fills the request's pages with struct blk_zone records
 * (user copy or zero copy: zoned devices have no copy-mode buffer, since
 * the commit's addr carries the append LBA). Every record is checked
 * against the zone it must describe before the block layer sees it, and a
 * commit's append LBA must lie in the zone the append was aimed at: a
 * server's answer is never trusted.
 */
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/blkzoned.h>
#include <linux/mm.h>

#include "ubk.h"

static unsigned int ubk_zone_shift(const struct ubk_device *ub)
{
	return ilog2(ub->params.basic.chunk_sectors);
}

static u64 ubk_nr_zones(const struct ubk_device *ub)
{
	return ub->params.basic.dev_sectors >> ubk_zone_shift(ub);
}

/* SET_PARAMS of a device added with UBLK_F_ZONED. */
int ubk_zoned_validate(const struct ubk_device *ub)
{
	const struct ublk_params *p = &ub->params;
	u32 zs = p->basic.chunk_sectors;
	u64 nr;

	if (!(p->types & UBLK_PARAM_TYPE_ZONED))
		return -EINVAL;
	if (!zs || !is_power_of_2(zs) ||
	    zs < (1U << (p->basic.logical_bs_shift - SECTOR_SHIFT)))
		return -EINVAL;
	/* whole zones only: the block layer checks the report covers it all */
	if (!p->basic.dev_sectors || p->basic.dev_sectors & (zs - 1))
		return -EINVAL;
	nr = p->basic.dev_sectors >> ilog2(zs);
	if (nr > UINT_MAX)
		return -EINVAL;
	if (!p->zoned.max_zone_append_sectors)
		return -EINVAL;
	if (p->zoned.max_open_zones > nr || p->zoned.max_active_zones > nr)
		return -EINVAL;
	if (p->zoned.max_active_zones &&
	    p->zoned.max_open_zones > p->zoned.max_active_zones)
		return -EINVAL;
	return 0;
}

void ubk_zoned_limits(const struct ubk_device *ub, struct queue_limits *lim)
{
	const struct ublk_param_zoned *p = &ub->params.zoned;

	lim->features |= BLK_FEAT_ZONED;
	lim->max_open_zones = p->max_open_zones;
	lim->max_active_zones = p->max_active_zones;
	lim->max_hw_zone_append_sectors = p->max_zone_append_sectors;
}

/* The UBLK_IO_OP_* of a zoned device's request, or -1. */
int ubk_zoned_rq_op(const struct request *rq)
{
	const struct ubk_queue *q = rq->mq_hctx->driver_data;

	if (!(q->flags & UBLK_F_ZONED))
		return -1;
	switch (req_op(rq)) {
	case REQ_OP_ZONE_OPEN:
		return UBLK_IO_OP_ZONE_OPEN;
	case REQ_OP_ZONE_CLOSE:
		return UBLK_IO_OP_ZONE_CLOSE;
	case REQ_OP_ZONE_FINISH:
		return UBLK_IO_OP_ZONE_FINISH;
	case REQ_OP_ZONE_RESET:
		return UBLK_IO_OP_ZONE_RESET;
	case REQ_OP_ZONE_RESET_ALL:
		return UBLK_IO_OP_ZONE_RESET_ALL;
	case REQ_OP_ZONE_APPEND:
		return UBLK_IO_OP_ZONE_APPEND;
	case REQ_OP_DRV_IN:
		/* only the reports ubk_report_zones() makes */
		if (((struct ubk_rq_pdu *)blk_mq_rq_to_pdu((struct request *)rq))
			    ->report_zones)
			return UBLK_IO_OP_REPORT_ZONES;
		return -1;
	default:
		return -1;
	}
}

/* A report's descriptor: first sector and zone count, not the bytes. */
void ubk_zoned_setup_desc(struct request *rq, struct ublksrv_io_desc *desc)
{
	const struct ubk_rq_pdu *pdu = blk_mq_rq_to_pdu(rq);

	desc->nr_zones = pdu->report_zones;
	desc->start_sector = pdu->report_sector;
}

/* A zone append's commit: may @rq's data have been written at @lba? */
static bool ubk_zoned_append_lba_ok(const struct ubk_queue *q,
				    const struct request *rq, u64 lba)
{
	const struct ubk_device *ub = q->dev;
	u64 zs = ub->params.basic.chunk_sectors;
	u64 start = blk_rq_pos(rq) & ~(zs - 1);
	u64 lbs = 1U << (ub->params.basic.logical_bs_shift - SECTOR_SHIFT);

	return lba >= start && lba <= start + zs - blk_rq_sectors(rq) &&
	       !(lba & (lbs - 1));
}

/* ubk_zoned_commit_append() for a zone append that moved data */
int __ubk_zoned_commit_append(const struct ubk_queue *q, struct request *rq,
			      u64 lba, int result)
{
	if (!ubk_zoned_append_lba_ok(q, rq, lba))
		return -EIO;
	rq->__sector = lba;
	return result;
}

#ifdef CONFIG_BLK_DEV_ZONED

/*
 * Server record @in for the zone at @start, checked and copied into @out
 * (known fields only). 0 or -EIO.
 */
static int ubk_check_zone(const struct ubk_device *ub,
			  const struct blk_zone *in, u64 start,
			  struct blk_zone *out)
{
	u64 zs = ub->params.basic.chunk_sectors;
	u64 cap = in->capacity ? in->capacity : zs;
	u64 wp = in->wp;

	if (in->start != start || in->len != zs || cap > zs)
		return -EIO;
	switch (in->type) {
	case BLK_ZONE_TYPE_CONVENTIONAL:
		if (in->cond != BLK_ZONE_COND_NOT_WP)
			return -EIO;
		wp = start + zs;
		break;
	case BLK_ZONE_TYPE_SEQWRITE_REQ:
	case BLK_ZONE_TYPE_SEQWRITE_PREF:
		switch (in->cond) {
		case BLK_ZONE_COND_IMP_OPEN:
		case BLK_ZONE_COND_EXP_OPEN:
		case BLK_ZONE_COND_CLOSED:
			if (wp < start || wp > start + cap)
				return -EIO;
			break;
		case BLK_ZONE_COND_EMPTY:
			wp = start;
			break;
		case BLK_ZONE_COND_FULL:
		case BLK_ZONE_COND_READONLY:
		case BLK_ZONE_COND_OFFLINE:
			wp = start + zs;
			break;
		default:
			return -EIO;
		}
		break;
	default:
		return -EIO;
	}
	memset(out, 0, sizeof(*out));
	out->start = start;
	out->len = zs;
	out->capacity = cap;
	out->wp = wp;
	out->type = in->type;
	out->cond = in->cond;
	out->non_seq = !!in->non_seq;
	out->reset = !!in->reset;
	return 0;
}

/* One report request: @nr zones from @sector into @buf. 0 or -errno. */
static int ubk_report_rq(struct gendisk *disk, struct blk_zone *buf,
			 sector_t sector, unsigned int nr)
{
	struct ubk_rq_pdu *pdu;
	struct request *rq;
	int ret;

	memset(buf, 0, nr * sizeof(*buf));
	rq = blk_mq_alloc_request(disk->queue, REQ_OP_DRV_IN, 0);
	if (IS_ERR(rq))
		return PTR_ERR(rq);
	pdu = blk_mq_rq_to_pdu(rq);
	pdu->report_sector = sector;
	pdu->report_zones = nr;
	ret = blk_rq_map_kern(rq, buf, nr * sizeof(*buf), GFP_KERNEL);
	if (!ret)
		ret = blk_status_to_errno(blk_execute_rq(rq, false));
	pdu->report_zones = 0;
	blk_mq_free_request(rq);
	return ret;
}

/* block_device_operations.report_zones */
int ubk_report_zones(struct gendisk *disk, sector_t sector,
		     unsigned int nr_zones, struct blk_report_zones_args *args)
{
	struct ubk_device *ub = disk->private_data;
	unsigned int shift = ubk_zone_shift(ub);
	u64 first = sector >> shift, total = ubk_nr_zones(ub);
	unsigned int done = 0, per_rq, i, n;
	struct blk_zone *buf = NULL;
	struct blk_zone zone;
	size_t len;
	int ret = 0;

	if (first >= total)
		return 0;
	nr_zones = min_t(u64, nr_zones, total - first);
	len = min_t(size_t, (size_t)nr_zones * sizeof(*buf),
		    queue_max_hw_sectors(disk->queue) << SECTOR_SHIFT);
	for (; len >= sizeof(*buf); len /= 2) {
		buf = kvmalloc(len, GFP_KERNEL | __GFP_NORETRY);
		if (buf)
			break;
	}
	if (!buf)
		return -ENOMEM;
	per_rq = len / sizeof(*buf);
	sector = first << shift;

	while (done < nr_zones) {
		n = min(nr_zones - done, per_rq);
		ret = ubk_report_rq(disk, buf, sector, n);
		if (ret)
			break;
		for (i = 0; i < n && buf[i].len; i++) {
			ret = ubk_check_zone(ub, &buf[i], sector, &zone);
			if (ret)
				goto out;
			ret = disk_report_zone(disk, &zone, done, args);
			if (ret)
				goto out;
			done++;
			sector += 1ULL << shift;
		}
		/* the server has no more: never ask again for the same */
		if (i < n)
			break;
	}
out:
	kvfree(buf);
	return ret ? ret : done;
}

int ubk_zoned_revalidate(struct ubk_device *ub)
{
	return blk_revalidate_disk_zones(ub->disk);
}

#else

int ubk_zoned_revalidate(struct ubk_device *ub)
{
	return -EOPNOTSUPP;
}

#endif
