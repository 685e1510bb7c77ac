/* backend.c -- where evicted pages live: a DRAM store, or Redis with write-behind.
 *
 * DRAM: pages are copied into 4 MiB chunks; a slot index (kept in struct page) names
 * a page, freed slots go on a stack.
 *
 * Redis: two pipelined, non-blocking connections driven by the monitor's epoll loop,
 * using hiredis only to format commands and parse replies.
 *   - the write-behind connection carries SET and UNLINK in order. An evicted page's
 *     content stays in a write-behind buffer (a fixed pool) until its SET is
 *     acknowledged; faults on it are served from that buffer (state QUEUED).
 *   - the fetch connection carries GET only, so fault service never queues behind
 *     bulk writes. A GET is only issued for a page whose SET was acknowledged, and an
 *     UNLINK racing a GET only matters if the page was removed, in which case the
 *     reply is ignored; so the two streams need no cross-ordering.
 * Replies are matched to requests by a FIFO of pending operations per connection.
 * Any Redis error is fatal: the monitor exits and attached processes stop with it. */
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

#include "monitor.h"

#define PS FM_PAGE_SIZE
#define WB_PAGES 2048u
#define DRAM_CHUNK 1024u
#define DEL_BATCH 256

static enum backend_kind kind;

enum backend_kind backend_kind(void) { return kind; }

/* ---- DRAM store ---- */

static unsigned char **chunks;
static uint32_t nchunks, *dfree, ndfree, capdfree;

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		logmsg("out of memory");
		exit(1);
	}
	return q;
}

uint32_t dram_store(const void *page)
{
	if (!ndfree) {
		chunks = xrealloc(chunks, (nchunks + 1) * sizeof *chunks);
		chunks[nchunks] = aligned_alloc(PS, (size_t)DRAM_CHUNK * PS);
		if (!chunks[nchunks]) {
			logmsg("out of memory (dram store)");
			exit(1);
		}
		if (capdfree < (nchunks + 1) * DRAM_CHUNK) {
			capdfree = (nchunks + 1) * DRAM_CHUNK;
			dfree = xrealloc(dfree, capdfree * sizeof *dfree);
		}
		for (uint32_t i = DRAM_CHUNK; i > 0; i--)
			dfree[ndfree++] = nchunks * DRAM_CHUNK + i - 1;
		nchunks++;
	}
	uint32_t s = dfree[--ndfree];
	memcpy((void *)dram_page(s), page, PS);
	return s;
}

const void *dram_page(uint32_t s)
{
	return chunks[s / DRAM_CHUNK] + (size_t)(s % DRAM_CHUNK) * PS;
}

void dram_free(uint32_t s)
{
	dfree[ndfree++] = s;
}

size_t dram_meta_bytes(void)
{
	return nchunks * sizeof *chunks + capdfree * sizeof *dfree;
}

/* ---- write-behind buffers ---- */

static unsigned char *wb;
static uint32_t wbfree[WB_PAGES], nwbfree, wbreserved;

uint32_t wb_available(void) { return nwbfree - wbreserved; }
void wb_reserve(uint32_t n) { wbreserved += n; }
void wb_unreserve(uint32_t n) { wbreserved -= n; }
const void *wb_page(uint32_t b) { return wb + (size_t)b * PS; }

uint32_t wb_take(const void *page)
{
	uint32_t b = wbfree[--nwbfree];
	wbreserved--;
	memcpy(wb + (size_t)b * PS, page, PS);
	return b;
}

static void wb_release(uint32_t b)
{
	wbfree[nwbfree++] = b;
}

/* ---- Redis connections ---- */

enum { OP_SET = 1, OP_GET, OP_DEL, OP_SYNC };
struct rop { uint8_t type; uint32_t pg, buf; uint64_t uid, t0; };

struct rconn {
	const char *name;
	int fd;
	redisReader *rd;
	char *out;
	size_t olen, ooff, ocap;
	struct rop *ops;
	size_t ohead, ocount, opcap; /* ring */
	struct epref ep;
	bool want_out;
};

static struct rconn rc_wb = {.name = "write-behind", .fd = -1}, rc_fetch = {.name = "fetch", .fd = -1};
static char **delkeys;
static size_t ndel;

static void fatal(const char *what, const char *detail)
{
	logmsg("redis %s: %s; exiting (attached processes stop with the monitor)", what, detail);
	exit(1);
}

static void push_op(struct rconn *c, struct rop op)
{
	if (c->ocount == c->opcap) {
		size_t ncap = c->opcap ? c->opcap * 2 : 1024;
		struct rop *n = xrealloc(NULL, ncap * sizeof *n);
		for (size_t i = 0; i < c->ocount; i++)
			n[i] = c->ops[(c->ohead + i) % c->opcap];
		free(c->ops);
		c->ops = n;
		c->ohead = 0;
		c->opcap = ncap;
	}
	c->ops[(c->ohead + c->ocount++) % c->opcap] = op;
}

