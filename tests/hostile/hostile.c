// SPDX-License-Identifier: GPL-2.0
/*
 * ublk-hostile: a buggy, hostile ublk server played against the real driver.
 *
 * Each scenario forks a server child that creates a device, prepares its
 * I/O commands, starts it, drives I/O to /dev/ublkbN from separate
 * processes and then misbehaves (short or unmapped fetch buffers, bad
 * PREP/COMMIT arguments, commits from a second ring, closing its ring or
 * /dev/ublkcN mid-batch, dying while control commands run, bad or racing
 * REG_BUF/UNREG_BUF of shared memory). The parent then checks three things
 * for every scenario:
 *   1. the server dies on SIGKILL within KILL_BOUND_S;
 *   2. STOP_DEV and DEL_DEV finish within DEL_BOUND_S and the I/O processes
 *      end;
 *   3. the kernel logged no WARNING, BUG, Oops, lockdep or KASAN report.
 * Return codes the UAPI defines are checked by the server child itself.
 *
 * The parent never blocks in the kernel: every control command it issues
 * runs in a helper process it waits for with a deadline, and a SIGALRM
 * watchdog ends the whole program should anything else hang. Output is TAP
 * with a last line "hostile: P passed, F failed, S skipped".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/blkzoned.h>
#include <linux/ublk_cmd.h>
#include <spawn.h>

#include "ublkctl/compat.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define CONTROL_PATH "/dev/ublk-control"
#define IO_BYTES (64 * 1024) /* max_io_buf_bytes and copy buffer per tag */
#define DEV_BYTES (64ULL << 20)
#define MAX_QUEUES 4
#define MAX_DEPTH 64
#define MAX_IO_PROCS 8
#define MAX_SERVERS 4
#define MAX_ASYNC 4
#define PAGE 4096
#define SHM_BYTES (1U << 20) /* a SHMEM_ZC buffer of the scenarios */
#define Z_SECTORS 2048 /* zoned scenarios: 1 MiB zones, 64 of them */
#define PAGE_UP(x) (((x) + PAGE - 1) / PAGE * PAGE)

#define KILL_BOUND_S 20 /* a SIGKILLed server must be gone by then */
#define DEL_BOUND_S 30 /* STOP_DEV + DEL_DEV */
#define IO_END_BOUND_S 15 /* I/O processes after DEL_DEV */
#define CMD_MS 3000 /* bound on one I/O command the driver must answer */
#define CTRL_MS 20000 /* bound on one control command */
/*
 * Bound on the first I/O of workers just started: exec, the node hand-over
 * of an unprivileged device and open take seconds on a loaded debug guest.
 */
#define FIRST_IO_MS 15000

/* A command that did not complete within its bound. */
#define RES_NONE INT_MIN

/* ------------------------------------------------------------ helpers */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "-EINVAL", "4096", or "no completion": a result as the report shows it. */
static const char *res_str(int res, char *buf, size_t len)
{
	const char *name;

	if (res == RES_NONE)
		return "no completion";
	if (res >= 0) {
		snprintf(buf, len, "%d", res);
		return buf;
	}
	name = strerrorname_np(-res);
	if (name)
		snprintf(buf, len, "-%s", name);
	else
		snprintf(buf, len, "%d", res);
	return buf;
}

/* xorshift64*, seeded through splitmix64 so that any seed works. */
struct rng {
	uint64_t s;
};

static void rng_seed(struct rng *r, uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	r->s = (z ^ (z >> 31)) | 1;
}

static uint64_t rng_next(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dULL;
}

static unsigned int rng_below(struct rng *r, unsigned int n)
{
	return n ? (unsigned int)(rng_next(r) % n) : 0;
}

/* A page-sized address that is certainly not mapped. */
static void *unmapped_addr(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return (void *)(uintptr_t)0xdead0000;
	munmap(p, PAGE);
	return p;
}

/* ---------------------------------------------------------- options */

static struct {
	bool random;
	bool unpriv;
	bool have_user;
	uid_t uid;
	gid_t gid;
	uint64_t seed;
	unsigned int seconds;
	unsigned int iterations;
	const char *only;
	const char *skip;
	const char *self; /* path of this binary, for the I/O workers */
} opt;

static uint64_t g_features;

/* ------------------------------------------------------ control path */

struct ctrl {
	int fd;
	bool stuck; /* a command never completed: the ring is unusable */
	struct io_uring ring;
};

static int ctrl_open(struct ctrl *c)
{
	int ret;

	c->stuck = false;
	c->fd = open(CONTROL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	ret = io_uring_queue_init(4, &c->ring, IORING_SETUP_SQE128);
	if (ret < 0) {
		close(c->fd);
		c->fd = -1;
	}
	return ret;
}

static void ctrl_close(struct ctrl *c)
{
	if (c->fd < 0)
		return;
	io_uring_queue_exit(&c->ring);
	close(c->fd);
	c->fd = -1;
}

/*
 * One control command. With @path (unprivileged devices, and always for
 * GET_DEV_INFO2) the buffer is prefixed with /dev/ublkcN and dev_path_len
 * says how long that is. Returns the CQE result, or RES_NONE when no CQE
 * came within @timeout_ms (the ring is then marked stuck).
 */
static int ctrl_cmd(struct ctrl *c, uint32_t op, uint32_t dev_id, void *buf,
		    uint16_t len, uint64_t data, bool path, int timeout_ms)
{
	struct __kernel_timespec ts = {
		timeout_ms / 1000, (long long)(timeout_ms % 1000) * 1000000
	};
	struct ublksrv_ctrl_cmd *cmd;
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	char bounce[512];
	uint16_t plen = 0;
	int ret;

	if (c->stuck)
		return RES_NONE;
	if (path) {
		plen = (uint16_t)snprintf(bounce, sizeof(bounce),
					  "/dev/ublkc%u", dev_id);
		if ((size_t)plen + len > sizeof(bounce))
			return -E2BIG;
		if (len)
			memcpy(bounce + plen, buf, len);
	}
	sqe = io_uring_get_sqe(&c->ring);
	if (!sqe)
		return -EBUSY;
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = c->fd;
	sqe->cmd_op = op;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = (uint16_t)-1;
	cmd->addr = (uint64_t)(uintptr_t)(path ? (void *)bounce : buf);
	cmd->len = (uint16_t)(len + plen);
	cmd->data[0] = data;
	cmd->dev_path_len = plen;
	do {
		ret = io_uring_submit(&c->ring);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe_timeout(&c->ring, &cqe, &ts);
	} while (ret == -EINTR);
	if (ret == -ETIME) {
		c->stuck = true;
		return RES_NONE;
	}
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&c->ring, cqe);
	if (path && ret >= 0 && len)
		memcpy(buf, bounce + plen, len);
	return ret;
}

static int ctrl_get_info(struct ctrl *c, uint32_t id,
			 struct ublksrv_ctrl_dev_info *info)
{
	return ctrl_cmd(c, UBLK_U_CMD_GET_DEV_INFO2, id, info, sizeof(*info), 0,
			true, CMD_MS);
}

/* ------------------------------------------------- reports to parent */

/*
 * A server child tells the parent what happens over a pipe, one line a
 * message (single write(), shorter than PIPE_BUF, so threads do not
 * interleave): "dev ID FLAGS", "io PID", "live", "note TEXT",
 * "fail TEXT", "skip TEXT", "done".
 */
static int g_report_fd = -1;
/* Random mode: the driver's answers are not judged, only the three checks. */
static bool g_lenient;

static void report(const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void report(const char *kind, const char *fmt, ...)
{
	char line[480];
	va_list ap;
	int n;

	if (g_lenient && !strcmp(kind, "fail"))
		kind = "note";
	n = snprintf(line, sizeof(line), "%s ", kind);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (g_report_fd >= 0 && write(g_report_fd, line, (size_t)n) < 0)
		_exit(3);
}

/* Check one result against the value the UAPI defines. */
static bool expect(const char *what, int got, int want)
{
	char g[32], w[32];

	if (got == want) {
		report("note", "%s: %s as expected", what,
		       res_str(got, g, sizeof(g)));
		return true;
	}
	report("fail", "%s: got %s, expected %s", what,
	       res_str(got, g, sizeof(g)), res_str(want, w, sizeof(w)));
	return false;
}

/* -------------------------------------------------------- the server */

enum { UD_SYNC = 1, UD_FETCH, UD_PERIO };

static uint64_t ud_make(unsigned int kind, uint64_t val)
{
	return (uint64_t)kind << 56 | (val & ((1ULL << 56) - 1));
}

struct srv;

/* One io_uring of the server, with its synchronous-command slot. */
struct ring {
	struct io_uring r;
	struct srv *s;
	bool ok;
	uint64_t seq;
	uint64_t want; /* user_data of the synchronous command waited for */
	bool got;
	int got_res;
};

/* A multishot FETCH_IO_CMDS on a one-entry provided-buffer ring. */
struct fslot {
	struct ring *ring;
	unsigned int q;
	uint16_t bgid;
	bool inc; /* IOU_PBUF_RING_INC */
	struct io_uring_buf_ring *br;
	bool registered;
	char *good; /* a valid buffer for tags */
	char *buf; /* what was provided */
	unsigned int len;
	unsigned int off;
	bool readable; /* buf is ours: tags can be read back */
	bool armed;
	bool refill;
	int end_res;
	unsigned int cqes, tags, bad_tags, ends;
};

struct srv {
	struct ctrl ctrl;
	uint32_t dev_id;
	uint64_t flags; /* granted UBLK_F_* */
	bool path; /* unprivileged device: control commands carry the path */
	unsigned int nq, depth;
	int char_fd;
	size_t desc_len;
	struct ublksrv_io_desc *desc[MAX_QUEUES];
	/* the descriptors' stride ADD_DEV granted (24 without IO_DESC_SIZE) */
	size_t desc_size;
	/* with UBLK_F_IO_DESC_SIZE: the stride ADD_DEV asks for */
	uint16_t want_desc_size;
	char *bufs[MAX_QUEUES]; /* copy mode: IO_BYTES per tag */
	struct ring a; /* the main ring: fetches live here */
	struct fslot fs[MAX_QUEUES];
	uint8_t owned[MAX_QUEUES][MAX_DEPTH]; /* delivered, not committed */
	unsigned long served; /* I/Os committed by the well-behaved paths */
	unsigned long shmem_seen; /* of those, flagged UBLK_IO_F_SHMEM_ZC */
	char io_mem[64]; /* I/O workers' buffer file (SHMEM_ZC), or "" */
	bool started;
	unsigned int nio;
	struct rng rng;
	/* SET_PARAMS adds this integrity profile (NULL: none) */
	const struct ublk_param_integrity *integ;
};

static bool s_batch(const struct srv *s)
{
	return s->flags & UBLK_F_BATCH_IO;
}

static bool s_autoreg(const struct srv *s)
{
	return s->flags & UBLK_F_AUTO_BUF_REG;
}

/* Copy mode: the kernel copies into a server buffer we name. */
static bool s_copy(const struct srv *s)
{
	return !(s->flags & (UBLK_F_AUTO_BUF_REG | UBLK_F_USER_COPY |
			     UBLK_F_SUPPORT_ZERO_COPY));
}

/* Batch flags and element size a correct server uses on this device. */
static uint16_t s_bflags(const struct srv *s)
{
	return (s_copy(s) ? UBLK_BATCH_F_HAS_BUF_ADDR : 0) |
	       (s->flags & UBLK_F_ZONED ? UBLK_BATCH_F_HAS_ZONE_LBA : 0);
}

static unsigned int elem_bytes(uint16_t flags)
{
	return 8 + (flags & UBLK_BATCH_F_HAS_BUF_ADDR ? 8 : 0) +
	       (flags & UBLK_BATCH_F_HAS_ZONE_LBA ? 8 : 0);
}

static uint64_t s_buf(const struct srv *s, unsigned int q, unsigned int tag)
{
	if (!s->bufs[q])
		return 0;
	return (uint64_t)(uintptr_t)(s->bufs[q] + (size_t)tag * IO_BYTES);
}

static uint16_t s_index(const struct srv *s, unsigned int q, unsigned int tag)
{
	return (uint16_t)(q * s->depth + tag);
}

/* The descriptor of (q, tag), desc_size apart. */
static const struct ublksrv_io_desc *s_desc(const struct srv *s, unsigned int q,
					    unsigned int tag)
{
	return (const void *)((const char *)s->desc[q] + tag * s->desc_size);
}

/* The result a correct server commits for (q, tag). */
static int s_result(const struct srv *s, unsigned int q, unsigned int tag)
{
	const struct ublksrv_io_desc *d = s_desc(s, q, tag);
	unsigned int op = d->op_flags & 0xff;

	if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		return (int)(d->nr_sectors << 9);
	return 0;
}

/* Encode one PREP/COMMIT element; returns its size. */
static unsigned int put_elem(void *p, uint16_t flags, uint16_t tag,
			     uint16_t index, int32_t result, uint64_t addr)
{
	struct ublk_elem_header h = { tag, index, result };
	char *c = p;

	memcpy(c, &h, sizeof(h));
	c += sizeof(h);
	if (flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
		memcpy(c, &addr, 8);
		c += 8;
	}
	if (flags & UBLK_BATCH_F_HAS_ZONE_LBA) {
		memset(c, 0, 8);
		c += 8;
	}
	return (unsigned int)(c - (char *)p);
}

/* Elements for @tags with what a correct server would send. */
static unsigned int build_elems(const struct srv *s, void *wire, uint16_t flags,
				unsigned int q, const uint16_t *tags,
				unsigned int n, bool commit)
{
	char *p = wire;
	unsigned int i;

	for (i = 0; i < n; i++) {
		unsigned int t = tags[i] < s->depth ? tags[i] : 0;

		p += put_elem(p, flags, tags[i], s_index(s, q, t),
			      commit && tags[i] < s->depth ?
				      s_result(s, q, tags[i]) :
				      0,
			      s_buf(s, q, t));
	}
	return (unsigned int)(p - (char *)wire);
}

static void fslot_cqe(struct fslot *f, const struct io_uring_cqe *cqe)
{
	struct srv *s = f->ring->s;

	f->cqes++;
	if (cqe->res > 0) {
		unsigned int n = (unsigned int)cqe->res / 2, i;

		f->tags += n;
		if (f->readable) {
			uint16_t tag;

			for (i = 0; i < n && f->off + 2 * i + 2 <= f->len;
			     i++) {
				memcpy(&tag, f->buf + f->off + 2 * i, 2);
				if (tag < s->depth)
					__atomic_store_n(&s->owned[f->q][tag],
							 1, __ATOMIC_SEQ_CST);
				else
					f->bad_tags++;
			}
		}
		if (cqe->flags & IORING_CQE_F_BUF_MORE) {
			f->off += (unsigned int)cqe->res;
		} else {
			f->off = 0;
			f->refill = true;
		}
	}
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		f->armed = false;
		f->refill = false;
		f->end_res = cqe->res;
		f->ends++;
	}
}

static void perio_cqe(struct srv *s, const struct io_uring_cqe *cqe)
{
	unsigned int q = (unsigned int)(cqe->user_data >> 16) & 0xffff;
	unsigned int tag = (unsigned int)cqe->user_data & 0xffff;

	if (q < MAX_QUEUES && tag < MAX_DEPTH && cqe->res == UBLK_IO_RES_OK)
		__atomic_store_n(&s->owned[q][tag], 1, __ATOMIC_SEQ_CST);
}

static void dispatch(struct ring *r, const struct io_uring_cqe *cqe)
{
	unsigned int kind = (unsigned int)(cqe->user_data >> 56);
	struct srv *s = r->s;

	switch (kind) {
	case UD_SYNC:
		if (cqe->user_data == r->want) {
			r->got = true;
			r->got_res = cqe->res;
		}
		break;
	case UD_FETCH: {
		unsigned int q = (unsigned int)cqe->user_data & 0xffff;

		if (q < MAX_QUEUES)
			fslot_cqe(&s->fs[q], cqe);
		break;
	}
	case UD_PERIO:
		perio_cqe(s, cqe);
		break;
	default:
		break;
	}
}

/* Submit what is queued, wait up to @ms for a CQE, handle all there are. */
static int ring_reap(struct ring *r, unsigned int ms)
{
	struct __kernel_timespec ts = { ms / 1000,
					(long long)(ms % 1000) * 1000000 };
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0, q;
	int ret;

	if (!r->ok)
		return -EBADF;
	ret = io_uring_submit_and_wait_timeout(&r->r, &cqe, 1, &ts, NULL);
	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		return ret;
	io_uring_for_each_cqe(&r->r, head, cqe) {
		dispatch(r, cqe);
		n++;
	}
	io_uring_cq_advance(&r->r, n);
	/* A consumed buffer goes back while its fetch stays armed. */
	for (q = 0; q < MAX_QUEUES; q++) {
		struct fslot *f = &r->s->fs[q];

		/* only a full-size buffer of ours: short ones must run out */
		if (f->ring == r && f->armed && f->refill &&
		    f->buf == f->good && f->len == PAGE) {
			f->refill = false;
			io_uring_buf_ring_add(f->br, f->buf, f->len, 0,
					      io_uring_buf_ring_mask(1), 0);
			io_uring_buf_ring_advance(f->br, 1);
		}
	}
	return (int)n;
}

static struct io_uring_sqe *ring_sqe(struct ring *r)
{
	struct io_uring_sqe *sqe;

	if (!r->ok)
		return NULL;
	sqe = io_uring_get_sqe(&r->r);
	if (!sqe) {
		io_uring_submit(&r->r);
		sqe = io_uring_get_sqe(&r->r);
	}
	if (sqe)
		memset(sqe, 0, sizeof(*sqe));
	return sqe;
}

/*
 * Issue @sqe (already filled) and wait for its CQE, handling every other
 * CQE meanwhile. Returns its result or RES_NONE after @ms.
 */
static int ring_sync(struct ring *r, struct io_uring_sqe *sqe, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	sqe->user_data = ud_make(UD_SYNC, ++r->seq);
	r->want = sqe->user_data;
	r->got = false;
	while (!r->got) {
		uint64_t t = now_ms();

		if (t >= end)
			return RES_NONE;
		if (ring_reap(r, (unsigned int)(end - t < 50 ? end - t : 50)) ==
		    -EBADF)
			return -EBADF;
	}
	return r->got_res;
}

static int ring_init(struct ring *r, struct srv *s)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->s = s;
	ret = io_uring_queue_init(256, &r->r, 0);
	if (ret)
		return ret;
	r->ok = true;
	if (s_autoreg(s)) {
		ret = io_uring_register_buffers_sparse(&r->r, s->nq * s->depth);
		if (ret)
			report("note", "sparse buffer table: %s",
			       strerror(-ret));
	}
	return 0;
}

static void ring_exit(struct ring *r)
{
	if (!r->ok)
		return;
	io_uring_queue_exit(&r->r);
	r->ok = false;
}

static void batch_sqe(struct io_uring_sqe *sqe, int fd, uint32_t op, uint16_t q,
		      uint16_t flags, uint16_t nr, uint8_t eb, const void *addr,
		      unsigned int len)
{
	struct ublk_batch_io *b = (struct ublk_batch_io *)sqe->cmd;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = op;
	sqe->addr = (uint64_t)(uintptr_t)addr;
	sqe->len = len;
	b->q_id = q;
	b->flags = flags;
	b->nr_elem = nr;
	b->elem_bytes = eb;
}

/* One PREP or COMMIT_IO_CMDS, synchronous. */
static int batch_sync(struct srv *s, struct ring *r, uint32_t op, uint16_t q,
		      uint16_t flags, uint16_t nr, uint8_t eb, const void *addr)
{
	struct io_uring_sqe *sqe = ring_sqe(r);

	if (!sqe)
		return -EBADF;
	batch_sqe(sqe, s->char_fd, op, q, flags, nr, eb, addr,
		  (unsigned int)nr * eb);
	return ring_sync(r, sqe, CMD_MS);
}

static void perio_sqe(const struct srv *s, struct io_uring_sqe *sqe,
		      uint32_t op, unsigned int q, unsigned int tag, int result,
		      uint64_t addr)
{
	struct ublksrv_io_cmd *c = (struct ublksrv_io_cmd *)sqe->cmd;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = s->char_fd;
	sqe->cmd_op = op;
	c->q_id = (uint16_t)q;
	c->tag = (uint16_t)tag;
	c->result = result;
	if (s_autoreg(s)) {
		struct ublk_auto_buf_reg reg = {
			.index = s_index(s, q < s->nq ? q : 0,
					 tag < s->depth ? tag : 0),
		};

		sqe->addr = ublk_auto_buf_reg_to_sqe_addr(&reg);
	} else {
		c->addr = addr;
	}
}

/* A per-I/O command that should complete when a request comes (async). */
static void perio_async(struct srv *s, struct ring *r, uint32_t op,
			unsigned int q, unsigned int tag, int result)
{
	struct io_uring_sqe *sqe = ring_sqe(r);

	if (!sqe)
		return;
	perio_sqe(s, sqe, op, q, tag, result, s_buf(s, q, tag));
	sqe->user_data = ud_make(UD_PERIO, (uint64_t)q << 16 | tag);
}

/* A per-I/O command that should fail at once: its result, or RES_NONE. */
static int perio_sync(struct srv *s, struct ring *r, uint32_t op,
		      unsigned int q, unsigned int tag, int result,
		      uint64_t addr, unsigned int ms)
{
	struct io_uring_sqe *sqe = ring_sqe(r);

	if (!sqe)
		return -EBADF;
	perio_sqe(s, sqe, op, q, tag, result, addr);
	return ring_sync(r, sqe, ms);
}

static int fslot_init(struct srv *s, struct ring *r, unsigned int q, bool inc)
{
	struct fslot *f = &s->fs[q];

	memset(f, 0, sizeof(*f));
	f->ring = r;
	f->q = q;
	f->bgid = (uint16_t)q;
	f->inc = inc;
	f->br = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	f->good = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->br == MAP_FAILED || f->good == MAP_FAILED)
		return -ENOMEM;
	return 0;
}

