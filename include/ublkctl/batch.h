/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Batch I/O (UBLK_F_BATCH_IO): PREP_IO_CMDS, multishot FETCH_IO_CMDS on a
 * provided-buffer ring, COMMIT_IO_CMDS. cli/server/batch.c owns the whole
 * mode; cli/server/server.c calls the hooks below where it would run the
 * per-I/O commands and never sees the wire format.
 *
 * Two layers, both unit-tested (tests/unit/test_batch.c):
 * - buffer logic with no io_uring: element encoding, the commit buffer
 *   with its partial-commit resend, fetch-buffer offsets and what a fetch
 *   CQE asks for, the thread/queue map;
 * - the per-thread hooks built on it, which queue SQEs on the thread's
 *   ring and read back CQEs. Only set-up allocates, and only the PREP
 *   barrier waits: the I/O-path hooks (arm, cqe, complete, flush) neither
 *   allocate nor lock.
 * Every per-thread hook runs in the server thread that owns the ring.
 */
#ifndef UBLKCTL_BATCH_H
#define UBLKCTL_BATCH_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

struct ublk_queue;

/* ------------------------------------------------------ wire format */

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
 * with auto-zc and fallback requested; HAS_ZONE_LBA on a zoned device.
 */
uint16_t ublk_batch_cmd_flags(uint64_t dev_flags, bool auto_zc_fallback);

/* Decode element i of a wire buffer (for tests and debugging). */
void ublk_batch_decode(const void *wire, uint16_t flags, unsigned int i,
		       struct ublk_batch_elem *out);

/* ---------------------------------------------------- commit buffer */

/*
 * One PREP/COMMIT_IO_CMDS element list. Elements are encoded once, where
 * the kernel reads them: a partial commit resends the tail from the same
 * memory. cap is the queue depth: a tag is in at most one list while the
 * server owns it, so a list never needs more.
 */
struct ublk_batch_commit {
	unsigned char *wire; /* cap elements of elem_bytes */
	unsigned int cap; /* elements */
	uint16_t flags; /* UBLK_BATCH_F_* */
	uint8_t elem_bytes; /* ublk_batch_elem_bytes(flags) */
	unsigned int nr; /* elements encoded */
	unsigned int sent; /* elements the kernel has handled or dropped */
	bool busy; /* a command on it is in flight */
};

/*
 * Encode e as the next element of a list not in flight. False (nothing
 * written) when the list is full or busy.
 */
bool ublk_batch_commit_add(struct ublk_batch_commit *c,
			   const struct ublk_batch_elem *e);

/* The chunk still to send: byte offset into wire and element count. */
void ublk_batch_commit_chunk(const struct ublk_batch_commit *c,
			     unsigned int *off, unsigned int *nr);

enum {
	UBLK_COMMIT_DONE = 0, /* list empty and free again */
	UBLK_COMMIT_RESEND = 1, /* send ublk_batch_commit_chunk() again */
};

/*
 * Account a COMMIT CQE. res >= 0 is the number of element bytes the
 * kernel handled (a partial commit: resend the rest; a zero-byte success
 * drops one element so that the resend cannot loop). res < 0 means it
 * handled none: the first element is dropped (counted in *dropped) and the
 * rest resent; -ENODEV (device going away) drops everything.
 */
int ublk_batch_commit_complete(struct ublk_batch_commit *c, int res,
			       unsigned int *dropped);

/* ----------------------------------------------------- fetch buffer */

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
				   uint16_t **tags);

/* What a fetch CQE leaves to do, after its tags are taken. */
enum ublk_fetch_next {
	UBLK_FETCH_ARMED, /* IORING_CQE_F_MORE: more CQEs will come */
	UBLK_FETCH_REARM, /* ended, buffer still provided: arm again */
	UBLK_FETCH_REFILL, /* ended, buffer used up: provide it, arm again */
	UBLK_FETCH_END, /* -ENODEV, -ECANCELED: the device is going away */
	UBLK_FETCH_FAILED, /* any other error */
};
enum ublk_fetch_next ublk_batch_fetch_next(int res, unsigned int cqe_flags);

