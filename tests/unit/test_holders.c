// SPDX-License-Identifier: GPL-2.0
/* Holder naming for del: mountinfo matching, grouping, escapes, cut-off. */
#include <string.h>
#include <sys/sysmacros.h>

#include "ublkctl/holders.h"
#include "unit.h"

static const char mountinfo[] =
	"22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
	"80 22 259:3 / /mnt/data rw,relatime shared:40 - ext4 /dev/ublkb3 rw\n"
	"81 22 259:4 / /srv/with\\040space rw shared:41 - ext4 /dev/ublkb3p1 rw\n"
	"82 80 259:3 /sub /bind rw shared:40 - ext4 /dev/ublkb3 rw\n"
	"garbage line\n";

static void mounts(const dev_t *devs, int n, struct ublk_holders *h)
{
	FILE *f = fmemopen((void *)mountinfo, sizeof(mountinfo) - 1, "r");

	memset(h, 0, sizeof(*h));
	ublk_holders_mounts(f, devs, n, h);
	fclose(f);
}

int main(void)
{
	const dev_t disk[] = { makedev(259, 3), makedev(259, 4) };
	const dev_t other = makedev(7, 0);
	struct ublk_holders h;
	char line[160];
	FILE *f;
	int i;

	mounts(disk, 2, &h);
	CHECK_EQ(h.count, 3);
	CHECK(!strcmp(h.text, "mounted on /mnt/data, /srv/with space, /bind"));

	mounts(disk, 1, &h);
	CHECK_EQ(h.count, 2);
	CHECK(!strcmp(h.text, "mounted on /mnt/data, /bind"));

	mounts(&other, 1, &h);
	CHECK_EQ(h.count, 0);
	CHECK(!strcmp(h.text, ""));

	/* Too many to name: all counted, the text ends in "...". */
	f = tmpfile();
	for (i = 0; i < 200; i++) {
		snprintf(line, sizeof(line),
			 "%d 22 259:3 / /mnt/point%03d rw - ext4 x rw\n",
			 100 + i, i);
		fputs(line, f);
	}
	rewind(f);
	memset(&h, 0, sizeof(h));
	ublk_holders_mounts(f, disk, 1, &h);
	fclose(f);
	CHECK_EQ(h.count, 200);
	CHECK(strlen(h.text) < sizeof(h.text));
	CHECK(!strcmp(h.text + strlen(h.text) - 3, "..."));
	CHECK(!strncmp(h.text, "mounted on /mnt/point000, /mnt/point001", 39));

	/* No such device: nothing found, never an error. */
	ublk_holders_find(1048575, &h);
	CHECK_EQ(h.count, 0);
	return unit_done("holders");
}
