/* cluster.c -- the Redis Cluster client of the redis-cluster:// backend (design: cluster.h).
 *
 * Nodes are known by "ip:port"; owner[slot] indexes them. Each node has two connections
 * (struct cconn), connected lazily (a master gets them at init, a node named by a MOVED or
 * a refresh when its first request arrives). A connection's requests sit in a ring FIFO
 * until answered; `conn.nsent` of them are formatted (written or in `out`), `conn.skip` replies are
 * still due to an abandoned pipeline. A write-behind connection also holds `unw`: SETs its
 * master acknowledged that wait for a WAIT reply counting a replica. Whenever requests are
 * re-routed (MOVED, a refresh after a connection loss), `unw` goes back in front of the
 * FIFO: those SETs are sent again wherever their slot now lives, then WAITed there. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "crc16.h"
#include "core.h"
#include "resp_conn.h"

#define MAX_NODES 64
#define RECONNECT_MS 100
#define HOLD_MS 100
#define OOM_RETRY_MS 250
#define REFRESH_MS 200
#define WAIT_MS 1000
#define HANDSHAKE_MS 1000
#define DEL_BATCH 256

enum { C_UP, C_HOLD, C_DOWN };

struct cnode;
struct cconn {
	struct cnode *node;
	const char *name;
	bool wb;
	struct resp_conn conn; /* socket, reader, output buffer (resp_conn.h) */
	struct cl_op *ops;
	size_t ohead, ocount, opcap; /* nsent, skip: in conn */
	struct cl_op *unw;
	size_t nunw, capunw;
	int st;
	uint64_t until, since;
	uint64_t refused_since; /* first of an unbroken run of CLUSTERDOWN/TRYAGAIN/... (0: none) */
	bool need_wait, ever;
	struct epref ep;
};

struct cnode {
	char host[64], port[8], addr[80];
	int replicas;   /* online replicas per the last map */
	bool master;    /* serves slots per the last map */
	struct cconn wb, fetch;
};

static struct cnode *nodes[MAX_NODES];
static int nnodes;
static int16_t owner[CL_SLOTS];
static struct cl_callbacks cb;
static struct cl_stats st;
static const char *password;
static uint64_t deadline_ns;
static bool durable;       /* the cluster had replicas at start: SETs are WAITed */
static bool want_refresh;
static uint64_t next_refresh;
static bool oom;
/* pending UNLINK batch (one slot) */
static char *dkeys[DEL_BATCH];
static size_t ndkeys;
static int dslot = -1;
static uint64_t dseq; /* the batch's first write sequence number */

static void fatal(const char *what, const char *detail)
{
	logmsg("redis-cluster %s: %s; exiting (attached processes stop with the monitor)", what, detail);
	exit(1);
}

static void conn_reply(struct resp_conn *rc, redisReply *r);
static void conn_lost(struct resp_conn *rc, const char *why);
static void conn_broken(struct resp_conn *rc, const char *why);
static void conn_writable(struct resp_conn *rc);
static const struct resp_conn_hooks hooks = {conn_reply, conn_lost, conn_broken, conn_writable};

/* ---- nodes ---- */

static struct cnode *node_get(const char *host, const char *port)
{
	char addr[80];
	snprintf(addr, sizeof addr, "%s:%s", host, port);
	for (int i = 0; i < nnodes; i++)
		if (!strcmp(nodes[i]->addr, addr))
			return nodes[i];
	if (nnodes == MAX_NODES || strlen(host) >= sizeof nodes[0]->host || strlen(port) >= sizeof nodes[0]->port)
		fatal("nodes", "too many nodes or a node address too long");
	struct cnode *n = xrealloc(NULL, sizeof *n);
	memset(n, 0, sizeof *n);
	snprintf(n->host, sizeof n->host, "%s", host);
	snprintf(n->port, sizeof n->port, "%s", port);
	snprintf(n->addr, sizeof n->addr, "%s", addr);
	struct cconn *cs[2] = {&n->wb, &n->fetch};
	for (int i = 0; i < 2; i++) {
		cs[i]->node = n;
		cs[i]->st = C_DOWN;
		cs[i]->wb = i == 0;
		cs[i]->name = i == 0 ? "write-behind" : "fetch";
		cs[i]->conn = (struct resp_conn){.name = cs[i]->name, .hooks = &hooks, .data = cs[i], .fd = -1,
						.heard = &cs[i]->since};
	}
	nodes[nnodes++] = n;
	return n;
}

