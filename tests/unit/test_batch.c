// SPDX-License-Identifier: GPL-2.0
/*
 * Batch mode: element encoding, commit lists and partial commits, fetch
 * offsets, the thread map, and the server hooks on a real io_uring whose
 * SQEs are read back unsubmitted and whose CQEs are made up (no ublk).
 */
#include <errno.h>
#include <string.h>

#include "ublkctl/batch.h"
#include "ublkctl/compat.h"
#include "ublkctl/server.h"
#include "ublkctl/ublkctl.h"
#include "unit.h"

static void test_elem_bytes(void)
{
	CHECK_EQ(ublk_batch_elem_bytes(0), 8);
	CHECK_EQ(ublk_batch_elem_bytes(UBLK_BATCH_F_HAS_BUF_ADDR), 16);
	CHECK_EQ(ublk_batch_elem_bytes(UBLK_BATCH_F_HAS_ZONE_LBA), 16);
	CHECK_EQ(ublk_batch_elem_bytes(UBLK_BATCH_F_HAS_BUF_ADDR |
				       UBLK_BATCH_F_HAS_ZONE_LBA),
		 24);
	CHECK_EQ(ublk_batch_elem_bytes(UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK), 8);
}

static void test_cmd_flags(void)
{
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO, false),
		 UBLK_BATCH_F_HAS_BUF_ADDR);
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO | UBLK_F_USER_COPY,
				      false),
		 0);
	CHECK_EQ(ublk_batch_cmd_flags(
			 UBLK_F_BATCH_IO | UBLK_F_SUPPORT_ZERO_COPY, false),
		 0);
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG,
				      false),
		 0);
	/* fallback: auto-zc plus zero copy for the manual path */
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG |
					      UBLK_F_SUPPORT_ZERO_COPY,
				      true),
		 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK);
	/* FALLBACK never without auto-zc, never with HAS_BUF_ADDR */
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO, true),
		 UBLK_BATCH_F_HAS_BUF_ADDR);
	/* a zoned device's commits carry the append LBA */
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO | UBLK_F_USER_COPY |
					      UBLK_F_ZONED,
				      false),
		 UBLK_BATCH_F_HAS_ZONE_LBA);
	CHECK_EQ(ublk_batch_cmd_flags(UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG |
					      UBLK_F_SUPPORT_ZERO_COPY |
					      UBLK_F_ZONED,
				      true),
		 UBLK_BATCH_F_HAS_ZONE_LBA |
			 UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK);
}

/* A commit list over buf with room for cap elements of these flags. */
static struct ublk_batch_commit commit_over(void *buf, unsigned int cap,
					    uint16_t flags)
{
	struct ublk_batch_commit c = {
		.wire = buf,
		.cap = cap,
		.flags = flags,
		.elem_bytes = (uint8_t)ublk_batch_elem_bytes(flags),
	};

	return c;
}

