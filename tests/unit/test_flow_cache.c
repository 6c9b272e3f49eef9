/* test_flow_cache: direction, timeouts, TCP end, eviction, fragments and updates. */
#include "check.h"
#include "flow_cache.h"

#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ull
#define MAX_EVENTS 4096

typedef struct event {
    enum flow_event ev;
    enum end_reason reason;
    uint64_t id;
    uint8_t cli_last;        /* last byte of the client address */
    uint16_t cli_port, srv_port;
    uint64_t pkts[2], bytes[2];
    uint32_t retrans[2];
    uint32_t cli_rtt, srv_rtt;
} event_t;

static event_t events[MAX_EVENTS];
static int nevents;

static void on_flow(void *ctx, const flow_t *f, enum flow_event ev, enum end_reason reason)
{
    (void)ctx;
    if (nevents >= MAX_EVENTS)
        return;
    event_t *e = &events[nevents++];
    e->ev = ev;
    e->reason = reason;
    e->id = f->id;
    e->cli_last = f->key.cli_ip[3];
    e->cli_port = f->key.cli_port;
    e->srv_port = f->key.srv_port;
    memcpy(e->pkts, f->packets, sizeof e->pkts);
    memcpy(e->bytes, f->bytes, sizeof e->bytes);
    memcpy(e->retrans, f->retrans, sizeof e->retrans);
    e->cli_rtt = f->cli_rtt_us;
    e->srv_rtt = f->srv_rtt_us;
}

static int count(enum flow_event ev, enum end_reason reason)
{
    int n = 0;
    for (int i = 0; i < nevents; i++)
        if (events[i].ev == ev && (ev != FLOW_EV_END || events[i].reason == reason))
            n++;
    return n;
}

static const event_t *last_end(void)
{
    for (int i = nevents - 1; i >= 0; i--)
        if (events[i].ev == FLOW_EV_END)
            return &events[i];
    return NULL;
}

/* An IPv4 packet a.b.c.S:sp -> a.b.c.D:dp. */
static packet_t pkt(uint8_t s, uint16_t sp, uint8_t d, uint16_t dp, uint8_t proto, uint64_t ts)
{
    packet_t p;
    memset(&p, 0, sizeof p);
    p.ip_version = 4;
    p.l4_proto = proto;
    uint8_t src[4] = {10, 0, 0, s}, dst[4] = {10, 0, 0, d};
    memcpy(p.src_ip, src, 4);
    memcpy(p.dst_ip, dst, 4);
    p.src_port = sp;
    p.dst_port = dp;
    p.has_ports = 1;
    p.ts_ns = ts;
    p.ip_len = 60;
    p.ttl = 64;
    return p;
}

static packet_t tcp(uint8_t s, uint16_t sp, uint8_t d, uint16_t dp, uint8_t flags, uint64_t ts)
{
    packet_t p = pkt(s, sp, d, dp, 6, ts);
    p.tcp_flags = flags;
    return p;
}

static flow_cache_t *new_cache(uint32_t max_flows)
{
    flow_cache_config_t cfg;
    flow_cache_config_default(&cfg);
    cfg.max_flows = max_flows;
    nevents = 0;
    return flow_cache_new(&cfg, NULL, on_flow, NULL);
}

