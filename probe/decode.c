/* decode: frame -> packet_t through a bounds-checked cursor (IEEE 802.1Q, RFC 3032, 2516, 791,
 * 8200, 793, 768, 9260, 2784/2890, 2637, 7348, 8926, 4380, 2473, 4213; 3GPP TS 29.281). */
#include "decode.h"

#include "cursor.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* pcap link types (DLT_* / LINKTYPE_* values). */
enum {
    LT_NULL = 0,
    LT_EN10MB = 1,
    LT_RAW = 12,         /* DLT_RAW on most systems */
    LT_RAW_OPENBSD = 14, /* DLT_RAW on OpenBSD */
    LT_RAW_FILE = 101,   /* LINKTYPE_RAW */
    LT_LOOP = 108,
    LT_LINUX_SLL = 113,
    LT_IPV4 = 228,
    LT_IPV6 = 229,
    LT_LINUX_SLL2 = 276,
};

/* Ethertypes and GRE protocol types. */
enum {
    ET_IPV4 = 0x0800,
    ET_IPV6 = 0x86DD,
    ET_VLAN = 0x8100,
    ET_QINQ = 0x88A8,
    ET_QINQ_OLD = 0x9100,
    ET_MPLS_UC = 0x8847,
    ET_MPLS_MC = 0x8848,
    ET_PPPOE_SESSION = 0x8864,
    ET_CISCO_META = 0x8909,
    ET_TEB = 0x6558, /* transparent Ethernet bridging */
    ET_ERSPAN_2 = 0x88BE,
    ET_ERSPAN_3 = 0x22EB,
    ET_PPP = 0x880B, /* PPTP */
};

enum {
    IPPROTO_NUM_ICMP = 1,
    IPPROTO_NUM_IPIP = 4,
    IPPROTO_NUM_TCP = 6,
    IPPROTO_NUM_UDP = 17,
    IPPROTO_NUM_IPV6 = 41,
    IPPROTO_NUM_GRE = 47,
    IPPROTO_NUM_ICMPV6 = 58,
    IPPROTO_NUM_NONE = 59,
    IPPROTO_NUM_SCTP = 132,
};

enum {
    PORT_VXLAN = 4789,
    PORT_GENEVE = 6081,
    PORT_GTPU = 2152,
    PORT_TEREDO = 3544,
};

#define IPV6_MAX_EXT_HEADERS 16
#define GTP_MAX_EXT_HEADERS  16

/* Decoder state for one frame. */
typedef struct dctx {
    packet_t *pkt;
    unsigned depth;           /* tunnels (and MPLS pseudowires) entered so far */
    bool ip_len_from_capture; /* innermost IP length field was 0: length taken from caplen */
    bool l3_whole;            /* innermost IP packet captured up to its declared length */
    size_t uncaptured;        /* wire_len - caplen: bytes of the frame the capture left out */
} dctx_t;

typedef decode_reason_t dr_t;

/* A header inside an IP packet that does not fit: truncated when the capture was cut short
 * of the IP length, malformed when the packet is whole and its own lengths disagree. */
static dr_t short_header(const dctx_t *d, dr_t truncated, dr_t malformed)
{
    return d->l3_whole ? malformed : truncated;
}

/* short_header() for a tunnel header. */
static dr_t short_tunnel(const dctx_t *d)
{
    return short_header(d, DR_TRUNCATED_TUNNEL, DR_MALFORMED_TUNNEL);
}

static dr_t decode_ethernet(dctx_t *d, cursor_t *c);
static dr_t decode_ethertype(dctx_t *d, cursor_t *c, uint16_t type);
static dr_t decode_ipv4(dctx_t *d, cursor_t *c);
static dr_t decode_ipv6(dctx_t *d, cursor_t *c);

/* Counts a tunnel level and records the outermost tunnel with the current (outer) IP
 * endpoints. MPLS pseudowires pass record = false: they count towards the cap only. */
static dr_t enter_tunnel(dctx_t *d, uint8_t type, uint32_t id, bool record)
{
    packet_t *pkt = d->pkt;

    if (d->depth >= DECODE_MAX_TUNNEL_DEPTH) return DR_TUNNEL_TOO_DEEP;
    d->depth++;
    if (record && pkt->tunnel_type == TUNNEL_TYPE_NONE) {
        pkt->tunnel_type = type;
        pkt->tunnel_id = id;
        pkt->outer_ip_version = pkt->ip_version;
        memcpy(pkt->outer_src_ip, pkt->src_ip, sizeof pkt->src_ip);
        memcpy(pkt->outer_dst_ip, pkt->dst_ip, sizeof pkt->dst_ip);
    }
    return DR_NONE;
}

/* Peeks the IP version nibble; 0 when nothing is left. */
static unsigned ip_nibble(const cursor_t *c)
{
    uint8_t b;

    if (cursor_peek_u8(c, &b)) return 0;
    return b >> 4;
}

/* ---- L2 ---------------------------------------------------------------------------- */