static void test_encode(void)
{
	static const uint16_t flag_sets[] = {
		0,
		UBLK_BATCH_F_HAS_BUF_ADDR,
		UBLK_BATCH_F_HAS_ZONE_LBA,
		UBLK_BATCH_F_HAS_BUF_ADDR | UBLK_BATCH_F_HAS_ZONE_LBA,
		UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK,
	};
	static const struct ublk_batch_elem in[3] = {
		{ 1, 11, 4096, 0x1000, 0x77 },
		{ 2, 12, -EIO, 0x2000, 0x88 },
		{ 65535, 65535, 0, UINT64_MAX, 1 },
	};
	unsigned char wire[3 * 24 + 8];
	struct ublk_batch_commit c;
	size_t f;

	for (f = 0; f < ARRAY_SIZE(flag_sets); f++) {
		uint16_t fl = flag_sets[f];
		unsigned int bytes = ublk_batch_elem_bytes(fl), i;

		memset(wire, 0xaa, sizeof(wire));
		c = commit_over(wire, 3, fl);
		for (i = 0; i < 3; i++)
			CHECK(ublk_batch_commit_add(&c, &in[i]));
		/* room for 3: the fourth is refused, nothing written */
		CHECK(!ublk_batch_commit_add(&c, &in[0]));
		CHECK_EQ(c.nr, 3);
		CHECK_EQ(wire[3 * bytes], 0xaa);
		for (i = 0; i < 3; i++) {
			struct ublk_batch_elem out;
			struct ublk_elem_header h;

			memcpy(&h, wire + i * bytes, sizeof(h));
			CHECK_EQ(h.tag, in[i].tag);
			CHECK_EQ(h.buf_index, in[i].buf_index);
			CHECK_EQ((uint32_t)h.result, (uint32_t)in[i].result);
			ublk_batch_decode(wire, fl, i, &out);
			CHECK_EQ(out.tag, in[i].tag);
			CHECK_EQ(out.buf_addr, fl & UBLK_BATCH_F_HAS_BUF_ADDR ?
						       in[i].buf_addr :
						       0);
			CHECK_EQ(out.zone_lba, fl & UBLK_BATCH_F_HAS_ZONE_LBA ?
						       in[i].zone_lba :
						       0);
		}
	}
	/* buf_addr right after the header, zone LBA after buf_addr */
	c = commit_over(wire, 1,
			UBLK_BATCH_F_HAS_BUF_ADDR | UBLK_BATCH_F_HAS_ZONE_LBA);
	CHECK(ublk_batch_commit_add(&c, &in[0]));
	{
		uint64_t a, z;

		memcpy(&a, wire + 8, 8);
		memcpy(&z, wire + 16, 8);
		CHECK_EQ(a, 0x1000);
		CHECK_EQ(z, 0x77);
	}
	/* a list in flight takes nothing */
	c = commit_over(wire, 3, 0);
	c.busy = true;
	CHECK(!ublk_batch_commit_add(&c, &in[0]));
	CHECK_EQ(c.nr, 0);
}

static void test_commit(void)
{
	unsigned char wire[4 * 16];
	struct ublk_batch_commit c =
		commit_over(wire, 4, UBLK_BATCH_F_HAS_BUF_ADDR);
	struct ublk_batch_elem e = { 0 }, out;
	unsigned int off, nr, dropped = 0, i;

	for (i = 0; i < 3; i++) {
		e.tag = (uint16_t)i;
		e.result = (int32_t)(i * 512);
		CHECK(ublk_batch_commit_add(&c, &e));
	}
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 0);
	CHECK_EQ(nr, 3);
	c.busy = true; /* sent */

	/* partial commit: 16 bytes = one element handled, resend the rest */
	CHECK_EQ(ublk_batch_commit_complete(&c, 16, &dropped),
		 UBLK_COMMIT_RESEND);
	CHECK_EQ(dropped, 0);
	CHECK(c.busy);
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 16);
	CHECK_EQ(nr, 2);
	/* the resend reads the elements where they were encoded */
	ublk_batch_decode(wire + off, c.flags, 0, &out);
	CHECK_EQ(out.tag, 1);
	CHECK_EQ(out.result, 512);

	/* error with nothing handled: drop the first, resend the rest */
	CHECK_EQ(ublk_batch_commit_complete(&c, -EBUSY, &dropped),
		 UBLK_COMMIT_RESEND);
	CHECK_EQ(dropped, 1);
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 32);
	CHECK_EQ(nr, 1);
	/* more bytes than sent count as all of them */
	CHECK_EQ(ublk_batch_commit_complete(&c, 64, &dropped),
		 UBLK_COMMIT_DONE);
	CHECK(!c.busy);
	CHECK_EQ(c.nr, 0);
	CHECK_EQ(c.sent, 0);

	/* -ENODEV: the device is going away, drop everything */
	e.tag = 9;
	CHECK(ublk_batch_commit_add(&c, &e));
	CHECK(ublk_batch_commit_add(&c, &e));
	c.busy = true;
	dropped = 0;
	CHECK_EQ(ublk_batch_commit_complete(&c, -ENODEV, &dropped),
		 UBLK_COMMIT_DONE);
	CHECK_EQ(dropped, 2);

	/* a zero-byte success cannot loop forever */
	CHECK(ublk_batch_commit_add(&c, &e));
	c.busy = true;
	dropped = 0;
	CHECK_EQ(ublk_batch_commit_complete(&c, 0, &dropped), UBLK_COMMIT_DONE);
	CHECK_EQ(dropped, 1);
	CHECK(!c.busy);
}

