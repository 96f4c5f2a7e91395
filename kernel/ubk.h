/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ublkctl_drv: shared internal definitions.
 *
 * Design note. A device (struct ubk_device) owns one blk-mq tag set and one
 * struct ubk_queue per hardware queue; every tag of a queue has one
 * struct ubk_io slot. The slot's life is an explicit state machine, changed
 * only under the owning queue's spinlock:
 *
 *   IDLE --FETCH/PREP--> ARMED --queue_rq--> QUEUED --dispatch--> SERVER
 *     ^                    ^                                        |
 *     |                    +------------- COMMIT -------------------+
 *     +-- server gone (reset) / cancel takes the command (CANCELED)
 *
 * ARMED:  per-I/O mode holds the server's FETCH/COMMIT uring_cmd in
 *         io->cmd; batch mode has no per-I/O command, the tag is merely
 *         prepared.
 * QUEUED: a request is bound to the slot and on its way to the server
 *         (task work on io->cmd, or the tag sits in the queue's tag fifo).
 * SERVER: the server owns the request until it commits.
 *
 * In modes where the server touches request pages itself (user copy, zero
 * copy, auto buffer registration) io->ref counts the users of the request:
 * one for the server until COMMIT, one per registered io_uring buffer and
 * one per in-flight pread/pwrite. The last put completes the request.
 *
 * Files, one concern each: ctrl.c (control device and commands, module
 * init), blk.c (gendisk, blk-mq, timeouts, teardown), io.c (per-I/O
 * commands, copy mode, user copy, mmap), buf.c (zero copy and automatic
 * buffer registration), batch.c (BATCH_IO commands and tag fifo),
 * integrity.c (UBLK_F_INTEGRITY profile and metadata copy), shmem.c
 * (SHMEM_ZC buffer registration and request matching), zoned.c
 * (UBLK_F_ZONED: zone reports, zone operations, append LBAs).
 */
#ifndef UBKCTL_DRV_UBK_H
#define UBKCTL_DRV_UBK_H

#include <linux/blk-integrity.h>
#include <linux/blk-mq.h>
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/io_uring/cmd.h>
#include <linux/kfifo.h>
#include <linux/maple_tree.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>

/* Our own UAPI header, never the kernel tree's copy. */
#include "../include/uapi/linux/ublk_cmd.h"

#define UBK_MAX_DEVS		(1U << MINORBITS)
#define UBK_REQUEUE_DELAY_MS	3
/* Most tags one batch FETCH completion carries. */
#define UBK_BATCH_MAX_TAGS	128
/* largest IO_DESC_SIZE stride: 4096 descriptors of it fill 1 MiB */
#define UBK_MAX_DESC_SIZE	256

/* Zoned devices need the block layer's zoned support. */
#define UBK_F_ZONED (IS_ENABLED(CONFIG_BLK_DEV_ZONED) ? UBLK_F_ZONED : 0)

/* Feature bits this driver implements; GET_FEATURES reports exactly these. */
#define UBK_FEATURES (UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_URING_CMD_COMP_IN_TASK | \
		      UBLK_F_NEED_GET_DATA | UBLK_F_USER_RECOVERY |		\
		      UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_UNPRIVILEGED_DEV |	\
		      UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_USER_COPY |		\
		      UBLK_F_USER_RECOVERY_FAIL_IO | UBLK_F_UPDATE_SIZE |	\
		      UBLK_F_AUTO_BUF_REG | UBLK_F_QUIESCE |			\
		      UBLK_F_PER_IO_DAEMON | UBLK_F_BUF_REG_OFF_DAEMON |	\
		      UBLK_F_BATCH_IO | UBLK_F_SAFE_STOP_DEV |			\
		      UBLK_F_NO_AUTO_PART_SCAN | UBLK_F_IO_DESC_SIZE |	\
		      UBLK_F_SHMEM_ZC | UBK_F_ZONED |				\
		      (IS_ENABLED(CONFIG_BLK_DEV_INTEGRITY) ? UBLK_F_INTEGRITY : 0))

