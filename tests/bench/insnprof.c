// SPDX-License-Identifier: GPL-2.0
/*
 * insnprof: a QEMU TCG plugin that counts the guest instructions executed
 * from each guest-kernel translation block, for tests/bench/run
 * --insn-profile.
 *
 *   qemu-system-x86_64 ... -plugin build/insnprof.so,dir=DIR[,user=LO-HI...]
 *
 * Every translated block gets one inline add of its instruction count to
 * a counter keyed by the block's start address; blocks that start in user
 * space (the lower half) share one counter, key 1, except in the ranges
 * named by user=LO-HI arguments (hex, at most 8), which are keyed by
 * address as the kernel's are: the bench runs the ublk server with its
 * address space laid out without randomisation, inside those ranges, so
 * that its functions can be told apart from fio's. Nothing runs in the
 * guest, so the guest executes exactly what it executes without the
 * plugin, and under -icount (one vCPU thread at a time) the counts are
 * exact: a per-function profile that does not perturb what it measures.
 *
 * Snapshots on request, at an exact instruction: the guest writes one or
 * more names, a line each, into DIR/request (a read-write share), then
 * executes the marker, a NOP no compiler emits (nopl 0x49504b4d(%rax), see
 * tests/bench/insnmark.c), once per name. The plugin sees the marker when
 * it translates it and, when the vCPU reaches it, stops there, takes the
 * first name off DIR/request (removing the file with the last one) and
 * writes every non-zero counter as "%016x %u" lines to DIR/NAME.counts
 * (through NAME.counts.tmp and a rename). A guest that names all its
 * snapshots at once touches the share (slow: 9p, through QEMU's main
 * loop) before its window, never between its markers. Under -icount the
 * guest clock stands still meanwhile, so two snapshots bound a window
 * exactly, whatever
 * the host does. The counters only grow: the difference of two snapshots
 * is the window between them. DIR/final.counts is written when QEMU exits.
 *
 * QEMU's plugin API (version 1, QEMU 7.2) is declared here, only the calls
 * used: Debian ships no qemu-plugin.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);
typedef void (*vcpu_udata_cb)(unsigned int vcpu_index, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op, void *ptr,
					      uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *
qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
					    vcpu_udata_cb cb,
					    enum qemu_plugin_cb_flags flags,
					    void *userdata);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, udata_cb cb,
				    void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;
__attribute__((visibility("default"))) int
qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
		    char **argv);

/*
 * Open addressing, never resized: an inline add holds a counter's address
 * for as long as its block stays translated. A full table sends new blocks
 * to the overflow slot, which the snapshot reports as key 2.
 */
#define SLOTS (1u << 21)
#define KEY_USER 1
#define KEY_OVERFLOW 2

struct slot {
	uint64_t key;
	uint64_t insns;
};

/* the marker: nopl 0x49504b4d(%rax), "MKPI" in its displacement */
static const unsigned char marker[] = {
	0x0f, 0x1f, 0x80, 0x4d, 0x4b, 0x50, 0x49
};

static struct slot *table;
static unsigned int used;
/* user-space ranges [lo, hi) whose blocks are counted by address */
static struct {
	uint64_t lo, hi;
} user_ranges[8];
static unsigned int nr_user_ranges;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static char dir[PATH_MAX];

static struct slot *slot_of(uint64_t key)
{
	uint64_t h = key * 0x9e3779b97f4a7c15ull;
	unsigned int i = (unsigned int)(h >> 43) & (SLOTS - 1);

	for (;;) {
		if (table[i].key == key)
			return &table[i];
		if (!table[i].key) {
			/* keep a quarter free so probes stay short */
			if (used >= SLOTS / 4 * 3)
				return slot_of(KEY_OVERFLOW);
			table[i].key = key;
			used++;
			return &table[i];
		}
		i = (i + 1) & (SLOTS - 1);
	}
}

static void on_marker(unsigned int vcpu, void *userdata);

