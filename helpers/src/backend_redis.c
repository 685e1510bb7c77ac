/* backend_redis.c -- the redis:// (and unix://) backend: one Redis with write-behind.
 *
 * Two pipelined, non-blocking connections (resp_conn.h) driven by the monitor's epoll loop,
 * using hiredis only to format commands and parse replies.
 *   - the write-behind connection carries SET and UNLINK in order. An evicted page's
 *     content stays in a write-behind buffer (wbuf.h) until its SET is acknowledged
 *     (on_stored); faults on it are served from that buffer (local()), and the SET's value
 *     is written to the socket from it (writev, resp_conn_append_ref: no copy).
 *   - the fetch connection carries GET only, so fault service never queues behind
 *     bulk writes. A GET is only issued for a page whose SET was acknowledged, and an
 *     UNLINK racing a GET only matters if the page was removed, in which case the
 *     caller ignores the reply; so the two streams need no cross-ordering.
 * Replies are matched to requests by a FIFO of pending operations per connection and handed
 * to the caller's callbacks (backend.h) with the (owner, page, generation) it gave.
 * Outages, restarts, -LOADING, -OOM and stalls: see "Redis connections" below (deadlines,
 * reconnect and in-order resend, back-pressure). Keys: {prefix}{vm id}:{nonce}:{page}. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "backend.h"
#include "core.h"
#include "resp_conn.h"
#include "spin.h"
#include "wbuf.h"

#define PS FM_PAGE_SIZE
#define DEL_BATCH 256

static const struct backend_client *cl; /* the caller's callbacks */

/* ---- Redis connections ----
 *
 * Every request stays in its connection's FIFO (with what it needs to be sent again: its
 * key or keys, and for a SET the write-behind buffer) until its reply has been handled, so
 * the whole FIFO can be re-sent in order at any time; SET, UNLINK and GET are idempotent,
 * so re-sending a suffix after a prefix already ran leaves Redis as if each ran once.
 *   - transport error (EOF, reset, write error): reconnect (every RECONNECT_MS) and resend
 *     the FIFO. Only done when the server closed the connection, so no old command can run
 *     after the resent ones. A stalled server (SIGSTOP, CLIENT PAUSE, half-open peer) is
 *     never abandoned for a new connection: its buffered commands could run later.
 *   - -LOADING / -BUSY / -TRYAGAIN / -MASTERDOWN: wait HOLD_MS, then resend the FIFO from
 *     the refused request on the same connection (replies still due to the old pipeline
 *     are skipped; on one connection they all run before the resent commands).
 *   - -OOM / -MISCONF on a SET: back-pressure: evictions stop (redis_backpressure()), the
 *     SETs are retried every OOM_RETRY_MS; faults keep being served (QUEUED pages from
 *     their write-behind buffers). Nothing dies.
 *   - deadline: a connection with requests outstanding and no reply for
 *     FLUIDMEM_REDIS_TIMEOUT_MS (default 10000), or unable to reconnect for as long,
 *     fails closed: the monitor logs why and exits (attached processes stop, exit 70).
 *   - any other error reply: fatal, as before. */

#define RECONNECT_MS 100
#define HOLD_MS 100
#define OOM_RETRY_MS 250
#define HANDSHAKE_TIMEOUT_MS 1000

enum { OP_SET = 1, OP_GET, OP_DEL, OP_PGET /* prefetch GET: .buf = buffer, .t0 = generation */ };
struct rop {
	uint8_t type;
	uint32_t pg, buf, nkeys;
	uint64_t uid, t0;
	char *key;   /* SET, GET */
	char **keys; /* DEL (UNLINK of nkeys keys) */
};

enum { RC_UP, RC_HOLD, RC_DOWN };

struct rconn {
	const char *name;
	struct resp_conn conn;       /* socket, reader, output buffer (resp_conn.h) */
	struct rop *ops;
	size_t ohead, ocount, opcap; /* ring */
	int st;
	uint64_t until;              /* RC_HOLD: resend time; RC_DOWN: next reconnect attempt */
	uint64_t since;              /* last reply (or start of waiting); RC_DOWN: when it went down */
	struct epref ep;
};