/*
 * Arm a multishot FETCH_IO_CMDS on queue q with (addr, len) as its only
 * provided buffer. The buffer ring is registered afresh each time, so no
 * state of an earlier fetch (a recycled or half-used buffer) carries over.
 */
static int fslot_arm(struct fslot *f, void *addr, unsigned int len,
		     bool readable)
{
	struct srv *s = f->ring->s;
	struct io_uring_buf_reg reg;
	struct io_uring_sqe *sqe;
	struct ublk_batch_io *b;
	int ret;

	if (!f->ring->ok)
		return -EBADF;
	if (f->armed)
		return -EBUSY;
	if (f->registered)
		io_uring_unregister_buf_ring(&f->ring->r, f->bgid);
	f->registered = false;
	memset(f->br, 0, PAGE);
	io_uring_buf_ring_init(f->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)f->br;
	reg.ring_entries = 1;
	reg.bgid = f->bgid;
	reg.pad = f->inc ? UBLKCTL_PBUF_RING_INC : 0;
	ret = io_uring_register_buf_ring(&f->ring->r, &reg, 0);
	if (ret)
		return ret;
	f->registered = true;
	f->buf = addr;
	f->len = len;
	f->off = 0;
	f->readable = readable;
	f->refill = false;
	io_uring_buf_ring_add(f->br, addr, len, 0, io_uring_buf_ring_mask(1),
			      0);
	io_uring_buf_ring_advance(f->br, 1);
	sqe = ring_sqe(f->ring);
	if (!sqe)
		return -EBUSY;
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = s->char_fd;
	sqe->cmd_op = UBLK_U_IO_FETCH_IO_CMDS;
	sqe->uring_cmd_flags = IORING_URING_CMD_MULTISHOT;
	sqe->flags = IOSQE_BUFFER_SELECT;
	sqe->buf_group = f->bgid;
	b = (struct ublk_batch_io *)sqe->cmd;
	b->q_id = (uint16_t)f->q;
	b->nr_elem = (uint16_t)s->depth;
	b->elem_bytes = 2;
	sqe->user_data = ud_make(UD_FETCH, f->q);
	f->armed = true;
	ret = io_uring_submit(&f->ring->r);
	return ret < 0 ? ret : 0;
}

static int fslot_arm_good(struct fslot *f)
{
	return fslot_arm(f, f->good, PAGE, true);
}

/* Reap until @f's fetch ended or @ms passed; true if it ended. */
static bool fslot_wait_end(struct fslot *f, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (f->armed && now_ms() < end)
		if (ring_reap(f->ring, 50) == -EBADF)
			break;
	return !f->armed;
}

/* Owned tags of queue q, claimed (cleared) for a commit. */
static unsigned int take_owned(struct srv *s, unsigned int q, uint16_t *tags,
			       unsigned int max)
{
	unsigned int t, n = 0;

	for (t = 0; t < s->depth && n < max; t++)
		if (__atomic_exchange_n(&s->owned[q][t], 0, __ATOMIC_SEQ_CST)) {
			/* (some scenarios unmap the descriptors) */
			if ((s->flags & UBLK_F_SHMEM_ZC) &&
			    (s->desc[q][t].op_flags & UBLK_IO_F_SHMEM_ZC))
				s->shmem_seen++;
			tags[n++] = (uint16_t)t;
		}
	return n;
}

static unsigned int count_owned(struct srv *s, unsigned int q)
{
	unsigned int t, n = 0;

	for (t = 0; t < s->depth; t++)
		n += __atomic_load_n(&s->owned[q][t], __ATOMIC_SEQ_CST);
	return n;
}

/*
 * Reap until queue q's server owns @want tags or @ms passed, and
 * return how many it owns. The fetch's one buffer goes back only after
 * its CQE is reaped, so a tag queued in between ends a correct FETCH with
 * -ENOBUFS; such a fetch is armed again, as a correct server would.
 */
static unsigned int wait_owned(struct srv *s, unsigned int q, unsigned int want,
			       unsigned int ms)
{
	struct fslot *f = &s->fs[q];
	uint64_t end = now_ms() + ms;
	unsigned int n;

	while ((n = count_owned(s, q)) < want && now_ms() < end) {
		if (!f->armed && f->ends && f->end_res == -ENOBUFS) {
			report("note",
			       "FETCH ended with -ENOBUFS after %u tags (a tag came before its buffer went back): armed again",
			       n);
			fslot_arm_good(f);
		}
		if (ring_reap(f->ring, 50) == -EBADF)
			break;
	}
	return n;
}

/*
 * Commit @tags correctly on ring r, resending the rest after a partial
 * commit and dropping an element the driver refuses. Returns how many the
 * driver took.
 */
static unsigned int commit_tags(struct srv *s, struct ring *r, unsigned int q,
				const uint16_t *tags, unsigned int n)
{
	uint16_t fl = s_bflags(s);
	unsigned int eb = elem_bytes(fl), done = 0, took = 0;
	char wire[MAX_DEPTH * 24];
	int res;

	build_elems(s, wire, fl, q, tags, n, true);
	while (done < n) {
		res = batch_sync(s, r, UBLK_U_IO_COMMIT_IO_CMDS, (uint16_t)q,
				 fl, (uint16_t)(n - done), (uint8_t)eb,
				 wire + done * eb);
		if (res == RES_NONE || res == -EBADF || res == -ENODEV)
			break;
		if (res > 0) {
			done += (unsigned int)res / eb;
			took += (unsigned int)res / eb;
		} else {
			done++;
		}
	}
	return took;
}

/*
 * Behave: commit what was delivered, keep a fetch armed on every queue
 * (batch) or COMMIT_AND_FETCH each request (per-I/O), for @ms.
 * Returns the number of I/Os committed.
 */
static unsigned long serve(struct srv *s, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	unsigned long before = s->served;
	uint16_t tags[MAX_DEPTH];
	unsigned int q, n, i;

	while (now_ms() < end && s->a.ok) {
		if (ring_reap(&s->a, 20) == -EBADF)
			break;
		for (q = 0; q < s->nq; q++) {
			n = take_owned(s, q, tags, MAX_DEPTH);
			if (!s_batch(s)) {
				for (i = 0; i < n; i++)
					perio_async(
						s, &s->a,
						UBLK_U_IO_COMMIT_AND_FETCH_REQ,
						q, tags[i],
						s_result(s, q, tags[i]));
				s->served += n;
				continue;
			}
			if (n)
				s->served += commit_tags(s, &s->a, q, tags, n);
			if (!s->fs[q].armed && s->fs[q].ring == &s->a)
				fslot_arm_good(&s->fs[q]);
		}
	}
	return s->served - before;
}

/* Reap for @ms without committing anything. */
static void pump(struct srv *s, struct ring *r, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		if (ring_reap(r, 20) == -EBADF)
			break;
}

/* --------------------------------------------------- device set-up */

/* Parameters of a DEV_BYTES device of 512-byte blocks, plus @types. */
static void basic_params(struct ublk_params *p, uint32_t types)
{
	memset(p, 0, sizeof(*p));
	p->len = sizeof(*p);
	p->types = UBLK_PARAM_TYPE_BASIC | types;
	p->basic.logical_bs_shift = 9;
	p->basic.physical_bs_shift = 12;
	p->basic.io_min_shift = 9;
	p->basic.io_opt_shift = 12;
	p->basic.max_sectors = IO_BYTES >> 9;
	p->basic.dev_sectors = DEV_BYTES >> 9;
}

/* ADD_DEV + SET_PARAMS; reports "dev ID FLAGS". 1 means "skip". */
static int srv_add(struct srv *s, uint64_t flags, unsigned int nq,
		   unsigned int depth)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	char r[32];
	int ret;

	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = (uint16_t)nq;
	info.queue_depth = (uint16_t)depth;
	info.max_io_buf_bytes = IO_BYTES;
	info.dev_id = (uint32_t)-1;
	info.ublksrv_pid = -1;
	info.flags = flags | UBLK_F_CMD_IOCTL_ENCODE;
	if (flags & UBLK_F_IO_DESC_SIZE)
		info.io_desc_size = s->want_desc_size;
	if (g_features & UBLK_F_NO_AUTO_PART_SCAN)
		info.flags |= UBLK_F_NO_AUTO_PART_SCAN;
	if (opt.unpriv)
		info.flags |= UBLK_F_UNPRIVILEGED_DEV;
	ret = ctrl_cmd(&s->ctrl, UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &info,
		       sizeof(info), 0, false, CTRL_MS);
	if (ret < 0) {
		report("fail", "ADD_DEV: %s", res_str(ret, r, sizeof(r)));
		return ret;
	}
	s->dev_id = info.dev_id;
	s->flags = info.flags;
	s->path = info.flags & UBLK_F_UNPRIVILEGED_DEV;
	s->nq = info.nr_hw_queues;
	s->depth = info.queue_depth;
	s->desc_size = info.flags & UBLK_F_IO_DESC_SIZE ?
			       info.io_desc_size :
			       sizeof(struct ublksrv_io_desc);
	report("dev", "%u %llu", s->dev_id, (unsigned long long)s->flags);
	if ((s->flags & flags) != flags) {
		report("skip", "ADD_DEV did not grant flags 0x%llx",
		       (unsigned long long)(flags & ~s->flags));
		return 1;
	}
	if (s->nq > MAX_QUEUES || s->depth > MAX_DEPTH) {
		report("fail", "ADD_DEV granted %u queues of depth %u", s->nq,
		       s->depth);
		return -EINVAL;
	}
	basic_params(&p, 0);
	if (s->integ) {
		p.types |= UBLK_PARAM_TYPE_INTEGRITY;
		p.integrity = *s->integ;
	}
	if (flags & UBLK_F_ZONED) {
		p.types |= UBLK_PARAM_TYPE_ZONED;
		p.basic.chunk_sectors = Z_SECTORS;
		p.zoned.max_zone_append_sectors = IO_BYTES >> 9;
	}
	/*
	 * An unprivileged device is commanded through its node: wait until
	 * it is ours (udev, or the stand-in node_helper(), hands it over).
	 */
	if (s->path) {
		char node[64];
		int waited;

		snprintf(node, sizeof(node), "/dev/ublkc%u", s->dev_id);
		for (waited = 0; access(node, R_OK | W_OK) && waited < 10000;
		     waited += 20)
			sleep_ms(20);
	}
	ret = ctrl_cmd(&s->ctrl, UBLK_U_CMD_SET_PARAMS, s->dev_id, &p,
		       sizeof(p), 0, s->path, CTRL_MS);
	if (ret < 0) {
		report("fail", "SET_PARAMS: %s", res_str(ret, r, sizeof(r)));
		return ret;
	}
	return 0;
}

/* Open /dev/ublkcN, map the descriptors, allocate copy buffers, ring a. */
static int srv_open(struct srv *s, bool inc)
{
	size_t stride;
	char path[64];
	unsigned int q;
	int waited = 0, ret;

	/* A recovering server's device was added without IO_DESC_SIZE. */
	if (!s->desc_size)
		s->desc_size = sizeof(struct ublksrv_io_desc);
	stride = ((size_t)UBLK_MAX_QUEUE_DEPTH * s->desc_size + PAGE - 1) /
		 PAGE * PAGE;

	snprintf(path, sizeof(path), "/dev/ublkc%u", s->dev_id);
	for (;;) {
		s->char_fd = open(path, O_RDWR | O_CLOEXEC);
		if (s->char_fd >= 0)
			break;
		if ((errno != ENOENT && errno != EACCES && errno != EBUSY) ||
		    waited >= 10000) {
			report("fail", "open %s: %s", path, strerror(errno));
			return -errno;
		}
		sleep_ms(20);
		waited += 20;
	}
	s->desc_len =
		((size_t)s->depth * s->desc_size + PAGE - 1) / PAGE * PAGE;
	for (q = 0; q < s->nq; q++) {
		void *p = mmap(NULL, s->desc_len, PROT_READ, MAP_SHARED,
			       s->char_fd, (off_t)(q * stride));

		if (p == MAP_FAILED) {
			report("fail", "mmap descriptors of queue %u: %s", q,
			       strerror(errno));
			return -errno;
		}
		s->desc[q] = p;
		if (s_copy(s) && posix_memalign((void **)&s->bufs[q], PAGE,
						(size_t)s->depth * IO_BYTES))
			return -ENOMEM;
	}
	ret = ring_init(&s->a, s);
	if (ret) {
		report("fail", "io_uring_queue_init: %s", strerror(-ret));
		return ret;
	}
	if (s_batch(s))
		for (q = 0; q < s->nq; q++)
			if (fslot_init(s, &s->a, q, inc))
				return -ENOMEM;
	return 0;
}

/* PREP @tags of queue q correctly; the driver's answer. */
static int prep_tags(struct srv *s, unsigned int q, const uint16_t *tags,
		     unsigned int n)
{
	char wire[MAX_DEPTH * 24];
	uint16_t fl = s_bflags(s);

	build_elems(s, wire, fl, q, tags, n, false);
	return batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, (uint16_t)q, fl,
			  (uint16_t)n, (uint8_t)elem_bytes(fl), wire);
}

/* PREP every tag of every queue correctly. */
static int prep_all(struct srv *s)
{
	uint16_t tags[MAX_DEPTH];
	unsigned int q, t;
	char r[32];
	int ret;

	for (t = 0; t < s->depth; t++)
		tags[t] = (uint16_t)t;
	for (q = 0; q < s->nq; q++) {
		ret = prep_tags(s, q, tags, s->depth);
		if (ret) {
			report("fail", "PREP_IO_CMDS of queue %u: %s", q,
			       res_str(ret, r, sizeof(r)));
			return ret == RES_NONE ? -ETIME : ret;
		}
	}
	return 0;
}

/* Per-I/O mode: FETCH_REQ every tag. */
static void fetch_all(struct srv *s)
{
	unsigned int q, t;

	for (q = 0; q < s->nq; q++)
		for (t = 0; t < s->depth; t++)
			perio_async(s, &s->a, UBLK_U_IO_FETCH_REQ, q, t, 0);
	io_uring_submit(&s->a.r);
}

static int start_dev(struct srv *s)
{
	char r[32];
	int ret;

	ret = ctrl_cmd(&s->ctrl, UBLK_U_CMD_START_DEV, s->dev_id, NULL, 0,
		       (uint64_t)getpid(), s->path, CTRL_MS);
	if (ret) {
		report("fail", "START_DEV: %s", res_str(ret, r, sizeof(r)));
		return ret == RES_NONE ? -ETIME : ret;
	}
	s->started = true;
	report("live", "%u", s->dev_id);
	return 0;
}

/*
 * Start @n I/O processes on /dev/ublkbN. They are this program run again
 * (--io-worker), so they hold none of the server's files or mappings: a
 * forked copy would keep /dev/ublkcN and the rings alive after the server
 * died and hide exactly what the scenarios look at.
 */
static void start_io(struct srv *s, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n && s->nio < MAX_IO_PROCS; i++) {
		char id[16], seed[32];
		pid_t pid;

		snprintf(id, sizeof(id), "%u", s->dev_id);
		snprintf(seed, sizeof(seed), "%llu",
			 (unsigned long long)rng_next(&s->rng));
		pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			execl(opt.self, opt.self, "--io-worker", id, seed,
			      s->io_mem[0] ? s->io_mem : (char *)NULL,
			      (char *)NULL);
			_exit(127);
		}
		s->nio++;
		report("io", "%d", (int)pid);
	}
}

/* ------------------------------------------------------- SHMEM_ZC */

static bool our_module(void)
{
	return !access("/sys/module/ublkctl_drv", F_OK);
}

/* A memfd of SHM_BYTES, kept across exec so I/O workers can map it. */
static char *shm_create(int prot, int *fdp)
{
	int fd = memfd_create("ublk-hostile", 0);
	char *p;

	if (fd < 0 || ftruncate(fd, SHM_BYTES)) {
		report("fail", "memfd: %s", strerror(errno));
		return NULL;
	}
	p = mmap(NULL, SHM_BYTES, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		report("fail", "mmap memfd: %s", strerror(errno));
		return NULL;
	}
	if (fdp)
		*fdp = fd;
	return p;
}

static int reg_buf_on(struct ctrl *c, const struct srv *s, uint64_t addr,
		      uint64_t len, uint32_t flags, uint32_t reserved,
		      uint16_t cmd_len)
{
	struct ublk_shmem_buf_reg reg = { addr, len, flags, reserved };

	return ctrl_cmd(c, UBLK_U_CMD_REG_BUF, s->dev_id, &reg, cmd_len, 0,
			s->path, CTRL_MS);
}

static int reg_buf(struct srv *s, const void *addr, uint64_t len,
		   uint32_t flags)
{
	return reg_buf_on(&s->ctrl, s, (uint64_t)(uintptr_t)addr, len, flags, 0,
			  sizeof(struct ublk_shmem_buf_reg));
}

static int unreg_buf_on(struct ctrl *c, const struct srv *s, uint64_t index)
{
	return ctrl_cmd(c, UBLK_U_CMD_UNREG_BUF, s->dev_id, NULL, 0, index,
			s->path, CTRL_MS);
}

/*
 * SHMEM_ZC devices: register a fresh memfd as the I/O workers' buffer
 * (they map it through /proc/self/fd), so their requests match it.
 */
static int shm_setup_io(struct srv *s)
{
	char r[32];
	int fd, res;
	char *p;

	if (!(s->flags & UBLK_F_SHMEM_ZC))
		return 0;
	p = shm_create(PROT_READ | PROT_WRITE, &fd);
	if (!p)
		return -ENOMEM;
	res = reg_buf(s, p, SHM_BYTES, 0);
	if (res < 0) {
		report("fail", "REG_BUF of the I/O buffer: %s",
		       res_str(res, r, sizeof(r)));
		return res;
	}
	report("note", "REG_BUF of the I/O buffer: index %d", res);
	snprintf(s->io_mem, sizeof(s->io_mem), "/proc/self/fd/%d", fd);
	return 0;
}

/* Everything up to a LIVE batch device with I/O queued and no fetch. */
static int batch_live(struct srv *s, uint64_t flags, unsigned int nq,
		      unsigned int depth, bool inc, unsigned int nio)
{
	int ret = srv_add(s, flags, nq, depth);

	if (ret)
		return ret;
	ret = srv_open(s, inc);
	if (!ret)
		ret = shm_setup_io(s);
	if (!ret)
		ret = prep_all(s);
	if (!ret)
		ret = start_dev(s);
	if (ret)
		return ret;
	start_io(s, nio);
	/* let the requests reach the driver's tag fifo */
	sleep_ms(300);
	return 0;
}

/*
 * The closing check of most scenarios: a correct server makes progress.
 * With @must false the outcome is only reported (the server broke its own
 * device, the driver need not repair it).
 */
static void check_serving(struct srv *s, const char *after, bool must)
{
	uint64_t end = now_ms() + FIRST_IO_MS;
	unsigned long n = 0;

	do
		n += serve(s, 1000);
	while (!n && now_ms() < end);
	if (n)
		report("note", "%s: a correct server then committed %lu I/Os",
		       after, n);
	else
		report(must ? "fail" : "note",
		       "%s: a correct server then got no I/O in %d s", after,
		       FIRST_IO_MS / 1000);
}

static void expect_serving(struct srv *s, const char *after)
{
	check_serving(s, after, true);
}

/* --------------------------------------------------------- scenarios */

struct scenario;
struct run;

typedef void (*server_fn)(struct srv *s, const struct scenario *sc);
typedef void (*drive_fn)(struct run *r, const struct scenario *sc);

struct scenario {
	const char *name;
	const char *what; /* what it does and what it expects */
	uint64_t flags; /* UBLK_F_* asked of ADD_DEV */
	unsigned int nq, depth;
	server_fn server;
	drive_fn drive; /* parent side; NULL: run server, then check */
	int arg;
	bool inc; /* fetch buffers on an IOU_PBUF_RING_INC ring */
	bool priv_only; /* flags unprivileged devices may not have */
};

#define F_BATCH UBLK_F_BATCH_IO
#define F_AUTO (UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG)

/* A fetch whose only buffer is shorter than a tag, or leaves a tail. */
static void sv_fetch_short(struct srv *s, const struct scenario *sc)
{
	struct fslot *f = &s->fs[0];
	char what[128], r[32];
	uint16_t tags[MAX_DEPTH];
	unsigned int n;
	int ret;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, sc->inc, 4))
		return;
	ret = fslot_arm(f, f->good, (unsigned int)sc->arg, true);
	if (ret) {
		report("fail", "arming the fetch: %s", strerror(-ret));
		return;
	}
	snprintf(what, sizeof(what), "FETCH with a %d-byte buffer%s", sc->arg,
		 sc->inc ? " (incremental)" : "");
	if (!fslot_wait_end(f, 5000)) {
		report("fail",
		       "%s: still armed after 5 s with I/O queued (%u CQEs, %u tags): the driver neither ends it nor delivers",
		       what, f->cqes, f->tags);
		return;
	}
	report("note", "%s: ended with %s after %u CQEs carrying %u tags", what,
	       res_str(f->end_res, r, sizeof(r)), f->cqes - 1, f->tags);
	expect(what, f->end_res, -ENOBUFS);
	n = take_owned(s, 0, tags, MAX_DEPTH);
	if (n)
		commit_tags(s, &s->a, 0, tags, n);
	fslot_arm_good(f);
	expect_serving(s, what);
}

struct guesser {
	struct srv *s;
	struct ring r;
	volatile bool stop;
	unsigned long accepted, tried;
};

/* Second thread: commit every tag, fetched or not, as fast as it can. */
static void *guess_commits(void *arg)
{
	struct guesser *g = arg;
	struct srv *s = g->s;
	uint16_t fl = s_bflags(s);
	unsigned int eb = elem_bytes(fl), t;
	char wire[24];
	int res;

	while (!g->stop) {
		for (t = 0; t < s->depth && !g->stop; t++) {
			put_elem(wire, fl, (uint16_t)t, s_index(s, 0, t), 4096,
				 s_buf(s, 0, t));
			res = batch_sync(s, &g->r, UBLK_U_IO_COMMIT_IO_CMDS, 0,
					 fl, 1, (uint8_t)eb, wire);
			g->tried++;
			if (res == (int)eb)
				g->accepted++;
			if (res == RES_NONE || res == -ENODEV || res == -EBADF)
				return NULL;
		}
	}
	return NULL;
}

