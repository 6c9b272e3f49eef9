/* syslog_dispatch: hands each syslog message to the syslog script of its source on its own
 * thread; gives those scripts flows, probe statistics and Community ID alert joins. */
#include "syslog_dispatch.h"

#include "codec.h"
#include "local_msg.h"
#include "lua_api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SOURCE_MAX      64  /* bytes of a source (script key) */
#define SOURCES_TRACKED 256 /* per-source counters; the rest count under "(other)" */
#define BATCH_FLOWS     256
#define FLUSH_NS        100000000ull /* pending flows reach ingest within 100 ms */
#define BATCH_SOURCES   16           /* sources with a pending flow batch at once */
#define STR_CAP         255          /* any string taken from a script's flow table */
#define TCP_WAIT_MS     10000 /* a TCP message waits this long for room in the queue */

/* One message waiting for its script; the body follows the struct. */
typedef struct item {
    char source[SOURCE_MAX];
    char host[256];
    char from[64];
    char app[64], procid[129], msgid[33], timestamp[64];
    int pri, facility, severity, format;
    int64_t ts_s;
    uint64_t sync_seq; /* > 0: a sync marker, no message */
    size_t len;
    char body[];
} item_t;

/* A flow record built from a script's table, with the storage its pointers use. */
typedef struct flow_buf {
    Zflow__Flow msg;
    uint8_t cli[16], srv[16];
    char *strs[9]; /* owned strings: event, the 2 addresses and 6 names (field_str) */
    int n_strs;
} flow_buf_t;

typedef struct batch {
    char source[SOURCE_MAX];
    char probe_id[SOURCE_MAX + 8];
    uint64_t seq;
    flow_buf_t flows[BATCH_FLOWS];
    Zflow__Flow *ptrs[BATCH_FLOWS];
    int n;
    uint64_t first_ns;
} batch_t;

#define SCRIPT_COUNTERS 64 /* named counters scripts bump with zflow_syslog.count() */

typedef struct source_count {
    char name[SOURCE_MAX];
    uint64_t messages, no_script;
} source_count_t;

typedef struct script_counter {
    char name[SOURCE_MAX + 48]; /* "source/name" */
    uint64_t value;
} script_counter_t;

