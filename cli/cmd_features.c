// SPDX-License-Identifier: GPL-2.0
/* ublkctl features: placeholder until the command lands. */
#include "ublkctl/ublkctl.h"

int cmd_features(int argc, char **argv)
{
	ublk_err("not implemented yet");
	return EXIT_FAIL;
}
