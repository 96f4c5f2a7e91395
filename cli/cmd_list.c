// SPDX-License-Identifier: GPL-2.0
/*
 * ublkctl list: one row per device, from GET_DEV_INFO2 and GET_PARAMS plus
 * the state file add wrote (target, backing). Devices are enumerated from
 * /sys/class/ublk-char, so ids above 127 are found.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/output.h"
#include "ublkctl/state.h"

enum {
	COL_ID,
	COL_STATE,
	COL_TARGET,
	COL_SIZE,
	COL_QUEUES,
	COL_DEPTH,
	COL_LOGSEC,
	COL_MAJMIN,
	COL_PID,
	COL_BACKING,
	COL_FLAGS,
	COL_PHYSEC,
	COL_MAXIO,
	COL_RO,
	COL_UID,
	COL_GID,
	COL_CHAR,
	COL_BLOCK,
	COL_MODE,
	COL_THREADS,
	COL_ERROR,
};

/* Column names and JSON keys are an API: add, never rename. */
static const struct ublk_col columns[] = {
	[COL_ID] = { "ID", "device id", SCOLS_JSON_NUMBER, 3, UBLK_COL_RIGHT },
	[COL_STATE] = { "STATE", "dead, live, quiesced or fail-io",
			SCOLS_JSON_STRING, 5, 0 },
	[COL_TARGET] = { "TARGET",
			 "target of the server (null, loop, stripe, fault, nbd)",
			 SCOLS_JSON_STRING, 6, 0 },
	[COL_SIZE] = { "SIZE", "size of the block device", SCOLS_JSON_NUMBER, 5,
		       UBLK_COL_SIZE },
	[COL_QUEUES] = { "QUEUES", "number of hardware queues",
			 SCOLS_JSON_NUMBER, 3, UBLK_COL_RIGHT },
	[COL_DEPTH] = { "DEPTH", "depth of each queue", SCOLS_JSON_NUMBER, 3,
			UBLK_COL_RIGHT },
	[COL_LOGSEC] = { "LOG-SEC", "logical sector size in bytes",
			 SCOLS_JSON_NUMBER, 4, UBLK_COL_RIGHT },
	[COL_MAJMIN] = { "MAJ:MIN", "major:minor of the block device",
			 SCOLS_JSON_STRING, 6, 0 },
	[COL_PID] = { "PID", "process id of the server", SCOLS_JSON_NUMBER, 5,
		      UBLK_COL_RIGHT },
	[COL_BACKING] = { "BACKING", "backing file, device or NBD URI",
			  SCOLS_JSON_STRING, 0.3, 0 },
	[COL_FLAGS] = { "FLAGS",
			"UBLK_F_* flags the device was granted (JSON: array)",
			SCOLS_JSON_ARRAY_STRING, 0.3, UBLK_COL_TRUNC },
	[COL_PHYSEC] = { "PHY-SEC", "physical sector size in bytes",
			 SCOLS_JSON_NUMBER, 4, UBLK_COL_RIGHT },
	[COL_MAXIO] = { "MAX-IO", "largest I/O the server takes",
			SCOLS_JSON_NUMBER, 5, UBLK_COL_SIZE },
	[COL_RO] = { "RO", "read-only device", SCOLS_JSON_BOOLEAN, 1,
		     UBLK_COL_RIGHT },
	[COL_UID] = { "UID", "user id of the owner", SCOLS_JSON_NUMBER, 4,
		      UBLK_COL_RIGHT },
	[COL_GID] = { "GID", "group id of the owner", SCOLS_JSON_NUMBER, 4,
		      UBLK_COL_RIGHT },
	[COL_CHAR] = { "CHAR", "character device of the server",
		       SCOLS_JSON_STRING, 10, 0 },
	[COL_BLOCK] = { "BLOCK", "block device (while started)",
			SCOLS_JSON_STRING, 10, 0 },
	[COL_MODE] = { "MODE",
		       "data path: copy, user-copy, zero-copy, auto-zc (batch-: batch I/O)",
		       SCOLS_JSON_STRING, 5, 0 },
	[COL_THREADS] = { "THREADS", "server I/O threads", SCOLS_JSON_NUMBER, 3,
			  UBLK_COL_RIGHT },
	[COL_ERROR] = { "ERROR", "why the server failed, as it logged it",
			SCOLS_JSON_STRING, 0.3, UBLK_COL_TRUNC },
};