static void test_fetch(void)
{
	uint16_t buf[8] = { 5, 6, 7, 1, 2, 3, 4, 0 };
	struct ublk_batch_fetch f = { buf, sizeof(buf), 0 };
	uint16_t *tags;

	CHECK_EQ(ublk_batch_fetch_tags(&f, 6, &tags), 3);
	CHECK(tags == buf);
	CHECK_EQ(tags[2], 7);
	/* the next CQE's tags follow the previous ones */
	CHECK_EQ(ublk_batch_fetch_tags(&f, 4, &tags), 2);
	CHECK(tags == buf + 3);
	CHECK_EQ(tags[0], 1);
	CHECK_EQ(f.off, 10);
	/* errors and empty CQEs deliver nothing and keep the offset */
	CHECK_EQ(ublk_batch_fetch_tags(&f, -ENOBUFS, &tags), 0);
	CHECK_EQ(ublk_batch_fetch_tags(&f, 0, &tags), 0);
	CHECK_EQ(f.off, 10);
	/* never past the end of the buffer */
	CHECK_EQ(ublk_batch_fetch_tags(&f, 100, &tags), 3);
	CHECK_EQ(f.off, 16);
	CHECK_EQ(ublk_batch_fetch_tags(&f, 2, &tags), 0);

	CHECK_EQ(ublk_batch_fetch_next(4, IORING_CQE_F_MORE), UBLK_FETCH_ARMED);
	CHECK_EQ(ublk_batch_fetch_next(4, IORING_CQE_F_MORE |
						  IORING_CQE_F_BUF_MORE),
		 UBLK_FETCH_ARMED);
	/* ended with room left in the buffer: arm on the same buffer */
	CHECK_EQ(ublk_batch_fetch_next(4, IORING_CQE_F_BUF_MORE),
		 UBLK_FETCH_REARM);
	CHECK_EQ(ublk_batch_fetch_next(4, 0), UBLK_FETCH_REFILL);
	CHECK_EQ(ublk_batch_fetch_next(0, 0), UBLK_FETCH_REFILL);
	/* -ENOBUFS: the buffer is full whatever the flags say */
	CHECK_EQ(ublk_batch_fetch_next(-ENOBUFS, 0), UBLK_FETCH_REFILL);
	CHECK_EQ(ublk_batch_fetch_next(-ENOBUFS, IORING_CQE_F_BUF_MORE),
		 UBLK_FETCH_REFILL);
	CHECK_EQ(ublk_batch_fetch_next(-ENODEV, 0), UBLK_FETCH_END);
	CHECK_EQ(ublk_batch_fetch_next(-ECANCELED, 0), UBLK_FETCH_END);
	CHECK_EQ(ublk_batch_fetch_next(-EINVAL, 0), UBLK_FETCH_FAILED);
}

static unsigned int count_row(const bool *map, unsigned int t, unsigned int nq)
{
	unsigned int q, n = 0;

	for (q = 0; q < nq; q++)
		n += map[t * nq + q];
	return n;
}

/*
 * Shared per-I/O tags of queue q: the next tag goes to the next thread (so
 * any nthreads neighbouring tags reach every thread), shares differ by at
 * most one tag, and with depth >= nthreads every thread serves the queue.
 */