/* A fetch buffer at an unmapped address, with I/O queued. */
static void sv_fetch_unmapped(struct srv *s, const struct scenario *sc)
{
	struct fslot *f = &s->fs[0];
	struct guesser g = { .s = s };
	pthread_t th;
	unsigned int efault = 0, enobufs = 0, other = 0, rounds = 0;
	bool race = sc->arg, thread = false;
	void *bad = unmapped_addr();
	uint64_t end;
	char r[32];

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 4))
		return;
	if (race) {
		if (ring_init(&g.r, s) ||
		    pthread_create(&th, NULL, guess_commits, &g)) {
			report("fail", "second ring or thread failed");
			return;
		}
		thread = true;
	}
	end = now_ms() + (race ? 4000 : 1);
	do {
		if (fslot_arm(f, bad, PAGE, false))
			break;
		rounds++;
		/*
		 * With automatic registration a guessed commit the driver
		 * accepts from the second ring leaves the request's buffer in
		 * this ring's table (only this ring may drop it): the request
		 * ends when the buffer goes, and once every I/O worker waits
		 * on such a request there is nothing to fetch. Dropping the
		 * table, as a server that lost track of its buffers would,
		 * must let the I/O go on.
		 */
		if (!fslot_wait_end(f, 5000) && s_autoreg(s) &&
		    !io_uring_unregister_buffers(&s->a.r) &&
		    !io_uring_register_buffers_sparse(&s->a.r,
						      s->nq * s->depth)) {
			report("note",
			       "FETCH idle for 5 s after %lu accepted guessed commits: buffer table dropped",
			       g.accepted);
			fslot_wait_end(f, 5000);
		}
		if (f->armed) {
			report("fail",
			       "FETCH with an unmapped buffer still armed after 5 s (%u CQEs): the driver neither fails nor delivers",
			       f->cqes);
			g.stop = true;
			if (thread)
				pthread_join(th, NULL);
			return;
		}
		if (f->end_res == -EFAULT)
			efault++;
		else if (f->end_res == -ENOBUFS)
			enobufs++;
		else
			other++;
		if (rounds == 1)
			report("note",
			       "FETCH with an unmapped buffer: ended with %s",
			       res_str(f->end_res, r, sizeof(r)));
	} while (now_ms() < end);
	g.stop = true;
	if (thread) {
		pthread_join(th, NULL);
		ring_exit(&g.r);
	}
	report("note",
	       "%u unmapped-buffer fetches: %u -EFAULT, %u -ENOBUFS, %u other; %lu of %lu guessed commits accepted",
	       rounds, efault, enobufs, other, g.accepted, g.tried);
	if (other || efault)
		report("fail",
		       "FETCH with an unmapped buffer ended %u times with something else than -ENOBUFS, upstream's answer (last %s)",
		       other + efault, res_str(f->end_res, r, sizeof(r)));
	fslot_arm_good(f);
	expect_serving(s, "unmapped fetch buffer");
}

/* COMMIT_IO_CMDS with every kind of bad argument. */
static void sv_commit_args(struct srv *s, const struct scenario *sc)
{
	uint16_t fl, tags[MAX_DEPTH], t0, t1, never = 0;
	char wire[(MAX_DEPTH + 2) * 24];
	unsigned int eb, n, t;
	int res;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 4))
		return;
	fl = s_bflags(s);
	eb = elem_bytes(fl);
	fslot_arm_good(&s->fs[0]);
	wait_owned(s, 0, 2, 5000);
	n = 0;
	for (t = 0; t < s->depth; t++)
		if (__atomic_load_n(&s->owned[0][t], __ATOMIC_SEQ_CST))
			tags[n++] = (uint16_t)t;
		else
			never = (uint16_t)t;
	if (n < 2) {
		report("fail", "only %u tags delivered in 5 s", n);
		return;
	}
	t0 = tags[0];
	t1 = tags[1];

	build_elems(s, wire, fl, 0, tags, 1, true);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 0,
			 (uint8_t)eb, wire);
	expect("COMMIT nr_elem 0 (upstream returns 0)", res, 0);
	for (t = 0; t < s->depth + 1; t++)
		put_elem(wire + t * eb, fl, (uint16_t)(t % s->depth),
			 s_index(s, 0, t % s->depth), 0,
			 s_buf(s, 0, t % s->depth));
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl,
			 (uint16_t)(s->depth + 1), (uint8_t)eb, wire);
	expect("COMMIT nr_elem > depth", res, -E2BIG);
	build_elems(s, wire, fl, 0, &t0, 1, true);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, (uint16_t)s->nq,
			 fl, 1, (uint8_t)eb, wire);
	expect("COMMIT q_id >= nr_hw_queues", res, -EINVAL);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl | 0x80, 1,
			 (uint8_t)eb, wire);
	expect("COMMIT unknown flag 0x80", res, -EINVAL);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
			 (uint8_t)(eb + 8), wire);
	expect("COMMIT elem_bytes 8 too large", res, -EINVAL);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
			 (uint8_t)(eb - 4), wire);
	expect("COMMIT elem_bytes 4 too small", res, -EINVAL);
	if (s_copy(s)) {
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0,
				 fl | UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK, 1,
				 (uint8_t)eb, wire);
		expect("COMMIT AUTO_BUF_REG_FALLBACK in copy mode", res,
		       -EINVAL);
	} else {
		build_elems(s, wire, UBLK_BATCH_F_HAS_BUF_ADDR, 0, &t0, 1,
			    true);
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0,
				 UBLK_BATCH_F_HAS_BUF_ADDR, 1, 16, wire);
		expect("COMMIT HAS_BUF_ADDR without copy mode", res, -EINVAL);
		build_elems(s, wire,
			    UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK |
				    UBLK_BATCH_F_HAS_BUF_ADDR,
			    0, &t0, 1, true);
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0,
				 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK |
					 UBLK_BATCH_F_HAS_BUF_ADDR,
				 1, 16, wire);
		expect("COMMIT FALLBACK with HAS_BUF_ADDR", res, -EINVAL);
	}
	build_elems(s, wire, fl | UBLK_BATCH_F_HAS_ZONE_LBA, 0, &t0, 1, true);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0,
			 fl | UBLK_BATCH_F_HAS_ZONE_LBA, 1, (uint8_t)(eb + 8),
			 wire);
	expect("COMMIT HAS_ZONE_LBA on a non-zoned device", res, -EINVAL);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 2,
			 (uint8_t)eb, unmapped_addr());
	expect("COMMIT element array at an unmapped address", res, -EFAULT);
	tags[0] = (uint16_t)s->depth;
	build_elems(s, wire, fl, 0, tags, 1, true);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
			 (uint8_t)eb, wire);
	expect("COMMIT tag == depth", res, -EINVAL);
	tags[0] = 0xffff;
	build_elems(s, wire, fl, 0, tags, 1, true);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
			 (uint8_t)eb, wire);
	expect("COMMIT tag 0xffff", res, -EINVAL);
	if (!__atomic_load_n(&s->owned[0][never], __ATOMIC_SEQ_CST)) {
		build_elems(s, wire, fl, 0, &never, 1, true);
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
				 (uint8_t)eb, wire);
		expect("COMMIT a never-fetched tag", res, -EBUSY);
	}
	if (s_copy(s)) {
		put_elem(wire, fl, t0, 0, s_result(s, 0, t0), 0);
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 1,
				 (uint8_t)eb, wire);
		expect("COMMIT zero buffer address in copy mode", res, -EINVAL);
	}
	/* the kernel posts per-I/O results for per-I/O commands only */
	res = perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, never, 0,
			 s_buf(s, 0, never), CMD_MS);
	expect("FETCH_REQ on a batch device", res, -EOPNOTSUPP);
	res = perio_sync(s, &s->a, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, t0, 0,
			 s_buf(s, 0, t0), CMD_MS);
	expect("COMMIT_AND_FETCH_REQ on a batch device", res, -EOPNOTSUPP);

	tags[0] = t0;
	tags[1] = t0;
	build_elems(s, wire, fl, 0, tags, 2, true);
	__atomic_store_n(&s->owned[0][t0], 0, __ATOMIC_SEQ_CST);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 2,
			 (uint8_t)eb, wire);
	expect("COMMIT the same tag twice (first handled, then -EBUSY)", res,
	       (int)eb);
	tags[0] = t1;
	tags[1] = (uint16_t)s->depth;
	build_elems(s, wire, fl, 0, tags, 2, true);
	__atomic_store_n(&s->owned[0][t1], 0, __ATOMIC_SEQ_CST);
	res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl, 2,
			 (uint8_t)eb, wire);
	expect("COMMIT a valid tag, then tag == depth (partial)", res, (int)eb);
	expect_serving(s, "bad commits");
}

/* PREP_IO_CMDS with bad lists must change nothing (all or nothing). */
static void sv_prep_args(struct srv *s, const struct scenario *sc)
{
	char wire[(MAX_DEPTH + 2) * 24];
	uint16_t tags[MAX_DEPTH + 2], fl;
	unsigned int eb, t;
	int res;

	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	fl = s_bflags(s);
	eb = elem_bytes(fl);
	for (t = 0; t < s->depth + 2; t++)
		tags[t] = (uint16_t)t;
	tags[3] = 0;
	build_elems(s, wire, fl, 0, tags, 4, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 4,
			 (uint8_t)eb, wire);
	expect("PREP 0,1,2,0 (duplicate after valid ones)", res, -EINVAL);
	tags[3] = (uint16_t)s->depth;
	build_elems(s, wire, fl, 0, tags, 4, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 4,
			 (uint8_t)eb, wire);
	expect("PREP 0,1,2,depth (out of range after valid ones)", res,
	       -EINVAL);
	if (s_copy(s)) {
		tags[3] = 3;
		build_elems(s, wire, fl, 0, tags, 4, false);
		put_elem(wire + 3 * eb, fl, 3, 0, 0, 0);
		res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 4,
				 (uint8_t)eb, wire);
		expect("PREP 0,1,2,3 with a zero buffer address last", res,
		       -EINVAL);
	}
	for (t = 0; t < s->depth + 1; t++)
		tags[t] = (uint16_t)(t % s->depth);
	build_elems(s, wire, fl, 0, tags, s->depth + 1, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl,
			 (uint16_t)(s->depth + 1), (uint8_t)eb, wire);
	expect("PREP nr_elem > depth", res, -E2BIG);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 4,
			 (uint8_t)eb, unmapped_addr());
	expect("PREP element array at an unmapped address", res, -EFAULT);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 4,
			 (uint8_t)(eb + 8), wire);
	expect("PREP wrong elem_bytes", res, -EINVAL);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, (uint16_t)s->nq, fl,
			 4, (uint8_t)eb, wire);
	expect("PREP q_id >= nr_hw_queues", res, -EINVAL);
	/* every failed PREP above must have left every tag unprepared */
	if (prep_all(s))
		return;
	report("note", "a correct PREP of every tag then succeeded");
	if (start_dev(s))
		return;
	start_io(s, 4);
	fslot_arm_good(&s->fs[0]);
	expect_serving(s, "failed PREPs");
}

/* PREP again once the device is LIVE. */
static void sv_prep_live(struct srv *s, const struct scenario *sc)
{
	char wire[4 * 24];
	uint16_t tags[2] = { 0, 0 }, fl;
	int res;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 4))
		return;
	fslot_arm_good(&s->fs[0]);
	serve(s, 1000);
	fl = s_bflags(s);
	build_elems(s, wire, fl, 0, tags, 2, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 1,
			 (uint8_t)elem_bytes(fl), wire);
	expect("PREP tag 0 on a LIVE device", res, -EBUSY);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 2,
			 (uint8_t)elem_bytes(fl), wire);
	expect("PREP 0,0 on a LIVE device", res, -EBUSY);
	expect_serving(s, "PREP on a LIVE device");
}

/* Serve with @nio I/O workers until killed. */
static void serve_until_killed(struct srv *s, const struct scenario *sc,
			       unsigned int nio)
{
	unsigned int q;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, nio))
		return;
	for (q = 0; q < s->nq; q++)
		fslot_arm_good(&s->fs[q]);
	for (;;)
		serve(s, 1000);
}

/* A well-behaved server that serves until it is killed. */
static void sv_serve_forever(struct srv *s, const struct scenario *sc)
{
	serve_until_killed(s, sc, 4);
}

/* A server whose FETCH commands stay armed and idle: no I/O is sent. */
static void sv_idle_fetch(struct srv *s, const struct scenario *sc)
{
	serve_until_killed(s, sc, 0);
}

/*
 * Per-I/O server that takes requests and commits none, then, while the
 * parent's DEL_DEV waits for those requests, issues a FETCH_REQ (which
 * needs the device mutex DEL_DEV holds). It must still die on SIGKILL.
 */
static void sv_fetch_during_del(struct srv *s, const struct scenario *sc)
{
	uint64_t end;

	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	fetch_all(s);
	if (start_dev(s))
		return;
	start_io(s, 4);
	end = now_ms() + 2500;
	while (now_ms() < end)
		ring_reap(&s->a, 100);
	perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, 0, 0, s_buf(s, 0, 0),
		   CMD_MS);
	for (;;)
		sleep_ms(1000);
}

/*
 * Recovery, second server whose one PREP list holds every remaining tag
 * and then a duplicate: the list fails as a whole, although its valid part
 * would have completed the queue; then the rest, and END_USER_RECOVERY.
 */
static void sv_recover_fill_then_bad(struct srv *s, const struct scenario *sc)
{
	char wire[(MAX_DEPTH + 1) * 24];
	uint16_t tags[MAX_DEPTH + 1], fl;
	unsigned int eb, h, t;
	int res;

	s->depth = sc->depth;
	s->nq = sc->nq;
	if (srv_open(s, false))
		return;
	fl = s_bflags(s);
	eb = elem_bytes(fl);
	h = s->depth / 2;
	for (t = 0; t < h; t++)
		tags[t] = (uint16_t)t;
	build_elems(s, wire, fl, 0, tags, h, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, (uint16_t)h,
			 (uint8_t)eb, wire);
	expect("recovery: PREP of the first half", res, 0);
	for (t = h; t < s->depth; t++)
		tags[t - h] = (uint16_t)t;
	tags[s->depth - h] = (uint16_t)h;
	build_elems(s, wire, fl, 0, tags, s->depth - h + 1, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl,
			 (uint16_t)(s->depth - h + 1), (uint8_t)eb, wire);
	expect("recovery: PREP of the second half, then a duplicate", res,
	       -EINVAL);
	build_elems(s, wire, fl, 0, tags, s->depth - h, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl,
			 (uint16_t)(s->depth - h), (uint8_t)eb, wire);
	expect("recovery: PREP of the second half again", res, 0);
	fslot_arm_good(&s->fs[0]);
	res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_END_USER_RECOVERY, s->dev_id, NULL,
		       0, (uint64_t)getpid(), s->path, CTRL_MS);
	if (!expect("END_USER_RECOVERY", res, 0))
		return;
	expect_serving(s, "recovery whose completing PREP list failed");
}

/*
 * Recovery, second server: PREP part of the tags, then a bad list, then
 * the rest, and END_USER_RECOVERY, while the first server's I/O waits.
 */
static void sv_recover_part(struct srv *s, const struct scenario *sc)
{
	char wire[(MAX_DEPTH + 1) * 24];
	uint16_t tags[MAX_DEPTH + 1], fl;
	unsigned int eb, h, t;
	char r[32];
	int res;

	s->depth = sc->depth;
	s->nq = sc->nq;
	if (srv_open(s, false))
		return;
	fl = s_bflags(s);
	eb = elem_bytes(fl);
	h = s->depth / 2;
	for (t = 0; t < s->depth; t++)
		tags[t] = (uint16_t)t;
	build_elems(s, wire, fl, 0, tags, h, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, (uint16_t)h,
			 (uint8_t)eb, wire);
	expect("recovery: PREP of the first half", res, 0);
	tags[0] = (uint16_t)h;
	tags[1] = (uint16_t)h;
	build_elems(s, wire, fl, 0, tags, 2, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 2,
			 (uint8_t)eb, wire);
	expect("recovery: PREP h,h (duplicate)", res, -EINVAL);
	tags[1] = 0;
	build_elems(s, wire, fl, 0, tags, 2, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl, 2,
			 (uint8_t)eb, wire);
	expect("recovery: PREP h,0 (0 already prepared)", res, -EINVAL);
	for (t = h; t < s->depth; t++)
		tags[t - h] = (uint16_t)t;
	build_elems(s, wire, fl, 0, tags, s->depth - h, false);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl,
			 (uint16_t)(s->depth - h), (uint8_t)eb, wire);
	expect("recovery: PREP of the second half", res, 0);
	fslot_arm_good(&s->fs[0]);
	res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_END_USER_RECOVERY, s->dev_id, NULL,
		       0, (uint64_t)getpid(), s->path, CTRL_MS);
	if (!expect("END_USER_RECOVERY", res, 0))
		return;
	report("note", "recovered: %s", res_str(res, r, sizeof(r)));
	expect_serving(s, "recovery with a bad PREP");
}

/* Commit tags fetched on ring a from a second ring. */
static void sv_commit_other_ring(struct srv *s, const struct scenario *sc)
{
	struct ring b;
	uint16_t tags[MAX_DEPTH];
	unsigned long took = 0, offered = 0;
	uint64_t end;
	unsigned int n;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 4))
		return;
	if (ring_init(&b, s)) {
		report("fail", "second ring");
		return;
	}
	fslot_arm_good(&s->fs[0]);
	/* 3 s of commits, once the first I/O has come */
	end = now_ms() + FIRST_IO_MS;
	while (now_ms() < end) {
		ring_reap(&s->a, 20);
		n = take_owned(s, 0, tags, MAX_DEPTH);
		if (n && !offered)
			end = now_ms() + 3000;
		offered += n;
		if (n)
			took += commit_tags(s, &b, 0, tags, n);
		if (!s->fs[0].armed)
			fslot_arm_good(&s->fs[0]);
	}
	report("note", "second ring committed %lu of %lu fetched I/Os", took,
	       offered);
	if (!offered)
		report("fail", "no I/O delivered in %d s", FIRST_IO_MS / 1000);
	/*
	 * Auto-registered buffers live in ring a's table: a commit on ring b
	 * cannot unregister them, so later registrations at those indexes
	 * fail and their requests with them. Self-inflicted: only reported.
	 */
	check_serving(s, "commits from a second ring", !s_autoreg(s));
	ring_exit(&b);
}

enum { CLOSE_RING = 1, CLOSE_CHAR = 2, WITH_FETCHED = 4 };

/* Close the ring or /dev/ublkcN in the middle of a batch. */
static void sv_close_mid(struct srv *s, const struct scenario *sc)
{
	uint16_t tags[MAX_DEPTH];
	unsigned int q, n;
	char r[32];
	int res;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 4))
		return;
	fslot_arm_good(&s->fs[0]);
	if (sc->arg & WITH_FETCHED) {
		report("note", "%u tags fetched and kept",
		       wait_owned(s, 0, 1, 5000));
	} else {
		serve(s, 1000);
		report("note", "fetch armed, %lu I/Os served", s->served);
	}
	if (sc->arg & CLOSE_CHAR) {
		for (q = 0; q < s->nq; q++)
			munmap(s->desc[q], s->desc_len);
		close(s->char_fd);
		s->char_fd = -1;
		report("note", "closed /dev/ublkc%u", s->dev_id);
		sleep_ms(500);
		/* the ring lives on: what does a commit on it do now? */
		n = take_owned(s, 0, tags, MAX_DEPTH);
		if (n) {
			char wire[MAX_DEPTH * 24];
			uint16_t fl = s_bflags(s);

			build_elems(s, wire, fl, 0, tags, n, false);
			res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0,
					 fl, (uint16_t)n,
					 (uint8_t)elem_bytes(fl), wire);
			report("note", "COMMIT after the close: %s",
			       res_str(res, r, sizeof(r)));
		}
		pump(s, &s->a, 1000);
	}
	if (sc->arg & CLOSE_RING) {
		ring_exit(&s->a);
		report("note", "closed the ring");
	}
	sleep_ms(1500);
}

/* Per-I/O mode: bad tags, bad q_id, zero address, unowned commits. */
struct foreign {
	struct srv *s;
	unsigned int tag;
	int res;
};

static void *foreign_commit(void *arg)
{
	struct foreign *f = arg;
	struct ring r;

	f->res = -ENOMEM;
	if (ring_init(&r, f->s))
		return NULL;
	f->res = perio_sync(f->s, &r, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, f->tag,
			    0, s_buf(f->s, 0, f->tag), 1000);
	ring_exit(&r);
	return NULL;
}