/* ---------------------------------------------------- thread/queue map */

/*
 * Thread/queue map for batch mode: map[t * nqueues + q] is true when
 * thread t arms fetches on queue q. Round robin over max(nthreads,
 * nqueues) pairs, so every queue has a thread and every thread a queue.
 */
void ublk_batch_map(unsigned int nthreads, unsigned int nqueues, bool *map);

/*
 * Per-I/O mode: the thread that serves (q, tag). Without share whole
 * queues go to threads round robin (q % nthreads). With share
 * (--per-io-tasks, or more threads than queues; needs
 * UBLK_F_PER_IO_DAEMON) tags are dealt round robin over all the queues'
 * tags in a row, (q * depth + tag) % nthreads: neighbouring tags go to
 * different threads, so the requests of a single queue (blk-mq hands out
 * its tags in turn) reach every thread, and each thread serves every
 * queue once nthreads <= depth.
 */
unsigned int ublk_io_thread(unsigned int nthreads, unsigned int depth,
			    bool share, unsigned int q, unsigned int tag);

/* ------------------------------------------------------ server hooks */

/* COMMIT_IO_CMDS lists per thread and queue (one collects, the rest fly). */
#define UBLK_BATCH_NR_COMMIT 4
/* Multishot FETCH_IO_CMDS per thread and queue. */
#define UBLK_BATCH_NR_FETCH 2

/*
 * Every SQE the hooks queue carries this bit in user_data, and no other
 * SQE of a server ring does: server.c hands each CQE with it to
 * ublk_batch_cqe(). The other 63 bits are batch.c's.
 */
#define UBLK_BATCH_USER_DATA (1ULL << 61)

/* A batch device: what every thread shares. Owned by the server. */
struct ublk_batch_dev {
	struct ublk_queue *queues; /* the server's, nr_queues of them */
	unsigned int nr_queues, depth, nr_threads;
	uint32_t dev_id; /* for messages */
	uint16_t flags; /* UBLK_BATCH_F_* of PREP and COMMIT */
	bool force_miss; /* test knob: auto-zc index invalid */
	bool *map; /* ublk_batch_map() */
	/*
	 * Every PREP before any FETCH: a queue being (re)prepared refuses
	 * fetches (-ENODEV) until all its tags are prepared, which matters
	 * after START_USER_RECOVERY.
	 */
	pthread_barrier_t prepared;
	bool barrier_ok;
};

/* A queue one thread serves. */
struct ublk_batch_queue {
	struct ublk_queue *q;
	bool prep; /* this thread sends the queue's PREP */
	unsigned int open; /* commit[] collecting completions; never busy */
	/* the element's buf_index for tag t: idx_base + (t & idx_mask) */
	uint16_t idx_base, idx_mask;
	struct ublk_batch_commit commit[UBLK_BATCH_NR_COMMIT];
};

/* One multishot FETCH_IO_CMDS and its one-entry provided-buffer ring. */
struct ublk_batch_fetch_slot {
	struct ublk_batch_fetch fetch;
	struct io_uring_buf_ring *br;
	struct ublk_batch_queue *bq;
	bool armed;
};

/*
 * One thread's batch state. server.c keeps the pointer and reads no
 * member; the layout is here for the unit tests.
 */
struct ublk_batch_thread {
	const struct ublk_batch_dev *dev;
	struct io_uring *ring;
	unsigned int idx; /* thread index */
	struct ublk_batch_queue *bqs;
	unsigned int nr_bqs;
	struct ublk_batch_queue **bq_of; /* by q_id; NULL if not served */
	struct ublk_batch_fetch_slot *fetch;
	unsigned int nr_fetch;
	unsigned int inflight; /* fetches armed + commits in flight */
	unsigned int commits_queued; /* since the last ublk_batch_flush() */
};

