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
 *   4. starts the eviction agent thread (on the CPUs of env FLUIDMEM_AGENT_CPUS if set), then
 *      returns the mapping to the caller.
 * The agent performs UFFDIO_MOVE on the monitor's behalf (the kernel only allows it
 * from a thread of the registered process; one ioctl per run of consecutive pages bound
 * for consecutive slots), copies the moved pages into the memfd and frees its staging
 * slots with one madvise per batch; see proto.h. Staging lives on its own userfaultfd so that
 * freeing it posts no REMOVE event on the region's uffd (which made the monitor's
 * installs return EAGAIN), and a read of an unpopulated slot is an immediate SIGBUS
 * (UFFD_FEATURE_SIGBUS) instead of a fault nobody serves. The monitor never reads this
 * process's memory, so it needs no ptrace rights (Yama ptrace_scope is irrelevant).
 * Without FLUIDMEM_REGION_BYTES the library is inert.
 *
 * Fail closed: this library keeps its own reference to the uffd, so if the monitor
 * dies the kernel never falls back to zero pages; faulting threads block. If the
 * monitor cannot be reached at attach time the process exits 70.
 *
 * Restart without loss (proto.h): when the connection hangs up without FM_BYE and the
 * monitor said its backend is durable (Redis), the agent keeps the uffd, reconnects to
 * the same FLUIDMEM_SOCKET for FLUIDMEM_RECONNECT_TIMEOUT seconds (default 30; 0 = never)
 * and sends a reattach hello: the same vm id, the previous monitor's instance and key
 * nonce, and a state memfd with its staged slots (the entries of the last EVICT of each
 * area, oldest first) and its resident map (/proc/self/pagemap: present or swapped).
 * Otherwise (dram, FM_BYE, refusal, timeout) it exits 70 as before. The library also
 * interposes madvise: MADV_DONTNEED / MADV_REMOVE / MADV_DONTNEED_LOCKED on the region
 * first sends FM_DISCARD and waits for FM_DISCARDED (the keys' deletion acknowledged),
 * so a restarted monitor never finds a discarded page's old content in Redis. */
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
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
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
static int uffd = -1, stage_uffd = -1, sock = -1, staging_fd = -1;

/* Connection state, guarded by mu (sends happen under it too, so the fd never changes
 * under a sender). The agent thread is the only reader and the only one reconnecting. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool connected;
static uint64_t conn_gen;
static char mon_instance[64], mon_nonce[64];
static bool mon_durable;
static long reconnect_s = 30;
static const char *sock_path, *vm_id;
static uint64_t uffd_features;

/* the last EVICT executed per staging area: what the memfd holds (proto.h) */
static struct area_rec {
	uint64_t seq;
	uint32_t n;
	struct fm_staged e[FM_BATCH_MAX];
} areas[FM_AREAS];

/* madvise discards waiting for FM_DISCARDED */
struct pending_discard {
	uint64_t seq, first, count, sent_gen;
	bool done;
	struct pending_discard *next;
};
static struct pending_discard *discards;
static uint64_t discard_seq;

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

/* The agent copies staged pages by hand (copy_staged): FLUIDMEM_AGENT_COPY=memcpy, or a
 * seccomp filter is installed (one may kill the process for a process_vm_readv rather than
 * refuse it; QEMU's -sandbox, systemd's SystemCallFilter=), or the call was refused. */
static bool copy_by_hand;

/* Whether a seccomp filter confines this process ("Seccomp:" 2 in /proc/self/status). */
static bool seccomp_filtered(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	bool filtered = false;
	if (!f)
		return true; /* cannot tell: take the safe path */
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "Seccomp:", 8) == 0) {
			filtered = atoi(line + 8) != 0;
			break;
		}
	fclose(f);
	return filtered;
}

/* A wrong capture mode would let the process run with unmanaged memory: refuse at load.
 * The environment is read here, before the process can have threads. */
