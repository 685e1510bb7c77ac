/*
 * The -f report: the same data as the text report as XML (schema "fluidlab-pmbench/1",
 * parsed by orchestrator/src/pmbench/xml.ts). Only elements with attributes, no text nodes:
 *   <pmbench schema=..> <signature/> <parameters/> <machine/> <run/>
 *   <threads><thread id><net_average/><benchmark/><generation/><warmup/></thread></threads>
 *   <histogram kind="read|write" total><band lo_ns hi_ns count [sub="16 counts"]/></histogram>
 *   <memory><snapshot name free_k .. pgmajfault/></memory>
 */
#include <stdio.h>

#include "run.h"

static void attr_str(FILE *o, const char *name, const char *v)
{
    fprintf(o, " %s=\"", name);
    for (; *v; v++) {
        switch (*v) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc(*v, o);
        }
    }
    fputc('"', o);
}

static void latency_el(FILE *o, const char *name, double us, double clks, unsigned long long n)
{
    fprintf(o, "      <%s us=\"%.4f\" clks=\"%.0f\" samples=\"%llu\"/>\n", name, us, clks, n);
}

static void histo_el(FILE *o, const char *kind, const struct histo *h)
{
    fprintf(o, "  <histogram kind=\"%s\" total=\"%llu\">\n", kind, (unsigned long long)h->total);
    fprintf(o, "    <band lo_ns=\"0\" hi_ns=\"256\" count=\"%llu\"/>\n", (unsigned long long)h->below);
    for (unsigned b = 0; b < HISTO_SUB_BANDS; b++) {
        unsigned k = HISTO_SUB_FIRST + b;
        fprintf(o, "    <band lo_ns=\"%llu\" hi_ns=\"%llu\" count=\"%llu\" sub=\"", 1ULL << k,
                1ULL << (k + 1), (unsigned long long)histo_band_sum(h, b));
        for (unsigned s = 0; s < 16; s++)
            fprintf(o, "%s%llu", s ? " " : "", (unsigned long long)h->sub[b][s]);
        fprintf(o, "\"/>\n");
    }
    for (unsigned b = 0; b < HISTO_WIDE_BANDS; b++) {
        unsigned k = HISTO_WIDE_FIRST + b;
        fprintf(o, "    <band lo_ns=\"%llu\" hi_ns=\"%llu\" count=\"%llu\"/>\n", 1ULL << k,
                1ULL << (k + 1), (unsigned long long)h->wide[b]);
    }
    fprintf(o, "    <band lo_ns=\"%llu\" hi_ns=\"%llu\" count=\"%llu\"/>\n", 1ULL << 30, 1ULL << 32,
            (unsigned long long)h->top);
    fprintf(o, "  </histogram>\n");
}

int write_xml_report(const char *path, const struct run *r, const struct histo *rd,
                     const struct histo *wr)
{
    FILE *o = fopen(path, "w");
    if (!o)
        return -1;
    const struct params *p = &r->p;
    fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(o, "<pmbench schema=\"fluidlab-pmbench/1\">\n");
    fprintf(o, "  <signature");
    attr_str(o, "version", PMBENCH_VERSION);
    attr_str(o, "kernel", r->kernel);
    attr_str(o, "date", r->date);
    attr_str(o, "uuid", r->uuid);
    fprintf(o, "/>\n");
    fprintf(o, "  <parameters duration_sec=\"%ld\" mapsize_mib=\"%ld\" setsize_mib=\"%ld\""
               " initialize=\"%d\" shape=\"%f\" delay=\"%ld\" quiet=\"%d\" cold=\"%d\" jobs=\"%ld\"",
            p->duration, p->mapsize_mib, p->setsize_mib, p->initialize, p->shape, p->delay,
            p->quiet, p->cold, p->jobs);
    if (p->offset < 0)
        fprintf(o, " offset=\"random\"");
    else
        fprintf(o, " offset=\"%ld\"", p->offset);
    fprintf(o, " ratio=\"%ld\" threshold=\"%ld\" wrneedsrd=\"%d\" pattern=\"%s\" access=\"%s\""
               " tsops=\"%s\"/>\n",
            p->ratio, p->threshold, p->wrneedsrd, pattern_name(p->pattern), access_name(p->access),
            tsops_name(p->tsops));
    fprintf(o, "  <machine");
    attr_str(o, "cpu", r->cpu);
    fprintf(o, " tsc_khz=\"%.0f\"/>\n", r->tsc_hz / 1000.0);
    fprintf(o, "  <run interrupted=\"%d\"/>\n", r->interrupted);

    fprintf(o, "  <threads count=\"%ld\">\n", p->jobs);
    for (long i = 0; i < p->jobs; i++) {
        const struct thread_result *t = &r->threads[i];
        struct thread_figures f;
        thread_figures(r, t, &f);
        fprintf(o, "    <thread id=\"%u\" seconds=\"%.3f\" accesses=\"%llu\">\n", t->id,
                f.bench_sec, (unsigned long long)t->accesses);
        fprintf(o, "      <net_average us=\"%.4f\" clks=\"%.0f\"/>\n", f.net_us, f.net_clks);
        latency_el(o, "benchmark", f.bench_us, f.bench_clks, (unsigned long long)t->accesses);
        latency_el(o, "generation", f.gen_us, f.gen_clks, GEN_OVERHEAD_DRAWS);
        if (!p->cold)
            latency_el(o, "warmup", f.warm_us, f.warm_clks,
                       (unsigned long long)t->warmup_accesses);
        fprintf(o, "    </thread>\n");
    }
    fprintf(o, "  </threads>\n");

    if (p->access == ACC_HISTO) {
        if (p->ratio > 0)
            histo_el(o, "read", rd);
        if (p->ratio < 100)
            histo_el(o, "write", wr);
    }

    fprintf(o, "  <memory>\n");
    for (int i = 0; i < SNAP_COUNT; i++) {
        const struct memsnap *s = &r->snap[i];
        if (!s->valid)
            continue;
        fprintf(o, "    <snapshot");
        attr_str(o, "name", memsnap_labels[i]);
        for (int k = 0; k < MEMSNAP_FIELDS; k++)
            fprintf(o, " %s=\"%ld\"", memsnap_fields[k], s->v[k]);
        fprintf(o, "/>\n");
    }
    fprintf(o, "  </memory>\n");
    fprintf(o, "</pmbench>\n");
    return fclose(o) == 0 ? 0 : -1;
}
