/* ingest: the collector's ROUTER sockets, message validation, dedupe, dispatch to workers,
 * acknowledgements and probe liveness. Runs on the thread that calls ingest_run(). */
#ifndef ZFLOW_INGEST_H
#define ZFLOW_INGEST_H

#include "codec.h"
#include "queue.h"
#include "registry.h"
#include "worker.h"

#include <signal.h>
#include <stdint.h>

#define INGEST_MAX_LISTEN 16

typedef struct ingest ingest_t;

typedef struct ingest_config {
    const char *listen[INGEST_MAX_LISTEN];
    int n_listen;
    worker_t **workers;
    int n_workers;
    registry_t *registry;
    queue_t *done;               /* completions from the workers */
    alert_store_t *alerts;       /* acks wait until the batch's alerts are committed (or NULL) */
    queue_t *local;              /* packed envelopes from local packet interfaces */
    size_t max_inflight;         /* batches applied but not yet acknowledged (< done's cap) */
    uint32_t probe_timeout_s;    /* silent longer = down (default 30) */
    uint32_t summary_interval_s; /* periodic summary on stderr; 0 = none */
    const char *status_path;     /* JSON status file rewritten every second, or NULL */
    const char *runtime_path;    /* per-script counters of the workers (for --list-scripts),
                                    rewritten every 2 s, or NULL */
    volatile sig_atomic_t *stop; /* set by signal handlers */
    volatile sig_atomic_t *reload;
    /* Optional: writes more `"name":{...}` members into the status JSON. */
    void (*extra_status)(void *ctx, FILE *out);
    /* Optional: counters of scripts run outside the workers (the syslog threads) for the
     * runtime file and the summary line; fills at most max rows, returns how many. */
    int (*extra_scripts)(void *ctx, script_info_t *out, int max);
    void *extra_ctx;
} ingest_config_t;

typedef struct ingest_stats {
    uint64_t messages;
    uint64_t bad[CODEC_ERR_COUNT];  /* per codec_error */
    uint64_t bad_frames;            /* wrong frame count */
    uint64_t bad_payload;           /* an Ack or other payload a probe must not send */
    uint64_t duplicates;            /* resent batches already applied (acked again) */
    uint64_t inflight_resends;      /* resent while the first copy is still being applied */
    uint64_t queue_full;            /* batches refused: a worker queue was full (not acked) */
    uint64_t held_back;             /* refused to keep order: an earlier batch was refused */
    uint64_t holds_expired;         /* a refused batch never came back (the probe dropped it) */
    uint64_t acks_sent, acks_failed;
    uint64_t flow_events;
    uint64_t unknown_probe;         /* registry full */
    uint64_t local_batches;
} ingest_stats_t;

/* Binds every endpoint. NULL + err on failure (e.g. address in use). */
ingest_t *ingest_new(const ingest_config_t *cfg, char *err, size_t errlen);
void ingest_destroy(ingest_t **self);

/* Serves until *cfg->stop is set or, when `until_local_done` is set, until every local source
 * has finished and all work is applied. Returns 0. */
int ingest_run(ingest_t *self, int until_local_done);

/* Number of local sources that will send; each sends a NULL item when it is finished. */
void ingest_expect_local(ingest_t *self, int n);

/* After the local sources were told to stop: takes their last batches until each has finished
 * and everything is applied. */
void ingest_finish(ingest_t *self);

/* Waits until the workers have applied everything queued so far. */
void ingest_barrier(ingest_t *self);

void ingest_get_stats(ingest_t *self, ingest_stats_t *out);

/* One-line JSON status (probes, interfaces, ingest and worker counters) to `out`. */
void ingest_print_status(ingest_t *self, FILE *out);

#endif
