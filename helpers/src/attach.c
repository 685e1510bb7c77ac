/* attach.c -- libfluidmem-attach.so: hands one anonymous mapping of an unmodified process
 * (QEMU's guest RAM, or a host benchmark's working set) to fluidmem-monitor.
 *
 * Loaded with LD_PRELOAD. It interposes mmap/mmap64 and waits for the first mapping that
 * matches the capture rule chosen by env FLUIDMEM_CAPTURE:
 *   qemu (default)  MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS, writable, exactly
 *                   FLUIDMEM_REGION_BYTES: QEMU's guest RAM;
 *   anon            MAP_PRIVATE|MAP_ANONYMOUS (MAP_FIXED or not, never MAP_STACK), writable,
 *                   exactly FLUIDMEM_REGION_BYTES: e.g. pmbench's or memverify's working set
 *                   when the benchmark itself runs on the host (workloads/bin/pmbench-host).
 * Any other FLUIDMEM_CAPTURE value terminates the process at load time (exit 70). For the
 * captured mapping it
 *   1. disables THP (and later ignores QEMU's MADV_HUGEPAGE/MADV_MERGEABLE on it),
 *   2. creates a userfaultfd (MISSING mode, EVENT_REMOVE/UNMAP) and registers the region;
 *      creates a second one (MOVE, SIGBUS) that registers only a private staging area
 *      of FM_STAGING_PAGES pages, and a staging memfd of the same size shared with the
 *      monitor,
 *   3. connects to FLUIDMEM_SOCKET and sends both the region's uffd and the memfd
 *      (SCM_RIGHTS) with a JSON hello,
 *   4. starts the eviction agent thread, then returns the mapping to the caller.
 * The agent performs UFFDIO_MOVE on the monitor's behalf (the kernel only allows it
 * from a thread of the registered process), copies the moved pages into the memfd and
 * frees its staging slots; see proto.h. Staging lives on its own userfaultfd so that
 * freeing it posts no REMOVE event on the region's uffd (which made the monitor's
 * installs return EAGAIN), and a read of an unpopulated slot is an immediate SIGBUS
 * (UFFD_FEATURE_SIGBUS) instead of a fault nobody serves. The monitor never reads this
 * process's memory, so it needs no ptrace rights (Yama ptrace_scope is irrelevant).
 * Without FLUIDMEM_REGION_BYTES the library is inert.
 *
 * Fail closed: this library keeps its own reference to the uffd, so if the monitor
 * dies the kernel never falls back to zero pages; faulting threads block and the
 * watchdog thread sees the socket hang up and terminates the process (exit 70). If
 * the monitor cannot be reached at attach time the process exits the same way. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "json.h"
#include "proto.h"

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static mmap_fn real_mmap_p, real_mmap64_p;
static atomic_int captured;
static uintptr_t region_base, staging_base;
static unsigned char *staging_copy; /* the memfd, mapped shared */
static size_t region_len;
static int uffd = -1, stage_uffd = -1, sock = -1;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	dprintf(2, "fluidmem-attach: %s; terminating to avoid running with unmanaged guest memory\n", msg);
	_exit(FM_EXIT_CODE);
}

static size_t env_region_bytes(void)
{
	const char *s = getenv("FLUIDMEM_REGION_BYTES");
	if (!s || !*s)
		return 0;
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	return *end ? 0 : (size_t)v;
}

enum capture_mode { CAPTURE_QEMU, CAPTURE_ANON };

/* FLUIDMEM_CAPTURE: unset/empty or "qemu" -> CAPTURE_QEMU, "anon" -> CAPTURE_ANON; else dies. */
static enum capture_mode env_capture_mode(void)
{
	const char *s = getenv("FLUIDMEM_CAPTURE");
	if (!s || !*s || strcmp(s, "qemu") == 0)
		return CAPTURE_QEMU;
	if (strcmp(s, "anon") == 0)
		return CAPTURE_ANON;
	die("unknown FLUIDMEM_CAPTURE '%.64s' (expected 'qemu' or 'anon')", s);
}

/* A wrong capture mode would let the process run with unmanaged memory: refuse at load. */
__attribute__((constructor)) static void check_env(void)
{
	if (env_region_bytes())
		(void)env_capture_mode();
}

static int sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

static uint64_t probe_features(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0)
		die("userfaultfd() failed: %s", strerror(errno));
	struct uffdio_api api = {.api = UFFD_API, .features = 0};
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		die("UFFDIO_API failed: %s", strerror(errno));
	close(fd);
	return api.features;
}

static int new_uffd(uint64_t features, int flags)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | flags);
	if (fd < 0)
		die("userfaultfd() failed: %s", strerror(errno));
	struct uffdio_api api = {.api = UFFD_API, .features = features};
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		die("UFFDIO_API(features=0x%" PRIx64 ") failed: %s", features, strerror(errno));
	return fd;
}

static void register_range(int fd, uintptr_t start, size_t len, bool need_move)
{
	struct uffdio_register reg = {.range = {.start = start, .len = len},
				      .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0)
		die("UFFDIO_REGISTER failed: %s", strerror(errno));
	if (need_move && !(reg.ioctls & ((__u64)1 << _UFFDIO_MOVE)))
		die("kernel offers no UFFDIO_MOVE on the registered range");
}

