// SPDX-License-Identifier: GPL-2.0
/* ublkctl resize: placeholder until the command lands. */
#include "ublkctl/ublkctl.h"

int cmd_resize(int argc, char **argv)
{
	ublk_err("not implemented yet");
	return EXIT_FAIL;
}
