/* export: DEALER socket to the collector, flow batches, acknowledgements and a bounded resend
 * ring of encoded envelopes (protocol in proto/README.md). */
#include "export.h"

#include "codec.h"
#include "timebase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define EXPORT_HWM                  1000 /* messages queued per direction */
#define EXPORT_LINGER_MS            1000
#define EXPORT_RECONNECT_IVL_MS     100
#define EXPORT_RECONNECT_IVL_MAX_MS 5000
#define EXPORT_HEARTBEAT_IVL_MS     5000 /* ZMTP ping: finds a dead collector without a FIN */
#define EXPORT_HEARTBEAT_TIMEOUT_MS 15000
#define EXPORT_MAX_RECV             (1024 * 1024) /* largest message accepted from the collector */
#define EXPORT_MAX_ACKS_PER_POLL    4096          /* messages read per export_poll() */
#define EXPORT_MAX_RING             (1u << 20)    /* cap on max_unacked */
#define EXPORT_MONITOR_ENDPOINT     "inproc://zflow-export-monitor"

#define NS_PER_MS 1000000ull

/* One envelope waiting for its acknowledgement. */
typedef struct entry {
    uint8_t *buf; /* owned allocation; NULL once acknowledged */
    size_t off;   /* envelope = buf + off, len bytes */
    size_t len;
    uint32_t flows;   /* flows in it (0 for hello / stats) */
    uint32_t sends;   /* times handed to the socket */
    uint64_t sent_ns; /* last hand-over */
    uint32_t epoch;   /* connection epoch of the last hand-over */
    uint8_t pending;  /* waits to be (re)sent */
} entry_t;

struct export
{
    void *ctx;
    void *sock;
    void *mon;
    char *probe_id;
    uint64_t run_id;
    uint32_t batch_flows;
    uint64_t batch_ns;
    uint64_t resend_ns;
    uint32_t max_unacked;
    uint64_t max_unacked_bytes;

    /* Batch being filled: `headroom` bytes kept free for the envelope header, then FlowBatch
     * elements (batch_len bytes). */
    uint8_t *batch;
    size_t batch_cap;
    size_t batch_len;
    size_t headroom;
    size_t body_cap; /* largest batch_len so that the envelope stays <= CODEC_MAX_MESSAGE */
    size_t batch_hint;
    uint32_t batch_n;
    uint64_t batch_first_ns;

    /* Ring of consecutive seqs [oldest_seq, oldest_seq + count): ring[(head + k) % max]. */
    entry_t *ring;
    uint32_t head;
    uint32_t count;
    uint32_t send_from; /* no pending entry before this position */
    uint64_t oldest_seq;
    uint64_t next_seq;
    uint64_t ring_bytes;
    uint64_t next_resend_check_ns; /* 0 = nothing sent that could need a resend */

    uint8_t *hello; /* last Hello payload, packed, for a resend after reconnect */
    size_t hello_len;
    int ever_connected;
    uint32_t epoch; /* +1 at every DISCONNECTED event */
    int rehello;    /* send the hello again at the next poll */
    int send_errors_logged;
    int rejects_logged;
    export_stats_t stats;
};

static inline entry_t *ring_at(export_t *self, uint32_t k)
{
    uint32_t i = self->head + k;
    if (i >= self->max_unacked) i -= self->max_unacked;
    return &self->ring[i];
}

/* Removes the oldest entry; an unacknowledged one is counted as dropped. */
static void ring_pop(export_t *self)
{
    entry_t *e = ring_at(self, 0);
    if (e->buf) {
        self->stats.dropped_batches++;
        self->stats.dropped_flows += e->flows;
        self->stats.unacked_batches--;
        self->ring_bytes -= e->len;
        free(e->buf);
    }
    memset(e, 0, sizeof *e);
    self->head = self->head + 1 == self->max_unacked ? 0 : self->head + 1;
    self->count--;
    self->oldest_seq++;
    if (self->send_from) self->send_from--;
}

/* Pops acknowledged entries off the old end. */
static void ring_trim(export_t *self)
{
    while (self->count && !ring_at(self, 0)->buf)
        ring_pop(self);
}

/* Takes ownership of buf and queues the envelope (seq = next_seq) for sending, dropping the
 * oldest entries when the ring is full. */
