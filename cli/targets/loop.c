// SPDX-License-Identifier: GPL-2.0
/*
 * loop target: a file or block device. O_DIRECT unless --buffered; the
 * logical block size comes from the backing store; FLUSH is an async
 * fdatasync.
 * On a file, DISCARD punches a hole and WRITE_ZEROES zeroes a range (as
 * the kernel's loop driver: by punching it, or with NOUNMAP by ZERO_RANGE,
 * which falls back to punching where the file system lacks ZERO_RANGE,
 * tmpfs for one); both are offered only where a punch works.
 * On a block device, a server thread has no more reads and writes in
 * flight than the device has tags (struct loop_thread); DISCARD is the
 * device's own discard through io_uring (BLOCK_URING_CMD_DISCARD), offered
 * only where the kernel has that command and the device discards;
 * WRITE_ZEROES is a ZERO_RANGE, which the block layer does with the
 * device's write-zeroes or by writing zeroes, so it is offered on every
 * writable device.
 * With --integrity, each block's metadata lives in a second file
 * (--integrity-file: block N's at N x md bytes, whatever --offset says),
 * read and written with the data; DISCARD and WRITE_ZEROES are not
 * offered then (the metadata of the range would go stale).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ublkctl/compat.h"
#include "ublkctl/server.h"

enum {
	LOOP_OPT_BUFFERED = 1100,
	LOOP_OPT_OFFSET,
	LOOP_OPT_INTEGRITY_FILE,
};

enum {
	LOOP_OP_RW = 1,
	LOOP_OP_SYNC,
	LOOP_OP_PUNCH,
	LOOP_OP_ZERO,
	LOOP_OP_DISCARD,
	LOOP_OP_MD, /* the metadata of a read or write */
};

/* Fixed file of the metadata (--integrity-file); the data is file 1. */
#define LOOP_MD_FILE 2

#define LOOP_PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define LOOP_ZERO (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

struct loop_priv {
	const char *file;
	bool buffered;
	uint64_t offset;
	bool no_zero_range; /* the file system said so (atomic) */
	bool blkdev; /* the backing store is a block device */
	uint32_t max_depth; /* a block device's tags per hardware queue */
	const char *md_file; /* --integrity-file */
	char md_abs[4096]; /* md_file resolved, for the state file */
	uint32_t md_size; /* metadata bytes per block (--integrity) */
};

/*
 * A server thread's reads and writes in flight on a block device, held to
 * the device's own depth: a read or write past it would fail its
 * non-blocking issue with EAGAIN and wait in an io_uring worker thread, at
 * the cost of a thread switch each. The excess waits here instead, in
 * arrival order, and is issued as earlier ones complete.
 */
struct loop_thread {
	uint32_t inflight, limit;
	uint32_t head, count, size; /* ring of deferred requests */
	struct loop_deferred {
		struct ublk_queue *q;
		unsigned int tag;
	} fifo[];
};

static const struct ublk_opt loop_opts[] = {
	{ "file", 'f', required_argument, "PATH",
	  "backing file or block device (required)" },
	{ "buffered", LOOP_OPT_BUFFERED, no_argument, NULL,
	  "use the page cache (default: O_DIRECT)" },
	{ "offset", LOOP_OPT_OFFSET, required_argument, "SIZE",
	  "start of the device in the backing store (default 0)" },
	{ "integrity-file", LOOP_OPT_INTEGRITY_FILE, required_argument, "PATH",
	  "with --integrity: the blocks' metadata (made if absent)" },
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
	case LOOP_OPT_INTEGRITY_FILE:
		if (!*arg)
			return ublk_usage_err(
				"--integrity-file: empty file name");
		p->md_file = arg;
		return EXIT_OK;
	}
	return EXIT_USAGE;
}

static int fail(struct ublk_tgt *tgt, int fd, int code)
{
	close(fd);
	tgt->nr_fds = 0;
	return code;
}

/*
 * Open (or make) the metadata file of a device of blocks blocks: a new one
 * is filled with 0xff, which every PI checksum reads as "unwritten, do not
 * check" (an application tag of 0xffff), so that blocks never written read
 * back as the zeroes of a new data file do. An existing one must be large
 * enough. The fd, or -1 after printing why.
 */
static int md_open(struct loop_priv *p, bool read_only, uint64_t blocks)
{
	uint64_t need = blocks * p->md_size, done;
	static char ff[65536];
	struct stat st;
	bool made = false;
	int fd;

	fd = open(p->md_file, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && !read_only) {
		fd = open(p->md_file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			  0600);
		made = fd >= 0;
	}
	if (fd < 0) {
		ublk_errno(errno, "--integrity-file: %s", p->md_file);
		return -1;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ublk_err("--integrity-file: %s: not a regular file",
			 p->md_file);
		goto fail;
	}
	if (!made && (uint64_t)st.st_size < need) {
		ublk_err(
			"--integrity-file: %s: %llu bytes, the device's metadata needs %llu",
			p->md_file, (unsigned long long)st.st_size,
			(unsigned long long)need);
		goto fail;
	}
	memset(ff, 0xff, sizeof(ff));
	for (done = 0; made && done < need;) {
		size_t n = need - done < sizeof(ff) ? need - done : sizeof(ff);
		ssize_t w = pwrite(fd, ff, n, (off_t)done);

		if (w <= 0) {
			ublk_errno(w < 0 ? errno : EIO, "--integrity-file: %s",
				   p->md_file);
			goto fail;
		}
		done += (uint64_t)w;
	}
	if (!realpath(p->md_file, p->md_abs))
		snprintf(p->md_abs, sizeof(p->md_abs), "%s", p->md_file);
	return fd;
fail:
	close(fd);
	if (made)
		unlink(p->md_file);
	return -1;
}

