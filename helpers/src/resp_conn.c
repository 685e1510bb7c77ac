/* resp_conn.c -- one non-blocking, pipelined RESP connection (design: resp_conn.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "resp_conn.h"

void resp_sock_tune(int fd, unsigned int user_timeout_ms)
{
	int one = 1, idle = 5, intvl = 2, cnt = 3;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

redisReply *resp_sync_cmd(int fd, redisReader *rd, int argc, const char **argv, char *err, size_t errlen)
{
	size_t lens[4];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	char *cmd;
	int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (len < 0) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int off = 0; off < len;) {
		ssize_t k = write(fd, cmd + off, (size_t)(len - off));
		if (k <= 0) {
			snprintf(err, errlen, "write: %s", k < 0 ? strerror(errno) : "closed");
			redisFreeCommand(cmd);
			return NULL;
		}
		off += (int)k;
	}
	redisFreeCommand(cmd);
	void *reply = NULL;
	while (!reply) {
		char buf[16384];
		ssize_t k = read(fd, buf, sizeof buf);
		if (k <= 0) {
			snprintf(err, errlen, "%s during %s", k < 0 ? strerror(errno) : "connection closed", argv[0]);
			return NULL;
		}
		if (redisReaderFeed(rd, buf, (size_t)k) != REDIS_OK || redisReaderGetReply(rd, &reply) != REDIS_OK) {
			snprintf(err, errlen, "protocol error");
			return NULL;
		}
	}
	return reply;
}

int resp_conn_attach(struct resp_conn *c, int fd, redisReader *rd, int epfd, void *evptr)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = evptr};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	c->fd = fd;
	c->rd = rd;
	c->epfd = epfd;
	c->evptr = evptr;
	c->want_out = false;
	return 0;
}

void resp_conn_close(struct resp_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->want_out = false;
	if (c->rd)
		redisReaderFree(c->rd);
	c->rd = NULL;
	c->olen = 0;
	c->shead = c->scount = c->sdone = 0;
	c->nsent = c->skip = 0;
}

static void out_of_memory(struct resp_conn *c)
{
	c->hooks->broken(c, "out of memory");
	abort();
}

/* a new segment at the tail of the queue */
static struct resp_seg *push_seg(struct resp_conn *c)
{
	if (c->shead + c->scount == c->scap) {
		if (c->shead) {
			memmove(c->seg, c->seg + c->shead, c->scount * sizeof *c->seg);
			c->shead = 0;
		} else {
			size_t ncap = c->scap ? c->scap * 2 : 64;
			struct resp_seg *s = realloc(c->seg, ncap * sizeof *s);
			if (!s)
				out_of_memory(c);
			c->seg = s;
			c->scap = ncap;
		}
	}
	return &c->seg[c->shead + c->scount++];
}

/* room for n more owned bytes: first drop the written ones in front of the first owned
 * segment still queued (moving the rest down), then grow */
static void reserve_out(struct resp_conn *c, size_t n)
{
	if (c->olen + n <= c->ocap)
		return;
	size_t keep = c->olen;
	for (size_t i = 0; i < c->scount; i++)
		if (!c->seg[c->shead + i].ref) {
			keep = c->seg[c->shead + i].off;
			break;
		}
	if (keep) {
		memmove(c->out, c->out + keep, c->olen - keep);
		c->olen -= keep;
		for (size_t i = 0; i < c->scount; i++)
			if (!c->seg[c->shead + i].ref)
				c->seg[c->shead + i].off -= keep;
	}
	if (c->olen + n > c->ocap) {
		size_t ncap = (c->olen + n) * 2;
		char *o = realloc(c->out, ncap);
		if (!o)
			out_of_memory(c);
		c->out = o;
		c->ocap = ncap;
	}
}

void resp_conn_append(struct resp_conn *c, const void *buf, size_t n)
{
	if (!n)
		return;
	reserve_out(c, n);
	memcpy(c->out + c->olen, buf, n);
	struct resp_seg *last = c->scount ? &c->seg[c->shead + c->scount - 1] : NULL;
	if (last && !last->ref && last->off + last->len == c->olen)
		last->len += n; /* owned bytes right after owned bytes: one segment */
	else
		*push_seg(c) = (struct resp_seg){.ref = NULL, .off = c->olen, .len = n};
	c->olen += n;
}

