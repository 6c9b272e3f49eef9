/* scheduler: the periodic rounds (min, 5mins, hour, day) of the interface, network, system and
 * snmp scripts, the engaged-alert auto-release, the SNMP poller's results and the control
 * socket. Everything here runs on the scheduler thread except the SNMP delivery callback
 * (poller thread), which only pushes to a queue. */
#include "scheduler.h"

#include "periodic_alerts.h"
#include "queue.h"
#include "round_timer.h"
#include "snmp_poller.h"
#include "sysinfo.h"
#include "thread_gate.h"

#include <lauxlib.h>
#include <lua.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define POLL_MS               100 /* longest sleep of the loop (stop flag, SNMP results) */
#define LATE_MS               1000 /* a round that starts later than this after its boundary is late */
#define REQUEST_MAX           256   /* control request bytes */
#define TRACKED_CAP           65536 /* engaged periodic alerts tracked for the auto-release */
#define TOP_L7                10    /* protocols in entity_info.top_l7 */
#define SNMP_QUEUE_CAP        1024  /* snapshots waiting for the scheduler thread */
#define SYNC_MS               10000 /* wait for a round's alerts to be committed */
#define CONNECT_MS            5000  /* control client: wait for the connection */
#define DEFAULT_PROBE_STATS_S 5

/* ---------------------------------------------------------------- snapshots of entities */

enum {
    IF_BYTES,
    IF_PACKETS,
    IF_FLOWS_NEW,
    IF_FLOWS_ENDED,
    IF_FLOW_EVENTS,
    IF_HOOK_CALLS,
    IF_CAPTURE_PACKETS,
    IF_CAPTURE_BYTES,
    IF_CAPTURE_RECEIVED,
    IF_DROPS,
    IF_LOST,
    IF_MESSAGES,
    IF_DUPLICATES,
    IF_EXPORT_DROPPED_BATCHES,
    IF_EXPORT_DROPPED_FLOWS,
    IF_DECODE_ERRORS,
    IF_EVICTIONS,
    IF_RESTARTS,
    IF_N
};
static const char *const if_names[IF_N] = {
    "bytes",
    "packets",
    "flows_new",
    "flows_ended",
    "flow_events",
    "hook_calls",
    "capture_packets",
    "capture_bytes",
    "capture_received",
    "drops",
    "lost_messages",
    "messages",
    "duplicates",
    "export_dropped_batches",
    "export_dropped_flows",
    "decode_errors",
    "evictions",
    "restarts",
};

typedef struct iface_snap {
    int valid;
    int64_t t_ms;
    uint64_t v[IF_N];
    uint64_t flows_active, capture_active_flows;
    const char *l7_name[IFACE_L7_SLOTS];
    uint64_t l7_bytes[IFACE_L7_SLOTS], l7_flows[IFACE_L7_SLOTS], l7_other;
} iface_snap_t;

enum {
    NET_INGRESS_BYTES,
    NET_EGRESS_BYTES,
    NET_INNER_BYTES,
    NET_INGRESS_PACKETS,
    NET_EGRESS_PACKETS,
    NET_INNER_PACKETS,
    NET_FLOWS_NEW,
    NET_FLOWS_ENDED,
    NET_SYN_ONLY_FLOWS,
    NET_N
};
static const char *const net_names[NET_N] = {
    "ingress_bytes", "egress_bytes", "inner_bytes", "ingress_packets", "egress_packets",
    "inner_packets", "flows_new",    "flows_ended", "syn_only_flows",
};

typedef struct net_snap {
    int valid;
    int64_t t_ms;
    uint64_t v[NET_N];
} net_snap_t;

enum {
    SYS_FLOW_EVENTS,
    SYS_MESSAGES,
    SYS_LOST,
    SYS_DUPLICATES,
    SYS_FLOWS_CREATED,
    SYS_HOOK_CALLS,
    SYS_SCRIPT_ERRORS,
    SYS_ALERTS,
    SYS_ALERTS_DROPPED,
    SYS_ALERTS_STORED,
    SYS_ALERTS_FAILED,
    SYS_TABLE_FULL,
    SYS_N
};
static const char *const sys_names[SYS_N] = {
    "flow_events",    "messages",      "lost_messages", "duplicates",
    "flows_created",  "hook_calls",    "script_errors", "alerts",
    "alerts_dropped", "alerts_stored", "alerts_failed", "flow_table_full",
};

typedef struct sys_snap {
    int valid;
    int64_t t_ms;
    uint64_t v[SYS_N];
    sysinfo_t si;
    uint64_t flows_active, alert_queue, worker_queue_total, worker_queue_max;
    int probes, probes_up;
} sys_snap_t;

/* A delivered SNMP snapshot shared by the device state and the per-granularity baselines. */
typedef struct snmp_ref {
    snmp_snapshot_t *s;
    int refs;
} snmp_ref_t;

typedef struct snmp_dev {
    snmp_ref_t *latest;           /* the last poll */
    snmp_ref_t *good;             /* the last reachable poll */
    snmp_ref_t *base[GRAN_COUNT]; /* deltas of a round of g run from base to cur */
    snmp_ref_t *cur[GRAN_COUNT];
} snmp_dev_t;

typedef enum ent_kind { ENT_IFACE, ENT_NET, ENT_SYSTEM, ENT_SNMP_IF, ENT_SNMP_DEV } ent_kind_t;

/* The entity a round is iterating, read by push_args. */
typedef struct cur_entity {
    ent_kind_t kind;
    const char *entity;
    char value[512];
    char source[640];
    double interval_s;
    int first; /* no previous round of this granularity */
    int64_t now_ms;
    /* ENT_IFACE */
    iface_t *iface;
    const probe_summary_t *sum;
    const iface_snap_t *inow, *iprev;
    /* ENT_NET */
    int net;
    const net_snap_t *nnow, *nprev;
    const net_snapshot_t *nraw;
    /* ENT_SYSTEM */
    const sys_snap_t *snow, *sprev;
    /* ENT_SNMP_IF, ENT_SNMP_DEV */
    const snmp_snapshot_t *snap, *base;
    const snmp_if_t *ifc, *base_if;
    snmp_if_t delta;
    int has_delta, reachable, fresh;
    const char *snmp_error;
} cur_entity_t;

typedef struct round_summary {
    granularity_t g;
    int64_t when;
    int manual;
    int64_t late_ms;
    uint64_t entities, calls, triggered, stored, released, errors, teardowns;
    double duration_ms;
} round_summary_t;

typedef struct gran_stats {
    uint64_t rounds, timer_rounds, manual_rounds, missed, late_rounds;
    int64_t last_late_ms, max_late_ms;
    round_summary_t last;
    int has_last;
} gran_stats_t;

struct scheduler {
    scheduler_config_t cfg;
    pthread_t thread;
    int started;
    atomic_int stop;
    thread_gate_t gate;          /* the thread's set-up is done */

    script_engine_t *engine;
    void *zctx, *rep;
    periodic_alerts_t *tracked;
    round_timer_t timer;
    int64_t started_ms;
    uint64_t reloads, requests, bad_requests;

    /* the running round */
    int in_round;
    granularity_t g;
    uint64_t round_no[GRAN_COUNT];
    int64_t when;
    round_summary_t cur_round;
    cur_entity_t ent;

    /* previous round of each granularity */
    iface_snap_t *if_prev[GRAN_COUNT];
    int if_prev_cap[GRAN_COUNT];
    net_snap_t net_prev[GRAN_COUNT][NETSET_MAX];
    sys_snap_t sys_prev[GRAN_COUNT];
    probe_summary_t *sums; /* REGISTRY_MAX_PROBES */
    iface_t **ifaces;      /* REGISTRY_MAX_IFACES */
    int *sum_of;           /* iface id -> index in sums, -1 */

    /* SNMP */
    snmp_poller_t *poller;
    queue_t *snmp_q;
    _Atomic uint64_t snmp_dropped; /* snapshots lost: queue full */
    snmp_dev_t snmp[SCHEDULER_MAX_SNMP_DEVICES];
    int n_snmp;

    gran_stats_t gs[GRAN_COUNT];
};

/* ---------------------------------------------------------------- helpers */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A counter's increase; a counter that went back (a probe restarted) counts from 0. */
static uint64_t delta(uint64_t cur, uint64_t prev)
{
    return cur >= prev ? cur - prev : cur;
}

static lua_Integer lint(uint64_t v)
{
    return v > (uint64_t)INT64_MAX ? (lua_Integer)INT64_MAX : (lua_Integer)v;
}

static void seti(lua_State *L, const char *k, int64_t v)
{
    lua_pushinteger(L, (lua_Integer)v);
    lua_setfield(L, -2, k);
}

