/* test_decode: every layer on hand-built frames (valid, malformed, cut at every byte), then
 * every packet of every capture in $ZFLOW_SHARED_DIR/pcaps. */
#include "check.h"
#include "decode.h"

#include <dirent.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- frame builder -------------------------------------------------------------------- */

typedef struct pb {
    uint8_t b[2048];
    size_t n;
    struct {
        size_t pos, base, sub;
    } fix[16];
    int nfix;
} pb_t;

static void put8(pb_t *p, unsigned v)
{
    if (p->n < sizeof p->b) p->b[p->n++] = (uint8_t)v;
}

static void put16(pb_t *p, unsigned v)
{
    put8(p, v >> 8);
    put8(p, v);
}

static void put32(pb_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p, v & 0xFFFF);
}

static void putn(pb_t *p, const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(p, v[i]);
}

static void zeros(pb_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(p, 0);
}

/* At finish, writes be16(final length - base - sub) at pos. */
static void fix_later(pb_t *p, size_t pos, size_t base, size_t sub)
{
    if (p->nfix < 16) {
        p->fix[p->nfix].pos = pos;
        p->fix[p->nfix].base = base;
        p->fix[p->nfix].sub = sub;
        p->nfix++;
    }
}

static void finish(pb_t *p)
{
    for (int i = 0; i < p->nfix; i++) {
        size_t v = p->n - p->fix[i].base - p->fix[i].sub;
        p->b[p->fix[i].pos] = (uint8_t)(v >> 8);
        p->b[p->fix[i].pos + 1] = (uint8_t)v;
    }
    p->nfix = 0;
}

static const uint8_t MAC_D[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t MAC_S[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t MAC_X[6] = {0x22, 0x33, 0, 0, 0, 0x0A};
static const uint8_t A4[4] = {10, 0, 0, 1};
static const uint8_t B4[4] = {10, 0, 0, 2};
static const uint8_t O4A[4] = {192, 168, 1, 1};
static const uint8_t O4B[4] = {192, 168, 1, 2};
static const uint8_t A6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t B6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
static const uint8_t O6A[16] = {0xfd, 0, [15] = 0xA};
static const uint8_t O6B[16] = {0xfd, 0, [15] = 0xB};

static void eth_macs(pb_t *p, const uint8_t *dst, const uint8_t *src, unsigned type)
{
    putn(p, dst, 6);
    putn(p, src, 6);
    put16(p, type);
}

static void eth(pb_t *p, unsigned type)
{
    eth_macs(p, MAC_D, MAC_S, type);
}

static void vlan(pb_t *p, unsigned tci, unsigned next)
{
    put16(p, tci);
    put16(p, next);
}

static void mpls(pb_t *p, uint32_t label, bool bos)
{
    put32(p, label << 12 | (bos ? 0x100u : 0) | 64);
}

static void ipv4_full(pb_t *p, unsigned proto, const uint8_t *src, const uint8_t *dst, unsigned ihl,
                      unsigned frag, unsigned id)
{
    size_t off = p->n;
    put8(p, 0x40 | ihl);
    put8(p, 0x10); /* tos */
    put16(p, 0);   /* total length: fixed at finish */
    put16(p, id);
    put16(p, frag);
    put8(p, 64); /* ttl */
    put8(p, proto);
    put16(p, 0); /* checksum (not checked) */
    putn(p, src, 4);
    putn(p, dst, 4);
    for (unsigned i = 5; i < ihl; i++)
        put32(p, 0x01010101); /* NOP options */
    fix_later(p, off + 2, off, 0);
}

static void ipv4(pb_t *p, unsigned proto, const uint8_t *src, const uint8_t *dst)
{
    ipv4_full(p, proto, src, dst, 5, 0x4000, 0x1234);
}

static void ipv6(pb_t *p, unsigned nh, const uint8_t *src, const uint8_t *dst)
{
    size_t off = p->n;
    put32(p, 0x6 << 28 | 0x20 << 20 | 0x12345);
    put16(p, 0);
    put8(p, nh);
    put8(p, 33); /* hop limit */
    putn(p, src, 16);
    putn(p, dst, 16);
    fix_later(p, off + 4, off, 40);
}

/* Generic IPv6 extension header (hop-by-hop, routing, destination options). */
static void ext6(pb_t *p, unsigned nh, unsigned len8)
{
    put8(p, nh);
    put8(p, len8);
    zeros(p, len8 * 8 + 6);
}

static void frag6(pb_t *p, unsigned nh, unsigned offset8, bool more, uint32_t id)
{
    put8(p, nh);
    put8(p, 0);
    put16(p, offset8 << 3 | (more ? 1u : 0));
    put32(p, id);
}

static void tcp(pb_t *p, unsigned sport, unsigned dport, unsigned flags, unsigned optwords)
{
    put16(p, sport);
    put16(p, dport);
    put32(p, 0x11223344);
    put32(p, 0x55667788);
    put8(p, (5 + optwords) << 4);
    put8(p, flags);
    put16(p, 65535);
    put16(p, 0);
    put16(p, 0);
    for (unsigned i = 0; i < optwords; i++)
        put32(p, 0x01010101);
}

static void udp(pb_t *p, unsigned sport, unsigned dport)
{
    size_t off = p->n;
    put16(p, sport);
    put16(p, dport);
    put16(p, 0);
    put16(p, 0);
    fix_later(p, off + 4, off, 0);
}

static void icmp(pb_t *p, unsigned type, unsigned code)
{
    put8(p, type);
    put8(p, code);
    put16(p, 0);
    put32(p, 0x00010002);
}

static void payload(pb_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put8(p, (unsigned)(0xA0 + i));
}

/* ---- decoding helpers ----------------------------------------------------------------- */

/* Decodes an exact-size heap copy (so ASan flags any read past caplen); returns the result
 * and the single reason counted (DR_NONE when OK). Checks exactly one counter moved. */
static decode_result_t run_wire(int lt, const uint8_t *b, size_t n, size_t wire, packet_t *pkt,
                                decode_reason_t *reason)
{
    decode_stats_t st;
    uint8_t *m = malloc(n ? n : 1);
    decode_result_t r;
    uint64_t total = 0;
    int which = DR_NONE;

    memset(&st, 0, sizeof st);
    if (n) memcpy(m, b, n);
    r = decode_packet(lt, m, (uint32_t)n, (uint32_t)wire, pkt, &st);
    for (int i = 0; i < DR_COUNT; i++) {
        total += st.reasons[i];
        if (st.reasons[i]) which = i;
    }
    CHECK_EQ(total, r == DECODE_OK ? 0 : 1);
    CHECK(which != DR_NONE || r == DECODE_OK);
    if (r != DECODE_OK) CHECK_EQ(pkt->ip_version, 0);
    /* pointers inside the packet must point into the frame; rebase them to `b` */
    if (pkt->l3) {
        CHECK(pkt->l3 >= m && pkt->l3 + pkt->l3_len <= m + n);
        pkt->l3 = b + (pkt->l3 - m);
    }
    if (pkt->payload) {
        CHECK(pkt->payload >= m && pkt->payload + pkt->payload_len <= m + n);
        pkt->payload = b + (pkt->payload - m);
    }
    free(m);
    if (reason) *reason = (decode_reason_t)which;
    return r;
}

/* A whole frame (wire length = captured length + a 4-byte FCS the capture left out). */
static decode_result_t run(int lt, const uint8_t *b, size_t n, packet_t *pkt,
                           decode_reason_t *reason)
{
    return run_wire(lt, b, n, n + 4, pkt, reason);
}

static decode_result_t run_pb(int lt, pb_t *p, packet_t *pkt, decode_reason_t *reason)
{
    finish(p);
    return run(lt, p->b, p->n, pkt, reason);
}

/* Expects DECODE_ERROR / DECODE_NOT_IP with a given reason. */
#define EXPECT_FAIL(lt, pbp, res, why)                                                             \
    do {                                                                                           \
        packet_t pkt_;                                                                             \
        decode_reason_t why_;                                                                      \
        CHECK_EQ(run_pb((lt), (pbp), &pkt_, &why_), (res));                                        \
        CHECK_STREQ(decode_reason_name(why_), decode_reason_name(why));                            \
    } while (0)

static bool is_truncated_reason(decode_reason_t r)
{
    switch (r) {
    case DR_TRUNCATED_L2:
    case DR_TRUNCATED_VLAN:
    case DR_TRUNCATED_MPLS:
    case DR_TRUNCATED_PPPOE:
    case DR_TRUNCATED_IPV4:
    case DR_TRUNCATED_IPV6:
    case DR_TRUNCATED_IPV6_EXT:
    case DR_TRUNCATED_TCP:
    case DR_TRUNCATED_UDP:
    case DR_TRUNCATED_ICMP:
    case DR_TRUNCATED_SCTP:
    case DR_TRUNCATED_TUNNEL:
        return true;
    default:
        return false;
    }
}

/* ---- table of valid frames: full decode checked against the expectation, then every
 * shorter capture. Decision for cut frames: a cut inside any header (L2, L3, L4, tunnel)
 * is DECODE_ERROR with a truncated_* reason (never malformed); a cut inside the payload is
 * DECODE_OK with the same key and a shorter payload; a cut inside a UDP tunnel header that
 * then does not validate falls back to the outer UDP flow (DECODE_OK, no tunnel). ------ */

typedef struct vec {
    const char *name;
    int lt;
    pb_t pb;
    size_t hdr_len;     /* shortest capture that decodes to the same key */
    size_t payload_off; /* where pkt.payload points */
    bool no_payload;    /* payload stays NULL (non-first fragment, no next header) */
    bool fallback;      /* cut in the UDP tunnel header: outer UDP flow */
    uint8_t ipv, proto, has_ports, tunnel, outer_ipv;
    const uint8_t *src, *dst, *osrc, *odst;
    uint16_t sport, dport, vlan_outer, vlan_inner;
    uint32_t tunnel_id;
    uint8_t is_fragment, first_fragment, has_macs;
} vec_t;

static void mark_payload(vec_t *v, size_t n)
{
    v->hdr_len = v->pb.n;
    v->payload_off = v->pb.n;
    payload(&v->pb, n);
}

static void key4(vec_t *v, unsigned proto, unsigned sport, unsigned dport)
{
    v->ipv = 4;
    v->src = A4;
    v->dst = B4;
    v->proto = (uint8_t)proto;
    v->sport = (uint16_t)sport;
    v->dport = (uint16_t)dport;
    v->has_ports = proto == 6 || proto == 17 || proto == 132;
}

static void key6(vec_t *v, unsigned proto, unsigned sport, unsigned dport)
{
    key4(v, proto, sport, dport);
    v->ipv = 6;
    v->src = A6;
    v->dst = B6;
}

static void outer4(vec_t *v, unsigned tunnel, uint32_t id)
{
    v->tunnel = (uint8_t)tunnel;
    v->tunnel_id = id;
    v->outer_ipv = 4;
    v->osrc = O4A;
    v->odst = O4B;
}

#define V(fn) static void fn(vec_t *v)

V(v_eth_tcp)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 40000, 80, 0x18, 0);
    mark_payload(v, 20);
    key4(v, 6, 40000, 80);
}