struct syslog_dispatch {
    syslog_dispatch_config_t cfg;
    char *map_sender[SYSLOG_MAP_MAX];
    char *map_script[SYSLOG_MAP_MAX];
    queue_t *in;
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int stalled; /* a TCP message found the queue full for TCP_WAIT_MS: drop at once */
    script_engine_t *engine;
    uint64_t run_id;
    batch_t *batches[BATCH_SOURCES];
    const item_t *cur; /* the message being handled (for the Lua API) */
    /* counters: written by one thread each, read by any (relaxed atomics) */
    _Atomic uint64_t received, malformed, queue_full, dispatched, no_script, flows, flow_batches,
        flow_errors, stats_messages, attached, attach_misses, calls, errors;
    pthread_mutex_t src_lock; /* guards sources */
    source_count_t sources[SOURCES_TRACKED + 1];
    int n_sources;
    script_counter_t counters[SCRIPT_COUNTERS]; /* also under src_lock */
    int n_counters;
    uint64_t counters_full;
    /* sync */
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    uint64_t sync_asked, sync_done;
    char init_err[256];
    int init_state; /* 0 pending, 1 ok, -1 failed */
};

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void bump(_Atomic uint64_t *v, uint64_t d)
{
    atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static inline uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* ---- per-source counters ---- */

static void count_source(syslog_dispatch_t *self, const char *name, int no_script)
{
    pthread_mutex_lock(&self->src_lock);
    source_count_t *c = NULL;
    for (int i = 0; i < self->n_sources && !c; i++)
        if (strcmp(self->sources[i].name, name) == 0) c = &self->sources[i];
    if (!c && self->n_sources < SOURCES_TRACKED) {
        c = &self->sources[self->n_sources++];
        snprintf(c->name, sizeof c->name, "%s", name);
    }
    if (!c) {
        c = &self->sources[SOURCES_TRACKED];
        snprintf(c->name, sizeof c->name, "(other)");
    }
    if (no_script)
        c->no_script++;
    else
        c->messages++;
    pthread_mutex_unlock(&self->src_lock);
}

/* ---- the source of a message ---- */

/* Lower-cases an application name into a script key: letters, digits, '_', '-'; NUL-ends. */
static void source_from_app(const char *app, char *out, size_t size)
{
    size_t n = 0;
    for (; *app && n + 1 < size; app++) {
        unsigned char ch = (unsigned char)*app;
        if (isalnum(ch) || ch == '_' || ch == '-')
            out[n++] = (char)tolower(ch);
        else
            break; /* "suricata[123]" was split by the parser; stop at anything else */
    }
    out[n] = '\0';
}

static void pick_source(syslog_dispatch_t *self, const syslog_msg_t *msg, const char *from,
                        char *out, size_t size)
{
    for (int i = 0; i < self->cfg.n_map; i++)
        if (strcmp(self->map_sender[i], from) == 0 ||
            (msg && msg->hostname[0] && strcmp(self->map_sender[i], msg->hostname) == 0)) {
            snprintf(out, size, "%s", self->map_script[i]);
            return;
        }
    out[0] = '\0';
    if (!msg) {
        snprintf(out, size, "-");
        return;
    }
    source_from_app(msg->app_name, out, size);
    /* a bare Eve JSON line (no syslog header) comes from Suricata */
    if (!out[0] && msg->format == SYSLOG_FMT_JSON &&
        memmem(msg->msg, msg->msg_len, "\"event_type\"", 12))
        snprintf(out, size, "suricata");
    if (!out[0]) snprintf(out, size, "-");
}

void syslog_dispatch_deliver(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                             const struct sockaddr_storage *from, int is_tcp)
{
    syslog_dispatch_t *self = ctx;
    bump(&self->received, 1);
    char addr[64] = "";
    if (from && from->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, addr, sizeof addr);
    else if (from && from->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, addr, sizeof addr);
    if (!msg) {
        bump(&self->malformed, 1);
        count_source(self, "-", 1);
        return;
    }
    size_t blen = msg->msg_len;
    item_t *it = malloc(sizeof *it + blen + 1);
    if (!it) {
        bump(&self->queue_full, 1);
        return;
    }
    pick_source(self, msg, addr, it->source, sizeof it->source);
    snprintf(it->host, sizeof it->host, "%s", msg->hostname[0] ? msg->hostname : addr);
    snprintf(it->from, sizeof it->from, "%s", addr);
    snprintf(it->app, sizeof it->app, "%s", msg->app_name);
    snprintf(it->procid, sizeof it->procid, "%s", msg->procid);
    snprintf(it->msgid, sizeof it->msgid, "%s", msg->msgid);
    snprintf(it->timestamp, sizeof it->timestamp, "%s", msg->timestamp);
    it->pri = msg->pri;
    it->facility = msg->facility;
    it->severity = msg->severity;
    it->format = msg->format;
    it->ts_s = msg->ts_s;
    it->sync_seq = 0;
    it->len = blen;
    memcpy(it->body, msg->msg, blen);
    it->body[blen] = '\0';
    (void)raw;
    (void)len;
    if (queue_push(self->in, it) == 0) {
        if (is_tcp) atomic_store_explicit(&self->stalled, 0, memory_order_relaxed);
        return;
    }
    /* TCP: wait for room rather than drop. This blocks the listener thread, so every TCP
     * sender is slowed down by TCP flow control (UDP datagrams wait in the socket buffer).
     * A dispatcher stuck that long (shutdown: ingest gone) makes TCP drop again. */
    if (is_tcp && !atomic_load_explicit(&self->stalled, memory_order_relaxed)) {
        struct timespec tick = {0, 200000};
        for (int i = 0; i < TCP_WAIT_MS * 5 && !atomic_load(&self->stop); i++) {
            nanosleep(&tick, NULL);
            if (queue_push(self->in, it) == 0) return;
        }
        atomic_store_explicit(&self->stalled, 1, memory_order_relaxed);
    }
    bump(&self->queue_full, 1);
    free(it);
}

/* ---- flows from scripts ---- */

static void flow_buf_clear(flow_buf_t *f)
{
    for (int i = 0; i < f->n_strs; i++)
        free(f->strs[i]);
    f->n_strs = 0;
}

static batch_t *batch_for(syslog_dispatch_t *self, const char *source)
{
    int free_slot = -1;
    for (int i = 0; i < BATCH_SOURCES; i++) {
        if (self->batches[i] && strcmp(self->batches[i]->source, source) == 0)
            return self->batches[i];
        if (!self->batches[i] && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) return NULL;
    batch_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    snprintf(b->source, sizeof b->source, "%s", source);
    snprintf(b->probe_id, sizeof b->probe_id, "syslog:%s", source);
    self->batches[free_slot] = b;
    return b;
}

/* Hands an envelope to ingest, waiting while its queue is full (nothing is lost). */
static void push_local(syslog_dispatch_t *self, uint8_t *buf, size_t len)
{
    local_msg_t *m = malloc(sizeof *m);
    if (!m) {
        free(buf);
        return;
    }
    m->buf = buf;
    m->len = len;
    struct timespec ms = {0, 1000000};
    while (queue_push(self->cfg.local, m) != 0) {
        if (atomic_load(&self->stop) > 1) { /* shutting down and ingest is gone */
            free(buf);
            free(m);
            return;
        }
        nanosleep(&ms, NULL);
    }
}

static void envelope_init(syslog_dispatch_t *self, Zflow__Envelope *env, batch_t *b)
{
    zflow__envelope__init(env);
    env->schema_version = CODEC_SCHEMA_VERSION;
    env->probe_id = b->probe_id;
    env->run_id = self->run_id;
    env->seq = ++b->seq;
    env->send_time_ns = wall_ns();
}

static void batch_flush(syslog_dispatch_t *self, batch_t *b)
{
    if (!b || !b->n || !self->cfg.local) goto clear;
    Zflow__Envelope env;
    Zflow__FlowBatch fb = ZFLOW__FLOW_BATCH__INIT;
    envelope_init(self, &env, b);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &fb;
    fb.n_flows = (size_t)b->n;
    fb.flows = b->ptrs;
    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    if (buf) {
        push_local(self, buf, len);
        bump(&self->flow_batches, 1);
    } else {
        bump(&self->flow_errors, (uint64_t)b->n);
    }
clear:
    if (b) {
        for (int i = 0; i < b->n; i++)
            flow_buf_clear(&b->flows[i]);
        b->n = 0;
    }
}

static void flush_all(syslog_dispatch_t *self, int only_old)
{
    uint64_t t = wall_ns();
    for (int i = 0; i < BATCH_SOURCES; i++) {
        batch_t *b = self->batches[i];
        if (b && b->n && (!only_old || t - b->first_ns >= FLUSH_NS)) batch_flush(self, b);
    }
}

static syslog_dispatch_t *api_self(lua_State *L)
{
    syslog_dispatch_t *self = lua_touserdata(L, lua_upvalueindex(1));
    if (!self)
        luaL_error(L, "zflow_syslog is only available to syslog scripts of a running collector");
    return self;
}

static const char *api_source(lua_State *L)
{
    const char *key = lua_api_ctx(L)->script_key;
    return key ? key : "unknown";
}

static lua_Integer field_int(lua_State *L, int t, const char *name, lua_Integer min,
                             lua_Integer max)
{
    lua_getfield(L, t, name);
    lua_Integer v = 0;
    if (lua_isinteger(L, -1))
        v = lua_tointeger(L, -1);
    else if (lua_type(L, -1) == LUA_TNUMBER)
        v = (lua_Integer)lua_tonumber(L, -1);
    else if (!lua_isnil(L, -1))
        luaL_error(L, "field '%s' must be a number", name);
    lua_pop(L, 1);
    if (v < min || v > max) luaL_error(L, "field '%s' out of range", name);
    return v;
}

/* A string field copied into the flow (NULL when absent). */
static char *field_str(lua_State *L, int t, const char *name, flow_buf_t *f)
{
    lua_getfield(L, t, name);
    char *copy = NULL;
    if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        if (f->n_strs < (int)(sizeof f->strs / sizeof f->strs[0]) &&
            (copy = strndup(s, n > STR_CAP ? STR_CAP : n)))
            f->strs[f->n_strs++] = copy;
    } else if (!lua_isnil(L, -1)) {
        luaL_error(L, "field '%s' must be a string", name);
    }
    lua_pop(L, 1);
    return copy;
}

/* Seconds (float) or nanoseconds of a time field, as ns. */
static uint64_t field_time_ns(lua_State *L, int t, const char *name)
{
    lua_getfield(L, t, name);
    uint64_t ns = 0;
    if (lua_type(L, -1) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, -1);
        if (v > 0 && v < 1e11) /* seconds */
            ns = (uint64_t)(v * 1e9);
        else if (v >= 1e11 && v < 1.8e19)
            ns = (uint64_t)v;
    }
    lua_pop(L, 1);
    return ns;
}

