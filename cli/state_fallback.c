// SPDX-License-Identifier: GPL-2.0
/*
 * Temporary: weak stand-ins for the state-file readers in
 * include/ublkctl/state.h until cli/state.c lands (owned by the add
 * engineer). They behave as if no state file exists. The real definitions
 * override these at link time; delete this file once cli/state.c is in.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/state.h"

__attribute__((weak)) const char *ublk_run_dir(void)
{
	const char *dir = getenv("UBLKCTL_RUN_DIR");

	return dir ? dir : "/run/ublkctl";
}

__attribute__((weak)) int ublk_state_read(uint32_t id, struct ublk_state *s)
{
	memset(s, 0, sizeof(*s));
	return -ENOENT;
}

__attribute__((weak)) int ublk_state_remove(uint32_t id)
{
	return -ENOENT;
}

__attribute__((weak)) void ublk_state_free(struct ublk_state *s)
{
}
