// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl add: parse and check everything (devcfg.c), then ADD_DEV,
 * SET_PARAMS and start the server. Any failure after ADD_DEV deletes the
 * device again. With --recover-existing, a device -n ID that exists and
 * whose server died gets a new server instead (as recover, but with this
 * command line's target): what ublkctl@.service restarts with.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/ctrl.h"
#include "ublkctl/server.h"
#include "ublkctl/shmem.h"
#include "ublkctl/state.h"

/*
 * Refuse what this kernel (features) cannot do, naming the option and the
 * feature: the rows of ublk_cfg_flags that c gives.
 */
static int check_features(uint64_t features, const struct ublk_dev_cfg *c)
{
	struct ublk_cfg_flag rows[UBLK_CFG_MAX_FLAGS];
	size_t i, n = ublk_cfg_flags(c, rows, ARRAY_SIZE(rows));

	for (i = 0; i < n && i < ARRAY_SIZE(rows); i++) {
		const char *name = ublk_feature_name(
			(unsigned int)__builtin_ctzll(rows[i].flag));

		if (!rows[i].given || (features & rows[i].flag))
			continue;
		if (rows[i].flag == UBLK_F_PER_IO_DAEMON &&
		    !strcmp(rows[i].opt, "--nthreads"))
			ublk_err(
				"--nthreads %u with %u queues: this kernel lacks %s (use --nthreads <= --queues)",
				c->nthreads, c->queues, name);
		else
			ublk_err("%s: this kernel lacks %s", rows[i].opt, name);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

/*
 * ADD_DEV may clear flags silently: refuse a device without what its
 * server layout or data path relies on.
 */
static int check_granted(const struct ublk_dev_cfg *c)
{
	uint32_t id = c->info.dev_id;
	bool per_io = !(c->info.flags & UBLK_F_BATCH_IO);

	if (per_io && !(c->info.flags & UBLK_F_PER_IO_DAEMON)) {
		if (c->per_io_tasks) {
			ublk_err(
				"device %u: --per-io-tasks: PER_IO_DAEMON not granted",
				id);
			return EXIT_FAIL;
		}
		if (c->nthreads > c->info.nr_hw_queues) {
			ublk_err(
				"device %u: --nthreads %u > %u queues needs PER_IO_DAEMON",
				id, c->nthreads, c->info.nr_hw_queues);
			return EXIT_FAIL;
		}
	}
	if (c->shmem_path && !(c->info.flags & UBLK_F_SHMEM_ZC)) {
		ublk_err("device %u: --shmem-zc: SHMEM_ZC not granted", id);
		return EXIT_FAIL;
	}
	if (c->integrity.md_size &&
	    (c->info.flags & (UBLK_F_INTEGRITY | UBLK_F_USER_COPY)) !=
		    (UBLK_F_INTEGRITY | UBLK_F_USER_COPY)) {
		ublk_err(
			"device %u: --integrity: INTEGRITY with USER_COPY not granted",
			id);
		return EXIT_FAIL;
	}
	if (c->get_data && !(c->info.flags & UBLK_F_NEED_GET_DATA)) {
		ublk_err("device %u: --get-data: NEED_GET_DATA not granted",
			 id);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static unsigned int ilog2_u32(uint32_t v)
{
	return 31 - (unsigned int)__builtin_clz(v);
}

static void build_params(const struct ublk_dev_cfg *c, struct ublk_params *p)
{
	const struct ublk_tgt *t = &c->tgt;

	memset(p, 0, sizeof(*p));
	p->types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DMA_ALIGN;
	p->basic.attrs = t->attrs | (c->read_only ? UBLK_ATTR_READ_ONLY : 0);
	p->basic.logical_bs_shift = (uint8_t)ilog2_u32(t->lbs);
	p->basic.physical_bs_shift = (uint8_t)ilog2_u32(t->pbs);
	p->basic.io_min_shift = p->basic.logical_bs_shift;
	p->basic.io_opt_shift = p->basic.physical_bs_shift;
	p->basic.max_sectors = c->info.max_io_buf_bytes >> 9;
	p->basic.dev_sectors = t->size >> 9;
	p->dma.alignment = (t->dma_align < 4096 ? t->dma_align : 4096) - 1;
	if (t->discard || t->write_zeroes) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = t->lbs;
		if (t->discard)
			p->discard.max_discard_sectors = UINT32_MAX >> 9;
		if (t->write_zeroes)
			p->discard.max_write_zeroes_sectors = UINT32_MAX >> 9;
		p->discard.max_discard_segments = 1;
	}
	if (c->integrity.md_size) {
		p->types |= UBLK_PARAM_TYPE_INTEGRITY;
		p->integrity.flags = c->integrity.flags;
		p->integrity.interval_exp = p->basic.logical_bs_shift;
		p->integrity.metadata_size = c->integrity.md_size;
		p->integrity.pi_offset = c->integrity.pi_off;
		p->integrity.csum_type = c->integrity.csum;
		p->integrity.tag_size = c->integrity.tag_size;
	}
	if (t->zone_size) {
		p->types |= UBLK_PARAM_TYPE_ZONED;
		p->basic.chunk_sectors = (uint32_t)(t->zone_size >> 9);
		p->zoned.max_open_zones = t->max_open_zones;
		p->zoned.max_active_zones = t->max_active_zones;
		p->zoned.max_zone_append_sectors = p->basic.max_sectors;
		if (t->max_append &&
		    t->max_append >> 9 < p->zoned.max_zone_append_sectors)
			p->zoned.max_zone_append_sectors = t->max_append >> 9;
	}
}

/*
 * --shmem-zc FILE: checked before any side effect, and saved absolute
 * for recover (not resolved: a /proc/PID/fd/N of a memfd names the file
 * only as such).
 */
static int check_shmem(struct ublk_dev_cfg *c)
{
	char cwd[PATH_MAX];
	int ret, n;

	if (!c->shmem_path)
		return EXIT_OK;
	ret = ublk_shmem_check(c->shmem_path, c->shmem_ro);
	if (ret || c->shmem_path[0] == '/')
		return ret;
	if (!getcwd(cwd, sizeof(cwd))) {
		ublk_errno(errno, "--shmem-zc: %s", c->shmem_path);
		return EXIT_FAIL;
	}
	n = snprintf(c->shmem_abs, sizeof(c->shmem_abs), "%s/%s", cwd,
		     c->shmem_path);
	if (n < 0 || (size_t)n >= sizeof(c->shmem_abs)) {
		ublk_errno(ENAMETOOLONG, "--shmem-zc: %s", c->shmem_path);
		return EXIT_FAIL;
	}
	c->shmem_path = c->shmem_abs;
	return EXIT_OK;
}

#define UBLK_NODE_HANDOVER_MS 10000

/*
 * The driver creates /dev/ublkcN root-owned, and checks every control
 * command on an unprivileged device against the caller's access to it:
 * wait (bounded) for udev's rule to hand the node over. On timeout the
 * next command fails with EACCES and says so.
 */
static void wait_node_handed_over(uint32_t id)
{
	int64_t deadline = ublk_now_ms() + UBLK_NODE_HANDOVER_MS;
	char path[64];

	snprintf(path, sizeof(path), UBLK_CHAR_PATH_FMT, id);
	while (access(path, R_OK | W_OK) && ublk_left_ms(deadline) > 0)
		usleep(20 * 1000);
}

/* Say which requested flags the kernel did not grant. */
/* The server is live: show the new device, as list does. */
static void show_added(uint32_t id)
{
	ublk_show_devices(&id, 1);
}

static void warn_dropped(uint64_t want, uint64_t got)
{
	uint64_t lost = want & ~got;
	unsigned int bit;

	for (bit = 0; bit < 64; bit++)
		if (lost & (1ULL << bit))
			ublk_err("warning: the kernel did not grant %s",
				 ublk_feature_name(bit) ?
					 ublk_feature_name(bit) :
					 "an unknown flag");
}

int cmd_add(int argc, char **argv)
{
	struct ublk_ctrl ctrl = { .fd = -1 };
	struct ublk_dev_cfg *c;
	struct ublk_params params;
	uint64_t features, want;
	uint32_t id;
	int ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		ublk_errno(ENOMEM, "add");
		return EXIT_FAIL;
	}
	ret = ublk_cfg_parse(c, argc, argv);
	if (ret) {
		ret = ret < 0 ? EXIT_OK : ret;
		goto out_free;
	}
	ret = c->tgt.ops->init(&c->tgt, c);
	if (ret)
		goto out_free;
	/* The backing's largest request, rounded down to whole pages. */
	if (c->tgt.max_io && c->max_io > c->tgt.max_io)
		c->max_io = c->tgt.max_io / 4096 * 4096;
	if (c->size && c->size % c->tgt.lbs) {
		ret = ublk_usage_err(
			"--size %llu: not a multiple of the block size (%u)",
			(unsigned long long)c->size, c->tgt.lbs);
		goto out_free;
	}
	ret = check_shmem(c);
	if (ret)
		goto out_free;

	ret = ublk_ctrl_open(&ctrl);
	if (ret) {
		if (ret == -ENOENT)
			ublk_err(
				"%s: not found (is the ublk_drv module loaded?)",
				UBLK_CONTROL_PATH);
		else if (ret == -EACCES || ret == -EPERM)
			ublk_errno(
				ret,
				"%s (needs root or CAP_SYS_ADMIN, or --unprivileged with access)",
				UBLK_CONTROL_PATH);
		else
			ublk_errno(ret, "%s", UBLK_CONTROL_PATH);
		ret = EXIT_FAIL;
		goto out_free;
	}
	ret = ublk_ctrl_get_features(&ctrl, &features);
	if (ret < 0) {
		ublk_errno(ret, "GET_FEATURES");
		ret = EXIT_FAIL;
		goto out_close;
	}
	ublk_cfg_pick_mode(c, features);
	want = ublk_cfg_dev_flags(c);
	c->info.flags = want;
	ret = check_features(features, c);
	if (ret)
		goto out_close;
	/* QUIESCE_DEV needs the flag on the device: recovery brings it along. */
	if (c->recovery && (features & UBLK_F_QUIESCE))
		want |= UBLK_F_QUIESCE;
	if (c->dev_id != UBLK_DEV_ID_ANY) {
		struct ublksrv_ctrl_dev_info old;

		if (!ublk_ctrl_get_info(&ctrl, c->dev_id, &old)) {
			/* as recover, with this command line's target */
			if (c->recover_existing) {
				ret = ublk_server_recover(&ctrl, c);
				goto out_close;
			}
			ublk_err("-n %u: device exists already", c->dev_id);
			ret = EXIT_FAIL;
			goto out_close;
		}
	}

	memset(&c->info, 0, sizeof(c->info));
	c->info.nr_hw_queues = (uint16_t)c->queues;
	c->info.queue_depth = (uint16_t)c->depth;
	c->info.max_io_buf_bytes = c->max_io;
	c->info.io_desc_size = c->io_desc_size;
	c->info.dev_id = c->dev_id;
	c->info.ublksrv_pid = -1;
	c->info.flags = want;
	ret = ublk_ctrl_add_dev(&ctrl, &c->info);
	if (ret < 0) {
		if (ret == -EEXIST)
			ublk_err("-n %u: device exists already", c->dev_id);
		else
			ublk_errno(ret, "ADD_DEV");
		ret = EXIT_FAIL;
		goto out_close;
	}
	id = c->info.dev_id;
	warn_dropped(want, c->info.flags);
	if (c->info.nr_hw_queues != c->queues)
		ublk_err("warning: device %u: %u queues granted (asked for %u)",
			 id, c->info.nr_hw_queues, c->queues);
	ret = check_granted(c);
	if (ret)
		goto out_del;

	if (c->info.flags & UBLK_F_UNPRIVILEGED_DEV)
		wait_node_handed_over(id);
	build_params(c, &params);
	ret = ublk_ctrl_set_params(&ctrl, id, &params);
	if (ret == -EACCES && (c->info.flags & UBLK_F_UNPRIVILEGED_DEV)) {
		ublk_err("device %u: SET_PARAMS: " UBLK_CHAR_PATH_FMT
			 " was not handed to you (is the udev rule installed?)",
			 id, id);
		ret = EXIT_FAIL;
		goto out_del;
	}
	if (ret < 0) {
		ublk_errno(ret, "device %u: SET_PARAMS", id);
		ret = EXIT_FAIL;
		goto out_del;
	}

	ret = ublk_server_launch(c, false, show_added);
	if (ret)
		goto out_del;
	ublk_ctrl_close(&ctrl);
	goto out_free;

out_del:
	ret = ublk_ctrl_del_dev(&ctrl, id, false);
	if (ret < 0)
		ublk_errno(ret, "device %u: delete after failure", id);
	ret = ublk_state_remove(id);
	if (ret && ret != -ENOENT)
		ublk_errno(ret, "device %u: remove state file", id);
	ret = EXIT_FAIL;
out_close:
	ublk_ctrl_close(&ctrl);
out_free:
	/* deinit copes with a failed parse or init (target.h) */
	if (c->tgt.ops && c->tgt.ops->deinit)
		c->tgt.ops->deinit(&c->tgt);
	free(c);
	return ret;
}