#define UBK_RECOVERY_FLAGS (UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | \
			    UBLK_F_USER_RECOVERY_FAIL_IO)

enum ubk_io_state {
	UBK_IO_IDLE,
	UBK_IO_ARMED,
	UBK_IO_QUEUED,
	UBK_IO_SERVER,
	UBK_IO_CANCELED,	/* command taken by a cancel, not re-armed */
};

/*
 * A slot's state, for a test that goes on to read what the slot's last
 * mover set. Moves are made under q->lock, but for one: per-I/O dispatch
 * takes a QUEUED slot to SERVER without it (only the dispatcher moves a
 * QUEUED slot), publishing the slot with a release that this acquire
 * pairs with.
 */
#define ubk_io_state(io) smp_load_acquire(&(io)->state)

/* ubk_io.flags */
#define UBK_IOF_NEED_GET_DATA	(1U << 0)	/* waiting for NEED_GET_DATA */
#define UBK_IOF_AUTO_REG	(1U << 1)	/* buffer auto-registered */

struct ubk_queue;

struct ubk_io {
	enum ubk_io_state state;
	unsigned int flags;
	int result;
	struct io_uring_cmd *cmd;	/* per-I/O mode, while ARMED */
	struct request *req;		/* while QUEUED or SERVER */
	struct task_struct *task;	/* fetching task; NULL in batch mode */
	u64 buf_addr;			/* copy mode: the server's buffer */
	struct ublk_auto_buf_reg auto_reg;
	void *auto_reg_ctx;		/* ring the auto buffer lives in */
	refcount_t ref;
	struct ubk_queue *q;
};

/*
 * One armed multishot FETCH_IO_CMDS command. It is on its queue's
 * fetch_cmds list from arming until a path claims it by taking it off the
 * list under the queue lock; the claimer completes and frees it.
 */
struct ubk_fetch_cmd {
	struct list_head node;
	struct io_uring_cmd *cmd;
	u16 buf_group;
};

struct ubk_queue {
	struct ubk_device *dev;
	u16 q_id;
	u16 depth;
	u64 flags;			/* copy of dev_info.flags */
	void *descs;			/* mmapped by the server */
	u16 desc_size;			/* dev_info.io_desc_size: the stride */
	spinlock_t lock;		/* io states, flags below, batch state */
	bool canceling;			/* no server commands: don't dispatch */
	bool fail_io;			/* FAIL_IO recovery state */
	bool force_abort;		/* stopping: fail everything */
	u16 nr_ready;
	/* batch mode */
	DECLARE_KFIFO_PTR(tag_fifo, u16);
	struct list_head fetch_cmds;
	struct ubk_fetch_cmd *active_fetch;
	struct ubk_io ios[] __counted_by(depth);
};

/* ubk_device.state bits */
#define UBK_DEV_OPEN		0	/* /dev/ublkcN is open */
#define UBK_DEV_USED		1	/* a gendisk exists (until free_disk) */
#define UBK_DEV_DELETED		2
#define UBK_DEV_STOPPING	3	/* stopped while a server was attached */

struct ubk_device {
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	struct blk_mq_tag_set tag_set;
	struct gendisk *disk;		/* under mutex; read under lock */
	struct cdev cdev;
	struct device cdev_dev;		/* holds the device's lifetime */
	unsigned long state;
	int id;
	struct mutex mutex;
	spinlock_t lock;
	struct mm_struct *mm;		/* server that mapped the descriptors */
	pid_t srv_tgid;
	bool unprivileged_srv;
	bool block_open;		/* TRY_STOP_DEV won: refuse opens */
	u16 nr_queues_ready;
	struct delayed_work release_work;
	struct work_struct part_scan_work;
	/* SHMEM_ZC registrations (shmem.c) */
	struct mutex shmem_mutex;	/* serialises their changes */
	struct maple_tree shmem_tree;	/* PFN run -> buffer and offset */
	struct xarray shmem_bufs;	/* index -> struct ubk_shmem_buf */
	struct ubk_queue *queues[] __counted_by(info.nr_hw_queues);
};

