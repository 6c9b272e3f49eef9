/* syslog_framer: RFC 6587 framing of a syslog TCP stream (octet counting, LF/NUL-terminated). */
#include "syslog_framer.h"

#include <stdlib.h>
#include <string.h>

#define FRAMER_LEN_DIGITS 9            /* RFC 6587 MSG-LEN digits accepted */
#define FRAMER_BUF_MIN    1024         /* first reassembly buffer */
#define FRAMER_BUF_KEEP   (16u * 1024) /* larger buffers are freed once their message is out */

typedef enum framer_state {
    FR_START,     /* at a frame boundary */
    FR_LENGTH,    /* reading the MSG-LEN digits of an octet-counted frame */
    FR_BODY,      /* collecting `want` bytes of an octet-counted frame */
    FR_LINE,      /* collecting a line up to LF or NUL */
    FR_SKIP_LINE, /* dropping an oversized line up to LF or NUL */
    FR_SKIP_BODY  /* dropping `want` more bytes of an oversized octet-counted frame */
} framer_state_t;

struct syslog_framer {
    size_t max_message;
    framer_state_t state;
    char *buf; /* reassembly of a message split across feeds; cap grows up to max_message */
    size_t len, cap;
    size_t want;                    /* FR_LENGTH: value so far; FR_BODY/FR_SKIP_BODY: bytes */
    char digits[FRAMER_LEN_DIGITS]; /* FR_LENGTH: digits so far (kept to resync as a line) */
    int ndigits;
};

syslog_framer_t *syslog_framer_new(size_t max_message)
{
    syslog_framer_t *self;

    if (max_message == 0) return NULL;
    self = calloc(1, sizeof *self);
    if (!self) return NULL;
    self->max_message = max_message;
    self->state = FR_START;
    return self;
}

void syslog_framer_destroy(syslog_framer_t **self)
{
    if (!self || !*self) return;
    free((*self)->buf);
    free(*self);
    *self = NULL;
}

int syslog_framer_partial(const syslog_framer_t *self)
{
    return self && (self->state == FR_LENGTH || self->state == FR_BODY ||
                    (self->state == FR_LINE && self->len > 0));
}

/* Appends to the reassembly buffer; -1 when it would pass max_message or memory runs out. */
static int framer_append(syslog_framer_t *self, const char *data, size_t n)
{
    if (n > self->max_message - self->len) return -1;
    if (self->len + n > self->cap) {
        size_t cap = self->cap ? self->cap : FRAMER_BUF_MIN;
        while (cap < self->len + n)
            cap *= 2;
        if (cap > self->max_message) cap = self->max_message;
        char *grown = realloc(self->buf, cap);
        if (!grown) return -1;
        self->buf = grown;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, data, n);
    self->len += n;
    return 0;
}

/* Empties the reassembly buffer, giving a large one back. */
static void framer_clear(syslog_framer_t *self)
{
    self->len = 0;
    if (self->cap > FRAMER_BUF_KEEP) {
        free(self->buf);
        self->buf = NULL;
        self->cap = 0;
    }
}

/* The first LF or NUL in [p, end), or NULL. */
static const char *find_delim(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *nul = memchr(p, '\0', (size_t)((nl ? nl : end) - p));
    return nul ? nul : nl;
}

static void emit(const char *msg, size_t len, syslog_framer_stats_t *stats, syslog_frame_fn fn,
                 void *ctx)
{
    stats->messages++;
    if (fn) fn(ctx, msg, len);
}

