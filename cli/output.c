// SPDX-License-Identifier: GPL-2.0
/* libsmartcols tables: column selection, table setup, cells, sizes. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ublkctl/ublkctl.h"
#include "ublkctl/output.h"

void ublk_out_set_default(struct ublk_out *o, const int *defaults, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < UBLK_MAX_OUT_COLS; i++)
		o->cols[i] = defaults[i];
	o->ncols = i;
}

static int find_column(const struct ublk_col *cols, size_t ncols,
		       const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < ncols; i++)
		if (strlen(cols[i].name) == len &&
		    !strncasecmp(cols[i].name, name, len))
			return (int)i;
	return -1;
}

static bool has_col(const int *v, size_t n, int x)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

int ublk_out_select(struct ublk_out *o, const int *defaults, size_t n,
		    const struct ublk_col *cols, size_t ncols, const char *arg)
{
	ublk_out_set_default(o, defaults, n);
	if (arg && ublk_out_parse_columns(o, cols, ncols, arg))
		return EXIT_USAGE;
	return EXIT_OK;
}

int ublk_out_parse_columns(struct ublk_out *o, const struct ublk_col *cols,
			   size_t ncols, const char *arg)
{
	int sel[UBLK_MAX_OUT_COLS];
	const char *p = arg;
	size_t n = 0;

	/* Work on a copy: a bad list leaves the selection alone. */
	if (*p == '+') {
		n = o->ncols;
		memcpy(sel, o->cols, n * sizeof(*sel));
		p++;
	}
	for (;;) {
		size_t len = strcspn(p, ",");
		int idx = find_column(cols, ncols, p, len);

		if (idx < 0) {
			if (!len)
				ublk_usage_err(
					"--output: '%s': empty column name",
					arg);
			else
				ublk_usage_err(
					"--output: unknown column '%.*s'",
					(int)len, p);
			return -1;
		}
		/* A column shows once: "+FLAGS" on a set with it adds none. */
		if (!has_col(sel, n, idx)) {
			if (n == UBLK_MAX_OUT_COLS) {
				ublk_usage_err(
					"--output: '%s': too many columns",
					arg);
				return -1;
			}
			sel[n++] = idx;
		}
		if (!p[len])
			break;
		p += len + 1;
	}
	memcpy(o->cols, sel, n * sizeof(*sel));
	o->ncols = n;
	return 0;
}

void ublk_out_print_columns(FILE *f, const struct ublk_col *cols, size_t ncols)
{
	int width = 0;
	size_t i;

	for (i = 0; i < ncols; i++)
		if ((int)strlen(cols[i].name) > width)
			width = (int)strlen(cols[i].name);
	fputs("\nOutput columns:\n", f);
	for (i = 0; i < ncols; i++)
		fprintf(f, " %*s  %s\n", width, cols[i].name, cols[i].help);
}

void ublk_out_list_columns(FILE *f, const struct ublk_col *cols, size_t ncols)
{
	size_t i;

	for (i = 0; i < ncols; i++)
		fprintf(f, "%s\t%s\n", cols[i].name, cols[i].help);
}

struct libscols_table *ublk_out_new_table(const struct ublk_out *o,
					  const struct ublk_col *cols)
{
	struct libscols_table *tb;
	size_t i;

	scols_init_debug(0);
	tb = scols_new_table();
	if (!tb)
		goto nomem;
	scols_table_enable_json(tb, o->json);
	scols_table_enable_raw(tb, o->raw);
	scols_table_enable_noheadings(tb, o->noheadings);
	if (o->json)
		scols_table_set_name(tb, o->json_root);

	for (i = 0; i < o->ncols; i++) {
		const struct ublk_col *c = &cols[o->cols[i]];
		struct libscols_column *cl;
		int fl = 0, jt = c->json_type;

		if (c->flags & UBLK_COL_RIGHT)
			fl |= SCOLS_FL_RIGHT;
		if ((c->flags & UBLK_COL_TRUNC) && !o->json)
			fl |= SCOLS_FL_TRUNC;
		if (c->flags & UBLK_COL_SIZE) {
			fl |= SCOLS_FL_RIGHT;
			jt = o->bytes ? SCOLS_JSON_NUMBER : SCOLS_JSON_STRING;
		}
		/* JSON arrays are '\n'-separated cells split by the wrap code. */
		if (o->json && jt == SCOLS_JSON_ARRAY_STRING)
			fl |= SCOLS_FL_WRAP;
		cl = scols_table_new_column(tb, c->name, c->whint, fl);
		if (!cl)
			goto nomem_table;
		if (o->json)
			scols_column_set_json_type(cl, jt);
		if (o->json && jt == SCOLS_JSON_ARRAY_STRING)
			scols_column_set_wrapfunc(cl, scols_wrapnl_chunksize,
						  scols_wrapnl_nextchunk, NULL);
	}
	return tb;

nomem_table:
	scols_unref_table(tb);
nomem:
	ublk_errno(ENOMEM, "cannot set up the output table");
	return NULL;
}

int ublk_out_set(const struct ublk_out *o, struct libscols_line *ln, size_t i,
		 const char *val)
{
	if (!val || !*val)
		val = o->json ? NULL : "-";
	if (!val)
		return 0;
	return scols_line_set_data(ln, i, val) ? -ENOMEM : 0;
}

int ublk_out_setf(const struct ublk_out *o, struct libscols_line *ln, size_t i,
		  const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return ublk_out_set(o, ln, i, buf);
}

void ublk_size_to_human(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTPE";
	unsigned int exp = 0;
	uint64_t whole = bytes, frac;

	while (whole >= 1024 && exp < sizeof(units) - 2) {
		whole >>= 10;
		exp++;
	}
	if (!exp) {
		snprintf(buf, len, "%" PRIu64 "B", bytes);
		return;
	}
	/* One decimal, rounded, as lsblk prints (e.g. 1.5G, 10G). */
	frac = (bytes - (whole << (10 * exp))) >> (10 * (exp - 1));
	frac = (frac * 10 + 512) >> 10;
	if (frac >= 10) {
		whole++;
		frac = 0;
	}
	if (frac)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%c", whole, frac,
			 units[exp]);
	else
		snprintf(buf, len, "%" PRIu64 "%c", whole, units[exp]);
}

const char *ublk_out_size(const struct ublk_out *o, uint64_t bytes, char *buf,
			  size_t len)
{
	if (o->bytes)
		snprintf(buf, len, "%" PRIu64, bytes);
	else
		ublk_size_to_human(bytes, buf, len);
	return buf;
}

int ublk_out_print(struct libscols_table *tb)
{
	int ret = scols_print_table(tb);

	if (!ret && fflush(stdout))
		ret = -errno;
	if (ret) {
		ublk_errno(-ret, "cannot print the table");
		return -1;
	}
	return 0;
}
