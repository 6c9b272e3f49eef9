/* worker: a thread that owns the flows of some interfaces, their Lua states and their hooks. */
#include "worker.h"

#include "codec.h"
#include "thread_gate.h"
#include "timebase.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE_MIN 65536u
#define INTERN_CAP 8192u
#define INTERN_MAX_LEN 256u
#define LIST_MAX 256

#define TOMBSTONES 262144u /* ended flows remembered (a bounded, overwriting table) */

/* An ended flow: an event for it arriving later (a resent older batch) must not re-create it. */
typedef struct tombstone {
    const iface_t *iface;
    uint64_t flow_id;
} tombstone_t;

#define GROUP_MAX 4096 /* alerts of one flow batch committed with its applied mark */

struct worker {
    worker_config_t cfg;
    /* alerts raised while a flow batch is applied: committed together with its mark */
    int grouping;
    alert_t *group;
    size_t n_group;
    tombstone_t *tombs;
    _Atomic uint64_t late_events; /* events for flows that already ended, ignored */
    pthread_t thread;
    int started;
    atomic_int stop;
    queue_t *in;
    script_engine_t *engine;
    /* flow table: chained hash on (iface id, flow id) */
    cflow_t **buckets;
    uint32_t nbuckets;
    uint64_t nflows;
    /* interned strings: open addressing, never shrinks, capped */
    char **intern;
    uint32_t intern_n;
    /* counters written by this thread only, read by others */
    _Atomic uint64_t events, created, ended, table_full, hook_calls, alerts, alerts_dropped,
        intern_full, script_errors;
    /* script listing snapshot for other threads */
    pthread_mutex_t list_lock;
    script_info_t *list;
    int list_n;
    /* engine creation result for worker_new() */
    thread_gate_t gate;          /* the thread's set-up is done */
};

static inline void bump(_Atomic uint64_t *v, uint64_t d)
{
    atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

/* ---- interned strings ---- */

static uint32_t str_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* Returns a stable copy of s; "" for NULL; a fixed string when the table is full. */
static const char *worker_intern(worker_t *self, const char *s)
{
    if (!s || !*s)
        return "";
    size_t len = strnlen(s, INTERN_MAX_LEN);
    uint32_t mask = INTERN_CAP * 2 - 1;
    uint32_t i = str_hash(s) & mask;
    while (self->intern[i]) {
        if (strncmp(self->intern[i], s, len) == 0 && self->intern[i][len] == '\0')
            return self->intern[i];
        i = (i + 1) & mask;
    }
    if (self->intern_n >= INTERN_CAP) {
        bump(&self->intern_full, 1);
        return "(too many names)";
    }
    char *copy = strndup(s, len);
    if (!copy)
        return "";
    self->intern[i] = copy;
    self->intern_n++;
    return copy;
}

/* ---- engine host callbacks ---- */

/* A copy of an alert whose strings the worker owns until the group is submitted. */
static int group_add(worker_t *self, const alert_t *a)
{
    alert_t *c = &self->group[self->n_group];
    *c = *a;
    const char **f[] = {&c->entity, &c->entity_value, &c->probe_id, &c->interface,
                        &c->alert_type, &c->script_key, &c->subdir, &c->message, &c->json};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        if (*f[i] && !(*f[i] = strdup(*f[i]))) {
            for (size_t j = 0; j < i; j++)
                free((char *)*f[j]);
            return -1;
        }
    }
    self->n_group++;
    return 0;
}

static void group_free(worker_t *self)
{
    for (size_t i = 0; i < self->n_group; i++) {
        alert_t *c = &self->group[i];
        const char *f[] = {c->entity, c->entity_value, c->probe_id, c->interface, c->alert_type,
                           c->script_key, c->subdir, c->message, c->json};
        for (size_t j = 0; j < sizeof f / sizeof *f; j++)
            free((char *)f[j]);
    }
    self->n_group = 0;
}

/* Commits the alerts of a flow batch part; the last part also carries the batch's applied mark
 * (probe batches only: local sources start a new run every time). */
static void group_submit(worker_t *self, const batch_t *b, int last)
{
    const char *probe = last && b->socket_index >= 0 ? b->env->probe_id : NULL;
    if (self->cfg.alerts && (self->n_group || probe) &&
        alert_store_submit_group(self->cfg.alerts, self->group, self->n_group, probe,
                                 b->env->run_id, b->seq) != 0)
        bump(&self->alerts_dropped, self->n_group);
    group_free(self);
}