/*
 * Text: one readable line per device; MODE where FLAGS was (the
 * positions of the others stay), FLAGS, THREADS and the rest on request.
 */
static const int default_columns[] = {
	COL_ID,	    COL_STATE,	COL_TARGET, COL_SIZE,	 COL_QUEUES, COL_DEPTH,
	COL_LOGSEC, COL_MAJMIN, COL_PID,    COL_BACKING, COL_MODE,
};

/* JSON keys are an API: -J keeps every key it ever printed by default. */
static const int default_json_columns[] = {
	COL_ID,	   COL_STATE,  COL_TARGET, COL_SIZE, COL_QUEUES,
	COL_DEPTH, COL_LOGSEC, COL_MAJMIN, COL_PID,  COL_BACKING,
	COL_FLAGS, COL_MODE,   COL_ERROR,
};

enum {
	OPT_LIST_COLUMNS = 256,
};

static const struct ublk_opt options[] = {
	{ "id", 'n', required_argument, "ID", "list only device ID" },
	UBLK_OUT_OPTS("ublkdevices"),
	{ "bytes", 'b', no_argument, NULL, "print SIZE in bytes" },
	{ "list-columns", OPT_LIST_COLUMNS, no_argument, NULL,
	  "print the column names and exit" },
	UBLK_OPT_END,
};

/* What we know about one device. */
struct dev_row {
	uint32_t id;
	struct ublksrv_ctrl_dev_info info;
	struct ublk_params params;
	bool have_params;
	struct ublk_state st;
	bool have_state;
};

static const struct ublk_help help = {
	.synopsis = "[options]",
	.summary = "List ublk devices.",
	.cols = columns,
	.ncols = ARRAY_SIZE(columns),
};

/*
 * Query one device. 0, or a negative errno from GET_DEV_INFO (-ENODEV:
 * it does not exist). Missing params or state file only empty cells.
 */
static int collect(struct ublk_ctrl *c, uint32_t id, struct dev_row *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	r->id = id;
	ret = ublk_ctrl_get_info(c, id, &r->info);
	if (ret)
		return ret;
	ret = ublk_ctrl_get_params(c, id, &r->params);
	r->have_params = !ret;
	if (ret)
		ublk_dbg("device %u: GET_PARAMS: %s", id, strerror(-ret));
	ret = ublk_state_read(id, &r->st);
	r->have_state = !ret;
	if (ret && ret != -ENOENT)
		ublk_dbg("device %u: state file: %s", id, strerror(-ret));
	return 0;
}

static void release(struct dev_row *r)
{
	if (r->have_state)
		ublk_state_free(&r->st);
	r->have_state = false;
}

/* Flag names; '\n'-separated for a JSON array, else comma-separated. */
static void flag_names(uint64_t flags, bool json, char *buf, size_t len)
{
	size_t off = 0;
	unsigned int bit;

	buf[0] = '\0';
	for (bit = 0; bit < 64 && off < len; bit++) {
		const char *name = ublk_feature_name(bit);
		char unknown[16];

		if (!(flags & (1ULL << bit)))
			continue;
		if (!name) {
			snprintf(unknown, sizeof(unknown), "BIT%u", bit);
			name = unknown;
		}
		off += snprintf(buf + off, len - off, "%s%s",
				off ? (json ? "\n" : ",") : "", name);
	}
}

/*
 * The data path, named as add's options and tests/bench/run name it:
 * copy, user-copy, zero-copy, auto-zc; with batch I/O "batch-" in front,
 * and batch alone for batch with copy.
 */
