/* periodic_alerts: the engaged alerts raised by periodic scripts (interface, network, system,
 * snmp), with the granularities that keep them engaged, for the scheduler's auto-release
 * ("an alert engaged in one round and not triggered again in the next round of that
 * granularity is released") and for params.cur_alerts. The granularity of an alert survives a
 * restart as "granularity" in its JSON details in alerts.db. Owned by one thread. */
#ifndef ZFLOW_PERIODIC_ALERTS_H
#define ZFLOW_PERIODIC_ALERTS_H

#include "alert.h"
#include "round_timer.h"

#include <stddef.h>
#include <stdint.h>

typedef struct periodic_alerts periodic_alerts_t;

/* One tracked alert. Strings live as long as the entry. */
typedef struct periodic_alert {
    const char *entity, *entity_value, *alert_type, *script_key; /* the engaged-alert key */
    const char *subdir;
    const char *source;              /* the entity the round was iterating when it was triggered,
                                        "<subdir>|<entity_value>" (see periodic_alerts_source) */
    unsigned gran_mask;              /* bit per granularity whose rounds keep it engaged */
    uint64_t last_round[GRAN_COUNT]; /* round number of its latest trigger, per granularity */
    int64_t tstamp, last_seen;       /* first and latest trigger, seconds */
    int severity, score;
    const char *message; /* of the latest trigger */
} periodic_alert_t;

/* At most `cap` alerts (0 = 65536). NULL on failure. */
periodic_alerts_t *periodic_alerts_new(size_t cap);
void periodic_alerts_destroy(periodic_alerts_t **self);

/* Records an engaged trigger of `a` (its key, subdir, severity, score, message, tstamp) in
 * round `round` of `g`, while the round iterated `source`. Returns 0, or -1 when the table is
 * full and the alert is new (counted in refused). */
int periodic_alerts_trigger(periodic_alerts_t *self, const alert_t *a, granularity_t g,
                            uint64_t round, const char *source);

/* Stops tracking an alert (a script released it). */
void periodic_alerts_forget(periodic_alerts_t *self, const char *entity, const char *value,
                            const char *type, const char *script_key);

/* Calls fn for every alert triggered while iterating `source` (in no particular order). */
void periodic_alerts_each_of(periodic_alerts_t *self, const char *source,
                             void (*fn)(void *ctx, const periodic_alert_t *a), void *ctx);

/* Counts every alert of `source` that `g` keeps engaged as triggered in round `round` (their
 * state is kept when a round has no new data about that entity). */
void periodic_alerts_touch(periodic_alerts_t *self, const char *source, granularity_t g,
                           uint64_t round);

/* Ends round `round` of `g`: every alert that g keeps engaged and that was not triggered in
 * this round loses g; an alert left without granularity is passed to `release` and
 * forgotten. Returns the number released. */
int periodic_alerts_end_round(periodic_alerts_t *self, granularity_t g, uint64_t round,
                              void (*release)(void *ctx, const periodic_alert_t *a), void *ctx);

size_t periodic_alerts_count(const periodic_alerts_t *self);
uint64_t periodic_alerts_refused(const periodic_alerts_t *self);

/* Loads the engaged alerts of the periodic subdirs from the database at db_path (opened
 * read-only; a missing file loads nothing). Their granularity comes from
 * json_extract(json, '$.granularity'); when that is missing or unknown, mask_of(ctx, subdir,
 * script_key) gives the granularities (0 = every one). Their source is
 * "<subdir>|<entity_value>". Returns the number loaded, or -1 with err. */
int periodic_alerts_load(periodic_alerts_t *self, const char *db_path,
                         unsigned (*mask_of)(void *ctx, const char *subdir, const char *script_key),
                         void *ctx, char *err, size_t errlen);

/* The JSON details text with "granularity":"<g>" as first member when `json` is an object
 * ("{...}" after white space), else a copy. Returns malloc'd text, NULL when out of memory. */
char *periodic_alerts_tag_json(const char *json, const char *granularity);

/* Writes "<subdir>|<entity_value>" into buf (truncated to len). */
void periodic_alerts_source(char *buf, size_t len, const char *subdir, const char *entity_value);

#endif
