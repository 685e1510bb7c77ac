/* oom-guard.c -- fluidlab-oom-guard: keeps a cgroup v1 memory cgroup's OOM stalls from
 * killing a benchmark that still has free swap.
 *
 *   fluidlab-oom-guard CGROUP_DIR
 *
 * Why. A host swap arm runs the benchmark in a memory cgroup whose limit is the resident
 * size (experiment/host-run.ts). On this kernel (6.18, classic LRU, cgroup v1) the
 * benchmark's own charge in the swap-in path sometimes fails to reclaim anything 16 times
 * in a row while the swap device is two-thirds free, and the memcg OOM killer ends the run
 * (zram and loop devices alike; seen in about 1 run in 10 with both CPUs busy). Caught in
 * the act (oom_kill_disable=1), the stalled cgroup held 4096 pages, all on the active list;
 * a limit shrink written from another process reclaimed 1 MiB at once, and raising the
 * limit back let the benchmark go on. That is what this helper does, as each stall begins.
 *
 * What. It sets memory.oom_control's oom_kill_disable to 1 (a stalled charge waits instead
 * of killing), asks for OOM notifications (an eventfd registered in cgroup.event_control),
 * prints "ready" and waits. On each notification (and every 100 ms) while the cgroup is under OOM it writes
 * LIMIT - STEP to memory.limit_in_bytes (the kernel reclaims STEP in this process's
 * context) and then LIMIT again (raising a limit wakes the stalled tasks), and prints
 *   rescue N reclaimed_us=U
 * The limit the benchmark runs under is LIMIT the whole time except for those few ms.
 * Each notification prints "stalls TOTAL". Measured under CPU load (2 busy loops, 20 runs
 * of pmbench 64 MiB in 16 MiB over zram): 1 stall, rescued by reclaiming 1 MiB in 12.8 ms.
 *
 * Fail closed. A stall that rescues do not relieve for 2 s is a true OOM: the shrink fails
 * (EBUSY: nothing reclaimable, e.g. the swap device is full) or succeeds without the cgroup
 * charging a page since (memory.stat pgpgin; e.g. a memory+swap limit is what is full).
 * The guard then writes oom_kill_disable=0, so the kernel's OOM killer ends it (a run is
 * killed, never hung), prints "gave-up ...", and exits 3. On SIGTERM or SIGINT it writes oom_kill_disable=0, prints "rescues N stalls M" and exits 0.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 2 usage or set-up error (one line on stderr saying
 * what and where), 3 gave up. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define STEP_BYTES (1ull << 20) /* what one rescue reclaims: 256 pages */
#define GIVE_UP_US 2000000     /* how long rescues may go without progress */

static char dir[PATH_MAX];

static void die(const char *what, const char *file)
{
	fprintf(stderr, "fluidlab-oom-guard: %s %s/%s: %s\n", what, dir, file, strerror(errno));
	exit(2);
}

/* Writes `value` to DIR/file; returns 0 or -1 with errno set. */
static int put(const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* Reads DIR/file into buf (NUL-terminated); returns 0 or -1 with errno set. */
static int get(const char *file, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static int under_oom(void)
{
	char buf[256];
	if (get("memory.oom_control", buf, sizeof buf) < 0)
		die("reading", "memory.oom_control");
	const char *p = strstr(buf, "under_oom ");
	return p && p[10] == '1';
}

/* memory.stat's pgpgin: how many pages the cgroup has charged (it grows while the
 * benchmark makes progress). */
static uint64_t pgpgin(void)
{
	char buf[16384];
	if (get("memory.stat", buf, sizeof buf) < 0)
		die("reading", "memory.stat");
	const char *p = strstr(buf, "\npgpgin ");
	return p ? strtoull(p + 8, NULL, 10) : 0;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One rescue: shrink by STEP (reclaim), then restore (wake). Returns 0, or -1 when the
 * kernel could not reclaim STEP (errno from the write). */
static int rescue(unsigned long long limit)
{
	char v[32];
	snprintf(v, sizeof v, "%llu", limit - STEP_BYTES);
	int shrunk = put("memory.limit_in_bytes", v);
	int e = errno;
	snprintf(v, sizeof v, "%llu", limit);
	if (put("memory.limit_in_bytes", v) < 0)
		die("restoring the limit in", "memory.limit_in_bytes");
	errno = e;
	return shrunk;
}

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: fluidlab-oom-guard CGROUP_DIR (a cgroup v1 memory cgroup)\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s", argv[1]);

	char buf[64];
	if (get("memory.limit_in_bytes", buf, sizeof buf) < 0)
		die("reading", "memory.limit_in_bytes");
	unsigned long long limit = strtoull(buf, NULL, 10);
	if (limit <= 2 * STEP_BYTES) {
		fprintf(stderr, "fluidlab-oom-guard: %s: limit %llu bytes is too small to shrink by %llu\n", dir, limit,
			STEP_BYTES);
		return 2;
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || efd < 0) {
		fprintf(stderr, "fluidlab-oom-guard: signalfd/eventfd: %s\n", strerror(errno));
		return 2;
	}
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/memory.oom_control", dir);
	int ofd = open(path, O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		die("opening", "memory.oom_control");
	char reg[64];
	snprintf(reg, sizeof reg, "%d %d", efd, ofd);
	if (put("cgroup.event_control", reg) < 0)
		die("registering for OOM events in", "cgroup.event_control");
	if (put("memory.oom_control", "1") < 0)
		die("setting oom_kill_disable in", "memory.oom_control");

	printf("ready\n");
	fflush(stdout);
	unsigned long rescues = 0;
	uint64_t stalls = 0; /* OOM notifications: stalls begun */
	uint64_t stuck_since = 0;          /* first of an unbroken run of attempts without progress */
	uint64_t last_pgpgin = UINT64_MAX; /* the cgroup's charge count at the last attempt */
	for (;;) {
		/* checked on each event and every 100 ms: a stall may have begun before the
		 * registration, or outlive a rescue without a new event */
		if (under_oom()) {
			uint64_t t0 = now_us(), pg = pgpgin();
			if (pg != last_pgpgin)
				stuck_since = 0; /* the cgroup charged pages since the last attempt */
			last_pgpgin = pg;
			if (!stuck_since) {
				stuck_since = t0;
			} else if (t0 - stuck_since > GIVE_UP_US) {
				put("memory.oom_control", "0");
				printf("gave-up after %lu rescues: no charge succeeded for %d ms of rescue attempts\n", rescues,
				       GIVE_UP_US / 1000);
				fflush(stdout);
				return 3;
			}
			if (rescue(limit) == 0) {
				printf("rescue %lu reclaimed_us=%llu\n", ++rescues, (unsigned long long)(now_us() - t0));
				fflush(stdout);
			}
		}
		struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, 100) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "fluidlab-oom-guard: poll: %s\n", strerror(errno));
			put("memory.oom_control", "0");
			return 2;
		}
		if (p[1].revents) {
			put("memory.oom_control", "0");
			printf("rescues %lu stalls %llu\n", rescues, (unsigned long long)stalls);
			return 0;
		}
		uint64_t n;
		if (p[0].revents & POLLIN) {
			if (read(efd, &n, sizeof n) != (ssize_t)sizeof n) {
				fprintf(stderr, "fluidlab-oom-guard: reading the OOM eventfd: %s\n", strerror(errno));
				put("memory.oom_control", "0");
				return 2;
			}
			stalls += n;
			printf("stalls %llu\n", (unsigned long long)stalls);
			fflush(stdout);
		}
	}
}
