/* cflow: a flow as the collector's flow table keeps it (fed by probe flow events). */
#ifndef ZFLOW_CFLOW_H
#define ZFLOW_CFLOW_H

#include <stdint.h>

struct iface; /* the probe interface or local packet interface the flow belongs to */

/* cflow_t.hook_state bits */
#define CFLOW_PROTO_DETECTED 0x01 /* protocolDetected has run */
#define CFLOW_ENDED 0x02          /* flowEnd has run */
#define CFLOW_PD_SKIPPED 0x04     /* updated before L7 was known: protocolDetected never runs */

/* Rarely present details, out of line. */
typedef struct cflow_extra {
    uint8_t cli_mac[6];
    uint8_t srv_mac[6];
    uint8_t has_macs;
    uint8_t tunnel_type;      /* zflow.TunnelType */
    uint8_t tunnel_ip_version;
    uint16_t vlan_inner;
    uint32_t tunnel_id;
    uint8_t tunnel_src[16];
    uint8_t tunnel_dst[16];
} cflow_extra_t;

typedef struct cflow {
    uint64_t flow_id;         /* the probe's id, unique within (interface, probe run) */
    struct iface *iface;
    uint64_t first_ns;
    uint64_t last_ns;
    uint64_t c2s_bytes, s2c_bytes;
    uint64_t c2s_packets, s2c_packets;
    uint64_t risk;            /* nDPI risk bitmap */
    uint8_t cli_ip[16];       /* IPv4 in the first 4 bytes */
    uint8_t srv_ip[16];
    uint16_t cli_port, srv_port;
    uint8_t ip_version;
    uint8_t l4_proto;
    uint8_t c2s_tcp_flags, s2c_tcp_flags;
    uint8_t c2s_tos, s2c_tos;
    uint8_t min_ttl, max_ttl;
    uint8_t icmp_type, icmp_code;
    uint16_t vlan;
    uint16_t l7_master_id, l7_app_id;
    uint16_t l7_category_id;
    uint16_t risk_score;
    uint32_t cli_rtt_us, srv_rtt_us;
    uint32_t c2s_retrans, s2c_retrans;
    uint8_t end_reason;       /* zflow.EndReason once ended */
    uint8_t hook_state;       /* CFLOW_* bits */
    uint8_t cli_local, srv_local; /* address in --local-networks */
    int16_t cli_net, srv_net;     /* index of that local network, -1 when remote */
    /* Interned strings (owned by the worker's string table; never freed per flow). */
    const char *l7_proto_name;    /* "TLS.Google" */
    const char *l7_master_name;
    const char *l7_app_name;
    const char *l7_category;
    /* Owned by the flow (freed with it); NULL when unknown. */
    char *server_name;
    char *community_id;
    /* Status set by scripts through flow.triggerStatus(): the latest status key and scores. */
    const char *status_key;       /* interned; NULL = normal */
    uint32_t flow_score, cli_score, srv_score;
    uint32_t last_update_s;       /* wall seconds of the previous periodicUpdate round */
    cflow_extra_t *extra;
    struct cflow *hnext;          /* flow table chain */
} cflow_t;

#endif