static int parse_ip(const char *s, uint8_t *out, int *ver)
{
    memset(out, 0, 16);
    if (s && inet_pton(AF_INET, s, out) == 1) {
        *ver = 4;
        return 0;
    }
    if (s && inet_pton(AF_INET6, s, out) == 1) {
        *ver = 6;
        return 0;
    }
    return -1;
}

static int event_of(const char *s)
{
    if (!s || strcmp(s, "end") == 0) return ZFLOW__FLOW_EVENT__FLOW_EVENT_END;
    if (strcmp(s, "new") == 0) return ZFLOW__FLOW_EVENT__FLOW_EVENT_NEW;
    if (strcmp(s, "update") == 0) return ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE;
    if (strcmp(s, "l7") == 0) return ZFLOW__FLOW_EVENT__FLOW_EVENT_L7;
    return -1;
}

/* zflow_syslog.flow{event=, flow_id=, client_ip=, server_ip=, client_port=, server_port=,
 * l4_proto=, c2s_bytes=, s2c_bytes=, c2s_packets=, s2c_packets=, first_seen=, last_seen=,
 * l7_proto_name=, l7_master_name=, l7_app_name=, l7_category=, server_name=, community_id=,
 * end_reason=} -> true. A flow of the interface "syslog:<source>"; events of one flow_id
 * carry cumulative counters, the last one is event "end". */
