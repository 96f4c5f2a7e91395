// SPDX-License-Identifier: GPL-2.0
/*
 * Per-device state files (format in include/ublkctl/state.h): atomic
 * writes (temp file + rename) and a small parser for exactly that shape.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_json_str(struct sbuf *b, const char *s)
{
	const unsigned char *c;

	sb_put(b, "\"", 1);
	for (c = (const unsigned char *)s; *c; c++) {
		char esc[8];

		switch (*c) {
		case '"':
			sb_str(b, "\\\"");
			break;
		case '\\':
			sb_str(b, "\\\\");
			break;
		case '\n':
			sb_str(b, "\\n");
			break;
		case '\t':
			sb_str(b, "\\t");
			break;
		case '\r':
			sb_str(b, "\\r");
			break;
		case '\b':
			sb_str(b, "\\b");
			break;
		case '\f':
			sb_str(b, "\\f");
			break;
		default:
			if (*c < 0x20) {
				snprintf(esc, sizeof(esc), "\\u%04x", *c);
				sb_str(b, esc);
			} else {
				sb_put(b, (const char *)c, 1);
			}
		}
	}
	sb_put(b, "\"", 1);
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
	char path[PATH_MAX + 32], tmp[PATH_MAX + 64], num[32];
	struct sbuf b = { 0 };
	int fd, ret, i;

	if (mkdir(ublk_run_dir(), 0755) && errno != EEXIST)
		return -errno;
	sb_str(&b, "{ \"id\": ");
	snprintf(num, sizeof(num), "%u", s->id);
	sb_str(&b, num);
	sb_str(&b, ", \"pid\": ");
	snprintf(num, sizeof(num), "%d", (int)s->pid);
	sb_str(&b, num);
	sb_str(&b, ", \"target\": ");
	sb_json_str(&b, s->target);
	sb_str(&b, ", \"backing\": ");
	sb_json_str(&b, s->backing);
	sb_str(&b, ", \"threads\": ");
	snprintf(num, sizeof(num), "%u", s->threads);
	sb_str(&b, num);
	sb_str(&b, ",\n  \"argv\": [");
	for (i = 0; i < s->argc; i++) {
		if (i)
			sb_str(&b, ", ");
		sb_json_str(&b, s->argv[i]);
	}
	sb_str(&b, "] }\n");
	if (b.oom) {
		free(b.p);
		return -ENOMEM;
	}

	state_path(path, sizeof(path), s->id);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(b.p);
		return -errno;
	}
	ret = write_all(fd, b.p, b.len);
	free(b.p);
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

/* ---- parser ---- */

struct parser {
	const char *p;
	const char *end;
};

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && strchr(" \t\r\n", *ps->p))
		ps->p++;
}

static bool expect(struct parser *ps, char c)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return true;
	}
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string into a malloc'd C string (NUL bytes refused). */
static char *parse_string(struct parser *ps)
{
	struct sbuf b = { 0 };

	if (!expect(ps, '"'))
		return NULL;
	sb_put(&b, "", 0);
	while (ps->p < ps->end && *ps->p != '"') {
		char c = *ps->p++;

		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			sb_put(&b, &c, 1);
			continue;
		}
		if (ps->p >= ps->end)
			goto bad;
		c = *ps->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			sb_put(&b, &c, 1);
			break;
		case 'n':
			sb_put(&b, "\n", 1);
			break;
		case 't':
			sb_put(&b, "\t", 1);
			break;
		case 'r':
			sb_put(&b, "\r", 1);
			break;
		case 'b':
			sb_put(&b, "\b", 1);
			break;
		case 'f':
			sb_put(&b, "\f", 1);
			break;
		case 'u': {
			unsigned int v = 0;
			char out[4];
			int i;

			if (ps->end - ps->p < 4)
				goto bad;
			for (i = 0; i < 4; i++) {
				int h = hexval(*ps->p++);

				if (h < 0)
					goto bad;
				v = v << 4 | (unsigned int)h;
			}
			if (!v || (v >= 0xd800 && v <= 0xdfff))
				goto bad;
			if (v < 0x80) {
				out[0] = (char)v;
				sb_put(&b, out, 1);
			} else if (v < 0x800) {
				out[0] = (char)(0xc0 | v >> 6);
				out[1] = (char)(0x80 | (v & 0x3f));
				sb_put(&b, out, 2);
			} else {
				out[0] = (char)(0xe0 | v >> 12);
				out[1] = (char)(0x80 | ((v >> 6) & 0x3f));
				out[2] = (char)(0x80 | (v & 0x3f));
				sb_put(&b, out, 3);
			}
			break;
		}
		default:
			goto bad;
		}
	}
	if (!expect(ps, '"') || b.oom)
		goto bad;
	return b.p;
