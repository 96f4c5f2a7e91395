// SPDX-License-Identifier: GPL-2.0
/*
 * Device configuration: one getopt pass over add's and the targets'
 * options (abbreviations, any order), the exclusion table, and the
 * normalized form round trip that recover and resize rely on.
 */
#include <string.h>

#include "ublkctl/devcfg.h"
#include "ublkctl/state.h"
#include "unit.h"

static int parse(struct ublk_dev_cfg *c, const char *line)
{
	static char buf[512];
	static char *argv[32];
	int argc = 0;
	char *tok;

	snprintf(buf, sizeof(buf), "add %s", line);
	for (tok = strtok(buf, " "); tok && argc < 31; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return ublk_cfg_parse(c, argc, argv);
}

/* The row of ublk_cfg_flags for opt and flag, or NULL. */
static const struct ublk_cfg_flag *flag_row(const struct ublk_cfg_flag *rows,
					    size_t n, const char *opt,
					    uint64_t flag)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(rows[i].opt, opt) && rows[i].flag == flag)
			return &rows[i];
	return NULL;
}

/* The value of a normalized option; "" for a flag, NULL if absent. */
static const char *saved(const struct ublk_state *st, const char *name)
{
	int i;

	for (i = 0; i < st->nopts; i++)
		if (!strcmp(st->opts[i].name, name))
			return st->opts[i].value ? st->opts[i].value : "";
	return NULL;
}

/* cfg c saved as device id's state file st, and loaded back into r. */
static void save_load(const struct ublk_dev_cfg *c, uint32_t id,
		      struct ublk_state *st, struct ublk_dev_cfg *r)
{
	memset(st, 0, sizeof(*st));
	st->id = id;
	CHECK_EQ(ublk_cfg_save(c, st), 0);
	CHECK_EQ(ublk_cfg_load(r, st), EXIT_OK);
}

