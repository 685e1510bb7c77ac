/* control.c -- the control socket: one JSON object per line in, one per line out.
 *
 *   {"cmd":"stats"}            -> {"ok":true,"capacity":N,...,"total":{..},"vms":[..]}
 *   {"cmd":"resize","pages":N} -> {"ok":true,"capacity":N}, sent once the resident set
 *                                 (incl. in-flight placements and evictions) fits N
 *   {"cmd":"flush"}            -> {"ok":true}, once no eviction is in flight and the
 *                                 write-behind queue is empty
 *   anything else              -> {"ok":false,"error":"..."}
 * A client waiting for resize/flush is re-checked after every loop iteration
 * (control_tick); later requests from the same client wait behind it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "monitor.h"

enum { W_NONE, W_RESIZE, W_FLUSH };

struct client {
	int fd;
	struct epref ep;
	char in[8192];
	size_t len;
	int waiting;
	struct client *next;
};

static struct client *clients;

struct sbuf { char *p; size_t len, cap; };

static void sb_grow(struct sbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	b->cap = (b->len + more + 1) * 2;
	b->p = realloc(b->p, b->cap);
	if (!b->p) {
		logmsg("out of memory");
		exit(1);
	}
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void counters_json(struct sbuf *b, const struct counters *c)
{
	static char h[8192];
	hist_json(&c->lat, h, sizeof h);
	sb_printf(b,
		  "\"faults\":%llu,\"zero_fills\":%llu,\"remote_fetches\":%llu,\"evictions\":%llu,"
		  "\"backend_writes\":%llu,\"resident_pages\":%lld,\"remote_pages\":%lld,"
		  "\"evicting_pages\":%lld,\"fetching_pages\":%lld,\"removed_pages\":%llu,"
		  "\"queue_hits\":%llu,\"bytes_written\":%llu,\"bytes_read\":%llu,\"fault_latency_ns\":%s",
		  (unsigned long long)c->faults, (unsigned long long)c->zero_fills,
		  (unsigned long long)c->remote_fetches, (unsigned long long)c->evictions,
		  (unsigned long long)c->backend_writes, (long long)c->resident_pages,
		  (long long)c->remote_pages, (long long)c->evicting_pages, (long long)c->fetching_pages,
		  (unsigned long long)c->removed_pages, (unsigned long long)c->queue_hits,
		  (unsigned long long)c->bytes_written, (unsigned long long)c->bytes_read, h);
}

static void stats_json(struct sbuf *b)
{
	size_t meta = dram_meta_bytes();
	uint64_t tracked = 0;
	for (struct vm *v = M.vms; v; v = v->next)
		if (!v->dead) {
			meta += vm_meta_bytes(v);
			tracked += v->npages;
		}
	sb_printf(b, "{\"ok\":true,\"capacity\":%llu,\"backend\":\"%s\",\"tracked_pages\":%llu,"
		     "\"meta_bytes\":%zu,\"bytes_per_tracked_page\":%.2f,\"total\":{",
		  (unsigned long long)M.capacity, backend_kind() == BK_DRAM ? "dram" : "redis",
		  (unsigned long long)tracked, meta, tracked ? (double)meta / (double)tracked : 0.0);
	counters_json(b, &M.total);
	sb_printf(b, "},\"vms\":[");
	int first = 1;
	for (struct vm *v = M.vms; v; v = v->next) {
		if (v->dead)
			continue;
		char id[300];
		json_quote(id, sizeof id, v->id);
		sb_printf(b, "%s{\"id\":%s,\"pid\":%d,\"region_bytes\":%llu,\"tracked_pages\":%u,\"meta_bytes\":%zu,",
			  first ? "" : ",", id, v->pid, (unsigned long long)v->size, v->npages, vm_meta_bytes(v));
		counters_json(b, &v->c);
		sb_printf(b, "}");
		first = 0;
	}
	sb_printf(b, "]}\n");
}

static void reply(struct client *c, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* client went away; the read side notices */
		s += n;
		len -= (size_t)n;
	}
}

