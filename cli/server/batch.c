// SPDX-License-Identifier: GPL-2.0
/*
 * Batch I/O mode, whole: element encoding, commit lists and their resend,
 * fetch buffers, PREP, the multishot fetches and their CQEs (see batch.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ublkctl/batch.h"
#include "ublkctl/compat.h"
#include "ublkctl/server.h"
#include "ublkctl/ublkctl.h"

unsigned int ublk_batch_elem_bytes(uint16_t flags)
{
	unsigned int n = sizeof(struct ublk_elem_header);

	if (flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		n += sizeof(uint64_t);
	if (flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		n += sizeof(uint64_t);
	return n;
}

uint16_t ublk_batch_cmd_flags(uint64_t dev_flags, bool auto_zc_fallback)
{
	uint16_t f = 0;

	/* a zone append's commit says where the data went */
	if (dev_flags & UBLK_F_ZONED)
		f |= UBLK_BATCH_F_HAS_ZONE_LBA;
	if (dev_flags & UBLK_F_AUTO_BUF_REG) {
		if (auto_zc_fallback)
			f |= UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK;
	} else if (!(dev_flags &
		     (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY))) {
		f |= UBLK_BATCH_F_HAS_BUF_ADDR;
	}
	return f;
}

/*
 * The per-request path (element built, encoded and queued) is inlined into
 * ublk_batch_complete(): with the element in registers it is a few stores.
 */
#define BATCH_INLINE static inline __attribute__((always_inline))

