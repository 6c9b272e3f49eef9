/* zflow-badsend: sends malformed and edge-case messages to a zflow collector (e2e.bad_input).
 * Every case is checked locally with codec_unpack() first, so the reason the collector must
 * count is known; the expected counter deltas are printed as one JSON line at the end.
 *
 * Cases, each --count times per round, --rounds rounds --interval-ms apart, on one DEALER:
 *   random      random bytes that are no protobuf Envelope          -> bad_unpack
 *   truncated   the first half of a valid flow batch                -> bad_unpack
 *   version     a valid flow batch with schema_version 2            -> bad_version
 *   empty       one empty frame                                     -> bad_empty
 *   multiframe  a valid batch followed by a second frame            -> bad_frames
 *   no_probe_id a batch without probe id                            -> bad_no_probe_id
 *   no_payload  an envelope without payload                         -> bad_no_payload
 *   range       a flow with ip_version 5                            -> bad_range
 *   local_id    a valid batch from the reserved probe id "local:x"  -> bad_payload
 *   ack         an Ack sent by a "probe"                            -> bad_payload
 * then, once, on its own DEALER: one frame of 16 MiB + 1 byte. The collector's ZMQ_MAXMSGSIZE
 * makes libzmq drop that connection before the message exists: nothing is counted; the
 * DISCONNECTED event is reported ("oversize_disconnected").
 * Finally a control on the first DEALER: a valid hello (seq 1) and a valid batch of one flow
 * (new + end, seq 2) sent twice: both acknowledged, the second counted as a duplicate. The acks
 * prove the collector still serves the connection that sent the garbage.
 * Exit 0 when every local check held and the control was acknowledged. */
#include "codec.h"
#include "timebase.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define OVERSIZE (CODEC_MAX_MESSAGE + 1u)

static int failures;

typedef struct bad_case {
    const char *name;
    uint8_t *buf;
    size_t len;
    int two_frames;
} case_t;

static void fail(const char *what)
{
    fprintf(stderr, "zflow-badsend: %s\n", what);
    failures++;
}

/* A valid one-flow batch envelope (the flow's fields point to static storage). */
static void make_batch(Zflow__Envelope *env, Zflow__FlowBatch *fb, Zflow__Flow *f,
                       Zflow__Flow **fp, const char *probe_id, uint64_t run_id, uint64_t seq,
                       uint64_t flow_id, Zflow__FlowEvent ev)
{
    static uint8_t cli[4] = {10, 0, 0, 1}, srv[4] = {192, 0, 2, 80};
    zflow__envelope__init(env);
    zflow__flow_batch__init(fb);
    zflow__flow__init(f);
    env->schema_version = CODEC_SCHEMA_VERSION;
    env->probe_id = (char *)probe_id;
    env->run_id = run_id;
    env->seq = seq;
    env->send_time_ns = wall_ns();
    env->payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env->flows = fb;
    fb->n_flows = 1;
    fp[0] = f;
    fb->flows = fp;
    f->flow_id = flow_id;
    f->event = ev;
    f->end_reason = ev == ZFLOW__FLOW_EVENT__FLOW_EVENT_END ? ZFLOW__END_REASON__END_REASON_TCP_FIN
                                                            : ZFLOW__END_REASON__END_REASON_NONE;
    f->first_seen_ns = f->last_seen_ns = wall_ns();
    f->ip_version = 4;
    f->client_ip.data = cli;
    f->client_ip.len = 4;
    f->server_ip.data = srv;
    f->server_ip.len = 4;
    f->client_port = 40000;
    f->server_port = 80;
    f->l4_proto = 6;
    f->c2s_packets = 1;
    f->c2s_bytes = 60;
    f->interface = (char *)"badsend0";
}

/* Packs env (no validation), checks that codec_unpack() gives `want`, returns the bytes. */
static uint8_t *pack_expect(const Zflow__Envelope *env, size_t *len, codec_error_t want,
                            const char *name)
{
    *len = zflow__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf) {
        fail("out of memory");
        return NULL;
    }
    zflow__envelope__pack(env, buf);
    codec_msg_t *check = NULL;
    codec_error_t got = codec_unpack(buf, *len, &check);
    codec_msg_destroy(&check);
    if (got != want) {
        char msg[256];
        snprintf(msg, sizeof msg, "case %s: local codec_unpack gives %s, expected %s", name,
                 codec_error_name(got), codec_error_name(want));
        fail(msg);
    }
    return buf;
}

static int send_frames(void *sock, const void *a, size_t alen, const void *b, size_t blen)
{
    if (b) {
        if (zmq_send(sock, a, alen, ZMQ_SNDMORE) < 0) return -1;
        return zmq_send(sock, b, blen, 0) < 0 ? -1 : 0;
    }
    return zmq_send(sock, a, alen, 0) < 0 ? -1 : 0;
}

