// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl add: parse and check everything, then ADD_DEV, SET_PARAMS and
 * start the server. Any failure after ADD_DEV deletes the device again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/ctrl.h"
#include "ublkctl/server.h"
#include "ublkctl/state.h"

enum {
	OPT_NTHREADS = 1000,
	OPT_LBS,
	OPT_PBS,
	OPT_MAX_IO,
	OPT_READ_ONLY,
	OPT_USER_COPY,
	OPT_ZERO_COPY,
	OPT_AUTO_ZC,
	OPT_AUTO_ZC_FALLBACK,
	OPT_BATCH,
	OPT_UNPRIVILEGED,
	OPT_FOREGROUND,
};

static const struct ublk_opt add_opts[] = {
	{ "type", 't', required_argument, "TARGET",
	  "target: null, loop or fault (required)" },
	{ "id", 'n', required_argument, "ID",
	  "device id (default: the first free one)" },
	{ "queues", 'q', required_argument, "N",
	  "hardware queues (default 1; at most the CPU count)" },
	{ "depth", 'd', required_argument, "N",
	  "requests per queue (default 128, at most 4096)" },
	{ "nthreads", OPT_NTHREADS, required_argument, "N",
	  "server threads (default: one per queue)" },
	{ "size", 's', required_argument, "SIZE",
	  "device size (null, fault: 1G; loop: the backing size)" },
	{ "logical-block-size", OPT_LBS, required_argument, "BYTES",
	  "512-4096, power of 2 (loop: from the backing)" },
	{ "physical-block-size", OPT_PBS, required_argument, "BYTES",
	  "power of 2, >= logical block size (default 4096)" },
	{ "max-io-size", OPT_MAX_IO, required_argument, "SIZE",
	  "largest request (4K-4M, multiple of 4K; default 512K)" },
	{ "read-only", OPT_READ_ONLY, no_argument, NULL,
	  "make the device read-only" },
	{ "recovery", 'r', optional_argument, "MODE",
	  "survive a server crash: requeue (default), reissue or fail-io" },
	{ "user-copy", OPT_USER_COPY, no_argument, NULL,
	  "server copies data with pread/pwrite on /dev/ublkcN" },
	{ "zero-copy", OPT_ZERO_COPY, no_argument, NULL,
	  "register request buffers around each backing I/O" },
	{ "auto-zc", OPT_AUTO_ZC, no_argument, NULL,
	  "kernel registers request buffers itself (zero copy)" },
	{ "auto-zc-fallback", OPT_AUTO_ZC_FALLBACK, no_argument, NULL,
	  "with --auto-zc: register by hand when the kernel could not" },
	{ "batch", OPT_BATCH, no_argument, NULL,
	  "batch I/O commands (UBLK_F_BATCH_IO)" },
	{ "unprivileged", OPT_UNPRIVILEGED, no_argument, NULL,
	  "device owned by the calling user (no root needed)" },
	{ "foreground", OPT_FOREGROUND, no_argument, NULL,
	  "serve in the foreground; SIGTERM/SIGINT stop and delete" },
	UBLK_OPT_END,
};

static void add_usage(void)
{
	const struct target_ops *const *t;

	ublk_usage_begin(
		stdout, "-t TARGET [options] [target options]",
		"Create a ublk device, start its server and print the device.",
		add_opts);
	puts("\nTargets:");
	for (t = ublk_target_list; *t; t++) {
		printf(" %-6s %s\n", (*t)->name, (*t)->summary);
		if ((*t)->opts)
			ublk_opts_print(stdout, (*t)->opts);
		if ((*t)->notes)
			fputs((*t)->notes, stdout);
	}
	puts("\nAt most one of --user-copy, --zero-copy and --auto-zc.");
	printf("Test knob: %s=1 with --auto-zc-fallback makes every automatic\n"
	       "registration fail, so the fallback path serves all I/O.\n",
	       UBLK_ENV_FORCE_NEED_REG_BUF);
	ublk_usage_end(stdout);
}

/* -t/--type before full parsing: the target's options join the table. */
static const char *find_type(int argc, char **argv)
{
	const char *type = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if ((!strcmp(a, "-t") || !strcmp(a, "--type")) && i + 1 < argc)
			type = argv[++i];
		else if (!strncmp(a, "--type=", 7))
			type = a + 7;
		else if (!strncmp(a, "-t", 2) && a[2] && a[1] != '-')
			type = a + 2;
	}
	return type;
}

