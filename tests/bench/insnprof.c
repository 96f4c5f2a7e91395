// SPDX-License-Identifier: GPL-2.0
/*
 * insnprof: a QEMU TCG plugin that counts the guest instructions executed
 * from each guest-kernel translation block, for tests/bench/run
 * --insn-profile.
 *
 *   qemu-system-x86_64 ... -plugin build/insnprof.so,dir=DIR
 *
 * Every translated block gets one inline add of its instruction count to
 * a counter keyed by the block's start address; blocks that start in user
 * space (the lower half) share one counter, key 1. Nothing runs in the
 * guest, so the guest executes exactly what it executes without the
 * plugin, and under -icount (one vCPU thread at a time) the counts are
 * exact: a per-function profile that does not perturb what it measures.
 *
 * Snapshots on request: the guest writes a name and a newline into
 * DIR/request (a read-write share; a request without its newline is not
 * complete yet), and a host thread writes every non-zero counter as
 * "%016x %u" lines to DIR/NAME.counts (through NAME.counts.tmp and a
 * rename, so a reader never sees half a file), then removes DIR/request.
 * The counters only grow: the difference of two snapshots is the window
 * between them. DIR/final.counts is written when QEMU exits.
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
typedef struct qemu_info_t qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*udata_cb)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
					      enum qemu_plugin_op op, void *ptr,
					      uint64_t imm);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
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

static struct slot *table;
static unsigned int used;
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

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t pc = qemu_plugin_tb_vaddr(tb);
	uint64_t key = (pc >> 63) ? pc : KEY_USER;
	struct slot *s;

	(void)id;
	pthread_mutex_lock(&table_lock);
	s = slot_of(key);
	pthread_mutex_unlock(&table_lock);
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
						 &s->insns,
						 qemu_plugin_tb_n_insns(tb));
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

/* Polls DIR/request every 2 ms of host time. */
static void *control(void *arg)
{
	char req[PATH_MAX + 16], name[256];

	(void)arg;
	snprintf(req, sizeof(req), "%s/request", dir);
	for (;;) {
		FILE *f = fopen(req, "r");

		if (!f) {
			usleep(2000);
			continue;
		}
		if (!fgets(name, sizeof(name), f) || !strchr(name, '\n')) {
			/* not written whole yet: look again */
			fclose(f);
			usleep(2000);
			continue;
		}
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		if (snapshot(name))
			fprintf(stderr, "insnprof: snapshot '%s' failed\n",
				name);
		unlink(req);
	}
	return NULL;
}

static void on_exit_cb(qemu_plugin_id_t id, void *userdata)
{
	(void)id;
	(void)userdata;
	snapshot("final");
}

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc,
			char **argv)
{
	pthread_t thr;
	int i;

	(void)info;
	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "dir=", 4) &&
		    strlen(argv[i] + 4) < sizeof(dir))
			strcpy(dir, argv[i] + 4);
		else {
			fprintf(stderr,
				"insnprof: unknown argument '%s' (dir=DIR)\n",
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
	if (pthread_create(&thr, NULL, control, NULL))
		return -1;
	pthread_detach(thr);
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
	return 0;
}
