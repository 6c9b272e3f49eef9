/* packet: what the decoder tells the flow cache about one captured packet. */
#ifndef ZFLOW_PACKET_H
#define ZFLOW_PACKET_H

#include <stdbool.h>
#include <stdint.h>

/* Tunnel kinds; values equal the wire enum zflow.TunnelType. */
enum tunnel_type {
    TUNNEL_TYPE_NONE = 0,
    TUNNEL_TYPE_GRE = 1,
    TUNNEL_TYPE_ERSPAN = 2,
    TUNNEL_TYPE_VXLAN = 3,
    TUNNEL_TYPE_GENEVE = 4,
    TUNNEL_TYPE_GTPU = 5,
    TUNNEL_TYPE_IPIP = 6,
    TUNNEL_TYPE_TEREDO = 7,
};

/* One decoded packet. Addresses are network order; IPv4 uses the first 4 bytes and
 * the other 12 are zero. All fields describe the innermost IP header unless named outer. */
typedef struct packet {
    uint64_t ts_ns;          /* capture time, ns since the epoch */
    uint32_t wire_len;       /* frame length on the wire */
    uint8_t ip_version;      /* 4 or 6; 0 = not IP (the packet makes no flow) */
    uint8_t l4_proto;        /* IANA protocol number of the innermost transport */
    uint8_t tcp_flags;       /* TCP flags byte, 0 when not TCP */
    uint8_t tos;             /* IPv4 ToS / IPv6 traffic class */
    uint8_t ttl;             /* TTL / hop limit */
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t has_ports;       /* 1 when src_port/dst_port are valid (TCP/UDP/SCTP first fragment) */
    uint8_t src_ip[16];
    uint8_t dst_ip[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t ip_len;         /* innermost IP bytes from the length field (hdr + payload) */

    /* Fragments (innermost IP layer). A non-first fragment has no ports; the flow cache
     * attributes it to the flow of its first fragment through (addresses, proto, frag_id). */
    uint8_t is_fragment;     /* 1 when MF is set or the offset is non-zero */
    uint8_t first_fragment;  /* 1 when offset == 0 (carries the transport header) */
    uint32_t frag_id;        /* IPv4 identification or IPv6 fragment identification */

    /* TCP details for RTT and retransmission tracking. */
    uint32_t tcp_seq;
    uint32_t tcp_ack;

    /* L2 */
    uint8_t has_macs;
    uint8_t src_mac[6];
    uint8_t dst_mac[6];
    uint16_t vlan_outer;     /* first VLAN id seen (outermost tag), 0 = none */
    uint16_t vlan_inner;     /* second VLAN id seen, 0 = none */

    /* Tunnel: the outermost tunnel found, and the outer IP endpoints around it. */
    uint8_t tunnel_type;     /* enum tunnel_type */
    uint8_t outer_ip_version;
    uint32_t tunnel_id;
    uint8_t outer_src_ip[16];
    uint8_t outer_dst_ip[16];

    /* Innermost IP header start and L4 payload, for nDPI. Point into the caller's buffer. */
    const uint8_t *l3;
    uint32_t l3_len;         /* captured bytes from l3, clipped to the IP length */
    const uint8_t *payload;
    uint32_t payload_len;    /* captured L4 payload bytes */
} packet_t;

#endif
