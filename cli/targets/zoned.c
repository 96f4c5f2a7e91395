// SPDX-License-Identifier: GPL-2.0
/*
 * zoned target: a zoned block device (UBLK_F_ZONED) kept in one file.
 * The first zones may be conventional (written anywhere); the others are
 * sequential: written only at their write pointer, or by zone append,
 * and opened, closed, finished and reset as a ZBC/ZNS device's are, with
 * the open and active zone limits enforced.
 *
 * FILE layout: a metadata area, then the zones' data. The metadata area
 * is one 4 KiB header page (struct zoned_hdr) followed by one 16-byte
 * record per zone (struct zoned_ent: write pointer, condition), rounded
 * up to whole 4 KiB pages. It is mapped shared, so every change is in
 * the page cache at once (a del and add of the same file sees it) and a
 * FLUSH (fdatasync) makes the zone state durable with the data before it.
 * Zones that were open when the device went away come back closed, as on
 * a drive after a power cycle.
 *
 * Only user copy (UBLK_F_USER_COPY), per-I/O or --batch: the driver
 * passes a zone append's LBA back in the field that carries a copy
 * buffer's address (a batch element has a field of its own), so it
 * refuses a zoned device in plain copy mode; zero copy would leave no way
 * to fill a zone report from here.
 *
 * Unlike the other targets, queue_io does its file I/O synchronously,
 * under one lock over the zone state: a write must move the write pointer
 * only if it succeeded, and writes to one zone (from any queue) must see
 * each other's pointer. A zoned device here is for function, not speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/blkzoned.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ublkctl/compat.h"
#include "ublkctl/server.h"

enum {
	ZONED_OPT_ZONE_SIZE = 1300,
	ZONED_OPT_CONV,
	ZONED_OPT_MAX_OPEN,
	ZONED_OPT_MAX_ACTIVE,
};

#define ZONED_MAGIC "UBLKZND1"
#define ZONED_VERSION 1
#define ZONED_PAGE 4096ULL
#define ZONED_MIN_ZONE 4096ULL
#define ZONED_MAX_ZONE (1ULL << 40) /* chunk_sectors is 32 bits */
#define ZONED_MAX_ZONES (1U << 24)

/* Page 0 of FILE. Host byte order: the file stays on its machine. */
struct zoned_hdr {
	char magic[8];
	uint32_t version;
	uint32_t nr_zones;
	uint64_t zone_size; /* bytes */
	uint32_t nr_conv; /* the first nr_conv zones are conventional */
	uint32_t reserved;
	/* zone appends served, ever (tests read it from the file) */
	uint64_t appends;
};

/* One per zone, after the header page. */
struct zoned_ent {
	uint64_t wp; /* absolute, in sectors; a conventional zone: unused */
	uint8_t cond; /* BLK_ZONE_COND_* */
	uint8_t reserved[7];
};

struct zoned_priv {
	const char *file;
	uint64_t zone_size;
	uint32_t nr_conv, max_open, max_active;
	bool read_only;
	bool fresh; /* FILE has no layout yet: activate writes one */
	bool activated;
	int fd;
	void *map; /* the metadata area, meta_len bytes */
	size_t meta_len;
	struct zoned_hdr *hdr;
	struct zoned_ent *ents;
	uint32_t nr_zones;
	unsigned int zshift; /* log2 of the zone size in sectors */
	uint32_t report_max; /* zones a request buffer holds */
	uint32_t nr_open, nr_active; /* derived from ents */
	pthread_mutex_t lock; /* ents, nr_open, nr_active, hdr->appends */
};

static const struct ublk_opt zoned_opts[] = {
	{ "file", 'f', required_argument, "PATH",
	  "backing file, zone state first (required)" },
	{ "zone-size", ZONED_OPT_ZONE_SIZE, required_argument, "SIZE",
	  "zone size, a power of 2 >= 4K (required)" },
	{ "conv-zones", ZONED_OPT_CONV, required_argument, "N",
	  "conventional zones at the start (default 0)" },
	{ "max-open-zones", ZONED_OPT_MAX_OPEN, required_argument, "N",
	  "open zones at most (default 0: no limit)" },
	{ "max-active-zones", ZONED_OPT_MAX_ACTIVE, required_argument, "N",
	  "open or closed zones at most (default 0: no limit)" },
	UBLK_OPT_END,
};