static int api_flow(lua_State *L)
{
    syslog_dispatch_t *self = api_self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    batch_t *b = batch_for(self, api_source(L));
    if (!b) return luaL_error(L, "too many syslog sources with pending flows");
    flow_buf_t *f = &b->flows[b->n];
    flow_buf_clear(f);
    zflow__flow__init(&f->msg);
    Zflow__Flow *m = &f->msg;
    char *ev = field_str(L, 1, "event", f);
    int event = event_of(ev);
    if (event < 0) return luaL_error(L, "field 'event' must be new, l7, update or end");
    m->event = (Zflow__FlowEvent)event;
    m->flow_id = (uint64_t)field_int(L, 1, "flow_id", 1, LUA_MAXINTEGER);
    int v1 = 0, v2 = 0;
    char *cip = field_str(L, 1, "client_ip", f), *sip = field_str(L, 1, "server_ip", f);
    if (parse_ip(cip, f->cli, &v1) || parse_ip(sip, f->srv, &v2) || v1 != v2)
        return luaL_error(L,
                          "client_ip and server_ip must be IPv4 or IPv6 addresses of one family");
    m->ip_version = (uint32_t)v1;
    m->client_ip.data = f->cli;
    m->client_ip.len = v1 == 4 ? 4 : 16;
    m->server_ip.data = f->srv;
    m->server_ip.len = m->client_ip.len;
    m->client_port = (uint32_t)field_int(L, 1, "client_port", 0, 65535);
    m->server_port = (uint32_t)field_int(L, 1, "server_port", 0, 65535);
    lua_getfield(L, 1, "l4_proto");
    if (lua_type(L, -1) == LUA_TSTRING) {
        int p = lua_flow_l4_proto_by_name(lua_tostring(L, -1));
        m->l4_proto = p < 0 ? 0 : (uint32_t)p;
        lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
        m->l4_proto = (uint32_t)field_int(L, 1, "l4_proto", 0, 255);
    }
    m->c2s_bytes = (uint64_t)field_int(L, 1, "c2s_bytes", 0, LUA_MAXINTEGER);
    m->s2c_bytes = (uint64_t)field_int(L, 1, "s2c_bytes", 0, LUA_MAXINTEGER);
    m->c2s_packets = (uint64_t)field_int(L, 1, "c2s_packets", 0, LUA_MAXINTEGER);
    m->s2c_packets = (uint64_t)field_int(L, 1, "s2c_packets", 0, LUA_MAXINTEGER);
    uint64_t now = wall_ns();
    m->first_seen_ns = field_time_ns(L, 1, "first_seen");
    m->last_seen_ns = field_time_ns(L, 1, "last_seen");
    if (!m->first_seen_ns) m->first_seen_ns = now;
    if (!m->last_seen_ns) m->last_seen_ns = m->first_seen_ns;
    m->l7_proto_name = field_str(L, 1, "l7_proto_name", f);
    m->l7_master_name = field_str(L, 1, "l7_master_name", f);
    m->l7_app_name = field_str(L, 1, "l7_app_name", f);
    m->l7_category = field_str(L, 1, "l7_category", f);
    m->server_name = field_str(L, 1, "server_name", f);
    m->community_id = field_str(L, 1, "community_id", f);
    m->interface = b->source;
    if (!m->l7_proto_name) m->l7_proto_name = (char *)"";
    m->end_reason = event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END
                        ? (Zflow__EndReason)field_int(L, 1, "end_reason", 0, 7)
                        : ZFLOW__END_REASON__END_REASON_NONE;
    if (m->event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END && m->end_reason == 0)
        m->end_reason = ZFLOW__END_REASON__END_REASON_IDLE;
    if (codec_check_flow(m) != CODEC_OK) {
        bump(&self->flow_errors, 1);
        flow_buf_clear(f);
        return luaL_error(L, "flow rejected: a field is out of range");
    }
    b->ptrs[b->n] = m;
    if (b->n++ == 0) b->first_ns = now;
    bump(&self->flows, 1);
    if (b->n == BATCH_FLOWS) batch_flush(self, b);
    lua_pushboolean(L, 1);
    return 1;
}

