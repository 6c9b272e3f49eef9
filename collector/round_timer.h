/* round_timer: when the periodic rounds (min, 5mins, hour, day) are due: wall-clock
 * boundaries in UTC, one late round for any number of boundaries missed. Pure arithmetic on
 * the clock it is given, so tests drive it with any time. */
#ifndef ZFLOW_ROUND_TIMER_H
#define ZFLOW_ROUND_TIMER_H

#include <stdint.h>

typedef enum granularity {
    GRAN_MIN = 0,
    GRAN_5MINS,
    GRAN_HOUR,
    GRAN_DAY,
    GRAN_COUNT
} granularity_t;

/* "min", "5mins", "hour", "day" (the hook names); NULL when out of range. */
const char *granularity_name(granularity_t g);

/* The granularity named `name`, or -1. */
int granularity_parse(const char *name);

/* 60, 300, 3600, 86400. */
int64_t granularity_period_s(granularity_t g);

/* The first boundary of `g` strictly after t_ms (milliseconds since the epoch, UTC). */
int64_t granularity_next_boundary_ms(granularity_t g, int64_t t_ms);

typedef struct round_timer {
    int64_t next_due_ms[GRAN_COUNT]; /* the boundary each granularity waits for */
} round_timer_t;

/* One round to run now. */
typedef struct round_due {
    granularity_t g;
    int64_t due_ms;  /* the boundary it was due at (the first one passed) */
    int64_t late_ms; /* now - due_ms */
    uint64_t missed; /* later boundaries also passed: they get no round of
                        their own */
} round_due_t;

/* Arms every granularity for its next boundary after now_ms. */
void round_timer_init(round_timer_t *self, int64_t now_ms);

/* The earliest boundary any granularity waits for. */
int64_t round_timer_next_ms(const round_timer_t *self);

/* The rounds due at now_ms, at most one per granularity, in the order min, 5mins, hour, day;
 * returns how many were written to out (GRAN_COUNT entries) and re-arms them for the first
 * boundary after now_ms. When the clock went back by more than a period, that granularity is
 * re-armed from now_ms without a round. */
int round_timer_take(round_timer_t *self, int64_t now_ms, round_due_t *out);

#endif
