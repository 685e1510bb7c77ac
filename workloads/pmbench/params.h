/* Benchmark parameters: the parsed command line of pmbench 0.9 (see args.c). */
#ifndef PMBENCH_PARAMS_H
#define PMBENCH_PARAMS_H

/* The XML report carries the two parts separately (version_number, version_options). */
#define PMBENCH_VERSION_NUMBER "pmbench 0.9"
#define PMBENCH_VERSION_OPTIONS " Linux 64bit +mt -nu -xa"
#define PMBENCH_VERSION PMBENCH_VERSION_NUMBER PMBENCH_VERSION_OPTIONS

enum pattern { PAT_LINEAR, PAT_UNIFORM, PAT_NORMAL, PAT_PARETO };
enum tsops { TS_RDTSC, TS_RDTSCP };
enum access_mode { ACC_HISTO, ACC_TOUCH };

struct params {
    long duration;       /* seconds, >= 1 */
    long mapsize_mib;    /* size of the mapping */
    long setsize_mib;    /* working set, <= mapsize */
    enum pattern pattern;
    double shape;        /* stride / std-dev in pages / pareto alpha */
    long jobs;           /* worker threads */
    long ratio;          /* percent reads */
    int cold;            /* no warm-up */
    int initialize;      /* fill mapping with pseudo-random bytes first */
    enum tsops tsops;
    enum access_mode access;
    long delay;          /* busy-wait cycles between accesses (when > 10) */
    long offset;         /* word index 0-1023, or -1 for random */
    long threshold;      /* ns; slower accesses are marked in trace_marker */
    int wrneedsrd;       /* read the word before each write */
    int quiet;           /* no progress lines */
    const char *xml_path;/* -f: XML report path, or NULL */
};

/* Parses argv into *p. Exits 64 (usage) or 1 (out of range) on bad input. */
void parse_args(int argc, char **argv, struct params *p);

const char *pattern_name(enum pattern p);
const char *tsops_name(enum tsops t);
const char *access_name(enum access_mode a);

#endif
