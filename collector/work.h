/* work: the messages the ingest thread sends to workers, and what comes back. */
#ifndef ZFLOW_WORK_H
#define ZFLOW_WORK_H

#include "codec.h"
#include "iface.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* One received flow batch. Shared by the work items made from it; the last worker to finish
 * hands it back to ingest (completion queue), which acknowledges it and frees it. */
typedef struct batch {
    codec_msg_t *msg;            /* owned (codec_msg_destroy) */
    Zflow__Envelope *env;        /* codec_msg_env(msg) */
    atomic_int refs;             /* work items not finished yet */
    uint8_t routing_id[256];     /* the probe's ZeroMQ routing id, for the ack */
    size_t routing_len;
    int socket_index;            /* which listening socket it came in on; -1 = local */
    struct probe_run *run;       /* ingest-side sequence tracking */
    uint64_t run_id, seq;
    uint64_t alert_mark;         /* alert store operations to be on disk before the ack */
    struct batch *next_ack;      /* ingest's queue of batches waiting for that */
} batch_t;

typedef enum work_kind {
    WORK_FLOWS = 1,              /* flows[i] belongs to ifaces[i] */
    WORK_IFACE_END,              /* end every flow of iface with `reason` */
    WORK_RELOAD,                 /* reload scripts and configuration */
    WORK_BARRIER,                /* reply when everything before it is done */
} work_kind_t;

typedef struct work {
    work_kind_t kind;
    batch_t *batch;              /* WORK_FLOWS */
    uint32_t n;
    Zflow__Flow **flows;         /* borrowed from batch->env */
    iface_t **ifaces;
    iface_t *iface;              /* WORK_IFACE_END */
    int reason;                  /* zflow.EndReason for WORK_IFACE_END */
    atomic_int *barrier;         /* WORK_BARRIER: decremented when reached */
} work_t;

/* Frees a work item (not the batch). */
void work_free(work_t *w);

#endif
