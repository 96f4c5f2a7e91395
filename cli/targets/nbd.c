// SPDX-License-Identifier: GPL-2.0
/*
 * nbd target: an export of an NBD server. libnbd parses the URI and
 * negotiates (TLS included); one connection per server thread. The
 * transmission phase then runs one of two ways:
 * - on a plain socket, the thread speaks it itself (the "wire" path): the
 *   requests of one pass over the CQEs go out in one sendmsg (what the
 *   socket does not take at once, in one IORING_OP_SENDMSG), and one
 *   receive on the ring at a time takes in many replies, parsed here.
 *   Simple replies are asked for (every server has them), so a reply is a
 *   header and, for a read, the data.
 * - with TLS (or --libnbd-io), libnbd's asynchronous API: the socket is
 *   polled with IORING_OP_POLL_ADD in the direction libnbd asks for, and
 *   its completion callbacks complete the requests.
 *
 * A lost connection does not fail I/O: requests without a reply are held
 * and the thread reconnects (a timer ticks while it is down, attempts back
 * off), then sends them again. Past --reconnect-timeout, held and new
 * requests fail with EIO until a connection is back.
 */
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <limits.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/server.h"

enum {
	NBD_OPT_URI = 'u',
	NBD_OPT_RECONNECT_TIMEOUT = 1200,
	NBD_OPT_LIBNBD_IO,
};

/* Thread SQEs (target_ops.thread_cqe): arg is the connection generation. */
enum {
	NBD_OP_POLL_IN = 1,
	NBD_OP_POLL_OUT,
	NBD_OP_TICK,
	NBD_OP_CANCEL,
	NBD_OP_SEND,
	NBD_OP_RECV,
};

/* The NBD protocol's transmission phase (simple replies), big-endian. */
#define WIRE_REQUEST_MAGIC 0x25609513u
#define WIRE_REPLY_MAGIC 0x67446698u
enum {
	WIRE_CMD_READ = 0,
	WIRE_CMD_WRITE = 1,
	WIRE_CMD_FLUSH = 3,
	WIRE_CMD_TRIM = 4,
	WIRE_CMD_WRITE_ZEROES = 6,
};
#define WIRE_FLAG_FUA (1u << 0)
#define WIRE_FLAG_NO_HOLE (1u << 1)

struct wire_request {
	uint32_t magic;
	uint16_t flags;
	uint16_t type;
	uint64_t cookie;
	uint64_t offset;
	uint32_t length;
} __attribute__((packed));

struct wire_reply {
	uint32_t magic;
	uint32_t error;
	uint64_t cookie;
} __attribute__((packed));

#define WIRE_IOV 256 /* iovecs in one SENDMSG: 128 writes or 256 others */
#define WIRE_RBUF (256 * 1024) /* receive buffer of a connection */

#define NBD_DEF_RECONNECT_S 30
#define NBD_MAX_RECONNECT_S 86400
#define NBD_TICK_MS 100 /* how often a thread without connection looks */
#define NBD_BACKOFF_MIN_MS 50
#define NBD_BACKOFF_MAX_MS 2000
#define NBD_CONNECT_MS 10000 /* an attempt that takes longer is dropped */
#define NBD_DISC_POLLS 20 /* at thread exit: 2 s for the server to close */

struct nbd_priv {
	const char *uri; /* as given; after init, uri_abs */
	char uri_abs[4096]; /* uri, its local paths absolute */
	uint32_t reconnect_s;
	bool libnbd_io; /* the transmission phase through libnbd, TLS or not */
	/* what the export offers, from init's connection */
	bool can_fua, can_flush, can_trim, can_zero;
};

/* Where a request is. */
enum nbd_req_state {
	REQ_IDLE, /* not with us */
	REQ_SENT, /* given to libnbd, or all on the wire: waits for a reply */
	REQ_HELD, /* waiting for a connection */
	REQ_QUEUED, /* wire: on the send queue, not all of it sent */
};

struct nbd_req {
	struct nbd_conn *c;
	struct ublk_queue *q;
	struct nbd_req *next; /* on the held list or the send queue */
	struct wire_request hdr;
	uint16_t tag;
	uint8_t state;
};

enum nbd_link {
	LINK_UP, /* ready for commands */
	LINK_CONNECTING, /* an aio connect is under way */
	LINK_WAIT, /* no handle; next attempt at next_try_ms */
};

/* One per server thread. */
struct nbd_conn {
	struct ublk_thread *t;
	const struct nbd_priv *p;
	struct nbd_handle *h;
	enum nbd_link link;
	uint32_t gen; /* of h: thread SQEs of older handles are stale */
	bool poll_in, poll_out; /* polls armed on h's socket */
	bool tick_armed;
	bool failing; /* down past the deadline: I/O fails at once */
	int64_t deadline_ms; /* while down: when held I/O fails */
	int64_t next_try_ms;
	int64_t attempt_ms; /* start of the running attempt */
	unsigned int backoff_ms;
	struct __kernel_timespec tick;
	struct nbd_req *held, **held_tail;
	/*
	 * The wire path (wire true while h is up on it): requests to send
	 * in order, sq_off bytes of the first sent already; at most one
	 * SENDMSG (the part of the queue the socket did not take at once)
	 * and one receive on the ring. send_busy and recv_busy stay set
	 * until their CQE, whatever the generation: the iovecs, rbuf and the
	 * buffer a scattered receive fills are not reused before.
	 */
	bool wire;
	int fd;
	struct nbd_req *sq, **sq_tail;
	size_t sq_off;
	bool send_busy, recv_busy, rx_stalled;
	struct msghdr msg;
	struct iovec iov[WIRE_IOV];
	unsigned char *rbuf;
	size_t rlen; /* bytes in rbuf not parsed yet */
	struct nbd_req *rx; /* a read whose data is coming */
	size_t rx_done; /* bytes of it received */
	unsigned int nr_out; /* requests queued or sent, reply not parsed */
	struct nbd_req *last; /* the request queued last */
	struct nbd_req *scatter; /* the read the RECV in flight expects */
	struct msghdr rmsg;
	struct iovec riov[3];
	unsigned int nr_reqs;
	struct nbd_req reqs[];
};

