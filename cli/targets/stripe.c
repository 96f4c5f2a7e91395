// SPDX-License-Identifier: GPL-2.0
/*
 * stripe target: RAID0 over 2-4 files or block devices (-f once per
 * member, in order), chunk c of the device on member c % n at chunk
 * c / n (include/ublkctl/stripe.h). Each member is opened as loop opens
 * its file (O_DIRECT unless --buffered); the device is n times the
 * smallest member's whole chunks. A read or write becomes one backing
 * I/O per chunk it touches; FLUSH an fdatasync of every member; DISCARD
 * and WRITE_ZEROES one fallocate per member over its part of the range
 * (as loop: offered only if every member can punch holes).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/server.h"
#include "ublkctl/stripe.h"

enum {
	STRIPE_OPT_BUFFERED = 1200,
	STRIPE_OPT_CHUNK,
};

#define STRIPE_DEF_CHUNK (64U << 10)
#define STRIPE_MIN_CHUNK (4U << 10)
#define STRIPE_MAX_CHUNK (512U << 10)
/*
 * Pieces one read or write may have: max_io is capped to one chunk less,
 * so that a request starting anywhere fits. Each piece's CQE carries its
 * index in the op (ops stay below 0x20).
 */
#define STRIPE_MAX_PIECES 16

/*
 * Target ops: SYNC and PUNCH; ZERO + member (ZERO_RANGE, punched again
 * where the file system lacks it); RW + piece index.
 */
enum {
	STRIPE_OP_SYNC = 1,
	STRIPE_OP_PUNCH,
	STRIPE_OP_ZERO = 4,
	STRIPE_OP_RW = 0x10,
};

#define STRIPE_PUNCH (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)
#define STRIPE_ZERO (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)

struct stripe_priv {
	const char *files[UBLK_STRIPE_MAX_MEMBERS]; /* as given */
	unsigned int nr_files;
	uint32_t chunk; /* 0: not given */
	bool buffered;
	bool no_zero_range; /* a member's file system said so (atomic) */
	struct ublk_stripe_geo geo;
	char paths[UBLK_STRIPE_MAX_MEMBERS][PATH_MAX]; /* resolved, by init */
};

/* ---- the layout ---- */

unsigned int ublk_stripe_nr_pieces(const struct ublk_stripe_geo *g,
				   uint64_t off, uint32_t len)
{
	if (!len)
		return 0;
	return (unsigned int)(((off + len - 1) >> g->shift) -
			      (off >> g->shift) + 1);
}

void ublk_stripe_piece(const struct ublk_stripe_geo *g, uint64_t off,
		       uint32_t len, unsigned int i,
		       struct ublk_stripe_piece *p)
{
	uint64_t c = (off >> g->shift) + i;
	uint64_t start = i ? c << g->shift : off;
	uint64_t end = (c + 1) << g->shift;

	if (end > off + len)
		end = off + len;
	p->member = (unsigned int)(c % g->nr);
	p->off = ((c / g->nr) << g->shift) | (start & ((1ULL << g->shift) - 1));
	p->len = (uint32_t)(end - start);
	p->buf_off = (uint32_t)(start - off);
}

uint64_t ublk_stripe_member_pos(const struct ublk_stripe_geo *g, unsigned int m,
				uint64_t x)
{
	uint64_t chunk = 1ULL << g->shift, width = chunk * g->nr;
	uint64_t rem = x % width, lo = (uint64_t)m << g->shift;
	uint64_t part = rem <= lo ? 0 : rem - lo;

	return (x / width) * chunk + (part < chunk ? part : chunk);
}

/* ---- options, set up ---- */

static const struct ublk_opt stripe_opts[] = {
	{ "file", 'f', required_argument, "PATH",
	  "a member: file or block device (2-4 times, in order)" },
	{ "chunk-size", STRIPE_OPT_CHUNK, required_argument, "SIZE",
	  "bytes per member in turn (4K-512K, power of 2; default 64K)" },
	{ "buffered", STRIPE_OPT_BUFFERED, no_argument, NULL,
	  "use the page cache (default: O_DIRECT)" },
	UBLK_OPT_END,
};