/* Ethernet II (and 802.3 + LLC/SNAP with an RFC 1042 OUI). MACs of the outermost only. */
static dr_t decode_ethernet(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    uint8_t dst[6], src[6];
    uint16_t type;

    if (cursor_bytes(c, dst, 6) || cursor_bytes(c, src, 6) || cursor_be16(c, &type))
        return DR_TRUNCATED_L2;
    if (d->depth == 0 && !pkt->has_macs) {
        pkt->has_macs = 1;
        memcpy(pkt->dst_mac, dst, 6);
        memcpy(pkt->src_mac, src, 6);
    }
    if (type < 0x0600) {
        /* 802.3 length field: only SNAP with OUI 00-00-00 carries an ethertype. */
        uint8_t dsap, ssap, ctl;
        uint32_t oui;
        uint16_t etype;

        if (cursor_u8(c, &dsap) || cursor_u8(c, &ssap) || cursor_u8(c, &ctl))
            return DR_TRUNCATED_L2;
        if (dsap != 0xAA || ssap != 0xAA || ctl != 0x03) return DR_NOT_IP;
        if (cursor_be24(c, &oui) || cursor_be16(c, &etype)) return DR_TRUNCATED_L2;
        if (oui != 0) return DR_NOT_IP;
        type = etype;
    }
    return decode_ethertype(d, c, type);
}

/* MPLS label stack, then IPv4/IPv6 by first nibble, else an Ethernet pseudowire with an
 * optional control word (RFC 4385). */
static dr_t decode_mpls(dctx_t *d, cursor_t *c)
{
    uint32_t lse;
    unsigned n, nibble;
    dr_t r;

    for (n = 0;; n++) {
        if (n >= DECODE_MAX_MPLS) return DR_TOO_MANY_MPLS;
        if (cursor_be32(c, &lse)) return DR_TRUNCATED_MPLS;
        if (lse & 0x100) /* bottom of stack */
            break;
    }
    if (cursor_left(c) == 0) return DR_TRUNCATED_MPLS;
    nibble = ip_nibble(c);
    if (nibble == 4) return decode_ipv4(d, c);
    if (nibble == 6) return decode_ipv6(d, c);
    if (nibble == 1) return DR_NOT_IP; /* associated channel (OAM, BFD) */
    if (nibble == 0 && cursor_skip(c, 4)) return DR_TRUNCATED_MPLS;
    r = enter_tunnel(d, TUNNEL_TYPE_NONE, 0, false);
    if (r != DR_NONE) return r;
    return decode_ethernet(d, c);
}

/* Dispatches on a PPP protocol number (IPv4/IPv6 only). */
static dr_t decode_ppp_proto(dctx_t *d, cursor_t *c, uint16_t proto)
{
    if (proto == 0x0021) return decode_ipv4(d, c);
    if (proto == 0x0057) return decode_ipv6(d, c);
    return DR_NOT_IP;
}

/* Reads a PPP protocol field, 1 byte when compressed (odd first byte) or 2. */
static int read_ppp_proto(cursor_t *c, uint16_t *proto)
{
    uint8_t b0, b1;

    if (cursor_u8(c, &b0)) return -1;
    if (b0 & 1) {
        *proto = b0;
        return 0;
    }
    if (cursor_u8(c, &b1)) return -1;
    *proto = (uint16_t)(b0 << 8 | b1);
    return 0;
}

/* PPPoE session stage (RFC 2516): 6-byte header, then a PPP protocol. */
static dr_t decode_pppoe(dctx_t *d, cursor_t *c)
{
    uint8_t vt, code;
    uint16_t session, len, proto;
    bool whole;

    if (cursor_u8(c, &vt) || cursor_u8(c, &code) || cursor_be16(c, &session) ||
        cursor_be16(c, &len))
        return DR_TRUNCATED_PPPOE;
    if (vt != 0x11 || code != 0x00) return DR_MALFORMED_PPPOE;
    whole = cursor_narrow(c, len);
    if (read_ppp_proto(c, &proto)) return whole ? DR_MALFORMED_PPPOE : DR_TRUNCATED_PPPOE;
    return decode_ppp_proto(d, c, proto);
}

/* Everything an ethertype can lead to: VLAN tags (looped, capped), MPLS, PPPoE, IP. */
static dr_t decode_ethertype(dctx_t *d, cursor_t *c, uint16_t type)
{
    packet_t *pkt = d->pkt;
    unsigned nvlan = 0;

    for (;;) {
        switch (type) {
        case ET_IPV4:
            return decode_ipv4(d, c);
        case ET_IPV6:
            return decode_ipv6(d, c);
        case ET_VLAN:
        case ET_QINQ:
        case ET_QINQ_OLD: {
            uint16_t tci;

            if (nvlan >= DECODE_MAX_VLAN) return DR_TOO_MANY_VLAN;
            if (cursor_be16(c, &tci) || cursor_be16(c, &type)) return DR_TRUNCATED_VLAN;
            if (d->depth == 0) {
                if (nvlan == 0)
                    pkt->vlan_outer = tci & 0x0FFF;
                else if (nvlan == 1)
                    pkt->vlan_inner = tci & 0x0FFF;
            }
            nvlan++;
            break;
        }
        case ET_MPLS_UC:
        case ET_MPLS_MC:
            return decode_mpls(d, c);
        case ET_PPPOE_SESSION:
            return decode_pppoe(d, c);
        case ET_CISCO_META:
            /* Cisco MetaData (SGT): version, length, option, SGT, then the next ethertype. */
            if (cursor_skip(c, 6) || cursor_be16(c, &type)) return DR_TRUNCATED_L2;
            if (type == ET_CISCO_META) return DR_NOT_IP;
            break;
        default:
            return DR_NOT_IP;
        }
    }
}

