/* cgexec.c -- fluidlab-cgexec: run a program inside a given cgroup (and optionally on one CPU).
 *
 *   fluidlab-cgexec [--cpu N] CGROUP_DIR [--cpu N] -- PROGRAM [ARGS...]
 *
 * Writes its own pid into CGROUP_DIR/cgroup.procs (a cgroup v1 controller directory such as
 * /sys/fs/cgroup/memory/NAME, or a cgroup2 directory), pins itself to CPU N with
 * sched_setaffinity() if asked, then execvp()s PROGRAM with ARGS. The environment is
 * inherited unchanged (LD_PRELOAD of libfluidmem-attach.so passes through), and so are the
 * cgroup membership and the affinity: the benchmark is accounted and placed from its first
 * instruction, with no window in which it runs outside the cgroup.
 *
 * Exit status (only when PROGRAM never starts), as env(1)/chroot(1) do:
 *   125  usage error, the cgroup cannot be joined, or the CPU cannot be pinned;
 *   126  PROGRAM was found but could not be executed;
 *   127  PROGRAM was not found.
 * Every failure prints one line on stderr that says what failed and where. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_SETUP 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

static void usage(const char *msg)
{
	fprintf(stderr,
		"fluidlab-cgexec: %s\n"
		"usage: fluidlab-cgexec [--cpu N] CGROUP_DIR -- PROGRAM [ARGS...]\n",
		msg);
	exit(EXIT_SETUP);
}

/* Why writing to cgroup.procs may fail, in words an operator can act on. */
static const char *join_hint(int err)
{
	switch (err) {
	case ENOENT:
		return " (not a cgroup directory: it has no cgroup.procs)";
	case EACCES:
	case EPERM:
		return " (no permission: run as root or delegate the cgroup)";
	case EBUSY:
	case EOPNOTSUPP:
		return " (cgroup2: a cgroup with controllers enabled for its children cannot hold processes; use a leaf)";
	default:
		return "";
	}
}

/* Moves the calling process into the cgroup at dir; exits 125 with a message on failure. */
static void join_cgroup(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		fprintf(stderr, "fluidlab-cgexec: cannot join cgroup %s: %s\n", dir, strerror(errno));
		exit(EXIT_SETUP);
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "fluidlab-cgexec: cannot join cgroup %s: not a directory\n", dir);
		exit(EXIT_SETUP);
	}
	char path[PATH_MAX];
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (snprintf(path, sizeof path, "%.*s/cgroup.procs", (int)n, dir) >= (int)sizeof path) {
		fprintf(stderr, "fluidlab-cgexec: cannot join cgroup %s: path too long\n", dir);
		exit(EXIT_SETUP);
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		fprintf(stderr, "fluidlab-cgexec: cannot join cgroup %s: open %s: %s%s\n", dir, path,
			strerror(e), join_hint(e));
		exit(EXIT_SETUP);
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (write(fd, pid, (size_t)len) != len) {
		int e = errno;
		fprintf(stderr, "fluidlab-cgexec: cannot join cgroup %s: writing pid %d to %s: %s%s\n", dir,
			(int)getpid(), path, strerror(e), join_hint(e));
		exit(EXIT_SETUP);
	}
	close(fd);
}

static int parse_cpu(const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < 0 || v >= CPU_SETSIZE) {
		char msg[128];
		snprintf(msg, sizeof msg, "--cpu wants a CPU number 0..%d, got '%.32s'", CPU_SETSIZE - 1, s);
		usage(msg);
	}
	return (int)v;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0) {
		fprintf(stderr, "fluidlab-cgexec: cannot pin to CPU %d: sched_setaffinity: %s%s\n", cpu,
			strerror(errno), errno == EINVAL ? " (no such CPU, or not allowed by the cpuset)" : "");
		exit(EXIT_SETUP);
	}
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int cpu = -1, i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--cpu") == 0) {
			if (i + 1 >= argc)
				usage("--cpu needs a CPU number");
			cpu = parse_cpu(argv[++i]);
		} else if (strncmp(argv[i], "--cpu=", 6) == 0) {
			cpu = parse_cpu(argv[i] + 6);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			char msg[128];
			snprintf(msg, sizeof msg, "unknown option '%.64s'", argv[i]);
			usage(msg);
		} else if (dir) {
			usage("exactly one CGROUP_DIR before '--'");
		} else {
			dir = argv[i];
		}
	}
	if (!dir)
		usage("missing CGROUP_DIR");
	if (i >= argc)
		usage("missing '--' before PROGRAM");
	if (i + 1 >= argc)
		usage("missing PROGRAM after '--'");
	char **prog = argv + i + 1;

	join_cgroup(dir);
	if (cpu >= 0)
		pin_cpu(cpu);
	execvp(prog[0], prog);
	int e = errno;
	fprintf(stderr, "fluidlab-cgexec: cannot run %s: %s\n", prog[0], strerror(e));
	return e == ENOENT || e == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC;
}
