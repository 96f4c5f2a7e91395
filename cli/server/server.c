// SPDX-License-Identifier: GPL-2.0
/*
 * Server threads: one io_uring per thread, per-I/O commands (FETCH /
 * COMMIT_AND_FETCH, NEED_GET_DATA) or batch mode through the hooks of
 * batch.h, copy, user copy, zero copy and auto buffer registration, and
 * requests in the --shmem-zc memory (shmem.h). The I/O path neither
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
#include "ublkctl/shmem.h"

/*
 * user_data: tag 0-15, q_id 16-27, op 28-35, slot 36-51, target bit 63;
 * bit 61 (UBLK_BATCH_USER_DATA) marks batch.c's commands, whose other bits
 * are batch.c's.
 */
#define UD_QID_SHIFT UBLK_UD_QID_SHIFT
#define UD_OP_SHIFT UBLK_UD_OP_SHIFT
#define UD_SLOT_SHIFT 36
#define UD_TGT UBLK_UD_TGT
/* A target's thread SQE: op 40-47, arg 0-39. */
#define UD_TGT_THREAD (1ULL << 62)
#define UD_THREAD_OP_SHIFT 40
#define UD_THREAD_ARG_MASK ((1ULL << UD_THREAD_OP_SHIFT) - 1)

static inline uint64_t ud_make(unsigned int tag, unsigned int q_id,
			       unsigned int op, unsigned int slot)
{
	uint64_t slot_bits = (uint64_t)(slot & 0xffff) << UD_SLOT_SHIFT;

	return ublk_ud_pack(tag, q_id, op) | slot_bits;
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

#define UBLK_CHAR_OPEN_MS 3000
#define COMMIT_WAIT_NS (10 * 1000 * 1000) /* see thread_wait() */

struct ublk_thread {
	struct io_uring ring;
	struct ublk_srv *srv;
	pthread_t tid;
	unsigned int idx;
	unsigned int cmd_inflight; /* ublk uring_cmds in flight */
	unsigned int tgt_inflight; /* I/Os the target holds */
	/*
	 * Batch commits queued since the last reaping pass: the driver
	 * completes them during submission, and their CQEs only free commit
	 * buffers, so the next wait asks for one CQE more than these:
	 * submitting them and waiting for new work take one io_uring_enter.
	 * (Not so for a target's NOPs: their CQEs are what lets the I/O be
	 * committed, so they must be reaped at once.)
	 */
	unsigned int commits_queued;
	uint64_t shmem_ios; /* requests served from --shmem-zc memory */
	bool stopping;
	bool started;
	bool ring_ok;
	bool tgt_thread_ok; /* the target's thread_init succeeded */
	int err;
	void *tgt_priv; /* from the target's thread_init */
	char status[64]; /* ublk_thread_set_status(), under srv->status_lock */
	struct ublk_batch_thread *batch; /* batch mode, else NULL */
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
	struct ublk_batch_dev *batch; /* batch mode, else NULL */
	bool share_tags; /* per-I/O mode, threads share queues (PER_IO_DAEMON) */
	bool fallback;
	bool force_miss; /* test knob: auto-zc index invalid */
	cpu_set_t *affinity; /* by queue, from GET_QUEUE_AFFINITY; or NULL */
	struct ublk_shmem shm; /* --shmem-zc mapping (base NULL without) */
	sem_t ready;
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

static void reserve_sqes(struct io_uring *ring, unsigned int n)
{
	while (io_uring_sq_space_left(ring) < n) {
		int ret = io_uring_submit(ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			break;
	}
}

void ublk_reserve_sqes(struct ublk_thread *t, unsigned int n)
{
	reserve_sqes(&t->ring, n);
}

/* The SQ ring is full: submit what is queued to make room. */
static __attribute__((noinline)) struct io_uring_sqe *
get_sqe_slow(struct io_uring *ring)
{
	reserve_sqes(ring, 1);
	/* Sized at start for every command in flight: cannot fail. */
	return io_uring_get_sqe(ring);
}

struct io_uring_sqe *ublk_ring_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		sqe = get_sqe_slow(ring);
	memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

struct io_uring_sqe *ublk_get_sqe(struct ublk_thread *t)
{
	return ublk_ring_get_sqe(&t->ring);
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

void ublk_prep_uring_cmd(struct io_uring_sqe *sqe, uint32_t cmd_op)
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

	ublk_prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->addr = ublk_io_buf_index(q, tag);
	sqe->user_data = ublk_tgt_user_data(q, tag, nr);
}

struct io_uring_sqe *ublk_zc_chain_begin(struct ublk_thread *t,
					 struct ublk_queue *q, unsigned int tag,
					 unsigned int nr_io)
{
	struct io_uring_sqe *sqe;

	ublk_reserve_sqes(t, nr_io + 2);
	sqe = ublk_get_sqe(t);
	prep_buf_cmd(sqe, q, tag, UBLK_U_IO_REGISTER_IO_BUF,
		     UBLK_IO_REGISTER_IO_BUF);
	sqe->flags |= IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS;
	return ublk_get_sqe(t);
}

/* Hard links: a failed I/O must not cancel the unregister after it. */
static void zc_chain_link(struct ublk_queue *q, unsigned int tag,
			  struct io_uring_sqe *io_sqe)
{
	io_sqe->flags |= IOSQE_IO_HARDLINK;
	io_sqe->buf_index = (uint16_t)ublk_io_buf_index(q, tag);
}

struct io_uring_sqe *ublk_zc_chain_next(struct ublk_thread *t,
					struct ublk_queue *q, unsigned int tag,
					struct io_uring_sqe *io_sqe)
{
	zc_chain_link(q, tag, io_sqe);
	return ublk_get_sqe(t);
}

void ublk_zc_chain_end(struct ublk_thread *t, struct ublk_queue *q,
		       unsigned int tag, struct io_uring_sqe *io_sqe)
{
	struct io_uring_sqe *sqe;

	zc_chain_link(q, tag, io_sqe);
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

	ublk_prep_uring_cmd(sqe, cmd_op);
	cmd->q_id = q->q_id;
	cmd->tag = (uint16_t)tag;
	cmd->result = result;
	if (q->auto_zc)
		sqe->addr = auto_buf_addr(t->srv, q, tag);
	else if (q->ios[tag].buf && !q->user_copy)
		cmd->addr = (uint64_t)(uintptr_t)q->ios[tag].buf;
	/* Zoned devices have no buffer address: the union is the LBA. */
	if (cmd_op == UBLK_U_IO_COMMIT_AND_FETCH_REQ && result >= 0 &&
	    ublksrv_get_op(ublk_iod(q, tag)) == UBLK_IO_OP_ZONE_APPEND)
		cmd->zone_append_lba = q->ios[tag].zone_append_lba;
	sqe->user_data = ud_make(tag, q->q_id, nr, 0);
	t->cmd_inflight++;
}

static uint64_t user_copy_off(const struct ublk_queue *q, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q->q_id << UBLK_QID_OFF |
					(uint64_t)tag << UBLK_TAG_OFF);
}

/*
 * Copy len bytes of request tag's data (or with md its integrity
 * metadata) between the server's buffer and the request.
 */
static int user_copy(struct ublk_queue *q, unsigned int tag, bool to_dev,
		     bool md, size_t len)
{
	char *buf = md ? q->ios[tag].md : q->ios[tag].buf;
	uint64_t off = user_copy_off(q, tag) |
		       (md ? UBLKSRV_IO_INTEGRITY_FLAG : 0);
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

/*
 * The metadata of request tag, if it carries some the server keeps
 * (--integrity), for len bytes of its data: from the request (a write) or
 * to it (a read). 0 or a negative errno.
 */
static int md_copy(struct ublk_queue *q, unsigned int tag, bool to_dev,
		   size_t len)
{
	if (!q->ios[tag].md ||
	    !(ublk_iod(q, tag)->op_flags & UBLK_IO_F_INTEGRITY))
		return 0;
	return user_copy(q, tag, to_dev, true, ublk_md_len(q, len));
}

/*
 * Before queue_io, for a request whose data is not simply at io->buf:
 * shared memory, user copy of a write's data, a write's metadata. True
 * when the request was completed here (with an error).
 */
static __attribute__((noinline)) bool
prepare_data(struct ublk_thread *t, struct ublk_queue *q, unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct ublk_io *io = &q->ios[tag];
	unsigned int op = ublksrv_get_op(iod);
	int ret = 0;

	if (iod->op_flags & UBLK_IO_F_SHMEM_ZC) {
		io->data = ublk_shmem_addr(q->shm, iod->addr,
					   (size_t)iod->nr_sectors << 9);
		if (!io->data) {
			ublk_dbg(
				"q%u tag %u: shared memory address %#llx: not in the --shmem-zc buffer",
				q->q_id, tag, (unsigned long long)iod->addr);
			ret = -EIO;
		} else {
			t->shmem_ios++;
		}
	} else if (q->user_copy &&
		   (op == UBLK_IO_OP_WRITE || op == UBLK_IO_OP_ZONE_APPEND)) {
		ret = user_copy(q, tag, false, false,
				(size_t)iod->nr_sectors << 9);
	}
	if (!ret && op == UBLK_IO_OP_WRITE)
		ret = md_copy(q, tag, false, (size_t)iod->nr_sectors << 9);
	if (ret)
		ublk_complete_io(t, q, tag, ret);
	return ret != 0;
}

/* A request arrived for (q, tag): hand it to the target. */
static void handle_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag)
{
	struct ublk_io *io = &q->ios[tag];
	int ret;

	io->result = 0;
	io->pending = 0;
	io->data = io->buf;
	t->tgt_inflight++;
	if ((ublk_iod(q, tag)->op_flags & UBLK_IO_F_SHMEM_ZC) || q->user_copy ||
	    q->md_size) {
		if (prepare_data(t, q, tag))
			return;
	}
	ret = q->tgt->ops->queue_io(t, q, tag);
	if (ret > 0)
		io->pending = (uint16_t)ret;
	else if (ret < 0)
		ublk_complete_io(t, q, tag, ret);
}

/*
 * After the target, for a request whose data goes back by hand: user
 * copy of what was read (or of a zone report), a read's metadata. The
 * result to commit.
 */
static __attribute__((noinline)) int finish_data(struct ublk_queue *q,
						 unsigned int tag, int res)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	unsigned int op = ublksrv_get_op(iod);

	/* A zone report comes back as a read does. */
	if (q->user_copy && res > 0 &&
	    (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_REPORT_ZONES) &&
	    !(iod->op_flags & UBLK_IO_F_SHMEM_ZC)) {
		int ret = user_copy(q, tag, true, false, (size_t)res);

		if (ret)
			res = ret;
	}
	if (res > 0 && op == UBLK_IO_OP_READ) {
		int ret = md_copy(q, tag, true, (size_t)res);

		if (ret)
			res = ret;
	}
	return res;
}

static void commit_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag, int res)
{
	if (t->batch)
		ublk_batch_complete(t->batch, q, tag, res);
	else
		queue_io_cmd(t, q, tag, UBLK_U_IO_COMMIT_AND_FETCH_REQ,
			     UBLK_IO_COMMIT_AND_FETCH_REQ, res);
}

