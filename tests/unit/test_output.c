// SPDX-License-Identifier: GPL-2.0
/* Table helpers: column selection, human sizes, JSON rendering. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ublkctl/ublkctl.h"
#include "ublkctl/output.h"
#include "unit.h"

static const struct ublk_col cols[] = {
	{ "ID", "id", SCOLS_JSON_NUMBER, 3, UBLK_COL_RIGHT },
	{ "MAJ:MIN", "devt", SCOLS_JSON_STRING, 6, 0 },
	{ "SIZE", "size", SCOLS_JSON_NUMBER, 5, UBLK_COL_SIZE },
	{ "FLAGS", "flags", SCOLS_JSON_ARRAY_STRING, 0.3, 0 },
	{ "PID", "pid", SCOLS_JSON_NUMBER, 5, UBLK_COL_RIGHT },
};

static int human_is(uint64_t v, const char *want)
{
	char buf[32];

	ublk_size_to_human(v, buf, sizeof(buf));
	if (strcmp(buf, want))
		fprintf(stderr, "human(%llu) = %s, want %s\n",
			(unsigned long long)v, buf, want);
	return !strcmp(buf, want);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* FLAGS cell in text output: what render() prints. */
static const char *flags_text = "ZERO_COPY,USER_COPY";

/* Render one row to a string (stdout redirected to a temp file). */
static char *render(struct ublk_out *o)
{
	static char out[4096];
	char path[] = "/tmp/ublkctl-unit-XXXXXX";
	struct libscols_table *tb;
	struct libscols_line *ln;
	int fd = mkstemp(path), saved = dup(1);
	ssize_t n;
	char buf[32];

	fflush(stdout);
	dup2(fd, 1);
	tb = ublk_out_new_table(o, cols);
	ln = scols_table_new_line(tb, NULL);
	ublk_out_set(o, ln, 0, "7");
	ublk_out_set(o, ln, 1, "259:0");
	ublk_out_set(o, ln, 2, ublk_out_size(o, 1ULL << 30, buf, sizeof(buf)));
	ublk_out_set(o, ln, 3, o->json ? "ZERO_COPY\nUSER_COPY" : flags_text);
	ublk_out_set(o, ln, 4, NULL);
	ublk_out_print(tb);
	scols_unref_table(tb);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return out;
}

int main(void)
{
	static const int defaults[] = { 0, 2 };
	struct ublk_out o = { .json_root = "ublkdevices" };
	char *s;

	ublk_cmd_name = "unit";
	CHECK(human_is(0, "0B"));
	CHECK(human_is(512, "512B"));
	CHECK(human_is(1024, "1K"));
	CHECK(human_is(1536, "1.5K"));
	CHECK(human_is(256ULL << 20, "256M"));
	CHECK(human_is((1ULL << 30) + (1ULL << 29), "1.5G"));
	CHECK(human_is((10ULL << 30) - 1, "10G"));
	CHECK(human_is(UINT64_MAX, "16E"));

	ublk_out_set_default(&o, defaults, 2);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "+flags,PID") == 0);
	CHECK_EQ(o.ncols, 4);
	CHECK_EQ(o.cols[2], 3);
	CHECK_EQ(o.cols[3], 4);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "MAJ:MIN") == 0);
	CHECK_EQ(o.ncols, 1);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "ID,NOPE") == -1);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "ID,") == -1);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "") == -1);
	CHECK_EQ(o.ncols, 1); /* failures leave the selection alone */
	CHECK_EQ(o.cols[0], 1);

	/* A column shows once, however often it is named. */
	ublk_out_set_default(&o, defaults, 2);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "+SIZE,id,PID,pid") == 0);
	CHECK_EQ(o.ncols, 3);
	CHECK_EQ(o.cols[0], 0);
	CHECK_EQ(o.cols[1], 2);
	CHECK_EQ(o.cols[2], 4);
	CHECK(ublk_out_parse_columns(&o, cols, 5, "PID,PID") == 0);
	CHECK_EQ(o.ncols, 1);

	o.ncols = 5;
	for (int i = 0; i < 5; i++)
		o.cols[i] = i;
	o.json = true;
	o.bytes = true;
	s = render(&o);
	CHECK(strstr(s, "\"ublkdevices\"") != NULL);
	CHECK(strstr(s, "\"id\": 7") != NULL);
	CHECK(strstr(s, "\"maj:min\": \"259:0\"") != NULL);
	CHECK(strstr(s, "\"size\": 1073741824") != NULL);
	CHECK(strstr(s, "\"pid\": null") != NULL);
	CHECK(strstr(s, "\"ZERO_COPY\", \"USER_COPY\"") != NULL ||
	      strstr(s, "\"ZERO_COPY\",\n") != NULL);

	o.bytes = false;
	s = render(&o);
	CHECK(strstr(s, "\"size\": \"1G\"") != NULL);

	o.json = false;
	o.raw = true;
	s = render(&o);
	CHECK(strstr(s, "7 259:0 1G ZERO_COPY,USER_COPY -") != NULL);

	/* Not a terminal: one line per row however long a cell is. */
	setenv("COLUMNS", "40", 1);
	o.raw = false;
	flags_text =
		"URING_CMD_COMP_IN_TASK,CMD_IOCTL_ENCODE,USER_COPY,"
		"AUTO_BUF_REG,BATCH_IO,USER_RECOVERY,USER_RECOVERY_REISSUE,"
		"UNPRIVILEGED_DEV,QUIESCE,PER_IO_DAEMON";
	s = render(&o);
	CHECK(strstr(s, flags_text) != NULL);
	CHECK_EQ(count_lines(s), 2);
	return unit_done("test_output");
}