static void check_queue_spread(unsigned int nt, unsigned int depth,
			       unsigned int q)
{
	unsigned int n[8] = { 0 };
	unsigned int tag, i;

	for (tag = 0; tag < depth; tag++) {
		i = ublk_io_thread(nt, depth, true, q, tag);
		n[i]++;
		if (tag + 1 < depth)
			CHECK_EQ(ublk_io_thread(nt, depth, true, q, tag + 1),
				 (i + 1) % nt);
	}
	for (i = 0; i < nt; i++) {
		CHECK(n[i] + 1 >= depth / nt);
		CHECK(n[i] <= depth / nt + 1);
		if (depth >= nt)
			CHECK(n[i] > 0);
	}
}

static void io_thread_spread(void)
{
	static const unsigned int depths[] = { 1, 3, 4, 128 };
	unsigned int nt, nq, d, q;

	for (nt = 1; nt <= 8; nt++)
		for (nq = 1; nq <= 4; nq++)
			for (d = 0; d < ARRAY_SIZE(depths); d++)
				for (q = 0; q < nq; q++)
					check_queue_spread(nt, depths[d], q);
}

static void test_map(void)
{
	bool map[16 * 16];
	unsigned int t, q;

	/* 4 threads on 1 queue: every thread fetches on queue 0 */
	ublk_batch_map(4, 1, map);
	for (t = 0; t < 4; t++)
		CHECK(map[t]);
	/* 1 thread on 4 queues: it serves all four */
	ublk_batch_map(1, 4, map);
	CHECK_EQ(count_row(map, 0, 4), 4);
	/* 2 threads, 4 queues: T0 = Q0, Q2; T1 = Q1, Q3 */
	ublk_batch_map(2, 4, map);
	CHECK(map[0 * 4 + 0] && map[0 * 4 + 2] && !map[0 * 4 + 1]);
	CHECK(map[1 * 4 + 1] && map[1 * 4 + 3] && !map[1 * 4 + 0]);
	/* every queue covered, every thread busy, for all small shapes */
	for (t = 1; t <= 16; t++) {
		for (q = 1; q <= 16; q++) {
			unsigned int i, j;

			ublk_batch_map(t, q, map);
			for (i = 0; i < t; i++)
				CHECK(count_row(map, i, q) > 0);
			for (j = 0; j < q; j++) {
				unsigned int n = 0;

				for (i = 0; i < t; i++)
					n += map[i * q + j];
				CHECK(n > 0);
			}
		}
	}

	/* per-I/O: whole queues unless shared, then tags dealt in turn */
	CHECK_EQ(ublk_io_thread(2, 128, false, 3, 100), 1);
	CHECK_EQ(ublk_io_thread(4, 128, true, 0, 5), 1);
	CHECK_EQ(ublk_io_thread(4, 128, true, 0, 8), 0);
	CHECK_EQ(ublk_io_thread(1, 128, false, 3, 7), 0);
	CHECK_EQ(ublk_io_thread(2, 128, true, 1, 0), 0);
	CHECK_EQ(ublk_io_thread(2, 3, true, 1, 0), 1);
	io_thread_spread();
}

/* ------------------------------------------------------ server hooks */

#define T_DEPTH 8

struct hooks_env {
	struct ublk_queue qs[2];
	struct ublk_io ios[2][T_DEPTH];
	char bufs[2][T_DEPTH][16];
	struct io_uring ring;
};

/* The i-th SQE queued on ring since it was set up (never submitted). */
static struct io_uring_sqe *queued_sqe(struct io_uring *ring, unsigned int i)
{
	return &ring->sq.sqes[(ring->sq.sqe_head + i) & ring->sq.ring_mask];
}

static const struct ublk_batch_io *batch_cmd_of(const struct io_uring_sqe *sqe)
{
	return (const struct ublk_batch_io *)sqe->cmd;
}

/* Queues of T_DEPTH with copy buffers (auto_zc: none, auto-zc mode). */
static void env_init(struct hooks_env *env, bool auto_zc)
{
	unsigned int q, tag;

	memset(env, 0, sizeof(*env));
	for (q = 0; q < 2; q++) {
		env->qs[q].q_id = (uint16_t)q;
		env->qs[q].depth = T_DEPTH;
		env->qs[q].ios = env->ios[q];
		env->qs[q].auto_zc = auto_zc;
		for (tag = 0; tag < T_DEPTH && !auto_zc; tag++)
			env->ios[q][tag].buf = env->bufs[q][tag];
	}
}

