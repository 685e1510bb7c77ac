/*
 * The state of one benchmark run shared by main.c (orchestration), worker.c (the measuring
 * threads), report.c (text report) and xmlreport.c (-f report). Workers write only their own
 * thread_result; main reads them after join.
 */
#ifndef PMBENCH_RUN_H
#define PMBENCH_RUN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "histo.h"
#include "params.h"
#include "sysinfo.h"

#define GEN_OVERHEAD_DRAWS 1000000u
#define LOOP_CHECK_EVERY 10000u

/* The timestamp instruction actually used. */
enum stamp_mode { STAMP_RDTSC, STAMP_RDTSCP, STAMP_LFENCE_RDTSC };

struct thread_result {
    unsigned id;                 /* 1-based */
    uint64_t gen_cycles_total;   /* over GEN_OVERHEAD_DRAWS draws */
    uint64_t warmup_accesses, warmup_cycles;
    uint64_t accesses, bench_cycles;
    struct histo read, write;
    uint32_t sink;               /* keeps reads observable */
};

struct run {
    struct params p;
    double tsc_hz;
    enum stamp_mode stamp;
    unsigned char *base;
    size_t map_bytes;
    uint64_t pages;              /* pages in the working set */
    int trace_fd;                /* ftrace trace_marker, or -1 */
    atomic_int stop;             /* set by SIGINT */
    atomic_int finished;         /* workers done with the main loop */
    pthread_barrier_t warm_done, start_main;
    struct thread_result *threads;
    char cpu[256], kernel[256], date[64], uuid[37];
    struct tm date_tm;           /* the report time, field by field (XML time_info) */
    struct memsnap snap[SNAP_COUNT];
    int interrupted;
};

struct worker_arg {
    struct run *run;
    struct thread_result *res;
};

void *worker_main(void *arg);

/* Derived per-thread figures, in us and cycles per access. */
struct thread_figures {
    double bench_us, bench_clks, gen_us, gen_clks, net_us, net_clks, warm_us, warm_clks;
    double bench_sec;
    uint64_t warm_total_us;
};
void thread_figures(const struct run *r, const struct thread_result *t, struct thread_figures *f);

void print_report(FILE *out, const struct run *r, const struct histo *rd, const struct histo *wr);
int write_xml_report(const char *path, const struct run *r, const struct histo *rd,
                     const struct histo *wr);

#endif
