/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Batch I/O (UBLK_F_BATCH_IO) buffer logic with no io_uring dependency, so
 * tests/unit/test_batch.c can check it: element encoding for each flag set,
 * commit gathering and partial-commit resend, fetch-buffer offsets, and the
 * thread/queue map. cli/server/server.c drives it. Nothing here allocates
 * or locks; every function runs in the calling server thread.
 */
#ifndef UBLKCTL_BATCH_H
#define UBLKCTL_BATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

/* One element of PREP/COMMIT_IO_CMDS, unpacked. */
struct ublk_batch_elem {
	uint16_t tag;
	uint16_t buf_index; /* auto-zc index (0 otherwise) */
	int32_t result; /* COMMIT only */
	uint64_t buf_addr; /* with UBLK_BATCH_F_HAS_BUF_ADDR */
	uint64_t zone_lba; /* with UBLK_BATCH_F_HAS_ZONE_LBA */
};

/* Bytes of one wire element for these UBLK_BATCH_F_* flags. */
unsigned int ublk_batch_elem_bytes(uint16_t flags);

/*
 * The UBLK_BATCH_F_* flags PREP and COMMIT carry on a device with the
 * granted dev_flags (UBLK_F_*): HAS_BUF_ADDR only when the kernel copies
 * into a server buffer (no user copy, zero copy or auto-zc); FALLBACK only
 * with auto-zc and fallback requested.
 */
uint16_t ublk_batch_cmd_flags(uint64_t dev_flags, bool auto_zc_fallback);

/*
 * Encode n elements into wire (room for cap elements) in the layout flags
 * ask for. Returns the number written (min(n, cap)).
 */
unsigned int ublk_batch_encode(void *wire, unsigned int cap, uint16_t flags,
			       const struct ublk_batch_elem *elems,
			       unsigned int n);
/* Decode element i of a wire buffer (for tests and debugging). */
void ublk_batch_decode(const void *wire, uint16_t flags, unsigned int i,
		       struct ublk_batch_elem *out);

/*
 * Commit gathering. Each server thread keeps, per queue it serves, a list
 * of completed I/Os (struct ublk_batch_gather, room for queue depth
 * elements: an I/O completes at most once while the server owns it) and a
 * few wire buffers. At the end of a reaping pass the list goes into one
 * free wire buffer as one COMMIT_IO_CMDS.
 */
struct ublk_batch_gather {
	struct ublk_batch_elem *elems;
	unsigned int nr;
	unsigned int cap;
};

/* Append one completion; false (nothing done) when the list is full. */
bool ublk_batch_gather_add(struct ublk_batch_gather *g,
			   const struct ublk_batch_elem *e);

/* One COMMIT_IO_CMDS wire buffer and its progress. */
struct ublk_batch_commit {
	void *wire;
	unsigned int cap; /* elements */
	uint16_t flags; /* UBLK_BATCH_F_* */
	uint8_t elem_bytes;
	unsigned int nr; /* elements encoded */
	unsigned int sent; /* elements the kernel has handled or dropped */
	bool busy; /* a command on it is in flight */
};

/*
 * Move the gathered list into a free commit buffer: encodes min(g->nr,
 * c->cap) elements, keeps the rest in g (in order), marks c busy.
 * Returns the number moved.
 */
unsigned int ublk_batch_commit_fill(struct ublk_batch_commit *c,
				    struct ublk_batch_gather *g);

/* The chunk still to send: byte offset into wire and element count. */
void ublk_batch_commit_chunk(const struct ublk_batch_commit *c,
			     unsigned int *off, unsigned int *nr);

enum {
	UBLK_COMMIT_DONE = 0, /* buffer free again */
	UBLK_COMMIT_RESEND = 1, /* send ublk_batch_commit_chunk() again */
};

/*
 * Account a COMMIT CQE. res >= 0 is the number of element bytes the
 * kernel handled (a partial commit: resend the rest). res < 0 means it
 * handled none: the first element is dropped (counted in *dropped) and the
 * rest resent; -ENODEV (device going away) drops everything.
 */
int ublk_batch_commit_complete(struct ublk_batch_commit *c, int res,
			       unsigned int *dropped);

/*
 * A multishot FETCH_IO_CMDS buffer consumed incrementally: each CQE
 * appends res bytes of u16 tags after the previous ones.
 */
struct ublk_batch_fetch {
	uint16_t *buf;
	unsigned int bytes; /* buffer size */
	unsigned int off; /* bytes consumed so far */
};

/*
 * Tags a fetch CQE delivered: *tags points at them; returns the count
 * (0 for res <= 0). Clamps at the buffer end.
 */
unsigned int ublk_batch_fetch_tags(struct ublk_batch_fetch *f, int res,
				   const uint16_t **tags);
/* Whether the fetch must be re-armed (-ENOBUFS, or the CQE lacks F_MORE). */
bool ublk_batch_fetch_rearm(int res, bool more);
/* Start over at the beginning of the buffer (when re-armed). */
void ublk_batch_fetch_reset(struct ublk_batch_fetch *f);

/*
 * Thread/queue map for batch mode: map[t * nqueues + q] is true when
 * thread t arms fetches on queue q. Round robin over max(nthreads,
 * nqueues) pairs, so every queue has a thread and every thread a queue.
 */
void ublk_batch_map(unsigned int nthreads, unsigned int nqueues, bool *map);

/*
 * Per-I/O mode: the thread that serves (q, tag). With nthreads <= nqueues
 * whole queues go to threads; with more threads than queues (needs
 * UBLK_F_PER_IO_DAEMON) the tags are spread.
 */
unsigned int ublk_io_thread(unsigned int nthreads, unsigned int nqueues,
			    unsigned int depth, unsigned int q,
			    unsigned int tag);

#endif /* UBLKCTL_BATCH_H */
