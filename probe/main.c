/* zflow-probe: captures packets, builds flows and exports them to a zflow collector. */
#include "codec.h"
#include "export.h"
#include "flow_record.h"
#include "sensor.h"
#include "timebase.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define STEP_PACKETS 512
#define FILE_EXPORT_POLL_NS 2000000ull /* export socket work every 2 ms while reading a file */

typedef struct options {
    sensor_config_t sensor;
    const char *collector;
    const char *probe_id;
    int dump;
    int stats_interval_s;
    int drain_timeout_ms;
    export_config_t export;
} options_t;

typedef struct probe {
    options_t opt;
    sensor_t *sensor;
    export_t *exp;
    FILE *dump;
    flow_record_t rec;
    char probe_id[320];
    char hostname[256];
    uint64_t run_id;
    uint64_t start_ns;
    uint64_t flows_dumped;
} probe_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zflow-probe (-i IFACE | -r FILE) [options]\n"
            "Captures packets, builds bidirectional flows (with nDPI L7) and exports them to a\n"
            "zflow collector over ZeroMQ, or prints them as JSON lines.\n"
            "\n"
            "Source:\n"
            "  -i, --interface IFACE     capture live on IFACE\n"
            "  -r, --read FILE           read a pcap or pcapng file (format from its magic)\n"
            "  -f, --filter BPF          BPF capture filter\n"
            "  -s, --snaplen N           bytes captured per packet (default 65535)\n"
            "  -B, --buffer-mb N         kernel capture buffer in MiB (default: libpcap's)\n"
            "      --no-promisc          do not put the interface in promiscuous mode\n"
            "      --timeout-ms N        live read timeout instead of immediate mode\n"
            "  -n, --name NAME           interface name reported in flows\n"
            "Flows:\n"
            "      --idle-timeout S      end a flow after S seconds without packets (default 30)\n"
            "      --update-interval S   export long flows every S seconds (default 60, 0 = off)\n"
            "      --max-flows N         flow cache size; the LRU flow is evicted beyond (1000000)\n"
            "      --no-l7               do not run nDPI\n"
            "Output:\n"
            "  -c, --collector ENDPOINT  export to a collector, e.g. tcp://127.0.0.1:5556\n"
            "      --probe-id ID         stable probe id (default: HOSTNAME:NAME)\n"
            "      --dump                print each flow event as a JSON line on stdout\n"
            "      --stats-interval S    send probe stats every S seconds (default 5)\n"
            "      --batch-flows N       flows per export batch (default 512)\n"
            "      --batch-ms N          flush a batch after N ms (default 200)\n"
            "      --max-unacked N       batches kept for resending (default 4096)\n"
            "      --drain-timeout-ms N  wait at exit for acknowledgements (default 5000)\n"
            "  -h, --help                this text\n"
            "  -V, --version             print the version\n");
}