static int host_store_alert(void *ctx, const alert_t *a)
{
    worker_t *self = ctx;
    bump(&self->alerts, 1);
    if (!self->cfg.alerts)
        return 0;
    if (self->grouping && self->n_group < GROUP_MAX && group_add(self, a) == 0)
        return 0;
    if (alert_store_submit(self->cfg.alerts, a) != 0) {
        bump(&self->alerts_dropped, 1);
        return -1;
    }
    return 0;
}

static int host_release_alert(void *ctx, const char *entity, const char *value, const char *type,
                              const char *script)
{
    worker_t *self = ctx;
    if (!self->cfg.alerts)
        return 0;
    return alert_store_release(self->cfg.alerts, entity, value, type, script,
                               (int64_t)(wall_ns() / 1000000000ull));
}

static int host_is_engaged(void *ctx, const char *entity, const char *value, const char *type,
                           const char *script)
{
    worker_t *self = ctx;
    return self->cfg.alerts ? alert_store_is_engaged(self->cfg.alerts, entity, value, type, script)
                            : 0;
}

static const char *host_intern(void *ctx, const char *s)
{
    return worker_intern(ctx, s);
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

/* ---- flow table ---- */

static inline uint32_t flow_slot(const worker_t *self, const iface_t *iface, uint64_t id)
{
    uint64_t h = (id ^ ((uint64_t)iface->id << 40)) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32) & (self->nbuckets - 1);
}

static cflow_t *table_find(worker_t *self, const iface_t *iface, uint64_t id)
{
    for (cflow_t *f = self->buckets[flow_slot(self, iface, id)]; f; f = f->hnext)
        if (f->flow_id == id && f->iface == iface)
            return f;
    return NULL;
}

static void table_grow(worker_t *self)
{
    uint32_t n = self->nbuckets * 2;
    cflow_t **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    uint32_t old = self->nbuckets;
    cflow_t **ob = self->buckets;
    self->buckets = nb;
    self->nbuckets = n;
    for (uint32_t i = 0; i < old; i++) {
        cflow_t *f = ob[i];
        while (f) {
            cflow_t *next = f->hnext;
            uint32_t s = flow_slot(self, f->iface, f->flow_id);
            f->hnext = nb[s];
            nb[s] = f;
            f = next;
        }
    }
    free(ob);
}

static void table_remove(worker_t *self, cflow_t *f)
{
    cflow_t **pp = &self->buckets[flow_slot(self, f->iface, f->flow_id)];
    while (*pp && *pp != f)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = f->hnext;
    self->nflows--;
}

static inline uint32_t tomb_slot(const iface_t *iface, uint64_t id)
{
    uint64_t h = (id * 0x9e3779b97f4a7c15ull) ^ (uint64_t)(uintptr_t)iface;
    return (uint32_t)(h >> 32) & (TOMBSTONES - 1);
}

static int tomb_has(const worker_t *self, const iface_t *iface, uint64_t id)
{
    const tombstone_t *t = &self->tombs[tomb_slot(iface, id)];
    return t->iface == iface && t->flow_id == id;
}

static void cflow_free(cflow_t *f)
{
    free(f->server_name);
    free(f->community_id);
    free(f->extra);
    free(f);
}

/* Copies a wire address into a 16-byte buffer (IPv4 in the first 4 bytes). */
static void copy_addr(uint8_t *dst, const ProtobufCBinaryData *src)
{
    memset(dst, 0, 16);
    if (src->len == 4 || src->len == 16)
        memcpy(dst, src->data, src->len);
}

/* Adds bytes to the interface's per-L7 counters (interned names compare by pointer). */
static void iface_l7_add(iface_t *ifc, const char *name, uint64_t bytes, int new_flow)
{
    for (int i = 0; i < IFACE_L7_SLOTS; i++) {
        const char *n = atomic_load_explicit(&ifc->l7[i].name, memory_order_acquire);
        if (!n) {
            /* only the owning worker writes names: claim the free slot */
            atomic_store_explicit(&ifc->l7[i].name, name, memory_order_release);
            n = name;
        }
        if (n == name) {
            iface_add(&ifc->l7[i].bytes, bytes);
            if (new_flow)
                iface_add(&ifc->l7[i].flows, 1);
            return;
        }
    }
    iface_add(&ifc->l7_other_bytes, bytes);
}

