/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stripe target's layout (RAID0), as pure functions: chunk c of the
 * device (chunk bytes each, a power of 2) is chunk c / nr of member
 * c % nr. cli/targets/stripe.c maps requests with them; tests/unit
 * checks them.
 */
#ifndef UBLKCTL_STRIPE_H
#define UBLKCTL_STRIPE_H

#include <stdint.h>

#define UBLK_STRIPE_MAX_MEMBERS 4

struct ublk_stripe_geo {
	unsigned int nr; /* members, 1..UBLK_STRIPE_MAX_MEMBERS */
	unsigned int shift; /* log2 of the chunk size in bytes */
};

/* The part of a request that lies in one chunk. */
struct ublk_stripe_piece {
	unsigned int member;
	uint64_t off; /* byte offset in the member */
	uint32_t len; /* bytes, > 0 */
	uint32_t buf_off; /* byte offset in the request's buffer */
};

/* How many chunks the len > 0 bytes at device offset off touch. */
unsigned int ublk_stripe_nr_pieces(const struct ublk_stripe_geo *g,
				   uint64_t off, uint32_t len);

/*
 * Piece i (< ublk_stripe_nr_pieces()) of the len bytes at device offset
 * off: the pieces in order of device offset, each ending at a chunk
 * boundary but the last.
 */
void ublk_stripe_piece(const struct ublk_stripe_geo *g, uint64_t off,
		       uint32_t len, unsigned int i,
		       struct ublk_stripe_piece *p);

/*
 * Bytes of device offsets [0, x) that lie on member m: member m's part of
 * the device range [a, b) is the one member range [pos(a), pos(b)), which
 * is how DISCARD and WRITE_ZEROES reach each member in one operation.
 */
uint64_t ublk_stripe_member_pos(const struct ublk_stripe_geo *g, unsigned int m,
				uint64_t x);

#endif /* UBLKCTL_STRIPE_H */
