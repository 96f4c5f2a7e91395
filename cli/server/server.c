// SPDX-License-Identifier: GPL-2.0
/*
 * Server threads: one io_uring per thread, per-I/O (FETCH / COMMIT_AND_FETCH)
 * or batch (PREP / FETCH_IO_CMDS / COMMIT_IO_CMDS) commands, copy, user
 * copy, zero copy and auto buffer registration. The I/O path neither
 * allocates nor locks: everything is sized at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ublkctl/batch.h"
#include "ublkctl/compat.h"
#include "ublkctl/ctrl.h"
#include "ublkctl/cmdutil.h"
#include "ublkctl/server.h"

/* user_data: tag 0-15, q_id 16-27, op 28-35, slot 36-51, target bit 63. */
#define UD_QID_SHIFT 16
#define UD_OP_SHIFT 28
#define UD_SLOT_SHIFT 36
#define UD_TGT (1ULL << 63)
/* A target's thread SQE: op 40-47, arg 0-39. */
#define UD_TGT_THREAD (1ULL << 62)
#define UD_THREAD_OP_SHIFT 40
#define UD_THREAD_ARG_MASK ((1ULL << UD_THREAD_OP_SHIFT) - 1)

static inline uint64_t ud_make(unsigned int tag, unsigned int q_id,
			       unsigned int op, unsigned int slot)
{
	return (uint64_t)(tag & 0xffff) |
	       (uint64_t)(q_id & 0xfff) << UD_QID_SHIFT |
	       (uint64_t)(op & 0xff) << UD_OP_SHIFT |
	       (uint64_t)(slot & 0xffff) << UD_SLOT_SHIFT;
}

static inline unsigned int ud_tag(uint64_t ud)
{
	return ud & 0xffff;
}
static inline unsigned int ud_qid(uint64_t ud)
{
	return (ud >> UD_QID_SHIFT) & 0xfff;
}
static inline unsigned int ud_op(uint64_t ud)
{
	return (ud >> UD_OP_SHIFT) & 0xff;
}
static inline unsigned int ud_slot(uint64_t ud)
{
	return (ud >> UD_SLOT_SHIFT) & 0xffff;
}

#define NR_COMMIT_BUFS 4 /* COMMIT_IO_CMDS buffers per thread and queue */
#define NR_FETCH_PER_Q 2 /* multishot FETCH_IO_CMDS per thread and queue */
#define UBLK_CHAR_OPEN_MS 3000
#define COMMIT_WAIT_NS (10 * 1000 * 1000) /* see thread_wait() */

/* Batch: one multishot FETCH_IO_CMDS and its provided-buffer ring. */
struct fetch_slot {
	struct ublk_batch_fetch fetch;
	struct io_uring_buf_ring *br;
	struct ublk_queue *q;
	bool armed;
};

/* Batch: a queue this thread serves. */
struct thread_queue {
	struct ublk_queue *q;
	bool prep; /* this thread sends the PREP */
	struct ublk_batch_gather gather;
	struct ublk_batch_commit commit[NR_COMMIT_BUFS];
};

struct ublk_thread {
	struct io_uring ring;
	struct ublk_srv *srv;
	pthread_t tid;
	unsigned int idx;
	unsigned int cmd_inflight; /* ublk uring_cmds in flight */
	unsigned int tgt_inflight; /* I/Os the target holds */
	/*
	 * COMMIT_IO_CMDS queued since the last reaping pass: the driver
	 * completes them during submission, and their CQEs only free commit
	 * buffers, so the next wait asks for one CQE more than these:
	 * submitting them and waiting for new work take one io_uring_enter.
	 * (Not so for a target's NOPs: their CQEs are what lets the I/O be
	 * committed, so they must be reaped at once.)
	 */
	unsigned int commits_queued;
	bool stopping;
	bool started;
	bool ring_ok;
	bool tgt_thread_ok; /* the target's thread_init succeeded */
	int err;
	void *tgt_priv; /* from the target's thread_init */
	char status[64]; /* ublk_thread_set_status(), under srv->status_lock */
	/* batch */
	struct thread_queue *tqs;
	unsigned int nr_tqs;
	struct thread_queue **tq_of; /* by q_id, NULL if not served */
	struct fetch_slot *fetch;
	unsigned int nr_fetch;
	void *prep_wire;
} __attribute__((aligned(64)));

struct ublk_srv {
	struct ublk_dev_cfg *cfg;
	uint64_t flags; /* granted UBLK_F_* */
	int char_fd;
	int exit_efd;
	unsigned int nr_queues, depth, nr_threads;
	struct ublk_queue *queues;
	struct ublk_thread *threads;
	size_t desc_map_len;
	bool batch;
	uint16_t batch_flags;
	bool fallback;
	bool force_miss; /* test knob: auto-zc index invalid */
	bool *map; /* batch thread/queue map */
	cpu_set_t *affinity; /* by queue, from GET_QUEUE_AFFINITY; or NULL */
	sem_t ready;
	/*
	 * Batch: every PREP before any FETCH. A queue being (re)prepared
	 * refuses fetches (-ENODEV) until all its tags are prepared, which
	 * matters after START_USER_RECOVERY.
	 */
	pthread_barrier_t prepared;
	bool barrier_ok;
	unsigned int exited; /* atomic */
	unsigned int failed; /* atomic */
	/* targets' status reports to the main thread */
	pthread_mutex_t status_lock;
	int status_efd;
};

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t round_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

/* ---------------------------------------------------------------- SQEs */