/* "host:port" (the last ':' splits) */
static struct cnode *node_of_addr(const char *a, size_t len)
{
	char buf[128];
	if (len >= sizeof buf)
		return NULL;
	memcpy(buf, a, len);
	buf[len] = 0;
	char *colon = strrchr(buf, ':');
	if (!colon || colon == buf)
		return NULL;
	*colon = 0;
	char *at = strchr(colon + 1, '@'); /* "port@cport" in some replies */
	if (at)
		*at = 0;
	return node_get(buf, colon + 1);
}

/* ---- blocking helpers (connect, AUTH, map) ---- */

static int sock_connect(struct cnode *n, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int g = getaddrinfo(n->host, n->port, &hints, &ai);
	if (g) {
		snprintf(err, errlen, "cannot resolve %s: %s", n->host, gai_strerror(g));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = HANDSHAKE_MS / 1000, .tv_usec = (HANDSHAKE_MS % 1000) * 1000};
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	}
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(err, errlen, "cannot connect to %s: %s", n->addr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	resp_sock_tune(fd, (unsigned int)(deadline_ns / 1000000ull));
	return fd;
}

static int auth(int fd, redisReader *rd, struct cnode *n, char *err, size_t errlen)
{
	if (!password || !*password)
		return 0;
	const char *argv[2] = {"AUTH", password};
	redisReply *r = resp_sync_cmd(fd, rd, 2, argv, err, errlen);
	if (!r)
		return -1;
	int rc = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: AUTH: %s", n->addr, r->str);
		rc = -1;
	}
	freeReplyObject(r);
	return rc;
}

/* ---- slot map ---- */

static bool int_of(const redisReply *r, long long *v)
{
	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return true;
	}
	if (r->type == REDIS_REPLY_STRING) { /* some 7.0 builds send slot bounds as strings */
		char *end;
		*v = strtoll(r->str, &end, 10);
		return end != r->str && !*end;
	}
	return false;
}

static const redisReply *field(const redisReply *map, const char *name)
{
	if (map->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < map->elements; i += 2)
		if (map->element[i]->type == REDIS_REPLY_STRING && !strcmp(map->element[i]->str, name))
			return map->element[i + 1];
	return NULL;
}

static bool str_is(const redisReply *r, const char *s)
{
	return r && r->type == REDIS_REPLY_STRING && !strcmp(r->str, s);
}

static struct cnode *node_from_fields(const redisReply *nd)
{
	const redisReply *ip = field(nd, "ip"), *port = field(nd, "port");
	if (!ip || ip->type != REDIS_REPLY_STRING || !port)
		return NULL;
	long long p;
	if (!int_of(port, &p))
		return NULL;
	char ps[8];
	snprintf(ps, sizeof ps, "%lld", p);
	return node_get(ip->str, ps);
}

/* CLUSTER SHARDS -> map; false if the reply is not one */
static bool parse_shards(const redisReply *r, int16_t *map)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return false;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *sh = r->element[i], *slots = field(sh, "slots"), *nds = field(sh, "nodes");
		if (!slots || !nds || slots->type != REDIS_REPLY_ARRAY || nds->type != REDIS_REPLY_ARRAY)
			return false;
		struct cnode *m = NULL, *failed = NULL;
		int reps = 0;
		for (size_t j = 0; j < nds->elements; j++) {
			const redisReply *nd = nds->element[j];
			bool online = str_is(field(nd, "health"), "online");
			if (str_is(field(nd, "role"), "master")) {
				struct cnode *n = node_from_fields(nd);
				if (online && n)
					m = n;
				else if (n)
					failed = n;
			} else if (!str_is(field(nd, "health"), "failed")) {
				reps++; /* online, or loading (its first sync): it will acknowledge */
			}
		}
		if (!m)
			m = failed; /* not yet failed over: its slots wait for it */
		if (!m || !slots->elements)
			continue;
		m->master = true;
		m->replicas = reps;
		for (size_t k = 0; k + 1 < slots->elements; k += 2) {
			long long a, b;
			if (!int_of(slots->element[k], &a) || !int_of(slots->element[k + 1], &b) || a < 0 || b >= CL_SLOTS || a > b)
				return false;
			int x = 0;
			while (nodes[x] != m)
				x++;
			for (long long s = a; s <= b; s++)
				map[s] = (int16_t)x;
		}
	}
	return true;
}