V(v_eth_tcp_opts)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4_full(&v->pb, 6, A4, B4, 8, 0, 7); /* 12 bytes of IP options */
    tcp(&v->pb, 1, 2, 0x02, 3);            /* 12 bytes of TCP options */
    mark_payload(v, 5);
    key4(v, 6, 1, 2);
}

V(v_vlan)
{
    v->lt = 1;
    eth(&v->pb, 0x8100);
    vlan(&v->pb, 0x2000 | 100, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 5353, 53);
    mark_payload(v, 12);
    key4(v, 17, 5353, 53);
    v->vlan_outer = 100;
}

V(v_qinq)
{
    v->lt = 1;
    eth(&v->pb, 0x88A8);
    vlan(&v->pb, 10, 0x8100);
    vlan(&v->pb, 20, 0x86DD);
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 443, 50000, 0x10, 0);
    mark_payload(v, 9);
    key6(v, 6, 443, 50000);
    v->vlan_outer = 10;
    v->vlan_inner = 20;
}

V(v_triple_vlan)
{
    v->lt = 1;
    eth(&v->pb, 0x9100);
    vlan(&v->pb, 0xE000 | 4094, 0x8100);
    vlan(&v->pb, 2, 0x8100);
    vlan(&v->pb, 3, 0x0800);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 1000, 2000, 0x11, 0);
    mark_payload(v, 3);
    key4(v, 6, 1000, 2000);
    v->vlan_outer = 4094;
    v->vlan_inner = 2;
}

V(v_mpls)
{
    v->lt = 1;
    eth(&v->pb, 0x8847);
    mpls(&v->pb, 18, false);
    mpls(&v->pb, 16, true);
    ipv4(&v->pb, 1, A4, B4);
    icmp(&v->pb, 8, 0);
    mark_payload(v, 16);
    key4(v, 1, 0, 0);
}

V(v_mpls_ipv6)
{
    v->lt = 1;
    eth(&v->pb, 0x8848);
    mpls(&v->pb, 1000, true);
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 1, 2);
    mark_payload(v, 4);
    key6(v, 17, 1, 2);
}

V(v_mpls_pw_cw)
{
    v->lt = 1;
    eth(&v->pb, 0x8847);
    mpls(&v->pb, 19, false);
    mpls(&v->pb, 16, true);
    put32(&v->pb, 0); /* control word */
    eth_macs(&v->pb, MAC_X, MAC_X, 0x8100);
    vlan(&v->pb, 1, 0x0800);
    ipv4(&v->pb, 1, A4, B4);
    icmp(&v->pb, 8, 0);
    mark_payload(v, 10);
    key4(v, 1, 0, 0);
    /* VLANs behind a pseudowire are not the capture's VLANs */
}

V(v_mpls_pw_nocw)
{
    v->lt = 1;
    eth(&v->pb, 0x8847);
    mpls(&v->pb, 77, true);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 7, 8);
    mark_payload(v, 10);
    key4(v, 17, 7, 8);
}

V(v_pppoe)
{
    size_t off;
    v->lt = 1;
    eth(&v->pb, 0x8864);
    off = v->pb.n;
    put8(&v->pb, 0x11);
    put8(&v->pb, 0);
    put16(&v->pb, 0x1234);
    put16(&v->pb, 0);
    fix_later(&v->pb, off + 4, off, 6);
    put16(&v->pb, 0x0021);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 3333, 80, 0x02, 0);
    mark_payload(v, 7);
    key4(v, 6, 3333, 80);
}

V(v_pppoe_ipv6_pfc)
{
    size_t off;
    v->lt = 1;
    eth(&v->pb, 0x8864);
    off = v->pb.n;
    put8(&v->pb, 0x11);
    put8(&v->pb, 0);
    put16(&v->pb, 1);
    put16(&v->pb, 0);
    fix_later(&v->pb, off + 4, off, 6);
    put8(&v->pb, 0x57); /* protocol field compressed to one byte */
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 546, 547);
    mark_payload(v, 7);
    key6(v, 17, 546, 547);
}

V(v_sll)
{
    v->lt = 113;
    put16(&v->pb, 0); /* to us */
    put16(&v->pb, 1); /* ARPHRD_ETHER */
    put16(&v->pb, 6);
    putn(&v->pb, MAC_S, 6);
    put16(&v->pb, 0);
    put16(&v->pb, 0x0800);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 5, 6, 0x10, 0);
    mark_payload(v, 8);
    key4(v, 6, 5, 6);
}

V(v_sll_vlan)
{
    v->lt = 113;
    put16(&v->pb, 4);
    put16(&v->pb, 1);
    put16(&v->pb, 6);
    putn(&v->pb, MAC_S, 6);
    put16(&v->pb, 0);
    put16(&v->pb, 0x8100);
    vlan(&v->pb, 42, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 5, 6);
    mark_payload(v, 8);
    key4(v, 17, 5, 6);
    v->vlan_outer = 42;
}

V(v_sll2)
{
    v->lt = 276;
    put16(&v->pb, 0x86DD);
    put16(&v->pb, 0);
    put32(&v->pb, 3); /* ifindex */
    put16(&v->pb, 1);
    put8(&v->pb, 0);
    put8(&v->pb, 6);
    putn(&v->pb, MAC_S, 6);
    zeros(&v->pb, 2);
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 22, 60000, 0x18, 0);
    mark_payload(v, 30);
    key6(v, 6, 22, 60000);
}

V(v_null_le)
{
    v->lt = 0;
    put32(&v->pb, 0x02000000); /* AF_INET, little-endian writer */
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 4222, 50001, 0x18, 0);
    mark_payload(v, 12);
    key4(v, 6, 4222, 50001);
}

V(v_null_be)
{
    v->lt = 0;
    put32(&v->pb, 2); /* AF_INET, big-endian writer */
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 1, 2);
    mark_payload(v, 1);
    key4(v, 17, 1, 2);
}

V(v_loop_ipv6)
{
    v->lt = 108;
    put32(&v->pb, 30); /* AF_INET6 (Darwin), network order */
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 1);
    key6(v, 6, 1, 2);
}

V(v_null_ipv6_le24)
{
    v->lt = 0;
    put32(&v->pb, 0x18000000); /* AF_INET6 (NetBSD/OpenBSD) = 24, little-endian */
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 1, 2);
    mark_payload(v, 1);
    key6(v, 17, 1, 2);
}

V(v_null_ipv6_28)
{
    v->lt = 0;
    put32(&v->pb, 0x1C000000); /* AF_INET6 (FreeBSD) = 28 */
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 1, 2);
    mark_payload(v, 1);
    key6(v, 17, 1, 2);
}

