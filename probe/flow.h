/* flow: one bidirectional flow as the probe's flow cache keeps it. */
#ifndef ZFLOW_FLOW_H
#define ZFLOW_FLOW_H

#include <stdint.h>

struct l7_state; /* nDPI per-flow state, owned by the l7 module; NULL once detection is over */

/* Why a flow ended; values equal the wire enum zflow.EndReason. */
enum end_reason {
    END_NONE = 0,
    END_IDLE = 1,
    END_TCP_FIN = 2,
    END_TCP_RST = 3,
    END_EVICTED = 4,
    END_SHUTDOWN = 5,
};

/* Flow events; values equal the wire enum zflow.FlowEvent. */
enum flow_event {
    FLOW_EV_NEW = 1,
    FLOW_EV_L7 = 2,
    FLOW_EV_UPDATE = 3,
    FLOW_EV_END = 4,
};

/* Canonical key: addresses and ports as seen from the client (initiator). */
typedef struct flow_key {
    uint8_t cli_ip[16];
    uint8_t srv_ip[16];
    uint16_t cli_port;
    uint16_t srv_port;
    uint16_t vlan;           /* outer VLAN id is part of the key */
    uint8_t ip_version;
    uint8_t l4_proto;
} flow_key_t;

/* Rarely present details live out of line so the common flow stays small. */
typedef struct flow_extra {
    uint8_t cli_mac[6];
    uint8_t srv_mac[6];
    uint8_t has_macs;
    uint8_t tunnel_type;
    uint8_t outer_ip_version;
    uint16_t vlan_inner;
    uint32_t tunnel_id;
    uint8_t outer_src_ip[16];
    uint8_t outer_dst_ip[16];
} flow_extra_t;

/* L7 results, allocated once detection produced something. */
typedef struct flow_l7 {
    uint16_t master_id;
    uint16_t app_id;
    uint16_t category_id;
    uint16_t risk_score;
    uint64_t risk;
    char server_name[];      /* NUL-terminated, may be empty */
} flow_l7_t;

typedef struct flow {
    flow_key_t key;
    uint64_t id;             /* unique within this probe run */
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t last_export_ns; /* time of the last new/update export, for the update interval */
    uint64_t bytes[2];       /* [0] = client->server, [1] = server->client */
    uint64_t packets[2];
    uint32_t retrans[2];
    uint32_t next_seq[2];    /* highest seq + len seen per direction, for retransmissions */
    uint32_t syn_ns_lo;      /* RTT bookkeeping: SYN time (ns, low 32 bits of delta) */
    uint32_t synack_delta_us;
    uint32_t cli_rtt_us;
    uint32_t srv_rtt_us;
    uint8_t tcp_flags[2];
    uint8_t tos[2];
    uint8_t min_ttl;
    uint8_t max_ttl;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t fin_seen;        /* bit 0: client FIN, bit 1: server FIN */
    uint8_t l7_done;         /* detection finished or given up */
    uint8_t state_flags;
    uint8_t pad;
    flow_extra_t *extra;     /* NULL when there is nothing to say */
    flow_l7_t *l7;           /* NULL until L7 knows something */
    struct l7_state *l7_state;
    /* cache bookkeeping */
    struct flow *hnext;      /* hash chain */
    struct flow *lru_prev;
    struct flow *lru_next;
    uint32_t hash;
} flow_t;

#endif