static int stripe_parse_opt(struct ublk_tgt *tgt, int key, const char *arg)
{
	struct stripe_priv *p = ublk_tgt_priv(tgt, sizeof(*p));
	uint64_t v;

	if (!p)
		return EXIT_FAIL;
	switch (key) {
	case 'f':
		if (p->nr_files == UBLK_STRIPE_MAX_MEMBERS) {
			ublk_err("--file: '%s': more than %u stripe members",
				 arg, UBLK_STRIPE_MAX_MEMBERS);
			return EXIT_USAGE;
		}
		p->files[p->nr_files++] = arg;
		return EXIT_OK;
	case STRIPE_OPT_CHUNK:
		if (ublk_parse_size("chunk-size", arg, STRIPE_MIN_CHUNK,
				    STRIPE_MAX_CHUNK, &v))
			return EXIT_USAGE;
		if (v & (v - 1)) {
			ublk_err("--chunk-size: '%s': not a power of 2", arg);
			return EXIT_USAGE;
		}
		p->chunk = (uint32_t)v;
		return EXIT_OK;
	case STRIPE_OPT_BUFFERED:
		p->buffered = true;
		return EXIT_OK;
	}
	return EXIT_USAGE;
}

static void close_fds(struct ublk_tgt *tgt)
{
	int i;

	for (i = 0; i < tgt->nr_fds; i++)
		close(tgt->fds[i]);
	tgt->nr_fds = 0;
}

/* "stripe 64K: /a,/b" for list (cut short if the paths are long). */
static void set_backing(struct ublk_tgt *tgt, const struct stripe_priv *p)
{
	size_t len = sizeof(tgt->backing), at;
	unsigned int i;

	at = (size_t)snprintf(tgt->backing, len, "stripe %uK:", p->chunk >> 10);
	for (i = 0; i < p->nr_files && at < len; i++)
		at += (size_t)snprintf(tgt->backing + at, len - at, "%s%s",
				       i ? "," : " ", p->paths[i]);
}

/* What the members have in common, and which member sets each limit. */
struct stripe_members {
	struct ublk_backing all; /* largest block sizes, smallest size */
	const char *lbs_file; /* needs the largest logical block */
	const char *min_file; /* the smallest */
};

/* Open every member, in order: fixed files 1..n. */
static int open_members(struct ublk_tgt *tgt, struct stripe_priv *p,
			bool read_only, struct stripe_members *mb)
{
	struct ublk_backing *all = &mb->all;
	struct ublk_backing b;
	unsigned int i;
	int ret;

	*mb = (struct stripe_members){ .all = { .size = UINT64_MAX,
						.can_punch = true } };
	for (i = 0; i < p->nr_files; i++) {
		ret = ublk_backing_open(p->files[i], read_only, p->buffered,
					&b);
		if (ret) {
			close_fds(tgt);
			return ret;
		}
		tgt->fds[tgt->nr_fds++] = b.fd;
		if (b.lbs > all->lbs) {
			all->lbs = b.lbs;
			mb->lbs_file = p->files[i];
		}
		if (b.pbs > all->pbs)
			all->pbs = b.pbs;
		if (b.mem_align > all->mem_align)
			all->mem_align = b.mem_align;
		if (b.size < all->size) {
			all->size = b.size;
			mb->min_file = p->files[i];
		}
		all->can_punch = all->can_punch && b.can_punch;
		if (!realpath(p->files[i], p->paths[i]))
			snprintf(p->paths[i], sizeof(p->paths[i]), "%s",
				 p->files[i]);
	}
	return EXIT_OK;
}

static int stripe_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct stripe_priv *p = tgt->priv;
	struct stripe_members mb;
	uint64_t per, avail;
	int ret;

	if (!p || p->nr_files < 2)
		return ublk_usage_err(
			"stripe needs 2 to %u members (-f PATH for each)",
			UBLK_STRIPE_MAX_MEMBERS);
	if (!p->chunk)
		p->chunk = STRIPE_DEF_CHUNK;
	p->geo.nr = p->nr_files;
	p->geo.shift = (unsigned int)__builtin_ctz(p->chunk);
	ret = open_members(tgt, p, cfg->read_only, &mb);
	if (ret)
		return ret;
	ret = ublk_tgt_set_block_sizes(tgt, cfg, &mb.all, mb.lbs_file,
				       p->buffered);
	per = mb.all.size / p->chunk * p->chunk;
	if (!ret && !per) {
		ublk_err("--file: %s: smaller than one chunk (%u bytes)",
			 mb.min_file, p->chunk);
		ret = EXIT_FAIL;
	}
	avail = per * p->nr_files;
	if (!ret && cfg->size > avail)
		ret = ublk_usage_err("--size %" PRIu64
				     ": larger than the stripe (%" PRIu64
				     " bytes usable)",
				     cfg->size, avail);
	if (ret) {
		close_fds(tgt);
		return ret;
	}
	tgt->size = cfg->size ? cfg->size : avail;
	tgt->attrs = UBLK_ATTR_VOLATILE_CACHE;
	tgt->discard = mb.all.can_punch;
	tgt->write_zeroes = tgt->discard;
	tgt->max_io = (STRIPE_MAX_PIECES - 1) * p->chunk;
	/* a zero copy chain: register, the pieces, unregister */
	tgt->max_sqes = STRIPE_MAX_PIECES + 2;
	set_backing(tgt, p);
	return EXIT_OK;
}

