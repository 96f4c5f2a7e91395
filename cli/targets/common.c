// SPDX-License-Identifier: GPL-2.0
/*
 * What the targets share: their private state (one zeroed allocation,
 * made by whichever hook needs it first, freed by deinit), the geometry
 * of a target with no backing store (null, fault), backing files and
 * block devices (loop, stripe), and how a number option is saved.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ublkctl/compat.h"
#include "ublkctl/devcfg.h"
#include "ublkctl/target.h"

#define NOSTORE_DEF_SIZE (1ULL << 30)

void *ublk_tgt_priv(struct ublk_tgt *tgt, size_t size)
{
	if (!tgt->priv)
		tgt->priv = calloc(1, size);
	if (!tgt->priv)
		ublk_errno(ENOMEM, "%s", tgt->ops->name);
	return tgt->priv;
}

void ublk_tgt_free_priv(struct ublk_tgt *tgt)
{
	free(tgt->priv);
	tgt->priv = NULL;
}

int ublk_tgt_init_nostore(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	tgt->size = cfg->size ? cfg->size : NOSTORE_DEF_SIZE;
	tgt->lbs = cfg->lbs ? cfg->lbs : 512;
	tgt->pbs = cfg->pbs ? cfg->pbs : 4096;
	if (tgt->pbs < tgt->lbs)
		tgt->pbs = tgt->lbs;
	tgt->min_lbs = 512;
	tgt->dma_align = 512;
	tgt->no_data = true;
	return EXIT_OK;
}

/*
 * Whether the regular file fd can have holes punched (its file system
 * can, and fd is open for writing): asked past the end of the file, where
 * a punch changes nothing.
 */
static bool can_punch(int fd, const struct stat *st)
{
	off_t past = (st->st_size + 65535) / 65536 * 65536 + 65536;

	return !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, past,
			  4096);
}

/*
 * Tags per hardware queue of block device rdev (its queue's nr_requests;
 * a partition's is its disk's), or 0 if sysfs does not say.
 */
static uint32_t blkdev_depth(dev_t rdev)
{
	static const char *const paths[] = { "queue/nr_requests",
					     "../queue/nr_requests" };
	unsigned int i, v;
	char path[96];
	FILE *f;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/%s",
			 major(rdev), minor(rdev), paths[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%u", &v) != 1)
			v = 0;
		fclose(f);
		return v;
	}
	return 0;
}

/*
 * Whether block device fd (open for writing) discards through io_uring:
 * asked with an empty range, which a kernel that has the command refuses
 * with EINVAL only after seeing that the device discards; EOPNOTSUPP
 * means the kernel lacks the command or the device lacks discard.
 */
static bool blkdev_can_discard(int fd)
{
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	bool ok = false;

	if (io_uring_queue_init(1, &ring, 0))
		return false;
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
	sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
	if (io_uring_submit_and_wait(&ring, 1) == 1 &&
	    !io_uring_peek_cqe(&ring, &cqe))
		ok = cqe->res == -EINVAL;
	io_uring_queue_exit(&ring);
	return ok;
}

/*
 * Size, block sizes, depth and (read_only false) discard of the block
 * device b->fd. 0 or -errno.
 */
static int probe_blockdev(struct ublk_backing *b, const struct stat *st,
			  bool read_only)
{
	int s;

	if (ioctl(b->fd, BLKGETSIZE64, &b->size) || ioctl(b->fd, BLKSSZGET, &s))
		return -errno;
	b->lbs = (uint32_t)s;
	if (!ioctl(b->fd, BLKPBSZGET, &s))
		b->pbs = (uint32_t)s;
	b->mem_align = b->lbs;
	b->depth = blkdev_depth(st->st_rdev);
	b->can_discard = !read_only && blkdev_can_discard(b->fd);
	return 0;
}

/* Size and block sizes (O_DIRECT's, unless buffered) of the file b->fd. */
static void probe_file(struct ublk_backing *b, const struct stat *st,
		       bool buffered)
{
	struct statx stx;

	b->size = (uint64_t)st->st_size;
	if (!buffered &&
	    !statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align) {
		b->lbs = stx.stx_dio_offset_align;
		b->mem_align = stx.stx_dio_mem_align;
	}
	if (st->st_blksize > 0 && (uint32_t)st->st_blksize <= 4096)
		b->pbs = (uint32_t)st->st_blksize;
	b->can_punch = can_punch(b->fd, st);
}

static int open_fail(struct ublk_backing *b)
{
	close(b->fd);
	b->fd = -1;
	return EXIT_FAIL;
}

int ublk_backing_open(const char *path, bool read_only, bool buffered,
		      struct ublk_backing *b)
{
	int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int ret;

	*b = (struct ublk_backing){ .lbs = 512, .pbs = 4096, .mem_align = 512 };
	if (!buffered)
		flags |= O_DIRECT;
	b->fd = open(path, flags);
	if (b->fd < 0) {
		if (errno == EINVAL && !buffered)
			ublk_err(
				"--file: %s: O_DIRECT not supported here (use --buffered)",
				path);
		else if (errno == EISDIR)
			ublk_err("--file: %s: is a directory", path);
		else
			ublk_errno(errno, "--file: %s", path);
		return EXIT_FAIL;
	}
	if (fstat(b->fd, &st)) {
		ublk_errno(errno, "--file: %s", path);
		return open_fail(b);
	}
	if (S_ISBLK(st.st_mode)) {
		ret = probe_blockdev(b, &st, read_only);
		if (ret) {
			ublk_errno(-ret, "--file: %s", path);
			return open_fail(b);
		}
	} else if (S_ISREG(st.st_mode)) {
		b->regular = true;
		probe_file(b, &st, buffered);
	} else {
		ublk_err("--file: %s: not a regular file or block device",
			 path);
		return open_fail(b);
	}
	if (b->lbs < 512 || b->lbs > 4096 || (b->lbs & (b->lbs - 1))) {
		ublk_err("--file: %s: unsupported block size %u", path, b->lbs);
		return open_fail(b);
	}
	return EXIT_OK;
}

int ublk_backing_size(const char *path, uint64_t *size)
{
	struct stat st;
	int fd, ret = 0;

	if (stat(path, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, size))
		ret = -errno;
	close(fd);
	return ret;
}

int ublk_tgt_set_block_sizes(struct ublk_tgt *tgt,
			     const struct ublk_dev_cfg *cfg,
			     const struct ublk_backing *b, const char *file,
			     bool buffered)
{
	uint32_t lbs = b->lbs, pbs = b->pbs;

	if (cfg->lbs && cfg->lbs < lbs && !buffered) {
		ublk_err(
			"--logical-block-size %u: smaller than %s needs for O_DIRECT (%u)",
			cfg->lbs, file, lbs);
		return EXIT_USAGE;
	}
	if (cfg->lbs)
		lbs = cfg->lbs;
	if (pbs < lbs)
		pbs = lbs;
	if (cfg->pbs)
		pbs = cfg->pbs;
	tgt->lbs = lbs;
	tgt->pbs = pbs;
	tgt->min_lbs = buffered ? 512 : lbs;
	tgt->dma_align = b->mem_align < 512 ? 512 : b->mem_align;
	return EXIT_OK;
}

int ublk_emit_u64(ublk_emit_fn emit, void *ctx, const char *name, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return emit(ctx, name, buf);
}
