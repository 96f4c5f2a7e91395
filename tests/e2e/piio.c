// SPDX-License-Identifier: GPL-2.0
/*
 * ublk-piio: O_DIRECT writes and reads of a block device through io_uring,
 * each carrying protection information this program makes and checks
 * itself (the per-I/O PI attribute, IORING_RW_ATTR_FLAG_PI). For devices
 * with T10-DIF type 1 PI (CRC16 guard, 8-byte tuple) and 512-byte
 * intervals, the tuple at --pi-offset in each --md-size metadata chunk.
 *
 * write covers the first --size bytes of DEV (default: all of it) with
 * extents of 512 bytes to --max-bs in 512-byte steps, issued in random
 * order; verify reads the same extents back (same --seed, --size and
 * --max-bs). What a block holds depends only on --seed and its LBA: the
 * data and the metadata bytes outside the tuple are a pseudo-random stream
 * of both, and the tuple is, big-endian as T10 has it,
 *   guard    CRC16 T10-DIF (poly 0x8bb7) of the data, then of the
 *            metadata bytes before the tuple (what block/t10-pi.c computes
 *            for such a profile, so the kernel's own check agrees)
 *   app tag  --app-tag
 *   ref tag  the LBA's low 32 bits
 * so extents that overlap or are read in another order check all the
 * same. verify checks each block's guard (against the data read), app tag,
 * ref tag, data and other metadata, in that order, and stops at the first
 * mismatch with one line "ublk-piio: LBA N: FIELD: expected X, got Y".
 *
 * Each I/O also asks the kernel to check guard, ref and app tag
 * (IO_INTEGRITY_CHK_*), as an application would. But the block layer
 * checks only PI it made itself, and neither ublk driver passes those
 * flags to its server, so on a ublk device the checks above are the only
 * ones; should a read fail with EILSEQ (a kernel's own check), that is
 * reported as such. The attribute's seed is the extent's first LBA: the
 * block layer turns a ref tag equal to seed + i into interval i's LBA on
 * a write, and back on a read, so then it changes none.
 *
 * Exit status: 0 every block matched, 1 a mismatch or a failed I/O, 2 a
 * usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <liburing.h>
#include <linux/fs.h>

#include "ublkctl/compat.h"

#define BLK 512U /* the PI interval and the unit of LBAs */
#define PI_TUPLE 8U

_Static_assert(sizeof(struct io_uring_attr_pi) == 32,
	       "io_uring_attr_pi is 32 bytes in the UAPI");

struct extent {
	uint64_t lba;
	uint32_t blocks;
};

static struct {
	bool write;
	const char *dev;
	uint64_t md_size, pi_off, app_tag, seed, size, max_bs;
} opt = { .max_bs = 128 * 1024 };

static uint16_t crc_table[256];

static void crc_init(void)
{
	for (unsigned int i = 0; i < 256; i++) {
		uint16_t c = (uint16_t)(i << 8);

		for (int b = 0; b < 8; b++)
			c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x8bb7 : c << 1);
		crc_table[i] = c;
	}
}

static uint16_t crc_t10dif(uint16_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = (uint16_t)((crc << 8) ^ crc_table[(crc >> 8) ^ *p++]);
	return crc;
}

/* splitmix64: the next value of the stream whose state is *s. */
static uint64_t next64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* What block lba holds: BLK bytes of data, opt.md_size of metadata. */
static void make_block(uint64_t lba, uint8_t *data, uint8_t *md)
{
	uint64_t s = opt.seed * 0xd1342543de82ef95ULL ^ lba, v;
	uint8_t *t = md + opt.pi_off;
	uint16_t guard;

	for (unsigned int i = 0; i < BLK; i += 8) {
		v = next64(&s);
		memcpy(data + i, &v, 8);
	}
	for (unsigned int i = 0; i < opt.md_size; i++)
		md[i] = (uint8_t)next64(&s);
	guard = crc_t10dif(crc_t10dif(0, data, BLK), md, opt.pi_off);
	t[0] = (uint8_t)(guard >> 8);
	t[1] = (uint8_t)guard;
	t[2] = (uint8_t)(opt.app_tag >> 8);
	t[3] = (uint8_t)opt.app_tag;
	for (int i = 0; i < 4; i++)
		t[4 + i] = (uint8_t)(lba >> (24 - 8 * i));
}

