/* sensor: one capture source wired to the decoder, the flow cache and nDPI. The probe program
 * and the collector's local packet interfaces both drive their capture through it. */
#ifndef ZFLOW_SENSOR_H
#define ZFLOW_SENSOR_H

#include "capture.h"
#include "decode.h"
#include "flow_cache.h"
#include "l7.h"

#include <stdint.h>

typedef struct sensor sensor_t;

typedef struct sensor_config {
    capture_config_t capture;
    flow_cache_config_t cache;
    int l7_enabled;
    const char *name;        /* interface name reported in flows (default: iface or file name) */
} sensor_config_t;

typedef struct sensor_stats {
    uint64_t packets;        /* frames read */
    uint64_t bytes;          /* frame bytes read (wire length) */
    uint64_t decoded;        /* frames that became flow packets */
    uint64_t not_ip;
    uint64_t decode_errors;  /* sum of the error reasons (not_ip excluded) */
    uint64_t pcap_recv, pcap_drop, pcap_ifdrop;
    flow_cache_stats_t cache;
    decode_stats_t reasons;
} sensor_stats_t;

/* Fills the defaults (snaplen 65535, promiscuous, immediate, 100 ms timeout, L7 on). */
void sensor_config_default(sensor_config_t *cfg);

/* Opens the capture and builds the pipeline. On failure returns NULL with one line in err. */
sensor_t *sensor_new(const sensor_config_t *cfg, flow_emit_fn emit, void *ctx, char *err,
                     size_t errlen);
void sensor_destroy(sensor_t **self);

/* Reads up to `max` packets. Returns the number read, 0 when none was ready (live), -2 at the
 * end of a file, -1 on a capture error. Ends idle flows as the packet clock moves. */
int sensor_step(sensor_t *self, int max);

/* Live sources: ends idle flows against the wall clock now_ns. */
void sensor_expire(sensor_t *self, uint64_t now_ns);

/* Ends every flow (END_SHUTDOWN, or the TCP reason for closing flows). */
void sensor_flush(sensor_t *self);

void sensor_get_stats(sensor_t *self, sensor_stats_t *out);

const char *sensor_name(const sensor_t *self);
capture_t *sensor_capture(sensor_t *self);
l7_t *sensor_l7(sensor_t *self);
int sensor_linktype_supported(const sensor_t *self);

#endif
