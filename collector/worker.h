/* worker: a thread that owns the flows of some interfaces, their Lua states and their hooks. */
#ifndef ZFLOW_WORKER_H
#define ZFLOW_WORKER_H

#include "alert_store.h"
#include "cid_index.h"
#include "netstats.h"
#include "queue.h"
#include "script_engine.h"
#include "work.h"

#include <stdint.h>
#include <stdio.h>

typedef struct worker worker_t;

typedef struct worker_config {
    int index;
    engine_config_t engine;      /* host callbacks are filled by the worker */
    netstats_t *netstats;        /* shared; thread-safe; NULL = no local networks */
    cid_index_t *cids;           /* shared; thread-safe; Community ID -> probe flow */
    alert_store_t *alerts;       /* shared; thread-safe */
    queue_t *done;               /* batches whose last work item finished go here */
    size_t queue_cap;            /* work items waiting (default 1024) */
    uint32_t max_flows;          /* flow table cap (default 4,000,000) */
    FILE *trace;                 /* --trace-hooks: "iface flow_id hook" lines, or NULL */
} worker_config_t;

typedef struct worker_stats {
    uint64_t events;             /* flow events applied */
    uint64_t flows_created;
    uint64_t flows_ended;
    uint64_t flows_active;
    uint64_t table_full;         /* new flows refused: table at max_flows */
    uint64_t hook_calls;
    uint64_t script_errors;
    uint64_t alerts;             /* alerts submitted by scripts */
    uint64_t alerts_dropped;     /* refused by the alert store (queue full) */
    uint64_t queue_depth;
    uint64_t intern_full;
    uint64_t late_events;        /* events for flows already ended (older resent batches) */
} worker_stats_t;

/* Starts the worker thread (it builds its script engine itself). NULL + err on failure. */
worker_t *worker_new(const worker_config_t *cfg, char *err, size_t errlen);

/* Stops after the queued work is done; ends nothing (flows are dropped silently). */
void worker_destroy(worker_t **self);

/* The worker's input queue. The caller checks queue_room() before pushing a batch's items. */
queue_t *worker_queue(worker_t *self);

void worker_get_stats(worker_t *self, worker_stats_t *out);

/* Copies the script listing of this worker's engine; returns the count. */
int worker_list_scripts(worker_t *self, script_info_t *out, int max);

#endif