static uint64_t key_of(uint64_t pc)
{
	unsigned int i;

	if (pc >> 63)
		return pc;
	for (i = 0; i < nr_user_ranges; i++)
		if (pc >= user_ranges[i].lo && pc < user_ranges[i].hi)
			return pc;
	return KEY_USER;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t key = key_of(qemu_plugin_tb_vaddr(tb));
	struct slot *s;

	(void)id;
	pthread_mutex_lock(&table_lock);
	s = slot_of(key);
	pthread_mutex_unlock(&table_lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &s->insns,
						 qemu_plugin_tb_n_insns(tb));
	for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
		struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);

		if (qemu_plugin_insn_size(insn) == sizeof(marker) &&
		    !memcmp(qemu_plugin_insn_data(insn), marker,
			    sizeof(marker)))
			qemu_plugin_register_vcpu_insn_exec_cb(
				insn, on_marker, QEMU_PLUGIN_CB_NO_REGS, NULL);
	}
}

/* DIR/NAME.counts, whole or not at all; 0 or -errno */
static int snapshot(const char *name)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
	unsigned int i;
	FILE *f;
	int ret = 0;

	if (!*name || strchr(name, '/') || name[0] == '.')
		return -EINVAL;
	snprintf(tmp, sizeof(tmp), "%s/%s.counts.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s.counts", dir, name);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	for (i = 0; i < SLOTS; i++) {
		/* a torn read of a counter the guest is adding to is harmless:
		 * 64-bit stores are atomic on the hosts QEMU runs this on */
		uint64_t n = __atomic_load_n(&table[i].insns, __ATOMIC_RELAXED);

		if (table[i].key && n)
			fprintf(f, "%016" PRIx64 " %" PRIu64 "\n", table[i].key,
				n);
	}
	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -EIO;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* The vCPU reached a marker: take the snapshot DIR/request names first. */
static void on_marker(unsigned int vcpu, void *userdata)
{
	char req[PATH_MAX + 16], buf[4096];
	char *name, *rest;
	size_t n;
	FILE *f;

	(void)vcpu;
	(void)userdata;
	snprintf(req, sizeof(req), "%s/request", dir);
	f = fopen(req, "r");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	rest = strchr(buf, '\n');
	if (!rest) {
		fprintf(stderr, "insnprof: marker without a whole request\n");
		return;
	}
	*rest++ = 0;
	name = buf;
	/*
	 * The names left, for the next markers (the guest, stopped here,
	 * reads the request only after its last marker); none: it is done.
	 */
	if (*rest) {
		f = fopen(req, "w");
		if (!f || fputs(rest, f) < 0 || fclose(f))
			fprintf(stderr,
				"insnprof: %s: cannot keep the names left\n",
				req);
	} else {
		unlink(req);
	}
	if (snapshot(name))
		fprintf(stderr, "insnprof: snapshot '%s' failed\n", name);
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	snapshot("final");
}

/* user=LO-HI: hex bounds in the lower half, LO < HI; 0 or -1 */
static int parse_range(const char *arg)
{
	unsigned long long lo, hi = 0;
	char *end;

	errno = 0;
	lo = strtoull(arg, &end, 16);
	if (!errno && *end == '-')
		hi = strtoull(end + 1, &end, 16);
	if (errno || *end || end == arg || lo >= hi || (hi >> 63) ||
	    nr_user_ranges == sizeof(user_ranges) / sizeof(user_ranges[0])) {
		fprintf(stderr,
			"insnprof: user=%s: want LO-HI, hex, LO < HI < 2^63, at most 8\n",
			arg);
		return -1;
	}
	user_ranges[nr_user_ranges].lo = lo;
	user_ranges[nr_user_ranges].hi = hi;
	nr_user_ranges++;
	return 0;
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
			char **argv)
{
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "dir=", 4) &&
		    strlen(argv[i] + 4) < sizeof(dir)) {
			strcpy(dir, argv[i] + 4);
		} else if (!strncmp(argv[i], "user=", 5)) {
			if (parse_range(argv[i] + 5))
				return -1;
		} else {
			fprintf(stderr,
				"insnprof: unknown argument '%s' (dir=DIR, user=LO-HI)\n",
				argv[i]);
			return -1;
		}
	}
	if (!*dir || access(dir, W_OK)) {
		fprintf(stderr,
			"insnprof: dir=DIR: a writable directory is needed\n");
		return -1;
	}
	table = calloc(SLOTS, sizeof(*table));
	if (!table)
		return -1;
	/* in their home slots, where a probe for them ends at once */
	slot_of(KEY_USER);
	slot_of(KEY_OVERFLOW);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
	return 0;
}
