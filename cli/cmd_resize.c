// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl resize: UPDATE_SIZE on a live device, after checking what the
 * driver does not: the size is a multiple of the logical block size and,
 * for a loop device, fits in the backing file.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/state.h"

#define SECTOR_SHIFT 9

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "resize device ID" },
	{ "size", 's', required_argument, "SIZE",
	  "new size in bytes, or with K, M, G, T (KiB...)" },
	UBLK_OPT_END,
};

static void usage(void)
{
	ublk_usage_begin(stdout, "-n ID -s SIZE",
			 "Change the size of a live device.", options);
	ublk_usage_end(stdout);
}

/* Size of a regular file or block device; 0 or negative errno. */
static int backing_size(const char *path, uint64_t *size)
{
	struct stat st;
	int fd, ret = 0;

	if (stat(path, &st))
		return -errno;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, BLKGETSIZE64, size))
		ret = -errno;
	close(fd);
	return ret;
}

/* The loop target's --offset from add's command line, 0 if none. */
static uint64_t backing_offset(const struct ublk_state *st)
{
	uint64_t off = 0;
	int i;

	for (i = 0; i < st->argc; i++) {
		const char *a = st->argv[i], *v = NULL;

		if (!strcmp(a, "--offset") && i + 1 < st->argc)
			v = st->argv[i + 1];
		else if (!strncmp(a, "--offset=", 9))
			v = a + 9;
		if (v && ublk_parse_size("offset", v, 0, UINT64_MAX, &off))
			off = 0;
	}
	return off;
}

/* For loop: the new size must fit in the backing file. 0 or -1. */
static int check_backing(uint32_t id, const char *arg, uint64_t bytes)
{
	struct ublk_state st;
	uint64_t have, off;
	int ret;

	ret = ublk_state_read(id, &st);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		ublk_errno(ret, "device %u: cannot read its state file", id);
		return -1;
	}
	ret = 0;
	if (strcmp(st.target, "loop") || !st.backing[0])
		goto out;
	off = backing_offset(&st);
	ret = backing_size(st.backing, &have);
	if (ret) {
		ublk_errno(ret, "device %u: backing file %s", id, st.backing);
		ret = -1;
		goto out;
	}
	have = have > off ? have - off : 0;
	if (bytes > have) {
		ublk_err(
			"device %u: --size: '%s': larger than the backing file %s (%" PRIu64
			" bytes usable)",
			id, arg, st.backing, have);
		ret = -1;
	}
out:
	ublk_state_free(&st);
	return ret;
}

static int resize(struct ublk_ctrl *c, uint32_t id, const char *arg,
		  uint64_t bytes)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	uint32_t lbs;
	char buf[32];
	int ret;

	ret = ublk_ctrl_get_info(c, id, &info);
	if (ret) {
		ublk_dev_err(id, ret, "cannot read device info");
		return -1;
	}
	if (ublk_require_feature(c, UBLK_F_UPDATE_SIZE, "resize"))
		return -1;
	if (info.state != UBLK_S_DEV_LIVE) {
		ublk_err("device %u: cannot resize: it is %s, not live", id,
			 ublk_state_name(info.state, buf, sizeof(buf)));
		return -1;
	}
	ret = ublk_ctrl_get_params(c, id, &p);
	if (ret || !(p.types & UBLK_PARAM_TYPE_BASIC)) {
		ublk_dev_err(id, ret ? ret : -ENODATA,
			     "cannot read device parameters");
		return -1;
	}
	lbs = 1U << p.basic.logical_bs_shift;
	if (bytes % lbs) {
		ublk_err(
			"device %u: --size: '%s': not a multiple of the logical block size (%u)",
			id, arg, lbs);
		return -1;
	}
	if (check_backing(id, arg, bytes))
		return -1;
	ret = ublk_ctrl_update_size(c, id, bytes >> SECTOR_SHIFT);
	if (ret) {
		ublk_dev_err(id, ret, "resize failed");
		return -1;
	}
	return 0;
}

int cmd_resize(int argc, char **argv)
{
	const char *size_arg = NULL;
	bool have_id = false;
	struct ublk_getopt g;
	struct ublk_ctrl c;
	uint64_t bytes = 0;
	uint32_t id = 0;
	int opt, rc;

	ublk_getopt_init(&g, options);
	while ((opt = ublk_getopt_next(&g, argc, argv)) != -1) {
		switch (opt) {
		case 'n':
			if (ublk_parse_dev_id("id", optarg, &id))
				return ublk_usage_hint();
			have_id = true;
			break;
		case 's':
			if (ublk_parse_size("size", optarg, 1,
					    UINT64_MAX >> SECTOR_SHIFT, &bytes))
				return ublk_usage_hint();
			size_arg = optarg;
			break;
		case 'h':
			usage();
			return EXIT_OK;
		default:
			return EXIT_USAGE;
		}
	}
	if (ublk_no_args(argc, argv))
		return EXIT_USAGE;
	if (!have_id)
		return ublk_usage_err("no device given: use --id ID");
	if (!size_arg)
		return ublk_usage_err("no size given: use --size SIZE");
	if (bytes & ((1U << SECTOR_SHIFT) - 1))
		return ublk_usage_err(
			"--size: '%s': not a multiple of 512 bytes", size_arg);

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	rc = resize(&c, id, size_arg, bytes) ? EXIT_FAIL : EXIT_OK;
	ublk_ctrl_close(&c);
	return rc;
}