static const struct ublk_opt nbd_opts[] = {
	{ "uri", NBD_OPT_URI, required_argument, "URI",
	  "the export (also as the operand: add -t nbd URI)" },
	{ "reconnect-timeout", NBD_OPT_RECONNECT_TIMEOUT, required_argument,
	  "SEC",
	  "stall I/O this long while reconnecting, then EIO (default 30)" },
	{ "libnbd-io", NBD_OPT_LIBNBD_IO, no_argument, NULL,
	  "requests through libnbd's aio API, not io_uring send/recv" },
	UBLK_OPT_END,
};

/* The target's state; --reconnect-timeout's default is set as it is made. */
static struct nbd_priv *priv_of(struct ublk_tgt *tgt)
{
	bool fresh = !tgt->priv;
	struct nbd_priv *p = ublk_tgt_priv(tgt, sizeof(*p));

	if (p && fresh)
		p->reconnect_s = NBD_DEF_RECONNECT_S;
	return p;
}

static int nbd_parse_opt(struct ublk_tgt *tgt, int key, const char *arg)
{
	struct nbd_priv *p = priv_of(tgt);

	if (!p)
		return EXIT_FAIL;
	switch (key) {
	case NBD_OPT_URI:
		if (p->uri) {
			ublk_err("nbd: more than one URI ('%s', '%s')", p->uri,
				 arg);
			return EXIT_USAGE;
		}
		p->uri = arg;
		return EXIT_OK;
	case NBD_OPT_RECONNECT_TIMEOUT:
		return ublk_parse_u32("reconnect-timeout", arg, 0,
				      NBD_MAX_RECONNECT_S, &p->reconnect_s) ?
			       EXIT_USAGE :
			       EXIT_OK;
	case NBD_OPT_LIBNBD_IO:
		p->libnbd_io = true;
		return EXIT_OK;
	}
	return EXIT_USAGE;
}

/* The URI schemes libnbd knows; anything else is a usage error. */
static bool nbd_scheme_ok(const char *uri)
{
	static const char *const schemes[] = {
		"nbd://",	"nbds://",	"nbd+unix://",
		"nbds+unix://", "nbd+vsock://", "nbds+vsock://",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(schemes); i++)
		if (!strncmp(uri, schemes[i], strlen(schemes[i])))
			return true;
	return false;
}

/* Query keys whose values are local paths (nbd_connect_uri(3)). */
static const char *const path_keys[] = { "socket=", "tls-psk-file=",
					 "tls-certificates=" };

/* Append s (n bytes) to out[*len..size); false when it does not fit. */
static bool put(char *out, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len + n >= size)
		return false;
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return true;
}

/* Append the current directory and a '/', percent-encoded for a query. */
static bool put_cwd(char *out, size_t size, size_t *len)
{
	static const char hex[] = "0123456789ABCDEF";
	char cwd[PATH_MAX], esc[3] = { '%' };
	const char *c;

	if (!getcwd(cwd, sizeof(cwd)))
		return false;
	for (c = cwd; *c; c++) {
		unsigned char u = (unsigned char)*c;

		if (isalnum(u) || strchr("/-._~", u)) {
			if (!put(out, size, len, c, 1))
				return false;
			continue;
		}
		esc[1] = hex[u >> 4];
		esc[2] = hex[u & 15];
		if (!put(out, size, len, esc, 3))
			return false;
	}
	return strcmp(cwd, "/") ? put(out, size, len, "/", 1) : true;
}

/*
 * uri with the relative local paths of its query (socket, PSK file,
 * certificate directory) made absolute against the current directory:
 * the server and recover, run from anywhere, reach the same files. false
 * when the result does not fit in size bytes.
 */
static bool uri_absolute(const char *uri, char *out, size_t size)
{
	const char *q = strchr(uri, '?'), *end, *v;
	size_t len = 0, i;
	bool first = true;

	out[0] = '\0';
	if (!q)
		return put(out, size, &len, uri, strlen(uri));
	if (!put(out, size, &len, uri, (size_t)(q - uri) + 1))
		return false;
	for (q++; *q && *q != '#'; q = *end == '&' ? end + 1 : end) {
		end = q + strcspn(q, "&#");
		v = NULL;
		for (i = 0; i < ARRAY_SIZE(path_keys); i++)
			if (!strncmp(q, path_keys[i], strlen(path_keys[i])))
				v = q + strlen(path_keys[i]);
		if (!first && !put(out, size, &len, "&", 1))
			return false;
		first = false;
		if (v && v < end && *v != '/' && strncasecmp(v, "%2f", 3)) {
			if (!put(out, size, &len, q, (size_t)(v - q)) ||
			    !put_cwd(out, size, &len) ||
			    !put(out, size, &len, v, (size_t)(end - v)))
				return false;
		} else if (!put(out, size, &len, q, (size_t)(end - q))) {
			return false;
		}
	}
	return put(out, size, &len, q, strlen(q));
}

/*
 * A new handle for uri, set up as every connection of ours is: local
 * files allowed in the URI (tls-psk-file=, tls-certificates=: the URI is
 * root's own command line), no zeroing of read buffers; simple: the
 * transmission phase may run on the wire path, which parses only simple
 * replies. NULL after printing why.
 */
static struct nbd_handle *nbd_handle_new(const char *uri, const char *name,
					 bool simple)
{
	struct nbd_handle *h = nbd_create();

	if (!h) {
		ublk_err("%s: %s", uri, nbd_get_error());
		return NULL;
	}
	if (nbd_set_uri_allow_local_file(h, true) ||
	    nbd_set_pread_initialize(h, false) ||
	    nbd_set_handle_name(h, name) ||
	    (simple && nbd_set_request_structured_replies(h, false)) ||
#ifdef LIBNBD_HAVE_NBD_SET_REQUEST_EXTENDED_HEADERS
	    (simple && nbd_set_request_extended_headers(h, false)) ||
#endif
	    (ublk_debug && nbd_set_debug(h, true))) {
		ublk_err("%s: %s", uri, nbd_get_error());
		nbd_close(h);
		return NULL;
	}
	return h;
}

