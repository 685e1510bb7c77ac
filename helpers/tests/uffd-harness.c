/* uffd-harness.c -- host-side stand-in for QEMU: maps "guest RAM" exactly the way QEMU
 * 7.2 does (PROT_NONE reservation, then MAP_FIXED|MAP_PRIVATE|MAP_ANONYMOUS of the
 * region size), so that libfluidmem-attach.so (LD_PRELOAD) hands it to the monitor,
 * then checks that every byte survives eviction and refetch.
 *
 * A shadow copy of the working set lives in ordinary (unmanaged) memory.
 *   phase 1: each thread writes a distinct pattern over its share of the working set;
 *            prints "phase1 done".
 *   phase 2: random interleaved operations per thread: read-and-verify a page, partial
 *            random write, full rewrite, read an untouched page (must be zero), and
 *            optionally MADV_DONTNEED a page (--remove-pct; the page must read zero).
 *            With --until-signal the phase keeps going after --ops until SIGUSR1.
 *   final:   verify every byte of the region; print one JSON line with the result.
 * With --signal-storm a SIGALRM (SA_RESTART, as QEMU installs its handlers) arrives every
 * 200 us while the region is mapped, so the attach library's hello is interrupted.
 * With --turns PATH (one thread) the process faults only while it holds flock(PATH), taking
 * it for --burst operations (default 50) at a time: many harnesses attached to one monitor
 * then take turns instead of faulting at once (bench/fault-latency/scale.sh: what a fault
 * costs with N VMs attached, without queueing behind the others' faults).
 * With --hold the process then waits for a line (or EOF) on stdin before exiting, so
 * the caller can read the monitor's stats while the region is still attached.
 *
 * --discard-race: instead of the phases above, every thread works on the same --pages
 * pages while one more thread keeps discarding random ranges of them (MADV_DONTNEED,
 * 1..--discard-max pages, one per --discard-every worker operations), so REMOVE events race faults (and evictions) on the same
 * pages. Each worker owns one 8-byte lane of every page and writes tagged values
 * (page, thread, counter); a lane must read back as 0 (discarded) or a tag of its own
 * page and lane, every byte outside the lanes must be 0, and a worker's own lane must
 * read its last write or 0. Ends after --ops operations per worker; prints the JSON line.
 * A handler that only wakes a fault on a page the kernel discarded hangs here.
 * Exit status: 0 all bytes correct, 1 corruption found, 2 usage/setup error. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#define PS 4096ul

static size_t region_pages, ws_pages, nthreads = 2;
static uint64_t ops = 20000, seed = 1;
static unsigned remove_pct;
static int until_signal, hold, signal_storm;
static unsigned char *region, *shadow;
static volatile sig_atomic_t got_usr1;
static atomic_ulong corrupt_bytes, corrupt_pages, checked_bytes, done_ops, removes;
static atomic_long first_bad = -1;

static uint64_t rng(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void check_page(size_t pg)
{
	const unsigned char *a = region + pg * PS;
	unsigned long bad = 0;
	if (pg < ws_pages) {
		const unsigned char *b = shadow + pg * PS;
		if (memcmp(a, b, PS))
			for (size_t i = 0; i < PS; i++)
				bad += a[i] != b[i];
	} else {
		for (size_t i = 0; i < PS; i++)
			bad += a[i] != 0;
	}
	atomic_fetch_add(&checked_bytes, PS);
	if (bad) {
		atomic_fetch_add(&corrupt_bytes, bad);
		atomic_fetch_add(&corrupt_pages, 1);
		long expect = -1;
		atomic_compare_exchange_strong(&first_bad, &expect, (long)pg);
	}
}

static void fill(size_t pg, size_t off, size_t len, uint64_t *s)
{
	unsigned char *a = region + pg * PS + off, *b = shadow + pg * PS + off;
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rng(s) ^ (pg << 20);
		size_t n = len - i < 8 ? len - i : 8;
		memcpy(b + i, &v, n);
		memcpy(a + i, &v, n);
	}
}

struct targ { size_t id; };

static size_t pick(uint64_t *s, size_t id)
{
	size_t per = (ws_pages - id + nthreads - 1) / nthreads;
	return (size_t)(rng(s) % per) * nthreads + id;
}

static int turn_fd = -1;
static uint64_t burst = 50;

/* Before operation i: with --turns, every --burst operations give the lock up (and the CPU,
 * so a waiter gets it) and take it again. */