static void sv_perio(struct srv *s, const struct scenario *sc)
{
	struct foreign fc = { .s = s };
	pthread_t th;
	uint64_t end;
	unsigned int t, last;
	int res;

	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	last = s->depth - 1;
	res = perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, s->nq, 0, 0,
			 s_buf(s, 0, 0), CMD_MS);
	expect("FETCH_REQ q_id >= nr_hw_queues", res, -EINVAL);
	res = perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, s->depth, 0,
			 s_buf(s, 0, 0), CMD_MS);
	expect("FETCH_REQ tag == depth", res, -EINVAL);
	if (s_copy(s)) {
		res = perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, 0, 0, 0,
				 CMD_MS);
		expect("FETCH_REQ zero buffer address in copy mode", res,
		       -EINVAL);
	}
	for (t = 0; t < last; t++)
		perio_async(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, t, 0);
	res = perio_sync(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, 0, 0, s_buf(s, 0, 0),
			 CMD_MS);
	expect("FETCH_REQ of an already fetched tag", res, -EINVAL);
	res = perio_sync(s, &s->a, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, 1, 0,
			 s_buf(s, 0, 1), CMD_MS);
	expect("COMMIT_AND_FETCH_REQ of a tag that has no request", res,
	       -EBUSY);
	perio_async(s, &s->a, UBLK_U_IO_FETCH_REQ, 0, last, 0);
	io_uring_submit(&s->a.r);
	if (start_dev(s))
		return;
	start_io(s, 4);
	serve(s, 1000);
	res = perio_sync(s, &s->a, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, s->depth,
			 0, s_buf(s, 0, 0), CMD_MS);
	expect("COMMIT_AND_FETCH_REQ tag == depth", res, -EINVAL);
	res = perio_sync(s, &s->a, UBLK_U_IO_COMMIT_AND_FETCH_REQ, s->nq, 0, 0,
			 s_buf(s, 0, 0), CMD_MS);
	expect("COMMIT_AND_FETCH_REQ q_id >= nr_hw_queues", res, -EINVAL);
	/* wait for a request the server owns */
	end = now_ms() + 5000;
	while (!count_owned(s, 0) && now_ms() < end)
		ring_reap(&s->a, 50);
	for (t = 0; t < s->depth; t++)
		if (__atomic_load_n(&s->owned[0][t], __ATOMIC_SEQ_CST))
			break;
	if (t == s->depth) {
		report("fail", "no request delivered in 5 s");
		return;
	}
	fc.tag = t;
	if (!pthread_create(&th, NULL, foreign_commit, &fc)) {
		pthread_join(th, NULL);
		expect("COMMIT_AND_FETCH_REQ from another task's ring", fc.res,
		       -EINVAL);
	}
	if (s_copy(s)) {
		res = perio_sync(s, &s->a, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, t,
				 s_result(s, 0, t), 0, CMD_MS);
		expect("COMMIT_AND_FETCH_REQ zero buffer address in copy mode",
		       res, -EINVAL);
	}
	expect_serving(s, "bad per-I/O commands");
}

/* One O_DIRECT page read of /dev/ublkbN at off, from a thread. */
struct page_read {
	unsigned int dev_id;
	off_t off;
	int res; /* bytes read or -errno */
	unsigned char first; /* the first byte read */
};

static void *page_read_fn(void *arg)
{
	struct page_read *pr = arg;
	char path[64];
	void *buf;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%u", pr->dev_id);
	pr->res = -ENOMEM;
	if (posix_memalign(&buf, PAGE, PAGE))
		return NULL;
	memset(buf, 0, PAGE);
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0) {
		pr->res = -errno;
	} else {
		n = pread(fd, buf, PAGE, pr->off);
		pr->res = n < 0 ? -errno : (int)n;
		pr->first = *(unsigned char *)buf;
		close(fd);
	}
	free(buf);
	return NULL;
}

/*
 * Commit queue 0's tag @t. The read of the page at @off gets @addr as its
 * buffer (or, with @addr NULL, a good buffer holding 0xa5 bytes); any
 * other request is answered as a correct server would. True if it was
 * that read.
 */
static bool commit_page_read(struct srv *s, unsigned int t, off_t off,
			     const uint64_t *addr)
{
	const struct ublksrv_io_desc *d = s_desc(s, 0, t);
	bool mine = (d->op_flags & 0xff) == UBLK_IO_OP_READ &&
		    d->start_sector == (uint64_t)off >> 9;
	uint64_t buf = s_buf(s, 0, t);
	struct io_uring_sqe *sqe;

	if (mine && addr)
		buf = *addr;
	else if (mine)
		memset(s->bufs[0] + (size_t)t * IO_BYTES, 0xa5, PAGE);
	sqe = ring_sqe(&s->a);
	if (sqe) {
		perio_sqe(s, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, 0, t,
			  s_result(s, 0, t), buf);
		sqe->user_data = ud_make(UD_PERIO, t);
		io_uring_submit(&s->a.r);
	}
	return mine;
}

/*
 * Copy mode, per-I/O: reads committed with a buffer that is not readable
 * memory of the server - a kernel address, the top page of user space
 * (the copy runs into the guard gap), a PROT_NONE page - must fail the
 * read (EIO) without the driver reading from there; a read committed
 * with a good buffer then returns the server's bytes.
 */
static void sv_copy_bad_buf(struct srv *s, const struct scenario *sc)
{
	struct {
		const char *what;
		uint64_t addr;
	} bad[] = {
		{ "a kernel address", 0xffffffff81000000ULL },
		{ "the top page of user space", 0x00007ffffffff000ULL },
		{ "a PROT_NONE page", 0 },
	};
	unsigned int i, t;
	char what[96];
	void *hole;

	/* mapped for the whole run, so nothing else is placed there */
	hole = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (hole == MAP_FAILED) {
		report("fail", "mmap: %s", strerror(errno));
		return;
	}
	bad[2].addr = (uint64_t)(uintptr_t)hole;
	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	fetch_all(s);
	if (start_dev(s))
		return;
	for (i = 0; i <= ARRAY_SIZE(bad); i++) {
		/* static: a reader left behind on failure may still write it */
		static struct page_read pr;
		uint64_t end = now_ms() + 5000;
		bool mine = false;
		pthread_t th;

		pr = (struct page_read){ .dev_id = s->dev_id,
					 .off = (off_t)(i + 1) * PAGE };
		if (pthread_create(&th, NULL, page_read_fn, &pr)) {
			report("fail", "pthread_create");
			return;
		}
		while (!mine && now_ms() < end) {
			ring_reap(&s->a, 50);
			for (t = 0; t < s->depth && !mine; t++) {
				if (!__atomic_exchange_n(&s->owned[0][t], 0,
							 __ATOMIC_SEQ_CST))
					continue;
				mine = commit_page_read(s, t, pr.off,
							i < ARRAY_SIZE(bad) ?
								&bad[i].addr :
								NULL);
			}
		}
		if (!mine)
			report("fail", "read %u: no request for it in 5 s", i);
		/* the read ends once the commit is handled, failed or not */
		while (pthread_tryjoin_np(th, NULL)) {
			if (now_ms() > end + 10000) {
				report("fail", "read %u: still waiting 15 s on",
				       i);
				pthread_detach(th);
				return;
			}
			ring_reap(&s->a, 20);
		}
		if (i < ARRAY_SIZE(bad)) {
			snprintf(what, sizeof(what),
				 "a read committed with %s as its buffer",
				 bad[i].what);
			expect(what, pr.res, -EIO);
		} else {
			expect("a read committed with a good buffer", pr.res,
			       PAGE);
			if (pr.res == PAGE && pr.first != 0xa5)
				report("fail",
				       "the good read returned %#x, not the server's 0xa5",
				       pr.first);
		}
	}
	munmap(hole, PAGE);
	start_io(s, 2);
	expect_serving(s, "copy-mode reads committed with bad buffers");
}

/* T10 DIF type 1 over 512-byte intervals, 8 bytes a sector. */
static const struct ublk_param_integrity integ_t10 = {
	.flags = LBMD_PI_CAP_REFTAG,
	.interval_exp = 9,
	.metadata_size = 8,
	.csum_type = LBMD_PI_CSUM_CRC16_T10DIF,
};

/*
 * UBLK_F_INTEGRITY's parameters from an untrusted server: ADD_DEV without
 * USER_COPY, then SET_PARAMS with each invalid profile, must fail with
 * -EINVAL; a valid one then works, and so does the device.
 */
/*
 * UBLK_F_IO_DESC_SIZE: strides the driver must refuse, then a device with
 * 256-byte descriptors: a mapping of the 24-byte layout's length, or
 * past the last queue, refused; the granted layout serves.
 */
static void sv_io_desc_size(struct srv *s, const struct scenario *sc)
{
	static const uint16_t bad[] = { 0,  8,	 16,  20,   28,
					36, 257, 264, 4096, 65535 };
	struct ublksrv_ctrl_dev_info info;
	char what[64];
	unsigned int i;
	void *p;
	int res;

	if (!(g_features & UBLK_F_IO_DESC_SIZE)) {
		report("skip", "the driver lacks UBLK_F_IO_DESC_SIZE");
		return;
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&info, 0, sizeof(info));
		info.nr_hw_queues = 1;
		info.queue_depth = 4;
		info.max_io_buf_bytes = IO_BYTES;
		info.dev_id = (uint32_t)-1;
		info.ublksrv_pid = -1;
		info.flags = sc->flags | UBLK_F_CMD_IOCTL_ENCODE;
		if (opt.unpriv)
			info.flags |= UBLK_F_UNPRIVILEGED_DEV;
		info.io_desc_size = bad[i];
		res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_ADD_DEV, (uint32_t)-1,
			       &info, sizeof(info), 0, false, CTRL_MS);
		snprintf(what, sizeof(what), "ADD_DEV with io_desc_size %u",
			 bad[i]);
		expect(what, res, -EINVAL);
		if (res >= 0)
			ctrl_cmd(&s->ctrl, UBLK_U_CMD_DEL_DEV, info.dev_id,
				 NULL, 0, 0, false, CTRL_MS);
	}
	s->want_desc_size = 256;
	if (srv_add(s, sc->flags, sc->nq, sc->depth))
		return;
	if (s->desc_size != 256) {
		report("fail", "ADD_DEV granted io_desc_size %zu, asked 256",
		       s->desc_size);
		return;
	}
	if (srv_open(s, false))
		return;
	/* the queue past the last, at the granted stride */
	p = mmap(NULL, s->desc_len, PROT_READ, MAP_SHARED, s->char_fd,
		 (off_t)(s->nq * PAGE_UP((size_t)UBLK_MAX_QUEUE_DEPTH * 256)));
	expect("mmap of a queue past the last one",
	       p == MAP_FAILED ? -errno : 0, -EINVAL);
	if (p != MAP_FAILED)
		munmap(p, s->desc_len);
	/* queue 0 with the 24-byte layout's length */
	p = mmap(NULL, PAGE_UP((size_t)s->depth * 24), PROT_READ, MAP_SHARED,
		 s->char_fd, 0);
	expect("mmap of the 24-byte layout's length",
	       p == MAP_FAILED ? -errno : 0, -EINVAL);
	if (p != MAP_FAILED)
		munmap(p, PAGE_UP((size_t)s->depth * 24));
	if (s_batch(s)) {
		if (prep_all(s))
			return;
	} else {
		fetch_all(s);
	}
	if (start_dev(s))
		return;
	start_io(s, 2);
	expect_serving(s, "bad descriptor strides");
}

static void sv_integrity_params(struct srv *s, const struct scenario *sc)
{
	static const struct {
		const char *what;
		struct ublk_param_integrity p;
	} bad[] = {
		{ "unknown PI capability bit",
		  { .flags = 1U << 2, .interval_exp = 9, .metadata_size = 8 } },
		{ "unknown checksum type 3",
		  { .interval_exp = 9, .metadata_size = 8, .csum_type = 3 } },
		{ "checksum type 255",
		  { .interval_exp = 9, .metadata_size = 8, .csum_type = 255 } },
		{ "metadata_size 0",
		  { .interval_exp = 9, .csum_type = LBMD_PI_CSUM_NONE } },
		{ "reference tag without a checksum",
		  { .flags = LBMD_PI_CAP_REFTAG,
		    .interval_exp = 9,
		    .metadata_size = 8 } },
		{ "pi_offset + T10 tuple beyond metadata_size",
		  { .interval_exp = 9,
		    .metadata_size = 8,
		    .pi_offset = 1,
		    .csum_type = LBMD_PI_CSUM_CRC16_T10DIF } },
		{ "CRC64 tuple (16) in 8 bytes of metadata",
		  { .interval_exp = 9,
		    .metadata_size = 8,
		    .csum_type = LBMD_PI_CSUM_CRC64_NVME } },
		{ "pi_offset 255 + IP tuple in 255 bytes",
		  { .interval_exp = 9,
		    .metadata_size = 255,
		    .pi_offset = 255,
		    .csum_type = LBMD_PI_CSUM_IP } },
		{ "interval_exp 8 (below a sector)",
		  { .interval_exp = 8, .metadata_size = 8 } },
		{ "interval_exp 0", { .metadata_size = 8 } },
		{ "interval_exp 10 (beyond the 512-byte logical block)",
		  { .interval_exp = 10, .metadata_size = 8 } },
		{ "interval_exp 255",
		  { .interval_exp = 255, .metadata_size = 8 } },
	};
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	unsigned int i;
	int res;

	if (!(g_features & UBLK_F_INTEGRITY)) {
		report("skip", "the driver lacks UBLK_F_INTEGRITY");
		return;
	}
	memset(&info, 0, sizeof(info));
	info.nr_hw_queues = 1;
	info.queue_depth = 4;
	info.max_io_buf_bytes = IO_BYTES;
	info.dev_id = (uint32_t)-1;
	info.ublksrv_pid = -1;
	info.flags = UBLK_F_INTEGRITY | UBLK_F_CMD_IOCTL_ENCODE;
	res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_ADD_DEV, (uint32_t)-1, &info,
		       sizeof(info), 0, false, CTRL_MS);
	expect("ADD_DEV with INTEGRITY but without USER_COPY", res, -EINVAL);
	if (res >= 0)
		ctrl_cmd(&s->ctrl, UBLK_U_CMD_DEL_DEV, info.dev_id, NULL, 0, 0,
			 false, CTRL_MS);
	if (srv_add(s, sc->flags, sc->nq, sc->depth))
		return;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		basic_params(&p, UBLK_PARAM_TYPE_INTEGRITY);
		p.integrity = bad[i].p;
		res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_SET_PARAMS, s->dev_id, &p,
			       sizeof(p), 0, false, CTRL_MS);
		expect(bad[i].what, res, -EINVAL);
	}
	/* the last good SET_PARAMS wins: the device starts with T10 DIF */
	basic_params(&p, UBLK_PARAM_TYPE_INTEGRITY);
	p.integrity = integ_t10;
	res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_SET_PARAMS, s->dev_id, &p,
		       sizeof(p), 0, false, CTRL_MS);
	if (!expect("a valid T10 DIF profile", res, 0))
		return;
	if (srv_open(s, false))
		return;
	fetch_all(s);
	if (start_dev(s))
		return;
	start_io(s, 2);
	expect_serving(s, "bad integrity parameters");
}

/* pread/pwrite of a request's metadata at user-copy offset off of (q, tag). */
static ssize_t md_copy(struct srv *s, bool write, unsigned int tag,
		       uint64_t off, void *buf, size_t len)
{
	uint64_t pos = UBLKSRV_IO_BUF_OFFSET | ((uint64_t)tag << UBLK_TAG_OFF) |
		       off | UBLKSRV_IO_INTEGRITY_FLAG;
	ssize_t n = write ? pwrite(s->char_fd, buf, len, (off_t)pos) :
			    pread(s->char_fd, buf, len, (off_t)pos);

	return n < 0 ? -errno : n;
}

/*
 * A metadata pread of a tag whose fetch is still armed: the kernel has
 * handed it no request, so there is nothing to copy (-EINVAL). A request
 * the kernel hands over meanwhile makes the answer stale; such a round is
 * drawn again on another tag, and a run where every round raced says so.
 */
static void md_copy_unowned(struct srv *s, char *buf)
{
	unsigned int round, t;
	char g[32];
	int got;

	for (round = 0; round < 8; round++) {
		ring_reap(&s->a, 0);
		t = s->depth - 1 - round % s->depth;
		if (__atomic_load_n(&s->owned[0][t], __ATOMIC_SEQ_CST))
			continue;
		got = (int)md_copy(s, false, t, 0, buf, 8);
		if (got == -EINVAL) {
			report("note",
			       "metadata pread of a tag the server does not own: -EINVAL as expected");
			return;
		}
		ring_reap(&s->a, 0);
		if (!__atomic_load_n(&s->owned[0][t], __ATOMIC_SEQ_CST)) {
			report("fail",
			       "metadata pread of a tag the server does not own: got %s, expected -EINVAL",
			       res_str(got, g, sizeof(g)));
			return;
		}
	}
	report("note",
	       "metadata pread of a tag the server does not own: every tag tried was handed a request first");
}

/*
 * Metadata copies a server must not get away with on a live T10 DIF
 * device (read_verify off, so reads carry no metadata): past the end of a
 * write's metadata, longer than it, in the wrong direction, of a request
 * without metadata, of a device not started, of a tag the server does not
 * own. Each is refused or bounded; the device keeps serving.
 */
static void sv_integrity_copy(struct srv *s, const struct scenario *sc)
{
	static char buf[2 * (IO_BYTES >> 9) * 8];
	bool did_write = false, did_read = false;
	char path[96];
	uint64_t end;
	unsigned int t;
	int fd;

	if (!(g_features & UBLK_F_INTEGRITY)) {
		report("skip", "the driver lacks UBLK_F_INTEGRITY");
		return;
	}
	s->integ = &integ_t10;
	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	/* a device not started has no request to copy from */
	expect("metadata pread of a device not started",
	       (int)md_copy(s, false, 0, 0, buf, 8), -EACCES);
	fetch_all(s);
	if (start_dev(s))
		return;
	md_copy_unowned(s, buf);
	snprintf(path, sizeof(path), "/sys/block/ublkb%u/integrity/read_verify",
		 s->dev_id);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		report("note", "%s: cannot turn read_verify off", path);
	if (fd >= 0)
		close(fd);
	start_io(s, 4);
	end = now_ms() + 10000;
	while ((!did_write || !did_read) && now_ms() < end) {
		ring_reap(&s->a, 20);
		for (t = 0; t < s->depth; t++) {
			const struct ublksrv_io_desc *d = s_desc(s, 0, t);
			unsigned int op = d->op_flags & 0xff;
			size_t len = (size_t)d->nr_sectors * 8;

			if (!__atomic_load_n(&s->owned[0][t], __ATOMIC_SEQ_CST))
				continue;
			if (op == UBLK_IO_OP_WRITE && !did_write &&
			    (d->op_flags & UBLK_IO_F_INTEGRITY)) {
				did_write = true;
				expect("metadata pread of a write, whole",
				       (int)md_copy(s, false, t, 0, buf, len),
				       (int)len);
				expect("metadata pread from its end",
				       (int)md_copy(s, false, t, len, buf, 8),
				       0);
				expect("metadata pread from past its end",
				       (int)md_copy(s, false, t, len + 1, buf,
						    8),
				       -EINVAL);
				expect("metadata pread far past its end",
				       (int)md_copy(s, false, t,
						    UBLK_IO_BUF_BITS_MASK &
							    ~7ULL,
						    buf, 8),
				       -EINVAL);
				expect("metadata pread twice as long (bounded)",
				       (int)md_copy(s, false, t, 0, buf,
						    2 * len),
				       (int)len);
				expect("metadata pread of the last byte on",
				       (int)md_copy(s, false, t, len - 1, buf,
						    sizeof(buf)),
				       1);
				expect("metadata pwrite into a write request",
				       (int)md_copy(s, true, t, 0, buf, len),
				       -EACCES);
			}
			if (op == UBLK_IO_OP_READ && !did_read &&
			    !(d->op_flags & UBLK_IO_F_INTEGRITY)) {
				did_read = true;
				/* nothing to copy, and nothing copied */
				expect("metadata pwrite of a read without metadata",
				       (int)md_copy(s, true, t, 0, buf, 8), 0);
				expect("metadata pread of a read (the wrong way)",
				       (int)md_copy(s, false, t, 0, buf, 8),
				       -EACCES);
			}
		}
		serve(s, 20);
	}
	if (!did_write)
		report("fail", "no write with metadata in 10 s");
	if (!did_read)
		report("note", "no read without metadata in 10 s");
	expect_serving(s, "bad metadata copies");
}

/* ------------------------------------------------------ zoned devices */

/*
 * Zoned scenarios: a per-I/O user-copy device with UBLK_F_ZONED whose
 * server answers REPORT_ZONES (at START_DEV, where the driver reads the
 * zones) or ZONE_APPEND badly. START_DEV runs in a process of its own
 * (this program again, --start-dev), which holds none of the server's
 * files: if the server dies while START_DEV waits for its report, the
 * release of /dev/ublkcN must end that wait.
 */
enum zreply {
	ZR_GOOD,
	ZR_ZERO, /* no zones, result 0 */
	ZR_GARBAGE, /* random bytes */
	ZR_BAD_START, /* zones that start mid-zone */
	ZR_BAD_WP, /* closed zones whose write pointer is past their end */
	ZR_BAD_TYPE, /* an unknown type and condition */
	ZR_ERROR, /* result -EIO */
	ZR_HUGE, /* more zones than asked for, and a huge result */
	ZR_SILENT, /* no answer; the parent kills the server */
};

static uint64_t uc_off(unsigned int q, unsigned int tag)
{
	return UBLKSRV_IO_BUF_OFFSET +
	       ((uint64_t)q << UBLK_QID_OFF | (uint64_t)tag << UBLK_TAG_OFF);
}

/* COMMIT_AND_FETCH_REQ with @addr as given (the append LBA). */
static void zcommit(struct srv *s, unsigned int q, unsigned int tag, int res,
		    uint64_t addr)
{
	struct io_uring_sqe *sqe = ring_sqe(&s->a);

	if (!sqe)
		return;
	perio_sqe(s, sqe, UBLK_U_IO_COMMIT_AND_FETCH_REQ, q, tag, res, addr);
	sqe->user_data = ud_make(UD_PERIO, (uint64_t)q << 16 | tag);
}

/* The reply to a REPORT_ZONES on (q, tag), written as @how says. */
static int zoned_report(struct srv *s, unsigned int q, unsigned int tag,
			enum zreply how)
{
	const struct ublksrv_io_desc *d = &s->desc[q][tag];
	unsigned int n = d->nr_zones, extra = how == ZR_HUGE ? 64 : 0, i;
	uint64_t first = d->start_sector / Z_SECTORS;
	struct blk_zone *z;
	size_t len;
	ssize_t w;

