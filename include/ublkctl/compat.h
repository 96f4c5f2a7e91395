/* SPDX-License-Identifier: MIT */
/*
 * io_uring constants newer than the oldest liburing we build with (Debian 12
 * ships liburing 2.3). Values are the kernel's UAPI; each is defined only
 * when the installed headers lack it.
 */
#ifndef UBLKCTL_COMPAT_H
#define UBLKCTL_COMPAT_H

#include <liburing.h>
#include <sys/ioctl.h>

#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT (1U << 1)
#endif

/* sqe->nop_flags (shares the rw_flags slot in older headers). */
#ifndef IORING_NOP_INJECT_RESULT
#define IORING_NOP_INJECT_RESULT (1U << 0)
#endif
#ifndef IORING_NOP_FILE
#define IORING_NOP_FILE (1U << 1)
#endif
#ifndef IORING_NOP_FIXED_FILE
#define IORING_NOP_FIXED_FILE (1U << 2)
#endif
#ifndef IORING_NOP_FIXED_BUFFER
#define IORING_NOP_FIXED_BUFFER (1U << 3)
#endif

#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)
#endif

/*
 * Provided-buffer ring flags (struct io_uring_buf_reg.flags, called "pad"
 * in liburing 2.3). The enum upstream has no #define to test, so ours are
 * named separately.
 */
#define UBLKCTL_PBUF_RING_MMAP 1U
#define UBLKCTL_PBUF_RING_INC 2U

#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif

/*
 * io_uring command of a block device file (Linux 6.12): discard the byte
 * range sqe->addr, length sqe->addr3 (linux/blkdev.h, absent before).
 */
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

/* Set sqe->nop_flags whatever the header calls that slot. */
static inline void ublkctl_sqe_set_nop_flags(struct io_uring_sqe *sqe,
					     unsigned int flags)
{
	sqe->rw_flags = flags;
}

/*
 * Per-I/O attributes of a read or write (Linux 6.14, io_uring.h): sqe's
 * attr_ptr points at the attributes, attr_type_mask says which they are.
 * The only one is protection information: the PI buffer of addr/len goes
 * with the data, one metadata chunk per integrity interval, and seed is
 * the first interval's number, from which the block layer remaps
 * reference tags. rsvd must be 0 (-EINVAL otherwise). The kernel reports
 * the attributes with IORING_FEAT_RW_ATTR.
 */
#ifndef IORING_RW_ATTR_FLAG_PI
#define IORING_RW_ATTR_FLAG_PI (1U << 0)
struct io_uring_attr_pi {
	__u16 flags;
	__u16 app_tag;
	__u32 len;
	__u64 addr;
	__u64 seed;
	__u64 rsvd;
};
#endif
#ifndef IORING_FEAT_RW_ATTR
#define IORING_FEAT_RW_ATTR (1U << 16)
#endif

/*
 * Set sqe->attr_ptr and attr_type_mask: older headers call these slots
 * addr3 and __pad2[0], newer ones have both names for them.
 */
static inline void ublkctl_sqe_set_attr(struct io_uring_sqe *sqe,
					const void *attr, __u64 type_mask)
{
	sqe->addr3 = (__u64)(unsigned long)attr;
	sqe->__pad2[0] = type_mask;
}

/* linux/fs.h (Linux 6.17): the integrity capabilities and checksums. */
#ifndef LBMD_PI_CAP_INTEGRITY
#define LBMD_PI_CAP_INTEGRITY (1 << 0)
#define LBMD_PI_CAP_REFTAG (1 << 1)
#define LBMD_PI_CSUM_NONE 0
#define LBMD_PI_CSUM_IP 1
#define LBMD_PI_CSUM_CRC16_T10DIF 2
#define LBMD_PI_CSUM_CRC64_NVME 4
#endif

/*
 * linux/fs.h (Linux 6.14): struct io_uring_attr_pi.flags, asking the
 * kernel to check these fields of the PI it reads or writes.
 */
#ifndef IO_INTEGRITY_CHK_GUARD
#define IO_INTEGRITY_CHK_GUARD (1U << 0)
#define IO_INTEGRITY_CHK_REFTAG (1U << 1)
#define IO_INTEGRITY_CHK_APPTAG (1U << 2)
#endif

#endif /* UBLKCTL_COMPAT_H */