static void conn_reply(struct resp_conn *rc, redisReply *r);
static void conn_lost(struct resp_conn *rc, const char *why);
static void conn_broken(struct resp_conn *rc, const char *why);
static void conn_writable(struct resp_conn *rc);
static const struct resp_conn_hooks hooks = {conn_reply, conn_lost, conn_broken, conn_writable};
static struct rconn rc_wb = {.name = "write-behind", .conn = {.name = "write-behind", .hooks = &hooks, .data = &rc_wb, .fd = -1, .heard = &rc_wb.since}},
		    rc_fetch = {.name = "fetch", .conn = {.name = "fetch", .hooks = &hooks, .data = &rc_fetch, .fd = -1, .heard = &rc_fetch.since}};
static char **delkeys;
static size_t ndel;
static const char *spec_saved;
#define deadline_ns (redis_cfg.deadline_ns)
static bool oom;             /* back-pressure: Redis refused a SET for lack of memory */

static void fatal(const char *what, const char *detail)
{
	logmsg("redis %s: %s; exiting (attached processes stop with the monitor)", what, detail);
	exit(1);
}

/* Write-behind ops ever pushed / answered: the connection is in order, so every op pushed
 * up to a mark is acknowledged once wb_acked >= mark (the VM layer frees staging areas and answers
 * DISCARD only then: a page's only copy never lives in monitor memory alone). */
static uint64_t wb_pushed, wb_acked;

static struct rop *op_at(struct rconn *c, size_t i)
{
	return &c->ops[(c->ohead + i) % c->opcap];
}

static void push_op(struct rconn *c, struct rop op)
{
	if (c->ocount == c->opcap) {
		c->ops = resp_ring_grow(c->ops, sizeof *c->ops, c->ohead, c->ocount, &c->opcap, 1024);
		c->ohead = 0;
	}
	if (!c->ocount)
		c->since = now_ns(); /* idle until now: the deadline counts from here */
	*op_at(c, c->ocount++) = op;
	if (c == &rc_wb)
		wb_pushed++;
}

static void free_op(struct rop *op)
{
	free(op->key);
	for (uint32_t i = 0; i < op->nkeys; i++)
		free(op->keys[i]);
	free(op->keys);
}

static void pop_op(struct rconn *c)
{
	if (c == &rc_wb)
		wb_acked++;
	free_op(op_at(c, 0));
	c->ohead = (c->ohead + 1) % c->opcap;
	c->ocount--;
	c->conn.nsent--;
}

/* Formats one request into the output buffer. */
static void format_op(struct rconn *c, const struct rop *op)
{
	const char *argv[DEL_BATCH + 1];
	size_t lens[DEL_BATCH + 1];
	int argc;
	if (op->type == OP_SET && !cl->owner_live(cl->data, op->uid)) {
		/* (re)sent after its VM left: its key is being deleted anyway, and UNLINK is
		 * allowed under -OOM, so a departed VM's pages free Redis memory while others wait */
		argv[0] = "UNLINK", lens[0] = 6;
		argv[1] = op->key, lens[1] = strlen(op->key);
		argc = 2;
	} else if (op->type == OP_SET || op->type == OP_GET || op->type == OP_PGET) {
		/* SET and GET are formatted in place (issue 11 item 3), no allocation: the header
		 * and key are copied into the output buffer, and a SET's value is not copied at
		 * all: the output queue borrows the page's write-behind buffer (writev). That
		 * buffer is released only when this SET's reply is handled (on_reply), i.e. after
		 * every copy of the command queued so far was written: copies queued before a
		 * hold() precede the resent one on the same stream (their replies are skipped),
		 * and a reconnect drops the unwritten ones (resp_conn_close). */
		bool set = op->type == OP_SET;
		size_t klen = strlen(op->key);
		char hdr[FM_KEY_MAX + 64];
		int hl = snprintf(hdr, sizeof hdr, set ? "*3\r\n$3\r\nSET\r\n$%zu\r\n" : "*2\r\n$3\r\nGET\r\n$%zu\r\n", klen);
		if (hl < 0 || (size_t)hl + klen + 16 > sizeof hdr)
			fatal("format", "key too long");
		memcpy(hdr + hl, op->key, klen);
		hl += (int)klen;
		if (set) {
			hl += snprintf(hdr + hl, sizeof hdr - (size_t)hl, "\r\n$%u\r\n", PS);
			resp_conn_append(&c->conn, hdr, (size_t)hl);
			resp_conn_append_ref(&c->conn, wbuf_page(op->buf), PS);
			resp_conn_append(&c->conn, "\r\n", 2);
		} else {
			memcpy(hdr + hl, "\r\n", 2);
			resp_conn_append(&c->conn, hdr, (size_t)hl + 2);
		}
		return;
	} else {
		argv[0] = "UNLINK", lens[0] = 6;
		for (uint32_t i = 0; i < op->nkeys; i++)
			argv[i + 1] = op->keys[i], lens[i + 1] = strlen(op->keys[i]);
		argc = (int)op->nkeys + 1;
	}
	if (resp_conn_append_argv(&c->conn, argc, argv, lens) < 0)
		fatal("format", "out of memory");
}