/* Applies the cumulative values of a flow event to the stored flow. */
static void cflow_update(worker_t *self, cflow_t *f, const Zflow__Flow *w, int is_new,
                         int64_t now_s)
{
    iface_t *ifc = f->iface;
    /* counters are cumulative; a lower value (a resent older event) adds nothing */
#define DELTA(cur, nv) ((nv) > (cur) ? (nv) - (cur) : 0)
    uint64_t dcb = DELTA(f->c2s_bytes, w->c2s_bytes), dsb = DELTA(f->s2c_bytes, w->s2c_bytes);
    uint64_t dcp = DELTA(f->c2s_packets, w->c2s_packets);
    uint64_t dsp = DELTA(f->s2c_packets, w->s2c_packets);
#undef DELTA
    f->first_ns = w->first_seen_ns;
    f->last_ns = w->last_seen_ns;
    f->c2s_bytes += dcb;
    f->s2c_bytes += dsb;
    f->c2s_packets += dcp;
    f->s2c_packets += dsp;
    iface_add(&ifc->c.bytes, dcb + dsb);
    iface_add(&ifc->c.packets, dcp + dsp);
    f->c2s_tos = (uint8_t)w->c2s_tos;
    f->s2c_tos = (uint8_t)w->s2c_tos;
    f->min_ttl = (uint8_t)w->min_ttl;
    f->max_ttl = (uint8_t)w->max_ttl;
    f->cli_rtt_us = (uint32_t)(w->client_rtt_us > UINT32_MAX ? UINT32_MAX : w->client_rtt_us);
    f->srv_rtt_us = (uint32_t)(w->server_rtt_us > UINT32_MAX ? UINT32_MAX : w->server_rtt_us);
    f->c2s_retrans = (uint32_t)(w->c2s_retransmissions > UINT32_MAX ? UINT32_MAX
                                                                    : w->c2s_retransmissions);
    f->s2c_retrans = (uint32_t)(w->s2c_retransmissions > UINT32_MAX ? UINT32_MAX
                                                                    : w->s2c_retransmissions);
    if (w->l7_proto_name && *w->l7_proto_name) {
        f->l7_master_id = (uint16_t)w->l7_master_id;
        f->l7_app_id = (uint16_t)w->l7_app_id;
        f->l7_category_id = (uint16_t)w->l7_category_id;
        f->l7_proto_name = worker_intern(self, w->l7_proto_name);
        f->l7_master_name = worker_intern(self, w->l7_master_name);
        f->l7_app_name = worker_intern(self, w->l7_app_name);
        f->l7_category = worker_intern(self, w->l7_category);
        f->risk = w->l7_risk;
        f->risk_score = (uint16_t)(w->l7_risk_score > 65535 ? 65535 : w->l7_risk_score);
    }
    if (w->server_name && *w->server_name && !f->server_name)
        f->server_name = strndup(w->server_name, 255);
    if (w->community_id && *w->community_id && !f->community_id) {
        f->community_id = strndup(w->community_id, 64);
        /* probe and packet flows can be joined with IDS verdicts by Community ID */
        if (f->community_id && self->cfg.cids && !ifc->is_syslog)
            cid_index_add(self->cfg.cids, f->community_id, ifc, f->flow_id);
    }
    f->c2s_tcp_flags |= (uint8_t)w->c2s_tcp_flags;
    f->s2c_tcp_flags |= (uint8_t)w->s2c_tcp_flags;
    int is_end = w->event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END;
    if (*f->l7_proto_name || is_end || dcb + dsb)
        iface_l7_add(ifc, *f->l7_proto_name ? f->l7_proto_name : "Unknown", dcb + dsb,
                     is_new);
    if (self->cfg.netstats)
        netstats_flow(self->cfg.netstats, f, dcb, dsb, dcp, dsp, is_new, is_end, now_s);
}