static const char *mode_name(uint64_t flags, char *buf, size_t len)
{
	const char *path = "copy";
	bool batch = flags & UBLK_F_BATCH_IO;

	if (flags & UBLK_F_AUTO_BUF_REG)
		path = "auto-zc";
	else if (flags & UBLK_F_SUPPORT_ZERO_COPY)
		path = "zero-copy";
	else if (flags & UBLK_F_USER_COPY)
		path = "user-copy";
	if (!batch)
		return path;
	if (!strcmp(path, "copy"))
		return "batch";
	snprintf(buf, len, "batch-%s", path);
	return buf;
}

static int set_cell(const struct ublk_out *o, struct libscols_line *ln,
		    size_t i, const struct dev_row *r)
{
	const struct ublk_param_basic *b = &r->params.basic;
	const struct ublk_param_devt *d = &r->params.devt;
	bool basic = r->have_params &&
		     (r->params.types & UBLK_PARAM_TYPE_BASIC);
	bool devt = r->have_params && (r->params.types & UBLK_PARAM_TYPE_DEVT);
	bool disk = devt && (d->disk_major || d->disk_minor);
	char buf[1024];

	switch (o->cols[i]) {
	case COL_ID:
		return ublk_out_setf(o, ln, i, "%u", r->id);
	case COL_STATE:
		return ublk_out_set(o, ln, i,
				    ublk_state_name(r->info.state, buf,
						    sizeof(buf)));
	case COL_TARGET:
		return ublk_out_set(o, ln, i,
				    r->have_state ? r->st.target : NULL);
	case COL_SIZE:
		if (!basic)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_set(o, ln, i,
				    ublk_out_size(o, b->dev_sectors << 9, buf,
						  sizeof(buf)));
	case COL_QUEUES:
		return ublk_out_setf(o, ln, i, "%u", r->info.nr_hw_queues);
	case COL_DEPTH:
		return ublk_out_setf(o, ln, i, "%u", r->info.queue_depth);
	case COL_LOGSEC:
		if (!basic)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, "%u", 1U << b->logical_bs_shift);
	case COL_PHYSEC:
		if (!basic)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, "%u",
				     1U << b->physical_bs_shift);
	case COL_MAJMIN:
		if (!disk)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, "%u:%u", d->disk_major,
				     d->disk_minor);
	case COL_PID:
		if (r->info.ublksrv_pid <= 0)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, "%d", r->info.ublksrv_pid);
	case COL_BACKING:
		if (r->have_state && r->st.status[0])
			return ublk_out_setf(o, ln, i, "%s (%s)", r->st.backing,
					     r->st.status);
		return ublk_out_set(o, ln, i,
				    r->have_state ? r->st.backing : NULL);
	case COL_FLAGS:
		flag_names(r->info.flags, o->json, buf, sizeof(buf));
		return ublk_out_set(o, ln, i, buf);
	case COL_MAXIO:
		return ublk_out_set(o, ln, i,
				    ublk_out_size(o, r->info.max_io_buf_bytes,
						  buf, sizeof(buf)));
	case COL_RO:
		if (!basic)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_set(o, ln, i,
				    b->attrs & UBLK_ATTR_READ_ONLY ? "1" : "0");
	case COL_UID:
		return ublk_out_setf(o, ln, i, "%u", r->info.owner_uid);
	case COL_GID:
		return ublk_out_setf(o, ln, i, "%u", r->info.owner_gid);
	case COL_CHAR:
		return ublk_out_setf(o, ln, i, UBLK_CHAR_PATH_FMT, r->id);
	case COL_BLOCK:
		if (!disk)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, UBLK_BLOCK_PATH_FMT, r->id);
	case COL_MODE:
		return ublk_out_set(o, ln, i,
				    mode_name(r->info.flags, buf, sizeof(buf)));
	case COL_THREADS:
		if (!r->have_state || !r->st.threads)
			return ublk_out_set(o, ln, i, NULL);
		return ublk_out_setf(o, ln, i, "%u", r->st.threads);
	case COL_ERROR:
		return ublk_out_set(
			o, ln, i,
			r->have_state && r->st.error[0] ? r->st.error : NULL);
	}
	return 0;
}

