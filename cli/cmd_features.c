// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl features: the driver's GET_FEATURES bits, one row per bit set,
 * by name (bits this build does not know are shown as BIT<n>); with
 * --add-options, one row per option of add that needs a feature (the rows
 * of ublk_cfg_flags) and whether this driver has it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/devcfg.h"
#include "ublkctl/output.h"

enum {
	COL_BIT,
	COL_NAME,
	COL_DESCRIPTION,
	COL_SINCE,
	COL_OPTION,
	COL_PRESENT,
};

static const struct ublk_col columns[] = {
	[COL_BIT] = { "BIT", "bit number", SCOLS_JSON_NUMBER, 3,
		      UBLK_COL_RIGHT },
	[COL_NAME] = { "NAME", "UBLK_F_* name, or BIT<n> if unknown here",
		       SCOLS_JSON_STRING, 20, 0 },
	[COL_DESCRIPTION] = { "DESCRIPTION", "what the feature provides",
			      SCOLS_JSON_STRING, 0.5, 0 },
	[COL_SINCE] = { "SINCE", "Linux release that introduced the feature",
			SCOLS_JSON_STRING, 5, 0 },
	[COL_OPTION] = { "OPTION", "option of add that needs the feature",
			 SCOLS_JSON_STRING, 18, 0 },
	[COL_PRESENT] = { "PRESENT", "whether the running driver has it",
			  SCOLS_JSON_BOOLEAN, 7, 0 },
};

/*
 * One entry per bit, index = bit; keep in step with ublk_feature_name.
 * since: the mainline release whose include/uapi/linux/ublk_cmd.h and
 * driver first offered the bit (ZERO_COPY's bit is older, but the driver
 * cleared it at ADD_DEV before 6.15).
 */
static const struct {
	const char *description;
	const char *since;
} bits[] = {
	{ "zero copy: REGISTER/UNREGISTER_IO_BUF", "6.15" },
	{ "complete uring_cmd in task context", "6.0" },
	{ "writes fetch their data with NEED_GET_DATA", "6.0" },
	{ "user recovery: restart the server, I/O requeued", "6.1" },
	{ "user recovery that reissues in-flight I/O", "6.1" },
	{ "unprivileged devices owned by their creator", "6.3" },
	{ "ioctl-encoded command opcodes", "6.4" },
	{ "user copy: pread/pwrite on /dev/ublkcN", "6.5" },
	{ "zoned block devices", "6.6" },
	{ "user recovery that fails I/O until recovered", "6.13" },
	{ "UPDATE_SIZE: resize a live device", "6.15" },
	{ "automatic buffer registration", "6.16" },
	{ "QUIESCE_DEV: quiesce for a server upgrade", "6.16" },
	{ "per-I/O daemon: any thread may serve any tag", "6.16" },
	{ "register buffers from other threads", "6.17" },
	{ "batch I/O commands (PREP/COMMIT/FETCH_IO_CMDS)", "7.0" },
	{ "block integrity metadata", "7.0" },
	{ "TRY_STOP_DEV: stop only if not open", "7.0" },
	{ "no automatic partition scan", "7.0" },
	{ "zero copy through shared memory buffers", "7.1" },
	{ "I/O descriptor size reported in dev_info", "7.3" },
};

static const int default_columns[] = { COL_BIT, COL_NAME, COL_DESCRIPTION };
static const int option_columns[] = { COL_OPTION, COL_NAME, COL_SINCE,
				      COL_PRESENT };

enum {
	OPT_ADD_OPTIONS = 256,
};

static const struct ublk_opt options[] = {
	{ "add-options", OPT_ADD_OPTIONS, no_argument, NULL,
	  "one row per option of add that needs a feature" },
	UBLK_OUT_OPTS("features"),
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "[--add-options] [options]",
	.summary = "Show the features of the running ublk driver.",
	.cols = columns,
	.ncols = ARRAY_SIZE(columns),
};

/* "--a,--b": the options of rows that need bit; "" if none. */
static void options_of(const struct ublk_cfg_flag *rows, size_t n,
		       uint64_t flag, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		if (rows[i].flag == flag)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
						 used ? "," : "", rows[i].opt);
}