/* libnbd's message without the "nbd_connect_uri: " prefix it starts with. */
static const char *nbd_reason(void)
{
	const char *msg = nbd_get_error(), *colon;

	if (!msg)
		return strerror(nbd_get_errno() ? nbd_get_errno() : EIO);
	colon = strstr(msg, ": ");
	if (colon && !strncmp(msg, "nbd_", 4) && colon - msg < 40)
		return colon + 2;
	return msg;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The export's block-size constraints -> lbs, pbs, max_io. */
static int nbd_block_sizes(struct ublk_tgt *tgt, struct nbd_handle *h,
			   const struct ublk_dev_cfg *cfg, const char *uri)
{
	int64_t min = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	int64_t pref = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	int64_t max = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	uint32_t lbs = 512;

	if (min > 4096 || (min > 0 && !is_pow2((uint64_t)min))) {
		ublk_err("%s: the export's minimum block size %" PRId64
			 " is not a power of 2 up to 4096",
			 uri, min);
		return EXIT_FAIL;
	}
	if (min > lbs)
		lbs = (uint32_t)min;
	if (cfg->lbs && cfg->lbs < lbs) {
		ublk_err(
			"--logical-block-size %u: smaller than the export's minimum block size (%u)",
			cfg->lbs, lbs);
		return ublk_usage_hint();
	}
	tgt->min_lbs = lbs;
	tgt->lbs = cfg->lbs ? cfg->lbs : lbs;
	tgt->pbs = tgt->lbs;
	if (pref > 0 && is_pow2((uint64_t)pref) && pref <= 65536 &&
	    pref > tgt->pbs)
		tgt->pbs = (uint32_t)pref;
	if (cfg->pbs)
		tgt->pbs = cfg->pbs;
	if (max > 0 && max < 4096) {
		ublk_err("%s: the export's maximum block size %" PRId64
			 " is below 4096",
			 uri, max);
		return EXIT_FAIL;
	}
	if (max > 0 && max < UINT32_MAX)
		tgt->max_io = (uint32_t)max;
	return EXIT_OK;
}

/* What the export is and offers, from one connection. */
static int nbd_probe(struct ublk_tgt *tgt, struct nbd_priv *p,
		     struct nbd_handle *h, const struct ublk_dev_cfg *cfg)
{
	unsigned int threads = cfg->nthreads ? cfg->nthreads : cfg->queues;
	int64_t size = nbd_get_size(h);
	int ret, ro;

	if (size < 0) {
		ublk_err("%s: %s", p->uri, nbd_reason());
		return EXIT_FAIL;
	}
	if (threads > 1 && nbd_can_multi_conn(h) != 1) {
		ublk_err(
			"%s: the server does not offer multi-conn: one queue and one thread only (-q 1)",
			p->uri);
		return ublk_usage_hint();
	}
	ret = nbd_block_sizes(tgt, h, cfg, p->uri);
	if (ret)
		return ret;
	size = size / tgt->lbs * tgt->lbs;
	if (!size) {
		ublk_err("%s: the export is smaller than one block (%u bytes)",
			 p->uri, tgt->lbs);
		return EXIT_FAIL;
	}
	if (cfg->size > (uint64_t)size) {
		ublk_err("--size %llu: larger than the export (%" PRId64
			 " bytes)",
			 (unsigned long long)cfg->size, size);
		return ublk_usage_hint();
	}
	tgt->size = cfg->size ? cfg->size : (uint64_t)size;
	ro = nbd_is_read_only(h) == 1;
	p->can_flush = nbd_can_flush(h) == 1;
	p->can_fua = p->can_flush && nbd_can_fua(h) == 1;
	p->can_trim = !ro && nbd_can_trim(h) == 1;
	p->can_zero = !ro && nbd_can_zero(h) == 1;
	tgt->attrs = (ro ? UBLK_ATTR_READ_ONLY : 0) |
		     (p->can_flush ? UBLK_ATTR_VOLATILE_CACHE : 0) |
		     (p->can_fua ? UBLK_ATTR_FUA : 0) |
		     (nbd_is_rotational(h) == 1 ? UBLK_ATTR_ROTATIONAL : 0);
	tgt->discard = p->can_trim;
	tgt->write_zeroes = p->can_zero;
	tgt->dma_align = 512;
	return EXIT_OK;
}

/*
 * A clean disconnect (NBD_CMD_DISC), waited for a little: a hung server
 * must not hold up the deletion of the device.
 */
static void conn_disconnect(struct nbd_handle *h)
{
	int i;

	if (nbd_aio_disconnect(h, 0))
		return;
	for (i = 0; i < NBD_DISC_POLLS; i++)
		if (nbd_aio_is_closed(h) == 1 || nbd_aio_is_dead(h) == 1 ||
		    nbd_poll(h, 100) < 0)
			return;
}

/*
 * Connect once (blocking: nothing exists yet) to learn the export's size,
 * flags and block sizes, then disconnect: each server thread makes its
 * own connection when it starts.
 */
static int nbd_init(struct ublk_tgt *tgt, const struct ublk_dev_cfg *cfg)
{
	struct nbd_priv *p = tgt->priv;
	struct nbd_handle *h;
	int ret;

	if (!p || !p->uri)
		return ublk_usage_err(
			"nbd needs a URI (-t nbd URI or --uri URI)");
	if (!nbd_scheme_ok(p->uri))
		return ublk_usage_err(
			"%s: not an NBD URI (nbd://, nbds://, nbd+unix://, ...)",
			p->uri);
	if (p->uri != p->uri_abs) {
		if (!uri_absolute(p->uri, p->uri_abs, sizeof(p->uri_abs)))
			return ublk_usage_err("%.64s...: too long", p->uri);
		p->uri = p->uri_abs;
	}
	if (cfg->zero_copy || cfg->auto_zc || cfg->user_copy)
		return ublk_usage_err(
			"--%s: not with -t nbd (copy mode and --batch only)",
			cfg->zero_copy ? "zero-copy" :
			cfg->auto_zc   ? "auto-zc" :
					 "user-copy");
	/* A write to a socket the server closed must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	h = nbd_handle_new(p->uri, "ublkctl-probe", !p->libnbd_io);
	if (!h)
		return EXIT_FAIL;
	if (nbd_connect_uri(h, p->uri)) {
		/* A URI libnbd cannot parse leaves the handle unconnected. */
		ret = nbd_get_errno() == EINVAL && nbd_aio_is_created(h) == 1 ?
			      EXIT_USAGE :
			      EXIT_FAIL;
		ublk_err("%s: %s", p->uri, nbd_reason());
		nbd_close(h);
		if (ret == EXIT_USAGE)
			ublk_hint(ublk_cmd_name);
		return ret;
	}
	ret = nbd_probe(tgt, p, h, cfg);
	conn_disconnect(h);
	nbd_close(h);
	if (ret)
		return ret;
	snprintf(tgt->backing, sizeof(tgt->backing), "%s", p->uri);
	return EXIT_OK;
}

