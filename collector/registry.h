/* registry: the probes the collector has heard from, their runs, sequences and interfaces. */
#ifndef ZFLOW_REGISTRY_H
#define ZFLOW_REGISTRY_H

#include "codec.h"
#include "iface.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define REGISTRY_MAX_PROBES 4096
#define REGISTRY_MAX_IFACES 8192
#define PROBE_IFACES_MAX 16

/* Sequence tracking of one probe run: every seq is new, in flight or applied. */
typedef struct probe_run {
    uint64_t run_id;
    uint64_t highest;            /* highest seq received */
    uint64_t received;           /* distinct seqs received */
    uint64_t contiguous;         /* every seq <= contiguous is applied */
    /* seqs above `contiguous`: window bitmaps, bit i = seq contiguous + 1 + i */
    uint64_t *applied;
    uint64_t *inflight;
    uint32_t window;             /* bits in the bitmaps */
    uint64_t too_far;            /* seqs beyond the window (applied without dedupe) */
    /* Flow batches are applied in seq order: after a refused batch, later ones are refused
     * too until it comes back (or until the hold expires: the probe gave it up). */
    int hold;
    uint64_t hold_seq, hold_since_ns;
} probe_run_t;

typedef enum seq_state { SEQ_NEW = 0, SEQ_INFLIGHT, SEQ_APPLIED } seq_state_t;

typedef struct probe {
    char id[IFACE_PROBE_ID_MAX];
    probe_run_t run;             /* current run */
    uint64_t restarts;           /* new run ids after the first */
    uint64_t lost_prev_runs;     /* gaps left by earlier runs */
    uint64_t first_seen_ns;
    uint64_t last_seen_ns;
    int down;                    /* silent past the timeout */
    uint64_t messages, flow_events, duplicates;
    /* from the hello */
    char hostname[128];
    char version[32];
    char hello_iface[IFACE_NAME_MAX];
    uint32_t stats_interval_s;
    int has_hello;
    /* from the last stats message */
    codec_msg_t *stats_msg;      /* owned: the last Stats envelope, NULL before the first */
    uint64_t stats_at_ns;        /* when it arrived */
    /* flows/s: events counted since rate_t0 */
    uint64_t rate_t0_ns, rate_events;
    double flows_per_s;
    iface_t *ifaces[PROBE_IFACES_MAX];
    int n_ifaces;
} probe_t;

/* What other threads may read of a probe: refreshed by ingest every second. */
typedef struct probe_summary {
    char probe_id[IFACE_PROBE_ID_MAX];
    char hostname[128];
    char version[32];
    int up;
    uint64_t lost, restarts, messages, flow_events, duplicates;
    double flows_per_s;
    int64_t first_seen_s, last_seen_s, last_stats_s;
    uint32_t stats_interval_s;
    int has_stats;               /* the fields below come from the probe's last stats message */
    uint64_t pcap_recv, pcap_drop, pcap_ifdrop, packets, bytes, active_flows, evictions;
    uint64_t export_dropped_batches, export_dropped_flows, decode_errors;
    int n_ifaces;
    int iface_ids[PROBE_IFACES_MAX];
} probe_summary_t;

typedef struct registry {
    pthread_mutex_t lock;        /* guards everything below for readers outside ingest */
    probe_t *probes[REGISTRY_MAX_PROBES];
    int n_probes;
    iface_t *ifaces[REGISTRY_MAX_IFACES];
    int n_ifaces;
    int n_workers;
    uint64_t refused_probes;     /* registry full */
    probe_summary_t *summaries;  /* REGISTRY_MAX_PROBES, published by registry_publish() */
    int n_summaries;
} registry_t;

registry_t *registry_new(int n_workers);
void registry_destroy(registry_t **self);

/* Finds or creates a probe (NULL when the registry is full). Caller holds no lock; ingest
 * is the only writer. */
probe_t *registry_probe(registry_t *self, const char *probe_id, uint64_t now_ns);

/* Finds or creates the interface `name` of a probe (or a local packet interface when
 * probe == NULL and is_packet). NULL when full. The worker is chosen round-robin by id. */
iface_t *registry_iface(registry_t *self, probe_t *probe, const char *name, int is_packet);

/* Starts tracking a new run; returns 1 when it replaced an earlier run (a restart). */
int registry_new_run(probe_t *probe, uint64_t run_id);

/* State of a seq in the probe's current run. */
seq_state_t registry_seq_state(const probe_run_t *run, uint64_t seq);
void registry_seq_mark(probe_run_t *run, uint64_t seq, seq_state_t state);

/* At start: a batch of probe_id's run that an earlier collector applied (its mark is in
 * alerts.db), so a resend of it is acknowledged and not applied again. Marks of one probe come
 * in time order; the latest run wins. */
void registry_preload(registry_t *self, const char *probe_id, uint64_t run_id, uint64_t seq,
                      uint64_t now_ns);

/* Messages missing so far in the current run (gaps below the highest seq). */
uint64_t registry_lost(const probe_t *probe);

/* Ingest thread: refreshes the summaries other threads read. */
void registry_publish(registry_t *self, uint64_t now_ns);

/* Any thread: copies up to max probe summaries; returns the count. */
int registry_snapshot(registry_t *self, probe_summary_t *out, int max);

/* Any thread: copies up to max interface pointers (interfaces live as long as the registry);
 * returns the count. */
int registry_ifaces(registry_t *self, iface_t **out, int max);

/* Writes the probes as JSON (one object with a "probes" array) for --status output. */
void registry_print_json(registry_t *self, FILE *out, uint64_t now_ns);

#endif
