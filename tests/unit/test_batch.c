// SPDX-License-Identifier: GPL-2.0
/* Batch I/O buffer logic: encoding, gathering, partial commits, fetch offsets. */
#include <errno.h>
#include <string.h>

#include "ublkctl/batch.h"
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
	struct ublk_batch_elem in[3] = {
		{ 1, 11, 4096, 0x1000, 0x77 },
		{ 2, 12, -EIO, 0x2000, 0x88 },
		{ 65535, 65535, 0, UINT64_MAX, 1 },
	};
	unsigned char wire[3 * 24 + 8];
	size_t f;

	for (f = 0; f < ARRAY_SIZE(flag_sets); f++) {
		uint16_t fl = flag_sets[f];
		unsigned int bytes = ublk_batch_elem_bytes(fl), i;

		memset(wire, 0xaa, sizeof(wire));
		CHECK_EQ(ublk_batch_encode(wire, 3, fl, in, 3), 3);
		/* nothing written past the last element */
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
	ublk_batch_encode(wire, 1,
			  UBLK_BATCH_F_HAS_BUF_ADDR | UBLK_BATCH_F_HAS_ZONE_LBA,
			  in, 1);
	{
		uint64_t a, z;

		memcpy(&a, wire + 8, 8);
		memcpy(&z, wire + 16, 8);
		CHECK_EQ(a, 0x1000);
		CHECK_EQ(z, 0x77);
	}
	/* capacity limits the count */
	CHECK_EQ(ublk_batch_encode(wire, 2, 0, in, 3), 2);
}

static void test_gather_and_commit(void)
{
	struct ublk_batch_elem g_elems[4], e = { 0 };
	struct ublk_batch_gather g = { g_elems, 0, 4 };
	unsigned char wire[2 * 16];
	struct ublk_batch_commit c = {
		.wire = wire,
		.cap = 2,
		.flags = UBLK_BATCH_F_HAS_BUF_ADDR,
	};
	unsigned int off, nr, dropped = 0, i;

	for (i = 0; i < 4; i++) {
		e.tag = (uint16_t)i;
		e.result = (int32_t)(i * 512);
		CHECK(ublk_batch_gather_add(&g, &e));
	}
	CHECK(!ublk_batch_gather_add(&g, &e)); /* full: depth bounds it */
	CHECK_EQ(g.nr, 4);

	/* a commit buffer holds 2: the other 2 stay gathered, in order */
	CHECK_EQ(ublk_batch_commit_fill(&c, &g), 2);
	CHECK(c.busy);
	CHECK_EQ(c.elem_bytes, 16);
	CHECK_EQ(g.nr, 2);
	CHECK_EQ(g.elems[0].tag, 2);
	CHECK_EQ(g.elems[1].tag, 3);
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 0);
	CHECK_EQ(nr, 2);

	/* partial commit: 16 bytes = one element handled, resend the rest */
	CHECK_EQ(ublk_batch_commit_complete(&c, 16, &dropped),
		 UBLK_COMMIT_RESEND);
	CHECK_EQ(dropped, 0);
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 16);
	CHECK_EQ(nr, 1);
	{
		struct ublk_batch_elem out;

		ublk_batch_decode((char *)wire + off, c.flags, 0, &out);
		CHECK_EQ(out.tag, 1);
	}
	CHECK_EQ(ublk_batch_commit_complete(&c, 16, &dropped),
		 UBLK_COMMIT_DONE);
	CHECK(!c.busy);

	/* error with nothing handled: drop the first, resend the rest */
	CHECK_EQ(ublk_batch_commit_fill(&c, &g), 2);
	CHECK_EQ(ublk_batch_commit_complete(&c, -EBUSY, &dropped),
		 UBLK_COMMIT_RESEND);
	CHECK_EQ(dropped, 1);
	ublk_batch_commit_chunk(&c, &off, &nr);
	CHECK_EQ(off, 16);
	CHECK_EQ(nr, 1);
	CHECK_EQ(ublk_batch_commit_complete(&c, 16, &dropped),
		 UBLK_COMMIT_DONE);

	/* -ENODEV: the device is going away, drop everything */
	e.tag = 9;
	ublk_batch_gather_add(&g, &e);
	ublk_batch_gather_add(&g, &e);
	CHECK_EQ(ublk_batch_commit_fill(&c, &g), 2);
	dropped = 0;
	CHECK_EQ(ublk_batch_commit_complete(&c, -ENODEV, &dropped),
		 UBLK_COMMIT_DONE);
	CHECK_EQ(dropped, 2);

	/* a zero-byte success cannot loop forever */
	ublk_batch_gather_add(&g, &e);
	CHECK_EQ(ublk_batch_commit_fill(&c, &g), 1);
	dropped = 0;
	CHECK_EQ(ublk_batch_commit_complete(&c, 0, &dropped), UBLK_COMMIT_DONE);
	CHECK_EQ(dropped, 1);

	/* empty gather: nothing to send, buffer stays free */
	CHECK_EQ(ublk_batch_commit_fill(&c, &g), 0);
	CHECK(!c.busy);
}

static void test_fetch(void)
{
	uint16_t buf[8] = { 5, 6, 7, 1, 2, 3, 4, 0 };
	struct ublk_batch_fetch f = { buf, sizeof(buf), 0 };
	const uint16_t *tags;

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
	ublk_batch_fetch_reset(&f);
	CHECK_EQ(f.off, 0);

	CHECK(ublk_batch_fetch_rearm(-ENOBUFS, true));
	CHECK(ublk_batch_fetch_rearm(-ENOBUFS, false));
	CHECK(ublk_batch_fetch_rearm(4, false));
	CHECK(!ublk_batch_fetch_rearm(4, true));
}

static unsigned int count_row(const bool *map, unsigned int t, unsigned int nq)
{
	unsigned int q, n = 0;

	for (q = 0; q < nq; q++)
		n += map[t * nq + q];
	return n;
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

	/* per-I/O: whole queues when threads <= queues, else spread tags */
	CHECK_EQ(ublk_io_thread(2, 4, 128, 3, 100), 1);
	CHECK_EQ(ublk_io_thread(4, 1, 128, 0, 5), 1);
	CHECK_EQ(ublk_io_thread(4, 1, 128, 0, 8), 0);
	CHECK_EQ(ublk_io_thread(1, 4, 128, 3, 7), 0);
}

int main(void)
{
	test_elem_bytes();
	test_cmd_flags();
	test_encode();
	test_gather_and_commit();
	test_fetch();
	test_map();
	return unit_done("test_batch");
}