static void ring_push(export_t *self, uint8_t *buf, size_t off, size_t len, uint32_t flows)
{
    while (self->count &&
           (self->count == self->max_unacked || self->ring_bytes + len > self->max_unacked_bytes))
        ring_pop(self);
    if (self->count == 0) self->oldest_seq = self->next_seq;
    entry_t *e = ring_at(self, self->count);
    *e = (entry_t){.buf = buf, .off = off, .len = len, .flows = flows, .pending = 1};
    self->count++;
    self->next_seq++;
    self->ring_bytes += len;
    self->stats.unacked_batches++;
}

/* True when the socket takes a message now. zmq_send() copies the whole envelope before it
 * finds out, so asking first saves a large copy per attempt while no collector is there. */
static int socket_writable(export_t *self)
{
    int events = 0;
    size_t len = sizeof events;
    return zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLOUT);
}

static void send_pending(export_t *self, uint64_t now_ns)
{
    while (self->send_from < self->count) {
        entry_t *e = ring_at(self, self->send_from);
        if (e->buf && e->pending) {
            if (!socket_writable(self)) return;
            if (zmq_send(self->sock, e->buf + e->off, e->len, ZMQ_DONTWAIT) < 0) {
                if (errno != EAGAIN && errno != EINTR && !self->send_errors_logged) {
                    self->send_errors_logged = 1;
                    fprintf(stderr, "export: send: %s\n", zmq_strerror(errno));
                }
                return;
            }
            e->pending = 0;
            e->sent_ns = now_ns;
            e->epoch = self->epoch;
            if (e->sends++) {
                self->stats.resent_batches++;
            } else {
                self->stats.sent_messages++;
                self->stats.sent_flows += e->flows;
            }
            if (!self->next_resend_check_ns) self->next_resend_check_ns = now_ns + self->resend_ns;
        }
        self->send_from++;
    }
}

/* Marks for sending again every unacknowledged entry handed to the socket before the last
 * DISCONNECTED: it may have died in the old connection's queue. With ZMQ_IMMEDIATE nothing can
 * be handed over between DISCONNECTED and the next connection, so later ones went to the new
 * connection (an event read late only costs a duplicate, which the collector recognises). */
static void mark_lost_pending(export_t *self)
{
    for (uint32_t k = 0; k < self->count; k++) {
        entry_t *e = ring_at(self, k);
        if (e->buf && e->sends && e->epoch != self->epoch) {
            e->pending = 1;
            if (k < self->send_from) self->send_from = k;
        }
    }
}

/* Backstop timer: resends entries unacknowledged for resend_ns, then schedules the next check
 * at the earliest due time (no more often than resend_ns / 16). */
static void resend_scan(export_t *self, uint64_t now_ns)
{
    uint64_t due_min = UINT64_MAX;
    for (uint32_t k = 0; k < self->count; k++) {
        entry_t *e = ring_at(self, k);
        if (!e->buf || e->pending || !e->sends) continue;
        uint64_t due = e->sent_ns + self->resend_ns;
        if (due <= now_ns || e->sent_ns > now_ns) { /* also when the clock went back */
            e->pending = 1;
            if (k < self->send_from) self->send_from = k;
        } else if (due < due_min) {
            due_min = due;
        }
    }
    if (due_min == UINT64_MAX) {
        self->next_resend_check_ns = 0;
    } else {
        uint64_t soonest = now_ns + self->resend_ns / 16;
        self->next_resend_check_ns = due_min > soonest ? due_min : soonest;
    }
}

static void on_connected(export_t *self)
{
    if (self->ever_connected) {
        self->stats.reconnects++;
        if (self->hello) self->rehello = 1;
    }
    self->ever_connected = 1;
    mark_lost_pending(self);
}

/* Reads socket monitor events: frame 1 = u16 event + u32 value, frame 2 = endpoint. */
static void monitor_read(export_t *self)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&msg) >= 6) memcpy(&event, zmq_msg_data(&msg), sizeof event);
        int more = zmq_msg_more(&msg);
        zmq_msg_close(&msg);
        while (more) {
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, self->mon, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        if (event == ZMQ_EVENT_CONNECTED)
            on_connected(self);
        else if (event == ZMQ_EVENT_DISCONNECTED)
            self->epoch++;
    }
}