	if (how == ZR_ZERO)
		return 0;
	if (how == ZR_ERROR)
		return -EIO;
	if (n > IO_BYTES / sizeof(*z))
		report("fail",
		       "REPORT_ZONES asks for %u zones, more than a %u-byte request",
		       n, IO_BYTES);
	z = calloc(n + extra, sizeof(*z));
	if (!z)
		return -ENOMEM;
	for (i = 0; i < n + extra; i++) {
		z[i].start = (first + i) * Z_SECTORS;
		z[i].len = Z_SECTORS;
		z[i].capacity = Z_SECTORS;
		z[i].wp = z[i].start;
		z[i].type = BLK_ZONE_TYPE_SEQWRITE_REQ;
		z[i].cond = BLK_ZONE_COND_EMPTY;
		if (how == ZR_BAD_START)
			z[i].start += Z_SECTORS / 2;
		if (how == ZR_BAD_WP) {
			z[i].cond = BLK_ZONE_COND_CLOSED;
			z[i].wp = z[i].start + 3 * Z_SECTORS;
		}
		if (how == ZR_BAD_TYPE && i == n / 2) {
			z[i].type = 0x7f;
			z[i].cond = 0x42;
		}
	}
	len = (n + extra) * sizeof(*z);
	if (how == ZR_GARBAGE)
		for (i = 0; i < len / 8; i++) {
			uint64_t v = rng_next(&s->rng);

			memcpy((char *)z + i * 8, &v, 8);
		}
	w = pwrite(s->char_fd, z, len, (off_t)uc_off(q, tag));
	free(z);
	if (how == ZR_HUGE)
		return INT32_MAX;
	return w < 0 ? -errno : (int)w;
}

/* How the server answers a zone append. */
enum zappend {
	ZA_GOOD, /* the zone's start */
	ZA_NEXT_ZONE, /* the next zone's start */
	ZA_BEFORE, /* 8 sectors before the zone */
	ZA_PAST_END, /* the data would cross the zone's end */
	ZA_HUGE, /* ~0 */
	ZA_SHORT, /* fewer bytes than the request has */
	ZA_NO_LBA, /* none: addr 0, or a batch commit without HAS_ZONE_LBA */
};

static const char *const zappend_names[] = {
	"the zone's start", "the next zone's start",
	"before the zone",  "across the zone's end",
	"LBA ~0",	    "a short result",
	"no LBA",
};

/*
 * Hand (q, tag) back with @res. An append's LBA travels in the command's
 * addr (per-I/O) or in the element (batch, UBLK_BATCH_F_HAS_ZONE_LBA);
 * @with_lba false leaves it out of a batch element.
 */
static void zanswer(struct srv *s, unsigned int q, unsigned int tag, int res,
		    uint64_t lba, bool with_lba)
{
	uint16_t fl = s_bflags(s);
	char wire[24];
	unsigned int eb;

	if (!s_batch(s)) {
		zcommit(s, q, tag, res, lba);
		return;
	}
	if (!with_lba)
		fl &= (uint16_t)~UBLK_BATCH_F_HAS_ZONE_LBA;
	eb = put_elem(wire, fl, (uint16_t)tag, s_index(s, q, tag), res,
		      s_buf(s, q, tag));
	if (fl & UBLK_BATCH_F_HAS_ZONE_LBA)
		memcpy(wire + eb - 8, &lba, 8);
	(void)batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, (uint16_t)q, fl, 1,
			 (uint8_t)eb, wire);
}

/*
 * Serve for @ms: reports as @how says, appends as @append says, the rest
 * as a correct server would (no data moved: user copy reads return
 * whatever the request pages hold).
 */
static void zserve(struct srv *s, enum zreply how, enum zappend append,
		   unsigned int ms, bool (*stop)(void *), void *arg)
{
	uint64_t end = now_ms() + ms;
	unsigned int q, t;

	while (now_ms() < end && s->a.ok && !(stop && stop(arg))) {
		if (ring_reap(&s->a, 20) == -EBADF)
			break;
		for (q = 0; q < s->nq; q++)
			for (t = 0; t < s->depth; t++) {
				const struct ublksrv_io_desc *d =
					&s->desc[q][t];
				unsigned int op = d->op_flags & 0xff;
				uint64_t zs, lba = 0;
				bool with_lba = true;
				int res;

				if (!__atomic_exchange_n(&s->owned[q][t], 0,
							 __ATOMIC_SEQ_CST))
					continue;
				res = s_result(s, q, t);
				if (op == UBLK_IO_OP_REPORT_ZONES) {
					if (how == ZR_SILENT)
						continue;
					res = zoned_report(s, q, t, how);
				} else if (op == UBLK_IO_OP_ZONE_APPEND) {
					zs = d->start_sector;
					res = (int)(d->nr_sectors << 9);
					lba = append == ZA_GOOD ?
						      zs :
					      append == ZA_NEXT_ZONE ?
						      zs + Z_SECTORS :
					      append == ZA_BEFORE ?
						      zs - 8 :
					      append == ZA_PAST_END ?
						      zs + Z_SECTORS - 4 :
					      append == ZA_HUGE ? ~0ULL :
								  zs;
					if (append == ZA_SHORT)
						res = 512;
					if (append == ZA_NO_LBA) {
						lba = 0;
						with_lba = false;
					}
				}
				zanswer(s, q, t, res, lba, with_lba);
				s->served++;
			}
		/* batch: a fetch that ran out is armed again */
		for (q = 0; q < s->nq; q++)
			if (s_batch(s) && !s->fs[q].armed &&
			    s->fs[q].ring == &s->a)
				fslot_arm_good(&s->fs[q]);
	}
}

/* START_DEV from a process of its own; its result on a pipe. */
struct zstart {
	pid_t pid;
	int fd;
	bool have;
	int res;
};

static void zstart_begin(struct srv *s, struct zstart *z)
{
	char id[16], pid[16], fd[16];
	int p[2];

	z->pid = -1;
	z->fd = -1;
	z->have = false;
	if (pipe(p))
		return;
	snprintf(id, sizeof(id), "%u", s->dev_id);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(fd, sizeof(fd), "%d", p[1]);
	z->pid = fork();
	if (z->pid == 0) {
		close(p[0]);
		execl(opt.self, opt.self, "--start-dev", id, pid, fd,
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	z->fd = p[0];
	fcntl(z->fd, F_SETFD, FD_CLOEXEC);
	fcntl(z->fd, F_SETFL, O_NONBLOCK);
	if (z->pid > 0)
		report("io", "%d", (int)z->pid);
}

static bool zstart_done(void *arg)
{
	struct zstart *z = arg;

	if (!z->have && z->fd >= 0 &&
	    read(z->fd, &z->res, sizeof(z->res)) == sizeof(z->res))
		z->have = true;
	return z->have;
}

/* --start-dev ID PID FD: START_DEV of device ID for server PID. */
static int start_dev_helper(const char *id, const char *pid, const char *fd)
{
	struct ctrl c;
	int res, out = atoi(fd);

	res = ctrl_open(&c);
	if (!res)
		res = ctrl_cmd(&c, UBLK_U_CMD_START_DEV,
			       (uint32_t)strtoul(id, NULL, 10), NULL, 0,
			       strtoull(pid, NULL, 10), false, 3600 * 1000);
	if (write(out, &res, sizeof(res)) < 0)
		return 1;
	return 0;
}

/* A zoned device, fetched (or prepared: batch), with START_DEV on its way. */
static int zoned_setup(struct srv *s, const struct scenario *sc,
		       struct zstart *z)
{
	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return -1;
	if (!s_batch(s))
		fetch_all(s);
	else if (prep_all(s))
		return -1;
	zstart_begin(s, z);
	return z->pid > 0 ? 0 : -1;
}

/* A bad zone report at START_DEV: START_DEV fails, nothing breaks. */
static void sv_zoned_report(struct srv *s, const struct scenario *sc)
{
	enum zreply how = (enum zreply)sc->arg;
	struct zstart z;
	char b[32];

	if (zoned_setup(s, sc, &z))
		return;
	zserve(s, how, ZA_GOOD, CTRL_MS, zstart_done, &z);
	if (how == ZR_SILENT) {
		/* the parent kills us; START_DEV must then end (check 2) */
		if (z.have)
			report("fail", "START_DEV returned %s without a report",
			       res_str(z.res, b, sizeof(b)));
		return;
	}
	if (!z.have) {
		report("fail", "START_DEV did not return in %d s",
		       CTRL_MS / 1000);
		return;
	}
	if (how == ZR_GOOD) {
		expect("START_DEV with a good zone report", z.res, 0);
		return;
	}
	/* the zones asked for are right: the rest may be ignored */
	if (how == ZR_HUGE) {
		report("note", "START_DEV with an oversized zone report: %s",
		       res_str(z.res, b, sizeof(b)));
		return;
	}
	if (z.res < 0)
		report("note", "START_DEV with a bad zone report: %s",
		       res_str(z.res, b, sizeof(b)));
	else
		report("fail", "START_DEV with a bad zone report: %s",
		       res_str(z.res, b, sizeof(b)));
}

/* The exit status of insmod zappend.ko (tests/e2e/zappend), served. */
static int zappend_run(struct srv *s, const char *ko, enum zappend append,
		       uint64_t sector)
{
	char dev[64], sec[48];
	char *argv[] = { "insmod", (char *)ko, dev, sec, NULL };
	uint64_t end = now_ms() + 15000;
	pid_t pid;
	int st;

	snprintf(dev, sizeof(dev), "dev=/dev/ublkb%u", s->dev_id);
	snprintf(sec, sizeof(sec), "sector=%llu", (unsigned long long)sector);
	if (posix_spawnp(&pid, "insmod", NULL, NULL, argv, NULL))
		return -1;
	while (now_ms() < end) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		zserve(s, ZR_GOOD, append, 50, NULL, NULL);
	}
	kill(pid, SIGKILL);
	report("fail", "insmod zappend.ko: no end in 15 s (%s)",
	       zappend_names[append]);
	return -1;
}

/*
 * Zone appends answered with an LBA outside the zone they were aimed at,
 * or with fewer bytes than the append has: each append fails, and a
 * correct answer still works.
 */
static void sv_zoned_append(struct srv *s, const struct scenario *sc)
{
	const char *ko = getenv("HOSTILE_ZAPPEND");
	uint64_t zone = 5 * Z_SECTORS;
	unsigned long long lba = 0;
	struct zstart z;
	unsigned int a;
	FILE *f;
	int st;

	if (!ko || access(ko, R_OK)) {
		report("skip",
		       "no zappend.ko in HOSTILE_ZAPPEND (tests/e2e/zappend/build)");
		return;
	}
	if (zoned_setup(s, sc, &z))
		return;
	zserve(s, ZR_GOOD, ZA_GOOD, CTRL_MS, zstart_done, &z);
	if (!z.have || !expect("START_DEV with a good zone report", z.res, 0))
		return;
	s->started = true;
	report("live", "%u", s->dev_id);
	for (a = ZA_NEXT_ZONE; a <= ZA_NO_LBA; a++) {
		st = zappend_run(s, ko, (enum zappend)a, zone);
		if (st > 0)
			report("note", "append answered with %s: failed",
			       zappend_names[a]);
		else if (!st) {
			report("fail", "append answered with %s: succeeded",
			       zappend_names[a]);
			(void)!system("rmmod zappend");
		}
	}
	st = zappend_run(s, ko, ZA_GOOD, zone);
	if (st) {
		report("fail",
		       "append answered with the zone's start: insmod %d", st);
		return;
	}
	f = fopen("/sys/module/zappend/parameters/result", "re");
	if (!f || fscanf(f, "%llu", &lba) != 1)
		lba = ~0ULL;
	if (f)
		fclose(f);
	(void)!system("rmmod zappend");
	if (lba != zone)
		report("fail", "good append: written at %llu, not %llu", lba,
		       (unsigned long long)zone);
	else
		report("note", "good append: written at %llu", lba);
}

/* Automatic registration at an index outside the buffer table. */
static void sv_autoreg_bad_index(struct srv *s, const struct scenario *sc)
{
	bool fallback = sc->arg;
	uint16_t fl = fallback ? UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK : 0;
	char wire[MAX_DEPTH * 8];
	uint16_t tags[MAX_DEPTH];
	unsigned int t, n, flagged = 0;
	int res;

	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	for (t = 0; t < s->depth; t++)
		put_elem(wire + t * 8, fl, (uint16_t)t, 0xfff0, 0, 0);
	res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS, 0, fl,
			 (uint16_t)s->depth, 8, wire);
	if (!expect("PREP with buffer index 0xfff0", res, 0))
		return;
	if (start_dev(s))
		return;
	start_io(s, 4);
	fslot_arm_good(&s->fs[0]);
	pump(s, &s->a, 2000);
	n = take_owned(s, 0, tags, MAX_DEPTH);
	for (t = 0; t < n; t++)
		if (s_desc(s, 0, tags[t])->op_flags & UBLK_IO_F_NEED_REG_BUF)
			flagged++;
	report("note", "%u requests delivered, %u with NEED_REG_BUF", n,
	       flagged);
	if (fallback && flagged < n)
		report("fail",
		       "with FALLBACK, %u delivered requests lack UBLK_IO_F_NEED_REG_BUF",
		       n - flagged);
	if (!fallback && n) {
		/* a failed registration fails the request instead */
		unsigned int data = 0;

		for (t = 0; t < n; t++)
			data += s_desc(s, 0, tags[t])->nr_sectors != 0;
		if (data)
			report("fail",
			       "without FALLBACK, %u requests with data were delivered although their buffer could not be registered",
			       data);
	}
	for (t = 0; t < n; t++)
		put_elem(wire + t * 8, fl, tags[t], 0xfff0,
			 s_result(s, 0, tags[t]), 0);
	if (n) {
		res = batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS, 0, fl,
				 (uint16_t)n, 8, wire);
		report("note", "COMMIT of them: %d", res);
	}
	pump(s, &s->a, 500);
}

/* ------------------------------------------------------ random mode */

/*
 * A random mix of valid and invalid commands on a random device. The
 * sequence is a function of (seed, iteration) only; the driver's timing
 * is not, so a replay takes the same decisions, not the same path.
 */
/* Prepare or fetch every tag, START_DEV, keep a fetch armed. */
static int go_live(struct srv *s)
{
	unsigned int q;

	if (!s_batch(s)) {
		fetch_all(s);
		return start_dev(s);
	}
	if (prep_all(s) || start_dev(s))
		return -1;
	for (q = 0; q < s->nq; q++)
		fslot_arm_good(&s->fs[q]);
	return 0;
}

/* A thread registering and unregistering one buffer in a loop. */
struct toggler {
	struct srv *s;
	const char *addr;
	uint64_t end_ms; /* 0: until killed */
	bool strict; /* every command must succeed */
	int unreg_first; /* index to unregister before the loop, or -1 */
	bool reg_last; /* register the buffer at the end (index 0) */
	bool done;
	unsigned int rounds, bad;
};

