/* syslog_listener: a thread owning the collector's syslog UDP and TCP sockets (IPv4 and IPv6);
 * frames (RFC 6587), parses (syslog_parse) and hands every message to a callback. */
#ifndef ZFLOW_SYSLOG_LISTENER_H
#define ZFLOW_SYSLOG_LISTENER_H

#include "syslog_parse.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SYSLOG_LISTENER_MAX_ENDPOINTS 16

typedef struct syslog_listener syslog_listener_t;

/* Called on the listener thread for every message: `raw` is the framed message bytes (valid
 * only during the call), msg its parse (NULL when syslog_parse failed — still delivered so the
 * dispatcher can count it per source), from the sender address. */
typedef void (*syslog_deliver_fn)(void *ctx, const char *raw, size_t len, const syslog_msg_t *msg,
                                  const struct sockaddr_storage *from, int is_tcp);

/* Called on the listener thread after each round of reads (one wake-up of its loop): the
 * messages delivered since the previous call may now be handed on together. */
typedef void (*syslog_flush_fn)(void *ctx);

typedef struct syslog_listener_config {
    /* "udp://HOST:PORT", "tcp://HOST:PORT", "tcp://[::]:PORT" (HOST: a literal or a name) */
    const char *endpoints[SYSLOG_LISTENER_MAX_ENDPOINTS];
    int n_endpoints;
    /* 0 = default 65536 (at most 16 MiB). Longer: TCP lines are dropped up to the next LF and
     * octet-counted frames skipped (`oversized`); UDP datagrams are cut to it and still
     * delivered (`truncated_udp`). */
    size_t max_message;
    int max_clients;    /* 0 = default 1024; beyond: accepted and closed at once (tcp_refused) */
    int idle_timeout_s; /* 0 = default 300: TCP clients silent that long are closed */
    syslog_deliver_fn deliver;
    syslog_flush_fn flush; /* optional */
    void *ctx;
} syslog_listener_config_t;

typedef struct syslog_listener_stats {
    uint64_t udp_messages, tcp_messages, bytes; /* messages framed, their bytes */
    uint64_t parsed, malformed;                 /* syslog_parse() 0 / -1 */
    uint64_t oversized;                         /* TCP messages over max_message, dropped */
    uint64_t truncated_udp;                     /* UDP datagrams over max_message, cut */
    uint64_t tcp_clients;                       /* connected right now */
    uint64_t tcp_accepted, tcp_refused;         /* refused: over max_clients or out of fds */
    uint64_t tcp_idle_closed;                   /* closed after idle_timeout_s of silence */
    uint64_t tcp_partial_at_close;              /* half-sent frames dropped when a client closed */
    uint64_t bad_octet_count;                   /* bad RFC 6587 length, read as a line instead */
    uint64_t udp_kernel_drops;                  /* datagrams the kernel dropped (SO_RXQ_OVFL) */
} syslog_listener_stats_t;

/* Binds every endpoint and starts the thread, which owns the sockets from then on. NULL on
 * failure with one line in err (bad endpoint syntax, address in use, ...). The config is
 * copied; the endpoint strings are not kept. */
syslog_listener_t *syslog_listener_new(const syslog_listener_config_t *cfg, char *err,
                                       size_t errlen);
/* Stops and joins the thread, closes every socket, frees; accepts NULL, sets *self to NULL. */
void syslog_listener_destroy(syslog_listener_t **self);
/* Copies the counters; callable from any thread. */
void syslog_listener_get_stats(syslog_listener_t *self, syslog_listener_stats_t *out);
/* The bound port of endpoint i (useful with port 0), or -1 when i is out of range. */
int syslog_listener_port(syslog_listener_t *self, int i);

#endif