/* Formats every queued op not yet in the output buffer (only while the connection is up). */
static void format_pending(struct rconn *c)
{
	if (c->st != RC_UP)
		return;
	for (; c->conn.nsent < c->ocount; c->conn.nsent++)
		format_op(c, op_at(c, c->conn.nsent));
}

static void disconnect(struct rconn *c, const char *why)
{
	if (c->st == RC_DOWN)
		return;
	logmsg("redis %s: %s; reconnecting and resending %zu requests in order", c->name, why, c->ocount);
	resp_conn_close(&c->conn);
	c->st = RC_DOWN;
	c->since = now_ns();
	c->until = c->since; /* first attempt at once */
}

static void kick(struct rconn *c)
{
	if (c->st == RC_DOWN)
		return;
	format_pending(c); /* RC_HOLD: only what is already formatted goes out (replies skipped) */
	resp_conn_flush(&c->conn);
}

/* "{prefix}{vmid}:{nonce}:{page}" into out; fatal if it does not fit (never truncated). */
static void key_of(char *out, size_t n, const char *vmid, uint32_t pg)
{
	int k = snprintf(out, n, "%s%s:%s:%u", M.key_prefix, vmid, redis_cfg.nonce, pg);
	if (k < 0 || (size_t)k >= n)
		fatal("key", "a key does not fit its buffer (prefix or vm id too long)");
}

static char *key_dup(const char *vmid, uint32_t pg)
{
	char key[FM_KEY_MAX];
	key_of(key, sizeof key, vmid, pg);
	char *k = strdup(key);
	if (!k)
		fatal("key", "out of memory");
	return k;
}

/* the UNLINKs batched so far, as one request on the write-behind connection */
static void flush_dels(void)
{
	if (!ndel)
		return;
	char **keys = xrealloc(NULL, ndel * sizeof *keys);
	memcpy(keys, delkeys, ndel * sizeof *keys);
	push_op(&rc_wb, (struct rop){.type = OP_DEL, .keys = keys, .nkeys = (uint32_t)ndel});
	ndel = 0;
	kick(&rc_wb);
}

static void redis_del(const char *vmid, uint32_t pg)
{
	if (!delkeys)
		delkeys = xrealloc(NULL, DEL_BATCH * sizeof *delkeys);
	delkeys[ndel] = key_dup(vmid, pg);
	if (++ndel == DEL_BATCH)
		flush_dels();
}

static uint32_t redis_store(uint64_t owner, const char *vmid, uint32_t pg, const void *page)
{
	uint32_t buf = wbuf_take(page);
	flush_dels(); /* an older UNLINK of this key must not overtake the SET */
	push_op(&rc_wb, (struct rop){.type = OP_SET, .pg = pg, .buf = buf, .uid = owner, .key = key_dup(vmid, pg)});
	/* written by redis_kick() at the end of the loop iteration: one write per batch */
	return buf;
}

static void redis_prefetch(uint64_t owner, const char *vmid, uint32_t pg, uint32_t idx, uint32_t gen)
{
	push_op(&rc_fetch, (struct rop){.type = OP_PGET, .pg = pg, .buf = idx, .uid = owner, .t0 = gen,
					.key = key_dup(vmid, pg)});
}

static void redis_fetch_kick(void)
{
	kick(&rc_fetch);
}

static void redis_fetch(uint64_t owner, const char *vmid, uint32_t pg, uint32_t gen, uint64_t t0)
{
	/* .buf carries the caller's fetch generation: see on_reply */
	push_op(&rc_fetch, (struct rop){.type = OP_GET, .pg = pg, .buf = gen, .uid = owner, .t0 = t0,
					.key = key_dup(vmid, pg)});
	kick(&rc_fetch);
}

static uint64_t redis_mark(void)
{
	flush_dels();
	return wb_pushed;
}

static bool redis_durable(uint64_t mark)
{
	return wb_acked >= mark;
}

static bool redis_backpressure(void)
{
	return oom;
}