/* CLUSTER SLOTS -> map */
static bool parse_slots(const redisReply *r, int16_t *map)
{
	if (r->type != REDIS_REPLY_ARRAY)
		return false;
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[i];
		long long a, b, p;
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || !int_of(e->element[0], &a) ||
		    !int_of(e->element[1], &b) || a < 0 || b >= CL_SLOTS || a > b)
			return false;
		const redisReply *m = e->element[2];
		if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 || m->element[0]->type != REDIS_REPLY_STRING ||
		    !int_of(m->element[1], &p))
			return false;
		char ps[8];
		snprintf(ps, sizeof ps, "%lld", p);
		struct cnode *n = node_get(m->element[0]->str, ps);
		n->master = true;
		n->replicas = (int)e->elements - 3;
		int x = 0;
		while (nodes[x] != n)
			x++;
		for (long long s = a; s <= b; s++)
			map[s] = (int16_t)x;
	}
	return true;
}

/* Loads the map from one node; 0 on success. */
static int map_from(struct cnode *n, char *err, size_t errlen)
{
	int fd = sock_connect(n, err, errlen);
	if (fd < 0)
		return -1;
	redisReader *rd = redisReaderCreate();
	int rc = -1;
	if (auth(fd, rd, n, err, errlen) < 0)
		goto out;
	static int16_t map[CL_SLOTS];
	for (int i = 0; i < CL_SLOTS; i++)
		map[i] = -1;
	bool masters_before[MAX_NODES];
	int reps_before[MAX_NODES], nbefore = nnodes;
	for (int i = 0; i < nnodes; i++) {
		masters_before[i] = nodes[i]->master, reps_before[i] = nodes[i]->replicas;
		nodes[i]->master = false, nodes[i]->replicas = 0;
	}
	const char *how = getenv("FLUIDMEM_CLUSTER_MAP"); /* tests: "slots" skips CLUSTER SHARDS */
	bool ok = false;
	redisReply *r = NULL;
	if (!how || strcmp(how, "slots")) {
		const char *argv[2] = {"CLUSTER", "SHARDS"};
		r = resp_sync_cmd(fd, rd, 2, argv, err, errlen);
		if (!r)
			goto restore;
		ok = r->type != REDIS_REPLY_ERROR && parse_shards(r, map);
		freeReplyObject(r);
	}
	if (!ok) {
		const char *argv[2] = {"CLUSTER", "SLOTS"};
		r = resp_sync_cmd(fd, rd, 2, argv, err, errlen);
		if (!r)
			goto restore;
		if (r->type == REDIS_REPLY_ERROR)
			snprintf(err, errlen, "%s: CLUSTER SLOTS: %s", n->addr, r->str);
		else if (!parse_slots(r, map))
			snprintf(err, errlen, "%s: CLUSTER SLOTS: unexpected reply", n->addr);
		else
			ok = true;
		freeReplyObject(r);
	}
	if (!ok)
		goto restore;
	memcpy(owner, map, sizeof map);
	st.map_refreshes++;
	st.masters = st.replicas = 0;
	for (int i = 0; i < nnodes; i++)
		if (nodes[i]->master)
			st.masters++, st.replicas += nodes[i]->replicas;
	if (st.replicas && !durable)
		logmsg("redis-cluster: the cluster has replicas: a page's staged copy is released after WAIT 1");
	durable |= st.replicas > 0; /* once replicated, always WAITed (a replica may come back) */
	rc = 0;
	goto out;
restore:
	for (int i = 0; i < nbefore; i++)
		nodes[i]->master = masters_before[i], nodes[i]->replicas = reps_before[i];
out:
	redisReaderFree(rd);
	close(fd);
	return rc;
}

static struct cnode *route(unsigned slot)
{
	int x = owner[slot];
	if (x < 0) /* unassigned: any master answers MOVED or CLUSTERDOWN */
		for (x = 0; x < nnodes && !nodes[x]->master; x++)
			;
	return nodes[x < nnodes ? x : 0];
}

/* ---- connections ---- */

static struct cl_op *op_at(struct cconn *c, size_t i)
{
	return &c->ops[(c->ohead + i) % c->opcap];
}

static void free_op(struct cl_op *op)
{
	free(op->key);
	for (uint32_t i = 0; i < op->nkeys; i++)
		free(op->keys[i]);
	free(op->keys);
}

static void conn_open(struct cconn *c);

