/* test_export: probe/export.c against a real ROUTER socket in this process (loopback, ephemeral
 * ports): seqs, acks, ring overflow, reconnect + resend, resend timer, never blocking. */
#include "check.h"
#include "codec.h"
#include "export.h"
#include "timebase.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define RUN_ID 0x5eed0001ull

static void *zctx;
static uint8_t cli_ip[4] = {10, 1, 2, 3}, srv_ip[4] = {10, 9, 8, 7};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void flow_make(Zflow__Flow *f, uint64_t id)
{
    *f = (Zflow__Flow)ZFLOW__FLOW__INIT;
    f->flow_id = id;
    f->event = ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE;
    f->first_seen_ns = 1700000000000000000ull + id;
    f->last_seen_ns = 1700000001000000000ull + id;
    f->ip_version = 4;
    f->client_ip = (ProtobufCBinaryData){4, cli_ip};
    f->server_ip = (ProtobufCBinaryData){4, srv_ip};
    f->client_port = 40000 + (uint32_t)(id % 20000);
    f->server_port = 443;
    f->l4_proto = 6;
    f->c2s_bytes = 1000 + id;
    f->s2c_bytes = 20000 + id;
    f->c2s_packets = 10;
    f->s2c_packets = 20;
    f->c2s_tcp_flags = 0x1b;
    f->s2c_tcp_flags = 0x1b;
    f->min_ttl = 60;
    f->max_ttl = 64;
    f->l7_master_id = 91;
    f->l7_app_id = 126;
    f->l7_master_name = "TLS";
    f->l7_app_name = "Google";
    f->l7_proto_name = "TLS.Google";
    f->l7_category = "Web";
    f->server_name = "www.google.com";
    f->interface = "eth0";
    f->community_id = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
}

/* ---- a tiny collector ------------------------------------------------------------------- */

typedef struct router {
    void *sock;
    int port;
    uint8_t peer[256]; /* routing id of the last sender */
    size_t peer_len;
} router_t;

/* Binds a ROUTER on 127.0.0.1:port (0 = ephemeral), retrying while the port is still busy. */
static int router_open(router_t *r, int port)
{
    memset(r, 0, sizeof *r);
    r->sock = zmq_socket(zctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof zero);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    double until = mono_s() + 5;
    while (zmq_bind(r->sock, ep) < 0) {
        if (mono_s() > until) return -1;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    char last[128];
    size_t len = sizeof last;
    zmq_getsockopt(r->sock, ZMQ_LAST_ENDPOINT, last, &len);
    const char *colon = strrchr(last, ':');
    r->port = colon ? atoi(colon + 1) : 0;
    return 0;
}

static void router_close(router_t *r)
{
    if (r->sock) zmq_close(r->sock);
    r->sock = NULL;
}

/* Polls the exporter while waiting up to timeout_ms for one envelope; returns it (validated) and
 * sets *msg to its message, which the caller destroys, or returns NULL. */
static Zflow__Envelope *router_recv(router_t *r, export_t *exp, int timeout_ms, codec_msg_t **msg)
{
    double until = mono_s() + timeout_ms / 1000.0;
    do {
        if (exp) export_poll(exp, wall_ns());
        zmq_pollitem_t item = {r->sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 5) <= 0) continue;
        int n = zmq_recv(r->sock, r->peer, sizeof r->peer, 0);
        if (n < 0) continue;
        r->peer_len = (size_t)n;
        zmq_msg_t body;
        zmq_msg_init(&body);
        zmq_msg_recv(&body, r->sock, 0);
        codec_error_t err = codec_unpack(zmq_msg_data(&body), zmq_msg_size(&body), msg);
        CHECK_EQ(err, CODEC_OK);
        CHECK(!zmq_msg_more(&body));
        zmq_msg_close(&body);
        if (*msg) return codec_msg_env(*msg);
    } while (mono_s() < until);
    return NULL;
}

/* Sends raw bytes to the last peer. */
static void router_send_raw(router_t *r, const void *data, size_t len, int more)
{
    zmq_send(r->sock, r->peer, r->peer_len, ZMQ_SNDMORE);
    zmq_send(r->sock, data, len, more ? ZMQ_SNDMORE : 0);
}

