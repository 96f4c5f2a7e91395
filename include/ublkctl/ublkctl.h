/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Common declarations for every ublkctl command: exit codes, diagnostics,
 * option tables and checked parsers.
 */
#ifndef UBLKCTL_UBLKCTL_H
#define UBLKCTL_UBLKCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define UBLKCTL_NAME "ublkctl"
#ifndef UBLKCTL_VERSION
#define UBLKCTL_VERSION "0.0.0"
#endif

/* Exit codes, documented once in ublkctl(8). Never -errno. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1, /* the command failed */
	EXIT_USAGE = 2, /* bad usage, nothing was done */
	EXIT_ALL_FAILED = 32, /* multi-device command: every device failed */
	EXIT_SOME_FAILED = 64, /* multi-device command: some devices failed */
};

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- diagnostics (cli/msg.c) ---- */

/* Name of the running subcommand, for "ublkctl: <cmd>: ..." prefixes. */
extern const char *ublk_cmd_name;

/* "ublkctl: <cmd>: <fmt>\n" on stderr (syslog after ublk_msg_syslog()). */
void ublk_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* As ublk_err, followed by ": <strerror(err)>"; err is a positive errno. */
void ublk_errno(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Usage error: the message, then "Try 'ublkctl <cmd> --help'."; returns
 * EXIT_USAGE so callers can `return ublk_usage_err(...)`.
 */
int ublk_usage_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * The one hint line: "Try 'ublkctl <cmd> --help'." on stderr ("Try
 * 'ublkctl --help'." for cmd NULL).
 */
void ublk_hint(const char *cmd);
/*
 * After a checked parser printed why a value is bad: the hint for the
 * running command; returns EXIT_USAGE.
 */
int ublk_usage_hint(void);
/*
 * From now on ublk_err/ublk_errno write LOG_ERR records to syslog (ident
 * "ublkctl", facility daemon, each record led by "device <dev_id>: "),
 * not to stderr: for a server that left its terminal.
 */
void ublk_msg_syslog(uint32_t dev_id);
/* The text of the process's last ublk_err/ublk_errno ("" if none). */
void ublk_last_error(char *buf, size_t len);
/* Debug trace on stderr, only when UBLKCTL_DEBUG is set (or --debug). */
void ublk_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern bool ublk_debug;

/* ---- option tables (cli/opts.c) ---- */

/*
 * One row per option of a command: the single source for getopt_long,
 * --help, and the sync test that checks man pages and completions.
 * A table ends with a row whose name is NULL.
 */
struct ublk_opt {
	const char *name; /* long name, kebab-case */
	int key; /* short letter, or a value >= 256 if long-only */
	int has_arg; /* no_argument, required_argument, optional_argument */
	const char *metavar; /* shown in --help, e.g. "SIZE" */
	const char *help; /* one line */
};

#define UBLK_OPT_END                   \
	{                              \
		NULL, 0, 0, NULL, NULL \
	}

/*
 * Build getopt_long arrays from up to two tables (command + target).
 * longopts must hold the rows of both plus one; shortopts 3 chars per row
 * plus one. Always adds -h/--help.
 */
void ublk_opts_build(const struct ublk_opt *a, const struct ublk_opt *b,
		     struct option *longopts, char *shortopts);
size_t ublk_opts_count(const struct ublk_opt *t);
/* Print the "Options:" block of a table, aligned, to f. */
void ublk_opts_print(FILE *f, const struct ublk_opt *t);
/* Find the row of a key (for error messages naming --long-name). */
const struct ublk_opt *ublk_opt_find(const struct ublk_opt *t, int key);

/*
 * Checked parsers. They reject empty strings, signs, trailing junk,
 * overflow and values outside [min, max]; on error they print
 * "ublkctl: <cmd>: --<opt>: '<arg>': <why>" and return -1, else 0.
 */
int ublk_parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max,
		   uint32_t *out);
int ublk_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max,
		   uint64_t *out);
/*
 * Sizes as util-linux's strtosize: bytes, or a number (a fraction too:
 * "1.5G") with K, M, G, T, P, E in either case, alone or with "iB" (powers
 * of 1024) or "B" (powers of 1000: "1GB" is 10^9).
 */
int ublk_parse_size(const char *opt, const char *arg, uint64_t min,
		    uint64_t max, uint64_t *out);
/* Device id: 0..UBLK_MAX_DEV_ID. */
int ublk_parse_dev_id(const char *opt, const char *arg, uint32_t *out);

#define UBLK_MAX_DEV_ID ((1U << 20) - 1)

/*
 * Print devices as `ublkctl list` does by default (cli/cmd_list.c); add
 * uses it to show the device it made. Returns an exit code.
 */
int ublk_show_devices(const uint32_t *ids, int n);

struct ublk_out;
struct libscols_table;
/*
 * The rows of `ublkctl features` (cli/cmd_features.c) for the feature
 * mask features, into tb (made for o): one per bit set, or with
 * add_options one per row of ublk_cfg_flags, PRESENT saying whether
 * features has its bit. 0, or -ENOMEM.
 */
int ublk_features_fill(const struct ublk_out *o, struct libscols_table *tb,
		       uint64_t features, bool add_options);

/* True if name is a command of the command table (cli/main.c). */
bool ublk_is_command(const char *name);

/* ---- subcommands (cli/cmd_*.c) ---- */
int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_features(int argc, char **argv);
int cmd_resize(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_quiesce(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_help(int argc, char **argv);

#endif /* UBLKCTL_UBLKCTL_H */
