/*
 * The -f report in upstream pmbench 0.9's XML schema (root <pmbenchmark>, recorded in
 * /work/shared/reference/pmbench/XML.md; parsed by orchestrator/src/pmbench/xml.ts), laid
 * out as upstream's libxml2 writer saves it: UTF-8 prolog, two-space indentation, values as
 * element text, empty elements self-closed.
 *   <pmbenchmark><report>
 *     <signature> pmbench_info, os_info, time_info, uuid, params [, interrupted]
 *     <machine_info> modelname, freq_khz, <tlb_info/>, <cache_info deterministic="0"/>
 *     <result> one <result_thread thread_num="i"> per job: result_netavg, result_details,
 *              warmup_details (absent with -c)
 *     <statistics> (absent with -a touch) <histogram type="read|write">, 24 <histo_bucket>
 *              rows in text-report order; rows 2^8..2^23 carry <bucket_hexes> with 16 <hex>
 *     <sys_mem_info> one <sys_mem_item name=..> per snapshot, each but the last with the
 *              <mem_item_delta> to the next one
 * Upstream's quirks are kept: the rows after the 16th carry index="0" again, params has no
 * threshold/wrneedsrd, shape has 4 decimals and offset is -1 when random.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "run.h"

struct xw {
    FILE *o;
    int depth;
};

static void indent(struct xw *w)
{
    for (int i = 0; i < w->depth; i++)
        fputs("  ", w->o);
}

static void escaped(FILE *o, const char *v)
{
    for (; *v; v++) {
        switch (*v) {
        case '&': fputs("&amp;", o); break;
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\r': fputs("&#13;", o); break;
        default: fputc(*v, o);
        }
    }
}

/* <name attr="value"> on its own line (attr may be NULL); increases the depth. */
static void open_el(struct xw *w, const char *name, const char *attr, const char *value)
{
    indent(w);
    fprintf(w->o, "<%s", name);
    if (attr) {
        fprintf(w->o, " %s=\"", attr);
        escaped(w->o, value);
        fputc('"', w->o);
    }
    fputs(">\n", w->o);
    w->depth++;
}

static void close_el(struct xw *w, const char *name)
{
    w->depth--;
    indent(w);
    fprintf(w->o, "</%s>\n", name);
}

/* <name>text</name>, text already formatted; an empty text gives <name/>. */
static void leaf_str(struct xw *w, const char *name, const char *text)
{
    indent(w);
    if (!*text) {
        fprintf(w->o, "<%s/>\n", name);
        return;
    }
    fprintf(w->o, "<%s>", name);
    escaped(w->o, text);
    fprintf(w->o, "</%s>\n", name);
}

__attribute__((format(printf, 3, 4))) static void leaf(struct xw *w, const char *name,
                                                       const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    leaf_str(w, name, buf);
}