static void push_op(struct cconn *c, struct cl_op op)
{
	if (c->ocount == c->opcap) {
		c->ops = resp_ring_grow(c->ops, sizeof *c->ops, c->ohead, c->ocount, &c->opcap, 256);
		c->ohead = 0;
	}
	if (!c->ocount && !c->nunw)
		c->since = now_ns();
	if (c->st == C_DOWN && c->until <= now_ns())
		conn_open(c);
	if (op.type == CL_GET && c->st != C_UP && !op.stalled && !op.background) {
		op.stalled = 1;
		st.stalled_faults++;
	}
	*op_at(c, c->ocount++) = op;
}

static void format_op(struct cconn *c, const struct cl_op *op)
{
	const char *argv[DEL_BATCH + 1];
	size_t lens[DEL_BATCH + 1];
	char ms[16];
	int argc = 0;
	const void *v = NULL;
	size_t vlen = 0;
	switch (op->type) {
	case CL_SET:
		v = cb.value(op, &vlen);
		argv[0] = v ? "SET" : "UNLINK";
		argv[1] = op->key;
		argv[2] = v;
		lens[2] = vlen;
		argc = v ? 3 : 2;
		if (v)
			c->need_wait = durable && c->node->replicas > 0;
		break;
	case CL_GET:
		argv[0] = "GET", argv[1] = op->key, argc = 2;
		break;
	case CL_DEL:
		argv[0] = "UNLINK";
		for (uint32_t i = 0; i < op->nkeys; i++)
			argv[i + 1] = op->keys[i];
		argc = (int)op->nkeys + 1;
		break;
	case CL_WAIT:
		snprintf(ms, sizeof ms, "%d", WAIT_MS);
		argv[0] = "WAIT", argv[1] = "1", argv[2] = ms, argc = 3;
		break;
	case CL_ASKING:
		argv[0] = "ASKING", argc = 1;
		break;
	}
	for (int i = 0; i < argc; i++)
		if (!(op->type == CL_SET && i == 2))
			lens[i] = strlen(argv[i]);
	if (resp_conn_append_argv(&c->conn, argc, argv, lens) < 0)
		fatal(c->name, "out of memory formatting a command");
}

static void disconnect(struct cconn *c, const char *why)
{
	if (c->st == C_DOWN)
		return;
	logmsg("redis-cluster %s %s: %s; %zu requests wait for a reconnect or a failover", c->node->addr, c->name,
	       why, c->ocount + c->nunw);
	st.conn_losses++;
	resp_conn_close(&c->conn);
	c->st = C_DOWN;
	c->since = now_ns();
	c->until = c->since + RECONNECT_MS * 1000000ull;
	want_refresh = true;
	for (size_t i = 0; i < c->ocount; i++)
		if (op_at(c, i)->type == CL_GET && !op_at(c, i)->stalled && !op_at(c, i)->background)
			op_at(c, i)->stalled = 1, st.stalled_faults++;
}

static void kick(struct cconn *c)
{
	if (c->st == C_DOWN)
		return;
	if (c->st == C_UP) {
		while (c->conn.nsent < c->ocount)
			format_op(c, op_at(c, c->conn.nsent++));
		if (c->need_wait || (c->nunw && !c->ocount)) {
			c->need_wait = false;
			push_op(c, (struct cl_op){.type = CL_WAIT});
			format_op(c, op_at(c, c->conn.nsent++));
		}
	}
	resp_conn_flush(&c->conn);
}

static void conn_open(struct cconn *c)
{
	char err[256];
	int fd = sock_connect(c->node, err, sizeof err);
	if (fd < 0)
		goto fail;
	redisReader *rd = redisReaderCreate();
	if (auth(fd, rd, c->node, err, sizeof err) < 0) {
		redisReaderFree(rd);
		close(fd);
		goto fail;
	}
	c->ep.kind = EP_REDIS;
	c->ep.ptr = c;
	if (resp_conn_attach(&c->conn, fd, rd, M.epfd, &c->ep) < 0)
		fatal(c->name, "epoll_ctl failed");
	c->st = C_UP;
	c->since = now_ns();
	c->conn.nsent = c->conn.skip = 0;
	if (c->ever || c->ocount)
		logmsg("redis-cluster %s %s: connected; sending %zu requests", c->node->addr, c->name, c->ocount);
	c->ever = true;
	return;
fail:
	c->until = now_ns() + RECONNECT_MS * 1000000ull;
	want_refresh = true;
}

