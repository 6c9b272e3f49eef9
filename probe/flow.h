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
    uint8_t detected;        /* 0: only the Community ID is known yet (detection pending) */
    char community_id[32];   /* computed once for all the flow's exports ("" = not yet) */
    char server_name[];      /* NUL-terminated, may be empty */
} flow_l7_t;

typedef struct flow {
    flow_key_t key;
    uint64_t id;             /* unique within this probe run */
    uint64_t first_ns;       /* packet time of the first packet */
    uint64_t last_ns;        /* latest packet time seen */
    uint64_t touch_ns;       /* cache clock at the last packet (expiry order) */
    uint64_t last_export_ns; /* cache clock at the last new/update export */
    uint64_t bytes[2];       /* [0] = client->server, [1] = server->client; IP bytes */
    uint64_t packets[2];
    uint32_t retrans[2];
    uint32_t next_seq[2];    /* highest seq + len seen per direction, for retransmissions */
    uint32_t cli_rtt_us;     /* SYN/ACK -> ACK */
    uint32_t srv_rtt_us;     /* SYN -> SYN/ACK */
    uint32_t hash;
    uint8_t tcp_flags[2];
    uint8_t tos[2];
    uint8_t min_ttl;
    uint8_t max_ttl;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t state;           /* FLOW_STATE_* bits */
    uint8_t l7_done;         /* detection finished or given up (or L7 off) */
    uint8_t end_reason;      /* set while closing: END_TCP_FIN / END_TCP_RST */
    flow_extra_t *extra;     /* NULL when there is nothing to say */
    flow_l7_t *l7;           /* NULL until L7 knows something */
    struct l7_state *l7_state;
    struct flow *hnext;      /* hash chain */
    struct flow *prev;       /* position in the active or closing list */
    struct flow *next;
} flow_t;

/* flow_t.state bits */
#define FLOW_STATE_SEQ0 0x01    /* next_seq[0] valid */
#define FLOW_STATE_SEQ1 0x02    /* next_seq[1] valid */
#define FLOW_STATE_FIN0 0x04    /* client sent FIN */
#define FLOW_STATE_FIN1 0x08    /* server sent FIN */
#define FLOW_STATE_CLOSING 0x10 /* FIN both ways or RST: ends after a short linger */
#define FLOW_STATE_SYN 0x20     /* the first packet was a SYN from the client */

#endif
