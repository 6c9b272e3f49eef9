/* zflow-loadgen: a synthetic probe for benchmarks: real protobuf batches over ZeroMQ through the
 * probe's exporter (acknowledgements and resends included), as fast as the collector takes them. */
#include "codec.h"
#include "community_id.h"
#include "export.h"
#include "timebase.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
    fprintf(stderr, "Usage: zflow-loadgen --collector EP [--probe-id ID] [--flows N] "
                    "[--active N] [--batch-flows N] [--l7] [--seed N]\n"
                    "Sends N flows (new, l7 when --l7, end) with up to --active flows open at a "
                    "time; prints one JSON result line.\n");
}

int main(int argc, char **argv)
{
    const char *endpoint = NULL, *probe_id = "loadgen";
    uint64_t flows = 100000, active = 1000;
    uint32_t batch = 512, seed = 1;
    int l7 = 0;
    static const struct option longopts[] = {
        {"collector", required_argument, NULL, 'c'}, {"probe-id", required_argument, NULL, 'p'},
        {"flows", required_argument, NULL, 'n'},     {"active", required_argument, NULL, 'a'},
        {"batch-flows", required_argument, NULL, 'b'}, {"l7", no_argument, NULL, 'l'},
        {"seed", required_argument, NULL, 's'},      {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "c:p:n:a:b:ls:", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': endpoint = optarg; break;
        case 'p': probe_id = optarg; break;
        case 'n': flows = strtoull(optarg, NULL, 10); break;
        case 'a': active = strtoull(optarg, NULL, 10); break;
        case 'b': batch = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'l': l7 = 1; break;
        case 's': seed = (uint32_t)strtoul(optarg, NULL, 10); break;
        default: usage(); return 2;
        }
    }
    if (!endpoint || !flows || !active || !batch) {
        usage();
        return 2;
    }
    export_config_t cfg = {0};
    cfg.endpoint = endpoint;
    cfg.probe_id = probe_id;
    if (getrandom(&cfg.run_id, sizeof cfg.run_id, 0) != sizeof cfg.run_id)
        cfg.run_id = wall_ns();
    cfg.batch_flows = batch;
    cfg.batch_ms = 50;
    cfg.max_unacked = 1024;
    cfg.resend_ms = 5000;
    export_t *exp = export_new(&cfg);
    if (!exp)
        return 1;

    /* Flow i is opened at step i and closed at step i + active: `active` flows stay open. */
    Zflow__Flow f = ZFLOW__FLOW__INIT;
    uint8_t cli[4], srv[4];
    f.ip_version = 4;
    f.client_ip.data = cli;
    f.client_ip.len = 4;
    f.server_ip.data = srv;
    f.server_ip.len = 4;
    f.interface = (char *)"eth0";
    f.l7_master_name = (char *)"TLS";
    f.l7_app_name = (char *)"Google";
    f.l7_category = (char *)"Web";
    /* A flow's Community ID, computed when it opens and kept until it closes (a ring of
     * `active` slots: flow i opens at step i and closes at step i + active). */
    char(*cids)[COMMUNITY_ID_LEN] = calloc((size_t)active, COMMUNITY_ID_LEN);
    if (!cids) {
        export_destroy(&exp);
        return 1;
    }
    uint64_t start = wall_ns();
    uint64_t steps = flows + active;
    for (uint64_t step = 0; step < steps; step++) {
        for (int phase = 0; phase < 2; phase++) {
            uint64_t id = phase == 0 ? step : step - active;
            if ((phase == 0 && step >= flows) || (phase == 1 && step < active))
                continue;
            uint32_t h = (uint32_t)(id * 2654435761u) ^ seed;
            cli[0] = 10, cli[1] = (uint8_t)(h >> 16), cli[2] = (uint8_t)(h >> 8), cli[3] = (uint8_t)h;
            srv[0] = 192, srv[1] = 0, srv[2] = 2, srv[3] = (uint8_t)(id % 200);
            f.flow_id = id + 1;
            f.l4_proto = (id % 4 == 0) ? 17 : 6;
            f.client_port = 1024 + (uint32_t)(id % 60000);
            f.server_port = (id % 4 == 0) ? 53 : 443;
            /* each flow its own Community ID, as real traffic has */
            char *cid = cids[id % active];
            if (phase == 0 &&
                community_id_v1(0, 4, cli, srv, (uint8_t)f.l4_proto, (uint16_t)f.client_port,
                                (uint16_t)f.server_port, 0, cid) != 0)
                cid[0] = '\0';
            f.community_id = cid; /* empty when it could not be computed */
            f.first_seen_ns = start + id * 1000;
            f.last_seen_ns = f.first_seen_ns + 1000000;
            uint64_t now = wall_ns();
            if (phase == 0) {
                f.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW;
                f.end_reason = ZFLOW__END_REASON__END_REASON_NONE;
                f.c2s_packets = 1, f.c2s_bytes = 60, f.s2c_packets = 0, f.s2c_bytes = 0;
                f.l7_proto_name = (char *)"";
                export_add_flow(exp, &f, now);
                if (l7) {
                    f.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_L7;
                    f.l7_master_id = 91, f.l7_app_id = 126;
                    f.l7_proto_name = (char *)"TLS.Google";
                    export_add_flow(exp, &f, now);
                }
            } else {
                f.event = ZFLOW__FLOW_EVENT__FLOW_EVENT_END;
                f.end_reason = ZFLOW__END_REASON__END_REASON_TCP_FIN;
                f.c2s_packets = 10, f.c2s_bytes = 1500, f.s2c_packets = 12, f.s2c_bytes = 9000;
                f.l7_proto_name = (char *)(l7 ? "TLS.Google" : "");
                export_add_flow(exp, &f, now);
            }
            /* honour back-pressure: do not outrun the resend buffer */
            export_stats_t st;
            export_get_stats(exp, &st);
            while (st.unacked_batches >= cfg.max_unacked - 8) {
                export_poll(exp, wall_ns());
                usleep(200);
                export_get_stats(exp, &st);
            }
            if ((step & 255) == 0)
                export_poll(exp, now);
        }
    }
    export_flush(exp, wall_ns());
    int drained = export_drain(exp, 60000);
    uint64_t end = wall_ns();
    export_stats_t st;
    export_get_stats(exp, &st);
    double secs = (double)(end - start) / 1e9;
    printf("{\"probe_id\":\"%s\",\"flows\":%" PRIu64 ",\"events\":%" PRIu64 ",\"seconds\":%.3f,"
           "\"flows_per_s\":%.0f,\"acked_batches\":%" PRIu64 ",\"resent_batches\":%" PRIu64
           ",\"dropped_batches\":%" PRIu64 ",\"unacked\":%" PRIu64 ",\"drained\":%s}\n",
           probe_id, flows, st.sent_flows, secs, (double)flows / secs, st.acked_batches,
           st.resent_batches, st.dropped_batches, st.unacked_batches, drained == 0 ? "true" : "false");
    export_destroy(&exp);
    free(cids);
    return drained == 0 && st.dropped_batches == 0 ? 0 : 1;
}