static cflow_t *cflow_create(worker_t *self, iface_t *iface, const Zflow__Flow *w)
{
    if (self->nflows >= self->cfg.max_flows) {
        bump(&self->table_full, 1);
        return NULL;
    }
    cflow_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->flow_id = w->flow_id;
    f->iface = iface;
    f->ip_version = (uint8_t)w->ip_version;
    copy_addr(f->cli_ip, &w->client_ip);
    copy_addr(f->srv_ip, &w->server_ip);
    f->cli_port = (uint16_t)w->client_port;
    f->srv_port = (uint16_t)w->server_port;
    f->l4_proto = (uint8_t)w->l4_proto;
    f->icmp_type = (uint8_t)w->icmp_type;
    f->icmp_code = (uint8_t)w->icmp_code;
    f->vlan = (uint16_t)w->vlan_outer;
    f->l7_proto_name = f->l7_master_name = f->l7_app_name = f->l7_category = "";
    f->cli_net = f->srv_net = -1;
    if (self->cfg.netstats)
        netstats_classify(self->cfg.netstats, f);
    if (w->client_mac.len == 6 || w->vlan_inner || w->tunnel_type) {
        cflow_extra_t *x = calloc(1, sizeof *x);
        if (x) {
            if (w->client_mac.len == 6 && w->server_mac.len == 6) {
                x->has_macs = 1;
                memcpy(x->cli_mac, w->client_mac.data, 6);
                memcpy(x->srv_mac, w->server_mac.data, 6);
            }
            x->vlan_inner = (uint16_t)w->vlan_inner;
            x->tunnel_type = (uint8_t)w->tunnel_type;
            x->tunnel_id = w->tunnel_id;
            x->tunnel_ip_version = w->tunnel_outer_src.len == 16 ? 6
                                   : w->tunnel_outer_src.len == 4 ? 4
                                                                  : 0;
            copy_addr(x->tunnel_src, &w->tunnel_outer_src);
            copy_addr(x->tunnel_dst, &w->tunnel_outer_dst);
        }
        f->extra = x;
    }
    if (self->nflows >= self->nbuckets)
        table_grow(self);
    uint32_t s = flow_slot(self, iface, f->flow_id);
    f->hnext = self->buckets[s];
    self->buckets[s] = f;
    self->nflows++;
    bump(&self->created, 1);
    iface_add(&iface->c.flows_new, 1);
    iface_add(&iface->c.flows_active, 1);
    return f;
}

static const char *hook_name(flow_hook_t h)
{
    switch (h) {
    case FLOW_HOOK_PROTOCOL_DETECTED: return "protocolDetected";
    case FLOW_HOOK_STATUS_CHANGED: return "statusChanged";
    case FLOW_HOOK_PERIODIC_UPDATE: return "periodicUpdate";
    case FLOW_HOOK_FLOW_END: return "flowEnd";
    default: return "?";
    }
}

/* Runs a hook; the engine keeps the order (protocolDetected once and first, nothing after
 * flowEnd). --trace-hooks records what actually ran. */
static void run_hook(worker_t *self, flow_hook_t hook, cflow_t *f, int64_t now_s)
{
    uint8_t before = f->hook_state;
    int calls = 0;
    if (self->engine)
        calls = script_engine_run_flow_hook(self->engine, hook, f, f->iface->is_packet, now_s);
    if (calls > 0) {
        bump(&self->hook_calls, (uint64_t)calls);
        iface_add(&f->iface->c.hook_calls, (uint64_t)calls);
    }
    if (self->cfg.trace) {
        if (!(before & CFLOW_PROTO_DETECTED) && (f->hook_state & CFLOW_PROTO_DETECTED) &&
            !(f->hook_state & CFLOW_PD_SKIPPED))
            fprintf(self->cfg.trace, "%d %llu protocolDetected\n", f->iface->id,
                    (unsigned long long)f->flow_id);
        if (hook != FLOW_HOOK_PROTOCOL_DETECTED && !(before & CFLOW_ENDED))
            fprintf(self->cfg.trace, "%d %llu %s\n", f->iface->id, (unsigned long long)f->flow_id,
                    hook_name(hook));
    }
}

/* Ends a flow: flowEnd (after protocolDetected if L7 is known and it never ran), then frees it. */
static void cflow_end(worker_t *self, cflow_t *f, int reason, int64_t now_s)
{
    f->end_reason = (uint8_t)reason;
    run_hook(self, FLOW_HOOK_FLOW_END, f, now_s);
    if (f->community_id && self->cfg.cids && !f->iface->is_syslog)
        cid_index_end(self->cfg.cids, f->community_id, f->iface, f->flow_id, now_s);
    table_remove(self, f);
    tombstone_t *t = &self->tombs[tomb_slot(f->iface, f->flow_id)];
    t->iface = f->iface;
    t->flow_id = f->flow_id;
    bump(&self->ended, 1);
    iface_add(&f->iface->c.flows_ended, 1);
    iface_sub(&f->iface->c.flows_active, 1);
    cflow_free(f);
}

