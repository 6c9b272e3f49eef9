/* flow_record: a cached flow as a wire Flow message (zflow.Flow). */
#ifndef ZFLOW_FLOW_RECORD_H
#define ZFLOW_FLOW_RECORD_H

#include "community_id.h"
#include "flow.h"
#include "l7.h"
#include "zflow.pb-c.h"

/* A Flow message plus the scratch it points into. */
typedef struct flow_record {
    Zflow__Flow msg;
    char community_id[COMMUNITY_ID_LEN];
    char proto_name[64];
} flow_record_t;

/* Writes the flow's Community ID v1 (seed 0) into out (COMMUNITY_ID_LEN bytes); 0 or -1. */
int flow_community_id(const flow_t *flow, char *out);

/* Fills r->msg from `flow` for event `ev` (and `reason` on END). Byte and string fields point
 * into `flow`, `r` or static storage: valid until `flow` changes. `l7` may be NULL. */
void flow_record_fill(flow_record_t *r, const flow_t *flow, enum flow_event ev,
                      enum end_reason reason, l7_t *l7, const char *interface);

#endif