/* Stop reading this pipeline's replies and resend the FIFO from its head after delay_ms. */
static void hold(struct rconn *c, uint64_t delay_ms)
{
	c->conn.skip = c->conn.nsent - 1; /* the refused request's reply is the one being handled */
	c->conn.nsent = 0;
	c->st = RC_HOLD;
	c->until = now_ns() + delay_ms * 1000000ull;
}

static void on_reply(struct rconn *c, redisReply *r)
{
	struct rop *op = op_at(c, 0);
	if (r->type == REDIS_REPLY_ERROR) {
		if (resp_err_is(r, "LOADING") || resp_err_is(r, "BUSY") || resp_err_is(r, "TRYAGAIN") || resp_err_is(r, "MASTERDOWN")) {
			logmsg("redis %s: %s; waiting, then resending %zu requests", c->name, r->str, c->ocount);
			hold(c, HOLD_MS);
			return;
		}
		if (op->type == OP_SET && (resp_err_is(r, "OOM") || resp_err_is(r, "MISCONF"))) {
			if (!oom)
				logmsg("redis %s: %s; evictions stop until Redis accepts writes again "
				       "(%zu writes waiting, retried every %d ms)", c->name, r->str, c->ocount, OOM_RETRY_MS);
			oom = true;
			hold(c, OOM_RETRY_MS);
			return;
		}
		fatal(c->name, r->str);
	}
	struct rop o = *op;
	switch (o.type) {
	case OP_SET:
		if (oom) {
			oom = false;
			logmsg("redis %s: writes accepted again; evictions resume", c->name);
		}
		wbuf_release(o.buf);
		cl->on_stored(cl->data, o.uid, o.pg, o.buf);
		break;
	case OP_GET: {
		bool ok = r->type == REDIS_REPLY_STRING && r->len == PS;
		enum fetch_result res = ok ? FETCH_OK : r->type == REDIS_REPLY_NIL ? FETCH_MISSING : FETCH_BAD;
		cl->on_fetched(cl->data, o.uid, o.pg, o.buf, o.t0, res, ok ? r->str : NULL, o.key);
		if (ok)
			spin_note(now_ns()); /* the next fault usually follows a reply closely */
		break;
	}
	case OP_PGET:
		cl->on_prefetched(cl->data, o.uid, o.pg, o.buf, (uint32_t)o.t0,
				  r->type == REDIS_REPLY_STRING && r->len == PS ? r->str : NULL);
		break;
	default:
		break;
	}
	pop_op(c);
}

/* resp_conn hooks (resp_conn.h): the connection's client data is its struct rconn */
static void conn_reply(struct resp_conn *rc, redisReply *r) { on_reply(rc->data, r); }
static void conn_lost(struct resp_conn *rc, const char *why) { disconnect(rc->data, why); }
static void conn_broken(struct resp_conn *rc, const char *why) { fatal(rc->name, why); }
static void conn_writable(struct resp_conn *rc) { kick(rc->data); }

static void redis_event(void *ptr, uint32_t events)
{
	resp_conn_event(&((struct rconn *)ptr)->conn, events);
}

static void redis_kick(void)
{
	flush_dels();
	kick(&rc_wb);
	kick(&rc_fetch);
}

static size_t redis_pending(void)
{
	return rc_wb.ocount + ndel;
}

/* blocking request used only while connecting (AUTH, PING); the socket has timeouts */
static int sync_cmd(int fd, redisReader *rd, int argc, const char **argv, char *err, size_t errlen)
{
	redisReply *r = resp_sync_cmd(fd, rd, argc, argv, err, errlen);
	if (!r)
		return -1;
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", argv[0], r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

static int rconn_open(struct rconn *c, const char *spec, char *err, size_t errlen)
{
	struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_MS / 1000, .tv_usec = (HANDSHAKE_TIMEOUT_MS % 1000) * 1000};
	int fd;
	redisReader *rd = NULL;
	if (!strncmp(spec, "unix://", 7)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = spec + 7;
		if (strlen(path) >= sizeof sa.sun_path) {
			snprintf(err, errlen, "unix socket path too long");
			return -1;
		}
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
			goto fail;
		}
	} else {
		char host[256];
		const char *hp = spec + 8, *colon = strrchr(hp, ':');
		if (!colon || (size_t)(colon - hp) >= sizeof host) {
			snprintf(err, errlen, "expected redis://HOST:PORT, got %s", spec);
			return -1;
		}
		memcpy(host, hp, (size_t)(colon - hp));
		host[colon - hp] = 0;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
		int g = getaddrinfo(host, colon + 1, &hints, &ai);
		if (g) {
			snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(g));
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
		if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			snprintf(err, errlen, "cannot connect to %s: %s", spec, strerror(errno));
			freeaddrinfo(ai);
			goto fail;
		}
		freeaddrinfo(ai);
		resp_sock_tune(fd, (unsigned int)(deadline_ns / 1000000ull));
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	rd = redisReaderCreate();
	const char *pw = getenv("FLUIDMEM_REDIS_PASSWORD");
	if (pw && *pw) {
		const char *auth[2] = {"AUTH", pw};
		if (sync_cmd(fd, rd, 2, auth, err, errlen) < 0)
			goto fail;
	}
	const char *ping[1] = {"PING"};
	if (sync_cmd(fd, rd, 1, ping, err, errlen) < 0)
		goto fail;
	c->ep.kind = EP_REDIS;
	c->ep.ptr = c;
	if (resp_conn_attach(&c->conn, fd, rd, M.epfd, &c->ep) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	c->st = RC_UP;
	c->since = now_ns();
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (rd)
		redisReaderFree(rd);
	return -1;
}

