// SPDX-License-Identifier: GPL-2.0
/* State files: round trip with awkward strings, refusal of bad files. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
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

/* Temp files a write left behind. */
static int count_tmp(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (e = readdir(d)))
		n += strstr(e->d_name, ".tmp") != NULL;
	if (d)
		closedir(d);
	return n;
}

static bool file_has(const char *dir, const char *name, const char *text)
{
	char path[512], buf[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
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
	CHECK(!r.error[0]);
	ublk_state_free(&r);

	/* a server's failure reason round-trips; no reason, no key */
	snprintf(s.error, sizeof(s.error), "device 7: queue 0: fetch failed");
	CHECK_EQ(ublk_state_write(&s), 0);
	CHECK_EQ(ublk_state_read(7, &r), 0);
	CHECK(!strcmp(r.error, s.error));
	s.error[0] = '\0';
	CHECK_EQ(ublk_state_write(&s), 0);
	ublk_state_free(&r);
	CHECK_EQ(ublk_state_read(7, &r), 0);
	CHECK(!r.error[0]);
	ublk_state_free(&r);

	/*
	 * config: pairs round-trip in order; a name given more than once is
	 * an array in the file and each value again when read (in order,
	 * the other keys around it kept); true is a flag.
	 */
	{
		struct ublk_state_opt opts[] = {
			{ "type", "stripe" },	   { "file", "/a" },
			{ "chunk-size", "65536" }, { "file", "/b c" },
			{ "buffered", NULL },	   { "file", "/d" },
		};
		static const char *const want[][2] = {
			{ "type", "stripe" },	   { "file", "/a" },
			{ "file", "/b c" },	   { "file", "/d" },
			{ "chunk-size", "65536" }, { "buffered", NULL },
		};

		s.opts = opts;
		s.nopts = 6;
		CHECK_EQ(ublk_state_write(&s), 0);
		CHECK(file_has(dir, "7.json", "\"file\": ["));
		CHECK_EQ(ublk_state_read(7, &r), 0);
		CHECK_EQ(r.nopts, 6);
		for (i = 0; i < r.nopts && i < 6; i++) {
			CHECK(!strcmp(r.opts[i].name, want[i][0]));
			CHECK(want[i][1] ? r.opts[i].value &&
						   !strcmp(r.opts[i].value,
							   want[i][1]) :
					   !r.opts[i].value);
		}
		ublk_state_free(&r);
		s.opts = NULL;
		s.nopts = 0;
		/* numbers in an array; an array in an array is refused */
		put_file(dir, "19.json",
			 "{\"id\":19,\"argv\":[],\"config\":"
			 "{\"x\":[1,\"y\",true,false]}}");
		CHECK_EQ(ublk_state_read(19, &r), 0);
		CHECK_EQ(r.nopts, 3);
		CHECK(r.nopts == 3 && !strcmp(r.opts[0].value, "1") &&
		      !strcmp(r.opts[1].value, "y") && !r.opts[2].value);
		ublk_state_free(&r);
		put_file(dir, "20.json",
			 "{\"id\":20,\"argv\":[],\"config\":{\"x\":[[1]]}}");
		CHECK_EQ(ublk_state_read(20, &r), -EINVAL);
	}

	/* a status round-trips; none reads back as "" (9.json below) */
	snprintf(s.status, sizeof(s.status), "reconnecting");
	CHECK_EQ(ublk_state_write(&s), 0);
	CHECK_EQ(ublk_state_read(7, &r), 0);
	CHECK(!strcmp(r.status, "reconnecting"));
	ublk_state_free(&r);

	CHECK_EQ(ublk_state_read(8, &r), -ENOENT);

	/* unicode escapes decode to UTF-8 */
	put_file(dir, "9.json",
		 "{\"id\":9,\"pid\":1,\"target\":\"null\","
		 "\"backing\":\"\\u00e9\",\"argv\":[]}");
	CHECK_EQ(ublk_state_read(9, &r), 0);
	CHECK(!strcmp(r.backing, "\xc3\xa9"));
	CHECK(!strcmp(r.status, ""));
	CHECK_EQ(r.argc, 0);
	ublk_state_free(&r);

	/* wrong shape, trailing junk, id mismatch, unterminated string */
	put_file(dir, "10.json", "{\"id\":10,\"argv\":[]} x");
	CHECK_EQ(ublk_state_read(10, &r), -EINVAL);
	put_file(dir, "11.json", "{\"id\":12,\"argv\":[]}");
	CHECK_EQ(ublk_state_read(11, &r), -EINVAL);
	put_file(dir, "13.json", "{\"id\":13,\"argv\":[\"abc]}");
	CHECK_EQ(ublk_state_read(13, &r), -EINVAL);
	/* A key this version does not know (from a newer ublkctl): ignored. */
	put_file(dir, "14.json",
		 "{\"id\":14,\"other\":{\"x\":[1,2]},\"pid\":5,"
		 "\"target\":\"null\",\"argv\":[\"-t\",\"null\"],"
		 "\"added-later\":true}\n");
	CHECK_EQ(ublk_state_read(14, &r), 0);
	CHECK_EQ(r.pid, 5);
	CHECK(!strcmp(r.target, "null"));
	CHECK_EQ(r.argc, 2);
	CHECK_EQ(r.threads, 0);
	ublk_state_free(&r);
	put_file(dir, "15.json", "{\"id\":15,\"argv\":[\"\\u0000\"]}");
	CHECK_EQ(ublk_state_read(15, &r), -EINVAL);

	/* A known key of the wrong type; a newer format version. */
	put_file(dir, "16.json", "{\"id\":16,\"pid\":\"12\",\"argv\":[]}");
	CHECK_EQ(ublk_state_read(16, &r), -EINVAL);
	put_file(dir, "17.json", "{\"version\":2,\"id\":17,\"argv\":[]}");
	CHECK_EQ(ublk_state_read(17, &r), -EPROTO);
	put_file(dir, "18.json", "{\"version\":1,\"id\":18,\"argv\":[1]}");
	CHECK_EQ(ublk_state_read(18, &r), -EINVAL);

	/* What add writes is versioned; no temp file is left. */
	CHECK_EQ(count_tmp(dir), 0);
	CHECK(file_has(dir, "7.json", "\"version\": 1"));

	CHECK_EQ(ublk_state_remove(7), 0);
	CHECK_EQ(ublk_state_remove(7), -ENOENT);
	for (i = 9; i <= 20; i++)
		ublk_state_remove((uint32_t)i);

	rmdir(dir);
	return unit_done("test_state");
}