static struct rop pop_op(struct rconn *c)
{
	struct rop op = c->ops[c->ohead];
	c->ohead = (c->ohead + 1) % c->opcap;
	c->ocount--;
	return op;
}

static void append_cmd(struct rconn *c, int argc, const char **argv, const size_t *lens, struct rop op)
{
	char *cmd;
	int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0)
		fatal("format", "out of memory");
	if (c->olen + (size_t)n > c->ocap) {
		if (c->ooff) {
			memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
			c->olen -= c->ooff;
			c->ooff = 0;
		}
		if (c->olen + (size_t)n > c->ocap) {
			c->ocap = (c->olen + (size_t)n) * 2;
			c->out = xrealloc(c->out, c->ocap);
		}
	}
	memcpy(c->out + c->olen, cmd, (size_t)n);
	c->olen += (size_t)n;
	redisFreeCommand(cmd);
	push_op(c, op);
}

static void set_want_out(struct rconn *c, bool want)
{
	if (c->want_out == want)
		return;
	c->want_out = want;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = &c->ep};
	epoll_ctl(M.epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static void kick(struct rconn *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = write(c->fd, c->out + c->ooff, c->olen - c->ooff);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			fatal(c->name, strerror(errno));
		}
		c->ooff += (size_t)n;
	}
	if (c->ooff == c->olen)
		c->ooff = c->olen = 0;
	set_want_out(c, c->olen > 0);
}

static int key_of(char *out, size_t n, const char *vmid, uint32_t pg)
{
	return snprintf(out, n, "%s%s:%u", M.key_prefix, vmid, pg);
}

void redis_flush_dels(void)
{
	if (!ndel)
		return;
	const char *argv[DEL_BATCH + 1];
	size_t lens[DEL_BATCH + 1];
	argv[0] = "UNLINK";
	lens[0] = 6;
	for (size_t i = 0; i < ndel; i++) {
		argv[i + 1] = delkeys[i];
		lens[i + 1] = strlen(delkeys[i]);
	}
	append_cmd(&rc_wb, (int)ndel + 1, argv, lens, (struct rop){.type = OP_DEL});
	for (size_t i = 0; i < ndel; i++)
		free(delkeys[i]);
	ndel = 0;
	kick(&rc_wb);
}

void redis_del(struct vm *vm, uint32_t pg)
{
	if (kind != BK_REDIS)
		return;
	char key[256];
	key_of(key, sizeof key, vm->id, pg);
	if (!delkeys)
		delkeys = xrealloc(NULL, DEL_BATCH * sizeof *delkeys);
	delkeys[ndel] = strdup(key);
	if (!delkeys[ndel])
		fatal("del", "out of memory");
	if (++ndel == DEL_BATCH)
		redis_flush_dels();
}

void redis_set(struct vm *vm, uint32_t pg, uint32_t buf)
{
	char key[256];
	redis_flush_dels(); /* an older UNLINK of this key must not overtake the SET */
	key_of(key, sizeof key, vm->id, pg);
	const char *argv[3] = {"SET", key, (const char *)wb_page(buf)};
	size_t lens[3] = {3, strlen(key), PS};
	append_cmd(&rc_wb, 3, argv, lens, (struct rop){.type = OP_SET, .pg = pg, .buf = buf, .uid = vm->uid});
	/* written by redis_kick() at the end of the loop iteration: one write per batch */
}

void redis_get(struct vm *vm, uint32_t pg, uint64_t t0)
{
	char key[256];
	key_of(key, sizeof key, vm->id, pg);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	/* .buf carries the page's fetch generation: see on_reply */
	append_cmd(&rc_fetch, 2, argv, lens,
		   (struct rop){.type = OP_GET, .pg = pg, .buf = vm->pages[pg].slot, .uid = vm->uid, .t0 = t0});
	kick(&rc_fetch);
}

static void on_reply(struct rconn *c, redisReply *r)
{
	if (!c->ocount)
		fatal(c->name, "reply without request");
	struct rop op = pop_op(c);
	if (r->type == REDIS_REPLY_ERROR)
		fatal(c->name, r->str);
	switch (op.type) {
	case OP_SET:
		wb_release(op.buf);
		redis_set_done(op.uid, op.pg, op.buf);
		break;
	case OP_GET: {
		struct vm *vm = vm_by_uid(op.uid);
		/* A reply to an older GET (the page was removed, refilled, evicted and faulted
		 * again meanwhile) carries stale content: only the current fetch counts. */
		if (!vm || vm->pages[op.pg].state != P_FETCHING || vm->pages[op.pg].slot != op.buf)
			break;
		if (r->type != REDIS_REPLY_STRING || r->len != PS) {
			logmsg("vm %s: page %u missing from redis (%s)", vm->id, op.pg,
			       r->type == REDIS_REPLY_NIL ? "nil" : "bad length");
			vm_destroy(vm, "page lost by the backend");
			break;
		}
		vm_place_fetched(vm, op.pg, r->str, op.t0);
		break;
	}
	default:
		break;
	}
}

