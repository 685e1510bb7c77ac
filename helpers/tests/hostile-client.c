/* hostile-client.c -- a client of fluidmem-monitor's attach socket that lies, for tests.
 *
 *   hostile-client --socket PATH --mode MODE [--pages N]
 *
 * It sets up what the attach library sets up (a region registered on a userfaultfd, a
 * private staging area, a staging memfd), then breaks the protocol one way:
 *   other-pid    hello names another process's pid (our parent) as its own
 *   wrong-base   hello names a read-only mapping as the region
 *   not-uffd     the first descriptor is a pipe, not a userfaultfd
 *   big-hello    a hello longer than FM_HELLO_MAX
 *   huge-region  hello claims a region larger than FM_REGION_MAX
 *   idle         connects and sends nothing (the monitor must hang up by itself)
 *   bad-slot     attaches, then answers each EVICT with slots it was not given (its
 *                staging is plain populated memory, so a monitor that read staging at
 *                the slot it is told would succeed and take that page as the evicted one)
 *   unpopulated  attaches with staging registered on the REGION's userfaultfd (so a
 *                monitor reading staging would fault on a uffd only it serves), then
 *                answers each EVICT with "moved" without moving anything
 * For the last two the main thread touches every page of the region (N pages, default
 * 1024) so that the monitor evicts. The hello carries every field an older monitor
 * wanted too (staging_base), so the same client shows what an unfixed monitor does.
 *
 * Prints one JSON line: {"mode":M,"answer":"<the monitor's hello reply>","dropped":B,
 * "evicts":K,"ms":T} where dropped = the monitor hung up on us after accepting (or, for
 * refusals, after answering), evicts = EVICT messages answered, ms = time to the end.
 * Exit 0 when the scenario ran to an end, 2 on a setup error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "proto.h"

static const char *mode;
static int sock = -1;
static char answer[512];
static atomic_int evicts;
static struct timespec t_start;

static void fail(const char *what)
{
	fprintf(stderr, "hostile-client: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long elapsed_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t_start.tv_sec) * 1000 + (t.tv_nsec - t_start.tv_nsec) / 1000000;
}

static void report(int dropped)
{
	char esc[1100];
	size_t o = 0;
	for (const char *p = answer; *p && o < sizeof esc - 3; p++) {
		if (*p == '"' || *p == '\\')
			esc[o++] = '\\';
		esc[o++] = *p;
	}
	esc[o] = 0;
	printf("{\"mode\":\"%s\",\"answer\":\"%s\",\"dropped\":%s,\"evicts\":%d,\"ms\":%ld}\n", mode, esc,
	       dropped ? "true" : "false", atomic_load(&evicts), elapsed_ms());
	fflush(stdout);
}

static int new_uffd(uint64_t features)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fail("userfaultfd");
	struct uffdio_api api = {.api = UFFD_API, .features = features};
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		fail("UFFDIO_API");
	return fd;
}

static void reg(int fd, void *p, size_t len)
{
	struct uffdio_register r = {.range = {.start = (uintptr_t)p, .len = len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(fd, UFFDIO_REGISTER, &r) < 0)
		fail("UFFDIO_REGISTER");
}

/* waits until the monitor hangs up (returns 1) or timeout_ms passes (returns 0) */
static int wait_hangup(int timeout_ms)
{
	struct pollfd p = {.fd = sock, .events = POLLRDHUP};
	int r = poll(&p, 1, timeout_ms);
	return r > 0 && (p.revents & (POLLHUP | POLLERR | POLLRDHUP));
}