static int add_row(const struct ublk_out *o, struct libscols_table *tb,
		   const struct dev_row *r)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	size_t i;

	if (!ln)
		goto nomem;
	for (i = 0; i < o->ncols; i++)
		if (set_cell(o, ln, i, r))
			goto nomem;
	return 0;
nomem:
	ublk_errno(ENOMEM, "device %u", r->id);
	return -1;
}

/* All device ids, in a malloc'ed array; count or -1 (message printed). */
static int all_ids(uint32_t **out)
{
	uint32_t *ids = NULL, *tmp;
	int max = 64, n;

	for (;;) {
		tmp = realloc(ids, max * sizeof(*ids));
		if (!tmp) {
			free(ids);
			ublk_errno(ENOMEM, "cannot list devices");
			return -1;
		}
		ids = tmp;
		n = ublk_list_dev_ids(ids, max);
		if (n < 0) {
			free(ids);
			ublk_errno(n, "%s", UBLK_SYSFS_CHAR_CLASS);
			return -1;
		}
		if (n < max)
			break;
		max *= 2;
	}
	*out = ids;
	return n;
}

/*
 * Print ids (all devices when ids is NULL) as o says. A device named
 * explicitly that is missing is an error; one that vanished while
 * enumerating is skipped. Returns an exit code.
 */
static int show(const struct ublk_out *o, const uint32_t *ids, int n)
{
	struct libscols_table *tb = NULL;
	uint32_t *all = NULL;
	struct ublk_ctrl c;
	int i, rc = EXIT_OK, rows = 0;
	bool named = ids != NULL;

	if (ublk_open_ctrl(&c))
		return EXIT_FAIL;
	if (!named) {
		n = all_ids(&all);
		if (n < 0) {
			rc = EXIT_FAIL;
			goto out;
		}
		ids = all;
	}
	tb = ublk_out_new_table(o, columns);
	if (!tb) {
		rc = EXIT_FAIL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct dev_row r;
		int ret = collect(&c, ids[i], &r);

		if ((ret == -ENODEV || ret == -ENOENT) && !named)
			continue;
		if (ret) {
			ublk_dev_err(ids[i], ret, "cannot read device info");
			rc = EXIT_FAIL;
			continue;
		}
		ret = add_row(o, tb, &r);
		release(&r);
		if (ret) {
			rc = EXIT_FAIL;
			goto out;
		}
		rows++;
	}
	/* No devices: nothing in text (as losetup), an empty array in JSON. */
	if ((rows || o->json) && ublk_out_print(tb))
		rc = EXIT_FAIL;
out:
	scols_unref_table(tb);
	free(all);
	ublk_ctrl_close(&c);
	return rc;
}

int ublk_show_devices(const uint32_t *ids, int n)
{
	struct ublk_out o = { 0 };

	ublk_out_set_default(&o, default_columns, ARRAY_SIZE(default_columns));
	return show(&o, ids, n);
}

int cmd_list(int argc, char **argv)
{
	struct ublk_out o = { .json_root = "ublkdevices" };
	struct ublk_getopt g;
	const char *cols = NULL;
	struct ublk_dev_arg dev = { 0 };

	ublk_getopt_init(&g, options, &help);
	g.dev = &dev;
	g.out = &o;
	g.cols = &cols;
	/* The one option of list's own is --list-columns. */
	if (ublk_getopt_next(&g, argc, argv) == OPT_LIST_COLUMNS) {
		ublk_out_list_columns(stdout, columns, ARRAY_SIZE(columns));
		return EXIT_OK;
	}
	if (!ublk_getopt_end(&g, argc, argv, false))
		return g.exit_code;
	if (ublk_out_select(&o, o.json ? default_json_columns : default_columns,
			    o.json ? ARRAY_SIZE(default_json_columns) :
				     ARRAY_SIZE(default_columns),
			    columns, ARRAY_SIZE(columns), cols))
		return EXIT_USAGE;
	return dev.given ? show(&o, &dev.id, 1) : show(&o, NULL, 0);
}
