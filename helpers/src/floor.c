/* floor.c -- fluidlab-floor: what any userfaultfd fault handler costs on this host before it
 * does any work, beside what the kernel's own fault costs. One JSON line:
 *
 *   {"pages":N,"kernel_fault_ns":K,"uffd_process_ns":P,"uffd_thread_ns":T}
 *
 * each the median over N first-touch reads of never-touched private anonymous pages:
 *   kernel_fault   no handler: the kernel maps its zero page;
 *   uffd_process   a trivial handler in another process (poll, read, as the monitor's
 *                  epoll loop) answers each fault with UFFDIO_ZEROPAGE: the round trip fluidmem-monitor pays at the least
 *                  (two wake-ups and two address-space switches when both share a CPU);
 *   uffd_thread    the same handler as a thread of the faulting process (no switch of
 *                  address space): what a handler inside the VM's process would pay.
 * Everything runs on the CPUs this process may use (place it with taskset: one CPU gives
 * the plain context-switch cost, two may add cross-CPU wake-ups). A fluidmem / swap ratio
 * taken on this host cannot go below about uffd_process / the swap path's kernel cost.
 *
 *   fluidlab-floor [PAGES]      (default 2048; exit 1 if userfaultfd is unusable) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "timing.h"

#define PS 4096ul

/* Median of n first-touch reads of p's pages, in ns. */
static uint64_t touch_median(volatile const char *p, size_t n, uint64_t *lat)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = timing_ns();
		(void)p[i * PS];
		lat[i] = timing_ns() - t0;
	}
	qsort(lat, n, sizeof *lat, timing_cmp_u64);
	return lat[n / 2];
}

/* A userfaultfd registering p's n pages (MISSING), or -1. */
static int registered(char *p, size_t n)
{
	int u = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.range = {(uint64_t)(uintptr_t)p, n * PS}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (u < 0 || ioctl(u, UFFDIO_API, &api) < 0 || ioctl(u, UFFDIO_REGISTER, &reg) < 0)
		return -1;
	return u;
}

/* The trivial handler: sleeps in poll() as the monitor sleeps in epoll_wait(), reads the
 * message, answers with the zero page. Returns when the descriptor fails. */
static void *serve(void *arg)
{
	int u = (int)(intptr_t)arg;
	struct uffd_msg m;
	struct pollfd pf = {.fd = u, .events = POLLIN};
	while (poll(&pf, 1, -1) >= 0 && read(u, &m, sizeof m) == (ssize_t)sizeof m) {
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_zeropage z = {.range = {m.arg.pagefault.address & ~(PS - 1), PS}};
		if (ioctl(u, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
			break;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2048;
	if (n < 16 || n > (1u << 20)) {
		fprintf(stderr, "usage: fluidlab-floor [PAGES: 16..1048576]\n");
		return 2;
	}
	uint64_t *lat = calloc(n, sizeof *lat);
	uint64_t kernel = touch_median(timing_fresh_pages(n), n, lat);

	char *a = timing_fresh_pages(n);
	int ua = registered(a, n);
	if (ua < 0) {
		printf("{\"error\":\"userfaultfd: %s\"}\n", strerror(errno));
		return 1;
	}
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve((void *)(intptr_t)ua);
		_exit(0);
	}
	if (child < 0) {
		perror("fluidlab-floor: fork");
		return 1;
	}
	usleep(20000); /* let the handler block in poll() first */
	uint64_t process = touch_median(a, n, lat);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	char *b = timing_fresh_pages(n);
	int ub = registered(b, n);
	pthread_t t;
	if (ub < 0 || pthread_create(&t, NULL, serve, (void *)(intptr_t)ub) != 0) {
		printf("{\"error\":\"handler thread: %s\"}\n", strerror(errno));
		return 1;
	}
	usleep(20000);
	uint64_t thread = touch_median(b, n, lat);
	printf("{\"pages\":%zu,\"kernel_fault_ns\":%llu,\"uffd_process_ns\":%llu,\"uffd_thread_ns\":%llu}\n", n,
	       (unsigned long long)kernel, (unsigned long long)process, (unsigned long long)thread);
	return 0; /* the handler thread ends with the process */
}