static void take_turn(uint64_t i)
{
	if (turn_fd < 0 || i % burst)
		return;
	flock(turn_fd, LOCK_UN);
	sched_yield();
	while (flock(turn_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			perror("uffd-harness: --turns: flock");
			exit(2);
		}
	}
}

static void *phase1(void *p)
{
	size_t id = ((struct targ *)p)->id;
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + id + 1;
	for (size_t pg = id; pg < ws_pages; pg += nthreads) {
		take_turn(pg);
		fill(pg, 0, PS, &s);
	}
	return NULL;
}

static void *phase2(void *p)
{
	size_t id = ((struct targ *)p)->id;
	uint64_t s = seed * 0xD1B54A32D192ED03ull + id + 7;
	uint64_t mine = ops / nthreads;
	for (uint64_t i = 0; i < mine || (until_signal && !got_usr1); i++) {
		take_turn(i);
		unsigned r = (unsigned)(rng(&s) % 100);
		size_t pg = pick(&s, id);
		if (r < remove_pct) {
			if (madvise(region + pg * PS, PS, MADV_DONTNEED) == 0) {
				memset(shadow + pg * PS, 0, PS);
				atomic_fetch_add(&removes, 1);
			}
		} else if (r < 50) {
			check_page(pg);
		} else if (r < 80) {
			size_t off = (size_t)(rng(&s) % PS), len = 1 + (size_t)(rng(&s) % (PS - off));
			fill(pg, off, len, &s);
		} else if (r < 90) {
			fill(pg, 0, PS, &s);
		} else if (region_pages > ws_pages) {
			size_t extra = region_pages - ws_pages;
			/* untouched pages are shared by all threads: reading them is race-free */
			check_page(ws_pages + (size_t)(rng(&s) % extra));
		}
		atomic_fetch_add(&done_ops, 1);
	}
	return NULL;
}

/* ---- --discard-race ---- */

static int discard_race;
static size_t discard_max = 8, discard_every = 16;
static atomic_int workers_left;
static atomic_ulong discards;

static uint64_t tag(size_t pg, size_t lane, uint64_t n)
{
	return ((uint64_t)pg << 40) | ((uint64_t)lane << 32) | (n & 0xffffffffu) | 1;
}

static void race_bad(size_t pg, unsigned long nbytes)
{
	atomic_fetch_add(&corrupt_bytes, nbytes);
	atomic_fetch_add(&corrupt_pages, 1);
	long expect = -1;
	atomic_compare_exchange_strong(&first_bad, &expect, (long)pg);
}

/* --discard-rounds: rounds of two back-to-back discards of the whole set while the workers
 * fault on it, then a quiet pass in which every worker touches every page with no discard
 * in flight: a page the handler believes resident after the kernel zapped it is never
 * rescued by a later discard there, so a handler that only wakes hangs in that pass. */
static uint64_t discard_rounds;
static atomic_ulong quiet_round, quiet_acks;
static atomic_int race_stop;

static uint64_t race_op(size_t id, uint64_t i, uint64_t *s)
{
	size_t pg = (size_t)(rng(s) % ws_pages);
	volatile uint64_t *lanes = (volatile uint64_t *)(region + pg * PS);
	uint64_t v = tag(pg, id, i);
	lanes[id] = v;
	uint64_t back = lanes[id];
	if (back != v && back != 0)
		race_bad(pg, 8);
	atomic_fetch_add(&checked_bytes, 8);
	atomic_fetch_add(&done_ops, 1);
	return i + 1;
}

static void *round_worker(void *p)
{
	size_t id = ((struct targ *)p)->id;
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + id + 303, i = 1, mine = 0;
	while (!atomic_load(&race_stop)) {
		unsigned long q = atomic_load(&quiet_round);
		if (q > mine) {
			for (size_t pg = 0; pg < ws_pages; pg++) {
				uint64_t o = ((volatile uint64_t *)(region + pg * PS))[id];
				if (o != 0 && (o >> 32) != (((uint64_t)pg << 8) | id))
					race_bad(pg, 8);
			}
			mine = q;
			atomic_fetch_add(&quiet_acks, 1);
			continue;
		}
		i = race_op(id, i, &s);
	}
	return NULL;
}