/* Waits for a monitor event among `mask`; returns it, or 0 after timeout_ms. */
static int wait_event(void *mon, int mask, int timeout_ms)
{
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    while (mono_ms() < end) {
        zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) <= 0) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        uint16_t ev = 0;
        if (zmq_msg_size(&m) >= 2) memcpy(&ev, zmq_msg_data(&m), 2);
        int more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            zmq_msg_recv(&m, mon, 0);
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev & mask) return ev;
    }
    return 0;
}

static void *dealer(void *ctx, const char *endpoint, const char *mon_ep, void **mon)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 2000, zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    *mon = zmq_socket(ctx, ZMQ_PAIR);
    zmq_setsockopt(*mon, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(*mon, mon_ep);
    if (zmq_connect(s, endpoint) != 0) {
        fail("connect failed");
        return s;
    }
    if (!wait_event(*mon, ZMQ_EVENT_CONNECTED, 10000)) fail("no connection to the collector");
    return s;
}

/* Receives acks for `run_id` until `want` seqs arrived or timeout; returns the count. */
static int recv_acks(void *sock, uint64_t run_id, int want, int timeout_ms)
{
    int got = 0;
    uint64_t end = mono_ms() + (uint64_t)timeout_ms;
    while (got < want && mono_ms() < end) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) <= 0) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        codec_msg_t *msg = NULL;
        if (codec_unpack(zmq_msg_data(&m), zmq_msg_size(&m), &msg) == CODEC_OK) {
            const Zflow__Envelope *env = codec_msg_env(msg);
            if (env->payload_case == ZFLOW__ENVELOPE__PAYLOAD_ACK && env->ack->run_id == run_id)
                got += (int)env->ack->n_seqs;
        }
        codec_msg_destroy(&msg);
        zmq_msg_close(&m);
    }
    return got;
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL;
    int count = 1, rounds = 1, interval_ms = 100, oversize = 1;
    static const struct option longopts[] = {
        {"collector", required_argument, NULL, 'c'}, {"count", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'},    {"interval-ms", required_argument, NULL, 'i'},
        {"no-oversize", no_argument, NULL, 'O'},     {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:n:r:i:O", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': endpoint = optarg; break;
        case 'n': count = atoi(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'i': interval_ms = atoi(optarg); break;
        case 'O': oversize = 0; break;
        default:
            fprintf(stderr, "Usage: zflow-badsend --collector EP [--count N] [--rounds N] "
                            "[--interval-ms N] [--no-oversize]\n");
            return 2;
        }
    }
    if (!endpoint || count < 1 || rounds < 1) {
        fprintf(stderr, "zflow-badsend: need --collector EP\n");
        return 2;
    }
    void *ctx = zmq_ctx_new();
    void *mon = NULL;
    void *sock = dealer(ctx, endpoint, "inproc://badsend-mon", &mon);

    Zflow__Envelope env;
    Zflow__FlowBatch fb;
    Zflow__Flow f, *fp[1];
    size_t len;
    case_t cases[16];
    int n = 0;

    /* random: a fixed pseudo-random sequence that codec_unpack refuses */
    {
        uint8_t *buf = malloc(257);
        uint32_t x = 12345;
        for (int i = 0; i < 257; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        buf[0] = 0x07; /* field 0, wire type 7: no valid protobuf starts like this */
        codec_msg_t *chk = NULL;
        codec_error_t e = codec_unpack(buf, 257, &chk);
        codec_msg_destroy(&chk);
        if (e != CODEC_ERR_UNPACK) fail("case random: not refused as unpack");
        cases[n++] = (case_t){"random", buf, 257, 0};
    }
    /* truncated: half of a valid batch */
    make_batch(&env, &fb, &f, fp, "badsend-trunc", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    f.server_name = (char *)"a-long-enough-server-name.example.org";
    uint8_t *full = pack_expect(&env, &len, CODEC_OK, "truncated(full)");
    {
        codec_msg_t *chk = NULL;
        if (codec_unpack(full, len / 2, &chk) != CODEC_ERR_UNPACK) fail("case truncated: not unpack");
        codec_msg_destroy(&chk);
    }
    cases[n++] = (case_t){"truncated", full, len / 2, 0};
    /* version */
    make_batch(&env, &fb, &f, fp, "badsend-version", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    env.schema_version = 2;
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_ERR_VERSION, "version");
    cases[n].name = "version", cases[n].two_frames = 0, n++;
    /* empty */
    cases[n++] = (case_t){"empty", malloc(1), 0, 0};
    /* multiframe: a valid batch plus a second frame */
    make_batch(&env, &fb, &f, fp, "badsend-multi", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_OK, "multiframe");
    cases[n].name = "multiframe", cases[n].two_frames = 1, n++;
    /* no probe id */
    make_batch(&env, &fb, &f, fp, "", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_ERR_NO_PROBE_ID, "no_probe_id");
    cases[n].name = "no_probe_id", cases[n].two_frames = 0, n++;
    /* no payload */
    make_batch(&env, &fb, &f, fp, "badsend-nopayload", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD__NOT_SET;
    env.flows = NULL;
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_ERR_NO_PAYLOAD, "no_payload");
    cases[n].name = "no_payload", cases[n].two_frames = 0, n++;
    /* range */
    make_batch(&env, &fb, &f, fp, "badsend-range", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    f.ip_version = 5;
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_ERR_RANGE, "range");
    cases[n].name = "range", cases[n].two_frames = 0, n++;
    /* reserved probe id */
    make_batch(&env, &fb, &f, fp, "local:x", 1, 1, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_OK, "local_id");
    cases[n].name = "local_id", cases[n].two_frames = 0, n++;
    /* an ack from a probe */
    {
        Zflow__Ack ack = ZFLOW__ACK__INIT;
        uint64_t s = 1;
        zflow__envelope__init(&env);
        env.schema_version = CODEC_SCHEMA_VERSION;
        env.probe_id = (char *)"badsend-ack";
        env.run_id = 7;
        env.seq = 0;
        env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
        env.ack = &ack;
        ack.run_id = 1;
        ack.n_seqs = 1;
        ack.seqs = &s;
        cases[n].buf = pack_expect(&env, &cases[n].len, CODEC_OK, "ack");
        cases[n].name = "ack", cases[n].two_frames = 0, n++;
    }

    int sent = 0;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < n; k++)
            for (int i = 0; i < count; i++) {
                int rc = cases[k].two_frames
                             ? send_frames(sock, cases[k].buf, cases[k].len, "x", 1)
                             : send_frames(sock, cases[k].buf, cases[k].len, NULL, 0);
                if (rc != 0) fail("send failed");
                sent++;
            }
        if (r + 1 < rounds) usleep((useconds_t)interval_ms * 1000);
    }

    /* oversize, on its own connection */
    int over_disc = 0;
    if (oversize) {
        void *omon = NULL;
        void *os = dealer(ctx, endpoint, "inproc://badsend-omon", &omon);
        uint8_t *big = calloc(1, OVERSIZE);
        if (big && zmq_send(os, big, OVERSIZE, 0) < 0) fail("oversize send failed");
        over_disc = wait_event(omon, ZMQ_EVENT_DISCONNECTED, 10000) != 0;
        free(big);
        int zero = 0;
        zmq_setsockopt(os, ZMQ_LINGER, &zero, sizeof zero);
        zmq_socket_monitor(os, NULL, 0);
        zmq_close(os);
        zmq_close(omon);
    }

    /* control: hello, a batch and the same batch again, all acknowledged */
    uint64_t run_id = wall_ns() | 1;
    {
        Zflow__Hello h = ZFLOW__HELLO__INIT;
        h.interface = (char *)"badsend0";
        h.hostname = (char *)"badsend";
        zflow__envelope__init(&env);
        env.schema_version = CODEC_SCHEMA_VERSION;
        env.probe_id = (char *)"badsend";
        env.run_id = run_id;
        env.seq = 1;
        env.send_time_ns = wall_ns();
        env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
        env.hello = &h;
        uint8_t *b = pack_expect(&env, &len, CODEC_OK, "control hello");
        if (b && send_frames(sock, b, len, NULL, 0) != 0) fail("send failed");
        free(b);
    }
    Zflow__Flow f2, *fp2[2];
    make_batch(&env, &fb, &f, fp, "badsend", run_id, 2, 1, ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW);
    f2 = f;
    f2.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_END;
    f2.end_reason = ZFLOW__END_REASON__END_REASON_TCP_FIN;
    fp2[0] = &f;
    fp2[1] = &f2;
    fb.flows = fp2;
    fb.n_flows = 2;
    uint8_t *b = pack_expect(&env, &len, CODEC_OK, "control batch");
    if (b) {
        if (send_frames(sock, b, len, NULL, 0) != 0) fail("send failed");
        int first = recv_acks(sock, run_id, 2, 15000); /* hello + batch */
        if (send_frames(sock, b, len, NULL, 0) != 0) fail("send failed");
        int again = recv_acks(sock, run_id, 1, 15000);
        if (first != 2 || again != 1) fail("control messages not acknowledged");
        printf("{\"sent\":%d,\"control_acks\":%d,\"oversize_disconnected\":%s,"
               "\"expect\":{\"messages\":%d,\"bad_unpack\":%d,\"bad_version\":%d,"
               "\"bad_empty\":%d,\"bad_frames\":%d,\"bad_no_probe_id\":%d,"
               "\"bad_no_payload\":%d,\"bad_range\":%d,\"bad_payload\":%d,\"bad_too_big\":0,"
               "\"duplicates\":1,\"control_flow_events\":2}}\n",
               sent, first + again, over_disc ? "true" : "false", sent + 3,
               2 * count * rounds, count * rounds, count * rounds, count * rounds, count * rounds,
               count * rounds, count * rounds, 2 * count * rounds);
        free(b);
    }
    for (int k = 0; k < n; k++)
        free(cases[k].buf);
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(sock);
    zmq_close(mon);
    zmq_ctx_term(ctx);
    if (oversize && !over_disc) fail("the oversized message did not drop the connection");
    return failures ? 1 : 0;
}
