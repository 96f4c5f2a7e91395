// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: block integrity (UBLK_F_INTEGRITY). The server describes a
 * profile in UBLK_PARAM_TYPE_INTEGRITY; it becomes the disk's integrity
 * limits, and the block layer then attaches metadata (generated PI on
 * writes, a buffer to check on reads) to requests. The server moves that
 * metadata with pread/pwrite on /dev/ublkcN at user-copy offsets carrying
 * UBLKSRV_IO_INTEGRITY_FLAG, which is why the feature needs USER_COPY.
 *
 * Everything in the parameters comes from an untrusted server: it is
 * checked here before the block layer sees it (which would WARN on some
 * invalid combinations).
 */
#include <linux/blk-integrity.h>
#include <linux/bio-integrity.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/t10-pi.h>
#include <linux/uio.h>

#include "ubk.h"

#define UBK_PI_CAPS	(LBMD_PI_CAP_INTEGRITY | LBMD_PI_CAP_REFTAG)

/* Bytes of the PI tuple of a checksum type, or -EINVAL for an unknown one. */
static int ubk_pi_tuple_size(u8 csum_type)
{
	switch (csum_type) {
	case LBMD_PI_CSUM_NONE:
		return 0;
	case LBMD_PI_CSUM_IP:
	case LBMD_PI_CSUM_CRC16_T10DIF:
		return sizeof(struct t10_pi_tuple);
	case LBMD_PI_CSUM_CRC64_NVME:
		return sizeof(struct crc64_pi_tuple);
	}
	return -EINVAL;
}

/* Only called on a validated profile: csum_type is a known one. */
static enum blk_integrity_checksum ubk_blk_csum(u8 csum_type)
{
	switch (csum_type) {
	case LBMD_PI_CSUM_IP:
		return BLK_INTEGRITY_CSUM_IP;
	case LBMD_PI_CSUM_CRC16_T10DIF:
		return BLK_INTEGRITY_CSUM_CRC;
	case LBMD_PI_CSUM_CRC64_NVME:
		return BLK_INTEGRITY_CSUM_CRC64;
	}
	return BLK_INTEGRITY_CSUM_NONE;
}

int ubk_integrity_validate(const struct ubk_device *ub)
{
	const struct ublk_param_integrity *p = &ub->params.integrity;
	int tuple;

	if (!(ub->params.types & UBLK_PARAM_TYPE_INTEGRITY))
		return 0;
	if (!IS_ENABLED(CONFIG_BLK_DEV_INTEGRITY) ||
	    !(ub->info.flags & UBLK_F_INTEGRITY))
		return -EINVAL;
	if (p->flags & ~UBK_PI_CAPS)
		return -EINVAL;
	tuple = ubk_pi_tuple_size(p->csum_type);
	if (tuple < 0)
		return tuple;
	if (!p->metadata_size)
		return -EINVAL;
	/* a reference tag lives in a PI tuple */
	if (!tuple && (p->flags & LBMD_PI_CAP_REFTAG))
		return -EINVAL;
	if (p->pi_offset + tuple > p->metadata_size)
		return -EINVAL;
	/* one interval: a sector up to a logical block */
	if (p->interval_exp < SECTOR_SHIFT ||
	    p->interval_exp > ub->params.basic.logical_bs_shift)
		return -EINVAL;
	return 0;
}

void ubk_integrity_limits(const struct ubk_device *ub,
			  struct queue_limits *lim)
{
	const struct ublk_param_integrity *p = &ub->params.integrity;

	if (!(ub->params.types & UBLK_PARAM_TYPE_INTEGRITY))
		return;
	lim->max_integrity_segments = p->max_integrity_segments ?: USHRT_MAX;
	lim->integrity = (struct blk_integrity) {
		/* our copy walks the metadata by bytes: any split is fine */
		.flags = BLK_SPLIT_INTERVAL_CAPABLE |
			 ((p->flags & LBMD_PI_CAP_INTEGRITY) ?
			  BLK_INTEGRITY_DEVICE_CAPABLE : 0) |
			 ((p->flags & LBMD_PI_CAP_REFTAG) ?
			  BLK_INTEGRITY_REF_TAG : 0),
		.csum_type = ubk_blk_csum(p->csum_type),
		.metadata_size = p->metadata_size,
		.pi_offset = p->pi_offset,
		.interval_exp = p->interval_exp,
		.tag_size = p->tag_size,
		.pi_tuple_size = ubk_pi_tuple_size(p->csum_type),
	};
}

#ifdef CONFIG_BLK_DEV_INTEGRITY
size_t ubk_integrity_bytes(const struct request *rq)
{
	struct blk_integrity *bi = &rq->q->limits.integrity;

	if (!bi->metadata_size)
		return 0;
	return bio_integrity_bytes(bi, blk_rq_sectors(rq));
}

/*
 * Copy the request's metadata from byte offset on, bio by bio, page by
 * page, to or from iter; stops at the end of either. Returns the bytes
 * copied.
 */
size_t ubk_copy_rq_integrity(const struct request *rq, size_t offset,
			     struct iov_iter *iter, int dir)
{
	struct bio *bio;
	size_t done = 0;

	__rq_for_each_bio(bio, rq) {
		struct bio_integrity_payload *bip = bio_integrity(bio);
		struct bvec_iter it;
		struct bio_vec bv;

		if (!bip)
			continue;
		bip_for_each_vec(bv, bip, it)
			if (!ubk_copy_bvec(&bv, &offset, iter, dir, &done))
				return done;
	}
	return done;
}
#else
size_t ubk_integrity_bytes(const struct request *rq)
{
	return 0;
}

size_t ubk_copy_rq_integrity(const struct request *rq, size_t offset,
			     struct iov_iter *iter, int dir)
{
	return 0;
}
#endif