__attribute__((constructor)) static void check_env(void)
{
	if (env_region_bytes())
		(void)env_capture_mode();
	const char *e = getenv("FLUIDMEM_AGENT_COPY");
	copy_by_hand = e && strcmp(e, "memcpy") == 0;
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

/* under mu; false if the connection is gone (the agent thread then reconnects) */
static bool send_locked(const void *buf, size_t len)
{
	return connected && send(sock, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

static void send_discard_locked(struct pending_discard *d)
{
	struct fm_hdr h = {.type = FM_DISCARD, .count = (uint32_t)d->count, .seq = d->seq, .arg = d->first};
	if (send_locked(&h, sizeof h))
		d->sent_gen = conn_gen;
}

/* ---- agent: executes EVICT requests in order ---- */

/* Moves the n entries e[0..n) -- consecutive guest pages going to consecutive staging slots --
 * with as few UFFDIO_MOVE calls as the kernel allows (one when all n pages are mapped) and
 * sets each entry's status: 0 moved, ENOENT hole (not mapped), or the errno of its move.
 * A partial move (the kernel stopped at a page: a hole, a pinned page, an mmap change)
 * continues after the pages it moved; the page it stopped at is then moved on its own. */
static void move_run(struct fm_evict_ent *e, uint32_t n)
{
	uint32_t done = 0;
	while (done < n) {
		struct uffdio_move mv = {
			.dst = staging_base + (uint64_t)e[done].slot * FM_PAGE_SIZE,
			.src = region_base + e[done].page * FM_PAGE_SIZE,
			.len = (uint64_t)(n - done) * FM_PAGE_SIZE,
			.mode = 0,
			.move = 0,
		};
		int rc = ioctl(stage_uffd, UFFDIO_MOVE, &mv), err = errno;
		uint32_t moved = rc == 0 ? n - done : mv.move > 0 ? (uint32_t)((uint64_t)mv.move / FM_PAGE_SIZE) : 0;
		for (uint32_t k = 0; k < moved; k++)
			e[done + k].status = 0;
		done += moved;
		if (rc == 0 || moved)
			continue; /* all moved, or resume after the moved ones */
		if (err == EAGAIN) { /* mmap changing: an event is pending; try again */
			sched_yield();
			continue;
		}
		e[done++].status = err; /* this page stays where it is */
	}
}

/* Copies the moved pages into the memfd: one process_vm_readv() of this process, which
 * reads the just-moved staging pages through a page-table walk in the kernel rather than
 * by touching them (on a shadow-paging host a first touch of a fresh mapping costs a
 * hypervisor exit per page); by hand (copy_by_hand) otherwise. A short or failed call
 * (a staging page not mapped: EFAULT at once, the staging uffd is SIGBUS-mode) copies the
 * batch by hand; EPERM/ENOSYS switch to copying by hand for good, said once on stderr. */
static void copy_staged(const struct iovec *dst, const struct iovec *src, uint32_t n)
{
	size_t want = (size_t)n * FM_PAGE_SIZE;
	static bool checked;
	if (!checked && n) { /* at the first eviction: QEMU installs its sandbox at start-up */
		checked = true;
		copy_by_hand |= seccomp_filtered();
	}
	if (!copy_by_hand && n) {
		ssize_t r = process_vm_readv((pid_t)syscall(SYS_gettid), dst, n, src, n, 0);
		if (r == (ssize_t)want)
			return;
		if (r < 0 && (errno == EPERM || errno == ENOSYS)) {
			dprintf(2, "fluidmem-attach: process_vm_readv refused (%s); the agent copies staged pages by hand\n",
				strerror(errno));
			copy_by_hand = true;
		}
	}
	for (uint32_t i = 0; i < n; i++)
		memcpy(dst[i].iov_base, src[i].iov_base, FM_PAGE_SIZE);
}

/* Moves each page into its private staging slot (atomically: the guest cannot write it
 * halfway; runs of consecutive pages bound for consecutive slots in one UFFDIO_MOVE), copies
 * it into the memfd slot the monitor reads, then frees the private slots of the batch (one
 * madvise; no event: staging has its own uffd without EVENT_REMOVE). */
static bool agent_evict(struct fm_hdr *h, struct fm_evict_ent *e)
{
	uint32_t lo = UINT32_MAX, hi = 0;
	static struct area_rec rec;
	if (h->arg >= FM_AREAS)
		die("EVICT names staging area %" PRIu64 " (of %u)", (uint64_t)h->arg, FM_AREAS);
	/* the agent's own count orders areas across monitors (each monitor numbers from 1) */
	static uint64_t executed;
	rec.seq = ++executed;
	rec.n = 0;
	for (uint32_t i = 0; i < h->count; i++)
		if (e[i].slot >= FM_STAGING_PAGES || e[i].page >= region_len / FM_PAGE_SIZE)
			die("EVICT names slot %u / page %" PRIu64 " outside staging / the region", e[i].slot,
			    (uint64_t)e[i].page);
	for (uint32_t i = 0, run; i < h->count; i += run) {
		for (run = 1; i + run < h->count && e[i + run].page == e[i].page + run &&
			      e[i + run].slot == e[i].slot + run;
		     run++)
			;
		move_run(e + i, run);
	}
	static struct iovec dst[FM_BATCH_MAX], src[FM_BATCH_MAX];
	uint32_t nio = 0;
	for (uint32_t i = 0; i < h->count; i++) {
		if (e[i].status != 0)
			continue;
		dst[nio] = (struct iovec){staging_copy + (size_t)e[i].slot * FM_PAGE_SIZE, FM_PAGE_SIZE};
		src[nio++] = (struct iovec){(void *)(staging_base + (uintptr_t)e[i].slot * FM_PAGE_SIZE), FM_PAGE_SIZE};
		rec.e[rec.n++] = (struct fm_staged){.seq = rec.seq, .page = e[i].page, .slot = e[i].slot};
		lo = e[i].slot < lo ? e[i].slot : lo;
		hi = e[i].slot + 1 > hi ? e[i].slot + 1 : hi;
	}
	copy_staged(dst, src, nio);
	if (lo < hi && sys_madvise((void *)(staging_base + (uintptr_t)lo * FM_PAGE_SIZE),
				   (size_t)(hi - lo) * FM_PAGE_SIZE, MADV_DONTNEED) < 0)
		die("madvise(staging, DONTNEED) failed: %s", strerror(errno));
	h->type = FM_EVICTED;
	pthread_mutex_lock(&mu);
	areas[h->arg] = rec; /* the monitor reuses an area only once its writes were acknowledged */
	bool ok = send_locked(h, sizeof *h + h->count * sizeof *e);
	pthread_mutex_unlock(&mu);
	return ok;
}

/* FM_DISCARDED: the monitor deleted the range's keys; staged copies of it are void too. */
static void agent_discarded(uint64_t seq)
{
	pthread_mutex_lock(&mu);
	for (struct pending_discard *d = discards; d; d = d->next) {
		if (d->seq != seq || d->done)
			continue;
		for (unsigned a = 0; a < FM_AREAS; a++) {
			uint32_t k = 0;
			for (uint32_t i = 0; i < areas[a].n; i++)
				if (areas[a].e[i].page < d->first || areas[a].e[i].page >= d->first + d->count)
					areas[a].e[k++] = areas[a].e[i];
			areas[a].n = k;
		}
		d->done = true;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

#define HELLO_ANSWER_MS 30000

/* One message from s within ms milliseconds, whatever signals interrupt the wait (an
 * interrupted wait resumes with the time left): its length, 0 when the peer closed, -1
 * with errno (ETIMEDOUT when no message came in time). */
static ssize_t recv_deadline(int s, void *buf, size_t len, int ms)
{
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = ms - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		struct pollfd p = {.fd = s, .events = POLLIN};
		int k = poll(&p, 1, (int)left);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		if (k == 0)
			continue; /* the next turn reports the timeout */
		ssize_t r = recv(s, buf, len, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return r;
	}
}

/* Sends the hello (uffd, staging memfd, and for a reattach the state memfd) on s and reads
 * the answer: 0 accepted, 1 refused (err: the monitor's answer), -1 transport error (err). */
static int hello_exchange(int s, int memfd, int statefd, char *err, size_t errlen)
{
	char vmid_esc[256], buf[FM_HELLO_MAX], extra[256] = "";
	json_quote(vmid_esc, sizeof vmid_esc, vm_id);
	if (statefd >= 0) {
		char ie[96], ne[96];
		json_quote(ie, sizeof ie, mon_instance);
		json_quote(ne, sizeof ne, mon_nonce);
		snprintf(extra, sizeof extra, ",\"reattach\":1,\"instance\":%s,\"nonce\":%s", ie, ne);
	}
	int n = snprintf(buf, sizeof buf,
			 "{\"vm_id\":%s,\"pid\":%d,\"base\":%" PRIuPTR ",\"size\":%zu,"
			 "\"page_size\":%u,\"staging_pages\":%u,\"features\":%" PRIu64 "%s}",
			 vmid_esc, (int)getpid(), region_base, region_len, FM_PAGE_SIZE, FM_STAGING_PAGES,
			 uffd_features, extra);
	int fds[3] = {uffd, memfd, statefd};
	size_t nfds = statefd >= 0 ? 3 : 2;
	union {
		char b[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
			    .msg_controllen = CMSG_SPACE(nfds * sizeof(int))};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	ssize_t sent;
	do /* the hello runs on the thread that called mmap: QEMU's signals reach it */
		sent = sendmsg(s, &mh, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent != n) {
		snprintf(err, errlen, "sending the hello: %s", strerror(errno));
		return -1;
	}
	ssize_t r = recv_deadline(s, buf, sizeof buf - 1, HELLO_ANSWER_MS);
	if (r <= 0) {
		snprintf(err, errlen, "no answer: %s", r == 0 ? "closed" : strerror(errno));
		return -1;
	}
	buf[r] = 0;
	if (!strstr(buf, "\"ok\":true")) {
		snprintf(err, errlen, "%.400s", buf);
		return 1;
	}
	json_get_str(buf, "instance", mon_instance, sizeof mon_instance);
	json_get_str(buf, "nonce", mon_nonce, sizeof mon_nonce);
	mon_durable = strstr(buf, "\"durable\":true") != NULL;
	return 0;
}

static int connect_monitor(void)
{
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket() failed: %s", strerror(errno));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(sock_path) >= sizeof sa.sun_path)
		die("FLUIDMEM_SOCKET path too long: %s", sock_path);
	strcpy(sa.sun_path, sock_path);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* The reattach state (proto.h): header, staged entries oldest EVICT first, resident map. */
static int state_memfd(void)
{
	size_t npages = region_len / FM_PAGE_SIZE, words = (npages + 63) / 64;
	struct fm_staged *st = calloc(FM_STAGING_PAGES, sizeof *st);
	uint64_t *map = calloc(words, sizeof *map);
	if (!st || !map)
		die("out of memory for the reattach state");
	size_t nst = 0;
	bool used[FM_AREAS] = {false};
	pthread_mutex_lock(&mu);
	for (unsigned k = 0; k < FM_AREAS; k++) { /* areas by EVICT seq */
		int best = -1;
		for (unsigned a = 0; a < FM_AREAS; a++)
			if (!used[a] && (best < 0 || areas[a].seq < areas[best].seq))
				best = (int)a;
		used[best] = true;
		for (uint32_t i = 0; i < areas[best].n; i++)
			st[nst++] = areas[best].e[i];
	}
	pthread_mutex_unlock(&mu);
	/* mapped pages: present or swapped out (the kernel holds them; no fault will come) */
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0)
		die("cannot open /proc/self/pagemap: %s", strerror(errno));
	uint64_t ent[512];
	for (size_t pg = 0; pg < npages; pg += 512) {
		size_t k = npages - pg < 512 ? npages - pg : 512;
		off_t off = (off_t)((region_base / FM_PAGE_SIZE + pg) * sizeof(uint64_t));
		if (pread(pm, ent, k * sizeof *ent, off) != (ssize_t)(k * sizeof *ent))
			die("reading /proc/self/pagemap: %s", strerror(errno));
		for (size_t i = 0; i < k; i++)
			if (ent[i] & (3ull << 62))
				map[(pg + i) / 64] |= 1ull << ((pg + i) % 64);
	}
	close(pm);
	int fd = (int)syscall(SYS_memfd_create, "fluidmem-reattach", MFD_CLOEXEC);
	if (fd < 0)
		die("memfd_create(reattach state) failed: %s", strerror(errno));
	struct fm_state hdr = {.magic = FM_STATE_MAGIC, .npages = npages, .nstaged = nst};
	if (pwrite(fd, &hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr ||
	    pwrite(fd, st, nst * sizeof *st, sizeof hdr) != (ssize_t)(nst * sizeof *st) ||
	    pwrite(fd, map, words * sizeof *map, (off_t)(sizeof hdr + nst * sizeof *st)) != (ssize_t)(words * sizeof *map))
		die("writing the reattach state: %s", strerror(errno));
	free(st);
	free(map);
	return fd;
}

static void drain_lost(void);

/* The connection is gone (why). Without FM_BYE and with a durable backend: reconnect and
 * reattach within FLUIDMEM_RECONNECT_TIMEOUT, else exit 70. Faulting threads stay blocked
 * meanwhile (nobody reads the uffd); madvise discards wait for the new monitor. */
static void reconnect(const char *why)
{
	drain_lost();
	pthread_mutex_lock(&mu);
	connected = false;
	close(sock);
	sock = -1;
	pthread_mutex_unlock(&mu);
	if (!mon_durable)
		die("lost connection to fluidmem-monitor (%s; its dram backend cannot survive a monitor restart)", why);
	if (reconnect_s <= 0)
		die("lost connection to fluidmem-monitor (%s; FLUIDMEM_RECONNECT_TIMEOUT=0)", why);
	dprintf(2, "fluidmem-attach: lost connection to fluidmem-monitor (%s); reconnecting to %s for up to %ld s\n",
		why, sock_path, reconnect_s);
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int s = connect_monitor();
		if (s >= 0) {
			int statefd = state_memfd();
			char err[512];
			int rc = hello_exchange(s, staging_fd, statefd, err, sizeof err);
			close(statefd);
			if (rc == 0) {
				pthread_mutex_lock(&mu);
				sock = s;
				connected = true;
				conn_gen++;
				for (struct pending_discard *d = discards; d; d = d->next)
					if (!d->done)
						send_discard_locked(d);
				pthread_mutex_unlock(&mu);
				dprintf(2, "fluidmem-attach: reattached to fluidmem-monitor at %s\n", sock_path);
				return;
			}
			close(s);
			if (rc > 0)
				die("fluidmem-monitor at %s would not resume this process: %s", sock_path, err);
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= reconnect_s)
			die("lost connection to fluidmem-monitor (%s) and no monitor took it back within %ld s "
			    "(FLUIDMEM_RECONNECT_TIMEOUT)", why, reconnect_s);
		struct timespec nap = {.tv_nsec = 100 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

/* One message from the monitor. Draining (the connection is already lost): an EVICT is
 * not executed (its pages stay mapped), everything else is handled as usual. */
static void handle_msg(unsigned char *buf, ssize_t n, bool draining)
{
	struct fm_hdr *h = (struct fm_hdr *)buf;
	if ((size_t)n < sizeof *h)
		die("short message from fluidmem-monitor");
	if (h->type == FM_EVICT) {
		if (h->count > FM_BATCH_MAX || (size_t)n != sizeof *h + h->count * sizeof(struct fm_evict_ent))
			die("malformed EVICT message");
		if (!draining && !agent_evict(h, (struct fm_evict_ent *)(h + 1)))
			reconnect("sending EVICTED failed");
	} else if (h->type == FM_DISCARDED) {
		agent_discarded(h->seq);
	} else if (h->type == FM_RELEASED) {
		if (h->arg >= FM_AREAS)
			die("RELEASED names staging area %" PRIu64, (uint64_t)h->arg);
		pthread_mutex_lock(&mu);
		areas[h->arg].n = 0; /* durable in Redis: never resend these copies */
		pthread_mutex_unlock(&mu);
	} else if (h->type == FM_BYE) {
		size_t len = (size_t)n - sizeof *h;
		die("lost connection to fluidmem-monitor: it detached this process for good (%.*s)",
		    (int)(len < 200 ? len : 200), (char *)(h + 1));
	} else {
		die("unknown message type %u from fluidmem-monitor", h->type);
	}
}

static _Alignas(8) unsigned char msgbuf[FM_MSG_MAX + 256];

/* Before giving a lost connection up: what the monitor sent last (a FM_BYE above all). */
static void drain_lost(void)
{
	static _Alignas(8) unsigned char b[FM_MSG_MAX + 256];
	for (;;) {
		ssize_t n = recv(sock, b, sizeof b, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		handle_msg(b, n, true);
	}
}

/* FLUIDMEM_AGENT_CPUS (a taskset-style cpulist: "1", "0,2", "0-1"): the CPUs the agent
 * thread runs on (placement study, issue 11 item 4); unset: those of the thread that mapped
 * the region. A malformed list or one the kernel refuses ends the process (exit 70). */
static void agent_place(void)
{
	const char *s = getenv("FLUIDMEM_AGENT_CPUS");
	if (!s || !*s)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	for (const char *p = s; *p;) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;
		if (end == p)
			die("FLUIDMEM_AGENT_CPUS '%.64s' is not a cpulist", s);
		if (*end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b < a)
				die("FLUIDMEM_AGENT_CPUS '%.64s' is not a cpulist", s);
		}
		if (*end && *end != ',')
			die("FLUIDMEM_AGENT_CPUS '%.64s' is not a cpulist", s);
		for (unsigned long c = a; c <= b && c < CPU_SETSIZE; c++)
			CPU_SET(c, &set);
		p = *end ? end + 1 : end;
	}
	int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	if (rc)
		die("cannot run the agent on CPUs %.64s (FLUIDMEM_AGENT_CPUS): %s", s, strerror(rc));
}

static void *agent_main(void *arg)
{
	(void)arg;
	agent_place();
	for (;;) {
		ssize_t n = recv(sock, msgbuf, sizeof msgbuf, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			reconnect(n == 0 ? "it closed the connection" : strerror(errno));
			continue;
		}
		handle_msg(msgbuf, n, false);
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
	if (!path || !*path)
		die("FLUIDMEM_SOCKET is not set");
	if (!vmid || !*vmid)
		vmid = "vm";
	sock_path = path;
	vm_id = vmid;
	const char *rt = getenv("FLUIDMEM_RECONNECT_TIMEOUT");
	if (rt && *rt) {
		char *end;
		reconnect_s = strtol(rt, &end, 10);
		if (*end || reconnect_s < 0 || reconnect_s > 86400)
			die("FLUIDMEM_RECONNECT_TIMEOUT must be 0..86400 seconds, got '%.32s'", rt);
	}

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
	uffd_features = want;
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

	/* kept open: a reattach hands it to the next monitor */
	staging_fd = (int)syscall(SYS_memfd_create, "fluidmem-staging", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (staging_fd < 0)
		die("memfd_create(staging) failed: %s", strerror(errno));
	if (ftruncate(staging_fd, (off_t)slen) < 0)
		die("ftruncate(staging memfd) failed: %s", strerror(errno));
	fcntl(staging_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	void *sc = real_mmap_p(NULL, slen, PROT_READ | PROT_WRITE, MAP_SHARED, staging_fd, 0);
	if (sc == MAP_FAILED)
		die("mmap(staging memfd) failed: %s", strerror(errno));
	staging_copy = sc;

	int s = connect_monitor();
	if (s < 0)
		die("cannot reach fluidmem-monitor at %s: %s", path, strerror(errno));
	char err[512];
	int rc = hello_exchange(s, staging_fd, -1, err, sizeof err);
	if (rc > 0)
		die("fluidmem-monitor refused the region: %s", err);
	if (rc < 0)
		die("fluidmem-monitor at %s: %s", path, err);
	pthread_mutex_lock(&mu);
	sock = s;
	connected = true;
	conn_gen++;
	pthread_mutex_unlock(&mu);
	start_thread(agent_main);
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

/* A discard of [first, first+count) region pages: tell the monitor, wait until it answers
 * that the pages' keys are deleted (across a reconnect if need be), then the caller discards. */
static void discard_durable(uint64_t first, uint64_t count)
{
	pthread_mutex_lock(&mu);
	struct pending_discard d = {.seq = ++discard_seq, .first = first, .count = count, .next = discards};
	discards = &d;
	send_discard_locked(&d); /* not connected: the agent resends it after reattaching */
	while (!d.done)
		pthread_cond_wait(&cv, &mu);
	for (struct pending_discard **pp = &discards; *pp; pp = &(*pp)->next)
		if (*pp == &d) {
			*pp = d.next;
			break;
		}
	pthread_mutex_unlock(&mu);
}

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

/* QEMU asks for THP and KSM on guest RAM; both would defeat 4 KiB UFFDIO_MOVE. Discards of
 * the region (balloon, free page reporting, a benchmark's MADV_DONTNEED) are made durable
 * first when the monitor's backend survives a restart (Redis). */
__attribute__((visibility("default"))) int madvise(void *addr, size_t len, int advice)
{
	uintptr_t a = (uintptr_t)addr;
	bool in_region = atomic_load(&captured) && region_len && a < region_base + region_len && a + len > region_base;
	if (in_region && (advice == MADV_HUGEPAGE || advice == MADV_MERGEABLE))
		return 0;
	if (in_region && mon_durable && len && a % FM_PAGE_SIZE == 0 &&
	    (advice == MADV_DONTNEED || advice == MADV_REMOVE || advice == MADV_DONTNEED_LOCKED)) {
		uintptr_t lo = a > region_base ? a : region_base;
		uintptr_t hi = a + len < region_base + region_len ? a + len : region_base + region_len;
		uint64_t first = (lo - region_base) / FM_PAGE_SIZE;
		uint64_t last = (hi - region_base + FM_PAGE_SIZE - 1) / FM_PAGE_SIZE;
		discard_durable(first, last - first);
	}
	return sys_madvise(addr, len, advice);
}
