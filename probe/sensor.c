/* sensor: one capture source wired to the decoder, the flow cache and nDPI. */
#include "sensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPIRE_EVERY_NS 1000000000ull /* idle scan at most once per second of packet time */

struct sensor {
    capture_t *cap;
    flow_cache_t *cache;
    l7_t *l7;
    int linktype;
    uint64_t last_expire_ns;
    char name[256];
    uint64_t packets, bytes, decoded;
    decode_stats_t reasons;
};

void sensor_config_default(sensor_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->capture.snaplen = 65535;
    cfg->capture.promisc = 1;
    cfg->capture.timeout_ms = 100;
    cfg->capture.immediate = 1;
    flow_cache_config_default(&cfg->cache);
    cfg->l7_enabled = 1;
}

sensor_t *sensor_new(const sensor_config_t *cfg, flow_emit_fn emit, void *ctx, char *err,
                     size_t errlen)
{
    sensor_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->cap = capture_open(&cfg->capture, err, errlen);
    if (!self->cap)
        goto fail;
    self->linktype = capture_linktype(self->cap);
    if (cfg->l7_enabled) {
        self->l7 = l7_new();
        if (!self->l7) {
            snprintf(err, errlen, "cannot initialise nDPI");
            goto fail;
        }
    }
    self->cache = flow_cache_new(&cfg->cache, self->l7, emit, ctx);
    if (!self->cache) {
        snprintf(err, errlen, "cannot allocate the flow cache");
        goto fail;
    }
    const char *name = cfg->name;
    if (!name)
        name = cfg->capture.interface;
    if (!name && cfg->capture.file) {
        const char *slash = strrchr(cfg->capture.file, '/');
        name = slash ? slash + 1 : cfg->capture.file;
    }
    snprintf(self->name, sizeof self->name, "%s", name ? name : "");
    return self;
fail:
    sensor_destroy(&self);
    return NULL;
}

void sensor_destroy(sensor_t **pself)
{
    if (!pself || !*pself)
        return;
    sensor_t *self = *pself;
    flow_cache_destroy(&self->cache);
    l7_destroy(&self->l7);
    capture_close(&self->cap);
    free(self);
    *pself = NULL;
}

static void sensor_on_packet(void *ctx, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                             uint32_t wire_len)
{
    sensor_t *self = ctx;
    packet_t pkt;
    self->packets++;
    self->bytes += wire_len;
    if (decode_packet(self->linktype, data, caplen, wire_len, &pkt, &self->reasons) !=
        DECODE_OK)
        return;
    self->decoded++;
    pkt.ts_ns = ts_ns;
    flow_cache_process(self->cache, &pkt);
}

int sensor_step(sensor_t *self, int max)
{
    int n = capture_dispatch(self->cap, max, sensor_on_packet, self);
    if (!capture_is_live(self->cap)) {
        uint64_t clock = flow_cache_clock(self->cache);
        if (clock >= self->last_expire_ns + EXPIRE_EVERY_NS || clock < self->last_expire_ns) {
            flow_cache_expire(self->cache, clock);
            self->last_expire_ns = clock;
        }
    }
    return n;
}

void sensor_expire(sensor_t *self, uint64_t now_ns)
{
    flow_cache_expire(self->cache, now_ns);
    self->last_expire_ns = now_ns;
}

void sensor_flush(sensor_t *self)
{
    flow_cache_flush(self->cache, END_SHUTDOWN);
}

void sensor_get_stats(sensor_t *self, sensor_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->packets = self->packets;
    out->bytes = self->bytes;
    out->decoded = self->decoded;
    out->reasons = self->reasons;
    out->not_ip = self->reasons.reasons[DR_NOT_IP];
    for (int i = 1; i < DR_COUNT; i++)
        if (i != DR_NOT_IP)
            out->decode_errors += self->reasons.reasons[i];
    capture_stats(self->cap, &out->pcap_recv, &out->pcap_drop, &out->pcap_ifdrop);
    flow_cache_get_stats(self->cache, &out->cache);
}

const char *sensor_name(const sensor_t *self)
{
    return self->name;
}

capture_t *sensor_capture(sensor_t *self)
{
    return self->cap;
}

l7_t *sensor_l7(sensor_t *self)
{
    return self->l7;
}

int sensor_linktype_supported(const sensor_t *self)
{
    return decode_linktype_supported(self->linktype);
}
