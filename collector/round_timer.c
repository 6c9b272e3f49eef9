/* round_timer: wall-clock aligned due times of the periodic rounds. */
#include "round_timer.h"

#include <string.h>

static const char *const names[GRAN_COUNT] = {"min", "5mins", "hour", "day"};
static const int64_t periods[GRAN_COUNT] = {60, 300, 3600, 86400};

const char *granularity_name(granularity_t g)
{
    return (unsigned)g < GRAN_COUNT ? names[g] : NULL;
}

int granularity_parse(const char *name)
{
    for (int g = 0; name && g < GRAN_COUNT; g++)
        if (strcmp(name, names[g]) == 0) return g;
    return -1;
}

int64_t granularity_period_s(granularity_t g)
{
    return (unsigned)g < GRAN_COUNT ? periods[g] : 0;
}

/* Floor division: boundaries before 1970 are not expected, but stay correct. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t granularity_next_boundary_ms(granularity_t g, int64_t t_ms)
{
    int64_t p = granularity_period_s(g) * 1000;
    return (floor_div(t_ms, p) + 1) * p;
}

void round_timer_init(round_timer_t *self, int64_t now_ms)
{
    for (int g = 0; g < GRAN_COUNT; g++)
        self->next_due_ms[g] = granularity_next_boundary_ms((granularity_t)g, now_ms);
}

int64_t round_timer_next_ms(const round_timer_t *self)
{
    int64_t t = self->next_due_ms[0];
    for (int g = 1; g < GRAN_COUNT; g++)
        if (self->next_due_ms[g] < t) t = self->next_due_ms[g];
    return t;
}

int round_timer_take(round_timer_t *self, int64_t now_ms, round_due_t *out)
{
    int n = 0;
    for (int g = 0; g < GRAN_COUNT; g++) {
        int64_t p = granularity_period_s((granularity_t)g) * 1000;
        int64_t due = self->next_due_ms[g];
        if (due - now_ms > p) { /* the clock went back: wait for the next boundary again */
            self->next_due_ms[g] = granularity_next_boundary_ms((granularity_t)g, now_ms);
            continue;
        }
        if (now_ms < due) continue;
        /* one late round stands for every boundary passed since `due` */
        uint64_t skipped = (uint64_t)((now_ms - due) / p);
        out[n].g = (granularity_t)g;
        out[n].due_ms = due;
        out[n].late_ms = now_ms - due;
        out[n].missed = skipped;
        n++;
        self->next_due_ms[g] = due + (int64_t)(skipped + 1) * p;
    }
    return n;
}