static int loop_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct loop_priv *p = tgt->priv;
	struct ublk_backing b;
	uint64_t avail;
	int ret;

	if (!p || !p->file)
		return ublk_usage_err("loop needs a backing file (-f PATH)");
	if (cfg->integrity.md_size && !p->md_file)
		return ublk_usage_err(
			"--integrity: loop keeps the metadata in --integrity-file PATH");
	if (!cfg->integrity.md_size && p->md_file)
		return ublk_usage_err("--integrity-file needs --integrity");
	ret = ublk_backing_open(p->file, cfg->read_only, p->buffered, &b);
	if (ret)
		return ret;
	ret = ublk_tgt_set_block_sizes(tgt, cfg, &b, p->file, p->buffered);
	if (ret)
		return fail(tgt, b.fd, ret);
	if (p->offset % tgt->lbs) {
		ublk_err("--offset %llu: not a multiple of the block size (%u)",
			 (unsigned long long)p->offset, tgt->lbs);
		return fail(tgt, b.fd, EXIT_USAGE);
	}
	if (p->offset >= b.size) {
		ublk_err("--offset %llu: beyond the end of %s (%llu bytes)",
			 (unsigned long long)p->offset, p->file,
			 (unsigned long long)b.size);
		return fail(tgt, b.fd, EXIT_USAGE);
	}
	avail = (b.size - p->offset) / tgt->lbs * tgt->lbs;
	if (!avail) {
		ublk_err("--file: %s: smaller than one block (%u bytes)",
			 p->file, tgt->lbs);
		return fail(tgt, b.fd, EXIT_FAIL);
	}
	if (cfg->size > avail) {
		ublk_err("--size %llu: larger than %s (%llu bytes usable)",
			 (unsigned long long)cfg->size, p->file,
			 (unsigned long long)avail);
		return fail(tgt, b.fd, EXIT_USAGE);
	}
	tgt->size = cfg->size ? cfg->size : avail;
	tgt->attrs = UBLK_ATTR_VOLATILE_CACHE;
	p->blkdev = !b.regular;
	if (p->blkdev) {
		tgt->discard = b.can_discard;
		tgt->write_zeroes = !cfg->read_only;
		p->max_depth = b.depth;
	} else {
		tgt->discard = b.can_punch;
		tgt->write_zeroes = tgt->discard;
	}
	tgt->fds[0] = b.fd;
	tgt->nr_fds = 1;
	/* add refuses this after init: check first, before making a file */
	if (p->md_file && cfg->size % tgt->lbs)
		return fail(
			tgt, b.fd,
			ublk_usage_err(
				"--size %llu: not a multiple of the block size (%u)",
				(unsigned long long)cfg->size, tgt->lbs));
	if (p->md_file) {
		p->md_size = cfg->integrity.md_size;
		tgt->discard = false;
		tgt->write_zeroes = false;
		tgt->fds[1] = md_open(p, cfg->read_only, tgt->size / tgt->lbs);
		if (tgt->fds[1] < 0)
			return fail(tgt, b.fd, EXIT_FAIL);
		tgt->nr_fds = 2;
	}
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
	if (!ret && p->md_file)
		ret = emit(ctx, "integrity-file", p->md_abs);
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
	if (p->md_file) {
		ublk_err(
			"device %u: --size: a device with --integrity-file keeps its size",
			id);
		return -1;
	}
	ret = ublk_backing_size(p->file, &have);
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
	if (tgt->nr_fds > 1)
		close(tgt->fds[1]);
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

/* Does request tag of q carry metadata the loop keeps? */
static bool has_md(const struct ublk_queue *q, unsigned int tag)
{
	return q->ios[tag].md &&
	       (ublk_iod(q, tag)->op_flags & UBLK_IO_F_INTEGRITY);
}

/* Read or write the metadata of request tag of q (has_md) in its file. */
static void queue_md(struct ublk_thread *t, struct ublk_queue *q,
		     unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	uint64_t off = ublk_md_len(q, iod->start_sector << 9);
	size_t len = ublk_md_len(q, (size_t)iod->nr_sectors << 9);
	struct io_uring_sqe *sqe = ublk_get_sqe(t);

	io_uring_prep_rw(ublksrv_get_op(iod) == UBLK_IO_OP_READ ?
				 IORING_OP_READ :
				 IORING_OP_WRITE,
			 sqe, LOOP_MD_FILE, q->ios[tag].md, (unsigned int)len,
			 off);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_MD);
}

