// SPDX-License-Identifier: GPL-2.0
/*
 * insnmark: the guest half of tests/bench/run --insn-profile. It asks the
 * insnprof plugin (tests/bench/insnprof.c) for snapshots at exact points
 * of a fio run, by writing the snapshots' names to DIR/request and then
 * executing the marker instruction once for each, where the plugin takes
 * the snapshot with the guest stopped.
 *
 *   insnmark --mark DIR NAME
 *	one snapshot, now.
 *   insnmark --window DIR ROW STAT COL RAMP WIN
 *	the window of one bench row: name both snapshots in DIR/request
 *	and print "ready" on stdout once STAT is open (the bench starts fio
 *	only then: while fio runs, loading insnmark or writing to the share
 *	through 9p has been seen to take seconds), wait (quietly, 0.5 s, so
 *	fio calibrates its clock undisturbed) for the first completion in
 *	STAT (/sys/block/DEV/stat, field COL counting from 0), wait RAMP seconds,
 *	snapshot ROW.a, wait WIN seconds or until the completions stop (fio
 *	ended), snapshot ROW.b, and write "IOS BUSY IDLE AT_B CUT" to
 *	DIR/ROW.win: the completions between the two snapshots (each read
 *	just before its marker), the busy and idle CPU ticks between them
 *	(/proc/stat), the completion count at b, and 1 if fio's end cut the
 *	window short.
 *
 * Forks nothing and sleeps between steps, so it costs the window next to
 * nothing; run it at real-time priority so fio does not keep it off the
 * CPU past its times. Exit status: 0, 1 on a failure, 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *dir;

static void marker(void)
{
	/* nopl 0x49504b4d(%rax): a NOP, the one the plugin watches for */
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80, 0x4d, 0x4b, 0x50, 0x49" ::
				 : "memory");
}

/* Name the snapshots the next markers take, one line each, in order. */
static int request(const char *names)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/request", dir);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%s\n", names) < 0 || fclose(f)) {
		fprintf(stderr, "insnmark: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * After the last marker of a request: the plugin took every snapshot
 * named if it removed the request. Without the plugin nobody did: say so.
 */
static int taken(const char *names)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/request", dir);
	if (!access(path, F_OK)) {
		fprintf(stderr,
			"insnmark: %s: not taken (no insnprof plugin?)\n",
			names);
		unlink(path);
		return -1;
	}
	return 0;
}

static void nap(double sec)
{
	struct timespec ts = { (time_t)sec, (long)((sec - (time_t)sec) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Field @col of a /sys/block/DEV/stat line, or -1. */
static long long stat_field(int fd, int col)
{
	char buf[512], *p = buf, *end;
	long long v = -1;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = 0;
	for (int i = 0; i <= col; i++) {
		v = strtoll(p, &end, 10);
		if (end == p)
			return -1;
		p = end;
	}
	return v;
}

/* Busy and idle ticks of all CPUs, from /proc/stat's first line. */
static int cpu_ticks(unsigned long long *busy, unsigned long long *idle)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -1;
	/* cpu user nice system idle iowait irq softirq steal */
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
	*idle = v[3] + v[4];
	return 0;
}

static int window(const char *row, const char *stat, int col, double ramp,
		  double win)
{
	unsigned long long ba, ia, bb, ib;
	long long r0, ra, rb, v;
	int cut = 0;
	char name[256], path[PATH_MAX];
	int fd, i;
	FILE *f;

	fd = open(stat, O_RDONLY);
	if (fd < 0 || (r0 = stat_field(fd, col)) < 0) {
		fprintf(stderr, "insnmark: %s: cannot read\n", stat);
		return 1;
	}
	/*
	 * Both snapshots are named now, before fio starts: writing to the
	 * share has been seen to take seconds while fio runs.
	 */
	snprintf(name, sizeof(name), "%s.a\n%s.b", row, row);
	if (request(name) || puts("ready") < 0 || fflush(stdout))
		return 1;
	nap(0.5);
	for (i = 0; i < 6000; i++) {
		v = stat_field(fd, col);
		if (v > r0)
			break;
		nap(0.01);
	}
	if (i == 6000) {
		fprintf(stderr, "insnmark: %s: no I/O in 60 s\n", stat);
		return 1;
	}
	nap(ramp);
	/* between the markers only local counters are read */
	if (cpu_ticks(&ba, &ia) || (ra = stat_field(fd, col)) < 0)
		return 1;
	marker();
	/*
	 * Until win has passed or fio has stopped: fio's clock is not the
	 * guest's (under -icount with two vCPUs they have been seen a factor
	 * two apart), so its end is watched for, every 20 ms. A window cut
	 * short that way may hold up to 20 ms of fio's exit; it says so.
	 */
	for (double t = 0; t < win; t += 0.02) {
		long long prev = stat_field(fd, col);

		nap(win - t < 0.02 ? win - t : 0.02);
		if (stat_field(fd, col) == prev) {
			cut = 1;
			break;
		}
	}
	if (cpu_ticks(&bb, &ib) || (rb = stat_field(fd, col)) < 0)
		return 1;
	marker();
	if (taken(name))
		return 1;
	snprintf(path, sizeof(path), "%s/%s.win", dir, row);
	f = fopen(path, "w");
	if (!f ||
	    fprintf(f, "%lld %llu %llu %lld %d\n", rb - ra, bb - ba, ib - ia,
		    rb, cut) < 0 ||
	    fclose(f)) {
		fprintf(stderr, "insnmark: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: insnmark --mark DIR NAME\n"
			"       insnmark --window DIR ROW STAT COL RAMP WIN\n");
	return 2;
}

int main(int argc, char **argv)
{
	char *end;
	long col;
	double ramp, win;

	if (argc == 4 && !strcmp(argv[1], "--mark")) {
		dir = argv[2];
		if (request(argv[3]))
			return 1;
		marker();
		return taken(argv[3]) ? 1 : 0;
	}
	if (argc != 8 || strcmp(argv[1], "--window"))
		return usage();
	dir = argv[2];
	col = strtol(argv[5], &end, 10);
	if (*end || col < 0 || col > 16)
		return usage();
	ramp = strtod(argv[6], &end);
	if (*end || ramp < 0)
		return usage();
	win = strtod(argv[7], &end);
	if (*end || win <= 0)
		return usage();
	return window(argv[3], argv[4], (int)col, ramp, win);
}