/* Per-request private area (tag_set.cmd_size). */
struct ubk_rq_pdu {
	/* REQ_OP_DRV_IN made by ubk_report_zones(): 0 for any other */
	unsigned int report_zones;
	sector_t report_sector;
};

/* Per-command private area inside struct io_uring_cmd. */
struct ubk_cmd_pdu {
	struct ubk_queue *q;
	u16 tag;
	union {
		struct ubk_fetch_cmd *fetch_cmd;	/* batch FETCH only */
		struct request *rq_list;	/* ubk_dispatch_list_tw */
	};
};

static inline struct ubk_cmd_pdu *ubk_pdu(struct io_uring_cmd *cmd)
{
	return io_uring_cmd_to_pdu(cmd, struct ubk_cmd_pdu);
}

static inline bool ubk_is_batch(const struct ubk_device *ub)
{
	return ub->info.flags & UBLK_F_BATCH_IO;
}

static inline bool ubk_auto_reg(u64 flags)
{
	return flags & UBLK_F_AUTO_BUF_REG;
}

/* The server never sees request pages through its own buffer. */
static inline bool ubk_copy_mode(u64 flags)
{
	return !(flags & (UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY |
			  UBLK_F_AUTO_BUF_REG));
}

/* io->ref counting is in use (see the design note above). */
static inline bool ubk_need_ref(u64 flags)
{
	return !ubk_copy_mode(flags);
}

static inline bool ubk_recovery_requeues(u64 flags)
{
	return (flags & UBLK_F_USER_RECOVERY) &&
	       !(flags & UBLK_F_USER_RECOVERY_FAIL_IO);
}

static inline struct ublksrv_io_desc *ubk_desc(struct ubk_queue *q, u16 tag)
{
	return q->descs + (size_t)tag * q->desc_size;
}

/* One queue's descriptor area: depth descriptors desc_size apart. */
static inline size_t ubk_desc_area_size(u16 depth, u16 desc_size)
{
	return round_up((size_t)depth * desc_size, PAGE_SIZE);
}

static inline struct ubk_io *ubk_rq_io(struct request *rq)
{
	struct ubk_queue *q = rq->mq_hctx->driver_data;

	return &q->ios[rq->tag];
}

/* ctrl.c */
struct ubk_device *ubk_get_device(struct ubk_device *ub);
void ubk_put_device(struct ubk_device *ub);
extern const struct class ubk_char_class;

/* blk.c */
enum ubk_bind {
	UBK_BIND_OK,
	UBK_BIND_ABORT,		/* no server to take it: abort */
	UBK_BIND_FAIL,		/* fail right away */
};

int ubk_alloc_tag_set(struct ubk_device *ub);
int ubk_start_disk(struct ubk_device *ub);
void ubk_stop_dev(struct ubk_device *ub);
void ubk_stop_dev_locked(struct ubk_device *ub);
struct gendisk *ubk_get_disk(struct ubk_device *ub);
void ubk_end_request(struct request *rq, blk_status_t status);
void ubk_complete_request(struct ubk_io *io, struct request *rq);
void ubk_end_batch(struct io_comp_batch *iob);
void ubk_abort_rq(struct ubk_queue *q, struct request *rq);
void ubk_unbound_rq(struct ubk_queue *q, struct request *rq,
		    enum ubk_bind why);
void ubk_set_canceling(struct ubk_device *ub, bool canceling);
void ubk_cancel_dev_cmds(struct ubk_device *ub);
void ubk_release_work_fn(struct work_struct *work);
void ubk_part_scan_work_fn(struct work_struct *work);