static void ack_seq(export_t *self, uint64_t seq)
{
    if (seq < self->oldest_seq || seq - self->oldest_seq >= self->count)
        return; /* already acknowledged or dropped */
    entry_t *e = ring_at(self, (uint32_t)(seq - self->oldest_seq));
    if (!e->buf) return;
    free(e->buf);
    e->buf = NULL;
    self->ring_bytes -= e->len;
    self->stats.unacked_batches--;
    self->stats.acked_batches++;
}

/* Reads the acknowledgements waiting on the socket (one single-frame Envelope each). */
static void acks_read(export_t *self)
{
    for (int i = 0; i < EXPORT_MAX_ACKS_PER_POLL; i++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        if (zmq_msg_more(&msg)) { /* a collector sends single frames: drop the whole message */
            self->stats.bad_acks++;
            int more = 1;
            while (more) {
                zmq_msg_close(&msg);
                zmq_msg_init(&msg);
                if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) break;
                more = zmq_msg_more(&msg);
            }
            zmq_msg_close(&msg);
            continue;
        }
        codec_msg_t *ack = NULL;
        codec_error_t err = codec_unpack(zmq_msg_data(&msg), zmq_msg_size(&msg), &ack);
        zmq_msg_close(&msg);
        const Zflow__Envelope *env = codec_msg_env(ack);
        if (err != CODEC_OK || env->payload_case != ZFLOW__ENVELOPE__PAYLOAD_ACK ||
            env->ack->run_id != self->run_id) {
            self->stats.bad_acks++;
            codec_msg_destroy(&ack);
            continue;
        }
        for (size_t k = 0; k < env->ack->n_seqs; k++)
            ack_seq(self, env->ack->seqs[k]);
        codec_msg_destroy(&ack);
    }
    ring_trim(self);
}

/* Fills the envelope header shared by every message of this run. */
static void header_init(export_t *self, Zflow__Envelope *env, uint64_t now_ns)
{
    env->schema_version = CODEC_SCHEMA_VERSION;
    env->probe_id = self->probe_id;
    env->run_id = self->run_id;
    env->seq = self->next_seq;
    env->send_time_ns = now_ns;
}

/* Packs, validates as the collector will, queues and tries to send one envelope. */
static int envelope_send(export_t *self, Zflow__Envelope *env, uint64_t now_ns)
{
    size_t len = 0;
    codec_msg_t *check = NULL;
    uint8_t *buf = codec_pack(env, &len);
    if (!buf) {
        fprintf(stderr, "export: cannot pack envelope (too big or out of memory)\n");
        goto fail;
    }
    codec_error_t err = codec_unpack(buf, len, &check);
    codec_msg_destroy(&check);
    if (err != CODEC_OK) {
        fprintf(stderr, "export: envelope fails validation: %s\n", codec_error_name(err));
        goto fail;
    }
    ring_push(self, buf, 0, len, 0);
    send_pending(self, now_ns);
    return 0;
fail:
    free(buf);
    return -1;
}

