/* scheduler: the periodic rounds of the interface, network, system and snmp scripts
 * (DESIGN.md: hooks min, 5mins, hour, day aligned to wall-clock boundaries). One thread with its
 * own script engine: it reads the collector's counters (atomics and published snapshots, never
 * the data of another thread), so periodic work never stalls flow ingest. It also owns the SNMP
 * poller's results and the control socket that runs a round on request.
 *
 * Control protocol (ZeroMQ REQ -> REP on --control ENDPOINT, one text frame each way):
 *   "run min" | "run 5mins" | "run hour" | "run day"
 *       runs one round of that granularity now, through the function the timer uses, and
 *       replies {"granularity","when","entities","calls","alerts_triggered","alerts_stored",
 *       "alerts_released","errors","teardowns","duration_ms"} once its alerts are committed.
 *       With SNMP devices and snmp scripts for that granularity, the round first asks the
 *       poller for a fresh poll and waits for it (bounded).
 *   "status"
 *       replies the scheduler's counters (rounds, missed boundaries, lateness per granularity,
 *       tracked engaged alerts, SNMP devices).
 *   anything else: {"error":"..."}. */
#ifndef ZFLOW_SCHEDULER_H
#define ZFLOW_SCHEDULER_H

#include "alert_store.h"
#include "netstats.h"
#include "packet_iface.h"
#include "registry.h"
#include "script_engine.h"
#include "worker.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define SCHEDULER_MAX_SNMP_DEVICES 64

typedef struct scheduler scheduler_t;

/* Everything borrowed must outlive the scheduler. */
typedef struct scheduler_config {
    engine_config_t engine; /* host callbacks and subdir_mask are set by the scheduler */
    registry_t *registry;
    netstats_t *netstats; /* NULL: no local networks */
    alert_store_t *alerts;
    const char *alerts_db; /* path of the store's database (engaged alerts at start) */
    worker_t *const *workers;
    int n_workers;
    packet_iface_t *const *packet_ifaces; /* local packet interfaces (capture counters) */
    int n_packet_ifaces;
    const char *control; /* REP endpoint, or NULL */
    int timer;           /* 1: rounds at the wall-clock boundaries; 0: only on request */
    const char *snmp_devices[SCHEDULER_MAX_SNMP_DEVICES]; /* --snmp-device specs */
    int n_snmp_devices;
    int snmp_interval_s; /* 0 = 60 */
    atomic_int *reload;  /* set (by SIGHUP) to reload the scripts; the scheduler clears
                            it */
} scheduler_config_t;

/* Builds the engine (subdirs interface, network, system, snmp), restores the engaged alerts of
 * periodic scripts from alerts_db, binds the control socket, starts the SNMP poller and the
 * thread. NULL + one line in err on failure (bad endpoint, bad SNMP device, ...). */
scheduler_t *scheduler_new(const scheduler_config_t *cfg, char *err, size_t errlen);

/* Stops the thread (after the round in progress) and the SNMP poller, closes the control
 * socket and the engine. Accepts NULL; sets *self to NULL. Call it before the registry, the
 * workers, the packet interfaces and the alert store go away. */
void scheduler_destroy(scheduler_t **self);

/* Client side of the control protocol: sends `request` to `endpoint` and writes the reply and
 * a newline to `out`. Returns 0 when a reply came that is not an {"error":...}, 1 otherwise
 * (the reason on stderr). Waits at most timeout_ms for the reply. */
int scheduler_request(const char *endpoint, const char *request, int timeout_ms, FILE *out);

#endif
