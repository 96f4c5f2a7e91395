/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ublk server: the life cycle (fork, report over a pipe, state file)
 * of a device configured by devcfg.h, and the I/O-path helpers targets
 * call from server threads.
 *
 * Threads and rings: one pthread per server thread, one io_uring per
 * thread, created by that thread. Per-I/O mode: every (queue, tag) is
 * served by exactly one thread (ublk_io_thread()): whole queues, or with
 * --per-io-tasks (or more threads than queues) a share of every queue's
 * tags; all commands of a tag (FETCH, COMMIT_AND_FETCH, NEED_GET_DATA)
 * go from the thread that fetched it, as the driver requires. Batch
 * mode: threads arm FETCH_IO_CMDS on the queues ublk_batch_map() gives
 * them, and a tag belongs to whichever thread's fetch delivered it until
 * it is committed.
 * Fixed buffers (zero copy, auto-zc): every ring has a sparse table of
 * queues * depth slots; (q, tag) always uses slot q * depth + tag.
 * Fixed files: 0 is /dev/ublkcN, 1.. the target's backing fds.
 */
#ifndef UBLKCTL_SERVER_H
#define UBLKCTL_SERVER_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

#include "ublkctl/devcfg.h"
#include "ublkctl/target.h"

struct ublk_ctrl;
struct ublk_shmem;

/*
 * Start the server of a device that exists (ADD_DEV and SET_PARAMS done,
 * or START_USER_RECOVERY done when recover is true) and wait until it is
 * live: detached (fork, setsid) unless cfg->foreground. On success writes
 * the state file and calls live(id) if not NULL (the caller prints the
 * device there); a foreground server then serves until SIGTERM/SIGINT or
 * the device goes away. Returns an exit code; on failure the device is
 * left for the caller to delete.
 */
int ublk_server_launch(struct ublk_dev_cfg *cfg, bool recover,
		       void (*live)(uint32_t id));

/*
 * Start a new server for device cfg->dev_id, whose server died (recover,
 * add --recover-existing): GET_DEV_INFO into cfg->info; refuse a device
 * added without --recovery or still live; START_USER_RECOVERY, retried
 * while the dead server's files are being released; then
 * ublk_server_launch(cfg, true, NULL). cfg's target is initialized. Returns an
 * exit code, the error printed; the device is never deleted.
 */
int ublk_server_recover(struct ublk_ctrl *ctrl, struct ublk_dev_cfg *cfg);

/*
 * Server internals used by the life cycle (cli/server/daemon.c). All run
 * in the server process's main thread, print their own errors and return
 * 0 or a negative errno.
 */
struct ublk_srv;
/* Open /dev/ublkcN (retrying while udev settles), map descriptors, buffers. */
int ublk_srv_create(struct ublk_dev_cfg *cfg, struct ublk_srv **out);
/*
 * Read each queue's CPU affinity (GET_QUEUE_AFFINITY); each thread then
 * runs on the CPUs of the queues it serves, where blk-mq submits their
 * requests. If any queue's affinity cannot be read, no thread is pinned
 * (not an error).
 */
void ublk_srv_get_affinity(struct ublk_srv *s, struct ublk_ctrl *c);
/*
 * Start the threads; returns once each has queued its FETCH (or PREP and
 * FETCH) commands, so START_DEV / END_USER_RECOVERY can follow. Each
 * thread writes 1 to exit_efd (an eventfd) when it ends.
 */
int ublk_srv_start(struct ublk_srv *s, int exit_efd);
/* Threads that have ended so far; and whether one ended on an error. */
unsigned int ublk_srv_exited(struct ublk_srv *s, bool *failed);
unsigned int ublk_srv_nr_threads(const struct ublk_srv *s);
/*
 * An eventfd that becomes readable when a thread's status changed; then
 * ublk_srv_status() reads it and copies the first non-empty status of
 * the threads (or "") into buf.
 */
int ublk_srv_status_fd(const struct ublk_srv *s);
void ublk_srv_status(struct ublk_srv *s, char *buf, size_t len);
/*
 * --shmem-zc on a new device: REG_BUF of the memory ublk_srv_create
 * mapped, before START_DEV (no-op without --shmem-zc; a recovering server
 * skips it, see shmem.h). 0 or a negative errno, printed.
 */
