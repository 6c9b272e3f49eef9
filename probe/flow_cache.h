/* flow_cache: bidirectional flows from decoded packets, with idle/TCP/eviction expiry. */
#ifndef ZFLOW_FLOW_CACHE_H
#define ZFLOW_FLOW_CACHE_H

#include "flow.h"
#include "l7.h"
#include "packet.h"

#include <stdint.h>

typedef struct flow_cache flow_cache_t;

/* Called for every flow event. `flow` is valid only during the call; after an END event the
 * cache frees it. `reason` is END_NONE except for FLOW_EV_END. */
typedef void (*flow_emit_fn)(void *ctx, const flow_t *flow, enum flow_event ev,
                             enum end_reason reason);

typedef struct flow_cache_config {
    uint32_t max_flows;          /* cap on active flows; LRU eviction beyond (default 1M) */
    uint64_t idle_timeout_ns;    /* default 30 s */
    uint64_t update_interval_ns; /* default 60 s; 0 = no periodic updates */
    uint64_t tcp_linger_ns;      /* after FIN both ways or RST (default 2 s) */
    uint32_t frag_slots;         /* fragment table size (default 4096) */
    uint64_t id_base;            /* first flow id (default 1; 0 = 1) */
    uint64_t id_stride;          /* step between flow ids (default 1; 0 = 1): caches that share
                                  * a run use bases 1..N and stride N */
} flow_cache_config_t;

typedef struct flow_cache_stats {
    uint64_t packets;            /* packets given to flow_cache_process() */
    uint64_t flows_created;
    uint64_t flows_ended;
    uint64_t active;             /* current */
    uint64_t evictions;          /* flows ended because max_flows was reached */
    uint64_t ended[6];           /* per enum end_reason */
    uint64_t frag_attributed;    /* later fragments matched to their first fragment */
    uint64_t frag_orphans;       /* later fragments whose first fragment was not seen */
    uint64_t alloc_failures;     /* packets dropped because a flow could not be allocated */
    uint64_t l7_detected;        /* flows whose detection completed */
} flow_cache_stats_t;

/* Fills a config with the defaults. */
void flow_cache_config_default(flow_cache_config_t *cfg);

/* Creates a cache. `l7` may be NULL (L7 off); the cache borrows it. NULL on failure. */
flow_cache_t *flow_cache_new(const flow_cache_config_t *cfg, l7_t *l7, flow_emit_fn emit,
                             void *ctx);

/* Ends nothing; frees every flow without events. */
void flow_cache_destroy(flow_cache_t **self);

/* Accounts one packet (ip_version != 0) to its flow, creating it if needed. The packet's
 * ts_ns drives the cache clock (the clock never goes back). */
void flow_cache_process(flow_cache_t *self, const packet_t *pkt);

/* Advances the clock to now_ns (if later) and ends idle and lingering flows. */
void flow_cache_expire(flow_cache_t *self, uint64_t now_ns);

/* Advances the clock to now_ns (if later) without ending anything: a cache that sees only part
 * of the packets keeps the clock of the whole stream (sharded sensor). */
void flow_cache_advance(flow_cache_t *self, uint64_t now_ns);

/* Ends every flow with `reason` (END_SHUTDOWN at exit). */
void flow_cache_flush(flow_cache_t *self, enum end_reason reason);

/* Current clock (latest packet or expire time). */
uint64_t flow_cache_clock(const flow_cache_t *self);

void flow_cache_get_stats(const flow_cache_t *self, flow_cache_stats_t *out);

#endif
