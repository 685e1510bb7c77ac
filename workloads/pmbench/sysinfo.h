/*
 * Facts about the machine for the report: /proc/meminfo + /proc/vmstat snapshots, CPU
 * model name, kernel, report date and a random UUID. Nothing here uses CPUID cache/TLB leaves.
 */
#ifndef PMBENCH_SYSINFO_H
#define PMBENCH_SYSINFO_H

#include <time.h>

enum { SNAP_PRE_WARMUP, SNAP_PRE_RUN, SNAP_MID_RUN, SNAP_POST_RUN, SNAP_POST_UNMAP, SNAP_COUNT };

#define MEMSNAP_FIELDS 10
/* free(K) buffer(K) cache(K) active(K) inactv(K) pgpgin pgpgout pswpin pswpout pgmajfault */
struct memsnap {
    int valid;
    long v[MEMSNAP_FIELDS];
};

extern const char *const memsnap_labels[SNAP_COUNT];   /* "pre-warmup", ... */
extern const char *const memsnap_fields[MEMSNAP_FIELDS]; /* XML element names: free_kib, ... */

void memsnap_take(struct memsnap *s);
void cpu_model_name(char *buf, unsigned len);
void kernel_string(char *buf, unsigned len);   /* "Linux RELEASE MACHINE" */
/* "Wed Nov 25 17:25:12 2026" (ctime's layout) into buf; the same local time into *tm. */
void report_date(char *buf, unsigned len, struct tm *tm);
void make_uuid(char buf[37]);

#endif