static int nbd_save(const struct ublk_tgt *tgt, ublk_emit_fn emit, void *ctx)
{
	const struct nbd_priv *p = tgt->priv;
	int ret;

	ret = emit(ctx, "uri", p->uri);
	if (!ret && p->reconnect_s != NBD_DEF_RECONNECT_S)
		ret = ublk_emit_u64(emit, ctx, "reconnect-timeout",
				    p->reconnect_s);
	if (!ret && p->libnbd_io)
		ret = emit(ctx, "libnbd-io", NULL);
	return ret;
}

/* ------------------------------------------------------------ I/O path */

static void conn_arm(struct nbd_conn *c);
static void conn_check(struct nbd_conn *c);
static void conn_lost(struct nbd_conn *c, const char *why);

static void hold(struct nbd_conn *c, struct nbd_req *r)
{
	r->state = REQ_HELD;
	r->next = NULL;
	*c->held_tail = r;
	c->held_tail = &r->next;
}

static void finish(struct nbd_req *r, int res)
{
	r->state = REQ_IDLE;
	ublk_complete_io(r->c->t, r->q, r->tag, res);
}

/* The connection is gone (ENOTCONN) or the server is going (ESHUTDOWN). */
static bool conn_error(int err)
{
	return err == ENOTCONN || err == ESHUTDOWN || err == ECONNRESET ||
	       err == EPIPE;
}

/*
 * libnbd's completion of one request, from inside an nbd_aio_* or
 * nbd_aio_notify_* call on this thread: no libnbd call on the handle here.
 * Returns 1: libnbd retires the command.
 */
static int req_done(void *user_data, int *error)
{
	struct nbd_req *r = user_data;
	const struct ublksrv_io_desc *iod = ublk_iod(r->q, r->tag);
	unsigned int op = ublksrv_get_op(iod);

	if (r->state != REQ_SENT)
		return 1;
	if (*error && conn_error(*error)) {
		if (r->c->failing)
			finish(r, -EIO);
		else
			hold(r->c, r);
		return 1;
	}
	if (*error)
		finish(r, -*error);
	else if (op == UBLK_IO_OP_READ || op == UBLK_IO_OP_WRITE)
		finish(r, (int)(iod->nr_sectors << 9));
	else
		finish(r, 0);
	return 1;
}

static void wire_enqueue(struct nbd_conn *c, struct nbd_req *r);

/* Hand one request to a ready connection. */
static void req_send(struct nbd_conn *c, struct nbd_req *r)
{
	const struct ublksrv_io_desc *iod = ublk_iod(r->q, r->tag);
	nbd_completion_callback cb = { .callback = req_done, .user_data = r };
	uint64_t off = iod->start_sector << 9;
	size_t len = (size_t)iod->nr_sectors << 9;
	void *buf = r->q->ios[r->tag].data;
	uint32_t flags = 0;
	int64_t cookie = -1;
	int err;

	if (c->wire) {
		wire_enqueue(c, r);
		return;
	}
	r->state = REQ_SENT;
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		cookie = nbd_aio_pread(c->h, buf, len, off, cb, 0);
		break;
	case UBLK_IO_OP_WRITE:
		if ((iod->op_flags & UBLK_IO_F_FUA) && c->p->can_fua)
			flags |= LIBNBD_CMD_FLAG_FUA;
		cookie = nbd_aio_pwrite(c->h, buf, len, off, cb, flags);
		break;
	case UBLK_IO_OP_FLUSH:
		cookie = nbd_aio_flush(c->h, cb, 0);
		break;
	case UBLK_IO_OP_DISCARD:
		cookie = nbd_aio_trim(c->h, len, off, cb, 0);
		break;
	case UBLK_IO_OP_WRITE_ZEROES:
		if (iod->op_flags & UBLK_IO_F_NOUNMAP)
			flags |= LIBNBD_CMD_FLAG_NO_HOLE;
		cookie = nbd_aio_zero(c->h, len, off, cb, flags);
		break;
	}
	/* -1: not queued, and the callback was not (and will not be) called. */
	if (cookie >= 0 || r->state != REQ_SENT)
		return;
	err = nbd_get_errno() ? nbd_get_errno() : EIO;
	if (nbd_aio_is_ready(c->h) != 1 && nbd_aio_is_processing(c->h) != 1 &&
	    !c->failing) {
		hold(c, r);
		return;
	}
	ublk_dbg("%s: request refused: %s", c->p->uri, nbd_get_error());
	finish(r, -err);
}

/* Which requests the export takes at all (the rest: EOPNOTSUPP). */
static bool op_offered(const struct nbd_priv *p, unsigned int op)
{
	switch (op) {
	case UBLK_IO_OP_READ:
	case UBLK_IO_OP_WRITE:
		return true;
	case UBLK_IO_OP_FLUSH:
		return p->can_flush;
	case UBLK_IO_OP_DISCARD:
		return p->can_trim;
	case UBLK_IO_OP_WRITE_ZEROES:
		return p->can_zero;
	}
	return false;
}

