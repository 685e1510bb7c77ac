/* rcluster.h -- the redis-cluster:// backend of fluidmem-monitor: the page life cycle
 * (monitor.h) on top of the cluster client (cluster.h). backend.c hands each Redis
 * operation here when its spec starts with redis-cluster://. */
#ifndef FLUIDMEM_RCLUSTER_H
#define FLUIDMEM_RCLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster.h"
#include "monitor.h"

#define RCL_SCHEME "redis-cluster://"
#define RCL_CHUNK_PAGES 512 /* pages per hash tag: 2 MiB of 4 KiB pages share a slot */

/* nodes: "HOST:PORT[,HOST:PORT...]" (after the scheme); password from FLUIDMEM_REDIS_PASSWORD */
int rcl_init(const char *nodes, const char *nonce, uint64_t deadline_ns, char *err, size_t errlen);
void rcl_set(struct vm *vm, uint32_t pg, uint32_t buf);
void rcl_get(struct vm *vm, uint32_t pg, uint64_t t0);
void rcl_del(struct vm *vm, uint32_t pg);
/* a prefetch GET (issue 11): the reply goes to vm_prefetch_reply(); sent by the next kick */
bool rcl_prefetch(struct vm *vm, uint32_t pg, uint32_t idx, uint32_t gen);
/* "{PREFIX VMID:NONCE:CHUNK}:PAGE" into out (ARCHITECTURE.md, contract of redis-cluster://);
 * -1 if it does not fit */
int rcl_key(char *out, size_t n, const char *prefix, const char *vmid, const char *nonce, uint32_t pg);
/* every write queued so far: a mark; rcl_written(mark) once a master acknowledged each of
 * them (the staging areas, redis_durable()); the write-behind buffer of a SET is released
 * later, after its WAIT, so a master lost meanwhile gets it again from there */
uint64_t rcl_write_mark(void);
bool rcl_written(uint64_t mark);
/* ,"cluster":{...} for the stats JSON */
int rcl_stats_json(char *buf, size_t n);

/* backend.c (the write-behind pool) */
void wb_release(uint32_t buf);

#endif