/* One element at p, as flags lay it out: header, buf_addr, zone LBA. */
BATCH_INLINE void encode_parts(unsigned char *p, uint16_t flags,
			       const struct ublk_elem_header *h,
			       uint64_t buf_addr, uint64_t zone_lba)
{
	memcpy(p, h, sizeof(*h));
	p += sizeof(*h);
	if (flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
		memcpy(p, &buf_addr, sizeof(buf_addr));
		p += sizeof(buf_addr);
	}
	if (flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		memcpy(p, &zone_lba, sizeof(zone_lba));
}

BATCH_INLINE void encode_elem(unsigned char *p, uint16_t flags,
			      const struct ublk_batch_elem *e)
{
	struct ublk_elem_header h = {
		.tag = e->tag,
		.buf_index = e->buf_index,
		.result = e->result,
	};

	encode_parts(p, flags, &h, e->buf_addr, e->zone_lba);
}

void ublk_batch_decode(const void *wire, uint16_t flags, unsigned int i,
		       struct ublk_batch_elem *out)
{
	const unsigned char *p = (const unsigned char *)wire +
				 (size_t)i * ublk_batch_elem_bytes(flags);
	struct ublk_elem_header h;

	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	memset(out, 0, sizeof(*out));
	out->tag = h.tag;
	out->buf_index = h.buf_index;
	out->result = h.result;
	if (flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
		memcpy(&out->buf_addr, p, sizeof(uint64_t));
		p += sizeof(uint64_t);
	}
	if (flags & UBLK_BATCH_F_HAS_ZONE_LBA)
		memcpy(&out->zone_lba, p, sizeof(uint64_t));
}

BATCH_INLINE bool commit_put(struct ublk_batch_commit *c,
			     const struct ublk_batch_elem *e)
{
	if (c->busy || c->nr >= c->cap)
		return false;
	encode_elem(c->wire + (size_t)c->nr * c->elem_bytes, c->flags, e);
	c->nr++;
	return true;
}

bool ublk_batch_commit_add(struct ublk_batch_commit *c,
			   const struct ublk_batch_elem *e)
{
	return commit_put(c, e);
}

void ublk_batch_commit_chunk(const struct ublk_batch_commit *c,
			     unsigned int *off, unsigned int *nr)
{
	*off = c->sent * c->elem_bytes;
	*nr = c->nr - c->sent;
}

int ublk_batch_commit_complete(struct ublk_batch_commit *c, int res,
			       unsigned int *dropped)
{
	unsigned int left = c->nr - c->sent;

	if (res >= 0) {
		unsigned int handled = (unsigned int)res / c->elem_bytes;

		if (handled > left)
			handled = left;
		/* A zero-byte success would resend forever: drop one. */
		if (!handled && left) {
			handled = 1;
			(*dropped)++;
		}
		c->sent += handled;
	} else if (res == -ENODEV) {
		*dropped += left;
		c->sent = c->nr;
	} else {
		(*dropped)++;
		c->sent++;
	}
	if (c->sent >= c->nr) {
		c->busy = false;
		c->nr = c->sent = 0;
		return UBLK_COMMIT_DONE;
	}
	return UBLK_COMMIT_RESEND;
}

unsigned int ublk_batch_fetch_tags(struct ublk_batch_fetch *f, int res,
				   uint16_t **tags)
{
	unsigned int n;

	*tags = f->buf + f->off / sizeof(uint16_t);
	if (res <= 0 || f->off >= f->bytes)
		return 0;
	n = (unsigned int)res;
	if (n > f->bytes - f->off)
		n = f->bytes - f->off;
	f->off += n;
	return n / sizeof(uint16_t);
}

enum ublk_fetch_next ublk_batch_fetch_next(int res, unsigned int cqe_flags)
{
	if (cqe_flags & IORING_CQE_F_MORE)
		return UBLK_FETCH_ARMED;
	if (res == -ENOBUFS)
		return UBLK_FETCH_REFILL;
	if (res == -ENODEV || res == -ECANCELED)
		return UBLK_FETCH_END;
	if (res < 0)
		return UBLK_FETCH_FAILED;
	/* With IOU_PBUF_RING_INC the kernel keeps a buffer that has room. */
	return (cqe_flags & IORING_CQE_F_BUF_MORE) ? UBLK_FETCH_REARM :
						     UBLK_FETCH_REFILL;
}

void ublk_batch_map(unsigned int nthreads, unsigned int nqueues, bool *map)
{
	unsigned int i, n = nthreads > nqueues ? nthreads : nqueues;

	memset(map, 0, (size_t)nthreads * nqueues * sizeof(*map));
	for (i = 0; i < n; i++)
		map[(i % nthreads) * nqueues + i % nqueues] = true;
}

unsigned int ublk_io_thread(unsigned int nthreads, unsigned int depth,
			    bool share, unsigned int q, unsigned int tag)
{
	if (!share)
		return q % nthreads;
	return (q * depth + tag) % nthreads;
}

/* ------------------------------------------------------ server hooks */

/* user_data: UBLK_BATCH_USER_DATA, kind 32-33, slot 0-31. */
#define UD_KIND_SHIFT 32
enum { UD_PREP = 1, UD_FETCH = 2, UD_COMMIT = 3 };

static uint64_t ud_make(unsigned int kind, unsigned int slot)
{
	return UBLK_BATCH_USER_DATA | (uint64_t)kind << UD_KIND_SHIFT | slot;
}

static unsigned int ud_kind(uint64_t ud)
{
	return (ud >> UD_KIND_SHIFT) & 3;
}

static unsigned int ud_slot(uint64_t ud)
{
	return (unsigned int)ud;
}

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

int ublk_batch_dev_create(struct ublk_queue *queues, unsigned int nr_queues,
			  unsigned int depth, unsigned int nr_threads,
			  uint32_t dev_id, uint64_t dev_flags, bool fallback,
			  bool force_miss, struct ublk_batch_dev **out)
{
	struct ublk_batch_dev *d;
	int ret;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->map = calloc((size_t)nr_threads * nr_queues, sizeof(*d->map));
	if (!d->map) {
		free(d);
		return -ENOMEM;
	}
	d->queues = queues;
	d->nr_queues = nr_queues;
	d->depth = depth;
	d->nr_threads = nr_threads;
	d->dev_id = dev_id;
	d->flags = ublk_batch_cmd_flags(dev_flags, fallback);
	d->force_miss = force_miss;
	ublk_batch_map(nr_threads, nr_queues, d->map);
	ret = -pthread_barrier_init(&d->prepared, NULL, nr_threads);
	if (ret) {
		ublk_errno(-ret, "device %u: barrier", dev_id);
		ublk_batch_dev_destroy(d);
		return ret;
	}
	d->barrier_ok = true;
	*out = d;
	return 0;
}

void ublk_batch_dev_destroy(struct ublk_batch_dev *d)
{
	if (!d)
		return;
	if (d->barrier_ok)
		pthread_barrier_destroy(&d->prepared);
	free(d->map);
	free(d);
}

bool ublk_batch_serves(const struct ublk_batch_dev *d, unsigned int t,
		       unsigned int q)
{
	return d->map[t * d->nr_queues + q];
}

static int fetch_slot_init(struct ublk_batch_thread *bt, unsigned int i)
{
	struct ublk_batch_fetch_slot *f = &bt->fetch[i];
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	struct io_uring_buf_reg reg;
	int ret;

	f->bq = &bt->bqs[i / UBLK_BATCH_NR_FETCH];
	f->fetch.bytes = (unsigned int)round_up(
		(size_t)bt->dev->depth * sizeof(*f->fetch.buf), pg);
	if (posix_memalign((void **)&f->fetch.buf, pg, f->fetch.bytes)) {
		f->fetch.buf = NULL;
		return -ENOMEM;
	}
	f->br = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->br == MAP_FAILED) {
		f->br = NULL;
		return -ENOMEM;
	}
	io_uring_buf_ring_init(f->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)f->br;
	reg.ring_entries = 1;
	reg.bgid = (uint16_t)i;
	reg.pad = UBLKCTL_PBUF_RING_INC;
	ret = io_uring_register_buf_ring(bt->ring, &reg, 0);
	if (ret)
		ublk_err("thread %u: incremental provided-buffer ring: %s",
			 bt->idx, strerror(-ret));
	return ret;
}