static int nbd_queue_io(struct ublk_thread *t, struct ublk_queue *q,
			unsigned int tag)
{
	struct nbd_conn *c = ublk_thread_tgt_priv(t);
	unsigned int idx = ublk_io_buf_index(q, tag);
	struct nbd_req *r;

	if (!op_offered(c->p, ublksrv_get_op(ublk_iod(q, tag))))
		return -EOPNOTSUPP;
	if (idx >= c->nr_reqs || ublk_io_buf_mode(q, tag) != UBLK_BUF_PLAIN)
		return -EINVAL;
	r = &c->reqs[idx];
	r->q = q;
	r->tag = (uint16_t)tag;
	if (c->link != LINK_UP) {
		if (c->failing)
			return -EIO;
		hold(c, r);
		return 0;
	}
	req_send(c, r);
	if (!c->wire)
		conn_check(c);
	return 0;
}

/* ---------------------------------------------------------- wire path */

static size_t wire_payload(const struct nbd_req *r)
{
	return be16toh(r->hdr.type) == WIRE_CMD_WRITE ? be32toh(r->hdr.length) :
							0;
}

/* Encode r's request header and put it at the end of the send queue. */
static void wire_enqueue(struct nbd_conn *c, struct nbd_req *r)
{
	const struct ublksrv_io_desc *iod = ublk_iod(r->q, r->tag);
	uint32_t len = iod->nr_sectors << 9;
	uint16_t type = WIRE_CMD_READ, flags = 0;

	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		break;
	case UBLK_IO_OP_WRITE:
		type = WIRE_CMD_WRITE;
		if ((iod->op_flags & UBLK_IO_F_FUA) && c->p->can_fua)
			flags |= WIRE_FLAG_FUA;
		break;
	case UBLK_IO_OP_FLUSH:
		type = WIRE_CMD_FLUSH;
		len = 0;
		break;
	case UBLK_IO_OP_DISCARD:
		type = WIRE_CMD_TRIM;
		break;
	case UBLK_IO_OP_WRITE_ZEROES:
		type = WIRE_CMD_WRITE_ZEROES;
		if (iod->op_flags & UBLK_IO_F_NOUNMAP)
			flags |= WIRE_FLAG_NO_HOLE;
		break;
	}
	r->hdr.magic = htobe32(WIRE_REQUEST_MAGIC);
	r->hdr.flags = htobe16(flags);
	r->hdr.type = htobe16(type);
	r->hdr.cookie = htobe64((uint64_t)(r - c->reqs));
	r->hdr.offset = htobe64(
		type == WIRE_CMD_FLUSH ? 0 : (uint64_t)iod->start_sector << 9);
	r->hdr.length = htobe32(len);
	r->state = REQ_QUEUED;
	r->next = NULL;
	*c->sq_tail = r;
	c->sq_tail = &r->next;
	c->nr_out++;
	c->last = r;
}

/* The msghdr for the head of the send queue, as much as the iovecs take. */
static void wire_iov_fill(struct nbd_conn *c)
{
	size_t skip = c->sq_off;
	unsigned int i = 0;
	struct nbd_req *r;

	for (r = c->sq; r && i + 2 <= WIRE_IOV; r = r->next) {
		size_t hl = sizeof(r->hdr), pl = wire_payload(r);

		if (skip < hl) {
			c->iov[i].iov_base = (char *)&r->hdr + skip;
			c->iov[i++].iov_len = hl - skip;
			skip = 0;
		} else {
			skip -= hl;
		}
		if (pl) {
			c->iov[i].iov_base =
				(char *)r->q->ios[r->tag].data + skip;
			c->iov[i++].iov_len = pl - skip;
			skip = 0;
		}
	}
	memset(&c->msg, 0, sizeof(c->msg));
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = i;
}

static void wire_sent(struct nbd_conn *c, size_t res);

/*
 * Send the queue: straight away while the socket takes it (no CQE, no
 * extra pass of the loop), the rest by one SENDMSG on the ring, which
 * waits for room in the socket. Only one send is out at a time: the
 * stream stays in order.
 */
static void wire_send(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe;
	ssize_t n;

	while (c->sq) {
		wire_iov_fill(c);
		n = sendmsg(c->fd, &c->msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0) {
			wire_sent(c, (size_t)n);
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_lost(c, strerror(errno));
			return;
		}
		sqe = ublk_get_sqe(c->t);
		io_uring_prep_sendmsg(sqe, c->fd, &c->msg,
				      MSG_NOSIGNAL | MSG_WAITALL);
		sqe->user_data = ublk_tgt_thread_user_data(NBD_OP_SEND, c->gen);
		c->send_busy = true;
		return;
	}
}

/*
 * The read that the next reply must be for, or NULL: the only request out,
 * all sent, nothing half-parsed (as every request at QD 1).
 */
static struct nbd_req *wire_expected(const struct nbd_conn *c)
{
	struct nbd_req *r = c->last;

	if (c->nr_out != 1 || c->rlen || c->rx || !r || r->state != REQ_SENT ||
	    be16toh(r->hdr.type) != WIRE_CMD_READ ||
	    be32toh(r->hdr.length) > WIRE_RBUF / 2)
		return NULL;
	return r;
}

/*
 * One RECV for the replies. Polled first: it is armed after a send, when
 * the reply cannot be there yet. When the reply is known (wire_expected),
 * its data is received straight into the request's buffer, after its
 * header and before what may follow; wire_scattered() undoes that should
 * the server say something else.
 */
static void wire_recv_arm(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe = ublk_get_sqe(c->t);
	struct nbd_req *r = wire_expected(c);

	if (r) {
		size_t len = be32toh(r->hdr.length);

		c->riov[0].iov_base = c->rbuf;
		c->riov[0].iov_len = sizeof(struct wire_reply);
		c->riov[1].iov_base = r->q->ios[r->tag].data;
		c->riov[1].iov_len = len;
		c->riov[2].iov_base = c->rbuf + sizeof(struct wire_reply);
		c->riov[2].iov_len =
			WIRE_RBUF - sizeof(struct wire_reply) - len;
		memset(&c->rmsg, 0, sizeof(c->rmsg));
		c->rmsg.msg_iov = c->riov;
		c->rmsg.msg_iovlen = 3;
		io_uring_prep_recvmsg(sqe, c->fd, &c->rmsg, 0);
		c->scatter = r;
	} else {
		io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen,
				   WIRE_RBUF - c->rlen, 0);
	}
	sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe->user_data = ublk_tgt_thread_user_data(NBD_OP_RECV, c->gen);
	c->recv_busy = true;
}

