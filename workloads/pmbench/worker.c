/*
 * A measuring thread: times the generator over 1,000,000 draws, warms up (unless -c),
 * meets the other threads at two barriers (main takes the pre-run snapshot between them),
 * then runs the main loop in batches of 10,000 accesses, checking the clock and the SIGINT
 * flag between batches. Each histo access is bracketed by two timestamps; the loop body is
 * specialised per timestamp instruction (constant arguments to an always-inline function).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pattern.h"
#include "run.h"
#include "tsc.h"

#define AI static inline __attribute__((always_inline))

struct wctx {
    struct run *run;
    struct thread_result *res;
    struct gen gen;
    double ns_per_cycle;
    uint32_t sink;
};

AI uint64_t stamp(enum stamp_mode m)
{
    switch (m) {
    case STAMP_RDTSC: return ts_rdtsc();
    case STAMP_RDTSCP: return ts_rdtscp();
    default: return ts_lfence_rdtsc();
    }
}

AI volatile uint32_t *word_ptr(const struct run *r, const struct draw *d)
{
    return (volatile uint32_t *)(r->base + d->page * 4096u + (size_t)d->word * 4u);
}

AI void touch(struct wctx *c, volatile uint32_t *w, int is_read)
{
    if (is_read) {
        c->sink += *w;
    } else {
        if (c->run->p.wrneedsrd)
            c->sink += *w;
        *w = c->sink + 1u;
    }
}

static void delay_cycles(long cycles)
{
    uint64_t until = ts_rdtsc() + (uint64_t)cycles;
    while (ts_rdtsc() < until)
        __asm__ __volatile__("pause");
}

static void mark_slow(struct wctx *c, const struct draw *d, uint64_t ns)
{
    char line[128];
    int n = snprintf(line, sizeof line, "pmbench: thread %u page %llu latency %llu ns\n",
                     c->res->id, (unsigned long long)d->page, (unsigned long long)ns);
    if (write(c->run->trace_fd, line, (size_t)n) < 0)
        c->run->trace_fd = -1;
}

AI void batch_body(struct wctx *c, uint64_t n, enum stamp_mode m, int histo)
{
    struct run *r = c->run;
    struct draw d;
    for (uint64_t i = 0; i < n; i++) {
        gen_next(&c->gen, &d);
        volatile uint32_t *w = word_ptr(r, &d);
        if (histo) {
            uint64_t t0 = stamp(m);
            touch(c, w, d.is_read);
            uint64_t t1 = stamp(m);
            uint64_t ns = (uint64_t)((double)(t1 - t0) * c->ns_per_cycle);
            histo_add(d.is_read ? &c->res->read : &c->res->write, ns);
            if (r->p.threshold > 0 && ns > (uint64_t)r->p.threshold && r->trace_fd >= 0)
                mark_slow(c, &d, ns);
        } else {
            touch(c, w, d.is_read);
        }
        if (r->p.delay > 10)
            delay_cycles(r->p.delay);
    }
}

static void batch(struct wctx *c, uint64_t n)
{
    if (c->run->p.access == ACC_TOUCH)
        batch_body(c, n, STAMP_RDTSC, 0);
    else if (c->run->stamp == STAMP_RDTSC)
        batch_body(c, n, STAMP_RDTSC, 1);
    else if (c->run->stamp == STAMP_RDTSCP)
        batch_body(c, n, STAMP_RDTSCP, 1);
    else
        batch_body(c, n, STAMP_LFENCE_RDTSC, 1);
}

static int stopped(const struct run *r)
{
    return atomic_load_explicit(&r->stop, memory_order_relaxed);
}

static void measure_generator(struct wctx *c)
{
    struct gen g = c->gen; /* a copy: the measured draws do not shift the real stream */
    struct draw d;
    uint64_t acc = 0, t0 = ts_rdtsc();
    for (unsigned i = 0; i < GEN_OVERHEAD_DRAWS; i++) {
        gen_next(&g, &d);
        acc += d.page + d.word + (uint64_t)d.is_read;
    }
    c->res->gen_cycles_total = ts_rdtsc() - t0;
    c->sink += (uint32_t)acc;
}

static void warm_up(struct wctx *c)
{
    struct run *r = c->run;
    uint64_t total = gen_warmup_count(r->p.pattern, r->pages), done = 0;
    struct draw d;
    uint64_t t0 = ts_rdtsc();
    while (done < total && !stopped(r)) {
        uint64_t n = total - done < LOOP_CHECK_EVERY ? total - done : LOOP_CHECK_EVERY;
        for (uint64_t i = 0; i < n; i++) {
            gen_next(&c->gen, &d);
            touch(c, word_ptr(r, &d), d.is_read);
        }
        done += n;
    }
    c->res->warmup_cycles = ts_rdtsc() - t0;
    c->res->warmup_accesses = done;
}

void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    struct run *r = a->run;
    struct wctx c = {.run = r, .res = a->res, .ns_per_cycle = 1e9 / r->tsc_hz};
    unsigned id = c.res->id;
    int say = !r->p.quiet;

    gen_init(&c.gen, &r->p, r->pages, id);
    if (say)
        printf("[%u] num_pages: %llu (%ld MiB), shape: %.4f\n", id, (unsigned long long)r->pages,
               r->p.setsize_mib, r->p.shape);
    measure_generator(&c);
    if (say)
        printf("[%u] Pattern generation overhead: %.4f usec per drawing\n", id,
               (double)c.res->gen_cycles_total / GEN_OVERHEAD_DRAWS / r->tsc_hz * 1e6);
    if (!r->p.cold) {
        if (say)
            printf("[%u] Performing %llu page accesses for warmup\n", id,
                   (unsigned long long)gen_warmup_count(r->p.pattern, r->pages));
        warm_up(&c);
        if (say)
            printf("[%u] Warmup done - took %.0f us\n", id,
                   (double)c.res->warmup_cycles / r->tsc_hz * 1e6);
    }
    pthread_barrier_wait(&r->warm_done);
    pthread_barrier_wait(&r->start_main);

    if (say)
        printf("[%u] Starting main benchmark\n", id);
    uint64_t limit = (uint64_t)((double)r->p.duration * r->tsc_hz), t0 = ts_rdtsc(), now = t0;
    while (!stopped(r)) {
        batch(&c, LOOP_CHECK_EVERY);
        c.res->accesses += LOOP_CHECK_EVERY;
        now = ts_rdtsc();
        if (now - t0 >= limit)
            break;
    }
    c.res->bench_cycles = now - t0;
    atomic_fetch_add(&r->finished, 1);
    if (say) {
        struct thread_figures f;
        thread_figures(r, c.res, &f);
        printf("[%u] Benchmark done - took %.3f sec for %llu page access\n"
               "  (Average %.3f usec per page access)\n",
               id, f.bench_sec, (unsigned long long)c.res->accesses, f.bench_us);
    }
    c.res->sink = c.sink;
    return NULL;
}