void ublk_reserve_sqes(struct ublk_thread *t, unsigned int n)
{
	while (io_uring_sq_space_left(&t->ring) < n) {
		int ret = io_uring_submit(&t->ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			break;
	}
}

struct io_uring_sqe *ublk_get_sqe(struct ublk_thread *t)
{
	struct io_uring_sqe *sqe;

	ublk_reserve_sqes(t, 1);
	sqe = io_uring_get_sqe(&t->ring);
	/* Sized at start for every command in flight: cannot fail. */
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

uint64_t ublk_tgt_user_data(const struct ublk_queue *q, unsigned int tag,
			    unsigned int op)
{
	return ud_make(tag, q->q_id, op, 0) | UD_TGT;
}

uint64_t ublk_tgt_thread_user_data(unsigned int op, uint64_t arg)
{
	return UD_TGT_THREAD | (uint64_t)(op & 0xff) << UD_THREAD_OP_SHIFT |
	       (arg & UD_THREAD_ARG_MASK);
}

void *ublk_thread_tgt_priv(const struct ublk_thread *t)
{
	return t->tgt_priv;
}

unsigned int ublk_thread_index(const struct ublk_thread *t)
{
	return t->idx;
}

void ublk_thread_set_status(struct ublk_thread *t, const char *status)
{
	struct ublk_srv *s = t->srv;
	uint64_t one = 1;

	pthread_mutex_lock(&s->status_lock);
	snprintf(t->status, sizeof(t->status), "%s", status);
	pthread_mutex_unlock(&s->status_lock);
	if (write(s->status_efd, &one, sizeof(one)) < 0)
		ublk_dbg("thread %u: status eventfd: %s", t->idx,
			 strerror(errno));
}

int ublk_srv_status_fd(const struct ublk_srv *s)
{
	return s->status_efd;
}

void ublk_srv_status(struct ublk_srv *s, char *buf, size_t len)
{
	unsigned int i;
	uint64_t v;

	if (read(s->status_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		ublk_dbg("status eventfd: %s", strerror(errno));
	buf[0] = '\0';
	pthread_mutex_lock(&s->status_lock);
	for (i = 0; i < s->nr_threads && !buf[0]; i++)
		snprintf(buf, len, "%s", s->threads[i].status);
	pthread_mutex_unlock(&s->status_lock);
}

static void prep_uring_cmd(struct io_uring_sqe *sqe, uint32_t cmd_op)
{
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0; /* fixed file 0: /dev/ublkcN */
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->cmd_op = cmd_op;
}

static void prep_buf_cmd(struct io_uring_sqe *sqe, struct ublk_queue *q,
			 unsigned int tag, uint32_t cmd_op, unsigned int nr)
{
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->addr = ublk_io_buf_index(q, tag);
	sqe->user_data = ublk_tgt_user_data(q, tag, nr);
}

struct io_uring_sqe *ublk_zc_chain_begin(struct ublk_thread *t,
					 struct ublk_queue *q, unsigned int tag)
{
	struct io_uring_sqe *sqe;

	ublk_reserve_sqes(t, 3);
	sqe = ublk_get_sqe(t);
	prep_buf_cmd(sqe, q, tag, UBLK_U_IO_REGISTER_IO_BUF,
		     UBLK_IO_REGISTER_IO_BUF);
	sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
	return ublk_get_sqe(t);
}

void ublk_zc_chain_end(struct ublk_thread *t, struct ublk_queue *q,
		       unsigned int tag, struct io_uring_sqe *io_sqe)
{
	struct io_uring_sqe *sqe;

	io_sqe->flags |= IOSQE_IO_HARDLINK;
	io_sqe->buf_index = (uint16_t)ublk_io_buf_index(q, tag);
	sqe = ublk_get_sqe(t);
	prep_buf_cmd(sqe, q, tag, UBLK_U_IO_UNREGISTER_IO_BUF,
		     UBLK_IO_UNREGISTER_IO_BUF);
}

/* ------------------------------------------------------- per-I/O mode */

static uint64_t auto_buf_addr(const struct ublk_srv *s,
			      const struct ublk_queue *q, unsigned int tag)
{
	struct ublk_auto_buf_reg reg = {
		.index = s->force_miss ? UINT16_MAX :
					 (uint16_t)ublk_io_buf_index(q, tag),
		.flags = s->fallback ? UBLK_AUTO_BUF_REG_FALLBACK : 0,
	};

	return ublk_auto_buf_reg_to_sqe_addr(&reg);
}

static void queue_io_cmd(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, uint32_t cmd_op, unsigned int nr,
			 int result)
{
	struct io_uring_sqe *sqe = ublk_get_sqe(t);
	struct ublksrv_io_cmd *cmd = (struct ublksrv_io_cmd *)sqe->cmd;

	prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->result = result;
	if (q->auto_zc)
		sqe->addr = auto_buf_addr(t->srv, q, tag);
	else if (q->ios[tag].buf && !q->user_copy)
		cmd->addr = (uint64_t)(uintptr_t)q->ios[tag].buf;
	sqe->user_data = ud_make(tag, q->q_id, nr, 0);
	t->cmd_inflight++;
}

static uint64_t user_copy_off(const struct ublk_queue *q, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q->q_id << UBLK_QID_OFF |
					(uint64_t)tag << UBLK_TAG_OFF);
}

static int user_copy(struct ublk_queue *q, unsigned int tag, bool to_dev,
		     size_t len)
{
	char *buf = q->ios[tag].buf;
	uint64_t off = user_copy_off(q, tag);
	size_t done = 0;

	while (done < len) {
		ssize_t n = to_dev ? pwrite(q->char_fd, buf + done, len - done,
					    off + done) :
				     pread(q->char_fd, buf + done, len - done,
					   off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* A request arrived for (q, tag): hand it to the target. */
static void handle_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct ublk_io *io = &q->ios[tag];
	int ret;

	io->result = 0;
	io->pending = 0;
	t->tgt_inflight++;
	if (q->user_copy && ublksrv_get_op(iod) == UBLK_IO_OP_WRITE) {
		ret = user_copy(q, tag, false, (size_t)iod->nr_sectors << 9);
		if (ret) {
			ublk_complete_io(t, q, tag, ret);
			return;
		}
	}
	ret = q->tgt->ops->queue_io(t, q, tag);
	if (ret > 0)
		io->pending = (uint16_t)ret;
	else if (ret < 0)
		ublk_complete_io(t, q, tag, ret);
}

static void batch_complete(struct ublk_thread *t, struct ublk_queue *q,
			   unsigned int tag, int res);

void ublk_complete_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag, int res)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);

	t->tgt_inflight--;
	if (q->user_copy && res > 0 && ublksrv_get_op(iod) == UBLK_IO_OP_READ) {
		int ret = user_copy(q, tag, true, (size_t)res);

		if (ret)
			res = ret;
	}
	if (t->srv->batch)
		batch_complete(t, q, tag, res);
	else
		queue_io_cmd(t, q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ,
			     UBLK_IO_COMMIT_AND_FETCH_REQ, res);
}

static void record_result(struct ublk_io *io, int res)
{
	if (res < 0) {
		if (io->result >= 0)
			io->result = res;
	} else if (res > 0 && io->result >= 0) {
		io->result = res;
	}
}

void ublk_tgt_io_account(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, int res)
{
	struct ublk_io *io = &q->ios[tag];

	record_result(io, res);
	if (io->pending && --io->pending == 0)
		ublk_complete_io(t, q, tag, io->result);
}

static void handle_tgt_cqe(struct ublk_thread *t,
			   const struct io_uring_cqe *cqe)
{
	struct ublk_queue *q = &t->srv->queues[ud_qid(cqe->user_data)];
	unsigned int tag = ud_tag(cqe->user_data);
	unsigned int op = ud_op(cqe->user_data);

	if (op == UBLK_IO_REGISTER_IO_BUF) {
		/* Only failures post a CQE; the linked I/O fails too. */
		ublk_dbg("q%u tag %u: register buffer: %d", q->q_id, tag,
			 cqe->res);
		record_result(&q->ios[tag], cqe->res);
		return;
	}
	if (op == UBLK_IO_UNREGISTER_IO_BUF || !q->tgt->ops->io_done) {
		ublk_tgt_io_account(t, q, tag, cqe->res);
		return;
	}
	q->tgt->ops->io_done(t, q, tag, op, cqe);
}

static void handle_io_cmd_cqe(struct ublk_thread *t,
			      const struct io_uring_cqe *cqe)
{
	struct ublk_queue *q = &t->srv->queues[ud_qid(cqe->user_data)];
	unsigned int tag = ud_tag(cqe->user_data);

	t->cmd_inflight--;
	if (cqe->res == UBLK_IO_RES_OK && !t->stopping) {
		handle_io(t, q, tag);
		return;
	}
	if (cqe->res != UBLK_IO_RES_ABORT && cqe->res != UBLK_IO_RES_OK) {
		ublk_err("device %u: queue %u tag %u: I/O command failed: %s",
			 t->srv->cfg->info.dev_id, q->q_id, tag,
			 strerror(-cqe->res));
		t->err = cqe->res;
	}
	t->stopping = true;
}

/* ---------------------------------------------------------- batch mode */

static void batch_cmd(struct io_uring_sqe *sqe, uint32_t cmd_op, uint16_t q_id,
		      uint16_t flags, uint16_t nr_elem, uint8_t elem_bytes)
{
	struct ublk_batch_io *cmd = (struct ublk_batch_io *)sqe->cmd;

	prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q_id;
	cmd->flags = flags;
	cmd->nr_elem = nr_elem;
	cmd->elem_bytes = elem_bytes;
}

static void batch_elem_of(const struct ublk_srv *s, const struct ublk_queue *q,
			  unsigned int tag, int res, struct ublk_batch_elem *e)
{
	memset(e, 0, sizeof(*e));
	e->tag = (uint16_t)tag;
	e->result = res;
	if (q->auto_zc)
		e->buf_index = s->force_miss ?
				       UINT16_MAX :
				       (uint16_t)ublk_io_buf_index(q, tag);
	if (s->batch_flags & UBLK_BATCH_F_HAS_BUF_ADDR)
		e->buf_addr = (uint64_t)(uintptr_t)q->ios[tag].buf;
}

static void batch_complete(struct ublk_thread *t, struct ublk_queue *q,
			   unsigned int tag, int res)
{
	struct thread_queue *tq = t->tq_of[q->q_id];
	struct ublk_batch_elem e;

	batch_elem_of(t->srv, q, tag, res, &e);
	if (!tq || !ublk_batch_gather_add(&tq->gather, &e))
		ublk_err("device %u: queue %u tag %u: no room to commit",
			 t->srv->cfg->info.dev_id, q->q_id, tag);
}

static void commit_send(struct ublk_thread *t, struct thread_queue *tq,
			unsigned int ci)
{
	struct ublk_batch_commit *c = &tq->commit[ci];
	struct io_uring_sqe *sqe = ublk_get_sqe(t);
	unsigned int off, nr;

	ublk_batch_commit_chunk(c, &off, &nr);
	batch_cmd(sqe, UBLK_U_IO_COMMIT_IO_CMDS, tq->q->q_id, c->flags,
		  (uint16_t)nr, c->elem_bytes);
	sqe->addr = (uint64_t)(uintptr_t)((char *)c->wire + off);
	sqe->len = nr * c->elem_bytes;
	sqe->user_data =
		ud_make(0, tq->q->q_id, UBLK_IO_COMMIT_IO_CMDS,
			(unsigned int)(tq - t->tqs) * NR_COMMIT_BUFS + ci);
	t->cmd_inflight++;
	/* The driver handles a commit in the submitting task. */
	t->commits_queued++;
}

/* End of a reaping pass: one COMMIT_IO_CMDS per queue with completions. */
static void batch_flush(struct ublk_thread *t)
{
	unsigned int i, ci;

	for (i = 0; i < t->nr_tqs; i++) {
		struct thread_queue *tq = &t->tqs[i];

		for (ci = 0; tq->gather.nr && ci < NR_COMMIT_BUFS; ci++) {
			if (tq->commit[ci].busy)
				continue;
			if (ublk_batch_commit_fill(&tq->commit[ci],
						   &tq->gather))
				commit_send(t, tq, ci);
		}
	}
}

static void batch_commit_cqe(struct ublk_thread *t,
			     const struct io_uring_cqe *cqe)
{
	unsigned int slot = ud_slot(cqe->user_data);
	struct thread_queue *tq = &t->tqs[slot / NR_COMMIT_BUFS];
	unsigned int ci = slot % NR_COMMIT_BUFS;
	unsigned int dropped = 0;

	t->cmd_inflight--;
	if (ublk_batch_commit_complete(&tq->commit[ci], cqe->res, &dropped) ==
	    UBLK_COMMIT_RESEND)
		commit_send(t, tq, ci);
	if (dropped && cqe->res != -ENODEV)
		ublk_err("device %u: queue %u: commit dropped %u I/O: %s",
			 t->srv->cfg->info.dev_id, tq->q->q_id, dropped,
			 cqe->res < 0 ? strerror(-cqe->res) : "no progress");
}

static void fetch_arm(struct ublk_thread *t, unsigned int i, bool refill)
{
	struct fetch_slot *f = &t->fetch[i];
	struct io_uring_sqe *sqe;

	if (refill) {
		ublk_batch_fetch_reset(&f->fetch);
		io_uring_buf_ring_add(f->br, f->fetch.buf, f->fetch.bytes, 0,
				      io_uring_buf_ring_mask(1), 0);
		io_uring_buf_ring_advance(f->br, 1);
	}
	sqe = ublk_get_sqe(t);
	batch_cmd(sqe, UBLK_U_IO_FETCH_IO_CMDS, f->q->q_id, 0, f->q->depth,
		  sizeof(uint16_t));
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (uint16_t)i;
	sqe->user_data = ud_make(0, f->q->q_id, UBLK_IO_FETCH_IO_CMDS, i);
	f->armed = true;
	t->cmd_inflight++;
}

static void batch_fetch_cqe(struct ublk_thread *t,
			    const struct io_uring_cqe *cqe)
{
	unsigned int i = ud_slot(cqe->user_data);
	struct fetch_slot *f = &t->fetch[i];
	bool more = cqe->flags & IORING_CQE_F_MORE;
	const uint16_t *tags;
	unsigned int n, k;

	n = ublk_batch_fetch_tags(&f->fetch, cqe->res, &tags);
	for (k = 0; k < n; k++) {
		if (tags[k] >= f->q->depth) {
			ublk_err("device %u: queue %u: bad tag %u fetched",
				 t->srv->cfg->info.dev_id, f->q->q_id, tags[k]);
			continue;
		}
		handle_io(t, f->q, tags[k]);
	}
	if (more)
		return;
	t->cmd_inflight--;
	f->armed = false;
	if (cqe->res < 0 && cqe->res != -ENOBUFS) {
		if (cqe->res != -ENODEV && cqe->res != -ECANCELED) {
			ublk_err("device %u: queue %u: fetch failed: %s",
				 t->srv->cfg->info.dev_id, f->q->q_id,
				 strerror(-cqe->res));
			t->err = cqe->res;
		}
		t->stopping = true;
		return;
	}
	if (t->stopping)
		return;
	/* Re-arm: refill the buffer unless the kernel left part of it. */
	fetch_arm(t, i,
		  !(cqe->flags & IORING_CQE_F_BUF_MORE) ||
			  cqe->res == -ENOBUFS);
}

/* ---------------------------------------------------------- thread loop */

static void handle_cqe(struct ublk_thread *t, const struct io_uring_cqe *cqe)
{
	if (cqe->user_data & UD_TGT) {
		handle_tgt_cqe(t, cqe);
		return;
	}
	if (cqe->user_data & UD_TGT_THREAD) {
		const struct target_ops *ops = t->srv->cfg->tgt.ops;

		if (ops->thread_cqe)
			ops->thread_cqe(t,
					(unsigned int)(cqe->user_data >>
						       UD_THREAD_OP_SHIFT) &
						0xff,
					cqe->user_data & UD_THREAD_ARG_MASK,
					cqe);
		return;
	}
	switch (ud_op(cqe->user_data)) {
	case UBLK_IO_FETCH_REQ:
	case UBLK_IO_COMMIT_AND_FETCH_REQ:
		handle_io_cmd_cqe(t, cqe);
		break;
	case UBLK_IO_FETCH_IO_CMDS:
		batch_fetch_cqe(t, cqe);
		break;
	case UBLK_IO_COMMIT_IO_CMDS:
		batch_commit_cqe(t, cqe);
		break;
	case UBLK_IO_PREP_IO_CMDS:
		t->cmd_inflight--;
		if (cqe->res < 0) {
			t->err = cqe->res;
			t->stopping = true;
		}
		break;
	default:
		break;
	}
}

/*
 * Wait for the next CQEs. After queueing commits, ask for one CQE more
 * than those; the timeout bounds the wait should that CQE not come (a
 * commit the driver handled only in part waits for our resend).
 */
static int thread_wait(struct ublk_thread *t)
{
	struct __kernel_timespec ts = { .tv_nsec = COMMIT_WAIT_NS };
	struct io_uring_cqe *cqe;
	unsigned int want = 1 + t->commits_queued;

	t->commits_queued = 0;
	if (want == 1 || t->stopping)
		return io_uring_submit_and_wait(&t->ring, 1);
	return io_uring_submit_and_wait_timeout(&t->ring, &cqe, want, &ts,
						NULL);
}

static void thread_loop(struct ublk_thread *t)
{
	struct io_uring_cqe *cqe;
	unsigned int head, count;
	int ret;

	/*
	 * A stopping thread ends once the target holds no request (its I/O
	 * always completes); ublk commands complete only when the device
	 * stops, which after an error nobody may do: the server exits so
	 * that the kernel sees it die.
	 */
	while (!(t->stopping && !t->tgt_inflight &&
		 (t->err || !t->cmd_inflight))) {
		ret = thread_wait(t);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN &&
		    ret != -EBUSY && ret != -ETIME) {
			ublk_err("device %u: thread %u: io_uring_enter: %s",
				 t->srv->cfg->info.dev_id, t->idx,
				 strerror(-ret));
			t->err = ret;
			break;
		}
		count = 0;
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			handle_cqe(t, cqe);
			count++;
		}
		io_uring_cq_advance(&t->ring, count);
		if (t->srv->batch)
			batch_flush(t);
	}
}