static void test_direction(void)
{
    flow_cache_t *c = new_cache(100);
    /* SYN sender is the client. */
    packet_t p = tcp(1, 40000, 2, 80, 0x02, 1 * SEC);
    flow_cache_process(c, &p);
    p = tcp(2, 80, 1, 40000, 0x12, 1 * SEC + 1000000); /* SYN/ACK after 1 ms */
    flow_cache_process(c, &p);
    p = tcp(1, 40000, 2, 80, 0x10, 1 * SEC + 3000000); /* ACK 2 ms later */
    flow_cache_process(c, &p);
    /* A flow first seen at its SYN/ACK: the receiver of the SYN/ACK is the client. */
    p = tcp(4, 443, 3, 50000, 0x12, 2 * SEC);
    flow_cache_process(c, &p);
    /* UDP: the first packet's sender is the client. */
    p = pkt(5, 53, 6, 33333, 17, 3 * SEC);
    flow_cache_process(c, &p);
    p = pkt(6, 33333, 5, 53, 17, 3 * SEC);
    flow_cache_process(c, &p);
    flow_cache_flush(c, END_SHUTDOWN);
    CHECK_EQ(count(FLOW_EV_NEW, END_NONE), 3);
    CHECK_EQ(count(FLOW_EV_END, END_SHUTDOWN), 3);
    for (int i = 0; i < nevents; i++) {
        const event_t *e = &events[i];
        if (e->ev != FLOW_EV_END)
            continue;
        if (e->srv_port == 80) {
            CHECK_EQ(e->cli_last, 1);
            CHECK_EQ(e->pkts[0], 2);
            CHECK_EQ(e->pkts[1], 1);
            CHECK_EQ(e->srv_rtt, 1000);
            CHECK_EQ(e->cli_rtt, 2000);
        } else if (e->srv_port == 443) {
            CHECK_EQ(e->cli_last, 3);
            CHECK_EQ(e->cli_port, 50000);
            CHECK_EQ(e->pkts[0], 0);
            CHECK_EQ(e->pkts[1], 1);
        } else {
            CHECK_EQ(e->cli_last, 5);
            CHECK_EQ(e->srv_port, 33333);
            CHECK_EQ(e->pkts[0], 1);
            CHECK_EQ(e->pkts[1], 1);
            CHECK_EQ(e->bytes[0], 60);
        }
    }
    flow_cache_destroy(&c);
    CHECK(c == NULL);
}

static void test_idle_timeout(void)
{
    flow_cache_t *c = new_cache(100);
    packet_t p = pkt(1, 1000, 2, 2000, 17, 10 * SEC);
    flow_cache_process(c, &p);
    flow_cache_expire(c, 39 * SEC);
    CHECK_EQ(count(FLOW_EV_END, END_IDLE), 0);
    flow_cache_expire(c, 40 * SEC);
    CHECK_EQ(count(FLOW_EV_END, END_IDLE), 1);
    /* The same tuple later is a new flow with a new id. */
    flow_cache_process(c, &p);
    flow_cache_flush(c, END_SHUTDOWN);
    CHECK_EQ(count(FLOW_EV_NEW, END_NONE), 2);
    CHECK(events[nevents - 1].id != events[0].id);
    /* The clock never goes back: an older packet does not resurrect expired flows' time. */
    CHECK_EQ(flow_cache_clock(c), 40 * SEC);
    flow_cache_destroy(&c);
}

static void test_tcp_end(void)
{
    flow_cache_t *c = new_cache(100);
    packet_t p = tcp(1, 1111, 2, 80, 0x02, 1 * SEC);
    flow_cache_process(c, &p);
    p = tcp(2, 80, 1, 1111, 0x12, 1 * SEC);
    flow_cache_process(c, &p);
    p = tcp(1, 1111, 2, 80, 0x11, 2 * SEC); /* FIN/ACK */
    flow_cache_process(c, &p);
    p = tcp(2, 80, 1, 1111, 0x11, 2 * SEC);
    flow_cache_process(c, &p);
    p = tcp(1, 1111, 2, 80, 0x10, 2 * SEC); /* last ACK stays in the flow */
    flow_cache_process(c, &p);
    CHECK_EQ(count(FLOW_EV_END, END_TCP_FIN), 0);
    flow_cache_expire(c, 5 * SEC); /* linger over */
    CHECK_EQ(count(FLOW_EV_END, END_TCP_FIN), 1);
    CHECK_EQ(last_end()->pkts[0] + last_end()->pkts[1], 5);

    /* RST ends the flow; a new SYN on the same ports while closing starts a new flow. */
    p = tcp(1, 2222, 2, 80, 0x02, 10 * SEC);
    flow_cache_process(c, &p);
    p = tcp(2, 80, 1, 2222, 0x14, 10 * SEC); /* RST/ACK */
    flow_cache_process(c, &p);
    p = tcp(1, 2222, 2, 80, 0x02, 10 * SEC + 1000);
    flow_cache_process(c, &p);
    CHECK_EQ(count(FLOW_EV_END, END_TCP_RST), 1);
    CHECK_EQ(count(FLOW_EV_NEW, END_NONE), 3);
    flow_cache_flush(c, END_SHUTDOWN);
    CHECK_EQ(count(FLOW_EV_END, END_SHUTDOWN), 1);
    flow_cache_destroy(&c);
}

