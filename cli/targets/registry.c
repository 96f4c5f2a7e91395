// SPDX-License-Identifier: GPL-2.0
/* Target registry: every target, searched by exact name. */
#include <string.h>

#include "ublkctl/target.h"

const struct target_ops *const ublk_target_list[] = {
	&target_null, &target_loop,  &target_stripe, &target_fault,
	&target_nbd,  &target_zoned, NULL,
};

const struct target_ops *ublk_target_find(const char *name)
{
	const struct target_ops *const *t;

	for (t = ublk_target_list; *t; t++)
		if (!strcmp((*t)->name, name))
			return *t;
	return NULL;
}