/* io.c */
extern const struct file_operations ubk_ch_fops;
extern const struct file_operations ubk_ch_batch_fops;
void ubk_dispatch_tw(struct io_tw_req tw_req, io_tw_token_t tw);
void ubk_dispatch_list_tw(struct io_tw_req tw_req, io_tw_token_t tw);
bool ubk_io_copy_in(struct ubk_queue *q, struct request *rq, struct ubk_io *io);
void ubk_complete_copied(struct ubk_io *io, struct request *rq,
			 struct io_comp_batch *iob);
bool ubk_copy_bvec(const struct bio_vec *bv, size_t *offset,
		   struct iov_iter *iter, int dir, size_t *done);
size_t ubk_copy_rq_user(const struct request *rq, size_t offset,
			struct iov_iter *iter, int dir);
void ubk_mark_io_ready(struct ubk_device *ub, struct ubk_queue *q);
int ubk_check_cmd_op(u32 cmd_op);
int ubk_ch_open(struct inode *inode, struct file *filp);
int ubk_ch_release(struct inode *inode, struct file *filp);
int ubk_ch_mmap(struct file *filp, struct vm_area_struct *vma);
ssize_t ubk_ch_read_iter(struct kiocb *iocb, struct iov_iter *to);
ssize_t ubk_ch_write_iter(struct kiocb *iocb, struct iov_iter *from);
void ubk_cancel_io_cmd(struct ubk_queue *q, u16 tag, unsigned int issue_flags);

/* integrity.c */
int ubk_integrity_validate(const struct ubk_device *ub);
void ubk_integrity_limits(const struct ubk_device *ub,
			  struct queue_limits *lim);
size_t ubk_integrity_bytes(const struct request *rq);
size_t ubk_copy_rq_integrity(const struct request *rq, size_t offset,
			     struct iov_iter *iter, int dir);

/* buf.c */
void ubk_buf_release(void *priv);
int ubk_register_io_buf(struct io_uring_cmd *cmd, struct ubk_device *ub,
			u16 q_id, u16 tag, unsigned int index,
			unsigned int issue_flags);
int ubk_unregister_io_buf(struct io_uring_cmd *cmd, struct ubk_device *ub,
			  unsigned int index, unsigned int issue_flags);
bool ubk_auto_register(struct ubk_queue *q, struct request *rq,
		       struct ubk_io *io, struct io_uring_cmd *cmd,
		       unsigned int issue_flags);

/* zoned.c */
int ubk_zoned_validate(const struct ubk_device *ub);
void ubk_zoned_limits(const struct ubk_device *ub, struct queue_limits *lim);
int ubk_zoned_rq_op(const struct request *rq);
void ubk_zoned_setup_desc(struct request *rq, struct ublksrv_io_desc *desc);
int __ubk_zoned_commit_append(const struct ubk_queue *q, struct request *rq,
			      u64 lba, int result);
int ubk_zoned_revalidate(struct ubk_device *ub);
#ifdef CONFIG_BLK_DEV_ZONED
int ubk_report_zones(struct gendisk *disk, sector_t sector,
		     unsigned int nr_zones, struct blk_report_zones_args *args);
#else
#define ubk_report_zones NULL
#endif

/* batch.c */
int ubk_batch_init_queue(struct ubk_queue *q);
void ubk_batch_free_queue(struct ubk_queue *q);
void ubk_batch_bind_queue(struct ubk_queue *q, struct request **rqs,
			  unsigned int nr, bool kick);
void ubk_batch_kick(struct ubk_queue *q);
void ubk_batch_cancel_queue(struct ubk_queue *q);
void ubk_batch_abort_fifo(struct ubk_queue *q);
int ubk_batch_uring_cmd(struct io_uring_cmd *cmd, unsigned int issue_flags);

/* shmem.c */
void ubk_shmem_init(struct ubk_device *ub);
void ubk_shmem_remove(struct ubk_device *ub);
void ubk_shmem_free(struct ubk_device *ub);
int ubk_ctrl_reg_buf(struct ubk_device *ub, const struct ublksrv_ctrl_cmd *hdr);
int ubk_ctrl_unreg_buf(struct ubk_device *ub,
		       const struct ublksrv_ctrl_cmd *hdr);
