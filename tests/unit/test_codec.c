/* test_codec: round trips, every validation failure, the decoding arena, the fast batch encoder
 * against protobuf-c, and the JSON lines of proto/codec.c. */
#include "check.h"
#include "codec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t v4_cli[4] = {10, 0, 0, 1}, v4_srv[4] = {192, 168, 200, 254};
static uint8_t v6_cli[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static uint8_t v6_srv[16] = {0xfe, 0x80, 0,    0,    0,    0,    0,    0,
                             0x02, 0x1b, 0x21, 0xff, 0xfe, 0x3c, 0x4d, 0x5e};
static uint8_t mac_a[6] = {0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
static uint8_t mac_b[6] = {0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e};
static uint8_t outer_src[4] = {172, 16, 0, 1}, outer_dst[4] = {172, 16, 0, 2};

/* A flow with every field set to a distinct non-zero value. */
static void flow_full(Zflow__Flow *f)
{
    *f = (Zflow__Flow)ZFLOW__FLOW__INIT;
    f->flow_id = 1;
    f->event = ZFLOW__FLOW_EVENT__FLOW_EVENT_END;
    f->end_reason = ZFLOW__END_REASON__END_REASON_TCP_FIN;
    f->first_seen_ns = 1700000000123456789ull;
    f->last_seen_ns = 1700000005987654321ull;
    f->ip_version = 4;
    f->client_ip = (ProtobufCBinaryData){4, v4_cli};
    f->server_ip = (ProtobufCBinaryData){4, v4_srv};
    f->client_port = 51234;
    f->server_port = 443;
    f->l4_proto = 6;
    f->c2s_bytes = 1234;
    f->s2c_bytes = 56789012345ull;
    f->c2s_packets = 12;
    f->s2c_packets = 40;
    f->c2s_tcp_flags = 0x1b;
    f->s2c_tcp_flags = 0x1f;
    f->c2s_tos = 0x10;
    f->s2c_tos = 0xb8;
    f->min_ttl = 57;
    f->max_ttl = 64;
    f->icmp_type = 3;
    f->icmp_code = 13;
    f->vlan_outer = 100;
    f->vlan_inner = 4095;
    f->client_mac = (ProtobufCBinaryData){6, mac_a};
    f->server_mac = (ProtobufCBinaryData){6, mac_b};
    f->tunnel_type = ZFLOW__TUNNEL_TYPE__TUNNEL_VXLAN;
    f->tunnel_id = 4242;
    f->tunnel_outer_src = (ProtobufCBinaryData){4, outer_src};
    f->tunnel_outer_dst = (ProtobufCBinaryData){4, outer_dst};
    f->l7_master_id = 91;
    f->l7_app_id = 126;
    f->l7_master_name = "TLS";
    f->l7_app_name = "Google";
    f->l7_proto_name = "TLS.Google";
    f->l7_category_id = 5;
    f->l7_category = "Web";
    f->l7_risk = 0x8000000000000001ull;
    f->server_name = "www.google.com";
    f->client_rtt_us = 1500;
    f->server_rtt_us = 23000;
    f->c2s_retransmissions = 2;
    f->s2c_retransmissions = 3;
    f->interface = "eth0";
    f->community_id = "1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
    f->l7_risk_score = 110;
}

/* A flow with only what validation requires. */
static void flow_min(Zflow__Flow *f)
{
    *f = (Zflow__Flow)ZFLOW__FLOW__INIT;
    f->event = ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW;
    f->ip_version = 6;
    f->client_ip = (ProtobufCBinaryData){16, v6_cli};
    f->server_ip = (ProtobufCBinaryData){16, v6_srv};
}

static int bin_eq(const ProtobufCBinaryData *a, const ProtobufCBinaryData *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static int str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Compares every field of Flow. */
static int flow_eq(const Zflow__Flow *a, const Zflow__Flow *b)
{
    return a->flow_id == b->flow_id && a->event == b->event && a->end_reason == b->end_reason &&
           a->first_seen_ns == b->first_seen_ns && a->last_seen_ns == b->last_seen_ns &&
           a->ip_version == b->ip_version && bin_eq(&a->client_ip, &b->client_ip) &&
           bin_eq(&a->server_ip, &b->server_ip) && a->client_port == b->client_port &&
           a->server_port == b->server_port && a->l4_proto == b->l4_proto &&
           a->c2s_bytes == b->c2s_bytes && a->s2c_bytes == b->s2c_bytes &&
           a->c2s_packets == b->c2s_packets && a->s2c_packets == b->s2c_packets &&
           a->c2s_tcp_flags == b->c2s_tcp_flags && a->s2c_tcp_flags == b->s2c_tcp_flags &&
           a->c2s_tos == b->c2s_tos && a->s2c_tos == b->s2c_tos && a->min_ttl == b->min_ttl &&
           a->max_ttl == b->max_ttl && a->icmp_type == b->icmp_type &&
           a->icmp_code == b->icmp_code && a->vlan_outer == b->vlan_outer &&
           a->vlan_inner == b->vlan_inner && bin_eq(&a->client_mac, &b->client_mac) &&
           bin_eq(&a->server_mac, &b->server_mac) && a->tunnel_type == b->tunnel_type &&
           a->tunnel_id == b->tunnel_id && bin_eq(&a->tunnel_outer_src, &b->tunnel_outer_src) &&
           bin_eq(&a->tunnel_outer_dst, &b->tunnel_outer_dst) &&
           a->l7_master_id == b->l7_master_id && a->l7_app_id == b->l7_app_id &&
           str_eq(a->l7_master_name, b->l7_master_name) && str_eq(a->l7_app_name, b->l7_app_name) &&
           str_eq(a->l7_proto_name, b->l7_proto_name) && a->l7_category_id == b->l7_category_id &&
           str_eq(a->l7_category, b->l7_category) && a->l7_risk == b->l7_risk &&
           str_eq(a->server_name, b->server_name) && a->client_rtt_us == b->client_rtt_us &&
           a->server_rtt_us == b->server_rtt_us &&
           a->c2s_retransmissions == b->c2s_retransmissions &&
           a->s2c_retransmissions == b->s2c_retransmissions && str_eq(a->interface, b->interface) &&
           str_eq(a->community_id, b->community_id) && a->l7_risk_score == b->l7_risk_score;
}

static void env_header(Zflow__Envelope *env, uint64_t seq)
{
    *env = (Zflow__Envelope)ZFLOW__ENVELOPE__INIT;
    env->schema_version = CODEC_SCHEMA_VERSION;
    env->probe_id = "probe-1";
    env->run_id = 0x1234567890abcdefull;
    env->seq = seq;
    env->send_time_ns = 1700000000000000000ull;
}

/* Packs env with protobuf-c (no size cap) and unpacks it with the codec. */
static codec_error_t roundtrip(const Zflow__Envelope *env, codec_msg_t **out)
{
    size_t len = zflow__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    zflow__envelope__pack(env, buf);
    codec_error_t err = codec_unpack(buf, len, out);
    free(buf);
    return err;
}

/* Unpacks an envelope with one flow; returns the codec's verdict. */
static codec_error_t check_one_flow(const Zflow__Flow *f)
{
    Zflow__Envelope env;
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    Zflow__Flow *flows[1] = {(Zflow__Flow *)f};
    codec_msg_t *msg = NULL;
    env_header(&env, 1);
    batch.n_flows = 1;
    batch.flows = flows;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;
    codec_error_t err = roundtrip(&env, &msg);
    codec_msg_destroy(&msg);
    return err;
}

static void test_flow_roundtrip(void)
{
    Zflow__Flow a, b;
    flow_full(&a);
    flow_min(&b);
    b.flow_id = 2;
    Zflow__Flow *flows[2] = {&a, &b};
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    batch.n_flows = 2;
    batch.flows = flows;
    Zflow__Envelope env;
    codec_msg_t *msg = NULL;
    env_header(&env, 7);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;

    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    CHECK(buf != NULL);
    CHECK_EQ(codec_unpack(buf, len, &msg), CODEC_OK);
    {
        /* field number 0 does not exist: refused, even as an unknown field */
        uint8_t *zero = malloc(len + 2);
        CHECK(zero != NULL);
        if (zero) {
            codec_msg_t *z = NULL;
            memcpy(zero, buf, len);
            zero[len] = 0x00, zero[len + 1] = 0x00; /* key: field 0, varint; value 0 */
            CHECK_EQ(codec_unpack(zero, len + 2, &z), CODEC_ERR_UNPACK);
            CHECK(z == NULL);
            free(zero);
        }
    }
    const Zflow__Envelope *out = codec_msg_env(msg);
    CHECK(out != NULL);
    if (out) {
        CHECK_EQ(out->schema_version, CODEC_SCHEMA_VERSION);
        CHECK_STREQ(out->probe_id, "probe-1");
        CHECK(out->run_id == 0x1234567890abcdefull);
        CHECK_EQ(out->seq, 7);
        CHECK(out->send_time_ns == 1700000000000000000ull);
        CHECK_EQ(out->payload_case, ZFLOW__ENVELOPE__PAYLOAD_FLOWS);
        CHECK_EQ(out->flows->n_flows, 2);
        CHECK(flow_eq(out->flows->flows[0], &a));
        CHECK(flow_eq(out->flows->flows[1], &b));
        CHECK_EQ(codec_check_flow(out->flows->flows[0]), CODEC_OK);
    }
    codec_msg_destroy(&msg);
    CHECK(msg == NULL);
    free(buf);
    codec_msg_destroy(&msg);
    codec_msg_destroy(NULL);
    CHECK(codec_msg_env(NULL) == NULL);
}

static void test_hello_stats_ack_roundtrip(void)
{
    Zflow__Envelope env;
    const Zflow__Envelope *out;
    codec_msg_t *msg = NULL;
    Zflow__Hello h = ZFLOW__HELLO__INIT;
    h.software_version = "0.1.0";
    h.hostname = "edge-a";
    h.interface = "eth0";
    h.live = 1;
    h.link_type = "EN10MB";
    h.snaplen = 262144;
    h.bpf_filter = "not port 22";
    h.idle_timeout_s = 30;
    h.update_interval_s = 60;
    h.max_flows = 1000000;
    h.l7_enabled = 1;
    h.start_time_ns = 1700000000000000001ull;
    h.pid = 4321;
    h.stats_interval_s = 5;
    env_header(&env, 1);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = &h;
    CHECK_EQ(roundtrip(&env, &msg), CODEC_OK);
    if ((out = codec_msg_env(msg))) {
        const Zflow__Hello *o = out->hello;
        CHECK_EQ(out->payload_case, ZFLOW__ENVELOPE__PAYLOAD_HELLO);
        CHECK_STREQ(o->software_version, "0.1.0");
        CHECK_STREQ(o->hostname, "edge-a");
        CHECK_STREQ(o->interface, "eth0");
        CHECK_EQ(o->live, 1);
        CHECK_STREQ(o->link_type, "EN10MB");
        CHECK_EQ(o->snaplen, 262144);
        CHECK_STREQ(o->bpf_filter, "not port 22");
        CHECK_EQ(o->idle_timeout_s, 30);
        CHECK_EQ(o->update_interval_s, 60);
        CHECK_EQ(o->max_flows, 1000000);
        CHECK_EQ(o->l7_enabled, 1);
        CHECK(o->start_time_ns == 1700000000000000001ull);
        CHECK_EQ(o->pid, 4321);
        CHECK_EQ(o->stats_interval_s, 5);
    }
    codec_msg_destroy(&msg);

    Zflow__Stats s = ZFLOW__STATS__INIT;
    Zflow__Counter c1 = ZFLOW__COUNTER__INIT, c2 = ZFLOW__COUNTER__INIT;
    Zflow__Counter *counters[2] = {&c1, &c2};
    c1.name = "truncated_ipv4";
    c1.value = 3;
    c2.name = "bad_ipv6_version";
    c2.value = 1ull << 40;
    s.interface = "eth0";
    s.pcap_recv = 1;
    s.pcap_drop = 2;
    s.pcap_ifdrop = 3;
    s.packets = 4;
    s.bytes = 5;
    s.active_flows = 6;
    s.flows_created = 7;
    s.flows_ended = 8;
    s.evictions = 9;
    s.export_dropped_batches = 10;
    s.export_dropped_flows = 11;
    s.decode_errors = 12;
    s.n_decode_error_counters = 2;
    s.decode_error_counters = counters;
    s.unacked_batches = 13;
    env_header(&env, 2);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = &s;
    CHECK_EQ(roundtrip(&env, &msg), CODEC_OK);
    if ((out = codec_msg_env(msg))) {
        const Zflow__Stats *o = out->stats;
        CHECK_EQ(out->payload_case, ZFLOW__ENVELOPE__PAYLOAD_STATS);
        CHECK_STREQ(o->interface, "eth0");
        CHECK(o->pcap_recv == 1 && o->pcap_drop == 2 && o->pcap_ifdrop == 3 && o->packets == 4 &&
              o->bytes == 5 && o->active_flows == 6 && o->flows_created == 7 &&
              o->flows_ended == 8 && o->evictions == 9 && o->export_dropped_batches == 10 &&
              o->export_dropped_flows == 11 && o->decode_errors == 12 && o->unacked_batches == 13);
        CHECK_EQ(o->n_decode_error_counters, 2);
        CHECK_STREQ(o->decode_error_counters[0]->name, "truncated_ipv4");
        CHECK_EQ(o->decode_error_counters[0]->value, 3);
        CHECK_STREQ(o->decode_error_counters[1]->name, "bad_ipv6_version");
        CHECK(o->decode_error_counters[1]->value == 1ull << 40);
    }
    codec_msg_destroy(&msg);

    Zflow__Ack ack = ZFLOW__ACK__INIT;
    uint64_t seqs[4] = {5, 1, 300, UINT64_MAX};
    ack.run_id = 99;
    ack.n_seqs = 4;
    ack.seqs = seqs;
    env_header(&env, 0); /* a collector's ack may carry seq 0 */
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    CHECK_EQ(roundtrip(&env, &msg), CODEC_OK);
    if ((out = codec_msg_env(msg))) {
        CHECK_EQ(out->payload_case, ZFLOW__ENVELOPE__PAYLOAD_ACK);
        CHECK_EQ(out->ack->run_id, 99);
        CHECK_EQ(out->ack->n_seqs, 4);
        CHECK(out->ack->n_seqs == 4 && memcmp(out->ack->seqs, seqs, sizeof seqs) == 0);
    }
    codec_msg_destroy(&msg);
}

/* The fast encoder must produce exactly protobuf-c's bytes. */
static void check_batch_bytes(Zflow__Flow **flows, size_t n)
{
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    batch.n_flows = n;
    batch.flows = flows;
    Zflow__Envelope env;
    env_header(&env, 42);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;
    size_t ref_len = 0;
    uint8_t *ref = codec_pack(&env, &ref_len);

    size_t cap = CODEC_MAX_HEADER + n * CODEC_MAX_FLOW_ENCODED;
    uint8_t *body = malloc(cap), *msg = malloc(cap + CODEC_MAX_HEADER);
    size_t body_len = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        int w = codec_pack_batch_flow(flows[i], body + body_len, cap - body_len);
        if (w < 0)
            ok = 0;
        else
            body_len += (size_t)w;
    }
    CHECK(ok);
    int h = codec_pack_batch_header(&env, body_len, msg, CODEC_MAX_HEADER);
    CHECK(h > 0);
    if (h > 0) memcpy(msg + h, body, body_len);
    CHECK(ref != NULL);
    CHECK_EQ(ref_len, (size_t)h + body_len);
    CHECK(ref && ref_len == (size_t)h + body_len && memcmp(ref, msg, ref_len) == 0);
    free(ref);
    free(body);
    free(msg);
}

static char *repeat_char(char c, size_t n)
{
    char *s = malloc(n + 1);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_fast_encoder(void)
{
    Zflow__Flow full, min, tiny, big, neg;
    flow_full(&full);
    flow_min(&min);
    tiny = (Zflow__Flow)ZFLOW__FLOW__INIT; /* empty body: length 0 */
    flow_full(&big);
    char *s1024 = repeat_char('x', CODEC_MAX_STRING);
    big.l7_master_name = big.l7_app_name = big.l7_proto_name = big.l7_category = s1024;
    big.server_name = big.interface = big.community_id = s1024;
    big.client_ip = (ProtobufCBinaryData){16, v6_cli};
    big.server_ip = (ProtobufCBinaryData){16, v6_srv};
    big.ip_version = 6;
    big.tunnel_outer_src = (ProtobufCBinaryData){16, v6_cli};
    big.tunnel_outer_dst = (ProtobufCBinaryData){16, v6_srv};
    big.flow_id = UINT64_MAX;
    big.client_rtt_us = UINT64_MAX;
    big.l7_risk_score = UINT32_MAX;
    flow_min(&neg);
    neg.event = (Zflow__FlowEvent)-1; /* int32 enums: 10 bytes on the wire */
    neg.tunnel_type = (Zflow__TunnelType)-7;

    Zflow__Flow *set1[] = {&full};
    Zflow__Flow *set2[] = {&min, &tiny, &full, &big, &neg, &min};
    check_batch_bytes(set1, 1);
    check_batch_bytes(set2, 6);
    CHECK_EQ(codec_check_flow(&big), CODEC_OK);

    uint8_t buf[CODEC_MAX_FLOW_ENCODED];
    int n = codec_pack_batch_flow(&big, buf, sizeof buf);
    CHECK(n > 0 && (size_t)n <= CODEC_MAX_FLOW_ENCODED);
    /* too small a buffer is refused, never overrun */
    CHECK_EQ(codec_pack_batch_flow(&full, buf, 10), -1);
    CHECK_EQ(codec_pack_batch_flow(&full, buf, 0), -1);
    Zflow__Envelope env;
    env_header(&env, 1);
    CHECK_EQ(codec_pack_batch_header(&env, 100, buf, 10), -1);
    env.probe_id = repeat_char('p', CODEC_MAX_STRING + 1);
    CHECK_EQ(codec_pack_batch_header(&env, 100, buf, sizeof buf), -1);
    free(env.probe_id);
    free(s1024);
}

static void test_errors_envelope(void)
{
    Zflow__Envelope env;
    codec_msg_t *out = (codec_msg_t *)1;
    uint8_t junk[32];
    memset(junk, 0xff, sizeof junk);
    CHECK_EQ(codec_unpack(junk, 0, &out), CODEC_ERR_EMPTY);
    CHECK(out == NULL);
    CHECK_EQ(codec_unpack(NULL, 10, &out), CODEC_ERR_EMPTY);
    CHECK_EQ(codec_unpack(junk, sizeof junk, &out), CODEC_ERR_UNPACK);
    CHECK(out == NULL);
    uint8_t group[] = {0x0b, 0x0c}; /* group wire types are not accepted */
    CHECK(codec_unpack(group, sizeof group, &out) != CODEC_OK);

    uint8_t *huge = calloc(1, CODEC_MAX_MESSAGE + 1);
    CHECK_EQ(codec_unpack(huge, CODEC_MAX_MESSAGE + 1, &out), CODEC_ERR_TOO_BIG);
    free(huge);

    Zflow__Hello h = ZFLOW__HELLO__INIT;
    env_header(&env, 1);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = &h;
    env.schema_version = 0;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_VERSION);
    env.schema_version = 2;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_VERSION);
    env.schema_version = CODEC_SCHEMA_VERSION;
    env.probe_id = "";
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_NO_PROBE_ID);
    env.probe_id = repeat_char('p', CODEC_MAX_STRING + 1);
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    free(env.probe_id);
    env.probe_id = repeat_char('p', CODEC_MAX_STRING);
    CHECK_EQ(roundtrip(&env, &out), CODEC_OK);
    codec_msg_destroy(&out);
    free(env.probe_id);
    env.probe_id = "probe-1";
    env.seq = 0;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    env.seq = 1;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD__NOT_SET;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_NO_PAYLOAD);
    CHECK(out == NULL);

    /* hello / stats strings and counters are capped */
    char *long_s = repeat_char('h', CODEC_MAX_STRING + 1);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    h.bpf_filter = long_s;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    h.bpf_filter = "";
    Zflow__Stats s = ZFLOW__STATS__INIT;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = &s;
    s.interface = long_s;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    s.interface = "eth0";
    size_t nc = CODEC_MAX_COUNTERS + 1;
    Zflow__Counter c = ZFLOW__COUNTER__INIT;
    Zflow__Counter **cs = malloc(nc * sizeof *cs);
    for (size_t i = 0; i < nc; i++)
        cs[i] = &c;
    c.name = "x";
    s.decode_error_counters = cs;
    s.n_decode_error_counters = nc;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    s.n_decode_error_counters = CODEC_MAX_COUNTERS;
    CHECK_EQ(roundtrip(&env, &out), CODEC_OK);
    codec_msg_destroy(&out);
    s.n_decode_error_counters = 1;
    c.name = long_s;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    free(cs);

    Zflow__Ack ack = ZFLOW__ACK__INIT;
    ack.n_seqs = CODEC_MAX_ACK_SEQS + 1;
    ack.seqs = calloc(ack.n_seqs, sizeof *ack.seqs);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    ack.n_seqs = CODEC_MAX_ACK_SEQS;
    CHECK_EQ(roundtrip(&env, &out), CODEC_OK);
    codec_msg_destroy(&out);
    free(ack.seqs);
    free(long_s);
}

