/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Targets: what a ublk device is backed by. One `const struct target_ops`
 * per file in cli/targets/, found by exact name in a static registry.
 * The server core (cli/server/) owns rings, commands and buffers; a target
 * only turns one request into backing I/O (or none) and reports results.
 */
#ifndef UBLKCTL_TARGET_H
#define UBLKCTL_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ublkctl/ublkctl.h"

struct io_uring_cqe;
struct ublk_dev_cfg;
struct ublk_thread;
struct ublk_queue;

#define UBLK_TGT_MAX_FDS 4

/* A target instance: filled by the target's init, read by the server. */
struct ublk_tgt {
	const struct target_ops *ops;
	void *priv; /* the target's own state */
	uint64_t size; /* device size in bytes */
	uint32_t lbs; /* logical block size (bytes) */
	uint32_t pbs; /* physical block size (bytes) */
	uint32_t min_lbs; /* smallest lbs the backing allows */
	uint32_t dma_align; /* required buffer alignment (bytes) */
	uint32_t attrs; /* UBLK_ATTR_* */
	bool discard; /* handles DISCARD */
	bool write_zeroes; /* handles WRITE_ZEROES */
	/*
	 * No storage (null, fault): request data is never read or written,
	 * so in user copy mode the server copies none and has no buffers.
	 */
	bool no_data;
	uint32_t max_io; /* largest request the backing takes; 0: any */
	/* SQEs queue_io issues for one request at most (0: 3, a ZC chain) */
	uint16_t max_sqes;
	/*
	 * A zoned device (UBLK_F_ZONED): zone size in bytes (a power of
	 * 2), 0 for a device that is not zoned; the open and active zone
	 * limits (0: none) and the largest zone append in bytes.
	 */
	uint64_t zone_size;
	uint32_t max_open_zones, max_active_zones;
	uint32_t max_append;
	int nr_fds; /* backing fds, fixed files 1..nr_fds */
	int fds[UBLK_TGT_MAX_FDS];
	char backing[4096]; /* shown by list; "" if none */
};

/*
 * Takes one option of a configuration being saved: its long name and
 * value (NULL for an option without argument). 0, or an error that ends
 * the saving.
 */
typedef int (*ublk_emit_fn)(void *ctx, const char *name, const char *value);

struct target_ops {
	const char *name;
	const char *summary; /* one line for add --help */
	/*
	 * Optional: option table (keys >= 1000, or letters add does not
	 * use). A long name two targets share is one option of add's
	 * command line, its letter (if any) the same in both.
	 */
	const struct ublk_opt *opts;
	/* Optional: extra lines for add --help (semantics of the options). */
	const char *notes;
	/*
	 * Optional: long name of the option in opts that add's one operand
	 * stands for (`add -t nbd URI` is `add -t nbd --uri URI`). NULL:
	 * add takes no operand for this target.
	 */
	const char *operand;
	/*
	 * Optional: the data path add asks for when its command line names
	 * none, the fastest this target has: UBLK_F_USER_COPY or
	 * UBLK_F_AUTO_BUF_REG, and/or UBLK_F_BATCH_IO; each is taken only
	 * where the kernel offers it and the device is not --unprivileged
	 * (ublk_cfg_pick_mode). UBLK_F_USER_COPY alone is the target's only
	 * data path, taken whether or not the kernel offers it (add then
	 * says it lacks it). 0: plain copy.
	 */
	uint64_t fast_flags;
	/*
	 * The target keeps integrity metadata (add --integrity): its init
	 * reads cfg->integrity and its queue_io moves a request's metadata
	 * between ublk_io.md and its store. false: add refuses --integrity.
	 */
	bool integrity;
	/*
	 * Optional: UBLK_F_* flags every device of this target needs
	 * (UBLK_F_ZONED); add asks ADD_DEV for them and refuses a kernel
	 * without them.
	 */
	uint64_t dev_flags;