void ublk_thread_fail(struct ublk_thread *t, int err)
{
	t->tgt_inflight--; /* the kernel's now, not the target's */
	if (!t->err)
		t->err = err < 0 ? err : -EIO;
	t->stopping = true;
}

/* ------------------------------------------------------------ set up */

static int ring_init(struct ublk_thread *t, unsigned int sq, unsigned int cq)
{
	static const unsigned int tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			IORING_SETUP_COOP_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	unsigned int i;
	int ret = -EINVAL;

	for (i = 0; i < ARRAY_SIZE(tries); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(sq, &t->ring, &p);
		if (ret != -EINVAL && ret != -ENOSYS)
			break;
	}
	return ret;
}

static int batch_thread_init(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	size_t pg = page_size();
	unsigned int q, i, n = 0;
	int ret;

	for (q = 0; q < s->nr_queues; q++)
		n += s->map[t->idx * s->nr_queues + q];
	t->nr_tqs = n;
	t->tqs = calloc(n, sizeof(*t->tqs));
	t->tq_of = calloc(s->nr_queues, sizeof(*t->tq_of));
	t->nr_fetch = n * NR_FETCH_PER_Q;
	t->fetch = calloc(t->nr_fetch, sizeof(*t->fetch));
	if (!t->tqs || !t->tq_of || !t->fetch)
		return -ENOMEM;

	for (q = 0, n = 0; q < s->nr_queues; q++) {
		struct thread_queue *tq;
		unsigned int u, c;

		if (!s->map[t->idx * s->nr_queues + q])
			continue;
		tq = &t->tqs[n++];
		tq->q = &s->queues[q];
		t->tq_of[q] = tq;
		/* The first thread that serves a queue prepares it. */
		tq->prep = true;
		for (u = 0; u < t->idx; u++)
			if (s->map[u * s->nr_queues + q])
				tq->prep = false;
		tq->gather.cap = s->depth;
		tq->gather.elems = calloc(s->depth, sizeof(*tq->gather.elems));
		if (!tq->gather.elems)
			return -ENOMEM;
		for (c = 0; c < NR_COMMIT_BUFS; c++) {
			tq->commit[c].flags = s->batch_flags;
			tq->commit[c].elem_bytes =
				(uint8_t)ublk_batch_elem_bytes(s->batch_flags);
			tq->commit[c].cap = s->depth;
			tq->commit[c].wire = calloc(s->depth, 24);
			if (!tq->commit[c].wire)
				return -ENOMEM;
		}
	}

	for (i = 0; i < t->nr_fetch; i++) {
		struct fetch_slot *f = &t->fetch[i];
		struct io_uring_buf_reg reg;

		f->q = t->tqs[i / NR_FETCH_PER_Q].q;
		f->fetch.bytes =
			(unsigned int)round_up(s->depth * sizeof(uint16_t), pg);
		if (posix_memalign((void **)&f->fetch.buf, pg, f->fetch.bytes))
			return -ENOMEM;
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
		ret = io_uring_register_buf_ring(&t->ring, &reg, 0);
		if (ret) {
			ublk_err(
				"thread %u: incremental provided-buffer ring: %s",
				t->idx, strerror(-ret));
			return ret;
		}
		f->fetch.off = 0;
	}
	return 0;
}