static void test_truncation(void)
{
    Zflow__Flow a, b;
    flow_full(&a);
    flow_min(&b);
    Zflow__Flow *flows[2] = {&a, &b};
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    batch.n_flows = 2;
    batch.flows = flows;
    Zflow__Envelope env;
    codec_msg_t *out = NULL;
    env_header(&env, 3);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;
    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    int all_rejected = 1;
    for (size_t cut = 0; cut < len; cut++) {
        /* a fresh heap copy of exactly `cut` bytes, so ASan sees any read past the end */
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, buf, cut);
        if (codec_unpack(part, cut, &out) == CODEC_OK) {
            all_rejected = 0;
            codec_msg_destroy(&out);
        }
        CHECK(1);
        free(part);
    }
    CHECK(all_rejected);
    /* every single-byte corruption either fails cleanly or decodes to something valid */
    for (size_t i = 0; i < len; i++) {
        uint8_t saved = buf[i];
        buf[i] ^= 0xa5;
        if (codec_unpack(buf, len, &out) == CODEC_OK) codec_msg_destroy(&out);
        buf[i] = saved;
    }
    free(buf);
}

static void test_errors_flow(void)
{
    Zflow__Flow f;
    flow_full(&f);
    CHECK_EQ(check_one_flow(&f), CODEC_OK);
    CHECK_EQ(codec_check_flow(NULL), CODEC_ERR_RANGE);

#define BAD(...)                                                                                   \
    do {                                                                                           \
        flow_full(&f);                                                                             \
        __VA_ARGS__;                                                                               \
        CHECK_EQ(codec_check_flow(&f), CODEC_ERR_RANGE);                                           \
        CHECK_EQ(check_one_flow(&f), CODEC_ERR_RANGE);                                             \
    } while (0)
    BAD(f.ip_version = 5);
    BAD(f.ip_version = 0);
    BAD(f.ip_version = 6);                                /* 4-byte addresses */
    BAD(f.client_ip = (ProtobufCBinaryData){16, v6_cli}); /* v4 with a v6 address */
    BAD(f.server_ip = (ProtobufCBinaryData){3, v4_srv});
    BAD(f.client_ip = (ProtobufCBinaryData){0, NULL});
    BAD(f.client_port = 65536);
    BAD(f.server_port = 70000);
    BAD(f.l4_proto = 256);
    BAD(f.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_UNSPECIFIED);
    BAD(f.event = (Zflow__FlowEvent)5);
    BAD(f.event = (Zflow__FlowEvent)-1);
    BAD(f.end_reason = (Zflow__EndReason)8);
    BAD(f.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE); /* end_reason only on END */
    BAD(f.tunnel_type = (Zflow__TunnelType)8);
    BAD(f.c2s_tcp_flags = 256);
    BAD(f.s2c_tos = 256);
    BAD(f.max_ttl = 300);
    BAD(f.icmp_code = 256);
    BAD(f.vlan_outer = 4096);
    BAD(f.vlan_inner = 5000);
    BAD(f.client_mac = (ProtobufCBinaryData){5, mac_a});
    BAD(f.server_mac = (ProtobufCBinaryData){8, v6_cli});
    BAD(f.tunnel_outer_src = (ProtobufCBinaryData){5, v6_cli});
    BAD(f.tunnel_outer_dst = (ProtobufCBinaryData){15, v6_cli});
    char *long_s = repeat_char('s', CODEC_MAX_STRING + 1);
    BAD(f.l7_master_name = long_s);
    BAD(f.l7_app_name = long_s);
    BAD(f.l7_proto_name = long_s);
    BAD(f.l7_category = long_s);
    BAD(f.server_name = long_s);
    BAD(f.interface = long_s);
    BAD(f.community_id = long_s);
#undef BAD
    free(long_s);

    /* what must pass */
    flow_full(&f);
    f.end_reason = ZFLOW__END_REASON__END_REASON_PROBE_RESTART;
    f.tunnel_type = ZFLOW__TUNNEL_TYPE__TUNNEL_TEREDO;
    f.client_port = f.server_port = 65535;
    f.l4_proto = 255;
    f.tunnel_outer_src = (ProtobufCBinaryData){16, v6_cli};
    f.client_mac = (ProtobufCBinaryData){0, NULL};
    CHECK_EQ(check_one_flow(&f), CODEC_OK);
}

