/* syslog_dispatch: hands each syslog message to the syslog script of its source
 * (scripts/callbacks/syslog/<source>.lua) on its own thread, and gives those scripts a way to
 * turn events into flows (on a "syslog:<source>" interface), probe statistics and alerts
 * attached to probe flows by Community ID. */
#ifndef ZFLOW_SYSLOG_DISPATCH_H
#define ZFLOW_SYSLOG_DISPATCH_H

#include "alert_store.h"
#include "cid_index.h"
#include "queue.h"
#include "script_engine.h"
#include "syslog_parse.h"

#include <stdio.h>
#include <sys/socket.h>

#define SYSLOG_MAP_MAX 64

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
    size_t queue_cap; /* messages waiting for the scripts (default 65536) */
} syslog_dispatch_config_t;

typedef struct syslog_dispatch_stats {
    uint64_t received;   /* messages from the listener */
    uint64_t malformed;  /* not syslog at all (still counted per source "-") */
    uint64_t queue_full; /* dropped: the scripts are behind */
    uint64_t dispatched; /* handed to a script */
    uint64_t no_script;  /* no script for the source (per source below) */
    uint64_t flows, flow_batches, flow_errors, stats_messages;
    uint64_t attached, attach_misses; /* alerts attached to probe flows by Community ID */
    uint64_t calls, errors;           /* script calls and errors */
} syslog_dispatch_stats_t;

/* Validates the map, builds the Lua state and starts the thread. NULL + err on failure. */
syslog_dispatch_t *syslog_dispatch_new(const syslog_dispatch_config_t *cfg, char *err,
                                       size_t errlen);
/* Handles what is queued, flushes pending flows, stops the thread (teardown() runs). */
void syslog_dispatch_destroy(syslog_dispatch_t **self);

/* syslog_listener's deliver callback (ctx = the dispatcher). A UDP message finds room in the
 * queue or is dropped and counted; a TCP message waits up to 10 s for room (the listener stops
 * reading, so TCP flow control slows the senders and nothing is lost), then is dropped and
 * counted, and later TCP messages are dropped at once until the queue takes one again. */
void syslog_dispatch_deliver(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                             const struct sockaddr_storage *from, int is_tcp);

/* Waits until every message delivered before the call was handled and its flows queued for
 * ingest. 0, or -1 on timeout. */
int syslog_dispatch_sync(syslog_dispatch_t *self, int timeout_ms);

/* The "zflow_syslog" Lua module opener (engine_config_t.preload_open); its upvalue is the
 * dispatcher, or NULL in an engine that only lists scripts (the functions then raise). */
int syslog_dispatch_lua_open(void *lua_state);

void syslog_dispatch_get_stats(syslog_dispatch_t *self, syslog_dispatch_stats_t *out);

/* Writes `"syslog":{...}` (counters and the per-source table) for the status JSON. */
void syslog_dispatch_print_status(syslog_dispatch_t *self, FILE *out);

#endif
