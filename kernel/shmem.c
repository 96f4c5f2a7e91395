// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl_drv: shared memory zero copy (UBLK_F_SHMEM_ZC) - REG_BUF,
 * UNREG_BUF and the lookup that tells the server where a request's data
 * already is.
 *
 * Design note. REG_BUF pins the pages of a range of the caller's memory
 * (a shared mapping the server also has) and records, for every run of
 * physically contiguous pages, which buffer and byte offset it is, in a
 * maple tree keyed by PFN. The kernel never touches the memory through
 * that record: when every page of a request's bio vectors falls, in
 * order and without gaps, into one registered buffer, the descriptor says
 * UBLK_IO_F_SHMEM_ZC with buffer index and offset instead of a buffer
 * address, and the copy to or from the server is skipped. The pins only
 * keep the PFN-to-offset record true (the pages cannot move or be freed).
 *
 * Writers (REG_BUF, UNREG_BUF, teardown) serialise on shmem_mutex; the
 * dispatch path reads the tree under RCU and never waits for them, so no
 * command here freezes the queue or waits for requests. Hence a request
 * dispatched before UNREG_BUF returned may still carry the old index: the
 * server stops using a buffer before unregistering it.
 *
 * Registrations belong to the device, not to the server: they survive the
 * server's death and user recovery, and DEL_DEV drops them. Pinned pages
 * are charged to the caller's RLIMIT_MEMLOCK unless it has CAP_IPC_LOCK,
 * as io_uring does for its fixed buffers.
 */
#include <linux/capability.h>
#include <linux/maple_tree.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "ubk.h"

/* The offset in the descriptor's addr has 32 bits. */
#define UBK_SHMEM_MAX_LEN	(1ULL << 32)
/* Ranges erased per lock hold before their pages are unpinned. */
#define UBK_SHMEM_ERASE_BATCH	16

/*
 * A tree entry is a value entry packing the run's buffer index (bits
 * 0-15), the read-only flag (bit 16) and the run's first page within the
 * buffer (bits 17 up): no allocation per run, nothing to free after RCU.
 */
#define UBK_SHMEM_RO_BIT	16
#define UBK_SHMEM_PGOFF_SHIFT	17

static void *ubk_shmem_entry(u16 index, bool ro, unsigned long pgoff)
{
	return xa_mk_value(index | (unsigned long)ro << UBK_SHMEM_RO_BIT |
			   pgoff << UBK_SHMEM_PGOFF_SHIFT);
}

static u16 ubk_shmem_entry_index(void *entry)
{
	return xa_to_value(entry) & 0xffff;
}

static bool ubk_shmem_entry_ro(void *entry)
{
	return xa_to_value(entry) & BIT(UBK_SHMEM_RO_BIT);
}

static unsigned long ubk_shmem_entry_pgoff(void *entry)
{
	return xa_to_value(entry) >> UBK_SHMEM_PGOFF_SHIFT;
}

/* One registered buffer, in ub->shmem_bufs at its index. */
struct ubk_shmem_buf {
	unsigned long nr_pages;
	struct user_struct *user;	/* charged for the pins, or NULL */
};

void ubk_shmem_init(struct ubk_device *ub)
{
	mutex_init(&ub->shmem_mutex);
	mt_init_flags(&ub->shmem_tree, MT_FLAGS_USE_RCU);
	xa_init_flags(&ub->shmem_bufs, XA_FLAGS_ALLOC);
}

static int ubk_shmem_charge(struct user_struct *user, unsigned long nr)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm);

	do {
		if (nr > limit || cur > limit - nr)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + nr));
	return 0;
}

static void ubk_shmem_free_buf(struct ubk_shmem_buf *buf)
{
	if (buf->user) {
		atomic_long_sub(buf->nr_pages, &buf->user->locked_vm);
		free_uid(buf->user);
	}
	kfree(buf);
}

struct ubk_shmem_run {
	unsigned long pfn;
	unsigned long nr;
};

static void ubk_shmem_unpin_run(const struct ubk_shmem_run *run,
				bool may_sleep)
{
	unsigned long i;

	for (i = 0; i < run->nr; i++) {
		unpin_user_page(pfn_to_page(run->pfn + i));
		if (may_sleep && !(i % 1024))
			cond_resched();
	}
}

/*
 * Erase the runs of buffer @index (all runs if @index < 0) from the tree,
 * unpinning their pages if @unpin. The tree lock is held for a batch of
 * runs at a time and never while pages are unpinned.
 */
