// SPDX-License-Identifier: GPL-2.0
/*
 * Device configuration: add's options and every target's in one getopt
 * pass, one handler per option (used for argv and for the state file),
 * one exclusion table, and the normalized form saved for recover.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/compat.h"
#include "ublkctl/devcfg.h"
#include "ublkctl/server.h"
#include "ublkctl/state.h"

enum {
	OPT_NTHREADS = 1000,
	OPT_LBS,
	OPT_PBS,
	OPT_MAX_IO,
	OPT_READ_ONLY,
	OPT_COPY,
	OPT_USER_COPY,
	OPT_ZERO_COPY,
	OPT_AUTO_ZC,
	OPT_AUTO_ZC_FALLBACK,
	OPT_BATCH,
	OPT_PER_IO_TASKS,
	OPT_GET_DATA,
	OPT_UNPRIVILEGED,
	OPT_NO_PART_SCAN,
	OPT_FOREGROUND,
	OPT_RECOVER_EXISTING,
	OPT_SHMEM_ZC,
	OPT_SHMEM_RO,
	OPT_IO_DESC_SIZE,
	OPT_INTEGRITY,
	/* getopt keys of target options: TGT_KEY + row of the merged table */
	TGT_KEY = 0x10000,
};

static const struct ublk_opt add_opts[] = {
	{ "type", 't', required_argument, "TARGET",
	  "target: null, loop, stripe, fault, nbd or zoned (required)" },
	{ "id", 'n', required_argument, "ID",
	  "device id (default: the first free one)" },
	{ "queues", 'q', required_argument, "N",
	  "hardware queues (default 1; at most the CPU count)" },
	{ "depth", 'd', required_argument, "N",
	  "requests per queue (default 128, at most 4096)" },
	{ "nthreads", OPT_NTHREADS, required_argument, "N",
	  "server threads (default: one per queue)" },
	{ "size", 's', required_argument, "SIZE",
	  "device size (null, fault: 1G; loop, stripe: the backing size)" },
	{ "logical-block-size", OPT_LBS, required_argument, "BYTES",
	  "512-4096, power of 2 (loop, stripe: from the backing)" },
	{ "physical-block-size", OPT_PBS, required_argument, "BYTES",
	  "power of 2, >= logical block size (default 4096)" },
	{ "max-io-size", OPT_MAX_IO, required_argument, "SIZE",
	  "largest request (4K-4M, multiple of 4K; default 512K)" },
	{ "read-only", OPT_READ_ONLY, no_argument, NULL,
	  "make the device read-only" },
	{ "recovery", 'r', optional_argument, "MODE",
	  "survive a server crash: requeue (default), reissue or fail-io" },
	{ "copy", OPT_COPY, no_argument, NULL,
	  "plain copy (without any data-path option: the fastest)" },
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
	{ "per-io-tasks", OPT_PER_IO_TASKS, no_argument, NULL,
	  "threads share every queue's tags (UBLK_F_PER_IO_DAEMON)" },
	{ "get-data", OPT_GET_DATA, no_argument, NULL,
	  "writes ask for their buffer first (UBLK_F_NEED_GET_DATA)" },
	{ "unprivileged", OPT_UNPRIVILEGED, no_argument, NULL,
	  "device owned by the calling user (no root needed)" },
	{ "no-part-scan", OPT_NO_PART_SCAN, no_argument, NULL,
	  "no partition scan at start (blockdev --rereadpt still works)" },
	{ "foreground", OPT_FOREGROUND, no_argument, NULL,
	  "serve in the foreground; SIGTERM/SIGINT stop and delete" },
	{ "recover-existing", OPT_RECOVER_EXISTING, no_argument, NULL,
	  "device -n ID exists, its server dead: recover it" },
	{ "shmem-zc", OPT_SHMEM_ZC, required_argument, "FILE",
	  "serve I/O whose buffers are in shared memory FILE in place" },
	{ "shmem-ro", OPT_SHMEM_RO, no_argument, NULL,
	  "with --shmem-zc: register FILE read-only (writes only)" },
	{ "io-desc-size", OPT_IO_DESC_SIZE, required_argument, "BYTES",
	  "descriptor stride, 24-256, multiple of 8 (UBLK_F_IO_DESC_SIZE)" },
	{ "integrity", OPT_INTEGRITY, required_argument, "SPEC",
	  "integrity metadata per block (implies --user-copy; loop)" },
	UBLK_OPT_END,
};