V(v_raw12)
{
    v->lt = 12;
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 8612, 8612);
    mark_payload(v, 6);
    key4(v, 17, 8612, 8612);
}

V(v_raw101_v6)
{
    v->lt = 101;
    ipv6(&v->pb, 58, A6, B6);
    icmp(&v->pb, 128, 0);
    mark_payload(v, 6);
    key6(v, 58, 0, 0);
}

V(v_raw14)
{
    v->lt = 14;
    ipv4(&v->pb, 132, A4, B4);
    put16(&v->pb, 2905);
    put16(&v->pb, 2906);
    put32(&v->pb, 1);
    put32(&v->pb, 0);
    mark_payload(v, 16);
    key4(v, 132, 2905, 2906);
}

V(v_ipv4_lt)
{
    v->lt = 228;
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 1);
    key4(v, 6, 1, 2);
}

V(v_ipv6_lt)
{
    v->lt = 229;
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 1);
    key6(v, 6, 1, 2);
}

V(v_ipv4_first_frag)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4_full(&v->pb, 17, A4, B4, 5, 0x2000, 0xBEEF); /* MF, offset 0 */
    udp(&v->pb, 53, 33333);
    mark_payload(v, 40);
    key4(v, 17, 53, 33333);
    v->is_fragment = 1;
}

V(v_ipv4_later_frag)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4_full(&v->pb, 17, A4, B4, 5, 185, 0xBEEF); /* offset 1480, last */
    mark_payload(v, 40);
    key4(v, 17, 0, 0);
    v->has_ports = 0;
    v->no_payload = true;
    v->is_fragment = 1;
    v->first_fragment = 0;
}

V(v_ipv6_ext)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 0, A6, B6);
    ext6(&v->pb, 60, 0); /* hop-by-hop (8 bytes), next: destination options */
    ext6(&v->pb, 43, 1); /* destination options (16 bytes), next: routing */
    ext6(&v->pb, 51, 2); /* routing (24 bytes), next: AH */
    put8(&v->pb, 6);     /* AH, next: TCP */
    put8(&v->pb, 4);     /* (4 + 2) * 4 = 24 bytes */
    zeros(&v->pb, 22);
    tcp(&v->pb, 8080, 1234, 0x12, 1);
    mark_payload(v, 11);
    key6(v, 6, 8080, 1234);
}

V(v_ipv6_first_frag)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 44, A6, B6);
    frag6(&v->pb, 17, 0, true, 0xCAFEBABE);
    udp(&v->pb, 53, 5353);
    mark_payload(v, 20);
    key6(v, 17, 53, 5353);
    v->is_fragment = 1;
}

V(v_ipv6_later_frag)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 0, A6, B6);
    ext6(&v->pb, 44, 0);
    frag6(&v->pb, 17, 181, false, 0xCAFEBABE);
    mark_payload(v, 20);
    key6(v, 17, 0, 0);
    v->has_ports = 0;
    v->no_payload = true;
    v->is_fragment = 1;
    v->first_fragment = 0;
}

V(v_ipv6_atomic_frag)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 44, A6, B6);
    frag6(&v->pb, 6, 0, false, 77);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 2);
    key6(v, 6, 1, 2);
}

V(v_ipv6_nonext)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 60, A6, B6);
    ext6(&v->pb, 59, 0);
    v->hdr_len = v->pb.n;
    v->payload_off = v->pb.n;
    payload(&v->pb, 4); /* bytes after "no next header" are ignored */
    key6(v, 59, 0, 0);
    v->no_payload = true;
}

V(v_icmp)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 1, A4, B4);
    icmp(&v->pb, 3, 3);
    mark_payload(v, 28);
    key4(v, 1, 0, 0);
}

V(v_icmpv6)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 58, A6, B6);
    icmp(&v->pb, 135, 0);
    mark_payload(v, 16);
    key6(v, 58, 0, 0);
}

V(v_sctp)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 132, A4, B4);
    put16(&v->pb, 36412);
    put16(&v->pb, 2905);
    put32(&v->pb, 0xDEADBEEF);
    put32(&v->pb, 0);
    mark_payload(v, 16);
    key4(v, 132, 36412, 2905);
}

V(v_esp)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 50, A4, B4);
    mark_payload(v, 24);
    key4(v, 50, 0, 0);
}

V(v_snap)
{
    v->lt = 1;
    eth(&v->pb, 0); /* 802.3 length, fixed below */
    fix_later(&v->pb, 12, 14, 0);
    put8(&v->pb, 0xAA);
    put8(&v->pb, 0xAA);
    put8(&v->pb, 0x03);
    put8(&v->pb, 0);
    put16(&v->pb, 0);
    put16(&v->pb, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 1, 2);
    mark_payload(v, 2);
    key4(v, 17, 1, 2);
}

/* GRE with checksum, key and sequence number around IPv4. */
V(v_gre_key)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0xB000);
    put16(&v->pb, 0x0800);
    put32(&v->pb, 0);    /* checksum + reserved */
    put32(&v->pb, 0x28); /* key */
    put32(&v->pb, 99);   /* sequence */
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 22, 50000, 0x18, 0);
    mark_payload(v, 20);
    key4(v, 6, 22, 50000);
    outer4(v, TUNNEL_TYPE_GRE, 0x28);
}

V(v_gre_ipv6_outer6)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 47, O6A, O6B);
    put16(&v->pb, 0);
    put16(&v->pb, 0x86DD);
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 123, 123);
    mark_payload(v, 48);
    key6(v, 17, 123, 123);
    v->tunnel = TUNNEL_TYPE_GRE;
    v->outer_ipv = 6;
    v->osrc = O6A;
    v->odst = O6B;
}

V(v_gre_teb)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0x2000);
    put16(&v->pb, 0x6558);
    put32(&v->pb, 7);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 67, 68);
    mark_payload(v, 30);
    key4(v, 17, 67, 68);
    outer4(v, TUNNEL_TYPE_GRE, 7);
}

V(v_gre_plain)
{
    size_t gre;
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, A4, B4);
    gre = v->pb.n;
    put16(&v->pb, 0x2000);
    put16(&v->pb, 0x2000); /* CDP: not followed */
    put32(&v->pb, 0x28);
    v->hdr_len = v->pb.n;
    v->payload_off = gre;
    payload(&v->pb, 20);
    key4(v, 47, 0, 0);
}

V(v_gre_cmd)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0x2000);
    put16(&v->pb, 0x8909);
    put32(&v->pb, 0x28);
    put16(&v->pb, 0x0800); /* Cisco metadata: next protocol first inside GRE */
    put16(&v->pb, 0x0101);
    put16(&v->pb, 0x0001);
    put16(&v->pb, 0x0000);
    ipv4(&v->pb, 1, A4, B4);
    icmp(&v->pb, 0, 0);
    mark_payload(v, 4);
    key4(v, 1, 0, 0);
    outer4(v, TUNNEL_TYPE_GRE, 0x28);
}

V(v_pptp)
{
    size_t plen;
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0x3081); /* K, S, A, version 1 */
    put16(&v->pb, 0x880B);
    plen = v->pb.n;
    put16(&v->pb, 0);
    put16(&v->pb, 0x4242); /* call id */
    put32(&v->pb, 5);
    put32(&v->pb, 4);
    fix_later(&v->pb, plen, v->pb.n, 0);
    put16(&v->pb, 0xFF03);
    put16(&v->pb, 0x0021);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 1723, 1024, 0x10, 0);
    mark_payload(v, 10);
    key4(v, 6, 1723, 1024);
    outer4(v, TUNNEL_TYPE_GRE, 0x4242);
}

V(v_erspan2)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0x1000);
    put16(&v->pb, 0x88BE);
    put32(&v->pb, 1796);
    put16(&v->pb, 0x1000 | 5);     /* version 1, vlan 5 */
    put16(&v->pb, 0x0800 | 0x155); /* en, session 0x155 */
    put32(&v->pb, 0);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 80, 1025, 0x11, 0);
    mark_payload(v, 3);
    key4(v, 6, 80, 1025);
    outer4(v, TUNNEL_TYPE_ERSPAN, 0x155);
}

V(v_erspan1)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0);
    put16(&v->pb, 0x88BE);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 9, 10);
    mark_payload(v, 3);
    key4(v, 17, 9, 10);
    outer4(v, TUNNEL_TYPE_ERSPAN, 0);
}

V(v_erspan3)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 47, O4A, O4B);
    put16(&v->pb, 0x1000);
    put16(&v->pb, 0x22EB);
    put32(&v->pb, 1);
    put16(&v->pb, 0x2000 | 9); /* version 2 */
    put16(&v->pb, 0x3FF);      /* session 1023 */
    put32(&v->pb, 0x12345678); /* timestamp */
    put16(&v->pb, 0);          /* SGT */
    put16(&v->pb, 0x0001);     /* FT 0 (Ethernet), O set */
    put32(&v->pb, 0);          /* platform-specific subheader */
    put32(&v->pb, 0);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x86DD);
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 443, 9999, 0x10, 0);
    mark_payload(v, 3);
    key6(v, 6, 443, 9999);
    outer4(v, TUNNEL_TYPE_ERSPAN, 1023);
}

