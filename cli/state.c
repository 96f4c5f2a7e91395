// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device state files (format in include/ublkctl/state.h) through
 * json-c: written atomically (temp file, fsync, rename), read tolerantly
 * (unknown keys ignored, so a newer ublkctl may add fields).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ublkctl/ublkctl.h"
#include "ublkctl/state.h"

#define STATE_MAX_BYTES (1 << 20)

const char *ublk_run_dir(void)
{
	static char dir[PATH_MAX];
	const char *env = getenv("UBLKCTL_RUN_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (env && *env)
		snprintf(dir, sizeof(dir), "%s", env);
	else if (geteuid() == 0 || !xdg || !*xdg)
		snprintf(dir, sizeof(dir), "/run/ublkctl");
	else
		snprintf(dir, sizeof(dir), "%s/ublkctl", xdg);
	return dir;
}

static void state_path(char *buf, size_t len, uint32_t id)
{
	snprintf(buf, len, "%s/%u.json", ublk_run_dir(), id);
}

/* ---- writer ---- */

/* json-c reports allocation failure as a non-zero return or NULL. */
static int add_str(struct json_object *o, const char *key, const char *val)
{
	struct json_object *v = json_object_new_string(val);

	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_int(struct json_object *o, const char *key, int64_t val)
{
	struct json_object *v = json_object_new_int64(val);

	if (!v || json_object_object_add(o, key, v)) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* A decimal that round-trips through a JSON number (no sign, no 0123). */
static bool is_number(const char *v)
{
	size_t n = strspn(v, "0123456789");

	return n && !v[n] && n <= 18 && (v[0] != '0' || n == 1);
}

/*
 * Value v (owned: put on failure) under name in cfg; a name given again
 * (stripe's --file) makes its values an array, in the order given.
 */
static int config_add(struct json_object *cfg, const char *name,
		      struct json_object *v)
{
	struct json_object *old, *arr;

	if (!json_object_object_get_ex(cfg, name, &old)) {
		if (!json_object_object_add(cfg, name, v))
			return 0;
		json_object_put(v);
		return -ENOMEM;
	}
	if (json_object_is_type(old, json_type_array)) {
		if (!json_object_array_add(old, v))
			return 0;
		json_object_put(v);
		return -ENOMEM;
	}
	arr = json_object_new_array();
	if (!arr || json_object_array_add(arr, json_object_get(old))) {
		if (arr)
			json_object_put(old);
		json_object_put(arr);
		json_object_put(v);
		return -ENOMEM;
	}
	if (json_object_array_add(arr, v)) {
		json_object_put(v);
		json_object_put(arr);
		return -ENOMEM;
	}
	/* Replacing drops cfg's reference to old; arr holds one. */
	return json_object_object_add(cfg, name, arr) ? -ENOMEM : 0;
}

static int add_config(struct json_object *o, const struct ublk_state *s)
{
	struct json_object *cfg = json_object_new_object();
	int i, ret = 0;

	if (!cfg || json_object_object_add(o, "config", cfg)) {
		json_object_put(cfg);
		return -ENOMEM;
	}
	for (i = 0; !ret && i < s->nopts; i++) {
		const struct ublk_state_opt *p = &s->opts[i];
		struct json_object *v;

		if (!p->value)
			v = json_object_new_boolean(1);
		else if (is_number(p->value))
			v = json_object_new_int64(strtoll(p->value, NULL, 10));
		else
			v = json_object_new_string(p->value);
		ret = v ? config_add(cfg, p->name, v) : -ENOMEM;
	}
	return ret;
}

static struct json_object *to_json(const struct ublk_state *s)
{
	struct json_object *o = json_object_new_object(), *argv;
	int i, ret;

	if (!o)
		return NULL;
	ret = add_int(o, "version", UBLK_STATE_VERSION) ||
	      add_int(o, "id", s->id) || add_int(o, "pid", s->pid) ||
	      add_str(o, "target", s->target) ||
	      add_str(o, "backing", s->backing) ||
	      add_int(o, "threads", s->threads) ||
	      (s->error[0] && add_str(o, "error", s->error)) ||
	      (s->status[0] && add_str(o, "status", s->status));
	argv = json_object_new_array();
	if (ret || !argv || json_object_object_add(o, "argv", argv)) {
		json_object_put(argv);
		goto nomem;
	}
	for (i = 0; i < s->argc; i++) {
		struct json_object *a = json_object_new_string(s->argv[i]);

		if (!a || json_object_array_add(argv, a)) {
			json_object_put(a);
			goto nomem;
		}
	}
	if (s->nopts && add_config(o, s))
		goto nomem;
	return o;
nomem:
	json_object_put(o);
	return NULL;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int ublk_state_write(const struct ublk_state *s)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
	struct json_object *o;
	const char *text;
	int fd, ret;

	if (mkdir(ublk_run_dir(), 0755) && errno != EEXIST)
		return -errno;
	o = to_json(s);
	text = o ? json_object_to_json_string_ext(
			   o, JSON_C_TO_STRING_PRETTY |
				      JSON_C_TO_STRING_SPACED |
				      JSON_C_TO_STRING_NOSLASHESCAPE) :
		   NULL;
	if (!text) {
		json_object_put(o);
		return -ENOMEM;
	}
	state_path(path, sizeof(path), s->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		json_object_put(o);
		return -errno;
	}
	ret = write_all(fd, text, strlen(text));
	if (!ret)
		ret = write_all(fd, "\n", 1);
	json_object_put(o);
	/* On disk before it replaces the old file: never a torn state. */
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* ---- reader ---- */

static struct json_object *get(struct json_object *o, const char *key,
			       json_type type)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, type))
		return NULL;
	return v;
}

/*
 * An optional integer key in [min, max]: absent (or null) leaves *out
 * alone; present with another type or out of range is -EINVAL.
 */
static int get_int(struct json_object *o, const char *key, int64_t min,
		   int64_t max, int64_t *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	n = json_object_get_int64(v);
	if (errno || n < min || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

/* A JSON string as a C string: no NUL inside. NULL if not one. */
static const char *c_string(struct json_object *v)
{
	const char *s;

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return strlen(s) == (size_t)json_object_get_string_len(v) ? s : NULL;
}

/* An optional string key copied into buf[cap]; bad type or too long: -EINVAL. */
static int get_str(struct json_object *o, const char *key, char *buf,
		   size_t cap)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	s = c_string(v);
	if (!s || strlen(s) >= cap)
		return -EINVAL;
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

static int get_argv(struct json_object *o, struct ublk_state *s)
{
	struct json_object *a = get(o, "argv", json_type_array);
	size_t i, n;

	if (!a)
		return json_object_object_get_ex(o, "argv", NULL) ? -EINVAL : 0;
	n = json_object_array_length(a);
	s->argv = calloc(n + 1, sizeof(*s->argv));
	if (!s->argv)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		const char *v = c_string(json_object_array_get_idx(a, i));

		if (!v)
			return -EINVAL;
		s->argv[i] = strdup(v);
		if (!s->argv[i])
			return -ENOMEM;
		s->argc++;
	}
	return 0;
}

/*
 * One value of "config" as a pair: true -> a flag, a number -> its
 * decimal, a string -> itself; false and null mean "not given" (no
 * pair). 0, -EINVAL for another type, or -ENOMEM.
 */
static int config_pair(struct ublk_state *s, const char *key,
		       struct json_object *v)
{
	struct ublk_state_opt *p = &s->opts[s->nopts];
	const char *str = NULL;
	char num[24];

	if (!v || (json_object_is_type(v, json_type_boolean) &&
		   !json_object_get_boolean(v)))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		snprintf(num, sizeof(num), "%" PRId64,
			 json_object_get_int64(v));
		str = num;
	} else if (!json_object_is_type(v, json_type_boolean)) {
		str = c_string(v);
		if (!str)
			return -EINVAL;
	}
	p->name = strdup(key);
	p->value = str ? strdup(str) : NULL;
	s->nopts++;
	if (!p->name || (str && !p->value))
		return -ENOMEM;
	return 0;
}

/*
 * "config" back into pairs, in order; an array is its name given once per
 * element (an array inside it is -EINVAL). Absent: none.
 */
static int get_config(struct json_object *o, struct ublk_state *s)
{
	struct json_object *cfg;
	size_t n = 0, i;
	int ret = 0;

	if (!json_object_object_get_ex(o, "config", &cfg) || !cfg)
		return 0;
	if (!json_object_is_type(cfg, json_type_object))
		return -EINVAL;
	json_object_object_foreach(cfg, name, val)
	{
		(void)name;
		n += json_object_is_type(val, json_type_array) ?
			     json_object_array_length(val) :
			     1;
	}
	s->opts = calloc(n + 1, sizeof(*s->opts));
	if (!s->opts)
		return -ENOMEM;
	json_object_object_foreach(cfg, key, v)
	{
		if (!json_object_is_type(v, json_type_array)) {
			ret = config_pair(s, key, v);
			if (ret)
				return ret;
			continue;
		}
		for (i = 0; i < json_object_array_length(v); i++) {
			struct json_object *e = json_object_array_get_idx(v, i);

			if (json_object_is_type(e, json_type_array))
				return -EINVAL;
			ret = config_pair(s, key, e);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int from_json(struct json_object *o, uint32_t id, struct ublk_state *s)
{
	int64_t version = 0, v = -1;
	int ret;

	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	ret = get_int(o, "version", 0, INT32_MAX, &version);
	if (ret)
		return ret;
	/* Fields are only ever added; a new version means a reader must stop. */
	if (version > UBLK_STATE_VERSION)
		return -EPROTO;
	ret = get_int(o, "id", 0, UINT32_MAX, &v);
	if (ret || v != id)
		return -EINVAL;
	s->id = id;
	v = 0;
	ret = get_int(o, "pid", -1, INT_MAX, &v);
	s->pid = (pid_t)v;
	v = 0;
	if (!ret)
		ret = get_int(o, "threads", 0, UINT32_MAX, &v);
	s->threads = (uint32_t)v;
	if (!ret)
		ret = get_str(o, "target", s->target, sizeof(s->target));
	if (!ret)
		ret = get_str(o, "backing", s->backing, sizeof(s->backing));
	if (!ret)
		ret = get_str(o, "error", s->error, sizeof(s->error));
	if (!ret)
		ret = get_str(o, "status", s->status, sizeof(s->status));
	if (!ret)
		ret = get_argv(o, s);
	if (!ret)
		ret = get_config(o, s);
	return ret;
}

int ublk_state_read(uint32_t id, struct ublk_state *s)
{
	char path[PATH_MAX + 32], *buf = NULL;
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, ret;

	memset(s, 0, sizeof(*s));
	state_path(path, sizeof(path), id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(STATE_MAX_BYTES);
	tok = json_tokener_new();
	ret = -ENOMEM;
	if (!buf || !tok)
		goto out;
	while ((n = read(fd, buf + len, STATE_MAX_BYTES - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ret = -errno;
		if (n < 0)
			goto out;
		len += (size_t)n;
		ret = -EFBIG;
		if (len == STATE_MAX_BYTES)
			goto out;
	}
	ret = -EINVAL;
	o = json_tokener_parse_ex(tok, buf, (int)len);
	/* One complete object, nothing but white space after it. */
	if (!o || json_tokener_get_error(tok) != json_tokener_success)
		goto out;
	for (n = (ssize_t)json_tokener_get_parse_end(tok); (size_t)n < len; n++)
		if (!strchr(" \t\r\n", buf[n]))
			goto out;
	ret = from_json(o, id, s);
out:
	json_object_put(o);
	json_tokener_free(tok);
	free(buf);
	close(fd);
	if (ret)
		ublk_state_free(s);
	return ret;
}

int ublk_state_remove(uint32_t id)
{
	char path[PATH_MAX + 32];

	state_path(path, sizeof(path), id);
	return unlink(path) ? -errno : 0;
}

void ublk_state_free(struct ublk_state *s)
{
	int i;

	for (i = 0; i < s->argc; i++)
		free(s->argv[i]);
	free(s->argv);
	s->argv = NULL;
	s->argc = 0;
	for (i = 0; i < s->nopts; i++) {
		free(s->opts[i].name);
		free(s->opts[i].value);
	}
	free(s->opts);
	s->opts = NULL;
	s->nopts = 0;
}