static void test_batch_caps(void)
{
    /* more flows than allowed */
    Zflow__Flow f;
    flow_min(&f);
    size_t n = CODEC_MAX_FLOWS_PER_BATCH + 1;
    Zflow__Flow **flows = malloc(n * sizeof *flows);
    for (size_t i = 0; i < n; i++)
        flows[i] = &f;
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    batch.flows = flows;
    batch.n_flows = n;
    Zflow__Envelope env;
    codec_msg_t *out = NULL;
    env_header(&env, 1);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;
    CHECK_EQ(roundtrip(&env, &out), CODEC_ERR_RANGE);
    batch.n_flows = CODEC_MAX_FLOWS_PER_BATCH;
    CHECK_EQ(roundtrip(&env, &out), CODEC_OK);
    codec_msg_destroy(&out);

    /* codec_pack refuses more than CODEC_MAX_MESSAGE */
    Zflow__Flow big;
    flow_full(&big);
    char *s1024 = repeat_char('y', CODEC_MAX_STRING);
    big.l7_master_name = big.l7_app_name = big.l7_proto_name = big.l7_category = s1024;
    big.server_name = big.interface = big.community_id = s1024;
    batch.n_flows = CODEC_MAX_MESSAGE / (7 * CODEC_MAX_STRING) + 16;
    for (size_t i = 0; i < batch.n_flows; i++)
        flows[i] = &big;
    size_t len = 1;
    CHECK(codec_pack(&env, &len) == NULL);
    CHECK_EQ(len, 0);
    free(s1024);

    /* tiny repeated messages: the decoded form would be ~200x the wire form -> budget */
    size_t nflows = 1u << 20, body = 2 * nflows;
    uint8_t *msg = malloc(64 + body), *p = msg;
    *p++ = 0x08;
    *p++ = 0x01; /* schema_version = 1 */
    *p++ = 0x12;
    *p++ = 0x01;
    *p++ = 'p'; /* probe_id = "p" */
    *p++ = 0x20;
    *p++ = 0x01; /* seq = 1 */
    *p++ = 0x52; /* flows, length: */
    for (size_t v = body;; v >>= 7) {
        *p++ = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
        if (v < 0x80) break;
    }
    for (size_t i = 0; i < nflows; i++) {
        *p++ = 0x0a;
        *p++ = 0x00;
    }
    CHECK_EQ(codec_unpack(msg, (size_t)(p - msg), &out), CODEC_ERR_TOO_BIG);
    CHECK(out == NULL);
    free(msg);
    free(flows);
}