/* BSD loopback: a 4-byte address family in host order of the writer (NULL) or network
 * order (LOOP); both orders are accepted for both. */
static dr_t decode_null(dctx_t *d, cursor_t *c)
{
    uint32_t le, be;

    if (cursor_le32(c, &le)) return DR_TRUNCATED_L2;
    be = (le >> 24) | ((le >> 8) & 0xFF00) | ((le << 8) & 0xFF0000) | (le << 24);
    if (le == 2 || be == 2) return decode_ipv4(d, c);
    if (le == 24 || le == 28 || le == 30 || be == 24 || be == 28 || be == 30)
        return decode_ipv6(d, c);
    return DR_NOT_IP;
}

/* Linux cooked capture v1: 16-byte header ending in the protocol. */
static dr_t decode_sll(dctx_t *d, cursor_t *c)
{
    uint16_t proto;

    if (cursor_skip(c, 14) || cursor_be16(c, &proto)) return DR_TRUNCATED_L2;
    return decode_ethertype(d, c, proto);
}

/* Linux cooked capture v2: 20-byte header starting with the protocol. */
static dr_t decode_sll2(dctx_t *d, cursor_t *c)
{
    uint16_t proto;

    if (cursor_be16(c, &proto) || cursor_skip(c, 18)) return DR_TRUNCATED_L2;
    return decode_ethertype(d, c, proto);
}

/* Raw IP: version by first nibble; anything but 6 goes to the IPv4 checks. */
static dr_t decode_raw(dctx_t *d, cursor_t *c)
{
    if (ip_nibble(c) == 6) return decode_ipv6(d, c);
    return decode_ipv4(d, c);
}

/* ---- L4 ---------------------------------------------------------------------------- */

static dr_t decode_tcp(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t off, flags;

    if (cursor_be16(c, &sport) || cursor_be16(c, &dport))
        return short_header(d, DR_TRUNCATED_TCP, DR_MALFORMED_TCP);
    if (cursor_be32(c, &seq) || cursor_be32(c, &ack) || cursor_u8(c, &off) ||
        cursor_u8(c, &flags) || cursor_skip(c, 6)) {
        /* a first fragment cut inside the TCP header still names the ports, which its later
         * fragments need to find their flow */
        if (!pkt->is_fragment) return short_header(d, DR_TRUNCATED_TCP, DR_MALFORMED_TCP);
        pkt->src_port = sport;
        pkt->dst_port = dport;
        pkt->has_ports = 1;
        return DR_NONE;
    }
    if ((off >> 4) < 5) return DR_MALFORMED_TCP;
    if (cursor_skip(c, (size_t)(off >> 4) * 4 - 20)) {
        /* options cut by the snap length: the fixed header is all a flow needs */
        if (d->l3_whole) return DR_MALFORMED_TCP;
        (void)cursor_skip(c, cursor_left(c));
    }
    pkt->src_port = sport;
    pkt->dst_port = dport;
    pkt->has_ports = 1;
    pkt->tcp_seq = seq;
    pkt->tcp_ack = ack;
    pkt->tcp_flags = flags;
    pkt->payload = cursor_ptr(c);
    pkt->payload_len = (uint32_t)cursor_left(c);
    return DR_NONE;
}

static dr_t decode_icmp(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    uint8_t type, code;

    if (cursor_u8(c, &type) || cursor_u8(c, &code) || cursor_skip(c, 6))
        return short_header(d, DR_TRUNCATED_ICMP, DR_MALFORMED_ICMP);
    pkt->icmp_type = type;
    pkt->icmp_code = code;
    pkt->payload = cursor_ptr(c);
    pkt->payload_len = (uint32_t)cursor_left(c);
    return DR_NONE;
}

static dr_t decode_sctp(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    uint16_t sport, dport;

    if (cursor_be16(c, &sport) || cursor_be16(c, &dport) || cursor_skip(c, 8))
        return short_header(d, DR_TRUNCATED_SCTP, DR_MALFORMED_SCTP);
    pkt->src_port = sport;
    pkt->dst_port = dport;
    pkt->has_ports = 1;
    pkt->payload = cursor_ptr(c);
    pkt->payload_len = (uint32_t)cursor_left(c);
    return DR_NONE;
}

/* ---- UDP tunnels: each returns false when its header does not validate (the caller
 * keeps the plain UDP flow), true with *r set once committed. ---------------------------- */

/* VXLAN (RFC 7348): flags with I set, 24-bit VNI, then Ethernet. */
static bool try_vxlan(dctx_t *d, cursor_t c, dr_t *r)
{
    uint8_t flags;
    uint32_t vni;

    if (cursor_u8(&c, &flags) || cursor_skip(&c, 3) || cursor_be24(&c, &vni) || cursor_skip(&c, 1))
        return false;
    if (!(flags & 0x08)) return false;
    *r = enter_tunnel(d, TUNNEL_TYPE_VXLAN, vni, true);
    if (*r == DR_NONE) *r = decode_ethernet(d, &c);
    return true;
}

