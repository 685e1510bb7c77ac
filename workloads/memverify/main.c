/*
 * memverify: proves that memory survives heavy eviction. For each pass it writes a known
 * pattern (pattern.h: derived from the pass seed, page index and word index) over N MiB of
 * anonymous memory, then reads all of it back in the same order, so that by the time a page
 * is verified the handler or swap has had to evict it and bring it back.
 * stdout: one JSON line {"mib","pages","passes","mismatches","first_mismatch","seconds"};
 * stderr: one progress line per phase. Exit 0 only with zero mismatches (1 with mismatches,
 * 2 for bad usage or no memory). --self-test-corrupt flips one byte after the first write
 * phase, to prove the checker detects corruption.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "pattern.h"

struct opts {
    unsigned long mib, passes;
    uint64_t seed;
    int corrupt;
};

struct mismatch {
    int found;
    unsigned pass;
    uint64_t page;
    uint32_t word;
    uint64_t expected, actual;
};

static __attribute__((noreturn)) void usage(const char *msg)
{
    fprintf(stderr, "memverify: %s\nusage: memverify --mib N [--passes K] [--seed S] "
                    "[--self-test-corrupt]\n", msg);
    exit(2);
}

static unsigned long long number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || *s == '-') {
        char msg[128];
        snprintf(msg, sizeof msg, "invalid %s '%s'", what, s);
        usage(msg);
    }
    return v;
}

static void parse(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"mib", required_argument, 0, 'm'},  {"passes", required_argument, 0, 'p'},
        {"seed", required_argument, 0, 's'}, {"self-test-corrupt", no_argument, 0, 'C'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0},
    };
    *o = (struct opts){.passes = 1, .seed = 1};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "m:p:s:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': o->mib = (unsigned long)number(optarg, "--mib"); break;
        case 'p': o->passes = (unsigned long)number(optarg, "--passes"); break;
        case 's': o->seed = number(optarg, "--seed"); break;
        case 'C': o->corrupt = 1; break;
        case 'h': usage("checks that written memory reads back intact");
        default: usage("unknown option");
        }
    }
    if (optind < argc) usage("unexpected argument");
    if (o->mib < 1) usage("--mib N (N >= 1) is required");
    if (o->passes < 1) usage("--passes must be at least 1");
}

static double now_sec(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void write_pass(uint64_t *mem, uint64_t pages, uint64_t seed)
{
    for (uint64_t p = 0; p < pages; p++)
        for (uint32_t w = 0; w < WORDS_PER_PAGE; w++)
            mem[p * WORDS_PER_PAGE + w] = mv_expected(seed, p, w);
}

static uint64_t verify_pass(const volatile uint64_t *mem, uint64_t pages, uint64_t seed,
                            unsigned pass, struct mismatch *first)
{
    uint64_t bad = 0;
    for (uint64_t p = 0; p < pages; p++)
        for (uint32_t w = 0; w < WORDS_PER_PAGE; w++) {
            uint64_t want = mv_expected(seed, p, w), got = mem[p * WORDS_PER_PAGE + w];
            if (got == want)
                continue;
            if (!bad++ && !first->found)
                *first = (struct mismatch){1, pass, p, w, want, got};
        }
    return bad;
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    size_t bytes = (size_t)o.mib << 20;
    uint64_t pages = bytes / 4096u;
    uint64_t *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "memverify: mmap %lu MiB: %s\n", o.mib, strerror(errno));
        return 2;
    }

    struct mismatch first = {0};
    uint64_t mismatches = 0;
    double t0 = now_sec();
    for (unsigned pass = 1; pass <= o.passes; pass++) {
        uint64_t seed = mv_pass_seed(o.seed, pass - 1);
        double a = now_sec();
        write_pass(mem, pages, seed);
        if (o.corrupt && pass == 1)
            ((volatile unsigned char *)mem)[(pages / 2) * 4096u + 7 * 8 + 3] ^= 0x10;
        double b = now_sec();
        mismatches += verify_pass(mem, pages, seed, pass, &first);
        fprintf(stderr, "memverify: pass %u/%lu: wrote %" PRIu64 " pages in %.2f s, verified in "
                        "%.2f s, %" PRIu64 " mismatches so far\n",
                pass, o.passes, pages, b - a, now_sec() - b, mismatches);
    }
    double secs = now_sec() - t0;
    munmap(mem, bytes);

    printf("{\"mib\":%lu,\"pages\":%" PRIu64 ",\"passes\":%lu,\"mismatches\":%" PRIu64
           ",\"first_mismatch\":",
           o.mib, pages, o.passes, mismatches);
    if (first.found)
        printf("{\"pass\":%u,\"page\":%" PRIu64 ",\"word\":%u,\"expected\":\"0x%016" PRIx64
               "\",\"actual\":\"0x%016" PRIx64 "\"}",
               first.pass, first.page, first.word, first.expected, first.actual);
    else
        printf("null");
    printf(",\"seconds\":%.3f}\n", secs);
    return mismatches ? 1 : 0;
}
