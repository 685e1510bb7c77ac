/*
 * Time-stamp counter access and frequency calibration.
 * The TSC frequency is never taken from CPUID (leaves 0x15/0x16 are absent under QEMU TCG):
 * it is measured against CLOCK_MONOTONIC_RAW (see tsc.c).
 */
#ifndef PMBENCH_TSC_H
#define PMBENCH_TSC_H

#include <stdint.h>

static inline __attribute__((always_inline)) uint64_t ts_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

static inline __attribute__((always_inline)) uint64_t ts_rdtscp(void)
{
    uint32_t lo, hi, aux;
    __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Stand-in for rdtscp on CPUs without it: lfence orders the read after prior loads. */
static inline __attribute__((always_inline)) uint64_t ts_lfence_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("lfence\n\trdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* CPUID 0x80000001 EDX bit 27. */
int tsc_have_rdtscp(void);

/* TSC ticks per second: median of several short calibrations against CLOCK_MONOTONIC_RAW. */
double tsc_calibrate_hz(void);

#endif