static int batch_prep(struct ublk_thread *t, struct thread_queue *tq)
{
	struct ublk_srv *s = t->srv;
	unsigned int bytes = ublk_batch_elem_bytes(s->batch_flags);
	struct ublk_batch_elem e;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned int tag;
	char *wire;
	int ret;

	wire = calloc(s->depth, bytes);
	if (!wire)
		return -ENOMEM;
	for (tag = 0; tag < s->depth; tag++) {
		batch_elem_of(s, tq->q, tag, 0, &e);
		ublk_batch_encode(wire + (size_t)tag * bytes, 1, s->batch_flags,
				  &e, 1);
	}
	sqe = ublk_get_sqe(t);
	batch_cmd(sqe, UBLK_U_IO_PREP_IO_CMDS, tq->q->q_id, s->batch_flags,
		  (uint16_t)s->depth, (uint8_t)bytes);
	sqe->addr = (uint64_t)(uintptr_t)wire;
	sqe->len = s->depth * bytes;
	sqe->user_data = ud_make(0, tq->q->q_id, UBLK_IO_PREP_IO_CMDS, 0);
	do {
		ret = io_uring_submit_and_wait(&t->ring, 1);
	} while (ret == -EINTR);
	if (ret >= 0) {
		do {
			ret = io_uring_wait_cqe(&t->ring, &cqe);
		} while (ret == -EINTR);
	}
	if (ret >= 0) {
		ret = cqe->res;
		io_uring_cqe_seen(&t->ring, cqe);
	}
	free(wire);
	if (ret < 0)
		ublk_err("device %u: queue %u: PREP_IO_CMDS: %s",
			 s->cfg->info.dev_id, tq->q->q_id, strerror(-ret));
	return ret < 0 ? ret : 0;
}

