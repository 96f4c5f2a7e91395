// SPDX-License-Identifier: GPL-2.0
/* Batch I/O buffers: element encoding, commit gathering/resend, fetch offsets. */
#include <errno.h>
#include <string.h>

#include "ublkctl/batch.h"

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
	if (dev_flags & UBLK_F_AUTO_BUF_REG)
		return auto_zc_fallback ? UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK :
					  0;
	if (dev_flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY))
		return 0;
	return UBLK_BATCH_F_HAS_BUF_ADDR;
}

unsigned int ublk_batch_encode(void *wire, unsigned int cap, uint16_t flags,
			       const struct ublk_batch_elem *elems,
			       unsigned int n)
{
	unsigned int bytes = ublk_batch_elem_bytes(flags);
	unsigned char *p = wire;
	unsigned int i;

	if (n > cap)
		n = cap;
	for (i = 0; i < n; i++, p += bytes) {
		struct ublk_elem_header h = {
			.tag = elems[i].tag,
			.buf_index = elems[i].buf_index,
			.result = elems[i].result,
		};
		unsigned char *extra = p + sizeof(h);

		memcpy(p, &h, sizeof(h));
		if (flags & UBLK_BATCH_F_HAS_BUF_ADDR) {
			memcpy(extra, &elems[i].buf_addr, sizeof(uint64_t));
			extra += sizeof(uint64_t);
		}
		if (flags & UBLK_BATCH_F_HAS_ZONE_LBA)
			memcpy(extra, &elems[i].zone_lba, sizeof(uint64_t));
	}
	return n;
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

bool ublk_batch_gather_add(struct ublk_batch_gather *g,
			   const struct ublk_batch_elem *e)
{
	if (g->nr >= g->cap)
		return false;
	g->elems[g->nr++] = *e;
	return true;
}

unsigned int ublk_batch_commit_fill(struct ublk_batch_commit *c,
				    struct ublk_batch_gather *g)
{
	unsigned int n;

	n = ublk_batch_encode(c->wire, c->cap, c->flags, g->elems, g->nr);
	c->elem_bytes = (uint8_t)ublk_batch_elem_bytes(c->flags);
	c->nr = n;
	c->sent = 0;
	c->busy = n > 0;
	if (n < g->nr)
		memmove(g->elems, g->elems + n,
			(g->nr - n) * sizeof(*g->elems));
	g->nr -= n;
	return n;
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
				   const uint16_t **tags)
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

bool ublk_batch_fetch_rearm(int res, bool more)
{
	return res == -ENOBUFS || !more;
}

void ublk_batch_fetch_reset(struct ublk_batch_fetch *f)
{
	f->off = 0;
}

void ublk_batch_map(unsigned int nthreads, unsigned int nqueues, bool *map)
{
	unsigned int i, n = nthreads > nqueues ? nthreads : nqueues;

	memset(map, 0, (size_t)nthreads * nqueues * sizeof(*map));
	for (i = 0; i < n; i++)
		map[(i % nthreads) * nqueues + i % nqueues] = true;
}

unsigned int ublk_io_thread(unsigned int nthreads, unsigned int nqueues,
			    unsigned int depth, unsigned int q,
			    unsigned int tag)
{
	if (nthreads <= nqueues)
		return q % nthreads;
	return (q * depth + tag) % nthreads;
}
