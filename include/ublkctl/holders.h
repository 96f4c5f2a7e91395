/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who holds a ublk block device: the mounts (as findmnt(8) shows them),
 * the processes with it open (as fuser(1) finds them: an fd whose inode is
 * the device), and the stacked devices in /sys/block/<dev>/holders. Used
 * by del to refuse with names instead of yanking storage from under them.
 * Covers /dev/ublkbN and its partitions. Best effort: what this process
 * may not read (other users' /proc/PID/fd without privilege, other mount
 * namespaces) is skipped, so an empty result does not prove the device is
 * unused; TRY_STOP_DEV, where the driver has it, is the proof.
 */
#ifndef UBLKCTL_HOLDERS_H
#define UBLKCTL_HOLDERS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* Enough for the disk and its partitions; more are ignored. */
#define UBLK_HOLDERS_MAX_DEVS 64

struct ublk_holders {
	int count; /* holders found (mounts + processes + stacked devices) */
	/*
	 * Their names, for a message: "mounted on /mnt; open by fio (pid 81),
	 * fio (pid 82); held by dm-0"; "" when count is 0. Cut with "..."
	 * when too long.
	 */
	char text[1024];
};

/* Fill h for /dev/ublkb<id> and its partitions. Never fails. */
void ublk_holders_find(uint32_t id, struct ublk_holders *h);

/*
 * The part of ublk_holders_find that reads mountinfo, exposed for the
 * unit tests: add "mounted on <point>" for every line of f (in
 * /proc/self/mountinfo format) whose major:minor is one of devs[0..n).
 */
void ublk_holders_mounts(FILE *f, const dev_t *devs, int n,
			 struct ublk_holders *h);

#endif /* UBLKCTL_HOLDERS_H */
