/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Plumbing shared by the commands that act on existing devices (list, del,
 * features, resize, stop, quiesce): the uniform --help layout, the option
 * loop, opening the control device with a clear message, device error
 * messages, and control commands bounded in time so no command can hang.
 */
#ifndef UBLKCTL_CMDUTIL_H
#define UBLKCTL_CMDUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "ublkctl/ublkctl.h"
#include "ublkctl/ctrl.h"

/*
 * --help, first part: "Usage:\n ublkctl <cmd> <synopsis>", the one-line
 * description, and "Options:" (the table, then -h/--help last, aligned
 * together). The caller may add an "Output columns:" block, then calls
 * ublk_usage_end.
 */
void ublk_usage_begin(FILE *f, const char *synopsis, const char *summary,
		      const struct ublk_opt *opts);
/* "\nSee ublkctl-<cmd>(8).\n" */
void ublk_usage_end(FILE *f);

struct ublk_col;

/* What a command's --help says around its option table. */
struct ublk_help {
	const char *synopsis; /* after "ublkctl <cmd>" */
	const char *summary; /* one line */
	/* Optional: the "Output columns:" block of a listing. */
	const struct ublk_col *cols;
	size_t ncols;
	const char *notes; /* Optional: text after the options and columns */
};

/*
 * The whole --help of a command: ublk_usage_begin, the columns, the
 * notes, ublk_usage_end.
 */
void ublk_usage(FILE *f, const struct ublk_help *help,
		const struct ublk_opt *opts);

/* The -n/--id ID option of every command that acts on one device. */
struct ublk_dev_arg {
	uint32_t id;
	bool given;
};

struct ublk_out;

/*
 * Key of --noheadings in the tables of the commands that print tables
 * (above the commands' own keys, 256.., below the targets', 1000..).
 */
#define UBLK_OPT_NOHEADINGS 900

/*
 * The rows of the table options (-o, -J, -r, --noheadings), the same in
 * every command that prints a table, which the option loop handles;
 * json_root names the command's JSON root key in -J's help.
 */
/* clang-format off */
#define UBLK_OUT_OPTS(json_root)					\
	{ "output", 'o', required_argument, "COLS",			\
	  "columns to print (+COLS adds to the default)" },		\
	{ "json", 'J', no_argument, NULL,				\
	  "use JSON output (root key " json_root ")" },			\
	{ "raw", 'r', no_argument, NULL, "use raw output" },		\
	{ "noheadings", UBLK_OPT_NOHEADINGS, no_argument, NULL,		\
	  "do not print headings" }
/* clang-format on */

/*
 * One command's option loop: getopt_long arrays for its table (see
 * ublk_opts_build), and where the options several commands share go.
 * The command sets the destinations it has after ublk_getopt_init;
 * ublk_getopt_next then handles those options itself: -n/--id into dev,
 * -o/--output into *cols, -J/-r/--noheadings/-b into out, -h/--help by
 * printing help (when the command gave one).
 */
struct ublk_getopt {
	const struct ublk_opt *opts;
	int longidx; /* after ublk_getopt_next: the long option's row, or -1 */
	/*
	 * After ublk_getopt_next returned -1: -1 when the options ended,
	 * else what the command exits with: EXIT_OK after --help,
	 * EXIT_USAGE after a usage error (printed).
	 */
	int exit_code;
	struct option longopts[48];
	char shortopts[150];
	const struct ublk_help *help;
	struct ublk_dev_arg *dev;
	struct ublk_out *out;
	const char **cols;
};

/*
 * help NULL: -h/--help is returned as 'h' (a command with its own help
 * printer); else -h prints ublk_usage(stdout, help, opts).
 */
void ublk_getopt_init(struct ublk_getopt *g, const struct ublk_opt *opts,
		      const struct ublk_help *help);
/*
 * Next option of the command's own: its key (with optarg set); -1 when
 * the options end, after --help and after a usage error (unknown option,
 * missing or bad argument): g->exit_code tells which.
 */
int ublk_getopt_next(struct ublk_getopt *g, int argc, char **argv);
/*
 * After the options: whether the command goes on. false after --help or
 * a usage error (the command returns g->exit_code); a usage error is
 * also an operand left, with need_dev a missing -n, and with out both
 * --json and --raw.
 */
bool ublk_getopt_end(struct ublk_getopt *g, int argc, char **argv,
		     bool need_dev);

/* -n's argument: 0, or EXIT_USAGE after the error and the hint. */
int ublk_dev_arg(struct ublk_dev_arg *d, const char *arg);
/*
 * After the options: 0 if -n was given, else EXIT_USAGE after "no device
 * given: use --id ID" and the hint.
 */
int ublk_dev_arg_need(const struct ublk_dev_arg *d);

