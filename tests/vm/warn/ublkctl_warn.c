// SPDX-License-Identifier: GPL-2.0
/*
 * A module whose only job is to make the kernel log a WARNING when it is
 * loaded, so that tests/vm/selftest can prove tests/vm/run notices one.
 * Loading fails afterwards on purpose: nothing stays loaded.
 */
#include <linux/bug.h>
#include <linux/module.h>

static int __init ublkctl_warn_init(void)
{
	WARN(1, "ublkctl_warn: deliberate warning for the VM harness test\n");
	return -EAGAIN;
}
module_init(ublkctl_warn_init);

MODULE_DESCRIPTION("Deliberate kernel warning for the ublkctl VM harness test");
MODULE_LICENSE("GPL");
