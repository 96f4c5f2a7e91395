/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included when building the upstream kublk selftest server against
 * the host's liburing 2.3, whose bundled io_uring.h predates the constants
 * kublk uses. Values are the kernel UAPI's (include/uapi/linux/io_uring.h).
 */
#ifndef UBLKCTL_CONFORMANCE_COMPAT_H
#define UBLKCTL_CONFORMANCE_COMPAT_H

#include <liburing.h>

#ifndef IORING_URING_CMD_FIXED
#define IORING_URING_CMD_FIXED		(1U << 0)
#endif
#ifndef IORING_URING_CMD_MULTISHOT
#define IORING_URING_CMD_MULTISHOT	(1U << 1)
#endif
#define UBLKCTL_COMPAT_PBUF_RING_INC	2
#define IOU_PBUF_RING_INC		UBLKCTL_COMPAT_PBUF_RING_INC
#define IORING_OP_READV_FIXED		60
#define IORING_OP_WRITEV_FIXED		61

#ifndef LBMD_PI_CAP_INTEGRITY
#define LBMD_PI_CAP_INTEGRITY		(1 << 0)
#define LBMD_PI_CAP_REFTAG		(1 << 1)
#define LBMD_PI_CSUM_NONE		0
#define LBMD_PI_CSUM_IP			1
#define LBMD_PI_CSUM_CRC16_T10DIF	2
#define LBMD_PI_CSUM_CRC64_NVME		4
#endif

#include <sys/mman.h>
#include <errno.h>

/*
 * liburing >= 2.5 clears the per-request fields of every SQE it hands out;
 * 2.3 returns the slot as the last user left it. kublk relies on the
 * newer behaviour: a COMMIT_IO_CMDS that lands in a slot last used by a
 * multishot FETCH_IO_CMDS would inherit IORING_URING_CMD_MULTISHOT (and a
 * buffer group) and io_uring fails it with -EINVAL before any driver sees
 * it - with upstream ublk_drv just the same.
 */
static inline struct io_uring_sqe *compat_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (sqe) {
		sqe->flags = 0;
		sqe->ioprio = 0;
		sqe->rw_flags = 0;
		sqe->buf_index = 0;
		sqe->personality = 0;
		sqe->file_index = 0;
		sqe->addr3 = 0;
		sqe->__pad2[0] = 0;
	}
	return sqe;
}
#define io_uring_get_sqe compat_get_sqe

/* liburing >= 2.4 helpers used by kublk's batch mode. */
static inline struct io_uring_buf_ring *
compat_setup_buf_ring(struct io_uring *ring, unsigned int nentries, int bgid,
		      unsigned int flags, int *err)
{
	struct io_uring_buf_reg reg = { 0 };
	struct io_uring_buf_ring *br;
	size_t len = nentries * sizeof(struct io_uring_buf);
	int ret;

	br = mmap(NULL, len, PROT_READ | PROT_WRITE,
		  MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br == MAP_FAILED) {
		*err = -errno;
		return NULL;
	}
	reg.ring_addr = (unsigned long)br;
	reg.ring_entries = nentries;
	reg.bgid = bgid;
	reg.pad = flags;	/* "flags" in newer headers */
	ret = io_uring_register_buf_ring(ring, &reg, 0);
	if (ret) {
		munmap(br, len);
		*err = ret;
		return NULL;
	}
	io_uring_buf_ring_init(br);
	*err = 0;
	return br;
}
#define io_uring_setup_buf_ring compat_setup_buf_ring

static inline int compat_free_buf_ring(struct io_uring *ring,
				       struct io_uring_buf_ring *br,
				       unsigned int nentries, int bgid)
{
	int ret = io_uring_unregister_buf_ring(ring, bgid);

	if (ret)
		return ret;
	munmap(br, nentries * sizeof(struct io_uring_buf));
	return 0;
}
#define io_uring_free_buf_ring compat_free_buf_ring

#endif