static void signature(struct xw *w, const struct run *r)
{
    const struct params *p = &r->p;
    struct utsname u;
    if (uname(&u) != 0)
        memset(&u, 0, sizeof u);
    const struct tm *t = &r->date_tm;

    open_el(w, "signature", NULL, NULL);
    open_el(w, "pmbench_info", NULL, NULL);
    leaf_str(w, "version_number", PMBENCH_VERSION_NUMBER);
    leaf_str(w, "version_options", PMBENCH_VERSION_OPTIONS);
    leaf_str(w, "version_xmloutput", "0.1");
    close_el(w, "pmbench_info");
    open_el(w, "os_info", NULL, NULL);
    leaf_str(w, "hostname", u.nodename);
    open_el(w, "version_info", NULL, NULL);
    leaf_str(w, "os_name", u.sysname);
    leaf_str(w, "arch", u.machine);
    leaf_str(w, "release", u.release);
    close_el(w, "version_info");
    close_el(w, "os_info");
    open_el(w, "time_info", NULL, NULL);
    leaf(w, "wday", "%d", t->tm_wday);
    leaf(w, "year", "%d", t->tm_year);
    leaf(w, "mon", "%d", t->tm_mon);
    leaf(w, "mday", "%d", t->tm_mday);
    leaf(w, "hour", "%d", t->tm_hour);
    leaf(w, "min", "%d", t->tm_min);
    leaf(w, "sec", "%d", t->tm_sec);
    leaf(w, "yday", "%d", t->tm_yday);
    leaf(w, "isdst", "%d", t->tm_isdst);
    close_el(w, "time_info");
    leaf_str(w, "uuid", r->uuid);
    open_el(w, "params", NULL, NULL);
    leaf(w, "duration", "%ld", p->duration);
    leaf(w, "mapsize", "%ld", p->mapsize_mib);
    leaf(w, "setsize", "%ld", p->setsize_mib);
    leaf(w, "initialize", "%d", p->initialize);
    leaf(w, "shape", "%0.4f", p->shape);
    leaf(w, "delay", "%ld", p->delay);
    leaf(w, "quiet", "%d", p->quiet);
    leaf(w, "cold", "%d", p->cold);
    leaf(w, "jobs", "%ld", p->jobs);
    leaf(w, "offset", "%ld", p->offset < 0 ? -1L : p->offset);
    leaf(w, "ratio", "%ld", p->ratio);
    leaf_str(w, "pattern", pattern_name(p->pattern));
    leaf_str(w, "access", access_name(p->access));
    leaf_str(w, "tsops", tsops_name(p->tsops));
    close_el(w, "params");
    if (r->interrupted)
        leaf_str(w, "interrupted", "1");
    close_el(w, "signature");
}

static void machine(struct xw *w, const struct run *r)
{
    open_el(w, "machine_info", NULL, NULL);
    leaf_str(w, "modelname", r->cpu);
    leaf(w, "freq_khz", "%.0f", r->tsc_hz / 1000.0);
    leaf_str(w, "tlb_info", "");
    indent(w);
    fputs("<cache_info deterministic=\"0\"/>\n", w->o);
    close_el(w, "machine_info");
}

static void results(struct xw *w, const struct run *r)
{
    open_el(w, "result", NULL, NULL);
    for (long i = 0; i < r->p.jobs; i++) {
        const struct thread_result *t = &r->threads[i];
        struct thread_figures f;
        thread_figures(r, t, &f);
        char num[24];
        snprintf(num, sizeof num, "%u", t->id);
        open_el(w, "result_thread", "thread_num", num);
        open_el(w, "result_netavg", NULL, NULL);
        leaf(w, "netavg_us", "%.4f", f.net_us);
        leaf(w, "netavg_clk", "%.0f", f.net_clks);
        close_el(w, "result_netavg");
        open_el(w, "result_details", NULL, NULL);
        open_el(w, "details_latency", NULL, NULL);
        leaf(w, "latency_us", "%.4f", f.bench_us);
        leaf(w, "latency_clk", "%.0f", f.bench_clks);
        close_el(w, "details_latency");
        leaf(w, "details_samples", "%llu", (unsigned long long)t->accesses);
        open_el(w, "details_overhead", NULL, NULL);
        leaf(w, "overhead_us", "%.4f", f.gen_us);
        leaf(w, "overhead_clk", "%.0f", f.gen_clks);
        close_el(w, "details_overhead");
        leaf(w, "details_total", "%u", GEN_OVERHEAD_DRAWS);
        close_el(w, "result_details");
        if (!r->p.cold) {
            open_el(w, "warmup_details", NULL, NULL);
            open_el(w, "warmup_latency", NULL, NULL);
            leaf(w, "warmup_us", "%.4f", f.warm_us);
            leaf(w, "warmup_clk", "%.0f", f.warm_clks);
            close_el(w, "warmup_latency");
            leaf(w, "warmup_total", "%llu", (unsigned long long)t->warmup_accesses);
            close_el(w, "warmup_details");
        }
        close_el(w, "result_thread");
    }
    close_el(w, "result");
}

