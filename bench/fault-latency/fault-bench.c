/* fault-bench.c -- per-fault service latency as seen by the faulting thread.
 *
 *   fault-bench kernel  --pages N            kernel anonymous first-touch faults
 *                                            (write: allocate+zero; read: zero page)
 *   fault-bench bare    --pages N [--handler-cpu LIST] [--spin]
 *                                            bare userfaultfd round trip: a forked
 *                                            child answers every fault with UFFDIO_ZEROPAGE;
 *                                            --handler-cpu pins that child (a cpulist like
 *                                            taskset's: "1", "0,1", "0-1"), as the monitor
 *                                            is pinned, so baseline and subject share one
 *                                            placement; --spin makes it busy-poll a
 *                                            non-blocking uffd instead of sleeping in poll()
 *                                            (the floor for a handler on a CPU of its own;
 *                                            row "uffd-bare-spin")
 *   fault-bench monitor --pages N --control PATH
 *        run under LD_PRELOAD=libfluidmem-attach.so with FLUIDMEM_REGION_BYTES = 2N pages;
 *        zero-fill: first read of N never-touched pages; zero-write: first write of N
 *        other never-touched pages (N >> monitor capacity, so most get evicted), read back (and checked) three
 *        times, each a read-only pass: fetch = in order (a sequential scan: each read
 *        faults, FIFO), random = a uniform random permutation (no trend), stride = every
 *        3rd page, wrapping. After each pass a "-meta" line gives the monitor's write-backs
 *        per eviction during that pass (a read-only pass need not write clean pages back),
 *        its prefetch hits and wasted prefetches, and the CPU time per eviction of the
 *        process's other threads (the attach library's agent: moves and copies).
 * Each access is timed with clock_gettime around a single load/store. Prints one JSON
 * line per measurement: {"mode","count","p50_ns","p99_ns","mean_ns"}. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "../../helpers/src/timing.h"

#define PS 4096ul


static void report(const char *mode, uint64_t *lat, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += (double)lat[i];
	qsort(lat, n, sizeof *lat, timing_cmp_u64);
	printf("{\"mode\":\"%s\",\"count\":%zu,\"p50_ns\":%llu,\"p99_ns\":%llu,\"mean_ns\":%.0f}\n", mode, n,
	       (unsigned long long)lat[n / 2], (unsigned long long)lat[(n * 99) / 100], sum / (double)n);
	fflush(stdout);
}

static void touch_read(const char *mode, volatile unsigned char *base, size_t n, uint64_t *lat)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = timing_ns();
		(void)base[i * PS];
		lat[i] = timing_ns() - t0;
	}
	report(mode, lat, n);
}

static void kernel_mode(size_t n, uint64_t *lat)
{
	volatile unsigned char *w = timing_fresh_pages(n), *r = timing_fresh_pages(n);
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = timing_ns();
		w[i * PS] = 1;
		lat[i] = timing_ns() - t0;
	}
	report("kernel-first-touch-write", lat, n);
	touch_read("kernel-first-touch-read", r, n, lat);
}

/* Parses a taskset-style cpulist ("1", "0,1", "0-1") into set; false if malformed. */
static int parse_cpulist(const char *s, cpu_set_t *set)
{
	CPU_ZERO(set);
	while (*s) {
		char *end;
		unsigned long a = strtoul(s, &end, 10), b = a;
		if (end == s)
			return 0;
		if (*end == '-') {
			s = end + 1;
			b = strtoul(s, &end, 10);
			if (end == s || b < a)
				return 0;
		}
		for (unsigned long c = a; c <= b && c < CPU_SETSIZE; c++)
			CPU_SET(c, set);
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return 0;
	}
	return CPU_COUNT(set) > 0;
}

/* The trivial handler: answers every fault with UFFDIO_ZEROPAGE; sleeps in poll() between
 * faults, or with spin busy-polls a non-blocking read. Never returns. */
