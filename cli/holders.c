// SPDX-License-Identifier: GPL-2.0
/* Who holds a ublk block device: mounts, processes, stacked devices. */
#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "ublkctl/holders.h"
#include "ublkctl/ublkctl.h"

#define SYS_BLOCK "/sys/block"

/*
 * Append one holder to h->text under its kind ("mounted on", "open by",
 * "held by"): kinds are added in order, so a new kind starts a new
 * "; "-separated group and the same kind continues it with ", ".
 */
static void add_holder(struct ublk_holders *h, const char **last_kind,
		       const char *kind, const char *fmt, ...)
{
	static const char cut[] = "...";
	size_t len = strlen(h->text);
	char piece[512];
	va_list ap;
	int n;

	h->count++;
	if (*last_kind == kind)
		n = snprintf(piece, sizeof(piece), ", ");
	else
		n = snprintf(piece, sizeof(piece), "%s%s ", len ? "; " : "",
			     kind);
	*last_kind = kind;
	va_start(ap, fmt);
	vsnprintf(piece + n, sizeof(piece) - n, fmt, ap);
	va_end(ap);
	/* The text never grows past the room "..." needs. */
	if (len >= sizeof(cut) - 1 &&
	    !strcmp(h->text + len - (sizeof(cut) - 1), cut))
		return;
	if (len + strlen(piece) + sizeof(cut) > sizeof(h->text))
		strcpy(h->text + len, cut);
	else
		strcpy(h->text + len, piece);
}

/* Read "MAJ:MIN" from a sysfs dev file. 0 on success. */
static int read_dev(const char *path, dev_t *dev)
{
	unsigned int maj, min;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -1;
	ok = fscanf(f, "%u:%u", &maj, &min) == 2;
	fclose(f);
	if (!ok)
		return -1;
	*dev = makedev(maj, min);
	return 0;
}

/* The disk and its partitions (sysfs subdirectories with a dev file). */
static int find_devs(const char *disk, dev_t *devs, int max)
{
	char path[PATH_MAX];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), SYS_BLOCK "/%s/dev", disk);
	if (read_dev(path, &devs[n]))
		return 0;
	n++;
	snprintf(path, sizeof(path), SYS_BLOCK "/%s", disk);
	d = opendir(path);
	if (!d)
		return n;
	while (n < max && (e = readdir(d))) {
		if (strncmp(e->d_name, disk, strlen(disk)) ||
		    !e->d_name[strlen(disk)])
			continue;
		snprintf(path, sizeof(path), SYS_BLOCK "/%s/%s/dev", disk,
			 e->d_name);
		if (!read_dev(path, &devs[n]))
			n++;
	}
	closedir(d);
	return n;
}

static bool dev_in(dev_t dev, const dev_t *devs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (devs[i] == dev)
			return true;
	return false;
}

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

static void mounts_into(FILE *f, const dev_t *devs, int n,
			struct ublk_holders *h, const char **last)
{
	char line[4096], point[4096];
	unsigned int maj, min;

	while (fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... */
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &maj, &min,
			   point) != 3)
			continue;
		if (!dev_in(makedev(maj, min), devs, n))
			continue;
		unescape(point);
		add_holder(h, last, "mounted on", "%s", point);
	}
}

void ublk_holders_mounts(FILE *f, const dev_t *devs, int n,
			 struct ublk_holders *h)
{
	const char *last = NULL;

	mounts_into(f, devs, n, h, &last);
}

/* Whether process pid has an fd on one of devs. */
static bool pid_has_dev(const char *pid, const dev_t *devs, int n)
{
	char path[PATH_MAX];
	struct dirent *e;
	bool found = false;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, e->d_name);
		found = !stat(path, &st) && S_ISBLK(st.st_mode) &&
			dev_in(st.st_rdev, devs, n);
	}
	closedir(d);
	return found;
}

static void procs_into(const dev_t *devs, int n, struct ublk_holders *h,
		       const char **last)
{
	char self[16], path[PATH_MAX], comm[64];
	struct dirent *e;
	DIR *d = opendir("/proc");

	if (!d)
		return;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	while ((e = readdir(d))) {
		FILE *f;

		if (!isdigit((unsigned char)e->d_name[0]) ||
		    !strcmp(e->d_name, self) ||
		    !pid_has_dev(e->d_name, devs, n))
			continue;
		strcpy(comm, "?");
		snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
		f = fopen(path, "re");
		if (f) {
			if (fgets(comm, sizeof(comm), f))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		add_holder(h, last, "open by", "%s (pid %s)", comm, e->d_name);
	}
	closedir(d);
}

/* Stacked devices (dm, md) in the holders directory of disk or a part. */
static void stacked_into(const char *disk, struct ublk_holders *h,
			 const char **last)
{
	char path[PATH_MAX];
	struct dirent *e, *p;
	DIR *parts, *d;

	snprintf(path, sizeof(path), SYS_BLOCK "/%s", disk);
	parts = opendir(path);
	if (!parts)
		return;
	while ((p = readdir(parts))) {
		bool is_part = !strncmp(p->d_name, disk, strlen(disk)) &&
			       p->d_name[strlen(disk)];

		if (strcmp(p->d_name, "holders") && !is_part)
			continue;
		if (is_part)
			snprintf(path, sizeof(path), SYS_BLOCK "/%s/%s/holders",
				 disk, p->d_name);
		else
			snprintf(path, sizeof(path), SYS_BLOCK "/%s/holders",
				 disk);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.')
				add_holder(h, last, "held by", "%s", e->d_name);
		closedir(d);
	}
	closedir(parts);
}

void ublk_holders_find(uint32_t id, struct ublk_holders *h)
{
	dev_t devs[UBLK_HOLDERS_MAX_DEVS];
	const char *last = NULL;
	char disk[32];
	FILE *f;
	int n;

	memset(h, 0, sizeof(*h));
	snprintf(disk, sizeof(disk), "ublkb%u", id);
	n = find_devs(disk, devs, ARRAY_SIZE(devs));
	if (!n)
		return;
	f = fopen("/proc/self/mountinfo", "re");
	if (f) {
		mounts_into(f, devs, n, h, &last);
		fclose(f);
	}
	procs_into(devs, n, h, &last);
	stacked_into(disk, h, &last);
}