static void setu(lua_State *L, const char *k, uint64_t v)
{
    lua_pushinteger(L, lint(v));
    lua_setfield(L, -2, k);
}

static void setn(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void sets(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v ? v : "");
    lua_setfield(L, -2, k);
}

static void setb(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* Pushes a table {names[i] = v[i]}. */
static void push_counters(lua_State *L, const char *const *names, const uint64_t *v, int n)
{
    lua_createtable(L, 0, n + 4);
    for (int i = 0; i < n; i++)
        setu(L, names[i], v[i]);
}

/* Pushes a table {names[i] = cur[i] - prev[i]} (cur[i] without prev). */
static void push_deltas(lua_State *L, const char *const *names, const uint64_t *cur,
                        const uint64_t *prev, int n)
{
    lua_createtable(L, 0, n + 4);
    for (int i = 0; i < n; i++)
        setu(L, names[i], prev ? delta(cur[i], prev[i]) : cur[i]);
}

static double pct(double part, double whole)
{
    return whole > 0 ? 100.0 * part / whole : 0.0;
}

/* ---------------------------------------------------------------- engine host */

static void count_engaged_release(scheduler_t *self)
{
    if (self->in_round) self->cur_round.released++;
}

static int host_store_alert(void *ctx, const alert_t *a)
{
    scheduler_t *self = ctx;
    alert_t b = *a;
    char *json = NULL;
    int track = a->kind == ALERT_ENGAGED && self->in_round;
    if (track) {
        json = periodic_alerts_tag_json(a->json, granularity_name(self->g));
        if (json) b.json = json;
    }
    int rc = self->cfg.alerts ? alert_store_submit(self->cfg.alerts, &b) : 0;
    if (rc == 0 && self->in_round) {
        if (a->kind == ALERT_ENGAGED)
            self->cur_round.triggered++;
        else
            self->cur_round.stored++;
    }
    if (rc == 0 && track &&
        periodic_alerts_trigger(self->tracked, &b, self->g, self->round_no[self->g],
                                self->ent.source) != 0) {
        uint64_t refused = periodic_alerts_refused(self->tracked);
        if ((refused & (refused - 1)) == 0) /* 1, 2, 4, ...: bounded logging */
            fprintf(stderr,
                    "zflow-collector: scheduler: %" PRIu64 " engaged alerts not "
                    "tracked (more than %d engaged): they are not released "
                    "automatically\n",
                    refused, TRACKED_CAP);
    }
    free(json);
    return rc;
}

static int host_release_alert(void *ctx, const char *entity, const char *value, const char *type,
                              const char *script)
{
    scheduler_t *self = ctx;
    periodic_alerts_forget(self->tracked, entity, value, type, script);
    if (!self->cfg.alerts) return 0;
    if (alert_store_is_engaged(self->cfg.alerts, entity, value, type, script) == 1)
        count_engaged_release(self);
    return alert_store_release(self->cfg.alerts, entity, value, type, script, wall_ms() / 1000);
}

static int host_is_engaged(void *ctx, const char *entity, const char *value, const char *type,
                           const char *script)
{
    scheduler_t *self = ctx;
    return self->cfg.alerts ? alert_store_is_engaged(self->cfg.alerts, entity, value, type, script)
                            : 0;
}

static const char *host_iface_name(const struct iface *i)
{
    return i ? i->name : "";
}

static int host_iface_id(const struct iface *i)
{
    return i ? i->id : -1;
}

static const char *host_iface_probe_id(const struct iface *i)
{
    return i ? i->probe_id : "";
}

static int host_iface_is_packet(const struct iface *i)
{
    return i ? i->is_packet : 0;
}

/* interface.getStats(): the counters of the interface, as in entity_info.stats. */
static void host_push_interface_stats(void *ctx, void *lua_state, const struct iface *i)
{
    scheduler_t *self = ctx;
    lua_State *L = lua_state;
    if (self->ent.kind == ENT_IFACE && self->ent.iface == i && self->ent.inow) {
        push_counters(L, if_names, self->ent.inow->v, IF_N);
        setu(L, "flows_active", self->ent.inow->flows_active);
        return;
    }
    iface_t *f = (iface_t *)i;
    lua_createtable(L, 0, 8);
    setu(L, "bytes", iface_get(&f->c.bytes));
    setu(L, "packets", iface_get(&f->c.packets));
    setu(L, "flows_active", iface_get(&f->c.flows_active));
    setu(L, "flows_new", iface_get(&f->c.flows_new));
    setu(L, "flows_ended", iface_get(&f->c.flows_ended));
    setu(L, "flow_events", iface_get(&f->c.flow_events));
}

/* Granularities of the hooks a periodic script has (for restored alerts without one). */
static unsigned script_mask(void *ctx, const char *subdir, const char *script_key)
{
    scheduler_t *self = ctx;
    script_info_t *list = calloc(512, sizeof *list);
    unsigned mask = 0;
    int n = list ? script_engine_list(self->engine, list, 512) : 0;
    for (int i = 0; i < n && i < 512; i++) {
        if (strcmp(list[i].subdir, subdir) != 0 || strcmp(list[i].key, script_key) != 0) continue;
        if (!list[i].enabled || !list[i].loaded) break;
        if (strstr(list[i].hooks, "all")) mask = (1u << GRAN_COUNT) - 1;
        for (int g = 0; g < GRAN_COUNT; g++) {
            /* hooks is a comma separated list: match whole names */
            const char *name = granularity_name((granularity_t)g);
            size_t len = strlen(name);
            for (const char *p = list[i].hooks; (p = strstr(p, name)); p += len)
                if ((p == list[i].hooks || p[-1] == ',') && (p[len] == ',' || !p[len]))
                    mask |= 1u << g;
        }
        break;
    }
    free(list);
    return mask ? mask : 1u << GRAN_MIN; /* gone or disabled: released at the next minute */
}

/* ---------------------------------------------------------------- params */

typedef struct push_alerts_ctx {
    lua_State *L;
    int n;
} push_alerts_ctx_t;

static void push_one_alert(void *ctx, const periodic_alert_t *a)
{
    push_alerts_ctx_t *c = ctx;
    lua_State *L = c->L;
    lua_createtable(L, 0, 12);
    sets(L, "entity", a->entity);
    sets(L, "entity_value", a->entity_value);
    sets(L, "alert_type", a->alert_type);
    sets(L, "script_key", a->script_key);
    sets(L, "subdir", a->subdir);
    seti(L, "tstamp", a->tstamp);
    seti(L, "last_seen", a->last_seen);
    seti(L, "severity", a->severity);
    seti(L, "score", a->score);
    sets(L, "message", a->message);
    lua_createtable(L, GRAN_COUNT, 0);
    int k = 0;
    for (int g = 0; g < GRAN_COUNT; g++)
        if (a->gran_mask & (1u << g)) {
            lua_pushstring(L, granularity_name((granularity_t)g));
            lua_rawseti(L, -2, ++k);
        }
    lua_setfield(L, -2, "granularities");
    lua_rawseti(L, -2, ++c->n);
}

static int l7_cmp_ctx_cmp(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b; /* {delta bytes, total bytes, slot} */
    if (x[0] != y[0]) return x[0] < y[0] ? 1 : -1;
    if (x[1] != y[1]) return x[1] < y[1] ? 1 : -1;
    return x[2] < y[2] ? -1 : 1;
}

static void push_iface_info(scheduler_t *self, lua_State *L)
{
    const cur_entity_t *e = &self->ent;
    const iface_snap_t *n = e->inow, *p = e->iprev;
    const probe_summary_t *s = e->sum;
    lua_createtable(L, 0, 24);
    sets(L, "entity", e->entity);
    sets(L, "entity_value", e->value);
    seti(L, "id", e->iface->id);
    sets(L, "name", e->iface->name);
    sets(L, "probe_id", e->iface->probe_id);
    setb(L, "is_packet_interface", e->iface->is_packet);
    setn(L, "interval", e->interval_s);
    setb(L, "first_round", e->first);

    push_counters(L, if_names, n->v, IF_N);
    setu(L, "flows_active", n->flows_active);
    setu(L, "capture_active_flows", n->capture_active_flows);
    lua_setfield(L, -2, "stats");
    push_deltas(L, if_names, n->v, p ? p->v : NULL, IF_N);
    lua_setfield(L, -2, "delta");

    uint64_t db = p ? delta(n->v[IF_BYTES], p->v[IF_BYTES]) : n->v[IF_BYTES];
    uint64_t dp = p ? delta(n->v[IF_PACKETS], p->v[IF_PACKETS]) : n->v[IF_PACKETS];
    uint64_t df = p ? delta(n->v[IF_FLOWS_NEW], p->v[IF_FLOWS_NEW]) : n->v[IF_FLOWS_NEW];
    setn(L, "throughput_bps", (double)db * 8.0 / e->interval_s);
    setn(L, "packets_per_s", (double)dp / e->interval_s);
    setn(L, "flows_per_s", (double)df / e->interval_s);
    uint64_t ddrop = p ? delta(n->v[IF_DROPS], p->v[IF_DROPS]) : n->v[IF_DROPS];
    uint64_t dcap =
        p ? delta(n->v[IF_CAPTURE_PACKETS], p->v[IF_CAPTURE_PACKETS]) : n->v[IF_CAPTURE_PACKETS];
    uint64_t dlost = p ? delta(n->v[IF_LOST], p->v[IF_LOST]) : n->v[IF_LOST];
    uint64_t dmsg = p ? delta(n->v[IF_MESSAGES], p->v[IF_MESSAGES]) : n->v[IF_MESSAGES];
    setn(L, "drop_pct", pct((double)ddrop, (double)(dcap + ddrop)));
    setn(L, "lost_pct", pct((double)dlost, (double)(dmsg + dlost)));

    /* top L7 protocols by bytes in the round */
    uint64_t order[IFACE_L7_SLOTS][3];
    int nl = 0;
    for (int i = 0; i < IFACE_L7_SLOTS && n->l7_name[i]; i++) {
        order[nl][0] = p ? delta(n->l7_bytes[i], p->l7_bytes[i]) : n->l7_bytes[i];
        order[nl][1] = n->l7_bytes[i];
        order[nl][2] = (uint64_t)i;
        nl++;
    }
    qsort(order, (size_t)nl, sizeof order[0], l7_cmp_ctx_cmp);
    lua_createtable(L, nl < TOP_L7 ? nl : TOP_L7, 0);
    for (int k = 0; k < nl && k < TOP_L7; k++) {
        int i = (int)order[k][2];
        lua_createtable(L, 0, 5);
        sets(L, "name", n->l7_name[i]);
        setu(L, "bytes", order[k][0]);
        setu(L, "total_bytes", n->l7_bytes[i]);
        setu(L, "flows", p ? delta(n->l7_flows[i], p->l7_flows[i]) : n->l7_flows[i]);
        setu(L, "total_flows", n->l7_flows[i]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "top_l7");
    setu(L, "other_l7_bytes", p ? delta(n->l7_other, p->l7_other) : n->l7_other);

    if (s) {
        int64_t now_s = e->now_ms / 1000;
        lua_createtable(L, 0, 16);
        sets(L, "id", s->probe_id);
        sets(L, "hostname", s->hostname);
        sets(L, "version", s->version);
        setb(L, "up", s->up);
        setb(L, "has_stats", s->has_stats);
        seti(L, "stats_interval",
             s->stats_interval_s ? s->stats_interval_s : DEFAULT_PROBE_STATS_S);
        seti(L, "first_seen", s->first_seen_s);
        seti(L, "last_seen", s->last_seen_s);
        seti(L, "silent_for", now_s - s->last_seen_s);
        if (s->has_stats) {
            seti(L, "last_stats", s->last_stats_s);
            seti(L, "stats_age", now_s - s->last_stats_s);
        } else {
            seti(L, "stats_age", now_s - s->first_seen_s);
        }
        setu(L, "restarts", s->restarts);
        setn(L, "flows_per_s", s->flows_per_s);
        lua_setfield(L, -2, "probe");
    }
}

static void format_addr(char *buf, size_t len, const uint8_t *a, int v6)
{
    if (v6) {
        char *p = buf;
        size_t left = len;
        for (int i = 0; i < 16; i += 2) {
            int w = snprintf(p, left, "%s%x", i ? ":" : "", (a[i] << 8) | a[i + 1]);
            if (w < 0 || (size_t)w >= left) break;
            p += w;
            left -= (size_t)w;
        }
    } else {
        snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    }
}

static void push_net_info(scheduler_t *self, lua_State *L)
{
    const cur_entity_t *e = &self->ent;
    const net_snap_t *n = e->nnow, *p = e->nprev;
    lua_createtable(L, 0, 16);
    sets(L, "entity", e->entity);
    sets(L, "entity_value", e->value);
    sets(L, "network", e->value);
    setn(L, "interval", e->interval_s);
    setb(L, "first_round", e->first);
    push_counters(L, net_names, n->v, NET_N);
    setu(L, "flows_active", delta(n->v[NET_FLOWS_NEW], n->v[NET_FLOWS_ENDED]));
    lua_setfield(L, -2, "stats");
    push_deltas(L, net_names, n->v, p ? p->v : NULL, NET_N);
    lua_setfield(L, -2, "delta");
#define D(i) ((double)(p ? delta(n->v[i], p->v[i]) : n->v[i]))
    setn(L, "ingress_bps", D(NET_INGRESS_BYTES) * 8.0 / e->interval_s);
    setn(L, "egress_bps", D(NET_EGRESS_BYTES) * 8.0 / e->interval_s);
    setn(L, "inner_bps", D(NET_INNER_BYTES) * 8.0 / e->interval_s);
    setn(L, "syn_only_flows_per_s", D(NET_SYN_ONLY_FLOWS) / e->interval_s);
#undef D
    seti(L, "hosts", e->nraw->hosts_seen);
    if (e->nraw->syn_victim_flows) {
        char ip[64];
        format_addr(ip, sizeof ip, e->nraw->syn_victim, strchr(e->value, ':') != NULL);
        lua_createtable(L, 0, 3);
        sets(L, "ip", ip);
        seti(L, "flows", e->nraw->syn_victim_flows);
        seti(L, "ports", e->nraw->syn_victim_ports);
        lua_setfield(L, -2, "syn_victim");
    }
}

static void push_sys_info(scheduler_t *self, lua_State *L)
{
    const cur_entity_t *e = &self->ent;
    const sys_snap_t *n = e->snow, *p = e->sprev;
    const sysinfo_t *si = &n->si;
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    lua_createtable(L, 0, 16);
    sets(L, "entity", e->entity);
    sets(L, "entity_value", e->value);
    sets(L, "hostname", host);
    setn(L, "interval", e->interval_s);
    setb(L, "first_round", e->first);

    lua_createtable(L, 0, 8);
    if (si->ok_load) {
        setn(L, "load_1", si->load_1);
        setn(L, "load_5", si->load_5);
        setn(L, "load_15", si->load_15);
        setn(L, "load_pct", 100.0 * si->load_1 / si->cores);
    }
    seti(L, "cores", si->cores);
    double dcpu = p ? n->si.proc_cpu_s - p->si.proc_cpu_s : n->si.proc_cpu_s;
    setn(L, "collector_pct", 100.0 * (dcpu > 0 ? dcpu : 0) / e->interval_s);
    setn(L, "collector_seconds", n->si.proc_cpu_s);
    lua_setfield(L, -2, "cpu");

    lua_createtable(L, 0, 8);
    if (si->ok_mem) {
        setu(L, "total", si->mem_total);
        setu(L, "available", si->mem_available);
        setu(L, "used", si->mem_total - si->mem_available);
        setn(L, "used_pct",
             pct((double)(si->mem_total - si->mem_available), (double)si->mem_total));
        setu(L, "swap_total", si->swap_total);
        setu(L, "swap_free", si->swap_free);
    }
    setu(L, "collector_rss", si->proc_rss);
    lua_setfield(L, -2, "memory");

    lua_createtable(L, 0, 6);
    sets(L, "path", self->cfg.engine.data_dir ? self->cfg.engine.data_dir : ".");
    if (si->ok_disk) {
        setu(L, "total", si->disk_total);
        setu(L, "free", si->disk_free);
        setn(L, "free_pct", pct((double)si->disk_free, (double)si->disk_total));
        setn(L, "used_pct", 100.0 - pct((double)si->disk_free, (double)si->disk_total));
    }
    lua_setfield(L, -2, "disk");

    lua_createtable(L, 0, 12);
    setn(L, "uptime", (double)(e->now_ms - self->started_ms) / 1000.0);
    setu(L, "flows_active", n->flows_active);
    seti(L, "probes", n->probes);
    seti(L, "probes_up", n->probes_up);
    double dev =
        (double)(p ? delta(n->v[SYS_FLOW_EVENTS], p->v[SYS_FLOW_EVENTS]) : n->v[SYS_FLOW_EVENTS]);
    setn(L, "flow_events_per_s", dev / e->interval_s);
    double dmsg = (double)(p ? delta(n->v[SYS_MESSAGES], p->v[SYS_MESSAGES]) : n->v[SYS_MESSAGES]);
    setn(L, "messages_per_s", dmsg / e->interval_s);
    lua_createtable(L, 0, 4);
    setu(L, "workers", n->worker_queue_total);
    setu(L, "worker_max", n->worker_queue_max);
    setu(L, "alert_store", n->alert_queue);
    setu(L, "snmp", self->snmp_q ? queue_depth(self->snmp_q) : 0);
    lua_setfield(L, -2, "queues");
    setu(L, "engaged_alerts_tracked", periodic_alerts_count(self->tracked));
    lua_setfield(L, -2, "collector");

    push_counters(L, sys_names, n->v, SYS_N);
    lua_setfield(L, -2, "stats");
    push_deltas(L, sys_names, n->v, p ? p->v : NULL, SYS_N);
    lua_setfield(L, -2, "delta");
}

static const char *if_status_name(int s)
{
    static const char *const names[] = {"",        "up",      "down",       "testing",
                                        "unknown", "dormant", "notPresent", "lowerLayerDown"};
    return s >= 1 && s <= 7 ? names[s] : "";
}

static void push_snmp_counters(lua_State *L, const snmp_if_t *c)
{
    lua_createtable(L, 0, 14);
    setu(L, "in_octets", c->in_octets);
    setu(L, "out_octets", c->out_octets);
    setu(L, "in_ucast_pkts", c->in_ucast_pkts);
    setu(L, "out_ucast_pkts", c->out_ucast_pkts);
    setu(L, "in_mcast_pkts", c->in_mcast_pkts);
    setu(L, "out_mcast_pkts", c->out_mcast_pkts);
    setu(L, "in_bcast_pkts", c->in_bcast_pkts);
    setu(L, "out_bcast_pkts", c->out_bcast_pkts);
    setu(L, "in_errors", c->in_errors);
    setu(L, "out_errors", c->out_errors);
    setu(L, "in_discards", c->in_discards);
    setu(L, "out_discards", c->out_discards);
    setu(L, "in_packets", c->in_ucast_pkts + c->in_mcast_pkts + c->in_bcast_pkts);
    setu(L, "out_packets", c->out_ucast_pkts + c->out_mcast_pkts + c->out_bcast_pkts);
}

static void push_snmp_info(scheduler_t *self, lua_State *L)
{
    const cur_entity_t *e = &self->ent;
    const snmp_snapshot_t *s = e->snap;
    lua_createtable(L, 0, 32);
    sets(L, "entity", e->entity);
    sets(L, "entity_value", e->value);
    sets(L, "device", e->kind == ENT_SNMP_DEV ? e->value : s->device);
    setb(L, "reachable", e->reachable);
    sets(L, "error", e->snmp_error);
    setb(L, "fresh", e->fresh);
    if (s) {
        sets(L, "host", s->host);
        sets(L, "sys_name", s->sys_name);
        sets(L, "sys_descr", s->sys_descr);
        setu(L, "sys_uptime", s->sys_uptime_cs / 100);
        seti(L, "polled_at", s->polled_at_ms / 1000);
        setb(L, "truncated", s->truncated);
    }
    if (e->kind == ENT_SNMP_DEV || !e->ifc) return;
    const snmp_if_t *c = e->ifc;
    seti(L, "ifindex", c->index);
    sets(L, "name", c->name);
    sets(L, "descr", c->descr);
    sets(L, "alias", c->alias);
    seti(L, "type", c->type);
    setu(L, "speed", c->speed_bps);
    seti(L, "admin_status", c->admin_status);
    seti(L, "oper_status", c->oper_status);
    sets(L, "admin_status_name", if_status_name(c->admin_status));
    sets(L, "oper_status_name", if_status_name(c->oper_status));
    setb(L, "has_hc", c->has_hc);
    if (e->base_if) {
        seti(L, "prev_oper_status", e->base_if->oper_status);
        sets(L, "prev_oper_status_name", if_status_name(e->base_if->oper_status));
        seti(L, "prev_admin_status", e->base_if->admin_status);
    }
    push_snmp_counters(L, c);
    lua_setfield(L, -2, "stats");
    if (e->has_delta) {
        double iv = (double)(s->polled_at_ms - e->base->polled_at_ms) / 1000.0;
        if (iv < 0.001) iv = 0.001;
        const snmp_if_t *d = &e->delta;
        push_snmp_counters(L, d);
        lua_setfield(L, -2, "delta");
        setn(L, "interval", iv);
        double in_bps = (double)d->in_octets * 8.0 / iv, out_bps = (double)d->out_octets * 8.0 / iv;
        setn(L, "in_bps", in_bps);
        setn(L, "out_bps", out_bps);
        if (c->speed_bps) {
            setn(L, "in_utilisation_pct", pct(in_bps, (double)c->speed_bps));
            setn(L, "out_utilisation_pct", pct(out_bps, (double)c->speed_bps));
            setn(L, "utilisation_pct",
                 pct(in_bps > out_bps ? in_bps : out_bps, (double)c->speed_bps));
        }
        uint64_t pk = d->in_ucast_pkts + d->in_mcast_pkts + d->in_bcast_pkts + d->out_ucast_pkts +
                      d->out_mcast_pkts + d->out_bcast_pkts;
        uint64_t er = d->in_errors + d->out_errors;
        setn(L, "error_pct", pct((double)er, (double)(pk + er)));
    }
}

/* push_args of every periodic hook call: one params table. */
static int push_params(void *ctx, void *lua_state, const script_call_t *call)
{
    scheduler_t *self = ctx;
    lua_State *L = lua_state;
    luaL_checkstack(L, 16, "params");
    lua_createtable(L, 0, 12);
    sets(L, "granularity", granularity_name(self->g));
    seti(L, "when", self->when);
    lua_pushvalue(L, call->config_index);
    lua_setfield(L, -2, "user_script_config");
    sets(L, "user_script", call->script_key);
    setb(L, "ts_enabled", 0);
    if (self->ent.kind == ENT_IFACE) seti(L, "ifid", self->ent.iface->id);
    switch (self->ent.kind) {
    case ENT_IFACE:
        push_iface_info(self, L);
        break;
    case ENT_NET:
        push_net_info(self, L);
        break;
    case ENT_SYSTEM:
        push_sys_info(self, L);
        break;
    case ENT_SNMP_IF:
    case ENT_SNMP_DEV:
        push_snmp_info(self, L);
        break;
    }
    lua_setfield(L, -2, "entity_info");
    lua_createtable(L, 0, 2);
    sets(L, "entity", self->ent.entity);
    sets(L, "entity_value", self->ent.value);
    lua_setfield(L, -2, "alert_entity");
    lua_newtable(L);
    push_alerts_ctx_t pc = {L, 0};
    periodic_alerts_each_of(self->tracked, self->ent.source, push_one_alert, &pc);
    lua_setfield(L, -2, "cur_alerts");
    return 1;
}

/* Runs the hook for the entity in self->ent. */
static void run_entity(scheduler_t *self, script_subdir_t sd, iface_t *iface, int64_t now_s)
{
    periodic_alerts_source(self->ent.source, sizeof self->ent.source, script_subdir_name(sd),
                           self->ent.value);
    int n = script_engine_run_hook(self->engine, sd, granularity_name(self->g), iface, now_s,
                                   push_params, self);
    if (n > 0) self->cur_round.calls += (uint64_t)n;
    self->cur_round.entities++;
}

static void end_subdir(scheduler_t *self, script_subdir_t sd)
{
    /* alerts raised from teardown() belong to the subdir, not to the last entity */
    periodic_alerts_source(self->ent.source, sizeof self->ent.source, script_subdir_name(sd), "");
    snprintf(self->ent.value, sizeof self->ent.value, "%s", "");
    int n = script_engine_end_round(self->engine, sd);
    if (n > 0) self->cur_round.teardowns += (uint64_t)n;
}

/* ---------------------------------------------------------------- entity rounds */

static double interval_s(const scheduler_t *self, int valid, int64_t prev_ms, int64_t now_ms)
{
    double s = (double)(now_ms - (valid ? prev_ms : self->started_ms)) / 1000.0;
    return s < 0.001 ? 0.001 : s;
}

static void fill_iface_snap(scheduler_t *self, iface_t *f, const probe_summary_t *s,
                            iface_snap_t *o, int64_t now_ms)
{
    memset(o, 0, sizeof *o);
    o->valid = 1;
    o->t_ms = now_ms;
    o->v[IF_BYTES] = iface_get(&f->c.bytes);
    o->v[IF_PACKETS] = iface_get(&f->c.packets);
    o->v[IF_FLOWS_NEW] = iface_get(&f->c.flows_new);
    o->v[IF_FLOWS_ENDED] = iface_get(&f->c.flows_ended);
    o->v[IF_FLOW_EVENTS] = iface_get(&f->c.flow_events);
    o->v[IF_HOOK_CALLS] = iface_get(&f->c.hook_calls);
    o->flows_active = iface_get(&f->c.flows_active);
    for (int i = 0; i < IFACE_L7_SLOTS; i++) {
        const char *name = atomic_load_explicit(&f->l7[i].name, memory_order_acquire);
        if (!name) break;
        o->l7_name[i] = name;
        o->l7_bytes[i] = iface_get(&f->l7[i].bytes);
        o->l7_flows[i] = iface_get(&f->l7[i].flows);
    }
    o->l7_other = iface_get(&f->l7_other_bytes);
    if (s) {
        o->v[IF_LOST] = s->lost;
        o->v[IF_MESSAGES] = s->messages;
        o->v[IF_DUPLICATES] = s->duplicates;
        o->v[IF_RESTARTS] = s->restarts;
        if (s->has_stats) {
            o->v[IF_CAPTURE_PACKETS] = s->packets;
            o->v[IF_CAPTURE_BYTES] = s->bytes;
            o->v[IF_CAPTURE_RECEIVED] = s->pcap_recv;
            o->v[IF_DROPS] = s->pcap_drop + s->pcap_ifdrop;
            o->v[IF_EXPORT_DROPPED_BATCHES] = s->export_dropped_batches;
            o->v[IF_EXPORT_DROPPED_FLOWS] = s->export_dropped_flows;
            o->v[IF_DECODE_ERRORS] = s->decode_errors;
            o->v[IF_EVICTIONS] = s->evictions;
            o->capture_active_flows = s->active_flows;
        }
    }
    if (f->is_packet) {
        for (int i = 0; i < self->cfg.n_packet_ifaces; i++) {
            packet_iface_t *pif = self->cfg.packet_ifaces[i];
            if (!pif || strcmp(packet_iface_probe_id(pif), f->probe_id) != 0) continue;
            sensor_stats_t ss;
            packet_iface_get_stats(pif, &ss);
            o->v[IF_CAPTURE_PACKETS] = ss.packets;
            o->v[IF_CAPTURE_BYTES] = ss.bytes;
            o->v[IF_CAPTURE_RECEIVED] = ss.pcap_recv;
            o->v[IF_DROPS] = ss.pcap_drop + ss.pcap_ifdrop;
            o->v[IF_DECODE_ERRORS] = ss.decode_errors;
            o->v[IF_EVICTIONS] = ss.cache.evictions;
            o->capture_active_flows = ss.cache.active;
            break;
        }
    }
}

static iface_snap_t *iface_prev(scheduler_t *self, granularity_t g, int id)
{
    if (id <= 0 || id > REGISTRY_MAX_IFACES) return NULL;
    if (id >= self->if_prev_cap[g]) {
        int cap = self->if_prev_cap[g] ? self->if_prev_cap[g] : 16;
        while (cap <= id)
            cap *= 2;
        iface_snap_t *p = realloc(self->if_prev[g], (size_t)cap * sizeof *p);
        if (!p) return NULL;
        memset(p + self->if_prev_cap[g], 0, (size_t)(cap - self->if_prev_cap[g]) * sizeof *p);
        self->if_prev[g] = p;
        self->if_prev_cap[g] = cap;
    }
    return &self->if_prev[g][id];
}

static void round_interfaces(scheduler_t *self, int64_t now_ms)
{
    granularity_t g = self->g;
    int has = script_engine_has_hook(self->engine, SUBDIR_INTERFACE, granularity_name(g));
    int n_sum = registry_snapshot(self->cfg.registry, self->sums, REGISTRY_MAX_PROBES);
    int n_if = registry_ifaces(self->cfg.registry, self->ifaces, REGISTRY_MAX_IFACES);
    for (int i = 0; i <= REGISTRY_MAX_IFACES; i++)
        self->sum_of[i] = -1;
    for (int k = 0; k < n_sum; k++)
        for (int j = 0; j < self->sums[k].n_ifaces && j < PROBE_IFACES_MAX; j++) {
            int id = self->sums[k].iface_ids[j];
            if (id > 0 && id <= REGISTRY_MAX_IFACES) self->sum_of[id] = k;
        }
    iface_snap_t now;
    for (int i = 0; i < n_if; i++) {
        iface_t *f = self->ifaces[i];
        int k = f->id > 0 && f->id <= REGISTRY_MAX_IFACES ? self->sum_of[f->id] : -1;
        const probe_summary_t *s = k >= 0 ? &self->sums[k] : NULL;
        fill_iface_snap(self, f, s, &now, now_ms);
        iface_snap_t *prev = iface_prev(self, g, f->id);
        if (has) {
            cur_entity_t *e = &self->ent;
            e->kind = ENT_IFACE;
            e->entity = "interface";
            snprintf(e->value, sizeof e->value, "%s/%s", f->probe_id, f->name);
            e->first = !(prev && prev->valid);
            e->interval_s = interval_s(self, !e->first, prev ? prev->t_ms : 0, now_ms);
            e->now_ms = now_ms;
            e->iface = f;
            e->sum = s;
            e->inow = &now;
            e->iprev = e->first ? NULL : prev;
            run_entity(self, SUBDIR_INTERFACE, f, now_ms / 1000);
            e->iface = NULL;
            e->inow = e->iprev = NULL;
        }
        if (prev) *prev = now;
    }
    if (has) end_subdir(self, SUBDIR_INTERFACE);
}

static void round_networks(scheduler_t *self, int64_t now_ms)
{
    granularity_t g = self->g;
    if (!self->cfg.netstats) return;
    int has = script_engine_has_hook(self->engine, SUBDIR_NETWORK, granularity_name(g));
    int n = netstats_count(self->cfg.netstats);
    for (int i = 0; i < n && i < NETSET_MAX; i++) {
        net_snap_t *prev = &self->net_prev[g][i];
        net_snapshot_t raw;
        netstats_snapshot(self->cfg.netstats, i, prev->valid ? prev->t_ms / 1000 : 0, &raw);
        net_snap_t now = {.valid = 1, .t_ms = now_ms};
        now.v[NET_INGRESS_BYTES] = raw.ingress_bytes;
        now.v[NET_EGRESS_BYTES] = raw.egress_bytes;
        now.v[NET_INNER_BYTES] = raw.inner_bytes;
        now.v[NET_INGRESS_PACKETS] = raw.ingress_packets;
        now.v[NET_EGRESS_PACKETS] = raw.egress_packets;
        now.v[NET_INNER_PACKETS] = raw.inner_packets;
        now.v[NET_FLOWS_NEW] = raw.flows_new;
        now.v[NET_FLOWS_ENDED] = raw.flows_ended;
        now.v[NET_SYN_ONLY_FLOWS] = raw.syn_only_flows;
        if (has) {
            cur_entity_t *e = &self->ent;
            e->kind = ENT_NET;
            e->entity = "network";
            snprintf(e->value, sizeof e->value, "%s", netstats_name(self->cfg.netstats, i));
            e->first = !prev->valid;
            e->interval_s = interval_s(self, prev->valid, prev->t_ms, now_ms);
            e->now_ms = now_ms;
            e->net = i;
            e->nnow = &now;
            e->nprev = prev->valid ? prev : NULL;
            e->nraw = &raw;
            run_entity(self, SUBDIR_NETWORK, NULL, now_ms / 1000);
            e->nnow = e->nprev = NULL;
            e->nraw = NULL;
        }
        *prev = now;
    }
    if (has) end_subdir(self, SUBDIR_NETWORK);
}

static void fill_sys_snap(scheduler_t *self, sys_snap_t *o, int64_t now_ms)
{
    memset(o, 0, sizeof *o);
    o->valid = 1;
    o->t_ms = now_ms;
    sysinfo_read(&o->si, self->cfg.engine.data_dir ? self->cfg.engine.data_dir : ".");
    int n_sum = registry_snapshot(self->cfg.registry, self->sums, REGISTRY_MAX_PROBES);
    for (int k = 0; k < n_sum; k++) {
        const probe_summary_t *s = &self->sums[k];
        o->v[SYS_FLOW_EVENTS] += s->flow_events;
        o->v[SYS_MESSAGES] += s->messages;
        o->v[SYS_LOST] += s->lost;
        o->v[SYS_DUPLICATES] += s->duplicates;
        if (strncmp(s->probe_id, "local:", 6) != 0) {
            o->probes++;
            o->probes_up += s->up;
        }
    }
    for (int w = 0; w < self->cfg.n_workers; w++) {
        worker_stats_t ws;
        worker_get_stats(self->cfg.workers[w], &ws);
        o->v[SYS_FLOWS_CREATED] += ws.flows_created;
        o->v[SYS_HOOK_CALLS] += ws.hook_calls;
        o->v[SYS_SCRIPT_ERRORS] += ws.script_errors;
        o->v[SYS_ALERTS] += ws.alerts;
        o->v[SYS_ALERTS_DROPPED] += ws.alerts_dropped;
        o->v[SYS_TABLE_FULL] += ws.table_full;
        o->flows_active += ws.flows_active;
        o->worker_queue_total += ws.queue_depth;
        if (ws.queue_depth > o->worker_queue_max) o->worker_queue_max = ws.queue_depth;
    }
    uint64_t calls = 0, errors = 0;
    script_engine_totals(self->engine, &calls, &errors);
    o->v[SYS_SCRIPT_ERRORS] += errors;
    o->v[SYS_HOOK_CALLS] += calls;
    if (self->cfg.alerts) {
        alert_store_stats_t as;
        alert_store_get_stats(self->cfg.alerts, &as);
        o->v[SYS_ALERTS_STORED] = as.stored + as.updated;
        o->v[SYS_ALERTS_FAILED] = as.failed;
        o->v[SYS_ALERTS_DROPPED] += as.dropped;
        o->alert_queue = as.queue_depth;
    }
}

static void round_system(scheduler_t *self, int64_t now_ms)
{
    granularity_t g = self->g;
    int has = script_engine_has_hook(self->engine, SUBDIR_SYSTEM, granularity_name(g));
    sys_snap_t now;
    fill_sys_snap(self, &now, now_ms);
    sys_snap_t *prev = &self->sys_prev[g];
    if (has) {
        cur_entity_t *e = &self->ent;
        e->kind = ENT_SYSTEM;
        e->entity = "system";
        snprintf(e->value, sizeof e->value, "system");
        e->first = !prev->valid;
        e->interval_s = interval_s(self, prev->valid, prev->t_ms, now_ms);
        e->now_ms = now_ms;
        e->snow = &now;
        e->sprev = prev->valid ? prev : NULL;
        run_entity(self, SUBDIR_SYSTEM, NULL, now_ms / 1000);
        e->snow = e->sprev = NULL;
        end_subdir(self, SUBDIR_SYSTEM);
    }
    *prev = now;
}

/* ---------------------------------------------------------------- SNMP */

static snmp_ref_t *ref_hold(snmp_ref_t *r)
{
    if (r) r->refs++;
    return r;
}

static void ref_drop(snmp_ref_t **r)
{
    if (*r && --(*r)->refs == 0) {
        snmp_snapshot_free(&(*r)->s);
        free(*r);
    }
    *r = NULL;
}

/* Poller thread: hands the snapshot to the scheduler thread. */
static void on_snapshot(void *ctx, snmp_snapshot_t *snap)
{
    scheduler_t *self = ctx;
    if (queue_push(self->snmp_q, snap) != 0) {
        atomic_fetch_add_explicit(&self->snmp_dropped, 1, memory_order_relaxed);
        snmp_snapshot_free(&snap);
    }
}

static void snmp_take(scheduler_t *self, snmp_snapshot_t *snap)
{
    int d = snap->device_index;
    if (d < 0 || d >= self->n_snmp) {
        snmp_snapshot_free(&snap);
        return;
    }
    snmp_ref_t *r = calloc(1, sizeof *r);
    if (!r) {
        snmp_snapshot_free(&snap);
        return;
    }
    r->s = snap;
    r->refs = 1;
    snmp_dev_t *dev = &self->snmp[d];
    ref_drop(&dev->latest);
    dev->latest = r;
    if (snap->reachable) {
        ref_drop(&dev->good);
        dev->good = ref_hold(r);
    }
}

static void snmp_drain(scheduler_t *self, int timeout_ms)
{
    if (!self->snmp_q) return;
    snmp_snapshot_t *s;
    while ((s = queue_pop(self->snmp_q, timeout_ms))) {
        snmp_take(self, s);
        timeout_ms = 0;
    }
}

/* Manual rounds: asks the poller for a round and waits until every device has a poll that
 * started after the request (bounded). */
static void snmp_fresh(scheduler_t *self)
{
    if (!self->poller) return;
    int64_t t_req = wall_ms();
    snmp_poller_poll_now(self->poller);
    double deadline = mono_ms() + 5000.0 + 3000.0 * self->n_snmp;
    while (!atomic_load(&self->stop) && mono_ms() < deadline) {
        snmp_drain(self, 100);
        int all = 1;
        for (int d = 0; d < self->n_snmp && all; d++)
            all = self->snmp[d].latest && self->snmp[d].latest->s->polled_at_ms >= t_req;
        if (all) return;
    }
    fprintf(stderr,
            "zflow-collector: scheduler: no fresh SNMP poll of every device within "
            "%.0f s; the round uses the latest polls\n",
            (5000.0 + 3000.0 * self->n_snmp) / 1000.0);
}

static const snmp_if_t *find_if(const snmp_snapshot_t *s, uint32_t index)
{
    if (!s) return NULL;
    int lo = 0, hi = s->n_ifs - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s->ifs[mid].index == index) return &s->ifs[mid];
        if (s->ifs[mid].index < index)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static void snmp_entity_value(cur_entity_t *e, const char *device, uint32_t index)
{
    snprintf(e->value, sizeof e->value, "%s_ifidx%u", device, index);
}

static void round_snmp(scheduler_t *self, int64_t now_ms)
{
    granularity_t g = self->g;
    int has = script_engine_has_hook(self->engine, SUBDIR_SNMP, granularity_name(g));
    cur_entity_t *e = &self->ent;
    for (int d = 0; d < self->n_snmp; d++) {
        snmp_dev_t *dev = &self->snmp[d];
        snmp_ref_t *latest = dev->latest;
        if (!latest) continue; /* not polled yet */
        memset(e, 0, sizeof *e);
        e->now_ms = now_ms;
        e->first = !dev->cur[g];
        e->interval_s = 0;
        if (!latest->s->reachable) {
            /* no new data: scripts see reachable = false, alert states are kept */
            e->reachable = 0;
            e->snmp_error = latest->s->error;
            const snmp_snapshot_t *good = dev->good ? dev->good->s : NULL;
            if (good && good->n_ifs > 0) {
                for (int i = 0; i < good->n_ifs && has; i++) {
                    e->kind = ENT_SNMP_IF;
                    e->entity = "snmp_interface";
                    e->snap = good;
                    e->ifc = &good->ifs[i];
                    snmp_entity_value(e, good->device, good->ifs[i].index);
                    run_entity(self, SUBDIR_SNMP, NULL, now_ms / 1000);
                    periodic_alerts_touch(self->tracked, e->source, g, self->round_no[g]);
                }
            } else if (has) {
                e->kind = ENT_SNMP_DEV;
                e->entity = "snmp_device";
                e->snap = NULL;
                snprintf(e->value, sizeof e->value, "%s", latest->s->device);
                run_entity(self, SUBDIR_SNMP, NULL, now_ms / 1000);
                periodic_alerts_touch(self->tracked, e->source, g, self->round_no[g]);
            }
            continue;
        }
        /* reachable: deltas from the baseline of the previous round of g (the same ones
         * again when no poll came since) */
        int fresh = dev->cur[g] != latest;
        snmp_ref_t *base = fresh ? dev->cur[g] : dev->base[g];
        const snmp_snapshot_t *s = latest->s, *b = base ? base->s : NULL;
        for (int i = 0; i < s->n_ifs && has; i++) {
            const snmp_if_t *c = &s->ifs[i];
            e->kind = ENT_SNMP_IF;
            e->entity = "snmp_interface";
            e->reachable = 1;
            e->snmp_error = s->truncated ? s->error : "";
            e->fresh = fresh;
            e->snap = s;
            e->base = b;
            e->ifc = c;
            e->base_if = find_if(b, c->index);
            e->has_delta = e->base_if && snmp_if_delta(e->base_if, b->sys_uptime_cs, c,
                                                       s->sys_uptime_cs, &e->delta) == 0;
            snmp_entity_value(e, s->device, c->index);
            run_entity(self, SUBDIR_SNMP, NULL, now_ms / 1000);
        }
        if (fresh) {
            ref_drop(&dev->base[g]);
            dev->base[g] = dev->cur[g];
            dev->cur[g] = ref_hold(latest);
        }
    }
    memset(e, 0, sizeof *e);
    if (has) end_subdir(self, SUBDIR_SNMP);
}

/* ---------------------------------------------------------------- rounds */

static void release_tracked(void *ctx, const periodic_alert_t *a)
{
    scheduler_t *self = ctx;
    if (self->cfg.alerts &&
        alert_store_release(self->cfg.alerts, a->entity, a->entity_value, a->alert_type,
                            a->script_key, wall_ms() / 1000) == 0)
        self->cur_round.released++;
}

/* One round of g: the function the timer and the control socket both use. */
static void run_round(scheduler_t *self, granularity_t g, int64_t when_s, int manual,
                      int64_t late_ms, round_summary_t *out)
{
    double t0 = mono_ms();
    uint64_t calls0, err0, calls1, err1;
    script_engine_totals(self->engine, &calls0, &err0);
    self->round_no[g]++;
    self->g = g;
    self->when = when_s;
    memset(&self->cur_round, 0, sizeof self->cur_round);
    memset(&self->ent, 0, sizeof self->ent);
    self->cur_round.g = g;
    self->cur_round.when = when_s;
    self->cur_round.manual = manual;
    self->cur_round.late_ms = late_ms;
    if (manual && self->n_snmp &&
        script_engine_has_hook(self->engine, SUBDIR_SNMP, granularity_name(g)))
        snmp_fresh(self);
    snmp_drain(self, 0);

    self->in_round = 1;
    int64_t now_ms = wall_ms();
    round_interfaces(self, now_ms);
    round_networks(self, now_ms);
    round_system(self, now_ms);
    round_snmp(self, now_ms);
    periodic_alerts_end_round(self->tracked, g, self->round_no[g], release_tracked, self);
    self->in_round = 0;
    memset(&self->ent, 0, sizeof self->ent);
    if (self->cfg.alerts) alert_store_sync(self->cfg.alerts, SYNC_MS);

    script_engine_totals(self->engine, &calls1, &err1);
    self->cur_round.errors = err1 - err0;
    self->cur_round.duration_ms = mono_ms() - t0;
    gran_stats_t *gs = &self->gs[g];
    gs->rounds++;
    if (manual)
        gs->manual_rounds++;
    else
        gs->timer_rounds++;
    gs->last = self->cur_round;
    gs->has_last = 1;
    if (out) *out = self->cur_round;
}

static void summary_json(FILE *f, const round_summary_t *r)
{
    fprintf(f,
            "{\"granularity\":\"%s\",\"when\":%" PRId64 ",\"manual\":%s,\"late_ms\":%" PRId64
            ",\"entities\":%" PRIu64 ",\"calls\":%" PRIu64 ",\"alerts_triggered\":%" PRIu64
            ",\"alerts_stored\":%" PRIu64 ",\"alerts_released\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"teardowns\":%" PRIu64 ",\"duration_ms\":%.1f}",
            granularity_name(r->g), r->when, r->manual ? "true" : "false", r->late_ms, r->entities,
            r->calls, r->triggered, r->stored, r->released, r->errors, r->teardowns,
            r->duration_ms);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void status_json(scheduler_t *self, FILE *f)
{
    int64_t now = wall_ms();
    script_engine_stats_t es;
    script_engine_get_stats(self->engine, &es);
    fprintf(f,
            "{\"timer\":%s,\"uptime_s\":%.1f,\"reloads\":%" PRIu64 ",\"requests\":%" PRIu64
            ",\"bad_requests\":%" PRIu64 ",\"engaged_tracked\":%zu,\"tracked_refused\":%" PRIu64
            ",\"engine\":{\"scripts\":%d,\"runnable\":%d,\"calls\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"mem_used\":%zu},\"granularities\":{",
            self->cfg.timer ? "true" : "false", (double)(now - self->started_ms) / 1000.0,
            self->reloads, self->requests, self->bad_requests, periodic_alerts_count(self->tracked),
            periodic_alerts_refused(self->tracked), es.scripts, es.runnable, es.calls, es.errors,
            es.mem_used);
    for (int g = 0; g < GRAN_COUNT; g++) {
        const gran_stats_t *gs = &self->gs[g];
        fprintf(f,
                "%s\"%s\":{\"rounds\":%" PRIu64 ",\"timer_rounds\":%" PRIu64
                ",\"manual_rounds\":%" PRIu64 ",\"missed\":%" PRIu64 ",\"late_rounds\":%" PRIu64
                ",\"last_late_ms\":%" PRId64 ",\"max_late_ms\":%" PRId64,
                g ? "," : "", granularity_name((granularity_t)g), gs->rounds, gs->timer_rounds,
                gs->manual_rounds, gs->missed, gs->late_rounds, gs->last_late_ms, gs->max_late_ms);
        if (self->cfg.timer)
            fprintf(f, ",\"next_due\":%" PRId64, self->timer.next_due_ms[g] / 1000);
        if (gs->has_last) {
            fprintf(f, ",\"last\":");
            summary_json(f, &gs->last);
        }
        fputc('}', f);
    }
    fprintf(f, "},\"snmp\":{\"dropped\":%" PRIu64 ",\"devices\":[",
            atomic_load_explicit(&self->snmp_dropped, memory_order_relaxed));
    for (int d = 0; d < self->n_snmp; d++) {
        snmp_device_stats_t ds;
        if (snmp_poller_get_device_stats(self->poller, d, &ds) != 0) continue;
        fprintf(f, "%s{\"device\":", d ? "," : "");
        json_str(f, ds.device);
        fprintf(f,
                ",\"reachable\":%d,\"polls\":%" PRIu64 ",\"failures\":%" PRIu64
                ",\"interfaces\":%d,\"last_error\":",
                ds.reachable, ds.polls, ds.failures, ds.n_ifs);
        json_str(f, ds.last_error);
        fputc('}', f);
    }
    fprintf(f, "]}}");
}

/* ---------------------------------------------------------------- control socket */

static void reply(scheduler_t *self, const char *text, size_t len)
{
    if (zmq_send(self->rep, text, len, 0) < 0)
        fprintf(stderr, "zflow-collector: scheduler: control reply: %s\n", zmq_strerror(errno));
}

static void handle_request(scheduler_t *self)
{
    char req[REQUEST_MAX + 1];
    int n = zmq_recv(self->rep, req, REQUEST_MAX, ZMQ_DONTWAIT);
    if (n < 0) return;
    int more = 0;
    size_t ml = sizeof more;
    zmq_getsockopt(self->rep, ZMQ_RCVMORE, &more, &ml);
    while (more) { /* one frame only: drop the rest */
        char junk[64];
        zmq_recv(self->rep, junk, sizeof junk, 0);
        zmq_getsockopt(self->rep, ZMQ_RCVMORE, &more, &ml);
        n = -2;
    }
    self->requests++;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        reply(self, oom, sizeof oom - 1);
        return;
    }
    if (n >= 0) {
        if (n > REQUEST_MAX) n = REQUEST_MAX;
        req[n] = '\0';
        while (n > 0 && (req[n - 1] == '\n' || req[n - 1] == '\r' || req[n - 1] == ' '))
            req[--n] = '\0';
    }
    int g;
    if (n >= 0 && strncmp(req, "run ", 4) == 0 && (g = granularity_parse(req + 4)) >= 0) {
        round_summary_t r;
        run_round(self, (granularity_t)g, wall_ms() / 1000, 1, 0, &r);
        summary_json(f, &r);
    } else if (n >= 0 && strcmp(req, "status") == 0) {
        status_json(self, f);
    } else {
        self->bad_requests++;
        fprintf(f, "{\"error\":\"unknown request: expected \\\"run min|5mins|hour|day\\\" or "
                   "\\\"status\\\"\"}");
    }
    fclose(f);
    reply(self, buf, len);
    free(buf);
}

/* ---------------------------------------------------------------- thread */

static void timer_rounds(scheduler_t *self)
{
    round_due_t due[GRAN_COUNT];
    int n = round_timer_take(&self->timer, wall_ms(), due);
    for (int i = 0; i < n && !atomic_load(&self->stop); i++) {
        gran_stats_t *gs = &self->gs[due[i].g];
        gs->missed += due[i].missed;
        /* lateness when the round starts: earlier rounds of this batch count too */
        int64_t late = wall_ms() - due[i].due_ms;
        gs->last_late_ms = late;
        if (late > gs->max_late_ms) gs->max_late_ms = late;
        if (late > LATE_MS) gs->late_rounds++;
        if (due[i].missed || late > LATE_MS)
            fprintf(stderr, "zflow-collector: scheduler: %s round %.1f s late%s\n",
                    granularity_name(due[i].g), (double)late / 1000.0,
                    due[i].missed ? " (earlier boundaries passed without a round: counted "
                                    "as missed)"
                                  : "");
        run_round(self, due[i].g, due[i].due_ms / 1000, 0, late, NULL);
    }
}

static void *scheduler_main(void *arg)
{
    scheduler_t *self = arg;
    while (!atomic_load(&self->stop)) {
        int timeout = POLL_MS;
        if (self->cfg.timer) {
            int64_t wait = round_timer_next_ms(&self->timer) - wall_ms();
            if (wait < timeout) timeout = wait < 0 ? 0 : (int)wait;
        }
        if (self->rep) {
            zmq_pollitem_t item = {self->rep, 0, ZMQ_POLLIN, 0};
            int rc = zmq_poll(&item, 1, timeout);
            if (rc > 0 && (item.revents & ZMQ_POLLIN)) handle_request(self);
        } else if (self->snmp_q) {
            snmp_drain(self, timeout);
        } else if (timeout > 0) {
            struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        snmp_drain(self, 0);
        if (self->cfg.reload && atomic_exchange(self->cfg.reload, 0)) {
            char err[256];
            if (script_engine_reload(self->engine, err, sizeof err) == 0) {
                self->reloads++;
                fprintf(stderr, "zflow-collector: scheduler: scripts and configuration "
                                "reloaded\n");
            } else {
                fprintf(stderr, "zflow-collector: scheduler: reload failed: %s\n", err);
            }
        }
        if (self->cfg.timer) timer_rounds(self);
    }
    return NULL;
}

static int scheduler_init(scheduler_t *self, char *err, size_t errlen)
{
    engine_config_t ec = self->cfg.engine;
    ec.subdir_mask = (1u << SUBDIR_INTERFACE) | (1u << SUBDIR_NETWORK) | (1u << SUBDIR_SYSTEM) |
                     (1u << SUBDIR_SNMP);
    ec.host.ctx = self;
    ec.host.store_alert = host_store_alert;
    ec.host.release_alert = host_release_alert;
    ec.host.is_engaged = host_is_engaged;
    ec.host.intern = NULL; /* the engine's own table */
    ec.host.push_interface_stats = host_push_interface_stats;
    ec.host.iface_name = host_iface_name;
    ec.host.iface_id = host_iface_id;
    ec.host.iface_probe_id = host_iface_probe_id;
    ec.host.iface_is_packet = host_iface_is_packet;
    self->engine = script_engine_new(&ec, err, errlen);
    if (!self->engine) return -1;
    if (self->cfg.alerts_db) {
        char e2[256];
        int n = periodic_alerts_load(self->tracked, self->cfg.alerts_db, script_mask, self, e2,
                                     sizeof e2);
        if (n < 0)
            fprintf(stderr, "zflow-collector: scheduler: cannot restore engaged alerts: %s\n", e2);
        else if (n > 0)
            fprintf(stderr,
                    "zflow-collector: scheduler: %d engaged alerts of periodic scripts "
                    "restored\n",
                    n);
    }
    if (self->cfg.control) {
        self->zctx = zmq_ctx_new();
        self->rep = self->zctx ? zmq_socket(self->zctx, ZMQ_REP) : NULL;
        if (!self->rep) {
            snprintf(err, errlen, "control socket: %s", zmq_strerror(errno));
            return -1;
        }
        int linger = 0;
        int64_t maxmsg = 4096;
        zmq_setsockopt(self->rep, ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(self->rep, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
        if (zmq_bind(self->rep, self->cfg.control) != 0) {
            snprintf(err, errlen, "--control %s: %s", self->cfg.control, zmq_strerror(errno));
            return -1;
        }
    }
    return 0;
}

static void *scheduler_start(void *arg)
{
    scheduler_t *self = arg;
    char err[256] = "";
    int rc = scheduler_init(self, err, sizeof err);
    thread_gate_open(&self->gate, rc, err);
    if (rc != 0) return NULL;
    return scheduler_main(self);
}

scheduler_t *scheduler_new(const scheduler_config_t *cfg, char *err, size_t errlen)
{
    scheduler_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->started_ms = wall_ms();
    round_timer_init(&self->timer, self->started_ms);
    thread_gate_init(&self->gate);
    self->tracked = periodic_alerts_new(TRACKED_CAP);
    self->sums = calloc(REGISTRY_MAX_PROBES, sizeof *self->sums);
    self->ifaces = calloc(REGISTRY_MAX_IFACES, sizeof *self->ifaces);
    self->sum_of = calloc(REGISTRY_MAX_IFACES + 1, sizeof *self->sum_of);
    if (!self->tracked || !self->sums || !self->ifaces || !self->sum_of) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (cfg->n_snmp_devices > SCHEDULER_MAX_SNMP_DEVICES ||
        cfg->n_snmp_devices > SNMP_POLLER_MAX_DEVICES) {
        snprintf(err, errlen, "too many SNMP devices (at most %d)", SNMP_POLLER_MAX_DEVICES);
        goto fail;
    }
    if (cfg->n_snmp_devices > 0) {
        snmp_poller_config_t pc;
        memset(&pc, 0, sizeof pc);
        for (int i = 0; i < cfg->n_snmp_devices; i++)
            pc.devices[i] = cfg->snmp_devices[i];
        pc.n_devices = cfg->n_snmp_devices;
        pc.interval_s = cfg->snmp_interval_s;
        pc.deliver = on_snapshot;
        pc.ctx = self;
        self->n_snmp = cfg->n_snmp_devices;
        self->snmp_q = queue_new(SNMP_QUEUE_CAP);
        if (!self->snmp_q) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        self->poller = snmp_poller_new(&pc, err, errlen);
        if (!self->poller) goto fail;
    }
    if (pthread_create(&self->thread, NULL, scheduler_start, self) != 0) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        goto fail;
    }
    self->started = 1;
    pthread_setname_np(self->thread, "scheduler"); /* best effort: top -H, perf */
    if (thread_gate_wait(&self->gate, err, errlen) != 0)
        goto fail;
    return self;
fail:
    scheduler_destroy(&self);
    return NULL;
}

void scheduler_destroy(scheduler_t **pself)
{
    if (!pself || !*pself) return;
    scheduler_t *self = *pself;
    if (self->started) {
        atomic_store(&self->stop, 1);
        pthread_join(self->thread, NULL);
    }
    snmp_poller_destroy(&self->poller);
    snmp_snapshot_t *s;
    while (self->snmp_q && (s = queue_pop(self->snmp_q, 0)))
        snmp_snapshot_free(&s);
    queue_destroy(&self->snmp_q);
    for (int d = 0; d < SCHEDULER_MAX_SNMP_DEVICES; d++) {
        snmp_dev_t *dev = &self->snmp[d];
        ref_drop(&dev->latest);
        ref_drop(&dev->good);
        for (int g = 0; g < GRAN_COUNT; g++) {
            ref_drop(&dev->base[g]);
            ref_drop(&dev->cur[g]);
        }
    }
    if (self->rep) zmq_close(self->rep);
    if (self->zctx) zmq_ctx_term(self->zctx);
    script_engine_destroy(&self->engine);
    periodic_alerts_destroy(&self->tracked);
    for (int g = 0; g < GRAN_COUNT; g++)
        free(self->if_prev[g]);
    free(self->sums);
    free(self->ifaces);
    free(self->sum_of);
    thread_gate_destroy(&self->gate);
    free(self);
    *pself = NULL;
}

/* ---------------------------------------------------------------- client */

int scheduler_request(const char *endpoint, const char *request, int timeout_ms, FILE *out)
{
    int rc = 1;
    void *ctx = zmq_ctx_new();
    void *s = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (!s) {
        fprintf(stderr, "zflow-collector: control socket: %s\n", zmq_strerror(errno));
        goto out;
    }
    /* no queueing before the connection: a collector that is not there fails the send */
    int linger = 0, one = 1, connect_ms = CONNECT_MS;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    zmq_setsockopt(s, ZMQ_SNDTIMEO, &connect_ms, sizeof connect_ms);
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "zflow-collector: --control %s: %s\n", endpoint, zmq_strerror(errno));
        goto out;
    }
    if (zmq_send(s, request, strlen(request), 0) < 0) {
        fprintf(stderr, "zflow-collector: --control %s: %s\n", endpoint,
                errno == EAGAIN ? "no collector answers there" : zmq_strerror(errno));
        goto out;
    }
    if (zmq_msg_recv(&msg, s, 0) < 0) {
        fprintf(stderr, "zflow-collector: --control %s: no reply within %d ms (%s)\n", endpoint,
                timeout_ms, zmq_strerror(errno));
        goto out;
    }
    const char *data = zmq_msg_data(&msg);
    size_t len = zmq_msg_size(&msg);
    fwrite(data, 1, len, out);
    fputc('\n', out);
    fflush(out);
    rc = len >= 9 && memcmp(data, "{\"error\":", 9) == 0 ? 1 : 0;
out:
    zmq_msg_close(&msg);
    if (s) zmq_close(s);
    if (ctx) zmq_ctx_term(ctx);
    return rc;
}