/* The resolved paths, in order: recover may run from another directory. */
static int stripe_save(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx)
{
	const struct stripe_priv *p = tgt->priv;
	unsigned int i;
	int ret = 0;

	for (i = 0; !ret && i < p->nr_files; i++)
		ret = emit(ctx, "file", p->paths[i]);
	if (!ret)
		ret = ublk_emit_u64(emit, ctx, "chunk-size", p->chunk);
	if (!ret && p->buffered)
		ret = emit(ctx, "buffered", NULL);
	return ret;
}

/* The device may not outgrow n times the smallest member's whole chunks. */
static int stripe_check_resize(struct ublk_tgt *tgt, uint32_t id,
			       const char *size_arg, uint64_t bytes)
{
	const struct stripe_priv *p = tgt->priv;
	uint64_t min = UINT64_MAX, have;
	unsigned int i;
	uint32_t chunk;
	int ret;

	if (!p || !p->nr_files)
		return 0;
	chunk = p->chunk ? p->chunk : STRIPE_DEF_CHUNK;
	for (i = 0; i < p->nr_files; i++) {
		ret = ublk_backing_size(p->files[i], &have);
		if (ret) {
			ublk_errno(-ret, "device %u: stripe member %s", id,
				   p->files[i]);
			return -1;
		}
		if (have < min)
			min = have;
	}
	have = min / chunk * chunk * p->nr_files;
	if (bytes > have) {
		ublk_err(
			"device %u: --size: '%s': larger than the stripe (%" PRIu64
			" bytes usable)",
			id, size_arg, have);
		return -1;
	}
	return 0;
}

static void stripe_deinit(struct ublk_tgt *tgt)
{
	close_fds(tgt);
	ublk_tgt_free_priv(tgt);
}

/* ---- I/O ---- */

/* fallocate over member m's part of request tag; false if it has none. */
static bool queue_falloc(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, unsigned int m, bool zero)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	const struct stripe_priv *p = q->tgt->priv;
	uint64_t a = iod->start_sector << 9;
	uint64_t b = a + ((uint64_t)iod->nr_sectors << 9);
	uint64_t lo = ublk_stripe_member_pos(&p->geo, m, a);
	uint64_t hi = ublk_stripe_member_pos(&p->geo, m, b);
	struct io_uring_sqe *sqe;

	if (lo == hi)
		return false;
	sqe = ublk_get_sqe(t);
	io_uring_prep_fallocate(sqe, (int)(1 + m),
				zero ? STRIPE_ZERO : STRIPE_PUNCH, (off_t)lo,
				(off_t)(hi - lo));
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->user_data = ublk_tgt_user_data(
		q, tag, zero ? STRIPE_OP_ZERO + m : STRIPE_OP_PUNCH);
	return true;
}

static int queue_rw(struct ublk_thread *t, struct ublk_queue *q,
		    unsigned int tag, bool read)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	const struct stripe_priv *p = q->tgt->priv;
	enum ublk_buf_mode mode = ublk_io_buf_mode(q, tag);
	uint64_t off = iod->start_sector << 9;
	uint32_t len = iod->nr_sectors << 9;
	unsigned int n = ublk_stripe_nr_pieces(&p->geo, off, len), i;
	struct ublk_stripe_piece pc;
	struct io_uring_sqe *sqe;
	uint64_t addr;
	int opcode;

	/* max_io keeps requests within STRIPE_MAX_PIECES chunks */
	if (!n || n > STRIPE_MAX_PIECES)
		return -EIO;
	if (mode == UBLK_BUF_PLAIN)
		opcode = read ? IORING_OP_READ : IORING_OP_WRITE;
	else
		opcode = read ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
	sqe = mode == UBLK_BUF_ZC ? ublk_zc_chain_begin(t, q, tag, n) :
				    ublk_get_sqe(t);
	for (i = 0; i < n; i++) {
		ublk_stripe_piece(&p->geo, off, len, i, &pc);
		/* a registered kernel buffer is addressed from offset 0 */
		addr = mode == UBLK_BUF_PLAIN ?
			       (uint64_t)(uintptr_t)q->ios[tag].data +
				       pc.buf_off :
			       pc.buf_off;
		io_uring_prep_rw(opcode, sqe, (int)(1 + pc.member),
				 (void *)(uintptr_t)addr, pc.len, pc.off);
		sqe->flags |= IOSQE_FIXED_FILE;
		sqe->user_data = ublk_tgt_user_data(q, tag, STRIPE_OP_RW + i);
		if (mode == UBLK_BUF_AUTO)
			sqe->buf_index = (uint16_t)ublk_io_buf_index(q, tag);
		if (mode != UBLK_BUF_ZC)
			sqe = i + 1 < n ? ublk_get_sqe(t) : NULL;
		else if (i + 1 < n)
			sqe = ublk_zc_chain_next(t, q, tag, sqe);
		else
			ublk_zc_chain_end(t, q, tag, sqe);
	}
	return mode == UBLK_BUF_ZC ? (int)n + 1 : (int)n;
}