/* zflow_syslog.stats{packets=, bytes=, pcap_recv=, pcap_drop=, pcap_ifdrop=, active_flows=,
 * decode_errors=} -> true: the statistics of the source's interface, as a probe's. */
static int api_stats(lua_State *L)
{
    syslog_dispatch_t *self = api_self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    batch_t *b = batch_for(self, api_source(L));
    if (!b) return luaL_error(L, "too many syslog sources");
    Zflow__Stats st = ZFLOW__STATS__INIT;
    st.interface = b->source;
    st.packets = (uint64_t)field_int(L, 1, "packets", 0, LUA_MAXINTEGER);
    st.bytes = (uint64_t)field_int(L, 1, "bytes", 0, LUA_MAXINTEGER);
    st.pcap_recv = (uint64_t)field_int(L, 1, "pcap_recv", 0, LUA_MAXINTEGER);
    st.pcap_drop = (uint64_t)field_int(L, 1, "pcap_drop", 0, LUA_MAXINTEGER);
    st.pcap_ifdrop = (uint64_t)field_int(L, 1, "pcap_ifdrop", 0, LUA_MAXINTEGER);
    st.active_flows = (uint64_t)field_int(L, 1, "active_flows", 0, LUA_MAXINTEGER);
    st.decode_errors = (uint64_t)field_int(L, 1, "decode_errors", 0, LUA_MAXINTEGER);
    batch_flush(self, b); /* keep the sequence order: flows before the stats */
    Zflow__Envelope env;
    envelope_init(self, &env, b);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = &st;
    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    if (buf) {
        push_local(self, buf, len);
        bump(&self->stats_messages, 1);
    }
    lua_pushboolean(L, buf != NULL);
    return 1;
}

/* zflow_syslog.attach_alert(community_id, {alert_type=, severity=, score=, message=, json=})
 * -> true when a probe flow (active, or ended in the last 10 minutes) carries that Community
 * ID: the alert is stored as a flow alert of that probe's flow. */
static int api_attach_alert(lua_State *L)
{
    syslog_dispatch_t *self = api_self(L);
    const char *cid = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    cid_match_t mt;
    int64_t now_s = (int64_t)(wall_ns() / 1000000000ull);
    if (!self->cfg.cids || !cid_index_find(self->cfg.cids, cid, now_s, &mt)) {
        bump(&self->attach_misses, 1);
        lua_pushboolean(L, 0);
        return 1;
    }
    lua_getfield(L, 2, "alert_type");
    const char *type = lua_tostring(L, -1);
    lua_getfield(L, 2, "message");
    const char *message = lua_tostring(L, -1);
    lua_getfield(L, 2, "json");
    const char *json = lua_tostring(L, -1);
    alert_t a;
    memset(&a, 0, sizeof a);
    a.tstamp = now_s;
    a.entity = "flow";
    a.entity_value = cid;
    a.probe_id = mt.iface->probe_id;
    a.interface = mt.iface->name;
    a.alert_type = type ? type : "ids_alert";
    a.score = (int)field_int(L, 2, "score", 0, 1000);
    a.severity = (int)field_int(L, 2, "severity", 0, 7);
    if (!a.severity) a.severity = lua_alerts_severity_from_score(a.score);
    a.script_key = api_source(L);
    a.subdir = "syslog";
    a.message = message ? message : "";
    a.json = json ? json : "{}";
    a.kind = ALERT_ONESHOT;
    int ok = self->cfg.alerts && alert_store_submit(self->cfg.alerts, &a) == 0;
    lua_pop(L, 3);
    if (ok) bump(&self->attached, 1);
    lua_pushboolean(L, ok);
    if (ok) {
        lua_pushstring(L, mt.iface->probe_id);
        lua_pushinteger(L, (lua_Integer)mt.flow_id);
        return 3;
    }
    return 1;
}

