/* capture: packets from a live interface or a capture file (pcap/pcapng, µs or ns) via libpcap. */
#ifndef ZFLOW_CAPTURE_H
#define ZFLOW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

typedef struct capture capture_t;

typedef struct capture_config {
    const char *interface;   /* live capture, or */
    const char *file;        /* a capture file; the format comes from its magic number */
    const char *filter;      /* BPF filter or NULL */
    int snaplen;             /* default 65535 */
    int promisc;             /* 1 = promiscuous (default) */
    int buffer_mb;           /* kernel buffer; 0 = libpcap default */
    int timeout_ms;          /* live read timeout (default 100) */
    int immediate;           /* 1 = deliver packets at once (default) */
} capture_config_t;

/* Called for every packet: ts in ns since the epoch, captured bytes and wire length. */
typedef void (*capture_fn)(void *ctx, uint64_t ts_ns, const uint8_t *data, uint32_t caplen,
                           uint32_t wire_len);

/* Opens the source. On failure returns NULL and writes one line (no newline) to err. */
capture_t *capture_open(const capture_config_t *cfg, char *err, size_t errlen);
void capture_close(capture_t **self);

/* Hands up to `max` packets to fn. Returns the number handled, 0 when nothing was ready
 * (live) , -2 at end of file, -1 on error (message in capture_error()). Never blocks on a
 * live source (it is non-blocking; poll capture_fd() first). */
int capture_dispatch(capture_t *self, int max, capture_fn fn, void *ctx);

/* Interrupts a capture_dispatch() in progress (safe from a signal handler). */
void capture_break(capture_t *self);

int capture_linktype(const capture_t *self);
/* libpcap's name of the link type, e.g. "EN10MB". */
const char *capture_linktype_name(const capture_t *self);
int capture_is_live(const capture_t *self);
/* Pollable descriptor of a live capture, -1 for files. */
int capture_fd(const capture_t *self);
int capture_snaplen(const capture_t *self);
const char *capture_error(capture_t *self);

/* Kernel counters of a live capture (zeros for files). Returns 0 or -1. */
int capture_stats(capture_t *self, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop);

#endif