/* Deadlines, holds and reconnects of one connection; returns ms until it needs a look. */
static int rconn_tick(struct rconn *c)
{
	uint64_t now = now_ns();
	char why[256];
	if (c->st == RC_DOWN) {
		if (now - c->since > deadline_ns) {
			snprintf(why, sizeof why, "cannot reconnect for %llu ms (deadline FLUIDMEM_REDIS_TIMEOUT_MS) "
				 "with %zu requests outstanding; failing closed",
				 (unsigned long long)(deadline_ns / 1000000ull), c->ocount);
			fatal(c->name, why);
		}
		if (now < c->until)
			return (int)((c->until - now) / 1000000ull) + 1;
		char err[256];
		if (rconn_open(c, spec_saved, err, sizeof err) < 0) {
			c->until = now + RECONNECT_MS * 1000000ull;
			return RECONNECT_MS;
		}
		logmsg("redis %s: reconnected; resending %zu requests", c->name, c->ocount);
		kick(c);
		return c->ocount ? RECONNECT_MS : -1;
	}
	if (c->st == RC_HOLD) {
		if (now < c->until)
			return (int)((c->until - now) / 1000000ull) + 1;
		c->st = RC_UP;
		c->since = now;
		kick(c);
	}
	if (!c->ocount && !c->conn.skip)
		return -1;
	if (now - c->since > deadline_ns) {
		snprintf(why, sizeof why, "no reply for %llu ms with %zu requests outstanding (deadline "
			 "FLUIDMEM_REDIS_TIMEOUT_MS): Redis is stalled; failing closed",
			 (unsigned long long)((now - c->since) / 1000000ull), c->ocount);
		fatal(c->name, why);
	}
	return 100;
}

static int redis_tick(void)
{
	int a = rconn_tick(&rc_wb), b = rconn_tick(&rc_fetch);
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static bool redis_matches(const char *spec)
{
	return !strncmp(spec, "redis://", 8) || !strncmp(spec, "unix://", 7);
}

/* after backend.c read the shared settings (redis_cfg) and made the write-behind pool */
static int redis_init(const char *spec, const struct backend_client *client, char *err, size_t errlen)
{
	cl = client;
	spec_saved = spec;
	if (rconn_open(&rc_wb, spec, err, errlen) < 0 || rconn_open(&rc_fetch, spec, err, errlen) < 0)
		return -1;
	logmsg("redis keys: %s{vm id}:%s:{page} (deadline %llu ms)", M.key_prefix, redis_cfg.nonce,
	       (unsigned long long)(deadline_ns / 1000000ull));
	return 0;
}

const struct backend_ops backend_redis = {
	.name = "redis", .stats_name = "redis", .where = "Redis", .caps = BC_WRITE_BEHIND | BC_REMOTE,
	.matches = redis_matches, .init = redis_init,
	.room = wbuf_room, .reserve = wbuf_reserve, .unreserve = wbuf_unreserve,
	.store = redis_store, .local = wbuf_page, .del = redis_del,
	.mark = redis_mark, .durable = redis_durable, .backpressure = redis_backpressure,
	.fetch = redis_fetch, .prefetch = redis_prefetch, .fetch_kick = redis_fetch_kick,
	.kick = redis_kick, .event = redis_event, .tick = redis_tick, .pending = redis_pending,
	.nonce = redis_nonce,
};