/*
 * Options that cannot be combined: any two of one row (as util-linux's
 * ul_excl_t), reported in table order, with the row's reason where one is
 * worth saying (what the driver does with the two flags together: ADD_DEV
 * clears PER_IO_DAEMON and NEED_GET_DATA on a batch device, and
 * NEED_GET_DATA on one that needs no copy into a server buffer). Rows end
 * with 0.
 */
static const struct {
	int keys[4];
	const char *why;
} excl[] = {
	{ { OPT_COPY, OPT_USER_COPY, OPT_ZERO_COPY, OPT_AUTO_ZC }, NULL },
	{ { OPT_UNPRIVILEGED, OPT_USER_COPY }, NULL },
	{ { OPT_UNPRIVILEGED, OPT_ZERO_COPY }, NULL },
	{ { OPT_UNPRIVILEGED, OPT_AUTO_ZC }, NULL },
	{ { OPT_UNPRIVILEGED, 'r' }, NULL },
	{ { OPT_PER_IO_TASKS, OPT_BATCH },
	  "batch mode shares queues between threads already" },
	{ { OPT_GET_DATA, OPT_BATCH },
	  "the driver has no NEED_GET_DATA in batch mode" },
	{ { OPT_GET_DATA, OPT_USER_COPY },
	  "the driver copies no data with --user-copy" },
	{ { OPT_GET_DATA, OPT_ZERO_COPY },
	  "the driver copies no data with --zero-copy" },
	{ { OPT_GET_DATA, OPT_AUTO_ZC },
	  "the driver copies no data with --auto-zc" },
	{ { OPT_INTEGRITY, OPT_COPY }, "metadata moves only by user copy" },
	{ { OPT_INTEGRITY, OPT_ZERO_COPY },
	  "metadata moves only by user copy" },
	{ { OPT_INTEGRITY, OPT_AUTO_ZC }, "metadata moves only by user copy" },
	{ { OPT_INTEGRITY, OPT_GET_DATA }, "metadata moves only by user copy" },
	{ { OPT_INTEGRITY, OPT_UNPRIVILEGED },
	  "the driver has no user copy on unprivileged devices" },
};

/* An option (first) that is meaningless without another (second). */
static const int needs[][2] = {
	{ OPT_AUTO_ZC_FALLBACK, OPT_AUTO_ZC },
	{ OPT_RECOVER_EXISTING, 'n' },
	{ OPT_SHMEM_RO, OPT_SHMEM_ZC },
};

/*
 * Options without argument that set one field (and are saved as true),
 * and the UBLK_F_* flag each asks ADD_DEV for (read-only is a parameter).
 */
static const struct {
	int key;
	size_t off;
	uint64_t dev_flag;
} flag_opts[] = {
	{ OPT_READ_ONLY, offsetof(struct ublk_dev_cfg, read_only), 0 },
	{ OPT_COPY, offsetof(struct ublk_dev_cfg, copy), 0 },
	{ OPT_USER_COPY, offsetof(struct ublk_dev_cfg, user_copy),
	  UBLK_F_USER_COPY },
	{ OPT_ZERO_COPY, offsetof(struct ublk_dev_cfg, zero_copy),
	  UBLK_F_SUPPORT_ZERO_COPY },
	{ OPT_AUTO_ZC, offsetof(struct ublk_dev_cfg, auto_zc),
	  UBLK_F_AUTO_BUF_REG },
	/* Registering by hand after a failed auto registration is zero copy. */
	{ OPT_AUTO_ZC_FALLBACK, offsetof(struct ublk_dev_cfg, auto_zc_fallback),
	  UBLK_F_SUPPORT_ZERO_COPY },
	{ OPT_BATCH, offsetof(struct ublk_dev_cfg, batch), UBLK_F_BATCH_IO },
	{ OPT_PER_IO_TASKS, offsetof(struct ublk_dev_cfg, per_io_tasks),
	  UBLK_F_PER_IO_DAEMON },
	{ OPT_GET_DATA, offsetof(struct ublk_dev_cfg, get_data),
	  UBLK_F_NEED_GET_DATA },
	{ OPT_UNPRIVILEGED, offsetof(struct ublk_dev_cfg, unprivileged),
	  UBLK_F_UNPRIVILEGED_DEV },
	{ OPT_NO_PART_SCAN, offsetof(struct ublk_dev_cfg, no_part_scan),
	  UBLK_F_NO_AUTO_PART_SCAN },
	{ OPT_SHMEM_RO, offsetof(struct ublk_dev_cfg, shmem_ro), 0 },
};

