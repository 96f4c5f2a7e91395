// SPDX-License-Identifier: GPL-2.0
/*
 * nbd target: an export of an NBD server, through libnbd. libnbd parses
 * the URI, negotiates (TLS included) and tracks replies; its asynchronous
 * API is driven from the server thread's ring: the socket is polled with
 * IORING_OP_POLL_ADD in the direction libnbd asks for, and its completion
 * callbacks complete the requests. One connection per server thread.
 *
 * A lost connection does not fail I/O: requests without a reply are held
 * and the thread reconnects (a timer ticks while it is down, attempts back
 * off), then sends them again. Past --reconnect-timeout, held and new
 * requests fail with EIO until a connection is back.
 */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "ublkctl/cmdutil.h"
#include "ublkctl/server.h"

enum {
	NBD_OPT_URI = 'u',
	NBD_OPT_RECONNECT_TIMEOUT = 1200,
};

/* Thread SQEs (target_ops.thread_cqe): arg is the connection generation. */
enum { NBD_OP_POLL_IN = 1, NBD_OP_POLL_OUT, NBD_OP_TICK, NBD_OP_CANCEL };

#define NBD_DEF_RECONNECT_S 30
#define NBD_MAX_RECONNECT_S 86400
#define NBD_TICK_MS 100 /* how often a thread without connection looks */
#define NBD_BACKOFF_MIN_MS 50
#define NBD_BACKOFF_MAX_MS 2000
#define NBD_CONNECT_MS 10000 /* an attempt that takes longer is dropped */
#define NBD_DISC_POLLS 20 /* at thread exit: 2 s for the server to close */

struct nbd_priv {
	const char *uri;
	uint32_t reconnect_s;
	/* what the export offers, from init's connection */
	bool can_fua, can_flush, can_trim, can_zero;
};

/* Where a request is. */
enum nbd_req_state {
	REQ_IDLE, /* not with us */
	REQ_SENT, /* given to libnbd, no completion yet */
	REQ_HELD, /* waiting for a connection */
};

struct nbd_req {
	struct nbd_conn *c;
	struct ublk_queue *q;
	struct nbd_req *next; /* on the held list */
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
	unsigned int nr_reqs;
	struct nbd_req reqs[];
};