V(v_vxlan)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 36286, 4789);
    put32(&v->pb, 0x08000000);
    put32(&v->pb, 0x00ABCD00); /* VNI 0xABCD */
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 1, 443, 0x18, 0);
    mark_payload(v, 30);
    key4(v, 6, 1, 443);
    outer4(v, TUNNEL_TYPE_VXLAN, 0xABCD);
    v->fallback = true;
}

V(v_geneve)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 50901, 6081);
    put16(&v->pb, 0x0200); /* version 0, 2 words of options */
    put16(&v->pb, 0x6558);
    put32(&v->pb, 0x00123400); /* VNI 0x1234 */
    put32(&v->pb, 0x00000001);
    put32(&v->pb, 0x0000000A);
    eth_macs(&v->pb, MAC_X, MAC_X, 0x0800);
    ipv4(&v->pb, 1, A4, B4);
    icmp(&v->pb, 8, 0);
    mark_payload(v, 56);
    key4(v, 1, 0, 0);
    outer4(v, TUNNEL_TYPE_GENEVE, 0x1234);
    v->fallback = true;
}

V(v_geneve_ip)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 1, 6081);
    put16(&v->pb, 0x0000);
    put16(&v->pb, 0x86DD);
    put32(&v->pb, 0x00000500);
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 53, 53);
    mark_payload(v, 30);
    key6(v, 17, 53, 53);
    outer4(v, TUNNEL_TYPE_GENEVE, 5);
    v->fallback = true;
}

V(v_gtpu)
{
    size_t g;
    v->lt = 1;
    eth(&v->pb, 0x8100);
    vlan(&v->pb, 3233, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 2152, 2152);
    g = v->pb.n;
    put8(&v->pb, 0x30);
    put8(&v->pb, 0xFF);
    put16(&v->pb, 0);
    fix_later(&v->pb, g + 2, g, 8);
    put32(&v->pb, 0x12808FB8);
    ipv6(&v->pb, 17, A6, B6);
    udp(&v->pb, 4500, 4500);
    mark_payload(v, 20);
    key6(v, 17, 4500, 4500);
    outer4(v, TUNNEL_TYPE_GTPU, 0x12808FB8);
    v->vlan_outer = 3233;
    v->fallback = true;
}

V(v_gtpu_ext)
{
    size_t g;
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 40000, 2152);
    g = v->pb.n;
    put8(&v->pb, 0x36); /* E and S */
    put8(&v->pb, 0xFF);
    put16(&v->pb, 0);
    fix_later(&v->pb, g + 2, g, 8);
    put32(&v->pb, 7);
    put16(&v->pb, 1);   /* sequence */
    put8(&v->pb, 0);    /* N-PDU */
    put8(&v->pb, 0x85); /* PDU session container follows */
    put8(&v->pb, 1);    /* 4 bytes */
    put8(&v->pb, 0x10);
    put8(&v->pb, 0x09);
    put8(&v->pb, 0); /* no more extension headers */
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 80, 8080, 0x10, 0);
    mark_payload(v, 5);
    key4(v, 6, 80, 8080);
    outer4(v, TUNNEL_TYPE_GTPU, 7);
    v->fallback = true;
}

V(v_ipip)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 4, O4A, O4B);
    ipv4(&v->pb, 17, A4, B4);
    udp(&v->pb, 1, 2);
    mark_payload(v, 5);
    key4(v, 17, 1, 2);
    outer4(v, TUNNEL_TYPE_IPIP, 0);
}

V(v_6in4)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 41, O4A, O4B);
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 5);
    key6(v, 6, 1, 2);
    outer4(v, TUNNEL_TYPE_IPIP, 0);
}

V(v_4in6)
{
    v->lt = 1;
    eth(&v->pb, 0x86DD);
    ipv6(&v->pb, 4, O6A, O6B);
    ipv4(&v->pb, 6, A4, B4);
    tcp(&v->pb, 1, 2, 0x02, 0);
    mark_payload(v, 5);
    key4(v, 6, 1, 2);
    v->tunnel = TUNNEL_TYPE_IPIP;
    v->outer_ipv = 6;
    v->osrc = O6A;
    v->odst = O6B;
}

V(v_teredo)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 51812, 3544);
    ipv6(&v->pb, 58, A6, B6);
    icmp(&v->pb, 133, 0);
    mark_payload(v, 8);
    key6(v, 58, 0, 0);
    outer4(v, TUNNEL_TYPE_TEREDO, 0);
    v->fallback = true;
}

V(v_teredo_origin_auth)
{
    v->lt = 1;
    eth(&v->pb, 0x0800);
    ipv4(&v->pb, 17, O4A, O4B);
    udp(&v->pb, 3544, 3797);
    put16(&v->pb, 0x0001); /* authentication: id len 2, auth len 3 */
    put8(&v->pb, 2);
    put8(&v->pb, 3);
    zeros(&v->pb, 5);
    zeros(&v->pb, 8);      /* nonce */
    put8(&v->pb, 0);       /* confirmation */
    put16(&v->pb, 0x0000); /* origin indication */
    put16(&v->pb, 0xF12A);
    put32(&v->pb, 0xB9C82815);
    ipv6(&v->pb, 6, A6, B6);
    tcp(&v->pb, 80, 1286, 0x12, 0);
    mark_payload(v, 8);
    key6(v, 6, 80, 1286);
    outer4(v, TUNNEL_TYPE_TEREDO, 0);
    v->fallback = true;
}

typedef void (*vec_fn)(vec_t *);

static const struct {
    const char *name;
    vec_fn fn;
} vectors[] = {
#define E(fn)                                                                                      \
    {                                                                                              \
#fn, fn                                                                                    \
    }
    E(v_eth_tcp),
    E(v_eth_tcp_opts),
    E(v_vlan),
    E(v_qinq),
    E(v_triple_vlan),
    E(v_mpls),
    E(v_mpls_ipv6),
    E(v_mpls_pw_cw),
    E(v_mpls_pw_nocw),
    E(v_pppoe),
    E(v_pppoe_ipv6_pfc),
    E(v_sll),
    E(v_sll_vlan),
    E(v_sll2),
    E(v_null_le),
    E(v_null_be),
    E(v_loop_ipv6),
    E(v_null_ipv6_le24),
    E(v_null_ipv6_28),
    E(v_raw12),
    E(v_raw101_v6),
    E(v_raw14),
    E(v_ipv4_lt),
    E(v_ipv6_lt),
    E(v_ipv4_first_frag),
    E(v_ipv4_later_frag),
    E(v_ipv6_ext),
    E(v_ipv6_first_frag),
    E(v_ipv6_later_frag),
    E(v_ipv6_atomic_frag),
    E(v_ipv6_nonext),
    E(v_icmp),
    E(v_icmpv6),
    E(v_sctp),
    E(v_esp),
    E(v_snap),
    E(v_gre_key),
    E(v_gre_ipv6_outer6),
    E(v_gre_teb),
    E(v_gre_plain),
    E(v_gre_cmd),
    E(v_pptp),
    E(v_erspan2),
    E(v_erspan1),
    E(v_erspan3),
    E(v_vxlan),
    E(v_geneve),
    E(v_geneve_ip),
    E(v_gtpu),
    E(v_gtpu_ext),
    E(v_ipip),
    E(v_6in4),
    E(v_4in6),
    E(v_teredo),
    E(v_teredo_origin_auth),
#undef E
};

static void build(vec_t *v, size_t i)
{
    memset(v, 0, sizeof *v);
    v->name = vectors[i].name;
    v->first_fragment = 1;
    v->has_macs = 1;
    vectors[i].fn(v);
    if (v->lt != 1) v->has_macs = 0;
    finish(&v->pb);
}

static void check_addr(const uint8_t *got, const uint8_t *want, unsigned ipv, const char *name,
                       const char *what)
{
    uint8_t w[16] = {0};
    if (want) memcpy(w, want, ipv == 6 ? 16 : 4);
    if (memcmp(got, w, 16) != 0) {
        check_failed++;
        fprintf(stderr, "%s: %s address differs\n", name, what);
    } else {
        check_passed++;
    }
}