static void run_discard_rounds(void)
{
	pthread_t t[64];
	struct targ a[64];
	uint64_t s = seed * 0xD1B54A32D192ED03ull + 31;
	for (size_t i = 0; i < nthreads; i++) {
		a[i].id = i;
		pthread_create(&t[i], NULL, round_worker, &a[i]);
	}
	for (uint64_t r = 1; r <= discard_rounds; r++) {
		for (int k = 0; k < 2; k++) {
			unsigned long until = atomic_load(&done_ops) + 1 + rng(&s) % (2 * nthreads);
			while (atomic_load(&done_ops) < until)
				sched_yield();
			if (madvise(region, ws_pages * PS, MADV_DONTNEED) == 0)
				atomic_fetch_add(&discards, 1);
		}
		atomic_store(&quiet_round, r);
		while (atomic_load(&quiet_acks) < r * nthreads)
			sched_yield();
	}
	atomic_store(&race_stop, 1);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	atomic_store(&removes, atomic_load(&discards));
}

static void *race_worker(void *p)
{
	size_t id = ((struct targ *)p)->id;
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + id + 101;
	for (uint64_t i = 1; i <= ops; i++) {
		size_t pg = (size_t)(rng(&s) % ws_pages);
		volatile uint64_t *lanes = (volatile uint64_t *)(region + pg * PS);
		uint64_t v = tag(pg, id, i);
		lanes[id] = v;
		uint64_t back = lanes[id];
		if (back != v && back != 0)
			race_bad(pg, 8);
		size_t other = (size_t)(rng(&s) % nthreads);
		uint64_t o = lanes[other];
		if (o != 0 && (o >> 32) != (((uint64_t)pg << 8) | other))
			race_bad(pg, 8);
		uint64_t tail = lanes[PS / 8 - 1 - (size_t)(rng(&s) % (PS / 8 - nthreads))];
		if (tail != 0)
			race_bad(pg, 8);
		atomic_fetch_add(&checked_bytes, 24);
		atomic_fetch_add(&done_ops, 1);
	}
	atomic_fetch_sub(&workers_left, 1);
	return NULL;
}

static void *race_discarder(void *p)
{
	(void)p;
	uint64_t s = seed * 0xD1B54A32D192ED03ull + 977;
	unsigned long next = 0;
	while (atomic_load(&workers_left) > 0) {
		/* paced by the workers' progress: a discard per --discard-every operations, so
		 * faults keep getting served between REMOVE events (a discarder in a tight loop
		 * keeps an event pending nearly all the time and starves every install) */
		if (atomic_load(&done_ops) < next) {
			usleep(20);
			continue;
		}
		next = atomic_load(&done_ops) + discard_every;
		size_t pg = (size_t)(rng(&s) % ws_pages), n = 1 + (size_t)(rng(&s) % discard_max);
		if (pg + n > ws_pages)
			n = ws_pages - pg;
		if (madvise(region + pg * PS, n * PS, MADV_DONTNEED) == 0)
			atomic_fetch_add(&discards, 1);
	}
	return NULL;
}

static void run_discard_race(void)
{
	pthread_t t[65], d;
	struct targ a[64];
	atomic_store(&workers_left, (int)nthreads);
	for (size_t i = 0; i < nthreads; i++) {
		a[i].id = i;
		pthread_create(&t[i], NULL, race_worker, &a[i]);
	}
	pthread_create(&d, NULL, race_discarder, NULL);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	pthread_join(d, NULL);
	atomic_store(&removes, atomic_load(&discards));
}