static void *toggle_reg(void *arg)
{
	struct toggler *t = arg;
	struct ctrl c;
	char r1[32], r2[32];
	int idx, res;

	if (ctrl_open(&c))
		return NULL;
	/*
	 * Not from the serving thread: upstream's UNREG_BUF freezes the
	 * queue, which waits for the requests that thread would commit.
	 */
	if (t->unreg_first >= 0)
		expect("UNREG_BUF of the buffer in use, under I/O",
		       unreg_buf_on(&c, t->s, (uint64_t)t->unreg_first), 0);
	while (!t->end_ms || now_ms() < t->end_ms) {
		idx = reg_buf_on(&c, t->s, (uint64_t)(uintptr_t)t->addr,
				 SHM_BYTES, 0, 0,
				 sizeof(struct ublk_shmem_buf_reg));
		res = idx >= 0 ? unreg_buf_on(&c, t->s, (uint64_t)idx) : 0;
		t->rounds++;
		if (idx < 0 || res) {
			if (t->strict && !t->bad++)
				report("fail",
				       "REG_BUF/UNREG_BUF round %u: %s, %s",
				       t->rounds, res_str(idx, r1, sizeof(r1)),
				       res_str(res, r2, sizeof(r2)));
			if (idx == RES_NONE || res == RES_NONE)
				break;
			sleep_ms(10);
		}
	}
	if (t->reg_last)
		expect("REG_BUF of the I/O buffer again: index 0",
		       reg_buf_on(&c, t->s, (uint64_t)(uintptr_t)t->addr,
				  SHM_BYTES, 0, 0,
				  sizeof(struct ublk_shmem_buf_reg)),
		       0);
	ctrl_close(&c);
	__atomic_store_n(&t->done, true, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Another user (not root) must not register on a privileged device. */
static void reg_as_other_user(struct srv *s, const char *addr)
{
	struct ctrl c;
	int status = 0, res;
	pid_t pid;

	if (s->path || geteuid() != 0)
		return;
	pid = fork();
	if (pid == 0) {
		/* the ring is opened as root: /dev/ublk-control is root's */
		if (ctrl_open(&c) || setgid(65534) || setuid(65534))
			_exit(2);
		res = reg_buf_on(&c, s, (uint64_t)(uintptr_t)addr, SHM_BYTES, 0,
				 0, sizeof(struct ublk_shmem_buf_reg));
		if (res != -EPERM)
			_exit(1);
		res = unreg_buf_on(&c, s, 0);
		_exit(res == -EPERM ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		report("note", "REG_BUF/UNREG_BUF as uid 65534: -EPERM");
	else
		report("fail",
		       "REG_BUF/UNREG_BUF as uid 65534 on a privileged device: not -EPERM (status %d)",
		       status);
}

/* REG_BUF payloads that must be refused, before START_DEV. */
static void shm_bad_regs(struct srv *s, char *a, int fd)
{
	const uint16_t full = sizeof(struct ublk_shmem_buf_reg);
	uint64_t ua = (uint64_t)(uintptr_t)a;
	struct ctrl *c = &s->ctrl;
	char *g;

	/* one page of the memfd, then an inaccessible page */
	g = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g != MAP_FAILED && mmap(g, PAGE, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_FIXED, fd, 0) == g)
		expect("REG_BUF past the mapping's end",
		       reg_buf(s, g, 2 * PAGE, 0), -EFAULT);

	expect("REG_BUF len 0", reg_buf(s, a, 0, 0), -EINVAL);
	expect("REG_BUF unaligned address", reg_buf(s, a + 1, PAGE, 0),
	       -EINVAL);
	expect("REG_BUF unaligned length", reg_buf(s, a, PAGE + 1, 0), -EINVAL);
	expect("REG_BUF 4 GiB + 1 page", reg_buf(s, a, (1ULL << 32) + PAGE, 0),
	       -EINVAL);
	expect("REG_BUF unknown flag", reg_buf(s, a, PAGE, 2), -EINVAL);
	expect("REG_BUF reserved set", reg_buf_on(c, s, ua, PAGE, 0, 1, full),
	       -EINVAL);
	expect("REG_BUF short payload (len reads as 0)",
	       reg_buf_on(c, s, ua, PAGE, 0, 0, 8), -EINVAL);
	expect("REG_BUF of an unmapped page",
	       reg_buf(s, unmapped_addr(), PAGE, 0), -EFAULT);
	expect("REG_BUF of a kernel address",
	       reg_buf(s, (void *)(uintptr_t)0xffff888000000000ULL, PAGE, 0),
	       -EFAULT);
	if (!s->path)
		expect("REG_BUF payload pointer unmapped",
		       ctrl_cmd(c, UBLK_U_CMD_REG_BUF, s->dev_id,
				unmapped_addr(), full, 0, false, CTRL_MS),
		       -EFAULT);
}

/* RLIMIT_MEMLOCK 64 KiB, then a 1 MiB registration. */
static void shm_memlock(struct srv *s)
{
	struct rlimit old, low;
	char *c = shm_create(PROT_READ | PROT_WRITE, NULL);
	int res;

	if (!c || getrlimit(RLIMIT_MEMLOCK, &old))
		return;
	low = old;
	low.rlim_cur = 64 << 10;
	if (low.rlim_cur > low.rlim_max)
		low.rlim_cur = low.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &low))
		return;
	res = reg_buf(s, c, SHM_BYTES, 0);
	setrlimit(RLIMIT_MEMLOCK, &old);
	/* upstream charges nothing; our module charges like io_uring */
	if (geteuid() != 0 && our_module()) {
		expect("REG_BUF of 1 MiB over RLIMIT_MEMLOCK 64 KiB", res,
		       -ENOMEM);
		return;
	}
	if (res < 0) {
		expect("REG_BUF of 1 MiB, RLIMIT_MEMLOCK 64 KiB, as root", res,
		       0);
		return;
	}
	expect("UNREG_BUF of it", unreg_buf_on(&s->ctrl, s, (uint64_t)res), 0);
	munmap(c, SHM_BYTES);
}

/*
 * REG_BUF / UNREG_BUF abuse: bad payloads, overlaps, read-only memory
 * registered for writing, unknown and double unregistration, index reuse,
 * another user; then I/O from a registered buffer (requests must come
 * flagged) while a thread unregisters and re-registers that buffer.
 * arg 1: a device without SHMEM_ZC, where both commands are -EOPNOTSUPP.
 */
static void sv_shmem(struct srv *s, const struct scenario *sc)
{
	struct toggler t = { 0 };
	pthread_t th;
	char *a, *b;
	int fd;

	if (srv_add(s, sc->flags, sc->nq, sc->depth) || srv_open(s, false))
		return;
	a = shm_create(PROT_READ | PROT_WRITE, &fd);
	b = shm_create(PROT_READ, NULL);
	if (!a || !b)
		return;
	if (sc->arg == 1) {
		expect("REG_BUF without SHMEM_ZC", reg_buf(s, a, SHM_BYTES, 0),
		       -EOPNOTSUPP);
		expect("UNREG_BUF without SHMEM_ZC",
		       unreg_buf_on(&s->ctrl, s, 0), -EOPNOTSUPP);
		if (!go_live(s)) {
			start_io(s, 2);
			expect_serving(s, "REG_BUF without SHMEM_ZC");
		}
		return;
	}
	shm_bad_regs(s, a, fd);
	expect("REG_BUF of 1 MiB", reg_buf(s, a, SHM_BYTES, 0), 0);
	expect("REG_BUF of the same memory again", reg_buf(s, a, SHM_BYTES, 0),
	       -EEXIST);
	expect("REG_BUF overlapping its second half",
	       reg_buf(s, a + SHM_BYTES / 2, SHM_BYTES / 2, 0), -EEXIST);
	expect("REG_BUF writable of a read-only mapping",
	       reg_buf(s, b, SHM_BYTES, 0), -EFAULT);
	expect("REG_BUF read-only of a read-only mapping",
	       reg_buf(s, b, SHM_BYTES, UBLK_SHMEM_BUF_READ_ONLY), 1);
	expect("UNREG_BUF of index 7 (never registered)",
	       unreg_buf_on(&s->ctrl, s, 7), -ENOENT);
	expect("UNREG_BUF of index 65536", unreg_buf_on(&s->ctrl, s, 65536),
	       -EINVAL);
	expect("UNREG_BUF of index -1", unreg_buf_on(&s->ctrl, s, UINT64_MAX),
	       -EINVAL);
	/* upstream reads the index as an int: 1 << 32 would be index 0 */
	if (our_module())
		expect("UNREG_BUF of index 1 << 32",
		       unreg_buf_on(&s->ctrl, s, 1ULL << 32), -EINVAL);
	expect("UNREG_BUF 1", unreg_buf_on(&s->ctrl, s, 1), 0);
	expect("UNREG_BUF 1 again", unreg_buf_on(&s->ctrl, s, 1), -ENOENT);
	expect("REG_BUF read-only again: index 1 reused",
	       reg_buf(s, b, SHM_BYTES, UBLK_SHMEM_BUF_READ_ONLY), 1);
	reg_as_other_user(s, a);
	shm_memlock(s);

	snprintf(s->io_mem, sizeof(s->io_mem), "/proc/self/fd/%d", fd);
	if (go_live(s))
		return;
	start_io(s, 3);
	check_serving(s, "buffer 0 registered", true);
	serve(s, 2000);
	if (!s->shmem_seen)
		report("fail",
		       "%lu I/Os from a registered buffer, none flagged UBLK_IO_F_SHMEM_ZC",
		       s->served);
	else
		report("note", "%lu of %lu I/Os flagged UBLK_IO_F_SHMEM_ZC",
		       s->shmem_seen, s->served);

	/* unregister the buffer in use, then toggle it while I/O runs */
	t.unreg_first = 0;
	t.reg_last = true;
	t.s = s;
	t.addr = a;
	t.strict = true;
	t.end_ms = now_ms() + 3000;
	if (pthread_create(&th, NULL, toggle_reg, &t)) {
		report("fail", "pthread_create");
		return;
	}
	/* the thread's commands may wait for these requests (upstream) */
	while (!__atomic_load_n(&t.done, __ATOMIC_SEQ_CST))
		serve(s, 500);
	pthread_join(th, NULL);
	report("note", "%u REG_BUF/UNREG_BUF rounds under I/O", t.rounds);
	/* both stay registered: DEL_DEV must unpin them */
	expect_serving(s, "REG_BUF/UNREG_BUF racing I/O");
}

/* Serve forever while a thread registers and unregisters a buffer. */
static void sv_shmem_serve(struct srv *s, const struct scenario *sc)
{
	static struct toggler t;
	unsigned int q;
	pthread_t th;

	if (batch_live(s, sc->flags, sc->nq, sc->depth, false, 3))
		return;
	for (q = 0; q < s->nq; q++)
		fslot_arm_good(&s->fs[q]);
	t.s = s;
	t.unreg_first = -1;
	t.addr = shm_create(PROT_READ | PROT_WRITE, NULL);
	if (!t.addr || pthread_create(&th, NULL, toggle_reg, &t))
		return;
	for (;;)
		serve(s, 1000);
}

/*
 * Recovery, second server: the first one's registration (index 0) is
 * kept, so a new buffer gets index 1, while requests wait; it drops the
 * old one, then PREP, END_USER_RECOVERY and serving.
 */
static void sv_recover_shmem(struct srv *s, const struct scenario *sc)
{
	unsigned int q;
	char *a;
	int res;

	s->depth = sc->depth;
	s->nq = sc->nq;
	if (srv_open(s, false))
		return;
	a = shm_create(PROT_READ | PROT_WRITE, NULL);
	if (!a)
		return;
	expect("recovery: REG_BUF of a new buffer (index 0 kept)",
	       reg_buf(s, a, SHM_BYTES, 0), 1);
	expect("recovery: UNREG_BUF 0 (the dead server's)",
	       unreg_buf_on(&s->ctrl, s, 0), 0);
	if (prep_all(s))
		return;
	for (q = 0; q < s->nq; q++)
		fslot_arm_good(&s->fs[q]);
	res = ctrl_cmd(&s->ctrl, UBLK_U_CMD_END_USER_RECOVERY, s->dev_id, NULL,
		       0, (uint64_t)getpid(), s->path, CTRL_MS);
	if (!expect("END_USER_RECOVERY", res, 0))
		return;
	expect_serving(s, "recovery with REG_BUF");
}

struct rand_cfg {
	uint64_t flags;
	unsigned int nq, depth;
	bool inc;
};

static void rand_pick_cfg(struct rng *r, struct rand_cfg *c)
{
	static const uint64_t modes[] = {
		UBLK_F_BATCH_IO,
		UBLK_F_BATCH_IO | UBLK_F_USER_COPY,
		UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG,
		0,
		UBLK_F_AUTO_BUF_REG,
		UBLK_F_USER_COPY,
	};
	static const unsigned int depths[] = { 1, 2, 4, 8, 16 };
	unsigned int tries;

	for (tries = 0; tries < 32; tries++) {
		c->flags = modes[rng_below(r, ARRAY_SIZE(modes))];
		if (!rng_below(r, 4))
			c->flags |= UBLK_F_USER_RECOVERY;
		if ((g_features & c->flags) != c->flags)
			continue;
		if (opt.unpriv &&
		    (c->flags & (UBLK_F_USER_COPY | UBLK_F_AUTO_BUF_REG)))
			continue;
		break;
	}
	if (tries == 32)
		c->flags = 0;
	if (opt.unpriv)
		c->flags &= ~UBLK_F_USER_RECOVERY;
	c->nq = 1 + rng_below(r, 2);
	c->depth = depths[rng_below(r, ARRAY_SIZE(depths))];
	c->inc = rng_below(r, 2);
}

static void rand_batch_elems(struct srv *s, struct rng *r, char *wire,
			     uint16_t *flp, unsigned int *ebp, unsigned int nr,
			     unsigned int q, bool commit)
{
	uint16_t fl = s_bflags(s);
	unsigned int i, eb;

	switch (rng_below(r, 8)) {
	case 0:
		fl ^= UBLK_BATCH_F_HAS_BUF_ADDR;
		break;
	case 1:
		fl |= (uint16_t)(1u << rng_below(r, 4));
		break;
	default:
		break;
	}
	eb = elem_bytes(fl);
	if (!rng_below(r, 10))
		eb = 8 * rng_below(r, 4);
	for (i = 0; i < nr; i++) {
		unsigned int tag;

		if (commit && rng_below(r, 4)) {
			tag = rng_below(r, s->depth);
			if (!__atomic_exchange_n(&s->owned[q][tag], 0,
						 __ATOMIC_SEQ_CST) &&
			    rng_below(r, 2))
				tag = rng_below(r, s->depth);
		} else {
			tag = rng_below(r, 8) ? i % (s->depth + 1) :
						rng_below(r, 0x10000);
		}
		put_elem(
			wire + (size_t)i * (eb >= 8 ? eb : 8), fl,
			(uint16_t)tag,
			rng_below(r, 8) ? s_index(s, q, tag % s->depth) :
					  (uint16_t)rng_below(r, 0x10000),
			tag < s->depth ? s_result(s, q, tag) :
					 (int)rng_below(r, 8192),
			rng_below(r, 8) ? s_buf(s, q, tag % s->depth) :
			rng_below(r, 2) ? 0 :
					  (uint64_t)(uintptr_t)unmapped_addr());
	}
	*flp = fl;
	*ebp = eb;
}

static void sv_random(struct srv *s, const struct scenario *sc)
{
	static const unsigned int lens[] = { 0, 1, 2, 3, 5, 64, PAGE };
	struct rng *r = &s->rng;
	struct rand_cfg c;
	char wire[(MAX_DEPTH + 2) * 24 + 64];
	uint64_t end = now_ms() + 8000;
	unsigned int steps, i, k, q, nr, eb;
	uint8_t ready[MAX_QUEUES][MAX_DEPTH] = { { 0 } };
	uint16_t fl, tags[MAX_DEPTH];
	bool prepped = false;
	int res;

	g_lenient = true;
	rand_pick_cfg(r, &c);
	report("note", "device flags 0x%llx, %u queues, depth %u%s",
	       (unsigned long long)c.flags, c.nq, c.depth,
	       c.inc ? ", incremental fetch buffers" : "");
	if (srv_add(s, c.flags, c.nq, c.depth) || srv_open(s, c.inc))
		return;
	steps = 10 + rng_below(r, 40);
	for (i = 0; i < steps && now_ms() < end && s->a.ok; i++) {
		unsigned int op = rng_below(r, 12);

		q = rng_below(r, s->nq + (rng_below(r, 8) ? 0 : 1));
		if (q >= s->nq)
			q = s->nq; /* a bad q_id */
		if (!s_batch(s)) {
			/* per-I/O: FETCH_REQ / COMMIT_AND_FETCH_REQ */
			unsigned int tag = rng_below(r, s->depth + 1);
			uint64_t addr =
				rng_below(r, 6) ?
					s_buf(s, q % s->nq, tag % s->depth) :
					0;

			if (op < 3 && !s->started) {
				fetch_all(s);
				prepped = true;
			} else if (op < 5) {
				perio_sync(
					s, &s->a,
					rng_below(r, 2) ?
						UBLK_U_IO_FETCH_REQ :
						UBLK_U_IO_COMMIT_AND_FETCH_REQ,
					q, tag, (int)rng_below(r, 8192), addr,
					200);
			} else if (op < 7 && prepped && !s->started) {
				if (start_dev(s))
					break;
				start_io(s, 1 + rng_below(r, 3));
			} else if (op < 10 && s->started) {
				serve(s, 50 + rng_below(r, 500));
			} else {
				pump(s, &s->a, rng_below(r, 200));
			}
			continue;
		}
		switch (op) {
		case 0:
		case 1:
			nr = 1 + rng_below(r, s->depth + 1);
			rand_batch_elems(s, r, wire, &fl, &eb, nr, q % s->nq,
					 false);
			res = batch_sync(s, &s->a, UBLK_U_IO_PREP_IO_CMDS,
					 (uint16_t)q, fl, (uint16_t)nr,
					 (uint8_t)eb,
					 rng_below(r, 10) ? (void *)wire :
							    unmapped_addr());
			/* taken whole: remember which tags are prepared */
			for (k = 0; !res && eb >= 8 && k < nr; k++) {
				uint16_t tag;

				memcpy(&tag, wire + (size_t)k * eb, 2);
				if (tag < s->depth && q < s->nq)
					ready[q][tag] = 1;
			}
			break;
		case 2:
			/* PREP what is not prepared yet, queue by queue */
			/* rand_pick_cfg keeps nq and depth within ready[][] */
			for (prepped = true, q = 0; q < s->nq && q < MAX_QUEUES;
			     q++) {
				for (k = 0, nr = 0; k < s->depth; k++)
					if (!ready[q][k])
						tags[nr++] = (uint16_t)k;
				if (nr && prep_tags(s, q, tags, nr))
					prepped = false;
				else
					memset(ready[q], 1, s->depth);
			}
			break;
		case 3:
			if (prepped && !s->started && !start_dev(s))
				start_io(s, 1 + rng_below(r, 3));
			break;
		case 4:
		case 5:
			q %= s->nq;
			if (!s->fs[q].armed) {
				unsigned int len =
					lens[rng_below(r, ARRAY_SIZE(lens))];
				bool good = rng_below(r, 4);

				fslot_arm(&s->fs[q],
					  good ? s->fs[q].good :
						 unmapped_addr(),
					  len, good);
			}
			break;
		case 6:
		case 7:
			nr = 1 + rng_below(r, s->depth + 1);
			if (!rng_below(r, 12))
				nr = 0;
			rand_batch_elems(s, r, wire, &fl, &eb, nr, q % s->nq,
					 true);
			batch_sync(s, &s->a, UBLK_U_IO_COMMIT_IO_CMDS,
				   (uint16_t)q, fl, (uint16_t)nr, (uint8_t)eb,
				   rng_below(r, 12) ? (void *)wire :
						      unmapped_addr());
			break;
		case 8:
		case 9:
			if (s->started)
				serve(s, 50 + rng_below(r, 500));
			break;
		case 10:
			pump(s, &s->a, rng_below(r, 300));
			break;
		default:
			if (!rng_below(r, 6)) {
				if (rng_below(r, 2)) {
					ring_exit(&s->a);
					report("note", "closed the ring");
				} else {
					close(s->char_fd);
					s->char_fd = -1;
					report("note", "closed /dev/ublkc%u",
					       s->dev_id);
				}
			}
			break;
		}
	}
	report("note", "%u steps, %s, %lu I/Os served", i,
	       s->started ? "started" : "never started", s->served);
	if (s->a.ok)
		pump(s, &s->a, 200);
}

/* ----------------------------------------------- parent: processes */

/* Whether pid is gone: reaped here, or no longer exists. */
static bool gone(pid_t pid)
{
	pid_t w = waitpid(pid, NULL, WNOHANG);

	if (w == pid)
		return true;
	if (w < 0 && errno == ECHILD)
		return kill(pid, 0) && errno == ESRCH;
	return false;
}

static bool wait_gone(pid_t pid, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	for (;;) {
		if (gone(pid))
			return true;
		if (now_ms() >= end)
			return false;
		sleep_ms(20);
	}
}

/* Collect children nobody waits for (orphaned helpers, I/O workers). */
static void reap_strays(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static char task_state(pid_t pid, pid_t tid)
{
	char path[96], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	f = fopen(path, "re");
	if (!f)
		return '?';
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	if (!p)
		return '?';
	p = strrchr(buf, ')');
	return p && p[1] && p[2] ? p[2] : '?';
}

/* Print each thread's state and, if readable, kernel stack, as comments. */
static void print_stuck_now(pid_t pid)
{
	char path[96], line[256];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);
		FILE *f;

		if (tid <= 0)
			continue;
		printf("#   pid %d task %d state %c\n", (int)pid, (int)tid,
		       task_state(pid, tid));
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stack", (int)pid,
			 (int)tid);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			printf("#     %s", line);
		fclose(f);
	}
	closedir(d);
	fflush(stdout);
}

/*
 * The same from a child that gets 3 s: reading the stack of a task that
 * spins in the kernel has been seen to hang the reader.
 */
static void print_stuck(pid_t pid)
{
	pid_t child;

	fflush(stdout);
	child = fork();
	if (child == 0) {
		print_stuck_now(pid);
		_exit(0);
	}
	if (child > 0 && !wait_gone(child, 3000)) {
		kill(child, SIGKILL);
		printf("#   (reading the state of %d did not finish in 3 s)\n",
		       (int)pid);
	}
}

/*
 * Control commands from the parent run in a helper process, so that a
 * command stuck in the kernel cannot stop the program. The helper writes
 * its result (an int) to a pipe.
 */
struct async_ctrl {
	pid_t pid;
	int fd;
	uint32_t op;
	const char *name;
};