/* Every unanswered request of c (first the SETs waiting for a WAIT, then the FIFO) goes,
 * in order, to the connection its slot routes to now; `due` replies of c's pipeline are
 * still to come and are skipped. */
static void reroute(struct cconn *c, size_t due)
{
	size_t n = c->nunw + c->ocount;
	if (!n)
		return;
	struct cl_op *l = xrealloc(NULL, n * sizeof *l);
	memcpy(l, c->unw, c->nunw * sizeof *l);
	for (size_t i = 0; i < c->ocount; i++)
		l[c->nunw + i] = *op_at(c, i);
	c->nunw = 0;
	c->ocount = c->ohead = 0;
	c->conn.nsent = 0;
	if (c->st != C_DOWN)
		c->conn.skip += due;
	c->need_wait = false;
	struct cconn *touched[MAX_NODES * 2];
	int nt = 0;
	for (size_t i = 0; i < n; i++) {
		if (l[i].type == CL_WAIT || l[i].type == CL_ASKING)
			continue; /* a WAIT follows the SETs where they land */
		struct cnode *nd = route(l[i].slot);
		struct cconn *t = l[i].type == CL_GET ? &nd->fetch : &nd->wb;
		push_op(t, l[i]);
		bool seen = false;
		for (int k = 0; k < nt; k++)
			seen |= touched[k] == t;
		if (!seen)
			touched[nt++] = t;
	}
	free(l);
	for (int k = 0; k < nt; k++)
		kick(touched[k]);
}

/* Stop reading this pipeline's replies (the current one is being handled) and resend
 * the FIFO from its head after delay_ms. */
static void hold(struct cconn *c, uint64_t delay_ms)
{
	c->conn.skip = c->conn.nsent - 1;
	c->conn.nsent = 0;
	c->st = C_HOLD;
	c->until = now_ns() + delay_ms * 1000000ull;
}

static void pop_head(struct cconn *c, bool free_it)
{
	if (free_it)
		free_op(op_at(c, 0));
	c->ohead = (c->ohead + 1) % c->opcap;
	c->ocount--;
	c->conn.nsent--;
}

/* "-MOVED 3999 127.0.0.1:6381" / "-ASK ..." -> the node */
static struct cnode *redirect_target(const redisReply *r)
{
	const char *sp = strchr(r->str, ' ');
	sp = sp ? strchr(sp + 1, ' ') : NULL;
	if (!sp)
		return NULL;
	return node_of_addr(sp + 1, strlen(sp + 1));
}

static void redirected(struct cconn *c, struct cl_op *op, const redisReply *r)
{
	if (++op->redirects > CL_REDIRECT_CAP) {
		char why[300];
		snprintf(why, sizeof why, "key %s redirected more than %d times (last: %s): the cluster's slot "
			 "map does not settle; failing closed", op->key ? op->key : "(batch)", CL_REDIRECT_CAP, r->str);
		fatal(c->name, why);
	}
}