static int zoned_parse_opt(struct ublk_tgt *tgt, int key, const char *arg)
{
	struct zoned_priv *p = ublk_tgt_priv(tgt, sizeof(*p));

	if (!p)
		return EXIT_FAIL;
	switch (key) {
	case 'f':
		p->file = arg;
		return EXIT_OK;
	case ZONED_OPT_ZONE_SIZE:
		if (ublk_parse_size("zone-size", arg, ZONED_MIN_ZONE,
				    ZONED_MAX_ZONE, &p->zone_size))
			return EXIT_USAGE;
		if (p->zone_size & (p->zone_size - 1)) {
			ublk_err("--zone-size: '%s': not a power of 2", arg);
			return EXIT_USAGE;
		}
		return EXIT_OK;
	case ZONED_OPT_CONV:
		return ublk_parse_u32("conv-zones", arg, 0, ZONED_MAX_ZONES,
				      &p->nr_conv) ?
			       EXIT_USAGE :
			       EXIT_OK;
	case ZONED_OPT_MAX_OPEN:
		return ublk_parse_u32("max-open-zones", arg, 0, ZONED_MAX_ZONES,
				      &p->max_open) ?
			       EXIT_USAGE :
			       EXIT_OK;
	case ZONED_OPT_MAX_ACTIVE:
		return ublk_parse_u32("max-active-zones", arg, 0,
				      ZONED_MAX_ZONES, &p->max_active) ?
			       EXIT_USAGE :
			       EXIT_OK;
	}
	return EXIT_USAGE;
}

static uint64_t meta_len(uint32_t nr_zones)
{
	uint64_t ents = (uint64_t)nr_zones * sizeof(struct zoned_ent);

	return ZONED_PAGE + (ents + ZONED_PAGE - 1) / ZONED_PAGE * ZONED_PAGE;
}

static bool is_open(uint8_t cond)
{
	return cond == BLK_ZONE_COND_IMP_OPEN || cond == BLK_ZONE_COND_EXP_OPEN;
}

static bool is_active(uint8_t cond)
{
	return is_open(cond) || cond == BLK_ZONE_COND_CLOSED;
}

static uint64_t zone_start(const struct zoned_priv *p, uint32_t z)
{
	return (uint64_t)z << p->zshift;
}

static uint64_t zone_end(const struct zoned_priv *p, uint32_t z)
{
	return (uint64_t)(z + 1) << p->zshift;
}

/* Move zone z to cond, keeping the open and active counts. */
static void set_cond(struct zoned_priv *p, uint32_t z, uint8_t cond)
{
	struct zoned_ent *e = &p->ents[z];

	p->nr_open -= is_open(e->cond);
	p->nr_active -= is_active(e->cond);
	e->cond = cond;
	p->nr_open += is_open(cond);
	p->nr_active += is_active(cond);
}

/*
 * Make room to open zone z (empty or closed): an active slot if it is
 * empty, an open slot by closing an implicitly open zone if the limit is
 * reached. 0, or the errno the block layer reads as the resource missing.
 */
static int open_resources(struct zoned_priv *p, uint32_t z)
{
	uint32_t i;

	if (p->ents[z].cond == BLK_ZONE_COND_EMPTY && p->max_active &&
	    p->nr_active >= p->max_active)
		return -EOVERFLOW; /* BLK_STS_ZONE_ACTIVE_RESOURCE */
	if (!p->max_open || p->nr_open < p->max_open)
		return 0;
	for (i = p->nr_conv; i < p->nr_zones; i++)
		if (p->ents[i].cond == BLK_ZONE_COND_IMP_OPEN) {
			set_cond(p, i, BLK_ZONE_COND_CLOSED);
			return 0;
		}
	return -ETOOMANYREFS; /* BLK_STS_ZONE_OPEN_RESOURCE */
}

