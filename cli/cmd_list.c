// SPDX-License-Identifier: GPL-2.0
/* ublkctl list: placeholder until the command lands. */
#include "ublkctl/ublkctl.h"

int cmd_list(int argc, char **argv)
{
	ublk_err("not implemented yet");
	return EXIT_FAIL;
}

int ublk_show_devices(const uint32_t *ids, int n)
{
	return EXIT_FAIL;
}