static void reply_str(struct client *c, const char *s)
{
	reply(c, s, strlen(s));
}

static void reply_error(struct client *c, const char *msg)
{
	char q[300], out[400];
	json_quote(q, sizeof q, msg);
	snprintf(out, sizeof out, "{\"ok\":false,\"error\":%s}\n", q);
	reply_str(c, out);
}

static bool resize_done(void) { return used_pages() <= M.capacity; }
static bool flush_done(void) { return evictions_idle() && redis_pending() == 0; }

static void handle_line(struct client *c, const char *line)
{
	char cmd[32];
	if (json_get_str(line, "cmd", cmd, sizeof cmd) < 0) {
		reply_error(c, "expected a JSON object with a \"cmd\" string");
		return;
	}
	if (!strcmp(cmd, "stats")) {
		struct sbuf b = {0};
		stats_json(&b);
		reply(c, b.p, b.len);
		free(b.p);
	} else if (!strcmp(cmd, "resize")) {
		uint64_t pages;
		if (json_get_u64(line, "pages", &pages) < 0 || pages < 1 || pages > (1ull << 40)) {
			reply_error(c, "resize needs \"pages\": a positive integer");
			return;
		}
		M.capacity = pages;
		logmsg("capacity set to %llu pages", (unsigned long long)pages);
		M.progress = true;
		evict_tick();
		c->waiting = W_RESIZE;
	} else if (!strcmp(cmd, "flush")) {
		redis_kick();
		c->waiting = W_FLUSH;
	} else {
		char msg[96];
		snprintf(msg, sizeof msg, "unknown command '%s' (stats, resize, flush)", cmd);
		reply_error(c, msg);
	}
}

static void close_client(struct client *c)
{
	for (struct client **pp = &clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	close(c->fd);
	free(c);
}

/* handle complete lines until the client has to wait */
static void process_input(struct client *c)
{
	while (!c->waiting) {
		char *nl = memchr(c->in, '\n', c->len);
		if (!nl)
			return;
		*nl = 0;
		handle_line(c, c->in);
		size_t used = (size_t)(nl - c->in) + 1;
		memmove(c->in, nl + 1, c->len - used);
		c->len -= used;
	}
}

void control_on_event(void *ptr, uint32_t events)
{
	struct client *c = ptr;
	(void)events;
	ssize_t n = recv(c->fd, c->in + c->len, sizeof c->in - c->len - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close_client(c);
		return;
	}
	c->len += (size_t)n;
	if (c->len == sizeof c->in - 1 && !memchr(c->in, '\n', c->len)) {
		reply_error(c, "request line too long");
		close_client(c);
		return;
	}
	process_input(c);
}

void control_tick(void)
{
	for (struct client *c = clients, *next; c; c = next) {
		next = c->next;
		if (c->waiting == W_RESIZE && resize_done()) {
			char out[64];
			snprintf(out, sizeof out, "{\"ok\":true,\"capacity\":%llu}\n", (unsigned long long)M.capacity);
			reply_str(c, out);
			c->waiting = W_NONE;
			process_input(c);
		} else if (c->waiting == W_FLUSH && flush_done()) {
			reply_str(c, "{\"ok\":true}\n");
			c->waiting = W_NONE;
			process_input(c);
		}
	}
}

void control_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct client *c = calloc(1, sizeof *c);
	if (!c) {
		close(fd);
		return;
	}
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	c->fd = fd;
	c->ep.kind = EP_CONTROL;
	c->ep.ptr = c;
	c->next = clients;
	clients = c;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ep};
	epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev);
}

int control_listen(const char *path, int type, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	if (strlen(path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket", path);
			return -1;
		}
		unlink(path); /* stale socket from a previous run */
	}
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
		return -1;
	}
	return fd;
}