/* --recovery's modes: the name, and the UBLK_F_* flags ADD_DEV asks for. */
static const struct {
	const char *name;
	uint64_t dev_flags;
} recovery_modes[] = {
	[UBLK_RECOVERY_NONE] = { NULL, 0 },
	[UBLK_RECOVERY_REQUEUE] = { "requeue", UBLK_F_USER_RECOVERY },
	[UBLK_RECOVERY_REISSUE] = { "reissue",
				    UBLK_F_USER_RECOVERY |
					    UBLK_F_USER_RECOVERY_REISSUE },
	[UBLK_RECOVERY_FAIL_IO] = { "fail-io",
				    UBLK_F_USER_RECOVERY |
					    UBLK_F_USER_RECOVERY_FAIL_IO },
};

/* --integrity's checksum names (csum=), LBMD_PI_CSUM_* each. */
static const struct {
	const char *name;
	uint8_t csum;
} integrity_csums[] = {
	{ "none", LBMD_PI_CSUM_NONE },
	{ "ip", LBMD_PI_CSUM_IP },
	{ "t10dif", LBMD_PI_CSUM_CRC16_T10DIF },
	{ "crc64", LBMD_PI_CSUM_CRC64_NVME },
	{ "nvme", LBMD_PI_CSUM_CRC64_NVME }, /* kublk's name for crc64 */
};

static bool flag_set(const struct ublk_dev_cfg *c, size_t row)
{
	return *(const bool *)((const char *)c + flag_opts[row].off);
}

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
	puts("--integrity SPEC: comma-separated md=BYTES (metadata per block,\n"
	     "1-255; default the PI tuple's size), csum=none|ip|t10dif|crc64\n"
	     "(default none), pi-off=BYTES (default 0), tag=BYTES (application\n"
	     "tag size, default 0), ref (reference tag), capable (report the\n"
	     "device integrity capable). Only loop keeps metadata\n"
	     "(--integrity-file).");
	printf("Test knob: %s=1 with --auto-zc-fallback makes every automatic\n"
	       "registration fail, so the fallback path serves all I/O.\n",
	       UBLK_ENV_FORCE_NEED_REG_BUF);
	ublk_usage_end(stdout);
}

static bool is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* Bytes of the PI tuple a checksum type (LBMD_PI_CSUM_*) puts in metadata. */
static unsigned int integrity_tuple_size(uint8_t csum)
{
	switch (csum) {
	case LBMD_PI_CSUM_IP:
	case LBMD_PI_CSUM_CRC16_T10DIF:
		return 8;
	case LBMD_PI_CSUM_CRC64_NVME:
		return 16;
	}
	return 0;
}

/*
 * --integrity's normalized form ("md=8,csum=t10dif,pi-off=0,tag=0,ref"),
 * what the state file keeps and parse_integrity reads back.
 */
static void integrity_format(const struct ublk_integrity_cfg *ic, char *buf,
			     size_t len)
{
	const char *csum = "none";
	size_t i;

	for (i = 0; i < ARRAY_SIZE(integrity_csums); i++)
		if (integrity_csums[i].csum == ic->csum) {
			csum = integrity_csums[i].name;
			break;
		}
	snprintf(buf, len, "md=%u,csum=%s,pi-off=%u,tag=%u%s%s", ic->md_size,
		 csum, ic->pi_off, ic->tag_size,
		 ic->flags & LBMD_PI_CAP_REFTAG ? ",ref" : "",
		 ic->flags & LBMD_PI_CAP_INTEGRITY ? ",capable" : "");
}

/* One byte-sized number of --integrity's SPEC ("md=8": name "md"). */
static int integrity_u8(const char *name, const char *val, uint32_t min,
			uint8_t *out)
{
	char opt[32];
	uint32_t v;

	snprintf(opt, sizeof(opt), "integrity: %s", name);
	if (ublk_parse_u32(opt, val, min, 255, &v))
		return ublk_usage_hint();
	*out = (uint8_t)v;
	return EXIT_OK;
}

/*
 * --integrity SPEC, checked whole (as the driver checks it, so that a bad
 * profile is a usage error, not a failed SET_PARAMS).
 */
