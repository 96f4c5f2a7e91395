// SPDX-License-Identifier: GPL-2.0
/*
 * loop target: a file or block device. O_DIRECT unless --buffered; the
 * logical block size comes from the backing store; FLUSH is an async
 * fdatasync.
 * On a file, DISCARD punches a hole and WRITE_ZEROES zeroes a range (as
 * the kernel's loop driver: by punching it, or with NOUNMAP by ZERO_RANGE,
 * which falls back to punching where the file system lacks ZERO_RANGE,
 * tmpfs for one); both are offered only where a punch works.
 * On a block device, DISCARD is the device's own discard through io_uring
 * (BLOCK_URING_CMD_DISCARD), offered only where the kernel has that
 * command and the device discards; WRITE_ZEROES is a ZERO_RANGE, which the
 * block layer does with the device's write-zeroes or by writing zeroes,
 * so it is offered on every writable device.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ublkctl/compat.h"
#include "ublkctl/server.h"

enum {
	LOOP_OPT_BUFFERED = 1100,
	LOOP_OPT_OFFSET,
};

enum {
	LOOP_OP_RW = 1,
	LOOP_OP_SYNC,
	LOOP_OP_PUNCH,
	LOOP_OP_ZERO,
	LOOP_OP_DISCARD,
};

#define LOOP_PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define LOOP_ZERO (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

struct loop_priv {
	const char *file;
	bool buffered;
	uint64_t offset;
	bool no_zero_range; /* the file system said so (atomic) */
	bool blkdev; /* the backing store is a block device */
};

static const struct ublk_opt loop_opts[] = {
	{ "file", 'f', required_argument, "PATH",
	  "backing file or block device (required)" },
	{ "buffered", LOOP_OPT_BUFFERED, no_argument, NULL,
	  "use the page cache (default: O_DIRECT)" },
	{ "offset", LOOP_OPT_OFFSET, required_argument, "SIZE",
	  "start of the device in the backing store (default 0)" },
	UBLK_OPT_END,
};

static int loop_parse_opt(struct ublk_tgt *tgt, int key, const char *arg)
{
	struct loop_priv *p = ublk_tgt_priv(tgt, sizeof(*p));

	if (!p)
		return EXIT_FAIL;
	switch (key) {
	case 'f':
		p->file = arg;
		return EXIT_OK;
	case LOOP_OPT_BUFFERED:
		p->buffered = true;
		return EXIT_OK;
	case LOOP_OPT_OFFSET:
		return ublk_parse_size("offset", arg, 0, UINT64_MAX / 2,
				       &p->offset) ?
			       EXIT_USAGE :
			       EXIT_OK;
	}
	return EXIT_USAGE;
}

static int fail(struct ublk_tgt *tgt, int fd, int code)
{
	if (fd >= 0)
		close(fd);
	tgt->nr_fds = 0;
	return code;
}

/*
 * Whether the regular file fd can have holes punched (its file system
 * can, and fd is open for writing): asked past the end of the file, where
 * a punch changes nothing.
 */
