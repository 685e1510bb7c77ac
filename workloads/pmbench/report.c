/*
 * The text report, line for line in pmbench 0.9's layout (see
 * reference/real-pmbench-0.9-m64-s32-2s.txt): signature, machine information (CPUID
 * TLB/cache headers printed empty), per-thread average latency, histograms (merged over
 * threads), memory snapshots with deltas.
 */
#include <stdio.h>

#include "run.h"

void thread_figures(const struct run *r, const struct thread_result *t, struct thread_figures *f)
{
    double hz = r->tsc_hz;
    f->bench_clks = t->accesses ? (double)t->bench_cycles / (double)t->accesses : 0;
    f->gen_clks = (double)t->gen_cycles_total / GEN_OVERHEAD_DRAWS;
    f->net_clks = t->accesses ? f->bench_clks - f->gen_clks : 0;
    f->warm_clks = t->warmup_accesses ? (double)t->warmup_cycles / (double)t->warmup_accesses : 0;
    f->bench_us = f->bench_clks / hz * 1e6;
    f->gen_us = f->gen_clks / hz * 1e6;
    f->net_us = f->net_clks / hz * 1e6;
    f->warm_us = f->warm_clks / hz * 1e6;
    f->bench_sec = (double)t->bench_cycles / hz;
    f->warm_total_us = (uint64_t)((double)t->warmup_cycles / hz * 1e6 + 0.5);
}

static void print_signature(FILE *o, const struct run *r)
{
    const struct params *p = &r->p;
    fprintf(o, "------------- Benchmark signature -------------\n");
    fprintf(o, "pmbench version: %s\n", PMBENCH_VERSION);
    fprintf(o, "OS/kernel type : %s\n", r->kernel);
    fprintf(o, "Reported on    : %s\n", r->date);
    fprintf(o, "Benchmark UUID : %s\n", r->uuid);
    fprintf(o, "Parameters used:\n");
    fprintf(o, "  duration_sec = %ld\n", p->duration);
    fprintf(o, "  mapsize_mib  = %ld\n", p->mapsize_mib);
    fprintf(o, "  setsize_mib  = %ld\n", p->setsize_mib);
    fprintf(o, "  initialize   = %d\n", p->initialize);
    fprintf(o, "  shape        = %f\n", p->shape);
    fprintf(o, "  delay        = %ld\n", p->delay);
    fprintf(o, "  quiet        = %d\n", p->quiet);
    fprintf(o, "  cold         = %d\n", p->cold);
    fprintf(o, "  jobs         = %ld\n", p->jobs);
    if (p->offset < 0)
        fprintf(o, "  offset       = random\n");
    else
        fprintf(o, "  offset       = %ld\n", p->offset);
    fprintf(o, "  ratio        = %ld%%\n", p->ratio);
    fprintf(o, "  threshold    = %ld\n", p->threshold);
    fprintf(o, "  wrneedsrd    = %d\n", p->wrneedsrd);
    fprintf(o, "  pattern      = %s\n", pattern_name(p->pattern));
    fprintf(o, "  access       = %s\n", access_name(p->access));
    fprintf(o, "  tsops        = %s\n", tsops_name(p->tsops));
    fprintf(o, "\n");
}

static void print_machine(FILE *o, const struct run *r)
{
    fprintf(o, "------------- Machine information -------------\n");
    fprintf(o, "CPU model name: %s\n", r->cpu);
    fprintf(o, "rdtsc/perfc frequency: %.0f K cycles per second\n", r->tsc_hz / 1000.0);
    fprintf(o, " -- TLB info --\n");
    fprintf(o, " -- Cache info --\n");
    fprintf(o, "\n");
}

