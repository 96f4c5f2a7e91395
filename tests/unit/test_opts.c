// SPDX-License-Identifier: GPL-2.0
/* Checked parsers: what they accept, what they refuse. */
#include <string.h>

#include "ublkctl/ublkctl.h"
#include "unit.h"

static const struct {
	const char *in;
	uint64_t want;
} sizes[] = {
	{ "1g", 1ULL << 30 },  { "1.5G", 3ULL << 29 }, { "1GiB", 1ULL << 30 },
	{ "1GB", 1000000000 }, { "1.5kb", 1500 },      { "0.5m", 512 * 1024 },
	{ "2E", 2ULL << 60 },  { "512B", 512 },	       { "1.25KiB", 1280 },
};

static const char *const not_sizes[] = {
	"1.5", "1.G", "1.5B", "1Gi", "1GiBx", "16E", ".5G",
};

int main(void)
{
	uint64_t v64 = 0;
	uint32_t v32 = 0;
	size_t i;

	ublk_cmd_name = "unit";
	CHECK(ublk_parse_u32("depth", "128", 1, 4096, &v32) == 0);
	CHECK_EQ(v32, 128);
	CHECK(ublk_parse_u32("depth", "0", 1, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "4097", 1, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "12x", 1, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "-1", 0, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "+1", 0, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", " 1", 0, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "", 0, 4096, &v32) == -1);
	CHECK(ublk_parse_u32("depth", "99999999999999999999999", 0, 4096,
			     &v32) == -1);
	CHECK_EQ(v32, 128); /* failures leave the output alone */

	CHECK(ublk_parse_size("size", "4096", 0, UINT64_MAX, &v64) == 0);
	CHECK_EQ(v64, 4096);
	CHECK(ublk_parse_size("size", "64M", 0, UINT64_MAX, &v64) == 0);
	CHECK_EQ(v64, 64ULL << 20);
	CHECK(ublk_parse_size("size", "2GiB", 0, UINT64_MAX, &v64) == 0);
	CHECK_EQ(v64, 2ULL << 30);
	CHECK(ublk_parse_size("size", "1T", 0, UINT64_MAX, &v64) == 0);
	CHECK_EQ(v64, 1ULL << 40);
	CHECK(ublk_parse_size("size", "1X", 0, UINT64_MAX, &v64) == -1);
	CHECK(ublk_parse_size("size", "M", 0, UINT64_MAX, &v64) == -1);
	CHECK(ublk_parse_size("size", "17179869184G", 0, UINT64_MAX, &v64) ==
	      -1);
	CHECK(ublk_parse_size("size", "1K", 4096, UINT64_MAX, &v64) == -1);

	/* As util-linux strtosize: either case, fractions, iB and B. */
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		v64 = 0;
		CHECK(ublk_parse_size("size", sizes[i].in, 0, UINT64_MAX,
				      &v64) == 0);
		CHECK_EQ(v64, sizes[i].want);
	}
	for (i = 0; i < ARRAY_SIZE(not_sizes); i++)
		CHECK(ublk_parse_size("size", not_sizes[i], 0, UINT64_MAX,
				      &v64) == -1);

	CHECK(ublk_parse_dev_id("id", "1048575", &v32) == 0);
	CHECK(ublk_parse_dev_id("id", "1048576", &v32) == -1);

	{
		static const struct ublk_opt t[] = {
			{ "queues", 'q', required_argument, "N", "queues" },
			{ "batch", 300, no_argument, NULL, "batch" },
			{ "recovery", 'r', optional_argument, "MODE", "rec" },
			UBLK_OPT_END,
		};
		struct option lo[8];
		char so[16];

		ublk_opts_build(t, NULL, lo, so);
		CHECK(strcmp(so, ":q:r::h") == 0);
		CHECK(strcmp(lo[1].name, "batch") == 0 && lo[1].val == 300);
		CHECK(strcmp(lo[3].name, "help") == 0);
		CHECK(lo[4].name == NULL);
		CHECK_EQ(ublk_opts_count(t), 3);
		CHECK(ublk_opt_find(t, 300) == &t[1]);
	}
	return unit_done("test_opts");
}
