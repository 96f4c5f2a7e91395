/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-device state file, written by add (and recover), read by list,
 * recover and del, removed by del. One JSON object per device at
 * <run dir>/<id>.json (json-c; jq reads it too), written atomically
 * (temp file, fsync, rename):
 *
 *   { "version": 1, "id": 3, "pid": 1234, "target": "loop",
 *     "backing": "/srv/disk.img", "threads": 1,
 *     "error": "device 3: queue 0: fetch failed: ...",   (only if it failed)
 *     "status": "reconnecting",                 (only while not "")
 *     "argv": ["-t", "loop", "-f", "disk.img", "--batch"],
 *     "config": { "type": "loop", "queues": 1, "depth": 128,
 *                 "max-io-size": 524288, "batch": true,
 *                 "file": "/srv/disk.img" } }
 *
 * argv is add's command line after "add", as typed (for people). config
 * is the device's configuration in normalized form (devcfg.h): add's
 * long option names, a number, a string, or true for an option without
 * argument, or for an option given more than once (stripe's "file") an
 * array of its values in the order given; recover and resize rebuild the
 * device from it. Files written
 * before config existed have only argv, which recover then parses.
 * Compatibility: keys are only added, never renamed or given another
 * meaning; readers ignore keys they do not know, so an older ublkctl reads
 * a newer file. "version" changes only for a change old readers must not
 * misread; they then refuse the file (-EPROTO).
 * Run dir: $UBLKCTL_RUN_DIR, else /run/ublkctl for root, else
 * $XDG_RUNTIME_DIR/ublkctl.
 */
#ifndef UBLKCTL_STATE_H
#define UBLKCTL_STATE_H

#include <stdint.h>
#include <sys/types.h>

/* The format version this build writes and the newest it reads. */
#define UBLK_STATE_VERSION 1

/* One option of the normalized configuration. */
struct ublk_state_opt {
	char *name; /* add's long option name */
	char *value; /* its argument; NULL for an option without one */
};

/* Sizes of the server-reported strings, with their NUL. */
#define UBLK_STATE_ERROR_LEN 512
#define UBLK_STATE_STATUS_LEN 64

struct ublk_state {
	uint32_t id;
	pid_t pid;
	char target[32];
	char backing[4096]; /* "" when the target has none */
	uint32_t threads; /* server I/O threads; 0: not recorded */
	char error[UBLK_STATE_ERROR_LEN]; /* why the server failed; "" (no key) if it did not */
	/* the backing's condition as the server reports it; "" when well */
	char status[UBLK_STATE_STATUS_LEN];
	int argc;
	char **argv; /* owned; freed by ublk_state_free */
	int nopts;
	struct ublk_state_opt *opts; /* "config"; owned */
};

/* The run directory (static buffer). */
const char *ublk_run_dir(void);
/* 0, or negative errno. Creates the run dir (0755) if needed. */
int ublk_state_write(const struct ublk_state *s);
/*
 * 0; -ENOENT if there is no state file; -EINVAL if it is not a state
 * file of device id (not JSON, a known key of the wrong type, trailing
 * junk); -EPROTO if its version is newer than UBLK_STATE_VERSION.
 */
int ublk_state_read(uint32_t id, struct ublk_state *s);
/* 0 or -ENOENT, or another negative errno. */
int ublk_state_remove(uint32_t id);
void ublk_state_free(struct ublk_state *s);

#endif /* UBLKCTL_STATE_H */