/*
 * res bytes came in through wire_recv_arm's three iovecs. If they start
 * with the expected read's good reply, its data is in place: parsing goes
 * on after it. Otherwise the bytes are put back in order in rbuf.
 */
static void wire_scattered(struct nbd_conn *c, size_t res)
{
	struct nbd_req *r = c->scatter;
	size_t hl = sizeof(struct wire_reply), len = be32toh(r->hdr.length);
	size_t n1 = res < hl ? res : hl;
	size_t n2 = res - n1 < len ? res - n1 : len;
	size_t n3 = res - n1 - n2;
	struct wire_reply rep;

	c->scatter = NULL;
	memcpy(&rep, c->rbuf, sizeof(rep));
	if (n1 == hl && r->state == REQ_SENT &&
	    be32toh(rep.magic) == WIRE_REPLY_MAGIC && !rep.error &&
	    be64toh(rep.cookie) == (uint64_t)(r - c->reqs)) {
		c->nr_out--;
		c->rx = r;
		c->rx_done = n2;
		memmove(c->rbuf, c->rbuf + hl, n3);
		c->rlen = n3;
		return;
	}
	memmove(c->rbuf + n1 + n2, c->rbuf + hl, n3);
	memcpy(c->rbuf + n1, r->q->ios[r->tag].data, n2);
	c->rlen = res;
}

/* res bytes of the queue's head went out: what is all sent waits for replies. */
static void wire_sent(struct nbd_conn *c, size_t res)
{
	struct nbd_req *r;

	while (res && (r = c->sq)) {
		size_t left = sizeof(r->hdr) + wire_payload(r) - c->sq_off;

		if (res < left) {
			c->sq_off += res;
			return;
		}
		res -= left;
		c->sq_off = 0;
		c->sq = r->next;
		if (!c->sq)
			c->sq_tail = &c->sq;
		r->state = REQ_SENT;
	}
}

/* A reply with an error: NBD's error numbers are Linux errno values. */
static void wire_reply_error(struct nbd_conn *c, struct nbd_req *r,
			     uint32_t err)
{
	if (err == ESHUTDOWN && !c->failing) {
		hold(c, r); /* the server goes: sent again after reconnecting */
		return;
	}
	finish(r, err < 4096 ? -(int)err : -EIO);
}

/*
 * Parse the replies in rbuf: complete each request, copy a read's data
 * to its buffer. A reply may come before the CQE of the send that carried
 * its request: then parsing waits for that CQE (rx_stalled). A reply that
 * matches no request sent is the server's error: the connection is
 * dropped and the requests go again on the next one.
 */
static void wire_parse(struct nbd_conn *c)
{
	unsigned char *p = c->rbuf;
	size_t n = c->rlen;

	c->rx_stalled = false;
	for (;;) {
		struct wire_reply rep;
		struct nbd_req *r = c->rx;
		uint64_t cookie;
		uint32_t err;

		if (r) {
			size_t len = be32toh(r->hdr.length);
			size_t take = len - c->rx_done;

			if (take > n)
				take = n;
			memcpy((char *)r->q->ios[r->tag].data + c->rx_done, p,
			       take);
			p += take;
			n -= take;
			c->rx_done += take;
			if (c->rx_done < len)
				break;
			c->rx = NULL;
			finish(r, (int)len);
			continue;
		}
		if (n < sizeof(rep))
			break;
		memcpy(&rep, p, sizeof(rep));
		cookie = be64toh(rep.cookie);
		r = cookie < c->nr_reqs ? &c->reqs[cookie] : NULL;
		if (r && r->state == REQ_QUEUED && c->send_busy) {
			c->rx_stalled = true;
			break;
		}
		if (be32toh(rep.magic) != WIRE_REPLY_MAGIC || !r ||
		    r->state != REQ_SENT) {
			conn_lost(c, "a reply that matches no request");
			return;
		}
		p += sizeof(rep);
		n -= sizeof(rep);
		c->nr_out--;
		err = be32toh(rep.error);
		if (err) {
			wire_reply_error(c, r, err);
		} else if (be16toh(r->hdr.type) == WIRE_CMD_READ) {
			c->rx = r;
			c->rx_done = 0;
		} else {
			finish(r, (int)wire_payload(r));
		}
	}
	memmove(c->rbuf, p, n);
	c->rlen = n;
}

/*
 * The wire connection ends: every request sent and not answered (or not
 * all sent) waits for the next connection; the socket is shut down so
 * that the SENDMSG and RECV in flight complete.
 */
static void wire_stop(struct nbd_conn *c)
{
	unsigned int i;

	if (!c->wire)
		return;
	for (i = 0; i < c->nr_reqs; i++) {
		struct nbd_req *r = &c->reqs[i];

		if (r->state == REQ_SENT || r->state == REQ_QUEUED)
			hold(c, r);
	}
	c->sq = NULL;
	c->sq_tail = &c->sq;
	c->sq_off = 0;
	c->rlen = 0;
	c->rx = NULL;
	c->rx_stalled = false;
	c->nr_out = 0;
	c->last = NULL;
	c->scatter = NULL;
	c->wire = false;
	shutdown(c->fd, SHUT_RDWR);
}

static void wire_cqe(struct nbd_conn *c, unsigned int op, uint64_t gen, int res)
{
	if (op == NBD_OP_SEND)
		c->send_busy = false;
	else
		c->recv_busy = false;
	if (gen != c->gen || !c->wire)
		return;
	if (res < 0) {
		conn_lost(c, strerror(-res));
		return;
	}
	if (op == NBD_OP_SEND) {
		wire_sent(c, (size_t)res);
		if (c->rx_stalled)
			wire_parse(c);
		return;
	}
	if (!res) {
		conn_lost(c, "the server closed the connection");
		return;
	}
	if (c->scatter)
		wire_scattered(c, (size_t)res);
	else
		c->rlen += (size_t)res;
	wire_parse(c);
}