static int parse_integrity(struct ublk_integrity_cfg *ic, const char *arg)
{
	char spec[256], *tok, *save = NULL;
	bool md_given = false;
	unsigned int tuple;
	size_t i;

	memset(ic, 0, sizeof(*ic));
	if (!*arg || strlen(arg) >= sizeof(spec))
		return ublk_usage_err("--integrity: '%s': bad specification",
				      arg);
	strcpy(spec, arg);
	for (tok = strtok_r(spec, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');
		int ret = EXIT_OK;

		if (val)
			*val++ = '\0';
		if (!strcmp(tok, "ref") && !val) {
			ic->flags |= LBMD_PI_CAP_REFTAG;
		} else if (!strcmp(tok, "capable") && !val) {
			ic->flags |= LBMD_PI_CAP_INTEGRITY;
		} else if (!strcmp(tok, "md") && val) {
			ret = integrity_u8("md", val, 1, &ic->md_size);
			md_given = true;
		} else if (!strcmp(tok, "pi-off") && val) {
			ret = integrity_u8("pi-off", val, 0, &ic->pi_off);
		} else if (!strcmp(tok, "tag") && val) {
			ret = integrity_u8("tag", val, 0, &ic->tag_size);
		} else if (!strcmp(tok, "csum") && val) {
			for (i = 0; i < ARRAY_SIZE(integrity_csums); i++)
				if (!strcmp(val, integrity_csums[i].name))
					break;
			if (i == ARRAY_SIZE(integrity_csums))
				return ublk_usage_err(
					"--integrity: '%s': unknown checksum '%s' (none, ip, t10dif, crc64)",
					arg, val);
			ic->csum = integrity_csums[i].csum;
		} else {
			return ublk_usage_err(
				"--integrity: '%s': unknown item '%s' (md=, csum=, pi-off=, tag=, ref, capable)",
				arg, tok);
		}
		if (ret)
			return ret;
	}
	tuple = integrity_tuple_size(ic->csum);
	if (!md_given && !tuple)
		return ublk_usage_err(
			"--integrity: '%s': md= is needed without a checksum",
			arg);
	if (!md_given)
		ic->md_size = (uint8_t)tuple;
	if ((ic->flags & LBMD_PI_CAP_REFTAG) && !tuple)
		return ublk_usage_err(
			"--integrity: '%s': ref needs a checksum (csum=)", arg);
	if (ic->pi_off + tuple > ic->md_size)
		return ublk_usage_err(
			"--integrity: '%s': pi-off %u + the %u-byte PI tuple exceed md=%u",
			arg, ic->pi_off, tuple, ic->md_size);
	if (ic->tag_size > ic->md_size)
		return ublk_usage_err("--integrity: '%s': tag=%u exceeds md=%u",
				      arg, ic->tag_size, ic->md_size);
	return EXIT_OK;
}

/* Index of key in add_opts (a bit of the "given" set), or -1. */
static int add_row(int key)
{
	const struct ublk_opt *o = ublk_opt_find(add_opts, key);

	return o ? (int)(o - add_opts) : -1;
}

/*
 * One of add's own options (not -t, -h), from argv or from a state
 * file. EXIT_OK, or EXIT_USAGE after printing the error and the hint.
 */
static int apply_opt(struct ublk_dev_cfg *c, int key, const char *arg)
{
	uint64_t v64;
	uint32_t v32;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(flag_opts); i++)
		if (flag_opts[i].key == key) {
			*(bool *)((char *)c + flag_opts[i].off) = true;
			return EXIT_OK;
		}
	switch (key) {
	case 'n':
		if (ublk_parse_dev_id("id", arg, &c->dev_id))
			return ublk_usage_hint();
		break;
	case 'q':
		if (ublk_parse_u32("queues", arg, 1, UBLK_MAX_NR_QUEUES,
				   &c->queues))
			return ublk_usage_hint();
		break;
	case 'd':
		if (ublk_parse_u32("depth", arg, 1, UBLK_MAX_QUEUE_DEPTH,
				   &c->depth))
			return ublk_usage_hint();
		break;
	case OPT_NTHREADS:
		if (ublk_parse_u32("nthreads", arg, 1, UBLK_MAX_THREADS,
				   &c->nthreads))
			return ublk_usage_hint();
		break;
	case 's':
		if (ublk_parse_size("size", arg, 512, UINT64_MAX >> 1,
				    &c->size))
			return ublk_usage_hint();
		break;
	case OPT_LBS:
		if (ublk_parse_u32("logical-block-size", arg, 512, 4096,
				   &c->lbs))
			return ublk_usage_hint();
		if (!is_pow2(c->lbs))
			return ublk_usage_err(
				"--logical-block-size: '%s': not a power of 2",
				arg);
		break;
	case OPT_PBS:
		if (ublk_parse_u32("physical-block-size", arg, 512, 256U << 20,
				   &c->pbs))
			return ublk_usage_hint();
		if (!is_pow2(c->pbs))
			return ublk_usage_err(
				"--physical-block-size: '%s': not a power of 2",
				arg);
		break;
	case OPT_MAX_IO:
		if (ublk_parse_size("max-io-size", arg, 4096, 4U << 20, &v64))
			return ublk_usage_hint();
		if (v64 % 4096)
			return ublk_usage_err(
				"--max-io-size: '%s': not a multiple of 4K",
				arg);
		c->max_io = (uint32_t)v64;
		break;
	case 'r':
		c->recovery = arg ? UBLK_RECOVERY_NONE : UBLK_RECOVERY_REQUEUE;
		for (i = 1; arg && i < ARRAY_SIZE(recovery_modes); i++)
			if (!strcmp(arg, recovery_modes[i].name))
				c->recovery = (enum ublk_recovery)i;
		if (!c->recovery)
			return ublk_usage_err(
				"--recovery: '%s': not requeue, reissue or fail-io",
				arg);
		break;
	case OPT_FOREGROUND:
		c->foreground = true;
		break;
	case OPT_RECOVER_EXISTING:
		c->recover_existing = true;
		break;
	case OPT_IO_DESC_SIZE:
		if (ublk_parse_u32("io-desc-size", arg,
				   sizeof(struct ublksrv_io_desc),
				   UBLK_MAX_IO_DESC_SIZE, &v32))
			return ublk_usage_hint();
		if (v32 % sizeof(uint64_t))
			return ublk_usage_err(
				"--io-desc-size: '%s': not a multiple of 8",
				arg);
		c->io_desc_size = (uint16_t)v32;
		break;
	case OPT_SHMEM_ZC:
		if (!*arg)
			return ublk_usage_err("--shmem-zc: empty file name");
		c->shmem_path = arg;
		break;
	case OPT_INTEGRITY:
		if (parse_integrity(&c->integrity, arg))
			return EXIT_USAGE;
		/* The driver moves metadata only through user copy. */
		c->user_copy = true;
		break;
	}
	return EXIT_OK;
}

