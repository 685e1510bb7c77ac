/* hello.c -- the attach listener: accepts connections, reads each one's hello, checks it
 * against what the kernel says about the peer, and hands a verified region to vm_create().
 *
 * Nothing in the hello is trusted (see proto.h):
 *   - the peer is the process SO_PEERCRED names; the monitor holds a pidfd of it
 *     (SO_PEERPIDFD, else pidfd_open) and refuses a hello whose "pid" differs (unless the
 *     peer lives in another pid namespace, where its own number differs by design);
 *   - the first descriptor must be a userfaultfd (/proc/self/fd/N is
 *     "anon_inode:[userfaultfd]"), the second a regular file on tmpfs (a memfd: pread()
 *     of it can neither block on another process nor raise SIGBUS in the monitor);
 *   - [base, base+size) must be covered by private, writable, anonymous mappings of the
 *     peer (/proc/PID/maps), and the peer must still be alive after that was read;
 *   - at most FM_HELLO_MAX bytes, exactly two descriptors, at most FM_MAX_ATTACHED
 *     attached processes, FM_MAX_PENDING_HELLOS connections waiting for their hello, each
 *     closed after FM_HELLO_TIMEOUT_MS without one, regions of at most FM_REGION_MAX.
 * A refused hello gets {"ok":false,"error":"..."} and the connection is closed; the
 * monitor and every attached VM carry on. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "json.h"
#include "backend.h"
#include "monitor.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#define HELLO_FDS_MAX 8

struct hello_conn {
	int fd;
	uint64_t deadline_ns;
	struct epref ep;
	struct hello_conn *next;
};

static struct hello_conn *pending;
static unsigned npending;

static void hello_close(struct hello_conn *h)
{
	for (struct hello_conn **pp = &pending; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	npending--;
	epoll_ctl(M.epfd, EPOLL_CTL_DEL, h->fd, NULL);
	close(h->fd);
	free(h);
}

static unsigned attached_count(void)
{
	unsigned n = 0;
	for (struct vm *v = M.vms; v; v = v->next)
		n += !v->dead;
	return n;
}

void hello_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		if (npending >= FM_MAX_PENDING_HELLOS) {
			logmsg("refused attach: %u connections already wait for their hello", npending);
			close(fd);
			continue;
		}
		struct hello_conn *h = calloc(1, sizeof *h);
		if (!h) {
			close(fd);
			continue;
		}
		h->fd = fd;
		h->deadline_ns = now_ns() + (uint64_t)FM_HELLO_TIMEOUT_MS * 1000000ull;
		h->ep.kind = EP_HELLO;
		h->ep.ptr = h;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &h->ep};
		if (epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			logmsg("refused attach: epoll_ctl: %s", strerror(errno));
			close(fd);
			free(h);
			continue;
		}
		h->next = pending;
		pending = h;
		npending++;
	}
}

int hello_timeout_ms(void)
{
	if (!pending)
		return -1;
	uint64_t now = now_ns(), first = UINT64_MAX;
	for (struct hello_conn *h = pending; h; h = h->next)
		if (h->deadline_ns < first)
			first = h->deadline_ns;
	return first <= now ? 0 : (int)((first - now) / 1000000ull) + 1;
}

void hello_expire(void)
{
	uint64_t now = now_ns();
	for (struct hello_conn *h = pending, *next; h; h = next) {
		next = h->next;
		if (h->deadline_ns <= now) {
			logmsg("refused attach: no hello within %d ms", FM_HELLO_TIMEOUT_MS);
			hello_close(h);
		}
	}
}

/* ---- checks ---- */

static bool is_userfaultfd(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return strcmp(link, "anon_inode:[userfaultfd]") == 0;
}

static bool is_tmpfs_file(int fd, char *err, size_t errlen)
{
	struct stat st;
	struct statfs sf;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sf) < 0) {
		snprintf(err, errlen, "cannot stat the staging descriptor: %s", strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode) || (unsigned long)sf.f_type != TMPFS_MAGIC) {
		snprintf(err, errlen, "the second descriptor is not a memfd (a regular tmpfs file)");
		return false;
	}
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
		snprintf(err, errlen, "the staging memfd is not readable");
		return false;
	}
	return true;
}