/*
 * Refuse positional arguments left after the options (usage error
 * printed, returns -1); 0 when there are none.
 */
int ublk_no_args(int argc, char **argv);

/*
 * Open /dev/ublk-control. On failure prints e.g.
 * "ublkctl: list: /dev/ublk-control: No such file or directory: is the
 * ublk_drv module loaded?" and returns -1; 0 on success.
 */
int ublk_open_ctrl(struct ublk_ctrl *c);

/*
 * "device <id>: no such device" for ENODEV/ENOENT; otherwise
 * "device <id>: <what>: <strerror>", naming CAP_SYS_ADMIN on EPERM/EACCES.
 * err is a negative (or positive) errno.
 */
void ublk_dev_err(uint32_t id, int err, const char *what);

/* Lower-case state name: "dead", "live", "quiesced", "fail-io". */
const char *ublk_state_name(uint16_t state, char *buf, size_t len);

/*
 * GET_DEV_INFO of device id into info: 0, or -1 after ublk_dev_err's
 * "device <id>: cannot read device info: ..." (or "no such device").
 */
int ublk_dev_info(struct ublk_ctrl *c, uint32_t id,
		  struct ublksrv_ctrl_dev_info *info);
/*
 * 0 if the device is live, else -1 after "device <id>: cannot <what>:
 * it is <state>, not live".
 */
int ublk_dev_need_live(uint32_t id, const struct ublksrv_ctrl_dev_info *info,
		       const char *what);

/* Kernel feature bits; on failure prints a message and returns -1. */
int ublk_get_features_or_err(struct ublk_ctrl *c, uint64_t *features);
/*
 * -1 with "<why>: this kernel lacks <NAME>" when the UBLK_F_* flag is not
 * in features, else 0.
 */
int ublk_need_feature(uint64_t features, uint64_t flag, const char *why);
/* GET_FEATURES, then ublk_need_feature: 0, or -1 with the message printed. */
int ublk_require_feature(struct ublk_ctrl *c, uint64_t flag, const char *why);

/*
 * ublk_ctrl_dev_op(op, dev_id, data) in a forked child with its own
 * control ring, waited for at most timeout_ms. Returns its result (0 or
 * negative errno), or -ETIMEDOUT: the child is then killed and left to
 * the kernel (a control command stuck in the driver cannot be
 * interrupted; this process must still be able to exit).
 */
int ublk_ctrl_bounded(uint32_t op, uint32_t dev_id, uint64_t data,
		      int timeout_ms);

/*
 * Wait at most timeout_ms for process pid to exit (a zombie counts as
 * exited): poll on a pidfd. 0 when it is gone (or pid <= 0), -ETIMEDOUT
 * otherwise.
 */
int ublk_wait_pid_exit(pid_t pid, int timeout_ms);

/*
 * The one deadline helper. A deadline is a ublk_now_ms() (monotonic
 * milliseconds) value: ublk_deadline(ms) is ms from now, ublk_left_ms what
 * is left of it (>= 0). A loop polling a condition calls ublk_nap between
 * tries: false once the deadline has passed; else it sleeps *nap_ms
 * (start with 1 or more; never past the deadline), doubles it up to
 * 100 ms, and returns true.
 */
int64_t ublk_now_ms(void);
int64_t ublk_deadline(int timeout_ms);
int ublk_left_ms(int64_t deadline);
bool ublk_nap(int64_t deadline, int *nap_ms);

/* Whether process pid has /dev/ublkc<id> open (it is that device's server). */
bool ublk_pid_holds_dev(pid_t pid, uint32_t id);

/*
 * The server of device id: the kernel's ublksrv_pid from info, else the
 * state file's pid if that process holds /dev/ublkcN; 0 if none.
 */
pid_t ublk_server_pid(uint32_t id, const struct ublksrv_ctrl_dev_info *info);

/*
 * Whether device id's server still runs: ublk_server_pid holds
 * /dev/ublkcN (a killed server is gone at once, though the kernel may see
 * the device live until the server's io_uring is torn down).
 */
bool ublk_server_alive(uint32_t id, const struct ublksrv_ctrl_dev_info *info);

/*
 * Stop device id: STOP_DEV, or TRY_STOP_DEV when safe; then wait for its
 * server (pid, 0 if none) to exit. With term, a server still running
 * halfway to the deadline gets SIGTERM (ublkctl's server then deletes the
 * device itself, so only del asks for it). Every step is bounded by
 * deadline (ublk_now_ms() based); bound_s only words the messages.
 * 0; -EBUSY (safe only, nothing printed, nothing changed) when the block
 * device is open; or -1 with a message printed.
 */
int ublk_dev_stop(uint32_t id, pid_t pid, bool safe, bool term,
		  int64_t deadline, int bound_s);

#endif /* UBLKCTL_CMDUTIL_H */