static bool can_punch(int fd, const struct stat *st)
{
	off_t past = (st->st_size + 65535) / 65536 * 65536 + 65536;

	return !fallocate(fd, LOOP_PUNCH, past, 4096);
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

static int loop_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct loop_priv *p = tgt->priv;
	uint32_t lbs = 512, pbs = 4096, mem_align = 512;
	uint64_t avail;
	struct stat st;
	int fd, flags;

	if (!p || !p->file)
		return ublk_usage_err("loop needs a backing file (-f PATH)");
	flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (!p->buffered)
		flags |= O_DIRECT;
	fd = open(p->file, flags);
	if (fd < 0 && errno == EINVAL && !p->buffered) {
		ublk_err(
			"--file: %s: O_DIRECT not supported here (use --buffered)",
			p->file);
		return EXIT_FAIL;
	}
	if (fd < 0 && errno == EISDIR) {
		ublk_err("--file: %s: is a directory", p->file);
		return EXIT_FAIL;
	}
	if (fd < 0) {
		ublk_errno(errno, "--file: %s", p->file);
		return EXIT_FAIL;
	}
	if (fstat(fd, &st)) {
		ublk_errno(errno, "--file: %s", p->file);
		return fail(tgt, fd, EXIT_FAIL);
	}
	if (S_ISBLK(st.st_mode)) {
		int s;

		if (ioctl(fd, BLKGETSIZE64, &avail) ||
		    ioctl(fd, BLKSSZGET, &s)) {
			ublk_errno(errno, "--file: %s", p->file);
			return fail(tgt, fd, EXIT_FAIL);
		}
		lbs = (uint32_t)s;
		if (!ioctl(fd, BLKPBSZGET, &s))
			pbs = (uint32_t)s;
		mem_align = lbs;
	} else if (S_ISREG(st.st_mode)) {
		struct statx stx;

		avail = (uint64_t)st.st_size;
		if (!p->buffered &&
		    !statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
		    (stx.stx_mask & STATX_DIOALIGN) &&
		    stx.stx_dio_offset_align) {
			lbs = stx.stx_dio_offset_align;
			mem_align = stx.stx_dio_mem_align;
		}
		if (st.st_blksize > 0 && (uint32_t)st.st_blksize <= 4096)
			pbs = (uint32_t)st.st_blksize;
	} else {
		ublk_err("--file: %s: not a regular file or block device",
			 p->file);
		return fail(tgt, fd, EXIT_FAIL);
	}
	if (lbs < 512 || lbs > 4096 || (lbs & (lbs - 1))) {
		ublk_err("--file: %s: unsupported block size %u", p->file, lbs);
		return fail(tgt, fd, EXIT_FAIL);
	}
	if (cfg->lbs && cfg->lbs < lbs && !p->buffered) {
		ublk_err(
			"--logical-block-size %u: smaller than %s needs for O_DIRECT (%u)",
			cfg->lbs, p->file, lbs);
		return fail(tgt, fd, EXIT_USAGE);
	}
	if (cfg->lbs)
		lbs = cfg->lbs;
	if (pbs < lbs)
		pbs = lbs;
	if (cfg->pbs)
		pbs = cfg->pbs;
	if (p->offset % lbs) {
		ublk_err("--offset %llu: not a multiple of the block size (%u)",
			 (unsigned long long)p->offset, lbs);
		return fail(tgt, fd, EXIT_USAGE);
	}
	if (p->offset >= avail) {
		ublk_err("--offset %llu: beyond the end of %s (%llu bytes)",
			 (unsigned long long)p->offset, p->file,
			 (unsigned long long)avail);
		return fail(tgt, fd, EXIT_USAGE);
	}
	avail = (avail - p->offset) / lbs * lbs;
	if (!avail) {
		ublk_err("--file: %s: smaller than one block (%u bytes)",
			 p->file, lbs);
		return fail(tgt, fd, EXIT_FAIL);
	}
	if (cfg->size > avail) {
		ublk_err("--size %llu: larger than %s (%llu bytes usable)",
			 (unsigned long long)cfg->size, p->file,
			 (unsigned long long)avail);
		return fail(tgt, fd, EXIT_USAGE);
	}
	tgt->size = cfg->size ? cfg->size : avail;
	tgt->lbs = lbs;
	tgt->pbs = pbs;
	tgt->min_lbs = p->buffered ? 512 : lbs;
	tgt->dma_align = mem_align < 512 ? 512 : mem_align;
	tgt->attrs = UBLK_ATTR_VOLATILE_CACHE;
	p->blkdev = S_ISBLK(st.st_mode);
	if (p->blkdev) {
		tgt->discard = !cfg->read_only && blkdev_can_discard(fd);
		tgt->write_zeroes = !cfg->read_only;
	} else {
		tgt->discard = can_punch(fd, &st);
		tgt->write_zeroes = tgt->discard;
	}
	tgt->fds[0] = fd;
	tgt->nr_fds = 1;
	if (!realpath(p->file, tgt->backing))
		snprintf(tgt->backing, sizeof(tgt->backing), "%s", p->file);
	return EXIT_OK;
}

static int loop_save(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx)
{
	const struct loop_priv *p = tgt->priv;
	int ret;

	/* The resolved path: recover may run from another directory. */
	ret = emit(ctx, "file", tgt->backing);
	if (!ret && p->buffered)
		ret = emit(ctx, "buffered", NULL);
	if (!ret && p->offset)
		ret = ublk_emit_u64(emit, ctx, "offset", p->offset);
	return ret;
}

/* Size of a regular file or block device; 0 or negative errno. */
static int backing_size(const char *path, uint64_t *size)
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

/* The device may not outgrow what the backing store has past --offset. */
static int loop_check_resize(struct ublk_tgt *tgt, uint32_t id,
			     const char *size_arg, uint64_t bytes)
{
	const struct loop_priv *p = tgt->priv;
	uint64_t have;
	int ret;

	if (!p || !p->file)
		return 0;
	ret = backing_size(p->file, &have);
	if (ret) {
		ublk_errno(ret, "device %u: backing file %s", id, p->file);
		return -1;
	}
	have = have > p->offset ? have - p->offset : 0;
	if (bytes > have) {
		ublk_err(
			"device %u: --size: '%s': larger than the backing file %s (%" PRIu64
			" bytes usable)",
			id, size_arg, p->file, have);
		return -1;
	}
	return 0;
}