static void router_ack(router_t *r, uint64_t run_id, const uint64_t *seqs, size_t n)
{
    Zflow__Ack ack = ZFLOW__ACK__INIT;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    ack.run_id = run_id;
    ack.n_seqs = n;
    ack.seqs = (uint64_t *)seqs;
    env.schema_version = CODEC_SCHEMA_VERSION;
    env.probe_id = "test-collector";
    env.seq = 1;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    router_send_raw(r, buf, len, 0);
    free(buf);
}

/* Polls the exporter until `cond` holds or timeout_ms passes. */
#define POLL_UNTIL(exp, cond, timeout_ms)                                                          \
    do {                                                                                           \
        double poll_until_ = mono_s() + (timeout_ms) / 1000.0;                                     \
        while (!(cond) && mono_s() < poll_until_) {                                                \
            export_poll(exp, wall_ns());                                                           \
            zmq_pollitem_t poll_item_ = {export_socket(exp), 0, ZMQ_POLLIN, 0};                    \
            zmq_poll(&poll_item_, 1, 5);                                                           \
        }                                                                                          \
    } while (0)

static export_t *export_open(int port, uint32_t batch_flows, uint32_t max_unacked,
                             uint32_t resend_ms)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    export_config_t cfg = {.endpoint = ep,
                           .probe_id = "probe-test",
                           .run_id = RUN_ID,
                           .batch_flows = batch_flows,
                           .batch_ms = 50,
                           .max_unacked = max_unacked,
                           .resend_ms = resend_ms};
    return export_new(&cfg);
}