static void on_reply(struct cconn *c, redisReply *r)
{
	struct cl_op *op = op_at(c, 0);
	if (op->type == CL_ASKING) {
		pop_head(c, true);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		if (resp_err_is(r, "MOVED")) {
			st.moved++;
			redirected(c, op, r);
			struct cnode *t = redirect_target(r);
			if (!t)
				fatal(c->name, r->str);
			for (int x = 0; x < nnodes; x++)
				if (nodes[x] == t)
					owner[op->slot] = (int16_t)x;
			t->master = true;
			want_refresh = true;
			reroute(c, c->conn.nsent - 1);
			return;
		}
		if (resp_err_is(r, "ASK")) {
			st.ask++;
			redirected(c, op, r);
			struct cnode *t = redirect_target(r);
			if (!t)
				fatal(c->name, r->str);
			struct cl_op o = *op;
			size_t due = c->conn.nsent - 1;
			pop_head(c, false);
			c->conn.skip = due;
			c->conn.nsent = 0;
			struct cconn *tc = o.type == CL_GET ? &t->fetch : &t->wb;
			push_op(tc, (struct cl_op){.type = CL_ASKING});
			push_op(tc, o);
			kick(tc);
			kick(c);
			return;
		}
		bool down = resp_err_is(r, "CLUSTERDOWN");
		if (down || resp_err_is(r, "TRYAGAIN") || resp_err_is(r, "LOADING") || resp_err_is(r, "BUSY") ||
		    resp_err_is(r, "MASTERDOWN") || resp_err_is(r, "READONLY")) {
			if (down)
				st.clusterdown++;
			else
				st.tryagain++;
			if (down || resp_err_is(r, "READONLY"))
				want_refresh = true;
			for (size_t i = 0; i < c->ocount; i++)
				if (op_at(c, i)->type == CL_GET && !op_at(c, i)->stalled && !op_at(c, i)->background)
					op_at(c, i)->stalled = 1, st.stalled_faults++;
			static uint64_t last_log;
			if (!c->refused_since)
				c->refused_since = c->since;
			if (c->since - last_log > 1000000000ull) /* at most once a second */
				last_log = c->since, logmsg("redis-cluster %s %s: %s; waiting, then resending %zu requests", c->node->addr, c->name,
				       r->str, c->ocount);
			hold(c, HOLD_MS); /* READONLY (a replica now): the refresh re-routes */
			return;
		}
		if (op->type == CL_SET && (resp_err_is(r, "OOM") || resp_err_is(r, "MISCONF"))) {
			if (!oom)
				logmsg("redis-cluster %s %s: %s; evictions stop until it accepts writes again", c->node->addr,
				       c->name, r->str);
			oom = true;
			hold(c, OOM_RETRY_MS);
			return;
		}
		char what[128];
		snprintf(what, sizeof what, "%s %s", c->node->addr, c->name);
		fatal(what, r->str);
	}
	c->refused_since = 0;
	switch (op->type) {
	case CL_SET:
		if (oom) {
			oom = false;
			logmsg("redis-cluster %s: writes accepted again; evictions resume", c->node->addr);
		}
		if (!op->acked && cb.acked)
			cb.acked(op);
		op->acked = 1;
		if (durable && c->node->replicas > 0) { /* no replica left: nothing to wait for */
			if (c->nunw == c->capunw) {
				c->capunw = c->capunw ? c->capunw * 2 : 256;
				c->unw = xrealloc(c->unw, c->capunw * sizeof *c->unw);
			}
			c->unw[c->nunw++] = *op;
			pop_head(c, false);
			return;
		}
		cb.done(op, NULL);
		break;
	case CL_WAIT:
		st.wait_rounds++;
		if (r->type == REDIS_REPLY_INTEGER && (r->integer >= 1 || !c->node->replicas)) {
			for (size_t i = 0; i < c->nunw; i++) {
				cb.done(&c->unw[i], NULL);
				free_op(&c->unw[i]);
			}
			c->nunw = 0;
		} else if (c->nunw) {
			st.wait_timeouts++;
			want_refresh = true;
			c->need_wait = true; /* again, after the refresh had a chance */
		}
		break;
	default:
		cb.done(op, r);
		break;
	}
	pop_head(c, true);
}

/* resp_conn hooks (resp_conn.h): the connection's client data is its struct cconn */
static void conn_reply(struct resp_conn *rc, redisReply *r) { on_reply(rc->data, r); }
static void conn_lost(struct resp_conn *rc, const char *why) { disconnect(rc->data, why); }
static void conn_broken(struct resp_conn *rc, const char *why) { fatal(rc->name, why); }
static void conn_writable(struct resp_conn *rc) { kick(rc->data); }

void cl_event(void *ptr, uint32_t events)
{
	struct cconn *c = ptr;
	resp_conn_event(&c->conn, events);
}

/* ---- requests ---- */

static void flush_dels(void)
{
	if (!ndkeys)
		return;
	char **keys = xrealloc(NULL, ndkeys * sizeof *keys);
	memcpy(keys, dkeys, ndkeys * sizeof *keys);
	push_op(&route((unsigned)dslot)->wb,
		(struct cl_op){.type = CL_DEL, .slot = (uint16_t)dslot, .keys = keys, .nkeys = (uint32_t)ndkeys,
			       .t0 = dseq});
	ndkeys = 0;
	dslot = -1;
}

void cl_set(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t wseq)
{
	flush_dels(); /* an older UNLINK of this key must not overtake the SET */
	unsigned slot = key_slot(key, strlen(key));
	push_op(&route(slot)->wb, (struct cl_op){.type = CL_SET, .slot = (uint16_t)slot, .key = key, .id = id,
						.index = index, .aux = aux, .t0 = wseq});
}

