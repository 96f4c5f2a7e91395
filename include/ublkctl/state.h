/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-device state file, written by add (and recover), read by list,
 * recover and del, removed by del. One JSON object per device at
 * <run dir>/<id>.json, written atomically (temp file + rename):
 *
 *   { "id": 3, "pid": 1234, "target": "loop", "backing": "/srv/disk.img",
 *     "threads": 1,
 *     "argv": ["-t", "loop", "-f", "/srv/disk.img", "--batch"] }
 *
 * argv is add's command line after "add" (with -n pinned to the id the
 * device got); recover re-parses it to rebuild the same server.
 * Run dir: $UBLKCTL_RUN_DIR, else /run/ublkctl for root, else
 * $XDG_RUNTIME_DIR/ublkctl.
 */
#ifndef UBLKCTL_STATE_H
#define UBLKCTL_STATE_H

#include <stdint.h>
#include <sys/types.h>

struct ublk_state {
	uint32_t id;
	pid_t pid;
	char target[32];
	char backing[4096]; /* "" when the target has none */
	uint32_t threads; /* server I/O threads; 0: not recorded */
	int argc;
	char **argv; /* owned; freed by ublk_state_free */
};

/* The run directory (static buffer). */
const char *ublk_run_dir(void);
/* 0, or negative errno. Creates the run dir (0755) if needed. */
int ublk_state_write(const struct ublk_state *s);
/* 0, -ENOENT if there is no state file, other negative errno if bad. */
int ublk_state_read(uint32_t id, struct ublk_state *s);
/* 0 or -ENOENT, or another negative errno. */
int ublk_state_remove(uint32_t id);
void ublk_state_free(struct ublk_state *s);

#endif /* UBLKCTL_STATE_H */