void resp_conn_append_ref(struct resp_conn *c, const void *buf, size_t n)
{
	if (n)
		*push_seg(c) = (struct resp_seg){.ref = buf, .off = 0, .len = n};
}

size_t resp_conn_unsent(const struct resp_conn *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->scount; i++)
		n += c->seg[c->shead + i].len;
	return n - c->sdone;
}

int resp_conn_append_argv(struct resp_conn *c, int argc, const char **argv, const size_t *lens)
{
	char *cmd;
	int n = redisFormatCommandArgv(&cmd, argc, argv, lens);
	if (n < 0)
		return -1;
	resp_conn_append(c, cmd, (size_t)n);
	redisFreeCommand(cmd);
	return 0;
}

static void set_want_out(struct resp_conn *c, bool want)
{
	if (c->want_out == want || c->fd < 0)
		return;
	c->want_out = want;
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c->evptr};
	epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* iovecs per writev: 2 segments per SET of a page, so up to 64 pages per call */
#define FLUSH_IOV 128

void resp_conn_flush(struct resp_conn *c)
{
	if (c->fd < 0)
		return;
	while (c->scount) {
		struct iovec iov[FLUSH_IOV];
		int k = 0;
		for (size_t i = 0; i < c->scount && k < FLUSH_IOV; i++, k++) {
			const struct resp_seg *s = &c->seg[c->shead + i];
			const char *base = s->ref ? s->ref : c->out + s->off;
			size_t skip = i ? 0 : c->sdone;
			iov[k] = (struct iovec){.iov_base = (void *)(base + skip), .iov_len = s->len - skip};
		}
		ssize_t n = writev(c->fd, iov, k);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			c->hooks->lost(c, strerror(errno));
			return;
		}
		/* consume n bytes from the head of the queue */
		size_t left = (size_t)n;
		while (left && c->scount) {
			size_t rem = c->seg[c->shead].len - c->sdone;
			if (left < rem) {
				c->sdone += left;
				break;
			}
			left -= rem;
			c->sdone = 0;
			c->shead++;
			c->scount--;
		}
	}
	if (!c->scount)
		c->shead = c->olen = 0; /* all written: the owned buffer starts over */
	set_want_out(c, c->scount > 0);
}

static void broken(struct resp_conn *c)
{
	c->hooks->broken(c, "protocol error");
	c->hooks->lost(c, "protocol error");
}

static void dispatch(struct resp_conn *c, redisReply *r)
{
	if (c->heard) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		*c->heard = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	if (c->skip) {
		c->skip--;
		return;
	}
	if (!c->nsent) {
		c->hooks->broken(c, "reply without request");
		c->hooks->lost(c, "reply without request");
		return;
	}
	c->hooks->reply(c, r);
}

static void on_readable(struct resp_conn *c)
{
	char buf[64 * 1024];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			c->hooks->lost(c, n == 0 ? "connection closed by the server" : strerror(errno));
			return;
		}
		if (redisReaderFeed(c->rd, buf, (size_t)n) != REDIS_OK)
			return broken(c);
		void *reply;
		for (;;) {
			if (redisReaderGetReply(c->rd, &reply) != REDIS_OK)
				return broken(c);
			if (!reply)
				break;
			dispatch(c, reply);
			freeReplyObject(reply);
			if (c->fd < 0)
				return;
		}
		if ((size_t)n < sizeof buf)
			break;
	}
}

void resp_conn_event(struct resp_conn *c, uint32_t events)
{
	if (c->fd < 0)
		return; /* an event of a connection closed earlier in this batch */
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		on_readable(c);
	if (c->fd >= 0 && (events & EPOLLOUT))
		c->hooks->writable(c);
}

void *resp_ring_grow(void *ring, size_t esz, size_t head, size_t count, size_t *cap, size_t initial)
{
	size_t ncap = *cap ? *cap * 2 : initial;
	char *n = malloc(ncap * esz);
	if (!n) {
		fprintf(stderr, "resp_conn: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < count; i++)
		memcpy(n + i * esz, (char *)ring + ((head + i) % *cap) * esz, esz);
	free(ring);
	*cap = ncap;
	return n;
}

bool resp_err_is(const redisReply *r, const char *code)
{
	size_t n = strlen(code);
	return r->str && r->len >= n && !strncmp(r->str, code, n) && (r->str[n] == ' ' || r->str[n] == 0);
}