void cl_get(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t t0)
{
	unsigned slot = key_slot(key, strlen(key));
	struct cconn *c = &route(slot)->fetch;
	push_op(c, (struct cl_op){.type = CL_GET, .slot = (uint16_t)slot, .key = key, .id = id, .index = index,
				  .aux = aux, .t0 = t0});
	kick(c);
}

void cl_get_background(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t t0)
{
	unsigned slot = key_slot(key, strlen(key));
	push_op(&route(slot)->fetch, (struct cl_op){.type = CL_GET, .background = 1, .slot = (uint16_t)slot, .key = key,
						    .id = id, .index = index, .aux = aux, .t0 = t0});
}

void cl_del(char *key, uint64_t wseq)
{
	int slot = (int)key_slot(key, strlen(key));
	if (ndkeys == DEL_BATCH || (ndkeys && (slot != dslot || wseq != dseq + ndkeys)))
		flush_dels();
	if (!ndkeys)
		dseq = wseq;
	dslot = slot;
	dkeys[ndkeys++] = key;
}

void cl_kick(void)
{
	flush_dels();
	for (int i = 0; i < nnodes; i++) {
		kick(&nodes[i]->wb);
		kick(&nodes[i]->fetch);
	}
}

size_t cl_pending_writes(void)
{
	size_t n = ndkeys;
	for (int i = 0; i < nnodes; i++)
		n += nodes[i]->wb.ocount + nodes[i]->wb.nunw;
	return n;
}

bool cl_backpressure(void) { return oom; }

const struct cl_stats *cl_get_stats(void) { return &st; }

int cl_stats_json(char *buf, size_t n)
{
	return snprintf(buf, n,
			"{\"moved\":%llu,\"ask\":%llu,\"tryagain\":%llu,\"clusterdown\":%llu,\"stalled_faults\":%llu,"
			"\"conn_losses\":%llu,\"map_refreshes\":%llu,\"wait_rounds\":%llu,\"wait_timeouts\":%llu,"
			"\"masters\":%d,\"replicas\":%d}",
			(unsigned long long)st.moved, (unsigned long long)st.ask, (unsigned long long)st.tryagain,
			(unsigned long long)st.clusterdown, (unsigned long long)st.stalled_faults,
			(unsigned long long)st.conn_losses, (unsigned long long)st.map_refreshes,
			(unsigned long long)st.wait_rounds, (unsigned long long)st.wait_timeouts, st.masters, st.replicas);
}

/* ---- time ---- */

static int refresh(void)
{
	char err[256] = "no node known";
	static int16_t before[CL_SLOTS];
	static uint64_t last_fail_log;
	memcpy(before, owner, sizeof owner);
	/* nodes with a live connection first: a dead master cannot tell who replaced it */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < nnodes; i++) {
			bool live = nodes[i]->wb.st != C_DOWN || nodes[i]->fetch.st != C_DOWN;
			if (live == (pass == 0) && !map_from(nodes[i], err, sizeof err)) {
				int moved = 0;
				for (int s = 0; s < CL_SLOTS; s++)
					moved += before[s] != owner[s];
				if (moved)
					logmsg("redis-cluster: slot map from %s: %d slots have a new master (%d masters, %d replicas)",
					       nodes[i]->addr, moved, st.masters, st.replicas);
				return 0;
			}
		}
	if (now_ns() - last_fail_log > 1000000000ull) {
		last_fail_log = now_ns();
		logmsg("redis-cluster: no node gives the slot map (last: %s); retrying every %d ms", err, REFRESH_MS);
	}
	return -1;
}

/* ns from t to now, 0 when t is later (set after `now` was read) */
static uint64_t since_ns(uint64_t now, uint64_t t)
{
	return now > t ? now - t : 0;
}

