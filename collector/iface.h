/* iface: a probe interface (one probe's capture interface) or a local packet interface. */
#ifndef ZFLOW_IFACE_H
#define ZFLOW_IFACE_H

#include <stdatomic.h>
#include <stdint.h>

#define IFACE_NAME_MAX 128
#define IFACE_PROBE_ID_MAX 256

/* Counters are written by the owning worker and read by anyone (relaxed atomics). */
typedef struct iface_counters {
    _Atomic uint64_t flows_active;
    _Atomic uint64_t flows_new;
    _Atomic uint64_t flows_ended;
    _Atomic uint64_t flow_events;
    _Atomic uint64_t bytes;        /* sum of flow byte deltas */
    _Atomic uint64_t packets;
    _Atomic uint64_t hook_calls;
} iface_counters_t;

#define IFACE_L7_SLOTS 32

/* Bytes per L7 protocol of an interface. `name` is written once by the owning worker (an
 * interned string that lives as long as the collector) and read by anyone. */
typedef struct iface_l7 {
    _Atomic(const char *) name;
    _Atomic uint64_t bytes;
    _Atomic uint64_t flows;
} iface_l7_t;

typedef struct iface {
    int id;                        /* 1, 2, ... in order of appearance */
    int worker;                    /* index of the worker that owns its flows */
    int is_packet;                 /* 1 = local packet interface, 0 = probe (ZMQ) interface */
    int is_syslog;                 /* flows made by a syslog script (e.g. Suricata Eve) */
    char name[IFACE_NAME_MAX];
    char probe_id[IFACE_PROBE_ID_MAX];
    iface_counters_t c;
    iface_l7_t l7[IFACE_L7_SLOTS];  /* first IFACE_L7_SLOTS protocols seen; the rest in "Other" */
    _Atomic uint64_t l7_other_bytes;
} iface_t;

static inline uint64_t iface_get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static inline void iface_add(_Atomic uint64_t *v, uint64_t d)
{
    atomic_fetch_add_explicit(v, d, memory_order_relaxed);
}

static inline void iface_sub(_Atomic uint64_t *v, uint64_t d)
{
    atomic_fetch_sub_explicit(v, d, memory_order_relaxed);
}

#endif
