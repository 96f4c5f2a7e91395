/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Table output through libsmartcols: one static column table per listing
 * ({name, help, JSON type, flags}), column selection with -o/--output
 * (`+COL` appends to the defaults), and the --json/--raw/--noheadings
 * switches. Column names and JSON keys (the lower-cased names) are an API:
 * add, never rename.
 */
#ifndef UBLKCTL_OUTPUT_H
#define UBLKCTL_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libsmartcols.h>

/* ublk_col.flags */
#define UBLK_COL_RIGHT (1U << 0) /* right-aligned (numbers) */
#define UBLK_COL_SIZE (1U << 1) /* a size: JSON number only with -b */
#define UBLK_COL_TRUNC (1U << 2) /* long text: truncated to fit a terminal */

struct ublk_col {
	const char *name; /* header, e.g. "MAJ:MIN"; JSON key lower-cased */
	const char *help; /* one line, for --help and --list-columns */
	int json_type; /* SCOLS_JSON_* */
	double whint; /* width hint, as scols_table_new_column */
	unsigned int flags; /* UBLK_COL_* */
};

#define UBLK_MAX_OUT_COLS 64

/* What the user asked for; filled by the command's option loop. */
struct ublk_out {
	bool json;
	bool raw;
	bool noheadings;
	bool bytes; /* -b: sizes as byte counts */
	const char *json_root; /* JSON root key, e.g. "ublkdevices" */
	size_t ncols; /* selected columns ... */
	int cols[UBLK_MAX_OUT_COLS]; /* ... as indexes into the table */
};

/* Select the default columns (indexes into the column table). */
void ublk_out_set_default(struct ublk_out *o, const int *defaults, size_t n);

/*
 * Parse an -o/--output argument: "A,B" replaces the selection, "+A,B"
 * appends to it (call ublk_out_set_default first). Names match
 * case-insensitively; a column named twice, or added with + while
 * selected already, is shown once. On an unknown or empty name prints
 * "ublkctl: <cmd>: --output: unknown column 'X'" with the usage hint and
 * returns -1 (the caller exits EXIT_USAGE); 0 on success.
 */
int ublk_out_parse_columns(struct ublk_out *o, const struct ublk_col *cols,
			   size_t ncols, const char *arg);

/*
 * The selection a table command shows: the defaults (n indexes), then its
 * -o argument arg if given (NULL: none), as ublk_out_parse_columns.
 * EXIT_OK, or EXIT_USAGE after the error line.
 */
int ublk_out_select(struct ublk_out *o, const int *defaults, size_t n,
		    const struct ublk_col *cols, size_t ncols, const char *arg);

/* "Output columns:" block for --help. */
void ublk_out_print_columns(FILE *f, const struct ublk_col *cols, size_t ncols);
/* One "NAME<TAB>help" per line, for completions (--list-columns). */
void ublk_out_list_columns(FILE *f, const struct ublk_col *cols, size_t ncols);

/*
 * A table with the selected columns, set up for o's mode. Returns NULL on
 * allocation failure (message printed). Free with scols_unref_table.
 */
struct libscols_table *ublk_out_new_table(const struct ublk_out *o,
					  const struct ublk_col *cols);

/*
 * Set cell i (index into o->cols, not the column table) of a line. NULL or
 * "" leaves the cell empty, which JSON prints as null for numbers; text
 * output shows "-" there instead. The string is copied. 0 or -ENOMEM.
 */
int ublk_out_set(const struct ublk_out *o, struct libscols_line *ln, size_t i,
		 const char *val);
/* Same with printf formatting. */
int ublk_out_setf(const struct ublk_out *o, struct libscols_line *ln, size_t i,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A size for a SIZE column: the byte count with -b (or in JSON with -b),
 * else a human string as lsblk prints it ("512M", "1.5G"). buf >= 32.
 */
const char *ublk_out_size(const struct ublk_out *o, uint64_t bytes, char *buf,
			  size_t len);
/* Human size alone: "0B", "512B", "4K", "1.5G" (powers of 1024). */
void ublk_size_to_human(uint64_t bytes, char *buf, size_t len);

/*
 * Print the table to stdout; 0 on success, else a message was printed and
 * the caller exits EXIT_FAIL.
 */
int ublk_out_print(struct libscols_table *tb);

#endif /* UBLKCTL_OUTPUT_H */
