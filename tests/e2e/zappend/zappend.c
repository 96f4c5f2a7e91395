// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper for tests/e2e/zoned.bats: issue one REQ_OP_ZONE_APPEND at
 * load time, as a file system on a zoned device does; nothing in user
 * space can. insmod zappend.ko dev=/dev/ublkbN sector=ZONE_START
 * [sectors=N] [fill=BYTE]: appends N sectors (1-8) of BYTE to the zone and
 * stays loaded with the sector the device wrote them at in
 * /sys/module/zappend/parameters/result; a failed append fails insmod
 * with its error.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/fs.h>
#include <linux/module.h>

static char *dev;
module_param(dev, charp, 0444);
static unsigned long long sector;
module_param(sector, ullong, 0444);
static unsigned int sectors = 8;
module_param(sectors, uint, 0444);
static unsigned int fill = 0x5a;
module_param(fill, uint, 0444);
static unsigned long long result = ~0ULL;
module_param(result, ullong, 0444);

static int __init zappend_init(void)
{
	struct file *f;
	struct page *page;
	struct bio *bio;
	int ret;

	if (!dev || !sectors || sectors > PAGE_SIZE >> SECTOR_SHIFT)
		return -EINVAL;
	f = bdev_file_open_by_path(dev, BLK_OPEN_READ | BLK_OPEN_WRITE, NULL,
				   NULL);
	if (IS_ERR(f))
		return PTR_ERR(f);
	page = alloc_page(GFP_KERNEL);
	if (!page) {
		ret = -ENOMEM;
		goto out_put;
	}
	memset(page_address(page), fill, PAGE_SIZE);
	bio = bio_alloc(file_bdev(f), 1, REQ_OP_ZONE_APPEND, GFP_KERNEL);
	bio->bi_iter.bi_sector = sector;
	__bio_add_page(bio, page, sectors << SECTOR_SHIFT, 0);
	ret = submit_bio_wait(bio);
	/* on success the block layer put the written sector here */
	if (!ret)
		result = bio->bi_iter.bi_sector;
	pr_info("zappend: %s sector %llu: %d, written at %llu\n", dev, sector,
		ret, result);
	bio_put(bio);
	__free_page(page);
out_put:
	fput(f);
	return ret;
}

static void __exit zappend_exit(void)
{
}

module_init(zappend_init);
module_exit(zappend_exit);
MODULE_DESCRIPTION("one zone append, for tests");
MODULE_LICENSE("GPL");