static void check_full(const vec_t *v, const packet_t *p)
{
    CHECK_EQ(p->ip_version, v->ipv);
    CHECK_EQ(p->l4_proto, v->proto);
    CHECK_EQ(p->has_ports, v->has_ports);
    CHECK_EQ(p->src_port, v->sport);
    CHECK_EQ(p->dst_port, v->dport);
    check_addr(p->src_ip, v->src, v->ipv, v->name, "src");
    check_addr(p->dst_ip, v->dst, v->ipv, v->name, "dst");
    CHECK_EQ(p->tunnel_type, v->tunnel);
    CHECK_EQ(p->tunnel_id, v->tunnel_id);
    CHECK_EQ(p->outer_ip_version, v->outer_ipv);
    check_addr(p->outer_src_ip, v->osrc, v->outer_ipv, v->name, "outer src");
    check_addr(p->outer_dst_ip, v->odst, v->outer_ipv, v->name, "outer dst");
    CHECK_EQ(p->vlan_outer, v->vlan_outer);
    CHECK_EQ(p->vlan_inner, v->vlan_inner);
    CHECK_EQ(p->is_fragment, v->is_fragment);
    CHECK_EQ(p->first_fragment, v->first_fragment);
    CHECK_EQ(p->has_macs, v->has_macs);
    if (v->has_macs) {
        CHECK(memcmp(p->dst_mac, MAC_D, 6) == 0);
        CHECK(memcmp(p->src_mac, MAC_S, 6) == 0);
    }
    CHECK_EQ(p->wire_len, v->pb.n + 4);
    if (v->no_payload) {
        CHECK(p->payload == NULL);
        CHECK_EQ(p->payload_len, 0);
    } else {
        CHECK(p->payload == v->pb.b + v->payload_off);
        CHECK_EQ(p->payload_len, v->pb.n - v->payload_off);
    }
    /* l3 spans the innermost IP packet up to the end of the frame */
    CHECK(p->l3 != NULL);
    CHECK(p->l3 && (size_t)(p->l3 - v->pb.b) + p->l3_len == v->pb.n);
    CHECK_EQ(p->ip_len, p->l3_len);
    if (p->l3) CHECK_EQ(p->l3[0] >> 4, v->ipv);
}

/* Key equality without the IP length (a capture cut inside the headers). */
static bool same_key_no_len(const packet_t *a, const packet_t *b)
{
    return a->ip_version == b->ip_version && a->l4_proto == b->l4_proto &&
           a->has_ports && a->src_port == b->src_port && a->dst_port == b->dst_port &&
           memcmp(a->src_ip, b->src_ip, 16) == 0 && memcmp(a->dst_ip, b->dst_ip, 16) == 0;
}

/* Key equality between a decode of a cut frame and the full decode. */
static bool same_key(const packet_t *a, const packet_t *b)
{
    return a->ip_version == b->ip_version && a->l4_proto == b->l4_proto &&
           a->src_port == b->src_port && a->dst_port == b->dst_port &&
           memcmp(a->src_ip, b->src_ip, 16) == 0 && memcmp(a->dst_ip, b->dst_ip, 16) == 0 &&
           a->tunnel_type == b->tunnel_type && a->tunnel_id == b->tunnel_id &&
           a->ip_len == b->ip_len;
}

static void test_vectors(void)
{
    static vec_t v;

    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        packet_t full, cut;
        decode_reason_t why;
        int before = check_failed;

        build(&v, i);
        full.ts_ns = 1234567890123ULL;
        CHECK_EQ(run(v.lt, v.pb.b, v.pb.n, &full, &why), DECODE_OK);
        CHECK_EQ(full.ts_ns, 1234567890123ULL); /* preserved across the call */
        check_full(&v, &full);

        for (size_t n = 0; n < v.pb.n; n++) {
            /* snap-length truncation: the wire length stays that of the whole frame */
            decode_result_t r = run_wire(v.lt, v.pb.b, n, v.pb.n + 4, &cut, &why);

            CHECK(r == DECODE_OK || r == DECODE_ERROR);
            if (r == DECODE_ERROR) {
                if (!is_truncated_reason(why))
                    fprintf(stderr, "%s cut at %zu: reason %s\n", v.name, n,
                            decode_reason_name(why));
                CHECK(is_truncated_reason(why));
                CHECK(n < v.hdr_len);
            } else if (n >= v.hdr_len) {
                CHECK(same_key(&cut, &full));
                if (!v.no_payload) CHECK_EQ(cut.payload_len, n - v.payload_off);
                CHECK_EQ(cut.l3_len, n - (size_t)(full.l3 - v.pb.b));
            } else if (!v.fallback && same_key_no_len(&cut, &full)) {
                /* cut after the ports: TCP options or a first fragment's TCP header; the
                 * flow key is complete */
                CHECK(cut.l4_proto == 6 || cut.is_fragment);
            } else {
                /* only a UDP tunnel header may give way to the outer UDP flow */
                if (!v.fallback) fprintf(stderr, "%s cut at %zu: unexpected OK\n", v.name, n);
                CHECK(v.fallback);
                CHECK_EQ(cut.tunnel_type, TUNNEL_TYPE_NONE);
                CHECK_EQ(cut.l4_proto, 17);
                CHECK_EQ(cut.has_ports, 1);
            }
        }
        if (check_failed != before) fprintf(stderr, "  ^ in vector %s\n", v.name);
    }
}

/* ---- specific layers: details the table does not cover ------------------------------- */

static void test_tcp_fields(void)
{
    static vec_t v;
    packet_t p;

    build(&v, 0);
    CHECK_EQ(run(v.lt, v.pb.b, v.pb.n, &p, NULL), DECODE_OK);
    CHECK_EQ(p.tcp_seq, 0x11223344);
    CHECK_EQ(p.tcp_ack, 0x55667788);
    CHECK_EQ(p.tcp_flags, 0x18);
    CHECK_EQ(p.tos, 0x10);
    CHECK_EQ(p.ttl, 64);
    CHECK_EQ(p.ip_len, 60);
    CHECK(p.l3 == v.pb.b + 14);
    CHECK_EQ(p.l3_len, 60);
    CHECK_EQ(p.frag_id, 0);

    /* stats may be NULL */
    CHECK_EQ(decode_packet(1, v.pb.b, 10, 10, &p, NULL), DECODE_ERROR);
}

static void test_ipv6_fields(void)
{
    static vec_t v;
    packet_t p;

    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        if (vectors[i].fn != v_ipv6_first_frag) continue;
        build(&v, i);
        CHECK_EQ(run(v.lt, v.pb.b, v.pb.n, &p, NULL), DECODE_OK);
        CHECK_EQ(p.frag_id, 0xCAFEBABE);
        CHECK_EQ(p.tos, 0x20);
        CHECK_EQ(p.ttl, 33);
        CHECK_EQ(p.ip_len, 40 + 8 + 8 + 20);
    }
}

static void test_icmp_fields(void)
{
    pb_t p = {0};
    packet_t pkt;

    eth(&p, 0x0800);
    ipv4(&p, 1, A4, B4);
    icmp(&p, 11, 1);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.icmp_type, 11);
    CHECK_EQ(pkt.icmp_code, 1);
    CHECK_EQ(pkt.has_ports, 0);
    CHECK_EQ(pkt.src_port, 0);
    CHECK_EQ(pkt.tcp_flags, 0);
}

static void test_ipv4_lengths(void)
{
    pb_t p;
    packet_t pkt;

    /* Ethernet padding after a short IP packet: clipped to the total length */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    payload(&p, 2);
    finish(&p);
    zeros(&p, 14); /* pad to 60 */
    CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.ip_len, 30);
    CHECK_EQ(pkt.l3_len, 30);
    CHECK_EQ(pkt.payload_len, 2);

    /* snaplen: the total length says more than was captured */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 6, A4, B4);
    tcp(&p, 1, 2, 0x10, 0);
    payload(&p, 1000);
    finish(&p);
    CHECK_EQ(run_wire(1, p.b, 14 + 40 + 100, p.n + 4, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.ip_len, 1040);
    CHECK_EQ(pkt.l3_len, 140);
    CHECK_EQ(pkt.payload_len, 100);

    /* total length 0 (TSO / BIG TCP): the capture gives the length */
    p.b[14 + 2] = 0;
    p.b[14 + 3] = 0;
    CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.ip_len, 1040);
    CHECK_EQ(pkt.payload_len, 1000);

    /* UDP length shorter than the IP payload: payload clipped to it */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    payload(&p, 10);
    finish(&p);
    p.b[14 + 20 + 5] = 12;
    CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.payload_len, 4);

    /* IPv6 payload length 0 (jumbogram / GSO) with UDP length 0 */
    memset(&p, 0, sizeof p);
    eth(&p, 0x86DD);
    ipv6(&p, 17, A6, B6);
    udp(&p, 1, 2);
    payload(&p, 10);
    finish(&p);
    p.b[14 + 4] = 0;
    p.b[14 + 5] = 0;
    p.b[14 + 40 + 4] = 0;
    p.b[14 + 40 + 5] = 0;
    CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.ip_len, 58);
    CHECK_EQ(pkt.payload_len, 10);
}