/* The decoded form lives in an arena: a full batch of real-sized flows fits in its budget, a
 * message larger than the first block estimate grows it, and unknown fields are kept in it. */
static void test_arena(void)
{
    /* every flow has more than 16 fields, so protobuf-c takes a scratch array for each (a heap
     * budget charged with all of those refused this 14 MB batch) */
    Zflow__Flow f;
    flow_full(&f);
    f.server_name = f.community_id = NULL; /* 65536 full flows would be over 16 MiB */
    size_t n = CODEC_MAX_FLOWS_PER_BATCH;
    Zflow__Flow **flows = malloc(n * sizeof *flows);
    for (size_t i = 0; i < n; i++)
        flows[i] = &f;
    Zflow__FlowBatch batch = ZFLOW__FLOW_BATCH__INIT;
    batch.flows = flows;
    batch.n_flows = n;
    Zflow__Envelope env;
    env_header(&env, 1);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &batch;
    CHECK(zflow__envelope__get_packed_size(&env) <= CODEC_MAX_MESSAGE);
    codec_msg_t *msg = NULL;
    CHECK_EQ(roundtrip(&env, &msg), CODEC_OK);
    const Zflow__Envelope *out = codec_msg_env(msg);
    CHECK(out && out->flows->n_flows == n && flow_eq(out->flows->flows[0], &f) &&
          flow_eq(out->flows->flows[n - 1], &f));
    codec_msg_destroy(&msg);

    /* minimal flows decode to ~10 times their wire size: more than the first block */
    Zflow__Flow m;
    flow_min(&m);
    for (size_t i = 0; i < n; i++)
        flows[i] = &m;
    CHECK_EQ(roundtrip(&env, &msg), CODEC_OK);
    out = codec_msg_env(msg);
    CHECK(out && out->flows->n_flows == n && flow_eq(out->flows->flows[n - 1], &m));
    codec_msg_destroy(&msg);
    free(flows);

    /* unknown fields (a newer sender) are kept in the arena and ignored */
    Zflow__Hello h = ZFLOW__HELLO__INIT;
    h.hostname = "edge-a";
    env_header(&env, 2);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = &h;
    size_t len = zflow__envelope__get_packed_size(&env);
    uint8_t *buf = malloc(len + 4 + 600);
    zflow__envelope__pack(&env, buf);
    buf[len++] = 0xfa; /* field 127, length-delimited, 600 bytes */
    buf[len++] = 0x07;
    buf[len++] = 0xd8;
    buf[len++] = 0x04;
    memset(buf + len, 0x5a, 600);
    len += 600;
    CHECK_EQ(codec_unpack(buf, len - 1, &msg), CODEC_ERR_UNPACK);
    CHECK_EQ(codec_unpack(buf, len, &msg), CODEC_OK);
    out = codec_msg_env(msg);
    /* (protobuf-c keeps the length prefix with the data) */
    CHECK(out && out->seq == 2 && out->hello && str_eq(out->hello->hostname, "edge-a") &&
          out->base.n_unknown_fields == 1 && out->base.unknown_fields[0].tag == 127 &&
          out->base.unknown_fields[0].len == 602 && out->base.unknown_fields[0].data[601] == 0x5a);
    codec_msg_destroy(&msg);
    free(buf);
}

