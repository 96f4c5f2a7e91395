// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl features: the driver's GET_FEATURES bits, one row per bit set,
 * by name; bits this build does not know are shown as BIT<n>.
 */
#include <errno.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/output.h"

enum {
	COL_BIT,
	COL_NAME,
	COL_DESCRIPTION,
};

static const struct ublk_col columns[] = {
	[COL_BIT] = { "BIT", "bit number", SCOLS_JSON_NUMBER, 3,
		      UBLK_COL_RIGHT },
	[COL_NAME] = { "NAME", "UBLK_F_* name, or BIT<n> if unknown here",
		       SCOLS_JSON_STRING, 20, 0 },
	[COL_DESCRIPTION] = { "DESCRIPTION", "what the feature provides",
			      SCOLS_JSON_STRING, 0.5, 0 },
};

/* One line per bit, index = bit; keep in step with ublk_feature_name. */
static const char *const descriptions[] = {
	"zero copy: REGISTER/UNREGISTER_IO_BUF",
	"complete uring_cmd in task context",
	"writes fetch their data with NEED_GET_DATA",
	"user recovery: restart the server, I/O requeued",
	"user recovery that reissues in-flight I/O",
	"unprivileged devices owned by their creator",
	"ioctl-encoded command opcodes",
	"user copy: pread/pwrite on /dev/ublkcN",
	"zoned block devices",
	"user recovery that fails I/O until recovered",
	"UPDATE_SIZE: resize a live device",
	"automatic buffer registration",
	"QUIESCE_DEV: quiesce for a server upgrade",
	"per-I/O daemon: any thread may serve any tag",
	"register buffers from other threads",
	"batch I/O commands (PREP/COMMIT/FETCH_IO_CMDS)",
	"block integrity metadata",
	"TRY_STOP_DEV: stop only if not open",
	"no automatic partition scan",
	"zero copy through shared memory buffers",
	"I/O descriptor size reported in dev_info",
};

static const int default_columns[] = { COL_BIT, COL_NAME, COL_DESCRIPTION };

static const struct ublk_opt options[] = {
	UBLK_OUT_OPTS("features"),
	UBLK_OPT_END,
};

static const struct ublk_help help = {
	.synopsis = "[options]",
	.summary = "Show the features of the running ublk driver.",
	.cols = columns,
	.ncols = ARRAY_SIZE(columns),
};

static int add_row(const struct ublk_out *o, struct libscols_table *tb,
		   unsigned int bit)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	const char *name = ublk_feature_name(bit);
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
					   bit < ARRAY_SIZE(descriptions) ?
						   descriptions[bit] :
						   "unknown to this ublkctl");
			break;
		}
	}
	return ret;
}

static int show(const struct ublk_out *o)
{
	struct libscols_table *tb;
	struct ublk_ctrl c;
	uint64_t features;
	unsigned int bit;
	int rc = EXIT_FAIL;

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	if (ublk_get_features_or_err(&c, &features))
		goto close;
	tb = ublk_out_new_table(o, columns);
	if (!tb)
		goto close;
	for (bit = 0; bit < 64; bit++) {
		if (!(features & (1ULL << bit)))
			continue;
		if (add_row(o, tb, bit)) {
			ublk_errno(ENOMEM, "cannot build the table");
			goto free;
		}
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

	ublk_out_set_default(&o, default_columns, ARRAY_SIZE(default_columns));
	ublk_getopt_init(&g, options, &help);
	g.out = &o;
	g.cols = &cols;
	/* Every option of the table is a shared one: none comes back here. */
	ublk_getopt_next(&g, argc, argv);
	if (!ublk_getopt_end(&g, argc, argv, false))
		return g.exit_code;
	if (cols &&
	    ublk_out_parse_columns(&o, columns, ARRAY_SIZE(columns), cols))
		return EXIT_USAGE;
	return show(&o);
}
