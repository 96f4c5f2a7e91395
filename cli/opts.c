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

/*
 * "1.5G" -> whole 1, fraction 5 of 10^1, power 3, base 1024. The unit
 * as util-linux's strtosize reads it: K, M, G, T, P, E in either case,
 * alone or with "iB" for powers of 1024, with "B" for powers of 1000; "B"
 * alone is bytes. A fraction needs a unit. 0, or -1 if not a size.
 */
static int split_size(const char *arg, uint64_t *whole, uint64_t *frac,
		      uint64_t *frac_div, unsigned int *pwr, unsigned int *base)
{
	static const char powers[] = "KMGTPE";
	const char *p = arg, *u;
	char *end;

	errno = 0;
	*whole = strtoull(p, &end, 10);
	if (errno == ERANGE)
		return -2;
	p = end;
	*frac = 0;
	*frac_div = 1;
	*pwr = 0;
	*base = 1024;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		/* Digits past 10^-18 cannot change a 64-bit size. */
		for (; isdigit((unsigned char)*p); p++)
			if (*frac_div < 1000000000000000000ULL) {
				*frac = *frac * 10 + (uint64_t)(*p - '0');
				*frac_div *= 10;
			}
	}
	/* Bytes come whole. */
	if (!*p || !strcmp(p, "B"))
		return strchr(arg, '.') ? -1 : 0;
	u = strchr(powers, toupper((unsigned char)*p));
	if (!u)
		return -1;
	*pwr = (unsigned int)(u - powers) + 1;
	p++;
	if (!strcmp(p, "iB") || !strcmp(p, "ib") || !*p)
		return 0;
	if (!strcmp(p, "B") || !strcmp(p, "b")) {
		*base = 1000;
		return 0;
	}
	return -1;
}

int ublk_parse_size(const char *opt, const char *arg, uint64_t min,
		    uint64_t max, uint64_t *out)
{
	uint64_t whole, frac, frac_div, mult = 1;
	unsigned int pwr, base, i;
	unsigned __int128 v;
	char why[96];
	int ret;

	if (!arg || !isdigit((unsigned char)arg[0]))
		return bad_value(opt, arg ? arg : "", "not a number");
	ret = split_size(arg, &whole, &frac, &frac_div, &pwr, &base);
	if (ret == -2)
		return bad_value(opt, arg, "number too large");
	if (ret)
		return bad_value(opt, arg,
				 "not a size (use bytes or K, M, G, T)");
	for (i = 0; i < pwr; i++)
		mult *= base;
	v = (unsigned __int128)whole * mult +
	    (unsigned __int128)frac * mult / frac_div;
	if (v > UINT64_MAX)
		return bad_value(opt, arg, "size too large");
	if (v < min || v > max) {
		snprintf(why, sizeof(why),
			 "out of range (%" PRIu64 "-%" PRIu64 " bytes)", min,
			 max);
		return bad_value(opt, arg, why);
	}
	*out = (uint64_t)v;
	return 0;
}

int ublk_parse_dev_id(const char *opt, const char *arg, uint32_t *out)
{
	return ublk_parse_u32(opt, arg, 0, UBLK_MAX_DEV_ID, out);
}