static void test_names(void)
{
    CHECK_STREQ(codec_error_name(CODEC_OK), "ok");
    CHECK_STREQ(codec_error_name(CODEC_ERR_EMPTY), "empty");
    CHECK_STREQ(codec_error_name(CODEC_ERR_TOO_BIG), "too_big");
    CHECK_STREQ(codec_error_name(CODEC_ERR_UNPACK), "unpack");
    CHECK_STREQ(codec_error_name(CODEC_ERR_VERSION), "version");
    CHECK_STREQ(codec_error_name(CODEC_ERR_NO_PROBE_ID), "no_probe_id");
    CHECK_STREQ(codec_error_name(CODEC_ERR_NO_PAYLOAD), "no_payload");
    CHECK_STREQ(codec_error_name(CODEC_ERR_RANGE), "range");
    CHECK_STREQ(codec_error_name(CODEC_ERR_COUNT), "unknown");
    CHECK_STREQ(codec_error_name((codec_error_t)-1), "unknown");
    CHECK_STREQ(codec_event_name(ZFLOW__FLOW_EVENT__FLOW_EVENT_L7), "l7");
    CHECK_STREQ(codec_event_name((Zflow__FlowEvent)9), "unknown");
    CHECK_STREQ(codec_end_reason_name(ZFLOW__END_REASON__END_REASON_EVICTED), "evicted");
    CHECK_STREQ(codec_end_reason_name(ZFLOW__END_REASON__END_REASON_PROBE_DOWN), "probe_down");
    CHECK_STREQ(codec_end_reason_name(ZFLOW__END_REASON__END_REASON_PROBE_RESTART),
                "probe_restart");
    CHECK_STREQ(codec_end_reason_name((Zflow__EndReason)9), "unknown");
    CHECK_STREQ(codec_tunnel_name(ZFLOW__TUNNEL_TYPE__TUNNEL_GTPU), "gtpu");
    CHECK_STREQ(codec_tunnel_name(ZFLOW__TUNNEL_TYPE__TUNNEL_IPIP), "ipip");
    CHECK_STREQ(codec_tunnel_name((Zflow__TunnelType)99), "unknown");
}