static void test_eviction(void)
{
    flow_cache_t *c = new_cache(10);
    for (int i = 0; i < 25; i++) {
        packet_t p = pkt(1, (uint16_t)(1000 + i), 2, 53, 17, SEC + (uint64_t)i);
        flow_cache_process(c, &p);
    }
    flow_cache_stats_t st;
    flow_cache_get_stats(c, &st);
    CHECK_EQ(st.active, 10);
    CHECK_EQ(st.evictions, 15);
    CHECK_EQ(count(FLOW_EV_END, END_EVICTED), 15);
    /* LRU: the first 15 ports went first. */
    CHECK_EQ(events[1].ev, FLOW_EV_NEW);
    for (int i = 0; i < nevents; i++)
        if (events[i].ev == FLOW_EV_END)
            CHECK(events[i].cli_port < 1015);
    flow_cache_destroy(&c);
}

static void test_updates(void)
{
    flow_cache_t *c = new_cache(10);
    for (int s = 0; s <= 130; s += 10) {
        packet_t p = pkt(1, 5000, 2, 5001, 17, (uint64_t)s * SEC);
        flow_cache_process(c, &p);
    }
    CHECK_EQ(count(FLOW_EV_UPDATE, END_NONE), 2); /* at 60 s and 120 s */
    flow_cache_flush(c, END_SHUTDOWN);
    CHECK_EQ(last_end()->pkts[0], 14);
    flow_cache_destroy(&c);
}

static void test_fragments(void)
{
    flow_cache_t *c = new_cache(10);
    packet_t p = pkt(1, 7000, 2, 53, 17, SEC);
    p.is_fragment = 1;
    p.first_fragment = 1;
    p.frag_id = 77;
    flow_cache_process(c, &p);
    packet_t q = pkt(1, 0, 2, 0, 17, SEC + 1);
    q.has_ports = 0;
    q.is_fragment = 1;
    q.frag_id = 77;
    flow_cache_process(c, &q);
    q.frag_id = 78; /* first fragment never seen */
    flow_cache_process(c, &q);
    flow_cache_stats_t st;
    flow_cache_get_stats(c, &st);
    CHECK_EQ(st.frag_attributed, 1);
    CHECK_EQ(st.frag_orphans, 1);
    CHECK_EQ(st.active, 2);
    flow_cache_flush(c, END_SHUTDOWN);
    int found = 0;
    for (int i = 0; i < nevents; i++)
        if (events[i].ev == FLOW_EV_END && events[i].cli_port == 7000) {
            CHECK_EQ(events[i].pkts[0], 2);
            found = 1;
        }
    CHECK(found);
    flow_cache_destroy(&c);
}

static void test_retransmissions(void)
{
    flow_cache_t *c = new_cache(10);
    static uint8_t frame[100];
    packet_t p = tcp(1, 1234, 2, 80, 0x18, SEC);
    p.l3 = frame;
    p.payload = frame + 40; /* 20 IP + 20 TCP */
    p.ip_len = 140;         /* 100 payload bytes */
    p.tcp_seq = 1000;
    flow_cache_process(c, &p);
    p.tcp_seq = 1100;
    flow_cache_process(c, &p);
    p.tcp_seq = 1000; /* again: retransmission */
    flow_cache_process(c, &p);
    flow_cache_flush(c, END_SHUTDOWN);
    CHECK_EQ(last_end()->retrans[0], 1);
    flow_cache_destroy(&c);
}

static void test_icmp(void)
{
    flow_cache_t *c = new_cache(10);
    packet_t p = pkt(1, 0, 2, 0, 1, SEC);
    p.has_ports = 0;
    p.icmp_type = 8; /* echo request */
    flow_cache_process(c, &p);
    packet_t r = pkt(2, 0, 1, 0, 1, SEC);
    r.has_ports = 0;
    r.icmp_type = 0; /* echo reply */
    flow_cache_process(c, &r);
    r.icmp_type = 3; /* unreachable: another flow */
    flow_cache_process(c, &r);
    flow_cache_stats_t st;
    flow_cache_get_stats(c, &st);
    CHECK_EQ(st.flows_created, 2);
    flow_cache_destroy(&c);
}

int main(void)
{
    test_direction();
    test_idle_timeout();
    test_tcp_end();
    test_eviction();
    test_updates();
    test_fragments();
    test_retransmissions();
    test_icmp();
    return check_report();
}