static int queue_init(struct ublk_batch_thread *bt, struct ublk_batch_queue *bq,
		      unsigned int q)
{
	const struct ublk_batch_dev *d = bt->dev;
	unsigned int bytes = ublk_batch_elem_bytes(d->flags);
	unsigned int u, c;

	bq->q = &d->queues[q];
	bt->bq_of[q] = bq;
	/* auto-zc: the tag's table slot (ublk_io_buf_index()), or a miss */
	bq->idx_base = 0;
	bq->idx_mask = 0;
	if (bq->q->auto_zc && d->force_miss) {
		bq->idx_base = UINT16_MAX;
	} else if (bq->q->auto_zc) {
		bq->idx_base = (uint16_t)ublk_io_buf_index(bq->q, 0);
		bq->idx_mask = UINT16_MAX;
	}
	/* The first thread that serves a queue prepares it. */
	bq->prep = true;
	for (u = 0; u < bt->idx; u++)
		if (ublk_batch_serves(d, u, q))
			bq->prep = false;
	for (c = 0; c < UBLK_BATCH_NR_COMMIT; c++) {
		struct ublk_batch_commit *cm = &bq->commit[c];

		cm->flags = d->flags;
		cm->elem_bytes = (uint8_t)bytes;
		cm->cap = d->depth;
		cm->wire = calloc(d->depth, bytes);
		if (!cm->wire)
			return -ENOMEM;
	}
	return 0;
}

int ublk_batch_thread_init(const struct ublk_batch_dev *d, unsigned int idx,
			   struct io_uring *ring,
			   struct ublk_batch_thread **out)
{
	struct ublk_batch_thread *bt;
	unsigned int q, i, n = 0;
	int ret;

	*out = bt = calloc(1, sizeof(*bt));
	if (!bt)
		return -ENOMEM;
	bt->dev = d;
	bt->ring = ring;
	bt->idx = idx;
	for (q = 0; q < d->nr_queues; q++)
		n += ublk_batch_serves(d, idx, q);
	bt->bqs = calloc(n, sizeof(*bt->bqs));
	bt->bq_of = calloc(d->nr_queues, sizeof(*bt->bq_of));
	bt->fetch = calloc((size_t)n * UBLK_BATCH_NR_FETCH, sizeof(*bt->fetch));
	if (!bt->bqs || !bt->bq_of || !bt->fetch)
		return -ENOMEM;
	bt->nr_bqs = n;
	bt->nr_fetch = n * UBLK_BATCH_NR_FETCH;
	for (q = 0, n = 0; q < d->nr_queues; q++) {
		if (!ublk_batch_serves(d, idx, q))
			continue;
		ret = queue_init(bt, &bt->bqs[n++], q);
		if (ret)
			return ret;
	}
	for (i = 0; i < bt->nr_fetch; i++) {
		ret = fetch_slot_init(bt, i);
		if (ret)
			return ret;
	}
	return 0;
}

