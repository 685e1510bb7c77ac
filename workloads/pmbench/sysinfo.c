/*
 * Reads /proc/meminfo and /proc/vmstat by key (missing keys read as 0), /proc/cpuinfo's
 * first "model name", uname(2), and builds a version-4 UUID from /dev/urandom (falling back
 * to the clock when it is unavailable).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "sysinfo.h"

const char *const memsnap_labels[SNAP_COUNT] = {"pre-warmup", "pre-run", "mid-run", "post-run",
                                                "post unmap"};
const char *const memsnap_fields[MEMSNAP_FIELDS] = {
    "free_kib", "buffer_kib", "cache_kib", "active_kib", "inactive_kib",
    "pgpgin", "pgpgout",  "pswpin",  "pswpout",  "pgmajfault"};

/* key in file -> index into memsnap.v */
struct keyed { const char *key; int idx; };
static const struct keyed meminfo_keys[] = {
    {"MemFree:", 0}, {"Buffers:", 1}, {"Cached:", 2}, {"Active:", 3}, {"Inactive:", 4}};
static const struct keyed vmstat_keys[] = {
    {"pgpgin", 5}, {"pgpgout", 6}, {"pswpin", 7}, {"pswpout", 8}, {"pgmajfault", 9}};

/* Reads "KEY VALUE" lines of a /proc file into the slots of s named by keys. */
static void read_keyed(const char *path, const struct keyed *keys, unsigned n, struct memsnap *s)
{
    char line[256], key[64];
    long val;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%63s %ld", key, &val) == 2)
            for (unsigned i = 0; i < n; i++)
                if (strcmp(key, keys[i].key) == 0)
                    s->v[keys[i].idx] = val;
    fclose(f);
}

void memsnap_take(struct memsnap *s)
{
    memset(s, 0, sizeof *s);
    read_keyed("/proc/meminfo", meminfo_keys, sizeof meminfo_keys / sizeof meminfo_keys[0], s);
    read_keyed("/proc/vmstat", vmstat_keys, sizeof vmstat_keys / sizeof vmstat_keys[0], s);
    s->valid = 1;
}

void cpu_model_name(char *buf, unsigned len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(buf, len, "%s", v);
        break;
    }
    fclose(f);
}

void kernel_string(char *buf, unsigned len)
{
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(buf, len, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(buf, len, "unknown");
}

void report_date(char *buf, unsigned len, struct tm *tm)
{
    time_t now = time(NULL);
    localtime_r(&now, tm);
    strftime(buf, len, "%a %b %e %H:%M:%S %Y", tm);
}

void make_uuid(char buf[37])
{
    unsigned char b[16];
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(b, 1, sizeof b, f) : 0;
    if (f)
        fclose(f);
    if (got != sizeof b) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        uint64_t x = (uint64_t)t.tv_nsec ^ ((uint64_t)t.tv_sec << 30) ^ (uint64_t)getpid();
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(buf, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}
