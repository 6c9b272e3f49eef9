/* syslog_dispatch: hands each syslog message to the syslog script of its source on one of its
 * dispatcher threads; gives those scripts flows, probe statistics and Community ID alert joins. */
#include "syslog_dispatch.h"

#include "codec.h"
#include "json_pick.h"
#include "local_msg.h"
#include "lua_api.h"
#include "timebase.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SOURCE_MAX      64  /* bytes of a source (script key) */
#define SOURCES_TRACKED 256 /* per-source counters; the rest count under "(other)" */
#define BATCH_FLOWS     256
#define FLUSH_NS        100000000ull /* pending flows reach ingest within 100 ms */
#define BATCH_SOURCES   16           /* sources with a pending flow batch at once, per thread */
#define SEQ_SOURCES     64           /* sources that ever sent flows (their sequence numbers) */
#define STR_CAP         255          /* any string taken from a script's flow table */
#define TEXT_BYTES      (48 * 1024)  /* a batch's copies of its flows' strings */
#define FLOW_TEXT_MAX   (6 * (STR_CAP + 1)) /* the most one flow record copies */
#define TCP_WAIT_MS     10000        /* a batch with TCP messages waits this long for room */
#define CHUNK_BYTES     (64 * 1024)  /* messages handed to a thread together (larger: alone) */
#define CHUNK_SLACK     4096         /* more unused bytes than this are given back at hand-on */
#define QUEUE_BYTES     (8u << 20)   /* message bytes a thread's queue holds at most */
/* handled chunks kept for reuse by the listener: every chunk a full queue holds, so a busy
 * listener writes into memory it touched before (a fresh page costs a page fault) */
#define CHUNK_SPARES    ((int)(SYSLOG_WORKERS_MAX * (QUEUE_BYTES / CHUNK_BYTES + 2)))
#define FLOW_ID_WINDOW  1024         /* "flow_id" is looked for in the first bytes of a JSON body */
#define LIST_MAX        64           /* scripts per state in the published counters */
#define LIST_EVERY_NS   1000000000ull
#define SCRIPT_COUNTERS 64 /* named counters scripts bump with zflow_syslog.count() */

/* ---- messages on their way to a thread ---- */

/* The header strings of a message, in the order they are packed. */
enum { S_SOURCE, S_HOST, S_FROM, S_APP, S_PROCID, S_MSGID, S_TIMESTAMP, S_COUNT };

/* One message waiting for its script, packed in a chunk: the header strings then the body
 * follow the struct, each NUL-terminated. */
typedef struct item {
    uint32_t size; /* bytes from this item to the next one (a multiple of 8) */
    uint32_t body_len;
    int64_t ts_s;
    int16_t pri, facility, severity;
    uint8_t format;
    uint16_t len[S_COUNT];
    char text[];
} item_t;

/* Messages handed to one thread at once (one malloc and one queue push for many), or a sync
 * marker. Items start at data, 8-byte aligned. */
typedef struct chunk {
    uint64_t sync_seq; /* > 0: a sync marker, no messages */
    size_t used, cap;  /* bytes of data */
    uint32_t n;        /* messages */
    int is_tcp;        /* one of them came over TCP: the chunk waits for room, never dropped */
    uint64_t data[];
} chunk_t;

/* An item's strings, as handle() and the argument pusher read them. */
typedef struct msg_view {
    const item_t *it;
    const char *s[S_COUNT];
    const char *body;
} msg_view_t;

/* ---- flows from scripts ---- */

/* A flow record built from a script's table, with its addresses (its strings are in the
 * batch's text). */
typedef struct flow_buf {
    Zflow__Flow msg;
    uint8_t cli[16], srv[16];
} flow_buf_t;

/* The flow records of one source waiting to go to ingest together. A record takes the next
 * slot of flows[]; ptrs[] lists the records to send, in order (a merged update takes its
 * predecessor's place there, whose slot then goes unused until the flush). */
typedef struct batch {
    char source[SOURCE_MAX];
    char probe_id[SOURCE_MAX + 8];
    flow_buf_t flows[BATCH_FLOWS];
    Zflow__Flow *ptrs[BATCH_FLOWS];
    int n;    /* records in ptrs[] */
    int nbuf; /* slots of flows[] used */
    size_t text_used;
    uint64_t first_ns;
    char text[TEXT_BYTES];
} batch_t;

/* The sequence numbers of a "syslog:<source>" probe, shared by the threads (under
 * local_lock): every envelope of the source gets the next one, and reaches ingest's queue in
 * that order. */
typedef struct source_seq {
    char source[SOURCE_MAX];
    uint64_t seq;
} source_seq_t;

/* ---- counters ---- */

/* Per-source message counts of one writer thread (the listener, or one dispatcher thread);
 * the status sums them. Slot i is the source named sources[i] (SOURCES_TRACKED: "(other)"). */
typedef struct source_counts {
    _Atomic uint64_t messages[SOURCES_TRACKED + 1], no_script[SOURCES_TRACKED + 1];
} source_counts_t;

typedef struct script_counter {
    char name[SOURCE_MAX + 48]; /* "source/name" */
    uint64_t value;
} script_counter_t;

typedef struct syslog_dispatch syslog_dispatch_t;

/* One dispatcher thread with its Lua state, its queue and its counters (written by it alone,
 * read by any thread: relaxed atomics). */
typedef struct worker {
    syslog_dispatch_t *d;
    int index;
    queue_t *in;           /* chunks */
    _Atomic size_t queued; /* messages in those chunks */
    _Atomic size_t queued_bytes; /* and their bytes */
    pthread_t thread;
    int started;
    script_engine_t *engine;
    batch_t *batches[BATCH_SOURCES];
    const msg_view_t *cur; /* the message being handled (for the argument pusher) */
    const void *fn_seen;   /* the last handleEvent function looked at, and its parameters */
    int fn_params;
    char last_source[SOURCE_MAX]; /* the source of the last message and its counter slot */
    int last_slot;
    _Atomic uint64_t dispatched, no_script, flows, flows_merged, flow_batches, flow_errors,
        stats_messages, attached, attach_misses, calls, errors;
    source_counts_t counts;
    uint64_t sync_done; /* under d->sync_lock */
    /* script counters for the runtime file: the state's list, copied about once a second */
    script_info_t *list, *list_tmp;
    int list_n;
    uint64_t list_at_ns;
    pthread_mutex_t list_lock;
} worker_t;

struct syslog_dispatch {
    syslog_dispatch_config_t cfg;
    char *map_sender[SYSLOG_MAP_MAX];
    char *map_script[SYSLOG_MAP_MAX];
    int n_workers;
    worker_t *workers[SYSLOG_WORKERS_MAX];
    size_t queue_cap;
    atomic_int stop;
    uint64_t run_id;
    _Atomic(syslog_listener_t *) listener;
    /* the listener's side: the chunk being filled for each thread, and handing them on */
    pthread_mutex_t in_lock;
    chunk_t *pend[SYSLOG_WORKERS_MAX];
    atomic_int stalled; /* a TCP batch found a queue full for TCP_WAIT_MS: drop at once */
    /* handled chunks of CHUNK_BYTES, back from the threads: reusing one saves a malloc on the
     * listener and a free into the listener's heap from another thread */
    pthread_mutex_t spare_lock;
    chunk_t *spares[CHUNK_SPARES];
    int n_spares;
    struct sockaddr_storage last_from; /* the sender whose address text is cached */
    char last_addr[64];
    _Atomic uint64_t received, malformed, queue_full;
    source_counts_t counts; /* the listener's: malformed messages under "-" */
    /* source names (set once each, under src_lock) and the scripts' named counters */
    pthread_mutex_t src_lock;
    char sources[SOURCES_TRACKED + 1][SOURCE_MAX];
    _Atomic int n_sources;
    script_counter_t counters[SCRIPT_COUNTERS];
    int n_counters;
    uint64_t counters_full;
    /* envelopes to ingest: sequence numbers and queue order */
    pthread_mutex_t local_lock;
    source_seq_t seqs[SEQ_SOURCES];
    int n_seqs;
    /* sync */
    pthread_mutex_t sync_lock;
    pthread_cond_t sync_cond;
    uint64_t sync_asked;
};