static struct io_uring_cqe made_cqe(uint64_t user_data, int res,
				    unsigned int flags)
{
	struct io_uring_cqe cqe = {
		.user_data = user_data,
		.res = res,
		.flags = flags,
	};

	return cqe;
}

/* Returns false (after saying why) where the host cannot run the hooks. */
static bool hooks_setup(struct hooks_env *env, struct ublk_batch_dev *d,
			unsigned int idx, struct ublk_batch_thread **bt)
{
	int ret = io_uring_queue_init(64, &env->ring, 0);

	if (ret) {
		printf("test_batch: io_uring: %s: server hooks not tested\n",
		       strerror(-ret));
		return false;
	}
	ret = ublk_batch_thread_init(d, idx, &env->ring, bt);
	if (ret == -EINVAL || ret == -ENOSYS) {
		printf("test_batch: no IOU_PBUF_RING_INC: server hooks not tested\n");
		io_uring_queue_exit(&env->ring);
		ublk_batch_thread_free(*bt);
		return false;
	}
	CHECK_EQ(ret, 0);
	return !ret;
}

static void hooks_teardown(struct hooks_env *env, struct ublk_batch_thread *bt)
{
	io_uring_queue_exit(&env->ring);
	ublk_batch_thread_free(bt);
}

/* Copy mode, one thread on two queues: fetch, complete, commit, resend. */
static void test_hooks_copy(void)
{
	static struct hooks_env env;
	struct ublk_batch_thread *bt;
	struct ublk_batch_dev *d;
	const struct ublk_batch_io *cmd;
	struct ublk_batch_event ev;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct ublk_batch_elem out;
	uint64_t fetch_ud[4], commit_ud, q1_ud;
	uint64_t wire0;
	unsigned int i, n;

	env_init(&env, false);
	CHECK_EQ(ublk_batch_dev_create(env.qs, 2, T_DEPTH, 1, 7,
				       UBLK_F_BATCH_IO, false, false, &d),
		 0);
	CHECK(ublk_batch_serves(d, 0, 0) && ublk_batch_serves(d, 0, 1));
	CHECK_EQ(d->flags, UBLK_BATCH_F_HAS_BUF_ADDR);
	if (!hooks_setup(&env, d, 0, &bt)) {
		ublk_batch_dev_destroy(d);
		return;
	}
	CHECK_EQ(bt->nr_bqs, 2);
	CHECK(bt->bqs[0].prep && bt->bqs[1].prep);
	/* lists of depth elements of the real element size */
	CHECK_EQ(bt->bqs[0].commit[0].cap, T_DEPTH);
	CHECK_EQ(bt->bqs[0].commit[0].elem_bytes, 16);

	/*
	 * PREP: every tag of queue 0, built in the collecting list. The ring
	 * has no /dev/ublkcN, so it fails; the list is empty again after.
	 */
	CHECK(ublk_batch_prep(bt) < 0);
	sqe = &env.ring.sq.sqes[0];
	cmd = batch_cmd_of(sqe);
	CHECK_EQ(sqe->cmd_op, UBLK_U_IO_PREP_IO_CMDS);
	CHECK_EQ(cmd->q_id, 0);
	CHECK_EQ(cmd->nr_elem, T_DEPTH);
	CHECK_EQ(cmd->elem_bytes, 16);
	CHECK_EQ(cmd->flags, UBLK_BATCH_F_HAS_BUF_ADDR);
	CHECK_EQ(sqe->len, T_DEPTH * 16);
	CHECK(sqe->addr == (uint64_t)(uintptr_t)bt->bqs[0].commit[0].wire);
	for (i = 0; i < T_DEPTH; i++) {
		ublk_batch_decode(bt->bqs[0].commit[0].wire, cmd->flags, i,
				  &out);
		CHECK_EQ(out.tag, i);
		CHECK_EQ(out.result, 0);
		CHECK(out.buf_addr == (uint64_t)(uintptr_t)env.bufs[0][i]);
	}
	CHECK_EQ(bt->bqs[0].commit[0].nr, 0);
	CHECK_EQ(io_uring_cq_ready(&env.ring), 0);
	CHECK_EQ(io_uring_sq_ready(&env.ring), 0);

	/* arm: every fetch multishot on its own buffer group */
	ublk_batch_arm(bt);
	CHECK_EQ(io_uring_sq_ready(&env.ring), 2 * UBLK_BATCH_NR_FETCH);
	CHECK_EQ(ublk_batch_inflight(bt), 2 * UBLK_BATCH_NR_FETCH);
	for (i = 0; i < 2 * UBLK_BATCH_NR_FETCH; i++) {
		sqe = queued_sqe(&env.ring, i);
		cmd = batch_cmd_of(sqe);
		CHECK_EQ(sqe->opcode, IORING_OP_URING_CMD);
		CHECK_EQ(sqe->cmd_op, UBLK_U_IO_FETCH_IO_CMDS);
		CHECK(sqe->flags & IOSQE_FIXED_FILE);
		CHECK(sqe->flags & IOSQE_BUFFER_SELECT);
		CHECK(sqe->uring_cmd_flags & IORING_URING_CMD_MULTISHOT);
		CHECK_EQ(sqe->buf_group, i);
		CHECK_EQ(cmd->q_id, i / UBLK_BATCH_NR_FETCH);
		CHECK_EQ(cmd->elem_bytes, sizeof(uint16_t));
		CHECK_EQ(cmd->flags, 0);
		CHECK_EQ(cmd->nr_elem, T_DEPTH);
		CHECK(sqe->user_data & UBLK_BATCH_USER_DATA);
		fetch_ud[i] = sqe->user_data;
	}

	/* a fetch CQE: its tags, a bad one left out */
	bt->fetch[0].fetch.buf[0] = 3;
	bt->fetch[0].fetch.buf[1] = T_DEPTH;
	bt->fetch[0].fetch.buf[2] = 5;
	cqe = made_cqe(fetch_ud[0], 6, IORING_CQE_F_MORE);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK(ev.q == &env.qs[0]);
	CHECK_EQ(ev.nr_tags, 2);
	CHECK_EQ(ev.tags[0], 3);
	CHECK_EQ(ev.tags[1], 5);
	CHECK(!ev.stop && !ev.err);
	CHECK_EQ(io_uring_sq_ready(&env.ring), 4);
	CHECK_EQ(ublk_batch_inflight(bt), 4);

	/* completions: one COMMIT per queue, encoded where it is sent */
	ublk_batch_complete(bt, &env.qs[0], 3, 4096);
	ublk_batch_complete(bt, &env.qs[0], 5, -EIO);
	ublk_batch_complete(bt, &env.qs[1], 2, 512);
	CHECK_EQ(ublk_batch_flush(bt), 2);
	CHECK_EQ(io_uring_sq_ready(&env.ring), 6);
	CHECK_EQ(ublk_batch_inflight(bt), 6);
	sqe = queued_sqe(&env.ring, 4);
	cmd = batch_cmd_of(sqe);
	CHECK_EQ(sqe->cmd_op, UBLK_U_IO_COMMIT_IO_CMDS);
	CHECK_EQ(cmd->q_id, 0);
	CHECK_EQ(cmd->nr_elem, 2);
	CHECK_EQ(cmd->elem_bytes, 16);
	CHECK_EQ(cmd->flags, UBLK_BATCH_F_HAS_BUF_ADDR);
	CHECK_EQ(sqe->len, 32);
	CHECK(sqe->addr == (uint64_t)(uintptr_t)bt->bqs[0].commit[0].wire);
	ublk_batch_decode((void *)(uintptr_t)sqe->addr, cmd->flags, 0, &out);
	CHECK_EQ(out.tag, 3);
	CHECK_EQ(out.result, 4096);
	CHECK(out.buf_addr == (uint64_t)(uintptr_t)env.bufs[0][3]);
	ublk_batch_decode((void *)(uintptr_t)sqe->addr, cmd->flags, 1, &out);
	CHECK_EQ(out.tag, 5);
	CHECK_EQ(out.result, -EIO);
	commit_ud = sqe->user_data;
	wire0 = sqe->addr;
	sqe = queued_sqe(&env.ring, 5);
	CHECK_EQ(batch_cmd_of(sqe)->q_id, 1);
	CHECK_EQ(batch_cmd_of(sqe)->nr_elem, 1);
	q1_ud = sqe->user_data;
	CHECK_EQ(ublk_batch_flush(bt), 0);

	/* a completion while that commit flies goes into another list */
	ublk_batch_complete(bt, &env.qs[0], 6, 0);
	CHECK_EQ(ublk_batch_flush(bt), 1);
	sqe = queued_sqe(&env.ring, 6);
	CHECK(sqe->addr != wire0);
	CHECK_EQ(batch_cmd_of(sqe)->nr_elem, 1);

	/* partial commit: the rest resent from the same memory */
	cqe = made_cqe(commit_ud, 16, 0);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK_EQ(ev.nr_tags, 0);
	CHECK_EQ(io_uring_sq_ready(&env.ring), 8);
	sqe = queued_sqe(&env.ring, 7);
	CHECK_EQ(sqe->cmd_op, UBLK_U_IO_COMMIT_IO_CMDS);
	CHECK(sqe->addr == wire0 + 16);
	CHECK_EQ(sqe->len, 16);
	CHECK_EQ(batch_cmd_of(sqe)->nr_elem, 1);
	CHECK_EQ(sqe->user_data, commit_ud);
	CHECK_EQ(ublk_batch_flush(bt), 1); /* the resend counts */
	cqe = made_cqe(commit_ud, 16, 0);
	n = ublk_batch_inflight(bt);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK_EQ(ublk_batch_inflight(bt), n - 1);
	CHECK(!bt->bqs[0].commit[0].busy);

	/* every other list of queue 1 in flight: the open one waits */
	ublk_batch_complete(bt, &env.qs[1], 0, 0);
	CHECK_EQ(ublk_batch_flush(bt), 1);
	ublk_batch_complete(bt, &env.qs[1], 1, 0);
	CHECK_EQ(ublk_batch_flush(bt), 1);
	ublk_batch_complete(bt, &env.qs[1], 4, 0);
	CHECK_EQ(ublk_batch_flush(bt), 0);
	n = io_uring_sq_ready(&env.ring);
	cqe = made_cqe(q1_ud, 16, 0);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK_EQ(ublk_batch_flush(bt), 1);
	sqe = queued_sqe(&env.ring, n);
	CHECK_EQ(batch_cmd_of(sqe)->q_id, 1);
	CHECK_EQ(batch_cmd_of(sqe)->nr_elem, 1);
	ublk_batch_decode((void *)(uintptr_t)sqe->addr,
			  UBLK_BATCH_F_HAS_BUF_ADDR, 0, &out);
	CHECK_EQ(out.tag, 4);

	/* a full buffer: provided again from its start, armed again */
	n = io_uring_sq_ready(&env.ring);
	cqe = made_cqe(fetch_ud[0], -ENOBUFS, 0);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK_EQ(io_uring_sq_ready(&env.ring), n + 1);
	CHECK_EQ(queued_sqe(&env.ring, n)->buf_group, 0);
	CHECK_EQ(bt->fetch[0].fetch.off, 0);
	CHECK(!ev.stop);
	/* ended with room left: armed on what is left */
	bt->fetch[1].fetch.buf[0] = 1;
	cqe = made_cqe(fetch_ud[1], 2, IORING_CQE_F_BUF_MORE);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK_EQ(ev.nr_tags, 1);
	CHECK_EQ(bt->fetch[1].fetch.off, 2);
	CHECK_EQ(io_uring_sq_ready(&env.ring), n + 2);
	/* a stopping thread arms nothing */
	n = ublk_batch_inflight(bt);
	cqe = made_cqe(fetch_ud[2], 0, 0);
	ublk_batch_cqe(bt, &cqe, true, &ev);
	CHECK_EQ(ublk_batch_inflight(bt), n - 1);
	CHECK(!bt->fetch[2].armed);
	/* device going away: stop, no error */
	cqe = made_cqe(fetch_ud[3], -ENODEV, 0);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK(ev.stop && !ev.err);
	/* any other error fails the thread */
	cqe = made_cqe(fetch_ud[0], -EINVAL, 0);
	ublk_batch_cqe(bt, &cqe, false, &ev);
	CHECK(ev.stop);
	CHECK_EQ(ev.err, -EINVAL);

	hooks_teardown(&env, bt);
	ublk_batch_dev_destroy(d);
}

