/* zflow-collector: receives flows from many probes (and local packet interfaces), runs the Lua
 * user scripts on them and stores the alerts they raise. */
#include "alert_store.h"
#include "ingest.h"
#include "packet_iface.h"
#include "registry.h"
#include "round_timer.h"
#include "scheduler.h"
#include "syslog_dispatch.h"
#include "syslog_listener.h"
#include "script_engine.h"
#include "worker.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS 16
#define MAX_PACKET_IFACES 16

typedef struct options {
    const char *listen[INGEST_MAX_LISTEN];
    int n_listen;
    const char *live[MAX_PACKET_IFACES];
    int n_live;
    const char *pcaps[MAX_PACKET_IFACES];
    int n_pcaps;
    const char *scripts_dirs[MAX_DIRS];
    int n_scripts_dirs;
    const char *installdir;
    const char *data_dir;
    const char *local_networks;
    const char *trace_hooks;
    const char *status_file;
    int workers;
    int list_scripts;
    int alerts;                  /* print recent alerts and exit */
    int alerts_limit;
    int json;
    int probe_timeout_s;
    int summary_interval_s;
    size_t queue_size;
    uint32_t max_flows;
    size_t mem_limit_mb;
    uint64_t instr_budget;
    sensor_config_t sensor;      /* settings of local packet interfaces */
    /* periodic scheduler */
    const char *control;         /* --control ENDPOINT */
    const char *run_round;       /* --run-round G: client mode */
    int scheduler_status;        /* --scheduler-status: client mode */
    int no_round_timer;
    const char *snmp_devices[SCHEDULER_MAX_SNMP_DEVICES];
    int n_snmp_devices;
    int snmp_interval_s;
    /* syslog */
    const char *syslog_eps[SYSLOG_LISTENER_MAX_ENDPOINTS];
    int n_syslog;
    const char *syslog_map[SYSLOG_MAP_MAX];
    int n_syslog_map;
    int syslog_workers;
} options_t;

