// SPDX-License-Identifier: GPL-2.0
/*
 * The stripe layout: a request split into per-chunk pieces (member,
 * member offset, length, buffer offset), and each member's part of a
 * range (DISCARD, WRITE_ZEROES), checked against a byte-by-byte model.
 */
#include <stdbool.h>
#include <stdint.h>

#include "ublkctl/stripe.h"
#include "unit.h"

#define K 1024ULL

/* Where device byte x lives: the model the functions must agree with. */
static void model(const struct ublk_stripe_geo *g, uint64_t x,
		  unsigned int *member, uint64_t *moff)
{
	uint64_t chunk = 1ULL << g->shift, c = x / chunk;

	*member = (unsigned int)(c % g->nr);
	*moff = c / g->nr * chunk + x % chunk;
}

/*
 * The pieces of [off, off + len) cover it in order, contiguous in the
 * buffer, each inside one chunk and mapped as the model maps its bytes.
 */
static bool pieces_agree(const struct ublk_stripe_geo *g, uint64_t off,
			 uint32_t len)
{
	unsigned int n = ublk_stripe_nr_pieces(g, off, len), i, m;
	struct ublk_stripe_piece p;
	uint64_t done = 0, moff, b;

	for (i = 0; i < n; i++) {
		ublk_stripe_piece(g, off, len, i, &p);
		if (p.buf_off != done || !p.len ||
		    ((off + done) >> g->shift) !=
			    ((off + done + p.len - 1) >> g->shift))
			return false;
		for (b = 0; b < p.len; b += 512) {
			model(g, off + done + b, &m, &moff);
			if (m != p.member || moff != p.off + b)
				return false;
		}
		done += p.len;
	}
	return done == len;
}

/* member_pos over [a, b) is exactly the member's bytes, by the model. */
static bool ranges_agree(const struct ublk_stripe_geo *g, uint64_t a,
			 uint64_t b)
{
	uint64_t lo[UBLK_STRIPE_MAX_MEMBERS], hi[UBLK_STRIPE_MAX_MEMBERS];
	uint64_t x, moff, total = 0;
	unsigned int m, k;

	for (k = 0; k < g->nr; k++) {
		lo[k] = ublk_stripe_member_pos(g, k, a);
		hi[k] = ublk_stripe_member_pos(g, k, b);
		total += hi[k] - lo[k];
	}
	for (x = a; x < b; x += 512) {
		model(g, x, &m, &moff);
		if (moff < lo[m] || moff >= hi[m])
			return false;
	}
	return total == b - a;
}

int main(void)
{
	struct ublk_stripe_geo g2 = { .nr = 2, .shift = 16 }; /* 64K */
	struct ublk_stripe_geo g3 = { .nr = 3, .shift = 12 }; /* 4K */
	struct ublk_stripe_geo g4 = { .nr = 4, .shift = 16 };
	struct ublk_stripe_piece p;
	uint64_t a, l;

	/* Inside one chunk: one piece, on member (chunk % n). */
	CHECK_EQ(ublk_stripe_nr_pieces(&g2, 0, 4096), 1);
	ublk_stripe_piece(&g2, 64 * K + 512, 4096, 0, &p);
	CHECK_EQ(p.member, 1);
	CHECK_EQ(p.off, 512);
	CHECK_EQ(p.len, 4096);
	CHECK_EQ(p.buf_off, 0);
	CHECK_EQ(ublk_stripe_nr_pieces(&g2, 0, 0), 0);

	/* A request spanning 3 chunks: tail of c1, all of c2, head of c3. */
	a = 64 * K + 60 * K;
	l = 4 * K + 64 * K + 8 * K;
	CHECK_EQ(ublk_stripe_nr_pieces(&g2, a, (uint32_t)l), 3);
	ublk_stripe_piece(&g2, a, (uint32_t)l, 0, &p);
	CHECK(p.member == 1 && p.off == 60 * K && p.len == 4 * K &&
	      p.buf_off == 0);
	ublk_stripe_piece(&g2, a, (uint32_t)l, 1, &p);
	CHECK(p.member == 0 && p.off == 64 * K && p.len == 64 * K &&
	      p.buf_off == 4 * K);
	ublk_stripe_piece(&g2, a, (uint32_t)l, 2, &p);
	CHECK(p.member == 1 && p.off == 64 * K && p.len == 8 * K &&
	      p.buf_off == 68 * K);

	/* The last chunk of a 4-member 1M stripe: member 3, its chunk 3. */
	ublk_stripe_piece(&g4, 4 * 256 * K - 4 * K, 4096, 0, &p);
	CHECK(p.member == 3 && p.off == 256 * K - 4 * K && p.len == 4096);
	/* 4 members: chunk 5 is member 1's second chunk. */
	ublk_stripe_piece(&g4, 5 * 64 * K, 64 * K, 0, &p);
	CHECK(p.member == 1 && p.off == 64 * K && p.len == 64 * K);
	/* A full stripe of 4 is 4 pieces, one per member. */
	CHECK_EQ(ublk_stripe_nr_pieces(&g4, 0, 256 * K), 4);
	/* 15 chunks starting mid-chunk touch 16: the cap the target uses. */
	CHECK_EQ(ublk_stripe_nr_pieces(&g3, 512, 15 * 4096), 16);
	CHECK_EQ(ublk_stripe_nr_pieces(&g3, 0, 15 * 4096), 15);

	/* Member ranges: a discard of chunks 1..4 (of 3 members, 4K). */
	CHECK_EQ(ublk_stripe_member_pos(&g3, 0, 4 * K), 4 * K);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 1, 4 * K), 0);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 1, 20 * K), 8 * K);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 2, 20 * K), 4 * K);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 0, 20 * K), 8 * K);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 2, 6 * K), 0);
	CHECK_EQ(ublk_stripe_member_pos(&g3, 2, 10 * K), 2 * K);

	/* Against the model, odd starts and lengths across each layout. */
	for (a = 0; a < 300 * K; a += 7 * 512)
		for (l = 512; l <= 300 * K; l += 13 * 512) {
			CHECK(pieces_agree(&g3, a, (uint32_t)l));
			CHECK(ranges_agree(&g3, a, a + l));
		}
	for (a = 0; a < 1024 * K; a += 61 * 512)
		for (l = 512; l <= 1024 * K; l += 127 * 512) {
			CHECK(pieces_agree(&g2, a, (uint32_t)l));
			CHECK(pieces_agree(&g4, a, (uint32_t)l));
			CHECK(ranges_agree(&g4, a, a + l));
		}
	return unit_done("test_stripe");
}