static void test_malformed(void)
{
    pb_t p;
    packet_t q;

#define FRESH() memset(&p, 0, sizeof p)
    /* IPv4: bad version, IHL < 5, total < IHL*4, IHL*4 beyond the capture */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 6, A4, B4);
    tcp(&p, 1, 2, 0, 0);
    finish(&p);
    p.b[14] = 0x55;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV4);
    p.b[14] = 0x44;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV4);
    p.b[14] = 0x45;
    p.nfix = 0;
    p.b[16] = 0;
    p.b[17] = 19;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV4);
    p.b[14] = 0x4F; /* 60 bytes of header, 40 captured */
    p.b[17] = 40;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_IPV4);
    /* order: a short header is truncated before its version is looked at */
    p.b[14] = 0x65;
    p.n = 14 + 19;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_IPV4);
    /* raw IP with a version nibble of neither 4 nor 6 */
    FRESH();
    put8(&p, 0x50);
    zeros(&p, 39);
    EXPECT_FAIL(12, &p, DECODE_ERROR, DR_MALFORMED_IPV4);
    FRESH();
    ipv6(&p, 59, A6, B6);
    EXPECT_FAIL(228, &p, DECODE_ERROR, DR_MALFORMED_IPV4);
    FRESH();
    ipv4(&p, 59, A4, B4);
    zeros(&p, 20);
    EXPECT_FAIL(229, &p, DECODE_ERROR, DR_MALFORMED_IPV6);

    /* IPv6: too many extension headers, truncated extension */
    FRESH();
    eth(&p, 0x86DD);
    ipv6(&p, 60, A6, B6);
    for (int i = 0; i < 17; i++)
        ext6(&p, 60, 0);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV6);
    FRESH();
    eth(&p, 0x86DD);
    ipv6(&p, 0, A6, B6);
    put8(&p, 6);
    put8(&p, 4); /* says 40 bytes, 8 present in a whole packet: malformed */
    zeros(&p, 6);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV6);
    p.b[14 + 5] += 32; /* the IP length says more was sent: the capture was cut */
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_IPV6_EXT);

    /* TCP data offset < 5 */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 6, A4, B4);
    tcp(&p, 1, 2, 0, 0);
    p.b[14 + 20 + 12] = 0x40;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TCP);
    /* TCP options beyond a whole IP packet (malformed), beyond a cut capture (truncated) */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 6, A4, B4);
    tcp(&p, 1, 2, 0, 0);
    p.b[14 + 20 + 12] = 0xF0;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TCP);
    p.b[14 + 3] = 100;
    /* options cut by the capture: the fixed header is enough for the flow */
    CHECK_EQ(run_pb(1, &p, &q, NULL), DECODE_OK);
    CHECK_EQ(q.src_port, 1);
    CHECK_EQ(q.payload_len, 0);
    /* a length field claiming more than the frame carried is clipped to the wire */
    CHECK_EQ(q.ip_len, p.n - 14 + 4);
    /* a tiny first fragment whose TCP header is cut by the fragmentation itself */
    FRESH();
    eth(&p, 0x0800);
    ipv4_full(&p, 6, A4, B4, 5, 0x2000, 1);
    put32(&p, 0x00010002);
    put32(&p, 1);
    /* ... still names the ports, which its later fragments need */
    CHECK_EQ(run_pb(1, &p, &q, NULL), DECODE_OK);
    CHECK_EQ(q.has_ports, 1);
    CHECK_EQ(q.src_port, 1);
    CHECK_EQ(q.dst_port, 2);
    CHECK_EQ(q.is_fragment, 1);
    /* UDP header longer than a whole IP packet */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    put32(&p, 0x00010002);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_UDP);

    /* UDP length < 8 */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    payload(&p, 4);
    finish(&p);
    p.b[14 + 20 + 5] = 7;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_UDP);

    /* ICMP and SCTP cut short */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 1, A4, B4);
    put32(&p, 0x08000000);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_ICMP);
    p.b[14 + 3] = 40;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_ICMP);
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 132, A4, B4);
    put32(&p, 0x00010002);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_SCTP);
    p.b[14 + 3] = 40;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_SCTP);

    /* PPPoE: bad version/type, discovery code in a session frame, length shorter than the
     * protocol field */
    FRESH();
    eth(&p, 0x8864);
    put8(&p, 0x21);
    put8(&p, 0);
    put16(&p, 1);
    put16(&p, 22);
    put16(&p, 0x0021);
    ipv4(&p, 59, A4, B4);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_PPPOE);
    p.b[14] = 0x11;
    p.b[15] = 0x09;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_PPPOE);
    p.b[15] = 0;
    p.b[19] = 0;
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_PPPOE);
    p.b[19] = 22;
    p.nfix = 0;
    {
        packet_t pkt;
        CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    }

    /* ERSPAN II with a wrong version */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 47, O4A, O4B);
    put16(&p, 0x1000);
    put16(&p, 0x88BE);
    put32(&p, 1);
    put16(&p, 0x3000);
    put16(&p, 1);
    put32(&p, 0);
    eth(&p, 0x0800);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TUNNEL);

    /* GTP-U extension header of length 0 */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 17, O4A, O4B);
    udp(&p, 2152, 2152);
    put8(&p, 0x34);
    put8(&p, 0xFF);
    put16(&p, 12);
    put32(&p, 1);
    put32(&p, 0x00000085);
    put32(&p, 0x00000000);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TUNNEL);

    /* Geneve options longer than the packet */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 17, O4A, O4B);
    udp(&p, 1, 6081);
    put16(&p, 0x3F00);
    put16(&p, 0x6558);
    put32(&p, 0);
    zeros(&p, 8);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TUNNEL);

    /* GRE header cut */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 47, O4A, O4B);
    put16(&p, 0x2000);
    put16(&p, 0x0800);
    put16(&p, 0);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_TUNNEL);
    p.b[14 + 3] += 10; /* the IP length says more was sent */
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_TUNNEL);

    /* inner IPv4 of a validated VXLAN is malformed: the inner reason counts */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 17, O4A, O4B);
    udp(&p, 1, 4789);
    put32(&p, 0x08000000);
    put32(&p, 0x100);
    eth(&p, 0x0800);
    put8(&p, 0x43);
    zeros(&p, 30);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_MALFORMED_IPV4);

    /* inner IPv6 behind 6in4 is cut */
    FRESH();
    eth(&p, 0x0800);
    ipv4(&p, 41, O4A, O4B);
    put32(&p, 0x60000000);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TRUNCATED_IPV6);

    /* unsupported link type (NFLOG, IEEE 802.11) */
    FRESH();
    ipv4(&p, 6, A4, B4);
    tcp(&p, 1, 2, 0, 0);
    EXPECT_FAIL(239, &p, DECODE_ERROR, DR_UNSUPPORTED_LINKTYPE);
    EXPECT_FAIL(105, &p, DECODE_ERROR, DR_UNSUPPORTED_LINKTYPE);
#undef FRESH
}