static void send_all(const void *buf, size_t len)
{
	if (send(sock, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("lost connection to fluidmem-monitor (send: %s)", strerror(errno));
}

/* ---- agent: executes EVICT requests in order ---- */

/* Moves each page into its private staging slot (atomically: the guest cannot write it
 * halfway), copies it into the memfd slot the monitor reads, then frees the private slots
 * of the batch (no event: staging has its own uffd without EVENT_REMOVE). */
static void agent_evict(struct fm_hdr *h, struct fm_evict_ent *e)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t i = 0; i < h->count; i++)
		if (e[i].slot >= FM_STAGING_PAGES || e[i].page >= region_len / FM_PAGE_SIZE)
			die("EVICT names slot %u / page %" PRIu64 " outside staging / the region", e[i].slot,
			    (uint64_t)e[i].page);
	for (uint32_t i = 0; i < h->count; i++) {
		struct uffdio_move mv = {
			.dst = staging_base + (uint64_t)e[i].slot * FM_PAGE_SIZE,
			.src = region_base + e[i].page * FM_PAGE_SIZE,
			.len = FM_PAGE_SIZE,
			.mode = 0,
		};
		int st = 0;
		for (;;) {
			mv.move = 0;
			if (ioctl(stage_uffd, UFFDIO_MOVE, &mv) == 0) {
				st = 0;
				break;
			}
			if (errno == EAGAIN && mv.move <= 0) { /* mmap changing: event pending */
				sched_yield();
				continue;
			}
			st = errno;
			break;
		}
		e[i].status = st;
		if (st == 0) {
			memcpy(staging_copy + (size_t)e[i].slot * FM_PAGE_SIZE,
			       (const void *)(uintptr_t)mv.dst, FM_PAGE_SIZE);
			lo = e[i].slot < lo ? e[i].slot : lo;
			hi = e[i].slot + 1 > hi ? e[i].slot + 1 : hi;
		}
	}
	if (lo < hi && sys_madvise((void *)(staging_base + (uintptr_t)lo * FM_PAGE_SIZE),
				   (size_t)(hi - lo) * FM_PAGE_SIZE, MADV_DONTNEED) < 0)
		die("madvise(staging, DONTNEED) failed: %s", strerror(errno));
	h->type = FM_EVICTED;
	send_all(h, sizeof *h + h->count * sizeof *e);
}

static void *agent_main(void *arg)
{
	(void)arg;
	static _Alignas(8) unsigned char buf[FM_MSG_MAX];
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof buf, 0);
		if (n == 0)
			die("lost connection to fluidmem-monitor (it closed the connection)");
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("lost connection to fluidmem-monitor (recv: %s)", strerror(errno));
		}
		struct fm_hdr *h = (struct fm_hdr *)buf;
		if ((size_t)n < sizeof *h)
			die("short message from fluidmem-monitor");
		if (h->type == FM_EVICT) {
			if (h->count > FM_BATCH_MAX ||
			    (size_t)n != sizeof *h + h->count * sizeof(struct fm_evict_ent))
				die("malformed EVICT message");
			agent_evict(h, (struct fm_evict_ent *)(h + 1));
		} else {
			die("unknown message type %u from fluidmem-monitor", h->type);
		}
	}
	return NULL;
}

/* The agent may be blocked (e.g. in UFFDIO_MOVE or a send); this thread notices a dead
 * monitor regardless. */
static void *watchdog_main(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p = {.fd = sock, .events = POLLRDHUP};
		int r = poll(&p, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p.revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL)))
			die("lost connection to fluidmem-monitor (handler died?)");
	}
	return NULL;
}

static void start_thread(void *(*fn)(void *))
{
	pthread_t t;
	pthread_attr_t a;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old); /* QEMU's signals stay with QEMU's threads */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, 256 * 1024);
	int rc = pthread_create(&t, &a, fn, NULL);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		die("pthread_create failed: %s", strerror(rc));
}

