/* control.c -- the control socket: one JSON object per line in, one per line out.
 *
 *   {"cmd":"stats"}            -> {"ok":true,"capacity":N,...,"total":{..},"vms":[..]}
 *   {"cmd":"resize","pages":N} -> {"ok":true,"capacity":N} (N >= FM_CAPACITY_MIN, else an
 *                                 error and the capacity is unchanged), sent once the resident set
 *                                 (incl. in-flight placements and evictions) fits N
 *   {"cmd":"flush"}            -> {"ok":true}, once no eviction is in flight and the
 *                                 write-behind queue is empty
 *   anything else              -> {"ok":false,"error":"..."}
 * A client waiting for resize/flush is re-checked after every loop iteration
 * (control_tick); later requests from the same client wait behind it.
 *
 * Nothing here may block the monitor's one thread (it also serves every VM's faults):
 * sockets are non-blocking and each client has an output buffer, written as the socket
 * drains (EPOLLOUT). A client that does not read its replies is dropped once more than
 * CTL_OUT_MAX bytes wait for it. A client whose input buffer is full (it is waiting for
 * resize/flush and queued more) is not polled for input until lines are consumed. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
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
#include "backend.h"
#include "monitor.h"
#include "spin.h"
#include "wp.h"

enum { W_NONE, W_RESIZE, W_FLUSH };
#define CTL_OUT_MAX (4u << 20) /* bytes of unread replies before a client is dropped */
#define CTL_CLIENTS_MAX 256

struct sbuf { char *p; size_t len, cap; };

struct client {
	int fd;
	struct epref ep;
	char in[8192];
	size_t len;
	int waiting;
	struct sbuf out;   /* replies not yet written */
	size_t out_off;    /* bytes of out already written */
	uint32_t events;   /* the epoll interest registered now */
	bool dead;         /* dropped: freed by control_tick */
	struct client *next;
};

static struct client *clients;
static unsigned nclients;

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
		  "\"queue_hits\":%llu,\"bytes_written\":%llu,\"bytes_read\":%llu,\"adopted_pages\":%llu,"
		  "\"fault_latency_ns\":%s",
		  (unsigned long long)c->faults, (unsigned long long)c->zero_fills,
		  (unsigned long long)c->remote_fetches, (unsigned long long)c->evictions,
		  (unsigned long long)c->backend_writes, (long long)c->resident_pages,
		  (long long)c->remote_pages, (long long)c->evicting_pages, (long long)c->fetching_pages,
		  (unsigned long long)c->removed_pages, (unsigned long long)c->queue_hits,
		  (unsigned long long)c->bytes_written, (unsigned long long)c->bytes_read,
		  (unsigned long long)c->adopted_pages, h);
	/* issue 11: prefetch and clean-page counters */
	sb_printf(b, ",\"prefetch_issued\":%llu,\"prefetch_hits\":%llu,\"prefetch_wasted\":%llu,"
		  "\"prefetch_buffered\":%lld,\"clean_drops\":%llu,\"write_zero_fills\":%llu",
		  (unsigned long long)c->prefetch_issued, (unsigned long long)c->prefetch_hits,
		  (unsigned long long)c->prefetch_wasted, (long long)c->prefetch_buffered,
		  (unsigned long long)c->clean_drops, (unsigned long long)c->write_zero_fills);
}

/* The monitor's scheduling policy, recorded with its latencies ("other", "fifo:PRIO",
 * "rr:PRIO", "batch", "idle", "deadline", else "policy:N"): under SCHED_OTHER a VM woken by UFFDIO_COPY on the monitor's
 * CPU may preempt it inside the ioctl, so the handler-side latency then includes that VM's
 * (and any other runnable task's) time before the ioctl returns (bench/fault-latency). */