static const char full_json[] =
    "{\"flow_id\":1,\"event\":\"end\",\"end_reason\":\"tcp_fin\","
    "\"first_seen_ns\":1700000000123456789,\"last_seen_ns\":1700000005987654321,"
    "\"ip_version\":4,\"client_ip\":\"10.0.0.1\",\"server_ip\":\"192.168.200.254\","
    "\"client_port\":51234,\"server_port\":443,\"l4_proto\":6,\"c2s_bytes\":1234,"
    "\"s2c_bytes\":56789012345,\"c2s_packets\":12,\"s2c_packets\":40,\"c2s_tcp_flags\":27,"
    "\"s2c_tcp_flags\":31,\"c2s_tos\":16,\"s2c_tos\":184,\"min_ttl\":57,\"max_ttl\":64,"
    "\"icmp_type\":3,\"icmp_code\":13,\"vlan_outer\":100,\"vlan_inner\":4095,"
    "\"client_mac\":\"aa:bb:cc:dd:ee:ff\",\"server_mac\":\"00:1b:21:3c:4d:5e\","
    "\"tunnel_type\":\"vxlan\",\"tunnel_id\":4242,\"tunnel_outer_src\":\"172.16.0.1\","
    "\"tunnel_outer_dst\":\"172.16.0.2\",\"l7_master_id\":91,\"l7_app_id\":126,"
    "\"l7_master_name\":\"TLS\",\"l7_app_name\":\"Google\",\"l7_proto_name\":\"TLS.Google\","
    "\"l7_category_id\":5,\"l7_category\":\"Web\",\"l7_risk\":9223372036854775809,"
    "\"server_name\":\"www.google.com\",\"client_rtt_us\":1500,\"server_rtt_us\":23000,"
    "\"c2s_retransmissions\":2,\"s2c_retransmissions\":3,\"interface\":\"eth0\","
    "\"community_id\":\"1:LQU9qZlK+B5F3KDmev6m5PMibrg=\",\"l7_risk_score\":110}\n";