/* Geneve (RFC 8926): version 0, options, protocol Ethernet/IPv4/IPv6. */
static bool try_geneve(dctx_t *d, cursor_t c, dr_t *r)
{
    uint8_t b0, b1;
    uint16_t proto;
    uint32_t vni;

    if (cursor_u8(&c, &b0) || cursor_u8(&c, &b1) || cursor_be16(&c, &proto) ||
        cursor_be24(&c, &vni) || cursor_skip(&c, 1))
        return false;
    if ((b0 >> 6) != 0 || (proto != ET_TEB && proto != ET_IPV4 && proto != ET_IPV6)) return false;
    *r = enter_tunnel(d, TUNNEL_TYPE_GENEVE, vni, true);
    if (*r != DR_NONE) return true;
    if (cursor_skip(&c, (size_t)(b0 & 0x3F) * 4)) {
        *r = short_tunnel(d);
        return true;
    }
    if (proto == ET_TEB)
        *r = decode_ethernet(d, &c);
    else
        *r = decode_ethertype(d, &c, proto);
    return true;
}

/* GTP-U (3GPP TS 29.281): version 1, PT 1, G-PDU only; optional fields and extension
 * headers; the T-PDU must start with an IPv4/IPv6 nibble. */
static bool try_gtpu(dctx_t *d, cursor_t c, dr_t *r)
{
    uint8_t flags, type;
    uint16_t len;
    uint32_t teid;
    unsigned nibble;

    if (cursor_u8(&c, &flags) || cursor_u8(&c, &type) || cursor_be16(&c, &len) ||
        cursor_be32(&c, &teid))
        return false;
    if ((flags >> 5) != 1 || !(flags & 0x10) || type != 0xFF) return false;
    cursor_narrow(&c, len);
    if (flags & 0x07) {
        uint16_t seq;
        uint8_t npdu, next;
        unsigned n = 0;

        if (cursor_be16(&c, &seq) || cursor_u8(&c, &npdu) || cursor_u8(&c, &next)) {
            *r = short_tunnel(d);
            return true;
        }
        while ((flags & 0x04) && next != 0) {
            uint8_t elen;

            if (++n > GTP_MAX_EXT_HEADERS) {
                *r = DR_MALFORMED_TUNNEL;
                return true;
            }
            if (cursor_u8(&c, &elen)) {
                *r = short_tunnel(d);
                return true;
            }
            if (elen == 0) {
                *r = DR_MALFORMED_TUNNEL;
                return true;
            }
            /* elen counts 4-byte units including the length and next-type bytes. */
            if (cursor_skip(&c, (size_t)elen * 4 - 2) || cursor_u8(&c, &next)) {
                *r = short_tunnel(d);
                return true;
            }
        }
    }
    nibble = ip_nibble(&c);
    if (nibble != 4 && nibble != 6) return false;
    *r = enter_tunnel(d, TUNNEL_TYPE_GTPU, teid, true);
    if (*r == DR_NONE) *r = nibble == 4 ? decode_ipv4(d, &c) : decode_ipv6(d, &c);
    return true;
}

/* Teredo (RFC 4380): optional authentication and origin indication, then an IPv6 header
 * whose length matches the UDP payload exactly. `declared` = UDP payload length. */
static bool try_teredo(dctx_t *d, cursor_t c, size_t declared, bool on_port, dr_t *r)
{
    const uint8_t *start = cursor_ptr(&c);
    uint16_t ind, plen;
    uint32_t vtcfl;
    size_t used;

    if (cursor_peek_be16(&c, 0, &ind) == 0 && ind == 0x0001) {
        uint8_t id_len, au_len;

        if (cursor_skip(&c, 2) || cursor_u8(&c, &id_len) || cursor_u8(&c, &au_len) ||
            cursor_skip(&c, (size_t)id_len + au_len + 9))
            return false;
    }
    if (cursor_peek_be16(&c, 0, &ind) == 0 && ind == 0x0000) {
        if (cursor_skip(&c, 8)) return false;
    }
    {
        cursor_t h = c;

        if (cursor_left(&h) < 40 || cursor_be32(&h, &vtcfl) || cursor_be16(&h, &plen)) return false;
    }
    used = (size_t)(cursor_ptr(&c) - start);
    if ((vtcfl >> 28) != 6 || used > declared || declared - used != 40u + plen) return false;
    if (!on_port) {
        uint8_t a[16], b[16]; /* source, destination */
        cursor_t h = c;

        if (cursor_skip(&h, 8) || cursor_bytes(&h, a, 16) || cursor_bytes(&h, b, 16)) return false;
        if (!((a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) ||
              (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)))
            return false;
    }
    *r = enter_tunnel(d, TUNNEL_TYPE_TEREDO, 0, true);
    if (*r == DR_NONE) *r = decode_ipv6(d, &c);
    return true;
}

