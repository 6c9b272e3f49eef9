/* packet_iface: a local packet interface (-i IFACE or --pcap FILE) running the probe library in
 * a collector thread. Flow events are packed into envelopes and queued for ingest. */
#include "packet_iface.h"

#include "codec.h"
#include "flow_record.h"
#include "local_msg.h"
#include "timebase.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define BATCH_FLOWS 256

/* Deep copy of one flow record: the message plus the bytes its pointers reference. */
typedef struct flow_copy {
    Zflow__Flow msg;
    uint8_t cli[16], srv[16], cmac[6], smac[6], osrc[16], odst[16];
    char master[64], app[64], proto[64], category[64], server[256], cid[COMMUNITY_ID_LEN];
} flow_copy_t;

struct packet_iface {
    sensor_t *sensor;
    queue_t *out;
    volatile sig_atomic_t *stop;
    pthread_t thread;
    int started;
    char probe_id[300];
    uint64_t run_id, seq;
    flow_record_t rec;
    flow_copy_t batch[BATCH_FLOWS];
    Zflow__Flow *ptrs[BATCH_FLOWS];
    int n;
    pthread_mutex_t lock;
    sensor_stats_t stats;
};

static char *copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
    return dst;
}

static void copy_bytes(ProtobufCBinaryData *d, uint8_t *buf, size_t cap, ProtobufCBinaryData s)
{
    size_t n = s.len < cap ? s.len : cap;
    if (n)
        memcpy(buf, s.data, n);
    d->data = buf;
    d->len = n;
}

/* Hands a packed batch to ingest, waiting while its queue is full (a file must lose nothing). */
static void push_msg(packet_iface_t *self, uint8_t *buf, size_t len)
{
    local_msg_t *m = malloc(sizeof *m);
    if (!m) {
        free(buf);
        return;
    }
    m->buf = buf;
    m->len = len;
    struct timespec ms = {0, 1000000};
    while (queue_push(self->out, m) != 0)
        nanosleep(&ms, NULL);
}

static void flush_batch(packet_iface_t *self)
{
    if (!self->n)
        return;
    Zflow__Envelope env = ZFLOW__ENVELOPE__INIT;
    Zflow__FlowBatch fb = ZFLOW__FLOW_BATCH__INIT;
    env.schema_version = CODEC_SCHEMA_VERSION;
    env.probe_id = self->probe_id;
    env.run_id = self->run_id;
    env.seq = ++self->seq;
    env.send_time_ns = wall_ns();
    env.payload_case = ZFLOW__ENVELOPE__PAYLOAD_FLOWS;
    env.flows = &fb;
    fb.n_flows = (size_t)self->n;
    fb.flows = self->ptrs;
    size_t len = 0;
    uint8_t *buf = codec_pack(&env, &len);
    if (buf)
        push_msg(self, buf, len);
    self->n = 0;
}

static void on_flow(void *ctx, const flow_t *flow, enum flow_event ev, enum end_reason reason)
{
    packet_iface_t *self = ctx;
    flow_record_fill(&self->rec, flow, ev, reason, sensor_l7(self->sensor),
                     sensor_name(self->sensor));
    const Zflow__Flow *m = &self->rec.msg;
    flow_copy_t *c = &self->batch[self->n];
    c->msg = *m;
    copy_bytes(&c->msg.client_ip, c->cli, 16, m->client_ip);
    copy_bytes(&c->msg.server_ip, c->srv, 16, m->server_ip);
    copy_bytes(&c->msg.client_mac, c->cmac, 6, m->client_mac);
    copy_bytes(&c->msg.server_mac, c->smac, 6, m->server_mac);
    copy_bytes(&c->msg.tunnel_outer_src, c->osrc, 16, m->tunnel_outer_src);
    copy_bytes(&c->msg.tunnel_outer_dst, c->odst, 16, m->tunnel_outer_dst);
    c->msg.l7_master_name = copy_str(c->master, sizeof c->master, m->l7_master_name);
    c->msg.l7_app_name = copy_str(c->app, sizeof c->app, m->l7_app_name);
    c->msg.l7_proto_name = copy_str(c->proto, sizeof c->proto, m->l7_proto_name);
    c->msg.l7_category = copy_str(c->category, sizeof c->category, m->l7_category);
    c->msg.server_name = copy_str(c->server, sizeof c->server, m->server_name);
    c->msg.community_id = copy_str(c->cid, sizeof c->cid, m->community_id);
    c->msg.interface = (char *)sensor_name(self->sensor);
    self->ptrs[self->n] = &c->msg;
    if (++self->n == BATCH_FLOWS)
        flush_batch(self);
}

static void *packet_iface_main(void *arg)
{
    packet_iface_t *self = arg;
    capture_t *cap = sensor_capture(self->sensor);
    int live = capture_is_live(cap);
    uint64_t next = 0;
    while (!*self->stop) {
        int n = sensor_step(self->sensor, 512);
        if (n == -2 || n == -1)
            break;
        uint64_t t = wall_ns();
        if (live && t >= next) {
            sensor_expire(self->sensor, t);
            flush_batch(self); /* low-rate live traffic is applied promptly */
            next = t + 200000000ull;
        }
        if (live && n == 0) {
            struct timespec ms = {0, 5000000};
            nanosleep(&ms, NULL);
        }
        if ((self->seq & 63) == 0) {
            pthread_mutex_lock(&self->lock);
            sensor_get_stats(self->sensor, &self->stats);
            pthread_mutex_unlock(&self->lock);
        }
    }
    sensor_flush(self->sensor);
    flush_batch(self);
    pthread_mutex_lock(&self->lock);
    sensor_get_stats(self->sensor, &self->stats);
    pthread_mutex_unlock(&self->lock);
    push_msg(self, NULL, 0);
    return NULL;
}

packet_iface_t *packet_iface_new(const sensor_config_t *cfg, queue_t *out,
                                 volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    packet_iface_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    self->out = out;
    self->stop = stop;
    self->sensor = sensor_new(cfg, on_flow, self, err, errlen);
    if (!self->sensor)
        goto fail;
    if (!sensor_linktype_supported(self->sensor))
        fprintf(stderr, "zflow-collector: %s: link type %s is not supported; its packets are "
                        "counted, not decoded\n",
                sensor_name(self->sensor), capture_linktype_name(sensor_capture(self->sensor)));
    snprintf(self->probe_id, sizeof self->probe_id, "local:%s", sensor_name(self->sensor));
    if (getrandom(&self->run_id, sizeof self->run_id, 0) != sizeof self->run_id)
        self->run_id = wall_ns();
    if (pthread_create(&self->thread, NULL, packet_iface_main, self) != 0) {
        snprintf(err, errlen, "cannot start the capture thread");
        goto fail;
    }
    self->started = 1;
    return self;
fail:
    packet_iface_destroy(&self);
    return NULL;
}

void packet_iface_destroy(packet_iface_t **pself)
{
    if (!pself || !*pself)
        return;
    packet_iface_t *self = *pself;
    if (self->started)
        pthread_join(self->thread, NULL);
    sensor_destroy(&self->sensor);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *pself = NULL;
}

void packet_iface_get_stats(packet_iface_t *self, sensor_stats_t *out)
{
    pthread_mutex_lock(&self->lock);
    *out = self->stats;
    pthread_mutex_unlock(&self->lock);
}

const char *packet_iface_probe_id(const packet_iface_t *self)
{
    return self->probe_id;
}