/* answers EVICTs with lies until the monitor hangs up, then reports and exits */
static void *agent(void *arg)
{
	(void)arg;
	static _Alignas(8) unsigned char buf[FM_MSG_MAX];
	for (;;) {
		ssize_t n = recv(sock, buf, sizeof buf, 0);
		if (n <= 0) {
			report(1);
			_exit(0);
		}
		struct fm_hdr *h = (struct fm_hdr *)buf;
		if ((size_t)n < sizeof *h || h->type != FM_EVICT)
			continue;
		struct fm_evict_ent *e = (struct fm_evict_ent *)(h + 1);
		for (uint32_t i = 0; i < h->count; i++) {
			e[i].status = 0; /* "moved", though nothing was */
			if (!strcmp(mode, "bad-slot"))
				e[i].slot = (e[i].slot + 1) % FM_STAGING_PAGES;
		}
		h->type = FM_EVICTED;
		atomic_fetch_add(&evicts, 1);
		if (send(sock, buf, (size_t)n, MSG_NOSIGNAL) != n) {
			report(1);
			_exit(0);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	size_t pages = 1024;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--socket"))
			path = argv[i + 1];
		else if (!strcmp(argv[i], "--mode"))
			mode = argv[i + 1];
		else if (!strcmp(argv[i], "--pages"))
			pages = strtoul(argv[i + 1], NULL, 10);
	}
	if (!path || !mode || !pages) {
		fprintf(stderr, "usage: hostile-client --socket PATH --mode MODE [--pages N]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	clock_gettime(CLOCK_MONOTONIC, &t_start);
	size_t len = pages * FM_PAGE_SIZE, slen = (size_t)FM_STAGING_PAGES * FM_PAGE_SIZE;
	unsigned char *region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *staging = mmap(NULL, slen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || staging == MAP_FAILED || ro == MAP_FAILED)
		fail("mmap");
	madvise(region, len, MADV_NOHUGEPAGE);
	madvise(staging, slen, MADV_NOHUGEPAGE);
	int uffd = new_uffd(UFFD_FEATURE_MOVE | UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP);
	reg(uffd, region, len);
	if (!strcmp(mode, "unpopulated"))
		reg(uffd, staging, slen); /* the worst case for a monitor that reads staging */
	else if (!strcmp(mode, "bad-slot"))
		memset(staging, 0x5a, slen);
	else
		reg(new_uffd(UFFD_FEATURE_MOVE | UFFD_FEATURE_SIGBUS), staging, slen);
	int memfd = (int)syscall(SYS_memfd_create, "hostile-staging", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)slen) < 0)
		fail("memfd");

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof sa) < 0)
		fail("connect");
	if (!strcmp(mode, "idle")) {
		int hung = wait_hangup(60000);
		snprintf(answer, sizeof answer, "%s", hung ? "(hung up)" : "(still open)");
		report(hung);
		return 0;
	}

	int pid = getpid(), fd0 = uffd;
	uintptr_t base = (uintptr_t)region;
	unsigned long long claimed = len;
	if (!strcmp(mode, "huge-region"))
		claimed = FM_REGION_MAX * 2;
	if (!strcmp(mode, "other-pid"))
		pid = getppid();
	else if (!strcmp(mode, "wrong-base"))
		base = (uintptr_t)ro;
	else if (!strcmp(mode, "not-uffd")) {
		int p[2];
		if (pipe(p) < 0)
			fail("pipe");
		fd0 = p[0];
	}
	static char hello[4 * FM_HELLO_MAX];
	int n = snprintf(hello, sizeof hello,
			 "{\"vm_id\":\"hostile-%s\",\"pid\":%d,\"base\":%" PRIuPTR ",\"size\":%llu,\"page_size\":%u,"
			 "\"staging_base\":%" PRIuPTR ",\"staging_pages\":%u,\"features\":0",
			 mode, pid, base, claimed, FM_PAGE_SIZE, (uintptr_t)staging, FM_STAGING_PAGES);
	if (!strcmp(mode, "big-hello")) {
		n += snprintf(hello + n, sizeof hello - (size_t)n, ",\"pad\":\"");
		while (n < 2 * FM_HELLO_MAX)
			hello[n++] = 'x';
		hello[n++] = '"';
	}
	hello[n++] = '}';
	int fds[2] = {fd0, memfd};
	union {
		char b[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} cbuf;
	memset(&cbuf, 0, sizeof cbuf);
	struct iovec iov = {.iov_base = hello, .iov_len = (size_t)n};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof fds);
	memcpy(CMSG_DATA(cm), fds, sizeof fds);
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) != n)
		fail("sendmsg(hello)");
	struct pollfd pf = {.fd = sock, .events = POLLIN};
	if (poll(&pf, 1, 30000) <= 0) {
		snprintf(answer, sizeof answer, "(no answer)");
		report(0);
		return 0;
	}
	ssize_t r = recv(sock, answer, sizeof answer - 1, 0);
	answer[r > 0 ? r : 0] = 0;
	if (!strstr(answer, "\"ok\":true")) {
		report(wait_hangup(5000));
		return 0;
	}
	if (strcmp(mode, "bad-slot") && strcmp(mode, "unpopulated")) {
		report(0); /* accepted a lie: the test fails on the answer */
		return 0;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, agent, NULL))
		fail("pthread_create");
	/* Touch every page: faults the monitor serves, and evictions once past capacity. If
	 * the monitor drops us, a touch blocks forever and the agent thread reports. */
	for (size_t pg = 0; pg < pages; pg++)
		region[pg * FM_PAGE_SIZE] = (unsigned char)(pg | 1);
	for (size_t pg = 0; pg < pages; pg++) /* and again: refaults of evicted pages */
		region[pg * FM_PAGE_SIZE] += 1;
	report(0);
	return 0;
}
