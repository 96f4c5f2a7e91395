/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ublk UAPI: the contract between a ublk server (cli/) and the ublk driver
 * (kernel/, or the upstream ublk_drv). Written for ublkctl; numbers and
 * layouts are binary-compatible with Linux's include/uapi/linux/ublk_cmd.h.
 *
 * Control commands go to /dev/ublk-control, I/O commands to /dev/ublkcN,
 * both as io_uring URING_CMDs whose payload sits in the SQE command area.
 */
#ifndef _UAPI_LINUX_UBLK_CMD_H
#define _UAPI_LINUX_UBLK_CMD_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* ---- Control commands (payload: struct ublksrv_ctrl_cmd) ---- */

/* Legacy opcode numbers; the ioctl-encoded forms below are preferred. */
#define UBLK_CMD_GET_QUEUE_AFFINITY	0x01
#define UBLK_CMD_GET_DEV_INFO		0x02
#define UBLK_CMD_ADD_DEV		0x04
#define UBLK_CMD_DEL_DEV		0x05
#define UBLK_CMD_START_DEV		0x06
#define UBLK_CMD_STOP_DEV		0x07
#define UBLK_CMD_SET_PARAMS		0x08
#define UBLK_CMD_GET_PARAMS		0x09
#define UBLK_CMD_START_USER_RECOVERY	0x10
#define UBLK_CMD_END_USER_RECOVERY	0x11
#define UBLK_CMD_GET_DEV_INFO2		0x12
#define UBLK_CMD_GET_FEATURES		0x13
#define UBLK_CMD_DEL_DEV_ASYNC		0x14
#define UBLK_CMD_UPDATE_SIZE		0x15
#define UBLK_CMD_QUIESCE_DEV		0x16
#define UBLK_CMD_TRY_STOP_DEV		0x17
#define UBLK_CMD_REG_BUF		0x18
#define UBLK_CMD_UNREG_BUF		0x19

#define UBLK_CTRL_IOR(nr)	_IOR('u', (nr), struct ublksrv_ctrl_cmd)
#define UBLK_CTRL_IOWR(nr)	_IOWR('u', (nr), struct ublksrv_ctrl_cmd)

#define UBLK_U_CMD_GET_QUEUE_AFFINITY	UBLK_CTRL_IOR(UBLK_CMD_GET_QUEUE_AFFINITY)
#define UBLK_U_CMD_GET_DEV_INFO		UBLK_CTRL_IOR(UBLK_CMD_GET_DEV_INFO)
#define UBLK_U_CMD_ADD_DEV		UBLK_CTRL_IOWR(UBLK_CMD_ADD_DEV)
#define UBLK_U_CMD_DEL_DEV		UBLK_CTRL_IOWR(UBLK_CMD_DEL_DEV)
#define UBLK_U_CMD_START_DEV		UBLK_CTRL_IOWR(UBLK_CMD_START_DEV)
#define UBLK_U_CMD_STOP_DEV		UBLK_CTRL_IOWR(UBLK_CMD_STOP_DEV)
#define UBLK_U_CMD_SET_PARAMS		UBLK_CTRL_IOWR(UBLK_CMD_SET_PARAMS)
#define UBLK_U_CMD_GET_PARAMS		UBLK_CTRL_IOR(UBLK_CMD_GET_PARAMS)
#define UBLK_U_CMD_START_USER_RECOVERY	UBLK_CTRL_IOWR(UBLK_CMD_START_USER_RECOVERY)
#define UBLK_U_CMD_END_USER_RECOVERY	UBLK_CTRL_IOWR(UBLK_CMD_END_USER_RECOVERY)
#define UBLK_U_CMD_GET_DEV_INFO2	UBLK_CTRL_IOR(UBLK_CMD_GET_DEV_INFO2)
#define UBLK_U_CMD_GET_FEATURES		UBLK_CTRL_IOR(UBLK_CMD_GET_FEATURES)
/* DEL_DEV_ASYNC is _IOR upstream, unlike DEL_DEV; kept for compatibility. */
#define UBLK_U_CMD_DEL_DEV_ASYNC	UBLK_CTRL_IOR(UBLK_CMD_DEL_DEV_ASYNC)
#define UBLK_U_CMD_UPDATE_SIZE		UBLK_CTRL_IOWR(UBLK_CMD_UPDATE_SIZE)
#define UBLK_U_CMD_QUIESCE_DEV		UBLK_CTRL_IOWR(UBLK_CMD_QUIESCE_DEV)
#define UBLK_U_CMD_TRY_STOP_DEV		UBLK_CTRL_IOWR(UBLK_CMD_TRY_STOP_DEV)
#define UBLK_U_CMD_REG_BUF		UBLK_CTRL_IOWR(UBLK_CMD_REG_BUF)
#define UBLK_U_CMD_UNREG_BUF		UBLK_CTRL_IOWR(UBLK_CMD_UNREG_BUF)

