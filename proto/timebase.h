/* timebase: the two clocks of zflow. Wall time (ns since the Unix epoch) is what envelopes,
 * flows and alerts carry; monotonic time (ms) measures timeouts and intervals, unaffected by
 * clock steps. */
#ifndef ZFLOW_TIMEBASE_H
#define ZFLOW_TIMEBASE_H

#include <stdint.h>
#include <time.h>

static inline uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

#endif