static const char *sched_name(void)
{
	static char name[24];
	struct sched_param sp = {0};
	int pol = sched_getscheduler(0);
	sched_getparam(0, &sp);
	if (pol >= 0)
		pol &= ~SCHED_RESET_ON_FORK; /* a flag the kernel reports with the policy */
	switch (pol) {
	case SCHED_OTHER: return "other";
	case SCHED_FIFO: snprintf(name, sizeof name, "fifo:%d", sp.sched_priority); break;
	case SCHED_RR: snprintf(name, sizeof name, "rr:%d", sp.sched_priority); break;
	case SCHED_BATCH: return "batch";
	case SCHED_IDLE: return "idle";
	case 6: return "deadline"; /* SCHED_DEADLINE */
	default: snprintf(name, sizeof name, "policy:%d", pol); break;
	}
	return name;
}

static void stats_json(struct sbuf *b)
{
	size_t meta = BE->meta_bytes ? BE->meta_bytes() : 0;
	uint64_t tracked = 0;
	for (struct vm *v = M.vms; v; v = v->next)
		if (!v->dead) {
			meta += vm_meta_bytes(v);
			tracked += v->npages;
		}
	sb_printf(b, "{\"ok\":true,\"capacity\":%llu,\"backend\":\"%s\",\"tracked_pages\":%llu,"
		     "\"meta_bytes\":%zu,\"bytes_per_tracked_page\":%.2f,\"total\":{",
		  (unsigned long long)M.capacity, BE->stats_name,
		  (unsigned long long)tracked, meta, tracked ? (double)meta / (double)tracked : 0.0);
	counters_json(b, &M.total);
	char fast[512], clean[512], pf[256];
	spin_stats_json(fast, sizeof fast);
	wp_stats_json(clean, sizeof clean);
	vm_prefetch_stats_json(pf, sizeof pf);
	sb_printf(b, "},\"spin\":%s,\"clean_tracking\":%s,\"prefetch\":%s,\"sched\":\"%s\",\"vms\":[", fast, clean,
		  pf, sched_name());
	int first = 1;
	for (struct vm *v = M.vms; v; v = v->next) {
		if (v->dead)
			continue;
		char id[300];
		json_quote(id, sizeof id, v->id);
		sb_printf(b, "%s{\"id\":%s,\"pid\":%d,\"region_bytes\":%llu,\"tracked_pages\":%u,\"meta_bytes\":%zu,"
			     "\"reattached\":%s,",
			  first ? "" : ",", id, v->pid, (unsigned long long)v->size, v->npages, vm_meta_bytes(v),
			  v->reattached ? "true" : "false");
		counters_json(b, &v->c);
		sb_printf(b, "}");
		first = 0;
	}
	char cl[512];
	if (BE->stats_json && BE->stats_json(cl, sizeof cl) > 0) /* redis-cluster://: redirects, stalls, WAITs */
		sb_printf(b, "],\"cluster\":%s}\n", cl);
	else
		sb_printf(b, "]}\n");
}

/* Marks the client dropped (closed and freed by control_tick, so no caller up the stack
 * touches freed memory). */