static dr_t decode_udp(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    uint16_t sport, dport, ulen, csum;
    size_t declared;
    dr_t r;

    if (cursor_be16(c, &sport) || cursor_be16(c, &dport))
        return short_header(d, DR_TRUNCATED_UDP, DR_MALFORMED_UDP);
    if (cursor_be16(c, &ulen) || cursor_be16(c, &csum)) {
        if (!pkt->is_fragment) return short_header(d, DR_TRUNCATED_UDP, DR_MALFORMED_UDP);
        pkt->src_port = sport; /* a first fragment: the ports are enough */
        pkt->dst_port = dport;
        pkt->has_ports = 1;
        return DR_NONE;
    }
    if (ulen == 0 && d->ip_len_from_capture) {
        declared = cursor_left(c); /* jumbogram / GSO: length from the capture */
    } else {
        if (ulen < 8) return DR_MALFORMED_UDP;
        declared = (size_t)ulen - 8;
        cursor_narrow(c, declared);
    }
    pkt->src_port = sport;
    pkt->dst_port = dport;
    pkt->has_ports = 1;
    pkt->payload = cursor_ptr(c);
    pkt->payload_len = (uint32_t)cursor_left(c);
    if (pkt->is_fragment) return DR_NONE; /* a first fragment: the tunnel payload is incomplete */

    if (dport == PORT_VXLAN && try_vxlan(d, *c, &r)) return r;
    if (dport == PORT_GENEVE && try_geneve(d, *c, &r)) return r;
    if ((dport == PORT_GTPU || sport == PORT_GTPU) && try_gtpu(d, *c, &r)) return r;
    /* Teredo on its port, or on any port when the inner IPv6 header uses the Teredo prefix
     * (relays talk from other ports; RFC 4380 section 4) */
    if (try_teredo(d, *c, declared, dport == PORT_TEREDO || sport == PORT_TEREDO, &r)) return r;
    return DR_NONE;
}

/* ---- GRE (RFC 2784/2890, PPTP RFC 2637, ERSPAN) ----------------------------------------- */

/* ERSPAN type II (8 bytes) / III (12 + optional 8) header, then Ethernet. *r is set and
 * true returned when the header is one we decode; false means "keep the GRE flow". */
static bool gre_erspan(dctx_t *d, cursor_t *c, uint16_t proto, bool seq_present, dr_t *r)
{
    uint16_t ver_vlan, sess;

    if (proto == ET_ERSPAN_2 && !seq_present) { /* type I: no ERSPAN header */
        *r = enter_tunnel(d, TUNNEL_TYPE_ERSPAN, 0, true);
        if (*r == DR_NONE) *r = decode_ethernet(d, c);
        return true;
    }
    if (cursor_be16(c, &ver_vlan) || cursor_be16(c, &sess)) {
        *r = short_tunnel(d);
        return true;
    }
    if (proto == ET_ERSPAN_2) {
        if ((ver_vlan >> 12) != 1) {
            *r = DR_MALFORMED_TUNNEL;
            return true;
        }
        if (cursor_skip(c, 4)) {
            *r = short_tunnel(d);
            return true;
        }
    } else {
        uint16_t hw;

        if ((ver_vlan >> 12) != 2) {
            *r = DR_MALFORMED_TUNNEL;
            return true;
        }
        /* timestamp(4), SGT(2), P/FT/HWID/D/Gra/O(2) */
        if (cursor_skip(c, 6) || cursor_be16(c, &hw) || ((hw & 1) && cursor_skip(c, 8))) {
            *r = short_tunnel(d);
            return true;
        }
        if (((hw >> 10) & 0x1F) != 0) return false; /* frame type other than Ethernet */
    }
    *r = enter_tunnel(d, TUNNEL_TYPE_ERSPAN, sess & 0x3FF, true);
    if (*r == DR_NONE) *r = decode_ethernet(d, c);
    return true;
}

/* PPTP enhanced GRE (version 1) carrying PPP with IPv4/IPv6. */
static bool gre_pptp(dctx_t *d, cursor_t *c, uint16_t flags, uint16_t proto, dr_t *r)
{
    uint16_t plen, call, ppp;
    uint8_t b0;

    if (proto != ET_PPP || !(flags & 0x2000) || (flags & 0xC000)) return false;
    if (cursor_be16(c, &plen) || cursor_be16(c, &call) || ((flags & 0x1000) && cursor_skip(c, 4)) ||
        ((flags & 0x0080) && cursor_skip(c, 4))) {
        *r = short_tunnel(d);
        return true;
    }
    if (plen == 0) return false; /* acknowledgement only */
    cursor_narrow(c, plen);
    if (cursor_peek_u8(c, &b0) == 0 && b0 == 0xFF && cursor_skip(c, 2)) {
        *r = short_tunnel(d); /* address and control (0xFF 0x03) cut */
        return true;
    }
    if (read_ppp_proto(c, &ppp)) {
        *r = short_tunnel(d);
        return true;
    }
    if (ppp != 0x0021 && ppp != 0x0057)
        return false; /* LCP, CCP, compressed data: keep the GRE flow */
    *r = enter_tunnel(d, TUNNEL_TYPE_GRE, call, true);
    if (*r == DR_NONE) *r = decode_ppp_proto(d, c, ppp);
    return true;
}