static inline void bump(_Atomic uint64_t *v, uint64_t d)
{
    atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static inline uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* ---- per-source counters ---- */

/* The counter slot of a source: found, or given the next free one, or "(other)" when the
 * table is full. */
static int source_slot(syslog_dispatch_t *self, const char *name)
{
    pthread_mutex_lock(&self->src_lock);
    int n = atomic_load_explicit(&self->n_sources, memory_order_relaxed), slot = -1;
    for (int i = 0; i < n && slot < 0; i++)
        if (strcmp(self->sources[i], name) == 0) slot = i;
    if (slot < 0 && n < SOURCES_TRACKED) {
        slot = n;
        snprintf(self->sources[slot], SOURCE_MAX, "%s", name);
        atomic_store_explicit(&self->n_sources, n + 1, memory_order_release);
    }
    if (slot < 0) {
        slot = SOURCES_TRACKED;
        snprintf(self->sources[slot], SOURCE_MAX, "(other)");
    }
    pthread_mutex_unlock(&self->src_lock);
    return slot;
}

/* ---- the source and the thread of a message ---- */

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
            (msg->hostname[0] && strcmp(self->map_sender[i], msg->hostname) == 0)) {
            snprintf(out, size, "%s", self->map_script[i]);
            return;
        }
    source_from_app(msg->app_name, out, size);
    /* a bare Eve JSON line (no syslog header) comes from Suricata */
    if (!out[0] && msg->format == SYSLOG_FMT_JSON &&
        memmem(msg->msg, msg->msg_len, "\"event_type\"", 12))
        snprintf(out, size, "suricata");
    if (!out[0]) snprintf(out, size, "-");
}

/* The top-level "flow_id" of a JSON object body (Suricata Eve writes it among the first
 * fields): 1 with *id set, or 0 when the body is no object or has none in its first
 * FLOW_ID_WINDOW bytes. */
static int flow_id_of(const char *body, size_t len, uint64_t *id)
{
    const char *p = body, *end = body + (len < FLOW_ID_WINDOW ? len : FLOW_ID_WINDOW);
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p >= end || *p != '{') return 0;
    const char *k = memmem(p, (size_t)(end - p), "\"flow_id\"", 9);
    if (!k) return 0;
    p = k + 9;
    while (p < end && *p == ' ')
        p++;
    if (p >= end || *p++ != ':') return 0;
    while (p < end && *p == ' ')
        p++;
    uint64_t v = 0;
    int digits = 0;
    for (; p < end && *p >= '0' && *p <= '9' && digits < 20; p++, digits++)
        v = v * 10 + (uint64_t)(*p - '0');
    *id = v;
    return digits > 0;
}

/* splitmix64's finaliser: flow ids are not uniform in their low bits. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* The thread of a message: by flow id for JSON events that carry one (the events of a flow
 * stay in order, flows spread over the threads), else by source (a script sees every message
 * of its source in order, e.g. sshd.lua counting failures per address across hosts). */
static int pick_worker(const syslog_dispatch_t *self, const syslog_msg_t *msg, const char *source)
{
    uint64_t id;
    if (self->n_workers == 1) return 0;
    if (flow_id_of(msg->msg, msg->msg_len, &id))
        return (int)(mix64(id) % (uint64_t)self->n_workers);
    return (int)(fnv1a(source) % (uint64_t)self->n_workers);
}

/* The text of a sender address; the last one is kept, since a TCP sender sends many. */
static const char *addr_text(syslog_dispatch_t *self, const struct sockaddr_storage *from)
{
    struct sockaddr_storage *last = &self->last_from;
    if (!from || (from->ss_family != AF_INET && from->ss_family != AF_INET6)) return "";
    if (from->ss_family == AF_INET && last->ss_family == AF_INET &&
        memcmp(&((const struct sockaddr_in *)from)->sin_addr,
               &((const struct sockaddr_in *)last)->sin_addr, sizeof(struct in_addr)) == 0)
        return self->last_addr;
    if (from->ss_family == AF_INET6 && last->ss_family == AF_INET6 &&
        memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
               &((const struct sockaddr_in6 *)last)->sin6_addr, sizeof(struct in6_addr)) == 0)
        return self->last_addr;
    self->last_addr[0] = '\0';
    if (from->ss_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, self->last_addr,
                  sizeof self->last_addr);
    else
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, self->last_addr,
                  sizeof self->last_addr);
    *last = *from;
    return self->last_addr;
}

/* ---- handing messages to the threads (the listener's side, under in_lock) ---- */

static int worker_has_room(syslog_dispatch_t *self, worker_t *w)
{
    return atomic_load_explicit(&w->queued, memory_order_relaxed) < self->queue_cap &&
           atomic_load_explicit(&w->queued_bytes, memory_order_relaxed) < QUEUE_BYTES;
}

/* Queues a chunk for thread w: 0 (the chunk is the thread's now), or -1 (still the caller's). */
static int worker_push(worker_t *w, chunk_t *c)
{
    uint32_t n = c->n;
    size_t bytes = c->used;
    atomic_fetch_add_explicit(&w->queued, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&w->queued_bytes, bytes, memory_order_relaxed);
    if (queue_push(w->in, c) == 0) return 0;
    atomic_fetch_sub_explicit(&w->queued, n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&w->queued_bytes, bytes, memory_order_relaxed);
    return -1;
}

/* Hands thread i's pending chunk to it. A thread's queue holds up to queue_cap messages and
 * QUEUE_BYTES bytes (passed by at most one chunk). UDP: no room, dropped. TCP: waits for room
 * rather than drop; this blocks the listener thread, so every TCP sender is slowed down by TCP
 * flow control (UDP datagrams wait in the socket buffer). A thread stuck that long (shutdown:
 * ingest gone) makes TCP drop again. */
static void hand_on(syslog_dispatch_t *self, int i)
{
    chunk_t *c = self->pend[i];
    worker_t *w = self->workers[i];
    if (!c) return;
    self->pend[i] = NULL;
    if (c->cap - c->used > CHUNK_SLACK) {
        /* a chunk handed on nearly empty (a quiet sender) must not hold a whole CHUNK_BYTES
         * while it waits in a long queue */
        chunk_t *t = realloc(c, sizeof *c + c->used);
        if (t) {
            c = t;
            c->cap = c->used;
        }
    }
    int is_tcp = c->is_tcp; /* once pushed, the chunk is the thread's */
    if (worker_has_room(self, w) && worker_push(w, c) == 0) {
        if (is_tcp) atomic_store_explicit(&self->stalled, 0, memory_order_relaxed);
        return;
    }
    if (is_tcp && !atomic_load_explicit(&self->stalled, memory_order_relaxed)) {
        struct timespec tick = {0, 200000};
        for (int k = 0; k < TCP_WAIT_MS * 5 && !atomic_load(&self->stop); k++) {
            nanosleep(&tick, NULL);
            if (worker_has_room(self, w) && worker_push(w, c) == 0) return;
        }
        atomic_store_explicit(&self->stalled, 1, memory_order_relaxed);
    }
    bump(&self->queue_full, c->n);
    free(c);
}