static int conn_tick(struct cconn *c, uint64_t now)
{
	char why[300];
	bool busy = c->ocount || c->nunw;
	if (c->st == C_DOWN) {
		if (!busy)
			return -1;
		if (since_ns(now, c->since) > deadline_ns) {
			snprintf(why, sizeof why, "%zu requests for slots of %s unserved for %llu ms (deadline "
				 "FLUIDMEM_REDIS_TIMEOUT_MS): no node answers for them; failing closed", c->ocount + c->nunw,
				 c->node->addr, (unsigned long long)(deadline_ns / 1000000ull));
			fatal(c->name, why);
		}
		if (now >= c->until) {
			conn_open(c);
			if (c->st == C_UP)
				kick(c);
		}
		return RECONNECT_MS;
	}
	if (c->st == C_HOLD) {
		if (now < c->until)
			return (int)((c->until - now) / 1000000ull) + 1;
		c->st = C_UP;
		kick(c);
	}
	if (!c->ocount && !c->conn.skip)
		return -1;
	if (c->refused_since && since_ns(now, c->refused_since) > deadline_ns) {
		snprintf(why, sizeof why, "%s refused %zu requests (CLUSTERDOWN/TRYAGAIN/...) for %llu ms (deadline "
			 "FLUIDMEM_REDIS_TIMEOUT_MS): the slots stay unserved; failing closed", c->node->addr, c->ocount,
			 (unsigned long long)(since_ns(now, c->refused_since) / 1000000ull));
		fatal(c->name, why);
	}
	if (since_ns(now, c->since) > deadline_ns) {
		snprintf(why, sizeof why, "%s: no reply for %llu ms with %zu requests outstanding (deadline "
			 "FLUIDMEM_REDIS_TIMEOUT_MS): the node is stalled; failing closed", c->node->addr,
			 (unsigned long long)(since_ns(now, c->since) / 1000000ull), c->ocount);
		fatal(c->name, why);
	}
	return 100;
}

int cl_tick(void)
{
	uint64_t now = now_ns();
	int t = -1;
	if (want_refresh) {
		if (now >= next_refresh) {
			next_refresh = now + REFRESH_MS * 1000000ull;
			if (!refresh()) {
				want_refresh = false;
				/* requests waiting on a node that no longer serves their slots move on */
				for (int i = 0; i < nnodes; i++) {
					struct cconn *cs[2] = {&nodes[i]->wb, &nodes[i]->fetch};
					for (int k = 0; k < 2; k++)
						if ((cs[k]->st == C_DOWN || !nodes[i]->master) && (cs[k]->ocount || cs[k]->nunw))
							reroute(cs[k], cs[k]->conn.nsent);
				}
			}
		}
		t = REFRESH_MS;
	}
	now = now_ns(); /* the refresh and re-routing took time */
	for (int i = 0; i < nnodes; i++) {
		int a = conn_tick(&nodes[i]->wb, now), b = conn_tick(&nodes[i]->fetch, now);
		if (a >= 0 && (t < 0 || a < t))
			t = a;
		if (b >= 0 && (t < 0 || b < t))
			t = b;
	}
	return t;
}

int cl_init(const char *spec, const char *pw, uint64_t deadline, const struct cl_callbacks *callbacks, char *err,
	    size_t errlen)
{
	password = pw;
	deadline_ns = deadline;
	cb = *callbacks;
	for (int i = 0; i < CL_SLOTS; i++)
		owner[i] = -1;
	for (const char *p = spec; *p;) {
		size_t len = strcspn(p, ",");
		if (!len || !node_of_addr(p, len)) {
			snprintf(err, errlen, "expected redis-cluster://HOST:PORT[,HOST:PORT...], got '%s'", spec);
			return -1;
		}
		p += len + (p[len] == ',');
	}
	if (!nnodes) {
		snprintf(err, errlen, "expected redis-cluster://HOST:PORT[,HOST:PORT...], got '%s'", spec);
		return -1;
	}
	char e[256] = "";
	int seeds = nnodes, i;
	for (i = 0; i < seeds; i++)
		if (!map_from(nodes[i], e, sizeof e))
			break;
	if (i == seeds) {
		snprintf(err, errlen, "no node of %s gave the slot map (last: %s)", spec, e);
		return -1;
	}
	int unserved = 0;
	for (int s = 0; s < CL_SLOTS; s++)
		unserved += owner[s] < 0;
	if (unserved) {
		snprintf(err, errlen, "%d of %d slots have no master (is the cluster created?)", unserved, CL_SLOTS);
		return -1;
	}
	for (int k = 0; k < nnodes; k++) {
		if (!nodes[k]->master)
			continue;
		conn_open(&nodes[k]->wb);
		conn_open(&nodes[k]->fetch);
		if (nodes[k]->wb.st != C_UP || nodes[k]->fetch.st != C_UP) {
			snprintf(err, errlen, "cannot connect to master %s", nodes[k]->addr);
			return -1;
		}
	}
	logmsg("redis-cluster: %d masters, %d replicas", st.masters, st.replicas);
	return 0;
}