static void print_latency(FILE *o, const struct run *r)
{
    fprintf(o, "----------- Average access latency ------------\n");
    for (long i = 0; i < r->p.jobs; i++) {
        const struct thread_result *t = &r->threads[i];
        struct thread_figures f;
        thread_figures(r, t, &f);
        fprintf(o, "Thread %u/%ld:\n", t->id, r->p.jobs);
        fprintf(o, "Net average page latency (Arith. mean): %.4f us (%.0f clks)\n", f.net_us,
                f.net_clks);
        fprintf(o, "--- Measurement details ---\n");
        fprintf(o, "  Page latency during benchmark (inc. gen): %.4f us (%.0f clks)\n", f.bench_us,
                f.bench_clks);
        fprintf(o, "    Total samples count: %llu\n", (unsigned long long)t->accesses);
        fprintf(o, "  Pattern generation overhead per drawing : %.4f us (%.0f clks)\n", f.gen_us,
                f.gen_clks);
        fprintf(o, "    Total samples count: %u\n", GEN_OVERHEAD_DRAWS);
        if (!r->p.cold) {
            fprintf(o, "  Page latency during warmup              : %.4f us (%.0f clks)\n",
                    f.warm_us, f.warm_clks);
            fprintf(o, "    Total samples count: %llu\n", (unsigned long long)t->warmup_accesses);
        }
    }
    fprintf(o, "\n");
}

static void print_histo(FILE *o, const char *title, const struct histo *h)
{
    fprintf(o, "%s:\n", title);
    fprintf(o, "2^(00,08) ns: %llu\n", (unsigned long long)h->below);
    for (unsigned b = 0; b < HISTO_SUB_BANDS; b++) {
        unsigned k = HISTO_SUB_FIRST + b;
        fprintf(o, "2^(%02u,%02u) ns: %llu  [", k, k + 1,
                (unsigned long long)histo_band_sum(h, b));
        for (unsigned s = 0; s < 16; s++)
            fprintf(o, "%s%llu", s ? ", " : "", (unsigned long long)h->sub[b][s]);
        fprintf(o, "]\n");
    }
    for (unsigned b = 0; b < HISTO_WIDE_BANDS; b++) {
        unsigned k = HISTO_WIDE_FIRST + b;
        fprintf(o, "2^(%02u,%02u) ns: %llu\n", k, k + 1, (unsigned long long)h->wide[b]);
    }
    fprintf(o, "2^(30,32) ns: %llu\n", (unsigned long long)h->top);
    fprintf(o, "Total samples: %llu\n\n", (unsigned long long)h->total);
}

static void print_statistics(FILE *o, const struct run *r, const struct histo *rd,
                             const struct histo *wr)
{
    fprintf(o, "----------------- Statistics ------------------\n");
    if (r->p.access == ACC_TOUCH) {
        fprintf(o, "touch_report: nothing to report\n");
    } else {
        fprintf(o, "# Access latency histogram\n");
        if (r->p.ratio > 0)
            print_histo(o, "Read", rd);
        if (r->p.ratio < 100)
            print_histo(o, "Write", wr);
    }
    fprintf(o, "\n");
}

static void print_row(FILE *o, const char *label, const long *v)
{
    fprintf(o, "%s:%8ld %8ld %8ld %8ld %8ld %9ld %9ld %9ld %9ld %9ld\n", label, v[0], v[1], v[2],
            v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
}

static void print_memory(FILE *o, const struct run *r)
{
    fprintf(o, "---------- System memory information ----------\n");
    fprintf(o, "            free(K) buffer(K) cache(K) active(K) inactv(K) pgpgin   pgpgout"
               "    pswpin   pswpout pgmajfaut\n");
    const struct memsnap *prev = NULL;
    for (int i = 0; i < SNAP_COUNT; i++) {
        const struct memsnap *s = &r->snap[i];
        if (!s->valid)
            continue;
        if (prev) {
            long d[MEMSNAP_FIELDS];
            for (int k = 0; k < MEMSNAP_FIELDS; k++)
                d[k] = s->v[k] - prev->v[k];
            print_row(o, "  (delta) ", d);
        }
        char label[16];
        snprintf(label, sizeof label, "%-10s", memsnap_labels[i]);
        print_row(o, label, s->v);
        prev = s;
    }
}

void print_report(FILE *o, const struct run *r, const struct histo *rd, const struct histo *wr)
{
    print_signature(o, r);
    print_machine(o, r);
    print_latency(o, r);
    print_statistics(o, r, rd, wr);
    print_memory(o, r);
    fflush(o);
}