static void attach_region(void *addr, size_t len)
{
	const char *path = getenv("FLUIDMEM_SOCKET");
	const char *vmid = getenv("FLUIDMEM_VM_ID");
	char vmid_esc[256], buf[FM_HELLO_MAX];
	if (!path || !*path)
		die("FLUIDMEM_SOCKET is not set");
	if (!vmid || !*vmid)
		vmid = "vm";
	json_quote(vmid_esc, sizeof vmid_esc, vmid);

	region_base = (uintptr_t)addr;
	region_len = len;
	if (sys_madvise(addr, len, MADV_NOHUGEPAGE) < 0)
		die("madvise(NOHUGEPAGE) failed: %s", strerror(errno));

	uint64_t have = probe_features();
	if (!(have & UFFD_FEATURE_MOVE))
		die("kernel lacks UFFD_FEATURE_MOVE (needs Linux >= 6.8)");
	if (!(have & UFFD_FEATURE_SIGBUS))
		die("kernel lacks UFFD_FEATURE_SIGBUS");
	/* WP_ASYNC (issue 11): the monitor installs fetched pages write-protected; a write is
	 * resolved in the kernel (no message) and marks the page written for its PAGEMAP_SCAN */
	uint64_t want = have & (UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_WP_ASYNC);
	uffd = new_uffd(want, O_NONBLOCK);
	stage_uffd = new_uffd(UFFD_FEATURE_MOVE | UFFD_FEATURE_SIGBUS, 0);

	size_t slen = (size_t)FM_STAGING_PAGES * FM_PAGE_SIZE;
	void *st = real_mmap_p(NULL, slen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		die("mmap(staging) failed: %s", strerror(errno));
	staging_base = (uintptr_t)st;
	sys_madvise(st, slen, MADV_NOHUGEPAGE);
	register_range(uffd, region_base, len, false);
	if (want & UFFD_FEATURE_WP_ASYNC) { /* again, adding write-protect (async) mode */
		struct uffdio_register wp = {.range = {.start = region_base, .len = len},
					     .mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP};
		if (ioctl(uffd, UFFDIO_REGISTER, &wp) < 0)
			die("UFFDIO_REGISTER(MISSING|WP) failed: %s", strerror(errno));
	}
	register_range(stage_uffd, staging_base, slen, true);

	int memfd = (int)syscall(SYS_memfd_create, "fluidmem-staging", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		die("memfd_create(staging) failed: %s", strerror(errno));
	if (ftruncate(memfd, (off_t)slen) < 0)
		die("ftruncate(staging memfd) failed: %s", strerror(errno));
	fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	void *sc = real_mmap_p(NULL, slen, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (sc == MAP_FAILED)
		die("mmap(staging memfd) failed: %s", strerror(errno));
	staging_copy = sc;

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		die("socket() failed: %s", strerror(errno));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		die("FLUIDMEM_SOCKET path too long: %s", path);
	strcpy(sa.sun_path, path);
	if (connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("cannot reach fluidmem-monitor at %s: %s", path, strerror(errno));

	int n = snprintf(buf, sizeof buf,
			 "{\"vm_id\":%s,\"pid\":%d,\"base\":%" PRIuPTR ",\"size\":%zu,"
			 "\"page_size\":%u,\"staging_pages\":%u,\"features\":%" PRIu64 "}",
			 vmid_esc, (int)getpid(), region_base, len, FM_PAGE_SIZE, FM_STAGING_PAGES, want);
	int fds[2] = {uffd, memfd};
	union {
		char b[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			    .msg_controllen = sizeof cbuf.b};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(cm), fds, sizeof fds);
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != n)
		die("sending hello to fluidmem-monitor failed: %s", strerror(errno));
	close(memfd); /* the mapping keeps it */

	struct timeval tv = {.tv_sec = 30};
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t r = recv(sock, buf, sizeof buf - 1, 0);
	if (r <= 0)
		die("no answer from fluidmem-monitor at %s: %s", path, r == 0 ? "closed" : strerror(errno));
	buf[r] = 0;
	if (!strstr(buf, "\"ok\":true"))
		die("fluidmem-monitor refused the region: %s", buf);
	tv.tv_sec = 0;
	setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	start_thread(agent_main);
	start_thread(watchdog_main);
}

static void resolve(void)
{
	if (!real_mmap_p)
		real_mmap_p = (mmap_fn)dlsym(RTLD_NEXT, "mmap");
	if (!real_mmap64_p)
		real_mmap64_p = (mmap_fn)dlsym(RTLD_NEXT, "mmap64");
	if (!real_mmap64_p)
		real_mmap64_p = real_mmap_p;
}

static void *maybe_capture(void *p, size_t len, int prot, int flags)
{
	if (p == MAP_FAILED || !(prot & PROT_WRITE) || atomic_load(&captured))
		return p;
	size_t want = env_region_bytes();
	if (!want || len != want)
		return p;
	int need = MAP_ANONYMOUS;
	if (env_capture_mode() == CAPTURE_QEMU)
		need |= MAP_FIXED;
	else if (flags & MAP_STACK) /* a thread stack of the same size is never the working set */
		return p;
	if ((flags & MAP_TYPE) != MAP_PRIVATE || (flags & need) != need)
		return p;
	int expected = 0;
	if (!atomic_compare_exchange_strong(&captured, &expected, 1))
		return p;
	attach_region(p, len);
	return p;
}

__attribute__((visibility("default"))) void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	resolve();
	return maybe_capture(real_mmap_p(addr, len, prot, flags, fd, off), len, prot, flags);
}

__attribute__((visibility("default"))) void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	resolve();
	return maybe_capture(real_mmap64_p(addr, len, prot, flags, fd, off), len, prot, flags);
}

/* QEMU asks for THP and KSM on guest RAM; both would defeat 4 KiB UFFDIO_MOVE. */
__attribute__((visibility("default"))) int madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr;
	if (atomic_load(&captured) && region_len && a < region_base + region_len &&
	    a + len > region_base && (advice == MADV_HUGEPAGE || advice == MADV_MERGEABLE))
		return 0;
	return sys_madvise(addr, len, advice);
}