static export_stats_t stats_of(export_t *exp)
{
    export_stats_t st;
    export_get_stats(exp, &st);
    return st;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_batches_and_acks(void)
{
    router_t r;
    CHECK_EQ(router_open(&r, 0), 0);
    export_t *exp = export_open(r.port, 10, 64, 60000);
    CHECK(exp != NULL);
    if (!exp) return;
    Zflow__Hello hello = ZFLOW__HELLO__INIT;
    hello.software_version = "test";
    hello.interface = "eth0";
    CHECK_EQ(export_send_hello(exp, &hello, wall_ns()), 0);
    Zflow__Flow f;
    for (uint64_t i = 0; i < 35; i++) {
        flow_make(&f, i);
        CHECK_EQ(export_add_flow(exp, &f, wall_ns()), 0);
    }
    memset(&f, 0xee, sizeof f); /* the exporter kept no pointer into the caller's flow */
    export_flush(exp, wall_ns());

    uint64_t next_flow = 0;
    int flows_ok = 1;
    for (uint64_t seq = 1; seq <= 5; seq++) {
        codec_msg_t *msg = NULL;
        Zflow__Envelope *env = router_recv(&r, exp, 3000, &msg);
        CHECK(env != NULL);
        if (!env) break;
        CHECK_EQ(env->seq, seq);
        CHECK_EQ(env->run_id, RUN_ID);
        CHECK_STREQ(env->probe_id, "probe-test");
        CHECK(env->send_time_ns > 0);
        if (seq == 1) {
            CHECK_EQ(env->payload_case, ZFLOW__ENVELOPE__PAYLOAD_HELLO);
            CHECK_STREQ(env->hello->software_version, "test");
        } else {
            CHECK_EQ(env->payload_case, ZFLOW__ENVELOPE__PAYLOAD_FLOWS);
            CHECK_EQ(env->flows->n_flows, seq < 5 ? 10 : 5);
            for (size_t i = 0; i < env->flows->n_flows; i++) {
                Zflow__Flow want;
                const Zflow__Flow *got = env->flows->flows[i];
                flow_make(&want, next_flow++);
                if (got->flow_id != want.flow_id || got->c2s_bytes != want.c2s_bytes ||
                    got->client_port != want.client_port ||
                    strcmp(got->l7_proto_name, "TLS.Google") != 0 ||
                    strcmp(got->community_id, want.community_id) != 0 || got->client_ip.len != 4 ||
                    memcmp(got->client_ip.data, cli_ip, 4) != 0)
                    flows_ok = 0;
            }
        }
        codec_msg_destroy(&msg);
    }
    CHECK(flows_ok);
    CHECK_EQ(next_flow, 35);
    export_stats_t st = stats_of(exp);
    CHECK_EQ(st.sent_messages, 5);
    CHECK_EQ(st.sent_flows, 35);
    CHECK_EQ(st.unacked_batches, 5);

    /* acks out of order, one duplicated, one for a seq never sent */
    uint64_t acks1[] = {4, 2, 4, 99};
    uint64_t acks2[] = {1, 5, 3};
    router_ack(&r, RUN_ID, acks1, 4);
    POLL_UNTIL(exp, stats_of(exp).unacked_batches == 3, 2000);
    CHECK_EQ(stats_of(exp).unacked_batches, 3);
    router_ack(&r, RUN_ID, acks2, 3);
    POLL_UNTIL(exp, stats_of(exp).unacked_batches == 0, 2000);
    st = stats_of(exp);
    CHECK_EQ(st.unacked_batches, 0);
    CHECK_EQ(st.acked_batches, 5);
    CHECK_EQ(export_drain(exp, 1000), 0);

    /* junk, a wrong run id and a multi-frame message are bad acks */
    router_send_raw(&r, "\xff\xff\xff", 3, 0);
    uint64_t one = 1;
    router_ack(&r, RUN_ID + 1, &one, 1);
    router_send_raw(&r, "a", 1, 1);
    zmq_send(r.sock, "b", 1, 0);
    POLL_UNTIL(exp, stats_of(exp).bad_acks == 3, 2000);
    CHECK_EQ(stats_of(exp).bad_acks, 3);

    /* an aged batch is flushed by export_poll */
    flow_make(&f, 100);
    CHECK_EQ(export_add_flow(exp, &f, wall_ns()), 0);
    export_poll(exp, wall_ns() + 60 * 1000000ull);
    codec_msg_t *msg = NULL;
    Zflow__Envelope *env = router_recv(&r, exp, 3000, &msg);
    CHECK(env && env->seq == 6 && env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_FLOWS &&
          env->flows->n_flows == 1 && env->flows->flows[0]->flow_id == 100);
    codec_msg_destroy(&msg);

    /* stats go out at once with the next seq */
    Zflow__Stats stats = ZFLOW__STATS__INIT;
    stats.interface = "eth0";
    stats.packets = 42;
    CHECK_EQ(export_send_stats(exp, &stats, wall_ns()), 0);
    env = router_recv(&r, exp, 3000, &msg);
    CHECK(env && env->seq == 7 && env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_STATS &&
          env->stats->packets == 42);
    codec_msg_destroy(&msg);
    uint64_t acks3[] = {6, 7};
    router_ack(&r, RUN_ID, acks3, 2);
    CHECK_EQ(export_drain(exp, 2000), 0);

    /* an invalid flow or hello is refused and never sent */
    flow_make(&f, 101);
    f.ip_version = 5;
    CHECK_EQ(export_add_flow(exp, &f, wall_ns()), -1);
    CHECK_EQ(stats_of(exp).rejected_flows, 1);
    char *long_s = malloc(CODEC_MAX_STRING + 2);
    memset(long_s, 'x', CODEC_MAX_STRING + 1);
    long_s[CODEC_MAX_STRING + 1] = '\0';
    hello.hostname = long_s;
    CHECK_EQ(export_send_hello(exp, &hello, wall_ns()), -1);
    free(long_s);
    CHECK_EQ(stats_of(exp).unacked_batches, 0);

    export_destroy(&exp);
    CHECK(exp == NULL);
    export_destroy(&exp);
    export_destroy(NULL);
    router_close(&r);
}

static void test_ring_overflow(void)
{
    router_t r;
    CHECK_EQ(router_open(&r, 0), 0);
    export_t *exp = export_open(r.port, 5, 4, 60000);
    CHECK(exp != NULL);
    if (!exp) return;
    Zflow__Hello hello = ZFLOW__HELLO__INIT;
    CHECK_EQ(export_send_hello(exp, &hello, wall_ns()), 0);
    codec_msg_t *msg = NULL;
    Zflow__Envelope *env = router_recv(&r, exp, 3000, &msg); /* connected */
    CHECK(env && env->seq == 1);
    codec_msg_destroy(&msg);

    Zflow__Flow f;
    for (uint64_t i = 0; i < 50; i++) {
        flow_make(&f, i);
        export_add_flow(exp, &f, wall_ns());
    }
    export_stats_t st = stats_of(exp);
    CHECK_EQ(st.unacked_batches, 4);
    CHECK_EQ(st.dropped_batches, 7); /* hello + 6 batches */
    CHECK_EQ(st.dropped_flows, 30);
    CHECK_EQ(st.sent_messages, 11); /* all were handed to the socket before the drop */
    int got = 0;
    uint64_t last = 1;
    while ((env = router_recv(&r, exp, 1000, &msg)) != NULL) {
        CHECK_EQ(env->seq, last + 1);
        last = env->seq;
        got++;
        codec_msg_destroy(&msg);
        if (got == 10) break;
    }
    CHECK_EQ(got, 10);

    uint64_t acks[] = {1, 9}; /* 1 was dropped: ignored */
    router_ack(&r, RUN_ID, acks, 2);
    POLL_UNTIL(exp, stats_of(exp).acked_batches == 1, 2000);
    st = stats_of(exp);
    CHECK_EQ(st.acked_batches, 1);
    CHECK_EQ(st.unacked_batches, 3);
    uint64_t rest[] = {8, 10, 11};
    router_ack(&r, RUN_ID, rest, 3);
    CHECK_EQ(export_drain(exp, 2000), 0);
    CHECK_EQ(stats_of(exp).dropped_batches, 7);
    export_destroy(&exp);
    router_close(&r);
}

static void test_reconnect_resend(void)
{
    router_t r;
    CHECK_EQ(router_open(&r, 0), 0);
    int port = r.port;
    export_t *exp = export_open(port, 10, 64, 60000); /* the resend timer stays out of it */
    CHECK(exp != NULL);
    if (!exp) return;
    Zflow__Hello hello = ZFLOW__HELLO__INIT;
    hello.hostname = "edge";
    CHECK_EQ(export_send_hello(exp, &hello, wall_ns()), 0);
    Zflow__Flow f;
    for (uint64_t i = 0; i < 20; i++) {
        flow_make(&f, i);
        export_add_flow(exp, &f, wall_ns());
    }
    for (int i = 0; i < 3; i++) { /* seqs 1..3 arrive and are not acknowledged */
        codec_msg_t *msg = NULL;
        Zflow__Envelope *env = router_recv(&r, exp, 3000, &msg);
        CHECK(env && env->seq == (uint64_t)i + 1);
        codec_msg_destroy(&msg);
    }
    router_close(&r); /* the collector goes away */
    POLL_UNTIL(exp, 0, 300);
    for (uint64_t i = 20; i < 30; i++) { /* seq 4, while nobody listens */
        flow_make(&f, i);
        export_add_flow(exp, &f, wall_ns());
    }
    POLL_UNTIL(exp, 0, 100);
    CHECK_EQ(stats_of(exp).unacked_batches, 4);

    CHECK_EQ(router_open(&r, port), 0); /* ... and comes back on the same port */
    int seen[8] = {0};
    int hellos = 0;
    double until = mono_s() + 10;
    while (mono_s() < until && (stats_of(exp).unacked_batches || !seen[4])) {
        codec_msg_t *msg = NULL;
        Zflow__Envelope *env = router_recv(&r, exp, 50, &msg);
        if (!env) continue;
        if (env->seq < 8) seen[env->seq]++;
        if (env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_HELLO) {
            hellos++;
            CHECK_STREQ(env->hello->hostname, "edge");
        }
        router_ack(&r, RUN_ID, &env->seq, 1);
        codec_msg_destroy(&msg);
    }
    CHECK(seen[1] && seen[2] && seen[3] && seen[4]);
    CHECK(seen[5]); /* the hello again, with a new seq */
    CHECK(hellos >= 2);
    CHECK_EQ(export_drain(exp, 3000), 0);
    export_stats_t st = stats_of(exp);
    CHECK(st.reconnects >= 1);
    CHECK(st.resent_batches >= 3);
    CHECK_EQ(st.unacked_batches, 0);
    CHECK_EQ(st.dropped_batches, 0);
    printf("reconnect: reconnects=%llu resent=%llu\n", (unsigned long long)st.reconnects,
           (unsigned long long)st.resent_batches);
    export_destroy(&exp);
    router_close(&r);
}

static void test_resend_timer(void)
{
    router_t r;
    CHECK_EQ(router_open(&r, 0), 0);
    export_t *exp = export_open(r.port, 10, 64, 100);
    CHECK(exp != NULL);
    if (!exp) return;
    Zflow__Flow f;
    flow_make(&f, 1);
    export_add_flow(exp, &f, wall_ns());
    export_flush(exp, wall_ns());
    codec_msg_t *msg = NULL;
    Zflow__Envelope *env = router_recv(&r, exp, 3000, &msg);
    CHECK(env && env->seq == 1);
    codec_msg_destroy(&msg);
    env = router_recv(&r, exp, 3000, &msg); /* not acknowledged: comes again after resend_ms */
    CHECK(env && env->seq == 1);
    if (env) router_ack(&r, RUN_ID, &env->seq, 1);
    codec_msg_destroy(&msg);
    CHECK_EQ(export_drain(exp, 2000), 0);
    CHECK(stats_of(exp).resent_batches >= 1);
    export_destroy(&exp);
    router_close(&r);
}

static void test_no_peer_never_blocks(void)
{
    /* A bound, non-listening socket holds a port nobody listens on (and that no other test
     * process can bind meanwhile): connects are refused. */
    int hold = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sa_len = sizeof sa;
    CHECK(hold >= 0 && bind(hold, (struct sockaddr *)&sa, sizeof sa) == 0 &&
          getsockname(hold, (struct sockaddr *)&sa, &sa_len) == 0);
    int port = ntohs(sa.sin_port);

    export_t *exp = export_open(port, 100, 16, 100);
    CHECK(exp != NULL);
    if (!exp) return;
    const uint64_t n = 200000;
    Zflow__Flow f;
    flow_make(&f, 0);
    double t0 = mono_s();
    for (uint64_t i = 0; i < n; i++) {
        f.flow_id = i;
        f.c2s_bytes = 1000 + i;
        export_add_flow(exp, &f, wall_ns());
        if (i % 1000 == 0) export_poll(exp, wall_ns());
    }
    double dt = mono_s() - t0;
    export_stats_t st = stats_of(exp);
    CHECK_EQ(st.sent_messages, 0);
    CHECK_EQ(st.unacked_batches, 16);
    CHECK_EQ(st.dropped_batches, n / 100 - 16);
    CHECK_EQ(st.dropped_flows, n - 16 * 100);
    printf("no peer: %llu add_flow calls in %.3f s (%.0f flows/s)\n", (unsigned long long)n, dt,
           (double)n / dt);
    CHECK_EQ(export_drain(exp, 100), -1);
    double t1 = mono_s();
    export_destroy(&exp);
    CHECK(mono_s() - t1 < 5); /* finite linger; nothing is queued in libzmq anyway */
    close(hold);

    export_config_t bad = {.endpoint = "bogus://nowhere", .probe_id = "p", .run_id = 1};
    CHECK(export_new(&bad) == NULL);
    bad.endpoint = "tcp://127.0.0.1:1";
    bad.probe_id = "";
    CHECK(export_new(&bad) == NULL);
    CHECK(export_new(NULL) == NULL);
}

int main(void)
{
    zctx = zmq_ctx_new();
    test_batches_and_acks();
    test_ring_overflow();
    test_reconnect_resend();
    test_resend_timer();
    test_no_peer_never_blocks();
    zmq_ctx_term(zctx);
    return check_report();
}
