// SPDX-License-Identifier: GPL-2.0
/* State files: round trip with awkward strings, refusal of bad files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/state.h"
#include "unit.h"

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(void)
{
	char dir[] = "/tmp/ublkctl-test-state.XXXXXX";
	char *argv[] = { "-t", "loop", "-f", "/a \"b\"\\c\n\td\x01", "-n", "7" };
	struct ublk_state s = {
		.id = 7,
		.pid = 4242,
		.target = "loop",
		.backing = "/srv/with \"quotes\" and \\ back",
		.threads = 3,
		.argc = 6,
		.argv = argv,
	};
	struct ublk_state r;
	int i;

	if (!mkdtemp(dir))
		return 1;
	setenv("UBLKCTL_RUN_DIR", dir, 1);
	CHECK(!strcmp(ublk_run_dir(), dir));

	CHECK_EQ(ublk_state_write(&s), 0);
	CHECK_EQ(ublk_state_read(7, &r), 0);
	CHECK_EQ(r.id, 7);
	CHECK_EQ(r.pid, 4242);
	CHECK(!strcmp(r.target, "loop"));
	CHECK(!strcmp(r.backing, s.backing));
	CHECK_EQ(r.threads, 3);
	CHECK_EQ(r.argc, 6);
	for (i = 0; i < r.argc && i < 6; i++)
		CHECK(!strcmp(r.argv[i], argv[i]));
	ublk_state_free(&r);

	CHECK_EQ(ublk_state_read(8, &r), -ENOENT);

	/* unicode escapes decode to UTF-8 */
	put_file(dir, "9.json",
		 "{\"id\":9,\"pid\":1,\"target\":\"null\","
		 "\"backing\":\"\\u00e9\",\"argv\":[]}");
	CHECK_EQ(ublk_state_read(9, &r), 0);
	CHECK(!strcmp(r.backing, "\xc3\xa9"));
	CHECK_EQ(r.argc, 0);
	ublk_state_free(&r);

	/* wrong shape, trailing junk, id mismatch, unterminated string */
	put_file(dir, "10.json", "{\"id\":10,\"argv\":[]} x");
	CHECK_EQ(ublk_state_read(10, &r), -EINVAL);
	put_file(dir, "11.json", "{\"id\":12,\"argv\":[]}");
	CHECK_EQ(ublk_state_read(11, &r), -EINVAL);
	put_file(dir, "13.json", "{\"id\":13,\"argv\":[\"abc]}");
	CHECK_EQ(ublk_state_read(13, &r), -EINVAL);
	put_file(dir, "14.json", "{\"id\":14,\"other\":1,\"argv\":[]}");
	CHECK_EQ(ublk_state_read(14, &r), -EINVAL);
	put_file(dir, "15.json", "{\"id\":15,\"argv\":[\"\\u0000\"]}");
	CHECK_EQ(ublk_state_read(15, &r), -EINVAL);

	CHECK_EQ(ublk_state_remove(7), 0);
	CHECK_EQ(ublk_state_remove(7), -ENOENT);
	for (i = 9; i <= 15; i++)
		ublk_state_remove((uint32_t)i);
	rmdir(dir);
	return unit_done("test_state");
}