static volatile sig_atomic_t stop_requested, reload_requested, capture_stop;
static atomic_int scheduler_reload; /* lock-free: safe to set from the signal handler */

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
    atomic_store(&scheduler_reload, 1);
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zflow-collector [options]\n"
            "Receives flows from zflow probes over ZeroMQ (and from local packet interfaces),\n"
            "runs the Lua user scripts on them and stores the alerts in <data-dir>/alerts.db.\n"
            "\n"
            "Inputs:\n"
            "  -l, --listen ENDPOINT     bind a ROUTER socket, e.g. tcp://0.0.0.0:5556 or\n"
            "                            tcp://[::]:5556 (repeatable)\n"
            "  -i, --interface IFACE     capture on a local packet interface (repeatable)\n"
            "      --pcap FILE           process a capture file as a packet interface (repeatable);\n"
            "                            without --listen: run every hook, print a summary, exit\n"
            "      --no-l7 / --idle-timeout S / --update-interval S\n"
            "                            flow settings of the local packet interfaces\n"
            "Scripts:\n"
            "      --scripts-dir DIR     user scripts: DIR/callbacks/<subdir>/*.lua (repeatable);\n"
            "                            a user script with a stock script's key replaces it\n"
            "      --installdir DIR      where scripts/ is installed (default %s)\n"
            "      --list-scripts        list every script and why it does or does not run\n"
            "      --json                JSON output for --list-scripts and --alerts\n"
            "      --workers N           worker threads (default: number of cores)\n"
            "      --local-networks L    comma separated CIDRs that are local\n"
            "      --mem-limit-mb N      Lua heap cap per worker (default 256)\n"
            "      --instr-budget N      Lua instructions per hook call (default 10000000)\n"
            "      --trace-hooks FILE    append \"iface flow_id hook\" for every hook run\n"
            "State:\n"
            "  -d, --data-dir DIR        alerts.db and scripts_config.json (default ./zflow-data)\n"
            "      --alerts [N]          print the N newest alerts (default 20) and exit\n"
            "      --probe-timeout S     a silent probe is down after S s (default 30)\n"
            "      --summary-interval S  summary line on stderr every S s (default 10, 0 = off)\n"
            "      --status-file FILE    JSON status rewritten every second\n"
            "      --queue-size N        work items queued per worker (default 1024)\n"
            "      --max-flows N         flows kept per worker (default 4000000)\n"
            "Periodic scripts (interface, network, system, snmp):\n"
            "      --control ENDPOINT    REP socket for control requests, e.g. ipc:///run/zflow\n"
            "                            or tcp://127.0.0.1:5557 (\"run min\", \"status\")\n"
            "      --run-round G         ask the collector at --control to run one round of\n"
            "                            G (min, 5mins, hour, day) now; prints its summary\n"
            "      --scheduler-status    ask the collector at --control for the scheduler's\n"
            "                            counters\n"
            "      --no-round-timer      rounds only on request, not at the wall-clock\n"
            "                            boundaries (tests)\n"
            "      --snmp-device SPEC    poll an SNMP agent: COMMUNITY@HOST[:PORT] or\n"
            "                            v3:USER:AUTH:AUTHPASS:PRIV:PRIVPASS@HOST[:PORT] (repeatable)\n"
            "      --snmp-interval S     seconds between SNMP polls (default 60)\n"
            "Syslog (scripts/callbacks/syslog/<source>.lua, source = lower-cased app name):\n"
            "      --syslog ENDPOINT     listen for syslog: udp://HOST:PORT, tcp://HOST:PORT,\n"
            "                            tcp://[::]:PORT (repeatable); RFC 3164/5424, JSON lines\n"
            "      --syslog-map S=SCRIPT messages from sender S (address or hostname) go to\n"
            "                            SCRIPT whatever their app name (repeatable)\n"
            "      --syslog-workers N    threads running the syslog scripts, each with its own\n"
            "                            Lua state (default: number of cores, at most 4); one\n"
            "                            source's messages keep their order, Eve events that\n"
            "                            carry a flow_id keep it per flow\n"
            "  -h, --help, -V, --version\n"
            "Signals: SIGHUP reloads scripts and configuration; SIGINT/SIGTERM stop.\n",
            ZFLOW_INSTALLDIR);
}

