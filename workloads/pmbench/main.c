/*
 * pmbench-compatible paging benchmark (FluidLab): orchestration of one run.
 * Order: parse args, pick the timestamp instruction (rdtscp falls back to lfence+rdtsc when
 * CPUID 0x80000001 EDX[27] is clear), calibrate the TSC, map the region, snapshot memory,
 * start the workers, snapshot pre-run (between the two barriers) and mid-run (half-way),
 * join, snapshot post-run and post-unmap, print the report, write the XML report (-f).
 * With -i the fill of the mapping is timed and announced as upstream does ("Initialization
 * took X ms", a progress line).
 * SIGINT stops the workers at their next 10,000-access check; the partial report is printed,
 * announced by an "interrupted" line, and the exit status is 130. A second SIGINT kills.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"
#include "run.h"
#include "tsc.h"

static struct run R;

static void on_sigint(int sig)
{
    (void)sig;
    atomic_store(&R.stop, 1);
}

static void die(const char *what)
{
    fprintf(stderr, "pmbench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double mono_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void initialize_region(unsigned char *base, size_t bytes)
{
    uint64_t s = 0x2545F4914F6CDD1DULL, *w = (uint64_t *)base;
    for (size_t i = 0; i < bytes / 8; i++)
        w[i] = lcg_step(&s);
}

static void open_trace_marker(void)
{
    R.trace_fd = -1;
    if (R.p.threshold <= 0)
        return;
    static const char *const paths[] = {"/sys/kernel/tracing/trace_marker",
                                        "/sys/kernel/debug/tracing/trace_marker"};
    for (unsigned i = 0; i < 2 && R.trace_fd < 0; i++)
        R.trace_fd = open(paths[i], O_WRONLY | O_CLOEXEC);
    if (R.trace_fd < 0)
        fprintf(stderr, "pmbench: no ftrace trace_marker; --threshold marks nothing\n");
}

/* Main thread while workers run: mid-run snapshot at half the duration (or earlier if the
 * workers finish or SIGINT arrives). */
static void wait_mid_run(void)
{
    double start = mono_sec(), half = (double)R.p.duration / 2.0;
    struct timespec tick = {0, 10 * 1000 * 1000};
    while (mono_sec() - start < half && !atomic_load(&R.stop) &&
           atomic_load(&R.finished) < (int)R.p.jobs)
        nanosleep(&tick, NULL);
    memsnap_take(&R.snap[SNAP_MID_RUN]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_args(argc, argv, &R.p);
    /* From here on SIGINT means "stop and report what was measured so far". */
    struct sigaction sa = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    R.stamp = R.p.tsops == TS_RDTSC ? STAMP_RDTSC : STAMP_RDTSCP;
    if (R.stamp == STAMP_RDTSCP && !tsc_have_rdtscp()) {
        R.stamp = STAMP_LFENCE_RDTSC;
        fprintf(stderr, "pmbench: rdtscp not available on this CPU; using lfence+rdtsc\n");
    }
    R.tsc_hz = tsc_calibrate_hz();
    cpu_model_name(R.cpu, sizeof R.cpu);
    kernel_string(R.kernel, sizeof R.kernel);
    make_uuid(R.uuid);
    open_trace_marker();

    R.map_bytes = (size_t)R.p.mapsize_mib << 20;
    R.pages = ((uint64_t)R.p.setsize_mib << 20) / 4096u;
    R.base = mmap(NULL, R.map_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (R.base == MAP_FAILED)
        die("mmap");
    if (R.p.initialize) {
        /* the two progress lines of upstream pmbench (LKP reads init_time.avg from the second) */
        if (!R.p.quiet)
            printf("Initializing memory map...\n");
        double t0 = mono_sec();
        initialize_region(R.base, R.map_bytes);
        if (!R.p.quiet)
            printf("Initialization took %0.4f ms\n", (mono_sec() - t0) * 1000.0);
    }

    R.threads = calloc((size_t)R.p.jobs, sizeof *R.threads);
    struct worker_arg *args = calloc((size_t)R.p.jobs, sizeof *args);
    pthread_t *tids = calloc((size_t)R.p.jobs, sizeof *tids);
    if (!R.threads || !args || !tids)
        die("calloc");
    pthread_barrier_init(&R.warm_done, NULL, (unsigned)R.p.jobs + 1);
    pthread_barrier_init(&R.start_main, NULL, (unsigned)R.p.jobs + 1);

    if (!R.p.cold)
        memsnap_take(&R.snap[SNAP_PRE_WARMUP]);
    for (long i = 0; i < R.p.jobs; i++) {
        R.threads[i].id = (unsigned)i + 1;
        args[i] = (struct worker_arg){&R, &R.threads[i]};
        int e = pthread_create(&tids[i], NULL, worker_main, &args[i]);
        if (e) {
            errno = e;
            die("pthread_create");
        }
    }
    pthread_barrier_wait(&R.warm_done);
    memsnap_take(&R.snap[SNAP_PRE_RUN]);
    pthread_barrier_wait(&R.start_main);
    wait_mid_run();
    for (long i = 0; i < R.p.jobs; i++)
        pthread_join(tids[i], NULL);
    if (!R.p.quiet)
        printf("All threads joined\n");
    memsnap_take(&R.snap[SNAP_POST_RUN]);
    munmap(R.base, R.map_bytes);
    memsnap_take(&R.snap[SNAP_POST_UNMAP]);

    R.interrupted = atomic_load(&R.stop);
    if (R.interrupted)
        printf("pmbench: interrupted by SIGINT - partial report follows\n");
    report_date(R.date, sizeof R.date, &R.date_tm);
    struct histo rd = {0}, wr = {0};
    for (long i = 0; i < R.p.jobs; i++) {
        histo_merge(&rd, &R.threads[i].read);
        histo_merge(&wr, &R.threads[i].write);
    }
    printf("\n");
    print_report(stdout, &R, &rd, &wr);
    int status = R.interrupted ? 130 : 0;
    if (R.p.xml_path && write_xml_report(R.p.xml_path, &R, &rd, &wr) != 0) {
        fprintf(stderr, "pmbench: cannot write XML report %s: %s\n", R.p.xml_path,
                strerror(errno));
        status = 1;
    }
    return status;
}
