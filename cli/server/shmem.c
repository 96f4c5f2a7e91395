// SPDX-License-Identifier: GPL-2.0
/*
 * --shmem-zc: check, map and register the shared memory file, and find a
 * flagged request's data in it (see shmem.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "ublkctl/ctrl.h"
#include "ublkctl/shmem.h"
#include "ublkctl/ublkctl.h"

/* REG_BUF's limit: the offset in io_desc.addr has 32 bits. */
#define SHMEM_MAX_LEN (1ULL << 32)

static int shmem_open(const char *path, bool ro)
{
	return open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
}

/* The unit a mapping of fd is made of: the huge page size on hugetlbfs. */
static size_t shmem_page(int fd, const struct stat *st)
{
	struct statfs sfs;

	if (!fstatfs(fd, &sfs) && sfs.f_type == HUGETLBFS_MAGIC &&
	    st->st_blksize > 0)
		return (size_t)st->st_blksize;
	return (size_t)sysconf(_SC_PAGESIZE);
}

int ublk_shmem_check(const char *path, bool ro)
{
	struct stat st;
	size_t pg;
	int fd, ret = EXIT_OK;

	fd = shmem_open(path, ro);
	if (fd < 0 && errno == EISDIR)
		return ublk_usage_err("--shmem-zc: %s: is a directory", path);
	if (fd < 0) {
		ublk_errno(errno, "--shmem-zc: %s", path);
		return EXIT_FAIL;
	}
	if (fstat(fd, &st)) {
		ublk_errno(errno, "--shmem-zc: %s", path);
		ret = EXIT_FAIL;
		goto out;
	}
	pg = shmem_page(fd, &st);
	if (!S_ISREG(st.st_mode))
		ret = ublk_usage_err(
			"--shmem-zc: %s: not a regular file (tmpfs, hugetlbfs or memfd)",
			path);
	else if (!st.st_size || (uint64_t)st.st_size > SHMEM_MAX_LEN)
		ret = ublk_usage_err(
			"--shmem-zc: %s: size %lld: not 1 byte to 4G", path,
			(long long)st.st_size);
	else if ((uint64_t)st.st_size % pg)
		ret = ublk_usage_err(
			"--shmem-zc: %s: size %lld: not a multiple of its page size (%zu)",
			path, (long long)st.st_size, pg);
out:
	close(fd);
	return ret;
}

int ublk_shmem_map(const char *path, bool ro, struct ublk_shmem *m)
{
	struct stat st;
	size_t pg;
	void *p;
	int fd, ret = 0;

	m->base = NULL;
	m->len = 0;
	m->read_only = ro;
	fd = shmem_open(path, ro);
	if (fd < 0 || fstat(fd, &st)) {
		ret = -errno;
		ublk_errno(-ret, "--shmem-zc: %s", path);
		goto out;
	}
	pg = shmem_page(fd, &st);
	m->len = ((size_t)st.st_size + pg - 1) / pg * pg;
	if (!m->len || m->len > SHMEM_MAX_LEN) {
		ret = -EINVAL;
		ublk_err("--shmem-zc: %s: size %lld: not 1 byte to 4G", path,
			 (long long)st.st_size);
		goto out;
	}
	p = mmap(NULL, m->len, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED,
		 fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		ublk_errno(-ret, "--shmem-zc: %s: mmap", path);
		goto out;
	}
	m->base = p;
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		m->len = 0;
	return ret;
}

int ublk_shmem_register(const struct ublk_shmem *m, struct ublk_ctrl *c,
			uint32_t dev_id)
{
	int ret;

	ret = ublk_ctrl_reg_buf(c, dev_id, m->base, m->len,
				m->read_only ? UBLK_SHMEM_BUF_READ_ONLY : 0);
	if (ret < 0) {
		ublk_errno(-ret, "device %u: --shmem-zc: REG_BUF", dev_id);
		return ret;
	}
	/* Another buffer on a fresh device: not ours to serve. */
	if (ret != UBLK_SHMEM_INDEX) {
		ublk_err(
			"device %u: --shmem-zc: REG_BUF gave buffer %d, not %d",
			dev_id, ret, UBLK_SHMEM_INDEX);
		return -EEXIST;
	}
	return 0;
}

void ublk_shmem_unmap(struct ublk_shmem *m)
{
	if (m->base)
		munmap(m->base, m->len);
	m->base = NULL;
	m->len = 0;
}

void *ublk_shmem_addr(const struct ublk_shmem *m, uint64_t addr, size_t len)
{
	uint64_t off = addr & UBLK_SHMEM_ZC_OFF_MASK;

	if (!m || !m->base ||
	    ((addr >> UBLK_SHMEM_ZC_IDX_OFF) & UBLK_SHMEM_ZC_IDX_MASK) !=
		    UBLK_SHMEM_INDEX ||
	    addr >> (UBLK_SHMEM_ZC_IDX_OFF + 16) || off + len > m->len)
		return NULL;
	return (char *)m->base + off;
}