static void test_limits(void)
{
    pb_t p;
    packet_t pkt;
    int i;

    /* VLAN: DECODE_MAX_VLAN tags fit, one more does not */
    memset(&p, 0, sizeof p);
    eth(&p, 0x8100);
    for (i = 0; i < DECODE_MAX_VLAN - 1; i++)
        vlan(&p, (unsigned)i + 1, 0x8100);
    vlan(&p, 99, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.vlan_outer, 1);
    CHECK_EQ(pkt.vlan_inner, 2);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8100);
    for (i = 0; i < DECODE_MAX_VLAN; i++)
        vlan(&p, (unsigned)i + 1, 0x8100);
    vlan(&p, 99, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TOO_MANY_VLAN);

    /* MPLS: DECODE_MAX_MPLS labels fit, one more does not */
    memset(&p, 0, sizeof p);
    eth(&p, 0x8847);
    for (i = 0; i < DECODE_MAX_MPLS; i++)
        mpls(&p, 16 + (uint32_t)i, i == DECODE_MAX_MPLS - 1);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8847);
    for (i = 0; i < DECODE_MAX_MPLS + 1; i++)
        mpls(&p, 16 + (uint32_t)i, i == DECODE_MAX_MPLS);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TOO_MANY_MPLS);

    /* tunnels: DECODE_MAX_TUNNEL_DEPTH nested IP-in-IP fit; the outermost is recorded */
    for (int depth = 1; depth <= DECODE_MAX_TUNNEL_DEPTH + 1; depth++) {
        memset(&p, 0, sizeof p);
        eth(&p, 0x0800);
        for (i = 0; i < depth; i++) {
            uint8_t a[4] = {172, 16, (uint8_t)i, 1}, b[4] = {172, 16, (uint8_t)i, 2};
            ipv4(&p, 4, a, b);
        }
        ipv4(&p, 17, A4, B4);
        udp(&p, 1, 2);
        if (depth <= DECODE_MAX_TUNNEL_DEPTH) {
            CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
            CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_IPIP);
            CHECK_EQ(pkt.outer_src_ip[2], 0);
            CHECK(memcmp(pkt.src_ip, A4, 4) == 0);
            CHECK_EQ(pkt.dst_port, 2);
        } else {
            EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TUNNEL_TOO_DEEP);
        }
    }

    /* nested UDP tunnels: VXLAN in VXLAN ... the cap is an error, not a UDP fallback */
    for (int depth = 1; depth <= DECODE_MAX_TUNNEL_DEPTH + 1; depth++) {
        memset(&p, 0, sizeof p);
        eth(&p, 0x0800);
        for (i = 0; i < depth; i++) {
            uint8_t a[4] = {172, 16, (uint8_t)i, 1}, b[4] = {172, 16, (uint8_t)i, 2};
            ipv4(&p, 17, a, b);
            udp(&p, 1000, 4789);
            put32(&p, 0x08000000);
            put32(&p, ((uint32_t)i + 1) << 8);
            eth(&p, 0x0800);
        }
        ipv4(&p, 6, A4, B4);
        tcp(&p, 1, 2, 0x02, 0);
        if (depth <= DECODE_MAX_TUNNEL_DEPTH) {
            CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
            CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_VXLAN);
            CHECK_EQ(pkt.tunnel_id, 1);
            CHECK_EQ(pkt.l4_proto, 6);
            CHECK_EQ(pkt.src_port, 1);
        } else {
            EXPECT_FAIL(1, &p, DECODE_ERROR, DR_TUNNEL_TOO_DEEP);
        }
    }

    /* mixed: GRE in GTP in IPv6 — outermost tunnel is GTP-U, outer endpoints IPv6 */
    memset(&p, 0, sizeof p);
    eth(&p, 0x86DD);
    ipv6(&p, 17, O6A, O6B);
    udp(&p, 2152, 2152);
    {
        size_t g = p.n;
        put8(&p, 0x30);
        put8(&p, 0xFF);
        put16(&p, 0);
        fix_later(&p, g + 2, g, 8);
        put32(&p, 0xABCDEF01);
    }
    ipv4(&p, 47, O4A, O4B);
    put16(&p, 0x2000);
    put16(&p, 0x0800);
    put32(&p, 5);
    ipv4(&p, 6, A4, B4);
    tcp(&p, 7, 8, 0x02, 0);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_GTPU);
    CHECK_EQ(pkt.tunnel_id, 0xABCDEF01);
    CHECK_EQ(pkt.outer_ip_version, 6);
    CHECK(memcmp(pkt.outer_src_ip, O6A, 16) == 0);
    CHECK_EQ(pkt.ip_version, 4);
    CHECK(memcmp(pkt.src_ip, A4, 4) == 0 && pkt.src_ip[4] == 0 && pkt.src_ip[15] == 0);
    CHECK_EQ(pkt.dst_port, 8);
}

/* Ports that look like tunnels but carry something else decode as plain UDP flows. */
static void test_udp_fallback(void)
{
    pb_t p;
    packet_t pkt;

    /* Teredo port with a DNS-looking payload */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 3544, 53);
    put32(&p, 0x12340100);
    zeros(&p, 40);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    CHECK_EQ(pkt.src_port, 3544);
    CHECK_EQ(pkt.payload_len, 44);

    /* Teredo port, an IPv6 header whose length disagrees with the UDP payload */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 40000, 3544);
    ipv6(&p, 59, A6, B6);
    payload(&p, 8);
    finish(&p);
    p.b[14 + 20 + 8 + 5] = 4; /* IPv6 payload length 4, 8 present */
    CHECK_EQ(run(1, p.b, p.n, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    CHECK_EQ(pkt.ip_version, 4);
    CHECK_EQ(pkt.dst_port, 3544);

    /* GTP port with an echo request (message type 1) */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 2152, 2152);
    put32(&p, 0x32010004);
    put32(&p, 0);
    put32(&p, 0x00010000);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    CHECK_EQ(pkt.src_port, 2152);

    /* GTP G-PDU whose payload is not IP */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 2152, 2152);
    put32(&p, 0x30FF0004);
    put32(&p, 1);
    put32(&p, 0x00112233);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);

    /* VXLAN port without the I flag */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 4789);
    put32(&p, 0);
    put32(&p, 0x100);
    eth(&p, 0x0800);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    CHECK_EQ(pkt.dst_port, 4789);

    /* Geneve port, version 1 / unknown protocol */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 6081);
    put32(&p, 0x40006558);
    put32(&p, 0);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 6081);
    put32(&p, 0x00008847);
    put32(&p, 0);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);

    /* a first fragment to the VXLAN port: not followed */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4_full(&p, 17, A4, B4, 5, 0x2000, 9);
    udp(&p, 1, 4789);
    put32(&p, 0x08000000);
    put32(&p, 0x100);
    eth(&p, 0x0800);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.tunnel_type, TUNNEL_TYPE_NONE);
    CHECK_EQ(pkt.is_fragment, 1);
    CHECK_EQ(pkt.frag_id, 9);
}

static void test_not_ip(void)
{
    pb_t p;
    packet_t pkt;

    memset(&p, 0, sizeof p);
    eth(&p, 0x0806); /* ARP */
    zeros(&p, 28);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8100);
    vlan(&p, 5, 0x88CC); /* LLDP */
    zeros(&p, 20);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    eth(&p, 38); /* 802.3 + LLC (STP) */
    put32(&p, 0x42420300);
    zeros(&p, 34);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8864); /* PPPoE LCP */
    put32(&p, 0x11000001);
    put16(&p, 6);
    put16(&p, 0xC021);
    put32(&p, 0x01010004);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8863); /* PPPoE discovery */
    zeros(&p, 20);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    put32(&p, 0x07000000); /* BSD loopback, unknown family */
    zeros(&p, 20);
    EXPECT_FAIL(0, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    eth(&p, 0x8847); /* MPLS with a pseudowire associated channel */
    mpls(&p, 16, true);
    put32(&p, 0x10000007);
    zeros(&p, 20);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    memset(&p, 0, sizeof p);
    put16(&p, 0); /* SLL carrying 802.2 LLC */
    put16(&p, 1);
    put16(&p, 6);
    zeros(&p, 8);
    put16(&p, 0x0004);
    zeros(&p, 20);
    EXPECT_FAIL(113, &p, DECODE_NOT_IP, DR_NOT_IP);
    /* VXLAN carrying ARP: the tunnel holds no IP */
    memset(&p, 0, sizeof p);
    eth(&p, 0x0800);
    ipv4(&p, 17, O4A, O4B);
    udp(&p, 40908, 4789);
    put32(&p, 0x08000000);
    put32(&p, 0x100);
    eth(&p, 0x0806);
    zeros(&p, 28);
    EXPECT_FAIL(1, &p, DECODE_NOT_IP, DR_NOT_IP);
    /* Cisco metadata on Ethernet, then IPv4 */
    memset(&p, 0, sizeof p);
    eth(&p, 0x8909);
    put32(&p, 0x01010001);
    put16(&p, 0x0010);
    put16(&p, 0x0800);
    ipv4(&p, 17, A4, B4);
    udp(&p, 1, 2);
    CHECK_EQ(run_pb(1, &p, &pkt, NULL), DECODE_OK);
    CHECK_EQ(pkt.dst_port, 2);
}

static void test_names(void)
{
    CHECK_STREQ(decode_reason_name(DR_TRUNCATED_IPV4), "truncated_ipv4");
    CHECK_STREQ(decode_reason_name(DR_NOT_IP), "not_ip");
    CHECK_STREQ(decode_reason_name(DR_MALFORMED_SCTP), "malformed_sctp");
    CHECK_STREQ(decode_reason_name(DR_COUNT), "unknown");
    CHECK_STREQ(decode_reason_name((decode_reason_t)-1), "unknown");
    for (int i = 0; i < DR_COUNT; i++) {
        const char *a = decode_reason_name((decode_reason_t)i);
        CHECK(a && strcmp(a, "unknown") != 0);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(a, decode_reason_name((decode_reason_t)j)) != 0);
    }
    static const int ok[] = {0, 1, 12, 14, 101, 108, 113, 228, 229, 276};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK_EQ(decode_linktype_supported(ok[i]), 1);
    CHECK_EQ(decode_linktype_supported(105), 0);
    CHECK_EQ(decode_linktype_supported(239), 0);
    CHECK_EQ(decode_linktype_supported(-1), 0);
}

/* Random frames and random single-byte mutations of the valid ones: no crash, exactly one
 * counter per failure (checked in run()). */
static void test_noise(void)
{
    static const int lts[] = {0, 1, 12, 101, 108, 113, 228, 229, 276};
    static vec_t v;
    uint32_t s = 12345;
    packet_t p;
    uint8_t buf[256];

#define RND() (s = s * 1103515245u + 12345u, (s >> 16) & 0x7FFF)
    for (int i = 0; i < 3000; i++) {
        size_t n = RND() % sizeof buf;
        for (size_t k = 0; k < n; k++)
            buf[k] = (uint8_t)RND();
        (void)run(lts[RND() % (sizeof lts / sizeof lts[0])], buf, n, &p, NULL);
    }
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        build(&v, i);
        for (int k = 0; k < 200; k++) {
            size_t at = RND() % v.pb.n;
            uint8_t old = v.pb.b[at];
            v.pb.b[at] = (uint8_t)RND();
            (void)run(v.lt, v.pb.b, v.pb.n, &p, NULL);
            v.pb.b[at] = old;
        }
    }