/* A target option, by long name, for the chosen target. */
static int apply_tgt_opt(struct ublk_dev_cfg *c, const char *name,
			 const char *arg)
{
	const struct ublk_opt *o;

	for (o = c->tgt.ops->opts; o && o->name; o++)
		if (!strcmp(o->name, name))
			break;
	if (!o || !o->name || !c->tgt.ops->parse_opt)
		return -1;
	if (c->tgt.ops->parse_opt(&c->tgt, o->key, arg) == EXIT_USAGE)
		return ublk_usage_hint();
	return EXIT_OK;
}

static const char *opt_name(int key)
{
	const struct ublk_opt *o = ublk_opt_find(add_opts, key);

	return o ? o->name : "?";
}

/* The exclusion and dependency tables over the set of options given. */
static int check_given(uint64_t given)
{
	size_t r, i, j;

#define GIVEN(key) (given & (1ULL << add_row(key)))
	for (r = 0; r < ARRAY_SIZE(excl); r++) {
		const int *k = excl[r].keys;

		for (i = 0; i < ARRAY_SIZE(excl[r].keys) && k[i]; i++)
			for (j = i + 1; j < ARRAY_SIZE(excl[r].keys) && k[j];
			     j++)
				if (GIVEN(k[i]) && GIVEN(k[j]))
					return ublk_usage_err(
						"--%s cannot be combined with --%s%s%s",
						opt_name(k[i]), opt_name(k[j]),
						excl[r].why ? ": " : "",
						excl[r].why ? excl[r].why : "");
	}
	for (r = 0; r < ARRAY_SIZE(needs); r++)
		if (GIVEN(needs[r][0]) && !GIVEN(needs[r][1]))
			return ublk_usage_err("--%s needs --%s",
					      opt_name(needs[r][0]),
					      opt_name(needs[r][1]));
#undef GIVEN
	return EXIT_OK;
}