void ublk_batch_thread_free(struct ublk_batch_thread *bt)
{
	unsigned int i, c;

	if (!bt)
		return;
	for (i = 0; bt->fetch && i < bt->nr_fetch; i++) {
		if (bt->fetch[i].br)
			munmap(bt->fetch[i].br, (size_t)sysconf(_SC_PAGESIZE));
		free(bt->fetch[i].fetch.buf);
	}
	for (i = 0; bt->bqs && i < bt->nr_bqs; i++)
		for (c = 0; c < UBLK_BATCH_NR_COMMIT; c++)
			free(bt->bqs[i].commit[c].wire);
	free(bt->fetch);
	free(bt->bqs);
	free(bt->bq_of);
	free(bt);
}

static struct io_uring_sqe *batch_sqe(struct ublk_batch_thread *bt,
				      uint32_t cmd_op, uint16_t q_id,
				      uint16_t flags, uint16_t nr_elem,
				      uint8_t elem_bytes)
{
	struct io_uring_sqe *sqe = ublk_ring_get_sqe(bt->ring);
	struct ublk_batch_io *cmd = (struct ublk_batch_io *)sqe->cmd;

	ublk_prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q_id;
	cmd->flags = flags;
	cmd->nr_elem = nr_elem;
	cmd->elem_bytes = elem_bytes;
	return sqe;
}

/* The element that hands (bq's queue, tag) back to the kernel with res. */
BATCH_INLINE void elem_of(const struct ublk_batch_queue *bq, uint16_t flags,
			  unsigned int tag, int res, struct ublk_batch_elem *e)
{
	const struct ublk_io *io = &bq->q->ios[tag];

	e->tag = (uint16_t)tag;
	e->buf_index = (uint16_t)(bq->idx_base + (tag & bq->idx_mask));
	e->result = res;
	e->buf_addr = (flags & UBLK_BATCH_F_HAS_BUF_ADDR) ?
			      (uint64_t)(uintptr_t)io->buf :
			      0;
	/* read by the driver for a ZONE_APPEND only */
	e->zone_lba =
		(flags & UBLK_BATCH_F_HAS_ZONE_LBA) ? io->zone_append_lba : 0;
}

/* PREP_IO_CMDS of every tag of bq's queue, built in its open commit list. */
static int prep_queue(struct ublk_batch_thread *bt, struct ublk_batch_queue *bq)
{
	struct ublk_batch_commit *c = &bq->commit[bq->open];
	struct ublk_batch_elem e;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int tag;
	int ret;

	for (tag = 0; tag < bt->dev->depth; tag++) {
		elem_of(bq, c->flags, tag, 0, &e);
		ublk_batch_commit_add(c, &e);
	}
	sqe = batch_sqe(bt, UBLK_U_IO_PREP_IO_CMDS, bq->q->q_id, c->flags,
			(uint16_t)c->nr, c->elem_bytes);
	sqe->addr = (uint64_t)(uintptr_t)c->wire;
	sqe->len = c->nr * c->elem_bytes;
	sqe->user_data = ud_make(UD_PREP, (unsigned int)(bq - bt->bqs));
	do {
		ret = io_uring_submit_and_wait(bt->ring, 1);
	} while (ret == -EINTR);
	if (ret >= 0) {
		do {
			ret = io_uring_wait_cqe(bt->ring, &cqe);
		} while (ret == -EINTR);
	}
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(bt->ring, cqe);
	}
	c->nr = 0;
	if (ret < 0)
		ublk_err("device %u: queue %u: PREP_IO_CMDS: %s",
			 bt->dev->dev_id, bq->q->q_id, strerror(-ret));
	return ret < 0 ? ret : 0;
}