/* Room for an item of `size` bytes in thread i's pending chunk: the chunk, or NULL when no
 * memory (a full chunk, or one of the other transport, is handed on first). */
static chunk_t *chunk_for(syslog_dispatch_t *self, int i, size_t size, int is_tcp)
{
    chunk_t *c = self->pend[i];
    if (c && (c->used + size > c->cap || c->is_tcp != is_tcp)) {
        hand_on(self, i);
        c = NULL;
    }
    if (c) return c;
    size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
    if (cap == CHUNK_BYTES) {
        pthread_mutex_lock(&self->spare_lock);
        if (self->n_spares) c = self->spares[--self->n_spares];
        pthread_mutex_unlock(&self->spare_lock);
    }
    if (!c && !(c = malloc(sizeof *c + cap))) return NULL;
    c->sync_seq = 0;
    c->used = 0;
    c->cap = cap;
    c->n = 0;
    c->is_tcp = is_tcp;
    self->pend[i] = c;
    return c;
}

/* A chunk its thread has handled: kept for reuse when it is a whole CHUNK_BYTES, else freed. */
static void chunk_done(syslog_dispatch_t *self, chunk_t *c)
{
    if (c && c->cap == CHUNK_BYTES) {
        pthread_mutex_lock(&self->spare_lock);
        if (self->n_spares < CHUNK_SPARES) {
            self->spares[self->n_spares++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&self->spare_lock);
    }
    free(c);
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    p[n] = '\0';
    return p + n + 1;
}

static size_t cap_len(const char *s, size_t cap)
{
    return strnlen(s, cap - 1);
}

void syslog_dispatch_deliver(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                             const struct sockaddr_storage *from, int is_tcp)
{
    syslog_dispatch_t *self = ctx;
    (void)raw;
    (void)len;
    bump(&self->received, 1);
    if (!msg) {
        bump(&self->malformed, 1);
        bump(&self->counts.no_script[source_slot(self, "-")], 1);
        return;
    }
    pthread_mutex_lock(&self->in_lock);
    char source[SOURCE_MAX];
    const char *addr = addr_text(self, from);
    pick_source(self, msg, addr, source, sizeof source);
    const char *host = msg->hostname[0] ? msg->hostname : addr;
    const char *strs[S_COUNT] = {source,      host,       addr,          msg->app_name,
                                 msg->procid, msg->msgid, msg->timestamp};
    size_t caps[S_COUNT] = {SOURCE_MAX,           sizeof msg->hostname, sizeof self->last_addr,
                            sizeof msg->app_name, sizeof msg->procid,   sizeof msg->msgid,
                            sizeof msg->timestamp};
    uint16_t lens[S_COUNT];
    size_t size = sizeof(item_t) + msg->msg_len + 1;
    for (int k = 0; k < S_COUNT; k++) {
        lens[k] = (uint16_t)cap_len(strs[k], caps[k]);
        size += lens[k] + 1u;
    }
    size = (size + 7) & ~(size_t)7;
    int wi = pick_worker(self, msg, source);
    chunk_t *c = chunk_for(self, wi, size, is_tcp);
    if (!c) {
        bump(&self->queue_full, 1);
        pthread_mutex_unlock(&self->in_lock);
        return;
    }
    item_t *it = (item_t *)((char *)c->data + c->used);
    it->size = (uint32_t)size;
    it->body_len = (uint32_t)msg->msg_len;
    it->ts_s = msg->ts_s;
    it->pri = (int16_t)msg->pri;
    it->facility = (int16_t)msg->facility;
    it->severity = (int16_t)msg->severity;
    it->format = (uint8_t)msg->format;
    char *p = it->text;
    for (int k = 0; k < S_COUNT; k++) {
        it->len[k] = lens[k];
        p = put_str(p, strs[k], lens[k]);
    }
    put_str(p, msg->msg, msg->msg_len);
    c->used += size;
    c->n++;
    pthread_mutex_unlock(&self->in_lock);
}

void syslog_dispatch_flush(void *ctx)
{
    syslog_dispatch_t *self = ctx;
    pthread_mutex_lock(&self->in_lock);
    for (int i = 0; i < self->n_workers; i++)
        hand_on(self, i);
    pthread_mutex_unlock(&self->in_lock);
}

/* ---- flows from scripts ---- */

static batch_t *batch_for(worker_t *w, const char *source)
{
    int free_slot = -1;
    for (int i = 0; i < BATCH_SOURCES; i++) {
        if (w->batches[i] && strcmp(w->batches[i]->source, source) == 0) return w->batches[i];
        if (!w->batches[i] && free_slot < 0) free_slot = i;
    }
    if (free_slot < 0) return NULL;
    batch_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    snprintf(b->source, sizeof b->source, "%s", source);
    snprintf(b->probe_id, sizeof b->probe_id, "syslog:%s", source);
    w->batches[free_slot] = b;
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

/* Packs the envelope of a source's probe with its next sequence number and queues it for
 * ingest. The threads share the numbers, so this runs under local_lock: the envelopes reach
 * ingest's queue in sequence order. 0, or -1 when it could not be packed (or too many
 * sources). */
static int send_envelope(syslog_dispatch_t *self, Zflow__Envelope *env, batch_t *b)
{
    int rc = -1;
    pthread_mutex_lock(&self->local_lock);
    source_seq_t *s = NULL;
    for (int i = 0; i < self->n_seqs && !s; i++)
        if (strcmp(self->seqs[i].source, b->source) == 0) s = &self->seqs[i];
    if (!s && self->n_seqs < SEQ_SOURCES) {
        s = &self->seqs[self->n_seqs++];
        snprintf(s->source, sizeof s->source, "%s", b->source);
    }
    if (s) {
        env->schema_version = CODEC_SCHEMA_VERSION;
        env->probe_id = b->probe_id;
        env->run_id = self->run_id;
        env->seq = s->seq + 1;
        env->send_time_ns = wall_ns();
        size_t len = 0;
        uint8_t *buf = codec_pack(env, &len);
        if (buf) {
            s->seq++;
            push_local(self, buf, len);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&self->local_lock);
    return rc;
}

static void batch_flush(worker_t *w, batch_t *b)
{
    syslog_dispatch_t *self = w->d;
    if (!b || !b->n || !self->cfg.local) goto clear;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    Zflow__FlowBatch fb = ZFLOW__FLOW_BATCH__INIT;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &fb;
    fb.n_flows = (size_t)b->n;
    fb.flows = b->ptrs;
    if (send_envelope(self, &env, b) == 0)
        bump(&w->flow_batches, 1);
    else
        bump(&w->flow_errors, (uint64_t)b->n);
clear:
    if (b) {
        b->n = b->nbuf = 0;
        b->text_used = 0;
    }
}

static void flush_all(worker_t *w, int only_old)
{
    uint64_t t = wall_ns();
    for (int i = 0; i < BATCH_SOURCES; i++) {
        batch_t *b = w->batches[i];
        if (b && b->n && (!only_old || t - b->first_ns >= FLUSH_NS)) batch_flush(w, b);
    }
}

static worker_t *api_self(lua_State *L)
{
    worker_t *w = lua_touserdata(L, lua_upvalueindex(1));
    if (!w)
        luaL_error(L, "zflow_syslog is only available to syslog scripts of a running collector");
    return w;
}

static const char *api_source(lua_State *L)
{
    const char *key = lua_api_ctx(L)->script_key;
    return key ? key : "unknown";
}

/* The integer value at idx into *v (0 for nil, a float truncated): 0, or -1 when the value is
 * no number. */
static int int_at(lua_State *L, int idx, lua_Integer *v)
{
    *v = 0;
    if (lua_isinteger(L, idx))
        *v = lua_tointeger(L, idx);
    else if (lua_type(L, idx) == LUA_TNUMBER)
        *v = (lua_Integer)lua_tonumber(L, idx);
    else if (!lua_isnil(L, idx))
        return -1;
    return 0;
}

static lua_Integer field_int(lua_State *L, int t, const char *name, lua_Integer min,
                             lua_Integer max)
{
    lua_getfield(L, t, name);
    lua_Integer v;
    if (int_at(L, -1, &v) != 0) luaL_error(L, "field '%s' must be a number", name);
    lua_pop(L, 1);
    if (v < min || v > max) luaL_error(L, "field '%s' out of range", name);
    return v;
}

/* The fields of a flow record table, in the order api_flow() gathers them onto the stack. */
enum flow_field {
    F_EVENT,
    F_FLOW_ID,
    F_CLIENT_IP,
    F_SERVER_IP,
    F_CLIENT_PORT,
    F_SERVER_PORT,
    F_L4_PROTO,
    F_C2S_BYTES,
    F_S2C_BYTES,
    F_C2S_PACKETS,
    F_S2C_PACKETS,
    F_FIRST_SEEN,
    F_LAST_SEEN,
    F_L7_PROTO_NAME,
    F_L7_MASTER_NAME,
    F_L7_APP_NAME,
    F_L7_CATEGORY,
    F_SERVER_NAME,
    F_COMMUNITY_ID,
    F_END_REASON,
    F_COUNT
};

static const char *const flow_field_names[F_COUNT] = {
    "event",       "flow_id",     "client_ip",   "server_ip",     "client_port",
    "server_port", "l4_proto",    "c2s_bytes",   "s2c_bytes",     "c2s_packets",
    "s2c_packets", "first_seen",  "last_seen",   "l7_proto_name", "l7_master_name",
    "l7_app_name", "l7_category", "server_name", "community_id",  "end_reason",
};

static int flow_field_id(const char *k, size_t n)
{
    for (int i = 0; i < F_COUNT; i++)
        if (k[0] == flow_field_names[i][0] && strlen(flow_field_names[i]) == n &&
            memcmp(flow_field_names[i], k, n) == 0)
            return i;
    return -1;
}

/* Puts the fields of the table at index 1 into the stack slots base .. base + F_COUNT - 1 (nil
 * when absent): one pass over a plain table instead of a lookup per field; a table with a
 * metatable is read field by field (its __index may supply them). */
static void gather_fields(lua_State *L, int base)
{
    luaL_checkstack(L, F_COUNT + 4, "flow record");
    lua_settop(L, base + F_COUNT - 1);
    if (lua_getmetatable(L, 1)) {
        lua_pop(L, 1);
        for (int i = 0; i < F_COUNT; i++) {
            lua_getfield(L, 1, flow_field_names[i]);
            lua_replace(L, base + i);
        }
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            size_t n;
            const char *k = lua_tolstring(L, -2, &n);
            int id = n ? flow_field_id(k, n) : -1;
            if (id >= 0) lua_copy(L, -1, base + id);
        }
        lua_pop(L, 1);
    }
}

/* Reads a gathered record: the first problem is kept in err, and later reads return nothing. */
typedef struct rec_reader {
    lua_State *L;
    int base;
    batch_t *b;
    size_t used; /* the batch's text, committed with the record */
    char err[96];
} rec_reader_t;

static int rec_fail(rec_reader_t *r, int field, const char *what)
{
    if (!r->err[0]) snprintf(r->err, sizeof r->err, "field '%s' %s", flow_field_names[field], what);
    return 0;
}

/* An integer field (0 when absent). */
static lua_Integer slot_int(rec_reader_t *r, int field, lua_Integer min, lua_Integer max)
{
    lua_Integer v;
    if (r->err[0]) return 0;
    if (int_at(r->L, r->base + field, &v) != 0) return rec_fail(r, field, "must be a number");
    if (v < min || v > max) return rec_fail(r, field, "out of range");
    return v;
}

/* A string field, as Lua holds it, and its length (NULL when absent). */
static const char *slot_lstr(rec_reader_t *r, int field, size_t *len)
{
    int idx = r->base + field, t = lua_type(r->L, idx);
    if (r->err[0]) return NULL;
    if (t == LUA_TSTRING || t == LUA_TNUMBER) return lua_tolstring(r->L, idx, len);
    if (t != LUA_TNIL) rec_fail(r, field, "must be a string");
    return NULL;
}

static const char *slot_cstr(rec_reader_t *r, int field)
{
    size_t len;
    return slot_lstr(r, field, &len);
}

/* A string field copied (at most STR_CAP bytes) into the batch's text. The caller made sure
 * FLOW_TEXT_MAX bytes are free there. */
static char *slot_str(rec_reader_t *r, int field)
{
    size_t n;
    const char *s = slot_lstr(r, field, &n);
    if (!s) return NULL;
    if (n > STR_CAP) n = STR_CAP;
    char *copy = r->b->text + r->used;
    memcpy(copy, s, n);
    copy[n] = '\0';
    r->used += n + 1;
    return copy;
}

/* Seconds (float) or nanoseconds of a time field, as ns. */
static uint64_t slot_time_ns(rec_reader_t *r, int field)
{
    lua_State *L = r->L;
    int idx = r->base + field;
    uint64_t ns = 0;
    if (lua_type(L, idx) == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, idx);
        if (v > 0 && v < 1e11) /* seconds */
            ns = (uint64_t)(v * 1e9);
        else if (v >= 1e11 && v < 1.8e19)
            ns = (uint64_t)v;
    }
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

/* An update supersedes the flow's previous update while both wait in the same batch:
 * updates carry cumulative counters, the collector applies them in order and nothing of the
 * flow lies between the two. (IDS alerts come in bursts on one flow, each refreshing it.)
 * The slot of the flow's last record in the batch when that one is an update, else -1. */
static int update_to_replace(const batch_t *b, const Zflow__Flow *m)
{
    if (m->event != ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE) return -1;
    for (int j = b->n - 1; j >= 0; j--)
        if (b->ptrs[j]->flow_id == m->flow_id)
            return b->ptrs[j]->event == ZFLOW__FLOW_EVENT__FLOW_EVENT_UPDATE ? j : -1;
    return -1;
}

/* zflow_syslog.flow{event=, flow_id=, client_ip=, server_ip=, client_port=, server_port=,
 * l4_proto=, c2s_bytes=, s2c_bytes=, c2s_packets=, s2c_packets=, first_seen=, last_seen=,
 * l7_proto_name=, l7_master_name=, l7_app_name=, l7_category=, server_name=, community_id=,
 * end_reason=} -> true, or false and the reason when the record is rejected (a field of the
 * wrong type or out of range: counted as syslog.flow_errors; a script made from external data
 * need not pcall() it). A flow of the interface "syslog:<source>"; events of one flow_id carry
 * cumulative counters, the last one is event "end". */
static int api_flow(lua_State *L)
{
    worker_t *w = api_self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    batch_t *b = batch_for(w, api_source(L));
    if (!b) return luaL_error(L, "too many syslog sources with pending flows");
    if (b->nbuf == BATCH_FLOWS || TEXT_BYTES - b->text_used < FLOW_TEXT_MAX) batch_flush(w, b);
    rec_reader_t r = {.L = L, .base = lua_gettop(L) + 1, .b = b, .used = b->text_used};
    gather_fields(L, r.base);
    flow_buf_t *f = &b->flows[b->nbuf];
    zflow__flow__init(&f->msg);
    Zflow__Flow *m = &f->msg;
    const char *ev = slot_cstr(&r, F_EVENT);
    int event = event_of(ev);
    if (event < 0) rec_fail(&r, F_EVENT, "must be new, l7, update or end");
    m->event = (Zflow__FlowEvent)event;
    m->flow_id = (uint64_t)slot_int(&r, F_FLOW_ID, 1, LUA_MAXINTEGER);
    int v1 = 0, v2 = 0;
    const char *cip = slot_cstr(&r, F_CLIENT_IP), *sip = slot_cstr(&r, F_SERVER_IP);
    if (!r.err[0] && (parse_ip(cip, f->cli, &v1) || parse_ip(sip, f->srv, &v2) || v1 != v2))
        snprintf(r.err, sizeof r.err,
                 "client_ip and server_ip must be IPv4 or IPv6 addresses of one family");
    m->ip_version = (uint32_t)v1;
    m->client_ip.data = f->cli;
    m->client_ip.len = v1 == 4 ? 4 : 16;
    m->server_ip.data = f->srv;
    m->server_ip.len = m->client_ip.len;
    m->client_port = (uint32_t)slot_int(&r, F_CLIENT_PORT, 0, 65535);
    m->server_port = (uint32_t)slot_int(&r, F_SERVER_PORT, 0, 65535);
    if (lua_type(L, r.base + F_L4_PROTO) == LUA_TSTRING) {
        int p = lua_flow_l4_proto_by_name(lua_tostring(L, r.base + F_L4_PROTO));
        m->l4_proto = p < 0 ? 0 : (uint32_t)p;
    } else {
        m->l4_proto = (uint32_t)slot_int(&r, F_L4_PROTO, 0, 255);
    }
    m->c2s_bytes = (uint64_t)slot_int(&r, F_C2S_BYTES, 0, LUA_MAXINTEGER);
    m->s2c_bytes = (uint64_t)slot_int(&r, F_S2C_BYTES, 0, LUA_MAXINTEGER);
    m->c2s_packets = (uint64_t)slot_int(&r, F_C2S_PACKETS, 0, LUA_MAXINTEGER);
    m->s2c_packets = (uint64_t)slot_int(&r, F_S2C_PACKETS, 0, LUA_MAXINTEGER);
    uint64_t now = wall_ns();
    m->first_seen_ns = slot_time_ns(&r, F_FIRST_SEEN);
    m->last_seen_ns = slot_time_ns(&r, F_LAST_SEEN);
    if (!m->first_seen_ns) m->first_seen_ns = now;
    if (!m->last_seen_ns) m->last_seen_ns = m->first_seen_ns;
    m->l7_proto_name = slot_str(&r, F_L7_PROTO_NAME);
    m->l7_master_name = slot_str(&r, F_L7_MASTER_NAME);
    m->l7_app_name = slot_str(&r, F_L7_APP_NAME);
    m->l7_category = slot_str(&r, F_L7_CATEGORY);
    m->server_name = slot_str(&r, F_SERVER_NAME);
    m->community_id = slot_str(&r, F_COMMUNITY_ID);
    m->interface = b->source;
    if (!m->l7_proto_name) m->l7_proto_name = (char *)"";
    m->end_reason = event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END
                        ? (Zflow__EndReason)slot_int(&r, F_END_REASON, 0, 7)
                        : ZFLOW__END_REASON__END_REASON_NONE;
    if (m->event == ZFLOW__FLOW_EVENT__FLOW_EVENT_END && m->end_reason == 0)
        m->end_reason = ZFLOW__END_REASON__END_REASON_IDLE;
    if (!r.err[0] && codec_check_flow(m) != CODEC_OK)
        snprintf(r.err, sizeof r.err, "flow rejected: a field is out of range");
    if (r.err[0]) { /* nothing of the record stays in the batch */
        bump(&w->flow_errors, 1);
        lua_pushboolean(L, 0);
        lua_pushstring(L, r.err);
        return 2;
    }
    bump(&w->flows, 1);
    b->text_used = r.used;
    b->nbuf++;
    int j = update_to_replace(b, m);
    if (j >= 0) { /* the previous update's slot goes unused until the flush */
        b->ptrs[j] = m;
        bump(&w->flows_merged, 1);
    } else {
        b->ptrs[b->n] = m;
        if (b->n++ == 0) b->first_ns = now;
    }
    if (b->nbuf == BATCH_FLOWS) batch_flush(w, b);
    lua_pushboolean(L, 1);
    return 1;
}

/* zflow_syslog.stats{packets=, bytes=, pcap_recv=, pcap_drop=, pcap_ifdrop=, active_flows=,
 * decode_errors=} -> true: the statistics of the source's interface, as a probe's. */
static int api_stats(lua_State *L)
{
    worker_t *w = api_self(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    batch_t *b = batch_for(w, api_source(L));
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
    batch_flush(w, b); /* keep the sequence order: flows before the stats */
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = &st;
    int ok = w->d->cfg.local && send_envelope(w->d, &env, b) == 0;
    if (ok) bump(&w->stats_messages, 1);
    lua_pushboolean(L, ok);
    return 1;
}

/* zflow_syslog.attach_alert(community_id, {alert_type=, severity=, score=, message=, json=})
 * -> true when a probe flow (active, or ended in the last 10 minutes) carries that Community
 * ID: the alert is stored as a flow alert of that probe's flow. */
static int api_attach_alert(lua_State *L)
{
    worker_t *w = api_self(L);
    syslog_dispatch_t *self = w->d;
    const char *cid = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    cid_match_t mt;
    int64_t now_s = (int64_t)(wall_ns() / 1000000000ull);
    if (!self->cfg.cids || !cid_index_find(self->cfg.cids, cid, now_s, &mt)) {
        bump(&w->attach_misses, 1);
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
    if (ok) bump(&w->attached, 1);
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
    syslog_dispatch_t *self = api_self(L)->d;
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

/* zflow_syslog.eve_time(s) -> the seconds since the epoch of a timestamp in Suricata Eve's
 * fixed layout ("2011-08-12T14:53:47.928539+0200": a float with a fraction, else an integer),
 * or nil for any other text and for a value that is no string (see syslog_eve_time()). */
static int api_eve_time(lua_State *L)
{
    size_t len;
    const char *s = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &len) : NULL;
    syslog_eve_time_t t;
    if (!s || syslog_eve_time(s, len, &t) != 0)
        lua_pushnil(L);
    else if (t.is_float)
        lua_pushnumber(L, t.value);
    else
        lua_pushinteger(L, t.secs);
    return 1;
}

/* json_pick's callback: t[path] = value in the table at the top of the stack. */
static int pick_set(void *ctx, int index, const json_pick_value_t *v)
{
    lua_State *L = ctx;
    switch (v->type) {
    case JSON_PICK_INT:
        lua_pushinteger(L, (lua_Integer)v->i);
        break;
    case JSON_PICK_DOUBLE:
        lua_pushnumber(L, (lua_Number)v->d);
        break;
    case JSON_PICK_STRING:
        lua_pushlstring(L, v->s, v->len);
        break;
    case JSON_PICK_BOOL:
        lua_pushboolean(L, (int)v->i);
        break;
    }
    lua_rawgeti(L, 2, index + 1);
    lua_insert(L, -2);
    lua_rawset(L, -3);
    return 0;
}

/* zflow_syslog.json_pick(text, {path, ...}) -> {[path] = value, ...}, or nil and a one-line
 * reason when text is not valid JSON. Reads only the scalars at the given paths (member names
 * joined with '.', e.g. "stats.decoder.pkts"; at most 32 paths) in one streaming pass, without
 * decoding the rest: for large events of which a script needs a few values. Integral numbers
 * come back as integers. */
static int api_json_pick(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    luaL_checktype(L, 2, LUA_TTABLE);
    const char *paths[JSON_PICK_MAX_PATHS];
    lua_Integer n = luaL_len(L, 2);
    luaL_argcheck(L, n >= 0 && n <= JSON_PICK_MAX_PATHS, 2, "at most 32 paths");
    for (int i = 0; i < (int)n; i++) {
        if (lua_rawgeti(L, 2, i + 1) != LUA_TSTRING) luaL_argerror(L, 2, "paths must be strings");
        paths[i] = lua_tostring(L, -1); /* the string stays alive in the table */
        lua_pop(L, 1);
    }
    lua_settop(L, 2);
    lua_createtable(L, 0, (int)n);
    char err[160];
    if (json_pick(text, len, paths, (int)n, pick_set, L, err, sizeof err) != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    return 1;
}

/* zflow_syslog.source() -> the running script's source name. */
static int api_source_fn(lua_State *L)
{
    lua_pushstring(L, api_source(L));
    return 1;
}

static const luaL_Reg syslog_api[] = {
    {"flow", api_flow},
    {"stats", api_stats},
    {"attach_alert", api_attach_alert},
    {"source", api_source_fn},
    {"count", api_count},
    {"eve_time", api_eve_time},
    {"json_pick", api_json_pick},
    {NULL, NULL},
};

/* package.preload["zflow_syslog"]: the table above, each function with the dispatcher thread
 * of the state as upvalue. */
int syslog_dispatch_lua_open(void *state)
{
    lua_State *L = state;
    void *w = lua_touserdata(L, lua_upvalueindex(1));
    luaL_newlibtable(L, syslog_api);
    lua_pushlightuserdata(L, w);
    luaL_setfuncs(L, syslog_api, 1);
    return 1;
}

/* ---- the script call ---- */

/* How many of handleEvent's arguments the function can see: its declared parameters (all
 * five for a vararg one). The engine's trampoline has the function at stack index 1, below
 * the configuration (call->config_index); anything else gets every argument. The engine keeps
 * its hook functions referenced as long as it lives, so an address names one function. */
static int wanted_args(worker_t *w, lua_State *L, const script_call_t *call)
{
    if (call->config_index != 2 || lua_type(L, 1) != LUA_TFUNCTION) return 5;
    const void *fn = lua_topointer(L, 1);
    if (fn != w->fn_seen) {
        lua_Debug ar;
        lua_pushvalue(L, 1);
        lua_getinfo(L, ">u", &ar);
        w->fn_seen = fn;
        w->fn_params = ar.isvararg ? 5 : ar.nparams;
    }
    return w->fn_params;
}

/* handleEvent(message, host, priority, header, config). Only the arguments the function
 * declares are pushed: building the header table for a function that cannot see it (the
 * documented handleEvent(message)) is pure cost at 100k messages/s. */
static int push_event(void *ctx, void *state, const script_call_t *call)
{
    worker_t *w = ctx;
    const msg_view_t *m = w->cur;
    const item_t *it = m->it;
    lua_State *L = state;
    int n = wanted_args(w, L, call);
    lua_pushlstring(L, m->body, it->body_len);
    if (n < 2) return 1;
    lua_pushlstring(L, m->s[S_HOST], it->len[S_HOST]);
    lua_pushinteger(L, it->pri);
    if (n < 4) return 3;
    lua_createtable(L, 0, 10);
    lua_pushinteger(L, it->facility);
    lua_setfield(L, -2, "facility");
    lua_pushinteger(L, it->severity);
    lua_setfield(L, -2, "severity");
    lua_pushlstring(L, m->s[S_HOST], it->len[S_HOST]);
    lua_setfield(L, -2, "hostname");
    lua_pushlstring(L, m->s[S_APP], it->len[S_APP]);
    lua_setfield(L, -2, "app_name");
    lua_pushlstring(L, m->s[S_PROCID], it->len[S_PROCID]);
    lua_setfield(L, -2, "procid");
    lua_pushlstring(L, m->s[S_MSGID], it->len[S_MSGID]);
    lua_setfield(L, -2, "msgid");
    lua_pushlstring(L, m->s[S_TIMESTAMP], it->len[S_TIMESTAMP]);
    lua_setfield(L, -2, "timestamp");
    lua_pushinteger(L, it->ts_s);
    lua_setfield(L, -2, "time");
    lua_pushlstring(L, m->s[S_FROM], it->len[S_FROM]);
    lua_setfield(L, -2, "from");
    lua_pushstring(L, it->format == SYSLOG_FMT_RFC5424   ? "rfc5424"
                      : it->format == SYSLOG_FMT_RFC3164 ? "rfc3164"
                      : it->format == SYSLOG_FMT_JSON    ? "json"
                                                         : "unknown");
    lua_setfield(L, -2, "format");
    lua_pushvalue(L, call->config_index);
    return 5;
}

/* The counter slot of a message's source: messages of one source come in runs, so the last
 * one is remembered. */
static int worker_slot(worker_t *w, const char *source)
{
    if (w->last_slot < 0 || strcmp(w->last_source, source) != 0) {
        w->last_slot = source_slot(w->d, source);
        snprintf(w->last_source, sizeof w->last_source, "%s", source);
    }
    return w->last_slot;
}

static void handle(worker_t *w, const item_t *it)
{
    msg_view_t m = {.it = it};
    const char *p = it->text;
    for (int k = 0; k < S_COUNT; k++) {
        m.s[k] = p;
        p += it->len[k] + 1u;
    }
    m.body = p;
    const char *source = m.s[S_SOURCE];
    w->cur = &m;
    int calls = script_engine_run_script_hook(w->engine, SUBDIR_SYSLOG, source, "handleEvent", NULL,
                                              (int64_t)(wall_ns() / 1000000000ull), push_event, w);
    w->cur = NULL;
    int slot = worker_slot(w, source);
    if (calls <= 0) { /* no runnable script for the source */
        bump(&w->no_script, 1);
        bump(&w->counts.no_script[slot], 1);
        return;
    }
    bump(&w->counts.messages[slot], 1);
    uint64_t ncalls = 0, errors = 0;
    script_engine_totals(w->engine, &ncalls, &errors);
    atomic_store_explicit(&w->calls, ncalls, memory_order_relaxed);
    atomic_store_explicit(&w->errors, errors, memory_order_relaxed);
    bump(&w->dispatched, 1);
}

/* Copies the state's script counters for syslog_dispatch_list_scripts(). */
static void publish_list(worker_t *w)
{
    int n = w->engine ? script_engine_list(w->engine, w->list_tmp, LIST_MAX) : 0;
    if (n > LIST_MAX) n = LIST_MAX;
    pthread_mutex_lock(&w->list_lock);
    memcpy(w->list, w->list_tmp, (size_t)n * sizeof *w->list);
    w->list_n = n;
    pthread_mutex_unlock(&w->list_lock);
}

/* A thread that has nothing to do hands on its pending chunk itself, so messages delivered
 * without a flush (none should be) wait at most one idle round. */
static void idle_flush(worker_t *w)
{
    syslog_dispatch_t *self = w->d;
    if (pthread_mutex_trylock(&self->in_lock) != 0) return;
    hand_on(self, w->index);
    pthread_mutex_unlock(&self->in_lock);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    syslog_dispatch_t *self = w->d;
    for (;;) {
        chunk_t *c = queue_pop(w->in, 50);
        if (c && c->sync_seq) {
            flush_all(w, 0);
            pthread_mutex_lock(&self->sync_lock);
            if (c->sync_seq > w->sync_done) w->sync_done = c->sync_seq;
            pthread_cond_broadcast(&self->sync_cond);
            pthread_mutex_unlock(&self->sync_lock);
        } else if (c) {
            const char *p = (const char *)c->data, *end = p + c->used;
            while (p < end) {
                const item_t *it = (const item_t *)p;
                handle(w, it);
                p += it->size;
            }
            atomic_fetch_sub_explicit(&w->queued, c->n, memory_order_relaxed);
            atomic_fetch_sub_explicit(&w->queued_bytes, c->used, memory_order_relaxed);
        } else if (atomic_load(&self->stop)) {
            break;
        } else {
            idle_flush(w);
        }
        chunk_done(self, c);
        flush_all(w, 1);
        uint64_t t = wall_ns();
        if (t - w->list_at_ns >= LIST_EVERY_NS) {
            w->list_at_ns = t;
            publish_list(w);
        }
    }
    flush_all(w, 0);
    publish_list(w);
    script_engine_destroy(&w->engine); /* teardown() */
    flush_all(w, 0);                   /* what teardown() made */
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

static void worker_destroy(worker_t **pw)
{
    worker_t *w = *pw;
    if (!w) return;
    script_engine_destroy(&w->engine);
    chunk_t *c;
    while (w->in && (c = queue_pop(w->in, 0)))
        free(c);
    queue_destroy(&w->in);
    for (int i = 0; i < BATCH_SOURCES; i++)
        free(w->batches[i]);
    free(w->list);
    free(w->list_tmp);
    pthread_mutex_destroy(&w->list_lock);
    free(w);
    *pw = NULL;
}

/* A thread's queue, Lua state (setup() runs here) and buffers; the thread starts later. */
static worker_t *worker_new(syslog_dispatch_t *self, int index, char *err, size_t errlen)
{
    worker_t *w = calloc(1, sizeof *w);
    if (!w) goto oom;
    w->d = self;
    w->index = index;
    w->last_slot = -1;
    pthread_mutex_init(&w->list_lock, NULL);
    /* a chunk holds at least one message: cap chunks, and room for sync markers */
    w->in = queue_new(self->queue_cap + 64);
    w->list = calloc(LIST_MAX, sizeof *w->list);
    w->list_tmp = calloc(LIST_MAX, sizeof *w->list_tmp);
    if (!w->in || !w->list || !w->list_tmp) goto oom;
    engine_config_t ec = self->cfg.engine;
    ec.subdir_mask = 1u << SUBDIR_SYSLOG;
    ec.host.ctx = self;
    ec.host.store_alert = host_store_alert;
    ec.host.release_alert = host_release_alert;
    ec.host.is_engaged = host_is_engaged;
    ec.preload_name = "zflow_syslog";
    ec.preload_open = syslog_dispatch_lua_open;
    ec.preload_ctx = w;
    w->engine = script_engine_new(&ec, err, errlen);
    if (!w->engine) goto fail;
    publish_list(w);
    return w;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    if (w) worker_destroy(&w);
    return NULL;
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
    self->n_workers = cfg->workers > 0 ? cfg->workers : 1;
    self->queue_cap = cfg->queue_cap ? cfg->queue_cap : 65536;
    pthread_mutex_init(&self->in_lock, NULL);
    pthread_mutex_init(&self->spare_lock, NULL);
    pthread_mutex_init(&self->src_lock, NULL);
    pthread_mutex_init(&self->local_lock, NULL);
    pthread_mutex_init(&self->sync_lock, NULL);
    pthread_cond_init(&self->sync_cond, NULL);
    if (self->n_workers > SYSLOG_WORKERS_MAX) {
        snprintf(err, errlen, "at most %d syslog threads", SYSLOG_WORKERS_MAX);
        goto fail;
    }
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
    for (int i = 0; i < self->n_workers; i++) {
        char werr[256];
        self->workers[i] = worker_new(self, i, werr, sizeof werr);
        if (!self->workers[i]) {
            snprintf(err, errlen, "%s", werr);
            goto fail;
        }
    }
    /* the threads take no signals: they go to the threads that handle them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < self->n_workers; i++) {
        worker_t *w = self->workers[i];
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            snprintf(err, errlen, "cannot start the syslog threads");
            goto fail;
        }
        w->started = 1;
        char name[32]; /* at most 15 bytes are taken: "syslog-disp-15" fits */
        snprintf(name, sizeof name, "syslog-disp-%d", i);
        pthread_setname_np(w->thread, name); /* best effort: top -H, perf */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
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
    /* what the listener delivered last is handled too */
    int started = 0;
    for (int i = 0; i < self->n_workers; i++)
        started += self->workers[i] && self->workers[i]->started;
    if (started == self->n_workers) syslog_dispatch_flush(self);
    /* 2: ingest may no longer be draining; flows still pending are dropped, not waited on */
    atomic_store(&self->stop, 2);
    for (int i = 0; i < self->n_workers; i++)
        if (self->workers[i] && self->workers[i]->started)
            pthread_join(self->workers[i]->thread, NULL);
    for (int i = 0; i < self->n_workers; i++)
        worker_destroy(&self->workers[i]);
    for (int i = 0; i < SYSLOG_WORKERS_MAX; i++)
        free(self->pend[i]);
    for (int i = 0; i < self->n_spares; i++)
        free(self->spares[i]);
    for (int i = 0; i < SYSLOG_MAP_MAX; i++) {
        free(self->map_sender[i]);
        free(self->map_script[i]);
    }
    pthread_mutex_destroy(&self->in_lock);
    pthread_mutex_destroy(&self->spare_lock);
    pthread_mutex_destroy(&self->src_lock);
    pthread_mutex_destroy(&self->local_lock);
    pthread_mutex_destroy(&self->sync_lock);
    pthread_cond_destroy(&self->sync_cond);
    free(self);
    *pself = NULL;
}

int syslog_dispatch_sync(syslog_dispatch_t *self, int timeout_ms)
{
    syslog_dispatch_flush(self);
    pthread_mutex_lock(&self->sync_lock);
    uint64_t want = ++self->sync_asked;
    pthread_mutex_unlock(&self->sync_lock);
    struct timespec ms = {0, 1000000};
    int waited = 0;
    for (int i = 0; i < self->n_workers; i++) {
        chunk_t *marker = calloc(1, sizeof *marker);
        if (!marker) return -1;
        marker->sync_seq = want;
        while (queue_push(self->workers[i]->in, marker) != 0) {
            if (waited++ >= timeout_ms) {
                free(marker);
                return -1;
            }
            nanosleep(&ms, NULL);
        }
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0, done = 0;
    pthread_mutex_lock(&self->sync_lock);
    for (;;) {
        done = 1;
        for (int i = 0; i < self->n_workers; i++)
            done &= self->workers[i]->sync_done >= want;
        if (done || rc != 0) break;
        rc = pthread_cond_timedwait(&self->sync_cond, &self->sync_lock, &dl);
    }
    pthread_mutex_unlock(&self->sync_lock);
    return done ? 0 : -1;
}

void syslog_dispatch_set_listener(syslog_dispatch_t *self, syslog_listener_t *listener)
{
    atomic_store(&self->listener, listener);
}

int syslog_dispatch_list_scripts(syslog_dispatch_t *self, script_info_t *out, int max)
{
    int n = 0;
    for (int i = 0; i < self->n_workers; i++) {
        worker_t *w = self->workers[i];
        pthread_mutex_lock(&w->list_lock);
        for (int k = 0; k < w->list_n; k++) {
            const script_info_t *s = &w->list[k];
            int j = 0;
            while (j < n &&
                   (strcmp(out[j].subdir, s->subdir) != 0 || strcmp(out[j].key, s->key) != 0))
                j++;
            if (j == n) {
                if (n == max) continue;
                out[n++] = *s;
            } else {
                out[j].calls += s->calls;
                out[j].errors += s->errors;
                out[j].seconds += s->seconds;
            }
        }
        pthread_mutex_unlock(&w->list_lock);
    }
    return n;
}

void syslog_dispatch_get_stats(syslog_dispatch_t *self, syslog_dispatch_stats_t *o)
{
    memset(o, 0, sizeof *o);
    o->received = get(&self->received);
    o->malformed = get(&self->malformed);
    o->queue_full = get(&self->queue_full);
    for (int i = 0; i < self->n_workers; i++) {
        worker_t *w = self->workers[i];
        o->dispatched += get(&w->dispatched);
        o->no_script += get(&w->no_script);
        o->flows += get(&w->flows);
        o->flows_merged += get(&w->flows_merged);
        o->flow_batches += get(&w->flow_batches);
        o->flow_errors += get(&w->flow_errors);
        o->stats_messages += get(&w->stats_messages);
        o->attached += get(&w->attached);
        o->attach_misses += get(&w->attach_misses);
        o->calls += get(&w->calls);
        o->errors += get(&w->errors);
    }
}

static void print_listener(syslog_listener_t *l, FILE *out)
{
    syslog_listener_stats_t s;
    syslog_listener_get_stats(l, &s);
    fprintf(out,
            ",\"listener\":{\"udp_messages\":%" PRIu64 ",\"tcp_messages\":%" PRIu64
            ",\"bytes\":%" PRIu64 ",\"parsed\":%" PRIu64 ",\"malformed\":%" PRIu64
            ",\"oversized\":%" PRIu64 ",\"truncated_udp\":%" PRIu64 ",\"tcp_clients\":%" PRIu64
            ",\"tcp_accepted\":%" PRIu64 ",\"tcp_refused\":%" PRIu64 ",\"tcp_idle_closed\":%" PRIu64
            ",\"tcp_partial_at_close\":%" PRIu64 ",\"bad_octet_count\":%" PRIu64
            ",\"udp_kernel_drops\":%" PRIu64 "}",
            s.udp_messages, s.tcp_messages, s.bytes, s.parsed, s.malformed, s.oversized,
            s.truncated_udp, s.tcp_clients, s.tcp_accepted, s.tcp_refused, s.tcp_idle_closed,
            s.tcp_partial_at_close, s.bad_octet_count, s.udp_kernel_drops);
}

void syslog_dispatch_print_status(syslog_dispatch_t *self, FILE *out)
{
    syslog_dispatch_stats_t s;
    syslog_dispatch_get_stats(self, &s);
    uint64_t queued = 0;
    for (int i = 0; i < self->n_workers; i++)
        queued += atomic_load_explicit(&self->workers[i]->queued, memory_order_relaxed);
    fprintf(out,
            "\"syslog\":{\"received\":%" PRIu64 ",\"malformed\":%" PRIu64 ",\"queue_full\":%" PRIu64
            ",\"dispatched\":%" PRIu64 ",\"no_script\":%" PRIu64 ",\"flows\":%" PRIu64
            ",\"flows_merged\":%" PRIu64 ",\"flow_errors\":%" PRIu64
            ",\"stats_messages\":%" PRIu64 ",\"attached\":%" PRIu64
            ",\"attach_misses\":%" PRIu64 ",\"calls\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"threads\":%d,\"queued\":%" PRIu64 ",\"sources\":{",
            s.received, s.malformed, s.queue_full, s.dispatched, s.no_script, s.flows,
            s.flows_merged, s.flow_errors, s.stats_messages, s.attached, s.attach_misses, s.calls,
            s.errors,
            self->n_workers, queued);
    pthread_mutex_lock(&self->src_lock);
    int n = atomic_load_explicit(&self->n_sources, memory_order_relaxed), k = 0;
    for (int i = 0; i <= SOURCES_TRACKED; i++) {
        if (i == n && i < SOURCES_TRACKED) i = SOURCES_TRACKED;
        if (!self->sources[i][0]) continue;
        uint64_t messages = get(&self->counts.messages[i]);
        uint64_t no_script = get(&self->counts.no_script[i]);
        for (int w = 0; w < self->n_workers; w++) {
            messages += get(&self->workers[w]->counts.messages[i]);
            no_script += get(&self->workers[w]->counts.no_script[i]);
        }
        fprintf(out, "%s\"%s\":{\"messages\":%" PRIu64 ",\"no_script\":%" PRIu64 "}", k ? "," : "",
                self->sources[i], messages, no_script);
        k++;
    }
    fprintf(out, "},\"counters\":{");
    for (int i = 0; i < self->n_counters; i++)
        fprintf(out, "%s\"%s\":%" PRIu64, i ? "," : "", self->counters[i].name,
                self->counters[i].value);
    fprintf(out, "},\"counters_full\":%" PRIu64, self->counters_full);
    pthread_mutex_unlock(&self->src_lock);
    fprintf(out, ",\"per_thread\":[");
    for (int i = 0; i < self->n_workers; i++) {
        worker_t *w = self->workers[i];
        fprintf(out, "%s{\"dispatched\":%" PRIu64 ",\"no_script\":%" PRIu64 ",\"queued\":%zu}",
                i ? "," : "", get(&w->dispatched), get(&w->no_script),
                atomic_load_explicit(&w->queued, memory_order_relaxed));
    }
    fprintf(out, "]");
    syslog_listener_t *l = atomic_load(&self->listener);
    if (l) print_listener(l, out);
    fprintf(out, "}");
}