/* Reads /proc/PID/maps (at most 16 MiB) into a NUL-terminated buffer, or NULL. */
static char *read_maps(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 64 * 1024, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 4096 + 1 > cap) {
			if (cap >= 16u << 20) {
				free(buf);
				buf = NULL;
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			buf = NULL;
			break;
		}
		if (n == 0) {
			buf[len] = 0;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	return buf;
}

/* True if [lo, hi) is covered, without gaps, by private writable anonymous mappings
 * ("rw-p", no file: device 00:00, inode 0, no path other than an [anon:NAME] label). */
static bool anon_rw_covers(const char *maps, uint64_t lo, uint64_t hi)
{
	uint64_t cursor = lo;
	for (const char *l = maps; *l && cursor < hi;) {
		const char *eol = strchr(l, '\n');
		size_t ll = eol ? (size_t)(eol - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)(ll < sizeof line - 1 ? ll : sizeof line - 1), l);
		l = eol ? eol + 1 : l + ll;
		unsigned long long s, e, off, ino;
		char perms[8], dev[16];
		int name = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %15s %llu %n", &s, &e, perms, &off, dev, &ino, &name) < 6)
			continue;
		if (e <= cursor || s > cursor)
			continue; /* maps are sorted: skip lines before the cursor */
		const char *path = name ? line + name : "";
		bool anon = strcmp(dev, "00:00") == 0 && ino == 0 && (!*path || strncmp(path, "[anon:", 6) == 0);
		if (strcmp(perms, "rw-p") != 0 || !anon)
			return false;
		cursor = e;
	}
	return cursor >= hi;
}

/* True if pid lives in the monitor's pid namespace (then its getpid() is our pid for it). */
static bool same_pid_ns(pid_t pid)
{
	char path[64];
	struct stat a, b;
	snprintf(path, sizeof path, "/proc/%d/ns/pid", (int)pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/pid", &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static bool peer_alive(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	return poll(&p, 1, 0) == 0; /* a pidfd polls readable once its process has exited */
}

/* A reattach (proto.h) resumes a VM whose previous monitor died: only a monitor that can
 * find its pages (same Redis key nonce, durable backend) and that did not drop it itself. */
static bool verify_reattach(const char *text, const struct hello *h, char *err, size_t errlen)
{
	char inst[64] = "", nonce[64] = "";
	json_get_str(text, "instance", inst, sizeof inst);
	json_get_str(text, "nonce", nonce, sizeof nonce);
	if (!(BE->caps & BC_REMOTE)) {
		snprintf(err, errlen, "cannot resume vm '%s': the %s backend keeps evicted pages in the monitor's "
			 "memory, so they died with the previous monitor process", h->id, BE->name);
		return false;
	}
	if (!strcmp(inst, M.instance)) {
		snprintf(err, errlen, "this monitor detached vm '%s' for good earlier; it cannot reattach", h->id);
		return false;
	}
	if (strcmp(nonce, BE->nonce()) != 0) {
		snprintf(err, errlen, "cannot resume vm '%s': its pages are under key nonce '%.20s', this monitor uses "
			 "'%s' (start it with FLUIDMEM_KEY_NONCE=%.20s)", h->id, nonce, BE->nonce(), nonce);
		return false;
	}
	return is_tmpfs_file(h->statefd, err, errlen);
}

/* Fills *out from the hello text and the peer's kernel-reported identity; false + err
 * if anything does not hold. Takes no ownership (the caller closes on failure). */
static bool verify(int sock, const char *text, struct hello *out, char *err, size_t errlen)
{
	struct ucred cr;
	socklen_t cl = sizeof cr;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.pid <= 0) {
		snprintf(err, errlen, "cannot identify the peer (SO_PEERCRED: %s)", strerror(errno));
		return false;
	}
	out->pid = cr.pid;
	int pidfd = -1;
	socklen_t pl = sizeof pidfd;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &pl) < 0)
		pidfd = (int)syscall(SYS_pidfd_open, cr.pid, 0); /* kernels before 6.5 */
	if (pidfd < 0) {
		snprintf(err, errlen, "cannot hold the peer (pidfd of %d: %s)", (int)cr.pid, strerror(errno));
		return false;
	}
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	out->pidfd = pidfd;

	uint64_t pid, psz, spages;
	if (json_get_str(text, "vm_id", out->id, sizeof out->id) < 0 ||
	    json_get_u64(text, "base", &out->base) < 0 || json_get_u64(text, "size", &out->size) < 0 ||
	    json_get_u64(text, "page_size", &psz) < 0 || json_get_u64(text, "staging_pages", &spages) < 0) {
		snprintf(err, errlen, "malformed hello");
		return false;
	}
	if (strlen(out->id) >= sizeof out->id - 1 || !out->id[0]) {
		snprintf(err, errlen, "vm_id must be 1 to %zu bytes", sizeof out->id - 2);
		return false;
	}
	/* a peer in another pid namespace knows itself by another number: only the kernel's counts */
	if (json_get_u64(text, "pid", &pid) == 0 && pid != (uint64_t)cr.pid && same_pid_ns(cr.pid)) {
		snprintf(err, errlen, "hello names pid %llu but the peer is pid %d", (unsigned long long)pid,
			 (int)cr.pid);
		return false;
	}
	uint64_t base = out->base, size = out->size;
	if (psz != FM_PAGE_SIZE || size == 0 || size % FM_PAGE_SIZE || size > FM_REGION_MAX ||
	    spages != FM_STAGING_PAGES || base % FM_PAGE_SIZE || base + size < base) {
		snprintf(err, errlen, "unsupported region (page size %llu, size %llu, staging %llu; at most %llu bytes)",
			 (unsigned long long)psz, (unsigned long long)size, (unsigned long long)spages,
			 (unsigned long long)FM_REGION_MAX);
		return false;
	}
	if (!is_userfaultfd(out->uffd)) {
		snprintf(err, errlen, "the first descriptor is not a userfaultfd");
		return false;
	}
	if (!is_tmpfs_file(out->memfd, err, errlen))
		return false;
	if (out->reattach && !verify_reattach(text, out, err, errlen))
		return false;
	char *maps = read_maps(cr.pid);
	if (!maps) {
		snprintf(err, errlen, "cannot read /proc/%d/maps: %s", (int)cr.pid, strerror(errno));
		return false;
	}
	bool ok = anon_rw_covers(maps, base, base + size);
	free(maps);
	if (!ok) {
		snprintf(err, errlen, "[0x%llx, 0x%llx) is not private anonymous writable memory of pid %d",
			 (unsigned long long)base, (unsigned long long)(base + size), (int)cr.pid);
		return false;
	}
	if (!peer_alive(pidfd)) {
		snprintf(err, errlen, "pid %d exited during its hello", (int)cr.pid);
		return false;
	}
	return true;
}

