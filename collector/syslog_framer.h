/* syslog_framer: splits a syslog TCP byte stream into messages (RFC 6587: octet counting and
 * LF/NUL-terminated framing), reassembling messages split across reads. */
#ifndef ZFLOW_SYSLOG_FRAMER_H
#define ZFLOW_SYSLOG_FRAMER_H

#include <stddef.h>
#include <stdint.h>

typedef struct syslog_framer syslog_framer_t;

/* Counters a framer adds to (the caller owns and sums them). */
typedef struct syslog_framer_stats {
    uint64_t messages;        /* messages emitted */
    uint64_t oversized;       /* messages longer than max_message, dropped */
    uint64_t bad_octet_count; /* a length prefix that was not "DIGITS SP"; read as a line */
} syslog_framer_stats_t;

/* Called for each complete message: `msg` (framing removed, a trailing CR stripped from
 * LF-terminated lines) is valid only during the call. */
typedef void (*syslog_frame_fn)(void *ctx, const char *msg, size_t len);

/* Creates a framer for one stream; messages longer than max_message (> 0) are dropped. The
 * reassembly buffer grows on demand up to max_message. NULL on failure. */
syslog_framer_t *syslog_framer_new(size_t max_message);
/* Frees the framer; accepts NULL and sets *self to NULL. */
void syslog_framer_destroy(syslog_framer_t **self);

/* Feeds the next `len` bytes of the stream; calls fn for every message they complete and adds
 * to *stats. A frame that starts with a digit is octet-counted (`LEN SP MSG`, LEN up to 9
 * digits), any other is terminated by LF or NUL; empty frames are skipped. */
void syslog_framer_feed(syslog_framer_t *self, const char *data, size_t len,
                        syslog_framer_stats_t *stats, syslog_frame_fn fn, void *ctx);

/* Returns 1 when a message is half received (the stream ended now would lose it), else 0. */
int syslog_framer_partial(const syslog_framer_t *self);

#endif
