/* decode: turns a captured frame into a packet_t through a bounds-checked cursor.
 * Link types: Ethernet, Linux SLL/SLL2, BSD loopback (NULL/LOOP), raw IP (DLT_RAW and
 * LINKTYPE_IPV4/IPV6). L2: 802.1Q/802.1ad (any depth up to DECODE_MAX_VLAN), MPLS, PPPoE.
 * L3: IPv4 (options, fragments), IPv6 (extension headers, fragments). L4: TCP, UDP, ICMP,
 * ICMPv6, SCTP. Tunnels: GRE (incl. ERSPAN I/II/III), VXLAN, Geneve, GTP-U, IP-in-IP/6in4,
 * Teredo, capped at DECODE_MAX_TUNNEL_DEPTH. */
#ifndef ZFLOW_DECODE_H
#define ZFLOW_DECODE_H

#include "packet.h"

#include <stdint.h>

#define DECODE_MAX_TUNNEL_DEPTH 4
#define DECODE_MAX_VLAN 8
#define DECODE_MAX_MPLS 8

/* Outcome of decode_packet(). */
typedef enum decode_result {
    DECODE_OK = 0,          /* an IP packet with a flow key in *pkt */
    DECODE_NOT_IP,          /* valid frame that carries no IP (ARP, LLDP, ...): counted, no flow */
    DECODE_ERROR,           /* truncated or malformed: counted under one reason */
} decode_result_t;

/* Why a packet was not turned into a flow key. Every reason is counted apart;
 * names come from decode_reason_name(). Truncated and malformed stay separate: a header
 * that does not fit is "truncated" when the capture was cut short of the IP length (snaplen),
 * "malformed" when the IP packet was captured whole and its own lengths disagree. */
typedef enum decode_reason {
    DR_NONE = 0,
    DR_UNSUPPORTED_LINKTYPE,
    DR_TRUNCATED_L2,         /* Ethernet, SLL, SLL2, NULL header cut short */
    DR_TRUNCATED_VLAN,
    DR_TOO_MANY_VLAN,
    DR_TRUNCATED_MPLS,
    DR_TOO_MANY_MPLS,
    DR_TRUNCATED_PPPOE,
    DR_MALFORMED_PPPOE,
    DR_TRUNCATED_IPV4,
    DR_MALFORMED_IPV4,       /* bad version, IHL < 5, total length < IHL */
    DR_TRUNCATED_IPV6,
    DR_MALFORMED_IPV6,       /* bad version, too many or overlong extension headers */
    DR_TRUNCATED_IPV6_EXT,
    DR_TRUNCATED_TCP,
    DR_MALFORMED_TCP,        /* data offset < 5, header longer than the IP payload */
    DR_TRUNCATED_UDP,
    DR_MALFORMED_UDP,        /* length < 8, header longer than the IP payload */
    DR_TRUNCATED_ICMP,
    DR_TRUNCATED_SCTP,
    DR_TRUNCATED_TUNNEL,
    DR_MALFORMED_TUNNEL,     /* bad ERSPAN version, GTP extension length 0, overlong header */
    DR_TUNNEL_TOO_DEEP,
    DR_NOT_IP,               /* non-IP ethertype (counted, not an error) */
    DR_MALFORMED_ICMP,       /* ICMP/ICMPv6 shorter than 8 bytes in a whole IP packet */
    DR_MALFORMED_SCTP,       /* SCTP shorter than its 12-byte header in a whole IP packet */
    DR_COUNT
} decode_reason_t;

/* Per-reason counters; the caller owns one per capture source. */
typedef struct decode_stats {
    uint64_t reasons[DR_COUNT];
} decode_stats_t;

/* Decodes one frame of pcap link type `linktype` (DLT_* value as returned by
 * pcap_datalink()). `data`/`caplen` are the captured bytes, `wire_len` the original length.
 * Fills *pkt (pointers in it reference `data`); pkt->ts_ns is kept as the caller set it.
 * On failure sets pkt->ip_version = 0, bumps exactly one counter in *stats (when
 * stats != NULL) and returns DECODE_NOT_IP or DECODE_ERROR. Never reads outside
 * [data, data + caplen). */
decode_result_t decode_packet(int linktype, const uint8_t *data, uint32_t caplen,
                              uint32_t wire_len, packet_t *pkt, decode_stats_t *stats);

/* Short stable name of a reason, e.g. "truncated_ipv4". */
const char *decode_reason_name(decode_reason_t reason);

/* 1 when this link type is supported by decode_packet(). */
int decode_linktype_supported(int linktype);

#endif