/* GET_FEATURES writes one u64 of UBLK_F_* bits. */
#define UBLK_FEATURES_LEN	8

/*
 * 32 bytes, in the SQE command area (the ring needs IORING_SETUP_SQE128).
 * queue_id is (u16)-1 unless the command names a queue. addr/len describe
 * the command's buffer (dev_info, params, features, cpu mask). data[0]
 * carries the command's scalar argument: the server's tgid for START_DEV and
 * END_USER_RECOVERY, the new size in sectors for UPDATE_SIZE, a timeout in
 * ms for QUIESCE_DEV. dev_path_len is for unprivileged devices: the buffer
 * then starts with the /dev/ublkcN path the permission check uses.
 */
struct ublksrv_ctrl_cmd {
	__u32	dev_id;
	__u16	queue_id;
	__u16	len;
	__u64	addr;
	__u64	data[1];
	__u16	dev_path_len;
	__u16	pad;
	__u32	reserved;
};

/* Buffer of REG_BUF (SHMEM_ZC): a page-aligned shared memory area. */
struct ublk_shmem_buf_reg {
	__u64	addr;
	__u64	len;
	__u32	flags;
	__u32	reserved;
};
#define UBLK_SHMEM_BUF_READ_ONLY	(1U << 0)

/* ---- Device flags / features (ADD_DEV dev_info.flags, GET_FEATURES) ---- */

#define UBLK_F_SUPPORT_ZERO_COPY	(1ULL << 0)	/* REGISTER/UNREGISTER_IO_BUF */
#define UBLK_F_URING_CMD_COMP_IN_TASK	(1ULL << 1)
#define UBLK_F_NEED_GET_DATA		(1ULL << 2)	/* writes ask for a buffer first */
#define UBLK_F_USER_RECOVERY		(1ULL << 3)
#define UBLK_F_USER_RECOVERY_REISSUE	(1ULL << 4)
#define UBLK_F_UNPRIVILEGED_DEV		(1ULL << 5)
#define UBLK_F_CMD_IOCTL_ENCODE		(1ULL << 6)
#define UBLK_F_USER_COPY		(1ULL << 7)	/* pread/pwrite on /dev/ublkcN */
#define UBLK_F_ZONED			(1ULL << 8)
#define UBLK_F_USER_RECOVERY_FAIL_IO	(1ULL << 9)
#define UBLK_F_UPDATE_SIZE		(1ULL << 10)
#define UBLK_F_AUTO_BUF_REG		(1ULL << 11)
#define UBLK_F_QUIESCE			(1ULL << 12)
#define UBLK_F_PER_IO_DAEMON		(1ULL << 13)
#define UBLK_F_BUF_REG_OFF_DAEMON	(1ULL << 14)
#define UBLK_F_BATCH_IO			(1ULL << 15)
#define UBLK_F_INTEGRITY		(1ULL << 16)
#define UBLK_F_SAFE_STOP_DEV		(1ULL << 17)
#define UBLK_F_NO_AUTO_PART_SCAN	(1ULL << 18)
#define UBLK_F_SHMEM_ZC			(1ULL << 19)
#define UBLK_F_IO_DESC_SIZE		(1ULL << 20)

/* ---- Device states (dev_info.state) ---- */
#define UBLK_S_DEV_DEAD		0
#define UBLK_S_DEV_LIVE		1
#define UBLK_S_DEV_QUIESCED	2
#define UBLK_S_DEV_FAIL_IO	3

/* 64 bytes: ADD_DEV's in/out buffer, GET_DEV_INFO(2)'s reply. */
struct ublksrv_ctrl_dev_info {
	__u16	nr_hw_queues;
	__u16	queue_depth;
	__u16	state;
	__u16	io_desc_size;		/* descriptor size; drivers report 24 */
	__u32	max_io_buf_bytes;
	__u32	dev_id;			/* (u32)-1 at ADD_DEV: kernel picks */
	__s32	ublksrv_pid;
	__u32	pad1;
	__u64	flags;
	__u64	ublksrv_flags;		/* opaque to the driver: server's own */
	__u32	owner_uid;		/* filled in by the driver */
	__u32	owner_gid;
	__u64	reserved1;
	__u64	reserved2;
};

