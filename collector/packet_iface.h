/* packet_iface: a local packet interface (-i IFACE or --pcap FILE): the probe library runs in
 * a thread of the collector and its flow events enter ingest like a probe's, marked local. */
#ifndef ZFLOW_PACKET_IFACE_H
#define ZFLOW_PACKET_IFACE_H

#include "queue.h"
#include "sensor.h"

#include <signal.h>

typedef struct packet_iface packet_iface_t;

/* Opens the capture and starts the thread; its envelopes go to `out` (local_msg_t items; a
 * last item with buf == NULL says it finished). NULL + err on failure. */
packet_iface_t *packet_iface_new(const sensor_config_t *cfg, queue_t *out,
                                 volatile sig_atomic_t *stop, char *err, size_t errlen);

/* Joins the thread (it stops at the end of a file, or when *stop is set) and frees it. */
void packet_iface_destroy(packet_iface_t **self);

/* Packets and flows seen so far (valid after the thread ended, or approximate before). */
void packet_iface_get_stats(packet_iface_t *self, sensor_stats_t *out);

/* The probe id its flows carry ("local:<interface name>"); lives as long as the interface. */
const char *packet_iface_probe_id(const packet_iface_t *self);

#endif