	/*
	 * Optional. Main thread, while add parses its command line: one
	 * option of opts. Returns 0, or EXIT_USAGE after printing one line
	 * saying why (add then prints the "Try ... --help" hint).
	 * Allocates tgt->priv on first use if it needs to.
	 */
	int (*parse_opt)(struct ublk_tgt *tgt, int key, const char *arg);

	/*
	 * Required. Main thread, after parsing, before any side effect:
	 * check the options, open the backing store, and fill size, lbs,
	 * pbs, min_lbs, dma_align, attrs, discard, write_zeroes, max_io,
	 * max_sqes, fds and backing. cfg
	 * carries the generic options (size and block sizes 0 when not
	 * given). Returns EXIT_OK, or EXIT_USAGE / EXIT_FAIL after printing
	 * why; on failure the target has released what it opened.
	 */
	int (*init)(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg);

	/*
	 * Optional. Any thread, once no I/O runs: release init's work and
	 * what option parsing allocated. Also called after a failed parse or
	 * init, so it must cope with a partly set up target.
	 */
	void (*deinit)(struct ublk_tgt *tgt);

	/*
	 * Optional. Main thread, after init: the target's options in
	 * normalized form for the state file (sizes in bytes, paths
	 * absolute), one emit(ctx, long name, value) each, value NULL for
	 * an option without argument. recover and resize feed them back
	 * through parse_opt. Returns 0 or the first non-zero emit result.
	 */
	int (*save)(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx);

	/*
	 * Optional. Main thread of resize, on a target rebuilt from the
	 * state file (parse_opt done, init not called): may device id
	 * become bytes long? size_arg is the option as given, for the
	 * message. 0, or -1 after printing why. NULL: any size.
	 */
	int (*check_resize)(struct ublk_tgt *tgt, uint32_t id,
			    const char *size_arg, uint64_t bytes);

	/*
	 * Required. Server thread serving the I/O: start request tag of q
	 * (descriptor: ublk_iod(q, tag)). Returns the number of target
	 * CQEs to wait for (> 0); or 0 when the target completes the I/O
	 * itself with ublk_complete_io() (or ublk_thread_fail(), which
	 * leaves the request to the kernel), before returning or later on
	 * the same thread (from thread_cqe); or a negative errno the server
	 * completes the I/O with. The SQEs behind a count > 0 may also be
	 * issued later on the same thread (from io_done of another request).
	 * Must not block, allocate or take locks.
	 */
	int (*queue_io)(struct ublk_thread *t, struct ublk_queue *q,
			unsigned int tag);

	/*
	 * Optional. Server thread: one CQE of an SQE queue_io issued. When
	 * NULL the server records the result (first error wins, else the
	 * last byte count) and completes the I/O when no CQE is left.
	 * Implementations call ublk_tgt_io_account() or ublk_complete_io().
	 */
	void (*io_done)(struct ublk_thread *t, struct ublk_queue *q,
			unsigned int tag, unsigned int op,
			const struct io_uring_cqe *cqe);

	/*
	 * Optional. Server thread, once at its start, after its ring is set
	 * up and before its first FETCH: per-thread state (a connection),
	 * for requests indexed by ublk_io_buf_index() below nr_tags. May
	 * block (it runs before the device is live). *priv is what
	 * ublk_thread_tgt_priv() returns. Returns 0, or a negative errno
	 * after printing why: the server then fails to start.
	 */
	int (*thread_init)(struct ublk_thread *t, struct ublk_tgt *tgt,
			   unsigned int nr_tags, void **priv);

	/*
	 * Optional. Server thread, once its loop has ended (no I/O left
	 * with the target), if thread_init succeeded: release its state.
	 * Target SQEs still in flight are cancelled with the ring later.
	 */
	void (*thread_exit)(struct ublk_thread *t, struct ublk_tgt *tgt,
			    void *priv);

	/*
	 * Required if the target issues SQEs of its own that belong to no
	 * request (a poll on a socket, a timer), with user_data from
	 * ublk_tgt_thread_user_data(). Server thread: the CQE of one, with
	 * the op and arg given there. May complete requests.
	 */
	void (*thread_cqe)(struct ublk_thread *t, unsigned int op, uint64_t arg,
			   const struct io_uring_cqe *cqe);