static void nbd_thread_flush(struct ublk_thread *t)
{
	struct nbd_conn *c = ublk_thread_tgt_priv(t);

	if (!c->wire)
		return;
	if (!c->send_busy && c->sq)
		wire_send(c);
	/* Nothing to receive while no request is out and no read's data due. */
	if (c->wire && !c->recv_busy && (c->nr_out || c->rx) &&
	    c->rlen < WIRE_RBUF)
		wire_recv_arm(c);
}

/* ---------------------------------------------------------- connection */

static void poll_arm(struct nbd_conn *c, int fd, unsigned int op,
		     unsigned int events)
{
	struct io_uring_sqe *sqe = ublk_get_sqe(c->t);

	io_uring_prep_poll_add(sqe, fd, events);
	sqe->user_data = ublk_tgt_thread_user_data(op, c->gen);
}

/* Poll the socket in the directions libnbd waits for. */
static void conn_arm(struct nbd_conn *c)
{
	unsigned int dir;
	int fd;

	if (c->wire)
		return;
	dir = nbd_aio_get_direction(c->h);
	fd = nbd_aio_get_fd(c->h);
	if (fd < 0)
		return;
	if ((dir & LIBNBD_AIO_DIRECTION_READ) && !c->poll_in) {
		poll_arm(c, fd, NBD_OP_POLL_IN, POLLIN);
		c->poll_in = true;
	}
	if ((dir & LIBNBD_AIO_DIRECTION_WRITE) && !c->poll_out) {
		poll_arm(c, fd, NBD_OP_POLL_OUT, POLLOUT);
		c->poll_out = true;
	}
}

static void tick_arm(struct nbd_conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->tick_armed)
		return;
	c->tick.tv_sec = 0;
	c->tick.tv_nsec = NBD_TICK_MS * 1000000LL;
	sqe = ublk_get_sqe(c->t);
	io_uring_prep_timeout(sqe, &c->tick, 0, 0);
	sqe->user_data = ublk_tgt_thread_user_data(NBD_OP_TICK, 0);
	c->tick_armed = true;
}

/* Fail what waits for a connection: the deadline has passed. */
static void fail_held(struct nbd_conn *c)
{
	struct nbd_req *r;

	c->failing = true;
	ublk_thread_set_status(c->t, "down, I/O fails");
	while ((r = c->held)) {
		c->held = r->next;
		finish(r, -EIO);
	}
	c->held_tail = &c->held;
}

/* Send again, in order, what waited for the connection. */
static void send_held(struct nbd_conn *c)
{
	struct nbd_req *r, *list = c->held;

	c->held = NULL;
	c->held_tail = &c->held;
	while ((r = list)) {
		list = r->next;
		req_send(c, r);
	}
}

/* Cancel the polls armed for libnbd on the handle. */
static void polls_cancel(struct nbd_conn *c)
{
	static const unsigned int ops[] = { NBD_OP_POLL_IN, NBD_OP_POLL_OUT };
	bool armed[] = { c->poll_in, c->poll_out };
	struct io_uring_sqe *sqe;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		if (!armed[i])
			continue;
		sqe = ublk_get_sqe(c->t);
		io_uring_prep_poll_remove(
			sqe, ublk_tgt_thread_user_data(ops[i], c->gen));
		sqe->user_data = ublk_tgt_thread_user_data(NBD_OP_CANCEL, 0);
	}
	c->poll_in = c->poll_out = false;
}

/* Drop the handle: its polls are cancelled, its generation ends. */
static void conn_drop(struct nbd_conn *c)
{
	polls_cancel(c);
	wire_stop(c);
	nbd_close(c->h);
	c->h = NULL;
	c->gen++;
}

/*
 * The handle died (why: NULL for libnbd's reason): hold its requests'
 * retries, wait, try again.
 */
static void conn_lost(struct nbd_conn *c, const char *why)
{
	int64_t now = ublk_now_ms();

	if (!why)
		why = nbd_reason();
	if (c->link == LINK_UP) {
		ublk_err("%s: thread %u: connection lost (%s): reconnecting",
			 c->p->uri, ublk_thread_index(c->t), why);
		c->deadline_ms = now + (int64_t)c->p->reconnect_s * 1000;
		c->backoff_ms = NBD_BACKOFF_MIN_MS;
	} else {
		ublk_dbg("%s: thread %u: reconnect failed: %s", c->p->uri,
			 ublk_thread_index(c->t), why);
		if (c->backoff_ms < NBD_BACKOFF_MAX_MS)
			c->backoff_ms *= 2;
	}
	if (c->link == LINK_UP)
		ublk_thread_set_status(c->t, "reconnecting");
	conn_drop(c);
	c->link = LINK_WAIT;
	c->next_try_ms = now + c->backoff_ms;
	if (!c->failing && now >= c->deadline_ms) {
		ublk_err(
			"%s: thread %u: not reconnected within %u s: I/O fails",
			c->p->uri, ublk_thread_index(c->t), c->p->reconnect_s);
		fail_held(c);
	}
	tick_arm(c);
}

/*
 * The handle is ready for commands: the transmission phase goes on the
 * wire path when the socket is plain and the replies are simple ones.
 */
static void conn_up(struct nbd_conn *c)
{
	c->link = LINK_UP;
	if (c->p->libnbd_io || nbd_get_tls_negotiated(c->h) == 1 ||
	    nbd_get_structured_replies_negotiated(c->h) == 1)
		return;
#ifdef LIBNBD_HAVE_NBD_GET_EXTENDED_HEADERS_NEGOTIATED
	if (nbd_get_extended_headers_negotiated(c->h) == 1)
		return;
#endif
	c->fd = nbd_aio_get_fd(c->h);
	if (c->fd < 0)
		return;
	polls_cancel(c);
	c->wire = true;
}

/* After anything libnbd did: follow its state. */
static void conn_check(struct nbd_conn *c)
{
	if (nbd_aio_is_dead(c->h) == 1 || nbd_aio_is_closed(c->h) == 1) {
		conn_lost(c, NULL);
		return;
	}
	if (c->link == LINK_CONNECTING && nbd_aio_is_ready(c->h) == 1) {
		ublk_err("%s: thread %u: reconnected", c->p->uri,
			 ublk_thread_index(c->t));
		conn_up(c);
		c->failing = false;
		ublk_thread_set_status(c->t, "");
		send_held(c);
		/* A send may have found the new connection dead already. */
		if (!c->wire && nbd_aio_is_dead(c->h) == 1) {
			conn_lost(c, NULL);
			return;
		}
	}
	conn_arm(c);
}

