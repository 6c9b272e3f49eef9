/* capture: packets from a live interface or a capture file (pcap/pcapng, µs or ns) via libpcap. */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAPTURE_FILE_BUFFER (1u << 20)

struct capture {
    pcap_t *pcap;
    char *filebuf;           /* stdio buffer of an offline capture (freed after pcap_close) */
    int live;
    int linktype;
    int fd;
    capture_fn fn;
    void *ctx;
    /* pcap_stats() counters are 32-bit and wrap; keep 64-bit running totals */
    uint32_t last_recv, last_drop, last_ifdrop;
    uint64_t recv, drop, ifdrop;
};

static void capture_on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
    capture_t *self = (capture_t *)user;
    /* Opened with nanosecond precision: tv_usec holds nanoseconds. Files may carry an
     * out-of-range fraction (>= 1e9); it is added as is, which keeps order deterministic. */
    uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)(uint32_t)h->ts.tv_usec;
    self->fn(self->ctx, ts, bytes, h->caplen, h->len);
}

static int capture_set_filter(capture_t *self, const char *filter, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (pcap_compile(self->pcap, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "bad filter \"%s\": %s", filter, pcap_geterr(self->pcap));
        return -1;
    }
    int rc = pcap_setfilter(self->pcap, &prog);
    if (rc != 0)
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(self->pcap));
    pcap_freecode(&prog);
    return rc == 0 ? 0 : -1;
}

static pcap_t *capture_open_live(const capture_config_t *cfg, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(cfg->interface, ebuf);
    if (!p) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface, ebuf);
        return NULL;
    }
    pcap_set_snaplen(p, cfg->snaplen > 0 ? cfg->snaplen : 65535);
    pcap_set_promisc(p, cfg->promisc);
    pcap_set_timeout(p, cfg->timeout_ms > 0 ? cfg->timeout_ms : 100);
    pcap_set_immediate_mode(p, cfg->immediate);
    if (cfg->buffer_mb > 0)
        pcap_set_buffer_size(p, cfg->buffer_mb * 1024 * 1024);
    pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
    int rc = pcap_activate(p);
    if (rc < 0) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface,
                 rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
        pcap_close(p);
        return NULL;
    }
    if (pcap_setnonblock(p, 1, ebuf) != 0) {
        snprintf(err, errlen, "interface %s: %s", cfg->interface, ebuf);
        pcap_close(p);
        return NULL;
    }
    return p;
}

capture_t *capture_open(const capture_config_t *cfg, char *err, size_t errlen)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    capture_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->fd = -1;
    if (cfg->interface) {
        self->live = 1;
        self->pcap = capture_open_live(cfg, err, errlen);
        if (!self->pcap)
            goto fail;
        self->fd = pcap_get_selectable_fd(self->pcap);
    } else if (cfg->file) {
        /* Our own FILE with a large buffer: libpcap's default stdio buffer costs a read()
         * per few packets. libpcap takes ownership of the FILE. */
        FILE *fp = fopen(cfg->file, "rb");
        if (!fp) {
            snprintf(err, errlen, "%s: %s", cfg->file, strerror(errno));
            goto fail;
        }
        self->filebuf = malloc(CAPTURE_FILE_BUFFER);
        if (self->filebuf)
            setvbuf(fp, self->filebuf, _IOFBF, CAPTURE_FILE_BUFFER);
        self->pcap = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO,
                                                              ebuf);
        if (!self->pcap) {
            fclose(fp);
            snprintf(err, errlen, "%s: %s", cfg->file, ebuf);
            goto fail;
        }
    } else {
        snprintf(err, errlen, "no interface or file given");
        goto fail;
    }
    self->linktype = pcap_datalink(self->pcap);
    if (cfg->filter && *cfg->filter && capture_set_filter(self, cfg->filter, err, errlen) != 0)
        goto fail;
    return self;
fail:
    capture_close(&self);
    return NULL;
}

void capture_close(capture_t **self)
{
    if (!self || !*self)
        return;
    if ((*self)->pcap)
        pcap_close((*self)->pcap);
    free((*self)->filebuf);
    free(*self);
    *self = NULL;
}

int capture_dispatch(capture_t *self, int max, capture_fn fn, void *ctx)
{
    self->fn = fn;
    self->ctx = ctx;
    int n = pcap_dispatch(self->pcap, max, capture_on_packet, (u_char *)self);
    if (n == PCAP_ERROR_BREAK)
        return 0;
    if (n < 0)
        return -1;
    if (n == 0 && !self->live)
        return -2;
    return n;
}

void capture_break(capture_t *self)
{
    pcap_breakloop(self->pcap);
}

int capture_linktype(const capture_t *self)
{
    return self->linktype;
}

const char *capture_linktype_name(const capture_t *self)
{
    const char *n = pcap_datalink_val_to_name(self->linktype);
    return n ? n : "unknown";
}

int capture_is_live(const capture_t *self)
{
    return self->live;
}

int capture_fd(const capture_t *self)
{
    return self->fd;
}

int capture_snaplen(const capture_t *self)
{
    return pcap_snapshot(self->pcap);
}

const char *capture_error(capture_t *self)
{
    return pcap_geterr(self->pcap);
}

int capture_stats(capture_t *self, uint64_t *recv, uint64_t *drop, uint64_t *ifdrop)
{
    *recv = *drop = *ifdrop = 0;
    if (!self->live)
        return 0;
    struct pcap_stat st;
    if (pcap_stats(self->pcap, &st) != 0)
        return -1;
    self->recv += (uint32_t)(st.ps_recv - self->last_recv);
    self->drop += (uint32_t)(st.ps_drop - self->last_drop);
    self->ifdrop += (uint32_t)(st.ps_ifdrop - self->last_ifdrop);
    self->last_recv = st.ps_recv;
    self->last_drop = st.ps_drop;
    self->last_ifdrop = st.ps_ifdrop;
    *recv = self->recv;
    *drop = self->drop;
    *ifdrop = self->ifdrop;
    return 0;
}
