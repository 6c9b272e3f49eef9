/* netstats: traffic of each local network (--local-networks) aggregated over every probe:
 * ingress, egress and inner bytes/packets, flows, distinct local hosts, SYN-only flows and
 * their top victim. Workers add to it; the periodic scheduler reads it. */
#ifndef ZFLOW_NETSTATS_H
#define ZFLOW_NETSTATS_H

#include "cflow.h"
#include "netset.h"

#include <stdatomic.h>
#include <stdint.h>

#define NETSTATS_MAX_HOSTS 65536 /* local hosts tracked per network */

typedef struct net_counters {
    _Atomic uint64_t ingress_bytes, egress_bytes, inner_bytes;
    _Atomic uint64_t ingress_packets, egress_packets, inner_packets;
    _Atomic uint64_t flows_new, flows_ended;
    _Atomic uint64_t syn_only_flows;  /* ended TCP flows: client SYN, no handshake completed */
    _Atomic uint64_t hosts_overflow;  /* hosts not tracked: table full */
} net_counters_t;

/* A snapshot of one network for a round. */
typedef struct net_snapshot {
    uint64_t ingress_bytes, egress_bytes, inner_bytes;
    uint64_t ingress_packets, egress_packets, inner_packets;
    uint64_t flows_new, flows_ended, syn_only_flows;
    uint32_t hosts_seen;              /* distinct local hosts seen since `since_s` */
    /* the local host that received the most SYN-only flows since `since_s` */
    uint8_t syn_victim[16];
    uint32_t syn_victim_flows;
    uint32_t syn_victim_ports;        /* distinct destination ports of those flows (capped 1024) */
} net_snapshot_t;

typedef struct netstats netstats_t;

/* Counters for every network of `nets` (borrowed; must outlive the netstats). */
netstats_t *netstats_new(const netset_t *nets);
void netstats_destroy(netstats_t **self);

/* Sets flow->cli_net/srv_net (and cli_local/srv_local) from the local networks. */
void netstats_classify(const netstats_t *self, cflow_t *flow);

/* Adds a flow event: byte and packet deltas per direction since the previous event of the
 * flow, whether it is the flow's first event and whether it ends it. Thread-safe. */
void netstats_flow(netstats_t *self, const cflow_t *flow, uint64_t d_c2s_bytes,
                   uint64_t d_s2c_bytes, uint64_t d_c2s_packets, uint64_t d_s2c_packets,
                   int is_new, int is_end, int64_t now_s);

int netstats_count(const netstats_t *self);
const char *netstats_name(const netstats_t *self, int i);
/* Snapshot of network i; hosts and SYN victims counted from since_s on. Thread-safe. */
void netstats_snapshot(netstats_t *self, int i, int64_t since_s, net_snapshot_t *out);

#endif