bool ubk_shmem_match(struct ubk_device *ub, struct request *rq, u64 *addr);

static inline bool ubk_desc_is_shmem(struct ubk_queue *q, u16 tag)
{
	return ubk_desc(q, tag)->op_flags & UBLK_IO_F_SHMEM_ZC;
}

/*
 * The per-request helpers below run for every I/O, from several files:
 * inline here, as a call costs about as much as their bodies.
 */

/* blk_rq_has_data(), which the compiler may leave out of line */
static __always_inline bool ubk_rq_has_data(const struct request *rq)
{
	return blk_rq_bytes(rq) && req_op(rq) != REQ_OP_DISCARD &&
	       req_op(rq) != REQ_OP_SECURE_ERASE &&
	       req_op(rq) != REQ_OP_WRITE_ZEROES;
}

static __always_inline u32 ubk_rq_op_flags(const struct request *rq)
{
	const blk_opf_t mapped = REQ_FAILFAST_MASK | REQ_META | REQ_FUA |
				 REQ_NOUNMAP | REQ_SWAP;
	u32 flags = 0;

	/* most requests carry none of them: one test instead of eight */
	if (likely(!(rq->cmd_flags & mapped)) && !blk_integrity_rq(rq))
		return 0;
	if (rq->cmd_flags & REQ_FAILFAST_DEV)
		flags |= UBLK_IO_F_FAILFAST_DEV;
	if (rq->cmd_flags & REQ_FAILFAST_TRANSPORT)
		flags |= UBLK_IO_F_FAILFAST_TRANSPORT;
	if (rq->cmd_flags & REQ_FAILFAST_DRIVER)
		flags |= UBLK_IO_F_FAILFAST_DRIVER;
	if (rq->cmd_flags & REQ_META)
		flags |= UBLK_IO_F_META;
	if (rq->cmd_flags & REQ_FUA)
		flags |= UBLK_IO_F_FUA;
	if (rq->cmd_flags & REQ_NOUNMAP)
		flags |= UBLK_IO_F_NOUNMAP;
	if (rq->cmd_flags & REQ_SWAP)
		flags |= UBLK_IO_F_SWAP;
	if (blk_integrity_rq(rq))
		flags |= UBLK_IO_F_INTEGRITY;
	return flags;
}

static __always_inline int ubk_rq_op(const struct request *rq)
{
	switch (req_op(rq)) {
	case REQ_OP_READ:
		return UBLK_IO_OP_READ;
	case REQ_OP_WRITE:
		return UBLK_IO_OP_WRITE;
	case REQ_OP_FLUSH:
		return UBLK_IO_OP_FLUSH;
	case REQ_OP_DISCARD:
		return UBLK_IO_OP_DISCARD;
	case REQ_OP_WRITE_ZEROES:
		return UBLK_IO_OP_WRITE_ZEROES;
	default:
		return ubk_zoned_rq_op(rq);
	}
}

/* Fill the tag's descriptor the server reads from its mapping. */
static __always_inline void ubk_setup_desc(struct ubk_queue *q,
					    struct request *rq)
{
	struct ublksrv_io_desc *desc = ubk_desc(q, rq->tag);
	u64 shmem_addr;

	desc->op_flags = ubk_rq_op(rq) | ubk_rq_op_flags(rq);
	desc->nr_sectors = blk_rq_sectors(rq);
	desc->start_sector = blk_rq_pos(rq);
	desc->addr = q->ios[rq->tag].buf_addr;
	/* the data is already in memory the server shares: say where */
	if ((q->flags & UBLK_F_SHMEM_ZC) && ubk_rq_has_data(rq) &&
	    ubk_shmem_match(q->dev, rq, &shmem_addr)) {
		desc->op_flags |= UBLK_IO_F_SHMEM_ZC;
		desc->addr = shmem_addr;
	}
	if (req_op(rq) == REQ_OP_DRV_IN)
		ubk_zoned_setup_desc(rq, desc);
}

