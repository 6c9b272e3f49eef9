/* cid_index: Community ID -> the probe flows that carry it (active, or ended recently), so an
 * IDS verdict arriving by syslog can be attached to the flow a probe exported. */
#ifndef ZFLOW_CID_INDEX_H
#define ZFLOW_CID_INDEX_H

#include "iface.h"

#include <stdint.h>

#define CID_INDEX_KEEP_ENDED_S 600 /* ended flows stay findable this long */

typedef struct cid_index cid_index_t;

/* What a lookup finds. */
typedef struct cid_match {
    int found;
    const iface_t *iface;        /* lives as long as the collector */
    uint64_t flow_id;
    int ended;
    int64_t ended_s;
} cid_match_t;

/* An index holding at most `cap` flows (the oldest ended ones go first when full). */
cid_index_t *cid_index_new(uint32_t cap);
void cid_index_destroy(cid_index_t **self);

/* A flow with this Community ID exists (again). Thread-safe. */
void cid_index_add(cid_index_t *self, const char *cid, const iface_t *iface, uint64_t flow_id);

/* The flow ended at now_s; it stays findable for CID_INDEX_KEEP_ENDED_S. Thread-safe. */
void cid_index_end(cid_index_t *self, const char *cid, const iface_t *iface, uint64_t flow_id,
                   int64_t now_s);

/* At most 8 flows are kept per Community ID (the oldest ended one makes room).
 * The most recent flow of a probe interface (not a syslog one) with that Community ID; an
 * active flow wins over ended ones. Thread-safe. */
int cid_index_find(cid_index_t *self, const char *cid, int64_t now_s, cid_match_t *out);

/* Flows indexed now, and flows refused or dropped because the index was full. */
void cid_index_stats(cid_index_t *self, uint64_t *entries, uint64_t *full);

#endif
