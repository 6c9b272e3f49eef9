/* syslog_dispatch: hands each syslog message to the syslog script of its source
 * (scripts/callbacks/syslog/<source>.lua) on one of its dispatcher threads, and gives those
 * scripts a way to turn events into flows (on a "syslog:<source>" interface), probe statistics
 * and alerts attached to probe flows by Community ID.
 *
 * Threads: each dispatcher thread has its own Lua state running the same scripts (so setup()
 * runs once per state when it is built and teardown() once per state when it stops, as for the
 * flow workers; module-level Lua variables are per thread). Order: the messages of one source
 * are handled in arrival order on one thread, except JSON messages that carry a "flow_id"
 * (Suricata Eve): those of one flow id are handled in arrival order on one thread, and
 * different flows in parallel. */
#ifndef ZFLOW_SYSLOG_DISPATCH_H
#define ZFLOW_SYSLOG_DISPATCH_H

#include "alert_store.h"
#include "cid_index.h"
#include "queue.h"
#include "script_engine.h"
#include "syslog_listener.h"
#include "syslog_parse.h"

#include <stdio.h>
#include <sys/socket.h>

#define SYSLOG_MAP_MAX     64
#define SYSLOG_WORKERS_MAX 16

typedef struct syslog_dispatch syslog_dispatch_t;

typedef struct syslog_dispatch_config {
    engine_config_t engine; /* subdir_mask is set to syslog; host callbacks are filled */
    alert_store_t *alerts;
    cid_index_t *cids;
    queue_t *local; /* ingest's queue of local envelopes (flows, stats) */
    /* "SENDER=SCRIPT": SENDER is an address or a hostname; it takes precedence over the
     * application name. */
    const char *map[SYSLOG_MAP_MAX];
    int n_map;
    size_t queue_cap; /* messages waiting for the scripts, per thread (default 65536) */
    int workers;      /* dispatcher threads, 1..SYSLOG_WORKERS_MAX (0 = 1) */
} syslog_dispatch_config_t;

typedef struct syslog_dispatch_stats {
    uint64_t received;   /* messages from the listener */
    uint64_t malformed;  /* not syslog at all (still counted per source "-") */
    uint64_t queue_full; /* dropped: the scripts are behind */
    uint64_t dispatched; /* handed to a script */
    uint64_t no_script;  /* no script for the source (per source below) */
    uint64_t flows, flows_merged, flow_batches, flow_errors, stats_messages;
    uint64_t attached, attach_misses; /* alerts attached to probe flows by Community ID */
    uint64_t calls, errors;           /* script calls and errors */
} syslog_dispatch_stats_t;

/* Validates the map, builds one Lua state per thread and starts the threads. NULL + err on
 * failure. */
syslog_dispatch_t *syslog_dispatch_new(const syslog_dispatch_config_t *cfg, char *err,
                                       size_t errlen);
/* Handles what is queued, flushes pending flows, stops the threads (teardown() runs in each
 * state). Accepts NULL; sets *self to NULL. */
void syslog_dispatch_destroy(syslog_dispatch_t **self);

/* syslog_listener's deliver callback (ctx = the dispatcher): picks the message's source and
 * thread and copies it into that thread's next batch. Batches go to the threads when full and
 * at syslog_dispatch_flush(). */
void syslog_dispatch_deliver(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                             const struct sockaddr_storage *from, int is_tcp);

/* syslog_listener's flush callback (ctx = the dispatcher): hands the pending batches to their
 * threads. A batch of UDP messages finds room or is dropped and counted (queue_full); a batch
 * with TCP messages waits up to 10 s for room (the listener stops reading, so TCP flow control
 * slows the senders and nothing is lost), then is dropped and counted, and later TCP batches
 * are dropped at once until a queue takes one again. */
void syslog_dispatch_flush(void *ctx);

/* Waits until every message delivered before the call was handled and its flows queued for
 * ingest. 0, or -1 on timeout. */
int syslog_dispatch_sync(syslog_dispatch_t *self, int timeout_ms);

/* The listener whose counters the status shows (NULL: none). Set it once the listener runs and
 * clear it before destroying the listener. */
void syslog_dispatch_set_listener(syslog_dispatch_t *self, syslog_listener_t *listener);

/* Script counters of the syslog states, summed over the threads (as script_engine_list()):
 * fills at most max rows and returns how many. Refreshed by the threads about once a second;
 * callable from any thread. */
int syslog_dispatch_list_scripts(syslog_dispatch_t *self, script_info_t *out, int max);

/* The "zflow_syslog" Lua module opener (engine_config_t.preload_open); its upvalue is the
 * dispatcher, or NULL in an engine that only lists scripts (the functions then raise). */
int syslog_dispatch_lua_open(void *lua_state);

void syslog_dispatch_get_stats(syslog_dispatch_t *self, syslog_dispatch_stats_t *out);

/* Writes `"syslog":{...}` (counters, the per-source table and the listener's counters) for the
 * status JSON. */
void syslog_dispatch_print_status(syslog_dispatch_t *self, FILE *out);

#endif