/* Under q->lock: bind @rq to its slot, ARMED -> QUEUED. */
static __always_inline enum ubk_bind
ubk_bind_rq_locked(struct ubk_queue *q, struct request *rq,
		   struct io_uring_cmd **cmd)
{
	struct ubk_io *io = &q->ios[rq->tag];

	lockdep_assert_held(&q->lock);
	if (q->fail_io || q->force_abort)
		return UBK_BIND_FAIL;
	if (q->canceling || io->state != UBK_IO_ARMED)
		return UBK_BIND_ABORT;
	io->state = UBK_IO_QUEUED;
	io->req = rq;
	*cmd = io->cmd;
	return UBK_BIND_OK;
}

/*
 * Copy mode, write request: copy the data into the server's buffer.
 * Returns false when nothing could be copied (retry later).
 */
static __always_inline bool ubk_io_map(struct ubk_queue *q,
				       struct request *rq, struct ubk_io *io)
{
	if (!ubk_copy_mode(q->flags) || req_op(rq) != REQ_OP_WRITE ||
	    !ubk_rq_has_data(rq) || ubk_desc_is_shmem(q, rq->tag))
		return true;
	return ubk_io_copy_in(q, rq, io);
}

static inline bool ubk_io_get_ref(struct ubk_io *io)
{
	return refcount_inc_not_zero(&io->ref);
}

static inline void ubk_io_put_ref(struct ubk_io *io, struct request *rq)
{
	if (refcount_dec_and_test(&io->ref))
		ubk_complete_request(io, rq);
}

static __always_inline int ubk_parse_auto_reg(u64 sqe_addr,
					      struct ublk_auto_buf_reg *reg)
{
	*reg = ublk_sqe_addr_to_auto_buf_reg(sqe_addr);
	if (reg->reserved0 || reg->reserved1)
		return -EINVAL;
	if (reg->flags & ~UBLK_AUTO_BUF_REG_F_MASK)
		return -EINVAL;
	return 0;
}

/*
 * ubk_complete_request(), except that a request done in whole joins @iob
 * (if not NULL), to be ended with the rest of the batch by ubk_end_batch().
 */
static __always_inline void ubk_complete_request_batch(struct ubk_io *io,
						       struct request *rq,
						       struct io_comp_batch *iob)
{
	int res = io->result;
	bool whole = ubk_rq_has_data(rq) ?
		     res >= 0 && (unsigned int)res == blk_rq_bytes(rq) :
		     res >= 0;

	if (iob && whole &&
	    blk_mq_add_to_batch(rq, iob, false, blk_mq_end_request_batch))
		return;
	ubk_complete_request(io, rq);
}

/*
 * The result a commit of @result for @rq stands for, per-I/O or batch: a
 * zone append that moved data says where (@lba); one inside its zone that
 * the data fits from becomes the request's sector, any other fails it.
 */
static __always_inline int ubk_zoned_commit_append(const struct ubk_queue *q,
						   struct request *rq, u64 lba,
						   int result)
{
	if (req_op(rq) != REQ_OP_ZONE_APPEND || result <= 0)
		return result;
	return __ubk_zoned_commit_append(q, rq, lba, result);
}

/*
 * Under the queue lock, at commit or undo: forget the automatic
 * registration and say which index @cmd's ring should unregister, or -1.
 */
static __always_inline void ubk_take_auto_reg(struct ubk_io *io,
					      struct io_uring_cmd *cmd,
					      int *index)
{
	*index = -1;
	if (!(io->flags & UBK_IOF_AUTO_REG))
		return;
	io->flags &= ~UBK_IOF_AUTO_REG;
	/* a buffer in another ring's table is not this ring's to drop */
	if (io->auto_reg_ctx == io_uring_cmd_ctx_handle(cmd))
		*index = io->auto_reg.index;
}

#endif /* UBKCTL_DRV_UBK_H */