static void drop_client(struct client *c, const char *why)
{
	if (c->dead)
		return;
	if (why)
		logmsg("control client dropped: %s", why);
	epoll_ctl(M.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->dead = true;
}

/* input while the input buffer has room, output while replies wait */
static void set_events(struct client *c)
{
	uint32_t want = (c->len < sizeof c->in - 1 ? EPOLLIN : 0) | (c->out.len > c->out_off ? EPOLLOUT : 0);
	if (c->dead || c->events == want)
		return;
	struct epoll_event ev = {.events = want, .data.ptr = &c->ep};
	if (epoll_ctl(M.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		drop_client(c, "epoll_ctl failed");
		return;
	}
	c->events = want;
}

/* Writes what the socket takes now; the rest waits for EPOLLOUT. */
static void flush_out(struct client *c)
{
	while (!c->dead && c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			drop_client(c, NULL); /* went away */
			return;
		}
		c->out_off += (size_t)n;
	}
	if (c->dead)
		return;
	if (c->out_off == c->out.len) {
		c->out.len = c->out_off = 0;
		if (c->out.cap > 65536) { /* do not keep a big stats buffer per idle client */
			free(c->out.p);
			c->out = (struct sbuf){0};
		}
	}
	set_events(c);
}

static void reply(struct client *c, const char *s, size_t len)
{
	if (c->dead)
		return;
	if (c->out.len - c->out_off + len > CTL_OUT_MAX) {
		drop_client(c, "it does not read its replies");
		return;
	}
	if (c->out_off && c->out_off == c->out.len)
		c->out.len = c->out_off = 0;
	sb_grow(&c->out, len);
	memcpy(c->out.p + c->out.len, s, len);
	c->out.len += len;
	flush_out(c);
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
static bool flush_done(void) { return evictions_idle() && BE->pending() == 0; }

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
		if (json_get_u64(line, "pages", &pages) < 0 || pages > (1ull << 40)) {
			reply_error(c, "resize needs \"pages\": a positive integer");
			return;
		}
		if (pages < FM_CAPACITY_MIN) {
			char msg[160];
			snprintf(msg, sizeof msg, "resize to %llu pages refused: at least %d pages (one access can need "
				 "several pages resident at once; fewer thrash forever)", (unsigned long long)pages,
				 FM_CAPACITY_MIN);
			reply_error(c, msg);
			return;
		}
		M.capacity = pages;
		logmsg("capacity set to %llu pages", (unsigned long long)pages);
		M.progress = true;
		evict_tick();
		c->waiting = W_RESIZE;
	} else if (!strcmp(cmd, "flush")) {
		BE->kick();
		c->waiting = W_FLUSH;
	} else {
		char msg[96];
		snprintf(msg, sizeof msg, "unknown command '%s' (stats, resize, flush)", cmd);
		reply_error(c, msg);
	}
}

/* handle complete lines until the client has to wait for resize/flush */
static void process_input(struct client *c)
{
	while (!c->dead && !c->waiting) {
		char *nl = memchr(c->in, '\n', c->len);
		if (!nl)
			return;
		*nl = 0;
		handle_line(c, c->in);
		size_t used = (size_t)(nl - c->in) + 1;
		memmove(c->in, nl + 1, c->len - used);
		c->len -= used;
	}
	if (!c->dead)
		set_events(c);
}

void control_on_event(void *ptr, uint32_t events)
{
	struct client *c = ptr;
	if (c->dead)
		return;
	if (events & EPOLLOUT)
		flush_out(c);
	if (c->dead)
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->len == sizeof c->in - 1) {
		if (events & (EPOLLHUP | EPOLLERR))
			drop_client(c, NULL); /* gone while its input waited */
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->len, sizeof c->in - c->len - 1, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		drop_client(c, NULL);
		return;
	}
	c->len += (size_t)n;
	if (c->len == sizeof c->in - 1 && !memchr(c->in, '\n', c->len)) {
		reply_error(c, "request line too long");
		flush_out(c);
		drop_client(c, NULL);
		return;
	}
	process_input(c);
}

void control_tick(void)
{
	for (struct client **pp = &clients; *pp;) {
		struct client *c = *pp;
		if (c->dead) {
			*pp = c->next;
			free(c->out.p);
			free(c);
			nclients--;
		} else {
			pp = &c->next;
		}
	}
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
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct client *c = nclients < CTL_CLIENTS_MAX ? calloc(1, sizeof *c) : NULL;
	if (!c) {
		logmsg("control client refused: %s", nclients >= CTL_CLIENTS_MAX ? "too many clients" : "out of memory");
		close(fd);
		return;
	}
	c->fd = fd;
	c->ep.kind = EP_CONTROL;
	c->ep.ptr = c;
	c->events = EPOLLIN;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->ep};
	if (epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logmsg("control client refused: epoll_ctl: %s", strerror(errno));
		close(fd);
		free(c);
		return;
	}
	c->next = clients;
	clients = c;
	nclients++;
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