/* One flow event from a probe or a local packet interface. */
static void apply_event(worker_t *self, iface_t *iface, const Zflow__Flow *w, int64_t now_s)
{
    bump(&self->events, 1);
    iface_add(&iface->c.flow_events, 1);
    cflow_t *f = table_find(self, iface, w->flow_id);
    int is_new = 0;
    if (!f) {
        if (tomb_has(self, iface, w->flow_id)) {
            bump(&self->late_events, 1); /* its end was applied already */
            return;
        }
        f = cflow_create(self, iface, w);
        if (!f)
            return;
        is_new = 1;
    }
    cflow_update(self, f, w, is_new, now_s);
    switch (w->event) {
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_L7:
        run_hook(self, FLOW_HOOK_PROTOCOL_DETECTED, f, now_s);
        break;
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE:
        run_hook(self, FLOW_HOOK_PERIODIC_UPDATE, f, now_s);
        break;
    case ZFLOW__FLOW_EVENT__FLOW_EVENT_END:
        cflow_end(self, f, w->end_reason, now_s);
        break;
    default:
        break;
    }
}

/* Ends every flow of one interface (probe down or restarted). */
static void end_iface_flows(worker_t *self, iface_t *iface, int reason, int64_t now_s)
{
    for (uint32_t i = 0; i < self->nbuckets; i++) {
        cflow_t *f = self->buckets[i];
        while (f) {
            cflow_t *next = f->hnext;
            if (f->iface == iface)
                cflow_end(self, f, reason, now_s);
            f = next;
        }
    }
}

/* ---- engine life ---- */

static void worker_publish_list(worker_t *self)
{
    script_info_t *tmp = calloc(LIST_MAX, sizeof *tmp);
    int n = self->engine && tmp ? script_engine_list(self->engine, tmp, LIST_MAX) : 0;
    if (n > LIST_MAX)
        n = LIST_MAX;
    pthread_mutex_lock(&self->list_lock);
    free(self->list);
    self->list = tmp;
    self->list_n = n;
    pthread_mutex_unlock(&self->list_lock);
}

static int worker_load_engine(worker_t *self, char *err, size_t errlen)
{
    engine_config_t ec = self->cfg.engine;
    ec.host.ctx = self;
    ec.host.store_alert = host_store_alert;
    ec.host.release_alert = host_release_alert;
    ec.host.is_engaged = host_is_engaged;
    ec.host.intern = host_intern;
    ec.host.iface_name = host_iface_name;
    ec.host.iface_id = host_iface_id;
    ec.host.iface_probe_id = host_iface_probe_id;
    ec.host.iface_is_packet = host_iface_is_packet;
    script_engine_t *e = script_engine_new(&ec, err, errlen);
    if (!e)
        return -1;
    script_engine_destroy(&self->engine);
    self->engine = e;
    worker_publish_list(self);
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *self = arg;
    char err[256] = "";
    int rc = worker_load_engine(self, err, sizeof err);
    thread_gate_open(&self->gate, rc, err);
    if (rc != 0)
        return NULL;

    uint64_t next_publish = 0;
    for (;;) {
        work_t *w = queue_pop(self->in, 100);
        int64_t now_s = (int64_t)(wall_ns() / 1000000000ull);
        if (!w) {
            if (atomic_load(&self->stop))
                break;
        } else {
            switch (w->kind) {
            case WORK_FLOWS: {
                self->grouping = 1;
                for (uint32_t i = 0; i < w->n; i++)
                    apply_event(self, w->ifaces[i], w->flows[i], now_s);
                self->grouping = 0;
                int last = atomic_fetch_sub(&w->batch->refs, 1) == 1;
                group_submit(self, w->batch, last);
                if (last) {
                    /* ingest keeps fewer batches in flight than `done` holds */
                    struct timespec ms = {0, 1000000};
                    while (queue_push(self->cfg.done, w->batch) != 0)
                        nanosleep(&ms, NULL);
                }
                break;
            }
            case WORK_IFACE_END:
                end_iface_flows(self, w->iface, w->reason, now_s);
                break;
            case WORK_RELOAD:
                if (script_engine_reload(self->engine, err, sizeof err) == 0)
                    worker_publish_list(self);
                else
                    fprintf(stderr, "zflow-collector: worker %d: reload failed: %s\n",
                            self->cfg.index, err);
                break;
            case WORK_BARRIER:
                if (self->cfg.trace)
                    fflush(self->cfg.trace);
                atomic_fetch_sub(w->barrier, 1);
                break;
            }
            work_free(w);
        }
        uint64_t t = wall_ns();
        if (t >= next_publish) {
            worker_publish_list(self);
            if (self->engine) {
                uint64_t calls, errors;
                script_engine_totals(self->engine, &calls, &errors);
                atomic_store_explicit(&self->script_errors, errors, memory_order_relaxed);
            }
            next_publish = t + 1000000000ull;
        }
    }
    return NULL;
}