static const struct ublk_opt nbd_opts[] = {
	{ "uri", NBD_OPT_URI, required_argument, "URI",
	  "the export (also as the operand: add -t nbd URI)" },
	{ "reconnect-timeout", NBD_OPT_RECONNECT_TIMEOUT, required_argument,
	  "SEC",
	  "stall I/O this long while reconnecting, then EIO (default 30)" },
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

/*
 * A new handle for uri, set up as every connection of ours is: local
 * files allowed in the URI (tls-psk-file=, tls-certificates=: the URI is
 * root's own command line), no zeroing of read buffers. NULL after
 * printing why.
 */
static struct nbd_handle *nbd_handle_new(const char *uri, const char *name)
{
	struct nbd_handle *h = nbd_create();

	if (!h) {
		ublk_err("%s: %s", uri, nbd_get_error());
		return NULL;
	}
	if (nbd_set_uri_allow_local_file(h, true) ||
	    nbd_set_pread_initialize(h, false) ||
	    nbd_set_handle_name(h, name) ||
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
	if (cfg->zero_copy || cfg->auto_zc || cfg->user_copy)
		return ublk_usage_err(
			"--%s: not with -t nbd (copy mode and --batch only)",
			cfg->zero_copy ? "zero-copy" :
			cfg->auto_zc   ? "auto-zc" :
					 "user-copy");
	/* A write to a socket the server closed must fail, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	h = nbd_handle_new(p->uri, "ublkctl-probe");
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
	return ret;
}

/* ------------------------------------------------------------ I/O path */

static void conn_arm(struct nbd_conn *c);
static void conn_check(struct nbd_conn *c);

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

/* Hand one request to libnbd on a ready connection. */
static void req_send(struct nbd_conn *c, struct nbd_req *r)
{
	const struct ublksrv_io_desc *iod = ublk_iod(r->q, r->tag);
	nbd_completion_callback cb = { .callback = req_done, .user_data = r };
	uint64_t off = iod->start_sector << 9;
	size_t len = (size_t)iod->nr_sectors << 9;
	void *buf = r->q->ios[r->tag].buf;
	uint32_t flags = 0;
	int64_t cookie = -1;
	int err;

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
	conn_check(c);
	return 0;
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
	unsigned int dir = nbd_aio_get_direction(c->h);
	int fd = nbd_aio_get_fd(c->h);

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

/* Drop the handle: its polls are cancelled, its generation ends. */
static void conn_drop(struct nbd_conn *c)
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
	nbd_close(c->h);
	c->h = NULL;
	c->gen++;
}

/* The handle died: hold its requests' retries, wait, try again. */
static void conn_lost(struct nbd_conn *c)
{
	int64_t now = ublk_now_ms();

	if (c->link == LINK_UP) {
		ublk_err("%s: thread %u: connection lost (%s): reconnecting",
			 c->p->uri, ublk_thread_index(c->t), nbd_reason());
		c->deadline_ms = now + (int64_t)c->p->reconnect_s * 1000;
		c->backoff_ms = NBD_BACKOFF_MIN_MS;
	} else {
		ublk_dbg("%s: thread %u: reconnect failed: %s", c->p->uri,
			 ublk_thread_index(c->t), nbd_reason());
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

/* After anything libnbd did: follow its state. */
static void conn_check(struct nbd_conn *c)
{
	if (nbd_aio_is_dead(c->h) == 1 || nbd_aio_is_closed(c->h) == 1) {
		conn_lost(c);
		return;
	}
	if (c->link == LINK_CONNECTING && nbd_aio_is_ready(c->h) == 1) {
		ublk_err("%s: thread %u: reconnected", c->p->uri,
			 ublk_thread_index(c->t));
		c->link = LINK_UP;
		c->failing = false;
		ublk_thread_set_status(c->t, "");
		send_held(c);
		/* A send may have found the new connection dead already. */
		if (nbd_aio_is_dead(c->h) == 1) {
			conn_lost(c);
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
	c->h = nbd_handle_new(c->p->uri, name);
	if (!c->h) {
		c->next_try_ms = ublk_now_ms() + NBD_BACKOFF_MAX_MS;
		return;
	}
	c->link = LINK_CONNECTING;
	c->attempt_ms = ublk_now_ms();
	if (nbd_aio_connect_uri(c->h, c->p->uri)) {
		conn_lost(c);
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
		ublk_dbg("%s: connect attempt timed out", c->p->uri);
		conn_lost(c);
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
	if ((op != NBD_OP_POLL_IN && op != NBD_OP_POLL_OUT) || arg != c->gen ||
	    !c->h)
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
	if (!c) {
		ublk_errno(ENOMEM, "%s", p->uri);
		return -ENOMEM;
	}
	c->t = t;
	c->p = p;
	c->nr_reqs = nr_tags;
	c->held_tail = &c->held;
	for (i = 0; i < nr_tags; i++)
		c->reqs[i].c = c;
	snprintf(name, sizeof(name), "ublkctl-t%u", ublk_thread_index(t));
	c->h = nbd_handle_new(p->uri, name);
	if (!c->h) {
		free(c);
		return -EIO;
	}
	if (nbd_connect_uri(c->h, p->uri)) {
		ublk_err("%s: thread %u: %s", p->uri, ublk_thread_index(t),
			 nbd_reason());
		nbd_close(c->h);
		free(c);
		return -EIO;
	}
	c->link = LINK_UP;
	conn_arm(c);
	*priv = c;
	return 0;
}

static void nbd_thread_exit(struct ublk_thread *t, struct ublk_tgt *tgt,
			    void *priv)
{
	struct nbd_conn *c = priv;

	if (c->h && c->link == LINK_UP)
		conn_disconnect(c->h);
	nbd_close(c->h);
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
		"  -q or --nthreads > 1 needs a server that offers multi-conn.\n",
	.parse_opt = nbd_parse_opt,
	.init = nbd_init,
	.deinit = ublk_tgt_free_priv,
	.save = nbd_save,
	.queue_io = nbd_queue_io,
	.thread_init = nbd_thread_init,
	.thread_exit = nbd_thread_exit,
	.thread_cqe = nbd_thread_cqe,
};
