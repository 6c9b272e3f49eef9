/* export: ships envelopes to the collector over a ZeroMQ DEALER socket, with batching,
 * acknowledgements, a bounded resend buffer and reconnect back-off. Never blocks the caller. */
#ifndef ZFLOW_EXPORT_H
#define ZFLOW_EXPORT_H

#include "zflow.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef struct export export_t;

typedef struct export_config {
    const char *endpoint;       /* e.g. "tcp://127.0.0.1:5556" */
    const char *probe_id;       /* stable probe id */
    uint64_t run_id;            /* new at every start */
    uint32_t batch_flows;       /* flush a batch at this many flows (default 512, max 65536) */
    uint32_t batch_ms;          /* ... or when the oldest flow in it is this old (default 200) */
    uint32_t max_unacked;       /* resend buffer size in batches (default 4096) */
    uint32_t resend_ms;         /* resend an unacked batch after this long (default 5000) */
    uint64_t max_unacked_bytes; /* ... and in encoded bytes (default 256 MiB) */
} export_config_t;

typedef struct export_stats {
    uint64_t sent_messages;
    uint64_t sent_flows;
    uint64_t acked_batches;
    uint64_t resent_batches;
    uint64_t dropped_batches; /* oldest unacked batch dropped because the buffer was full */
    uint64_t dropped_flows;
    uint64_t unacked_batches; /* current */
    uint64_t reconnects;
    uint64_t bad_acks;       /* malformed messages received from the collector */
    uint64_t rejected_flows; /* flows refused by export_add_flow (failed codec_check_flow) */
} export_stats_t;

/* Creates the socket and connects (connect is asynchronous: no collector needs to be up).
 * Returns NULL with a message on stderr on failure. */
export_t *export_new(const export_config_t *cfg);

/* Flushes nothing; closes the socket with a finite linger (1 s) and frees everything. Accepts
 * NULL and sets *self to NULL. */
void export_destroy(export_t **self);

/* Appends a copy of one flow to the current batch (the caller keeps ownership of *flow; it is
 * encoded at once, so the caller may reuse it). Flushes the batch when full. `now_ns` is the
 * wall clock. Returns 0, or -1 when the flow fails codec_check_flow() (counted in
 * rejected_flows: the collector would reject the whole batch) or memory runs out. */
int export_add_flow(export_t *self, const Zflow__Flow *flow, uint64_t now_ns);

/* Sends a hello / stats envelope right away (they are not batched but are acknowledged
 * and resent like batches). The last hello is kept and sent again, with a new seq, after every
 * reconnect. Returns 0, or -1 if the message would fail the collector's validation. */
int export_send_hello(export_t *self, const Zflow__Hello *hello, uint64_t now_ns);
int export_send_stats(export_t *self, const Zflow__Stats *stats, uint64_t now_ns);

/* Does all pending socket work without blocking: flushes an aged batch, sends what the
 * socket accepts, reads acknowledgements, resends after a reconnect or resend_ms.
 * Call it often (the capture loop calls it every few ms). */
void export_poll(export_t *self, uint64_t now_ns);

/* Closes the current batch (if any) into an envelope and tries to send it. */
void export_flush(export_t *self, uint64_t now_ns);

/* Flushes the current batch, then waits up to timeout_ms for every batch to be acknowledged
 * (used at shutdown). Returns 0 when nothing is left unacknowledged, -1 on timeout. */
int export_drain(export_t *self, int timeout_ms);

/* The ZeroMQ socket, for zmq_poll() in the caller's loop (ZMQ_POLLIN = acks to read). */
void *export_socket(export_t *self);

/* Copies the counters into *out. */
void export_get_stats(const export_t *self, export_stats_t *out);

#endif