static void on_readable(struct rconn *c)
{
	char buf[64 * 1024];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			fatal(c->name, n == 0 ? "connection closed by server" : strerror(errno));
		if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
			fatal(c->name, "protocol error");
		void *reply;
		for (;;) {
			if (redisReaderGetReply(c->rd, &reply) != REDIS_OK)
				fatal(c->name, "protocol error");
			if (!reply)
				break;
			on_reply(c, reply);
			freeReplyObject(reply);
		}
		if ((size_t)n < sizeof buf)
			break;
	}
}

static void rconn_event(struct rconn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(c);
	if (events & EPOLLOUT)
		kick(c);
}

void redis_conn_event(void *ptr, uint32_t events)
{
	rconn_event(ptr, events);
}

void redis_kick(void)
{
	if (kind != BK_REDIS)
		return;
	redis_flush_dels();
	kick(&rc_wb);
	kick(&rc_fetch);
}

size_t redis_pending(void)
{
	return kind == BK_REDIS ? rc_wb.ocount + ndel : 0;
}

/* blocking request used only while connecting (AUTH, PING) */
static int sync_cmd(struct rconn *c, int argc, const char **argv, char *err, size_t errlen)
{
	size_t lens[4];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	append_cmd(c, argc, argv, lens, (struct rop){.type = OP_SYNC});
	pop_op(c);
	while (c->ooff < c->olen) {
		ssize_t n = write(c->fd, c->out + c->ooff, c->olen - c->ooff);
		if (n <= 0) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			return -1;
		}
		c->ooff += (size_t)n;
	}
	c->ooff = c->olen = 0;
	void *reply = NULL;
	while (!reply) {
		char buf[4096];
		ssize_t n = read(c->fd, buf, sizeof buf);
		if (n <= 0) {
			snprintf(err, errlen, "connection closed during %s", argv[0]);
			return -1;
		}
		redisReaderFeed(c->rd, buf, (size_t)n);
		if (redisReaderGetReply(c->rd, &reply) != REDIS_OK) {
			snprintf(err, errlen, "protocol error");
			return -1;
		}
	}
	redisReply *r = reply;
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", argv[0], r->str);
		rc = -1;
	}
	freeReplyObject(reply);
	return rc;
}

static int rconn_open(struct rconn *c, const char *spec, char *err, size_t errlen)
{
	if (!strncmp(spec, "unix://", 7)) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		const char *path = spec + 7;
		if (strlen(path) >= sizeof sa.sun_path) {
			snprintf(err, errlen, "unix socket path too long");
			return -1;
		}
		strcpy(sa.sun_path, path);
		c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
			return -1;
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
		c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			snprintf(err, errlen, "cannot connect to %s: %s", spec, strerror(errno));
			freeaddrinfo(ai);
			return -1;
		}
		freeaddrinfo(ai);
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	c->rd = redisReaderCreate();
	const char *pw = getenv("FLUIDMEM_REDIS_PASSWORD");
	if (pw && *pw) {
		const char *auth[2] = {"AUTH", pw};
		if (sync_cmd(c, 2, auth, err, errlen) < 0)
			return -1;
	}
	const char *ping[1] = {"PING"};
	if (sync_cmd(c, 1, ping, err, errlen) < 0)
		return -1;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->ep.kind = EP_REDIS;
	c->ep.ptr = c;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ep};
	epoll_ctl(M.epfd, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

int backend_init(const char *spec, char *err, size_t errlen)
{
	if (!strcmp(spec, "dram")) {
		kind = BK_DRAM;
		return 0;
	}
	if (strncmp(spec, "redis://", 8) && strncmp(spec, "unix://", 7)) {
		snprintf(err, errlen, "unknown backend '%s' (expected dram, redis://HOST:PORT or unix:///PATH)", spec);
		return -1;
	}
	kind = BK_REDIS;
	wb = aligned_alloc(PS, (size_t)WB_PAGES * PS);
	if (!wb) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (uint32_t i = WB_PAGES; i > 0; i--)
		wbfree[nwbfree++] = i - 1;
	if (rconn_open(&rc_wb, spec, err, errlen) < 0 || rconn_open(&rc_fetch, spec, err, errlen) < 0)
		return -1;
	return 0;
}

/* used at shutdown: wait (bounded) until every write and delete is acknowledged */
void redis_drain(int timeout_ms)
{
	if (kind != BK_REDIS)
		return;
	redis_flush_dels();
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (rc_wb.ocount && now_ns() < deadline) {
		kick(&rc_wb);
		struct epoll_event evs[8];
		int n = epoll_wait(M.epfd, evs, 8, 50);
		for (int i = 0; i < n; i++) {
			struct epref *r = evs[i].data.ptr;
			if (r->kind == EP_REDIS)
				rconn_event(r->ptr, evs[i].events);
		}
	}
}
