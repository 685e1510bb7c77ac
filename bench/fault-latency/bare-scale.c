/* bare-scale.c -- the kernel's share of "N processes faulting at once" (issue 11 item 5).
 *
 * scale.sh measures fluidmem-monitor's handler-side fault latency (message read ->
 * UFFDIO_COPY/ZEROPAGE returned) with 1 and with N attached processes. Part of any change
 * with N is not the monitor's: installing a page into one of N address spaces instead of
 * one, on this kind of host (a PVM guest: shadow page tables per address space), and the
 * scheduler's choices while N processes are runnable. This program measures the same
 * interval for a handler that does nothing else: one process, one epoll set over N
 * userfaultfds, each fault answered by UFFDIO_COPY of a constant page. The children have
 * scale.sh's harness shape: a REGION-page private anonymous mapping, a working set of
 * PAGES random pages of which at most RESIDENT stay mapped (a random one is dropped with
 * MADV_DONTNEED when full; no REMOVE event, the handler is not told), OPS random touches
 * (half writes), all children released at once.
 *
 *   bare-scale N [OPS=3000] [REGION=512] [PAGES=256] [RESIDENT=96]
 *
 * Prints one line: processes=N bare faults F p50 X ns p99 Y ns (the histogram of
 * helpers/src/hist.c: 4 buckets per power of two, upper bounds). Place it with taskset. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../helpers/src/hist.h"
#include "../../helpers/src/timing.h"

#define PS 4096ul

static void die(const char *what)
{
	fprintf(stderr, "bare-scale: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void send_fd(int sock, int fd)
{
	char c = 0, cbuf[CMSG_SPACE(sizeof(int))] = {0};
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	if (sendmsg(sock, &mh, 0) != 1)
		die("sendmsg");
}

static int recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {.iov_base = &c, .iov_len = 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	if (recvmsg(sock, &mh, 0) != 1)
		die("recvmsg");
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fd;
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		die("no descriptor");
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/* One child: register its region, hand the uffd over, wait for the start, touch. It runs
 * SCHED_OTHER whatever the parent's policy (scale.sh's SCHED=fifo makes only the handler
 * real-time, as it does the monitor and not the harnesses) and dies with the parent. */
static void child(int sock, int go, unsigned seed, long ops, long region, long pages, long resident)
{
	struct sched_param sp = {0};
	sched_setscheduler(0, SCHED_OTHER, &sp);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	char *r = timing_fresh_pages((size_t)region);
	int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u < 0)
		die("userfaultfd");
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.range = {(uint64_t)(uintptr_t)r, (uint64_t)region * PS},
				      .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(u, UFFDIO_API, &api) < 0 || ioctl(u, UFFDIO_REGISTER, &reg) < 0)
		die("uffd register");
	send_fd(sock, u);
	close(u); /* the parent holds it now */
	char c;
	if (read(go, &c, 1) < 0) /* EOF: the parent closed the write end, all start */
		die("read go");
	long *mapped = calloc((size_t)resident, sizeof *mapped), nmapped = 0;
	unsigned char *in = calloc((size_t)pages, 1);
	srand(seed);
	volatile char sink = 0;
	for (long i = 0; i < ops; i++) {
		long p = rand() % pages;
		if (!in[p]) {
			if (nmapped == resident) { /* drop a random mapped page: its next touch faults */
				long k = rand() % nmapped;
				madvise(r + mapped[k] * PS, PS, MADV_DONTNEED);
				in[mapped[k]] = 0;
				mapped[k] = mapped[--nmapped];
			}
			mapped[nmapped++] = p;
			in[p] = 1;
		}
		if (rand() & 1)
			r[p * PS + (size_t)(i % (long)PS)] = (char)i;
		else
			sink ^= r[p * PS + (size_t)(i % (long)PS)];
	}
	(void)sink;
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bare-scale N [OPS] [REGION] [PAGES] [RESIDENT]\n");
		return 2;
	}
	long n = atol(argv[1]), ops = argc > 2 ? atol(argv[2]) : 3000, region = argc > 3 ? atol(argv[3]) : 512;
	long pages = argc > 4 ? atol(argv[4]) : 256, resident = argc > 5 ? atol(argv[5]) : 96;
	if (n < 1 || ops < 1 || pages < 1 || pages > region || resident < 1 || resident > pages) {
		fprintf(stderr, "bare-scale: need N>=1, OPS>=1, 1<=RESIDENT<=PAGES<=REGION\n");
		return 2;
	}
	int sv[2], gp[2];
	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0 || pipe(gp) < 0)
		die("socketpair/pipe");
	struct timeval tmo = {.tv_sec = 20}; /* a child that died before handing its uffd over */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
	int ep = epoll_create1(0);
	for (long i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(gp[1]);
			child(sv[1], gp[0], (unsigned)(i + 1), ops, region, pages, resident);
		}
		int u = recv_fd(sv[0]);
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = u};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, u, &ev) < 0)
			die("epoll_ctl");
	}
	static _Alignas(4096) char page[4096];
	memset(page, 0x5a, sizeof page);
	struct hist h = {0};
	close(gp[1]); /* go */
	long left = n;
	while (left > 0) {
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 50);
		for (int i = 0; i < k; i++) {
			struct uffd_msg m;
			ssize_t got = read(evs[i].data.fd, &m, sizeof m);
			if (got != (ssize_t)sizeof m)
				continue; /* EAGAIN: another reader's wake-up; exits are seen by waitpid */
			uint64_t t0 = timing_ns();
			if (m.event != UFFD_EVENT_PAGEFAULT)
				continue;
			struct uffdio_copy c = {.dst = m.arg.pagefault.address & ~(PS - 1),
						.src = (uint64_t)(uintptr_t)page, .len = PS};
			if (ioctl(evs[i].data.fd, UFFDIO_COPY, &c) == 0)
				hist_add(&h, timing_ns() - t0);
			else if (errno != EEXIST && errno != ENOENT)
				die("UFFDIO_COPY");
		}
		int st;
		while (waitpid(-1, &st, WNOHANG) > 0) {
			left--;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "bare-scale: a child failed (status %d)\n", st);
				return 1;
			}
		}
	}
	printf("processes=%ld bare faults %llu p50 %llu ns p99 %llu ns\n", n, (unsigned long long)h.count,
	       (unsigned long long)hist_percentile(&h, 0.5), (unsigned long long)hist_percentile(&h, 0.99));
	return 0;
}