/* Relations between values the kernel would refuse (or change). */
static int check_values(const struct ublk_dev_cfg *c)
{
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

static void cfg_init(struct ublk_dev_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->dev_id = UBLK_DEV_ID_ANY;
	c->queues = UBLK_DEF_QUEUES;
	c->depth = UBLK_DEF_DEPTH;
	c->max_io = UBLK_DEF_MAX_IO;
}

static int set_type(struct ublk_dev_cfg *c, const char *type)
{
	if (!type)
		return ublk_usage_err(
			"no target given (-t null|loop|stripe|fault|nbd|zoned)");
	c->tgt.ops = ublk_target_find(type);
	if (!c->tgt.ops)
		return ublk_usage_err(
			"-t: '%s': unknown target (null, loop, stripe, fault, nbd, zoned)",
			type);
	return EXIT_OK;
}

/* add's table plus every target's rows, each name once. */
struct merged {
	struct ublk_opt rows[48];
	size_t n;
};

static void merge_opts(struct merged *m)
{
	const struct target_ops *const *t;
	const struct ublk_opt *o;
	size_t i;

	for (o = add_opts; o->name; o++)
		m->rows[m->n++] = *o;
	for (t = ublk_target_list; *t; t++) {
		for (o = (*t)->opts; o && o->name; o++) {
			for (i = 0; i < m->n; i++)
				if (!strcmp(m->rows[i].name, o->name))
					break;
			if (i < m->n)
				continue;
			/* Tables are static: a bug if they do not fit. */
			if (m->n == ARRAY_SIZE(m->rows) - 1)
				abort();
			m->rows[m->n] = *o;
			/* Short letters stay; long-only rows get our key. */
			if (o->key >= 256)
				m->rows[m->n].key = TGT_KEY + (int)m->n;
			m->n++;
		}
	}
	m->rows[m->n] = (struct ublk_opt)UBLK_OPT_END;
}

/* A target option as met in argv, applied once the type is known. */
struct tgt_arg {
	const char *name;
	char letter; /* given as -<letter>, 0 if as --name */
	const char *arg;
};

int ublk_cfg_parse(struct ublk_dev_cfg *c, int argc, char **argv)
{
	struct tgt_arg targs[32];
	const char *type = NULL;
	size_t ntargs = 0, i;
	uint64_t given = 0;
	struct ublk_getopt g;
	struct merged m = { 0 };
	int opt, ret = EXIT_OK;

	cfg_init(c);
	c->argc = argc - 1;
	c->argv = argv + 1;
	merge_opts(&m);
	/* add prints its own help: the targets' options follow add's. */
	ublk_getopt_init(&g, m.rows, NULL);
	while (!ret && (opt = ublk_getopt_next(&g, argc, argv)) != -1) {
		const struct ublk_opt *o = ublk_opt_find(m.rows, opt);

		if (opt == 'h') {
			add_usage();
			ret = -1;
		} else if (opt == 't') {
			type = optarg;
		} else if (o &&
			   o - m.rows >= (ptrdiff_t)ublk_opts_count(add_opts)) {
			if (ntargs == ARRAY_SIZE(targs)) {
				ret = ublk_usage_err("too many target options");
				break;
			}
			targs[ntargs++] = (struct tgt_arg){
				o->name, g.longidx < 0 ? (char)opt : 0, optarg
			};
		} else if (add_row(opt) >= 0) {
			given |= 1ULL << add_row(opt);
			ret = apply_opt(c, opt, optarg);
		}
	}
	/* A usage error the option loop printed. */
	if (!ret && g.exit_code >= 0)
		ret = g.exit_code;
	if (!ret)
		ret = set_type(c, type);
	/* getopt moved the operands last: the target's one, if it has one. */
	if (!ret && optind < argc) {
		if (!c->tgt.ops->operand || optind + 1 < argc)
			ret = ublk_usage_err(
				"unexpected argument '%s'",
				argv[c->tgt.ops->operand ? optind + 1 : optind]);
		else if (ntargs == ARRAY_SIZE(targs))
			ret = ublk_usage_err("too many target options");
		else
			targs[ntargs++] = (struct tgt_arg){ c->tgt.ops->operand,
							    0, argv[optind] };
	}
	/* Options of another target are unknown to this one. */
	for (i = 0; !ret && i < ntargs; i++) {
		ret = apply_tgt_opt(c, targs[i].name, targs[i].arg);
		if (ret >= 0)
			continue;
		if (targs[i].letter)
			ret = ublk_usage_err("invalid option -- '%c'",
					     targs[i].letter);
		else
			ret = ublk_usage_err("unrecognized option '--%s'",
					     targs[i].name);
	}
	if (!ret)
		ret = check_given(given);
	if (!ret)
		ret = check_values(c);
	if (!ret && c->integrity.md_size && !c->tgt.ops->integrity)
		ret = ublk_usage_err(
			"--integrity: the %s target cannot keep integrity metadata (loop can, with --integrity-file)",
			c->tgt.ops->name);
	/* --get-data is copy mode with one more step. */
	c->mode_given = c->copy || c->user_copy || c->zero_copy || c->auto_zc ||
			c->auto_zc_fallback || c->batch || c->get_data;
	return ret;
}

void ublk_cfg_pick_mode(struct ublk_dev_cfg *c, uint64_t features)
{
	uint64_t want = c->tgt.ops->fast_flags;
	uint64_t fast = want & features;

	if (c->mode_given || c->unprivileged)
		return;
	/* The target's only data path: a kernel without it is told so. */
	if (want == UBLK_F_USER_COPY)
		fast = want;
	if (fast & UBLK_F_USER_COPY)
		c->user_copy = true;
	else if ((fast & UBLK_F_AUTO_BUF_REG) &&
		 c->queues * c->depth <= UBLK_MAX_FIXED_BUFS)
		c->auto_zc = true;
	/* --per-io-tasks is per-I/O mode: batch shares queues its own way. */
	if ((fast & UBLK_F_BATCH_IO) && !c->per_io_tasks)
		c->batch = true;
}

/* One row per bit of flags (none if 0); counted beyond max, not stored. */
static void add_flag_rows(struct ublk_cfg_flag *rows, size_t max, size_t *n,
			  const char *opt, uint64_t flags, bool given)
{
	unsigned int bit;

	for (bit = 0; bit < 64; bit++) {
		if (!(flags & (1ULL << bit)))
			continue;
		if (*n < max) {
			snprintf(rows[*n].opt, sizeof(rows[*n].opt), "%s", opt);
			rows[*n].flag = 1ULL << bit;
			rows[*n].given = given;
		}
		(*n)++;
	}
}

size_t ublk_cfg_flags(const struct ublk_dev_cfg *c, struct ublk_cfg_flag *rows,
		      size_t max)
{
	uint64_t base = recovery_modes[UBLK_RECOVERY_REQUEUE].dev_flags;
	const struct target_ops *const *t;
	char opt[UBLK_CFG_FLAG_OPT_LEN];
	size_t i, n = 0;
	bool given;

	for (i = 0; i < ARRAY_SIZE(flag_opts); i++) {
		snprintf(opt, sizeof(opt), "--%s", opt_name(flag_opts[i].key));
		add_flag_rows(rows, max, &n, opt, flag_opts[i].dev_flag,
			      c && flag_set(c, i));
	}
	/* A mode other than requeue: only what it adds to requeue's. */
	for (i = UBLK_RECOVERY_REQUEUE; i < ARRAY_SIZE(recovery_modes); i++) {
		uint64_t flags = recovery_modes[i].dev_flags;

		if (i == UBLK_RECOVERY_REQUEUE) {
			snprintf(opt, sizeof(opt), "--recovery");
			given = c && c->recovery != UBLK_RECOVERY_NONE;
		} else {
			snprintf(opt, sizeof(opt), "--recovery=%s",
				 recovery_modes[i].name);
			given = c && c->recovery == (enum ublk_recovery)i;
			flags &= ~base;
		}
		add_flag_rows(rows, max, &n, opt, flags, given);
	}
	/* More threads than queues: any thread may serve any tag. */
	given = c && !c->batch && c->nthreads > c->queues;
	add_flag_rows(rows, max, &n, "--nthreads", UBLK_F_PER_IO_DAEMON, given);
	add_flag_rows(rows, max, &n, "--shmem-zc", UBLK_F_SHMEM_ZC,
		      c && c->shmem_path);
	add_flag_rows(rows, max, &n, "--io-desc-size", UBLK_F_IO_DESC_SIZE,
		      c && c->io_desc_size);
	add_flag_rows(rows, max, &n, "--integrity", UBLK_F_INTEGRITY,
		      c && c->integrity.md_size);
	for (t = ublk_target_list; *t; t++) {
		snprintf(opt, sizeof(opt), "-t %s", (*t)->name);
		add_flag_rows(rows, max, &n, opt, (*t)->dev_flags,
			      c && c->tgt.ops == *t);
	}
	return n;
}

uint64_t ublk_cfg_dev_flags(const struct ublk_dev_cfg *c)
{
	struct ublk_cfg_flag rows[UBLK_CFG_MAX_FLAGS];
	uint64_t f = UBLK_F_CMD_IOCTL_ENCODE;
	size_t i, n = ublk_cfg_flags(c, rows, ARRAY_SIZE(rows));

	/* The tables are static: a bug if their rows do not fit. */
	if (n > ARRAY_SIZE(rows))
		abort();
	for (i = 0; i < n; i++)
		if (rows[i].given)
			f |= rows[i].flag;
	return f;
}

/* ---- the normalized form ---- */

/* Append one pair to st->opts (copies); value NULL for a flag. */
static int save_pair(void *ctx, const char *name, const char *value)
{
	struct ublk_state *st = ctx;
	struct ublk_state_opt *o;

	o = realloc(st->opts, (st->nopts + 1) * sizeof(*o));
	if (!o)
		return -ENOMEM;
	st->opts = o;
	o += st->nopts;
	o->name = strdup(name);
	o->value = value ? strdup(value) : NULL;
	if (!o->name || (value && !o->value)) {
		free(o->name);
		free(o->value);
		return -ENOMEM;
	}
	st->nopts++;
	return 0;
}

static int save_u64(struct ublk_state *st, const char *name, uint64_t v)
{
	return ublk_emit_u64(save_pair, st, name, v);
}

int ublk_cfg_save(const struct ublk_dev_cfg *c, struct ublk_state *st)
{
	char spec[128];
	int i, ret;

	integrity_format(&c->integrity, spec, sizeof(spec));
	ret = save_pair(st, "type", c->tgt.ops->name) ||
	      save_u64(st, "queues", c->queues) ||
	      save_u64(st, "depth", c->depth) ||
	      (c->nthreads && save_u64(st, "nthreads", c->nthreads)) ||
	      (c->size && save_u64(st, "size", c->size)) ||
	      (c->lbs && save_u64(st, "logical-block-size", c->lbs)) ||
	      (c->pbs && save_u64(st, "physical-block-size", c->pbs)) ||
	      save_u64(st, "max-io-size", c->max_io) ||
	      (c->io_desc_size &&
	       save_u64(st, "io-desc-size", c->io_desc_size)) ||
	      (c->recovery &&
	       save_pair(st, "recovery", recovery_modes[c->recovery].name)) ||
	      (c->shmem_path && save_pair(st, "shmem-zc", c->shmem_path)) ||
	      (c->integrity.md_size && save_pair(st, "integrity", spec));
	for (i = 0; !ret && i < (int)ARRAY_SIZE(flag_opts); i++)
		if (flag_set(c, (size_t)i))
			ret = save_pair(st, opt_name(flag_opts[i].key), NULL);
	if (!ret && c->tgt.ops->save)
		ret = c->tgt.ops->save(&c->tgt, save_pair, st);
	st->argv = calloc((size_t)c->argc + 1, sizeof(*st->argv));
	for (i = 0; !ret && st->argv && i < c->argc; i++) {
		st->argv[i] = strdup(c->argv[i]);
		if (!st->argv[i])
			break;
		st->argc++;
	}
	return ret || !st->argv || st->argc != c->argc ? -ENOMEM : 0;
}

static int load_pairs(struct ublk_dev_cfg *c, const struct ublk_state *st)
{
	const char *type = NULL;
	int i, ret;

	for (i = 0; i < st->nopts; i++)
		if (!strcmp(st->opts[i].name, "type"))
			type = st->opts[i].value;
	ret = set_type(c, type);
	for (i = 0; !ret && i < st->nopts; i++) {
		const struct ublk_state_opt *p = &st->opts[i];
		const struct ublk_opt *o;

		if (!strcmp(p->name, "type"))
			continue;
		for (o = add_opts; o->name && strcmp(o->name, p->name); o++)
			;
		if (o->name)
			ret = apply_opt(c, o->key, p->value);
		else
			ret = apply_tgt_opt(c, p->name, p->value);
		/* A key a newer ublkctl saved: leave it, as with JSON keys. */
		if (ret < 0) {
			ublk_dbg("state file: ignoring option '%s'", p->name);
			ret = 0;
		}
	}
	return ret;
}

int ublk_cfg_load(struct ublk_dev_cfg *c, const struct ublk_state *st)
{
	char **av;
	int ret, i;

	if (st->nopts) {
		cfg_init(c);
		ret = load_pairs(c, st);
	} else {
		/* Written before "config" existed: its argv, parsed as add. */
		av = calloc((size_t)st->argc + 2, sizeof(*av));
		if (!av) {
			ublk_errno(ENOMEM, "device %u: state file", st->id);
			return EXIT_FAIL;
		}
		av[0] = "add";
		for (i = 0; i < st->argc; i++)
			av[i + 1] = st->argv[i];
		ret = ublk_cfg_parse(c, st->argc + 1, av);
		free(av);
	}
	c->argc = st->argc;
	c->argv = st->argv;
	c->dev_id = st->id;
	c->foreground = false;
	c->recover_existing = false;
	if (ret) {
		ublk_err("device %u: state file: bad device configuration",
			 st->id);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

void ublk_cfg_release(struct ublk_dev_cfg *c)
{
	if (c->tgt.ops && c->tgt.ops->deinit && c->tgt.priv)
		c->tgt.ops->deinit(&c->tgt);
}