/* One <histo_bucket>; sub is NULL for rows without sub-counts. */
static void bucket(struct xw *w, int index, unsigned lo, unsigned hi, uint64_t sum,
                   const uint64_t *sub)
{
    char num[24];
    snprintf(num, sizeof num, "%d", index);
    open_el(w, "histo_bucket", "index", num);
    open_el(w, "bucket_interval", NULL, NULL);
    leaf(w, "interval_lo", "%u", lo);
    leaf(w, "interval_hi", "%u", hi);
    close_el(w, "bucket_interval");
    leaf(w, "sum_count", "%llu", (unsigned long long)sum);
    if (sub) {
        open_el(w, "bucket_hexes", NULL, NULL);
        for (int s = 0; s < 16; s++) {
            indent(w);
            fprintf(w->o, "<hex index=\"%d\">%llu</hex>\n", s, (unsigned long long)sub[s]);
        }
        close_el(w, "bucket_hexes");
    }
    close_el(w, "histo_bucket");
}

static void histogram(struct xw *w, const char *type, const struct histo *h)
{
    open_el(w, "histogram", "type", type);
    bucket(w, 0, 0, 8, h->below, NULL);
    for (unsigned b = 0; b < HISTO_SUB_BANDS; b++) {
        unsigned k = HISTO_SUB_FIRST + b;
        bucket(w, (int)b + 1, k, k + 1, histo_band_sum(h, b), h->sub[b]);
    }
    for (unsigned b = 0; b < HISTO_WIDE_BANDS; b++) {
        unsigned k = HISTO_WIDE_FIRST + b;
        bucket(w, 0, k, k + 1, h->wide[b], NULL);
    }
    bucket(w, 0, 30, 32, h->top, NULL);
    close_el(w, "histogram");
}

static void mem_fields(struct xw *w, const char *name, const long *v)
{
    open_el(w, name, NULL, NULL);
    for (int k = 0; k < MEMSNAP_FIELDS; k++)
        leaf(w, memsnap_fields[k], "%ld", v[k]);
    close_el(w, name);
}

static void memory(struct xw *w, const struct run *r)
{
    static const char *const xml_names[SNAP_COUNT] = {"pre-warmup", "pre-run", "mid-run",
                                                      "post-run", "post-unmap"};
    open_el(w, "sys_mem_info", NULL, NULL);
    for (int i = 0; i < SNAP_COUNT; i++) {
        const struct memsnap *s = &r->snap[i];
        if (!s->valid)
            continue;
        open_el(w, "sys_mem_item", "name", xml_names[i]);
        mem_fields(w, "mem_item_info", s->v);
        const struct memsnap *next = NULL;
        for (int j = i + 1; j < SNAP_COUNT && !next; j++)
            if (r->snap[j].valid)
                next = &r->snap[j];
        if (next) {
            long d[MEMSNAP_FIELDS];
            for (int k = 0; k < MEMSNAP_FIELDS; k++)
                d[k] = next->v[k] - s->v[k];
            mem_fields(w, "mem_item_delta", d);
        }
        close_el(w, "sys_mem_item");
    }
    close_el(w, "sys_mem_info");
}

int write_xml_report(const char *path, const struct run *r, const struct histo *rd,
                     const struct histo *wr)
{
    FILE *o = fopen(path, "w");
    if (!o)
        return -1;
    struct xw w = {o, 0};
    fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n", o);
    open_el(&w, "pmbenchmark", NULL, NULL);
    open_el(&w, "report", NULL, NULL);
    signature(&w, r);
    machine(&w, r);
    results(&w, r);
    if (r->p.access == ACC_HISTO) {
        open_el(&w, "statistics", NULL, NULL);
        if (r->p.ratio > 0)
            histogram(&w, "read", rd);
        if (r->p.ratio < 100)
            histogram(&w, "write", wr);
        close_el(&w, "statistics");
    }
    memory(&w, r);
    close_el(&w, "report");
    close_el(&w, "pmbenchmark");
    return fclose(o) == 0 ? 0 : -1;
}