static void async_start(struct async_ctrl *a, const char *name, uint32_t op,
			uint32_t dev_id, uint64_t data, bool path)
{
	int p[2];

	a->pid = -1;
	a->fd = -1;
	a->op = op;
	a->name = name;
	if (pipe2(p, O_CLOEXEC))
		return;
	fflush(stdout);
	a->pid = fork();
	if (a->pid == 0) {
		struct ctrl c;
		int res;

		close(p[0]);
		res = ctrl_open(&c);
		if (!res)
			res = ctrl_cmd(&c, op, dev_id, NULL, 0, data, path,
				       3600 * 1000);
		if (write(p[1], &res, sizeof(res)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	a->fd = p[0];
	if (a->pid < 0) {
		close(a->fd);
		a->fd = -1;
	}
}

/* The helper's result, or RES_NONE if it did not finish in @ms. */
static int async_wait(struct async_ctrl *a, unsigned int ms)
{
	struct pollfd pfd = { .fd = a->fd, .events = POLLIN };
	int res = RES_NONE;

	if (a->pid < 0)
		return -ENOMEM;
	if (poll(&pfd, 1, (int)ms) == 1 &&
	    read(a->fd, &res, sizeof(res)) != sizeof(res))
		res = -EPIPE;
	close(a->fd);
	a->fd = -1;
	if (res == RES_NONE) {
		printf("#   %s from the parent still waiting after %u ms:\n",
		       a->name, ms);
		print_stuck(a->pid);
		kill(a->pid, SIGKILL);
		if (!wait_gone(a->pid, 2000)) {
			printf("#   %s helper stuck in the kernel:\n", a->name);
			print_stuck(a->pid);
		}
	} else {
		wait_gone(a->pid, 2000);
	}
	a->pid = -1;
	return res;
}

static int ctrl_bounded(const char *name, uint32_t op, uint32_t dev_id,
			uint64_t data, bool path, unsigned int ms)
{
	struct async_ctrl a;

	async_start(&a, name, op, dev_id, data, path);
	return async_wait(&a, ms);
}

/* ------------------------------------------------ parent: a run */

/* What the parent knows about one scenario while it runs. */
struct run {
	const struct scenario *sc;
	int dev_id;
	uint64_t dev_flags;
	bool live;
	bool done;
	bool skip;
	char skip_why[256];
	char why[1024]; /* failures, "; "-separated */
	pid_t srv[MAX_SERVERS];
	unsigned int nsrv;
	pid_t io[MAX_IO_PROCS * MAX_SERVERS];
	unsigned int nio;
	int rfd; /* report pipe of the current server */
	char line[2048];
	size_t llen;
	struct async_ctrl pending[MAX_ASYNC];
	unsigned int npending;
	struct rng rng;
	uint64_t iter; /* random mode */
};

static void fail(struct run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct run *r, const char *fmt, ...)
{
	size_t n = strlen(r->why);
	va_list ap;

	if (n && n + 3 < sizeof(r->why)) {
		strcpy(r->why + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(r->why + n, sizeof(r->why) - n, fmt, ap);
	va_end(ap);
}

static void handle_line(struct run *r, char *l)
{
	char *arg = strchr(l, ' ');

	if (arg)
		*arg++ = '\0';
	else
		arg = l + strlen(l);
	if (!strcmp(l, "dev")) {
		unsigned long long fl = 0;

		if (sscanf(arg, "%d %llu", &r->dev_id, &fl) >= 1)
			r->dev_flags = fl;
	} else if (!strcmp(l, "io")) {
		if (r->nio < ARRAY_SIZE(r->io))
			r->io[r->nio++] = (pid_t)atoi(arg);
	} else if (!strcmp(l, "live")) {
		r->live = true;
	} else if (!strcmp(l, "note")) {
		printf("# %s: %s\n", r->sc->name, arg);
	} else if (!strcmp(l, "fail")) {
		printf("# %s: FAIL: %s\n", r->sc->name, arg);
		fail(r, "%s", arg);
	} else if (!strcmp(l, "skip")) {
		r->skip = true;
		snprintf(r->skip_why, sizeof(r->skip_why), "%s", arg);
	} else if (!strcmp(l, "done")) {
		r->done = true;
	}
	fflush(stdout);
}

/* Read reports for up to @ms; false on EOF (the server exited). */
static bool read_reports(struct run *r, unsigned int ms)
{
	struct pollfd pfd = { .fd = r->rfd, .events = POLLIN };
	char buf[1024];
	ssize_t n, i;

	if (r->rfd < 0)
		return false;
	if (poll(&pfd, 1, (int)ms) <= 0)
		return true;
	n = read(r->rfd, buf, sizeof(buf));
	if (n <= 0) {
		close(r->rfd);
		r->rfd = -1;
		return false;
	}
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n' || r->llen == sizeof(r->line) - 1) {
			r->line[r->llen] = '\0';
			handle_line(r, r->line);
			r->llen = 0;
		} else {
			r->line[r->llen++] = buf[i];
		}
	}
	return true;
}

/* Fork a server child running @fn; its reports arrive on r->rfd. */
static pid_t spawn_server(struct run *r, server_fn fn,
			  const struct scenario *sc)
{
	int p[2];
	pid_t pid;

	if (r->nsrv == MAX_SERVERS || pipe2(p, O_CLOEXEC))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct srv *s = calloc(1, sizeof(*s));

		close(p[0]);
		g_report_fd = p[1];
		if (!s)
			_exit(1);
		s->char_fd = -1;
		s->dev_id = (uint32_t)r->dev_id;
		s->flags = r->dev_flags;
		s->path = r->dev_flags & UBLK_F_UNPRIVILEGED_DEV;
		rng_seed(&s->rng, opt.seed ^ (r->iter * 0x100000001b3ULL) ^
					  (uint64_t)r->nsrv);
		if (ctrl_open(&s->ctrl))
			report("fail", "cannot open %s", CONTROL_PATH);
		else
			fn(s, sc);
		report("done", "-");
		/* stay alive with every file open: the parent kills us */
		for (;;)
			pause();
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	if (r->rfd >= 0)
		close(r->rfd);
	r->rfd = p[0];
	r->llen = 0;
	r->done = false;
	r->live = false;
	r->srv[r->nsrv++] = pid;
	return pid;
}

/* Wait until the server reported done (or live, if @live), or died. */
static bool wait_server(struct run *r, unsigned int ms, bool live)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end) {
		if (r->done || (live && r->live))
			return true;
		if (!read_reports(r, 100))
			return r->done || (live && r->live);
	}
	return false;
}

/* SIGKILL every server of the run; check 1. */
static void kill_servers(struct run *r)
{
	unsigned int i;

	for (i = 0; i < r->nsrv; i++) {
		if (r->srv[i] <= 0)
			continue;
		kill(r->srv[i], SIGKILL);
		if (!wait_gone(r->srv[i], KILL_BOUND_S * 1000)) {
			printf("# %s: server %d survived SIGKILL for %d s:\n",
			       r->sc->name, (int)r->srv[i], KILL_BOUND_S);
			print_stuck(r->srv[i]);
			fail(r,
			     "server %d survived SIGKILL for %d s (state %c)",
			     (int)r->srv[i], KILL_BOUND_S,
			     task_state(r->srv[i], r->srv[i]));
		}
		r->srv[i] = 0;
	}
	r->nsrv = 0;
	while (r->rfd >= 0 && read_reports(r, 0))
		;
}

/*
 * I/O workers whose server died before it could name them came back to
 * us (we are the subreaper): find them by their command line.
 */
static void adopt_workers(struct run *r)
{
	struct dirent *e;
	DIR *d = opendir("/proc");
	pid_t self = getpid();

	while (d && (e = readdir(d))) {
		pid_t pid = (pid_t)atoi(e->d_name), ppid = 0;
		char path[64], buf[512], *p;
		unsigned int i;
		size_t n;
		FILE *f;

		if (pid <= 0 || r->nio == ARRAY_SIZE(r->io))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		p = p ? strrchr(buf, ')') : NULL;
		if (!p || sscanf(p + 2, "%*c %d", &ppid) != 1 || ppid != self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[n] = '\0';
		if (!strstr(buf, "--io-worker"))
			continue;
		for (i = 0; i < r->nio && r->io[i] != pid; i++)
			;
		if (i == r->nio)
			r->io[r->nio++] = pid;
		kill(pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

/* Kill everything, then STOP_DEV + DEL_DEV within the bound; check 2. */
static void finish_dev(struct run *r)
{
	uint64_t end;
	unsigned int i;
	char b[32];
	int res;

	for (i = 0; i < r->nio; i++)
		kill(r->io[i], SIGKILL);
	kill_servers(r);
	/* those the servers named at the end, and those they could not */
	for (i = 0; i < r->nio; i++)
		kill(r->io[i], SIGKILL);
	adopt_workers(r);
	for (i = 0; i < r->npending; i++) {
		res = async_wait(&r->pending[i], DEL_BOUND_S * 1000);
		if (res == RES_NONE)
			fail(r, "%s from the parent did not return in %d s",
			     r->pending[i].name, DEL_BOUND_S);
		else
			printf("# %s: %s from the parent: %s\n", r->sc->name,
			       r->pending[i].name, res_str(res, b, sizeof(b)));
	}
	r->npending = 0;
	if (r->dev_id >= 0) {
		bool path = r->dev_flags & UBLK_F_UNPRIVILEGED_DEV;

		end = now_ms() + DEL_BOUND_S * 1000;
		res = ctrl_bounded("STOP_DEV", UBLK_U_CMD_STOP_DEV,
				   (uint32_t)r->dev_id, 0, path,
				   DEL_BOUND_S * 1000);
		if (res == RES_NONE) {
			fail(r, "STOP_DEV did not return in %d s", DEL_BOUND_S);
		} else {
			uint64_t t = now_ms();

			res = ctrl_bounded("DEL_DEV", UBLK_U_CMD_DEL_DEV,
					   (uint32_t)r->dev_id, 0, path,
					   t < end ? (unsigned int)(end - t) :
						     1000);
			if (res == RES_NONE) {
				fail(r, "DEL_DEV did not return within %d s",
				     DEL_BOUND_S);
				for (i = 0; i < r->nio; i++)
					if (!gone(r->io[i]))
						print_stuck(r->io[i]);
			} else if (res < 0 && res != -ENODEV)
				fail(r, "DEL_DEV: %s",
				     res_str(res, b, sizeof(b)));
		}
		r->dev_id = -1;
	}
	for (i = 0; i < r->nio; i++) {
		if (!wait_gone(r->io[i], IO_END_BOUND_S * 1000)) {
			printf("# %s: I/O process %d still there %d s after DEL_DEV:\n",
			       r->sc->name, (int)r->io[i], IO_END_BOUND_S);
			print_stuck(r->io[i]);
			fail(r, "I/O process %d did not end (state %c)",
			     (int)r->io[i], task_state(r->io[i], r->io[i]));
		}
	}
	r->nio = 0;
	reap_strays();
}

/* The default: one server, its reports, then the checks. */
static void drive_simple(struct run *r, const struct scenario *sc)
{
	if (spawn_server(r, sc->server, sc) < 0) {
		fail(r, "fork failed");
		return;
	}
	if (!wait_server(r, 60000, false))
		fail(r,
		     "the server did not finish its part in 60 s (stuck in the kernel?)");
}

/*
 * Start round @round's server and wait until its device is LIVE. Returns
 * its pid; 0 when the scenario is to be skipped; -1 after reporting a
 * failure (the device, if any, is cleaned up).
 */
static pid_t spawn_live(struct run *r, const struct scenario *sc,
			unsigned int round)
{
	pid_t pid = spawn_server(r, sc->server, sc);

	if (pid < 0) {
		fail(r, "fork failed");
		return -1;
	}
	if (!wait_server(r, 60000, true)) {
		fail(r, "round %u: the server did not go LIVE in 60 s", round);
		finish_dev(r);
		return -1;
	}
	return r->skip ? 0 : pid;
}

/* Kill the server at random points while a control command runs. */
static void drive_kill_vs(struct run *r, const struct scenario *sc)
{
	static const char *const names[] = { "STOP_DEV", "DEL_DEV",
					     "QUIESCE_DEV",
					     "START_USER_RECOVERY" };
	static const uint32_t ops[] = { UBLK_U_CMD_STOP_DEV, UBLK_U_CMD_DEL_DEV,
					UBLK_U_CMD_QUIESCE_DEV,
					UBLK_U_CMD_START_USER_RECOVERY };
	unsigned int round, k = (unsigned int)sc->arg;

	for (round = 0; round < 3; round++) {
		unsigned int d1 = rng_below(&r->rng, 400);
		unsigned int d2 = rng_below(&r->rng, 400);
		bool kill_first = rng_below(&r->rng, 2);
		struct async_ctrl *a;
		pid_t pid;

		pid = spawn_live(r, sc, round);
		if (pid <= 0)
			return;
		printf("# %s: round %u: %s after %u ms, SIGKILL %s %u ms\n",
		       sc->name, round, names[k], d1,
		       kill_first ? "before it, after" : "after it, after", d2);
		sleep_ms(d1);
		if (kill_first) {
			kill(pid, SIGKILL);
			sleep_ms(d2);
		}
		a = &r->pending[r->npending++];
		async_start(a, names[k], ops[k], (uint32_t)r->dev_id,
			    k == 2 ? 1000 : 0,
			    r->dev_flags & UBLK_F_UNPRIVILEGED_DEV);
		if (!kill_first) {
			sleep_ms(d2);
			kill(pid, SIGKILL);
		}
		finish_dev(r);
	}
}

/*
 * Our module's test knob: how long a stop waits between claiming an idle
 * FETCH and completing it. Absent on other drivers, and not writable for
 * an unprivileged run: the scenario then runs without the wider window.
 */
#define CANCEL_DELAY_KNOB "/sys/module/ublkctl_drv/parameters/cancel_delay_ms"

static bool set_cancel_delay(unsigned int ms)
{
	FILE *f = fopen(CANCEL_DELAY_KNOB, "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%u\n", ms) > 0;
	return !fclose(f) && ok;
}

/*
 * STOP_DEV cancels the idle FETCH commands while the killed server's ring
 * exit cancels them too: each must be completed exactly once.
 */
static void drive_cancel_vs_exit(struct run *r, const struct scenario *sc)
{
	unsigned int round;
	bool widened = set_cancel_delay(2000);

	printf("# %s: %s\n", sc->name,
	       widened ? "cancel window widened to 2 s (" CANCEL_DELAY_KNOB
			 ")" :
			 "no cancel_delay_ms knob: natural window only");
	for (round = 0; round < 3; round++) {
		struct async_ctrl *a;
		pid_t pid;

		pid = spawn_live(r, sc, round);
		if (pid <= 0)
			break;
		a = &r->pending[r->npending++];
		async_start(a, "STOP_DEV", UBLK_U_CMD_STOP_DEV,
			    (uint32_t)r->dev_id, 0,
			    r->dev_flags & UBLK_F_UNPRIVILEGED_DEV);
		/* STOP_DEV deletes the disk first, then cancels */
		sleep_ms(widened ? 1000 : rng_below(&r->rng, 20));
		kill(pid, SIGKILL);
		finish_dev(r);
	}
	if (widened)
		set_cancel_delay(0);
}

/* DEL_DEV while the server holds requests and then blocks in FETCH_REQ. */
static void drive_fetch_during_del(struct run *r, const struct scenario *sc)
{
	struct async_ctrl *a;
	pid_t pid = spawn_live(r, sc, 0);

	if (pid <= 0)
		return;
	sleep_ms(1500);
	a = &r->pending[r->npending++];
	async_start(a, "DEL_DEV", UBLK_U_CMD_DEL_DEV, (uint32_t)r->dev_id, 0,
		    r->dev_flags & UBLK_F_UNPRIVILEGED_DEV);
	sleep_ms(3000);
	kill(pid, SIGKILL);
	finish_dev(r);
}

/* User recovery with a second server that PREPs badly half-way. */
static void drive_recovery(struct run *r, const struct scenario *sc)
{
	struct ublksrv_ctrl_dev_info info;
	uint64_t end;
	char b[32];
	pid_t pid;
	int res = -EBUSY;

	pid = spawn_server(r, sv_serve_forever, sc);
	if (pid < 0 || !wait_server(r, 60000, true)) {
		fail(r, "the first server did not go LIVE");
		return;
	}
	if (r->skip)
		return;
	sleep_ms(500);
	kill(pid, SIGKILL);
	if (!wait_gone(pid, KILL_BOUND_S * 1000)) {
		print_stuck(pid);
		fail(r, "first server survived SIGKILL for %d s", KILL_BOUND_S);
		return;
	}
	r->srv[0] = 0;
	end = now_ms() + 15000;
	while (now_ms() < end) {
		res = ctrl_bounded("START_USER_RECOVERY",
				   UBLK_U_CMD_START_USER_RECOVERY,
				   (uint32_t)r->dev_id, 0,
				   r->dev_flags & UBLK_F_UNPRIVILEGED_DEV,
				   CTRL_MS);
		if (res != -EBUSY)
			break;
		sleep_ms(200);
	}
	printf("# %s: START_USER_RECOVERY: %s\n", sc->name,
	       res_str(res, b, sizeof(b)));
	if (res) {
		fail(r, "START_USER_RECOVERY: %s", res_str(res, b, sizeof(b)));
		return;
	}
	r->nsrv = 0;
	if (spawn_server(r, sc->server, sc) < 0) {
		fail(r, "fork failed");
		return;
	}
	if (!wait_server(r, 60000, false))
		fail(r, "the recovering server did not finish in 60 s");
	{
		struct ctrl c;

		if (!ctrl_open(&c)) {
			if (!ctrl_get_info(&c, (uint32_t)r->dev_id, &info))
				printf("# %s: device state %u after recovery\n",
				       sc->name, info.state);
			ctrl_close(&c);
		}
	}
}

/* Random mode: one random server, one random parent action. */
static void drive_random(struct run *r, const struct scenario *sc)
{
	static const char *const names[] = { "STOP_DEV", "DEL_DEV",
					     "QUIESCE_DEV" };
	static const uint32_t ops[] = { UBLK_U_CMD_STOP_DEV, UBLK_U_CMD_DEL_DEV,
					UBLK_U_CMD_QUIESCE_DEV };
	unsigned int when = rng_below(&r->rng, 6000);
	unsigned int what = rng_below(&r->rng, 6);
	uint64_t t0 = now_ms();
	bool parent_cmd;
	unsigned int i;
	pid_t pid;

	pid = spawn_server(r, sc->server, sc);
	if (pid < 0) {
		fail(r, "fork failed");
		return;
	}
	while (!r->done && now_ms() - t0 < when && read_reports(r, 50))
		;
	if (r->dev_id >= 0 && what < 3) {
		printf("# %s: parent: %s at %u ms\n", sc->name, names[what],
		       when);
		async_start(&r->pending[r->npending++], names[what], ops[what],
			    (uint32_t)r->dev_id, what == 2 ? 1000 : 0,
			    r->dev_flags & UBLK_F_UNPRIVILEGED_DEV);
	} else if (what == 3) {
		printf("# %s: parent: SIGKILL at %u ms\n", sc->name, when);
		kill(pid, SIGKILL);
	}
	/*
	 * A server that holds requests and then issues PREP or FETCH_REQ
	 * while the parent's control command holds the device's mutex and
	 * waits for those requests deadlocks itself; the driver's part
	 * is that SIGKILL still ends it (kill_servers checks) and the device
	 * is then deletable. Without a parent command nothing may hold it.
	 */
	parent_cmd = r->dev_id >= 0 && what < 3;
	if (what == 3 || r->done ||
	    wait_server(r, parent_cmd ? 30000 : 60000, false) || r->done)
		return;
	printf("# %s: the server did not finish its sequence in %d s:\n",
	       sc->name, parent_cmd ? 30 : 60);
	for (i = 0; i < r->nsrv; i++)
		if (r->srv[i] > 0)
			print_stuck(r->srv[i]);
	for (i = 0; i < r->npending; i++)
		if (r->pending[i].pid > 0)
			print_stuck(r->pending[i].pid);
	if (parent_cmd)
		printf("# %s: it waits in the kernel while the parent's %s runs: SIGKILL must end it\n",
		       sc->name, names[what]);
	else
		fail(r,
		     "the server did not finish its sequence in 60 s (stuck in the kernel?)");
}

/* ---------------------------------------------------- kernel log */

static int g_kmsg = -1;

static void kmsg_mark(void)
{
	if (g_kmsg >= 0)
		lseek(g_kmsg, 0, SEEK_END);
}

/* Check 3: every record since kmsg_mark() free of splats. */
static void kmsg_check(struct run *r)
{
	static const char *const bad[] = {
		"WARNING:",
		"BUG:",
		"Oops",
		"KASAN",
		"possible circular locking",
		"lockdep",
		"refcount_t:",
		"list_add corruption",
		"list_del corruption",
		"general protection",
		"INFO: task",
		"kmemleak",
	};
	unsigned int hits = 0, i;
	char rec[8192];
	ssize_t n;

	if (g_kmsg < 0)
		return;
	for (;;) {
		char *msg;

		n = read(g_kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue; /* records were overwritten: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		for (i = 0; i < ARRAY_SIZE(bad); i++) {
			if (!strstr(msg, bad[i]))
				continue;
			if (hits++ < 20)
				printf("# %s: kernel: %.*s\n", r->sc->name,
				       (int)strcspn(msg, "\n"), msg);
			break;
		}
	}
	if (hits)
		fail(r, "the kernel logged %u warning/bug line(s)", hits);
}

/* ---------------------------------------------------- the table */

#define F_ZONED (UBLK_F_ZONED | UBLK_F_USER_COPY)

static const struct scenario scenarios[] = {
	{ "fetch-buf-0",
	  "FETCH whose provided buffer is 0 bytes, I/O queued: must end with -ENOBUFS, not spin",
	  F_BATCH, 1, 16, sv_fetch_short, NULL, 0, false, false },
	{ "fetch-buf-1",
	  "FETCH whose provided buffer is 1 byte: must end with -ENOBUFS, not spin",
	  F_BATCH, 1, 16, sv_fetch_short, NULL, 1, false, false },
	{ "fetch-buf-3",
	  "FETCH whose provided buffer is 3 bytes (one tag fits): one tag, then -ENOBUFS",
	  F_BATCH, 1, 16, sv_fetch_short, NULL, 3, false, false },
	{ "fetch-buf-odd-inc",
	  "FETCH on an incremental ring with a 5-byte buffer (two tags, then a 1-byte tail): must end with -ENOBUFS",
	  F_BATCH, 1, 16, sv_fetch_short, NULL, 5, true, false },
	{ "fetch-buf-1-inc",
	  "FETCH on an incremental ring with a 1-byte buffer: must end with -ENOBUFS",
	  F_BATCH, 1, 16, sv_fetch_short, NULL, 1, true, false },
	{ "fetch-unmapped",
	  "FETCH whose buffer is an unmapped page while I/O is queued: ends with -ENOBUFS (as upstream), tags are given back",
	  F_BATCH, 1, 16, sv_fetch_unmapped, NULL, 0, false, false },
	{ "fetch-unmapped-autoreg",
	  "as fetch-unmapped with automatic buffer registration: the undo unregisters the buffers",
	  F_AUTO, 1, 16, sv_fetch_unmapped, NULL, 0, false, true },
	{ "commit-args-copy",
	  "COMMIT_IO_CMDS with duplicate, never-fetched, out-of-range tags, nr_elem 0 / > depth, bad elem_bytes, flags, q_id, zero buffer, unmapped array (copy mode)",
	  F_BATCH, 1, 16, sv_commit_args, NULL, 0, false, false },
	{ "commit-args-autoreg",
	  "the same bad commits in auto-buf-reg mode, plus HAS_BUF_ADDR (not allowed there)",
	  F_AUTO, 1, 16, sv_commit_args, NULL, 0, false, true },
	{ "commit-args-usercopy",
	  "the same bad commits in user-copy mode, plus HAS_BUF_ADDR (not allowed there)",
	  F_BATCH | UBLK_F_USER_COPY, 1, 16, sv_commit_args, NULL, 0, false,
	  true },
	{ "prep-args",
	  "PREP_IO_CMDS with a duplicate / out-of-range tag / zero buffer after valid ones, nr_elem > depth, unmapped array: all fail, nothing stays prepared; a correct PREP then works and the device serves",
	  F_BATCH, 1, 8, sv_prep_args, NULL, 0, false, false },
	{ "prep-args-autoreg", "prep-args in auto-buf-reg mode", F_AUTO, 1, 8,
	  sv_prep_args, NULL, 0, false, true },
	{ "prep-live",
	  "PREP of a tag, and of a duplicate pair, on a LIVE device: -EBUSY, device keeps serving",
	  F_BATCH, 1, 8, sv_prep_live, NULL, 0, false, false },
	{ "prep-recovery",
	  "USER_RECOVERY: kill the server, START_USER_RECOVERY, a new server PREPs half, then a bad list, then the rest, with I/O waiting: END_USER_RECOVERY works",
	  F_BATCH | UBLK_F_USER_RECOVERY, 1, 8, sv_recover_part, drive_recovery,
	  0, false, true },
	{ "prep-recovery-fill-then-bad",
	  "USER_RECOVERY: a new server PREPs half, then one list with every other tag and a duplicate (-EINVAL: its valid part must not make the queue ready), then the rest: END_USER_RECOVERY works, I/O resumes",
	  F_BATCH | UBLK_F_USER_RECOVERY, 1, 8, sv_recover_fill_then_bad,
	  drive_recovery, 0, false, true },
	{ "cancel-vs-ring-exit",
	  "STOP_DEV cancels idle FETCH commands while SIGKILL makes the ring cancel them too (our module widens the window): each completes once (3 rounds)",
	  F_BATCH, 2, 8, sv_idle_fetch, drive_cancel_vs_exit, 0, false, false },
	{ "commit-other-ring",
	  "commits of validly fetched tags from a second ring (copy mode)",
	  F_BATCH, 1, 16, sv_commit_other_ring, NULL, 0, false, false },
	{ "commit-other-ring-autoreg",
	  "commits of validly fetched tags from a second ring whose buffer table does not hold the auto-registered buffers",
	  F_AUTO, 1, 16, sv_commit_other_ring, NULL, 0, false, true },
	{ "close-ring-fetched",
	  "close the ring with tags fetched and not committed", F_BATCH, 1, 16,
	  sv_close_mid, NULL, CLOSE_RING | WITH_FETCHED, false, false },
	{ "close-ring-armed",
	  "close the ring with a fetch armed and I/O in flight", F_BATCH, 1, 16,
	  sv_close_mid, NULL, CLOSE_RING, false, false },
	{ "close-ring-fetched-autoreg",
	  "close the ring with auto-registered tags fetched and not committed",
	  F_AUTO, 1, 16, sv_close_mid, NULL, CLOSE_RING | WITH_FETCHED, false,
	  true },
	{ "close-char-fetched",
	  "close /dev/ublkcN (ring alive) with tags fetched and not committed",
	  F_BATCH, 1, 16, sv_close_mid, NULL, CLOSE_CHAR | WITH_FETCHED, false,
	  false },
	{ "close-char-armed",
	  "close /dev/ublkcN (ring alive) with a fetch armed and I/O in flight",
	  F_BATCH, 1, 16, sv_close_mid, NULL, CLOSE_CHAR, false, false },
	{ "autoreg-bad-index",
	  "PREP with a buffer index outside the table, no FALLBACK: requests fail, none is delivered",
	  F_AUTO, 1, 8, sv_autoreg_bad_index, NULL, 0, false, true },
	{ "autoreg-bad-index-fallback",
	  "PREP with a buffer index outside the table and FALLBACK: requests come with UBLK_IO_F_NEED_REG_BUF",
	  F_AUTO, 1, 8, sv_autoreg_bad_index, NULL, 1, false, true },
	{ "kill-vs-stop",
	  "SIGKILL the server at a random point around STOP_DEV from the parent (3 rounds)",
	  F_BATCH, 1, 16, sv_serve_forever, drive_kill_vs, 0, false, false },
	{ "kill-vs-del",
	  "SIGKILL the server at a random point around DEL_DEV from the parent (3 rounds)",
	  F_BATCH, 1, 16, sv_serve_forever, drive_kill_vs, 1, false, false },
	{ "kill-vs-quiesce",
	  "SIGKILL the server at a random point around QUIESCE_DEV (3 rounds)",
	  F_BATCH | UBLK_F_USER_RECOVERY | UBLK_F_QUIESCE, 1, 16,
	  sv_serve_forever, drive_kill_vs, 2, false, true },
	{ "kill-vs-recovery",
	  "SIGKILL the server at a random point around START_USER_RECOVERY (3 rounds)",
	  F_BATCH | UBLK_F_USER_RECOVERY, 1, 16, sv_serve_forever,
	  drive_kill_vs, 3, false, true },
	{ "fetch-during-del",
	  "per-I/O: the server holds requests, DEL_DEV from the parent waits for them, the server then issues FETCH_REQ (needs the mutex DEL_DEV holds): SIGKILL must still end it, and the delete then completes",
	  0, 1, 8, sv_fetch_during_del, drive_fetch_during_del, 0, false,
	  false },
	{ "perio-bad-cmds",
	  "per-I/O mode: FETCH_REQ/COMMIT_AND_FETCH_REQ with bad tag, bad q_id, zero buffer (copy mode), refetch, commit of an unowned tag, commit from another task",
	  0, 1, 4, sv_perio, NULL, 0, false, false },
	{ "copy-bad-buf",
	  "per-I/O copy mode: reads committed with a kernel address, the top page of user space or a PROT_NONE page as their buffer fail with EIO and copy nothing; a good buffer then serves",
	  0, 1, 4, sv_copy_bad_buf, NULL, 0, false, false },
	{ "perio-bad-cmds-autoreg", "perio-bad-cmds in auto-buf-reg mode",
	  UBLK_F_AUTO_BUF_REG, 1, 4, sv_perio, NULL, 0, false, true },
	{ "io-desc-size",
	  "UBLK_F_IO_DESC_SIZE: ADD_DEV with strides below 24, not a multiple of 8 or above 256: -EINVAL; with 256 a mapping of the 24-byte layout's length or past the last queue is refused and the granted layout serves",
	  UBLK_F_IO_DESC_SIZE, 2, 64, sv_io_desc_size, NULL, 0, false, false },
	{ "io-desc-size-batch", "io-desc-size in batch mode",
	  UBLK_F_IO_DESC_SIZE | F_BATCH, 2, 64, sv_io_desc_size, NULL, 0, false,
	  false },
	{ "integrity-params",
	  "UBLK_F_INTEGRITY: ADD_DEV without USER_COPY, SET_PARAMS with unknown capability bits and checksum types, metadata_size 0, a reference tag without checksum, a PI tuple past the metadata, intervals below a sector or beyond the logical block: all -EINVAL; a valid T10 DIF profile serves",
	  UBLK_F_USER_COPY | UBLK_F_INTEGRITY, 1, 4, sv_integrity_params, NULL,
	  0, false, true },
	{ "integrity-copy",
	  "UBLK_F_INTEGRITY: metadata pread/pwrite past the end of a write's metadata, longer than it, the wrong way, on a read without metadata, on a device not started, on a tag not owned: refused or bounded; the device serves",
	  UBLK_F_USER_COPY | UBLK_F_INTEGRITY, 1, 8, sv_integrity_copy, NULL, 0,
	  false, true },
	{ "shmem-reg-args",
	  "REG_BUF/UNREG_BUF: bad payloads, overlaps, read-only memory registered writable, unknown/double unregistration, another user, RLIMIT_MEMLOCK; I/O from a registered buffer comes flagged, then a thread unregisters and re-registers it under I/O; DEL_DEV unpins what is left",
	  F_BATCH | UBLK_F_SHMEM_ZC, 1, 16, sv_shmem, NULL, 0, false, false },
	{ "shmem-reg-args-perio", "shmem-reg-args in per-I/O copy mode",
	  UBLK_F_SHMEM_ZC, 1, 8, sv_shmem, NULL, 0, false, false },
	{ "shmem-not-granted",
	  "REG_BUF/UNREG_BUF on a device without SHMEM_ZC: -EOPNOTSUPP, the device serves",
	  F_BATCH, 1, 8, sv_shmem, NULL, 1, false, false },
	{ "shmem-reg-vs-del",
	  "SIGKILL the server around DEL_DEV while a thread of it registers and unregisters a buffer and I/O comes from another registered one (3 rounds)",
	  F_BATCH | UBLK_F_SHMEM_ZC, 1, 16, sv_shmem_serve, drive_kill_vs, 1,
	  false, false },
	{ "shmem-recovery-reg",
	  "USER_RECOVERY: the first server registered the I/O buffer; the new server's REG_BUF, while requests wait, gets index 1 (registrations survive the server) and does not hang; UNREG_BUF 0, END_USER_RECOVERY, serving",
	  F_BATCH | UBLK_F_SHMEM_ZC | UBLK_F_USER_RECOVERY, 1, 8,
	  sv_recover_shmem, drive_recovery, 0, false, true },
	/*
	 * Last: on upstream 7.3.4 these WARN and then oops (the VM boots
	 * with oops=panic), which would end the run for every later one.
	 */
	{ "fetch-unmapped-race",
	  "unmapped FETCH buffer in a loop while a second ring commits guessed tags 0..depth-1 (upstream 7.3.4 WARNs in blk_mq_free_request)",
	  F_BATCH, 1, 16, sv_fetch_unmapped, NULL, 1, false, false },
	{ "fetch-unmapped-race-autoreg",
	  "as fetch-unmapped-race with automatic buffer registration", F_AUTO,
	  1, 16, sv_fetch_unmapped, NULL, 1, false, true },
	{ "zoned-report-good",
	  "zoned device, a correct zone report: START_DEV works", F_ZONED, 1, 8,
	  sv_zoned_report, NULL, ZR_GOOD, .priv_only = true },
	{ "zoned-report-zero",
	  "zoned device, an empty zone report: START_DEV fails", F_ZONED, 1, 8,
	  sv_zoned_report, NULL, ZR_ZERO, .priv_only = true },
	{ "zoned-report-garbage",
	  "zoned device, random bytes as zone report: START_DEV fails", F_ZONED,
	  1, 8, sv_zoned_report, NULL, ZR_GARBAGE, .priv_only = true },
	{ "zoned-report-bad-start",
	  "zoned device, zones starting mid-zone: START_DEV fails", F_ZONED, 1,
	  8, sv_zoned_report, NULL, ZR_BAD_START, .priv_only = true },
	{ "zoned-report-bad-wp",
	  "zoned device, write pointers past the zone: START_DEV fails",
	  F_ZONED, 1, 8, sv_zoned_report, NULL, ZR_BAD_WP, .priv_only = true },
	{ "zoned-report-bad-type",
	  "zoned device, an unknown zone type: START_DEV fails", F_ZONED, 1, 8,
	  sv_zoned_report, NULL, ZR_BAD_TYPE, .priv_only = true },
	{ "zoned-report-error",
	  "zoned device, zone report fails: START_DEV fails", F_ZONED, 1, 8,
	  sv_zoned_report, NULL, ZR_ERROR, .priv_only = true },
	{ "zoned-report-huge",
	  "zoned device, more zones and bytes than asked: START_DEV may work, nothing breaks",
	  F_ZONED, 1, 8, sv_zoned_report, NULL, ZR_HUGE, .priv_only = true },
	{ "zoned-report-silent",
	  "zoned device, no zone report, server killed: START_DEV ends",
	  F_ZONED, 1, 8, sv_zoned_report, NULL, ZR_SILENT, .priv_only = true },
	{ "zoned-append-bad-lba",
	  "zoned device, zone appends answered outside their zone: each fails",
	  F_ZONED, 1, 8, sv_zoned_append, NULL, 0, .priv_only = true },
	{ "zoned-report-good-batch",
	  "zoned batch device, a correct zone report: START_DEV works",
	  F_ZONED | F_BATCH, 1, 8, sv_zoned_report, NULL, ZR_GOOD,
	  .priv_only = true },
	{ "zoned-report-garbage-batch",
	  "zoned batch device, random bytes as zone report: START_DEV fails",
	  F_ZONED | F_BATCH, 1, 8, sv_zoned_report, NULL, ZR_GARBAGE,
	  .priv_only = true },
	{ "zoned-append-bad-lba-batch",
	  "zoned batch device, zone appends committed with LBAs outside their zone, or none (no HAS_ZONE_LBA): each fails; a good LBA works",
	  F_ZONED | F_BATCH, 1, 8, sv_zoned_append, NULL, 0,
	  .priv_only = true },
};

static const struct scenario random_scenario = {
	.name = "random",
	.what = "random device, random valid and invalid commands",
	.server = sv_random,
	.drive = drive_random,
};

/* ---------------------------------------------------- the runner */

static unsigned int n_pass, n_fail, n_skip, n_test;
static const char *g_current;

static void on_alarm(int sig)
{
	char buf[256];
	int n;

	n = snprintf(
		buf, sizeof(buf),
		"not ok %u - %s: watchdog: the scenario did not end\nhostile: %u passed, %u failed, %u skipped\n",
		n_test, g_current ? g_current : "?", n_pass, n_fail + 1,
		n_skip);
	if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
		_exit(1);
	_exit(1);
}

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Why a scenario cannot run here, or NULL. */
static const char *cannot_run(const struct scenario *sc, char *buf, size_t len)
{
	uint64_t need = sc->flags;
	unsigned int bit;

	if (opt.unpriv && sc->priv_only)
		return "unprivileged devices may not have these flags (AUTO_BUF_REG, USER_COPY, USER_RECOVERY)";
	for (bit = 0; bit < 64; bit++) {
		if ((need & (1ULL << bit)) && !(g_features & (1ULL << bit))) {
			snprintf(
				buf, len,
				"the driver lacks feature bit %u in GET_FEATURES",
				bit);
			return buf;
		}
	}
	return NULL;
}

static void run_one(const struct scenario *sc, uint64_t iter)
{
	struct run *r = calloc(1, sizeof(*r));
	char buf[128];
	const char *why;

	n_test++;
	g_current = sc->name;
	if (!r) {
		printf("not ok %u - %s: out of memory\n", n_test, sc->name);
		n_fail++;
		return;
	}
	r->sc = sc;
	r->dev_id = -1;
	r->rfd = -1;
	r->iter = iter;
	rng_seed(&r->rng, opt.seed ^ (iter + 1) * 0x9e3779b97f4a7c15ULL ^
				  (uint64_t)(uintptr_t)sc->name[0]);
	if (opt.skip && in_list(opt.skip, sc->name)) {
		printf("ok %u - %s # skip --skip\n", n_test, sc->name);
		n_skip++;
		free(r);
		return;
	}
	why = cannot_run(sc, buf, sizeof(buf));
	if (why) {
		printf("ok %u - %s # skip %s\n", n_test, sc->name, why);
		n_skip++;
		free(r);
		return;
	}
	printf("# %s: %s\n", sc->name, sc->what);
	fflush(stdout);
	alarm(600);
	kmsg_mark();
	(sc->drive ? sc->drive : drive_simple)(r, sc);
	finish_dev(r);
	/* give late splats (a WARN in release work) a moment to land */
	sleep_ms(300);
	kmsg_check(r);
	alarm(0);
	if (r->rfd >= 0)
		close(r->rfd);
	if (r->skip && !r->why[0]) {
		printf("ok %u - %s # skip %s\n", n_test, sc->name, r->skip_why);
		n_skip++;
	} else if (r->why[0]) {
		printf("not ok %u - %s: %s\n", n_test, sc->name, r->why);
		n_fail++;
	} else {
		printf("ok %u - %s\n", n_test, sc->name);
		n_pass++;
	}
	fflush(stdout);
	free(r);
}

/* ---------------------------------------------------- I/O worker */

/*
 * --io-worker ID SEED [MEM]: O_DIRECT 4 KiB reads and writes at random
 * offsets of /dev/ublkbID until killed, from a random page of the first
 * SHM_BYTES of file MEM (shared mapping) if given. Errors are expected
 * (the server misbehaves): they slow the loop down, nothing else.
 */
static int io_worker(const char *id, const char *seed, const char *mem)
{
	char *base = NULL;
	char path[64];
	unsigned int errors = 0;
	struct rng r;
	void *buf;
	int fd, waited = 0;

	snprintf(path, sizeof(path), "/dev/ublkb%s", id);
	rng_seed(&r, strtoull(seed, NULL, 10));
	for (;;) {
		fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
		if (fd >= 0)
			break;
		if (waited >= 10000)
			return 2;
		sleep_ms(20);
		waited += 20;
	}
	if (mem) {
		int mfd = open(mem, O_RDWR | O_CLOEXEC);

		if (mfd < 0)
			return 1;
		base = mmap(NULL, SHM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
			    mfd, 0);
		close(mfd);
		if (base == MAP_FAILED)
			return 1;
	}
	if (posix_memalign(&buf, PAGE, PAGE))
		return 1;
	memset(buf, 0x5a, PAGE);
	for (;;) {
		off_t off = (off_t)rng_below(&r, DEV_BYTES / PAGE) * PAGE;
		ssize_t n;

		if (base)
			buf = base +
			      (size_t)rng_below(&r, SHM_BYTES / PAGE) * PAGE;
		n = rng_below(&r, 2) ? pread(fd, buf, PAGE, off) :
				       pwrite(fd, buf, PAGE, off);

		if (n >= 0) {
			errors = 0;
			continue;
		}
		sleep_ms(5);
		/* a device deleted under us: nothing left to do */
		if (++errors % 200 == 0 && access(path, F_OK))
			return 0;
	}
	return 0;
}

/* ------------------------------------------------ unprivileged */

/*
 * Stand-in for the udev rule of an installed ublkctl (udev/60-ublkctl
 * .rules.in), which the test VM does not run: hand the nodes of every
 * unprivileged device owned by @uid to @uid. Runs as root in a child
 * forked before the program drops its privileges; dies with its parent.
 */
static void node_helper(uid_t uid, gid_t gid)
{
	struct ctrl c;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (ctrl_open(&c))
		_exit(1);
	for (;;) {
		DIR *d = opendir("/sys/class/ublk-char");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			struct ublksrv_ctrl_dev_info info;
			char cpath[64], bpath[64];
			struct stat st;
			unsigned int id;

			if (sscanf(e->d_name, "ublkc%u", &id) != 1)
				continue;
			snprintf(cpath, sizeof(cpath), "/dev/ublkc%u", id);
			snprintf(bpath, sizeof(bpath), "/dev/ublkb%u", id);
			if ((stat(cpath, &st) || st.st_uid == uid) &&
			    (stat(bpath, &st) || st.st_uid == uid))
				continue;
			if (ctrl_get_info(&c, id, &info) ||
			    !(info.flags & UBLK_F_UNPRIVILEGED_DEV) ||
			    info.owner_uid != uid)
				continue;
			if (chown(cpath, uid, gid) && errno != ENOENT)
				continue;
			if (chown(bpath, uid, gid) && errno != ENOENT)
				continue;
		}
		if (d)
			closedir(d);
		if (getppid() == 1)
			_exit(0);
		sleep_ms(20);
	}
}

static int drop_to_user(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		node_helper(opt.uid, opt.gid);
	if (pid < 0)
		return -errno;
	if (setgroups(0, NULL) || setresgid(opt.gid, opt.gid, opt.gid) ||
	    setresuid(opt.uid, opt.uid, opt.uid))
		return -errno;
	return 0;
}

/* ---------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ublk-hostile [options]\n"
		"A misbehaving ublk server: attacks the ublk driver scenario by scenario\n"
		"and checks that the server dies on SIGKILL, the device can be deleted,\n"
		"and the kernel logged no warning. Output is TAP.\n"
		"\n"
		"Options:\n"
		"  --list                 print the scenario names and what they do\n"
		"  --only NAME[,NAME]     run only these scenarios\n"
		"  --skip NAME[,NAME]     report these as skipped\n"
		"  --random               random devices and commands instead of scenarios\n"
		"  --seed S               seed of --random and of the random delays (default: time)\n"
		"  --seconds T            --random: run for T seconds (default 60)\n"
		"  --iterations N         --random: run N devices (default: until --seconds)\n"
		"  --unprivileged         create devices with UBLK_F_UNPRIVILEGED_DEV\n"
		"  --user UID             as root: drop to UID (and its group) first; nodes of\n"
		"                         its devices are handed to it as the udev rule would\n"
		"  -h, --help             print this help\n"
		"\n"
		"Exit status: 0 if every scenario passed (or was skipped), 1 otherwise,\n"
		"2 on bad usage.\n");
}

static int parse_uint(const char *opt_name, const char *s,
		      unsigned long long max, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (!*s || *end || errno || *out > max || *s == '-') {
		fprintf(stderr,
			"ublk-hostile: %s: '%s': not a number in 0-%llu\n",
			opt_name, s, max);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_LIST = 256,
		O_ONLY,
		O_SKIP,
		O_RANDOM,
		O_SEED,
		O_SECONDS,
		O_ITER,
		O_UNPRIV,
		O_USER,
		O_IO_WORKER,
		O_START_DEV
	};
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, O_LIST },
		{ "only", required_argument, NULL, O_ONLY },
		{ "skip", required_argument, NULL, O_SKIP },
		{ "random", no_argument, NULL, O_RANDOM },
		{ "seed", required_argument, NULL, O_SEED },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "iterations", required_argument, NULL, O_ITER },
		{ "unprivileged", no_argument, NULL, O_UNPRIV },
		{ "user", required_argument, NULL, O_USER },
		{ "io-worker", required_argument, NULL, O_IO_WORKER },
		{ "start-dev", required_argument, NULL, O_START_DEV },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool list = false, have_seed = false;
	unsigned long long v;
	struct ctrl c;
	unsigned int i, selected = 0;
	int ch, ret;

	opt.seconds = 60;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_LIST:
			list = true;
			break;
		case O_ONLY:
			opt.only = optarg;
			break;
		case O_SKIP:
			opt.skip = optarg;
			break;
		case O_RANDOM:
			opt.random = true;
			break;
		case O_SEED:
			if (parse_uint("--seed", optarg, UINT64_MAX, &v))
				return 2;
			opt.seed = v;
			have_seed = true;
			break;
		case O_SECONDS:
			if (parse_uint("--seconds", optarg, 86400, &v))
				return 2;
			opt.seconds = (unsigned int)v;
			break;
		case O_ITER:
			if (parse_uint("--iterations", optarg, 1000000, &v))
				return 2;
			opt.iterations = (unsigned int)v;
			break;
		case O_UNPRIV:
			opt.unpriv = true;
			break;
		case O_USER:
			if (parse_uint("--user", optarg, UINT32_MAX - 1, &v))
				return 2;
			opt.uid = (uid_t)v;
			opt.have_user = true;
			break;
		case O_IO_WORKER:
			if (optind >= argc)
				return 2;
			return io_worker(optarg, argv[optind],
					 optind + 1 < argc ? argv[optind + 1] :
							     NULL);
		case O_START_DEV:
			if (optind + 1 >= argc)
				return 2;
			return start_dev_helper(optarg, argv[optind],
						argv[optind + 1]);
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "Try 'ublk-hostile --help'.\n");
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ublk-hostile: unexpected argument '%s'\n",
			argv[optind]);
		fprintf(stderr, "Try 'ublk-hostile --help'.\n");
		return 2;
	}
	if (list) {
		for (i = 0; i < ARRAY_SIZE(scenarios); i++)
			printf("%-28s %s\n", scenarios[i].name,
			       scenarios[i].what);
		return 0;
	}
	if (opt.only) {
		const char *p = opt.only;

		while (p && *p) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			bool found = false;

			for (i = 0; i < ARRAY_SIZE(scenarios); i++)
				found |= strlen(scenarios[i].name) == len &&
					 !strncmp(scenarios[i].name, p, len);
			if (!found) {
				fprintf(stderr,
					"ublk-hostile: --only: '%.*s': no such scenario (see --list)\n",
					(int)len, p);
				return 2;
			}
			p = e ? e + 1 : NULL;
		}
	}
	if (opt.have_user && geteuid() != 0) {
		fprintf(stderr, "ublk-hostile: --user needs root\n");
		return 2;
	}
	if (!have_seed)
		opt.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	opt.self = "/proc/self/exe";

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* I/O workers outlive their server: they come back to us */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	g_kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (g_kmsg < 0)
		printf("# cannot read /dev/kmsg (%s): the kernel log check is off\n",
		       strerror(errno));
	/* the binary must stay reachable once we are someone else */
	{
		static char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			opt.self = self;
		}
	}
	if (opt.have_user) {
		struct passwd *pw = getpwuid(opt.uid);

		opt.gid = pw ? pw->pw_gid : (gid_t)opt.uid;
		ret = drop_to_user();
		if (ret) {
			fprintf(stderr, "ublk-hostile: --user %u: %s\n",
				(unsigned int)opt.uid, strerror(-ret));
			return 1;
		}
	}

	ret = ctrl_open(&c);
	if (!ret) {
		ret = ctrl_cmd(&c, UBLK_U_CMD_GET_FEATURES, (uint32_t)-1,
			       &g_features, sizeof(g_features), 0, false,
			       CMD_MS);
		ctrl_close(&c);
	}
	if (ret < 0) {
		printf("1..0 # skip %s: %s\n", CONTROL_PATH, strerror(-ret));
		printf("hostile: 0 passed, 0 failed, 0 skipped\n");
		return 1;
	}
	printf("# ublk-hostile: seed %llu, uid %u, features 0x%llx%s\n",
	       (unsigned long long)opt.seed, (unsigned int)geteuid(),
	       (unsigned long long)g_features,
	       opt.unpriv ? ", unprivileged devices" : "");

	if (opt.random) {
		uint64_t end = now_ms() + (uint64_t)opt.seconds * 1000;
		uint64_t it;
		char name[64];
		struct scenario sc = random_scenario;

		sc.name = name;
		for (it = 0;
		     opt.iterations ? it < opt.iterations : now_ms() < end;
		     it++) {
			snprintf(name, sizeof(name), "random-%llu",
				 (unsigned long long)it);
			run_one(&sc, it);
		}
		printf("1..%u\n", n_test);
	} else {
		for (i = 0; i < ARRAY_SIZE(scenarios); i++)
			selected += !opt.only ||
				    in_list(opt.only, scenarios[i].name);
		printf("1..%u\n", selected);
		for (i = 0; i < ARRAY_SIZE(scenarios); i++)
			if (!opt.only || in_list(opt.only, scenarios[i].name))
				run_one(&scenarios[i], i);
	}
	printf("hostile: %u passed, %u failed, %u skipped\n", n_pass, n_fail,
	       n_skip);
	return n_fail ? 1 : 0;
}
