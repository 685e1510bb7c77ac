/*
 * Command line of pmbench 0.9, parsed with getopt_long.
 * Two classes of bad input, as the original (argp) behaves:
 *  - usage errors (unknown option or name, malformed number, missing DURATION):
 *    "pmbench: MESSAGE" plus a "Try ..." hint, exit 64 (EX_USAGE);
 *  - out-of-range values: one line on stderr, exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

#define EXIT_USAGE 64

static const char *const pattern_names[] = {"linear", "uniform", "normal", "pareto"};

const char *pattern_name(enum pattern p) { return pattern_names[p]; }
const char *tsops_name(enum tsops t) { return t == TS_RDTSC ? "rdtsc" : "rdtscp"; }
const char *access_name(enum access_mode a) { return a == ACC_HISTO ? "histo" : "touch"; }

static __attribute__((noreturn)) void usage_error(const char *fmt, const char *arg)
{
    fputs("pmbench: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry `pmbench --help' or `pmbench --usage' for more information.\n", stderr);
    exit(EXIT_USAGE);
}

static __attribute__((noreturn)) void range_error(const char *what, long got)
{
    fprintf(stderr, "pmbench: %s (got %ld)\n", what, got);
    exit(1);
}

static long parse_long(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end)
        usage_error(opt, s);
    return v;
}

static double parse_double(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        usage_error(opt, s);
    return v;
}

static void print_help(void)
{
    puts("Usage: pmbench [OPTION...] DURATION\n"
         "pmbench -- paging micro-benchmark (FluidLab implementation, pmbench 0.9 compatible)\n"
         "\n"
         "  -m, --mapsize=MiB       size of the anonymous private mapping (default 256)\n"
         "  -s, --setsize=MiB       working set, <= mapsize (default 128)\n"
         "  -p, --pattern=NAME      linear, uniform, normal, pareto (zipf) (default uniform)\n"
         "  -e, --shape=X           linear stride, normal std-dev (pages), pareto alpha (1.00001)\n"
         "  -j, --jobs=N            worker threads sharing the mapping (default 1)\n"
         "  -r, --ratio=PCT         percent of accesses that are reads (default 50)\n"
         "  -c, --cold              no warm-up pass\n"
         "  -i, --initialize        fill the mapping with pseudo-random bytes first\n"
         "  -t, --timestamp=NAME    rdtsc or rdtscp (default rdtscp)\n"
         "  -a, --access=NAME       histo or touch (default histo)\n"
         "  -d, --delay=CYCLES      busy-wait between accesses (applied when > 10)\n"
         "  -o, --offset=WORD       fixed 32-bit word index 0-1023 in each page (default random)\n"
         "  -h, --threshold=NS      mark slower accesses in the ftrace trace_marker\n"
         "  -z, --wrneedsrd         read the word before each write\n"
         "  -f, --file=PATH         also write the report as XML\n"
         "  -q, --quiet             no progress lines\n"
         "  -V, --version           print the version\n"
         "      --help              this help\n"
         "      --usage             short usage");
}

enum { OPT_HELP = 1000, OPT_USAGE };

void parse_args(int argc, char **argv, struct params *p)
{
    static const struct option longopts[] = {
        {"mapsize", required_argument, 0, 'm'},  {"setsize", required_argument, 0, 's'},
        {"pattern", required_argument, 0, 'p'},  {"shape", required_argument, 0, 'e'},
        {"jobs", required_argument, 0, 'j'},     {"ratio", required_argument, 0, 'r'},
        {"cold", no_argument, 0, 'c'},           {"initialize", no_argument, 0, 'i'},
        {"timestamp", required_argument, 0, 't'},{"access", required_argument, 0, 'a'},
        {"delay", required_argument, 0, 'd'},    {"offset", required_argument, 0, 'o'},
        {"threshold", required_argument, 0, 'h'},{"wrneedsrd", no_argument, 0, 'z'},
        {"file", required_argument, 0, 'f'},     {"quiet", no_argument, 0, 'q'},
        {"version", no_argument, 0, 'V'},        {"help", no_argument, 0, OPT_HELP},
        {"usage", no_argument, 0, OPT_USAGE},    {0, 0, 0, 0},
    };
    *p = (struct params){
        .mapsize_mib = 256, .setsize_mib = 128, .pattern = PAT_UNIFORM, .shape = 1.00001,
        .jobs = 1, .ratio = 50, .tsops = TS_RDTSCP, .access = ACC_HISTO, .offset = -1,
    };
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":m:s:p:e:j:r:cit:a:d:o:h:zf:qV", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': p->mapsize_mib = parse_long(optarg, "invalid mapsize '%s'"); break;
        case 's': p->setsize_mib = parse_long(optarg, "invalid setsize '%s'"); break;
        case 'e': p->shape = parse_double(optarg, "invalid shape '%s'"); break;
        case 'j': p->jobs = parse_long(optarg, "invalid jobs '%s'"); break;
        case 'r': p->ratio = parse_long(optarg, "invalid ratio '%s'"); break;
        case 'd': p->delay = parse_long(optarg, "invalid delay '%s'"); break;
        case 'h': p->threshold = parse_long(optarg, "invalid threshold '%s'"); break;
        case 'c': p->cold = 1; break;
        case 'i': p->initialize = 1; break;
        case 'z': p->wrneedsrd = 1; break;
        case 'q': p->quiet = 1; break;
        case 'f': p->xml_path = optarg; break;
        case 'o':
            p->offset = strcmp(optarg, "random") == 0 ? -1 : parse_long(optarg, "invalid offset '%s'");
            if (p->offset < -1) range_error("offset must be 0-1023", p->offset);
            break;
        case 'p':
            if (strcmp(optarg, "zipf") == 0) { p->pattern = PAT_PARETO; break; }
            for (int i = 0;; i++) {
                if (i == 4) usage_error("unknown pattern '%s' (linear, uniform, normal, pareto)", optarg);
                if (strcmp(optarg, pattern_names[i]) == 0) { p->pattern = (enum pattern)i; break; }
            }
            break;
        case 't':
            if (strcmp(optarg, "rdtsc") == 0) p->tsops = TS_RDTSC;
            else if (strcmp(optarg, "rdtscp") == 0) p->tsops = TS_RDTSCP;
            else usage_error("unknown timestamp '%s' (rdtsc, rdtscp)", optarg);
            break;
        case 'a':
            if (strcmp(optarg, "histo") == 0) p->access = ACC_HISTO;
            else if (strcmp(optarg, "touch") == 0) p->access = ACC_TOUCH;
            else usage_error("unknown access type '%s' (histo, touch)", optarg);
            break;
        case 'V': puts(PMBENCH_VERSION); exit(0);
        case OPT_HELP: print_help(); exit(0);
        case OPT_USAGE:
            puts("Usage: pmbench [-ciqzV] [-m MiB] [-s MiB] [-p NAME] [-e X] [-j N] [-r PCT] "
                 "[-t NAME] [-a NAME] [-d CYCLES] [-o WORD] [-h NS] [-f PATH] DURATION");
            exit(0);
        case ':': usage_error("option '%s' requires an argument", argv[optind - 1]); break;
        default:
            if (optopt) {
                char opt[3] = {'-', (char)optopt, 0};
                usage_error("invalid option '%s'", opt);
            }
            usage_error("unrecognized option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (optind >= argc) usage_error("%s", "DURATION (seconds) is required");
    if (optind + 1 < argc) usage_error("too many arguments: '%s'", argv[optind + 1]);
    p->duration = parse_long(argv[optind], "invalid duration '%s'");

    if (p->duration < 1) range_error("duration must be at least 1 second", p->duration);
    if (p->setsize_mib < 1) range_error("setsize must be at least 1 MiB", p->setsize_mib);
    if (p->mapsize_mib < p->setsize_mib) {
        fprintf(stderr, "pmbench: mapsize (%ld MiB) must not be smaller than setsize (%ld MiB)\n",
                p->mapsize_mib, p->setsize_mib);
        exit(1);
    }
    if (p->jobs < 1) range_error("jobs must be at least 1", p->jobs);
    if (p->ratio < 0 || p->ratio > 100) range_error("ratio must be 0-100", p->ratio);
    if (p->offset > 1023) range_error("offset must be 0-1023", p->offset);
    if (p->delay < 0) range_error("delay must not be negative", p->delay);
    if (p->threshold < 0) range_error("threshold must not be negative", p->threshold);
    if (!(p->shape > 0)) range_error("shape must be positive", (long)p->shape);
}
