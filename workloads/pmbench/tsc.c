/*
 * TSC frequency calibration: read (raw clock, TSC, raw clock) at the start and end of a
 * ~30 ms busy wait, pair each TSC read with the midpoint of its two clock reads, and take
 * the median of 5 such measurements so one preemption on a noisy host does not skew it.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <time.h>

#include "tsc.h"

#define CAL_ROUNDS 5
#define CAL_NS 30000000LL

int tsc_have_rdtscp(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000001u)
        return 0;
    if (!__get_cpuid(0x80000001u, &a, &b, &c, &d))
        return 0;
    return (d >> 27) & 1;
}

static long long raw_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC_RAW, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One (time, tsc) pair, time taken as the midpoint of the bracketing clock reads. */
static void sample(long long *ns, uint64_t *tsc)
{
    long long a = raw_ns();
    *tsc = ts_lfence_rdtsc();
    long long b = raw_ns();
    *ns = a + (b - a) / 2;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double tsc_calibrate_hz(void)
{
    double hz[CAL_ROUNDS];
    for (int i = 0; i < CAL_ROUNDS; i++) {
        long long n0, n1;
        uint64_t t0, t1;
        sample(&n0, &t0);
        do
            sample(&n1, &t1);
        while (n1 - n0 < CAL_NS);
        hz[i] = (double)(t1 - t0) * 1e9 / (double)(n1 - n0);
    }
    qsort(hz, CAL_ROUNDS, sizeof hz[0], cmp_double);
    return hz[CAL_ROUNDS / 2];
}