static const char min_json[] =
    "{\"flow_id\":0,\"event\":\"new\",\"end_reason\":\"none\",\"first_seen_ns\":0,"
    "\"last_seen_ns\":0,\"ip_version\":6,\"client_ip\":\"2001:db8::1\","
    "\"server_ip\":\"fe80::21b:21ff:fe3c:4d5e\",\"client_port\":0,\"server_port\":0,"
    "\"l4_proto\":0,\"c2s_bytes\":0,\"s2c_bytes\":0,\"c2s_packets\":0,\"s2c_packets\":0,"
    "\"c2s_tcp_flags\":0,\"s2c_tcp_flags\":0,\"c2s_tos\":0,\"s2c_tos\":0,\"min_ttl\":0,"
    "\"max_ttl\":0,\"icmp_type\":0,\"icmp_code\":0,\"vlan_outer\":0,\"vlan_inner\":0,"
    "\"client_mac\":\"\",\"server_mac\":\"\",\"tunnel_type\":\"none\",\"tunnel_id\":0,"
    "\"tunnel_outer_src\":\"\",\"tunnel_outer_dst\":\"\",\"l7_master_id\":0,\"l7_app_id\":0,"
    "\"l7_master_name\":\"\",\"l7_app_name\":\"\",\"l7_proto_name\":\"\",\"l7_category_id\":0,"
    "\"l7_category\":\"\",\"l7_risk\":0,\"server_name\":\"\",\"client_rtt_us\":0,"
    "\"server_rtt_us\":0,\"c2s_retransmissions\":0,\"s2c_retransmissions\":0,"
    "\"interface\":\"\",\"community_id\":\"\",\"l7_risk_score\":0}\n";