static void ubk_shmem_erase(struct ubk_device *ub, int index, bool unpin,
			    bool may_sleep)
{
	struct ubk_shmem_run runs[UBK_SHMEM_ERASE_BATCH];
	unsigned long pos = 0;
	unsigned int n, i;
	void *entry;
	bool more;
	MA_STATE(mas, &ub->shmem_tree, 0, 0);

	do {
		n = 0;
		more = false;
		mas_lock(&mas);
		mas_set(&mas, pos);
		while ((entry = mas_find(&mas, ULONG_MAX))) {
			pos = mas.last + 1;
			if (index >= 0 && ubk_shmem_entry_index(entry) != index)
				continue;
			runs[n].pfn = mas.index;
			runs[n].nr = mas.last - mas.index + 1;
			mas_erase(&mas);
			if (++n == ARRAY_SIZE(runs)) {
				more = true;
				break;
			}
			mas_set(&mas, pos);
		}
		mas_unlock(&mas);
		for (i = 0; unpin && i < n; i++)
			ubk_shmem_unpin_run(&runs[i], may_sleep);
		if (may_sleep)
			cond_resched();
	} while (more);
}

/* Record @pages as buffer @index: one tree entry per contiguous run. */
static int ubk_shmem_insert(struct ubk_device *ub, struct page **pages,
			    unsigned long nr_pages, u16 index, bool ro)
{
	unsigned long i, end;
	int ret;

	for (i = 0; i < nr_pages; i = end + 1) {
		unsigned long pfn = page_to_pfn(pages[i]);

		for (end = i; end + 1 < nr_pages; end++)
			if (page_to_pfn(pages[end + 1]) != pfn + (end + 1 - i))
				break;
		/* an overlap with any run already there is refused */
		ret = mtree_insert_range(&ub->shmem_tree, pfn, pfn + (end - i),
					 ubk_shmem_entry(index, ro, i),
					 GFP_KERNEL_ACCOUNT);
		if (ret)
			return ret;
	}
	return 0;
}