/* Start a non-blocking connect (TCP host names resolve synchronously). */
static void conn_try(struct nbd_conn *c)
{
	char name[32];

	snprintf(name, sizeof(name), "ublkctl-t%u", ublk_thread_index(c->t));
	c->h = nbd_handle_new(c->p->uri, name, !c->p->libnbd_io);
	if (!c->h) {
		c->next_try_ms = ublk_now_ms() + NBD_BACKOFF_MAX_MS;
		return;
	}
	c->link = LINK_CONNECTING;
	c->attempt_ms = ublk_now_ms();
	if (nbd_aio_connect_uri(c->h, c->p->uri)) {
		conn_lost(c, NULL);
		return;
	}
	conn_check(c);
}

/* Every NBD_TICK_MS while the connection is not up. */
static void conn_tick(struct nbd_conn *c)
{
	int64_t now = ublk_now_ms();

	c->tick_armed = false;
	if (c->link == LINK_UP)
		return;
	if (!c->failing && now >= c->deadline_ms) {
		ublk_err(
			"%s: thread %u: not reconnected within %u s: I/O fails",
			c->p->uri, ublk_thread_index(c->t), c->p->reconnect_s);
		fail_held(c);
	}
	if (c->link == LINK_CONNECTING &&
	    now - c->attempt_ms >= NBD_CONNECT_MS) {
		conn_lost(c, "connect timed out");
	} else if (c->link == LINK_WAIT && now >= c->next_try_ms) {
		conn_try(c);
	}
	if (c->link != LINK_UP)
		tick_arm(c);
}

static void nbd_thread_cqe(struct ublk_thread *t, unsigned int op, uint64_t arg,
			   const struct io_uring_cqe *cqe)
{
	struct nbd_conn *c = ublk_thread_tgt_priv(t);
	unsigned int dir;

	if (op == NBD_OP_TICK) {
		conn_tick(c);
		return;
	}
	if (op == NBD_OP_SEND || op == NBD_OP_RECV) {
		wire_cqe(c, op, arg, cqe->res);
		return;
	}
	/* A poll of a handle now on the wire path was cancelled there. */
	if ((op != NBD_OP_POLL_IN && op != NBD_OP_POLL_OUT) || arg != c->gen ||
	    !c->h || c->wire)
		return;
	if (op == NBD_OP_POLL_IN)
		c->poll_in = false;
	else
		c->poll_out = false;
	if (cqe->res < 0) {
		conn_arm(c);
		return;
	}
	dir = nbd_aio_get_direction(c->h);
	if (op == NBD_OP_POLL_IN && (dir & LIBNBD_AIO_DIRECTION_READ))
		nbd_aio_notify_read(c->h);
	else if (op == NBD_OP_POLL_OUT && (dir & LIBNBD_AIO_DIRECTION_WRITE))
		nbd_aio_notify_write(c->h);
	conn_check(c);
}

/*
 * The thread's own connection, made here with a blocking connect: the
 * device is not live yet, and a server that cannot be reached now fails
 * add (or recover) with a message instead of a stalled device.
 */
static int nbd_thread_init(struct ublk_thread *t, struct ublk_tgt *tgt,
			   unsigned int nr_tags, void **priv)
{
	const struct nbd_priv *p = tgt->priv;
	struct nbd_conn *c;
	char name[32];
	unsigned int i;

	c = calloc(1, sizeof(*c) + nr_tags * sizeof(c->reqs[0]));
	if (c)
		c->rbuf = malloc(WIRE_RBUF);
	if (!c || !c->rbuf) {
		free(c);
		ublk_errno(ENOMEM, "%s", p->uri);
		return -ENOMEM;
	}
	c->t = t;
	c->p = p;
	c->nr_reqs = nr_tags;
	c->held_tail = &c->held;
	c->sq_tail = &c->sq;
	for (i = 0; i < nr_tags; i++)
		c->reqs[i].c = c;
	snprintf(name, sizeof(name), "ublkctl-t%u", ublk_thread_index(t));
	c->h = nbd_handle_new(p->uri, name, !p->libnbd_io);
	if (!c->h)
		goto fail;
	if (nbd_connect_uri(c->h, p->uri)) {
		ublk_err("%s: thread %u: %s", p->uri, ublk_thread_index(t),
			 nbd_reason());
		nbd_close(c->h);
		goto fail;
	}
	conn_up(c);
	conn_arm(c);
	*priv = c;
	return 0;

fail:
	free(c->rbuf);
	free(c);
	return -EIO;
}

static void nbd_thread_exit(struct ublk_thread *t, struct ublk_tgt *tgt,
			    void *priv)
{
	struct nbd_conn *c = priv;

	/* On the wire path too: no request is out, libnbd is at a boundary. */
	if (c->h && c->link == LINK_UP)
		conn_disconnect(c->h);
	nbd_close(c->h);
	free(c->rbuf);
	free(c);
}

const struct target_ops target_nbd = {
	.name = "nbd",
	.summary = "an export of an NBD server (libnbd): add -t nbd URI",
	.opts = nbd_opts,
	.operand = "uri",
	.notes =
		"  URI: nbd[s]://HOST[:PORT]/NAME or nbd[s]+unix:///NAME?socket=PATH.\n"
		"  Copy mode and --batch only. Each thread has its own connection:\n"
		"  -q or --nthreads > 1 needs a server that offers multi-conn.\n"
		"  Requests go through io_uring send/recv, or libnbd with TLS.\n",
	.parse_opt = nbd_parse_opt,
	.init = nbd_init,
	.deinit = ublk_tgt_free_priv,
	.save = nbd_save,
	.queue_io = nbd_queue_io,
	.thread_init = nbd_thread_init,
	.thread_exit = nbd_thread_exit,
	.thread_cqe = nbd_thread_cqe,
	.thread_flush = nbd_thread_flush,
};