/* ---- Per-I/O commands (payload: struct ublksrv_io_cmd) ---- */
#define UBLK_IO_FETCH_REQ		0x20
#define UBLK_IO_COMMIT_AND_FETCH_REQ	0x21
#define UBLK_IO_NEED_GET_DATA		0x22
#define UBLK_IO_REGISTER_IO_BUF		0x23
#define UBLK_IO_UNREGISTER_IO_BUF	0x24
#define UBLK_IO_PREP_IO_CMDS		0x25
#define UBLK_IO_COMMIT_IO_CMDS		0x26
#define UBLK_IO_FETCH_IO_CMDS		0x27

#define UBLK_U_IO_FETCH_REQ		_IOWR('u', UBLK_IO_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_COMMIT_AND_FETCH_REQ	_IOWR('u', UBLK_IO_COMMIT_AND_FETCH_REQ, struct ublksrv_io_cmd)
#define UBLK_U_IO_NEED_GET_DATA		_IOWR('u', UBLK_IO_NEED_GET_DATA, struct ublksrv_io_cmd)
#define UBLK_U_IO_REGISTER_IO_BUF	_IOWR('u', UBLK_IO_REGISTER_IO_BUF, struct ublksrv_io_cmd)
#define UBLK_U_IO_UNREGISTER_IO_BUF	_IOWR('u', UBLK_IO_UNREGISTER_IO_BUF, struct ublksrv_io_cmd)

/* Batch commands (UBLK_F_BATCH_IO; payload: struct ublk_batch_io). */
#define UBLK_U_IO_PREP_IO_CMDS		_IOWR('u', UBLK_IO_PREP_IO_CMDS, struct ublk_batch_io)
#define UBLK_U_IO_COMMIT_IO_CMDS	_IOWR('u', UBLK_IO_COMMIT_IO_CMDS, struct ublk_batch_io)
#define UBLK_U_IO_FETCH_IO_CMDS		_IOWR('u', UBLK_IO_FETCH_IO_CMDS, struct ublk_batch_io)

/* Results a server commits, and what a FETCH completes with. */
#define UBLK_IO_RES_OK			0
#define UBLK_IO_RES_NEED_GET_DATA	1
#define UBLK_IO_RES_ABORT		(-19)	/* -ENODEV: the device is going away */

/* mmap offsets on /dev/ublkcN. */
#define UBLKSRV_CMD_BUF_OFFSET		0		/* io descriptor arrays */
#define UBLKSRV_IO_BUF_OFFSET		0x80000000	/* USER_COPY data window */

#define UBLK_MAX_QUEUE_DEPTH		4096

/*
 * USER_COPY file offset: UBLKSRV_IO_BUF_OFFSET + (q_id << UBLK_QID_OFF |
 * tag << UBLK_TAG_OFF | byte offset within the request).
 */
#define UBLK_IO_BUF_OFF			0
#define UBLK_IO_BUF_BITS		25
#define UBLK_IO_BUF_BITS_MASK		((1ULL << UBLK_IO_BUF_BITS) - 1)
#define UBLK_TAG_OFF			UBLK_IO_BUF_BITS
#define UBLK_TAG_BITS			16
#define UBLK_TAG_BITS_MASK		((1ULL << UBLK_TAG_BITS) - 1)
#define UBLK_QID_OFF			(UBLK_TAG_OFF + UBLK_TAG_BITS)
#define UBLK_QID_BITS			12
#define UBLK_QID_BITS_MASK		((1ULL << UBLK_QID_BITS) - 1)
#define UBLK_MAX_NR_QUEUES		(1U << UBLK_QID_BITS)
#define UBLKSRV_IO_BUF_TOTAL_BITS	(UBLK_QID_OFF + UBLK_QID_BITS)
#define UBLKSRV_IO_BUF_TOTAL_SIZE	(1ULL << UBLKSRV_IO_BUF_TOTAL_BITS)
/* USER_COPY offset bit selecting the integrity (metadata) buffer. */
#define UBLK_INTEGRITY_FLAG_OFF		62
#define UBLKSRV_IO_INTEGRITY_FLAG	(1ULL << UBLK_INTEGRITY_FLAG_OFF)