int ubk_ctrl_reg_buf(struct ubk_device *ub, const struct ublksrv_ctrl_cmd *hdr)
{
	struct ublk_shmem_buf_reg reg = { };
	struct ubk_shmem_buf *buf;
	unsigned long nr_pages;
	struct page **pages;
	unsigned int gup_flags = FOLL_LONGTERM;
	long pinned = 0;
	u32 index;
	bool ro;
	int ret;

	if (!(ub->info.flags & UBLK_F_SHMEM_ZC))
		return -EOPNOTSUPP;
	/* a shorter payload reads as zeros past its end, as upstream */
	if (copy_from_user(&reg, u64_to_user_ptr(hdr->addr),
			   min_t(size_t, hdr->len, sizeof(reg))))
		return -EFAULT;
	if ((reg.flags & ~UBLK_SHMEM_BUF_READ_ONLY) || reg.reserved)
		return -EINVAL;
	if (!reg.len || reg.len > UBK_SHMEM_MAX_LEN ||
	    !PAGE_ALIGNED(reg.len) || !PAGE_ALIGNED(reg.addr) ||
	    reg.addr + reg.len < reg.addr)
		return -EINVAL;
	ro = reg.flags & UBLK_SHMEM_BUF_READ_ONLY;
	if (!ro)
		gup_flags |= FOLL_WRITE;
	nr_pages = reg.len >> PAGE_SHIFT;

	buf = kzalloc(sizeof(*buf), GFP_KERNEL_ACCOUNT);
	if (!buf)
		return -ENOMEM;
	buf->nr_pages = nr_pages;
	if (!capable(CAP_IPC_LOCK)) {
		buf->user = get_uid(current_user());
		ret = ubk_shmem_charge(buf->user, nr_pages);
		if (ret) {
			free_uid(buf->user);
			kfree(buf);
			return ret;
		}
	}

	ret = -ENOMEM;
	pages = kvmalloc_array(nr_pages, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		goto out_buf;
	pinned = pin_user_pages_fast(reg.addr, nr_pages, gup_flags, pages);
	if (pinned < 0) {
		ret = pinned;
		pinned = 0;
		goto out_pages;
	}
	ret = -EFAULT;
	if (pinned != nr_pages)
		goto out_pages;

	ret = mutex_lock_killable(&ub->shmem_mutex);
	if (ret)
		goto out_pages;
	ret = -ENODEV;
	if (test_bit(UBK_DEV_DELETED, &ub->state))
		goto out_unlock;
	ret = xa_alloc(&ub->shmem_bufs, &index, buf, XA_LIMIT(0, U16_MAX),
		       GFP_KERNEL_ACCOUNT);
	if (ret == -EBUSY)
		ret = -ENOSPC;
	if (ret)
		goto out_unlock;
	ret = ubk_shmem_insert(ub, pages, nr_pages, index, ro);
	if (ret) {
		/* the pins are dropped below from the page array */
		ubk_shmem_erase(ub, index, false, true);
		xa_erase(&ub->shmem_bufs, index);
		goto out_unlock;
	}
	mutex_unlock(&ub->shmem_mutex);
	kvfree(pages);
	return index;

out_unlock:
	mutex_unlock(&ub->shmem_mutex);
out_pages:
	if (pinned > 0)
		unpin_user_pages(pages, pinned);
	kvfree(pages);
out_buf:
	ubk_shmem_free_buf(buf);
	return ret;
}

int ubk_ctrl_unreg_buf(struct ubk_device *ub,
		       const struct ublksrv_ctrl_cmd *hdr)
{
	struct ubk_shmem_buf *buf;
	int ret;

	if (!(ub->info.flags & UBLK_F_SHMEM_ZC))
		return -EOPNOTSUPP;
	if (hdr->data[0] > U16_MAX)
		return -EINVAL;

	ret = mutex_lock_killable(&ub->shmem_mutex);
	if (ret)
		return ret;
	buf = xa_erase(&ub->shmem_bufs, hdr->data[0]);
	if (buf) {
		ubk_shmem_erase(ub, hdr->data[0], true, true);
		ubk_shmem_free_buf(buf);
	}
	mutex_unlock(&ub->shmem_mutex);
	return buf ? 0 : -ENOENT;
}

static void ubk_shmem_drop_all(struct ubk_device *ub, bool may_sleep)
{
	struct ubk_shmem_buf *buf;
	unsigned long index;

	ubk_shmem_erase(ub, -1, true, may_sleep);
	xa_for_each(&ub->shmem_bufs, index, buf) {
		xa_erase(&ub->shmem_bufs, index);
		ubk_shmem_free_buf(buf);
	}
}

/*
 * DEL_DEV, after UBK_DEV_DELETED is set: unpin everything. A REG_BUF
 * that takes the mutex later sees the bit and pins nothing.
 */
void ubk_shmem_remove(struct ubk_device *ub)
{
	mutex_lock(&ub->shmem_mutex);
	ubk_shmem_drop_all(ub, true);
	mutex_unlock(&ub->shmem_mutex);
}

/* The device's release: whatever a failed ADD_DEV left, and the tree. */
void ubk_shmem_free(struct ubk_device *ub)
{
	ubk_shmem_drop_all(ub, false);
	mtree_destroy(&ub->shmem_tree);
	xa_destroy(&ub->shmem_bufs);
	mutex_destroy(&ub->shmem_mutex);
}

/*
 * Do all of @rq's data pages lie, in order, in one registered buffer?
 * Then *addr is its UBLK_IO_F_SHMEM_ZC encoding. A read-only buffer only
 * serves writes: a read would have the server store into it.
 */
bool ubk_shmem_match(struct ubk_device *ub, struct request *rq, u64 *addr)
{
	MA_STATE(mas, &ub->shmem_tree, 0, 0);
	struct req_iterator it;
	unsigned long next = 0;
	struct bio_vec bv;
	bool first = true;
	unsigned long start = 0;
	bool ok = true;
	u16 index = 0;

	rcu_read_lock();
	rq_for_each_bvec(bv, rq, it) {
		unsigned long pfn = page_to_pfn(bv.bv_page) +
				    (bv.bv_offset >> PAGE_SHIFT);
		unsigned long in_page = offset_in_page(bv.bv_offset);
		unsigned long last_pfn = pfn +
			((in_page + bv.bv_len - 1) >> PAGE_SHIFT);
		unsigned long off;
		void *entry;

		mas_set(&mas, pfn);
		entry = mas_walk(&mas);
		if (!entry || !xa_is_value(entry) || last_pfn > mas.last) {
			ok = false;
			break;
		}
		off = ((ubk_shmem_entry_pgoff(entry) + pfn - mas.index)
		       << PAGE_SHIFT) + in_page;
		if (first) {
			if (ubk_shmem_entry_ro(entry) &&
			    req_op(rq) != REQ_OP_WRITE) {
				ok = false;
				break;
			}
			index = ubk_shmem_entry_index(entry);
			start = off;
			first = false;
		} else if (ubk_shmem_entry_index(entry) != index ||
			   off != next) {
			ok = false;
			break;
		}
		next = off + bv.bv_len;
	}
	rcu_read_unlock();
	if (!ok || first)
		return false;
	*addr = (u64)index << UBLK_SHMEM_ZC_IDX_OFF | start;
	return true;
}