static void bare_handler(int uffd, int spin)
{
	if (spin)
		fcntl(uffd, F_SETFL, fcntl(uffd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		if (!spin) {
			struct pollfd p = {.fd = uffd, .events = POLLIN};
			poll(&p, 1, -1);
		}
		struct uffd_msg m;
		if (read(uffd, &m, sizeof m) != sizeof m)
			continue;
		if (m.event != UFFD_EVENT_PAGEFAULT)
			continue;
		struct uffdio_zeropage z = {.range = {m.arg.pagefault.address & ~(PS - 1), PS}};
		ioctl(uffd, UFFDIO_ZEROPAGE, &z);
	}
}

static void bare_mode(size_t n, uint64_t *lat, const char *handler_cpu, int spin)
{
	unsigned char *r = timing_fresh_pages(n);
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.range = {(unsigned long)r, n * PS}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		perror("userfaultfd");
		exit(1);
	}
	/* the child inherits the handler's CPUs: set them around the fork, then restore ours */
	cpu_set_t mine, hset;
	if (sched_getaffinity(0, sizeof mine, &mine) < 0) {
		perror("sched_getaffinity");
		exit(1);
	}
	if (handler_cpu && (!parse_cpulist(handler_cpu, &hset) || sched_setaffinity(0, sizeof hset, &hset) < 0)) {
		fprintf(stderr, "fault-bench: cannot run the handler on CPUs '%s': %s\n", handler_cpu, strerror(errno));
		exit(1);
	}
	pid_t child = fork();
	if (child == 0) /* the trivial handler, in its own process like the monitor */
		bare_handler(uffd, spin);
	if (child < 0 || sched_setaffinity(0, sizeof mine, &mine) < 0) {
		perror("fork / restoring the faulter's CPUs");
		exit(1);
	}
	usleep(20000); /* let the child settle on its CPU before the first fault */
	touch_read(spin ? "uffd-bare-spin" : "uffd-bare-roundtrip", r, n, lat);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static char *control(const char *path, const char *req)
{
	static char buf[1 << 20];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("control connect");
		exit(1);
	}
	if (write(fd, req, strlen(req)) < 0)
		exit(1);
	size_t len = 0;
	while (len < sizeof buf - 1) {
		ssize_t k = read(fd, buf + len, sizeof buf - 1 - len);
		if (k <= 0)
			break;
		len += (size_t)k;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = 0;
	close(fd);
	return buf;
}

static unsigned long long stat_u64(const char *st, const char *key)
{
	char k[64];
	snprintf(k, sizeof k, "\"%s\":", key);
	const char *p = strstr(st, k); /* the first occurrence: the "total" object */
	return p ? strtoull(p + strlen(k), NULL, 10) : 0ull;
}

/* CPU time (ns, /proc/self/task/TID/schedstat) of this process's threads other than the
 * main one: the attach library's agent, which runs the evictions' moves and copies. */
static unsigned long long agent_cpu_ns(void)
{
	unsigned long long sum = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == getpid())
			continue;
		char path[300];
		snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", de->d_name);
		FILE *f = fopen(path, "r");
		unsigned long long ns = 0;
		if (f && fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return sum;
}

/* One read-only pass over the N written pages in the given order; every page is checked.
 * Prints the latency line and, from the monitor's stats around the pass, the write-backs
 * per eviction and the prefetch counters of the pass. Returns the wrong pages. */
static size_t read_pass(const char *name, volatile unsigned char *r, const size_t *order, size_t n, const char *ctl,
			uint64_t *lat)
{
	control(ctl, "{\"cmd\":\"flush\"}\n");
	char *st = control(ctl, "{\"cmd\":\"stats\"}\n");
	unsigned long long w0 = stat_u64(st, "backend_writes"), e0 = stat_u64(st, "evictions"),
			   h0 = stat_u64(st, "prefetch_hits"), x0 = stat_u64(st, "prefetch_wasted"),
			   c0 = stat_u64(st, "clean_drops");
	size_t bad = 0;
	unsigned long long a0 = agent_cpu_ns();
	uint64_t t_start = timing_ns();
	for (size_t j = 0; j < n; j++) {
		size_t i = order[j];
		uint64_t t0 = timing_ns();
		unsigned char v = r[i * PS];
		lat[j] = timing_ns() - t0;
		bad += v != (unsigned char)((i % 251) + 1);
	}
	uint64_t wall = timing_ns() - t_start;
	char mode[64];
	snprintf(mode, sizeof mode, "monitor-%s", name);
	report(mode, lat, n);
	control(ctl, "{\"cmd\":\"flush\"}\n");
	st = control(ctl, "{\"cmd\":\"stats\"}\n");
	unsigned long long dw = stat_u64(st, "backend_writes") - w0, de = stat_u64(st, "evictions") - e0;
	unsigned long long agent = agent_cpu_ns() - a0;
	printf("{\"mode\":\"monitor-%s-meta\",\"pass_ns_per_page\":%.0f,\"evictions\":%llu,\"backend_writes\":%llu,"
	       "\"agent_ns_per_eviction\":%.0f,"
	       "\"writes_per_eviction\":%.3f,\"clean_drops\":%llu,\"prefetch_hits\":%llu,\"prefetch_wasted\":%llu,\"bad_pages\":%zu}\n",
	       name, (double)wall / (double)n, de, dw, de ? (double)agent / (double)de : 0.0, de ? (double)dw / (double)de : 0.0,
	       stat_u64(st, "clean_drops") - c0, stat_u64(st, "prefetch_hits") - h0,
	       stat_u64(st, "prefetch_wasted") - x0, bad);
	fflush(stdout);
	return bad;
}

static void monitor_mode(size_t n, const char *ctl, uint64_t *lat)
{
	/* map like QEMU so the attach library captures it */
	size_t size = 2 * n * PS, align = 2ul << 20;
	unsigned char *resv = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	unsigned char *a = (unsigned char *)(((uintptr_t)resv + align - 1) & ~(uintptr_t)(align - 1));
	volatile unsigned char *r = mmap(a, size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	touch_read("monitor-zero-fill", r + n * PS, n, lat);
	/* first write of never-touched pages (the page's first byte timed; the store's fault);
	 * the meta line gives the share the monitor installed as a private zeroed page
	 * (write_zero_fills) rather than the shared zero page that the write then copies */
	unsigned long long wz0 = stat_u64(control(ctl, "{\"cmd\":\"stats\"}\n"), "write_zero_fills");
	for (size_t i = 0; i < n; i++) {
		uint64_t t0 = timing_ns();
		r[i * PS] = (unsigned char)((i % 251) + 1);
		lat[i] = timing_ns() - t0;
		memset((void *)(r + i * PS + 1), (int)(i % 251) + 1, PS - 1);
	}
	report("monitor-zero-write", lat, n);
	unsigned long long wz = stat_u64(control(ctl, "{\"cmd\":\"stats\"}\n"), "write_zero_fills") - wz0;
	printf("{\"mode\":\"monitor-zero-write-meta\",\"write_zero_fills_per_page\":%.3f}\n", (double)wz / (double)n);
	fflush(stdout);
	size_t *order = calloc(n, sizeof *order), bad = 0;
	/* sequential scan (N >> capacity: FIFO, every access faults) */
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	bad += read_pass("fetch", r, order, n, ctl, lat);
	/* uniform random order (no trend: prefetch must stay off) */
	uint64_t x = 88172645463325252ull;
	for (size_t i = n - 1; i > 0; i--) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size_t j = x % (i + 1), t = order[i];
		order[i] = order[j], order[j] = t;
	}
	bad += read_pass("random", r, order, n, ctl, lat);
	/* strided: every 3rd page, wrapping (a trend of +3 pages) */
	for (size_t i = 0, k = 0; k < 3; k++)
		for (size_t p = k; p < n; p += 3)
			order[i++] = p;
	bad += read_pass("stride", r, order, n, ctl, lat);
	const char *st = control(ctl, "{\"cmd\":\"stats\"}\n");
	const char *b = strstr(st, "\"bytes_per_tracked_page\":");
	unsigned long long rf = stat_u64(st, "remote_fetches");
	const char *sp = strstr(st, "\"spin\":{");
	char spin[512] = "null";
	if (sp) {
		size_t k = strcspn(sp + 7, "}");
		snprintf(spin, sizeof spin, "%.*s}", (int)k, sp + 7);
	}
	printf("{\"mode\":\"monitor-meta\",\"bytes_per_tracked_page\":%s,\"remote_fetches\":%llu,\"bad_pages\":%zu,\"spin\":%s}\n",
	       b ? strtok((char *)b + 25, ",}") : "null", rf, bad, spin);
	free(order);
}

int main(int argc, char **argv)
{
	size_t n = 4096;
	const char *ctl = NULL, *handler_cpu = NULL;
	int spin = 0;
	if (argc < 2) {
		fprintf(stderr, "usage: fault-bench kernel|bare|monitor --pages N [--control PATH] [--handler-cpu LIST] [--spin]\n");
		return 2;
	}
	for (int i = 2; i < argc; i += 2) {
		if (!strcmp(argv[i], "--spin")) {
			spin = 1;
			i--;
			continue;
		}
		if (i + 1 >= argc)
			break;
		if (!strcmp(argv[i], "--pages"))
			n = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--control"))
			ctl = argv[i + 1];
		else if (!strcmp(argv[i], "--handler-cpu"))
			handler_cpu = *argv[i + 1] ? argv[i + 1] : NULL;
	}
	uint64_t *lat = calloc(n, sizeof *lat);
	if (!strcmp(argv[1], "kernel"))
		kernel_mode(n, lat);
	else if (!strcmp(argv[1], "bare"))
		bare_mode(n, lat, handler_cpu, spin);
	else if (!strcmp(argv[1], "monitor") && ctl)
		monitor_mode(n, ctl, lat);
	else {
		fprintf(stderr, "fault-bench: bad mode or missing --control\n");
		return 2;
	}
	return 0;
}
