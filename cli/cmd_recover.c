// SPDX-License-Identifier: GPL-2.0
/* ublkctl recover: placeholder until the command lands. */
#include "ublkctl/ublkctl.h"

int cmd_recover(int argc, char **argv)
{
	ublk_err("not implemented yet");
	return EXIT_FAIL;
}
