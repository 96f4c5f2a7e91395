// SPDX-License-Identifier: GPL-2.0
/* Option tables -> getopt_long, --help blocks, and checked number parsers. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/ublkctl.h"

size_t ublk_opts_count(const struct ublk_opt *t)
{
	size_t n = 0;

	while (t && t[n].name)
		n++;
	return n;
}

static void add_rows(const struct ublk_opt *t, struct option **lo, char **so)
{
	for (; t && t->name; t++) {
		**lo = (struct option){ t->name, t->has_arg, NULL, t->key };
		(*lo)++;
		if (t->key > 0 && t->key < 256) {
			*(*so)++ = (char)t->key;
			if (t->has_arg == required_argument)
				*(*so)++ = ':';
			else if (t->has_arg == optional_argument) {
				*(*so)++ = ':';
				*(*so)++ = ':';
			}
		}
	}
}

void ublk_opts_build(const struct ublk_opt *a, const struct ublk_opt *b,
		     struct option *longopts, char *shortopts)
{
	struct option *lo = longopts;
	char *so = shortopts;

	/* Leading ':' so getopt reports a missing argument as ':'. */
	*so++ = ':';
	add_rows(a, &lo, &so);
	add_rows(b, &lo, &so);
	*lo++ = (struct option){ "help", no_argument, NULL, 'h' };
	*so++ = 'h';
	*lo = (struct option){ NULL, 0, NULL, 0 };
	*so = '\0';
}

const struct ublk_opt *ublk_opt_find(const struct ublk_opt *t, int key)
{
	for (; t && t->name; t++)
		if (t->key == key)
			return t;
	return NULL;
}

static int opt_label(char *buf, size_t len, const struct ublk_opt *o)
{
	char shortpart[8] = "    ";
	const char *mv = o->metavar ? o->metavar : "";

	if (o->key > 0 && o->key < 256)
		snprintf(shortpart, sizeof(shortpart), "-%c, ", o->key);
	if (o->has_arg == required_argument)
		return snprintf(buf, len, " %s--%s %s", shortpart, o->name, mv);
	if (o->has_arg == optional_argument)
		return snprintf(buf, len, " %s--%s[=%s]", shortpart, o->name,
				mv);
	return snprintf(buf, len, " %s--%s", shortpart, o->name);
}

void ublk_opts_print(FILE *f, const struct ublk_opt *t)
{
	const struct ublk_opt *o;
	int width = 0;
	char buf[128];

	for (o = t; o && o->name; o++) {
		int n = opt_label(buf, sizeof(buf), o);

		if (n > width)
			width = n;
	}
	for (o = t; o && o->name; o++) {
		opt_label(buf, sizeof(buf), o);
		fprintf(f, "%-*s  %s\n", width, buf, o->help);
	}
}

static int bad_value(const char *opt, const char *arg, const char *why)
{
	ublk_err("--%s: '%s': %s", opt, arg, why);
	return -1;
}

/* Digits only: strtoull alone would accept "-1", " 1" and "+1". */
static int parse_digits(const char *opt, const char *arg, uint64_t *out,
			char **end)
{
	unsigned long long v;

	if (!arg || !isdigit((unsigned char)arg[0]))
		return bad_value(opt, arg ? arg : "", "not a number");
	errno = 0;
	v = strtoull(arg, end, 10);
	if (errno == ERANGE)
		return bad_value(opt, arg, "number too large");
	*out = v;
	return 0;
}

int ublk_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max,
		   uint64_t *out)
{
	char *end;
	uint64_t v;
	char why[96];

	if (parse_digits(opt, arg, &v, &end))
		return -1;
	if (*end)
		return bad_value(opt, arg, "not a number");
	if (v < min || v > max) {
		snprintf(why, sizeof(why),
			 "out of range (%" PRIu64 "-%" PRIu64 ")", min, max);
		return bad_value(opt, arg, why);
	}
	*out = v;
	return 0;
}

int ublk_parse_u32(const char *opt, const char *arg, uint32_t min, uint32_t max,
		   uint32_t *out)
{
	uint64_t v;

	if (ublk_parse_u64(opt, arg, min, max, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int ublk_parse_size(const char *opt, const char *arg, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned int shift;
	} units[] = {
		{ "", 0 },   { "B", 0 },    { "K", 10 }, { "KiB", 10 },
		{ "M", 20 }, { "MiB", 20 }, { "G", 30 }, { "GiB", 30 },
		{ "T", 40 }, { "TiB", 40 },
	};
	char *end;
	uint64_t v;
	char why[96];
	size_t i;

	if (parse_digits(opt, arg, &v, &end))
		return -1;
	for (i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcmp(end, units[i].suffix))
			break;
	if (i == ARRAY_SIZE(units))
		return bad_value(opt, arg,
				 "not a size (use bytes or K, M, G, T)");
	if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
		return bad_value(opt, arg, "size too large");
	v <<= units[i].shift;
	if (v < min || v > max) {
		snprintf(why, sizeof(why),
			 "out of range (%" PRIu64 "-%" PRIu64 " bytes)", min,
			 max);
		return bad_value(opt, arg, why);
	}
	*out = v;
	return 0;
}

int ublk_parse_dev_id(const char *opt, const char *arg, uint32_t *out)
{
	return ublk_parse_u32(opt, arg, 0, UBLK_MAX_DEV_ID, out);
}
