/* keepawake.c -- keeps one CPU out of idle (an idle=poll equivalent for one CPU), for the
 * fault-latency bench's placement study (issue 11 item 4).
 *
 *   keepawake CPU      busy-loops on CPU (pinned) at SCHED_IDLE priority until killed or
 *                      until its parent dies
 *
 * On a VM a CPU that goes idle halts (HLT exits to the hypervisor), and waking it for a
 * fault handler costs 100+ us on this host. A SCHED_IDLE busy loop keeps the CPU running
 * without taking time from anyone: any normal task woken there preempts it at once (a
 * wake-up is then a cheap preemption, not a halt exit), and the scheduler treats a CPU
 * running only SCHED_IDLE tasks as idle when it places woken tasks. The price is the CPU's
 * power and, on a shared host, the hypervisor time it burns. Anything measured with it must
 * have its baseline measured with it too. */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/prctl.h>

int main(int argc, char **argv)
{
	char *end;
	long cpu = argc == 2 ? strtol(argv[1], &end, 10) : -1;
	if (argc != 2 || *end || cpu < 0 || cpu >= CPU_SETSIZE) {
		fprintf(stderr, "usage: keepawake CPU\n");
		return 2;
	}
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET((int)cpu, &set);
	struct sched_param sp = {.sched_priority = 0};
	if (sched_setaffinity(0, sizeof set, &set) < 0 || sched_setscheduler(0, SCHED_IDLE, &sp) < 0) {
		fprintf(stderr, "keepawake: cannot pin to CPU %ld at SCHED_IDLE: %s\n", cpu, strerror(errno));
		return 1;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the bench that started it */
	/* No PAUSE in the loop: on a VM, a stream of PAUSEs can trip pause-loop exiting, and the
	 * hypervisor may then deschedule the vCPU, the opposite of keeping it awake (on this
	 * host both loops gave the same bare round trip, 186-202 us with PAUSE, 190 without). */
	for (volatile unsigned long n = 0;; n++)
		;
}