/* zflow_syslog.count(name [, n]): bumps the named counter of the running source (shown in
 * the status as syslog.counters["source/name"]), e.g. "malformed_json". */
static int api_count(lua_State *L)
{
    syslog_dispatch_t *self = api_self(L);
    const char *name = luaL_checkstring(L, 1);
    lua_Integer n = luaL_optinteger(L, 2, 1);
    char key[SOURCE_MAX + 48];
    snprintf(key, sizeof key, "%s/%.40s", api_source(L), name);
    for (char *k = key; *k; k++) /* keep the key JSON-safe */
        if (*k == '"' || *k == '\\' || (unsigned char)*k < 0x20) *k = '_';
    pthread_mutex_lock(&self->src_lock);
    script_counter_t *c = NULL;
    for (int i = 0; i < self->n_counters && !c; i++)
        if (strcmp(self->counters[i].name, key) == 0) c = &self->counters[i];
    if (!c && self->n_counters < SCRIPT_COUNTERS) {
        c = &self->counters[self->n_counters++];
        snprintf(c->name, sizeof c->name, "%s", key);
    }
    if (c)
        c->value += n > 0 ? (uint64_t)n : 0;
    else
        self->counters_full++;
    pthread_mutex_unlock(&self->src_lock);
    return 0;
}

/* zflow_syslog.source() -> the running script's source name. */
static int api_source_fn(lua_State *L)
{
    lua_pushstring(L, api_source(L));
    return 1;
}

static const luaL_Reg syslog_api[] = {
    {"flow", api_flow},        {"stats", api_stats}, {"attach_alert", api_attach_alert},
    {"source", api_source_fn}, {"count", api_count}, {NULL, NULL},
};

/* package.preload["zflow_syslog"]: the table above, each function with the dispatcher as
 * upvalue. */
int syslog_dispatch_lua_open(void *state)
{
    lua_State *L = state;
    void *self = lua_touserdata(L, lua_upvalueindex(1));
    luaL_newlibtable(L, syslog_api);
    lua_pushlightuserdata(L, self);
    luaL_setfuncs(L, syslog_api, 1);
    return 1;
}

/* ---- the script call ---- */

/* handleEvent(message, host, priority, header, config) */
static int push_event(void *ctx, void *state, const script_call_t *call)
{
    const item_t *it = ctx;
    lua_State *L = state;
    lua_pushlstring(L, it->body, it->len);
    lua_pushstring(L, it->host);
    lua_pushinteger(L, it->pri);
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, it->facility);
    lua_setfield(L, -2, "facility");
    lua_pushinteger(L, it->severity);
    lua_setfield(L, -2, "severity");
    lua_pushstring(L, it->host);
    lua_setfield(L, -2, "hostname");
    lua_pushstring(L, it->app);
    lua_setfield(L, -2, "app_name");
    lua_pushstring(L, it->procid);
    lua_setfield(L, -2, "procid");
    lua_pushstring(L, it->msgid);
    lua_setfield(L, -2, "msgid");
    lua_pushstring(L, it->timestamp);
    lua_setfield(L, -2, "timestamp");
    lua_pushinteger(L, it->ts_s);
    lua_setfield(L, -2, "time");
    lua_pushstring(L, it->from);
    lua_setfield(L, -2, "from");
    lua_pushstring(L, it->format == SYSLOG_FMT_RFC5424   ? "rfc5424"
                      : it->format == SYSLOG_FMT_RFC3164 ? "rfc3164"
                      : it->format == SYSLOG_FMT_JSON    ? "json"
                                                         : "unknown");
    lua_setfield(L, -2, "format");
    lua_pushvalue(L, call->config_index);
    return 5;
}