export_t *export_new(const export_config_t *cfg)
{
    export_t *self = NULL;
    const char *what = "config";
    if (!cfg || !cfg->endpoint || !cfg->probe_id || !cfg->probe_id[0] ||
        strlen(cfg->probe_id) > CODEC_MAX_STRING) {
        fprintf(stderr, "export: need an endpoint and a probe id of 1..%u bytes\n",
                CODEC_MAX_STRING);
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self) goto fail;
    self->probe_id = strdup(cfg->probe_id);
    if (!self->probe_id) goto fail;
    self->run_id = cfg->run_id;
    self->batch_flows = cfg->batch_flows ? cfg->batch_flows : 512;
    if (self->batch_flows > CODEC_MAX_FLOWS_PER_BATCH)
        self->batch_flows = CODEC_MAX_FLOWS_PER_BATCH;
    self->batch_ns = (uint64_t)(cfg->batch_ms ? cfg->batch_ms : 200) * NS_PER_MS;
    self->resend_ns = (uint64_t)(cfg->resend_ms ? cfg->resend_ms : 5000) * NS_PER_MS;
    self->max_unacked = cfg->max_unacked ? cfg->max_unacked : 4096;
    if (self->max_unacked > EXPORT_MAX_RING) self->max_unacked = EXPORT_MAX_RING;
    self->max_unacked_bytes =
        cfg->max_unacked_bytes ? cfg->max_unacked_bytes : 256ull * 1024 * 1024;
    self->headroom = 64 + strlen(self->probe_id);
    self->body_cap = CODEC_MAX_MESSAGE - self->headroom;
    self->oldest_seq = self->next_seq = 1;
    self->ring = calloc(self->max_unacked, sizeof *self->ring);
    if (!self->ring) goto fail;

    what = "zmq context";
    self->ctx = zmq_ctx_new();
    if (!self->ctx) goto fail;
    what = "zmq socket";
    self->sock = zmq_socket(self->ctx, ZMQ_DEALER);
    if (!self->sock) goto fail;
    int one = 1, hwm = EXPORT_HWM, linger = EXPORT_LINGER_MS;
    int ivl = EXPORT_RECONNECT_IVL_MS, ivl_max = EXPORT_RECONNECT_IVL_MAX_MS;
    int hb_ivl = EXPORT_HEARTBEAT_IVL_MS, hb_timeout = EXPORT_HEARTBEAT_TIMEOUT_MS;
    int64_t max_recv = EXPORT_MAX_RECV;
    what = "zmq socket options";
    if (zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &one, sizeof one) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof hb_ivl) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof hb_timeout) < 0 ||
        zmq_setsockopt(self->sock, ZMQ_MAXMSGSIZE, &max_recv, sizeof max_recv) < 0)
        goto fail;

    /* The monitor must exist before connect() to see the first CONNECTED event. */
    what = "zmq socket monitor";
    if (zmq_socket_monitor(self->sock, EXPORT_MONITOR_ENDPOINT,
                           ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) < 0)
        goto fail;
    self->mon = zmq_socket(self->ctx, ZMQ_PAIR);
    int zero = 0;
    if (!self->mon || zmq_setsockopt(self->mon, ZMQ_LINGER, &zero, sizeof zero) < 0 ||
        zmq_connect(self->mon, EXPORT_MONITOR_ENDPOINT) < 0)
        goto fail;

    what = cfg->endpoint;
    if (zmq_connect(self->sock, cfg->endpoint) < 0) goto fail;
    return self;
fail:
    fprintf(stderr, "export: %s: %s\n", what, errno ? zmq_strerror(errno) : "failed");
    export_destroy(&self);
    return NULL;
}

void export_destroy(export_t **p)
{
    if (!p || !*p) return;
    export_t *self = *p;
    if (self->sock) {
        if (self->mon) zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
    }
    if (self->mon) zmq_close(self->mon);
    if (self->ctx) zmq_ctx_term(self->ctx);
    if (self->ring) {
        for (uint32_t k = 0; k < self->count; k++)
            free(ring_at(self, k)->buf);
        free(self->ring);
    }
    free(self->batch);
    free(self->hello);
    free(self->probe_id);
    free(self);
    *p = NULL;
}

/* Makes room for one more flow in the batch (allocating it on first use). */
static int batch_reserve(export_t *self)
{
    size_t need = self->headroom + self->batch_len + CODEC_MAX_FLOW_ENCODED;
    if (self->batch && need <= self->batch_cap) return 0;
    /* first: the size the last batch had, plus room for the flow that fills it (no growth) */
    size_t cap = self->batch_cap ? self->batch_cap * 2
                                 : self->headroom + self->batch_hint + CODEC_MAX_FLOW_ENCODED;
    if (cap < need) cap = need;
    if (cap > self->headroom + self->body_cap) cap = self->headroom + self->body_cap;
    uint8_t *nb = realloc(self->batch, cap);
    if (!nb) return -1;
    self->batch = nb;
    self->batch_cap = cap;
    return 0;
}

int export_add_flow(export_t *self, const Zflow__Flow *flow, uint64_t now_ns)
{
    codec_error_t err = codec_check_flow(flow);
    if (err != CODEC_OK) {
        self->stats.rejected_flows++;
        if (!self->rejects_logged) {
            self->rejects_logged = 1;
            fprintf(stderr, "export: flow %llu rejected (%s); further rejects only counted\n",
                    (unsigned long long)(flow ? flow->flow_id : 0), codec_error_name(err));
        }
        goto fail;
    }
    if (self->batch_len + CODEC_MAX_FLOW_ENCODED > self->body_cap) export_flush(self, now_ns);
    if (batch_reserve(self) < 0) {
        fprintf(stderr, "export: out of memory for a batch\n");
        goto fail;
    }
    uint8_t *at = self->batch + self->headroom + self->batch_len;
    int n = codec_pack_batch_flow(flow, at, self->batch_cap - self->headroom - self->batch_len);
    if (n < 0) goto fail;
    self->batch_len += (size_t)n;
    if (self->batch_n++ == 0) self->batch_first_ns = now_ns;
    if (self->batch_n >= self->batch_flows) export_flush(self, now_ns);
    return 0;
fail:
    return -1;
}