static void hello_reply(int fd, const char *msg)
{
	send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void hello_on_event(void *ptr)
{
	struct hello_conn *h = ptr;
	char buf[FM_HELLO_MAX + 1];
	union {
		char b[CMSG_SPACE(sizeof(int) * HELLO_FDS_MAX)];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = buf, .iov_len = FM_HELLO_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b};
	ssize_t n = recvmsg(h->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* one message decides: the socket leaves the epoll set (vm_create re-adds it) */
	epoll_ctl(M.epfd, EPOLL_CTL_DEL, h->fd, NULL);
	int fds[HELLO_FDS_MAX], nfd = 0;
	if (n >= 0) /* the control buffer is only meaningful after a successful recvmsg */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(0))
				continue;
			size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k && nfd < HELLO_FDS_MAX; i++)
				memcpy(&fds[nfd++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
		}
	buf[n > 0 ? n : 0] = 0;
	char err[300] = "";
	struct hello hl = {.uffd = -1, .memfd = -1, .pidfd = -1, .statefd = -1};
	struct vm *vm = NULL;
	if (n < 0)
		snprintf(err, sizeof err, "reading the hello: %s", strerror(errno));
	else if (n == 0)
		snprintf(err, sizeof err, "no hello");
	else if (mh.msg_flags & MSG_TRUNC)
		snprintf(err, sizeof err, "hello longer than %d bytes", FM_HELLO_MAX);
	else if (mh.msg_flags & MSG_CTRUNC)
		snprintf(err, sizeof err, "hello carried too many descriptors");
	else if (nfd != 2 + (strstr(buf, "\"reattach\":1") != NULL))
		snprintf(err, sizeof err, "hello must carry 2 descriptors (userfaultfd, staging memfd; a reattach "
			 "also its state memfd), got %d", nfd);
	else if (attached_count() >= FM_MAX_ATTACHED)
		snprintf(err, sizeof err, "already %d attached processes (the limit)", FM_MAX_ATTACHED);
	else {
		buf[n] = 0;
		hl.uffd = fds[0];
		hl.memfd = fds[1];
		hl.reattach = nfd == 3;
		hl.statefd = nfd == 3 ? fds[2] : -1;
		if (memchr(buf, 0, (size_t)n))
			snprintf(err, sizeof err, "hello contains a NUL byte");
		else if (verify(h->fd, buf, &hl, err, sizeof err))
			vm = vm_create(h->fd, &hl, err, sizeof err);
	}
	if (vm) {
		/* the vm owns the socket and the three descriptors now */
		for (struct hello_conn **pp = &pending; *pp; pp = &(*pp)->next)
			if (*pp == h) {
				*pp = h->next;
				break;
			}
		npending--;
		free(h);
		char ok[160];
		snprintf(ok, sizeof ok, "{\"ok\":true,\"instance\":\"%s\",\"nonce\":\"%s\",\"durable\":%s}", M.instance,
			 BE->nonce(), BE->caps & BC_REMOTE ? "true" : "false");
		hello_reply(vm->sock, ok);
		return;
	}
	char q[400], out[480], who[32] = "";
	if (hl.pid)
		snprintf(who, sizeof who, " from pid %d", (int)hl.pid);
	logmsg("refused attach%s: %s", who, err);
	json_quote(q, sizeof q, err);
	snprintf(out, sizeof out, "{\"ok\":false,\"error\":%s}", q);
	hello_reply(h->fd, out);
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	if (hl.pidfd >= 0)
		close(hl.pidfd);
	hello_close(h);
}
