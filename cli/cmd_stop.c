// SPDX-License-Identifier: GPL-2.0
/* ublkctl stop: placeholder until the command lands. */
#include "ublkctl/ublkctl.h"

int cmd_stop(int argc, char **argv)
{
	ublk_err("not implemented yet");
	return EXIT_FAIL;
}