static void loop_deinit(struct ublk_tgt *tgt)
{
	if (tgt->nr_fds)
		close(tgt->fds[0]);
	tgt->nr_fds = 0;
	ublk_tgt_free_priv(tgt);
}

/* Punch a hole (or ZERO_RANGE) over the range of request tag of q. */
static void queue_falloc(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, bool zero)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	const struct loop_priv *p = q->tgt->priv;
	struct io_uring_sqe *sqe = ublk_get_sqe(t);

	io_uring_prep_fallocate(sqe, 1, zero ? LOOP_ZERO : LOOP_PUNCH,
				(off_t)((iod->start_sector << 9) + p->offset),
				(off_t)iod->nr_sectors << 9);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data =
		ublk_tgt_user_data(q, tag, zero ? LOOP_OP_ZERO : LOOP_OP_PUNCH);
}

/* The block device's own discard of the range of request tag of q. */
static void queue_blkdev_discard(struct ublk_thread *t, struct ublk_queue *q,
				 unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	const struct loop_priv *p = q->tgt->priv;
	struct io_uring_sqe *sqe = ublk_get_sqe(t);

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, 1, NULL, 0, 0);
	sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
	sqe->addr = (iod->start_sector << 9) + p->offset;
	sqe->addr3 = (uint64_t)iod->nr_sectors << 9;
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_DISCARD);
}

static int loop_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct loop_priv *p = q->tgt->priv;
	uint64_t off = (iod->start_sector << 9) + p->offset;
	uint32_t len = iod->nr_sectors << 9;
	unsigned int op = ublksrv_get_op(iod);
	struct io_uring_sqe *sqe;
	bool zero;

	switch (op) {
	case UBLK_IO_OP_FLUSH:
		sqe = ublk_get_sqe(t);
		io_uring_prep_fsync(sqe, 1, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_SYNC);
		return 1;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		if (p->blkdev && op == UBLK_IO_OP_DISCARD) {
			queue_blkdev_discard(t, q, tag);
			return 1;
		}
		if (p->blkdev) {
			queue_falloc(t, q, tag, true);
			return 1;
		}
		zero = op == UBLK_IO_OP_WRITE_ZEROES &&
		       (iod->op_flags & UBLK_IO_F_NOUNMAP) &&
		       !__atomic_load_n(&p->no_zero_range, __ATOMIC_RELAXED);
		queue_falloc(t, q, tag, zero);
		return 1;
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		break;
	default:
		return -EOPNOTSUPP;
	}

	switch (ublk_io_buf_mode(q, tag)) {
	case UBLK_BUF_PLAIN:
		sqe = ublk_get_sqe(t);
		io_uring_prep_rw(op == UBLK_IO_OP_READ ? IORING_OP_READ :
							 IORING_OP_WRITE,
				 sqe, 1, q->ios[tag].data, len, off);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_RW);
		return 1;
	case UBLK_BUF_AUTO:
		sqe = ublk_get_sqe(t);
		io_uring_prep_rw(op == UBLK_IO_OP_READ ? IORING_OP_READ_FIXED :
							 IORING_OP_WRITE_FIXED,
				 sqe, 1, NULL, len, off);
		sqe->buf_index = (uint16_t)ublk_io_buf_index(q, tag);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_RW);
		return 1;
	case UBLK_BUF_ZC:
		sqe = ublk_zc_chain_begin(t, q, tag);
		io_uring_prep_rw(op == UBLK_IO_OP_READ ? IORING_OP_READ_FIXED :
							 IORING_OP_WRITE_FIXED,
				 sqe, 1, NULL, len, off);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_RW);
		ublk_zc_chain_end(t, q, tag, sqe);
		return 2;
	}
	return -EINVAL;
}

/*
 * A ZERO_RANGE the file system does not have is done again by punching
 * (the range reads back as zeroes either way), and so is every later one.
 */
static void loop_io_done(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, unsigned int op,
			 const struct io_uring_cqe *cqe)
{
	struct loop_priv *p = q->tgt->priv;

	if (op == LOOP_OP_ZERO && cqe->res == -EOPNOTSUPP) {
		__atomic_store_n(&p->no_zero_range, true, __ATOMIC_RELAXED);
		queue_falloc(t, q, tag, false);
		return;
	}
	ublk_tgt_io_account(t, q, tag, cqe->res);
}

const struct target_ops target_loop = {
	.name = "loop",
	.fast_flags = UBLK_F_AUTO_BUF_REG | UBLK_F_BATCH_IO,
	.summary = "a file or block device",
	.opts = loop_opts,
	.parse_opt = loop_parse_opt,
	.init = loop_init,
	.deinit = loop_deinit,
	.save = loop_save,
	.check_resize = loop_check_resize,
	.queue_io = loop_queue_io,
	.io_done = loop_io_done,
};