/* One line for bit; opt is the OPTION cell. */
static int add_line(const struct ublk_out *o, struct libscols_table *tb,
		    unsigned int bit, const char *opt, bool present)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	const char *name = ublk_feature_name(bit);
	bool known = bit < ARRAY_SIZE(bits);
	size_t i;
	int ret = 0;

	if (!ln)
		return -ENOMEM;
	for (i = 0; i < o->ncols && !ret; i++) {
		switch (o->cols[i]) {
		case COL_BIT:
			ret = ublk_out_setf(o, ln, i, "%u", bit);
			break;
		case COL_NAME:
			if (name)
				ret = ublk_out_set(o, ln, i, name);
			else
				ret = ublk_out_setf(o, ln, i, "BIT%u", bit);
			break;
		case COL_DESCRIPTION:
			ret = ublk_out_set(o, ln, i,
					   known ? bits[bit].description :
						   "unknown to this ublkctl");
			break;
		case COL_SINCE:
			ret = ublk_out_set(o, ln, i,
					   known ? bits[bit].since : NULL);
			break;
		case COL_OPTION:
			ret = ublk_out_set(o, ln, i, opt);
			break;
		case COL_PRESENT:
			/* libsmartcols' JSON booleans: "0" is false. */
			if (o->json)
				ret = ublk_out_set(o, ln, i,
						   present ? "1" : "0");
			else
				ret = ublk_out_set(o, ln, i,
						   present ? "present" :
							     "absent");
			break;
		}
	}
	return ret;
}

int ublk_features_fill(const struct ublk_out *o, struct libscols_table *tb,
		       uint64_t features, bool add_options)
{
	struct ublk_cfg_flag rows[UBLK_CFG_MAX_FLAGS];
	size_t i, n = ublk_cfg_flags(NULL, rows, ARRAY_SIZE(rows));
	char opts[256];
	unsigned int bit;
	int ret = 0;

	/* The tables are static: a bug if their rows do not fit. */
	if (n > ARRAY_SIZE(rows))
		abort();
	if (add_options) {
		for (i = 0; i < n && !ret; i++)
			ret = add_line(
				o, tb,
				(unsigned int)__builtin_ctzll(rows[i].flag),
				rows[i].opt, features & rows[i].flag);
		return ret;
	}
	for (bit = 0; bit < 64 && !ret; bit++) {
		if (!(features & (1ULL << bit)))
			continue;
		options_of(rows, n, 1ULL << bit, opts, sizeof(opts));
		ret = add_line(o, tb, bit, opts, true);
	}
	return ret;
}

static int show(const struct ublk_out *o, bool add_options)
{
	struct libscols_table *tb;
	struct ublk_ctrl c;
	uint64_t features;
	int ret, rc = EXIT_FAIL;

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	if (ublk_get_features_or_err(&c, &features))
		goto close;
	tb = ublk_out_new_table(o, columns);
	if (!tb)
		goto close;
	ret = ublk_features_fill(o, tb, features, add_options);
	if (ret) {
		ublk_errno(-ret, "cannot build the table");
		goto free;
	}
	if (!ublk_out_print(tb))
		rc = EXIT_OK;
free:
	scols_unref_table(tb);
close:
	ublk_ctrl_close(&c);
	return rc;
}

int cmd_features(int argc, char **argv)
{
	struct ublk_out o = { .json_root = "features" };
	struct ublk_getopt g;
	const char *cols = NULL;
	bool add_options = false;

	ublk_getopt_init(&g, options, &help);
	g.out = &o;
	g.cols = &cols;
	/* The one option of features' own is --add-options. */
	while (ublk_getopt_next(&g, argc, argv) != -1)
		add_options = true;
	if (!ublk_getopt_end(&g, argc, argv, false))
		return g.exit_code;
	if (ublk_out_select(&o, add_options ? option_columns : default_columns,
			    add_options ? ARRAY_SIZE(option_columns) :
					  ARRAY_SIZE(default_columns),
			    columns, ARRAY_SIZE(columns), cols))
		return EXIT_USAGE;
	return show(&o, add_options);
}