/* After a checked parser's one-line error: the usual hint. */
static int try_help(void)
{
	fprintf(stderr, "Try '%s %s --help'.\n", UBLKCTL_NAME, ublk_cmd_name);
	return EXIT_USAGE;
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int conflict(const char *a, const char *b)
{
	return ublk_usage_err("%s cannot be combined with %s", a, b);
}

/* Combinations the kernel would refuse (or silently change). */
static int check_combinations(const struct ublk_dev_cfg *c)
{
	if (c->user_copy && c->zero_copy)
		return conflict("--user-copy", "--zero-copy");
	if (c->user_copy && c->auto_zc)
		return conflict("--user-copy", "--auto-zc");
	if (c->zero_copy && c->auto_zc)
		return conflict("--zero-copy", "--auto-zc");
	if (c->auto_zc_fallback && !c->auto_zc)
		return ublk_usage_err("--auto-zc-fallback needs --auto-zc");
	if (c->unprivileged && c->user_copy)
		return conflict("--unprivileged", "--user-copy");
	if (c->unprivileged && c->zero_copy)
		return conflict("--unprivileged", "--zero-copy");
	if (c->unprivileged && c->auto_zc)
		return conflict("--unprivileged", "--auto-zc");
	if (c->unprivileged && c->recovery)
		return conflict("--unprivileged", "--recovery");
	if (c->pbs && c->lbs && c->pbs < c->lbs)
		return ublk_usage_err(
			"--physical-block-size %u is smaller than --logical-block-size %u",
			c->pbs, c->lbs);
	if ((c->zero_copy || c->auto_zc) &&
	    c->queues * c->depth > UBLK_MAX_FIXED_BUFS)
		return ublk_usage_err(
			"--queues %u x --depth %u: more than %u buffers for %s",
			c->queues, c->depth, UBLK_MAX_FIXED_BUFS,
			c->zero_copy ? "--zero-copy" : "--auto-zc");
	return EXIT_OK;
}

int ublk_cfg_parse(struct ublk_dev_cfg *c, int argc, char **argv)
{
	const struct target_ops *ops;
	const char *type = find_type(argc, argv);
	struct option *lo;
	char *so;
	size_t rows;
	int opt, ret = EXIT_OK;

	memset(c, 0, sizeof(*c));
	c->dev_id = UBLK_DEV_ID_ANY;
	c->queues = UBLK_DEF_QUEUES;
	c->depth = UBLK_DEF_DEPTH;
	c->max_io = UBLK_DEF_MAX_IO;
	c->argc = argc - 1;
	c->argv = argv + 1;

	ops = type ? ublk_target_find(type) : NULL;
	rows = ublk_opts_count(add_opts) +
	       (ops ? ublk_opts_count(ops->opts) : 0);
	lo = calloc(rows + 2, sizeof(*lo));
	so = calloc(rows * 3 + 4, 1);
	if (!lo || !so) {
		ublk_errno(ENOMEM, "options");
		ret = EXIT_FAIL;
		goto out;
	}
	ublk_opts_build(add_opts, ops ? ops->opts : NULL, lo, so);
	c->tgt.ops = ops;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		uint64_t v64;

		switch (opt) {
		case 'h':
			add_usage();
			ret = -1;
			goto out;
		case 't':
			break;
		case 'n':
			if (ublk_parse_dev_id("id", optarg, &c->dev_id))
				ret = try_help();
			break;
		case 'q':
			if (ublk_parse_u32("queues", optarg, 1,
					   UBLK_MAX_NR_QUEUES, &c->queues))
				ret = try_help();
			break;
		case 'd':
			if (ublk_parse_u32("depth", optarg, 1,
					   UBLK_MAX_QUEUE_DEPTH, &c->depth))
				ret = try_help();
			break;
		case OPT_NTHREADS:
			if (ublk_parse_u32("nthreads", optarg, 1,
					   UBLK_MAX_THREADS, &c->nthreads))
				ret = try_help();
			break;
		case 's':
			if (ublk_parse_size("size", optarg, 512,
					    UINT64_MAX >> 1, &c->size))
				ret = try_help();
			break;
		case OPT_LBS:
			if (ublk_parse_u32("logical-block-size", optarg, 512,
					   4096, &c->lbs))
				ret = try_help();
			else if (!is_pow2(c->lbs))
				ret = ublk_usage_err(
					"--logical-block-size: '%s': not a power of 2",
					optarg);
			break;
		case OPT_PBS:
			if (ublk_parse_u32("physical-block-size", optarg, 512,
					   256U << 20, &c->pbs))
				ret = try_help();
			else if (!is_pow2(c->pbs))
				ret = ublk_usage_err(
					"--physical-block-size: '%s': not a power of 2",
					optarg);
			break;
		case OPT_MAX_IO:
			if (ublk_parse_size("max-io-size", optarg, 4096,
					    4U << 20, &v64))
				ret = try_help();
			else if (v64 % 4096)
				ret = ublk_usage_err(
					"--max-io-size: '%s': not a multiple of 4K",
					optarg);
			else
				c->max_io = (uint32_t)v64;
			break;
		case OPT_READ_ONLY:
			c->read_only = true;
			break;
		case 'r':
			if (!optarg || !strcmp(optarg, "requeue"))
				c->recovery = UBLK_RECOVERY_REQUEUE;
			else if (!strcmp(optarg, "reissue"))
				c->recovery = UBLK_RECOVERY_REISSUE;
			else if (!strcmp(optarg, "fail-io"))
				c->recovery = UBLK_RECOVERY_FAIL_IO;
			else
				ret = ublk_usage_err(
					"--recovery: '%s': not requeue, reissue or fail-io",
					optarg);
			break;
		case OPT_USER_COPY:
			c->user_copy = true;
			break;
		case OPT_ZERO_COPY:
			c->zero_copy = true;
			break;
		case OPT_AUTO_ZC:
			c->auto_zc = true;
			break;
		case OPT_AUTO_ZC_FALLBACK:
			c->auto_zc_fallback = true;
			break;
		case OPT_BATCH:
			c->batch = true;
			break;
		case OPT_UNPRIVILEGED:
			c->unprivileged = true;
			break;
		case OPT_FOREGROUND:
			c->foreground = true;
			break;
		case ':':
			ret = ublk_usage_err("option '%s' requires an argument",
					     argv[optind - 1]);
			break;
		case '?':
			if (optopt)
				ret = ublk_usage_err("invalid option -- '%c'",
						     optopt);
			else
				ret = ublk_usage_err(
					"unrecognized option '%s'%s",
					argv[optind - 1],
					ops ? "" : " (give -t TARGET first?)");
			break;
		default:
			if (ops && ops->parse_opt)
				ret = ops->parse_opt(&c->tgt, opt, optarg);
			if (ret == EXIT_USAGE)
				try_help();
			break;
		}
		if (ret)
			goto out;
	}
	if (optind < argc) {
		ret = ublk_usage_err("unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (!type) {
		ret = ublk_usage_err("no target given (-t null|loop|fault)");
		goto out;
	}
	if (!ops) {
		ret = ublk_usage_err(
			"-t: '%s': unknown target (null, loop, fault)", type);
		goto out;
	}
	ret = check_combinations(c);
out:
	free(lo);
	free(so);
	return ret;
}

/* Refuse what this kernel cannot do, naming the feature. */
static int check_features(struct ublk_ctrl *ctrl, const struct ublk_dev_cfg *c)
{
	static const struct {
		uint64_t bit;
		const char *opt;
	} need[] = {
		{ UBLK_F_BATCH_IO, "--batch" },
		{ UBLK_F_AUTO_BUF_REG, "--auto-zc" },
		{ UBLK_F_SUPPORT_ZERO_COPY, "--zero-copy" },
		{ UBLK_F_USER_COPY, "--user-copy" },
		{ UBLK_F_USER_RECOVERY, "--recovery" },
		{ UBLK_F_USER_RECOVERY_REISSUE, "--recovery=reissue" },
		{ UBLK_F_USER_RECOVERY_FAIL_IO, "--recovery=fail-io" },
		{ UBLK_F_UNPRIVILEGED_DEV, "--unprivileged" },
		{ UBLK_F_PER_IO_DAEMON, "--nthreads" },
	};
	uint64_t features, want = c->info.flags;
	size_t i;
	int ret;

	ret = ublk_ctrl_get_features(ctrl, &features);
	if (ret < 0) {
		ublk_errno(ret, "GET_FEATURES");
		return EXIT_FAIL;
	}
	for (i = 0; i < ARRAY_SIZE(need); i++) {
		unsigned int bit = (unsigned int)__builtin_ctzll(need[i].bit);

		if ((want & need[i].bit) && !(features & need[i].bit)) {
			if (need[i].bit == UBLK_F_PER_IO_DAEMON)
				ublk_err(
					"--nthreads %u with %u queues: this kernel lacks %s (use --nthreads <= --queues)",
					c->nthreads, c->queues,
					ublk_feature_name(bit));
			else
				ublk_err("%s: this kernel lacks %s",
					 need[i].opt, ublk_feature_name(bit));
			return EXIT_FAIL;
		}
	}
	return EXIT_OK;
}

static uint64_t wanted_flags(const struct ublk_dev_cfg *c)
{
	uint64_t f = UBLK_F_CMD_IOCTL_ENCODE;

	if (c->user_copy)
		f |= UBLK_F_USER_COPY;
	if (c->zero_copy)
		f |= UBLK_F_SUPPORT_ZERO_COPY;
	if (c->auto_zc)
		f |= UBLK_F_AUTO_BUF_REG;
	/* Registering by hand after a failed auto registration is zero copy. */
	if (c->auto_zc_fallback)
		f |= UBLK_F_SUPPORT_ZERO_COPY;
	if (c->batch)
		f |= UBLK_F_BATCH_IO;
	if (c->unprivileged)
		f |= UBLK_F_UNPRIVILEGED_DEV;
	if (c->recovery)
		f |= UBLK_F_USER_RECOVERY;
	if (c->recovery == UBLK_RECOVERY_REISSUE)
		f |= UBLK_F_USER_RECOVERY_REISSUE;
	if (c->recovery == UBLK_RECOVERY_FAIL_IO)
		f |= UBLK_F_USER_RECOVERY_FAIL_IO;
	if (!c->batch && c->nthreads > c->queues)
		f |= UBLK_F_PER_IO_DAEMON;
	return f;
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
	if (t->discard) {
		p->types |= UBLK_PARAM_TYPE_DISCARD;
		p->discard.discard_granularity = t->lbs;
		p->discard.max_discard_sectors = UINT32_MAX >> 9;
		p->discard.max_write_zeroes_sectors = UINT32_MAX >> 9;
		p->discard.max_discard_segments = 1;
	}
}

/* Say which requested flags the kernel did not grant. */
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
	uint64_t want;
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
	if (c->size && c->size % c->tgt.lbs) {
		ret = ublk_usage_err(
			"--size %llu: not a multiple of the block size (%u)",
			(unsigned long long)c->size, c->tgt.lbs);
		goto out_deinit;
	}

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
		goto out_deinit;
	}
	want = wanted_flags(c);
	c->info.flags = want;
	ret = check_features(&ctrl, c);
	if (ret)
		goto out_close;
	/* QUIESCE_DEV needs the flag on the device: recovery brings it along. */
	if (c->recovery) {
		uint64_t features;

		if (!ublk_ctrl_get_features(&ctrl, &features) &&
		    (features & UBLK_F_QUIESCE))
			want |= UBLK_F_QUIESCE;
	}
	if (c->dev_id != UBLK_DEV_ID_ANY) {
		struct ublksrv_ctrl_dev_info old;

		if (!ublk_ctrl_get_info(&ctrl, c->dev_id, &old)) {
			ublk_err("-n %u: device exists already", c->dev_id);
			ret = EXIT_FAIL;
			goto out_close;
		}
	}

	memset(&c->info, 0, sizeof(c->info));
	c->info.nr_hw_queues = (uint16_t)c->queues;
	c->info.queue_depth = (uint16_t)c->depth;
	c->info.max_io_buf_bytes = c->max_io;
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
	if (!(c->info.flags & UBLK_F_BATCH_IO) && c->nthreads &&
	    c->nthreads > c->info.nr_hw_queues &&
	    !(c->info.flags & UBLK_F_PER_IO_DAEMON)) {
		ublk_err(
			"device %u: --nthreads %u > %u queues needs PER_IO_DAEMON",
			id, c->nthreads, c->info.nr_hw_queues);
		ret = EXIT_FAIL;
		goto out_del;
	}

	build_params(c, &params);
	ret = ublk_ctrl_set_params(&ctrl, id, &params);
	if (ret < 0) {
		ublk_errno(ret, "device %u: SET_PARAMS", id);
		ret = EXIT_FAIL;
		goto out_del;
	}

	ret = ublk_server_launch(c, false);
	if (ret)
		goto out_del;
	ublk_ctrl_close(&ctrl);
	goto out_deinit;

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
out_deinit:
	if (c->tgt.ops->deinit)
		c->tgt.ops->deinit(&c->tgt);
out_free:
	if (c->tgt.ops && c->tgt.ops->deinit && c->tgt.priv)
		c->tgt.ops->deinit(&c->tgt);
	free(c);
	return ret;
}
