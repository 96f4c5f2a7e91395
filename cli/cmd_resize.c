// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl resize: UPDATE_SIZE on a live device, after checking what the
 * driver does not: the size is a multiple of the logical block size and
 * the target allows it (its check_resize hook: loop's backing file).
 */
#include <errno.h>
#include <stdlib.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/devcfg.h"
#include "ublkctl/state.h"

#define SECTOR_SHIFT 9

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "resize device ID" },
	{ "size", 's', required_argument, "SIZE",
	  "new size: bytes, or 1.5G, 1GiB (1024s), 1GB (1000s)" },
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "-n ID -s SIZE",
	.summary = "Change the size of a live device.",
};

/*
 * What the target allows (loop: the backing file's size past --offset),
 * from its configuration in the state file. 0 or -1 (message printed).
 */
static int check_target(uint32_t id, const char *arg, uint64_t bytes)
{
	struct ublk_dev_cfg *c;
	struct ublk_state st;
	int ret;

	ret = ublk_state_read(id, &st);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		ublk_errno(ret, "device %u: cannot read its state file", id);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	ret = -1;
	if (!c)
		ublk_errno(ENOMEM, "device %u", id);
	else if (!ublk_cfg_load(c, &st))
		ret = c->tgt.ops->check_resize ?
			      c->tgt.ops->check_resize(&c->tgt, id, arg,
						       bytes) :
			      0;
	if (c)
		ublk_cfg_release(c);
	free(c);
	ublk_state_free(&st);
	return ret;
}

static int resize(struct ublk_ctrl *c, uint32_t id, const char *arg,
		  uint64_t bytes)
{
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params p;
	uint32_t lbs;
	int ret;

	if (ublk_dev_info(c, id, &info) ||
	    ublk_require_feature(c, UBLK_F_UPDATE_SIZE, "resize") ||
	    ublk_dev_need_live(id, &info, "resize"))
		return -1;
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
	if (check_target(id, arg, bytes))
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
	struct ublk_dev_arg dev = { 0 };
	struct ublk_getopt g;
	struct ublk_ctrl c;
	uint64_t bytes = 0;
	int rc;

	ublk_getopt_init(&g, options, &help);
	g.dev = &dev;
	/* The one option of resize's own is --size. */
	while (ublk_getopt_next(&g, argc, argv) != -1) {
		if (ublk_parse_size("size", optarg, 1,
				    UINT64_MAX >> SECTOR_SHIFT, &bytes))
			return ublk_usage_hint();
		size_arg = optarg;
	}
	if (!ublk_getopt_end(&g, argc, argv, true))
		return g.exit_code;
	if (!size_arg)
		return ublk_usage_err("no size given: use --size SIZE");
	if (bytes & ((1U << SECTOR_SHIFT) - 1))
		return ublk_usage_err(
			"--size: '%s': not a multiple of 512 bytes", size_arg);

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	rc = resize(&c, dev.id, size_arg, bytes) ? EXIT_FAIL : EXIT_OK;
	ublk_ctrl_close(&c);
	return rc;
}
