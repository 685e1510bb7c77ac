/* pin.c -- fluidlab-pin: keeps a file's page-cache pages in RAM for as long as it runs.
 *
 *   fluidlab-pin FILE
 *
 * Maps FILE shared, faults every page in and mlock()s the mapping, prints
 * "fluidlab-pin: pinned N bytes" on stdout, then sleeps until SIGTERM/SIGINT/SIGHUP.
 *
 * Why: a swap device on a loop device over a tmpfs file (the host swap_on: tmpfs arm) must
 * never have the file's own pages swapped out, or they would be written to the very swap
 * device they back: the loop worker then waits for a writeback that only it can do, and
 * every task touching that swap hangs in D state (seen here: shmem_swapin_folio ->
 * folio_wait_writeback in the loop worker). mlocked shmem pages are unevictable, so the
 * recursion cannot start. The orchestrator runs this as a leased child for the life of the
 * swap device (host/swap-device.ts).
 *
 * Exit status: 0 on a signal, 1 with one line on stderr when the file cannot be opened,
 * mapped or locked (e.g. RLIMIT_MEMLOCK without CAP_IPC_LOCK). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fluidlab-pin FILE\n");
		return 1;
	}
	int fd = open(argv[1], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "fluidlab-pin: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		fprintf(stderr, "fluidlab-pin: %s is empty or cannot be read\n", argv[1]);
		return 1;
	}
	size_t len = (size_t)st.st_size;
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "fluidlab-pin: cannot map %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (mlock(p, len) < 0) {
		fprintf(stderr, "fluidlab-pin: cannot lock %zu bytes of %s in RAM: %s\n", len, argv[1], strerror(errno));
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	printf("fluidlab-pin: pinned %zu bytes\n", len);
	fflush(stdout);
	while (!stop)
		pause();
	return 0;
}