/* FR_LINE: consumes up to the end of the line or of the data; returns the new position. */
static const char *feed_line(syslog_framer_t *self, const char *p, const char *end,
                             syslog_framer_stats_t *stats, syslog_frame_fn fn, void *ctx)
{
    const char *d = find_delim(p, end);
    const char *msg;
    size_t n;

    if (!d) {
        if (framer_append(self, p, (size_t)(end - p)) != 0) {
            stats->oversized++;
            framer_clear(self);
            self->state = FR_SKIP_LINE;
        }
        return end;
    }
    n = (size_t)(d - p);
    self->state = FR_START;
    if (self->len == 0) {
        if (n > self->max_message) {
            stats->oversized++;
            return d + 1;
        }
        msg = p;
    } else {
        if (framer_append(self, p, n) != 0) {
            stats->oversized++;
            framer_clear(self);
            return d + 1;
        }
        msg = self->buf;
        n = self->len;
    }
    if (n > 0 && msg[n - 1] == '\r') n--;
    if (n > 0) emit(msg, n, stats, fn, ctx);
    framer_clear(self);
    return d + 1;
}

/* FR_LENGTH: one byte where a MSG-LEN digit or its SP is expected; returns the new position. */
static const char *feed_length(syslog_framer_t *self, const char *p, syslog_framer_stats_t *stats)
{
    if (*p >= '0' && *p <= '9' && self->ndigits < FRAMER_LEN_DIGITS) {
        self->digits[self->ndigits++] = *p;
        self->want = self->want * 10 + (size_t)(*p - '0');
        return p + 1;
    }
    if (*p == ' ') {
        if (self->want > self->max_message) {
            stats->oversized++;
            self->state = FR_SKIP_BODY;
        } else {
            self->state = self->want ? FR_BODY : FR_START;
        }
        self->len = 0;
        return p + 1;
    }
    /* not "DIGITS SP": resync as an LF-terminated line that starts with those digits */
    stats->bad_octet_count++;
    self->state = FR_LINE;
    if (framer_append(self, self->digits, (size_t)self->ndigits) != 0) {
        stats->oversized++;
        framer_clear(self);
        self->state = FR_SKIP_LINE;
    }
    return p; /* this byte belongs to the line */
}

/* FR_BODY: collects the octet-counted message; returns the new position. */
static const char *feed_body(syslog_framer_t *self, const char *p, const char *end,
                             syslog_framer_stats_t *stats, syslog_frame_fn fn, void *ctx)
{
    size_t avail = (size_t)(end - p), take;

    if (self->len == 0 && avail >= self->want) {
        emit(p, self->want, stats, fn, ctx);
        self->state = FR_START;
        return p + self->want;
    }
    take = self->want - self->len;
    if (take > avail) take = avail;
    if (framer_append(self, p, take) != 0) {
        stats->oversized++;
        self->want -= self->len;
        framer_clear(self);
        self->state = FR_SKIP_BODY;
        return p; /* skip from here */
    }
    if (self->len == self->want) {
        emit(self->buf, self->len, stats, fn, ctx);
        framer_clear(self);
        self->state = FR_START;
    }
    return p + take;
}

void syslog_framer_feed(syslog_framer_t *self, const char *data, size_t len,
                        syslog_framer_stats_t *stats, syslog_frame_fn fn, void *ctx)
{
    const char *p = data, *end = data + len, *d;
    size_t take;

    if (!self || !data || !stats) return;
    while (p < end) {
        switch (self->state) {
        case FR_START:
            if (*p == '\n' || *p == '\0') {
                p++; /* empty frame */
            } else if (*p >= '0' && *p <= '9') {
                self->state = FR_LENGTH;
                self->want = 0;
                self->ndigits = 0;
            } else {
                self->state = FR_LINE;
            }
            break;
        case FR_LENGTH:
            p = feed_length(self, p, stats);
            break;
        case FR_BODY:
            p = feed_body(self, p, end, stats, fn, ctx);
            break;
        case FR_LINE:
            p = feed_line(self, p, end, stats, fn, ctx);
            break;
        case FR_SKIP_LINE:
            d = find_delim(p, end);
            if (d) self->state = FR_START;
            p = d ? d + 1 : end;
            break;
        case FR_SKIP_BODY:
            take = (size_t)(end - p);
            if (take > self->want) take = self->want;
            self->want -= take;
            p += take;
            if (self->want == 0) self->state = FR_START;
            break;
        }
    }
}