static int parse_num(const char *name, const char *s, long long min, long long max,
                     long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || !end || *end || end == s || v < min || v > max) {
        fprintf(stderr, "zflow-collector: invalid value for %s: \"%s\" (expected %lld..%lld)\n",
                name, s, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    O_PCAP = 256, O_NO_L7, O_IDLE, O_UPDATE, O_SCRIPTS, O_INSTALL, O_LIST, O_JSON, O_WORKERS,
    O_LOCALNETS, O_MEM, O_INSTR, O_TRACE, O_ALERTS, O_PROBE_TIMEOUT, O_SUMMARY, O_STATUS,
    O_QUEUE, O_MAXFLOWS, O_CONTROL, O_RUN_ROUND, O_SCHED_STATUS, O_NO_TIMER, O_SNMP_DEVICE,
    O_SNMP_INTERVAL,
    O_SYSLOG,
    O_SYSLOG_MAP,
    O_SYSLOG_WORKERS,
};

#define ADD_ITEM(arr, n, max, what)                                                            \
    do {                                                                                       \
        if ((n) >= (max)) {                                                                    \
            fprintf(stderr, "zflow-collector: too many %s (at most %d)\n", what, max);          \
            return -1;                                                                         \
        }                                                                                      \
        (arr)[(n)++] = optarg;                                                                 \
    } while (0)

static int parse_options(int argc, char **argv, options_t *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"interface", required_argument, NULL, 'i'},
        {"pcap", required_argument, NULL, O_PCAP},
        {"no-l7", no_argument, NULL, O_NO_L7},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"update-interval", required_argument, NULL, O_UPDATE},
        {"scripts-dir", required_argument, NULL, O_SCRIPTS},
        {"installdir", required_argument, NULL, O_INSTALL},
        {"list-scripts", no_argument, NULL, O_LIST},
        {"json", no_argument, NULL, O_JSON},
        {"workers", required_argument, NULL, O_WORKERS},
        {"local-networks", required_argument, NULL, O_LOCALNETS},
        {"mem-limit-mb", required_argument, NULL, O_MEM},
        {"instr-budget", required_argument, NULL, O_INSTR},
        {"trace-hooks", required_argument, NULL, O_TRACE},
        {"data-dir", required_argument, NULL, 'd'},
        {"alerts", optional_argument, NULL, O_ALERTS},
        {"probe-timeout", required_argument, NULL, O_PROBE_TIMEOUT},
        {"summary-interval", required_argument, NULL, O_SUMMARY},
        {"status-file", required_argument, NULL, O_STATUS},
        {"queue-size", required_argument, NULL, O_QUEUE},
        {"max-flows", required_argument, NULL, O_MAXFLOWS},
        {"control", required_argument, NULL, O_CONTROL},
        {"run-round", required_argument, NULL, O_RUN_ROUND},
        {"scheduler-status", no_argument, NULL, O_SCHED_STATUS},
        {"no-round-timer", no_argument, NULL, O_NO_TIMER},
        {"snmp-device", required_argument, NULL, O_SNMP_DEVICE},
        {"snmp-interval", required_argument, NULL, O_SNMP_INTERVAL},
        {"syslog", required_argument, NULL, O_SYSLOG},
        {"syslog-map", required_argument, NULL, O_SYSLOG_MAP},
        {"syslog-workers", required_argument, NULL, O_SYSLOG_WORKERS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    long long v;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = cores > 0 ? (int)(cores > 64 ? 64 : cores) : 1;
    /* each syslog thread has a Lua state of its own, and what they feed (ingest, the alert
     * store) is one thread each: more than 4 rarely pays */
    o->syslog_workers = cores > 0 ? (int)(cores > 4 ? 4 : cores) : 1;
    o->data_dir = "zflow-data";
    o->installdir = getenv("ZFLOW_INSTALLDIR") ? getenv("ZFLOW_INSTALLDIR") : ZFLOW_INSTALLDIR;
    o->probe_timeout_s = 30;
    o->summary_interval_s = 10;
    o->alerts_limit = 20;
    o->queue_size = 1024;
    o->max_flows = 4000000;
    o->mem_limit_mb = 256;
    o->instr_budget = 10000000;
    sensor_config_default(&o->sensor);
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":l:i:d:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': ADD_ITEM(o->listen, o->n_listen, INGEST_MAX_LISTEN, "--listen"); break;
        case 'i': ADD_ITEM(o->live, o->n_live, MAX_PACKET_IFACES, "--interface"); break;
        case O_PCAP: ADD_ITEM(o->pcaps, o->n_pcaps, MAX_PACKET_IFACES, "--pcap"); break;
        case O_SCRIPTS: ADD_ITEM(o->scripts_dirs, o->n_scripts_dirs, MAX_DIRS, "--scripts-dir"); break;
        case O_NO_L7: o->sensor.l7_enabled = 0; break;
        case O_IDLE:
            if (parse_num("--idle-timeout", optarg, 1, 86400, &v)) return -1;
            o->sensor.cache.idle_timeout_ns = (uint64_t)v * 1000000000ull;
            break;
        case O_UPDATE:
            if (parse_num("--update-interval", optarg, 0, 86400, &v)) return -1;
            o->sensor.cache.update_interval_ns = (uint64_t)v * 1000000000ull;
            break;
        case O_INSTALL: o->installdir = optarg; break;
        case O_LIST: o->list_scripts = 1; break;
        case O_JSON: o->json = 1; break;
        case O_WORKERS:
            if (parse_num("--workers", optarg, 1, 64, &v)) return -1;
            o->workers = (int)v;
            break;
        case O_LOCALNETS: o->local_networks = optarg; break;
        case O_MEM:
            if (parse_num("--mem-limit-mb", optarg, 4, 65536, &v)) return -1;
            o->mem_limit_mb = (size_t)v;
            break;
        case O_INSTR:
            if (parse_num("--instr-budget", optarg, 1000, 1000000000000LL, &v)) return -1;
            o->instr_budget = (uint64_t)v;
            break;
        case O_TRACE: o->trace_hooks = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case O_ALERTS:
            o->alerts = 1;
            /* accept both --alerts=N and --alerts N */
            if (!optarg && optind < argc && argv[optind][0] >= '0' && argv[optind][0] <= '9')
                optarg = argv[optind++];
            if (optarg && parse_num("--alerts", optarg, 1, 1000000, &v)) return -1;
            if (optarg)
                o->alerts_limit = (int)v;
            break;
        case O_PROBE_TIMEOUT:
            if (parse_num("--probe-timeout", optarg, 1, 86400, &v)) return -1;
            o->probe_timeout_s = (int)v;
            break;
        case O_SUMMARY:
            if (parse_num("--summary-interval", optarg, 0, 86400, &v)) return -1;
            o->summary_interval_s = (int)v;
            break;
        case O_STATUS: o->status_file = optarg; break;
        case O_QUEUE:
            if (parse_num("--queue-size", optarg, 1, 1000000, &v)) return -1;
            o->queue_size = (size_t)v;
            break;
        case O_MAXFLOWS:
            if (parse_num("--max-flows", optarg, 1, 100000000, &v)) return -1;
            o->max_flows = (uint32_t)v;
            break;
        case O_CONTROL: o->control = optarg; break;
        case O_RUN_ROUND:
            if (granularity_parse(optarg) < 0) {
                fprintf(stderr, "zflow-collector: --run-round: \"%s\" is not min, 5mins, hour "
                                "or day\n", optarg);
                return -1;
            }
            o->run_round = optarg;
            break;
        case O_SCHED_STATUS: o->scheduler_status = 1; break;
        case O_NO_TIMER: o->no_round_timer = 1; break;
        case O_SNMP_DEVICE:
            ADD_ITEM(o->snmp_devices, o->n_snmp_devices, SCHEDULER_MAX_SNMP_DEVICES,
                     "--snmp-device");
            break;
        case O_SNMP_INTERVAL:
            if (parse_num("--snmp-interval", optarg, 1, 86400, &v)) return -1;
            o->snmp_interval_s = (int)v;
            break;
        case O_SYSLOG:
            ADD_ITEM(o->syslog_eps, o->n_syslog, SYSLOG_LISTENER_MAX_ENDPOINTS, "--syslog");
            break;
        case O_SYSLOG_MAP:
            ADD_ITEM(o->syslog_map, o->n_syslog_map, SYSLOG_MAP_MAX, "--syslog-map");
            break;
        case O_SYSLOG_WORKERS:
            if (parse_num("--syslog-workers", optarg, 1, SYSLOG_WORKERS_MAX, &v)) return -1;
            o->syslog_workers = (int)v;
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("zflow-collector %s\n", ZFLOW_VERSION); exit(0);
        case ':':
            fprintf(stderr, "zflow-collector: option %s needs a value (see --help)\n",
                    argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "zflow-collector: unknown option %s (see --help)\n", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zflow-collector: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return -1;
    }
    if ((o->run_round || o->scheduler_status) && !o->control) {
        fprintf(stderr, "zflow-collector: --run-round and --scheduler-status need --control\n");
        return -1;
    }
    if (!o->list_scripts && !o->alerts && !o->n_listen && !o->n_live && !o->n_pcaps &&
        !o->run_round && !o->scheduler_status) {
        fprintf(stderr, "zflow-collector: nothing to do: give --listen, -i or --pcap "
                        "(see --help)\n");
        return -1;
    }
    return 0;
}