#undef RND
}

/* ---- real captures ---------------------------------------------------------------------- */

typedef struct cap_count {
    unsigned long total, ok, not_ip, error;
    unsigned long tunnel[8];
    unsigned long vlan_pkts, inner6;
    decode_stats_t st;
} cap_count_t;

static int decode_capture(const char *path, cap_count_t *cc, int *linktype)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(path, err);
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;

    memset(cc, 0, sizeof *cc);
    if (!pc) return -1;
    *linktype = pcap_datalink(pc);
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        packet_t pkt;
        decode_result_t r = decode_packet(*linktype, data, h->caplen, h->len, &pkt, &cc->st);
        cc->total++;
        if (r == DECODE_OK) {
            cc->ok++;
            if (pkt.tunnel_type < 8) cc->tunnel[pkt.tunnel_type]++;
            if (pkt.vlan_outer) cc->vlan_pkts++;
            if (pkt.ip_version == 6) cc->inner6++;
            if (pkt.ip_version != 4 && pkt.ip_version != 6) CHECK(0);
        } else if (r == DECODE_NOT_IP) {
            cc->not_ip++;
        } else {
            cc->error++;
        }
    }
    pcap_close(pc);
    return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Per-capture expectations checked against tshark's dissection of the same files. */
static void expect_capture(const char *name, const cap_count_t *cc)
{
    if (strcmp(name, "zeek__erspanII.pcap") == 0) {
        CHECK_EQ(cc->ok, 4);
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_ERSPAN], 4);
    } else if (strcmp(name, "zeek__tunnels_vxlan.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_VXLAN], 8);
        CHECK_EQ(cc->not_ip, 2); /* ARP inside VXLAN */
    } else if (strcmp(name, "ndpi__vxlan.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_VXLAN], 127);
    } else if (strcmp(name, "zeek__tunnels_geneve.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_GENEVE], 6);
    } else if (strcmp(name, "ndpi__ipv6_in_gtp.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_GTPU], 2);
        CHECK_EQ(cc->inner6, 2);
    } else if (strcmp(name, "ndpi__teredo.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_TEREDO], 24);
    } else if (strcmp(name, "zeek__tunnels_Teredo.pcap") == 0) {
        /* the packets to/from port 3544, and the relay traffic on other ports whose inner
         * IPv6 header uses the Teredo prefix 2001::/32 */
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_TEREDO], 29);
        CHECK_EQ(cc->ok, cc->total);
    } else if (strcmp(name, "ndpi__6in4tunnel.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_IPIP], 127);
    } else if (strcmp(name, "zeek__tunnels_gre-sample.pcap") == 0) {
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_GRE], 40);
    } else if (strcmp(name, "tcpdump__various_gre.pcap") == 0) {
        CHECK_EQ(cc->ok, 30); /* 28 GRE + 2 GRE/CDP as plain GRE; the rest is STP/CDP/DTP */
        CHECK_EQ(cc->tunnel[TUNNEL_TYPE_GRE], 20);
        CHECK_EQ(cc->not_ip, 70);
    } else if (strcmp(name, "zeek__vlan-qinqinq.pcap") == 0) {
        CHECK_EQ(cc->ok, 14);
        CHECK_EQ(cc->vlan_pkts, 14);
    } else if (strcmp(name, "tcpdump__802.1ad_QinQ.pcap") == 0) {
        CHECK_EQ(cc->not_ip, 2); /* ARP behind 802.1ad + 802.1Q */
    } else if (strcmp(name, "zeek__linux_dlt_sll2.pcap") == 0) {
        CHECK_EQ(cc->ok, 4);
        CHECK_EQ(cc->not_ip, 2); /* ARP, RARP */
    } else if (strcmp(name, "zeek__trunc_ip4-trunc.pcap") == 0) {
        CHECK_EQ(cc->st.reasons[DR_TRUNCATED_IPV4], 1);
    } else if (strcmp(name, "zeek__trunc_ip6-ext-trunc.pcap") == 0) {
        CHECK_EQ(cc->st.reasons[DR_TRUNCATED_IPV6_EXT], 1);
    } else if (strcmp(name, "zeek__tcp_truncated-header.pcap") == 0) {
        CHECK_EQ(cc->ok, 24); /* incl. the SYN whose options the snap length cut */
    } else if (strcmp(name, "zeek__mixed-vlan-mpls.pcap") == 0) {
        CHECK_EQ(cc->ok, 47);
        CHECK_EQ(cc->vlan_pkts, 14);
    } else if (strcmp(name, "tcpreplay__test.pcap") == 0) {
        CHECK_EQ(cc->ok, 176); /* all but ARP, IS-IS and the loopback frame */
        CHECK_EQ(cc->not_ip, 3);
    } else if (strcmp(name, "tcpdump__pppoes.pcap") == 0) {
        CHECK_EQ(cc->not_ip, 2); /* PPP LCP */
    } else if (strcmp(name, "zeek__communityid_arp.pcap") == 0) {
        CHECK_EQ(cc->ok, 0);
        CHECK_EQ(cc->not_ip, cc->total);
    } else if (strcmp(name, "ndpi__KakaoTalk_talk.pcap") == 0 ||
               strcmp(name, "ndpi__nats.pcap") == 0 || strcmp(name, "ndpi__bjnp.pcap") == 0 ||
               strcmp(name, "tcpdump__bigtcp-ipv4.pcap") == 0) {
        CHECK_EQ(cc->ok, cc->total);
    }
}

/* Captures with no IP flow (MANIFEST.md): ARP or PPP LCP only, a single deliberately
 * truncated packet, or a link type the decoder does not support (NFLOG). */
static bool capture_without_ip(const char *name, int linktype)
{
    static const char *const none[] = {"zeek__communityid_arp.pcap", "tcpdump__pppoes.pcap",
                                       "tcpdump__802.1ad_QinQ.pcap", "zeek__trunc_ip4-trunc.pcap",
                                       "zeek__trunc_ip6-ext-trunc.pcap"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        if (strcmp(name, none[i]) == 0) return true;
    return !decode_linktype_supported(linktype);
}

static void test_captures(void)
{
    const char *shared = getenv("ZFLOW_SHARED_DIR");
    char dir[4096], path[8192];
    struct dirent **list = NULL;
    int n, files = 0;
    unsigned long all = 0, all_ok = 0;

    if (!shared) {
        printf("ZFLOW_SHARED_DIR not set: capture test skipped\n");
        return;
    }
    snprintf(dir, sizeof dir, "%s/pcaps", shared);
    n = scandir(dir, &list, NULL, alphasort);
    CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        const char *name = list[i]->d_name;
        cap_count_t cc;
        unsigned long reasons = 0;
        int lt = -1;

        if (ends_with(name, ".pcap") || ends_with(name, ".pcapng")) {
            snprintf(path, sizeof path, "%s/%s", dir, name);
            CHECK_EQ(decode_capture(path, &cc, &lt), 0);
            for (int r = 0; r < DR_COUNT; r++)
                reasons += cc.st.reasons[r];
            CHECK_EQ(reasons, cc.total - cc.ok);
            CHECK_EQ(cc.st.reasons[DR_NOT_IP], cc.not_ip);
            if (!capture_without_ip(name, lt)) CHECK(cc.ok > 0);
            expect_capture(name, &cc);
            printf("%-58s lt=%-3d %7lu pkts %7lu ok %5lu not_ip %5lu err", name, lt, cc.total,
                   cc.ok, cc.not_ip, cc.error);
            for (int r = 1; r < DR_COUNT; r++)
                if (cc.st.reasons[r] && r != DR_NOT_IP)
                    printf(" %s=%lu", decode_reason_name((decode_reason_t)r),
                           (unsigned long)cc.st.reasons[r]);
            for (int t = 1; t < 8; t++)
                if (cc.tunnel[t]) printf(" tunnel%d=%lu", t, cc.tunnel[t]);
            printf("\n");
            files++;
            all += cc.total;
            all_ok += cc.ok;
        }
        free(list[i]);
    }
    free(list);
    CHECK(files > 50);
    printf("captures: %d files, %lu packets, %lu DECODE_OK\n", files, all, all_ok);
}

int main(void)
{
    test_vectors();
    test_tcp_fields();
    test_ipv6_fields();
    test_icmp_fields();
    test_ipv4_lengths();
    test_malformed();
    test_limits();
    test_udp_fallback();
    test_not_ip();
    test_names();
    test_noise();
    test_captures();
    return check_report();
}