int ublk_srv_register_shmem(struct ublk_srv *s, struct ublk_ctrl *c);
/* Join every thread, release buffers, unmap, close /dev/ublkcN. */
void ublk_srv_destroy(struct ublk_srv *s);

/* ---- I/O path (server threads only) ---- */

struct ublk_thread;

/* One per (queue, tag). Owned by one thread at a time; no locks. */
struct ublk_io {
	void *buf; /* copy / user copy buffer, else NULL */
	/*
	 * UBLK_BUF_PLAIN: where the target reads or writes this request's
	 * data, set before queue_io: buf, or for a UBLK_IO_F_SHMEM_ZC
	 * request the place in the --shmem-zc memory.
	 */
	void *data;
	/*
	 * A request with UBLK_IO_F_INTEGRITY: its metadata, ublk_md_len()
	 * bytes. The server fills it before queue_io for a write and copies
	 * it to the device after a read; NULL without --integrity.
	 */
	void *md;
	int32_t result;
	/* ZONE_APPEND: the LBA written (sectors), set before completing */
	uint64_t zone_append_lba;
	uint16_t pending; /* target CQEs still expected */
	uint16_t flags;
};

enum ublk_buf_mode {
	UBLK_BUF_PLAIN, /* data at ublk_io.data (copy, user copy, shmem) */
	UBLK_BUF_ZC, /* register/unregister around the I/O */
	UBLK_BUF_AUTO, /* registered at ublk_io_buf_index() already */
};

struct ublk_queue {
	const void *descs; /* mmapped, read-only */
	struct ublk_io *ios;
	struct ublk_tgt *tgt;
	uint16_t q_id;
	uint16_t depth;
	uint16_t desc_size; /* the descriptors' stride: dev_info.io_desc_size */
	bool zc; /* UBLK_F_SUPPORT_ZERO_COPY without auto-zc */
	bool auto_zc; /* UBLK_F_AUTO_BUF_REG */
	bool user_copy; /* UBLK_F_USER_COPY, and the target has data to copy */
	uint8_t md_size; /* --integrity: metadata bytes per interval, else 0 */
	uint8_t md_shift; /* log2 of the protection interval */
	int char_fd;
	const struct ublk_shmem *shm; /* --shmem-zc mapping, else NULL */
} __attribute__((aligned(64)));

/*
 * Tag's descriptor: desc_size apart (24 bytes unless the device has
 * UBLK_F_IO_DESC_SIZE); the bytes past the descriptor are not ours.
 */
static inline const struct ublksrv_io_desc *ublk_iod(const struct ublk_queue *q,
						     unsigned int tag)
{
	return (const struct ublksrv_io_desc *)((const char *)q->descs +
						(size_t)tag * q->desc_size);
}

static inline unsigned int ublk_io_buf_index(const struct ublk_queue *q,
					     unsigned int tag)
{
	return (unsigned int)q->q_id * q->depth + tag;
}

/* Bytes of integrity metadata that go with len bytes of data on q. */
static inline size_t ublk_md_len(const struct ublk_queue *q, size_t len)
{
	return (len >> q->md_shift) * q->md_size;
}

/* How the data of this request is reached. */
static inline enum ublk_buf_mode ublk_io_buf_mode(const struct ublk_queue *q,
						  unsigned int tag)
{
	uint32_t op_flags = ublk_iod(q, tag)->op_flags;

	/* In the shared memory whatever the mode: nothing to register. */
	if (op_flags & UBLK_IO_F_SHMEM_ZC)
		return UBLK_BUF_PLAIN;
	if (q->auto_zc)
		return (op_flags & UBLK_IO_F_NEED_REG_BUF) ? UBLK_BUF_ZC :
							     UBLK_BUF_AUTO;
	return q->zc ? UBLK_BUF_ZC : UBLK_BUF_PLAIN;
}

/*
 * user_data of a target SQE: op (< 0x20, the target's own numbering) comes
 * back in io_done. Bit 63 marks target I/O; tag, queue and op sit where
 * the server's decoding (server.c) reads them.
 */