static void test_json(void)
{
    Zflow__Flow f;
    char buf[CODEC_MAX_FLOW_JSON];
    flow_full(&f);
    int n = codec_flow_to_json_buf(&f, buf, sizeof buf);
    CHECK_EQ(n, (int)strlen(full_json));
    CHECK_STREQ(buf, full_json);
    /* every smaller buffer is refused; the exact size fits (no room for the NUL) */
    int refused = 1;
    char *exact = malloc((size_t)n);
    for (int size = 0; size < n; size++)
        if (codec_flow_to_json_buf(&f, exact, (size_t)size) != -1) refused = 0;
    CHECK(refused);
    CHECK_EQ(codec_flow_to_json_buf(&f, exact, (size_t)n), n);
    CHECK(memcmp(exact, full_json, (size_t)n) == 0);
    free(exact);

    flow_min(&f);
    f.l7_master_name = NULL; /* NULL strings print as "" */
    CHECK(codec_flow_to_json_buf(&f, buf, sizeof buf) > 0);
    CHECK_STREQ(buf, min_json);

    /* the FILE variant writes the same line */
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *out = open_memstream(&mem, &mem_len);
    flow_full(&f);
    CHECK_EQ(codec_flow_to_json(&f, out), 0);
    flow_min(&f);
    CHECK_EQ(codec_flow_to_json(&f, out), 0);
    fclose(out);
    char both[sizeof full_json + sizeof min_json];
    snprintf(both, sizeof both, "%s%s", full_json, min_json);
    CHECK_STREQ(mem, both);
    free(mem);
}

static void test_json_escape(void)
{
    Zflow__Flow f;
    char buf[CODEC_MAX_FLOW_JSON];
    flow_min(&f);
    f.server_name = "q\"b\\n\nr\rt\tb\bf\f\x01\x1f\x7f/";
    f.interface = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* valid UTF-8 */
    f.l7_category = "\xff|\xc3|\xc0\x80|\xed\xa0\x80|\xf5\x80|\xe2\x82|\xf4\x90\x80\x80";
    f.community_id = "end\xc3"; /* cut sequence */
    CHECK(codec_flow_to_json_buf(&f, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"server_name\":\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f\\u0001\\u001f\x7f/\"") !=
          NULL);
    CHECK(strstr(buf, "\"interface\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"") != NULL);
    CHECK(strstr(buf, "\"l7_category\":\"\\u00ff|\\u00c3|\\u00c0\\u0080|\\u00ed\\u00a0\\u0080|"
                      "\\u00f5\\u0080|\\u00e2\\u0082|\\u00f4\\u0090\\u0080\\u0080\"") != NULL);
    CHECK(strstr(buf, "\"community_id\":\"end\\u00c3\"") != NULL);

    /* the worst case (every byte escaped, every string at the cap) fits CODEC_MAX_FLOW_JSON and
     * goes through the heap path of codec_flow_to_json */
    char *ctl = repeat_char('\x01', CODEC_MAX_STRING);
    f.l7_master_name = f.l7_app_name = f.l7_proto_name = f.l7_category = ctl;
    f.server_name = f.interface = f.community_id = ctl;
    CHECK_EQ(codec_check_flow(&f), CODEC_OK);
    int n = codec_flow_to_json_buf(&f, buf, sizeof buf);
    CHECK(n > 7 * 6 * (int)CODEC_MAX_STRING);
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *out = open_memstream(&mem, &mem_len);
    CHECK_EQ(codec_flow_to_json(&f, out), 0);
    fclose(out);
    CHECK_EQ(mem_len, (size_t)n);
    CHECK(mem_len == (size_t)n && memcmp(mem, buf, (size_t)n) == 0);
    free(mem);
    free(ctl);
}

int main(void)
{
    test_flow_roundtrip();
    test_hello_stats_ack_roundtrip();
    test_fast_encoder();
    test_errors_envelope();
    test_truncation();
    test_errors_flow();
    test_batch_caps();
    test_arena();
    test_names();
    test_json();
    test_json_escape();
    return check_report();
}
