/* l7: application protocol detection with nDPI (Debian's libndpi 4.2). */
#ifndef ZFLOW_L7_H
#define ZFLOW_L7_H

#include "flow.h"
#include "packet.h"

#include <stddef.h>
#include <stdint.h>

typedef struct l7 l7_t;

/* Creates a detection module with every protocol enabled. NULL on failure. */
l7_t *l7_new(void);
void l7_destroy(l7_t **self);

/* Feeds one packet of `flow` to nDPI (allocating its per-flow state on first use). When
 * detection completes (protocol known and nothing more to dissect, or the packet budget is
 * spent) stores the result in flow->l7, frees the nDPI state, sets flow->l7_done and
 * returns 1; otherwise returns 0. Returns -1 when the state cannot be allocated (flow->l7_done
 * is then set so the flow is not retried). */
int l7_process(l7_t *self, flow_t *flow, const packet_t *pkt);

/* Ends detection of a flow that is going away: asks nDPI for its best guess, stores it and
 * frees the state. Returns 1 when a result was stored, 0 when detection had already ended. */
int l7_giveup(l7_t *self, flow_t *flow);

/* Frees the nDPI state of a flow without a verdict (flow destruction). */
void l7_release(flow_t *flow);

/* Gives a new flow its (not yet detected) L7 record holding the Community ID, so the flow's
 * events before and after detection share one computation of it. */
void l7_begin(flow_t *flow);

/* Names for the wire record; all return static or module-owned strings, never NULL. */
const char *l7_proto_id_name(l7_t *self, uint16_t id);
const char *l7_category_name(l7_t *self, uint16_t category);
/* nDPI's combined "Master.App" name into buf; returns buf. */
const char *l7_full_name(l7_t *self, uint16_t master, uint16_t app, char *buf, size_t size);

/* Packets given to nDPI, detections finished, and those ended by the packet budget. */
void l7_get_stats(const l7_t *self, uint64_t *packets, uint64_t *done, uint64_t *budget_hits);

/* Bytes of nDPI per-flow state (for memory accounting). */
size_t l7_state_size(void);

#endif