#define UBLK_UD_QID_SHIFT 16
#define UBLK_UD_OP_SHIFT 28
#define UBLK_UD_TGT (1ULL << 63)
static inline uint64_t ublk_ud_pack(unsigned int tag, unsigned int q_id,
				    unsigned int op)
{
	return (uint64_t)(tag & 0xffff) |
	       (uint64_t)(q_id & 0xfff) << UBLK_UD_QID_SHIFT |
	       (uint64_t)(op & 0xff) << UBLK_UD_OP_SHIFT;
}

static inline uint64_t ublk_tgt_user_data(const struct ublk_queue *q,
					  unsigned int tag, unsigned int op)
{
	return ublk_ud_pack(tag, q->q_id, op) | UBLK_UD_TGT;
}
/*
 * user_data of a target SQE that belongs to the thread, not to a request
 * (see target_ops.thread_cqe): op < 256 and arg < 2^40 come back there.
 */
uint64_t ublk_tgt_thread_user_data(unsigned int op, uint64_t arg);
/* What the target's thread_init stored for this thread (or NULL). */
void *ublk_thread_tgt_priv(const struct ublk_thread *t);
/* Index of the thread (0..threads-1), for messages. */
unsigned int ublk_thread_index(const struct ublk_thread *t);
/*
 * The condition of this thread's backing, for list ("reconnecting",
 * "failing I/O"; "" when well), copied. Call on a change only: the
 * server's main thread then writes the first thread's non-empty status
 * into the state file (ublk_srv_status()).
 */
void ublk_thread_set_status(struct ublk_thread *t, const char *status);
/*
 * Make room for n SQEs that must stay consecutive (a linked chain):
 * submits what is queued if the SQ ring lacks space.
 */
void ublk_reserve_sqes(struct ublk_thread *t, unsigned int n);
/* One SQE, zeroed; never NULL (submits to make room). */
struct io_uring_sqe *ublk_get_sqe(struct ublk_thread *t);
/* The same on a server thread's ring, for the server's own modules. */
struct io_uring_sqe *ublk_ring_get_sqe(struct io_uring *ring);
/* Make sqe a URING_CMD cmd_op on /dev/ublkcN (fixed file 0). */
void ublk_prep_uring_cmd(struct io_uring_sqe *sqe, uint32_t cmd_op);
/*
 * Zero copy by hand: queue REGISTER_IO_BUF of (q, tag) at
 * ublk_io_buf_index() (hard-linked, CQE only on failure) and return the
 * SQE after it for the first of the target's nr_io fixed-buffer I/Os
 * (room for the whole chain is made at once). After preparing each but
 * the last, the target calls ublk_zc_chain_next(), which links it, sets
 * its buf_index and returns the SQE for the next; after the last,
 * ublk_zc_chain_end(), which does the same and queues
 * UNREGISTER_IO_BUF. The chain runs one SQE after another and yields
 * nr_io + 1 counted CQEs: the target's and the unregister's.
 */
struct io_uring_sqe *ublk_zc_chain_begin(struct ublk_thread *t,
					 struct ublk_queue *q, unsigned int tag,
					 unsigned int nr_io);
struct io_uring_sqe *ublk_zc_chain_next(struct ublk_thread *t,
					struct ublk_queue *q, unsigned int tag,
					struct io_uring_sqe *io_sqe);
void ublk_zc_chain_end(struct ublk_thread *t, struct ublk_queue *q,
		       unsigned int tag, struct io_uring_sqe *io_sqe);
/* Record one target CQE result; completes the I/O when none is left. */
void ublk_tgt_io_account(struct ublk_thread *t, struct ublk_queue *q,
			 unsigned int tag, int res);
/* Finish request tag of q with res (bytes or -errno): commit it. */
void ublk_complete_io(struct ublk_thread *t, struct ublk_queue *q,
		      unsigned int tag, int res);

/*
 * From queue_io, instead of completing the request it was given: the
 * thread cannot go on (err: negative errno, after printing why). That
 * request is left to the kernel; the thread takes no new one and ends
 * once the target holds no other, and the server then exits as failed,
 * leaving the device to the kernel (recovery, or stop).
 */
void ublk_thread_fail(struct ublk_thread *t, int err);

/* Server-side test knob: env var forcing auto-zc registration to fail. */
#define UBLK_ENV_FORCE_NEED_REG_BUF "UBLKCTL_TEST_FORCE_NEED_REG_BUF"

#endif /* UBLKCTL_SERVER_H */