static void handle(syslog_dispatch_t *self, item_t *it)
{
    if (!script_engine_has_script(self->engine, SUBDIR_SYSLOG, it->source)) {
        bump(&self->no_script, 1);
        count_source(self, it->source, 1);
        return;
    }
    count_source(self, it->source, 0);
    self->cur = it;
    script_engine_run_script_hook(self->engine, SUBDIR_SYSLOG, it->source, "handleEvent", NULL,
                                  (int64_t)(wall_ns() / 1000000000ull), push_event, it);
    self->cur = NULL;
    uint64_t calls = 0, errors = 0;
    script_engine_totals(self->engine, &calls, &errors);
    atomic_store_explicit(&self->calls, calls, memory_order_relaxed);
    atomic_store_explicit(&self->errors, errors, memory_order_relaxed);
    bump(&self->dispatched, 1);
}

static void *dispatch_main(void *arg)
{
    syslog_dispatch_t *self = arg;
    for (;;) {
        item_t *it = queue_pop(self->in, 50);
        if (it) {
            if (it->sync_seq) {
                flush_all(self, 0);
                pthread_mutex_lock(&self->sync_lock);
                if (it->sync_seq > self->sync_done) self->sync_done = it->sync_seq;
                pthread_cond_broadcast(&self->sync_cond);
                pthread_mutex_unlock(&self->sync_lock);
            } else {
                handle(self, it);
            }
            free(it);
        } else if (atomic_load(&self->stop)) {
            break;
        }
        flush_all(self, 1);
    }
    flush_all(self, 0);
    script_engine_destroy(&self->engine); /* teardown() */
    return NULL;
}

/* ---- public ---- */

static int host_store_alert(void *ctx, const alert_t *a)
{
    syslog_dispatch_t *self = ctx;
    return self->cfg.alerts ? alert_store_submit(self->cfg.alerts, a) : 0;
}

static int host_release_alert(void *ctx, const char *entity, const char *value, const char *type,
                              const char *script)
{
    syslog_dispatch_t *self = ctx;
    return self->cfg.alerts ? alert_store_release(self->cfg.alerts, entity, value, type, script,
                                                  (int64_t)(wall_ns() / 1000000000ull))
                            : 0;
}

static int host_is_engaged(void *ctx, const char *entity, const char *value, const char *type,
                           const char *script)
{
    syslog_dispatch_t *self = ctx;
    return self->cfg.alerts ? alert_store_is_engaged(self->cfg.alerts, entity, value, type, script)
                            : 0;
}

syslog_dispatch_t *syslog_dispatch_new(const syslog_dispatch_config_t *cfg, char *err,
                                       size_t errlen)
{
    syslog_dispatch_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    pthread_mutex_init(&self->src_lock, NULL);
    pthread_mutex_init(&self->sync_lock, NULL);
    pthread_cond_init(&self->sync_cond, NULL);
    for (int i = 0; i < cfg->n_map; i++) {
        const char *eq = strchr(cfg->map[i], '=');
        if (!eq || eq == cfg->map[i] || !eq[1]) {
            snprintf(err, errlen, "--syslog-map \"%s\": expected SENDER=SCRIPT", cfg->map[i]);
            goto fail;
        }
        self->map_sender[i] = strndup(cfg->map[i], (size_t)(eq - cfg->map[i]));
        self->map_script[i] = malloc(SOURCE_MAX);
        if (!self->map_sender[i] || !self->map_script[i]) goto oom;
        source_from_app(eq + 1, self->map_script[i], SOURCE_MAX);
    }
    if (getrandom(&self->run_id, sizeof self->run_id, 0) != sizeof self->run_id)
        self->run_id = wall_ns();
    self->in = queue_new(cfg->queue_cap ? cfg->queue_cap : 65536);
    if (!self->in) goto oom;
    engine_config_t ec = cfg->engine;
    ec.subdir_mask = 1u << SUBDIR_SYSLOG;
    ec.host.ctx = self;
    ec.host.store_alert = host_store_alert;
    ec.host.release_alert = host_release_alert;
    ec.host.is_engaged = host_is_engaged;
    ec.preload_name = "zflow_syslog";
    ec.preload_open = syslog_dispatch_lua_open;
    ec.preload_ctx = self;
    self->engine = script_engine_new(&ec, err, errlen);
    if (!self->engine) goto fail;
    if (pthread_create(&self->thread, NULL, dispatch_main, self) != 0) {
        snprintf(err, errlen, "cannot start the syslog thread");
        goto fail;
    }
    self->started = 1;
    pthread_setname_np(self->thread, "syslog-dispatch"); /* best effort: top -H, perf */
    return self;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    syslog_dispatch_destroy(&self);
    return NULL;
}