static unsigned int be(const uint8_t *p, int n)
{
	unsigned int v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/* Index of the first byte where a and b differ, or -1. */
static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* Report field of block lba, on stderr; 1 (the mismatch). */
static int __attribute__((format(printf, 3, 4)))
mismatch(uint64_t lba, const char *field, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ublk-piio: LBA %" PRIu64 ": %s: ", lba, field);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/*
 * Check block lba as read (data, md): 0, or 1 after reporting its first
 * mismatch.
 */
static int check_block(uint64_t lba, const uint8_t *data, const uint8_t *md)
{
	uint8_t want_data[BLK], want_md[256];
	const uint8_t *t = md + opt.pi_off;
	unsigned int guard;
	long d;

	make_block(lba, want_data, want_md);
	guard = crc_t10dif(crc_t10dif(0, data, BLK), md, opt.pi_off);
	if (be(t, 2) != guard)
		return mismatch(lba, "GUARD", "expected 0x%04x, got 0x%04x",
				guard, be(t, 2));
	if (be(t + 2, 2) != opt.app_tag)
		return mismatch(lba, "APPTAG", "expected 0x%04x, got 0x%04x",
				(unsigned int)opt.app_tag, be(t + 2, 2));
	if (be(t + 4, 4) != (uint32_t)lba)
		return mismatch(lba, "REFTAG", "expected %" PRIu32 ", got %u",
				(uint32_t)lba, be(t + 4, 4));
	d = first_diff(data, want_data, BLK);
	if (d >= 0)
		return mismatch(lba, "DATA",
				"byte %ld: expected 0x%02x, got 0x%02x", d,
				want_data[d], data[d]);
	d = first_diff(md, want_md, opt.md_size);
	if (d >= 0)
		return mismatch(lba, "METADATA",
				"byte %ld: expected 0x%02x, got 0x%02x", d,
				want_md[d], md[d]);
	return 0;
}

/* One read or write of extent e with its PI; the CQE's result. */
static int do_io(struct io_uring *ring, int fd, const struct extent *e,
		 void *data, void *md)
{
	uint32_t len = e->blocks * BLK;
	struct io_uring_attr_pi pi = {
		.flags = IO_INTEGRITY_CHK_GUARD | IO_INTEGRITY_CHK_REFTAG |
			 IO_INTEGRITY_CHK_APPTAG,
		.app_tag = (__u16)opt.app_tag,
		.len = (__u32)(e->blocks * opt.md_size),
		.addr = (__u64)(uintptr_t)md,
		.seed = e->lba,
	};
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	if (opt.write)
		io_uring_prep_write(sqe, fd, data, len, e->lba * BLK);
	else
		io_uring_prep_read(sqe, fd, data, len, e->lba * BLK);
	ublkctl_sqe_set_attr(sqe, &pi, IORING_RW_ATTR_FLAG_PI);
	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* The extents of opt.size, in the random order of opt.seed; count in *n. */
static struct extent *make_extents(size_t *n)
{
	uint64_t s = ~opt.seed, lba = 0, blocks = opt.size / BLK;
	uint64_t max = opt.max_bs / BLK;
	struct extent *e = calloc(blocks ? blocks : 1, sizeof(*e)), tmp;

	*n = 0;
	while (e && lba < blocks) {
		e[*n].lba = lba;
		e[*n].blocks = (uint32_t)(1 + next64(&s) % max);
		if (e[*n].blocks > blocks - lba)
			e[*n].blocks = (uint32_t)(blocks - lba);
		lba += e[(*n)++].blocks;
	}
	for (size_t i = *n; e && i > 1; i--) {
		size_t j = next64(&s) % i;

		tmp = e[i - 1];
		e[i - 1] = e[j];
		e[j] = tmp;
	}
	return e;
}

static int run(void)
{
	struct io_uring_params p = { 0 };
	uint8_t *data = NULL, *md = NULL;
	struct io_uring ring;
	struct extent *ext;
	uint64_t dev_bytes;
	int fd, ret, lbs;
	size_t n;

	fd = open(opt.dev, (opt.write ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, &dev_bytes) ||
	    ioctl(fd, BLKSSZGET, &lbs)) {
		fprintf(stderr, "ublk-piio: %s: %s\n", opt.dev,
			strerror(errno));
		return 1;
	}
	if (lbs != BLK) {
		fprintf(stderr, "ublk-piio: %s: %d-byte blocks, not 512\n",
			opt.dev, lbs);
		return 1;
	}
	if (!opt.size)
		opt.size = dev_bytes;
	if (opt.size > dev_bytes) {
		fprintf(stderr,
			"ublk-piio: %s: %" PRIu64 " bytes, under --size\n",
			opt.dev, dev_bytes);
		return 1;
	}
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret < 0) {
		fprintf(stderr, "ublk-piio: io_uring: %s\n", strerror(-ret));
		return 1;
	}
	if (!(p.features & IORING_FEAT_RW_ATTR)) {
		fprintf(stderr, "ublk-piio: io_uring lacks PI attributes\n");
		return 1;
	}
	ext = make_extents(&n);
	if (!ext || posix_memalign((void **)&data, 4096, opt.max_bs) ||
	    posix_memalign((void **)&md, 4096,
			   opt.max_bs / BLK * opt.md_size)) {
		fprintf(stderr, "ublk-piio: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct extent *e = &ext[i];

		for (uint32_t b = 0; opt.write && b < e->blocks; b++)
			make_block(e->lba + b, data + b * BLK,
				   md + b * opt.md_size);
		ret = do_io(&ring, fd, e, data, md);
		if (ret != (int)(e->blocks * BLK)) {
			fprintf(stderr,
				"ublk-piio: %s of LBA %" PRIu64 "+%" PRIu32
				": %s%s\n",
				opt.write ? "write" : "read", e->lba, e->blocks,
				ret < 0 ? strerror(-ret) : "short",
				ret == -EILSEQ ?
					" (the kernel's own PI check)" :
					"");
			return 1;
		}
		for (uint32_t b = 0; !opt.write && b < e->blocks; b++)
			if (check_block(e->lba + b, data + b * BLK,
					md + b * opt.md_size))
				return 1;
	}
	return 0;
}

static int usage(void)
{
	printf("Usage: ublk-piio write|verify DEV --md-size BYTES [options]\n"
	       "O_DIRECT I/O with T10-DIF protection information made and checked here.\n"
	       "Options:\n"
	       "  --md-size BYTES   metadata per 512-byte block (8-255)\n"
	       "  --pi-offset BYTES the PI tuple within it (default 0)\n"
	       "  --app-tag N       application tag (default 0)\n"
	       "  --seed N          data and extents (default 0)\n"
	       "  --size BYTES      bytes of DEV from 0 (default all)\n"
	       "  --max-bs BYTES    largest extent (512-1M, default 128K)\n"
	       "  -h, --help        display this help\n");
	return 0;
}

/* A usage error: one line saying why, then where to look; exit status 2. */
static int __attribute__((format(printf, 1, 2))) usage_err(const char *fmt, ...)
{
	va_list ap;

	fputs("ublk-piio: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'ublk-piio --help'.\n", stderr);
	return 2;
}

/* A number with an optional K, M or G (binary) suffix, at most max. */
static bool parse_num(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	int shift = 0;

	errno = 0;
	*v = strtoull(s, &end, 0);
	if (end == s || *s == '-' || errno)
		return false;
	if (*end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift)
		end++;
	if (*end || *v > max >> shift)
		return false;
	*v <<= shift;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "md-size", required_argument, NULL, 'm' },
		{ "pi-offset", required_argument, NULL, 'o' },
		{ "app-tag", required_argument, NULL, 'a' },
		{ "seed", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'S' },
		{ "max-bs", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	/* per option of longopts: the largest value, where it goes */
	static const uint64_t max[] = { 255,	    255,	0xffff,
					UINT64_MAX, UINT64_MAX, 1U << 20 };
	uint64_t *const dst[] = { &opt.md_size, &opt.pi_off, &opt.app_tag,
				  &opt.seed,	&opt.size,   &opt.max_bs };
	int c, idx = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		if (c == 'h')
			return usage();
		if (c == '?')
			return usage_err("bad option '%s'", argv[optind - 1]);
		if (!parse_num(optarg, max[idx], dst[idx]))
			return usage_err(
				"--%s: '%s': not a number up to %" PRIu64,
				longopts[idx].name, optarg, max[idx]);
	}
	if (argc - optind != 2 ||
	    (strcmp(argv[optind], "write") && strcmp(argv[optind], "verify")))
		return usage_err("write or verify, and DEV");
	opt.write = !strcmp(argv[optind], "write");
	opt.dev = argv[optind + 1];
	if (opt.md_size < PI_TUPLE || opt.pi_off > opt.md_size - PI_TUPLE)
		return usage_err("--md-size: 8-255, the 8-byte PI tuple at "
				 "--pi-offset inside");
	if (opt.size % BLK || opt.max_bs % BLK || !opt.max_bs)
		return usage_err("--size, --max-bs: in 512-byte blocks");
	crc_init();
	return run();
}