int ublk_batch_prep(struct ublk_batch_thread *bt)
{
	unsigned int i;
	int ret;

	for (i = 0; i < bt->nr_bqs; i++) {
		if (!bt->bqs[i].prep)
			continue;
		ret = prep_queue(bt, &bt->bqs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

void ublk_batch_wait_prepared(struct ublk_batch_dev *d)
{
	pthread_barrier_wait(&d->prepared);
}

static void fetch_arm(struct ublk_batch_thread *bt, unsigned int i, bool refill)
{
	struct ublk_batch_fetch_slot *f = &bt->fetch[i];
	struct io_uring_sqe *sqe;

	if (refill) {
		f->fetch.off = 0;
		io_uring_buf_ring_add(f->br, f->fetch.buf, f->fetch.bytes, 0,
				      io_uring_buf_ring_mask(1), 0);
		io_uring_buf_ring_advance(f->br, 1);
	}
	sqe = batch_sqe(bt, UBLK_U_IO_FETCH_IO_CMDS, f->bq->q->q_id, 0,
			f->bq->q->depth, sizeof(*f->fetch.buf));
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)i;
	sqe->user_data = ud_make(UD_FETCH, i);
	f->armed = true;
	bt->inflight++;
}

void ublk_batch_arm(struct ublk_batch_thread *bt)
{
	unsigned int i;

	for (i = 0; i < bt->nr_fetch; i++)
		fetch_arm(bt, i, true);
}

/* Drop tags the queue cannot have (kept in order); returns those left. */
static unsigned int valid_tags(const struct ublk_batch_thread *bt,
			       const struct ublk_queue *q, uint16_t *tags,
			       unsigned int n)
{
	unsigned int k, kept = 0;

	for (k = 0; k < n; k++) {
		if (tags[k] >= q->depth) {
			ublk_err("device %u: queue %u: bad tag %u fetched",
				 bt->dev->dev_id, q->q_id, tags[k]);
			continue;
		}
		tags[kept++] = tags[k];
	}
	return kept;
}

static void fetch_cqe(struct ublk_batch_thread *bt,
		      const struct io_uring_cqe *cqe, bool stopping,
		      struct ublk_batch_event *ev)
{
	unsigned int i = ud_slot(cqe->user_data);
	struct ublk_batch_fetch_slot *f = &bt->fetch[i];
	enum ublk_fetch_next next;
	uint16_t *tags;
	unsigned int n;

	n = ublk_batch_fetch_tags(&f->fetch, cqe->res, &tags);
	ev->q = f->bq->q;
	ev->tags = tags;
	ev->nr_tags = valid_tags(bt, ev->q, tags, n);
	next = ublk_batch_fetch_next(cqe->res, cqe->flags);
	if (next == UBLK_FETCH_ARMED)
		return;
	f->armed = false;
	bt->inflight--;
	switch (next) {
	case UBLK_FETCH_FAILED:
		ublk_err("device %u: queue %u: fetch failed: %s",
			 bt->dev->dev_id, ev->q->q_id, strerror(-cqe->res));
		ev->err = cqe->res;
		ev->stop = true;
		break;
	case UBLK_FETCH_END:
		ev->stop = true;
		break;
	default:
		if (!stopping)
			fetch_arm(bt, i, next == UBLK_FETCH_REFILL);
		break;
	}
}

static void commit_send(struct ublk_batch_thread *bt,
			struct ublk_batch_queue *bq, unsigned int ci)
{
	struct ublk_batch_commit *c = &bq->commit[ci];
	struct io_uring_sqe *sqe;
	unsigned int off, nr;

	ublk_batch_commit_chunk(c, &off, &nr);
	sqe = batch_sqe(bt, UBLK_U_IO_COMMIT_IO_CMDS, bq->q->q_id, c->flags,
			(uint16_t)nr, c->elem_bytes);
	sqe->addr = (uint64_t)(uintptr_t)(c->wire + off);
	sqe->len = nr * c->elem_bytes;
	sqe->user_data = ud_make(
		UD_COMMIT,
		(unsigned int)(bq - bt->bqs) * UBLK_BATCH_NR_COMMIT + ci);
	c->busy = true;
	bt->inflight++;
	bt->commits_queued++;
}

static void commit_cqe(struct ublk_batch_thread *bt,
		       const struct io_uring_cqe *cqe)
{
	unsigned int slot = ud_slot(cqe->user_data);
	struct ublk_batch_queue *bq = &bt->bqs[slot / UBLK_BATCH_NR_COMMIT];
	unsigned int ci = slot % UBLK_BATCH_NR_COMMIT;
	unsigned int dropped = 0;

	bt->inflight--;
	if (ublk_batch_commit_complete(&bq->commit[ci], cqe->res, &dropped) ==
	    UBLK_COMMIT_RESEND)
		commit_send(bt, bq, ci);
	if (dropped && cqe->res != -ENODEV)
		ublk_err("device %u: queue %u: commit dropped %u I/O: %s",
			 bt->dev->dev_id, bq->q->q_id, dropped,
			 cqe->res < 0 ? strerror(-cqe->res) : "no progress");
}

void ublk_batch_cqe(struct ublk_batch_thread *bt,
		    const struct io_uring_cqe *cqe, bool stopping,
		    struct ublk_batch_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	switch (ud_kind(cqe->user_data)) {
	case UD_FETCH:
		fetch_cqe(bt, cqe, stopping, ev);
		break;
	case UD_COMMIT:
		commit_cqe(bt, cqe);
		break;
	default:
		/* PREP is awaited in ublk_batch_prep(). */
		break;
	}
}

/* A zoned device's element, a full or busy list, a queue not served. */
static __attribute__((noinline)) void
complete_slow(struct ublk_batch_thread *bt, struct ublk_batch_queue *bq,
	      struct ublk_queue *q, unsigned int tag, int res)
{
	struct ublk_batch_elem e;

	if (bq) {
		struct ublk_batch_commit *c = &bq->commit[bq->open];

		elem_of(bq, c->flags, tag, res, &e);
		if (commit_put(c, &e))
			return;
	}
	ublk_err("device %u: queue %u tag %u: no room to commit",
		 bt->dev->dev_id, q->q_id, tag);
}

void ublk_batch_complete(struct ublk_batch_thread *bt, struct ublk_queue *q,
			 unsigned int tag, int res)
{
	struct ublk_batch_queue *bq = bt->bq_of[q->q_id];
	struct ublk_batch_commit *c;

	if (!bq)
		goto slow;
	c = &bq->commit[bq->open];
	/* no zone LBA (zoned devices only): the header, a buffer address */
	if (!(c->flags & UBLK_BATCH_F_HAS_ZONE_LBA) && !c->busy &&
	    c->nr < c->cap) {
		unsigned char *p = c->wire + (size_t)c->nr++ * c->elem_bytes;
		struct ublk_elem_header h = {
			.tag = (uint16_t)tag,
			.buf_index =
				(uint16_t)(bq->idx_base + (tag & bq->idx_mask)),
			.result = res,
		};
		uint64_t addr = (c->flags & UBLK_BATCH_F_HAS_BUF_ADDR) ?
					(uint64_t)(uintptr_t)q->ios[tag].buf :
					0;

		encode_parts(p, c->flags, &h, addr, 0);
		return;
	}
slow:
	complete_slow(bt, bq, q, tag, res);
}

/* A list of bq other than the open one with no command in flight. */
static bool next_open(const struct ublk_batch_queue *bq, unsigned int *ci)
{
	unsigned int i;

	for (i = 1; i < UBLK_BATCH_NR_COMMIT; i++) {
		unsigned int c = (bq->open + i) % UBLK_BATCH_NR_COMMIT;

		if (!bq->commit[c].busy) {
			*ci = c;
			return true;
		}
	}
	return false;
}

unsigned int ublk_batch_flush(struct ublk_batch_thread *bt)
{
	unsigned int i, ci, n;

	for (i = 0; i < bt->nr_bqs; i++) {
		struct ublk_batch_queue *bq = &bt->bqs[i];

		if (!bq->commit[bq->open].nr || !next_open(bq, &ci))
			continue;
		commit_send(bt, bq, bq->open);
		bq->open = ci;
	}
	n = bt->commits_queued;
	bt->commits_queued = 0;
	return n;
}

unsigned int ublk_batch_inflight(const struct ublk_batch_thread *bt)
{
	return bt->inflight;
}