/* Issue the read or write of request tag of q; the CQEs it yields. */
static int issue_rw(struct ublk_thread *t, struct ublk_queue *q,
		    unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	const struct loop_priv *p = q->tgt->priv;
	uint64_t off = (iod->start_sector << 9) + p->offset;
	uint32_t len = iod->nr_sectors << 9;
	unsigned int op = ublksrv_get_op(iod);
	struct io_uring_sqe *sqe;

	switch (ublk_io_buf_mode(q, tag)) {
	case UBLK_BUF_PLAIN:
		sqe = ublk_get_sqe(t);
		io_uring_prep_rw(op == UBLK_IO_OP_READ ? IORING_OP_READ :
							 IORING_OP_WRITE,
				 sqe, 1, q->ios[tag].data, len, off);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_RW);
		if (!has_md(q, tag))
			return 1;
		queue_md(t, q, tag);
		return 2;
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
		sqe = ublk_zc_chain_begin(t, q, tag, 1);
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

/* The CQEs a read or write of request tag of q yields once issued. */
static int rw_cqes(const struct ublk_queue *q, unsigned int tag)
{
	return ublk_io_buf_mode(q, tag) == UBLK_BUF_ZC ? 2 : 1 + has_md(q, tag);
}

static int loop_queue_rw(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag)
{
	struct loop_thread *lt = ublk_thread_tgt_priv(t);
	struct loop_deferred *d;

	if (!lt || lt->inflight < lt->limit) {
		if (lt)
			lt->inflight++;
		return issue_rw(t, q, tag);
	}
	d = &lt->fifo[(lt->head + lt->count++) % lt->size];
	d->q = q;
	d->tag = tag;
	return rw_cqes(q, tag);
}

/* One read or write of this thread's completed: issue the next waiting. */
static void loop_rw_done(struct ublk_thread *t)
{
	struct loop_thread *lt = ublk_thread_tgt_priv(t);
	struct loop_deferred d;

	if (!lt)
		return;
	if (!lt->count) {
		lt->inflight--;
		return;
	}
	d = lt->fifo[lt->head];
	lt->head = (lt->head + 1) % lt->size;
	lt->count--;
	issue_rw(t, d.q, d.tag);
}

/*
 * Only a block device shallower than this thread's share of the queues
 * needs the bound; everything else gets no per-thread state.
 */
static int loop_thread_init(struct ublk_thread *t, struct ublk_tgt *tgt,
			    unsigned int nr_tags, void **priv)
{
	const struct loop_priv *p = tgt->priv;
	struct loop_thread *lt;

	(void)t;
	if (!p->max_depth || p->max_depth >= nr_tags)
		return 0;
	lt = calloc(1, sizeof(*lt) + nr_tags * sizeof(lt->fifo[0]));
	if (!lt) {
		ublk_err("loop: Cannot allocate memory");
		return -ENOMEM;
	}
	lt->limit = p->max_depth;
	lt->size = nr_tags;
	*priv = lt;
	return 0;
}

static void loop_thread_exit(struct ublk_thread *t, struct ublk_tgt *tgt,
			     void *priv)
{
	(void)t;
	(void)tgt;
	free(priv);
}

static int loop_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct loop_priv *p = q->tgt->priv;
	unsigned int op = ublksrv_get_op(iod);
	struct io_uring_sqe *sqe;
	bool zero;

	switch (op) {
	case UBLK_IO_OP_FLUSH:
		sqe = ublk_get_sqe(t);
		io_uring_prep_fsync(sqe, 1, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_SYNC);
		if (!p->md_file)
			return 1;
		sqe = ublk_get_sqe(t);
		io_uring_prep_fsync(sqe, LOOP_MD_FILE, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, LOOP_OP_SYNC);
		return 2;
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
		return loop_queue_rw(t, q, tag);
	}
	return -EOPNOTSUPP;
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

	if (op == LOOP_OP_RW)
		loop_rw_done(t);
	/* Not the request's byte count: all of the metadata, or an error. */
	if (op == LOOP_OP_MD) {
		size_t len = ublk_md_len(q, (size_t)ublk_iod(q, tag)->nr_sectors
						    << 9);
		int res = cqe->res;

		if (res >= 0)
			res = (size_t)res == len ? 0 : -EIO;
		ublk_tgt_io_account(t, q, tag, res);
		return;
	}
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
	.integrity = true,
	.summary = "a file or block device",
	.opts = loop_opts,
	.parse_opt = loop_parse_opt,
	.init = loop_init,
	.deinit = loop_deinit,
	.save = loop_save,
	.check_resize = loop_check_resize,
	.queue_io = loop_queue_io,
	.io_done = loop_io_done,
	.thread_init = loop_thread_init,
	.thread_exit = loop_thread_exit,
};