static void run(void *(*fn)(void *))
{
	pthread_t t[64];
	struct targ a[64];
	for (size_t i = 0; i < nthreads; i++) {
		a[i].id = i;
		pthread_create(&t[i], NULL, fn, &a[i]);
	}
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Every 200 us a SIGALRM (on: 1) or none (on: 0). */
static void storm(int on)
{
	if (on) {
		struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
	}
	struct itimerval it = {.it_interval = {0, on ? 200 : 0}, .it_value = {0, on ? 200 : 0}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static void usage(void)
{
	fprintf(stderr, "usage: uffd-harness --region-pages N --pages W [--ops N] [--threads T] [--seed S]\n"
			"                    [--remove-pct P] [--until-signal] [--hold] [--signal-storm]\n"
			"                    [--turns LOCKFILE [--burst K]] (with --threads 1)\n"
			"       uffd-harness --discard-race --region-pages N --pages W [--ops N] [--threads T]\n"
			"                    [--discard-max PAGES] [--discard-every OPS] [--seed S] [--hold]\n"
			"       uffd-harness --discard-rounds N --region-pages N --pages W [--threads T] [--seed S]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--until-signal"))
			until_signal = 1;
		else if (!strcmp(a, "--discard-race"))
			discard_race = 1;
		else if (!strcmp(a, "--hold"))
			hold = 1;
		else if (!strcmp(a, "--signal-storm"))
			signal_storm = 1;
		else if (!v)
			usage();
		else if (!strcmp(a, "--region-pages"))
			region_pages = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--pages"))
			ws_pages = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--ops"))
			ops = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--threads"))
			nthreads = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--seed"))
			seed = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--discard-rounds"))
			discard_rounds = strtoull(v, NULL, 10), i++, discard_race = 1;
		else if (!strcmp(a, "--discard-every"))
			discard_every = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--discard-max"))
			discard_max = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--turns")) {
			if ((turn_fd = open(v, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
				perror("uffd-harness: --turns");
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--burst"))
			burst = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--remove-pct"))
			remove_pct = (unsigned)strtoul(v, NULL, 10), i++;
		else
			usage();
	}
	if (!region_pages || !ws_pages || ws_pages > region_pages || !nthreads || nthreads > 64 ||
	    nthreads > ws_pages || remove_pct > 40 || !discard_max || (discard_race && nthreads > 32) ||
	    !burst || (turn_fd >= 0 && (nthreads != 1 || discard_race)))
		usage();
	signal(SIGUSR1, on_usr1);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* QEMU 7.2 qemu_ram_mmap(): reserve with PROT_NONE, then map RAM over it, aligned */
	size_t size = region_pages * PS, align = 2ul << 20;
	unsigned char *resv = mmap(NULL, size + align, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED) {
		perror("uffd-harness: reserve");
		return 2;
	}
	unsigned char *aligned = (unsigned char *)(((uintptr_t)resv + align - 1) & ~(uintptr_t)(align - 1));
	if (signal_storm)
		storm(1);
	region = mmap(aligned, size, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (signal_storm)
		storm(0);
	if (region == MAP_FAILED) {
		perror("uffd-harness: map region");
		return 2;
	}
	shadow = calloc(ws_pages, PS);
	if (!shadow) {
		perror("uffd-harness: shadow");
		return 2;
	}
	printf("attached region %zu pages, working set %zu pages\n", region_pages, ws_pages);

	if (discard_rounds) {
		run_discard_rounds();
		printf("race done\n");
	} else if (discard_race) {
		run_discard_race();
		printf("race done\n");
	} else {
		run(phase1);
		printf("phase1 done\n");
		run(phase2);
		printf("phase2 done\n");
		for (size_t pg = 0; pg < region_pages; pg++) {
			take_turn(pg);
			check_page(pg);
		}
		if (turn_fd >= 0)
			flock(turn_fd, LOCK_UN);
	}
	unsigned long bad = atomic_load(&corrupt_bytes);
	printf("{\"ok\":%s,\"pages\":%zu,\"region_pages\":%zu,\"ops\":%lu,\"removes\":%lu,"
	       "\"checked_bytes\":%lu,\"corrupt_bytes\":%lu,\"corrupt_pages\":%lu,\"first_corrupt_page\":%ld}\n",
	       bad ? "false" : "true", ws_pages, region_pages, atomic_load(&done_ops), atomic_load(&removes),
	       atomic_load(&checked_bytes), bad, atomic_load(&corrupt_pages), atomic_load(&first_bad));
	if (hold) {
		printf("holding\n");
		char line[64];
		if (!fgets(line, sizeof line, stdin) && ferror(stdin))
			perror("uffd-harness: stdin");
	}
	return bad ? 1 : 0;
}