/*
 * Auto-zc, two threads: 8-byte elements carrying the queue's buffer index
 * (or the forced miss); with one queue both threads serve it and the first
 * prepares it, with two each serves one.
 */
static void test_hooks_auto_zc(void)
{
	static const struct {
		unsigned int nr_queues;
		bool miss;
	} cases[] = { { 1, false }, { 1, true }, { 2, false } };
	static struct hooks_env env;
	struct ublk_batch_thread *bt;
	struct ublk_batch_dev *d;
	struct ublk_batch_elem out;
	struct io_uring_sqe *sqe;
	unsigned int c, idx, q;

	for (c = 0; c < ARRAY_SIZE(cases); c++) {
		env_init(&env, true);
		CHECK_EQ(ublk_batch_dev_create(
				 env.qs, cases[c].nr_queues, T_DEPTH, 2, 7,
				 UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG, false,
				 cases[c].miss, &d),
			 0);
		CHECK_EQ(d->flags, 0);
		for (idx = 0; idx < 2; idx++) {
			/* one queue: both on queue 0; two: thread i on i */
			q = cases[c].nr_queues == 1 ? 0 : idx;
			CHECK(ublk_batch_serves(d, idx, q));
			if (!hooks_setup(&env, d, idx, &bt))
				break;
			CHECK_EQ(bt->nr_bqs, 1);
			CHECK(bt->bqs[0].q == &env.qs[q]);
			CHECK_EQ(bt->bqs[0].prep,
				 cases[c].nr_queues == 2 || idx == 0);
			CHECK_EQ(bt->bqs[0].commit[0].elem_bytes, 8);
			ublk_batch_complete(bt, &env.qs[q], 2, 4096);
			CHECK_EQ(ublk_batch_flush(bt), 1);
			sqe = queued_sqe(&env.ring, 0);
			CHECK_EQ(batch_cmd_of(sqe)->elem_bytes, 8);
			CHECK_EQ(batch_cmd_of(sqe)->q_id, q);
			CHECK_EQ(batch_cmd_of(sqe)->flags, 0);
			CHECK_EQ(sqe->len, 8);
			if (sqe->addr) {
				ublk_batch_decode((void *)(uintptr_t)sqe->addr,
						  0, 0, &out);
				CHECK_EQ(out.tag, 2);
				CHECK_EQ(out.result, 4096);
				CHECK_EQ(out.buf_index,
					 cases[c].miss ? UINT16_MAX :
							 q * T_DEPTH + 2);
			}
			hooks_teardown(&env, bt);
		}
		ublk_batch_dev_destroy(d);
	}
}

static void test_hooks(void)
{
	test_hooks_copy();
	test_hooks_auto_zc();
}

int main(void)
{
	test_elem_bytes();
	test_cmd_flags();
	test_encode();
	test_commit();
	test_fetch();
	test_map();
	test_hooks();
	return unit_done("test_batch");
}