void export_flush(export_t *self, uint64_t now_ns)
{
    if (!self->batch_n) return;
    Zflow__Envelope hdr = ZFLOW__ENVELOPE__INIT;
    header_init(self, &hdr, now_ns);
    uint8_t tmp[CODEC_MAX_HEADER];
    int h = codec_pack_batch_header(&hdr, self->batch_len, tmp, sizeof tmp);
    if (h < 0 || (size_t)h > self->headroom) { /* cannot happen: probe id checked at new */
        fprintf(stderr, "export: cannot encode the envelope header\n");
        return;
    }
    size_t off = self->headroom - (size_t)h;
    memcpy(self->batch + off, tmp, (size_t)h);
    size_t used = self->headroom + self->batch_len;
    uint8_t *buf = self->batch;
    if (self->batch_cap - used > 4096) { /* give back the slack kept for one more flow */
        uint8_t *shrunk = realloc(buf, used);
        if (shrunk) buf = shrunk;
    }
    self->batch_hint = self->batch_len + self->batch_len / 8;
    ring_push(self, buf, off, (size_t)h + self->batch_len, self->batch_n);
    self->batch = NULL;
    self->batch_cap = 0;
    self->batch_len = 0;
    self->batch_n = 0;
    send_pending(self, now_ns);
}

int export_send_hello(export_t *self, const Zflow__Hello *hello, uint64_t now_ns)
{
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    header_init(self, &env, now_ns);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = (Zflow__Hello *)hello;
    if (envelope_send(self, &env, now_ns) < 0) return -1;
    /* Keep a packed copy for reconnects; without memory only that later resend is lost. */
    size_t len = zflow__hello__get_packed_size(hello);
    uint8_t *copy = malloc(len ? len : 1);
    if (copy) {
        zflow__hello__pack(hello, copy);
        free(self->hello);
        self->hello = copy;
        self->hello_len = len;
    }
    return 0;
}

int export_send_stats(export_t *self, const Zflow__Stats *stats, uint64_t now_ns)
{
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    header_init(self, &env, now_ns);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_STATS;
    env.stats = (Zflow__Stats *)stats;
    return envelope_send(self, &env, now_ns);
}

/* After a reconnect the collector may be a new process: introduce the probe again. */
static void hello_resend(export_t *self, uint64_t now_ns)
{
    self->rehello = 0;
    Zflow__Hello *hello = zflow__hello__unpack(NULL, self->hello_len, self->hello);
    if (!hello) return;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    header_init(self, &env, now_ns);
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_HELLO;
    env.hello = hello;
    envelope_send(self, &env, now_ns);
    zflow__hello__free_unpacked(hello, NULL);
}

void export_poll(export_t *self, uint64_t now_ns)
{
    monitor_read(self);
    acks_read(self);
    if (self->rehello) hello_resend(self, now_ns);
    if (self->batch_n &&
        (now_ns - self->batch_first_ns >= self->batch_ns || now_ns < self->batch_first_ns))
        export_flush(self, now_ns);
    if (self->next_resend_check_ns && now_ns >= self->next_resend_check_ns)
        resend_scan(self, now_ns);
    send_pending(self, now_ns);
}

int export_drain(export_t *self, int timeout_ms)
{
    uint64_t start = mono_ms();
    export_flush(self, wall_ns());
    for (;;) {
        export_poll(self, wall_ns());
        if (self->stats.unacked_batches == 0) return 0;
        uint64_t spent = mono_ms() - start;
        if (timeout_ms <= 0 || spent >= (uint64_t)timeout_ms) return -1;
        long wait = (long)((uint64_t)timeout_ms - spent);
        if (wait > 20) wait = 20;
        short events = ZMQ_POLLIN;
        if (self->send_from < self->count) events |= ZMQ_POLLOUT;
        zmq_pollitem_t items[2] = {{self->sock, 0, events, 0}, {self->mon, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, wait);
    }
}

void *export_socket(export_t *self)
{
    return self->sock;
}

void export_get_stats(const export_t *self, export_stats_t *out)
{
    *out = self->stats;
}