static __attribute__((noinline)) void finish_and_commit(struct ublk_thread *t,
							struct ublk_queue *q,
							unsigned int tag,
							int res)
{
	commit_io(t, q, tag, finish_data(q, tag, res));
}

void ublk_complete_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag, int res)
{
	t->tgt_inflight--;
	/* out of line: the common commit is then a tail call */
	if (q->user_copy || q->md_size)
		finish_and_commit(t, q, tag, res);
	else
		commit_io(t, q, tag, res);
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

/* ublk_tgt_io_account(), inline where the server reaps target CQEs */
static inline void tgt_io_account(struct ublk_thread *t, struct ublk_queue *q,
				  unsigned int tag, int res)
{
	struct ublk_io *io = &q->ios[tag];

	record_result(io, res);
	if (io->pending && --io->pending == 0)
		ublk_complete_io(t, q, tag, io->result);
}

void ublk_tgt_io_account(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, int res)
{
	tgt_io_account(t, q, tag, res);
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
		tgt_io_account(t, q, tag, cqe->res);
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
	/*
	 * A write on a NEED_GET_DATA device: the driver copies its data once
	 * told the buffer (this tag's), and completes that command with
	 * UBLK_IO_RES_OK and the request; from this thread, as the tag is
	 * this thread's.
	 */
	if (cqe->res == UBLK_IO_RES_NEED_GET_DATA && !t->stopping) {
		queue_io_cmd(t, q, tag, UBLK_U_IO_NEED_GET_DATA,
			     UBLK_IO_NEED_GET_DATA, 0);
		return;
	}
	if (cqe->res != UBLK_IO_RES_ABORT && cqe->res != UBLK_IO_RES_OK &&
	    cqe->res != UBLK_IO_RES_NEED_GET_DATA) {
		ublk_err("device %u: queue %u tag %u: I/O command failed: %s",
			 t->srv->cfg->info.dev_id, q->q_id, tag,
			 strerror(-cqe->res));
		t->err = cqe->res;
	}
	t->stopping = true;
}

/* ---------------------------------------------------------- thread loop */

static void handle_batch_cqe(struct ublk_thread *t,
			     const struct io_uring_cqe *cqe)
{
	struct ublk_batch_event ev;
	unsigned int k;

	ublk_batch_cqe(t->batch, cqe, t->stopping, &ev);
	for (k = 0; k < ev.nr_tags; k++)
		handle_io(t, ev.q, ev.tags[k]);
	if (ev.err)
		t->err = ev.err;
	if (ev.stop)
		t->stopping = true;
}

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
	if (cqe->user_data & UBLK_BATCH_USER_DATA) {
		handle_batch_cqe(t, cqe);
		return;
	}
	switch (ud_op(cqe->user_data)) {
	case UBLK_IO_FETCH_REQ:
	case UBLK_IO_COMMIT_AND_FETCH_REQ:
	case UBLK_IO_NEED_GET_DATA:
		handle_io_cmd_cqe(t, cqe);
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

/* ublk commands in flight, of either mode. */
static unsigned int thread_cmds_inflight(const struct ublk_thread *t)
{
	return t->cmd_inflight + (t->batch ? ublk_batch_inflight(t->batch) : 0);
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
		 (t->err || !thread_cmds_inflight(t)))) {
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
		if (t->tgt_thread_ok && t->srv->cfg->tgt.ops->thread_flush)
			t->srv->cfg->tgt.ops->thread_flush(t);
		if (t->batch)
			t->commits_queued += ublk_batch_flush(t->batch);
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

static unsigned int thread_nr_ios(const struct ublk_thread *t)
{
	const struct ublk_srv *s = t->srv;
	unsigned int q, tag, n = 0;

	if (s->batch) {
		for (q = 0; q < s->nr_queues; q++)
			if (ublk_batch_serves(s->batch, t->idx, q))
				n += s->depth;
		return n;
	}
	for (q = 0; q < s->nr_queues; q++)
		for (tag = 0; tag < s->depth; tag++)
			n += ublk_io_thread(s->nr_threads, s->depth,
					    s->share_tags, q, tag) == t->idx;
	return n;
}

static int thread_init(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	unsigned int nr_ios = thread_nr_ios(t);
	unsigned int max_sqes = s->cfg->tgt.max_sqes ? s->cfg->tgt.max_sqes : 3;
	unsigned int sq = 64, cq;
	int fds[1 + UBLK_TGT_MAX_FDS];
	int i, ret;

	/*
	 * Room for every I/O's target SQEs (3 for a zero copy chain, or
	 * what the target says) and its command; CQEs twice that.
	 */
	while (sq < nr_ios * (max_sqes + 1) + 64 && sq < 4096)
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
		return ublk_batch_thread_init(s->batch, t->idx, &t->ring,
					      &t->batch);
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

static int thread_start_cmds(struct ublk_thread *t)
{
	struct ublk_srv *s = t->srv;
	struct io_uring_cqe *cqe;
	unsigned int q, tag;
	int ret;

	if (t->batch) {
		ublk_batch_arm(t->batch);
	} else {
		for (q = 0; q < s->nr_queues; q++)
			for (tag = 0; tag < s->depth; tag++)
				if (ublk_io_thread(s->nr_threads, s->depth,
						   s->share_tags, q,
						   tag) == t->idx)
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
		return ublk_batch_serves(s->batch, t->idx, q);
	for (tag = 0; tag < s->depth; tag++)
		if (ublk_io_thread(s->nr_threads, s->depth, s->share_tags, q,
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
	char name[16];
	int ret;

	/* "ublk<id>:t<n>", for top -H and ps -L (15 bytes at most) */
	snprintf(name, sizeof(name), "ublk%u:t%u", s->cfg->info.dev_id, t->idx);
	pthread_setname_np(pthread_self(), name);
	thread_pin(t);
	ret = thread_init(t);
	if (s->batch) {
		if (!ret)
			ret = ublk_batch_prep(t->batch);
		/* Every thread gets here, failed or not: no one waits forever. */
		ublk_batch_wait_prepared(s->batch);
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
	if (s->shm.base)
		ublk_dbg(
			"device %u: thread %u: %llu requests served from shared memory",
			s->cfg->info.dev_id, t->idx,
			(unsigned long long)t->shmem_ios);
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
	bool user_copy = info->flags & UBLK_F_USER_COPY;
	size_t pg = page_size(), stride, len, desc_size;
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
	s->share_tags = !(info->flags & UBLK_F_BATCH_IO) &&
			(cfg->per_io_tasks || s->nr_threads > s->nr_queues);
	s->fallback = cfg->auto_zc_fallback;
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
	if (!s->queues || !s->threads) {
		ret = -ENOMEM;
		goto fail;
	}
	memset(s->queues, 0, s->nr_queues * sizeof(*s->queues));
	memset(s->threads, 0, s->nr_threads * sizeof(*s->threads));
	if (cfg->shmem_path) {
		ret = ublk_shmem_map(cfg->shmem_path, cfg->shmem_ro, &s->shm);
		if (ret)
			goto fail;
	}
	if (info->flags & UBLK_F_BATCH_IO) {
		ret = ublk_batch_dev_create(s->queues, s->nr_queues, s->depth,
					    s->nr_threads, info->dev_id,
					    info->flags, s->fallback,
					    s->force_miss, &s->batch);
		if (ret)
			goto fail;
	}

	/*
	 * Descriptors sit desc_size apart (ublk_iod), each queue's area that
	 * times the largest depth, page-rounded, from queue 0's at
	 * UBLKSRV_CMD_BUF_OFFSET. desc_size is 24 without UBLK_F_IO_DESC_SIZE;
	 * with it, what ADD_DEV granted, checked here as the driver checks
	 * it, so a descriptor is never read across its stride.
	 */
	desc_size = sizeof(struct ublksrv_io_desc);
	if (info->flags & UBLK_F_IO_DESC_SIZE) {
		desc_size = info->io_desc_size;
		if (desc_size < sizeof(struct ublksrv_io_desc) ||
		    desc_size % sizeof(uint64_t) ||
		    desc_size > UBLK_MAX_IO_DESC_SIZE) {
			ublk_err("device %u: descriptor size %u out of range",
				 info->dev_id, info->io_desc_size);
			ret = -EPROTO;
			goto fail;
		}
	}
	stride = round_up(UBLK_MAX_QUEUE_DEPTH * desc_size, pg);
	len = round_up(s->depth * desc_size, pg);
	s->desc_map_len = len;
	for (q = 0; q < s->nr_queues; q++) {
		struct ublk_queue *uq = &s->queues[q];
		void *p;

		uq->q_id = (uint16_t)q;
		uq->depth = (uint16_t)s->depth;
		uq->desc_size = (uint16_t)desc_size;
		uq->tgt = &cfg->tgt;
		uq->char_fd = s->char_fd;
		uq->auto_zc = info->flags & UBLK_F_AUTO_BUF_REG;
		uq->zc = !uq->auto_zc &&
			 (info->flags & UBLK_F_SUPPORT_ZERO_COPY);
		uq->user_copy = user_copy && !cfg->tgt.no_data;
		if (info->flags & UBLK_F_INTEGRITY) {
			uq->md_size = cfg->integrity.md_size;
			uq->md_shift = (uint8_t)__builtin_ctz(cfg->tgt.lbs);
		}
		uq->shm = s->shm.base ? &s->shm : NULL;
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
		/* no buffer for the kernel to fill, or none to copy into */
		if (uq->auto_zc || uq->zc || (user_copy && !uq->user_copy))
			continue;
		for (tag = 0; tag < s->depth; tag++) {
			if (posix_memalign(&uq->ios[tag].buf, pg,
					   info->max_io_buf_bytes)) {
				ret = -ENOMEM;
				ublk_errno(ENOMEM, "device %u: I/O buffers",
					   info->dev_id);
				goto fail;
			}
			if (!uq->md_size)
				continue;
			uq->ios[tag].md =
				malloc(ublk_md_len(uq, info->max_io_buf_bytes));
			if (!uq->ios[tag].md) {
				ret = -ENOMEM;
				ublk_errno(ENOMEM,
					   "device %u: integrity buffers",
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

int ublk_srv_register_shmem(struct ublk_srv *s, struct ublk_ctrl *c)
{
	if (!s->shm.base)
		return 0;
	return ublk_shmem_register(&s->shm, c, s->cfg->info.dev_id);
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
			ublk_batch_thread_free(s->threads[i].batch);
		}
	}
	for (i = 0; s->queues && i < s->nr_queues; i++) {
		struct ublk_queue *q = &s->queues[i];

		if (q->descs)
			munmap((void *)q->descs, s->desc_map_len);
		for (tag = 0; q->ios && tag < s->depth; tag++) {
			free(q->ios[tag].buf);
			free(q->ios[tag].md);
		}
		free(q->ios);
	}
	free(s->queues);
	free(s->threads);
	free(s->affinity);
	ublk_shmem_unmap(&s->shm);
	ublk_batch_dev_destroy(s->batch);
	if (s->char_fd >= 0)
		close(s->char_fd);
	if (s->status_efd >= 0)
		close(s->status_efd);
	pthread_mutex_destroy(&s->status_lock);
	sem_destroy(&s->ready);
	free(s);
}