void syslog_dispatch_destroy(syslog_dispatch_t **pself)
{
    if (!pself || !*pself) return;
    syslog_dispatch_t *self = *pself;
    if (self->started) {
        /* 2: ingest may no longer be draining; flows still pending are dropped, not waited on */
        atomic_store(&self->stop, 2);
        pthread_join(self->thread, NULL);
    }
    script_engine_destroy(&self->engine);
    item_t *it;
    while (self->in && (it = queue_pop(self->in, 0)))
        free(it);
    queue_destroy(&self->in);
    for (int i = 0; i < BATCH_SOURCES; i++) {
        if (self->batches[i])
            for (int j = 0; j < BATCH_FLOWS; j++)
                flow_buf_clear(&self->batches[i]->flows[j]);
        free(self->batches[i]);
    }
    for (int i = 0; i < SYSLOG_MAP_MAX; i++) {
        free(self->map_sender[i]);
        free(self->map_script[i]);
    }
    pthread_mutex_destroy(&self->src_lock);
    pthread_mutex_destroy(&self->sync_lock);
    pthread_cond_destroy(&self->sync_cond);
    free(self);
    *pself = NULL;
}

int syslog_dispatch_sync(syslog_dispatch_t *self, int timeout_ms)
{
    item_t *marker = calloc(1, sizeof *marker);
    if (!marker) return -1;
    pthread_mutex_lock(&self->sync_lock);
    uint64_t want = marker->sync_seq = ++self->sync_asked;
    pthread_mutex_unlock(&self->sync_lock);
    struct timespec ms = {0, 1000000};
    int waited = 0;
    while (queue_push(self->in, marker) != 0) {
        if (waited++ >= timeout_ms) {
            free(marker);
            return -1;
        }
        nanosleep(&ms, NULL);
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&self->sync_lock);
    while (self->sync_done < want && rc == 0)
        rc = pthread_cond_timedwait(&self->sync_cond, &self->sync_lock, &dl);
    int ok = self->sync_done >= want;
    pthread_mutex_unlock(&self->sync_lock);
    return ok ? 0 : -1;
}

void syslog_dispatch_get_stats(syslog_dispatch_t *self, syslog_dispatch_stats_t *o)
{
    memset(o, 0, sizeof *o);
    o->received = get(&self->received);
    o->malformed = get(&self->malformed);
    o->queue_full = get(&self->queue_full);
    o->dispatched = get(&self->dispatched);
    o->no_script = get(&self->no_script);
    o->flows = get(&self->flows);
    o->flow_batches = get(&self->flow_batches);
    o->flow_errors = get(&self->flow_errors);
    o->stats_messages = get(&self->stats_messages);
    o->attached = get(&self->attached);
    o->attach_misses = get(&self->attach_misses);
    o->calls = get(&self->calls);
    o->errors = get(&self->errors);
}

void syslog_dispatch_print_status(syslog_dispatch_t *self, FILE *out)
{
    syslog_dispatch_stats_t s;
    syslog_dispatch_get_stats(self, &s);
    fprintf(out,
            "\"syslog\":{\"received\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"queue_full\":%" PRIu64
            ",\"dispatched\":%" PRIu64 ",\"no_script\":%" PRIu64 ",\"flows\":%" PRIu64
            ",\"flow_errors\":%" PRIu64 ",\"stats_messages\":%" PRIu64 ",\"attached\":%" PRIu64
            ",\"attach_misses\":%" PRIu64 ",\"calls\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"sources\":{",
            s.received, s.malformed, s.queue_full, s.dispatched, s.no_script, s.flows,
            s.flow_errors, s.stats_messages, s.attached, s.attach_misses, s.calls, s.errors);
    pthread_mutex_lock(&self->src_lock);
    int n = self->n_sources + (self->sources[SOURCES_TRACKED].name[0] ? 1 : 0);
    for (int i = 0, k = 0; i <= SOURCES_TRACKED && k < n; i++) {
        const source_count_t *c = &self->sources[i];
        if (!c->name[0]) continue;
        fprintf(out, "%s\"%s\":{\"messages\":%" PRIu64 ",\"no_script\":%" PRIu64 "}", k ? "," : "",
                c->name, c->messages, c->no_script);
        k++;
    }
    fprintf(out, "},\"counters\":{");
    for (int i = 0; i < self->n_counters; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", self->counters[i].name,
                self->counters[i].value);
    fprintf(out, "},\"counters_full\":%" PRIu64, self->counters_full);
    pthread_mutex_unlock(&self->src_lock);
    fprintf(out, "}");
}
