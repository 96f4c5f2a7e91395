/* SPDX-License-Identifier: GPL-2.0 */
/*
 * --shmem-zc: one file of shared memory (tmpfs, hugetlbfs, a memfd) that
 * the server maps whole and registers with REG_BUF (UBLK_F_SHMEM_ZC).
 * A request whose data pages are pages of that file comes flagged
 * UBLK_IO_F_SHMEM_ZC, its io_desc.addr naming buffer index and offset:
 * the server serves it from its own mapping, the driver copies nothing.
 *
 * The driver keeps a registration (the pages pinned) until the device is
 * deleted, across a dead server: a recovering server maps the same file
 * again and does not register it: the pages are registered already (our
 * module would refuse them again with -EEXIST), and ublk_drv's REG_BUF
 * would freeze a queue whose requests wait for this server.
 * A device has one buffer, the first the driver numbers: index 0.
 */
#ifndef UBLKCTL_SHMEM_H
#define UBLKCTL_SHMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ublk_ctrl;

/* Index REG_BUF gives a device's first buffer (the driver's ida). */
#define UBLK_SHMEM_INDEX 0

struct ublk_shmem {
	void *base; /* MAP_SHARED, PROT_READ only when read_only */
	size_t len;
	bool read_only;
};

/*
 * add, before any side effect: path must open (read-only when ro) as a
 * regular file whose size is non-zero, at most 4G (the driver's limit)
 * and a multiple of its page size (the huge page size on hugetlbfs).
 * Returns EXIT_OK, EXIT_FAIL when it cannot be opened, EXIT_USAGE for a
 * file of the wrong kind or size; the error printed.
 */
int ublk_shmem_check(const char *path, bool ro);

/*
 * Map path whole (its size rounded up to pages: a recovering server takes
 * the file as it is now). 0 or a negative errno, the error printed.
 */
int ublk_shmem_map(const char *path, bool ro, struct ublk_shmem *m);

/* REG_BUF of the mapping for device dev_id. 0 or -errno, printed. */
int ublk_shmem_register(const struct ublk_shmem *m, struct ublk_ctrl *c,
			uint32_t dev_id);

void ublk_shmem_unmap(struct ublk_shmem *m);

/*
 * Where the data of a UBLK_IO_F_SHMEM_ZC request (its io_desc.addr, len
 * bytes) lies in the mapping; NULL if m is NULL or addr names another
 * buffer or a range outside it. Any thread.
 */
void *ublk_shmem_addr(const struct ublk_shmem *m, uint64_t addr, size_t len);

#endif /* UBLKCTL_SHMEM_H */