typedef struct preload_ctx {
    registry_t *registry;
    uint64_t n;
    uint64_t now_ns;
} preload_ctx_t;

static void preload_applied(void *ctx, const char *probe_id, uint64_t run_id, uint64_t seq)
{
    preload_ctx_t *p = ctx;
    if (!probe_id)
        return;
    registry_preload(p->registry, probe_id, run_id, seq, p->now_ns);
    p->n++;
}

static void syslog_status(void *ctx, FILE *out)
{
    syslog_dispatch_print_status(ctx, out);
}

static int syslog_scripts(void *ctx, script_info_t *out, int max)
{
    return syslog_dispatch_list_scripts(ctx, out, max);
}

static int make_dirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static void fill_engine_config(const options_t *o, engine_config_t *ec, char *cfgpath, size_t n)
{
    memset(ec, 0, sizeof *ec);
    snprintf(cfgpath, n, "%s/scripts_config.json", o->data_dir);
    ec->installdir = o->installdir;
    ec->user_dirs = o->scripts_dirs;
    ec->n_user_dirs = o->n_scripts_dirs;
    ec->config_path = cfgpath;
    ec->data_dir = o->data_dir;
    ec->mem_limit = o->mem_limit_mb * 1024 * 1024;
    ec->instr_budget = o->instr_budget;
    ec->max_errors = 50;
    ec->subdir_mask = 1u << SUBDIR_FLOW;
    ec->local_networks = o->local_networks;
}