/* ---- I/O descriptor (mmapped, one per tag, written by the driver) ---- */
#define UBLK_IO_OP_READ			0
#define UBLK_IO_OP_WRITE		1
#define UBLK_IO_OP_FLUSH		2
#define UBLK_IO_OP_DISCARD		3
#define UBLK_IO_OP_WRITE_SAME		4
#define UBLK_IO_OP_WRITE_ZEROES		5
#define UBLK_IO_OP_ZONE_OPEN		10
#define UBLK_IO_OP_ZONE_CLOSE		11
#define UBLK_IO_OP_ZONE_FINISH		12
#define UBLK_IO_OP_ZONE_APPEND		13
#define UBLK_IO_OP_ZONE_RESET_ALL	14
#define UBLK_IO_OP_ZONE_RESET		15
#define UBLK_IO_OP_REPORT_ZONES		18

#define UBLK_IO_F_FAILFAST_DEV		(1U << 8)
#define UBLK_IO_F_FAILFAST_TRANSPORT	(1U << 9)
#define UBLK_IO_F_FAILFAST_DRIVER	(1U << 10)
#define UBLK_IO_F_META			(1U << 11)
#define UBLK_IO_F_FUA			(1U << 13)
#define UBLK_IO_F_NOUNMAP		(1U << 15)
#define UBLK_IO_F_SWAP			(1U << 16)
/* Auto registration failed (with FALLBACK): the server registers by hand. */
#define UBLK_IO_F_NEED_REG_BUF		(1U << 17)
#define UBLK_IO_F_INTEGRITY		(1U << 18)
#define UBLK_IO_F_SHMEM_ZC		(1U << 19)

/* 24 bytes. op in bits 0-7 of op_flags, UBLK_IO_F_* above them. */
struct ublksrv_io_desc {
	__u32	op_flags;
	union {
		__u32	nr_sectors;
		__u32	nr_zones;	/* UBLK_IO_OP_REPORT_ZONES */
	};
	__u64	start_sector;
	__u64	addr;			/* copy mode: the server's buffer */
};

static inline __u8 ublksrv_get_op(const struct ublksrv_io_desc *iod)
{
	return (__u8)(iod->op_flags & 0xff);
}

static inline __u32 ublksrv_get_flags(const struct ublksrv_io_desc *iod)
{
	return iod->op_flags >> 8;
}

/*
 * Automatic buffer registration (UBLK_F_AUTO_BUF_REG). The FETCH /
 * COMMIT_AND_FETCH SQE's addr carries where the kernel should register the
 * next request's pages in the issuing ring's buffer table:
 *   bits 0-15 buffer index, 16-23 flags, 24-63 reserved (zero).
 */
#define UBLK_AUTO_BUF_REG_FALLBACK	(1 << 0)
#define UBLK_AUTO_BUF_REG_F_MASK	UBLK_AUTO_BUF_REG_FALLBACK

struct ublk_auto_buf_reg {
	__u16	index;
	__u8	flags;
	__u8	reserved0;
	__u32	reserved1;
};

static inline __u64
ublk_auto_buf_reg_to_sqe_addr(const struct ublk_auto_buf_reg *reg)
{
	return (__u64)reg->index | (__u64)reg->flags << 16 |
	       (__u64)reg->reserved0 << 24 | (__u64)reg->reserved1 << 32;
}

static inline struct ublk_auto_buf_reg ublk_sqe_addr_to_auto_buf_reg(__u64 addr)
{
	struct ublk_auto_buf_reg reg = {
		.index = (__u16)addr,
		.flags = (__u8)(addr >> 16),
		.reserved0 = (__u8)(addr >> 24),
		.reserved1 = (__u32)(addr >> 32),
	};

	return reg;
}

/* 16 bytes. addr is the copy-mode buffer on FETCH, zone LBA on commit. */
struct ublksrv_io_cmd {
	__u16	q_id;
	__u16	tag;
	__s32	result;			/* COMMIT_AND_FETCH only */
	union {
		__u64	addr;
		__u64	zone_append_lba;
	};
};