static int pio_all(int fd, void *buf, size_t len, uint64_t off, bool write)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write ? pwrite(fd, (char *)buf + done, len - done,
					   (off_t)(off + done)) :
				    pread(fd, (char *)buf + done, len - done,
					  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n) {
			/* reading a hole at the end: zeroes */
			if (write)
				return -EIO;
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

static uint64_t data_off(const struct zoned_priv *p, uint64_t sector)
{
	return p->meta_len + (sector << 9);
}

/* The zone of sectors [sector, sector + nr), or -1 if they span two. */
static int64_t zone_of(const struct zoned_priv *p, uint64_t sector, uint64_t nr)
{
	uint64_t z = sector >> p->zshift;

	if (!nr || z >= p->nr_zones || sector + nr > zone_end(p, (uint32_t)z))
		return -1;
	return (int64_t)z;
}

static int zoned_read(struct zoned_priv *p, struct ublk_io *io,
		      const struct ublksrv_io_desc *iod)
{
	uint64_t len = (uint64_t)iod->nr_sectors << 9;
	int ret;

	if (!iod->nr_sectors || iod->start_sector + iod->nr_sectors >
					(uint64_t)p->nr_zones << p->zshift)
		return -EIO;
	ret = pio_all(p->fd, io->data, len, data_off(p, iod->start_sector),
		      false);
	return ret ? ret : (int)len;
}

/* A write (at the write pointer) or a zone append (LBA into io). */
static int zoned_write(struct zoned_priv *p, struct ublk_io *io,
		       const struct ublksrv_io_desc *iod, bool append)
{
	uint64_t sector = iod->start_sector, nr = iod->nr_sectors;
	int64_t z = zone_of(p, sector, nr);
	struct zoned_ent *e;
	int ret;

	if (z < 0 || p->read_only)
		return -EIO;
	if ((uint32_t)z < p->nr_conv) {
		if (append)
			return -EIO;
		ret = pio_all(p->fd, io->data, nr << 9, data_off(p, sector),
			      true);
		return ret ? ret : (int)(nr << 9);
	}
	if (append && sector != zone_start(p, (uint32_t)z))
		return -EIO;
	pthread_mutex_lock(&p->lock);
	e = &p->ents[z];
	if (append)
		sector = e->wp;
	ret = -EIO;
	if (e->cond == BLK_ZONE_COND_FULL || sector != e->wp ||
	    sector + nr > zone_end(p, (uint32_t)z))
		goto out;
	if (e->cond == BLK_ZONE_COND_EMPTY || e->cond == BLK_ZONE_COND_CLOSED) {
		ret = open_resources(p, (uint32_t)z);
		if (ret)
			goto out;
		set_cond(p, (uint32_t)z, BLK_ZONE_COND_IMP_OPEN);
	}
	ret = pio_all(p->fd, io->data, nr << 9, data_off(p, sector), true);
	if (ret)
		goto out;
	e->wp += nr;
	if (e->wp == zone_end(p, (uint32_t)z))
		set_cond(p, (uint32_t)z, BLK_ZONE_COND_FULL);
	if (append) {
		io->zone_append_lba = sector;
		p->hdr->appends++;
	}
	ret = (int)(nr << 9);
out:
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* Empty zone z, dropping its data (a hole where the file system can). */
static void reset_zone(struct zoned_priv *p, uint32_t z)
{
	struct zoned_ent *e = &p->ents[z];

	if (e->wp != zone_start(p, z))
		(void)fallocate(p->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)data_off(p, zone_start(p, z)),
				(off_t)p->zone_size);
	e->wp = zone_start(p, z);
	set_cond(p, z, BLK_ZONE_COND_EMPTY);
}

/* Open, close, finish or reset the zone of sector (lock held). */
static int zone_mgmt(struct zoned_priv *p, unsigned int op, uint32_t z)
{
	struct zoned_ent *e = &p->ents[z];
	int ret;

	switch (op) {
	case UBLK_IO_OP_ZONE_OPEN:
		if (e->cond == BLK_ZONE_COND_EXP_OPEN)
			return 0;
		if (e->cond == BLK_ZONE_COND_FULL)
			return -EIO;
		if (e->cond != BLK_ZONE_COND_IMP_OPEN) {
			ret = open_resources(p, z);
			if (ret)
				return ret;
		}
		set_cond(p, z, BLK_ZONE_COND_EXP_OPEN);
		return 0;
	case UBLK_IO_OP_ZONE_CLOSE:
		if (e->cond == BLK_ZONE_COND_CLOSED)
			return 0;
		if (!is_open(e->cond))
			return -EIO;
		set_cond(p, z,
			 e->wp == zone_start(p, z) ? BLK_ZONE_COND_EMPTY :
						     BLK_ZONE_COND_CLOSED);
		return 0;
	case UBLK_IO_OP_ZONE_FINISH:
		if (e->cond == BLK_ZONE_COND_FULL)
			return 0;
		if (e->cond == BLK_ZONE_COND_EMPTY && p->max_active &&
		    p->nr_active >= p->max_active)
			return -EOVERFLOW;
		e->wp = zone_end(p, z);
		set_cond(p, z, BLK_ZONE_COND_FULL);
		return 0;
	case UBLK_IO_OP_ZONE_RESET:
		reset_zone(p, z);
		return 0;
	}
	return -EOPNOTSUPP;
}

static int zoned_mgmt(struct zoned_priv *p, const struct ublksrv_io_desc *iod,
		      unsigned int op)
{
	uint64_t z = iod->start_sector >> p->zshift;
	uint32_t i;
	int ret = 0;

	if (p->read_only)
		return -EIO;
	pthread_mutex_lock(&p->lock);
	if (op == UBLK_IO_OP_ZONE_RESET_ALL) {
		for (i = p->nr_conv; i < p->nr_zones; i++)
			if (p->ents[i].cond != BLK_ZONE_COND_EMPTY)
				reset_zone(p, i);
	} else if (z >= p->nr_zones || z < p->nr_conv ||
		   iod->start_sector != zone_start(p, (uint32_t)z)) {
		ret = -EIO;
	} else {
		ret = zone_mgmt(p, op, (uint32_t)z);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* struct blk_zone records from the zone of start_sector on, into io. */
static int zoned_report(struct zoned_priv *p, struct ublk_io *io,
			const struct ublksrv_io_desc *iod)
{
	uint64_t first = iod->start_sector >> p->zshift;
	struct blk_zone *out = io->data;
	uint32_t n, i;

	if (first >= p->nr_zones)
		return 0;
	n = iod->nr_zones;
	if (n > p->nr_zones - first)
		n = p->nr_zones - (uint32_t)first;
	if (n > p->report_max)
		n = p->report_max;
	memset(out, 0, (size_t)n * sizeof(*out));
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < n; i++) {
		uint32_t z = (uint32_t)first + i;
		struct blk_zone *b = &out[i];

		b->start = zone_start(p, z);
		b->len = p->zone_size >> 9;
		b->capacity = b->len;
		if (z < p->nr_conv) {
			b->type = BLK_ZONE_TYPE_CONVENTIONAL;
			b->cond = BLK_ZONE_COND_NOT_WP;
			b->wp = zone_end(p, z);
		} else {
			b->type = BLK_ZONE_TYPE_SEQWRITE_REQ;
			b->cond = p->ents[z].cond;
			b->wp = p->ents[z].wp;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return (int)(n * sizeof(*out));
}

static int zoned_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			  unsigned int tag)
{
	const struct ublksrv_io_desc *iod = ublk_iod(q, tag);
	struct zoned_priv *p = q->tgt->priv;
	struct ublk_io *io = &q->ios[tag];
	unsigned int op = ublksrv_get_op(iod);
	int ret;

	switch (op) {
	case UBLK_IO_OP_READ:
		ret = zoned_read(p, io, iod);
		break;
	case UBLK_IO_OP_WRITE:
	case UBLK_IO_OP_ZONE_APPEND:
		ret = zoned_write(p, io, iod, op == UBLK_IO_OP_ZONE_APPEND);
		break;
	case UBLK_IO_OP_FLUSH:
		ret = fdatasync(p->fd) ? -errno : 0;
		break;
	case UBLK_IO_OP_ZONE_OPEN:
	case UBLK_IO_OP_ZONE_CLOSE:
	case UBLK_IO_OP_ZONE_FINISH:
	case UBLK_IO_OP_ZONE_RESET:
	case UBLK_IO_OP_ZONE_RESET_ALL:
		ret = zoned_mgmt(p, iod, op);
		break;
	case UBLK_IO_OP_REPORT_ZONES:
		ret = zoned_report(p, io, iod);
		break;
	default:
		return -EOPNOTSUPP;
	}
	ublk_complete_io(t, q, tag, ret);
	return 0;
}

/* ---- setting up ---- */

/*
 * The data paths the driver has no zoned device on, and --unprivileged:
 * user copy, per-I/O or batch (whose commits carry the append LBA in
 * their elements).
 */
static int check_mode(const struct ublk_dev_cfg *cfg)
{
	static const struct {
		size_t off;
		const char *opt;
	} no[] = {
		{ offsetof(struct ublk_dev_cfg, copy), "--copy" },
		{ offsetof(struct ublk_dev_cfg, zero_copy), "--zero-copy" },
		{ offsetof(struct ublk_dev_cfg, auto_zc), "--auto-zc" },
		{ offsetof(struct ublk_dev_cfg, auto_zc_fallback),
		  "--auto-zc-fallback" },
		{ offsetof(struct ublk_dev_cfg, get_data), "--get-data" },
		{ offsetof(struct ublk_dev_cfg, unprivileged),
		  "--unprivileged" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(no); i++)
		if (*(const bool *)((const char *)cfg + no[i].off))
			return ublk_usage_err(
				"-t zoned: %s: zoned devices are served with --user-copy only",
				no[i].opt);
	if (cfg->shmem_path)
		return ublk_usage_err(
			"-t zoned: --shmem-zc: zoned devices are served with --user-copy only");
	/* --batch alone is batch with copy; with --user-copy it serves */
	if (cfg->batch && !cfg->user_copy)
		return ublk_usage_err(
			"-t zoned: --batch: zoned devices are served with --user-copy only (--batch --user-copy)");
	return EXIT_OK;
}

/* The number of zones of a new layout in a file of size bytes. */
static uint32_t zones_fitting(const struct zoned_priv *p, uint64_t size)
{
	uint64_t n;

	if (size < ZONED_PAGE)
		return 0;
	n = (size - ZONED_PAGE) / (p->zone_size + sizeof(struct zoned_ent));
	if (n > ZONED_MAX_ZONES)
		n = ZONED_MAX_ZONES;
	while (n && meta_len((uint32_t)n) + n * p->zone_size > size)
		n--;
	return (uint32_t)n;
}

/*
 * A header page read from FILE: ours, and consistent with the file's
 * size. Its records are checked once mapped.
 */
static bool hdr_valid(const struct zoned_hdr *h, uint64_t file_size)
{
	return !memcmp(h->magic, ZONED_MAGIC, sizeof(h->magic)) &&
	       h->version == ZONED_VERSION && h->nr_zones &&
	       h->nr_zones <= ZONED_MAX_ZONES && h->nr_conv < h->nr_zones &&
	       h->zone_size >= ZONED_MIN_ZONE &&
	       h->zone_size <= ZONED_MAX_ZONE &&
	       !(h->zone_size & (h->zone_size - 1)) &&
	       meta_len(h->nr_zones) + h->nr_zones * h->zone_size <= file_size;
}

/*
 * Zone records of an existing file: each in range. Counts what activate
 * will leave (open zones closed). EXIT_OK or EXIT_FAIL, printed.
 */
static int check_ents(struct zoned_priv *p)
{
	uint32_t z;

	p->nr_open = p->nr_active = 0;
	for (z = p->nr_conv; z < p->nr_zones; z++) {
		const struct zoned_ent *e = &p->ents[z];
		bool ok;

		switch (e->cond) {
		case BLK_ZONE_COND_EMPTY:
			ok = e->wp == zone_start(p, z);
			break;
		case BLK_ZONE_COND_FULL:
			ok = e->wp == zone_end(p, z);
			break;
		case BLK_ZONE_COND_IMP_OPEN:
		case BLK_ZONE_COND_EXP_OPEN:
		case BLK_ZONE_COND_CLOSED:
			ok = e->wp >= zone_start(p, z) &&
			     e->wp < zone_end(p, z);
			break;
		default:
			ok = false;
		}
		if (!ok) {
			ublk_err(
				"--file: %s: zone %u: damaged state (condition %u, write pointer %" PRIu64
				")",
				p->file, z, e->cond, e->wp);
			return EXIT_FAIL;
		}
		/* an open zone with nothing written comes back empty */
		if (is_active(e->cond) && e->wp != zone_start(p, z))
			p->nr_active++;
	}
	return EXIT_OK;
}

/* A fresh layout of nr zones in the mapped area (file already sized). */
static void format(struct zoned_priv *p)
{
	uint32_t z;

	memset(p->map, 0, p->meta_len);
	for (z = 0; z < p->nr_zones; z++) {
		p->ents[z].wp = zone_start(p, z);
		p->ents[z].cond = z < p->nr_conv ? BLK_ZONE_COND_NOT_WP :
						   BLK_ZONE_COND_EMPTY;
	}
	p->hdr->version = ZONED_VERSION;
	p->hdr->nr_zones = p->nr_zones;
	p->hdr->zone_size = p->zone_size;
	p->hdr->nr_conv = p->nr_conv;
	/* the magic last: a half-written layout is no layout */
	memcpy(p->hdr->magic, ZONED_MAGIC, sizeof(p->hdr->magic));
}

static int map_meta(struct zoned_priv *p)
{
	p->meta_len = meta_len(p->nr_zones);
	p->map = mmap(NULL, p->meta_len,
		      PROT_READ | (p->read_only ? 0 : PROT_WRITE), MAP_SHARED,
		      p->fd, 0);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		ublk_errno(errno, "--file: %s: map the zone state", p->file);
		return EXIT_FAIL;
	}
	p->hdr = p->map;
	p->ents = (struct zoned_ent *)((char *)p->map + ZONED_PAGE);
	return EXIT_OK;
}

/*
 * The geometry: an existing layout (the options must agree with it), or
 * a new one from --size or the file's size (a smaller file is grown).
 * Then map the metadata. EXIT_OK, EXIT_USAGE or EXIT_FAIL, printed.
 */
static int setup_layout(struct zoned_priv *p, const struct ublk_dev_cfg *cfg,
			uint64_t file_size)
{
	struct zoned_hdr h = { 0 };
	bool fresh;
	int ret;

	if (file_size >= ZONED_PAGE &&
	    pread(p->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
		memset(&h, 0, sizeof(h));
	fresh = !hdr_valid(&h, file_size);
	if (!fresh) {
		if (h.zone_size != p->zone_size || h.nr_conv != p->nr_conv) {
			ublk_err(
				"--file: %s: has zones of %" PRIu64
				" bytes, %u conventional (give --zone-size and --conv-zones as when it was made)",
				p->file, h.zone_size, h.nr_conv);
			return EXIT_USAGE;
		}
		if (cfg->size && cfg->size != h.nr_zones * h.zone_size) {
			ublk_err("--size %" PRIu64
				 ": %s holds %u zones (%" PRIu64 " bytes)",
				 cfg->size, p->file, h.nr_zones,
				 h.nr_zones * h.zone_size);
			return EXIT_USAGE;
		}
		p->nr_zones = h.nr_zones;
	} else if (cfg->size) {
		if (cfg->size % p->zone_size) {
			ublk_err("--size %" PRIu64
				 ": not a multiple of --zone-size %" PRIu64,
				 cfg->size, p->zone_size);
			return EXIT_USAGE;
		}
		if (cfg->size / p->zone_size > ZONED_MAX_ZONES) {
			ublk_err("--size %" PRIu64 ": more than %u zones",
				 cfg->size, ZONED_MAX_ZONES);
			return EXIT_USAGE;
		}
		p->nr_zones = (uint32_t)(cfg->size / p->zone_size);
	} else {
		p->nr_zones = zones_fitting(p, file_size);
		if (!p->nr_zones) {
			ublk_err(
				"--file: %s: too small for one zone of %" PRIu64
				" bytes and the zone state (give --size to grow it)",
				p->file, p->zone_size);
			return EXIT_USAGE;
		}
	}
	if (p->nr_conv >= p->nr_zones) {
		ublk_err("--conv-zones %u: the device has %u zones", p->nr_conv,
			 p->nr_zones);
		return EXIT_USAGE;
	}
	if (p->max_open > p->nr_zones - p->nr_conv ||
	    p->max_active > p->nr_zones - p->nr_conv) {
		ublk_err("--max-%s-zones %u: more than the %u sequential zones",
			 p->max_open > p->nr_zones - p->nr_conv ? "open" :
								  "active",
			 p->max_open > p->nr_zones - p->nr_conv ? p->max_open :
								  p->max_active,
			 p->nr_zones - p->nr_conv);
		return EXIT_USAGE;
	}
	if (fresh && p->read_only) {
		ublk_err("--file: %s: no zone state yet (not with --read-only)",
			 p->file);
		return EXIT_USAGE;
	}
	p->fresh = fresh;
	if (fresh)
		return EXIT_OK;
	ret = map_meta(p);
	if (ret)
		return ret;
	ret = check_ents(p);
	if (ret)
		return ret;
	if (p->max_active && p->nr_active > p->max_active) {
		ublk_err("--max-active-zones %u: %s has %u active zones",
			 p->max_active, p->file, p->nr_active);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/*
 * Server side, once, before the device is live: write what init only
 * planned (a new layout, the file grown to hold it; or the open zones of
 * an old one closed). 0 or -errno, printed.
 */
static int activate(struct zoned_priv *p)
{
	uint64_t need =
		meta_len(p->nr_zones) + (uint64_t)p->nr_zones * p->zone_size;
	struct stat st;
	uint32_t z;

	if (!p->fresh) {
		for (z = p->nr_conv; z < p->nr_zones && !p->read_only; z++)
			if (is_open(p->ents[z].cond))
				p->ents[z].cond =
					p->ents[z].wp == zone_start(p, z) ?
						BLK_ZONE_COND_EMPTY :
						BLK_ZONE_COND_CLOSED;
		p->nr_open = 0;
		return 0;
	}
	if (fstat(p->fd, &st) ||
	    ((uint64_t)st.st_size < need && ftruncate(p->fd, (off_t)need))) {
		ublk_errno(errno, "--file: %s: grow to %" PRIu64 " bytes",
			   p->file, need);
		return -errno;
	}
	if (map_meta(p))
		return -EIO;
	format(p);
	if (fdatasync(p->fd)) {
		ublk_errno(errno, "--file: %s", p->file);
		return -errno;
	}
	p->fresh = false;
	return 0;
}

static int zoned_thread_init(struct ublk_thread *t, struct ublk_tgt *tgt,
			     unsigned int nr_tags, void **priv)
{
	struct zoned_priv *p = tgt->priv;
	int ret = 0;

	(void)t;
	(void)nr_tags;
	(void)priv;
	pthread_mutex_lock(&p->lock);
	if (!p->activated)
		ret = activate(p);
	p->activated = !ret;
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static void release(struct zoned_priv *p)
{
	if (p->map)
		munmap(p->map, p->meta_len);
	p->map = NULL;
	if (p->fd > 0)
		close(p->fd);
	p->fd = -1;
}

static int zoned_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct zoned_priv *p = tgt->priv;
	struct ublk_backing b;
	int ret;

	if (!p || !p->file)
		return ublk_usage_err("zoned needs a backing file (-f PATH)");
	if (!p->zone_size)
		return ublk_usage_err("zoned needs --zone-size SIZE");
	ret = check_mode(cfg);
	if (ret)
		return ret;
	if (cfg->lbs && p->zone_size % cfg->lbs)
		return ublk_usage_err(
			"--zone-size %" PRIu64
			": not a multiple of --logical-block-size %u",
			p->zone_size, cfg->lbs);
	if (p->max_open && p->max_active && p->max_open > p->max_active)
		return ublk_usage_err(
			"--max-open-zones %u: more than --max-active-zones %u",
			p->max_open, p->max_active);
	/* With --size, a new file: made empty here, grown by activate. */
	if (cfg->size && !cfg->read_only) {
		int fd = open(p->file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0644);

		if (fd >= 0)
			close(fd);
	}
	/* Buffered: the zone state is mapped from the same page cache. */
	ret = ublk_backing_open(p->file, cfg->read_only, true, &b);
	if (ret)
		return ret;
	p->fd = b.fd;
	p->read_only = cfg->read_only;
	if (!b.regular) {
		ublk_err("--file: %s: not a regular file", p->file);
		release(p);
		return EXIT_USAGE;
	}
	ret = pthread_mutex_init(&p->lock, NULL);
	if (ret) {
		ublk_errno(ret, "zoned");
		release(p);
		return EXIT_FAIL;
	}
	p->zshift = (unsigned int)__builtin_ctzll(p->zone_size >> 9);
	ret = setup_layout(p, cfg, b.size);
	if (ret) {
		release(p);
		return ret;
	}
	p->report_max = cfg->max_io / sizeof(struct blk_zone);
	ret = ublk_tgt_set_block_sizes(tgt, cfg, &b, p->file, true);
	if (ret) {
		release(p);
		return ret;
	}
	tgt->size = (uint64_t)p->nr_zones * p->zone_size;
	tgt->attrs = UBLK_ATTR_VOLATILE_CACHE;
	tgt->zone_size = p->zone_size;
	tgt->max_open_zones = p->max_open;
	tgt->max_active_zones = p->max_active;
	/* the data go to the file at once: no fds for the ring */
	tgt->nr_fds = 0;
	if (!realpath(p->file, tgt->backing))
		snprintf(tgt->backing, sizeof(tgt->backing), "%s", p->file);
	return EXIT_OK;
}

static int zoned_save(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx)
{
	const struct zoned_priv *p = tgt->priv;
	int ret;

	ret = emit(ctx, "file", tgt->backing);
	if (!ret)
		ret = ublk_emit_u64(emit, ctx, "zone-size", p->zone_size);
	if (!ret && p->nr_conv)
		ret = ublk_emit_u64(emit, ctx, "conv-zones", p->nr_conv);
	if (!ret && p->max_open)
		ret = ublk_emit_u64(emit, ctx, "max-open-zones", p->max_open);
	if (!ret && p->max_active)
		ret = ublk_emit_u64(emit, ctx, "max-active-zones",
				    p->max_active);
	return ret;
}

static int zoned_check_resize(struct ublk_tgt *tgt, uint32_t id,
			      const char *size_arg, uint64_t bytes)
{
	(void)tgt;
	(void)bytes;
	ublk_err("device %u: --size: '%s': a zoned device keeps its zones", id,
		 size_arg);
	return -1;
}

static void zoned_deinit(struct ublk_tgt *tgt)
{
	struct zoned_priv *p = tgt->priv;

	if (p && p->map) {
		/* what the device leaves is durable, as a drive's */
		if (!p->read_only)
			(void)msync(p->map, p->meta_len, MS_SYNC);
		pthread_mutex_destroy(&p->lock);
	}
	if (p)
		release(p);
	ublk_tgt_free_priv(tgt);
}

const struct target_ops target_zoned = {
	.name = "zoned",
	.summary = "a zoned device (sequential zones) in a file",
	.fast_flags = UBLK_F_USER_COPY,
	.dev_flags = UBLK_F_ZONED,
	.opts = zoned_opts,
	.notes =
		"  FILE starts with the zone state (it survives del and add).\n"
		"  Size: --size (FILE grown to fit), else what FILE holds.\n"
		"  Served with --user-copy only (the driver's rule), per-I/O or --batch.\n",
	.parse_opt = zoned_parse_opt,
	.init = zoned_init,
	.deinit = zoned_deinit,
	.save = zoned_save,
	.check_resize = zoned_check_resize,
	.queue_io = zoned_queue_io,
	.thread_init = zoned_thread_init,
};