static unsigned int thread_nr_ios(const struct ublk_thread *t)
{
	const struct ublk_srv *s = t->srv;
	unsigned int q, tag, n = 0;

	if (s->batch) {
		for (q = 0; q < s->nr_queues; q++)
			n += s->map[t->idx * s->nr_queues + q] ? s->depth : 0;
		return n;
	}
	for (q = 0; q < s->nr_queues; q++)
		for (tag = 0; tag < s->depth; tag++)
			n += ublk_io_thread(s->nr_threads, s->nr_queues,
					    s->depth, q, tag) == t->idx;
	return n;
}

static int thread_init(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	unsigned int nr_ios = thread_nr_ios(t);
	unsigned int sq = 64, cq;
	int fds[1 + UBLK_TGT_MAX_FDS];
	int i, ret;

	/* Up to 3 SQEs per I/O (zero copy chain) plus commands. */
	while (sq < nr_ios * 4 + 64 && sq < 4096)
		sq <<= 1;
	cq = sq * 2;
	ret = ring_init(t, sq, cq);
	if (ret) {
		ublk_err("thread %u: io_uring setup: %s", t->idx,
			 strerror(-ret));
		return ret;
	}
	t->ring_ok = true;
	fds[0] = s->char_fd;
	for (i = 0; i < s->cfg->tgt.nr_fds; i++)
		fds[1 + i] = s->cfg->tgt.fds[i];
	ret = io_uring_register_files(&t->ring, fds, 1 + s->cfg->tgt.nr_fds);
	if (ret) {
		ublk_err("thread %u: register files: %s", t->idx,
			 strerror(-ret));
		return ret;
	}
	if (s->flags & (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG)) {
		ret = io_uring_register_buffers_sparse(&t->ring,
						       s->nr_queues * s->depth);
		if (ret) {
			ublk_err("thread %u: sparse buffer table: %s", t->idx,
				 strerror(-ret));
			return ret;
		}
	}
	if (s->batch)
		return batch_thread_init(t);
	return 0;
}