/* Counters a running collector wrote to <data-dir>/scripts_runtime.tsv. */
typedef struct runtime_rows {
    int n;
    struct {
        char subdir[16], key[128];
        unsigned long long calls, errors;
        double seconds;
    } row[512];
    int pid;
    long long time;
    unsigned long long queue_full;
} runtime_rows_t;

static int runtime_lookup(void *ctx, const char *subdir, const char *key, uint64_t *calls,
                          uint64_t *errors, double *seconds)
{
    const runtime_rows_t *rt = ctx;
    for (int i = 0; i < rt->n; i++)
        if (strcmp(rt->row[i].subdir, subdir) == 0 && strcmp(rt->row[i].key, key) == 0) {
            *calls = rt->row[i].calls;
            *errors = rt->row[i].errors;
            *seconds = rt->row[i].seconds;
            return 1;
        }
    return 0;
}

/* Loads the runtime file of a collector that is still running; 0 when there is one. */
static int runtime_load(const char *data_dir, runtime_rows_t *rt)
{
    char path[1024], line[512];
    snprintf(path, sizeof path, "%s/scripts_runtime.tsv", data_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(rt, 0, sizeof *rt);
    if (!fgets(line, sizeof line, f) ||
        sscanf(line, "# pid %d time %lld queue_full %llu", &rt->pid, &rt->time,
               &rt->queue_full) != 3 ||
        rt->pid <= 0 || kill(rt->pid, 0) != 0) {
        fclose(f);
        return -1;
    }
    while (rt->n < 512 && fgets(line, sizeof line, f)) {
        if (sscanf(line, "%15[^\t]\t%127[^\t]\t%llu\t%llu\t%lf", rt->row[rt->n].subdir,
                   rt->row[rt->n].key, &rt->row[rt->n].calls, &rt->row[rt->n].errors,
                   &rt->row[rt->n].seconds) == 5)
            rt->n++;
    }
    fclose(f);
    return 0;
}

/* --list-scripts: one engine, as a worker would build it; the counters of a running
 * collector using the same data directory replace the engine's own. */
static int list_scripts(const options_t *o)
{
    engine_config_t ec;
    char cfgpath[1024];
    fill_engine_config(o, &ec, cfgpath, sizeof cfgpath);
    ec.subdir_mask = 0;
    ec.preload_name = "zflow_syslog"; /* so syslog scripts load; they are not run here */
    ec.preload_open = syslog_dispatch_lua_open;
    ec.preload_ctx = NULL;
    char err[256];
    script_engine_t *e = script_engine_new(&ec, err, sizeof err);
    if (!e) {
        fprintf(stderr, "zflow-collector: %s\n", err);
        return 1;
    }
    runtime_rows_t *rt = calloc(1, sizeof *rt);
    int live = rt && runtime_load(o->data_dir, rt) == 0;
    script_engine_print_list_runtime(e, stdout, o->json, live ? runtime_lookup : NULL, rt);
    if (live && !o->json)
        printf("counters of the flow scripts: zflow-collector pid %d, %lld s ago; batches "
               "refused because a worker queue was full: %llu\n",
               rt->pid, (long long)time(NULL) - rt->time, rt->queue_full);
    else if (!o->json)
        printf("no running collector uses %s: counters are this listing's own\n", o->data_dir);
    free(rt);
    script_engine_destroy(&e);
    return 0;
}

int main(int argc, char **argv)
{
    /* Threads hand each other buffers (syslog chunks, batches, alerts) that the receiver
     * frees: keep freed memory in the process instead of trimming it and faulting it back in
     * at the next allocation, which costs more than the copy into it. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    options_t o;
    memset(&o, 0, sizeof o);
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    if (o.alerts) {
        char path[1024];
        snprintf(path, sizeof path, "%s/alerts.db", o.data_dir);
        return alert_store_print(path, o.alerts_limit, o.json, NULL, NULL, stdout) == 0 ? 0 : 1;
    }
    if (o.list_scripts)
        return list_scripts(&o);
    if (o.run_round || o.scheduler_status) {
        char req[64];
        snprintf(req, sizeof req, "%s%s", o.run_round ? "run " : "status",
                 o.run_round ? o.run_round : "");
        return scheduler_request(o.control, req, 600000, stdout);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char err[512] = "";
    netset_t *nets = calloc(1, sizeof *nets);
    alert_store_t *alerts = NULL;
    worker_t *workers[64] = {0};
    registry_t *registry = NULL;
    queue_t *done = NULL, *local = NULL;
    ingest_t *ing = NULL;
    packet_iface_t *pifs[2 * MAX_PACKET_IFACES] = {0};
    int n_pifs = 0;
    FILE *trace = NULL;
    netstats_t *netstats = NULL;
    cid_index_t *cids = NULL;
    syslog_dispatch_t *sysd = NULL;
    syslog_listener_t *syslog = NULL;
    scheduler_t *sched = NULL;
    char cfgpath[1024], dbpath[1024], runtime_path[1024];

    if (!nets)
        goto out;
    if (o.local_networks && netset_parse(nets, o.local_networks, err, sizeof err) != 0) {
        fprintf(stderr, "zflow-collector: --local-networks: %s\n", err);
        goto out;
    }
    netstats = netstats_new(nets);
    /* Only syslog scripts look flows up by Community ID (attach_alert): without a syslog
     * listener the index would cost every flow a hash insert and removal for nothing. */
    if (o.n_syslog && !(cids = cid_index_new(4000000)))
        goto out;
    if (!netstats)
        goto out;
    if (make_dirs(o.data_dir) != 0) {
        fprintf(stderr, "zflow-collector: cannot create data directory %s: %s\n", o.data_dir,
                strerror(errno));
        goto out;
    }
    snprintf(dbpath, sizeof dbpath, "%s/alerts.db", o.data_dir);
    alerts = alert_store_open(dbpath, 0, err, sizeof err);
    if (!alerts) {
        fprintf(stderr, "zflow-collector: %s: %s\n", dbpath, err);
        goto out;
    }
    if (o.trace_hooks) {
        trace = fopen(o.trace_hooks, "a");
        if (!trace) {
            fprintf(stderr, "zflow-collector: --trace-hooks %s: %s\n", o.trace_hooks,
                    strerror(errno));
            goto out;
        }
        setvbuf(trace, NULL, _IOLBF, 0);
    }
    size_t max_inflight = (size_t)o.workers * o.queue_size;
    done = queue_new(max_inflight + 16);
    local = queue_new(256);
    registry = registry_new(o.workers);
    if (!done || !local || !registry)
        goto out;
    for (int w = 0; w < o.workers; w++) {
        worker_config_t wc;
        memset(&wc, 0, sizeof wc);
        wc.index = w;
        fill_engine_config(&o, &wc.engine, cfgpath, sizeof cfgpath);
        wc.netstats = netstats;
        wc.cids = cids;
        wc.alerts = alerts;
        wc.done = done;
        wc.queue_cap = o.queue_size;
        wc.max_flows = o.max_flows;
        wc.trace = trace;
        workers[w] = worker_new(&wc, err, sizeof err);
        if (!workers[w]) {
            fprintf(stderr, "zflow-collector: worker %d: %s\n", w, err);
            goto out;
        }
    }

    ingest_config_t ic;
    memset(&ic, 0, sizeof ic);
    for (int i = 0; i < o.n_listen; i++)
        ic.listen[i] = o.listen[i];
    ic.n_listen = o.n_listen;
    ic.workers = workers;
    ic.n_workers = o.workers;
    ic.registry = registry;
    ic.done = done;
    ic.alerts = alerts;
    ic.local = local;
    ic.max_inflight = max_inflight;
    ic.probe_timeout_s = (uint32_t)o.probe_timeout_s;
    ic.summary_interval_s = (uint32_t)o.summary_interval_s;
    ic.status_path = o.status_file;
    snprintf(runtime_path, sizeof runtime_path, "%s/scripts_runtime.tsv", o.data_dir);
    ic.runtime_path = runtime_path;
    ic.stop = &stop_requested;
    ic.reload = &reload_requested;
    if (o.n_syslog) {
        syslog_dispatch_config_t dc;
        memset(&dc, 0, sizeof dc);
        fill_engine_config(&o, &dc.engine, cfgpath, sizeof cfgpath);
        dc.alerts = alerts;
        dc.cids = cids;
        dc.local = local;
        for (int i = 0; i < o.n_syslog_map; i++)
            dc.map[i] = o.syslog_map[i];
        dc.n_map = o.n_syslog_map;
        dc.workers = o.syslog_workers;
        sysd = syslog_dispatch_new(&dc, err, sizeof err);
        if (!sysd) {
            fprintf(stderr, "zflow-collector: syslog: %s\n", err);
            goto out;
        }
        ic.extra_status = syslog_status;
        ic.extra_scripts = syslog_scripts;
        ic.extra_ctx = sysd;
    }
    /* batches an earlier collector applied: their resends are acknowledged, not re-applied */
    preload_ctx_t pre = {registry, 0, (uint64_t)time(NULL) * 1000000000ull};
    if (alert_store_load_applied(dbpath, preload_applied, &pre) == 0 && pre.n)
        fprintf(stderr, "zflow-collector: %llu batches applied by an earlier run remembered\n",
                (unsigned long long)pre.n);
    ing = ingest_new(&ic, err, sizeof err);
    if (!ing) {
        fprintf(stderr, "zflow-collector: %s\n", err);
        goto out;
    }

    for (int i = 0; i < o.n_live + o.n_pcaps; i++) {
        sensor_config_t sc = o.sensor;
        if (i < o.n_live)
            sc.capture.interface = o.live[i];
        else
            sc.capture.file = o.pcaps[i - o.n_live];
        pifs[n_pifs] = packet_iface_new(&sc, local, &capture_stop, err, sizeof err);
        if (!pifs[n_pifs]) {
            fprintf(stderr, "zflow-collector: %s\n", err);
            goto out;
        }
        n_pifs++;
    }
    ingest_expect_local(ing, n_pifs);

    int batch_mode = o.n_pcaps > 0 && o.n_listen == 0 && o.n_live == 0;
    if (!batch_mode) {
        scheduler_config_t scfg;
        memset(&scfg, 0, sizeof scfg);
        fill_engine_config(&o, &scfg.engine, cfgpath, sizeof cfgpath);
        scfg.registry = registry;
        scfg.netstats = netstats;
        scfg.alerts = alerts;
        scfg.alerts_db = dbpath;
        scfg.workers = workers;
        scfg.n_workers = o.workers;
        scfg.packet_ifaces = pifs;
        scfg.n_packet_ifaces = n_pifs;
        scfg.control = o.control;
        scfg.timer = !o.no_round_timer;
        for (int i = 0; i < o.n_snmp_devices; i++)
            scfg.snmp_devices[i] = o.snmp_devices[i];
        scfg.n_snmp_devices = o.n_snmp_devices;
        scfg.snmp_interval_s = o.snmp_interval_s;
        scfg.reload = &scheduler_reload;
        sched = scheduler_new(&scfg, err, sizeof err);
        if (!sched) {
            fprintf(stderr, "zflow-collector: scheduler: %s\n", err);
            goto out;
        }
    }
    if (sysd) {
        syslog_listener_config_t lc;
        memset(&lc, 0, sizeof lc);
        for (int i = 0; i < o.n_syslog; i++)
            lc.endpoints[i] = o.syslog_eps[i];
        lc.n_endpoints = o.n_syslog;
        lc.deliver = syslog_dispatch_deliver;
        lc.flush = syslog_dispatch_flush;
        lc.ctx = sysd;
        syslog = syslog_listener_new(&lc, err, sizeof err);
        if (!syslog) {
            fprintf(stderr, "zflow-collector: syslog: %s\n", err);
            goto out;
        }
        syslog_dispatch_set_listener(sysd, syslog);
    }
    fprintf(stderr, "zflow-collector %s: %d workers, %d listening sockets, %d packet interfaces, "
                    "%d syslog endpoints (%d syslog threads), data in %s\n",
            ZFLOW_VERSION, o.workers, o.n_listen, n_pifs, o.n_syslog, sysd ? o.syslog_workers : 0,
            o.data_dir);
    ingest_run(ing, batch_mode);
    scheduler_destroy(&sched); /* it reads the packet interfaces destroyed below */
    capture_stop = 1;
    ingest_finish(ing);
    for (int i = 0; i < n_pifs; i++)
        packet_iface_destroy(&pifs[i]);
    ingest_barrier(ing);
    alert_store_sync(alerts, 10000);

    uint64_t flows = 0, hooks = 0, nalerts = 0, errors = 0, events = 0;
    for (int w = 0; w < o.workers; w++) {
        worker_stats_t ws;
        worker_get_stats(workers[w], &ws);
        flows += ws.flows_created;
        hooks += ws.hook_calls;
        nalerts += ws.alerts;
        errors += ws.script_errors;
        events += ws.events;
    }
    if (sysd) { /* the syslog scripts' calls and errors count too */
        syslog_dispatch_stats_t ss;
        syslog_dispatch_get_stats(sysd, &ss);
        hooks += ss.calls;
        errors += ss.errors;
    }
    alert_store_stats_t as;
    alert_store_get_stats(alerts, &as);
    fprintf(batch_mode ? stdout : stderr,
            "zflow-collector: summary {\"flows\":%" PRIu64 ",\"flow_events\":%" PRIu64
            ",\"hook_calls\":%" PRIu64 ",\"alerts\":%" PRIu64 ",\"alerts_stored\":%" PRIu64
            ",\"script_errors\":%" PRIu64 "}\n",
            flows, events, hooks, nalerts, as.stored + as.updated, errors);
    if (o.status_file) {
        FILE *f = fopen(o.status_file, "w");
        if (f) {
            ingest_print_status(ing, f);
            fclose(f);
        }
    }
    rc = 0;
out:
    if (sysd)
        syslog_dispatch_set_listener(sysd, NULL);
    syslog_listener_destroy(&syslog); /* no more messages */
    syslog_dispatch_destroy(&sysd);   /* teardown() of the syslog scripts */
    scheduler_destroy(&sched); /* before the workers, the registry and the alert store */
    capture_stop = 1;
    if (ing)
        ingest_finish(ing);
    for (int i = 0; i < n_pifs; i++)
        packet_iface_destroy(&pifs[i]);
    ingest_destroy(&ing);
    for (int w = 0; w < 64; w++)
        worker_destroy(&workers[w]);
    alert_store_close(&alerts);
    registry_destroy(&registry);
    netstats_destroy(&netstats);
    cid_index_destroy(&cids);
    queue_destroy(&done);
    if (local) {
        void *m;
        while ((m = queue_pop(local, 0)))
            free(m);
        queue_destroy(&local);
    }
    if (trace)
        fclose(trace);
    free(nets);
    return rc;
}