int main(void)
{
	struct ublk_dev_cfg c, r;
	struct ublk_state st;

	ublk_cmd_name = "add";

	/* Abbreviations, target options before -t, --opt=value. */
	CHECK_EQ(parse(&c, "--ty loop -f x"), EXIT_OK);
	CHECK(c.tgt.ops == &target_loop);
	ublk_cfg_release(&c);
	CHECK_EQ(parse(&c, "--file=x --que 2 --type=loop"), EXIT_OK);
	CHECK_EQ(c.queues, 2);
	ublk_cfg_release(&c);

	/* An option of another target is unknown to this one. */
	CHECK_EQ(parse(&c, "-t null -f x"), EXIT_USAGE);
	ublk_cfg_release(&c);
	CHECK_EQ(parse(&c, "-t null --file x"), EXIT_USAGE);
	ublk_cfg_release(&c);
	CHECK_EQ(parse(&c, "-t disk"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-q 2"), EXIT_USAGE);

	/* The exclusion table, the dependency, value relations. */
	CHECK_EQ(parse(&c, "-t null --user-copy --auto-zc"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --unprivileged -r"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --auto-zc-fallback"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --auto-zc --auto-zc-fallback"), EXIT_OK);
	CHECK_EQ(parse(&c, "-t null --logical-block-size 4096 "
			   "--physical-block-size 512"),
		 EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --user-copy --batch --recovery=reissue"),
		 EXIT_OK);
	CHECK(c.user_copy && c.batch && c.recovery == UBLK_RECOVERY_REISSUE);
	CHECK_EQ(parse(&c, "-t null -r"), EXIT_OK);
	CHECK_EQ(c.recovery, UBLK_RECOVERY_REQUEUE);
	CHECK_EQ(parse(&c, "-t null --recovery"), EXIT_OK);
	CHECK_EQ(c.recovery, UBLK_RECOVERY_REQUEUE);

	/*
	 * --per-io-tasks and --get-data: refused where the driver would clear
	 * their flag, asked for at ADD_DEV, kept out of the picked mode.
	 */
	CHECK_EQ(parse(&c, "-t null --per-io-tasks --batch"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --get-data --batch"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --get-data --user-copy"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --get-data --zero-copy"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --get-data --auto-zc"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --get-data --per-io-tasks --nthreads 2"),
		 EXIT_OK);
	CHECK(c.mode_given);
	CHECK_EQ(ublk_cfg_dev_flags(&c) &
			 (UBLK_F_NEED_GET_DATA | UBLK_F_PER_IO_DAEMON),
		 UBLK_F_NEED_GET_DATA | UBLK_F_PER_IO_DAEMON);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG);
	CHECK(!c.batch && !c.auto_zc);
	CHECK_EQ(parse(&c, "-t null --per-io-tasks"), EXIT_OK);
	CHECK(!c.mode_given);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG |
				       UBLK_F_USER_COPY);
	CHECK(!c.batch && !c.auto_zc && c.user_copy);

	/*
	 * The automatic choice: null moves no data, so user copy (the
	 * driver registers and copies nothing); loop does zero-copy I/O;
	 * each only where the kernel offers it.
	 */
	CHECK_EQ(parse(&c, "-t null"), EXIT_OK);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG |
				       UBLK_F_USER_COPY);
	CHECK(c.batch && c.user_copy && !c.auto_zc);
	CHECK_EQ(parse(&c, "-t null"), EXIT_OK);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG);
	CHECK(c.batch && !c.user_copy && !c.auto_zc);
	CHECK_EQ(parse(&c, "-t loop -f x"), EXIT_OK);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_AUTO_BUF_REG |
				       UBLK_F_USER_COPY);
	CHECK(c.batch && c.auto_zc && !c.user_copy);
	CHECK_EQ(parse(&c, "-t null --unprivileged"), EXIT_OK);
	ublk_cfg_pick_mode(&c, UBLK_F_BATCH_IO | UBLK_F_USER_COPY);
	CHECK(!c.batch && !c.user_copy && !c.auto_zc);
	CHECK_EQ(parse(&c, "-t null -q 2 --nthreads 2"), EXIT_OK);
	CHECK(!(ublk_cfg_dev_flags(&c) & UBLK_F_PER_IO_DAEMON));
	CHECK_EQ(parse(&c, "-t null -q 1 --nthreads 2"), EXIT_OK);
	CHECK(ublk_cfg_dev_flags(&c) & UBLK_F_PER_IO_DAEMON);

	/* Saved in normalized form, loaded back to the same configuration. */
	CHECK_EQ(parse(&c, "-t fault -s 1G -q 2 --batch --delay-us 5 "
			   "--recovery=fail-io -n 3"),
		 EXIT_OK);
	save_load(&c, 3, &st, &r);
	CHECK(!strcmp(saved(&st, "type"), "fault"));
	CHECK(!strcmp(saved(&st, "size"), "1073741824"));
	CHECK(!strcmp(saved(&st, "batch"), ""));
	CHECK(!strcmp(saved(&st, "recovery"), "fail-io"));
	CHECK(!strcmp(saved(&st, "delay-us"), "5"));
	CHECK(saved(&st, "id") == NULL);
	CHECK(saved(&st, "user-copy") == NULL);
	CHECK_EQ(st.argc, 12);
	CHECK(!strcmp(st.argv[0], "-t"));
	CHECK(r.tgt.ops == &target_fault);
	CHECK_EQ(r.dev_id, 3);
	CHECK_EQ(r.size, 1ULL << 30);
	CHECK_EQ(r.queues, 2);
	CHECK(r.batch && !r.user_copy && r.recovery == UBLK_RECOVERY_FAIL_IO);
	CHECK_EQ(r.argc, 12);
	ublk_cfg_release(&r);
	ublk_cfg_release(&c);
	ublk_state_free(&st);

	/* The thread layout and NEED_GET_DATA survive recover. */
	CHECK_EQ(parse(&c, "-t null --per-io-tasks --nthreads 3 --get-data"),
		 EXIT_OK);
	save_load(&c, 4, &st, &r);
	CHECK(!strcmp(saved(&st, "per-io-tasks"), ""));
	CHECK(!strcmp(saved(&st, "get-data"), ""));
	CHECK(!strcmp(saved(&st, "nthreads"), "3"));
	CHECK(r.per_io_tasks && r.get_data && r.nthreads == 3);
	ublk_cfg_release(&r);
	ublk_cfg_release(&c);
	ublk_state_free(&st);

	/* --no-part-scan asks for its flag and is saved for recover. */
	CHECK_EQ(parse(&c, "-t null --no-part-scan"), EXIT_OK);
	CHECK(c.no_part_scan);
	CHECK(ublk_cfg_dev_flags(&c) & UBLK_F_NO_AUTO_PART_SCAN);
	save_load(&c, 5, &st, &r);
	CHECK(!strcmp(saved(&st, "no-part-scan"), ""));
	CHECK(r.no_part_scan);
	ublk_cfg_release(&r);
	ublk_cfg_release(&c);
	ublk_state_free(&st);

	/* --shmem-zc asks for SHMEM_ZC; FILE and --shmem-ro survive recover. */
	CHECK_EQ(parse(&c, "-t null --shmem-ro"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --shmem-zc /dev/shm/b --shmem-ro"),
		 EXIT_OK);
	CHECK(ublk_cfg_dev_flags(&c) & UBLK_F_SHMEM_ZC);
	save_load(&c, 6, &st, &r);
	CHECK(!strcmp(saved(&st, "shmem-zc"), "/dev/shm/b"));
	CHECK(!strcmp(saved(&st, "shmem-ro"), ""));
	CHECK(r.shmem_path && !strcmp(r.shmem_path, "/dev/shm/b"));
	CHECK(r.shmem_ro);
	ublk_cfg_release(&r);
	ublk_cfg_release(&c);
	ublk_state_free(&st);

	/* --io-desc-size: 24-256 in steps of 8, asks for IO_DESC_SIZE. */
	CHECK_EQ(parse(&c, "-t null --io-desc-size 16"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --io-desc-size 264"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --io-desc-size 36"), EXIT_USAGE);
	CHECK_EQ(parse(&c, "-t null --io-desc-size 256"), EXIT_OK);
	CHECK_EQ(parse(&c, "-t null --io-desc-size 40"), EXIT_OK);
	CHECK_EQ(c.io_desc_size, 40);
	CHECK(ublk_cfg_dev_flags(&c) & UBLK_F_IO_DESC_SIZE);
	save_load(&c, 7, &st, &r);
	CHECK(!strcmp(saved(&st, "io-desc-size"), "40"));
	CHECK_EQ(r.io_desc_size, 40);
	ublk_cfg_release(&r);
	ublk_cfg_release(&c);
	ublk_state_free(&st);

	CHECK_EQ(parse(&c, "-t null"), EXIT_OK);
	CHECK(!(ublk_cfg_dev_flags(&c) & UBLK_F_IO_DESC_SIZE));
	CHECK(!(ublk_cfg_dev_flags(&c) & UBLK_F_SHMEM_ZC));
	CHECK(!(ublk_cfg_dev_flags(&c) & UBLK_F_NO_AUTO_PART_SCAN));

	/*
	 * The option -> flag rows: one per (option, bit); recovery modes
	 * carry what they add to requeue's; given follows the configuration
	 * and the flags asked for are exactly the given rows'.
	 */
	{
		struct ublk_cfg_flag rows[UBLK_CFG_MAX_FLAGS];
		const struct ublk_cfg_flag *row;
		uint64_t want = UBLK_F_CMD_IOCTL_ENCODE;
		size_t n, i;

		n = ublk_cfg_flags(NULL, rows, ARRAY_SIZE(rows));
		CHECK(n > 0 && n <= ARRAY_SIZE(rows));
		for (i = 0; i < n && i < ARRAY_SIZE(rows); i++) {
			CHECK(!rows[i].given);
			CHECK_EQ(__builtin_popcountll(rows[i].flag), 1);
		}
		CHECK(flag_row(rows, n, "--no-part-scan",
			       UBLK_F_NO_AUTO_PART_SCAN));
		CHECK(flag_row(rows, n, "--batch", UBLK_F_BATCH_IO));
		CHECK(flag_row(rows, n, "--recovery", UBLK_F_USER_RECOVERY));
		CHECK(flag_row(rows, n, "--recovery=reissue",
			       UBLK_F_USER_RECOVERY_REISSUE));
		CHECK(!flag_row(rows, n, "--recovery=reissue",
				UBLK_F_USER_RECOVERY));
		CHECK(flag_row(rows, n, "--nthreads", UBLK_F_PER_IO_DAEMON));
		CHECK(flag_row(rows, n, "--per-io-tasks",
			       UBLK_F_PER_IO_DAEMON));
		CHECK(flag_row(rows, n, "--get-data", UBLK_F_NEED_GET_DATA));
		CHECK(flag_row(rows, n, "--shmem-zc", UBLK_F_SHMEM_ZC));
		CHECK(flag_row(rows, n, "--io-desc-size", UBLK_F_IO_DESC_SIZE));
		/* Options without a flag have no row. */
		CHECK(!flag_row(rows, n, "--read-only", 0));
		CHECK(!flag_row(rows, n, "--copy", 0));

		CHECK_EQ(parse(&c, "-t null --auto-zc --auto-zc-fallback "
				   "--recovery=fail-io -q 2 --nthreads 4"),
			 EXIT_OK);
		n = ublk_cfg_flags(&c, rows, ARRAY_SIZE(rows));
		for (i = 0; i < n && i < ARRAY_SIZE(rows); i++)
			if (rows[i].given)
				want |= rows[i].flag;
		CHECK_EQ(ublk_cfg_dev_flags(&c), want);
		CHECK_EQ(want, UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_AUTO_BUF_REG |
				       UBLK_F_SUPPORT_ZERO_COPY |
				       UBLK_F_USER_RECOVERY |
				       UBLK_F_USER_RECOVERY_FAIL_IO |
				       UBLK_F_PER_IO_DAEMON);
		row = flag_row(rows, n, "--recovery=fail-io",
			       UBLK_F_USER_RECOVERY_FAIL_IO);
		CHECK(row && row->given);
		row = flag_row(rows, n, "--recovery=reissue",
			       UBLK_F_USER_RECOVERY_REISSUE);
		CHECK(row && !row->given);
		/* With --batch, extra threads need no PER_IO_DAEMON. */
		CHECK_EQ(parse(&c, "-t null --batch -q 2 --nthreads 4"),
			 EXIT_OK);
		CHECK(!(ublk_cfg_dev_flags(&c) & UBLK_F_PER_IO_DAEMON));
		/* A buffer too small is counted, not overrun. */
		CHECK_EQ(ublk_cfg_flags(NULL, rows, 1),
			 ublk_cfg_flags(NULL, rows, ARRAY_SIZE(rows)));
	}

	/* A state file from before "config": its argv, parsed as add. */
	{
		char *argv[] = { "-t", "null", "-q", "4", "-n", "9", NULL };

		memset(&st, 0, sizeof(st));
		st.id = 9;
		st.argc = 6;
		st.argv = argv;
		CHECK_EQ(ublk_cfg_load(&r, &st), EXIT_OK);
		CHECK(r.tgt.ops == &target_null);
		CHECK_EQ(r.queues, 4);
		CHECK_EQ(r.dev_id, 9);
	}
	return unit_done("test_devcfg");
}