/*
 * What a batch CQE asks of the thread (ublk_batch_cqe()): start the
 * requests of tags[0..nr_tags) on q (each tag < q->depth); with stop set,
 * take no new request; with err < 0 (printed already) also end as failed.
 */
struct ublk_batch_event {
	struct ublk_queue *q;
	const uint16_t *tags;
	unsigned int nr_tags;
	bool stop;
	int err;
};

/*
 * Server main thread, before any server thread starts: the shared state
 * of a device whose granted flags have UBLK_F_BATCH_IO. queues stays the
 * server's and must outlive the device state. Returns 0 or -errno
 * (printed); on failure *out is NULL and nothing is left allocated.
 */
int ublk_batch_dev_create(struct ublk_queue *queues, unsigned int nr_queues,
			  unsigned int depth, unsigned int nr_threads,
			  uint32_t dev_id, uint64_t dev_flags, bool fallback,
			  bool force_miss, struct ublk_batch_dev **out);
/* After every server thread has been joined; NULL is a no-op. */
void ublk_batch_dev_destroy(struct ublk_batch_dev *d);
/* Whether thread t arms fetches on queue q (ring sizing, CPU pinning). */
bool ublk_batch_serves(const struct ublk_batch_dev *d, unsigned int t,
		       unsigned int q);

/*
 * Server thread idx, once its ring has /dev/ublkcN as fixed file 0: the
 * commit lists and the fetch buffers of the queues it serves, each fetch
 * with a provided-buffer ring (IOU_PBUF_RING_INC) registered on ring.
 * Returns 0 or -errno (printed); *out is set either way (NULL only when
 * it could not be allocated) and is freed with ublk_batch_thread_free().
 */
int ublk_batch_thread_init(const struct ublk_batch_dev *d, unsigned int idx,
			   struct io_uring *ring,
			   struct ublk_batch_thread **out);
/* Frees what thread_init set up; the ring may be gone already. */
void ublk_batch_thread_free(struct ublk_batch_thread *bt);

/*
 * PREP_IO_CMDS for every queue this thread prepares (the first thread that
 * serves it), each submitted and awaited alone: call before anything else
 * is queued on the ring. Returns 0 or the first error (printed).
 */
int ublk_batch_prep(struct ublk_batch_thread *bt);
/*
 * Wait until every thread has prepared. Every thread calls it once,
 * whether its set-up or PREP failed or not, so that none waits forever.
 */
void ublk_batch_wait_prepared(struct ublk_batch_dev *d);

/* Queue every fetch of this thread, each on a freshly provided buffer. */
void ublk_batch_arm(struct ublk_batch_thread *bt);

/*
 * Handle a CQE whose user_data has UBLK_BATCH_USER_DATA and say in *ev
 * what the thread must do. A fetch CQE yields its tags; an ended fetch is
 * re-armed unless stopping. A commit the kernel handled only in part is
 * resent from where it stopped.
 */
void ublk_batch_cqe(struct ublk_batch_thread *bt,
		    const struct io_uring_cqe *cqe, bool stopping,
		    struct ublk_batch_event *ev);

/*
 * Request tag of q (fetched by this thread) is done with res: encode its
 * commit element. Sent by the next ublk_batch_flush().
 */
void ublk_batch_complete(struct ublk_batch_thread *bt, struct ublk_queue *q,
			 unsigned int tag, int res);

/*
 * End of a reaping pass: one COMMIT_IO_CMDS per queue with completions,
 * unless all its other lists are in flight (then they wait for the next
 * pass). Returns the COMMIT_IO_CMDS queued since the previous call,
 * resends included: the driver handles them during submission.
 */
unsigned int ublk_batch_flush(struct ublk_batch_thread *bt);

/* Commands in flight (armed fetches, commits): 0 once the thread may end. */
unsigned int ublk_batch_inflight(const struct ublk_batch_thread *bt);

#endif /* UBLKCTL_BATCH_H */