/*
 * The target's per-thread state, once the ring is ready and (batch) the
 * queues are prepared, before the first FETCH: SQEs it queues go with
 * those commands, never ahead of a PREP whose CQE is awaited alone.
 */
static int thread_tgt_init(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	int ret;

	if (!s->cfg->tgt.ops->thread_init)
		return 0;
	ret = s->cfg->tgt.ops->thread_init(
		t, &s->cfg->tgt, s->nr_queues * s->depth, &t->tgt_priv);
	if (!ret)
		t->tgt_thread_ok = true;
	return ret;
}

/* Batch: PREP_IO_CMDS for the queues this thread prepares (synchronous). */
static int thread_prep(struct ublk_thread *t)
{
	unsigned int i;
	int ret;

	for (i = 0; i < t->nr_tqs; i++) {
		if (!t->tqs[i].prep)
			continue;
		ret = batch_prep(t, &t->tqs[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static int thread_start_cmds(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	struct io_uring_cqe *cqe;
	unsigned int q, tag, i;
	int ret;

	if (s->batch) {
		for (i = 0; i < t->nr_fetch; i++)
			fetch_arm(t, i, true);
	} else {
		for (q = 0; q < s->nr_queues; q++)
			for (tag = 0; tag < s->depth; tag++)
				if (ublk_io_thread(s->nr_threads, s->nr_queues,
						   s->depth, q, tag) == t->idx)
					queue_io_cmd(t, &s->queues[q], tag,
						     UBLK_U_IO_FETCH_REQ,
						     UBLK_IO_FETCH_REQ, 0);
	}
	do {
		ret = io_uring_submit(&t->ring);
	} while (ret == -EINTR);
	if (ret < 0) {
		ublk_err("thread %u: submit: %s", t->idx, strerror(-ret));
		return ret;
	}
	/* Commands the driver refused complete at once. */
	if (io_uring_peek_cqe(&t->ring, &cqe) == 0 && cqe->res < 0 &&
	    !(cqe->flags & IORING_CQE_F_MORE)) {
		ublk_err("device %u: thread %u: %s refused: %s",
			 s->cfg->info.dev_id, t->idx,
			 s->batch ? "FETCH_IO_CMDS" : "FETCH_REQ",
			 strerror(-cqe->res));
		return cqe->res;
	}
	return 0;
}

static bool thread_serves(const struct ublk_thread *t, unsigned int q)
{
	const struct ublk_srv *s = t->srv;
	unsigned int tag;

	if (s->batch)
		return s->map[t->idx * s->nr_queues + q];
	for (tag = 0; tag < s->depth; tag++)
		if (ublk_io_thread(s->nr_threads, s->nr_queues, s->depth, q,
				   tag) == t->idx)
			return true;
	return false;
}

/* Run on the CPUs of the queues this thread serves. */
static void thread_pin(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	cpu_set_t set;
	unsigned int q;
	int ret;

	if (!s->affinity)
		return;
	CPU_ZERO(&set);
	for (q = 0; q < s->nr_queues; q++)
		if (thread_serves(t, q))
			CPU_OR(&set, &set, &s->affinity[q]);
	if (!CPU_COUNT(&set))
		return;
	ret = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (ret)
		ublk_dbg("thread %u: affinity: %s", t->idx, strerror(ret));
}

static void *thread_fn(void *arg)
{
	struct ublk_thread *t = arg;
	struct ublk_srv *s = t->srv;
	uint64_t one = 1;
	int ret;

	thread_pin(t);
	ret = thread_init(t);
	if (s->batch) {
		if (!ret)
			ret = thread_prep(t);
		/* Every thread gets here, failed or not: no one waits forever. */
		pthread_barrier_wait(&s->prepared);
	}
	if (!ret)
		ret = thread_tgt_init(t);
	if (!ret)
		ret = thread_start_cmds(t);
	if (ret) {
		t->err = ret;
		__atomic_add_fetch(&s->failed, 1, __ATOMIC_SEQ_CST);
		sem_post(&s->ready);
		goto out;
	}
	t->started = true;
	sem_post(&s->ready);
	thread_loop(t);
	if (t->err)
		__atomic_add_fetch(&s->failed, 1, __ATOMIC_SEQ_CST);
out:
	if (t->tgt_thread_ok && s->cfg->tgt.ops->thread_exit)
		s->cfg->tgt.ops->thread_exit(t, &s->cfg->tgt, t->tgt_priv);
	t->tgt_thread_ok = false;
	__atomic_add_fetch(&s->exited, 1, __ATOMIC_SEQ_CST);
	if (s->exit_efd >= 0 && write(s->exit_efd, &one, sizeof(one)) < 0)
		ublk_dbg("thread %u: eventfd: %s", t->idx, strerror(errno));
	return NULL;
}

static int open_char(uint32_t id)
{
	int64_t deadline = ublk_deadline(UBLK_CHAR_OPEN_MS);
	char path[64];
	int nap = 10, fd, err;

	snprintf(path, sizeof(path), UBLK_CHAR_PATH_FMT, id);
	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		err = errno;
		if ((err != ENOENT && err != EBUSY && err != EACCES &&
		     err != EINTR) ||
		    !ublk_nap(deadline, &nap)) {
			ublk_errno(err, "device %u: %s", id, path);
			return -err;
		}
	}
}

int ublk_srv_create(struct ublk_dev_cfg *cfg, struct ublk_srv **out)
{
	const struct ublksrv_ctrl_dev_info *info = &cfg->info;
	size_t pg = page_size(), stride, len;
	struct ublk_srv *s;
	const char *env;
	unsigned int q, tag;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->flags = info->flags;
	s->exit_efd = -1;
	s->nr_queues = info->nr_hw_queues;
	s->depth = info->queue_depth;
	s->nr_threads = cfg->nthreads ? cfg->nthreads : s->nr_queues;
	s->batch = info->flags & UBLK_F_BATCH_IO;
	s->fallback = cfg->auto_zc_fallback;
	s->batch_flags = ublk_batch_cmd_flags(info->flags, s->fallback);
	env = getenv(UBLK_ENV_FORCE_NEED_REG_BUF);
	s->force_miss = s->fallback && env && *env && strcmp(env, "0");
	sem_init(&s->ready, 0, 0);
	pthread_mutex_init(&s->status_lock, NULL);
	s->status_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->status_efd < 0) {
		ret = -errno;
		ublk_errno(-ret, "device %u: eventfd", info->dev_id);
		s->char_fd = -1;
		goto fail;
	}
	s->char_fd = open_char(info->dev_id);
	if (s->char_fd < 0) {
		ret = s->char_fd;
		goto fail;
	}

	s->queues = aligned_alloc(
		64, round_up(s->nr_queues * sizeof(*s->queues), 64));
	s->threads = aligned_alloc(
		64, round_up(s->nr_threads * sizeof(*s->threads), 64));
	s->map = calloc((size_t)s->nr_threads * s->nr_queues, sizeof(bool));
	if (!s->queues || !s->threads || !s->map) {
		ret = -ENOMEM;
		goto fail;
	}
	memset(s->queues, 0, s->nr_queues * sizeof(*s->queues));
	memset(s->threads, 0, s->nr_threads * sizeof(*s->threads));
	if (s->batch)
		ublk_batch_map(s->nr_threads, s->nr_queues, s->map);

	stride = round_up(UBLK_MAX_QUEUE_DEPTH * sizeof(struct ublksrv_io_desc),
			  pg);
	len = round_up(s->depth * sizeof(struct ublksrv_io_desc), pg);
	s->desc_map_len = len;
	for (q = 0; q < s->nr_queues; q++) {
		struct ublk_queue *uq = &s->queues[q];
		void *p;

		uq->q_id = (uint16_t)q;
		uq->depth = (uint16_t)s->depth;
		uq->tgt = &cfg->tgt;
		uq->char_fd = s->char_fd;
		uq->auto_zc = info->flags & UBLK_F_AUTO_BUF_REG;
		uq->zc = !uq->auto_zc &&
			 (info->flags & UBLK_F_SUPPORT_ZERO_COPY);
		uq->user_copy = info->flags & UBLK_F_USER_COPY;
		p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE,
			 s->char_fd,
			 (off_t)(UBLKSRV_CMD_BUF_OFFSET + q * stride));
		if (p == MAP_FAILED) {
			ret = -errno;
			ublk_errno(-ret,
				   "device %u: queue %u: mmap descriptors",
				   info->dev_id, q);
			goto fail;
		}
		uq->descs = p;
		uq->ios = aligned_alloc(
			64, round_up(s->depth * sizeof(*uq->ios), 64));
		if (!uq->ios) {
			ret = -ENOMEM;
			goto fail;
		}
		memset(uq->ios, 0, s->depth * sizeof(*uq->ios));
		if (uq->auto_zc || uq->zc)
			continue;
		for (tag = 0; tag < s->depth; tag++) {
			if (posix_memalign(&uq->ios[tag].buf, pg,
					   info->max_io_buf_bytes)) {
				ret = -ENOMEM;
				ublk_errno(ENOMEM, "device %u: I/O buffers",
					   info->dev_id);
				goto fail;
			}
		}
	}
	*out = s;
	return 0;
fail:
	ublk_srv_destroy(s);
	return ret;
}

void ublk_srv_get_affinity(struct ublk_srv *s, struct ublk_ctrl *c)
{
	unsigned int q;
	int ret;

	s->affinity = calloc(s->nr_queues, sizeof(*s->affinity));
	if (!s->affinity)
		return;
	for (q = 0; q < s->nr_queues; q++) {
		ret = ublk_ctrl_get_affinity(c, s->cfg->info.dev_id,
					     (uint16_t)q, &s->affinity[q],
					     sizeof(s->affinity[q]));
		if (ret < 0) {
			ublk_dbg("device %u: queue %u: affinity: %s",
				 s->cfg->info.dev_id, q, strerror(-ret));
			free(s->affinity);
			s->affinity = NULL;
			return;
		}
	}
}

int ublk_srv_start(struct ublk_srv *s, int exit_efd)
{
	unsigned int i, started = 0;
	int ret = 0;

	s->exit_efd = exit_efd;
	if (s->batch) {
		ret = -pthread_barrier_init(&s->prepared, NULL, s->nr_threads);
		if (ret) {
			ublk_errno(-ret, "device %u: barrier",
				   s->cfg->info.dev_id);
			return ret;
		}
		s->barrier_ok = true;
	}
	for (i = 0; i < s->nr_threads; i++) {
		struct ublk_thread *t = &s->threads[i];

		t->srv = s;
		t->idx = i;
		ret = -pthread_create(&t->tid, NULL, thread_fn, t);
		if (ret) {
			ublk_errno(-ret, "device %u: start thread %u",
				   s->cfg->info.dev_id, i);
			break;
		}
		started++;
	}
	/* Started batch threads wait at the barrier for the rest: give up. */
	if (ret && s->batch)
		return ret;
	s->nr_threads = started;
	for (i = 0; i < started; i++)
		while (sem_wait(&s->ready) && errno == EINTR)
			;
	if (!ret && __atomic_load_n(&s->failed, __ATOMIC_SEQ_CST))
		ret = -EIO;
	return ret;
}

unsigned int ublk_srv_exited(struct ublk_srv *s, bool *failed)
{
	*failed = __atomic_load_n(&s->failed, __ATOMIC_SEQ_CST) != 0;
	return __atomic_load_n(&s->exited, __ATOMIC_SEQ_CST);
}

unsigned int ublk_srv_nr_threads(const struct ublk_srv *s)
{
	return s->nr_threads;
}

static void thread_free(struct ublk_thread *t)
{
	unsigned int i, c;

	for (i = 0; i < t->nr_fetch; i++) {
		if (t->fetch[i].br)
			munmap(t->fetch[i].br, page_size());
		free(t->fetch[i].fetch.buf);
	}
	for (i = 0; i < t->nr_tqs; i++) {
		free(t->tqs[i].gather.elems);
		for (c = 0; c < NR_COMMIT_BUFS; c++)
			free(t->tqs[i].commit[c].wire);
	}
	free(t->fetch);
	free(t->tqs);
	free(t->tq_of);
}

void ublk_srv_destroy(struct ublk_srv *s)
{
	unsigned int i, tag;

	if (!s)
		return;
	if (s->threads) {
		for (i = 0; i < s->nr_threads; i++) {
			if (s->threads[i].tid)
				pthread_join(s->threads[i].tid, NULL);
			if (s->threads[i].ring_ok)
				io_uring_queue_exit(&s->threads[i].ring);
			thread_free(&s->threads[i]);
		}
	}
	for (i = 0; s->queues && i < s->nr_queues; i++) {
		struct ublk_queue *q = &s->queues[i];

		if (q->descs)
			munmap((void *)q->descs, s->desc_map_len);
		for (tag = 0; q->ios && tag < s->depth; tag++)
			free(q->ios[tag].buf);
		free(q->ios);
	}
	free(s->queues);
	free(s->threads);
	free(s->map);
	free(s->affinity);
	if (s->char_fd >= 0)
		close(s->char_fd);
	if (s->status_efd >= 0)
		close(s->status_efd);
	pthread_mutex_destroy(&s->status_lock);
	sem_destroy(&s->ready);
	if (s->barrier_ok)
		pthread_barrier_destroy(&s->prepared);
	free(s);
}
