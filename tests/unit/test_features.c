// SPDX-License-Identifier: GPL-2.0
/*
 * The rows of `ublkctl features` for a made-up feature mask: one per bit
 * set, and with --add-options one per option of add that needs a feature,
 * PRESENT a JSON boolean from the mask.
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ublkctl/devcfg.h"
#include "ublkctl/output.h"
#include "ublkctl/ublkctl.h"
#include "unit.h"

/* The table as JSON for features and the columns cols (-o syntax). */
static json_object *table(uint64_t features, bool add_options, const char *cols)
{
	static const struct ublk_col all[] = {
		{ "BIT", "", SCOLS_JSON_NUMBER, 3, 0 },
		{ "NAME", "", SCOLS_JSON_STRING, 20, 0 },
		{ "DESCRIPTION", "", SCOLS_JSON_STRING, 0.5, 0 },
		{ "SINCE", "", SCOLS_JSON_STRING, 5, 0 },
		{ "OPTION", "", SCOLS_JSON_STRING, 18, 0 },
		{ "PRESENT", "", SCOLS_JSON_BOOLEAN, 7, 0 },
	};
	struct ublk_out o = { .json = true, .json_root = "features" };
	struct libscols_table *tb;
	json_object *root = NULL;
	char *text = NULL;

	CHECK_EQ(ublk_out_parse_columns(&o, all, ARRAY_SIZE(all), cols), 0);
	tb = ublk_out_new_table(&o, all);
	CHECK(tb != NULL);
	if (!tb)
		return NULL;
	CHECK_EQ(ublk_features_fill(&o, tb, features, add_options), 0);
	CHECK_EQ(scols_print_table_to_string(tb, &text), 0);
	if (text)
		root = json_tokener_parse(text);
	CHECK(root != NULL);
	free(text);
	scols_unref_table(tb);
	return root;
}

/* The row whose key equals val, or NULL. */
static json_object *row_by(json_object *root, const char *key, const char *val)
{
	json_object *arr, *row, *v;
	size_t i;

	if (!root || !json_object_object_get_ex(root, "features", &arr))
		return NULL;
	for (i = 0; i < json_object_array_length(arr); i++) {
		row = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(row, key, &v) &&
		    !strcmp(json_object_get_string(v), val))
			return row;
	}
	return NULL;
}

static const char *field(json_object *row, const char *key)
{
	json_object *v;

	if (!row || !json_object_object_get_ex(row, key, &v))
		return NULL;
	return json_object_get_string(v);
}

static int present(json_object *row)
{
	json_object *v;

	if (!row || !json_object_object_get_ex(row, "present", &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v);
}

static bool same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

/* The --add-options row of opt has name, since and present. */
static void check_option(json_object *root, const char *opt, const char *name,
			 const char *since, int want_present)
{
	json_object *row = row_by(root, "option", opt);

	CHECK(row != NULL);
	CHECK(same(field(row, "name"), name));
	CHECK(same(field(row, "since"), since));
	CHECK_EQ(present(row), want_present);
}

int main(void)
{
	struct ublk_cfg_flag rows[UBLK_CFG_MAX_FLAGS];
	uint64_t mask = UBLK_F_BATCH_IO | UBLK_F_USER_RECOVERY |
			UBLK_F_CMD_IOCTL_ENCODE;
	json_object *root, *arr, *row;
	size_t n;

	ublk_cmd_name = "features";
	n = ublk_cfg_flags(NULL, rows, ARRAY_SIZE(rows));

	/* --add-options: every row of ublk_cfg_flags, present from mask. */
	root = table(mask, true, "OPTION,NAME,SINCE,PRESENT");
	CHECK(root && json_object_object_get_ex(root, "features", &arr) &&
	      json_object_array_length(arr) == n);
	check_option(root, "--batch", "BATCH_IO", "7.0", 1);
	check_option(root, "--no-part-scan", "NO_AUTO_PART_SCAN", "7.0", 0);
	check_option(root, "--recovery", "USER_RECOVERY", "6.1", 1);
	check_option(root, "--recovery=reissue", "USER_RECOVERY_REISSUE", "6.1",
		     0);
	check_option(root, "--user-copy", "USER_COPY", "6.5", 0);
	check_option(root, "--nthreads", "PER_IO_DAEMON", "6.16", 0);
	json_object_put(root);

	/* Plain: one row per bit set, ascending, with the options needing it. */
	root = table(mask | (1ULL << 63), false,
		     "BIT,NAME,OPTION,SINCE,PRESENT");
	CHECK(root && json_object_object_get_ex(root, "features", &arr) &&
	      json_object_array_length(arr) == 4);
	CHECK(same(field(json_object_array_get_idx(arr, 0), "bit"), "3"));
	CHECK(same(field(json_object_array_get_idx(arr, 3), "bit"), "63"));
	row = row_by(root, "name", "CMD_IOCTL_ENCODE");
	CHECK(row && field(row, "option") == NULL);
	CHECK(same(field(row, "since"), "6.4"));
	row = row_by(root, "name", "BATCH_IO");
	CHECK(same(field(row, "option"), "--batch"));
	CHECK_EQ(present(row), 1);
	row = row_by(root, "name", "BIT63");
	CHECK(same(field(row, "bit"), "63"));
	CHECK(row && field(row, "since") == NULL);
	json_object_put(root);

	/* A bit two options need lists both. */
	root = table(UBLK_F_SUPPORT_ZERO_COPY, false, "NAME,OPTION");
	row = row_by(root, "name", "ZERO_COPY");
	CHECK(same(field(row, "option"), "--zero-copy,--auto-zc-fallback"));
	json_object_put(root);
	return unit_done("test_features");
}