static dr_t decode_gre(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    const uint8_t *start = cursor_ptr(c);
    uint32_t start_len = (uint32_t)cursor_left(c);
    uint16_t flags, proto;
    uint32_t key = 0;
    dr_t r = DR_NONE;
    bool handled = false;

    if (cursor_be16(c, &flags) || cursor_be16(c, &proto)) return short_tunnel(d);

    if ((flags & 0x0007) == 1) {
        handled = gre_pptp(d, c, flags, proto, &r);
    } else if ((flags & 0x0007) == 0 && !(flags & 0x4000)) { /* no (obsolete) routing */
        if (((flags & 0x8000) && cursor_skip(c, 4)) || ((flags & 0x2000) && cursor_be32(c, &key)) ||
            ((flags & 0x1000) && cursor_skip(c, 4)))
            return short_tunnel(d);
        if (proto == ET_CISCO_META) {
            /* Cisco MetaData inside GRE: the next protocol comes first, then 6 bytes. */
            if (cursor_be16(c, &proto) || cursor_skip(c, 6)) return short_tunnel(d);
        }
        switch (proto) {
        case ET_IPV4:
        case ET_IPV6:
        case ET_MPLS_UC:
        case ET_MPLS_MC:
            r = enter_tunnel(d, TUNNEL_TYPE_GRE, key, true);
            if (r == DR_NONE) r = decode_ethertype(d, c, proto);
            handled = true;
            break;
        case ET_TEB:
            r = enter_tunnel(d, TUNNEL_TYPE_GRE, key, true);
            if (r == DR_NONE) r = decode_ethernet(d, c);
            handled = true;
            break;
        case ET_ERSPAN_2:
        case ET_ERSPAN_3:
            handled = gre_erspan(d, c, proto, (flags & 0x1000) != 0, &r);
            break;
        default:
            break;
        }
    }
    if (handled) return r;
    /* Not a tunnel we follow (keepalive, CDP, unknown version): a GRE flow of its own. */
    pkt->payload = start;
    pkt->payload_len = start_len;
    return DR_NONE;
}

/* ---- L3 ---------------------------------------------------------------------------- */

/* Resets the fields an inner IP layer must not inherit from an outer one. */
static void reset_l3(packet_t *pkt)
{
    pkt->tcp_flags = 0;
    pkt->icmp_type = 0;
    pkt->icmp_code = 0;
    pkt->has_ports = 0;
    pkt->src_port = 0;
    pkt->dst_port = 0;
    pkt->is_fragment = 0;
    pkt->first_fragment = 1;
    pkt->frag_id = 0;
    pkt->tcp_seq = 0;
    pkt->tcp_ack = 0;
    pkt->payload = NULL;
    pkt->payload_len = 0;
}

/* Transport (or tunnel) after an IP header; `c` spans the IP payload. */
static dr_t decode_l4(dctx_t *d, cursor_t *c, uint8_t proto)
{
    packet_t *pkt = d->pkt;
    dr_t r;

    switch (proto) {
    case IPPROTO_NUM_TCP:
        return decode_tcp(d, c);
    case IPPROTO_NUM_UDP:
        return decode_udp(d, c);
    case IPPROTO_NUM_ICMP:
    case IPPROTO_NUM_ICMPV6:
        return decode_icmp(d, c);
    case IPPROTO_NUM_SCTP:
        return decode_sctp(d, c);
    case IPPROTO_NUM_GRE:
        if (!pkt->is_fragment) return decode_gre(d, c);
        break;
    case IPPROTO_NUM_IPIP:
    case IPPROTO_NUM_IPV6:
        if (!pkt->is_fragment) {
            r = enter_tunnel(d, TUNNEL_TYPE_IPIP, 0, true);
            if (r != DR_NONE) return r;
            return proto == IPPROTO_NUM_IPIP ? decode_ipv4(d, c) : decode_ipv6(d, c);
        }
        break;
    case IPPROTO_NUM_NONE:
        return DR_NONE;
    default:
        break;
    }
    pkt->payload = cursor_ptr(c);
    pkt->payload_len = (uint32_t)cursor_left(c);
    return DR_NONE;
}