/* ---- public ---- */

void work_free(work_t *w)
{
    if (!w)
        return;
    free(w->flows);
    free(w->ifaces);
    free(w);
}

worker_t *worker_new(const worker_config_t *cfg, char *err, size_t errlen)
{
    worker_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    if (!self->cfg.queue_cap)
        self->cfg.queue_cap = 1024;
    if (!self->cfg.max_flows)
        self->cfg.max_flows = 4000000;
    pthread_mutex_init(&self->list_lock, NULL);
    thread_gate_init(&self->gate);
    self->in = queue_new(self->cfg.queue_cap);
    self->nbuckets = TABLE_MIN;
    self->buckets = calloc(self->nbuckets, sizeof *self->buckets);
    self->intern = calloc(INTERN_CAP * 2, sizeof *self->intern);
    self->tombs = calloc(TOMBSTONES, sizeof *self->tombs);
    self->group = calloc(GROUP_MAX, sizeof *self->group);
    if (!self->in || !self->buckets || !self->intern || !self->tombs || !self->group) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (pthread_create(&self->thread, NULL, worker_main, self) != 0) {
        snprintf(err, errlen, "cannot start worker thread");
        goto fail;
    }
    self->started = 1;
    char tname[16];
    snprintf(tname, sizeof tname, "flow-worker-%u", (unsigned)self->cfg.index % 1000u);
    pthread_setname_np(self->thread, tname); /* best effort: top -H, perf */
    if (thread_gate_wait(&self->gate, err, errlen) != 0)
        goto fail;
    return self;
fail:
    worker_destroy(&self);
    return NULL;
}

void worker_destroy(worker_t **pself)
{
    if (!pself || !*pself)
        return;
    worker_t *self = *pself;
    if (self->started) {
        atomic_store(&self->stop, 1);
        pthread_join(self->thread, NULL);
    }
    work_t *w;
    while (self->in && (w = queue_pop(self->in, 0)))
        work_free(w);
    script_engine_destroy(&self->engine);
    for (uint32_t i = 0; self->buckets && i < self->nbuckets; i++) {
        cflow_t *f = self->buckets[i];
        while (f) {
            cflow_t *next = f->hnext;
            cflow_free(f);
            f = next;
        }
    }
    free(self->buckets);
    for (uint32_t i = 0; self->intern && i < INTERN_CAP * 2; i++)
        free(self->intern[i]);
    free(self->intern);
    free(self->tombs);
    group_free(self);
    free(self->group);
    free(self->list);
    queue_destroy(&self->in);
    pthread_mutex_destroy(&self->list_lock);
    thread_gate_destroy(&self->gate);
    free(self);
    *pself = NULL;
}

queue_t *worker_queue(worker_t *self)
{
    return self->in;
}

void worker_get_stats(worker_t *self, worker_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->events = atomic_load_explicit(&self->events, memory_order_relaxed);
    out->flows_created = atomic_load_explicit(&self->created, memory_order_relaxed);
    out->flows_ended = atomic_load_explicit(&self->ended, memory_order_relaxed);
    out->flows_active = out->flows_created - out->flows_ended;
    out->table_full = atomic_load_explicit(&self->table_full, memory_order_relaxed);
    out->hook_calls = atomic_load_explicit(&self->hook_calls, memory_order_relaxed);
    out->script_errors = atomic_load_explicit(&self->script_errors, memory_order_relaxed);
    out->alerts = atomic_load_explicit(&self->alerts, memory_order_relaxed);
    out->alerts_dropped = atomic_load_explicit(&self->alerts_dropped, memory_order_relaxed);
    out->intern_full = atomic_load_explicit(&self->intern_full, memory_order_relaxed);
    out->late_events = atomic_load_explicit(&self->late_events, memory_order_relaxed);
    out->queue_depth = queue_depth(self->in);
}

int worker_list_scripts(worker_t *self, script_info_t *out, int max)
{
    pthread_mutex_lock(&self->list_lock);
    int n = self->list_n < max ? self->list_n : max;
    if (n > 0)
        memcpy(out, self->list, (size_t)n * sizeof *out);
    pthread_mutex_unlock(&self->list_lock);
    return n;
}
