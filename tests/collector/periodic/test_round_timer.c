/* test_round_timer: wall-clock alignment of the periodic rounds (UTC boundaries), their
 * order, one late round for any number of missed boundaries, and a clock that goes back. */
#include "check.h"
#include "round_timer.h"

#include <stdint.h>

#define MIN_MS 60000LL
#define DAY_MS 86400000LL

/* 2024-03-10 13:37:42.250 UTC */
static const int64_t T0 = 1710077862250LL;

static void test_names(void)
{
    CHECK_STREQ(granularity_name(GRAN_MIN), "min");
    CHECK_STREQ(granularity_name(GRAN_5MINS), "5mins");
    CHECK_STREQ(granularity_name(GRAN_HOUR), "hour");
    CHECK_STREQ(granularity_name(GRAN_DAY), "day");
    CHECK(granularity_name(GRAN_COUNT) == NULL);
    CHECK_EQ(granularity_parse("5mins"), GRAN_5MINS);
    CHECK_EQ(granularity_parse("day"), GRAN_DAY);
    CHECK_EQ(granularity_parse("week"), -1);
    CHECK_EQ(granularity_parse(NULL), -1);
}

static void test_boundaries(void)
{
    CHECK_EQ(granularity_next_boundary_ms(GRAN_MIN, T0), 1710077880000LL);   /* 13:38:00 */
    CHECK_EQ(granularity_next_boundary_ms(GRAN_5MINS, T0), 1710078000000LL); /* 13:40:00 */
    CHECK_EQ(granularity_next_boundary_ms(GRAN_HOUR, T0), 1710079200000LL);  /* 14:00:00 */
    CHECK_EQ(granularity_next_boundary_ms(GRAN_DAY, T0), 1710115200000LL);   /* 03-11 00:00 */
    /* exactly on a boundary: the next one */
    CHECK_EQ(granularity_next_boundary_ms(GRAN_MIN, 1710077880000LL), 1710077940000LL);
    CHECK_EQ(granularity_next_boundary_ms(GRAN_DAY, 1710115200000LL), 1710115200000LL + DAY_MS);
}

static void test_take(void)
{
    round_timer_t t;
    round_due_t d[GRAN_COUNT];
    round_timer_init(&t, T0);
    CHECK_EQ(round_timer_next_ms(&t), 1710077880000LL);
    CHECK_EQ(round_timer_take(&t, 1710077879999LL, d), 0);

    /* 13:38:00.010: the minute round, 10 ms late */
    CHECK_EQ(round_timer_take(&t, 1710077880010LL, d), 1);
    CHECK_EQ(d[0].g, GRAN_MIN);
    CHECK_EQ(d[0].due_ms, 1710077880000LL);
    CHECK_EQ(d[0].late_ms, 10);
    CHECK_EQ(d[0].missed, 0);
    CHECK_EQ(round_timer_take(&t, 1710077880020LL, d), 0); /* once */
    CHECK_EQ(round_timer_next_ms(&t), 1710077940000LL);

    /* 14:00:00: min, 5mins and hour at once, in that order */
    int n = round_timer_take(&t, 1710079200000LL, d);
    CHECK_EQ(n, 3);
    CHECK_EQ(d[0].g, GRAN_MIN);
    CHECK_EQ(d[1].g, GRAN_5MINS);
    CHECK_EQ(d[2].g, GRAN_HOUR);
    /* the minute round was due at 13:39 and 21 later boundaries passed: one round, late */
    CHECK_EQ(d[0].due_ms, 1710077940000LL);
    CHECK_EQ(d[0].missed, 21);
    CHECK_EQ(d[0].late_ms, 21 * MIN_MS);
    CHECK_EQ(d[1].due_ms, 1710078000000LL); /* 13:40 */
    CHECK_EQ(d[1].missed, 4);               /* 13:45, 13:50, 13:55, 14:00 */
    CHECK_EQ(d[2].due_ms, 1710079200000LL);
    CHECK_EQ(d[2].missed, 0);
    CHECK_EQ(d[2].late_ms, 0);
    /* re-armed after now, aligned */
    CHECK_EQ(t.next_due_ms[GRAN_MIN], 1710079260000LL);
    CHECK_EQ(t.next_due_ms[GRAN_5MINS], 1710079500000LL);
    CHECK_EQ(t.next_due_ms[GRAN_HOUR], 1710082800000LL);
    CHECK_EQ(t.next_due_ms[GRAN_DAY], 1710115200000LL);

    /* a busy collector that comes back 2.5 days later: one round per granularity */
    n = round_timer_take(&t, 1710115200000LL + 2 * DAY_MS + DAY_MS / 2, d);
    CHECK_EQ(n, 4);
    CHECK_EQ(d[3].g, GRAN_DAY);
    CHECK_EQ(d[3].due_ms, 1710115200000LL);
    CHECK_EQ(d[3].missed, 2);
    CHECK_EQ(round_timer_take(&t, 1710115200000LL + 2 * DAY_MS + DAY_MS / 2 + 1, d), 0);
    CHECK_EQ(t.next_due_ms[GRAN_DAY], 1710115200000LL + 3 * DAY_MS);
}

static void test_clock_back(void)
{
    round_timer_t t;
    round_due_t d[GRAN_COUNT];
    round_timer_init(&t, T0);
    /* the clock steps back 10 minutes: no round, re-armed from the new time */
    int64_t back = T0 - 10 * MIN_MS;
    CHECK_EQ(round_timer_take(&t, back, d), 0);
    CHECK_EQ(t.next_due_ms[GRAN_MIN], granularity_next_boundary_ms(GRAN_MIN, back));
    CHECK_EQ(t.next_due_ms[GRAN_5MINS], granularity_next_boundary_ms(GRAN_5MINS, back));
    /* a step back shorter than the period changes nothing */
    CHECK_EQ(t.next_due_ms[GRAN_HOUR], granularity_next_boundary_ms(GRAN_HOUR, T0));
}

int main(void)
{
    test_names();
    test_boundaries();
    test_take();
    test_clock_back();
    return check_report();
}