/*
 * Batch I/O. sqe->addr points at nr_elem elements of elem_bytes each:
 *   struct ublk_elem_header               (always, 8 bytes)
 *   __u64 buf_addr    if UBLK_BATCH_F_HAS_BUF_ADDR
 *   __u64 zone_lba    if UBLK_BATCH_F_HAS_ZONE_LBA
 * FETCH_IO_CMDS is multishot on a provided-buffer group and delivers __u16
 * tags (elem_bytes 2, flags 0).
 */
struct ublk_elem_header {
	__u16	tag;
	__u16	buf_index;		/* auto buffer registration index */
	__s32	result;			/* COMMIT_IO_CMDS only */
};

struct ublk_batch_io {
	__u16	q_id;
#define UBLK_BATCH_F_HAS_ZONE_LBA		(1 << 0)
#define UBLK_BATCH_F_HAS_BUF_ADDR		(1 << 1)
#define UBLK_BATCH_F_AUTO_BUF_REG_FALLBACK	(1 << 2)
	__u16	flags;
	__u16	nr_elem;
	__u8	elem_bytes;
	__u8	reserved;
	__u64	reserved2;
};

/* ---- Device parameters (SET_PARAMS / GET_PARAMS) ---- */
struct ublk_param_basic {
#define UBLK_ATTR_READ_ONLY		(1 << 0)
#define UBLK_ATTR_ROTATIONAL		(1 << 1)
#define UBLK_ATTR_VOLATILE_CACHE	(1 << 2)
#define UBLK_ATTR_FUA			(1 << 3)
	__u32	attrs;
	__u8	logical_bs_shift;
	__u8	physical_bs_shift;
	__u8	io_opt_shift;
	__u8	io_min_shift;
	__u32	max_sectors;
	__u32	chunk_sectors;
	__u64	dev_sectors;
	__u64	virt_boundary_mask;
};

struct ublk_param_discard {
	__u32	discard_alignment;
	__u32	discard_granularity;
	__u32	max_discard_sectors;
	__u32	max_write_zeroes_sectors;
	__u16	max_discard_segments;
	__u16	reserved0;
};

/* Read-only: filled in by GET_PARAMS. */
struct ublk_param_devt {
	__u32	char_major;
	__u32	char_minor;
	__u32	disk_major;
	__u32	disk_minor;
};

struct ublk_param_zoned {
	__u32	max_open_zones;
	__u32	max_active_zones;
	__u32	max_zone_append_sectors;
	__u8	reserved[20];
};

struct ublk_param_dma_align {
	__u32	alignment;
	__u8	pad[4];
};

#define UBLK_MIN_SEGMENT_SIZE	4096

/* seg_boundary_mask + 1 is a power of two >= 4096; no field may be 0. */
struct ublk_param_segment {
	__u64	seg_boundary_mask;
	__u32	max_segment_size;
	__u16	max_segments;
	__u8	pad[2];
};

struct ublk_param_integrity {
	__u32	flags;
	__u16	max_integrity_segments;
	__u8	interval_exp;
	__u8	metadata_size;
	__u8	pi_offset;
	__u8	csum_type;
	__u8	tag_size;
	__u8	pad[5];
};

/*
 * len is the size the caller knows; the driver may shorten it (and types)
 * when the two sides were built from different header versions.
 */
struct ublk_params {
	__u32	len;
#define UBLK_PARAM_TYPE_BASIC		(1 << 0)
#define UBLK_PARAM_TYPE_DISCARD		(1 << 1)
#define UBLK_PARAM_TYPE_DEVT		(1 << 2)
#define UBLK_PARAM_TYPE_ZONED		(1 << 3)
#define UBLK_PARAM_TYPE_DMA_ALIGN	(1 << 4)
#define UBLK_PARAM_TYPE_SEGMENT		(1 << 5)
#define UBLK_PARAM_TYPE_INTEGRITY	(1 << 6)
	__u32	types;
	struct ublk_param_basic		basic;
	struct ublk_param_discard	discard;
	struct ublk_param_devt		devt;
	struct ublk_param_zoned		zoned;
	struct ublk_param_dma_align	dma;
	struct ublk_param_segment	seg;
	struct ublk_param_integrity	integrity;
};

/* SHMEM_ZC: io_desc.addr = buffer index << 32 | byte offset. */
#define UBLK_SHMEM_ZC_OFF_MASK		0xffffffffULL
#define UBLK_SHMEM_ZC_IDX_OFF		32
#define UBLK_SHMEM_ZC_IDX_MASK		0xffffULL

#endif /* _UAPI_LINUX_UBLK_CMD_H */