bad:
	free(b.p);
	return NULL;
}

static bool parse_int(struct parser *ps, long long min, long long max,
		      long long *out)
{
	char *end;
	long long v;

	skip_ws(ps);
	if (ps->p >= ps->end ||
	    !(*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')))
		return false;
	errno = 0;
	v = strtoll(ps->p, &end, 10);
	if (errno || end > ps->end || v < min || v > max)
		return false;
	ps->p = end;
	*out = v;
	return true;
}

static int parse_state(struct parser *ps, struct ublk_state *s)
{
	bool have_id = false, have_argv = false;
	long long v;

	if (!expect(ps, '{'))
		return -EINVAL;
	if (expect(ps, '}'))
		return -EINVAL;
	do {
		char *key = parse_string(ps);

		if (!key || !expect(ps, ':')) {
			free(key);
			return -EINVAL;
		}
		if (!strcmp(key, "id")) {
			if (!parse_int(ps, 0, UINT32_MAX, &v))
				goto bad;
			s->id = (uint32_t)v;
			have_id = true;
		} else if (!strcmp(key, "threads")) {
			if (!parse_int(ps, 0, UINT32_MAX, &v))
				goto bad;
			s->threads = (uint32_t)v;
		} else if (!strcmp(key, "pid")) {
			if (!parse_int(ps, -1, INT_MAX, &v))
				goto bad;
			s->pid = (pid_t)v;
		} else if (!strcmp(key, "target") || !strcmp(key, "backing")) {
			char *str = parse_string(ps);
			char *dst = key[0] == 't' ? s->target : s->backing;
			size_t cap = key[0] == 't' ? sizeof(s->target) :
						     sizeof(s->backing);

			if (!str || strlen(str) >= cap) {
				free(str);
				goto bad;
			}
			memcpy(dst, str, strlen(str) + 1);
			free(str);
		} else if (!strcmp(key, "argv")) {
			if (!expect(ps, '['))
				goto bad;
			have_argv = true;
			if (!expect(ps, ']')) {
				do {
					char *a = parse_string(ps);
					char **nv;

					if (!a)
						goto bad;
					nv = realloc(s->argv,
						     (size_t)(s->argc + 2) *
							     sizeof(*nv));
					if (!nv) {
						free(a);
						goto bad;
					}
					s->argv = nv;
					s->argv[s->argc++] = a;
					s->argv[s->argc] = NULL;
				} while (expect(ps, ','));
				if (!expect(ps, ']'))
					goto bad;
			}
		} else {
			goto bad; /* the shape is fixed: no other keys */
		}
		free(key);
		continue;
bad:
		free(key);
		return -EINVAL;
	} while (expect(ps, ','));
	if (!expect(ps, '}'))
		return -EINVAL;
	skip_ws(ps);
	if (ps->p != ps->end || !have_id || !have_argv)
		return -EINVAL;
	return 0;
}

int ublk_state_read(uint32_t id, struct ublk_state *s)
{
	char path[PATH_MAX + 32];
	struct parser ps;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd, ret;

	memset(s, 0, sizeof(*s));
	state_path(path, sizeof(path), id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(STATE_MAX_BYTES);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, STATE_MAX_BYTES - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		len += (size_t)n;
		if (len == STATE_MAX_BYTES) {
			ret = -EFBIG;
			goto out;
		}
	}
	ps.p = buf;
	ps.end = buf + len;
	ret = parse_state(&ps, s);
	if (!ret && s->id != id)
		ret = -EINVAL;
out:
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
}