	/*
	 * Optional. Server thread, after each pass over the CQEs and before
	 * the ring is submitted: issue what queue_io and thread_cqe gathered
	 * in that pass (one send for many requests).
	 */
	void (*thread_flush)(struct ublk_thread *t);
};

/* ---- what the targets share (cli/targets/common.c) ---- */

/*
 * The target's private state, tgt->priv: allocated zeroed (size bytes)
 * on the first call, the same pointer after. Any hook on the main thread
 * may call it first (parse_opt, or init when no option was given). NULL
 * after printing "<target>: Cannot allocate memory": the hook returns
 * EXIT_FAIL.
 */
void *ublk_tgt_priv(struct ublk_tgt *tgt, size_t size);
/*
 * Free tgt->priv and clear it: deinit of a target whose state is that one
 * allocation, or the last step of a longer deinit. Safe on a target that
 * never allocated it.
 */
void ublk_tgt_free_priv(struct ublk_tgt *tgt);
/*
 * init of a target with no backing store (null; fault after its own
 * setup): size from cfg or 1 GiB, logical block 512 and physical 4096
 * unless cfg says otherwise (physical raised to the logical one), any
 * block size from 512 and buffers aligned to 512. Returns EXIT_OK.
 */
int ublk_tgt_init_nostore(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg);

/* A backing file or block device, opened and probed by ublk_backing_open. */
struct ublk_backing {
	int fd;
	bool regular; /* a regular file (else a block device) */
	uint64_t size; /* bytes */
	/* O_DIRECT's offset and length unit: 512-4096, a power of 2 */
	uint32_t lbs;
	uint32_t pbs;
	uint32_t mem_align; /* O_DIRECT's buffer alignment */
	bool can_punch; /* a file whose file system punches holes, writable */
	/* a writable block device that discards through io_uring */
	bool can_discard;
	uint32_t depth; /* a block device's tags per hardware queue; 0: unknown */
};

/*
 * Open path for a target's --file (read-only or read-write, O_DIRECT
 * unless buffered) and probe it: size, the block sizes O_DIRECT needs
 * (512 for a buffered file), whether holes can be punched (a file) or
 * ranges discarded (a block device), a block device's queue depth. EXIT_OK, or
 * EXIT_FAIL after printing "--file: PATH: why" with nothing left open.
 */
int ublk_backing_open(const char *path, bool read_only, bool buffered,
		      struct ublk_backing *b);
/* Size of a regular file or block device (resize checks); 0 or -errno. */
int ublk_backing_size(const char *path, uint64_t *size);
/*
 * The block sizes of tgt over backing of that geometry (b->fd unused):
 * cfg's logical block size if given and O_DIRECT allows it (else
 * EXIT_USAGE after printing why, naming file), cfg's physical one if
 * given; lbs, pbs, min_lbs and dma_align set. EXIT_OK or EXIT_USAGE.
 */
int ublk_tgt_set_block_sizes(struct ublk_tgt *tgt,
			     const struct ublk_dev_cfg *cfg,
			     const struct ublk_backing *b, const char *file,
			     bool buffered);

/* emit(ctx, name, v in decimal): a number option of save. */
int ublk_emit_u64(ublk_emit_fn emit, void *ctx, const char *name, uint64_t v);

/* Registry (cli/targets/registry.c). NULL if no target has that name. */
const struct target_ops *ublk_target_find(const char *name);
/* NULL-terminated list of all targets, in help order. */
extern const struct target_ops *const ublk_target_list[];

extern const struct target_ops target_null;
extern const struct target_ops target_loop;
extern const struct target_ops target_fault;
extern const struct target_ops target_nbd;
extern const struct target_ops target_stripe;
extern const struct target_ops target_zoned;

#endif /* UBLKCTL_TARGET_H */