/* Parses a non-negative integer option within [min, max]; prints one line on failure. */
static int parse_uint(const char *name, const char *s, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < min || v > max) {
        fprintf(stderr, "zflow-probe: invalid value for %s: \"%s\" (expected %lld..%lld)\n", name,
                s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    OPT_NO_PROMISC = 256,
    OPT_TIMEOUT_MS,
    OPT_IDLE,
    OPT_UPDATE,
    OPT_MAX_FLOWS,
    OPT_NO_L7,
    OPT_PROBE_ID,
    OPT_DUMP,
    OPT_STATS,
    OPT_BATCH_FLOWS,
    OPT_BATCH_MS,
    OPT_MAX_UNACKED,
    OPT_DRAIN,
};

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"interface", required_argument, NULL, 'i'},
        {"read", required_argument, NULL, 'r'},
        {"filter", required_argument, NULL, 'f'},
        {"snaplen", required_argument, NULL, 's'},
        {"buffer-mb", required_argument, NULL, 'B'},
        {"name", required_argument, NULL, 'n'},
        {"collector", required_argument, NULL, 'c'},
        {"no-promisc", no_argument, NULL, OPT_NO_PROMISC},
        {"timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS},
        {"idle-timeout", required_argument, NULL, OPT_IDLE},
        {"update-interval", required_argument, NULL, OPT_UPDATE},
        {"max-flows", required_argument, NULL, OPT_MAX_FLOWS},
        {"no-l7", no_argument, NULL, OPT_NO_L7},
        {"probe-id", required_argument, NULL, OPT_PROBE_ID},
        {"dump", no_argument, NULL, OPT_DUMP},
        {"stats-interval", required_argument, NULL, OPT_STATS},
        {"batch-flows", required_argument, NULL, OPT_BATCH_FLOWS},
        {"batch-ms", required_argument, NULL, OPT_BATCH_MS},
        {"max-unacked", required_argument, NULL, OPT_MAX_UNACKED},
        {"drain-timeout-ms", required_argument, NULL, OPT_DRAIN},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    sensor_config_default(&o->sensor);
    o->stats_interval_s = 5;
    o->drain_timeout_ms = 5000;
    o->export.batch_flows = 512;
    o->export.batch_ms = 200;
    o->export.max_unacked = 4096;
    o->export.resend_ms = 5000;

    int c;
    long long v;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:r:f:s:B:n:c:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': o->sensor.capture.interface = optarg; break;
        case 'r': o->sensor.capture.file = optarg; break;
        case 'f': o->sensor.capture.filter = optarg; break;
        case 'n': o->sensor.name = optarg; break;
        case 'c': o->collector = optarg; break;
        case 's':
            if (parse_uint("--snaplen", optarg, 64, 262144, &v)) return -1;
            o->sensor.capture.snaplen = (int)v;
            break;
        case 'B':
            if (parse_uint("--buffer-mb", optarg, 1, 4096, &v)) return -1;
            o->sensor.capture.buffer_mb = (int)v;
            break;
        case OPT_NO_PROMISC: o->sensor.capture.promisc = 0; break;
        case OPT_TIMEOUT_MS:
            if (parse_uint("--timeout-ms", optarg, 1, 10000, &v)) return -1;
            o->sensor.capture.timeout_ms = (int)v;
            o->sensor.capture.immediate = 0;
            break;
        case OPT_IDLE:
            if (parse_uint("--idle-timeout", optarg, 1, 86400, &v)) return -1;
            o->sensor.cache.idle_timeout_ns = (uint64_t)v * 1000000000ull;
            break;
        case OPT_UPDATE:
            if (parse_uint("--update-interval", optarg, 0, 86400, &v)) return -1;
            o->sensor.cache.update_interval_ns = (uint64_t)v * 1000000000ull;
            break;
        case OPT_MAX_FLOWS:
            if (parse_uint("--max-flows", optarg, 1, 100000000, &v)) return -1;
            o->sensor.cache.max_flows = (uint32_t)v;
            break;
        case OPT_NO_L7: o->sensor.l7_enabled = 0; break;
        case OPT_PROBE_ID: o->probe_id = optarg; break;
        case OPT_DUMP: o->dump = 1; break;
        case OPT_STATS:
            if (parse_uint("--stats-interval", optarg, 1, 3600, &v)) return -1;
            o->stats_interval_s = (int)v;
            break;
        case OPT_BATCH_FLOWS:
            if (parse_uint("--batch-flows", optarg, 1, CODEC_MAX_FLOWS_PER_BATCH, &v)) return -1;
            o->export.batch_flows = (uint32_t)v;
            break;
        case OPT_BATCH_MS:
            if (parse_uint("--batch-ms", optarg, 1, 60000, &v)) return -1;
            o->export.batch_ms = (uint32_t)v;
            break;
        case OPT_MAX_UNACKED:
            if (parse_uint("--max-unacked", optarg, 1, 1000000, &v)) return -1;
            o->export.max_unacked = (uint32_t)v;
            break;
        case OPT_DRAIN:
            if (parse_uint("--drain-timeout-ms", optarg, 0, 600000, &v)) return -1;
            o->drain_timeout_ms = (int)v;
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("zflow-probe %s\n", ZFLOW_VERSION); exit(0);
        case ':':
            fprintf(stderr, "zflow-probe: option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "zflow-probe: unknown option %s (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zflow-probe: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return -1;
    }
    if (!o->sensor.capture.interface == !o->sensor.capture.file) {
        fprintf(stderr, "zflow-probe: give exactly one of -i IFACE or -r FILE (see --help)\n");
        return -1;
    }
    if (!o->collector && !o->dump) {
        fprintf(stderr, "zflow-probe: nothing to do: give --collector ENDPOINT and/or --dump\n");
        return -1;
    }
    return 0;
}

/* Flow events from the cache: rendered for --dump and/or queued for export. */
static void on_flow(void *ctx, const flow_t *flow, enum flow_event ev, enum end_reason reason)
{
    probe_t *p = ctx;
    flow_record_fill(&p->rec, flow, ev, reason, sensor_l7(p->sensor), sensor_name(p->sensor));
    if (p->dump) {
        codec_flow_to_json(&p->rec.msg, p->dump);
        p->flows_dumped++;
    }
    if (p->exp)
        export_add_flow(p->exp, &p->rec.msg, wall_ns());
}

static void send_hello(probe_t *p)
{
    const sensor_config_t *sc = &p->opt.sensor;
    Zflow__Hello h = ZFLOW__HELLO__INIT;
    h.software_version = (char *)ZFLOW_VERSION;
    h.hostname = p->hostname;
    h.interface = (char *)sensor_name(p->sensor);
    h.live = capture_is_live(sensor_capture(p->sensor));
    h.link_type = (char *)capture_linktype_name(sensor_capture(p->sensor));
    h.snaplen = (uint32_t)capture_snaplen(sensor_capture(p->sensor));
    h.bpf_filter = (char *)(sc->capture.filter ? sc->capture.filter : "");
    h.idle_timeout_s = (uint32_t)(sc->cache.idle_timeout_ns / 1000000000ull);
    h.update_interval_s = (uint32_t)(sc->cache.update_interval_ns / 1000000000ull);
    h.max_flows = sc->cache.max_flows;
    h.l7_enabled = sc->l7_enabled;
    h.start_time_ns = p->start_ns;
    h.pid = (uint32_t)getpid();
    h.stats_interval_s = (uint32_t)p->opt.stats_interval_s;
    export_send_hello(p->exp, &h, wall_ns());
}

static void send_stats(probe_t *p)
{
    sensor_stats_t st;
    export_stats_t es;
    sensor_get_stats(p->sensor, &st);
    export_get_stats(p->exp, &es);
    Zflow__Stats s = ZFLOW__STATS__INIT;
    Zflow__Counter counters[DR_COUNT];
    Zflow__Counter *cptr[DR_COUNT];
    size_t nc = 0;
    for (int i = 1; i < DR_COUNT; i++) {
        if (!st.reasons.reasons[i])
            continue;
        zflow__counter__init(&counters[nc]);
        counters[nc].name = (char *)decode_reason_name((decode_reason_t)i);
        counters[nc].value = st.reasons.reasons[i];
        cptr[nc] = &counters[nc];
        nc++;
    }
    s.interface = (char *)sensor_name(p->sensor);
    s.pcap_recv = st.pcap_recv;
    s.pcap_drop = st.pcap_drop;
    s.pcap_ifdrop = st.pcap_ifdrop;
    s.packets = st.packets;
    s.bytes = st.bytes;
    s.active_flows = st.cache.active;
    s.flows_created = st.cache.flows_created;
    s.flows_ended = st.cache.flows_ended;
    s.evictions = st.cache.evictions;
    s.export_dropped_batches = es.dropped_batches;
    s.export_dropped_flows = es.dropped_flows;
    s.decode_errors = st.decode_errors;
    s.n_decode_error_counters = nc;
    s.decode_error_counters = cptr;
    s.unacked_batches = es.unacked_batches;
    export_send_stats(p->exp, &s, wall_ns());
}

static void print_summary(probe_t *p, double secs)
{
    sensor_stats_t st;
    sensor_get_stats(p->sensor, &st);
    fprintf(stderr,
            "zflow-probe: summary {\"packets\":%llu,\"bytes\":%llu,\"decoded\":%llu,"
            "\"not_ip\":%llu,\"decode_errors\":%llu,\"flows\":%llu,\"evictions\":%llu,"
            "\"frag_orphans\":%llu,\"seconds\":%.3f",
            (unsigned long long)st.packets, (unsigned long long)st.bytes,
            (unsigned long long)st.decoded, (unsigned long long)st.not_ip,
            (unsigned long long)st.decode_errors, (unsigned long long)st.cache.flows_created,
            (unsigned long long)st.cache.evictions, (unsigned long long)st.cache.frag_orphans,
            secs);
    if (sensor_l7(p->sensor)) {
        uint64_t lp, ld, lb;
        l7_get_stats(sensor_l7(p->sensor), &lp, &ld, &lb);
        fprintf(stderr, ",\"l7_packets\":%llu,\"l7_detections\":%llu,\"l7_budget_hits\":%llu",
                (unsigned long long)lp, (unsigned long long)ld, (unsigned long long)lb);
    }
    for (int i = 1; i < DR_COUNT; i++)
        if (i != DR_NOT_IP && st.reasons.reasons[i])
            fprintf(stderr, ",\"%s\":%llu", decode_reason_name((decode_reason_t)i),
                    (unsigned long long)st.reasons.reasons[i]);
    if (p->exp) {
        export_stats_t es;
        export_get_stats(p->exp, &es);
        fprintf(stderr,
                ",\"sent_flows\":%llu,\"acked_batches\":%llu,\"unacked_batches\":%llu,"
                "\"dropped_batches\":%llu,\"resent_batches\":%llu",
                (unsigned long long)es.sent_flows, (unsigned long long)es.acked_batches,
                (unsigned long long)es.unacked_batches, (unsigned long long)es.dropped_batches,
                (unsigned long long)es.resent_batches);
    }
    fprintf(stderr, "}\n");
}

/* The capture loop: packets, flow expiry, export socket work and stats, until EOF or a signal. */
static int run(probe_t *p)
{
    capture_t *cap = sensor_capture(p->sensor);
    int live = capture_is_live(cap);
    uint64_t stats_every = (uint64_t)p->opt.stats_interval_s * 1000000000ull;
    uint64_t next_stats = wall_ns() + stats_every;
    uint64_t next_expire = 0, next_export_poll = 0;
    int rc = 0;

    while (!stop_requested) {
        if (live) {
            zmq_pollitem_t items[2];
            int n = 0;
            items[n].socket = NULL;
            items[n].fd = capture_fd(cap);
            items[n].events = ZMQ_POLLIN;
            items[n].revents = 0;
            n++;
            if (p->exp) {
                items[n].socket = export_socket(p->exp);
                items[n].fd = 0;
                items[n].events = ZMQ_POLLIN;
                items[n].revents = 0;
                n++;
            }
            if (zmq_poll(items, n, 50) < 0 && errno != EINTR) {
                fprintf(stderr, "zflow-probe: poll: %s\n", zmq_strerror(errno));
                rc = 1;
                break;
            }
        }
        int got;
        do {
            got = sensor_step(p->sensor, STEP_PACKETS);
        } while (live && got == STEP_PACKETS && !stop_requested);
        if (got == -1) {
            fprintf(stderr, "zflow-probe: capture error on %s: %s\n", sensor_name(p->sensor),
                    capture_error(cap));
            rc = 1;
            break;
        }
        uint64_t now = wall_ns();
        if (live && now >= next_expire) {
            sensor_expire(p->sensor, now);
            next_expire = now + 1000000000ull;
        }
        /* Reading a file, socket work waits a little: each poll costs a few system calls,
         * and a step takes only microseconds. */
        if (p->exp && (live || got == -2 || now >= next_export_poll)) {
            next_export_poll = now + FILE_EXPORT_POLL_NS;
            export_poll(p->exp, now);
            if (now >= next_stats) {
                send_stats(p);
                next_stats = now + stats_every;
            }
        }
        if (got == -2)
            break;
    }
    /* Packets already in the kernel ring when the stop came still belong to their flows. */
    if (live && rc == 0)
        for (int i = 0; i < 1000 && sensor_step(p->sensor, STEP_PACKETS) > 0; i++) {
        }
    return rc;
}

int main(int argc, char **argv)
{
    /* Export batches (tens of KiB each) are freed as acknowledgements arrive and allocated
     * again at once: keep freed memory instead of returning it to the kernel and faulting it
     * back in, and keep batches off per-allocation mmap(). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    probe_t p;
    memset(&p, 0, sizeof p);
    if (parse_options(argc, argv, &p.opt) != 0)
        return 2;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    p.start_ns = wall_ns();
    if (getrandom(&p.run_id, sizeof p.run_id, 0) != sizeof p.run_id || p.run_id == 0)
        p.run_id = p.start_ns ^ ((uint64_t)getpid() << 32);
    if (gethostname(p.hostname, sizeof p.hostname - 1) != 0)
        snprintf(p.hostname, sizeof p.hostname, "unknown");

    char err[512] = "";
    p.sensor = sensor_new(&p.opt.sensor, on_flow, &p, err, sizeof err);
    if (!p.sensor) {
        fprintf(stderr, "zflow-probe: %s\n", err);
        return 1;
    }
    if (!sensor_linktype_supported(p.sensor))
        fprintf(stderr, "zflow-probe: %s: link type %s (%d) is not supported; its packets are "
                        "counted as unsupported_linktype\n",
                sensor_name(p.sensor), capture_linktype_name(sensor_capture(p.sensor)),
                capture_linktype(sensor_capture(p.sensor)));

    if (p.opt.probe_id)
        snprintf(p.probe_id, sizeof p.probe_id, "%s", p.opt.probe_id);
    else
        snprintf(p.probe_id, sizeof p.probe_id, "%s:%s", p.hostname, sensor_name(p.sensor));

    static char dumpbuf[1 << 20];
    if (p.opt.dump) {
        p.dump = stdout;
        setvbuf(stdout, dumpbuf, _IOFBF, sizeof dumpbuf);
    }
    if (p.opt.collector) {
        p.opt.export.endpoint = p.opt.collector;
        p.opt.export.probe_id = p.probe_id;
        p.opt.export.run_id = p.run_id;
        p.exp = export_new(&p.opt.export);
        if (!p.exp) {
            sensor_destroy(&p.sensor);
            return 1;
        }
        send_hello(&p);
    }

    int rc = run(&p);
    sensor_flush(p.sensor);
    if (p.dump)
        fflush(p.dump);
    if (p.exp) {
        uint64_t now = wall_ns();
        export_flush(p.exp, now);
        send_stats(&p);
        export_poll(p.exp, now);
        if (export_drain(p.exp, p.opt.drain_timeout_ms) != 0) {
            export_stats_t es;
            export_get_stats(p.exp, &es);
            fprintf(stderr, "zflow-probe: %llu batches still unacknowledged after %d ms\n",
                    (unsigned long long)es.unacked_batches, p.opt.drain_timeout_ms);
        }
    }
    print_summary(&p, (double)(wall_ns() - p.start_ns) / 1e9);
    export_destroy(&p.exp);
    sensor_destroy(&p.sensor);
    return rc;
}