static int stripe_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			   unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct stripe_priv *p = q->tgt->priv;
	unsigned int op = ublksrv_get_op(iod), m;
	struct io_uring_sqe *sqe;
	int n = 0;
	bool zero;

	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		return queue_rw(t, q, tag, op == UBLK_IO_OP_READ);
	case UBLK_IO_OP_FLUSH:
		for (m = 0; m < p->geo.nr; m++) {
			sqe = ublk_get_sqe(t);
			io_uring_prep_fsync(sqe, (int)(1 + m),
					    IORING_FSYNC_DATASYNC);
			sqe->flags |= IOSQE_FIXED_FILE;
			sqe->user_data =
				ublk_tgt_user_data(q, tag, STRIPE_OP_SYNC);
		}
		return (int)p->geo.nr;
	case UBLK_IO_OP_DISCARD:
	case UBLK_IO_OP_WRITE_ZEROES:
		zero = op == UBLK_IO_OP_WRITE_ZEROES &&
		       (iod->op_flags & UBLK_IO_F_NOUNMAP) &&
		       !__atomic_load_n(&p->no_zero_range, __ATOMIC_RELAXED);
		for (m = 0; m < p->geo.nr; m++)
			n += queue_falloc(t, q, tag, m, zero);
		return n ? n : -EINVAL;
	}
	return -EOPNOTSUPP;
}

/*
 * Each piece done in full counts as the whole request's length, so the
 * request completes with its length once all are, or with the first
 * error. A short piece is -EIO: the kernel takes a short count as the
 * part of the request done from its start, which a short piece in a
 * stripe is not. A ZERO_RANGE a member's file system lacks is done
 * again by punching (as loop), and so is every later one.
 */
static void stripe_io_done(struct ublk_thread *t, struct ublk_queue *q,
			   unsigned int tag, unsigned int op,
			   const struct io_uring_cqe *cqe)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct stripe_priv *p = q->tgt->priv;
	uint64_t off = iod->start_sector << 9;
	uint32_t len = iod->nr_sectors << 9;
	struct ublk_stripe_piece pc;
	int res = cqe->res;

	if (op >= STRIPE_OP_ZERO && op < STRIPE_OP_ZERO + p->geo.nr &&
	    res == -EOPNOTSUPP) {
		__atomic_store_n(&p->no_zero_range, true, __ATOMIC_RELAXED);
		queue_falloc(t, q, tag, op - STRIPE_OP_ZERO, false);
		return;
	}
	if (op >= STRIPE_OP_RW && res >= 0) {
		ublk_stripe_piece(&p->geo, off, len, op - STRIPE_OP_RW, &pc);
		res = (uint32_t)res == pc.len ? (int)len : -EIO;
	}
	ublk_tgt_io_account(t, q, tag, res);
}

const struct target_ops target_stripe = {
	.name = "stripe",
	.fast_flags = UBLK_F_AUTO_BUF_REG | UBLK_F_BATCH_IO,
	.summary = "RAID0 over 2-4 files or block devices",
	.opts = stripe_opts,
	.notes =
		"  Chunk k is on member k % n, the members in the order of -f.\n"
		"  Size: n x the smallest member, in whole chunks.\n"
		"  A request spans at most 16 chunks (--max-io-size is lowered).\n",
	.parse_opt = stripe_parse_opt,
	.init = stripe_init,
	.deinit = stripe_deinit,
	.save = stripe_save,
	.check_resize = stripe_check_resize,
	.queue_io = stripe_queue_io,
	.io_done = stripe_io_done,
};