/* IPv4 (RFC 791). Checks: length, version, IHL, total length; then narrows to it. */
static dr_t decode_ipv4(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    const uint8_t *l3 = cursor_ptr(c);
    size_t avail = cursor_left(c), hlen, ip_len;
    uint8_t vihl, tos, ttl, proto;
    uint16_t tot, id, frag, csum;
    uint8_t src[4], dst[4];
    cursor_t h = *c;

    /* length first: all 20 fixed bytes are read before any field is looked at */
    if (cursor_u8(&h, &vihl) || cursor_u8(&h, &tos) || cursor_be16(&h, &tot) ||
        cursor_be16(&h, &id) || cursor_be16(&h, &frag) || cursor_u8(&h, &ttl) ||
        cursor_u8(&h, &proto) || cursor_be16(&h, &csum) || cursor_bytes(&h, src, 4) ||
        cursor_bytes(&h, dst, 4))
        return DR_TRUNCATED_IPV4;
    if ((vihl >> 4) != 4) return DR_MALFORMED_IPV4;
    hlen = (size_t)(vihl & 0x0F) * 4;
    if (hlen < 20) return DR_MALFORMED_IPV4;
    if (hlen > avail) return DR_TRUNCATED_IPV4;
    if (tot == 0) {
        ip_len = avail; /* TSO / BIG TCP: the length field is not filled in */
        d->ip_len_from_capture = true;
    } else {
        if (tot < hlen) return DR_MALFORMED_IPV4;
        /* never more than the frame carried on the wire (a lying length field) */
        ip_len = tot <= avail + d->uncaptured ? tot : avail + d->uncaptured;
        d->ip_len_from_capture = false;
    }
    /* a shorter capture is snaplen truncation: go on with what is there; "whole" compares
     * the capture with the declared length, before any clipping to the wire */
    d->l3_whole = avail >= (tot ? (size_t)tot : avail) && !d->ip_len_from_capture;
    (void)cursor_narrow(c, ip_len);
    (void)cursor_skip(c, hlen);

    reset_l3(pkt);
    pkt->ip_version = 4;
    pkt->tos = tos;
    pkt->ttl = ttl;
    pkt->l4_proto = proto;
    memset(pkt->src_ip, 0, sizeof pkt->src_ip);
    memset(pkt->dst_ip, 0, sizeof pkt->dst_ip);
    memcpy(pkt->src_ip, src, 4);
    memcpy(pkt->dst_ip, dst, 4);
    pkt->ip_len = (uint32_t)ip_len;
    pkt->l3 = l3;
    pkt->l3_len = (uint32_t)(avail < ip_len ? avail : ip_len);
    if (frag & 0x3FFF) { /* MF or offset */
        pkt->is_fragment = 1;
        pkt->frag_id = id;
        if (frag & 0x1FFF) {
            pkt->first_fragment = 0;
            return DR_NONE; /* no transport header here */
        }
    }
    return decode_l4(d, c, proto);
}

/* IPv6 (RFC 8200) with extension headers (hop-by-hop, routing, fragment, destination
 * options, AH, mobility, HIP, shim6), capped at IPV6_MAX_EXT_HEADERS. */
static dr_t decode_ipv6(dctx_t *d, cursor_t *c)
{
    packet_t *pkt = d->pkt;
    const uint8_t *l3 = cursor_ptr(c);
    size_t avail = cursor_left(c), ip_len;
    uint32_t vtcfl;
    uint16_t plen;
    uint8_t nh, hlim;
    uint8_t src[16], dst[16];
    unsigned n;

    if (cursor_be32(c, &vtcfl) || cursor_be16(c, &plen) || cursor_u8(c, &nh) ||
        cursor_u8(c, &hlim) || cursor_bytes(c, src, 16) || cursor_bytes(c, dst, 16))
        return DR_TRUNCATED_IPV6;
    if ((vtcfl >> 28) != 6) return DR_MALFORMED_IPV6;
    if (plen == 0) {
        ip_len = avail; /* jumbogram or GSO: length from the capture */
        d->ip_len_from_capture = true;
    } else {
        ip_len = 40u + plen;
        if (ip_len > avail + d->uncaptured) /* a lying length field: clip to the wire */
            ip_len = avail + d->uncaptured > 40 ? avail + d->uncaptured : 40;
        d->ip_len_from_capture = false;
    }
    d->l3_whole = !d->ip_len_from_capture && avail >= 40u + plen;
    (void)cursor_narrow(c, ip_len - 40);

    reset_l3(pkt);
    pkt->ip_version = 6;
    pkt->tos = (uint8_t)(vtcfl >> 20);
    pkt->ttl = hlim;
    memcpy(pkt->src_ip, src, 16);
    memcpy(pkt->dst_ip, dst, 16);
    pkt->ip_len = (uint32_t)ip_len;
    pkt->l3 = l3;
    pkt->l3_len = (uint32_t)(avail < ip_len ? avail : ip_len);

    for (n = 0;; n++) {
        uint8_t next, len;
        uint16_t offm;
        uint32_t id;

        switch (nh) {
        case 0:   /* hop-by-hop */
        case 43:  /* routing */
        case 60:  /* destination options */
        case 135: /* mobility */
        case 139: /* HIP */
        case 140: /* shim6 */
            if (n >= IPV6_MAX_EXT_HEADERS) return DR_MALFORMED_IPV6;
            if (cursor_u8(c, &next) || cursor_u8(c, &len) || cursor_skip(c, (size_t)len * 8 + 6))
                return short_header(d, DR_TRUNCATED_IPV6_EXT, DR_MALFORMED_IPV6);
            nh = next;
            continue;
        case 51: /* AH: length in 4-byte units minus 2 */
            if (n >= IPV6_MAX_EXT_HEADERS) return DR_MALFORMED_IPV6;
            if (cursor_u8(c, &next) || cursor_u8(c, &len) || cursor_skip(c, (size_t)len * 4 + 6))
                return short_header(d, DR_TRUNCATED_IPV6_EXT, DR_MALFORMED_IPV6);
            nh = next;
            continue;
        case 44: /* fragment */
            if (n >= IPV6_MAX_EXT_HEADERS) return DR_MALFORMED_IPV6;
            if (cursor_u8(c, &next) || cursor_skip(c, 1) || cursor_be16(c, &offm) ||
                cursor_be32(c, &id))
                return short_header(d, DR_TRUNCATED_IPV6_EXT, DR_MALFORMED_IPV6);
            nh = next;
            if ((offm & 0xFFF9) != 0) { /* offset or M set; else an atomic fragment */
                pkt->is_fragment = 1;
                pkt->frag_id = id;
                if (offm >> 3) {
                    pkt->first_fragment = 0;
                    pkt->l4_proto = nh;
                    return DR_NONE;
                }
            }
            continue;
        default:
            break;
        }
        break;
    }
    pkt->l4_proto = nh;
    return decode_l4(d, c, nh);
}

