/* alert_store: alerts in SQLite (WAL) at <data-dir>/alerts.db, written by one writer thread. */
#ifndef ZFLOW_ALERT_STORE_H
#define ZFLOW_ALERT_STORE_H

#include "alert.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct alert_store alert_store_t;

typedef struct alert_store_stats {
    uint64_t submitted;       /* accepted into the queue */
    uint64_t stored;          /* new rows committed (durable against kill -9); re-triggers
                                 count in `updated` */
    uint64_t released;        /* engaged alerts released (committed) */
    uint64_t updated;         /* re-triggers of an engaged alert (last_seen refreshed) */
    uint64_t dropped;         /* queue full (or alert over 1 MiB, or too many engaged): not
                                 stored */
    uint64_t failed;          /* accepted but lost to a SQLite error: not stored */
    uint64_t errors;          /* SQLite errors */
    uint64_t queue_depth;     /* current */
} alert_store_stats_t;

/* Opens (creating if needed) the database at `path` in WAL mode, creates the schema and
 * starts the writer thread. `queue_cap` bounds pending alerts (0 = 65536). NULL + one line in
 * err on failure. */
alert_store_t *alert_store_open(const char *path, size_t queue_cap, char *err, size_t errlen);

/* Commits what is queued, stops the writer and closes the database. No other thread may use
 * the store any more. */
void alert_store_close(alert_store_t **self);

/* Queues an alert (strings are copied). ALERT_ONESHOT: stored as a new row. ALERT_ENGAGED:
 * stored as a new engaged row unless the same (entity, entity_value, alert_type, script_key)
 * is already engaged, in which case its last_seen, severity, score, message and json are
 * refreshed. Thread-safe, never blocks; returns 0, or -1 when the queue is full (counted). */
int alert_store_submit(alert_store_t *self, const alert_t *alert);

/* Queues the alerts raised while applying one flow batch and, when probe_id is not NULL, the
 * batch's "applied" mark (probe_id, run_id, seq) as one group: they are committed in the same
 * transaction, so after a crash a batch is either applied with its alerts on disk, or neither
 * (the collector then applies the probe's resend). All or nothing is queued: -1 when the queue
 * has no room for the group (its alerts count as dropped). */
int alert_store_submit_group(alert_store_t *self, const alert_t *alerts, size_t n,
                             const char *probe_id, uint64_t run_id, uint64_t seq);

/* Calls fn for every applied mark of the last hour in the database at `path` (opened
 * read-only), per probe in time order; 0, or -1 when the database cannot be read. */
int alert_store_load_applied(const char *path,
                             void (*fn)(void *ctx, const char *probe_id, uint64_t run_id,
                                        uint64_t seq),
                             void *ctx);

/* Queues the release of an engaged alert (no-op if not engaged). Thread-safe; 0 or -1. */
int alert_store_release(alert_store_t *self, const char *entity, const char *entity_value,
                        const char *alert_type, const char *script_key, int64_t tstamp);

/* 1 when that alert is currently engaged (including engagements queued but not yet committed). */
int alert_store_is_engaged(alert_store_t *self, const char *entity, const char *entity_value,
                           const char *alert_type, const char *script_key);

/* Waits until everything queued before the call is committed (or failed, see stats.failed).
 * A negative timeout_ms waits without limit. 0, or -1 on timeout. */
int alert_store_sync(alert_store_t *self, int timeout_ms);

/* Operations (alerts, releases) queued so far, and those the writer has finished (committed or
 * failed). Once done >= a mark taken earlier, everything queued before the mark is on disk:
 * the collector acknowledges a flow batch only then, so a kill -9 loses no alert of an
 * acknowledged batch. Thread-safe. */
uint64_t alert_store_mark(alert_store_t *self);
uint64_t alert_store_done(alert_store_t *self);

void alert_store_get_stats(alert_store_t *self, alert_store_stats_t *out);

/* Prints the newest `limit` alerts of the database at `path` (opened read-only), newest first,
 * as a table or as JSON lines. Optional filters may be NULL. Returns 0 or -1 (message on
 * stderr). */
int alert_store_print(const char *path, int limit, int json, const char *entity,
                      const char *script_key, FILE *out);

#endif
