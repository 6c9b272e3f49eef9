/* make_codec_corpus: seed corpus for fuzz_codec: envelopes of every payload a probe or a
 * collector sends (flow batches from the batch encoder with IPv4/IPv6, tunnels, MACs and every
 * string field, hello, stats, ack), one file each.
 * usage: make_codec_corpus OUT_DIR */
#include "codec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int write_seed(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "make_codec_corpus: cannot write %s\n", path);
        return -1;
    }
    return 0;
}

static void header(Zflow__Envelope *env, uint64_t seq)
{
    env->schema_version = CODEC_SCHEMA_VERSION;
    env->probe_id = (char *)"probe-a:eth0";
    env->run_id = 0x1234567890abcdefull;
    env->seq = seq;
    env->send_time_ns = 1700000000123456789ull;
}

static int write_env(const char *dir, const char *name, const Zflow__Envelope *env)
{
    size_t len = 0;
    uint8_t *buf = codec_pack(env, &len);
    if (!buf) return -1;
    int rc = write_seed(dir, name, buf, len);
    free(buf);
    return rc;
}

/* A batch of `n` flows through the batch encoder, as the probe sends them. */
static int write_batch(const char *dir, const char *name, int n, int v6, int rich)
{
    static uint8_t body[64 * CODEC_MAX_FLOW_ENCODED], msg[sizeof body + CODEC_MAX_HEADER];
    uint8_t cli[16] = {10, 0, 0, 1}, srv[16] = {192, 0, 2, 7}, mac1[6] = {2, 0, 0, 0, 0, 1},
            mac2[6] = {2, 0, 0, 0, 0, 2}, o1[4] = {198, 51, 100, 1}, o2[4] = {198, 51, 100, 2};
    if (v6) {
        memset(cli, 0, sizeof cli), memset(srv, 0, sizeof srv);
        cli[0] = 0x20, cli[1] = 0x01, cli[15] = 1;
        srv[0] = 0x20, srv[1] = 0x01, srv[15] = 2;
    }
    size_t blen = 0;
    for (int i = 0; i < n && i < 64; i++) {
        Zflow__Flow f = ZFLOW__FLOW__INIT;
        f.flow_id = (uint64_t)i + 1;
        f.event = (Zflow__FlowEvent)(1 + i % 4);
        f.end_reason = f.event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END
                           ? ZFLOW__END_REASON__END_REASON_TCP_FIN
                           : ZFLOW__END_REASON__END_REASON_NONE;
        f.first_seen_ns = 1700000000000000000ull + (uint64_t)i;
        f.last_seen_ns = f.first_seen_ns + 5000000;
        f.ip_version = v6 ? 6 : 4;
        f.client_ip = (ProtobufCBinaryData){v6 ? 16u : 4u, cli};
        f.server_ip = (ProtobufCBinaryData){v6 ? 16u : 4u, srv};
        f.client_port = 40000u + (uint32_t)i;
        f.server_port = i % 2 ? 443 : 53;
        f.l4_proto = i % 2 ? 6 : 17;
        f.c2s_bytes = 1500, f.s2c_bytes = 9000, f.c2s_packets = 10, f.s2c_packets = 12;
        f.c2s_tcp_flags = 0x1b, f.s2c_tcp_flags = 0x12, f.min_ttl = 60, f.max_ttl = 64;
        f.interface = (char *)"eth0";
        f.community_id = (char *)"1:LQU9qZlK+B5F3KDmev6m5PMibrg=";
        if (rich) {
            f.client_mac = (ProtobufCBinaryData){6, mac1};
            f.server_mac = (ProtobufCBinaryData){6, mac2};
            f.vlan_outer = 100, f.vlan_inner = 200;
            f.tunnel_type = ZFLOW__TUNNEL_TYPE__TUNNEL_VXLAN, f.tunnel_id = 4242;
            f.tunnel_outer_src = (ProtobufCBinaryData){4, o1};
            f.tunnel_outer_dst = (ProtobufCBinaryData){4, o2};
            f.l7_master_id = 91, f.l7_app_id = 126, f.l7_category_id = 5;
            f.l7_master_name = (char *)"TLS", f.l7_app_name = (char *)"Google";
            f.l7_proto_name = (char *)"TLS.Google", f.l7_category = (char *)"Web";
            f.l7_risk = 1u << 5, f.l7_risk_score = 10;
            f.server_name = (char *)"www.example.org";
            f.client_rtt_us = 1200, f.server_rtt_us = 800;
            f.c2s_retransmissions = 1, f.s2c_retransmissions = 2;
        }
        int k = codec_pack_batch_flow(&f, body + blen, sizeof body - blen);
        if (k < 0) return -1;
        blen += (size_t)k;
    }
    Zflow__Envelope hdr = ZFLOW__ENVELOPE__INIT;
    header(&hdr, 7);
    int h = codec_pack_batch_header(&hdr, blen, msg, CODEC_MAX_HEADER);
    if (h < 0) return -1;
    memcpy(msg + h, body, blen);
    return write_seed(dir, name, msg, (size_t)h + blen);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_codec_corpus OUT_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;
    rc |= write_batch(dir, "batch-1-v4", 1, 0, 0);
    rc |= write_batch(dir, "batch-8-v4-rich", 8, 0, 1);
    rc |= write_batch(dir, "batch-8-v6", 8, 1, 0);
    rc |= write_batch(dir, "batch-64-v6-rich", 64, 1, 1);

    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    header(&env, 1);
    Zflow__Hello hello = ZFLOW__HELLO__INIT;
    hello.software_version = (char *)"0.1.0", hello.hostname = (char *)"edge-1";
    hello.interface = (char *)"eth0", hello.live = 1, hello.link_type = (char *)"EN10MB";
    hello.snaplen = 65535, hello.bpf_filter = (char *)"not port 22";
    hello.idle_timeout_s = 30, hello.update_interval_s = 60, hello.max_flows = 1000000;
    hello.l7_enabled = 1, hello.start_time_ns = 1700000000000000000ull, hello.pid = 4242;
    hello.stats_interval_s = 5;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = &hello;
    rc |= write_env(dir, "hello", &env);

    Zflow__Counter c1 = ZFLOW__COUNTER__INIT, c2 = ZFLOW__COUNTER__INIT;
    c1.name = (char *)"truncated_ipv4", c1.value = 3;
    c2.name = (char *)"bad_tcp_offset", c2.value = 1;
    Zflow__Counter *counters[] = {&c1, &c2};
    Zflow__Stats stats = ZFLOW__STATS__INIT;
    stats.interface = (char *)"eth0", stats.pcap_recv = 1000, stats.pcap_drop = 2;
    stats.packets = 998, stats.bytes = 123456, stats.active_flows = 17, stats.decode_errors = 4;
    stats.n_decode_error_counters = 2, stats.decode_error_counters = counters;
    env.seq = 2;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = &stats;
    rc |= write_env(dir, "stats", &env);

    uint64_t seqs[] = {1, 2, 3, 7, 9};
    Zflow__Ack ack = ZFLOW__ACK__INIT;
    ack.run_id = env.run_id, ack.n_seqs = 5, ack.seqs = seqs;
    env.seq = 0;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_ACK;
    env.ack = &ack;
    rc |= write_env(dir, "ack", &env);
    return rc ? 1 : 0;
}