/* ---- entry points ------------------------------------------------------------------- */

static dr_t decode_link(dctx_t *d, cursor_t *c, int linktype)
{
    switch (linktype) {
    case LT_EN10MB:
        return decode_ethernet(d, c);
    case LT_NULL:
    case LT_LOOP:
        return decode_null(d, c);
    case LT_RAW:
    case LT_RAW_OPENBSD:
    case LT_RAW_FILE:
        return decode_raw(d, c);
    case LT_IPV4:
        return decode_ipv4(d, c);
    case LT_IPV6:
        return decode_ipv6(d, c);
    case LT_LINUX_SLL:
        return decode_sll(d, c);
    case LT_LINUX_SLL2:
        return decode_sll2(d, c);
    default:
        return DR_UNSUPPORTED_LINKTYPE;
    }
}

static const packet_t zero_packet;

decode_result_t decode_packet(int linktype, const uint8_t *data, uint32_t caplen, uint32_t wire_len,
                              packet_t *pkt, decode_stats_t *stats)
{
    uint64_t ts_ns = pkt->ts_ns; /* the caller may have set it before the call */
    dctx_t d = {.pkt = pkt,
                .depth = 0,
                .ip_len_from_capture = false,
                .uncaptured = wire_len > caplen ? wire_len - caplen : 0};
    cursor_t c;
    dr_t r;

    /* a copy from a zero object compiles to vector stores; gcc emits a slow rep stos for
     * a memset of this size */
    memcpy(pkt, &zero_packet, sizeof *pkt);
    pkt->ts_ns = ts_ns;
    pkt->wire_len = wire_len;
    cursor_init(&c, data, caplen);
    r = decode_link(&d, &c, linktype);
    if (r == DR_NONE) return DECODE_OK;
    pkt->ip_version = 0; /* no flow */
    if (stats) stats->reasons[r]++;
    return r == DR_NOT_IP ? DECODE_NOT_IP : DECODE_ERROR;
}

static const char *const reason_names[DR_COUNT] = {
    [DR_NONE] = "none",
    [DR_UNSUPPORTED_LINKTYPE] = "unsupported_linktype",
    [DR_TRUNCATED_L2] = "truncated_l2",
    [DR_TRUNCATED_VLAN] = "truncated_vlan",
    [DR_TOO_MANY_VLAN] = "too_many_vlan",
    [DR_TRUNCATED_MPLS] = "truncated_mpls",
    [DR_TOO_MANY_MPLS] = "too_many_mpls",
    [DR_TRUNCATED_PPPOE] = "truncated_pppoe",
    [DR_MALFORMED_PPPOE] = "malformed_pppoe",
    [DR_TRUNCATED_IPV4] = "truncated_ipv4",
    [DR_MALFORMED_IPV4] = "malformed_ipv4",
    [DR_TRUNCATED_IPV6] = "truncated_ipv6",
    [DR_MALFORMED_IPV6] = "malformed_ipv6",
    [DR_TRUNCATED_IPV6_EXT] = "truncated_ipv6_ext",
    [DR_TRUNCATED_TCP] = "truncated_tcp",
    [DR_MALFORMED_TCP] = "malformed_tcp",
    [DR_TRUNCATED_UDP] = "truncated_udp",
    [DR_MALFORMED_UDP] = "malformed_udp",
    [DR_TRUNCATED_ICMP] = "truncated_icmp",
    [DR_TRUNCATED_SCTP] = "truncated_sctp",
    [DR_TRUNCATED_TUNNEL] = "truncated_tunnel",
    [DR_MALFORMED_TUNNEL] = "malformed_tunnel",
    [DR_TUNNEL_TOO_DEEP] = "tunnel_too_deep",
    [DR_NOT_IP] = "not_ip",
    [DR_MALFORMED_ICMP] = "malformed_icmp",
    [DR_MALFORMED_SCTP] = "malformed_sctp",
};

const char *decode_reason_name(decode_reason_t reason)
{
    if ((unsigned)reason >= DR_COUNT || !reason_names[reason]) return "unknown";
    return reason_names[reason];
}

int decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case LT_EN10MB:
    case LT_NULL:
    case LT_LOOP:
    case LT_RAW:
    case LT_RAW_OPENBSD:
    case LT_RAW_FILE:
    case LT_IPV4:
    case LT_IPV6:
    case LT_LINUX_SLL:
    case LT_LINUX_SLL2:
        return 1;
    default:
        return 0;
    }
}
