/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Device configuration, shared by add, recover and resize: add's command
 * line parsed once (getopt_long over add's options and every target's)
 * into a typed struct ublk_dev_cfg, validated once (an exclusion table),
 * and saved in the state file in a normalized form ("config": long option
 * name -> value, sizes in bytes, paths absolute) that recover and resize
 * load back through the same option handlers. Nothing re-reads argv.
 */
#ifndef UBLKCTL_DEVCFG_H
#define UBLKCTL_DEVCFG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/ublk_cmd.h>

#include "ublkctl/target.h"

struct ublk_state;

#define UBLK_DEV_ID_ANY ((uint32_t)-1)
#define UBLK_DEF_QUEUES 1
#define UBLK_DEF_DEPTH 128
#define UBLK_DEF_MAX_IO (512U << 10)
/* io_uring's limit on registered buffers (IORING_MAX_REG_BUFFERS). */
#define UBLK_MAX_FIXED_BUFS 16384
#define UBLK_MAX_THREADS 256
/* ADD_DEV's largest io_desc_size with UBLK_F_IO_DESC_SIZE (7.3). */
#define UBLK_MAX_IO_DESC_SIZE 256

/*
 * --integrity: the device's integrity profile (UBLK_PARAM_TYPE_INTEGRITY),
 * one protection interval per logical block. md_size 0: no --integrity.
 */
struct ublk_integrity_cfg {
	uint8_t md_size; /* metadata bytes per interval, 1-255 */
	uint8_t pi_off; /* where the PI tuple starts in them */
	uint8_t csum; /* LBMD_PI_CSUM_* */
	uint8_t tag_size; /* application tag bytes */
	uint32_t flags; /* LBMD_PI_CAP_* */
};

enum ublk_recovery {
	UBLK_RECOVERY_NONE = 0,
	UBLK_RECOVERY_REQUEUE, /* -r: requeue I/O while recovering */
	UBLK_RECOVERY_REISSUE, /* -r reissue */
	UBLK_RECOVERY_FAIL_IO, /* -r fail-io */
};

/* Everything add (or recover, from the state file) knows about a device. */
struct ublk_dev_cfg {
	uint32_t dev_id; /* UBLK_DEV_ID_ANY: the kernel picks */
	uint32_t queues;
	uint32_t depth;
	uint32_t nthreads; /* 0: one per queue */
	uint64_t size; /* 0: the target's default */
	uint32_t lbs, pbs; /* 0: the target's default */
	uint32_t max_io;
	uint16_t io_desc_size; /* 0: the driver's 24 (no IO_DESC_SIZE) */
	enum ublk_recovery recovery;
	bool read_only;
	bool copy, user_copy, zero_copy, auto_zc, auto_zc_fallback, batch;
	bool per_io_tasks; /* every thread serves a share of every queue */
	bool get_data; /* UBLK_F_NEED_GET_DATA */
	bool mode_given; /* the command line named a data-path option */
	bool unprivileged, foreground;
	bool no_part_scan; /* UBLK_F_NO_AUTO_PART_SCAN */
	bool recover_existing; /* add: an existing dead device is recovered */
	/* --shmem-zc FILE (made absolute by add, into shmem_abs), --shmem-ro */
	const char *shmem_path;
	bool shmem_ro;
	char shmem_abs[PATH_MAX];
	struct ublk_integrity_cfg integrity; /* --integrity (implies user copy) */
	struct ublk_tgt tgt;
	/* add's command line after "add", as typed (borrowed; shown only). */
	int argc;
	char **argv;
	/* What the kernel granted (ADD_DEV reply or GET_DEV_INFO). */
	struct ublksrv_ctrl_dev_info info;
};

/*
 * Parse add's command line (argv[0] is "add") into cfg: options and
 * target options in any order, long options abbreviated as getopt_long
 * allows. Prints help and returns -1 for --help (caller exits 0); returns
 * EXIT_OK, or EXIT_USAGE after printing the error. Does not touch the
 * system. Strings in cfg point into argv.
 */
int ublk_cfg_parse(struct ublk_dev_cfg *cfg, int argc, char **argv);

/*
 * The normalized form of cfg (after the target's init) into st's config
 * pairs, and add's command line into st's argv (copies: free with
 * ublk_state_free). 0 or -ENOMEM.
 */
int ublk_cfg_save(const struct ublk_dev_cfg *cfg, struct ublk_state *st);

/*
 * Rebuild cfg from a state file: its config pairs; for a file written
 * before they existed, its argv through ublk_cfg_parse. The target's
 * parse_opt has run, its init has not. Strings in cfg point into st,
 * which must outlive cfg. EXIT_OK, or EXIT_FAIL after printing why
 * ("device N: state file: ...").
 */
int ublk_cfg_load(struct ublk_dev_cfg *cfg, const struct ublk_state *st);

/*
 * The UBLK_F_* flags ADD_DEV asks for: CMD_IOCTL_ENCODE and the flags of
 * every ublk_cfg_flags row that cfg gives.
 */
uint64_t ublk_cfg_dev_flags(const struct ublk_dev_cfg *cfg);

#define UBLK_CFG_FLAG_OPT_LEN 32
/* At least as many rows as ublk_cfg_flags builds (a bug otherwise). */
#define UBLK_CFG_MAX_FLAGS 32

/* One option of add and one UBLK_F_* bit that it asks ADD_DEV for. */
struct ublk_cfg_flag {
	char opt[UBLK_CFG_FLAG_OPT_LEN]; /* "--batch", "--recovery=reissue" */
	uint64_t flag; /* exactly one UBLK_F_* bit */
	bool given; /* cfg asks for it */
};

/*
 * Every option of add that needs a driver feature, one row per (option,
 * bit), in add's table order: the flag options (--user-copy, --batch,
 * ...), --recovery and each other mode with the bits it adds to
 * requeue's, --nthreads (PER_IO_DAEMON, given for more threads than
 * queues without --batch), --shmem-zc and "-t NAME" for the bits a
 * target needs (target_ops.dev_flags). Built from the tables ublk_cfg_parse and
 * ublk_cfg_dev_flags use, so an option added there appears here. cfg may
 * be NULL (no row given). Fills at most max rows; returns how many there
 * are.
 */
size_t ublk_cfg_flags(const struct ublk_dev_cfg *cfg,
		      struct ublk_cfg_flag *rows, size_t max);

/*
 * add without a data-path option on its command line (--copy, --batch,
 * --user-copy, --zero-copy, --auto-zc, --get-data): the fastest data path
 * of the target (target_ops.fast_flags) that the kernel's features allow
 * (user copy whenever it is the target's only path, offered or not),
 * none for --unprivileged (the driver refuses buffer registration there),
 * no auto-zc where the queues' buffers do not fit the buffer table and no
 * batch with --per-io-tasks. Otherwise cfg keeps exactly what was given.
 */
void ublk_cfg_pick_mode(struct ublk_dev_cfg *cfg, uint64_t features);

/* Release what parse_opt allocated (the target's priv). */
void ublk_cfg_release(struct ublk_dev_cfg *cfg);

#endif /* UBLKCTL_DEVCFG_H */
